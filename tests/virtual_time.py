"""An event loop on virtual time, and a load driven on it: seconds of a load in milliseconds.

For a real client against a real server (LocalKMS) over 127.0.0.1 where what is tested
unfolds over seconds: limiters finding a quota, backoffs, callers queueing. The loop's clock
(:meth:`VirtualTimeLoop.time`) moves only when the loop has nothing to do: where it would
wait for its next timer and no socket is ready, the clock jumps to that timer. Give the
client ``clock=loop.time`` and LocalKMS ``monotonic=loop.time``: their deadlines, limiters,
token buckets and every ``asyncio.sleep`` then keep the one virtual time, and a run gives the
same counts whatever the machine's load.

Work takes no virtual time; a server's ``latency=`` and ``jitter=`` give requests their round
trips. Nothing is lost between two looks at the sockets: on 127.0.0.1 what one end writes is
readable at the other when the write returns (Linux), so a request sent is seen at the loop's
next look. (Were it ever not, the clock would move on to the next timer first: the request
would arrive late in virtual time, never be lost.)
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiokms
from aiokms.emulator import LocalKMS

T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock jumps to the next timer whenever nothing is ready."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0
        selector: selectors.BaseSelector = self._selector  # type: ignore[attr-defined]
        select = selector.select

        def select_at_once(timeout: float | None = None) -> list[Any]:
            events = select(0)
            if events or timeout == 0:
                return events
            if timeout is None:  # no timer at all: only a socket can wake the loop
                return select(None)
            self._now += timeout  # nothing to do until the next timer: it is due now
            return []

        selector.select = select_at_once  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a fresh :class:`VirtualTimeLoop`; return its result."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


@dataclass
class Load:
    """What ``callers`` callers calling one operation in a loop met (see :func:`load`)."""

    ok: int = 0
    ok_late: int = 0  # successes after the first ``settle`` seconds
    failed: Counter[str] = field(default_factory=Counter)  # by error code or class


async def load(
    call: Callable[[], Awaitable[object]], callers: int, seconds: float, settle: float = 2.0
) -> Load:
    """``callers`` callers calling ``call`` one after another until ``seconds`` have passed
    on the running loop's clock (calls under way then are waited for)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = Load()

    async def caller() -> None:
        while loop.time() - start < seconds:
            try:
                await call()
            except Exception as error:  # every failure is counted, whatever it is
                code = getattr(error, "response", {}).get("Error", {}).get("Code")
                result.failed[code or type(error).__name__] += 1
            else:
                result.ok += 1
                result.ok_late += loop.time() - start >= settle

    await asyncio.gather(*(caller() for _ in range(callers)))
    return result


async def stats_at(kms: aiokms.KMSClient, seconds: float) -> aiokms.ClientStats:
    """``kms.stats()`` once ``seconds`` have passed on the running loop's clock."""
    await asyncio.sleep(seconds)
    return kms.stats()


def local_kms(quotas: dict[str, float], seed: int) -> LocalKMS:
    """LocalKMS metering ``quotas`` on the running loop's clock, 1-4 ms round trips."""
    loop = asyncio.get_running_loop()
    return LocalKMS(quotas=quotas, monotonic=loop.time, latency=0.001, jitter=0.003, seed=seed)


def client_of_local(local: LocalKMS, seed: int, **options: Any) -> aiokms.KMSClient:
    """A client of ``local`` with the defaults (adaptive, 3 attempts) on the loop's clock."""
    return aiokms.KMSClient(
        region_name=local.region,
        endpoint_url=local.endpoint_url,
        credentials=local.credentials,
        clock=asyncio.get_running_loop().time,
        _random=random.Random(seed).random,
        **options,
    )


async def describing(
    quota: float, callers: int, seed: int, seconds: float = 10.0
) -> tuple[Load, aiokms.ClientStats, aiokms.ClientStats]:
    """``callers`` callers of DescribeKey against its quota of ``quota``/s for ``seconds``:
    their load, and the client's stats after the first 2 s and at the end."""
    async with (
        local_kms({"DescribeKey": quota}, seed) as local,
        client_of_local(local, seed) as kms,
    ):
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        result, settled = await asyncio.gather(
            load(lambda: kms.describe_key(KeyId=key_id), callers, seconds),
            stats_at(kms, 2.0),
        )
        return result, settled, kms.stats()
