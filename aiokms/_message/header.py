"""The message header (format v2): serialize it when writing, parse it when reading.

Layout, all integers big-endian::

    02 | suite id u16 | message id (32) | EC length u16 | EC | EDK count u16 | EDKs
       | content type u8 (02 framed, 01 non-framed) | frame length u32 | commit key (32)
    then the header authentication: a 16-byte AES-GCM tag over all of the above

    EC   = count u16, then per pair sorted by the key's UTF-8 bytes: len u16, key, len u16, value
           (no bytes at all when the context is empty)
    EDK  = provider id len u16, provider id (UTF-8), info len u16, info, ciphertext len u16,
           ciphertext

A writer caches everything from the EC length to the frame length (the "middle") per data key
and encryption context, so serializing a header costs one ``join``. A reader may pass a memo
to :func:`parse_header` that maps the EC and EDK section's bytes to their parsed form: messages
under one cached data key share them byte for byte, and share the whole middle with the last
header read, which is then compared in place and not parsed at all.

Parsing is incremental: with too few bytes it raises :class:`Incomplete`, which a streaming
reader takes as "wait for more" and a one-shot reader as a malformed message. Everything else
wrong raises :class:`~aiokms.errors.InvalidMessageError`, which says nothing more, except for a
version or suite that is not read (format version 1, a suite without key commitment, an
unknown suite id): the first bytes say which, and that is no secret.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import NamedTuple, NoReturn

from aiokms._message.suites import (
    COMMIT_KEY_LEN,
    MAX_FRAME_LENGTH,
    MESSAGE_ID_LEN,
    TAG_LEN,
    Algorithm,
)
from aiokms.errors import InvalidMessageError

__all__ = [
    "EncryptedDataKey",
    "Header",
    "Incomplete",
    "MAX_MEMO_SECTION",
    "SectionMemo",
    "header_middle",
    "header_prefix",
    "parse_encryption_context",
    "parse_header",
    "serialize_encryption_context",
]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_MAX_U16 = 0xFFFF
_VERSION = 2
_FRAMED = 2
_NON_FRAMED = 1
_SUITES = {alg.value: alg for alg in Algorithm}
_READ = ", ".join(f"0x{suite:04X}" for suite in _SUITES)
_V1_TYPE = 0x80  # version 1's message type byte: customer authenticated encrypted data
# Version 1's suites, none of which commits to its data key (the ESDK's algorithm suites table)
_NON_COMMITTING = frozenset(
    (0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378)
)
# version, suite, message id, EC length: the fixed part before the EC.
_FIXED_START = 1 + 2 + MESSAGE_ID_LEN + 2
# content type, frame length, commit key: the fixed part after the EDKs.
_FIXED_END = 1 + 4 + COMMIT_KEY_LEN


class Incomplete(Exception):
    """More bytes are needed before this part of the message can be parsed."""


class EncryptedDataKey(NamedTuple):
    """One encrypted data key entry of a header.

    For AWS KMS (``provider_id == "aws-kms"``) the info is the UTF-8 key ARN and the
    ciphertext is KMS's ``CiphertextBlob``.
    """

    provider_id: str
    provider_info: bytes
    ciphertext: bytes


class Header(NamedTuple):
    """A parsed header. ``body`` is its serialization up to the authentication tag."""

    algorithm: Algorithm
    message_id: bytes
    encryption_context: Mapping[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    frame_length: int  # 0 for a non-framed body
    commit_key: bytes
    body: bytes
    auth_tag: bytes

    @property
    def framed(self) -> bool:
        """Whether the body is framed (every writer since 2020; non-framed is read-only)."""
        return self.frame_length != 0

    @property
    def size(self) -> int:
        """Bytes of the header, authentication tag included."""
        return len(self.body) + TAG_LEN

    def __repr__(self) -> str:
        return (
            f"<Header {self.algorithm.name} context_pairs={len(self.encryption_context)} "
            f"data_keys={len(self.encrypted_data_keys)} frame_length={self.frame_length}>"
        )


# ``Header(...)`` without the generated ``__new__``'s Python frame: one per message read.
_new_header = tuple.__new__


# --- writing ---------------------------------------------------------------------------------


def serialize_encryption_context(context: Mapping[str, str]) -> bytes:
    """The header's AAD field for ``context`` (``b""`` when empty).

    Raises:
        TypeError: a key or value is not a string.
        ValueError: a key or value is not encodable as UTF-8, or something is too long for the
            format (65,535 bytes per key, per value and for the whole context).
    """
    if not context:
        return b""
    pairs = []
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                "encryption_context: keys and values must be str, got "
                f"{type(key).__name__}: {type(value).__name__}"
            )
        try:
            pairs.append((key.encode(), value.encode()))
        except UnicodeEncodeError:
            raise ValueError("encryption_context: keys and values must be valid UTF-8") from None
    pairs.sort()
    if len(pairs) > _MAX_U16:
        raise ValueError("encryption_context: too many pairs for the message format")
    parts = [_U16.pack(len(pairs))]
    for key_bytes, value_bytes in pairs:
        if len(key_bytes) > _MAX_U16 or len(value_bytes) > _MAX_U16:
            raise ValueError("encryption_context: a key or value is longer than 65,535 bytes")
        parts += (_U16.pack(len(key_bytes)), key_bytes, _U16.pack(len(value_bytes)), value_bytes)
    serialized = b"".join(parts)
    if len(serialized) > _MAX_U16:
        raise ValueError("encryption_context: longer than 65,535 bytes once serialized")
    return serialized


def header_prefix(algorithm: Algorithm) -> bytes:
    """Version and suite id: the bytes before the message ID."""
    return bytes((_VERSION,)) + algorithm.suite_id


def header_middle(
    serialized_context: bytes, data_keys: Sequence[EncryptedDataKey], frame_length: int
) -> bytes:
    """The header bytes between the message ID and the commit key, for a framed body.

    Raises:
        ValueError: no data keys, or a field too long for the format.
    """
    if not data_keys or len(data_keys) > _MAX_U16:
        raise ValueError("a message needs between 1 and 65,535 encrypted data keys")
    if not 0 < frame_length <= MAX_FRAME_LENGTH:
        raise ValueError(f"frame_length: must be between 1 and {MAX_FRAME_LENGTH}")
    parts = [_U16.pack(len(serialized_context)), serialized_context, _U16.pack(len(data_keys))]
    for edk in data_keys:
        provider_id = edk.provider_id.encode()
        for field in (provider_id, edk.provider_info, edk.ciphertext):
            if len(field) > _MAX_U16:
                raise ValueError("an encrypted data key field is longer than 65,535 bytes")
            parts += (_U16.pack(len(field)), field)
    parts += (bytes((_FRAMED,)), _U32.pack(frame_length))
    return b"".join(parts)


# --- reading ---------------------------------------------------------------------------------


def parse_encryption_context(data: bytes) -> dict[str, str]:
    """The encryption context in a header's AAD field; strict (no duplicates, no extra bytes).

    Raises:
        InvalidMessageError: the field is malformed.
    """
    if not data:
        return {}
    end = len(data)
    try:
        (count,) = _U16.unpack_from(data, 0)
        pos = 2
        context: dict[str, str] = {}
        for _ in range(count):
            (size,) = _U16.unpack_from(data, pos)
            key = data[pos + 2 : pos + 2 + size].decode()
            pos += 2 + size
            (size,) = _U16.unpack_from(data, pos)
            value = data[pos + 2 : pos + 2 + size].decode()
            pos += 2 + size
            if pos > end or key in context:
                raise InvalidMessageError
            context[key] = value
    except (struct.error, UnicodeDecodeError):
        raise InvalidMessageError from None
    if pos != end:
        raise InvalidMessageError
    return context


def _parse_data_keys(data: bytes, pos: int, count: int) -> tuple[EncryptedDataKey, ...]:
    """The EDK entries from ``pos`` (bounds were checked by the caller's walk)."""
    keys = []
    try:
        for _ in range(count):
            fields = []
            for _field in range(3):
                (size,) = _U16.unpack_from(data, pos)
                fields.append(data[pos + 2 : pos + 2 + size])
                pos += 2 + size
            keys.append(EncryptedDataKey(fields[0].decode(), fields[1], fields[2]))
    except UnicodeDecodeError:
        raise InvalidMessageError from None
    return tuple(keys)


ParsedSection = tuple[dict[str, str], tuple[EncryptedDataKey, ...]]
# A header's middle (from the EC length to the frame length) with its parsed context, data keys
# and frame length.
ParsedMiddle = tuple[bytes, dict[str, str], tuple[EncryptedDataKey, ...], int]

# Typical sections (a small context, a few KMS data keys) take a few hundred bytes each.
MAX_MEMO_SECTION = 8192


class SectionMemo(dict[bytes, ParsedSection]):
    """Parsed encryption context and EDK sections, by their bytes; bounded.

    Messages under one cached data key and context share that section byte for byte, so a
    reader parses it once. The memo also remembers the last header's middle, from the EC
    length to the frame length: a header with the same bytes there (the one-shot reader's
    common case) takes its parsed fields without parsing. Otherwise the header is first looked
    up at the length of the last section seen, which skips walking its EDK entries. Either way,
    bytes-equal parts were fully checked when stored. Use one memo per ``max_data_keys``.
    The parsed context dicts are shared: callers must not change them.

    Headers are parsed before they are authenticated, so whoever sends messages chooses what
    is stored: only sections of at most :data:`MAX_MEMO_SECTION` bytes are, which bounds the
    memo to ``maxsize`` times that.
    """

    __slots__ = ("hint", "last", "maxsize")

    def __init__(self, maxsize: int = 256) -> None:
        super().__init__()
        self.maxsize = maxsize
        self.hint = 0
        self.last: ParsedMiddle | None = None

    def put(self, section: bytes, parsed: ParsedSection) -> None:
        """Store a section that parsed successfully, forgetting the oldest one when full."""
        if len(section) > MAX_MEMO_SECTION:
            return
        if len(self) >= self.maxsize:
            del self[next(iter(self))]
        self[section] = parsed
        self.hint = len(section)

    def __repr__(self) -> str:
        return f"<SectionMemo {len(self)}/{self.maxsize}>"


def parse_header(
    buf: bytes | bytearray | memoryview,
    max_data_keys: int | None = None,
    memo: SectionMemo | None = None,
) -> Header:
    """Parse the header at the start of ``buf`` (which may hold more of the message).

    Args:
        buf: the message's first bytes.
        max_data_keys: refuse headers with more encrypted data keys than this.
        memo: optional memo of parsed EC and EDK sections (see :class:`SectionMemo`).

    Raises:
        Incomplete: ``buf`` ends before the header (tag included) does.
        InvalidMessageError: anything else is wrong.
    """
    available = len(buf)
    # Reject garbage as early as possible, so a streaming reader does not wait for more of it.
    if available >= 1 and buf[0] != _VERSION:
        _refuse_version(buf, available)
    if available < _FIXED_START:
        if available >= 3 and ((buf[1] << 8) | buf[2]) not in _SUITES:
            raise _unsupported_suite((buf[1] << 8) | buf[2])
        raise Incomplete
    algorithm = _SUITES.get((buf[1] << 8) | buf[2])
    if algorithm is None:
        raise _unsupported_suite((buf[1] << 8) | buf[2])
    start = _FIXED_START - 2  # the EC length: where the section (and the middle) begins
    last = memo.last if memo is not None else None
    if (
        last is not None
        and type(buf) is bytes
        and buf.startswith(last[0], start)
        and available >= start + len(last[0]) + COMMIT_KEY_LEN + TAG_LEN
    ):
        # The middle of the last header read: its fields are known, and the rest is fixed size.
        _, context, data_keys, frame_length = last
        end = start + len(last[0]) + COMMIT_KEY_LEN
    else:
        buf, context, data_keys, frame_length, end = _parse_middle(
            buf, available, max_data_keys, memo
        )
    return _new_header(
        Header,
        (
            algorithm,
            buf[3 : 3 + MESSAGE_ID_LEN],
            context,
            data_keys,
            frame_length,
            buf[end - COMMIT_KEY_LEN : end],
            buf[:end],
            buf[end : end + TAG_LEN],
        ),
    )


def _refuse_version(buf: bytes | bytearray | memoryview, available: int) -> NoReturn:
    """Raise for a first byte that is not version 2: saying why for a version 1 message (its
    first four bytes name its suite, nothing secret), opaquely for anything else."""
    if buf[0] == 1:  # version 1: 01 | type 80 | suite id u16 | ...
        if available >= 2 and buf[1] != _V1_TYPE:
            raise InvalidMessageError
        if available < 4:
            raise Incomplete
        suite = (buf[2] << 8) | buf[3]
        what = "does not commit to its data key" if suite in _NON_COMMITTING else "is unknown"
        raise InvalidMessageError(
            f"message format version 1, algorithm suite 0x{suite:04X}, which {what}: only "
            f"format version 2 with key commitment ({_READ}) is read, as the AWS Encryption "
            "SDK's default commitment policy requires"
        )
    raise InvalidMessageError


def _unsupported_suite(suite: int) -> InvalidMessageError:
    return InvalidMessageError(f"algorithm suite 0x{suite:04X} is not one that is read ({_READ})")


def _parse_middle(
    buf: bytes | bytearray | memoryview,
    available: int,
    max_data_keys: int | None,
    memo: SectionMemo | None,
) -> tuple[bytes, dict[str, str], tuple[EncryptedDataKey, ...], int, int]:
    """The header's fields from the EC length to the frame length, checked.

    Returns ``buf`` as bytes (up to the header's end, tag included, where it was not bytes),
    the encryption context, the encrypted data keys, the frame length, and where the header's
    authentication tag starts.
    """
    start = _FIXED_START - 2
    parsed = None
    if memo is not None and memo.hint:
        pos = start + memo.hint
        if available >= pos + _FIXED_END + TAG_LEN:
            parsed = memo.get(buf[start:pos] if type(buf) is bytes else bytes(buf[start:pos]))
    if parsed is None:
        (context_len,) = _U16.unpack_from(buf, start)
        pos = _FIXED_START + context_len
        if available < pos + 2:
            raise Incomplete
        (count,) = _U16.unpack_from(buf, pos)
        if count == 0 or (max_data_keys is not None and count > max_data_keys):
            raise InvalidMessageError
        pos += 2
        for _ in range(3 * count):
            if available < pos + 2:
                raise Incomplete
            pos += 2 + _U16.unpack_from(buf, pos)[0]
        if available < pos + _FIXED_END + TAG_LEN:
            raise Incomplete
        section = bytes(buf[start:pos])
        parsed = memo.get(section) if memo is not None else None
        if parsed is None:
            context = parse_encryption_context(section[2 : 2 + context_len])
            # in ``section`` coordinates the entries follow the EC length, the EC and the count
            parsed = (context, _parse_data_keys(section, 2 + context_len + 2, count))
            if memo is not None:
                memo.put(section, parsed)
        elif memo is not None:
            memo.hint = len(section)
    content_type = buf[pos]
    (frame_length,) = _U32.unpack_from(buf, pos + 1)
    if content_type == _FRAMED:
        if not 0 < frame_length <= MAX_FRAME_LENGTH:
            raise InvalidMessageError
    elif content_type != _NON_FRAMED or frame_length != 0:
        raise InvalidMessageError
    end = pos + _FIXED_END
    if type(buf) is not bytes:  # slices of bytes are bytes already: the one-shot path
        buf = bytes(buf[: end + TAG_LEN])
    if memo is not None and pos - start <= MAX_MEMO_SECTION:
        memo.last = (buf[start : end - COMMIT_KEY_LEN], parsed[0], parsed[1], frame_length)
    return buf, parsed[0], parsed[1], frame_length, end
