"""Adaptive mode's rate limiter, driven by explicit times: no clock, no sleeping."""

from __future__ import annotations

import heapq
import importlib.util
import itertools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from aiokms._ratelimit import GRACE_INTERVALS, MIN_WINDOW, RateLimiter, RateLimiters


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


def k_of(w_max: float) -> float:
    """CUBIC's K: how long after a plain cut the curve is back at ``w_max``."""
    return float((w_max * 0.3 / 0.4) ** (1 / 3))


def cubic(since_cut: float, w_max: float) -> float:
    """The rate the module docstring promises ``since_cut`` seconds after a plain cut."""
    return 0.4 * (since_cut - k_of(w_max)) ** 3 + w_max


def cut_from_16() -> RateLimiter:
    """16 responses/s for two seconds (8 per half-second bucket), then a throttle at t=2."""
    limiter = RateLimiter(0.0)
    steady(limiter, 16, 0.0, 2.0)
    limiter.on_response(True, 2.0)
    return limiter


def tickets(limiter: RateLimiter, count: int, now: float) -> list[float]:
    return [limiter.reserve(now) for _ in range(count)]


# --- off until the first throttle ----------------------------------------------------------


def test_off_until_the_first_throttle() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 100, 0.0, 3.0)
    assert not limiter.enabled
    held = tickets(limiter, 1000, 3.0)
    assert [limiter.wait(ticket, 3.0) for ticket in held] == [0.0] * 1000
    assert limiter.wait_for(3.0) == 0.0
    assert repr(limiter) == "<RateLimiter off measured=100.00/s>"


def test_tickets_taken_while_off_do_not_count_once_on() -> None:
    limiter = RateLimiter(0.0)
    steady(limiter, 16, 0.0, 2.0)
    tickets(limiter, 500, 1.99)  # callers that went freely while the limiter was off
    limiter.on_response(True, 2.0)
    assert limiter.enabled
    # the bucket starts empty, but with no queue behind the 500 that already went
    assert limiter.wait_for(2.0) == pytest.approx(1 / limiter.rate)


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


def test_first_throttle_during_warm_up_cuts_from_the_rate_since_the_first_response() -> None:
    limiter = RateLimiter(0.0)
    for now in (10.0, 10.1, 10.2):
        limiter.on_response(False, now)
    limiter.on_response(True, 10.3)  # 4 responses over 0.3 s, all in the first bucket
    assert limiter.rate == pytest.approx(0.7 * 4 / 0.3)


def test_a_throttle_as_the_very_first_response_is_measured_over_the_shortest_window() -> None:
    limiter = RateLimiter(0.0)
    limiter.on_response(True, 7.0)
    assert limiter.rate == pytest.approx(0.7 / MIN_WINDOW)


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
    limiter = cut_from_16()
    k = k_of(16.0)
    assert k**3 == pytest.approx(12.0)
    steady(limiter, 16, 2.0625, 2.0 + k)
    limiter.on_response(False, 2.0 + k)
    assert limiter.rate == pytest.approx(16.0)
    steady(limiter, 16, 4.3125, 2.0 + k + 1.0)
    limiter.on_response(False, 2.0 + k + 1.0)
    assert limiter.rate == pytest.approx(16.0 + 0.4)
    assert limiter.rate == pytest.approx(cubic(k + 1.0, 16.0))


def test_growth_is_fast_then_flat_near_w_max() -> None:
    limiter = cut_from_16()
    rates = []
    for step in range(1, 9):  # every quarter second up to t=4 (K is 2.29 s)
        steady(limiter, 16, 2.0 + (step - 1) / 4 + 1 / 16, 2.0 + step / 4)
        limiter.on_response(False, 2.0 + step / 4)
        rates.append(limiter.rate)
    assert rates[-1] < 16.0
    gains = [b - a for a, b in itertools.pairwise(rates)]
    assert all(gain > 0 for gain in gains)
    assert gains == sorted(gains, reverse=True)  # concave below w_max


def test_never_above_twice_the_measured_rate() -> None:
    limiter = cut_from_16()
    steady(limiter, 16, 2.0625, 2.5)
    limiter.on_response(False, 12.0)  # long quiet: the measured rate falls, the curve soars
    assert cubic(10.0, 16.0) > 100
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
    steady(limiter, 16, 2.0625, 4.5)  # climbed back past w_max: a plateau
    assert limiter.rate > 16.0
    before = limiter.rate
    held = tickets(limiter, 5, 4.5)
    waits = [limiter.wait(ticket, 4.5) for ticket in held]
    limiter.on_response(True, 4.5, 4.5)
    assert limiter.rate == pytest.approx(0.7 * 16)  # min(measured, rate) x 0.7
    after = [limiter.wait(ticket, 4.5) for ticket in held]
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
    # 60 callers queue at 11.2/s just after the start-up cut; the line then climbs
    stepped = paced(started_up_on_the_plateau(), 60, 4.5, RateLimiter.sleep_for)
    whole = paced(started_up_on_the_plateau(), 60, 4.5, RateLimiter.wait)  # the old way:
    # each whole wait slept at the rate of the moment
    assert len(stepped) == len(whole) == 60
    assert stepped == sorted(stepped)  # first come, first served
    # the stepped queue keeps up with the line; the other drains at about the first rate
    assert stepped[-1] - 4.5 < 0.6 * (whole[-1] - 4.5)
    assert whole[-1] - 4.5 > 0.9 * 59 / 11.2
    # and no burst: never more than the bucket's one saved token and the interval's own
    assert max(sum(t <= u < t + 0.05 for u in stepped) for t in stepped) <= 3


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
    grace = GRACE_INTERVALS / limiter.rate
    limiter.on_response(True, 3.0, 2.0 + grace * 0.99)
    assert limiter.rate == pytest.approx(0.7 * 16)


def test_a_throttle_sent_after_the_grace_cuts_again() -> None:
    limiter = overloaded()
    grace = GRACE_INTERVALS / limiter.rate
    limiter.on_response(True, 3.0, 2.0 + grace)
    # no success since switching on, so no start-up cut yet: a plain 0.7x
    assert limiter.rate == pytest.approx(0.7 * 0.7 * 16)
    # ... and the new cut has its own grace
    limiter.on_response(True, 3.1, 2.9)
    limiter.on_response(True, 3.1, 3.0 + 0.99 * GRACE_INTERVALS / limiter.rate)
    assert limiter.rate == pytest.approx(0.7 * 0.7 * 16)


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


# --- the start-up and the line ----------------------------------------------------------


def switched_on_in_an_overload(sending: float, through: float, until: float) -> RateLimiter:
    """Switched on at t=0.2 by a client sending ``sending``/s; then ``through`` successes/s
    get through, among throttles of requests sent at the cut (inside its grace), until
    ``until``."""
    limiter = RateLimiter(0.0)
    steady(limiter, sending, 0.0, 0.2)
    limiter.on_response(True, 0.2)
    assert limiter.enabled and limiter.rate > 0.5 * sending
    steady(limiter, through, 0.2 + 1 / through, until + 1e-9)
    steady(limiter, 100, 0.2, until, throttled=True, sent_at=0.2)
    return limiter


def test_the_first_cut_after_the_start_up_goes_to_what_got_through() -> None:
    limiter = switched_on_in_an_overload(200, through=40.0, until=0.5)  # 11 successes
    limiter.on_response(True, 0.5, 0.45)  # sent past the grace: a cut
    assert limiter.rate == pytest.approx(11 / 0.3)  # at once, not a 0.7x step


def test_the_start_up_waits_for_50_ms_and_10_successes() -> None:
    early = switched_on_in_an_overload(2000, through=400.0, until=0.24)  # 15 in 40 ms
    early.on_response(True, 0.24)
    assert early.rate > 400.0  # a 0.7x step; the start-up goes on
    few = switched_on_in_an_overload(200, through=20.0, until=0.6)  # 7 successes in 0.4 s
    few.on_response(True, 0.6)
    stepped = few.rate
    assert stepped > 2 * 20.0
    steady(few, 20, 0.65, 0.8)  # 3 more: 10
    few.on_response(True, 0.8)
    assert few.rate == pytest.approx(10 / 0.6)  # now the start-up cut
    assert few.rate < 0.7 * stepped


def test_the_start_up_cut_never_raises_the_rate() -> None:
    limiter = cut_from_16()  # on at t=2, cut to 11.2
    steady(limiter, 16, 2.0625, 2.75)  # 16/s get through: more than the rate after a cut
    limiter.on_response(True, 2.75)
    assert limiter.rate == pytest.approx(0.7 * limiter._w_max)
    assert limiter.rate < 16.0


def started_up_on_the_plateau() -> RateLimiter:
    """Cut from 16/s at t=2, back past ``w_max`` on the curve by 4.5, then the start-up cut."""
    limiter = cut_from_16()
    steady(limiter, 16, 2.0625, 4.5)
    assert limiter.rate > 16.0  # past w_max
    limiter.on_response(True, 4.5, 4.45)
    # 16/s got through since switching on, more than 0.7 x the rate: a plain cut, no floor
    assert limiter.rate == pytest.approx(0.7 * 16)
    return limiter


def started_up(rate: float) -> RateLimiter:
    """``rate`` responses/s for 2 s and a throttle at t=2 that switches the limiter on; as many
    get through until t=2.5, where a throttle sent past the grace makes the start-up cut."""
    limiter = RateLimiter(0.0)
    steady(limiter, rate, 0.0, 2.0)
    limiter.on_response(True, 2.0)
    steady(limiter, rate, 2.0 + 1 / rate, 2.5)
    limiter.on_response(True, 2.5, 2.45)
    assert limiter.rate == pytest.approx(0.7 * limiter._w_max)  # a plain 0.7x cut ...
    assert limiter._start_successes is None  # ... that ends the start-up
    return limiter


@pytest.mark.parametrize("rate", [50.0, 200.0, 800.0])
def test_the_line_regains_a_cut_in_03_s_from_200_per_s_up_and_sooner_below(rate: float) -> None:
    limiter = started_up(rate)
    cut_to, w_max = limiter.rate, limiter._w_max
    # 0.105 s from 24.5/s, 0.21 s from 98/s, 0.3 s from 392/s
    regain = 0.3 * math.sqrt(min(cut_to, 200.0) / 200.0)
    limiter.on_response(False, 2.5 + regain / 2)
    assert limiter.rate == pytest.approx((cut_to + w_max) / 2)  # a line: halfway at half time
    limiter.on_response(False, 2.5 + regain)
    assert limiter.rate == pytest.approx(w_max)
    assert limiter.rate > cubic(regain, w_max)  # the line, not the curve


def test_the_line_is_set_afresh_at_every_cut() -> None:
    limiter = started_up_on_the_plateau()
    steady(limiter, 24, 4.5625, 5.9)  # more gets through now: the measured rate climbs
    w_max = min(limiter.measured_rate, limiter.rate)
    assert w_max > 20.0
    limiter.on_response(True, 5.9, 5.9)  # past the grace: a plain cut
    assert limiter.rate == pytest.approx(0.7 * w_max)
    limiter.on_response(False, 5.9 + 0.3 * math.sqrt(0.7 * w_max / 200.0))  # w_max < 200
    assert limiter.rate == pytest.approx(w_max)  # back at the rate cut from


def test_a_throttle_inside_the_grace_restarts_the_line_without_a_cut() -> None:
    limiter = started_up(200.0)
    cut_to, w_max = limiter.rate, limiter._w_max
    regain = 0.3 * math.sqrt(cut_to / 200.0)
    limiter.on_response(False, 2.5 + regain / 2)
    halfway = (cut_to + w_max) / 2
    assert limiter.rate == pytest.approx(halfway)
    limiter.on_response(True, 2.5 + regain / 2, 2.5)  # sent at the cut: inside its grace
    # back to the rate of the cut (where the curve, barely risen, now stands): no second cut
    assert cut_to <= limiter.rate < 1.05 * cut_to
    assert limiter._w_max == w_max
    limiter.on_response(False, 2.5 + regain)
    assert limiter.rate == pytest.approx(halfway)  # the line begins again from cut_to
    limiter.on_response(False, 2.5 + 1.5 * regain)
    assert limiter.rate == pytest.approx(w_max)


def test_a_throttle_inside_the_grace_never_raises_the_rate() -> None:
    limiter = cut_from_16()  # on at t=2, cut to 11.2, still in the start-up: no line
    assert cubic(0.3, 16.0) > 0.7 * 16  # the curve is higher by t=2.3; no success has said so
    limiter.on_response(True, 2.3, 2.0)
    assert limiter.rate == pytest.approx(0.7 * 16)


def test_no_line_before_the_start_up_cut() -> None:
    limiter = cut_from_16()  # switched on; no start-up cut yet
    limiter.on_response(False, 2.3)
    assert limiter.rate == pytest.approx(cubic(0.3, 16.0))


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


def test_the_map_makes_a_quotas_limiter_at_its_first_request_and_paces_after_a_throttle() -> None:
    limiters = RateLimiters()
    assert limiters.get("DescribeKey") is None
    assert limiters.turn("DescribeKey", 0.0) is None  # go: nothing throttled yet
    made = limiters.get("DescribeKey")
    assert made is not None and not made.enabled
    for i in range(20):
        limiters.on_response("DescribeKey", False, i / 20)
    limiters.on_response("DescribeKey", True, 1.0)
    assert limiters.turn("DescribeKey", 1.0) is made and made.enabled
    assert limiters.rates() == {"DescribeKey": made.rate}


def test_a_throttle_of_one_quota_leaves_every_other_alone() -> None:
    limiters = RateLimiters()
    for quota in ("GenerateDataKey quota", "DescribeKey"):
        for i in range(20):
            limiters.turn(quota, i / 20)
            limiters.on_response(quota, False, i / 20)
    limiters.on_response("DescribeKey", True, 1.0)
    assert limiters.turn("GenerateDataKey quota", 1.0) is None
    other = limiters.get("GenerateDataKey quota")
    assert other is not None and not other.enabled
    assert set(limiters.rates()) == {"DescribeKey"}


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
    limiters.on_response("CreateKey", True, 4.0)
    assert repr(limiters) == "<RateLimiters 1 quotas, on: {'CreateKey': 70.00/s}>"


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
    even = sim.run(together, 0)["fair_share_ratios"]
    late = sim.run(staggered, 0)["fair_share_ratios"]
    assert max(even) / min(even) < 1.05  # the same start, the same share
    # each client loses the calls of its late start, up to half a second's worth
    assert all(0.45 < kept <= 1.0 for kept in (x / y for x, y in zip(late, even, strict=True)))
    assert max(late) / min(late) > 1.1


def test_limiter_sim_held_rates_show_how_the_quota_treats_senders() -> None:
    sim = _limiter_sim()
    options = sim.Options(2, 16, 400.0, 2.0, 1e-4, (0.001, 0.004), (380.0, 70.0))
    dense, sparse = sim.run(options, 0)["throttled_shares"]
    assert 0 < dense < sparse  # 450/s against 400/s: the sparse sender loses more
