"""Adaptive mode's rate limiters: driven by explicit times (no clock, no sleeping), and a
client's, one per KMS quota, against LocalKMS's quotas on virtual time."""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import importlib.util
import itertools
import logging
import math
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import pytest
from botocore.exceptions import ClientError

import aiokms
from aiokms._quotas import SYMMETRIC
from aiokms._ratelimit import (
    BURST_SECONDS,
    GRACE_INTERVALS,
    HOLD_INTERVALS,
    INITIAL_WINDOW,
    MIN_WINDOW,
    PROOF_LIMIT,
    SAFE_SHARE,
    SLOW_START_LIMIT,
    START_SAFE_SHARE,
    RateLimiter,
    RateLimiters,
)
from tests import virtual_time
from tests.fake_kms import FakeKMS, client_of, failing_twice
from tests.fault_server import FaultServer, fault_client
from tests.helpers import BOUND, FrozenClock, assert_idle, limiter_of, until
from tests.virtual_time import Load, client_of_local, describing, load, local_kms


def steady(
    limiter: RateLimiter,
    rate: float,
    start: float,
    end: float,
    *,
    throttled: bool = False,
    sent_at: float | None = None,
) -> None:
    """Responses every ``1 / rate`` seconds from ``start`` up to (not including) ``end``."""
    for i in range(round((end - start) * rate)):
        limiter.on_response(throttled, start + i / rate, sent_at)


def scale_of(w_max: float) -> float:
    """CUBIC's constant: 0.4 from w_max = 200/s up, in proportion to w_max below."""
    return 0.4 * min(1.0, w_max / 200.0)


def k_of(w_max: float) -> float:
    """CUBIC's K: how long after a plain cut the curve is back at ``w_max``."""
    return float((w_max * 0.3 / scale_of(w_max)) ** (1 / 3))


def cubic(since_cut: float, w_max: float) -> float:
    """The rate the module docstring promises ``since_cut`` seconds after a plain cut."""
    return scale_of(w_max) * (since_cut - k_of(w_max)) ** 3 + w_max


def cut_from(rate: float) -> RateLimiter:
    """``rate`` responses/s for two seconds, then a throttle at t=2: a plain cut."""
    limiter = RateLimiter(0.0)
    steady(limiter, rate, 0.0, 2.0)
    limiter.on_response(True, 2.0)
    return limiter


def cut_from_16() -> RateLimiter:
    """16 responses/s for two seconds (8 per half-second bucket), then a throttle at t=2."""
    return cut_from(16.0)


def regain_of(rate: float) -> float:
    """The seconds the module docstring gives the line to regain a 0.7x cut to ``rate``."""
    regain = 0.6 * math.sqrt(min(rate, 200.0) / 200.0)
    return max(regain, min(40.0 / rate, 0.3 * (20.0 / rate) ** 4))


def grace_of(cut_to: float) -> float:
    """The grace the module docstring gives a plain cut to ``cut_to``: ten intervals, at most
    0.7 of the line's regain and half a second."""
    return min(GRACE_INTERVALS / cut_to, 0.7 * regain_of(cut_to), 0.5)


def tickets(limiter: RateLimiter, count: int, now: float) -> list[float]:
    return [limiter.reserve(now) for _ in range(count)]


# --- slow start, then off until the first throttle -------------------------------------


def test_slow_start_lets_four_go_then_one_more_per_success() -> None:
    limiter = RateLimiter(0.0)
    assert limiter.paces and not limiter.enabled
    held = tickets(limiter, 8, 0.0)
    assert [limiter.wait(ticket, 0.0) for ticket in held[:INITIAL_WINDOW]] == [0.0] * 4
    assert all(limiter.wait(ticket, 0.0) > 0 for ticket in held[INITIAL_WINDOW:])
    assert repr(limiter) == "<RateLimiter slow start window=4 measured=0.00/s>"
    limiter.on_response(False, 0.01, 0.0)  # a success: its own place back, and one more
    assert [limiter.wait(ticket, 0.01) for ticket in held[4:6]] == [0.0, 0.0]
    assert limiter.wait(held[6], 0.01) > 0
    for _ in range(2):
        limiter.on_response(False, 0.01, 0.0)
    assert [limiter.wait(ticket, 0.01) for ticket in held] == [0.0] * 8
    assert repr(limiter) == "<RateLimiter slow start window=7 measured=0.00/s>"


def test_slow_start_waiters_look_again_within_a_round_trip() -> None:
    limiter = RateLimiter(0.0)
    held = tickets(limiter, 40, 0.0)
    assert limiter.sleep_for(held[-1], 0.0) == pytest.approx(0.005)  # no reply yet: a guess
    for _ in range(4):
        limiter.on_response(False, 0.02, 0.0)  # round trips of 20 ms
    # 8 free places now (ticket 4 to 11); ticket 12 is 1 short of a window of 8: an eighth
    assert limiter.wait(held[12], 0.02) == pytest.approx(0.02 / 8)
    assert limiter.wait(held[39], 0.02) == pytest.approx(0.02)  # far back: a round trip


def test_a_request_without_a_reply_or_a_caller_gives_its_place_back() -> None:
    limiter = RateLimiter(0.0)
    held = tickets(limiter, 6, 0.0)
    assert limiter.wait(held[4], 0.0) > 0
    limiter.on_lost(0.01)  # one of the first four: a transport error
    assert limiter.wait(held[4], 0.01) == 0.0
    assert limiter.wait(held[5], 0.01) > 0
    limiter.refund(0.01)  # the fifth gave up: its place goes to the sixth
    assert limiter.wait(held[5], 0.01) == 0.0


def test_slow_start_ends_off_once_the_window_is_256() -> None:
    limiter = RateLimiter(0.0)
    for i in range(SLOW_START_LIMIT - INITIAL_WINDOW - 1):
        limiter.on_response(False, i / 1000, i / 1000)
    assert limiter.paces
    limiter.on_response(False, 1.0, 1.0)
    assert not limiter.paces and not limiter.enabled
    assert repr(limiter).startswith("<RateLimiter off measured=")


def test_off_until_the_first_throttle() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 100, 0.0, 3.0)
    assert not limiter.enabled and not limiter.paces
    held = tickets(limiter, 1000, 3.0)
    assert [limiter.wait(ticket, 3.0) for ticket in held] == [0.0] * 1000
    assert limiter.wait_for(3.0) == 0.0
    assert repr(limiter) == "<RateLimiter off measured=100.00/s>"


def test_tickets_taken_while_off_do_not_count_once_on() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 100, 0.0, 3.0)  # out of slow start
    tickets(limiter, 500, 2.99)  # callers that went freely while the limiter was off
    limiter.on_response(True, 3.0)
    assert limiter.enabled
    # the bucket starts empty, but with no queue behind the 500 that already went
    assert limiter.wait_for(3.0) == pytest.approx(1 / limiter.rate)


def test_a_throttle_in_slow_start_keeps_those_in_line_in_order() -> None:
    limiter = RateLimiter(0.0)
    held = tickets(limiter, 10, 0.0)  # 4 go, 6 wait for places in the window
    limiter.on_response(True, 0.02, 0.0)  # the first reply is a throttle: on, the start-up
    assert limiter.enabled and limiter.paces
    rate = limiter.rate
    waits = [limiter.wait(ticket, 0.02) for ticket in held[4:]]
    assert waits == pytest.approx([(i + 1) / rate for i in range(6)])


def test_the_first_throttle_cuts_to_07_of_the_measured_rate() -> None:
    limiter = cut_from_16()
    assert limiter.enabled
    assert limiter.measured_rate == 16.0
    assert limiter.rate == pytest.approx(0.7 * 16)
    assert repr(limiter) == "<RateLimiter rate=11.20/s measured=16.00/s>"


def test_successes_alone_never_switch_it_on() -> None:
    limiter = RateLimiter(0.0)
    for second in range(60):
        steady(limiter, 50, float(second), second + 1.0)
    assert not limiter.enabled


# --- the measured rate ---------------------------------------------------------------------


def test_first_throttle_during_warm_up_measures_from_the_first_response() -> None:
    limiter = RateLimiter(0.0)
    for now in (10.0, 10.1, 10.2):
        limiter.on_response(False, now)
    limiter.on_response(True, 10.3)  # 4 responses over 0.3 s, all in the first bucket
    # a start-up (below), at 0.7x the rate since the first response where that is lower
    assert limiter.rate == pytest.approx(0.7 * 4 / 0.3)


def test_a_throttle_as_the_very_first_response_is_measured_over_the_shortest_window() -> None:
    limiter = RateLimiter(0.0)
    limiter.on_response(True, 7.0)
    assert limiter.measured_rate == 0.0
    assert 0.7 / MIN_WINDOW > 40.0
    assert limiter.rate == pytest.approx(40.0)  # the start-up's first rate is lower


def test_a_partial_first_bucket_is_taken_as_it_is() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 16, 0.25, 0.5)  # 4 responses in the quarter second before the boundary
    assert limiter.measured_rate == 0.0  # no bucket has completed yet
    limiter.on_response(False, 0.5)
    assert limiter.measured_rate == 16.0  # 4 / 0.25 s, not averaged with a starting zero


def test_measured_rate_is_smoothed_over_half_second_buckets() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 16, 0.0, 2.0)
    assert limiter.measured_rate == 16.0
    steady(limiter, 8, 2.0, 2.5)  # rolls [1.5, 2.0): still 16/s
    assert limiter.measured_rate == 16.0
    limiter.on_response(False, 2.5)  # rolls [2.0, 2.5): 4 responses = 8/s
    assert limiter.measured_rate == pytest.approx(0.8 * 8 + 0.2 * 16)
    steady(limiter, 8, 2.625, 3.0)
    limiter.on_response(False, 3.0)  # rolls [2.5, 3.0): 4 responses again
    assert limiter.measured_rate == pytest.approx(0.8 * 8 + 0.2 * (0.8 * 8 + 0.2 * 16))


def test_idle_buckets_count_as_empty() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 16, 0.0, 1.0)
    limiter.on_response(False, 3.0)  # the 8 responses of [0.5, 1.0) spread over [0.5, 3.0)
    assert limiter.measured_rate == pytest.approx(0.8 * 8 / 2.5 + 0.2 * 16)


# --- CUBIC growth after a cut --------------------------------------------------------------


@pytest.mark.parametrize("since_cut", [0.0625, 0.5, 1.0, 1.5, 2.0])
def test_rate_follows_the_cubic_curve_after_a_cut(since_cut: float) -> None:
    limiter = cut_from_16()
    steady(limiter, 16, 2.0625, 2.0 + since_cut)
    limiter.on_response(False, 2.0 + since_cut)
    assert limiter.measured_rate == 16.0
    assert limiter.rate == pytest.approx(cubic(since_cut, 16.0))
    assert 0.7 * 16 < limiter.rate < 16.0


def test_the_curve_starts_at_the_cut_rate() -> None:
    limiter = cut_from_16()
    limiter.on_response(False, 2.0)  # a success in the same instant
    assert limiter.rate == pytest.approx(0.7 * 16)


def test_rate_reaches_w_max_at_k_and_probes_above_it_later() -> None:
    limiter = cut_from(8.0)  # at 8/s the line below takes 7 s to regain the cut: the curve leads
    k = k_of(8.0)
    assert k**3 == pytest.approx(150.0)
    steady(limiter, 8, 2.125, 2.0 + k)
    limiter.on_response(False, 2.0 + k)
    assert limiter.rate == pytest.approx(8.0)
    steady(limiter, 8, 2.0 + k + 0.125, 2.0 + k + 1.0)
    limiter.on_response(False, 2.0 + k + 1.0)
    assert limiter.rate == pytest.approx(8.0 + 0.016)
    assert limiter.rate == pytest.approx(cubic(k + 1.0, 8.0))


def test_the_curve_takes_as_long_to_return_at_any_rate_up_to_200_per_s() -> None:
    # C in proportion to w_max: K = cbrt(0.3 * 200 / 0.4), 5.3 s, below 200/s; more above
    assert k_of(5.0) == pytest.approx(k_of(150.0)) == pytest.approx(150 ** (1 / 3))
    assert k_of(400.0) > k_of(200.0) == pytest.approx(150 ** (1 / 3))
    for rate in (8.0, 16.0):
        limiter = cut_from(rate)
        steady(limiter, rate, 2.0 + 1 / rate, 3.0)
        limiter.on_response(False, 3.0)  # one second on, the curve leads in both
        assert limiter.rate == pytest.approx(cubic(1.0, rate))


def test_growth_is_fast_then_flat_near_w_max() -> None:
    limiter = cut_from(8.0)
    rates = []
    for step in range(1, 21):  # every quarter second up to t=7 (K is 5.3 s)
        steady(limiter, 8, 2.0 + (step - 1) / 4 + 1 / 8, 2.0 + step / 4)
        limiter.on_response(False, 2.0 + step / 4)
        rates.append(limiter.rate)
    assert rates[-1] < 8.0
    gains = [b - a for a, b in itertools.pairwise(rates)]
    assert all(gain > 0 for gain in gains)
    assert gains == sorted(gains, reverse=True)  # concave below w_max


def test_never_above_twice_the_measured_rate() -> None:
    limiter = cut_from_16()
    steady(limiter, 16, 2.0625, 2.5)
    limiter.on_response(False, 12.0)  # long quiet: the measured rate falls, the line soars
    assert 0.7 * 16 + 10 * 0.3 * 16 / regain_of(0.7 * 16) > 20
    assert limiter.measured_rate < 16.0
    assert limiter.rate == pytest.approx(2 * limiter.measured_rate)


def test_never_below_half_a_request_per_second() -> None:
    limiter = RateLimiter(0.0)
    limiter.on_response(False, 0.0)
    limiter.on_response(True, 20.0)  # measured: 1 response in 20 s
    assert limiter.measured_rate == pytest.approx(1 / 20)
    assert limiter.rate == 0.5
    grace = GRACE_INTERVALS / 0.5
    for now in (20 + grace + 1, 20 + 2 * grace + 2):  # later throttles, each past the grace
        limiter.on_response(True, now, now)
        assert limiter.rate == 0.5
    limiter.on_response(False, 20 + 2 * grace + 3)  # the curve from w_max=0.05 starts below 0.5
    assert limiter.rate == 0.5


# --- tickets -------------------------------------------------------------------------------


def test_reservations_are_spaced_one_interval_apart() -> None:
    limiter = cut_from_16()
    rate = limiter.rate
    held = tickets(limiter, 10, 2.0)
    waits = [limiter.wait(ticket, 2.0) for ticket in held]
    assert waits == pytest.approx([(i + 1) / rate for i in range(10)])
    assert limiter.wait_for(2.0) == pytest.approx(11 / rate)


def test_waits_shrink_as_the_bucket_fills() -> None:
    limiter = cut_from_16()
    rate = limiter.rate
    held = tickets(limiter, 4, 2.0)
    later = 2.0 + 2.5 / rate
    waits = [limiter.wait(ticket, later) for ticket in held]
    assert waits == pytest.approx([0.0, 0.0, 0.5 / rate, 1.5 / rate])
    for place, ticket in enumerate(held):  # each, asking again after its wait, may go
        assert limiter.wait(ticket, 2.0 + (place + 1) / rate + 1e-9) == 0.0


def test_a_cut_while_waiting_re_paces_the_queue() -> None:
    limiter = cut_from_16()
    steady(limiter, 16, 2.0625, 6.0)  # climbed back past w_max by the line
    assert limiter.rate > 16.0
    before = limiter.rate
    held = tickets(limiter, 5, 6.0)
    waits = [limiter.wait(ticket, 6.0) for ticket in held]
    limiter.on_response(True, 6.0, 6.0)
    assert limiter.rate == pytest.approx(0.7 * 16)  # min(measured, rate) x 0.7
    after = [limiter.wait(ticket, 6.0) for ticket in held]
    assert after[0] == waits[0] == 0.0  # the bucket's saved token
    assert after[1:] == pytest.approx([w * before / limiter.rate for w in waits[1:]])
    assert all(b > a for a, b in zip(waits[1:], after[1:], strict=True))


def test_refund_passes_the_token_to_the_next_in_line() -> None:
    limiter = cut_from_16()
    rate = limiter.rate
    held = tickets(limiter, 3, 2.0)
    limiter.refund(2.0)  # the first caller gave up
    assert [limiter.wait(ticket, 2.0) for ticket in held[1:]] == pytest.approx([1 / rate, 2 / rate])


def test_refunds_never_save_up_more_than_the_burst() -> None:
    limiter = cut_from_16()
    held = tickets(limiter, 5, 2.0)
    for _ in range(20):  # more refunds than there are waiters
        limiter.refund(2.0)
    assert [limiter.wait(ticket, 2.0) for ticket in held] == [0.0] * 5
    after = tickets(limiter, 2, 2.0)
    # capacity at 11.2/s is one token: one more goes now, the next waits an interval
    assert limiter.wait(after[0], 2.0) == 0.0
    assert limiter.wait(after[1], 2.0) == pytest.approx(1 / limiter.rate)


def test_the_bucket_saves_at_least_one_token() -> None:
    limiter = cut_from_16()
    assert limiter.rate * 0.05 < 1
    held = tickets(limiter, 3, 60.0)  # a minute idle
    waits = [limiter.wait(ticket, 60.0) for ticket in held]
    assert waits == pytest.approx([0.0, 1 / limiter.rate, 2 / limiter.rate])


def test_the_bucket_saves_at_most_50_ms_of_its_rate() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 128, 0.0, 2.0)
    limiter.on_response(True, 2.0)
    rate = limiter.rate
    assert rate == pytest.approx(0.7 * 128)
    burst = 0.05 * rate  # 4.48 tokens
    held = tickets(limiter, 7, 30.0)
    waits = [limiter.wait(ticket, 30.0) for ticket in held]
    assert waits[:4] == [0.0] * 4 == [0.0] * math.floor(burst)
    assert waits[4:] == pytest.approx([(i + 1 - burst) / rate for i in range(4, 7)])


def test_a_cut_shrinks_what_the_bucket_has_saved() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 128, 0.0, 2.0)
    limiter.on_response(True, 2.0)
    steady(limiter, 128, 2.0078125, 7.0)  # back on the plateau (K is 4.58 s at 128/s)
    before = limiter.rate
    assert before > 128
    assert [limiter.wait(ticket, 7.1) for ticket in tickets(limiter, 6, 7.1)].count(0.0) == 6
    limiter.on_response(True, 7.2, 7.2)  # the bucket is full again: 0.05 x the old rate
    after = limiter.rate
    assert after == pytest.approx(0.7 * 128)
    burst = 0.05 * after
    held = tickets(limiter, 6, 7.2)
    waits = [limiter.wait(ticket, 7.2) for ticket in held]
    assert math.floor(0.05 * before) > waits.count(0.0) == math.floor(burst)
    assert waits[-1] == pytest.approx((6 - burst) / after)


def test_short_waits_are_slept_whole_and_long_ones_in_halves() -> None:
    limiter = cut_from_16()
    rate = limiter.rate
    held = tickets(limiter, 10, 2.0)
    sleeps = [limiter.sleep_for(ticket, 2.0) for ticket in held]
    assert sleeps[:2] == pytest.approx([1 / rate, 2 / rate])  # at most two intervals: whole
    assert sleeps[2] == pytest.approx(2 / rate)  # half of three intervals, but two at least
    assert sleeps[9] == pytest.approx(5 / rate)  # half of ten
    off = RateLimiter(0.0)
    assert off.sleep_for(off.reserve(0.0), 0.0) == 0.0


Sleeper = Callable[[RateLimiter, float, float], float]


def paced(limiter: RateLimiter, callers: int, start: float, sleeper: Sleeper) -> list[float]:
    """When each of ``callers`` queued at ``start`` goes (in the order of their tickets), each
    sleeping as ``sleeper`` says and asking again; each send's success comes back 2 ms later,
    so the rate climbs."""
    events = [(start, 0, limiter.reserve(start)) for _ in range(callers)]  # (time, kind, ticket)
    sent: dict[float, float] = {}
    while events:
        now, kind, ticket = heapq.heappop(events)
        if kind == 1:
            limiter.on_response(False, now)
        elif (delay := sleeper(limiter, ticket, now)) > 0:
            heapq.heappush(events, (now + max(delay, 1e-6), 0, ticket))  # a clock always moves
        else:
            sent[ticket] = now
            heapq.heappush(events, (now + 0.002, 1, ticket))
    return [sent[ticket] for ticket in sorted(sent)]


def test_a_queue_follows_a_climbing_rate_in_order_and_without_bursts() -> None:
    # 300 callers queue at 89.6/s just after a cut from 128/s; the line then climbs
    stepped = paced(cut_from(128.0), 300, 2.0, RateLimiter.sleep_for)
    whole = paced(cut_from(128.0), 300, 2.0, RateLimiter.wait)  # the old way:
    # each whole wait slept at the rate of the moment
    assert len(stepped) == len(whole) == 300
    assert stepped == sorted(stepped)  # first come, first served
    # the stepped queue keeps up with the line; the other drains at about the first rate
    assert stepped[-1] - 2.0 < 0.6 * (whole[-1] - 2.0)
    assert whole[-1] - 2.0 > 0.9 * 299 / 89.6
    # and no burst: never more than the bucket's saved tokens and the interval's own
    assert max(sum(t <= u < t + 0.01 for u in stepped) for t in stepped) <= 4


# --- one cut per congestion event: the grace rule -----------------------------------------


def overloaded() -> RateLimiter:
    """Cut at t=2, then a second of throttles for requests sent at the cut: nothing succeeds."""
    limiter = cut_from_16()
    steady(limiter, 16, 2.0625, 3.0, throttled=True, sent_at=2.0)
    return limiter


def test_throttles_of_requests_sent_before_the_cut_do_not_cut_again() -> None:
    limiter = overloaded()
    assert limiter.rate == pytest.approx(0.7 * 16)  # sixteen late throttles, no second cut
    limiter.on_response(True, 3.0, 1.99)
    assert limiter.rate == pytest.approx(0.7 * 16)


def test_throttles_sent_within_the_grace_after_the_cut_do_not_cut_again() -> None:
    limiter = overloaded()
    grace = grace_of(limiter.rate)
    limiter.on_response(True, 3.0, 2.0 + grace * 0.99)
    assert limiter.rate == pytest.approx(0.7 * 16)


def test_a_throttle_sent_after_the_grace_cuts_again() -> None:
    limiter = overloaded()
    grace = grace_of(limiter.rate)
    limiter.on_response(True, 3.0, 2.0 + grace)
    # nothing succeeded since the cut: the measured rate is lower, the rate in force cut again
    assert limiter.rate == pytest.approx(0.7 * 0.7 * 16)
    # ... and the new cut has its own grace
    limiter.on_response(True, 3.1, 2.9)
    limiter.on_response(True, 3.1, 3.0 + 0.99 * grace_of(limiter.rate))
    assert limiter.rate == pytest.approx(0.7 * 0.7 * 16)


@pytest.mark.parametrize("rate", [2.0, 5.0, 11.2, 19.0])
def test_the_grace_lasts_half_a_second_at_most(rate: float) -> None:
    """Below 20/s ten intervals last seconds, far longer than a quota shared with others takes
    to answer a cut: a fleet whose processes had a few requests a second each of their quota
    went on overdriving it through such graces (simulated: 100 processes sharing 300/s, 17.4%
    of requests throttled after the first 2 s; 11.6% with the half second)."""
    limiter = cut_from(rate)  # cut at t=2
    cut_to = limiter.rate
    assert GRACE_INTERVALS / cut_to > 0.5 and 0.7 * regain_of(cut_to) > 0.5
    limiter.on_response(True, 2.6, 2.49)  # sent within half a second of the cut: no cut
    assert limiter.rate == cut_to
    limiter.on_response(True, 2.6, 2.5)  # sent half a second after it: past the grace, a cut
    assert limiter.rate < cut_to


def test_a_throttle_without_a_send_time_always_cuts() -> None:
    limiter = overloaded()
    limiter.on_response(True, 3.0)
    assert limiter.rate == pytest.approx(0.7 * 0.7 * 16)


def test_an_ignored_throttle_leaves_the_curve_alone() -> None:
    graced = cut_from_16()
    graced.on_response(True, 2.05, 2.0)
    plain = cut_from_16()
    plain.on_response(False, 2.05)
    for now in (2.5, 3.0, 4.0):
        graced.on_response(False, now)
        plain.on_response(False, now)
        assert graced.rate == pytest.approx(plain.rate)


# --- the start-up --------------------------------------------------------------------------


def switched_on_cold(successes: int, until: float) -> RateLimiter:
    """Eight requests at t=0; the first throttle at t=0.02 (half a second of replies has not
    gone by: the start-up); then ``successes`` successes spread evenly until ``until``."""
    limiter = RateLimiter(0.0)
    for _ in range(4):
        limiter.on_response(False, 0.01, 0.0)
    limiter.on_response(True, 0.02, 0.01)
    assert limiter.enabled and limiter._start_successes == 0
    for i in range(successes):
        limiter.on_response(False, 0.02 + (i + 1) * (until - 0.02) / successes)
    return limiter


def test_a_cold_first_throttle_starts_at_2_per_50_ms() -> None:
    limiter = switched_on_cold(0, 0.02)
    assert limiter.rate == pytest.approx(2 / 0.05)  # 0.7 x the burst's 500/s is higher


def test_the_start_up_sends_at_twice_the_rate_of_its_successes() -> None:
    limiter = switched_on_cold(3, 0.12)  # 3 successes in 0.1 s
    assert limiter.rate == pytest.approx(2 * 3 / 0.1)
    limiter.on_response(True, 0.22, 0.2)  # a throttle before 10 successes: 0.2 s on now
    assert limiter.rate == pytest.approx(2 * 3 / 0.2)
    assert limiter._start_successes == 3


def test_the_start_up_counts_one_success_until_its_first_and_none_after() -> None:
    """It could not begin from none; one too many from then on adds 2/s divided by its age in
    seconds, as much as the share of each process of a fleet whose shares are a few requests
    a second (simulated: 1,000 processes of 16 callers sharing 5,500/s lost 4,269 calls in
    three runs of 10 s with it, 2,423 without)."""
    limiter = switched_on_cold(0, 0.02)
    limiter.on_response(True, 0.52, 0.5)  # half a second on, nothing through
    assert limiter.rate == pytest.approx(2 * 1 / 0.5)
    limiter.on_response(False, 0.62, 0.6)  # the first success
    assert limiter.rate == pytest.approx(2 * 1 / 0.6)  # one, not two
    limiter.on_response(False, 1.02, 1.0)
    assert limiter.rate == pytest.approx(2 * 2 / 1.0)


def test_the_start_up_ends_at_a_throttle_with_a_cut_from_what_got_through() -> None:
    """Sent at what got through, the quota would be full (and overfull, shared with others):
    the start-up ends with a cut, as TCP's slow start does."""
    limiter = switched_on_cold(10, 0.52)  # 10 successes in half a second: 20/s
    assert limiter.rate == pytest.approx(2 * 10 / 0.5)
    limiter.on_response(True, 0.52, 0.5)
    assert limiter._start_successes is None
    assert limiter.rate == pytest.approx(0.7 * 10 / 0.5)
    assert limiter._w_max == pytest.approx(10 / 0.5)


def test_the_start_up_waits_for_50_ms_and_10_successes() -> None:
    early = switched_on_cold(12, 0.06)  # 12 successes in 40 ms
    early.on_response(True, 0.06, 0.05)
    assert early._start_successes == 12  # the start-up goes on
    few = switched_on_cold(9, 1.0)
    few.on_response(True, 1.0, 0.9)
    assert few._start_successes == 9
    few.on_response(False, 1.05)
    few.on_response(True, 1.06, 1.0)  # the tenth success, then a throttle: the end
    assert few._start_successes is None
    assert few.rate == pytest.approx(0.7 * 10 / 1.04)


def test_a_second_without_a_throttle_ends_the_start_up_where_it_is() -> None:
    limiter = switched_on_cold(30, 1.0)  # 30/s, no throttle since the one that switched it on
    assert limiter._start_successes == 30
    limiter.on_response(False, 1.03)  # 1.01 s after that throttle
    assert limiter._start_successes is None
    assert limiter.rate == pytest.approx(2 * 30 / 0.98)  # no cut: where the start-up was
    assert limiter._w_max == pytest.approx(limiter.rate)


def test_a_throttle_right_after_a_calm_end_cuts() -> None:
    """A calm second ends the start-up without a cut, so no grace follows it: the grace
    ignores late echoes of the congestion a cut answered, and there was none. (With a few
    callers, most of them in backoff, a start-up can go a second without a throttle at a
    rate twice the quota's; with a grace after it, 8 callers alone at 5/s met throttles for
    that grace without a cut: up to 28% of their requests throttled after 2 s, simulated
    with the real client and LocalKMS.)"""
    limiter = switched_on_cold(30, 1.0)
    limiter.on_response(False, 1.03)  # a second without a throttle: the end, no cut
    assert limiter._start_successes is None
    calm = limiter.rate
    limiter.on_response(True, 1.05, 1.04)  # sent after the end: the quota pushes back
    assert limiter.rate == pytest.approx(0.7 * limiter._w_max)
    assert limiter.rate < calm


def test_the_start_up_counts_only_replies_to_its_own_requests() -> None:
    """Requests sent before the switch (slow start's overshoot) met the quota's burst: their
    late successes say nothing of its rate."""
    limiter = switched_on_cold(0, 0.02)  # switched on at t=0.02
    rate = limiter.rate
    for i in range(30):
        limiter.on_response(False, 0.021 + i * 0.0001, 0.015)  # sent before the switch
    assert limiter._start_successes == 0
    assert limiter.rate == rate
    limiter.on_response(True, 0.03, 0.015)  # nor do their throttles end it, or move it
    assert limiter._start_successes == 0 and limiter.rate == rate
    limiter.on_response(False, 0.07, 0.05)  # one of its own, 50 ms after the switch
    assert limiter._start_successes == 1
    assert limiter.rate == pytest.approx(2 * 1 / 0.05)


def test_a_start_up_with_10_successes_in_the_last_50_ms_goes_by_their_rate() -> None:
    """Against a large quota the start-up doubles its rate every window, as slow start's
    window doubles every round trip, rather than every time its time on doubles."""
    limiter = RateLimiter(0.0)
    for i in range(200):  # slow start met a large burst: 200 successes in 20 ms
        limiter.on_response(False, i * 0.0001, 0.0)
    limiter.on_response(True, 0.02, 0.019)
    assert limiter.enabled and limiter._start_successes == 0
    for i in range(10):  # then its own successes: 25/s for 0.4 s
        limiter.on_response(False, 0.06 + i * 0.04, 0.05 + i * 0.04)
    by_average = 2 * 10 / (0.42 - 0.02)
    assert limiter.rate == pytest.approx(by_average)
    for i in range(20):  # then 20 successes in 25 ms: 800/s
        now = 0.43 + i * 0.00125
        limiter.on_response(False, now, now - 0.003)
    assert limiter._start_successes == 30
    # twice 20 successes in at most the last 50 ms: ten times the average since the switch
    assert limiter.rate >= 2 * 20 / 0.05 > 10 * by_average


def test_a_limiter_that_measured_its_rate_skips_the_start_up() -> None:
    limiter = cut_from_16()  # half a second of replies before the first throttle
    assert limiter._start_successes is None
    assert limiter.rate == pytest.approx(0.7 * 16)


# --- the line -------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [50.0, 200.0, 800.0])
def test_the_line_regains_a_cut_in_06_s_from_200_per_s_up_and_sooner_below(rate: float) -> None:
    limiter = cut_from(rate)
    cut_to, w_max = limiter.rate, limiter._w_max
    # 0.25 s from 35/s, 0.5 s from 140/s, 0.6 s from 560/s
    regain = 0.6 * math.sqrt(min(cut_to, 200.0) / 200.0)
    assert regain == pytest.approx(regain_of(cut_to))
    # replies keep coming at the rate cut to: the measured rate, which caps the rate at twice
    # itself, stays where it was
    steady(limiter, cut_to, 2.0 + 1 / cut_to, 2.0 + regain / 2)
    limiter.on_response(False, 2.0 + regain / 2)
    assert limiter.rate == pytest.approx((cut_to + w_max) / 2)  # a line: halfway at half time
    steady(limiter, cut_to, 2.0 + regain / 2 + 1 / cut_to, 2.0 + regain)
    limiter.on_response(False, 2.0 + regain)
    assert limiter.rate == pytest.approx(w_max)
    assert limiter.rate > cubic(regain, w_max)  # the line, not the curve


@pytest.mark.parametrize(
    ("rate", "regain"), [(28.0, 0.3 * (20 / 19.6) ** 4), (20.0, 1.25), (10.0, 40 / 7.0)]
)
def test_below_20_per_s_the_line_regains_a_cut_slowly(rate: float, regain: float) -> None:
    limiter = cut_from(rate)
    cut_to = limiter.rate
    assert cut_to == pytest.approx(0.7 * rate)
    assert regain_of(cut_to) == pytest.approx(regain, rel=1e-3)
    assert regain > 0.6 * math.sqrt(cut_to / 200)  # slower than the square root
    steady(limiter, rate, 2.0 + 1 / rate, 2.0 + regain)
    limiter.on_response(False, 2.0 + regain)
    assert limiter.rate == pytest.approx(rate, rel=1e-3)  # (the curve a hair above)


def start_up_ending_at(successes: int, throttles: int) -> RateLimiter:
    """A start-up with ``successes`` successes and ``throttles`` throttles of its own requests
    over 0.5 s (15 successes/s at most: below 20/s once cut), then a throttle that ends it."""
    limiter = switched_on_cold(0, 0.02)
    events = [True] * throttles + [False] * successes  # throttles before 10 successes: no end
    for i, throttled in enumerate(events):
        now = 0.03 + i * 0.47 / len(events)
        limiter.on_response(throttled, now, now - 0.003)
    assert limiter._start_successes == successes
    limiter.on_response(True, 0.52, 0.51)
    assert limiter._start_successes is None
    return limiter


def test_a_start_up_the_quota_throttled_often_finds_its_small_rate_rule() -> None:
    """Overdriven by the start-up, a quota the limiter fills alone throttles about half of
    what it sends: below 20/s the line then regains a cut slowly (the small-rate rule)."""
    limiter = start_up_ending_at(10, 3)  # with the throttle that ends it: 4 per 10 successes
    cut_to, w_max = limiter.rate, limiter._w_max
    assert cut_to < 20.0
    assert regain_of(cut_to) > 1.0  # the small-rate rule's pace
    limiter.on_response(False, 0.52 + 0.6 * math.sqrt(cut_to / 200))
    assert limiter.rate < cut_to + 0.2 * (w_max - cut_to)


def test_a_start_up_throttled_seldom_shares_its_quota_and_regains_by_the_square_root() -> None:
    """A process that starts with a small share of a quota others fill met few throttles of
    its own in its start-up (its overdrive is a small part of what the quota takes): the
    small-rate rule, which would keep it at that share for seconds, does not apply, and the
    line regains a cut by the square root, as for any share of a large quota."""
    limiter = start_up_ending_at(12, 0)  # the one throttle that ends it: 1 per 12 successes
    cut_to, w_max = limiter.rate, limiter._w_max
    assert cut_to < 20.0
    regain = 0.6 * math.sqrt(cut_to / 200)
    limiter.on_response(False, 0.52 + regain / 2)
    assert limiter.rate == pytest.approx((cut_to + w_max) / 2)
    limiter.on_response(False, 0.52 + regain)
    assert limiter.rate == pytest.approx(w_max)


def test_the_line_is_set_afresh_at_every_cut() -> None:
    limiter = cut_from(128.0)
    steady(limiter, 160, 2.00625, 3.4)  # more gets through now: the measured rate climbs
    w_max = min(limiter.measured_rate, limiter.rate)
    assert w_max > 140.0
    limiter.on_response(True, 3.4, 3.4)  # past the grace: a plain cut
    assert limiter.rate == pytest.approx(0.7 * w_max)
    limiter.on_response(False, 3.4 + regain_of(0.7 * w_max))
    assert limiter.rate == pytest.approx(w_max)  # back at the rate cut from


def test_a_throttle_inside_the_grace_leaves_the_line_going() -> None:
    limiter = cut_from(200.0)
    cut_to, w_max = limiter.rate, limiter._w_max
    regain = regain_of(cut_to)
    steady(limiter, cut_to, 2.0 + 1 / cut_to, 2.0 + regain / 2)  # replies go on
    limiter.on_response(False, 2.0 + regain / 2)
    halfway = (cut_to + w_max) / 2
    assert limiter.rate == pytest.approx(halfway)
    limiter.on_response(True, 2.0 + regain / 2, 2.0)  # sent at the cut: inside its grace
    # an echo of the congestion the cut answered: no second cut, and the line goes on
    assert limiter.rate == pytest.approx(halfway)
    assert limiter._w_max == w_max
    steady(limiter, cut_to, 2.0 + regain / 2 + 1 / cut_to, 2.0 + regain)
    limiter.on_response(False, 2.0 + regain)
    assert limiter.rate == pytest.approx(w_max)


@pytest.mark.parametrize("rate", [25.0, 50.0])
def test_the_grace_ends_at_07_of_the_lines_regain_where_that_is_sooner(rate: float) -> None:
    """From about 15 to 59/s, 0.7 of the line's climb back is shorter than ten intervals: a
    throttle after that is the quota pushing back again, not an echo of the last cut."""
    limiter = cut_from(rate)
    cut_to = limiter.rate
    grace = 0.7 * regain_of(cut_to)
    assert grace < GRACE_INTERVALS / cut_to
    end = 2.0 + grace
    steady(limiter, cut_to, 2.0 + 1 / cut_to, end)
    climbed = limiter.rate
    assert climbed > cut_to
    limiter.on_response(True, end, end - 0.01 * grace)  # sent inside the grace: no cut
    assert limiter.rate == climbed
    limiter.on_response(True, end + 0.001, end)  # sent after it
    assert limiter.rate < climbed  # cut again
    assert limiter._cut_at == end + 0.001


def test_a_throttle_inside_the_grace_never_raises_the_rate() -> None:
    limiter = cut_from_16()  # cut to 11.2 at t=2
    assert cubic(0.3, 16.0) > 0.7 * 16  # the curve is higher by t=2.3; no success has said so
    limiter.on_response(True, 2.3, 2.0)
    assert limiter.rate == pytest.approx(0.7 * 16)


def test_a_caller_on_its_last_attempt_holds_the_probes_until_it_has_gone() -> None:
    limiter = cut_from(100.0)  # cut to 70 at t=2; the rate cut from, w_max: 100
    steady(limiter, 100, 2.01, 2.5)
    assert limiter.rate > limiter._w_max  # the line has regained the cut: probing above it
    climbing = limiter.rate
    assert limiter.hold_probes(limiter.reserve(2.5), 2.5)  # its turn is now
    safe = limiter.safe_rate(2.5)
    assert safe == pytest.approx(max(0.7 * 100, SAFE_SHARE * 100))
    assert limiter.rate == pytest.approx(safe)
    steady(limiter, 80, 2.5, 3.0)  # successes while it waits: no climb
    assert limiter.rate == pytest.approx(safe)
    limiter.release_probes(3.0)
    limiter.on_response(False, 3.0)
    assert limiter.rate > climbing  # the line and the curve go on where they were


def test_in_the_start_up_a_hold_keeps_the_rate_at_half_what_gets_through() -> None:
    limiter = switched_on_cold(3, 0.12)  # 3 successes in the 0.1 s since the switch
    assert limiter.rate == pytest.approx(2 * 3 / 0.1)
    assert limiter.hold_probes(limiter.reserve(0.12), 0.12)
    assert limiter.safe_rate(0.12) == pytest.approx(START_SAFE_SHARE * 3 / 0.1)
    assert limiter.rate == pytest.approx(0.5 * 3 / 0.1)  # not twice it, nor all of it
    limiter.on_response(False, 0.13, 0.125)
    assert limiter.rate == pytest.approx(0.5 * 4 / 0.11)
    limiter.release_probes(0.13)
    limiter.on_response(False, 0.14, 0.135)
    assert limiter.rate == pytest.approx(2 * 5 / 0.12)  # the start-up overdrives again


def test_before_its_first_success_a_start_up_asks_a_holder_to_wait_two_seconds_at_most() -> None:
    limiter = switched_on_cold(0, 0.02)  # on at t=0.02; nothing has got through since
    assert PROOF_LIMIT == 2.0
    assert limiter.proof_wait(0.03) == pytest.approx(1.99)  # at most; a success ends it
    assert limiter.proof_wait(0.02 + PROOF_LIMIT - 0.005) == pytest.approx(0.005)
    assert limiter.proof_wait(0.02 + PROOF_LIMIT) == 0.0  # even 0.5/s has a token again
    limiter.on_response(False, 0.05, 0.04)  # the quota has taken something, and with it the
    # token it had saved: the holder waits an interval of the hold's rate, half the rate its
    # requests succeed at (one in 0.05 s at least), after that success
    assert limiter.proof_wait(0.05) == pytest.approx(0.1)
    assert limiter.proof_wait(0.15) == 0.0
    limiter.on_response(False, 0.16, 0.155)  # and after each success of the start-up
    assert limiter.proof_wait(0.16) == pytest.approx(0.14)  # 2 in 0.14 s; held at 7.1/s
    assert cut_from(100.0).proof_wait(2.0) == 0.0  # no start-up


def test_a_holder_waits_an_interval_after_a_late_first_success_two_seconds_at_most() -> None:
    limiter = switched_on_cold(0, 0.0)
    limiter.on_response(False, 1.9, 1.89)  # 1 in 1.88 s: the hold's rate, 0.27/s
    assert limiter.proof_wait(1.9) == pytest.approx(PROOF_LIMIT)


def test_a_caller_holds_the_probes_only_in_the_last_intervals_before_its_turn() -> None:
    """A queue of last attempts, each holding the probes from its first place in line, would
    keep the rate down for as long as the queue lasted (a process sharing a quota with others
    then never regains its share): a caller holds them for its last few intervals only."""
    limiter = cut_from(100.0)  # cut to 70/s at t=2
    for _ in range(20):
        limiter.reserve(2.0)  # 20 callers in line before it
    ticket = limiter.reserve(2.0)
    assert limiter.wait(ticket, 2.0) * limiter.rate > HOLD_INTERVALS
    assert not limiter.hold_probes(ticket, 2.0)
    assert limiter._holds == 0
    now = 2.0
    while limiter.wait(ticket, now) * limiter.rate > HOLD_INTERVALS:
        now += limiter.sleep_for(ticket, now)
    assert limiter.hold_probes(ticket, now)
    assert limiter._holds == 1


def test_a_wait_within_float_rounding_is_no_wait() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 20, 0.0, 1.0)
    limiter.on_response(True, 1.0)
    ticket = limiter.reserve(1.0)
    wait = limiter.wait(ticket, 1.0)
    assert wait > 0
    # at 1.0 + wait the token is issued, though the sum rounds a hair short of it
    assert limiter.wait(ticket, 1.0 + wait) == 0.0
    assert limiter.sleep_for(ticket, 1.0 + wait) == 0.0


# --- one limiter per quota ------------------------------------------------------------------


def test_the_map_makes_a_quotas_limiter_at_its_first_request() -> None:
    limiters = RateLimiters()
    assert limiters.get("DescribeKey") is None
    made = limiters.turn("DescribeKey", 0.0)  # its slow start paces the first requests
    assert made is not None and made is limiters.get("DescribeKey") and not made.enabled
    assert limiters.rates() == {}
    for i in range(300):  # out of slow start: requests go freely
        limiters.on_response("DescribeKey", False, i / 100)
    assert limiters.turn("DescribeKey", 3.0) is None
    limiters.on_response("DescribeKey", True, 3.0)
    assert limiters.turn("DescribeKey", 3.0) is made and made.enabled
    assert limiters.rates() == {"DescribeKey": made.rate}


def test_a_limiter_switching_off_and_on_says_so_naming_its_quota(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiokms.ratelimit")
    limiters = RateLimiters()
    limiters.turn("DescribeKey", 0.0)
    for i in range(300):  # slow start's window reaches its limit at the 252nd success
        limiters.on_response("DescribeKey", False, i / 100)
    limiters.on_response("DescribeKey", True, 3.0)
    rates = limiters.rates()
    limiters.on_response("DescribeKey", True, 3.1)  # on already: said once
    limiters.on_response(SYMMETRIC, True, 3.2)  # a quota's first reply, a throttle
    rates[SYMMETRIC] = limiters.rates()[SYMMETRIC]
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.INFO,
            "adaptive limiter of quota 'DescribeKey' off: 256 requests in flight without a "
            "throttle",
        ),
        (
            logging.INFO,
            "adaptive limiter of quota 'DescribeKey' on after its first throttle: "
            f"{rates['DescribeKey']:.1f} requests/s",
        ),
        (
            logging.INFO,
            f"adaptive limiter of quota {SYMMETRIC!r} on after its first throttle: "
            f"{rates[SYMMETRIC]:.1f} requests/s",
        ),
    ]


def test_a_throttle_of_one_quota_leaves_every_other_alone() -> None:
    limiters = RateLimiters()
    for quota in ("Cryptographic operations (symmetric)", "DescribeKey"):
        for i in range(300):
            limiters.on_response(quota, False, i / 100)
    before = limiters.get("Cryptographic operations (symmetric)")
    assert before is not None
    state = repr(before)
    limiters.on_response("DescribeKey", True, 3.0)
    assert limiters.turn("Cryptographic operations (symmetric)", 3.0) is None
    assert repr(before) == state
    assert set(limiters.rates()) == {"DescribeKey"}


def test_a_lost_request_reaches_its_quotas_limiter() -> None:
    limiters = RateLimiters()
    limiter = limiters.turn("CreateKey", 0.0)
    assert limiter is not None
    held = tickets(limiter, 5, 0.0)
    limiters.on_lost("CreateKey", 0.01)
    limiters.on_lost("ListKeys", 0.01)  # no request of it yet: nothing to do
    assert limiter.wait(held[4], 0.01) == 0.0


def test_a_reply_makes_its_quotas_limiter_if_need_be() -> None:
    limiters = RateLimiters()
    limiters.on_response("CreateKey", True, 0.0)
    limiter = limiters.get("CreateKey")
    assert limiter is not None and limiter.enabled


def test_the_map_makes_limiters_as_told_and_shows_them() -> None:
    made: list[float] = []

    def make(now: float) -> RateLimiter:
        made.append(now)
        return RateLimiter(now)

    limiters = RateLimiters(make)
    limiters.turn("CreateKey", 3.0)
    limiters.turn("CreateKey", 4.0)
    assert made == [3.0]
    assert repr(limiters) == "<RateLimiters 1 quotas, on: {}>"
    limiters.on_response("CreateKey", True, 4.0)
    assert repr(limiters) == "<RateLimiters 1 quotas, on: {'CreateKey': 40.00/s}>"


# --- a client's limiters against LocalKMS's quotas, on virtual time ------------------------


async def mixed(seed: int, describers: int) -> tuple[Load, Load, aiokms.ClientStats]:
    """64 callers of GenerateDataKey against a 400/s quota, and ``describers`` callers of
    DescribeKey against its own quota of 10/s, for 5 s."""
    quotas = {SYMMETRIC: 400.0, "DescribeKey": 10.0}
    async with local_kms(quotas, seed) as local, client_of_local(local, seed) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]

        def generate() -> Awaitable[object]:
            return kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")

        def describe() -> Awaitable[object]:
            return kms.describe_key(KeyId=key_id)

        generated, described = await asyncio.gather(
            load(generate, 64, 5.0), load(describe, describers, 5.0)
        )
        return generated, described, kms.stats()


@pytest.mark.parametrize("seed", range(3))
def test_a_throttled_describe_key_never_slows_generate_data_key(seed: int) -> None:
    """Each quota has a limiter of its own: DescribeKey's throttles (its quota is 10/s) leave
    GenerateDataKey at its quota's 400/s, as if DescribeKey were not called at all. (With one
    limiter for every quota, GenerateDataKey got 42-46% of its quota here.)"""
    generated, described, stats = virtual_time.run(mixed(seed, describers=8))
    alone, _, _ = virtual_time.run(mixed(seed, describers=0))
    assert generated.failed == described.failed == Counter()
    assert stats.throttles > 0 and set(stats.limiter_rates) == {SYMMETRIC, "DescribeKey"}
    assert stats.limiter_rates["DescribeKey"] < 20.0  # held near its own quota
    assert generated.ok_late >= 0.9 * 400 * 3  # over the last 3 s, 90% of the quota or more
    assert generated.ok_late >= 0.95 * alone.ok_late
    assert described.ok_late <= 10 * 3 + 10  # DescribeKey's quota: 10/s and a second's burst


@pytest.mark.parametrize("quota", [5.0, 10.0, 20.0, 100.0])
@pytest.mark.parametrize("seed", range(5))
def test_64_callers_against_a_small_quota_lose_no_call_with_the_defaults(
    quota: float, seed: int
) -> None:
    """The limiter finds a small quota and holds callers in line for their turns: no call
    spends all its attempts on throttles, and once the first 2 s are over (the first burst
    against an unknown quota) at most 10% of requests are throttled."""
    result, settled, end = virtual_time.run(describing(quota, 64, seed))
    assert result.failed == Counter()
    assert result.ok_late >= 0.9 * quota * 8
    late_throttles = end.throttles - settled.throttles
    assert late_throttles <= 0.10 * (end.requests - settled.requests)
    assert set(end.limiter_rates) == {"DescribeKey"}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_few_callers_against_a_small_quota_are_throttled_seldom_after_the_start_up(
    seed: int,
) -> None:
    """8 callers against 5/s: most of them sit in backoff after the first burst, and the
    start-up ends with a calm second at twice the quota's rate. The throttles that follow
    must cut it (no grace follows a start-up that cut nothing): with a grace, these seeds had
    26% and 25% of their requests throttled after the first 2 s, and lost calls."""
    result, settled, end = virtual_time.run(describing(5.0, 8, seed))
    assert result.failed == Counter()
    late_throttles = end.throttles - settled.throttles
    assert late_throttles <= 0.10 * (end.requests - settled.requests)


# --- benchmarks/limiter_sim.py drives this limiter; keep the two in step ------------------


def _limiter_sim() -> ModuleType:
    name = "limiter_sim"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_limiter_sim_runs_the_limiter_against_its_quota_repeatably() -> None:
    sim = _limiter_sim()
    options = sim.Options(2, 8, 100.0, 2.0, 1e-4, (0.001, 0.004))
    first, again = sim.run(options, 3), sim.run(options, 3)
    assert first == again  # a seed fixes the run
    assert first["throttled_share"] > 0  # the limiter met the quota ...
    assert 0.7 < first["goodput_share"] < 1.3  # ... and settled near it
    assert len(first["fair_share_ratios"]) == 2
    assert sum(first["fair_share_ratios"]) == pytest.approx(2.0)  # shares of what they got


def test_limiter_sim_clients_on_shared_cores_queue_for_them() -> None:
    sim = _limiter_sim()
    # 10 ms of CPU per request (5 on either side) and a quota far above: CPU is the limit
    apart = sim.Options(4, 4, 10_000.0, 1.0, 0.005, (0.001, 0.001))
    together = sim.Options(4, 4, 10_000.0, 1.0, 0.005, (0.001, 0.001), cores=1)
    # (calls under way at the end count when they finish: a few more than a second's worth)
    each_own = sim.run(apart, 0)["goodput_share"] * 10_000  # about 100/s per client
    one_core = sim.run(together, 0)["goodput_share"] * 10_000  # about 100/s in all
    assert 390 < each_own < 430
    assert 95 < one_core < 125


def test_limiter_sim_staggered_clients_start_late_by_up_to_the_stagger() -> None:
    sim = _limiter_sim()
    # a quota far above and 10 ms of CPU per request: each client makes about 100 calls/s
    together = sim.Options(4, 4, 10_000.0, 1.0, 0.005, (0.001, 0.001))
    staggered = sim.Options(4, 4, 10_000.0, 1.0, 0.005, (0.001, 0.001), stagger=0.5)
    even, late = (
        [share * result["goodput_share"] for share in result["fair_share_ratios"]]  # calls/s
        for result in (sim.run(together, 0), sim.run(staggered, 0))
    )
    assert max(even) / min(even) < 1.05  # the same start, the same share
    # each client loses the calls of its late start, up to half a second's worth
    assert all(0.45 < kept <= 1.0 for kept in (x / y for x, y in zip(late, even, strict=True)))
    assert max(late) / min(late) > 1.1


def test_limiter_sim_held_rates_show_how_the_quota_treats_senders() -> None:
    sim = _limiter_sim()
    options = sim.Options(2, 16, 400.0, 2.0, 1e-4, (0.001, 0.004), (380.0, 70.0))
    dense, sparse = sim.run(options, 0)["throttled_shares"]
    assert 0 < dense < sparse  # 450/s against 400/s: the sparse sender loses more


def test_limiter_sim_jitter_takes_senders_out_of_step() -> None:
    """Senders paced exactly fall into step, and the quota throttles the sparse one's
    requests ten times as often as the others'; sent up to an interval late, about as often."""
    sim = _limiter_sim()
    rates = (10.0, 130.0, 130.0, 140.0)  # 410/s against 400/s
    for seed in range(3):
        in_step = sim.Options(4, 16, 400.0, 10.0, 1e-4, (0.001, 0.004), rates)
        sparse, *dense = sim.run(in_step, seed)["throttled_shares"]
        assert sparse > 5 * max(dense) > 0
        out_of_step = dataclasses.replace(in_step, jitter=1.0)
        sparse, *dense = sim.run(out_of_step, seed)["throttled_shares"]
        assert sparse <= 2 * max(dense)


def test_limiter_sim_buckets_hold_one_request_at_least() -> None:
    sim = _limiter_sim()
    options = sim.Options(1, 8, 5.0, 2.0, 1e-4, (0.001, 0.004), burst=0.1)  # 0.5 requests
    assert sim.run(options, 0)["goodput_share"] > 0.5


def test_limiter_sim_no_process_of_a_fleet_is_held_far_below_its_share() -> None:
    """Seed 44 of the fleet of 4 against a bucket of a second's worth: one process's
    start-up, its callers in backoff after the first burst, ended at a fifth of its fair
    share, and the small-rate rule and holds from the back of its queue kept it there for the
    whole run (0.14 of fair). The start-up's few throttles now say the quota is shared."""
    sim = _limiter_sim()
    options = sim.Options(4, 16, 400.0, 10.0, 1e-4, (0.001, 0.004), burst=1.0)
    result = sim.run(options, 44)
    assert min(result["fair_share_ratios"]) > 0.6


def test_limiter_sim_runs_a_fleet_given_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = _limiter_sim()
    argv = ["--clients", "3", "--workers", "2", "--quota", "50", "--runs", "1", "--seconds", "1"]
    assert sim.main(argv) == 0
    assert capsys.readouterr().out.startswith("3 x 2 at 50/s: goodput ")
    with pytest.raises(SystemExit):
        sim.main(["--clients", "0"])
    assert "--clients and --workers must be at least 1" in capsys.readouterr().err


def test_limiter_sim_counts_the_calls_that_failed() -> None:
    sim = _limiter_sim()
    result = sim.run(sim.Options(2, 4, 100.0, 1.0, 1e-4, (0.001, 0.004)), 0)
    assert result["calls"] > result["failed"] >= 0
    one = {**result, "failed": 3, "calls": 1200}
    assert "runs with failed calls 1/1 (3 of 1,200 calls)" in sim.summarize([one])
    assert "calls)" not in sim.summarize([{**one, "failed": 0}])


@pytest.mark.parametrize("quota", [5.0, 10.0, 20.0])
def test_limiter_sim_64_callers_at_a_small_quota_lose_no_call(quota: float) -> None:
    sim = _limiter_sim()
    options = sim.Options(1, 64, quota, 10.0, 1e-4, (0.001, 0.004), burst=1.0)
    result = sim.run(options, 0)
    assert result["failed"] == 0
    assert result["late_throttled_share"] <= 0.10  # after the first 2 seconds
    assert result["throttled_share"] > result["late_throttled_share"]  # the start-up's


# --- a client's limiters end to end: modes, max_rate_wait, cancelled turns -----------------


async def test_standard_mode_never_enables_the_limiter(fake: FakeKMS) -> None:
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with client_of(fake, retry_mode="standard", max_attempts=10) as kms:
        assert kms.retry_mode == "standard"
        for _ in range(5):
            with pytest.raises(kms.exceptions.ThrottlingException):
                await kms.list_keys()
        assert kms.stats().throttles == 50
        assert (kms.stats().limiter_rate, kms.stats().limiter_rates) == (None, {})
        assert kms._policy.limiters is None


async def test_adaptive_is_the_default_and_a_throttle_switches_the_limiter_on(
    fake: FakeKMS,
) -> None:
    async with client_of(fake) as kms:
        assert kms.retry_mode == "adaptive"
        for _ in range(3):
            await kms.list_keys()
        fake.error("Encrypt", "LimitExceededException", "too many grants")
        with pytest.raises(kms.exceptions.LimitExceededException):
            await kms.encrypt(KeyId="k", Plaintext=b"p")
        assert kms.stats().limiter_rates == {}
        fake.handle("ListKeys", failing_twice(400, b'{"__type": "ThrottlingException"}'))
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        stats = kms.stats()
        assert stats.limiter_rates == {"ListKeys": limiter_of(kms, "ListKeys").rate}
        assert stats.limiter_rates["ListKeys"] >= 0.5
        assert stats.limiter_rate is None  # the symmetric quota's: not throttled
        assert stats.throttles == 2
        assert stats.errors == {"LimitExceededException": 1, "ThrottlingException": 2}


async def test_max_rate_wait_zero_raises_rate_limited_without_sending(fake: FakeKMS) -> None:
    clock = FrozenClock()
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with client_of(fake, max_rate_wait=0, max_attempts=1, clock=clock) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        rate = limiter_of(kms, "ListKeys").rate
        fake.reply("ListKeys", {"Keys": []})
        with pytest.raises(aiokms.RateLimited) as caught:
            await kms.list_keys()  # the bucket starts empty when the limiter switches on
        assert isinstance(caught.value, aiokms.AiokmsError)
        assert not isinstance(caught.value, (ClientError, aiokms.TransportError))
        assert caught.value.wait == pytest.approx(1 / rate)
        assert len(fake.requests) == 1
        clock.advance(1.5 / rate)  # one and a half tokens
        await kms.list_keys()
        with pytest.raises(aiokms.RateLimited):
            await kms.list_keys()
        assert len(fake.requests) == 2
        assert_idle(kms)


async def test_max_rate_wait_sheds_calls_beyond_the_queue_it_allows(fake: FakeKMS) -> None:
    clock = FrozenClock()
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with client_of(fake, max_attempts=1, clock=clock, max_rate_wait=1.0) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        fake.reply("ListKeys", {"Keys": []})
        limiter = limiter_of(kms, "ListKeys")
        limiter.rate = 5.0  # pin it: turns 0.2 s apart, five within max_rate_wait
        queued = [asyncio.ensure_future(kms.list_keys()) for _ in range(5)]
        await asyncio.sleep(0)
        assert limiter.wait_for(clock()) == pytest.approx(6 / 5.0)
        with pytest.raises(aiokms.RateLimited) as caught:
            await kms.list_keys()
        assert caught.value.wait == pytest.approx(6 / 5.0)
        assert len(fake.requests) == 1 and not any(call.done() for call in queued)
        clock.advance(10.0)
        replies = await asyncio.wait_for(asyncio.gather(*queued), BOUND)
        assert [reply["Keys"] for reply in replies] == [[]] * 5
        assert len(fake.requests) == 6


@pytest.mark.parametrize("max_connections", [64, 1])
async def test_cancelling_calls_queued_in_the_limiter_passes_their_tokens_on(
    faults: FaultServer, max_connections: int
) -> None:
    clock = FrozenClock()  # frozen between the steps below: who may go is decided by the test
    faults.script.append("throttle")
    faults.policy = lambda: "hang"
    async with fault_client(
        faults.url, max_attempts=1, clock=clock, max_connections=max_connections
    ) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        limiter = limiter_of(kms, "ListKeys")
        clock.advance(1.0)  # the bucket fills up to its burst: a few calls may go at once
        burst = math.floor(limiter.rate * BURST_SECONDS)
        assert burst >= 2  # the start-up's first rate: 40/s, a burst of 2
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(200)]
        await until(lambda: kms.stats().in_flight == min(max_connections, burst))
        await asyncio.sleep(0.05)
        sent = faults.requests - 1
        assert 1 <= sent <= 3
        for call in calls:
            call.cancel()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        assert_idle(kms, max_connections)
        # the calls that never sent gave their tokens back: nobody is queued ahead of a new call
        assert limiter.wait_for(clock()) <= 1 / limiter.rate
        await until(lambda: faults.open_connections == 0)
        assert faults.requests == 1 + sent
        faults.policy = lambda: "ok"
        clock.advance(1.0)
        await asyncio.wait_for(kms.list_keys(), BOUND)
        assert_idle(kms, max_connections)


async def test_cancelled_calls_holding_a_token_but_no_slot_pass_it_on(faults: FaultServer) -> None:
    clock = FrozenClock()
    faults.script.append("throttle")
    faults.policy = lambda: "hang"
    async with fault_client(faults.url, max_attempts=1, clock=clock, max_connections=1) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        limiter = limiter_of(kms, "ListKeys")
        limiter.rate = 40.0  # pinned: the burst is two whole tokens (50 ms of 40/s)
        clock.advance(1.0)
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(3)]
        await until(lambda: faults.requests == 2)
        await asyncio.sleep(0.05)
        # one call sends and hangs; one has its token and waits for the slot; one is queued
        assert faults.requests == 2 and kms.stats().in_flight == 1
        for call in calls:
            call.cancel()
        await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
        assert_idle(kms, 1)
        # with the clock still stopped: the unsent token lets the next call go at once
        assert limiter.wait_for(clock()) == 0.0
        faults.policy = lambda: "ok"
        await asyncio.wait_for(kms.list_keys(), BOUND)
