"""DataKeyCache, the async shell: flights, refresh ahead, entry handles, loops and forks.

Most tests run against an in-process KMS on 127.0.0.1 (``Keys``) that counts its calls; the
ones that count calls under realistic timing use ``VirtualKMS`` (tests/virtual_kms.py), which
answers after a latency on an injected clock. No test sleeps or measures speed. A call that
must not wait on KMS is driven by hand (``completes_at_once``): it has to finish without
suspending.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import math
import os
import random
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
from aiohttp import web
from botocore.exceptions import ClientError, ParamValidationError

import aiokms
from aiokms._cache import CacheStats, DataKeyCache
from tests.fake_kms import ACCESS_KEY, FakeKMS, Recorded
from tests.helpers import in_forked_child
from tests.virtual_kms import (
    HIT_COST,
    FakeClock,
    VirtualKMS,
    bytes_per_key,
    turns,
    uses_per_key,
)

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = {"tenant": "a"}
GUARD = 10.0  # seconds before a wait that should end at once is declared hung


# --- the KMS side ------------------------------------------------------------------------------


class Keys:
    """GenerateDataKey and Decrypt for the fake KMS: a new key per call; calls can be held."""

    def __init__(self, fake: FakeKMS, clock: FakeClock | None = None) -> None:
        self.plaintexts: dict[bytes, bytes] = {}
        self.contexts: dict[bytes, dict[str, str]] = {}  # what KMS bound each ciphertext to
        self.generated = 0
        self.decrypted = 0
        self.gate: asyncio.Event | None = None  # while set to an unset event, calls wait
        self.latency = 0.0  # seconds the injected clock moves during each call
        self.clock = clock
        self.fail_with: str | None = None
        self._arrivals = asyncio.Condition()
        fake.handle("GenerateDataKey", self._generate)
        fake.handle("Decrypt", self._decrypt)

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        return self.gate

    async def arrived(self, calls: int) -> None:
        """Wait until KMS has received ``calls`` calls in all."""

        async def enough() -> None:
            async with self._arrivals:
                await self._arrivals.wait_for(lambda: self.generated + self.decrypted >= calls)

        await asyncio.wait_for(enough(), GUARD)

    async def _arrive(self) -> None:
        async with self._arrivals:
            self._arrivals.notify_all()
        if self.gate is not None:
            await self.gate.wait()
        if self.clock is not None:
            self.clock.advance(self.latency)

    async def _generate(self, recorded: Recorded) -> web.StreamResponse:
        self.generated += 1
        await self._arrive()
        if self.fail_with:
            return _error(self.fail_with)
        plaintext = os.urandom(recorded.json.get("NumberOfBytes", 32))
        blob = b"blob-%d-" % self.generated + os.urandom(8)
        self.plaintexts[blob] = plaintext
        self.contexts[blob] = recorded.json.get("EncryptionContext", {})
        return _reply(
            {
                "CiphertextBlob": _b64(blob),
                "Plaintext": _b64(plaintext),
                "KeyId": KEY_ARN,
                "KeyMaterialId": "a" * 64,
            }
        )

    async def _decrypt(self, recorded: Recorded) -> web.StreamResponse:
        self.decrypted += 1
        await self._arrive()
        if self.fail_with:
            return _error(self.fail_with)
        plaintext = self.plaintexts.get(base64.b64decode(recorded.json["CiphertextBlob"]))
        if plaintext is None:
            return _error("InvalidCiphertextException")
        return _reply(
            {
                "KeyId": KEY_ARN,
                "Plaintext": _b64(plaintext),
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            }
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _reply(body: dict[str, Any]) -> web.Response:
    return web.json_response(
        body, content_type="application/x-amz-json-1.1", headers={"x-amzn-RequestId": "req-1"}
    )


def _error(code: str) -> web.Response:
    return web.json_response(
        {"__type": code, "message": f"{code} from the fake"},
        status=400 if code != "KMSInternalException" else 500,
        content_type="application/x-amz-json-1.1",
    )


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(fake: FakeKMS, clock: FakeClock) -> Iterator[Keys]:
    keys = Keys(fake, clock)
    yield keys
    if keys.gate is not None:
        keys.gate.set()  # let held calls end, so the server stops at once even after a failure


@pytest.fixture
async def make_cache(clock: FakeClock) -> AsyncIterator[Callable[..., DataKeyCache]]:
    """Build caches on the test's clock; every one is closed after the test."""
    made: list[DataKeyCache] = []

    def make(**kwargs: Any) -> DataKeyCache:
        kwargs.setdefault("clock", clock)
        made.append(DataKeyCache(**kwargs))
        return made[-1]

    yield make
    for cache in made:
        await cache.close()


async def settle(cache: DataKeyCache) -> None:
    """Wait for the KMS calls the cache has under way, refreshes included."""
    while cache._tasks:
        await asyncio.wait_for(asyncio.wait(set(cache._tasks)), GUARD)


def completes_at_once(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run ``coro`` to its end without letting it suspend: proof that it did not wait on KMS."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: dict[str, Any] = done.value
        return result
    coro.close()
    raise AssertionError("the call waited")


def gdk(cache: DataKeyCache, kms: Any, **kwargs: Any) -> Coroutine[Any, Any, dict[str, Any]]:
    kwargs.setdefault("KeyId", "alias/app")
    kwargs.setdefault("KeySpec", "AES_256")
    kwargs.setdefault("EncryptionContext", CONTEXT)
    return cache.generate_data_key(kms, **kwargs)


def wipes_of(cache: DataKeyCache) -> list[bytearray]:
    """The cache's own plaintext buffers, to check later that they were overwritten."""
    buffers = []
    for slot in cache._entries.values():
        for key in [slot.current, *slot.standby]:
            if key is not None:
                buffers.append(key.plaintext)
    return buffers


# --- shape of the answers ----------------------------------------------------------------------


async def test_a_hit_returns_what_kms_returned_in_a_dict_of_its_own(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    first = await gdk(cache, kms, plaintext_length=100)
    second = await gdk(cache, kms, plaintext_length=100)
    assert keys.generated == 1
    assert set(first) == {
        "CiphertextBlob",
        "Plaintext",
        "KeyId",
        "KeyMaterialId",
        "ResponseMetadata",
    }
    assert first == second
    assert isinstance(second["Plaintext"], bytes) and len(second["Plaintext"]) == 32
    assert keys.plaintexts[second["CiphertextBlob"]] == second["Plaintext"]
    assert second["KeyId"] == KEY_ARN
    assert second["ResponseMetadata"]["RequestId"] == "req-1"
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 200
    second["KeyId"] = "changed"
    second["ResponseMetadata"]["RequestId"] = "changed"
    third = await gdk(cache, kms, plaintext_length=100)
    assert third["KeyId"] == KEY_ARN and third["ResponseMetadata"]["RequestId"] == "req-1"
    assert keys.generated == 1


async def test_the_request_carries_the_callers_arguments(
    kms: aiokms.KMSClient, fake: FakeKMS, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    await cache.generate_data_key(
        kms, KeyId="alias/x", NumberOfBytes=16, EncryptionContext=CONTEXT, GrantTokens=["g1"]
    )
    assert fake.requests[-1].json == {
        "KeyId": "alias/x",
        "NumberOfBytes": 16,
        "EncryptionContext": CONTEXT,
        "GrantTokens": ["g1"],
    }
    assert all(r.signature_ok for r in fake.requests)


# --- single flight -----------------------------------------------------------------------------


async def test_a_thousand_concurrent_misses_make_one_call(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms, plaintext_length=10)) for _ in range(1000)]
    await keys.arrived(1)
    assert cache.stats().in_flight == 1
    gate.set()
    results = await asyncio.gather(*calls)
    assert keys.generated == 1
    assert len({r["CiphertextBlob"] for r in results}) == 1
    stats = cache.stats()
    assert (stats.kms_calls, stats.misses, stats.hits, stats.in_flight) == (1, 1000, 0, 0)
    completes_at_once(gdk(cache, kms, plaintext_length=10))  # and it is cached


async def test_concurrent_misses_beyond_one_budget_share_keys_by_the_budget(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10, refresh_ahead=None)
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms)) for _ in range(1000)]
    await asyncio.sleep(0)  # every caller has joined or started a call
    assert cache.stats().kms_calls == 100 and cache.stats().misses == 1000
    gate.set()
    results = await asyncio.gather(*calls)
    assert keys.generated == 100
    uses = Counter(r["CiphertextBlob"] for r in results)
    assert len(uses) == 100 and set(uses.values()) == {10}


async def test_a_byte_budget_splits_concurrent_misses_too(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_bytes=100, refresh_ahead=None)
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms, plaintext_length=30)) for _ in range(9)]
    await keys.arrived(3)
    gate.set()
    results = await asyncio.gather(*calls)
    assert keys.generated == 3
    assert sorted(Counter(r["CiphertextBlob"] for r in results).values()) == [3, 3, 3]


async def test_a_failed_call_reaches_every_waiter_and_is_not_cached(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    gate = keys.hold()
    keys.fail_with = "KMSInternalException"
    calls = [asyncio.create_task(gdk(cache, kms)) for _ in range(10)]
    await keys.arrived(1)
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert keys.generated == 1
    for result in results:
        assert isinstance(result, kms.exceptions.KMSInternalException)
        assert result.response["Error"]["Code"] == "KMSInternalException"
    assert cache.stats().errors == 1 and cache.stats().entries == 0
    keys.fail_with = None
    await gdk(cache, kms)
    assert keys.generated == 2


async def test_a_cancelled_waiter_does_not_cancel_the_call_for_the_others(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms)) for _ in range(3)]
    await keys.arrived(1)
    calls[0].cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await calls[0]
    second, third = await asyncio.gather(*calls[1:])
    assert second["CiphertextBlob"] == third["CiphertextBlob"]
    assert keys.generated == 1
    cached = completes_at_once(gdk(cache, kms))
    assert cached["CiphertextBlob"] == second["CiphertextBlob"]


async def test_when_every_waiter_is_cancelled_the_call_still_completes_and_is_cached(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms)) for _ in range(2)]
    await keys.arrived(1)
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    gate.set()
    await settle(cache)
    completes_at_once(gdk(cache, kms))
    assert keys.generated == 1


async def test_a_cancelled_waiter_hands_its_reservation_back(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=2, refresh_ahead=None)
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms)) for _ in range(2)]
    await keys.arrived(1)
    calls[0].cancel()
    await asyncio.gather(calls[0], return_exceptions=True)
    gate.set()
    await calls[1]
    completes_at_once(gdk(cache, kms))  # the second of its two uses
    assert keys.generated == 1


async def test_a_spent_entry_is_dropped_when_nothing_is_coming_for_it(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=2, refresh_ahead=None)
    for _ in range(2):
        await gdk(cache, kms)
    keys.fail_with = "KMSInternalException"
    with pytest.raises(ClientError):
        await gdk(cache, kms)  # the spent entry's refill fails
    assert cache.stats().entries == 0
    keys.fail_with = None
    for _ in range(2):
        await gdk(cache, kms)
    assert cache.stats().entries == 1
    await asyncio.gather(gdk(cache, kms), gdk(cache, kms))  # a refill its waiters spend at once
    assert cache.stats().entries == 0 and keys.generated == 4


# --- budgets -----------------------------------------------------------------------------------


async def test_max_messages_10_over_1000_uses_makes_100_calls(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10, refresh_ahead=None)
    results = [await gdk(cache, kms) for _ in range(1000)]
    assert keys.generated == 100 == cache.stats().kms_calls
    uses = Counter(r["CiphertextBlob"] for r in results)
    assert set(uses.values()) == {10}
    assert cache.stats().hits == 900 and cache.stats().misses == 100


async def test_byte_limit_counts_each_use_and_never_overshoots(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_bytes=100, refresh_ahead=None)
    lengths = [30, 30, 40, 1, 50, 50, 0, 100]
    blobs = [(await gdk(cache, kms, plaintext_length=n))["CiphertextBlob"] for n in lengths]
    # 30+30+40 = 100 fits; 1 does not; 1+50 fits, +50 does not; 50+0 fits; 100 does not.
    assert blobs[0] == blobs[1] == blobs[2]
    assert blobs[3] == blobs[4] != blobs[2]
    assert blobs[5] == blobs[6] != blobs[4]
    assert blobs[7] != blobs[6]
    assert keys.generated == 4


async def test_a_use_larger_than_max_bytes_gets_a_fresh_uncached_key(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_bytes=100)
    cached = await gdk(cache, kms, plaintext_length=10)
    big = [await gdk(cache, kms, plaintext_length=101) for _ in range(2)]
    assert len({cached["CiphertextBlob"], *(r["CiphertextBlob"] for r in big)}) == 3
    assert completes_at_once(gdk(cache, kms, plaintext_length=10)) == cached
    assert cache.stats().bypasses == 2 and keys.generated == 3


async def test_unknown_length_bypasses_a_byte_limit_and_is_cached_without_one(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    limited = make_cache(max_bytes=1000)
    first, second = [await gdk(limited, kms) for _ in range(2)]
    assert first["CiphertextBlob"] != second["CiphertextBlob"]
    assert limited.stats().bypasses == 2 and limited.stats().entries == 0
    unlimited = make_cache()
    first, second = [await gdk(unlimited, kms) for _ in range(2)]
    assert first["CiphertextBlob"] == second["CiphertextBlob"]


async def test_a_key_is_never_handed_out_at_or_past_max_age(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_age=10.0, refresh_ahead=None)
    first = await gdk(cache, kms)
    clock.advance(9.999)
    assert completes_at_once(gdk(cache, kms)) == first
    clock.advance(0.001)
    second = await gdk(cache, kms)
    assert second["CiphertextBlob"] != first["CiphertextBlob"]
    assert keys.generated == 2


async def test_the_age_limit_counts_from_arrival_not_from_the_request(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    keys.latency = 4.0  # the clock moves while KMS answers
    cache = make_cache(max_age=10.0, refresh_ahead=None)
    first = await gdk(cache, kms)
    clock.advance(9.0)
    assert completes_at_once(gdk(cache, kms)) == first


# --- refresh ahead -----------------------------------------------------------------------------


async def test_refresh_ahead_keeps_a_steady_stream_from_waiting(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10)
    results = [await gdk(cache, kms)]  # the cold miss
    for _ in range(999):
        results.append(completes_at_once(gdk(cache, kms)))
        await settle(cache)  # traffic slower than KMS: any refresh lands before the next use
    uses = Counter(r["CiphertextBlob"] for r in results)
    assert len(uses) == 100 and set(uses.values()) == {10}  # each key served its whole budget
    assert keys.generated == 101  # the last refresh fetched a key the stream did not need
    stats = cache.stats()
    assert (stats.misses, stats.hits, stats.refreshes) == (1, 999, 100)


async def test_the_current_key_serves_its_budget_while_the_refresh_is_held(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10, refresh_ahead=0.5)
    first = await gdk(cache, kms)
    gate = keys.hold()
    for _ in range(4):
        completes_at_once(gdk(cache, kms))
    assert cache.stats().refreshes == 1  # the fifth use crossed half the budget
    await keys.arrived(2)
    for _ in range(5):
        assert completes_at_once(gdk(cache, kms)) == first  # served to its end
    waiting = asyncio.create_task(gdk(cache, kms))  # the eleventh joins the refresh
    await asyncio.sleep(0)
    assert not waiting.done() and keys.generated == 2
    gate.set()
    second = await waiting
    assert second["CiphertextBlob"] != first["CiphertextBlob"]
    assert keys.generated == 2 and cache.stats().misses == 2


async def test_refresh_ahead_by_age_then_the_standby_takes_over(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    """A use every half second, age the binding limit: the next key is fetched at 0.8 of the
    current one's age and takes over when that runs out; its age counts from its arrival."""
    cache = make_cache(max_age=10.0, refresh_ahead=0.8)

    start = clock()

    def uses_until(end: float) -> set[bytes]:
        """A use every half second until ``end`` seconds after the first."""
        blobs = set()
        while clock() + 0.5 <= start + end + 1e-9:
            clock.advance(0.5)
            blobs.add(completes_at_once(gdk(cache, kms))["CiphertextBlob"])
        return blobs

    first = (await gdk(cache, kms))["CiphertextBlob"]
    assert uses_until(7.5) == {first} and cache.stats().refreshes == 0
    assert uses_until(8.0) == {first} and cache.stats().refreshes == 1  # 8 s old
    await settle(cache)
    assert uses_until(9.5) == {first}
    clock.advance(0.499)
    assert completes_at_once(gdk(cache, kms))["CiphertextBlob"] == first  # 9.999 s old
    clock.advance(0.001)  # first is 10 s old: the standby (2 s old) takes over
    second = completes_at_once(gdk(cache, kms))["CiphertextBlob"]
    assert second != first
    assert uses_until(15.5) == {second} and cache.stats().refreshes == 1
    assert uses_until(16.0) == {second} and cache.stats().refreshes == 2  # 8 s since arrival
    await settle(cache)
    assert uses_until(17.5) == {second}
    third = uses_until(18.0)  # second is 10 s old
    assert third.isdisjoint({first, second}) and keys.generated == 3


async def test_refresh_ahead_by_age_waits_for_a_use_it_expects() -> None:
    """Uses further apart than a key's age: a key fetched ahead by age would be as old at its
    first use as the one it follows, and fetch another; so none is, and every key serves two
    of the uses, as it does without refresh ahead."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    for every in (250.0, 299.0):
        async with DataKeyCache(clock=clock) as cache:  # the defaults: 300 s, 0.8
            results = []
            for _ in range(30):
                results.append(await kms.run(gdk(cache, kms)))
                await kms.advance(every)
        assert uses_per_key(results) == [2] * 15 and cache.stats().refreshes == 0


async def test_a_key_is_followed_sooner_when_the_pace_would_outrun_the_share() -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=2.02)  # lead: 4.04 s; the pace is measured over 8.08 s
    async with DataKeyCache(max_messages=200, refresh_ahead=1.0, clock=clock) as cache:
        await kms.run(gdk(cache, kms))
        uses = 1
        while not cache.stats().refreshes:
            await kms.advance(0.1)  # 10 uses a second
            completes_at_once(gdk(cache, kms))
            uses += 1
        # From the first pace window on, the pace is known: the last 40 uses last the lead.
        assert uses == 160


async def test_a_stream_faster_than_kms_is_fetched_as_many_keys_ahead_as_it_needs() -> None:
    """55 uses a second, 10 per key, KMS 1 s: five and a half keys per KMS call. Once the pace
    is known (the first key arrives at 1 s, its pace window closes 4 s later), six are coming at
    a time and nobody waits any more; each key serves its whole budget, and when the stream
    stops, at most those six go unused."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=1.0)
    async with DataKeyCache(max_messages=10, clock=clock) as cache:
        calls, waited, most_coming = [], [], 0
        for use in range(1100):
            await kms.advance(1 / 55)
            calls.append(asyncio.create_task(gdk(cache, kms)))
            await asyncio.sleep(0)
            if not calls[-1].done():
                waited.append(use)
            if use >= 55 * 8:
                most_coming = max(most_coming, cache.stats().in_flight)
        results = await kms.run(asyncio.gather(*calls))
        await kms.advance(60.0)
    assert max(waited) < 55 * 8  # none after the first 8 s (of 20)
    assert most_coming == 6
    served = uses_per_key(results)
    assert served == [10] * 110
    assert kms.generated - len(served) <= 6


async def test_max_ahead_1_fetches_only_the_next_key() -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=1.0)
    async with DataKeyCache(max_messages=10, max_ahead=1, clock=clock) as cache:
        calls = []
        for _ in range(1000):
            await kms.advance(1 / 55)
            calls.append(asyncio.create_task(gdk(cache, kms)))
            await asyncio.sleep(0)
        results = await kms.run(asyncio.gather(*calls))
        await kms.advance(60.0)
        assert cache.stats().misses > 1  # one key ahead cannot keep up with this stream
    served = uses_per_key(results)
    assert served == [10] * 100 and kms.generated - len(served) <= 1


async def test_a_failed_refresh_is_retried_only_after_a_pause(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10, refresh_ahead=0.5)
    await gdk(cache, kms)
    keys.fail_with = "ThrottlingException"
    for _ in range(4):
        completes_at_once(gdk(cache, kms))
    await settle(cache)
    assert (cache.stats().refreshes, cache.stats().errors) == (1, 1)
    completes_at_once(gdk(cache, kms))
    assert cache.stats().refreshes == 1  # no retry at once
    keys.fail_with = None
    clock.advance(1.0)
    completes_at_once(gdk(cache, kms))
    await settle(cache)
    assert cache.stats().refreshes == 2 and keys.generated == 3


async def test_a_failed_refresh_nobody_waited_for_is_logged_by_its_code(
    kms: aiokms.KMSClient,
    keys: Keys,
    make_cache: Callable[..., DataKeyCache],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiokms")
    cache = make_cache(max_messages=10, refresh_ahead=0.5)
    first = await gdk(cache, kms)
    keys.fail_with = "ThrottlingException"
    for _ in range(4):
        completes_at_once(gdk(cache, kms))
    await settle(cache)
    assert cache.stats().errors == 1
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "aiokms.cache"]
    assert records == [
        (
            logging.INFO,
            "a data key fetched ahead was not made (ThrottlingException); callers who find "
            "the current key spent call KMS themselves",
        )
    ]
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert first["Plaintext"].hex() not in text and repr(first["Plaintext"]) not in text


async def test_a_burst_that_spends_most_of_a_new_key_refreshes_it_at_once(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10, refresh_ahead=0.5)
    gate = keys.hold()
    calls = [asyncio.create_task(gdk(cache, kms)) for _ in range(6)]
    await keys.arrived(1)
    gate.set()
    await asyncio.gather(*calls)
    await settle(cache)
    assert keys.generated == 2 and cache.stats().refreshes == 1
    for _ in range(14):  # 4 left on the first key, then 10 on the standby
        completes_at_once(gdk(cache, kms))


async def test_a_slower_kms_call_elsewhere_brings_a_refresh_forward() -> None:
    """Hits skip the refresh arithmetic only while its inputs stand: a slow call for another
    entry raises the latency estimate, and the next hit on this one sees it."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.5)  # lead: 1 s; the pace is measured over 2 s
    async with DataKeyCache(max_messages=100, refresh_ahead=1.0, clock=clock) as cache:
        await kms.run(gdk(cache, kms))
        for _ in range(30):  # 5 uses a second: the pace is known, and due only at 95 uses
            await kms.advance(0.2)
            completes_at_once(gdk(cache, kms))
        kms.latency = 5.0
        other = asyncio.create_task(gdk(cache, kms, EncryptionContext={"other": "entry"}))
        for _ in range(24):  # the other entry's call is under way for 5 s
            await kms.advance(0.2)
            completes_at_once(gdk(cache, kms))
        await kms.advance(0.2)
        assert other.done() and cache.stats().refreshes == 0
        # 56 uses: at 5 a second, the other 44 last 8.8 s, within the 10 s lead now
        completes_at_once(gdk(cache, kms))
        assert cache.stats().refreshes == 1


# --- exact budgets with the default refresh_ahead (virtual time) -----------------------------


async def sequential(
    cache: DataKeyCache, kms: VirtualKMS, uses: int, lengths: list[int] | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """``uses`` calls one after the other, each awaited, each costing its caller HIT_COST."""
    out = []
    for use in range(uses):
        kms.clock.advance(HIT_COST)
        length = None if lengths is None else lengths[use]
        out.append(await gdk(cache, kms, plaintext_length=length, **kw))
    return out


def unused(kms: VirtualKMS, results: list[dict[str, Any]]) -> int:
    """Keys KMS made that no call was handed."""
    return kms.generated - len({r["CiphertextBlob"] for r in results})


@pytest.mark.parametrize("uses", [1000, 995, 7, 1])
async def test_sequential_uses_make_one_call_per_budget(uses: int) -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    async with DataKeyCache(max_messages=10, clock=clock) as cache:
        results = await kms.run(sequential(cache, kms, uses))
        await kms.advance(60.0)  # whatever was fetched ahead arrives
    full, rest = divmod(uses, 10)
    assert uses_per_key(results) == [10] * full + ([rest] if rest else [])
    assert math.ceil(uses / 10) <= kms.generated <= math.ceil(uses / 10) + 1
    assert unused(kms, results) <= 1


@pytest.mark.parametrize(
    "lengths",
    [
        [3000] * 7,  # the case: 9,000, 9,000 and 3,000 bytes, in that order
        [3000] * 1000,
        [random.Random(7).randrange(0, 10_001) for _ in range(1000)],
    ],
    ids=["7x3000", "1000x3000", "random"],
)
async def test_sequential_uses_under_a_byte_limit_spend_each_key_to_the_byte(
    lengths: list[int],
) -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    async with DataKeyCache(max_messages=None, max_bytes=10_000, clock=clock) as cache:
        results = await kms.run(sequential(cache, kms, len(lengths), lengths))
        await kms.advance(60.0)
    served = bytes_per_key(zip(results, lengths, strict=True))
    # Each key was retired only when the next use did not fit in what it had left.
    firsts = [lengths[0]]
    for answer, previous, length in zip(results[1:], results[:-1], lengths[1:], strict=True):
        if answer["CiphertextBlob"] != previous["CiphertextBlob"]:
            firsts.append(length)
    assert all(spent + first > 10_000 for spent, first in zip(served, firsts[1:], strict=False))
    assert sum(served) == sum(lengths)
    assert len(served) <= kms.generated <= len(served) + 1
    if lengths == [3000] * 7:
        assert served == [9000, 9000, 3000]


@pytest.mark.parametrize(
    ("limits", "length", "per_key"),
    [
        ({"max_messages": 10}, None, 10),
        ({"max_messages": 30}, None, 30),
        ({"max_messages": None, "max_bytes": 10_000}, 1000, 10),
        ({"max_messages": None, "max_bytes": 10_000}, 3000, 3),
    ],
    ids=["10-uses", "30-uses", "10-by-bytes", "3-by-bytes"],
)
async def test_bursts_make_one_call_per_budget(
    limits: dict[str, Any], length: int | None, per_key: int
) -> None:
    """100 callers at once, a minute of quiet, 100 more at once."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    async with DataKeyCache(clock=clock, **limits) as cache:
        results: list[dict[str, Any]] = []
        for _ in range(2):
            burst = [
                asyncio.create_task(gdk(cache, kms, plaintext_length=length)) for _ in range(100)
            ]
            results += await kms.run(asyncio.gather(*burst))
            await kms.advance(60.0)
    served = uses_per_key(results)
    full, rest = divmod(200, per_key)
    assert served == [per_key] * full + ([rest] if rest else [])
    assert kms.generated == math.ceil(200 / per_key)


@pytest.mark.parametrize(
    ("limits", "length", "per_key"),
    [
        ({"max_messages": 10}, None, 10),
        ({"max_messages": None, "max_bytes": 10_000}, 1000, 10),
        ({"max_messages": 8, "max_bytes": 10_000}, 1000, 8),
    ],
    ids=["uses", "bytes", "both"],
)
@pytest.mark.parametrize("latency", [0.01, 0.05])
async def test_a_steady_stream_never_waits_and_spends_every_key(
    limits: dict[str, Any], length: int | None, per_key: int, latency: float
) -> None:
    """100 calls a second, a key lasting 80-100 ms. With KMS at 10 ms, a key's last fifth
    outlasts a KMS call, and only the first call waits; at 50 ms it does not, and from the first
    pace window on (a second) keys are fetched as early as the pace needs: nobody waits from
    then on. When the stream stops, at most one key is left unused."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=latency)
    async with DataKeyCache(clock=clock, **limits) as cache:
        calls, waited = [], []
        for use in range(2000):
            await kms.advance(0.01)
            calls.append(asyncio.create_task(gdk(cache, kms, plaintext_length=length)))
            await asyncio.sleep(0)
            if not calls[-1].done():
                waited.append(use)
        results = await kms.run(asyncio.gather(*calls))
        await kms.advance(60.0)
    if latency == 0.01:
        assert waited == [0]
    else:
        assert waited[0] == 0 and max(waited) < 200  # none after the first two seconds
    served = uses_per_key(results)
    full, rest = divmod(2000, per_key)
    assert served == [per_key] * full + ([rest] if rest else [])
    assert unused(kms, results) <= 1


async def test_a_stream_that_stops_leaves_at_most_one_unused_key_per_entry() -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    async with DataKeyCache(max_messages=10, clock=clock) as cache:
        answers: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        for use in range(1234):  # two tenants in turn, stopping mid-key
            await kms.advance(0.01)
            tenant = "ab"[use % 2]
            call = asyncio.create_task(gdk(cache, kms, EncryptionContext={"tenant": tenant}))
            answers[tenant].append(await kms.run(call))
        await kms.advance(600.0)  # long after
    for tenant, results in answers.items():
        made = sum(
            1
            for operation, params in kms.requests
            if operation == "GenerateDataKey" and params["EncryptionContext"] == {"tenant": tenant}
        )
        assert made - len({r["CiphertextBlob"] for r in results}) <= 1, tenant


@pytest.mark.parametrize(
    ("limits", "length", "per_key"),
    [({"max_messages": 100}, 1024, 100), ({"max_messages": None, "max_bytes": 2**20}, 4096, 256)],
    ids=["uses", "bytes"],
)
async def test_workers_that_await_each_use_make_one_call_per_budget(
    limits: dict[str, Any], length: int, per_key: int
) -> None:
    """Eight workers taking 10,000 uses from one queue as fast as they can (as
    benchmarks/cache.py's calls section): they wait on KMS for every key, and must not be
    fetched more keys ahead for that."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.005)
    todo = iter(range(10_000))
    results: list[dict[str, Any]] = []

    async def worker() -> None:
        for _ in todo:
            clock.advance(HIT_COST)
            results.append(await gdk(cache, kms, plaintext_length=length))

    async with DataKeyCache(clock=clock, **limits) as cache:
        await kms.run(asyncio.gather(*(worker() for _ in range(8))))
        await kms.advance(60.0)
    served = uses_per_key(results)
    full, rest = divmod(10_000, per_key)
    assert sorted(served, reverse=True) == [per_key] * full + ([rest] if rest else [])
    assert math.ceil(10_000 / per_key) <= kms.generated <= math.ceil(10_000 / per_key) + 1


# --- what the caller passed is copied when the call is made -----------------------------------


async def test_a_context_the_caller_reuses_after_the_call_changes_nothing(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    """Request handlers often reuse one dict: the key fetched ahead for tenant a must be bound
    to tenant a, not to what the dict says by the time the KMS call is sent."""
    cache = make_cache(max_messages=10)
    context = {"tenant": "a"}
    for _ in range(9):  # the eighth use starts a refresh, which is sent on the next loop turn
        await gdk(cache, kms, EncryptionContext=context)
    context["tenant"] = "b"
    for _ in range(12):
        answer = await gdk(cache, kms, EncryptionContext={"tenant": "a"})
        assert keys.contexts[answer["CiphertextBlob"]] == {"tenant": "a"}


async def test_grant_tokens_the_caller_reuses_after_the_call_change_nothing(
    kms: aiokms.KMSClient, fake: FakeKMS, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10)
    tokens = ["token-1"]
    for _ in range(9):
        await gdk(cache, kms, GrantTokens=tokens)
    tokens[0] = "token-2"
    for _ in range(3):
        await gdk(cache, kms, GrantTokens=["token-1"])
    sent = [r.json["GrantTokens"] for r in fake.requests if r.operation == "GenerateDataKey"]
    assert sent == [["token-1"]] * 2


@pytest.mark.parametrize("kind", [bytearray, memoryview])
async def test_a_ciphertext_buffer_the_caller_reuses_after_the_call_changes_nothing(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache], kind: type
) -> None:
    cache = make_cache()
    first, second = [
        await kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256") for _ in range(2)
    ]
    buffer = bytearray(first["CiphertextBlob"])
    blob = buffer if kind is bytearray else memoryview(buffer)
    waiting = asyncio.create_task(cache.decrypt(kms, CiphertextBlob=blob))
    await asyncio.sleep(0)  # the call was made: the cache started its KMS call
    buffer[:] = second["CiphertextBlob"]  # the caller's buffer, used for something else
    assert (await waiting)["Plaintext"] == first["Plaintext"]


# --- event loops ------------------------------------------------------------------------------


def test_calls_of_an_event_loop_that_no_longer_runs_are_never_joined() -> None:
    """A cache used from a second loop (a second asyncio.run, a test framework's loop per
    test): the first loop's KMS calls never end, so nobody may wait for them, and refreshes
    must go on as before."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    cache = DataKeyCache(max_messages=10, clock=clock)
    old_loop = asyncio.new_event_loop()

    async def on_the_old_loop() -> None:
        await kms.run(gdk(cache, kms))
        for _ in range(8):  # 9 uses: a refresh is under way, and stays so
            completes_at_once(gdk(cache, kms))
        await turns()
        assert kms.pending == 1 and cache.stats().in_flight == 1

    async def on_a_new_loop() -> None:
        completes_at_once(gdk(cache, kms))  # the cached key serves its tenth use
        assert cache.stats().in_flight == 0  # the old loop's call is not counted
        first = await asyncio.wait_for(kms.run(gdk(cache, kms)), GUARD)  # not the old call's
        for _ in range(7):  # the new key's eighth use fetches the next one ahead
            completes_at_once(gdk(cache, kms))
        assert cache.stats().refreshes == 2
        await kms.advance(1.0)
        for _ in range(2):
            assert completes_at_once(gdk(cache, kms)) == first
        assert completes_at_once(gdk(cache, kms)) != first  # the refresh took over
        await cache.close()

    try:
        old_loop.run_until_complete(on_the_old_loop())
        asyncio.run(on_a_new_loop())
    finally:
        for task in asyncio.all_tasks(old_loop):
            task.cancel()
        old_loop.run_until_complete(asyncio.sleep(0))
        old_loop.close()


# --- fork -------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_drops_the_parents_keys_wiping_them() -> None:
    """A cache made before a fork (a pre-forking server, multiprocessing): parent and child
    must never both hand out uses of one key's budget."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    cache = DataKeyCache(clock=clock)
    first = asyncio.run(kms.run(gdk(cache, kms)))
    buffers = wipes_of(cache)

    def in_child() -> list[Any]:
        entries, wiped = cache.stats().entries, not any(any(b) for b in buffers)
        again = asyncio.run(kms.run(gdk(cache, kms)))
        return [entries, wiped, again["CiphertextBlob"] != first["CiphertextBlob"]]

    seen = in_forked_child(in_child)
    assert seen == [0, True, True]  # no entry, the plaintext overwritten, a key of its own
    assert cache.stats().entries == 1 and all(buffers)  # the parent's are intact
    assert asyncio.run(kms.run(gdk(cache, kms))) == first


def test_the_fork_hook_keeps_no_cache_alive() -> None:
    cache = DataKeyCache()
    ref = weakref.ref(cache)
    del cache
    gc.collect()
    assert ref() is None


# --- entry handles ----------------------------------------------------------------------------


async def test_an_entry_serves_hits_without_a_coroutine_and_misses_by_fetch(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=3, refresh_ahead=None)
    context = {"tenant": "a"}
    entry = cache.generate_entry(
        kms, KeyId="alias/app", KeySpec="AES_256", EncryptionContext=context
    )
    context["tenant"] = "b"  # copied when the entry was made
    assert entry.take(10) is None
    fetched = await entry.fetch(10)
    assert keys.contexts[fetched.ciphertext_blob] == {"tenant": "a"}
    assert bytes(fetched.plaintext) == keys.plaintexts[fetched.ciphertext_blob]
    assert fetched.key_id == KEY_ARN
    hits = [entry.take(10) for _ in range(2)]
    assert [hit.ciphertext_blob for hit in hits if hit] == [fetched.ciphertext_blob] * 2
    buffer = hits[0].plaintext if hits[0] else bytearray()
    assert entry.take(10) is None  # three uses: spent, and its plaintext overwritten
    assert not buffer and fetched.plaintext  # the fetched copy is the caller's own
    # The coroutine way shares the entry.
    answer = await gdk(cache, kms, plaintext_length=10)
    assert (entry.take(10) or fetched).ciphertext_blob == answer["CiphertextBlob"]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.kms_calls) == (3, 2, 2)


async def test_an_entry_starts_refreshes_like_the_coroutine_way(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10)
    entry = cache.generate_entry(
        kms, KeyId="alias/app", KeySpec="AES_256", EncryptionContext=CONTEXT
    )
    first = await entry.fetch()
    for _ in range(9):
        assert entry.take() is not None
    await settle(cache)
    assert cache.stats().refreshes == 1
    second = entry.take()
    assert second is not None and second.ciphertext_blob != first.ciphertext_blob
    assert keys.contexts[second.ciphertext_blob] == CONTEXT


def test_a_hit_outside_any_event_loop_starts_no_kms_call() -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    cache = DataKeyCache(max_messages=10, clock=clock)
    entry = cache.generate_entry(kms, KeyId="alias/app", KeySpec="AES_256")
    asyncio.run(kms.run(entry.fetch()))
    for _ in range(9):  # past the share: a refresh is due, but there is no loop to run it
        assert entry.take() is not None
    assert cache.stats().refreshes == 0 and entry.take() is None


@pytest.mark.parametrize("ahead", [True, False])
async def test_an_entry_made_not_to_refresh_ahead_fetches_only_what_its_callers_wait_for(
    ahead: bool,
) -> None:
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    async with DataKeyCache(max_messages=10, clock=clock) as cache:  # refresh ahead on
        entry = cache.generate_entry(kms, KeyId="alias/app", KeySpec="AES_256", refresh_ahead=ahead)
        await kms.run(entry.fetch())
        for _ in range(9):
            await kms.advance(0.5)  # slowly: a key outlasts many KMS calls
            assert entry.take() is not None
        await kms.advance(600.0)
        assert kms.generated == (2 if ahead else 1)
        assert entry.take() is (None if not ahead else entry.take())  # spent, or the next key
        assert cache.stats().refreshes == (1 if ahead else 0)


@pytest.mark.parametrize("ahead", [True, False])
async def test_an_entry_made_not_to_refresh_ahead_fetches_none_for_its_waiting_callers(
    ahead: bool,
) -> None:
    """Nine callers wait for a key of ten uses: it arrives past the share that fetches the
    next one, but a handle made not to refresh ahead (the Encryptor's, for the signed suite,
    whose signing key retires with the data key) wants no next one."""
    clock = FakeClock()
    kms = VirtualKMS(clock, latency=0.05)
    async with DataKeyCache(max_messages=10, clock=clock) as cache:  # refresh ahead on
        entry = cache.generate_entry(kms, KeyId="alias/app", KeySpec="AES_256", refresh_ahead=ahead)
        await kms.run(asyncio.gather(*(entry.fetch() for _ in range(9))))
        await kms.advance(1.0)
        assert kms.generated == (2 if ahead else 1)
        assert cache.stats().refreshes == (1 if ahead else 0)


async def test_a_decrypt_entry_serves_the_cached_answer(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_age=60.0)
    blob = (await kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256"))["CiphertextBlob"]
    buffer = bytearray(blob)
    entry = cache.decrypt_entry(kms, CiphertextBlob=buffer, EncryptionContext=CONTEXT)
    buffer[:] = bytes(len(buffer))  # copied when the entry was made
    assert entry.take() is None
    fetched = await entry.fetch()
    assert bytes(fetched.plaintext) == keys.plaintexts[blob] and fetched.ciphertext_blob is None
    hit = entry.take()
    assert hit is not None and hit.plaintext == fetched.plaintext
    assert (await cache.decrypt(kms, CiphertextBlob=blob, EncryptionContext=CONTEXT))[
        "Plaintext"
    ] == bytes(fetched.plaintext)
    assert keys.decrypted == 1


async def test_entries_of_a_closed_cache_hand_out_nothing(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    entry = cache.generate_entry(kms, KeyId="alias/app", KeySpec="AES_256")
    decrypting = cache.decrypt_entry(kms, CiphertextBlob=b"blob")
    await entry.fetch()
    await cache.close()
    assert entry.take() is None and decrypting.take() is None
    for handle in (entry, decrypting):
        with pytest.raises(RuntimeError, match="closed"):
            await handle.fetch()


async def test_an_entry_checks_its_arguments(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_bytes=100)
    entry = cache.generate_entry(kms, KeyId="alias/app", KeySpec="AES_256")
    for length in (-1, 1.5, "10", True):
        with pytest.raises(ValueError, match=r"^plaintext_length: "):
            entry.take(length)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^plaintext_length: "):
            await entry.fetch(length)  # type: ignore[arg-type]
    assert entry.take(None) is None  # unknown under a byte limit: never from the cache
    uncached = await entry.fetch(None)
    assert cache.stats().bypasses == 1 and uncached.plaintext
    with pytest.raises(TypeError, match="EncryptionContext"):
        cache.generate_entry(kms, KeyId="k", EncryptionContext={"a": ["unhashable"]})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="CiphertextBlob"):
        cache.decrypt_entry(kms, CiphertextBlob="text")  # type: ignore[arg-type]
    assert "GrantTokens" not in repr(entry) and repr(entry) == "<GenerateEntry KeyId='alias/app'>"


# --- keys of entries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        {"EncryptionContext": {"tenant": "b"}},
        {"EncryptionContext": {"tenant": "a", "extra": "1"}},
        {"EncryptionContext": None},
        {"KeyId": "alias/other"},
        {"KeySpec": "AES_128"},
        {"KeySpec": None, "NumberOfBytes": 32},
        {"GrantTokens": ["token"]},
        {"partition": "other"},
    ],
    ids=lambda other: ",".join(other),
)
async def test_entries_differing_in_anything_that_changes_the_answer_never_share(
    kms: aiokms.KMSClient,
    keys: Keys,
    make_cache: Callable[..., DataKeyCache],
    other: dict[str, Any],
) -> None:
    cache = make_cache()
    first = await gdk(cache, kms)
    second = await gdk(cache, kms, **other)
    assert first["CiphertextBlob"] != second["CiphertextBlob"]
    assert first["Plaintext"] != second["Plaintext"]
    assert keys.generated == 2
    assert completes_at_once(gdk(cache, kms)) == first


async def test_contexts_and_grant_tokens_match_in_any_order(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    first = await gdk(cache, kms, EncryptionContext={"a": "1", "b": "2"}, GrantTokens=["x", "y"])
    second = completes_at_once(
        gdk(cache, kms, EncryptionContext={"b": "2", "a": "1"}, GrantTokens=["y", "x"])
    )
    assert first == second
    no_context = await gdk(cache, kms, EncryptionContext=None)
    assert completes_at_once(gdk(cache, kms, EncryptionContext={})) == no_context


async def test_two_clients_never_share_an_entry(
    fake: FakeKMS, kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    async with aiokms.KMSClient(
        region_name=fake.region,
        endpoint_url=fake.url,
        credentials=aiokms.Credentials(ACCESS_KEY, fake.secret_key),
    ) as other:
        first = await gdk(cache, kms)
        second = await gdk(cache, other)
    assert first["CiphertextBlob"] != second["CiphertextBlob"]


async def test_an_entry_dies_with_its_client_and_a_new_client_never_inherits_it(
    fake: FakeKMS, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    blobs = []
    for _ in range(2):
        async with aiokms.KMSClient(
            region_name=fake.region,
            endpoint_url=fake.url,
            credentials=aiokms.Credentials(ACCESS_KEY, fake.secret_key),
        ) as client:
            blobs.append((await gdk(cache, client))["CiphertextBlob"])
        del client
        gc.collect()
    assert blobs[0] != blobs[1] and len(cache._clients) == 0


class SlottedClient:
    """A client that cannot be weakly referenced: the cache must still key entries by it."""

    __slots__ = ("inner",)

    def __init__(self, inner: aiokms.KMSClient) -> None:
        self.inner = inner

    async def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
        return await self.inner.generate_data_key(**kwargs)

    async def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        return await self.inner.decrypt(**kwargs)


async def test_clients_that_cannot_be_weakly_referenced_are_kept_apart_too(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    one, two = SlottedClient(kms), SlottedClient(kms)
    first = await gdk(cache, one)
    assert completes_at_once(gdk(cache, one)) == first
    second = await gdk(cache, two)
    assert first["CiphertextBlob"] != second["CiphertextBlob"] and keys.generated == 2
    cache.clear()
    assert not cache._pinned


async def test_unhashable_arguments_are_left_to_the_clients_validation(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    with pytest.raises(ParamValidationError):
        await gdk(cache, kms, EncryptionContext={"tenant": ["a"]})
    assert cache.stats().bypasses == 1 and keys.generated == 0


async def test_other_arguments_go_to_kms_uncached(
    kms: aiokms.KMSClient, fake: FakeKMS, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    cached = await gdk(cache, kms)
    other = await gdk(cache, kms, DryRun=False)
    assert fake.requests[-1].json["DryRun"] is False
    assert other["CiphertextBlob"] != cached["CiphertextBlob"]
    assert cache.stats().bypasses == 1 and keys.generated == 2
    keys.fail_with = "DryRunOperationException"
    with pytest.raises(ClientError):
        await cache.decrypt(kms, CiphertextBlob=cached["CiphertextBlob"], DryRun=True)
    assert cache.stats().bypasses == 2 and cache.stats().errors == 1


# --- capacity, clear, close --------------------------------------------------------------------


async def test_capacity_evicts_the_least_recently_used_and_wipes_it(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(capacity=2)
    a = await gdk(cache, kms, partition="a")
    await gdk(cache, kms, partition="b")
    (b_buffer,) = [
        slot.current.plaintext
        for key, slot in cache._entries.items()  # (this walk reorders: look before the touch)
        if "b" in key and slot.current is not None  # type: ignore[operator]
    ]
    completes_at_once(gdk(cache, kms, partition="a"))  # a is now the most recently used
    await gdk(cache, kms, partition="c")
    assert cache.stats().evictions == 1 and cache.stats().entries == 2
    assert not any(b_buffer)  # overwritten
    assert completes_at_once(gdk(cache, kms, partition="a")) == a
    await gdk(cache, kms, partition="b")
    assert keys.generated == 4


async def test_clear_wipes_every_key_and_forgets_calls_under_way(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    first = await gdk(cache, kms)
    buffers = wipes_of(cache)
    gate = keys.hold()
    waiting = asyncio.create_task(gdk(cache, kms, partition="other"))
    await keys.arrived(2)
    cache.clear()
    assert buffers and not any(any(b) for b in buffers)
    assert cache.stats().entries == 0
    gate.set()
    await waiting  # answered, but not cached: it was asked for before the clear
    assert cache.stats().entries == 0
    again = await gdk(cache, kms)
    assert again["CiphertextBlob"] != first["CiphertextBlob"]


async def test_close_cancels_background_work_and_fails_waiters_cleanly(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_messages=10, refresh_ahead=0.5)
    await gdk(cache, kms)
    gate = keys.hold()
    for _ in range(4):
        completes_at_once(gdk(cache, kms))
    waiting = asyncio.create_task(gdk(cache, kms, partition="other"))
    await keys.arrived(3)  # the refresh and the other miss are both at KMS
    buffers = wipes_of(cache)
    assert cache.stats().in_flight == 2
    await cache.close()
    assert not cache._tasks and cache.stats().in_flight == 0
    assert not any(any(b) for b in buffers)
    with pytest.raises(RuntimeError, match="closed while this call waited"):
        await waiting
    with pytest.raises(RuntimeError, match="closed"):
        await gdk(cache, kms)
    with pytest.raises(RuntimeError, match="closed"):
        await cache.decrypt(kms, CiphertextBlob=b"x")
    await cache.close()  # idempotent
    gate.set()


async def test_async_with_closes(kms: aiokms.KMSClient, keys: Keys) -> None:
    async with DataKeyCache() as cache:
        await gdk(cache, kms)
    assert "closed" in repr(cache)
    with pytest.raises(RuntimeError):
        async with cache:
            pass


# --- decrypt -----------------------------------------------------------------------------------


async def test_decrypt_is_cached_and_keyed_by_context(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    blob = (await kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256"))["CiphertextBlob"]
    first = await cache.decrypt(kms, CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert first["Plaintext"] == keys.plaintexts[blob]
    assert first["KeyId"] == KEY_ARN and first["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    again = completes_at_once(
        cache.decrypt(kms, CiphertextBlob=bytearray(blob), EncryptionContext=CONTEXT)
    )
    assert again == first
    await cache.decrypt(kms, CiphertextBlob=blob, EncryptionContext={"tenant": "b"})
    await cache.decrypt(kms, CiphertextBlob=blob, EncryptionContext=CONTEXT, partition="p")
    assert keys.decrypted == 3


async def test_concurrent_decrypts_make_one_call_and_expire_with_max_age(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(max_age=60.0, max_messages=1)
    blob = (await kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256"))["CiphertextBlob"]
    gate = keys.hold()
    calls = [asyncio.create_task(cache.decrypt(kms, CiphertextBlob=blob)) for _ in range(50)]
    await keys.arrived(2)
    gate.set()
    results = await asyncio.gather(*calls)
    assert keys.decrypted == 1 and len({r["Plaintext"] for r in results}) == 1
    clock.advance(59.9)
    completes_at_once(cache.decrypt(kms, CiphertextBlob=blob))  # max_messages is no limit here
    buffers = wipes_of(cache)
    clock.advance(0.1)
    await cache.decrypt(kms, CiphertextBlob=blob)
    assert keys.decrypted == 2 and not any(any(b) for b in buffers)


async def test_a_failed_decrypt_is_not_cached(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache()
    for _ in range(2):
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            await cache.decrypt(kms, CiphertextBlob=b"not a blob")
    assert keys.decrypted == 2 and cache.stats().entries == 0


# --- other clients -----------------------------------------------------------------------------


async def test_an_aiobotocore_client_works_too(
    fake: FakeKMS, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    from aiobotocore.session import get_session

    cache = make_cache()
    async with get_session().create_client(
        "kms",
        region_name=fake.region,
        endpoint_url=fake.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=fake.secret_key,
    ) as client:
        first = await gdk(cache, client)
        assert completes_at_once(gdk(cache, client)) == first
        plain = await cache.decrypt(client, CiphertextBlob=first["CiphertextBlob"])
    assert plain["Plaintext"] == first["Plaintext"]
    assert keys.generated == 1 and keys.decrypted == 1


# --- stats, repr, secrets, validation ----------------------------------------------------------


async def test_stats_and_repr_show_live_state_and_no_secret(
    kms: aiokms.KMSClient, keys: Keys, make_cache: Callable[..., DataKeyCache]
) -> None:
    cache = make_cache(capacity=1000)
    assert repr(cache) == "<DataKeyCache entries=0/1000 hits=0 misses=0 in_flight=0>"
    gate = keys.hold()
    waiting = asyncio.create_task(gdk(cache, kms))
    await keys.arrived(1)
    assert repr(cache) == "<DataKeyCache entries=0/1000 hits=0 misses=1 in_flight=1>"
    gate.set()
    result = await waiting
    for _ in range(3):
        await gdk(cache, kms)
    assert repr(cache) == "<DataKeyCache entries=1/1000 hits=3 misses=1 in_flight=0>"
    stats = cache.stats()
    assert isinstance(stats, CacheStats)
    assert stats == CacheStats(
        hits=3,
        misses=1,
        kms_calls=1,
        refreshes=0,
        bypasses=0,
        errors=0,
        evictions=0,
        entries=1,
        capacity=1000,
        in_flight=0,
    )
    with pytest.raises(AttributeError):
        stats.hits = 0  # type: ignore[misc]
    secret = result["Plaintext"]
    texts = [repr(cache), repr(cache._entries), repr(cache.budget), str(stats)]
    texts += [repr(slot) for slot in cache._entries.values()]
    for text in texts:
        assert secret.hex() not in text and repr(secret) not in text and "Plaintext" not in text


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 1.5}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"max_age": 0}, "max_age"),
        ({"max_age": float("inf")}, "max_age"),
        ({"max_age": float("nan")}, "max_age"),
        ({"max_age": "300"}, "max_age"),
        ({"max_messages": 0}, "max_messages"),
        ({"max_messages": 2**32 + 1}, "max_messages"),
        ({"max_messages": 1.0}, "max_messages"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_bytes": -1}, "max_bytes"),
        ({"refresh_ahead": 0}, "refresh_ahead"),
        ({"refresh_ahead": 1.5}, "refresh_ahead"),
        ({"max_ahead": 0}, "max_ahead"),
        ({"clock": 5}, "clock"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: "):
        DataKeyCache(**kwargs)


def test_limits_may_be_left_open() -> None:
    cache = DataKeyCache(max_messages=None, max_bytes=None, refresh_ahead=None)
    assert cache.budget.max_messages is None and cache.budget.refresh_ahead is None
    DataKeyCache(1, 0.5, 2**32, 1, refresh_ahead=1)


@pytest.mark.parametrize("length", [-1, 1.5, "10", True])
async def test_a_bad_plaintext_length_is_a_value_error(
    kms: aiokms.KMSClient, make_cache: Callable[..., DataKeyCache], length: Any
) -> None:
    with pytest.raises(ValueError, match=r"^plaintext_length: "):
        await gdk(make_cache(), kms, plaintext_length=length)
