"""Request quotas: token buckets with an injected clock, and KMS's quotas metered with them.

How this works: KMS meters requests against request-per-second quotas and answers
``ThrottlingException`` beyond them. A :class:`TokenBucket` holds up to ``burst`` tokens and
gains ``rate`` tokens a second; each admitted request takes one, a request that finds less than
one token is refused and takes nothing. It starts full, so a client may send ``burst`` requests
at once and then ``rate`` a second on average. ``rate_limit=`` is one such bucket shared by
every cryptographic operation. ``quotas=`` is a :class:`QuotaMeter`: a bucket per KMS quota,
each holding a second's worth (KMS counts requests per second), and every request counted
against the quota :func:`aiokms._quotas.quota_for` names for it -- the table the client's
limiters use too.

Pure code: the caller's clock (monotonic seconds) is read once per decision.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from aiokms._protocol import decode_json
from aiokms._quotas import QUOTAS, RULES, default_rates, quota_for

__all__ = ["QuotaMeter", "TokenBucket", "quota_rates"]


class TokenBucket:
    """Admit at most ``rate`` requests a second on average, ``burst`` at once.

    Args:
        rate: tokens added per second (> 0).
        burst: the bucket's size, at least 1; default one second's worth (``ceil(rate)``).
        clock: monotonic seconds.

    Raises:
        ValueError: ``rate`` or ``burst`` is out of range.
    """

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError("rate must be a positive, finite number of requests per second")
        if burst is None:
            burst = max(1.0, math.ceil(rate))
        if not burst >= 1 or math.isinf(burst):
            raise ValueError("burst must be at least 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def __repr__(self) -> str:
        return f"<TokenBucket rate={self.rate:g}/s burst={self.burst:g} tokens={self.tokens:.2f}>"

    @property
    def tokens(self) -> float:
        """Tokens available now (fractional)."""
        return min(self.burst, self._tokens + (self._clock() - self._stamp) * self.rate)

    def acquire(self) -> bool:
        """Take one token if there is one; return whether the request is admitted."""
        now = self._clock()
        tokens = self._tokens + (now - self._stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

    def wait_time(self) -> float:
        """Seconds until a token will be available (0 if one is available now)."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


def quota_rates(quotas: float | Mapping[str, float], region: str) -> dict[str, float]:
    """The rate of every quota ``quotas=`` meters, by quota name.

    Args:
        quotas: a number: KMS's default quotas in ``region``, each times this number; or a
            mapping: only these quotas (names from :data:`aiokms._quotas.QUOTAS`), at these
            requests/s.
        region: the Region whose defaults a number scales.

    Raises:
        ValueError: not a positive finite number, an unknown quota name or a rate out of range;
            the message names ``quotas``.
    """
    if isinstance(quotas, Mapping):
        rates: dict[str, float] = {}
        for name, rate in quotas.items():
            if name not in QUOTAS:
                raise ValueError(
                    f"quotas: {name!r} is not a KMS quota name (see aiokms.emulator.QUOTAS)"
                )
            if not _positive(rate):
                raise ValueError(f"quotas: {name!r}: {rate!r} is not a positive rate")
            rates[name] = float(rate)
        return rates
    if not _positive(quotas):
        raise ValueError(
            f"quotas: {quotas!r} is neither a positive factor of KMS's quotas nor a mapping"
        )
    return {name: rate * quotas for name, rate in default_rates(region).items()}


def _positive(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value > 0
        and not math.isinf(value)
    )


class QuotaMeter:
    """KMS's request quotas: a :class:`TokenBucket` per quota, a second's worth each.

    Args:
        rates: requests/s by quota name; a quota not named is not metered.
        clock: monotonic seconds.
    """

    __slots__ = ("_buckets",)

    def __init__(
        self, rates: Mapping[str, float], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = {name: TokenBucket(rate, clock=clock) for name, rate in rates.items()}

    def __repr__(self) -> str:
        return f"<QuotaMeter {len(self._buckets)} quotas>"

    @property
    def rates(self) -> Mapping[str, float]:
        """Each metered quota's rate, requests/s, by name."""
        return MappingProxyType({name: bucket.rate for name, bucket in self._buckets.items()})

    def admit(self, operation: str, body: bytes) -> str | None:
        """Count a request of ``operation``; return the quota that refuses it, or ``None``.

        Only the parameters that name a quota are read from the body (algorithms, key pair
        specs); a body that is not JSON counts against the operation's default quota, and is
        rejected later for what it is.
        """
        rule = RULES.get(operation)
        params = _parameters(body) if rule is not None and rule.parameters else {}
        quota = quota_for(operation, params)
        bucket = self._buckets.get(quota)
        if bucket is None or bucket.acquire():
            return None
        return quota


def _parameters(body: bytes) -> Mapping[str, object]:
    try:
        params = decode_json(body)
    except ValueError:  # not JSON as validation reads a body
        return {}
    return params if isinstance(params, dict) else {}
