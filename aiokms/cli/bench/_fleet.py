"""``--processes N``: the load in N worker processes, merged exactly.

How this works. The parent starts the emulator, if asked, once for every worker; then N
``aiokms bench`` processes, each with its share of ``--concurrency``, ``--rate`` and
``--requests``, the same ``--duration``, ``--hdr-out`` into a folder of the parent's and one
``--start-at`` a few seconds ahead, so that their loads start together after their setups. The
workers run in a process group of their own: Ctrl-C reaches the parent, which passes it on to
each worker once; they stop and write what they measured. The parent merges their files
(``_hdr.merge``) into one report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokms.cli._common import FAILURE, CommandError
from aiokms.cli.bench._args import BENCH_ALIAS
from aiokms.cli.bench._child import EmulatorChild
from aiokms.cli.bench._hdr import ceil_share, merge
from aiokms.cli.bench._load import on_sigint

__all__ = ["run_fleet"]

_START_MARGIN = 3.0  # seconds for the workers' start-up and setup, plus a half per worker
_WORKER_FAILED = (2, 252, 253, 254)  # a worker that exits so wrote nothing worth merging


def worker_argv(args: argparse.Namespace, index: int, count: int) -> list[str]:
    """The load and client flags of worker ``index`` of ``count``: its share of the totals."""
    argv = [
        "--operation",
        args.operation,
        "--cache" if args.cache else "--no-cache",
        "--concurrency",
        str(ceil_share(args.concurrency, count, index)),
        "--payload-size",
        str(args.payload_size),
        "--contexts",
        str(args.contexts),
        "--loop",
        args.loop,
    ]
    if args.duration is not None:
        argv += ["--duration", repr(args.duration)]
    if args.requests is not None:
        argv += ["--requests", str(ceil_share(args.requests, count, index))]
    if args.rate is not None:
        argv += ["--rate", repr(args.rate / count)]
    if args.ramp_up is not None:
        argv += ["--ramp-up", repr(args.ramp_up)]
    if args.retry_mode:
        argv += ["--retry-mode", args.retry_mode]
    if args.max_attempts:
        argv += ["--max-attempts", str(args.max_attempts)]
    return argv


async def run_fleet(args: argparse.Namespace) -> dict[str, Any]:
    """Run the load in ``args.processes`` workers; the merged report."""
    count: int = args.processes
    env = dict(os.environ)
    async with contextlib.AsyncExitStack() as stack:
        if args.emulator:
            emulator = await stack.enter_async_context(EmulatorChild(args))
            creds = emulator.credentials
            env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key)
            env.pop("AWS_SESSION_TOKEN", None)
            env.pop("AWS_PROFILE", None)
            if creds.token:
                env["AWS_SESSION_TOKEN"] = creds.token
            target = ["--endpoint-url", emulator.endpoint_url]
            target += ["--region", args.region or emulator.region]
            target += ["--key-id", args.key_id or BENCH_ALIAS]
        else:
            target = ["--key-id", args.key_id]
            for flag, value in (
                ("--endpoint-url", args.endpoint_url),
                ("--region", args.region),
                ("--profile", args.profile),
            ):
                if value:
                    target += [flag, value]
        start_at = args.start_at or time.time() + _START_MARGIN + 0.5 * count
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aiokms-bench-")))
        files = [folder / f"{i}.json" for i in range(count)]
        workers = []
        try:
            for i, path in enumerate(files):
                argv = [sys.executable, "-m", "aiokms.cli", "bench", *target]
                argv += worker_argv(args, i, count)
                argv += ["--hdr-out", str(path), "--start-at", repr(start_at)]
                argv += ["--json", "--no-progress"]
                workers.append(
                    await asyncio.create_subprocess_exec(
                        *argv,
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.PIPE,
                        env=env,
                        start_new_session=True,  # Ctrl-C is passed on by the parent, once
                    )
                )
            with _forward_sigint(workers):
                outcomes = await asyncio.gather(*(w.communicate() for w in workers))
        finally:
            for worker in workers:
                if worker.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        worker.kill()
                    await worker.wait()
        failed = [
            (i, err.decode(errors="replace").strip())
            for i, (worker, (_out, err)) in enumerate(zip(workers, outcomes, strict=True))
            if worker.returncode in _WORKER_FAILED or not files[i].exists()
        ]
        if failed:
            i, message = failed[0]
            raise CommandError(f"worker {i + 1} of {count} failed: {message}", FAILURE)
        report = merge([json.loads(path.read_text()) for path in files])
    if args.emulator:  # the workers see an endpoint; the quota is this emulator's
        report["target"] = "emulator"
        report["quota_per_s"] = emulator.quota
    report["processes"] = count
    return report


def _forward_sigint(workers: list[asyncio.subprocess.Process]) -> Any:
    """While the workers run, SIGINT here is SIGINT to each of them, once."""
    sent = False

    def forward() -> None:
        nonlocal sent
        if sent:
            return
        sent = True
        for worker in workers:
            if worker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.send_signal(signal.SIGINT)

    return on_sigint(forward)
