"""Adaptive mode's client-side rate limiter: a token bucket whose rate follows CUBIC.

How this works (the scheme the AWS SDKs use for ``retry_mode="adaptive"``):

* The limiter is off until the first throttle; until then requests pass freely.
* Every response updates a measured rate: counts per half-second bucket, smoothed
  exponentially (weight 0.8 on the newest bucket); before the first bucket completes, the
  rate since the first response.
* On a throttle the bucket's rate drops to 0.7x the rate in force (the measured rate, the first
  time), remembered as ``w_max``; the CUBIC curve ``0.4 * (t - t_fail - K)^3 + w_max`` with
  ``K = cbrt(w_max * 0.3 / 0.4)`` then lets it climb back: fast at first, flat near ``w_max``,
  probing above it later. A rate is never set above twice the measured rate, nor below 0.5/s.
  Throttles of requests sent before the last cut, or within ten intervals of the new rate
  after it, do not cut again: they met a quota still drained by the old rate and report the
  same congestion, late (as TCP cuts its window once per round trip). Without this, the burst
  of throttles one overload produces would cut the rate many times over, and a quota that
  refills only a little faster than the new rate needs a few intervals to stop throttling.
  Such a throttle does stop the climb, though: the rate goes back to that of the last cut and
  the line below starts again from there, so a rate cannot climb through a quota that is
  still pushing back.
* The start-up: the limiter switches on in an overload made at the unthrottled rate, often
  many times the quota, and 0.7x steps down from there take many cuts while most requests
  (and their retries) are throttled. So the first cut once the limiter has been on for 50 ms
  and has counted 10 successes goes at once to the rate of those successes -- what the quota
  let through since it pushed back -- where that is lower.
* From then on the rate climbs back along the CUBIC curve or along a line from the rate of the
  last cut, whichever is higher (RFC 9438's CUBIC likewise runs a line beside its curve, its
  "Reno-friendly region"). CUBIC alone takes ``K`` (about 7 s at 400/s) to climb back after a
  cut. The line regains a 0.7x cut in 0.3 s when the rate cut to is 200 requests/s or more,
  and below that in a time that shrinks with the square root of the rate: 0.15 s at 50/s,
  0.07 s at 10/s. Its slope is set afresh at every cut. Why the square root: processes
  sharing one quota, each with its own limiter, are cut about equally often whatever their
  shares (the quota's token bucket throttles a sparse sender's requests more often than a
  dense one's). A line in proportion to the rate then leaves every share where chance put
  it -- at the start-up, which rests on a dozen successes or so, or later -- while one that
  grows less than in proportion lets a smaller share climb back faster, in proportion to
  itself, than a larger one, so the shares even out (measured, in benchmarks/README.md).
  Above 200/s the line keeps to 0.3 s, so a large rate regains a cut no slower than it did
  (with the square root there too, a cut to 1,400/s took 0.8 s). Where a rate is small, the
  line is quick and would outrun the grace above; the restart keeps it from climbing through
  a quota still pushing back.
* A request takes a ticket (:meth:`RateLimiter.reserve`), its place in line, and waits until
  the bucket has issued that many tokens (:meth:`RateLimiter.wait`). It sleeps in steps
  (:meth:`RateLimiter.sleep_for`) and asks again after each: a cut re-paces the whole queue,
  and a rate that climbs while the queue waits is not overslept (a waiter who slept its whole
  wait at the old rate would wake after its token was issued and go in a burst with every
  other late waker, and a quota throttles bursts). Waiters thus queue in order without a lock
  or a background task; one who gives up passes its token on (:meth:`RateLimiter.refund`).
  The bucket saves up at most 50 ms of its rate, not the SDKs' full second, so callers back
  from a backoff do not burst into a quota that just pushed back.

Pure: the caller passes the time; waiting (with asyncio) is the client's job.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["RateLimiter", "RateLimiters"]

MIN_RATE = 0.5
BETA = 0.7
SCALE = 0.4
SMOOTHING = 0.8
BUCKET_SECONDS = 0.5
MAX_RATE_FACTOR = 2.0
BURST_SECONDS = 0.05  # the most the bucket saves up, in seconds of its rate
MIN_WINDOW = 0.01  # seconds: the shortest span a rate is measured over
STARTUP_WINDOW = 0.05  # seconds on before the success rate may set the rate
STARTUP_SUCCESSES = 10  # successes counted by then, at least
RECOVERY_SECONDS = 0.3  # after the start-up, the line regains a 0.7x cut in this time ...
RECOVERY_RATE = 200.0  # ... when cut to this rate or more; below, sqrt(rate / this) times it
LINE_SLOPE = (1 - BETA) / (BETA * RECOVERY_SECONDS)  # /s, times sqrt(cut rate * max(it, 200))
ROUNDING = 1e-9  # seconds: a wait this short is the rounding of a float, not a wait
GRACE_INTERVALS = 10  # no second cut for requests sent within this many intervals of a cut


class RateLimiter:
    """CUBIC-governed token bucket; every method takes ``now`` in monotonic seconds."""

    __slots__ = (
        "_cut_at",
        "_cut_rate",
        "_grace_until",
        "_inflection",
        "_issued",
        "_last_fail",
        "_last_refill",
        "_on_at",
        "_reserved",
        "_responses",
        "_start_successes",
        "_w_max",
        "enabled",
        "rate",
    )

    def __init__(self, now: float) -> None:
        self.enabled = False
        self.rate = MIN_RATE  # tokens per second while enabled
        self._responses = _RateMeter()
        # The start-up: when the limiter switched on, and the successes since (None after).
        self._on_at = now
        self._start_successes: int | None = 0
        # The rate and time of the last cut, where the line starts (once the start-up is over).
        self._cut_rate = MIN_RATE
        self._cut_at = now
        self._reserved = 0.0  # tokens promised to callers so far
        self._issued = 0.0  # tokens the bucket has made available so far
        self._last_refill = now
        self._w_max = MIN_RATE
        self._inflection = 0.0
        self._last_fail = now
        self._grace_until = now

    def __repr__(self) -> str:
        state = f"rate={self.rate:.2f}/s" if self.enabled else "off"
        return f"<RateLimiter {state} measured={self.measured_rate:.2f}/s>"

    # --- sending ------------------------------------------------------------------------

    def reserve(self, now: float) -> float:
        """Take the next place in line; return its ticket for :meth:`wait`."""
        self._refill(now)
        ticket = self._reserved
        self._reserved += 1.0
        return ticket

    def wait(self, ticket: float, now: float) -> float:
        """Seconds until ``ticket``'s token is issued at the rate now in force; 0: go.

        Ask again after sleeping: a cut in the meantime moves every waiting turn back, so the
        queue drains at the new rate, not the one in force when it formed.
        """
        if not self.enabled:
            return 0.0
        self._refill(now)
        wait = (ticket + 1.0 - self._issued) / self.rate
        return wait if wait > ROUNDING else 0.0

    def sleep_for(self, ticket: float, now: float) -> float:
        """How long ``ticket``'s holder should sleep before asking again; 0: go.

        The whole wait when it is at most two intervals; otherwise half of it, but at least
        two intervals. Unless the rate more than doubles in that time, the holder wakes before
        its token is issued, so a climbing rate paces the queue as smoothly as a steady one.
        """
        wait = self.wait(ticket, now)
        least = 2.0 / self.rate
        return wait if wait <= least else max(wait / 2, least)

    def wait_for(self, now: float) -> float:
        """The wait a request reserving now would face (for callers who would not wait)."""
        return self.wait(self._reserved, now)

    def refund(self, now: float) -> None:
        """A ticket holder gave up: its token goes to whoever is next."""
        self._refill(now)
        self._issued = min(self._issued + 1.0, self._reserved + self._capacity())

    def _capacity(self) -> float:
        # A short burst only: with a second's worth (the SDKs' choice), callers that sat out
        # a backoff come back all at once and overrun the quota right after a cut.
        return max(self.rate * BURST_SECONDS, 1.0)

    def _refill(self, now: float) -> None:
        elapsed = now - self._last_refill
        if elapsed > 0:
            self._last_refill = now
            if self.enabled:
                limit = self._reserved + self._capacity()
                self._issued = min(self._issued + elapsed * self.rate, limit)
            else:
                self._issued = self._reserved

    # --- receiving ----------------------------------------------------------------------

    def on_response(self, throttled: bool, now: float, sent_at: float | None = None) -> None:
        """Update the measured rate and, by CUBIC and the line, the allowed rate.

        Args:
            throttled: the response was a throttling error.
            now: when the response arrived.
            sent_at: when its request was sent. One sent before the last cut, or within
                ``GRACE_INTERVALS`` intervals of the new rate after it, met a quota still
                drained by the old rate: its throttle does not cut again.
        """
        self._responses.record(now)
        if not throttled and not self.enabled:
            return  # the common case, kept to one count
        measured = self._responses.rate(now)
        if not throttled:
            if self._start_successes is not None:
                self._start_successes += 1
            new_rate = self._climb(now)
        elif self.enabled and sent_at is not None and sent_at < self._grace_until:
            # the same congestion the last cut answered: no second cut, but no climb through
            # it either; back to the rate of the last cut, the line anew
            self._cut_at = now
            new_rate = min(self.rate, self._climb(now))
        else:
            new_rate = self._cut(measured, now)
        self._set_rate(min(new_rate, MAX_RATE_FACTOR * measured), now)

    def _cut(self, measured: float, now: float) -> float:
        """A throttle that cuts (switching the limiter on, the first time): the new rate."""
        current = min(measured, self.rate) if self.enabled else measured
        new_rate = current * BETA
        started = self._start_successes
        if (
            self.enabled
            and started is not None
            and started >= STARTUP_SUCCESSES
            and now - self._on_at >= STARTUP_WINDOW
        ):
            through = started / (now - self._on_at)
            new_rate = min(new_rate, through)
            self._start_successes = None
        new_rate = min(new_rate, current)
        self._w_max = current
        self._inflection = (current * (1 - BETA) / SCALE) ** (1 / 3)
        # start the curve where it passes new_rate (at its foot for a plain cut)
        self._last_fail = now - (self._inflection - ((current - new_rate) / SCALE) ** (1 / 3))
        self._grace_until = now + GRACE_INTERVALS / max(new_rate, MIN_RATE)
        if not self.enabled:
            self._on_at = now
            self._start_successes = 0
            self.enabled = True
            self._last_refill = now
            self._issued = self._reserved
        self._cut_rate = min(new_rate, MAX_RATE_FACTOR * measured)
        self._cut_at = now
        return new_rate

    def _climb(self, now: float) -> float:
        """The rate since the last cut: the CUBIC curve or the line, whichever is higher."""
        if self._start_successes is not None:
            line = self._cut_rate  # no line until the start-up cut
        else:
            rate = self._cut_rate
            slope = LINE_SLOPE * math.sqrt(rate * max(rate, RECOVERY_RATE))
            line = rate + slope * (now - self._cut_at)
        curve = SCALE * (now - self._last_fail - self._inflection) ** 3 + self._w_max
        return max(curve, line)

    def _set_rate(self, rate: float, now: float) -> None:
        self._refill(now)
        self.rate = max(rate, MIN_RATE)
        self._issued = min(self._issued, self._reserved + self._capacity())

    @property
    def measured_rate(self) -> float:
        """The smoothed rate of responses, in requests/s."""
        return self._responses.smoothed


class RateLimiters:
    """One adaptive limiter per KMS quota (:mod:`aiokms._quotas` names them), by quota name.

    KMS meters each quota on its own, so each has its own limiter: a throttle of one quota
    changes that quota's limiter and no other. A quota's limiter is made at its first request
    (to measure the rate its first throttle cuts from) and paces requests from that throttle
    on. Pure: every method takes ``now`` in monotonic seconds.
    """

    __slots__ = ("_limiters", "_make")

    def __init__(self, make: Callable[[float], RateLimiter] = RateLimiter) -> None:
        """``make(now)`` makes a quota's limiter (another kind of limiter, for experiments)."""
        self._limiters: dict[str, RateLimiter] = {}
        self._make = make

    def __repr__(self) -> str:
        on = ", ".join(f"{name!r}: {rate:.2f}/s" for name, rate in self.rates().items())
        return f"<RateLimiters {len(self._limiters)} quotas, on: {{{on}}}>"

    def get(self, quota: str) -> RateLimiter | None:
        """``quota``'s limiter, or ``None`` before its first request."""
        return self._limiters.get(quota)

    def turn(self, quota: str, now: float) -> RateLimiter | None:
        """The limiter a request of ``quota`` must take a ticket from now; ``None``: go."""
        limiter = self._limiters.get(quota)
        if limiter is None:
            limiter = self._limiters[quota] = self._make(now)
        return limiter if limiter.enabled else None

    def on_response(
        self, quota: str, throttled: bool, now: float, sent_at: float | None = None
    ) -> None:
        """A reply to a request of ``quota``: see :meth:`RateLimiter.on_response`."""
        limiter = self._limiters.get(quota)
        if limiter is None:
            limiter = self._limiters[quota] = self._make(now)
        limiter.on_response(throttled, now, sent_at)

    def rates(self) -> dict[str, float]:
        """The rate of every limiter switched on, in requests/s, by quota name."""
        return {name: lim.rate for name, lim in self._limiters.items() if lim.enabled}


class _RateMeter:
    """Events per second: counts per half-second bucket, smoothed across buckets.

    The first window starts at the first event, not at a bucket boundary, and its rate is taken
    as it is (not averaged with an initial zero). Until it completes, the rate since the first
    event stands in, so a throttle in the first moments cuts from what was really sent rather
    than from nothing (the SDKs' meter reads zero there).
    """

    __slots__ = ("_count", "_roll_at", "_warm", "_window_start", "smoothed")

    def __init__(self) -> None:
        self.smoothed = 0.0
        self._count = 0
        self._window_start: float | None = None
        self._roll_at = -math.inf  # when the window being counted ends
        self._warm = False

    def record(self, now: float) -> None:
        """Count one event at ``now``."""
        if now >= self._roll_at:
            self._roll(now)
        self._count += 1

    def rate(self, now: float) -> float:
        """The current estimate, in events per second."""
        if now >= self._roll_at:
            self._roll(now)
        if self._warm:
            return self.smoothed
        if self._window_start is None:
            return 0.0
        return self._count / max(now - self._window_start, MIN_WINDOW)

    def _roll(self, now: float) -> None:
        bucket = math.floor(now / BUCKET_SECONDS) * BUCKET_SECONDS
        if self._window_start is None:
            self._window_start = now
        elif bucket > self._window_start:
            current = self._count / max(bucket - self._window_start, MIN_WINDOW)
            if self._warm:
                self.smoothed = current * SMOOTHING + self.smoothed * (1 - SMOOTHING)
            else:
                self.smoothed, self._warm = current, True
            self._count = 0
            self._window_start = bucket
        self._roll_at = bucket + BUCKET_SECONDS
