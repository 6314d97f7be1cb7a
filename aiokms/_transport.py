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
import contextlib
import ssl
from collections.abc import Iterator, Mapping

import aiohttp
from yarl import URL

from aiokms import errors

__all__ = ["Transport", "map_exceptions"]

KEEPALIVE_TIMEOUT = 12.0
DNS_CACHE_TTL = 60


@contextlib.contextmanager
def map_exceptions(endpoint_url: str) -> Iterator[None]:
    """Translate aiohttp and asyncio failures into :mod:`aiokms.errors` (cancellation passes)."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise errors.ConnectTimeout(endpoint_url=endpoint_url, error=exc) from exc
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
        raise errors.ReadTimeout(endpoint_url=endpoint_url, error=exc) from exc
    except aiohttp.ClientConnectorError as exc:
        raise errors.ConnectError(endpoint_url=endpoint_url, error=_describe(exc)) from exc
    except (
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientOSError,
        aiohttp.ClientPayloadError,
        ConnectionError,
    ) as exc:
        raise errors.ConnectionClosed(endpoint_url=endpoint_url, error=_describe(exc)) from exc
    except aiohttp.ClientResponseError as exc:  # a reply that is not valid HTTP
        raise errors.InvalidResponse(endpoint_url=endpoint_url, error=_describe(exc)) from exc
    except aiohttp.ClientError as exc:
        raise errors.TransportError(endpoint_url=endpoint_url, error=_describe(exc)) from exc


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

    def __repr__(self) -> str:
        state = "open" if self._session is not None and not self._session.closed else "closed"
        return f"<Transport {self.endpoint_url} {state}>"

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(**self._connector_args)  # type: ignore[arg-type]
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "Content-Type"),
        )
        return self._session

    async def post(
        self, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """POST ``body``; return the status, the headers (lower-case names) and the body."""
        session = self._session
        if session is None or session.closed:
            session = self._open()
        with map_exceptions(self.endpoint_url):
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
