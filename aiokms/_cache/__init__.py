"""DataKeyCache: the sans-I/O core (:mod:`.core`), the async shell (:mod:`.cache`) and the seam
an encryptor uses (:mod:`.source`)."""

from aiokms._cache.cache import CacheStats, DataKeyCache, DataKeyClient, DecryptEntry, GenerateEntry
from aiokms._cache.core import DataKey, KeyBudget
from aiokms._cache.source import CoroutineSource, DataKeyEntry, DataKeySource

__all__ = [
    "CacheStats",
    "CoroutineSource",
    "DataKey",
    "DataKeyCache",
    "DataKeyClient",
    "DataKeyEntry",
    "DataKeySource",
    "DecryptEntry",
    "GenerateEntry",
    "KeyBudget",
]
