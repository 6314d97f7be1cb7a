"""KMSClient against servers on 127.0.0.1: protocol, errors, validation, pooling and signing,
the client's limiters per quota, deadlines, cancellation, stats and lifecycle (an in-process
KMS, and :class:`~tests.fault_server.FaultServer` for what no well-behaved server does); and
against moto's KMS beside aiobotocore, whose transcripts of one scenario must match."""

from __future__ import annotations

import asyncio
import base64
import datetime
import gc
import hashlib
import inspect
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import botocore.session
import pytest
from aiohttp import web
from botocore import xform_name
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    OperationNotPageableError,
    ParamValidationError,
)
from botocore.parsers import ResponseParserError
from moto.kms.responses import KmsResponse

import aiokms
from aiokms import _model
from aiokms._quotas import ECC, RSA, SYMMETRIC
from aiokms._signing import Signer
from tests import moto_scenario as moto
from tests.fake_kms import ACCESS_KEY, FakeKMS, Recorded, ThreadedKMS, client_of, slow
from tests.fault_server import FaultServer, fault_client
from tests.helpers import BOUND, FrozenClock, assert_idle, imported_modules, limiter_of, until

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def botocore_operations() -> list[str]:
    return list(botocore.session.get_session().get_service_model("kms").operation_names)


# --- the operation surface ---------------------------------------------------------------


def test_every_operation_of_the_model_is_a_coroutine_method() -> None:
    from botocore import xform_name

    names = [xform_name(op) for op in botocore_operations()]
    assert len(names) >= 54
    for name in names:
        method = getattr(aiokms.KMSClient, name)
        assert inspect.iscoroutinefunction(method), name
        assert method.__doc__ and method.__name__ == name


def test_operation_methods_show_the_models_parameters_and_documentation() -> None:
    signature = inspect.signature(aiokms.KMSClient.encrypt)
    params = signature.parameters
    assert list(params)[:3] == ["self", "KeyId", "Plaintext"]
    assert {p.kind for name, p in params.items() if name != "self"} == {
        inspect.Parameter.KEYWORD_ONLY
    }
    assert params["KeyId"].default is inspect.Parameter.empty  # required
    assert params["EncryptionContext"].default is not inspect.Parameter.empty
    assert signature.return_annotation == "EncryptResponse"
    doc = aiokms.KMSClient.encrypt.__doc__ or ""
    assert doc.startswith("KMS Encrypt. Encrypts plaintext of up to 4,096 bytes")
    assert "Args:\n" in doc and "EncryptionContext: " in doc
    assert "<" not in doc and "&amp;" not in doc  # plain text, not the model's HTML
    # one documented, typed signature per operation of the model
    for name in botocore_operations():
        method = getattr(aiokms.KMSClient, xform_name(name))
        assert (method.__doc__ or "").startswith(f"KMS {name}."), name
        assert inspect.signature(method).return_annotation.endswith("Response"), name


def test_the_client_leaves_the_http_client_to_the_transport() -> None:
    from aiokms import _client

    imported = {name.split(".")[0] for name in imported_modules(_client.__file__)}
    assert not imported & {"aiohttp", "multidict", "yarl"}


async def test_positional_arguments_are_refused(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        await kms.describe_key("alias/x")
    assert fake.requests == []


async def test_an_operation_is_compiled_at_its_first_call(fake: FakeKMS) -> None:
    _model.operation.cache_clear()
    _model.error_parsers.cache_clear()
    async with client_of(fake, max_attempts=1) as kms:
        assert _model.operation.cache_info().currsize == 0  # a client compiles nothing
        fake.reply("Encrypt", {"CiphertextBlob": base64.b64encode(b"ct").decode()})
        await kms.encrypt(KeyId="alias/app", Plaintext=b"x")
        await kms.encrypt(KeyId="alias/app", Plaintext=b"y")
        assert _model.operation.cache_info().currsize == 1  # Encrypt, once
        assert _model.error_parsers.cache_info().currsize == 0  # no error yet
        fake.error("DescribeKey", "NotFoundException", "no such key")
        with pytest.raises(kms.exceptions.NotFoundException):
            await kms.describe_key(KeyId="alias/missing")
        assert _model.error_parsers.cache_info().currsize == 1


def test_a_cold_start_imports_only_what_a_call_needs(tmp_path: Path) -> None:
    # AWS Lambda pays every import on each cold start: a client with the environment's
    # credentials needs neither the cache's and encryptor's crypto nor a botocore or
    # aiobotocore session
    code = """
import asyncio, sys
import aiokms
from aiokms._credentials import CredentialCache
kms = aiokms.KMSClient(region_name="eu-west-1")
asyncio.run(CredentialCache(None).get())
heavy = ("cryptography", "aiobotocore", "botocore.session", "botocore.client", "aiokms.types")
print(" ".join(sorted(name for name in heavy if name in sys.modules)))
"""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


async def test_unknown_operation_is_an_attribute_error(kms: aiokms.KMSClient) -> None:
    with pytest.raises(AttributeError):
        kms.generate_data_keys  # noqa: B018


# --- requests on the wire ------------------------------------------------------------------


async def test_request_is_signed_json_1_1(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.reply("Encrypt", {"CiphertextBlob": base64.b64encode(b"ct").decode(), "KeyId": KEY_ARN})
    context = {"tenant": 'ä/€ &=+?#"\\\n', "emoji": "🔑"}
    await kms.encrypt(KeyId="alias/app", Plaintext=b"\x00\xffsecret", EncryptionContext=context)

    (request,) = fake.requests
    assert request.signature_ok
    assert request.headers["X-Amz-Target"] == "TrentService.Encrypt"
    assert request.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert request.headers["Host"] == fake.url.removeprefix("http://")
    assert "X-Amz-Security-Token" not in request.headers
    # replies are parsed as they arrive, so none may come compressed (as botocore asks)
    assert request.headers["Accept-Encoding"] == "identity"
    assert request.headers["User-Agent"] == (
        f"aiokms/{aiokms.__version__} Python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )
    assert request.json == {
        "KeyId": "alias/app",
        "Plaintext": base64.b64encode(b"\x00\xffsecret").decode(),
        "EncryptionContext": context,
    }


async def test_session_token_is_sent_and_signed(fake: FakeKMS) -> None:
    credentials = aiokms.Credentials(ACCESS_KEY, fake.secret_key, "session-token/+=")
    async with aiokms.KMSClient(
        region_name="us-east-1", endpoint_url=fake.url, credentials=credentials
    ) as kms:
        await kms.list_keys()
    (request,) = fake.requests
    assert request.headers["X-Amz-Security-Token"] == "session-token/+="
    assert "x-amz-security-token" in request.headers["Authorization"]
    assert request.signature_ok


async def test_wrong_secret_fails_the_independent_check(fake: FakeKMS) -> None:
    async with aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=fake.url,
        credentials=aiokms.Credentials(ACCESS_KEY, "not-the-secret"),
    ) as kms:
        await kms.list_keys()
    assert not fake.requests[0].signature_ok


async def test_signing_follows_credentials_that_change_within_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signing work kept per second and set of credentials never outlives the credentials:
    a refreshed secret or a new session token signs the very next request, in the same second."""
    now = 1764374399.5
    monkeypatch.setattr(time, "time", lambda: now)
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    signer = Signer("eu-west-1", "kms")
    payload_hash = hashlib.sha256(b"{}").hexdigest()
    async with aiokms.KMSClient(
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        credentials=aiokms.Credentials("AKID", "first-secret"),
    ) as kms:
        fixed = [("Content-Type", "application/x-amz-json-1.1"), ("Host", "127.0.0.1:9")]
        for credentials in [
            aiokms.Credentials("AKID", "first-secret"),
            aiokms.Credentials("AKID", "first-secret", "token-1"),
            aiokms.Credentials("AKID", "second-secret", "token-1"),
            aiokms.Credentials("AKID2", "second-secret", "token-2"),
            aiokms.Credentials("AKID", "first-secret"),
        ]:
            headers = kms._sign("TrentService.Encrypt", payload_hash, credentials)
            unsigned = fixed + [(k, v) for k, v in headers.items() if k != "Authorization"]
            assert headers["Authorization"] == signer.authorization(
                method="POST",
                path="/",
                query="",
                headers=unsigned,
                payload_hash=payload_hash,
                access_key=credentials.access_key,
                secret_key=credentials.secret_key,
                amz_date=amz_date,
            )
            assert headers.get("X-Amz-Security-Token") == credentials.token
            assert credentials.secret_key not in repr(kms._signing)


async def test_operation_without_input_members_sends_empty_object(
    kms: aiokms.KMSClient, fake: FakeKMS
) -> None:
    await kms.list_keys()
    assert fake.requests[0].body == b"{}"


async def test_timestamps_in_input_are_epoch_seconds(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    valid_to = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    await kms.import_key_material(
        KeyId="k", ImportToken=b"t", EncryptedKeyMaterial=b"m", ValidTo=valid_to
    )
    assert fake.requests[0].json["ValidTo"] == int(valid_to.timestamp())


# --- replies -----------------------------------------------------------------------------


async def test_reply_is_shaped_as_botocore_returns_it(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.reply(
        "DescribeKey",
        {
            "KeyMetadata": {
                "KeyId": "1234abcd",
                "Arn": KEY_ARN,
                "CreationDate": 1700000000.5,
                "Enabled": True,
                "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "DeletionDate": None,
                "NotInTheModel": "dropped",
            },
            "AlsoNotInTheModel": 1,
        },
        headers={"x-amzn-RequestId": "rid-1"},
    )
    reply = await kms.describe_key(KeyId="alias/app")

    metadata = reply["KeyMetadata"]
    assert metadata["CreationDate"] == datetime.datetime.fromtimestamp(
        1700000000.5, datetime.timezone.utc
    )
    assert metadata["CreationDate"].tzinfo is not None
    assert metadata["Enabled"] is True
    assert "DeletionDate" not in metadata and "NotInTheModel" not in metadata
    assert set(reply) == {"KeyMetadata", "ResponseMetadata"}
    assert reply["ResponseMetadata"]["RequestId"] == "rid-1"
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert reply["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == "rid-1"
    assert reply["ResponseMetadata"]["RetryAttempts"] == 0


async def test_blobs_come_back_as_bytes(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.reply(
        "GenerateDataKey",
        {
            "CiphertextBlob": base64.b64encode(b"c" * 184).decode(),
            "Plaintext": base64.b64encode(bytes(range(32))).decode(),
            "KeyId": KEY_ARN,
        },
    )
    reply = await kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256")
    assert reply["Plaintext"] == bytes(range(32))
    assert reply["CiphertextBlob"] == b"c" * 184
    assert reply["KeyId"] == KEY_ARN


async def test_operation_without_output_returns_only_metadata(
    kms: aiokms.KMSClient, fake: FakeKMS
) -> None:
    reply = await kms.enable_key(KeyId="k")
    assert set(reply) == {"ResponseMetadata"}


# JSON nested deeper than Python's recursion limit: a parser that recurses cannot read it
TOO_DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"Plaintext": "***not base64***"}',
        b'{"KeyMetadata": 5}',
        TOO_DEEP,
    ],
    ids=["not-json", "not-object", "bad-base64", "bad-structure", "too-deep"],
)
async def test_unparsable_success_reply_is_invalid_response(
    kms: aiokms.KMSClient, fake: FakeKMS, body: bytes
) -> None:
    fake.reply("Decrypt", body)
    fake.reply("DescribeKey", body)
    operation = kms.describe_key if b"KeyMetadata" in body else kms.decrypt
    arguments: dict[str, Any] = (
        {"KeyId": "k"} if b"KeyMetadata" in body else {"CiphertextBlob": b"x"}
    )
    with pytest.raises(aiokms.InvalidResponse) as caught:
        await operation(**arguments)
    assert isinstance(caught.value, aiokms.TransportError)
    assert "***not base64***" not in str(caught.value)


@pytest.mark.parametrize("keys", [5, True], ids=["number", "boolean"])
async def test_a_list_member_that_is_no_list_is_invalid_response(
    kms: aiokms.KMSClient, fake: FakeKMS, keys: Any
) -> None:
    fake.reply("ListKeys", {"Keys": keys, "Truncated": False})
    with pytest.raises(aiokms.InvalidResponse):
        await kms.list_keys()


# --- service errors ------------------------------------------------------------------------


async def test_modeled_error_raises_its_class(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.error("DescribeKey", "NotFoundException", "Key 'x' does not exist")
    with pytest.raises(kms.exceptions.NotFoundException) as caught:
        await kms.describe_key(KeyId="x")
    error = caught.value
    assert isinstance(error, ClientError)
    assert error.response["Error"] == {
        "Code": "NotFoundException",
        "Message": "Key 'x' does not exist",
    }
    assert error.response["message"] == "Key 'x' does not exist"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.operation_name == "DescribeKey"
    assert str(error) == (  # (the client's one attempt was its last, as botocore says)
        "An error occurred (NotFoundException) when calling the DescribeKey operation "
        "(reached max retries: 0): Key 'x' does not exist"
    )
    assert kms.stats().errors == {"NotFoundException": 1}


async def test_every_modeled_error_code_has_a_class(kms: aiokms.KMSClient) -> None:
    service = botocore.session.get_session().get_service_model("kms")
    for shape in service.error_shapes:
        cls = getattr(kms.exceptions, shape.name)
        assert issubclass(cls, ClientError) and cls.__name__ == shape.name
        assert kms.exceptions.from_code(shape.name) is cls


async def test_throttling_has_a_class_and_is_counted(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.error("GenerateDataKey", "ThrottlingException", "Rate exceeded")
    with pytest.raises(kms.exceptions.ThrottlingException):
        await kms.generate_data_key(KeyId="k", KeySpec="AES_256")
    assert kms.stats().throttles == 1


async def test_namespaced_and_unknown_codes(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.error("ListKeys", "com.amazonaws.kms#KMSInternalException", "boom", status=500)
    with pytest.raises(kms.exceptions.KMSInternalException):
        await kms.list_keys()
    fake.error("ListKeys", "SomethingNewException", "new", status=400)
    with pytest.raises(ClientError) as caught:
        await kms.list_keys()
    assert type(caught.value) is ClientError
    assert caught.value.response["Error"]["Code"] == "SomethingNewException"


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [
        (503, b"", "503", "Service Unavailable"),
        (502, b"<html><body>bad gateway</body></html>", "502", "Bad Gateway"),
        (500, b"garbage", "500", "garbage"),
        (400, b'{"message": "no type"}', "400", "no type"),
    ],
)
async def test_generic_error_bodies(
    kms: aiokms.KMSClient, fake: FakeKMS, status: int, body: bytes, code: str, message: str
) -> None:
    fake.reply("ListKeys", body, status)
    with pytest.raises(ClientError) as caught:
        await kms.list_keys()
    assert caught.value.response["Error"] == {"Code": code, "Message": message}


async def test_an_error_body_nested_too_deeply_is_its_text(
    kms: aiokms.KMSClient, fake: FakeKMS
) -> None:
    fake.reply("ListKeys", TOO_DEEP, 400)
    with pytest.raises(ClientError) as caught:
        await kms.list_keys()
    assert caught.value.response["Error"] == {"Code": "400", "Message": TOO_DEEP.decode()}


# --- validation before sending -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "arguments", "report"),
    [
        ("encrypt", {"Plaintext": b"x"}, 'Missing required parameter in input: "KeyId"'),
        ("encrypt", {"KeyId": "k", "Plaintext": b"x" * 4097}, "valid max length: 4096"),
        ("encrypt", {"KeyId": "k", "Plaintext": b""}, "valid min length: 1"),
        ("encrypt", {"KeyId": 7, "Plaintext": b"x"}, "Invalid type for parameter KeyId"),
        ("list_keys", {"Limit": 0}, "Invalid range for parameter Limit"),
        ("list_keys", {"Limit": True}, "Invalid type for parameter Limit"),
        ("list_keys", {"Bogus": 1}, 'Unknown parameter in input: "Bogus"'),
        (
            "generate_data_key",
            {"KeyId": "k", "EncryptionContext": {"a": 1}},
            "Invalid type for parameter EncryptionContext.a",
        ),
        (
            "create_key",
            {"Tags": [{"TagKey": "k"}]},
            'Missing required parameter in Tags[0]: "TagValue"',
        ),
        ("generate_data_key", {"KeyId": "k", "GrantTokens": "t"}, "parameter GrantTokens"),
    ],
)
async def test_bad_parameters_raise_before_sending(
    kms: aiokms.KMSClient, fake: FakeKMS, method: str, arguments: dict[str, Any], report: str
) -> None:
    with pytest.raises(ParamValidationError) as caught:
        await getattr(kms, method)(**arguments)
    assert report in str(caught.value)
    assert fake.requests == []


async def test_every_problem_is_reported_at_once(kms: aiokms.KMSClient) -> None:
    with pytest.raises(ParamValidationError) as caught:
        await kms.encrypt(Plaintext=b"", Extra=1)
    text = str(caught.value)
    assert '"KeyId"' in text and "min length" in text and '"Extra"' in text


async def test_sensitive_values_are_not_echoed(kms: aiokms.KMSClient) -> None:
    with pytest.raises(ParamValidationError) as caught:
        await kms.encrypt(KeyId="k", Plaintext=123456789)
    assert "123456789" not in str(caught.value)


async def test_str_blobs_are_utf8(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.reply("Encrypt", {"CiphertextBlob": "Y3Q=", "KeyId": KEY_ARN})
    await kms.encrypt(KeyId="k", Plaintext="é")
    assert base64.b64decode(fake.requests[0].json["Plaintext"]) == "é".encode()


# --- pooling, slots and signing order ------------------------------------------------------


async def test_concurrency_is_bounded_and_connections_reused(fake: FakeKMS) -> None:
    async def handler(recorded: Recorded) -> web.StreamResponse:
        await asyncio.sleep(0.01)
        return web.json_response({"Keys": [], "Truncated": False})

    fake.handle("ListKeys", handler)
    async with aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=fake.url,
        credentials=aiokms.Credentials(ACCESS_KEY, fake.secret_key),
        max_connections=8,
    ) as kms:
        await asyncio.gather(*(kms.list_keys() for _ in range(200)))
        assert kms.stats().in_flight == 0
        assert kms.stats().requests == 200
    assert fake.max_in_flight <= 8
    assert len(fake.peers) <= 8


async def test_slot_is_taken_before_signing(fake: FakeKMS, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one slot, each request is signed only after the previous reply has arrived."""
    events: list[str] = []

    async def handler(recorded: Recorded) -> web.StreamResponse:
        events.append("serve")
        await asyncio.sleep(0.005)
        return web.json_response({})

    fake.handle("EnableKey", handler)
    async with aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=fake.url,
        credentials=aiokms.Credentials(ACCESS_KEY, fake.secret_key),
        max_connections=1,
    ) as kms:
        sign = kms._sign

        def recording_sign(target: str, payload_hash: str, credentials: Any) -> dict[str, str]:
            events.append("sign")
            return sign(target, payload_hash, credentials)

        monkeypatch.setattr(kms, "_sign", recording_sign)
        await asyncio.gather(*(kms.enable_key(KeyId="k") for _ in range(5)))
    assert events == ["sign", "serve"] * 5


# --- paginators ------------------------------------------------------------------------------


def pages_handler(pages: list[list[str]]) -> Any:
    async def handler(recorded: Recorded) -> web.StreamResponse:
        marker = recorded.json.get("Marker")
        index = int(marker) if marker else 0
        body: dict[str, Any] = {
            "Keys": [{"KeyId": k} for k in pages[index]],
            "Truncated": index + 1 < len(pages),
        }
        if index + 1 < len(pages):
            body["NextMarker"] = str(index + 1)
        return web.json_response(body)

    return handler


async def test_paginator_walks_every_page(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.handle("ListKeys", pages_handler([["a", "b"], ["c", "d"], ["e"]]))
    pages = [
        page
        async for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
    ]
    assert [[k["KeyId"] for k in p["Keys"]] for p in pages] == [["a", "b"], ["c", "d"], ["e"]]
    assert [r.json.get("Marker") for r in fake.requests] == [None, "1", "2"]
    assert all(r.json["Limit"] == 2 for r in fake.requests)


async def test_max_items_cut_resumes_without_loss(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.handle("ListKeys", pages_handler([["a", "b"], ["c", "d"], ["e"]]))
    paginator = kms.get_paginator("list_keys")
    seen: list[str] = []
    token = None
    while True:
        config: dict[str, Any] = {"MaxItems": 3}
        if token:
            config["StartingToken"] = token
        result = await paginator.paginate(PaginationConfig=config).build_full_result()
        seen += [k["KeyId"] for k in result["Keys"]]
        token = result.get("NextToken")
        if not token:
            break
    assert seen == ["a", "b", "c", "d", "e"]


async def test_search_yields_each_pages_jmespath_result_as_aiobotocores_does(
    kms: aiokms.KMSClient, fake: FakeKMS
) -> None:
    fake.handle("ListKeys", pages_handler([["a", "b"], ["c", "d"], ["e"]]))
    paginator = kms.get_paginator("list_keys")
    found = [key async for key in paginator.paginate().search("Keys[].KeyId")]
    assert found == ["a", "b", "c", "d", "e"]  # a list result: its elements
    assert [truncated async for truncated in paginator.paginate().search("Truncated")] == [
        True,
        True,
        False,
    ]  # anything else: as it is, a page at a time
    first_three = paginator.paginate(PaginationConfig={"MaxItems": 3})
    assert [key async for key in first_three.search("Keys[].KeyId")] == ["a", "b", "c"]


async def test_pagination_config_is_read_when_paginate_is_called(
    kms: aiokms.KMSClient, fake: FakeKMS
) -> None:
    """As botocore reads it: numbers made whole with int() ("2" and 2.0 are 2), then and there:
    the caller's dict changed afterwards changes nothing; a value int() refuses, at once."""
    fake.handle("ListKeys", pages_handler([["a", "b"], ["c", "d"], ["e"]]))
    paginator = kms.get_paginator("list_keys")
    config: dict[str, Any] = {"MaxItems": "3", "PageSize": 2.0}
    pages = paginator.paginate(PaginationConfig=config)
    config["MaxItems"] = 1
    result = await pages.build_full_result()
    assert [k["KeyId"] for k in result["Keys"]] == ["a", "b", "c"]
    assert [r.json["Limit"] for r in fake.requests] == [2, 2]
    with pytest.raises(ValueError, match="PaginationConfig: MaxItems 'three' is not a whole"):
        paginator.paginate(PaginationConfig={"MaxItems": "three"})
    with pytest.raises(ValueError, match=r"PaginationConfig: PageSize \[2\] is not a whole"):
        paginator.paginate(PaginationConfig={"PageSize": [2]})
    with pytest.raises(ValueError, match="PaginationConfig: unknown keys"):
        paginator.paginate(PaginationConfig={"MaxItem": 3})  # botocore ignores a typo
    with pytest.raises(TypeError, match="PaginationConfig: expected a mapping"):
        paginator.paginate(PaginationConfig=[("MaxItems", 3)])


async def test_can_paginate(kms: aiokms.KMSClient) -> None:
    assert kms.can_paginate("list_aliases")
    assert not kms.can_paginate("encrypt")
    with pytest.raises(OperationNotPageableError):
        kms.get_paginator("encrypt")


async def test_bad_starting_token(kms: aiokms.KMSClient) -> None:
    with pytest.raises(ValueError, match="StartingToken"):
        async for _ in kms.get_paginator("list_keys").paginate(
            PaginationConfig={"StartingToken": "%%%"}
        ):
            pass


# --- lifecycle, stats, secrets --------------------------------------------------------------


async def test_closed_client_refuses_calls(fake: FakeKMS) -> None:
    kms = aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=fake.url,
        credentials=aiokms.Credentials(ACCESS_KEY, fake.secret_key),
    )
    await kms.list_keys()
    await kms.close()
    with pytest.raises(RuntimeError, match="closed"):
        await kms.list_keys()


async def test_stats_and_repr_hold_no_secret(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    fake.error("Decrypt", "InvalidCiphertextException", "bad")
    await kms.list_keys()
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as caught:
        await kms.decrypt(CiphertextBlob=b"x")
    stats = kms.stats()
    assert (stats.requests, stats.retries, stats.throttles, stats.in_flight) == (2, 0, 0, 0)
    assert stats.errors == {"InvalidCiphertextException": 1}
    assert stats.limiter_rate is None
    for text in (repr(kms), str(stats), str(caught.value), repr(kms._credentials)):
        assert fake.secret_key not in text


async def test_meta_and_response_json_roundtrip(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    assert kms.meta.region_name == "us-east-1"
    assert kms.meta.endpoint_url == fake.url
    fake.reply("GenerateRandom", {"Plaintext": base64.b64encode(b"r" * 16).decode()})
    reply = await kms.generate_random(NumberOfBytes=16)
    assert reply["Plaintext"] == b"r" * 16
    json.dumps(reply["ResponseMetadata"])


@pytest.mark.parametrize("region", ["eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_meta_waiters_and_the_method_mapping_are_botocores(region: str) -> None:
    ours = aiokms.KMSClient(region_name=region, credentials=aiokms.Credentials("AK", "SK"))
    theirs = botocore.session.get_session().create_client(
        "kms", region_name=region, aws_access_key_id="AK", aws_secret_access_key="SK"
    )
    assert ours.meta.partition == theirs.meta.partition
    assert ours.meta.method_to_api_mapping == theirs.meta.method_to_api_mapping
    assert ours.meta.service_model.operation_names == theirs.meta.service_model.operation_names
    assert ours.meta.service_model.service_name == "kms"
    assert ours.waiter_names == theirs.waiter_names == []
    with pytest.raises(ValueError, match=r"^Waiter does not exist: key_exists$"):
        ours.get_waiter("key_exists")
    with pytest.raises(ValueError, match=r"^Waiter does not exist: key_exists$"):
        theirs.get_waiter("key_exists")
    ours.meta.method_to_api_mapping["list_keys"] = "Changed"  # a copy: the client's unchanged
    assert ours.meta.method_to_api_mapping["list_keys"] == "ListKeys"


# --- adaptive mode: a limiter per KMS quota, driven by the client -------------------------

THROTTLE = {"__type": "ThrottlingException", "message": "Rate exceeded"}


async def test_each_call_is_metered_against_the_quota_its_parameters_name(fake: FakeKMS) -> None:
    for operation in ("DescribeKey", "GenerateDataKey", "Sign", "GenerateDataKeyPair"):
        fake.reply(operation, THROTTLE, 400)
    async with client_of(fake, max_attempts=1) as kms:
        calls = [
            kms.describe_key(KeyId="k"),
            kms.generate_data_key(KeyId="k", KeySpec="AES_256"),
            kms.sign(KeyId="k", Message=b"m", SigningAlgorithm="ECDSA_SHA_256"),
            kms.sign(KeyId="k", Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"),
            kms.generate_data_key_pair(KeyId="k", KeyPairSpec="RSA_4096"),
        ]
        for call in calls:
            with pytest.raises(kms.exceptions.ThrottlingException):
                await call
        stats = kms.stats()
        quotas = {"DescribeKey", SYMMETRIC, ECC, RSA, "GenerateDataKeyPair (RSA_4096)"}
        assert set(stats.limiter_rates) == quotas
        for quota, rate in stats.limiter_rates.items():
            assert rate == limiter_of(kms, quota).rate
        assert stats.limiter_rate == stats.limiter_rates[SYMMETRIC]
        stats.limiter_rates.clear()  # a copy
        assert set(kms.stats().limiter_rates) == quotas
        # a quota never throttled has no rate, though its calls were paced at first
        await kms.list_keys()
        assert "ListKeys" not in kms.stats().limiter_rates


async def test_standard_mode_has_no_limiters(fake: FakeKMS) -> None:
    fake.reply("GenerateDataKey", THROTTLE, 400)
    async with client_of(fake, retry_mode="standard", max_attempts=1) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.generate_data_key(KeyId="k", KeySpec="AES_256")
        stats = kms.stats()
    assert (stats.limiter_rate, stats.limiter_rates) == (None, {})
    assert kms._policy.limiters is None


async def test_a_quotas_first_calls_go_four_at_a_time(fake: FakeKMS) -> None:
    """Nothing is known of a quota before its first replies: four of its calls may be in
    flight, one more per success, so 64 callers meet a small quota with a handful of requests.
    Those waiting for their turn hold no connection slot."""
    release = asyncio.Event()

    async def held(recorded: Recorded) -> web.StreamResponse:
        await release.wait()
        return web.json_response({"Keys": [], "Truncated": False})

    fake.handle("ListKeys", held)
    async with client_of(fake) as kms:
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(6)]
        await until(lambda: fake.in_flight == 4)
        await asyncio.sleep(0.05)  # far longer than the round trip the others wait for
        assert (fake.in_flight, len(fake.requests), kms.stats().in_flight) == (4, 4, 4)
        release.set()
        replies = await asyncio.wait_for(asyncio.gather(*calls), 10)
    assert [reply["ResponseMetadata"]["RetryAttempts"] for reply in replies] == [0] * 6
    assert len(fake.requests) == 6


async def test_a_retry_its_limiter_would_hold_past_max_rate_wait_raises_what_it_retries(
    fake: FakeKMS,
) -> None:
    fake.reply("ListKeys", THROTTLE, 400)
    clock = FrozenClock()  # the limiter's bucket never refills: any turn would wait
    async with client_of(fake, max_rate_wait=0.001, max_attempts=3, clock=clock) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException) as caught:
            await kms.list_keys()  # throttled; its retry would wait for a turn: not sent
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        assert kms.stats().requests == 1
        with pytest.raises(aiokms.RateLimited):
            await kms.list_keys()  # a first attempt refused its turn: nothing was sent
        assert kms.stats().requests == 1
        limiter = limiter_of(kms, "ListKeys")
        assert limiter.wait_for(clock()) == pytest.approx(1 / limiter.rate)  # nobody in line


# --- no secret in the frames of a raised error ------------------------------------------------

TOKEN = "session-token-that-must-not-leak"
PLAINTEXT = b"plaintext-that-must-not-leak"


class ReadOnlySource:
    """A provider answering as aiobotocore's do: botocore's ReadOnlyCredentials, whose repr
    shows the secret key and the session token."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return ReadOnlyCredentials(ACCESS_KEY, self.secret_key, TOKEN)


def traceback_text(error: BaseException) -> str:
    """The traceback as an error reporter records it: frame locals included."""
    return "".join(
        traceback.TracebackException(
            type(error), error, error.__traceback__, capture_locals=True
        ).format()
    )


def secrets_in(text: str, secret_key: str) -> list[str]:
    body = json.dumps({"KeyId": "alias/app", "Plaintext": base64.b64encode(PLAINTEXT).decode()})
    found = [
        secret
        for secret in (
            secret_key,
            TOKEN,
            base64.b64encode(PLAINTEXT).decode(),  # in the request body
            repr(PLAINTEXT),  # in the caller's arguments
            repr(body.encode()),
        )
        if secret in text
    ]
    assert "KMSClient" in text  # the frames are there, with their line numbers
    return found


@pytest.mark.parametrize(
    "failure", ["service error", "transport error", "unparsable reply", "deadline"]
)
async def test_a_raised_error_holds_no_secret_in_its_frames(fake: FakeKMS, failure: str) -> None:
    options: dict[str, Any] = {}
    url = fake.url
    if failure == "service error":
        fake.error("Encrypt", "AccessDeniedException", "no")
    elif failure == "transport error":
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    elif failure == "unparsable reply":
        fake.reply("Encrypt", b"<html>surely not JSON</html>")
    else:
        fake.handle("Encrypt", await slow(1.0))
        options["call_timeout"] = 0.2
    async with client_of(
        fake,
        endpoint_url=url,
        credentials=ReadOnlySource(fake.secret_key),
        max_attempts=2,
        **options,
    ) as kms:
        error = await failed_encrypt(kms)
    expected = {
        "service error": ClientError,
        "transport error": aiokms.ConnectError,
        "unparsable reply": aiokms.InvalidResponse,
        "deadline": aiokms.DeadlineExceeded,
    }[failure]
    assert isinstance(error, expected)
    assert secrets_in(traceback_text(error), fake.secret_key) == []


async def failed_encrypt(kms: aiokms.KMSClient) -> Exception:
    """The error of an Encrypt call, caught in a frame that holds no secret of its own."""
    try:
        await kms.encrypt(KeyId="alias/app", Plaintext=PLAINTEXT)
    except Exception as error:
        return error
    raise AssertionError("the call succeeded")


# --- a success that cannot be parsed ------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"<html><body>maintenance</body></html>", b'{"KeyMetadata": 5}', b"{"]
)
async def test_a_success_reply_that_cannot_be_parsed_is_never_sent_again(
    fake: FakeKMS, body: bytes
) -> None:
    """botocore raises its ResponseParserError for such a reply and does not retry: the
    operation has run, and CreateKey sent again would make another key."""
    fake.reply("CreateKey", body)
    async with client_of(fake, retry_mode="standard", max_attempts=3) as kms:
        with pytest.raises(aiokms.InvalidResponse) as caught:
            await kms.create_key(Description="once")
        assert isinstance(caught.value, ResponseParserError)
        stats = kms.stats()
        assert (stats.requests, stats.retries, stats.errors) == (1, 0, {"InvalidResponse": 1})
    assert fake.operations() == ["CreateKey"]


# --- close() is final -------------------------------------------------------------------------


def unclosed_warnings(recorded: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in recorded if "Unclosed" in str(w.message)]


async def test_close_stops_a_call_waiting_to_retry_and_nothing_is_sent_after(
    fake: FakeKMS,
) -> None:
    calls = 0

    async def failing_once(recorded: Recorded) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.Response(status=500)
        return web.json_response({"Keys": [], "Truncated": False})

    fake.handle("ListKeys", failing_once)
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        # a backoff of 1 s, then 2 s: close() comes first
        kms = client_of(fake, max_attempts=3, _random=lambda: 1.0)
        call = asyncio.ensure_future(kms.list_keys())
        await until(lambda: call.done() or kms.stats().retries == 1)  # waiting to retry
        await kms.close()
        with pytest.raises(aiokms.ClientClosed, match="closed while the call was under way"):
            await asyncio.wait_for(call, 0.5)  # at once, not after the backoff
        await asyncio.sleep(1.5)  # past the backoff the call was waiting out
        assert fake.operations() == ["ListKeys"]
        assert kms._transport._session is None  # never opened again
        with pytest.raises(aiokms.ClientClosed):
            await kms.list_keys()
        kms = call = None
        gc.collect()
    assert unclosed_warnings(recorded) == []
    assert fake.operations() == ["ListKeys"]


async def test_close_ends_every_call_under_way_promptly(fake: FakeKMS) -> None:
    """A call whose request is in flight, one waiting for a connection slot, one waiting for
    its credentials and one queued in the rate limiter all end with ClientClosed."""
    release = asyncio.Event()

    async def hanging(recorded: Recorded) -> web.StreamResponse:
        await release.wait()
        return web.json_response({})

    fake.error("EnableKey", "ThrottlingException", "Rate exceeded")
    source = HeldSource(fake.secret_key)
    clock = FrozenClock()
    kms = client_of(fake, credentials=source, max_connections=1, max_attempts=1, clock=clock)
    try:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.enable_key(KeyId="k")  # EnableKey's limiter is on
        fake.handle("EnableKey", hanging)
        limiter = limiter_of(kms, "EnableKey")
        limiter.rate = 40.0  # pinned: a burst of two whole tokens (50 ms of 40/s)
        clock.now += 1.0  # then the clock stands still: two calls may go, the rest queue
        in_flight = asyncio.ensure_future(kms.enable_key(KeyId="k"))
        await until(lambda: fake.in_flight == 1)
        waiting_for_slot = asyncio.ensure_future(kms.enable_key(KeyId="k"))
        queued = [asyncio.ensure_future(kms.enable_key(KeyId="k")) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert kms.stats().in_flight == 1 and len(fake.requests) == 2
        await kms.close()
        for call in [in_flight, waiting_for_slot, *queued]:
            with pytest.raises(aiokms.ClientClosed):
                await asyncio.wait_for(call, 5)
        assert kms.stats().in_flight == 0
    finally:
        release.set()
        await kms.close()
    assert fake.operations() == ["EnableKey", "EnableKey"]


async def test_close_ends_a_call_waiting_for_its_credentials(fake: FakeKMS) -> None:
    source = HeldSource(fake.secret_key)
    source.gate.clear()  # the first fetch never answers
    kms = client_of(fake, credentials=source, max_attempts=1)
    call = asyncio.ensure_future(kms.list_keys())
    await asyncio.wait_for(source.asked.wait(), 5)
    await kms.close()
    with pytest.raises(aiokms.ClientClosed):
        await asyncio.wait_for(call, 5)
    assert fake.requests == []


# --- event loops ------------------------------------------------------------------------------


def test_a_client_used_from_a_second_event_loop_says_so() -> None:
    with ThreadedKMS() as server:
        kms = client_of(server, max_attempts=1)
        first = asyncio.new_event_loop()
        try:
            first.run_until_complete(kms.list_keys())  # the client's loop: its connection
            with pytest.raises(aiokms.WrongEventLoop, match="another one"):
                asyncio.run(kms.list_keys())  # a second loop, while the first one lives
            first.run_until_complete(kms.list_keys())  # still serves its own
            first.run_until_complete(kms.close())
        finally:
            first.close()
        assert len(server.requests) == 2


def test_two_asyncio_runs_the_second_is_told_the_clients_loop_has_ended() -> None:
    with ThreadedKMS() as server:
        kms = client_of(server, max_attempts=1)
        asyncio.run(kms.list_keys())  # not closed before its loop ended: a mistake
        with pytest.raises(aiokms.WrongEventLoop, match="has been closed") as caught:
            asyncio.run(kms.list_keys())
        assert isinstance(caught.value, RuntimeError)
        with pytest.raises(aiokms.WrongEventLoop):
            asyncio.run(kms.close())
        assert kms._credentials.fresh() is None  # closed all the same: the copy is dropped
        with pytest.raises(aiokms.ClientClosed):
            asyncio.run(kms.list_keys())
        assert len(server.requests) == 1
        # What the first loop left open is collected, with the warnings that mistake earns
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            del kms, caught
            gc.collect()


# --- fork -----------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_a_forked_child_never_uses_its_parents_connections() -> None:
    with ThreadedKMS() as server:
        kms = client_of(server, max_attempts=1)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(kms.list_keys())
            (parent_port,) = server.ports()

            async def in_the_child() -> None:
                async with kms:
                    await asyncio.wait_for(kms.list_keys(), 10)
                    await asyncio.wait_for(kms.list_keys(), 10)

            assert in_a_forked_child(in_the_child) == 0
            child_ports = server.ports()[1:]
            assert len(child_ports) == 2 and parent_port not in child_ports
            assert child_ports[0] == child_ports[1]  # the child pools its own connection
            # the parent's connection was left alone: it still serves the parent
            loop.run_until_complete(kms.list_keys())
            assert server.ports()[-1] == parent_port
            loop.run_until_complete(kms.close())
        finally:
            loop.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_a_forked_child_starts_its_limiters_afresh() -> None:
    """The parent's requests in flight at the fork never reply in the child, nor are its
    callers waiting there: in the child they hold no place in a quota's limiter."""
    with ThreadedKMS() as server:
        server.held = 4
        kms = client_of(server, max_attempts=1)
        loop = asyncio.new_event_loop()
        try:
            # a quota's first requests go four at a time: four in flight, two wait their turn
            calls = [loop.create_task(kms.list_keys()) for _ in range(6)]
            loop.run_until_complete(until(lambda: len(server.requests) == 4))

            async def in_the_child() -> None:
                async with kms:
                    await asyncio.wait_for(kms.list_keys(), 5)

            assert in_a_forked_child(in_the_child) == 0
            server.release.set()
            loop.run_until_complete(asyncio.wait_for(asyncio.gather(*calls), 10))
            assert len(server.requests) == 4 + 1 + 2
            loop.run_until_complete(kms.close())
        finally:
            loop.close()


def in_a_forked_child(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """Fork: the child runs ``main()`` on an event loop of its own and exits 0 if it returns,
    1 if it raises; the parent gets that exit code."""
    pid = os.fork()
    if pid == 0:  # the child: its exit status is its verdict
        status = 1
        try:
            asyncio.run(main())
            status = 0
        finally:
            os._exit(status)
    return wait_for_exit(pid)


def wait_for_exit(pid: int) -> int:
    """The exit code of child ``pid``; it is killed if it has not ended within BOUND."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child did not finish")


# --- credentials: the limiter token and the time bounds ---------------------------------------


class HeldSource:
    """A credentials provider that answers while ``gate`` is set, and says when it is asked."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.gate = asyncio.Event()
        self.gate.set()
        self.asked = asyncio.Event()
        self.calls = 0

    async def get_frozen_credentials(self) -> aiokms.Credentials:
        self.calls += 1
        self.asked.set()
        await self.gate.wait()
        return aiokms.Credentials(ACCESS_KEY, self.secret_key)


@pytest.mark.parametrize("end", ["cancelled", "call_timeout"])
async def test_a_call_that_ends_while_credentials_are_fetched_passes_its_token_on(
    fake: FakeKMS, end: str
) -> None:
    fake.error("EnableKey", "ThrottlingException", "Rate exceeded")
    clock = FrozenClock()
    source = HeldSource(fake.secret_key)
    call_timeout = 0.2 if end == "call_timeout" else None
    async with client_of(
        fake, credentials=source, max_attempts=1, clock=clock, call_timeout=call_timeout
    ) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.enable_key(KeyId="k")  # EnableKey's limiter is on
        fake.reply("EnableKey", {})
        limiter = limiter_of(kms, "EnableKey")
        assert limiter.enabled
        limiter.rate = 40.0  # pinned: a burst of two whole tokens (50 ms of 40/s)
        clock.now += 1.0  # the copy of the credentials is stale; the bucket is full
        source.gate.clear()
        source.asked.clear()
        calls = [asyncio.ensure_future(kms.enable_key(KeyId="k")) for _ in range(2)]
        await asyncio.wait_for(source.asked.wait(), 5)
        await asyncio.sleep(0)
        assert limiter.wait_for(clock()) > 0  # both tokens are taken
        if end == "cancelled":
            for call in calls:
                call.cancel()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
        expected = asyncio.CancelledError if end == "cancelled" else aiokms.DeadlineExceeded
        assert all(isinstance(outcome, expected) for outcome in outcomes)
        # with the clock still stopped: nothing was sent, the tokens went back to the bucket
        assert limiter.wait_for(clock()) == 0.0
        assert fake.operations() == ["EnableKey"]
        source.gate.set()


async def test_a_credential_fetch_is_bounded_by_connect_timeout(fake: FakeKMS) -> None:
    source = HeldSource(fake.secret_key)
    source.gate.clear()  # never answers
    async with client_of(fake, credentials=source, connect_timeout=0.1) as kms:
        with pytest.raises(CredentialRetrievalError, match=r"HeldSource.*0\.1 s"):
            await asyncio.wait_for(kms.list_keys(), 10)
    assert fake.requests == []


# --- deadlines ---------------------------------------------------------------------------


async def test_call_timeout_on_a_silent_server(faults: FaultServer) -> None:
    faults.policy = lambda: "hang"
    async with fault_client(faults.url, call_timeout=0.2) as kms:
        with pytest.raises(aiokms.DeadlineExceeded) as caught:
            await asyncio.wait_for(kms.describe_key(KeyId="k"), BOUND)
        assert isinstance(caught.value, TimeoutError)
        assert isinstance(caught.value, aiokms.AiokmsError)
        assert caught.value.operation == "DescribeKey"
        assert "call_timeout=0.2" in str(caught.value)
        assert_idle(kms)
        await until(lambda: faults.open_connections == 0)
        faults.policy = lambda: "ok"
        await kms.list_keys()
    assert faults.actions == ["hang", "ok"]


async def test_call_timeout_covers_backoff_sleeps(fake: FakeKMS) -> None:
    fake.error("ListKeys", "KMSInternalException", "down", 500)
    # full draws: 1 s of backoff after the first attempt, far past the deadline
    async with client_of(fake, call_timeout=0.3, _random=lambda: 1.0) as kms:
        with pytest.raises(aiokms.DeadlineExceeded):
            await asyncio.wait_for(kms.list_keys(), BOUND)
        assert kms.stats().retries == 1
        assert_idle(kms)
    assert len(fake.requests) == 1


async def test_call_timeout_while_queued_passes_the_token_on(fake: FakeKMS) -> None:
    clock = FrozenClock()  # frozen: a queued call never gets its turn
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with client_of(fake, max_attempts=1, call_timeout=0.2, clock=clock) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        limiter = limiter_of(kms, "ListKeys")
        ahead = limiter.wait_for(clock())
        for _ in range(3):
            with pytest.raises(aiokms.DeadlineExceeded):
                await asyncio.wait_for(kms.list_keys(), BOUND)
        assert limiter.wait_for(clock()) == pytest.approx(ahead)  # no ghosts in the queue
        assert len(fake.requests) == 1


# --- stats and cancellation ----------------------------------------------------------------


async def test_stats_count_retries_throttles_and_errors(faults: FaultServer) -> None:
    faults.script.extend(["throttle", "500", "reset", "throttle", "ok", "garbage", "ok"])
    async with fault_client(faults.url, retry_mode="standard") as kms:
        with pytest.raises(aiokms.ConnectionClosed):
            await kms.list_keys()  # throttle, 500, reset: out of attempts
        first = await kms.list_keys()  # throttle, ok
        with pytest.raises(aiokms.InvalidResponse):
            await kms.list_keys()  # garbage: a success that cannot be parsed is not retried
        second = await kms.list_keys()  # ok
        stats = kms.stats()
    assert (
        first["ResponseMetadata"]["RetryAttempts"],
        second["ResponseMetadata"]["RetryAttempts"],
    ) == (1, 0)
    assert stats.requests == 7
    assert stats.retries == 3
    assert stats.throttles == 2
    assert stats.errors == {
        "ThrottlingException": 2,
        "500": 1,
        "ConnectionClosed": 1,
        "InvalidResponse": 1,
    }
    assert stats.in_flight == 0
    assert (stats.limiter_rate, stats.limiter_rates) == (None, {})


async def test_a_reply_to_the_last_attempt_allowed_says_so_as_botocores_does(
    faults: FaultServer,
) -> None:
    """botocore marks whatever reply comes to a call's last allowed attempt -- a success, a
    retryable error or not -- with ``MaxAttemptsReached``, and a ClientError whose metadata
    has it says "(reached max retries: N)" (its standard retry handler's MaxAttemptsChecker)."""
    faults.script.extend(["500", "500", "500", "500", "ok", "500", "500", "ok"])
    async with fault_client(faults.url, retry_mode="standard") as kms:
        with pytest.raises(ClientError) as caught:
            await kms.list_keys()  # 500 three times
        meta = caught.value.response["ResponseMetadata"]
        assert (meta["MaxAttemptsReached"], meta["RetryAttempts"]) == (True, 2)
        assert list(meta)[-2:] == ["MaxAttemptsReached", "RetryAttempts"]  # botocore's order
        assert str(caught.value) == (
            "An error occurred (500) when calling the ListKeys operation (reached max retries: "
            "2): Internal Server Error"
        )
        assert "MaxAttemptsReached" not in (await kms.list_keys())["ResponseMetadata"]
        assert (await kms.list_keys())["ResponseMetadata"]["MaxAttemptsReached"] is True
    faults.script.extend(["ok", "400"])
    async with fault_client(faults.url, retry_mode="adaptive", max_attempts=1) as kms:
        assert (await kms.list_keys())["ResponseMetadata"]["MaxAttemptsReached"] is True
        with pytest.raises(ClientError, match=r"ListKeys operation \(reached max retries: 0\)"):
            await kms.list_keys()


async def test_cancelling_200_in_flight_calls_leaves_the_client_working(
    faults: FaultServer,
) -> None:
    faults.policy = lambda: "hang"
    async with fault_client(faults.url, retry_mode="standard") as kms:
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(200)]
        await until(lambda: faults.requests == 64)
        assert kms.stats().in_flight == 64  # the rest wait for a slot, unsigned
        for call in calls:
            call.cancel()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        assert_idle(kms)
        await until(lambda: faults.open_connections == 0)  # nothing left half-read
        assert faults.requests == 64
        faults.policy = lambda: "ok"
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 0
        assert kms.stats().errors == {}


# --- against moto's KMS, beside aiobotocore -----------------------------------------------------
# (the scenario: tests/moto_scenario.py; aiobotocore's run checks the scenario itself, the
# reference being deterministic)


def test_moto_serves_the_scenario() -> None:
    assert set(moto.KMS_OPERATIONS) >= moto.SCENARIO_OPERATIONS
    served = {name for name in moto.KMS_OPERATIONS if hasattr(KmsResponse, xform_name(name))}
    assert served >= moto.SCENARIO_OPERATIONS, moto.SCENARIO_OPERATIONS - served


async def test_scenario_transcripts_match(
    client_factory: moto.ClientFactory, moto_url: str
) -> None:
    expected, covered = await moto.run_scenario(moto.aiobotocore_client, moto_url)
    assert not [step for step in expected if step[:2] == ("check", "diverged at")], expected[-2:]
    assert covered == moto.SCENARIO_OPERATIONS

    actual, _ = await moto.run_scenario(client_factory, moto_url)
    assert actual == expected


async def test_maximum_is_checked_before_sending(moto_url: str) -> None:
    """A documented difference: aiokms refuses values above the model's maximum before sending,
    where aiobotocore sends them and gets the service's ValidationException."""
    async with moto.aiobotocore_client(moto_url) as ref:
        with pytest.raises(botocore.exceptions.ClientError) as served:
            await ref.generate_random(NumberOfBytes=1025)
    assert served.value.response["Error"]["Code"] == "ValidationException"
    async with moto.aiokms_client(moto_url) as kms:
        with pytest.raises(botocore.exceptions.ParamValidationError, match="max value: 1024"):
            await kms.generate_random(NumberOfBytes=1025)
        assert kms.stats().requests == 0


async def test_cross_decryption(client_factory: moto.ClientFactory, moto_url: str) -> None:
    async with moto.aiobotocore_client(moto_url) as ref, client_factory(moto_url) as cand:
        key_id = (await ref.create_key(Description="cross-decryption"))["KeyMetadata"]["KeyId"]

        async def encrypt_with(client: Any) -> bytes:
            response = await client.encrypt(
                KeyId=key_id, Plaintext=moto.PLAINTEXT, EncryptionContext=moto.CONTEXT
            )
            return response["CiphertextBlob"]  # type: ignore[no-any-return]

        async def decrypt_with(client: Any, blob: bytes) -> bytes:
            response = await client.decrypt(CiphertextBlob=blob, EncryptionContext=moto.CONTEXT)
            return response["Plaintext"]  # type: ignore[no-any-return]

        for maker, opener in [(cand, ref), (ref, cand)]:
            assert await decrypt_with(opener, await encrypt_with(maker)) == moto.PLAINTEXT

            dk = await maker.generate_data_key(
                KeyId=key_id, KeySpec="AES_256", EncryptionContext=moto.CONTEXT
            )
            assert len(dk["Plaintext"]) == 32
            assert await decrypt_with(opener, dk["CiphertextBlob"]) == dk["Plaintext"]

            dk = await maker.generate_data_key_without_plaintext(
                KeyId=key_id, NumberOfBytes=24, EncryptionContext=moto.CONTEXT
            )
            assert len(await decrypt_with(opener, dk["CiphertextBlob"])) == 24


# --- logging -------------------------------------------------------------------------------


def logged(caplog: pytest.LogCaptureFixture, name: str) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == name]


async def test_each_retried_attempt_is_logged_at_debug(
    faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    faults.script.extend(["throttle", "500", "reset", "throttle", "ok"])
    caplog.set_level(logging.DEBUG, logger="aiokms")
    async with fault_client(faults.url, retry_mode="standard", _random=lambda: 0.5) as kms:
        with pytest.raises(aiokms.ConnectionClosed):
            await kms.list_keys()  # throttle, 500, reset: out of attempts
        await kms.describe_key(KeyId="alias/k")  # throttle, ok
    assert logged(caplog, "aiokms.client") == [
        (
            logging.DEBUG,
            "ListKeys attempt 1 failed (ThrottlingException, HTTP 400); retrying in 0.500 s",
        ),
        (logging.DEBUG, "ListKeys attempt 2 failed (500, HTTP 500); retrying in 1.000 s"),
        (
            logging.DEBUG,
            "DescribeKey attempt 1 failed (ThrottlingException, HTTP 400); retrying in 0.500 s",
        ),
    ]  # the last attempt, not retried, is the error the caller gets: not logged


async def test_a_transport_error_retried_is_logged_by_its_class(
    faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    faults.script.extend(["reset", "ok"])
    caplog.set_level(logging.DEBUG, logger="aiokms.client")
    async with fault_client(faults.url, retry_mode="standard") as kms:
        await kms.list_keys()
    assert logged(caplog, "aiokms.client") == [
        (logging.DEBUG, "ListKeys attempt 1 failed (ConnectionClosed); retrying in 0.000 s")
    ]


async def test_a_call_that_fails_for_want_of_retry_quota_is_a_warning(
    faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    faults.script.extend(["throttle", "500", "500"])
    caplog.set_level(logging.DEBUG, logger="aiokms")
    async with fault_client(faults.url, retry_mode="standard") as kms:
        kms._policy.retry_quota.available = 5  # one retry left
        with pytest.raises(ClientError):
            await kms.list_keys()
    assert logged(caplog, "aiokms.client") == [
        (
            logging.DEBUG,
            "ListKeys attempt 1 failed (ThrottlingException, HTTP 400); retrying in 0.000 s",
        ),
        (
            logging.WARNING,
            "ListKeys attempt 2 failed (500, HTTP 500); not retried: "
            "the client's retry quota is spent",
        ),
    ]
    assert faults.requests == 2  # a third attempt was allowed, but not paid for


async def test_a_call_out_of_attempts_or_fatal_logs_no_warning(
    faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    faults.script.extend(["throttle", "throttle", "throttle", "400"])
    caplog.set_level(logging.DEBUG, logger="aiokms")
    async with fault_client(faults.url, retry_mode="standard") as kms:
        for _ in range(2):
            with pytest.raises(ClientError):
                await kms.list_keys()
    assert [level for level, _ in logged(caplog, "aiokms.client")] == [logging.DEBUG] * 2


async def test_logs_hold_no_credential_plaintext_or_data_key(
    fake: FakeKMS, caplog: pytest.LogCaptureFixture
) -> None:
    plaintext = b"plaintext-never-logged"
    data_key = b"data-key-never-logged-0123456789"
    token = "session-token-never-logged"
    calls = 0

    async def throttled_once(recorded: Recorded) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls % 2:
            return web.json_response(
                {"__type": "ThrottlingException", "message": f"slow down {recorded.body!r}"},
                status=400,
            )
        return web.json_response(
            {
                "KeyId": KEY_ARN,
                "CiphertextBlob": base64.b64encode(b"blob").decode(),
                "Plaintext": base64.b64encode(data_key).decode(),
            }
        )

    fake.handle("Encrypt", throttled_once)
    fake.handle("GenerateDataKey", throttled_once)
    caplog.set_level(logging.DEBUG)
    credentials = aiokms.Credentials(ACCESS_KEY, fake.secret_key, token)
    async with client_of(fake, credentials=credentials, max_attempts=2) as kms:
        await kms.encrypt(KeyId=KEY_ARN, Plaintext=plaintext)
        await kms.generate_data_key(KeyId=KEY_ARN, KeySpec="AES_256")
        kms._policy.retry_quota.available = 0
        with pytest.raises(ClientError):
            await kms.encrypt(KeyId=KEY_ARN, Plaintext=plaintext)
    assert len(logged(caplog, "aiokms.client")) == 3
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    secrets = [fake.secret_key, token, ACCESS_KEY, plaintext, data_key]
    for secret in secrets:
        raw = secret if isinstance(secret, str) else secret.decode()
        for form in (raw, base64.b64encode(raw.encode()).decode()):
            assert form not in text
