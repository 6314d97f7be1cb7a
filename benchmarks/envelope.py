"""Envelope encryption with cached data keys: aiokms vs the AWS Encryption SDK vs a floor.

What it measures: messages per second (and CPU microseconds per message) to encrypt, and to
decrypt, 1 KiB messages in the AWS Encryption SDK message format, suite 0x0478
(AES-256-GCM, HKDF-SHA512, key commitment; no signature), with data keys served from a cache,
one message at a time on one core. The contenders:

* ``aiokms``    -- ``aiokms.Encryptor(kms, key_arn, cache=aiokms.DataKeyCache())``; ``await
  enc.encrypt(...)`` / ``await enc.decrypt(...)``. Its KMS is an in-process stand-in (no
  network): with the cache's defaults (300 s, 10,000 messages per data key) it is called
  once per 10,000 messages, ahead of need, in the background.
* ``esdk``      -- the ``aws-encryption-sdk`` package: ``EncryptionSDKClient`` with a
  ``CachingCryptoMaterialsManager`` (same limits, ``LocalCryptoMaterialsCache``) over a raw
  AES-256 master key, suite 0x0478, default frame length.
* ``floor``     -- the cryptography the format itself requires per message, with the
  ``cryptography`` package's ``HKDF`` and ``AESGCM`` called directly and nothing else (no
  header or frame serialization, no parsing, no cache, no event loop): to encrypt, a random
  message ID, HKDF-SHA512 for the message key, HKDF-SHA512 for the commit key, an AES-GCM
  tag over a header-sized AAD and the AES-GCM encryption of the payload; to decrypt, the same
  two HKDFs, a constant-time commitment comparison, the tag check and the decryption.
* ``floor-min`` -- less than the format needs, for reference: one HKDF and one AES-GCM call.

The two floors are the same per-message recipe the format prescribes; ``aiokms`` derives
both keys from one HKDF-Extract (the spec's SHOULD), which is why it can come close to, or
pass, the ``floor``.

How: every contender encrypts and decrypts once untimed (and its output is checked), then
the rounds alternate the contenders (aiokms, esdk, floor, floor-min, aiokms, ...). In each
round each contender encrypts ``--messages`` messages, then decrypts as many (cycling over 64
messages it wrote), timed by wall clock and process CPU time. The summary gives, per
contender and operation, the median over rounds (messages/s by the wall clock, CPU
microseconds per message) and the best round's CPU time; "round trip" is one encryption plus
one decryption. The ratios of aiokms to the others use the best rounds' CPU time: other
processes on the machine only ever add to a round's time, so the best round is the most
repeatable figure (as ``timeit`` takes the minimum).

Run it from the repository root (the checkout is importable without installing it)::

    python benchmarks/envelope.py
    python benchmarks/envelope.py --messages 50000 --rounds 5
    python benchmarks/envelope.py --json > result.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hmac
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CONTENDERS = ("aiokms", "esdk", "floor", "floor-min")
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = {"tenant": "a", "purpose": "benchmark"}
MAX_AGE = 300.0
MAX_MESSAGES = 10_000
POOL = 64  # distinct messages each contender decrypts in turn

Op = Callable[[], Any]


# --------------------------------------------------------------------------------------------
# aiokms
# --------------------------------------------------------------------------------------------


class StandInKMS:
    """GenerateDataKey and Decrypt in-process: random keys, ciphertext blobs as lookup ids."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[bytes, dict[str, str]]] = {}
        self.calls = 0

    async def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        plaintext, blob = os.urandom(32), os.urandom(184)
        self._keys[blob] = (plaintext, dict(kwargs.get("EncryptionContext") or {}))
        return {"Plaintext": plaintext, "CiphertextBlob": blob, "KeyId": KEY_ARN}

    async def encrypt(self, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError("one key id: no Encrypt calls")

    async def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        plaintext, context = self._keys[kwargs["CiphertextBlob"]]
        if context != dict(kwargs.get("EncryptionContext") or {}):
            raise ValueError("encryption context mismatch")
        return {"Plaintext": plaintext, "KeyId": KEY_ARN}


class AiokmsContender:
    def __init__(self, payload: bytes, loop: asyncio.AbstractEventLoop) -> None:
        import aiokms

        self.loop = loop
        self.kms = StandInKMS()
        self.cache = aiokms.DataKeyCache(max_age=MAX_AGE, max_messages=MAX_MESSAGES)
        self.enc = aiokms.Encryptor(self.kms, KEY_ARN, cache=self.cache)
        self.payload = payload
        self.pool = [
            self.run_one(self.enc.encrypt(payload, encryption_context=CONTEXT)) for _ in range(POOL)
        ]

    def run_one(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def check(self) -> None:
        for message in self.pool[:4]:
            assert self.run_one(self.enc.decrypt(message)) == self.payload

    def encrypt(self, n: int) -> None:
        async def run() -> None:
            encrypt, payload = self.enc.encrypt, self.payload
            for _ in range(n):
                await encrypt(payload, encryption_context=CONTEXT)

        self.run_one(run())

    def decrypt(self, n: int) -> None:
        async def run() -> None:
            decrypt, pool = self.enc.decrypt, self.pool
            for i in range(n):
                await decrypt(pool[i % POOL])

        self.run_one(run())


# --------------------------------------------------------------------------------------------
# the AWS Encryption SDK
# --------------------------------------------------------------------------------------------


class EsdkContender:
    def __init__(self, payload: bytes) -> None:
        import aws_encryption_sdk
        from aws_encryption_sdk.caches.local import LocalCryptoMaterialsCache
        from aws_encryption_sdk.identifiers import (
            Algorithm,
            CommitmentPolicy,
            EncryptionKeyType,
            WrappingAlgorithm,
        )
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKey
        from aws_encryption_sdk.materials_managers.caching import CachingCryptoMaterialsManager

        key = RawMasterKey(
            provider_id="benchmark",
            key_id=b"aes-256",
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=os.urandom(32),
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )
        self.cmm = CachingCryptoMaterialsManager(
            master_key_provider=key,
            cache=LocalCryptoMaterialsCache(capacity=1000),
            max_age=MAX_AGE,
            max_messages_encrypted=MAX_MESSAGES,
        )
        self.client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        self.algorithm = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
        self.payload = payload
        self.pool = [self.encrypt_one() for _ in range(POOL)]

    def encrypt_one(self) -> bytes:
        message, _header = self.client.encrypt(
            source=self.payload,
            materials_manager=self.cmm,
            algorithm=self.algorithm,
            encryption_context=CONTEXT,
        )
        return message  # type: ignore[no-any-return]

    def check(self) -> None:
        for message in self.pool[:4]:
            plaintext, _header = self.client.decrypt(source=message, materials_manager=self.cmm)
            assert plaintext == self.payload
            assert message[1:3] == b"\x04\x78"

    def encrypt(self, n: int) -> None:
        for _ in range(n):
            self.encrypt_one()

    def decrypt(self, n: int) -> None:
        decrypt, cmm, pool = self.client.decrypt, self.cmm, self.pool
        for i in range(n):
            decrypt(source=pool[i % POOL], materials_manager=cmm)


# --------------------------------------------------------------------------------------------
# the floors
# --------------------------------------------------------------------------------------------

SHA512 = hashes.SHA512()
DERIVE_INFO = b"\x04\x78DERIVEKEY"
COMMIT_INFO = b"COMMITKEY"
IV_ONE = (1).to_bytes(12, "big")
ZERO_IV = bytes(12)
HEADER_LEN = 300  # about an aiokms header with one KMS data key and this context
BODY_AAD = b"AWSKMSEncryptionClient Final Frame" + (1).to_bytes(4, "big")


class FloorContender:
    """The format's per-message cryptography (``full``), or one HKDF + one AES-GCM."""

    def __init__(self, payload: bytes, *, full: bool) -> None:
        self.data_key = os.urandom(32)
        self.header = os.urandom(HEADER_LEN)
        self.payload = payload
        self.full = full
        self.aad_tail = BODY_AAD + len(payload).to_bytes(8, "big")
        self.pool = [self.encrypt_one() for _ in range(POOL)]

    def encrypt_one(self) -> tuple[bytes, bytes, bytes, bytes]:
        message_id = os.urandom(32)
        key = HKDF(SHA512, 32, message_id, DERIVE_INFO).derive(self.data_key)
        aead = AESGCM(key)
        if self.full:
            commit = HKDF(SHA512, 32, message_id, COMMIT_INFO).derive(self.data_key)
            tag = aead.encrypt(ZERO_IV, b"", self.header)
        else:
            commit = tag = b""
        sealed = aead.encrypt(IV_ONE, self.payload, message_id + self.aad_tail)
        return message_id, commit, tag, sealed

    def decrypt_one(self, message: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        message_id, commit, tag, sealed = message
        key = HKDF(SHA512, 32, message_id, DERIVE_INFO).derive(self.data_key)
        aead = AESGCM(key)
        if self.full:
            expected = HKDF(SHA512, 32, message_id, COMMIT_INFO).derive(self.data_key)
            if not hmac.compare_digest(expected, commit):
                raise ValueError("commitment")
            aead.decrypt(ZERO_IV, tag, self.header)
        return aead.decrypt(IV_ONE, sealed, message_id + self.aad_tail)

    def check(self) -> None:
        for message in self.pool[:4]:
            assert self.decrypt_one(message) == self.payload

    def encrypt(self, n: int) -> None:
        for _ in range(n):
            self.encrypt_one()

    def decrypt(self, n: int) -> None:
        decrypt_one, pool = self.decrypt_one, self.pool
        for i in range(n):
            decrypt_one(pool[i % POOL])


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    contender: str
    operation: str
    round: int
    messages: int
    seconds: float
    cpu_seconds: float

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


def timed(contender: str, operation: str, rnd: int, n: int, run: Callable[[int], None]) -> Sample:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    run(n)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Sample(contender, operation, rnd, n, wall, cpu)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("cryptography", "aws-encryption-sdk"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def summarize(samples: list[Sample]) -> dict[str, dict[str, dict[str, float]]]:
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for sample in samples:
        summary.setdefault(sample.contender, {}).setdefault(sample.operation, {})
    for contender, operations in summary.items():
        for operation in operations:
            mine = [s for s in samples if (s.contender, s.operation) == (contender, operation)]
            best = min(s.cpu_us for s in mine)
            operations[operation] = {
                "messages_per_s": statistics.median(s.per_s for s in mine),
                "cpu_us_per_message": statistics.median(s.cpu_us for s in mine),
                "best_cpu_us_per_message": best,
                "messages_per_cpu_s": 1e6 / best,
            }
        if {"encrypt", "decrypt"} <= set(operations):
            both = operations["encrypt"]["best_cpu_us_per_message"]
            both += operations["decrypt"]["best_cpu_us_per_message"]
            operations["round trip"] = {
                "best_cpu_us_per_message": both,
                "messages_per_cpu_s": 1e6 / both,
            }
    return summary


def ratios(summary: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """aiokms's speed over each other contender's, from the best rounds' CPU time."""
    out: dict[str, float] = {}
    if "aiokms" not in summary:
        return out
    for other in ("esdk", "floor", "floor-min"):
        if other not in summary:
            continue
        for operation in ("encrypt", "decrypt", "round trip"):
            mine = summary["aiokms"][operation]["best_cpu_us_per_message"]
            theirs = summary[other][operation]["best_cpu_us_per_message"]
            out[f"aiokms/{other} {operation}"] = theirs / mine
    return out


def print_summary(
    summary: dict[str, dict[str, dict[str, float]]], rat: dict[str, float], out: TextIO
) -> None:
    print(
        f"\n{'contender':<11}{'operation':<12}{'msg/s':>10}{'CPU us/msg':>12}"
        f"{'best CPU us':>13}{'msg/CPU-s':>11}",
        file=out,
    )
    for contender, operations in summary.items():
        for operation, figures in operations.items():
            wall = figures.get("messages_per_s")
            median = figures.get("cpu_us_per_message")
            print(
                f"{contender:<11}{operation:<12}"
                + (f"{wall:>10,.0f}" if wall is not None else f"{'':>10}")
                + (f"{median:>12.2f}" if median is not None else f"{'':>12}")
                + f"{figures['best_cpu_us_per_message']:>13.2f}"
                f"{figures['messages_per_cpu_s']:>11,.0f}",
                file=out,
            )
    if rat:
        print("\nratios (best rounds, CPU time):", file=out)
        for name, value in rat.items():
            print(f"  {name:<28}{value:>7.2f}x", file=out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--messages", type=int, default=5_000, help="messages per operation/round")
    p.add_argument("--rounds", type=int, default=10, help="rounds; contenders alternate in each")
    p.add_argument("--size", type=int, default=1024, help="plaintext bytes per message")
    p.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log = sys.stderr if args.json else sys.stdout
    wanted = [name.strip() for name in args.contenders.split(",") if name.strip()]
    unknown = set(wanted) - set(CONTENDERS)
    if unknown:
        print(f"unknown contenders: {sorted(unknown)}", file=sys.stderr)
        return 2
    payload = os.urandom(args.size)
    loop = asyncio.new_event_loop()
    contenders: dict[str, Any] = {}
    for name in wanted:
        try:
            if name == "aiokms":
                contenders[name] = AiokmsContender(payload, loop)
            elif name == "esdk":
                contenders[name] = EsdkContender(payload)
            else:
                contenders[name] = FloorContender(payload, full=name == "floor")
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=log)
            continue
        contenders[name].check()
    print(
        f"{args.size}-byte messages, suite 0x0478, cached data keys; "
        f"{args.messages} messages per operation, {args.rounds} rounds; {versions()}",
        file=log,
    )
    samples: list[Sample] = []
    try:
        for rnd in range(1, args.rounds + 1):
            for name, contender in contenders.items():
                for operation in ("encrypt", "decrypt"):
                    run = getattr(contender, operation)
                    sample = timed(name, operation, rnd, args.messages, run)
                    samples.append(sample)
                    print(
                        f"round {rnd} {name:<10}{operation:<8}{sample.per_s:>10,.0f} msg/s"
                        f"{sample.cpu_us:>8.2f} CPU us/msg",
                        file=log,
                    )
    finally:
        aiokms_contender = contenders.get("aiokms")
        if aiokms_contender is not None:
            loop.run_until_complete(aiokms_contender.cache.close())
        loop.close()
    summary = summarize(samples)
    rat = ratios(summary)
    print_summary(summary, rat, log)
    if args.json:
        json.dump(
            {
                "versions": versions(),
                "size": args.size,
                "summary": summary,
                "ratios": rat,
                "samples": [asdict(s) for s in samples],
            },
            sys.stdout,
            indent=2,
        )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
