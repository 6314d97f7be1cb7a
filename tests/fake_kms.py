"""An in-process KMS on 127.0.0.1 for protocol, error, pooling and signing tests.

It records every request, checks its SigV4 signature with botocore's signer (an implementation
independent of ours), and answers each operation with what the test set up: a JSON body and
status, or an async handler of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

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


async def start(fake: FakeKMS) -> web.AppRunner:
    """Serve ``fake`` on 127.0.0.1, any free port; sets ``fake.url``."""
    app = web.Application()
    app.router.add_post("/", fake._serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    return runner


async def slow(seconds: float, reply: Any = None) -> Handler:
    """A handler that answers ``reply`` (default ``{}``) after ``seconds``."""

    async def handler(recorded: Recorded) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response(reply or {})

    return handler
