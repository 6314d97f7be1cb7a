"""The shared request quota: a token bucket with an injected clock.

How this works: KMS meters the cryptographic operations of an account and Region together
against one request-per-second quota, and answers ``ThrottlingException`` beyond it. The bucket
holds up to ``burst`` tokens and gains ``rate`` tokens a second; each admitted request takes
one, a request that finds less than one token is refused and takes nothing. It starts full, so
a client may send ``burst`` requests at once and then ``rate`` a second on average.

Pure code: the caller's clock (monotonic seconds) is read once per decision.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


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
