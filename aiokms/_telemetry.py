"""What the client and the cache tell of their work: log records, OpenTelemetry spans and metrics.

How this works. Logs: ``aiokms.client`` (attempts retried, DEBUG; a call failed for want of
retry quota, WARNING), ``aiokms.ratelimit`` (an adaptive limiter switched on or off, INFO),
``aiokms.cache`` (a data key fetched ahead was not made, INFO), ``aiokms.emulator`` (LocalKMS).
A record names an operation, an error code or an exception's class, numbers; never a
credential, a request or reply body, a plaintext or a data key, nor an error's message (KMS's
messages may quote what was sent). Each is formatted only if its level is enabled.

Traces and metrics, with ``opentelemetry-api`` installed (the ``aiokms[otel]`` extra). A
client's :class:`Telemetry` asks, at its first call and then at most once a second of its
clock while the answer is no, whether a tracer provider is there (the one given to the client,
else the global one) and whether a global meter provider is (the API's proxy and no-op
providers are no). Until one is, a call costs that clock read and nothing more. Once one is,
every call is a :class:`Call`: with a tracer, one CLIENT span named ``KMS.<Operation>``,
current while the call runs (so it nests under the caller's span), with HTTP instrumentation
suppressed inside it: its attempts' HTTP requests are the call's, told by its attributes (as
opentelemetry-instrumentation-botocore does for botocore's calls); with meters, its duration
by operation and outcome. The client tells the call of each retry and throttle.

The instruments (:class:`Meters`) are the process's, made once on the global meter provider:
a provider can be set only once. The cache marks a hit's span and counts it only once a tracer
(or a recording span) or the instruments have been found, by a client or by a miss of the
cache, which looks: a hit costs two module attribute reads while both are off.
The limiters' rates are observed when the reader collects, from every live client.
"""

from __future__ import annotations

import importlib.metadata
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace as otel_trace

    # the key HTTP instrumentations (aiohttp-client's too) look for (private, but the API's
    # own since 1.20 at least; tests/test_telemetry.py checks that aiohttp-client's honours it)
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as SUPPRESS_HTTP

    # the API's stand-in until a provider is set (private: metrics have no public name for it)
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    _OFF_PROVIDERS: tuple[type, ...] = (
        otel_trace.ProxyTracerProvider,
        otel_trace.NoOpTracerProvider,
        _ProxyMeterProvider,
        otel_metrics.NoOpMeterProvider,
    )
except ImportError:  # the otel extra is not installed: no spans, no metrics
    otel_trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = [
    "INSTRUMENTATION",
    "Call",
    "Meters",
    "Telemetry",
    "error_code",
    "find_meters",
    "forget_client",
    "note_cache",
    "note_cache_call",
    "telemetry",
]

INSTRUMENTATION = "aiokms"
RECHECK_SECONDS = 1.0  # while no provider is on, how often a client looks again
# seconds: a KMS call takes milliseconds when all is well, seconds with retries
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Response = dict[str, Any]


def error_code(error: BaseException) -> str:
    """A service error's code (``ThrottlingException``), else the exception's class name."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__


class Stats(Protocol):
    """What :class:`Meters` reads of a client: its ``limiter_rates``."""

    def stats(self) -> Any: ...


def telemetry(
    tracer_provider: TracerProvider | None,
    region: str,
    endpoint_url: str,
    clock: Callable[[], float],
    client: Stats,
) -> Telemetry | None:
    """A client's :class:`Telemetry` (``client``'s limiter rates observed while it lives);
    ``None`` without opentelemetry-api: nothing to do."""
    if otel_trace is None:
        if tracer_provider is not None:
            raise ValueError("tracer_provider: needs opentelemetry-api (pip install aiokms[otel])")
        return None
    if tracer_provider is not None and not isinstance(tracer_provider, otel_trace.TracerProvider):
        raise ValueError(
            f"tracer_provider: {tracer_provider!r} is not an opentelemetry TracerProvider"
        )
    _CLIENTS[client] = region
    return Telemetry(tracer_provider, region, endpoint_url, clock)


def forget_client(client: Stats) -> None:
    """``client`` is closed: it sends nothing more, so its limiters' rates are observed no more."""
    _CLIENTS.pop(client, None)


class Telemetry:
    """One client's tracer and meters, found once a provider is on (see the module docstring)."""

    __slots__ = ("_attributes", "_clock", "_meters", "_next_look", "_provider", "_tracer")

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        region: str,
        endpoint_url: str,
        clock: Callable[[], float],
    ) -> None:
        self._provider = tracer_provider
        self._clock = clock
        self._tracer: Tracer | None = None
        self._meters: Meters | None = None
        self._next_look = -float("inf")
        url = urlsplit(endpoint_url)
        # every call's span starts with these, and its rpc.method
        self._attributes: dict[str, Any] = {
            "rpc.system": "aws-api",
            "rpc.service": "KMS",
            "cloud.region": region,
        }
        if url.hostname:
            self._attributes["server.address"] = url.hostname
            self._attributes["server.port"] = url.port or (443 if url.scheme == "https" else 80)

    def __repr__(self) -> str:
        tracing = "on" if self._tracer is not None else "off"
        return f"<Telemetry tracing={tracing} metrics={'on' if self._meters else 'off'}>"

    def call(self, operation: str) -> Call | None:
        """The telemetry of a call of ``operation`` about to start; ``None``: none is on."""
        tracer = self._tracer
        meters = self._meters
        if tracer is None or meters is None:
            now = self._clock()
            if now >= self._next_look:
                self._next_look = now + RECHECK_SECONDS
                tracer = self._tracer = tracer or self._find_tracer()
                meters = self._meters = find_meters()
            if tracer is None and meters is None:
                return None
        return Call(tracer, meters, operation, self._attributes, self._clock)

    def _find_tracer(self) -> Tracer | None:
        global _SPANS
        provider = self._provider
        if provider is None:
            provider = otel_trace.get_tracer_provider()
        if isinstance(provider, _OFF_PROVIDERS):
            return None
        _SPANS = True
        return provider.get_tracer(INSTRUMENTATION, _version())


class Call:
    """One call's span and measures: :meth:`run` runs it, the client tells it of retries."""

    __slots__ = ("_attributes", "_clock", "_meters", "_retries", "_span")

    def __init__(
        self,
        tracer: Tracer | None,
        meters: Meters | None,
        operation: str,
        attributes: Mapping[str, Any],
        clock: Callable[[], float],
    ) -> None:
        self._meters = meters
        self._clock = clock
        self._retries = 0
        self._attributes = {**attributes, "rpc.method": operation}
        self._span: Span | None = None
        if tracer is not None:
            self._span = tracer.start_span(
                f"KMS.{operation}", kind=otel_trace.SpanKind.CLIENT, attributes=self._attributes
            )

    async def run(self, attempts: Awaitable[Response]) -> Response:
        """Await the call's ``attempts`` with its span current; record how it ended."""
        span = self._span
        token = None
        if span is not None:
            context = otel_trace.set_span_in_context(span)
            token = otel_context.attach(otel_context.set_value(SUPPRESS_HTTP, True, context))
        started = self._clock()
        error_type: str | None = None
        try:
            try:
                response = await attempts
            except BaseException as error:
                error_type = error_code(error)
                self._failed(error, error_type)
                raise
            self._reply(response.get("ResponseMetadata"))
            return response
        finally:
            if token is not None:
                otel_context.detach(token)
            if span is not None:
                span.end()
            if self._meters is not None:
                self._meters.called(self._attributes, self._clock() - started, error_type)

    def retrying(self, error: BaseException) -> None:
        """An attempt failed with ``error`` and the call will make another."""
        self._retries += 1
        if self._meters is not None:
            self._meters.retried(self._attributes, error_code(error))

    def throttled(self) -> None:
        """An attempt was throttled."""
        if self._meters is not None:
            self._meters.throttled(self._attributes)

    def _failed(self, error: BaseException, code: str) -> None:
        span = self._span
        if span is None:
            return
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            self._reply(response.get("ResponseMetadata"))
        else:
            span.set_attribute("retry_attempts", self._retries)
        span.set_attribute("error.type", code)
        # the code only: an error's message may quote what was sent
        span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, code))

    def _reply(self, metadata: Mapping[str, Any] | None) -> None:
        span = self._span
        if span is None or not metadata or not span.is_recording():
            return
        attributes = {"retry_attempts": metadata.get("RetryAttempts", self._retries)}
        request_id = metadata.get("RequestId")
        if request_id:
            attributes["aws.request_id"] = request_id
        status = metadata.get("HTTPStatusCode")
        if status is not None:
            attributes["http.response.status_code"] = status
        span.set_attributes(attributes)


# --- metrics -------------------------------------------------------------------------------

# every client made with opentelemetry-api installed, and its region: for the limiter rates
_CLIENTS: weakref.WeakKeyDictionary[Stats, str] = weakref.WeakKeyDictionary()
_METERS: Meters | None = None  # the process's instruments, once a meter provider is set
_SPANS = False  # whether the cache marks its hits' spans: a tracer or a recording span was found


def find_meters() -> Meters | None:
    """The process's instruments, made at the first call that finds a meter provider set;
    ``None`` until then. Looks at the provider each time it is ``None``: not per hit."""
    global _METERS
    if _METERS is None and otel_trace is not None:
        provider = otel_metrics.get_meter_provider()
        if not isinstance(provider, _OFF_PROVIDERS):
            _METERS = Meters(provider.get_meter(INSTRUMENTATION, _version()))
    return _METERS


class Meters:
    """The instruments of the client's calls and the cache's answers (see the README)."""

    __slots__ = (
        "cache_hits",
        "cache_kms_calls",
        "cache_misses",
        "duration",
        "retries",
        "throttles",
    )

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "aiokms.client.call.duration",
            unit="s",
            description="KMS calls, retries and waits included, by operation and outcome",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.retries = meter.create_counter(
            "aiokms.client.retries", unit="{attempt}", description="attempts retried"
        )
        self.throttles = meter.create_counter(
            "aiokms.client.throttles", unit="{attempt}", description="attempts throttled"
        )
        meter.create_observable_gauge(
            "aiokms.client.limiter.rate",
            callbacks=[_limiter_rates],
            unit="{request}/s",
            description="the rate an adaptive limiter allows, by KMS quota (summed over clients)",
        )
        self.cache_hits = meter.create_counter(
            "aiokms.cache.hits", unit="{call}", description="DataKeyCache calls answered at once"
        )
        self.cache_misses = meter.create_counter(
            "aiokms.cache.misses", unit="{call}", description="DataKeyCache calls that waited"
        )
        self.cache_kms_calls = meter.create_counter(
            "aiokms.cache.kms_calls", unit="{call}", description="KMS calls the cache made"
        )

    def called(self, attributes: dict[str, Any], seconds: float, error_type: str | None) -> None:
        if error_type is not None:
            attributes = {**attributes, "error.type": error_type}
        self.duration.record(seconds, _metric_attributes(attributes))

    def retried(self, attributes: dict[str, Any], error_type: str) -> None:
        self.retries.add(1, {**_metric_attributes(attributes), "error.type": error_type})

    def throttled(self, attributes: dict[str, Any]) -> None:
        self.throttles.add(1, _metric_attributes(attributes))


def _metric_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes less those of unbounded or per-endpoint variety."""
    return {k: v for k, v in attributes.items() if k not in ("server.address", "server.port")}


def _limiter_rates(options: CallbackOptions) -> Iterable[Observation]:
    # a periodic reader calls from its own thread while the event loop's may add a client
    # or a limiter: a dict that changed size while read is read again
    for _ in range(3):
        rates: dict[tuple[str, str], float] = {}
        try:
            for client, region in list(_CLIENTS.items()):
                for quota, rate in client.stats().limiter_rates.items():
                    rates[region, quota] = rates.get((region, quota), 0.0) + rate
            break
        except RuntimeError:
            continue
    return [
        otel_metrics.Observation(rate, {"cloud.region": region, "aiokms.quota": quota})
        for (region, quota), rate in rates.items()
    ]


def _version() -> str:
    try:
        return importlib.metadata.version("aiokms")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout
        return ""


def note_cache(hit: bool, operation: str) -> None:
    """A DataKeyCache call of ``operation`` was a hit (or a miss): mark the caller's current
    span, if one records, and count it once metrics are on. While neither spans nor metrics
    have been found a hit costs two reads; a miss (it waits) looks for both."""
    global _SPANS
    if hit:
        if not _SPANS and _METERS is None:
            return
        meters = _METERS
    elif otel_trace is None:
        return
    else:
        meters = find_meters()
    if _SPANS or not hit:
        span = otel_trace.get_current_span()
        if span.is_recording():
            _SPANS = True
            span.set_attribute("aiokms.cache.hit", hit)
    if meters is not None:
        counter = meters.cache_hits if hit else meters.cache_misses
        counter.add(1, {"rpc.method": operation})


def note_cache_call(operation: str) -> None:
    """The cache makes a KMS call of ``operation``: count it; look for a meter provider."""
    if otel_trace is not None:
        meters = find_meters()
        if meters is not None:
            meters.cache_kms_calls.add(1, {"rpc.method": operation})
