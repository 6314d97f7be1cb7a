"""aiokms: a fast asyncio AWS KMS client, data-key cache, envelope encryptor and local KMS."""

from typing import TYPE_CHECKING, Any

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
from aiokms._client import ClientMeta, ClientStats, KMSClient, PageIterator, Paginator, __version__
from aiokms._credentials import Credentials, CredentialsProvider
from aiokms._encryptor import Encryptor, KMSLike
from aiokms._message import Algorithm
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

if TYPE_CHECKING:
    from aiokms import emulator


def __getattr__(name: str) -> Any:
    # ``aiokms.emulator`` is imported on first use: it brings aiohttp's server side and the
    # asymmetric crypto, which a client alone does not need.
    if name == "emulator":
        import importlib

        return importlib.import_module("aiokms.emulator")
    raise AttributeError(f"module 'aiokms' has no attribute {name!r}")
