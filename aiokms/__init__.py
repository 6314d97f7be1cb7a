"""aiokms: a fast asyncio AWS KMS client, data-key cache, envelope encryptor and local KMS."""

from aiokms._cache import CacheStats, DataKeyCache, DataKeyClient
from aiokms._client import ClientMeta, ClientStats, KMSClient, PageIterator, Paginator, __version__
from aiokms._credentials import Credentials, CredentialsProvider
from aiokms.errors import (
    AiokmsError,
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    DeadlineExceeded,
    InvalidResponse,
    RateLimited,
    ReadTimeout,
    TransportError,
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
    "DataKeyCache",
    "DataKeyClient",
    # credentials
    "Credentials",
    "CredentialsProvider",
    # errors
    "AiokmsError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "DeadlineExceeded",
    "InvalidResponse",
    "RateLimited",
    "ReadTimeout",
    "TransportError",
    "__version__",
]
