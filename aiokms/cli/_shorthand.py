"""The AWS CLI's shorthand syntax: ``--constraints EncryptionContextSubset={Department=IT}``.

How this works: a recursive-descent parser over the text, plain and synchronous, for the grammar
the AWS CLI documents ("Using shorthand syntax with the AWS CLI")::

    parameter = keyval *("," keyval)          ; a key given twice is an error
    keyval    = key ["@"] "=" [values]        ; "@=": a file:// or fileb:// value is read
    key       = *(ALPHA / DIGIT / "-" / "_" / "." / "#" / "/" / ":")
    values    = list / hash / csv
    csv       = value *("," value)            ; a=b,c is {"a": ["b", "c"]}
    list      = "[" [item *("," item) [","]] "]"
    hash      = "{" [key ["@"] "=" item *("," key ["@"] "=" item) [","]] "}"
    item      = list / hash / value
    value     = unquoted / "'" *char "'" / DQUOTE *char DQUOTE

White space around the punctuation and at the end of an unquoted value is dropped. An unquoted
value holds no quote and no comma (``\\,`` is one), and does not start with white space, ``=``,
``[`` or ``{``. A key's first (or only) value, and a value in a list or a hash, may hold ``=``
(``a=x=y``) but not ``]`` or ``}``; a csv list's later values may hold those but not ``=``: in
``a=b,c=d`` the text after the comma is the next pair, not a second value of ``a``. Inside
quotes, a backslash escapes the quote and itself, and any other character stands for itself.

The result holds strings, lists and dicts (bytes where ``@=`` read a ``fileb://`` file); the
caller types the strings by the parameter's shape, as the AWS CLI does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ShorthandError", "parse"]

_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.#/:")
_NEVER = frozenset("\"',")  # in no unquoted value (but "\\,")
_NOT_FIRST = _NEVER | frozenset("=[{")
_NOT_IN_ITEM = _NEVER | frozenset("]}")  # a value in a list or a hash, or the first of a csv
_NOT_IN_LATER = _NEVER | frozenset("=")  # a csv list's second value and those after it
_FILE_PREFIXES = ("file://", "fileb://")
_SPACE = frozenset(" \t\n\r\v\f")  # skipped around the punctuation (ASCII only, as aws)


class ShorthandError(ValueError):
    """The text is not shorthand; the message shows where, as the AWS CLI's does."""


def parse(text: str, load: Callable[[str], str | bytes] | None = None) -> dict[str, Any]:
    """Parse shorthand ``text`` into a dict of strings, lists and dicts.

    Args:
        text: the parameter's value, e.g. ``a=b,c={d=[e,f]}``.
        load: reads the file a ``file://`` or ``fileb://`` value after ``@=`` names; without
            it such values stay text.

    Raises:
        ShorthandError: the text is not shorthand.
    """
    return _Parser(text, load).parameter()


class _Parser:
    __slots__ = ("_i", "_load", "_text")

    def __init__(self, text: str, load: Callable[[str], str | bytes] | None) -> None:
        self._text = text
        self._i = 0
        self._load = load

    # --- the grammar ------------------------------------------------------------------------

    def parameter(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            start = self._i
            key, load = self._key_and_equals()
            if key in result:
                raise self._error(
                    f'Second instance of key "{key}" encountered for input:',
                    start,
                    'This is often because there is a preceding "," instead of a space.',
                )
            result[key] = self._values(load)
            if self._at_end():
                return result
            self._expect(",")

    def _key_and_equals(self) -> tuple[str, bool]:
        start = self._i
        while not self._at_end() and self._text[self._i] in _KEY_CHARS:
            self._i += 1
        key = self._text[start : self._i]
        self._skip_space()
        load = self._peek() == "@"
        if load:
            self._i += 1
        self._expect("=")
        return key, load

    def _values(self, load: bool) -> Any:
        if self._at_end():
            return ""
        if self._peek() == "[":
            return self._list(load)
        if self._peek() == "{":
            return self._hash()
        first = self._value(_NOT_IN_ITEM, load)
        values = [first]
        while True:
            self._skip_space()
            if self._at_end() or self._peek() != ",":
                break
            comma = self._i
            self._expect(",")
            try:
                value = self._value(_NOT_IN_LATER, load, required=True)
            except ShorthandError:
                if self._at_end():
                    raise
                self._i = comma  # what follows the comma is the next key=value
                break
            self._skip_space()
            if not self._at_end() and self._peek() != ",":
                self._i = comma
                break
            values.append(value)
        return first if len(values) == 1 else values

    def _list(self, load: bool) -> list[Any]:
        self._expect("[")
        items: list[Any] = []
        while self._peek() != "]":
            items.append(self._item(load))
            self._skip_space()
            if self._peek() != "]":
                self._expect(",")
        self._expect("]", skip_space=False)
        return items

    def _hash(self) -> dict[str, Any]:
        self._expect("{")
        result: dict[str, Any] = {}
        while self._peek() != "}":
            key, load = self._key_and_equals()
            result[key] = self._item(load)
            self._skip_space()
            if self._peek() != "}":
                self._expect(",")
        self._expect("}", skip_space=False)
        return result

    def _item(self, load: bool) -> Any:
        if self._peek() == "[":
            return self._list(load)
        if self._peek() == "{":
            return self._hash()
        return self._value(_NOT_IN_ITEM, load)

    def _value(self, excluded: frozenset[str], load: bool, *, required: bool = False) -> Any:
        """A quoted or unquoted value; an empty unquoted one is ``""`` unless ``required``."""
        quote = self._peek()
        if quote in ("'", '"'):
            value = self._quoted(quote)
        else:
            value = self._unquoted(excluded)
            if not value and required:
                raise self._error("Expected: '<value>', received: '<none>' for input:")
        if load and self._load is not None and value.startswith(_FILE_PREFIXES):
            return self._load(value)
        return value

    def _quoted(self, quote: str) -> str:
        start = self._i
        self._i += 1
        chars: list[str] = []
        text, n = self._text, len(self._text)
        while self._i < n and text[self._i] != quote:
            ch = text[self._i]
            if ch == "\\" and self._i + 1 < n and text[self._i + 1] in (quote, "\\"):
                self._i += 1
                ch = text[self._i]
            chars.append(ch)
            self._i += 1
        if self._i >= n:
            raise self._error(f"Expected: '{quote}', received: 'EOF' for input:", start)
        self._i += 1
        return "".join(chars)

    def _unquoted(self, excluded: frozenset[str]) -> str:
        text, n = self._text, len(self._text)
        chars: list[str] = []
        while self._i < n:
            ch = text[self._i]
            if ch == "\\" and text.startswith(",", self._i + 1):
                chars.append(",")
                self._i += 2
                continue
            if ch in excluded or (ch < " " and not ch.isspace()):
                break
            if not chars and (ch <= " " or ch in _NOT_FIRST):
                break
            chars.append(ch)
            self._i += 1
        return "".join(chars).rstrip()

    # --- characters -------------------------------------------------------------------------

    def _at_end(self) -> bool:
        return self._i >= len(self._text)

    def _peek(self) -> str:
        return self._text[self._i] if self._i < len(self._text) else ""

    def _skip_space(self) -> None:
        while self._i < len(self._text) and self._text[self._i] in _SPACE:
            self._i += 1

    def _expect(self, char: str, *, skip_space: bool = True) -> None:
        self._skip_space()
        if self._peek() != char:
            found = self._peek() or "EOF"
            raise self._error(f"Expected: '{char}', received: '{found}' for input:")
        self._i += 1
        if skip_space:
            self._skip_space()

    def _error(self, message: str, at: int | None = None, after: str = "") -> ShorthandError:
        """``message``, the text and a caret under position ``at`` (default: the current)."""
        at = self._i if at is None else at
        line_start = self._text.rfind("\n", 0, at) + 1
        line_end = self._text.find("\n", at)
        line_end = len(self._text) if line_end < 0 else line_end
        shown = [message, self._text[:line_end], " " * (at - line_start) + "^"]
        if line_end < len(self._text):
            shown.append(self._text[line_end + 1 :])
        if after:
            shown.append(after)
        return ShorthandError("\n".join(shown))
