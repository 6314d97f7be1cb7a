"""``aiokms kms <command>``: every KMS operation under the ``aws kms`` names and options.

How this works: the parser is built from botocore's KMS service model, the way the AWS CLI
builds its own. Operation ``GenerateDataKey`` becomes ``generate-data-key``, its input member
``KeyId`` becomes ``--key-id`` (``botocore.xform_name(name, "-")``). Each value is read by its
shape: integers and numbers parsed, booleans as ``--flag``/``--no-flag``, blobs from
``fileb://path`` (raw bytes) or as base64 text (AWS CLI v2's default ``--cli-binary-format``),
strings from ``file://path`` or as given, structures and maps as JSON or the AWS CLI's shorthand
(``k=v,k2={a=b},k3=[x,y]``: ``_shorthand``), lists as several values or a JSON list.
``--cli-input-json`` supplies parameters by their API names, under the explicit options. List
operations page through every page, as the AWS CLI does, unless ``--no-paginate`` or a paging
parameter is given.

The reply is printed as ``aws kms`` (version 2) prints it: JSON with blobs in base64,
timestamps in ISO 8601 (``--cli-timestamp-format wire``: epoch seconds, as version 1), no
``ResponseMetadata``; ``--query`` (JMESPath) and ``--output text|table|yaml`` work too
(``_formats``), and ``--debug`` logs the request and the reply with secrets redacted. Errors go to
stderr as ``An error occurred (Code) when calling the Operation operation: message``, with the
AWS CLI's exit codes (254 for service errors, 252 for bad parameters).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import functools
import importlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import IO, Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from aiokms.cli import _shorthand
from aiokms.cli._common import (
    OK,
    USAGE,
    CommandError,
    Parser,
    add_connection_options,
    make_client,
    non_negative_float,
    positive_int,
    run,
)
from aiokms.cli._formats import redact, write_table, write_yaml

__all__ = ["main", "to_jsonable"]

_SCALARS = frozenset(
    {"string", "integer", "long", "float", "double", "boolean", "blob", "timestamp"}
)
_BINARY_FORMATS = ("base64", "raw-in-base64-out")
_OUTPUTS = ("json", "text", "table", "yaml")
_PAGING_OPTIONS = ("starting_token", "page_size", "max_items")
# --cli-read-timeout 0 and --cli-connect-timeout 0: no timeout, as in the AWS CLI. KMSClient
# takes only positive seconds, so 0 becomes a limit no call reaches.
_NO_TIMEOUT = 10 * 365 * 24 * 3600.0

_DESCRIPTION = """\
Call any AWS KMS operation, with the names and options of 'aws kms'.

Blobs are base64 text, or raw bytes from fileb://PATH; strings and JSON may come from
file://PATH. Maps and structures take JSON or shorthand (--encryption-context k=v,k2=v2).
Output is JSON with base64 blobs, as 'aws kms' prints it.

Blobs and timestamps follow the AWS CLI version 2: a blob given as text is base64 (v1 took it
as raw text: --cli-binary-format raw-in-base64-out does that), and timestamps print as ISO 8601
(v1 printed epoch seconds: --cli-timestamp-format wire does that)."""

_EPILOG = """\
examples:
  aiokms kms create-key --description app --tags TagKey=team,TagValue=a
  aiokms kms create-alias --alias-name alias/app --target-key-id KEY_ID
  aiokms kms encrypt --key-id alias/app --plaintext fileb://secret.bin \\
      --encryption-context tenant=a --query CiphertextBlob --output text
  aiokms kms list-keys --max-items 10
  aiokms kms describe-key --cli-input-json '{"KeyId": "alias/app"}'

Run 'aiokms kms COMMAND --help' for an operation's parameters."""


@functools.cache
def _service() -> ServiceModel:
    return botocore.session.get_session().get_service_model("kms")


@functools.cache
def _paginators() -> dict[str, dict[str, Any]]:
    """botocore's paginator configs for KMS (``input_token``, ``limit_key``, ...), by API name."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("kms", "paginators-1", _service().api_version)
    pagination: dict[str, dict[str, Any]] = model["pagination"]
    return pagination


def _cli_name(name: str) -> str:
    return str(xform_name(name, "-"))


def _plain(html: str | None, sentences: int = 1, limit: int | None = 240) -> str:
    """The first sentence(s) of a model doc string, as plain text safe for argparse help."""
    text = re.sub(r"<[^>]+>", "", html or "")
    text = " ".join(text.split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    text = " ".join(parts[:sentences])
    if limit is not None and len(text) > limit:
        text = text[: limit - 3].rsplit(" ", 1)[0] + "..."
    return text.replace("%", "%%")


def _type_label(shape: Shape) -> str:
    t = shape.type_name
    if t == "list":
        return f"list of {_type_label(shape.member)}"
    if t == "map":
        return "map"
    if t == "blob":
        return "blob"
    if t == "timestamp":
        return "timestamp"
    if t in ("integer", "long"):
        return "integer"
    return str(t)


def _metavar(shape: Shape) -> str:
    t: str = shape.type_name
    if t == "list":
        return _metavar(shape.member)
    return {
        "string": "STRING",
        "integer": "INT",
        "long": "INT",
        "float": "NUMBER",
        "double": "NUMBER",
        "blob": "BLOB",
        "timestamp": "TIME",
        "structure": "STRUCT",
        "map": "MAP",
    }.get(t, t.upper())


def _member_help(name: str, shape: Shape, required: bool) -> str:
    parts = [_plain(shape.documentation)]
    label = _type_label(shape)
    enum = getattr(shape, "enum", None)
    member_enum = getattr(getattr(shape, "member", None), "enum", None)
    if enum:
        parts.append(f"One of: {', '.join(enum)}.")
    elif member_enum:
        parts.append(f"Each one of: {', '.join(member_enum)}.")
    if shape.type_name == "boolean":
        parts.append(f"--no-{_cli_name(name)} for false.")
    elif shape.type_name == "blob":
        parts.append("Base64 text, or fileb://PATH for raw bytes.")
    elif shape.type_name in ("structure", "map"):
        parts.append("JSON or shorthand k=v,k2=v2.")
    elif shape.type_name == "list":
        if shape.member.type_name == "structure":
            parts.append("One or more, each JSON or shorthand k=v,k2=v2; or a JSON list.")
        else:
            parts.append("One or more values, or a JSON list.")
    elif shape.type_name == "timestamp":
        parts.append("ISO 8601 or seconds since the epoch.")
    text = " ".join(p for p in parts if p)
    return f"({'required, ' if required else ''}{label}) {text}"


# --- the parser -------------------------------------------------------------------------------


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The AWS CLI's global options; on operation parsers too, so they may come after it."""
    default: Any = argparse.SUPPRESS if suppress else None
    add_connection_options(parser, default=default)
    group = parser.add_argument_group("output and input")
    group.add_argument(
        "--output",
        choices=_OUTPUTS,
        default=default,
        help="the output format (default: AWS_DEFAULT_OUTPUT, the profile's output, json)",
    )
    group.add_argument(
        "--cli-timestamp-format",
        choices=("iso8601", "wire"),
        default=argparse.SUPPRESS if suppress else "iso8601",
        help="timestamps in the output: iso8601 (default, as the AWS CLI v2 prints them) or "
        "wire, epoch seconds (as the AWS CLI v1 prints them)",
    )
    group.add_argument(
        "--color",
        choices=("on", "off", "auto"),
        default=argparse.SUPPRESS if suppress else "auto",
        help="color in table output: on, off or auto (default: when stdout is a terminal)",
    )
    group.add_argument(
        "--no-cli-pager",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="accepted for scripts written for the AWS CLI v2: output is never paged",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="log the request and the reply to stderr, secrets (plaintexts, private keys, "
        "credentials) redacted",
    )
    group.add_argument(
        "--query", default=default, metavar="JMESPATH", help="a JMESPath query on the reply"
    )
    group.add_argument(
        "--cli-binary-format",
        choices=_BINARY_FORMATS,
        default=argparse.SUPPRESS if suppress else "base64",
        help="how blob parameters given as text are read: base64 (default) or raw text",
    )
    group.add_argument(
        "--cli-read-timeout",
        type=non_negative_float,
        default=default,
        metavar="SECONDS",
        help="seconds to wait for a reply (default 60; 0: as long as it takes)",
    )
    group.add_argument(
        "--cli-connect-timeout",
        type=non_negative_float,
        default=default,
        metavar="SECONDS",
        help="seconds to wait for a connection (default 60; 0: as long as it takes)",
    )


def _add_operation(subparsers: Any, op: OperationModel, method_name: str, paginated: bool) -> None:
    summary = _plain(op.documentation)
    parser: argparse.ArgumentParser = subparsers.add_parser(
        _cli_name(op.name),
        help=summary,
        description=f"{op.name}: {_plain(op.documentation, 3, None)}",
        formatter_class=argparse.HelpFormatter,
    )
    parser.set_defaults(_operation=op.name, _parser=parser)
    shape = op.input_shape
    params = parser.add_argument_group("parameters")
    if shape is not None:
        required = set(shape.required_members)
        for name, member in shape.members.items():
            flag = f"--{_cli_name(name)}"
            helptext = _member_help(name, member, name in required)
            if member.type_name == "boolean":
                params.add_argument(
                    flag, dest=f"p_{name}", action="store_const", const=True, help=helptext
                )
                params.add_argument(
                    f"--no-{_cli_name(name)}",
                    dest=f"p_{name}",
                    action="store_const",
                    const=False,
                    help=argparse.SUPPRESS,
                )
            elif member.type_name == "list":
                params.add_argument(
                    flag, dest=f"p_{name}", nargs="+", metavar=_metavar(member), help=helptext
                )
            else:
                params.add_argument(flag, dest=f"p_{name}", metavar=_metavar(member), help=helptext)
    io = parser.add_argument_group("input")
    io.add_argument(
        "--cli-input-json",
        metavar="JSON",
        default=argparse.SUPPRESS,
        help="parameters by their API names, as JSON or file://PATH; options given on the "
        "command line take precedence",
    )
    io.add_argument(
        "--generate-cli-skeleton",
        nargs="?",
        const="input",
        choices=("input", "output"),
        default=argparse.SUPPRESS,
        help="print a JSON skeleton of the parameters (input) or of the reply (output) and exit",
    )
    if paginated:
        paging = parser.add_argument_group("pagination (every page is fetched by default)")
        paging.add_argument(
            "--no-paginate",
            action="store_true",
            help="make one call and print its page only",
        )
        paging.add_argument(
            "--starting-token", metavar="TOKEN", help="a NextToken from an earlier output"
        )
        paging.add_argument(
            "--page-size", type=positive_int, metavar="N", help="items per call (Limit)"
        )
        paging.add_argument(
            "--max-items", type=positive_int, metavar="N", help="the most items to print"
        )
    _add_global_options(parser, suppress=True)


@functools.cache
def _build_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG)
    _add_global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="_command", parser_class=Parser
    )
    subparsers.required = True
    service = _service()
    for name in service.operation_names:
        _add_operation(
            subparsers, service.operation_model(name), xform_name(name), name in _paginators()
        )
    return parser


# --- values -----------------------------------------------------------------------------------


def _read_file(uri: str, where: str, *, binary: bool) -> Any:
    prefix = "fileb://" if binary else "file://"
    path = Path(uri[len(prefix) :]).expanduser()
    try:
        return path.read_bytes() if binary else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(
            f"Error parsing parameter '{where}': Unable to load paramfile {uri}: "
            f"{exc.strerror or exc}",
            USAGE,
        ) from None
    except UnicodeDecodeError:
        raise CommandError(
            f"Error parsing parameter '{where}': {uri} is not UTF-8 text (use fileb:// for "
            "binary files)",
            USAGE,
        ) from None


def _text(value: str, where: str) -> str:
    """A parameter's text, read from the file a ``file://`` value names."""
    if value.startswith("file://"):
        text: str = _read_file(value, where, binary=False)
        return text
    return value


def _bad(where: str, message: str) -> CommandError:
    return CommandError(f"Error parsing parameter '{where}': {message}", USAGE)


def _blob(value: Any, where: str, binary_format: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise _bad(where, f"expected a blob (base64 text), got {type(value).__name__}")
    if value.startswith("fileb://"):
        data: bytes = _read_file(value, where, binary=True)
        return data
    text = _text(value, where)
    if binary_format == "raw-in-base64-out":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _bad(
            where,
            "Invalid base64: blobs are base64 text; use fileb://PATH for raw bytes or "
            "--cli-binary-format raw-in-base64-out for raw text",
        ) from None


def _timestamp(value: Any, where: str) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _bad(where, f"{value!r} is not an ISO 8601 time or epoch seconds") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    raise _bad(where, f"expected a timestamp, got {type(value).__name__}")


def _scalar_from_text(shape: Shape, text: str, where: str, binary_format: str) -> Any:
    t = shape.type_name
    if t == "blob":
        return _blob(text, where, binary_format)
    if t == "timestamp":
        return _timestamp(_text(text, where), where)
    text = _text(text, where)
    if t in ("integer", "long"):
        try:
            return int(text.strip())
        except ValueError:
            raise _bad(where, f"invalid literal for int(): {text!r}") from None
    if t in ("float", "double"):
        try:
            return float(text.strip())
        except ValueError:
            raise _bad(where, f"{text!r} is not a number") from None
    if t == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise _bad(where, f"expected true or false, got {text!r}")
        return lowered == "true"
    return text


def _from_json(shape: Shape, value: Any, where: str, binary_format: str) -> Any:
    """A JSON value in the API's types: blobs decoded, timestamps parsed, recursively.

    Values of the wrong JSON type are passed on as they are: the client's validation then
    names the parameter and the type it wanted.
    """
    t = shape.type_name
    if t == "blob" and isinstance(value, str):
        return _blob(value, where, binary_format)
    if t == "timestamp" and isinstance(value, (str, int, float)):
        return _timestamp(value, where)
    if t == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            k: _from_json(members[k], v, f"{where}.{k}", binary_format) if k in members else v
            for k, v in value.items()
        }
    if t == "list" and isinstance(value, list):
        member = shape.member
        return [_from_json(member, v, f"{where}[]", binary_format) for v in value]
    if t == "map" and isinstance(value, dict):
        value_shape = shape.value
        return {
            k: _from_json(value_shape, v, f"{where}.{k}", binary_format) for k, v in value.items()
        }
    return value


def _from_shorthand(shape: Shape, value: Any, where: str, binary_format: str) -> Any:
    """A parsed shorthand value in the API's types, as the AWS CLI types it: a single value
    where a list belongs becomes a list of one, numbers and booleans are read from their text;
    then blobs and timestamps as in JSON."""
    t = shape.type_name
    if t == "list":
        member = shape.member
        items = value if isinstance(value, list) else [value]
        return [_from_shorthand(member, v, f"{where}[]", binary_format) for v in items]
    if t == "structure" and isinstance(value, dict):
        members = shape.members
        unknown = [k for k in value if k not in members]
        if unknown:
            raise _bad(where, f"unknown key {unknown[0]!r}; valid keys: {', '.join(members)}")
        return {
            k: _from_shorthand(members[k], v, f"{where}.{k}", binary_format)
            for k, v in value.items()
        }
    if t == "map" and isinstance(value, dict):
        value_shape = shape.value
        return {
            k: _from_shorthand(value_shape, v, f"{where}.{k}", binary_format)
            for k, v in value.items()
        }
    if t in ("integer", "long", "float", "double", "boolean") and isinstance(value, str):
        return _scalar_from_text(shape, value, where, binary_format)
    return _from_json(shape, value, where, binary_format)


def _composite_from_text(shape: Shape, text: str, where: str, binary_format: str) -> Any:
    text = _text(text, where)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _bad(where, f"Invalid JSON: {exc}") from None
        return _from_json(shape, value, where, binary_format)

    def load(uri: str) -> str | bytes:  # a value after "@="
        data: str | bytes = _read_file(uri, where, binary=uri.startswith("fileb://"))
        return data

    try:
        parsed = _shorthand.parse(text, load)
    except _shorthand.ShorthandError as exc:
        raise _bad(where, str(exc)) from None
    return _from_shorthand(shape, parsed, where, binary_format)


def _argument(shape: Shape, raw: Any, where: str, binary_format: str) -> Any:
    t = shape.type_name
    if t == "boolean":
        return raw
    if t == "list":
        items: list[str] = raw
        member: Shape = shape.member
        if len(items) == 1:
            text = _text(items[0], where)
            if text.lstrip().startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise _bad(where, f"Invalid JSON: {exc}") from None
                return _from_json(shape, value, where, binary_format)
        return [_argument(member, item, where, binary_format) for item in items]
    if t in ("structure", "map"):
        return _composite_from_text(shape, raw, where, binary_format)
    return _scalar_from_text(shape, raw, where, binary_format)


def _input_json(text: str, shape: StructureShape | None, binary_format: str) -> dict[str, Any]:
    where = "cli-input-json"
    text = _text(text, where)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(where, f"Invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _bad(where, "expected a JSON object of parameters")
    if shape is None:
        return value
    converted: dict[str, Any] = _from_json(shape, value, where, binary_format)
    return converted


# --- output -----------------------------------------------------------------------------------


def to_jsonable(value: Any, timestamps: str = "iso8601") -> Any:
    """A reply as the AWS CLI prints it: blobs in base64, timestamps in ISO 8601 (v2) or, with
    ``timestamps="wire"``, in epoch seconds (v1; to the microsecond)."""
    if isinstance(value, dict):
        return {k: to_jsonable(v, timestamps) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, timestamps) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.datetime):
        return value.timestamp() if timestamps == "wire" else value.isoformat()
    return value


def _write_json(value: Any, out: IO[str]) -> None:
    out.write(json.dumps(value, indent=4, ensure_ascii=False))
    out.write("\n")


def _scalar_text(value: Any) -> str:
    if value is None:
        return "None"
    return str(value)


def _write_text(value: Any, out: IO[str], identifier: str | None = None) -> None:
    """The AWS CLI's text output: scalars tab-separated per line, nested values below them."""
    if isinstance(value, dict):
        _write_text_dict(value, out, identifier, None)
    elif isinstance(value, list):
        if not value:
            return
        if any(isinstance(v, dict) for v in value):
            keys = sorted(
                {k for v in value if isinstance(v, dict) for k, x in v.items() if not _nested(x)}
            )
            for v in value:
                if isinstance(v, dict):
                    _write_text_dict(v, out, identifier, keys)
                else:
                    _write_text(v, out, identifier)
        else:
            scalars = [v for v in value if not _nested(v)]
            if scalars:
                if identifier is not None:
                    for v in scalars:
                        out.write(f"{identifier.upper()}\t{_scalar_text(v)}\n")
                else:
                    out.write("\t".join(_scalar_text(v) for v in scalars) + "\n")
            for v in value:
                if _nested(v):
                    _write_text(v, out, identifier)
    else:
        out.write(_scalar_text(value) + "\n")


def _nested(value: Any) -> bool:
    return isinstance(value, (dict, list))


def _write_text_dict(
    value: dict[str, Any], out: IO[str], identifier: str | None, keys: list[str] | None
) -> None:
    if keys is None:
        scalars = [_scalar_text(v) for k, v in sorted(value.items()) if not _nested(v)]
        nested = [(k, v) for k, v in sorted(value.items()) if _nested(v)]
    else:
        scalars = [_scalar_text(value.get(k, "")) for k in keys]
        nested = [(k, value[k]) for k in sorted(set(value) - set(keys))]
    if scalars:
        if identifier is not None:
            scalars.insert(0, identifier.upper())
        out.write("\t".join(scalars) + "\n")
    for key, v in nested:
        _write_text(v, out, key)


def _output(args: argparse.Namespace) -> str:
    """The output format, as the AWS CLI chooses it: ``--output``, ``AWS_DEFAULT_OUTPUT``, the
    profile's ``output``, then json.

    Raises:
        botocore.exceptions.ProfileNotFound: ``--profile`` (or ``AWS_PROFILE``) names none.
        CommandError: the variable or the profile names no format (exit code 255, as aws).
    """
    given: str | None = getattr(args, "output", None)
    if given:
        return given
    chosen = os.environ.get("AWS_DEFAULT_OUTPUT")
    if not chosen:
        session = botocore.session.Session(profile=getattr(args, "profile", None))
        chosen = session.get_scoped_config().get("output")
    if not chosen:
        return "json"
    if chosen not in _OUTPUTS:
        raise CommandError(f"Unknown output type: {chosen}")
    return str(chosen)


def _query(args: argparse.Namespace) -> Any:
    """``--query`` compiled (JMESPath), or None."""
    query = getattr(args, "query", None)
    if not query:
        return None
    jmespath = importlib.import_module("jmespath")  # botocore's dependency, untyped
    try:
        return jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        raise CommandError(f"Bad value for --query {query}: {exc}", USAGE) from None


def _print(result: Any, args: argparse.Namespace, out: IO[str], query: Any = None) -> None:
    """Print a reply (or, with ``--output text``, a page of one) as ``aws kms`` prints it."""
    if query is not None:
        jmespath = importlib.import_module("jmespath")
        try:
            result = query.search(result)
        except jmespath.exceptions.JMESPathError as exc:  # a function given the wrong type
            raise CommandError(str(exc)) from None
    if result == {}:
        return  # as aws kms: an empty reply prints nothing
    output = getattr(args, "output", "json")
    if output == "text":
        _write_text(result, out)  # None prints as None, as aws prints it
    elif output == "yaml":
        write_yaml(result, out)
    elif output == "table":
        if not result:
            return  # as aws: no table for null, false, 0, "" or []
        color = getattr(args, "color", "auto")
        write_table(
            result,
            out,
            args._parser.description.split(":", 1)[0] if hasattr(args, "_parser") else "",
            color=color == "on" or (color == "auto" and out.isatty()),
        )
    else:
        _write_json(result, out)


# --- running ----------------------------------------------------------------------------------


def _params(op: OperationModel, args: argparse.Namespace) -> dict[str, Any]:
    shape = op.input_shape
    binary_format = getattr(args, "cli_binary_format", "base64")
    params: dict[str, Any] = {}
    if getattr(args, "cli_input_json", None) is not None:
        params.update(_input_json(args.cli_input_json, shape, binary_format))
    if shape is None:
        return params
    for name, member in shape.members.items():
        raw = getattr(args, f"p_{name}", None)
        if raw is not None:
            params[name] = _argument(member, raw, f"--{_cli_name(name)}", binary_format)
    if getattr(args, "no_paginate", False):
        for option in _PAGING_OPTIONS:
            if getattr(args, option, None) is not None:
                raise CommandError(
                    f"--{option.replace('_', '-')} cannot be used with --no-paginate", USAGE
                )
    missing = [f"--{_cli_name(n)}" for n in shape.required_members if n not in params]
    if missing:
        raise CommandError(f"the following arguments are required: {', '.join(missing)}", USAGE)
    return params


def _skeleton(op: OperationModel, which: str) -> Any:
    from botocore.utils import ArgumentGenerator

    shape = op.input_shape if which == "input" else op.output_shape
    if shape is None:
        return {}
    return to_jsonable(ArgumentGenerator().generate_skeleton(shape))


async def _call(
    op: OperationModel,
    params: dict[str, Any],
    args: argparse.Namespace,
    write: Callable[[Any], None],
) -> None:
    """Make the call (every page of a listing) and ``write`` the reply.

    A listing is written whole, as one reply (with ``NextToken`` where ``--max-items`` cut
    it), except with ``--output text``: there, as the AWS CLI does, each page is written as it
    comes (its items only), then ``{"NextToken": {"NextToken": ...}}`` for a cut, so a
    ``--query`` runs on each of them.
    """
    method_name = xform_name(op.name)
    options: dict[str, Any] = {}
    for option, name in (
        ("cli_read_timeout", "read_timeout"),
        ("cli_connect_timeout", "connect_timeout"),
    ):
        seconds = getattr(args, option, None)
        if seconds is not None:
            options[name] = seconds or _NO_TIMEOUT
    debug = _Debug(op) if getattr(args, "debug", False) else None
    paginator = _paginators().get(op.name)
    async with make_client(args, **options) as kms:
        if debug is not None:
            debug.request(kms, params)
        try:
            pages = None
            if paginator is not None and not getattr(args, "no_paginate", False):
                explicit = (
                    paginator["input_token"] in params or paginator.get("limit_key") in params
                )
                if not explicit:
                    config = {
                        key: value
                        for key, value in (
                            ("StartingToken", args.starting_token),
                            ("PageSize", args.page_size),
                            ("MaxItems", args.max_items),
                        )
                        if value is not None
                    }
                    # typed by literal name; here the name is the command line's
                    get_paginator: Any = kms.get_paginator
                    pages = get_paginator(method_name).paginate(**params, PaginationConfig=config)
            if pages is None:
                result = await getattr(kms, method_name)(**params)
            elif getattr(args, "output", "json") == "text":
                key = paginator["result_key"] if paginator else ""
                async for page in _checked(pages):
                    if debug is not None:
                        debug.reply(page)
                    write({key: page.get(key, [])})
                if pages.resume_token:
                    write({"NextToken": {"NextToken": pages.resume_token}})
                return
            else:
                try:
                    result = await pages.build_full_result()
                except ValueError as exc:  # a StartingToken this paginator did not make
                    raise CommandError(str(exc), USAGE) from None
        except Exception as exc:
            if debug is not None:
                debug.error(exc)
            raise
        if debug is not None:
            debug.reply(result)
    write(result)


async def _checked(pages: AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The pages, a ``StartingToken`` the paginator did not make a ``CommandError``."""
    try:
        async for page in pages:
            yield page
    except ValueError as exc:
        raise CommandError(str(exc), USAGE) from None


class _Debug:
    """``--debug``: one line on stderr for the request and one for the reply or the error,
    with every value botocore's model marks sensitive redacted (credentials never appear)."""

    def __init__(self, op: OperationModel, err: IO[str] | None = None) -> None:
        self._op = op
        self._err = err or sys.stderr
        self._start = 0.0

    def _line(self, text: str) -> None:
        self._err.write(f"aiokms kms: debug: {text}\n")
        self._err.flush()

    def _json(self, shape: Shape | None, value: Any) -> str:
        return json.dumps(to_jsonable(redact(shape, value)), ensure_ascii=False, default=str)

    def request(self, kms: Any, params: dict[str, Any]) -> None:
        self._line(
            f"request {self._op.name} to {kms.meta.endpoint_url} (region "
            f"{kms.meta.region_name}): {self._json(self._op.input_shape, params)}"
        )
        self._start = time.perf_counter()

    def _took(self, meta: dict[str, Any]) -> str:
        ms = (time.perf_counter() - self._start) * 1000
        status = meta.get("HTTPStatusCode", "-")
        return f"HTTP {status}, {meta.get('RetryAttempts', 0)} retries, {ms:.1f} ms"

    def reply(self, result: dict[str, Any]) -> None:
        meta = result.get("ResponseMetadata", {})
        self._line(
            f"reply {self._op.name} ({self._took(meta)}): "
            f"{self._json(self._op.output_shape, result)}"
        )

    def error(self, exc: Exception) -> None:
        if isinstance(exc, ClientError):
            meta = exc.response.get("ResponseMetadata", {})
            error = exc.response.get("Error", {})
            what = f"{error.get('Code')}: {error.get('Message', '')}"
        else:
            meta, what = {}, f"{type(exc).__name__}: {exc}"
        self._line(f"error {self._op.name} ({self._took(meta)}): {what}")


def main(argv: Sequence[str], *, prog: str = "aiokms kms", command: str = "kms") -> int:
    """Run ``aiokms kms`` with ``argv`` (the arguments after ``kms``); returns the exit code."""
    parser = _build_parser(prog)
    argv = list(argv)
    if argv and argv[-1] == "help" and (len(argv) == 1 or not argv[-2].startswith("-")):
        argv[-1] = "--help"  # 'aiokms kms help', 'aiokms kms encrypt help', as aws has them
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    op = _service().operation_model(args._operation)
    out = sys.stdout
    if getattr(args, "generate_cli_skeleton", None):
        _write_json(_skeleton(op, args.generate_cli_skeleton), out)
        return OK
    try:
        params = _params(op, args)
        query = _query(args)
    except CommandError as exc:
        try:
            args._parser.error(str(exc))
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else USAGE

    async def call() -> int:
        timestamps = getattr(args, "cli_timestamp_format", "iso8601")
        args.output = _output(args)

        def write(result: Any) -> None:
            _print(to_jsonable(result, timestamps), args, out, query)

        await _call(op, params, args, write)
        out.flush()
        return OK

    return run(prog, call, service_error_prefix="\n")
