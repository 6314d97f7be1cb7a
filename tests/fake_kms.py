"""An in-process KMS on 127.0.0.1 for protocol, error, pooling and signing tests.

It records every request, checks its SigV4 signature with botocore's signer (an implementation
independent of ours), and answers each operation with what the test set up: a JSON body and
status, or an async handler of its own. :class:`ThreadedKMS` serves from threads instead, for
tests where event loops come and go or the process forks.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

import aiokms

ACCESS_KEY = "AKIDFAKEKMS"
SECRET_KEY = "fake-kms-secret-never-printed"


@dataclass
class Recorded:
    """One request as the server saw it."""

    operation: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Recorded], Awaitable[web.StreamResponse]]


@dataclass
class FakeKMS:
    """The server; ``url`` is set once it is started."""

    region: str = "us-east-1"
    secret_key: str = SECRET_KEY
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    replies: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    peers: set[tuple[str, int]] = field(default_factory=set)
    in_flight: int = 0
    max_in_flight: int = 0

    def reply(
        self, operation: str, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Answer ``operation`` with ``body`` (JSON-encoded unless bytes) and ``status``."""
        self.replies[operation] = (status, body, headers or {})

    def error(self, operation: str, code: str, message: str, status: int = 400) -> None:
        """Answer ``operation`` with a KMS-shaped error."""
        self.reply(operation, {"__type": code, "message": message}, status)

    def handle(self, operation: str, handler: Handler) -> None:
        """Answer ``operation`` with a handler of the test's own."""
        self.handlers[operation] = handler

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2]
        peer = request.transport.get_extra_info("peername")[:2] if request.transport else ("", 0)
        recorded = Recorded(
            operation=operation,
            headers=dict(request.headers),
            body=body,
            peer=peer,
            signature_ok=self._signature_ok(request, body),
        )
        self.requests.append(recorded)
        self.peers.add(peer)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if operation in self.handlers:
                return await self.handlers[operation](recorded)
            status, reply, headers = self.replies.get(operation, (200, {}, {}))
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            return web.Response(
                status=status,
                body=data,
                headers={
                    "Content-Type": "application/x-amz-json-1.1",
                    "x-amzn-RequestId": f"req-{len(self.requests)}",
                    **headers,
                },
            )
        finally:
            self.in_flight -= 1

    def _signature_ok(self, request: web.Request, body: bytes) -> bool:
        """Recompute the signature with botocore from the headers the client says it signed."""
        authorization = request.headers.get("Authorization", "")
        try:
            signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        except IndexError:
            return False
        amz_date = request.headers.get("X-Amz-Date", "")
        aws_request = AWSRequest(
            method=request.method,
            url=f"{self.url}{request.path_qs}",
            data=body,
            headers={name: request.headers[name] for name in signed if name in request.headers},
        )
        aws_request.context["timestamp"] = amz_date
        token = request.headers.get("X-Amz-Security-Token")
        auth = SigV4Auth(BotoCredentials(ACCESS_KEY, self.secret_key, token), "kms", self.region)
        canonical = auth.canonical_request(aws_request)
        signature = auth.signature(auth.string_to_sign(aws_request, canonical), aws_request)
        return authorization.endswith(f"Signature={signature}") and (
            f"Credential={ACCESS_KEY}/{amz_date[:8]}/{self.region}/kms/aws4_request"
            in authorization
        )


async def start(fake: FakeKMS, ssl_context: ssl.SSLContext | None = None) -> web.AppRunner:
    """Serve ``fake`` on 127.0.0.1, any free port (HTTPS with ``ssl_context``); sets its url."""
    app = web.Application()
    app.router.add_post("/", fake._serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    return runner


async def slow(seconds: float, reply: Any = None) -> Handler:
    """A handler that answers ``reply`` (default ``{}``) after ``seconds``."""

    async def handler(recorded: Recorded) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response(reply or {})

    return handler


def failing_twice(status: int, body: bytes) -> Handler:
    """A handler answering ``status`` with ``body`` twice, then a ListKeys reply."""
    calls = 0

    async def handler(recorded: Recorded) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return web.Response(status=status, body=body)
        return web.json_response({"Keys": [{"KeyId": "k", "KeyArn": "arn"}], "Truncated": False})

    return handler


class ThreadedKMS:
    """A KMS answering ``{}`` to every request, served by threads, outside any event loop.

    For tests where event loops come and go (two ``asyncio.run`` calls) or a process forks: it
    keeps serving whatever loop or process the client is in. HTTP/1.1 with keep-alive; it
    records, per request, the client's port (one per connection) and the ``X-Amz-Target``.
    With ``held`` set, the first that many requests wait for ``release`` before their reply.
    With ``tls``, a server-side SSL context, it serves HTTPS. Use it as a context manager;
    ``url`` is set on entry.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.url = ""
        self.tls = tls  # serve HTTPS with this server-side context
        self.requests: list[tuple[int, str]] = []  # (client port, X-Amz-Target)
        self.held = 0  # the first this many requests are answered once ``release`` is set
        self.release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ThreadedKMS:
        recorded = self.requests
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorded.append((self.client_address[1], self.headers.get("X-Amz-Target", "")))
                if len(recorded) <= server.held:
                    server.release.wait(30)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no line per request on stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        scheme = "http"
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def ports(self) -> list[int]:
        """The client port of each request, in order (a new port: a new connection)."""
        return [port for port, _ in self.requests]


def client_of(server: FakeKMS | ThreadedKMS, **options: Any) -> aiokms.KMSClient:
    """A KMSClient of ``server``: its URL, region and credentials and no wait between retries,
    unless ``options`` say otherwise."""
    options.setdefault("region_name", getattr(server, "region", "us-east-1"))
    options.setdefault(
        "credentials", aiokms.Credentials(ACCESS_KEY, getattr(server, "secret_key", SECRET_KEY))
    )
    options.setdefault("_random", lambda: 0.0)
    options.setdefault("endpoint_url", server.url)
    return aiokms.KMSClient(**options)
