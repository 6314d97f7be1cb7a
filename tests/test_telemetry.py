"""OpenTelemetry spans of the client's calls and the cache's answers, exported by the SDK's
in-memory exporter, against servers on 127.0.0.1; the global provider and a Python without
OpenTelemetry in subprocesses (a process sets its global provider once)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from botocore.exceptions import ClientError
from opentelemetry import metrics
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode

import aiokms
from aiokms._telemetry import error_code
from tests.fake_kms import FakeKMS, Recorded, client_of, failing_twice
from tests.fault_server import THROTTLE_BODY, FaultServer, fault_client
from tests.helpers import FrozenClock

ROOT = Path(__file__).resolve().parent.parent
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENCRYPTED = {
    "KeyId": KEY_ARN,
    "CiphertextBlob": "YmxvYg==",
    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
}
GENERATED = {"KeyId": KEY_ARN, "CiphertextBlob": "YmxvYg==", "Plaintext": "A" * 43 + "="}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


# --- one span per call ---------------------------------------------------------------------


async def test_a_call_is_one_client_span_with_the_aws_sdk_attributes(
    fake: FakeKMS, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    fake.reply("Encrypt", ENCRYPTED, headers={"x-amzn-RequestId": "req-1"})
    async with client_of(fake, tracer_provider=provider) as kms:
        await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"secret-plaintext")
    (span,) = spans(exporter)
    assert (span.name, span.kind, span.status.status_code) == (
        "KMS.Encrypt",
        SpanKind.CLIENT,
        StatusCode.UNSET,
    )
    port = int(fake.url.rsplit(":", 1)[1])
    assert dict(span.attributes or {}) == {
        "rpc.system": "aws-api",
        "rpc.service": "KMS",
        "rpc.method": "Encrypt",
        "cloud.region": "us-east-1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "aws.request_id": "req-1",
        "retry_attempts": 0,
        "http.response.status_code": 200,
    }
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "aiokms"


async def test_a_failed_call_has_an_error_status_naming_its_code_only(
    faults: FaultServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    faults.script.extend(["throttle", "throttle"])
    async with fault_client(faults.url, max_attempts=2, tracer_provider=provider) as kms:
        with pytest.raises(ClientError):
            await kms.list_keys()
    (span,) = spans(exporter)
    assert (span.status.status_code, span.status.description) == (
        StatusCode.ERROR,
        "ThrottlingException",
    )
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "ThrottlingException"
    assert attributes["retry_attempts"] == 1  # two attempts
    assert attributes["http.response.status_code"] == 400
    assert "Rate exceeded" not in repr(span.to_json())  # the error's message is not recorded


async def test_a_call_without_a_reply_counts_its_attempts_and_names_the_error(
    faults: FaultServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    faults.script.extend(["reset", "reset", "reset"])
    async with fault_client(faults.url, tracer_provider=provider) as kms:
        with pytest.raises(aiokms.ConnectionClosed):
            await kms.list_keys()
    (span,) = spans(exporter)
    attributes = dict(span.attributes or {})
    assert (attributes["error.type"], attributes["retry_attempts"]) == ("ConnectionClosed", 2)
    assert "http.response.status_code" not in attributes
    assert span.status.status_code is StatusCode.ERROR


async def test_a_call_past_its_deadline_ends_its_span_so(
    faults: FaultServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    faults.policy = lambda: "hang"
    async with fault_client(faults.url, call_timeout=0.2, tracer_provider=provider) as kms:
        with pytest.raises(aiokms.DeadlineExceeded):
            await kms.list_keys()
    (span,) = spans(exporter)
    attributes = dict(span.attributes or {})
    assert (attributes["error.type"], span.status.status_code) == (
        "DeadlineExceeded",
        StatusCode.ERROR,
    )
    assert attributes["retry_attempts"] == 0


async def test_the_span_nests_under_the_callers_and_calls_stay_apart(
    fake: FakeKMS, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    fake.reply("Encrypt", ENCRYPTED)
    tracer = provider.get_tracer("service")
    async with client_of(fake, tracer_provider=provider) as kms:
        with tracer.start_as_current_span("handler") as handler:
            await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"x")
        await kms.describe_key(KeyId=KEY_ARN)  # outside: a root span of its own
    kms_span, handler_span, root = spans(exporter)
    assert kms_span.parent is not None
    assert kms_span.parent.span_id == handler.get_span_context().span_id
    assert kms_span.context.trace_id == handler_span.context.trace_id
    assert (root.name, root.parent) == ("KMS.DescribeKey", None)


async def test_a_provider_that_is_off_makes_no_span(fake: FakeKMS) -> None:
    fake.reply("Encrypt", ENCRYPTED)
    async with client_of(fake, tracer_provider=NoOpTracerProvider()) as kms:
        await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"x")
        assert kms._telemetry is not None
        assert repr(kms._telemetry).startswith("<Telemetry tracing=off ")


async def test_a_tracer_provider_of_another_kind_is_refused(fake: FakeKMS) -> None:
    with pytest.raises(ValueError, match="tracer_provider"):
        client_of(fake, tracer_provider=object())


async def test_http_spans_of_aiohttp_client_instrumentation_are_the_calls_own(
    fake: FakeKMS, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The KMS span stands for its attempts' HTTP requests: aiohttp-client's instrumentation,
    on, adds no span of its own inside it (it does for other requests)."""
    fake.reply("Encrypt", ENCRYPTED)
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        async with client_of(fake, tracer_provider=provider) as kms:
            await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"x")
        async with aiohttp.ClientSession() as session, session.post(fake.url, data=b"{}"):
            pass
    finally:
        instrumentor.uninstrument()
    names = [span.name for span in spans(exporter)]
    assert names == ["KMS.Encrypt", "POST"]


async def test_aiohttp_client_instrumentation_sees_the_requests_of_a_call_without_a_span(
    fake: FakeKMS, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """Without a KMS span (tracing off in aiokms), the instrumentation's HTTP span of each
    request is there: its trace configs are run, whatever way the transport sends."""
    fake.reply("Encrypt", ENCRYPTED)
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        async with client_of(fake, tracer_provider=NoOpTracerProvider()) as kms:
            await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"x")
            await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"y")
    finally:
        instrumentor.uninstrument()
    assert [span.name for span in spans(exporter)] == ["POST", "POST"]


# --- the cache -----------------------------------------------------------------------------


async def test_the_cache_marks_the_current_span_hit_or_miss(
    fake: FakeKMS, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    fake.reply("GenerateDataKey", GENERATED)
    tracer = provider.get_tracer("service")
    async with client_of(fake, tracer_provider=provider) as kms, aiokms.DataKeyCache() as cache:
        for name in ("first", "second"):
            with tracer.start_as_current_span(name):
                await cache.generate_data_key(
                    kms, KeyId=KEY_ARN, KeySpec="AES_256", plaintext_length=10
                )
    kms_span, first, second = spans(exporter)
    assert (first.attributes or {})["aiokms.cache.hit"] is False
    assert (second.attributes or {})["aiokms.cache.hit"] is True
    assert kms_span.name == "KMS.GenerateDataKey"
    assert kms_span.parent is not None and kms_span.parent.span_id == first.context.span_id


def test_error_code_is_the_code_else_the_class() -> None:
    error = ClientError({"Error": {"Code": "NotFoundException", "Message": "m"}}, "Encrypt")
    assert error_code(error) == "NotFoundException"
    assert error_code(aiokms.ConnectTimeout(endpoint_url="http://x")) == "ConnectTimeout"


# --- metrics: the process's global meter provider, set once for this module's tests -------

READER = InMemoryMetricReader()


@pytest.fixture(scope="module")
def reader() -> InMemoryMetricReader:
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    return READER


def points(reader: InMemoryMetricReader, name: str) -> dict[frozenset[Any], Any]:
    """The data points of metric ``name`` by their attributes (cumulative)."""
    found: dict[frozenset[Any], Any] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[frozenset((point.attributes or {}).items())] = point
    return found


def counts(reader: InMemoryMetricReader, name: str) -> Counter[frozenset[Any]]:
    return Counter({k: p.value for k, p in points(reader, name).items()})


def call_attributes(region: str, method: str, **more: str) -> frozenset[Any]:
    return frozenset(
        {
            "rpc.system": "aws-api",
            "rpc.service": "KMS",
            "cloud.region": region,
            "rpc.method": method,
            **more,
        }.items()
    )


async def test_call_durations_by_operation_and_outcome(
    fake: FakeKMS, reader: InMemoryMetricReader
) -> None:
    clock = FrozenClock()

    async def quarter_second(recorded: Recorded) -> web.StreamResponse:
        clock.advance(0.25)
        return web.json_response(ENCRYPTED)

    fake.handle("Encrypt", quarter_second)
    fake.error("DescribeKey", "NotFoundException", "no such key")
    async with client_of(fake, region_name="eu-duration-1", clock=clock) as kms:
        for _ in range(2):
            await kms.encrypt(KeyId=KEY_ARN, Plaintext=b"x")
        with pytest.raises(ClientError):
            await kms.describe_key(KeyId=KEY_ARN)
    durations = points(reader, "aiokms.client.call.duration")
    ok = durations[call_attributes("eu-duration-1", "Encrypt")]
    failed = durations[
        call_attributes("eu-duration-1", "DescribeKey", **{"error.type": "NotFoundException"})
    ]
    assert (ok.count, ok.sum, failed.count, failed.sum) == (2, 0.5, 1, 0.0)
    assert list(ok.explicit_bounds)[:3] == [0.001, 0.0025, 0.005]  # seconds, not ms


async def test_retries_and_throttles_are_counted_by_operation(
    fake: FakeKMS, reader: InMemoryMetricReader
) -> None:
    fake.handle("ListKeys", failing_twice(400, THROTTLE_BODY))
    async with client_of(fake, region_name="eu-retries-1", max_attempts=3) as kms:
        await kms.list_keys()
    throttled = {"error.type": "ThrottlingException"}
    assert (
        counts(reader, "aiokms.client.retries")[
            call_attributes("eu-retries-1", "ListKeys", **throttled)
        ]
        == 2
    )
    assert (
        counts(reader, "aiokms.client.throttles")[call_attributes("eu-retries-1", "ListKeys")] == 2
    )


async def test_limiter_rates_are_observed_by_quota(
    fake: FakeKMS, reader: InMemoryMetricReader
) -> None:
    fake.error("DescribeKey", "ThrottlingException", "Rate exceeded")
    async with client_of(fake, region_name="eu-limiter-1", max_attempts=1) as kms:
        with pytest.raises(ClientError):
            await kms.describe_key(KeyId=KEY_ARN)
        rates = kms.stats().limiter_rates
        observed = points(reader, "aiokms.client.limiter.rate")
    key = frozenset({"cloud.region": "eu-limiter-1", "aiokms.quota": "DescribeKey"}.items())
    assert set(rates) == {"DescribeKey"}
    assert observed[key].value == rates["DescribeKey"]
    # closed (and still referenced here), the client sends nothing more: its rate is gone
    assert key not in points(reader, "aiokms.client.limiter.rate")


async def test_cache_hits_misses_and_kms_calls_are_counted(
    fake: FakeKMS, reader: InMemoryMetricReader
) -> None:
    fake.reply("GenerateDataKey", GENERATED)
    generate = frozenset({"rpc.method": "GenerateDataKey"}.items())
    names = ("aiokms.cache.hits", "aiokms.cache.misses", "aiokms.cache.kms_calls")
    before = [counts(reader, name)[generate] for name in names]
    async with client_of(fake) as kms, aiokms.DataKeyCache() as cache:
        for _ in range(3):
            await cache.generate_data_key(kms, KeyId=KEY_ARN, KeySpec="AES_256", plaintext_length=1)
        await cache.generate_data_key(kms, KeyId=KEY_ARN, KeySpec="AES_256", Recipient={})
        stats = cache.stats()
    after = [counts(reader, name)[generate] for name in names]
    assert (stats.hits, stats.misses, stats.kms_calls) == (2, 1, 2)
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 2]


# --- the global provider, and no OpenTelemetry at all: each in a process of its own --------

GLOBAL_PROVIDER = """
import asyncio
import aiokms
from aiokms.emulator import LocalKMS
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


async def main():
    exporter = InMemorySpanExporter()
    clock = Clock()
    async with LocalKMS(aliases=["alias/app"]) as local, aiokms.KMSClient(
        endpoint_url=local.endpoint_url,
        region_name=local.region,
        credentials=local.credentials,
        clock=clock,
    ) as kms:
        await kms.describe_key(KeyId="alias/app")  # no provider yet
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        clock.now += 0.5
        await kms.describe_key(KeyId="alias/app")  # looked less than a second ago
        clock.now += 0.5
        await kms.describe_key(KeyId="alias/app")
        await kms.list_keys()
    print([span.name for span in exporter.get_finished_spans()])


asyncio.run(main())
"""

WITHOUT_OPENTELEMETRY = """
import asyncio
import importlib.abc
import sys


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, Blocked())

import aiokms
from aiokms.emulator import LocalKMS


async def main():
    async with LocalKMS(aliases=["alias/app"]) as local, aiokms.KMSClient(
        endpoint_url=local.endpoint_url, region_name=local.region, credentials=local.credentials
    ) as kms, aiokms.DataKeyCache() as cache:
        for _ in range(2):
            await cache.generate_data_key(kms, KeyId="alias/app", KeySpec="AES_256",
                                          plaintext_length=1)
        assert cache.stats().hits == 1
        try:
            aiokms.KMSClient(region_name="us-east-1", tracer_provider=object())
        except ValueError as error:
            print(error)
    print("opentelemetry" in sys.modules, kms.stats().requests)


asyncio.run(main())
"""


def run_python(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_global_provider_is_picked_up_once_set() -> None:
    """Looked for at the first call, then at most once a second of the client's clock."""
    assert run_python(GLOBAL_PROVIDER).splitlines() == ["['KMS.DescribeKey', 'KMS.ListKeys']"]


def test_without_opentelemetry_calls_and_the_cache_work_and_make_no_span() -> None:
    assert run_python(WITHOUT_OPENTELEMETRY).splitlines() == [
        "tracer_provider: needs opentelemetry-api (pip install aiokms[otel])",
        "False 1",
    ]
