"""Per-message keys: HKDF-SHA512 from the data key, and the key commitment.

For both suites (transitive-requirements "HKDF Encryption Key" and "HKDF Commit Key")::

    PRK        = HKDF-Extract(salt = message ID (32 bytes), IKM = plaintext data key)
    data key   = HKDF-Expand(PRK, info = suite id || "DERIVEKEY", L = 32)
    commit key = HKDF-Expand(PRK, info = "COMMITKEY",             L = 32)

``L`` is below SHA-512's output size, so each expansion is one HMAC block,
``HMAC(PRK, info || 0x01)`` cut to 32 bytes. The extraction runs once and both expansions
share it (the spec asks for that), which saves one HMAC per message over two HKDF calls. The
message ID is fresh per message, so nothing here can be computed once per data key. Readers
compare the commit key with ``hmac.compare_digest`` (constant time).

HMAC (RFC 2104) is spelled out over ``hashlib.sha512``: ``H((K ^ opad) || H((K ^ ipad) || m))``
with ``K`` zero-padded to SHA-512's 128-byte block. That is the whole per-message KDF in six
hash calls, measurably cheaper than HMAC objects; it is checked against ``cryptography``'s HKDF
and the official test vectors. The pads of the public message ID come from translation tables;
the pads of the secret PRK are computed with integer XOR, not table lookups, so that no memory
access depends on a secret byte.
"""

from __future__ import annotations

import hashlib

from aiokms._message.suites import COMMIT_KEY_LEN, DATA_KEY_LEN, MESSAGE_ID_LEN, Algorithm

__all__ = ["derive_keys"]

_BLOCK = 128  # SHA-512's block size
_PRK_LEN = 64
_sha512 = hashlib.sha512
_IPAD_TABLE = bytes(b ^ 0x36 for b in range(256))
_OPAD_TABLE = bytes(b ^ 0x5C for b in range(256))
# The salt (message ID) zero-padded to a block, XORed with the pads: the padding part is fixed.
_IPAD_SALT_FILL = b"\x36" * (_BLOCK - MESSAGE_ID_LEN)
_OPAD_SALT_FILL = b"\x5c" * (_BLOCK - MESSAGE_ID_LEN)
_IPAD_INT = int.from_bytes(b"\x36" * _PRK_LEN, "big")
_OPAD_INT = int.from_bytes(b"\x5c" * _PRK_LEN, "big")
_IPAD_FILL = b"\x36" * (_BLOCK - _PRK_LEN)
_OPAD_FILL = b"\x5c" * (_BLOCK - _PRK_LEN)
_COMMIT_INFO = b"COMMITKEY\x01"
_DERIVE_INFO = {alg: alg.suite_id + b"DERIVEKEY\x01" for alg in Algorithm}


def derive_keys(
    data_key: bytes | bytearray, message_id: bytes, algorithm: Algorithm
) -> tuple[bytes, bytes]:
    """``(encryption key, commit key)`` of one message, from its plaintext data key.

    Args:
        data_key: the 32-byte plaintext data key (what KMS's GenerateDataKey returns).
        message_id: the message's 32-byte ID, the HKDF salt.
        algorithm: the suite, which is part of the encryption key's derivation info.
    """
    if len(message_id) != MESSAGE_ID_LEN:
        raise ValueError("a message ID is 32 bytes")
    inner_prk = _sha512(message_id.translate(_IPAD_TABLE) + _IPAD_SALT_FILL + data_key).digest()
    prk = _sha512(message_id.translate(_OPAD_TABLE) + _OPAD_SALT_FILL + inner_prk).digest()
    secret = int.from_bytes(prk, "big")
    inner = _sha512((secret ^ _IPAD_INT).to_bytes(_PRK_LEN, "big") + _IPAD_FILL)
    outer = _sha512((secret ^ _OPAD_INT).to_bytes(_PRK_LEN, "big") + _OPAD_FILL)
    commit_inner, commit_outer = inner.copy(), outer.copy()
    inner.update(_DERIVE_INFO[algorithm])
    commit_inner.update(_COMMIT_INFO)
    outer.update(inner.digest())
    commit_outer.update(commit_inner.digest())
    return outer.digest()[:DATA_KEY_LEN], commit_outer.digest()[:COMMIT_KEY_LEN]
