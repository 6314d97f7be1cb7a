"""A scenario touching every KMS operation moto serves, recorded as a transcript.

moto (in server mode, listening on 127.0.0.1 only) is the third party: aiokms and aiobotocore
(the reference client) talk to the same server, and what they see must match. The scenario
also calls paginators, checks parameters client-side and meets modelled errors; its transcript
holds, for every step, the operation and either the response's structure (keys and leaf
types; of ``ResponseMetadata`` only the HTTP status) or the error code and exception class.
The tests are in ``test_client.py`` (transcripts, cross-decryption) and ``test_signing.py``
(signatures checked by moto with IAM authentication on).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiobotocore.session
import aiohttp
import botocore.exceptions
import botocore.session
from botocore import xform_name
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import aiokms

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
TEST_KEY = ("testing", "testing")

# The KMS operations the scenario calls: all those moto serves as of 5.2. moto answers the others
# (custom key stores, key import, DeriveSharedSecret, GenerateDataKeyPair, ...) with a bare HTTP
# 500, which botocore then retries, so the scenario leaves them out. A moto release that serves
# more needs no change here; one that served fewer would fail test_moto_serves_the_scenario
# (test_client.py).
SCENARIO_OPERATIONS = frozenset(
    {
        "CancelKeyDeletion",
        "CreateAlias",
        "CreateGrant",
        "CreateKey",
        "Decrypt",
        "DeleteAlias",
        "DescribeKey",
        "DisableKey",
        "DisableKeyRotation",
        "EnableKey",
        "EnableKeyRotation",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeyRotations",
        "ListKeys",
        "ListResourceTags",
        "ListRetirableGrants",
        "PutKeyPolicy",
        "ReEncrypt",
        "ReplicateKey",
        "RetireGrant",
        "RevokeGrant",
        "RotateKeyOnDemand",
        "ScheduleKeyDeletion",
        "Sign",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateKeyDescription",
        "Verify",
        "VerifyMac",
    }
)

KMS_OPERATIONS = tuple(botocore.session.get_session().get_service_model("kms").operation_names)
OPERATION_BY_METHOD = {xform_name(name): name for name in KMS_OPERATIONS}

# Scenario data. Encryption contexts and tags carry non-ASCII text on purpose (it changes the
# request body's bytes, hence the payload hash that SigV4 signs).
ALIAS = "alias/aiokms-scenario"
ALIAS_2 = "alias/aiokms-scenario-2"
ALIAS_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:{ALIAS}"
CONTEXT = {"purpose": "moto scenario", "ünïcødé": "値 ☃ 𝄞", "emoji": "🔑"}
WRONG_CONTEXT = {**CONTEXT, "purpose": "something else"}
PLAINTEXT = "secret ✓ données 秘密".encode()
GRANTEE = f"arn:aws:iam::{ACCOUNT}:user/aiokms-grantee"
RETIREE = f"arn:aws:iam::{ACCOUNT}:user/aiokms-retiree"
MISSING_KEY_ID = "00000000-0000-0000-0000-000000000000"
KEY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Id": "aiokms-scenario",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)
KMS_ALLOW_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
    }
)

ClientFactory = Callable[..., AbstractAsyncContextManager[Any]]


# --------------------------------------------------------------------------------------------
# Servers and clients
# --------------------------------------------------------------------------------------------


async def reset_moto(url: str) -> None:
    """Drop all of moto's state (keys, aliases, grants, ...), so that runs start alike."""
    async with aiohttp.ClientSession() as session, session.post(f"{url}/moto-api/reset") as resp:
        assert resp.status == 200, await resp.text()


def aiobotocore_client(
    url: str, access_key: str = TEST_KEY[0], secret_key: str = TEST_KEY[1]
) -> AbstractAsyncContextManager[Any]:
    return aiobotocore.session.get_session().create_client(  # type: ignore[no-any-return]
        "kms",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )


def aiokms_client(
    url: str, access_key: str = TEST_KEY[0], secret_key: str = TEST_KEY[1]
) -> AbstractAsyncContextManager[Any]:
    return aiokms.KMSClient(
        region_name=REGION,
        endpoint_url=url,
        credentials=aiokms.Credentials(access_key, secret_key),
    )


# --------------------------------------------------------------------------------------------
# Transcripts
# --------------------------------------------------------------------------------------------


def shape(value: Any) -> Any:
    """A value's structure: dict keys sorted, lists kept in order, leaves replaced by type names.

    Datetimes are told apart by awareness: botocore returns timezone-aware ones.
    """
    if isinstance(value, dict):
        return {key: shape(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, datetime.datetime):
        return "datetime" if value.tzinfo is not None else "datetime(naive)"
    return type(value).__name__


def response_shape(response: dict[str, Any]) -> Any:
    body = shape({key: val for key, val in response.items() if key != "ResponseMetadata"})
    body["ResponseMetadata"] = {"HTTPStatusCode": response["ResponseMetadata"]["HTTPStatusCode"]}
    return body


def error_record(err: botocore.exceptions.ClientError) -> dict[str, Any]:
    return {
        "code": err.response["Error"]["Code"],
        "class": type(err).__name__,
        "operation_name": err.operation_name,
        "response": response_shape(err.response),
    }


class Diverged(Exception):
    """A step expected to succeed failed; the transcript ends there."""


class Recorder:
    """Calls client methods by their snake_case name and writes down what came back."""

    def __init__(self, kms: Any) -> None:
        self.kms = kms
        self.transcript: list[tuple[Any, ...]] = []
        self.operations: set[str] = set()

    async def _call(self, method: str, kwargs: dict[str, Any]) -> Any:
        operation = OPERATION_BY_METHOD[method]
        self.operations.add(operation)
        try:
            response = await getattr(self.kms, method)(**kwargs)
        except botocore.exceptions.ClientError as err:
            self.transcript.append((operation, "error", error_record(err)))
            return err
        except botocore.exceptions.ParamValidationError as err:  # raised before sending
            self.transcript.append((operation, "client-side", type(err).__name__))
            return err
        self.transcript.append((operation, response_shape(response)))
        return response

    async def ok(self, method: str, **kwargs: Any) -> dict[str, Any]:
        result = await self._call(method, kwargs)
        if isinstance(result, Exception):
            raise Diverged(method) from result
        return result  # type: ignore[no-any-return]

    async def fails(self, method: str, **kwargs: Any) -> botocore.exceptions.ClientError | None:
        result = await self._call(method, kwargs)
        return result if isinstance(result, botocore.exceptions.ClientError) else None

    async def pages(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        operation = OPERATION_BY_METHOD[method]
        self.operations.add(operation)
        pages: list[dict[str, Any]] = []
        async for page in self.kms.get_paginator(method).paginate(**kwargs):
            self.transcript.append((operation, "page", response_shape(page)))
            pages.append(page)
        return pages

    def check(self, what: str, value: Any) -> None:
        """Record a deterministic value (never a random one: ids, ciphertexts, dates)."""
        self.transcript.append(("check", what, value))


async def kms_scenario(kms: Any) -> tuple[list[tuple[Any, ...]], set[str]]:
    """Run the scenario on ``kms``; return its transcript and the operations it invoked."""
    rec = Recorder(kms)
    try:
        await _scenario(rec)
    except Diverged as exc:
        rec.check("diverged at", str(exc))
    return rec.transcript, rec.operations


async def _scenario(rec: Recorder) -> None:
    kms = rec.kms

    # --- keys -------------------------------------------------------------------------------
    sym = (
        await rec.ok(
            "create_key",
            Description="aiokms symmetric",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": "team", "TagValue": "crypto"}],
        )
    )["KeyMetadata"]
    sym_id, sym_arn = sym["KeyId"], sym["Arn"]
    sym2 = (await rec.ok("create_key"))["KeyMetadata"]
    sym2_id, sym2_arn = sym2["KeyId"], sym2["Arn"]
    rsa = (await rec.ok("create_key", KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT"))[
        "KeyMetadata"
    ]
    ecc = (await rec.ok("create_key", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"))[
        "KeyMetadata"
    ]
    hmac_key = (await rec.ok("create_key", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"))[
        "KeyMetadata"
    ]
    mrk = (await rec.ok("create_key", MultiRegion=True, Description="multi-region"))["KeyMetadata"]
    for name, meta in [("sym", sym), ("sym2", sym2), ("rsa", rsa), ("ecc", ecc)]:
        rec.check(
            f"CreateKey {name}",
            {k: meta.get(k) for k in ("KeySpec", "KeyUsage", "KeyState", "Enabled", "Origin")},
        )
    rec.check("CreateKey hmac", (hmac_key["KeySpec"], hmac_key["KeyUsage"]))
    rec.check("CreateKey mrk", (mrk["MultiRegion"], mrk["KeyId"].startswith("mrk-")))
    rec.check("CreateKey arn", sym_arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{sym_id}")

    await rec.ok("describe_key", KeyId=sym_id)
    described = await rec.ok("describe_key", KeyId=sym_arn)
    rec.check("DescribeKey by ARN", described["KeyMetadata"]["KeyId"] == sym_id)

    err = await rec.fails("describe_key", KeyId=MISSING_KEY_ID)
    rec.check(
        "NotFoundException is kms.exceptions.NotFoundException",
        isinstance(err, kms.exceptions.NotFoundException),
    )
    rec.check(
        "NotFoundException is botocore ClientError",
        isinstance(err, botocore.exceptions.ClientError),
    )
    rec.check(
        "NotFoundException is kms.exceptions.ClientError",
        isinstance(err, kms.exceptions.ClientError),
    )
    await rec.fails("describe_key", KeyId="not-a-key-id")

    # Client-side parameter validation: nothing is sent.
    for method, kwargs in [("describe_key", {}), ("encrypt", {"Plaintext": b"x"})]:
        try:
            await getattr(kms, method)(**kwargs)
        except Exception as exc:  # the class is what is recorded
            rec.check(
                f"{method} without KeyId",
                (type(exc).__name__, isinstance(exc, botocore.exceptions.ParamValidationError)),
            )
        else:
            rec.check(f"{method} without KeyId", "no exception")

    await rec.ok("update_key_description", KeyId=sym_id, Description="updated ✓ описание")
    described = await rec.ok("describe_key", KeyId=sym_id)
    rec.check("UpdateKeyDescription", described["KeyMetadata"]["Description"])

    # --- aliases ----------------------------------------------------------------------------
    await rec.ok("create_alias", AliasName=ALIAS, TargetKeyId=sym_id)
    err = await rec.fails("create_alias", AliasName=ALIAS, TargetKeyId=sym2_id)
    rec.check(
        "duplicate alias is AlreadyExistsException",
        isinstance(err, kms.exceptions.AlreadyExistsException),
    )
    await rec.fails("create_alias", AliasName="alias/aws/ebs", TargetKeyId=sym_id)
    await rec.ok("create_alias", AliasName=ALIAS_2, TargetKeyId=sym2_id)
    await rec.ok("update_alias", AliasName=ALIAS_2, TargetKeyId=rsa["KeyId"])
    described = await rec.ok("describe_key", KeyId=ALIAS)
    rec.check("DescribeKey by alias", described["KeyMetadata"]["KeyId"] == sym_id)
    described = await rec.ok("describe_key", KeyId=ALIAS_ARN)
    rec.check("DescribeKey by alias ARN", described["KeyMetadata"]["KeyId"] == sym_id)
    described = await rec.ok("describe_key", KeyId=ALIAS_2)
    rec.check("UpdateAlias", described["KeyMetadata"]["KeyId"] == rsa["KeyId"])
    await rec.ok("list_aliases")
    listed = await rec.ok("list_aliases", KeyId=sym_id)
    rec.check("ListAliases KeyId", sorted(a["AliasName"] for a in listed["Aliases"]))

    # --- tags -------------------------------------------------------------------------------
    await rec.ok(
        "tag_resource",
        KeyId=sym_id,
        Tags=[{"TagKey": "env", "TagValue": "test"}, {"TagKey": "ünï", "TagValue": "☃"}],
    )
    tags = await rec.ok("list_resource_tags", KeyId=sym_id)
    rec.check("ListResourceTags", sorted((t["TagKey"], t["TagValue"]) for t in tags["Tags"]))
    await rec.ok("untag_resource", KeyId=sym_arn, TagKeys=["env"])
    tags = await rec.ok("list_resource_tags", KeyId=sym_id)
    rec.check("UntagResource", sorted(t["TagKey"] for t in tags["Tags"]))
    await rec.fails("list_resource_tags", KeyId=MISSING_KEY_ID)

    # --- grants -----------------------------------------------------------------------------
    grant = await rec.ok(
        "create_grant",
        KeyId=sym_id,
        GranteePrincipal=GRANTEE,
        RetiringPrincipal=RETIREE,
        Operations=["Encrypt", "Decrypt", "GenerateDataKey"],
        Name="aiokms-grant",
        Constraints={"EncryptionContextSubset": {"purpose": "moto scenario"}},
    )
    listed = await rec.ok("list_grants", KeyId=sym_id)
    rec.check("ListGrants", [(g["Name"], g["Operations"]) for g in listed["Grants"]])
    await rec.ok("list_grants", KeyId=sym_id, GrantId=grant["GrantId"])
    await rec.ok("list_retirable_grants", RetiringPrincipal=RETIREE)
    await rec.ok("retire_grant", GrantToken=grant["GrantToken"])
    listed = await rec.ok("list_grants", KeyId=sym_id)
    rec.check("RetireGrant", len(listed["Grants"]))
    grant = await rec.ok(
        "create_grant", KeyId=ecc["KeyId"], GranteePrincipal=GRANTEE, Operations=["Sign"]
    )
    await rec.ok("revoke_grant", KeyId=ecc["KeyId"], GrantId=grant["GrantId"])
    await rec.fails("revoke_grant", KeyId=ecc["KeyId"], GrantId=grant["GrantId"])
    grant = await rec.ok(
        "create_grant",
        KeyId=sym_id,
        GranteePrincipal=GRANTEE,
        RetiringPrincipal=RETIREE,
        Operations=["Decrypt"],
    )
    await rec.ok("retire_grant", KeyId=sym_arn, GrantId=grant["GrantId"])

    # --- key policies -----------------------------------------------------------------------
    await rec.ok("get_key_policy", KeyId=sym_id, PolicyName="default")
    await rec.ok("put_key_policy", KeyId=sym_id, PolicyName="default", Policy=KEY_POLICY)
    policy = await rec.ok("get_key_policy", KeyId=sym_id, PolicyName="default")
    rec.check("PutKeyPolicy", json.loads(policy["Policy"]) == json.loads(KEY_POLICY))
    await rec.fails("get_key_policy", KeyId=sym_id)  # moto requires PolicyName
    await rec.fails("get_key_policy", KeyId=sym_id, PolicyName="not-default")
    listed = await rec.ok("list_key_policies", KeyId=sym_id)
    rec.check("ListKeyPolicies", listed["PolicyNames"])

    # --- rotation ---------------------------------------------------------------------------
    await rec.ok("enable_key_rotation", KeyId=sym_id)
    status = await rec.ok("get_key_rotation_status", KeyId=sym_id)
    rec.check("EnableKeyRotation", status["KeyRotationEnabled"])
    for _ in range(3):
        await rec.ok("rotate_key_on_demand", KeyId=sym_id)
    rotations = await rec.ok("list_key_rotations", KeyId=sym_id)
    rec.check("ListKeyRotations", [r["RotationType"] for r in rotations["Rotations"]])
    rotations = await rec.ok("list_key_rotations", KeyId=sym_id, Limit=2)
    rec.check("ListKeyRotations Limit", (len(rotations["Rotations"]), rotations["Truncated"]))
    await rec.ok("list_key_rotations", KeyId=sym_id, Limit=2, Marker=rotations["NextMarker"])
    # moto really paginates ListKeyRotations (it ignores Limit on the other List operations).
    pages = await rec.pages("list_key_rotations", KeyId=sym_id, PaginationConfig={"PageSize": 1})
    rec.check("ListKeyRotations pages", [len(p["Rotations"]) for p in pages])
    await rec.ok("disable_key_rotation", KeyId=sym_id)
    status = await rec.ok("get_key_rotation_status", KeyId=sym_id)
    rec.check("DisableKeyRotation", status["KeyRotationEnabled"])

    # --- encrypt / decrypt / re-encrypt -----------------------------------------------------
    enc = await rec.ok("encrypt", KeyId=sym_id, Plaintext=PLAINTEXT, EncryptionContext=CONTEXT)
    blob = enc["CiphertextBlob"]
    rec.check("Encrypt KeyId", enc["KeyId"] == sym_arn)
    dec = await rec.ok("decrypt", CiphertextBlob=blob, EncryptionContext=CONTEXT)
    rec.check("Decrypt", (dec["Plaintext"] == PLAINTEXT, dec["KeyId"] == sym_arn))
    dec = await rec.ok("decrypt", CiphertextBlob=blob, EncryptionContext=CONTEXT, KeyId=ALIAS)
    rec.check("Decrypt with KeyId", dec["Plaintext"] == PLAINTEXT)
    await rec.fails("decrypt", CiphertextBlob=blob, EncryptionContext=CONTEXT, KeyId=sym2_id)
    err = await rec.fails("decrypt", CiphertextBlob=blob, EncryptionContext=WRONG_CONTEXT)
    rec.check(
        "wrong context is InvalidCiphertextException",
        isinstance(err, kms.exceptions.InvalidCiphertextException),
    )
    await rec.fails("decrypt", CiphertextBlob=blob)
    await rec.fails("decrypt", CiphertextBlob=b"\x00garbage, not a ciphertext blob\xff")
    await rec.fails("encrypt", KeyId=MISSING_KEY_ID, Plaintext=PLAINTEXT)

    text = "a str plaintext ✓"  # botocore encodes str blobs as UTF-8
    enc = await rec.ok("encrypt", KeyId=ALIAS_ARN, Plaintext=text)
    dec = await rec.ok("decrypt", CiphertextBlob=enc["CiphertextBlob"])
    rec.check("Encrypt str plaintext", dec["Plaintext"] == text.encode())

    reenc = await rec.ok(
        "re_encrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=sym2_id,
        DestinationEncryptionContext={"stage": "re-encrypted ✓"},
    )
    rec.check("ReEncrypt ids", (reenc["SourceKeyId"] == sym_arn, reenc["KeyId"] == sym2_arn))
    dec = await rec.ok(
        "decrypt",
        CiphertextBlob=reenc["CiphertextBlob"],
        EncryptionContext={"stage": "re-encrypted ✓"},
    )
    rec.check("ReEncrypt", (dec["Plaintext"] == PLAINTEXT, dec["KeyId"] == sym2_arn))
    await rec.fails(
        "re_encrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext=WRONG_CONTEXT,
        DestinationKeyId=sym2_id,
    )

    enc = await rec.ok(
        "encrypt", KeyId=rsa["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    dec = await rec.ok(
        "decrypt",
        CiphertextBlob=enc["CiphertextBlob"],
        KeyId=rsa["KeyId"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    rec.check("RSA Decrypt", dec["Plaintext"] == b"rsa")

    # --- data keys and random ---------------------------------------------------------------
    dk = await rec.ok(
        "generate_data_key", KeyId=sym_id, KeySpec="AES_256", EncryptionContext=CONTEXT
    )
    dec = await rec.ok("decrypt", CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=CONTEXT)
    rec.check("GenerateDataKey", (len(dk["Plaintext"]), dec["Plaintext"] == dk["Plaintext"]))
    dk = await rec.ok("generate_data_key", KeyId=ALIAS, KeySpec="AES_128")
    rec.check("GenerateDataKey AES_128", len(dk["Plaintext"]))
    dk = await rec.ok("generate_data_key", KeyId=sym_arn, NumberOfBytes=64)
    rec.check("GenerateDataKey NumberOfBytes", len(dk["Plaintext"]))
    await rec.fails("generate_data_key", KeyId=sym_id)  # neither KeySpec nor NumberOfBytes
    await rec.fails("generate_data_key", KeyId=sym_id, KeySpec="AES_256", NumberOfBytes=32)
    dk = await rec.ok(
        "generate_data_key_without_plaintext",
        KeyId=sym_id,
        KeySpec="AES_256",
        EncryptionContext=CONTEXT,
    )
    dec = await rec.ok("decrypt", CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=CONTEXT)
    rec.check("GenerateDataKeyWithoutPlaintext", len(dec["Plaintext"]))
    rnd = await rec.ok("generate_random", NumberOfBytes=48)
    rec.check("GenerateRandom", len(rnd["Plaintext"]))
    # botocore validates only the minimum of a range client-side (aiokms checks the maximum
    # too: see test_maximum_is_checked_before_sending).
    await rec.fails("generate_random", NumberOfBytes=0)

    # --- sign / verify ----------------------------------------------------------------------
    ecc_id = ecc["KeyId"]
    message = "to be signed ✍".encode()
    pub = await rec.ok("get_public_key", KeyId=ecc_id)
    rec.check("GetPublicKey ECC", pub["SigningAlgorithms"])
    signed = await rec.ok(
        "sign", KeyId=ecc_id, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )
    rec.check("Sign", (signed["KeyId"] == ecc["Arn"], signed["SigningAlgorithm"]))
    public_key = serialization.load_der_public_key(pub["PublicKey"])
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signed["Signature"], message, ec.ECDSA(hashes.SHA256()))  # raises if bad
    verified = await rec.ok(
        "verify",
        KeyId=ecc_id,
        Message=message,
        MessageType="RAW",
        Signature=signed["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    rec.check("Verify", verified["SignatureValid"])
    await rec.fails(  # moto answers SignatureValid=False where KMS raises
        "verify",
        KeyId=ecc_id,
        Message=message + b"!",
        Signature=signed["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    await rec.fails(
        "sign", KeyId=rsa["KeyId"], Message=message, SigningAlgorithm="RSASSA_PSS_SHA_256"
    )
    await rec.fails("sign", KeyId=ecc_id, Message=message, SigningAlgorithm="ECDSA_SHA_384")
    pub = await rec.ok("get_public_key", KeyId=rsa["KeyId"])
    rec.check("GetPublicKey RSA", pub["EncryptionAlgorithms"])

    # --- MACs -------------------------------------------------------------------------------
    hmac_id = hmac_key["KeyId"]
    mac = await rec.ok(
        "generate_mac", KeyId=hmac_id, Message=b"mac me \xff", MacAlgorithm="HMAC_SHA_256"
    )
    rec.check("GenerateMac", (len(mac["Mac"]), mac["MacAlgorithm"]))
    verified = await rec.ok(
        "verify_mac",
        KeyId=hmac_id,
        Message=b"mac me \xff",
        Mac=mac["Mac"],
        MacAlgorithm="HMAC_SHA_256",
    )
    rec.check("VerifyMac", verified["MacValid"])
    err = await rec.fails(
        "verify_mac",
        KeyId=hmac_id,
        Message=b"mac me \xff",
        Mac=bytes(32),
        MacAlgorithm="HMAC_SHA_256",
    )
    rec.check(
        "bad MAC is KMSInvalidMacException", isinstance(err, kms.exceptions.KMSInvalidMacException)
    )
    await rec.fails("generate_mac", KeyId=sym_id, Message=b"x", MacAlgorithm="HMAC_SHA_256")

    # --- enable / disable, deletion ---------------------------------------------------------
    await rec.ok("disable_key", KeyId=sym2_id)
    described = await rec.ok("describe_key", KeyId=sym2_id)
    rec.check("DisableKey", described["KeyMetadata"]["KeyState"])
    # Real KMS raises DisabledException here; moto encrypts with a disabled key.
    await rec.fails("encrypt", KeyId=sym2_id, Plaintext=PLAINTEXT)
    await rec.ok("enable_key", KeyId=sym2_id)
    described = await rec.ok("describe_key", KeyId=sym2_id)
    rec.check("EnableKey", described["KeyMetadata"]["KeyState"])
    scheduled = await rec.ok("schedule_key_deletion", KeyId=sym2_id, PendingWindowInDays=7)
    rec.check("ScheduleKeyDeletion", scheduled["KeyId"] in (sym2_id, sym2_arn))
    described = await rec.ok("describe_key", KeyId=sym2_id)
    rec.check("ScheduleKeyDeletion state", described["KeyMetadata"]["KeyState"])
    await rec.ok("cancel_key_deletion", KeyId=sym2_id)
    described = await rec.ok("describe_key", KeyId=sym2_id)
    rec.check("CancelKeyDeletion state", described["KeyMetadata"]["KeyState"])
    await rec.ok("enable_key", KeyId=sym2_id)
    await rec.fails("disable_key", KeyId=MISSING_KEY_ID)

    # --- multi-Region -----------------------------------------------------------------------
    replica = await rec.ok("replicate_key", KeyId=mrk["KeyId"], ReplicaRegion="us-west-2")
    rec.check("ReplicateKey", replica["ReplicaKeyMetadata"]["Arn"].split(":")[3])
    await rec.ok("describe_key", KeyId=mrk["KeyId"])

    # --- listing, with and without paginators -----------------------------------------------
    await rec.ok("list_keys")
    await rec.ok("list_keys", Limit=2)
    pages = await rec.pages("list_keys", PaginationConfig={"PageSize": 2})
    listed_ids = {key["KeyId"] for page in pages for key in page["Keys"]}
    rec.check("ListKeys paginator", {sym_id, sym2_id, ecc_id, hmac_id} <= listed_ids)
    await rec.pages("list_aliases", PaginationConfig={"PageSize": 5})
    await rec.pages("list_aliases", KeyId=sym_id)
    await rec.pages("list_grants", KeyId=sym_id, PaginationConfig={"PageSize": 1})
    await rec.pages("list_key_policies", KeyId=sym_id)
    await rec.pages("list_resource_tags", KeyId=sym_id, PaginationConfig={"PageSize": 1})
    await rec.pages("list_retirable_grants", RetiringPrincipal=RETIREE)

    # --- alias deletion ---------------------------------------------------------------------
    await rec.ok("delete_alias", AliasName=ALIAS_2)
    await rec.fails("delete_alias", AliasName=ALIAS_2)
    await rec.fails("describe_key", KeyId=ALIAS_2)
    await rec.fails("encrypt", KeyId=ALIAS_2, Plaintext=PLAINTEXT)


async def run_scenario(factory: ClientFactory, url: str) -> tuple[list[tuple[Any, ...]], set[str]]:
    """Run the scenario on a fresh moto with a client of ``factory``."""
    await reset_moto(url)
    async with factory(url) as kms:
        return await kms_scenario(kms)
