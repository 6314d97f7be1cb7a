"""The AWS JSON 1.1 protocol as KMS speaks it: validate + serialize requests, parse replies.

How this works: every shape of botocore's model is compiled once into a small closure by
:func:`walk_shape`, the one walker over the model (LocalKMS's request validation uses it too):
it dispatches on the shape's type to a builder, memoizes by shape name and lets recursive
structures refer to themselves while they are built. Input
converters check a value against its shape (type, required members, lengths and ranges) and
return its JSON form in the same pass (blobs base64, timestamps as epoch seconds, whole or to
the microsecond as botocore sends them); every problem found is appended to one list so the
caller gets botocore's complete ``ParamValidationError`` report. Output parsers keep only
modeled members and turn blobs and timestamps back into ``bytes`` and aware ``datetime``;
subtrees with nothing to convert are passed through untouched.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import contextlib
import datetime
import http.client
import json
import json.encoder
import json.scanner
import sys
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.utils import parse_timestamp, parse_to_aware_datetime
from dateutil.tz import tzlocal

__all__ = [
    "CONTENT_TYPE",
    "InputConverter",
    "OutputParser",
    "ResponseParseError",
    "compile_input",
    "compile_output",
    "error_response",
    "response_metadata",
    "ShapeBuilder",
    "walk_shape",
]

CONTENT_TYPE = "application/x-amz-json-1.1"

# (value, parameter path, error list) -> serialized value
_Converter = Callable[[Any, str, list[str]], Any]
# caller's keyword arguments -> request body
InputConverter = Callable[[Mapping[str, Any]], bytes]
# decoded JSON -> botocore-shaped value
OutputParser = Callable[[Any], Any]

_BYTES_TYPES = (bytes, bytearray, memoryview)
# botocore returns epoch timestamps in the local zone; keep the same (equal) values.
_TZ = tzlocal()
_REDACTED = "<redacted>"


class ResponseParseError(ValueError):
    """A reply body that is not the JSON the model describes."""


# --- the model walker -----------------------------------------------------------------------

# (shape, compile a child shape) -> what the shape compiles to
ShapeBuilder = Callable[[Any, Callable[[Any], Any]], Any]


def walk_shape(shape: Any, builders: Mapping[str, ShapeBuilder], memo: dict[str, Any]) -> Any:
    """Compile a botocore shape with the builder for its type (``long`` uses ``integer``'s).

    Each shape is compiled once per ``memo``; while a structure is being built, a shape that
    refers back to it gets a forwarder that calls the finished result.

    Raises:
        NotImplementedError: a shape type ``builders`` has no builder for.
    """
    name = shape.name
    if name in memo:
        return memo[name]
    kind = "integer" if shape.type_name == "long" else shape.type_name
    builder = builders.get(kind)
    if builder is None:
        raise NotImplementedError(f"shape type {shape.type_name!r} ({name})")
    if kind == "structure":  # a recursion guard: call what the structure compiles to
        cell: list[Any] = []
        memo[name] = lambda *args: cell[0](*args)
        built = builder(shape, lambda child: walk_shape(child, builders, memo))
        cell.append(built)
    else:
        built = builder(shape, lambda child: walk_shape(child, builders, memo))
    memo[name] = built
    return built


# --- input: validate and serialize ----------------------------------------------------------


def compile_input(shape: Any) -> InputConverter:
    """Compile an operation's input shape into ``params -> JSON body bytes``.

    The converter raises ``botocore.exceptions.ParamValidationError`` listing every problem.
    """
    convert = walk_shape(shape, _INPUT, {}) if shape is not None else _empty_structure

    def serialize(params: Mapping[str, Any]) -> bytes:
        errors: list[str] = []
        body = convert(params, "", errors)
        if errors:
            raise ParamValidationError(report="\n".join(errors))
        return encode_json(body)

    return serialize


# --- the JSON codec -------------------------------------------------------------------------
# json.dumps and json.loads build a C encoder or run two regex matches per call around the C
# code that does the work; on the hot path we keep one C encoder and one C scanner instead.

_ENCODER = json.JSONEncoder(separators=(",", ":"))
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
# the arguments JSONEncoder.iterencode passes, for separators (",", ":") and ASCII output
_C_ENCODER = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None,
        _ENCODER.default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
)
_SCANNER = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # stub


def encode_json(value: Any) -> bytes:
    """Compact ASCII JSON, as a request body."""
    if _C_ENCODER is None:  # pragma: no cover - Pythons without the C accelerator
        return _ENCODER.encode(value).encode()
    return "".join(_C_ENCODER(value, 0)).encode()


def decode_json(data: bytes) -> Any:
    """Parse a reply body; raises ``ValueError`` for anything but one JSON value, and for
    JSON nested deeper than the scanner, which recurses, can go."""
    text = data.decode().strip()
    try:
        value, end = _SCANNER(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if end != len(text):
        raise ValueError("trailing data after the JSON value")
    return value


def _empty_structure(value: Any, path: str, errors: list[str]) -> Any:
    for name in value:
        errors.append(f'Unknown parameter in input: "{name}", must be one of: ')
    return {}


def _sensitive(shape: Any) -> bool:
    return bool(shape.metadata.get("sensitive"))


def _holds_secret(shape: Any, seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``shape`` is sensitive or has a sensitive shape inside: then a value given for
    it is never shown (a list where a dict of credentials belongs still holds them)."""
    if shape.metadata.get("sensitive"):
        return True
    if shape.name in seen:
        return False
    inner = seen | {shape.name}
    kind = shape.type_name
    if kind == "structure":
        return any(_holds_secret(member, inner) for member in shape.members.values())
    if kind == "list":
        return _holds_secret(shape.member, inner)
    if kind == "map":
        return _holds_secret(shape.key, inner) or _holds_secret(shape.value, inner)
    return False


def _sized(meta: Mapping[str, Any]) -> tuple[int, int]:
    """A shape's length bounds, unbounded sides open (checked as ``low <= n <= high``)."""
    return meta.get("min", 0), meta.get("max", sys.maxsize)


def _show(value: Any, sensitive: bool) -> str:
    return _REDACTED if sensitive else repr(value) if isinstance(value, str) else str(value)


def _type_error(path: str, value: Any, valid: str, sensitive: bool) -> str:
    return (
        f"Invalid type for parameter {path}, value: {_show(value, sensitive)}, "
        f"type: {type(value)}, valid types: {valid}"
    )


def _length_error(path: str, length: int, low: int, high: int) -> str:
    if length < low:
        return f"Invalid length for parameter {path}, value: {length}, valid min length: {low}"
    return f"Invalid length for parameter {path}, value: {length}, valid max length: {high}"


def _string_converter(bounds: tuple[int, int], sensitive: bool) -> _Converter:
    low, high = bounds

    def convert(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, str):
            errors.append(_type_error(path, value, "str", sensitive))
        elif not low <= len(value) <= high:
            errors.append(_length_error(path, len(value), low, high))
        return value

    return convert


def _boolean_converter(value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, bool):
        errors.append(_type_error(path, value, "bool", False))
    return value


def _blob_converter(bounds: tuple[int, int], sensitive: bool) -> _Converter:
    low, high = bounds

    def convert(value: Any, path: str, errors: list[str]) -> Any:
        if type(value) is not bytes:
            if isinstance(value, str):
                value = value.encode()
            elif isinstance(value, memoryview):  # its len() counts items, maybe not bytes
                value = value.tobytes()
            elif not isinstance(value, _BYTES_TYPES):
                errors.append(
                    _type_error(path, value, "bytes, bytearray, memoryview, str", sensitive)
                )
                return None
        if not low <= len(value) <= high:
            errors.append(_length_error(path, len(value), low, high))
            return None
        return base64.b64encode(value).decode()

    return convert


def _range_error(path: str, value: int, which: str, bound: int) -> str:
    return f"Invalid range for parameter {path}, value: {value}, valid {which} value: {bound}"


def _integer_converter(meta: Mapping[str, Any], sensitive: bool) -> _Converter:
    low, high = meta.get("min"), meta.get("max")

    def convert(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(_type_error(path, value, "int", sensitive))
        elif low is not None and value < low:
            errors.append(_range_error(path, value, "min", low))
        elif high is not None and value > high:
            errors.append(_range_error(path, value, "max", high))
        return value

    return convert


def _timestamp_converter(sensitive: bool) -> _Converter:
    def convert(value: Any, path: str, errors: list[str]) -> Any:
        # what botocore takes: a datetime (naive is UTC), epoch seconds, or text that is either
        if not isinstance(value, (datetime.datetime, str, int, float)) or isinstance(value, bool):
            errors.append(_type_error(path, value, "datetime, int, float, str", sensitive))
            return None
        try:
            moment = parse_to_aware_datetime(value)  # botocore's own reading
        except (ValueError, TypeError, OverflowError, OSError, RuntimeError):
            errors.append(
                f"Invalid timestamp for parameter {path}, value: {_show(value, sensitive)}"
            )
            return None
        seconds = calendar.timegm(moment.timetuple())
        if moment.microsecond:  # one division, so the float is rounded once
            return (seconds * 1_000_000 + moment.microsecond) / 1_000_000
        return seconds

    return convert


def _structure_converter(shape: Any, child: Callable[[Any], _Converter]) -> _Converter:
    members: dict[str, _Converter] = {}
    required = frozenset(shape.required_members)
    choices = ", ".join(shape.members)
    secret = _holds_secret(shape)

    def members_converter(value: Any, path: str, errors: list[str]) -> Any:
        # ``type(value) is dict`` first: the ABC check costs more than the rest of a small call
        if type(value) is not dict and not isinstance(value, Mapping):
            errors.append(_type_error(path or "input", value, "dict", secret))
            return None
        out = {}
        for name, item in value.items():
            convert = members.get(name)
            if convert is None:
                errors.append(
                    f'Unknown parameter in {path or "input"}: "{name}", must be one of: {choices}'
                )
                continue
            out[name] = convert(item, f"{path}.{name}" if path else name, errors)
        if not required <= value.keys():
            for name in shape.required_members:
                if name not in value:
                    errors.append(f'Missing required parameter in {path or "input"}: "{name}"')
        return out

    for name, member in shape.members.items():
        members[name] = child(member)
    return members_converter


def _list_converter(shape: Any, child: Callable[[Any], _Converter]) -> _Converter:
    low, high = _sized(shape.metadata)
    item_converter = child(shape.member)
    secret = _holds_secret(shape)

    def convert(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, (list, tuple)):
            errors.append(_type_error(path, value, "list, tuple", secret))
            return None
        if not low <= len(value) <= high:
            errors.append(_length_error(path, len(value), low, high))
        return [item_converter(item, f"{path}[{i}]", errors) for i, item in enumerate(value)]

    return convert


def _map_converter(shape: Any, child: Callable[[Any], _Converter]) -> _Converter:
    low, high = _sized(shape.metadata)
    key_converter = child(shape.key)
    value_converter = child(shape.value)
    secret = _holds_secret(shape)
    secret_keys = _holds_secret(shape.key)

    def convert(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, Mapping):
            errors.append(_type_error(path, value, "dict", secret))
            return None
        if not low <= len(value) <= high:
            errors.append(_length_error(path, len(value), low, high))
        out = {}
        for key, item in value.items():
            key_path = f"{path} (key)" if secret_keys else f"{path} (key: {key})"
            out[key_converter(key, key_path, errors)] = value_converter(
                item, f"{path}.{key}", errors
            )
        return out

    return convert


_INPUT: dict[str, ShapeBuilder] = {
    "structure": _structure_converter,
    "list": _list_converter,
    "map": _map_converter,
    "string": lambda shape, _: _string_converter(_sized(shape.metadata), _sensitive(shape)),
    "blob": lambda shape, _: _blob_converter(_sized(shape.metadata), _sensitive(shape)),
    "integer": lambda shape, _: _integer_converter(shape.metadata, _sensitive(shape)),
    "boolean": lambda shape, _: _boolean_converter,
    "timestamp": lambda shape, _: _timestamp_converter(_sensitive(shape)),
}


# --- output: parse replies ------------------------------------------------------------------


def compile_output(shape: Any) -> OutputParser | None:
    """Compile an output (or error) shape into a parser of decoded JSON; ``None`` if absent."""
    if shape is None:
        return None
    parser: OutputParser | None = walk_shape(shape, _OUTPUT, {})
    return parser


def _structure_parser(shape: Any, child: Callable[[Any], OutputParser | None]) -> OutputParser:
    # Members the model does not have are dropped, as botocore drops them.
    plain: set[str] = set()  # members passed through as decoded
    parsers: dict[str, OutputParser] = {}  # members that need converting

    def parse(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ResponseParseError(f"expected an object for {shape.name}")
        out = {}
        for name, item in value.items():
            if item is None:
                continue
            if name in plain:
                out[name] = item
            elif name in parsers:
                out[name] = parsers[name](item)
        return out

    for name, member in shape.members.items():
        parser = child(member)
        if parser is None:
            plain.add(name)
        else:
            parsers[name] = parser
    return parse


def _list_parser(shape: Any, child: Callable[[Any], OutputParser | None]) -> OutputParser | None:
    item = child(shape.member)
    if item is None:  # nothing to convert: the decoded list as it is
        return None

    def parse(value: Any) -> Any:
        if not isinstance(value, list):
            raise ResponseParseError(f"expected a list for {shape.name}")
        return [None if x is None else item(x) for x in value]

    return parse


def _map_parser(shape: Any, child: Callable[[Any], OutputParser | None]) -> OutputParser | None:
    item = child(shape.value)
    if item is None:
        return None

    def parse(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ResponseParseError(f"expected an object for {shape.name}")
        return {k: item(v) for k, v in value.items()}

    return parse


if sys.version_info >= (3, 11):  # strict mode validates in C, without b64decode's regex

    def _b64decode(value: Any) -> bytes:
        try:
            return binascii.a2b_base64(value, strict_mode=True)
        except (binascii.Error, TypeError, ValueError):
            raise ResponseParseError("invalid base64 in a blob member") from None

else:  # pragma: no cover - Python 3.10

    def _b64decode(value: Any) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ResponseParseError("invalid base64 in a blob member") from None


def _parse_timestamp(value: Any) -> datetime.datetime:
    if isinstance(value, (int, float)):  # what KMS sends
        try:
            return datetime.datetime.fromtimestamp(value, _TZ)
        except (OverflowError, OSError, ValueError):  # outside localtime()'s range
            pass
    try:  # text (epoch seconds or a date in any format) and the numbers above: botocore's way
        parsed: datetime.datetime = parse_timestamp(value)
    except (TypeError, ValueError, OverflowError, OSError, RuntimeError):
        raise ResponseParseError("invalid timestamp member") from None
    return parsed


# --- replies as botocore shapes them --------------------------------------------------------


_OUTPUT: dict[str, ShapeBuilder] = {
    "structure": _structure_parser,
    "list": _list_parser,
    "map": _map_parser,
    "blob": lambda shape, _: _b64decode,
    "timestamp": lambda shape, _: _parse_timestamp,
    **{kind: lambda shape, _: None for kind in ("string", "integer", "boolean")},
}


def response_metadata(
    status: int, headers: dict[str, str], retry_attempts: int, last_attempt: bool = False
) -> dict[str, Any]:
    """``ResponseMetadata`` as botocore builds it, holding ``headers`` (lower-case names).

    ``last_attempt``: the reply came to the call's last allowed attempt, which botocore's
    standard retry handler marks ``MaxAttemptsReached`` whatever the reply (a ClientError
    then says "(reached max retries: N)").
    """
    meta: dict[str, Any] = {}
    request_id = headers.get("x-amzn-requestid")
    if request_id is not None:
        meta["RequestId"] = request_id
    meta["HTTPStatusCode"] = status
    meta["HTTPHeaders"] = headers
    if last_attempt:
        meta["MaxAttemptsReached"] = True
    meta["RetryAttempts"] = retry_attempts
    return meta


def is_generic_error(status: int, body: bytes) -> bool:
    """Whether an error reply is a bare 5xx (no body, or an HTML page from a proxy or load
    balancer): botocore then names the error after the status and gives no ``RequestId``."""
    if status < 500:
        return False
    stripped = body.strip()
    return not stripped or stripped.startswith(b"<html>")


def error_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    modeled: Mapping[str, OutputParser | None],
) -> dict[str, Any]:
    """Parse an error reply into botocore's ``{"Error": {"Code", "Message"}, ...}`` dict.

    An ``x-amzn-query-error: <code>;<type>`` header replaces the code and adds
    ``QueryErrorCode`` and ``Type`` to ``Error``, as botocore does.

    ``headers`` keys must be lower case. Modeled error members (KMS's ``message``) are added
    at the top level, as botocore does; ``ResponseMetadata`` is left to the caller.
    """
    if is_generic_error(status, body):
        return {"Error": {"Code": str(status), "Message": http.client.responses.get(status, "")}}
    parsed: Any = {}
    if body:
        try:
            parsed = json.loads(body.decode())
        except (ValueError, RecursionError):
            # not JSON as botocore's json.loads reads it (not UTF-8, say, or nested deeper than
            # it goes): the text is the message
            parsed = {"message": body.decode("utf-8", "replace")}
    if not isinstance(parsed, dict):
        parsed = {}
    error: dict[str, Any] = {
        "Message": parsed.get("message", parsed.get("Message", "")),
        "Code": "",
    }
    result: dict[str, Any] = {"Error": error}
    code = parsed.get("__type", str(status))
    if code is None:  # a null __type: no code, as botocore reads it
        return result
    code = str(code).split(":", 1)[0].rsplit("#", 1)[-1]
    query_error = headers.get("x-amzn-query-error")
    if query_error is not None:  # "<query code>;<Sender|Receiver>" from query-compatible services
        parts = query_error.split(";")
        if len(parts) == 2 and parts[0]:
            error["QueryErrorCode"] = code
            error["Type"] = parts[1]
            code = parts[0]
    error["Code"] = code
    if code in modeled:
        parser = modeled[code]
        if parser is not None:
            with contextlib.suppress(ResponseParseError):  # the code and message still stand
                result.update(parser(parsed))
    return result
