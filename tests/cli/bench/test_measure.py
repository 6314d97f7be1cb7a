"""``aiokms bench``'s measurements and report (``aiokms.cli.bench._measure``)."""

from __future__ import annotations

from aiokms.cli.bench import _measure


def test_percentile_and_summary() -> None:
    assert _measure.percentile([], 0.5) == 0.0
    values = [float(i) for i in range(1, 101)]
    assert [_measure.percentile(values, q) for q in (0.5, 0.9, 0.99, 1.0)] == [50, 90, 99, 100]
    recorder = _measure.Recorder()
    recorder.success(0.5, 0.010)
    recorder.success(0.7, 0.030)
    recorder.failure(0.8, "ThrottlingException")
    report = _measure.summarize(
        recorder, 1.0, settings={}, kms={"requests": 3}, cache={"hits": 0, "misses": 0}
    )
    assert report["operations"]["total"] == 3
    assert report["latency_ms"]["p50"] == 10.0 and report["latency_ms"]["max"] == 30.0
    assert report["errors"] == {"ThrottlingException": 1}
    assert report["cache"]["hit_ratio"] is None


def test_summary_percentiles() -> None:
    recorder = _measure.Recorder()
    for i in range(1, 2001):  # latencies of 1 ms to 2 s
        recorder.success(1.0, i / 1000)
    latency = _measure.summarize(recorder, 1.0, settings={}, kms={}, cache=None)["latency_ms"]
    assert [latency[name] for name in ("p50", "p90", "p95", "p99", "p99.9", "max")] == [
        1000.0,
        1800.0,
        1900.0,
        1980.0,
        1998.0,
        2000.0,
    ]


def test_timeline_counts_kms_requests_throttles_and_retries_per_bucket() -> None:
    recorder = _measure.Recorder()
    recorder.success(0.9, 0.010)
    recorder.kms_counts(0.05, 10, 2, 1)
    recorder.kms_counts(0.07, 4, 4, 3)
    recorder.kms_counts(0.5, 0, 0, 0)  # nothing new: not kept
    recorder.kms_counts(0.97, 6, 0, 2)
    assert len(recorder.kms) == 3
    rows = _measure.summarize(recorder, 1.0, settings={}, kms={}, cache=None)["timeline"]
    assert len(rows) == 20  # 50 ms buckets
    counts = [(row["kms_requests"], row["throttles"], row["retries"]) for row in rows]
    assert counts[1] == (14, 6, 4) and counts[19] == (6, 0, 2)
    assert sum(c[1] for c in counts) == 6 and sum(c[2] for c in counts) == 6
