"""Adaptive mode's client-side rate limiters: one per KMS quota, each a token bucket whose rate
follows CUBIC.

How this works. KMS meters each quota on its own (:mod:`aiokms._quotas`), so the client keeps a
:class:`RateLimiter` per quota in a :class:`RateLimiters` map: a throttle of one quota changes
that quota's limiter only. A limiter goes through three phases, as a TCP connection does:

* Slow start, from the quota's first request to its first throttle. Nothing is known of the
  quota, which may take 5 requests/s or 100,000. Four requests may be in flight at first, and
  each success lets one more be (the window doubles every round trip, as TCP's does), so the
  first overload of a small quota is a handful of requests, not every caller at once. Once 256
  requests may be in flight without a throttle the limiter is off: requests pass freely (a
  large quota never notices it; the window is open within a few round trips). Whoever waits
  for a place in the window looks again within a round trip.
* The start-up, from the first throttle. The rate the quota takes is measured by overdriving
  it a little: the limiter sends at twice the rate of the successes it has counted since the
  throttle (over 50 ms at least), or of those of the last 50 ms once there are 10 of them
  (so that against a large quota the rate doubles every 50 ms, as slow start's window
  doubles every round trip), and about half its requests succeed, whatever the quota. Until
  its first success it counts one, or it could not begin; not after: one success too many
  adds 2/s divided by the start-up's age in seconds to its rate (4/s at half a second), as
  much as the whole share of each process of a fleet whose shares are a few requests a
  second, and such a fleet's start-ups overdrove the quota three times over (simulated:
  1,000 processes of 16 callers sharing 5,500/s lost 4,269 of 234,000 calls in three runs
  of 10 s, and 2,423 without it). Only
  the replies to its own requests count: those sent in slow start's overshoot, still coming
  back, met the quota's burst, not its rate (counted, they made a quota of 100/s look like
  1,000/s). It ends at a throttle once it has counted 10 successes over 50 ms or more, with a
  cut from the rate of those successes -- what the quota let through, which would fill it,
  and overfill it where other processes share it (TCP's slow start ends with a cut too) --
  or, when a second goes by without a throttle, at the rate it has reached (no cut, so no
  grace follows: with a few callers, most of them in backoff, a start-up can go a second
  without a throttle at twice the quota's rate, and the next throttles must cut). A limiter
  whose quota first pushes back after half a second or more of replies has measured its rate
  already and skips the start-up: a plain cut. How often the quota throttled the start-up's
  own requests tells whether the limiter fills its quota alone (overdriven, a quota throttles
  about one request in two) or holds a share of one that others fill (its overdrive is a
  small part of what the quota takes, and few of its requests are throttled): fewer than one
  throttle per three successes, and the small-rate rule below does not apply.
* Congestion avoidance. On a throttle the rate drops to 0.7x the rate in force (or the measured
  rate of responses, if lower), remembered as ``w_max``; the CUBIC curve
  ``C * (t - t_fail - K)^3 + w_max`` with ``K = cbrt(w_max * 0.3 / C)`` then lets it climb
  back: fast at first, flat near ``w_max``, probing above it later. ``C`` is 0.4 (requests/s
  per s^3) from ``w_max`` = 200/s up, in proportion to ``w_max`` below, so that the curve
  probes a small quota as gently, in proportion, as a large one. A rate is never set above
  twice the measured rate, nor below 0.5/s.
  Throttles of requests sent before the last cut, or after it within its grace -- ten
  intervals of the new rate, but no longer than 0.7 of the time the line below takes to
  regain the cut, nor than half a second -- do not cut again, nor change anything else: they
  met a quota still drained by the old rate and report the same congestion, late (as TCP
  cuts its window once per round trip). Without this, the burst of throttles one overload
  produces would cut the rate many times over, and a quota that refills only a little
  faster than the new rate needs a few intervals to stop throttling. Where the line is quick
  for its rate (from about 15 to 48/s, 0.7 of its climb back is shorter than ten
  intervals), a throttle once it is most of the way back is the quota pushing back again,
  and cuts: the rate cannot climb through a quota that still throttles. Below 20/s ten
  intervals last seconds, far longer than a quota shared with others takes to answer a cut:
  a fleet whose processes each had a few requests a second of their quota went on
  overdriving it through those seconds (simulated: 100 processes of 16 callers sharing
  300/s, 17.4% of the requests throttled after the first 2 s; with the half second 11.6%),
  and a few callers alone at 5 or 10/s, whose quota refills more slowly after a cut, were
  throttled no more often with the half second than without it.
* The rate climbs back along the CUBIC curve or along a line from the rate of the last cut,
  whichever is higher (RFC 9438's CUBIC likewise runs a line beside its curve, its
  "Reno-friendly region"). CUBIC alone takes ``K`` (about 7 s at 400/s) to climb back after a
  cut. The line regains a 0.7x cut in 0.6 s when the rate cut to is 200 requests/s or more,
  and below that in a time that shrinks with the square root of the rate: 0.42 s at 100/s,
  0.3 s at 50/s. Its slope is set afresh at every cut. Why the square root: processes
  sharing one quota, each with its own limiter, pacing their requests exactly, are cut about
  equally often whatever their shares (their turns fall into step, and the quota's token
  bucket throttles a sparse sender's requests more often than a dense one's; sent out of
  step, as on a loaded machine, each request about as often, so a larger share is cut more
  often: simulated). A line in proportion to the rate then leaves every share where chance
  put it -- at the start-up, which rests on a dozen successes or so, or later -- while one
  that grows less than in proportion lets a smaller share climb back faster, in proportion
  to itself, than a larger one, so the shares even out, in step or not (measured, in
  benchmarks/README.md).
  Above 200/s the line keeps to 0.6 s, so a large rate regains a cut in well under a second
  (with the square root there too, a cut to 1,400/s would take 1.6 s). Why not quicker: each
  process of a fleet is throttled about once per climb back, whatever its share, so a
  quicker line throttles more, and a call fails where its three attempts each meet a
  throttle. Four processes sharing 400/s, simulated, had 4.0% of their requests throttled
  after the start-up with a line of 0.3 s, 2.7% with 0.45 s and 2.0% with 0.6 s; runs in
  which some call spent its three attempts on throttles went from 13 in 60 to 3 with
  0.45 s, and from 16 in 480 to 6 with 0.6 s (a fleet of 100 sharing 10,000/s: 188 calls
  lost in 50 runs, 80 with 0.6 s). Why not slower: a process learns where it stands only
  from its own throttles, so with fewer of them the shares even out more slowly (the fleet
  of 100's spread over 10 s grew a tenth to a seventh with 0.6 s), and a client alone
  regains a cut more slowly (benchmarks/README.md).
* Below 20 requests/s -- KMS's control-plane quotas, 5 to 15/s for most operations -- the
  square root would regain a cut within a request or two, and a client alone against such a
  quota would see a third of its requests throttled or more (simulated). There the line
  regains a cut in
  ``0.3 s * (20 / rate)^4``, at most 40 intervals: 0.3 s at 20/s, 0.95 s at 15/s, 4 s at
  10/s, 8 s at 5/s. (From about 22/s up the square root is the slower of the two: processes
  sharing a large quota keep to rates that high, and there a small share must climb back
  fast.) The rule applies to a limiter that fills its quota alone (as its start-up found):
  a process whose start-up left it a small share of a large quota, below 20/s, would
  otherwise climb back from each cut over seconds while the others take seconds' worth of
  cuts less, and keep that share (simulated: a process of a fleet of 4 held to a fifth of
  its fair share for 10 s).
* A request takes a ticket (:meth:`RateLimiter.reserve`), its place in line, and waits until
  the bucket has issued that many tokens (:meth:`RateLimiter.wait`). It sleeps in steps
  (:meth:`RateLimiter.sleep_for`) and asks again after each: a cut re-paces the whole queue,
  and a rate that climbs while the queue waits is not overslept (a waiter who slept its whole
  wait at the old rate would wake after its token was issued and go in a burst with every
  other late waker, and a quota throttles bursts). Waiters thus queue in order without a lock
  or a background task; one who gives up passes its token on (:meth:`RateLimiter.refund`),
  and a request that got no reply gives its place in slow start's window back
  (:meth:`RateLimiter.on_lost`). The bucket saves up at most 50 ms of its rate, not the SDKs'
  full second, so callers back from a backoff do not burst into a quota that just pushed back.
* Probing costs throttles, and no call should pay for them with its last attempt. A caller
  whose call fails if its request is throttled (its last attempt, after a throttle) holds the
  limiter's probes for the last four intervals before its turn
  (:meth:`RateLimiter.hold_probes`): the rate stays at or below 0.8x the rate of the last
  cut, or the rate cut to if that is higher, and in the start-up at half the rate its
  requests succeed at, not twice it (:meth:`RateLimiter.safe_rate`): below where the quota
  has taken what was sent. Once it has gone, the curve, the line or the start-up go on. Most
  throttles after the start-up meet probes above the rate of the last cut, and the callers a
  small quota throttled in its first burst, two attempts left, would otherwise lose some
  calls to them (measured, in benchmarks/README.md). Held from its first place in line
  instead, a queue in which some call is always on its last attempt kept the rate down for
  as long as the queue lasted: a process sharing a quota never regained its share
  (simulated: held at 2.5/s, where its fair share was 100/s).
  In a start-up that has had no success yet, the quota has taken nothing the limiter knows
  of, and no rate is safe: there such a caller waits for the first success, or two seconds
  from the first throttle at most (:meth:`RateLimiter.proof_wait`), whatever its token
  says; and after a success of the start-up, an interval of the hold's rate (two seconds at
  most), whatever its token says: that success took the token the quota had saved, and the
  limiter's own bucket may have one saved too. A few callers against a quota of 5/s had sent
  last attempts into a quota their first burst had just emptied, a few hundredths of a
  second after their second (real client, simulated time, 200 seeds each of 4 and 8 callers
  at 5, 10 and 20/s: runs with a failed call 33 of 1,200 before, 15 with the half rate and
  the wait for a first success; 31 with the half rate alone, 28 with the wait alone), and
  then, a hundredth of a second after the first success (7 of those 15; with the interval
  after it, 7 of 1,200 runs lose a call, each where a start-up ended calm above the quota,
  which had saved up while the callers sat out their backoffs).
* Every response updates a measured rate: counts per half-second bucket, smoothed
  exponentially (weight 0.8 on the newest bucket); before the first bucket completes, the
  rate since the first response.

Pure: the caller passes the time; waiting (with asyncio) is the client's job. A limiter that
switches on (its quota's first throttle) or off (slow start over without one) says so at INFO
on the ``aiokms.ratelimit`` logger, naming its quota.
"""

from __future__ import annotations

import logging
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
STARTUP_WINDOW = 0.05  # seconds: the start-up measures its success rate over this at least
STARTUP_SUCCESSES = 10  # ... and over this many successes before it ends
RECOVERY_SECONDS = 0.6  # after the start-up, the line regains a 0.7x cut in this time ...
RECOVERY_RATE = 200.0  # ... when cut to this rate or more; below, sqrt(rate / this) times it
SMALL_RATE = 20.0  # below this, a cut is regained in SMALL_SECONDS * (this / rate)^4 ...
SMALL_SECONDS = 0.3
SMALL_INTERVALS = 40.0  # ... but at most in this many intervals
ROUNDING = 1e-9  # seconds: a wait this short is the rounding of a float, not a wait
INITIAL_WINDOW = 4  # slow start: requests in flight at first, one more per success ...
SLOW_START_LIMIT = 256  # ... until a throttle, or this many: then off until a throttle
FIRST_RTT = 0.005  # seconds: slow start's guess at a round trip before the first reply
RTT_GAIN = 0.125  # weight of each round trip in the smoothed one (TCP's SRTT)
STARTUP_GAIN = 2.0  # the start-up sends at this many times the rate that succeeds
STARTUP_CALM = 1.0  # seconds without a throttle that end the start-up where it is
GRACE_INTERVALS = 10  # no second cut for requests sent within this many intervals of a cut ...
GRACE_REGAIN = 0.7  # ... nor longer than this share of the time the line takes to regain it
GRACE_SECONDS = 0.5  # ... nor than this
SAFE_SHARE = 0.8  # while a call's last attempt waits, the rate stays at or below this x w_max
START_SAFE_SHARE = 0.5  # ... in the start-up, this x the rate its requests succeed at
HOLD_INTERVALS = 4.0  # ... for this many intervals before its turn
PROOF_LIMIT = 1 / MIN_RATE  # seconds from the switch a last attempt waits for a first success
PROOF_POLL = 0.02  # ... asking again after this many seconds
ALONE_SHARE = 1 / 3  # a start-up ending with at least this many throttles per success: alone

_log = logging.getLogger("aiokms.ratelimit")


class RateLimiter:
    """CUBIC-governed token bucket; every method takes ``now`` in monotonic seconds."""

    __slots__ = (
        "_alone",
        "_cut_at",
        "_cut_rate",
        "_grace_until",
        "_holds",
        "_inflection",
        "_issued",
        "_last_fail",
        "_last_refill",
        "_on_at",
        "_reserved",
        "_responses",
        "_rtt",
        "_scale",
        "_slow_start",
        "_start_half_at",
        "_start_proof_at",
        "_start_recent",
        "_start_successes",
        "_start_throttled_at",
        "_start_throttles",
        "_w_max",
        "_window",
        "enabled",
        "quota",
        "rate",
    )

    def __init__(self, now: float) -> None:
        self.quota = ""  # the name of its KMS quota, for the log (RateLimiters sets it)
        self.enabled = False  # on: the rate paces every request
        self.rate = MIN_RATE  # tokens per second while enabled
        self._responses = _RateMeter()
        # Slow start, until the first throttle or a window of SLOW_START_LIMIT.
        self._slow_start = True
        self._window = INITIAL_WINDOW  # requests it lets be in flight
        self._rtt = 0.0  # smoothed round trip, seconds (0: no reply yet)
        # The start-up: when the limiter switched on, the successes and the last throttle
        # since (successes None once it is over); the successes of the last two half windows
        # (STARTUP_WINDOW / 2 each), the current one begun at _start_half_at.
        self._on_at = now
        self._start_successes: int | None = None
        self._start_throttles = 0
        self._start_throttled_at = now
        self._start_proof_at = now  # a caller holding the probes goes no sooner (proof_wait)
        self._start_recent = (0, 0)
        self._start_half_at = now
        # The rate and time of the last cut, where the line starts.
        self._cut_rate = MIN_RATE
        self._cut_at = now
        # whether the start-up found the quota filled by this limiter's own requests (not a
        # share of one others fill): the small-rate rule of the line applies only then
        self._alone = True
        self._holds = 0  # callers near their turn whose call fails if their request is throttled
        self._reserved = 0.0  # tokens promised to callers so far
        self._issued = float(INITIAL_WINDOW)  # tokens made available so far
        self._last_refill = now
        self._w_max = MIN_RATE
        self._scale = SCALE
        self._inflection = 0.0
        self._last_fail = now
        self._grace_until = now

    def __repr__(self) -> str:
        if self.enabled:
            state = f"rate={self.rate:.2f}/s"
        elif self._slow_start:
            state = f"slow start window={self._window}"
        else:
            state = "off"
        return f"<RateLimiter {state} measured={self.measured_rate:.2f}/s>"

    @property
    def paces(self) -> bool:
        """Whether requests take a ticket and wait their turn (in slow start, or on)."""
        return self.enabled or self._slow_start

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
        queue drains at the new rate, not the one in force when it formed. In slow start a
        token comes with a reply, not with time: the wait is a guess, a round trip at most.
        """
        if self.enabled:
            self._refill(now)
            wait = (ticket + 1.0 - self._issued) / self.rate
            return wait if wait > ROUNDING else 0.0
        if self._slow_start:
            short = ticket + 1.0 - self._issued
            if short <= 0:
                return 0.0
            rtt = self._rtt or FIRST_RTT
            return rtt * min(short / self._window, 1.0)
        return 0.0

    def sleep_for(self, ticket: float, now: float) -> float:
        """How long ``ticket``'s holder should sleep before asking again; 0: go.

        The whole wait when it is at most two intervals; otherwise half of it, but at least
        two intervals. Unless the rate more than doubles in that time, the holder wakes before
        its token is issued, so a climbing rate paces the queue as smoothly as a steady one.
        """
        wait = self.wait(ticket, now)
        if not self.enabled:
            return wait
        least = 2.0 / self.rate
        return wait if wait <= least else max(wait / 2, least)

    def wait_for(self, now: float) -> float:
        """The wait a request reserving now would face (for callers who would not wait)."""
        return self.wait(self._reserved, now)

    def hold_probes(self, ticket: float, now: float) -> bool:
        """Whether ``ticket``'s holder, whose call fails if its request is throttled (its last
        attempt, after a throttle), now holds the probes: once its turn is HOLD_INTERVALS
        intervals away or less, and until it has gone (:meth:`release_probes`), the rate stays
        at :meth:`safe_rate` or below, where the quota took what was sent. Held only that
        long, the probes wait a few intervals per call: a queue of last attempts, held from
        its first place in line, would keep the rate down as long as the queue lasted."""
        if self.enabled and self.wait(ticket, now) * self.rate > HOLD_INTERVALS:
            return False
        self._holds += 1
        if self.enabled:
            self._set_rate(min(self.rate, self.safe_rate(now)), now)
        return True

    def proof_wait(self, now: float) -> float:
        """How long a caller holding the probes may still have to wait once its token is
        issued: in the start-up before its first success, until PROOF_LIMIT seconds from the
        switch -- a success ends it, so ask again within PROOF_POLL; after a success of the
        start-up, until an interval of the hold's rate (:meth:`safe_rate`) after it, as the
        success took the token the quota had saved (PROOF_LIMIT at most); otherwise 0."""
        successes = self._start_successes
        if successes is None:  # no start-up
            return 0.0
        wait = (self._on_at + PROOF_LIMIT if successes == 0 else self._start_proof_at) - now
        return wait if wait > ROUNDING else 0.0

    def release_probes(self, now: float) -> None:
        """A caller :meth:`hold_probes` counted has sent its request, or given up."""
        self._holds -= 1

    def safe_rate(self, now: float) -> float:
        """The rate probes may not pass while a caller holds them: 0.8x the rate of the last
        cut, or the rate cut to, whichever is higher; in the start-up, half the rate its
        requests succeed at (not twice it)."""
        if self._start_successes is not None:  # below what got through so far
            return START_SAFE_SHARE * self._start_through(now)
        return max(self._cut_rate, SAFE_SHARE * self._w_max)

    def refund(self, now: float) -> None:
        """A ticket holder gave up: its token goes to whoever is next."""
        self._refill(now)
        if self.enabled:
            self._issued = min(self._issued + 1.0, self._reserved + self._capacity())
        elif self._slow_start:
            self._issued += 1.0

    def on_lost(self, now: float) -> None:
        """A request sent got no reply (a transport error, or its caller gave up on it)."""
        if self._slow_start:
            self._issued += 1.0  # its place in the window is free again

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
            elif not self._slow_start:
                self._issued = self._reserved

    # --- receiving ----------------------------------------------------------------------

    def on_response(self, throttled: bool, now: float, sent_at: float | None = None) -> None:
        """Update the measured rate and, by the start-up, CUBIC and the line, the allowed rate.

        Args:
            throttled: the response was a throttling error.
            now: when the response arrived.
            sent_at: when its request was sent. One sent before the last cut, or after it
                but within its grace, met a quota still drained by the old rate: its
                throttle does not cut again. One sent before the limiter switched on does not
                count in the start-up.
        """
        self._responses.record(now)
        if not self.enabled:
            if not throttled:
                if self._slow_start:
                    self._slow_start_reply(now, sent_at)
                return  # off: the common case, kept to one count
            new_rate = self._switch_on(self._responses.rate(now), now)
            switched_on = True
        else:
            switched_on = False
            if self._start_successes is not None:
                if sent_at is not None and sent_at < self._on_at:
                    return  # sent in slow start's overshoot: it measures nothing of the quota
                new_rate = self._start_up(throttled, now)
            elif not throttled:
                new_rate = self._climb(now)
            elif sent_at is not None and sent_at < self._grace_until:
                return  # the same congestion the last cut answered, reported late: no second cut
            else:
                current = min(self._responses.rate(now), self.rate)
                new_rate = self._cut(current, current * BETA, now)
        if self._holds:
            new_rate = min(new_rate, self.safe_rate(now))
        self._set_rate(min(new_rate, MAX_RATE_FACTOR * self._responses.rate(now)), now)
        if switched_on:
            _log.info(
                "adaptive limiter of quota %r on after its first throttle: %.1f requests/s",
                self.quota,
                self.rate,
            )

    def _slow_start_reply(self, now: float, sent_at: float | None) -> None:
        if sent_at is not None:
            rtt = now - sent_at
            self._rtt = rtt if not self._rtt else self._rtt + (rtt - self._rtt) * RTT_GAIN
        self._issued += 2.0  # its own place in the window, and one more: the window grows
        self._window += 1
        if self._window >= SLOW_START_LIMIT:
            self._slow_start = False  # the quota takes bursts this large: off until a throttle
            _log.info(
                "adaptive limiter of quota %r off: %d requests in flight without a throttle",
                self.quota,
                SLOW_START_LIMIT,
            )

    def _switch_on(self, measured: float, now: float) -> float:
        """The first throttle: the limiter goes on; the rate it starts at."""
        # those waiting for a place in slow start's window keep their places in line; tickets
        # taken while off went at once
        self._issued = min(self._issued, self._reserved) if self._slow_start else self._reserved
        self.enabled = True
        self._slow_start = False
        self._on_at = now
        self._last_refill = now
        if self._responses.warm:  # the rate it met the quota at is known: a plain cut
            return self._cut(measured, measured * BETA, now)
        self._start_successes = 0
        self._start_throttles = 0
        self._start_throttled_at = now
        self._start_recent = (0, 0)
        self._start_half_at = now
        return self._cut(measured, min(measured * BETA, self._start_up_rate(now)), now)

    def _start_up(self, throttled: bool, now: float) -> float:
        """A response in the start-up: the rate it sets, or the one the start-up ends at."""
        successes = self._start_successes
        assert successes is not None
        on_for = now - self._on_at
        if throttled:
            self._start_throttled_at = now
            self._start_throttles += 1
            if successes >= STARTUP_SUCCESSES and on_for >= STARTUP_WINDOW:
                # the rate the quota let through while the start-up overdrove it, cut as any
                # rate that met a throttle is (TCP's slow start ends with a cut too): sent at
                # that rate, the quota would be full, and with others sharing it, overfull
                self._start_successes = None
                self._alone = self._start_throttles >= successes * ALONE_SHARE
                through = min(successes / on_for, self.rate)
                return self._cut(through, through * BETA, now)
            return self._start_up_rate(now)
        successes = self._start_successes = successes + 1
        self._start_window(now)
        # this success took what the quota had saved: a held request goes an interval of the
        # hold's rate after it
        self._start_proof_at = now + min(1.0 / self.safe_rate(now), PROOF_LIMIT)
        recent, current = self._start_recent
        self._start_recent = (recent, current + 1)
        if successes >= STARTUP_SUCCESSES and now - self._start_throttled_at >= STARTUP_CALM:
            # the quota has taken this rate for a while: no cut, the line from here, and no
            # grace (nothing was cut, so a throttle from now on is no late echo of a cut)
            self._start_successes = None
            rate = self._cut(self.rate, self.rate, now)
            self._grace_until = now
            return rate
        return self._start_up_rate(now)

    def _start_up_rate(self, now: float) -> float:
        return STARTUP_GAIN * self._start_through(now)

    def _start_through(self, now: float) -> float:
        """The rate the start-up's requests succeed at: its successes since the switch, over
        STARTUP_WINDOW at least, or those of the last window where that is higher."""
        # one success before the first, or the start-up could not begin; none after
        since_on = max(self._start_successes or 0, 1) / max(now - self._on_at, STARTUP_WINDOW)
        return max(since_on, self._start_window(now))

    def _start_window(self, now: float) -> float:
        """The start-up's successes/s over the last STARTUP_WINDOW (0 with fewer than
        STARTUP_SUCCESSES there, too few to go by): where the quota is large, the start-up
        doubles its rate every window, not only every time its time since the switch
        doubles."""
        half = STARTUP_WINDOW / 2
        elapsed = now - self._start_half_at
        if elapsed >= half:
            current = self._start_recent[1]
            self._start_recent = (current, 0) if elapsed < 2 * half else (0, 0)
            self._start_half_at = now if elapsed >= 2 * half else self._start_half_at + half
            elapsed = now - self._start_half_at
        count = sum(self._start_recent)
        return count / (half + elapsed) if count >= STARTUP_SUCCESSES else 0.0

    def _cut(self, current: float, new_rate: float, now: float) -> float:
        """Cut from ``current`` to ``new_rate`` (never higher): the curve, line and grace."""
        new_rate = min(new_rate, current)
        self._w_max = current
        scale = self._scale = SCALE * min(1.0, max(current, MIN_RATE) / RECOVERY_RATE)
        self._inflection = (current * (1 - BETA) / scale) ** (1 / 3)
        # start the curve where it passes new_rate (at its foot for a plain cut)
        self._last_fail = now - (self._inflection - ((current - new_rate) / scale) ** (1 / 3))
        cut_rate = self._cut_rate = min(new_rate, MAX_RATE_FACTOR * self._responses.rate(now))
        # no longer than the line takes to regain the cut: a throttle after that is no echo
        # of this congestion, but the line meeting the quota again
        grace = min(
            GRACE_INTERVALS / max(new_rate, MIN_RATE),
            GRACE_REGAIN * _regain_time(cut_rate, self._alone),
            GRACE_SECONDS,
        )
        self._grace_until = now + grace
        self._cut_at = now
        return new_rate

    def _climb(self, now: float) -> float:
        """The rate since the last cut: the CUBIC curve or the line, whichever is higher."""
        rate = self._cut_rate
        regain = _regain_time(rate, self._alone)
        line = rate + (1 - BETA) / BETA * rate * (now - self._cut_at) / regain
        curve = self._scale * (now - self._last_fail - self._inflection) ** 3 + self._w_max
        return max(curve, line)

    def _set_rate(self, rate: float, now: float) -> None:
        self._refill(now)
        self.rate = max(rate, MIN_RATE)
        self._issued = min(self._issued, self._reserved + self._capacity())

    @property
    def measured_rate(self) -> float:
        """The smoothed rate of responses, in requests/s."""
        return self._responses.smoothed


def _regain_time(rate: float, alone: bool = True) -> float:
    """Seconds the line takes to regain a 0.7x cut to ``rate`` (see the module docstring);
    ``alone``: the limiter fills its quota by itself, and the small-rate rule applies."""
    regain = RECOVERY_SECONDS * math.sqrt(min(rate, RECOVERY_RATE) / RECOVERY_RATE)
    if not alone:
        return regain
    small = min(SMALL_INTERVALS / rate, SMALL_SECONDS * (SMALL_RATE / rate) ** 4)
    return max(regain, small)


class RateLimiters:
    """One adaptive limiter per KMS quota (:mod:`aiokms._quotas` names them), by quota name.

    KMS meters each quota on its own, so each has its own limiter: a throttle of one quota
    changes that quota's limiter and no other. A quota's limiter is made at its first request:
    its slow start paces the quota's first requests, and from the quota's first throttle its
    rate paces every request (:meth:`rates` lists those, by quota). Between the two, once slow
    start is over without a throttle, the quota's requests go freely. Pure: every method
    takes ``now`` in monotonic seconds.
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
            limiter = self._new(quota, now)
        return limiter if limiter.paces else None

    def on_response(
        self, quota: str, throttled: bool, now: float, sent_at: float | None = None
    ) -> None:
        """A reply to a request of ``quota``: see :meth:`RateLimiter.on_response`."""
        limiter = self._limiters.get(quota)
        if limiter is None:
            limiter = self._new(quota, now)
        limiter.on_response(throttled, now, sent_at)

    def _new(self, quota: str, now: float) -> RateLimiter:
        limiter = self._limiters[quota] = self._make(now)
        limiter.quota = quota
        return limiter

    def on_lost(self, quota: str, now: float) -> None:
        """A request of ``quota`` got no reply: see :meth:`RateLimiter.on_lost`."""
        limiter = self._limiters.get(quota)
        if limiter is not None:
            limiter.on_lost(now)

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

    __slots__ = ("_count", "_roll_at", "_window_start", "smoothed", "warm")

    def __init__(self) -> None:
        self.smoothed = 0.0
        self._count = 0
        self._window_start: float | None = None
        self._roll_at = -math.inf  # when the window being counted ends
        self.warm = False  # a whole bucket has been counted: the rate is not a guess

    def record(self, now: float) -> None:
        """Count one event at ``now``."""
        if now >= self._roll_at:
            self._roll(now)
        self._count += 1

    def rate(self, now: float) -> float:
        """The current estimate, in events per second."""
        if now >= self._roll_at:
            self._roll(now)
        if self.warm:
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
            if self.warm:
                self.smoothed = current * SMOOTHING + self.smoothed * (1 - SMOOTHING)
            else:
                self.smoothed, self.warm = current, True
            self._count = 0
            self._window_start = bucket
        self._roll_at = bucket + BUCKET_SECONDS
