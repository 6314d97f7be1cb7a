"""Generate aiokms's typed surface from botocore's KMS model.

How this works: botocore ships the KMS API as data. This module reads it (the operations, their
shapes, documentation and paginators) and writes two Python modules:

- ``aiokms/types.py``: the model's enums as ``Literal`` aliases, its structures as
  ``TypedDict``s, one response ``TypedDict`` per operation (its members and
  ``ResponseMetadata``), and a ``Protocol`` per paginator;
- ``aiokms/_operations.py``: ``Operations``, the base class of ``KMSClient``, declaring every
  operation as a method with keyword-only parameters as the model names and types them and the
  model's documentation as plain text; ``get_paginator`` by name; the table of operations and
  error codes the client builds its methods and ``kms.exceptions`` from.

Run ``python -m aiokms._typegen`` when the botocore the lock pins changes the KMS model;
``python -m aiokms._typegen --check`` exits 1 when the files differ from what the installed
botocore gives (``tests/test_typegen.py`` checks the same). The output is formatted as
``ruff format`` leaves it.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

__all__ = ["generate", "main"]

_PACKAGE = Path(__file__).resolve().parent
_WIDTH = 100
_BLOB_IN = "bytes | bytearray | memoryview"
# characters the documentation uses that linters take for look-alikes of ASCII ones
_ASCII = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "--",
        "\u00a0": " ",
        "\u2026": "...",
        "\u00d7": "x",
    }
)


def generate() -> dict[str, str]:
    """The generated modules' text by file name (``types.py``, ``_operations.py``)."""
    import botocore.loaders

    loader = botocore.loaders.create_loader()
    service = loader.load_service_model("kms", "service-2")
    api_version = service["metadata"]["apiVersion"]
    paginators = loader.load_service_model("kms", "paginators-1", api_version)["pagination"]
    model = _Model(service, paginators)
    return {"types.py": model.types_module(), "_operations.py": model.operations_module()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate aiokms/types.py and _operations.py.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate().items():
        path = _PACKAGE / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python -m aiokms._typegen", file=sys.stderr)
        return 1
    return 0


# --- the model ------------------------------------------------------------------------------


def method_name(operation: str) -> str:
    """botocore's snake_case name of an operation (``GenerateDataKey`` -> ``generate_data_key``),
    for the KMS names, which are plain CamelCase words."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation).lower()


class _Model:
    def __init__(self, service: Mapping[str, Any], paginators: Mapping[str, Any]) -> None:
        self.shapes: Mapping[str, Any] = service["shapes"]
        self.operations: Mapping[str, Any] = service["operations"]
        self.metadata: Mapping[str, Any] = service["metadata"]
        self.paginators = paginators
        self.inputs: set[str] = set()
        self.outputs: set[str] = set()
        for op in self.operations.values():
            if "input" in op:
                self._reach(op["input"]["shape"], self.inputs)
            if "output" in op:
                self._reach(op["output"]["shape"], self.outputs)

    def _reach(self, name: str, seen: set[str]) -> None:
        if name in seen:
            return
        seen.add(name)
        shape = self.shapes[name]
        for member in _children(shape):
            self._reach(member, seen)

    # --- types.py ---------------------------------------------------------------------------

    def types_module(self) -> str:
        out = [
            '"""The KMS API\'s types, generated from botocore\'s model by ``aiokms._typegen``.',
            "",
            "Enums are ``Literal`` aliases, structures ``TypedDict``s; ``<Operation>Response`` is",
            "what ``KMSClient.<operation>`` returns (``ResponseMetadata`` included) and",
            "``<Operation>Request`` its keyword arguments. Do not edit: run",
            "``python -m aiokms._typegen``.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from datetime import datetime",
            "from typing import TYPE_CHECKING, Literal, Protocol, TypedDict",
            "",
            "if TYPE_CHECKING:",
            "    from aiokms._client import PageIterator",
            "",
        ]
        enums = sorted(n for n, s in self.shapes.items() if "enum" in s)
        structures = sorted(
            n
            for n, s in self.shapes.items()
            if s["type"] == "structure"
            and not s.get("exception")
            and (n in self.inputs or n in self.outputs)
        )
        responses = {
            op["output"]["shape"]: name for name, op in self.operations.items() if "output" in op
        }
        requests = {op["input"]["shape"] for op in self.operations.values() if "input" in op}
        names = [*enums, *structures, "EmptyResponse", "PaginationConfig", "ResponseMetadata"]
        names += [self._paginator_class(op) for op in self.paginators]
        out += ["__all__ = [", *(f'    "{name}",' for name in sorted(names)), "]", ""]
        for name in enums:
            values = self.shapes[name]["enum"]
            if len(values) == 1:
                out += ["", f'{name} = Literal["{values[0]}"]']
            else:
                out += ["", f"{name} = Literal[", *(f'    "{v}",' for v in values), "]"]
        out += [
            "",
            "",
            "class _ResponseMetadataRequired(TypedDict):",
            "    HTTPStatusCode: int",
            "    HTTPHeaders: dict[str, str]",
            "    RetryAttempts: int",
            "",
            "",
            "class ResponseMetadata(_ResponseMetadataRequired, total=False):",
            '    """What every response carries: the HTTP status and headers (names in lower',
            "    case), the retries the call took, and KMS's request id (not in a proxy's reply).",
            '    """',
            "",
            "    RequestId: str",
            "",
            "",
            "class _Response(TypedDict):",
            "    ResponseMetadata: ResponseMetadata",
            "",
            "",
            "class EmptyResponse(_Response):",
            '    """The response of an operation without output: only ``ResponseMetadata``."""',
            "",
            "",
            "class PaginationConfig(TypedDict, total=False):",
            '    """``paginate(PaginationConfig=...)``, as botocore takes it."""',
            "",
            "    MaxItems: int",
            "    PageSize: int",
            "    StartingToken: str",
        ]
        for name in structures:
            out += self._typed_dict(name, response=name in responses, request=name in requests)
        for op, config in self.paginators.items():
            out += self._paginator_protocol(op, config)
        return "\n".join(out) + "\n"

    def _typed_dict(self, name: str, *, response: bool, request: bool) -> list[str]:
        shape = self.shapes[name]
        # a response's members are typed as present, as types-aiobotocore types them: KMS's
        # model marks none required, though a successful call returns them (a checker that
        # flags access to a key that is not required would refuse r["Plaintext"])
        required = set(shape["members"] if response else shape.get("required", ()))
        direction = "in" if request or name not in self.outputs else "out"
        fields = {
            member: self._annotation(spec["shape"], direction, top=False)
            for member, spec in shape["members"].items()
        }
        doc = _first_paragraph(shape.get("documentation"))
        if response:
            doc = f"What ``{method_name(_operation_of(name))}`` returns." + (
                f" {doc}" if doc else ""
            )
        elif request:
            doc = f"The keyword arguments of ``{method_name(_operation_of(name))}``."
        out: list[str] = []
        base = "_Response" if response else "TypedDict"
        if required and len(required) < len(fields):
            base = f"_{name}Required"
            out += ["", "", f"class {base}(TypedDict):"]
            out += [f"    {m}: {t}" for m, t in fields.items() if m in required]
            fields = {m: t for m, t in fields.items() if m not in required}
            total = ", total=False"
        else:
            total = "" if required or not fields else ", total=False"
        header = f"class {name}({base}{total}):"
        if len(header) > _WIDTH:
            header = f"class {name}(\n    {base}{total}\n):"
        out += ["", "", header]
        out += _docstring(doc or f"The {name} structure.", 4)
        if fields:
            out += [""] + [f"    {m}: {t}" for m, t in fields.items()]
        return out

    def _annotation(self, name: str, direction: str, *, top: bool) -> str:
        shape = self.shapes[name]
        kind = shape["type"]
        if "enum" in shape:
            return name
        if kind == "string":
            return "str"
        if kind in ("integer", "long"):
            return "int"
        if kind == "boolean":
            return "bool"
        if kind == "timestamp":
            return "datetime"
        if kind == "blob":
            return _BLOB_IN if direction == "in" else "bytes"
        if kind == "structure":
            return name
        if kind == "list":
            item = self._annotation(shape["member"]["shape"], direction, top=False)
            return f"list[{item}] | tuple[{item}, ...]" if top else f"list[{item}]"
        if kind == "map":
            key = self._annotation(shape["key"]["shape"], direction, top=False)
            value = self._annotation(shape["value"]["shape"], direction, top=False)
            return f"Mapping[{key}, {value}]" if top else f"dict[{key}, {value}]"
        raise NotImplementedError(f"shape type {kind!r} ({name})")  # pragma: no cover

    def _paginator_class(self, operation: str) -> str:
        return f"{operation}Paginator"

    def _paginator_protocol(self, operation: str, config: Mapping[str, Any]) -> list[str]:
        op = self.operations[operation]
        skip = {config["input_token"], config.get("limit_key")}
        params = [p for p in self._parameters(op) if p[0] not in skip]
        params.append(("PaginationConfig", "PaginationConfig", False))
        response = op["output"]["shape"]
        out = ["", "", f"class {self._paginator_class(operation)}(Protocol):"]
        out += _docstring(
            f'``kms.get_paginator("{method_name(operation)}")``: pages of '
            f"``{method_name(operation)}``, its ``{config['result_key']}`` cut to "
            "``PaginationConfig``'s ``MaxItems``.",
            4,
        )
        out += [""]
        out += _signature("def paginate", params, f"PageIterator[{response}]", 4)
        out[-1] += " ..."
        return out

    def _parameters(self, op: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
        """``(name, annotation, required)`` of an operation's input members, required first."""
        if "input" not in op:
            return []
        shape = self.shapes[op["input"]["shape"]]
        required = shape.get("required", ())
        members = shape["members"]
        params = [
            (m, self._annotation(s["shape"], "in", top=True), m in required)
            for m, s in members.items()
        ]
        return sorted(params, key=lambda p: not p[2])

    # --- _operations.py ---------------------------------------------------------------------

    def operations_module(self) -> str:
        used: set[str] = {"EmptyResponse"}
        methods: list[str] = []
        for name, op in self.operations.items():
            params = self._parameters(op)
            for _, annotation, _ in params:
                used.update(re.findall(r"\b[A-Z]\w*", annotation))
            response = op["output"]["shape"] if "output" in op else "EmptyResponse"
            used.add(response)
            methods += [""]
            methods += _signature(f"async def {method_name(name)}", params, response, 4)
            methods += _docstring(self._method_doc(name, op), 8)
            methods += ["        raise NotImplementedError  # KMSClient defines it"]
        used -= {"Mapping"}
        paginator_classes = [self._paginator_class(op) for op in self.paginators]
        used.update(paginator_classes)
        codes = sorted(n for n, s in self.shapes.items() if s.get("exception"))
        out = [
            '"""KMSClient\'s operations as type checkers see them, made by ``aiokms._typegen``.',
            "",
            "``Operations`` declares every operation of botocore's KMS model with its keyword-only",
            "parameters, response type and documentation; ``KMSClient`` derives from it and puts",
            "the method that runs each operation in its place (with the declaration's docstring,",
            "and the declaration as ``__wrapped__`` for ``inspect.signature``). Do not edit: run",
            "``python -m aiokms._typegen``.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from collections.abc import Mapping",
            "from datetime import datetime",
            "from typing import TYPE_CHECKING, Any, Literal, overload",
            "",
            "from botocore.exceptions import ClientError",
            "",
            "from aiokms.errors import ClientExceptions",
            "",
            "if TYPE_CHECKING:",
            "    from aiokms.types import (",
            *(f"        {n}," for n in sorted(used, key=str.lower)),
            "    )",
            "",
            '__all__ = ["ERROR_CODES", "OPERATIONS", "PAGINATED", "KMSExceptions", "Operations"]',
            "",
            f'API_VERSION = "{self.metadata["apiVersion"]}"',
            f'SIGNING_NAME = "{self.metadata.get("signingName", self.metadata["endpointPrefix"])}"',
            "# method name -> API name",
            "OPERATIONS = {",
            *(f'    "{method_name(n)}": "{n}",' for n in self.operations),
            "}",
            "# the method names of the operations with a paginator",
            "PAGINATED = frozenset(",
            "    {",
            *(f'        "{method_name(n)}",' for n in self.paginators),
            "    }",
            ")",
            "# every error code of the model (kms.exceptions adds ThrottlingException)",
            "ERROR_CODES = (",
            *(f'    "{c}",' for c in codes),
            ")",
            "",
            "",
            "class KMSExceptions(ClientExceptions):",
            '    """``kms.exceptions``: a ``ClientError`` subclass per KMS error code."""',
            "",
            *(f"    {c}: type[ClientError]" for c in sorted({*codes, "ThrottlingException"})),
            "",
            "",
            "class Operations:",
            '    """Every KMS operation, declared; ``KMSClient`` runs them."""',
            "",
            "    __slots__ = ()",
            *methods,
        ]
        for op in self.paginators:
            arguments = f'self, operation_name: Literal["{method_name(op)}"]'
            returns = f") -> {self._paginator_class(op)}: ..."
            line = f"    def get_paginator({arguments}{returns}"
            if len(line) > _WIDTH:
                line = f"    def get_paginator(\n        {arguments}\n    {returns}"
            out += ["", "    @overload", line]
        out += [
            "",
            "    def get_paginator(self, operation_name: str) -> Any:",
            '        """The paginator of a list operation by method name, such as ``"list_keys"``.',
            "",
            "        ``paginate(**kwargs)`` takes the operation's arguments (but its page token",
            "        and size) and ``PaginationConfig``, and iterates its pages.",
            "",
            "        Raises:",
            "            botocore.exceptions.OperationNotPageableError: the operation has no",
            "                paginator.",
            '        """',
            "        return self._paginator(operation_name)",
            "",
            "    def _paginator(self, operation_name: str) -> Any:",
            "        raise NotImplementedError  # KMSClient defines it",
        ]
        return "\n".join(out) + "\n"

    def _method_doc(self, name: str, op: Mapping[str, Any]) -> str:
        text = _plain_text(op.get("documentation"))
        args = []
        if "input" in op:
            for member, spec in self.shapes[op["input"]["shape"]]["members"].items():
                doc = _first_paragraph(spec.get("documentation"))
                args.append((member, doc))
        parts = [f"KMS {name}. {text}" if text else f"KMS {name}."]
        if args:
            lines = ["Args:"]
            for member, doc in args:
                body = textwrap.wrap(
                    f"{member}: {doc}" if doc else member,
                    width=_WIDTH - 8 - 4,
                    subsequent_indent="    ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                lines += ["    " + line for line in body]
            parts.append("\n".join(lines))
        return "\n\n".join(parts)


def _children(shape: Mapping[str, Any]) -> Iterable[str]:
    kind = shape["type"]
    if kind == "structure":
        return [m["shape"] for m in shape["members"].values()]
    if kind == "list":
        return [shape["member"]["shape"]]
    if kind == "map":
        return [shape["key"]["shape"], shape["value"]["shape"]]
    return []


def _operation_of(shape_name: str) -> str:
    return re.sub(r"(Request|Response)$", "", shape_name)


def _signature(
    head: str, params: list[tuple[str, str, bool]], returns: str, indent: int
) -> list[str]:
    pad = " " * indent
    if not params:
        return [f"{pad}{head}(self) -> {returns}:"]
    lines = [f"{pad}{head}(", f"{pad}    self,", f"{pad}    *,"]
    for name, annotation, required in params:
        lines.append(f"{pad}    {name}: {annotation}{'' if required else ' = ...'},")
    lines.append(f"{pad}) -> {returns}:")
    return lines


def _docstring(text: str, indent: int) -> list[str]:
    """``text`` as a docstring at ``indent``: its first paragraph refilled to leave room for
    the opening quotes, the rest as given (already wrapped to fit)."""
    pad = " " * indent
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    first, _, rest = text.partition("\n\n")
    lines = textwrap.wrap(
        " ".join(first.split()),
        width=_WIDTH - indent,
        initial_indent='"""',
        break_long_words=False,
        break_on_hyphens=False,
    )
    lines[0] = lines[0][3:]
    if not rest and len(lines) == 1 and indent + len(lines[0]) + 6 <= _WIDTH:
        return [f'{pad}"""{lines[0]}"""']
    if rest:
        lines += ["", *rest.split("\n")]
    out = [f'{pad}"""{lines[0]}']
    out += [f"{pad}{line}" if line else "" for line in lines[1:]]
    out += [f'{pad}"""']
    return out


# --- the documentation as plain text --------------------------------------------------------


class _Text(HTMLParser):
    """Paragraphs and (nested) lists of the model's HTML, as wrapped plain text."""

    _BLOCKS = frozenset({"p", "li", "ul", "ol", "important", "note", "dd", "dt", "dl", "br"})

    def __init__(self, width: int) -> None:
        super().__init__(convert_charrefs=True)
        self.width = width
        self.blocks: list[tuple[str, bool]] = []  # (text, whether a list item)
        self.data = ""
        self.depth = 0
        self.bullet = False
        self.prefix = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self._flush()
        if tag in ("ul", "ol"):
            self.depth += 1
        elif tag == "li":
            self.bullet = True
        elif tag in ("important", "note"):
            self.prefix = "Important: " if tag == "important" else "Note: "

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self._flush()
        if tag in ("ul", "ol"):
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        self.data += data

    def _flush(self) -> None:
        words = unescape(self.data).translate(_ASCII).split()
        self.data = ""
        if not words:
            return
        text = self.prefix + " ".join(words)
        self.prefix = ""
        indent = "  " * max(0, self.depth - 1)
        first = f"{indent}- " if self.bullet and self.depth else indent
        item = self.bullet and self.depth > 0
        self.blocks.append(
            (
                textwrap.fill(
                    text,
                    width=self.width,
                    initial_indent=first,
                    subsequent_indent=" " * len(first),
                    break_long_words=False,
                    break_on_hyphens=False,
                ),
                item,
            )
        )
        self.bullet = False

    def text(self) -> str:
        self._flush()
        out = ""
        last_item = False
        for text, item in self.blocks:
            if out:  # list items follow each other line by line
                out += "\n" if item and last_item else "\n\n"
            out += text
            last_item = item
        return out


def _plain_text(html: Any, width: int = _WIDTH - 8) -> str:
    parser = _Text(width)
    parser.feed(str(html or ""))
    parser.close()
    return parser.text()


def _first_paragraph(html: Any) -> str:
    first = str(html or "").split("</p>", 1)[0]
    return " ".join(unescape(re.sub(r"<[^>]+>", "", first)).translate(_ASCII).split())


if __name__ == "__main__":
    sys.exit(main())
