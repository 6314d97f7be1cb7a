"""Adaptive retry mode against a throttling KMS: goodput, throttled share, failed calls.

What it measures, each case beside aiobotocore in the same run (both in adaptive retry mode
with 3 attempts, one after the other), with servers on 127.0.0.1 in their own process, pinned
to the second core:

1. ``single``: a canned-reply KMS enforces a token-bucket quota of ``--quota`` requests/s
   (burst ``--burst``) and answers every request over it with ``ThrottlingException`` (HTTP
   400), as KMS does; ``--workers`` coroutines call ``GenerateDataKey`` in a loop for
   ``--seconds``. Reported: goodput (successful calls/s and as a share of the quota), the
   share of requests throttled, and calls that failed.
2. ``fleet``: ``--fleet`` aiokms client processes at once against the same server's one quota,
   each with its own limiters and no coordination, as the processes of one account share a
   regional KMS quota. Reported: aggregate goodput and each process's share of a fair share
   (an equal division of the aggregate, which has its own target).
3. ``mixed``: LocalKMS metering as KMS does (``quotas=``), GenerateDataKey's symmetric quota
   at ``--quota`` and DescribeKey's own at ``--describe-quota``; 64 coroutines call
   GenerateDataKey and 8 DescribeKey, on one client. A throttled DescribeKey must not slow
   GenerateDataKey. Reported: each operation's goodput, its quota's throttled share (LocalKMS
   counts them by quota), failed calls.
4. ``small``: LocalKMS metering DescribeKey at each of ``--small-quotas`` requests/s, 64
   coroutines calling it. Reported: goodput, the throttled share overall and after the first
   2 s (the first burst against an unknown quota cannot be avoided), failed calls. Calls still
   under way when a run ends are waited for (at 5/s, 64 queued callers take 13 s).

LocalKMS holds a second's worth of each quota, as KMS does; the canned server a tenth.

Targets (the issues "Resilience" and "Quotas as KMS meters them"): single: goodput >= 90% of
the quota, throttled <= 10% of requests, no failed calls; fleet: >= 90% of the quota with
every process within 25% of a fair share; mixed: GenerateDataKey's goodput >= 90% of its
quota, no failed call; small: no failed call, throttled <= 10% after the first 2 s.

Run from the repository root::

    python benchmarks/throttling.py                 # every case, 10 s each run
    python benchmarks/throttling.py --cases mixed,small --seconds 5 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokms._quotas import SYMMETRIC

REGION = "us-east-1"
ACCESS_KEY = "AKIDBENCH"
SECRET_KEY = "bench-secret"
KEY_ID = "alias/bench"
REPLY = json.dumps(
    {
        "CiphertextBlob": "A" * 248,
        "Plaintext": "B" * 43 + "=",
        "KeyId": f"arn:aws:kms:{REGION}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    }
).encode()
THROTTLE = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "bench"}


# --- the throttling server (its own process) ------------------------------------------------


def serve(quota: float, burst: float, port_out: Any) -> None:
    """Run the token-bucket KMS until the parent terminates this process."""
    pin_to_last_core()
    counts = {"ok": 0, "throttled": 0}
    bucket = {"tokens": burst, "at": time.monotonic()}

    async def kms(request: web.Request) -> web.Response:
        await request.read()
        now = time.monotonic()
        bucket["tokens"] = min(burst, bucket["tokens"] + (now - bucket["at"]) * quota)
        bucket["at"] = now
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
            counts["ok"] += 1
            return web.Response(body=REPLY, headers=HEADERS)
        counts["throttled"] += 1
        return web.Response(status=400, body=THROTTLE, headers=HEADERS)

    async def stats(request: web.Request) -> web.Response:
        snapshot = dict(counts)
        counts.update(ok=0, throttled=0)
        return web.json_response(snapshot)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/", kms)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def server_stats(url: str) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as response:
        result: dict[str, Any] = await response.json()
        return result


def pin_to_last_core() -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})


def serve_local(quotas: dict[str, float], out: Any) -> None:
    """Run LocalKMS metering ``quotas``, and its counters at ``/stats`` on a port of their
    own, until the parent terminates this process; send back both URLs."""
    pin_to_last_core()
    from aiokms.emulator import LocalKMS

    async def main() -> None:
        async with LocalKMS(
            region=REGION,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            quotas=quotas,
            aliases=(KEY_ID,),
        ) as local:

            async def stats(request: web.Request) -> web.Response:
                snapshot = local.stats()
                return web.json_response(
                    {
                        "requests": snapshot.requests,
                        "throttled": snapshot.throttled,
                        "quota_throttles": dict(snapshot.quota_throttles),
                        "operations": dict(snapshot.operations),
                    }
                )

            app = web.Application()
            app.router.add_get("/stats", stats)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            out.send((local.endpoint_url, f"http://127.0.0.1:{runner.addresses[0][1]}"))
            await asyncio.Event().wait()

    asyncio.run(main())


@contextlib.contextmanager
def local_kms(quotas: dict[str, float]) -> Any:
    """LocalKMS in a process of its own: yields its endpoint URL and its counters' URL."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(target=serve_local, args=(quotas, send), daemon=True)
    server.start()
    try:
        yield receive.recv()
    finally:
        server.terminate()
        server.join(timeout=5)


# --- clients --------------------------------------------------------------------------------


Call = Callable[[], Awaitable[Any]]


async def drive(call: Call, workers: int, seconds: float) -> dict[str, Any]:
    """Call ``call`` from ``workers`` loops for ``seconds``; count successes and failures.

    Calls under way at the end are waited for, and count."""
    deadline = time.monotonic() + seconds
    done = {"ok": 0, "failed": 0}
    errors: dict[str, int] = {}

    async def worker() -> None:
        while time.monotonic() < deadline:
            try:
                await call()
                done["ok"] += 1
            except Exception as exc:  # every failure is counted, whatever it is
                done["failed"] += 1
                name = (
                    getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
                )
                errors[name] = errors.get(name, 0) + 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return {**done, "seconds": time.monotonic() - start, "errors": errors}


# by operation name: (a function making the call of a client, its callers)
Workloads = Mapping[str, tuple[Callable[[Any], Call], int]]


async def drive_client(
    name: str, url: str, stats_url: str, workloads: Workloads, seconds: float, settle: float = 2.0
) -> dict[str, Any]:
    """Drive every workload at once on one client of kind ``name`` for ``seconds``; the
    server's counters at the start, after ``settle`` seconds and at the end."""
    async with CLIENTS[name](url, sum(callers for _, callers in workloads.values())) as kms:
        start = await server_stats(stats_url)

        async def settled() -> dict[str, Any]:
            await asyncio.sleep(settle)
            return await server_stats(stats_url)

        mark = asyncio.ensure_future(settled())
        results = await asyncio.gather(
            *(drive(make(kms), callers, seconds) for make, callers in workloads.values())
        )
        after_settle = await mark
        end = await server_stats(stats_url)
        limiter_rates = kms.stats().limiter_rates if name == "aiokms" else None
    return {
        "client": name,
        "operations": dict(zip(workloads, results, strict=True)),
        "server": {"start": start, "settled": after_settle, "end": end},
        "limiter_rates": limiter_rates,
    }


@contextlib.asynccontextmanager
async def aiokms_client(url: str, connections: int) -> Any:
    import aiokms

    async with aiokms.KMSClient(
        region_name=REGION,
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, SECRET_KEY),
        max_connections=connections,
    ) as kms:  # the defaults: adaptive mode, 3 attempts
        yield kms


@contextlib.asynccontextmanager
async def aiobotocore_client(url: str, connections: int) -> Any:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        retries={"mode": "adaptive", "max_attempts": 3}, max_pool_connections=connections
    )
    async with get_session().create_client(
        "kms",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=config,
    ) as kms:
        yield kms


CLIENTS = {"aiokms": aiokms_client, "aiobotocore": aiobotocore_client}


def generate(kms: Any) -> Call:
    return lambda: kms.generate_data_key(KeyId=KEY_ID, KeySpec="AES_256")


def describe(kms: Any) -> Call:
    return lambda: kms.describe_key(KeyId=KEY_ID)


async def run_one(
    name: str, url: str, workers: int, seconds: float, start_at: float | None = None
) -> dict[str, Any]:
    """Drive GenerateDataKey on a client of kind ``name``; with ``start_at`` (a
    ``time.time()``), set up first, then wait for it."""
    async with CLIENTS[name](url, workers) as kms:
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
        result = await drive(generate(kms), workers, seconds)
        result["limiter_rate"] = kms.stats().limiter_rate if name == "aiokms" else None
        return result


def fleet_member(url: str, workers: int, seconds: float, start_at: float, out: Any) -> None:
    """One process of the fleet: set up, wait for the common start, then drive aiokms.

    Importing aiokms takes a fifth of a second of CPU; done after the start, the processes'
    imports would queue for the two cores and set them off up to a second apart.
    """
    out.send(asyncio.run(run_one("aiokms", url, workers, seconds, start_at)))


# --- the cases ------------------------------------------------------------------------------


def single(url: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    asyncio.run(server_stats(url))  # reset the server's counts
    result = asyncio.run(run_one(name, url, args.workers, args.seconds))
    served = asyncio.run(server_stats(url))
    requests = served["ok"] + served["throttled"]
    return {
        "client": name,
        "goodput": result["ok"] / result["seconds"],
        "goodput_share": result["ok"] / result["seconds"] / args.quota,
        "throttled_share": served["throttled"] / requests if requests else 0.0,
        "requests": requests,
        "failed": result["failed"],
        "errors": result["errors"],
    }


def fleet(url: str, args: argparse.Namespace) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    asyncio.run(server_stats(url))
    start_at = time.time() + 2.0  # every process starts together, after its imports
    pipes, processes = [], []
    for _ in range(args.fleet):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=fleet_member,
            args=(url, args.fleet_workers, args.seconds, start_at, send),
            daemon=True,
        )
        process.start()
        pipes.append(receive)
        processes.append(process)
    try:
        results = [pipe.recv() for pipe in pipes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    served = asyncio.run(server_stats(url))
    requests = served["ok"] + served["throttled"]
    goodputs = [r["ok"] / r["seconds"] for r in results]
    fair = max(sum(goodputs), 1e-9) / args.fleet  # an equal division of the fleet's goodput
    return {
        "processes": args.fleet,
        "goodput": sum(goodputs),
        "goodput_share": sum(goodputs) / args.quota,
        "fair_share_ratios": [g / fair for g in goodputs],
        "throttled_share": served["throttled"] / requests if requests else 0.0,
        "failed": sum(r["failed"] for r in results),
        "errors": [r["errors"] for r in results if r["errors"]],
    }


def quota_share(served: dict[str, Any], quota: str, operation: str) -> tuple[int, int]:
    """(requests, throttles) of ``operation`` metered against ``quota`` in ``served``."""
    throttled = served["quota_throttles"].get(quota, 0)
    return served["operations"].get(operation, 0) + throttled, throttled


def mixed(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """64 callers of GenerateDataKey and 8 of DescribeKey, each against its own quota."""
    quotas = {SYMMETRIC: args.quota, "DescribeKey": args.describe_quota}
    workloads = {"GenerateDataKey": (generate, 64), "DescribeKey": (describe, 8)}
    with local_kms(quotas) as (url, stats_url):
        run = asyncio.run(drive_client(name, url, stats_url, workloads, args.seconds))
    end = run["server"]["end"]
    report: dict[str, Any] = {"client": name, "limiter_rates": run["limiter_rates"]}
    for operation, quota, rate in (
        ("GenerateDataKey", SYMMETRIC, args.quota),
        ("DescribeKey", "DescribeKey", args.describe_quota),
    ):
        result = run["operations"][operation]
        requests, throttled = quota_share(end, quota, operation)
        report[operation] = {
            "quota": rate,
            "goodput": result["ok"] / result["seconds"],
            "goodput_share": result["ok"] / result["seconds"] / rate,
            "throttled_share": throttled / requests if requests else 0.0,
            "failed": result["failed"],
            "errors": result["errors"],
        }
    return report


def small(name: str, quota: float, args: argparse.Namespace) -> dict[str, Any]:
    """64 callers of DescribeKey against a small quota of its own."""
    workloads = {"DescribeKey": (describe, 64)}
    with local_kms({"DescribeKey": quota}) as (url, stats_url):
        run = asyncio.run(drive_client(name, url, stats_url, workloads, args.seconds))
    result = run["operations"]["DescribeKey"]
    counts = {
        mark: quota_share(run["server"][mark], "DescribeKey", "DescribeKey")
        for mark in ("start", "settled", "end")
    }
    requests = counts["end"][0] - counts["start"][0]
    late_requests = counts["end"][0] - counts["settled"][0]
    return {
        "client": name,
        "quota": quota,
        "goodput": result["ok"] / result["seconds"],
        "goodput_share": result["ok"] / result["seconds"] / quota,
        "seconds": result["seconds"],
        "throttled_share": (counts["end"][1] - counts["start"][1]) / max(requests, 1),
        "late_throttled_share": (counts["end"][1] - counts["settled"][1]) / max(late_requests, 1),
        "failed": result["failed"],
        "errors": result["errors"],
        "limiter_rates": run["limiter_rates"],
    }


# --- the run --------------------------------------------------------------------------------

CASES = ("single", "fleet", "mixed", "small")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quota", type=float, default=400.0, help="requests/s (default 400)")
    parser.add_argument("--burst", type=float, default=None, help="bucket size (default quota/10)")
    parser.add_argument("--workers", type=int, default=64, help="concurrent callers (64)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run (10)")
    parser.add_argument("--clients", default="aiokms,aiobotocore", help="comma list")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {CASES}")
    parser.add_argument("--fleet", type=int, default=4, help="processes in the fleet (4)")
    parser.add_argument("--fleet-workers", type=int, default=16, help="callers per process")
    parser.add_argument(
        "--describe-quota", type=float, default=10.0, help="mixed: DescribeKey's quota (10)"
    )
    parser.add_argument(
        "--small-quotas", default="5,10,20,100", help="small: DescribeKey quotas, comma list"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    burst = args.burst if args.burst is not None else args.quota / 10
    cases = [case for case in args.cases.split(",") if case]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"--cases: unknown {sorted(unknown)}; choose from {CASES}")
    clients = [name for name in args.clients.split(",") if name]

    report: dict[str, Any] = {"quota": args.quota, "burst": burst, "seconds": args.seconds}
    if "single" in cases or "fleet" in cases:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        server = context.Process(target=serve, args=(args.quota, burst, send), daemon=True)
        server.start()
        try:
            url = f"http://127.0.0.1:{receive.recv()}"
            if "single" in cases:
                report["singles"] = [single(url, name, args) for name in clients]
            if "fleet" in cases and args.fleet:
                report["fleet"] = fleet(url, args)
        finally:
            server.terminate()
            server.join(timeout=5)
    if "mixed" in cases:
        report["mixed"] = [mixed(name, args) for name in clients]
    if "small" in cases:
        quotas = [float(q) for q in args.small_quotas.split(",") if q]
        report["small"] = [small(name, quota, args) for quota in quotas for name in clients]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, args)
    return 0


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    def errors(r: dict[str, Any]) -> str:
        return f"  errors: {r['errors']}" if r["errors"] else ""

    if "singles" in report:
        print(
            f"single: quota {args.quota:.0f}/s, burst {report['burst']:.0f}, "
            f"{args.workers} workers, {args.seconds} s"
        )
        print(f"{'client':<12} {'goodput/s':>10} {'of quota':>9} {'throttled':>10} {'failed':>7}")
        for r in report["singles"]:
            print(
                f"{r['client']:<12} {r['goodput']:>10.1f} {r['goodput_share']:>9.1%} "
                f"{r['throttled_share']:>10.1%} {r['failed']:>7}{errors(r)}"
            )
    if report.get("fleet"):
        f = report["fleet"]
        shares = ", ".join(f"{x:.2f}" for x in f["fair_share_ratios"])
        print(
            f"fleet of {f['processes']}: goodput {f['goodput']:.1f}/s "
            f"({f['goodput_share']:.1%} of quota), throttled {f['throttled_share']:.1%}, "
            f"failed {f['failed']}, per-process share of fair: {shares}"
        )
        for errs in f["errors"]:
            print(f"  errors in one process: {errs}")
    if "mixed" in report:
        print(
            f"mixed (LocalKMS): 64 x GenerateDataKey at {args.quota:.0f}/s, "
            f"8 x DescribeKey at {args.describe_quota:.0f}/s, {args.seconds} s"
        )
        print(
            f"{'client':<12} {'operation':<16} {'goodput/s':>10} {'of quota':>9} "
            f"{'throttled':>10} {'failed':>7}"
        )
        for r in report["mixed"]:
            for operation in ("GenerateDataKey", "DescribeKey"):
                o = r[operation]
                print(
                    f"{r['client']:<12} {operation:<16} {o['goodput']:>10.1f} "
                    f"{o['goodput_share']:>9.1%} {o['throttled_share']:>10.1%} "
                    f"{o['failed']:>7}{errors(o)}"
                )
    if "small" in report:
        print(f"small quotas (LocalKMS): 64 x DescribeKey, {args.seconds} s")
        print(
            f"{'client':<12} {'quota':>6} {'goodput/s':>10} {'of quota':>9} {'throttled':>10} "
            f"{'after 2 s':>10} {'failed':>7}"
        )
        for r in report["small"]:
            print(
                f"{r['client']:<12} {r['quota']:>6.0f} {r['goodput']:>10.1f} "
                f"{r['goodput_share']:>9.1%} {r['throttled_share']:>10.1%} "
                f"{r['late_throttled_share']:>10.1%} {r['failed']:>7}{errors(r)}"
            )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
