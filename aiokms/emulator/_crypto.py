"""KMS-side cryptography: key specs, the ciphertext envelope, and the asymmetric primitives.

How the symmetric ciphertext works: a blob is one authenticated envelope,

    ======  ======  ==================================================================
    offset  length  field
    ======  ======  ==================================================================
    0       1       format version (``0x01``)
    1       17      key id: a kind byte (0 = UUID key id, 1 = ``mrk-`` key id) + 16 bytes
    18      32      key material id (KMS's ``KeyMaterialId``, hex-encoded in replies)
    50      12      AES-GCM nonce (random)
    62      n + 16  AES-256-GCM ciphertext of the n plaintext bytes, then its tag
    ======  ======  ==================================================================

and the AES-GCM additional data is the 62-byte header followed by the encryption context in
canonical form (pairs sorted by UTF-8 key, each key and value length-prefixed), so the blob is
bound to its key, its key material and its exact context: a flipped byte anywhere, another
context, or a blob presented under another key fails authentication. The key id in clear lets
``Decrypt`` find the key without being told, as KMS does; the material id lets rotated keys
decrypt what their older material encrypted.

Asymmetric keys produce what KMS produces: raw RSAES-OAEP ciphertexts (so a ciphertext made
offline with the public key from ``GetPublicKey`` decrypts), DER-encoded ECDSA signatures,
RSASSA-PSS with a salt as long as the digest, PKCS #1 v1.5 signatures, pure Ed25519 (RFC 8032)
and pure ML-DSA (FIPS 204, empty context) signatures, SubjectPublicKeyInfo public keys and
PKCS #8 private keys. ML-DSA comes from ``cryptography``'s ``mldsa`` module where the installed
version has it (:func:`ml_dsa_unavailable` says why not otherwise).

Pure code: randomness comes from ``os.urandom`` through the caller or this module.
"""

from __future__ import annotations

import functools
import hmac
import importlib
import os
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import cryptography
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import mldsa

    MLDSAPrivateKey: TypeAlias = (
        mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
    )

__all__ = [
    "ECC_SPECS",
    "ED25519_ALGORITHMS",
    "ED25519_SPEC",
    "HEADER_LEN",
    "HMAC_SPECS",
    "ML_DSA_ALGORITHM",
    "ML_DSA_SPECS",
    "WRAPPING_ALGORITHMS",
    "RSA_ENCRYPTION_ALGORITHMS",
    "RSA_SIGNING_ALGORITHMS",
    "RSA_SPECS",
    "PrivateKey",
    "SymmetricMaterial",
    "canonical_context",
    "generate_key_pair",
    "generate_private_key",
    "key_id_from_raw",
    "load_private_key",
    "mac",
    "ml_dsa_unavailable",
    "open_envelope",
    "parse_envelope",
    "private_key_der",
    "public_key_der",
    "raw_key_id",
    "rsa_decrypt",
    "unwrap_key_material",
    "rsa_encrypt",
    "rsa_max_plaintext",
    "seal",
    "sign",
    "signing_digest_size",
    "verify",
]

PrivateKey: TypeAlias = (
    "rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | MLDSAPrivateKey"
)

VERSION = b"\x01"
_KIND_UUID = 0
_KIND_MRK = 1
RAW_KEY_ID_LEN = 17
MATERIAL_ID_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
PREFIX_LEN = 1 + RAW_KEY_ID_LEN + MATERIAL_ID_LEN  # what is fixed per key material
HEADER_LEN = PREFIX_LEN + NONCE_LEN

# KMS key spec -> (hashlib name, key bytes, MAC algorithm)
HMAC_SPECS: dict[str, tuple[str, int, str]] = {
    "HMAC_224": ("sha224", 28, "HMAC_SHA_224"),
    "HMAC_256": ("sha256", 32, "HMAC_SHA_256"),
    "HMAC_384": ("sha384", 48, "HMAC_SHA_384"),
    "HMAC_512": ("sha512", 64, "HMAC_SHA_512"),
}
RSA_SPECS: dict[str, int] = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
# KMS key spec -> (curve, signing algorithm)
ECC_SPECS: dict[str, tuple[ec.EllipticCurve, str]] = {
    "ECC_NIST_P256": (ec.SECP256R1(), "ECDSA_SHA_256"),
    "ECC_NIST_P384": (ec.SECP384R1(), "ECDSA_SHA_384"),
    "ECC_NIST_P521": (ec.SECP521R1(), "ECDSA_SHA_512"),
    "ECC_SECG_P256K1": (ec.SECP256K1(), "ECDSA_SHA_256"),
}
ED25519_SPEC = "ECC_NIST_EDWARDS25519"
# Pure Ed25519 over a RAW message; Ed25519ph over a DIGEST (Sign reference, MessageType)
ED25519_ALGORITHMS = ("ED25519_SHA_512", "ED25519_PH_SHA_512")
# KMS key spec -> cryptography's private key class in its mldsa module
ML_DSA_SPECS: dict[str, str] = {
    "ML_DSA_44": "MLDSA44PrivateKey",
    "ML_DSA_65": "MLDSA65PrivateKey",
    "ML_DSA_87": "MLDSA87PrivateKey",
}
ML_DSA_ALGORITHM = "ML_DSA_SHAKE_256"
RSA_ENCRYPTION_ALGORITHMS = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
RSA_SIGNING_ALGORITHMS = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_1": hashes.SHA1,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}


# --- symmetric keys and the envelope --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SymmetricMaterial:
    """One AES-256 key material of a symmetric KMS key, with its precomputed envelope prefix.

    Attributes:
        material_id: 32 random bytes (``KeyMaterialId`` is their hex).
        secret: the AES-256 key.
        created: epoch seconds.
        rotation_type: ``None`` for the first material, else ``"AUTOMATIC"`` or
            ``"ON_DEMAND"``.
        prefix: version, key id and material id: the first 50 bytes of every blob it seals.
        aead: the AES-GCM context for ``secret``.
        hex_id: ``material_id`` in hex, as replies carry it.
    """

    material_id: bytes
    secret: bytes
    created: float
    rotation_type: str | None
    prefix: bytes
    aead: AESGCM
    hex_id: str

    @classmethod
    def new(
        cls,
        raw_id: bytes,
        created: float,
        rotation_type: str | None = None,
        *,
        material_id: bytes | None = None,
        secret: bytes | None = None,
    ) -> SymmetricMaterial:
        """A material for the key whose 17-byte raw id is ``raw_id`` (random unless given)."""
        material_id = os.urandom(MATERIAL_ID_LEN) if material_id is None else material_id
        secret = os.urandom(32) if secret is None else secret
        if len(material_id) != MATERIAL_ID_LEN or len(secret) != 32:
            raise ValueError("invalid symmetric key material")
        prefix = VERSION + raw_id + material_id
        return cls(
            material_id, secret, created, rotation_type, prefix, AESGCM(secret), material_id.hex()
        )

    def __repr__(self) -> str:
        return f"<SymmetricMaterial {self.material_id.hex()[:12]}...>"


def raw_key_id(key_id: str) -> bytes:
    """The 17 bytes that stand for ``key_id`` in a blob (``ValueError`` if it is not one)."""
    if key_id.startswith("mrk-"):
        body = bytes.fromhex(key_id[4:])
        if len(body) != 16 or key_id[4:] != body.hex():
            raise ValueError(f"not a multi-Region key id: {key_id!r}")
        return bytes((_KIND_MRK,)) + body
    parsed = uuid.UUID(key_id)
    if str(parsed) != key_id:
        raise ValueError(f"not a key id: {key_id!r}")
    return bytes((_KIND_UUID,)) + parsed.bytes


def key_id_from_raw(raw: bytes) -> str:
    """The key id that ``raw_key_id`` turned into ``raw``."""
    if raw[0] == _KIND_MRK:
        return "mrk-" + raw[1:].hex()
    return str(uuid.UUID(bytes=raw[1:]))


_LENGTH = struct.Struct(">I")


def canonical_context(context: Mapping[str, str] | None) -> bytes:
    """The encryption context as unambiguous bytes: sorted pairs, every part length-prefixed."""
    if not context:
        return b""
    parts = [_LENGTH.pack(len(context))]
    for key, value in sorted((k.encode(), v.encode()) for k, v in context.items()):
        parts += (_LENGTH.pack(len(key)), key, _LENGTH.pack(len(value)), value)
    return b"".join(parts)


def seal(material: SymmetricMaterial, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt ``plaintext`` into a blob bound to ``material`` and the canonical ``context``."""
    header = material.prefix + os.urandom(NONCE_LEN)
    return header + material.aead.encrypt(header[PREFIX_LEN:], plaintext, header + context)


def parse_envelope(blob: bytes) -> tuple[bytes, bytes] | None:
    """``(raw key id, material id)`` of a blob in this format, else ``None``."""
    if len(blob) < HEADER_LEN + TAG_LEN or blob[:1] != VERSION:
        return None
    return blob[1 : 1 + RAW_KEY_ID_LEN], blob[1 + RAW_KEY_ID_LEN : PREFIX_LEN]


def open_envelope(material: SymmetricMaterial, blob: bytes, context: bytes) -> bytes:
    """Decrypt a blob ``material`` sealed; raises ``cryptography``'s ``InvalidTag`` if not."""
    header = blob[:HEADER_LEN]
    return material.aead.decrypt(header[PREFIX_LEN:], blob[HEADER_LEN:], header + context)


# --- asymmetric keys ------------------------------------------------------------------------


@functools.cache
def ml_dsa_module() -> ModuleType | None:
    """``cryptography``'s ``mldsa`` module if it signs ML-DSA and external mu here, else None."""
    try:
        module = importlib.import_module("cryptography.hazmat.primitives.asymmetric.mldsa")
    except ImportError:
        return None
    if not hasattr(module, "MLDSAMuHasher") or not hasattr(module.MLDSA44PrivateKey, "sign_mu"):
        return None
    from cryptography.hazmat.backends.openssl.backend import backend

    return module if backend.mldsa_supported() else None


def ml_dsa_unavailable() -> str | None:
    """Why ML-DSA keys cannot be made with the installed ``cryptography``, or None if they can."""
    if ml_dsa_module() is not None:
        return None
    return (
        "ML-DSA needs cryptography 50 or later built with ML-DSA support (MLDSAMuHasher, "
        f"sign_mu); cryptography {cryptography.__version__} is installed"
    )


def _ml_dsa_classes() -> tuple[type, ...]:
    module = ml_dsa_module()
    if module is None:
        return ()
    return tuple(getattr(module, name) for name in ML_DSA_SPECS.values())


def generate_private_key(spec: str) -> PrivateKey:
    """A new private key for a KMS key spec or data key pair spec."""
    if spec in RSA_SPECS:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_SPECS[spec])
    if spec in ECC_SPECS:
        return ec.generate_private_key(ECC_SPECS[spec][0])
    if spec == ED25519_SPEC:
        return ed25519.Ed25519PrivateKey.generate()
    module = ml_dsa_module() if spec in ML_DSA_SPECS else None
    if module is not None:
        key: PrivateKey = getattr(module, ML_DSA_SPECS[spec]).generate()
        return key
    raise ValueError(f"no key generation for {spec}")


def generate_key_pair(spec: str) -> tuple[bytes, bytes]:
    """A data key pair: ``(PKCS #8 DER private key, SubjectPublicKeyInfo DER public key)``."""
    key = generate_private_key(spec)
    return private_key_der(key), public_key_der(key)


def private_key_der(key: PrivateKey) -> bytes:
    """PKCS #8 DER, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(der: bytes) -> PrivateKey:
    """The inverse of :func:`private_key_der`."""
    key = serialization.load_der_private_key(der, password=None)
    kinds = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
    if not isinstance(key, kinds + _ml_dsa_classes()):
        raise ValueError("unsupported private key type")
    return cast("PrivateKey", key)


def public_key_der(key: PrivateKey) -> bytes:
    """The public half as DER SubjectPublicKeyInfo, as ``GetPublicKey`` returns it."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _oaep(algorithm: str) -> padding.OAEP:
    digest = _HASHES[algorithm.removeprefix("RSAES_OAEP_")]()
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def rsa_max_plaintext(bits: int, algorithm: str) -> int:
    """The longest plaintext RSAES-OAEP with ``algorithm`` can encrypt under ``bits``."""
    digest_size = _HASHES[algorithm.removeprefix("RSAES_OAEP_")]().digest_size
    return bits // 8 - 2 * digest_size - 2


def rsa_encrypt(key: rsa.RSAPrivateKey, algorithm: str, plaintext: bytes) -> bytes:
    """RSAES-OAEP encryption under the key's public half."""
    return key.public_key().encrypt(plaintext, _oaep(algorithm))


def rsa_decrypt(key: rsa.RSAPrivateKey, algorithm: str, ciphertext: bytes) -> bytes:
    """RSAES-OAEP decryption; raises ``ValueError`` for a ciphertext that does not decrypt."""
    return key.decrypt(ciphertext, _oaep(algorithm))


WRAPPING_ALGORITHMS = (
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
)


def unwrap_key_material(key: rsa.RSAPrivateKey, algorithm: str, wrapped: bytes) -> bytes:
    """Key material wrapped for import (Developer Guide, "Encrypt key material"): RSAES-OAEP
    with the wrapping key, or, for ``RSA_AES_KEY_WRAP_SHA_*``, an
    RSAES-OAEP-wrapped AES key followed by the material under AES key wrap with padding
    (RFC 5649). Raises ``ValueError`` for anything that does not unwrap."""
    hash_name = "SHA_" + algorithm.rsplit("_", 1)[1]
    oaep = padding.OAEP(
        mgf=padding.MGF1(_HASHES[hash_name]()), algorithm=_HASHES[hash_name](), label=None
    )
    if algorithm.startswith("RSAES_OAEP"):
        return key.decrypt(wrapped, oaep)
    split = key.key_size // 8
    aes_key = key.decrypt(wrapped[:split], oaep)
    try:
        return keywrap.aes_key_unwrap_with_padding(aes_key, wrapped[split:])
    except keywrap.InvalidUnwrap:
        raise ValueError("the key material does not unwrap") from None


def _hash_of(algorithm: str) -> hashes.HashAlgorithm:
    return _HASHES["SHA_" + algorithm.rsplit("_", 1)[1]]()


def signing_digest_size(algorithm: str) -> int:
    """The digest length (bytes) of a signing algorithm's hash."""
    return _hash_of(algorithm).digest_size


def sign(
    key: PrivateKey, algorithm: str, message: bytes, *, digest: bool, mu: bool = False
) -> bytes:
    """Sign ``message`` (or, with ``digest``, the given digest; with ``mu``, the ML-DSA message
    representative) as KMS does for ``algorithm``. Ed25519 signs the message itself (pure
    Ed25519); ML-DSA signs it with an empty context."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        chosen = _hash_of(algorithm)
        prepared: hashes.HashAlgorithm | Prehashed = Prehashed(chosen) if digest else chosen
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, _rsa_padding(algorithm, chosen), prepared)
        return key.sign(message, ec.ECDSA(prepared))
    signer: Any = key  # ML-DSA
    return bytes(signer.sign_mu(message) if mu else signer.sign(message))


def verify(
    key: PrivateKey,
    algorithm: str,
    message: bytes,
    signature: bytes,
    *,
    digest: bool,
    mu: bool = False,
) -> bool:
    """Whether ``signature`` is valid for ``message`` (or the digest, or the ML-DSA message
    representative ``mu``) under ``algorithm``."""
    try:
        if isinstance(key, ed25519.Ed25519PrivateKey):
            key.public_key().verify(signature, message)
        elif isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            chosen = _hash_of(algorithm)
            prepared: hashes.HashAlgorithm | Prehashed = Prehashed(chosen) if digest else chosen
            if isinstance(key, rsa.RSAPrivateKey):
                public = key.public_key()
                public.verify(signature, message, _rsa_padding(algorithm, chosen), prepared)
            else:
                key.public_key().verify(signature, message, ec.ECDSA(prepared))
        else:  # ML-DSA
            ml_dsa: Any = key.public_key()
            (ml_dsa.verify_mu if mu else ml_dsa.verify)(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _rsa_padding(algorithm: str, chosen: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS_"):
        return padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
    return padding.PKCS1v15()


def mac(secret: bytes, hash_name: str, message: bytes) -> bytes:
    """HMAC of ``message``."""
    return hmac.digest(secret, message, hash_name)
