"""DataKeyCache: bounded, single-flight reuse of KMS data keys, fetched ahead of their limits.

How this works
==============

Every call maps to an *entry key* made of everything that can change KMS's answer, or whether
KMS would allow the call: the client (a different client may hold other credentials or talk to
another region), a partition name, the key id, the key spec or byte count, the encryption
context and the grant tokens. No two entry keys share a data key.

* **Budgets.** A data key may be handed out while it is younger than ``max_age`` seconds (counted
  from its arrival) and the hand-out keeps it within ``max_messages`` uses and ``max_bytes``
  bytes (each caller declares ``plaintext_length``). A key that cannot take a hand-out is retired.
* **Entries.** An entry holds a *current* key, which serves, and *standby* keys fetched ahead
  of time, which take over in turn when the current one is retired.
* **Flights.** A caller the entry cannot serve joins the entry key's *flight*: one KMS call whose
  key all its waiters share. Joining reserves one use and the caller's bytes of that key's
  budget; once a flight's budget is fully reserved, the next caller starts another. So N
  concurrent misses make ceil(N / budget) calls (one, when the budget allows) and every key serves
  its whole budget. A flight is a task the cache owns: a waiter that is cancelled leaves it, the
  call goes on for the others and its key is cached. A failure reaches every waiter and is not
  cached.
* **Refresh ahead.** Once the current key has spent ``refresh_ahead`` of its age, uses or bytes
  -- or, at the pace it is being used, would run out before a KMS call (at twice the latency
  recently seen) could return -- the cache starts a flight with no waiters. Its key becomes a
  standby; the current key serves to the end of its budget, then the standby takes over without a
  wait. Should the current key and the keys already coming still run out within that lead at
  the pace of use (a budget spent faster than KMS answers), another is fetched, up to
  ``max_ahead`` keys ahead. A caller who finds the current key spent while a refresh is under
  way joins it.
* **Storage.** Entries live in a ``cachetools.LRUCache`` of ``capacity`` entries. Plaintext keys
  are held in ``bytearray`` objects, zeroed when a key is retired, evicted or cleared. Callers get
  ``bytes`` copies, which Python cannot overwrite; neither can the cache overwrite the ``bytes``
  that KMS's reply arrived in.

:class:`Policy` is the budget arithmetic: plain, synchronous, and given the time by its caller.
:class:`DataKeyCache` is the async shell: it reads the clock, runs flights and counts. A hit
never awaits: the public coroutines first try the synchronous ``_take_generated`` and
``_take_decrypted``, which the Encryptor also calls directly. Whether a hit should start a
refresh is worked out again only when the key's use leaves the bounds within which the last
answer must stand (:meth:`Policy.quiet_bounds`), or a KMS call has ended since.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from cachetools import LRUCache

__all__ = ["CacheStats", "DataKeyCache", "DataKeyClient", "Policy"]

# The AWS Encryption SDK's ceiling on messages per data key: 2**32, the limit NIST SP 800-38D
# sets for AES-GCM with random 96-bit IVs under one key.
MAX_MESSAGES_LIMIT = 2**32

_GENERATE = "GenerateDataKey"
_DECRYPT = "Decrypt"
_UNKNOWN = (0.0, 0.0, 0.0, -1)  # quiet bounds not yet found: ask the policy
_EMPTY: frozenset[Any] = frozenset()
_CLOSED = "this DataKeyCache is closed"

Response = dict[str, Any]
KMSCall = Callable[..., Awaitable[Response]]


class DataKeyClient(Protocol):
    """What the cache calls: aiobotocore-shaped ``generate_data_key`` and ``decrypt`` coroutines.

    ``aiokms.KMSClient`` and aiobotocore's KMS client both fit.
    """

    def generate_data_key(self, **kwargs: Any) -> Awaitable[Response]: ...

    def decrypt(self, **kwargs: Any) -> Awaitable[Response]: ...


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a :class:`DataKeyCache`'s counters.

    Attributes:
        hits: calls answered from a cached key, without waiting.
        misses: calls that waited for KMS (they started a KMS call or joined one under way).
        kms_calls: KMS calls the cache made: for misses, refreshes and bypasses.
        refreshes: of those, calls started ahead of need, for standby keys.
        bypasses: calls passed to KMS uncached: ``plaintext_length`` over ``max_bytes``, or
            unknown under a byte limit, or arguments the cache does not key on (``Recipient``,
            ``DryRun``, ...).
        errors: KMS calls that failed.
        evictions: entries dropped, least recently used first, to stay within ``capacity``.
        entries: entries cached now.
        capacity: the most entries the cache holds.
        in_flight: KMS calls under way now.
    """

    hits: int
    misses: int
    kms_calls: int
    refreshes: int
    bypasses: int
    errors: int
    evictions: int
    entries: int
    capacity: int
    in_flight: int


# --- the sans-I/O core: budgets, keys, entries, reservations -------------------------------


class _Usage:
    """Uses and bytes counted against one data key's budget."""

    __slots__ = ("bytes", "uses")

    def __init__(self) -> None:
        self.uses = 0
        self.bytes = 0


class _DataKey(_Usage):
    """One cached KMS answer: the plaintext in a wipeable ``bytearray``, the rest as it came.

    ``quiet`` holds the bounds within which no refresh is due (:meth:`Policy.quiet_bounds`)
    and the cache's epoch they were found in: ``(uses, bytes, time, epoch)``.
    """

    __slots__ = ("born", "fields", "metadata", "plaintext", "quiet", "since")

    def __init__(self, response: Response, now: float) -> None:
        super().__init__()
        fields = dict(response)
        self.plaintext = bytearray(fields.pop("Plaintext"))
        metadata = fields.pop("ResponseMetadata", None)
        self.metadata: dict[str, Any] | None = metadata if isinstance(metadata, dict) else None
        self.fields = fields
        self.born = now  # the age limit counts from arrival
        self.since = now  # when it began to serve, for the pace of use
        self.quiet: tuple[float, float, float, int] = _UNKNOWN

    def handout(self) -> Response:
        """A response dict of the caller's own, with its own ``bytes`` copy of the plaintext."""
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
        return f"<data key uses={self.uses} bytes={self.bytes} wiped={not self.plaintext}>"


class Policy:
    """The budget arithmetic: whether a key may be handed out, and when to fetch the next one.

    Plain and synchronous; every method that depends on time takes ``now`` (seconds on the
    cache's clock). The arguments mean what :class:`DataKeyCache`'s do.

    Args:
        max_age: seconds a data key may be handed out after it arrived.
        max_messages: hand-outs per data key, or ``None`` for no limit.
        max_bytes: bytes per data key, or ``None`` for no limit.
        refresh_ahead: the share of a budget after which the next key is fetched, or ``None``.
        max_ahead: the most keys an entry fetches ahead of need.
    """

    __slots__ = (
        "_bytes_cap",
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
        max_messages: int | None,
        max_bytes: int | None,
        refresh_ahead: float | None,
        max_ahead: int = 8,
    ) -> None:
        self.max_age = float(max_age)
        self.max_messages = max_messages
        self.max_ahead = max_ahead
        self.max_bytes = max_bytes
        self.refresh_ahead = refresh_ahead
        self._uses_cap: float = math.inf if max_messages is None else max_messages
        self._bytes_cap: float = math.inf if max_bytes is None else max_bytes
        share = math.inf if refresh_ahead is None else refresh_ahead
        self._refresh_age = self.max_age * share
        self._refresh_uses = self._uses_cap * share
        self._refresh_bytes = self._bytes_cap * share
        self._latency = 0.0

    def __repr__(self) -> str:
        return (
            f"<Policy max_age={self.max_age} max_messages={self.max_messages} "
            f"max_bytes={self.max_bytes} refresh_ahead={self.refresh_ahead} "
            f"max_ahead={self.max_ahead}>"
        )

    @property
    def lead(self) -> float:
        """Seconds before a key runs out at which its successor should be fetched."""
        return 2.0 * self._latency

    def cacheable(self, length: int | None) -> bool:
        """Whether a use of ``length`` bytes may share a key (not unknown under a byte limit)."""
        if length is None:
            return self.max_bytes is None
        return length <= self._bytes_cap

    def fits(self, usage: _Usage, length: int) -> bool:
        """Whether one more use of ``length`` bytes keeps ``usage`` within the budget."""
        return usage.uses < self._uses_cap and usage.bytes + length <= self._bytes_cap

    def admits(self, key: _DataKey, now: float, length: int) -> bool:
        """Whether ``key`` may be handed out now for ``length`` bytes."""
        return now - key.born < self.max_age and self.fits(key, length)

    def fresh(self, key: _DataKey, now: float) -> bool:
        """Whether ``key`` is younger than ``max_age`` (decrypt results have no use budget)."""
        return now - key.born < self.max_age

    def reserve(self, usage: _Usage, length: int) -> bool:
        """Count one use of ``length`` bytes against ``usage`` if it fits; say whether it did."""
        if usage.uses < self._uses_cap and usage.bytes + length <= self._bytes_cap:
            usage.uses += 1
            usage.bytes += length
            return True
        return False

    def release(self, usage: _Usage, length: int) -> None:
        """Give back a reservation that will not be used (its waiter was cancelled)."""
        usage.uses -= 1
        usage.bytes -= length

    def wants_refresh(self, key: _DataKey, now: float, ahead: int = 0) -> bool:
        """Whether to fetch one more key to follow ``key``, with ``ahead`` keys already coming.

        With none coming: yes once ``key`` has spent ``refresh_ahead`` of its age, uses or
        bytes, or is within :attr:`lead` of its age limit. With fewer than ``max_ahead``
        coming: yes when, at the pace ``key`` has been used since it began to serve, it
        and the keys coming (at a whole budget each) would run out within :attr:`lead`.
        """
        if self.refresh_ahead is None or ahead >= self.max_ahead:
            return False
        age = now - key.born
        uses = key.uses
        used_bytes = key.bytes
        if not ahead and (
            age >= self._refresh_age
            or uses >= self._refresh_uses
            or used_bytes >= self._refresh_bytes
        ):
            return True
        lead = 2.0 * self._latency
        if lead <= 0.0:
            return False
        if not ahead and self.max_age - age <= lead:
            return True
        elapsed = now - key.since
        if elapsed <= 0.0:
            return False
        # Time the budgets last at the pace so far: left / (used / elapsed), free of division.
        budgets = ahead + 1
        if uses and (self._uses_cap * budgets - uses) * elapsed <= lead * uses:
            return True
        return bool(used_bytes) and (
            (self._bytes_cap * budgets - used_bytes) * elapsed <= lead * used_bytes
        )

    def quiet_bounds(self, key: _DataKey, now: float, ahead: int) -> tuple[float, float, float]:
        """Bounds within which :meth:`wants_refresh` stays False for a key it just found so.

        Returns ``(uses, bytes, time)``: the answer stays False while ``key.uses < uses``,
        ``key.bytes < bytes`` and the clock reads less than ``time``, as long as ``ahead`` and
        the latency estimate stay as they are. A bound may come early, never late.

        Why they hold: the age rules are thresholds in time and the share rules thresholds in
        uses and bytes. The pace rule, ``(cap * budgets - used) * elapsed <= lead * used``,
        holds from ``used >= cap * budgets * elapsed / (elapsed + lead)`` on, and that
        threshold only grows with ``elapsed``. Uses and bytes get one of margin and times a
        microsecond, for rounding.
        """
        inf = math.inf
        if self.refresh_ahead is None or ahead >= self.max_ahead:
            return inf, inf, inf
        uses = used_bytes = until = inf
        if not ahead:
            uses, used_bytes = self._refresh_uses, self._refresh_bytes
            until = key.born + self._refresh_age
        lead = 2.0 * self._latency
        if lead > 0.0:
            if not ahead:
                until = min(until, key.born + self.max_age - lead)
            elapsed = now - key.since
            if elapsed <= 0.0:
                return 0.0, 0.0, until  # no pace of use yet: ask again at the next use
            share = (ahead + 1) * elapsed / (elapsed + lead)
            uses = min(uses, self._uses_cap * share - 1.0)
            used_bytes = min(used_bytes, self._bytes_cap * share - 1.0)
        return uses, used_bytes, until - 1e-6

    def observe(self, seconds: float) -> None:
        """Note how long a KMS call took: the estimate jumps to a slower call, decays slowly."""
        if seconds >= self._latency:
            self._latency = seconds
        else:
            self._latency += 0.1 * (seconds - self._latency)


class _Slot:
    """One entry: the key that serves now and the keys fetched ahead to follow it, in order."""

    __slots__ = ("current", "refresh_at", "standby")

    def __init__(self, current: _DataKey | None = None) -> None:
        self.current = current
        self.standby: list[_DataKey] = []
        self.refresh_at = -math.inf  # after a failed refresh, the next waits until then

    def take(self, policy: Policy, now: float, length: int) -> _DataKey | None:
        """The key to hand out for one use of ``length`` bytes, the use counted; else ``None``.

        A key that cannot take the use is retired (wiped); the next standby takes over.
        """
        current = self.current
        if current is not None:
            if policy.admits(current, now, length):
                current.uses += 1
                current.bytes += length
                return current
            self.current = None
            current.wipe()
        standby = self.standby
        while standby:
            successor = standby.pop(0)
            if policy.admits(successor, now, length):
                successor.uses += 1
                successor.bytes += length
                successor.since = now
                self.current = successor
                return successor
            successor.wipe()
        return None

    def install(self, key: _DataKey, room: int) -> bool:
        """Put a new key to use: current if there is none, else a standby if fewer than ``room``."""
        if self.current is None:
            self.current = key
        elif len(self.standby) < room:
            self.standby.append(key)
        else:
            return False
        return True

    def replace(self, key: _DataKey) -> None:
        """Make ``key`` current, retiring the one it replaces (decrypt results)."""
        old = self.current
        self.current = key
        if old is not None and old is not key:
            old.wipe()

    def wipe(self) -> None:
        if self.current is not None:
            self.current.wipe()
            self.current = None
        for key in self.standby:
            key.wipe()
        self.standby.clear()

    def __repr__(self) -> str:
        return f"<entry current={self.current!r} standby={self.standby!r}>"


class _Entries(LRUCache[Hashable, _Slot]):
    """LRU storage that wipes the keys of the entries it evicts or clears.

    A hit on the entry used last, by the very key object used then (as the Encryptor keeps
    its entry keys), skips cachetools' reordering: that entry is the most recent already, as
    long as nothing has been stored or removed since, which forgets it.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.evictions = 0
        self._recent: tuple[Hashable, _Slot] | None = None

    def __getitem__(self, key: Hashable) -> _Slot:
        recent = self._recent
        if recent is not None and recent[0] is key:
            return recent[1]
        slot = super().__getitem__(key)
        self._recent = (key, slot)
        return slot

    def __setitem__(self, key: Hashable, slot: _Slot) -> None:
        self._recent = None
        super().__setitem__(key, slot)

    def __delitem__(self, key: Hashable) -> None:
        self._recent = None
        super().__delitem__(key)

    def popitem(self) -> tuple[Hashable, _Slot]:
        key, slot = super().popitem()
        slot.wipe()
        self.evictions += 1
        return key, slot

    def clear(self) -> None:
        for slot in self.values():
            slot.wipe()
        super().clear()
        self._recent = None

    def __repr__(self) -> str:  # cachetools' repr would list the entries
        return f"<entries {len(self)}/{self.maxsize}>"


class _Flight(_Usage):
    """One KMS call under way for an entry key, with the uses and bytes its waiters reserved."""

    __slots__ = ("call", "generation", "key", "operation", "params", "refresh", "task")

    task: asyncio.Task[Response]

    def __init__(
        self,
        operation: str,
        key: Hashable,
        call: KMSCall,
        params: dict[str, Any],
        generation: int,
        refresh: bool,
    ) -> None:
        super().__init__()
        self.operation = operation
        self.key = key
        self.call = call
        self.params = params
        self.generation = generation
        self.refresh = refresh


def _validate(
    capacity: int,
    max_age: float,
    max_messages: int | None,
    max_bytes: int | None,
    refresh_ahead: float | None,
    max_ahead: int,
    clock: Callable[[], float],
) -> None:
    if not _is_int(capacity) or capacity < 1:
        raise ValueError(f"capacity: {capacity!r} must be an int of at least 1")
    if not _is_number(max_age) or not 0 < max_age < math.inf:
        raise ValueError(f"max_age: {max_age!r} must be a positive, finite number of seconds")
    if max_messages is not None and (
        not _is_int(max_messages) or not 1 <= max_messages <= MAX_MESSAGES_LIMIT
    ):
        raise ValueError(f"max_messages: {max_messages!r} must be None or an int from 1 to 2**32")
    if max_bytes is not None and (not _is_int(max_bytes) or max_bytes < 1):
        raise ValueError(f"max_bytes: {max_bytes!r} must be None or an int of at least 1")
    if refresh_ahead is not None and (not _is_number(refresh_ahead) or not 0 < refresh_ahead <= 1):
        raise ValueError(
            f"refresh_ahead: {refresh_ahead!r} must be None or a share above 0 and at most 1"
        )
    if not _is_int(max_ahead) or max_ahead < 1:
        raise ValueError(f"max_ahead: {max_ahead!r} must be an int of at least 1")
    if not callable(clock):
        raise ValueError(f"clock: {clock!r} must be a callable returning seconds")


def _nobody() -> None:
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _length(plaintext_length: int | None) -> int:
    if type(plaintext_length) is int and plaintext_length >= 0:
        return plaintext_length
    if plaintext_length is None:
        return 0
    if not _is_int(plaintext_length) or plaintext_length < 0:
        raise ValueError(
            f"plaintext_length: {plaintext_length!r} must be None or an int of at least 0"
        )
    return plaintext_length


def _context(context: Mapping[str, str] | None) -> frozenset[Any]:
    # KMS treats no context and an empty one alike; pair order never matters.
    return frozenset(context.items()) if context else _EMPTY


def _tokens(tokens: Sequence[str] | None) -> frozenset[Any]:
    # A grant token can authorise a call that would otherwise be denied: keyed, order-free.
    return frozenset(tokens) if tokens else _EMPTY


def _own_copy(response: Response) -> Response:
    """A waiter's own response dict (the ``bytes`` inside are immutable and may be shared)."""
    out = dict(response)
    metadata = out.get("ResponseMetadata")
    if isinstance(metadata, dict):
        out["ResponseMetadata"] = dict(metadata)
    return out


# --- the async shell -------------------------------------------------------------------------

# Seconds between a failed refresh and the next attempt for that entry: a KMS outage must not
# turn every hit into a call. Callers that find the key spent still get a call of their own.
REFRESH_RETRY_SECONDS = 1.0


class DataKeyCache:
    """Reuses KMS data keys within bounds, with one KMS call per miss and refresh ahead.

    ``generate_data_key`` hands out a cached data key while it is younger than ``max_age``
    seconds and the use keeps it within ``max_messages`` uses and ``max_bytes`` bytes; concurrent
    misses for one entry share one KMS call; a key near its limits is replaced in the background.
    ``decrypt`` caches decrypted data keys for ``max_age`` seconds. Use it as
    ``async with DataKeyCache(...) as cache:`` or call :meth:`close`. One event loop at a time.

    Keys handed out are ``bytes`` copies the cache cannot overwrite: callers should drop them as
    soon as they are done. The cache's own copies are zeroed when retired, evicted or cleared.

    Args:
        capacity: the most entries (distinct client, partition, key id, key spec, encryption
            context and grant tokens); the least recently used goes first.
        max_age: seconds a data key may be handed out after it arrived from KMS.
        max_messages: the most hand-outs of one data key (at most 2**32), or ``None``.
        max_bytes: the most bytes (the sum of the hand-outs' ``plaintext_length``) one data key
            may encrypt, or ``None``. With a limit, a use of unknown length is not cached.
        refresh_ahead: the share (above 0, at most 1) of a key's age, uses or bytes after which
            the next key is fetched in the background; ``None`` fetches only when a key is
            needed. For uses and bytes it costs nothing: the current key still serves its whole
            budget. For age, the next key ages while it waits, so where age is the binding
            limit -- low traffic -- each key serves ``refresh_ahead`` of ``max_age`` as the
            current one. The default, 0.8, leaves a fifth of each budget to hide KMS's latency;
            a key is also replaced in time when, at the pace it is used, it would run out
            within twice the KMS latency recently seen.
        max_ahead: the most keys one entry fetches ahead of need (default 8). More than one
            is fetched only when keys are spent faster than KMS answers; then a stream that
            stops leaves up to this many unused. 1 fetches only the next key.
        clock: monotonic seconds (injectable for tests).

    Raises:
        ValueError: an argument has an invalid value; the message names it.
    """

    __slots__ = (
        "_bypasses",
        "_clients",
        "_clock",
        "_closed",
        "_coming",
        "_entries",
        "_epoch",
        "_errors",
        "_flights",
        "_generation",
        "_hits",
        "_in_flight",
        "_kms_calls",
        "_last_client",
        "_misses",
        "_pinned",
        "_policy",
        "_refreshes",
        "_tasks",
    )

    def __init__(
        self,
        capacity: int = 1000,
        max_age: float = 300.0,
        max_messages: int | None = 10_000,
        max_bytes: int | None = None,
        *,
        refresh_ahead: float | None = 0.8,
        max_ahead: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _validate(capacity, max_age, max_messages, max_bytes, refresh_ahead, max_ahead, clock)
        self._policy = Policy(max_age, max_messages, max_bytes, refresh_ahead, max_ahead)
        self._clock = clock
        self._entries = _Entries(capacity)
        self._flights: dict[Hashable, _Flight] = {}  # per entry key, the flight open to waiters
        self._coming: dict[Hashable, int] = {}  # per entry key, GenerateDataKey calls under way
        self._tasks: set[asyncio.Task[Response]] = set()
        self._generation = 0  # bumped by clear(): older flights answer but do not cache
        # Bumped at the end of every KMS call, the one event that can make a refresh due
        # sooner than the quiet bounds on data keys say: it moves the latency estimate and
        # may lower the count of keys coming. (A call that starts only raises that count.)
        self._epoch = 0
        self._clients: weakref.WeakKeyDictionary[Any, object] = weakref.WeakKeyDictionary()
        self._pinned: dict[int, tuple[object, object]] = {}
        self._last_client: tuple[Callable[[], object], object] = (_nobody, None)
        self._closed = False
        self._hits = 0
        self._misses = 0
        self._kms_calls = 0
        self._refreshes = 0
        self._bypasses = 0
        self._errors = 0
        self._in_flight = 0

    # --- public surface ---------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        """The limits this cache enforces."""
        return self._policy

    def __repr__(self) -> str:
        closed = " closed" if self._closed else ""
        return (
            f"<DataKeyCache entries={len(self._entries)}/{self._entries.maxsize} "
            f"hits={self._hits} misses={self._misses} in_flight={self._in_flight}{closed}>"
        )

    async def __aenter__(self) -> DataKeyCache:
        if self._closed:
            raise RuntimeError(_CLOSED)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def stats(self) -> CacheStats:
        """A snapshot of this cache's counters."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            kms_calls=self._kms_calls,
            refreshes=self._refreshes,
            bypasses=self._bypasses,
            errors=self._errors,
            evictions=self._entries.evictions,
            entries=len(self._entries),
            capacity=int(self._entries.maxsize),
            in_flight=self._in_flight,
        )

    def clear(self) -> None:
        """Drop every entry, zeroing its plaintext keys.

        KMS calls under way still answer the callers waiting for them, but are not cached.
        """
        self._generation += 1
        self._flights.clear()
        self._coming.clear()
        self._entries.clear()
        self._pinned.clear()  # no entry refers to their tokens any more

    async def close(self) -> None:
        """Clear, then cancel the KMS calls the cache runs (for waiters and refreshes) and wait.

        Callers waiting on a cancelled call get ``RuntimeError``, as do later calls; a bypass
        call (not cached) runs in its caller's task and is left to finish. Idempotent.
        """
        self._closed = True
        self.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def generate_data_key(
        self,
        kms: DataKeyClient,
        /,
        *,
        KeyId: str,
        KeySpec: str | None = None,
        NumberOfBytes: int | None = None,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: Sequence[str] | None = None,
        plaintext_length: int | None = None,
        partition: str = "",
        **kwargs: Any,
    ) -> Response:
        """A data key for ``KeyId``: a cached one when its budget allows, else one from KMS.

        Args:
            kms: the client to call (an ``aiokms.KMSClient`` or aiobotocore's KMS client).
            KeyId: as GenerateDataKey; so are ``KeySpec``, ``NumberOfBytes``,
                ``EncryptionContext`` and ``GrantTokens``.
            plaintext_length: bytes the caller will encrypt under this key, counted against
                ``max_bytes``. Over it, or ``None`` under a byte limit, the key comes straight
                from KMS and is not cached.
            partition: keeps apart the entries of users of one cache who must not share keys.
            **kwargs: other GenerateDataKey arguments (``Recipient``, ``DryRun``): the call
                then goes to KMS uncached.

        Returns:
            A GenerateDataKey response: ``Plaintext`` (the caller's own copy), ``CiphertextBlob``,
            ``KeyId`` and ``ResponseMetadata`` of the KMS call that made the key.

        Raises:
            ValueError: ``plaintext_length`` is not None or an int of at least 0.
            RuntimeError: the cache is closed, or was closed while this call waited.
            botocore.exceptions.ClientError: from KMS, as the client raises it; and the
                client's other errors.
        """
        if self._closed:
            raise RuntimeError(_CLOSED)
        length = _length(plaintext_length)
        policy = self._policy
        if kwargs or not policy.cacheable(plaintext_length):
            params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
            params.update(kwargs)
            return await self._bypass(kms.generate_data_key, params)
        try:
            key = self._generate_entry(
                kms, partition, KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens
            )
            hit = self._take_generated(key, length)
        except TypeError:  # unhashable arguments: leave them to the client's validation
            params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
            return await self._bypass(kms.generate_data_key, params)
        if hit is not None:
            data_key, refresh = hit
            if refresh:
                params = _generate_params(
                    KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens
                )
                self._refresh(key, kms, params)
            return data_key.handout()
        self._misses += 1
        flight = self._flights.get(key)
        if flight is None or not policy.reserve(flight, length):
            params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
            flight = self._launch(_GENERATE, key, kms.generate_data_key, params, refresh=False)
            policy.reserve(flight, length)  # a whole budget takes any cacheable use
        return await self._wait(flight, length)

    async def decrypt(
        self,
        kms: DataKeyClient,
        /,
        *,
        CiphertextBlob: bytes | bytearray | memoryview,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: Sequence[str] | None = None,
        KeyId: str | None = None,
        EncryptionAlgorithm: str | None = None,
        partition: str = "",
        **kwargs: Any,
    ) -> Response:
        """The Decrypt answer for ``CiphertextBlob``, cached for ``max_age`` seconds.

        Entries are keyed by the client, ``partition``, the ciphertext, the encryption context,
        the grant tokens, ``KeyId`` and ``EncryptionAlgorithm``; concurrent misses for one entry
        share one KMS call. Decrypting counts against neither ``max_messages`` nor ``max_bytes``.

        Args:
            kms: the client to call.
            CiphertextBlob: as Decrypt; so are ``EncryptionContext``, ``GrantTokens``,
                ``KeyId`` and ``EncryptionAlgorithm``.
            partition: keeps apart the entries of users of one cache who must not share keys.
            **kwargs: other Decrypt arguments (``Recipient``, ``DryRun``): the call then goes
                to KMS uncached.

        Returns:
            A Decrypt response: ``Plaintext`` (the caller's own copy), ``KeyId``,
            ``EncryptionAlgorithm`` and ``ResponseMetadata``, as KMS returned them.

        Raises:
            RuntimeError: the cache is closed, or was closed while this call waited.
            botocore.exceptions.ClientError: from KMS, as the client raises it; and the
                client's other errors.
        """
        if self._closed:
            raise RuntimeError(_CLOSED)
        params = _decrypt_params(
            CiphertextBlob, EncryptionContext, GrantTokens, KeyId, EncryptionAlgorithm
        )
        if kwargs or not isinstance(CiphertextBlob, (bytes, bytearray, memoryview)):
            params.update(kwargs)
            return await self._bypass(kms.decrypt, params)
        try:
            key = self._decrypt_entry(
                kms,
                partition,
                CiphertextBlob,
                EncryptionContext,
                GrantTokens,
                KeyId,
                EncryptionAlgorithm,
            )
            hit = self._take_decrypted(key)
        except TypeError:
            return await self._bypass(kms.decrypt, params)
        if hit is not None:
            return hit.handout()
        self._misses += 1
        flight = self._flights.get(key)
        if flight is None:
            flight = self._launch(_DECRYPT, key, kms.decrypt, params, refresh=False)
        flight.uses += 1  # counted for symmetry with reservations; decrypt has no use budget
        return await self._wait(flight, 0)

    # --- the synchronous hit paths (the public methods' first step; also the Encryptor's) ----

    def _generate_entry(
        self,
        kms: object,
        partition: str,
        key_id: str,
        key_spec: str | None,
        number_of_bytes: int | None,
        context: Mapping[str, str] | None,
        grant_tokens: Sequence[str] | None,
    ) -> Hashable:
        """The entry key of a GenerateDataKey call (TypeError: an argument is unhashable)."""
        return (
            _GENERATE,
            self._token(kms),
            partition,
            key_id,
            key_spec,
            number_of_bytes,
            _context(context),
            _tokens(grant_tokens),
        )

    def _decrypt_entry(
        self,
        kms: object,
        partition: str,
        blob: bytes | bytearray | memoryview,
        context: Mapping[str, str] | None,
        grant_tokens: Sequence[str] | None,
        key_id: str | None,
        algorithm: str | None,
    ) -> Hashable:
        """The entry key of a Decrypt call (TypeError: an argument is unhashable)."""
        return (
            _DECRYPT,
            self._token(kms),
            partition,
            bytes(blob),
            _context(context),
            _tokens(grant_tokens),
            key_id,
            algorithm,
        )

    def _take_generated(self, key: Hashable, length: int) -> tuple[_DataKey, bool] | None:
        """A hit: the entry's key, counted for one use of ``length`` bytes, and whether to
        :meth:`_refresh` the entry now; ``None`` for a miss, which the caller takes the async
        way (:meth:`generate_data_key`).

        ``None`` too when the cache is closed or ``length`` is not cacheable: the async way
        says why. The key is the cache's own: its plaintext may be used until the caller next
        awaits (a retired key is wiped), and must not be changed or kept.
        """
        policy = self._policy
        if self._closed or not policy.cacheable(length):
            return None
        try:
            slot = self._entries[key]
        except KeyError:
            return None
        now = self._clock()
        data_key = slot.take(policy, now, length)
        if data_key is None:
            return None  # spent: the entry stays, empty, for the keys coming
        self._hits += 1
        uses, used_bytes, until, epoch = data_key.quiet
        if (
            data_key.uses < uses
            and data_key.bytes < used_bytes
            and now < until
            and epoch == self._epoch
        ):
            return data_key, False  # within the bounds the last check found quiet
        return data_key, self._refresh_due(key, slot, data_key, now)

    def _take_decrypted(self, key: Hashable) -> _DataKey | None:
        """A hit: the entry's Decrypt answer while it is fresh (dropping a stale one); else
        ``None``. The same terms as :meth:`_take_generated`."""
        if self._closed:
            return None
        entries = self._entries
        try:
            slot = entries[key]
        except KeyError:
            return None
        current = slot.current
        if current is not None and self._policy.fresh(current, self._clock()):
            self._hits += 1
            return current
        slot.wipe()
        del entries[key]
        return None

    def _refresh_due(self, key: Hashable, slot: _Slot, data_key: _DataKey, now: float) -> bool:
        """Whether the entry's current key wants a successor fetched now; if not, the bounds
        within which it will not (kept on the key until the epoch moves on)."""
        policy = self._policy
        if now < slot.refresh_at:  # a refresh failed: none before then
            data_key.quiet = (math.inf, math.inf, slot.refresh_at, self._epoch)
            return False
        ahead = len(slot.standby) + self._coming.get(key, 0)
        if policy.wants_refresh(data_key, now, ahead):
            return True
        data_key.quiet = (*policy.quiet_bounds(data_key, now, ahead), self._epoch)
        return False

    def _refresh(self, key: Hashable, kms: DataKeyClient, params: dict[str, Any]) -> None:
        """Fetch a key ahead for the GenerateDataKey entry ``key``, with no caller waiting."""
        self._launch(_GENERATE, key, kms.generate_data_key, params, refresh=True)

    # --- flights ----------------------------------------------------------------------------

    def _token(self, kms: object) -> object:
        """What stands for ``kms`` in entry keys: never outlives it, never reused for another."""
        last_client, last_token = self._last_client
        if last_client() is kms:
            return last_token
        try:
            token = self._clients.get(kms)
        except TypeError:  # not weakly referenceable: kept alive, so its id is not reused
            pinned = self._pinned.get(id(kms))
            if pinned is None or pinned[0] is not kms:
                pinned = self._pinned[id(kms)] = (kms, object())
            return pinned[1]
        if token is None:
            token = self._clients[kms] = object()
        self._last_client = (weakref.ref(kms), token)
        return token

    def _launch(
        self,
        operation: str,
        key: Hashable,
        call: KMSCall,
        params: dict[str, Any],
        *,
        refresh: bool,
    ) -> _Flight:
        """Start a KMS call for ``key`` as a task the cache owns, open to waiters."""
        flight = _Flight(operation, key, call, params, self._generation, refresh)
        task = asyncio.get_running_loop().create_task(self._fly(flight))
        task.add_done_callback(self._landed)
        flight.task = task
        self._tasks.add(task)
        self._flights[key] = flight
        if operation == _GENERATE:
            self._coming[key] = self._coming.get(key, 0) + 1
        self._kms_calls += 1
        self._in_flight += 1
        if refresh:
            self._refreshes += 1
        return flight

    async def _fly(self, flight: _Flight) -> Response:
        try:
            return await self._call(flight)
        finally:
            self._epoch += 1  # the latency estimate and the keys coming may have changed

    async def _call(self, flight: _Flight) -> Response:
        started = self._clock()
        try:
            response = await flight.call(**flight.params)
        except BaseException as exc:
            self._ended(flight)
            if isinstance(exc, Exception):
                self._errors += 1
                if flight.operation == _GENERATE and flight.generation == self._generation:
                    self._generate_failed(flight)
            raise
        self._ended(flight)
        if flight.operation == _GENERATE:
            self._policy.observe(self._clock() - started)
        cacheable = isinstance(response, dict) and isinstance(
            response.get("Plaintext"), (bytes, bytearray)
        )
        if cacheable and flight.generation == self._generation:  # not cleared meanwhile
            if flight.operation == _GENERATE:
                self._cache_generated(flight, response)
            else:
                self._cache_decrypted(flight, response)
        return response

    def _landed(self, task: asyncio.Task[Response]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if not task.cancelled():
            task.exception()  # retrieved, so a failed refresh nobody awaited logs nothing

    def _ended(self, flight: _Flight) -> None:
        """A call is over: before any waiter wakes, so nobody joins it any more (a failure is
        not cached: the next caller makes a call of its own)."""
        key = flight.key
        if self._flights.get(key) is flight:
            del self._flights[key]
        if flight.operation == _GENERATE and flight.generation == self._generation:
            coming = self._coming.pop(key) - 1
            if coming:
                self._coming[key] = coming

    def _generate_failed(self, flight: _Flight) -> None:
        slot = self._entries.get(flight.key)
        if slot is not None:
            if flight.refresh:
                slot.refresh_at = self._clock() + REFRESH_RETRY_SECONDS
            self._drop_if_spent(flight.key, slot)

    def _drop_if_spent(self, key: Hashable, slot: _Slot) -> None:
        if slot.current is None and not slot.standby and key not in self._coming:
            del self._entries[key]  # its keys are spent and none is coming

    def _cache_generated(self, flight: _Flight, response: Response) -> None:
        policy = self._policy
        now = self._clock()
        data_key = _DataKey(response, now)
        data_key.uses = flight.uses  # the waiters' reservations are its first uses
        data_key.bytes = flight.bytes
        entries = self._entries
        try:
            slot: _Slot | None = entries[flight.key]
        except KeyError:
            slot = None
        if not policy.fits(data_key, 0):
            data_key.wipe()  # its waiters took its whole budget
            if slot is not None:
                self._drop_if_spent(flight.key, slot)
            return
        if slot is None:
            if flight.refresh and not flight.uses:
                data_key.wipe()  # its entry was evicted meanwhile, and nobody waits for it
                return
            slot = _Slot(data_key)
            entries[flight.key] = slot
        elif not slot.install(data_key, policy.max_ahead):
            data_key.wipe()  # max_ahead keys are waiting already
            return
        if slot.current is data_key and policy.wants_refresh(
            data_key, now, len(slot.standby) + self._coming.get(flight.key, 0)
        ):
            # A burst of waiters already spent much of it: fetch its successor now.
            self._launch(_GENERATE, flight.key, flight.call, flight.params, refresh=True)

    def _cache_decrypted(self, flight: _Flight, response: Response) -> None:
        data_key = _DataKey(response, self._clock())
        entries = self._entries
        try:
            entries[flight.key].replace(data_key)
        except KeyError:
            entries[flight.key] = _Slot(data_key)

    async def _wait(self, flight: _Flight, length: int) -> Response:
        task = flight.task
        try:
            # asyncio.wait, unlike shield, tells a cancelled waiter from a cancelled call.
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            if not task.done():
                self._policy.release(flight, length)
            raise
        if task.cancelled():
            raise RuntimeError("the DataKeyCache was closed while this call waited for KMS")
        return _own_copy(task.result())

    async def _bypass(self, call: KMSCall, params: dict[str, Any]) -> Response:
        self._bypasses += 1
        self._kms_calls += 1
        self._in_flight += 1
        try:
            return await call(**params)
        except Exception:
            self._errors += 1
            raise
        finally:
            self._in_flight -= 1


def _generate_params(
    key_id: str,
    key_spec: str | None,
    number_of_bytes: int | None,
    context: Mapping[str, str] | None,
    grant_tokens: Sequence[str] | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"KeyId": key_id}
    if key_spec is not None:
        params["KeySpec"] = key_spec
    if number_of_bytes is not None:
        params["NumberOfBytes"] = number_of_bytes
    if context is not None:
        params["EncryptionContext"] = context
    if grant_tokens is not None:
        params["GrantTokens"] = grant_tokens
    return params


def _decrypt_params(
    blob: bytes | bytearray | memoryview,
    context: Mapping[str, str] | None,
    grant_tokens: Sequence[str] | None,
    key_id: str | None,
    algorithm: str | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"CiphertextBlob": blob}
    if context is not None:
        params["EncryptionContext"] = context
    if grant_tokens is not None:
        params["GrantTokens"] = grant_tokens
    if key_id is not None:
        params["KeyId"] = key_id
    if algorithm is not None:
        params["EncryptionAlgorithm"] = algorithm
    return params
