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

The extraction's HMAC (RFC 2104) is spelled out over ``hashlib.sha512``:
``H((K ^ opad) || H((K ^ ipad) || m))`` with ``K``, the public message ID, zero-padded to
SHA-512's 128-byte block; its pads come from translation tables. The expansions use
``cryptography``'s HMAC keyed with the secret PRK (its pads are made inside OpenSSL, and no
memory access here depends on a secret byte), copied once for the second expansion. Measured
per message, that is cheaper than HMAC objects for the extraction and than spelling out the
expansions too (whose pads would need the PRK as an integer). It is checked against
``cryptography``'s HKDF and the official test vectors.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.hashes import SHA512
from cryptography.hazmat.primitives.hmac import HMAC

from aiokms._message.suites import COMMIT_KEY_LEN, DATA_KEY_LEN, MESSAGE_ID_LEN, Algorithm

__all__ = ["derive_keys"]

_BLOCK = 128  # SHA-512's block size
_sha512 = hashlib.sha512
_IPAD_TABLE = bytes(b ^ 0x36 for b in range(256))
_OPAD_TABLE = bytes(b ^ 0x5C for b in range(256))
# The salt (message ID) zero-padded to a block, XORed with the pads: the padding part is fixed.
_IPAD_SALT_FILL = b"\x36" * (_BLOCK - MESSAGE_ID_LEN)
_OPAD_SALT_FILL = b"\x5c" * (_BLOCK - MESSAGE_ID_LEN)
_SHA512 = SHA512()
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
    expand = HMAC(prk, _SHA512)
    commit = expand.copy()
    expand.update(_DERIVE_INFO[algorithm])
    commit.update(_COMMIT_INFO)
    return expand.finalize()[:DATA_KEY_LEN], commit.finalize()[:COMMIT_KEY_LEN]
