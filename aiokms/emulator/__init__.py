"""LocalKMS: a fast local KMS emulator for tests and load tests.

``LocalKMS`` serves the 54 operations of the KMS JSON protocol over HTTP (or HTTPS,
``tls=True``) with keep-alive, checks every request's SigV4 signature against its credentials
and authorizes it by key policies, grants and the IAM policies given to its identities,
keeps keys in memory (optionally in a state file), answers with KMS's error codes, statuses
and body shape, and can throttle
(``ThrottlingException`` beyond a shared request rate, ``rate_limit=``, or beyond each
operation's KMS quota, ``quotas=``) and inject faults (latency, jitter, ``KMSInternalException``
500s, dropped connections, slow bodies)::

    async with aiokms.emulator.LocalKMS(rate_limit=1000) as local:
        async with aiokms.KMSClient(endpoint_url=local.endpoint_url, region_name=local.region,
                                    credentials=local.credentials) as kms:
            key = await kms.create_key()

The layers, from the outside in: ``_server`` (the aiohttp shell, clocks, the state file),
``_auth`` (SigV4 verification), ``_quota`` (token buckets, KMS's quotas), ``_faults`` (fault draws),
``_validate`` (request validation from botocore's model), ``_access`` and ``_policy`` (each
request authorized by key, IAM and grant permissions), ``_operations`` (the KMS operations),
``_keys`` (the key store) and ``_crypto`` (the ciphertext envelope and key material); all but
the first are pure; ``_tls`` makes the certificates it serves HTTPS with. ``python -m
aiokms.emulator`` serves it from the command line.
"""

from aiokms._quotas import QUOTAS
from aiokms.emulator._operations import QUOTA_OPERATIONS, SUPPORTED_OPERATIONS
from aiokms.emulator._server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, EmulatorStats, LocalKMS

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "QUOTAS",
    "QUOTA_OPERATIONS",
    "SUPPORTED_OPERATIONS",
    "EmulatorStats",
    "LocalKMS",
]
