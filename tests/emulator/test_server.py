"""LocalKMS itself (``aiokms.emulator._server``): serving aiokms's client, keep-alive, its repr
and arguments, and no secret in its logs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import botocore.exceptions
import botocore.session
import pytest

import aiokms
from aiokms.emulator import EmulatorStats, LocalKMS
from aiokms.emulator._auth import Identity
from aiokms.emulator._operations import Backend
from tests.emulator.helpers import (
    CONTEXT,
    MISSING_KEY_ID,
    WRONG_CONTEXT,
    aiokms_client,
    botocore_headers,
    client_of,
    error_of,
    invoke,
    key_store,
)


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
    store = key_store()
    backend = Backend(store)
    key_id = invoke(backend, "CreateKey")["KeyMetadata"]["KeyId"]
    key = store.keys[key_id]
    assert key.current is not None
    for shown in (repr(key), repr(key.current), repr(store), repr(backend)):
        assert key.current.secret.hex() not in shown and "secret" not in shown.lower()


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: AWS4-HMAC-SHA256 Signature=deadbeefSIGNATURE\x01",
        b"X-Amz-Security-Token: TOKENVALUE\x00x",
    ],
)
async def test_a_request_it_cannot_parse_is_logged_without_its_headers(
    local: LocalKMS, caplog: pytest.LogCaptureFixture, header: bytes
) -> None:
    """aiohttp's own description of such a request quotes the offending line: a signature or
    a session token, which no record may hold."""
    caplog.set_level(logging.DEBUG)
    reader, writer = await asyncio.open_connection("127.0.0.1", local.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nContent-Length: 0\r\n\r\n")
    reply = await reader.read()
    writer.close()
    assert reply.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")  # (to its sender alone)
    (record,) = [r for r in caplog.records if r.name == "aiokms.emulator"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "LocalKMS refused a request it could not parse (BadHttpMessage: Invalid header value char)"
    )
    assert b"SIGNATURE" not in caplog.text.encode() and b"TOKENVALUE" not in caplog.text.encode()


async def test_reset_starts_from_an_empty_kms(tmp_path: Any) -> None:
    path = tmp_path / "state.json"
    async with LocalKMS(aliases=["alias/app"], state_file=path) as local:
        credentials, url = local.credentials, local.endpoint_url
        async with client_of(local) as kms:
            before = (await kms.describe_key(KeyId="alias/app"))["KeyMetadata"]["KeyId"]
            key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
            await kms.create_alias(AliasName="alias/mine", TargetKeyId=key_id)
            await kms.describe_key(KeyId="alias/aws/s3")  # an AWS managed key, created now
            local.reset()
            keys = (await kms.list_keys())["Keys"]
            after = (await kms.describe_key(KeyId="alias/app"))["KeyMetadata"]["KeyId"]
            assert [k["KeyId"] for k in keys] == [after] and after != before
            for gone in (key_id, "alias/mine"):
                with pytest.raises(botocore.exceptions.ClientError) as caught:
                    await kms.describe_key(KeyId=gone)
                assert error_of(caught.value) == ("NotFoundException", 400)
            aliases = (await kms.list_aliases())["Aliases"]
            assert [a["AliasName"] for a in aliases if "TargetKeyId" in a] == ["alias/app"]
        assert (local.credentials, local.endpoint_url) == (credentials, url)
        assert local.stats().operations["DescribeKey"] == 3  # the counters go on
    async with LocalKMS(state_file=path) as again:
        assert again.stats().keys == 1  # the file holds the store as reset


async def test_reset_endpoint_only_when_asked() -> None:
    for enabled in (True, False):
        async with LocalKMS(reset_endpoint=enabled) as local:
            async with client_of(local) as kms:
                await kms.create_key()
            async with (
                aiohttp.ClientSession() as session,
                session.post(local.endpoint_url + "/_localkms/reset") as response,
            ):
                status, body = response.status, await response.json(content_type=None)
            if enabled:
                assert (status, body, local.stats().keys) == (200, {}, 0)
            else:  # an unsigned KMS request, refused as KMS refuses it; nothing forgotten
                assert (status, body["__type"], local.stats().keys) == (
                    400,
                    "MissingAuthenticationTokenException",
                    1,
                )
