"""Runs as HDR histograms: the ``--hdr-out`` file of one run, and the exact merge of several.

How this works. A run's latencies go into an HDR histogram (the ``hdrhistogram`` package:
microseconds from 1 µs to an hour, 3 significant digits), and so do those of each time bucket
of its timeline. The ``--hdr-out`` file holds them (each in the HdrHistogram encoding, base64
text) with the run's counters (and each bucket's: operations, errors, KMS requests, throttles,
retries) and its start on the wall clock. Merging adds the histograms bucket by bucket and the
counters one by one, so the merged percentiles are those of every operation of every run, to
3 significant digits: never an average of percentiles, and the counts are exact. A percentile
is taken at the rank one run's report takes it (the nearest rank, ``ceil(q * n)``), so a
merged percentile lies between the runs' own. Timeline buckets are placed by wall-clock time,
so runs started together (``--start-at``) on several processes or machines line up.

The merged report has the shape of one run's (:func:`~aiokms.cli.bench._measure.summarize`),
with ``runs`` (how many were merged) and ``latency_source: "hdr"``.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiokms.cli.bench._measure import KMS_COUNTS, Recorder, bucket_width, nearest_rank

__all__ = ["FORMAT", "ceil_share", "hdr_available", "latency_ms", "merge", "run_document"]

FORMAT = "aiokms-bench-hdr/1"
_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000  # an hour
_DIGITS = 3
_SUMMED = ("concurrency", "rate", "requests")


def hdr_available() -> bool:
    """Whether the ``hdrhistogram`` package (``pip install 'aiokms[bench]'``) is installed."""
    try:
        importlib.import_module("hdrh.histogram")
    except ImportError:
        return False
    return True


def _histogram() -> Any:
    module = importlib.import_module("hdrh.histogram")
    return module.HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)


def _decode(text: str) -> Any:
    module = importlib.import_module("hdrh.histogram")
    return module.HdrHistogram.decode(text.encode("ascii"))


def _encode(histogram: Any) -> str:
    encoded: bytes = histogram.encode()
    return encoded.decode("ascii")


def _record(histogram: Any, seconds: float) -> None:
    histogram.record_value(min(max(round(seconds * 1e6), _LOWEST_US), _HIGHEST_US))


def run_document(
    report: dict[str, Any], recorder: Recorder, *, started_at: float
) -> dict[str, Any]:
    """The ``--hdr-out`` document of one run: its report's counters and settings, its
    latencies and each timeline bucket's as HDR histograms, and its start (epoch seconds)."""
    latencies = _histogram()
    for latency in recorder.latencies:
        _record(latencies, latency)
    span = max(report["elapsed_s"] + report["drain_s"], 1e-9)
    width = bucket_width(report.get("duration_s") or span)
    buckets: dict[int, dict[str, Any]] = {}

    def bucket(end: float) -> dict[str, Any]:
        i = int(end / width)
        if i not in buckets:
            buckets[i] = {"ops": 0, "errors": 0, **dict.fromkeys(KMS_COUNTS, 0)}
            buckets[i]["latency"] = _histogram()
        return buckets[i]

    for end, latency in zip(recorder.ends, recorder.latencies, strict=True):
        entry = bucket(end)
        entry["ops"] += 1
        _record(entry["latency"], latency)
    for end, _code in recorder.failures:
        bucket(end)["errors"] += 1
    for at, *counts in recorder.kms:
        entry = bucket(at)
        for name, n in zip(KMS_COUNTS, counts, strict=True):
            entry[name] += n
    elapsed = report["elapsed_s"]
    return {
        "format": FORMAT,
        "started_at": started_at,
        "report": {k: v for k, v in report.items() if k not in ("latency_ms", "timeline")},
        "ops_in_time": sum(1 for end in recorder.ends if end <= elapsed),
        "latency_us": _encode(latencies),
        "timeline": {
            "width_s": width,
            "buckets": [
                {
                    "i": i,
                    "ops": entry["ops"],
                    "errors": entry["errors"],
                    **{name: entry[name] for name in KMS_COUNTS},
                    "latency_us": _encode(entry["latency"]),
                }
                for i, entry in sorted(buckets.items())
            ],
        },
    }


def latency_ms(histogram: Any) -> dict[str, float]:
    """min, mean, p50, p90, p95, p99, p99.9 and max of a histogram of microseconds, in ms."""
    if histogram.get_total_count() == 0:
        return dict.fromkeys(("min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"), 0.0)

    def ms(us: float) -> float:
        return round(us / 1000, 3)

    p50, p90, p95, p99, p999 = _quantiles(histogram, (0.50, 0.90, 0.95, 0.99, 0.999))
    return {
        "min": ms(histogram.get_min_value()),
        "mean": ms(histogram.get_mean_value()),
        "p50": ms(p50),
        "p90": ms(p90),
        "p95": ms(p95),
        "p99": ms(p99),
        "p99.9": ms(p999),
        "max": ms(histogram.get_max_value()),
    }


def _quantiles(histogram: Any, qs: Sequence[float]) -> list[int]:
    """The ``qs`` quantiles (0 < q <= 1) of a histogram that is not empty, at the ranks a run's
    report takes them (:func:`~aiokms.cli.bench._measure.nearest_rank`): for each, the highest
    value equivalent to the one of that rank.

    Not hdrhistogram's ``get_value_at_percentile``: it rounds ``q * n`` to the nearest whole
    rank, one lower than the report's when the fraction is below a half (p99 of 273 values:
    the 270th, where the report takes the 271st). In a sparse tail that is a lower value: one
    run merged alone would not give its own p99, and two runs merged could give a p99 below
    both of theirs.
    """
    count = histogram.get_total_count()
    wanted = sorted({nearest_rank(q, count) for q in qs})
    at: dict[int, int] = {}
    for step in histogram.get_recorded_iterator():
        while wanted and step.total_count_to_this_value >= wanted[0]:
            at[wanted.pop(0)] = step.value_iterated_to
        if not wanted:
            break
    return [at[nearest_rank(q, count)] for q in qs]


def merge(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One report of several runs' ``--hdr-out`` documents, merged exactly.

    Raises:
        ValueError: a document is not an ``--hdr-out`` document, or the runs are of
            different operations.
    """
    if not documents:
        raise ValueError("nothing to merge")
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not an 'aiokms bench --hdr-out' file (format {FORMAT})")
    reports = [doc["report"] for doc in documents]
    operations = {r["operation"] for r in reports}
    if len(operations) != 1:
        raise ValueError(f"the runs are of different operations: {', '.join(sorted(operations))}")
    first = reports[0]
    start = min(doc["started_at"] for doc in documents)
    ends = [
        doc["started_at"] - start + r["elapsed_s"]
        for doc, r in zip(documents, reports, strict=True)
    ]
    elapsed = max(ends)
    drained = max(e + r["drain_s"] for e, r in zip(ends, reports, strict=True))
    latencies = _histogram()
    for doc in documents:
        latencies.add(_decode(doc["latency_us"]))
    report: dict[str, Any] = {
        key: first[key]
        for key in first
        if key not in ("operations", "kms", "cache", "errors", "thresholds", "throughput_ops_s")
    }
    for key in _SUMMED:
        values = [r.get(key) for r in reports]
        report[key] = None if any(v is None for v in values) else sum(values)
    report.update(
        runs=len(documents),
        latency_source="hdr",
        interrupted=any(r["interrupted"] for r in reports),
        elapsed_s=round(elapsed, 6),
        drain_s=round(max(0.0, drained - elapsed), 6),
        operations=_sum_counts([r["operations"] for r in reports]),
        throughput_ops_s=(
            round(sum(doc["ops_in_time"] for doc in documents) / elapsed, 1) if elapsed > 0 else 0.0
        ),
        latency_ms=latency_ms(latencies),
        kms=_merge_kms([r["kms"] for r in reports]),
        cache=_merge_cache([r["cache"] for r in reports]),
        errors=dict(sorted(_sum_counts([r["errors"] for r in reports]).items())),
        timeline=_merge_timelines(documents, start),
    )
    return report


def _sum_counts(counts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    keys = list(dict.fromkeys(k for count in counts for k in count))
    return {k: total[k] for k in keys}


def _merge_kms(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    rates = [p["limiter_rate"] for p in parts if p.get("limiter_rate") is not None]
    by_quota: Counter[str] = Counter()
    for p in parts:
        by_quota.update(p.get("limiter_rates", {}))
    return {
        "requests": sum(p["requests"] for p in parts),
        "retries": sum(p["retries"] for p in parts),
        "throttles": sum(p["throttles"] for p in parts),
        "errors": dict(sorted(_sum_counts([p["errors"] for p in parts]).items())),
        # each process has its own limiters: the fleet's rate is their sum
        "limiter_rate": round(sum(rates), 1) if rates else None,
        "limiter_rates": {quota: round(rate, 1) for quota, rate in by_quota.items()},
    }


def _merge_cache(parts: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    present = [p for p in parts if p is not None]
    if not present:
        return None
    merged: dict[str, Any] = {
        name: sum(p[name] for p in present) for name in ("hits", "misses", "kms_calls", "refreshes")
    }
    looked_up = merged["hits"] + merged["misses"]
    merged["hit_ratio"] = round(merged["hits"] / looked_up, 4) if looked_up else None
    return merged


def _merge_timelines(documents: Sequence[dict[str, Any]], start: float) -> list[dict[str, Any]]:
    width = max(doc["timeline"]["width_s"] for doc in documents)
    rows: dict[int, dict[str, Any]] = {}
    for doc in documents:
        offset = doc["started_at"] - start
        own = doc["timeline"]["width_s"]
        for entry in doc["timeline"]["buckets"]:
            i = int((offset + entry["i"] * own) / width + 1e-9)
            row = rows.get(i)
            if row is None:
                row = rows[i] = {"ops": 0, "errors": 0, **dict.fromkeys(KMS_COUNTS, 0)}
                row["latency"] = _histogram()
            for name in ("ops", "errors", *KMS_COUNTS):
                row[name] += entry.get(name, 0)  # files written before the KMS counts: none
            row["latency"].add(_decode(entry["latency_us"]))
    if not rows:
        return []
    timeline = []
    for i in range(max(rows) + 1):
        row = rows.get(i, {"ops": 0, "errors": 0, **dict.fromkeys(KMS_COUNTS, 0), "latency": None})
        hist = row["latency"]
        p50, p99 = (
            (round(us / 1000, 3) for us in _quantiles(hist, (0.50, 0.99)))
            if hist is not None and hist.get_total_count() > 0
            else (None, None)
        )
        timeline.append(
            {
                "t": round(i * width, 3),
                "ops": row["ops"],
                "ops_per_s": round(row["ops"] / width, 1),
                "p50_ms": p50,
                "p99_ms": p99,
                "errors": row["errors"],
                **{name: row[name] for name in KMS_COUNTS},
            }
        )
    return timeline


def ceil_share(total: int, parts: int, index: int) -> int:
    """``total`` split into ``parts`` whole shares as even as can be; share ``index``."""
    return total // parts + (1 if index < total % parts else 0)
