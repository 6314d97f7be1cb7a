"""The key store (``aiokms.emulator._keys``) on an injected clock: rotation, deletion after the
waiting period, key identifiers, AWS managed keys, imported key material."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from aiokms.emulator._errors import KMSError
from aiokms.emulator._keys import AWS_SERVICES
from aiokms.emulator._operations import Backend
from tests.emulator.helpers import (
    DAY,
    MISSING_KEY_ID,
    REGION,
    FakeClock,
    fails,
    invoke,
    key_store,
    wrap_key_material,
)


def test_rotation() -> None:
    clock = FakeClock(1.7e9)
    backend = Backend(key_store(clock))
    key = invoke(backend, "CreateKey")["KeyMetadata"]
    key_id, first = key["KeyId"], key["CurrentKeyMaterialId"]
    old = invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    invoke(backend, "RotateKeyOnDemand", KeyId=key_id)
    second = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert second != first
    assert (
        invoke(backend, "GenerateDataKey", KeyId=key_id, NumberOfBytes=8)["KeyMaterialId"] == second
    )
    dec = invoke(backend, "Decrypt", CiphertextBlob=base64.b64decode(old))
    assert (base64.b64decode(dec["Plaintext"]), dec["KeyMaterialId"]) == (b"old", first)

    invoke(backend, "EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    status = invoke(backend, "GetKeyRotationStatus", KeyId=key_id)
    assert status["RotationPeriodInDays"] == 90
    assert status["NextRotationDate"] == pytest.approx(clock.now + 90 * DAY)
    clock.now += 91 * DAY  # automatic rotation happens when the key is next used
    third = invoke(backend, "GenerateDataKey", KeyId=key_id, NumberOfBytes=8)["KeyMaterialId"]
    assert third not in (first, second)
    rotations = invoke(backend, "ListKeyRotations", KeyId=key_id)["Rotations"]
    assert [(r["RotationType"], r["KeyMaterialState"]) for r in rotations] == [
        ("ON_DEMAND", "NON_CURRENT"),
        ("AUTOMATIC", "CURRENT"),
    ]
    everything = invoke(
        backend, "ListKeyRotations", KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"
    )
    assert [r["KeyMaterialId"] for r in everything["Rotations"]] == [first, second, third]
    assert "RotationDate" not in everything["Rotations"][0]
    page = invoke(backend, "ListKeyRotations", KeyId=key_id, Limit=1)
    assert page["Truncated"] and len(page["Rotations"]) == 1
    rest = invoke(backend, "ListKeyRotations", KeyId=key_id, Marker=page["NextMarker"])
    assert not rest["Truncated"] and len(rest["Rotations"]) == 1

    mac_key = invoke(backend, "CreateKey", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    mac_id = mac_key["KeyMetadata"]["KeyId"]
    for operation in ("RotateKeyOnDemand", "EnableKeyRotation", "ListKeyRotations"):
        assert fails(backend, operation, KeyId=mac_id)[0] == "UnsupportedOperationException"
    assert invoke(backend, "GetKeyRotationStatus", KeyId=mac_id)["KeyRotationEnabled"] is False
    for _ in range(24):  # 25 on-demand rotations per key, one done above
        invoke(backend, "RotateKeyOnDemand", KeyId=key_id)
    assert fails(backend, "RotateKeyOnDemand", KeyId=key_id)[0] == "LimitExceededException"


def test_deletion_after_the_waiting_period() -> None:
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    backend = Backend(store)
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    invoke(backend, "CreateAlias", AliasName="alias/doomed", TargetKeyId=key_id)
    blob = base64.b64decode(
        invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    )
    assert fails(backend, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=6)[0] == (
        "ValidationException"
    )
    scheduled = invoke(backend, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["DeletionDate"] == pytest.approx(clock.now + 7 * DAY)
    assert fails(backend, "Decrypt", CiphertextBlob=blob)[0] == "KMSInvalidStateException"
    assert fails(backend, "EnableKey", KeyId=key_id)[0] == "KMSInvalidStateException"
    clock.now += 7 * DAY + 1
    assert invoke(backend, "ListKeys")["Keys"] == [] and not store.aliases
    assert fails(backend, "DescribeKey", KeyId=key_id)[0] == "NotFoundException"
    assert fails(backend, "DescribeKey", KeyId="alias/doomed")[0] == "NotFoundException"
    assert fails(backend, "Decrypt", CiphertextBlob=blob)[0] == "InvalidCiphertextException"


def test_key_identifiers() -> None:
    backend = Backend(key_store())
    meta = invoke(backend, "CreateKey")["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    invoke(backend, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    alias_arn = arn.rsplit(":", 1)[0] + ":alias/app"
    for ident in (key_id, arn, "alias/app", alias_arn):
        assert invoke(backend, "DescribeKey", KeyId=ident)["KeyMetadata"]["KeyId"] == key_id
    assert fails(backend, "DescribeKey", KeyId="nope") == (
        "NotFoundException",
        "Invalid keyId 'nope'",
    )
    assert fails(backend, "DescribeKey", KeyId=MISSING_KEY_ID) == (
        "NotFoundException",
        f"Key '{arn.rsplit('/', 1)[0]}/{MISSING_KEY_ID}' does not exist",
    )
    assert fails(backend, "DescribeKey", KeyId="alias/none") == (
        "NotFoundException",
        f"Alias {alias_arn.replace('app', 'none')} is not found.",
    )
    other_region = arn.replace(REGION, "eu-west-1")
    assert fails(backend, "DescribeKey", KeyId=other_region)[0] == "NotFoundException"
    mrk = invoke(backend, "CreateKey", MultiRegion=True)["KeyMetadata"]
    assert mrk["KeyId"].startswith("mrk-") and len(mrk["KeyId"]) == 36
    assert mrk["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    blob = invoke(backend, "Encrypt", KeyId=mrk["KeyId"], Plaintext=b"m")["CiphertextBlob"]
    assert invoke(backend, "Decrypt", CiphertextBlob=base64.b64decode(blob))["KeyId"] == mrk["Arn"]


def test_aws_managed_keys() -> None:
    """ListAliases reference: predefined aliases are listed with no TargetKeyId; DescribeKey
    reference: on a predefined AWS alias "KMS creates an AWS managed key. Then, it associates
    the alias with the new KMS key". Aliases beginning with alias/aws/ are AWS's."""
    store = key_store()
    backend = Backend(store)
    listed = invoke(backend, "ListAliases")["Aliases"]
    assert [a["AliasName"] for a in listed] == sorted(f"alias/aws/{s}" for s in AWS_SERVICES)
    assert all(set(a) == {"AliasName", "AliasArn"} for a in listed)
    assert len(store) == 0
    meta = invoke(backend, "DescribeKey", KeyId="alias/aws/s3")["KeyMetadata"]
    assert (meta["KeyManager"], meta["KeyState"], meta["KeySpec"]) == (
        "AWS",
        "Enabled",
        "SYMMETRIC_DEFAULT",
    )
    again = invoke(backend, "DescribeKey", KeyId="arn:aws:kms:us-east-1:111122223333:alias/aws/s3")
    assert again["KeyMetadata"]["KeyId"] == meta["KeyId"]
    s3 = [a for a in invoke(backend, "ListAliases")["Aliases"] if a["AliasName"] == "alias/aws/s3"]
    assert s3[0]["TargetKeyId"] == meta["KeyId"]
    assert invoke(backend, "GetKeyRotationStatus", KeyId=meta["KeyId"])["KeyRotationEnabled"]
    policy = invoke(backend, "GetKeyPolicy", KeyId=meta["KeyId"])["Policy"]
    assert '"kms:ViaService": "s3.us-east-1.amazonaws.com"' in policy
    assert fails(backend, "DescribeKey", KeyId="alias/aws/no-such-service")[0] == (
        "NotFoundException"
    )
    for operation, params in [
        ("CreateAlias", {"AliasName": "alias/aws/mine", "TargetKeyId": meta["KeyId"]}),
        ("UpdateAlias", {"AliasName": "alias/aws/s3", "TargetKeyId": meta["KeyId"]}),
        ("DeleteAlias", {"AliasName": "alias/aws/s3"}),
    ]:
        assert fails(backend, operation, **params)[0] == "NotAuthorizedException", operation
    assert store.customer_keys == 0  # not counted against the customer managed key quota
    restored = key_store()
    restored.restore(store.snapshot())
    assert Backend(restored).store.keys[meta["KeyId"]].manager == "AWS"


def test_snapshot_keeps_grants_and_last_use() -> None:
    store = key_store()
    backend = Backend(store)
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")
    grant = invoke(
        backend,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal="arn:aws:iam::111122223333:user/bob",
        Operations=["Decrypt"],
    )
    restored = key_store()
    restored.restore(store.snapshot())
    again = Backend(restored)
    assert invoke(again, "GetKeyLastUsage", KeyId=key_id) == invoke(
        backend, "GetKeyLastUsage", KeyId=key_id
    )
    assert invoke(again, "ListGrants", KeyId=key_id) == invoke(backend, "ListGrants", KeyId=key_id)
    invoke(again, "RetireGrant", GrantToken=grant["GrantToken"])


# --- imported key material ---------------------------------------------------------------------


def _parameters(backend: Backend, key_id: str, algorithm: str) -> dict[str, Any]:
    """GetParametersForImport with an RSA_2048 wrapping key."""
    return invoke(
        backend,
        "GetParametersForImport",
        KeyId=key_id,
        WrappingAlgorithm=algorithm,
        WrappingKeySpec="RSA_2048",
    )


def _import(
    backend: Backend, key_id: str, material: bytes, algorithm: str, **extra: Any
) -> dict[str, Any]:
    parameters = _parameters(backend, key_id, algorithm)
    return invoke(
        backend,
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=base64.b64decode(parameters["ImportToken"]),
        EncryptedKeyMaterial=wrap_key_material(parameters["PublicKey"], algorithm, material),
        **extra,
    )


def test_imported_key_material() -> None:
    """CreateKey with Origin EXTERNAL, GetParametersForImport, ImportKeyMaterial and
    DeleteImportedKeyMaterial (their API reference pages), with the key state table's answers
    for a key pending import (Developer Guide, "Key states of AWS KMS keys")."""
    clock = FakeClock(1.7e9)
    backend = Backend(key_store(clock))
    meta = invoke(backend, "CreateKey", Origin="EXTERNAL")["KeyMetadata"]
    key_id = meta["KeyId"]
    assert (meta["Origin"], meta["KeyState"], meta["Enabled"]) == (
        "EXTERNAL",
        "PendingImport",
        False,
    )
    assert fails(backend, "Encrypt", KeyId=key_id, Plaintext=b"x") == (
        "KMSInvalidStateException",
        f"{meta['Arn']} is pending import.",
    )
    assert fails(backend, "EnableKey", KeyId=key_id)[0] == "KMSInvalidStateException"
    assert fails(backend, "EnableKeyRotation", KeyId=key_id) == (
        "UnsupportedOperationException",
        f"{meta['Arn']} origin is EXTERNAL which is not valid for this operation.",
    )
    invoke(backend, "UpdateKeyDescription", KeyId=key_id, Description="imported")
    material = bytes(range(100, 132))
    done = _import(backend, key_id, material, "RSAES_OAEP_SHA_256")
    assert done["KeyId"] == meta["Arn"] and len(done["KeyMaterialId"]) == 64
    described = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (described["KeyState"], described["ExpirationModel"]) == (
        "Enabled",
        "KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    blob = base64.b64decode(
        invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    )
    # the same material again, wrapped the other way, expiring in a day
    again = _import(backend, key_id, material, "RSA_AES_KEY_WRAP_SHA_256", ValidTo=clock.now + DAY)
    assert again["KeyMaterialId"] == done["KeyMaterialId"]
    assert invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["ValidTo"] == (
        clock.now + DAY
    )
    code, _ = fails(
        backend,
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=b"t" * 64,
        EncryptedKeyMaterial=b"m" * 256,
    )
    assert code == "InvalidImportTokenException"
    with pytest.raises(KMSError) as caught:
        _import(backend, key_id, bytes(32), "RSAES_OAEP_SHA_1")
    assert caught.value.code == "IncorrectKeyMaterialException"
    clock.now += DAY  # the material expires: the key is pending import again
    assert invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "PendingImport"
    )
    assert fails(backend, "Decrypt", CiphertextBlob=blob)[0] == "KMSInvalidStateException"
    _import(backend, key_id, material, "RSAES_OAEP_SHA_1")
    assert invoke(backend, "Decrypt", CiphertextBlob=blob)["Plaintext"] == (
        base64.b64encode(b"x").decode()
    )
    deleted = invoke(backend, "DeleteImportedKeyMaterial", KeyId=key_id)
    assert deleted["KeyMaterialId"] == done["KeyMaterialId"]
    assert invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "PendingImport"
    )
    invoke(backend, "DeleteImportedKeyMaterial", KeyId=key_id)  # no effect when pending import


def test_import_checks_and_hmac() -> None:
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    backend = Backend(store)
    aws_key = invoke(backend, "CreateKey")["KeyMetadata"]
    for operation, extra in [
        (
            "GetParametersForImport",
            {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"},
        ),
        ("DeleteImportedKeyMaterial", {}),
    ]:
        assert fails(backend, operation, KeyId=aws_key["KeyId"], **extra) == (
            "UnsupportedOperationException",
            f"{aws_key['Arn']} origin is AWS_KMS which is not valid for this operation.",
        )
    mac = invoke(
        backend, "CreateKey", Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
    )["KeyMetadata"]["KeyId"]
    secret = bytes(range(40))
    _import(backend, mac, secret, "RSAES_OAEP_SHA_256")
    produced = invoke(backend, "GenerateMac", KeyId=mac, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert base64.b64decode(produced["Mac"]) == hmac.new(secret, b"m", hashlib.sha256).digest()
    symmetric = invoke(backend, "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    parameters = _parameters(backend, symmetric, "RSAES_OAEP_SHA_256")
    token = base64.b64decode(parameters["ImportToken"])
    wrapped = wrap_key_material(parameters["PublicKey"], "RSAES_OAEP_SHA_256", bytes(32))

    def import_fails(material: bytes, **extra: Any) -> str:
        return fails(
            backend,
            "ImportKeyMaterial",
            KeyId=symmetric,
            ImportToken=token,
            EncryptedKeyMaterial=material,
            **extra,
        )[0]

    assert import_fails(wrapped, ExpirationModel="KEY_MATERIAL_EXPIRES") == "ValidationException"
    assert import_fails(wrapped, ValidTo=clock.now - 1) == "ValidationException"
    assert import_fails(b"\0" * 256) == "InvalidCiphertextException"
    clock.now += DAY  # the import parameters are valid for 24 hours
    assert import_fails(wrapped) == "ExpiredImportTokenException"
    restored = key_store(clock)
    restored.restore(store.snapshot())
    assert invoke(Backend(restored), "DescribeKey", KeyId=symmetric)["KeyMetadata"]["KeyState"] == (
        "PendingImport"
    )
    assert (
        invoke(
            Backend(restored), "GenerateMac", KeyId=mac, Message=b"m", MacAlgorithm="HMAC_SHA_256"
        )
        == produced
    )


def test_imported_asymmetric_key_material() -> None:
    """Asymmetric keys with imported key material (GetParametersForImport reference,
    WrappingAlgorithm: an RSA private key only with an RSA_AES wrapping algorithm, an
    ECC_NIST_P521 key not with RSAES_OAEP under an RSA_2048 wrapping key; Developer Guide,
    "Encrypt key material": the private key in PKCS #8 DER): the key signs with the private
    key imported, refuses another one, and is pending import again when it is deleted."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    clock = FakeClock(1.7e9)
    store = key_store(clock)
    backend = Backend(store)
    signer = invoke(
        backend, "CreateKey", Origin="EXTERNAL", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"
    )["KeyMetadata"]
    assert (signer["Origin"], signer["KeyState"]) == ("EXTERNAL", "PendingImport")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for algorithm in ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"):
        code, message = fails(
            backend,
            "GetParametersForImport",
            KeyId=signer["KeyId"],
            WrappingAlgorithm=algorithm,
            WrappingKeySpec="RSA_4096",
        )
        assert code == "ValidationException" and "RSA_AES" in message
    _import(backend, signer["KeyId"], der, "RSA_AES_KEY_WRAP_SHA_256")
    signed = invoke(
        backend,
        "Sign",
        KeyId=signer["KeyId"],
        Message=b"m",
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )
    private.public_key().verify(
        base64.b64decode(signed["Signature"]), b"m", padding.PKCS1v15(), hashes.SHA256()
    )
    public = invoke(backend, "GetPublicKey", KeyId=signer["KeyId"])["PublicKey"]
    assert base64.b64decode(public) == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KMSError) as caught:  # not the key material imported before
        _import(backend, signer["KeyId"], other, "RSA_AES_KEY_WRAP_SHA_1")
    assert caught.value.code == "IncorrectKeyMaterialException"
    restored = key_store(clock)
    restored.restore(store.snapshot())
    assert invoke(Backend(restored), "GetPublicKey", KeyId=signer["KeyId"])["PublicKey"] == public
    invoke(backend, "DeleteImportedKeyMaterial", KeyId=signer["KeyId"])
    assert fails(backend, "GetPublicKey", KeyId=signer["KeyId"])[0] == ("KMSInvalidStateException")
    code, _ = fails(
        backend,
        "Sign",
        KeyId=signer["KeyId"],
        Message=b"m",
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )
    assert code == "KMSInvalidStateException"

    curve = invoke(
        backend, "CreateKey", Origin="EXTERNAL", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"
    )["KeyMetadata"]["KeyId"]
    with pytest.raises(KMSError) as caught:  # an RSA key is not ECC_NIST_P256 key material
        _import(backend, curve, der, "RSA_AES_KEY_WRAP_SHA_256")
    assert caught.value.code == "IncorrectKeyMaterialException"
    with pytest.raises(KMSError) as caught:  # nor is anything but a PKCS #8 private key
        _import(backend, curve, bytes(32), "RSAES_OAEP_SHA_256")
    assert caught.value.code == "IncorrectKeyMaterialException"
    ecc = ec.generate_private_key(ec.SECP256R1())
    _import(
        backend,
        curve,
        ecc.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "RSAES_OAEP_SHA_256",
    )
    signature = invoke(
        backend, "Sign", KeyId=curve, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    ecc.public_key().verify(base64.b64decode(signature), b"m", ec.ECDSA(hashes.SHA256()))
    p521 = invoke(
        backend, "CreateKey", Origin="EXTERNAL", KeySpec="ECC_NIST_P521", KeyUsage="SIGN_VERIFY"
    )["KeyMetadata"]["KeyId"]
    assert fails(
        backend,
        "GetParametersForImport",
        KeyId=p521,
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    )[0] == ("ValidationException")


def test_rsaes_pkcs1_v1_5_wrapping_is_refused() -> None:
    """GetParametersForImport reference, WrappingAlgorithm
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html):
    "RSAES_PKCS1_V1_5 (Deprecated) - As of October 10, 2023, KMS does not support the
    RSAES_PKCS1_V1_5 wrapping algorithm." The model still lists it; the reference gives no
    error code, and LocalKMS answers ValidationException (README) for every key and wrapping
    key spec, handing out no wrapping key. Import parameters of that algorithm in a state file
    written before are void: their import token is not valid."""
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    backend = Backend(store)
    symmetric = invoke(backend, "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    mac = invoke(
        backend, "CreateKey", Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
    )["KeyMetadata"]["KeyId"]
    for key_id in (symmetric, mac):
        for spec in ("RSA_2048", "RSA_3072", "RSA_4096"):
            code, message = fails(
                backend,
                "GetParametersForImport",
                KeyId=key_id,
                WrappingAlgorithm="RSAES_PKCS1_V1_5",
                WrappingKeySpec=spec,
            )
            assert code == "ValidationException"
            assert "RSAES_PKCS1_V1_5" in message and "October 10, 2023" in message
        assert store.keys[key_id].import_params == {}
    parameters = _parameters(backend, symmetric, "RSAES_OAEP_SHA_256")
    snapshot = json.loads(json.dumps(store.snapshot()))
    (record,) = [k for k in snapshot["keys"] if k["KeyId"] == symmetric]
    record["ImportParameters"][0]["WrappingAlgorithm"] = "RSAES_PKCS1_V1_5"
    restored = key_store(clock)
    restored.restore(snapshot)
    assert fails(
        Backend(restored),
        "ImportKeyMaterial",
        KeyId=symmetric,
        ImportToken=base64.b64decode(parameters["ImportToken"]),
        EncryptedKeyMaterial=wrap_key_material(
            parameters["PublicKey"], "RSAES_OAEP_SHA_256", bytes(32)
        ),
    )[0] == ("InvalidImportTokenException")


def test_import_parameters_survive_a_restart() -> None:
    """The wrapping key and import token GetParametersForImport hands out stay valid for 24
    hours (GetParametersForImport reference), a restart of LocalKMS's state file included."""
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    key_id = invoke(Backend(store), "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    parameters = invoke(
        Backend(store),
        "GetParametersForImport",
        KeyId=key_id,
        WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
        WrappingKeySpec="RSA_3072",
    )
    restored = key_store(clock)
    restored.restore(json.loads(json.dumps(store.snapshot())))
    invoke(
        Backend(restored),
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=base64.b64decode(parameters["ImportToken"]),
        EncryptedKeyMaterial=wrap_key_material(
            parameters["PublicKey"], "RSA_AES_KEY_WRAP_SHA_256", bytes(range(32))
        ),
    )
    assert invoke(Backend(restored), "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "Enabled"
    )


def _multi_region_key(clock: FakeClock, **create: Any) -> tuple[Backend, Backend, str]:
    """Backends of two Regions (REGION and us-west-2) and a multi-Region primary key in the
    first (made with the CreateKey parameters ``create``), not yet replicated."""
    from aiokms.emulator._keys import KeyStore

    east = key_store(clock)
    west = KeyStore(region="us-west-2", account_id="111122223333", clock=clock)
    east.peers = west.peers = {REGION: east, "us-west-2": west}
    eastern, western = Backend(east), Backend(west)
    key_id = invoke(eastern, "CreateKey", MultiRegion=True, **create)["KeyMetadata"]["KeyId"]
    return eastern, western, key_id


def test_primary_key_pending_replica_deletion() -> None:
    """A multi-Region primary key scheduled for deletion while it has replicas (API reference,
    ScheduleKeyDeletion; KeyMetadata's PendingDeletionWindowInDays;
    https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-delete.html):
    KMS accepts the schedule but keeps the key ``PendingReplicaDeletion``, with no deletion
    date, unusable for cryptography and not replicable, for as long as a replica exists; when
    the last replica is deleted (not just scheduled) it becomes ``PendingDeletion`` and its
    waiting period begins. CancelKeyDeletion makes it ``Disabled``, as from PendingDeletion."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock)
    blob = invoke(eastern, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")

    scheduled = invoke(eastern, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=9)
    assert scheduled == {
        "KeyId": f"arn:aws:kms:{REGION}:111122223333:key/{key_id}",
        "KeyState": "PendingReplicaDeletion",
        "PendingWindowInDays": 9,
    }
    meta = invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"], meta["PendingDeletionWindowInDays"]) == (
        "PendingReplicaDeletion",
        False,
        9,
    )
    assert "DeletionDate" not in meta
    assert fails(eastern, "Decrypt", CiphertextBlob=blob)[0] == "KMSInvalidStateException"
    assert fails(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")[0] == (
        "KMSInvalidStateException"
    )
    assert fails(eastern, "ScheduleKeyDeletion", KeyId=key_id)[0] == "KMSInvalidStateException"
    assert fails(eastern, "EnableKey", KeyId=key_id)[0] == "KMSInvalidStateException"
    # the replica is still usable in its own Region, and cancelling restores the primary
    assert invoke(western, "Decrypt", CiphertextBlob=blob)["Plaintext"]
    assert invoke(eastern, "CancelKeyDeletion", KeyId=key_id)
    meta = invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "PendingDeletionWindowInDays" not in meta

    invoke(eastern, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=9)
    invoke(western, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.now += 100 * DAY  # scheduled replicas do not start the primary's waiting period
    assert (invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"]) == (
        "PendingDeletion"  # the replica's own waiting period has passed: it is deleted
    )
    assert fails(western, "DescribeKey", KeyId=key_id)[0] == "NotFoundException"
    meta = invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["DeletionDate"] == pytest.approx(clock.now + 9 * DAY)
    assert "PendingDeletionWindowInDays" not in meta
    assert meta["MultiRegionConfiguration"]["ReplicaKeys"] == []
    clock.now += 9 * DAY + 1
    assert fails(eastern, "DescribeKey", KeyId=key_id)[0] == "NotFoundException"


def test_primary_key_deleted_only_after_its_replicas() -> None:
    """The primary's waiting period starts when its last replica is deleted, however long the
    primary has been scheduled (ScheduleKeyDeletion reference: "This status can continue
    indefinitely"); ListKeys in the primary's Region sees the same."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock)
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    invoke(eastern, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.now += 365 * DAY
    assert invoke(eastern, "ListKeys")["Keys"][0]["KeyId"] == key_id
    state = invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"]
    assert state == "PendingReplicaDeletion"
    invoke(western, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.now += 7 * DAY + 1
    assert invoke(eastern, "ListKeys")["Keys"][0]["KeyId"] == key_id  # its 7 days begin now
    clock.now += 7 * DAY
    assert invoke(eastern, "ListKeys")["Keys"] == []


def test_multi_region_keys_with_imported_key_material() -> None:
    """Developer Guide, "Importing key material into multi-Region keys"
    (https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-import.html):
    CreateKey makes a multi-Region key with Origin EXTERNAL; KMS "does not copy or synchronize
    the key material from a primary key with imported key material to its replica keys. You
    must import the same key material into related primary and replica keys" (another one is
    IncorrectKeyMaterialException, ImportKeyMaterial reference); expiration is set for each key
    independently and "the key states of related multi-Region keys are independent of each
    other". A ciphertext of one Region decrypts in the other once both have the material."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock, Origin="EXTERNAL")
    meta = invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert key_id.startswith("mrk-")
    assert (meta["Origin"], meta["KeyState"], meta["MultiRegion"]) == (
        "EXTERNAL",
        "PendingImport",
        True,
    )
    material = bytes(range(50, 82))
    imported = _import(eastern, key_id, material, "RSAES_OAEP_SHA_256")
    blob = invoke(eastern, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]

    replica = invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    assert replica["ReplicaKeyMetadata"]["KeyState"] == "Creating"  # then PendingImport
    replica_meta = invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (replica_meta["Origin"], replica_meta["KeyState"], replica_meta["Enabled"]) == (
        "EXTERNAL",
        "PendingImport",
        False,
    )
    # the primary's key material, to import (ListKeyRotations: ImportState PENDING_IMPORT)
    assert replica_meta["CurrentKeyMaterialId"] == imported["KeyMaterialId"]
    assert fails(western, "Decrypt", CiphertextBlob=blob) == (
        "KMSInvalidStateException",
        f"{replica_meta['Arn']} is pending import.",
    )
    with pytest.raises(KMSError) as caught:  # not the primary's key material
        _import(western, key_id, bytes(32), "RSAES_OAEP_SHA_256")
    assert caught.value.code == "IncorrectKeyMaterialException"
    again = _import(western, key_id, material, "RSA_AES_KEY_WRAP_SHA_256", ValidTo=clock.now + DAY)
    assert again["KeyMaterialId"] == imported["KeyMaterialId"]
    assert invoke(western, "Decrypt", CiphertextBlob=blob)["Plaintext"] == (
        base64.b64encode(b"x").decode()
    )
    back = invoke(western, "Encrypt", KeyId=key_id, Plaintext=b"y")["CiphertextBlob"]
    assert invoke(eastern, "Decrypt", CiphertextBlob=back)["Plaintext"] == (
        base64.b64encode(b"y").decode()
    )
    assert "ValidTo" not in invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]

    clock.now += DAY  # the replica's material expires; the primary's does not
    assert invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "PendingImport"
    )
    assert invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    _import(western, key_id, material, "RSAES_OAEP_SHA_1")
    invoke(eastern, "DeleteImportedKeyMaterial", KeyId=key_id)  # the replica keeps its own
    assert invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "PendingImport"
    )
    assert invoke(western, "Decrypt", CiphertextBlob=blob)["Plaintext"]

    # a restart keeps each key's own material: the primary stays pending import
    peers = eastern.store.peers
    snapshots = {region: json.loads(json.dumps(s.snapshot())) for region, s in peers.items()}
    from aiokms.emulator._keys import KeyStore

    restored = {r: KeyStore(region=r, account_id="111122223333", clock=clock) for r in snapshots}
    for region, store in restored.items():
        store.peers = restored
        store.restore(snapshots[region])
    for store in restored.values():
        store.link_replicas()
    assert invoke(Backend(restored["us-west-2"]), "Decrypt", CiphertextBlob=blob)["Plaintext"]
    assert fails(Backend(restored[REGION]), "Decrypt", CiphertextBlob=blob)[0] == (
        "KMSInvalidStateException"
    )


def test_multi_region_replica_imported_first() -> None:
    """The material first imported into a replica binds its primary too (Developer Guide,
    "Importing key material into multi-Region keys": related keys hold the same key material):
    the primary, replicated while pending import, then refuses other material."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock, Origin="EXTERNAL")
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    _import(western, key_id, bytes(range(32)), "RSAES_OAEP_SHA_256")
    with pytest.raises(KMSError) as caught:
        _import(eastern, key_id, bytes(32), "RSAES_OAEP_SHA_256")
    assert caught.value.code == "IncorrectKeyMaterialException"
    _import(eastern, key_id, bytes(range(32)), "RSAES_OAEP_SHA_256")
    assert invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


# --- on-demand rotation of symmetric keys with imported key material ---------------------------


def _rotations(backend: Backend, key_id: str, include: str = "ALL_KEY_MATERIAL") -> list[Any]:
    return list(
        invoke(backend, "ListKeyRotations", KeyId=key_id, IncludeKeyMaterial=include)["Rotations"]
    )


def test_new_key_material_rotates_on_demand() -> None:
    """ImportKeyMaterial reference, ImportType (NEW_KEY_MATERIAL by default until a first key
    material is imported, then EXISTING_KEY_MATERIAL), RotateKeyOnDemand reference ("you must
    have already imported new key material and that key material's state should be
    PENDING_ROTATION"), RotationsListEntry (ImportState, KeyMaterialState, ExpirationModel,
    ValidTo, KeyMaterialDescription; no RotationDate for the first material or one pending
    rotation), DescribeKey's CurrentKeyMaterialId: the new material encrypts, the first still
    decrypts what it encrypted."""
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    backend = Backend(store)
    key_id = invoke(backend, "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    first, second = bytes(range(32)), bytes(range(1, 33))
    first_id = _import(backend, key_id, first, "RSAES_OAEP_SHA_256", KeyMaterialDescription="v1")[
        "KeyMaterialId"
    ]
    old_blob = invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    code, message = fails(backend, "RotateKeyOnDemand", KeyId=key_id)
    assert code == "KMSInvalidStateException" and "pending rotation" in message
    second_id = _import(
        backend,
        key_id,
        second,
        "RSA_AES_KEY_WRAP_SHA_256",
        ImportType="NEW_KEY_MATERIAL",
        ValidTo=clock.now + 30 * DAY,
    )["KeyMaterialId"]
    assert second_id != first_id
    assert _rotations(backend, key_id) == [
        {
            "KeyId": key_id,
            "KeyMaterialId": first_id,
            "KeyMaterialDescription": "v1",
            "ImportState": "IMPORTED",
            "KeyMaterialState": "CURRENT",
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        },
        {
            "KeyId": key_id,
            "KeyMaterialId": second_id,
            "ImportState": "IMPORTED",
            "KeyMaterialState": "PENDING_ROTATION",
            "ExpirationModel": "KEY_MATERIAL_EXPIRES",
            "ValidTo": clock.now + 30 * DAY,
        },
    ]
    assert _rotations(backend, key_id, "ROTATIONS_ONLY") == []
    meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["CurrentKeyMaterialId"] == first_id and "ValidTo" not in meta

    clock.now += 60
    assert invoke(backend, "RotateKeyOnDemand", KeyId=key_id) == {"KeyId": meta["Arn"]}
    rotated = _rotations(backend, key_id, "ROTATIONS_ONLY")
    assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in rotated] == [
        (second_id, "CURRENT")
    ]
    assert (rotated[0]["RotationType"], rotated[0]["RotationDate"]) == ("ON_DEMAND", clock.now)
    assert _rotations(backend, key_id)[0]["KeyMaterialState"] == "NON_CURRENT"
    meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["CurrentKeyMaterialId"] == second_id
    assert meta["ValidTo"] == clock.now - 60 + 30 * DAY  # the earliest expiry now associated
    new_blob = base64.b64decode(
        invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    )
    assert new_blob[18:50].hex() == second_id  # sealed by the new material
    for blob, plain in ((base64.b64decode(old_blob), b"old"), (new_blob, b"new")):
        assert invoke(backend, "Decrypt", CiphertextBlob=blob)["Plaintext"] == (
            base64.b64encode(plain).decode()
        )
    # the state survives a restart
    restored = key_store(clock)
    restored.restore(json.loads(json.dumps(store.snapshot())))
    assert _rotations(Backend(restored), key_id) == _rotations(backend, key_id)
    assert invoke(Backend(restored), "Decrypt", CiphertextBlob=old_blob)["Plaintext"]


def test_import_type_and_key_material_id_checks() -> None:
    """ImportKeyMaterial reference: "You cannot specify a key material ID with ImportType set
    to NEW_KEY_MATERIAL"; a given KeyMaterialId must be the one KMS computes and associated
    with the key; EXISTING_KEY_MATERIAL must be key material associated before, and new key
    material must not be; one material pending rotation at a time (RotationsListEntry: it "is
    not permanently associated with the KMS key. You can delete this key material and import
    different key material in its place"). Asymmetric and HMAC keys take no ImportType
    (Developer Guide, "Import key material"). Automatic rotation stays refused."""
    clock = FakeClock(1.7e9)
    backend = Backend(key_store(clock))
    key_id = invoke(backend, "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    with pytest.raises(KMSError) as caught:  # nothing associated yet
        _import(
            backend, key_id, bytes(32), "RSAES_OAEP_SHA_256", ImportType="EXISTING_KEY_MATERIAL"
        )
    assert caught.value.code == "IncorrectKeyMaterialException"
    first_id = _import(backend, key_id, bytes(32), "RSAES_OAEP_SHA_256")["KeyMaterialId"]
    for extra, code in [
        ({"ImportType": "NEW_KEY_MATERIAL", "KeyMaterialId": first_id}, "ValidationException"),
        ({"ImportType": "NEW_KEY_MATERIAL"}, "IncorrectKeyMaterialException"),  # associated
        ({"KeyMaterialId": "ab" * 32}, "IncorrectKeyMaterialException"),
    ]:
        with pytest.raises(KMSError) as caught:
            _import(backend, key_id, bytes(32), "RSAES_OAEP_SHA_256", **extra)
        assert caught.value.code == code, extra
    with pytest.raises(KMSError) as caught:  # EXISTING by default: not this key's material
        _import(backend, key_id, bytes(range(32)), "RSAES_OAEP_SHA_256")
    assert caught.value.code == "IncorrectKeyMaterialException"
    _import(backend, key_id, bytes(32), "RSAES_OAEP_SHA_1", KeyMaterialId=first_id)
    pending = _import(
        backend, key_id, bytes(range(32)), "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL"
    )["KeyMaterialId"]
    with pytest.raises(KMSError) as caught:  # one pending rotation at a time
        _import(backend, key_id, b"\1" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL")
    assert caught.value.code == "KMSInvalidStateException"
    deleted = invoke(backend, "DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId=pending)
    assert deleted["KeyMaterialId"] == pending
    assert [r["KeyMaterialId"] for r in _rotations(backend, key_id)] == [first_id]
    assert invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    _import(backend, key_id, b"\1" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL")
    assert fails(backend, "EnableKeyRotation", KeyId=key_id)[0] == "UnsupportedOperationException"

    mac = invoke(
        backend, "CreateKey", Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
    )["KeyMetadata"]["KeyId"]
    for member, value in [
        ("ImportType", "NEW_KEY_MATERIAL"),
        ("KeyMaterialDescription", "d"),
        ("KeyMaterialId", "ab" * 32),
    ]:
        with pytest.raises(KMSError) as caught:
            _import(backend, mac, bytes(32), "RSAES_OAEP_SHA_256", **{member: value})
        assert caught.value.code == "UnsupportedOperationException" and member in str(
            caught.value.message
        )


def test_every_associated_key_material_must_be_imported() -> None:
    """ImportKeyMaterial reference: "For symmetric encryption keys, you will need to import all
    of the key materials associated with the KMS key to change its state to Enabled";
    DeleteImportedKeyMaterial with a KeyMaterialId deletes that key material (without one, the
    current); ValidTo applies to each material, and KeyMaterialDescription stays as last
    given when a reimport leaves it out."""
    clock = FakeClock(1.7e9)
    backend = Backend(key_store(clock))
    key_id = invoke(backend, "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    old = bytes(range(32))
    first_id = _import(backend, key_id, old, "RSAES_OAEP_SHA_256", KeyMaterialDescription="k1")[
        "KeyMaterialId"
    ]
    blob = invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    _import(backend, key_id, b"\2" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL")
    invoke(backend, "RotateKeyOnDemand", KeyId=key_id)
    invoke(backend, "DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId=first_id)
    meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingImport"
    assert [r["ImportState"] for r in _rotations(backend, key_id)] == ["PENDING_IMPORT", "IMPORTED"]
    assert fails(backend, "Decrypt", CiphertextBlob=blob)[0] == "KMSInvalidStateException"
    # imported again, expiring in a day, its description kept
    _import(backend, key_id, old, "RSAES_OAEP_SHA_1", ValidTo=clock.now + DAY)
    entry = _rotations(backend, key_id)[0]
    assert (entry["ImportState"], entry["KeyMaterialDescription"], entry["ValidTo"]) == (
        "IMPORTED",
        "k1",
        clock.now + DAY,
    )
    meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["ValidTo"]) == ("Enabled", clock.now + DAY)
    assert invoke(backend, "Decrypt", CiphertextBlob=blob)["Plaintext"]
    clock.now += DAY  # the older material expires: the key is pending import again
    meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingImport" and "ValidTo" not in meta
    assert meta["CurrentKeyMaterialId"] != first_id
    deleted = invoke(backend, "DeleteImportedKeyMaterial", KeyId=key_id)  # the current one
    assert deleted["KeyMaterialId"] == meta["CurrentKeyMaterialId"]
    assert [r["ImportState"] for r in _rotations(backend, key_id)] == ["PENDING_IMPORT"] * 2
    assert fails(backend, "DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId="ab" * 32)[
        0
    ] == ("NotFoundException")


def test_multi_region_imported_key_material_rotation() -> None:
    """ImportKeyMaterial reference: new key material of a multi-Region key is imported into
    the primary key (NEW_KEY_MATERIAL), then the same into every replica key
    (EXISTING_KEY_MATERIAL), "before you can perform the RotateKeyOnDemand operation on the
    primary Region key"; "You cannot directly import new key material into the replica Region
    keys". RotationsListEntry: the primary's new material is
    PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every replica has it, then
    PENDING_ROTATION. RotateKeyOnDemand on the primary rotates the replicas too (the related
    keys share their key material); DeleteImportedKeyMaterial of the primary's material
    pending rotation deletes it from the replicas (DeleteImportedKeyMaterial reference)."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock, Origin="EXTERNAL")
    _import(eastern, key_id, bytes(32), "RSAES_OAEP_SHA_256")
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    _import(western, key_id, bytes(32), "RSAES_OAEP_SHA_256")
    with pytest.raises(KMSError) as caught:
        _import(western, key_id, b"\2" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL")
    assert caught.value.code == "UnsupportedOperationException"
    assert "replica" in str(caught.value.message)

    new_id = _import(
        eastern, key_id, b"\2" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL"
    )["KeyMaterialId"]
    east_states = [(r["KeyMaterialState"], r["ImportState"]) for r in _rotations(eastern, key_id)]
    assert east_states == [
        ("CURRENT", "IMPORTED"),
        ("PENDING_MULTI_REGION_IMPORT_AND_ROTATION", "IMPORTED"),
    ]
    west_states = [(r["KeyMaterialState"], r["ImportState"]) for r in _rotations(western, key_id)]
    assert west_states == [("CURRENT", "IMPORTED"), ("PENDING_ROTATION", "PENDING_IMPORT")]
    code, message = fails(eastern, "RotateKeyOnDemand", KeyId=key_id)
    assert code == "KMSInvalidStateException" and "replica" in message
    _import(western, key_id, b"\2" * 32, "RSAES_OAEP_SHA_1")
    assert _rotations(eastern, key_id)[1]["KeyMaterialState"] == "PENDING_ROTATION"
    assert fails(western, "RotateKeyOnDemand", KeyId=key_id)[0] == (
        "UnsupportedOperationException"  # on the primary only
    )
    invoke(eastern, "RotateKeyOnDemand", KeyId=key_id)
    for backend in (eastern, western):
        meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
        assert (meta["CurrentKeyMaterialId"], meta["KeyState"]) == (new_id, "Enabled")
        assert [r["KeyMaterialState"] for r in _rotations(backend, key_id)] == [
            "NON_CURRENT",
            "CURRENT",
        ]
    blob = invoke(western, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert invoke(eastern, "Decrypt", CiphertextBlob=blob)["Plaintext"]

    third = _import(
        eastern, key_id, b"\3" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL"
    )["KeyMaterialId"]
    assert len(_rotations(western, key_id)) == 3
    invoke(eastern, "DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId=third)
    assert len(_rotations(western, key_id)) == len(_rotations(eastern, key_id)) == 2


def test_replica_of_rotated_imported_key() -> None:
    """A replica of a multi-Region primary whose imported key material was rotated must have
    every one of its key materials imported before it is Enabled (ImportKeyMaterial
    reference: "you will need to import all of the key materials associated with the KMS
    key")."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock, Origin="EXTERNAL")
    _import(eastern, key_id, bytes(32), "RSAES_OAEP_SHA_256")
    old_blob = invoke(eastern, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    _import(eastern, key_id, b"\2" * 32, "RSAES_OAEP_SHA_256", ImportType="NEW_KEY_MATERIAL")
    invoke(eastern, "RotateKeyOnDemand", KeyId=key_id)
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    assert [r["ImportState"] for r in _rotations(western, key_id)] == ["PENDING_IMPORT"] * 2
    _import(western, key_id, b"\2" * 32, "RSAES_OAEP_SHA_256")
    assert invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "PendingImport"
    )
    _import(western, key_id, bytes(32), "RSAES_OAEP_SHA_256")
    assert invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert invoke(western, "Decrypt", CiphertextBlob=old_blob)["Plaintext"]


# --- transient key states --------------------------------------------------------------------


def test_replica_key_is_creating() -> None:
    """ReplicateKey reference: "When this operation completes, the new replica key has a
    transient key state of Creating. This key state changes to Enabled (or PendingImport) after
    a few seconds ... While the key state is Creating, you can manage key, but you cannot yet
    use it in cryptographic operations." (Developer Guide, "Key states of AWS KMS keys":
    KMSInvalidStateException.) LocalKMS keeps it Creating for the store's
    ``transition_seconds`` (``key_state_delay=``); by default, until the next request."""
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock)
    eastern.store.transition_seconds = western.store.transition_seconds = 5.0
    blob = invoke(eastern, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    replica = invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    arn = replica["ReplicaKeyMetadata"]["Arn"]
    assert replica["ReplicaKeyMetadata"]["KeyState"] == "Creating"
    assert invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Creating"
    creating = ("KMSInvalidStateException", f"{arn} is creating.")
    assert fails(western, "Encrypt", KeyId=key_id, Plaintext=b"x") == creating
    assert fails(western, "Decrypt", CiphertextBlob=blob) == creating
    assert fails(western, "DisableKey", KeyId=key_id) == creating
    assert fails(western, "ScheduleKeyDeletion", KeyId=key_id) == creating
    assert fails(eastern, "UpdatePrimaryRegion", KeyId=key_id, PrimaryRegion="us-west-2") == (
        creating
    )
    invoke(western, "UpdateKeyDescription", KeyId=key_id, Description="managed meanwhile")
    invoke(western, "TagResource", KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "v"}])
    clock.now += 5
    assert invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert invoke(western, "Decrypt", CiphertextBlob=blob)["Plaintext"]


def test_primary_region_update_is_updating() -> None:
    """UpdatePrimaryRegion reference: "The old and new primary keys have a transient key state
    of Updating. The original key state is restored when the update is complete. While the key
    state is Updating, you can use the keys in cryptographic operations, but you cannot
    replicate the new primary key or perform certain management operations, such as enabling
    or disabling these keys." """
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock)
    eastern.store.transition_seconds = western.store.transition_seconds = 5.0
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    clock.now += 5
    invoke(eastern, "UpdatePrimaryRegion", KeyId=key_id, PrimaryRegion="us-west-2")
    for backend in (eastern, western):
        meta = invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]
        assert meta["KeyState"] == "Updating"
        blob = invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
        assert invoke(backend, "Decrypt", CiphertextBlob=blob)["Plaintext"]
        for operation in ("EnableKey", "DisableKey"):
            assert fails(backend, operation, KeyId=key_id) == (
                "KMSInvalidStateException",
                f"{meta['Arn']} is updating.",
            )
    assert fails(western, "ReplicateKey", KeyId=key_id, ReplicaRegion=REGION)[0] == (
        "KMSInvalidStateException"
    )
    assert fails(western, "UpdatePrimaryRegion", KeyId=key_id, PrimaryRegion=REGION)[0] == (
        "KMSInvalidStateException"
    )
    clock.now += 5
    west = invoke(western, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert west["KeyState"] == "Enabled"
    assert west["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    assert invoke(eastern, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    invoke(western, "DisableKey", KeyId=key_id)


def test_primary_region_update_needs_both_keys_enabled() -> None:
    """Developer Guide, "Change the primary key in a set of multi-Region keys"
    (https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-update.html): "Both the
    primary key and the replica key must be in the Enabled key state when the operation
    starts" (a disabled one: DisabledException; one pending import: KMSInvalidStateException).
    """
    clock = FakeClock(1.7e9)
    eastern, western, key_id = _multi_region_key(clock)
    invoke(eastern, "ReplicateKey", KeyId=key_id, ReplicaRegion="us-west-2")
    invoke(western, "DisableKey", KeyId=key_id)
    code, message = fails(eastern, "UpdatePrimaryRegion", KeyId=key_id, PrimaryRegion="us-west-2")
    assert (code, message) == (
        "DisabledException",
        f"arn:aws:kms:us-west-2:111122223333:key/{key_id} is disabled.",
    )
    invoke(western, "EnableKey", KeyId=key_id)
    invoke(eastern, "DisableKey", KeyId=key_id)
    assert fails(eastern, "UpdatePrimaryRegion", KeyId=key_id, PrimaryRegion="us-west-2")[0] == (
        "DisabledException"
    )
    imported, _, external = _multi_region_key(clock, Origin="EXTERNAL")
    invoke(imported, "ReplicateKey", KeyId=external, ReplicaRegion="us-west-2")
    assert fails(imported, "UpdatePrimaryRegion", KeyId=external, PrimaryRegion="us-west-2")[0] == (
        "KMSInvalidStateException"
    )


def test_snapshot_keeps_ed25519_and_ml_dsa_keys() -> None:
    """The state file round-trips the private keys of ECC_NIST_EDWARDS25519 and ML-DSA keys: the
    same public key, and a signature made before verifies after."""
    store = key_store()
    backend = Backend(store)
    signed = []
    for spec, algorithm in [
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ("ML_DSA_44", "ML_DSA_SHAKE_256"),
        ("ML_DSA_65", "ML_DSA_SHAKE_256"),
        ("ML_DSA_87", "ML_DSA_SHAKE_256"),
    ]:
        meta = invoke(backend, "CreateKey", KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        sign = {"KeyId": meta["KeyId"], "Message": b"m", "SigningAlgorithm": algorithm}
        signature = base64.b64decode(invoke(backend, "Sign", **sign)["Signature"])
        signed.append((meta, sign, signature))
    restored = key_store()
    restored.restore(json.loads(json.dumps(store.snapshot())))
    again = Backend(restored)
    for meta, sign, signature in signed:
        key_id = meta["KeyId"]
        assert invoke(again, "DescribeKey", KeyId=key_id)["KeyMetadata"] == meta
        assert invoke(again, "GetPublicKey", KeyId=key_id) == invoke(
            backend, "GetPublicKey", KeyId=key_id
        )
        assert invoke(again, "Verify", Signature=signature, **sign)["SignatureValid"] is True


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_arns_are_in_the_partition_of_the_region(region: str, partition: str) -> None:
    """General Reference, "Amazon Resource Names (ARNs)": arn:PARTITION:service:region:...,
    the partition aws-cn in the China Regions and aws-us-gov in AWS GovCloud (US); KMS key
    and alias ARNs (Developer Guide, "Key identifiers (KeyId)") follow it, and so do the
    account's root ARN in the default key policy and a grant's issuing account."""
    account = "111122223333"
    backend = Backend(key_store(region=region))
    meta = invoke(backend, "CreateKey")["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert arn == f"arn:{partition}:kms:{region}:{account}:key/{key_id}"
    policy = json.loads(invoke(backend, "GetKeyPolicy", KeyId=key_id)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:{partition}:iam::{account}:root"}
    assert invoke(backend, "ListKeys")["Keys"] == [{"KeyId": key_id, "KeyArn": arn}]
    invoke(backend, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    alias_arn = f"arn:{partition}:kms:{region}:{account}:alias/app"
    listed = invoke(backend, "ListAliases", KeyId=key_id)["Aliases"]
    assert [a["AliasArn"] for a in listed] == [alias_arn]
    for ident in (arn, alias_arn):
        assert invoke(backend, "DescribeKey", KeyId=ident)["KeyMetadata"]["Arn"] == arn
    # the same ARNs in the aws partition name nothing here: NotFoundException "Invalid arn",
    # as KMS answers a key ARN that is not of the Region called
    for ident in (arn, alias_arn):
        foreign = ident.replace(f"arn:{partition}:", "arn:aws:")
        assert fails(backend, "DescribeKey", KeyId=foreign) == (
            "NotFoundException",
            f"Invalid arn {foreign}",
        )
    assert fails(backend, "DescribeKey", KeyId=MISSING_KEY_ID) == (
        "NotFoundException",
        f"Key 'arn:{partition}:kms:{region}:{account}:key/{MISSING_KEY_ID}' does not exist",
    )
    grant = invoke(
        backend,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal=f"arn:{partition}:iam::{account}:user/x",
        Operations=["Decrypt"],
    )
    grants = invoke(backend, "ListGrants", KeyId=key_id)["Grants"]
    assert [g["GrantId"] for g in grants] == [grant["GrantId"]]
    assert grants[0]["IssuingAccount"] == f"arn:{partition}:iam::{account}:root"
    # the lockout safety check (CreateKey reference, BypassPolicyLockoutSafetyCheck) asks the
    # policy about the caller, the root user of the Region's partition
    by_id = {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "kms:*", "Resource": "*"}
    invoke(backend, "CreateKey", Policy=json.dumps({"Statement": [by_id]}))
    aws_root = {**by_id, "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}
    assert fails(backend, "CreateKey", Policy=json.dumps({"Statement": [aws_root]})) == (
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
    )
    managed = invoke(backend, "DescribeKey", KeyId="alias/aws/s3")["KeyMetadata"]
    assert managed["Arn"].startswith(f"arn:{partition}:kms:{region}:{account}:key/")
    managed_policy = json.loads(invoke(backend, "GetKeyPolicy", KeyId=managed["KeyId"])["Policy"])
    assert managed_policy["Statement"][1]["Principal"] == {
        "AWS": f"arn:{partition}:iam::{account}:root"
    }


def test_multi_region_keys_stay_in_their_partition() -> None:
    """ReplicateKey reference, ReplicaRegion: the replica must be in another Region "but in the
    same Amazon Web Services partition"; replica and primary ARNs are in that partition."""
    from aiokms.emulator._keys import KeyStore

    clock = FakeClock(1.7e9)
    account = "111122223333"
    stores = {
        region: KeyStore(region=region, account_id=account, clock=clock)
        for region in ("cn-north-1", "cn-northwest-1", REGION)
    }
    for store in stores.values():
        store.peers = stores
    beijing, ningxia = Backend(stores["cn-north-1"]), Backend(stores["cn-northwest-1"])
    key_id = invoke(beijing, "CreateKey", MultiRegion=True)["KeyMetadata"]["KeyId"]
    replica = invoke(beijing, "ReplicateKey", KeyId=key_id, ReplicaRegion="cn-northwest-1")
    replica_arn = f"arn:aws-cn:kms:cn-northwest-1:{account}:key/{key_id}"
    primary_arn = f"arn:aws-cn:kms:cn-north-1:{account}:key/{key_id}"
    assert replica["ReplicaKeyMetadata"]["Arn"] == replica_arn
    assert json.loads(replica["ReplicaPolicy"])["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws-cn:iam::{account}:root"
    }
    config = invoke(ningxia, "DescribeKey", KeyId=replica_arn)["KeyMetadata"][
        "MultiRegionConfiguration"
    ]
    assert config["PrimaryKey"] == {"Arn": primary_arn, "Region": "cn-north-1"}
    assert config["ReplicaKeys"] == [{"Arn": replica_arn, "Region": "cn-northwest-1"}]
    assert fails(beijing, "ReplicateKey", KeyId=key_id, ReplicaRegion=REGION) == (
        "ValidationException",
        f"ReplicaRegion {REGION} is not in the partition of the primary key (aws-cn).",
    )
    assert key_id not in stores[REGION].keys
    stores["cn-northwest-1"].settle(stores["cn-northwest-1"].keys[key_id])
    invoke(beijing, "UpdatePrimaryRegion", KeyId=key_id, PrimaryRegion="cn-northwest-1")
    stores["cn-northwest-1"].settle(stores["cn-northwest-1"].keys[key_id])
    config = invoke(beijing, "DescribeKey", KeyId=primary_arn)["KeyMetadata"][
        "MultiRegionConfiguration"
    ]
    assert config["MultiRegionKeyType"] == "REPLICA"
    assert config["PrimaryKey"] == {"Arn": replica_arn, "Region": "cn-northwest-1"}
    assert config["ReplicaKeys"] == [{"Arn": primary_arn, "Region": "cn-north-1"}]
