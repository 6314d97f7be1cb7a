"""Credentials, and the cache that keeps them off the hot path.

How this works: a request needs an access key, a secret key and maybe a session token. They come
from an ``aiokms.Credentials``, from any object with an async ``get_frozen_credentials()`` (such
as aiobotocore's refreshable credentials), or by default from aiobotocore's credential chain,
resolved on first use. :class:`CredentialCache` hands out the last frozen copy and asks the
source again at most once per ``recheck_interval`` seconds (a static ``Credentials`` is never
asked again). Whoever finds the copy stale starts one fetch; every concurrent caller awaits that
same fetch, so a refresh reaches the source once however many requests are in flight.
aiobotocore's refreshable credentials renew themselves before expiry inside that call. A fetch
that takes longer than ``timeout`` (the client's ``connect_timeout``) fails every caller
waiting for it, and is not kept: the next caller asks again.

Whatever the source answers is copied into a :class:`Credentials`, whose ``repr`` hides the
secret key and the session token (botocore's ``ReadOnlyCredentials`` shows them), so that a
frame local or a log line holding the credentials shows no secret. No secret appears in any
``repr`` or message here.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from botocore.exceptions import CredentialRetrievalError, NoCredentialsError

from aiokms.errors import ClientClosed

__all__ = ["CredentialCache", "Credentials", "CredentialsProvider", "FrozenCredentials"]


class FrozenCredentials(Protocol):
    """What signing reads: botocore's ``ReadOnlyCredentials`` and ``Credentials`` both fit."""

    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def token(self) -> str | None: ...


@runtime_checkable
class CredentialsProvider(Protocol):
    """Anything with an async ``get_frozen_credentials()``, such as aiobotocore's credentials.

    A synchronous one (botocore's ``Credentials``) is accepted too.
    """

    async def get_frozen_credentials(self) -> Any: ...


class Credentials:
    """Static AWS credentials.

    Args:
        access_key: the access key id.
        secret_key: the secret access key.
        token: the session token of temporary credentials, if any.
    """

    __slots__ = ("access_key", "secret_key", "token")

    access_key: str
    secret_key: str
    token: str | None

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        for name, value in (("access_key", access_key), ("secret_key", secret_key)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("token must be a non-empty string or None")
        object.__setattr__(self, "access_key", access_key)
        object.__setattr__(self, "secret_key", secret_key)
        object.__setattr__(self, "token", token)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Credentials are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Credentials are immutable")

    def __reduce__(self) -> tuple[type[Credentials], tuple[str, str, str | None]]:
        # rebuilt through __init__: copy's default slot-by-slot setattr is refused above
        return (Credentials, (self.access_key, self.secret_key, self.token))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.access_key, self.secret_key, self.token) == (
            other.access_key,
            other.secret_key,
            other.token,
        )

    def __hash__(self) -> int:
        return hash((self.access_key, self.secret_key, self.token))

    def __repr__(self) -> str:
        token = ", token=<redacted>" if self.token else ""
        return f"Credentials(access_key={self.access_key!r}, secret_key=<redacted>{token})"

    async def get_frozen_credentials(self) -> Credentials:
        """Return these credentials (the provider interface aiobotocore uses)."""
        return self


def _check(frozen: Any) -> Credentials:
    """A source's answer as :class:`Credentials` (whose repr redacts), or NoCredentialsError."""
    if isinstance(frozen, Credentials):
        return frozen
    access_key = getattr(frozen, "access_key", None)
    secret_key = getattr(frozen, "secret_key", None)
    if not access_key or not secret_key:
        raise NoCredentialsError()
    # the same string objects: the client's signing context recognizes them by identity
    return Credentials(access_key, secret_key, getattr(frozen, "token", None) or None)


def _from_environment(environ: Mapping[str, str]) -> Credentials | None:
    """The environment's static credentials, read as botocore's first provider reads them, or
    ``None`` where that provider would do more (credentials with an expiry, which it refreshes;
    a partial set, which it refuses)."""
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key or environ.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    token = environ.get("AWS_SECURITY_TOKEN") or environ.get("AWS_SESSION_TOKEN") or None
    return Credentials(access_key, secret_key, token)


async def _default_chain(profile_name: str | None) -> CredentialsProvider:
    # The chain's first provider, without importing aiobotocore's session (a cold start's
    # largest import): the environment, unless a profile is named (which skips it, as botocore)
    found = None if profile_name is not None else _from_environment(os.environ)
    if found is not None:
        return found
    from aiobotocore.session import AioSession

    source = await AioSession(profile=profile_name).get_credentials()
    if source is None:
        raise NoCredentialsError()
    return source  # type: ignore[no-any-return]


class CredentialCache:
    """Frozen credentials for the hot path, with single-flight refresh.

    Args:
        source: ``Credentials``, a ``CredentialsProvider``, or ``None`` for aiobotocore's
            default chain (with ``profile_name``).
        recheck_interval: how old, in seconds, a frozen copy from a provider may get before the
            provider is asked again.
        timeout: seconds a fetch may take (the default chain's resolution included) before it
            fails with ``CredentialRetrievalError``; ``None``: no limit.
        clock: monotonic seconds.
    """

    __slots__ = (
        "_clock",
        "_closed",
        "_current",
        "_fetch",
        "_interval",
        "_profile",
        "_source",
        "_stale_at",
        "_timeout",
    )

    def __init__(
        self,
        source: CredentialsProvider | None,
        *,
        profile_name: str | None = None,
        recheck_interval: float = 1.0,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if source is not None and not callable(getattr(source, "get_frozen_credentials", None)):
            raise TypeError(
                "credentials must be aiokms.Credentials or have an async get_frozen_credentials()"
            )
        self._source = source
        self._profile = profile_name
        self._interval = recheck_interval
        self._timeout = timeout
        self._clock = clock
        self._closed = False
        self._current: FrozenCredentials | None = None
        self._stale_at = 0.0
        self._fetch: asyncio.Future[FrozenCredentials] | None = None
        if isinstance(source, Credentials):
            self._current = source
            self._stale_at = float("inf")

    def __repr__(self) -> str:
        kind = "default chain" if self._source is None else type(self._source).__name__
        return f"<CredentialCache source={kind} cached={self._current is not None}>"

    def fresh(self) -> FrozenCredentials | None:
        """The cached credentials if they need no recheck, else ``None`` (no await: hot path)."""
        if self._clock() < self._stale_at:
            return self._current
        return None

    async def get(self) -> FrozenCredentials:
        """The current frozen credentials, fetched from the source when stale.

        Raises:
            botocore.exceptions.NoCredentialsError: the source has none.
            botocore.exceptions.CredentialRetrievalError: the fetch took longer than
                ``timeout``, or the source failed.
            aiokms.ClientClosed: :meth:`close` was called, before or during the fetch.
        """
        current = self._current
        if current is not None and self._clock() < self._stale_at:
            return current
        if self._closed:
            raise ClientClosed()
        fetch = self._fetch
        if fetch is None:
            fetch = self._fetch = asyncio.ensure_future(self._refresh())
            fetch.add_done_callback(self._fetched)
        # shield: one caller's cancellation must not cancel the fetch the others await
        return await asyncio.shield(fetch)

    async def _refresh(self) -> FrozenCredentials:
        try:
            if self._timeout is None:
                return await self._ask_source()
            return await asyncio.wait_for(self._ask_source(), self._timeout)
        except asyncio.TimeoutError:
            source = "the default chain" if self._source is None else type(self._source).__name__
            raise CredentialRetrievalError(
                provider=source, error_msg=f"no answer within {self._timeout} s"
            ) from None
        except asyncio.CancelledError:
            if self._closed:  # every caller waiting for this fetch learns why it stopped
                raise ClientClosed(during_call=True) from None
            raise

    async def _ask_source(self) -> FrozenCredentials:
        if self._source is None:
            self._source = await _default_chain(self._profile)
        answer = self._source.get_frozen_credentials()
        if inspect.isawaitable(answer):  # aiobotocore's; botocore's own is synchronous
            answer = await answer
        frozen = _check(answer)
        self._current = frozen
        self._stale_at = self._clock() + self._interval
        return frozen

    def close(self) -> None:
        """Stop a fetch under way (its callers get ``ClientClosed``) and forget the copy."""
        self._closed = True
        self._current = None
        self._stale_at = 0.0
        if self._fetch is not None:
            self._fetch.cancel()

    def forget_fetch(self) -> None:
        """Drop a fetch without touching it: it belongs to another event loop (or process)."""
        self._fetch = None

    def _fetched(self, fetch: asyncio.Future[FrozenCredentials]) -> None:
        if self._fetch is fetch:
            self._fetch = None
        if not fetch.cancelled():
            fetch.exception()  # retrieved here so a failure nobody awaited is not logged
