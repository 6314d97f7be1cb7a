"""A load test: more demand than the KMS quota allows, and how the client copes.

The local KMS admits ``--rate-limit`` cryptographic requests per second, as KMS's account quota
does, and throttles the rest. ``--concurrency`` tasks call GenerateDataKey as fast as they can
for ``--duration`` seconds. With ``retry_mode="adaptive"`` (the default) the client's own rate
limiter turns on at the first throttle and settles near the quota, so few calls are throttled
and almost none fail; ``--retry-mode standard`` shows the difference (more throttles, more
retries, more failures).

Run it with one command (it starts its own local KMS and stops by itself)::

    python examples/load_test.py
    python examples/load_test.py --rate-limit 500 --concurrency 128 --retry-mode standard

Each second it prints the calls that succeeded, the throttles and the limiter's rate; at the end
a summary with latency percentiles. For a fuller tool, see ``aiokms bench --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

import aiokms
import aiokms.emulator


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values (0.0 when empty)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def main(args: argparse.Namespace) -> None:
    """Start the local KMS, run the load, print per-second lines and a summary."""
    async with (
        aiokms.emulator.LocalKMS(rate_limit=args.rate_limit, aliases=["alias/load"]) as local,
        aiokms.KMSClient(
            endpoint_url=local.endpoint_url,
            region_name=local.region,
            credentials=local.credentials,
            retry_mode=args.retry_mode,
            max_connections=args.concurrency,
        ) as kms,
    ):
        latencies: list[float] = []
        failures: Counter[str] = Counter()
        deadline = time.monotonic() + args.duration

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    await kms.generate_data_key(KeyId="alias/load", KeySpec="AES_256")
                except kms.exceptions.ClientError as exc:
                    failures[exc.response["Error"]["Code"]] += 1
                else:
                    latencies.append(time.perf_counter() - started)

        async def report() -> None:
            done, throttles, second = 0, 0, 0
            while True:
                await asyncio.sleep(1.0)
                second += 1
                stats = kms.stats()
                rate = "off" if stats.limiter_rate is None else f"{stats.limiter_rate:,.0f}/s"
                print(
                    f"{second:>3} s  ok {len(latencies) - done:>6,}  "
                    f"throttled {stats.throttles - throttles:>5,}  limiter {rate}"
                )
                done, throttles = len(latencies), stats.throttles

        reporter = asyncio.ensure_future(report())
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
        reporter.cancel()

        stats = kms.stats()
        ordered = sorted(latencies)
        slowest = ordered[-1] if ordered else 0.0
        print(
            f"\n{len(ordered):,} data keys in {elapsed:.1f} s: {len(ordered) / elapsed:,.0f}/s "
            f"against a quota of {args.rate_limit:,.0f}/s ({args.retry_mode} retry mode)"
        )
        print(
            f"latency ms: p50 {percentile(ordered, 0.5) * 1e3:.1f}  "
            f"p99 {percentile(ordered, 0.99) * 1e3:.1f}  max {slowest * 1e3:.1f}"
        )
        print(
            f"requests {stats.requests:,}, throttled {stats.throttles:,}, "
            f"retries {stats.retries:,}, failed calls {sum(failures.values()):,}"
            + (f" {dict(failures)}" if failures else "")
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds (5)")
    parser.add_argument("--concurrency", type=int, default=64, help="tasks (64)")
    parser.add_argument("--rate-limit", type=float, default=200.0, help="KMS quota/s (200)")
    parser.add_argument("--retry-mode", choices=("adaptive", "standard"), default="adaptive")
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(130)
