"""A KMS stand-in on virtual time, for counting the DataKeyCache's calls under realistic timing.

``VirtualKMS`` has ``generate_data_key`` and ``decrypt`` coroutines that answer ``latency``
seconds of a ``FakeClock`` after they are called, in the order they fall due: a test moves time
on with :meth:`VirtualKMS.advance` (or :meth:`VirtualKMS.run`, which jumps from one answer to
the next while a caller waits). Nothing sleeps: a "second" passes in a few loop turns, so a
thousand KMS round trips take milliseconds and every run counts the same.

Callers cost time too: :data:`HIT_COST` of the clock per use, as a hit costs a microsecond or
two of real time. Without it a whole key's budget would be spent at one instant.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

HIT_COST = 2e-6  # seconds of the clock one use of a cached key costs its caller
_TURNS = 12  # loop turns that let an answer reach the cache, its waiters and their callers


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class VirtualKMS:
    """GenerateDataKey and Decrypt answering ``latency`` seconds of ``clock`` after each call."""

    def __init__(self, clock: FakeClock, latency: float = 0.05) -> None:
        self.clock = clock
        self.latency = latency
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.plaintexts: dict[bytes, bytes] = {}
        self.contexts: dict[bytes, dict[str, str]] = {}  # what each ciphertext is bound to
        self._due: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def generated(self) -> int:
        return sum(1 for operation, _ in self.requests if operation == "GenerateDataKey")

    @property
    def pending(self) -> int:
        return len(self._due)

    async def _answer_later(self, operation: str, params: Mapping[str, Any]) -> None:
        # The request as KMS would see it once sent: copied now, when the call is made.
        self.requests.append((operation, _deep_copy(params)))
        due = asyncio.get_running_loop().create_future()
        heapq.heappush(self._due, (self.clock.now + self.latency, next(self._order), due))
        await due

    async def generate_data_key(self, **params: Any) -> dict[str, Any]:
        await self._answer_later("GenerateDataKey", params)
        number = len(self.plaintexts) + 1
        blob = b"blob-%d-" % number + os.urandom(8)
        plaintext = os.urandom(params.get("NumberOfBytes", 32))
        self.plaintexts[blob] = plaintext
        self.contexts[blob] = dict(self.requests[-1][1].get("EncryptionContext") or {})
        return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": "arn:virtual"}

    async def decrypt(self, **params: Any) -> dict[str, Any]:
        context = dict(params.get("EncryptionContext") or {})
        await self._answer_later("Decrypt", params)
        blob = bytes(params["CiphertextBlob"])
        if blob not in self.plaintexts or self.contexts[blob] != context:
            raise ValueError("InvalidCiphertextException")
        return {"Plaintext": self.plaintexts[blob], "KeyId": "arn:virtual"}

    async def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``, answering the calls that fall due, in order."""
        end = self.clock.now + seconds
        await turns()
        while self._due and self._due[0][0] <= end:
            due, _, answer = heapq.heappop(self._due)
            self.clock.now = max(self.clock.now, due)
            if not answer.done():
                answer.set_result(None)
            await turns()
        self.clock.now = max(self.clock.now, end)
        await turns()

    async def run(self, work: Awaitable[Any]) -> Any:
        """Await ``work``, moving the clock from one answer to the next while it waits."""
        task = asyncio.ensure_future(work)
        await turns()
        while not task.done():
            if not self._due:
                await turns()
                if not task.done() and not self._due:
                    raise AssertionError("waiting, with no KMS call under way")
                continue
            await self.advance(max(0.0, self._due[0][0] - self.clock.now))
        return task.result()


async def turns(count: int = _TURNS) -> None:
    """Let ready tasks run ``count`` loop turns: enough for an answer to reach every caller."""
    for _ in range(count):
        await asyncio.sleep(0)


def _deep_copy(params: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, list):
            value = list(value)
        elif isinstance(value, (bytearray, memoryview)):
            value = bytes(value)
        copied[name] = value
    return copied


def uses_per_key(results: Iterable[Mapping[str, Any]]) -> list[int]:
    """How many uses each data key served, in the order the keys were first handed out."""
    return list(Counter(r["CiphertextBlob"] for r in results).values())


def bytes_per_key(results: Iterable[tuple[Mapping[str, Any], int]]) -> list[int]:
    """Bytes each data key served, in order of first hand-out, from ``(answer, length)``."""
    served: dict[bytes, int] = {}
    for answer, length in results:
        blob = answer["CiphertextBlob"]
        served[blob] = served.get(blob, 0) + length
    return list(served.values())


UseFn = Callable[[], Awaitable[dict[str, Any]]]
