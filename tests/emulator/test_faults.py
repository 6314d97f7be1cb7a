"""Fault injection (``aiokms.emulator._faults``): every knob (latency and jitter,
``KMSInternalException`` 500s, dropped connections, slow bodies) and seeded reproducibility."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import botocore.exceptions
import botocore.session
import pytest

import aiokms
from aiokms.emulator import LocalKMS
from aiokms.emulator._faults import NO_FAULT, FaultInjector
from tests.emulator.helpers import (
    AMZ_JSON,
    aiokms_client,
    botocore_headers,
    client_of,
    error_of,
    send,
    signed_call,
)


def test_fault_draws() -> None:
    knobs: dict[str, Any] = {
        "latency": 0.1,
        "jitter": 0.5,
        "error_rate": 0.3,
        "drop_rate": 0.2,
        "slow_body": 0.2,
        "slow_body_rate": 0.5,
    }
    first = [FaultInjector(seed=7, **knobs).draw() for _ in range(1)]
    one, two = FaultInjector(seed=7, **knobs), FaultInjector(seed=7, **knobs)
    draws = [one.draw() for _ in range(400)]
    assert draws == [two.draw() for _ in range(400)]
    assert draws[:1] == first
    assert all(0.1 <= d.delay <= 0.6 for d in draws)
    assert all(d.slow_body in (0.0, 0.2) for d in draws)
    for name, share in [("drop", 0.2), ("error", 0.3)]:
        assert abs(sum(getattr(d, name) for d in draws) / 400 - share) < 0.1
    assert abs(sum(d.slow_body > 0 for d in draws) / 400 - 0.5) < 0.1
    assert FaultInjector().draw() is NO_FAULT
    assert not FaultInjector(slow_body=1.0, slow_body_rate=0.0).active
    for bad in (
        {"error_rate": 1.5},
        {"drop_rate": -0.1},
        {"latency": -1},
        {"jitter": float("inf")},
    ):
        with pytest.raises(ValueError):
            FaultInjector(**bad)


async def test_error_rate_injects_internal_errors() -> None:
    async with LocalKMS(error_rate=1.0) as local:
        async with client_of(local) as kms:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await kms.list_keys()
        assert error_of(caught.value) == ("KMSInternalException", 500)
        # authentication comes first: a bad signature is still reported as such
        status, body = await signed_call(local, "ListKeys", {}, secret_key="wrong")
        assert (status, body["__type"]) == (400, "InvalidSignatureException")
        assert local.stats().injected_errors == 1


async def test_seeded_faults_are_reproducible() -> None:
    async def outcomes() -> list[str]:
        async with LocalKMS(error_rate=0.5, seed=11) as local, client_of(local) as kms:
            results = []
            for _ in range(24):
                try:
                    await kms.generate_random(NumberOfBytes=4)
                    results.append("ok")
                except botocore.exceptions.ClientError as exc:
                    results.append(error_of(exc)[0])
            return results

    first = await outcomes()
    assert first == await outcomes()
    expected = [
        "KMSInternalException" if d.error else "ok" for d in _draws(error_rate=0.5, seed=11)
    ]
    assert first == expected
    assert 0 < first.count("ok") < 24


def _draws(**knobs: Any) -> list[Any]:
    injector = FaultInjector(**knobs)
    return [injector.draw() for _ in range(24)]


async def test_drop_rate_closes_connections() -> None:
    async with LocalKMS(drop_rate=1.0) as local:
        creds = local.credentials
        body = b'{"NumberOfBytes": 8}'
        headers = botocore_headers(
            local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
        )
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await send(local.endpoint_url, body, headers)
        async with aiokms_client(local) as kms:
            with pytest.raises(aiokms.ConnectionClosed):
                await kms.generate_random(NumberOfBytes=8)
        assert local.stats().dropped == 2


async def test_latency_delays_replies() -> None:
    async with LocalKMS(latency=0.5) as local:
        async with aiokms_client(local, read_timeout=0.05) as kms:
            with pytest.raises(aiokms.ReadTimeout):
                await kms.generate_random(NumberOfBytes=8)
        async with aiokms_client(local) as kms:
            assert len((await kms.generate_random(NumberOfBytes=8))["Plaintext"]) == 8


async def test_jitter_delays_replies_by_the_seeded_draws() -> None:
    seed = next(
        s for s in range(1000) if FaultInjector(jitter=1.0, seed=s).draw().delay > 0.5
    )  # a seed whose first reply waits at least half a second
    async with (
        LocalKMS(jitter=1.0, seed=seed) as local,
        aiokms_client(local, read_timeout=0.05) as kms,
    ):
        with pytest.raises(aiokms.ReadTimeout):
            await kms.generate_random(NumberOfBytes=8)


async def test_slow_body_sends_headers_then_trickles() -> None:
    async with LocalKMS(slow_body=0.8) as local:
        creds = local.credentials
        body = b'{"NumberOfBytes": 64}'
        headers = botocore_headers(
            local.endpoint_url, "GenerateRandom", body, creds.access_key, creds.secret_key
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(local.endpoint_url + "/", data=body, headers=headers) as response,
        ):
            assert response.status == 200  # the headers are here at once
            assert response.headers["Content-Type"] == AMZ_JSON
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(response.read(), 0.05)  # the body is not
        async with client_of(local) as kms:
            assert len((await kms.generate_random(NumberOfBytes=64))["Plaintext"]) == 64
        assert local.stats().slow_replies == 2
    async with LocalKMS(slow_body=5.0, slow_body_rate=0.0) as local, client_of(local) as kms:
        await kms.generate_random(NumberOfBytes=8)
        assert local.stats().slow_replies == 0
