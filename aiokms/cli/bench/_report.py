"""The report's outputs: the table, the plot, and the counters it is made of."""

from __future__ import annotations

import math
from collections import Counter
from typing import IO, Any

__all__ = ["cache_counters", "figure", "kms_counters", "plot", "print_table"]


def kms_counters(before: Any, after: Any) -> dict[str, Any]:
    errors = Counter(dict(after.errors))
    errors.subtract(dict(before.errors))
    return {
        "requests": after.requests - before.requests,
        "retries": after.retries - before.retries,
        "throttles": after.throttles - before.throttles,
        "errors": {k: v for k, v in sorted(errors.items()) if v},
        "limiter_rate": None if after.limiter_rate is None else round(after.limiter_rate, 1),
        "limiter_rates": {quota: round(rate, 1) for quota, rate in after.limiter_rates.items()},
    }


def cache_counters(before: Any, after: Any) -> dict[str, Any]:
    return {
        name: getattr(after, name) - getattr(before, name)
        for name in ("hits", "misses", "kms_calls", "refreshes")
    }


def _rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    ops = report["operations"]
    latency = report["latency_ms"]
    kms = report["kms"]
    cache = report["cache"]
    load = f"concurrency {report['concurrency']}"
    if report["rate"] is not None:
        load += f", open loop at {report['rate']:g}/s"
    rows = [
        ("operation", f"{report['operation']} ({load})"),
        ("target", str(report["target"])),
        ("elapsed", _elapsed(report)),
        ("operations", f"{ops['succeeded']:,} ok, {ops['failed']:,} failed"),
        ("throughput", f"{report['throughput_ops_s']:,.1f} ops/s"),
        (
            "latency (ms)",
            f"p50 {latency['p50']:.2f}  p90 {latency['p90']:.2f}  p95 {latency['p95']:.2f}  "
            f"p99 {latency['p99']:.2f}  p99.9 {latency['p99.9']:.2f}  max {latency['max']:.2f}",
        ),
        ("KMS calls", f"{kms['requests']:,}"),
        (
            "cache hit ratio",
            "-"
            if cache is None
            else (
                "-"
                if cache["hit_ratio"] is None
                else f"{cache['hit_ratio']:.1%} ({cache['hits']:,} hits, "
                f"{cache['misses']:,} misses)"
            ),
        ),
        ("throttles", f"{kms['throttles']:,}"),
        (
            "quota",
            "not known" if report.get("quota_per_s") is None else f"{report['quota_per_s']:,g}/s",
        ),
        ("retries", f"{kms['retries']:,}"),
        (
            "errors",
            ", ".join(f"{code} {n:,}" for code, n in report["errors"].items()) or "none",
        ),
    ]
    if report.get("runs"):
        how = "processes" if report.get("processes") else "runs"
        rows.insert(
            2, ("merged", f"{report['runs']} {how}; latencies from HDR histograms (3 digits)")
        )
    if ops["cancelled"]:
        rows.insert(4, ("cancelled", f"{ops['cancelled']:,} in flight, not counted"))
    if ops["missed_arrivals"]:
        rows.insert(4, ("missed arrivals", f"{ops['missed_arrivals']:,} (not started in time)"))
    for name, check in report.get("thresholds", {}).items():
        verdict = "ok" if check["ok"] else "EXCEEDED"
        rows.append(
            (name.replace("_", " "), f"{check['value']:g} (limit {check['limit']:g}): {verdict}")
        )
    if kms["errors"] and kms["errors"] != report["errors"]:
        rows.append(
            (
                "KMS errors (per call)",
                ", ".join(f"{code} {n:,}" for code, n in kms["errors"].items()),
            )
        )
    return rows


def _elapsed(report: dict[str, Any]) -> str:
    text = f"{report['elapsed_s']:.2f} s"
    if report["interrupted"]:
        text += " (interrupted)"
    if report["drain_s"] >= 0.005:
        text += f" + {report['drain_s']:.2f} s drain (not in throughput)"
    return text


def print_table(report: dict[str, Any], out: IO[str]) -> None:
    """Print the report as a table."""
    from rich.console import Console
    from rich.table import Table

    rows = _rows(report)
    table = Table(title="aiokms bench", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    Console(file=out, soft_wrap=True).print(table)


def figure(report: dict[str, Any]) -> Any:
    """The report's timeline as a matplotlib ``Figure`` of three panels sharing the time axis:
    throughput (and errors), latency (p50, p99), and the KMS requests, throttles and retries
    a second, with the quota as a line when it is known (``quota_per_s``)."""
    from matplotlib.figure import Figure

    rows = report["timeline"]
    t = [row["t"] for row in rows]
    # a bucket's width; a timeline of one bucket is the run's (as its ops_per_s has it)
    width = t[1] - t[0] if len(t) > 1 else max(report["elapsed_s"], 1e-9)
    fig = Figure(figsize=(9, 8))
    top, middle, bottom = fig.subplots(3, 1, sharex=True)
    top.plot(t, [row["ops_per_s"] for row in rows], drawstyle="steps-post")
    top.set_ylabel("ops/s")
    title = f"aiokms bench: {report['operation']}, concurrency {report['concurrency']}"
    if report["rate"] is not None:
        title += f", open loop at {report['rate']:g}/s"
    top.set_title(title)
    errors = [(row["t"], row["errors"]) for row in rows if row["errors"]]
    if errors:
        twin = top.twinx()
        twin.bar([e[0] for e in errors], [e[1] for e in errors], color="tab:red", alpha=0.3)
        twin.set_ylabel("errors", color="tab:red")
    for name in ("p50", "p99"):
        values = [math.nan if row[f"{name}_ms"] is None else row[f"{name}_ms"] for row in rows]
        middle.plot(t, values, label=name, drawstyle="steps-post")
    middle.set_ylabel("latency (ms)")
    middle.legend()
    for name, label in (
        ("kms_requests", "KMS requests"),
        ("throttles", "throttles"),
        ("retries", "retries"),
    ):
        # reports merged from files written before these counts have none
        values = [row.get(name, 0) / width for row in rows]
        bottom.plot(t, values, label=label, drawstyle="steps-post")
    quota = report.get("quota_per_s")
    if quota is not None:
        bottom.axhline(quota, color="black", linestyle="--", label=f"quota {quota:g}/s")
    bottom.set_ylabel("KMS, per second")
    bottom.set_xlabel("seconds")
    bottom.legend()
    fig.tight_layout()
    return fig


def plot(report: dict[str, Any], path: str) -> None:
    """Draw :func:`figure` to a PNG."""
    figure(report).savefig(path, dpi=100)
