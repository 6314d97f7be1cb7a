"""The live progress line on stderr (rich), while the load runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from aiokms.cli.bench._load import Load
from aiokms.cli.bench._measure import percentile

__all__ = ["Progress"]

_TICK = 0.25  # seconds between progress updates


class Progress:
    """Live progress on stderr with rich, when stderr is a terminal."""

    def __init__(self, args: argparse.Namespace, load: Load, kms: Any) -> None:
        self.args = args
        self.load = load
        self.kms = kms
        self._task: asyncio.Task[None] | None = None
        self._progress: Any = None
        self._seen = 0

    def enabled(self) -> bool:
        return not (self.args.json or self.args.no_progress) and sys.stderr.isatty()

    async def __aenter__(self) -> Progress:
        if not self.enabled():
            return self
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(file=sys.stderr),
            transient=True,
        )
        total = self.args.duration if self.args.duration is not None else self.args.requests
        self._id = self._progress.add_task(self.args.operation, total=total, stats="starting")
        self._progress.start()
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._progress is not None:
            self._progress.stop()

    async def _tick(self) -> None:
        clock = self.load.clock
        last = clock()
        while True:
            await asyncio.sleep(_TICK)
            now = clock()
            recorder = self.load.recorder
            recent = sorted(recorder.latencies[self._seen :])
            rate = len(recent) / (now - last)
            self._seen, last = len(recorder.latencies), now
            stats = self.kms.stats()
            text = (
                f"{recorder.completed:,} ops  {rate:,.0f}/s  "
                f"p99 {percentile(recent, 0.99) * 1000:.1f} ms  "
                f"throttles {stats.throttles}  errors {len(recorder.failures)}"
            )
            if self.args.duration is not None:
                done = min(self.load.now(), self.args.duration)
            else:
                done = float(recorder.completed)
            self._progress.update(self._id, completed=done, stats=text)
