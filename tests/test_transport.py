"""Failures below the service become aiokms.errors classes (also botocore's), never hangs, and
are retried as transient failures."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

import aiokms
from aiokms import _transport
from aiokms._transport import Deadlines, Slots, _cancelled_elsewhere
from tests.fake_kms import ACCESS_KEY, SECRET_KEY, FakeKMS, start
from tests.fault_server import FaultServer, fault_client
from tests.helpers import BOUND, FrozenClock, assert_idle
from tests.proxy_server import ConnectProxy
from tests.tls import TestCA

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Serve], Awaitable[str]]]:
    """Start TCP servers on 127.0.0.1 speaking whatever (broken) HTTP a test wants."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(serve: Serve) -> str:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await serve(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0)


def client(url: str, **options: Any) -> aiokms.KMSClient:
    options.setdefault("max_attempts", 1)
    return aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=url,
        credentials=aiokms.Credentials("AKID", "transport-secret"),
        **options,
    )


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_is_connect_error() -> None:
    async with client(f"http://127.0.0.1:{free_port()}") as kms:
        with pytest.raises(aiokms.ConnectError) as caught:
            await kms.list_keys()
    assert isinstance(caught.value, botocore.exceptions.EndpointConnectionError)
    assert isinstance(caught.value, aiokms.TransportError)
    assert "transport-secret" not in str(caught.value)


async def test_slow_reply_is_read_timeout(raw_server: Callable[[Serve], Awaitable[str]]) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up and closes

    url = await raw_server(serve)
    async with client(url, read_timeout=0.2) as kms:
        with pytest.raises(aiokms.ReadTimeout) as caught:
            await kms.list_keys()
        await asyncio.sleep(0)  # the timeout's cancellation was taken back: none is pending
        if sys.version_info >= (3, 11):
            assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    assert isinstance(caught.value, botocore.exceptions.ReadTimeoutError)
    assert "0.2 s" in str(caught.value.kwargs["error"])


async def test_a_cancellation_at_the_read_deadline_stays_a_cancellation(
    raw_server: Callable[[Serve], Awaitable[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller cancels in the very loop iteration where the reply's deadline passes: the
    call is cancelled, not turned into a ReadTimeout and retried (as it was on Python 3.10,
    where a task cannot tell whose cancellation it got)."""
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while True:
            await read_request(reader)
            requests += 1  # and no reply

    url = await raw_server(serve)
    # One clock for the event loop and the deadlines, moved only by the test: every timer due
    # at the moment it is moved to fires in the same iteration of the loop.
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    loop = asyncio.get_running_loop()
    async with client(
        url, read_timeout=1.0, max_attempts=3, _random=lambda: 0.0, clock=lambda: now
    ) as kms:
        call = asyncio.ensure_future(kms.list_keys())
        try:
            for _ in range(100_000):  # no timer can fire while the clock stands still
                if requests:
                    break
                await asyncio.sleep(0)
            assert requests == 1
            now += 2.0  # past the deadline, and the next look at it
            loop.call_at(loop.time(), call.cancel)  # the caller's cancellation, due as well
            for _ in range(1000):
                if call.done():
                    break
                await asyncio.sleep(0)
            assert call.cancelled()
            assert requests == 1  # not retried
        finally:
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)


# --- the reply deadlines and the slots, on their own -----------------------------------------


async def watched(deadlines: Deadlines, work: Awaitable[object]) -> object:
    """An attempt as Transport.post makes one: ``work`` under a reply deadline."""
    task: asyncio.Task[object] = asyncio.current_task()  # type: ignore[assignment]
    deadlines.start(task)
    try:
        return await work
    except asyncio.CancelledError:
        if deadlines.expired(task) and not _cancelled_elsewhere(task):
            return "expired"
        raise
    finally:
        deadlines.stop(task)


async def test_a_deadline_expires_at_the_first_check_once_it_has_passed() -> None:
    clock = FrozenClock()
    deadlines = Deadlines(0.25, clock=clock)
    attempt = asyncio.ensure_future(watched(deadlines, asyncio.Event().wait()))
    await asyncio.sleep(0)  # registered, waiting for its reply
    clock.now += 0.25 - 2**-20
    deadlines._check()
    await asyncio.sleep(0)
    assert not attempt.done()
    clock.now += 2**-20
    deadlines._check()
    assert await attempt == "expired"
    deadlines.close()


async def test_deadlines_cancel_only_the_late_attempts() -> None:
    clock = FrozenClock()
    deadlines = Deadlines(0.5, clock=clock)  # times in binary fractions: sums are exact
    replies = {name: asyncio.Event() for name in ("quick", "late", "in time")}

    async def attempt(name: str) -> object:
        async def reply() -> str:
            await replies[name].wait()
            return name

        return await watched(deadlines, reply())

    attempts = [asyncio.ensure_future(attempt(name)) for name in replies]
    await asyncio.sleep(0)
    clock.now += 0.125
    replies["quick"].set()
    await asyncio.sleep(0)
    clock.now += 0.25
    replies["in time"].set()
    await asyncio.sleep(0)
    clock.now += 0.125  # the late one's deadline is now
    deadlines._check()
    assert await asyncio.gather(*attempts) == ["quick", "expired", "in time"]
    await asyncio.sleep(2 * deadlines.tick)
    assert deadlines._timer is None  # nothing in flight: no timer either
    # watching starts the timer again, and the timer expires what is late
    assert await watched(deadlines, asyncio.sleep(0, "again")) == "again"
    late = asyncio.ensure_future(watched(deadlines, asyncio.Event().wait()))
    await asyncio.sleep(0)
    clock.now += 0.5
    assert await late == "expired"  # at the timer's next tick


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="Deadlines serves Python 3.11+: before Task.uncancel, a task cannot tell two "
    "cancellations apart, and the transport bounds each read instead",
)
async def test_a_cancellation_from_elsewhere_wins_over_an_expired_deadline() -> None:
    deadlines = Deadlines(60.0)
    attempt = asyncio.ensure_future(watched(deadlines, asyncio.Event().wait()))
    await asyncio.sleep(0)  # the attempt is registered and waiting
    deadlines._due[attempt] = 0.0  # its deadline has passed: the next check cancels it
    deadlines._check()
    attempt.cancel()  # and so does its caller, at the same moment
    with pytest.raises(asyncio.CancelledError):
        await attempt
    deadlines.close()


def test_deadlines_forget_the_attempts_of_a_loop_that_is_gone() -> None:
    deadlines = Deadlines(0.05)

    async def leave_one_behind() -> asyncio.Task[None]:
        async def stuck() -> None:
            deadlines.start(asyncio.current_task())  # type: ignore[arg-type]
            await asyncio.Event().wait()

        task = asyncio.ensure_future(stuck())
        await asyncio.sleep(0)
        return task

    old = asyncio.new_event_loop()
    stuck = old.run_until_complete(leave_one_behind())
    old.close()  # the attempt never ends: cancelling it now would fail on the closed loop

    async def late() -> object:
        return await watched(deadlines, asyncio.sleep(5, "late"))

    assert asyncio.run(late()) == "expired"
    assert stuck not in deadlines._due


async def test_slots_are_handed_over_in_turn_and_never_lost() -> None:
    slots = Slots(1)
    assert slots.try_take() and not slots.try_take()
    order: list[int] = []

    async def waiter(n: int) -> None:
        await slots.take()
        order.append(n)

    tasks = [asyncio.ensure_future(waiter(n)) for n in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()  # a cancelled waiter leaves the queue
    slots.release()  # to waiter 0, directly
    await asyncio.sleep(0)
    slots.release()  # to waiter 2: waiter 1 was cancelled
    tasks[3].cancel()  # cancelled after nobody handed it anything
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 2] and slots.free == 0
    slots.release()
    assert slots.free == 1

    # a slot handed to a waiter whose task is cancelled before it runs is passed on
    assert slots.try_take()
    first = asyncio.ensure_future(slots.take())
    second = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    slots.release()  # to first...
    first.cancel()  # ...which is cancelled before it could run
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1.0)  # got the slot first passed on
    slots.release()
    assert slots.free == 1 and not slots._waiters


async def test_closed_without_reply_is_connection_closed(
    raw_server: Callable[[Serve], Awaitable[str]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    url = await raw_server(serve)
    async with client(url) as kms:
        with pytest.raises(aiokms.ConnectionClosed) as caught:
            await kms.list_keys()
    assert isinstance(caught.value, botocore.exceptions.ConnectionClosedError)


async def test_a_redirect_is_the_reply_never_followed(
    raw_server: Callable[[Serve], Awaitable[str]],
) -> None:
    """As botocore: a 3xx reply is an error reply, and nothing is sent where it points."""
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while True:
            await read_request(reader)
            requests += 1
            if requests == 1:
                writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\n")
                writer.write(b"Content-Length: 0\r\n\r\n")
            else:
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"Keys":[]}')
            await writer.drain()

    url = await raw_server(serve)
    async with client(url) as kms:
        with pytest.raises(ClientError) as caught:
            await kms.list_keys()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 307
    assert requests == 1


async def test_truncated_body_is_connection_closed(
    raw_server: Callable[[Serve], Awaitable[str]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"Keys": [')
        await writer.drain()
        writer.close()

    url = await raw_server(serve)
    async with client(url) as kms:
        with pytest.raises(aiokms.ConnectionClosed):
            await kms.list_keys()


async def test_garbage_instead_of_http_is_a_transport_error(
    raw_server: Callable[[Serve], Awaitable[str]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"\x00\x01garbage that is not HTTP\r\n\r\n")
        await writer.drain()
        writer.close()

    url = await raw_server(serve)
    async with client(url) as kms:
        with pytest.raises(aiokms.TransportError):
            await kms.list_keys()
        assert kms.stats().in_flight == 0


async def test_cancelled_call_frees_its_slot(
    raw_server: Callable[[Serve], Awaitable[str]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; ends when the client closes

    url = await raw_server(serve)
    async with client(url, max_connections=2) as kms:
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(10)]
        await asyncio.sleep(0.05)
        assert kms.stats().in_flight == 2
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        assert kms.stats().in_flight == 0
        assert kms._slots.free == 2


# --- the request path: sent from the pool's connection only with a verified aiohttp ----------


def test_the_installed_aiohttp_is_one_the_direct_path_was_verified_with() -> None:
    assert _transport.direct_requests(aiohttp.__version__)
    assert _transport._DIRECT_REQUESTS  # decided when the module was imported


@pytest.mark.parametrize("version", ["3.9.5", "3.15.0", "4.0.0a1", "main"])
def test_an_aiohttp_release_outside_the_verified_range_takes_the_session_path(
    version: str,
) -> None:
    assert not _transport.direct_requests(version)


async def _connect(self: object, req: object, traces: object) -> None:
    """A connector's ``connect`` without the ``timeout`` the direct path passes."""


def _set_response_params(self: object, *, read_until_eof: bool = False) -> None:
    """A protocol's ``set_response_params`` without most of what the direct path passes."""


def _request(method: str, url: object, *, session: object, required: object) -> None:
    """A ``ClientRequest`` that wants an argument the direct path does not pass."""


@pytest.mark.parametrize(
    ("index", "replacement"),
    [
        (0, _request),
        (1, _connect),
        (1, None),  # the method is gone
        (2, _set_response_params),
        (2, None),
        (4, "not callable"),
    ],
)
def test_internals_that_changed_send_requests_through_the_session(
    index: int, replacement: object
) -> None:
    calls = list(_transport._DIRECT_CALLS)
    calls[index] = (replacement, *calls[index][1:])
    assert _transport.direct_requests(aiohttp.__version__, tuple(calls)) is False


async def test_without_the_direct_path_requests_go_through_the_session(
    kms: aiokms.KMSClient, fake: FakeKMS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An aiohttp not verified (or whose internals changed) still gets a working client."""
    monkeypatch.setattr(_transport, "_DIRECT_REQUESTS", _transport.direct_requests("3.99.0"))
    posts = 0
    session_post = aiohttp.ClientSession.post

    def counted(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> Any:
        nonlocal posts
        posts += 1
        return session_post(self, *args, **kwargs)

    def direct(*args: object) -> None:
        raise AssertionError("the direct path was taken")

    monkeypatch.setattr(aiohttp.ClientSession, "post", counted)
    monkeypatch.setattr(_transport.Transport, "_request", direct)
    await kms.list_keys()
    await kms.list_keys()
    assert posts == 2
    assert len(fake.requests) == 2
    assert all(request.signature_ok for request in fake.requests)


# --- transport failures end to end: retried as transient ----------------------------------


@pytest.mark.parametrize(
    ("action", "error", "options"),
    [
        ("reset", aiokms.ConnectionClosed, {}),
        ("close", aiokms.ConnectionClosed, {}),
        ("hang", aiokms.ReadTimeout, {"read_timeout": 0.1}),
        ("nonsense", aiokms.TransportError, {}),
    ],
)
@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_transport_failure_is_tried_max_attempts_times(
    faults: FaultServer,
    action: str,
    error: type[aiokms.TransportError],
    options: dict[str, Any],
    mode: str,
) -> None:
    faults.policy = lambda: action
    async with fault_client(faults.url, retry_mode=mode, **options) as kms:
        with pytest.raises(error) as caught:
            await asyncio.wait_for(kms.list_keys(), BOUND)
        assert not isinstance(caught.value, ClientError)
        stats = kms.stats()
        assert (stats.requests, stats.retries) == (3, 2)
        assert stats.errors == {type(caught.value).__name__: 3}
        assert stats.limiter_rates == {}  # only throttles switch a limiter on
        assert_idle(kms)
    assert faults.actions == [action] * 3


@pytest.mark.parametrize("action", ["reset", "close", "hang", "nonsense", "502"])
async def test_success_after_two_transport_failures(faults: FaultServer, action: str) -> None:
    faults.script.extend([action, action])
    async with fault_client(faults.url, read_timeout=0.1) as kms:
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        assert_idle(kms)
    assert faults.actions == [action, action, "ok"]


async def test_refused_connections_are_retried(faults: FaultServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        async with fault_client(f"http://127.0.0.1:{port}", max_attempts=4) as kms:
            with pytest.raises(aiokms.ConnectError):
                await asyncio.wait_for(kms.list_keys(), BOUND)
            assert kms.stats().errors == {"ConnectError": 4}
            assert kms.stats().retries == 3
            assert_idle(kms)


@pytest.mark.parametrize("path", ["direct", "session"])
async def test_read_timeout_starts_once_the_connection_is_open(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    raw_server: Callable[[Serve], Awaitable[str]],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    """A TLS handshake slower than read_timeout, within connect_timeout, is no ReadTimeout:
    connect_timeout bounds opening the connection, read_timeout the wait for the reply."""
    if path == "session":
        monkeypatch.setattr(_transport, "_DIRECT_REQUESTS", False)
    server = await https(ca.server_context())
    upstream_port = int(server.url.rpartition(":")[2])

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def slow_to_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.6)  # the client's hello waits: its handshake takes as long
        upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", upstream_port)
        try:
            await asyncio.gather(pipe(reader, upstream), pipe(upstream_reader, writer))
        finally:
            upstream.close()

    url = (await raw_server(slow_to_open)).replace("http:", "https:")
    options = {"connect_timeout": 10, "read_timeout": 0.2, "max_attempts": 1}
    async with https_client(url, verify=str(ca.bundle), **options) as kms:
        await asyncio.wait_for(kms.list_keys(), BOUND)
        assert kms.stats().errors == {}
    assert len(server.requests) == 1


class ClosingServer:
    """HTTP/1.1 on 127.0.0.1, served from a thread: it answers each connection's first request
    with keep-alive, closes the connection, and then sets :attr:`closed`. Its thread runs
    while the client's event loop is busy, as another process's server would."""

    BODY = b'{"Keys": [], "Truncated": false}'
    REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listener closed: done
            while True:
                connection, _ = self.listener.accept()
                self.connections += 1
                if self.tls is not None:
                    connection = self.tls.wrap_socket(connection, server_side=True)
                with connection, connection.makefile("rb") as reader:
                    length = 0
                    while (line := reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.partition(b":")[2])
                    reader.read(length)  # all of it: a close with unread bytes is a reset
                    connection.sendall(self.REPLY)
                self.closed.set()

    def stop(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept()
        self.listener.close()
        self.thread.join(BOUND)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("path", ["direct", "session"])
async def test_a_pooled_connection_closed_while_the_loop_was_busy_is_not_used(
    ca: TestCA, monkeypatch: pytest.MonkeyPatch, path: str, scheme: str
) -> None:
    """The server closed the idle connection while the loop ran something else, so the pool
    still holds it as open: the request goes on another connection, and costs no attempt."""
    if path == "session":
        monkeypatch.setattr(_transport, "_DIRECT_REQUESTS", False)
    server = ClosingServer(ca.server_context() if scheme == "https" else None)
    try:
        async with client(server.url, max_attempts=1, verify=str(ca.bundle)) as kms:
            await kms.list_keys()
            assert server.closed.wait(BOUND)  # blocks the loop: nobody reads the close
            server.closed.clear()
            await kms.list_keys()  # in this task: a new one would let the loop see the close
            assert kms.stats().errors == {}
            assert kms.stats().requests == 2
    finally:
        server.stop()
    assert server.connections == 2


# --- HTTPS: certificates verified against the trust store the settings name --------------------


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


@pytest.fixture
async def https() -> AsyncIterator[Callable[[ssl.SSLContext], Awaitable[FakeKMS]]]:
    """Start in-process KMSs on 127.0.0.1 serving HTTPS with the certificate a test gives."""
    runners = []

    async def start_https(context: ssl.SSLContext) -> FakeKMS:
        server = FakeKMS()
        runners.append(await start(server, context))
        return server

    yield start_https
    for runner in runners:
        await runner.cleanup()


def https_client(url: str, **options: Any) -> aiokms.KMSClient:
    return aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, SECRET_KEY),
        **options,
    )


@pytest.mark.parametrize("through", ["verify", "AWS_CA_BUNDLE", "profile"])
async def test_a_private_ca_is_trusted(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    through: str,
) -> None:
    server = await https(ca.server_context())
    options: dict[str, Any] = {}
    if through == "verify":
        options["verify"] = str(ca.bundle)
    elif through == "AWS_CA_BUNDLE":
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca.bundle))
    else:  # read by botocore's shared-config reader, as the SDKs read it
        config = tmp_path / "config"
        config.write_text(f"[profile corp]\nca_bundle = {ca.bundle}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        options["profile_name"] = "corp"
    async with https_client(server.url, **options) as kms:
        for _ in range(3):
            await kms.list_keys()
    assert len(server.requests) == 3
    assert all(request.signature_ok for request in server.requests)
    assert len(server.peers) == 1  # one handshake, then keep-alive


async def test_a_private_ca_is_not_trusted_by_default(
    ca: TestCA, https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]]
) -> None:
    server = await https(ca.server_context())
    async with https_client(server.url, max_attempts=3) as kms:
        with pytest.raises(aiokms.CertificateError) as caught:
            await kms.list_keys()
        assert (kms.stats().requests, kms.stats().retries) == (1, 0)  # not retried
        assert kms.stats().errors == {"CertificateError": 1}
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert "unable to get local issuer certificate" in message
    assert "the default trust store" in message
    assert server.url in message
    assert isinstance(caught.value, aiokms.ConnectError)
    assert isinstance(caught.value, botocore.exceptions.SSLError)  # as aiobotocore raises
    assert server.requests == []


@pytest.mark.parametrize(
    ("names", "expired", "problem"),
    [
        (("kms.example.test",), False, "IP address mismatch, certificate is not valid for"),
        (("127.0.0.1",), True, "certificate has expired"),
    ],
)
async def test_a_bad_certificate_from_a_trusted_ca_is_refused_once(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    names: tuple[str, ...],
    expired: bool,
    problem: str,
) -> None:
    server = await https(ca.server_context(*names, expired=expired))
    async with https_client(server.url, verify=str(ca.bundle), max_attempts=3) as kms:
        with pytest.raises(aiokms.CertificateError) as caught:
            await kms.list_keys()
        assert kms.stats().requests == 1
    assert problem in str(caught.value)
    assert f"the CA bundle {ca.bundle} (from verify)" in str(caught.value)
    assert server.requests == []


async def test_a_certificate_from_another_ca_is_refused(
    ca: TestCA, https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]], tmp_path: Path
) -> None:
    other = TestCA(tmp_path, name="another CA")
    server = await https(other.server_context())
    async with https_client(server.url, verify=str(ca.bundle)) as kms:
        with pytest.raises(aiokms.CertificateError, match="unable to get local issuer"):
            await kms.list_keys()


async def test_verify_false_accepts_any_certificate(
    ca: TestCA, https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]]
) -> None:
    server = await https(ca.server_context("kms.example.test", expired=True))
    async with https_client(server.url, verify=False) as kms:
        await kms.list_keys()
    assert len(server.requests) == 1


async def test_verify_true_ignores_aws_ca_bundle(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await https(ca.server_context())
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca.bundle))
    async with https_client(server.url, verify=True, max_attempts=1) as kms:
        with pytest.raises(aiokms.CertificateError):
            await kms.list_keys()


async def test_an_ssl_context_of_ones_own_wins_over_aws_ca_bundle(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server = await https(ca.server_context())
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))  # never read
    context = ssl.create_default_context(cafile=str(ca.bundle))
    async with https_client(server.url, ssl_context=context) as kms:
        await kms.list_keys()
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("setting", "reason"),
    [("missing.pem", "No such file or directory"), ("empty.pem", "NO_CERTIFICATE_OR_CRL_FOUND")],
)
@pytest.mark.parametrize("where", ["verify", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_a_bundle_that_cannot_be_loaded_fails_the_constructor_naming_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, reason: str, where: str
) -> None:
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    path = str(tmp_path / setting)
    options: dict[str, Any] = {}
    if where == "verify":
        options["verify"] = path
    else:
        monkeypatch.setenv(where, path)
    with pytest.raises(ValueError, match=f"^{where}: cannot load the CA bundle") as caught:
        https_client("https://kms.example.test", **options)
    assert reason in str(caught.value)


def test_a_bundle_is_not_loaded_for_a_plain_http_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    https_client("http://127.0.0.1:1")  # no certificate to check: nothing to load


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"verify": 1}, "verify"),
        ({"verify": ""}, "verify"),
        ({"ssl_context": "tls"}, "ssl_context"),
        ({"verify": False, "ssl_context": ssl.create_default_context()}, "verify"),
    ],
)
def test_bad_tls_arguments_are_refused_naming_the_parameter(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=f"^{named}: "):
        https_client("https://kms.example.test", **options)


# --- proxies: CONNECT tunnels for HTTPS, absolute-form requests for HTTP -----------------------


@pytest.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    server = ConnectProxy()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def corporate_proxy() -> AsyncIterator[ConnectProxy]:
    """A proxy that wants credentials (the password is never to be shown)."""
    server = ConnectProxy(user="alice", password="proxy-p@ss/word")
    await server.start()
    yield server
    await server.stop()


def with_credentials(proxy: ConnectProxy) -> str:
    # percent-encoded in the URL, as a password with '@' and '/' must be
    return proxy.url.replace("http://", "http://alice:proxy-p%40ss%2Fword@")


async def test_https_proxy_tunnels_with_connect_and_keeps_the_tunnel_alive(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await https(ca.server_context())
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with https_client(server.url, verify=str(ca.bundle)) as kms:
        for _ in range(3):
            await kms.list_keys()
    assert proxy.tunnels == 1
    assert proxy.opened[0].target == server.url.removeprefix("https://")
    assert proxy.opened[0].headers["host"] == server.url.removeprefix("https://")
    assert "proxy-authorization" not in proxy.opened[0].headers
    assert len(server.requests) == 3
    assert all(request.signature_ok for request in server.requests)
    assert "x-amz-target" not in proxy.opened[0].headers  # the request itself is inside TLS


async def test_the_certificate_is_checked_through_the_tunnel(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    proxy: ConnectProxy,
) -> None:
    server = await https(ca.server_context())
    proxies = {"https": proxy.url}
    async with https_client(server.url, proxies=proxies, max_attempts=2) as kms:
        with pytest.raises(aiokms.CertificateError, match="unable to get local issuer"):
            await kms.list_keys()
    assert proxy.tunnels == 1


async def test_proxy_credentials_are_sent_and_never_shown(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    corporate_proxy: ConnectProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await https(ca.server_context())
    proxies = {"https": with_credentials(corporate_proxy)}
    async with https_client(server.url, verify=str(ca.bundle), proxies=proxies) as kms:
        await kms.list_keys()
        shown = [repr(kms), str(kms.stats()), repr(kms._transport)]
    assert corporate_proxy.tunnels == 1
    assert corporate_proxy.refused == 0
    assert "Proxy-Authorization" not in server.requests[0].headers  # for the proxy only
    for text in [*shown, caplog.text]:
        assert "p@ss" not in text
        assert "p%40ss" not in text


@pytest.mark.parametrize("given", ["wrong-password", None])
async def test_a_proxy_refusing_the_tunnel_is_a_proxy_error_without_the_password(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    corporate_proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    given: str | None,
) -> None:
    server = await https(ca.server_context())
    url = corporate_proxy.url
    if given is not None:
        url = url.replace("http://", f"http://alice:{given}@")
    monkeypatch.setenv("https_proxy", url)
    async with https_client(server.url, verify=str(ca.bundle), max_attempts=1) as kms:
        with pytest.raises(aiokms.ProxyError) as caught:
            await kms.list_keys()
    message = str(caught.value)
    assert f"through the proxy {corporate_proxy.url} (from https_proxy)" in message
    assert "407 Proxy Authentication Required" in message
    assert "wrong-password" not in message
    assert isinstance(caught.value, aiokms.ConnectError)
    assert isinstance(caught.value, botocore.exceptions.ProxyConnectionError)
    assert server.requests == []


async def test_an_unreachable_proxy_is_a_proxy_error_without_the_password(
    ca: TestCA, https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]]
) -> None:
    server = await https(ca.server_context())
    port = free_port()
    proxies = {"https": f"http://alice:proxy-secret@127.0.0.1:{port}"}
    async with https_client(server.url, verify=False, proxies=proxies, max_attempts=2) as kms:
        with pytest.raises(aiokms.ProxyError) as caught:
            await kms.list_keys()
        assert kms.stats().retries == 1  # a proxy's failure may pass, as a connection's
    assert f"the proxy http://127.0.0.1:{port} (from proxies['https'])" in str(caught.value)
    assert "proxy-secret" not in str(caught.value)
    assert "proxy-secret" not in repr(caught.value)


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "example.test, 127.0.0.1"])
async def test_no_proxy_goes_straight_to_the_endpoint(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    no_proxy: str,
) -> None:
    server = await https(ca.server_context())
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    async with https_client(server.url, verify=str(ca.bundle)) as kms:
        await kms.list_keys()
    assert proxy.opened == []
    assert len(server.requests) == 1


async def test_a_proxies_argument_wins_over_the_environment_and_ignores_no_proxy(
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await https(ca.server_context())
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")  # nobody there
    monkeypatch.setenv("NO_PROXY", "*")
    async with https_client(server.url, verify=str(ca.bundle), proxies={"https": proxy.url}) as kms:
        await kms.list_keys()
    assert proxy.tunnels == 1


async def test_an_empty_proxies_argument_means_no_proxy(
    fake: FakeKMS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nobody there
    async with https_client(fake.url, proxies={}) as kms:
        await kms.list_keys()
    assert len(fake.requests) == 1


async def test_an_http_endpoint_goes_through_http_proxy_in_absolute_form(
    fake: FakeKMS, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")  # not for http://
    async with https_client(fake.url) as kms:
        await kms.list_keys()
        await kms.list_keys()
    assert [opened.method for opened in proxy.opened] == ["POST"]
    assert proxy.opened[0].target == fake.url.removeprefix("http://")
    assert len(fake.requests) == 2
    assert all(request.signature_ok for request in fake.requests)


@pytest.mark.parametrize("path", ["direct", "session"])
async def test_an_http_endpoints_requests_carry_the_proxy_credentials(
    fake: FakeKMS,
    corporate_proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    """No tunnel to send them with: the proxy reads them from each request it forwards."""
    caplog.set_level(logging.DEBUG)
    if path == "session":
        monkeypatch.setattr(_transport, "_DIRECT_REQUESTS", False)
    proxies = {"http": with_credentials(corporate_proxy)}
    async with https_client(fake.url, proxies=proxies) as kms:
        await kms.list_keys()
        await kms.list_keys()
        shown = [repr(kms), str(kms.stats()), repr(kms._transport)]
    assert corporate_proxy.refused == 0
    basic = base64.b64encode(b"alice:proxy-p@ss/word").decode()
    # (one connection kept for both; aiohttp 3.10 opens one for each: the floor's CI job)
    assert 1 <= len(corporate_proxy.opened) <= 2
    for opened in corporate_proxy.opened:
        assert opened.method == "POST"
        assert opened.headers["proxy-authorization"] == f"Basic {basic}"
    assert len(fake.requests) == 2
    assert all(request.signature_ok for request in fake.requests)
    for text in [*shown, caplog.text]:
        assert "p@ss" not in text
        assert basic not in text


@pytest.mark.parametrize("path", ["direct", "session"])
@pytest.mark.parametrize("given", ["wrong-password", None])
async def test_a_proxy_refusing_an_http_endpoints_request_is_a_proxy_error(
    fake: FakeKMS,
    corporate_proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    given: str | None,
    path: str,
) -> None:
    if path == "session":
        monkeypatch.setattr(_transport, "_DIRECT_REQUESTS", False)
    url = corporate_proxy.url
    if given is not None:
        url = url.replace("http://", f"http://alice:{given}@")
    monkeypatch.setenv("http_proxy", url)
    async with https_client(fake.url, max_attempts=2, _random=lambda: 0.0) as kms:
        with pytest.raises(aiokms.ProxyError) as caught:
            await kms.list_keys()
        assert kms.stats().retries == 1  # as a refused tunnel is
    message = str(caught.value)
    assert f"through the proxy {corporate_proxy.url} (from http_proxy)" in message
    assert "407 Proxy Authentication Required" in message
    assert "wrong-password" not in message
    assert isinstance(caught.value, botocore.exceptions.ProxyConnectionError)
    assert corporate_proxy.refused == 2
    assert fake.requests == []


async def test_an_https_proxy_is_spoken_to_in_tls_from_python_3_11(
    ca: TestCA, https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]]
) -> None:
    server = await https(ca.server_context())
    proxy = ConnectProxy(tls=ca.server_context())
    await proxy.start()
    try:
        options = {"verify": str(ca.bundle), "proxies": {"https": proxy.url}}
        if sys.version_info < (3, 11):
            with pytest.raises(ValueError, match=r"needs Python 3\.11"):
                https_client(server.url, **options)
            return
        async with https_client(server.url, **options) as kms:
            await kms.list_keys()
            await kms.list_keys()
        assert proxy.tunnels == 1
        assert len(server.requests) == 2
    finally:
        await proxy.stop()


# --- proxies_config: TLS to an https:// proxy ---------------------------------------------------

needs_tls_in_tls = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="an https:// endpoint through an https:// proxy"
)
# aiohttp gives a proxy a TLS context of its own from 3.13 (refused before: see below)
needs_proxy_tls = pytest.mark.skipif(
    not hasattr(aiohttp.TCPConnector, _transport._PROXY_REQUEST_METHOD),
    reason="proxies_config's TLS settings need aiohttp 3.13",
)


@pytest.fixture(params=["http", pytest.param("https", marks=needs_tls_in_tls)])
async def endpoint(
    request: pytest.FixtureRequest,
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    fake: FakeKMS,
) -> FakeKMS:
    """A KMS behind the proxy, over plain HTTP and over HTTPS (certificate from ``ca``)."""
    return await https(ca.server_context()) if request.param == "https" else fake


@needs_proxy_tls
async def test_proxy_ca_bundle_is_what_the_proxys_certificate_is_checked_against(
    endpoint: FakeKMS, ca: TestCA, tmp_path: Path
) -> None:
    server, scheme = endpoint, endpoint.url.partition(":")[0]
    proxy_ca = TestCA(tmp_path, "proxy CA")
    proxy = ConnectProxy(tls=proxy_ca.server_context())
    await proxy.start()
    try:
        options: dict[str, Any] = {"verify": str(ca.bundle), "proxies": {scheme: proxy.url}}
        async with https_client(server.url, **options) as kms:
            with pytest.raises(aiokms.CertificateError):
                await kms.list_keys()
        config = {"proxy_ca_bundle": str(proxy_ca.bundle)}
        async with https_client(server.url, proxies_config=config, **options) as kms:
            await kms.list_keys()
            await kms.list_keys()
        assert len(server.requests) == 2
        assert len(proxy.opened) == 1  # one connection, kept
    finally:
        await proxy.stop()


@needs_proxy_tls
@pytest.mark.parametrize("form", ["pair", "one file"])
async def test_proxy_client_cert_is_presented_to_the_proxy(
    form: str, endpoint: FakeKMS, ca: TestCA, tmp_path: Path
) -> None:
    server, scheme = endpoint, endpoint.url.partition(":")[0]
    clients = TestCA(tmp_path, "client CA")
    cert, key = clients.client_certificate()
    if form == "one file":
        both = tmp_path / "client.pem"
        both.write_bytes(cert.read_bytes() + key.read_bytes())
    proxy = ConnectProxy(tls=ca.server_context_wanting_clients(clients))
    await proxy.start()
    try:
        options: dict[str, Any] = {"verify": str(ca.bundle), "proxies": {scheme: proxy.url}}
        without = {"proxy_ca_bundle": str(ca.bundle)}
        # (Python 3.10's asyncio TLS leaves a transport of the refused connection unclosed,
        # a ResourceWarning, whichever way the request is sent: checked from 3.11)
        if sys.version_info >= (3, 11):
            async with https_client(server.url, proxies_config=without, **options) as kms:
                with pytest.raises(aiokms.TransportError):
                    await kms.list_keys()
        config = dict(without, proxy_client_cert=(str(cert), key) if form == "pair" else str(both))
        async with https_client(server.url, proxies_config=config, **options) as kms:
            await kms.list_keys()
        assert len(server.requests) == 1
    finally:
        await proxy.stop()


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        ([("proxy_ca_bundle", "ca.pem")], TypeError, "is not a mapping"),
        ({"proxy_ca_bundles": "ca.pem"}, ValueError, r"unknown keys \['proxy_ca_bundles'\]"),
        ({"proxy_ca_bundle": 1}, TypeError, "proxy_ca_bundle'\\]: 1 is not a file's path"),
        ({"proxy_client_cert": ("cert.pem",)}, TypeError, "proxy_client_cert'\\]: "),
        ({"proxy_client_cert": ["c.pem", "k.pem"]}, TypeError, "proxy_client_cert'\\]: "),
        ({"proxy_use_forwarding_for_https": "yes"}, TypeError, "is not a bool"),
        ({"proxy_use_forwarding_for_https": True}, ValueError, "not supported: .* CONNECT"),
        ({"proxy_ca_bundle": "/nonexistent/ca.pem"}, ValueError, "cannot load the CA bundle"),
        ({"proxy_client_cert": "/nonexistent/c.pem"}, ValueError, "proxy_client_cert'\\]: cannot"),
    ],
)
def test_bad_proxies_config_is_refused_naming_it(
    config: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^proxies_config.*{message}"):
        https_client("https://kms.example.test", proxies_config=config)


@pytest.mark.parametrize("key", ["proxy_ca_bundle", "proxy_client_cert"])
def test_proxy_tls_settings_are_refused_with_an_aiohttp_older_than_3_13(
    key: str, ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 3.13 aiohttp checks a proxy's certificate with the endpoint's settings only:
    a proxy CA bundle or client certificate would be ignored, not applied."""
    monkeypatch.delattr(aiohttp.BaseConnector, _transport._PROXY_REQUEST_METHOD, raising=False)
    cert, key_file = ca.client_certificate()
    value = str(ca.bundle) if key == "proxy_ca_bundle" else (str(cert), str(key_file))
    with pytest.raises(ValueError, match=r"^proxies_config: .* need aiohttp 3\.13 or newer \("):
        https_client("https://kms.example.test", proxies_config={key: value})


def test_proxies_config_without_tls_settings_changes_nothing() -> None:
    """``proxy_use_forwarding_for_https=False`` is what aiokms does anyway; empty is nothing."""
    for config in ({}, {"proxy_use_forwarding_for_https": False}, None):
        https_client("https://kms.example.test", proxies_config=config)


@pytest.mark.parametrize("where", ["proxies", "HTTPS_PROXY"])
def test_a_bad_proxy_url_leaves_no_credentials_in_the_traceback(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    url = "socks5://alice:hunter2@proxy:1080"
    options: dict[str, Any] = {}
    if where == "proxies":
        options["proxies"] = {"https": url}
    else:
        monkeypatch.setenv("HTTPS_PROXY", url)
    with pytest.raises(ValueError, match="is not an http") as caught:
        https_client("https://kms.example.test", **options)
    tb = caught.value.__traceback__
    frames = 0
    while tb is not None:
        if tb.tb_frame.f_globals["__name__"].startswith("aiokms."):  # not the test's own
            frames += 1
            local = {k: v for k, v in tb.tb_frame.f_locals.items() if k != "self"}
            assert "hunter2" not in repr(local), tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    assert frames >= 3  # the client, the settings, the proxy URL's parsing
    assert "hunter2" not in str(caught.value)


# --- secrets: no error a call raises leads back to the request it failed -----------------------

SESSION_TOKEN = "transport-session-token-never-shown"
PROXY_PASSWORD = "proxy-p@ss/word"


def error_chain(error: BaseException) -> list[BaseException]:
    """The error, and every cause and context reachable from it."""
    links: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        link = pending.pop()
        if link is None or any(link is seen for seen in links):
            continue
        links.append(link)
        pending += (link.__cause__, link.__context__)
    return links


def shown_by(link: BaseException) -> str:
    """What a reporter may record of an exception: its text, its repr and its attributes'."""
    attributes = getattr(link, "__dict__", {})
    return " ".join(
        [str(link), repr(link), repr(link.args), *(repr(value) for value in attributes.values())]
    )


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def bad_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 2OO NOT-A-STATUS\r\n\r\n")
    await writer.drain()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads the request (or the TLS hello) and never answers


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ("bad status line", aiokms.InvalidResponse),
        ("reset", aiokms.ConnectionClosed),
        ("read timeout", aiokms.ReadTimeout),
        ("connect timeout", aiokms.ConnectTimeout),
        ("certificate", aiokms.CertificateError),
        ("proxy 407", aiokms.ProxyError),
        ("proxy 407 in absolute form", aiokms.ProxyError),
    ],
)
@pytest.mark.parametrize("path", ["direct", "session"])
async def test_no_error_raised_leads_back_to_the_request_and_its_secrets(
    raw_server: Callable[[Serve], Awaitable[str]],
    ca: TestCA,
    https: Callable[[ssl.SSLContext], Awaitable[FakeKMS]],
    fake: FakeKMS,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    error: type[aiokms.TransportError],
    path: str,
) -> None:
    """aiohttp's exceptions hold the request's headers (``request_info``): signed ones, the
    session token, the proxy's credentials. None is a cause or a context of what a call
    raises, and nothing reachable from it shows a secret."""
    if path == "session":
        monkeypatch.setattr(_transport, "_DIRECT_REQUESTS", False)
    options: dict[str, Any] = {"max_attempts": 1}
    if failure == "bad status line":
        url = await raw_server(bad_status_line)
    elif failure == "reset":
        url = await raw_server(reset)
    elif failure == "read timeout":
        url = await raw_server(silent)
        options["read_timeout"] = 0.2
    elif failure == "connect timeout":  # the TLS handshake is never answered
        url = (await raw_server(silent)).replace("http:", "https:")
        options["connect_timeout"] = 0.2
    elif failure == "certificate":
        url = (await https(TestCA(ca.directory, "another CA").server_context())).url
        options["verify"] = str(ca.bundle)
    else:
        proxy = ConnectProxy(user="alice", password="the-right-one")
        await proxy.start()
        proxy_url = proxy.url.replace("http://", "http://alice:proxy-p%40ss%2Fword@")
        if failure == "proxy 407":
            url = (await https(ca.server_context())).url
            options.update(verify=str(ca.bundle), proxies={"https": proxy_url})
        else:
            url = fake.url
            options["proxies"] = {"http": proxy_url}
    credentials = aiokms.Credentials(ACCESS_KEY, SECRET_KEY, token=SESSION_TOKEN)
    try:
        async with aiokms.KMSClient(
            region_name="us-east-1", endpoint_url=url, credentials=credentials, **options
        ) as kms:
            with pytest.raises(error) as caught:
                await asyncio.wait_for(kms.list_keys(), BOUND)
    finally:
        if failure.startswith("proxy"):
            await proxy.stop()
    basic = base64.b64encode(f"alice:{PROXY_PASSWORD}".encode()).decode()
    secrets = [SECRET_KEY, SESSION_TOKEN, "Signature=", PROXY_PASSWORD, "p%40ss", basic]
    for link in error_chain(caught.value):
        assert not isinstance(link, aiohttp.ClientError), repr(link)
        assert getattr(link, "request_info", None) is None, repr(link)
        shown = shown_by(link)
        assert [secret for secret in secrets if secret in shown] == [], type(link)
