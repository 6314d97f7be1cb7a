"""The message format layer (``aiokms._message``), with no KMS and no event loop.

* The 46 known-answer vectors of the AWS Encryption SDK (message format v2, suites 0x0478 and
  0x0578, written by the C, Java, JavaScript and Python SDKs and by hand): every valid one
  opens to its plaintext with its listed data key, at once and in chunks; the 5 with a bad
  commitment fail. For the two raw-AES ones the data key is unwrapped from the header too.
* Key derivation against ``cryptography``'s HKDF; header, context and frame layout; the writer
  and the streaming reader against the one-shot functions, under every chunking tried.
* Tampering: every byte flipped and every truncation of small multi-frame messages of both
  suites fails with the one opaque error.
"""

from __future__ import annotations

import os
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aiokms._message import (
    PUBLIC_KEY_CONTEXT_KEY,
    Algorithm,
    EncryptedDataKey,
    Header,
    Incomplete,
    MessageReader,
    MessageWriter,
    SectionMemo,
    Signer,
    derive_keys,
    header_middle,
    ids,
    open_header,
    open_message,
    parse_encryption_context,
    parse_header,
    seal_message,
    serialize_encryption_context,
)
from aiokms._message.header import MAX_MEMO_SECTION, header_prefix
from aiokms._message.ids import new_message_id
from aiokms._message.signing import SIGNATURE_LEN, load_verification_key
from aiokms.errors import AiokmsError, InvalidMessageError
from tests.known_answers import ESDK_VECTORS, b64, esdk_vector_params, vector_plaintext

UNSIGNED = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
SIGNED = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def unwrap_raw_aes(edk: EncryptedDataKey, context: dict[str, str]) -> bytes:
    """The raw AES keyring's unwrap, with the vectors' all-zero wrapping key."""
    info = edk.provider_info
    name_len = len(info) - 4 - 4 - 12
    assert info[:name_len] == b"KeyId"
    tag_bits, iv_len = struct.unpack_from(">II", info, name_len)
    assert (tag_bits, iv_len) == (128, 12)
    iv = info[name_len + 8 :]
    aad = serialize_encryption_context(context)
    return AESGCM(bytes(32)).decrypt(iv, edk.ciphertext, aad)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def read_in_chunks(message: bytes, data_key: bytes, size: int, **limits: int) -> bytes:
    """The streaming reader over ``message`` in ``size``-byte chunks (raises as it does)."""
    reader = MessageReader(**limits)
    out = []
    unlocked = False
    for chunk in chunked(message, size):
        reader.feed(chunk)
        if not unlocked:
            if reader.parse_header() is None:
                continue
            reader.unlock(data_key)
            unlocked = True
        while (plaintext := reader.next_plaintext()) is not None:
            out.append(plaintext)
    if not unlocked:
        raise InvalidMessageError
    reader.finish()
    return b"".join(out)


def open_whole(message: bytes, data_key: bytes) -> bytes:
    try:
        header = parse_header(message)
    except Incomplete:
        raise InvalidMessageError from None
    return open_message(message, open_header(header, data_key))


def make_middle(context: dict[str, str], frame_length: int, keys: int = 1) -> bytes:
    edks = [EncryptedDataKey("aws-kms", ARN.encode(), bytes([i]) * (40 + i)) for i in range(keys)]
    return header_middle(serialize_encryption_context(context), edks, frame_length)


def seal(
    plaintext: bytes,
    algorithm: Algorithm = UNSIGNED,
    frame_length: int = 4096,
    context: dict[str, str] | None = None,
    data_key: bytes = b"k" * 32,
    message_id: bytes | None = None,
) -> bytes:
    context = dict(context or {})
    signer = None
    if algorithm.signed:
        signer = Signer()
        context[PUBLIC_KEY_CONTEXT_KEY] = signer.public_key
    return seal_message(
        plaintext,
        algorithm,
        data_key,
        make_middle(context, frame_length),
        frame_length,
        signer,
        message_id,
    )


# --- the known-answer vectors ------------------------------------------------------------------


def test_vector_set_is_complete() -> None:
    assert len(ESDK_VECTORS) == 46
    assert sum(not v["status"] for v in ESDK_VECTORS) == 5
    assert {v["keyring-type"] for v in ESDK_VECTORS} == {"static", "aws-kms"}


@pytest.mark.parametrize("vector", esdk_vector_params())
def test_known_answer_vector(vector: dict[str, Any]) -> None:
    message = b64(vector["ciphertext"])
    data_key = b64(vector["decrypted-dek"])
    header = parse_header(message)
    assert header.message_id == b64(vector["message-id"])
    assert dict(header.encryption_context) == vector["encryption-context"]
    assert message.startswith(b64(vector["header"]))
    if vector["keyring-type"] == "static":
        (edk,) = header.encrypted_data_keys
        assert edk.provider_id == "ProviderName"
        assert unwrap_raw_aes(edk, vector["encryption-context"]) == data_key
    else:
        assert {edk.provider_id for edk in header.encrypted_data_keys} == {"aws-kms"}
    key, commit_key = derive_keys(data_key, header.message_id, header.algorithm)
    if vector["status"]:
        assert header.commit_key == commit_key == b64(vector["commitment"])
        if "content-encryption-key" in vector:
            assert key == b64(vector["content-encryption-key"])
        expected = vector_plaintext(vector)
        assert open_whole(message, data_key) == expected
        for size in (1, 7, 100, len(message)):
            assert read_in_chunks(message, data_key, size) == expected
        if "footer" in vector:
            assert message.endswith(b64(vector["footer"]))
    else:
        assert vector["exception"] == "EXCEPTION: Invalid commitment"
        assert header.commit_key != commit_key
        with pytest.raises(InvalidMessageError):
            open_whole(message, data_key)
        with pytest.raises(InvalidMessageError):
            read_in_chunks(message, data_key, 13)


def test_vectors_cover_both_body_kinds_and_odd_frame_lengths() -> None:
    lengths = {parse_header(b64(v["ciphertext"])).frame_length for v in ESDK_VECTORS}
    assert {0, 1, 16, 1024, 2048, 4096} <= lengths  # 0: the legacy non-framed body


# --- key derivation ----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_derive_keys_is_hkdf_sha512(algorithm: Algorithm) -> None:
    for _ in range(50):
        data_key, message_id = os.urandom(32), os.urandom(32)
        expected_key = HKDF(
            hashes.SHA512(), 32, message_id, algorithm.suite_id + b"DERIVEKEY"
        ).derive(data_key)
        expected_commit = HKDF(hashes.SHA512(), 32, message_id, b"COMMITKEY").derive(data_key)
        assert derive_keys(data_key, message_id, algorithm) == (expected_key, expected_commit)


def test_derive_keys_refuses_other_message_id_sizes() -> None:
    with pytest.raises(ValueError):
        derive_keys(bytes(32), bytes(16), UNSIGNED)


# --- message IDs -------------------------------------------------------------------------------


def test_message_ids_are_random_and_never_repeat() -> None:
    ids_ = [new_message_id() for _ in range(3 * ids.BATCH + 5)]  # across several batches
    assert all(type(i) is bytes and len(i) == 32 for i in ids_)
    assert len(set(ids_)) == len(ids_)
    middle = make_middle({}, 4096)
    messages = [seal_message(b"x", UNSIGNED, bytes(32), middle, 4096) for _ in range(200)]
    assert len({parse_header(m).message_id for m in messages}) == 200


def test_message_ids_are_taken_once_across_threads() -> None:
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: [new_message_id() for _ in range(500)], range(8)))
    drawn = [i for batch in batches for i in batch]
    assert len(set(drawn)) == len(drawn) == 4000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_draws_its_own_message_ids() -> None:
    new_message_id()  # the batch is part-used: the child inherits the rest of it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next IDs, and leave without pytest's teardown
        try:
            os.write(write, b"".join(new_message_id() for _ in range(4)))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = b"".join(new_message_id() for _ in range(4))
    assert len(child) == len(parent) == 128
    assert child != parent


# --- suites ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UNSIGNED, UNSIGNED),
        (0x0478, UNSIGNED),
        (0x0578, SIGNED),
        ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY", UNSIGNED),
        ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", SIGNED),
        ("ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", SIGNED),
        ("aes_256_gcm_hkdf_sha512_commit_key", UNSIGNED),
    ],
)
def test_algorithm_coerce(value: object, expected: Algorithm) -> None:
    assert Algorithm.coerce(value) is expected


@pytest.mark.parametrize("value", [0x0378, 0x0178, "AES_256_GCM_IV12_TAG16", ""])
def test_algorithm_coerce_names_the_choices(value: object) -> None:
    with pytest.raises(ValueError, match=r"algorithm: .* use one of .*0x0478"):
        Algorithm.coerce(value)


@pytest.mark.parametrize("value", [None, 4.0, b"\x04\x78", True])
def test_algorithm_coerce_type_error(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="algorithm"):
        Algorithm.coerce(value)


def test_algorithm_properties() -> None:
    assert UNSIGNED == 0x0478 and SIGNED == 0x0578
    assert not UNSIGNED.signed and SIGNED.signed
    assert UNSIGNED.suite_id == b"\x04\x78"


# --- encryption context ------------------------------------------------------------------------


def test_encryption_context_serialization() -> None:
    assert serialize_encryption_context({}) == b""
    serialized = serialize_encryption_context({"b": "2", "a": "1", "é": "☃"})
    assert serialized == (
        b"\x00\x03"
        + b"\x00\x01a\x00\x011"
        + b"\x00\x01b\x00\x012"
        + b"\x00\x02\xc3\xa9\x00\x03\xe2\x98\x83"
    )
    assert parse_encryption_context(serialized) == {"a": "1", "b": "2", "é": "☃"}
    assert parse_encryption_context(b"") == {}


@pytest.mark.parametrize(
    ("context", "error"),
    [
        ({"a": 1}, TypeError),
        ({1: "a"}, TypeError),
        ({"\ud800": "x"}, ValueError),
        ({"k": "v" * 65536}, ValueError),
        ({f"key{i}": "v" * 200 for i in range(400)}, ValueError),
    ],
)
def test_encryption_context_serialization_errors(context: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="encryption_context"):
        serialize_encryption_context(context)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",  # truncated count
        b"\x00\x01\x00\x01a",  # truncated pair
        b"\x00\x01\x00\x01a\x00\x011extra",  # trailing bytes
        b"\x00\x02\x00\x01a\x00\x011\x00\x01a\x00\x012",  # duplicate key
        b"\x00\x01\x00\x01\xff\x00\x011",  # not UTF-8
        b"\x00\x02\x00\x01a\x00\x011",  # fewer pairs than counted
    ],
)
def test_encryption_context_parsing_is_strict(data: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        parse_encryption_context(data)


# --- header ------------------------------------------------------------------------------------


def test_header_layout() -> None:
    message_id = bytes(range(32))
    message = seal(b"hi", context={"a": "b"}, frame_length=100, message_id=message_id)
    header = parse_header(message)
    assert message[:3] == b"\x02\x04\x78"
    assert message[3:35] == message_id
    assert header.algorithm is UNSIGNED
    assert header.message_id == message_id
    assert header.encryption_context == {"a": "b"}
    assert header.frame_length == 100 and header.framed
    assert header.encrypted_data_keys == (EncryptedDataKey("aws-kms", ARN.encode(), b"\x00" * 40),)
    assert header.body == message[: header.size - 16]
    assert header.auth_tag == message[header.size - 16 : header.size]
    assert message[header.size - 16 - 32 - 5 : header.size - 16 - 32] == b"\x02\x00\x00\x00\x64"
    assert "k" * 32 not in repr(header)


def test_every_header_prefix_is_incomplete() -> None:
    message = seal(b"x" * 10, context={"tenant": "ünï"})
    size = parse_header(message).size
    for end in range(size):
        with pytest.raises(Incomplete):
            parse_header(message[:end])
    assert parse_header(message[:size]).size == size


@pytest.mark.parametrize(
    "prefix",
    [b"\x01\x00", b"\x80", b"\x02\x01\x78", b"\x02\x03\x78", b"\x02\x04\x79"],
)
def test_garbage_is_refused_without_waiting(prefix: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        parse_header(prefix)


def test_a_version_1_message_is_refused_once_its_suite_is_read() -> None:
    """Format version 1 names its suite in bytes 3 and 4: wait for them, to say which."""
    for prefix in (b"\x01", b"\x01\x80", b"\x01\x80\x00"):
        with pytest.raises(Incomplete):
            parse_header(prefix)
    with pytest.raises(InvalidMessageError, match="version 1, algorithm suite 0x0378, which"):
        parse_header(b"\x01\x80\x03\x78")


def _header_with(content_type: int, frame_length: int, edk_count: int = 1) -> bytes:
    edk = b"\x00\x07aws-kms\x00\x03arn\x00\x02ct"
    return (
        b"\x02\x04\x78"
        + bytes(32)
        + b"\x00\x00"
        + struct.pack(">H", edk_count)
        + edk * edk_count
        + bytes([content_type])
        + struct.pack(">I", frame_length)
        + bytes(32)
        + bytes(16)
    )


def test_header_field_rules() -> None:
    assert parse_header(_header_with(2, 4096)).framed
    assert not parse_header(_header_with(1, 0)).framed
    for content_type, frame_length in [(2, 0), (1, 4096), (3, 4096), (0, 0), (2, 2**31)]:
        with pytest.raises(InvalidMessageError):
            parse_header(_header_with(content_type, frame_length))
    with pytest.raises(InvalidMessageError):
        parse_header(_header_with(2, 4096, edk_count=0))
    assert len(parse_header(_header_with(2, 4096, 3), max_data_keys=3).encrypted_data_keys) == 3
    with pytest.raises(InvalidMessageError):
        parse_header(_header_with(2, 4096, 4), max_data_keys=3)


def test_header_memo_is_used_and_keyed_by_bytes() -> None:
    memo = SectionMemo(maxsize=2)
    first = parse_header(seal(b"a", context={"x": "y"}), memo=memo)
    second = parse_header(seal(b"b", context={"x": "y"}), memo=memo)
    assert len(memo) == 1 and memo.hint
    assert second.encryption_context is first.encryption_context
    third = parse_header(seal(b"c", context={"x": "z"}), memo=memo)
    assert len(memo) == 2 and third.encryption_context == {"x": "z"}
    fourth = parse_header(seal(b"d", context={"x": "w"}), memo=memo)  # evicts the oldest
    assert len(memo) == 2 and fourth.encryption_context == {"x": "w"}
    assert repr(memo) == "<SectionMemo 2/2>"


def test_header_memo_keeps_only_small_sections() -> None:
    memo = SectionMemo()
    big = seal(b"x", context={"big": "v" * (MAX_MEMO_SECTION + 1)})
    assert parse_header(big, memo=memo).encryption_context["big"].startswith("v")
    assert len(memo) == 0 and memo.hint == 0
    parse_header(seal(b"x", context={"small": "v"}), memo=memo)
    assert len(memo) == 1


def test_header_memo_hint_never_misparses() -> None:
    """A remembered section length is only a guess: other headers still parse exactly."""
    memo = SectionMemo()
    messages = [
        seal(b"a", context={"x": "y"}),
        seal(b"b", context={"x": "yy"}),  # one byte longer
        seal(b"c", context={}),
        seal(b"d", context={"x": "y"}),
        seal(b"e", context={"x": "y"}, data_key=b"q" * 32),
    ]
    for message in messages * 2:
        header = parse_header(message, memo=memo)
        assert header == parse_header(message)
        assert open_whole(message, b"k" * 32 if message != messages[4] else b"q" * 32)
    truncated = messages[0][: parse_header(messages[0]).size - 1]
    with pytest.raises(Incomplete):
        parse_header(truncated, memo=memo)


def test_header_memo_last_middle_takes_only_the_middle() -> None:
    """A header sharing the last one's middle still has its own suite, ID, commit key and tag."""
    memo = SectionMemo()
    middle = make_middle({"x": "y"}, 4096)
    first = header_prefix(UNSIGNED) + b"i" * 32 + middle + b"c" * 32 + b"t" * 16
    assert parse_header(first, memo=memo).message_id == b"i" * 32
    assert memo.last is not None and memo.last[0] == middle
    other = header_prefix(SIGNED) + b"j" * 32 + middle + b"d" * 32 + b"u" * 16 + b"body"
    header = parse_header(other, memo=memo)
    assert header == parse_header(other)
    assert (header.algorithm, header.message_id, header.commit_key, header.auth_tag) == (
        SIGNED,
        b"j" * 32,
        b"d" * 32,
        b"u" * 16,
    )
    assert header.encryption_context is parse_header(first, memo=memo).encryption_context
    for cut in (1, 16, 17, 48):
        with pytest.raises(Incomplete):
            parse_header(other[: header.size - cut], memo=memo)


def test_header_middle_limits() -> None:
    with pytest.raises(ValueError, match="encrypted data keys"):
        header_middle(b"", [], 4096)
    with pytest.raises(ValueError, match="frame_length"):
        header_middle(b"", [EncryptedDataKey("aws-kms", b"a", b"b")], 0)
    with pytest.raises(ValueError, match="65,535"):
        header_middle(b"", [EncryptedDataKey("aws-kms", b"a", b"b" * 65536)], 4096)


# --- body --------------------------------------------------------------------------------------


def frames_of(message: bytes) -> list[tuple[bool, int, bytes, int]]:
    """``(final, seq, iv, content length)`` of each frame of a framed message."""
    header = parse_header(message)
    pos, out = header.size, []
    while True:
        (first,) = struct.unpack_from(">I", message, pos)
        if first == 0xFFFFFFFF:
            seq, iv, length = struct.unpack_from(">I12sI", message, pos + 4)
            out.append((True, seq, iv, length))
            return out
        iv = message[pos + 4 : pos + 16]
        out.append((False, first, iv, header.frame_length))
        pos += 4 + 12 + header.frame_length + 16


@pytest.mark.parametrize(
    ("size", "lengths"),
    [
        (0, [(True, 0)]),
        (1, [(True, 1)]),
        (99, [(True, 99)]),
        (100, [(False, 100), (True, 0)]),  # a whole last frame: an empty final frame follows
        (101, [(False, 100), (True, 1)]),
        (300, [(False, 100)] * 3 + [(True, 0)]),
        (305, [(False, 100)] * 3 + [(True, 5)]),
    ],
)
def test_frames(size: int, lengths: list[tuple[bool, int]]) -> None:
    plaintext = os.urandom(size)
    message = seal(plaintext, frame_length=100)
    frames = frames_of(message)
    assert [(final, length) for final, _, _, length in frames] == lengths
    assert [seq for _, seq, _, _ in frames] == list(range(1, len(frames) + 1))
    assert [iv for _, _, iv, _ in frames] == [seq.to_bytes(12, "big") for _, seq, _, _ in frames]
    assert open_whole(message, b"k" * 32) == plaintext


@pytest.mark.parametrize("algorithm", list(Algorithm))
@pytest.mark.parametrize("size", [0, 5, 64, 65, 200, 4096, 10_000])
def test_round_trip_and_streaming_equivalence(algorithm: Algorithm, size: int) -> None:
    plaintext = os.urandom(size)
    context = {"purpose": "test", "ünïcødé": "値 ☃ 𝄞"}
    if algorithm.signed:
        signer = Signer()
        context[PUBLIC_KEY_CONTEXT_KEY] = signer.public_key
    else:
        signer = None
    middle = make_middle(context, 64, keys=2)
    message_id = os.urandom(32)
    data_key = os.urandom(32)
    one_shot = seal_message(plaintext, algorithm, data_key, middle, 64, signer, message_id)
    assert open_whole(one_shot, data_key) == plaintext
    for chunk in (1, 3, 64, 1000):
        writer = MessageWriter(
            algorithm=algorithm,
            data_key=data_key,
            middle=middle,
            frame_length=64,
            signer=signer,
            message_id=message_id,
        )
        streamed = writer.header + b"".join(writer.feed(c) for c in chunked(plaintext, chunk))
        streamed += writer.finish()
        if algorithm.signed:  # ECDSA signatures are randomized: all but the footer match
            assert streamed[: -SIGNATURE_LEN - 2] == one_shot[: -SIGNATURE_LEN - 2]
            assert open_whole(streamed, data_key) == plaintext
        else:
            assert streamed == one_shot
        assert read_in_chunks(one_shot, data_key, chunk) == plaintext


def test_reader_releases_each_frame_as_it_completes() -> None:
    plaintext = bytes(range(250))
    message = seal(plaintext, frame_length=100)
    header_size = parse_header(message).size
    reader = MessageReader()
    reader.feed(message[:header_size])
    assert reader.parse_header() is not None
    reader.unlock(b"k" * 32)
    assert reader.next_plaintext() is None
    first_frame_end = header_size + 4 + 12 + 100 + 16
    reader.feed(message[header_size : first_frame_end - 1])
    assert reader.next_plaintext() is None  # not before its tag is there and checked
    reader.feed(message[first_frame_end - 1 : first_frame_end])
    assert reader.next_plaintext() == plaintext[:100]
    assert reader.next_plaintext() is None
    reader.feed(message[first_frame_end:])
    assert reader.next_plaintext() == plaintext[100:200]
    assert reader.next_plaintext() == plaintext[200:]
    assert reader.next_plaintext() is None
    reader.finish()
    with pytest.raises(InvalidMessageError):
        reader.feed(b"\x00")


def test_reader_memory_is_bounded_by_a_frame() -> None:
    plaintext = os.urandom(100_000)
    message = seal(plaintext, frame_length=1000)
    frame_size = 4 + 12 + 1000 + 16
    reader = MessageReader()
    out = []
    for chunk in chunked(message, 100):
        reader.feed(chunk)
        if reader.header is None:
            if reader.parse_header() is None:
                continue
            reader.unlock(b"k" * 32)
        while (piece := reader.next_plaintext()) is not None:
            out.append(piece)
        assert len(reader._buffer) <= frame_size + 100  # never more than a frame and a chunk
    reader.finish()
    assert b"".join(out) == plaintext


def test_reader_refuses_bytes_after_the_message() -> None:
    message = seal(b"payload", frame_length=100)
    with pytest.raises(InvalidMessageError):
        read_in_chunks(message + b"\x00", b"k" * 32, 1000)
    with pytest.raises(InvalidMessageError):
        open_whole(message + b"\x00", b"k" * 32)


def test_reader_order_is_enforced() -> None:
    reader = MessageReader()
    with pytest.raises(RuntimeError):
        reader.unlock(b"k" * 32)
    with pytest.raises(RuntimeError):
        reader.next_plaintext()
    with pytest.raises(InvalidMessageError):
        reader.finish()


def non_framed_message(plaintext: bytes, data_key: bytes, iv: bytes | None = None) -> bytes:
    """A legacy non-framed message, built by hand (aiokms only reads them)."""
    message_id = os.urandom(32)
    key, commit_key = derive_keys(data_key, message_id, UNSIGNED)
    edk = b"\x00\x07aws-kms\x00\x03arn\x00\x02ct"
    body = (
        b"\x02\x04\x78" + message_id + b"\x00\x00\x00\x01" + edk + b"\x01" + bytes(4) + commit_key
    )
    aead = AESGCM(key)
    iv = os.urandom(12) if iv is None else iv
    aad = (
        message_id + b"AWSKMSEncryptionClient Single Block" + struct.pack(">IQ", 1, len(plaintext))
    )
    sealed = aead.encrypt(iv, plaintext, aad)
    tag = aead.encrypt(bytes(12), b"", body)
    return body + tag + iv + struct.pack(">Q", len(plaintext)) + sealed


def test_non_framed_messages_are_read() -> None:
    plaintext = os.urandom(1000)
    # An IV that starts like a final frame's marker must not be mistaken for one.
    marked = non_framed_message(plaintext, b"k" * 32, iv=b"\xff" * 4 + os.urandom(8))
    assert open_whole(marked, b"k" * 32) == plaintext
    message = non_framed_message(plaintext, b"k" * 32)
    assert open_whole(message, b"k" * 32) == plaintext
    assert read_in_chunks(message, b"k" * 32, 77) == plaintext
    for end in range(len(message) - 1, parse_header(message).size, -97):
        with pytest.raises(InvalidMessageError):
            open_whole(message[:end], b"k" * 32)


# --- what a reader may be made to buffer -------------------------------------------------------


def test_a_reader_refuses_frames_over_its_limit_from_the_header_alone() -> None:
    plaintext = os.urandom(5000)
    message = seal(plaintext, frame_length=4096)
    header_size = parse_header(message).size
    reader = MessageReader(max_frame_length=4095)
    reader.feed(message[:header_size])  # the header, and nothing of the first frame
    with pytest.raises(InvalidMessageError, match=r"4096 bytes.*max_frame_length=4095"):
        reader.parse_header()
    # at the limit, the message reads
    assert read_in_chunks(message, b"k" * 32, 700, max_frame_length=4096) == plaintext
    # the limit is on frame lengths the header declares: a forged 2 GiB one is refused unread
    forged = bytearray(message[:header_size])
    frame_length_at = header_size - 16 - 32 - 4  # before the commit key and the header tag
    assert struct.unpack_from(">I", forged, frame_length_at) == (4096,)
    struct.pack_into(">I", forged, frame_length_at, 2**31 - 1)
    reader = MessageReader(max_frame_length=2**20)
    reader.feed(forged)
    with pytest.raises(InvalidMessageError, match="max_frame_length=1048576"):
        reader.parse_header()


def test_a_reader_refuses_a_non_framed_body_over_its_limit_once_its_length_arrives() -> None:
    plaintext = os.urandom(1000)
    message = non_framed_message(plaintext, b"k" * 32)
    header_size = parse_header(message).size
    length_end = header_size + 12 + 8  # the body's IV, then its length
    # the length came with the header: refused at once
    reader = MessageReader(max_body_length=999)
    reader.feed(message[:length_end])
    with pytest.raises(InvalidMessageError, match=r"1000 bytes.*max_body_length=999"):
        reader.parse_header()
    # the length comes later: refused as soon as it is there, before the body is
    reader = MessageReader(max_body_length=999)
    reader.feed(message[:header_size])
    assert reader.parse_header() is not None
    reader.unlock(b"k" * 32)
    reader.feed(message[header_size : length_end - 1])
    assert reader.next_plaintext() is None
    reader.feed(message[length_end - 1 : length_end])
    with pytest.raises(InvalidMessageError, match="max_body_length=999"):
        reader.next_plaintext()
    # at the limit, the message reads; a frame limit does not apply to it
    limits = {"max_body_length": 1000, "max_frame_length": 1}
    assert read_in_chunks(message, b"k" * 32, 77, **limits) == plaintext


# --- signatures --------------------------------------------------------------------------------


def test_signatures_are_103_bytes_and_bind_the_message() -> None:
    for _ in range(20):
        message = seal(b"signed", algorithm=SIGNED)
        (length,) = struct.unpack_from(">H", message, len(message) - SIGNATURE_LEN - 2)
        assert length == SIGNATURE_LEN
    # The same message, re-signed by another key pair, must fail against the header's key.
    context = {PUBLIC_KEY_CONTEXT_KEY: Signer().public_key}
    message = seal_message(b"x", SIGNED, b"k" * 32, make_middle(context, 64), 64, Signer())
    with pytest.raises(InvalidMessageError):
        open_whole(message, b"k" * 32)


def test_verification_key_must_match_the_suite() -> None:
    signer = Signer()
    with_key = make_middle({PUBLIC_KEY_CONTEXT_KEY: signer.public_key}, 64)
    message = seal_message(b"x", UNSIGNED, b"k" * 32, with_key, 64)  # unsigned, key present
    with pytest.raises(InvalidMessageError):
        open_whole(message, b"k" * 32)
    message = seal_message(b"x", SIGNED, b"k" * 32, make_middle({}, 64), 64, signer)  # no key
    with pytest.raises(InvalidMessageError):
        open_whole(message, b"k" * 32)
    bad_key = make_middle({PUBLIC_KEY_CONTEXT_KEY: "not a point"}, 64)
    message = seal_message(b"x", SIGNED, b"k" * 32, bad_key, 64, signer)
    with pytest.raises(InvalidMessageError):
        open_whole(message, b"k" * 32)
    with pytest.raises(ValueError, match="signer"):
        seal_message(b"x", SIGNED, b"k" * 32, with_key, 64)


def test_verification_key_loading() -> None:
    signer = Signer()
    key = load_verification_key(signer.public_key)
    assert key is not None and load_verification_key(signer.public_key) is key  # memoized
    assert load_verification_key(signer.public_key[:-1] + "*") is None
    assert load_verification_key("A" * 68) is None  # not a point on the curve
    assert load_verification_key("A" * 10_000) is None


def test_signer_repr_has_no_secret() -> None:
    assert repr(Signer()) == "<Signer ECDSA P-384>"


# --- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_every_flipped_byte_and_every_truncation_fails(algorithm: Algorithm) -> None:
    plaintext = os.urandom(70)  # three frames of 32: two regular, one final
    message = seal(plaintext, algorithm=algorithm, frame_length=32, context={"a": "b"})
    data_key = b"k" * 32
    assert open_whole(message, data_key) == plaintext
    for pos in range(len(message)):
        for mask in (0x01, 0x80):
            tampered = bytearray(message)
            tampered[pos] ^= mask
            with pytest.raises(InvalidMessageError) as excinfo:
                open_whole(bytes(tampered), data_key)
            error = excinfo.value
            assert error.__cause__ is None
            assert error.__context__ is None or error.__suppress_context__
    for end in range(len(message)):
        with pytest.raises(InvalidMessageError):
            open_whole(message[:end], data_key)
        with pytest.raises(InvalidMessageError):
            read_in_chunks(message[:end], data_key, 50)


def test_wrong_data_key_fails_on_commitment() -> None:
    message = seal(b"payload")
    with pytest.raises(InvalidMessageError):
        open_whole(message, b"K" * 32)
    with pytest.raises(InvalidMessageError):
        open_whole(message, b"k" * 31)


def test_invalid_message_error_is_opaque() -> None:
    errors = []
    message = seal(b"payload", frame_length=32)
    for tampered in (message[:-1], message + b"x", b"\x01" + message[1:], message[:40]):
        with pytest.raises(InvalidMessageError) as excinfo:
            open_whole(tampered, b"k" * 32)
        errors.append(str(excinfo.value))
    assert len(set(errors)) == 1
    assert isinstance(InvalidMessageError(), AiokmsError)


def test_header_type_is_a_tuple_for_speed() -> None:
    # Parsed once per message on the hot path: a NamedTuple is the cheapest record.
    assert issubclass(Header, tuple)
