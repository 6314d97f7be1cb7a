"""The message body: frames (and the legacy single block), sealed and opened with AES-GCM.

Framed body, all integers big-endian::

    regular frame:  seq u32 | IV (12) | ciphertext (frame length) | tag (16)
    final frame:    FF FF FF FF | seq u32 | IV (12) | length u32 | ciphertext (length) | tag
    non-framed:     IV (12) | length u64 | ciphertext (length) | tag      (read-only)

Sequence numbers start at 1 and grow by one; exactly one final frame ends the body, holding
0 to frame-length bytes (writers here, as the ESDK's, end a plaintext that fills its last frame
exactly with an empty final frame). Each frame is its own AES-GCM message under the derived
key, with ``AAD = message ID || label || seq u32 || length u64`` and, when written here,
``IV = seq`` left-padded to 12 bytes. Readers use the IV the frame carries: some writers
(and 12 of the official test vectors) put other unique IVs there.

Everything here works on whole frames: the caller hands over a buffer and an offset, and gets
back the plaintext and the next offset, or :class:`~aiokms._message.header.Incomplete` when the
frame has not fully arrived. A frame's plaintext exists only once its tag has been checked.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aiokms._message.header import Incomplete
from aiokms._message.suites import (
    BODY_AAD_FINAL,
    BODY_AAD_FRAME,
    BODY_AAD_SINGLE,
    IV_LEN,
    MAX_FRAMES,
    MAX_NON_FRAMED_LENGTH,
    MESSAGE_ID_LEN,
    TAG_LEN,
)
from aiokms.errors import InvalidMessageError

__all__ = [
    "FINAL_MARK",
    "FIRST_FINAL_AAD",
    "ZERO_IV",
    "open_first_final_frame",
    "open_frame",
    "open_single_block",
    "seal_final_frame",
    "seal_frames",
]

ZERO_IV = bytes(IV_LEN)
FINAL_MARK = b"\xff\xff\xff\xff"
_END = 0xFFFFFFFF
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_SEQ_LEN = struct.Struct(">IQ")  # the body AAD's tail: sequence number, content length
_FINAL_HEAD = struct.Struct(">4sI12sI")  # marker, seq, IV, length
_AESGCM_MAX = 2**31 - 1  # the most bytes one AESGCM call takes; beyond, the streaming API
_FIRST_FINAL_AAD = BODY_AAD_FINAL + _U32.pack(1)
# The AAD of a body that is one final frame: message ID, label and seq 1, then the length;
# packed in one call (cheaper than concatenating). The "s" field pads or cuts silently, so
# it only takes message IDs known to be 32 bytes (parsed, or checked by derive_keys).
FIRST_FINAL_AAD = struct.Struct(f">{MESSAGE_ID_LEN}s{len(_FIRST_FINAL_AAD)}sQ")


def seal_frames(
    aead: AESGCM,
    message_id: bytes,
    data: bytes | bytearray | memoryview,
    frame_length: int,
    seq: int,
    out: list[bytes],
) -> int:
    """Append the regular frames for every whole frame of ``data``; return the next seq.

    Leaves the ``len(data) % frame_length`` bytes past the last whole frame to the caller.

    Raises:
        ValueError: the body would need more frames than sequence numbers exist.
    """
    count = len(data) // frame_length
    if not count:
        return seq
    if seq + count > MAX_FRAMES:  # the final frame still needs a sequence number
        raise ValueError("the plaintext is too long for this frame_length (2^32 - 1 frames)")
    view = memoryview(data)
    aad = message_id + BODY_AAD_FRAME
    pack = _SEQ_LEN.pack
    start = 0
    for number in range(seq, seq + count):
        iv = number.to_bytes(IV_LEN, "big")
        out.append(_U32.pack(number) + iv)
        out.append(
            aead.encrypt(iv, view[start : start + frame_length], aad + pack(number, frame_length))
        )
        start += frame_length
    return seq + count


def seal_final_frame(
    aead: AESGCM,
    message_id: bytes,
    data: bytes | bytearray | memoryview,
    seq: int,
    out: list[bytes],
) -> None:
    """Append the final frame holding ``data`` (at most a frame length of bytes)."""
    iv = seq.to_bytes(IV_LEN, "big")
    size = len(data)
    out.append(_FINAL_HEAD.pack(FINAL_MARK, seq, iv, size))
    out.append(aead.encrypt(iv, data, message_id + BODY_AAD_FINAL + _SEQ_LEN.pack(seq, size)))


def _open(
    key: bytes,
    aead: AESGCM,
    iv: bytes,
    sealed: bytes | bytearray | memoryview,
    aad: bytes,
) -> bytes:
    """Check and decrypt ``ciphertext || tag``; InvalidMessageError if the tag is wrong."""
    try:
        if len(sealed) <= _AESGCM_MAX:
            return aead.decrypt(iv, sealed, aad)
        # Only for frames or blocks above 2 GiB, which no writer here produces.
        size = len(sealed) - TAG_LEN
        decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, bytes(sealed[size:]))).decryptor()
        decryptor.authenticate_additional_data(aad)
        view = memoryview(sealed)
        parts = [decryptor.update(view[pos : pos + 2**24]) for pos in range(0, size, 2**24)]
        parts.append(decryptor.finalize())
        return b"".join(parts)
    except InvalidTag:
        raise InvalidMessageError from None


def open_frame(
    buf: bytes | bytearray,
    pos: int,
    key: bytes,
    aead: AESGCM,
    message_id: bytes,
    frame_length: int,
    seq: int,
) -> tuple[bytes, int, bool]:
    """Open the frame at ``buf[pos:]``, which must carry sequence number ``seq``.

    Returns:
        ``(plaintext, offset after the frame, whether it was the final frame)``.

    Raises:
        Incomplete: the frame has not fully arrived.
        InvalidMessageError: wrong sequence number, bad length or a failed tag.
    """
    available = len(buf)
    if available < pos + 4:
        raise Incomplete
    (found,) = _U32.unpack_from(buf, pos)
    if found == _END:
        if available < pos + _FINAL_HEAD.size:
            raise Incomplete
        _, found, iv, length = _FINAL_HEAD.unpack_from(buf, pos)
        if length > frame_length:
            raise InvalidMessageError
        start = pos + _FINAL_HEAD.size
        label = BODY_AAD_FINAL
        final = True
    else:
        if available < pos + 4 + IV_LEN:
            raise Incomplete
        iv = bytes(buf[pos + 4 : pos + 4 + IV_LEN])
        length = frame_length
        start = pos + 4 + IV_LEN
        label = BODY_AAD_FRAME
        final = False
    if found != seq:
        raise InvalidMessageError
    end = start + length + TAG_LEN
    if available < end:
        raise Incomplete
    plaintext = _open(
        key, aead, iv, buf[start:end], message_id + label + _SEQ_LEN.pack(seq, length)
    )
    return plaintext, end, final


def open_first_final_frame(
    message: bytes, pos: int, aead: AESGCM, message_id: bytes, frame_length: int
) -> tuple[bytes, int] | None:
    """The fast path of :func:`open_frame` for a body that is one final frame (seq 1).

    Returns ``(plaintext, offset after the frame)``, or None when ``message[pos:]`` does not
    start with a final frame (the caller then reads frame by frame). ``message`` is complete.

    Raises:
        InvalidMessageError: bad sequence number or length, truncation, or a failed tag.
    """
    if len(message) < pos + _FINAL_HEAD.size:  # too short for any frame, final or not
        raise InvalidMessageError
    mark, seq, iv, length = _FINAL_HEAD.unpack_from(message, pos)
    if mark != FINAL_MARK:
        return None
    if seq != 1 or length > frame_length:
        raise InvalidMessageError
    start = pos + _FINAL_HEAD.size
    end = start + length + TAG_LEN
    if len(message) < end or end - start > _AESGCM_MAX:
        if len(message) < end:
            raise InvalidMessageError
        return None  # a frame above 2 GiB: the general path handles it
    try:
        plaintext = aead.decrypt(
            iv, message[start:end], FIRST_FINAL_AAD.pack(message_id, _FIRST_FINAL_AAD, length)
        )
    except InvalidTag:
        raise InvalidMessageError from None
    return plaintext, end


def open_single_block(
    buf: bytes | bytearray, pos: int, key: bytes, aead: AESGCM, message_id: bytes
) -> tuple[bytes, int]:
    """Open a non-framed body at ``buf[pos:]``: ``(plaintext, offset after it)``.

    Raises:
        Incomplete: the body has not fully arrived (it is authenticated only as a whole).
        InvalidMessageError: bad length or a failed tag.
    """
    if len(buf) < pos + IV_LEN + 8:
        raise Incomplete
    iv = bytes(buf[pos : pos + IV_LEN])
    (length,) = _U64.unpack_from(buf, pos + IV_LEN)
    if length > MAX_NON_FRAMED_LENGTH:
        raise InvalidMessageError
    start = pos + IV_LEN + 8
    end = start + length + TAG_LEN
    if len(buf) < end:
        raise Incomplete
    aad = message_id + BODY_AAD_SINGLE + _SEQ_LEN.pack(1, length)
    return _open(key, aead, iv, buf[start:end], aad), end
