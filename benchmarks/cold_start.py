"""Cold start: import + client + first call, aiokms vs aiobotocore, each in a fresh process.

What it measures: what a serverless function (AWS Lambda) pays on every cold start before its
first KMS answer. Each run is a fresh Python process that times, from its first line: importing
the library, building a client, and its first ``GenerateDataKey`` (credentials and region from
the environment, as Lambda gives them; the first call includes starting the event loop). The
interpreter's own start-up, the same for both, is not counted; the process's whole wall time,
spawn to exit, is reported beside, and the CPU time of the part measured (on a shared machine
the steadier figure).

How: this script starts a ``LocalKMS`` (signature checks on) in its own process and runs the
children against it, alternating the contenders (aiokms, aiobotocore, aiokms, ...), ``--runs``
each. Shared config and credential files are pointed at nothing and IMDS is off, the same for
both. The children import this checkout's aiokms. The summary gives the median (min-max) of
each phase in milliseconds and the ratio of the totals.

    python benchmarks/cold_start.py
    python benchmarks/cold_start.py --runs 30 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiokms.emulator import LocalKMS  # noqa: E402 -- after the checkout is on sys.path

CONTENDERS = ("aiokms", "aiobotocore")
PHASES = ("import", "client", "first_call", "total", "cpu")
KEY = "alias/cold-start"

# Each child prints one JSON line of seconds since its first line.
_CHILD = """
import time
start, start_cpu = time.perf_counter(), time.process_time()
import asyncio, json, os
{import_}
imported = time.perf_counter()

async def main():
    async with {client} as kms:
        made = time.perf_counter()
        reply = await kms.generate_data_key(KeyId=os.environ["BENCH_KEY"], KeySpec="AES_256")
        assert len(reply["Plaintext"]) == 32
        return made, time.perf_counter()

made, answered = asyncio.run(main())
cpu = time.process_time() - start_cpu
print(json.dumps([imported - start, made - start, answered - start, cpu]))
"""
_PROGRAMS = {
    "aiokms": _CHILD.format(
        import_="import aiokms",
        client='aiokms.KMSClient(endpoint_url=os.environ["BENCH_ENDPOINT"])',
    ),
    "aiobotocore": _CHILD.format(
        import_="from aiobotocore.session import get_session",
        client='get_session().create_client("kms", endpoint_url=os.environ["BENCH_ENDPOINT"])',
    ),
}


async def _run_child(name: str, env: dict[str, str]) -> dict[str, float]:
    spawned = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PROGRAMS[name],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    wall = time.perf_counter() - spawned
    if proc.returncode != 0:
        raise RuntimeError(f"{name} child failed:\n{err.decode()}")
    imported, made, answered, cpu = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "import": imported * 1000,
        "client": (made - imported) * 1000,
        "first_call": (answered - made) * 1000,
        "total": answered * 1000,
        "cpu": cpu * 1000,
        "process": wall * 1000,
    }


async def measure(runs: int) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    async with LocalKMS(aliases=[KEY]) as local:
        credentials = local.credentials
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            "AWS_REGION": local.region,  # Lambda sets both; botocore reads the second
            "AWS_DEFAULT_REGION": local.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "BENCH_ENDPOINT": local.endpoint_url,
            "BENCH_KEY": KEY,
        }
        for name in CONTENDERS:  # once each, untimed: the OS's file cache warm for both
            await _run_child(name, env)
        for _ in range(runs):
            for name in CONTENDERS:
                results[name].append(await _run_child(name, env))
    return results


def summarize(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, rows in results.items():
        summary[name] = {
            phase: {
                "median": statistics.median(row[phase] for row in rows),
                "min": min(row[phase] for row in rows),
                "max": max(row[phase] for row in rows),
            }
            for phase in (*PHASES, "process")
        }
    for phase in ("total", "cpu"):
        ours, theirs = summary["aiokms"][phase]["median"], summary["aiobotocore"][phase]["median"]
        summary[f"ratio_{phase}"] = ours / theirs
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per contender")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    summary = summarize(asyncio.run(measure(args.runs)))
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{args.runs} fresh processes each, alternating; ms, median (min-max)")
    print(f"{'':12}" + "".join(f"{phase:>22}" for phase in (*PHASES, "process")))
    for name in CONTENDERS:
        cells = [summary[name][phase] for phase in (*PHASES, "process")]
        print(
            f"{name:12}"
            + "".join(
                f"{c['median']:>8.0f} ({c['min']:.0f}-{c['max']:.0f})".rjust(22) for c in cells
            )
        )
    print(
        f"aiokms / aiobotocore, import + client + first call: {summary['ratio_total']:.2f}x "
        f"wall, {summary['ratio_cpu']:.2f}x CPU"
    )


if __name__ == "__main__":
    main()
