"""LocalKMS's request quotas (``quotas=``), over real HTTP on 127.0.0.1, and their meter.

Every request counts against the quota KMS meters it against (``aiokms._quotas``): each
control-plane operation its own, the cryptographic ones by the type of key their algorithm
names, data key pairs by spec. A monotonic clock that only moves when told keeps the token
buckets exact. Each client makes one attempt per call, so every throttle is seen. And the
single quota of the cryptographic operations that ``rate_limit`` and ``burst`` set.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import botocore.exceptions
import botocore.session
import pytest

import aiokms
from aiokms._quotas import ECC, RSA, SYMMETRIC, default_rates
from aiokms.emulator import QUOTA_OPERATIONS, QUOTAS, LocalKMS
from aiokms.emulator._errors import THROTTLED_MESSAGE
from aiokms.emulator._quota import QuotaMeter, TokenBucket, quota_rates
from tests.emulator.helpers import (
    FakeClock,
    aiokms_client,
    client_of,
    error_of,
)

THROTTLED = "ThrottlingException 400"


@asynccontextmanager
async def serving(**kwargs: Any) -> AsyncIterator[tuple[LocalKMS, aiokms.KMSClient]]:
    async with (
        LocalKMS(**kwargs) as local,
        aiokms.KMSClient(
            region_name=local.region,
            endpoint_url=local.endpoint_url,
            credentials=local.credentials,
            retry_mode="standard",
            max_attempts=1,
        ) as kms,
    ):
        yield local, kms


async def outcome(call: Awaitable[Any]) -> str:
    """``"ok"``, or the error's code and HTTP status (and a throttle's message checked)."""
    try:
        await call
    except botocore.exceptions.ClientError as exc:
        error, meta = exc.response["Error"], exc.response["ResponseMetadata"]
        if error["Code"] == "ThrottlingException":
            assert error["Message"] == THROTTLED_MESSAGE
        return f"{error['Code']} {meta['HTTPStatusCode']}"
    return "ok"


async def outcomes(call: Callable[[], Awaitable[Any]], times: int) -> list[str]:
    return [await outcome(call()) for _ in range(times)]


async def test_each_operation_counts_against_its_own_quota() -> None:
    clock = FakeClock()
    quotas = {"DescribeKey": 2.0, SYMMETRIC: 3.0}
    async with serving(quotas=quotas, monotonic=clock) as (local, kms):
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]  # CreateKey: not metered
        for _ in range(5):
            await kms.create_key()

        def describe() -> Awaitable[Any]:
            return kms.describe_key(KeyId=key_id)

        def generate() -> Awaitable[Any]:
            return kms.generate_data_key(KeyId=key_id, NumberOfBytes=32)

        assert await outcomes(describe, 3) == ["ok", "ok", THROTTLED]
        # DescribeKey's quota is spent; the symmetric quota is whole
        assert await outcomes(generate, 4) == ["ok"] * 3 + [THROTTLED]
        assert await outcome(kms.encrypt(KeyId=key_id, Plaintext=b"x")) == THROTTLED  # shared
        clock.now += 0.5  # one DescribeKey token, one and a half symmetric ones
        assert await outcomes(describe, 2) == ["ok", THROTTLED]
        assert await outcomes(generate, 2) == ["ok", THROTTLED]
        stats = local.stats()
        assert stats.throttled == 5
        assert dict(stats.quota_throttles) == {"DescribeKey": 2, SYMMETRIC: 3}
        assert stats.errors["ThrottlingException"] == 5


async def test_a_throttle_is_kmss_throttling_error() -> None:
    # KMS Developer Guide, "Throttling AWS KMS requests": HTTP 400, ThrottlingException,
    # "You have exceeded the rate at which you may call KMS. Reduce the frequency ..."
    async with serving(quotas={"ListKeys": 1.0}, monotonic=FakeClock()) as (_, kms):
        await kms.list_keys()
        with pytest.raises(kms.exceptions.ThrottlingException) as caught:
            await kms.list_keys()
    error = caught.value.response["Error"]
    assert error["Message"] == THROTTLED_MESSAGE
    assert THROTTLED_MESSAGE.startswith("You have exceeded the rate at which you may call KMS.")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_rate_limit_throttles_carry_the_same_message() -> None:
    async with serving(rate_limit=1.0, burst=1.0, monotonic=FakeClock()) as (_, kms):
        assert await outcomes(lambda: kms.generate_random(NumberOfBytes=8), 2) == [
            "ok",
            THROTTLED,
        ]


async def test_asymmetric_keys_count_against_their_own_quotas() -> None:
    clock = FakeClock()
    quotas = {SYMMETRIC: 1.0, RSA: 2.0, ECC: 1.0}
    async with serving(quotas=quotas, monotonic=clock) as (_, kms):
        rsa = (await kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"))["KeyMetadata"]
        ecc = (await kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"))["KeyMetadata"]

        def sign(key: dict[str, Any], algorithm: str) -> Awaitable[Any]:
            return kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm=algorithm)

        assert await outcomes(lambda: sign(rsa, "RSASSA_PSS_SHA_256"), 3) == [
            "ok",
            "ok",
            THROTTLED,
        ]
        assert await outcomes(lambda: sign(ecc, "ECDSA_SHA_256"), 2) == ["ok", THROTTLED]
        assert await outcome(kms.generate_random(NumberOfBytes=8)) == "ok"  # symmetric


async def test_data_key_pairs_count_against_their_specs_quota() -> None:
    clock = FakeClock()
    quotas = {"GenerateDataKeyPair (ECC_NIST_P256)": 1.0, "GenerateDataKeyPair (RSA_2048)": 1.0}
    async with serving(quotas=quotas, monotonic=clock) as (_, kms):
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]

        def pair(spec: str) -> Awaitable[Any]:
            return kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=spec)

        assert await outcomes(lambda: pair("ECC_NIST_P256"), 2) == ["ok", THROTTLED]
        assert await outcome(pair("RSA_2048")) == "ok"
        assert await outcome(kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="RSA_2048")) == (
            THROTTLED  # the same quota, with or without the plaintext
        )
        assert await outcome(pair("ECC_NIST_P384")) == "ok"  # not metered here


async def test_a_factor_scales_kmss_default_quotas_for_the_region() -> None:
    clock = FakeClock()
    async with serving(quotas=0.001, region="eu-west-2", monotonic=clock) as (local, kms):
        rates = local.quota_rates
        assert set(rates) == QUOTAS
        assert rates[SYMMETRIC] == pytest.approx(20.0)  # 20,000/s in London
        assert rates["DescribeKey"] == pytest.approx(2.0)
        assert rates["CreateKey"] == pytest.approx(0.005)
        assert await outcomes(kms.create_key, 2) == ["ok", THROTTLED]  # a burst of one
        key_id = (await kms.list_keys())["Keys"][0]["KeyId"]
        calls = await outcomes(lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"), 21)
        assert calls == ["ok"] * 20 + [THROTTLED]  # a second's worth at once
        clock.now += 200  # CreateKey refills at one per 200 s
        assert await outcome(kms.create_key()) == "ok"


async def test_without_quotas_nothing_is_metered() -> None:
    async with serving(monotonic=FakeClock()) as (local, kms):
        assert dict(local.quota_rates) == {}
        assert await outcomes(lambda: kms.generate_random(NumberOfBytes=4), 50) == ["ok"] * 50
        assert dict(local.stats().quota_throttles) == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quotas": 0}, "quotas: 0 is neither"),
        ({"quotas": -1.5}, "quotas: -1.5"),
        ({"quotas": math.inf}, "quotas: inf"),
        ({"quotas": True}, "quotas: True"),
        ({"quotas": {"Describe Key": 5}}, "quotas: 'Describe Key' is not a KMS quota name"),
        ({"quotas": {"DescribeKey": 0}}, "quotas: 'DescribeKey': 0 is not a positive rate"),
        ({"quotas": {"DescribeKey": "5"}}, "quotas: 'DescribeKey': '5'"),
        ({"quotas": 1.0, "rate_limit": 10.0}, "quotas: give quotas, or rate_limit"),
        ({"quotas": 1.0, "burst": 10.0}, "quotas: give quotas, or rate_limit"),
    ],
)
def test_bad_quotas_are_refused_naming_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        LocalKMS(**kwargs)


# --- the meter alone ---------------------------------------------------------------------------


def test_the_meter_reads_only_what_names_the_quota() -> None:
    clock = FakeClock()
    meter = QuotaMeter({RSA: 1.0, SYMMETRIC: 1.0}, clock=clock)
    assert (
        meter.admit("Encrypt", b'{"KeyId": "k", "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}')
        is None
    )
    assert meter.admit("Decrypt", b'{"EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}') == RSA
    assert meter.admit("Decrypt", b"{}") is None  # SYMMETRIC_DEFAULT: the symmetric quota
    assert meter.admit("Decrypt", b"not json") == SYMMETRIC  # the default quota, spent
    assert meter.admit("Decrypt", b"[1, 2]") == SYMMETRIC
    assert meter.admit("ListKeys", b"") is None  # not metered
    assert repr(meter) == "<QuotaMeter 2 quotas>"
    assert dict(meter.rates) == {RSA: 1.0, SYMMETRIC: 1.0}


def test_quota_rates_from_a_factor_or_a_mapping() -> None:
    defaults = default_rates("us-east-1")
    assert quota_rates(1, "us-east-1") == defaults
    assert quota_rates(0.5, "us-east-1")["DescribeKey"] == defaults["DescribeKey"] / 2
    assert quota_rates({"DescribeKey": 7}, "us-east-1") == {"DescribeKey": 7.0}


# --- the quota of the cryptographic operations (rate_limit, burst) ---------------------------


def test_token_bucket() -> None:
    clock = FakeClock(100.0)
    bucket = TokenBucket(10, 5, clock=clock)
    assert [bucket.acquire() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.wait_time() == pytest.approx(0.1)
    clock.now += 0.25  # 2.5 tokens
    assert [bucket.acquire() for _ in range(3)] == [True, True, False]
    clock.now += 3600
    assert bucket.tokens == 5  # never more than the burst
    assert TokenBucket(2.5, clock=clock).burst == 3  # default: one second's worth
    for rate, burst in [(0, None), (-1, None), (float("inf"), None), (1, 0.5)]:
        with pytest.raises(ValueError):
            TokenBucket(rate, burst)


def test_quota_operations_are_the_cryptographic_ones() -> None:
    assert {
        "Decrypt",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
    } == QUOTA_OPERATIONS


async def test_throttling_at_the_set_rate() -> None:
    clock = FakeClock(0.0)
    async with LocalKMS(rate_limit=10, burst=3, monotonic=clock) as local, client_of(local) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]

        async def attempt() -> str:
            try:
                await kms.generate_data_key(KeyId=key_id, NumberOfBytes=16)
            except botocore.exceptions.ClientError as exc:
                assert exc.response["Error"]["Message"] == THROTTLED_MESSAGE
                code, status = error_of(exc)
                return f"{code} {status}"
            return "ok"

        assert [await attempt() for _ in range(4)] == ["ok"] * 3 + ["ThrottlingException 400"]
        await kms.describe_key(KeyId=key_id)  # management operations are not metered
        clock.now += 0.2  # two tokens at 10/s
        assert [await attempt() for _ in range(3)] == ["ok", "ok", "ThrottlingException 400"]
        clock.now += 10  # refilled to the burst, no more
        assert [await attempt() for _ in range(4)] == ["ok"] * 3 + ["ThrottlingException 400"]
        stats = local.stats()
        assert stats.throttled == 3 and stats.errors["ThrottlingException"] == 3
        assert stats.operations["GenerateDataKey"] == 8


async def test_aiokms_sees_throttling_as_its_class() -> None:
    clock = FakeClock(0.0)
    async with (
        LocalKMS(rate_limit=1, burst=1, monotonic=clock) as local,
        aiokms_client(local) as kms,
    ):
        await kms.generate_random(NumberOfBytes=8)
        with pytest.raises(kms.exceptions.ThrottlingException):
            await kms.generate_random(NumberOfBytes=8)
