"""DataKeyCache: bounded, single-flight reuse of KMS data keys, fetched ahead of their limits.

How this works
==============

The data keys, their budget and the entries that hold them are the sans-I/O core
(:mod:`aiokms._cache.core`); this module is the async shell: it reads the clock, makes the KMS
calls and counts.

* **Tags.** Every call maps to a *tag* made of everything that can change KMS's answer, or
  whether KMS would allow the call: the client (another client may hold other credentials or
  talk to another region), a partition name, the KMS key id, the key spec or byte count, the
  encryption context and the grant tokens. No two tags share a data key. The arguments are
  copied when the call is made, so a caller who reuses its dict afterwards changes nothing.
* **Flights.** A caller the entry cannot serve joins a *flight*: one KMS call whose data key
  its callers share. Joining reserves one use and the caller's bytes of that key's budget. An
  entry's flights are kept oldest first and a caller joins the oldest with room; when every one
  is fully reserved, the caller starts another. So N concurrent misses make ceil(N / budget)
  calls, and each key's unreserved budget goes to its entry in the order the keys arrive. A
  flight is a task the cache owns: a caller that is cancelled leaves it (its reservation handed
  back), the call goes on for the others and its key is cached. A failure reaches every caller
  and is not cached.
* **Refresh ahead.** A hit asks :meth:`KeyBudget.refresh_due` whether to fetch a key ahead;
  such a *refresh* is a flight with nobody waiting, which a caller who finds the current key
  spent joins. A hit never awaits: whether a refresh is due is worked out again only when the
  key's use leaves the bounds within which the last answer must stand
  (:meth:`KeyBudget.quiet_bounds`), when the entry's pace window closes, or when a KMS call has
  ended since (the cache's *epoch*: an ended call moves the latency estimates and lowers the
  count of keys coming).
* **Entry handles.** :meth:`DataKeyCache.generate_entry` and :meth:`DataKeyCache.decrypt_entry`
  return a handle on one entry, its tag and KMS arguments made once: ``take`` is the
  synchronous hit, ``fetch`` the awaitable miss. The Encryptor keeps one per encryption
  context. The ``generate_data_key`` and ``decrypt`` coroutines take the same two steps for one
  call.
* **Event loops.** Flights are tasks of the loop they started on. Used from another loop (a
  second ``asyncio.run``, a test framework's loop per test), the cache forgets the flights of
  the old one -- nobody joins them and their answers are not cached -- and serves on: cached
  keys as before, new KMS calls on the new loop.
* **Fork.** In a child process, every cache made before the fork drops its entries (wiping
  their keys) and forgets its flights (``os.register_at_fork``, with the caches held weakly):
  parent and child never share a key's budget.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from aiokms import _fork
from aiokms._cache.core import (
    MAX_MESSAGES_LIMIT,
    DataKey,
    Entries,
    KeyBudget,
    Slot,
    Usage,
)
from aiokms._cache.source import copy_argument
from aiokms._telemetry import error_code, note_cache, note_cache_call

__all__ = ["CacheStats", "DataKeyCache", "DataKeyClient"]

_GENERATE = "GenerateDataKey"
_DECRYPT = "Decrypt"
_EMPTY: frozenset[Any] = frozenset()
_CLOSED = "this DataKeyCache is closed"

# Seconds between a failed refresh and the next attempt for that entry: a KMS outage must not
# turn every hit into a call. Callers that find the key spent still get a call of their own.
REFRESH_RETRY_SECONDS = 1.0

Response = dict[str, Any]
KMSCall = Callable[..., Awaitable[Response]]

_log = logging.getLogger("aiokms.cache")


class DataKeyClient(Protocol):
    """What the cache calls: aiobotocore-shaped ``generate_data_key`` and ``decrypt`` coroutines.

    ``aiokms.KMSClient`` and aiobotocore's KMS client both fit.
    """

    # properties of any signature: KMSClient's typed methods (whose responses are TypedDicts),
    # aiobotocore's and test doubles fit
    @property
    def generate_data_key(self) -> Callable[..., Awaitable[Any]]: ...

    @property
    def decrypt(self) -> Callable[..., Awaitable[Any]]: ...


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a :class:`DataKeyCache`'s counters.

    Attributes:
        hits: calls answered from a cached key, without waiting.
        misses: calls that waited for KMS (they started a KMS call or joined one under way).
        kms_calls: KMS calls the cache made: for misses, refreshes and bypasses.
        refreshes: of those, calls started ahead of need, for keys to follow the current one.
        bypasses: calls passed to KMS uncached: ``plaintext_length`` over ``max_bytes``, or
            unknown under a byte limit, or arguments no entry is told apart by (``Recipient``,
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


class _Flight(Usage):
    """One KMS call under way for an entry, with the uses and bytes its callers reserved.

    ``counted`` is the entry's slot where those reservations were counted for its pace as
    they were made (so the key, once it arrives, does not count them again). ``ahead``: the
    key it brings may be followed by one fetched ahead (not for a handle made without).
    """

    __slots__ = (
        "ahead",
        "call",
        "counted",
        "counted_bytes",
        "counted_uses",
        "generation",
        "operation",
        "params",
        "refresh",
        "tag",
        "task",
    )

    task: asyncio.Task[Response]

    def __init__(
        self,
        operation: str,
        tag: Hashable,
        call: KMSCall,
        params: dict[str, Any],
        generation: int,
        refresh: bool,
        ahead: bool,
    ) -> None:
        super().__init__()
        self.operation = operation
        self.tag = tag
        self.call = call
        self.params = params  # the cache's own copy: never the caller's dicts
        self.generation = generation
        self.refresh = refresh
        self.ahead = ahead
        self.counted: Slot | None = None
        self.counted_uses = 0
        self.counted_bytes = 0

    def count(self, slot: Slot | None, length: int) -> None:
        """Count a reservation just made for the pace of ``slot`` (the entry's, if it has one)."""
        if slot is None or (self.counted is not None and self.counted is not slot):
            return
        self.counted = slot
        self.counted_uses += 1
        self.counted_bytes += length
        slot.spent_uses += 1
        slot.spent_bytes += length

    def uncount(self, length: int) -> None:
        """Take back a counted reservation (its caller was cancelled)."""
        slot = self.counted
        if slot is not None and self.counted_uses:
            self.counted_uses -= 1
            self.counted_bytes -= length
            slot.spent_uses -= 1
            slot.spent_bytes -= length

    def hand_over(self, slot: Slot | None) -> None:
        """Its key arrives in ``slot`` with the reservations as its first uses: take them off
        the count made as they were reserved, so the slot counts them once."""
        if slot is not None and slot is self.counted:
            slot.spent_uses -= self.counted_uses
            slot.spent_bytes -= self.counted_bytes


class DataKeyCache:
    """Reuses KMS data keys within bounds, with one KMS call per miss and refresh ahead.

    ``generate_data_key`` hands out a cached data key while it is younger than ``max_age``
    seconds and the use keeps it within ``max_messages`` uses and ``max_bytes`` bytes; concurrent
    misses for one entry share one KMS call; a key near its limits is followed by one fetched in
    the background. ``decrypt`` caches Decrypt answers for ``max_age`` seconds.
    :meth:`generate_entry` and :meth:`decrypt_entry` give a handle on one entry whose ``take``
    serves a hit without a coroutine. Use it as ``async with DataKeyCache(...) as cache:`` or
    call :meth:`close`.

    Keys handed out are ``bytes`` copies the cache cannot overwrite: callers should drop them as
    soon as they are done. The cache's own copies are zeroed when retired, evicted or cleared,
    and in a child process after ``os.fork()``, where the cache starts empty. Used from one
    event loop after another, it forgets the KMS calls it had under way on the loop it left:
    nobody waits for them and their keys are not cached.

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
            budget. For age, the next key ages while it waits, so where age is the binding limit
            -- low traffic -- each key serves ``refresh_ahead`` of ``max_age`` as the current
            one; and it is fetched by age only while the entry's pace expects another use of the
            current key before that expires (uses further apart fetch when they find it expired,
            as without refresh ahead: a key fetched ahead would be as old at its first use, and
            be followed ahead in turn). The default, 0.8, leaves a fifth of each budget to hide
            KMS's latency; a key is also followed in time when, at the entry's pace of use, it
            would run out within twice the KMS latency recently seen.
        max_ahead: the most keys one entry fetches ahead of need (default 8). More than one
            is fetched only while the entry's pace, measured over a second or more, spends
            whole budgets faster than KMS answers: as many as it spends in one KMS call's
            latency. A stream that stops leaves those unused (one, at most, for a pace slower
            than that). 1 fetches only the next key.
        clock: monotonic seconds (injectable for tests).

    Raises:
        ValueError: an argument has an invalid value; the message names it.
    """

    __slots__ = (
        "__weakref__",
        "_budget",
        "_bypasses",
        "_bypassing",
        "_clients",
        "_clock",
        "_closed",
        "_entries",
        "_epoch",
        "_era",
        "_errors",
        "_flights",
        "_generation",
        "_hits",
        "_kms_calls",
        "_last_client",
        "_loop",
        "_misses",
        "_pinned",
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
        self._budget = KeyBudget(max_age, max_messages, max_bytes, refresh_ahead, max_ahead)
        self._clock = clock
        self._entries = Entries(capacity)
        # Per tag, the KMS calls under way, oldest first (GenerateDataKey: any number; Decrypt:
        # one). Kept apart from the entries: an entry evicted meanwhile does not lose them.
        self._flights: dict[Hashable, list[_Flight]] = {}
        self._tasks: set[asyncio.Task[Response]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the flights' loop
        self._generation = 0  # bumped when flights are forgotten: they answer, but never cache
        self._era = 0  # bumped when the loop changes or the process forks
        # Bumped at the end of every KMS call, the one event that can make a refresh due
        # sooner than the quiet bounds on data keys say: it moves the latency estimates and
        # lowers the count of keys coming. (A call that starts only raises that count.)
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
        self._bypassing = 0
        self._errors = 0
        _fork.register(self)

    # --- public surface ---------------------------------------------------------------------

    @property
    def budget(self) -> KeyBudget:
        """The limits this cache enforces."""
        return self._budget

    def __repr__(self) -> str:
        closed = " closed" if self._closed else ""
        return (
            f"<DataKeyCache entries={len(self._entries)}/{self._entries.maxsize} "
            f"hits={self._hits} misses={self._misses} in_flight={self._in_flight()}{closed}>"
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
            in_flight=self._in_flight(),
        )

    def clear(self) -> None:
        """Drop every entry, zeroing its plaintext keys.

        KMS calls under way still answer the callers waiting for them, but are not cached.
        """
        self._generation += 1
        self._flights.clear()
        self._entries.clear()
        self._pinned.clear()  # no entry refers to their tokens any more

    async def close(self) -> None:
        """Clear, then cancel the KMS calls the cache runs (for waiters and refreshes) and wait.

        Callers waiting on a cancelled call get ``RuntimeError``, as do later calls; a bypass
        call (not cached) runs in its caller's task and is left to finish. Idempotent.
        """
        self._closed = True
        self.clear()
        self._running_loop()  # calls of another loop are forgotten, not awaited
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def generate_entry(
        self,
        kms: DataKeyClient,
        /,
        *,
        KeyId: str,
        KeySpec: str | None = None,
        NumberOfBytes: int | None = None,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: Sequence[str] | None = None,
        partition: str = "",
        refresh_ahead: bool = True,
    ) -> GenerateEntry:
        """A handle on the entry of GenerateDataKey with these arguments (copied now).

        Its ``take(plaintext_length)`` hands out a cached key without a coroutine, and
        ``await fetch(plaintext_length)`` one from KMS when ``take`` found none; both count
        the use as :meth:`generate_data_key` does. Keep the handle for as long as the
        arguments repeat: making it costs more than a hit.

        ``refresh_ahead=False``: this handle's uses never fetch a key ahead, for arguments
        that will not outlive one data key's budget (the Encryptor's signed suite, whose
        signing key pair, part of the encryption context, changes with each data key).

        Raises:
            TypeError: ``EncryptionContext`` or ``GrantTokens`` hold unhashable values.
        """
        params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
        try:
            tag = self._generate_tag(
                kms,
                partition,
                KeyId,
                KeySpec,
                NumberOfBytes,
                params.get("EncryptionContext"),
                params.get("GrantTokens"),
            )
        except (TypeError, AttributeError):
            raise _unhashable() from None
        return GenerateEntry(self, tag, kms.generate_data_key, params, refresh_ahead)

    def decrypt_entry(
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
    ) -> DecryptEntry:
        """A handle on the entry of Decrypt with these arguments (copied now).

        ``take()`` hands out the cached answer without a coroutine, ``await fetch()`` one from
        KMS when ``take`` found none, as :meth:`decrypt` does.

        Raises:
            TypeError: ``CiphertextBlob`` is not bytes, or ``EncryptionContext`` or
                ``GrantTokens`` hold unhashable values.
        """
        if not isinstance(CiphertextBlob, (bytes, bytearray, memoryview)):
            raise TypeError(f"CiphertextBlob: expected bytes, got {type(CiphertextBlob).__name__}")
        params = _decrypt_params(
            CiphertextBlob, EncryptionContext, GrantTokens, KeyId, EncryptionAlgorithm
        )
        try:
            tag = self._decrypt_tag(
                kms,
                partition,
                params["CiphertextBlob"],
                params.get("EncryptionContext"),
                params.get("GrantTokens"),
                KeyId,
                EncryptionAlgorithm,
            )
        except (TypeError, AttributeError):
            raise _unhashable() from None
        return DecryptEntry(self, tag, kms.decrypt, params)

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
        if kwargs or not self._budget.cacheable(plaintext_length):
            params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
            params.update(kwargs)
            return await self._bypass(_GENERATE, kms.generate_data_key, params)
        try:
            tag = self._generate_tag(
                kms, partition, KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens
            )
            hit = self._take_generated(tag, length)
        except (TypeError, AttributeError):  # leave odd arguments to the client's validation
            params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
            return await self._bypass(_GENERATE, kms.generate_data_key, params)
        if hit is not None:
            data_key, refresh = hit
            if refresh:
                params = _generate_params(
                    KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens
                )
                self._refresh(tag, kms.generate_data_key, params)
            return data_key.response()
        params = _generate_params(KeyId, KeySpec, NumberOfBytes, EncryptionContext, GrantTokens)
        return _own_copy(await self._generated_miss(tag, kms.generate_data_key, params, length))

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

        Entries are told apart by the client, ``partition``, the ciphertext, the encryption context,
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
        if kwargs or not isinstance(CiphertextBlob, (bytes, bytearray, memoryview)):
            params = _decrypt_params(
                CiphertextBlob, EncryptionContext, GrantTokens, KeyId, EncryptionAlgorithm
            )
            params.update(kwargs)
            return await self._bypass(_DECRYPT, kms.decrypt, params)
        blob = CiphertextBlob if type(CiphertextBlob) is bytes else bytes(CiphertextBlob)
        try:
            tag = self._decrypt_tag(
                kms, partition, blob, EncryptionContext, GrantTokens, KeyId, EncryptionAlgorithm
            )
            hit = self._take_decrypted(tag)
        except (TypeError, AttributeError):  # leave odd arguments to the client's validation
            params = _decrypt_params(
                blob, EncryptionContext, GrantTokens, KeyId, EncryptionAlgorithm
            )
            return await self._bypass(_DECRYPT, kms.decrypt, params)
        if hit is not None:
            return hit.response()
        params = _decrypt_params(blob, EncryptionContext, GrantTokens, KeyId, EncryptionAlgorithm)
        return _own_copy(await self._decrypted_miss(tag, kms.decrypt, params))

    # --- tags -----------------------------------------------------------------------------------

    def _generate_tag(
        self,
        kms: object,
        partition: str,
        key_id: str,
        key_spec: str | None,
        number_of_bytes: int | None,
        context: Mapping[str, str] | None,
        grant_tokens: Sequence[str] | None,
    ) -> Hashable:
        """The tag of a GenerateDataKey call (TypeError: an argument is unhashable)."""
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

    def _decrypt_tag(
        self,
        kms: object,
        partition: str,
        blob: bytes,
        context: Mapping[str, str] | None,
        grant_tokens: Sequence[str] | None,
        key_id: str | None,
        algorithm: str | None,
    ) -> Hashable:
        """The tag of a Decrypt call (TypeError: an argument is unhashable)."""
        return (
            _DECRYPT,
            self._token(kms),
            partition,
            blob,
            _context(context),
            _tokens(grant_tokens),
            key_id,
            algorithm,
        )

    def _token(self, kms: object) -> object:
        """What stands for ``kms`` in tags: never outlives it, never reused for another."""
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

    # --- hits: synchronous ----------------------------------------------------------------------

    def _take_generated(self, tag: Hashable, length: int) -> tuple[DataKey, bool] | None:
        """A hit: the entry's key, counted for one use of ``length`` bytes, and whether to
        :meth:`_refresh` the entry now; ``None`` for a miss (or a closed cache, or a length
        the budget cannot cache), which the caller takes the async way.
        """
        budget = self._budget
        if self._closed or length > budget._bytes_cap:  # (KeyBudget.cacheable, for an int)
            return None
        try:
            slot = self._entries[tag]
        except KeyError:
            return None
        now = self._clock()
        data_key = slot.take(budget, now, length)
        if data_key is None:
            return None  # spent: the entry stays, empty, for the keys coming
        self._hits += 1
        note_cache(True, _GENERATE)
        uses, used_bytes, until, epoch = data_key.quiet
        if (
            data_key.uses < uses
            and data_key.bytes < used_bytes
            and now < until
            and epoch == self._epoch
        ):
            return data_key, False  # within the bounds the last check found quiet
        return data_key, self._refresh_due(tag, slot, data_key, now)

    def _take_decrypted(self, tag: Hashable) -> DataKey | None:
        """A hit: the entry's Decrypt answer while it is fresh (dropping a stale one); else
        ``None``. The same terms as :meth:`_take_generated`."""
        if self._closed:
            return None
        entries = self._entries
        try:
            slot = entries[tag]
        except KeyError:
            return None
        current = slot.current
        if current is not None and self._budget.fresh(current, self._clock()):
            self._hits += 1
            note_cache(True, _DECRYPT)
            return current
        slot.wipe()
        del entries[tag]
        return None

    def _refresh_due(self, tag: Hashable, slot: Slot, data_key: DataKey, now: float) -> bool:
        """Whether the entry wants a key fetched ahead now; if not, the bounds within which it
        will not (kept on the key until the epoch moves on)."""
        budget = self._budget
        inf = math.inf
        if budget.refresh_ahead is None:
            data_key.quiet = (inf, inf, inf, self._epoch)
            return False
        if now < slot.refresh_at:  # a refresh failed: none before then
            data_key.quiet = (inf, inf, slot.refresh_at, self._epoch)
            return False
        self._running_loop()  # flights of another loop are not coming
        window = budget.pace_window
        slot.measure(now, window)
        ahead = self._ahead(tag, slot)
        if budget.refresh_due(data_key, now, ahead, slot.pace_uses, slot.pace_bytes):
            return True
        uses, used_bytes, until = budget.quiet_bounds(
            data_key, now, ahead, slot.pace_uses, slot.pace_bytes
        )
        data_key.quiet = (uses, used_bytes, min(until, slot.window_at + window), self._epoch)
        return False

    def _ahead(self, tag: Hashable, slot: Slot) -> int:
        """Keys the entry has standing by, or coming with room for callers yet to come (a call
        its waiting callers have reserved whole serves nobody else)."""
        has_room = self._budget.has_room
        return len(slot.standby) + sum(1 for f in self._flights.get(tag, ()) if has_room(f))

    def _refresh(self, tag: Hashable, call: KMSCall, params: dict[str, Any]) -> None:
        """Fetch a key ahead for the GenerateDataKey entry ``tag``, with nobody waiting.

        Only from a coroutine: a hit taken outside any event loop starts no KMS call.
        """
        if self._running_loop() is not None:
            self._launch(_GENERATE, tag, call, params, refresh=True)

    # --- misses: the async way ------------------------------------------------------------------

    async def _generated_miss(
        self,
        tag: Hashable,
        call: KMSCall,
        params: dict[str, Any],
        length: int,
        ahead: bool = True,
    ) -> Response:
        """Join the entry's oldest flight with room for ``length`` bytes, else start one;
        with ``ahead``, fetch keys ahead too if the entry's callers keep waiting."""
        self._misses += 1
        note_cache(False, _GENERATE)
        self._running_loop()  # flights of another loop are never joined
        budget = self._budget
        for flight in self._flights.get(tag, ()):
            if budget.reserve(flight, length):
                break
        else:
            flight = self._launch(_GENERATE, tag, call, params, refresh=False, ahead=ahead)
            budget.reserve(flight, length)  # a whole budget takes any cacheable use
        slot = self._entries.get(tag)
        flight.count(slot, length)
        if slot is not None and ahead:
            self._fetch_ahead_while_waiting(tag, slot, call, params)
        return await self._wait(flight, length)

    def _fetch_ahead_while_waiting(
        self, tag: Hashable, slot: Slot, call: KMSCall, params: dict[str, Any]
    ) -> None:
        """Fetch keys ahead for an entry whose callers wait: when they come faster than KMS
        answers, every key would otherwise arrive spent by those already waiting, and no
        later caller would ever find one at hand."""
        budget = self._budget
        if budget.refresh_ahead is None:
            return
        now = self._clock()
        if now < slot.refresh_at:
            return
        slot.measure(now, budget.pace_window)
        while budget.refresh_due(
            None, now, self._ahead(tag, slot), slot.pace_uses, slot.pace_bytes
        ):
            self._launch(_GENERATE, tag, call, params, refresh=True)

    async def _decrypted_miss(
        self, tag: Hashable, call: KMSCall, params: dict[str, Any]
    ) -> Response:
        """Join the entry's flight, else start one."""
        self._misses += 1
        note_cache(False, _DECRYPT)
        self._running_loop()
        flights = self._flights.get(tag)
        flight = flights[0] if flights else self._launch(_DECRYPT, tag, call, params, refresh=False)
        flight.uses += 1  # counted for symmetry with reservations; Decrypt has no use budget
        return await self._wait(flight, 0)

    async def _wait(self, flight: _Flight, length: int) -> Response:
        task = flight.task
        try:
            # asyncio.wait, unlike shield, tells a cancelled waiter from a cancelled call.
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            if not task.done():
                self._budget.release(flight, length)
                flight.uncount(length)
            raise
        if task.cancelled():
            raise RuntimeError("the DataKeyCache was closed while this call waited for KMS")
        return task.result()

    async def _bypass(self, operation: str, call: KMSCall, params: dict[str, Any]) -> Response:
        self._bypasses += 1
        self._kms_calls += 1
        note_cache_call(operation)
        self._bypassing += 1
        era = self._era
        try:
            return await call(**params)
        except Exception:
            self._errors += 1
            raise
        finally:
            if era == self._era:  # (a fork or another loop since has reset the count)
                self._bypassing -= 1

    # --- flights --------------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop (None outside any), once the flights of another loop are forgotten.

        Such flights may never end (their loop closed, or no longer runs): joined, they would
        hang their caller; counted as coming, they would hold refreshes back for good.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if loop is not self._loop:
            if self._loop is not None:
                self._forget_flights()
            self._loop = loop
        return loop

    def _forget_flights(self) -> None:
        self._generation += 1
        self._era += 1
        self._flights.clear()
        self._tasks = set()
        self._bypassing = 0

    def _after_fork_in_child(self) -> None:
        """In a child process: drop every key the parent holds too, and the parent's calls."""
        self._entries.clear()
        self._forget_flights()
        self._loop = None

    def _in_flight(self) -> int:
        """KMS calls under way (on the running loop: another loop's may never end)."""
        loop: asyncio.AbstractEventLoop | None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = self._loop
        tasks = self._tasks
        if loop is not self._loop:
            tasks = {task for task in tasks if task.get_loop() is loop}
        return len(tasks) + self._bypassing

    def _launch(
        self,
        operation: str,
        tag: Hashable,
        call: KMSCall,
        params: dict[str, Any],
        *,
        refresh: bool,
        ahead: bool = True,
    ) -> _Flight:
        """Start a KMS call for ``tag`` as a task the cache owns, open to callers; ``ahead``:
        its key may be followed by one fetched ahead."""
        flight = _Flight(operation, tag, call, params, self._generation, refresh, ahead)
        task = asyncio.get_running_loop().create_task(self._fly(flight))
        task.add_done_callback(self._landed)
        flight.task = task
        self._tasks.add(task)
        self._flights.setdefault(tag, []).append(flight)
        self._kms_calls += 1
        note_cache_call(operation)
        if refresh:
            self._refreshes += 1
        return flight

    async def _fly(self, flight: _Flight) -> Response:
        try:
            return await self._call(flight)
        finally:
            self._epoch += 1  # the latency estimates and the keys coming may have changed

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
                if flight.refresh and not flight.uses:  # nobody waits: nobody else hears of it
                    _log.info(
                        "a data key fetched ahead was not made (%s); callers who find the "
                        "current key spent call KMS themselves",
                        error_code(exc),
                    )
            raise
        self._ended(flight)
        if flight.generation != self._generation:
            return response  # cleared or forgotten meanwhile: answered, not cached
        if flight.operation == _GENERATE:
            self._budget.observe(self._clock() - started)
        if isinstance(response, dict) and isinstance(response.get("Plaintext"), (bytes, bytearray)):
            if flight.operation == _GENERATE:
                self._cache_generated(flight, response)
            else:
                self._cache_decrypted(flight, response)
        return response

    def _landed(self, task: asyncio.Task[Response]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so a failed refresh nobody awaited logs nothing

    def _ended(self, flight: _Flight) -> None:
        """A call is over: before any caller wakes, so nobody joins it any more (a failure is
        not cached: the next caller makes a call of its own)."""
        flights = self._flights.get(flight.tag)
        if flights is not None and flight in flights:
            flights.remove(flight)
            if not flights:
                del self._flights[flight.tag]

    def _generate_failed(self, flight: _Flight) -> None:
        slot = self._entries.get(flight.tag)
        if slot is not None:
            if flight.refresh:
                slot.refresh_at = self._clock() + REFRESH_RETRY_SECONDS
            self._drop_if_spent(flight.tag, slot)

    def _drop_if_spent(self, tag: Hashable, slot: Slot) -> None:
        if slot.empty() and tag not in self._flights:
            del self._entries[tag]  # its keys are spent and none is coming

    def _cache_generated(self, flight: _Flight, response: Response) -> None:
        budget = self._budget
        now = self._clock()
        tag = flight.tag
        data_key = DataKey(response, now)
        data_key.uses = flight.uses  # the callers' reservations are its first uses
        data_key.bytes = flight.bytes
        entries = self._entries
        slot = entries.get(tag)
        flight.hand_over(slot)
        if not budget.has_room(data_key):  # its callers took (about) its whole budget
            if slot is None:
                # Kept, empty, while more is coming: its pace tells how far ahead to fetch.
                slot = entries[tag] = Slot(now)
            slot.retire(data_key)
            self._drop_if_spent(tag, slot)
            return
        if slot is None:
            if flight.refresh and not flight.uses:
                data_key.wipe()  # its entry was evicted meanwhile, and nobody waits for it
                return
            slot = entries[tag] = Slot(now, data_key)
        elif not slot.install(data_key, budget.max_ahead):
            slot.retire(data_key)  # max_ahead keys are waiting already
            return
        if (
            slot.current is data_key
            and data_key.uses
            and flight.ahead
            and budget.refresh_due(
                data_key, now, self._ahead(tag, slot), slot.pace_uses, slot.pace_bytes
            )
        ):
            # Its waiting callers already spent much of it: fetch its successor now. (A key
            # nobody waited for is looked at by its first hit; should none come, as when a
            # stream stops, nothing more is fetched.)
            self._launch(_GENERATE, tag, flight.call, flight.params, refresh=True)

    def _cache_decrypted(self, flight: _Flight, response: Response) -> None:
        now = self._clock()
        data_key = DataKey(response, now)
        entries = self._entries
        try:
            entries[flight.tag].replace(data_key)
        except KeyError:
            entries[flight.tag] = Slot(now, data_key)


class _Entry:
    """A handle on one entry of a DataKeyCache: its tag and KMS arguments, made once."""

    __slots__ = ("_ahead", "_cache", "_call", "_params", "_tag")

    def __init__(
        self,
        cache: DataKeyCache,
        tag: Hashable,
        call: KMSCall,
        params: dict[str, Any],
        ahead: bool = True,
    ) -> None:
        self._cache = cache
        self._tag = tag
        self._call = call
        self._params = params
        self._ahead = ahead  # whether its uses may fetch keys ahead of need

    def __repr__(self) -> str:
        key_id = self._params.get("KeyId")
        return f"<{type(self).__name__} KeyId={key_id!r}>"


class GenerateEntry(_Entry):
    """A handle on a DataKeyCache entry of GenerateDataKey (see
    :meth:`DataKeyCache.generate_entry`)."""

    __slots__ = ()

    def take(self, plaintext_length: int | None = 0) -> DataKey | None:
        """The entry's data key, counted for one use of ``plaintext_length`` bytes, without a
        coroutine; ``None`` when there is none to hand out (then :meth:`fetch`).

        The key is the cache's own: read its ``plaintext`` before the next ``await`` (a key
        retired meanwhile is zeroed) and never change or keep it. May start a KMS call ahead
        of need, so call it from a coroutine on the loop the cache serves.

        Raises:
            ValueError: ``plaintext_length`` is not None or an int of at least 0.
        """
        if type(plaintext_length) is not int or plaintext_length < 0:
            if plaintext_length is None and self._cache._budget.max_bytes is not None:
                return None  # unknown under a byte limit: fetch() goes to KMS uncached
            plaintext_length = _length(plaintext_length)
        cache = self._cache
        hit = cache._take_generated(self._tag, plaintext_length)
        if hit is None:
            return None
        data_key, refresh = hit
        if refresh and self._ahead:
            cache._refresh(self._tag, self._call, self._params)
        return data_key

    async def fetch(self, plaintext_length: int | None = 0) -> DataKey:
        """A data key for one use of ``plaintext_length`` bytes, the caller's own: a hit, else
        from KMS (joining a call under way when one has room), as
        :meth:`DataKeyCache.generate_data_key` does.

        Raises:
            ValueError: ``plaintext_length`` is not None or an int of at least 0.
            RuntimeError: the cache is closed, or was closed while this call waited.
            botocore.exceptions.ClientError: from KMS; and the client's other errors.
        """
        cache = self._cache
        if cache._closed:
            raise RuntimeError(_CLOSED)
        length = _length(plaintext_length)
        if not cache._budget.cacheable(plaintext_length):
            return DataKey(await cache._bypass(_GENERATE, self._call, dict(self._params)))
        hit = self.take(length)
        if hit is not None:
            return DataKey(hit.response(), hit.born)
        response = await cache._generated_miss(
            self._tag, self._call, self._params, length, self._ahead
        )
        return DataKey(response, cache._clock())


class DecryptEntry(_Entry):
    """A handle on a DataKeyCache entry of Decrypt (see :meth:`DataKeyCache.decrypt_entry`)."""

    __slots__ = ()

    def take(self, plaintext_length: int | None = 0) -> DataKey | None:
        """The entry's Decrypt answer while it is fresh, without a coroutine; else ``None``.

        The key is the cache's own, on the terms of :meth:`GenerateEntry.take`.
        ``plaintext_length`` is ignored: decrypting counts against no budget.
        """
        return self._cache._take_decrypted(self._tag)

    async def fetch(self, plaintext_length: int | None = 0) -> DataKey:
        """The Decrypt answer, the caller's own: a hit, else from KMS (joining a call under
        way), as :meth:`DataKeyCache.decrypt` does.

        Raises:
            RuntimeError: the cache is closed, or was closed while this call waited.
            botocore.exceptions.ClientError: from KMS; and the client's other errors.
        """
        cache = self._cache
        if cache._closed:
            raise RuntimeError(_CLOSED)
        hit = cache._take_decrypted(self._tag)
        if hit is not None:
            return DataKey(hit.response(), hit.born)
        response = await cache._decrypted_miss(self._tag, self._call, self._params)
        return DataKey(response, cache._clock())


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


def _unhashable() -> TypeError:
    return TypeError(
        "EncryptionContext, GrantTokens: expected a mapping of str to str and a list of str"
    )


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
    """A caller's own response dict (the ``bytes`` inside are immutable and may be shared)."""
    out = dict(response)
    metadata = out.get("ResponseMetadata")
    if isinstance(metadata, dict):
        out["ResponseMetadata"] = dict(metadata)
    return out


def _generate_params(
    key_id: str,
    key_spec: str | None,
    number_of_bytes: int | None,
    context: Mapping[str, str] | None,
    grant_tokens: Sequence[str] | None,
) -> dict[str, Any]:
    """GenerateDataKey's arguments, the context and token list copied: the request a flight
    sends later must be the one the caller made, whatever the caller does to its own."""
    params: dict[str, Any] = {"KeyId": key_id}
    if key_spec is not None:
        params["KeySpec"] = key_spec
    if number_of_bytes is not None:
        params["NumberOfBytes"] = number_of_bytes
    if context is not None:
        params["EncryptionContext"] = copy_argument(context)
    if grant_tokens is not None:
        params["GrantTokens"] = copy_argument(grant_tokens)
    return params


def _decrypt_params(
    blob: bytes | bytearray | memoryview,
    context: Mapping[str, str] | None,
    grant_tokens: Sequence[str] | None,
    key_id: str | None,
    algorithm: str | None,
) -> dict[str, Any]:
    """Decrypt's arguments, copied as :func:`_generate_params` copies (the blob as bytes)."""
    params: dict[str, Any] = {"CiphertextBlob": copy_argument(blob)}
    if context is not None:
        params["EncryptionContext"] = copy_argument(context)
    if grant_tokens is not None:
        params["GrantTokens"] = copy_argument(grant_tokens)
    if key_id is not None:
        params["KeyId"] = key_id
    if algorithm is not None:
        params["EncryptionAlgorithm"] = algorithm
    return params
