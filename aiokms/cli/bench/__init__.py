"""``aiokms bench``: a bounded load test of KMS, an endpoint or the built-in emulator.

How this works. :func:`main` reads the command line (``_args``), then ``_bench`` sets up what
the operation needs (with ``--emulator``, LocalKMS in a child process with a key under
``alias/aiokms-bench``: ``_child``; the operation with its keys, ciphertexts, encryptor and
cache: ``_operations``), runs the load (``_load``: closed or open loop, ramp-up, stop at the
end or at SIGINT) under the live display (``_display``), and makes the report of what was
recorded (``_measure``: plain, synchronous, clock-free), printed as a table, as ``--json`` or
drawn with ``--plot`` (``_report``). With ``--hdr-out`` the run is also written as HDR
histograms (``_hdr``), which ``aiokms bench merge`` merges exactly; ``--processes N`` runs N
such workers and merges them (``_fleet``). ``_measure``, ``_args``, ``_operations`` and
``_report`` import no other part; ``_child`` takes the alias from ``_args``, ``_load`` and
``_hdr`` use ``_measure``, ``_display`` watches ``_load``, ``_fleet`` starts ``_child`` and
merges with ``_hdr``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokms.cli._common import (
    CONFIG,
    FAILURE,
    INTERRUPTED,
    OK,
    USAGE,
    CommandError,
    make_client,
    run,
)
from aiokms.cli.bench._args import (
    BENCH_ALIAS,
    THRESHOLD_EXCEEDED,
    build_parser,
    check,
    check_plot,
    merge_parser,
)
from aiokms.cli.bench._child import EmulatorChild
from aiokms.cli.bench._display import Progress
from aiokms.cli.bench._fleet import run_fleet
from aiokms.cli.bench._hdr import hdr_available, merge, run_document
from aiokms.cli.bench._load import Load, on_sigint
from aiokms.cli.bench._measure import summarize, thresholds
from aiokms.cli.bench._operations import prepare
from aiokms.cli.bench._report import cache_counters, kms_counters, plot, print_table

__all__ = ["main"]


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        if args.emulator:
            emulator = await stack.enter_async_context(EmulatorChild(args))
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
        operation, cache = await prepare(args, kms, key_id)
        if cache is not None:
            await stack.enter_async_context(cache)
        load = Load(args, operation, kms_counts=lambda: _kms_counts(kms.stats()))
        if args.start_at is not None:
            await _wait_until(args.start_at)
        before = kms.stats()
        cache_before = cache.stats() if cache is not None else None
        started_at = time.time()
        with on_sigint(load.interrupt):
            async with Progress(args, load, kms):
                elapsed = await load.run()
        settings = {
            "operation": args.operation,
            "target": "emulator" if args.emulator else kms.meta.endpoint_url,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "duration_s": args.duration,
            "ramp_up_s": args.ramp_up,
            "requests": args.requests,
            "payload_size": args.payload_size,
            "contexts": args.contexts,
            "cache_enabled": cache is not None,
            "loop": args.loop,
            # the quota the operation counts against, where it is known: the emulator's
            "quota_per_s": emulator.quota if args.emulator else None,
        }
        report = summarize(
            load.recorder,
            elapsed,
            settings=settings,
            kms=kms_counters(before, kms.stats()),
            cache=(cache_counters(cache_before, cache.stats()) if cache is not None else None),
            interrupted=load.interrupted_at is not None,
            cancelled=load.started - load.recorder.completed,
        )
        if args.hdr_out:
            document = run_document(report, load.recorder, started_at=started_at)
            await asyncio.to_thread(_write_text, args.hdr_out, json.dumps(document))
        return report


def _kms_counts(stats: Any) -> tuple[int, int, int]:
    return stats.requests, stats.throttles, stats.retries


def _write_text(name: str, text: str) -> None:
    Path(name).write_text(text)


async def _wait_until(wall_time: float) -> None:
    """Sleep until the wall clock reads ``wall_time`` (``--start-at``); at once if past."""
    delay = wall_time - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"max_connections": args.concurrency}
    if args.retry_mode:
        options["retry_mode"] = args.retry_mode
    if args.max_attempts:
        options["max_attempts"] = args.max_attempts
    return options


def main(argv: Sequence[str], *, prog: str = "aiokms bench", command: str = "bench") -> int:
    """Run ``aiokms bench`` with ``argv`` (or ``aiokms bench merge``); returns the exit code."""
    if argv and argv[0] == "merge":
        return _merge_main(argv[1:], f"{prog} merge")
    parser = build_parser(prog)
    try:
        args = parser.parse_args(list(argv))
        check(args, parser)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    missing = _missing_extras(args)
    if missing:
        print(f"{prog}: {missing}", file=sys.stderr)
        return CONFIG
    runner = asyncio.run
    if args.loop == "uvloop":
        runner = importlib.import_module("uvloop").run

    async def go() -> int:
        report = await (run_fleet(args) if args.processes > 1 else _bench(args))
        return _finish(report, args, prog)

    return run(prog, go, runner=runner)


def _missing_extras(args: argparse.Namespace) -> str | None:
    """What an option needs that is not installed, as a message; None when all is there."""
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        return "--plot needs matplotlib: pip install 'aiokms[plot]'"
    if (args.processes > 1 or args.hdr_out) and not hdr_available():
        flag = "--processes" if args.processes > 1 else "--hdr-out"
        return f"{flag} needs hdrhistogram: pip install 'aiokms[bench]'"
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        return "--loop uvloop needs uvloop: pip install 'aiokms[uvloop]'"
    return None


def _merge_main(argv: Sequence[str], prog: str) -> int:
    """``aiokms bench merge FILE...``: one report of runs written with ``--hdr-out``."""
    parser = merge_parser(prog)
    try:
        args = parser.parse_args(list(argv))
        if args.plot:
            check_plot(args.plot, parser)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    if not hdr_available():
        print(f"{prog}: needs hdrhistogram: pip install 'aiokms[bench]'", file=sys.stderr)
        return CONFIG
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print(f"{prog}: --plot needs matplotlib: pip install 'aiokms[plot]'", file=sys.stderr)
        return CONFIG

    documents = []
    for name in args.files:
        try:
            documents.append(json.loads(Path(name).read_text()))
        except (OSError, ValueError) as exc:
            print(f"{prog}: {name}: {exc}", file=sys.stderr)
            return USAGE

    async def go() -> int:
        try:
            report = merge(documents)
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"cannot merge: {exc}", USAGE) from None
        return _finish(report, args, prog)

    return run(prog, go)


def _finish(report: dict[str, Any], args: argparse.Namespace, prog: str) -> int:
    """Check the thresholds, print the report (and plot it); the exit code."""
    report["thresholds"] = thresholds(
        report, max_error_rate=args.max_error_rate, max_p99=args.max_p99
    )
    out = sys.stdout
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        print_table(report, out)
    if args.plot:
        plot(report, args.plot)
    out.flush()
    if report["interrupted"]:
        print(
            f"{prog}: interrupted after {report['elapsed_s']:.2f} s; the report covers the "
            "operations that ended until then",
            file=sys.stderr,
        )
        return INTERRUPTED
    if report["operations"]["succeeded"] == 0:
        raise CommandError("no operation succeeded (see errors)", FAILURE)
    exceeded = [
        f"{name} exceeded: {check['value']:g} > {check['limit']:g}"
        for name, check in report["thresholds"].items()
        if not check["ok"]
    ]
    for line in exceeded:
        print(f"{prog}: {line}", file=sys.stderr)
    return THRESHOLD_EXCEEDED if exceeded else OK
