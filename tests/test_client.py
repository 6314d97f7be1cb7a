"""KMSClient against an in-process KMS: protocol, errors, validation, pooling and signing."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import inspect
import json
import time
from typing import Any

import botocore.session
import pytest
from aiohttp import web
from botocore.exceptions import ClientError, OperationNotPageableError, ParamValidationError

import aiokms
from aiokms._signing import Signer
from tests.fake_kms import ACCESS_KEY, FakeKMS, Recorded

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


async def test_positional_arguments_are_refused(kms: aiokms.KMSClient, fake: FakeKMS) -> None:
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        await kms.describe_key("alias/x")
    assert fake.requests == []


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


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"Plaintext": "***not base64***"}', b'{"KeyMetadata": 5}'],
    ids=["not-json", "not-object", "bad-base64", "bad-structure"],
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
    assert str(error) == (
        "An error occurred (NotFoundException) when calling the DescribeKey operation: "
        "Key 'x' does not exist"
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
