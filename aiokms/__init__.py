"""aiokms: a fast asyncio AWS KMS client, data-key cache, envelope encryptor and local KMS."""

from typing import TYPE_CHECKING, Any

from aiokms._client import ClientMeta, ClientStats, KMSClient, PageIterator, Paginator, __version__
from aiokms._credentials import Credentials, CredentialsProvider
from aiokms.errors import (
    AiokmsError,
    CertificateError,
    ClientClosed,
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    DeadlineExceeded,
    InvalidMessageError,
    InvalidResponse,
    ProxyError,
    RateLimited,
    ReadTimeout,
    TransportError,
    WrongEventLoop,
)

if TYPE_CHECKING:
    from aiokms import emulator
    from aiokms import types as types
    from aiokms._cache import (
        CacheStats,
        CoroutineSource,
        DataKey,
        DataKeyCache,
        DataKeyClient,
        DataKeyEntry,
        DataKeySource,
        DecryptEntry,
        GenerateEntry,
        KeyBudget,
    )
    from aiokms._encryptor import Encryptor, KMSLike
    from aiokms._message import Algorithm

__all__ = [
    # client
    "ClientMeta",
    "ClientStats",
    "KMSClient",
    "PageIterator",
    "Paginator",
    # cache
    "CacheStats",
    "DataKey",
    "DataKeyCache",
    "DataKeyClient",
    "DecryptEntry",
    "GenerateEntry",
    "KeyBudget",
    # envelope
    "Algorithm",
    "CoroutineSource",
    "DataKeyEntry",
    "DataKeySource",
    "Encryptor",
    "KMSLike",
    # credentials
    "Credentials",
    "CredentialsProvider",
    # errors
    "AiokmsError",
    "CertificateError",
    "ClientClosed",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "DeadlineExceeded",
    "InvalidMessageError",
    "InvalidResponse",
    "ProxyError",
    "RateLimited",
    "ReadTimeout",
    "TransportError",
    "WrongEventLoop",
    "__version__",
    # emulator (imported on first use)
    "emulator",
]

# Imported on first use: a client alone needs none of them, and a cold start (AWS Lambda)
# should not pay for them. The cache and the encryptor bring the cryptography package, the
# emulator aiohttp's server side and the asymmetric crypto.
_LAZY = {
    "CacheStats": "aiokms._cache",
    "CoroutineSource": "aiokms._cache",
    "DataKey": "aiokms._cache",
    "DataKeyCache": "aiokms._cache",
    "DataKeyClient": "aiokms._cache",
    "DataKeyEntry": "aiokms._cache",
    "DataKeySource": "aiokms._cache",
    "DecryptEntry": "aiokms._cache",
    "GenerateEntry": "aiokms._cache",
    "KeyBudget": "aiokms._cache",
    "Encryptor": "aiokms._encryptor",
    "KMSLike": "aiokms._encryptor",
    "Algorithm": "aiokms._message",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("emulator", "types"):  # aiokms.types: the operations' types, for annotations
        return importlib.import_module(f"aiokms.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiokms' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found at once next time
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
