"""DataKeyCache against an in-process KMS on 127.0.0.1 that counts its calls.

Time is an injected clock, waits are events: no test sleeps or measures speed. A call that must
not wait on KMS is driven by hand (``completes_at_once``): it has to finish without suspending.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import math
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
from aiohttp import web
from botocore.exceptions import ClientError, ParamValidationError

import aiokms
from aiokms._cache import CacheStats, DataKeyCache, Policy, _DataKey, _Entries, _Slot
from tests.fake_kms import ACCESS_KEY, FakeKMS, Recorded

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = {"tenant": "a"}
GUARD = 10.0  # seconds before a wait that should end at once is declared hung


# --- the KMS side ------------------------------------------------------------------------------


class Keys:
    """GenerateDataKey and Decrypt for the fake KMS: a new key per call; calls can be held."""

    def __init__(self, fake: FakeKMS, clock: FakeClock | None = None) -> None:
        self.plaintexts: dict[bytes, bytes] = {}
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


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
    cache = make_cache(max_age=10.0, refresh_ahead=0.8)
    first = await gdk(cache, kms)
    clock.advance(7.9)
    completes_at_once(gdk(cache, kms))
    assert cache.stats().refreshes == 0
    clock.advance(0.1)
    assert completes_at_once(gdk(cache, kms)) == first
    assert cache.stats().refreshes == 1
    await settle(cache)
    clock.advance(1.999)
    assert completes_at_once(gdk(cache, kms)) == first
    clock.advance(0.001)  # first is 10 s old: the standby (2 s old) takes over
    second = completes_at_once(gdk(cache, kms))
    assert second["CiphertextBlob"] != first["CiphertextBlob"]
    clock.advance(7.999)  # the standby's age counts from its arrival, not from taking over
    assert completes_at_once(gdk(cache, kms)) == second  # 9.999 s old: asks for a third
    await settle(cache)
    clock.advance(0.001)
    third = completes_at_once(gdk(cache, kms))
    assert third["CiphertextBlob"] != second["CiphertextBlob"]
    assert keys.generated == 3


async def test_refresh_ahead_at_the_pace_of_use(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    keys.latency = 2.0  # each KMS call takes 2 s on the injected clock: lead = 4 s
    cache = make_cache(max_messages=100, refresh_ahead=0.8)
    await gdk(cache, kms)
    assert cache.policy.lead == 4.0
    for _ in range(58):
        clock.advance(0.1)
        completes_at_once(gdk(cache, kms))
    # 59 uses in 5.8 s: at that pace the 41 left last 4.03 s, just over the lead.
    assert cache.stats().refreshes == 0
    clock.advance(0.1)
    completes_at_once(gdk(cache, kms))
    # 60 uses in 5.9 s: the 40 left last 3.93 s, within it -- long before the 80-use share.
    assert cache.stats().refreshes == 1


async def test_a_budget_spent_faster_than_kms_answers_is_fetched_several_keys_ahead(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    keys.latency = 1.0  # lead = 2 s; the stream below spends a 10-use key every 0.1 s
    cache = make_cache(max_messages=10)
    results = [await gdk(cache, kms)]
    gate = keys.hold()
    for expected in [1, 2, 3, 4, 5, 6, 7, 8, 8]:
        clock.advance(0.01)
        results.append(completes_at_once(gdk(cache, kms)))
        assert cache.stats().refreshes == expected  # one more key per use, up to max_ahead
    assert cache.policy.max_ahead == 8 and cache.stats().in_flight == 8
    gate.set()
    await settle(cache)
    keys.latency = 0.0
    for _ in range(80):  # the keys fetched ahead, each served to the end of its budget
        clock.advance(0.01)
        results.append(completes_at_once(gdk(cache, kms)))
    uses = Counter(r["CiphertextBlob"] for r in results)
    assert len(uses) == 9 and set(uses.values()) == {10}
    assert cache.stats().misses == 1


async def test_max_ahead_1_fetches_only_the_next_key(
    kms: aiokms.KMSClient, keys: Keys, clock: FakeClock, make_cache: Callable[..., DataKeyCache]
) -> None:
    keys.latency = 1.0
    cache = make_cache(max_messages=10, max_ahead=1)
    await gdk(cache, kms)
    keys.hold()
    for _ in range(9):
        clock.advance(0.01)
        completes_at_once(gdk(cache, kms))
    assert cache.stats().refreshes == 1


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


async def test_a_slower_kms_call_elsewhere_brings_a_refresh_forward(
    make_cache: Callable[..., DataKeyCache], keys: Keys, kms: aiokms.KMSClient
) -> None:
    """Hits skip the refresh arithmetic only while its inputs stand: a slow call for another
    entry raises the latency estimate, and the next hit on this one sees it."""
    cache = make_cache(max_messages=100, refresh_ahead=1.0)
    await gdk(cache, kms)  # KMS answers at once on the test's clock: no lead yet
    for _ in range(39):
        completes_at_once(gdk(cache, kms))
    assert cache.stats().refreshes == 0
    keys.latency = 10.0
    await gdk(cache, kms, EncryptionContext={"other": "entry"})
    # 41 uses in 10 s: the other 59 would last 14 s, within the 20 s lead now
    completes_at_once(gdk(cache, kms))
    assert cache.stats().refreshes == 1


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


def test_repeated_hits_by_one_key_object_keep_the_lru_order() -> None:
    entries = _Entries(2)
    a, b, c = ("a",), ("b",), ("c",)
    slots = {key: _Slot() for key in (a, b, c)}
    entries[a], entries[b] = slots[a], slots[b]
    assert entries[a] is entries[a] is slots[a]  # the second by the remembered entry
    entries[c] = slots[c]  # evicts b, the least recently used
    assert list(entries) == [a, c]
    assert entries[a] is slots[a]
    entries[b] = slots[b]  # evicts c: a was used after it
    assert list(entries) == [a, b]
    assert entries[a] is slots[a]
    del entries[a]
    with pytest.raises(KeyError):
        entries[a]  # not served from memory once removed
    assert entries[b] is slots[b]
    entries.clear()
    with pytest.raises(KeyError):
        entries[b]
    assert entries.evictions == 2


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
    texts = [repr(cache), repr(cache._entries), repr(cache.policy), str(stats)]
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
    assert cache.policy.max_messages is None and cache.policy.refresh_ahead is None
    DataKeyCache(1, 0.5, 2**32, 1, refresh_ahead=1)


@pytest.mark.parametrize("length", [-1, 1.5, "10", True])
async def test_a_bad_plaintext_length_is_a_value_error(
    kms: aiokms.KMSClient, make_cache: Callable[..., DataKeyCache], length: Any
) -> None:
    with pytest.raises(ValueError, match=r"^plaintext_length: "):
        await gdk(make_cache(), kms, plaintext_length=length)


# --- the policy on its own ---------------------------------------------------------------------


def _key(now: float, uses: int = 0, nbytes: int = 0) -> _DataKey:
    key = _DataKey({"Plaintext": b"k" * 32, "CiphertextBlob": b"c"}, now)
    key.uses, key.bytes = uses, nbytes
    return key


def test_policy_admits_within_every_limit_and_nothing_past_them() -> None:
    policy = Policy(max_age=10.0, max_messages=3, max_bytes=100, refresh_ahead=None)
    assert policy.admits(_key(0.0, 2, 60), 9.99, 40)
    assert not policy.admits(_key(0.0, 2, 60), 10.0, 0)  # age
    assert not policy.admits(_key(0.0, 3, 0), 1.0, 0)  # uses
    assert not policy.admits(_key(0.0, 0, 60), 1.0, 41)  # bytes
    assert policy.cacheable(100) and not policy.cacheable(101) and not policy.cacheable(None)
    assert Policy(10.0, None, None, None).cacheable(None)
    assert not policy.wants_refresh(_key(0.0, 3, 100), 9.9)  # refresh off


def test_policy_refresh_thresholds() -> None:
    policy = Policy(max_age=100.0, max_messages=10, max_bytes=1000, refresh_ahead=0.8)
    assert not policy.wants_refresh(_key(0.0, 7, 799), 79.9)
    assert policy.wants_refresh(_key(0.0, 8, 0), 0.0)
    assert policy.wants_refresh(_key(0.0, 0, 800), 0.0)
    assert policy.wants_refresh(_key(0.0, 0, 0), 80.0)


def test_policy_latency_estimate_jumps_up_and_decays_slowly() -> None:
    policy = Policy(100.0, None, None, 0.8)
    policy.observe(0.5)
    assert policy.lead == 1.0
    policy.observe(0.0)
    assert policy.lead == pytest.approx(0.9)
    assert policy.wants_refresh(_key(0.0), 99.2)  # within the lead of max_age
    assert not policy.wants_refresh(_key(0.0), 79.0)


@pytest.mark.parametrize("seed", range(20))
def test_policy_quiet_bounds_never_hide_a_refresh(seed: int) -> None:
    """Within the bounds quiet_bounds gives, wants_refresh stays False: checked on random
    policies, keys, latencies and later uses, bytes and times (the uses, bytes and times
    that make the answer True are also met, so the check is not vacuous)."""
    rng = random.Random(seed)
    found_true = hidden = 0
    for _ in range(300):
        policy = Policy(
            max_age=rng.choice([1.0, 60.0, 300.0]),
            max_messages=rng.choice([None, 1, 10, 1000, 2**32]),
            max_bytes=rng.choice([None, 100, 2**20]),
            refresh_ahead=rng.choice([None, 0.25, 0.5, 1.0]),
            max_ahead=rng.choice([1, 2, 8]),
        )
        if rng.random() < 0.8:
            policy.observe(rng.choice([0.0001, 0.01, 0.3]))
        born = rng.uniform(0.0, 100.0)
        key = _key(born, rng.randrange(0, 50), rng.randrange(0, 5000))
        key.since = born + rng.choice([0.0, 0.0, rng.uniform(0.0, 1.0)])
        now = key.since + rng.choice([0.0, rng.uniform(0.0, 2.0)])
        ahead = rng.randrange(0, 3)
        if policy.wants_refresh(key, now, ahead):
            continue
        uses, used_bytes, until = policy.quiet_bounds(key, now, ahead)
        for _ in range(20):
            later = _key(born, key.uses + rng.randrange(0, 60), key.bytes + rng.randrange(0, 6000))
            later.since = key.since
            later_now = now + rng.choice([0.0, rng.uniform(0.0, 3.0), rng.uniform(0.0, 400.0)])
            due = policy.wants_refresh(later, later_now, ahead)
            found_true += due
            if later.uses < uses and later.bytes < used_bytes and later_now < until:
                hidden += 1
                assert not due, (policy, key.uses, key.bytes, now, ahead, later.uses, later_now)
    assert found_true > 100 and hidden > 100


def test_policy_quiet_bounds_are_wide_enough_to_help() -> None:
    policy = Policy(max_age=300.0, max_messages=10_000, max_bytes=None, refresh_ahead=0.5)
    policy.observe(0.01)
    key = _key(0.0, 100, 100 * 1024)
    uses, used_bytes, until = policy.quiet_bounds(key, 1.0, 0)  # 100 uses/s, 300 s to go
    assert uses == 5000 and used_bytes == math.inf and until == pytest.approx(150.0)
    key.since = 1.0  # no pace yet: ask at the next use
    assert policy.quiet_bounds(key, 1.0, 0)[:2] == (0.0, 0.0)
    # a pace that spends the budget within the lead: the bound is close
    policy.observe(10.0)
    key.since = 0.0
    uses, _, _ = policy.quiet_bounds(key, 1.0, 1)
    assert 100 < uses < 2 * 10_000 * 1.0 / 21.0


def test_a_wiped_key_holds_nothing() -> None:
    key = _key(0.0)
    buffer = key.plaintext
    key.wipe()
    assert buffer == bytearray() and key.plaintext is buffer
    assert "kkkk" not in repr(key)
