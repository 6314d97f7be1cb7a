"""``aiokms bench``'s load (``aiokms.cli.bench._load``), on an injected clock or virtual time:
who runs when, what is measured, when the run ends."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from aiokms.cli.bench import _load, _measure
from tests import virtual_time
from tests.helpers import FrozenClock


def load_args(**overrides: Any) -> argparse.Namespace:
    """The load settings ``_load.Load`` reads, as the parser makes them."""
    values = {"duration": None, "requests": None, "rate": None, "concurrency": 1, "ramp_up": None}
    return argparse.Namespace(**{**values, **overrides})


async def test_operations_that_never_wait_take_turns() -> None:
    """A cache hit never waits: the workers still take turns, and each operation is measured
    from its own start (not from when the worker before it let go of the loop)."""
    clock = FrozenClock(0.0)
    filled = asyncio.Event()
    workers: set[asyncio.Task[Any] | None] = set()
    seen: list[int] = []

    async def operation(i: int) -> None:
        workers.add(asyncio.current_task())
        if i == 0:  # the miss: one call, the others wait for it
            await asyncio.sleep(0)
            clock.advance(0.010)
            filled.set()
        elif not filled.is_set():
            await filled.wait()
        clock.advance(0.001)  # a hit: work without a wait

    load = _load.Load(load_args(requests=40, concurrency=4), operation, clock=clock)

    async def watch() -> None:  # what the progress display does: look while the load runs
        while True:
            seen.append(load.recorder.completed)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        await load.run()
    finally:
        watcher.cancel()
    assert len(workers) == 4
    assert load.recorder.completed == 40
    assert max(load.recorder.latencies) < 0.015  # the miss and one hit, never a queue of hits
    assert any(5 < completed < 35 for completed in seen)  # the display saw the load move


async def test_elapsed_ends_at_the_duration_and_the_drain_is_reported_apart() -> None:
    clock = FrozenClock(0.0)

    async def operation(i: int) -> None:
        await asyncio.sleep(0)
        clock.advance(0.4)

    load = _load.Load(load_args(duration=1.0), operation, clock=clock)
    elapsed = await load.run()
    assert elapsed == 1.0  # starts at 0, 0.4, 0.8; the last ends at 1.2, in the drain
    report = _measure.summarize(load.recorder, elapsed, settings={}, kms={}, cache=None)
    assert report["elapsed_s"] == 1.0 and report["drain_s"] == pytest.approx(0.2)
    assert report["operations"]["succeeded"] == 3
    assert report["throughput_ops_s"] == 2.0  # the two that ended in the run


def test_open_loop_arrivals_ramp_up_linearly() -> None:
    assert [_load.arrival(n, 10.0) for n in (0, 1, 10)] == [0.0, 0.1, 1.0]
    # 10/s reached after 2 s: 10 arrivals during the climb, then one every 0.1 s
    assert _load.arrival(0, 10.0, 2.0) == 0.0
    assert _load.arrival(5, 10.0, 2.0) == pytest.approx(2**0.5)  # t**2 * 10 / 4 = 5
    assert [_load.arrival(n, 10.0, 2.0) for n in (10, 11, 20)] == pytest.approx([2.0, 2.1, 3.0])


def test_closed_loop_workers_start_over_the_ramp_up() -> None:
    starts: dict[asyncio.Task[Any] | None, float] = {}

    async def main() -> float:
        clock = asyncio.get_running_loop().time

        async def operation(i: int) -> None:
            starts.setdefault(asyncio.current_task(), clock())
            await asyncio.sleep(0.1)

        args = load_args(concurrency=4, duration=2.0, ramp_up=1.0)
        load = _load.Load(args, operation, clock=clock)
        return await load.run()

    assert virtual_time.run(main()) == 2.0
    first = sorted(starts.values())
    assert [start - first[0] for start in first] == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_the_clients_counters_are_read_during_the_run_and_add_up() -> None:
    """The timeline's KMS requests, throttles and retries are the growth of the client's
    counters, placed when read; a last reading after the run makes them add up to its totals."""
    counters = [100, 7, 3]  # before the run: not counted

    async def main() -> tuple[float, _load.Load]:
        async def operation(i: int) -> None:
            await asyncio.sleep(0.02)
            counters[0] += 2  # a throttle, then the retry that succeeds
            counters[1] += 1
            counters[2] += 1

        load = _load.Load(
            load_args(requests=30),
            operation,
            clock=asyncio.get_running_loop().time,
            kms_counts=lambda: (counters[0], counters[1], counters[2]),
        )
        return await load.run(), load

    elapsed, load = virtual_time.run(main())
    assert elapsed == pytest.approx(0.6)
    samples = load.recorder.kms
    # read every 50 ms while the run went on (2 or 3 operations each), and once at the end
    assert len(samples) >= 12 and all(s[1] <= 6 for s in samples)
    assert [sum(s[k] for s in samples) for k in (1, 2, 3)] == [60, 30, 30]
    assert all(0 < s[0] <= elapsed for s in samples)
