"""The operation a run repeats, made ready: keys, ciphertexts, the encryptor and its cache."""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Operation", "prepare"]

Operation = Callable[[int], Awaitable[object]]


async def prepare(args: argparse.Namespace, kms: Any, key_id: str) -> tuple[Operation, Any]:
    """The operation to run (taking the operation's number) and the cache, if any."""
    payload = os.urandom(args.payload_size)
    contexts = [{"tenant": f"t{i}"} for i in range(args.contexts)]
    n = len(contexts)
    op = args.operation
    if op == "generate-data-key":

        async def generate(i: int) -> object:
            return await kms.generate_data_key(
                KeyId=key_id, KeySpec="AES_256", EncryptionContext=contexts[i % n]
            )

        return generate, None
    if op == "encrypt":

        async def encrypt(i: int) -> object:
            return await kms.encrypt(
                KeyId=key_id, Plaintext=payload, EncryptionContext=contexts[i % n]
            )

        return encrypt, None
    if op == "decrypt":
        blobs = [
            (await kms.encrypt(KeyId=key_id, Plaintext=payload, EncryptionContext=c))[
                "CiphertextBlob"
            ]
            for c in contexts
        ]

        async def decrypt(i: int) -> object:
            return await kms.decrypt(
                CiphertextBlob=blobs[i % n], KeyId=key_id, EncryptionContext=contexts[i % n]
            )

        return decrypt, None
    from aiokms import DataKeyCache, Encryptor

    cache = DataKeyCache() if args.cache else None
    arn = (await kms.describe_key(KeyId=key_id))["KeyMetadata"]["Arn"]
    encryptor = Encryptor(kms, arn, cache=cache)
    if op == "envelope-encrypt":

        async def envelope_encrypt(i: int) -> object:
            return await encryptor.encrypt(payload, encryption_context=contexts[i % n])

        return envelope_encrypt, cache
    # messages made without the cache, so the run's cache counters are the decrypts' own
    writer = Encryptor(kms, arn)
    messages = [await writer.encrypt(payload, encryption_context=c) for c in contexts]

    async def envelope_decrypt(i: int) -> object:
        return await encryptor.decrypt(messages[i % n])

    return envelope_decrypt, cache
