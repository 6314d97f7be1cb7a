"""Client-side cost of a KMS call: aiokms vs aiobotocore vs a bare aiohttp POST.

What it measures: ``GenerateDataKey`` at a fixed concurrency (64 by default) against a
canned-reply server on 127.0.0.1, reporting per client the throughput and the **CPU time of
the benchmark process per call** (``time.process_time()``). The server's CPU is not counted.

The clients:

* ``aiokms``      -- ``aiokms.KMSClient(...).generate_data_key(KeyId=..., KeySpec="AES_256")``.
* ``aiobotocore`` -- ``get_session().create_client("kms", ...)``, same call.
* ``bare``        -- the floor: an ``aiohttp.ClientSession`` POST of a pre-built JSON body with
  fixed (pre-computed, unsigned) headers, reading the reply bytes and nothing else.

How: the script starts the server as a child process (this same file with ``--serve``), an
``aiohttp.web`` app that answers every POST with one fixed, valid GenerateDataKey reply and
checks nothing. On machines with two or more usable cores, the server is pinned to the second
core and the benchmark to the first. Rounds alternate the clients (aiokms, aiobotocore, bare,
aiokms, ...). In each round, each client is created (not timed), warmed up so that its
connection pool is full and one reply is checked (not timed), then makes ``--calls`` calls
from ``--concurrency`` worker coroutines (timed: wall clock and process CPU time). The summary
gives, per client, the median over rounds.

Over HTTPS (``--tls``): the server serves a certificate from a CA made for the run (LocalKMS's
``aiokms.emulator._tls``: ECDSA P-256, TLS 1.3), and every client verifies it against that CA's
bundle (aiokms and aiobotocore with ``verify=``, the bare POST with an ``ssl.SSLContext`` of
it). With ``--new-connections`` a second server, answering ``Connection: close``, makes every
call open a connection and do a full handshake; rounds alternate the two servers too, and the
summary gives each client's CPU per call both ways and the handshake's share of a call that
pays for one (``--new-connection-calls`` calls a round, fewer: each leaves a socket in
TIME_WAIT).

Run it from the repository root::

    python benchmarks/client_overhead.py
    python benchmarks/client_overhead.py --clients aiobotocore,bare --calls 3000 --rounds 2
    python benchmarks/client_overhead.py --json > result.json
    python benchmarks/client_overhead.py --tls --new-connections

The ``aiokms`` client is skipped, with a message, if ``import aiokms`` does not provide
``KMSClient`` and ``Credentials``. The checkout this file lives in is importable without
installing it.

Tracing's cost (not run by default): ``aiokms-traced`` is the aiokms client with an
OpenTelemetry SDK ``TracerProvider`` (a ``BatchSpanProcessor`` into an exporter that drops
the spans: the spans are made, ended and queued, and the processor's thread runs, but nothing
is serialized), ``aiobotocore-traced`` is aiobotocore instrumented by
opentelemetry-instrumentation-botocore with such a provider (instrumented for its rounds only)::

    python benchmarks/client_overhead.py \
        --clients aiokms,aiokms-traced,aiobotocore,aiobotocore-traced
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import start_child, stop_child

CLIENTS = ("aiokms", "aiobotocore", "bare")
TRACED = ("aiokms-traced", "aiobotocore-traced")  # on demand: --clients
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "secret"
KEY_ID = "alias/bench"
KEY_ARN = f"arn:aws:kms:{REGION}:111122223333:key/{uuid.UUID(int=0x1234ABCD)}"
PLAINTEXT_LEN = 32
CIPHERTEXT_LEN = 184
AMZ_JSON = "application/x-amz-json-1.1"

SERVER_START_TIMEOUT_S = 30.0
PARENT_POLL_S = 0.5
REQUEST_TIMEOUT_S = 30.0
# A round is abandoned (and the script fails) past this; ~10x the slowest expected client.
ROUND_TIMEOUT_BASE_S = 60.0
ROUND_TIMEOUT_PER_CALL_S = 0.01

Call = Callable[[], Awaitable[Any]]
# (endpoint URL, concurrency, CA bundle to verify the server's certificate against, or None)
ClientFactory = Callable[[str, int, "str | None"], contextlib.AbstractAsyncContextManager[Call]]
KEEP_ALIVE, NEW_CONNECTIONS = "keep-alive", "new connections"


# --------------------------------------------------------------------------------------------
# Canned-reply server (runs in its own process: ``client_overhead.py --serve``)
# --------------------------------------------------------------------------------------------


def canned_reply() -> bytes:
    """One GenerateDataKey response body, as KMS would send it (random blobs, fixed per run)."""
    reply = {
        "CiphertextBlob": base64.b64encode(os.urandom(CIPHERTEXT_LEN)).decode(),
        "KeyId": KEY_ARN,
        "KeyMaterialId": os.urandom(32).hex(),
        "Plaintext": base64.b64encode(os.urandom(PLAINTEXT_LEN)).decode(),
    }
    return json.dumps(reply, separators=(",", ":")).encode()


def make_app(close: bool = False) -> web.Application:
    body = canned_reply()
    headers = {"Content-Type": AMZ_JSON, "x-amzn-RequestId": str(uuid.uuid4())}
    if close:  # every call opens a connection (and, over TLS, does a handshake)
        headers["Connection"] = "close"

    async def handle(request: web.Request) -> web.Response:
        await request.read()  # drain the body so the connection stays reusable
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    return app


async def serve(
    parent_pid: int, cert: str | None = None, key: str | None = None, close: bool = False
) -> None:
    """Serve on 127.0.0.1:<free port>, print the port, and run until SIGTERM or parent death.

    With ``cert`` and ``key``, serve HTTPS; with ``close``, answer ``Connection: close``.
    """
    context = None
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    runner = web.AppRunner(make_app(close), access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
        port = runner.addresses[0][1]
        print(port, flush=True)
        while not stop.is_set() and os.getppid() == parent_pid:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_POLL_S)
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------------------------
# Server process control (parent side)
# --------------------------------------------------------------------------------------------


def start_server(
    tls_dir: Path | None = None, close: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server process (HTTPS with the files in ``tls_dir``; answering
    ``Connection: close`` with ``close``); return it and the port it listens on."""
    script = str(Path(__file__).resolve())
    cmd = [sys.executable, script, "--serve", "--parent-pid", str(os.getpid())]
    if tls_dir is not None:
        cmd += ["--cert", str(tls_dir / "cert.pem"), "--key", str(tls_dir / "key.pem")]
    if close:
        cmd.append("--close")
    proc, line = start_child(cmd, SERVER_START_TIMEOUT_S)
    if not line.strip().isdigit():
        stop_server(proc)
        raise RuntimeError(f"server did not report a port (exit code {proc.poll()})")
    return proc, int(line)


stop_server = stop_child


def pin_cpus(*server_pids: int) -> str:
    """Pin the servers to the second usable core and this process to the first, if possible."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return f"not pinned (only {len(cpus)} usable core)"
    for server_pid in server_pids:
        os.sched_setaffinity(server_pid, {cpus[1]})
    os.sched_setaffinity(0, {cpus[0]})
    return f"client on core {cpus[0]}, server on core {cpus[1]}"


# --------------------------------------------------------------------------------------------
# Clients: each is an async context manager yielding a zero-argument coroutine function
# --------------------------------------------------------------------------------------------


def load_aiokms() -> Any:
    """Import aiokms (from this checkout if it is not installed); raise if it is not usable."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module("aiokms")
    module.KMSClient  # noqa: B018 -- raises AttributeError until the client exists
    module.Credentials  # noqa: B018
    return module


@contextlib.asynccontextmanager
async def aiokms_client(
    url: str, concurrency: int, ca_bundle: str | None, tracer_provider: Any = None
) -> AsyncIterator[Call]:
    aiokms = load_aiokms()
    async with aiokms.KMSClient(
        region_name=REGION,
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, SECRET_KEY),
        max_connections=concurrency,
        verify=ca_bundle,
        tracer_provider=tracer_provider,
    ) as kms:
        yield functools.partial(kms.generate_data_key, KeyId=KEY_ID, KeySpec="AES_256")


@contextlib.asynccontextmanager
async def aiobotocore_client(
    url: str, concurrency: int, ca_bundle: str | None
) -> AsyncIterator[Call]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        max_pool_connections=concurrency,
        retries={"max_attempts": 1},
        connect_timeout=REQUEST_TIMEOUT_S,
        read_timeout=REQUEST_TIMEOUT_S,
    )
    async with get_session().create_client(
        "kms",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=config,
        verify=ca_bundle,
    ) as kms:
        yield functools.partial(kms.generate_data_key, KeyId=KEY_ID, KeySpec="AES_256")


# What a signed request carries, computed once: same size on the wire, no signing work.
BARE_BODY = json.dumps({"KeyId": KEY_ID, "KeySpec": "AES_256"}).encode()
BARE_HEADERS = {
    "Content-Type": AMZ_JSON,
    "X-Amz-Target": "TrentService.GenerateDataKey",
    "X-Amz-Date": "20261128T000000Z",
    "Authorization": (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261128/{REGION}/kms/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64
    ),
}


@contextlib.asynccontextmanager
async def bare_client(url: str, concurrency: int, ca_bundle: str | None) -> AsyncIterator[Call]:
    tls: ssl.SSLContext | bool = True
    if ca_bundle is not None:
        tls = ssl.create_default_context(cafile=ca_bundle)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=tls)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call() -> bytes:
            async with session.post(url, data=BARE_BODY, headers=BARE_HEADERS) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
                return body

        yield call


def span_dropping_provider() -> Any:
    """An SDK TracerProvider whose batch processor exports into nothing."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    return provider


@contextlib.asynccontextmanager
async def aiokms_traced_client(
    url: str, concurrency: int, ca_bundle: str | None
) -> AsyncIterator[Call]:
    provider = span_dropping_provider()
    try:
        async with aiokms_client(url, concurrency, ca_bundle, provider) as call:
            yield call
    finally:
        provider.shutdown()


@contextlib.asynccontextmanager
async def aiobotocore_traced_client(
    url: str, concurrency: int, ca_bundle: str | None
) -> AsyncIterator[Call]:
    from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor

    provider = span_dropping_provider()
    instrumentor = AiobotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        async with aiobotocore_client(url, concurrency, ca_bundle) as call:
            yield call
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


FACTORIES: dict[str, ClientFactory] = {
    "aiokms": aiokms_client,
    "aiobotocore": aiobotocore_client,
    "bare": bare_client,
    "aiokms-traced": aiokms_traced_client,
    "aiobotocore-traced": aiobotocore_traced_client,
}


def check_reply(reply: Any) -> None:
    """Fail loudly if a client did not get (or did not decode) the canned reply."""
    if isinstance(reply, bytes):
        reply = json.loads(reply)
        plaintext = base64.b64decode(reply["Plaintext"])
    else:
        plaintext = reply["Plaintext"]
    if reply["KeyId"] != KEY_ARN or len(plaintext) != PLAINTEXT_LEN:
        raise RuntimeError(f"unexpected reply: {reply!r}")


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


@dataclass
class RoundResult:
    client: str
    round: int
    calls: int
    wall_s: float
    cpu_s: float
    connections: str = KEEP_ALIVE

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s

    @property
    def cpu_us_per_call(self) -> float:
        return self.cpu_s / self.calls * 1e6


async def run_calls(call: Call, calls: int, concurrency: int) -> None:
    """Make ``calls`` calls from ``concurrency`` workers sharing one work counter."""
    todo = iter(range(calls))

    async def worker() -> None:
        for _ in todo:
            await call()

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, calls))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def measure(
    name: str, url: str, calls: int, concurrency: int, warmup: int, ca_bundle: str | None
) -> tuple[float, float]:
    """Create the client, warm it up, then time ``calls`` calls. Returns (wall s, CPU s)."""
    async with FACTORIES[name](url, concurrency, ca_bundle) as call:
        check_reply(await call())
        await run_calls(call, warmup, concurrency)
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run_calls(call, calls, concurrency)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return wall, cpu


def run_round(
    name: str,
    rnd: int,
    url: str,
    args: argparse.Namespace,
    ca_bundle: str | None = None,
    connections: str = KEEP_ALIVE,
) -> RoundResult:
    calls = args.calls if connections == KEEP_ALIVE else args.new_connection_calls
    deadline = ROUND_TIMEOUT_BASE_S + ROUND_TIMEOUT_PER_CALL_S * (calls + args.warmup)
    coro = measure(name, url, calls, args.concurrency, args.warmup, ca_bundle)
    wall, cpu = asyncio.run(asyncio.wait_for(coro, deadline))
    return RoundResult(name, rnd, calls, wall, cpu, connections)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def versions(clients: Sequence[str]) -> dict[str, str]:
    found = {"python": platform.python_version()}
    dists = ["aiohttp", "aiobotocore", "botocore"] + (["aiokms"] if "aiokms" in clients else [])
    for dist in dists:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "checkout" if dist == "aiokms" else "?"
    return found


def summarize(
    results: list[RoundResult], clients: Sequence[str], connections: str = KEEP_ALIVE
) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for name in clients:
        mine = [r for r in results if r.client == name and r.connections == connections]
        cpu = [r.cpu_us_per_call for r in mine]
        summary[name] = {
            "calls_per_s": statistics.median(r.calls_per_s for r in mine),
            "cpu_us_per_call": statistics.median(cpu),
            "cpu_us_per_call_min": min(cpu),
            "cpu_us_per_call_max": max(cpu),
            "rounds": [asdict(r) for r in mine],
        }
    return summary


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float]:
    cpu = {name: s["cpu_us_per_call"] for name, s in summary.items()}
    out: dict[str, float] = {}
    if "aiokms" in cpu and "aiobotocore" in cpu:
        out["aiobotocore_over_aiokms"] = cpu["aiobotocore"] / cpu["aiokms"]
    if "aiokms" in cpu and "bare" in cpu:
        out["aiokms_over_bare"] = cpu["aiokms"] / cpu["bare"]
    for name in ("aiokms", "aiobotocore"):
        if name in cpu and f"{name}-traced" in cpu:
            out[f"{name}_traced_over_untraced"] = cpu[f"{name}-traced"] / cpu[name]
    return out


def handshake_shares(
    kept: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Per client: CPU per call with a new connection each, and the share of it the
    connection's opening (TCP, and TLS's handshake) takes over a call on a kept one."""
    shares = {}
    for name, summary in new.items():
        fresh, reused = summary["cpu_us_per_call"], kept[name]["cpu_us_per_call"]
        shares[name] = {
            "cpu_us_per_call_new": fresh,
            "cpu_us_per_call_kept": reused,
            "handshake_us": fresh - reused,
            "handshake_share": (fresh - reused) / fresh,
        }
    return shares


def print_shares(shares: dict[str, dict[str, float]], out: TextIO) -> None:
    print(
        f"\n{'client':<12} {'kept us':>8} {'new us':>8} {'opening us':>11} {'share':>6}", file=out
    )
    for name, share in shares.items():
        print(
            f"{name:<12} {share['cpu_us_per_call_kept']:>8,.0f}"
            f" {share['cpu_us_per_call_new']:>8,.0f} {share['handshake_us']:>11,.0f}"
            f" {share['handshake_share']:>6.0%}",
            file=out,
        )


def print_round(r: RoundResult, out: TextIO) -> None:
    mode = "" if r.connections == KEEP_ALIVE else " (new connections)"
    print(
        f"round {r.round}  {r.client:<12} {r.calls_per_s:>9,.0f} calls/s"
        f"  {r.cpu_us_per_call:>8,.0f} us CPU/call  (wall {r.wall_s:.2f} s, CPU {r.cpu_s:.2f} s)"
        f"{mode}",
        file=out,
        flush=True,
    )


def print_summary(summary: dict[str, dict[str, Any]], rat: dict[str, float], out: TextIO) -> None:
    print(f"\n{'client':<12} {'calls/s':>9} {'CPU us/call':>12} {'(min - max)':>16}", file=out)
    for name, s in summary.items():
        spread = f"({s['cpu_us_per_call_min']:,.0f} - {s['cpu_us_per_call_max']:,.0f})"
        print(
            f"{name:<12} {s['calls_per_s']:>9,.0f} {s['cpu_us_per_call']:>12,.0f} {spread:>16}",
            file=out,
        )
    if "aiobotocore_over_aiokms" in rat:
        ratio = rat["aiobotocore_over_aiokms"]
        print(f"\nCPU per call: aiobotocore / aiokms = {ratio:.1f}x", file=out)
    if "aiokms_over_bare" in rat:
        print(f"CPU per call: aiokms / bare = {rat['aiokms_over_bare']:.2f}x", file=out)
    for name in ("aiokms", "aiobotocore"):
        if f"{name}_traced_over_untraced" in rat:
            ratio = rat[f"{name}_traced_over_untraced"]
            extra = summary[f"{name}-traced"]["cpu_us_per_call"] - summary[name]["cpu_us_per_call"]
            print(
                f"CPU per call: {name}-traced / {name} = {ratio:.2f}x ({extra:+,.0f} us)", file=out
            )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=20_000, help="timed calls per client per round")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent worker coroutines")
    p.add_argument("--rounds", type=int, default=3, help="rounds; clients alternate within each")
    p.add_argument("--warmup", type=int, default=256, help="untimed calls before each timed run")
    p.add_argument(
        "--clients", default=",".join(CLIENTS), help=f"comma list from {','.join(CLIENTS)}"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument(
        "--tls", action="store_true", help="HTTPS, certificates verified against a run's own CA"
    )
    p.add_argument(
        "--new-connections",
        action="store_true",
        help="also measure calls that each open a connection (the handshake's share)",
    )
    p.add_argument(
        "--new-connection-calls",
        type=int,
        default=2_000,
        help="timed calls per client per round with --new-connections",
    )
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--cert", help=argparse.SUPPRESS)
    p.add_argument("--key", help=argparse.SUPPRESS)
    p.add_argument("--close", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = sorted(set(args.clients) - set(CLIENTS + TRACED))
    if unknown or not args.clients:
        p.error(f"--clients: unknown {unknown}; choose from {','.join(CLIENTS + TRACED)}")
    for opt in ("calls", "concurrency", "rounds", "new_connection_calls"):
        if getattr(args, opt) < 1:
            p.error(f"--{opt.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    return args


def available_clients(wanted: Sequence[str], log: TextIO) -> list[str]:
    clients = list(wanted)
    if "aiokms" in clients:
        try:
            load_aiokms()
        except (ImportError, AttributeError) as exc:
            print(f"skipping aiokms: not usable yet ({type(exc).__name__}: {exc})", file=log)
            clients.remove("aiokms")
    for name, module in (
        ("aiokms-traced", "opentelemetry.sdk.trace"),
        ("aiobotocore-traced", "opentelemetry.instrumentation.botocore"),
    ):
        if name in clients and importlib.util.find_spec(module.split(".")[0]) is None:
            print(f"skipping {name}: {module} is not installed", file=log)
            clients.remove(name)
    return clients


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.parent_pid, args.cert, args.key, args.close))
        return 0

    log = sys.stderr if args.json else sys.stdout
    clients = available_clients(args.clients, log)
    if not clients:
        print("no client to benchmark", file=log)
        return 1

    with contextlib.ExitStack() as stack:
        tls_dir = ca_bundle = None
        if args.tls:
            load_aiokms()
            from aiokms.emulator._tls import make_certificates

            tls_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            ca_bundle = str(make_certificates("127.0.0.1", directory=tls_dir).ca_bundle)
        scheme = "https" if args.tls else "http"
        urls = {}
        pids = []
        modes = [KEEP_ALIVE, NEW_CONNECTIONS] if args.new_connections else [KEEP_ALIVE]
        for mode in modes:
            proc, port = start_server(tls_dir, close=mode == NEW_CONNECTIONS)
            stack.callback(stop_server, proc)
            urls[mode] = f"{scheme}://127.0.0.1:{port}"
            pids.append(proc.pid)
        print(f"servers {', '.join(urls.values())}; {pin_cpus(*pids)}", file=log)
        print(
            f"GenerateDataKey x {args.calls:,} per client per round, concurrency"
            f" {args.concurrency}, {args.rounds} rounds, clients: {', '.join(clients)}"
            + (", over HTTPS" if args.tls else "")
            + (
                f"; and x {args.new_connection_calls:,} with a new connection each"
                if args.new_connections
                else ""
            ),
            file=log,
            flush=True,
        )
        results = []
        for rnd in range(1, args.rounds + 1):
            for mode in modes:
                for name in clients:
                    results.append(run_round(name, rnd, urls[mode], args, ca_bundle, mode))
                    print_round(results[-1], log)

    summary = summarize(results, clients)
    rat = ratios(summary)
    shares = {}
    if args.new_connections:
        shares = handshake_shares(summary, summarize(results, clients, NEW_CONNECTIONS))
    if args.json:
        config = {
            k: getattr(args, k)
            for k in ("calls", "concurrency", "rounds", "warmup", "tls", "new_connection_calls")
        }
        skipped = [c for c in args.clients if c not in clients]
        doc = {
            "config": config,
            "versions": versions(clients),
            "skipped": skipped,
            "clients": summary,
            "ratios": rat,
            "new_connections": shares,
        }
        print(json.dumps(doc, indent=2))
    else:
        print_summary(summary, rat, log)
        if shares:
            print_shares(shares, log)
        print("\n" + ", ".join(f"{k} {v}" for k, v in versions(clients).items()), file=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
