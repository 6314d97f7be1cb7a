"""What a run measured, and the report made of it: plain, synchronous, clock-free.

:class:`Recorder` keeps every operation's outcome as offsets from the start of the run;
:func:`summarize` turns it, with the client's and the cache's counters, into the report (a
dict, which ``--json`` prints as it is); :func:`thresholds` checks it against
``--max-error-rate`` and ``--max-p99``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore import exceptions as boto

__all__ = [
    "KMS_COUNTS",
    "Recorder",
    "bucket_width",
    "error_code",
    "nearest_rank",
    "percentile",
    "summarize",
    "thresholds",
    "timeline",
]


KMS_COUNTS = ("kms_requests", "throttles", "retries")
"""The client's counters in each timeline bucket, in :attr:`Recorder.kms`'s order."""


def nearest_rank(q: float, count: int) -> int:
    """The rank (from 1) of the nearest-rank ``q`` quantile (0 < q <= 1) of ``count`` values:
    ``ceil(q * count)``, within 1 to ``count``. A merged report (``_hdr``) takes the same rank
    of its histograms, so its percentiles lie between those of the runs merged."""
    return min(max(1, math.ceil(q * count)), max(count, 1))


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of sorted values; 0.0 when empty."""
    if not ordered:
        return 0.0
    return ordered[nearest_rank(q, len(ordered)) - 1]


@dataclass(slots=True)
class Recorder:
    """Every operation's outcome, as offsets in seconds from the start of the run.

    Attributes:
        ends: when each successful operation ended.
        latencies: each successful operation's latency.
        failures: when each failed operation ended, with its error code.
        missed: open-loop arrivals that were never started.
        kms: the client's counters, read now and then during the run: when, and the KMS
            requests, throttles and retries counted since the reading before.
    """

    ends: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    missed: int = 0
    kms: list[tuple[float, int, int, int]] = field(default_factory=list)

    def success(self, end: float, latency: float) -> None:
        """Record a successful operation."""
        self.ends.append(end)
        self.latencies.append(latency)

    def failure(self, end: float, code: str) -> None:
        """Record a failed operation and its error code."""
        self.failures.append((end, code))

    def kms_counts(self, at: float, requests: int, throttles: int, retries: int) -> None:
        """Record the KMS requests, throttles and retries counted since the last reading."""
        if requests or throttles or retries:
            self.kms.append((at, requests, throttles, retries))

    @property
    def completed(self) -> int:
        """Operations that ended, successful or not."""
        return len(self.latencies) + len(self.failures)


def bucket_width(elapsed: float) -> float:
    """A round width that cuts the run into about 50 buckets (at least 50 ms)."""
    target = max(elapsed / 50, 0.05)
    for width in (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0):
        if width >= target:
            return width
    return 60.0


def timeline(recorder: Recorder, elapsed: float) -> list[dict[str, float | None]]:
    """Per time bucket: throughput, latency percentiles (None where nothing ended), errors,
    and the KMS requests, throttles and retries the client counted (as it was read)."""
    if elapsed <= 0:
        return []
    width = bucket_width(elapsed)
    count = max(1, math.ceil(elapsed / width))
    latencies: list[list[float]] = [[] for _ in range(count)]
    errors = [0] * count
    kms = [[0, 0, 0] for _ in range(count)]
    for end, latency in zip(recorder.ends, recorder.latencies, strict=True):
        latencies[min(int(end / width), count - 1)].append(latency)
    for end, _code in recorder.failures:
        errors[min(int(end / width), count - 1)] += 1
    for at, *counts in recorder.kms:
        row = kms[min(int(at / width), count - 1)]
        for k, n in enumerate(counts):
            row[k] += n
    rows: list[dict[str, float | None]] = []
    for i in range(count):
        span = min(width, elapsed - i * width) or width
        ordered = sorted(latencies[i])
        rows.append(
            {
                "t": round(i * width, 3),
                "ops": len(ordered),
                "ops_per_s": round(len(ordered) / span, 1),
                "p50_ms": round(percentile(ordered, 0.50) * 1000, 3) if ordered else None,
                "p99_ms": round(percentile(ordered, 0.99) * 1000, 3) if ordered else None,
                "errors": errors[i],
                **dict(zip(KMS_COUNTS, kms[i], strict=True)),
            }
        )
    return rows


def summarize(
    recorder: Recorder,
    elapsed: float,
    *,
    settings: dict[str, Any],
    kms: dict[str, Any],
    cache: dict[str, Any] | None,
    interrupted: bool = False,
    cancelled: int = 0,
) -> dict[str, Any]:
    """The report: what ran, throughput, latency, KMS and cache counters, errors by code.

    Operations that end after ``elapsed`` (those in flight at the end, drained) count in the
    totals, latencies and errors, not in the throughput; ``drain_s`` says how long they took.

    Args:
        recorder: the run's outcomes.
        elapsed: the run's length in seconds: from the start to ``--duration``, to the
            interrupt, or to the last end, whichever came first.
        settings: what was asked for (operation, concurrency, ...), reported as given.
        kms: the client's counters during the run (requests, retries, throttles, errors).
        cache: the data-key cache's counters during the run, or None without a cache.
        interrupted: the run was stopped early (Ctrl-C); the report covers what was measured.
        cancelled: operations started but cancelled, at an interrupt or after the grace period.
    """
    ordered = sorted(recorder.latencies)
    last_end = max(
        max(recorder.ends, default=0.0), max((end for end, _ in recorder.failures), default=0.0)
    )
    in_time = sum(1 for end in recorder.ends if end <= elapsed)
    succeeded = len(ordered)
    failed = len(recorder.failures)
    errors = Counter(code for _end, code in recorder.failures)
    cache_report = None
    if cache is not None:
        looked_up = cache["hits"] + cache["misses"]
        cache_report = {
            **cache,
            "hit_ratio": round(cache["hits"] / looked_up, 4) if looked_up else None,
        }
    return {
        **settings,
        "interrupted": interrupted,
        "elapsed_s": round(elapsed, 6),
        "drain_s": round(max(0.0, last_end - elapsed), 6),
        "operations": {
            "total": succeeded + failed,
            "succeeded": succeeded,
            "failed": failed,
            "missed_arrivals": recorder.missed,
            "cancelled": cancelled,
        },
        "throughput_ops_s": round(in_time / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": {
            "min": round((ordered[0] if ordered else 0.0) * 1000, 3),
            "mean": round((sum(ordered) / succeeded if succeeded else 0.0) * 1000, 3),
            "p50": round(percentile(ordered, 0.50) * 1000, 3),
            "p90": round(percentile(ordered, 0.90) * 1000, 3),
            "p95": round(percentile(ordered, 0.95) * 1000, 3),
            "p99": round(percentile(ordered, 0.99) * 1000, 3),
            "p99.9": round(percentile(ordered, 0.999) * 1000, 3),
            "max": round((ordered[-1] if ordered else 0.0) * 1000, 3),
        },
        "kms": kms,
        "cache": cache_report,
        "errors": dict(sorted(errors.items())),
        "timeline": timeline(recorder, max(elapsed, last_end)),
    }


def error_code(exc: BaseException) -> str:
    """The code a failed operation is counted under: KMS's error code, else the class name."""
    if isinstance(exc, boto.ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else "ClientError"
    return type(exc).__name__


def thresholds(
    report: dict[str, Any], *, max_error_rate: float | None, max_p99: float | None
) -> dict[str, dict[str, Any]]:
    """The pass/fail checks asked for: each one's limit, the run's value and whether it held.

    The error rate is failed operations over operations that ended; p99 is in milliseconds.
    """
    checks: dict[str, dict[str, Any]] = {}
    if max_error_rate is not None:
        ops = report["operations"]
        rate = ops["failed"] / ops["total"] if ops["total"] else 0.0
        checks["max_error_rate"] = {
            "limit": max_error_rate,
            "value": round(rate, 6),
            "ok": rate <= max_error_rate,
        }
    if max_p99 is not None:
        p99 = report["latency_ms"]["p99"]
        checks["max_p99_ms"] = {"limit": max_p99, "value": p99, "ok": p99 <= max_p99}
    return checks
