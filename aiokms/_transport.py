"""HTTP transport: one pooled aiohttp session per client, and the exception boundary.

How this works: the session and its connector are created on first use inside the running loop
(aiohttp binds them to it) and closed by :meth:`Transport.close`. The connector's ``limit``
equals the client's ``max_connections``; the client takes a slot of its own semaphore of the
same size *before* signing, so the connector never queues a signed request. Idle connections
are kept about 12 s (AWS closes them near 20 s) and DNS answers are cached for a bounded time.

This is the only module that sees aiohttp's client exceptions: :func:`map_exceptions` turns
them, and asyncio timeouts, into :mod:`aiokms.errors` classes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from types import TracebackType

import aiohttp
from yarl import URL

from aiokms import errors

__all__ = ["Transport", "map_exceptions"]

KEEPALIVE_TIMEOUT = 12.0
DNS_CACHE_TTL = 60


class map_exceptions:  # named like a function: used as ``with map_exceptions(url):``
    """Translate aiohttp and asyncio failures into :mod:`aiokms.errors` (cancellation passes).

    A class rather than a generator-based context manager: it runs on every request.
    """

    __slots__ = ("endpoint_url",)

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

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
        raise _translate(exc, self.endpoint_url) from exc


def _translate(exc: BaseException, url: str) -> errors.TransportError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return errors.ConnectTimeout(endpoint_url=url, error=exc)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return errors.ReadTimeout(endpoint_url=url, error=exc)
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


class Transport:
    """POSTs bodies to one endpoint over a pooled keep-alive session.

    Args:
        endpoint_url: ``scheme://host[:port]``.
        max_connections: the connector's connection limit.
        connect_timeout: seconds to open a connection (TCP and TLS).
        read_timeout: seconds to wait for each read of the reply.
        ssl_context: TLS settings; certificates are always verified by default.
    """

    __slots__ = (
        "_connector_args",
        "_map_exceptions",
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
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._url = URL(endpoint_url + "/", encoded=True)
        host = self._url.raw_host or ""
        if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
            host = f"[{host}]"
        self.host = host if self._url.is_default_port() else f"{host}:{self._url.port}"
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._connector_args = {
            "limit": max_connections,
            "keepalive_timeout": KEEPALIVE_TIMEOUT,
            "ttl_dns_cache": DNS_CACHE_TTL,
            "ssl": ssl_context if ssl_context is not None else True,
        }
        self._session: aiohttp.ClientSession | None = None
        self._map_exceptions = map_exceptions(endpoint_url)

    def __repr__(self) -> str:
        state = "open" if self._session is not None and not self._session.closed else "closed"
        return f"<Transport {self.endpoint_url} {state}>"

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(**self._connector_args)  # type: ignore[arg-type]
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
        )
        return self._session

    async def post(
        self, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """POST ``body``; return the status, the headers (lower-case names) and the body."""
        session = self._session
        if session is None or session.closed:
            session = self._open()
        with self._map_exceptions:
            async with session.post(self._url, data=body, headers=headers) as response:
                data = await response.read()
                return (
                    response.status,
                    {name.lower(): value for name, value in response.headers.items()},
                    data,
                )

    async def close(self) -> None:
        """Close every pooled connection."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
