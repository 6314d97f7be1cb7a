"""Correct uses of aiokms's typed client: ``mypy --strict`` must accept every line.

Checked by tests/test_types.py from outside the checkout, as a project that installed aiokms.
"""

from __future__ import annotations

import datetime

from typing_extensions import assert_type

import aiokms
from aiokms.types import (
    EmptyResponse,
    GenerateDataKeyResponse,
    KeyMetadata,
    KeySpec,
    ListAliasesResponse,
    ListKeysResponse,
    ResponseMetadata,
)


async def data_keys(kms: aiokms.KMSClient) -> bytes:
    r = await kms.generate_data_key(
        KeyId="alias/app", KeySpec="AES_256", EncryptionContext={"tenant": "a"}
    )
    assert_type(r, GenerateDataKeyResponse)
    assert_type(r["Plaintext"], bytes)
    assert_type(r["KeyId"], str)
    meta = r["ResponseMetadata"]
    assert_type(meta, ResponseMetadata)
    assert_type(meta["HTTPStatusCode"], int)
    assert_type(meta["HTTPHeaders"], dict[str, str])
    spec: KeySpec = "ECC_NIST_P256"
    await kms.create_key(
        KeySpec=spec, KeyUsage="SIGN_VERIFY", Tags=[{"TagKey": "a", "TagValue": "b"}]
    )
    return r["CiphertextBlob"]


async def round_trip(kms: aiokms.KMSClient, plaintext: bytes | bytearray | memoryview) -> bytes:
    sealed = await kms.encrypt(KeyId="alias/app", Plaintext=plaintext, GrantTokens=("t",))
    opened = await kms.decrypt(
        CiphertextBlob=sealed["CiphertextBlob"], EncryptionAlgorithm="SYMMETRIC_DEFAULT"
    )
    return opened["Plaintext"]


async def no_output(kms: aiokms.KMSClient) -> int:
    done = await kms.delete_alias(AliasName="alias/old")
    assert_type(done, EmptyResponse)
    return done["ResponseMetadata"]["RetryAttempts"]


async def metadata(kms: aiokms.KMSClient) -> datetime.datetime | None:
    described = await kms.describe_key(KeyId="alias/app")
    key: KeyMetadata = described["KeyMetadata"]
    assert_type(key["KeyId"], str)  # required in the model's KeyMetadata
    assert_type(key.get("KeyState"), "aiokms.types.KeyState | None")  # not required
    return key.get("DeletionDate")


async def import_material(kms: aiokms.KMSClient, material: bytes, token: bytes) -> None:
    await kms.import_key_material(
        KeyId="1234abcd-12ab-34cd-56ef-1234567890ab",
        ImportToken=token,
        EncryptedKeyMaterial=material,
        ValidTo=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
    )


async def pages(kms: aiokms.KMSClient) -> list[str]:
    names: list[str] = []
    async for page in kms.get_paginator("list_aliases").paginate(KeyId="k"):
        assert_type(page, ListAliasesResponse)
        names += [alias.get("AliasName", "") for alias in page["Aliases"]]
    keys = kms.get_paginator("list_keys").paginate(PaginationConfig={"MaxItems": 10})
    async for key_page in keys:
        assert_type(key_page, ListKeysResponse)
    return names


async def errors(kms: aiokms.KMSClient) -> str | None:
    try:
        await kms.describe_key(KeyId="alias/missing")
    except kms.exceptions.NotFoundException as err:
        code: str = err.response["Error"]["Code"]
        return code
    except kms.exceptions.ThrottlingException:
        return None
    return None


async def keyword_arguments(kms: aiokms.KMSClient) -> None:
    params: aiokms.types.GenerateDataKeyRequest = {"KeyId": "alias/app", "NumberOfBytes": 32}
    await kms.generate_data_key(**params)
