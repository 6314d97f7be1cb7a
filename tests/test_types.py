"""aiokms's typed surface (aiokms/types.py, aiokms/_operations.py) as ``mypy --strict`` sees it.

mypy runs once, from a directory outside the checkout and without its configuration, as in a
project that installed aiokms with the README's command: on a file of correct uses (which must
pass), a file of mistakes (each marked line must be reported with its error code, and no other
line), and the examples.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "data" / "typing"
USES = TYPING / "uses.py"
MISTAKES = TYPING / "mistakes.py"
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

_ERROR = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): error: (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)
_EXPECT = re.compile(r"#\s*expect:\s*(?P<code>[\w-]+)")

Report = dict[Path, dict[int, list[tuple[str, str]]]]  # file -> line -> (code, message)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    where = tmp_path_factory.mktemp("project")  # no pyproject.toml, no aiokms/ beside it
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--hide-error-context",
            "--no-pretty",
            "--cache-dir",
            str(where / ".mypy_cache"),
            str(USES),
            str(MISTAKES),
            *map(str, EXAMPLES),
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr + done.stdout  # 2: mypy itself failed
    errors: Report = defaultdict(lambda: defaultdict(list))
    for line in done.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            path = Path(match["path"])
            errors[path if path.is_absolute() else where / path][int(match["line"])].append(
                (match["code"] or "", match["message"])
            )
    return errors


def test_correct_uses_pass_mypy_strict_where_aiokms_is_installed(report: Report) -> None:
    # an aiokms mypy could not find would be an import-not-found here, and Any everywhere
    assert dict(report.get(USES, {})) == {}


def test_the_examples_pass_mypy_strict(report: Report) -> None:
    assert {path.name: dict(report[path]) for path in EXAMPLES if report.get(path)} == {}


def _expected_mistakes() -> dict[int, str]:
    expected = {}
    for number, line in enumerate(MISTAKES.read_text().splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            expected[number] = match["code"]
    return expected


def test_the_mistakes_file_has_mistakes_to_find() -> None:
    assert len(_expected_mistakes()) >= 20


@pytest.mark.parametrize("line", sorted(_expected_mistakes()))
def test_each_mistake_is_reported_with_its_code(report: Report, line: int) -> None:
    code = _expected_mistakes()[line]
    found = report.get(MISTAKES, {}).get(line, [])
    assert code in [c for c, _ in found], (MISTAKES.read_text().splitlines()[line - 1], found)


def test_no_correct_line_of_the_mistakes_file_is_reported(report: Report) -> None:
    expected = _expected_mistakes()
    unexpected = {n: e for n, e in report.get(MISTAKES, {}).items() if n not in expected}
    assert unexpected == {}
