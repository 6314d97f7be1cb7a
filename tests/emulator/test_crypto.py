"""KMS-side cryptography (``aiokms.emulator._crypto``): ciphertexts bound to key, key material
and encryption context (every flipped byte fails); every key spec and cryptographic operation,
checked offline with ``cryptography``."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import botocore.exceptions
import botocore.session
import cryptography
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa

from aiokms.emulator import LocalKMS, _crypto
from aiokms.emulator._crypto import HEADER_LEN, canonical_context
from aiokms.emulator._operations import Backend
from tests.emulator.helpers import (
    CONTEXT,
    PLAINTEXT,
    WRONG_CONTEXT,
    aiokms_client,
    client_of,
    error_of,
    fails,
    invoke,
    key_store,
)


async def test_ciphertexts_are_bound_to_key_material_and_context(local: LocalKMS) -> None:
    async with aiokms_client(local) as kms:
        key = (await kms.create_key())["KeyMetadata"]
        other = (await kms.create_key())["KeyMetadata"]
        enc = await kms.encrypt(KeyId=key["KeyId"], Plaintext=PLAINTEXT, EncryptionContext=CONTEXT)
        blob = enc["CiphertextBlob"]
        assert blob[0] == 1 and len(blob) == HEADER_LEN + len(PLAINTEXT) + 16
        dec = await kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
        assert dec["KeyMaterialId"] == key["CurrentKeyMaterialId"]
        assert bytes.fromhex(dec["KeyMaterialId"]) == blob[18:50]
        for i in range(len(blob)):
            flipped = bytearray(blob)
            flipped[i] ^= 0x01
            with pytest.raises(kms.exceptions.InvalidCiphertextException):
                await kms.decrypt(CiphertextBlob=bytes(flipped), EncryptionContext=CONTEXT)
        for context in ({}, WRONG_CONTEXT, {**CONTEXT, "extra": "pair"}):
            with pytest.raises(kms.exceptions.InvalidCiphertextException):
                await kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            await kms.decrypt(CiphertextBlob=blob[:-1], EncryptionContext=CONTEXT)
        with pytest.raises(kms.exceptions.IncorrectKeyException):
            await kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT, KeyId=other["KeyId"])
        await kms.disable_key(KeyId=key["KeyId"])
        with pytest.raises(kms.exceptions.DisabledException):
            await kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)


def test_canonical_context_is_unambiguous() -> None:
    assert canonical_context({"a": "1", "b": "2"}) == canonical_context({"b": "2", "a": "1"})
    assert canonical_context({"a": "bc"}) != canonical_context({"ab": "c"})
    assert canonical_context({"a": "b", "c": "d"}) != canonical_context({"a": "b\x00c"})
    assert canonical_context({}) == canonical_context(None) == b""


KEY_SPECS = [
    ("SYMMETRIC_DEFAULT", None, "EncryptionAlgorithms", ["SYMMETRIC_DEFAULT"]),
    ("HMAC_224", "GENERATE_VERIFY_MAC", "MacAlgorithms", ["HMAC_SHA_224"]),
    ("HMAC_256", "GENERATE_VERIFY_MAC", "MacAlgorithms", ["HMAC_SHA_256"]),
    ("HMAC_384", "GENERATE_VERIFY_MAC", "MacAlgorithms", ["HMAC_SHA_384"]),
    ("HMAC_512", "GENERATE_VERIFY_MAC", "MacAlgorithms", ["HMAC_SHA_512"]),
    (
        "RSA_2048",
        "ENCRYPT_DECRYPT",
        "EncryptionAlgorithms",
        ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
    ),
    (
        "RSA_3072",
        "SIGN_VERIFY",
        "SigningAlgorithms",
        [
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
    ),
    (
        "RSA_4096",
        "ENCRYPT_DECRYPT",
        "EncryptionAlgorithms",
        ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
    ),
    ("ECC_NIST_P256", "SIGN_VERIFY", "SigningAlgorithms", ["ECDSA_SHA_256"]),
    ("ECC_NIST_P384", "SIGN_VERIFY", "SigningAlgorithms", ["ECDSA_SHA_384"]),
    ("ECC_NIST_P521", "SIGN_VERIFY", "SigningAlgorithms", ["ECDSA_SHA_512"]),
    ("ECC_SECG_P256K1", "SIGN_VERIFY", "SigningAlgorithms", ["ECDSA_SHA_256"]),
    ("ECC_NIST_P256", "KEY_AGREEMENT", "KeyAgreementAlgorithms", ["ECDH"]),
]


async def test_every_key_spec(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        for spec, usage, member, algorithms in KEY_SPECS:
            kwargs = {"KeySpec": spec} | ({"KeyUsage": usage} if usage else {})
            meta = (await kms.create_key(**kwargs))["KeyMetadata"]
            described = (await kms.describe_key(KeyId=meta["Arn"]))["KeyMetadata"]
            assert described == meta
            assert (meta["KeySpec"], meta["CustomerMasterKeySpec"]) == (spec, spec)
            assert meta["KeyUsage"] == (usage or "ENCRYPT_DECRYPT")
            assert meta[member] == algorithms, spec
            others = {"EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms"} - {member}
            assert not others & set(meta), spec
            assert ("CurrentKeyMaterialId" in meta) == (spec == "SYMMETRIC_DEFAULT")
            if spec.startswith(("RSA", "ECC")):
                public = await kms.get_public_key(KeyId=meta["KeyId"])
                assert public[member] == algorithms and public["KeySpec"] == spec
                key = serialization.load_der_public_key(public["PublicKey"])
                if spec.startswith("RSA"):
                    assert isinstance(key, rsa.RSAPublicKey)
                    assert key.key_size == int(spec[4:])
            else:
                with pytest.raises(botocore.exceptions.ClientError) as caught:
                    await kms.get_public_key(KeyId=meta["KeyId"])
                assert error_of(caught.value) == ("UnsupportedOperationException", 400)
        for kwargs in (
            {"KeySpec": "ECC_NIST_P256", "KeyUsage": "ENCRYPT_DECRYPT"},
            {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "SIGN_VERIFY"},
            {"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "KEY_AGREEMENT"},
        ):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.create_key(**kwargs)
            assert error_of(caught.value) == ("ValidationException", 400)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")
        assert error_of(caught.value) == ("UnsupportedOperationException", 400)


async def test_rsa_oaep_is_real_oaep(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        key_id = (await kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT"))[
            "KeyMetadata"
        ]["KeyId"]
        public = serialization.load_der_public_key(
            (await kms.get_public_key(KeyId=key_id))["PublicKey"]
        )
        assert isinstance(public, rsa.RSAPublicKey)
        for algorithm, digest, limit in [
            ("RSAES_OAEP_SHA_1", hashes.SHA1(), 214),
            ("RSAES_OAEP_SHA_256", hashes.SHA256(), 190),
        ]:
            oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
            offline = public.encrypt(PLAINTEXT, oaep)  # made outside KMS, as KMS allows
            dec = await kms.decrypt(
                CiphertextBlob=offline, KeyId=key_id, EncryptionAlgorithm=algorithm
            )
            assert (dec["Plaintext"], dec["EncryptionAlgorithm"]) == (PLAINTEXT, algorithm)
            enc = await kms.encrypt(
                KeyId=key_id, Plaintext=b"x" * limit, EncryptionAlgorithm=algorithm
            )
            assert len(enc["CiphertextBlob"]) == 256
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.encrypt(
                    KeyId=key_id, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=algorithm
                )
            assert error_of(caught.value) == ("ValidationException", 400)
        for kwargs in (
            {"EncryptionAlgorithm": "RSAES_OAEP_SHA_256", "EncryptionContext": CONTEXT},
            {},  # SYMMETRIC_DEFAULT does not fit an RSA key
        ):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.encrypt(KeyId=key_id, Plaintext=b"x", **kwargs)
            assert error_of(caught.value)[0] in ("ValidationException", "InvalidKeyUsageException")
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.decrypt(
                CiphertextBlob=b"\x00" * 256, KeyId=key_id, EncryptionAlgorithm="RSAES_OAEP_SHA_1"
            )
        assert error_of(caught.value) == ("InvalidCiphertextException", 400)
        symmetric = (await kms.create_key())["KeyMetadata"]
        offline = public.encrypt(
            PLAINTEXT,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        moved = await kms.re_encrypt(
            CiphertextBlob=offline,
            SourceKeyId=key_id,
            SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
            DestinationKeyId=symmetric["KeyId"],
        )
        assert moved["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
        assert moved["DestinationKeyMaterialId"] == symmetric["CurrentKeyMaterialId"]
        assert "SourceKeyMaterialId" not in moved
        back = await kms.re_encrypt(
            CiphertextBlob=moved["CiphertextBlob"],
            DestinationKeyId=key_id,
            DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1",
        )
        dec = await kms.decrypt(
            CiphertextBlob=back["CiphertextBlob"],
            KeyId=key_id,
            EncryptionAlgorithm="RSAES_OAEP_SHA_1",
        )
        assert dec["Plaintext"] == PLAINTEXT


_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


async def test_signatures_verify_offline(local: LocalKMS) -> None:
    message = b"message to sign \x00\xff"
    async with client_of(local) as kms:
        specs = [
            ("RSA_2048", KEY_SPECS[6][3]),
            ("ECC_NIST_P256", ["ECDSA_SHA_256"]),
            ("ECC_NIST_P384", ["ECDSA_SHA_384"]),
            ("ECC_NIST_P521", ["ECDSA_SHA_512"]),
            ("ECC_SECG_P256K1", ["ECDSA_SHA_256"]),
        ]
        for spec, algorithms in specs:
            key_id = (await kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY"))["KeyMetadata"][
                "KeyId"
            ]
            public = serialization.load_der_public_key(
                (await kms.get_public_key(KeyId=key_id))["PublicKey"]
            )
            for algorithm in algorithms:
                digest = _HASHES[algorithm[-3:]]
                hasher = hashes.Hash(type(digest)())
                hasher.update(message)
                for message_type, payload in [("RAW", message), ("DIGEST", hasher.finalize())]:
                    signature = (
                        await kms.sign(
                            KeyId=key_id,
                            Message=payload,
                            MessageType=message_type,
                            SigningAlgorithm=algorithm,
                        )
                    )["Signature"]
                    if isinstance(public, rsa.RSAPublicKey):
                        pad: padding.AsymmetricPadding = (
                            padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
                            if "PSS" in algorithm
                            else padding.PKCS1v15()
                        )
                        public.verify(signature, message, pad, digest)
                    else:
                        assert isinstance(public, ec.EllipticCurvePublicKey)
                        public.verify(signature, message, ec.ECDSA(digest))
                    valid = await kms.verify(
                        KeyId=key_id,
                        Message=payload,
                        MessageType=message_type,
                        Signature=signature,
                        SigningAlgorithm=algorithm,
                    )
                    assert valid["SignatureValid"] is True
                    with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
                        await kms.verify(
                            KeyId=key_id,
                            Message=payload[:-1] + bytes([payload[-1] ^ 1]),
                            MessageType=message_type,
                            Signature=signature,
                            SigningAlgorithm=algorithm,
                        )
                with pytest.raises(botocore.exceptions.ClientError) as caught:
                    await kms.sign(
                        KeyId=key_id,
                        Message=b"short",
                        MessageType="DIGEST",
                        SigningAlgorithm=algorithm,
                    )
                assert caught.value.response["Error"] == {
                    "Code": "ValidationException",
                    "Message": f"Digest is invalid length for algorithm {algorithm}.",
                }


async def test_macs(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        for spec, size in [("HMAC_224", 28), ("HMAC_256", 32), ("HMAC_384", 48), ("HMAC_512", 64)]:
            key_id = (await kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC"))[
                "KeyMetadata"
            ]["KeyId"]
            algorithm = "HMAC_SHA_" + spec[5:]
            mac = (await kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm=algorithm))[
                "Mac"
            ]
            assert len(mac) == size
            again = await kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm=algorithm)
            assert again["Mac"] == mac  # deterministic, as HMAC is
            result = await kms.verify_mac(
                KeyId=key_id, Message=b"m", Mac=mac, MacAlgorithm=algorithm
            )
            assert result["MacValid"] is True
            with pytest.raises(kms.exceptions.KMSInvalidMacException):
                await kms.verify_mac(KeyId=key_id, Message=b"n", Mac=mac, MacAlgorithm=algorithm)
            wrong = "HMAC_SHA_256" if spec != "HMAC_256" else "HMAC_SHA_512"
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm=wrong)
            assert caught.value.response["Error"]["Message"] == (
                f"Algorithm {wrong} is incompatible with key spec {spec}."
            )
    # the MAC is HMAC: the same key material outside KMS gives the same bytes
    store = key_store()
    backend = Backend(store)
    key_id = invoke(backend, "CreateKey", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")[
        "KeyMetadata"
    ]["KeyId"]
    secret = store.keys[key_id].hmac_secret
    assert secret is not None
    reply = invoke(backend, "GenerateMac", KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    expected = hmac.HMAC(secret, hashes.SHA256())
    expected.update(b"m")
    assert base64.b64decode(reply["Mac"]) == expected.finalize()


@pytest.mark.parametrize(
    "spec",
    [
        "RSA_2048",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
    ],
)
async def test_generate_data_key_pair(local: LocalKMS, spec: str) -> None:
    async with client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        pair = await kms.generate_data_key_pair(
            KeyId=key_id, KeyPairSpec=spec, EncryptionContext=CONTEXT
        )
        assert pair["KeyPairSpec"] == spec and ":key/" in pair["KeyId"]
        private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert public == pair["PublicKey"]
        dec = await kms.decrypt(
            CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=CONTEXT
        )
        assert dec["Plaintext"] == pair["PrivateKeyPlaintext"]
        bare = await kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=spec)
        assert "PrivateKeyPlaintext" not in bare
        dec = await kms.decrypt(CiphertextBlob=bare["PrivateKeyCiphertextBlob"])
        serialization.load_der_private_key(dec["Plaintext"], password=None)


async def test_generate_data_key_pair_errors(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        signing = (await kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"))[
            "KeyMetadata"
        ]["KeyId"]
        cases = [
            ({"KeyId": key_id, "KeyPairSpec": "SM2"}, "UnsupportedOperationException"),
            ({"KeyId": signing, "KeyPairSpec": "RSA_2048"}, "InvalidKeyUsageException"),
            ({"KeyId": key_id, "KeyPairSpec": "RSA_1024"}, "ValidationException"),
            # DataKeyPairSpec has no ML-DSA spec (GenerateDataKeyPair reference)
            ({"KeyId": key_id, "KeyPairSpec": "ML_DSA_44"}, "ValidationException"),
        ]
        for kwargs, code in cases:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.generate_data_key_pair(**kwargs)
            assert error_of(caught.value) == (code, 400)


async def test_key_agreement(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        key_id = (await kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT"))[
            "KeyMetadata"
        ]["KeyId"]
        theirs = serialization.load_der_public_key(
            (await kms.get_public_key(KeyId=key_id))["PublicKey"]
        )
        assert isinstance(theirs, ec.EllipticCurvePublicKey)
        mine = ec.generate_private_key(ec.SECP384R1())
        peer = mine.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        shared = await kms.derive_shared_secret(
            KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer
        )
        assert shared["SharedSecret"] == mine.exchange(ec.ECDH(), theirs)


# --- Ed25519, ML-DSA and SM2 keys -------------------------------------------------------------
# CreateKey reference, KeySpec and KeyUsage: ECC_NIST_EDWARDS25519 and ML_DSA_44/65/87 are for
# SIGN_VERIFY only; SM2 is in the China Regions only. Sign reference, MessageType:
# ED25519_SHA_512 takes RAW, ED25519_PH_SHA_512 takes DIGEST, EXTERNAL_MU is the 64-byte ML-DSA
# message representative mu (FIPS 204, section 6.2), "the signatures produced by the externally
# computed mu are the same as the RAW ones" (Developer Guide, "ML-DSA keys in AWS KMS").

ML_DSA_SPECS = ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"]


def _sign_verify_key(backend: Backend, spec: str) -> str:
    meta = invoke(backend, "CreateKey", KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    return str(meta["KeyId"])


async def test_ed25519_keys_sign_raw_messages_verified_offline(local: LocalKMS) -> None:
    message = b"message to sign \x00\xff"
    async with client_of(local) as kms:
        meta = (await kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY"))[
            "KeyMetadata"
        ]
        assert meta["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
        public = await kms.get_public_key(KeyId=meta["KeyId"])
        assert public["KeySpec"] == "ECC_NIST_EDWARDS25519"
        assert public["KeyUsage"] == "SIGN_VERIFY"
        assert public["SigningAlgorithms"] == meta["SigningAlgorithms"]
        key = serialization.load_der_public_key(public["PublicKey"])  # SubjectPublicKeyInfo
        assert isinstance(key, ed25519.Ed25519PublicKey) and len(public["PublicKey"]) == 44
        for message_type in ({"MessageType": "RAW"}, {}):  # RAW is the default
            signature = (
                await kms.sign(
                    KeyId=meta["KeyId"],
                    Message=message,
                    SigningAlgorithm="ED25519_SHA_512",
                    **message_type,
                )
            )["Signature"]
            key.verify(signature, message)  # pure Ed25519 (RFC 8032) over the message
            valid = await kms.verify(
                KeyId=meta["KeyId"],
                Message=message,
                Signature=signature,
                SigningAlgorithm="ED25519_SHA_512",
                **message_type,
            )
            assert valid["SignatureValid"] is True
        with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
            await kms.verify(
                KeyId=meta["KeyId"],
                Message=message + b"!",
                Signature=signature,
                SigningAlgorithm="ED25519_SHA_512",
            )
        for usage in ("ENCRYPT_DECRYPT", "KEY_AGREEMENT", "GENERATE_VERIFY_MAC"):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage=usage)
            assert error_of(caught.value) == ("ValidationException", 400)


def test_ed25519_message_types() -> None:
    backend = Backend(key_store())
    key_id = _sign_verify_key(backend, "ECC_NIST_EDWARDS25519")
    digest = hashlib.sha512(b"message").digest()
    for operation in ("Sign", "Verify"):
        extra = {"Signature": b"\x00" * 64} if operation == "Verify" else {}
        cases = [
            ("ED25519_SHA_512", "DIGEST", digest),
            ("ED25519_SHA_512", "EXTERNAL_MU", digest),
            ("ED25519_PH_SHA_512", "RAW", b"message"),
            ("ED25519_PH_SHA_512", "EXTERNAL_MU", digest),
        ]
        for algorithm, message_type, message in cases:
            assert fails(
                backend,
                operation,
                KeyId=key_id,
                Message=message,
                MessageType=message_type,
                SigningAlgorithm=algorithm,
                **extra,
            ) == (
                "ValidationException",
                f"Message type {message_type} is incompatible with algorithm {algorithm}.",
            )
        assert fails(
            backend,
            operation,
            KeyId=key_id,
            Message=digest[:32],
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_PH_SHA_512",
            **extra,
        ) == ("ValidationException", "Digest is invalid length for algorithm ED25519_PH_SHA_512.")
        code, message = fails(
            backend,
            operation,
            KeyId=key_id,
            Message=digest,
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_PH_SHA_512",
            **extra,
        )
        assert code == "UnsupportedOperationException"
        assert "LocalKMS does not support the ED25519_PH_SHA_512 signing algorithm" in message
        assert fails(
            backend,
            operation,
            KeyId=key_id,
            Message=b"m",
            SigningAlgorithm="ECDSA_SHA_512",
            **extra,
        ) == (
            "InvalidKeyUsageException",
            "Algorithm ECDSA_SHA_512 is incompatible with key spec ECC_NIST_EDWARDS25519.",
        )


@pytest.mark.parametrize("spec", ML_DSA_SPECS)
async def test_ml_dsa_keys_sign_raw_and_external_mu(local: LocalKMS, spec: str) -> None:
    message = b"message to sign \x00\xff"
    async with client_of(local) as kms:
        meta = (await kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY"))["KeyMetadata"]
        assert meta["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
        public = await kms.get_public_key(KeyId=meta["KeyId"])
        assert (public["KeySpec"], public["SigningAlgorithms"]) == (spec, ["ML_DSA_SHAKE_256"])
        key = serialization.load_der_public_key(public["PublicKey"])  # SubjectPublicKeyInfo
        assert isinstance(key, getattr(mldsa, f"MLDSA{spec[-2:]}PublicKey"))
        # SubjectPublicKeyInfo (RFC 9881): a 22-byte header and the FIPS 204 public key
        assert len(public["PublicKey"]) == 22 + {"44": 1312, "65": 1952, "87": 2592}[spec[-2:]]
        hasher = mldsa.MLDSAMuHasher(key)
        hasher.update(message)
        mu = hasher.finalize()
        signatures = []
        for message_type, payload in (("RAW", message), ("EXTERNAL_MU", mu)):
            signature = (
                await kms.sign(
                    KeyId=meta["KeyId"],
                    Message=payload,
                    MessageType=message_type,
                    SigningAlgorithm="ML_DSA_SHAKE_256",
                )
            )["Signature"]
            key.verify(signature, message)
            signatures.append(signature)
        for signature in signatures:  # each verifies with either message type
            for message_type, payload in (("RAW", message), ("EXTERNAL_MU", mu)):
                valid = await kms.verify(
                    KeyId=meta["KeyId"],
                    Message=payload,
                    MessageType=message_type,
                    Signature=signature,
                    SigningAlgorithm="ML_DSA_SHAKE_256",
                )
                assert valid["SignatureValid"] is True
        with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
            await kms.verify(
                KeyId=meta["KeyId"],
                Message=message,
                Signature=b"\x01",
                SigningAlgorithm="ML_DSA_SHAKE_256",
            )
        with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
            await kms.verify(
                KeyId=meta["KeyId"],
                Message=bytes([mu[0] ^ 1]) + mu[1:],
                MessageType="EXTERNAL_MU",
                Signature=signatures[0],
                SigningAlgorithm="ML_DSA_SHAKE_256",
            )
        for usage in ("ENCRYPT_DECRYPT", "KEY_AGREEMENT"):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.create_key(KeySpec=spec, KeyUsage=usage)
            assert error_of(caught.value) == ("ValidationException", 400)


def test_ml_dsa_message_types() -> None:
    backend = Backend(key_store())
    key_id = _sign_verify_key(backend, "ML_DSA_44")
    for operation in ("Sign", "Verify"):
        extra = {"Signature": b"\x00" * 2420} if operation == "Verify" else {}
        sign = {"KeyId": key_id, "SigningAlgorithm": "ML_DSA_SHAKE_256", **extra}
        assert fails(backend, operation, Message=b"\x00" * 32, MessageType="DIGEST", **sign) == (
            "ValidationException",
            "Message type DIGEST is incompatible with key spec ML_DSA_44.",
        )
        for size in (32, 63, 65):
            assert fails(
                backend, operation, Message=b"\x00" * size, MessageType="EXTERNAL_MU", **sign
            ) == ("ValidationException", "Message must be 64 bytes with message type EXTERNAL_MU.")
        assert fails(
            backend,
            operation,
            KeyId=key_id,
            Message=b"m",
            SigningAlgorithm="ED25519_SHA_512",
            **extra,
        ) == (
            "InvalidKeyUsageException",
            "Algorithm ED25519_SHA_512 is incompatible with key spec ML_DSA_44.",
        )


def test_ml_dsa_keys_need_a_cryptography_with_ml_dsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_crypto, "ml_dsa_module", lambda: None)
    backend = Backend(key_store())
    code, message = fails(backend, "CreateKey", KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")
    assert code == "UnsupportedOperationException"
    assert message.startswith("LocalKMS cannot make ML_DSA_65 keys here: ML-DSA needs ")
    assert "cryptography 50 or later" in message
    assert f"cryptography {cryptography.__version__} is installed" in message
    assert not backend.store.keys  # nothing made


def test_sm2_keys_outside_and_inside_the_china_regions() -> None:
    from aiokms.emulator._keys import KeyStore

    for usage in ("SIGN_VERIFY", "ENCRYPT_DECRYPT", "KEY_AGREEMENT"):
        assert fails(Backend(key_store()), "CreateKey", KeySpec="SM2", KeyUsage=usage) == (
            "UnsupportedOperationException",
            "KeySpec SM2 is not supported in this Region.",
        )
        for region in ("cn-north-1", "cn-northwest-1"):
            china = Backend(KeyStore(region=region, account_id="111122223333"))
            assert fails(china, "CreateKey", KeySpec="SM2", KeyUsage=usage) == (
                "UnsupportedOperationException",
                "LocalKMS does not support SM2 keys.",
            )


def test_ed25519_and_ml_dsa_key_material_is_not_imported() -> None:
    # Developer Guide, "Requirements for imported key material": "Importing ML-DSA keys is not
    # supported"; Ed25519 is not among the key specs it lists.
    backend = Backend(key_store())
    for spec in ("ECC_NIST_EDWARDS25519", *ML_DSA_SPECS):
        code, _ = fails(
            backend, "CreateKey", KeySpec=spec, KeyUsage="SIGN_VERIFY", Origin="EXTERNAL"
        )
        assert code == "UnsupportedOperationException"


def _sign_and_verify_sync(local: LocalKMS, spec: str, message: bytes) -> tuple[bytes, bytes]:
    """boto3's client: GetPublicKey, Sign and Verify with a new ``spec`` key."""
    import boto3

    creds = local.credentials
    kms = boto3.client(
        "kms",
        region_name=local.region,
        endpoint_url=local.endpoint_url,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    algorithm = kms.describe_key(KeyId=key_id)["KeyMetadata"]["SigningAlgorithms"][0]
    sign = {"KeyId": key_id, "Message": message, "SigningAlgorithm": algorithm}
    signature: bytes = kms.sign(**sign)["Signature"]
    assert kms.verify(Signature=signature, **sign)["SignatureValid"] is True
    return kms.get_public_key(KeyId=key_id)["PublicKey"], signature


@pytest.mark.parametrize("client", ["aiokms", "aiobotocore", "boto3"])
@pytest.mark.parametrize("spec", ["ECC_NIST_EDWARDS25519", "ML_DSA_65"])
async def test_clients_sign_with_ed25519_and_ml_dsa_keys(
    local: LocalKMS, client: str, spec: str
) -> None:
    """End to end: each client signs and verifies with LocalKMS, and the signature verifies with
    ``cryptography`` under the public key GetPublicKey returned."""
    message = b"signed end to end"
    if client == "boto3":
        public_der, signature = await asyncio.to_thread(_sign_and_verify_sync, local, spec, message)
    else:
        opened = aiokms_client(local) if client == "aiokms" else client_of(local)
        async with opened as kms:
            meta = (await kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY"))["KeyMetadata"]
            sign = {
                "KeyId": meta["Arn"],
                "Message": message,
                "SigningAlgorithm": meta["SigningAlgorithms"][0],
            }
            signature = (await kms.sign(**sign))["Signature"]
            assert (await kms.verify(Signature=signature, **sign))["SignatureValid"] is True
            public_der = (await kms.get_public_key(KeyId=meta["KeyId"]))["PublicKey"]
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, (ed25519.Ed25519PublicKey, mldsa.MLDSA65PublicKey))
    public.verify(signature, message)
