"""The known-answer data in ``tests/data/`` and the parsers its files need.

``tests/data/README.md`` says where each file came from. The data is part of the repository: a
missing file is an error, never a reason to skip.

* ``sigv4/classic``: the AWS Signature Version 4 test suite in its original layout
  (``.req``/``.creq``/``.sts``/``.authz``/``.sreq`` per case);
* ``sigv4/v4``: the same suite in the ``context.json`` + ``header-*.txt`` layout;
* ``esdk/commitment-test-vectors.json``: AWS Encryption SDK messages with key commitment.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent / "data"
SIGV4_CLASSIC = DATA / "sigv4" / "classic"
SIGV4_V4 = DATA / "sigv4" / "v4"
ESDK_VECTORS_FILE = DATA / "esdk" / "commitment-test-vectors.json"

# Credentials, scope and time of every classic case (its files do not hold them).
CLASSIC_ACCESS_KEY = "AKIDEXAMPLE"
CLASSIC_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CLASSIC_REGION = "us-east-1"
CLASSIC_SERVICE = "service"
CLASSIC_AMZ_DATE = "20150830T123600Z"

# Classic cases whose own files contradict each other, so that no signer can match all of them.
# The tests of the files at fault leave them out, and tests/test_signing.py's
# test_classic_defects_are_real proves each stated contradiction from the data (so these lists
# cannot hide a signer bug, and fail loudly if the data is corrected).
#
# .sts/.authz computed from a different request than the .req/.creq (the .sts does not hash
# the .creq):
CLASSIC_STS_DEFECTS = {
    "post-x-www-form-urlencoded": (
        "the suite's .sts and .authz were computed without the Content-Length header that its "
        ".req and .creq hold (the .sts does not hash the .creq); the .creq is checked by "
        "test_classic_canonical_request and the .authz by test_classic_signed_request, from the "
        ".sreq, which has no Content-Length"
    ),
    "post-x-www-form-urlencoded-parameters": (
        "the suite's .sts and .authz were computed without Content-Length and with "
        "'charset=utf8', while its .req and .creq hold Content-Length and 'charset=utf-8' "
        "(the .sts does not hash the .creq); the .creq is checked by test_classic_canonical_request"
    ),
}
# .sreq whose Authorization is not the signature of the request it shows:
CLASSIC_SREQ_DEFECTS = {
    "get-vanilla-with-session-token": (
        "the suite's .sreq carries get-vanilla's signature (5fa00fa3...), not the signature of "
        "the request it shows; its .creq/.sts/.authz are checked by the other classic tests"
    ),
    "post-x-www-form-urlencoded-parameters": (
        "the suite's .sreq shows 'charset=utf-8' but carries the signature of 'charset=utf8'"
    ),
}


@dataclass
class HttpRequest:
    """One request of the SigV4 suite, as written in its text files."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def without(self, name: str) -> list[tuple[str, str]]:
        """The headers other than ``name`` (case-insensitive), in order."""
        return [(key, value) for key, value in self.headers if key.lower() != name.lower()]


def parse_http_request(raw: bytes) -> HttpRequest:
    """Parse a suite request file: request line, headers, blank line, body.

    The request target may hold raw spaces or UTF-8 (``GET /example space/ HTTP/1.1``), so the
    line is split on its last ``" HTTP/"``. A header line that starts with white space continues
    the previous header's value (an obsolete line fold, which HTTP reads as one space); repeated
    header names keep every value in order.
    """
    head, _, body = raw.partition(b"\n\n")
    request_line, *header_lines = head.decode("utf-8").split("\n")
    target, separator, _version = request_line.rpartition(" HTTP/")
    assert separator, f"no HTTP version in request line {request_line!r}"
    method, _, target = target.partition(" ")
    path, _, query = target.partition("?")

    headers: list[tuple[str, str]] = []
    for line in header_lines:
        if not line:
            continue
        if line[0] in " \t":
            assert headers, f"continuation line {line!r} before any header"
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line}")
            continue
        name, separator, value = line.partition(":")
        assert separator, f"malformed header line {line!r}"
        headers.append((name, value))
    return HttpRequest(method, path, query, headers, body)


def classic_cases() -> list[Path]:
    """Every classic case directory, i.e. every directory holding a ``.req`` file."""
    cases = sorted(request.parent for request in SIGV4_CLASSIC.rglob("*.req"))
    assert cases, f"the SigV4 suite is missing from {SIGV4_CLASSIC}"
    return cases


def v4_cases() -> list[Path]:
    """Every v4 case directory, i.e. every directory holding a ``context.json``."""
    cases = sorted(context.parent for context in SIGV4_V4.rglob("context.json"))
    assert cases, f"the SigV4 suite is missing from {SIGV4_V4}"
    return cases


def case_params(cases: list[Path], leave_out: frozenset[str] = frozenset()) -> list[Any]:
    """One parameter per case, with the case name as id, except those in ``leave_out``."""
    return [pytest.param(case, id=case.name) for case in cases if case.name not in leave_out]


def load_esdk_vectors() -> list[dict[str, Any]]:
    """The ESDK commitment vectors (``tests``' entries of the JSON file)."""
    tests: list[dict[str, Any]] = json.loads(ESDK_VECTORS_FILE.read_text())["tests"]
    return tests


ESDK_VECTORS = load_esdk_vectors()


def esdk_vector_params() -> list[Any]:
    """One parameter per ESDK vector, with the first sentence of its comment as id."""
    return [pytest.param(v, id=v["comment"].split(".")[0]) for v in ESDK_VECTORS]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def vector_plaintext(vector: dict[str, Any]) -> bytes:
    return "".join(vector.get("plaintext-frames", [])).encode()
