"""HTTP transport: one pooled aiohttp session per client, and the exception boundary.

How this works: the session and its connector are created on first use inside the running loop
(aiohttp binds them to it) and closed by :meth:`Transport.close`, after which the transport
refuses to send (``ClientClosed``) and never opens another. In a process forked from the one
that opened them, :meth:`Transport.abandon` leaves the parent's session and sockets untouched
(closing them would unregister the parent's sockets from the event loop's selector, which
parent and child share) and the next request opens a session of the child's own. The
connector's ``limit``
equals the client's ``max_connections``; the client takes one of as many :class:`Slots`
*before* signing, so the connector never queues a signed request. Idle connections
are kept about 12 s (AWS closes them near 20 s) and DNS answers are cached for a bounded time.

Timeouts: aiohttp bounds the opening of a connection (``connect_timeout``: TCP, a proxy's
tunnel, TLS). The reply is bounded by :class:`Deadlines` from the moment the attempt has its
connection (:class:`_Connector`), one timer for every attempt in flight: aiohttp's own read
timeout arms and cancels a timer at the request and again at each read, which measured as
the largest single cost of a pooled request here (about 6% of the client's CPU per call).
:class:`Deadlines` cancels the attempt's task, and tells its own cancellation from the
caller's with ``Task.uncancel`` (Python 3.11+). Python 3.10 has no way to tell them apart
when both land in the same loop iteration, and the caller's cancellation would become a
retried ``ReadTimeout``; there aiohttp's per-read timeout (``sock_read``, as botocore's
``read_timeout``) bounds the reply instead: it fails the read, and never cancels the task.

TLS: an ``https://`` endpoint's certificate is verified against the default trust store
(aiohttp's default context, made once per process), a CA bundle the settings name (a context
of the client's own, loaded when the client is made, so a bad path fails there and not at the
first call), or whatever ``ssl_context`` the caller gives. A certificate that fails
verification is a :class:`~aiokms.errors.CertificateError` naming the problem and the trust
store it was checked against; it is not transient, so it is never retried.

Proxies: with a :class:`~aiokms._config.Proxy`, every request names it to aiohttp, which
tunnels an ``https://`` endpoint's connections through it with ``CONNECT`` (TLS runs end to
end inside the tunnel; the pool keeps tunnels alive as it keeps connections) and sends a plain
``http://`` endpoint's requests to it in absolute form. An ``https://`` proxy is spoken to
in TLS too, its certificate checked as the endpoint's is, or with the context
:func:`proxy_tls` makes from botocore's ``proxies_config`` (for an ``https://`` endpoint that
is TLS within TLS, which asyncio has from Python 3.11). Its ``Proxy-Authorization`` header
goes with the ``CONNECT`` only, or, for an ``http://`` endpoint, with each request the proxy
forwards. A failure to reach it, or a refusal (a ``407`` to the ``CONNECT`` or to a forwarded
request), is a :class:`~aiokms.errors.ProxyError` naming the proxy without its credentials.

Requests: :meth:`Transport.post` sends a request from the pool's connection itself, without
``ClientSession.post``'s redirects, cookies, timeouts and tracing machinery, which no KMS
request uses and which cost about a ninth of a call's CPU (see :meth:`Transport._request`).
It calls aiohttp's internals, so only with the releases it was tested with (:data:`DIRECT_AIOHTTP`)
whose internals accept what it passes (:func:`direct_requests`, once, at import); with any
other aiohttp every request goes through ``session.post``.
Redirects are never followed, on either path, as botocore follows none.

This is the only module that sees aiohttp's client exceptions: :func:`map_exceptions` turns
them, and asyncio timeouts, into :mod:`aiokms.errors` classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import select
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.connector import Connection
from yarl import URL

from aiokms import errors
from aiokms._config import Proxy

__all__ = ["Deadlines", "Slots", "Transport", "map_exceptions", "proxy_tls", "tls_settings"]

# the HTTP client, as the User-Agent names it
HTTP_CLIENT = f"aiohttp/{aiohttp.__version__}"
# the mapping a request's own headers are made in: merged into the transport's in one copy
REQUEST_HEADERS: Callable[[Mapping[str, str]], MutableMapping[str, str]] = dict
KEEPALIVE_TIMEOUT = 12.0
READ_BUFSIZE = 2**16  # aiohttp's sessions' default
DNS_CACHE_TTL = 60
# Task.uncancel (3.11+) lets Deadlines tell its cancellations from the caller's; see above.
_USE_DEADLINES = sys.version_info >= (3, 11)
# asyncio runs TLS over a TLS connection (an https:// proxy's tunnel) from Python 3.11
_TLS_IN_TLS_MISSING = sys.version_info < (3, 11)
# the session's request method as aiohttp defines it (see Transport._request)
_SESSION_REQUEST = aiohttp.ClientSession._request
# aiohttp's connector method that takes a connection from the pool or opens one (see _Connector)
_CONNECT = aiohttp.TCPConnector.connect
# the connector's method that makes the request to a proxy (see _ProxyTLSConnector)
_PROXY_REQUEST_METHOD = "_update_proxy_auth_header_and_build_proxy_req"
# The aiohttp releases (major, minor; both ends included) the request path Transport.post takes
# itself was tested with: it calls aiohttp's internals, which change between minor releases.
DIRECT_AIOHTTP = ((3, 10), (3, 14))
# What that path calls: each callable, how many arguments it passes by position (``self``
# included) and the keywords it passes.
_DIRECT_CALLS: tuple[tuple[object, int, tuple[str, ...]], ...] = (
    (
        aiohttp.ClientRequest,
        2,
        ("headers", "data", "loop", "session", "proxy", "proxy_headers"),
    ),
    (getattr(aiohttp.TCPConnector, "connect", None), 4, ()),
    (
        getattr(ResponseHandler, "set_response_params", None),
        1,
        (
            "read_until_eof",
            "auto_decompress",
            "read_timeout",
            "read_bufsize",
            "timeout_ceil_threshold",
        ),
    ),
    (getattr(aiohttp.ClientRequest, "send", None), 2, ()),
    (getattr(aiohttp.ClientResponse, "start", None), 2, ()),
)


def direct_requests(
    version: str = aiohttp.__version__,
    calls: tuple[tuple[object, int, tuple[str, ...]], ...] = _DIRECT_CALLS,
) -> bool:
    """Whether :meth:`Transport.post` may send requests itself (see :meth:`Transport._request`).

    Only with an aiohttp release within :data:`DIRECT_AIOHTTP` whose internals that path calls
    (``calls``) exist and accept the arguments it passes them; with any other, requests go
    through ``session.post``. Decided once, when this module is imported.
    """
    try:
        release = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:  # not a release number aiohttp uses
        return False
    if not DIRECT_AIOHTTP[0] <= release <= DIRECT_AIOHTTP[1]:
        return False
    for call, positional, keywords in calls:
        if not callable(call):
            return False
        try:
            inspect.signature(call).bind(*[None] * positional, **dict.fromkeys(keywords))
        except (TypeError, ValueError):  # missing, or takes other arguments
            return False
    return True


# whether Transport.post sends requests itself with this aiohttp (a session's trace configs
# or a patched session method still send them through the session)
_DIRECT_REQUESTS = direct_requests()
# What a forked child leaves alone (see Transport.abandon): kept referenced, never collected.
_ABANDONED: list[object] = []


class map_exceptions:  # named like a function: used as ``with map_exceptions(url):``
    """Translate aiohttp and asyncio failures into :mod:`aiokms.errors` (cancellation passes).

    A class rather than a generator-based context manager: it runs on every request.
    ``read_timeout``, when given, is named in the message of a read timeout aiohttp reports;
    ``trusted``, the trust store certificates are checked against, in that of a certificate
    that fails verification; ``proxy``, in those of a proxy's failures.
    """

    __slots__ = ("endpoint_url", "proxy", "read_timeout", "trusted")

    def __init__(
        self,
        endpoint_url: str,
        read_timeout: float | None = None,
        trusted: str = "",
        proxy: Proxy | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.read_timeout = read_timeout
        self.trusted = trusted
        self.proxy = proxy

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or not isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError)):
            return  # success, cancellation, or not ours to translate
        error = _translate(exc, self)
        try:
            raise error
        finally:  # raised while ``exc`` is handled, it would be the context: see _translate
            error.__context__ = None


class Deadlines:
    """The reply deadlines of the attempts in flight, enforced by one timer for them all.

    An attempt registers its task with :meth:`start` before it sends and leaves with
    :meth:`stop` once the reply is read (or it failed). While any attempt is registered, a
    timer fires every ``tick`` seconds (an eighth of the timeout, at most one second) and
    cancels the tasks whose deadline has passed, marking them expired; the attempt sees the
    ``CancelledError`` where it awaits the reply, asks :meth:`expired`, and raises
    ``ReadTimeout`` instead. So a reply may take up to ``timeout + tick`` seconds before it
    times out. Registering costs a dict write, where a timer of its own would cost a heap
    push and a cancellation.

    The cancellation always lands inside the attempt: a registered task is suspended there
    whenever the timer runs, and :meth:`stop` runs before it awaits anything else.
    """

    __slots__ = ("_due", "_loop", "_timer", "clock", "tick", "timeout")

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.tick = min(timeout / 8, 1.0)
        self.clock = clock
        self._due: dict[asyncio.Task[object], float | None] = {}  # None once expired
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<Deadlines timeout={self.timeout} in_flight={len(self._due)}>"

    def start(self, task: asyncio.Task[object]) -> None:
        """Give ``task`` ``timeout`` seconds from now to :meth:`stop`."""
        self._due[task] = self.clock() + self.timeout
        loop = task.get_loop()
        if self._timer is None or self._loop is not loop:
            self._arm(loop)

    def stop(self, task: asyncio.Task[object]) -> None:
        self._due.pop(task, None)

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether ``task`` was cancelled because its deadline passed."""
        return task in self._due and self._due[task] is None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:  # attempts left by a loop that is gone never stop: drop them
            self._due = {task: due for task, due in self._due.items() if task.get_loop() is loop}
        self.close()
        self._loop = loop
        self._timer = loop.call_later(self.tick, self._check)

    def _check(self) -> None:
        self._timer = None
        now = self.clock()
        for task, due in list(self._due.items()):
            if due is not None and due <= now:
                self._due[task] = None
                task.cancel()
        if self._due and self._loop is not None and not self._loop.is_closed():
            self._timer = self._loop.call_later(self.tick, self._check)


class Slots:
    """A counting semaphore for the client's connection slots, first come first served.

    ``asyncio.Semaphore.acquire`` is a coroutine that scans its waiters even when a slot is
    free; here a free slot is taken without awaiting (:meth:`try_take`), and only a caller
    who must wait awaits :meth:`take`. A released slot goes straight to the first waiter.
    """

    __slots__ = ("_waiters", "free")

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"<Slots free={self.free} waiting={len(self._waiters)}>"

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody waits for it before us."""
        if self.free and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting for one in turn if need be."""
        if self.try_take():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):  # unless release() dropped it already
                    self._waiters.remove(waiter)
            else:
                self.release()  # handed a slot just as the wait was cancelled: pass it on
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter, else to the free count."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1

    def fail_waiters(self, error: Callable[[], BaseException]) -> None:
        """Make everyone waiting for a slot raise ``error()`` (its owner is closing)."""
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error())


def _cancelled_elsewhere(task: asyncio.Task[object]) -> bool:
    """Whether ``task`` has a cancellation pending besides the one :class:`Deadlines` made."""
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+; before, nobody else can tell
    return uncancel is not None and uncancel() > 0


def _translate(exc: BaseException, where: map_exceptions) -> errors.TransportError:
    # Descriptions, not the exceptions: an aiohttp exception's frames hold the request, and
    # its request_info the request's headers (signed ones, the session token, the proxy's
    # credentials). So the error returned is raised with neither cause nor context.
    url, read_timeout = where.endpoint_url, where.read_timeout
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return errors.CertificateError(
            endpoint_url=url, error=_certificate_problem(exc.certificate_error, where.trusted)
        )
    if where.proxy is not None:
        if isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy refused the tunnel
            return errors.ProxyError(
                endpoint_url=url, proxy=str(where.proxy), error=f"{exc.status} {exc.message}"
            )
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            error = _describe(exc.os_error)
            return errors.ProxyError(endpoint_url=url, proxy=str(where.proxy), error=error)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return errors.ConnectTimeout(endpoint_url=url, error=_describe(exc))
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        # (aiohttp's own read timeout serves Python 3.10 only: it bounds each socket read)
        detail = _describe(exc) if read_timeout is None else f"nothing read for {read_timeout} s"
        return errors.ReadTimeout(endpoint_url=url, error=detail)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return errors.ConnectError(endpoint_url=url, error=_describe(exc))
    if isinstance(
        exc,
        (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientOSError,
            aiohttp.ClientPayloadError,
            ConnectionError,
        ),
    ):
        return errors.ConnectionClosed(endpoint_url=url, error=_describe(exc))
    if isinstance(exc, aiohttp.ClientResponseError):  # a reply that is not valid HTTP
        return errors.InvalidResponse(endpoint_url=url, error=_describe(exc))
    return errors.TransportError(endpoint_url=url, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _certificate_problem(error: BaseException, trusted: str) -> str:
    """What is wrong with the server's certificate, in OpenSSL's words, and whom we trusted."""
    problem = getattr(error, "verify_message", None) or getattr(error, "reason", None) or error
    where = f"; checked against {trusted}" if trusted else ""
    return (
        f"the server's TLS certificate failed verification: {problem} "
        f"(CERTIFICATE_VERIFY_FAILED{where})"
    )


def tls_settings(
    *,
    ssl_context: ssl.SSLContext | None = None,
    verify: bool = True,
    ca_bundle: str | None = None,
    ca_bundle_from: str = "",
) -> tuple[ssl.SSLContext | bool, str]:
    """aiohttp's ``ssl`` value for these settings, and the trust store it checks against.

    ``ssl_context`` wins over the rest; ``verify=False`` checks nothing; ``ca_bundle`` (a PEM
    file, or a directory of hashed certificates as OpenSSL's ``capath``) replaces the default
    trust store. The bundle is loaded here.

    Raises:
        ValueError: the bundle cannot be loaded; the message names ``ca_bundle_from``.
    """
    if ssl_context is not None:
        return ssl_context, "the ssl_context given"
    if not verify:
        return False, ""
    if ca_bundle is None:
        return True, "the default trust store"
    try:
        if os.path.isdir(ca_bundle):
            context = ssl.create_default_context(capath=ca_bundle)
        else:
            context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:  # missing, unreadable, or holds no certificate
        reason = exc.strerror if not isinstance(exc, ssl.SSLError) else exc.reason
        raise ValueError(
            f"{ca_bundle_from}: cannot load the CA bundle {ca_bundle!r}: {reason or exc}"
        ) from None
    return context, f"the CA bundle {ca_bundle} (from {ca_bundle_from})"


# botocore's Config(proxies_config=...) keys
PROXIES_CONFIG_KEYS = ("proxy_ca_bundle", "proxy_client_cert", "proxy_use_forwarding_for_https")


def proxy_tls(proxies_config: Mapping[str, object] | None) -> ssl.SSLContext | None:
    """The TLS context to speak to an ``https://`` proxy with, from botocore's
    ``proxies_config``; ``None`` when it names no CA bundle nor client certificate (the
    proxy's certificate is then checked as the endpoint's is).

    ``proxy_ca_bundle`` (a PEM file) is the CAs the proxy's certificate is checked against,
    instead of the default trust store; ``proxy_client_cert`` (a PEM file holding the
    certificate and its key, or a ``(certificate, key)`` pair of files) is presented to the
    proxy. ``proxy_use_forwarding_for_https`` may be ``False`` only: aiohttp reaches an
    ``https://`` endpoint through a ``CONNECT`` tunnel, always. The files are loaded here.

    Raises:
        TypeError: not a mapping, or a value of the wrong type; the message names it.
        ValueError: an unknown key, forwarding asked for, a file that cannot be loaded, or an
            aiohttp older than 3.13 (which has no way to give a proxy a TLS context).
    """
    if proxies_config is None:
        return None
    if not isinstance(proxies_config, Mapping):
        raise TypeError(
            f"proxies_config: a {type(proxies_config).__name__} is not a mapping of settings"
        )
    unknown = sorted(str(key) for key in proxies_config if key not in PROXIES_CONFIG_KEYS)
    if unknown:
        raise ValueError(
            f"proxies_config: unknown keys {unknown}; valid keys: {', '.join(PROXIES_CONFIG_KEYS)}"
        )
    forwarding = proxies_config.get("proxy_use_forwarding_for_https")
    if forwarding is not None and not isinstance(forwarding, bool):
        raise TypeError(
            f"proxies_config['proxy_use_forwarding_for_https']: {forwarding!r} is not a bool"
        )
    if forwarding:
        raise ValueError(
            "proxies_config['proxy_use_forwarding_for_https']: not supported: aiohttp sends "
            "every request to an https:// endpoint through a CONNECT tunnel (TLS end to end) "
            "and cannot hand the proxy the request itself"
        )
    bundle = proxies_config.get("proxy_ca_bundle")
    if bundle is not None and not isinstance(bundle, (str, os.PathLike)):
        raise TypeError(f"proxies_config['proxy_ca_bundle']: {bundle!r} is not a file's path")
    cert = proxies_config.get("proxy_client_cert")
    paths: tuple[str | os.PathLike[str], ...] = ()
    if isinstance(cert, (str, os.PathLike)):
        paths = (cert,)
    elif (
        isinstance(cert, tuple)
        and len(cert) == 2
        and all(isinstance(path, (str, os.PathLike)) for path in cert)
    ):
        paths = cert
    elif cert is not None:
        raise TypeError(
            f"proxies_config['proxy_client_cert']: {cert!r} is not a file's path nor a "
            "(certificate, key) pair of paths"
        )
    if bundle is None and not paths:
        return None
    try:
        context = ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"proxies_config['proxy_ca_bundle']: cannot load the CA bundle {bundle!r}: "
            f"{_reason(exc)}"
        ) from None
    if paths:
        try:
            context.load_cert_chain(paths[0], paths[1] if len(paths) == 2 else None)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"proxies_config['proxy_client_cert']: cannot load {cert!r}: {_reason(exc)}"
            ) from None
    if not callable(getattr(aiohttp.TCPConnector, _PROXY_REQUEST_METHOD, None)):
        raise ValueError(
            "proxies_config: proxy_ca_bundle and proxy_client_cert need aiohttp 3.13 or newer "
            f"(aiohttp {aiohttp.__version__} is installed)"
        )
    return context


def _reason(exc: OSError) -> str:
    reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
    return str(reason or exc)


def _dropped(protocol: ResponseHandler | None) -> bool:
    """Whether a pooled connection was closed by its peer (or sent bytes no idle connection
    gets) while the event loop was too busy to notice: a request sent on it would fail.

    aiohttp hands out a pooled connection that the loop has not yet seen closed. Checked as
    urllib3 checks one for botocore: its socket is readable at once. A connection no request
    has used (no response parser yet) is fresh and not checked: a TLS server's session
    tickets may still be on their way to it.
    """
    if getattr(protocol, "_parser", None) is None:  # fresh (or an aiohttp without parsers)
        return False
    transport = protocol.transport  # type: ignore[union-attr]
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is None:
        return False  # closed already: aiohttp reports it when it sends
    return _readable(sock)


if hasattr(select, "poll"):

    def _readable(sock: socket.socket) -> bool:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))

else:  # Windows

    def _readable(sock: socket.socket) -> bool:
        return bool(select.select([sock], [], [], 0)[0])


class _Connector(aiohttp.TCPConnector):
    """The pool's connector: for ``session.post``, a pooled connection the peer has closed is
    dropped for another (:func:`_dropped`), and once the request has its connection the
    reply's deadline starts (:class:`Deadlines`; opening it is ``connect_timeout``'s to bound).

    :meth:`Transport.post`'s own path calls aiohttp's :meth:`connect` and does the same itself,
    without this method's coroutine.
    """

    deadlines: Deadlines | None = None

    async def connect(self, req: aiohttp.ClientRequest, *args: Any, **kwargs: Any) -> Connection:
        connection = await super().connect(req, *args, **kwargs)
        while _dropped(connection.protocol):  # nothing sent on it: another is safe
            connection.close()
            connection = await super().connect(req, *args, **kwargs)
        if self.deadlines is not None:
            self.deadlines.start(asyncio.current_task())  # type: ignore[arg-type]
        return connection


class _ProxyTLSConnector(_Connector):
    """A connector that speaks TLS to an ``https://`` proxy with a context of its own.

    aiohttp checks a proxy's certificate with the request's TLS settings, the endpoint's: it
    makes the request to the proxy from the endpoint's request in one method, which this
    class extends to give that request the proxy's context.
    """

    def __init__(self, *, proxy_tls: ssl.SSLContext, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._proxy_tls = proxy_tls

    def _update_proxy_auth_header_and_build_proxy_req(
        self, req: aiohttp.ClientRequest
    ) -> aiohttp.ClientRequest:
        proxy_req = super()._update_proxy_auth_header_and_build_proxy_req(req)
        proxy_req._ssl = self._proxy_tls
        return proxy_req


class Transport:
    """POSTs bodies to one endpoint over a pooled keep-alive session.

    Args:
        endpoint_url: ``scheme://host[:port]``.
        max_connections: the connector's connection limit.
        connect_timeout: seconds to open a connection (TCP and TLS).
        read_timeout: seconds an attempt may wait for its whole reply (see :class:`Deadlines`;
            on Python 3.10, for each read of it).
        tls: aiohttp's ``ssl`` value, as :func:`tls_settings` makes it.
        trusted: the trust store it checks certificates against, for error messages.
        proxy: the proxy every request goes through, if any.
        proxy_tls: the TLS context for an ``https://`` proxy, as :func:`proxy_tls` makes it;
            ``None``: the proxy's certificate is checked as the endpoint's is.
        headers: sent with every request, after a ``Host`` header of :attr:`host`.
    """

    __slots__ = (
        "_closed",
        "_connector_args",
        "_connector_class",
        "_deadlines",
        "_direct",
        "_headers",
        "_loop",
        "_map_exceptions",
        "_proxy",
        "_proxy_headers",
        "_proxy_options",
        "_session",
        "_timeout",
        "_url",
        "endpoint_url",
        "host",
    )

    def __init__(
        self,
        endpoint_url: str,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | bool = True,
        trusted: str = "",
        proxy: Proxy | None = None,
        proxy_tls: ssl.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._url = URL(endpoint_url + "/", encoded=True)
        host = self._url.raw_host or ""
        if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
            host = f"[{host}]"
        self.host = host if self._url.is_default_port() else f"{host}:{self._url.port}"
        # The session's default headers: aiohttp merges them into each request's in C, where
        # headers passed per request are copied one by one.
        self._headers = {"Host": self.host, **(headers or {})}
        self._deadlines: Deadlines | None = None
        if _USE_DEADLINES:
            self._deadlines = Deadlines(read_timeout, clock)
            self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
        else:
            self._timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=connect_timeout, sock_read=read_timeout
            )
        self._connector_args = {
            "limit": max_connections,
            "keepalive_timeout": KEEPALIVE_TIMEOUT,
            "ttl_dns_cache": DNS_CACHE_TTL,
            "ssl": tls,
        }
        self._connector_class: type[_Connector] = _Connector
        if proxy is not None and proxy_tls is not None and proxy.url.startswith("https:"):
            self._connector_class = _ProxyTLSConnector
            self._connector_args["proxy_tls"] = proxy_tls
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._direct = False  # whether requests skip the session's request machinery
        self._closed = False
        self._map_exceptions = map_exceptions(endpoint_url, read_timeout, trusted, proxy)
        self._proxy_options: dict[str, object] = {}
        self._proxy: URL | None = None
        self._proxy_headers: dict[str, str] | None = None
        if (
            proxy is not None
            and _TLS_IN_TLS_MISSING
            and proxy.url.startswith("https:")
            and self._url.scheme == "https"
        ):
            raise ValueError(
                f"{proxy.source}: an https:// proxy for an https:// endpoint needs Python 3.11 "
                "or newer (asyncio's TLS within TLS)"
            )
        if proxy is not None:
            self._proxy = self._proxy_options["proxy"] = URL(proxy.url)
            # what the session sends a proxy: its default headers, and the credentials
            self._proxy_headers = dict(self._headers)
            if proxy.authorization is not None and self._url.scheme == "https":
                self._proxy_options["proxy_headers"] = {"Proxy-Authorization": proxy.authorization}
                self._proxy_headers["Proxy-Authorization"] = proxy.authorization
            elif proxy.authorization is not None:
                # no CONNECT to send them with: aiohttp sends proxy headers with nothing else,
                # and the proxy reads the credentials from each request it forwards
                self._headers["Proxy-Authorization"] = proxy.authorization

    def __repr__(self) -> str:
        state = "open" if self._session is not None and not self._session.closed else "closed"
        return f"<Transport {self.endpoint_url} {state}>"

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:  # closing is final: no session is ever opened again
            raise errors.ClientClosed(during_call=True)
        connector = self._connector_class(**self._connector_args)  # type: ignore[arg-type]
        connector.deadlines = self._deadlines
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            headers=self._headers,
            cookie_jar=aiohttp.DummyCookieJar(),  # KMS sets none; botocore keeps none either
        )
        self._loop = asyncio.get_running_loop()
        # trace configs (aiohttp-client instrumentation adds them as a session is made) are
        # run by the session's request machinery only: then every request goes through it
        self._direct = _DIRECT_REQUESTS and not self._session.trace_configs
        return self._session

    async def post(
        self, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` with ``headers`` besides the transport's own; return the status, the
        reply's headers (lower-case names) and its body."""
        session = self._session
        if session is None or session.closed:
            session = self._open()
        deadlines = self._deadlines
        if deadlines is not None:  # started once the connection is open
            task: asyncio.Task[object] = asyncio.current_task()  # type: ignore[assignment]
        try:
            try:  # what ``with map_exceptions(...)`` does, without its two calls per request
                # see _request; a patched session method (aioresponses mocks aiohttp so) is
                # called, as every session request calls it
                if self._direct and aiohttp.ClientSession._request is _SESSION_REQUEST:
                    request = self._request(session, headers, body)
                    connector: aiohttp.BaseConnector = session.connector  # type: ignore[assignment]
                    try:  # aiohttp's connect, not _Connector's: what that adds is done here
                        connection = await _CONNECT(connector, request, [], self._timeout)
                        while _dropped(connection.protocol):  # nothing sent on it yet
                            connection.close()
                            connection = await _CONNECT(connector, request, [], self._timeout)
                    except asyncio.TimeoutError as exc:  # as the session reports it
                        raise aiohttp.ConnectionTimeoutError(
                            f"Connection timeout to host {request.url}"
                        ) from exc
                    if deadlines is not None:
                        deadlines.start(task)
                    try:
                        connection.protocol.set_response_params(  # type: ignore[union-attr]
                            read_until_eof=True,
                            auto_decompress=False,
                            read_timeout=self._timeout.sock_read,
                            read_bufsize=READ_BUFSIZE,
                            timeout_ceil_threshold=self._timeout.ceil_threshold,
                        )
                        response = await request.send(connection)
                        try:
                            await response.start(connection)
                        except BaseException:
                            response.close()
                            raise
                    except BaseException:
                        connection.close()
                        raise
                else:
                    response = await session.post(
                        self._url,
                        data=body,
                        headers=headers,
                        allow_redirects=False,
                        **self._proxy_options,
                    )
                # Not ``async with``: leaving it only calls release(), through four coroutines.
                try:
                    data = await response.read()
                finally:
                    response.release()  # the connection goes back to the pool (or is closed)
                status = response.status
                if status != 407 or self._proxy is None or self._url.scheme != "http":
                    return (
                        status,
                        {name.lower(): value for name, value in response.headers.items()},
                        data,
                    )
                # the proxy refused to forward the request, as it would refuse a tunnel
                error = errors.ProxyError(
                    endpoint_url=self.endpoint_url,
                    proxy=str(self._map_exceptions.proxy),
                    error=f"{status} {response.reason or 'Proxy Authentication Required'}",
                )
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = _translate(exc, self._map_exceptions)
            except OSError as exc:  # a socket's error aiohttp's machinery would have wrapped
                error = _translate(aiohttp.ClientOSError(*exc.args), self._map_exceptions)
            raise error  # out of the handlers: what they caught is not its context
        except (asyncio.CancelledError, errors.TransportError):
            # Ours, whatever the cancellation became on its way out of aiohttp.
            if not (
                deadlines is not None and deadlines.expired(task) and not _cancelled_elsewhere(task)
            ):
                raise
        finally:
            if deadlines is not None:
                deadlines.stop(task)
        raise errors.ReadTimeout(  # out of the handler: what it caught is not the context
            endpoint_url=self.endpoint_url, error=f"no reply within {deadlines.timeout} s"
        )

    def _request(
        self, session: aiohttp.ClientSession, headers: Mapping[str, str], body: bytes
    ) -> aiohttp.ClientRequest:
        """The request :meth:`post` sends itself, made as ``session.post`` would make it.

        ``session.post`` spends about a ninth of a pooled call's CPU here (benchmarks/README.md)
        on what a KMS request never has: redirects (followed by neither aiokms nor botocore),
        cookies, credentials in the URL, query parameters, trace configs, middlewares, a
        total timeout. So :meth:`post` takes a connection from the pool, sends the request
        and reads the reply's head itself, in the order and with the settings that method
        uses. It goes through ``session.post`` with an aiohttp this path was not tested with
        (see :func:`direct_requests`), and when there is more to do: with trace configs
        on the session (aiohttp-client instrumentation adds them as a session is made),
        which that method runs, and when the session's request method has been replaced
        (test doubles such as aioresponses replace it to answer requests themselves).
        """
        assert self._loop is not None
        return aiohttp.ClientRequest(
            "POST",
            self._url,
            headers={**self._headers, **headers},
            data=body,
            loop=self._loop,
            session=session,
            proxy=self._proxy,
            proxy_headers=None if self._proxy_headers is None else dict(self._proxy_headers),
        )

    async def close(self) -> None:
        """Close every pooled connection; afterwards :meth:`post` raises ``ClientClosed``.

        Requests in flight lose their connection and fail.
        """
        self._closed = True
        session, self._session = self._session, None
        if self._deadlines is not None:
            self._deadlines.close()
        if session is not None:
            await session.close()

    def abandon(self) -> None:
        """Forget the session without closing it: call in a forked child, whose event loop and
        sockets are copies of its parent's. The next request opens a session of its own."""
        session, self._session = self._session, None
        deadlines = self._deadlines
        if session is not None:
            _ABANDONED.append(session)  # collecting it would close the parent's sockets
        if deadlines is not None:
            _ABANDONED.append(deadlines)  # its timer handle belongs to the parent's loop
            self._deadlines = Deadlines(deadlines.timeout, deadlines.clock)
