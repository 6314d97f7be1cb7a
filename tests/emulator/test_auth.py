"""LocalKMS's SigV4 checks (``aiokms.emulator._auth``).

Requests signed by botocore's own signer are accepted; a wrong secret, an unknown access key, a
tampered header or body, a skewed clock, a wrong scope, a missing or malformed
``Authorization`` and a missing session token are rejected with the error AWS gives; every
signed request of the AWS SigV4 test suite passes the verifier.

Then what no SDK sends: requests are written byte by byte on a socket to 127.0.0.1, so that
a header may hold what aiohttp's client would refuse to send: non-ASCII signatures, odd access
keys, any body. The property test throws random headers, targets and bodies at LocalKMS,
signed or not, and checks that it answers every one with a KMS error or a success, never with
a 5xx, and never logs a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from aiokms._signing import JsonPostSigner, Signer, amz_date
from aiokms.emulator import SUPPORTED_OPERATIONS, LocalKMS
from aiokms.emulator._auth import Identity, SigV4Verifier
from aiokms.emulator._errors import KMSError
from tests.emulator.helpers import (
    AMZ_JSON,
    MISMATCH,
    REGION,
    TARGET,
    boto_client,
    botocore_headers,
    client_of,
    error_of,
    send,
    signed_call,
)
from tests.known_answers import (
    CLASSIC_ACCESS_KEY,
    CLASSIC_REGION,
    CLASSIC_SECRET_KEY,
    CLASSIC_SERVICE,
    CLASSIC_SREQ_DEFECTS,
    classic_cases,
    parse_http_request,
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
    headers = signed_headers(local, TARGET + "ListKeys", body)
    good = headers["Authorization"].rpartition("Signature=")[2]
    headers["Authorization"] = headers["Authorization"].replace(good, signature)
    status, payload = await raw_post(local.endpoint_url, headers, body)
    assert (status, json.loads(payload)) == (
        400,
        {"__type": "InvalidSignatureException", "message": MISMATCH},
    )
    assert tracebacks.records == []
    # and the same request, correctly signed, is served
    headers = signed_headers(local, TARGET + "ListKeys", body)
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
targets = st.sampled_from(sorted(SUPPORTED_OPERATIONS)).map(lambda op: TARGET + op) | (header_text)
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
        assert status == 200 or set(reply) in ({"__type", "message"}, {"__type"})
        event(f"{status} {reply.get('__type', '')}")
    else:
        event(f"{status} (not from LocalKMS)")


# --- requests signed by botocore, and the AWS test suite ------------------------------------


async def test_botocore_signed_requests_are_accepted(local: LocalKMS) -> None:
    status, body = await signed_call(local, "CreateKey", {"Description": "signed ✓"})
    assert status == 200, body
    key_id = body["KeyMetadata"]["KeyId"]
    status, body = await signed_call(
        local, "GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"}
    )
    assert status == 200
    assert len(base64.b64decode(body["Plaintext"])) == 32
    assert body["KeyId"] == f"arn:aws:kms:{REGION}:{local.account_id}:key/{key_id}"


async def test_wrong_secret_is_rejected(local: LocalKMS) -> None:
    wrong = local.credentials.secret_key + "x"
    assert await signed_call(local, "ListKeys", {}, secret_key=wrong) == (
        400,
        {"__type": "InvalidSignatureException", "message": MISMATCH},
    )


async def test_unknown_access_key_is_rejected(local: LocalKMS) -> None:
    status, body = await signed_call(local, "ListKeys", {}, access_key="AKIAUNKNOWNUNKNOWN00")
    assert (status, body["__type"]) == (400, "UnrecognizedClientException")
    assert body["message"] == "The security token included in the request is invalid."


@pytest.mark.parametrize("tamper", ["body", "signed header", "signed header added"])
async def test_tampered_requests_are_rejected(local: LocalKMS, tamper: str) -> None:
    creds = local.credentials
    body = json.dumps({"NumberOfBytes": 16}).encode()
    headers = botocore_headers(
        local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
    )
    if tamper == "body":
        body = json.dumps({"NumberOfBytes": 17}).encode()
    elif tamper == "signed header":
        headers["X-Amz-Target"] = TARGET + "ListKeys"
    else:  # claim a header was signed that the signature did not cover
        headers["X-Extra"] = "1"
        headers["Authorization"] = headers["Authorization"].replace(
            "SignedHeaders=", "SignedHeaders=x-extra;"
        )
    assert await send(local.endpoint_url, body, headers) == (
        400,
        {"__type": "InvalidSignatureException", "message": MISMATCH},
    )


async def test_unsigned_headers_may_change(local: LocalKMS) -> None:
    creds = local.credentials
    body = json.dumps({"NumberOfBytes": 16}).encode()
    headers = botocore_headers(
        local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
    )
    headers["User-Agent"] = "changed after signing"
    status, reply = await send(local.endpoint_url, body, headers)
    assert status == 200 and len(base64.b64decode(reply["Plaintext"])) == 16


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        (
            {"region": "us-west-2"},
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'us-west-2'. ",
        ),
        (
            {"service": "s3"},
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'kms'. ",
        ),
        (
            {"token": "a-session-token"},
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ],
)
async def test_wrong_scope_or_token_is_rejected(
    local: LocalKMS, overrides: dict[str, str], code: str, message: str
) -> None:
    status, body = await signed_call(local, "ListKeys", {}, **overrides)
    assert (status, body) == (400, {"__type": code, "message": message})


async def test_missing_or_malformed_authorization(local: LocalKMS) -> None:
    body = b"{}"
    headers = {"Content-Type": AMZ_JSON, "X-Amz-Target": TARGET + "ListKeys"}
    assert await send(local.endpoint_url, body, headers) == (
        400,
        {
            "__type": "MissingAuthenticationTokenException",
            "message": "Request is missing Authentication Token",
        },
    )
    creds = local.credentials
    signed = botocore_headers(
        local.endpoint_url, "ListKeys", body, creds.access_key, creds.secret_key
    )
    auth = signed["Authorization"]
    signed["Authorization"] = auth.split(", Signature=")[0]
    status, reply = await send(local.endpoint_url, body, signed)
    assert (status, reply["__type"]) == (400, "IncompleteSignatureException")
    assert reply["message"].startswith("Authorization header requires 'Signature' parameter.")
    signed["Authorization"] = auth.replace("Credential=", "Credential")
    status, reply = await send(local.endpoint_url, body, signed)
    assert (status, reply["__type"]) == (400, "IncompleteSignatureException")
    assert "not a valid key=value pair (missing equal-sign)" in reply["message"]


@pytest.mark.parametrize(
    ("date", "stamp"),
    [
        ("Mon, 01 Jan 0999 00:00:00 GMT", "9990101T000000Z"),
        ("Fri, 31 Dec 9999 23:30:00 -0100", "99991231T233000Z"),
        ("yesterday", "20260101T000000Z"),
    ],
    ids=["before-year-1000", "after-9999-in-utc", "not-a-date"],
)
async def test_a_date_header_no_x_amz_date_can_write_is_an_incomplete_signature(
    local: LocalKMS, tracebacks: Tracebacks, date: str, stamp: str
) -> None:
    """Each request is signed for ``stamp``, the time a reading of the header that let it
    through would give (year 999 in three digits where strftime does not pad years), so that
    it is the date itself that is refused."""
    body = b"{}"
    creds = local.credentials
    headers = {
        "Content-Type": AMZ_JSON,
        "Date": date,
        "Host": local.endpoint_url.split("://", 1)[1],
        "X-Amz-Target": TARGET + "ListKeys",
    }
    headers["Authorization"] = Signer(local.region).authorization(
        method="POST",
        path="/",
        query="",
        headers=headers.items(),
        payload_hash=hashlib.sha256(body).hexdigest(),
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        amz_date=stamp,
    )
    status, payload = await raw_post(local.endpoint_url, headers, body)
    assert (status, json.loads(payload)) == (
        400,
        {
            "__type": "IncompleteSignatureException",
            "message": f"Date must be in ISO-8601 'basic format'. Got '{date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        },
    )
    assert tracebacks.records == []


@pytest.mark.parametrize(
    ("offset", "pattern"),
    [
        (
            +600,
            r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
            r"\(\d{8}T\d{6}Z - 5 min\.\)",
        ),
        (
            -600,
            r"Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z "
            r"\(\d{8}T\d{6}Z \+ 5 min\.\)",
        ),
        (+240, None),
        (-240, None),
    ],
)
async def test_clock_skew(offset: float, pattern: str | None) -> None:
    """The emulator's clock is moved instead of the client's: botocore signs at real time."""
    async with LocalKMS(clock=lambda: time.time() + offset) as skewed, client_of(skewed) as kms:
        if pattern is None:
            await kms.list_keys()
            return
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            await kms.list_keys()
    assert error_of(caught.value) == ("InvalidSignatureException", 400)
    assert re.fullmatch(pattern, caught.value.response["Error"]["Message"])


def test_skew_limit_is_five_minutes() -> None:
    verifier = SigV4Verifier([Identity("AKID", "secret")], region=REGION)
    body = b"{}"
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    request = AWSRequest(
        method="POST", url="http://127.0.0.1:1/", data=body, headers={"X-Amz-Date": stamp}
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(BotoCredentials("AKID", "secret"), "kms", REGION)
    request.headers["Host"] = "127.0.0.1:1"
    signature = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    scope = f"AKID/{stamp[:8]}/{REGION}/kms/aws4_request"
    headers = [
        ("Host", "127.0.0.1:1"),
        ("X-Amz-Date", stamp),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, "
            f"Signature={signature}",
        ),
    ]
    epoch = when.timestamp()
    for now in (epoch - 300, epoch, epoch + 300):
        verifier.verify(method="POST", path="/", query="", headers=headers, body=body, now=now)
    for now in (epoch - 301, epoch + 301):
        with pytest.raises(KMSError) as caught:
            verifier.verify(method="POST", path="/", query="", headers=headers, body=body, now=now)
        assert caught.value.code == "InvalidSignatureException"


async def test_session_token_is_required_when_set() -> None:
    async with LocalKMS(session_token="the-token") as local:
        assert local.credentials.token == "the-token"
        async with client_of(local) as kms:
            await kms.list_keys()
        creds = local.credentials
        for token in (None, "another-token"):
            async with boto_client(
                local.endpoint_url, creds.access_key, creds.secret_key, token
            ) as kms:
                with pytest.raises(botocore.exceptions.ClientError) as caught:
                    await kms.list_keys()
            assert error_of(caught.value) == ("UnrecognizedClientException", 400)


def test_sigv4_suite_requests_are_accepted() -> None:
    """Every classic case's signed request passes; with its date tampered with, it fails."""
    now = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc).timestamp()
    cases = [case for case in classic_cases() if case.name not in CLASSIC_SREQ_DEFECTS]
    for case in cases:
        signed = parse_http_request((case / f"{case.name}.sreq").read_bytes())
        token = signed.header("X-Amz-Security-Token")
        identity = Identity(CLASSIC_ACCESS_KEY, CLASSIC_SECRET_KEY, token)
        verifier = SigV4Verifier([identity], region=CLASSIC_REGION, service=CLASSIC_SERVICE)
        request = {"method": signed.method, "path": signed.path, "query": signed.query}
        verifier.verify(**request, headers=signed.headers, body=signed.body, now=now)
        tampered = [(k, v + "!" if k.lower() == "x-amz-date" else v) for k, v in signed.headers]
        with pytest.raises(KMSError):
            verifier.verify(**request, headers=tampered, body=signed.body, now=now)


@given(
    st.one_of(
        st.just(["Credential", "SignedHeaders", "Signature"]),
        st.lists(
            st.sampled_from(["Credential", "SignedHeaders", "Signature", "Other"]),
            max_size=5,
        ),
    ),
    st.lists(st.sampled_from(["a", "=", "/", ";", " ", "\t", "\u00a0", ",", "0"]), max_size=6),
    st.sampled_from([", ", ",", " ,", ",  "]),
    st.sampled_from(["AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256  ", " AWS4-HMAC-SHA256 ", "X "]),
)
@example(["Credential", "SignedHeaders", "Signature"], [], ", ", "AWS4-HMAC-SHA256 ")
@example(["Credential", "SignedHeaders", "Signature"], ["=", "/"], ",", "AWS4-HMAC-SHA256 ")
@example(["Credential", "SignedHeaders", "Signature"], ["\u00a0"], ", ", "AWS4-HMAC-SHA256 ")
def test_the_usual_authorization_form_parses_as_the_full_parser_does(
    names: list[str], noise: list[str], separator: str, prefix: str
) -> None:
    """The shortcut for the Authorization form SDKs write finds what the full parse finds
    (or leaves the header to it): the same fields, or the same error."""
    value = "".join(noise)
    auth = prefix + separator.join(f"{name}=v{i}{value}" for i, name in enumerate(names))
    values = {"x-amz-date": ["20261207T000000Z"], "authorization": [auth]}
    verifier = SigV4Verifier([Identity("AKID", "secret")], region="us-east-1")

    def outcome(parse: Any) -> Any:
        try:
            return parse(auth, values)
        except KMSError as exc:
            return exc.code, exc.message

    assert outcome(verifier._parse) == outcome(SigV4Verifier._parse_fields)
