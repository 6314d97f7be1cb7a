"""``aiokms bench``'s command line: the flags, their types and the checks across them."""

from __future__ import annotations

import argparse
import datetime
import math
import re
from pathlib import Path

from aiokms._argtypes import positive_float, positive_int, share
from aiokms.cli._common import Parser, add_tls_options

__all__ = [
    "BENCH_ALIAS",
    "KMS_PLAINTEXT_LIMIT",
    "OPERATIONS",
    "THRESHOLD_EXCEEDED",
    "build_parser",
    "check",
    "check_plot",
    "merge_parser",
    "seconds",
    "wall_clock",
]

OPERATIONS = (
    "generate-data-key",
    "encrypt",
    "decrypt",
    "envelope-encrypt",
    "envelope-decrypt",
)
BENCH_ALIAS = "alias/aiokms-bench"
THRESHOLD_EXCEEDED = 1  # the exit code when --max-error-rate or --max-p99 is exceeded
KMS_PLAINTEXT_LIMIT = 4096  # Encrypt takes at most 4 KiB

_DESCRIPTION = """\
Load-test KMS: run one operation as fast as --concurrency allows (closed loop) or at a target
--rate (open loop), for --duration or --requests operations (after an optional --ramp-up),
then print throughput, latency percentiles (p50 to p99.9), KMS calls, cache hits, throttles,
retries and errors by code. Ctrl-C stops early and prints what was measured (exit 130);
SIGTERM stops at once, without a report (exit 143). --max-error-rate and --max-p99 make the
run exit 1 when exceeded. --processes N runs N worker processes and merges them exactly;
--hdr-out FILE and 'aiokms bench merge FILE...' do the same for runs on several machines
(started together with --start-at)."""

_EPILOG = """\
examples:
  aiokms bench --emulator --operation envelope-encrypt --duration 10
  aiokms bench --emulator --rate-limit 500 --operation generate-data-key --concurrency 64
  aiokms bench --emulator --quotas 0.004 --concurrency 64   # KMS's quotas, 400/s symmetric
  aiokms bench --emulator --operation envelope-decrypt --no-cache --rate 200 --json
  aiokms bench --emulator --duration 1m --ramp-up 10s --max-error-rate 0.01 --max-p99 50
  aiokms bench --emulator --operation envelope-encrypt --processes 2 --loop uvloop
  aiokms bench --key-id alias/x --start-at 2026-12-07T10:00:00Z --hdr-out "$(hostname).json"
  aiokms bench merge host-a.json host-b.json
  aiokms bench --endpoint-url https://kms.eu-west-1.amazonaws.com --region eu-west-1 \\
      --key-id alias/load-test --operation encrypt --requests 1000 --plot bench.png

With --emulator the emulator runs in a child process and the key is made there; against an
endpoint, give --key-id (bench never creates keys in a real account)."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SPAN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)")


def seconds(text: str) -> float:
    """An argparse type: a length of time above 0, as ``10``, ``10s``, ``500ms``, ``1m``,
    ``1m30s`` or ``1h`` (a bare number is seconds)."""
    spans = text.strip()
    try:
        value = float(spans)
    except ValueError:
        parts = _SPAN.findall(spans)
        if not parts or "".join(number + unit for number, unit in parts) != spans:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a length of time (such as 30, 30s, 500ms, 1m, 1m30s, 1h)"
            ) from None
        value = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def build_parser(prog: str) -> Parser:
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
    # the emulator's own quota and fault flags, so that the two commands take the same
    from aiokms.emulator.__main__ import add_fault_arguments, add_quota_arguments

    add_quota_arguments(
        parser, "emulator quota (with --emulator; one of --rate-limit, --quotas, --quota)"
    )
    add_fault_arguments(parser, "emulator faults (with --emulator)", defaults=False)
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
        type=seconds,
        metavar="TIME",
        help="run this long: seconds, or with a unit: 500ms, 10s, 1m, 1m30s, 1h (default 10s, "
        "unless --requests is given)",
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
        "--ramp-up",
        type=seconds,
        metavar="TIME",
        help="start gently: closed loop, the workers start one by one over this time; open "
        "loop, the rate climbs from 0 to --rate over it (measured, and part of --duration)",
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
    gate = parser.add_argument_group("thresholds (exceeded: the report, then exit code 1; for CI)")
    gate.add_argument(
        "--max-error-rate",
        type=share,
        metavar="SHARE",
        help="at most this share (0-1) of the operations that ended may fail",
    )
    gate.add_argument(
        "--max-p99",
        type=positive_float,
        metavar="MS",
        help="the 99th percentile latency may be at most this many milliseconds",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw throughput, latency and KMS requests, throttles and retries over time "
        "(with the quota, when known) to this PNG (needs matplotlib: pip install 'aiokms[plot]')",
    )
    output.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress (it is shown only when stderr is a terminal, without --json)",
    )
    output.add_argument(
        "--hdr-out",
        metavar="FILE",
        help="also write the run's latencies (HDR histograms) and counters to FILE, for "
        "'aiokms bench merge' (needs pip install 'aiokms[bench]')",
    )
    scale = parser.add_argument_group("scale out")
    scale.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="N",
        help="run the load in N worker processes and merge their results exactly (HDR "
        "histograms; needs pip install 'aiokms[bench]'); --concurrency, --rate and "
        "--requests are totals, shared among them (default 1)",
    )
    scale.add_argument(
        "--start-at",
        type=wall_clock,
        metavar="TIME",
        help="start the load at this wall-clock time (ISO 8601 with a time zone, or epoch "
        "seconds), after the setup: runs on several machines start together",
    )
    scale.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop (uvloop: pip install 'aiokms[uvloop]'; default asyncio)",
    )
    return parser


def wall_clock(text: str) -> float:
    """An argparse type: a wall-clock time as epoch seconds, from epoch seconds or ISO 8601
    with a time zone (``2026-12-07T10:00:00Z``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (ISO 8601 with a time zone, or epoch seconds)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add Z or +00:00)")
    return moment.timestamp()


def check(args: argparse.Namespace, parser: Parser) -> None:
    if not args.emulator:
        from aiokms.emulator.__main__ import FAULT_FLAGS, QUOTA_FLAGS

        knobs = [
            f"--{name.replace('_', '-')}"
            for name in (*QUOTA_FLAGS, *FAULT_FLAGS)
            if getattr(args, name) is not None
        ]
        if knobs:
            verb = "applies" if len(knobs) == 1 else "apply"
            parser.error(f"{', '.join(knobs)} only {verb} with --emulator")
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
    if args.processes > 1:
        if args.concurrency < args.processes:
            parser.error(f"--concurrency ({args.concurrency}) must be at least --processes")
        if args.requests is not None and args.requests < args.processes:
            parser.error(f"--requests ({args.requests}) must be at least --processes")
        if args.hdr_out:
            parser.error("--hdr-out: with --processes, run each process with its own instead")
    if args.duration is None and args.requests is None:
        args.duration = 10.0
    if args.ramp_up is not None and args.duration is not None and args.ramp_up >= args.duration:
        parser.error(
            f"--ramp-up ({args.ramp_up:g} s) must be shorter than --duration ({args.duration:g} s)"
        )
    if args.plot:
        check_plot(args.plot, parser)


def check_plot(name: str, parser: Parser) -> None:
    """``--plot``'s file: a .png name in a folder that exists, or a usage error."""
    plot = Path(name)
    if plot.suffix.lower() != ".png":
        parser.error(f"--plot: {name!r} is not a .png file name")
    if not plot.parent.is_dir():
        parser.error(f"--plot: directory {str(plot.parent)!r} does not exist")


def merge_parser(prog: str) -> Parser:
    """``aiokms bench merge``'s parser."""
    parser = Parser(
        prog=prog,
        description="Merge runs written with 'aiokms bench --hdr-out FILE' (on several "
        "processes or machines, started together with --start-at) into one report: counters "
        "added, latency histograms merged exactly.",
        epilog="examples:\n"
        "  aiokms bench merge host-a.hdr.json host-b.hdr.json\n"
        "  aiokms bench merge runs/*.json --json --max-p99 50",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="--hdr-out files")
    gate = parser.add_argument_group("thresholds (exceeded: exit code 1)")
    gate.add_argument("--max-error-rate", type=share, metavar="SHARE")
    gate.add_argument("--max-p99", type=positive_float, metavar="MS")
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--plot", metavar="FILE.png", help="draw the merged timeline")
    return parser
