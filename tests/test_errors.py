"""The exception tree on canned replies: what each error reply raises, and what is retried.

No socket: ``aioresponses`` answers the client's POSTs in-process, so every KMS error code of
botocore's model runs in milliseconds. botocore's own JSON parser is the truth for what an
error reply becomes (the ``ClientError``'s ``response``); the retry decisions follow the AWS
SDKs' standard mode. Real servers on 127.0.0.1 test the same paths end to end elsewhere
(``test_client``, ``test_retry``, ``test_transport``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import botocore.exceptions
import pytest
from aioresponses import aioresponses

import aiokms
from tests.botocore_truth import KMS_MODEL, botocore_error

URL = "https://kms.eu-west-1.amazonaws.com/"
ERROR_CODES = sorted(shape.name for shape in KMS_MODEL.error_shapes)


@pytest.fixture
def replies() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def kms() -> AsyncIterator[aiokms.KMSClient]:
    async with aiokms.KMSClient(
        region_name="eu-west-1",
        credentials=aiokms.Credentials("AKIDEXAMPLE", "errors-secret"),
        _random=lambda: 0.0,  # no backoff between attempts
    ) as client:
        yield client


def error_reply(replies: aioresponses, code: str, status: int = 400, **extra: Any) -> None:
    body = {"__type": code, "message": f"{code} happened", **extra}
    replies.post(URL, status=status, body=json.dumps(body), headers=REQUEST_ID)


REQUEST_ID = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-1"}


# --- every error code of the model ----------------------------------------------------------


@pytest.mark.parametrize("code", ERROR_CODES)
async def test_each_error_code_raises_its_class_with_botocores_response(
    replies: aioresponses, kms: aiokms.KMSClient, code: str
) -> None:
    body = json.dumps({"__type": code, "message": f"{code} happened"}).encode()
    replies.post(URL, status=400, body=body, headers=REQUEST_ID, repeat=True)  # and its retries
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await kms.describe_key(KeyId="alias/app")
    error = caught.value
    assert type(error) is getattr(kms.exceptions, code)
    assert type(error).__name__ == code
    expected = botocore_error(400, body, "DescribeKey")
    assert error.response["Error"] == expected["Error"]
    assert error.response.get("message") == expected.get("message")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["ResponseMetadata"]["RequestId"] == "req-1"
    assert error.operation_name == "DescribeKey"
    retried = error.response["ResponseMetadata"]["RetryAttempts"]
    assert retried in (0, kms.max_attempts - 1)  # retried to the last attempt, or not at all
    retry_info = f" (reached max retries: {retried})" if retried else ""  # as botocore says it
    assert str(error) == (
        f"An error occurred ({code}) when calling the DescribeKey operation{retry_info}: "
        f"{code} happened"
    )


@pytest.mark.parametrize(
    "type_name",
    [
        "com.amazonaws.kms#NotFoundException",
        "NotFoundException:http://internal.amazon.com/coral/com.amazonaws.kms/",
    ],
)
async def test_qualified_error_types_are_read_as_botocore_reads_them(
    replies: aioresponses, kms: aiokms.KMSClient, type_name: str
) -> None:
    body = json.dumps({"__type": type_name, "Message": "Alias not found"}).encode()
    replies.post(URL, status=400, body=body, headers=REQUEST_ID)
    with pytest.raises(kms.exceptions.NotFoundException) as caught:
        await kms.describe_key(KeyId="alias/missing")
    assert caught.value.response["Error"] == botocore_error(400, body, "DescribeKey")["Error"]


async def test_an_unknown_code_is_a_plain_client_error(
    replies: aioresponses, kms: aiokms.KMSClient
) -> None:
    error_reply(replies, "SomethingNewException")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await kms.list_keys()
    assert type(caught.value) is botocore.exceptions.ClientError
    assert caught.value.response["Error"]["Code"] == "SomethingNewException"


# --- what is retried ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("KMSInternalException", 500),
        ("DependencyTimeoutException", 503),
        ("KeyUnavailableException", 500),
        ("ServiceUnavailable", 503),
    ],
)
async def test_throttles_and_transient_errors_are_retried(
    replies: aioresponses, kms: aiokms.KMSClient, code: str, status: int
) -> None:
    error_reply(replies, code, status)
    replies.post(URL, status=200, payload={"Keys": [], "Truncated": False})
    result = await kms.list_keys()
    assert result["Keys"] == [] and result["ResponseMetadata"]["RetryAttempts"] == 1
    assert kms.stats().retries == 1
    assert kms.stats().errors == {code: 1}


@pytest.mark.parametrize(
    "code",
    ["LimitExceededException", "AccessDeniedException", "ValidationException", "NotFoundException"],
)
async def test_errors_that_waiting_does_not_fix_are_not_retried(
    replies: aioresponses, kms: aiokms.KMSClient, code: str
) -> None:
    error_reply(replies, code)
    replies.post(URL, status=200, payload={"Keys": [], "Truncated": False})  # never asked for
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await kms.list_keys()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert kms.stats().requests == 1


async def test_the_last_failure_is_raised_when_attempts_run_out(
    replies: aioresponses, kms: aiokms.KMSClient
) -> None:
    for _ in range(kms.max_attempts):
        error_reply(replies, "KMSInternalException", 500)
    with pytest.raises(kms.exceptions.KMSInternalException) as caught:
        await kms.list_keys()
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == kms.max_attempts - 1
    assert kms.stats().requests == kms.max_attempts == 3


async def test_a_bare_5xx_without_a_body_is_retried_under_its_status(
    replies: aioresponses, kms: aiokms.KMSClient
) -> None:
    replies.post(URL, status=502, body=b"")
    replies.post(URL, status=200, payload={"Keys": [], "Truncated": False})
    result = await kms.list_keys()
    assert result["ResponseMetadata"]["RetryAttempts"] == 1
    assert kms.stats().errors == {"502": 1}


# --- failures below the service -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected", "botocore_class"),
    [
        (
            aiohttp.ServerDisconnectedError(),
            aiokms.ConnectionClosed,
            botocore.exceptions.ConnectionClosedError,
        ),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            aiokms.ConnectionClosed,
            botocore.exceptions.ConnectionClosedError,
        ),
        (
            aiohttp.ClientOSError(104, "Connection reset by peer"),
            aiokms.ConnectionClosed,
            botocore.exceptions.ConnectionClosedError,
        ),
    ],
    ids=["disconnected", "payload", "reset"],
)
async def test_transport_failures_map_to_the_tree_and_are_retried(
    replies: aioresponses,
    kms: aiokms.KMSClient,
    raised: Exception,
    expected: type[Exception],
    botocore_class: type[Exception],
) -> None:
    for _ in range(kms.max_attempts):
        replies.post(URL, exception=raised)
    with pytest.raises(expected) as caught:
        await kms.list_keys()
    assert isinstance(caught.value, aiokms.TransportError)
    assert isinstance(caught.value, botocore_class)
    assert "errors-secret" not in str(caught.value)
    assert kms.stats().requests == kms.max_attempts


async def test_a_cancelled_call_is_not_retried_or_mapped(
    replies: aioresponses, kms: aiokms.KMSClient
) -> None:
    replies.post(URL, exception=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await kms.list_keys()
    assert kms.stats().requests == 1 and kms.stats().retries == 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (502, b""),
        (503, b"<html><body>Service Unavailable</body></html>"),
        (500, b'{"__type": "KMSInternalException", "message": "internal"}'),
        (400, b'{"__type": "NotFoundException", "message": "missing"}'),
    ],
    ids=["bare-502", "html-503", "json-500", "json-400"],
)
async def test_response_metadata_is_botocores(
    replies: aioresponses, kms: aiokms.KMSClient, status: int, body: bytes
) -> None:
    """A bare or HTML 5xx has no RequestId in botocore's ResponseMetadata, even with the header."""
    replies.post(URL, status=status, body=body, headers=REQUEST_ID, repeat=True)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await kms.list_keys()
    headers = {name.lower(): value for name, value in REQUEST_ID.items()}
    expected = botocore_error(status, body, "ListKeys", headers)["ResponseMetadata"]
    meta = dict(caught.value.response["ResponseMetadata"])
    assert meta.pop("RetryAttempts") == (kms.max_attempts - 1 if status >= 500 else 0)
    assert meta.pop("MaxAttemptsReached", False) is (status >= 500)  # retried to the last
    assert meta == expected
