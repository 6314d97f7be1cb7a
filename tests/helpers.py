"""Small helpers the client's tests share: a clock that stands still, waiting for a condition
(never longer than :data:`BOUND`), a client's idle state, a quota's limiter, the modules a
file imports."""

from __future__ import annotations

import ast
import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiokms
from aiokms._ratelimit import RateLimiter

BOUND = 20.0  # seconds: no single step of a test may take longer (a hang fails, never blocks)


class FrozenClock:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds; fail (not hang) if it does not within :data:`BOUND`."""

    async def poll() -> None:
        # polled: the conditions are counters of the server and the client, not events
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), BOUND)


def assert_idle(kms: aiokms.KMSClient, max_connections: int = 64) -> None:
    """No call of ``kms`` holds a connection slot, and every slot is free."""
    assert kms.stats().in_flight == 0
    assert kms._slots.free == max_connections


def limiter_of(kms: aiokms.KMSClient, quota: str) -> RateLimiter:
    """The client's adaptive limiter of ``quota`` (made at the quota's first request)."""
    limiters = kms._policy.limiters
    limiter = None if limiters is None else limiters.get(quota)
    assert limiter is not None
    return limiter


def imported_modules(path: str) -> set[str]:
    """The modules a Python file imports (``import x.y``, ``from x.y import z``: ``x.y``)."""
    tree = ast.parse(Path(path).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def in_forked_child(report: Callable[[], Any]) -> Any:
    """``report()`` run in a child made by ``os.fork()``, its JSON result read back. The
    child leaves at once after it (``os._exit``), running none of pytest's code."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read)
            os.write(write, json.dumps(report()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(text)
