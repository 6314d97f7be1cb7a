"""Mistakes that ``mypy --strict`` must report, each on its own line with the error code due.

tests/test_types.py checks that every line marked ``# expect: <code>`` gets that error and that
no other line gets any.
"""

from __future__ import annotations

import aiokms
import aiokms.types


async def mistakes(kms: aiokms.KMSClient) -> None:
    await kms.generate_data_key(KeyId="a", Bogus=1)  # expect: call-arg
    await kms.encrypt(KeyId=123, Plaintext=b"x")  # expect: arg-type
    await kms.encrypt(KeyId="a", Plaintext="x")  # expect: arg-type
    await kms.encrypt(KeyId="a")  # expect: call-arg
    await kms.generate_data_key(KeyId="a", KeySpec="AES_999")  # expect: arg-type
    await kms.describe_key("alias/app")  # expect: call-arg
    await kms.encrypt(KeyId="a", Plaintext=b"x", GrantTokens="token")  # expect: arg-type
    await kms.list_keys(Limit="10")  # expect: arg-type
    await kms.create_key(Tags=[{"TagKey": "a"}])  # expect: typeddict-item
    m, load = b"...", kms.import_key_material
    await load(KeyId="k", ImportToken=m, EncryptedKeyMaterial=m, ValidTo="2030")  # expect: arg-type
    await kms.generate_data_keys(KeyId="a")  # expect: attr-defined
    r = await kms.generate_data_key(KeyId="a", KeySpec="AES_256")
    blob: int = r["CiphertextBlob"]  # expect: assignment  # noqa: F841
    _ = r["Ciphertext"]  # expect: typeddict-item
    status: str = r["ResponseMetadata"]["HTTPStatusCode"]  # expect: assignment  # noqa: F841
    described = await kms.describe_key(KeyId="a")
    state: int = described["KeyMetadata"]["KeyState"]  # expect: assignment  # noqa: F841
    _ = kms.exceptions.NoSuchKeyException  # expect: attr-defined
    kms.get_paginator("list_keyz")  # expect: call-overload
    kms.get_paginator("list_aliases").paginate(KeyId=1)  # expect: arg-type
    kms.get_paginator("list_keys").paginate(Limit=10)  # expect: call-arg
    async for page in kms.get_paginator("list_keys").paginate():
        _ = page["Aliases"]  # expect: typeddict-item
    config: aiokms.types.PaginationConfig = {"MaxItem": 1}  # expect: typeddict-unknown-key
    kms.get_paginator("list_keys").paginate(PaginationConfig=config)
