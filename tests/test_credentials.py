"""Static credentials and the single-flight credential cache."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import CredentialRetrievalError, NoCredentialsError

import aiokms
from aiokms._credentials import CredentialCache, Credentials, CredentialsProvider

ACCESS_KEY = "AKIDEXAMPLEACCESSKEY"
SECRET_KEY = "s3cr3t-Sentinel-Value-that-must-never-leak"
SESSION_TOKEN = "t0ken-Sentinel-Value-that-must-never-leak"

CREDENTIAL_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CREDENTIAL_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
)


# --- Credentials ----------------------------------------------------------------------------


@pytest.fixture
def creds() -> Credentials:
    return Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)


def test_attributes(creds: Credentials) -> None:
    assert creds.access_key == ACCESS_KEY
    assert creds.secret_key == SECRET_KEY
    assert creds.token == SESSION_TOKEN
    assert Credentials(ACCESS_KEY, SECRET_KEY).token is None
    keywords = Credentials(access_key=ACCESS_KEY, secret_key=SECRET_KEY, token=SESSION_TOKEN)
    assert keywords == creds


@pytest.mark.parametrize("token", [SESSION_TOKEN, None])
def test_repr_and_str_hide_secrets(token: str | None) -> None:
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert SECRET_KEY not in text
        assert SESSION_TOKEN not in text
        assert ACCESS_KEY in text


def test_secrets_do_not_appear_in_the_instance_namespace(creds: Credentials) -> None:
    # no __dict__ that a generic dumper (vars(), logging extras) could spill
    assert not hasattr(creds, "__dict__")


@pytest.mark.parametrize("name", ["access_key", "secret_key", "token", "other"])
def test_immutable(creds: Credentials, name: str) -> None:
    with pytest.raises(AttributeError):
        setattr(creds, name, "changed")
    with pytest.raises(AttributeError):
        delattr(creds, name)
    assert (creds.access_key, creds.secret_key, creds.token) == (
        ACCESS_KEY,
        SECRET_KEY,
        SESSION_TOKEN,
    )


def test_copies_are_equal(creds: Credentials) -> None:
    assert copy.copy(creds) == creds
    assert copy.deepcopy(creds) == creds
    assert copy.deepcopy({"credentials": creds})["credentials"] == creds


def test_equality_and_hash(creds: Credentials) -> None:
    same = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    assert creds == same
    assert hash(creds) == hash(same)
    assert len({creds, same}) == 1
    assert creds != Credentials(ACCESS_KEY, SECRET_KEY)
    assert creds != Credentials(ACCESS_KEY, SECRET_KEY + "x", SESSION_TOKEN)
    assert creds != Credentials(ACCESS_KEY + "X", SECRET_KEY, SESSION_TOKEN)
    assert creds != (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    assert creds != ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, None)
    assert creds != object()


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        (("", SECRET_KEY), "access_key"),
        ((None, SECRET_KEY), "access_key"),
        ((b"AKIDBYTES", SECRET_KEY), "access_key"),
        ((ACCESS_KEY, ""), "secret_key"),
        ((ACCESS_KEY, None), "secret_key"),
        ((ACCESS_KEY, SECRET_KEY.encode()), "secret_key"),
        ((ACCESS_KEY, 12345), "secret_key"),
        ((ACCESS_KEY, SECRET_KEY, ""), "token"),
        ((ACCESS_KEY, SECRET_KEY, SESSION_TOKEN.encode()), "token"),
        ((ACCESS_KEY, SECRET_KEY, 0), "token"),
    ],
)
def test_validation_errors_do_not_echo_secrets(arguments: tuple[Any, ...], name: str) -> None:
    with pytest.raises(ValueError, match=name) as raised:
        Credentials(*arguments)
    message = str(raised.value)
    assert "s3cr3t" not in message
    assert "t0ken" not in message


async def test_get_frozen_credentials_returns_itself(creds: Credentials) -> None:
    assert await creds.get_frozen_credentials() is creds


def test_is_a_credentials_provider(creds: Credentials) -> None:
    assert isinstance(creds, CredentialsProvider)
    assert not isinstance(object(), CredentialsProvider)


# --- CredentialCache with a fake provider ---------------------------------------------------


@dataclass(frozen=True)
class Frozen:
    access_key: str
    secret_key: str
    token: str | None


class FakeProvider:
    """Counts calls; can be held at a gate, made to fail or to return blank keys."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.cancelled = 0
        self.error: BaseException | None = None
        self.access_key = "AKIDPROVIDER"

    async def get_frozen_credentials(self) -> Frozen:
        self.calls += 1
        self.started.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error
        return Frozen(self.access_key, f"secret-{self.calls}", f"token-{self.calls}")

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        self.started.clear()
        return self.gate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def settle() -> None:
    """Let every runnable task reach its next await."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_first_get_fetches(provider: FakeProvider) -> None:
    cache = CredentialCache(provider)
    frozen = await cache.get()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "AKIDPROVIDER",
        "secret-1",
        "token-1",
    )
    assert provider.calls == 1


async def test_concurrent_cold_gets_make_one_call(provider: FakeProvider) -> None:
    gate = provider.hold()
    cache = CredentialCache(provider)
    tasks = [asyncio.create_task(cache.get()) for _ in range(200)]
    await provider.started.wait()
    await settle()
    assert provider.calls == 1
    assert not any(task.done() for task in tasks)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert provider.calls == 1
    assert all(result is results[0] for result in results)
    assert results[0].secret_key == "secret-1"


async def test_concurrent_cold_gets_with_an_instant_provider(provider: FakeProvider) -> None:
    cache = CredentialCache(provider)
    results = await asyncio.gather(*(cache.get() for _ in range(200)))
    assert provider.calls == 1
    assert all(result is results[0] for result in results)


async def test_recheck_interval(provider: FakeProvider, clock: FakeClock) -> None:
    cache = CredentialCache(provider, recheck_interval=30.0, clock=clock)
    first = await cache.get()
    assert provider.calls == 1

    clock.now += 29.5
    assert await cache.get() is first
    assert provider.calls == 1

    clock.now += 1.0
    second = await cache.get()
    assert provider.calls == 2
    assert second.secret_key == "secret-2"

    # the interval counts from the second fetch now
    clock.now += 29.5
    assert await cache.get() is second
    assert provider.calls == 2


async def test_concurrent_gets_after_the_interval_make_one_call(
    provider: FakeProvider, clock: FakeClock
) -> None:
    cache = CredentialCache(provider, recheck_interval=5.0, clock=clock)
    await cache.get()
    clock.now += 10.0
    gate = provider.hold()
    tasks = [asyncio.create_task(cache.get()) for _ in range(50)]
    await provider.started.wait()
    await settle()
    gate.set()
    results = await asyncio.gather(*tasks)
    assert provider.calls == 2
    assert {result.secret_key for result in results} == {"secret-2"}


async def test_failure_reaches_every_waiter_and_is_not_cached(provider: FakeProvider) -> None:
    gate = provider.hold()
    provider.error = RuntimeError("provider is down")
    cache = CredentialCache(provider)
    tasks = [asyncio.create_task(cache.get()) for _ in range(20)]
    await provider.started.wait()
    await settle()
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert provider.calls == 1
    assert all(isinstance(result, RuntimeError) for result in results)
    assert all(str(result) == "provider is down" for result in results)

    provider.error = None
    frozen = await cache.get()
    assert provider.calls == 2
    assert frozen.secret_key == "secret-2"


async def test_failure_right_after_another_failure_fetches_again(provider: FakeProvider) -> None:
    provider.error = RuntimeError("first")
    cache = CredentialCache(provider)
    with pytest.raises(RuntimeError, match="first"):
        await cache.get()
    provider.error = RuntimeError("second")
    with pytest.raises(RuntimeError, match="second"):
        await cache.get()
    assert provider.calls == 2


async def test_failed_recheck_is_retried_on_the_next_get(
    provider: FakeProvider, clock: FakeClock
) -> None:
    cache = CredentialCache(provider, recheck_interval=1.0, clock=clock)
    await cache.get()
    clock.now += 2.0
    provider.error = RuntimeError("provider is down")
    with pytest.raises(RuntimeError):
        await cache.get()
    provider.error = None
    assert (await cache.get()).secret_key == "secret-3"
    assert provider.calls == 3


async def test_cancelled_waiter_does_not_cancel_the_fetch(provider: FakeProvider) -> None:
    gate = provider.hold()
    cache = CredentialCache(provider)
    tasks = [asyncio.create_task(cache.get()) for _ in range(5)]
    await provider.started.wait()
    await settle()

    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]

    gate.set()
    results = await asyncio.gather(*tasks[1:])
    assert provider.calls == 1
    assert provider.cancelled == 0
    assert all(result is results[0] for result in results)


async def test_fetch_outlives_its_only_waiter(provider: FakeProvider) -> None:
    gate = provider.hold()
    cache = CredentialCache(provider)
    lone = asyncio.create_task(cache.get())
    await provider.started.wait()
    lone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lone

    # a later caller joins the fetch still under way rather than starting another
    later = asyncio.create_task(cache.get())
    await settle()
    gate.set()
    assert (await later).secret_key == "secret-1"
    assert provider.calls == 1
    assert provider.cancelled == 0


async def test_failed_fetch_whose_waiters_all_left_is_not_cached(
    provider: FakeProvider,
) -> None:
    gate = provider.hold()
    provider.error = RuntimeError("provider is down")
    cache = CredentialCache(provider)
    lone = asyncio.create_task(cache.get())
    await provider.started.wait()
    lone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lone
    gate.set()
    await settle()

    provider.error = None
    provider.gate = None
    assert (await cache.get()).secret_key == "secret-2"


async def test_static_credentials_never_fetch(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    calls = 0

    async def counting(self: Credentials) -> Credentials:
        nonlocal calls
        calls += 1
        return self

    monkeypatch.setattr(Credentials, "get_frozen_credentials", counting)
    static = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    cache = CredentialCache(static, recheck_interval=0.0, clock=clock)
    for _ in range(3):
        assert await cache.get() is static
        clock.now += 1e9
    results = await asyncio.gather(*(cache.get() for _ in range(100)))
    assert all(result is static for result in results)
    assert calls == 0


@pytest.mark.parametrize(
    "frozen",
    [
        Frozen("", "secret", None),
        Frozen("AKID", "", None),
        ReadOnlyCredentials(None, None, None, None),
        object(),
        None,
    ],
)
async def test_blank_credentials_from_provider(frozen: Any) -> None:
    class Blank:
        calls = 0

        async def get_frozen_credentials(self) -> Any:
            self.calls += 1
            return frozen

    source = Blank()
    cache = CredentialCache(source)
    with pytest.raises(NoCredentialsError):
        await cache.get()
    with pytest.raises(NoCredentialsError):
        await cache.get()
    assert source.calls == 2


async def test_empty_access_key_from_fake_provider(provider: FakeProvider) -> None:
    provider.access_key = ""
    cache = CredentialCache(provider)
    with pytest.raises(NoCredentialsError):
        await cache.get()


async def test_botocore_read_only_credentials_are_accepted() -> None:
    frozen = ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, None)

    class Source:
        async def get_frozen_credentials(self) -> ReadOnlyCredentials:
            return frozen

    got = await CredentialCache(Source()).get()
    assert (got.access_key, got.secret_key, got.token) == (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    # held in a type whose repr redacts: botocore's shows the secret and the token
    assert SECRET_KEY in repr(frozen) and SESSION_TOKEN in repr(frozen)
    assert isinstance(got, Credentials)
    assert SECRET_KEY not in repr(got) and SESSION_TOKEN not in repr(got)


async def test_synchronous_botocore_credentials_are_accepted() -> None:
    from botocore.credentials import Credentials as BotocoreCredentials

    source = BotocoreCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    frozen = await CredentialCache(source).get()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        ACCESS_KEY,
        SECRET_KEY,
        SESSION_TOKEN,
    )


class NoMethod:
    pass


class NotCallable:
    get_frozen_credentials = "not a method"


@pytest.mark.parametrize(
    "source", [object(), NoMethod(), NotCallable(), "AKID:secret", (ACCESS_KEY, SECRET_KEY)]
)
def test_source_without_get_frozen_credentials(source: Any) -> None:
    with pytest.raises(TypeError, match="get_frozen_credentials"):
        CredentialCache(source)


async def test_close_stops_a_pending_fetch_and_its_waiters_learn_why(
    provider: FakeProvider,
) -> None:
    provider.hold()
    cache = CredentialCache(provider)
    waiters = [asyncio.create_task(cache.get()) for _ in range(3)]
    await provider.started.wait()
    cache.close()
    for waiter in waiters:
        with pytest.raises(aiokms.ClientClosed):
            await waiter
    assert provider.cancelled == 1
    cache.close()  # closing again is harmless


async def test_close_is_final_and_forgets_the_copy(provider: FakeProvider) -> None:
    cache = CredentialCache(provider)
    await cache.get()
    cache.close()
    assert cache.fresh() is None
    with pytest.raises(aiokms.ClientClosed):
        await cache.get()
    cache.close()
    assert provider.calls == 1


async def test_a_fetch_longer_than_the_timeout_fails_every_waiter(
    provider: FakeProvider,
) -> None:
    gate = provider.hold()
    cache = CredentialCache(provider, timeout=0.05)
    waiters = [asyncio.create_task(cache.get()) for _ in range(3)]
    for waiter in waiters:
        with pytest.raises(CredentialRetrievalError, match=r"FakeProvider.*0\.05 s"):
            await asyncio.wait_for(waiter, 10)
    assert (provider.calls, provider.cancelled) == (1, 1)
    gate.set()  # a source that answers again is asked again: the failure was not kept
    assert (await cache.get()).access_key == "AKIDPROVIDER"
    assert provider.calls == 2


def test_repr_hides_secrets() -> None:
    cache = CredentialCache(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))
    assert SECRET_KEY not in repr(cache)
    assert SESSION_TOKEN not in repr(cache)


# --- aiobotocore's default chain and refreshable credentials --------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any connection or name lookup that would leave the loopback interface."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def loopback(address: Any) -> bool:
        if not isinstance(address, tuple):
            return True  # AF_UNIX
        try:
            return ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            return address[0] == "localhost"

    def connect(self: socket.socket, address: Any) -> None:
        if not loopback(address):
            attempts.append(address)
            raise OSError(f"test blocked a connection to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not loopback(address):
            attempts.append(address)
            raise OSError(f"test blocked a connection to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback((host,)):
            attempts.append(host)
            raise OSError(f"test blocked a lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert attempts == [], f"network access attempted: {attempts}"


@pytest.fixture
def aws_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[Any]
) -> dict[str, Path]:
    """Empty shared files, no credential variables, no instance metadata service."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    shared = tmp_path / "credentials"
    boto = tmp_path / "boto"
    for path in (config, shared, boto):
        path.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("BOTO_CONFIG", str(boto))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    return {"config": config, "credentials": shared}


@pytest.mark.usefixtures("aws_home")
async def test_default_chain_reads_environment_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    cache = CredentialCache(None)
    assert "default chain" in repr(cache)
    frozen = await cache.get()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        ACCESS_KEY,
        SECRET_KEY,
        SESSION_TOKEN,
    )


@pytest.mark.usefixtures("aws_home")
@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"AWS_SESSION_TOKEN": "session"}, "session"),
        ({"AWS_SECURITY_TOKEN": "security", "AWS_SESSION_TOKEN": "session"}, "security"),
        ({"AWS_SESSION_TOKEN": ""}, None),
    ],
)
async def test_environment_credentials_are_read_without_aiobotocore_as_botocore_reads_them(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str | None
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    ours = await CredentialCache(None).get()
    theirs = await (await AioSession().get_credentials()).get_frozen_credentials()
    assert (theirs.access_key, theirs.secret_key, theirs.token) == (
        ACCESS_KEY,
        SECRET_KEY,
        expected,
    )
    assert (ours.access_key, ours.secret_key, ours.token) == (ACCESS_KEY, SECRET_KEY, expected)

    def no_session(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the environment's credentials need no aiobotocore session")

    monkeypatch.setattr(AioSession, "__init__", no_session)
    frozen = await CredentialCache(None).get()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        ACCESS_KEY,
        SECRET_KEY,
        expected,
    )


@pytest.mark.parametrize(
    ("variables", "profile"),
    [
        ({"AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z"}, None),  # refreshable: theirs
        ({"AWS_SECRET_ACCESS_KEY": ""}, None),  # partial: botocore's own error
        ({}, "other"),  # a named profile skips the environment
    ],
)
async def test_the_chain_reads_what_is_more_than_static_environment_credentials(
    monkeypatch: pytest.MonkeyPatch,
    aws_home: dict[str, Path],
    variables: dict[str, str],
    profile: str | None,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    aws_home["credentials"].write_text(
        "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other\n"
    )
    sessions = 0
    real_init = AioSession.__init__

    def counting(self: AioSession, *args: Any, **kwargs: Any) -> None:
        nonlocal sessions
        sessions += 1
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(AioSession, "__init__", counting)
    cache = CredentialCache(None, profile_name=profile)
    with contextlib.suppress(Exception):  # botocore's verdict on a partial set, whatever it is
        await cache.get()
    assert sessions == 1


async def test_default_chain_reads_a_named_profile(aws_home: dict[str, Path]) -> None:
    aws_home["credentials"].write_text(
        f"[other]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    frozen = await CredentialCache(None, profile_name="other").get()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (ACCESS_KEY, SECRET_KEY, None)


@pytest.mark.usefixtures("aws_home")
async def test_default_chain_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = CredentialCache(None)
    with pytest.raises(NoCredentialsError):
        await cache.get()

    # not cached: credentials that appear later are found
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    frozen = await cache.get()
    assert (frozen.access_key, frozen.secret_key) == (ACCESS_KEY, SECRET_KEY)


async def test_default_chain_is_resolved_once_for_concurrent_callers(
    monkeypatch: pytest.MonkeyPatch, aws_home: dict[str, Path]
) -> None:
    aws_home["credentials"].write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    resolutions = 0
    real_get_credentials = AioSession.get_credentials

    async def counting(self: AioSession) -> Any:
        nonlocal resolutions
        resolutions += 1
        return await real_get_credentials(self)

    monkeypatch.setattr(AioSession, "get_credentials", counting)
    cache = CredentialCache(None)
    results = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert resolutions == 1
    assert all(result is results[0] for result in results)
    assert results[0].access_key == ACCESS_KEY


def expiring_in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


class Refresher:
    """A refresh coroutine for AioRefreshableCredentials that counts calls."""

    def __init__(self, expires_in: float) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self) -> dict[str, str]:
        self.calls += 1
        self.started.set()
        await self.gate.wait()
        return {
            "access_key": f"AKIDREFRESHED{self.calls}",
            "secret_key": f"refreshed-secret-{self.calls}",
            "token": f"refreshed-token-{self.calls}",
            "expiry_time": expiring_in(self.expires_in),
        }


@pytest.mark.usefixtures("no_network")
async def test_refreshable_credentials_refresh_once_for_concurrent_callers(
    clock: FakeClock,
) -> None:
    # Refreshed credentials expire within aiobotocore's mandatory refresh window (10 min),
    # so every get_frozen_credentials() on the source would refresh them again.
    refresher = Refresher(expires_in=120)
    source = AioRefreshableCredentials.create_from_metadata(
        {
            "access_key": "AKIDORIGINAL",
            "secret_key": "original-secret",
            "token": "original-token",
            "expiry_time": expiring_in(60),
        },
        refresh_using=refresher,
        method="test",
    )
    cache = CredentialCache(source, recheck_interval=5.0, clock=clock)

    async def concurrent_gets() -> list[Any]:
        refresher.started.clear()
        refresher.gate.clear()
        tasks = [asyncio.create_task(cache.get()) for _ in range(100)]
        await refresher.started.wait()
        await settle()
        refresher.gate.set()
        return await asyncio.gather(*tasks)

    results = await concurrent_gets()
    assert refresher.calls == 1
    assert {r.access_key for r in results} == {"AKIDREFRESHED1"}
    assert {r.secret_key for r in results} == {"refreshed-secret-1"}

    # within the recheck interval the cache answers without asking the source
    clock.now += 4.0
    assert (await cache.get()).access_key == "AKIDREFRESHED1"
    assert refresher.calls == 1

    # past it, still near expiry: one more refresh for the whole crowd
    clock.now += 2.0
    results = await concurrent_gets()
    assert refresher.calls == 2
    assert {r.access_key for r in results} == {"AKIDREFRESHED2"}


@pytest.mark.usefixtures("no_network")
async def test_refreshable_credentials_far_from_expiry_are_not_refreshed(
    clock: FakeClock,
) -> None:
    refresher = Refresher(expires_in=3600)
    source = AioRefreshableCredentials.create_from_metadata(
        {
            "access_key": "AKIDORIGINAL",
            "secret_key": "original-secret",
            "token": "original-token",
            "expiry_time": expiring_in(3600),
        },
        refresh_using=refresher,
        method="test",
    )
    cache = CredentialCache(source, recheck_interval=1.0, clock=clock)
    for _ in range(3):
        results = await asyncio.gather(*(cache.get() for _ in range(20)))
        assert {r.access_key for r in results} == {"AKIDORIGINAL"}
        clock.now += 2.0
    assert refresher.calls == 0
