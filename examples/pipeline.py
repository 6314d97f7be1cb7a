"""A worker pipeline: encrypt a stream of records with bounded concurrency.

A producer reads records (here: generated JSON documents of several tenants) into a bounded
queue; ``--concurrency`` workers take them, encrypt each with the tenant as its encryption
context, and hand the messages to a writer that appends them to a file, each behind its length.
Memory stays bounded whatever the number of records: the queues hold at most a few records per
worker, and a slow writer slows the producer down instead of piling records up.

One ``Encryptor`` with a ``DataKeyCache`` serves every worker, so thousands of records cost a
few KMS calls per tenant, and the local KMS's request quota (``--rate-limit``) is never hit.

Run it with one command (it starts its own local KMS and stops when the records are done)::

    python examples/pipeline.py
    python examples/pipeline.py --records 100000 --concurrency 64 --output records.enc

It then decrypts every message it wrote, as a consumer would, and checks them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

import aiokms
import aiokms.emulator

_LENGTH = struct.Struct(">I")
_DONE = None


async def records(count: int, tenants: int) -> AsyncIterator[tuple[dict[str, str], bytes]]:
    """The input: ``count`` records as (encryption context, JSON bytes), tenants round robin."""
    for i in range(count):
        tenant = f"tenant-{i % tenants}"
        document = {"id": i, "tenant": tenant, "amount": i * 7 % 1000, "note": "x" * 64}
        yield {"tenant": tenant}, json.dumps(document).encode()
        if i % 1000 == 999:
            await asyncio.sleep(0)  # a real source would await its own I/O here


async def pipeline(
    encryptor: aiokms.Encryptor,
    source: AsyncIterator[tuple[dict[str, str], bytes]],
    out: BinaryIO,
    concurrency: int,
) -> int:
    """Encrypt everything ``source`` yields with ``concurrency`` workers; returns the count."""
    todo: asyncio.Queue[tuple[dict[str, str], bytes] | None] = asyncio.Queue(concurrency * 2)
    done: asyncio.Queue[bytes | None] = asyncio.Queue(concurrency * 2)

    async def produce() -> None:
        async for record in source:
            await todo.put(record)  # waits while the workers are busy: backpressure
        for _ in range(concurrency):
            await todo.put(_DONE)

    async def work() -> None:
        while (record := await todo.get()) is not _DONE:
            context, plaintext = record
            await done.put(await encryptor.encrypt(plaintext, encryption_context=context))

    async def write() -> int:
        written = 0
        while (message := await done.get()) is not _DONE:
            out.write(_LENGTH.pack(len(message)))
            out.write(message)
            written += 1
        return written

    writer = asyncio.ensure_future(write())
    try:
        await asyncio.gather(produce(), *(work() for _ in range(concurrency)))
        await done.put(_DONE)
        return await writer
    finally:
        writer.cancel()


def messages(path: str) -> Iterator[bytes]:
    """The messages of a file the pipeline wrote, one at a time."""
    with open(path, "rb") as file:
        while header := file.read(_LENGTH.size):
            yield file.read(_LENGTH.unpack(header)[0])


async def verify(encryptor: aiokms.Encryptor, path: str, expected: int) -> None:
    """Decrypt every message in the file, as a consumer would: each record exactly once."""
    ids = set()
    for message in messages(path):
        ids.add(json.loads(await encryptor.decrypt(message))["id"])
    if ids != set(range(expected)):
        raise SystemExit(f"expected records 0 to {expected - 1}, read {len(ids)} distinct ones")


async def run(args: argparse.Namespace, out: BinaryIO) -> None:
    """Start the local KMS, run the pipeline into ``out``, verify, print a summary."""
    async with (
        aiokms.emulator.LocalKMS(rate_limit=args.rate_limit, aliases=["alias/records"]) as local,
        aiokms.KMSClient(
            endpoint_url=local.endpoint_url,
            region_name=local.region,
            credentials=local.credentials,
        ) as kms,
        aiokms.DataKeyCache(max_age=60.0, max_messages=5000) as cache,
    ):
        key_arn = (await kms.describe_key(KeyId="alias/records"))["KeyMetadata"]["Arn"]
        encryptor = aiokms.Encryptor(kms, key_arn, cache=cache)
        calls_before = kms.stats().requests
        started = time.perf_counter()
        source = records(args.records, args.tenants)
        count = await pipeline(encryptor, source, out, args.concurrency)
        out.flush()
        elapsed = time.perf_counter() - started
        calls = kms.stats().requests - calls_before
        throttles, cached = kms.stats().throttles, cache.stats()
        await verify(encryptor, out.name, count)
    print(
        f"encrypted {count:,} records with {args.concurrency} workers in {elapsed:.2f} s "
        f"({count / elapsed:,.0f} records/s)"
    )
    print(
        f"KMS calls: {calls} for {count:,} records, throttled: {throttles} "
        f"(cache: {cached.hits:,} hits, {cached.misses} misses)"
    )
    print(f"decrypted all {count:,} messages: every record exactly once")
    if args.output:
        print(f"the messages are in {args.output}, each behind its 4-byte length")


def main(args: argparse.Namespace) -> None:
    """Run into ``--output``, or into a temporary file removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        path = args.output or os.path.join(directory, "records.enc")
        with open(path, "wb") as out:
            asyncio.run(run(args, out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="records to encrypt")
    parser.add_argument("--tenants", type=int, default=8, help="distinct tenants (8)")
    parser.add_argument("--concurrency", type=int, default=32, help="workers (32)")
    parser.add_argument(
        "--rate-limit", type=float, default=50.0, help="the local KMS's requests/s quota (50)"
    )
    parser.add_argument("--output", help="keep the messages in this file")
    try:
        main(parser.parse_args())
    except KeyboardInterrupt:
        sys.exit(130)
