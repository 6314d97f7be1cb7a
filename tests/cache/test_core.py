"""The DataKeyCache's sans-I/O core on its own: KeyBudget's arithmetic, a Slot's order and
pace, Entries' least-recently-used order, DataKey. Plain synchronous tests: time is an argument.
"""

from __future__ import annotations

import math
import random

import pytest

from aiokms._cache.core import DataKey, Entries, KeyBudget, Slot


def _key(born: float, uses: int = 0, nbytes: int = 0) -> DataKey:
    key = DataKey({"Plaintext": b"k" * 32, "CiphertextBlob": b"c", "KeyId": "arn:k"}, born)
    key.uses, key.bytes = uses, nbytes
    return key


# --- DataKey ------------------------------------------------------------------------------------


def test_a_data_key_keeps_the_answer_and_hands_out_copies() -> None:
    answer = {
        "Plaintext": b"p" * 32,
        "CiphertextBlob": b"blob",
        "KeyId": "arn:k",
        "ResponseMetadata": {"RequestId": "r"},
    }
    key = DataKey(answer, born=5.0)
    assert (key.ciphertext_blob, key.key_id, key.born) == (b"blob", "arn:k", 5.0)
    assert key.plaintext == bytearray(b"p" * 32) and type(key.plaintext) is bytearray
    out = key.response()
    assert out == answer and type(out["Plaintext"]) is bytes
    out["ResponseMetadata"]["RequestId"] = "changed"
    assert key.response()["ResponseMetadata"] == {"RequestId": "r"}
    odd = DataKey({"Plaintext": "not bytes", "KeyId": 7})
    assert odd.plaintext == bytearray() and odd.key_id is None and odd.ciphertext_blob is None


def test_a_wiped_key_holds_nothing() -> None:
    key = _key(0.0)
    buffer = key.plaintext
    key.wipe()
    assert buffer == bytearray() and key.plaintext is buffer
    assert "kkkk" not in repr(key)


# --- KeyBudget: what a key may serve -----------------------------------------------------------


def test_a_budget_admits_within_every_limit_and_nothing_past_them() -> None:
    budget = KeyBudget(max_age=10.0, max_messages=3, max_bytes=100, refresh_ahead=None)
    assert budget.admits(_key(0.0, 2, 60), 9.99, 40)
    assert not budget.admits(_key(0.0, 2, 60), 10.0, 0)  # age
    assert not budget.admits(_key(0.0, 3, 0), 1.0, 0)  # uses
    assert not budget.admits(_key(0.0, 0, 60), 1.0, 41)  # bytes
    assert budget.cacheable(100) and not budget.cacheable(101) and not budget.cacheable(None)
    assert KeyBudget(10.0).cacheable(None)
    assert not budget.refresh_due(_key(0.0, 3, 100), 9.9, 0, 1000.0, 0.0)  # refresh off


# --- KeyBudget: KMS's latency ------------------------------------------------------------------


def test_the_latency_envelopes_move_as_documented() -> None:
    budget = KeyBudget(100.0, 10, None, 0.8)
    assert budget.lead == 0.0 and budget.pace_window == 1.0  # nothing seen yet
    budget.observe(0.5)
    assert budget.lead == 1.0  # twice the slowest recently seen
    budget.observe(0.0)
    assert budget.lead == pytest.approx(0.9)  # falls back slowly
    budget.observe(2.0)
    assert budget.lead == 4.0 and budget.pace_window == 8.0  # jumps to a slower call
    # The fast envelope jumped down to 0.0 and rose 10% of the way to 2.0: a pace of 100
    # uses/s spends 0.2 * 100 / 10 = 2 budgets per call at that latency.
    assert budget.keys_ahead(100.0, 0.0) == 2


# --- KeyBudget: fetching ahead -----------------------------------------------------------------


def test_the_first_key_ahead_comes_at_the_share_or_within_the_lead_of_the_age_limit() -> None:
    budget = KeyBudget(max_age=100.0, max_messages=10, max_bytes=1000, refresh_ahead=0.8)
    assert not budget.refresh_due(_key(0.0, 7, 799), 79.9, 0, 0.0, 0.0)
    assert budget.refresh_due(_key(0.0, 8, 0), 0.0, 0, 0.0, 0.0)
    assert budget.refresh_due(_key(0.0, 0, 800), 0.0, 0, 0.0, 0.0)
    assert budget.refresh_due(_key(0.0, 0, 0), 80.0, 0, 1.0, 0.0)  # in use: once a second
    assert not budget.refresh_due(_key(0.0, 9, 999), 99.0, 1, 0.0, 0.0)  # one is coming
    budget.observe(0.5)  # lead: 1 s
    assert budget.refresh_due(_key(50.0, 0, 0), 149.0, 0, 1.0, 0.0)  # within the lead of 150
    assert not budget.refresh_due(_key(50.0, 0, 0), 129.0, 0, 0.0, 0.0)


def test_by_age_a_key_is_followed_ahead_only_if_its_pace_expects_another_use_of_it() -> None:
    """A key fetched ahead ages while it waits: where uses come so seldom that the current key
    expires before the next one, the key fetched for it would be as old at its first use, and
    fetch ahead again then -- one KMS call per use instead of one per key's age."""
    budget = KeyBudget(max_age=300.0, max_messages=10, refresh_ahead=0.8)
    assert budget.refresh_due(_key(0.0, 1), 250.0, 0, 1 / 50, 0.0)  # next use at 300: due
    assert not budget.refresh_due(_key(0.0, 1), 250.0, 0, 1 / 51, 0.0)  # next at 301: not
    assert not budget.refresh_due(_key(0.0, 1), 250.0, 0, 0.0, 0.0)  # no pace known
    assert not budget.refresh_due(_key(0.0, 1), 299.0, 0, 1 / 2, 0.0)
    assert budget.refresh_due(_key(0.0, 8), 1.0, 0, 0.0, 0.0)  # uses and bytes: as before
    budget.observe(0.5)  # lead: 1 s
    assert budget.refresh_due(_key(0.0, 1), 299.5, 0, 2.0, 0.0)  # within the lead, in use
    assert not budget.refresh_due(_key(0.0, 1), 299.5, 0, 1.0, 0.0)


def test_the_first_key_ahead_comes_sooner_at_a_pace_that_would_outrun_the_share() -> None:
    budget = KeyBudget(max_age=300.0, max_messages=100, refresh_ahead=0.8)
    budget.observe(2.0)  # lead: 4 s
    # At 10 uses/s the last 40 uses last the lead: due from the 60th use, not the 80th.
    assert not budget.refresh_due(_key(0.0, 59), 5.0, 0, 10.0, 0.0)
    assert budget.refresh_due(_key(0.0, 60), 5.0, 0, 10.0, 0.0)
    # A key that lasts longer than one KMS call needs no second key ahead.
    assert not budget.refresh_due(_key(0.0, 99), 5.0, 1, 10.0, 0.0)


def test_more_keys_ahead_only_for_the_budgets_the_pace_spends_per_kms_call() -> None:
    budget = KeyBudget(max_age=300.0, max_messages=10, max_bytes=None, refresh_ahead=0.8)
    budget.observe(1.0)  # lead 2 s; fastest 1 s
    assert [budget.keys_ahead(pace, 0.0) for pace in (0, 5, 10, 10.9, 12, 45, 1000)] == [
        1,  # no pace known: one, at the share
        1,
        1,  # one budget per call: the key coming covers it
        1,  # within a tenth of a budget of it
        2,
        5,
        8,  # at most max_ahead
    ]
    for ahead in range(1, 5):  # at 45 uses/s: five ahead, each as soon as the lead asks
        assert budget.refresh_due(_key(0.0, 1), 0.0, ahead, 45.0, 0.0)
    assert not budget.refresh_due(_key(0.0, 9), 0.0, 5, 45.0, 0.0)
    bytes_budget = KeyBudget(max_age=300.0, max_bytes=1000, refresh_ahead=0.8)
    bytes_budget.observe(1.0)
    assert bytes_budget.keys_ahead(0.0, 3000.0) == 3


@pytest.mark.parametrize("seed", range(20))
def test_quiet_bounds_never_hide_a_refresh(seed: int) -> None:
    """Within the bounds quiet_bounds gives, refresh_due stays False: checked on random
    budgets, keys, latencies, paces and later uses, bytes and times (the uses, bytes and times
    that make the answer True are also met, so the check is not vacuous)."""
    rng = random.Random(seed)
    found_true = hidden = 0
    for _ in range(300):
        budget = KeyBudget(
            max_age=rng.choice([1.0, 60.0, 300.0]),
            max_messages=rng.choice([None, 1, 10, 1000, 2**32]),
            max_bytes=rng.choice([None, 100, 2**20]),
            refresh_ahead=rng.choice([None, 0.25, 0.5, 1.0]),
            max_ahead=rng.choice([1, 2, 8]),
        )
        for _ in range(rng.randrange(0, 3)):
            budget.observe(rng.choice([0.0001, 0.01, 0.3]))
        born = rng.uniform(0.0, 100.0)
        key = _key(born, rng.randrange(0, 50), rng.randrange(0, 5000))
        now = born + rng.choice([0.0, rng.uniform(0.0, 2.0)])
        ahead = rng.randrange(0, 3)
        pace_uses = rng.choice([0.0, 1.0, 100.0, 1e5])
        pace_bytes = rng.choice([0.0, 1e3, 1e6])
        if budget.refresh_due(key, now, ahead, pace_uses, pace_bytes):
            continue
        uses, used_bytes, until = budget.quiet_bounds(key, now, ahead, pace_uses, pace_bytes)
        for _ in range(20):
            later = _key(born, key.uses + rng.randrange(0, 60), key.bytes + rng.randrange(0, 6000))
            later_now = now + rng.choice([0.0, rng.uniform(0.0, 3.0), rng.uniform(0.0, 400.0)])
            due = budget.refresh_due(later, later_now, ahead, pace_uses, pace_bytes)
            found_true += due
            if later.uses < uses and later.bytes < used_bytes and later_now < until:
                hidden += 1
                assert not due, (budget, key.uses, key.bytes, now, ahead, later.uses, later_now)
    assert found_true > 10 and hidden > 100


def test_quiet_bounds_are_wide_enough_to_help() -> None:
    budget = KeyBudget(max_age=300.0, max_messages=10_000, max_bytes=None, refresh_ahead=0.5)
    budget.observe(0.01)
    key = _key(0.0, 100, 100 * 1024)
    uses, used_bytes, until = budget.quiet_bounds(key, 1.0, 0, 100.0, 102_400.0)
    assert uses == 5000 and used_bytes == math.inf and until == pytest.approx(150.0)
    # a pace that spends the budget within the lead: the bound is where the lead begins
    budget.observe(10.0)  # lead 20 s
    uses, _, _ = budget.quiet_bounds(key, 1.0, 0, 400.0, 0.0)
    assert uses == pytest.approx(10_000 - 400 * 20 - 1)


# --- Slot ---------------------------------------------------------------------------------------


def test_a_slot_hands_out_its_keys_in_arrival_order_each_to_the_end_of_its_budget() -> None:
    budget = KeyBudget(max_age=10.0, max_messages=3)
    first, second, third = _key(0.0), _key(0.0, uses=1), _key(0.0)  # second: one reserved
    slot = Slot(0.0)
    assert slot.install(first, room=2) and slot.current is first
    assert slot.install(second, room=2) and slot.install(third, room=2)
    assert not slot.install(_key(0.0), room=2)  # two are waiting already
    handed = [slot.take(budget, 1.0, 0) for _ in range(8)]
    assert handed == [first] * 3 + [second] * 2 + [third] * 3
    assert slot.take(budget, 1.0, 0) is None and slot.empty()
    assert not first.plaintext and not second.plaintext and not third.plaintext  # wiped
    assert slot.served() == (9, 0)


def test_a_standby_past_its_age_is_retired_unused() -> None:
    budget = KeyBudget(max_age=10.0, max_messages=3)
    slot = Slot(0.0, _key(0.0, uses=3))
    old, young = _key(0.0), _key(5.0)
    slot.install(old, room=8)
    slot.install(young, room=8)
    assert slot.take(budget, 12.0, 0) is young
    assert not old.plaintext


def test_a_slot_measures_its_pace_over_whole_windows() -> None:
    budget = KeyBudget(max_age=100.0, max_messages=4)
    slot = Slot(10.0, _key(10.0))
    slot.install(_key(10.0, uses=2), room=8)  # two uses reserved by callers who waited
    for _ in range(5):
        slot.take(budget, 10.5, 100)
    slot.measure(10.9, window=1.0)
    assert (slot.pace_uses, slot.pace_bytes) == (0.0, 0.0)  # the window is not over
    slot.measure(12.0, window=1.0)
    assert slot.pace_uses == pytest.approx(7 / 2.0) and slot.pace_bytes == pytest.approx(250.0)
    assert slot.window_at == 12.0
    slot.take(budget, 12.5, 0)
    slot.measure(14.0, window=1.0)
    assert slot.pace_uses == pytest.approx(1 / 2.0)


# --- Entries ------------------------------------------------------------------------------------


def test_repeated_hits_by_one_tag_object_keep_the_lru_order() -> None:
    entries = Entries(2)
    a, b, c = ("a",), ("b",), ("c",)
    slots = {tag: Slot(0.0, _key(0.0)) for tag in (a, b, c)}
    entries[a], entries[b] = slots[a], slots[b]
    assert entries[a] is entries[a] is slots[a]  # the second by the remembered entry
    entries[c] = slots[c]  # evicts b, the least recently used
    assert list(entries) == [a, c]
    assert slots[b].current is None  # its key wiped
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
    assert entries.evictions == 2 and repr(entries) == "<entries 0/2>"
