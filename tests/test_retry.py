"""The attempt loop: classify, backoff, the retry quota (alone and as a client spends it), the
Attempts machine, and a client's retries end to end against servers on 127.0.0.1 (backoff
draws injected as 0, so retries do not sleep)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import botocore.retries.standard
import pytest
from aiohttp import web
from botocore.exceptions import ClientError

import aiokms
from aiokms import errors
from aiokms._quotas import SYMMETRIC
from aiokms._ratelimit import PROOF_LIMIT, PROOF_POLL, RateLimiter, RateLimiters
from aiokms._retry import (
    MAX_BACKOFF,
    QUOTA_CAPACITY,
    RETRY_COST,
    THROTTLING_CODES,
    TIMEOUT_RETRY_COST,
    TRANSIENT_CODES,
    Attempts,
    Failure,
    RetryPolicy,
    RetryQuota,
    Step,
    backoff,
    classify,
)
from tests.fake_kms import FakeKMS, Recorded, client_of, failing_twice
from tests.fault_server import THROTTLE_BODY, FaultServer, fault_client
from tests.helpers import BOUND, assert_idle

URL = "https://kms.us-east-1.amazonaws.com"
THROTTLE = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'

# --- classify ------------------------------------------------------------------------------


def test_throttling_codes_are_botocores_without_limit_exceeded() -> None:
    botocore_codes = set(botocore.retries.standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
    assert botocore_codes - THROTTLING_CODES == {"LimitExceededException"}
    assert THROTTLING_CODES - botocore_codes == set()


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
@pytest.mark.parametrize("status", [400, 500, 503])
def test_every_throttling_code_is_a_throttle(code: str, status: int) -> None:
    assert classify(status, code, None) is Failure.THROTTLE


def test_status_429_is_a_throttle_whatever_the_code() -> None:
    assert classify(429, None, None) is Failure.THROTTLE
    assert classify(429, "429", None) is Failure.THROTTLE
    assert classify(429, "SomethingNewException", None) is Failure.THROTTLE


@pytest.mark.parametrize("code", sorted(TRANSIENT_CODES))
def test_every_transient_code_is_transient(code: str) -> None:
    assert classify(400, code, None) is Failure.TRANSIENT


@pytest.mark.parametrize(
    "code", ["KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException"]
)
def test_kms_transient_codes_are_retried(code: str) -> None:
    assert code in TRANSIENT_CODES
    assert classify(500, code, None) is Failure.TRANSIENT


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_statuses_with_or_without_a_code(status: int) -> None:
    assert classify(status, str(status), None) is Failure.TRANSIENT
    assert classify(status, None, None) is Failure.TRANSIENT
    assert classify(status, "SomethingNewException", None) is Failure.TRANSIENT


@pytest.mark.parametrize(
    "code",
    [
        "LimitExceededException",  # KMS: too many keys, aliases or grants, not a rate
        "AccessDeniedException",
        "ValidationException",
        "NotFoundException",
        "DisabledException",
        "InvalidCiphertextException",
        "IncorrectKeyException",
        "KMSInvalidStateException",
        "UnrecognizedClientException",
        "400",
    ],
)
def test_other_4xx_are_fatal(code: str) -> None:
    assert classify(400, code, None) is Failure.FATAL


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 501, 505])
def test_other_statuses_are_fatal(status: int) -> None:
    assert classify(status, str(status), None) is Failure.FATAL


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (errors.ConnectTimeout(endpoint_url=URL), Failure.TIMEOUT),
        (errors.ReadTimeout(endpoint_url=URL), Failure.TIMEOUT),
        (errors.ConnectError(endpoint_url=URL, error="refused"), Failure.TRANSIENT),
        (errors.CertificateError(endpoint_url=URL, error="expired"), Failure.FATAL),
        (errors.ConnectionClosed(endpoint_url=URL, error="reset"), Failure.TRANSIENT),
        (errors.InvalidResponse(endpoint_url=URL, error="not json"), Failure.TRANSIENT),
        (errors.TransportError(endpoint_url=URL, error="other"), Failure.TRANSIENT),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.name,
)
def test_transport_errors(error: errors.TransportError, failure: Failure) -> None:
    assert classify(None, None, error) is failure


@pytest.mark.parametrize(
    "error",
    [
        errors.RateLimited(1.0, 0.0),
        errors.DeadlineExceeded("ListKeys", 1.0),
        ValueError("a bug, not a network failure"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_other_exceptions_are_fatal(error: Exception) -> None:
    assert classify(None, None, error) is Failure.FATAL


def test_a_transport_error_decides_over_status_and_code() -> None:
    error = errors.ReadTimeout(endpoint_url=URL)
    assert classify(400, "AccessDeniedException", error) is Failure.TIMEOUT
    assert classify(None, "ThrottlingException", ValueError()) is Failure.FATAL


# --- backoff -------------------------------------------------------------------------------

CEILINGS = [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 20.0, 20.0, 20.0]


@pytest.mark.parametrize(("attempt", "ceiling"), list(enumerate(CEILINGS, start=1)))
@pytest.mark.parametrize("draw", [0.0, 0.5, 1.0])
def test_backoff_is_full_jitter_under_a_capped_exponential(
    attempt: int, ceiling: float, draw: float
) -> None:
    assert backoff(attempt, lambda: draw) == draw * ceiling


def test_backoff_cap_is_20_seconds() -> None:
    assert MAX_BACKOFF == 20.0
    assert backoff(5, lambda: 1.0) < MAX_BACKOFF
    assert backoff(6, lambda: 1.0) == MAX_BACKOFF


def test_backoff_stays_capped_for_any_attempt_number() -> None:
    # max_attempts has no upper bound, and successes elsewhere keep the quota paying
    for attempt in (64, 1025, 5000, 10**6):
        assert backoff(attempt, lambda: 1.0) == MAX_BACKOFF


def test_backoff_draws_once_per_call() -> None:
    draws: list[float] = []

    def random() -> float:
        draws.append(0.25)
        return 0.25

    assert [backoff(attempt, random) for attempt in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert len(draws) == 3


def test_backoff_uses_the_module_random_by_default() -> None:
    for attempt in range(1, 12):
        assert 0.0 <= backoff(attempt) <= CEILINGS[min(attempt, len(CEILINGS)) - 1]


# --- the retry quota ------------------------------------------------------------------------


def test_quota_starts_full_at_500() -> None:
    quota = RetryQuota()
    assert (quota.available, quota.capacity) == (QUOTA_CAPACITY, QUOTA_CAPACITY) == (500, 500)
    assert repr(quota) == "<RetryQuota 500/500>"


@pytest.mark.parametrize(
    ("failure", "cost"),
    [
        (Failure.THROTTLE, 5),
        (Failure.TRANSIENT, 5),
        (Failure.TIMEOUT, 10),
    ],
)
def test_a_retry_costs_5_and_10_after_a_timeout(failure: Failure, cost: int) -> None:
    assert (RETRY_COST, TIMEOUT_RETRY_COST) == (5, 10)
    quota = RetryQuota()
    assert quota.acquire(failure) == cost
    assert quota.available == 500 - cost


def test_exhausted_quota_pays_nothing_and_takes_nothing() -> None:
    quota = RetryQuota()
    for _ in range(100):
        assert quota.acquire(Failure.TRANSIENT) == 5
    assert quota.available == 0
    assert quota.acquire(Failure.THROTTLE) == 0
    assert quota.acquire(Failure.TIMEOUT) == 0
    assert quota.available == 0


def test_a_timeout_needs_10_where_a_throttle_needs_5() -> None:
    quota = RetryQuota(capacity=12)
    assert quota.acquire(Failure.TIMEOUT) == 10
    assert quota.available == 2
    assert quota.acquire(Failure.TIMEOUT) == 0
    assert quota.acquire(Failure.TRANSIENT) == 0
    quota.release(0)
    quota.release(0)
    quota.release(0)
    assert quota.available == 5
    assert quota.acquire(Failure.TIMEOUT) == 0
    assert quota.acquire(Failure.TRANSIENT) == 5
    assert quota.available == 0


def test_success_after_retries_refunds_the_last_retrys_cost() -> None:
    quota = RetryQuota()
    quota.acquire(Failure.TIMEOUT)
    last = quota.acquire(Failure.THROTTLE)
    assert quota.available == 485
    quota.release(last)
    assert quota.available == 490


@pytest.mark.parametrize(
    ("failures", "left"),
    [
        ([(400, THROTTLE), (500, b"")], 495),  # two retries of 5, the last one refunded
        ([(500, b"")], 500),  # one retry of 5, refunded
        ([], 500),  # no retry: 1 refunded, up to the capacity
    ],
)
async def test_a_call_that_succeeds_gives_back_its_last_retrys_cost_only(
    fake: FakeKMS, failures: list[tuple[int, bytes]], left: int
) -> None:
    """As botocore's standard mode (``RetryQuotaChecker.release_retry_quota``): the quota an
    outage drains is not refilled by the first success after it."""
    replies = list(failures)

    async def handler(recorded: Recorded) -> web.StreamResponse:
        if replies:
            status, body = replies.pop(0)
            return web.Response(status=status, body=body)
        return web.json_response({"Keys": [], "Truncated": False})

    fake.handle("ListKeys", handler)
    async with client_of(fake, retry_mode="standard") as kms:
        reply = await kms.list_keys()
        assert reply["ResponseMetadata"]["RetryAttempts"] == len(failures)
        assert kms._policy.retry_quota.available == left


def test_success_at_first_try_refunds_one() -> None:
    quota = RetryQuota()
    quota.acquire(Failure.TRANSIENT)
    quota.release(0)
    assert quota.available == 496


def test_refills_never_exceed_the_capacity() -> None:
    quota = RetryQuota()
    quota.release(0)
    quota.release(50)
    assert quota.available == 500
    quota.acquire(Failure.TIMEOUT)
    quota.release(15)
    assert quota.available == 500
    assert repr(quota) == "<RetryQuota 500/500>"


def test_an_exhausted_quota_recovers_through_successes() -> None:
    quota = RetryQuota()
    while quota.acquire(Failure.THROTTLE):
        pass
    for _ in range(4):
        quota.release(0)
    assert quota.acquire(Failure.THROTTLE) == 0
    quota.release(0)
    assert quota.acquire(Failure.THROTTLE) == 5


# --- the Attempts machine ---------------------------------------------------------------------


def half() -> float:
    return 0.5


def standard(max_attempts: int = 3, retry_quota: RetryQuota | None = None) -> RetryPolicy:
    return RetryPolicy(max_attempts, retry_quota=retry_quota, random=half)


def adaptive(**kwargs: object) -> RetryPolicy:
    return RetryPolicy(3, limiters=RateLimiters(), random=half, **kwargs)  # type: ignore[arg-type]


def send(attempts: Attempts, now: float) -> None:
    assert attempts.next_step(now) is Step.SEND
    attempts.sending(now)


def test_a_first_try_success_is_sent_at_once_and_done() -> None:
    quota = RetryQuota()
    quota.available = 100
    attempts = standard(retry_quota=quota).attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_reply(None, 0.01) is Step.DONE
    assert attempts.attempt == 1 and attempts.failure is None
    assert quota.available == 101  # a success at the first try refunds one token


def test_a_throttle_backs_off_then_sends_again() -> None:
    quota = RetryQuota()
    attempts = standard(retry_quota=quota).attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_reply(Failure.THROTTLE, 0.01) is Step.WAIT
    assert attempts.delay == backoff(1, half) == 0.5
    assert (attempts.attempt, attempts.failure) == (2, Failure.THROTTLE)
    assert quota.available == QUOTA_CAPACITY - RETRY_COST
    send(attempts, 0.51)
    assert attempts.on_reply(Failure.THROTTLE, 0.52) is Step.WAIT
    assert attempts.delay == backoff(2, half) == 1.0
    send(attempts, 1.52)
    assert attempts.on_reply(None, 1.53) is Step.DONE
    assert attempts.attempt == 3 and attempts.failure is None
    # the success refunds what its last retry cost; the first retry's cost stays spent
    assert quota.available == QUOTA_CAPACITY - RETRY_COST


def test_it_gives_up_after_max_attempts() -> None:
    quota = RetryQuota()
    attempts = standard(max_attempts=2, retry_quota=quota).attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_reply(Failure.TRANSIENT, 0.0) is Step.WAIT
    send(attempts, 1.0)
    assert attempts.on_reply(Failure.TRANSIENT, 1.0) is Step.GIVE_UP
    assert (attempts.attempt, attempts.failure) == (2, Failure.TRANSIENT)
    assert quota.available == QUOTA_CAPACITY - RETRY_COST  # no charge for a retry not made


def test_a_fatal_failure_is_never_retried() -> None:
    quota = RetryQuota()
    attempts = standard(retry_quota=quota).attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_reply(Failure.FATAL, 0.0) is Step.GIVE_UP
    assert quota.available == QUOTA_CAPACITY


def test_it_gives_up_when_the_retry_quota_cannot_pay() -> None:
    attempts = standard(retry_quota=RetryQuota(capacity=RETRY_COST - 1)).attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_reply(Failure.THROTTLE, 0.0) is Step.GIVE_UP


def test_an_attempt_without_a_reply_is_retried_at_its_cost() -> None:
    quota = RetryQuota()
    attempts = standard(retry_quota=quota).attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_no_reply(Failure.TIMEOUT, 60.0) is Step.WAIT
    assert quota.available == QUOTA_CAPACITY - TIMEOUT_RETRY_COST
    send(attempts, 61.0)
    assert attempts.on_no_reply(Failure.FATAL, 61.0) is Step.GIVE_UP


def test_steps_out_of_order_are_refused() -> None:
    attempts = standard().attempts(SYMMETRIC)
    with pytest.raises(RuntimeError):
        attempts.on_reply(None, 0.0)  # nothing was sent
    send(attempts, 0.0)
    with pytest.raises(RuntimeError):
        attempts.next_step(0.0)  # in flight: the reply comes first
    with pytest.raises(RuntimeError):
        attempts.sending(0.0)
    assert attempts.on_reply(None, 0.0) is Step.DONE
    with pytest.raises(RuntimeError):
        attempts.on_no_reply(Failure.TRANSIENT, 0.0)


def throttled_once(policy: RetryPolicy, quota: str, now: float) -> Attempts:
    """A call of ``quota`` whose first attempt was throttled at ``now`` (after 20 successes)."""
    for i in range(20):
        call = policy.attempts(quota)
        send(call, now - 1 + i / 20)
        assert call.on_reply(None, now - 1 + i / 20) is Step.DONE
    attempts = policy.attempts(quota)
    send(attempts, now)
    assert attempts.on_reply(Failure.THROTTLE, now) is Step.WAIT
    return attempts


def test_adaptive_calls_go_freely_until_their_quotas_first_throttle() -> None:
    policy = adaptive()
    assert policy.limiters is not None
    throttled_once(policy, SYMMETRIC, 1.0)
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None and limiter.enabled
    assert policy.limiters.rates() == {SYMMETRIC: limiter.rate}
    # a call of another quota still goes at once; one of the throttled quota takes its turn
    other = policy.attempts("DescribeKey")
    assert other.next_step(1.0) is Step.SEND
    queued = [policy.attempts(SYMMETRIC) for _ in range(3)]
    steps = [attempts.next_step(1.0) for attempts in queued]
    assert steps[-1] is Step.WAIT and queued[-1].delay > 0


def test_a_throttle_of_one_quota_never_slows_another() -> None:
    policy = adaptive()
    assert policy.limiters is not None
    for i in range(300):  # the symmetric quota's slow start is over: its calls go freely
        call = policy.attempts(SYMMETRIC)
        send(call, i / 300)
        assert call.on_reply(None, i / 300) is Step.DONE
    throttled_once(policy, "DescribeKey", 2.0)
    assert set(policy.limiters.rates()) == {"DescribeKey"}
    for _ in range(100):
        assert policy.attempts(SYMMETRIC).next_step(2.0) is Step.SEND
    assert policy.attempts("DescribeKey").next_step(2.0) is Step.WAIT


def test_a_quotas_first_calls_wait_for_places_in_its_slow_start() -> None:
    policy = adaptive()
    calls = [policy.attempts("CreateKey") for _ in range(6)]
    assert [call.next_step(0.0) for call in calls] == [Step.SEND] * 4 + [Step.WAIT] * 2
    for call in calls[:4]:
        call.sending(0.0)
    assert calls[0].on_no_reply(Failure.TRANSIENT, 0.01) is Step.WAIT  # its place is free
    assert calls[4].next_step(0.01) is Step.SEND
    calls[1].cancel(0.01)  # gave up in flight: its place is free too
    assert calls[5].next_step(0.01) is Step.SEND


def test_the_retry_of_a_throttled_call_waits_its_turn_after_the_backoff() -> None:
    policy = adaptive()
    attempts = throttled_once(policy, SYMMETRIC, 1.0)
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None
    for _ in range(50):  # a queue ahead of it
        limiter.reserve(1.0)
    assert attempts.next_step(1.0 + attempts.delay) is Step.WAIT
    assert attempts.delay > 0


def test_replies_reach_the_limiter_with_their_send_time() -> None:
    policy = adaptive()
    first, second = policy.attempts(SYMMETRIC), policy.attempts(SYMMETRIC)
    for i in range(40):  # 20 successes/s for two seconds
        call = policy.attempts(SYMMETRIC)
        send(call, i / 20)
        call.on_reply(None, i / 20)
    send(first, 2.0)
    send(second, 2.0)
    first.on_reply(Failure.THROTTLE, 2.01)
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None
    cut = limiter.rate
    second.on_reply(Failure.THROTTLE, 2.02)  # sent before the cut: the same overload, no cut
    assert limiter.rate == cut


def test_max_rate_wait_gives_up_before_queueing() -> None:
    policy = adaptive(max_rate_wait=0.5)
    retry = throttled_once(policy, SYMMETRIC, 1.0)
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None
    now = 1.0 + retry.delay
    for _ in range(round(limiter.rate)):  # a second's worth of callers in line ahead
        limiter.reserve(now)
    attempts = policy.attempts(SYMMETRIC)
    assert attempts.next_step(now) is Step.GIVE_UP
    assert attempts.failure is None  # a first attempt refused its turn: RateLimited
    assert attempts.refused_wait is not None and attempts.refused_wait > 0.5
    # a retry refused its turn gives up with the failure it retries
    assert retry.next_step(now) is Step.GIVE_UP
    assert retry.failure is Failure.THROTTLE


def test_max_rate_wait_never_refuses_a_slow_starts_short_waits() -> None:
    policy = adaptive(max_rate_wait=0.0)
    calls = [policy.attempts("CreateKey") for _ in range(6)]
    assert [call.next_step(0.0) for call in calls] == [Step.SEND] * 4 + [Step.WAIT] * 2
    assert all(call.refused_wait is None for call in calls)


def test_a_call_cancelled_in_line_passes_its_token_on() -> None:
    policy = adaptive()
    throttled_once(policy, SYMMETRIC, 1.0)
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None
    first, second = policy.attempts(SYMMETRIC), policy.attempts(SYMMETRIC)
    first.next_step(1.0)
    assert second.next_step(1.0) is Step.WAIT
    waited = second.delay
    first.cancel(1.0)
    assert second.next_step(1.0) is Step.SEND or second.delay < waited


def test_a_call_cancelled_after_its_turn_but_before_sending_passes_its_token_on() -> None:
    policy = adaptive()
    throttled_once(policy, SYMMETRIC, 1.0)
    first, now = policy.attempts(SYMMETRIC), 1.0
    while first.next_step(now) is Step.WAIT:  # its turn comes
        now += first.delay
    second = policy.attempts(SYMMETRIC)
    assert second.next_step(now) is Step.WAIT
    waited = second.delay
    first.cancel(now)  # it had the token (waiting for a connection, say), and never sent
    assert second.next_step(now) is Step.SEND or second.delay < waited


def test_a_retry_on_its_last_attempt_after_a_throttle_holds_its_limiters_probes() -> None:
    policy = adaptive()
    attempts = throttled_once(policy, SYMMETRIC, 1.0)
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None and limiter.enabled
    now = 1.0 + attempts.delay
    while attempts.next_step(now) is Step.WAIT:  # attempt 2 of 3 waits its turn
        assert limiter._holds == 0
        now += attempts.delay
    attempts.sending(now)
    assert attempts.on_reply(Failure.THROTTLE, now) is Step.WAIT
    now += attempts.delay
    assert attempts.attempt == 3  # the last: one more throttle and the call fails
    attempts.next_step(now)
    assert limiter._holds == 1
    while attempts.next_step(now) is Step.WAIT:
        now += attempts.delay
    attempts.sending(now)
    assert limiter._holds == 0  # gone


def test_a_last_attempt_far_back_in_line_holds_the_probes_only_near_its_turn() -> None:
    policy = RetryPolicy(2, limiters=RateLimiters(), random=half)
    attempts = throttled_once(policy, SYMMETRIC, 1.0)  # its retry is its last attempt
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None and limiter.enabled
    now = 1.0 + attempts.delay
    for _ in range(30):
        limiter.reserve(now)  # 30 callers in line before it
    assert attempts.next_step(now) is Step.WAIT
    assert limiter._holds == 0  # its turn is many intervals away
    while attempts.next_step(now) is Step.WAIT:
        now += attempts.delay
    assert limiter._holds == 1  # it held them on the way to its turn ...
    attempts.sending(now)
    assert limiter._holds == 0  # ... until it went


def cold_start_throttle(policy: RetryPolicy) -> tuple[Attempts, RateLimiter]:
    """A call whose first attempt met its quota's first reply, a throttle at t=0.01: the
    limiter goes on cold, in its start-up, nothing got through."""
    attempts = policy.attempts(SYMMETRIC)
    send(attempts, 0.0)
    assert attempts.on_reply(Failure.THROTTLE, 0.01) is Step.WAIT
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None and limiter._start_successes == 0
    return attempts, limiter


def test_a_last_attempt_waits_for_its_start_ups_first_success_token_or_not() -> None:
    """Before its first success a start-up knows of nothing its quota takes: a call's last
    attempt, whose turn has come, asks again until a success comes, and goes an interval of
    the hold's rate after it (that success took the token the quota had saved)."""
    policy = RetryPolicy(2, limiters=RateLimiters(), random=half)  # the retry is the last
    attempts, limiter = cold_start_throttle(policy)
    now = 0.01 + attempts.delay
    assert limiter.wait_for(now) == 0.0  # a token is there
    for _ in range(5):
        assert attempts.next_step(now) is Step.WAIT
        assert attempts.delay == PROOF_POLL
        now += attempts.delay
    assert limiter._holds == 1
    limiter.on_response(False, now, now - 0.005)  # another caller's request got through
    after = now + limiter.proof_wait(now)
    assert after == pytest.approx(now + 1 / limiter.safe_rate(now))
    while attempts.next_step(now) is Step.WAIT:
        now += attempts.delay
    assert now == pytest.approx(after)
    attempts.sending(now)
    assert limiter._holds == 0


def test_a_last_attempt_waits_two_seconds_at_most_for_a_first_success() -> None:
    policy = RetryPolicy(2, limiters=RateLimiters(), random=half)
    attempts, _ = cold_start_throttle(policy)
    now = 0.01 + attempts.delay
    while attempts.next_step(now) is Step.WAIT:
        assert 0 < attempts.delay <= PROOF_POLL
        now += attempts.delay
    assert now == pytest.approx(0.01 + PROOF_LIMIT)  # the quota's first throttle, plus 2 s


@pytest.mark.parametrize(("max_rate_wait", "waits"), [(5.0, True), (1.0, False), (0.0, False)])
def test_a_last_attempt_waits_for_a_first_success_only_within_max_rate_wait(
    max_rate_wait: float, waits: bool
) -> None:
    policy = RetryPolicy(2, limiters=RateLimiters(), random=half, max_rate_wait=max_rate_wait)
    attempts, _ = cold_start_throttle(policy)
    now = 0.01 + attempts.delay  # 1.5 s of the two seconds are left
    assert attempts.next_step(now) is (Step.WAIT if waits else Step.SEND)


def test_a_retry_that_is_not_the_last_never_waits_for_a_first_success() -> None:
    attempts, _ = cold_start_throttle(adaptive())  # two attempts left
    assert attempts.next_step(0.01 + attempts.delay) is Step.SEND


@pytest.mark.parametrize("failure", [Failure.TRANSIENT, Failure.TIMEOUT])
def test_a_last_attempt_after_another_failure_holds_nothing(failure: Failure) -> None:
    policy = RetryPolicy(2, limiters=RateLimiters(), random=half)
    throttled_once(policy, SYMMETRIC, 1.0)  # the limiter is on
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None
    attempts, now = policy.attempts(SYMMETRIC), 1.0
    while attempts.next_step(now) is Step.WAIT:
        now += attempts.delay
    attempts.sending(now)
    assert attempts.on_no_reply(failure, now) is Step.WAIT
    attempts.next_step(now + attempts.delay)
    assert limiter._holds == 0


def test_a_holding_call_cancelled_in_line_releases_the_probes() -> None:
    policy = RetryPolicy(2, limiters=RateLimiters(), random=half)
    attempts = throttled_once(policy, SYMMETRIC, 1.0)  # its retry is its last attempt
    assert policy.limiters is not None
    limiter = policy.limiters.get(SYMMETRIC)
    assert limiter is not None
    attempts.next_step(1.0 + attempts.delay)
    assert limiter._holds == 1
    attempts.cancel(1.0 + attempts.delay)
    assert limiter._holds == 0


def test_repr_shows_the_state() -> None:
    attempts = standard().attempts(SYMMETRIC)
    assert repr(attempts) == f"<Attempts {SYMMETRIC!r} attempt=1 turn>"
    send(attempts, 0.0)
    assert repr(attempts) == f"<Attempts {SYMMETRIC!r} attempt=1 in flight>"
    assert repr(standard()) == "<RetryPolicy standard max_attempts=3 <RetryQuota 500/500>>"


# --- end to end: a client against the fake KMS -------------------------------------------


# service errors that are retried

RETRIED = [
    (500, b"", "500"),
    (500, b"an unexpected text body", "500"),
    (502, b"", "502"),
    (502, b"<html><body>bad gateway</body></html>", "502"),
    (503, b"", "503"),
    (503, b'{"__type": "ServiceUnavailable", "message": "later"}', "ServiceUnavailable"),
    (504, b"", "504"),
    (504, b"<html>gateway timeout</html>", "504"),
    (400, THROTTLE_BODY, "ThrottlingException"),
    (500, b'{"__type": "KMSInternalException", "message": "x"}', "KMSInternalException"),
    (
        503,
        b'{"__type": "DependencyTimeoutException", "message": "x"}',
        "DependencyTimeoutException",
    ),
    (500, b'{"__type": "KeyUnavailableException", "message": "x"}', "KeyUnavailableException"),
]


@pytest.mark.parametrize(
    ("status", "body", "code"),
    RETRIED,
    ids=[f"{s}-{c}-{'body' if b else 'empty'}" for s, b, c in RETRIED],
)
async def test_retryable_service_error_is_tried_max_attempts_times(
    fake: FakeKMS, status: int, body: bytes, code: str
) -> None:
    fake.reply("GenerateDataKey", body, status)
    async with client_of(fake, retry_mode="standard") as kms:
        with pytest.raises(ClientError) as caught:
            await kms.generate_data_key(KeyId="alias/k", KeySpec="AES_256")
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        stats = kms.stats()
        assert (stats.requests, stats.retries) == (3, 2)
        assert stats.errors == {code: 3}
        assert stats.throttles == (3 if code == "ThrottlingException" else 0)
        assert_idle(kms)
    assert fake.operations() == ["GenerateDataKey"] * 3
    assert all(recorded.signature_ok for recorded in fake.requests)
    assert len({recorded.body for recorded in fake.requests}) == 1  # the same request, resent


@pytest.mark.parametrize("max_attempts", [1, 2, 5])
async def test_max_attempts_counts_the_first_try(fake: FakeKMS, max_attempts: int) -> None:
    fake.error("ListKeys", "KMSInternalException", "boom", 500)
    async with client_of(fake, max_attempts=max_attempts) as kms:
        with pytest.raises(kms.exceptions.KMSInternalException) as caught:
            await kms.list_keys()
        assert kms.stats().retries == max_attempts - 1
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == max_attempts - 1
    assert len(fake.requests) == max_attempts


async def test_429_is_retried_as_a_throttle_and_switches_the_limiter_on(fake: FakeKMS) -> None:
    fake.reply("ListKeys", b"", 429)
    async with client_of(fake) as kms:
        with pytest.raises(ClientError) as caught:
            await asyncio.wait_for(kms.list_keys(), BOUND)
        assert caught.value.response["Error"]["Code"] == "429"
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
        assert set(kms.stats().limiter_rates) == {"ListKeys"}
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, THROTTLE_BODY),
        (500, b""),
        (503, b'{"__type": "DependencyTimeoutException", "message": "x"}'),
    ],
    ids=["throttle", "500", "dependency-timeout"],
)
@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_success_after_two_failures_reports_two_retries(
    fake: FakeKMS, status: int, body: bytes, mode: str
) -> None:
    fake.handle("ListKeys", failing_twice(status, body))
    async with client_of(fake, retry_mode=mode) as kms:
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["Keys"] == [{"KeyId": "k", "KeyArn": "arn"}]
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert (kms.stats().requests, kms.stats().retries) == (3, 2)
        assert_idle(kms)
    assert len(fake.requests) == 3
    assert all(recorded.signature_ok for recorded in fake.requests)


# service errors that are not


@pytest.mark.parametrize(
    "code",
    [
        "NotFoundException",
        "LimitExceededException",
        "AccessDeniedException",
        "ValidationException",
        "DisabledException",
        "InvalidCiphertextException",
    ],
)
@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_other_4xx_errors_are_not_retried(fake: FakeKMS, code: str, mode: str) -> None:
    fake.error("Encrypt", code, "no", 400)
    async with client_of(fake, retry_mode=mode, max_attempts=5) as kms:
        with pytest.raises(ClientError) as caught:
            await kms.encrypt(KeyId="k", Plaintext=b"p")
        assert type(caught.value) is getattr(kms.exceptions, code, ClientError)
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        stats = kms.stats()
        assert (stats.requests, stats.retries, stats.throttles) == (1, 0, 0)
        assert stats.limiter_rates == {}  # LimitExceededException is no throttle
    assert len(fake.requests) == 1


# every attempt signed afresh, holding its slot


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_every_attempt_is_signed_afresh_while_holding_its_slot(
    fake: FakeKMS, mode: str
) -> None:
    fake.error("Sign", "ThrottlingException", "Rate exceeded")
    async with client_of(fake, retry_mode=mode, max_connections=4) as kms:
        sign = kms._sign
        seen: list[tuple[int, int]] = []

        def spy(target: str, payload_hash: str, credentials: Any) -> dict[str, str]:
            seen.append((kms.stats().in_flight, kms._slots.free))
            return sign(target, payload_hash, credentials)

        kms._sign = spy  # type: ignore[method-assign]
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.sign(KeyId="k", Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert seen == [(1, 3)] * 3
    assert len(fake.requests) == 3
    assert all(recorded.signature_ok for recorded in fake.requests)


# the retry quota


async def test_an_exhausted_retry_quota_stops_retrying(fake: FakeKMS) -> None:
    fake.error("ListKeys", "KMSInternalException", "down", 500)
    async with client_of(fake, retry_mode="standard") as kms:
        for _ in range(60):  # each call's two retries cost 10 of the 500 tokens
            with pytest.raises(kms.exceptions.KMSInternalException):
                await kms.list_keys()
        assert kms.stats().retries == 100
        assert kms.stats().requests == 50 * 3 + 10 * 1
        fake.reply("ListKeys", {"Keys": []})
        for _ in range(5):  # successes at first try refund one token each
            await kms.list_keys()
        fake.error("ListKeys", "KMSInternalException", "down", 500)
        with pytest.raises(kms.exceptions.KMSInternalException) as caught:
            await kms.list_keys()
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 1


# many calls at once, with random faults

FAULTS = ["500", "throttle", "reset", "garbage", "slow"]


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_500_concurrent_calls_with_random_faults_all_complete(
    faults: FaultServer, mode: str
) -> None:
    chooser = random.Random(20240603)
    faults.policy = lambda: chooser.choice(FAULTS) if chooser.random() < 0.2 else "ok"
    jitter = random.Random(7)
    async with fault_client(
        faults.url, retry_mode=mode, read_timeout=5.0, _random=lambda: jitter.random() * 0.01
    ) as kms:
        calls = [kms.list_keys() for _ in range(500)]
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 60)
        unexpected = [
            outcome
            for outcome in outcomes
            if not isinstance(outcome, (dict, ClientError, aiokms.TransportError))
        ]
        assert unexpected == []
        succeeded = sum(isinstance(outcome, dict) for outcome in outcomes)
        assert succeeded >= 450  # a call fails only if all three attempts do
        assert all(
            outcome["ResponseMetadata"]["RetryAttempts"] in (0, 1, 2)
            for outcome in outcomes
            if isinstance(outcome, dict)
        )
        assert set(faults.actions) == {"ok", *FAULTS}
        stats = kms.stats()
        assert stats.requests == faults.requests
        assert stats.retries == faults.requests - 500
        assert stats.throttles == faults.actions.count("throttle")
        assert set(stats.limiter_rates) == ({"ListKeys"} if mode == "adaptive" else set())
        assert_idle(kms)
        faults.policy = lambda: "ok"
        await asyncio.wait_for(kms.list_keys(), BOUND)
