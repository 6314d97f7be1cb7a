"""Adaptive mode's client-side rate limiter: a token bucket whose rate follows CUBIC.

How this works (the scheme the AWS SDKs use for ``retry_mode="adaptive"``):

* The limiter is off until the first throttle; until then requests pass freely.
* Every response updates a measured send rate: counts per half-second bucket, smoothed
  exponentially (weight 0.8 on the newest bucket).
* On a throttle the bucket's rate drops to 0.7x the rate in force (the measured rate, the first
  time), remembered as ``w_max``; the CUBIC curve ``0.4 * (t - t_fail - K)^3 + w_max`` with
  ``K = cbrt(w_max * 0.3 / 0.4)`` then lets it climb back: fast at first, flat near ``w_max``,
  probing above it later. A rate is never set above twice the measured rate, nor below 0.5/s.
* A request takes a token: :meth:`RateLimiter.reserve` takes it at once, letting the bucket go
  into debt, and returns how long the caller must wait for its turn. Waiters thus queue in
  order without a lock or a background task, and one who gives up hands the token back
  (:meth:`RateLimiter.refund`) so nobody behind it waits for nothing.

Pure: the caller passes the time; waiting (with asyncio) is the client's job.
"""

from __future__ import annotations

import math

__all__ = ["RateLimiter"]

MIN_RATE = 0.5
BETA = 0.7
SCALE = 0.4
SMOOTHING = 0.8
BUCKET_SECONDS = 0.5
MAX_RATE_FACTOR = 2.0


class RateLimiter:
    """CUBIC-governed token bucket; every method takes ``now`` in monotonic seconds."""

    __slots__ = (
        "_count",
        "_inflection",
        "_last_bucket",
        "_last_fail",
        "_last_refill",
        "_tokens",
        "_w_max",
        "enabled",
        "measured_rate",
        "rate",
    )

    def __init__(self, now: float) -> None:
        self.enabled = False
        self.rate = MIN_RATE  # tokens per second while enabled
        self.measured_rate = 0.0
        self._tokens = 0.0
        self._last_refill = now
        self._count = 0
        self._last_bucket = math.floor(now / BUCKET_SECONDS) * BUCKET_SECONDS
        self._w_max = MIN_RATE
        self._inflection = 0.0
        self._last_fail = now

    def __repr__(self) -> str:
        state = f"rate={self.rate:.2f}/s" if self.enabled else "off"
        return f"<RateLimiter {state} measured={self.measured_rate:.2f}/s>"

    # --- sending ------------------------------------------------------------------------

    def reserve(self, now: float) -> float:
        """Take a token for a request; return the seconds to wait before sending it."""
        if not self.enabled:
            return 0.0
        self._refill(now)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def wait_for(self, now: float) -> float:
        """The wait :meth:`reserve` would return now, without taking a token."""
        if not self.enabled:
            return 0.0
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate)

    def refund(self, now: float) -> None:
        """Give back a token reserved by a request that will not be sent."""
        if self.enabled:
            self._refill(now)
            self._tokens = min(self._capacity(), self._tokens + 1.0)

    def _capacity(self) -> float:
        return max(self.rate, 1.0)

    def _refill(self, now: float) -> None:
        elapsed = now - self._last_refill
        if elapsed > 0:
            self._tokens = min(self._capacity(), self._tokens + elapsed * self.rate)
            self._last_refill = now

    # --- receiving ----------------------------------------------------------------------

    def on_response(self, throttled: bool, now: float) -> None:
        """Update the measured rate and, by CUBIC, the allowed rate after a response."""
        measured = self._measure(now)
        if throttled:
            current = measured if not self.enabled else min(measured, self.rate)
            self._w_max = current
            self._inflection = (current * (1 - BETA) / SCALE) ** (1 / 3)
            self._last_fail = now
            new_rate = current * BETA
            if not self.enabled:
                self.enabled = True
                self._last_refill = now
                self._tokens = 0.0
        elif self.enabled:
            new_rate = SCALE * (now - self._last_fail - self._inflection) ** 3 + self._w_max
        else:
            return
        self._set_rate(min(new_rate, MAX_RATE_FACTOR * measured), now)

    def _set_rate(self, rate: float, now: float) -> None:
        self._refill(now)
        self.rate = max(rate, MIN_RATE)
        self._tokens = min(self._tokens, self._capacity())

    def _measure(self, now: float) -> float:
        bucket = math.floor(now / BUCKET_SECONDS) * BUCKET_SECONDS
        self._count += 1
        if bucket > self._last_bucket:
            current = self._count / (bucket - self._last_bucket)
            self.measured_rate = current * SMOOTHING + self.measured_rate * (1 - SMOOTHING)
            self._count = 0
            self._last_bucket = bucket
        return self.measured_rate
