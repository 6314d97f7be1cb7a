"""The load: workers that run the operation and record it, in a closed or an open loop.

Closed loop (default): ``--concurrency`` workers each start the next operation as soon as
their last one ends; latency is from start to end. Open loop (``--rate``): arrivals are
scheduled at fixed times whatever happens, and the workers serve them in order; latency is from
the *scheduled* time, so time spent queueing behind a slow server is counted instead of hidden
(no coordinated omission), and arrivals not started by the end of ``--duration`` are counted
as missed. ``--ramp-up`` starts the workers one by one (closed) or climbs the rate (open).

The run stops by itself at ``--duration`` or after ``--requests`` operations, then waits a
bounded grace period for operations in flight (the drain, reported apart from the elapsed
time); SIGINT stops it early and keeps what was measured. Each worker yields to the event loop
after every operation, so operations that never wait (cache hits) take turns. Meanwhile the
client's counters (KMS requests, throttles, retries) are read every 50 ms, the narrowest
timeline bucket, and once more when the run is over: the timeline places each one's growth at
the reading that saw it, and its buckets add up to the run's totals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import signal
import time
from collections.abc import Callable, Iterator

from botocore import exceptions as boto

from aiokms.cli.bench._measure import Recorder, error_code
from aiokms.cli.bench._operations import Operation

__all__ = ["KMSCounts", "Load", "arrival", "on_sigint"]

_GRACE = 10.0  # the most seconds to wait for operations in flight after the end
_READ_EVERY = 0.05  # seconds between readings of the client's counters

KMSCounts = Callable[[], tuple[int, int, int]]
"""Reads the client's KMS requests, throttles and retries so far (its ``stats()``)."""


def arrival(n: int, rate: float, ramp_up: float = 0.0) -> float:
    """When the open loop's ``n``-th arrival (from 0) is due, in seconds from the start.

    The rate climbs linearly from 0 to ``rate`` over ``ramp_up`` seconds, then holds: the
    arrivals due by ``t`` are ``rate * t**2 / (2 * ramp_up)`` during the climb.
    """
    climbing = rate * ramp_up / 2  # arrivals during the climb
    if n < climbing:
        return math.sqrt(2 * ramp_up * n / rate)
    return ramp_up + (n - climbing) / rate


_FATAL = (
    boto.NoCredentialsError,
    boto.PartialCredentialsError,
    boto.NoRegionError,
    boto.ParamValidationError,
    TypeError,
    ValueError,
)


class Load:
    """Runs the operations and records them; stops by itself, or early on :meth:`interrupt`.

    ``clock`` is read for every start and end (``time.perf_counter``); times are offsets from
    the start of the run. ``kms_counts``, when given, is read during the run for the timeline's
    KMS requests, throttles and retries.
    """

    def __init__(
        self,
        args: argparse.Namespace,
        operation: Operation,
        *,
        clock: Callable[[], float] = time.perf_counter,
        kms_counts: KMSCounts | None = None,
    ) -> None:
        self.args = args
        self.operation = operation
        self.clock = clock
        self.kms_counts = kms_counts
        self._counted = (0, 0, 0)
        self.recorder = Recorder()
        self.started = 0
        self.t0 = 0.0
        self.last_end = 0.0
        self.interrupted_at: float | None = None
        self.fatal: BaseException | None = None
        self._counter = itertools.count()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def deadline(self) -> float:
        duration: float | None = self.args.duration
        return math.inf if duration is None else duration

    def now(self) -> float:
        """Seconds since the start of the run."""
        return self.clock() - self.t0

    def interrupt(self) -> None:
        """Stop now: start nothing more, cancel what is in flight, keep what was measured."""
        if self.interrupted_at is not None:
            return
        self.interrupted_at = self.now()
        for task in self._tasks:
            task.cancel()

    def _more(self, now: float) -> bool:
        requests: int | None = self.args.requests
        return (
            self.interrupted_at is None
            and now < self.deadline
            and (requests is None or self.started < requests)
        )

    async def _one(self, scheduled: float) -> None:
        i = next(self._counter)
        try:
            await self.operation(i)
        except _FATAL as exc:
            if self.fatal is None:
                self.fatal = exc
            raise
        except Exception as exc:
            end = self.now()
            self.recorder.failure(end, error_code(exc))
        else:
            end = self.now()
            self.recorder.success(end, end - scheduled)
        self.last_end = max(self.last_end, end)
        # An operation that never waits (an envelope operation served from the cache) would
        # otherwise keep the loop: the other workers would start only when it stops, and
        # their first operations would be measured as lasting the whole run.
        await asyncio.sleep(0)

    @property
    def ramp_up(self) -> float:
        ramp_up: float | None = self.args.ramp_up
        return ramp_up or 0.0

    async def _sleep_until(self, offset: float) -> None:
        delay = offset - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _closed_worker(self, number: int) -> None:
        await self._sleep_until(number * self.ramp_up / self.args.concurrency)
        while self._more(self.now()):
            self.started += 1
            await self._one(self.now())

    async def _open_worker(self, queue: asyncio.Queue[float | None]) -> None:
        while (scheduled := await queue.get()) is not None:
            if self.now() >= self.deadline:
                self.recorder.missed += 1  # not started in time: arrivals after the end
                continue
            self.started += 1
            await self._one(scheduled)

    async def _dispatch(self, queue: asyncio.Queue[float | None], rate: float) -> None:
        requests: int | None = self.args.requests
        for n in itertools.count():
            scheduled = arrival(n, rate, self.ramp_up)
            if scheduled >= self.deadline or (requests is not None and n >= requests):
                break
            await self._sleep_until(scheduled)
            queue.put_nowait(scheduled)
        for _ in range(self.args.concurrency):
            queue.put_nowait(None)

    async def run(self) -> float:
        """Run the load; returns the elapsed seconds.

        The run ends at ``--duration``, at an interrupt, or when its last operation ends,
        whichever comes first: operations still in flight at the end are waited for (up to a
        grace period) and recorded, but that drain is not part of the elapsed time.
        """
        self.t0 = self.clock()
        reader = None
        if self.kms_counts is not None:
            self._counted = self.kms_counts()
            reader = asyncio.create_task(self._read_kms_counts())
        if self.args.rate is None:
            self._tasks = [
                asyncio.create_task(self._closed_worker(k)) for k in range(self.args.concurrency)
            ]
        else:
            queue: asyncio.Queue[float | None] = asyncio.Queue()
            self._tasks = [
                asyncio.create_task(self._open_worker(queue)) for _ in range(self.args.concurrency)
            ]
            self._tasks.append(asyncio.create_task(self._dispatch(queue, self.args.rate)))
        try:
            await self._wait(self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                self._count_kms()  # what the last operations added: the totals are whole
        if self.fatal is not None:
            raise self.fatal
        finished = self.now()
        if self.interrupted_at is not None:
            return self.interrupted_at
        return min(finished, self.deadline)

    async def _read_kms_counts(self) -> None:
        while True:
            await asyncio.sleep(_READ_EVERY)
            self._count_kms()

    def _count_kms(self) -> None:
        assert self.kms_counts is not None
        now = self.kms_counts()
        before, self._counted = self._counted, now
        requests, throttles, retries = (n - b for n, b in zip(now, before, strict=True))
        self.recorder.kms_counts(self.now(), requests, throttles, retries)

    async def _wait(self, tasks: list[asyncio.Task[None]]) -> None:
        pending = set(tasks)
        while pending:
            now = self.now()
            timeout = None if math.isinf(self.deadline) else self.deadline + _GRACE - now
            if timeout is not None and timeout <= 0:
                return  # still running after the grace period: cancelled by the caller
            done, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION
            )
            if any(not t.cancelled() and t.exception() is not None for t in done):
                return


@contextlib.contextmanager
def on_sigint(handler: Callable[[], None]) -> Iterator[None]:
    """While in this block, SIGINT (Ctrl-C) calls ``handler`` (for the load:
    :meth:`Load.interrupt`, which stops it and keeps what was measured); a SIGINT after it,
    once the handler is gone, interrupts as usual."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError):  # Windows; not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
