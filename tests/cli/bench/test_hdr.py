"""``aiokms bench``'s HDR documents and their merge (``aiokms.cli.bench._hdr``): counters added,
histograms merged exactly, timelines placed by wall-clock time."""

from __future__ import annotations

from typing import Any

import pytest

from aiokms.cli.bench import _hdr, _measure

hdrh = pytest.importorskip("hdrh.histogram")


def run(latencies: list[float], failures: int, *, elapsed: float = 2.0) -> tuple[Any, Any]:
    recorder = _measure.Recorder()
    for i, latency in enumerate(latencies):
        recorder.success(elapsed * i / len(latencies), latency)
    for i in range(failures):
        recorder.failure(elapsed * i / max(failures, 1), "ThrottlingException")
    kms = {
        "requests": len(latencies) + failures,
        "retries": 1,
        "throttles": failures,
        "errors": {"ThrottlingException": failures},
        "limiter_rate": 50.0,
        "limiter_rates": {"Cryptographic operations (symmetric)": 50.0},
    }
    settings = {"operation": "encrypt", "target": "x", "concurrency": 4, "rate": None}
    settings |= {"duration_s": elapsed, "requests": None}
    report = _measure.summarize(
        recorder,
        elapsed,
        settings=settings,
        kms=kms,
        cache={"hits": 3, "misses": 1, "kms_calls": 1, "refreshes": 0},
    )
    return report, recorder


def test_merge_adds_counters_and_merges_histograms_exactly() -> None:
    a_latencies = [i / 1000 for i in range(1, 301)]  # 1 to 300 ms
    b_latencies = [i / 1000 for i in range(200, 1200, 5)]  # 200 to 1195 ms
    a, a_recorder = run(a_latencies, 10)
    b, b_recorder = run(b_latencies, 5)
    docs = [
        _hdr.run_document(a, a_recorder, started_at=1000.0),
        _hdr.run_document(b, b_recorder, started_at=1000.5),
    ]
    merged = _hdr.merge(docs)
    assert merged["runs"] == 2 and merged["latency_source"] == "hdr"
    assert merged["operations"] == {
        "total": 300 + 200 + 15,
        "succeeded": 500,
        "failed": 15,
        "missed_arrivals": 0,
        "cancelled": 0,
    }
    assert merged["errors"] == {"ThrottlingException": 15}
    assert merged["kms"]["requests"] == 515 and merged["kms"]["retries"] == 2
    assert merged["kms"]["limiter_rate"] == 100.0  # two processes' limiters
    assert merged["cache"] == {
        "hits": 6,
        "misses": 2,
        "kms_calls": 2,
        "refreshes": 0,
        "hit_ratio": 0.75,
    }
    assert merged["concurrency"] == 8 and merged["rate"] is None
    # the runs overlap on the wall clock: from the first start to the last end
    assert merged["elapsed_s"] == 2.5
    assert merged["throughput_ops_s"] == 200.0  # 500 operations in 2.5 s
    # the percentiles of all 500 values, as one histogram of them gives them
    every = hdrh.HdrHistogram(1, 3_600_000_000, 3)
    for latency in a_latencies + b_latencies:
        every.record_value(round(latency * 1e6))
    assert merged["latency_ms"] == _hdr.latency_ms(every)
    median = sorted(a_latencies + b_latencies)[249] * 1000  # not a mean of the two medians
    assert merged["latency_ms"]["p50"] == pytest.approx(median, rel=1e-3)
    # timeline: 0.05 s buckets on the wall clock, every operation in one
    timeline = merged["timeline"]
    assert sum(row["ops"] for row in timeline) == 500
    assert sum(row["errors"] for row in timeline) == 15
    assert timeline[0]["t"] == 0.0 and timeline[10]["t"] == 0.5


def test_one_run_merged_is_itself() -> None:
    report, recorder = run([i / 1000 for i in range(1, 101)], 0)
    merged = _hdr.merge([_hdr.run_document(report, recorder, started_at=5.0)])
    assert merged["operations"] == report["operations"]
    assert merged["elapsed_s"] == report["elapsed_s"]
    assert merged["throughput_ops_s"] == report["throughput_ops_s"]
    for name in ("p50", "p90", "p99", "max"):  # to 3 significant digits
        assert merged["latency_ms"][name] == pytest.approx(report["latency_ms"][name], rel=1e-3)
    assert set(merged) >= set(report) - {"thresholds"}


def test_merge_refuses_what_it_cannot_merge() -> None:
    with pytest.raises(ValueError, match="nothing to merge"):
        _hdr.merge([])
    with pytest.raises(ValueError, match="not an 'aiokms bench --hdr-out' file"):
        _hdr.merge([{"format": "other"}])
    report, recorder = run([0.001], 0)
    other = dict(report, operation="decrypt")
    docs = [
        _hdr.run_document(report, recorder, started_at=0.0),
        _hdr.run_document(other, recorder, started_at=0.0),
    ]
    with pytest.raises(ValueError, match="different operations: decrypt, encrypt"):
        _hdr.merge(docs)


@pytest.mark.parametrize(("total", "parts"), [(32, 2), (33, 2), (5, 3), (2, 2)])
def test_shares_add_up(total: int, parts: int) -> None:
    shares = [_hdr.ceil_share(total, parts, i) for i in range(parts)]
    assert sum(shares) == total and max(shares) - min(shares) <= 1


def test_merge_adds_throttles_and_retries_bucket_by_bucket() -> None:
    a, a_recorder = run([0.001] * 10, 0)
    b, b_recorder = run([0.002] * 10, 0)
    a_recorder.kms_counts(0.12, 20, 5, 4)
    a_recorder.kms_counts(1.51, 3, 1, 1)
    b_recorder.kms_counts(0.02, 7, 2, 2)  # 0.5 s later on the wall clock: bucket 10
    b_recorder.kms_counts(1.03, 9, 3, 0)  # bucket 30, with a's second reading
    docs = [
        _hdr.run_document(a, a_recorder, started_at=1000.0),
        _hdr.run_document(b, b_recorder, started_at=1000.5),
    ]
    rows = _hdr.merge(docs)["timeline"]
    counts = {
        i: (row["kms_requests"], row["throttles"], row["retries"])
        for i, row in enumerate(rows)
        if row["kms_requests"]
    }
    assert counts == {2: (20, 5, 4), 10: (7, 2, 2), 30: (12, 4, 1)}
    # a file written before these counts merges as having none
    for bucket in docs[1]["timeline"]["buckets"]:
        for name in ("kms_requests", "throttles", "retries"):
            del bucket[name]
    rows = _hdr.merge(docs)["timeline"]
    assert sum(row["throttles"] for row in rows) == 6 and sum(row["ops"] for row in rows) == 20


def test_merged_percentiles_are_nearest_rank_as_a_runs_are() -> None:
    """A run's report takes the nearest rank (``ceil(q * n)``); its merge takes the same rank,
    not hdrhistogram's own (``round(q * n)``), which in a run's sparse tail is a value lower:
    here p99 of 273 values is the 271st (5 ms), not the 270th (1 ms)."""
    latencies = [0.001] * 270 + [0.005] * 3
    report, recorder = run(latencies, 0)
    assert report["latency_ms"]["p99"] == 5.0
    merged = _hdr.merge([_hdr.run_document(report, recorder, started_at=0.0)])
    for name in ("min", "p50", "p90", "p95", "p99", "p99.9", "max"):
        assert merged["latency_ms"][name] == pytest.approx(report["latency_ms"][name], rel=1e-3)


def test_a_merged_percentile_lies_between_the_runs() -> None:
    """Each run's p99 is 8 ms (its 179th of 180 values); of the 360 merged values the 357th
    is 8 ms too, where hdrhistogram's rank, the 356th, is 2 ms: below both runs'."""
    documents = []
    for started_at in (0.0, 1.0):
        report, recorder = run([0.002] * 178 + [0.008] * 2, 20)
        assert report["latency_ms"]["p99"] == 8.0
        documents.append(_hdr.run_document(report, recorder, started_at=started_at))
    merged = _hdr.merge(documents)
    assert merged["latency_ms"]["p99"] == pytest.approx(8.0, rel=1e-3)


def test_merged_timeline_percentiles_are_nearest_rank_as_a_runs_are() -> None:
    # 60 values in one bucket: p99 is the 60th (ceil 59.4), hdrhistogram's the 59th
    report, recorder = run([0.001] * 59 + [0.005], 0, elapsed=0.04)
    [row] = report["timeline"]
    assert row["p99_ms"] == 5.0
    merged = _hdr.merge([_hdr.run_document(report, recorder, started_at=0.0)])
    [merged_row] = merged["timeline"]
    for name in ("p50_ms", "p99_ms"):
        assert merged_row[name] == pytest.approx(row[name], rel=1e-3)
