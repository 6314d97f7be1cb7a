"""Tests for the SigV4 signer in ``aiokms._signing``.

Three sources of truth are used:

* the AWS Signature Version 4 test suite in its two published layouts (``classic/``, the
  original ``.req``/``.creq``/``.sts``/``.authz``/``.sreq`` files, and ``v4/``, the
  ``context.json`` + ``header-*.txt`` layout), in ``tests/data/sigv4``;
* botocore's own ``SigV4Auth``, compared with on many generated KMS requests;
* documented values and hand-worked edge cases for the individual helpers;
* moto's server with IAM authentication on, which recomputes every request's signature with
  the secret of an access key it issued: a correctly signed request succeeds, a wrongly
  signed one is rejected, as aiobotocore's are.
"""

from __future__ import annotations

import base64
import datetime
import gc
import hashlib
import json
import os
import random
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import aiobotocore.session
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import aiokms
from aiokms import _signing
from aiokms._signing import (
    ALGORITHM,
    EMPTY_SHA256,
    JsonPostSigner,
    Signer,
    amz_date,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    signing_key,
    string_to_sign,
)
from tests import moto_scenario as moto
from tests.helpers import imported_modules
from tests.known_answers import (
    CLASSIC_ACCESS_KEY,
    CLASSIC_AMZ_DATE,
    CLASSIC_REGION,
    CLASSIC_SECRET_KEY,
    CLASSIC_SERVICE,
    CLASSIC_SREQ_DEFECTS,
    CLASSIC_STS_DEFECTS,
    SIGV4_CLASSIC,
    HttpRequest,
    case_params,
    classic_cases,
    parse_http_request,
    v4_cases,
)


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256


def scope_of(date: str, region: str, service: str) -> str:
    return f"{date[:8]}/{region}/{service}/aws4_request"


def signature_of(authorization: str) -> str:
    _, separator, signature = authorization.rpartition(", Signature=")
    assert separator, f"no signature in {authorization!r}"
    return signature


def by_name(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with lower-cased names, stably sorted by name (repeated names keep their order)."""
    return sorted(((name.lower(), value) for name, value in headers), key=lambda item: item[0])


def tokens_added_after_signing() -> frozenset[str]:
    """Classic cases whose readme says the session token is added after signing.

    ``post-sts-token/readme.txt`` lists its cases as ``NAME - description``; the token of a case
    described as added "after you calculate the signature" is not part of the signed request.
    """
    names: set[str] = set()
    for readme in SIGV4_CLASSIC.rglob("readme.txt"):
        for line in readme.read_text(encoding="utf-8").splitlines():
            name, separator, description = line.partition(" - ")
            if separator and "after you calculate the signature" in description:
                names.add(name.strip())
    return frozenset(names)


def load_classic(case: Path) -> HttpRequest:
    """The classic case's request, with its session token when the token is signed.

    Two cases use a session token that their ``.req`` does not show: the token appears only in
    the ``.sreq``. It is added before signing unless the readme says it is added afterwards.
    """
    request = parse_http_request((case / f"{case.name}.req").read_bytes())
    signed = parse_http_request((case / f"{case.name}.sreq").read_bytes())
    token = signed.header("X-Amz-Security-Token")
    if (
        token is not None
        and request.header("X-Amz-Security-Token") is None
        and case.name not in tokens_added_after_signing()
    ):
        request.headers.append(("X-Amz-Security-Token", token))
    return request


def load_classic_signed(case: Path) -> tuple[HttpRequest, str]:
    """The request shown in the case's ``.sreq`` as it was signed, and its Authorization."""
    signed = parse_http_request((case / f"{case.name}.sreq").read_bytes())
    authorization = signed.header("Authorization")
    assert authorization is not None, f"{case.name}.sreq has no Authorization header"
    signed.headers = signed.without("Authorization")
    if case.name in tokens_added_after_signing():
        signed.headers = signed.without("X-Amz-Security-Token")
    return signed, authorization.strip()


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def parse_suite_timestamp(value: str) -> datetime.datetime:
    # datetime.fromisoformat only accepts a trailing "Z" from Python 3.11 on.
    parsed = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    return parsed.replace(tzinfo=datetime.timezone.utc)


@dataclass
class V4Case:
    """A v4-layout case prepared for header signing."""

    context: dict[str, Any]
    request: HttpRequest
    amz_date: str
    signed_headers: list[tuple[str, str]]
    final_headers: list[tuple[str, str]]
    payload_hash: str


def load_v4(case: Path) -> V4Case:
    """Read a v4 case and add the headers a header signer adds.

    ``X-Amz-Date`` is always added and signed. A session token is added as
    ``X-Amz-Security-Token`` and signed, unless ``omit_session_token`` is true, in which case
    it is added after signing. With ``sign_body`` the payload hash is also sent and signed as
    ``X-Amz-Content-Sha256``; either way the canonical request ends with the body's SHA-256.
    """
    context = json.loads(read_text(case / "context.json"))
    request = parse_http_request((case / "request.txt").read_bytes())
    date = amz_date(parse_suite_timestamp(context["timestamp"]))
    body_hash = payload_hash(request.body)

    signed = [*request.headers, ("X-Amz-Date", date)]
    final = list(signed)
    token = context["credentials"].get("token")
    if token:
        final.append(("X-Amz-Security-Token", token))
        if not context.get("omit_session_token", False):
            signed.append(("X-Amz-Security-Token", token))
    if context["sign_body"]:
        signed.append(("X-Amz-Content-Sha256", body_hash))
        final.append(("X-Amz-Content-Sha256", body_hash))
    return V4Case(context, request, date, signed, final, body_hash)


CLASSIC_PARAMS = case_params(classic_cases())
V4_PARAMS = case_params(v4_cases())


# --------------------------------------------------------------------------------------------
# The test suite itself
# --------------------------------------------------------------------------------------------


def test_classic_suite_is_complete() -> None:
    names = [case.name for case in classic_cases()]
    assert len(names) == len(set(names)), "classic case names must be unique test ids"
    assert len(names) >= 30
    for nested in ("get-slash", "get-space", "post-sts-header-after", "post-sts-header-before"):
        assert nested in names
    for case in classic_cases():
        for suffix in (".req", ".creq", ".sts", ".authz", ".sreq"):
            assert (case / f"{case.name}{suffix}").is_file(), f"{case.name}{suffix} missing"


def test_classic_readme_marks_token_added_after_signing() -> None:
    assert tokens_added_after_signing() == {"post-sts-header-after"}


def test_v4_suite_is_complete() -> None:
    names = [case.name for case in v4_cases()]
    assert len(names) == len(set(names)), "v4 case names must be unique test ids"
    assert len(names) >= 35
    for case in v4_cases():
        for name in (
            "request.txt",
            "header-canonical-request.txt",
            "header-string-to-sign.txt",
            "header-signature.txt",
            "header-signed-request.txt",
        ):
            assert (case / name).is_file(), f"{case.name}/{name} missing"


def test_parse_http_request() -> None:
    raw = (
        "POST /example space/ሴ?a=1&b HTTP/1.1\n"
        "Host:example.amazonaws.com\n"
        "My-Header1:value1\n"
        "  value2\n"
        "My-Header1: value3\n"
        "\n"
        "body\n\nwith blank line"
    ).encode()
    request = parse_http_request(raw)
    assert request.method == "POST"
    assert request.path == "/example space/ሴ"
    assert request.query == "a=1&b"
    assert request.headers == [
        ("Host", "example.amazonaws.com"),
        ("My-Header1", "value1   value2"),
        ("My-Header1", " value3"),
    ]
    assert request.body == b"body\n\nwith blank line"


def classic_authorization(request: HttpRequest) -> str:
    return Signer(CLASSIC_REGION, CLASSIC_SERVICE).authorization(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        payload_hash=payload_hash(request.body),
        access_key=CLASSIC_ACCESS_KEY,
        secret_key=CLASSIC_SECRET_KEY,
        amz_date=CLASSIC_AMZ_DATE,
        normalize_path=True,
    )


@pytest.mark.parametrize("case", CLASSIC_PARAMS)
def test_classic_canonical_request(case: Path) -> None:
    request = load_classic(case)
    assert request.header("X-Amz-Date") == CLASSIC_AMZ_DATE

    creq, signed = canonical_request(
        request.method,
        request.path,
        request.query,
        request.headers,
        payload_hash(request.body),
        normalize_path=True,
    )
    assert creq == read_text(case / f"{case.name}.creq")
    assert signed == creq.split("\n")[-2]


@pytest.mark.parametrize("case", case_params(classic_cases(), frozenset(CLASSIC_STS_DEFECTS)))
def test_classic_string_to_sign_and_authorization(case: Path) -> None:
    request = load_classic(case)
    creq, _ = canonical_request(
        request.method,
        request.path,
        request.query,
        request.headers,
        payload_hash(request.body),
        normalize_path=True,
    )
    scope = scope_of(CLASSIC_AMZ_DATE, CLASSIC_REGION, CLASSIC_SERVICE)
    assert string_to_sign(CLASSIC_AMZ_DATE, scope, creq) == read_text(case / f"{case.name}.sts")
    assert classic_authorization(request) == read_text(case / f"{case.name}.authz")


@pytest.mark.parametrize("case", case_params(classic_cases(), frozenset(CLASSIC_SREQ_DEFECTS)))
def test_classic_signed_request(case: Path) -> None:
    request = load_classic(case)
    signed, authorization = load_classic_signed(case)

    assert classic_authorization(signed) == authorization
    assert authorization == read_text(case / f"{case.name}.authz")
    assert (signed.method, signed.path, signed.query, signed.body) == (
        request.method,
        request.path,
        request.query,
        request.body,
    )


@pytest.mark.parametrize("name", sorted({*CLASSIC_STS_DEFECTS, *CLASSIC_SREQ_DEFECTS}))
def test_classic_defects_are_real(name: str) -> None:
    """Each case left out above rests on a contradiction in the data, confirmed independently."""
    (case,) = [case for case in classic_cases() if case.name == name]
    if name in CLASSIC_STS_DEFECTS:
        creq = (case / f"{name}.creq").read_bytes()
        sts_hash = read_text(case / f"{name}.sts").split("\n")[-1]
        assert hashlib.sha256(creq).hexdigest() != sts_hash
    if name in CLASSIC_SREQ_DEFECTS:
        # botocore, signing the request the .sreq shows, disagrees with the .sreq too.
        signed, authorization = load_classic_signed(case)
        headers = {key: value for key, value in signed.headers if key != "X-Amz-Security-Token"}
        request = AWSRequest(
            method=signed.method,
            url=f"https://{signed.header('Host')}{signed.path}",
            data=signed.body,
            headers=headers,
        )
        token = signed.header("X-Amz-Security-Token")
        credentials = Credentials(CLASSIC_ACCESS_KEY, CLASSIC_SECRET_KEY, token)
        now = datetime.datetime.strptime(CLASSIC_AMZ_DATE, "%Y%m%dT%H%M%SZ")
        with mock.patch("botocore.auth.get_current_datetime", return_value=now):
            SigV4Auth(credentials, CLASSIC_SERVICE, CLASSIC_REGION).add_auth(request)
        assert signature_of(request.headers["Authorization"]) != signature_of(authorization)
        assert request.headers["Authorization"] == classic_authorization(signed)


@pytest.mark.parametrize("case", V4_PARAMS)
def test_v4_suite(case: Path) -> None:
    loaded = load_v4(case)
    context, request = loaded.context, loaded.request
    credentials = context["credentials"]
    normalize = context["normalize"]

    creq, _ = canonical_request(
        request.method,
        request.path,
        request.query,
        loaded.signed_headers,
        loaded.payload_hash,
        normalize_path=normalize,
    )
    assert creq == read_text(case / "header-canonical-request.txt")

    scope = scope_of(loaded.amz_date, context["region"], context["service"])
    sts = string_to_sign(loaded.amz_date, scope, creq)
    assert sts == read_text(case / "header-string-to-sign.txt")

    authorization = Signer(context["region"], context["service"]).authorization(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=loaded.signed_headers,
        payload_hash=loaded.payload_hash,
        access_key=credentials["access_key_id"],
        secret_key=credentials["secret_access_key"],
        amz_date=loaded.amz_date,
        normalize_path=normalize,
    )
    assert signature_of(authorization) == read_text(case / "header-signature.txt").strip()

    expected = parse_http_request((case / "header-signed-request.txt").read_bytes())
    assert expected.header("Authorization") == authorization
    assert (expected.method, expected.path, expected.query, expected.body) == (
        request.method,
        request.path,
        request.query,
        request.body,
    )
    assert by_name(expected.without("Authorization")) == by_name(loaded.final_headers)


# --------------------------------------------------------------------------------------------
# Differential test against botocore on generated KMS requests
# --------------------------------------------------------------------------------------------

KMS_OPERATIONS = (
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "DescribeKey",
    "ListKeys",
    "Sign",
    "Verify",
)
REGIONS = ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "ap-southeast-4")
# A few secrets only, so that one secret is used on both sides of a date boundary.
SECRETS = (
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "Zz+/==secret with spaces and ümlauts",
)
# Instants around midnight, month, leap-day and year boundaries.
BOUNDARIES = (
    datetime.datetime(2015, 12, 31, 23, 59, 59),
    datetime.datetime(2016, 1, 1, 0, 0, 0),
    datetime.datetime(2016, 2, 29, 23, 59, 58),
    datetime.datetime(2016, 3, 1, 0, 0, 1),
    datetime.datetime(1999, 12, 31, 23, 59, 59),
    datetime.datetime(2024, 6, 30, 23, 59, 59),
    datetime.datetime(2038, 1, 19, 3, 14, 8),
    datetime.datetime(2099, 12, 31, 23, 59, 59),
)
# Offsets for the aware datetimes handed to amz_date; UTC+14 and UTC-12 shift the local date.
OFFSETS = tuple(
    datetime.timezone(datetime.timedelta(minutes=minutes))
    for minutes in (0, 14 * 60, -12 * 60, 5 * 60 + 45, -(3 * 60 + 30), 60)
)
TEXT_PIECES = (
    "a", "Z", "0", " ", "  ", "&", "=", "+", "/", "%", "%20", "?", "#", '"', "'", "\\", "\n",
    "\r\n", "\t", "é", "ü", "ß", "中文", "Ωμέγα", "ሴ", "🔐", "👩\u200d💻", "🇪🇺", "\u0000",
    "\u2028", "..", "~", "<>", "{}", "[]", ":", ";", ",", "@", "$", "!", "*", "()",
)  # fmt: skip
KEY_IDS = (
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "alias/ExampleAlias",
    "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-2:111122223333:alias/Ünïcode+Alias",
)


@dataclass(frozen=True)
class KmsCase:
    index: int
    access_key: str
    secret_key: str
    token: str | None
    region: str
    endpoint: str
    operation: str
    body: bytes
    now: datetime.datetime  # naive UTC, as botocore's clock returns it
    offset: datetime.timezone

    @property
    def test_id(self) -> str:
        token = "token" if self.token else "no-token"
        return f"{self.index:03d}-{self.region}-{self.operation}-{token}-{self.now:%Y%m%dT%H%M%S}"


def endpoints_for(region: str) -> list[str]:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return [
        f"https://kms.{region}.{suffix}",
        f"https://kms.{region}.{suffix}/",
        f"https://kms-fips.{region}.{suffix}:443/",
        f"http://kms.{region}.{suffix}:80",
        "http://127.0.0.1:4566",
        "http://127.0.0.1:4566/",
        "https://localhost:4443",
        "http://LocalStack.Internal:8080/",
        "http://[::1]:4566/",
        "https://vpce-0123456789abcdef0-abcdefgh.kms.us-east-1.vpce.amazonaws.com",
        "http://proxy.example:8000/kms/./v1/../",
    ]


def random_text(rng: random.Random, max_pieces: int) -> str:
    return "".join(rng.choice(TEXT_PIECES) for _ in range(rng.randint(0, max_pieces)))


def random_body(rng: random.Random, operation: str) -> bytes:
    if rng.random() < 0.05:
        return b""
    document: dict[str, Any] = {"KeyId": rng.choice(KEY_IDS)}
    if operation in ("Encrypt", "Sign", "Verify"):
        document["Plaintext"] = base64.b64encode(rng.randbytes(rng.randint(0, 64))).decode()
    if operation in ("Decrypt", "ReEncrypt"):
        document["CiphertextBlob"] = base64.b64encode(rng.randbytes(rng.randint(1, 96))).decode()
    if operation in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        document["KeySpec"] = rng.choice(("AES_256", "AES_128"))
    if operation == "GenerateRandom":
        document = {"NumberOfBytes": rng.randint(1, 1024)}
    if operation == "ListKeys":
        document = {} if rng.random() < 0.5 else {"Limit": rng.randint(1, 1000)}
    if operation in ("Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey") and rng.random() < 0.8:
        document["EncryptionContext"] = {
            random_text(rng, 6): random_text(rng, 12) for _ in range(rng.randint(0, 5))
        }
    if rng.random() < 0.2:
        document["GrantTokens"] = [random_text(rng, 4) for _ in range(rng.randint(1, 3))]
    return json.dumps(document, ensure_ascii=rng.random() < 0.5).encode("utf-8")


def random_token(rng: random.Random) -> str | None:
    if rng.random() < 0.5:
        return None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(16, 600))) + "=="


def generate_kms_cases(count: int, seed: int = 20150830) -> list[KmsCase]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        region = rng.choice(REGIONS)
        operation = rng.choice(KMS_OPERATIONS)
        now = rng.choice(BOUNDARIES) + datetime.timedelta(
            seconds=rng.randint(-2, 2), microseconds=rng.randint(0, 999_999)
        )
        cases.append(
            KmsCase(
                index=index,
                access_key=rng.choice(("AKIDEXAMPLE", "ASIAQEXAMPLE2EXAMPLE")),
                secret_key=rng.choice(SECRETS),
                token=random_token(rng),
                region=region,
                endpoint=rng.choice(endpoints_for(region)),
                operation=operation,
                body=random_body(rng, operation),
                now=now,
                offset=rng.choice(OFFSETS),
            )
        )
    return cases


KMS_CASES = generate_kms_cases(150)


def host_from_url(url: str) -> str:
    """The Host header for ``url``: lower-case host, port kept only when not the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class RecordingSigV4Auth(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, remembering its last canonical request for clearer failures."""

    last_canonical_request = ""

    def canonical_request(self, request: AWSRequest) -> str:
        creq: str = super().canonical_request(request)
        self.last_canonical_request = creq
        return creq


def botocore_sign(case: KmsCase) -> tuple[AWSRequest, str]:
    """Sign ``case`` with botocore at ``case.now``; return the request and canonical request."""
    request = AWSRequest(
        method="POST",
        url=case.endpoint,
        data=case.body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"TrentService.{case.operation}",
            # Sent but never signed by botocore (SIGNED_HEADERS_BLACKLIST).
            "User-Agent": "aiokms-tests/1.0 botocore",
        },
    )
    auth = RecordingSigV4Auth(
        Credentials(case.access_key, case.secret_key, case.token), "kms", case.region
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=case.now):
        auth.add_auth(request)
    return request, auth.last_canonical_request


def aiokms_sign(case: KmsCase) -> tuple[str, str, str]:
    """Sign ``case`` with aiokms; return ``(X-Amz-Date, canonical request, Authorization)``."""
    now = case.now.replace(tzinfo=datetime.timezone.utc).astimezone(case.offset)
    date = amz_date(now)
    headers = [
        ("Host", host_from_url(case.endpoint)),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", f"TrentService.{case.operation}"),
        ("X-Amz-Date", date),
    ]
    if case.token:
        headers.append(("X-Amz-Security-Token", case.token))
    path = urlsplit(case.endpoint).path
    body_hash = payload_hash(case.body)
    creq, _ = canonical_request("POST", path, "", headers, body_hash)
    authorization = Signer(case.region, "kms").authorization(
        method="POST",
        path=path,
        query="",
        headers=headers,
        payload_hash=body_hash,
        access_key=case.access_key,
        secret_key=case.secret_key,
        amz_date=date,
    )
    return date, creq, authorization


def test_generated_cases_cover_the_interesting_space() -> None:
    assert len({case.test_id for case in KMS_CASES}) == len(KMS_CASES)
    assert {case.region for case in KMS_CASES} == set(REGIONS)
    assert any(case.token for case in KMS_CASES)
    assert any(not case.token for case in KMS_CASES)
    assert any(case.endpoint.startswith("http://") for case in KMS_CASES)
    assert any(case.endpoint.startswith("https://") for case in KMS_CASES)
    assert any(":4566" in case.endpoint for case in KMS_CASES)
    assert any(case.body == b"" for case in KMS_CASES)
    assert any(not case.body.isascii() for case in KMS_CASES)
    days = {(case.secret_key, case.now.date()) for case in KMS_CASES}
    assert any((secret, day + datetime.timedelta(days=1)) in days for secret, day in days), (
        "some secret must be used on two consecutive days"
    )


@pytest.mark.parametrize("case", KMS_CASES, ids=[case.test_id for case in KMS_CASES])
def test_matches_botocore_on_kms_requests(case: KmsCase) -> None:
    request, botocore_creq = botocore_sign(case)
    date, creq, authorization = aiokms_sign(case)

    assert request.headers["X-Amz-Date"] == date
    assert creq == botocore_creq
    assert authorization == request.headers["Authorization"]
    assert "user-agent" not in authorization


def test_same_secret_across_midnight_signs_with_each_days_key() -> None:
    before = datetime.datetime(2015, 12, 31, 23, 59, 59)
    after = datetime.datetime(2016, 1, 1, 0, 0, 0)
    template = KmsCase(
        index=0,
        access_key="AKIDEXAMPLE",
        secret_key=SECRETS[0],
        token=None,
        region="eu-west-1",
        endpoint="https://kms.eu-west-1.amazonaws.com",
        operation="Encrypt",
        body=b'{"KeyId": "alias/ExampleAlias", "Plaintext": "AAAA"}',
        now=before,
        offset=OFFSETS[0],
    )
    signatures = []
    for now in (before, after, before, after):
        case = KmsCase(**{**template.__dict__, "now": now})
        request, _ = botocore_sign(case)
        _, _, authorization = aiokms_sign(case)
        assert authorization == request.headers["Authorization"]
        signatures.append(signature_of(authorization))

    assert signatures[0] == signatures[2]
    assert signatures[1] == signatures[3]
    assert signatures[0] != signatures[1]
    assert signing_key(SECRETS[0], "20151231", "eu-west-1", "kms") != signing_key(
        SECRETS[0], "20160101", "eu-west-1", "kms"
    )


def test_a_json_post_signer_derives_one_key_per_day_and_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    derived: list[tuple[str, str]] = []
    real_signing_key = _signing.signing_key

    def counting(secret_key: str, datestamp: str, region: str, service: str) -> bytes:
        derived.append((secret_key, datestamp))
        return real_signing_key(secret_key, datestamp, region, service)

    monkeypatch.setattr(_signing, "signing_key", counting)
    signer = Signer("eu-west-1", "kms")
    fixed = [("Content-Type", "application/x-amz-json-1.1"), ("Host", "127.0.0.1:4566")]
    json_signer = JsonPostSigner(signer, fixed[1][1], fixed[0][1])
    payload_hash = hashlib.sha256(b"{}").hexdigest()
    stamps = ["20151231T235958Z", "20151231T235959Z", "20160101T000000Z", "20160101T000001Z"]
    for secret, stamp in [(SECRETS[0], stamp) for stamp in stamps] + [(SECRETS[1], stamps[3])]:
        headers = json_signer.context(stamp, "AKID", secret, None).headers(
            "TrentService.Encrypt", payload_hash
        )
        unsigned = fixed + [(k, v) for k, v in headers.items() if k != "Authorization"]
        derived_before = len(derived)
        assert headers["Authorization"] == _general_authorization(
            signer, unsigned, payload_hash, secret, stamp
        )
        del derived[derived_before:]  # the general signer's own derivation
    assert derived == [
        (SECRETS[0], "20151231"),
        (SECRETS[0], "20160101"),
        (SECRETS[1], "20160101"),
    ]


async def test_a_closed_clients_secret_is_not_kept_for_the_process() -> None:
    """Signing keys are kept per client: once a client is gone, nothing holds its secret."""
    secret = "".join(["never-kept-", secrets.token_hex(16)])  # made here: referenced only here
    credentials = aiokms.Credentials("AKID", secret, "a-session-token")
    kms = aiokms.KMSClient(
        region_name="eu-west-1", endpoint_url="http://127.0.0.1:9", credentials=credentials
    )
    for _ in range(3):
        kms._sign("TrentService.Encrypt", EMPTY_SHA256, credentials)
    await kms.close()
    assert kms._signing is None and kms._signer._day_key is None
    del kms, credentials
    gc.collect()
    this_frame = sys._getframe()
    assert [r for r in gc.get_referrers(secret) if r is not this_frame] == []


# --------------------------------------------------------------------------------------------
# Unit tests of the helpers
# --------------------------------------------------------------------------------------------


def test_signing_key_matches_aws_documented_example() -> None:
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_signing_key_depends_on_every_input() -> None:
    base = ("secret", "20240101", "us-east-1", "kms")
    keys = {signing_key(*base)}
    for index, replacement in enumerate(("other", "20240102", "eu-west-1", "iam")):
        changed = list(base)
        changed[index] = replacement
        keys.add(signing_key(*changed))
    assert len(keys) == 5
    assert all(len(key) == 32 for key in keys)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime.datetime(2015, 8, 30, 12, 36, 0), "20150830T123600Z"),
        (datetime.datetime(2015, 8, 30, 12, 36, 0, 999_999), "20150830T123600Z"),
        (
            datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc),
            "20150830T123600Z",
        ),
        (
            datetime.datetime(
                2015, 8, 30, 14, 36, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
            ),
            "20150830T123600Z",
        ),
        # Local date ahead of UTC: the UTC date is the day before.
        (
            datetime.datetime(
                2016, 1, 1, 1, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=5))
            ),
            "20151231T203000Z",
        ),
        # Local date behind UTC: the UTC date is the next day, and year.
        (
            datetime.datetime(
                2015, 12, 31, 20, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
            ),
            "20160101T010000Z",
        ),
        (
            datetime.datetime(
                2016,
                3,
                1,
                5,
                44,
                59,
                tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=45)),
            ),
            "20160229T235959Z",
        ),
        (
            datetime.datetime(
                2024, 1, 1, 13, 59, 59, tzinfo=datetime.timezone(datetime.timedelta(hours=14))
            ),
            "20231231T235959Z",
        ),
    ],
    ids=[
        "naive-utc",
        "microseconds-dropped",
        "aware-utc",
        "utc+2",
        "utc+5-previous-day",
        "utc-5-next-year",
        "utc+5:45-leap-day",
        "utc+14-previous-year",
    ],
)
def test_amz_date(now: datetime.datetime, expected: str) -> None:
    assert amz_date(now) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("a=1", "a=1"),
        ("b=2&a=1", "a=1&b=2"),
        # Repeated names sort by value, as strings.
        ("a=2&a=10&a=1", "a=1&a=10&a=2"),
        # Byte order: upper case sorts before lower case.
        ("b=1&B=2&a=3&A=4", "A=4&B=2&a=3&b=1"),
        # A name without "=" gets an empty value; empty items are dropped.
        ("flag", "flag="),
        ("b=&a", "a=&b="),
        ("a=1&&b=2&", "a=1&b=2"),
        ("=v", "=v"),
        # Only the first "=" separates name and value.
        ("a=b=c", "a=b%3Dc"),
        # Unreserved characters are never encoded, even when they arrive encoded.
        ("-._~=-._~", "-._~=-._~"),
        ("%41%7E=%2D%5F", "A~=-_"),
        # Everything else is encoded, with upper-case hex.
        ("a=x/y", "a=x%2Fy"),
        ("a=%2f%3d%26", "a=%2F%3D%26"),
        ("a=b c", "a=b%20c"),
        ("a=b%20c", "a=b%20c"),
        # "+" is a literal plus, not a space.
        ("a=b+c", "a=b%2Bc"),
        ("a=%2B", "a=%2B"),
        ("k=!*'();:@$,[]", "k=%21%2A%27%28%29%3B%3A%40%24%2C%5B%5D"),
        ("ሴ=bar", "%E1%88%B4=bar"),
        ("%E1%88%B4=bar", "%E1%88%B4=bar"),
        ("emoji=🔐", "emoji=%F0%9F%94%90"),
        # Percent-encoded bytes that are not UTF-8 stay the bytes they are.
        ("a=%FF", "a=%FF"),
        ("a=%ff&a=%FE", "a=%FE&a=%FF"),
        ("%C3=x&b=%E1%88", "%C3=x&b=%E1%88"),
        # A "%" that starts no escape is itself encoded.
        ("a=100%&b=%zz", "a=100%25&b=%25zz"),
        # Sorting is on the encoded names: "%C3%A9" sorts before "~" although "é" sorts after.
        ("~=1&é=2", "%C3%A9=2&~=1"),
        (
            "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
        ),
    ],
)  # fmt: skip
def test_canonical_query(query: str, expected: str) -> None:
    assert canonical_query(query) == expected


@pytest.mark.parametrize(
    "params",
    [
        [("b", "2"), ("a", "1")],
        [("a", "2"), ("a", "10"), ("a", "1"), ("A", "0")],
        [("key with space", "v/a=l&u+e"), ("~", "é"), ("é", "~"), ("", "")],
        [("emoji🔐", "中文"), ("q", "'\"\\%#?")],
    ],
)
def test_canonical_query_matches_botocore(params: list[tuple[str, str]]) -> None:
    from urllib.parse import quote

    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)
    auth = SigV4Auth(Credentials("AKID", "SECRET"), "kms", "us-east-1")
    assert canonical_query(query) == auth._canonical_query_string_params(params)


@pytest.mark.parametrize(
    ("path", "normalize", "expected"),
    [
        ("", True, "/"),
        ("", False, "/"),
        ("/", True, "/"),
        ("//", True, "/"),
        ("//", False, "//"),
        ("//example//", True, "/example/"),
        ("/a/./b/../c", True, "/a/c"),
        ("/a/./b/../c", False, "/a/./b/../c"),
        ("/..", True, "/"),
        ("/../a", True, "/a"),
        ("/a/b/../", True, "/a/"),
        ("/a/.", True, "/a"),
        ("/example space/", True, "/example%20space/"),
        ("/ሴ", True, "/%E1%88%B4"),
        ("/-._~AZaz09", True, "/-._~AZaz09"),
        # Already-encoded paths are encoded again (every service but S3 does this).
        ("/a%20b", True, "/a%2520b"),
        ("/a+b:c@d", True, "/a%2Bb%3Ac%40d"),
    ],
)
def test_canonical_uri(path: str, normalize: bool, expected: str) -> None:
    assert canonical_uri(path, normalize=normalize) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "//",
        "///a//b///",
        "/a/./b/../c",
        "/a/b/..",
        "/a/b/../",
        "/a/b/../../../..",
        "/./",
        "/.",
        "/a/.",
        "/a b/ሴ/🔐",
        "/a%2Fb",
        "/~user/x+y",
        "/kms/./v1/../",
    ],
)
def test_canonical_uri_matches_botocore(path: str) -> None:
    auth = SigV4Auth(Credentials("AKID", "SECRET"), "kms", "us-east-1")
    assert canonical_uri(path) == auth._normalize_url_path(path)


def test_canonical_headers() -> None:
    block, signed = canonical_headers(
        [
            ("X-Amz-Date", "20150830T123600Z"),
            ("Host", " example.amazonaws.com "),
            ("My-Header1", "  a   b \t c  "),
            ("my-header1", "second"),
            ("MY-HEADER1", "third\n  folded"),
            ("Empty", ""),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ]
    )
    assert block == (
        "empty:\n"
        "host:example.amazonaws.com\n"
        "my-header1:a b c,second,third folded\n"
        f"x-amz-content-sha256:{EMPTY_SHA256}\n"
        "x-amz-date:20150830T123600Z\n"
    )
    assert signed == "empty;host;my-header1;x-amz-content-sha256;x-amz-date"


def test_canonical_request_and_string_to_sign_layout() -> None:
    creq, signed = canonical_request(
        "POST",
        "/",
        "",
        [("Host", "kms.eu-west-1.amazonaws.com"), ("X-Amz-Date", "20240101T000000Z")],
        EMPTY_SHA256,
    )
    assert signed == "host;x-amz-date"
    assert creq == (
        "POST\n/\n\nhost:kms.eu-west-1.amazonaws.com\nx-amz-date:20240101T000000Z\n\n"
        f"host;x-amz-date\n{EMPTY_SHA256}"
    )
    sts = string_to_sign("20240101T000000Z", "20240101/eu-west-1/kms/aws4_request", creq)
    assert sts == (
        f"{ALGORITHM}\n20240101T000000Z\n20240101/eu-west-1/kms/aws4_request\n"
        f"{hashlib.sha256(creq.encode()).hexdigest()}"
    )


def test_authorization_format() -> None:
    authorization = Signer("eu-west-1").authorization(
        method="POST",
        path="/",
        query="",
        headers=[("Host", "kms.eu-west-1.amazonaws.com"), ("X-Amz-Date", "20240101T000000Z")],
        payload_hash=EMPTY_SHA256,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        amz_date="20240101T000000Z",
    )
    prefix = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/kms/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature="
    )
    assert authorization.startswith(prefix)
    signature = authorization[len(prefix) :]
    assert re.fullmatch("[0-9a-f]{64}", signature), signature


def test_signer_repr_holds_no_secrets() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    signer = Signer("eu-west-1")
    signer.authorization(
        method="POST",
        path="/",
        query="",
        headers=[
            ("Host", "kms.eu-west-1.amazonaws.com"),
            ("X-Amz-Date", "20240101T000000Z"),
            ("X-Amz-Security-Token", "SESSIONTOKENEXAMPLE"),
        ],
        payload_hash=EMPTY_SHA256,
        access_key="AKIDEXAMPLE",
        secret_key=secret,
        amz_date="20240101T000000Z",
    )
    text = repr(signer)
    assert text == "<Signer region='eu-west-1' service='kms'>"
    for sensitive in (secret, "AKIDEXAMPLE", "SESSIONTOKENEXAMPLE", "AWS4"):
        assert sensitive not in text
    assert not hasattr(signer, "__dict__")
    assert {name: getattr(signer, name) for name in Signer.__slots__} == {
        "region": "eu-west-1",
        "service": "kms",
    }


# --------------------------------------------------------------------------------------------
# The client's precomputed signer agrees with the general one
# --------------------------------------------------------------------------------------------


def _general_authorization(
    signer: Signer,
    headers: list[tuple[str, str]],
    payload_hash: str,
    secret_key: str = "SECRET",
    amz_date: str = "20261128T235959Z",
) -> str:
    """What the general signer makes of a KMS POST (by default signed with the tests' fixed
    credentials and date)."""
    return signer.authorization(
        method="POST",
        path="/",
        query="",
        headers=headers,
        payload_hash=payload_hash,
        access_key="AKID",
        secret_key=secret_key,
        amz_date=amz_date,
    )


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//token+with/odd=chars"])
@pytest.mark.parametrize("host", ["kms.eu-west-1.amazonaws.com", "127.0.0.1:4566", "[::1]:8080"])
def test_json_post_signer_matches_the_general_signer(token: str | None, host: str) -> None:
    signer = Signer("eu-west-1", "kms")
    body = json.dumps({"KeyId": "alias/ä", "EncryptionContext": {"k": "v &=+"}}).encode()
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = JsonPostSigner(signer, host, "application/x-amz-json-1.1").headers(
        "TrentService.Encrypt", payload_hash, "20261128T235959Z", "AKID", "SECRET", token
    )
    unsigned = [(name, value) for name, value in headers.items() if name != "Authorization"]
    assert headers["Authorization"] == _general_authorization(signer, unsigned, payload_hash)
    assert ("X-Amz-Security-Token" in headers) == bool(token)


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//token+with/odd=chars"])
def test_a_signing_context_signs_many_requests_as_the_general_signer(token: str | None) -> None:
    """The hash states a context keeps are copied, never consumed: every request signs right."""
    signer = Signer("eu-west-1", "kms")
    fixed = [("Content-Type", "application/x-amz-json-1.1"), ("Host", "127.0.0.1:4566")]
    context = JsonPostSigner(signer, fixed[1][1], fixed[0][1]).context(
        "20261128T235959Z", "AKID", "SECRET", token
    )
    for target, body in [
        ("TrentService.Encrypt", b'{"KeyId": "k"}'),
        ("TrentService.Decrypt", b""),
        ("TrentService.Encrypt", b'{"KeyId": "other"}'),
        ("TrentService.Encrypt", b'{"KeyId": "k"}'),
    ]:
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = context.headers(target, payload_hash)
        unsigned = fixed + [(k, v) for k, v in headers.items() if k != "Authorization"]
        assert headers["Authorization"] == _general_authorization(signer, unsigned, payload_hash)


def test_a_signing_context_makes_plain_dicts_or_the_mapping_it_is_given() -> None:
    signer = Signer("eu-west-1", "kms")
    payload_hash = hashlib.sha256(b"{}").hexdigest()
    plain = JsonPostSigner(signer, "127.0.0.1:4566", "application/x-amz-json-1.1")
    headers = plain.context("20261128T235959Z", "AKID", "SECRET", "token").headers(
        "TrentService.Encrypt", payload_hash
    )
    assert type(headers) is dict
    assert list(headers) == [
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "X-Amz-Target",
        "Authorization",
    ]

    class Headers(dict[str, str]):
        pass

    made = JsonPostSigner(signer, "127.0.0.1:4566", "application/x-amz-json-1.1", Headers)
    theirs = made.context("20261128T235959Z", "AKID", "SECRET", "token").headers(
        "TrentService.Encrypt", payload_hash
    )
    assert type(theirs) is Headers and theirs == headers


def test_signing_depends_on_no_http_client() -> None:
    # the signing layer is pure: aiohttp and its multidict belong to the transport
    imported = imported_modules(_signing.__file__)
    assert not {name.split(".")[0] for name in imported} & {"aiohttp", "multidict", "yarl"}


# --- checked by moto: IAM authentication on, every signature recomputed ---------------------


# A moto server whose requests must be signed. ``INITIAL_NO_AUTH_ACTION_COUNT`` is read from the
# environment once, when ``moto.settings`` is imported, into a process-wide float that
# ``ActionAuthenticatorMixin._authenticate_and_authorize_action`` compares, on every request,
# with a process-wide request counter: the first N requests pass unchecked, every later one must
# carry a valid SigV4 signature of an access key known to moto's IAM and be allowed by that
# user's policies. Being process-wide, it lives in a subprocess of its own, so the in-process
# server above (and any other moto use in this test session) is unaffected.
_AUTH_SERVER_SCRIPT = """
import sys
from moto.server import ThreadedMotoServer

import aiokms

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the test process closes the pipe (or terminates us)
server.stop()
"""


# CreateUser, CreateAccessKey, PutUserPolicy: the requests allowed before auth is enforced.
IAM_SETUP_REQUESTS = 3


@pytest.fixture
def auth_moto_url(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(IAM_SETUP_REQUESTS)}
    log_path = tmp_path / "moto-auth-server.log"
    with (
        log_path.open("wb") as log,
        subprocess.Popen(
            [sys.executable, "-c", _AUTH_SERVER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # EOF (b"") if the child dies before listening
            if not line.strip().isdigit():
                proc.wait(timeout=10)
                pytest.fail(
                    f"the moto server subprocess did not start:\n{log_path.read_text()[-2000:]}"
                )
            yield f"http://127.0.0.1:{int(line)}"
        finally:
            proc.terminate()  # this child only, by its PID
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def create_iam_user_with_kms_access(url: str) -> tuple[str, str]:
    """Create a moto IAM user allowed ``kms:*``, with the unauthenticated requests allowance."""
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "iam",
        region_name=moto.REGION,
        endpoint_url=url,
        aws_access_key_id=moto.TEST_KEY[0],
        aws_secret_access_key=moto.TEST_KEY[1],
    ) as iam:
        await iam.create_user(UserName="aiokms-signer")
        key = (await iam.create_access_key(UserName="aiokms-signer"))["AccessKey"]
        await iam.put_user_policy(
            UserName="aiokms-signer", PolicyName="kms-all", PolicyDocument=moto.KMS_ALLOW_ALL
        )
    return key["AccessKeyId"], key["SecretAccessKey"]


def auth_error(err: botocore.exceptions.ClientError) -> tuple[str, str, int, str]:
    """(class, code, HTTP status, moto's real error code) of an authentication failure.

    moto answers auth failures of JSON-protocol services with an XML body; botocore's JSON
    parser then falls back to the HTTP status as the code and the raw body as the message.
    """
    message = err.response["Error"]["Message"]
    moto_code = message.partition("<Code>")[2].partition("</Code>")[0]
    return (
        type(err).__name__,
        err.response["Error"]["Code"],
        err.response["ResponseMetadata"]["HTTPStatusCode"],
        moto_code,
    )


async def _attempt(client: AbstractAsyncContextManager[Any]) -> tuple[str, str, int, str]:
    async with client as kms:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await kms.create_key(Description="must be rejected")
    return auth_error(excinfo.value)


async def _signed_roundtrip(client: AbstractAsyncContextManager[Any], alias: str) -> None:
    async with client as kms:
        key_id = (await kms.create_key(Description="signed ✓"))["KeyMetadata"]["KeyId"]
        await kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        enc = await kms.encrypt(
            KeyId=alias, Plaintext=moto.PLAINTEXT, EncryptionContext=moto.CONTEXT
        )
        dec = await kms.decrypt(
            CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=moto.CONTEXT
        )
        assert dec["Plaintext"] == moto.PLAINTEXT
        pages = [p async for p in kms.get_paginator("list_keys").paginate()]
        assert key_id in {k["KeyId"] for p in pages for k in p["Keys"]}


async def test_sigv4_checked_by_moto(
    client_factory: moto.ClientFactory, auth_moto_url: str
) -> None:
    url = auth_moto_url
    access_key, secret_key = await create_iam_user_with_kms_access(url)
    wrong_secret = secret_key[:-4] + ("AAAA" if not secret_key.endswith("AAAA") else "BBBB")
    unknown_key = "AKIA" + "Z" * 16

    # moto really checks signatures now: the reference client proves it. What moto checks:
    # it rebuilds the canonical request from the method, path, body and the headers named in
    # SignedHeaders, and signs it with botocore's SigV4Auth for the region and service of the
    # request's own credential scope, at its own X-Amz-Date. It does not check the clock skew,
    # nor that the scope's region or service fit the endpoint.
    await _signed_roundtrip(moto.aiobotocore_client(url, access_key, secret_key), "alias/reference")
    expected_bad_signature = await _attempt(moto.aiobotocore_client(url, access_key, wrong_secret))
    assert expected_bad_signature == ("ClientError", "403", 403, "SignatureDoesNotMatch")
    expected_unknown_key = await _attempt(moto.aiobotocore_client(url, unknown_key, secret_key))
    assert expected_unknown_key == ("ClientError", "403", 403, "InvalidClientTokenId")

    await _signed_roundtrip(client_factory(url, access_key, secret_key), "alias/under-test")
    assert await _attempt(client_factory(url, access_key, wrong_secret)) == expected_bad_signature
    assert await _attempt(client_factory(url, unknown_key, secret_key)) == expected_unknown_key
