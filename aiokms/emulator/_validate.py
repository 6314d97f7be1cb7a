"""Request validation the way KMS's front end does it, compiled from botocore's model.

How this works: each operation's input shape becomes a tree of small closures, built once by
the client's model walker (:func:`aiokms._protocol.walk_shape`) with the builders here. A
request body is parsed as JSON and walked against it: members the model does not know are
ignored (as AWS's JSON services ignore them), a value of the wrong JSON type or a string that
is not Unicode stops the walk with ``SerializationException``, blobs are base64-decoded, and
every constraint the model states (required members, lengths, ranges, enums, patterns) that a
value breaks is collected into one ``ValidationException`` worded as AWS words it::

    1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy
    constraint: Member must have value less than or equal to 1024

Member paths are the lower-camel-case names AWS uses (``tags.1.member.tagKey``); the values of
blobs and sensitive members are never echoed.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from collections.abc import Callable
from typing import Any

from aiokms._protocol import ShapeBuilder, decode_json, walk_shape
from aiokms.emulator._errors import KMSError

__all__ = ["RequestParser", "compile_request"]

# (value, path, constraint violations) -> converted value
_Check = Callable[[Any, str, list[str]], Any]
RequestParser = Callable[[bytes], dict[str, Any]]


def _serialization(message: str) -> KMSError:
    return KMSError("SerializationException", message)


def compile_request(shape: Any) -> RequestParser:
    """Compile an operation's input shape into ``body -> validated params``.

    Raises (from the returned function):
        KMSError: ``SerializationException`` or ``ValidationException``.
    """
    check = walk_shape(shape, _BUILDERS, {}) if shape is not None else None

    def parse(body: bytes) -> dict[str, Any]:
        try:
            value = decode_json(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise _serialization("The request body is not valid JSON.") from None
        if not isinstance(value, dict):
            raise _serialization("Start of structure or map found where not expected.")
        if check is None:
            return {}
        problems: list[str] = []
        params: dict[str, Any] = check(value, "", problems)
        if problems:
            count = len(problems)
            noun = "error" if count == 1 else "errors"
            raise KMSError(
                "ValidationException",
                f"{count} validation {noun} detected: " + "; ".join(problems),
            )
        return params

    return parse


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _structure(shape: Any, child: Callable[[Any], _Check]) -> _Check:
    members = {name: (_camel(name), child(m)) for name, m in shape.members.items()}
    required = [(name, _camel(name)) for name in shape.required_members]

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, dict):
            raise _serialization("Start of structure or map found where not expected.")
        out: dict[str, Any] = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None or item is None:
                continue
            out[name] = member[1](item, _join(path, member[0]), problems)
        for name, camel in required:
            if name not in out:
                problems.append(
                    f"Value null at '{_join(path, camel)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        return out

    return check


def _length_problems(
    size: int, meta: dict[str, Any], what: str, path: str, problems: list[str]
) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        problems.append(
            f"{what} at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {low}"
        )
    if high is not None and size > high:
        problems.append(
            f"{what} at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {high}"
        )


def _list(shape: Any, child: Callable[[Any], _Check]) -> _Check:
    item_check = child(shape.member)
    meta = shape.metadata

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, list):
            raise _serialization("Start of list found where not expected")
        _length_problems(len(value), meta, "Value", path, problems)
        return [item_check(item, f"{path}.{i}.member", problems) for i, item in enumerate(value, 1)]

    return check


def _map(shape: Any, child: Callable[[Any], _Check]) -> _Check:
    key_check = child(shape.key)
    value_check = child(shape.value)
    meta = shape.metadata

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, dict):
            raise _serialization("Start of structure or map found where not expected.")
        _length_problems(len(value), meta, "Value", path, problems)
        return {
            key_check(k, f"{path}.key", problems): value_check(v, f"{path}.{k}", problems)
            for k, v in value.items()
        }

    return check


def _string(meta: dict[str, Any]) -> _Check:
    sensitive = bool(meta.get("sensitive"))
    enum = meta.get("enum")
    enum_set = frozenset(enum) if enum else None
    enum_text = ", ".join(enum) if enum else ""
    pattern = re.compile(meta["pattern"]) if "pattern" in meta else None
    bounded = "min" in meta or "max" in meta

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, str):
            raise _serialization(f"{_json_kind(value)} can not be converted to a String")
        if not value.isascii() and not _is_unicode(value):
            raise _serialization(f"String value at '{path}' is not valid Unicode.")
        what = "Value" if sensitive else f"Value '{value}'"
        if bounded:
            _length_problems(len(value), meta, what, path, problems)
        if enum_set is not None and value not in enum_set:
            problems.append(
                f"{what} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{enum_text}]"
            )
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(
                f"{what} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern.pattern}"
            )
        return value

    return check


def _is_unicode(value: str) -> bool:
    """Whether ``value`` has no lone surrogate, which a JSON escape (``"\\ud800"``) can give.

    Half a surrogate pair is no character and has no UTF-8 form: sent unescaped, its bytes
    would make a body that is not UTF-8, a ``SerializationException``; escaped, it gets the
    same answer rather than reaching the keys, tags and encryption contexts kept as text.
    """
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


if sys.version_info >= (3, 11):

    def _b64decode(value: str) -> bytes:
        return binascii.a2b_base64(value, strict_mode=True)

else:  # pragma: no cover - Python 3.10

    def _b64decode(value: str) -> bytes:
        return base64.b64decode(value, validate=True)


def _blob(meta: dict[str, Any]) -> _Check:
    def check(value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, str):
            raise _serialization(f"{_json_kind(value)} can not be converted to a Blob")
        try:
            data = _b64decode(value)
        except (binascii.Error, ValueError):
            raise _serialization(f"Base64 encoded value at '{path}' is invalid.") from None
        _length_problems(len(data), meta, "Value", path, problems)
        return data

    return check


def _integer(meta: dict[str, Any]) -> _Check:
    low, high = meta.get("min"), meta.get("max")

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _serialization(f"{_json_kind(value)} can not be converted to an Integer")
        if low is not None and value < low:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {low}"
            )
        if high is not None and value > high:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {high}"
            )
        return value

    return check


def _boolean(value: Any, path: str, problems: list[str]) -> Any:
    if not isinstance(value, bool):
        raise _serialization(f"{_json_kind(value)} can not be converted to a Boolean")
    return value


def _timestamp(value: Any, path: str, problems: list[str]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _serialization(f"{_json_kind(value)} can not be converted to a Timestamp")
    return float(value)


_BUILDERS: dict[str, ShapeBuilder] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": lambda shape, _: _string(shape.metadata),
    "blob": lambda shape, _: _blob(shape.metadata),
    "integer": lambda shape, _: _integer(shape.metadata),
    "boolean": lambda shape, _: _boolean,
    "timestamp": lambda shape, _: _timestamp,
}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "VALUE_NULL"
