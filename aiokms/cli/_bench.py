"""``aiokms bench``: a bounded load test of KMS, an endpoint or the built-in emulator.

How this works. Setup makes what the operation needs (with ``--emulator``: an emulator in a
child process, so that it has a core of its own, and a key under ``alias/aiokms-bench``; a
ciphertext to decrypt; the ``Encryptor`` and ``DataKeyCache``). Then the load runs in one of
two ways:

* closed loop (default): ``--concurrency`` workers each start the next operation as soon as
  their last one ends. Latency is from start to end.
* open loop (``--rate``): arrivals are scheduled at fixed intervals whatever happens, and
  ``--concurrency`` workers serve them in order. Latency is from the *scheduled* time, so time
  spent queueing behind a slow server is counted instead of hidden (no coordinated omission).
  Arrivals not started by the end of ``--duration`` are reported as missed.

The run stops by itself: at ``--duration`` seconds or after ``--requests`` operations, then
waits a bounded grace period for operations in flight. :class:`Recorder` (plain, synchronous,
clock-free) keeps every latency; :func:`summarize` turns it and the client's and cache's
counters into the report printed as a table, as ``--json`` or as ``--plot``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from botocore import exceptions as boto

from aiokms.cli._common import (
    CONFIG,
    FAILURE,
    OK,
    USAGE,
    CommandError,
    Parser,
    add_tls_options,
    make_client,
    non_negative_float,
    positive_float,
    positive_int,
    run,
    share,
)

__all__ = ["OPERATIONS", "Recorder", "main", "percentile", "summarize"]

OPERATIONS = (
    "generate-data-key",
    "encrypt",
    "decrypt",
    "envelope-encrypt",
    "envelope-decrypt",
)
BENCH_ALIAS = "alias/aiokms-bench"
KMS_PLAINTEXT_LIMIT = 4096  # Encrypt takes at most 4 KiB
_GRACE = 10.0  # the most seconds to wait for operations in flight after the end
_EMULATOR_START_TIMEOUT = 30.0
_TICK = 0.25  # seconds between progress updates

_DESCRIPTION = """\
Load-test KMS: run one operation as fast as --concurrency allows (closed loop) or at a target
--rate (open loop), for --duration seconds or --requests operations, then print throughput,
latency percentiles, KMS calls, cache hits, throttles, retries and errors."""

_EPILOG = """\
examples:
  aiokms bench --emulator --operation envelope-encrypt --duration 10
  aiokms bench --emulator --rate-limit 500 --operation generate-data-key --concurrency 64
  aiokms bench --emulator --quotas 0.004 --concurrency 64   # KMS's quotas, 400/s symmetric
  aiokms bench --emulator --operation envelope-decrypt --no-cache --rate 200 --json
  aiokms bench --endpoint-url https://kms.eu-west-1.amazonaws.com --region eu-west-1 \\
      --key-id alias/load-test --operation encrypt --requests 1000 --plot bench.png

With --emulator the emulator runs in a child process and the key is made there; against an
endpoint, give --key-id (bench never creates keys in a real account)."""


# --- measuring: plain and synchronous -----------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of sorted values; 0.0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(slots=True)
class Recorder:
    """Every operation's outcome, as offsets in seconds from the start of the run.

    Attributes:
        ends: when each successful operation ended.
        latencies: each successful operation's latency.
        failures: when each failed operation ended, with its error code.
        missed: open-loop arrivals that were never started.
    """

    ends: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    missed: int = 0

    def success(self, end: float, latency: float) -> None:
        """Record a successful operation."""
        self.ends.append(end)
        self.latencies.append(latency)

    def failure(self, end: float, code: str) -> None:
        """Record a failed operation and its error code."""
        self.failures.append((end, code))

    @property
    def completed(self) -> int:
        """Operations that ended, successful or not."""
        return len(self.latencies) + len(self.failures)


def _bucket_width(elapsed: float) -> float:
    """A round width that cuts the run into about 50 buckets (at least 50 ms)."""
    target = max(elapsed / 50, 0.05)
    for width in (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0):
        if width >= target:
            return width
    return 60.0


def timeline(recorder: Recorder, elapsed: float) -> list[dict[str, float | None]]:
    """Throughput, latency percentiles (None where nothing ended) and errors per time bucket."""
    if elapsed <= 0:
        return []
    width = _bucket_width(elapsed)
    count = max(1, math.ceil(elapsed / width))
    latencies: list[list[float]] = [[] for _ in range(count)]
    errors = [0] * count
    for end, latency in zip(recorder.ends, recorder.latencies, strict=True):
        latencies[min(int(end / width), count - 1)].append(latency)
    for end, _code in recorder.failures:
        errors[min(int(end / width), count - 1)] += 1
    rows: list[dict[str, float | None]] = []
    for i in range(count):
        span = min(width, elapsed - i * width) or width
        ordered = sorted(latencies[i])
        rows.append(
            {
                "t": round(i * width, 3),
                "ops": len(ordered),
                "ops_per_s": round(len(ordered) / span, 1),
                "p50_ms": round(percentile(ordered, 0.50) * 1000, 3) if ordered else None,
                "p99_ms": round(percentile(ordered, 0.99) * 1000, 3) if ordered else None,
                "errors": errors[i],
            }
        )
    return rows


def summarize(
    recorder: Recorder,
    elapsed: float,
    *,
    settings: dict[str, Any],
    kms: dict[str, Any],
    cache: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report: what ran, throughput, latency, KMS and cache counters, errors by code.

    Args:
        recorder: the run's outcomes.
        elapsed: the run's length in seconds, first start to last end.
        settings: what was asked for (operation, concurrency, ...), reported as given.
        kms: the client's counters during the run (requests, retries, throttles, errors).
        cache: the data-key cache's counters during the run, or None without a cache.
    """
    ordered = sorted(recorder.latencies)
    succeeded = len(ordered)
    failed = len(recorder.failures)
    errors = Counter(code for _end, code in recorder.failures)
    cache_report = None
    if cache is not None:
        looked_up = cache["hits"] + cache["misses"]
        cache_report = {
            **cache,
            "hit_ratio": round(cache["hits"] / looked_up, 4) if looked_up else None,
        }
    return {
        **settings,
        "elapsed_s": round(elapsed, 6),
        "operations": {
            "total": succeeded + failed,
            "succeeded": succeeded,
            "failed": failed,
            "missed_arrivals": recorder.missed,
        },
        "throughput_ops_s": round(succeeded / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": {
            "min": round((ordered[0] if ordered else 0.0) * 1000, 3),
            "mean": round((sum(ordered) / succeeded if succeeded else 0.0) * 1000, 3),
            "p50": round(percentile(ordered, 0.50) * 1000, 3),
            "p90": round(percentile(ordered, 0.90) * 1000, 3),
            "p99": round(percentile(ordered, 0.99) * 1000, 3),
            "max": round((ordered[-1] if ordered else 0.0) * 1000, 3),
        },
        "kms": kms,
        "cache": cache_report,
        "errors": dict(sorted(errors.items())),
        "timeline": timeline(recorder, elapsed),
    }


def error_code(exc: BaseException) -> str:
    """The code a failed operation is counted under: KMS's error code, else the class name."""
    if isinstance(exc, boto.ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else "ClientError"
    return type(exc).__name__


# --- the command line -------------------------------------------------------------------------


def _parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG)
    target = parser.add_argument_group("target (one of)")
    mode = target.add_mutually_exclusive_group()
    mode.add_argument(
        "--emulator",
        action="store_true",
        help="start the built-in emulator (in a child process) and load-test it",
    )
    mode.add_argument("--endpoint-url", metavar="URL", help="load-test this KMS endpoint")
    target.add_argument("--region", help="the AWS region (default: environment, profile)")
    target.add_argument("--profile", help="the shared config profile")
    add_tls_options(target)
    target.add_argument(
        "--key-id",
        metavar="KEY",
        help=f"the KMS key to use; required with --endpoint-url (--emulator: {BENCH_ALIAS})",
    )
    # the emulator's own quota flags, so the two commands take the same
    from aiokms.emulator.__main__ import add_quota_arguments

    add_quota_arguments(
        parser, "emulator quota (with --emulator; one of --rate-limit, --quotas, --quota)"
    )
    emulator = parser.add_argument_group("emulator knobs (with --emulator)")
    emulator.add_argument(
        "--latency", type=non_negative_float, metavar="SECONDS", help="seconds added to replies"
    )
    emulator.add_argument(
        "--jitter", type=non_negative_float, metavar="SECONDS", help="up to this much more"
    )
    emulator.add_argument(
        "--error-rate",
        type=share,
        metavar="SHARE",
        help="share (0-1) of replies that are KMSInternalException 500s",
    )
    emulator.add_argument(
        "--drop-rate",
        type=share,
        metavar="SHARE",
        help="share (0-1) of connections dropped without a reply",
    )
    load = parser.add_argument_group("load")
    load.add_argument(
        "--operation",
        "-O",
        choices=OPERATIONS,
        default="generate-data-key",
        metavar="OP",
        help=f"what each operation is: {', '.join(OPERATIONS)} (default: generate-data-key); "
        "envelope-* go through aiokms.Encryptor",
    )
    load.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="envelope operations take data keys through a DataKeyCache (default: --cache)",
    )
    load.add_argument(
        "--concurrency",
        "-c",
        type=positive_int,
        default=32,
        metavar="N",
        help="operations in flight at most (default 32)",
    )
    load.add_argument(
        "--duration",
        "-d",
        type=positive_float,
        metavar="SECONDS",
        help="run this long (default 10, unless --requests is given)",
    )
    load.add_argument(
        "--requests",
        "-n",
        type=positive_int,
        metavar="N",
        help="run this many operations (with --duration: whichever ends first)",
    )
    load.add_argument(
        "--rate",
        type=positive_float,
        metavar="PER_SECOND",
        help="open loop: start operations at this fixed rate, latency counted from each "
        "scheduled start",
    )
    load.add_argument(
        "--payload-size",
        type=positive_int,
        default=1024,
        metavar="BYTES",
        help=f"plaintext bytes per operation (default 1024; encrypt/decrypt: at most "
        f"{KMS_PLAINTEXT_LIMIT})",
    )
    load.add_argument(
        "--contexts",
        type=positive_int,
        default=1,
        metavar="N",
        help="spread operations over N encryption contexts (tenants), round robin (default 1)",
    )
    client = parser.add_argument_group("client")
    client.add_argument(
        "--retry-mode",
        choices=("adaptive", "standard"),
        help="the client's retry mode (default: adaptive, or AWS_RETRY_MODE)",
    )
    client.add_argument(
        "--max-attempts",
        type=positive_int,
        metavar="N",
        help="attempts per call including the first (default 3, or AWS_MAX_ATTEMPTS)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw throughput and latency over time to this PNG (needs matplotlib: "
        "pip install 'aiokms[plot]')",
    )
    output.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress (it is shown only when stderr is a terminal, without --json)",
    )
    return parser


def _check(args: argparse.Namespace, parser: Parser) -> None:
    if not args.emulator:
        knobs = [
            f"--{name.replace('_', '-')}"
            for name in (
                "rate_limit",
                "burst",
                "quotas",
                "quota",
                "latency",
                "jitter",
                "error_rate",
                "drop_rate",
            )
            if getattr(args, name) is not None
        ]
        if knobs:
            parser.error(f"{', '.join(knobs)} only apply with --emulator")
        if not args.key_id:
            parser.error(
                "--key-id is required unless --emulator is given (bench never creates keys "
                "outside its own emulator)"
            )
    elif args.profile:
        parser.error("--profile does not apply with --emulator (it has its own credentials)")
    if args.operation in ("encrypt", "decrypt") and args.payload_size > KMS_PLAINTEXT_LIMIT:
        parser.error(
            f"--payload-size: KMS {args.operation.capitalize()} takes at most "
            f"{KMS_PLAINTEXT_LIMIT} bytes; use envelope-{args.operation} for larger payloads"
        )
    if args.duration is None and args.requests is None:
        args.duration = 10.0
    if args.plot:
        plot = Path(args.plot)
        if plot.suffix.lower() != ".png":
            parser.error(f"--plot: {args.plot!r} is not a .png file name")
        if not plot.parent.is_dir():
            parser.error(f"--plot: directory {str(plot.parent)!r} does not exist")


# --- running ----------------------------------------------------------------------------------


class _Emulator:
    """The emulator in a child process: its own core, stopped (SIGTERM) when the run ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._process: asyncio.subprocess.Process | None = None
        self.endpoint_url = ""
        self.region = ""
        self.credentials: Any = None

    async def __aenter__(self) -> _Emulator:
        from aiokms import Credentials

        argv = [sys.executable, "-m", "aiokms.emulator", "--json", "--alias", BENCH_ALIAS]
        if self._args.region:
            argv += ["--region", self._args.region]
        knobs = ("rate_limit", "burst", "quotas", "latency", "jitter", "error_rate", "drop_rate")
        for name in knobs:
            value = getattr(self._args, name)
            if value is not None:
                argv += [f"--{name.replace('_', '-')}", repr(value)]
        for quota, rate in self._args.quota or ():
            argv += ["--quota", f"{quota}={rate!r}"]
        self._process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
        )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), _EMULATOR_START_TIMEOUT)
            ready = json.loads(line)
            self.endpoint_url = ready["endpoint_url"]
            self.region = ready["region"]
            self.credentials = Credentials(
                ready["access_key"], ready["secret_key"], ready.get("session_token")
            )
        except (asyncio.TimeoutError, ValueError, KeyError, TypeError):
            await self._stop()
            raise CommandError(
                "--emulator: the emulator did not start (see the messages above)", FAILURE
            ) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


Operation = Callable[[int], Awaitable[object]]


async def _prepare(args: argparse.Namespace, kms: Any, key_id: str) -> tuple[Operation, Any]:
    """The operation to run (taking the operation's number) and the cache, if any."""
    payload = os.urandom(args.payload_size)
    contexts = [{"tenant": f"t{i}"} for i in range(args.contexts)]
    n = len(contexts)
    op = args.operation
    if op == "generate-data-key":

        async def generate(i: int) -> object:
            return await kms.generate_data_key(
                KeyId=key_id, KeySpec="AES_256", EncryptionContext=contexts[i % n]
            )

        return generate, None
    if op == "encrypt":

        async def encrypt(i: int) -> object:
            return await kms.encrypt(
                KeyId=key_id, Plaintext=payload, EncryptionContext=contexts[i % n]
            )

        return encrypt, None
    if op == "decrypt":
        blobs = [
            (await kms.encrypt(KeyId=key_id, Plaintext=payload, EncryptionContext=c))[
                "CiphertextBlob"
            ]
            for c in contexts
        ]

        async def decrypt(i: int) -> object:
            return await kms.decrypt(
                CiphertextBlob=blobs[i % n], KeyId=key_id, EncryptionContext=contexts[i % n]
            )

        return decrypt, None
    from aiokms import DataKeyCache, Encryptor

    cache = DataKeyCache() if args.cache else None
    arn = (await kms.describe_key(KeyId=key_id))["KeyMetadata"]["Arn"]
    encryptor = Encryptor(kms, arn, cache=cache)
    if op == "envelope-encrypt":

        async def envelope_encrypt(i: int) -> object:
            return await encryptor.encrypt(payload, encryption_context=contexts[i % n])

        return envelope_encrypt, cache
    # messages made without the cache, so the run's cache counters are the decrypts' own
    writer = Encryptor(kms, arn)
    messages = [await writer.encrypt(payload, encryption_context=c) for c in contexts]

    async def envelope_decrypt(i: int) -> object:
        return await encryptor.decrypt(messages[i % n])

    return envelope_decrypt, cache


_FATAL = (
    boto.NoCredentialsError,
    boto.PartialCredentialsError,
    boto.NoRegionError,
    boto.ParamValidationError,
    TypeError,
    ValueError,
)


class _Load:
    """Runs the operations and records them; stops by itself."""

    def __init__(self, args: argparse.Namespace, operation: Operation) -> None:
        self.args = args
        self.operation = operation
        self.recorder = Recorder()
        self.started = 0
        self.t0 = 0.0
        self.last_end = 0.0
        self.fatal: BaseException | None = None
        self._counter = itertools.count()

    @property
    def deadline(self) -> float:
        duration: float | None = self.args.duration
        return math.inf if duration is None else duration

    def _more(self, now: float) -> bool:
        requests: int | None = self.args.requests
        return now < self.deadline and (requests is None or self.started < requests)

    async def _one(self, scheduled: float) -> None:
        i = next(self._counter)
        try:
            await self.operation(i)
        except _FATAL as exc:
            if self.fatal is None:
                self.fatal = exc
            raise
        except Exception as exc:
            end = time.perf_counter() - self.t0
            self.recorder.failure(end, error_code(exc))
        else:
            end = time.perf_counter() - self.t0
            self.recorder.success(end, end - scheduled)
        self.last_end = max(self.last_end, end)

    async def _closed_worker(self) -> None:
        while self._more(time.perf_counter() - self.t0):
            self.started += 1
            await self._one(time.perf_counter() - self.t0)

    async def _open_worker(self, queue: asyncio.Queue[float | None]) -> None:
        while (scheduled := await queue.get()) is not None:
            if time.perf_counter() - self.t0 >= self.deadline:
                self.recorder.missed += 1  # not started in time: arrivals after the end
                continue
            self.started += 1
            await self._one(scheduled)

    async def _dispatch(self, queue: asyncio.Queue[float | None], rate: float) -> None:
        requests: int | None = self.args.requests
        for n in itertools.count():
            scheduled = n / rate
            if scheduled >= self.deadline or (requests is not None and n >= requests):
                break
            delay = scheduled - (time.perf_counter() - self.t0)
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(scheduled)
        for _ in range(self.args.concurrency):
            queue.put_nowait(None)

    async def run(self) -> float:
        """Run the load; returns the elapsed seconds."""
        self.t0 = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        if self.args.rate is None:
            tasks = [
                asyncio.create_task(self._closed_worker()) for _ in range(self.args.concurrency)
            ]
        else:
            queue: asyncio.Queue[float | None] = asyncio.Queue()
            tasks = [
                asyncio.create_task(self._open_worker(queue)) for _ in range(self.args.concurrency)
            ]
            tasks.append(asyncio.create_task(self._dispatch(queue, self.args.rate)))
        try:
            await self._wait(tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.fatal is not None:
            raise self.fatal
        return max(self.last_end, min(time.perf_counter() - self.t0, self.deadline))

    async def _wait(self, tasks: list[asyncio.Task[None]]) -> None:
        pending = set(tasks)
        while pending:
            now = time.perf_counter() - self.t0
            timeout = None if math.isinf(self.deadline) else self.deadline + _GRACE - now
            if timeout is not None and timeout <= 0:
                return  # still running after the grace period: cancelled by the caller
            done, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION
            )
            if any(not t.cancelled() and t.exception() is not None for t in done):
                return


class _Progress:
    """Live progress on stderr with rich, when stderr is a terminal."""

    def __init__(self, args: argparse.Namespace, load: _Load, kms: Any) -> None:
        self.args = args
        self.load = load
        self.kms = kms
        self._task: asyncio.Task[None] | None = None
        self._progress: Any = None
        self._seen = 0

    def enabled(self) -> bool:
        return not (self.args.json or self.args.no_progress) and sys.stderr.isatty()

    async def __aenter__(self) -> _Progress:
        if not self.enabled():
            return self
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(file=sys.stderr),
            transient=True,
        )
        total = self.args.duration if self.args.duration is not None else self.args.requests
        self._id = self._progress.add_task(self.args.operation, total=total, stats="starting")
        self._progress.start()
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._progress is not None:
            self._progress.stop()

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(_TICK)
            now = time.perf_counter()
            recorder = self.load.recorder
            recent = sorted(recorder.latencies[self._seen :])
            rate = len(recent) / (now - last)
            self._seen, last = len(recorder.latencies), now
            stats = self.kms.stats()
            text = (
                f"{recorder.completed:,} ops  {rate:,.0f}/s  "
                f"p99 {percentile(recent, 0.99) * 1000:.1f} ms  "
                f"throttles {stats.throttles}  errors {len(recorder.failures)}"
            )
            if self.args.duration is not None:
                done = min(now - self.load.t0, self.args.duration)
            else:
                done = float(recorder.completed)
            self._progress.update(self._id, completed=done, stats=text)


def _counters(before: Any, after: Any) -> dict[str, Any]:
    errors = Counter(dict(after.errors))
    errors.subtract(dict(before.errors))
    return {
        "requests": after.requests - before.requests,
        "retries": after.retries - before.retries,
        "throttles": after.throttles - before.throttles,
        "errors": {k: v for k, v in sorted(errors.items()) if v},
        "limiter_rate": None if after.limiter_rate is None else round(after.limiter_rate, 1),
        "limiter_rates": {quota: round(rate, 1) for quota, rate in after.limiter_rates.items()},
    }


def _cache_counters(before: Any, after: Any) -> dict[str, Any]:
    return {
        name: getattr(after, name) - getattr(before, name)
        for name in ("hits", "misses", "kms_calls", "refreshes")
    }


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        if args.emulator:
            emulator = await stack.enter_async_context(_Emulator(args))
            options: dict[str, Any] = {
                "endpoint_url": emulator.endpoint_url,
                "region": args.region or emulator.region,
            }
            kms = await stack.enter_async_context(
                make_client(
                    argparse.Namespace(**options, profile=None),
                    credentials=emulator.credentials,
                    **_client_options(args),
                )
            )
            key_id = args.key_id or BENCH_ALIAS
        else:
            kms = await stack.enter_async_context(make_client(args, **_client_options(args)))
            key_id = args.key_id
        operation, cache = await _prepare(args, kms, key_id)
        if cache is not None:
            await stack.enter_async_context(cache)
        load = _Load(args, operation)
        before = kms.stats()
        cache_before = cache.stats() if cache is not None else None
        async with _Progress(args, load, kms):
            elapsed = await load.run()
        settings = {
            "operation": args.operation,
            "target": "emulator" if args.emulator else kms.meta.endpoint_url,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "duration_s": args.duration,
            "requests": args.requests,
            "payload_size": args.payload_size,
            "contexts": args.contexts,
            "cache_enabled": cache is not None,
        }
        return summarize(
            load.recorder,
            elapsed,
            settings=settings,
            kms=_counters(before, kms.stats()),
            cache=(_cache_counters(cache_before, cache.stats()) if cache is not None else None),
        )


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"max_connections": args.concurrency}
    if args.retry_mode:
        options["retry_mode"] = args.retry_mode
    if args.max_attempts:
        options["max_attempts"] = args.max_attempts
    return options


# --- output -----------------------------------------------------------------------------------


def _rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    ops = report["operations"]
    latency = report["latency_ms"]
    kms = report["kms"]
    cache = report["cache"]
    load = f"concurrency {report['concurrency']}"
    if report["rate"] is not None:
        load += f", open loop at {report['rate']:g}/s"
    rows = [
        ("operation", f"{report['operation']} ({load})"),
        ("target", str(report["target"])),
        ("elapsed", f"{report['elapsed_s']:.2f} s"),
        ("operations", f"{ops['succeeded']:,} ok, {ops['failed']:,} failed"),
        ("throughput", f"{report['throughput_ops_s']:,.1f} ops/s"),
        (
            "latency (ms)",
            f"p50 {latency['p50']:.2f}  p90 {latency['p90']:.2f}  "
            f"p99 {latency['p99']:.2f}  max {latency['max']:.2f}",
        ),
        ("KMS calls", f"{kms['requests']:,}"),
        (
            "cache hit ratio",
            "-"
            if cache is None
            else (
                "-"
                if cache["hit_ratio"] is None
                else f"{cache['hit_ratio']:.1%} ({cache['hits']:,} hits, "
                f"{cache['misses']:,} misses)"
            ),
        ),
        ("throttles", f"{kms['throttles']:,}"),
        ("retries", f"{kms['retries']:,}"),
        (
            "errors",
            ", ".join(f"{code} {n:,}" for code, n in report["errors"].items()) or "none",
        ),
    ]
    if ops["missed_arrivals"]:
        rows.insert(4, ("missed arrivals", f"{ops['missed_arrivals']:,} (not started in time)"))
    if kms["errors"] and kms["errors"] != report["errors"]:
        rows.append(
            (
                "KMS errors (per call)",
                ", ".join(f"{code} {n:,}" for code, n in kms["errors"].items()),
            )
        )
    return rows


def print_table(report: dict[str, Any], out: IO[str]) -> None:
    """Print the report as a table."""
    from rich.console import Console
    from rich.table import Table

    rows = _rows(report)
    table = Table(title="aiokms bench", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    Console(file=out, soft_wrap=True).print(table)


def plot(report: dict[str, Any], path: str) -> None:
    """Draw throughput and latency (p50, p99) over time to a PNG."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    rows = report["timeline"]
    t = [row["t"] for row in rows]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    top.plot(t, [row["ops_per_s"] for row in rows], drawstyle="steps-post")
    top.set_ylabel("ops/s")
    title = f"aiokms bench: {report['operation']}, concurrency {report['concurrency']}"
    if report["rate"] is not None:
        title += f", open loop at {report['rate']:g}/s"
    top.set_title(title)
    errors = [(row["t"], row["errors"]) for row in rows if row["errors"]]
    if errors:
        twin = top.twinx()
        twin.bar([e[0] for e in errors], [e[1] for e in errors], color="tab:red", alpha=0.3)
        twin.set_ylabel("errors", color="tab:red")
    for name in ("p50", "p99"):
        values = [math.nan if row[f"{name}_ms"] is None else row[f"{name}_ms"] for row in rows]
        bottom.plot(t, values, label=name, drawstyle="steps-post")
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str], *, prog: str = "aiokms bench", command: str = "bench") -> int:
    """Run ``aiokms bench`` with ``argv``; returns the exit code."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(list(argv))
        _check(args, parser)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.plot:
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            print(f"{prog}: --plot needs matplotlib: pip install 'aiokms[plot]'", file=sys.stderr)
            return CONFIG

    async def go() -> int:
        report = await _bench(args)
        out = sys.stdout
        if args.json:
            json.dump(report, out, indent=2)
            out.write("\n")
        else:
            print_table(report, out)
        if args.plot:
            plot(report, args.plot)
        out.flush()
        if report["operations"]["succeeded"] == 0:
            raise CommandError("no operation succeeded (see errors)", FAILURE)
        return OK

    return run(prog, go)
