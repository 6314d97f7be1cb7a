"""The AWS CLI's shorthand syntax (``aiokms/cli/_shorthand.py``): the documented forms, the
errors, and every JSON-like value written as shorthand read back as it was."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiokms.cli._shorthand import ShorthandError, parse

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("a=1", {"a": "1"}),
        ("a=1,b=x=y", {"a": "1", "b": "x=y"}),
        ('a="1,2",b=3', {"a": "1,2", "b": "3"}),
        ("a='x y',b=", {"a": "x y", "b": ""}),
        (r"a=1\,2", {"a": "1,2"}),
        ("a=", {"a": ""}),
        ("a=,b=c", {"a": "", "b": "c"}),
        ("a=hello world ", {"a": "hello world"}),
        ("a=b\nc", {"a": "b\nc"}),
        ("a = b , c = d", {"a": "b", "c": "d"}),
        (r"a=C:\dir", {"a": "C:\\dir"}),
        # a csv list: later values up to the next key=value
        ("a=b,c", {"a": ["b", "c"]}),
        ("a=b,c,d=e", {"a": ["b", "c"], "d": "e"}),
        ("a=b,'c,d'", {"a": ["b", "c,d"]}),
        # nested, as the KMS Developer Guide's create-grant example
        (
            "EncryptionContextSubset={Department=IT}",
            {"EncryptionContextSubset": {"Department": "IT"}},
        ),
        ("EncryptionContextEquals={a=b,c=d}", {"EncryptionContextEquals": {"a": "b", "c": "d"}}),
        ("a={b={c=[d,{e=f}]}},g=h", {"a": {"b": {"c": ["d", {"e": "f"}]}}, "g": "h"}),
        ("a=[b, c ,d]", {"a": ["b", "c", "d"]}),
        ("a=[],b={}", {"a": [], "b": {}}),
        ("a=[b,],c={d=e,}", {"a": ["b"], "c": {"d": "e"}}),
        ("a={ b = 'x}' , c = \"[y]\" }", {"a": {"b": "x}", "c": "[y]"}}),
        ("a=[[b,c],[d]]", {"a": [["b", "c"], ["d"]]}),
        # quotes: a backslash escapes the quote and itself, nothing else
        (r"a='it\'s'", {"a": "it's"}),
        (
            r'a="say \"hi\"",b="back\\slash",c="\n"',
            {"a": 'say "hi"', "b": "back\\slash", "c": "\\n"},
        ),
        ("arn:aws:kms:x=1,a.b/c#d-e_f=2", {"arn:aws:kms:x": "1", "a.b/c#d-e_f": "2"}),
    ],
)
def test_shorthand(text: str, parsed: dict[str, Any]) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Expected: '=', received: 'EOF' for input:\n\n^"),
        ("a", "Expected: '=', received: 'EOF' for input:\na\n ^"),
        ("a=b,", "Expected: '<value>', received: '<none>' for input:\na=b,\n    ^"),
        ("a=b,a=c", 'Second instance of key "a" encountered for input:\na=b,a=c\n    ^'),
        ("a={b=c", "Expected: ',', received: 'EOF' for input:\na={b=c\n      ^"),
        ("a=[b", "Expected: ',', received: 'EOF' for input:\na=[b\n    ^"),
        ("a='b", "Expected: ''', received: 'EOF' for input:\na='b\n  ^"),
        ("a=[b] c=d", "Expected: ',', received: 'c' for input:\na=[b] c=d\n      ^"),
        ("a=[b]\nc=d", "Expected: ',', received: 'c' for input:\na=[b]\nc=d\n^"),
        ("a=[b] x\nc=d", "Expected: ',', received: 'x' for input:\na=[b] x\n      ^\nc=d"),
        ("a={b}", "Expected: '=', received: '}' for input:\na={b}\n    ^"),
        ('{"a": 1}', "Expected: '=', received: '{' for input:"),
    ],
)
def test_shorthand_errors_show_where(text: str, message: str) -> None:
    with pytest.raises(ShorthandError) as raised:
        parse(text)
    assert str(raised.value).startswith(message)


def test_shorthand_reads_files_after_at_equals() -> None:
    read: list[str] = []

    def load(uri: str) -> str | bytes:
        read.append(uri)
        return b"\x00raw" if uri.startswith("fileb://") else "text"

    parsed = parse("a@=file://x,b=file://y,c@={d@=fileb://z,e=file://w},f@=[file://v,g]", load)
    assert parsed == {
        "a": "text",
        "b": "file://y",
        "c": {"d": b"\x00raw", "e": "file://w"},
        "f": ["text", "g"],
    }
    assert read == ["file://x", "fileb://z", "file://v"]
    assert parse("a@=file://x") == {"a": "file://x"}  # nothing to read with


# --- any JSON-like value, written as shorthand, reads back as it was ---------------------------

KEYS = st.text("abcXYZ019-_.#/:", min_size=1, max_size=6)
STRINGS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)


def write_string(value: str, quote: str) -> str:
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{escaped}{quote}"


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> tuple[Any, str]:
    """A value and its shorthand (strings quoted, or bare where that reads the same)."""
    kind = draw(st.sampled_from(["string", "list", "hash"] if depth < 3 else ["string"]))
    if kind == "list":
        items = draw(st.lists(values(depth + 1), max_size=3))
        gap = draw(st.sampled_from(["", " "]))
        return [v for v, _ in items], "[" + f",{gap}".join(t for _, t in items) + "]"
    if kind == "hash":
        pairs = draw(
            st.lists(st.tuples(KEYS, values(depth + 1)), max_size=3, unique_by=lambda p: p[0])
        )
        text = "{" + ",".join(f"{k}={t}" for k, (_, t) in pairs) + "}"
        return {k: v for k, (v, _) in pairs}, text
    value = draw(STRINGS)
    bare = value.replace(",", "\\,")
    if (
        value
        and value == value.strip()
        and not set(value) & set("'\"]}")
        and value[0] not in "=[{"
        and not value.endswith("\\")
        and all(c >= " " for c in value)
        and draw(st.booleans())
    ):
        return value, bare
    return value, write_string(value, draw(st.sampled_from(["'", '"'])))


@st.composite
def parameters(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    pairs = draw(
        st.lists(st.tuples(KEYS, values()), min_size=1, max_size=4, unique_by=lambda p: p[0])
    )
    return {k: v for k, (v, _) in pairs}, ",".join(f"{k}={t}" for k, (_, t) in pairs)


@PROPERTY
@given(parameters())
def test_shorthand_reads_back_json_values(written: tuple[dict[str, Any], str]) -> None:
    value, text = written
    assert parse(text) == value, text
