"""ECDSA P-384 message signatures (suite 0x0578).

The writer makes a key pair, puts the public point (SEC 1 compressed, base64) into the
encryption context under ``aws-crypto-public-key`` (so the header authenticates it and KMS
binds the data key to it), and ends the message with ``length u16 || DER signature`` over the
SHA-384 of everything before the footer. Signatures are made 103 bytes long, as the ESDK makes
them (ECDSA's ``s`` and ``n - s`` are both valid; one of them gives that DER length), so that a
message's length does not depend on the signature; readers accept any length.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import struct
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["SIGNATURE_LEN", "Hash", "Signer", "load_verification_key", "new_hash", "verify"]

SIGNATURE_LEN = 103
_CURVE = ec.SECP384R1()
_ORDER = int(  # of the P-384 group (SEC 2)
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_ECDSA_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA384()))
_POINT_LEN = 49  # compressed P-384 point: 02/03 then x
_ENCODED_POINT_LEN = 68  # its base64
_U16 = struct.Struct(">H")


class Hash(Protocol):
    """What the message code needs of a ``hashlib`` hash object."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


def new_hash() -> Hash:
    """A SHA-384 hash to feed the message's bytes as they are written or read."""
    return hashlib.sha384()


class Signer:
    """A fresh P-384 key pair that signs messages; ``public_key`` goes in the context."""

    __slots__ = ("_key", "public_key")

    def __init__(self) -> None:
        self._key = ec.generate_private_key(_CURVE)
        point = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        self.public_key: str = base64.b64encode(point).decode("ascii")
        """The base64 compressed public point: the ``aws-crypto-public-key`` value."""

    def footer(self, digest: bytes) -> bytes:
        """The message footer: length and signature of the SHA-384 ``digest`` of the message."""
        while True:
            signature = self._key.sign(digest, _ECDSA_PREHASHED)
            if len(signature) != SIGNATURE_LEN:
                r, s = decode_dss_signature(signature)
                signature = encode_dss_signature(r, _ORDER - s)
            if len(signature) == SIGNATURE_LEN:
                return _U16.pack(SIGNATURE_LEN) + signature

    def __repr__(self) -> str:
        return "<Signer ECDSA P-384>"


def load_verification_key(encoded: str) -> ec.EllipticCurvePublicKey | None:
    """The public key from an ``aws-crypto-public-key`` value, or None if it is not one."""
    if len(encoded) != _ENCODED_POINT_LEN:  # (also keeps junk out of the memo below)
        return None
    return _load_point(encoded)


@functools.lru_cache(maxsize=256)  # messages under one cached data key share their key
def _load_point(encoded: str) -> ec.EllipticCurvePublicKey | None:
    try:
        point = base64.b64decode(encoded, validate=True)
        if len(point) != _POINT_LEN:
            return None
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, point)
    except (ValueError, binascii.Error):
        return None


def verify(key: ec.EllipticCurvePublicKey, signature: bytes, digest: bytes) -> bool:
    """Whether ``signature`` is ``key``'s signature of the SHA-384 ``digest``."""
    try:
        key.verify(signature, digest, _ECDSA_PREHASHED)
    except (InvalidSignature, ValueError):
        return False
    return True
