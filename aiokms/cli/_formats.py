"""``aiokms kms``'s ``--output yaml`` and ``--output table``, and the redaction ``--debug`` uses.

Both formats take the reply as ``aws kms`` prints it in JSON (see ``_kms.to_jsonable``):
dicts, lists, strings, numbers, booleans and None.

* YAML is block style, keys in the reply's order, every string that YAML would read as
  something else (a number, a boolean, null, a date, text with ``: `` or a leading ``-``...)
  double-quoted as JSON quotes it, which YAML reads back unchanged.
* The table follows the AWS CLI's layout (not byte for byte): the operation's name as a
  title, each dict a section of ``name | value`` rows sorted by name, each list of dicts a
  section with a header row and one row per item, each nested value a section inside its
  parent's bars. Widths fit the widest cell.
"""

from __future__ import annotations

import json
import re
from typing import IO, Any

from botocore.model import Shape

__all__ = ["redact", "write_table", "write_yaml"]

# --- redaction ----------------------------------------------------------------------------------


def redact(shape: Shape | None, value: Any) -> Any:
    """``value`` (parameters or a reply) with every member whose shape botocore's model marks
    ``sensitive`` (plaintexts, private keys, shared secrets) replaced by ``<redacted>``."""
    if shape is None:
        return value
    if shape.metadata.get("sensitive"):
        size = len(value) if isinstance(value, (bytes, bytearray, str)) else None
        return "<redacted>" if size is None else f"<redacted: {size} bytes>"
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: redact(members.get(k), v) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [redact(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: redact(shape.value, v) for k, v in value.items()}
    return value


# --- YAML ---------------------------------------------------------------------------------------

# plain scalars YAML 1.1 or 1.2 would read as something other than a string
_NOT_PLAIN = re.compile(
    r"""(?ix)^(
        $ | ~ | null | true | false | yes | no | on | off | y | n
      | [-+]?(\d[\d_]*)?(\.\d*)?([e][-+]?\d+)? | [-+]?\.(inf|nan) | 0x[0-9a-f]+ | 0o[0-7]+
      | \d{4}-\d\d?-\d\d?([t ].*)?
    )$"""
)
_SPECIAL_START = (*"-?:,[]{}#&*!|>'\"%@`", " ")


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if (
        _NOT_PLAIN.match(text)
        or text.startswith(_SPECIAL_START)
        or text.endswith(" ")
        or ": " in text
        or " #" in text
        or any(c in text for c in "\n\r\t")
        or not text.isprintable()
    ):
        return json.dumps(text, ensure_ascii=False)
    return text


def write_yaml(value: Any, out: IO[str]) -> None:
    """Print ``value`` as a YAML document."""
    lines: list[str] = []
    _yaml(value, 0, lines)
    out.write("\n".join(lines) + "\n")


def _yaml(value: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            lines.append(pad + "{}")
        for key, item in value.items():
            name = _yaml_scalar(str(key))
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{name}:")
                _yaml(item, indent + (0 if isinstance(item, list) else 2), lines)
            else:
                lines.append(f"{pad}{name}: {_yaml_inline(item)}")
    elif isinstance(value, list):
        if not value:
            lines.append(pad + "[]")
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner: list[str] = []
                _yaml(item, indent + 2, inner)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_yaml_inline(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))


def _yaml_inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _yaml_scalar(value)


# --- table --------------------------------------------------------------------------------------


class _Section:
    """One box of the table: a title, an optional header, rows of cells, boxes inside it."""

    __slots__ = ("children", "header", "rows", "title")

    def __init__(self, title: str) -> None:
        self.title = title
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.children: list[_Section] = []


def _cell(value: Any) -> str:
    if value is None:
        return "None"
    return str(value)


def _section(title: str, value: Any) -> _Section:
    section = _Section(title)
    if isinstance(value, dict):
        for key, item in sorted(value.items()):  # as the AWS CLI: by name
            if isinstance(item, (dict, list)):
                if item:
                    section.children.append(_section(key, item))
            else:
                section.rows.append([key, _cell(item)])
    elif isinstance(value, list):
        dicts = [item for item in value if isinstance(item, dict)]
        if dicts:
            keys = sorted(
                {k for item in dicts for k, v in item.items() if not isinstance(v, (dict, list))}
            )
            section.header = keys
            for item in dicts:
                if keys:
                    section.rows.append([_cell(item.get(k, "")) for k in keys])
                for key, nested in item.items():
                    if isinstance(nested, (dict, list)) and nested:
                        section.children.append(_section(key, nested))
        for item in value:
            if isinstance(item, list):
                section.children.append(_section(title, item))
            elif not isinstance(item, dict):
                section.rows.append([_cell(item)])
    else:
        section.rows.append([_cell(value)])
    return section


def _widths(section: _Section) -> list[int]:
    """Each column's width: the widest cell plus its margins (two spaces before, one after)."""
    columns = max((len(row) for row in section.rows), default=len(section.header))
    columns = max(columns, len(section.header))
    widths = [0] * columns
    for row in [section.header, *section.rows]:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell) + 3)
    return widths


def _needed(section: _Section, depth: int) -> int:
    """The table width that fits this section and those inside it, at this depth."""
    bars = 2 * depth
    own = max(len(section.title) + 2, sum(_widths(section)) + max(0, len(_widths(section)) - 1))
    inside = [_needed(child, depth + 1) for child in section.children]
    return max([own + bars, *inside])


def write_table(value: Any, out: IO[str], title: str, *, color: bool = False) -> None:
    """Print ``value`` as the AWS CLI's table output, titled ``title`` (the operation name)."""
    root = _section(title, value)
    width = _needed(root, 1)
    bold, cyan, reset = ("\x1b[1m", "\x1b[36m", "\x1b[0m") if color else ("", "", "")
    lines = ["-" * width]
    _draw(root, 1, width, lines, bold, cyan, reset)
    out.write("\n".join(lines) + "\n")


def _draw(
    section: _Section, depth: int, width: int, lines: list[str], bold: str, cyan: str, reset: str
) -> None:
    left, right = "|" * depth, "|" * depth
    inner = width - 2 * depth
    lines.append(f"{left}{bold}{section.title.center(inner)}{reset}{right}")
    outer_left, outer_right = "|" * (depth - 1), "|" * (depth - 1)
    widths = _widths(section)
    if widths:
        widths[-1] = inner - sum(widths[:-1]) - (len(widths) - 1)  # the last column fills
        rule = outer_left + "+" + "+".join("-" * w for w in widths) + "+" + outer_right
    else:
        rule = outer_left + "+" + "-" * inner + "+" + outer_right
    lines.append(rule)
    if section.header:
        cells = [
            f"{cyan}{name.center(w)}{reset}"
            for name, w in zip(section.header, widths, strict=False)
        ]
        lines.append(left + "|".join(cells) + right)
        lines.append(rule)
    for row in section.rows:
        cells = [("  " + cell).ljust(w) for cell, w in zip(row, widths, strict=False)]
        cells += [" " * w for w in widths[len(row) :]]
        lines.append(left + "|".join(cells) + right)
    if section.rows:
        lines.append(rule)
    for child in section.children:
        _draw(child, depth + 1, width, lines, bold, cyan, reset)
