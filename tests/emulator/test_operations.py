"""LocalKMS's operations (``aiokms.emulator._operations``) against the KMS API reference and moto.

The differential scenario: one scenario written with aiobotocore (an independent client) runs
against LocalKMS and against moto's server. The steps in ``REFERENCE`` are checked against
what the KMS API reference documents (response members, error codes), whatever moto answers:
they are where moto departs from the reference. Every other step must give moto's response
keys and leaf types, or its error code, class and HTTP status. A moto release that fixes or
changes one of its departures cannot break the test. Then what the scenario does not reach:
unsupported operations, pagination, GenerateRandom and DryRun, where aliases are accepted.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import botocore.exceptions
import botocore.session
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aiokms.emulator import SUPPORTED_OPERATIONS, LocalKMS
from aiokms.emulator._errors import KMSError
from aiokms.emulator._keys import AWS_SERVICES
from aiokms.emulator._operations import Backend
from tests.emulator.helpers import (
    ALIAS,
    ALIAS_2,
    CONTEXT,
    MISSING_KEY_ID,
    PLAINTEXT,
    POLICY,
    REGION,
    TARGET,
    WRONG_CONTEXT,
    FakeClock,
    boto_client,
    client_of,
    error_of,
    fails,
    invoke,
    key_store,
    signed_call,
    wrap_key_material,
)


def shape(value: Any) -> Any:
    """A value's structure: dict keys sorted, lists in order, leaves replaced by type names."""
    if isinstance(value, dict):
        return {key: shape(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, datetime.datetime):
        return "datetime" if value.tzinfo is not None else "datetime(naive)"
    return type(value).__name__


def record_of(result: Any) -> Any:
    if isinstance(result, botocore.exceptions.ClientError):
        return (
            "error",
            result.response["Error"]["Code"],
            type(result).__name__,
            result.response["ResponseMetadata"]["HTTPStatusCode"],
        )
    body = shape({k: v for k, v in result.items() if k != "ResponseMetadata"})
    return ("ok", body, result["ResponseMetadata"]["HTTPStatusCode"])


class Diverged(Exception):
    """A step the scenario depends on failed; the transcript ends there."""


class Recorder:
    """Runs labelled steps and writes down what each returned."""

    def __init__(self, kms: Any) -> None:
        self.kms = kms
        self.transcript: dict[str, Any] = {}

    async def call(self, label: str, method: str, **kwargs: Any) -> Any:
        assert label not in self.transcript, label
        try:
            result = await getattr(self.kms, method)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            result = exc
        self.transcript[label] = record_of(result)
        return result

    async def ok(self, label: str, method: str, **kwargs: Any) -> dict[str, Any]:
        result = await self.call(label, method, **kwargs)
        if isinstance(result, Exception):
            raise Diverged(label) from result
        return result  # type: ignore[no-any-return]

    def check(self, label: str, value: Any) -> None:
        """Record a deterministic value (never an id, a date or a ciphertext)."""
        assert label not in self.transcript, label
        self.transcript[label] = ("check", value)


async def scenario(kms: Any) -> dict[str, Any]:
    """Every operation LocalKMS serves that moto serves too, and their common errors."""
    rec = Recorder(kms)
    try:
        await _scenario(rec)
    except Diverged as exc:
        rec.transcript["diverged at"] = str(exc)
    return rec.transcript


async def _scenario(rec: Recorder) -> None:
    # --- keys -------------------------------------------------------------------------------
    sym = (
        await rec.ok(
            "CreateKey symmetric",
            "create_key",
            Description="emulator symmetric",
            Tags=[{"TagKey": "team", "TagValue": "crypto"}],
        )
    )["KeyMetadata"]
    sym_id, sym_arn = sym["KeyId"], sym["Arn"]
    sym2 = (await rec.ok("CreateKey default", "create_key"))["KeyMetadata"]
    sym2_id = sym2["KeyId"]
    rsa_key = (
        await rec.ok("CreateKey RSA", "create_key", KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    )["KeyMetadata"]
    rsa_sign = (
        await rec.ok("CreateKey RSA sign", "create_key", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    )["KeyMetadata"]
    ecc = (
        await rec.ok("CreateKey ECC", "create_key", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    )["KeyMetadata"]
    hmac_key = (
        await rec.ok(
            "CreateKey HMAC", "create_key", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )
    )["KeyMetadata"]
    for name, meta in [("sym", sym), ("sym2", sym2), ("rsa", rsa_key), ("ecc", ecc)]:
        rec.check(
            f"CreateKey {name} fields",
            {k: meta.get(k) for k in ("KeySpec", "KeyUsage", "KeyState", "Enabled", "Origin")},
        )
    rec.check("CreateKey HMAC fields", (hmac_key["KeySpec"], hmac_key["KeyUsage"]))
    rec.check("CreateKey ARN", sym_arn.split(":")[:4] == ["arn", "aws", "kms", REGION])
    await rec.call("CreateKey bad KeySpec", "create_key", KeySpec="NOT_A_SPEC")

    described = await rec.ok("DescribeKey by id", "describe_key", KeyId=sym_id)
    rec.check("DescribeKey description", described["KeyMetadata"]["Description"])
    described = await rec.ok("DescribeKey by ARN", "describe_key", KeyId=sym_arn)
    rec.check("DescribeKey by ARN id", described["KeyMetadata"]["KeyId"] == sym_id)
    await rec.call("DescribeKey missing", "describe_key", KeyId=MISSING_KEY_ID)
    await rec.call("DescribeKey malformed id", "describe_key", KeyId="not-a-key-id")
    await rec.ok(
        "UpdateKeyDescription", "update_key_description", KeyId=sym_id, Description="updated ✓"
    )
    described = await rec.ok("DescribeKey updated", "describe_key", KeyId=sym_id)
    rec.check("DescribeKey updated description", described["KeyMetadata"]["Description"])

    # --- aliases ----------------------------------------------------------------------------
    await rec.ok("CreateAlias", "create_alias", AliasName=ALIAS, TargetKeyId=sym_id)
    await rec.call("CreateAlias duplicate", "create_alias", AliasName=ALIAS, TargetKeyId=sym2_id)
    await rec.call(
        "CreateAlias reserved", "create_alias", AliasName="alias/aws/ebs", TargetKeyId=sym_id
    )
    await rec.call(
        "CreateAlias missing key", "create_alias", AliasName="alias/x", TargetKeyId=MISSING_KEY_ID
    )
    await rec.ok("CreateAlias 2", "create_alias", AliasName=ALIAS_2, TargetKeyId=sym2_id)
    await rec.ok("UpdateAlias same type", "update_alias", AliasName=ALIAS_2, TargetKeyId=sym_id)
    described = await rec.ok("DescribeKey by alias", "describe_key", KeyId=ALIAS)
    rec.check("DescribeKey by alias id", described["KeyMetadata"]["KeyId"] == sym_id)
    alias_arn = f"{sym_arn.rsplit(':', 1)[0]}:{ALIAS}"
    described = await rec.ok("DescribeKey by alias ARN", "describe_key", KeyId=alias_arn)
    rec.check("DescribeKey by alias ARN id", described["KeyMetadata"]["KeyId"] == sym_id)
    listed = await rec.ok("ListAliases for key", "list_aliases", KeyId=sym_id)
    rec.check("ListAliases for key names", sorted(a["AliasName"] for a in listed["Aliases"]))
    await rec.call(
        "UpdateAlias other type", "update_alias", AliasName=ALIAS_2, TargetKeyId=rsa_key["KeyId"]
    )
    await rec.ok("DeleteAlias", "delete_alias", AliasName=ALIAS_2)
    await rec.call("DeleteAlias again", "delete_alias", AliasName=ALIAS_2)
    await rec.call("DescribeKey deleted alias", "describe_key", KeyId=ALIAS_2)
    await rec.call("Encrypt deleted alias", "encrypt", KeyId=ALIAS_2, Plaintext=PLAINTEXT)

    # --- tags -------------------------------------------------------------------------------
    await rec.ok(
        "TagResource",
        "tag_resource",
        KeyId=sym_id,
        Tags=[{"TagKey": "env", "TagValue": "test"}, {"TagKey": "ünï", "TagValue": "☃"}],
    )
    tags = await rec.ok("ListResourceTags", "list_resource_tags", KeyId=sym_id)
    rec.check("ListResourceTags pairs", sorted((t["TagKey"], t["TagValue"]) for t in tags["Tags"]))
    await rec.ok("UntagResource", "untag_resource", KeyId=sym_arn, TagKeys=["env"])
    tags = await rec.ok("ListResourceTags after untag", "list_resource_tags", KeyId=sym_id)
    rec.check("UntagResource keys", sorted(t["TagKey"] for t in tags["Tags"]))
    await rec.call("ListResourceTags missing key", "list_resource_tags", KeyId=MISSING_KEY_ID)

    # --- key policies -----------------------------------------------------------------------
    await rec.ok("GetKeyPolicy", "get_key_policy", KeyId=sym_id, PolicyName="default")
    await rec.ok(
        "PutKeyPolicy", "put_key_policy", KeyId=sym_id, PolicyName="default", Policy=POLICY
    )
    policy = await rec.ok(
        "GetKeyPolicy after put", "get_key_policy", KeyId=sym_id, PolicyName="default"
    )
    rec.check("PutKeyPolicy stored", json.loads(policy["Policy"]) == json.loads(POLICY))
    await rec.call("GetKeyPolicy without name", "get_key_policy", KeyId=sym_id)
    await rec.call("GetKeyPolicy other name", "get_key_policy", KeyId=sym_id, PolicyName="other")
    listed = await rec.ok("ListKeyPolicies", "list_key_policies", KeyId=sym_id)
    rec.check("ListKeyPolicies names", listed["PolicyNames"])

    # --- rotation ---------------------------------------------------------------------------
    await rec.ok("EnableKeyRotation", "enable_key_rotation", KeyId=sym_id)
    status = await rec.ok("GetKeyRotationStatus", "get_key_rotation_status", KeyId=sym_id)
    rec.check("GetKeyRotationStatus enabled", status["KeyRotationEnabled"])
    await rec.ok("DisableKeyRotation", "disable_key_rotation", KeyId=sym_id)
    status = await rec.ok("GetKeyRotationStatus off", "get_key_rotation_status", KeyId=sym_id)
    rec.check("GetKeyRotationStatus disabled", status["KeyRotationEnabled"])
    status = await rec.ok("GetKeyRotationStatus ECC", "get_key_rotation_status", KeyId=ecc["KeyId"])
    rec.check("GetKeyRotationStatus ECC value", status["KeyRotationEnabled"])

    # --- encrypt / decrypt / re-encrypt -----------------------------------------------------
    enc = await rec.ok(
        "Encrypt", "encrypt", KeyId=sym_id, Plaintext=PLAINTEXT, EncryptionContext=CONTEXT
    )
    blob = enc["CiphertextBlob"]
    rec.check("Encrypt KeyId is ARN", enc["KeyId"] == sym_arn)
    dec = await rec.ok("Decrypt", "decrypt", CiphertextBlob=blob, EncryptionContext=CONTEXT)
    rec.check("Decrypt result", (dec["Plaintext"] == PLAINTEXT, dec["KeyId"] == sym_arn))
    dec = await rec.ok(
        "Decrypt with alias", "decrypt", CiphertextBlob=blob, EncryptionContext=CONTEXT, KeyId=ALIAS
    )
    rec.check("Decrypt with alias result", dec["Plaintext"] == PLAINTEXT)
    await rec.call(
        "Decrypt other key",
        "decrypt",
        CiphertextBlob=blob,
        EncryptionContext=CONTEXT,
        KeyId=sym2_id,
    )
    await rec.call(
        "Decrypt wrong context", "decrypt", CiphertextBlob=blob, EncryptionContext=WRONG_CONTEXT
    )
    await rec.call("Decrypt no context", "decrypt", CiphertextBlob=blob)
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    await rec.call(
        "Decrypt flipped byte", "decrypt", CiphertextBlob=bytes(flipped), EncryptionContext=CONTEXT
    )
    await rec.call(
        "Decrypt garbage", "decrypt", CiphertextBlob=b"\x00garbage, not a ciphertext\xff"
    )
    await rec.call("Encrypt missing key", "encrypt", KeyId=MISSING_KEY_ID, Plaintext=PLAINTEXT)
    await rec.call("Encrypt too long", "encrypt", KeyId=sym_id, Plaintext=b"x" * 4097)
    reenc = await rec.ok(
        "ReEncrypt",
        "re_encrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=sym2_id,
        DestinationEncryptionContext={"stage": "re-encrypted"},
    )
    rec.check("ReEncrypt ids", (reenc["SourceKeyId"] == sym_arn, reenc["KeyId"] == sym2["Arn"]))
    dec = await rec.ok(
        "Decrypt re-encrypted",
        "decrypt",
        CiphertextBlob=reenc["CiphertextBlob"],
        EncryptionContext={"stage": "re-encrypted"},
    )
    rec.check("ReEncrypt result", dec["Plaintext"] == PLAINTEXT)
    await rec.call(
        "ReEncrypt wrong context",
        "re_encrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext=WRONG_CONTEXT,
        DestinationKeyId=sym2_id,
    )
    enc = await rec.ok(
        "Encrypt RSA",
        "encrypt",
        KeyId=rsa_key["KeyId"],
        Plaintext=b"rsa",
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    dec = await rec.ok(
        "Decrypt RSA",
        "decrypt",
        CiphertextBlob=enc["CiphertextBlob"],
        KeyId=rsa_key["KeyId"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    rec.check("Decrypt RSA result", dec["Plaintext"] == b"rsa")
    await rec.call("Encrypt with signing key", "encrypt", KeyId=ecc["KeyId"], Plaintext=b"x")

    # --- data keys and random ---------------------------------------------------------------
    dk = await rec.ok(
        "GenerateDataKey",
        "generate_data_key",
        KeyId=sym_id,
        KeySpec="AES_256",
        EncryptionContext=CONTEXT,
    )
    dec = await rec.ok(
        "Decrypt data key",
        "decrypt",
        CiphertextBlob=dk["CiphertextBlob"],
        EncryptionContext=CONTEXT,
    )
    rec.check("GenerateDataKey result", (len(dk["Plaintext"]), dec["Plaintext"] == dk["Plaintext"]))
    dk = await rec.ok(
        "GenerateDataKey AES_128", "generate_data_key", KeyId=ALIAS, KeySpec="AES_128"
    )
    rec.check("GenerateDataKey AES_128 length", len(dk["Plaintext"]))
    dk = await rec.ok("GenerateDataKey bytes", "generate_data_key", KeyId=sym_arn, NumberOfBytes=64)
    rec.check("GenerateDataKey bytes length", len(dk["Plaintext"]))
    await rec.call("GenerateDataKey neither", "generate_data_key", KeyId=sym_id)
    await rec.call(
        "GenerateDataKey both",
        "generate_data_key",
        KeyId=sym_id,
        KeySpec="AES_256",
        NumberOfBytes=32,
    )
    await rec.call(
        "GenerateDataKey too many bytes", "generate_data_key", KeyId=sym_id, NumberOfBytes=1025
    )
    await rec.call("GenerateDataKey bad spec", "generate_data_key", KeyId=sym_id, KeySpec="AES_512")
    dk = await rec.ok(
        "GenerateDataKeyWithoutPlaintext",
        "generate_data_key_without_plaintext",
        KeyId=sym_id,
        KeySpec="AES_256",
        EncryptionContext=CONTEXT,
    )
    dec = await rec.ok(
        "Decrypt data key without plaintext",
        "decrypt",
        CiphertextBlob=dk["CiphertextBlob"],
        EncryptionContext=CONTEXT,
    )
    rec.check("GenerateDataKeyWithoutPlaintext length", len(dec["Plaintext"]))
    rnd = await rec.ok("GenerateRandom", "generate_random", NumberOfBytes=48)
    rec.check("GenerateRandom length", len(rnd["Plaintext"]))
    await rec.call("GenerateRandom too many", "generate_random", NumberOfBytes=1025)

    # --- sign / verify ----------------------------------------------------------------------
    message = "to be signed ✍".encode()
    pub = await rec.ok("GetPublicKey ECC", "get_public_key", KeyId=ecc["KeyId"])
    rec.check("GetPublicKey ECC algorithms", pub["SigningAlgorithms"])
    signed = await rec.ok(
        "Sign ECDSA",
        "sign",
        KeyId=ecc["KeyId"],
        Message=message,
        MessageType="RAW",
        SigningAlgorithm="ECDSA_SHA_256",
    )
    public_key = serialization.load_der_public_key(pub["PublicKey"])
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signed["Signature"], message, ec.ECDSA(hashes.SHA256()))  # raises if bad
    verified = await rec.ok(
        "Verify ECDSA",
        "verify",
        KeyId=ecc["KeyId"],
        Message=message,
        MessageType="RAW",
        Signature=signed["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    rec.check("Verify ECDSA valid", verified["SignatureValid"])
    await rec.call(
        "Verify bad signature",
        "verify",
        KeyId=ecc["KeyId"],
        Message=message + b"!",
        Signature=signed["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    await rec.call(
        "Sign wrong algorithm",
        "sign",
        KeyId=ecc["KeyId"],
        Message=message,
        SigningAlgorithm="ECDSA_SHA_384",
    )
    await rec.call(
        "Sign with encryption key",
        "sign",
        KeyId=rsa_key["KeyId"],
        Message=message,
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    signed = await rec.ok(
        "Sign RSA PSS",
        "sign",
        KeyId=rsa_sign["KeyId"],
        Message=message,
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    verified = await rec.ok(
        "Verify RSA PSS",
        "verify",
        KeyId=rsa_sign["KeyId"],
        Message=message,
        Signature=signed["Signature"],
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    rec.check("Verify RSA PSS valid", verified["SignatureValid"])
    pub = await rec.ok("GetPublicKey RSA", "get_public_key", KeyId=rsa_key["KeyId"])
    rec.check("GetPublicKey RSA algorithms", pub["EncryptionAlgorithms"])

    # --- MACs -------------------------------------------------------------------------------
    mac = await rec.ok(
        "GenerateMac",
        "generate_mac",
        KeyId=hmac_key["KeyId"],
        Message=b"mac me \xff",
        MacAlgorithm="HMAC_SHA_256",
    )
    rec.check("GenerateMac result", (len(mac["Mac"]), mac["MacAlgorithm"]))
    verified = await rec.ok(
        "VerifyMac",
        "verify_mac",
        KeyId=hmac_key["KeyId"],
        Message=b"mac me \xff",
        Mac=mac["Mac"],
        MacAlgorithm="HMAC_SHA_256",
    )
    rec.check("VerifyMac valid", verified["MacValid"])
    await rec.call(
        "VerifyMac bad MAC",
        "verify_mac",
        KeyId=hmac_key["KeyId"],
        Message=b"mac me \xff",
        Mac=bytes(32),
        MacAlgorithm="HMAC_SHA_256",
    )
    await rec.call(
        "GenerateMac with encryption key",
        "generate_mac",
        KeyId=sym_id,
        Message=b"x",
        MacAlgorithm="HMAC_SHA_256",
    )

    # --- grants -----------------------------------------------------------------------------
    grantee = "arn:aws:iam::111122223333:role/grantee"
    retiring = "arn:aws:iam::111122223333:role/retiring"
    grant = await rec.ok(
        "CreateGrant",
        "create_grant",
        KeyId=sym_id,
        GranteePrincipal=grantee,
        RetiringPrincipal=retiring,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"purpose": "grants"}},
        Name="scenario-grant",
    )
    listed = await rec.ok("ListGrants", "list_grants", KeyId=sym_id)
    rec.check("ListGrants operations", [g["Operations"] for g in listed["Grants"]])
    retirable = await rec.ok(
        "ListRetirableGrants", "list_retirable_grants", RetiringPrincipal=retiring
    )
    rec.check("ListRetirableGrants count", len(retirable["Grants"]))
    await rec.ok("RetireGrant by token", "retire_grant", GrantToken=grant["GrantToken"])
    second = await rec.ok(
        "CreateGrant second",
        "create_grant",
        KeyId=sym_id,
        GranteePrincipal=grantee,
        Operations=["Decrypt"],
    )
    await rec.ok("RevokeGrant", "revoke_grant", KeyId=sym_id, GrantId=second["GrantId"])
    listed = await rec.ok("ListGrants after revoke", "list_grants", KeyId=sym_id)
    rec.check("ListGrants after revoke count", len(listed["Grants"]))
    await rec.call(
        "RevokeGrant missing key", "revoke_grant", KeyId=MISSING_KEY_ID, GrantId="0" * 64
    )

    # --- enable / disable, deletion ---------------------------------------------------------
    await rec.ok("DisableKey", "disable_key", KeyId=sym2_id)
    described = await rec.ok("DescribeKey disabled", "describe_key", KeyId=sym2_id)
    rec.check("DisableKey state", described["KeyMetadata"]["KeyState"])
    await rec.call("Encrypt disabled key", "encrypt", KeyId=sym2_id, Plaintext=PLAINTEXT)
    await rec.ok("EnableKey", "enable_key", KeyId=sym2_id)
    described = await rec.ok("DescribeKey enabled", "describe_key", KeyId=sym2_id)
    rec.check("EnableKey state", described["KeyMetadata"]["KeyState"])
    scheduled = await rec.ok(
        "ScheduleKeyDeletion", "schedule_key_deletion", KeyId=sym2_id, PendingWindowInDays=7
    )
    rec.check("ScheduleKeyDeletion state", scheduled.get("KeyState"))
    described = await rec.ok("DescribeKey pending deletion", "describe_key", KeyId=sym2_id)
    rec.check("DescribeKey pending deletion state", described["KeyMetadata"]["KeyState"])
    await rec.call("Encrypt pending deletion", "encrypt", KeyId=sym2_id, Plaintext=PLAINTEXT)
    await rec.ok("CancelKeyDeletion", "cancel_key_deletion", KeyId=sym2_id)
    described = await rec.ok("DescribeKey cancelled", "describe_key", KeyId=sym2_id)
    rec.check("CancelKeyDeletion state", described["KeyMetadata"]["KeyState"])
    await rec.ok("EnableKey after cancel", "enable_key", KeyId=sym2_id)
    await rec.call("DisableKey missing", "disable_key", KeyId=MISSING_KEY_ID)

    # --- listing ----------------------------------------------------------------------------
    listed = await rec.ok("ListKeys", "list_keys")
    rec.check(
        "ListKeys has the keys",
        {sym_id, sym2_id, ecc["KeyId"]} <= {k["KeyId"] for k in listed["Keys"]},
    )
    pages = [
        p
        async for p in rec.kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
    ]
    rec.check(
        "ListKeys paginator",
        {sym_id, sym2_id, ecc["KeyId"], hmac_key["KeyId"]}
        <= {k["KeyId"] for p in pages for k in p["Keys"]},
    )
    await rec.call("CreateKey HMAC without KeyUsage", "create_key", KeySpec="HMAC_256")


# the step, a predicate on LocalKMS's record alone, and the reference it follows (and moto's
# departure, as seen in moto 5.2; moto is never consulted for these steps).
Expected = Callable[[Any], bool]


def _reply(members: frozenset[str], at: str | None = None) -> Expected:
    """A success whose reply (or its member ``at``) has exactly these members."""

    def expected(ours: Any) -> bool:
        return ours[0] == "ok" and set(ours[1] if at is None else ours[1][at]) == members

    return expected


def _error(code: str, cls: str | None = None, status: int = 400) -> Expected:
    """This error: its code, its exception class in botocore, its HTTP status."""
    return lambda ours: ours == ("error", code, cls or code, status)


def _check(value: Any) -> Expected:
    return lambda ours: ours == ("check", value)


# key's usage. moto 5.2 omits KeyUsage, MultiRegion and CurrentKeyMaterialId on some keys and
# adds empty or foreign algorithm lists.
_KEY = frozenset(
    {
        "AWSAccountId",
        "Arn",
        "CreationDate",
        "CustomerMasterKeySpec",
        "Description",
        "Enabled",
        "KeyId",
        "KeyManager",
        "KeySpec",
        "KeyState",
        "KeyUsage",
        "MultiRegion",
        "Origin",
    }
)


_SYMMETRIC_KEY = _KEY | {"CurrentKeyMaterialId", "EncryptionAlgorithms"}


_METADATA_REASON = (
    "KeyMetadata reference: KeyUsage, MultiRegion, CurrentKeyMaterialId for symmetric "
    "encryption keys, and only the algorithm list of the key's usage"
)


_USAGE_DEFAULT = {
    "KeySpec": "SYMMETRIC_DEFAULT",
    "KeyUsage": "ENCRYPT_DECRYPT",
    "KeyState": "Enabled",
    "Enabled": True,
    "Origin": "AWS_KMS",
}


_DECRYPTED = frozenset({"EncryptionAlgorithm", "KeyId", "KeyMaterialId", "Plaintext"})


_DATA_KEY = frozenset({"CiphertextBlob", "KeyId", "KeyMaterialId"})


_ALIAS = frozenset({"AliasArn", "AliasName", "CreationDate", "LastUpdatedDate", "TargetKeyId"})


_POLICY = frozenset({"Policy", "PolicyName"})


def _aliases(ours: Any) -> bool:
    return ours[0] == "ok" and all(set(alias) == _ALIAS for alias in ours[1]["Aliases"])


_GRANT = frozenset(
    {
        "KeyId",
        "GrantId",
        "Name",
        "CreationDate",
        "GranteePrincipal",
        "RetiringPrincipal",
        "IssuingAccount",
        "Operations",
        "Constraints",
    }
)


def _grants(ours: Any) -> bool:
    return ours[0] == "ok" and all(set(grant) == _GRANT for grant in ours[1]["Grants"])


REFERENCE: dict[str, tuple[Expected, str]] = {
    **{
        step: (
            _grants,
            "GrantListEntry has CreationDate and IssuingAccount (ListGrants reference); moto "
            "omits them",
        )
        for step in ("ListGrants", "ListRetirableGrants")
    },
    "RevokeGrant missing key": (
        _error("NotFoundException"),
        "RevokeGrant: NotFoundException for a key that does not exist (errors reference); "
        "moto answers HTTP 500",
    ),
    **{
        step: (_reply(_SYMMETRIC_KEY, at="KeyMetadata"), _METADATA_REASON)
        for step in (
            "CreateKey symmetric",
            "CreateKey default",
            "DescribeKey by id",
            "DescribeKey by ARN",
            "DescribeKey updated",
            "DescribeKey by alias",
            "DescribeKey by alias ARN",
            "DescribeKey disabled",
            "DescribeKey enabled",
            "DescribeKey cancelled",
        )
    },
    "DescribeKey pending deletion": (
        _reply(_SYMMETRIC_KEY | {"DeletionDate"}, at="KeyMetadata"),
        _METADATA_REASON + "; DeletionDate while deletion is pending",
    ),
    "CreateKey RSA": (_reply(_KEY | {"EncryptionAlgorithms"}, at="KeyMetadata"), _METADATA_REASON),
    "CreateKey RSA sign": (
        _reply(_KEY | {"SigningAlgorithms"}, at="KeyMetadata"),
        _METADATA_REASON,
    ),
    "CreateKey ECC": (_reply(_KEY | {"SigningAlgorithms"}, at="KeyMetadata"), _METADATA_REASON),
    "CreateKey HMAC": (_reply(_KEY | {"MacAlgorithms"}, at="KeyMetadata"), _METADATA_REASON),
    **{
        step: (
            _check(_USAGE_DEFAULT),
            "CreateKey: 'The default value [of KeyUsage] is ENCRYPT_DECRYPT'; moto leaves it unset",
        )
        for step in ("CreateKey sym fields", "CreateKey sym2 fields")
    },
    "CreateKey HMAC without KeyUsage": (
        _error("ValidationException", "ClientError"),
        "CreateKey: KeyUsage 'is optional when you are creating a symmetric encryption KMS key; "
        "otherwise, it is required'; moto creates a key without a KeyUsage",
    ),
    "UpdateAlias other type": (
        _error("ValidationException", "ClientError"),
        "UpdateAlias: 'The current and new KMS key must be the same type ... and they must "
        "have the same key usage'; moto retargets a symmetric alias to an RSA key",
    ),
    "ListAliases for key": (
        _aliases,
        "AliasListEntry has CreationDate and LastUpdatedDate (ListAliases reference); moto "
        "omits them",
    ),
    "GetKeyPolicy": (
        _reply(_POLICY),
        "GetKeyPolicy returns PolicyName (GetKeyPolicy response reference); moto omits it",
    ),
    "GetKeyPolicy after put": (_reply(_POLICY), "PolicyName as above"),
    "GetKeyPolicy without name": (
        _reply(_POLICY),
        "GetKeyPolicy: 'If no policy name is specified, the default value is default'; moto "
        "requires PolicyName",
    ),
    "GetKeyRotationStatus": (
        _reply(
            frozenset({"KeyId", "KeyRotationEnabled", "RotationPeriodInDays", "NextRotationDate"})
        ),
        "GetKeyRotationStatus returns KeyId, and RotationPeriodInDays and NextRotationDate "
        "while rotation is on (response reference); moto returns KeyRotationEnabled only",
    ),
    "GetKeyRotationStatus off": (
        _reply(frozenset({"KeyId", "KeyRotationEnabled"})),
        "KeyId as above",
    ),
    "GetKeyRotationStatus ECC": (
        _reply(frozenset({"KeyId", "KeyRotationEnabled"})),
        "KeyId as above",
    ),
    **{
        step: (
            _reply(frozenset({"CiphertextBlob", "EncryptionAlgorithm", "KeyId"})),
            "Encrypt returns EncryptionAlgorithm (Encrypt response reference); moto omits it",
        )
        for step in ("Encrypt", "Encrypt RSA")
    },
    **{
        step: (
            _reply(_DECRYPTED),
            "Decrypt returns EncryptionAlgorithm, and KeyMaterialId for symmetric keys "
            "(Decrypt response reference); moto omits both",
        )
        for step in (
            "Decrypt",
            "Decrypt with alias",
            "Decrypt re-encrypted",
            "Decrypt data key",
            "Decrypt data key without plaintext",
        )
    },
    "Decrypt RSA": (_reply(_DECRYPTED - {"KeyMaterialId"}), "EncryptionAlgorithm as above"),
    "Decrypt other key": (
        _error("IncorrectKeyException"),
        "Decrypt: 'If you identify a different KMS key, the Decrypt operation throws an "
        "IncorrectKeyException'; moto answers AccessDeniedException",
    ),
    "ReEncrypt": (
        _reply(
            frozenset(
                {
                    "CiphertextBlob",
                    "KeyId",
                    "SourceKeyId",
                    "SourceEncryptionAlgorithm",
                    "DestinationEncryptionAlgorithm",
                    "SourceKeyMaterialId",
                    "DestinationKeyMaterialId",
                }
            )
        ),
        "ReEncrypt returns the algorithms and key material ids (ReEncrypt response "
        "reference); moto omits them",
    ),
    **{
        step: (
            _reply(_DATA_KEY | {"Plaintext"}),
            "GenerateDataKey returns KeyMaterialId (response reference); moto omits it",
        )
        for step in ("GenerateDataKey", "GenerateDataKey AES_128", "GenerateDataKey bytes")
    },
    "GenerateDataKeyWithoutPlaintext": (
        _reply(_DATA_KEY),
        "GenerateDataKeyWithoutPlaintext returns KeyMaterialId (response reference); moto omits it",
    ),
    "GetPublicKey ECC": (
        _reply(
            frozenset(
                {
                    "CustomerMasterKeySpec",
                    "KeyId",
                    "KeySpec",
                    "KeyUsage",
                    "PublicKey",
                    "SigningAlgorithms",
                }
            )
        ),
        "GetPublicKey returns KeySpec (GetPublicKey response reference); moto omits it",
    ),
    "GetPublicKey RSA": (
        _reply(
            frozenset(
                {
                    "CustomerMasterKeySpec",
                    "EncryptionAlgorithms",
                    "KeyId",
                    "KeySpec",
                    "KeyUsage",
                    "PublicKey",
                }
            )
        ),
        "KeySpec as above",
    ),
    "Verify bad signature": (
        _error("KMSInvalidSignatureException"),
        "Verify: an invalid signature fails with KMSInvalidSignatureException; moto answers "
        "SignatureValid=false",
    ),
    **{
        step: (
            _error("InvalidKeyUsageException"),
            "InvalidKeyUsageException: the key usage must be SIGN_VERIFY for Sign, and the "
            "signing algorithm must fit the key spec; moto answers ValidationException",
        )
        for step in ("Sign wrong algorithm", "Sign with encryption key")
    },
    "Encrypt with signing key": (
        _error("InvalidKeyUsageException"),
        "Encrypt needs KeyUsage ENCRYPT_DECRYPT (InvalidKeyUsageException); moto encrypts with "
        "a SIGN_VERIFY key",
    ),
    "Encrypt disabled key": (
        _error("DisabledException"),
        "a disabled key cannot be used in cryptographic operations (DisabledException); moto "
        "encrypts",
    ),
    "Encrypt pending deletion": (
        _error("KMSInvalidStateException"),
        "a key pending deletion 'can't be used in any cryptographic operations'; moto encrypts",
    ),
    "ScheduleKeyDeletion": (
        _reply(frozenset({"DeletionDate", "KeyId", "KeyState", "PendingWindowInDays"})),
        "ScheduleKeyDeletion returns KeyState and PendingWindowInDays (response reference); "
        "moto omits them",
    ),
    "ScheduleKeyDeletion state": (_check("PendingDeletion"), "KeyState as above"),
}


def _shown(step: str, ours: Any, other: Any) -> str:
    return f"{step}:\n  LocalKMS: {ours}\n  expected: {other}"


async def test_scenario_follows_the_reference_and_otherwise_matches_moto(
    local: LocalKMS, moto_url: str
) -> None:
    async with client_of(local) as kms:
        ours = await scenario(kms)
    assert "diverged at" not in ours, ours
    assert set(REFERENCE) <= set(ours), "REFERENCE names steps the scenario does not have"
    unlike_reference = [
        _shown(step, ours[step], reason)
        for step, (expected, reason) in REFERENCE.items()
        if not expected(ours[step])
    ]
    assert not unlike_reference, "\n".join(unlike_reference)

    async with aiohttp.ClientSession() as session, session.post(f"{moto_url}/moto-api/reset") as r:
        assert r.status == 200
    async with boto_client(moto_url, "testing", "testing") as kms:
        theirs = await scenario(kms)
    # moto is a second opinion for the other steps, as far as its own run got
    unlike_moto = [
        _shown(step, ours[step], theirs[step])
        for step in ours
        if step not in REFERENCE and step in theirs and ours[step] != theirs[step]
    ]
    assert not unlike_moto, "\n".join(unlike_moto)


async def test_generate_random_and_dry_run(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        one = (await kms.generate_random(NumberOfBytes=1024))["Plaintext"]
        two = (await kms.generate_random(NumberOfBytes=1024))["Plaintext"]
        assert len(one) == len(two) == 1024 and one != two
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", DryRun=True)
        assert error_of(caught.value) == ("DryRunOperationException", 412)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.generate_data_key(KeyId=MISSING_KEY_ID, KeySpec="AES_256", DryRun=True)
        assert error_of(caught.value) == ("NotFoundException", 400)


@functools.cache
def _kms_model() -> Any:
    return botocore.session.get_session().get_service_model("kms")


def _accepts_aliases(operation: str) -> bool:
    """Whether the KMS reference lets ``operation``'s KeyId name an alias."""
    model = _kms_model().operation_model(operation)
    return "alias name" in (model.input_shape.members["KeyId"].documentation or "")


def test_alias_identifiers_only_where_the_reference_allows_them() -> None:
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    invoke(backend, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    cases: dict[str, dict[str, Any]] = {
        "DescribeKey": {},
        "Encrypt": {"Plaintext": b"x"},
        "GenerateDataKey": {"NumberOfBytes": 8},
        "EnableKey": {},
        "DisableKey": {},
        "GetKeyPolicy": {},
        "TagResource": {"Tags": []},
        "ListResourceTags": {},
        "GetKeyRotationStatus": {},
        "UpdateKeyDescription": {"Description": "d"},
    }
    for operation, params in cases.items():
        if _accepts_aliases(operation):
            invoke(backend, operation, KeyId="alias/app", **params)
        else:
            assert fails(backend, operation, KeyId="alias/app", **params) == (
                "NotFoundException",
                "Invalid keyId 'alias/app'",
            ), operation
    assert {op for op in cases if _accepts_aliases(op)} == {
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
    }


def test_an_older_botocore_model_serves_the_operations_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokms allows botocore releases whose KMS model predates some operations
    (GetKeyLastUsage came late): LocalKMS starts and serves KMS as that model has it."""
    from aiokms.emulator import _operations

    full = _kms_model()

    class Older:
        operation_names = tuple(name for name in full.operation_names if name != "GetKeyLastUsage")

        def operation_model(self, name: str) -> Any:
            if name not in self.operation_names:
                raise botocore.exceptions.OperationNotFoundError(name)  # type: ignore[attr-defined]
            return full.operation_model(name)

    monkeypatch.setattr(_operations, "_service_model", lambda: Older())
    _operations._operations.cache_clear()
    try:
        backend = Backend(key_store())
        assert backend.operation(TARGET + "DescribeKey").name == "DescribeKey"
        with pytest.raises(KMSError) as caught:
            backend.operation(TARGET + "GetKeyLastUsage")
        assert caught.value.code == "UnknownOperationException"
    finally:
        _operations._operations.cache_clear()


def test_every_operation_is_served() -> None:
    """All the operations of botocore's KMS model; an operation a newer model adds that
    LocalKMS does not serve answers UnsupportedOperationException, naming it."""
    backend = Backend(key_store())
    names = _kms_model().operation_names
    assert set(names) == SUPPORTED_OPERATIONS and len(names) == 54
    for name in names:
        assert backend.operation(TARGET + name).name == name
    backend.operations = dict(backend.operations)
    del backend.operations[TARGET + "ReplicateKey"]  # as if the model were newer
    with pytest.raises(KMSError) as caught:
        backend.operation(TARGET + "ReplicateKey")
    assert (caught.value.code, caught.value.status) == ("UnsupportedOperationException", 400)
    assert "ReplicateKey" in caught.value.message
    for target in (None, "", "TrentService.Nope", "DynamoDB_20120810.GetItem"):
        with pytest.raises(KMSError) as caught:
            backend.operation(target)
        assert caught.value.code == "UnknownOperationException"


async def test_unknown_operation_over_http(local: LocalKMS) -> None:
    status, body = await signed_call(local, "NoSuchOperation", {})
    assert (status, body) == (400, {"__type": "UnknownOperationException"})


async def test_list_pagination(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        ids = [(await kms.create_key())["KeyMetadata"]["KeyId"] for _ in range(5)]
        for i, key_id in enumerate(ids):
            await kms.create_alias(AliasName=f"alias/page-{i}", TargetKeyId=key_id)
        await kms.tag_resource(
            KeyId=ids[0], Tags=[{"TagKey": f"t{i}", "TagValue": str(i)} for i in range(5)]
        )
        predefined = len(AWS_SERVICES)  # alias/aws/<service>, listed with no key yet
        for method, kwargs, member, count in [
            ("list_keys", {}, "Keys", 5),
            ("list_aliases", {}, "Aliases", 5 + predefined),
            ("list_resource_tags", {"KeyId": ids[0]}, "Tags", 5),
        ]:
            pages = [
                page
                async for page in kms.get_paginator(method).paginate(
                    PaginationConfig={"PageSize": 2}, **kwargs
                )
            ]
            sizes = [2] * (count // 2) + [1] * (count % 2)
            assert [len(p[member]) for p in pages] == sizes, method
            assert [p["Truncated"] for p in pages] == [True] * (len(sizes) - 1) + [False]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.list_keys(Marker="not-a-marker")
        assert error_of(caught.value) == ("InvalidMarkerException", 400)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.tag_resource(KeyId=ids[0], Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
        assert error_of(caught.value) == ("TagException", 400)


def test_decrypt_with_another_key_is_incorrect_key() -> None:
    """Decrypt reference, KeyId: "If you identify a different KMS key, the Decrypt operation
    throws an IncorrectKeyException"; ReEncrypt's SourceKeyId likewise (IncorrectKeyException:
    "The KeyId in a Decrypt request and the SourceKeyId in a ReEncrypt request must identify
    the same KMS key that was used to encrypt the ciphertext"). Whatever the other key's type.
    """
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    blob = base64.b64decode(
        invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    )
    others = [
        invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"],
        invoke(backend, "CreateKey", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"),
        invoke(backend, "CreateKey", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"),
        invoke(backend, "CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT"),
    ]
    other_ids = [o if isinstance(o, str) else o["KeyMetadata"]["KeyId"] for o in others]
    invoke(backend, "DisableKey", KeyId=other_ids[0])
    for other in other_ids:
        code, _ = fails(backend, "Decrypt", CiphertextBlob=blob, KeyId=other)
        assert code == "IncorrectKeyException", other
        code, _ = fails(
            backend,
            "ReEncrypt",
            CiphertextBlob=blob,
            SourceKeyId=other,
            DestinationKeyId=key_id,
        )
        assert code == "IncorrectKeyException", other
    assert invoke(backend, "Decrypt", CiphertextBlob=blob, KeyId=key_id)["Plaintext"]


def test_rotation_checks_the_key_state_before_the_key_type() -> None:
    """Developer Guide, "Key states of AWS KMS keys": a disabled key answers DisabledException
    and a key pending deletion KMSInvalidStateException, before RotateKeyOnDemand's
    UnsupportedOperationException for a key that is not a symmetric encryption key."""
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")[
        "KeyMetadata"
    ]["KeyId"]
    for operation in ("RotateKeyOnDemand", "EnableKeyRotation", "DisableKeyRotation"):
        assert fails(backend, operation, KeyId=key_id)[0] == "UnsupportedOperationException"
    invoke(backend, "DisableKey", KeyId=key_id)
    for operation in ("RotateKeyOnDemand", "EnableKeyRotation", "DisableKeyRotation"):
        assert fails(backend, operation, KeyId=key_id)[0] == "DisabledException", operation
    invoke(backend, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    for operation in ("RotateKeyOnDemand", "EnableKeyRotation", "DisableKeyRotation"):
        assert fails(backend, operation, KeyId=key_id)[0] == "KMSInvalidStateException"


async def test_dry_run_statuses(local: LocalKMS) -> None:
    """DryRunOperationException: HTTP 412 in the API reference, and 400 as KMS answers
    GenerateDataKeyPair's."""
    async with client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256", DryRun=True)
        assert error_of(caught.value) == ("DryRunOperationException", 400)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
        assert error_of(caught.value) == ("DryRunOperationException", 412)


async def test_errors_kms_sends_without_a_message(local: LocalKMS) -> None:
    """KMS leaves the message out of InvalidCiphertextException, KMSInvalidMacException and
    KMSInvalidSignatureException: botocore's parsed error then has no ``message`` member
    beside ``Error`` and ``ResponseMetadata``."""
    async with client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        mac_key = (await kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"))[
            "KeyMetadata"
        ]["KeyId"]
        sign_key = (await kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"))[
            "KeyMetadata"
        ]["KeyId"]
        calls = [
            kms.decrypt(CiphertextBlob=b"\x01" * 64, KeyId=key_id),
            kms.verify_mac(
                KeyId=mac_key, Message=b"m", Mac=b"\0" * 32, MacAlgorithm="HMAC_SHA_256"
            ),
            kms.verify(
                KeyId=sign_key,
                Message=b"m",
                Signature=b"\0" * 70,
                SigningAlgorithm="ECDSA_SHA_256",
            ),
        ]
        codes = []
        for call in calls:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await call
            assert set(caught.value.response) == {"Error", "ResponseMetadata"}
            assert caught.value.response["Error"]["Message"] == ""
            codes.append(caught.value.response["Error"]["Code"])
        assert codes == [
            "InvalidCiphertextException",
            "KMSInvalidMacException",
            "KMSInvalidSignatureException",
        ]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.describe_key(KeyId=MISSING_KEY_ID)
        assert caught.value.response["message"] == caught.value.response["Error"]["Message"]


# --- resource quotas (Developer Guide, "Resource quotas") ------------------------------------


def _tag_list(names: list[str]) -> list[dict[str, str]]:
    return [{"TagKey": name, "TagValue": "v"} for name in names]


def test_tags_duplicate_keys_and_more_than_fifty() -> None:
    """TagResource reference: TagException for tags that are not valid; "Tagging AWS
    resources" (General Reference): each tag key unique, at most 50 user-created tags."""
    backend = Backend(key_store())
    code, _ = fails(backend, "CreateKey", Tags=_tag_list(["a", "b", "a"]))
    assert code == "TagException"
    code, _ = fails(backend, "CreateKey", Tags=_tag_list([f"t{i}" for i in range(51)]))
    assert code == "TagException"
    key_id = invoke(backend, "CreateKey", Tags=_tag_list([f"t{i}" for i in range(50)]))[
        "KeyMetadata"
    ]["KeyId"]
    assert fails(backend, "TagResource", KeyId=key_id, Tags=_tag_list(["new"]))[0] == (
        "TagException"
    )
    # an existing key's tag is replaced, not added
    invoke(backend, "TagResource", KeyId=key_id, Tags=[{"TagKey": "t0", "TagValue": "w"}])
    assert fails(backend, "TagResource", KeyId=key_id, Tags=_tag_list(["x", "x"]))[0] == (
        "TagException"
    )
    tags = invoke(backend, "ListResourceTags", KeyId=key_id)["Tags"]
    assert len(tags) == 50 and {"TagKey": "t0", "TagValue": "w"} in tags


def test_on_demand_rotations_per_key() -> None:
    """Developer Guide, "Resource quotas" and "Perform on-demand key rotation": at most 25
    on-demand rotations per KMS key, a quota that cannot be raised; beyond it,
    LimitExceededException."""
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    for _ in range(25):
        invoke(backend, "RotateKeyOnDemand", KeyId=key_id)
    assert fails(backend, "RotateKeyOnDemand", KeyId=key_id)[0] == "LimitExceededException"
    rotations = invoke(backend, "ListKeyRotations", KeyId=key_id)["Rotations"]
    assert len(rotations) == 25


def test_aliases_per_key() -> None:
    """Developer Guide, "Resource quotas": up to 50 aliases per KMS key; a 51st, created or
    moved onto the key, is LimitExceededException."""
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    other = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    for i in range(50):
        invoke(backend, "CreateAlias", AliasName=f"alias/a{i}", TargetKeyId=key_id)
    code, _ = fails(backend, "CreateAlias", AliasName="alias/a50", TargetKeyId=key_id)
    assert code == "LimitExceededException"
    invoke(backend, "CreateAlias", AliasName="alias/other", TargetKeyId=other)
    code, _ = fails(backend, "UpdateAlias", AliasName="alias/other", TargetKeyId=key_id)
    assert code == "LimitExceededException"
    invoke(backend, "UpdateAlias", AliasName="alias/a0", TargetKeyId=key_id)  # no move
    invoke(backend, "UpdateAlias", AliasName="alias/a0", TargetKeyId=other)
    invoke(backend, "UpdateAlias", AliasName="alias/other", TargetKeyId=key_id)


def test_key_policy_size() -> None:
    """Developer Guide, "Resource quotas": key policy document size 32 KB (32,768 bytes),
    counted in UTF-8; a larger one is LimitExceededException from CreateKey and PutKeyPolicy."""
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    statement = json.loads(POLICY)

    def sized(size: int, filler: str = "x") -> str:
        policy = {**statement, "Id": ""}
        room = size - len(json.dumps(policy).encode())
        policy["Id"] = filler * (room // len(filler.encode()))
        text = json.dumps(policy, ensure_ascii=False)
        assert size - len(filler.encode()) < len(text.encode()) <= size
        return text

    invoke(backend, "PutKeyPolicy", KeyId=key_id, Policy=sized(32_768))
    assert fails(backend, "PutKeyPolicy", KeyId=key_id, Policy=sized(32_769))[0] == (
        "LimitExceededException"
    )
    assert fails(backend, "CreateKey", Policy=sized(32_769))[0] == "LimitExceededException"
    wide = sized(32_770, "é")  # two bytes a character in UTF-8: fewer characters than bytes
    assert len(wide) < 32_768 < len(wide.encode())
    assert fails(backend, "PutKeyPolicy", KeyId=key_id, Policy=wide)[0] == (
        "LimitExceededException"
    )


def test_keys_per_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Developer Guide, "Resource quotas": 100,000 customer managed keys per account and
    Region, whatever their state; CreateKey beyond is LimitExceededException."""
    from aiokms.emulator import _operations

    assert _operations.MAX_KEYS == 100_000
    monkeypatch.setattr(_operations, "MAX_KEYS", 3)
    backend = Backend(key_store())
    ids = [invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"] for _ in range(3)]
    invoke(backend, "ScheduleKeyDeletion", KeyId=ids[0], PendingWindowInDays=7)
    assert fails(backend, "CreateKey")[0] == "LimitExceededException"


# --- grants (CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant) ----------


def test_grant_operations() -> None:
    """The five grant operations' replies and errors (API reference of each)."""
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:{REGION}:111122223333:key/{key_id}"
    alice = "arn:aws:iam::111122223333:user/alice"

    def create(operations: list[str]) -> dict[str, Any]:
        return invoke(
            backend,
            "CreateGrant",
            KeyId=key_id,
            GranteePrincipal=alice,
            RetiringPrincipal="arn:aws:iam::111122223333:role/ops",
            Operations=operations,
            Constraints={"EncryptionContextSubset": {"app": "a"}},
            Name="app-grant",
        )

    created = create(["Encrypt", "Decrypt"])
    assert len(created["GrantId"]) == 64 and created["GrantToken"]
    again = create(["Decrypt", "Encrypt"])
    assert again["GrantId"] == created["GrantId"]  # the same named grant: idempotent
    listed = invoke(backend, "ListGrants", KeyId=key_id)
    assert listed["Truncated"] is False
    (entry,) = listed["Grants"]
    assert entry == {
        "KeyId": arn,
        "GrantId": created["GrantId"],
        "Name": "app-grant",
        "CreationDate": entry["CreationDate"],
        "GranteePrincipal": alice,
        "RetiringPrincipal": "arn:aws:iam::111122223333:role/ops",
        "IssuingAccount": "arn:aws:iam::111122223333:root",
        "Operations": ["Encrypt", "Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"app": "a"}},
    }
    retirable = invoke(
        backend, "ListRetirableGrants", RetiringPrincipal="arn:aws:iam::111122223333:role/ops"
    )
    assert [g["GrantId"] for g in retirable["Grants"]] == [created["GrantId"]]
    assert invoke(backend, "ListGrants", KeyId=key_id, GranteePrincipal="x")["Grants"] == []
    code, _ = fails(backend, "RevokeGrant", KeyId=key_id, GrantId="0" * 64)
    assert code == "NotFoundException"
    assert fails(backend, "RevokeGrant", KeyId=key_id, GrantId="bad")[0] == (
        "InvalidGrantIdException"
    )
    invoke(backend, "RevokeGrant", KeyId=key_id, GrantId=created["GrantId"])
    assert invoke(backend, "ListGrants", KeyId=key_id)["Grants"] == []
    assert fails(backend, "RetireGrant", GrantToken="not-a-token")[0] == (
        "InvalidGrantTokenException"
    )
    assert fails(backend, "RetireGrant", KeyId=key_id)[0] == "ValidationException"


def test_create_grant_checks() -> None:
    """CreateGrant: the operations must suit the key type ("Grant operations"), constraints
    only on symmetric encryption keys, KMS's key state errors, DryRun, and at most 50,000
    grants per key ("Resource quotas")."""
    backend = Backend(key_store())
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    signing = invoke(backend, "CreateKey", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")[
        "KeyMetadata"
    ]["KeyId"]
    bob = "arn:aws:iam::111122223333:user/bob"
    assert fails(
        backend, "CreateGrant", KeyId=signing, GranteePrincipal=bob, Operations=["Encrypt"]
    )[0] == ("ValidationException")
    invoke(backend, "CreateGrant", KeyId=signing, GranteePrincipal=bob, Operations=["Sign"])
    assert fails(
        backend,
        "CreateGrant",
        KeyId=signing,
        GranteePrincipal=bob,
        Operations=["Sign"],
        Constraints={"EncryptionContextEquals": {"a": "b"}},
    )[0] == ("ValidationException")
    assert fails(
        backend, "CreateGrant", KeyId=key_id, GranteePrincipal="bob", Operations=["Encrypt"]
    )[0] == ("ValidationException")
    assert fails(
        backend,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal=bob,
        Operations=["Encrypt"],
        DryRun=True,
    )[0] == ("DryRunOperationException")
    assert invoke(backend, "ListGrants", KeyId=key_id)["Grants"] == []
    invoke(backend, "DisableKey", KeyId=key_id)
    assert fails(
        backend, "CreateGrant", KeyId=key_id, GranteePrincipal=bob, Operations=["Encrypt"]
    )[0] == ("DisabledException")
    from aiokms.emulator import _operations

    assert _operations.MAX_GRANTS_PER_KEY == 50_000
    invoke(backend, "EnableKey", KeyId=key_id)
    limited = pytest.MonkeyPatch()
    with limited.context() as patch:
        patch.setattr(_operations, "MAX_GRANTS_PER_KEY", 2)
        for _ in range(2):
            invoke(
                backend, "CreateGrant", KeyId=key_id, GranteePrincipal=bob, Operations=["Encrypt"]
            )
        assert fails(
            backend, "CreateGrant", KeyId=key_id, GranteePrincipal=bob, Operations=["Encrypt"]
        )[0] == ("LimitExceededException")


async def test_get_key_last_usage(local: LocalKMS) -> None:
    """GetKeyLastUsage reference: the last successful cryptographic operation, its time and
    KMS request id, tracked from the key's creation; ReEncrypt records both of its keys, and
    a failed or DryRun request nothing."""
    async with client_of(local) as kms:
        first = (await kms.create_key())["KeyMetadata"]
        second = (await kms.create_key())["KeyMetadata"]
        fresh = await kms.get_key_last_usage(KeyId=first["KeyId"])
        assert "KeyLastUsage" not in fresh
        assert fresh["KeyId"] == first["Arn"]
        assert fresh["TrackingStartDate"] == fresh["KeyCreationDate"] == first["CreationDate"]
        encrypted = await kms.encrypt(KeyId=first["KeyId"], Plaintext=b"x")
        used = (await kms.get_key_last_usage(KeyId=first["KeyId"]))["KeyLastUsage"]
        assert used["Operation"] == "Encrypt"
        assert used["KmsRequestId"] == encrypted["ResponseMetadata"]["RequestId"]
        assert len(used["CloudTrailEventId"]) == 36
        with pytest.raises(botocore.exceptions.ClientError):
            await kms.decrypt(CiphertextBlob=b"\x01" * 64, KeyId=first["KeyId"])
        with pytest.raises(botocore.exceptions.ClientError):
            await kms.encrypt(KeyId=first["KeyId"], Plaintext=b"x", DryRun=True)
        again = (await kms.get_key_last_usage(KeyId=first["KeyId"]))["KeyLastUsage"]
        assert again == used
        await kms.re_encrypt(
            CiphertextBlob=encrypted["CiphertextBlob"], DestinationKeyId=second["KeyId"]
        )
        for key in (first, second):
            last = (await kms.get_key_last_usage(KeyId=key["KeyId"]))["KeyLastUsage"]
            assert last["Operation"] == "ReEncrypt"


async def test_imported_key_material_over_http(local: LocalKMS) -> None:
    """The import workflow of the Developer Guide ("Importing key material") with
    aiobotocore: a key of origin EXTERNAL, its wrapping key and import token, the wrapped
    material imported, then the key in use, rotated on demand to new imported material (the
    new members of ListKeyRotations and DescribeKey as botocore parses them)."""
    async with client_of(local) as kms:
        key_id = (await kms.create_key(Origin="EXTERNAL"))["KeyMetadata"]["KeyId"]

        async def import_material(algorithm: str, spec: str, material: bytes, **extra: Any) -> None:
            parameters = await kms.get_parameters_for_import(
                KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
            )
            await kms.import_key_material(
                KeyId=key_id,
                ImportToken=parameters["ImportToken"],
                EncryptedKeyMaterial=wrap_key_material(
                    parameters["PublicKey"], algorithm, material
                ),
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                **extra,
            )

        await import_material("RSA_AES_KEY_WRAP_SHA_256", "RSA_3072", bytes(range(32)))
        blob = (await kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT))["CiphertextBlob"]
        assert (await kms.decrypt(CiphertextBlob=blob))["Plaintext"] == PLAINTEXT
        # on-demand rotation to new imported key material (RotateKeyOnDemand reference)
        await import_material(
            "RSAES_OAEP_SHA_256",
            "RSA_2048",
            bytes(range(1, 33)),
            ImportType="NEW_KEY_MATERIAL",
            KeyMaterialDescription="second",
        )
        await kms.rotate_key_on_demand(KeyId=key_id)
        (rotation,) = (await kms.list_key_rotations(KeyId=key_id))["Rotations"]
        assert (rotation["ImportState"], rotation["KeyMaterialState"]) == ("IMPORTED", "CURRENT")
        assert rotation["KeyMaterialDescription"] == "second"
        assert rotation["RotationType"] == "ON_DEMAND"
        meta = (await kms.describe_key(KeyId=key_id))["KeyMetadata"]
        assert meta["CurrentKeyMaterialId"] == rotation["KeyMaterialId"]
        assert (await kms.decrypt(CiphertextBlob=blob))["Plaintext"] == PLAINTEXT
        await kms.delete_imported_key_material(KeyId=key_id)
        with pytest.raises(kms.exceptions.KMSInvalidStateException):
            await kms.decrypt(CiphertextBlob=blob)


# --- custom key stores (simulated) -----------------------------------------------------------

_CLOUDHSM = {
    "CustomKeyStoreName": "hsm-store",
    "CloudHsmClusterId": "cluster-234abcdefgh",
    "TrustAnchorCertificate": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----",
    "KeyStorePassword": "kmsuser-password",
}
_XKS = {
    "CustomKeyStoreName": "xks-store",
    "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
    "XksProxyUriEndpoint": "https://xks.example.com",
    "XksProxyUriPath": "/example/kms/xks/v1",
    "XksProxyConnectivity": "PUBLIC_ENDPOINT",
    "XksProxyAuthenticationCredential": {
        "AccessKeyId": "ABCDE23456723EXAMPLE",
        "RawSecretAccessKey": "DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo=",
    },
}


def test_custom_key_store_lifecycle() -> None:
    """The custom key store operations' API reference pages, simulated: a store is created
    DISCONNECTED, connects at once, holds symmetric keys (origin AWS_CLOUDHSM or
    EXTERNAL_KEY_STORE) that are Unavailable while it is disconnected (key state table), and
    is deleted only disconnected and empty."""
    backend = Backend(key_store())
    hsm = invoke(backend, "CreateCustomKeyStore", **_CLOUDHSM)["CustomKeyStoreId"]
    xks = invoke(backend, "CreateCustomKeyStore", **_XKS)["CustomKeyStoreId"]
    assert hsm.startswith("cks-") and len(hsm) == 21
    described = invoke(backend, "DescribeCustomKeyStores")["CustomKeyStores"]
    assert [(d["CustomKeyStoreType"], d["ConnectionState"]) for d in described] == [
        ("AWS_CLOUDHSM", "DISCONNECTED"),
        ("EXTERNAL_KEY_STORE", "DISCONNECTED"),
    ]
    assert described[1]["XksProxyConfiguration"] == {
        "Connectivity": "PUBLIC_ENDPOINT",
        "UriEndpoint": "https://xks.example.com",
        "UriPath": "/example/kms/xks/v1",
        "AccessKeyId": "ABCDE23456723EXAMPLE",
    }
    assert "RawSecretAccessKey" not in str(described) and "kmsuser-password" not in str(described)
    code, _ = fails(backend, "CreateKey", Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm)
    assert code == "CustomKeyStoreInvalidStateException"
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=xks)
    in_hsm = invoke(backend, "CreateKey", Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm)[
        "KeyMetadata"
    ]
    assert (in_hsm["Origin"], in_hsm["CustomKeyStoreId"], in_hsm["CloudHsmClusterId"]) == (
        "AWS_CLOUDHSM",
        hsm,
        "cluster-234abcdefgh",
    )
    in_xks = invoke(
        backend,
        "CreateKey",
        Origin="EXTERNAL_KEY_STORE",
        CustomKeyStoreId=xks,
        XksKeyId="external-key-1",
    )["KeyMetadata"]
    assert in_xks["XksKeyConfiguration"] == {"Id": "external-key-1"}
    blob = invoke(backend, "Encrypt", KeyId=in_hsm["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert fails(backend, "EnableKeyRotation", KeyId=in_hsm["KeyId"])[0] == (
        "UnsupportedOperationException"
    )
    invoke(backend, "GenerateRandom", NumberOfBytes=8, CustomKeyStoreId=hsm)
    assert fails(backend, "DeleteCustomKeyStore", CustomKeyStoreId=hsm)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    invoke(backend, "DisconnectCustomKeyStore", CustomKeyStoreId=hsm)
    meta = invoke(backend, "DescribeKey", KeyId=in_hsm["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Unavailable", False)
    assert fails(backend, "Decrypt", CiphertextBlob=base64.b64decode(blob)) == (
        "KMSInvalidStateException",
        f"{in_hsm['Arn']} is unavailable.",
    )
    assert fails(backend, "DisconnectCustomKeyStore", CustomKeyStoreId=hsm)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    assert fails(backend, "DeleteCustomKeyStore", CustomKeyStoreId=hsm)[0] == (
        "CustomKeyStoreHasCMKsException"
    )
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    assert invoke(backend, "Decrypt", CiphertextBlob=base64.b64decode(blob))["Plaintext"]
    invoke(backend, "DisconnectCustomKeyStore", CustomKeyStoreId=xks)
    invoke(backend, "UpdateCustomKeyStore", CustomKeyStoreId=xks, XksProxyUriPath="/kms/xks/v2")
    store = backend.store
    del store.keys[in_xks["KeyId"]]  # as if its deletion's waiting period had passed
    invoke(backend, "DeleteCustomKeyStore", CustomKeyStoreId=xks)
    assert fails(backend, "DescribeCustomKeyStores", CustomKeyStoreId=xks)[0] == (
        "CustomKeyStoreNotFoundException"
    )


def test_custom_key_store_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = Backend(key_store())
    hsm = invoke(backend, "CreateCustomKeyStore", **_CLOUDHSM)["CustomKeyStoreId"]
    assert fails(backend, "CreateCustomKeyStore", **_CLOUDHSM)[0] == (
        "CustomKeyStoreNameInUseException"
    )
    assert fails(backend, "CreateCustomKeyStore", **{**_CLOUDHSM, "CustomKeyStoreName": "b"})[
        0
    ] == ("CloudHsmClusterInUseException")
    assert fails(backend, "CreateCustomKeyStore", CustomKeyStoreName="c")[0] == (
        "ValidationException"
    )
    invoke(backend, "UpdateCustomKeyStore", CustomKeyStoreId=hsm, NewCustomKeyStoreName="new")
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    assert fails(
        backend, "UpdateCustomKeyStore", CustomKeyStoreId=hsm, KeyStorePassword="other-password"
    )[0] == ("CustomKeyStoreInvalidStateException")
    for params in (
        {"Origin": "AWS_CLOUDHSM"},
        {"CustomKeyStoreId": hsm},
        {"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": hsm},
    ):
        assert fails(backend, "CreateKey", **params)[0] == "ValidationException", params
    assert fails(
        backend,
        "CreateKey",
        Origin="AWS_CLOUDHSM",
        CustomKeyStoreId=hsm,
        KeySpec="HMAC_256",
        KeyUsage="GENERATE_VERIFY_MAC",
    )[0] == ("UnsupportedOperationException")
    assert fails(backend, "CreateKey", Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-none")[0] == (
        "CustomKeyStoreNotFoundException"
    )
    from aiokms.emulator import _operations

    assert _operations.MAX_CUSTOM_KEY_STORES == 10
    monkeypatch.setattr(_operations, "MAX_CUSTOM_KEY_STORES", 1)
    assert fails(backend, "CreateCustomKeyStore", **_XKS)[0] == "LimitExceededException"
    restored = key_store()
    restored.restore(backend.store.snapshot())
    assert invoke(Backend(restored), "DescribeCustomKeyStores") == invoke(
        backend, "DescribeCustomKeyStores"
    )


def test_custom_key_store_connection_states() -> None:
    """The connection states of DescribeCustomKeyStores' ConnectionState, simulated on the
    store's clock (API reference, ConnectCustomKeyStore: the connection is made after the call
    returns; CustomKeyStoreInvalidStateException: which state refuses which operation;
    CustomKeyStoresListEntry: ConnectionErrorCode only when FAILED). A connection takes
    ``connect_seconds`` (CONNECTING, then CONNECTED, or FAILED with the code
    ``connection_errors`` gives the cluster or proxy); a disconnection as long
    (DISCONNECTING, then DISCONNECTED); a FAILED store is disconnected before it connects."""
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    store.connect_seconds = 60.0
    store.connection_errors = {"https://xks.example.com": "XKS_PROXY_NOT_REACHABLE"}
    backend = Backend(store)
    hsm = invoke(backend, "CreateCustomKeyStore", **_CLOUDHSM)["CustomKeyStoreId"]
    xks = invoke(backend, "CreateCustomKeyStore", **_XKS)["CustomKeyStoreId"]

    def state(store_id: str) -> tuple[str, str | None]:
        entry = invoke(backend, "DescribeCustomKeyStores", CustomKeyStoreId=store_id)[
            "CustomKeyStores"
        ][0]
        return entry["ConnectionState"], entry.get("ConnectionErrorCode")

    def refused(operation: str, **params: Any) -> None:
        code, message = fails(backend, operation, **params)
        assert code == "CustomKeyStoreInvalidStateException", (operation, code, message)

    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    assert state(hsm) == ("CONNECTING", None)
    refused("CreateKey", Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm)
    refused("GenerateRandom", NumberOfBytes=8, CustomKeyStoreId=hsm)
    refused("DeleteCustomKeyStore", CustomKeyStoreId=hsm)
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)  # valid while CONNECTING
    clock.now += 60
    assert state(hsm) == ("CONNECTED", None)
    key_id = invoke(backend, "CreateKey", Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm)[
        "KeyMetadata"
    ]["KeyId"]
    invoke(backend, "DisconnectCustomKeyStore", CustomKeyStoreId=hsm)
    assert state(hsm) == ("DISCONNECTING", None)
    refused("ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    refused("DisconnectCustomKeyStore", CustomKeyStoreId=hsm)
    refused("UpdateCustomKeyStore", CustomKeyStoreId=hsm, KeyStorePassword="other-password")
    assert invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == (
        "Unavailable"
    )
    clock.now += 60
    assert state(hsm) == ("DISCONNECTED", None)
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    assert fails(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")[0] == (
        "KMSInvalidStateException"  # Unavailable until the connection is made
    )
    clock.now += 60
    assert invoke(backend, "Encrypt", KeyId=key_id, Plaintext=b"x")["KeyId"]
    assert invoke(backend, "DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=xks)
    assert state(xks) == ("CONNECTING", None)
    clock.now += 60
    assert state(xks) == ("FAILED", "XKS_PROXY_NOT_REACHABLE")
    refused("ConnectCustomKeyStore", CustomKeyStoreId=xks)
    refused("CreateKey", Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=xks, XksKeyId="k")
    refused("DeleteCustomKeyStore", CustomKeyStoreId=xks)
    invoke(backend, "DisconnectCustomKeyStore", CustomKeyStoreId=xks)  # valid when FAILED
    clock.now += 60
    assert state(xks) == ("DISCONNECTED", None)
    restored = key_store(clock)
    restored.restore(store.snapshot())
    assert invoke(Backend(restored), "DescribeCustomKeyStores") == invoke(
        backend, "DescribeCustomKeyStores"
    )
    invoke(backend, "DeleteCustomKeyStore", CustomKeyStoreId=xks)


def test_custom_key_store_invalid_credentials() -> None:
    """ConnectionErrorCode INVALID_CREDENTIALS (API reference, CustomKeyStoresListEntry: "The
    KeyStorePassword for the custom key store doesn't match the current password of the
    kmsuser crypto user in the CloudHSM cluster"; UpdateCustomKeyStore, KeyStorePassword: it
    "does not set or change the password of any users in the CloudHSM cluster"). The simulated
    cluster's kmsuser password is the one the store was created with: after an update to
    another, connecting ends FAILED with INVALID_CREDENTIALS; updated back, it connects. No
    password is kept, in the store or its snapshot; an external key store takes none."""
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    backend = Backend(store)
    hsm = invoke(backend, "CreateCustomKeyStore", **_CLOUDHSM)["CustomKeyStoreId"]

    def connect() -> tuple[str, str | None]:
        invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
        entry = invoke(backend, "DescribeCustomKeyStores", CustomKeyStoreId=hsm)["CustomKeyStores"][
            0
        ]
        return entry["ConnectionState"], entry.get("ConnectionErrorCode")

    invoke(
        backend, "UpdateCustomKeyStore", CustomKeyStoreId=hsm, KeyStorePassword="not-the-password"
    )
    assert connect() == ("FAILED", "INVALID_CREDENTIALS")
    invoke(backend, "DisconnectCustomKeyStore", CustomKeyStoreId=hsm)
    invoke(
        backend,
        "UpdateCustomKeyStore",
        CustomKeyStoreId=hsm,
        KeyStorePassword=_CLOUDHSM["KeyStorePassword"],
    )
    assert connect() == ("CONNECTED", None)
    snapshot = json.dumps(store.snapshot())
    assert "kmsuser-password" not in snapshot and "not-the-password" not in snapshot
    # a store from a state file written before passwords were compared: the first password
    # given is taken as the cluster's
    older = json.loads(snapshot)
    for record in older["custom_key_stores"]:
        del record["PasswordDigest"], record["KmsuserDigest"]
    restored = key_store(clock)
    restored.restore(older)
    again = Backend(restored)
    invoke(again, "DisconnectCustomKeyStore", CustomKeyStoreId=hsm)
    clock.now += 1
    invoke(again, "UpdateCustomKeyStore", CustomKeyStoreId=hsm, KeyStorePassword="another-one")
    invoke(again, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    described = invoke(again, "DescribeCustomKeyStores", CustomKeyStoreId=hsm)
    assert described["CustomKeyStores"][0]["ConnectionState"] == "CONNECTED"
    xks = invoke(backend, "CreateCustomKeyStore", **_XKS)["CustomKeyStoreId"]
    code, message = fails(
        backend, "UpdateCustomKeyStore", CustomKeyStoreId=xks, KeyStorePassword="x" * 8
    )
    assert code == "ValidationException" and "KeyStorePassword" in message


async def test_custom_key_store_connection_failure_over_http() -> None:
    """LocalKMS's ``custom_key_store_errors``: connecting a store whose cluster is named ends
    FAILED with that ConnectionErrorCode, as DescribeCustomKeyStores reports it to boto3;
    other stores connect (``custom_key_store_delay`` defaults to none)."""
    errors = {_CLOUDHSM["CloudHsmClusterId"]: "INSUFFICIENT_CLOUDHSM_HSMS"}
    async with LocalKMS(custom_key_store_errors=errors) as local, client_of(local) as kms:
        hsm = (await kms.create_custom_key_store(**_CLOUDHSM))["CustomKeyStoreId"]
        xks = (await kms.create_custom_key_store(**_XKS))["CustomKeyStoreId"]
        await kms.connect_custom_key_store(CustomKeyStoreId=hsm)
        await kms.connect_custom_key_store(CustomKeyStoreId=xks)
        stores = (await kms.describe_custom_key_stores())["CustomKeyStores"]
        assert [(s["ConnectionState"], s.get("ConnectionErrorCode")) for s in stores] == [
            ("FAILED", "INSUFFICIENT_CLOUDHSM_HSMS"),
            ("CONNECTED", None),
        ]
        with pytest.raises(kms.exceptions.CustomKeyStoreInvalidStateException):
            await kms.connect_custom_key_store(CustomKeyStoreId=hsm)
    with pytest.raises(ValueError, match="custom_key_store_errors"):
        LocalKMS(custom_key_store_errors={"cluster-1": "BROKEN"})
    with pytest.raises(ValueError, match="custom_key_store_delay"):
        LocalKMS(custom_key_store_delay=-1)


async def test_key_in_custom_key_store_is_creating() -> None:
    """A key made in a custom key store is Creating for a moment (Developer Guide, "Key states
    of AWS KMS keys": a transient state; no cryptographic operation meanwhile,
    KMSInvalidStateException), then Enabled: over HTTP with LocalKMS's default
    ``key_state_delay`` (0: until the next request that uses it), and on the store's clock for
    a longer one."""
    async with LocalKMS() as local, client_of(local) as kms:
        hsm = (await kms.create_custom_key_store(**_CLOUDHSM))["CustomKeyStoreId"]
        await kms.connect_custom_key_store(CustomKeyStoreId=hsm)
        (await kms.describe_custom_key_stores())  # the connection settles
        made = await kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm)
        assert made["KeyMetadata"]["KeyState"] == "Creating"
        key_id = made["KeyMetadata"]["KeyId"]
        assert (await kms.describe_key(KeyId=key_id))["KeyMetadata"]["KeyState"] == "Enabled"
        assert (await kms.encrypt(KeyId=key_id, Plaintext=b"x"))["CiphertextBlob"]
    with pytest.raises(ValueError, match="key_state_delay"):
        LocalKMS(key_state_delay=-1)
    clock = FakeClock(1.7e9)
    store = key_store(clock)
    store.transition_seconds = 3.0
    backend = Backend(store)
    hsm = invoke(backend, "CreateCustomKeyStore", **_CLOUDHSM)["CustomKeyStoreId"]
    invoke(backend, "ConnectCustomKeyStore", CustomKeyStoreId=hsm)
    meta = invoke(backend, "CreateKey", Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm)["KeyMetadata"]
    assert fails(backend, "Encrypt", KeyId=meta["KeyId"], Plaintext=b"x") == (
        "KMSInvalidStateException",
        f"{meta['Arn']} is creating.",
    )
    clock.now += 3
    assert invoke(backend, "Encrypt", KeyId=meta["KeyId"], Plaintext=b"x")["CiphertextBlob"]


# --- multi-Region keys -------------------------------------------------------------------------


async def test_multi_region_keys(tmp_path: Any) -> None:
    """ReplicateKey and UpdatePrimaryRegion (API reference), the replica served in its own
    Region by the same LocalKMS: same key id and material, its own policy and tags; a
    ciphertext of one Region decrypts in the other; rotation is the primary's."""
    path = tmp_path / "state.json"
    async with LocalKMS(regions=["us-west-2"], state_file=path) as local:
        async with client_of(local) as east, client_of(local, region="us-west-2") as west:
            primary = (await east.create_key(MultiRegion=True))["KeyMetadata"]
            key_id = primary["KeyId"]
            assert key_id.startswith("mrk-")
            replicated = await east.replicate_key(
                KeyId=key_id,
                ReplicaRegion="us-west-2",
                Description="west",
                Tags=[{"TagKey": "team", "TagValue": "a"}],
            )
            replica = replicated["ReplicaKeyMetadata"]
            west_arn = f"arn:aws:kms:us-west-2:111122223333:key/{key_id}"
            assert (replica["KeyId"], replica["Arn"], replica["Description"]) == (
                key_id,
                west_arn,
                "west",
            )
            assert replica["MultiRegionConfiguration"] == {
                "MultiRegionKeyType": "REPLICA",
                "PrimaryKey": {"Arn": primary["Arn"], "Region": "us-east-1"},
                "ReplicaKeys": [{"Arn": west_arn, "Region": "us-west-2"}],
            }
            assert replicated["ReplicaTags"] == [{"TagKey": "team", "TagValue": "a"}]
            east_meta = (await east.describe_key(KeyId=key_id))["KeyMetadata"]
            assert east_meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
            assert (await west.list_keys())["Keys"] == [{"KeyId": key_id, "KeyArn": west_arn}]
            blob = (await east.encrypt(KeyId=key_id, Plaintext=PLAINTEXT))["CiphertextBlob"]
            assert (await west.decrypt(CiphertextBlob=blob))["Plaintext"] == PLAINTEXT
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await east.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2")
            assert error_of(caught.value) == ("AlreadyExistsException", 400)
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await west.rotate_key_on_demand(KeyId=key_id)
            assert error_of(caught.value) == ("UnsupportedOperationException", 400)
            await east.rotate_key_on_demand(KeyId=key_id)
            rotated = (await west.encrypt(KeyId=key_id, Plaintext=PLAINTEXT))["CiphertextBlob"]
            assert (await east.decrypt(CiphertextBlob=rotated))["Plaintext"] == PLAINTEXT
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await east.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
            assert error_of(caught.value) == ("UnsupportedOperationException", 400)
            single = (await east.create_key())["KeyMetadata"]["KeyId"]
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await east.replicate_key(KeyId=single, ReplicaRegion="us-west-2")
            assert error_of(caught.value) == ("UnsupportedOperationException", 400)
            await east.update_primary_region(KeyId=key_id, PrimaryRegion="us-west-2")
            config = (await west.describe_key(KeyId=key_id))["KeyMetadata"][
                "MultiRegionConfiguration"
            ]
            assert config["MultiRegionKeyType"] == "PRIMARY"
            assert config["ReplicaKeys"] == [{"Arn": primary["Arn"], "Region": "us-east-1"}]
            await west.rotate_key_on_demand(KeyId=key_id)
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await east.rotate_key_on_demand(KeyId=key_id)
            assert error_of(caught.value) == ("UnsupportedOperationException", 400)
        assert local.stats().keys == 3
    async with (
        LocalKMS(regions=["us-west-2"], state_file=path) as again,
        client_of(again) as east,
        client_of(again, region="us-west-2") as west,
    ):
        await west.rotate_key_on_demand(KeyId=key_id)  # the replica shares it again
        blob = (await east.encrypt(KeyId=key_id, Plaintext=PLAINTEXT))["CiphertextBlob"]
        assert (await west.decrypt(CiphertextBlob=blob))["Plaintext"] == PLAINTEXT
        rotations = (await east.list_key_rotations(KeyId=key_id))["Rotations"]
        assert len(rotations) == 3


async def test_requests_go_to_the_region_they_are_signed_for() -> None:
    async with LocalKMS(regions=["eu-west-1"]) as local:
        async with client_of(local) as east, client_of(local, region="eu-west-1") as europe:
            key_id = (await east.create_key())["KeyMetadata"]["KeyId"]
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await europe.describe_key(KeyId=key_id)
            assert error_of(caught.value) == ("NotFoundException", 400)
        async with client_of(local, region="ap-south-1") as elsewhere:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await elsewhere.list_keys()
            assert error_of(caught.value) == ("InvalidSignatureException", 400)
    with pytest.raises(ValueError, match="regions"):
        LocalKMS(regions=["us-east-1"])
