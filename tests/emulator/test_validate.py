"""Request validation (``aiokms.emulator._validate``): KMS's errors for what the model refuses."""

from __future__ import annotations

from typing import Any

import pytest

from aiokms.emulator import LocalKMS
from aiokms.emulator._errors import KMSError
from aiokms.emulator._operations import Backend
from tests.emulator.helpers import (
    TARGET,
    botocore_headers,
    fails,
    key_store,
    send,
    signed_call,
)


def test_validation_and_serialization_errors() -> None:
    backend = Backend(key_store())
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


# JSON nested deeper than Python's recursion limit: a parser that recurses cannot read it
TOO_DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("operation", "quotas"), [("ListKeys", None), ("Encrypt", 1)], ids=["ListKeys", "metered"]
)
async def test_a_body_nested_too_deeply_is_not_valid_json(
    operation: str, quotas: float | None
) -> None:
    """Refused as any body that is not JSON, by the quota meter (which reads an Encrypt
    body's algorithm first) as by validation."""
    async with LocalKMS(quotas=quotas) as local:
        creds = local.credentials
        headers = botocore_headers(
            local.endpoint_url, operation, TOO_DEEP, creds.access_key, creds.secret_key
        )
        assert await send(local.endpoint_url, TOO_DEEP, headers) == (
            400,
            {"__type": "SerializationException", "message": "The request body is not valid JSON."},
        )


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("Encrypt", {"Plaintext": "eA==", "EncryptionContext": {"\ud800": "v"}}),
        ("GenerateDataKey", {"KeySpec": "AES_256", "EncryptionContext": {"k": "a\udfffb"}}),
        ("TagResource", {"Tags": [{"TagKey": "t", "TagValue": "\ud800"}]}),
    ],
    ids=["context-key", "context-value", "tag-value"],
)
async def test_a_lone_surrogate_is_not_text(
    local: LocalKMS, operation: str, params: dict[str, Any]
) -> None:
    """JSON can escape half a surrogate pair, which is no character: refused as the same
    string sent unescaped (bytes that are not UTF-8) would be, and nothing is kept."""
    _, created = await signed_call(local, "CreateKey", {})
    key_id = created["KeyMetadata"]["KeyId"]
    status, reply = await signed_call(local, operation, {"KeyId": key_id, **params})
    assert (status, reply["__type"]) == (400, "SerializationException")
    assert await signed_call(local, "ListResourceTags", {"KeyId": key_id}) == (
        200,
        {"Tags": [], "Truncated": False},
    )
