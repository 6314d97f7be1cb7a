"""Whole messages: seal one, open one, or do either incrementally.

Writing (``seal_message`` in one go, ``MessageWriter`` for a stream)::

    message ID = 32 random bytes                               (ids.py)
    key, commit key = HKDF(data key, message ID)              (keys.py)
    header = prefix | message ID | middle | commit key         (middle cached by the caller)
    header tag = AES-GCM(key, IV 0, plaintext "", AAD header)
    frames                                                     (body.py)
    signed suite: footer = ECDSA-P384(SHA-384(all of the above))

Reading (``parse_header``, then ``decrypt_message``; or ``MessageReader`` for a stream): the
header is parsed without any key; the caller finds the data key (KMS, cache); then the
commitment is compared in constant time, the header tag checked, every frame's tag checked
before its plaintext exists, the footer's signature verified, and nothing may follow the
message. ``decrypt_message`` returns plaintext only after all of that; ``MessageReader`` hands
each frame's plaintext over once that frame's tag has passed (for the signed suite, the
signature is checked only at the end: see ``MessageReader``). ``open_header`` and
``open_message`` are the two halves of ``decrypt_message``.
"""

from __future__ import annotations

import struct
from hmac import compare_digest

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aiokms._message import signing
from aiokms._message.body import (
    FINAL_MARK,
    FIRST_FINAL_AAD,
    ZERO_IV,
    open_first_final_frame,
    open_frame,
    open_single_block,
    seal_final_frame,
    seal_frames,
)
from aiokms._message.header import Header, Incomplete, SectionMemo, header_prefix, parse_header
from aiokms._message.ids import new_message_id
from aiokms._message.keys import derive_keys
from aiokms._message.suites import (
    BODY_AAD_FINAL,
    DATA_KEY_LEN,
    IV_LEN,
    PUBLIC_KEY_CONTEXT_KEY,
    TAG_LEN,
    Algorithm,
)
from aiokms.errors import InvalidMessageError

__all__ = [
    "MessageReader",
    "MessageWriter",
    "OpenedHeader",
    "decrypt_message",
    "open_header",
    "open_message",
    "seal_message",
]

_PREFIX = {alg: header_prefix(alg) for alg in Algorithm}
_SIGNED = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_IV_ONE = (1).to_bytes(IV_LEN, "big")
_FIRST_FINAL_HEAD = FINAL_MARK + _U32.pack(1) + _IV_ONE  # then the length
_FIRST_FINAL_AAD = BODY_AAD_FINAL + _U32.pack(1)  # after the message ID; then the length
# The head of a body that is one final frame, packed with its length in one call.
_FIRST_FINAL_HEAD_LENGTH = struct.Struct(f">{len(_FIRST_FINAL_HEAD)}sI")


# --- writing ---------------------------------------------------------------------------------


def seal_message(
    plaintext: bytes | bytearray | memoryview,
    algorithm: Algorithm,
    data_key: bytes | bytearray,
    middle: bytes,
    frame_length: int,
    signer: signing.Signer | None = None,
    message_id: bytes | None = None,
) -> bytes:
    """One complete message holding ``plaintext``.

    Args:
        plaintext: the bytes to encrypt.
        algorithm: the suite; ``signer`` is required exactly when it is the signed one.
        data_key: the 32-byte plaintext data key.
        middle: the header between message ID and commit key (:func:`header_middle`), made
            with the same ``frame_length`` and, for the signed suite, the signer's public key
            in the encryption context.
        frame_length: plaintext bytes per frame.
        signer: the key pair that signs the message (signed suite only).
        message_id: for tests only: a fixed message ID instead of a random one.

    Raises:
        ValueError: the plaintext needs more than 2^32 - 1 frames, or the signed suite has no
            signer.
    """
    if algorithm is _SIGNED and signer is None:
        raise ValueError("the signed suite needs a signer")
    if message_id is None:
        message_id = new_message_id()
    key, commit_key = derive_keys(data_key, message_id, algorithm)
    aead = AESGCM(key)
    header = b"".join((_PREFIX[algorithm], message_id, middle, commit_key))
    size = len(plaintext)
    if size < frame_length:  # the common case: a single, final frame
        parts = [
            header,
            aead.encrypt(ZERO_IV, b"", header),
            _FIRST_FINAL_HEAD_LENGTH.pack(_FIRST_FINAL_HEAD, size),
            aead.encrypt(
                _IV_ONE, plaintext, FIRST_FINAL_AAD.pack(message_id, _FIRST_FINAL_AAD, size)
            ),
        ]
    else:
        parts = [header, aead.encrypt(ZERO_IV, b"", header)]
        seq = seal_frames(aead, message_id, plaintext, frame_length, 1, parts)
        tail = size - size % frame_length
        seal_final_frame(aead, message_id, memoryview(plaintext)[tail:], seq, parts)
    if signer is not None and algorithm is _SIGNED:
        digest = signing.new_hash()
        for part in parts:
            digest.update(part)
        parts.append(signer.footer(digest.digest()))
    return b"".join(parts)


class MessageWriter:
    """Writes one message incrementally: ``header``, then ``feed`` calls, then ``finish``.

    Buffers less than one frame of plaintext; each whole frame is sealed as soon as it is
    complete. Not reusable.
    """

    __slots__ = (
        "_aead",
        "_buffer",
        "_digest",
        "_frame_length",
        "_message_id",
        "_seq",
        "_signer",
        "header",
    )

    def __init__(
        self,
        *,
        algorithm: Algorithm,
        data_key: bytes,
        middle: bytes,
        frame_length: int,
        signer: signing.Signer | None = None,
        message_id: bytes | None = None,
    ) -> None:
        if algorithm.signed and signer is None:
            raise ValueError("the signed suite needs a signer")
        self._message_id = new_message_id() if message_id is None else message_id
        key, commit_key = derive_keys(data_key, self._message_id, algorithm)
        self._aead = AESGCM(key)
        body = b"".join((_PREFIX[algorithm], self._message_id, middle, commit_key))
        self.header: bytes = body + self._aead.encrypt(ZERO_IV, b"", body)
        """The serialized header, authentication tag included: the message's first bytes."""
        self._frame_length = frame_length
        self._seq = 1
        self._buffer = bytearray()
        self._signer = signer if algorithm.signed else None
        self._digest = signing.new_hash() if self._signer is not None else None
        if self._digest is not None:
            self._digest.update(self.header)

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take more plaintext; return the frames it completed (maybe ``b""``).

        Raises:
            ValueError: the message would need more than 2^32 - 1 frames.
        """
        buffer = self._buffer
        if len(buffer) + len(data) < self._frame_length:
            buffer += data
            return b""
        out: list[bytes] = []
        if buffer:
            # Complete the buffered frame first, then seal straight from ``data``.
            need = self._frame_length - len(buffer)
            buffer += memoryview(data)[:need]
            self._seq = seal_frames(
                self._aead, self._message_id, buffer, self._frame_length, self._seq, out
            )
            buffer.clear()
            data = memoryview(data)[need:]
        self._seq = seal_frames(
            self._aead, self._message_id, data, self._frame_length, self._seq, out
        )
        buffer += memoryview(data)[len(data) - len(data) % self._frame_length :]
        frames = b"".join(out)
        if self._digest is not None:
            self._digest.update(frames)
        return frames

    def finish(self) -> bytes:
        """The final frame with what is buffered, and the footer for the signed suite."""
        out: list[bytes] = []
        seal_final_frame(self._aead, self._message_id, self._buffer, self._seq, out)
        self._buffer = bytearray()
        if self._signer is not None and self._digest is not None:
            for part in out:
                self._digest.update(part)
            out.append(self._signer.footer(self._digest.digest()))
        return b"".join(out)

    def __repr__(self) -> str:
        return f"<MessageWriter next_seq={self._seq} buffered={len(self._buffer)}>"


# --- reading ---------------------------------------------------------------------------------


class OpenedHeader:
    """A header whose data key passed the commitment and header-tag checks."""

    __slots__ = ("_key", "aead", "header", "verification_key")

    def __init__(
        self,
        header: Header,
        key: bytes,
        aead: AESGCM,
        verification_key: ec.EllipticCurvePublicKey | None,
    ) -> None:
        self.header = header
        self._key = key
        self.aead = aead
        self.verification_key = verification_key

    def __repr__(self) -> str:
        return f"<OpenedHeader {self.header!r}>"


def open_header(header: Header, data_key: bytes) -> OpenedHeader:
    """Check ``data_key`` against the header's commitment, then the header's tag.

    Raises:
        InvalidMessageError: the commitment or the tag does not match, or the signed suite's
            verification key is missing or malformed (or present in an unsigned message).
    """
    return OpenedHeader(header, *_open_header(header, data_key))


def _open_header(
    header: Header, data_key: bytes | bytearray
) -> tuple[bytes, AESGCM, ec.EllipticCurvePublicKey | None]:
    if len(data_key) != DATA_KEY_LEN:
        raise InvalidMessageError
    # One unpacking instead of seven attribute lookups (a NamedTuple's are not cheap).
    algorithm, message_id, context, _, _, expected_commit_key, body, auth_tag = header
    key, commit_key = derive_keys(data_key, message_id, algorithm)
    if not compare_digest(commit_key, expected_commit_key):  # both 32 bytes: constant time
        raise InvalidMessageError
    aead = AESGCM(key)
    try:
        aead.decrypt(ZERO_IV, auth_tag, body)
    except InvalidTag:
        raise InvalidMessageError from None
    encoded = context.get(PUBLIC_KEY_CONTEXT_KEY)
    if algorithm is not _SIGNED:
        if encoded is not None:
            raise InvalidMessageError
        return key, aead, None
    verification_key = None if encoded is None else signing.load_verification_key(encoded)
    if verification_key is None:
        raise InvalidMessageError
    return key, aead, verification_key


def _read_footer(buf: bytes | bytearray, pos: int) -> tuple[bytes, int]:
    """``(signature, offset after the footer)``; Incomplete if it has not fully arrived."""
    if len(buf) < pos + 2:
        raise Incomplete
    (size,) = _U16.unpack_from(buf, pos)
    end = pos + 2 + size
    if len(buf) < end:
        raise Incomplete
    return bytes(buf[pos + 2 : end]), end


def open_message(message: bytes, opened: OpenedHeader) -> bytes:
    """The plaintext of a complete ``message`` whose header is ``opened``.

    Checks every frame, the signature (signed suite) and that nothing follows the message.

    Raises:
        InvalidMessageError: any check failed, or the message is truncated.
    """
    return _open_body(message, opened.header, opened._key, opened.aead, opened.verification_key)


def decrypt_message(message: bytes, header: Header, data_key: bytes | bytearray) -> bytes:
    """``open_message(message, open_header(header, data_key))`` in one step: the hot path.

    Raises:
        InvalidMessageError: the data key does not fit, or any check of the message failed.
    """
    key, aead, verification_key = _open_header(header, data_key)
    return _open_body(message, header, key, aead, verification_key)


def _open_body(
    message: bytes,
    header: Header,
    key: bytes,
    aead: AESGCM,
    verification_key: ec.EllipticCurvePublicKey | None,
) -> bytes:
    message_id = header.message_id
    pos = len(header.body) + TAG_LEN
    try:
        frame_length = header.frame_length
        if not frame_length:
            plaintext, pos = open_single_block(message, pos, key, aead, message_id)
        elif sole := open_first_final_frame(message, pos, aead, message_id, frame_length):
            plaintext, pos = sole
        else:
            plaintext, pos, final = open_frame(message, pos, key, aead, message_id, frame_length, 1)
            if not final:
                parts = [plaintext]
                seq = 1
                while not final:
                    seq += 1
                    plaintext, pos, final = open_frame(
                        message, pos, key, aead, message_id, frame_length, seq
                    )
                    parts.append(plaintext)
                plaintext = b"".join(parts)
        if verification_key is not None:
            signed_end = pos
            signature, pos = _read_footer(message, pos)
            digest = signing.new_hash()
            digest.update(memoryview(message)[:signed_end])
            if not signing.verify(verification_key, signature, digest.digest()):
                raise InvalidMessageError
    except Incomplete:
        raise InvalidMessageError from None
    if pos != len(message):
        raise InvalidMessageError
    return plaintext


class MessageReader:
    """Reads one message from chunks as they arrive; sans-I/O.

    ``feed`` bytes; once :meth:`parse_header` returns the header, find its data key and call
    :meth:`unlock`; then :meth:`next_plaintext` returns each frame's plaintext once that
    frame's tag has passed, and :meth:`finish` at the end of input checks that the message was
    complete (footer and signature included) and that nothing follows it.

    Memory: the header, plus at most one frame (a non-framed body is held whole: it is
    authenticated only as a whole). The writer chooses those sizes, up to 2^31 - 1 bytes a
    frame and 2^36 - 32 bytes a non-framed body; ``max_frame_length`` and ``max_body_length``
    let the reader refuse more (``InvalidMessageError``) as soon as the header, or the
    non-framed body's length field, is read, before anything is authenticated or buffered.

    For the signed suite, frames are released before the signature at the end is checked.
    A frame that passed its tag was written by someone holding the data key, that is, anyone
    KMS lets decrypt it; only the signature shows that the writer also held the signing key.
    Until :meth:`finish` returns, released plaintext is unverified in that sense and must be
    discarded if it raises.
    """

    __slots__ = (
        "_buffer",
        "_digest",
        "_done",
        "_max_body_length",
        "_max_data_keys",
        "_max_frame_length",
        "_memo",
        "_opened",
        "_pos",
        "_seq",
        "header",
    )

    def __init__(
        self,
        *,
        max_data_keys: int | None = None,
        memo: SectionMemo | None = None,
        max_frame_length: int | None = None,
        max_body_length: int | None = None,
    ) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._max_data_keys = max_data_keys
        self._max_frame_length = max_frame_length
        self._max_body_length = max_body_length
        self._memo = memo
        self.header: Header | None = None
        """The parsed header once :meth:`parse_header` has returned it (not yet verified)."""
        self._opened: OpenedHeader | None = None
        self._seq = 1
        self._digest: signing.Hash | None = None
        self._done = False

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Take the next bytes of the message.

        Raises:
            InvalidMessageError: the message is complete and these bytes follow it.
        """
        if self._done and data:
            raise InvalidMessageError
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def parse_header(self) -> Header | None:
        """The header, once enough bytes have arrived; else None.

        Raises:
            InvalidMessageError: the header is malformed, or declares frames longer than
                ``max_frame_length`` (or a non-framed body longer than ``max_body_length``,
                if its length has arrived too).
        """
        if self.header is None:
            try:
                header = parse_header(
                    self._buffer, max_data_keys=self._max_data_keys, memo=self._memo
                )
            except Incomplete:
                return None
            limit = self._max_frame_length
            if header.framed and limit is not None and header.frame_length > limit:
                raise InvalidMessageError(
                    f"its frames of {header.frame_length} bytes are longer than "
                    f"max_frame_length={limit}"
                )
            self.header = header
            self._pos = header.size
            self._check_body_length()
        return self.header

    def _check_body_length(self) -> None:
        """Refuse a non-framed body longer than ``max_body_length`` once its length is here."""
        limit = self._max_body_length
        header = self.header
        if limit is None or header is None or header.framed:
            return
        at = self._pos + IV_LEN
        if len(self._buffer) >= at + _U64.size:
            (length,) = _U64.unpack_from(self._buffer, at)
            if length > limit:
                raise InvalidMessageError(
                    f"its non-framed body of {length} bytes is longer than max_body_length={limit}"
                )

    def unlock(self, data_key: bytes) -> None:
        """Verify the header with its data key; the body can be read afterwards.

        Raises:
            InvalidMessageError: the data key does not fit the header's commitment or tag.
        """
        if self.header is None or self._opened is not None:
            raise RuntimeError("unlock() needs a parsed, not yet unlocked header")
        self._opened = open_header(self.header, data_key)
        if self._opened.verification_key is not None:
            self._digest = signing.new_hash()
            self._digest.update(self.header.body)
            self._digest.update(self.header.auth_tag)

    def next_plaintext(self) -> bytes | None:
        """The next frame's plaintext, or None until more bytes arrive or after the end.

        Raises:
            InvalidMessageError: a frame, the footer or the signature is bad, or bytes follow
                the end of the message.
        """
        opened = self._opened
        if opened is None:
            raise RuntimeError("next_plaintext() needs unlock() first")
        if self._done:
            if self._pos != len(self._buffer):
                raise InvalidMessageError
            return None
        header = opened.header
        buffer, start = self._buffer, self._pos
        try:
            if self._seq == 0:  # the body is done: the footer
                self._read_footer()
                return None
            if header.framed:
                plaintext, end, final = open_frame(
                    buffer,
                    start,
                    opened._key,
                    opened.aead,
                    header.message_id,
                    header.frame_length,
                    self._seq,
                )
            else:
                self._check_body_length()
                plaintext, end = open_single_block(
                    buffer, start, opened._key, opened.aead, header.message_id
                )
                final = True
        except Incomplete:
            return None
        if self._digest is not None:
            self._digest.update(memoryview(buffer)[start:end])
        self._pos = end
        if final:
            self._seq = 0
            if self._digest is None:
                self._done = True
            else:
                self._try_footer()
            if self._done and self._pos != len(buffer):
                raise InvalidMessageError
        else:
            self._seq += 1
        return plaintext

    def _try_footer(self) -> None:
        """Check the footer if it has fully arrived."""
        try:
            self._read_footer()
        except Incomplete:
            return

    def _read_footer(self) -> None:
        """Check the footer's signature (signed suite, body done); Incomplete if not all here."""
        signature, end = _read_footer(self._buffer, self._pos)
        key = self._opened.verification_key if self._opened is not None else None
        if key is None or self._digest is None:
            raise InvalidMessageError
        if not signing.verify(key, signature, self._digest.digest()):
            raise InvalidMessageError
        self._pos = end
        self._done = True
        if self._pos != len(self._buffer):
            raise InvalidMessageError

    def finish(self) -> None:
        """Call at the end of input: the message must be complete, with nothing after it.

        Raises:
            InvalidMessageError: the message is incomplete (or was never unlocked).
        """
        if self._opened is not None and not self._done and self._seq == 0:
            self._try_footer()
        if not self._done or self._pos != len(self._buffer):
            raise InvalidMessageError

    def __repr__(self) -> str:
        state = "done" if self._done else "body" if self._opened else "header"
        return f"<MessageReader {state} buffered={len(self._buffer) - self._pos}>"
