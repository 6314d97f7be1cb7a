"""The seam between a data-key cache and an encryptor: entries with a synchronous ``take``.

An encryptor asks a :class:`DataKeySource` once for a handle on the entry of a set of KMS
arguments (:meth:`~DataKeySource.generate_entry`, :meth:`~DataKeySource.decrypt_entry`) and
keeps it; per message it calls :meth:`DataKeyEntry.take`, a hit without a coroutine, and only
when that finds nothing awaits :meth:`DataKeyEntry.fetch`. :class:`~aiokms.DataKeyCache` is
such a source. :class:`CoroutineSource` makes one of any object with ``generate_data_key`` and
``decrypt`` coroutines shaped like the cache's: its entries never hit, so every use awaits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

from aiokms._cache.core import DataKey

__all__ = ["CoroutineSource", "DataKeyEntry", "DataKeySource", "copy_argument"]


class DataKeyEntry(Protocol):
    """A handle on one entry of a data-key source: one set of KMS arguments.

    ``take`` serves a hit without a coroutine; ``fetch`` is the way when it returns ``None``.
    """

    def take(self, plaintext_length: int | None = 0) -> DataKey | None:
        """A data key for one use of ``plaintext_length`` bytes if one is at hand, else None.

        The key may be the source's own: read it before the next ``await``, never change or
        keep it.
        """
        ...

    def fetch(self, plaintext_length: int | None = 0) -> Awaitable[DataKey]:
        """A data key for one use of ``plaintext_length`` bytes, from KMS if need be; the
        caller's own."""
        ...


class DataKeySource(Protocol):
    """What the Encryptor needs of a data-key cache: handles on entries.

    ``aiokms.DataKeyCache`` is one; :class:`CoroutineSource` adapts other caches. A source may
    also have a ``budget`` attribute with ``max_age`` and ``max_messages``: the Encryptor's
    signing key pairs (signed suite) then live as long as one of its data keys.
    """

    def generate_entry(
        self,
        kms: Any,
        /,
        *,
        KeyId: str,
        KeySpec: str | None = None,
        EncryptionContext: Mapping[str, str] | None = None,
        refresh_ahead: bool = True,
    ) -> DataKeyEntry:
        """The entry of GenerateDataKey with these arguments. ``refresh_ahead=False``: its
        uses should fetch no key ahead of need (a source that never does may ignore it)."""
        ...

    def decrypt_entry(
        self,
        kms: Any,
        /,
        *,
        CiphertextBlob: bytes,
        EncryptionContext: Mapping[str, str] | None = None,
        KeyId: str | None = None,
    ) -> DataKeyEntry:
        """The entry of Decrypt with these arguments."""
        ...


class CoroutineSource:
    """A :class:`DataKeySource` made of an object with ``generate_data_key`` and ``decrypt``
    coroutines that take the client first and KMS's arguments by keyword, as
    ``aiokms.DataKeyCache``'s do (``generate_data_key`` also ``plaintext_length``).

    Its entries have no synchronous hits: ``take`` returns ``None`` and every use awaits
    ``fetch``, which calls the object's coroutine. Slower than a ``DataKeyCache``'s own entries,
    so meant for caches of other kinds.

    Args:
        cache: the object to call. Its ``budget`` attribute, if it has one, is passed on.

    Raises:
        TypeError: ``cache`` lacks one of the two methods.
    """

    __slots__ = ("_cache",)

    def __init__(self, cache: Any) -> None:
        for name in ("generate_data_key", "decrypt"):
            if not callable(getattr(cache, name, None)):
                raise TypeError(f"cache: expected an object with a {name}() coroutine method")
        self._cache = cache

    @property
    def budget(self) -> Any:
        """The wrapped object's ``budget`` (max_age, max_messages), or None."""
        return getattr(self._cache, "budget", None)

    def __repr__(self) -> str:
        return f"<CoroutineSource of {type(self._cache).__name__}>"

    def generate_entry(
        self,
        kms: Any,
        /,
        *,
        KeyId: str,
        KeySpec: str | None = None,
        NumberOfBytes: int | None = None,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: Sequence[str] | None = None,
        refresh_ahead: bool = True,
    ) -> DataKeyEntry:
        """The entry of GenerateDataKey with these arguments (copied now); ``refresh_ahead``
        is the wrapped object's business, so it is ignored here."""
        params = _given(
            KeyId=KeyId,
            KeySpec=KeySpec,
            NumberOfBytes=NumberOfBytes,
            EncryptionContext=EncryptionContext,
            GrantTokens=GrantTokens,
        )
        return _CalledEntry(self._cache.generate_data_key, kms, params, with_length=True)

    def decrypt_entry(
        self,
        kms: Any,
        /,
        *,
        CiphertextBlob: bytes,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: Sequence[str] | None = None,
        KeyId: str | None = None,
        EncryptionAlgorithm: str | None = None,
    ) -> DataKeyEntry:
        """The entry of Decrypt with these arguments (copied now)."""
        params = _given(
            CiphertextBlob=CiphertextBlob,
            EncryptionContext=EncryptionContext,
            GrantTokens=GrantTokens,
            KeyId=KeyId,
            EncryptionAlgorithm=EncryptionAlgorithm,
        )
        return _CalledEntry(self._cache.decrypt, kms, params, with_length=False)


class _CalledEntry:
    """An entry of a :class:`CoroutineSource`: every use is a call of the wrapped coroutine."""

    __slots__ = ("_call", "_kms", "_params", "_with_length")

    def __init__(self, call: Any, kms: Any, params: dict[str, Any], *, with_length: bool) -> None:
        self._call = call
        self._kms = kms
        self._params = params
        self._with_length = with_length

    def take(self, plaintext_length: int | None = 0) -> DataKey | None:
        return None

    async def fetch(self, plaintext_length: int | None = 0) -> DataKey:
        if self._with_length:
            response = await self._call(
                self._kms, plaintext_length=plaintext_length, **self._params
            )
        else:
            response = await self._call(self._kms, **self._params)
        return DataKey(response)


def copy_argument(value: Any) -> Any:
    """A KMS argument as a cache keeps it for a call it makes later: a mapping, list or buffer
    copied (the caller may change its own once the call is made), anything else as it is."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def _given(**params: Any) -> dict[str, Any]:
    """The arguments given (not None), each copied."""
    return {name: copy_argument(value) for name, value in params.items() if value is not None}
