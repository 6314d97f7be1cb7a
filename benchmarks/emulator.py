"""GenerateDataKey calls/s served by the aiokms emulator (LocalKMS), beside moto, in one run.

What it measures: how many ``GenerateDataKey`` calls a second each server answers on **one
core**, signatures checked, with a client in another process at a fixed concurrency (64 by
default). The figure is the server's: the client runs on its own core.

The servers (each a child process running this file with ``--serve``, pinned to one core before
it starts any thread, so moto's per-request threads share that core too):

* ``localkms`` -- ``aiokms.emulator.LocalKMS`` with a symmetric key under ``alias/bench``. It
  verifies every request's SigV4 signature (the script proves it first: a request signed with
  the wrong secret must come back ``InvalidSignatureException``).
* ``moto``     -- moto's ``ThreadedMotoServer`` with a key under ``alias/bench``, as tests
  usually run it: moto checks no signatures in this mode, so it does less work per call.

The clients (in this process, on the other core):

* ``aiokms``  -- ``aiokms.KMSClient(...).generate_data_key(KeyId="alias/bench",
  KeySpec="AES_256")``: signs, sends, parses every call.
* ``aiohttp`` -- a bare ``aiohttp.ClientSession`` POST of one request signed up front (and
  re-signed every 30 s, well inside the 5-minute window), reading the reply bytes: the lightest
  client, so the server, not the client, sets the pace.

How: both servers start once. Each round runs every (server, client) pair: the client is
created, warmed up (``--warmup`` seconds, untimed; the first reply is checked), then calls from
``--concurrency`` worker coroutines for ``--seconds`` (timed; at most ``--max-calls`` calls).
Besides calls/s, each run reads the server process's CPU time (user + system, all threads, from
``/proc``) before and after: **server CPU us/call**, and its inverse, **calls per server CPU
second**, what one fully busy core would answer. That figure does not depend on how fast the
client is, and moves much less than calls/s when other work shares the machine; "server busy"
(server CPU time / wall time) says whether a run's calls/s was the server's limit (near 100%)
or the client's. The summary gives
the medians over the rounds per pair, and the ratios localkms / moto per client.

Run it from the repository root::

    python benchmarks/emulator.py
    python benchmarks/emulator.py --seconds 3 --rounds 1 --clients aiohttp
    python benchmarks/emulator.py --json > result.json

The checkout this file lives in is importable without installing it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiokms  # noqa: E402 -- after the checkout is on sys.path
from aiokms._protocol import CONTENT_TYPE  # noqa: E402
from aiokms._signing import JsonPostSigner, Signer, amz_date  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import start_child, stop_child  # noqa: E402

SERVERS = ("localkms", "moto")
CLIENTS = ("aiokms", "aiohttp", "raw")
REGION = "us-east-1"
ACCESS_KEY = "AKIDBENCHEMULATOR"
SECRET_KEY = "bench-secret-not-for-production"
ALIAS = "alias/bench"
TARGET = "TrentService.GenerateDataKey"
BODY = json.dumps({"KeyId": ALIAS, "KeySpec": "AES_256"}).encode()

SERVER_START_TIMEOUT_S = 60.0
PARENT_POLL_S = 0.5
REQUEST_TIMEOUT_S = 30.0
RESIGN_EVERY_S = 30.0

Call = Callable[[], Awaitable[Any]]


# --------------------------------------------------------------------------------------------
# Servers (child processes: ``emulator.py --serve NAME``)
# --------------------------------------------------------------------------------------------


def pin_self(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


async def serve_localkms(parent_pid: int) -> None:
    from aiokms.emulator import LocalKMS

    async with LocalKMS(access_key=ACCESS_KEY, secret_key=SECRET_KEY, aliases=[ALIAS]) as local:
        print(json.dumps({"url": local.endpoint_url}), flush=True)
        await wait_for_stop(parent_pid)


def serve_moto(parent_pid: int) -> None:
    import botocore.session
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        kms = botocore.session.get_session().create_client(
            "kms",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
        print(json.dumps({"url": url}), flush=True)
        asyncio.run(wait_for_stop(parent_pid))
    finally:
        server.stop()


async def wait_for_stop(parent_pid: int) -> None:
    """Until SIGTERM/SIGINT or the parent's death."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set() and os.getppid() == parent_pid:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_POLL_S)


def start_server(name: str, cpu: int | None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server process; return it and its endpoint URL."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name]
    cmd += ["--parent-pid", str(os.getpid())]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc, line = start_child(cmd, SERVER_START_TIMEOUT_S)
    try:
        return proc, str(json.loads(line)["url"])
    except (ValueError, KeyError):
        stop_server(proc)
        raise RuntimeError(f"{name} did not start (exit code {proc.poll()})") from None


stop_server = stop_child


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) a process has used, from /proc; else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_plan() -> tuple[int | None, int | None, str]:
    """(client core, server core, description)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "not pinned (no sched_setaffinity on this platform)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, f"not pinned (only {len(cpus)} usable core)"
    return cpus[0], cpus[1], f"client on core {cpus[0]}, each server on core {cpus[1]}"


# --------------------------------------------------------------------------------------------
# Clients: async context managers yielding a zero-argument coroutine function
# --------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def aiokms_client(
    url: str, concurrency: int, secret: str = SECRET_KEY
) -> AsyncIterator[Call]:
    async with aiokms.KMSClient(
        region_name=REGION,
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, secret),
        max_connections=concurrency,
        max_attempts=1,
        read_timeout=REQUEST_TIMEOUT_S,
    ) as kms:

        async def call() -> Any:
            return await kms.generate_data_key(KeyId=ALIAS, KeySpec="AES_256")

        yield call


class PreSigned:
    """The GenerateDataKey request's headers, signed now and again every 30 seconds."""

    def __init__(self, url: str, secret: str) -> None:
        host = url.split("://", 1)[1].rstrip("/")
        self._signer = JsonPostSigner(Signer(REGION), host, CONTENT_TYPE)
        self._payload_hash = hashlib.sha256(BODY).hexdigest()
        self._secret = secret
        self._signed_at = float("-inf")
        self._headers: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._signed_at > RESIGN_EVERY_S:
            stamp = amz_date(datetime.datetime.now(datetime.timezone.utc))
            self._headers = self._signer.headers(
                TARGET, self._payload_hash, stamp, ACCESS_KEY, self._secret, None
            )
            self._signed_at = now
        return self._headers


@contextlib.asynccontextmanager
async def aiohttp_client(
    url: str, concurrency: int, secret: str = SECRET_KEY
) -> AsyncIterator[Call]:
    signed = PreSigned(url, secret)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call() -> bytes:
            async with session.post(url, data=BODY, headers=signed.headers()) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}: {body[:300]!r}")
                return body

        yield call


class _Connections:
    """Keep-alive HTTP/1.1 connections for the raw client; reopened when the server closes."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: set[asyncio.StreamWriter] = set()

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._idle:
            return self._idle.pop()
        reader, writer = await asyncio.open_connection(self._host, self._port)
        self._all.add(writer)
        return reader, writer

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], reuse: bool) -> None:
        if reuse:
            self._idle.append(conn)
        else:
            conn[1].close()
            self._all.discard(conn[1])

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        for writer in self._all:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def raw_client(url: str, concurrency: int, secret: str = SECRET_KEY) -> AsyncIterator[Call]:
    """Pre-signed request bytes over asyncio streams: about the least a client can do."""
    host, _, port = url.split("://", 1)[1].rstrip("/").rpartition(":")
    signed = PreSigned(url, secret)
    cache: dict[int, bytes] = {}
    connections = _Connections(host, int(port))

    def request() -> bytes:
        headers = signed.headers()
        data = cache.get(id(headers))
        if data is None:
            lines = [f"{k}: {v}" for k, v in headers.items()]
            head = "\r\n".join(["POST / HTTP/1.1", *lines, f"Content-Length: {len(BODY)}"])
            data = cache[id(headers)] = (head + "\r\n\r\n").encode() + BODY
        return data

    async def call() -> bytes:
        reader, writer = conn = await connections.get()
        try:
            writer.write(request())
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            body = await reader.readexactly(length)
        except BaseException:
            connections.put(conn, reuse=False)
            raise
        connections.put(conn, reuse=not close)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        return body

    try:
        yield call
    finally:
        await connections.close()


FACTORIES = {"aiokms": aiokms_client, "aiohttp": aiohttp_client, "raw": raw_client}


def check_reply(reply: Any) -> None:
    """Fail loudly unless the reply is a GenerateDataKey result for a 32-byte key."""
    if isinstance(reply, bytes):
        reply = json.loads(reply)
        plaintext = base64.b64decode(reply["Plaintext"])
    else:
        plaintext = reply["Plaintext"]
    if len(plaintext) != 32 or ":key/" not in reply["KeyId"]:
        raise RuntimeError(f"unexpected reply: {reply!r}")


async def signatures_checked(url: str) -> bool:
    """Whether the server refuses a request signed with the wrong secret."""
    async with aiohttp_client(url, 1, secret=SECRET_KEY + "-wrong") as call:
        try:
            await call()
        except RuntimeError as exc:
            return "InvalidSignatureException" in str(exc) or "SignatureDoesNotMatch" in str(exc)
    return False


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


@dataclass
class RoundResult:
    server: str
    client: str
    round: int
    calls: int
    wall_s: float
    server_cpu_s: float | None

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s

    @property
    def server_cpu_us_per_call(self) -> float | None:
        if self.server_cpu_s is None:
            return None
        return self.server_cpu_s / self.calls * 1e6


async def run_for(
    call: Call, seconds: float, max_calls: int, concurrency: int
) -> tuple[int, float]:
    """Call from ``concurrency`` workers for ``seconds`` (at most ``max_calls`` calls)."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal done
        while done < max_calls and time.perf_counter() < deadline:
            done += 1
            await call()

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return done, time.perf_counter() - start


async def measure(
    client: str, url: str, pid: int, args: argparse.Namespace
) -> tuple[int, float, float | None]:
    """(calls, wall seconds, server CPU seconds) of one timed run."""
    async with FACTORIES[client](url, args.concurrency) as call:
        check_reply(await call())
        await run_for(call, args.warmup, args.max_calls, args.concurrency)
        cpu0 = process_cpu_seconds(pid)
        calls, wall = await run_for(call, args.seconds, args.max_calls, args.concurrency)
        cpu1 = process_cpu_seconds(pid)
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return calls, wall, cpu


def run_round(
    server: str, client: str, rnd: int, url: str, pid: int, args: argparse.Namespace
) -> RoundResult:
    budget = args.seconds + args.warmup + 60.0
    calls, wall, cpu = asyncio.run(asyncio.wait_for(measure(client, url, pid, args), budget))
    return RoundResult(server, client, rnd, calls, wall, cpu)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("aiohttp", "moto", "botocore", "cryptography"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "?"
    return found


def summarize(results: list[RoundResult]) -> dict[str, dict[str, dict[str, Any]]]:
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        summary.setdefault(r.server, {}).setdefault(r.client, {"rounds": []})
        summary[r.server][r.client]["rounds"].append(asdict(r) | {"calls_per_s": r.calls_per_s})
    for per_client in summary.values():
        for entry in per_client.values():
            rounds = entry["rounds"]
            entry["calls_per_s"] = statistics.median(x["calls_per_s"] for x in rounds)
            cpu = [x["server_cpu_s"] / x["calls"] for x in rounds if x["server_cpu_s"] is not None]
            # calls one fully busy server core can answer: the server's own cost per call
            entry["server_cpu_us_per_call"] = statistics.median(cpu) * 1e6 if cpu else None
            entry["calls_per_cpu_s"] = 1 / statistics.median(cpu) if cpu and min(cpu) > 0 else None
    return summary


def ratios(summary: dict[str, dict[str, dict[str, Any]]]) -> dict[str, float]:
    out = {}
    for client in CLIENTS:
        for figure in ("calls_per_s", "calls_per_cpu_s"):
            try:
                local = summary["localkms"][client][figure]
                moto = summary["moto"][client][figure]
            except KeyError:
                continue
            if local and moto:
                out[f"localkms_over_moto[{client}, {figure}]"] = local / moto
    return out


def print_summary(
    summary: dict[str, dict[str, dict[str, Any]]], rat: dict[str, float], out: TextIO
) -> None:
    print(
        f"\n{'server':<10} {'client':<9} {'calls/s':>9} {'server CPU us/call':>19}"
        f" {'calls per server CPU s':>23}",
        file=out,
    )
    for server, per_client in summary.items():
        for client, entry in per_client.items():
            cpu, capacity = entry["server_cpu_us_per_call"], entry["calls_per_cpu_s"]
            print(
                f"{server:<10} {client:<9} {entry['calls_per_s']:>9,.0f}"
                f" {'?' if cpu is None else f'{cpu:,.0f}':>19}"
                f" {'?' if capacity is None else f'{capacity:,.0f}':>23}",
                file=out,
            )
    for name, value in rat.items():
        print(f"{name}: {value:.1f}x", file=out)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="timed seconds per pair per round")
    p.add_argument("--warmup", type=float, default=1.0, help="untimed seconds before each")
    p.add_argument("--max-calls", type=int, default=200_000, help="cap on calls per timed run")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent worker coroutines")
    p.add_argument("--rounds", type=int, default=3, help="rounds over every server and client")
    p.add_argument("--servers", default=",".join(SERVERS), help=f"from {','.join(SERVERS)}")
    p.add_argument("--clients", default=",".join(CLIENTS), help=f"from {','.join(CLIENTS)}")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for opt, allowed in (("servers", SERVERS), ("clients", CLIENTS)):
        chosen = [x.strip() for x in getattr(args, opt).split(",") if x.strip()]
        if not chosen or set(chosen) - set(allowed):
            p.error(f"--{opt}: choose from {','.join(allowed)}")
        setattr(args, opt, chosen)
    if args.seconds <= 0 or args.warmup < 0 or args.concurrency < 1 or args.rounds < 1:
        p.error("--seconds must be > 0, --warmup >= 0, --concurrency and --rounds >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        pin_self(args.cpu)
        if args.serve == "localkms":
            asyncio.run(serve_localkms(args.parent_pid))
        else:
            serve_moto(args.parent_pid)
        return 0

    log = sys.stderr if args.json else sys.stdout
    client_cpu, server_cpu, plan = cpu_plan()
    pin_self(client_cpu)
    print(f"{plan}; concurrency {args.concurrency}; {args.seconds:g} s per run", file=log)
    procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    results: list[RoundResult] = []
    checked: dict[str, bool] = {}
    try:
        for server in args.servers:
            procs[server] = start_server(server, server_cpu)
            checked[server] = asyncio.run(signatures_checked(procs[server][1]))
            print(
                f"{server}: pid {procs[server][0].pid} at {procs[server][1]}, "
                f"signatures checked: {'yes' if checked[server] else 'no'}",
                file=log,
                flush=True,
            )
        if "localkms" in checked and not checked["localkms"]:
            raise RuntimeError("LocalKMS accepted a wrongly signed request")
        for rnd in range(1, args.rounds + 1):
            for server in args.servers:
                for client in args.clients:
                    proc, url = procs[server]
                    result = run_round(server, client, rnd, url, proc.pid, args)
                    results.append(result)
                    cpu = result.server_cpu_us_per_call
                    busy = (
                        "?"
                        if result.server_cpu_s is None
                        else f"{result.server_cpu_s / result.wall_s:.0%}"
                    )
                    print(
                        f"round {rnd}  {server:<9} {client:<8} {result.calls_per_s:>9,.0f} calls/s"
                        f"  {'?' if cpu is None else f'{cpu:,.0f}':>6} us server CPU/call"
                        f"  server busy {busy:>4}"
                        f"  ({result.calls:,} calls in {result.wall_s:.2f} s)",
                        file=log,
                        flush=True,
                    )
    finally:
        for proc, _ in procs.values():
            stop_server(proc)

    summary = summarize(results)
    rat = ratios(summary)
    if args.json:
        config = {
            k: getattr(args, k) for k in ("seconds", "warmup", "max_calls", "concurrency", "rounds")
        }
        doc = {
            "config": config | {"cpus": plan},
            "versions": versions(),
            "signatures_checked": checked,
            "servers": summary,
            "ratios": rat,
        }
        print(json.dumps(doc, indent=2))
    else:
        print_summary(summary, rat, log)
        print("\n" + ", ".join(f"{k} {v}" for k, v in versions().items()), file=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
