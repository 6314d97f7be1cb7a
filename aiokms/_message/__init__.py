"""The AWS Encryption SDK message format (v2, committing suites), with no I/O at all.

How it works: a message is a header, a body and, for the signed suite, a footer::

    header   version 02 | suite | message ID | encryption context | encrypted data keys
             | content type | frame length | commit key | header tag
    body     frames: seq | IV | AES-GCM(ciphertext) | tag ... final frame
    footer   ECDSA P-384 signature over header and body       (suite 0x0578 only)

Every message has a fresh 32-byte ID; HKDF-SHA512 turns the plaintext data key and that ID into
the message's AES-256 key and a commit key, which the header carries so that a reader can tell
that its data key is the one the writer used (without it, one ciphertext could decrypt to two
plaintexts under two data keys). The header tag authenticates the header, each frame's tag
its frame and position, the final frame marks the end, and the signature the whole message.

Modules, bottom up: ``suites`` (the two suites and the format's constants), ``keys`` (key
derivation and commitment), ``header`` (header serialization and incremental parsing),
``body`` (frames), ``signing`` (the footer) and ``message`` (whole messages, in one go or as
a stream). The async glue that talks to KMS and the data-key cache is ``aiokms._encryptor``.

Failures while reading are one opaque :class:`~aiokms.errors.InvalidMessageError`; plaintext
exists only after the tag that covers it has been checked.
"""

from aiokms._message.header import (
    EncryptedDataKey,
    Header,
    Incomplete,
    SectionMemo,
    header_middle,
    parse_encryption_context,
    parse_header,
    serialize_encryption_context,
)
from aiokms._message.keys import derive_keys
from aiokms._message.message import (
    MessageReader,
    MessageWriter,
    OpenedHeader,
    decrypt_message,
    open_header,
    open_message,
    seal_message,
)
from aiokms._message.signing import Signer
from aiokms._message.suites import PUBLIC_KEY_CONTEXT_KEY, RESERVED_CONTEXT_PREFIX, Algorithm

__all__ = [
    "PUBLIC_KEY_CONTEXT_KEY",
    "RESERVED_CONTEXT_PREFIX",
    "Algorithm",
    "EncryptedDataKey",
    "Header",
    "Incomplete",
    "MessageReader",
    "MessageWriter",
    "OpenedHeader",
    "SectionMemo",
    "Signer",
    "decrypt_message",
    "derive_keys",
    "header_middle",
    "open_header",
    "open_message",
    "parse_encryption_context",
    "parse_header",
    "seal_message",
    "serialize_encryption_context",
]
