"""A web service that encrypts and decrypts per request: one Encryptor, one data-key cache.

Each request names its tenant (the ``X-Tenant`` header), which becomes the message's
encryption context: a message made for one tenant does not decrypt as another's. The
``DataKeyCache`` lets one KMS data key serve many requests of a tenant (within its age and use
limits), so KMS sees a handful of calls instead of one per request.

Run it with one command; it starts a local KMS, serves on 127.0.0.1, sends itself a round of
requests from a few tenants, prints what happened and exits::

    python examples/web_service.py

Serve until Ctrl-C instead (still on the local KMS), and try it with curl::

    python examples/web_service.py --serve --port 8080
    curl -s --data-binary 'hello' -H 'X-Tenant: a' localhost:8080/encrypt > msg.bin
    curl -s --data-binary @msg.bin -H 'X-Tenant: a' localhost:8080/decrypt

With ``--key-id arn:aws:kms:...`` it uses AWS KMS instead, with the region and credentials the
AWS CLI would use.

Tracing is on when the OpenTelemetry SDK is installed (``pip install 'aiokms[otel]'
opentelemetry-sdk``): each request is a server span; the KMS calls it causes are
``KMS.<Operation>`` spans under it, and the cache marks it ``aiokms.cache.hit``. The demo
prints a summary of the spans; ``--serve`` prints every span to stdout as it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.typedefs import Handler

import aiokms
import aiokms.emulator

try:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError:  # tracing off
    trace = None  # type: ignore[assignment]

KMS = web.AppKey("kms", aiokms.KMSClient)
CACHE = web.AppKey("cache", aiokms.DataKeyCache)
ENCRYPTOR = web.AppKey("encryptor", aiokms.Encryptor)


def _tenant(request: web.Request) -> dict[str, str]:
    tenant = request.headers.get("X-Tenant", "")
    if not tenant:
        raise web.HTTPBadRequest(text="the X-Tenant header is required\n")
    return {"tenant": tenant}


async def encrypt(request: web.Request) -> web.Response:
    """POST /encrypt: the body, encrypted for the caller's tenant."""
    message = await request.app[ENCRYPTOR].encrypt(
        await request.read(), encryption_context=_tenant(request)
    )
    return web.Response(body=message, content_type="application/octet-stream")


async def decrypt(request: web.Request) -> web.Response:
    """POST /decrypt: the plaintext of a message made for the caller's tenant."""
    try:
        plaintext = await request.app[ENCRYPTOR].decrypt(
            await request.read(), encryption_context=_tenant(request)
        )
    except aiokms.InvalidMessageError:
        raise web.HTTPBadRequest(text="not a valid message for this tenant\n") from None
    return web.Response(body=plaintext, content_type="application/octet-stream")


async def stats(request: web.Request) -> web.Response:
    """GET /stats: the cache's and the KMS client's counters."""
    cache, kms = request.app[CACHE].stats(), request.app[KMS].stats()
    return web.json_response(
        {
            "cache": {"hits": cache.hits, "misses": cache.misses, "kms_calls": cache.kms_calls},
            "kms": {"requests": kms.requests, "throttles": kms.throttles, "retries": kms.retries},
        }
    )


def start_tracing(serve: bool) -> Any:
    """Set the global tracer provider: spans printed as they end (``serve``), else kept for
    the demo's summary (the in-memory exporter, returned). ``None`` without the SDK."""
    if trace is None:
        return None
    provider = TracerProvider()
    if serve:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        exporter = None
    else:
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # KMSClient picks it up (or pass tracer_provider=)
    return exporter


@web.middleware
async def traced(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Each request a server span, current while it is handled: the KMS spans nest under it."""
    if trace is None:
        return await handler(request)
    tracer = trace.get_tracer("web_service")
    name = f"{request.method} {request.path}"
    with tracer.start_as_current_span(name, kind=trace.SpanKind.SERVER):
        return await handler(request)


def print_spans(exporter: Any) -> None:
    """What the demo's traces hold: spans by name, cache hits, one request's trace."""
    spans = exporter.get_finished_spans()
    names = Counter(span.name for span in spans)
    requests = [span for span in spans if span.kind is trace.SpanKind.SERVER]
    marks = Counter((span.attributes or {}).get("aiokms.cache.hit") for span in requests)
    print("spans: " + ", ".join(f"{name} {count}" for name, count in sorted(names.items())))
    print(
        f"request spans marked aiokms.cache.hit: true {marks[True]}, false {marks[False]} "
        "(a miss waits for a KMS call under way, or starts one)"
    )
    for span in spans:
        if span.name.startswith("KMS.") and span.parent is not None:
            parent = next(p for p in spans if p.context.span_id == span.parent.span_id)
            attributes = span.attributes or {}
            print(
                f"e.g. {parent.name} > {span.name} (rpc.method={attributes.get('rpc.method')}, "
                f"retry_attempts={attributes.get('retry_attempts')}, "
                f"http.response.status_code={attributes.get('http.response.status_code')})"
            )
            break


def make_app(connect: Callable[[], aiokms.KMSClient], key_arn: str) -> web.Application:
    """The aiohttp application; the client, cache and encryptor live as long as it does."""
    app = web.Application(client_max_size=1024**2, middlewares=[traced])

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with (
            connect() as kms,
            aiokms.DataKeyCache(max_age=300.0, max_messages=10_000) as cache,
        ):
            app[KMS] = kms
            app[CACHE] = cache
            app[ENCRYPTOR] = aiokms.Encryptor(kms, key_arn, cache=cache)
            yield

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/encrypt", encrypt)
    app.router.add_post("/decrypt", decrypt)
    app.router.add_get("/stats", stats)
    return app


async def demo(base_url: str, requests: int, tenants: int) -> None:
    """Round trips from several tenants at once, and one cross-tenant attempt that must fail."""
    async with ClientSession(base_url) as http:

        async def round_trip(i: int) -> None:
            tenant = {"X-Tenant": f"tenant-{i % tenants}"}
            body = f"record {i}".encode()
            async with http.post("/encrypt", data=body, headers=tenant) as reply:
                reply.raise_for_status()
                message = await reply.read()
            async with http.post("/decrypt", data=message, headers=tenant) as reply:
                reply.raise_for_status()
                assert await reply.read() == body

        started = time.perf_counter()
        await asyncio.gather(*(round_trip(i) for i in range(requests)))
        elapsed = time.perf_counter() - started

        async with http.post("/encrypt", data=b"secret", headers={"X-Tenant": "a"}) as reply:
            message = await reply.read()
        async with http.post("/decrypt", data=message, headers={"X-Tenant": "b"}) as reply:
            assert reply.status == 400, "a message decrypted under another tenant"
        async with http.get("/stats") as reply:
            counters = await reply.json()
    cache = counters["cache"]
    looked_up = cache["hits"] + cache["misses"]
    print(f"{requests} encrypt + decrypt round trips from {tenants} tenants in {elapsed:.2f} s")
    print(f"KMS calls: {counters['kms']['requests']} (throttled: {counters['kms']['throttles']})")
    print(f"cache: {cache['hits']} hits, {cache['misses']} misses", end="")
    print(f" ({cache['hits'] / looked_up:.0%} hit ratio)" if looked_up else "")
    print("a message made for tenant a does not decrypt for tenant b: ok")


async def main(args: argparse.Namespace) -> None:
    """Start the local KMS (unless --key-id), serve, then demo or wait for Ctrl-C."""
    exporter = start_tracing(args.serve)
    async with contextlib.AsyncExitStack() as stack:
        if args.key_id:
            connect: Callable[[], aiokms.KMSClient] = aiokms.KMSClient  # as the AWS CLI finds
            key_arn = args.key_id
        else:
            local = await stack.enter_async_context(
                aiokms.emulator.LocalKMS(aliases=["alias/web-service"])
            )

            def connect() -> aiokms.KMSClient:
                return aiokms.KMSClient(
                    endpoint_url=local.endpoint_url,
                    region_name=local.region,
                    credentials=local.credentials,
                )

            async with connect() as kms:
                described = await kms.describe_key(KeyId="alias/web-service")
                key_arn = described["KeyMetadata"]["Arn"]
        runner = web.AppRunner(make_app(connect, key_arn), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        port = runner.addresses[0][1]
        base_url = f"http://127.0.0.1:{port}"
        if args.serve:
            print(f"serving on {base_url} (POST /encrypt, POST /decrypt, GET /stats); Ctrl-C stops")
            await asyncio.Event().wait()
        else:
            await demo(base_url, args.requests, args.tenants)
            if exporter is not None:
                print_spans(exporter)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="demo round trips (500)")
    parser.add_argument("--tenants", type=int, default=5, help="demo tenants (5)")
    parser.add_argument("--serve", action="store_true", help="serve until Ctrl-C, no demo")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--key-id", help="a KMS key ARN: use AWS KMS, not the local one")
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(130)
