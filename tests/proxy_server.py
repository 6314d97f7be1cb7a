"""An HTTP proxy on 127.0.0.1 for the proxy tests: ``CONNECT`` tunnels (counted, with the
target and headers each was asked with) and plain requests in absolute form, forwarded.

It relays bytes and looks at nothing inside a tunnel. With ``password`` set it answers
``407 Proxy Authentication Required`` to a request without ``Proxy-Authorization: Basic``
for ``user:password``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Opened:
    """One connection the proxy was asked to open."""

    method: str  # CONNECT, or the forwarded request's method
    target: str  # host:port
    headers: dict[str, str]


@dataclass
class ConnectProxy:
    """The proxy; ``url`` (``http://127.0.0.1:PORT``) is set by :meth:`start`."""

    user: str = ""
    password: str = ""
    url: str = ""
    opened: list[Opened] = field(default_factory=list)
    refused: int = 0
    tls: ssl.SSLContext | None = None  # an https:// proxy, with this server context
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def tunnels(self) -> int:
        return sum(1 for opened in self.opened if opened.method == "CONNECT")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _authorized(self, headers: dict[str, str]) -> bool:
        if not self.password:
            return True
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return headers.get("proxy-authorization") == f"Basic {expected}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines if line)
            }
            if not self._authorized(headers):
                self.refused += 1
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                )
                await writer.drain()
                return
            if method != "CONNECT":  # absolute form: http://host:port/path
                target = urlsplit(target).netloc
            self.opened.append(Opened(method, target, headers))
            host, _, port = target.rpartition(":")
            upstream_reader, upstream = await asyncio.open_connection(host, int(port))
            self._writers.append(upstream)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:  # the request goes on as it came (servers accept the absolute form)
                upstream.write(head)
            await asyncio.gather(_relay(reader, upstream), _relay(upstream_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
