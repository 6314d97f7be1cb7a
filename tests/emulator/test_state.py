"""The state file (``aiokms.emulator._state``): keys, aliases and credentials across restarts."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import aiokms
from aiokms.emulator import LocalKMS
from tests.emulator.helpers import (
    CONTEXT,
    PLAINTEXT,
    client_of,
)


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
            names = sorted(a["AliasName"] for a in aliases if "TargetKeyId" in a)
            assert names == ["alias/kept", "alias/preset"]

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
