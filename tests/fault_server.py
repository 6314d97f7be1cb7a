"""A raw HTTP/1.1 server on 127.0.0.1 that misbehaves on cue, for the client's failure paths.

:class:`FaultServer` serves over asyncio streams what no well-behaved server does (resets,
closes, silence, bytes that are not HTTP) besides plain replies, each request the next action
of a script. The ``faults`` fixture (``tests/conftest.py``) starts one per test;
:func:`fault_client` makes a client of it whose retries do not sleep.
"""

from __future__ import annotations

import asyncio
import collections
import http
import socket
import struct
from collections.abc import Callable
from typing import Any

import aiokms
from tests.fake_kms import ACCESS_KEY

SECRET = "fault-server-secret-never-printed"
THROTTLE_BODY = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


class FaultServer:
    """HTTP/1.1 with keep-alive on 127.0.0.1; each request gets the next scripted action.

    Actions: ``ok``; ``slow`` (ok after 50 ms); ``hang`` (never answers); ``reset`` (TCP RST);
    ``close`` (closes without a reply); ``garbage`` (200 with a body that is not JSON);
    ``nonsense`` (bytes that are not HTTP); ``throttle`` (400 ThrottlingException); and an HTTP
    status such as ``500`` (an empty body).
    """

    def __init__(self) -> None:
        self.url = ""
        self.script: collections.deque[str] = collections.deque()
        self.policy: Callable[[], str] = lambda: "ok"
        self.actions: list[str] = []
        self.open_connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def requests(self) -> int:
        return len(self.actions)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.sleep(0)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self.open_connections += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        action = self.script.popleft() if self.script else self.policy()
        self.actions.append(action)
        if action == "hang":
            await reader.read()  # until the client gives up and closes
            return False
        if action == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if action == "close":
            return False
        if action == "nonsense":
            writer.write(b"\x00\x01 this is not HTTP\r\n\r\n")
            await writer.drain()
            return False
        if action == "slow":
            await asyncio.sleep(0.05)
        if action in ("ok", "slow"):
            status, body = 200, b'{"Keys": [], "Truncated": false}'
        elif action == "garbage":
            status, body = 200, b"<html>certainly not json"
        elif action == "throttle":
            status, body = 400, THROTTLE_BODY
        else:
            status, body = int(action), b""
        writer.write(
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"Content-Type: application/x-amz-json-1.1\r\n"
            f"x-amzn-RequestId: req-{self.requests}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        return True


def fault_client(url: str, **options: Any) -> aiokms.KMSClient:
    """A client of ``url`` with 3 attempts whose backoffs draw 0 (retries do not sleep),
    unless ``options`` say otherwise."""
    options.setdefault("max_attempts", 3)
    options.setdefault("_random", lambda: 0.0)
    return aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, SECRET),
        **options,
    )
