"""DataKeyCache beside the AWS Encryption SDK's caching materials manager, in the same run.

Three figures:

* ``hit``    -- the cost of a hit, in microseconds: ``await cache.generate_data_key(...)`` on a
  warm entry, and ``await cache.decrypt(...)``; beside ESDK's
  ``CachingCryptoMaterialsManager.get_encryption_materials`` and ``decrypt_materials`` on a warm
  ``LocalCryptoMaterialsCache``. Median of ``--rounds`` timed loops of ``--hit-calls`` calls.
  ESDK's request objects are built once, outside the loop (its most favourable case); aiokms
  parses its keyword arguments on every call. Also ``take()`` on an entry handle
  (``cache.generate_entry(...)``, ``cache.decrypt_entry(...)``), the synchronous hit an
  encryptor uses, its arguments given once.
* ``calls``  -- KMS calls per 100,000 messages for a given policy, the messages coming from
  ``--workers`` concurrent workers (asyncio tasks for aiokms, threads for ESDK) against a KMS
  that takes ``--kms-latency`` seconds a call. Also a cold start: ``--workers`` callers asking
  for one entry at once. ``ideal`` is ceil(messages / budget). aiokms's calls are shown in two
  parts: those whose keys served messages (``aiokms``, to compare with the ideal) and those
  fetched ahead that no message used when the workers stopped (``ahead``).
* ``stream`` -- a steady stream of ``--stream-rate`` ``generate_data_key`` calls per second for
  ``--stream-seconds`` (after one second of warm-up, not recorded), every KMS call taking
  ``--kms-latency`` seconds: latency percentiles per call and how many calls waited on KMS
  (took over 1 ms). aiokms with refresh ahead (the default), aiokms without it, and ESDK.

The KMS: aiokms goes through ``aiokms.KMSClient`` over HTTP to an ``aiohttp.web`` KMS on
127.0.0.1 in this process, which sleeps ``--kms-latency`` before answering with random keys.
ESDK's caching manager sits over a raw AES master key (no network), behind a materials manager
that sleeps ``--kms-latency`` per data key, so both pay the same KMS latency; aiokms also pays
its HTTP round trip. The policy is the same for both: ``max_age=300`` and the section's
``max_messages`` / ``max_bytes``; algorithm suite 0x0478 (committing, unsigned) for ESDK.

Run it from the repository root::

    python benchmarks/cache.py
    python benchmarks/cache.py --sections hit --hit-calls 200000
    python benchmarks/cache.py --json > result.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's aiokms

import aiokms

SECTIONS = ("hit", "calls", "stream")
REGION = "us-east-1"
KEY_ID = "alias/bench"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = {"tenant": "a", "purpose": "benchmark"}
MESSAGE_BYTES = 1024
MAX_AGE = 300.0
WAITED_S = 0.001  # a call slower than this waited on KMS (a hit takes microseconds)


@dataclass(frozen=True)
class Budget:
    """One caching policy: uses per key, bytes per key, and the size of each message."""

    name: str
    max_messages: int | None
    max_bytes: int | None
    message_bytes: int

    @property
    def per_key(self) -> int:
        uses = self.max_messages or math.inf
        by_bytes = (self.max_bytes // self.message_bytes) if self.max_bytes else math.inf
        return int(min(uses, by_bytes))


BUDGETS = (
    Budget("max_messages=100", 100, None, MESSAGE_BYTES),
    Budget("max_messages=1000", 1000, None, MESSAGE_BYTES),
    Budget("max_bytes=1MiB, 4KiB msgs", None, 2**20, 4096),
)


# --------------------------------------------------------------------------------------------
# The KMS aiokms talks to: aiohttp.web on 127.0.0.1, a fixed latency, random keys
# --------------------------------------------------------------------------------------------


class LocalKMS:
    """GenerateDataKey and Decrypt over HTTP, answering after ``latency`` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self.keys: dict[str, str] = {}  # base64 ciphertext -> base64 plaintext
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        self.calls += 1
        await asyncio.sleep(self.latency)
        if operation == "GenerateDataKey":
            blob = base64.b64encode(os.urandom(184)).decode()
            plaintext = base64.b64encode(os.urandom(32)).decode()
            self.keys[blob] = plaintext
            reply = {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": KEY_ARN}
        else:
            plaintext = self.keys[body["CiphertextBlob"]]
            reply = {"Plaintext": plaintext, "KeyId": KEY_ARN}
        return web.json_response(reply, content_type="application/x-amz-json-1.1")

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[aiokms.KMSClient]:
        app = web.Application()
        app.router.add_post("/", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiokms.KMSClient(
                region_name=REGION,
                endpoint_url=self.url,
                credentials=aiokms.Credentials("AKIDBENCH", "bench-secret"),
            ) as kms:
                yield kms
        finally:
            await runner.cleanup()


# --------------------------------------------------------------------------------------------
# ESDK: CachingCryptoMaterialsManager + LocalCryptoMaterialsCache over a raw AES master key
# --------------------------------------------------------------------------------------------


def esdk_available() -> bool:
    try:
        import aws_encryption_sdk  # noqa: F401
    except ImportError:
        return False
    return True


class Esdk:
    """ESDK's caching manager over a slowed, counting backing manager with a raw AES key."""

    def __init__(self, budget: Budget, latency: float, capacity: int = 1000) -> None:
        from aws_encryption_sdk import CachingCryptoMaterialsManager, LocalCryptoMaterialsCache
        from aws_encryption_sdk.identifiers import (
            Algorithm,
            CommitmentPolicy,
            EncryptionKeyType,
            WrappingAlgorithm,
        )
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKey
        from aws_encryption_sdk.materials_managers import (
            DecryptionMaterialsRequest,
            EncryptionMaterialsRequest,
        )
        from aws_encryption_sdk.materials_managers.base import CryptoMaterialsManager
        from aws_encryption_sdk.materials_managers.default import DefaultCryptoMaterialsManager

        outer = self
        self.calls = 0
        self.races = 0  # CacheKeyError from concurrent removal of one entry
        self._lock = threading.Lock()

        class SlowManager(CryptoMaterialsManager):  # type: ignore[misc]
            """The backing manager: each data key costs one 'KMS call' of ``latency`` s."""

            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def get_encryption_materials(self, request: Any) -> Any:
                outer._count()
                time.sleep(latency)
                return self.inner.get_encryption_materials(request)

            def decrypt_materials(self, request: Any) -> Any:
                outer._count()
                time.sleep(latency)
                return self.inner.decrypt_materials(request)

        master_key = RawMasterKey(
            provider_id="bench",
            key_id=b"bench-key",
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=os.urandom(32),
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )
        limits: dict[str, Any] = {}
        if budget.max_messages is not None:
            limits["max_messages_encrypted"] = budget.max_messages
        if budget.max_bytes is not None:
            limits["max_bytes_encrypted"] = budget.max_bytes
        self.cmm = CachingCryptoMaterialsManager(
            cache=LocalCryptoMaterialsCache(capacity),
            backing_materials_manager=SlowManager(DefaultCryptoMaterialsManager(master_key)),
            max_age=MAX_AGE,
            **limits,
        )
        self.algorithm = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
        self.policy = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        self.request = EncryptionMaterialsRequest(
            encryption_context=dict(CONTEXT),
            frame_length=4096,
            algorithm=self.algorithm,
            plaintext_length=budget.message_bytes,
            commitment_policy=self.policy,
        )
        self._decryption_request = DecryptionMaterialsRequest
        self.message_bytes = budget.message_bytes

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def encrypt_one(self) -> Any:
        """Materials for one message; retried when ESDK's removal race (its issue 739) hits."""
        from aws_encryption_sdk.exceptions import CacheKeyError

        while True:
            try:
                return self.cmm.get_encryption_materials(self.request)
            except CacheKeyError:
                with self._lock:
                    self.races += 1

    def decryption_request(self) -> Any:
        materials = self.encrypt_one()
        return self._decryption_request(
            algorithm=self.algorithm,
            encrypted_data_keys=set(materials.encrypted_data_keys),
            encryption_context=dict(CONTEXT),
            commitment_policy=self.policy,
        )


# --------------------------------------------------------------------------------------------
# hit: microseconds per cached answer
# --------------------------------------------------------------------------------------------


def median_us(run: Callable[[], float], rounds: int) -> float:
    return statistics.median(run() for _ in range(rounds))


async def aiokms_hits(kms: aiokms.KMSClient, calls: int, rounds: int) -> dict[str, float]:
    async with aiokms.DataKeyCache(max_age=MAX_AGE, max_messages=2**32) as cache:
        generate = cache.generate_data_key
        first = await generate(
            kms,
            KeyId=KEY_ID,
            KeySpec="AES_256",
            EncryptionContext=CONTEXT,
            plaintext_length=MESSAGE_BYTES,
        )
        blob = first["CiphertextBlob"]
        await cache.decrypt(kms, CiphertextBlob=blob, EncryptionContext=CONTEXT)
        generating = cache.generate_entry(
            kms, KeyId=KEY_ID, KeySpec="AES_256", EncryptionContext=CONTEXT
        )
        decrypting = cache.decrypt_entry(kms, CiphertextBlob=blob, EncryptionContext=CONTEXT)
        results: dict[str, list[float]] = {
            "generate_data_key": [],
            "decrypt": [],
            "generate entry take": [],
            "decrypt entry take": [],
        }
        for _ in range(rounds):
            gc.collect()
            start = time.perf_counter()
            for _ in range(calls):
                await generate(
                    kms,
                    KeyId=KEY_ID,
                    KeySpec="AES_256",
                    EncryptionContext=CONTEXT,
                    plaintext_length=MESSAGE_BYTES,
                )
            results["generate_data_key"].append((time.perf_counter() - start) / calls * 1e6)
            start = time.perf_counter()
            for _ in range(calls):
                await cache.decrypt(kms, CiphertextBlob=blob, EncryptionContext=CONTEXT)
            results["decrypt"].append((time.perf_counter() - start) / calls * 1e6)
            take = generating.take
            start = time.perf_counter()
            for _ in range(calls):
                take(MESSAGE_BYTES)
            results["generate entry take"].append((time.perf_counter() - start) / calls * 1e6)
            take = decrypting.take
            start = time.perf_counter()
            for _ in range(calls):
                take()
            results["decrypt entry take"].append((time.perf_counter() - start) / calls * 1e6)
        assert cache.stats().kms_calls == 2, cache.stats()
    return {name: statistics.median(values) for name, values in results.items()}


def esdk_hits(calls: int, rounds: int) -> dict[str, float]:
    esdk = Esdk(Budget("hit", 2**32, None, MESSAGE_BYTES), latency=0.0)
    decryption = esdk.decryption_request()
    esdk.cmm.decrypt_materials(decryption)
    get, decrypt, request = (
        esdk.cmm.get_encryption_materials,
        esdk.cmm.decrypt_materials,
        esdk.request,
    )

    def encrypt_loop() -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            get(request)
        return (time.perf_counter() - start) / calls * 1e6

    def decrypt_loop() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            decrypt(decryption)
        return (time.perf_counter() - start) / calls * 1e6

    result = {
        "generate_data_key": median_us(encrypt_loop, rounds),
        "decrypt": median_us(decrypt_loop, rounds),
    }
    assert esdk.calls == 2, esdk.calls
    return result


# --------------------------------------------------------------------------------------------
# calls: KMS calls per 100,000 messages from concurrent workers
# --------------------------------------------------------------------------------------------


@dataclass
class CallsResult:
    budget: str
    client: str
    messages: int
    workers: int
    kms_calls: int
    ideal: int
    wall_s: float
    errors: int = 0
    served: int = 0  # aiokms: calls whose keys served messages (the rest were fetched ahead)

    @property
    def per_100k(self) -> float:
        return self.kms_calls * 100_000 / self.messages

    @property
    def served_per_100k(self) -> float:
        return self.served * 100_000 / self.messages


async def aiokms_calls(
    kms: aiokms.KMSClient, budget: Budget, messages: int, workers: int, max_ahead: int
) -> CallsResult:
    cache = aiokms.DataKeyCache(
        max_age=MAX_AGE,
        max_messages=budget.max_messages,
        max_bytes=budget.max_bytes,
        max_ahead=max_ahead,
    )
    todo = iter(range(messages))
    served: set[bytes] = set()  # the data keys messages were encrypted under

    async def worker() -> None:
        for _ in todo:
            key = await cache.generate_data_key(
                kms,
                KeyId=KEY_ID,
                KeySpec="AES_256",
                EncryptionContext=CONTEXT,
                plaintext_length=budget.message_bytes,
            )
            served.add(key["CiphertextBlob"])

    start = time.perf_counter()
    async with cache:
        await asyncio.gather(*(worker() for _ in range(workers)))
        wall = time.perf_counter() - start
        calls = cache.stats().kms_calls  # started by now, refreshes included
    ideal = math.ceil(messages / budget.per_key)
    return CallsResult(
        budget.name, "aiokms", messages, workers, calls, ideal, wall, served=len(served)
    )


def esdk_calls(budget: Budget, messages: int, workers: int, latency: float) -> CallsResult:
    esdk = Esdk(budget, latency)
    todo = iter(range(messages))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            esdk.encrypt_one()

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    wall = time.perf_counter() - start
    ideal = math.ceil(messages / budget.per_key)
    return CallsResult(
        budget.name, "esdk", messages, workers, esdk.calls, ideal, wall, errors=esdk.races
    )


async def aiokms_cold(kms: aiokms.KMSClient, workers: int) -> int:
    async with aiokms.DataKeyCache(max_age=MAX_AGE) as cache:
        await asyncio.gather(
            *(
                cache.generate_data_key(
                    kms, KeyId=KEY_ID, KeySpec="AES_256", EncryptionContext=CONTEXT
                )
                for _ in range(workers)
            )
        )
        return cache.stats().kms_calls


def esdk_cold(workers: int, latency: float) -> int:
    esdk = Esdk(Budget("cold", 10_000, None, MESSAGE_BYTES), latency)
    barrier = threading.Barrier(workers)

    def worker() -> None:
        barrier.wait()
        esdk.encrypt_one()

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    return esdk.calls


# --------------------------------------------------------------------------------------------
# stream: latency of a steady stream while keys roll over
# --------------------------------------------------------------------------------------------


@dataclass
class StreamResult:
    client: str
    calls: int
    kms_calls: int
    waited: int
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float


def summarize_stream(client: str, latencies: list[float], kms_calls: int) -> StreamResult:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)] * 1e6

    return StreamResult(
        client=client,
        calls=len(ordered),
        kms_calls=kms_calls,
        waited=sum(1 for x in ordered if x > WAITED_S),
        p50_us=pct(0.50),
        p99_us=pct(0.99),
        p999_us=pct(0.999),
        max_us=ordered[-1] * 1e6,
    )


TICK_S = 0.001  # calls are issued in 1 ms ticks: sub-millisecond sleeps are not reliable


async def aiokms_stream(
    kms: aiokms.KMSClient, max_messages: int, rate: int, seconds: float, refresh: bool
) -> StreamResult:
    cache = aiokms.DataKeyCache(
        max_age=MAX_AGE, max_messages=max_messages, refresh_ahead=0.8 if refresh else None
    )
    per_tick = max(1, round(rate * TICK_S))
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    async with cache:
        warm_ticks = round(1.0 / TICK_S)
        ticks = warm_ticks + round(seconds / TICK_S)
        start = loop.time()
        kms_calls_at_warm = 0
        for tick in range(ticks):
            delay = start + tick * TICK_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if tick == warm_ticks:
                kms_calls_at_warm = cache.stats().kms_calls
            for _ in range(per_tick):
                begin = time.perf_counter()
                await cache.generate_data_key(
                    kms,
                    KeyId=KEY_ID,
                    KeySpec="AES_256",
                    EncryptionContext=CONTEXT,
                    plaintext_length=MESSAGE_BYTES,
                )
                if tick >= warm_ticks:
                    latencies.append(time.perf_counter() - begin)
        kms_calls = cache.stats().kms_calls - kms_calls_at_warm
    name = "aiokms refresh_ahead=0.8" if refresh else "aiokms refresh_ahead=None"
    return summarize_stream(name, latencies, kms_calls)


def esdk_stream(max_messages: int, rate: int, seconds: float, latency: float) -> StreamResult:
    esdk = Esdk(Budget("stream", max_messages, None, MESSAGE_BYTES), latency)
    per_tick = max(1, round(rate * TICK_S))
    warm_ticks = round(1.0 / TICK_S)
    ticks = warm_ticks + round(seconds / TICK_S)
    latencies: list[float] = []
    calls_at_warm = 0
    start = time.perf_counter()
    for tick in range(ticks):
        delay = start + tick * TICK_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if tick == warm_ticks:
            calls_at_warm = esdk.calls
        for _ in range(per_tick):
            begin = time.perf_counter()
            esdk.encrypt_one()
            if tick >= warm_ticks:
                latencies.append(time.perf_counter() - begin)
    return summarize_stream("esdk", latencies, esdk.calls - calls_at_warm)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


async def run_aiokms(args: argparse.Namespace, local: LocalKMS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with local.serving() as kms:
        if "hit" in args.sections:
            out["hit"] = await aiokms_hits(kms, args.hit_calls, args.rounds)
        if "calls" in args.sections:
            out["cold"] = await aiokms_cold(kms, args.workers)
            out["calls"] = [
                await aiokms_calls(kms, budget, args.messages, args.workers, args.max_ahead)
                for budget in BUDGETS
            ]
        if "stream" in args.sections:
            out["stream"] = [
                await aiokms_stream(
                    kms, args.stream_max_messages, args.stream_rate, args.stream_seconds, refresh
                )
                for refresh in (True, False)
            ]
    return out


def run_esdk(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "hit" in args.sections:
        out["hit"] = esdk_hits(args.hit_calls, args.rounds)
    if "calls" in args.sections:
        out["cold"] = esdk_cold(args.workers, args.kms_latency)
        out["calls"] = [
            esdk_calls(budget, args.messages, args.workers, args.kms_latency) for budget in BUDGETS
        ]
    if "stream" in args.sections:
        out["stream"] = [
            esdk_stream(
                args.stream_max_messages, args.stream_rate, args.stream_seconds, args.kms_latency
            )
        ]
    return out


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("aiohttp", "cachetools", "aws-encryption-sdk"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "-"
    return found


def report(
    args: argparse.Namespace, mine: dict[str, Any], esdk: dict[str, Any], out: TextIO
) -> None:
    if "hit" in mine:
        print("\nHit cost (us per call, median of rounds)", file=out)
        print(f"{'operation':<20} {'aiokms':>8} {'esdk':>8} {'esdk/aiokms':>12}", file=out)
        for name, ours in mine["hit"].items():
            theirs = esdk.get("hit", {}).get(name)
            ratio = f"{theirs / ours:.1f}x" if theirs else "-"
            shown = f"{theirs:.2f}" if theirs else "-"
            print(f"{name:<20} {ours:>8.2f} {shown:>8} {ratio:>12}", file=out)
    if "calls" in mine:
        print(
            f"\nKMS calls per 100,000 messages ({args.messages:,} messages from {args.workers} "
            f"concurrent workers, KMS {args.kms_latency * 1e3:g} ms per call, aiokms "
            f"max_ahead={args.max_ahead})",
            file=out,
        )
        print(
            f"{'policy':<28} {'ideal':>7} {'aiokms':>8} {'ahead':>6} {'esdk':>8} "
            f"{'esdk races':>11} {'aiokms s':>9} {'esdk s':>7}",
            file=out,
        )
        theirs_by_budget = {r.budget: r for r in esdk.get("calls", [])}
        for ours in mine["calls"]:
            ideal = ours.ideal * 100_000 / ours.messages
            ahead = (ours.kms_calls - ours.served) * 100_000 / ours.messages
            theirs = theirs_by_budget.get(ours.budget)
            calls = f"{theirs.per_100k:,.0f}" if theirs else "-"
            races = f"{theirs.errors:,}" if theirs else "-"
            wall = f"{theirs.wall_s:.1f}" if theirs else "-"
            print(
                f"{ours.budget:<28} {ideal:>7,.0f} {ours.served_per_100k:>8,.0f} {ahead:>6,.0f} "
                f"{calls:>8} {races:>11} {ours.wall_s:>9.1f} {wall:>7}",
                file=out,
            )
        print(
            f"{'cold start, ' + str(args.workers) + ' callers':<28} {1:>7} {mine['cold']:>8} "
            f"{'':>6} {esdk.get('cold', '-'):>8}",
            file=out,
        )
        print(
            "(aiokms: calls whose keys served messages; ahead: keys fetched ahead that no message"
            " used when the workers stopped.\n esdk races: CacheKeyError from its concurrent"
            " removal of one entry, issue 739; each was retried)",
            file=out,
        )
    if "stream" in mine:
        print(
            f"\nSteady stream: {args.stream_rate:,} generate_data_key/s for "
            f"{args.stream_seconds:g} s after 1 s warm-up, max_messages="
            f"{args.stream_max_messages}, KMS {args.kms_latency * 1e3:g} ms per call",
            file=out,
        )
        print(
            f"{'client':<26} {'calls':>7} {'KMS':>5} {'waited':>7} {'p50 us':>8} {'p99 us':>8} "
            f"{'p99.9 us':>9} {'max us':>8}",
            file=out,
        )
        for r in [*mine["stream"], *esdk.get("stream", [])]:
            print(
                f"{r.client:<26} {r.calls:>7,} {r.kms_calls:>5} {r.waited:>7} {r.p50_us:>8.1f} "
                f"{r.p99_us:>8.1f} {r.p999_us:>9.1f} {r.max_us:>8.0f}",
                file=out,
            )
    print("\n" + ", ".join(f"{k} {v}" for k, v in versions().items()), file=out)


def as_json(value: Any) -> Any:
    if isinstance(value, (CallsResult, StreamResult)):
        extra = (
            {"per_100k": value.per_100k, "served_per_100k": value.served_per_100k}
            if isinstance(value, CallsResult)
            else {}
        )
        return {**asdict(value), **extra}
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma list: hit,calls,stream")
    p.add_argument("--kms-latency", type=float, default=0.005, help="seconds per KMS call")
    p.add_argument("--hit-calls", type=int, default=100_000, help="calls per timed hit loop")
    p.add_argument("--rounds", type=int, default=5, help="timed hit loops (median reported)")
    p.add_argument("--messages", type=int, default=100_000, help="messages per calls scenario")
    p.add_argument("--workers", type=int, default=8, help="concurrent workers (calls section)")
    p.add_argument("--stream-rate", type=int, default=2000, help="stream calls per second")
    p.add_argument("--stream-seconds", type=float, default=5.0, help="stream length, measured")
    p.add_argument("--stream-max-messages", type=int, default=100, help="stream policy")
    p.add_argument("--max-ahead", type=int, default=8, help="aiokms max_ahead (calls section)")
    p.add_argument("--no-esdk", action="store_true", help="skip the AWS Encryption SDK")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = p.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown or not args.sections:
        p.error(f"--sections: unknown {unknown}; choose from {','.join(SECTIONS)}")
    for name in ("hit_calls", "rounds", "messages", "workers", "stream_rate", "max_ahead"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.kms_latency < 0 or args.stream_seconds <= 0:
        p.error("--kms-latency must be >= 0 and --stream-seconds > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log = sys.stderr if args.json else sys.stdout
    use_esdk = not args.no_esdk and esdk_available()
    if not args.no_esdk and not use_esdk:
        print("aws-encryption-sdk is not installed: aiokms only", file=log)
    print(f"sections: {', '.join(args.sections)}; measuring aiokms ...", file=log, flush=True)
    mine = asyncio.run(run_aiokms(args, LocalKMS(args.kms_latency)))
    esdk: dict[str, Any] = {}
    if use_esdk:
        print("measuring the AWS Encryption SDK ...", file=log, flush=True)
        esdk = run_esdk(args)
    if args.json:
        config = {
            k: getattr(args, k)
            for k in (
                "kms_latency",
                "hit_calls",
                "rounds",
                "messages",
                "workers",
                "stream_rate",
                "stream_seconds",
                "stream_max_messages",
                "max_ahead",
            )
        }
        doc = {"config": config, "versions": versions(), "aiokms": mine, "esdk": esdk}
        print(json.dumps(as_json(doc), indent=2))
    else:
        report(args, mine, esdk, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
