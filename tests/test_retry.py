"""Standard retry mode: classify, backoff and the retry quota, alone and as a client spends it."""

from __future__ import annotations

import botocore.retries.standard
import pytest
from aiohttp import web

from aiokms import errors
from aiokms._retry import (
    MAX_BACKOFF,
    QUOTA_CAPACITY,
    RETRY_COST,
    THROTTLING_CODES,
    TIMEOUT_RETRY_COST,
    TRANSIENT_CODES,
    Failure,
    RetryQuota,
    backoff,
    classify,
)
from tests.fake_kms import FakeKMS, Recorded, client_of

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
        assert kms._quota.available == left


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
