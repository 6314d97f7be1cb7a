"""LocalKMS's SigV4 checks (``aiokms.emulator._auth``) against what no SDK sends.

Requests are written byte by byte on a socket to 127.0.0.1, so that a header may hold what
aiohttp's client would refuse to send: non-ASCII signatures, odd access keys, any body. The
property test throws random headers, targets and bodies at LocalKMS, signed or not, and
checks that it answers every one with a KMS error or a success, never with a 5xx, and never
logs a traceback.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aiokms._signing import JsonPostSigner, Signer, amz_date
from aiokms.emulator import SUPPORTED_OPERATIONS, LocalKMS

AMZ_JSON = "application/x-amz-json-1.1"
TARGET_PREFIX = "TrentService."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@pytest.fixture
async def local() -> AsyncIterator[LocalKMS]:
    async with LocalKMS(aliases=["alias/fuzz"]) as server:
        yield server


class Tracebacks(logging.Handler):
    """Every log record, from any logger, that carries an exception."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture
def tracebacks() -> Iterator[Tracebacks]:
    handler = Tracebacks()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def signed_headers(local: LocalKMS, target: str, body: bytes) -> dict[str, str]:
    """Headers of a request correctly signed now with LocalKMS's own credentials."""
    credentials = local.credentials
    host = local.endpoint_url.split("://", 1)[1]
    stamp = amz_date(datetime.datetime.now(datetime.timezone.utc))
    signer = JsonPostSigner(Signer(local.region, "kms"), host, AMZ_JSON)
    headers = signer.headers(
        target,
        hashlib.sha256(body).hexdigest(),
        stamp,
        credentials.access_key,
        credentials.secret_key,
        credentials.token,
    )
    return dict(headers.items())


async def raw_post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST ``body`` with exactly these headers (UTF-8); return the status and the body."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        writer.write(f"POST / HTTP/1.1\r\n{head}\r\n".encode() + body)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = reply.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload


# --- non-ASCII signatures ---------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["ä" * 64, "€" + "0" * 63, "0" * 63 + "\u00ff", "🔑"])
async def test_a_non_ascii_signature_is_an_invalid_signature(
    local: LocalKMS, tracebacks: Tracebacks, signature: str
) -> None:
    body = b"{}"
    headers = signed_headers(local, TARGET_PREFIX + "ListKeys", body)
    good = headers["Authorization"].rpartition("Signature=")[2]
    headers["Authorization"] = headers["Authorization"].replace(good, signature)
    status, payload = await raw_post(local.endpoint_url, headers, body)
    assert (status, json.loads(payload)) == (
        400,
        {"__type": "InvalidSignatureException", "message": MISMATCH},
    )
    assert tracebacks.records == []
    # and the same request, correctly signed, is served
    headers = signed_headers(local, TARGET_PREFIX + "ListKeys", body)
    status, payload = await raw_post(local.endpoint_url, headers, body)
    assert status == 200, payload


# --- anything at all ----------------------------------------------------------------------------

# Text a header value may hold on the wire: no CR, LF or NUL, which would end or break it.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FFFF, blacklist_categories=("Cs",)),
    max_size=80,
)
names = st.sampled_from(
    [
        "KeyId",
        "Plaintext",
        "CiphertextBlob",
        "EncryptionContext",
        "GrantTokens",
        "KeySpec",
        "NumberOfBytes",
        "AliasName",
        "TargetKeyId",
        "Description",
        "KeyUsage",
        "Limit",
        "Marker",
        "Message",
        "SigningAlgorithm",
        "MacAlgorithm",
        "EncryptionAlgorithm",
        "PendingWindowInDays",
        "Tags",
        "Policy",
        "DryRun",
    ]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(["alias/fuzz", "AES_256", "SYMMETRIC_DEFAULT", "AA==", "", "x" * 5000])
    | header_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(names | header_text, inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = (
    st.dictionaries(names, json_values, max_size=6).map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=300)
    | st.sampled_from([b"", b"{}", b"[]", b"null", b"{", b'"x"', b"1e999", b'{"KeyId": 1e999}'])
)
targets = st.sampled_from(sorted(SUPPORTED_OPERATIONS)).map(lambda op: TARGET_PREFIX + op) | (
    header_text
)
header_names = st.sampled_from(
    [
        "Authorization",
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "X-Amz-Target",
        "Content-Type",
        "Date",
        "Host",
        "Content-Encoding",
        "Transfer-Encoding",
        "Expect",
        "X-Extra",
    ]
)


# The parts of an Authorization header, any of which a request may get wrong.
auth_parts = st.sampled_from(["AWS4-HMAC-SHA256", "Credential=", "SignedHeaders=", "Signature="])


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str | None]]:
    """(target, body, header changes): a request, signed or not, then changed.

    A change replaces a header (``None`` removes it) or one part of the signed request's
    ``Authorization`` header (keyed by the part, such as ``"Signature="``).
    """
    target = draw(targets)
    body = draw(bodies)
    changes: dict[str, str | None] = {}
    if draw(st.sampled_from([True, True, True, False])):
        changes["<signed>"] = ""
        for part in draw(st.lists(auth_parts, max_size=2, unique=True)):
            changes[part] = draw(header_text | st.sampled_from(["", "ä" * 64, "0" * 64]))
    for name in draw(st.lists(header_names, max_size=2, unique=True)):
        changes[name] = draw(st.none() | header_text)
    return target, body, changes


def with_part(authorization: str, part: str, value: str) -> str:
    """``authorization`` with the value of one of its parts replaced."""
    if part == "AWS4-HMAC-SHA256":
        return authorization.replace(part, value, 1)
    head, found, rest = authorization.partition(part)
    if not found:
        return authorization
    _, comma, tail = rest.partition(",")
    return f"{head}{part}{value}{comma}{tail}"


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
async def test_anything_sent_gets_a_kms_answer_and_no_traceback(
    local: LocalKMS, tracebacks: Tracebacks, request: tuple[str, bytes, dict[str, str | None]]
) -> None:
    target, body, changes = request
    headers: dict[str, str] = {"Host": local.endpoint_url.split("://", 1)[1]}
    if "<signed>" in changes:
        headers.update(signed_headers(local, target, body))
    for name, value in changes.items():
        if name.endswith("=") or name == "AWS4-HMAC-SHA256":
            assert value is not None
            headers["Authorization"] = with_part(headers["Authorization"], name, value)
        elif name == "<signed>":
            continue
        elif value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    status, payload = await raw_post(local.endpoint_url, headers, body)
    assert status < 500, (status, payload)
    assert [r.getMessage() for r in tracebacks.records] == []
    if payload.startswith(b"{"):
        reply: dict[str, Any] = json.loads(payload)
        assert status == 200 or set(reply) == {"__type", "message"}
        event(f"{status} {reply.get('__type', '')}")
    else:
        event(f"{status} (not from LocalKMS)")
