"""What the LocalKMS tests share: constants, a settable clock, clients of a LocalKMS,
requests signed by botocore's own signer, and calls of the pure backend.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
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
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import aiokms
from aiokms.emulator import LocalKMS
from aiokms.emulator._errors import KMSError
from aiokms.emulator._operations import Backend

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


PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
AMZ_JSON = "application/x-amz-json-1.1"


class FakeClock:
    """A settable clock for ``clock=`` / ``monotonic=``."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def boto_client(
    url: str,
    access_key: str,
    secret_key: str,
    token: str | None = None,
    *,
    region: str = REGION,
    **config: Any,
) -> AbstractAsyncContextManager[Any]:
    """aiobotocore's KMS client, without retries (each attempt is visible)."""
    from aiobotocore.config import AioConfig

    return aiobotocore.session.get_session().create_client(  # type: ignore[no-any-return]
        "kms",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        config=AioConfig(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


def client_of(local: LocalKMS, **config: Any) -> AbstractAsyncContextManager[Any]:
    """aiobotocore's client of a LocalKMS (``region=``: another Region it serves)."""
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


def key_store(clock: Callable[[], float] | None = None, region: str = REGION) -> Any:
    from aiokms.emulator._keys import KeyStore

    return KeyStore(region=region, account_id="111122223333", clock=clock or FakeClock(1.7e9))


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


def wrap_key_material(public_der: str | bytes, algorithm: str, material: bytes) -> bytes:
    """Key material wrapped as the Developer Guide's "Encrypt key material" describes."""
    public = serialization.load_der_public_key(
        base64.b64decode(public_der) if isinstance(public_der, str) else public_der
    )
    assert isinstance(public, rsa.RSAPublicKey)
    sha = hashes.SHA256() if algorithm.endswith("SHA_256") else hashes.SHA1()
    oaep = padding.OAEP(mgf=padding.MGF1(sha), algorithm=sha, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = bytes(range(32))
    return public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)
