"""KMSClient: every KMS operation as a coroutine, aiobotocore-compatible.

How one call runs (see the README's "How it works")::

    validate + serialize (per-operation converter, compiled once); the KMS quota it counts
    against (aiokms._quotas)
    -> its attempts (aiokms._retry.Attempts), driven here; per attempt:
       turn in its quota's limiter (adaptive mode; waits are asyncio sleeps)
       -> concurrency slot (taken before signing, so a signature never ages in a queue)
       -> credentials (cached; single-flight refresh)
       -> SigV4 (signing key cached per day)
       -> aiohttp POST (exceptions mapped at the transport boundary)
       -> the reply to the machine: done, retry after a backoff, or give up
    -> parse reply or raise the ClientError subclass for its code

The retry decisions, the retry quota and the limiters are the pure state machine's: this
module sleeps, sends and reads the clock for it. A call abandoned anywhere (cancelled, timed
out, closed) tells the machine, which passes an unspent limiter token on.

Lifecycle. A client belongs to one event loop, the one of its first call (or ``async with``);
a call from another loop raises ``WrongEventLoop``. ``close()`` is final: it wakes every call
that waits (backoff, rate limiter, connection slot, credentials) with ``ClientClosed``, closes
the pool (requests in flight lose their connection), and nothing is sent afterwards. In a
process forked from the one that used it, a client forgets its parent's loop, connections and
waiters (``aiokms._fork``; clients are held weakly for it) and opens its own.

Secrets and errors. An error leaves an operation method with the local variables of the
client's frames (and aiohttp's, botocore's) cleared in its traceback and in those of its
causes and contexts, the caller's arguments dropped from the method's own frame: error
reporters that record frame locals find no credentials, signed headers, request body or
plaintext there. Credentials are held as ``aiokms.Credentials``, whose repr redacts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
import json
import logging
import os
import random
import ssl
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from botocore.exceptions import OperationNotPageableError

from aiokms import _fork, _model, _operations, _protocol, _quotas, _telemetry, _transport
from aiokms._config import partition_of, resolve
from aiokms._credentials import CredentialCache, CredentialsProvider, FrozenCredentials
from aiokms._frames import forget_locals
from aiokms._operations import KMSExceptions, Operations
from aiokms._ratelimit import RateLimiters
from aiokms._retry import Failure, RetryPolicy, Step, classify
from aiokms._signing import EMPTY_SHA256, JsonPostSigner, Signer, SigningContext
from aiokms._transport import Slots, Transport, tls_settings
from aiokms.errors import (
    ClientClosed,
    DeadlineExceeded,
    InvalidResponse,
    RateLimited,
    TransportError,
    WrongEventLoop,
)

if TYPE_CHECKING:
    from botocore.model import ServiceModel
    from opentelemetry.trace import TracerProvider

__all__ = ["ClientMeta", "ClientStats", "KMSClient", "PageIterator", "Paginator"]

_log = logging.getLogger("aiokms.client")
# the steps every call's loop tests, as globals (see aiokms._retry: an enum member read from
# its class costs several global lookups)
_WAIT = Step.WAIT
_GIVE_UP = Step.GIVE_UP

__version__ = "0.1.0"
# sys.version's first word is platform.python_version(), without importing platform
_USER_AGENT = f"aiokms/{__version__} Python/{sys.version.split()[0]} {_transport.HTTP_CLIENT}"


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of a client's counters.

    Attributes:
        requests: HTTP requests sent (every attempt counts).
        retries: attempts after the first.
        throttles: replies that were throttles (a throttling error code, or HTTP 429).
        errors: service and transport errors by code, such as ``{"NotFoundException": 2}``
            (a copy: changing it changes nothing in the client).
        in_flight: calls holding a connection slot now.
        limiter_rate: the rate of the limiter of the symmetric cryptographic operations'
            quota (``Encrypt``, ``Decrypt``, ``GenerateDataKey``, ...) in requests/s, or
            ``None`` while it is off (before that quota's first throttle; always in standard
            mode).
        limiter_rates: the rate of every adaptive limiter that is on, in requests/s, by the
            name of its KMS quota (``"Cryptographic operations (symmetric)"``,
            ``"DescribeKey"``, ...; a copy). A quota's limiter is on from its first throttle.
    """

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    limiter_rate: float | None = None
    limiter_rates: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClientMeta:
    """``kms.meta``, as aiobotocore offers it (not its ``config`` or ``events``: aiokms takes
    no botocore ``Config`` and has no event hooks)."""

    region_name: str
    endpoint_url: str
    service_name: str = "kms"

    @property
    def partition(self) -> str:
        """The region's partition (``aws``, ``aws-cn``, ``aws-us-gov``, ...)."""
        return partition_of(self.region_name)

    @property
    def method_to_api_mapping(self) -> dict[str, str]:
        """Method names to the operation names of botocore's model (``"list_keys"``:
        ``"ListKeys"``), as botocore makes it; a copy."""
        return dict(_model.method_to_api_mapping())

    @property
    def service_model(self) -> ServiceModel:
        """botocore's KMS service model, the one the client runs."""
        return _model.service_model()


class KMSClient(Operations):
    """An asyncio AWS KMS client with aiobotocore's methods, arguments and responses.

    Every operation of botocore's KMS model is a coroutine method (``generate_data_key``,
    ``encrypt``, ``list_keys``, ...) taking the API's keyword arguments and returning the dict
    botocore returns. Use it as ``async with KMSClient(...) as kms:`` or call :meth:`close`.
    Type checkers see each method's parameters and response as the model types them
    (``aiokms.types``).

    Args:
        region_name: the AWS region; else ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile.
        endpoint_url: overrides the endpoint; else ``AWS_ENDPOINT_URL_KMS``,
            ``AWS_ENDPOINT_URL``, the profile, then ``https://kms.{region}.amazonaws.com``.
        credentials: ``aiokms.Credentials``, or any object with an async
            ``get_frozen_credentials()``; by default aiobotocore's credential chain.
        profile_name: the shared-config profile for region, endpoint, FIPS and credentials.
        use_fips_endpoint: use ``kms-fips.`` endpoints; else ``AWS_USE_FIPS_ENDPOINT``, profile.
        max_connections: the most requests in flight and connections open (default 64).
        connect_timeout: seconds to open a connection (default 60, as botocore); also the
            longest a call waits for its credentials to be fetched (then
            ``botocore.exceptions.CredentialRetrievalError``).
        read_timeout: seconds an attempt may take from sending its request to the end of
            its reply (default 60, as botocore, whose limit is per socket read: KMS
            replies are small, so the two agree in practice). Checked every eighth of
            it, at most every second, so an attempt gives up within that much after.
            On Python 3.10 it bounds each socket read instead, as botocore's does (there
            a deadline that cancels the attempt could swallow the caller's cancellation).
        retry_mode: ``"standard"`` or ``"adaptive"`` (default; else ``AWS_RETRY_MODE`` or
            the profile's, where ``"legacy"``, botocore's default, is read as standard).
            Adaptive mode paces the requests of each KMS request quota with a limiter of
            its own (``aiokms._quotas`` maps operations to quotas): a quota's first requests
            go out a few at a time, and from its first throttle its requests wait their
            turn at the rate the quota takes. A throttle of one quota never slows another.
        max_attempts: total attempts per call including the first (default 3; else
            ``AWS_MAX_ATTEMPTS``); 1 means no retries.
        verify: certificate verification, as botocore's ``verify``: ``False`` checks no
            certificate; a path to a PEM CA bundle (or a directory of hashed certificates)
            trusts those CAs instead of the default ones; ``True`` means the default trust
            store. ``None`` (default): ``AWS_CA_BUNDLE``, the profile's ``ca_bundle``,
            ``REQUESTS_CA_BUNDLE``, else the default trust store (the system's CAs). The
            bundle is loaded when the client is made (for an ``https://`` endpoint).
        ssl_context: TLS settings of your own for the connections, instead of ``verify``
            and the settings above (not with ``verify``).
        proxies: proxy URLs by the scheme of the endpoints they serve, as botocore's
            ``Config(proxies=...)``: ``{"https": "http://user:password@proxy:3128"}``
            (used as given; ``{}``: no proxy). ``None`` (default): ``HTTPS_PROXY`` /
            ``HTTP_PROXY`` (or their lower-case names) unless ``NO_PROXY`` names the
            endpoint. An ``https://`` endpoint is reached through a ``CONNECT`` tunnel.
        proxies_config: TLS settings for an ``https://`` proxy, as botocore's
            ``Config(proxies_config=...)``: ``proxy_ca_bundle`` (a PEM file of the CAs the
            proxy's certificate is checked against, instead of the default trust store),
            ``proxy_client_cert`` (a PEM file with the certificate and its key, or a
            ``(certificate, key)`` pair of files, presented to the proxy). Loaded when the
            client is made. Without them, the proxy's certificate is checked as the
            endpoint's is. ``proxy_use_forwarding_for_https`` may only be ``False``: requests
            to an ``https://`` endpoint always go through a ``CONNECT`` tunnel (aiohttp
            cannot hand them to the proxy). Unknown keys raise ``ValueError``, values of the
            wrong type ``TypeError``.
        call_timeout: seconds a whole call may take, retries and waits included; then
            ``aiokms.DeadlineExceeded``. ``None`` (default): only the per-attempt timeouts.
        max_rate_wait: fail fast instead of queueing: when the limiter of a call's quota,
            once on, would hold the call longer than this many seconds, raise
            ``aiokms.RateLimited`` at once (``0`` never waits). The short waits of a
            quota's first requests (about a round trip) are not refused. ``None``
            (default): always wait.
        clock: monotonic seconds for the rate limiters, the reply deadlines and credential
            refreshes (default ``time.monotonic``; tests inject their own).
        tracer_provider: the OpenTelemetry ``TracerProvider`` for the spans of this client's
            calls (one ``KMS.<Operation>`` span each); by default the global one, once set.
            Metrics go to the global ``MeterProvider``, once set. Needs ``opentelemetry-api``
            (``pip install 'aiokms[otel]'``); without it, and while no provider is set, calls
            make no span and record nothing (see the README's "Observability").

    A client belongs to the event loop of its first call (or ``async with``): using it from
    another loop raises ``aiokms.WrongEventLoop`` (make one client per loop). After
    ``close()`` no request is sent and every call raises ``aiokms.ClientClosed``, those
    under way included. In a child process forked after the client was made (gunicorn
    ``--preload``, multiprocessing, Celery prefork), the client never touches its parent's
    connections: it starts over with a pool and an event loop of the child's own.

    Raises:
        botocore.exceptions.NoRegionError: no region could be found.
        ValueError: an argument has an invalid value; the message names it.
        TypeError: ``proxies_config`` holds a value of the wrong type; the message names it.
    """

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        credentials: CredentialsProvider | None = None,
        profile_name: str | None = None,
        use_fips_endpoint: bool | None = None,
        max_connections: int = 64,
        connect_timeout: float = 60.0,
        read_timeout: float = 60.0,
        retry_mode: str | None = None,
        max_attempts: int | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxies: Mapping[str, str] | None = None,
        proxies_config: Mapping[str, Any] | None = None,
        call_timeout: float | None = None,
        max_rate_wait: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        tracer_provider: TracerProvider | None = None,
        _random: Callable[[], float] = random.random,
    ) -> None:
        if ssl_context is not None:
            if not isinstance(ssl_context, ssl.SSLContext):
                raise ValueError(f"ssl_context: {ssl_context!r} is not an ssl.SSLContext")
            if verify is not None:
                raise ValueError("verify: give verify or ssl_context, not both")
        try:
            config = resolve(
                region_name=region_name,
                endpoint_url=endpoint_url,
                use_fips_endpoint=use_fips_endpoint,
                profile_name=profile_name,
                retry_mode=retry_mode,
                max_attempts=max_attempts,
                # an ssl_context settles verification: no variable or profile setting applies
                verify=True if ssl_context is not None else verify,
                proxies=proxies,
            )
        except ValueError as error:  # a proxy URL's credentials may be in its frames' locals
            forget_locals(error)
            raise
        finally:
            proxies = None  # nor in this frame's, whatever is raised later
        proxy_context = _transport.proxy_tls(proxies_config)
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections: {max_connections!r} must be an int of at least 1")
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if not _seconds(value) or value <= 0:
                raise ValueError(f"{name}: {value!r} must be a positive number of seconds")
        if call_timeout is not None and (not _seconds(call_timeout) or call_timeout <= 0):
            raise ValueError(f"call_timeout: {call_timeout!r} must be None or positive seconds")
        if max_rate_wait is not None and (not _seconds(max_rate_wait) or max_rate_wait < 0):
            raise ValueError(f"max_rate_wait: {max_rate_wait!r} must be None or seconds >= 0")
        self.meta = ClientMeta(region_name=config.region, endpoint_url=config.endpoint_url)
        self.exceptions = _exceptions()
        self.retry_mode = config.retry_mode
        self.max_attempts = config.max_attempts
        self._credentials = CredentialCache(
            credentials, profile_name=profile_name, timeout=float(connect_timeout), clock=clock
        )
        tls, trusted = (
            tls_settings(
                ssl_context=ssl_context,
                verify=config.verify,
                ca_bundle=config.ca_bundle,
                ca_bundle_from=config.ca_bundle_from,
            )
            if config.endpoint_url.startswith("https:")
            else (True, "")  # plain HTTP: no certificate to check, no bundle to load
        )
        self._transport = Transport(
            config.endpoint_url,
            max_connections=max_connections,
            connect_timeout=float(connect_timeout),
            read_timeout=float(read_timeout),
            tls=tls,
            trusted=trusted,
            proxy=config.proxy,
            proxy_tls=proxy_context,
            clock=clock,
            headers={
                "Content-Type": _protocol.CONTENT_TYPE,  # signed, as the Host the transport adds
                "User-Agent": _USER_AGENT,
                "Accept-Encoding": "identity",  # replies are read as sent, never decompressed
            },
        )
        self._signer = JsonPostSigner(
            Signer(config.region, _operations.SIGNING_NAME),
            self._transport.host,
            _protocol.CONTENT_TYPE,
            _transport.REQUEST_HEADERS,
        )
        self._date_second = 0
        self._signing: SigningContext | None = None
        self._max_connections = max_connections
        self._slots = Slots(max_connections)
        self._loop: asyncio.AbstractEventLoop | None = None  # bound at the first call
        self._pauses: set[asyncio.Future[None]] = set()  # backoff and limiter waits, for close
        self._clock = clock
        self._call_timeout = call_timeout
        self._policy = RetryPolicy(
            config.max_attempts,
            limiters=RateLimiters() if config.retry_mode == "adaptive" else None,
            max_rate_wait=max_rate_wait,
            random=_random,
        )
        self._closed = False
        self._requests = 0
        self._retries = 0
        self._throttles = 0
        self._in_flight = 0
        self._errors: Counter[str] = Counter()
        self._telemetry = _telemetry.telemetry(
            tracer_provider, config.region, config.endpoint_url, clock, self
        )
        _fork.register(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"in_flight={self._in_flight}"
        return f"<KMSClient region={self.meta.region_name} {self.meta.endpoint_url} {state}>"

    async def __aenter__(self) -> KMSClient:
        if self._closed:
            raise ClientClosed()
        if self._loop is not asyncio.get_running_loop():
            self._enter_loop()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every pooled connection; the client cannot be used afterwards.

        Closing is final: calls waiting to retry, for the rate limiter, for a connection slot
        or for credentials raise ``aiokms.ClientClosed`` at once, requests in flight lose
        their connection (their calls raise ``ClientClosed``), nothing is sent afterwards and
        no connection is opened again. The client's copy of the credentials and the signing
        key derived from them are dropped. Closing again does nothing.

        Raises:
            aiokms.WrongEventLoop: the client belongs to another event loop, where its
                connections are (the client is closed all the same).
        """
        self._closed = True
        _telemetry.forget_client(self)
        self._signing = None
        self._signer.forget()
        loop = self._loop
        if loop is not None and loop is not asyncio.get_running_loop():
            self._credentials.forget_fetch()  # a task of that loop: not to be touched from here
            self._credentials.close()
            raise WrongEventLoop(loop.is_closed())
        for pause in self._pauses:
            _wake(pause)
        self._slots.fail_waiters(_closed_during_call)
        self._credentials.close()
        await self._transport.close()

    def _enter_loop(self) -> None:
        """Bind the client to the running loop at its first use; refuse any other."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            return
        raise WrongEventLoop(self._loop.is_closed())

    def _after_fork_in_child(self) -> None:
        """In a forked child: drop what belongs to the parent's loop and sockets, untouched."""
        self._loop = None
        self._transport.abandon()
        self._slots = Slots(self._max_connections)
        self._in_flight = 0
        self._pauses = set()
        self._credentials.forget_fetch()
        if self._policy.limiters is not None:
            # the parent's requests in flight and callers in line are not this process's: they
            # would hold places in a limiter's line, or its window, for good
            self._policy.limiters = RateLimiters()

    def stats(self) -> ClientStats:
        """A snapshot of this client's counters."""
        limiters = self._policy.limiters
        rates = limiters.rates() if limiters is not None else {}
        return ClientStats(
            requests=self._requests,
            retries=self._retries,
            throttles=self._throttles,
            errors=dict(self._errors),
            in_flight=self._in_flight,
            limiter_rate=rates.get(_quotas.SYMMETRIC),
            limiter_rates=rates,
        )

    @property
    def waiter_names(self) -> list[str]:
        """botocore's waiters for KMS: none."""
        return []

    def get_waiter(self, waiter_name: str) -> NoReturn:
        """KMS has no waiters: raises ``ValueError`` as botocore's does."""
        raise ValueError(f"Waiter does not exist: {waiter_name}")

    def can_paginate(self, operation_name: str) -> bool:
        """Whether ``get_paginator(operation_name)`` works (snake_case method name)."""
        return operation_name in _operations.PAGINATED

    def _paginator(self, operation_name: str) -> Paginator:
        """``get_paginator``'s work (declared by name, with each paginator's type, in
        :class:`~aiokms._operations.Operations`)."""
        spec = _model.paginators().get(operation_name)
        if spec is None:
            raise OperationNotPageableError(operation_name=operation_name)
        return Paginator(self, spec)

    # --- the call pipeline --------------------------------------------------------------

    async def _within_deadline(
        self,
        spec: _model.OperationSpec,
        quota: str,
        body: bytes,
        seconds: float,
        call: _telemetry.Call | None = None,
    ) -> dict[str, Any]:
        if call is None and self._telemetry is not None:  # the span: the deadline's too
            call = self._telemetry.call(spec.name)
            if call is not None:
                return await call.run(self._within_deadline(spec, quota, body, seconds, call))
        try:
            return await asyncio.wait_for(self._attempts(spec, quota, body, call), seconds)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(spec.name, seconds) from None

    async def _attempts(
        self,
        spec: _model.OperationSpec,
        quota: str,
        body: bytes,
        call: _telemetry.Call | None = None,
    ) -> dict[str, Any]:
        """Drive the call's :class:`~aiokms._retry.Attempts`: send until success, a failure
        not worth retrying, or no attempts or retry quota left. With a tracer provider on,
        within the call's span (``call``: the :class:`~aiokms._telemetry.Call` told of it)."""
        if call is None and self._telemetry is not None:
            call = self._telemetry.call(spec.name)
            if call is not None:
                return await call.run(self._attempts(spec, quota, body, call))
        payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        clock = self._clock
        attempts = self._policy.attempts(quota)
        error: Exception | None = None  # the last attempt's failure
        try:
            step = attempts.next_step(clock())
            while True:
                if step is _WAIT:  # a turn in the limiter, or a backoff
                    await self._pause(attempts.delay)
                    step = attempts.next_step(clock())
                    continue
                if step is _GIVE_UP:  # the limiter's wait is over max_rate_wait
                    if error is None:
                        assert attempts.refused_wait is not None
                        assert self._policy.max_rate_wait is not None
                        raise RateLimited(attempts.refused_wait, self._policy.max_rate_wait)
                    raise error from None  # a retry we would not wait for: the last failure

                status: int | None = None
                if not self._slots.try_take():
                    await self._slots.take()
                self._in_flight += 1
                try:
                    credentials = self._credentials.fresh() or await self._credentials.get()
                    self._requests += 1
                    attempts.sending(clock())
                    # signed headers passed on, never kept in this frame
                    status, reply_headers, data = await self._transport.post(
                        self._sign(spec.target, payload_hash, credentials), body
                    )
                except TransportError as exc:
                    self._errors[type(exc).__name__] += 1
                    error = exc
                finally:
                    self._in_flight -= 1
                    self._slots.release()
                if status is None:
                    if self._closed:  # close() took the connection
                        raise ClientClosed(during_call=True)
                    assert error is not None
                    step = attempts.on_no_reply(classify(None, None, error), clock())
                elif status < 300:
                    attempts.on_reply(None, clock())  # done
                    # a reply that cannot be parsed raises here, never retried: the
                    # operation has run (a CreateKey sent again would make another key)
                    return self._parse(spec, status, reply_headers, data, attempts.attempt)
                else:
                    error = self._error(spec, status, reply_headers, data, attempts.attempt)
                    code: str | None = error.response["Error"]["Code"]  # type: ignore[attr-defined]
                    failure = classify(status, code, None)
                    if failure is Failure.THROTTLE:
                        self._throttles += 1
                        if call is not None:
                            call.throttled()
                    step = attempts.on_reply(failure, clock())
                if step is Step.GIVE_UP:
                    if attempts.out_of_retry_quota and _log.isEnabledFor(logging.WARNING):
                        _log_failure(spec.name, attempts.attempt, error, None)
                    raise error
                if self._closed:
                    raise ClientClosed(during_call=True)
                self._retries += 1  # WAIT: a backoff, then the next attempt's turn
                if call is not None:
                    call.retrying(error)
                if _log.isEnabledFor(logging.DEBUG):
                    _log_failure(spec.name, attempts.attempt - 1, error, attempts.delay)
        except BaseException:  # cancelled, timed out, closed or failed: an unspent token goes on
            attempts.cancel(clock())
            raise

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, unless :meth:`close` ends the wait: then raise ClientClosed."""
        loop = asyncio.get_running_loop()
        pause = loop.create_future()
        timer = loop.call_later(seconds, _wake, pause)
        self._pauses.add(pause)
        try:
            await pause
        finally:
            timer.cancel()
            self._pauses.discard(pause)
        if self._closed:
            raise ClientClosed(during_call=True)

    def _sign(
        self, target: str, payload_hash: str, credentials: FrozenCredentials
    ) -> Mapping[str, str]:
        """The headers this request adds to the transport's own, ``Authorization`` included."""
        now = int(time.time())
        context = self._signing
        if (
            context is None
            or now != self._date_second
            # ``is``: the same string objects are surely the same key; new ones, maybe not
            or credentials.secret_key is not context.secret_key
            or credentials.access_key is not context.access_key
            or credentials.token is not context.token
        ):  # strftime and the precomputed hash states once a second, not once a request
            self._date_second = now
            context = self._signing = self._signer.context(
                time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)),
                credentials.access_key,
                credentials.secret_key,
                credentials.token,
            )
        return context.headers(target, payload_hash)

    def _parse(
        self,
        spec: _model.OperationSpec,
        status: int,
        headers: dict[str, str],
        data: bytes,
        attempt: int,
    ) -> dict[str, Any]:
        try:
            decoded = _protocol.decode_json(data) if data and not data.isspace() else {}
            result = spec.parse_output(decoded) if spec.parse_output is not None else {}
        except (ValueError, _protocol.ResponseParseError) as exc:
            self._errors["InvalidResponse"] += 1
            raise InvalidResponse(
                endpoint_url=self.meta.endpoint_url, error=f"{spec.name}: {exc}"
            ) from None
        result["ResponseMetadata"] = self._metadata(status, headers, attempt)
        return result

    def _error(
        self,
        spec: _model.OperationSpec,
        status: int,
        headers: dict[str, str],
        data: bytes,
        attempt: int,
    ) -> Exception:
        response = _protocol.error_response(status, headers, data, _model.error_parsers())
        meta = self._metadata(status, headers, attempt)
        if _protocol.is_generic_error(status, data):
            meta.pop("RequestId", None)  # as botocore: the request id of a proxy's page is moot
        response["ResponseMetadata"] = meta
        code = response["Error"]["Code"]
        self._errors[code] += 1
        error: Exception = self.exceptions.from_code(code)(response, spec.name)
        return error

    def _metadata(self, status: int, headers: dict[str, str], attempt: int) -> dict[str, Any]:
        """The ResponseMetadata of the reply to attempt number ``attempt`` (from 1)."""
        last = attempt >= self.max_attempts
        return _protocol.response_metadata(status, headers, attempt - 1, last)


def _log_failure(operation: str, attempt: int, error: Exception, backoff: float | None) -> None:
    """Log failed attempt number ``attempt``: its operation and error code (or exception class)
    with the HTTP status; DEBUG with the ``backoff`` before it is retried, WARNING when
    ``backoff`` is None: not retried for want of retry quota. Nothing of the request, nor the
    reply's message."""
    cause = _telemetry.error_code(error)
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # a ClientError: and the HTTP status
        cause += f", HTTP {response.get('ResponseMetadata', {}).get('HTTPStatusCode')}"
    if backoff is None:
        _log.warning(
            "%s attempt %d failed (%s); not retried: the client's retry quota is spent",
            operation,
            attempt,
            cause,
        )
    else:
        _log.debug(
            "%s attempt %d failed (%s); retrying in %.3f s", operation, attempt, cause, backoff
        )


def _seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wake(pause: asyncio.Future[None]) -> None:
    if not pause.done():
        pause.set_result(None)


def _closed_during_call() -> ClientClosed:
    return ClientClosed(during_call=True)


_EXCEPTIONS: KMSExceptions | None = None


def _exceptions() -> KMSExceptions:
    """One set of exception classes per process, shared by every client (as botocore caches)."""
    global _EXCEPTIONS
    if _EXCEPTIONS is None:
        _EXCEPTIONS = KMSExceptions(list(_operations.ERROR_CODES))
    return _EXCEPTIONS


def _operation_method(method_name: str, name: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The method that runs operation ``name``; its converters are compiled at its first call."""
    declaration = getattr(Operations, method_name)
    rule = _quotas.RULES.get(name)
    # the quota, when the request's parameters cannot change it (most operations)
    fixed_quota = None if rule is not None and rule.parameters else _quotas.quota_for(name, {})

    async def operation(self: KMSClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args:
            raise TypeError(f"{method_name}() only accepts keyword arguments.")
        try:
            spec = _model.operation(name)
            if self._closed:
                raise ClientClosed()
            if self._loop is not asyncio.get_running_loop():
                self._enter_loop()
            quota = fixed_quota or _quotas.quota_for(spec.name, kwargs)
            # the body is passed on, never kept in this frame (it is not cleared)
            if self._call_timeout is None:
                return await self._attempts(spec, quota, spec.serialize_input(kwargs))
            return await self._within_deadline(
                spec, quota, spec.serialize_input(kwargs), self._call_timeout
            )
        except BaseException as error:
            kwargs.clear()  # this call's own dict: the caller's values leave this frame
            forget_locals(error)
            raise

    operation.__name__ = method_name
    operation.__qualname__ = f"KMSClient.{method_name}"
    operation.__doc__ = declaration.__doc__
    operation.__wrapped__ = declaration  # type: ignore[attr-defined]  # for inspect.signature
    return operation


for _method_name, _name in _operations.OPERATIONS.items():
    setattr(KMSClient, _method_name, _operation_method(_method_name, _name))
del _method_name, _name


class Paginator:
    """``kms.get_paginator(name)``: ``paginate(**kwargs)`` iterates the pages of a list call."""

    __slots__ = ("_client", "_spec")

    def __init__(self, client: KMSClient, spec: _model.PaginatorSpec) -> None:
        self._client = client
        self._spec = spec

    def paginate(self, **kwargs: Any) -> PageIterator[Any]:
        """An async iterator of pages; ``PaginationConfig`` takes ``MaxItems``, ``PageSize``
        and ``StartingToken`` as botocore's does (read now: its numbers made whole with
        ``int()``). An unknown key raises ``ValueError`` (botocore ignores it)."""
        config = _pagination_config(kwargs.pop("PaginationConfig", None))
        return PageIterator(self._client, self._spec, kwargs, config)


def _pagination_config(config: object) -> dict[str, Any]:
    """A copy of a caller's ``PaginationConfig``, its numbers made whole as botocore makes them."""
    if not config:
        return {}
    if not isinstance(config, Mapping):
        raise TypeError(f"PaginationConfig: expected a mapping, got {type(config).__name__}")
    unknown = set(config) - {"MaxItems", "PageSize", "StartingToken"}
    if unknown:
        raise ValueError(f"PaginationConfig: unknown keys {sorted(unknown)}")
    copied = dict(config)
    for name in ("MaxItems", "PageSize"):
        value = copied.get(name)
        if value is not None:
            try:
                copied[name] = int(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"PaginationConfig: {name} {value!r} is not a whole number"
                ) from None
    return copied


_Page = TypeVar("_Page")


class PageIterator(Generic[_Page]):
    """The pages of one pagination; ``resume_token`` continues where a ``MaxItems`` cut ended."""

    __slots__ = ("_client", "_config", "_params", "_spec", "resume_token")

    def __init__(
        self,
        client: KMSClient,
        spec: _model.PaginatorSpec,
        params: dict[str, Any],
        config: dict[str, Any],
    ) -> None:
        self._client = client
        self._spec = spec
        self._params = params
        self._config = config
        self.resume_token: str | None = None

    def __aiter__(self) -> AsyncIterator[_Page]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[Any]:
        spec = self._spec
        method = getattr(self._client, spec.method_name)
        params = dict(self._params)
        if self._config.get("PageSize") is not None and spec.limit_key:
            params[spec.limit_key] = self._config["PageSize"]
        skip = 0
        if self._config.get("StartingToken"):
            marker, skip = _decode_token(self._config["StartingToken"], spec.input_token)
            if marker is not None:
                params[spec.input_token] = marker
        remaining = self._config.get("MaxItems")
        while True:
            page = await method(**params)
            items = page.get(spec.result_key, [])[skip:]
            skip_before, skip = skip, 0
            page[spec.result_key] = items
            marker = page.get(spec.output_token)
            more = bool(page.get(spec.more_results)) if spec.more_results else marker is not None
            more = more and marker is not None
            if remaining is not None and len(items) >= remaining:
                if len(items) > remaining:
                    # resume inside this page: ask for it again and skip what was yielded
                    page[spec.result_key] = items[:remaining]
                    self.resume_token = _encode_token(
                        params.get(spec.input_token),
                        spec.input_token,
                        skip_before + remaining,
                    )
                elif more:
                    self.resume_token = _encode_token(marker, spec.input_token, 0)
                yield page
                return
            if remaining is not None:
                remaining -= len(items)
            yield page
            if not more:
                return
            params[spec.input_token] = marker

    async def search(self, expression: str) -> AsyncIterator[Any]:
        """The JMESPath ``expression`` applied to each page, as aiobotocore's ``search``: the
        elements of a list result one by one, any other result as it is."""
        # botocore's dependency (untyped); imported here, off the client's import path
        jmespath = importlib.import_module("jmespath")
        compiled = jmespath.compile(expression)
        async for page in self._pages():
            found = compiled.search(page)
            if isinstance(found, list):
                for element in found:
                    yield element
            else:
                yield found

    async def build_full_result(self) -> dict[str, Any]:
        """Every page's items in one dict (``NextToken`` set when ``MaxItems`` cut it)."""
        items: list[Any] = []
        async for page in self._pages():
            items.extend(page.get(self._spec.result_key, []))
        result: dict[str, Any] = {self._spec.result_key: items}
        if self.resume_token:
            result["NextToken"] = self.resume_token
        return result


# Resume tokens are base64 JSON, as botocore's, so tokens pass between aiokms and aiobotocore.
_TRUNCATE = "boto_truncate_amount"
_BAD_TOKEN = "PaginationConfig: StartingToken is not a token this paginator made"


def _encode_token(marker: str | None, input_token: str, skip: int) -> str:
    token: dict[str, Any] = {input_token: marker}
    if skip:
        token[_TRUNCATE] = skip
    return base64.b64encode(json.dumps(token).encode()).decode()


def _decode_token(token: str, input_token: str) -> tuple[str | None, int]:
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
        marker, skip = decoded.get(input_token), int(decoded.get(_TRUNCATE, 0))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(_BAD_TOKEN) from None
    if marker is not None and not isinstance(marker, str):
        raise ValueError(_BAD_TOKEN)
    return marker, max(skip, 0)
