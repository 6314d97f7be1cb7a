"""Request validation (``aiokms.emulator._validate``): KMS's errors for what the model refuses."""

from __future__ import annotations

import pytest

from aiokms.emulator._errors import KMSError
from aiokms.emulator._operations import Backend
from tests.emulator.helpers import (
    TARGET,
    fails,
    key_store,
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
