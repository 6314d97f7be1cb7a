"""Retries, the adaptive limiter, deadlines and cancellation against servers on 127.0.0.1.

Two servers: the fake KMS (``fake``), which checks every request's signature, for service
errors; and :class:`FaultServer`, raw HTTP/1.1 over asyncio streams, for what no well-behaved
server does (resets, closes, silence, bytes that are not HTTP). Backoff draws are injected as
0 so retries do not sleep; where the limiter must be pinned down the clock is injected too.
"""

from __future__ import annotations

import asyncio
import collections
import http
import math
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from botocore.exceptions import ClientError

import aiokms
from aiokms._ratelimit import BURST_SECONDS, RateLimiter
from tests.fake_kms import ACCESS_KEY, FakeKMS, Recorded

SECRET = "resilience-secret-never-printed"
BOUND = 20.0  # seconds: no single step of a test may take longer (a hang fails, never blocks)
THROTTLE_BODY = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


@pytest.fixture
async def faults() -> AsyncIterator[FaultServer]:
    server = FaultServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def client(url: str, secret: str = SECRET, **options: Any) -> aiokms.KMSClient:
    options.setdefault("max_attempts", 3)
    options.setdefault("_random", lambda: 0.0)
    return aiokms.KMSClient(
        region_name="us-east-1",
        endpoint_url=url,
        credentials=aiokms.Credentials(ACCESS_KEY, secret),
        **options,
    )


def fake_client(fake: FakeKMS, **options: Any) -> aiokms.KMSClient:
    return client(fake.url, fake.secret_key, **options)


def limiter_of(kms: aiokms.KMSClient, quota: str = "ListKeys") -> RateLimiter:
    """The client's limiter of ``quota`` (ListKeys, which these tests call, has its own)."""
    limiters = kms._policy.limiters
    limiter = None if limiters is None else limiters.get(quota)
    assert limiter is not None
    return limiter


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds; fail (not hang) if it does not within BOUND."""

    async def poll() -> None:
        # polled: the conditions are counters of the server and the client, not events
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), BOUND)


def assert_idle(kms: aiokms.KMSClient, max_connections: int = 64) -> None:
    assert kms.stats().in_flight == 0
    assert kms._slots.free == max_connections


# --- service errors that are retried ------------------------------------------------------

RETRIED = [
    (500, b"", "500"),
    (500, b"an unexpected text body", "500"),
    (502, b"", "502"),
    (502, b"<html><body>bad gateway</body></html>", "502"),
    (503, b"", "503"),
    (503, b'{"__type": "ServiceUnavailable", "message": "later"}', "ServiceUnavailable"),
    (504, b"", "504"),
    (504, b"<html>gateway timeout</html>", "504"),
    (400, THROTTLE_BODY, "ThrottlingException"),
    (500, b'{"__type": "KMSInternalException", "message": "x"}', "KMSInternalException"),
    (
        503,
        b'{"__type": "DependencyTimeoutException", "message": "x"}',
        "DependencyTimeoutException",
    ),
    (500, b'{"__type": "KeyUnavailableException", "message": "x"}', "KeyUnavailableException"),
]


@pytest.mark.parametrize(
    ("status", "body", "code"),
    RETRIED,
    ids=[f"{s}-{c}-{'body' if b else 'empty'}" for s, b, c in RETRIED],
)
async def test_retryable_service_error_is_tried_max_attempts_times(
    fake: FakeKMS, status: int, body: bytes, code: str
) -> None:
    fake.reply("GenerateDataKey", body, status)
    async with fake_client(fake, retry_mode="standard") as kms:
        with pytest.raises(ClientError) as caught:
            await kms.generate_data_key(KeyId="alias/k", KeySpec="AES_256")
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        stats = kms.stats()
        assert (stats.requests, stats.retries) == (3, 2)
        assert stats.errors == {code: 3}
        assert stats.throttles == (3 if code == "ThrottlingException" else 0)
        assert_idle(kms)
    assert fake.operations() == ["GenerateDataKey"] * 3
    assert all(recorded.signature_ok for recorded in fake.requests)
    assert len({recorded.body for recorded in fake.requests}) == 1  # the same request, resent


@pytest.mark.parametrize("max_attempts", [1, 2, 5])
async def test_max_attempts_counts_the_first_try(fake: FakeKMS, max_attempts: int) -> None:
    fake.error("ListKeys", "KMSInternalException", "boom", 500)
    async with fake_client(fake, max_attempts=max_attempts) as kms:
        with pytest.raises(kms.exceptions.KMSInternalException) as caught:
            await kms.list_keys()
        assert kms.stats().retries == max_attempts - 1
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == max_attempts - 1
    assert len(fake.requests) == max_attempts


async def test_429_is_retried_as_a_throttle_and_switches_the_limiter_on(fake: FakeKMS) -> None:
    fake.reply("ListKeys", b"", 429)
    async with fake_client(fake) as kms:
        with pytest.raises(ClientError) as caught:
            await asyncio.wait_for(kms.list_keys(), BOUND)
        assert caught.value.response["Error"]["Code"] == "429"
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
        assert set(kms.stats().limiter_rates) == {"ListKeys"}
    assert len(fake.requests) == 3


def failing_twice(status: int, body: bytes) -> Callable[[Recorded], Any]:
    """A handler answering ``status``/``body`` twice, then success."""
    calls = 0

    async def handler(recorded: Recorded) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return web.Response(status=status, body=body)
        return web.json_response({"Keys": [{"KeyId": "k", "KeyArn": "arn"}], "Truncated": False})

    return handler


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, THROTTLE_BODY),
        (500, b""),
        (503, b'{"__type": "DependencyTimeoutException", "message": "x"}'),
    ],
    ids=["throttle", "500", "dependency-timeout"],
)
@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_success_after_two_failures_reports_two_retries(
    fake: FakeKMS, status: int, body: bytes, mode: str
) -> None:
    fake.handle("ListKeys", failing_twice(status, body))
    async with fake_client(fake, retry_mode=mode) as kms:
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["Keys"] == [{"KeyId": "k", "KeyArn": "arn"}]
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert (kms.stats().requests, kms.stats().retries) == (3, 2)
        assert_idle(kms)
    assert len(fake.requests) == 3
    assert all(recorded.signature_ok for recorded in fake.requests)


# --- service errors that are not ---------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "NotFoundException",
        "LimitExceededException",
        "AccessDeniedException",
        "ValidationException",
        "DisabledException",
        "InvalidCiphertextException",
    ],
)
@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_other_4xx_errors_are_not_retried(fake: FakeKMS, code: str, mode: str) -> None:
    fake.error("Encrypt", code, "no", 400)
    async with fake_client(fake, retry_mode=mode, max_attempts=5) as kms:
        with pytest.raises(ClientError) as caught:
            await kms.encrypt(KeyId="k", Plaintext=b"p")
        assert type(caught.value) is getattr(kms.exceptions, code, ClientError)
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        stats = kms.stats()
        assert (stats.requests, stats.retries, stats.throttles) == (1, 0, 0)
        assert stats.limiter_rates == {}  # LimitExceededException is no throttle
    assert len(fake.requests) == 1


# --- failures below the service -----------------------------------------------------------


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
    async with client(faults.url, retry_mode=mode, **options) as kms:
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
    async with client(faults.url, read_timeout=0.1) as kms:
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        assert_idle(kms)
    assert faults.actions == [action, action, "ok"]


async def test_refused_connections_are_retried(faults: FaultServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        async with client(f"http://127.0.0.1:{port}", max_attempts=4) as kms:
            with pytest.raises(aiokms.ConnectError):
                await asyncio.wait_for(kms.list_keys(), BOUND)
            assert kms.stats().errors == {"ConnectError": 4}
            assert kms.stats().retries == 3
            assert_idle(kms)


# --- every attempt signed afresh, holding its slot -----------------------------------------


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_every_attempt_is_signed_afresh_while_holding_its_slot(
    fake: FakeKMS, mode: str
) -> None:
    fake.error("Sign", "ThrottlingException", "Rate exceeded")
    async with fake_client(fake, retry_mode=mode, max_connections=4) as kms:
        sign = kms._sign
        seen: list[tuple[int, int]] = []

        def spy(target: str, payload_hash: str, credentials: Any) -> dict[str, str]:
            seen.append((kms.stats().in_flight, kms._slots.free))
            return sign(target, payload_hash, credentials)

        kms._sign = spy  # type: ignore[method-assign]
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.sign(KeyId="k", Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert seen == [(1, 3)] * 3
    assert len(fake.requests) == 3
    assert all(recorded.signature_ok for recorded in fake.requests)


# --- the retry quota -----------------------------------------------------------------------


async def test_an_exhausted_retry_quota_stops_retrying(fake: FakeKMS) -> None:
    fake.error("ListKeys", "KMSInternalException", "down", 500)
    async with fake_client(fake, retry_mode="standard") as kms:
        for _ in range(60):  # each call's two retries cost 10 of the 500 tokens
            with pytest.raises(kms.exceptions.KMSInternalException):
                await kms.list_keys()
        assert kms.stats().retries == 100
        assert kms.stats().requests == 50 * 3 + 10 * 1
        fake.reply("ListKeys", {"Keys": []})
        for _ in range(5):  # successes at first try refund one token each
            await kms.list_keys()
        fake.error("ListKeys", "KMSInternalException", "down", 500)
        with pytest.raises(kms.exceptions.KMSInternalException) as caught:
            await kms.list_keys()
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 1


# --- modes and the limiter -----------------------------------------------------------------


async def test_standard_mode_never_enables_the_limiter(fake: FakeKMS) -> None:
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with fake_client(fake, retry_mode="standard", max_attempts=10) as kms:
        assert kms.retry_mode == "standard"
        for _ in range(5):
            with pytest.raises(kms.exceptions.ThrottlingException):
                await kms.list_keys()
        assert kms.stats().throttles == 50
        assert (kms.stats().limiter_rate, kms.stats().limiter_rates) == (None, {})
        assert kms._policy.limiters is None


async def test_adaptive_is_the_default_and_a_throttle_switches_the_limiter_on(
    fake: FakeKMS,
) -> None:
    async with fake_client(fake) as kms:
        assert kms.retry_mode == "adaptive"
        for _ in range(3):
            await kms.list_keys()
        fake.error("Encrypt", "LimitExceededException", "too many grants")
        with pytest.raises(kms.exceptions.LimitExceededException):
            await kms.encrypt(KeyId="k", Plaintext=b"p")
        assert kms.stats().limiter_rates == {}
        fake.handle("ListKeys", failing_twice(400, b'{"__type": "ThrottlingException"}'))
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        stats = kms.stats()
        assert stats.limiter_rates == {"ListKeys": limiter_of(kms).rate}
        assert stats.limiter_rates["ListKeys"] >= 0.5
        assert stats.limiter_rate is None  # the symmetric quota's: not throttled
        assert stats.throttles == 2
        assert stats.errors == {"LimitExceededException": 1, "ThrottlingException": 2}


async def test_max_rate_wait_zero_raises_rate_limited_without_sending(fake: FakeKMS) -> None:
    clock = Clock()
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with fake_client(fake, max_rate_wait=0, max_attempts=1, clock=clock) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        rate = limiter_of(kms).rate
        fake.reply("ListKeys", {"Keys": []})
        with pytest.raises(aiokms.RateLimited) as caught:
            await kms.list_keys()  # the bucket starts empty when the limiter switches on
        assert isinstance(caught.value, aiokms.AiokmsError)
        assert not isinstance(caught.value, (ClientError, aiokms.TransportError))
        assert caught.value.wait == pytest.approx(1 / rate)
        assert len(fake.requests) == 1
        clock.advance(1.5 / rate)  # one and a half tokens
        await kms.list_keys()
        with pytest.raises(aiokms.RateLimited):
            await kms.list_keys()
        assert len(fake.requests) == 2
        assert_idle(kms)


async def test_max_rate_wait_sheds_calls_beyond_the_queue_it_allows(fake: FakeKMS) -> None:
    clock = Clock()
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with fake_client(fake, max_attempts=1, clock=clock, max_rate_wait=1.0) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        fake.reply("ListKeys", {"Keys": []})
        limiter = limiter_of(kms)
        limiter.rate = 5.0  # pin it: turns 0.2 s apart, five within max_rate_wait
        queued = [asyncio.ensure_future(kms.list_keys()) for _ in range(5)]
        await asyncio.sleep(0)
        assert limiter.wait_for(clock()) == pytest.approx(6 / 5.0)
        with pytest.raises(aiokms.RateLimited) as caught:
            await kms.list_keys()
        assert caught.value.wait == pytest.approx(6 / 5.0)
        assert len(fake.requests) == 1 and not any(call.done() for call in queued)
        clock.advance(10.0)
        replies = await asyncio.wait_for(asyncio.gather(*queued), BOUND)
        assert [reply["Keys"] for reply in replies] == [[]] * 5
        assert len(fake.requests) == 6


# --- deadlines -----------------------------------------------------------------------------


async def test_call_timeout_on_a_silent_server(faults: FaultServer) -> None:
    faults.policy = lambda: "hang"
    async with client(faults.url, call_timeout=0.2) as kms:
        with pytest.raises(aiokms.DeadlineExceeded) as caught:
            await asyncio.wait_for(kms.describe_key(KeyId="k"), BOUND)
        assert isinstance(caught.value, TimeoutError)
        assert isinstance(caught.value, aiokms.AiokmsError)
        assert caught.value.operation == "DescribeKey"
        assert "call_timeout=0.2" in str(caught.value)
        assert_idle(kms)
        await eventually(lambda: faults.open_connections == 0)
        faults.policy = lambda: "ok"
        await kms.list_keys()
    assert faults.actions == ["hang", "ok"]


async def test_call_timeout_covers_backoff_sleeps(fake: FakeKMS) -> None:
    fake.error("ListKeys", "KMSInternalException", "down", 500)
    # full draws: 1 s of backoff after the first attempt, far past the deadline
    async with fake_client(fake, call_timeout=0.3, _random=lambda: 1.0) as kms:
        with pytest.raises(aiokms.DeadlineExceeded):
            await asyncio.wait_for(kms.list_keys(), BOUND)
        assert kms.stats().retries == 1
        assert_idle(kms)
    assert len(fake.requests) == 1


async def test_call_timeout_while_queued_passes_the_token_on(fake: FakeKMS) -> None:
    clock = Clock()  # frozen: a queued call never gets its turn
    fake.error("ListKeys", "ThrottlingException", "Rate exceeded")
    async with fake_client(fake, max_attempts=1, call_timeout=0.2, clock=clock) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        limiter = limiter_of(kms)
        ahead = limiter.wait_for(clock())
        for _ in range(3):
            with pytest.raises(aiokms.DeadlineExceeded):
                await asyncio.wait_for(kms.list_keys(), BOUND)
        assert limiter.wait_for(clock()) == pytest.approx(ahead)  # no ghosts in the queue
        assert len(fake.requests) == 1


# --- stats ---------------------------------------------------------------------------------


async def test_stats_count_retries_throttles_and_errors(faults: FaultServer) -> None:
    faults.script.extend(["throttle", "500", "reset", "throttle", "ok", "garbage", "ok"])
    async with client(faults.url, retry_mode="standard") as kms:
        with pytest.raises(aiokms.ConnectionClosed):
            await kms.list_keys()  # throttle, 500, reset: out of attempts
        first = await kms.list_keys()  # throttle, ok
        with pytest.raises(aiokms.InvalidResponse):
            await kms.list_keys()  # garbage: a success that cannot be parsed is not retried
        second = await kms.list_keys()  # ok
        stats = kms.stats()
    assert (
        first["ResponseMetadata"]["RetryAttempts"],
        second["ResponseMetadata"]["RetryAttempts"],
    ) == (1, 0)
    assert stats.requests == 7
    assert stats.retries == 3
    assert stats.throttles == 2
    assert stats.errors == {
        "ThrottlingException": 2,
        "500": 1,
        "ConnectionClosed": 1,
        "InvalidResponse": 1,
    }
    assert stats.in_flight == 0
    assert (stats.limiter_rate, stats.limiter_rates) == (None, {})


# --- many calls at once --------------------------------------------------------------------

FAULTS = ["500", "throttle", "reset", "garbage", "slow"]


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
async def test_500_concurrent_calls_with_random_faults_all_complete(
    faults: FaultServer, mode: str
) -> None:
    chooser = random.Random(20240603)
    faults.policy = lambda: chooser.choice(FAULTS) if chooser.random() < 0.2 else "ok"
    jitter = random.Random(7)
    async with client(
        faults.url, retry_mode=mode, read_timeout=5.0, _random=lambda: jitter.random() * 0.01
    ) as kms:
        calls = [kms.list_keys() for _ in range(500)]
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 60)
        unexpected = [
            outcome
            for outcome in outcomes
            if not isinstance(outcome, (dict, ClientError, aiokms.TransportError))
        ]
        assert unexpected == []
        succeeded = sum(isinstance(outcome, dict) for outcome in outcomes)
        assert succeeded >= 450  # a call fails only if all three attempts do
        assert all(
            outcome["ResponseMetadata"]["RetryAttempts"] in (0, 1, 2)
            for outcome in outcomes
            if isinstance(outcome, dict)
        )
        assert set(faults.actions) == {"ok", *FAULTS}
        stats = kms.stats()
        assert stats.requests == faults.requests
        assert stats.retries == faults.requests - 500
        assert stats.throttles == faults.actions.count("throttle")
        assert set(stats.limiter_rates) == ({"ListKeys"} if mode == "adaptive" else set())
        assert_idle(kms)
        faults.policy = lambda: "ok"
        await asyncio.wait_for(kms.list_keys(), BOUND)


# --- cancellation --------------------------------------------------------------------------


async def test_cancelling_200_in_flight_calls_leaves_the_client_working(
    faults: FaultServer,
) -> None:
    faults.policy = lambda: "hang"
    async with client(faults.url, retry_mode="standard") as kms:
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(200)]
        await eventually(lambda: faults.requests == 64)
        assert kms.stats().in_flight == 64  # the rest wait for a slot, unsigned
        for call in calls:
            call.cancel()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        assert_idle(kms)
        await eventually(lambda: faults.open_connections == 0)  # nothing left half-read
        assert faults.requests == 64
        faults.policy = lambda: "ok"
        reply = await asyncio.wait_for(kms.list_keys(), BOUND)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 0
        assert kms.stats().errors == {}


@pytest.mark.parametrize("max_connections", [64, 1])
async def test_cancelling_calls_queued_in_the_limiter_passes_their_tokens_on(
    faults: FaultServer, max_connections: int
) -> None:
    clock = Clock()  # frozen between the steps below: who may go is decided by the test
    faults.script.append("throttle")
    faults.policy = lambda: "hang"
    async with client(
        faults.url, max_attempts=1, clock=clock, max_connections=max_connections
    ) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        limiter = limiter_of(kms)
        clock.advance(1.0)  # the bucket fills up to its burst: a few calls may go at once
        burst = math.floor(limiter.rate * BURST_SECONDS)
        assert burst >= 2  # the start-up's first rate: 40/s, a burst of 2
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(200)]
        await eventually(lambda: kms.stats().in_flight == min(max_connections, burst))
        await asyncio.sleep(0.05)
        sent = faults.requests - 1
        assert 1 <= sent <= 3
        for call in calls:
            call.cancel()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        assert_idle(kms, max_connections)
        # the calls that never sent gave their tokens back: nobody is queued ahead of a new call
        assert limiter.wait_for(clock()) <= 1 / limiter.rate
        await eventually(lambda: faults.open_connections == 0)
        assert faults.requests == 1 + sent
        faults.policy = lambda: "ok"
        clock.advance(1.0)
        await asyncio.wait_for(kms.list_keys(), BOUND)
        assert_idle(kms, max_connections)


async def test_cancelled_calls_holding_a_token_but_no_slot_pass_it_on(faults: FaultServer) -> None:
    clock = Clock()
    faults.script.append("throttle")
    faults.policy = lambda: "hang"
    async with client(faults.url, max_attempts=1, clock=clock, max_connections=1) as kms:
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.list_keys()
        limiter = limiter_of(kms)
        limiter.rate = 40.0  # pinned: the burst is two whole tokens (50 ms of 40/s)
        clock.advance(1.0)
        calls = [asyncio.ensure_future(kms.list_keys()) for _ in range(3)]
        await eventually(lambda: faults.requests == 2)
        await asyncio.sleep(0.05)
        # one call sends and hangs; one has its token and waits for the slot; one is queued
        assert faults.requests == 2 and kms.stats().in_flight == 1
        for call in calls:
            call.cancel()
        await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
        assert_idle(kms, 1)
        # with the clock still stopped: the unsent token lets the next call go at once
        assert limiter.wait_for(clock()) == 0.0
        faults.policy = lambda: "ok"
        await asyncio.wait_for(kms.list_keys(), BOUND)
