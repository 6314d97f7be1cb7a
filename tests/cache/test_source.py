"""The seam between a data-key cache and an encryptor: CoroutineSource, which makes a source of
any object with DataKeyCache's two coroutine methods."""

from __future__ import annotations

from typing import Any

import pytest

import aiokms
from aiokms._cache import CoroutineSource


class Recorder:
    """Coroutine methods shaped like DataKeyCache's, recording their arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []
        self.budget = object()

    async def generate_data_key(self, kms: Any, /, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("generate_data_key", kms, kwargs))
        return {"Plaintext": b"p" * 32, "CiphertextBlob": b"blob", "KeyId": "arn:k"}

    async def decrypt(self, kms: Any, /, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("decrypt", kms, kwargs))
        return {"Plaintext": b"p" * 32, "KeyId": "arn:k"}


async def test_every_use_of_its_entries_calls_the_coroutine_with_the_arguments_given() -> None:
    recorder = Recorder()
    source = CoroutineSource(recorder)
    kms = object()
    context = {"tenant": "a"}
    entry = source.generate_entry(kms, KeyId="k", KeySpec="AES_256", EncryptionContext=context)
    context["tenant"] = "b"  # copied when the entry was made
    assert entry.take(10) is None  # no hit without a coroutine, ever
    for _ in range(2):
        key = await entry.fetch(10)
        assert (bytes(key.plaintext), key.ciphertext_blob, key.key_id) == (
            b"p" * 32,
            b"blob",
            "arn:k",
        )
    blob = bytearray(b"blob")
    decrypting = source.decrypt_entry(kms, CiphertextBlob=blob, KeyId="arn:k")
    blob[:] = b"xxxx"
    assert decrypting.take() is None
    assert (await decrypting.fetch()).ciphertext_blob is None
    assert recorder.calls == [
        (
            "generate_data_key",
            kms,
            {
                "KeyId": "k",
                "KeySpec": "AES_256",
                "EncryptionContext": {"tenant": "a"},
                "plaintext_length": 10,
            },
        ),
    ] * 2 + [("decrypt", kms, {"CiphertextBlob": b"blob", "KeyId": "arn:k"})]
    assert source.budget is recorder.budget
    assert repr(source) == "<CoroutineSource of Recorder>"


def test_it_takes_only_objects_with_both_coroutine_methods() -> None:
    with pytest.raises(TypeError, match=r"^cache: expected an object with a decrypt\(\)"):
        CoroutineSource(type("OnlyGenerate", (), {"generate_data_key": lambda self: None})())
    assert CoroutineSource(object.__new__(Recorder)).budget is None


async def test_a_data_key_cache_wrapped_serves_as_its_own_entries_do_but_awaits() -> None:
    """DataKeyCache's coroutines fit the shape: wrapped, they give the same keys."""
    kms = Recorder()

    class KMS:
        async def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
            return await kms.generate_data_key(None, **kwargs)

        async def decrypt(self, **kwargs: Any) -> dict[str, Any]:
            return await kms.decrypt(None, **kwargs)

    client = KMS()
    async with aiokms.DataKeyCache() as cache:
        wrapped = CoroutineSource(cache).generate_entry(client, KeyId="k", KeySpec="AES_256")
        first = await wrapped.fetch(0)
        again = await wrapped.fetch(0)
        own = cache.generate_entry(client, KeyId="k", KeySpec="AES_256").take(0)
        assert (
            own is not None
            and first.ciphertext_blob == again.ciphertext_blob == own.ciphertext_blob
        )
        assert cache.stats().hits == 2 and len(kms.calls) == 1
