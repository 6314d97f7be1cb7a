"""Adaptive retry mode against a throttling KMS: goodput, throttled share, failed calls.

What it measures: a canned-reply KMS on 127.0.0.1 (its own process, pinned to the second core)
enforces a token-bucket quota of ``--quota`` requests/s (burst ``--burst``) and answers every
request over it with ``ThrottlingException`` (HTTP 400), as KMS does. Against it:

1. ``aiokms`` and ``aiobotocore``, both in adaptive retry mode with 3 attempts, each run by
   ``--workers`` coroutines calling ``GenerateDataKey`` in a loop for ``--seconds``, one after
   the other in the same run. Reported: goodput (successful calls/s and as a share of the
   quota), the share of requests that were throttled, and calls that failed.
2. The fleet: ``--fleet`` aiokms client processes at once against the one quota, each with
   its own limiter and no coordination, as the processes of one account share a regional KMS
   quota. Reported: aggregate goodput and each process's share of a fair share.

Targets (issue "Resilience"): goodput >= 90% of the quota, throttled <= 10% of requests, no
failed calls; the fleet >= 90% of the quota with every process within 25% of a fair share.

Run from the repository root::

    python benchmarks/throttling.py                 # quota 400/s, 64 workers, 10 s each
    python benchmarks/throttling.py --quota 200 --seconds 5 --json
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
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


async def server_stats(url: str) -> dict[str, int]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as response:
        result: dict[str, int] = await response.json()
        return result


# --- clients --------------------------------------------------------------------------------


Call = Callable[[], Awaitable[Any]]


async def drive(call: Call, workers: int, seconds: float) -> dict[str, Any]:
    """Call ``call`` from ``workers`` loops for ``seconds``; count successes and failures."""
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


async def run_aiokms(
    url: str, workers: int, seconds: float, start_at: float | None = None
) -> dict[str, Any]:
    """Drive aiokms; with ``start_at`` (a ``time.time()``), import and set up first, then wait."""
    import aiokms

    async with aiokms.KMSClient(
        region_name=REGION,
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, SECRET_KEY),
        retry_mode="adaptive",
        max_attempts=3,
        max_connections=workers,
    ) as kms:
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
        result = await drive(
            lambda: kms.generate_data_key(KeyId=KEY_ID, KeySpec="AES_256"), workers, seconds
        )
        result["limiter_rate"] = kms.stats().limiter_rate
        return result


async def run_aiobotocore(url: str, workers: int, seconds: float) -> dict[str, Any]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        retries={"mode": "adaptive", "max_attempts": 3}, max_pool_connections=workers
    )
    async with get_session().create_client(
        "kms",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=config,
    ) as kms:
        return await drive(
            lambda: kms.generate_data_key(KeyId=KEY_ID, KeySpec="AES_256"), workers, seconds
        )


CLIENTS = {"aiokms": run_aiokms, "aiobotocore": run_aiobotocore}


def fleet_member(url: str, workers: int, seconds: float, start_at: float, out: Any) -> None:
    """One process of the fleet: set up, wait for the common start, then drive aiokms.

    Importing aiokms takes a fifth of a second of CPU; done after the start, the processes'
    imports would queue for the two cores and set them off up to a second apart.
    """
    out.send(asyncio.run(run_aiokms(url, workers, seconds, start_at)))


# --- the run --------------------------------------------------------------------------------


def single(url: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    asyncio.run(server_stats(url))  # reset the server's counts
    result = asyncio.run(CLIENTS[name](url, args.workers, args.seconds))
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
    fair = args.quota / args.fleet
    return {
        "processes": args.fleet,
        "goodput": sum(goodputs),
        "goodput_share": sum(goodputs) / args.quota,
        "fair_share_ratios": [g / fair for g in goodputs],
        "throttled_share": served["throttled"] / requests if requests else 0.0,
        "failed": sum(r["failed"] for r in results),
        "errors": [r["errors"] for r in results if r["errors"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quota", type=float, default=400.0, help="requests/s (default 400)")
    parser.add_argument("--burst", type=float, default=None, help="bucket size (default quota/10)")
    parser.add_argument("--workers", type=int, default=64, help="concurrent callers (64)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run (10)")
    parser.add_argument("--clients", default="aiokms,aiobotocore", help="comma list")
    parser.add_argument("--fleet", type=int, default=4, help="processes in the fleet (4; 0 = skip)")
    parser.add_argument("--fleet-workers", type=int, default=16, help="callers per process")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    burst = args.burst if args.burst is not None else args.quota / 10

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(target=serve, args=(args.quota, burst, send), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{receive.recv()}"
        singles = [single(url, name, args) for name in args.clients.split(",") if name]
        fleet_result = fleet(url, args) if args.fleet else None
    finally:
        server.terminate()
        server.join(timeout=5)

    report = {"quota": args.quota, "burst": burst, "singles": singles, "fleet": fleet_result}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"quota {args.quota:.0f}/s, burst {burst:.0f}, {args.workers} workers, {args.seconds} s")
    print(f"{'client':<12} {'goodput/s':>10} {'of quota':>9} {'throttled':>10} {'failed':>7}")
    for r in singles:
        print(
            f"{r['client']:<12} {r['goodput']:>10.1f} {r['goodput_share']:>9.1%} "
            f"{r['throttled_share']:>10.1%} {r['failed']:>7}"
        )
        if r["errors"]:
            print(f"  errors: {r['errors']}")
    if fleet_result:
        shares = ", ".join(f"{x:.2f}" for x in fleet_result["fair_share_ratios"])
        print(
            f"fleet of {fleet_result['processes']}: goodput {fleet_result['goodput']:.1f}/s "
            f"({fleet_result['goodput_share']:.1%} of quota), throttled "
            f"{fleet_result['throttled_share']:.1%}, failed {fleet_result['failed']}, "
            f"per-process share of fair: {shares}"
        )
        for errors in fleet_result["errors"]:
            print(f"  errors in one process: {errors}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
