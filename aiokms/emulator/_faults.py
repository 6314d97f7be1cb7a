"""Fault injection: what goes wrong with each reply, decided up front and reproducibly.

How this works: for every request the server asks :meth:`FaultInjector.draw` for a
:class:`Fault`, a plain record of what to do to this reply:

* ``drop``: close the connection without replying (``drop_rate`` of requests);
* ``error``: answer ``KMSInternalException`` (HTTP 500) instead of running the operation
  (``error_rate`` of the requests that pass authentication and the quota);
* ``delay``: seconds to wait before replying, ``latency`` plus a uniform share of ``jitter``;
* ``slow_body``: seconds over which to trickle the reply body after its headers
  (``slow_body_rate`` of replies, when ``slow_body`` is set).

Draws come from one ``random.Random(seed)``, in the order the requests arrive, and only for
the knobs that are on: the same configuration, seed and request sequence give the same faults.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["NO_FAULT", "Fault", "FaultInjector"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one reply."""

    drop: bool = False
    error: bool = False
    delay: float = 0.0
    slow_body: float = 0.0


NO_FAULT = Fault()


def _share(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    return float(value)


def _seconds(name: str, value: float) -> float:
    if not value >= 0.0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number of seconds, 0 or more")
    return float(value)


class FaultInjector:
    """Decides, request by request, which faults to inject.

    Args:
        latency: seconds added to every reply.
        jitter: up to this many more seconds, uniformly distributed, added to every reply.
        error_rate: share (0 to 1) of requests answered with ``KMSInternalException`` (500).
        drop_rate: share (0 to 1) of requests whose connection is closed without a reply.
        slow_body: seconds over which a reply's body is trickled out after its headers.
        slow_body_rate: share (0 to 1) of replies that are slow when ``slow_body`` is set.
        seed: seed of the random draws, for reproducible runs; ``None`` seeds from the OS.

    Raises:
        ValueError: a knob is out of range.
    """

    __slots__ = (
        "_random",
        "active",
        "drop_rate",
        "error_rate",
        "jitter",
        "latency",
        "slow_body",
        "slow_body_rate",
    )

    def __init__(
        self,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        slow_body: float = 0.0,
        slow_body_rate: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.latency = _seconds("latency", latency)
        self.jitter = _seconds("jitter", jitter)
        self.error_rate = _share("error_rate", error_rate)
        self.drop_rate = _share("drop_rate", drop_rate)
        self.slow_body = _seconds("slow_body", slow_body)
        self.slow_body_rate = _share("slow_body_rate", slow_body_rate)
        self._random = random.Random(seed)
        self.active = bool(
            self.latency
            or self.jitter
            or self.error_rate
            or self.drop_rate
            or (self.slow_body and self.slow_body_rate)
        )

    def __repr__(self) -> str:
        knobs = (
            f"{name}={getattr(self, name):g}"
            for name in (
                "latency",
                "jitter",
                "error_rate",
                "drop_rate",
                "slow_body",
                "slow_body_rate",
            )
        )
        return f"<FaultInjector {' '.join(knobs)}>"

    def draw(self) -> Fault:
        """The faults for the next request."""
        if not self.active:
            return NO_FAULT
        rand = self._random.random
        drop = bool(self.drop_rate) and rand() < self.drop_rate
        error = bool(self.error_rate) and rand() < self.error_rate
        delay = self.latency + (self.jitter * rand() if self.jitter else 0.0)
        slow = 0.0
        if (
            self.slow_body
            and self.slow_body_rate
            and (self.slow_body_rate >= 1.0 or rand() < self.slow_body_rate)
        ):
            slow = self.slow_body
        return Fault(drop, error, delay, slow)
