"""What the client and the cache tell of their work: log records, OpenTelemetry spans.

How this works. Logs: ``aiokms.client`` (attempts retried, DEBUG; a call failed for want of
retry quota, WARNING), ``aiokms.ratelimit`` (an adaptive limiter switched on or off, INFO),
``aiokms.cache`` (a data key fetched ahead was not made, INFO), ``aiokms.emulator`` (LocalKMS).
A record names an operation, an error code or an exception's class, numbers; never a
credential, a request or reply body, a plaintext or a data key, nor an error's message (KMS's
messages may quote what was sent). Each is formatted only if its level is enabled.

Traces, with ``opentelemetry-api`` installed (the ``aiokms[otel]`` extra): a client's
:class:`Telemetry` asks, at its first call and then at most once a second of its clock while
the answer is no, whether a tracer provider is there (the one given to the client, else the
global one; the API's proxy and no-op providers are no). Until one is, a call costs that clock
read and nothing more. Once one is, every call is a :class:`Call`: one CLIENT span named
``KMS.<Operation>``, current while the call runs (so it nests under the caller's span, and the
spans of anything below it nest under it), with HTTP instrumentation suppressed inside it: its
attempts' HTTP requests are the call's, told by its attributes (as
opentelemetry-instrumentation-botocore does for botocore's calls). The client tells the call
of each retry and throttle, and of its result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel_trace

    # the key HTTP instrumentations (aiohttp-client's too) look for (private, but the API's
    # own since 1.20; tests/test_telemetry.py checks that aiohttp-client's honours it)
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as SUPPRESS_HTTP

    _OFF_PROVIDERS: tuple[type, ...] = (
        otel_trace.ProxyTracerProvider,
        otel_trace.NoOpTracerProvider,
    )
except ImportError:  # the otel extra is not installed: no spans
    otel_trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["INSTRUMENTATION", "Call", "Telemetry", "error_code", "note_cache", "telemetry"]

INSTRUMENTATION = "aiokms"
RECHECK_SECONDS = 1.0  # while no provider is on, how often a client looks again

Response = dict[str, Any]


def error_code(error: BaseException) -> str:
    """A service error's code (``ThrottlingException``), else the exception's class name."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__


def telemetry(
    tracer_provider: TracerProvider | None,
    region: str,
    endpoint_url: str,
    clock: Callable[[], float],
    version: str,
) -> Telemetry | None:
    """A client's :class:`Telemetry`; ``None`` without opentelemetry-api (nothing to do)."""
    if otel_trace is None:
        if tracer_provider is not None:
            raise ValueError("tracer_provider: needs opentelemetry-api (pip install aiokms[otel])")
        return None
    if tracer_provider is not None and not isinstance(tracer_provider, otel_trace.TracerProvider):
        raise ValueError(
            f"tracer_provider: {tracer_provider!r} is not an opentelemetry TracerProvider"
        )
    return Telemetry(tracer_provider, region, endpoint_url, clock, version)


class Telemetry:
    """One client's tracer, found when a provider is on (see the module docstring)."""

    __slots__ = ("_attributes", "_clock", "_next_look", "_provider", "_tracer", "_version")

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        region: str,
        endpoint_url: str,
        clock: Callable[[], float],
        version: str,
    ) -> None:
        self._provider = tracer_provider
        self._clock = clock
        self._version = version
        self._tracer: Tracer | None = None
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
        return f"<Telemetry tracing={'on' if self._tracer is not None else 'off'}>"

    def call(self, operation: str) -> Call | None:
        """The telemetry of a call of ``operation`` about to start; ``None``: none is on."""
        tracer = self._tracer
        if tracer is None:
            now = self._clock()
            if now < self._next_look:
                return None
            self._next_look = now + RECHECK_SECONDS
            tracer = self._tracer = self._find_tracer()
            if tracer is None:
                return None
        return Call(tracer, operation, self._attributes)

    def _find_tracer(self) -> Tracer | None:
        provider = self._provider
        if provider is None:
            provider = otel_trace.get_tracer_provider()
        if isinstance(provider, _OFF_PROVIDERS):
            return None
        return provider.get_tracer(INSTRUMENTATION, self._version)


class Call:
    """One call's span: started by :meth:`run`, told of retries by the client."""

    __slots__ = ("_operation", "_retries", "_span")

    def __init__(self, tracer: Tracer, operation: str, attributes: Mapping[str, Any]) -> None:
        self._operation = operation
        self._retries = 0
        attributes = {**attributes, "rpc.method": operation}
        self._span: Span = tracer.start_span(
            f"KMS.{operation}", kind=otel_trace.SpanKind.CLIENT, attributes=attributes
        )

    async def run(self, attempts: Awaitable[Response]) -> Response:
        """Await the call's ``attempts`` with its span current; record how it ended."""
        span = self._span
        context = otel_trace.set_span_in_context(span)
        context = otel_context.set_value(SUPPRESS_HTTP, True, context)
        token = otel_context.attach(context)
        try:
            try:
                response = await attempts
            except BaseException as error:
                self._failed(error)
                raise
            self._reply(response.get("ResponseMetadata"))
            return response
        finally:
            otel_context.detach(token)
            span.end()

    def retrying(self) -> None:
        """An attempt failed and the call will make another."""
        self._retries += 1

    def _failed(self, error: BaseException) -> None:
        code = error_code(error)
        span = self._span
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
        if not metadata or not span.is_recording():
            return
        request_id = metadata.get("RequestId")
        if request_id:
            span.set_attribute("aws.request_id", request_id)
        span.set_attribute("retry_attempts", metadata.get("RetryAttempts", self._retries))
        status = metadata.get("HTTPStatusCode")
        if status is not None:
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("http.status_code", status)  # the older name, botocore's


def note_cache(hit: bool) -> None:
    """Mark the caller's current span, if one records, as a cache hit or miss."""
    if otel_trace is not None:
        span = otel_trace.get_current_span()
        if span.is_recording():
            span.set_attribute("aiokms.cache.hit", hit)
