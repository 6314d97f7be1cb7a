"""The DataKeyCache's sans-I/O core: data keys, their budget, and the entries that hold them.

How this works
==============

Nothing here awaits or reads a clock: every method that depends on time takes ``now``.

* A :class:`DataKey` is one KMS answer: its plaintext in a wipeable ``bytearray``, and the
  uses and bytes counted against its budget.
* :class:`KeyBudget` is the arithmetic of a data key's budget. A key may be handed out while it
  is younger than ``max_age`` (counted from its arrival) and the hand-out keeps it within
  ``max_messages`` uses and ``max_bytes`` bytes. It also says when an entry should fetch a key
  ahead of need, and how many.
* A :class:`Slot` holds one cache entry's data keys: the *current* one, which serves, then the
  *standby* ones, in the order they arrived, each taking over when the one before is retired.
  So every key serves its whole budget (unless its age runs out) before the next serves at
  all. The slot also measures the entry's *pace*: uses and bytes per second over a window of
  at least :attr:`KeyBudget.pace_window` seconds.
* :class:`Entries` holds the slots by *tag* (everything in a call that can change KMS's
  answer), at most ``capacity`` of them, least recently used out first. Plaintext keys are
  zeroed when a key is retired, or its entry evicted or cleared.

Fetching ahead. With none coming, the next key is fetched once the current one has spent
``refresh_ahead`` of its uses or bytes, or would run out within :attr:`KeyBudget.lead` (twice
the slowest KMS latency recently seen) at the entry's pace; or has spent that share of its age,
or is that close to its age limit, while the pace expects another use of it. More keys are
fetched ahead only while the pace spends budgets faster than KMS answers: an entry has at most
as many keys coming or standing by as budgets its pace spends in one KMS call at the *fastest*
latency recently seen (rounded up, unless the excess is under a tenth of a budget; at least
one, at most ``max_ahead``).

Measuring against the fastest call is what keeps a caller that awaits each use (a loop, a pool
of workers) from fetching ever more: such a caller spends keys as fast as they come, so its
pace is what the keys it has allow -- with n keys coming, at most n budgets per KMS call, which
asks for no more than n. With one ahead it stays at one, and a stream that stops leaves at most
one key unused. A stream whose callers come at their own pace gets what that pace needs.

The pace is measured over windows long enough to mean something: hits never await, so a caller
spends a whole budget within microseconds and then waits on KMS; only over many such turns does
the pace tell how much the entry uses.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

from cachetools import LRUCache

__all__ = [
    "MAX_MESSAGES_LIMIT",
    "NOT_QUIET",
    "PACE_WINDOW",
    "DataKey",
    "Entries",
    "KeyBudget",
    "Slot",
    "Usage",
]

# The AWS Encryption SDK's ceiling on messages per data key: 2**32, the limit NIST SP 800-38D
# sets for AES-GCM with random 96-bit IVs under one key.
MAX_MESSAGES_LIMIT = 2**32

# The shortest window, in seconds, over which an entry's pace is measured (longer when KMS is
# slow: see KeyBudget.pace_window).
PACE_WINDOW = 1.0

# Not yet found: ask the budget. (uses, bytes, time, epoch): see DataKey.quiet.
NOT_QUIET = (0.0, 0.0, 0.0, -1)


class Usage:
    """Uses and bytes counted against one data key's budget (a key's, or a KMS call's)."""

    __slots__ = ("bytes", "uses")

    def __init__(self) -> None:
        self.uses = 0
        self.bytes = 0


class DataKey(Usage):
    """One data key from KMS: a GenerateDataKey or Decrypt answer.

    A :class:`~aiokms.DataKeyCache` entry's :meth:`~aiokms.DataKeyEntry.take` hands out the
    cache's own object: read its ``plaintext`` before the next ``await`` (the cache zeroes a key
    it retires) and never change or keep it. One from :meth:`~aiokms.DataKeyEntry.fetch` is the
    caller's own.

    Attributes:
        plaintext: the plaintext data key (empty once wiped, or when the answer had none).
        ciphertext_blob: the encrypted data key (GenerateDataKey answers), else ``None``.
        key_id: the ARN of the KMS key KMS used, else ``None``.
        born: when the key arrived, on the cache's clock; its age counts from then.
        uses: hand-outs counted against the key's budget so far; ``bytes`` likewise.
    """

    __slots__ = ("born", "ciphertext_blob", "fields", "key_id", "metadata", "plaintext", "quiet")

    def __init__(self, response: Mapping[str, Any], born: float = 0.0) -> None:
        super().__init__()
        fields = dict(response)
        plaintext = fields.pop("Plaintext", None)
        self.plaintext = (
            bytearray(plaintext)
            if isinstance(plaintext, (bytes, bytearray, memoryview))
            else bytearray()
        )
        metadata = fields.pop("ResponseMetadata", None)
        self.metadata: dict[str, Any] | None = metadata if isinstance(metadata, dict) else None
        self.fields = fields
        blob = fields.get("CiphertextBlob")
        self.ciphertext_blob: bytes | None = blob if isinstance(blob, bytes) else None
        key_id = fields.get("KeyId")
        self.key_id: str | None = key_id if isinstance(key_id, str) else None
        self.born = born
        # Bounds within which no refresh is due (KeyBudget.quiet_bounds) and the cache's epoch
        # they were found in: (uses, bytes, time, epoch). Kept here, where a hit looks first.
        self.quiet: tuple[float, float, float, int] = NOT_QUIET

    def response(self) -> dict[str, Any]:
        """The KMS answer as a dict of the caller's own, with a ``bytes`` copy of the plaintext."""
        out = dict(self.fields)
        out["Plaintext"] = bytes(self.plaintext)
        if self.metadata is not None:
            out["ResponseMetadata"] = dict(self.metadata)
        return out

    def wipe(self) -> None:
        """Overwrite the plaintext with zeros, then drop it, so a bug cannot hand out zeros."""
        plaintext = self.plaintext
        plaintext[:] = bytes(len(plaintext))  # same length: written in place, not reallocated
        plaintext.clear()

    def __repr__(self) -> str:
        return f"<DataKey uses={self.uses} bytes={self.bytes} wiped={not self.plaintext}>"


class KeyBudget:
    """A data key's budget: whether a key may be handed out, and when to fetch the next ones.

    Plain and synchronous; every method that depends on time takes ``now`` (seconds on the
    cache's clock). The arguments mean what :class:`~aiokms.DataKeyCache`'s do.

    Args:
        max_age: seconds a data key may be handed out after it arrived.
        max_messages: hand-outs per data key, or ``None`` for no limit.
        max_bytes: bytes per data key, or ``None`` for no limit.
        refresh_ahead: the share of a budget after which the next key is fetched, or ``None``.
        max_ahead: the most keys an entry fetches ahead of need.
    """

    __slots__ = (
        "_bytes_cap",
        "_fastest",
        "_latency",
        "_refresh_age",
        "_refresh_bytes",
        "_refresh_uses",
        "_uses_cap",
        "max_age",
        "max_ahead",
        "max_bytes",
        "max_messages",
        "refresh_ahead",
    )

    def __init__(
        self,
        max_age: float,
        max_messages: int | None = None,
        max_bytes: int | None = None,
        refresh_ahead: float | None = None,
        max_ahead: int = 8,
    ) -> None:
        self.max_age = float(max_age)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.refresh_ahead = refresh_ahead
        self.max_ahead = max_ahead
        self._uses_cap: float = math.inf if max_messages is None else max_messages
        self._bytes_cap: float = math.inf if max_bytes is None else max_bytes
        share = math.inf if refresh_ahead is None else refresh_ahead
        self._refresh_age = self.max_age * share
        self._refresh_uses = self._uses_cap * share
        self._refresh_bytes = self._bytes_cap * share
        # KMS's latency in two envelopes: the slow one (jumps to a slower call, falls back
        # slowly) says when to fetch, the fast one (the mirror image) how many keys.
        self._latency = 0.0
        self._fastest = 0.0

    def __repr__(self) -> str:
        return (
            f"<KeyBudget max_age={self.max_age} max_messages={self.max_messages} "
            f"max_bytes={self.max_bytes} refresh_ahead={self.refresh_ahead} "
            f"max_ahead={self.max_ahead}>"
        )

    # --- what a key may serve ------------------------------------------------------------------

    def cacheable(self, length: int | None) -> bool:
        """Whether a use of ``length`` bytes may share a key (not unknown under a byte limit)."""
        if length is None:
            return self.max_bytes is None
        return length <= self._bytes_cap

    def fits(self, usage: Usage, length: int) -> bool:
        """Whether one more use of ``length`` bytes keeps ``usage`` within the budget."""
        return usage.uses < self._uses_cap and usage.bytes + length <= self._bytes_cap

    def admits(self, key: DataKey, now: float, length: int) -> bool:
        """Whether ``key`` may be handed out now for ``length`` bytes."""
        return now - key.born < self.max_age and self.fits(key, length)

    def fresh(self, key: DataKey, now: float) -> bool:
        """Whether ``key`` is younger than ``max_age`` (Decrypt answers have no use budget)."""
        return now - key.born < self.max_age

    def reserve(self, usage: Usage, length: int) -> bool:
        """Count one use of ``length`` bytes against ``usage`` if it fits; say whether it did."""
        if usage.uses < self._uses_cap and usage.bytes + length <= self._bytes_cap:
            usage.uses += 1
            usage.bytes += length
            return True
        return False

    def release(self, usage: Usage, length: int) -> None:
        """Give back a reservation that will not be used (its caller was cancelled)."""
        usage.uses -= 1
        usage.bytes -= length

    # --- KMS's latency ---------------------------------------------------------------------------

    def observe(self, seconds: float) -> None:
        """Note how long a KMS call took."""
        fastest = self._fastest
        if seconds <= fastest or not self._latency:
            self._fastest = seconds
        else:
            self._fastest = fastest + 0.1 * (seconds - fastest)
        if seconds >= self._latency:
            self._latency = seconds
        else:
            self._latency += 0.1 * (seconds - self._latency)

    @property
    def lead(self) -> float:
        """Seconds before a key runs out at which its successor should be fetched: twice the
        latency recently seen (which jumps to a slower call and decays slowly)."""
        return 2.0 * self._latency

    @property
    def pace_window(self) -> float:
        """The shortest window, in seconds, over which an entry's pace is measured: long enough
        to span many of a waiting caller's turns of spending a key and waiting for the next."""
        return max(PACE_WINDOW, 4.0 * self._latency)

    # --- fetching ahead --------------------------------------------------------------------------

    def keys_ahead(self, pace_uses: float, pace_bytes: float) -> int:
        """How many keys an entry may have coming or standing by at a pace of ``pace_uses``
        uses and ``pace_bytes`` bytes per second: the budgets it spends in one KMS call at the
        fastest latency recently seen, rounded up unless the excess is under a tenth of a
        budget (for a pace measured over a window that a burst straddles); at least one, at
        most ``max_ahead``."""
        budgets = max(pace_uses / self._uses_cap, pace_bytes / self._bytes_cap) * self._fastest
        return max(1, min(self.max_ahead, math.ceil(budgets - 0.1)))

    def has_room(self, usage: Usage) -> bool:
        """Whether ``usage`` (a key, or a KMS call's reservations) has budget left for another
        use like those counted so far (as long as their average)."""
        uses = usage.uses
        if uses >= self._uses_cap:
            return False
        used_bytes = usage.bytes
        return used_bytes + (used_bytes / uses if uses else 0) <= self._bytes_cap

    def refresh_due(
        self, key: DataKey | None, now: float, ahead: int, pace_uses: float, pace_bytes: float
    ) -> bool:
        """Whether to fetch one more key to follow ``key`` (the current one; ``None`` while the
        entry has none and its callers wait), with ``ahead`` keys with room already coming or
        standing by, at the entry's pace (``pace_uses`` and ``pace_bytes`` per second).

        With none ahead: yes once ``key`` has spent ``refresh_ahead`` of its uses or bytes;
        or of its age, or it is within :attr:`lead` of its age limit, if the pace expects
        another use of it before that limit. (A key fetched ahead ages while it waits: where
        uses come so seldom that the current key expires before the next, the one fetched
        for it would be about as old at its first use, and be followed ahead in turn -- a
        KMS call per use, not per key.) With fewer than :meth:`keys_ahead`: yes when, at the
        pace, ``key`` and the keys ahead (at a whole budget each) would run out within
        :attr:`lead`.
        """
        if self.refresh_ahead is None or ahead >= self.max_ahead:
            return False
        lead = 2.0 * self._latency
        if key is None:
            uses = used_bytes = 0.0
            budgets = ahead
        else:
            uses, used_bytes = key.uses, key.bytes
            budgets = ahead + 1
        if key is not None and not ahead:
            if uses >= self._refresh_uses or used_bytes >= self._refresh_bytes:
                return True
            left = self.max_age - (now - key.born)  # seconds it may still serve
            if (
                left <= self.max_age - self._refresh_age or (lead > 0.0 and left <= lead)
            ) and pace_uses * left >= 1.0:
                return True
        if lead <= 0.0 or ahead >= self.keys_ahead(pace_uses, pace_bytes):
            return False
        if pace_uses > 0.0 and self._uses_cap * budgets - uses <= pace_uses * lead:
            return True
        return pace_bytes > 0.0 and self._bytes_cap * budgets - used_bytes <= pace_bytes * lead

    def quiet_bounds(
        self, key: DataKey, now: float, ahead: int, pace_uses: float, pace_bytes: float
    ) -> tuple[float, float, float]:
        """Bounds within which :meth:`refresh_due` stays False for a key it just found so.

        Returns ``(uses, bytes, time)``: the answer stays False while ``key.uses < uses``,
        ``key.bytes < bytes`` and the clock reads less than ``time``, as long as ``ahead``,
        the pace and the latency estimates stay as they are. A bound may come early, never
        late: uses and bytes get one of margin, times a microsecond, for rounding.
        """
        inf = math.inf
        if self.refresh_ahead is None or ahead >= self.max_ahead:
            return inf, inf, inf
        uses = used_bytes = until = inf
        lead = 2.0 * self._latency
        if not ahead:
            uses, used_bytes = self._refresh_uses, self._refresh_bytes
            by_age = key.born + self._refresh_age
            if lead > 0.0:
                by_age = min(by_age, key.born + self.max_age - lead)
            # due by age from by_age while the pace expects another use of the key; never,
            # at this pace, if it does not by then
            if pace_uses > 0.0 and by_age <= key.born + self.max_age - 1.0 / pace_uses:
                until = by_age
        if lead > 0.0 and ahead < self.keys_ahead(pace_uses, pace_bytes):
            budgets = ahead + 1
            if pace_uses > 0.0:
                uses = min(uses, self._uses_cap * budgets - pace_uses * lead - 1.0)
            if pace_bytes > 0.0:
                used_bytes = min(used_bytes, self._bytes_cap * budgets - pace_bytes * lead - 1.0)
        return uses, used_bytes, until - 1e-6


class Slot:
    """One cache entry's data keys: the current one, then the standby ones in arrival order;
    and the entry's pace of use."""

    __slots__ = (
        "current",
        "pace_bytes",
        "pace_uses",
        "refresh_at",
        "spent_bytes",
        "spent_uses",
        "standby",
        "window_at",
        "window_bytes",
        "window_uses",
    )

    def __init__(self, now: float, current: DataKey | None = None) -> None:
        self.current = current
        self.standby: list[DataKey] = []
        self.refresh_at = -math.inf  # after a failed refresh, the next waits until then
        # Uses and bytes of keys that have left the slot, and of callers waiting for keys to
        # come, for the pace.
        self.spent_uses = 0
        self.spent_bytes = 0
        # The pace window: when it began, what had been served by then, and the last pace.
        self.window_at = now
        self.window_uses, self.window_bytes = self.served()
        self.pace_uses = 0.0
        self.pace_bytes = 0.0

    def take(self, budget: KeyBudget, now: float, length: int) -> DataKey | None:
        """The key to hand out for one use of ``length`` bytes, the use counted; else ``None``.

        A key that cannot take the use is retired (wiped); the next standby takes over.
        """
        current = self.current
        if current is not None:
            # KeyBudget.admits, written out: this is every hit's path.
            if (
                now - current.born < budget.max_age
                and current.uses < budget._uses_cap
                and current.bytes + length <= budget._bytes_cap
            ):
                current.uses += 1
                current.bytes += length
                return current
            self.current = None
            self.retire(current)
        standby = self.standby
        while standby:
            successor = standby.pop(0)
            if budget.admits(successor, now, length):
                successor.uses += 1
                successor.bytes += length
                self.current = successor
                return successor
            self.retire(successor)
        return None

    def install(self, key: DataKey, room: int) -> bool:
        """Put a newly arrived key to use: current if there is none, else a standby if fewer
        than ``room`` are waiting. False (the key unused) otherwise."""
        if self.current is None:
            self.current = key
        elif len(self.standby) < room:
            self.standby.append(key)
        else:
            return False
        return True

    def replace(self, key: DataKey) -> None:
        """Make ``key`` current, retiring the one it replaces (Decrypt answers)."""
        old = self.current
        self.current = key
        if old is not None and old is not key:
            old.wipe()

    def retire(self, key: DataKey) -> None:
        """Wipe a key that leaves the slot (or never entered it), counting what it served."""
        self.spent_uses += key.uses
        self.spent_bytes += key.bytes
        key.wipe()

    def empty(self) -> bool:
        """Whether the slot holds no key."""
        return self.current is None and not self.standby

    def served(self) -> tuple[int, int]:
        """Uses and bytes served by the entry's keys so far (reservations included)."""
        uses, used_bytes = self.spent_uses, self.spent_bytes
        for key in (self.current, *self.standby):
            if key is not None:
                uses += key.uses
                used_bytes += key.bytes
        return uses, used_bytes

    def measure(self, now: float, window: float) -> None:
        """Close the pace window if it is at least ``window`` seconds long, and start another."""
        elapsed = now - self.window_at
        if elapsed < window:
            return
        uses, used_bytes = self.served()
        self.pace_uses = (uses - self.window_uses) / elapsed
        self.pace_bytes = (used_bytes - self.window_bytes) / elapsed
        self.window_at, self.window_uses, self.window_bytes = now, uses, used_bytes

    def wipe(self) -> None:
        """Wipe every key (the entry is dropped, evicted or cleared)."""
        if self.current is not None:
            self.current.wipe()
            self.current = None
        for key in self.standby:
            key.wipe()
        self.standby.clear()

    def __repr__(self) -> str:
        return f"<entry current={self.current!r} standby={self.standby!r}>"


class Entries(LRUCache[Hashable, Slot]):
    """The cache's entries by tag, least recently used out first; it wipes the keys of the
    entries it evicts or clears.

    A hit on the entry used last, by the very tag object used then (as entry handles keep
    theirs), skips cachetools' reordering: that entry is the most recent already, as long as
    nothing has been stored or removed since, which forgets it.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.evictions = 0
        self._recent: tuple[Hashable, Slot] | None = None

    def __getitem__(self, tag: Hashable) -> Slot:
        recent = self._recent
        if recent is not None and recent[0] is tag:
            return recent[1]
        slot = super().__getitem__(tag)
        self._recent = (tag, slot)
        return slot

    def __setitem__(self, tag: Hashable, slot: Slot) -> None:
        self._recent = None
        super().__setitem__(tag, slot)

    def __delitem__(self, tag: Hashable) -> None:
        self._recent = None
        super().__delitem__(tag)

    def popitem(self) -> tuple[Hashable, Slot]:
        tag, slot = super().popitem()
        slot.wipe()
        self.evictions += 1
        return tag, slot

    def clear(self) -> None:
        for slot in self.values():
            slot.wipe()
        super().clear()
        self._recent = None

    def __repr__(self) -> str:  # cachetools' repr would list the entries
        return f"<entries {len(self)}/{self.maxsize}>"
