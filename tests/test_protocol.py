"""The JSON 1.1 protocol, sans-I/O, against botocore doing the same work on the same input.

aiokms promises aiobotocore's arguments, validation errors and response dicts, so botocore is
the truth: its JSON serializer for request bodies, its ``ParamValidator`` for what is refused
and where, its ``JSONParser`` (plus the modeled error members its endpoint adds) for replies.
Inputs and replies are generated from each operation's shapes with hypothesis; runs are bounded
and derandomized, so CI sees the same examples every time. Where aiokms deliberately does more
than botocore (maximum lengths and ranges, blob lengths, no secrets in messages) the tests say
so and check that botocore indeed lets the value through.
"""

from __future__ import annotations

import array
import base64
import datetime
import json
import re
import reprlib
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.exceptions
import pytest
from botocore.model import ShapeResolver
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from aiokms import _model, _protocol
from tests.botocore_truth import (
    KMS_MODEL,
    botocore_body,
    botocore_error,
    botocore_reply,
    botocore_report,
)

MODEL = _model.load()
OPERATIONS = list(KMS_MODEL.operation_names)
WITH_OUTPUT = [name for name in OPERATIONS if KMS_MODEL.operation_model(name).output_shape]
ERROR_CODES = sorted(shape.name for shape in KMS_MODEL.error_shapes)

# Each example costs about a millisecond; per operation this keeps a test well under a second.
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Wrong values put where a secret belongs: none of these may appear in an error message.
SECRET_TEXT = "s3cr3t-never-echoed"
SECRET_NUMBER = 987654321987654321

Shape = Any  # botocore.model.Shape (botocore is untyped)


def serialize(operation: str, params: Mapping[str, Any]) -> Any:
    """aiokms's request body for ``params``, decoded."""
    return json.loads(MODEL.operations[operation].serialize_input(params))


def validation_report(operation: str, params: Mapping[str, Any]) -> str:
    """aiokms's ``ParamValidationError`` report (the test fails if it raises none)."""
    with pytest.raises(botocore.exceptions.ParamValidationError) as caught:
        MODEL.operations[operation].serialize_input(params)
    report: str = caught.value.kwargs["report"]
    return report


def pick(data: st.DataObject, items: list[Any], label: str) -> Any:
    """One of ``items`` (by index: hypothesis's ``sampled_from`` hashes, and memoryviews
    refuse that)."""
    item = items[data.draw(st.integers(0, len(items) - 1))]
    note(f"{label}: {reprlib.repr(item)}")
    return item


def assert_same(ours: Any, theirs: Any, where: str = "") -> None:
    """Equal values of the same types all the way down (``1 == 1.0 == True`` is not enough).

    The order of a dict's keys is not compared: botocore lists members in the model's order,
    aiokms in the reply's."""
    assert type(ours) is type(theirs), f"{where}: {ours!r} is not {theirs!r}"
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            assert_same(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(ours, datetime.datetime):
        assert ours == theirs, where
        assert ours.utcoffset() == theirs.utcoffset(), where
        assert type(ours.tzinfo) is type(theirs.tzinfo), where
    else:
        assert ours == theirs, where


# --- valid inputs from the input shapes -----------------------------------------------------

EXTRA = 20  # the most characters, bytes or items a generated value has beyond its minimum
MOMENTS = {
    "min_value": datetime.datetime(1900, 1, 1),
    "max_value": datetime.datetime(2200, 1, 1),
}
ZONES = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
DATETIMES = st.one_of(st.datetimes(**MOMENTS), st.datetimes(**MOMENTS, timezones=ZONES))
# every form botocore takes a timestamp in
TIMESTAMPS = st.one_of(
    DATETIMES,
    st.integers(-(2**31), 2**33),  # epoch seconds
    st.floats(-2e9, 8e9, allow_nan=False, allow_infinity=False),
    DATETIMES.map(datetime.datetime.isoformat),  # ISO 8601
    st.builds(datetime.datetime.isoformat, DATETIMES, st.just(" ")),
    st.integers(0, 2**33).map(str),  # epoch seconds as text
)
# map keys name the parameter in messages: no line breaks, which would split a report's lines
KEY_TEXT = st.characters(exclude_characters="\n\r")


def _upper(low: int, high: int | None, extra: int = EXTRA) -> int:
    return low + extra if high is None else min(high, low + extra)


def blobs(low: int, high: int) -> st.SearchStrategy[Any]:
    """Blobs of ``low`` to ``high`` bytes in every form the client takes."""
    raw = st.binary(min_size=low, max_size=_upper(low, high))
    itemsize = array.array("I").itemsize
    words = st.lists(
        st.integers(0, 2 ** (8 * itemsize) - 1),
        min_size=-(-low // itemsize),
        max_size=_upper(low, high) // itemsize,
    ).map(lambda items: memoryview(array.array("I", items)))  # a length in items, not bytes
    text = st.text(max_size=_upper(low, high)).filter(lambda s: low <= len(s.encode()) <= high)
    forms = [raw, raw.map(bytearray), raw.map(memoryview), text]
    if -(-low // itemsize) * itemsize <= high:
        forms.append(words)
    return st.one_of(forms)


def valid_value(shape: Shape, key_text: bool = False) -> st.SearchStrategy[Any]:
    """Values the model allows for ``shape``, in every Python type the client takes."""
    kind = shape.type_name
    low = shape.metadata.get("min", 0)
    high = shape.metadata.get("max")
    if kind == "structure":
        members = {name: valid_value(member) for name, member in shape.members.items()}
        required = set(shape.required_members)
        return st.fixed_dictionaries(
            {name: s for name, s in members.items() if name in required},
            optional={name: s for name, s in members.items() if name not in required},
        )
    if kind == "list":
        return st.lists(valid_value(shape.member), min_size=low, max_size=_upper(low, high, 3))
    if kind == "map":
        return st.dictionaries(
            valid_value(shape.key, key_text=True),
            valid_value(shape.value),
            min_size=low,
            max_size=_upper(low, high, 3),
        )
    if kind == "string":
        alphabet = KEY_TEXT if key_text else st.characters()
        return st.text(alphabet, min_size=low, max_size=_upper(low, high))
    if kind == "blob":
        return blobs(low, high if high is not None else low + EXTRA)
    if kind in ("integer", "long"):
        return st.integers(
            shape.metadata.get("min", -(2**31)), shape.metadata.get("max", 2**31 - 1)
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return TIMESTAMPS
    raise NotImplementedError(kind)  # pragma: no cover - KMS uses only the kinds above


def valid_input(operation: str) -> st.SearchStrategy[dict[str, Any]]:
    strategy: st.SearchStrategy[dict[str, Any]] = valid_value(
        KMS_MODEL.operation_model(operation).input_shape
    )
    return strategy


def as_botocore_takes_it(value: Any) -> Any:
    """``value`` with memoryviews as bytes: botocore's validator refuses them, its serializer
    and aiokms take them."""
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, dict):
        return {k: as_botocore_takes_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_botocore_takes_it(v) for v in value]
    return value


@pytest.mark.parametrize("operation", OPERATIONS)
@PROPERTY
@given(data=st.data())
def test_valid_input_serializes_as_botocore_serializes_it(
    operation: str, data: st.DataObject
) -> None:
    params = data.draw(valid_input(operation), label="params")
    assert botocore_report(operation, as_botocore_takes_it(params)) == ""  # valid to botocore too
    body = MODEL.operations[operation].serialize_input(params)
    assert body.isascii()
    assert_same(json.loads(body), botocore_body(operation, params))


# --- invalid inputs: refused where botocore refuses them, naming the same parameters ---------

_REPORT_LINE = [
    (re.compile(r'Missing required parameter in (.+): "(.+)"$'), "missing"),
    (re.compile(r'Unknown parameter in (.+): "(.+)", must be one of: '), "unknown"),
    (re.compile(r"Invalid type for parameter (.+?), value: "), "type"),
    (re.compile(r"Invalid timestamp for parameter (.+?), value: "), "type"),
    (
        re.compile(r"Invalid length for parameter (.+?), value: \d+, valid (min|max) length: "),
        "length",
    ),
    # botocore words it "Invalid value", aiokms "Invalid range" (as tests/test_client.py pins)
    (
        re.compile(
            r"Invalid (?:value|range) for parameter (.+?), value: .+, valid (min|max) value: "
        ),
        "range",
    ),
]


def problems(report: str) -> set[tuple[str, ...]]:
    """A validation report as a set of (kind, parameter path, detail)."""
    found = set()
    for line in report.split("\n"):  # not splitlines(): map keys may hold its other breaks
        for pattern, kind in _REPORT_LINE:
            match = pattern.match(line)
            if match:
                found.add((kind, *match.groups()))
                break
        else:
            raise AssertionError(f"not a validation report line: {line!r}")
    return found


Location = tuple[Any, ...]  # the keys and indexes leading to a value from the top of the input


def nodes(value: Any, shape: Shape, where: Location = (), path: str = "") -> Iterator[Any]:
    """Every value inside an input: (location, parameter path as botocore names it, shape,
    value)."""
    yield where, path, shape, value
    if shape.type_name == "structure":
        for name, item in value.items():
            yield from nodes(item, shape.members[name], (*where, name), f"{path}.{name}")
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            yield from nodes(item, shape.member, (*where, i), f"{path}[{i}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            yield from nodes(item, shape.value, (*where, key), f"{path}.{key}")


def replace(value: Any, where: Location, new: Any) -> Any:
    """``value`` with the value at ``where`` replaced by ``new`` (nothing is changed in place)."""
    if not where:
        return new
    head, rest = where[0], where[1:]
    copy: Any = list(value) if isinstance(value, list) else dict(value)
    copy[head] = replace(value[head], rest, new)
    return copy


def holds_secrets(shape: Shape, seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``shape`` is sensitive or has a sensitive shape inside."""
    if shape.metadata.get("sensitive"):
        return True
    if shape.name in seen:
        return False
    inner = seen | {shape.name}
    if shape.type_name == "structure":
        return any(holds_secrets(m, inner) for m in shape.members.values())
    if shape.type_name == "list":
        return holds_secrets(shape.member, inner)
    if shape.type_name == "map":
        return holds_secrets(shape.key, inner) or holds_secrets(shape.value, inner)
    return False


def wrong_types(shape: Shape, value: Any) -> list[Any]:
    """Values botocore refuses for ``shape`` as the wrong type (bool for numbers it takes)."""
    kind = shape.type_name
    if kind == "structure":
        return [[value], SECRET_TEXT, SECRET_NUMBER]
    if kind == "list":
        return [SECRET_TEXT, {"item": value}, SECRET_NUMBER]
    if kind == "map":
        return [[value], SECRET_TEXT]
    if kind == "string":
        return [SECRET_NUMBER, SECRET_TEXT.encode(), [SECRET_TEXT], None]
    if kind == "blob":
        return [SECRET_NUMBER, [SECRET_TEXT], 1.5, None]
    if kind in ("integer", "long"):
        return [str(SECRET_NUMBER), 1.5, None, [SECRET_NUMBER]]
    if kind == "boolean":
        return [1, "true", None]
    if kind == "timestamp":
        return [[SECRET_NUMBER], {"at": SECRET_TEXT}, SECRET_TEXT, None]
    raise NotImplementedError(kind)  # pragma: no cover


def mutations(shape: Shape, value: Any) -> list[tuple[str, Any]]:
    """Ways to make ``value`` invalid that botocore's validator detects: (what, new value)."""
    found = [("wrong type", wrong) for wrong in wrong_types(shape, value)]
    kind = shape.type_name
    low = shape.metadata.get("min", 0)
    if kind == "structure":
        found.append(("unknown member", {**value, "NotAMember": 1}))
        for name in shape.required_members:
            found.append(("missing member", {k: v for k, v in value.items() if k != name}))
    elif kind == "map" and value:
        first = next(iter(value))
        rest = {k: v for k, v in value.items() if k != first}
        found.append(("wrong key type", {SECRET_NUMBER: value[first], **rest}))
    elif kind in ("string", "list") and low > 0:
        found.append(("too short", value[: low - 1]))
    elif kind in ("integer", "long") and "min" in shape.metadata:
        found.append(("too small", low - 1))
    return found


def sensitive_values(value: Any, shape: Shape) -> list[Any]:
    """The secrets in an input that are long enough to be recognised in a message."""
    return [
        item
        for _, _, node, item in nodes(value, shape)
        if node.metadata.get("sensitive")
        and isinstance(item, (str, bytes, bytearray))
        and len(item) >= 8
    ]


def assert_no_secret(report: str, secrets: list[Any]) -> None:
    assert SECRET_TEXT not in report and str(SECRET_NUMBER) not in report
    for secret in secrets:
        assert str(secret) not in report and repr(secret) not in report


@pytest.mark.parametrize("operation", OPERATIONS)
@PROPERTY
@given(data=st.data())
def test_invalid_input_is_refused_naming_what_botocore_names(
    operation: str, data: st.DataObject
) -> None:
    input_shape = KMS_MODEL.operation_model(operation).input_shape
    params = data.draw(valid_input(operation), label="valid params")
    where, path, shape, value = pick(data, list(nodes(params, input_shape)), "at")
    what, new = pick(data, mutations(shape, value), "mutation")
    bad = replace(params, where, new)

    expected = botocore_report(operation, as_botocore_takes_it(bad))
    assert expected, f"botocore takes the {what} at {path or 'input'}"
    report = validation_report(operation, bad)
    assert problems(report) == problems(expected)
    assert (path.lstrip(".") or "input") in report
    if holds_secrets(shape):
        assert_no_secret(report, sensitive_values(params, input_shape))


# --- what aiokms checks beyond botocore (README, "Bad arguments") ----------------------------


def beyond_botocore(shape: Shape, value: Any) -> list[tuple[str, Any]]:
    """Values past the model's bounds that botocore's validator lets through: (detail, value)."""
    kind = shape.type_name
    meta = shape.metadata
    found: list[tuple[str, Any]] = []
    if kind == "string" and "max" in meta:
        found.append(("max", "x" * (meta["max"] + 1)))
    elif kind == "blob":
        if "max" in meta:
            found.append(("max", b"\x00" * (meta["max"] + 1)))
        if meta.get("min", 0) > 0:  # botocore checks no blob length at all
            found.append(("min", b""))
    elif kind == "list" and "max" in meta:
        found.append(("max", [value[0]] * (meta["max"] + 1) if value else None))
    elif kind in ("integer", "long") and "max" in meta:
        found.append(("max", meta["max"] + 1))
    return [(detail, new) for detail, new in found if new is not None]


@pytest.mark.parametrize("operation", OPERATIONS)
@PROPERTY
@given(data=st.data())
def test_lengths_and_ranges_botocore_does_not_check_are_refused(
    operation: str, data: st.DataObject
) -> None:
    input_shape = KMS_MODEL.operation_model(operation).input_shape
    params = data.draw(valid_input(operation), label="valid params")
    candidates = [
        (where, path, shape, detail, new)
        for where, path, shape, value in nodes(params, input_shape)
        for detail, new in beyond_botocore(shape, value)
    ]
    assume(candidates)  # not ListKeys without arguments, say: every operation has some
    where, path, shape, detail, new = pick(data, candidates, "past the bounds")
    bad = replace(params, where, new)

    assert botocore_report(operation, as_botocore_takes_it(bad)) == ""  # botocore would send it
    kind = "range" if shape.type_name in ("integer", "long") else "length"
    assert problems(validation_report(operation, bad)) == {(kind, path.lstrip("."), detail)}


@pytest.mark.parametrize(
    ("operation", "params", "problem"),
    [
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": b"\x00" * 4097},
            "Invalid length for parameter Plaintext, value: 4097, valid max length: 4096",
        ),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": b""},
            "Invalid length for parameter Plaintext, value: 0, valid min length: 1",
        ),
        (
            "ListKeys",
            {"Limit": 1001},
            "Invalid range for parameter Limit, value: 1001, valid max value: 1000",
        ),
        (
            "GenerateDataKey",
            {"KeyId": "k", "NumberOfBytes": 0},
            "Invalid range for parameter NumberOfBytes, value: 0, valid min value: 1",
        ),
        (
            "DescribeKey",
            {"KeyId": "k" * 2049},
            "Invalid length for parameter KeyId, value: 2049, valid max length: 2048",
        ),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": b"x", "GrantTokens": ["t"] * 11},
            "Invalid length for parameter GrantTokens, value: 11, valid max length: 10",
        ),
    ],
)
def test_bad_arguments_as_the_readme_documents_them(
    operation: str, params: dict[str, Any], problem: str
) -> None:
    assert validation_report(operation, params) == problem


def test_the_readmes_example_of_5000_bytes_of_plaintext() -> None:
    # fails at once, where botocore would send it and KMS answer ValidationException
    params = {"KeyId": "alias/app", "Plaintext": b"x" * 5000}
    assert botocore_report("Encrypt", params) == ""
    assert "Plaintext, value: 5000, valid max length: 4096" in validation_report("Encrypt", params)


def test_a_bool_is_not_a_number_although_botocore_takes_one() -> None:
    # botocore's validator takes True for an integer (bool is an int) and sends `true`,
    # which KMS refuses; aiokms refuses it before sending
    assert botocore_report("ListKeys", {"Limit": True}) == ""
    assert problems(validation_report("ListKeys", {"Limit": True})) == {("type", "Limit")}


# --- secrets never reach a message ----------------------------------------------------------


def secret_locations() -> list[tuple[str, str, Location]]:
    """(operation, parameter path, location) of every input shape that holds a secret."""
    found = []

    def visit(operation: str, shape: Shape, where: Location, path: str) -> None:
        if holds_secrets(shape):
            found.append((operation, path, where))
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                visit(operation, member, (*where, name), f"{path}.{name}" if path else name)

    for operation in OPERATIONS:
        visit(operation, KMS_MODEL.operation_model(operation).input_shape, (), "")
    return [(op, path, where) for op, path, where in found if where]


SECRET_LOCATIONS = secret_locations()


def test_the_model_has_secrets_to_keep() -> None:
    paths = {path for _, path, _ in SECRET_LOCATIONS}
    assert {"Plaintext", "KeyStorePassword", "XksProxyAuthenticationCredential"} <= paths
    assert "XksProxyAuthenticationCredential.RawSecretAccessKey" in paths


WRONG_FOR_SECRETS = {
    "int": SECRET_NUMBER,
    "list": [SECRET_TEXT],
    "tuple": (SECRET_TEXT,),
    "dict": {"secret": SECRET_TEXT},
    "bytes": SECRET_TEXT.encode(),
    "list-of-credentials": [{"AccessKeyId": SECRET_TEXT, "RawSecretAccessKey": SECRET_TEXT}],
}


def nested(where: Location, value: Any) -> dict[str, Any]:
    """``value`` at ``where`` inside otherwise empty structures."""
    for name in reversed(where):
        value = {name: value}
    params: dict[str, Any] = value
    return params


# every wrong type botocore refuses at every location that holds a secret
SECRET_CASES = [
    pytest.param(operation, path, nested(where, wrong), id=f"{operation}-{path}-{kind}")
    for operation, path, where in SECRET_LOCATIONS
    for kind, wrong in WRONG_FOR_SECRETS.items()
    if f"parameter {path}," in botocore_report(operation, nested(where, wrong))
]


@pytest.mark.parametrize(("operation", "path", "params"), SECRET_CASES)
def test_a_secret_of_the_wrong_type_is_not_echoed(
    operation: str, path: str, params: dict[str, Any]
) -> None:
    report = validation_report(operation, params)
    assert f"parameter {path}, value: <redacted>," in report
    assert_no_secret(report, [])


# --- timestamps: every form botocore takes, sent as botocore sends it -----------------------


def import_key_material(valid_to: Any) -> dict[str, Any]:
    return {
        "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "ImportToken": b"token",
        "EncryptedKeyMaterial": b"material",
        "ValidTo": valid_to,
    }


@pytest.mark.parametrize(
    ("valid_to", "sent"),
    [
        (datetime.datetime(2030, 1, 1, 0, 0, 0, 123456), 1893456000.123456),
        (
            datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
            1893448800,
        ),
        (datetime.datetime(1969, 12, 31, 23, 59, 59, 500000), -0.5),
        (1.5, 1.5),
        (1893456000, 1893456000),
        ("1893456000", 1893456000),
        ("2030-01-01T00:00:00Z", 1893456000),
        ("2030-01-01", 1893456000),
        ("2030/01/01 00:00:01", 1893456001),
    ],
    ids=[
        "microseconds",
        "offset",
        "before-1970",
        "float",
        "int",
        "epoch-text",
        "iso-8601",
        "date",
        "other-text",
    ],
)
def test_timestamps_are_sent_as_botocore_sends_them(valid_to: Any, sent: float) -> None:
    params = import_key_material(valid_to)
    assert botocore_body("ImportKeyMaterial", params)["ValidTo"] == sent
    assert_same(serialize("ImportKeyMaterial", params)["ValidTo"], type(sent)(sent))


@pytest.mark.parametrize("valid_to", [10**12, -(10**12), "not a date", "", [2030], True])
def test_timestamps_botocore_refuses_are_refused(valid_to: Any) -> None:
    params = import_key_material(valid_to)
    if valid_to is not True:  # botocore takes True as 1 second past the epoch
        assert "parameter ValidTo," in botocore_report("ImportKeyMaterial", params)
    assert problems(validation_report("ImportKeyMaterial", params)) == {("type", "ValidTo")}


# --- blobs ----------------------------------------------------------------------------------


def test_a_memoryview_is_as_long_as_its_bytes() -> None:
    itemsize = array.array("Q").itemsize
    fits = memoryview(array.array("Q", [1]) * (4096 // itemsize))
    assert len(fits) < 4096 == fits.nbytes
    body = serialize("Encrypt", {"KeyId": "k", "Plaintext": fits})
    assert body == botocore_body("Encrypt", {"KeyId": "k", "Plaintext": fits})
    too_long = memoryview(array.array("Q", [1]) * (4096 // itemsize + 1))
    assert validation_report("Encrypt", {"KeyId": "k", "Plaintext": too_long}) == (
        f"Invalid length for parameter Plaintext, value: {too_long.nbytes}, valid max length: 4096"
    )


def test_a_strided_memoryview_is_sent_as_its_bytes() -> None:
    strided = memoryview(b"a-b-c-")[::2]
    assert not strided.c_contiguous
    body = serialize("Encrypt", {"KeyId": "k", "Plaintext": strided})
    assert body["Plaintext"] == base64.b64encode(b"abc").decode()


def test_a_text_blob_is_sent_as_utf8_and_measured_in_bytes() -> None:
    params = {"KeyId": "k", "Plaintext": "é" * 2048}  # 4,096 bytes
    assert_same(serialize("Encrypt", params), botocore_body("Encrypt", params))
    report = validation_report("Encrypt", {"KeyId": "k", "Plaintext": "é" * 2049})
    assert report.endswith("Plaintext, value: 4098, valid max length: 4096")


# --- maps -----------------------------------------------------------------------------------


def test_a_map_key_of_the_wrong_type_is_named_as_botocore_names_it() -> None:
    params = {"KeyId": "k", "Plaintext": b"x", "EncryptionContext": {7: "seven"}}
    expected = botocore_report("Encrypt", params)
    assert "parameter EncryptionContext (key: 7)," in expected
    assert problems(validation_report("Encrypt", params)) == problems(expected)


# --- replies --------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
REPLY_TIMESTAMPS = st.one_of(
    st.integers(-(2**31), 2**33),
    st.floats(-2e9, 8e9, allow_nan=False, allow_infinity=False),
    st.datetimes(**MOMENTS, timezones=ZONES).map(datetime.datetime.isoformat),
)


def reply_value(shape: Shape) -> st.SearchStrategy[Any]:
    """JSON a reply may hold for ``shape``: modeled members, nulls and members the model lacks."""
    kind = shape.type_name
    if kind == "structure":
        known = st.fixed_dictionaries(
            {},
            optional={
                name: st.one_of(st.none(), reply_value(member))
                for name, member in shape.members.items()
            },
        )
        unknown = st.dictionaries(
            st.text(max_size=8).filter(lambda name: name not in shape.members),
            JSON_VALUES,
            max_size=2,
        )
        return st.builds(lambda k, u: {**u, **k}, known, unknown)
    if kind == "list":
        item = reply_value(shape.member)
        if shape.member.type_name in ("structure", "string"):  # botocore keeps their nulls
            item = st.one_of(st.none(), item)
        return st.lists(item, max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), reply_value(shape.value), max_size=3)
    if kind == "string":
        return st.text(max_size=16)
    if kind in ("integer", "long"):
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=48).map(lambda data: base64.b64encode(data).decode())
    if kind == "timestamp":
        return REPLY_TIMESTAMPS
    raise NotImplementedError(kind)  # pragma: no cover


def parse(operation: str, body: bytes) -> Any:
    parser = MODEL.operations[operation].parse_output
    assert parser is not None
    return parser(_protocol.decode_json(body))


@pytest.mark.parametrize("operation", WITH_OUTPUT)
@PROPERTY
@given(data=st.data())
def test_replies_parse_as_botocore_parses_them(operation: str, data: st.DataObject) -> None:
    shape = KMS_MODEL.operation_model(operation).output_shape
    body = json.dumps(data.draw(reply_value(shape), label="reply")).encode()
    expected = botocore_reply(operation, body, {})
    del expected["ResponseMetadata"]
    assert_same(parse(operation, body), expected)


def test_reply_members_are_bytes_and_aware_datetimes() -> None:
    body = json.dumps(
        {
            "KeyMetadata": {
                "KeyId": "1234abcd",
                "CreationDate": 1700000000.25,
                "ValidTo": "2030-01-01T00:00:00Z",
                "NotModeled": {"x": 1},
            },
            "Unknown": None,
        }
    ).encode()
    parsed = parse("DescribeKey", body)
    created = parsed["KeyMetadata"]["CreationDate"]
    assert created.tzinfo is not None
    assert created.timestamp() == 1700000000.25
    assert parsed["KeyMetadata"]["ValidTo"] == datetime.datetime(
        2030, 1, 1, tzinfo=datetime.timezone.utc
    )
    assert "NotModeled" not in parsed["KeyMetadata"] and "Unknown" not in parsed
    reply = parse("GenerateDataKey", json.dumps({"Plaintext": "AAEC", "KeyId": "k"}).encode())
    assert reply == {"Plaintext": b"\x00\x01\x02", "KeyId": "k"}


@pytest.mark.parametrize(
    "text",
    [
        "1700000000",
        "2000-01-01T00:00:00+00:00",
        "2000-01-01T00:00:00Z",
        "Tue, 29 Apr 2014 18:30:38 GMT",
    ],
)
def test_timestamp_text_in_a_reply_is_read_as_botocore_reads_it(text: str) -> None:
    # epoch seconds as text, and botocore's time zone (local where the offset is the local
    # zone's), as dateutil, which botocore uses, gives them
    body = json.dumps({"KeyMetadata": {"KeyId": "k", "CreationDate": text}}).encode()
    expected = botocore_reply("DescribeKey", body, {})
    del expected["ResponseMetadata"]
    assert_same(parse("DescribeKey", body), expected)


@pytest.mark.parametrize(
    "member",
    [{"CiphertextBlob": "not base64!"}, {"CiphertextBlob": 5}, {"CreationDate": "soon"}],
    ids=["bad-base64", "number-blob", "bad-timestamp"],
)
def test_a_malformed_member_is_a_parse_error(member: dict[str, Any]) -> None:
    operation = "Encrypt" if "CiphertextBlob" in member else "DescribeKey"
    body = member if operation == "Encrypt" else {"KeyMetadata": {"KeyId": "k", **member}}
    with pytest.raises(_protocol.ResponseParseError):
        parse(operation, json.dumps(body).encode())


@pytest.mark.parametrize(
    "reply",
    [{"Blobs": 5}, {"Blobs": True}, {"BlobsByName": 5}, {"BlobsByName": ["AA=="]}],
    ids=["number-list", "boolean-list", "number-map", "list-map"],
)
def test_a_list_or_map_of_another_type_is_a_parse_error(reply: dict[str, Any]) -> None:
    """Lists and maps whose items are converted (KMS's replies have no such map yet)."""
    resolver = ShapeResolver(
        {
            "Reply": {
                "type": "structure",
                "members": {"Blobs": {"shape": "Blobs"}, "BlobsByName": {"shape": "BlobsByName"}},
            },
            "Blobs": {"type": "list", "member": {"shape": "Blob"}},
            "BlobsByName": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Blob"}},
            "Blob": {"type": "blob"},
            "Name": {"type": "string"},
        }
    )
    parser = _protocol.compile_output(resolver.get_shape_by_name("Reply"))
    assert parser is not None
    assert parser({"Blobs": ["AA=="], "BlobsByName": {"a": "AA=="}}) == {
        "Blobs": [b"\x00"],
        "BlobsByName": {"a": b"\x00"},
    }
    with pytest.raises(_protocol.ResponseParseError):
        parser(reply)


# --- the JSON codec -------------------------------------------------------------------------


@PROPERTY
@given(value=JSON_VALUES)
def test_encode_json_is_compact_ascii_json(value: Any) -> None:
    encoded = _protocol.encode_json(value)
    assert encoded == json.dumps(value, separators=(",", ":")).encode()
    assert _protocol.decode_json(b" \n" + encoded + b"\r\n") == json.loads(encoded)


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": 1} x', b"[1] [2]", b"nope", b"\xff"])
def test_decode_json_refuses_anything_but_one_json_value(data: bytes) -> None:
    with pytest.raises(ValueError):
        _protocol.decode_json(data)


# --- error replies --------------------------------------------------------------------------

CODES = st.one_of(
    st.sampled_from(ERROR_CODES),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
)
TYPES = st.one_of(
    CODES,
    CODES.map(lambda code: f"com.amazonaws.kms#{code}"),
    CODES.map(lambda code: f"{code}:http://internal.amazon.com/coral/com.amazonaws.kms/"),
    st.none(),
)
ERROR_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "__type": TYPES,
        "message": st.one_of(st.none(), st.text(max_size=12)),
        "Message": st.text(max_size=12),
        "Extra": JSON_VALUES,
    },
).map(lambda body: json.dumps(body).encode())


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


BODIES = st.one_of(
    ERROR_BODIES,
    st.sampled_from([b"", b" \n", b"<html><body>Service Unavailable</body></html>"]),
    st.text(max_size=20).filter(_not_json).map(str.encode),  # botocore: the text is the message
    ERROR_BODIES.map(lambda body: "\ufeff".encode() + body),  # a BOM: not JSON to botocore
)
HEADERS = st.fixed_dictionaries(
    {"content-type": st.just(_protocol.CONTENT_TYPE)},
    optional={
        "x-amzn-requestid": st.text("0123456789abcdef-", min_size=1, max_size=36),
        "x-amzn-query-error": st.one_of(
            st.sampled_from(["AWS.KMS.Throttled;Sender", "Code", ";Sender", "A;B;C", ""]),
            st.text("AB;", max_size=6),
        ),
    },
)


@settings(PROPERTY, max_examples=300)
@given(status=st.integers(400, 599), headers=HEADERS, body=BODIES)
def test_error_replies_parse_as_botocore_parses_them(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    ours = _protocol.error_response(status, headers, body, MODEL.error_members)
    theirs = botocore_error(status, body, "DescribeKey", headers)
    del theirs["ResponseMetadata"]  # response_metadata's, below
    assert_same(ours, theirs)


@pytest.mark.parametrize("code", ERROR_CODES)
def test_each_modeled_error_gets_its_members(code: str) -> None:
    body = json.dumps({"__type": code, "message": "why"}).encode()
    ours = _protocol.error_response(400, {}, body, MODEL.error_members)
    assert ours == {"Error": {"Message": "why", "Code": code}, "message": "why"}
    theirs = botocore_error(400, body, "Encrypt")
    del theirs["ResponseMetadata"]
    assert_same(ours, theirs)


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b'{"__type": null, "message": "m"}', {}, {"Message": "m", "Code": ""}),
        (
            b'{"__type": "NotFoundException", "message": "m"}',
            {"x-amzn-query-error": "AWS.KMS.Missing;Sender"},
            {
                "Message": "m",
                "Code": "AWS.KMS.Missing",
                "QueryErrorCode": "NotFoundException",
                "Type": "Sender",
            },
        ),
        (
            b'{"__type": "NotFoundException", "message": "m"}',
            {"x-amzn-query-error": ";Sender"},
            {"Message": "m", "Code": "NotFoundException"},
        ),
        (
            b'{"__type": "NotFoundException", "message": "m"}',
            {"x-amzn-query-error": "Code"},
            {"Message": "m", "Code": "NotFoundException"},
        ),
        (
            '\ufeff{"__type": "NotFoundException"}'.encode(),
            {},
            {"Message": '\ufeff{"__type": "NotFoundException"}', "Code": "400"},
        ),
        (b" \n", {}, {"Message": " \n", "Code": "400"}),
    ],
    ids=[
        "null-type",
        "query-error",
        "query-error-no-code",
        "query-error-one-part",
        "bom",
        "blank-4xx",
    ],
)
def test_error_codes_in_the_corners_botocore_reads(
    body: bytes, headers: dict[str, str], error: dict[str, str]
) -> None:
    ours = _protocol.error_response(400, headers, body, MODEL.error_members)
    assert ours["Error"] == error
    assert ours["Error"] == botocore_error(400, body, "DescribeKey", headers)["Error"]


# --- ResponseMetadata -----------------------------------------------------------------------


@PROPERTY
@given(
    status=st.sampled_from([200, 201, 204]),
    headers=HEADERS,
    retries=st.integers(0, 10),
)
def test_response_metadata_is_botocores(status: int, headers: dict[str, str], retries: int) -> None:
    ours = _protocol.response_metadata(status, headers, retries)
    theirs = botocore_reply("ListKeys", b'{"Keys": []}', headers, status)["ResponseMetadata"]
    theirs["RetryAttempts"] = retries  # botocore's endpoint adds it after the parser
    assert_same(ours, theirs)
    assert list(ours) == (["RequestId"] if "x-amzn-requestid" in headers else []) + [
        "HTTPStatusCode",
        "HTTPHeaders",
        "RetryAttempts",
    ]


def test_walk_shape_compiles_each_shape_once_and_guards_recursion() -> None:
    """The one model walker the client and LocalKMS's validation share."""
    from botocore.model import ShapeResolver

    resolver = ShapeResolver(
        {
            "Node": {
                "type": "structure",
                "members": {
                    "Name": {"shape": "Text"},
                    "Children": {"shape": "Nodes"},
                    "Alias": {"shape": "Text"},
                },
            },
            "Nodes": {"type": "list", "member": {"shape": "Node"}},
            "Text": {"type": "string"},
            "Count": {"type": "long"},
        }
    )
    built: list[str] = []

    def structure(shape: Any, child: Any) -> Any:
        built.append(shape.name)
        members = {name: child(member) for name, member in shape.members.items()}
        return lambda value: {k: members[k](v) for k, v in value.items()}

    def listing(shape: Any, child: Any) -> Any:
        built.append(shape.name)
        item = child(shape.member)
        return lambda value: [item(v) for v in value]

    def text(shape: Any, child: Any) -> Any:
        built.append(shape.name)
        return str.upper

    builders = {"structure": structure, "list": listing, "string": text, "integer": text}
    parse = _protocol.walk_shape(resolver.get_shape_by_name("Node"), builders, {})
    tree = {"Name": "a", "Children": [{"Name": "b", "Children": []}], "Alias": "c"}
    assert parse(tree) == {"Name": "A", "Children": [{"Name": "B", "Children": []}], "Alias": "C"}
    assert sorted(built) == ["Node", "Nodes", "Text"]  # once each, the recursion included
    assert _protocol.walk_shape(resolver.get_shape_by_name("Count"), builders, {}) is str.upper
    with pytest.raises(NotImplementedError, match="'string'"):
        _protocol.walk_shape(resolver.get_shape_by_name("Text"), {}, {})
