"""``aiokms bench``'s outputs (``aiokms.cli.bench._report``): the plot's figure."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from aiokms.cli.bench import _measure, _report

pytest.importorskip("matplotlib")


def report(quota: float | None) -> dict[str, Any]:
    recorder = _measure.Recorder()
    for i in range(100):
        recorder.success(i / 100, 0.005)
    recorder.kms_counts(0.26, 30, 10, 9)  # a 1 s run: 50 ms buckets
    recorder.kms_counts(0.51, 5, 0, 0)
    settings = {"operation": "encrypt", "concurrency": 4, "rate": None, "quota_per_s": quota}
    return _measure.summarize(recorder, 1.0, settings=settings, kms={}, cache=None)


def lines(axes: Any) -> dict[str, Any]:
    return {line.get_label(): line for line in axes.get_lines()}


def test_the_figure_has_a_panel_of_kms_requests_throttles_and_retries() -> None:
    fig = _report.figure(report(quota=50.0))
    assert len(fig.axes) == 3  # throughput, latency, KMS: sharing the time axis
    throughput, latency, kms = fig.axes
    assert throughput.get_ylabel() == "ops/s" and latency.get_ylabel() == "latency (ms)"
    assert kms.get_ylabel() == "KMS, per second" and kms.get_xlabel() == "seconds"
    drawn = lines(kms)
    assert set(drawn) == {"KMS requests", "throttles", "retries", "quota 50/s"}
    # per second: 10 throttles in a 50 ms bucket are 200/s
    assert max(drawn["throttles"].get_ydata()) == pytest.approx(200.0)
    assert max(drawn["retries"].get_ydata()) == pytest.approx(180.0)
    assert max(drawn["KMS requests"].get_ydata()) == pytest.approx(600.0)
    assert list(drawn["quota 50/s"].get_ydata()) == [50.0, 50.0]  # a horizontal line


def test_no_quota_line_when_the_quota_is_not_known(tmp_path: Path) -> None:
    fig = _report.figure(report(quota=None))
    assert set(lines(fig.axes[2])) == {"KMS requests", "throttles", "retries"}
    path = tmp_path / "bench.png"
    _report.plot(report(quota=None), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("quota", "shown"), [(50.0, "50/s"), (12000.0, "12,000/s"), (None, "not known")]
)
def test_the_table_shows_the_quota(quota: float | None, shown: str) -> None:
    full = report(quota)
    full["kms"] = {"requests": 35, "retries": 9, "throttles": 10, "errors": {}}
    full["target"] = "emulator"
    out = io.StringIO()
    _report.print_table(full, out)
    row = next(line for line in out.getvalue().splitlines() if " quota " in line)
    assert shown in row
