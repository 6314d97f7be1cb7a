"""``aiokms bench``'s command line (``aiokms.cli.bench._args``); the flags end to end are in
``tests/test_cli.py``."""

from __future__ import annotations

import argparse
import re

import pytest

from aiokms.cli.bench import _args


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10.0),
        ("2.5", 2.5),
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        (".5s", 0.5),
    ],
)
def test_lengths_of_time(text: str, value: float) -> None:
    assert _args.seconds(text) == value


@pytest.mark.parametrize(
    "text", ["", "s", "1x", "1 m", "m1", "0", "0s", "-1", "inf", "nan", "1m-5s"]
)
def test_lengths_of_time_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(text))):
        _args.seconds(text)


def test_the_emulator_fault_and_quota_flags_are_the_emulators() -> None:
    """Declared once, by the emulator's command: bench takes every one, defaulting to None
    (so that it can tell those given), where the emulator's command has LocalKMS's defaults."""
    from aiokms.emulator import __main__ as emulator_command

    bench = _args.build_parser("aiokms bench").parse_args([])
    served = emulator_command.build_parser().parse_args([])
    for dest in (*emulator_command.FAULT_FLAGS, *emulator_command.QUOTA_FLAGS):
        assert getattr(bench, dest) is None, dest
    assert served.latency == 0.0 and served.slow_body_rate == 1.0 and served.seed is None
    assert emulator_command.FAULT_FLAGS == (
        "latency",
        "jitter",
        "error_rate",
        "drop_rate",
        "slow_body",
        "slow_body_rate",
        "seed",
    )


def test_wall_clock_times() -> None:
    assert _args.wall_clock("1796605378.5") == 1796605378.5
    assert _args.wall_clock("2026-12-07T10:00:00Z") == 1796637600.0
    assert _args.wall_clock("2026-12-07T11:00:00+01:00") == 1796637600.0
    for text, message in (("tomorrow", "is not a time"), ("2026-12-07T10:00:00", "no time zone")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            _args.wall_clock(text)
