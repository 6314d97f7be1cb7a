"""LocalKMS (``aiokms.emulator``) against moto, botocore's signer and its own contract.

* The differential scenario: one scenario written with aiobotocore (an independent client) runs
  against LocalKMS and against moto's server. The steps in ``REFERENCE`` are checked against
  what the KMS API reference documents (response members, error codes), whatever moto answers:
  they are where moto departs from the reference. Every other step must give moto's response
  keys and leaf types, or its error code, class and HTTP status. A moto release that fixes or
  changes one of its departures cannot break the test.
* SigV4: the AWS test suite's signed requests and botocore-signed requests are accepted; a
  wrong secret, an unknown access key, a tampered header or body, a skewed clock, a wrong
  scope, a missing or malformed ``Authorization`` and a missing session token are rejected with
  the error AWS gives.
* The quota (token bucket with an injected clock), and every fault knob: latency and jitter,
  ``KMSInternalException`` 500s, dropped connections, slow bodies, seeded reproducibility.
* Ciphertexts: bound to key, key material and encryption context; every flipped byte fails.
* Every key spec and cryptographic operation, checked against ``cryptography`` offline;
  rotation, deletion, pagination, DryRun, validation, unsupported operations, persistence and
  the ``python -m aiokms.emulator`` command.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import io
import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiobotocore.session
import aiohttp
import botocore.exceptions
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import aiokms
from aiokms.emulator import QUOTA_OPERATIONS, SUPPORTED_OPERATIONS, EmulatorStats, LocalKMS
from aiokms.emulator import __main__ as cli
from aiokms.emulator._auth import Identity, SigV4Verifier
from aiokms.emulator._crypto import HEADER_LEN, canonical_context
from aiokms.emulator._errors import THROTTLED_MESSAGE, KMSError
from aiokms.emulator._faults import NO_FAULT, FaultInjector
from aiokms.emulator._operations import Backend
from aiokms.emulator._quota import TokenBucket
from tests.known_answers import (
    CLASSIC_ACCESS_KEY,
    CLASSIC_REGION,
    CLASSIC_SECRET_KEY,
    CLASSIC_SERVICE,
    CLASSIC_SREQ_DEFECTS,
    classic_cases,
    parse_http_request,
)

REGION = "us-east-1"
CONTEXT = {"purpose": "emulator scenario", "ünïcødé": "値 ☃ 𝄞"}
WRONG_CONTEXT = {**CONTEXT, "purpose": "something else"}
PLAINTEXT = "secret ✓ données 秘密".encode()
ALIAS = "alias/emulator-scenario"
ALIAS_2 = "alias/emulator-scenario-2"
MISSING_KEY_ID = "00000000-0000-0000-0000-000000000000"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)
TARGET = "TrentService."
PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
AMZ_JSON = "application/x-amz-json-1.1"


class FakeClock:
    """A settable clock for ``clock=`` / ``monotonic=``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------------------------
# Servers and clients
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def local() -> AsyncIterator[LocalKMS]:
    async with LocalKMS() as server:
        yield server


def boto_client(
    url: str, access_key: str, secret_key: str, token: str | None = None, **config: Any
) -> AbstractAsyncContextManager[Any]:
    """aiobotocore's KMS client, without retries (each attempt is visible)."""
    from aiobotocore.config import AioConfig

    return aiobotocore.session.get_session().create_client(  # type: ignore[no-any-return]
        "kms",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        config=AioConfig(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


def client_of(local: LocalKMS, **config: Any) -> AbstractAsyncContextManager[Any]:
    creds = local.credentials
    return boto_client(
        local.endpoint_url, creds.access_key, creds.secret_key, creds.token, **config
    )


def aiokms_client(local: LocalKMS, **kwargs: Any) -> aiokms.KMSClient:
    options = {"credentials": local.credentials, "max_attempts": 1, **kwargs}
    return aiokms.KMSClient(region_name=local.region, endpoint_url=local.endpoint_url, **options)


def error_of(exc: BaseException) -> tuple[str, int]:
    assert isinstance(exc, botocore.exceptions.ClientError), exc
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


# --------------------------------------------------------------------------------------------
# The differential scenario
# --------------------------------------------------------------------------------------------


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


# What the KMS API reference documents for the steps where moto answers otherwise. Each entry:
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


# KeyMetadata (KeyMetadata reference): KeyUsage (default ENCRYPT_DECRYPT) and MultiRegion are
# always present; CurrentKeyMaterialId for symmetric encryption keys of AWS_KMS origin;
# DeletionDate only while deletion is pending; of the algorithm lists, only the one of the
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


REFERENCE: dict[str, tuple[Expected, str]] = {
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


# --------------------------------------------------------------------------------------------
# Raw requests, signed by botocore
# --------------------------------------------------------------------------------------------


def botocore_headers(
    url: str,
    operation: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    *,
    token: str | None = None,
    region: str = REGION,
    service: str = "kms",
) -> dict[str, str]:
    """Headers of a KMS request signed now by botocore's own SigV4 signer."""
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": AMZ_JSON, "X-Amz-Target": TARGET + operation},
    )
    SigV4Auth(BotoCredentials(access_key, secret_key, token), service, region).add_auth(request)
    return dict(request.headers.items())


async def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST and return (status, JSON body)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/", data=body, headers=headers) as response,
    ):
        return response.status, json.loads(await response.read())


async def signed_call(
    local: LocalKMS, operation: str, params: dict[str, Any], **overrides: Any
) -> tuple[int, dict[str, Any]]:
    creds = local.credentials
    body = json.dumps(params).encode()
    options = {"access_key": creds.access_key, "secret_key": creds.secret_key, **overrides}
    access_key, secret_key = options.pop("access_key"), options.pop("secret_key")
    headers = botocore_headers(
        local.endpoint_url, operation, body, access_key, secret_key, **options
    )
    return await send(local.endpoint_url, body, headers)


MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


async def test_botocore_signed_requests_are_accepted(local: LocalKMS) -> None:
    status, body = await signed_call(local, "CreateKey", {"Description": "signed ✓"})
    assert status == 200, body
    key_id = body["KeyMetadata"]["KeyId"]
    status, body = await signed_call(
        local, "GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"}
    )
    assert status == 200
    assert len(base64.b64decode(body["Plaintext"])) == 32
    assert body["KeyId"] == f"arn:aws:kms:{REGION}:{local.account_id}:key/{key_id}"


async def test_wrong_secret_is_rejected(local: LocalKMS) -> None:
    wrong = local.credentials.secret_key + "x"
    assert await signed_call(local, "ListKeys", {}, secret_key=wrong) == (
        400,
        {"__type": "InvalidSignatureException", "message": MISMATCH},
    )


async def test_unknown_access_key_is_rejected(local: LocalKMS) -> None:
    status, body = await signed_call(local, "ListKeys", {}, access_key="AKIAUNKNOWNUNKNOWN00")
    assert (status, body["__type"]) == (400, "UnrecognizedClientException")
    assert body["message"] == "The security token included in the request is invalid."


@pytest.mark.parametrize("tamper", ["body", "signed header", "signed header added"])
async def test_tampered_requests_are_rejected(local: LocalKMS, tamper: str) -> None:
    creds = local.credentials
    body = json.dumps({"NumberOfBytes": 16}).encode()
    headers = botocore_headers(
        local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
    )
    if tamper == "body":
        body = json.dumps({"NumberOfBytes": 17}).encode()
    elif tamper == "signed header":
        headers["X-Amz-Target"] = TARGET + "ListKeys"
    else:  # claim a header was signed that the signature did not cover
        headers["X-Extra"] = "1"
        headers["Authorization"] = headers["Authorization"].replace(
            "SignedHeaders=", "SignedHeaders=x-extra;"
        )
    assert await send(local.endpoint_url, body, headers) == (
        400,
        {"__type": "InvalidSignatureException", "message": MISMATCH},
    )


async def test_unsigned_headers_may_change(local: LocalKMS) -> None:
    creds = local.credentials
    body = json.dumps({"NumberOfBytes": 16}).encode()
    headers = botocore_headers(
        local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
    )
    headers["User-Agent"] = "changed after signing"
    status, reply = await send(local.endpoint_url, body, headers)
    assert status == 200 and len(base64.b64decode(reply["Plaintext"])) == 16


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        (
            {"region": "us-west-2"},
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'us-west-2'. ",
        ),
        (
            {"service": "s3"},
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'kms'. ",
        ),
        (
            {"token": "a-session-token"},
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ],
)
async def test_wrong_scope_or_token_is_rejected(
    local: LocalKMS, overrides: dict[str, str], code: str, message: str
) -> None:
    status, body = await signed_call(local, "ListKeys", {}, **overrides)
    assert (status, body) == (400, {"__type": code, "message": message})


async def test_missing_or_malformed_authorization(local: LocalKMS) -> None:
    body = b"{}"
    headers = {"Content-Type": AMZ_JSON, "X-Amz-Target": TARGET + "ListKeys"}
    assert await send(local.endpoint_url, body, headers) == (
        400,
        {
            "__type": "MissingAuthenticationTokenException",
            "message": "Request is missing Authentication Token",
        },
    )
    creds = local.credentials
    signed = botocore_headers(
        local.endpoint_url, "ListKeys", body, creds.access_key, creds.secret_key
    )
    auth = signed["Authorization"]
    signed["Authorization"] = auth.split(", Signature=")[0]
    status, reply = await send(local.endpoint_url, body, signed)
    assert (status, reply["__type"]) == (400, "IncompleteSignatureException")
    assert reply["message"].startswith("Authorization header requires 'Signature' parameter.")
    signed["Authorization"] = auth.replace("Credential=", "Credential")
    status, reply = await send(local.endpoint_url, body, signed)
    assert (status, reply["__type"]) == (400, "IncompleteSignatureException")
    assert "not a valid key=value pair (missing equal-sign)" in reply["message"]


@pytest.mark.parametrize(
    ("offset", "pattern"),
    [
        (
            +600,
            r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
            r"\(\d{8}T\d{6}Z - 5 min\.\)",
        ),
        (
            -600,
            r"Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z "
            r"\(\d{8}T\d{6}Z \+ 5 min\.\)",
        ),
        (+240, None),
        (-240, None),
    ],
)
async def test_clock_skew(offset: float, pattern: str | None) -> None:
    """The emulator's clock is moved instead of the client's: botocore signs at real time."""
    async with LocalKMS(clock=lambda: time.time() + offset) as skewed, client_of(skewed) as kms:
        if pattern is None:
            await kms.list_keys()
            return
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.list_keys()
    assert error_of(caught.value) == ("InvalidSignatureException", 400)
    assert re.fullmatch(pattern, caught.value.response["Error"]["Message"])


def test_skew_limit_is_five_minutes() -> None:
    verifier = SigV4Verifier([Identity("AKID", "secret")], region=REGION)
    body = b"{}"
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    request = AWSRequest(
        method="POST", url="http://127.0.0.1:1/", data=body, headers={"X-Amz-Date": stamp}
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(BotoCredentials("AKID", "secret"), "kms", REGION)
    request.headers["Host"] = "127.0.0.1:1"
    signature = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    scope = f"AKID/{stamp[:8]}/{REGION}/kms/aws4_request"
    headers = [
        ("Host", "127.0.0.1:1"),
        ("X-Amz-Date", stamp),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, "
            f"Signature={signature}",
        ),
    ]
    epoch = when.timestamp()
    for now in (epoch - 300, epoch, epoch + 300):
        verifier.verify(method="POST", path="/", query="", headers=headers, body=body, now=now)
    for now in (epoch - 301, epoch + 301):
        with pytest.raises(KMSError) as caught:
            verifier.verify(method="POST", path="/", query="", headers=headers, body=body, now=now)
        assert caught.value.code == "InvalidSignatureException"


async def test_session_token_is_required_when_set() -> None:
    async with LocalKMS(session_token="the-token") as local:
        assert local.credentials.token == "the-token"
        async with client_of(local) as kms:
            await kms.list_keys()
        creds = local.credentials
        for token in (None, "another-token"):
            async with boto_client(
                local.endpoint_url, creds.access_key, creds.secret_key, token
            ) as kms:
                with pytest.raises(botocore.exceptions.ClientError) as caught:
                    await kms.list_keys()
            assert error_of(caught.value) == ("UnrecognizedClientException", 400)


def test_sigv4_suite_requests_are_accepted() -> None:
    """Every classic case's signed request passes; with its date tampered with, it fails."""
    now = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc).timestamp()
    cases = [case for case in classic_cases() if case.name not in CLASSIC_SREQ_DEFECTS]
    for case in cases:
        signed = parse_http_request((case / f"{case.name}.sreq").read_bytes())
        token = signed.header("X-Amz-Security-Token")
        identity = Identity(CLASSIC_ACCESS_KEY, CLASSIC_SECRET_KEY, token)
        verifier = SigV4Verifier([identity], region=CLASSIC_REGION, service=CLASSIC_SERVICE)
        request = {"method": signed.method, "path": signed.path, "query": signed.query}
        verifier.verify(**request, headers=signed.headers, body=signed.body, now=now)
        tampered = [(k, v + "!" if k.lower() == "x-amz-date" else v) for k, v in signed.headers]
        with pytest.raises(KMSError):
            verifier.verify(**request, headers=tampered, body=signed.body, now=now)


async def test_aiokms_client_against_localkms(local: LocalKMS) -> None:
    async with aiokms_client(local) as kms:
        key = (await kms.create_key(Description="aiokms"))["KeyMetadata"]
        dk = await kms.generate_data_key(
            KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=CONTEXT
        )
        assert dk["KeyId"] == key["Arn"] and len(dk["Plaintext"]) == 32
        dec = await kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=CONTEXT)
        assert dec["Plaintext"] == dk["Plaintext"]
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            await kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=WRONG_CONTEXT)
        with pytest.raises(kms.exceptions.NotFoundException):
            await kms.describe_key(KeyId=MISSING_KEY_ID)
        pages = [p async for p in kms.get_paginator("list_keys").paginate()]
        assert [k["KeyId"] for p in pages for k in p["Keys"]] == [key["KeyId"]]
    wrong = aiokms.Credentials(local.credentials.access_key, "not-the-secret")
    async with aiokms_client(local, credentials=wrong) as kms:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.list_keys()
    assert error_of(caught.value) == ("InvalidSignatureException", 400)


async def test_connections_are_kept_alive(local: LocalKMS) -> None:
    created = 0

    async def on_create(*_: Any) -> None:
        nonlocal created
        created += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_create)
    creds = local.credentials
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:
        for _ in range(5):
            body = b'{"NumberOfBytes": 8}'
            headers = botocore_headers(
                local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
            )
            async with session.post(local.endpoint_url + "/", data=body, headers=headers) as resp:
                assert resp.status == 200
                await resp.read()
    assert created == 1


# --------------------------------------------------------------------------------------------
# Quota
# --------------------------------------------------------------------------------------------


def test_token_bucket() -> None:
    clock = FakeClock(100.0)
    bucket = TokenBucket(10, 5, clock=clock)
    assert [bucket.acquire() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.wait_time() == pytest.approx(0.1)
    clock.now += 0.25  # 2.5 tokens
    assert [bucket.acquire() for _ in range(3)] == [True, True, False]
    clock.now += 3600
    assert bucket.tokens == 5  # never more than the burst
    assert TokenBucket(2.5, clock=clock).burst == 3  # default: one second's worth
    for rate, burst in [(0, None), (-1, None), (float("inf"), None), (1, 0.5)]:
        with pytest.raises(ValueError):
            TokenBucket(rate, burst)


def test_quota_operations_are_the_cryptographic_ones() -> None:
    assert {
        "Decrypt",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
    } == QUOTA_OPERATIONS


async def test_throttling_at_the_set_rate() -> None:
    clock = FakeClock(0.0)
    async with LocalKMS(rate_limit=10, burst=3, monotonic=clock) as local, client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]

        async def attempt() -> str:
            try:
                await kms.generate_data_key(KeyId=key_id, NumberOfBytes=16)
            except botocore.exceptions.ClientError as exc:
                assert exc.response["Error"]["Message"] == THROTTLED_MESSAGE
                code, status = error_of(exc)
                return f"{code} {status}"
            return "ok"

        assert [await attempt() for _ in range(4)] == ["ok"] * 3 + ["ThrottlingException 400"]
        await kms.describe_key(KeyId=key_id)  # management operations are not metered
        clock.now += 0.2  # two tokens at 10/s
        assert [await attempt() for _ in range(3)] == ["ok", "ok", "ThrottlingException 400"]
        clock.now += 10  # refilled to the burst, no more
        assert [await attempt() for _ in range(4)] == ["ok"] * 3 + ["ThrottlingException 400"]
        stats = local.stats()
        assert stats.throttled == 3 and stats.errors["ThrottlingException"] == 3
        assert stats.operations["GenerateDataKey"] == 8


async def test_aiokms_sees_throttling_as_its_class() -> None:
    clock = FakeClock(0.0)
    async with (
        LocalKMS(rate_limit=1, burst=1, monotonic=clock) as local,
        aiokms_client(local) as kms,
    ):
        await kms.generate_random(NumberOfBytes=8)
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.generate_random(NumberOfBytes=8)


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


def test_fault_draws() -> None:
    knobs: dict[str, Any] = {
        "latency": 0.1,
        "jitter": 0.5,
        "error_rate": 0.3,
        "drop_rate": 0.2,
        "slow_body": 0.2,
        "slow_body_rate": 0.5,
    }
    first = [FaultInjector(seed=7, **knobs).draw() for _ in range(1)]
    one, two = FaultInjector(seed=7, **knobs), FaultInjector(seed=7, **knobs)
    draws = [one.draw() for _ in range(400)]
    assert draws == [two.draw() for _ in range(400)]
    assert draws[:1] == first
    assert all(0.1 <= d.delay <= 0.6 for d in draws)
    assert all(d.slow_body in (0.0, 0.2) for d in draws)
    for name, share in [("drop", 0.2), ("error", 0.3)]:
        assert abs(sum(getattr(d, name) for d in draws) / 400 - share) < 0.1
    assert abs(sum(d.slow_body > 0 for d in draws) / 400 - 0.5) < 0.1
    assert FaultInjector().draw() is NO_FAULT
    assert not FaultInjector(slow_body=1.0, slow_body_rate=0.0).active
    for bad in (
        {"error_rate": 1.5},
        {"drop_rate": -0.1},
        {"latency": -1},
        {"jitter": float("inf")},
    ):
        with pytest.raises(ValueError):
            FaultInjector(**bad)


async def test_error_rate_injects_internal_errors() -> None:
    async with LocalKMS(error_rate=1.0) as local:
        async with client_of(local) as kms:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.list_keys()
        assert error_of(caught.value) == ("KMSInternalException", 500)
        # authentication comes first: a bad signature is still reported as such
        status, body = await signed_call(local, "ListKeys", {}, secret_key="wrong")
        assert (status, body["__type"]) == (400, "InvalidSignatureException")
        assert local.stats().injected_errors == 1


async def test_seeded_faults_are_reproducible() -> None:
    async def outcomes() -> list[str]:
        async with LocalKMS(error_rate=0.5, seed=11) as local, client_of(local) as kms:
            results = []
            for _ in range(24):
                try:
                    await kms.generate_random(NumberOfBytes=4)
                    results.append("ok")
                except botocore.exceptions.ClientError as exc:
                    results.append(error_of(exc)[0])
            return results

    first = await outcomes()
    assert first == await outcomes()
    expected = [
        "KMSInternalException" if d.error else "ok" for d in _draws(error_rate=0.5, seed=11)
    ]
    assert first == expected
    assert 0 < first.count("ok") < 24


def _draws(**knobs: Any) -> list[Any]:
    injector = FaultInjector(**knobs)
    return [injector.draw() for _ in range(24)]


async def test_drop_rate_closes_connections() -> None:
    async with LocalKMS(drop_rate=1.0) as local:
        creds = local.credentials
        body = b'{"NumberOfBytes": 8}'
        headers = botocore_headers(
            local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
        )
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await send(local.endpoint_url, body, headers)
        async with aiokms_client(local) as kms:
            with pytest.raises(aiokms.ConnectionClosed):
                await kms.generate_random(NumberOfBytes=8)
        assert local.stats().dropped == 2


async def test_latency_delays_replies() -> None:
    async with LocalKMS(latency=0.5) as local:
        async with aiokms_client(local, read_timeout=0.05) as kms:
            with pytest.raises(aiokms.ReadTimeout):
                await kms.generate_random(NumberOfBytes=8)
        async with aiokms_client(local) as kms:
            assert len((await kms.generate_random(NumberOfBytes=8))["Plaintext"]) == 8


async def test_jitter_delays_replies_by_the_seeded_draws() -> None:
    seed = next(
        s for s in range(1000) if FaultInjector(jitter=1.0, seed=s).draw().delay > 0.5
    )  # a seed whose first reply waits at least half a second
    async with (
        LocalKMS(jitter=1.0, seed=seed) as local,
        aiokms_client(local, read_timeout=0.05) as kms,
    ):
        with pytest.raises(aiokms.ReadTimeout):
            await kms.generate_random(NumberOfBytes=8)


async def test_slow_body_sends_headers_then_trickles() -> None:
    async with LocalKMS(slow_body=0.8) as local:
        creds = local.credentials
        body = b'{"NumberOfBytes": 64}'
        headers = botocore_headers(
            local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(local.endpoint_url + "/", data=body, headers=headers) as response,
        ):
            assert response.status == 200  # the headers are here at once
            assert response.headers["Content-Type"] == AMZ_JSON
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(response.read(), 0.05)  # the body is not
        async with client_of(local) as kms:
            assert len((await kms.generate_random(NumberOfBytes=64))["Plaintext"]) == 64
        assert local.stats().slow_replies == 2
    async with LocalKMS(slow_body=5.0, slow_body_rate=0.0) as local, client_of(local) as kms:
        await kms.generate_random(NumberOfBytes=8)
        assert local.stats().slow_replies == 0


# --------------------------------------------------------------------------------------------
# Ciphertexts
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Key specs and cryptographic operations, checked offline with ``cryptography``
# --------------------------------------------------------------------------------------------

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
        for kwargs in ({"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}, {"Origin": "EXTERNAL"}):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.create_key(**kwargs)
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
    store = _store()
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
    "spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"]
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


# --------------------------------------------------------------------------------------------
# The pure layers: rotation, deletion and identifiers, on an injected clock
# --------------------------------------------------------------------------------------------


def _store(clock: Callable[[], float] | None = None) -> Any:
    from aiokms.emulator._keys import KeyStore

    return KeyStore(region=REGION, account_id="111122223333", clock=clock or FakeClock(1.7e9))


def invoke(backend: Backend, operation: str, **params: Any) -> dict[str, Any]:
    """Call an operation of the pure backend as the server would (body bytes in)."""
    wire = {
        k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in params.items()
    }
    op = backend.operation(TARGET + operation)
    return backend.call(op, op.parse(json.dumps(wire).encode()))


def fails(backend: Backend, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(KMSError) as caught:
        invoke(backend, operation, **params)
    return caught.value.code, caught.value.message


DAY = 86400.0


def test_rotation() -> None:
    clock = FakeClock(1.7e9)
    backend = Backend(_store(clock))
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
    store = _store(clock)
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
    backend = Backend(_store())
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


@functools.cache
def _kms_model() -> Any:
    return botocore.session.get_session().get_service_model("kms")


def _accepts_aliases(operation: str) -> bool:
    """Whether the KMS reference lets ``operation``'s KeyId name an alias."""
    model = _kms_model().operation_model(operation)
    return "alias name" in (model.input_shape.members["KeyId"].documentation or "")


def test_alias_identifiers_only_where_the_reference_allows_them() -> None:
    backend = Backend(_store())
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


def test_validation_and_serialization_errors() -> None:
    backend = Backend(_store())
    assert fails(backend, "GenerateRandom", NumberOfBytes=1025) == (
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024",
    )
    code, message = fails(backend, "CreateKey", KeySpec="NOPE", Description="x" * 8193)
    assert code == "ValidationException" and message.startswith("2 validation errors detected: ")
    assert "Member must satisfy enum value set: [RSA_2048, " in message
    assert fails(backend, "Encrypt", Plaintext=b"x") == (
        "ValidationException",
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null",
    )
    code, message = fails(backend, "Encrypt", KeyId="k", Plaintext=b"x" * 4097)
    assert message.endswith(
        "Value at 'plaintext' failed to satisfy constraint: Member must "
        "have length less than or equal to 4096"
    )  # sensitive: no value
    assert fails(backend, "GenerateRandom")[0] == "ValidationException"
    op = backend.operation(TARGET + "GenerateRandom")
    for body in (b"{", b"[]", b'{"NumberOfBytes": "8"}', b'{"NumberOfBytes": true}'):
        with pytest.raises(KMSError) as caught:
            op.parse(body)
        assert caught.value.code == "SerializationException", body
    with pytest.raises(KMSError) as caught:
        backend.operation(TARGET + "Decrypt").parse(b'{"CiphertextBlob": "not base64!"}')
    assert caught.value.code == "SerializationException"
    assert op.parse(b'{"NumberOfBytes": 8, "Unknown": 1}') == {"NumberOfBytes": 8}


def test_every_other_operation_is_unsupported() -> None:
    backend = Backend(_store())
    names = _kms_model().operation_names
    assert set(names) > SUPPORTED_OPERATIONS
    for name in names:
        if name in SUPPORTED_OPERATIONS:
            assert backend.operation(TARGET + name).name == name
            continue
        with pytest.raises(KMSError) as caught:
            backend.operation(TARGET + name)
        assert (caught.value.code, caught.value.status) == ("UnsupportedOperationException", 400)
        assert name in caught.value.message
    for target in (None, "", "TrentService.Nope", "DynamoDB_20120810.GetItem"):
        with pytest.raises(KMSError) as caught:
            backend.operation(target)
        assert caught.value.code == "UnknownOperationException"


async def test_unsupported_operation_over_http(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
        with pytest.raises(kms.exceptions.UnsupportedOperationException):
            await kms.create_grant(
                KeyId=key_id,
                GranteePrincipal="arn:aws:iam::111122223333:root",
                Operations=["Decrypt"],
            )
    status, body = await signed_call(local, "NoSuchOperation", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")


async def test_list_pagination(local: LocalKMS) -> None:
    async with client_of(local) as kms:
        ids = [(await kms.create_key())["KeyMetadata"]["KeyId"] for _ in range(5)]
        for i, key_id in enumerate(ids):
            await kms.create_alias(AliasName=f"alias/page-{i}", TargetKeyId=key_id)
        await kms.tag_resource(
            KeyId=ids[0], Tags=[{"TagKey": f"t{i}", "TagValue": str(i)} for i in range(5)]
        )
        for method, kwargs, member in [
            ("list_keys", {}, "Keys"),
            ("list_aliases", {}, "Aliases"),
            ("list_resource_tags", {"KeyId": ids[0]}, "Tags"),
        ]:
            pages = [
                page
                async for page in kms.get_paginator(method).paginate(
                    PaginationConfig={"PageSize": 2}, **kwargs
                )
            ]
            assert [len(p[member]) for p in pages] == [2, 2, 1], method
            assert [p["Truncated"] for p in pages] == [True, True, False]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.list_keys(Marker="not-a-marker")
        assert error_of(caught.value) == ("InvalidMarkerException", 400)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.tag_resource(KeyId=ids[0], Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
        assert error_of(caught.value) == ("TagException", 400)


# --------------------------------------------------------------------------------------------
# Persistence, the object itself, and the command
# --------------------------------------------------------------------------------------------


async def test_state_file_keeps_keys_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "kms-state.json"
    async with LocalKMS(state_file=path, aliases=["alias/preset"]) as first:
        creds = first.credentials
        async with client_of(first) as kms:
            key = (
                await kms.create_key(Description="kept", Tags=[{"TagKey": "a", "TagValue": "b"}])
            )["KeyMetadata"]
            await kms.create_alias(AliasName="alias/kept", TargetKeyId=key["KeyId"])
            blob = (
                await kms.encrypt(
                    KeyId="alias/kept", Plaintext=PLAINTEXT, EncryptionContext=CONTEXT
                )
            )["CiphertextBlob"]
            await kms.rotate_key_on_demand(KeyId=key["KeyId"])
            rsa_id = (await kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"))[
                "KeyMetadata"
            ]["KeyId"]
            signature = (
                await kms.sign(KeyId=rsa_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
            )["Signature"]
            mac_id = (await kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC"))[
                "KeyMetadata"
            ]["KeyId"]
            mac = (await kms.generate_mac(KeyId=mac_id, Message=b"m", MacAlgorithm="HMAC_SHA_384"))[
                "Mac"
            ]
            await kms.disable_key(KeyId=mac_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["format"] == "aiokms-localkms" and len(document["store"]["keys"]) == 4
    assert os.listdir(tmp_path) == [path.name]  # the temporary file was renamed

    async with LocalKMS(state_file=path, aliases=["alias/preset"]) as second:
        assert second.credentials == creds  # generated once, kept in the file
        assert second.stats().keys == 4
        async with client_of(second) as kms:
            dec = await kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
            assert dec["Plaintext"] == PLAINTEXT and dec["KeyId"] == key["Arn"]
            described = (await kms.describe_key(KeyId="alias/kept"))["KeyMetadata"]
            assert described["CreationDate"] == key["CreationDate"]
            assert described["CurrentKeyMaterialId"] != key["CurrentKeyMaterialId"]
            tags = (await kms.list_resource_tags(KeyId=key["KeyId"]))["Tags"]
            assert tags == [{"TagKey": "a", "TagValue": "b"}]
            valid = await kms.verify(
                KeyId=rsa_id,
                Message=b"m",
                Signature=signature,
                SigningAlgorithm="RSASSA_PSS_SHA_256",
            )
            assert valid["SignatureValid"]
            assert (await kms.describe_key(KeyId=mac_id))["KeyMetadata"]["KeyState"] == "Disabled"
            await kms.enable_key(KeyId=mac_id)
            again = await kms.verify_mac(
                KeyId=mac_id, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_384"
            )
            assert again["MacValid"]
            aliases = (await kms.list_aliases())["Aliases"]
            assert sorted(a["AliasName"] for a in aliases) == ["alias/kept", "alias/preset"]

    async with LocalKMS(state_file=path, access_key="AKIDOTHER", secret_key="other") as third:
        assert third.credentials == aiokms.Credentials("AKIDOTHER", "other")  # arguments win
        assert third.stats().keys == 4


async def test_unreadable_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for content in ("not json", '{"format": "something else"}'):
        path.write_text(content)
        with pytest.raises(ValueError, match="not a LocalKMS state file"):
            await LocalKMS(state_file=path).start()
    assert path.read_text() == '{"format": "something else"}'  # left alone


async def test_repr_credentials_and_arguments() -> None:
    local = LocalKMS(access_key="AKIDREPR", secret_key="never-shown-secret")
    assert repr(local) == "<LocalKMS stopped region=us-east-1 keys=0>"
    with pytest.raises(RuntimeError):
        local.endpoint_url  # noqa: B018
    async with local:
        assert local.endpoint_url.startswith("http://127.0.0.1:")
        assert repr(local) == f"<LocalKMS {local.endpoint_url} region=us-east-1 keys=0>"
        assert isinstance(local.credentials, aiokms.Credentials)
        assert "never-shown-secret" not in repr(local.credentials)
        assert isinstance(local.stats(), EmulatorStats)
    for bad in (
        {"error_rate": 1.5},
        {"drop_rate": -1},
        {"latency": -0.1},
        {"rate_limit": 0},
        {"burst": 0.5, "rate_limit": 10},
        {"port": 70000},
        {"account_id": "123"},
        {"access_key": "AKID"},
        {"aliases": ["not-an-alias"]},
    ):
        with pytest.raises(ValueError):
            LocalKMS(**bad)


async def test_secrets_stay_out_of_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiokms.emulator")
    async with (
        LocalKMS(secret_key="s3cr3t-value", access_key="AKIDLOG") as local,
        client_of(local) as kms,
    ):
        await kms.list_keys()
    assert "s3cr3t-value" not in caplog.text
    assert "s3cr3t-value" not in repr(Identity("AKIDLOG", "s3cr3t-value", "token-value"))
    store = _store()
    backend = Backend(store)
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    key = store.keys[key_id]
    assert key.current is not None
    for shown in (repr(key), repr(key.current), repr(store), repr(backend)):
        assert key.current.secret.hex() not in shown and "secret" not in shown.lower()


def test_parser_maps_every_flag() -> None:
    parser = cli.build_parser(prog="aiokms emulator")
    args = parser.parse_args(
        [
            "--port=4599",
            "--region=eu-west-1",
            "--account-id=123456789012",
            "--access-key=AKID",
            "--secret-key=secret",
            "--rate-limit=100",
            "--burst=20",
            "--latency=0.01",
            "--jitter=0.02",
            "--error-rate=0.1",
            "--drop-rate=0.05",
            "--slow-body=0.5",
            "--slow-body-rate=0.25",
            "--seed=42",
            "--state-file=/tmp/x.json",
            "--alias=alias/a",
            "--alias=alias/b",
        ]
    )
    kwargs = cli.emulator_kwargs(args)
    assert kwargs == {
        "host": "127.0.0.1",
        "port": 4599,
        "region": "eu-west-1",
        "account_id": "123456789012",
        "access_key": "AKID",
        "secret_key": "secret",
        "session_token": None,
        "rate_limit": 100.0,
        "burst": 20.0,
        "quotas": None,
        "latency": 0.01,
        "jitter": 0.02,
        "error_rate": 0.1,
        "drop_rate": 0.05,
        "slow_body": 0.5,
        "slow_body_rate": 0.25,
        "seed": 42,
        "state_file": "/tmp/x.json",
        "aliases": ["alias/a", "alias/b"],
    }
    LocalKMS(**kwargs)  # every flag is an argument
    for bad in (["--error-rate=2"], ["--latency=-1"], ["--port=99999"], ["--rate-limit=0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_parser_maps_the_quota_flags() -> None:
    parser = cli.build_parser(prog="aiokms emulator")
    scaled = cli.emulator_kwargs(parser.parse_args(["--quotas", "0.01"]))
    assert (scaled["quotas"], scaled["rate_limit"], scaled["burst"]) == (0.01, None, None)
    named = cli.emulator_kwargs(
        parser.parse_args(
            [
                "--quota",
                "DescribeKey=10",
                "--quota",
                "Cryptographic operations (symmetric) = 400",
            ]
        )
    )
    assert named["quotas"] == {"DescribeKey": 10.0, "Cryptographic operations (symmetric)": 400.0}
    assert LocalKMS(**named).quota_rates == named["quotas"]
    for bad in (
        ["--quotas", "1", "--rate-limit", "5"],
        ["--quota", "DescribeKey=10", "--quotas", "1"],
        ["--quota", "NoSuchQuota=1"],
        ["--quota", "=1"],
        ["--quota", "DescribeKey=-1"],
        ["--quotas", "0"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_the_command_refuses_quotas_with_a_burst(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--quotas", "1", "--burst", "5"], prog="aiokms emulator") == 2
    assert "quotas: give quotas, or rate_limit and burst, not both" in capsys.readouterr().err


def test_main_reports_a_bad_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    path.write_text("garbage")
    assert cli.main(["--state-file", str(path)], prog="aiokms emulator") == 2
    assert "not a LocalKMS state file" in capsys.readouterr().err


async def test_announcement_formats() -> None:

    async with LocalKMS(
        access_key="AKIDOUT", secret_key="out-secret", session_token="tok"
    ) as local:
        text = io.StringIO()
        cli._announce(local, False, text)
        lines = text.getvalue().splitlines()
        assert lines[0].startswith(f"# LocalKMS ready at {local.endpoint_url}")
        assert lines[1:] == [
            f"export AWS_ENDPOINT_URL_KMS={local.endpoint_url}",
            "export AWS_REGION=us-east-1",
            "export AWS_ACCESS_KEY_ID=AKIDOUT",
            "export AWS_SECRET_ACCESS_KEY=out-secret",
            "export AWS_SESSION_TOKEN=tok",
        ]
        doc = io.StringIO()
        cli._announce(local, True, doc)
        assert json.loads(doc.getvalue())["endpoint_url"] == local.endpoint_url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_command_serves_until_signalled(tmp_path: Path, sig: signal.Signals) -> None:
    state = tmp_path / "state.json"
    command = [sys.executable, "-m", "aiokms.emulator", "--json", "--alias", "alias/cli"]
    command += ["--rate-limit", "1000", "--state-file", str(state)]
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": PROJECT_ROOT},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        ready = json.loads(line)
        assert ready["endpoint_url"].startswith("http://127.0.0.1:")
        creds = aiokms.Credentials(ready["access_key"], ready["secret_key"])
        async with aiokms.KMSClient(
            region_name=ready["region"], endpoint_url=ready["endpoint_url"], credentials=creds
        ) as kms:
            dk = await kms.generate_data_key(KeyId="alias/cli", KeySpec="AES_256")
            assert len(dk["Plaintext"]) == 32
        proc.send_signal(sig)  # this child only, by its PID
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert (await proc.stderr.read()) == b""
        assert json.loads(state.read_text())["credentials"]["access_key"] == creds.access_key
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
