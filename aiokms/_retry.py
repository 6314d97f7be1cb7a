"""The attempt loop: which failures to retry, how long to back off, the retry quota, the limiters.

How this works: a call's attempts are an :class:`Attempts` state machine, which its driver (the
client, or ``benchmarks/limiter_sim.py`` on a virtual clock) runs like this::

    step = attempts.next_step(now)       WAIT: sleep attempts.delay, ask again (the limiter's
                                           line, or the backoff after a failure)
                                         GIVE_UP: the limiter's wait is over max_rate_wait
    SEND: take a connection slot, sign, attempts.sending(now), post
    reply:    step = attempts.on_reply(None or classify(...), now)
    no reply: step = attempts.on_no_reply(classify(None, None, error), now)
                                         DONE: return the reply; GIVE_UP: raise the last
                                         failure; WAIT: back off, then ask next_step again
    cancelled anywhere: attempts.cancel(now)

The machine keeps the count of attempts and what the call's last retry cost, takes its turn in
its quota's adaptive limiter (:class:`~aiokms._ratelimit.RateLimiters`, adaptive mode only) and
reports every reply to it; it neither sleeps, sends nor reads a clock. A retry that is the
call's last attempt after a throttle holds its limiter's probes for the last few intervals
before its turn (one more throttle and the call fails): the rate does not climb past where the
quota took what was sent until it has gone, and while the limiter is measuring a quota that has
let none of its requests through yet, it waits for the first (two seconds at most, and not where
that might pass ``max_rate_wait``).

After each failed attempt the driver asks :func:`classify` what kind of failure it was.
Throttles and transient failures are retried while attempts remain and the client's
:class:`RetryQuota` can pay for it: a retry costs 5 tokens (10 after a timeout), a success that
needed no retry refunds 1, a success after retries refunds what its last retry cost (as the AWS
SDKs' standard mode does: botocore's ``RetryQuotaChecker``), so a call that needed two retries
leaves the quota 5 tokens poorer and a long outage drains it. The quota (500 tokens) stops a
failing endpoint from being hammered by every caller's retries at once. Between
attempts the caller sleeps :func:`backoff` seconds: full jitter over an exponential ceiling
capped at 20 s, as the AWS SDKs' standard mode does.

Pure: the random source and the time are parameters; nothing here sleeps or reads a clock.
"""

from __future__ import annotations

import enum
import random as _random
from collections.abc import Callable

from aiokms import errors
from aiokms._ratelimit import PROOF_POLL, RateLimiter, RateLimiters

__all__ = [
    "Attempts",
    "Failure",
    "RetryPolicy",
    "RetryQuota",
    "Step",
    "backoff",
    "classify",
]

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
        if isinstance(error, errors.CertificateError):  # the same certificate, every time
            return Failure.FATAL
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


class Step(enum.Enum):
    """What the driver of an :class:`Attempts` does next."""

    SEND = "send"  # take a connection slot, sign, call sending(now), send the request
    WAIT = "wait"  # sleep ``Attempts.delay`` seconds, then call next_step again
    DONE = "done"  # the reply just reported was a success: return it
    GIVE_UP = "give up"  # raise the last failure; if none, the limiter's wait was refused


# What the hot path of every call names, read from module globals: an enum member read from
# its class goes through the enum's metaclass, several times the cost of a global's lookup.
_SEND = Step.SEND
_DONE = Step.DONE
_THROTTLE = Failure.THROTTLE


class RetryPolicy:
    """What every call of one client shares: attempts allowed, retry quota, limiters.

    Args:
        max_attempts: attempts per call, the first included (at least 1).
        limiters: adaptive mode's limiters, one per KMS quota; ``None`` in standard mode.
        retry_quota: the client's retry budget (a fresh :class:`RetryQuota` by default).
        max_rate_wait: give up at once when a limiter that is on (after its quota's first
            throttle) would hold a call longer than this many seconds; ``None``: always wait.
            The waits of a quota's slow start, a round trip or so, are not refused; a call's
            last attempt, which waits for its quota's first success where the limiter has
            had none since it went on (two seconds at most), goes at once instead where that
            wait might last longer than this.
        random: the source of backoff jitter, uniform in [0, 1).
    """

    __slots__ = ("limiters", "max_attempts", "max_rate_wait", "random", "retry_quota")

    def __init__(
        self,
        max_attempts: int,
        *,
        limiters: RateLimiters | None = None,
        retry_quota: RetryQuota | None = None,
        max_rate_wait: float | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.max_attempts = max_attempts
        self.limiters = limiters
        self.retry_quota = RetryQuota() if retry_quota is None else retry_quota
        self.max_rate_wait = max_rate_wait
        self.random = random

    def __repr__(self) -> str:
        mode = "adaptive" if self.limiters is not None else "standard"
        return f"<RetryPolicy {mode} max_attempts={self.max_attempts} {self.retry_quota!r}>"

    def attempts(self, quota: str) -> Attempts:
        """The attempts of one call, metered against ``quota`` (a KMS quota name)."""
        return Attempts(self, quota)


# An attempt's hold of its limiter's probes (a last attempt after a throttle): none, not yet
# (its turn is further away than RateLimiter.hold_probes allows), held
_NO_HOLD = 0
_WANTS_HOLD = 1
_HOLDING = 2

# Attempts' states
_TURN = 0  # next: a turn in the limiter (holding a ticket once it has one)
_READY = 1  # the turn is over (or there is no limiter): send
_IN_FLIGHT = 2  # sent; waiting for the reply
_BACKOFF = 3  # after a failure: the driver sleeps, then the next attempt's turn
_FINISHED = 4


class Attempts:
    """One call's attempts as a state machine (see the module docstring for how to drive it).

    Attributes:
        attempt: the number of the current (or last) attempt, from 1.
        delay: after a ``WAIT`` step, the seconds to sleep.
        failure: the last attempt's failure, or ``None`` if it had none.
        refused_wait: after a ``GIVE_UP`` from :meth:`next_step`, the wait the limiter asked
            for that was over ``max_rate_wait``.
        out_of_retry_quota: after a ``GIVE_UP`` from a reply, whether the failure would have
            been retried but the retry quota could not pay for it.
    """

    __slots__ = (
        "_holding",
        "_last_cost",
        "_limiter",
        "_policy",
        "_quota",
        "_sent_at",
        "_state",
        "_ticket",
        "attempt",
        "delay",
        "failure",
        "out_of_retry_quota",
        "refused_wait",
    )

    def __init__(self, policy: RetryPolicy, quota: str) -> None:
        self._policy = policy
        self._quota = quota
        self._state = _TURN
        self._limiter: RateLimiter | None = None  # whose ticket this attempt holds
        self._ticket: float | None = None
        self._holding = _NO_HOLD  # how its turn holds the limiter's probes (see _HOLDING)
        self._sent_at = 0.0
        self._last_cost = 0  # retry tokens this call's last retry took from the retry quota
        self.attempt = 1
        self.delay = 0.0
        self.failure: Failure | None = None
        self.refused_wait: float | None = None
        self.out_of_retry_quota = False

    def __repr__(self) -> str:
        state = ("turn", "ready", "in flight", "backoff", "finished")[self._state]
        return f"<Attempts {self._quota!r} attempt={self.attempt} {state}>"

    def next_step(self, now: float) -> Step:
        """What to do now: ``SEND``, ``WAIT`` (``delay`` set) or ``GIVE_UP``."""
        state = self._state
        if state == _BACKOFF:
            state = self._state = _TURN
        if state == _READY:
            return _SEND
        if state != _TURN:
            raise RuntimeError(f"next_step() called {self!r}")
        limiter = self._limiter
        if limiter is None:
            limiters = self._policy.limiters
            limiter = None if limiters is None else limiters.turn(self._quota, now)
            if limiter is None:
                self._state = _READY
                return _SEND
            limit = self._policy.max_rate_wait
            if limit is not None and limiter.enabled:  # (slow start's waits: a round trip)
                wait = limiter.wait_for(now)
                if wait > limit:
                    self.refused_wait = wait
                    self._state = _FINISHED
                    return Step.GIVE_UP
            self._limiter, self._ticket = limiter, limiter.reserve(now)
            if (
                limiter.enabled
                and self.failure is Failure.THROTTLE
                and self.attempt >= self._policy.max_attempts
            ):  # throttled again, the call fails: no probing just before this request goes
                self._holding = _WANTS_HOLD
        assert self._ticket is not None
        if self._holding == _WANTS_HOLD and limiter.hold_probes(self._ticket, now):
            self._holding = _HOLDING
        delay = limiter.sleep_for(self._ticket, now)
        if delay <= 0 and self._holding == _HOLDING:  # a start-up nothing has got through yet
            proof, limit = limiter.proof_wait(now), self._policy.max_rate_wait
            if limit is None or proof <= limit:  # (where it might be longer: go, as before)
                delay = min(proof, PROOF_POLL)
        if delay > 0:
            self.delay = delay
            return Step.WAIT
        self._state = _READY
        return _SEND

    def sending(self, now: float) -> None:
        """The request goes out now (after its connection slot and signing)."""
        if self._state != _READY:
            raise RuntimeError(f"sending() called {self!r}")
        self._state = _IN_FLIGHT
        self._sent_at = now
        if self._holding == _HOLDING:
            assert self._limiter is not None
            self._limiter.release_probes(now)
        self._holding = _NO_HOLD
        self._limiter = self._ticket = None  # its token is spent

    def on_reply(self, failure: Failure | None, now: float) -> Step:
        """A reply arrived: ``None`` for a success, else its :func:`classify` verdict.

        Returns ``DONE`` (return the reply), ``GIVE_UP`` (raise it) or ``WAIT`` (back off
        ``delay`` seconds, then :meth:`next_step`).
        """
        if self._state != _IN_FLIGHT:
            raise RuntimeError(f"on_reply() called {self!r}")
        limiters = self._policy.limiters
        if limiters is not None:
            limiters.on_response(self._quota, failure is _THROTTLE, now, self._sent_at)
        if failure is None:
            self._state = _FINISHED
            self.failure = None
            self._policy.retry_quota.release(self._last_cost)
            return _DONE
        return self._failed(failure)

    def on_no_reply(self, failure: Failure, now: float) -> Step:
        """The attempt ended without a reply (a transport error, as :func:`classify` saw it).

        Returns ``GIVE_UP`` or ``WAIT``, as :meth:`on_reply`.
        """
        if self._state != _IN_FLIGHT:
            raise RuntimeError(f"on_no_reply() called {self!r}")
        if self._policy.limiters is not None:
            self._policy.limiters.on_lost(self._quota, now)
        return self._failed(failure)

    def cancel(self, now: float) -> None:
        """The call is abandoned (cancelled) wherever it is: an unspent token is passed on."""
        if self._limiter is not None:
            if self._holding == _HOLDING:
                self._limiter.release_probes(now)
            self._holding = _NO_HOLD
            self._limiter.refund(now)
            self._limiter = self._ticket = None
        elif self._state == _IN_FLIGHT and self._policy.limiters is not None:
            self._policy.limiters.on_lost(self._quota, now)
        self._state = _FINISHED

    def _failed(self, failure: Failure) -> Step:
        self.failure = failure
        policy = self._policy
        if failure is Failure.FATAL or self.attempt >= policy.max_attempts:
            self._state = _FINISHED
            return Step.GIVE_UP
        cost = policy.retry_quota.acquire(failure)
        if not cost:
            self._state = _FINISHED
            self.out_of_retry_quota = True
            return Step.GIVE_UP
        self._last_cost = cost
        self.delay = backoff(self.attempt, policy.random)
        self.attempt += 1
        self._state = _BACKOFF
        return Step.WAIT
