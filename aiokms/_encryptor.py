"""Encryptor: envelope encryption with KMS data keys, in the AWS Encryption SDK message format.

How it works. Encrypting a message::

    data key   <- the cache entry's take() (a hit, no coroutine), else await its fetch();
                  without a cache, KMS GenerateDataKey (first key id)
    wrapped    <- KMS Encrypt of the data key under every other key id      (once per data key)
    message    <- aiokms._message.seal_message(...)                          (pure, no I/O)

The KMS encryption context is the message's encryption context (for the signed suite it
includes the ``aws-crypto-public-key`` pair, as the ESDK sends it). Everything in the header
that depends only on the data key and the encryption context (the encrypted data keys, the
serialized context, the frame length) is serialized once per data key and reused, so that with
a cache the per-message work is HKDF, AES-GCM and one ``join``.

Decrypting::

    key ARNs   <- KMS DescribeKey of each key id that is not a key ARN   (first decrypt only)
    header     <- aiokms._message.parse_header(...)     (memoized per distinct EC + EDK bytes)
    checks     the caller's encryption context pairs, before any KMS call
    data key   <- cache entries (likewise) or KMS Decrypt, trying only the ``aws-kms``
                  encrypted data keys whose key ARN is one of the key ids (or, in discovery
                  mode, in an allowed account and partition), in message order
    plaintext  <- commitment, header tag, every frame, signature, no trailing bytes

Shared calls. Concurrent messages share one DescribeKey per key id and one set of Encrypt calls
per data key, each a task awaited by all of them. Those tasks belong to the event loop they
started on: used from another loop (a second ``asyncio.run``, a test framework's loop per test),
the encryptor starts calls of the new loop's own rather than wait for the old loop's, which may
never run again.

The cache is any :class:`~aiokms.DataKeySource`: the encryptor asks it for a handle on the
entry of each encryption context (and of each encrypted data key it decrypts), keeps the
handle, and uses only its ``take`` and ``fetch``. An object with just the two coroutine methods
of ``DataKeyCache`` is wrapped in a :class:`~aiokms.CoroutineSource` (every use then awaits).

For the signed suite with a cache, a signing key pair serves one encryption context until the
cache's ``max_age`` or ``max_messages`` would retire a data key (the public key is part of the
encryption context, so it is part of the cache entry's tag); without a cache, every message
gets a new pair, as the ESDK's default materials manager makes them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Final, Protocol, TypeVar

from botocore.exceptions import ClientError

from aiokms import _fork
from aiokms._cache import CoroutineSource, DataKey, DataKeyEntry, DataKeySource
from aiokms._frames import forget_locals
from aiokms._message import (
    PUBLIC_KEY_CONTEXT_KEY,
    RESERVED_CONTEXT_PREFIX,
    Algorithm,
    EncryptedDataKey,
    Header,
    Incomplete,
    MessageReader,
    MessageWriter,
    SectionMemo,
    Signer,
    decrypt_message,
    header_middle,
    parse_header,
    seal_message,
    serialize_encryption_context,
)
from aiokms._message.header import MAX_MEMO_SECTION
from aiokms._message.suites import MAX_FRAME_LENGTH, MAX_NON_FRAMED_LENGTH
from aiokms.errors import InvalidMessageError, InvalidResponse

__all__ = ["Algorithm", "Encryptor", "KMSLike"]

KMS_PROVIDER_ID: Final = "aws-kms"
_KEY_SPEC: Final = "AES_256"
_DATA_KEY_LEN: Final = 32
_MEMO_SIZE: Final = 512
_DEFAULT_MAX_EDKS: Final = 10
# What a streamed message may make its reader buffer before anything is authenticated: far
# above the 4 KiB frames of every writer's default, far below the format's 2 GiB and 64 GiB.
DEFAULT_MAX_FRAME_LENGTH: Final = 2**20
DEFAULT_MAX_BODY_LENGTH: Final = 2**26
# Signing key lifetime when the cache does not say (the ESDK's caching CMM has no default).
_DEFAULT_SIGNER_AGE: Final = 300.0
_DEFAULT_SIGNER_USES: Final = 10_000

Bytes = bytes | bytearray | memoryview
_K = TypeVar("_K")
_V = TypeVar("_V")
_F = TypeVar("_F", bound="asyncio.Future[Any]")


class KMSLike(Protocol):
    """The KMS operations the encryptor calls: an ``aiokms.KMSClient`` or aiobotocore client."""

    # properties of any signature: KMSClient's typed methods, aiobotocore's and test doubles fit
    @property
    def generate_data_key(self) -> Callable[..., Awaitable[Mapping[str, Any]]]: ...

    @property
    def encrypt(self) -> Callable[..., Awaitable[Mapping[str, Any]]]: ...

    @property
    def decrypt(self) -> Callable[..., Awaitable[Mapping[str, Any]]]: ...


class _Memo(dict[_K, _V]):
    """A dict that forgets its oldest entry when full (entries are cheap to recompute)."""

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int = _MEMO_SIZE) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: _K, value: _V) -> None:
        if len(self) >= self.maxsize and key not in self:
            del self[next(iter(self))]
        super().__setitem__(key, value)


class _Context:
    """One caller encryption context, validated, in the forms KMS and the header need.

    ``middles`` maps a cached data key's ciphertext to the header bytes made for it;
    ``entry`` is the cache's entry of its GenerateDataKey calls, once asked for.
    """

    __slots__ = (
        "entry",
        "expires",
        "kms_context",
        "middles",
        "serialized",
        "signer",
        "uses_left",
    )

    def __init__(
        self,
        kms_context: dict[str, str],
        signer: Signer | None = None,
        expires: float = float("inf"),
        uses_left: float = float("inf"),
    ) -> None:
        self.kms_context = kms_context
        self.serialized = serialize_encryption_context(kms_context)
        self.signer = signer
        self.expires = expires
        self.uses_left = uses_left
        # The data key in use, the one refreshed ahead, and some slack.
        self.middles: _Memo[bytes, bytes] = _Memo(4)
        self.entry: DataKeyEntry | None = None

    def __repr__(self) -> str:
        return f"<_Context pairs={len(self.kms_context)} signed={self.signer is not None}>"


def _is_key_arn(arn: str) -> bool:
    """Whether ``arn`` is a KMS key ARN: ``arn:<partition>:kms:<region>:<account>:key/<id>``."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return False
    prefix, partition, service, region, account, resource = parts
    return (
        prefix == "arn"
        and service == "kms"
        and bool(partition and region and account)
        and resource.startswith("key/")
        and len(resource) > len("key/")
    )


def _endpoint(kms: object) -> str:
    url = getattr(getattr(kms, "meta", None), "endpoint_url", None)
    return url if isinstance(url, str) else "KMS"


def _check_context(value: object, name: str = "encryption_context") -> dict[str, str]:
    """A copy of a caller's encryption context, or a clear error naming ``name``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a mapping of str to str, got {type(value).__name__}")
    context = dict(value)
    for key, item in context.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(
                f"{name}: keys and values must be str, got "
                f"{type(key).__name__}: {type(item).__name__}"
            )
    return context


def _check_bytes(value: object, name: str) -> Bytes:
    """``value`` if it is bytes-like (memoryviews as bytes), else a TypeError naming ``name``."""
    if isinstance(value, (bytes, bytearray)):
        return value
    if isinstance(value, memoryview):
        if not value.c_contiguous:  # a strided view: its bytes, as bytes() reads them
            return bytes(value)
        return value if value.format == "B" else value.cast("B")
    raise TypeError(f"{name}: expected bytes, got {type(value).__name__}")


async def _chunks(source: AsyncIterable[Bytes] | Iterable[Bytes]) -> AsyncIterator[Bytes]:
    """The chunks of an async or plain iterable, each checked to be bytes."""
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            yield _check_bytes(chunk, "chunks")
    else:
        for chunk in source:
            yield _check_bytes(chunk, "chunks")


def _check_limit(value: object, name: str, maximum: int) -> int:
    """``value`` if it is an int from 1 to ``maximum``, else a ValueError naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
        raise ValueError(f"{name}: {value!r} must be an int from 1 to {maximum}")
    return value


def _check_chunks(value: object) -> None:
    if isinstance(value, (bytes, bytearray, memoryview, str)) or not isinstance(
        value, (AsyncIterable, Iterable)
    ):
        raise TypeError(
            f"chunks: expected an async iterable (or iterable) of bytes, got {type(value).__name__}"
        )


class Encryptor:
    """Envelope encryption under KMS keys, in the AWS Encryption SDK message format (v2).

    ``await enc.encrypt(b"...", encryption_context={...})`` returns a message that any AWS
    Encryption SDK (2.x and later, any language) decrypts with the same KMS keys, and
    ``await enc.decrypt(message)`` reads theirs. Messages use a fresh data key from KMS each,
    or, with ``cache=``, a data key the cache hands out for several messages.

    Args:
        kms: an ``aiokms.KMSClient`` (or an aiobotocore KMS client); the encryptor only calls
            ``generate_data_key``, ``encrypt`` and ``decrypt`` and never closes it.
        key_ids: one KMS key id or a list. The first makes each data key (GenerateDataKey),
            each other one wraps it too (Encrypt), so any of them can decrypt. Any key id form
            works (key ARN, key id, alias name, alias ARN). Decrypting matches encrypted data
            keys by key ARN, as the ESDK's strict mode does, so the others are resolved to key
            ARNs with one DescribeKey each at the first decrypt, once: an alias pointed at
            another key later goes on naming the key it named then. Without a ``describe_key``
            method on ``kms``, only key ARNs are accepted. May be empty only in discovery mode,
            for a decrypt-only encryptor.
        cache: an ``aiokms.DataKeyCache``, or another :class:`~aiokms.DataKeySource`, or any
            object with ``DataKeyCache``'s ``generate_data_key`` and ``decrypt`` coroutines
            (wrapped in an ``aiokms.CoroutineSource``); data keys for both encrypting and
            decrypting then come through it.
        algorithm: an :class:`Algorithm`, its name or its suite id: 0x0478 (default, no
            signature) or 0x0578 (ECDSA P-384 signature, the ESDK's default). Decrypting
            reads both, whatever this is.
        frame_length: plaintext bytes per frame, 1 to 2^31 - 1 (default 4096). Streams use
            memory in proportion to it.
        discovery: when decrypting, also try encrypted data keys of KMS keys not in
            ``key_ids``, if their ARN's account is in ``discovery_accounts`` and partition is
            ``discovery_partition`` (and region the client's, where known).
        discovery_accounts: the AWS account ids discovery trusts; required with ``discovery``.
        discovery_partition: the partition discovery trusts (default ``"aws"``).
        max_encrypted_data_keys: messages with more encrypted data keys than this are refused
            unread, and encrypting with more key ids is an error (default 10; ``None``: no
            limit). It bounds the work one forged message can cause.
        max_frame_length: :meth:`decrypt_stream` refuses messages whose header declares
            frames longer than this many bytes (default 1 MiB, 2^20), before buffering any
            of them: a reader holds one frame before its tag can be checked, and a header
            may ask for up to 2 GiB. Keep it at least ``frame_length`` to stream this
            encryptor's own messages.
        max_body_length: likewise for the body of a legacy non-framed message, which a
            reader holds whole (default 64 MiB, 2^26; the format allows 64 GiB).
            :meth:`decrypt`, given the whole message, is bound by neither: the message is
            in memory already.
        clock: monotonic seconds, for the signing key pairs' lifetime (injectable for tests).

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it. Nothing is sent
            to KMS before the arguments have been checked.
    """

    __slots__ = (
        "__weakref__",  # for aiokms._fork
        "_accounts",
        "_algorithm",
        "_cache",
        "_clock",
        "_contexts",
        "_discovery",
        "_frame_length",
        "_key_arns",
        "_key_ids",
        "_kms",
        "_last_context",
        "_last_entries",
        "_max_body_length",
        "_max_edks",
        "_max_frame_length",
        "_partition",
        "_pending",
        "_primary",
        "_region",
        "_resolving",
        "_sections",
        "_signer_age",
        "_signer_uses",
        "_source",
        "_unresolved",
        "_usable",
    )

    def __init__(
        self,
        kms: KMSLike,
        key_ids: str | Sequence[str],
        *,
        cache: DataKeySource | Any = None,
        algorithm: Algorithm | str | int = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        frame_length: int = 4096,
        discovery: bool = False,
        discovery_accounts: Iterable[str] | None = None,
        discovery_partition: str = "aws",
        max_encrypted_data_keys: int | None = _DEFAULT_MAX_EDKS,
        max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
        max_body_length: int = DEFAULT_MAX_BODY_LENGTH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for method in ("generate_data_key", "encrypt", "decrypt"):
            if not callable(getattr(kms, method, None)):
                raise TypeError(f"kms: expected a KMS client with a {method}() coroutine method")
        if isinstance(key_ids, str):
            ids: tuple[str, ...] = (key_ids,)
        elif isinstance(key_ids, Iterable) and not isinstance(key_ids, (bytes, Mapping)):
            ids = tuple(key_ids)
        else:
            raise TypeError(f"key_ids: expected a key id or a list of them, got {key_ids!r}")
        for key_id in ids:
            if not isinstance(key_id, str) or not key_id:
                raise ValueError(f"key_ids: every key id must be a non-empty str, got {key_id!r}")
        if len(set(ids)) != len(ids):
            raise ValueError("key_ids: a key id is listed twice")
        unresolved = tuple(key_id for key_id in ids if not _is_key_arn(key_id))
        if unresolved and not callable(getattr(kms, "describe_key", None)):
            raise ValueError(
                f"key_ids: {unresolved[0]!r} is not a key ARN, and this kms has no "
                "describe_key() to resolve it with: pass key ARNs "
                "(arn:aws:kms:REGION:ACCOUNT:key/KEY_ID)"
            )
        if not isinstance(discovery, bool):
            raise TypeError(f"discovery: expected a bool, got {type(discovery).__name__}")
        if not ids and not discovery:
            raise ValueError("key_ids: at least one key id is needed (or discovery=True)")
        source = _source(cache)
        if (
            not isinstance(frame_length, int)
            or isinstance(frame_length, bool)
            or not 0 < frame_length <= MAX_FRAME_LENGTH
        ):
            raise ValueError(
                f"frame_length: {frame_length!r} must be an int from 1 to {MAX_FRAME_LENGTH}"
            )
        if max_encrypted_data_keys is not None:
            if (
                not isinstance(max_encrypted_data_keys, int)
                or isinstance(max_encrypted_data_keys, bool)
                or max_encrypted_data_keys < 1
            ):
                raise ValueError(
                    f"max_encrypted_data_keys: {max_encrypted_data_keys!r} must be None or an "
                    "int of at least 1"
                )
            if len(ids) > max_encrypted_data_keys:
                raise ValueError(
                    f"max_encrypted_data_keys: {max_encrypted_data_keys} is less than the "
                    f"{len(ids)} key_ids"
                )
        self._max_frame_length = _check_limit(
            max_frame_length, "max_frame_length", MAX_FRAME_LENGTH
        )
        self._max_body_length = _check_limit(
            max_body_length, "max_body_length", MAX_NON_FRAMED_LENGTH
        )
        accounts: frozenset[str] = frozenset()
        if discovery:
            if discovery_accounts is None or isinstance(discovery_accounts, str):
                raise ValueError(
                    "discovery_accounts: discovery=True needs the list of AWS account ids "
                    "whose KMS keys may decrypt"
                )
            accounts = frozenset(discovery_accounts)
            if not accounts or not all(isinstance(a, str) and a for a in accounts):
                raise ValueError("discovery_accounts: must be non-empty account id strings")
            if not isinstance(discovery_partition, str) or not discovery_partition:
                raise ValueError("discovery_partition: must be a non-empty str such as 'aws'")
        elif discovery_accounts is not None:
            raise ValueError("discovery_accounts: only meaningful with discovery=True")
        self._kms = kms
        self._key_ids = ids
        self._primary = ids[0] if ids else ""
        self._key_arns = frozenset(key_id.encode() for key_id in ids if _is_key_arn(key_id))
        # aliases, alias ARNs and bare key ids: resolved to key ARNs at the first decrypt
        self._unresolved = unresolved
        self._resolving: asyncio.Future[frozenset[bytes]] | None = None
        self._cache = cache
        self._source = source
        self._algorithm = Algorithm.coerce(algorithm)
        self._frame_length = frame_length
        self._discovery = discovery
        self._accounts = accounts
        self._partition = discovery_partition
        region = getattr(getattr(kms, "meta", None), "region_name", None)
        self._region = region if isinstance(region, str) else None
        self._max_edks = max_encrypted_data_keys
        if not callable(clock):
            raise TypeError(f"clock: expected a callable returning seconds, got {clock!r}")
        self._clock = clock
        # A signing key pair lives as long as the cache lets one data key live.
        budget = getattr(source, "budget", None)
        max_age = getattr(budget, "max_age", None)
        max_uses = getattr(budget, "max_messages", _DEFAULT_SIGNER_USES)
        self._signer_age = (
            float(max_age) if isinstance(max_age, (int, float)) else _DEFAULT_SIGNER_AGE
        )
        self._signer_uses = float(max_uses) if isinstance(max_uses, int) else float("inf")
        self._contexts: _Memo[tuple[tuple[str, str], ...], _Context] = _Memo()
        # The unsigned context entry used last, with a copy of the dict it was asked for by.
        self._last_context: tuple[dict[str, str], _Context | None] = ({}, None)
        self._pending: dict[tuple[bytes, bytes], asyncio.Future[bytes]] = {}
        self._sections = SectionMemo()
        self._usable: _Memo[tuple[EncryptedDataKey, ...], tuple[tuple[bytes, str], ...]] = _Memo()
        # The last header's usable entries with their cache entries, by the identity of its
        # parsed sections (which the section memo shares between messages).
        self._last_entries: tuple[object, object, tuple[tuple[str, DataKeyEntry], ...]] = (
            None,
            None,
            (),
        )
        _fork.register(self)

    def _after_fork_in_child(self) -> None:
        """In a child process: forget the contexts, whose signing key pairs the parent goes on
        spending (the cache drops the data keys they serve), and the parent's calls."""
        self._contexts.clear()
        self._last_context = ({}, None)
        self._pending = {}
        self._resolving = None
        self._last_entries = (None, None, ())

    # --- properties ---------------------------------------------------------------------------

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The key ids, first the one that makes data keys."""
        return self._key_ids

    @property
    def algorithm(self) -> Algorithm:
        """The suite new messages are written with."""
        return self._algorithm

    @property
    def frame_length(self) -> int:
        """Plaintext bytes per frame of new messages."""
        return self._frame_length

    def __repr__(self) -> str:
        cache = type(self._cache).__name__ if self._cache is not None else None
        discovery = f" discovery={sorted(self._accounts)}" if self._discovery else ""
        return (
            f"<Encryptor {self._algorithm.name} key_ids={len(self._key_ids)} "
            f"frame_length={self._frame_length} cache={cache}{discovery}>"
        )

    # --- encrypting ---------------------------------------------------------------------------

    async def encrypt(
        self, plaintext: Bytes, *, encryption_context: Mapping[str, str] | None = None
    ) -> bytes:
        """Encrypt ``plaintext`` into one message.

        Args:
            plaintext: the bytes to encrypt.
            encryption_context: str pairs bound to the message: stored in its header in the
                clear, authenticated, and passed to KMS as its encryption context. Keys may
                not start with ``aws-crypto-``.

        Returns:
            The message (format v2, framed).

        Raises:
            TypeError, ValueError: a bad argument, before anything is sent.
            botocore.exceptions.ClientError: KMS refused (``kms.exceptions.<Code>``).
            aiokms.AiokmsError: the call to KMS failed (see ``aiokms.errors``).
        """
        data_key: bytes | bytearray = b""
        try:
            if type(plaintext) is not bytes:
                plaintext = _check_bytes(plaintext, "plaintext")
            last, context = self._last_context
            # Callers tend to pass equal dicts message after message: one comparison finds
            # the entry.
            if (
                type(encryption_context) is not dict
                or context is None
                or encryption_context != last
            ):
                context = self._context(encryption_context)
            size = len(plaintext)
            hit = self._generated_hit(context, size)
            middle = None if hit is None else context.middles.get(hit.ciphertext_blob or b"")
            if hit is None or middle is None:
                if type(plaintext) is not bytes:  # the caller may change it while we wait
                    plaintext = bytes(plaintext)
                data_key, middle = await self._materials(context, size, hit)
            else:  # the hot path: a cached data key whose header bytes are made, no await
                data_key = hit.plaintext  # the cache's own: used before the next await
                if len(data_key) != _DATA_KEY_LEN:
                    raise self._bad_data_key()
            return seal_message(
                plaintext, self._algorithm, data_key, middle, self._frame_length, context.signer
            )
        except BaseException as error:
            # this frame's secrets, before it joins the traceback: the cache's own key and
            # the context's signing key too, which a repr hides but an object walk finds
            plaintext = data_key = b""
            hit = context = None
            forget_locals(error)
            raise

    def encrypt_stream(
        self,
        chunks: AsyncIterable[Bytes] | Iterable[Bytes],
        *,
        encryption_context: Mapping[str, str] | None = None,
        plaintext_length: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Encrypt a stream of plaintext chunks into a stream of message bytes.

        The header comes first (once the data key is there), then each frame as soon as its
        plaintext is complete, then the final frame (and signature) when ``chunks`` ends.
        Memory: less than one frame of plaintext is buffered.

        Args:
            chunks: an async iterable (or iterable) of bytes.
            encryption_context: as for :meth:`encrypt`.
            plaintext_length: an upper bound of the stream's length. Only with it does a
                stream take its data key from the cache (which must account for the bytes
                encrypted); more bytes than that is an error. Without it, a stream has a data
                key of its own from KMS.

        Raises:
            TypeError, ValueError: bad arguments, at once (before iteration starts); during
                iteration, a chunk that is not bytes or the stream outgrowing
                ``plaintext_length``.
            botocore.exceptions.ClientError, aiokms.AiokmsError: as for :meth:`encrypt`.
        """
        _check_chunks(chunks)
        if plaintext_length is not None and (
            not isinstance(plaintext_length, int)
            or isinstance(plaintext_length, bool)
            or plaintext_length < 0
        ):
            raise ValueError(f"plaintext_length: {plaintext_length!r} must be None or an int >= 0")
        context = self._context(encryption_context)
        return self._encrypt_stream(chunks, context, plaintext_length)

    async def _encrypt_stream(
        self,
        chunks: AsyncIterable[Bytes] | Iterable[Bytes],
        context: _Context,
        plaintext_length: int | None,
    ) -> AsyncIterator[bytes]:
        data_key: bytes | bytearray = b""
        chunk: Bytes = b""
        writer: MessageWriter | None = None
        try:
            if plaintext_length is None:
                hit = None
            else:
                hit = self._generated_hit(context, plaintext_length)
            data_key, middle = await self._materials(context, plaintext_length, hit)
            writer = MessageWriter(
                algorithm=self._algorithm,
                data_key=bytes(data_key),
                middle=middle,
                frame_length=self._frame_length,
                signer=context.signer,
            )
            data_key = b""
            yield writer.header
            total = 0
            async for chunk in _chunks(chunks):
                total += len(chunk)
                if plaintext_length is not None and total > plaintext_length:
                    raise ValueError(
                        f"plaintext_length: the stream is longer than the {plaintext_length} "
                        "bytes announced"
                    )
                frames = writer.feed(chunk)
                if frames:
                    yield frames
            yield writer.finish()
        except BaseException as error:
            # this frame's secrets, before it joins the traceback: the writer's keys, the
            # cache's own data key, the signing key, the caller's plaintext
            data_key = chunk = b""
            writer = hit = None
            del context, chunks
            forget_locals(error)
            raise

    def _context(self, encryption_context: Mapping[str, str] | None) -> _Context:
        """The validated form of a caller's context for this encryptor's suite.

        An unsigned one asked for by a dict is also kept as ``_last_context``, with a copy of
        that dict, for :meth:`encrypt` to find by comparison.
        """
        try:
            entry = self._contexts.get(
                tuple(encryption_context.items()) if encryption_context else ()
            )
        except (AttributeError, TypeError):  # not a mapping, or unhashable values
            _check_context(encryption_context)
            raise  # (_check_context raised a clearer error already)
        if entry is None or entry.signer is not None:
            entry = self._signed_context(encryption_context, entry)
        if entry.signer is None and type(encryption_context) is dict:  # unsigned: checked, kept
            self._last_context = (encryption_context.copy(), entry)
        return entry

    def _signed_context(
        self, encryption_context: Mapping[str, str] | None, entry: _Context | None
    ) -> _Context:
        """A context entry the first time, or for the signed suite (whose key pairs age)."""
        context = _check_context(encryption_context)
        key = tuple(encryption_context.items()) if encryption_context else ()
        if not self._algorithm.signed:
            entry = self._new_context(context, signed=False)
        elif self._cache is None:
            return self._new_context(context, signed=True)  # a key pair per message: not kept
        elif entry is not None and entry.expires > self._clock() and entry.uses_left > 0:
            entry.uses_left -= 1
            return entry
        else:
            entry = self._new_context(context, signed=True)
        self._contexts[key] = entry
        return entry

    def _new_context(self, context: dict[str, str], *, signed: bool) -> _Context:
        for name in context:
            if name.startswith(RESERVED_CONTEXT_PREFIX):
                raise ValueError(
                    f"encryption_context: keys starting with {RESERVED_CONTEXT_PREFIX!r} are "
                    f"reserved for the message format ({name!r})"
                )
        if not signed:
            return _Context(context)
        signer = Signer()
        context[PUBLIC_KEY_CONTEXT_KEY] = signer.public_key
        return _Context(
            context,
            signer,
            expires=self._clock() + self._signer_age,
            uses_left=self._signer_uses - 1,
        )

    def _generated_hit(self, context: _Context, plaintext_length: int) -> DataKey | None:
        """A data key the cache entry of ``context`` hands out without a coroutine, counted for
        one use of ``plaintext_length`` bytes; ``None`` on a miss (and without a cache), which
        :meth:`_materials` serves the async way.

        The key may be the cache's own: copy its plaintext before awaiting.
        """
        if self._source is None or not self._key_ids:
            return None
        entry = context.entry
        if entry is None:
            entry = self._entry(context)
        return entry.take(plaintext_length)

    def _entry(self, context: _Context) -> DataKeyEntry:
        """The cache's entry of GenerateDataKey calls for ``context`` (asked for once)."""
        entry = context.entry
        if entry is None:
            assert self._source is not None
            entry = context.entry = self._source.generate_entry(
                self._kms,
                KeyId=self._primary,
                KeySpec=_KEY_SPEC,
                EncryptionContext=context.kms_context,
                # a signed context's key pair retires with its data key: nothing to fetch for
                refresh_ahead=context.signer is None,
            )
        return entry

    def _generate_params(self, context: _Context) -> dict[str, Any]:
        return {
            "KeyId": self._primary,
            "KeySpec": _KEY_SPEC,
            "EncryptionContext": context.kms_context,
        }

    async def _materials(
        self, context: _Context, plaintext_length: int | None, hit: DataKey | None = None
    ) -> tuple[bytearray, bytes]:
        """``(plaintext data key, header middle)`` for one message.

        From ``hit`` (a key already taken from the cache) when given; else from the cache when
        there is one and the plaintext length is known; else from KMS.
        """
        if not self._key_ids:
            raise ValueError("key_ids: this encryptor has no key ids to encrypt with")
        if self._source is None or plaintext_length is None:  # a data key of this message's own
            key = DataKey(await self._kms.generate_data_key(**self._generate_params(context)))
            middle = await self._wrap(key, context)
        else:
            if hit is not None:  # the cache's own: copied, for the awaits below
                key = DataKey(hit.response(), hit.born)
            else:
                key = await self._entry(context).fetch(plaintext_length)
            cached = context.middles.get(key.ciphertext_blob or b"")
            middle = await self._middle_for(key, context) if cached is None else cached
        if len(key.plaintext) != _DATA_KEY_LEN:
            raise self._bad_data_key()
        return key.plaintext, middle

    def _bad_data_key(self) -> InvalidResponse:
        return InvalidResponse(
            endpoint_url=_endpoint(self._kms),
            error="GenerateDataKey: the plaintext data key is not 32 bytes",
        )

    async def _middle_for(self, key: DataKey, context: _Context) -> bytes:
        """The header middle of a cached data key, made once however many messages wait.

        With more than one key id that takes Encrypt calls: the first caller starts them in a
        task of their own, every caller waits for it, and a cancelled caller leaves it running
        for the others.
        """
        blob = key.ciphertext_blob or b""  # checked by _wrap
        if len(self._key_ids) == 1:  # no KMS call, nothing to wait for
            middle = await self._wrap(key, context)
            context.middles[blob] = middle
            return middle
        pending_key = (blob, context.serialized)
        pending = _of_running_loop(self._pending.get(pending_key))
        if pending is None:
            pending = asyncio.ensure_future(self._wrap(key, context))
            self._pending[pending_key] = pending

            def done(task: asyncio.Future[bytes]) -> None:
                if self._pending.get(pending_key) is task:  # (not another loop's successor)
                    del self._pending[pending_key]
                if not task.cancelled() and task.exception() is None:
                    context.middles[blob] = task.result()

            pending.add_done_callback(done)
        return await asyncio.shield(pending)

    async def _wrap(self, key: DataKey, context: _Context) -> bytes:
        """The header middle for a new data key: wrap it under the other key ids too."""
        edks = [self._data_key_entry("GenerateDataKey", key.key_id, key.ciphertext_blob)]
        kms_context = context.kms_context
        for key_id in self._key_ids[1:]:
            kwargs: dict[str, Any] = {"KeyId": key_id, "Plaintext": bytes(key.plaintext)}
            if kms_context:
                kwargs["EncryptionContext"] = kms_context
            wrapped = await self._kms.encrypt(**kwargs)
            edks.append(
                self._data_key_entry("Encrypt", wrapped.get("KeyId"), wrapped.get("CiphertextBlob"))
            )
        return header_middle(context.serialized, edks, self._frame_length)

    def _data_key_entry(self, operation: str, arn: object, blob: object) -> EncryptedDataKey:
        if not isinstance(arn, str) or not _is_key_arn(arn) or not isinstance(blob, bytes):
            raise InvalidResponse(
                endpoint_url=_endpoint(self._kms),
                error=f"{operation}: expected a key ARN and a CiphertextBlob in the reply",
            )
        return EncryptedDataKey(KMS_PROVIDER_ID, arn.encode(), blob)

    # --- decrypting ---------------------------------------------------------------------------

    async def decrypt(
        self, message: Bytes, *, encryption_context: Mapping[str, str] | None = None
    ) -> bytes:
        """Decrypt one complete message.

        Args:
            message: the message bytes, nothing before or after it.
            encryption_context: pairs the message's encryption context must contain (it may
                hold more). Checked before any KMS call.

        Returns:
            The plaintext, once the key commitment, the header, every frame and (signed suite)
            the signature have been checked.

        Raises:
            aiokms.InvalidMessageError: the message is malformed, tampered with, truncated or
                followed by more bytes, lacks a required context pair, or has no encrypted data
                key this encryptor may use. The same message for every failed check, with the
                reason added where the header's cleartext gives it (see the class).
            botocore.exceptions.ClientError: KMS refused every usable encrypted data key (the
                first key's error is raised), or, at the first decrypt, DescribeKey refused to
                resolve a key id that is not a key ARN.
            aiokms.AiokmsError: the call to KMS failed.
            TypeError: a bad argument.
        """
        data_key: bytes | bytearray | int = b""
        try:
            if type(message) is not bytes:
                message = bytes(_check_bytes(message, "message"))
            required = _check_context(encryption_context) if encryption_context else None
            try:
                header = parse_header(message, self._max_edks, self._sections)
            except Incomplete:
                raise InvalidMessageError from None
            if required:
                _require_pairs(header, required)
            if self._unresolved:
                await self._resolve_key_ids()
            data_key = self._decrypted_hit(header)
            if isinstance(data_key, int):
                data_key = await self._data_key_for(header, skip=data_key)
            return decrypt_message(message, header, data_key)
        except BaseException as error:
            data_key = b""  # this frame's secret, before it joins the traceback
            forget_locals(error)
            raise

    def decrypt_stream(
        self,
        chunks: AsyncIterable[Bytes] | Iterable[Bytes],
        *,
        encryption_context: Mapping[str, str] | None = None,
        max_frame_length: int | None = None,
        max_body_length: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Decrypt a message arriving in chunks, yielding plaintext frame by frame.

        Each frame's plaintext is yielded only after that frame's tag has been checked, and
        the stream ends without error only if the message was complete, followed by nothing,
        and (signed suite) its signature is valid. Memory: the header and one frame (a legacy
        non-framed message is held whole, being authenticated only as a whole), bounded by
        ``max_frame_length`` and ``max_body_length``: a message whose header declares more
        is refused as soon as the header (or the non-framed body's length) is read, before
        any KMS call for a framed one.

        What a caller may trust before the iteration ends: each yielded chunk is authentic
        plaintext of this message at its position, written by a holder of the data key. For
        the signed suite (0x0578) that is weaker than the message promises: anyone KMS lets
        decrypt the data key could have written those frames; only the signature, checked
        after the last frame, proves the writer held the signing key. So treat yielded
        plaintext as provisional until the iteration finishes, and discard it (and undo what
        it caused) if it raises; use :meth:`decrypt`, which releases nothing before every
        check, when that is impractical. A truncated stream raises at the end too.

        Args:
            chunks: an async iterable (or iterable) of bytes.
            encryption_context: as for :meth:`decrypt`.
            max_frame_length: for this stream, instead of the encryptor's (default 1 MiB).
            max_body_length: for this stream, instead of the encryptor's (default 64 MiB).

        Raises:
            aiokms.InvalidMessageError, botocore.exceptions.ClientError, aiokms.AiokmsError:
                as for :meth:`decrypt`, during iteration; a message over a limit says so.
            TypeError: bad arguments, at once; a chunk that is not bytes, during iteration.
            ValueError: a bad limit, at once; as for :meth:`decrypt`, during iteration.
        """
        _check_chunks(chunks)
        required = _check_context(encryption_context) if encryption_context else None
        reader = MessageReader(
            max_data_keys=self._max_edks,
            memo=self._sections,
            max_frame_length=(
                self._max_frame_length
                if max_frame_length is None
                else _check_limit(max_frame_length, "max_frame_length", MAX_FRAME_LENGTH)
            ),
            max_body_length=(
                self._max_body_length
                if max_body_length is None
                else _check_limit(max_body_length, "max_body_length", MAX_NON_FRAMED_LENGTH)
            ),
        )
        return self._decrypt_stream(chunks, required, reader)

    async def _decrypt_stream(
        self,
        chunks: AsyncIterable[Bytes] | Iterable[Bytes],
        required: dict[str, str] | None,
        reader: MessageReader,
    ) -> AsyncIterator[bytes]:
        unlocked = False
        plaintext: bytes | None = None
        try:
            async for chunk in _chunks(chunks):
                reader.feed(chunk)
                if not unlocked:
                    header = reader.parse_header()
                    if header is None:
                        continue
                    if required:
                        _require_pairs(header, required)
                    if self._unresolved:
                        await self._resolve_key_ids()
                    reader.unlock(bytes(await self._data_key_for(header)))
                    unlocked = True
                while (plaintext := reader.next_plaintext()) is not None:
                    if plaintext:
                        yield plaintext
            if not unlocked:
                raise InvalidMessageError
            reader.finish()
        except BaseException as error:
            plaintext = None  # this frame's secret, before it joins the traceback
            forget_locals(error)
            raise

    async def _resolve_key_ids(self) -> None:
        """Key ARNs for the key ids that are not (aliases, alias ARNs, bare key ids), with one
        DescribeKey each, once: concurrent decrypts share the calls; a failure is raised to
        every caller waiting for it, and the next decrypt tries again."""
        task = _of_running_loop(self._resolving)
        if task is None:
            task = self._resolving = asyncio.ensure_future(self._describe(self._unresolved))
            task.add_done_callback(_retrieve)
        try:
            arns = await asyncio.shield(task)
        except BaseException:  # (the calls failed or were cancelled, or this caller was)
            if task.done() and self._resolving is task:
                self._resolving = None
            raise
        if self._unresolved:
            self._key_arns |= arns
            self._unresolved = ()
            self._usable.clear()  # the usable entries were chosen without these keys

    async def _describe(self, key_ids: tuple[str, ...]) -> frozenset[bytes]:
        arns = []
        for key_id in key_ids:
            reply = await self._kms.describe_key(KeyId=key_id)  # type: ignore[attr-defined]
            arn = reply.get("KeyMetadata", {}).get("Arn") if isinstance(reply, dict) else None
            if not isinstance(arn, str) or not _is_key_arn(arn):
                raise InvalidResponse(
                    endpoint_url=_endpoint(self._kms),
                    error="DescribeKey: expected a key ARN in the reply",
                )
            arns.append(arn.encode())
        return frozenset(arns)

    def _no_usable_key(self, header: Header) -> str:
        """Why no encrypted data key of a header may be tried, from the header's cleartext
        provider fields (key ARNs and provider ids, no secret)."""
        arns = [
            _printable(edk.provider_info)
            for edk in header.encrypted_data_keys
            if edk.provider_id == KMS_PROVIDER_ID
        ]
        others = sorted(
            {
                _printable(edk.provider_id.encode())
                for edk in header.encrypted_data_keys
                if edk.provider_id != KMS_PROVIDER_ID
            }
        )
        mine = "the key ids given"
        if self._discovery:
            mine += f" or a key of accounts {', '.join(sorted(self._accounts))} in partition "
            mine += self._partition + (f", region {self._region}" if self._region else "")
        found = f"KMS keys {', '.join(arns)}" if arns else "no KMS key"
        if others:
            found += f" (and other providers: {', '.join(others)})"
        return f"no encrypted data key is under {mine}; the message has them under {found}"

    def _usable_arn(self, provider_info: bytes) -> str | None:
        """The key ARN of an ``aws-kms`` entry this encryptor may try, else None."""
        if provider_info in self._key_arns:
            return provider_info.decode()
        if not self._discovery:
            return None
        try:
            arn = provider_info.decode()
        except UnicodeDecodeError:
            return None
        if not _is_key_arn(arn):
            return None
        _, partition, _, region, account, _ = arn.split(":", 5)
        if partition != self._partition or account not in self._accounts:
            return None
        if self._region is not None and region != self._region:
            return None  # the client cannot reach another region's keys
        return arn

    def _candidates(self, header: Header) -> tuple[tuple[bytes, str], ...]:
        """``(ciphertext, key ARN)`` of the entries this encryptor may try, in message order.

        Memoized by the entries themselves (the header memo hands out the same tuple for
        messages that share them), for headers small enough to be memoized there too.
        """
        data_keys = header.encrypted_data_keys
        found = self._usable.get(data_keys)
        if found is None:
            usable = []
            for edk in data_keys:
                if edk.provider_id == KMS_PROVIDER_ID:
                    arn = self._usable_arn(edk.provider_info)
                    if arn is not None:
                        usable.append((edk.ciphertext, arn))
            found = tuple(usable)
            if len(header.body) <= MAX_MEMO_SECTION:
                self._usable[data_keys] = found
        return found

    def _decrypted_hit(self, header: Header) -> bytearray | int:
        """The data key of a parsed header from the cache's entries without a coroutine, trying
        the usable encrypted data keys in order as :meth:`_data_key_for` does; else the number
        passed over before the first one that is not cached, for the async way to go on from.
        The data key may be the cache's own: use it up before the next await, and do not keep
        it.

        Cached answers are checked as KMS's are: one that does not fit is passed over.
        """
        source = self._source
        if source is None:
            return 0
        data_keys, context = header.encrypted_data_keys, header.encryption_context
        last_keys, last_context, entries = self._last_entries
        if data_keys is not last_keys or context is not last_context:
            kms_context = context if type(context) is dict else dict(context)
            entries = tuple(
                (
                    arn,
                    source.decrypt_entry(
                        self._kms, CiphertextBlob=blob, EncryptionContext=kms_context, KeyId=arn
                    ),
                )
                for blob, arn in self._candidates(header)
            )
            self._last_entries = (data_keys, context, entries)
        tried = 0  # counted by hand: cheaper than enumerate on the hit path
        for arn, entry in entries:
            hit = entry.take()
            if hit is None:
                return tried
            if len(hit.plaintext) == _DATA_KEY_LEN and hit.key_id == arn:
                return hit.plaintext
            tried += 1  # noqa: SIM113
        if entries:
            raise InvalidMessageError  # every usable entry was cached, and none fits
        return 0

    async def _data_key_for(self, header: Header, skip: int = 0) -> bytes | bytearray:
        """The plaintext data key of a parsed header, from the cache or KMS, trying the usable
        entries after the first ``skip``."""
        candidates = self._candidates(header)
        if not candidates:
            raise InvalidMessageError(self._no_usable_key(header))
        context = header.encryption_context
        kms_context = context if type(context) is dict else dict(context)
        source = self._source
        first_error: ClientError | None = None
        for ciphertext, arn in candidates[skip:]:
            try:
                if source is not None:
                    key = await source.decrypt_entry(
                        self._kms,
                        CiphertextBlob=ciphertext,
                        EncryptionContext=kms_context,
                        KeyId=arn,
                    ).fetch()
                else:
                    kwargs: dict[str, Any] = {"CiphertextBlob": ciphertext, "KeyId": arn}
                    if kms_context:
                        kwargs["EncryptionContext"] = kms_context
                    key = DataKey(await self._kms.decrypt(**kwargs))
            except ClientError as exc:
                if first_error is None:
                    first_error = exc
                continue
            # Anything else is an entry that KMS decrypts to something other than a data key
            # under the key asked for: a forged entry, tried no further.
            if len(key.plaintext) == _DATA_KEY_LEN and key.key_id == arn:
                return key.plaintext
        if first_error is not None:
            raise first_error
        raise InvalidMessageError


def _require_pairs(header: Header, required: Mapping[str, str]) -> None:
    """Every required pair is in the header's encryption context, or an error naming the key
    (the context is in the clear in the header; the values are not repeated)."""
    context = header.encryption_context
    for key, value in required.items():
        found = context.get(key)
        if found != value:
            what = "no pair" if found is None else "another value for the pair"
            raise InvalidMessageError(
                f"its encryption context has {what} {_printable(key.encode())!r} required"
            )


def _printable(raw: bytes, limit: int = 256) -> str:
    """Header bytes, as text that is safe to print: printable ASCII, the rest as '?'."""
    text = raw[:limit].decode("ascii", "replace")
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in text)


def _of_running_loop(task: _F | None) -> _F | None:
    """``task`` if it belongs to the running event loop; ``None`` if another loop's, which may
    never run again: joined, it would hang its caller, or fail it for being of another loop."""
    if task is not None and task.get_loop() is not asyncio.get_running_loop():
        return None
    return task


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a shared task's failure as seen, for when every caller waiting on it is gone."""
    if not task.cancelled():
        task.exception()


def _source(cache: object) -> DataKeySource | None:
    """The data-key source a ``cache=`` argument stands for, or a TypeError naming it."""
    if cache is None:
        return None
    if callable(getattr(cache, "generate_entry", None)) and callable(
        getattr(cache, "decrypt_entry", None)
    ):
        return cache  # type: ignore[return-value]
    if callable(getattr(cache, "generate_data_key", None)) and callable(
        getattr(cache, "decrypt", None)
    ):
        return CoroutineSource(cache)
    raise TypeError(
        "cache: expected an aiokms.DataKeyCache (a DataKeySource), or an object with "
        f"generate_data_key() and decrypt() coroutine methods; got {type(cache).__name__}"
    )
