"""Standard retry mode: which failures to retry, how long to back off, and the retry quota.

How this works: after each failed attempt the client asks :func:`classify` what kind of failure
it was. Throttles and transient failures are retried while attempts remain and the client's
:class:`RetryQuota` can pay for it: a retry costs 5 tokens (10 after a timeout), a success that
needed no retry refunds 1, a success after retries refunds what its last retry cost (as the AWS
SDKs' standard mode does: botocore's ``RetryQuotaChecker``), so a call that needed two retries
leaves the quota 5 tokens poorer and a long outage drains it. The quota (500 tokens) stops a
failing endpoint from being hammered by every caller's retries at once. Between
attempts the caller sleeps :func:`backoff` seconds: full jitter over an exponential ceiling
capped at 20 s, as the AWS SDKs' standard mode does.

Pure: the random source is a parameter; nothing here sleeps or reads a clock.
"""

from __future__ import annotations

import enum
import random as _random
from collections.abc import Callable

from aiokms import errors

__all__ = ["Failure", "RetryQuota", "backoff", "classify"]

MAX_BACKOFF = 20.0
QUOTA_CAPACITY = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

# The AWS SDKs' throttling codes. Not LimitExceededException: KMS uses it for resource limits
# (too many keys, aliases or grants), which waiting does not fix.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


class Failure(enum.Enum):
    """What kind of failure an attempt ended in, as far as retrying is concerned."""

    FATAL = "fatal"  # not retried: the request itself is wrong, or access is denied
    THROTTLE = "throttle"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"  # transient, and costs the quota more


def classify(status: int | None, code: str | None, error: BaseException | None) -> Failure:
    """Classify a failed attempt by its HTTP status and error code, or its transport error."""
    if error is not None:
        if isinstance(error, (errors.ConnectTimeout, errors.ReadTimeout)):
            return Failure.TIMEOUT
        if isinstance(error, errors.TransportError):
            return Failure.TRANSIENT
        return Failure.FATAL
    if code in THROTTLING_CODES or status == 429:
        return Failure.THROTTLE
    if code in TRANSIENT_CODES or status in TRANSIENT_STATUSES:
        return Failure.TRANSIENT
    return Failure.FATAL


def backoff(attempt: int, random: Callable[[], float] = _random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): full jitter."""
    # the exponent is clamped: 2.0 ** 1024 overflows, and max_attempts has no upper bound
    return random() * min(MAX_BACKOFF, 2.0 ** min(attempt - 1, 64))


class RetryQuota:
    """A client's budget of retries, refilled by successes."""

    __slots__ = ("available", "capacity")

    def __init__(self, capacity: int = QUOTA_CAPACITY) -> None:
        self.capacity = capacity
        self.available = capacity

    def __repr__(self) -> str:
        return f"<RetryQuota {self.available}/{self.capacity}>"

    def acquire(self, failure: Failure) -> int:
        """Take the cost of retrying ``failure``; return it, or 0 if the quota cannot pay."""
        cost = TIMEOUT_RETRY_COST if failure is Failure.TIMEOUT else RETRY_COST
        if cost > self.available:
            return 0
        self.available -= cost
        return cost

    def release(self, last_cost: int) -> None:
        """A call succeeded: refill what its last retry cost (``last_cost``), or 1 after no retry
        (``last_cost`` 0). The earlier retries of the call stay spent."""
        if self.available < self.capacity:
            self.available = min(self.capacity, self.available + (last_cost or NO_RETRY_INCREMENT))
