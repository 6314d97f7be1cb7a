"""Which KMS request quota each operation is metered against, and the quotas' default rates.

Source: the AWS KMS Developer Guide, "Request quotas", table "Request quotas for each AWS KMS
API operation" (https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html,
as published in 2026). The client's limiters (one per quota) and LocalKMS's ``quotas=`` both
read this module, so the two meter alike.

How KMS meters (from the same page): every request quota is counted separately for each account
and Region, per second. The cryptographic operations share a quota per kind of KMS key:

* Cryptographic operations (symmetric): 100,000/s in us-east-1, us-west-2 and eu-west-1;
  20,000/s in us-east-2, ap-southeast-1, ap-southeast-2, ap-northeast-1, eu-central-1 and
  eu-west-2; 10,000/s in every other Region.
* Cryptographic operations (RSA), (ECC and SM2) and (ML-DSA): 1,000/s each.
* GenerateDataKeyPair (<KeyPairSpec>), one quota per spec: 100/s for each ECC spec, 25/s for
  SM2, 20/s for RSA_2048, 4/s for RSA_3072 and 1/s for RSA_4096 (1, 0.5 and 0.1 in China).

Every other operation has a quota of its own, named after it (``"DescribeKey"``: 2,000/s,
``"CreateKey"``: 5/s, ...; :data:`CONTROL_PLANE_RATES`).

Which quota a request counts against, when that depends on the key. KMS counts a cryptographic
operation against the quota of its KMS key's type, which a client does not know from a key id or
alias. But every such request names an algorithm that only one type of key supports, and KMS
rejects a request whose algorithm does not match its key, so the algorithm names the quota:

* ``Encrypt``, ``Decrypt``: ``EncryptionAlgorithm`` -- ``SYMMETRIC_DEFAULT`` (the default when
  it is left out, and the only one a symmetric key takes) the symmetric quota, ``RSAES_*`` RSA,
  ``SM2PKE`` ECC and SM2.
* ``ReEncrypt`` uses two keys: the quota of the asymmetric side, if either is
  (``SourceEncryptionAlgorithm`` first), else the symmetric one. An asymmetric quota is a
  tenth or less of the symmetric one, so it is the one to pace a request by.
* ``Sign``, ``Verify``: ``SigningAlgorithm`` -- ``RSASSA_*`` RSA; ``ECDSA_*``, ``ED25519_*`` and
  ``SM2DSA`` ECC and SM2; ``ML_DSA_*`` ML-DSA.
* ``DeriveSharedSecret``: ECC and SM2 (key agreement takes only those keys).
* ``GenerateDataKeyPair`` and ``...WithoutPlaintext``: the quota of the ``KeyPairSpec`` asked
  for, whatever the KMS key.

A request without the algorithm or spec these require (which KMS rejects) is paced as RSA, or
as RSA_2048 key pairs; a value newer than this table, by the operation's default above.
* ``GenerateDataKey``, ``...WithoutPlaintext``, ``GenerateRandom``, ``GenerateMac`` and
  ``VerifyMac`` (HMAC keys are symmetric): the symmetric quota.

Not modelled: the custom key store quota (1,800/s per store, counted besides the symmetric
one for keys in a custom key store), which needs to know where a key lives; a throttle from it
is taken as one of the symmetric quota. ``ReplicateKey`` also counts as two ``CreateKey``
requests in the replica's Region, and ``UpdatePrimaryRegion`` as one in each Region: other
Regions' quotas, which a client of one Region never meets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTROL_PLANE_RATES",
    "ECC",
    "ML_DSA",
    "QUOTAS",
    "RSA",
    "RULES",
    "SOURCE",
    "SYMMETRIC",
    "QuotaRule",
    "default_rates",
    "quota_for",
]

SOURCE = "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html"

SYMMETRIC = "Cryptographic operations (symmetric)"
RSA = "Cryptographic operations (RSA)"
ECC = "Cryptographic operations (ECC and SM2)"
ML_DSA = "Cryptographic operations (ML-DSA)"

# Regions whose symmetric quota is above the 10,000/s default.
_SYMMETRIC_BY_REGION = {
    **dict.fromkeys(("us-east-1", "us-west-2", "eu-west-1"), 100_000.0),
    **dict.fromkeys(
        (
            "us-east-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-northeast-1",
            "eu-central-1",
            "eu-west-2",
        ),
        20_000.0,
    ),
}
_SYMMETRIC_DEFAULT = 10_000.0
_ASYMMETRIC_RATE = 1_000.0
_CHINA = frozenset({"cn-north-1", "cn-northwest-1"})

# GenerateDataKeyPair's quotas, by KeyPairSpec: (rate, rate in the China Regions)
_KEY_PAIR_RATES = {
    "ECC_NIST_P256": (100.0, 100.0),
    "ECC_NIST_P384": (100.0, 100.0),
    "ECC_NIST_P521": (100.0, 100.0),
    "ECC_SECG_P256K1": (100.0, 100.0),
    "ECC_NIST_EDWARDS25519": (100.0, 100.0),
    "RSA_2048": (20.0, 1.0),
    "RSA_3072": (4.0, 0.5),
    "RSA_4096": (1.0, 0.1),
    "SM2": (25.0, 25.0),
}

CONTROL_PLANE_RATES: Mapping[str, float] = {
    "CancelKeyDeletion": 5,
    "ConnectCustomKeyStore": 5,
    "CreateAlias": 5,
    "CreateCustomKeyStore": 5,
    "CreateGrant": 50,
    "CreateKey": 5,
    "DeleteAlias": 15,
    "DeleteCustomKeyStore": 5,
    "DeleteImportedKeyMaterial": 15,
    "DescribeCustomKeyStores": 5,
    "DescribeKey": 2000,
    "DisableKey": 5,
    "DisableKeyRotation": 5,
    "DisconnectCustomKeyStore": 5,
    "EnableKey": 5,
    "EnableKeyRotation": 15,
    "GetKeyLastUsage": 5,
    "GetKeyPolicy": 1000,
    "GetKeyRotationStatus": 1000,
    "GetParametersForImport": 1,
    "GetPublicKey": 2000,
    "ImportKeyMaterial": 15,
    "ListAliases": 500,
    "ListGrants": 100,
    "ListKeyPolicies": 100,
    "ListKeyRotations": 100,
    "ListKeys": 500,
    "ListResourceTags": 2000,
    "ListRetirableGrants": 100,
    "PutKeyPolicy": 15,
    "ReplicateKey": 5,
    "RetireGrant": 50,
    "RevokeGrant": 50,
    "RotateKeyOnDemand": 5,
    "ScheduleKeyDeletion": 15,
    "TagResource": 10,
    "UntagResource": 5,
    "UpdateAlias": 5,
    "UpdateCustomKeyStore": 5,
    "UpdateKeyDescription": 5,
    "UpdatePrimaryRegion": 5,
}
"""The control-plane operations' quotas (each named after its operation), requests/s."""


def _key_pair_quota(spec: str) -> str:
    return f"GenerateDataKeyPair ({spec})"


QUOTAS: frozenset[str] = frozenset(
    {SYMMETRIC, RSA, ECC, ML_DSA, *CONTROL_PLANE_RATES, *map(_key_pair_quota, _KEY_PAIR_RATES)}
)
"""Every quota's name: the Developer Guide's quota name without its " request rate"."""


@dataclass(frozen=True, slots=True)
class QuotaRule:
    """How one operation is metered.

    Attributes:
        default: the quota it counts against, unless a parameter below names another.
        parameters: request parameters (algorithms, key pair specs) whose value names the
            quota; the first that names one other than ``default`` decides.
    """

    default: str
    parameters: tuple[str, ...] = ()


# An algorithm or key pair spec names its quota by its first word(s); a value not listed (one
# newer than this table) leaves the rule's default.
_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("SYMMETRIC_DEFAULT", SYMMETRIC),
    ("RSAES_", RSA),
    ("RSASSA_", RSA),
    ("SM2", ECC),  # SM2PKE, SM2DSA
    ("ECDSA_", ECC),
    ("ED25519_", ECC),
    ("ML_DSA_", ML_DSA),
)

_ENCRYPTION = QuotaRule(SYMMETRIC, ("EncryptionAlgorithm",))
_SIGNING = QuotaRule(RSA, ("SigningAlgorithm",))
_KEY_PAIR = QuotaRule(_key_pair_quota("RSA_2048"), ("KeyPairSpec",))

RULES: Mapping[str, QuotaRule] = {
    "Decrypt": _ENCRYPTION,
    "Encrypt": _ENCRYPTION,
    "ReEncrypt": QuotaRule(
        SYMMETRIC, ("SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm")
    ),
    "GenerateDataKey": QuotaRule(SYMMETRIC),
    "GenerateDataKeyWithoutPlaintext": QuotaRule(SYMMETRIC),
    "GenerateMac": QuotaRule(SYMMETRIC),
    "VerifyMac": QuotaRule(SYMMETRIC),
    "GenerateRandom": QuotaRule(SYMMETRIC),
    "Sign": _SIGNING,
    "Verify": _SIGNING,
    "DeriveSharedSecret": QuotaRule(ECC),
    "GenerateDataKeyPair": _KEY_PAIR,
    "GenerateDataKeyPairWithoutPlaintext": _KEY_PAIR,
    **{name: QuotaRule(name) for name in CONTROL_PLANE_RATES},
}
"""Every KMS operation's :class:`QuotaRule`, by operation name."""

# what quota_for looks up per call: a quota, or the rule to apply to the parameters
_FIXED = {name: rule.default for name, rule in RULES.items() if not rule.parameters}
_BY_PARAMETERS = {name: rule for name, rule in RULES.items() if rule.parameters}


def quota_for(operation: str, params: Mapping[str, Any]) -> str:
    """The name of the quota a request counts against (see the module docstring).

    Args:
        operation: the API name, such as ``"GenerateDataKey"``.
        params: the request's parameters (only algorithms and key pair specs are read).

    Returns:
        A name in :data:`QUOTAS`; for an operation newer than this table, its own name (KMS
        gives each control-plane operation a quota of its own).
    """
    fixed = _FIXED.get(operation)
    if fixed is not None:
        return fixed
    rule = _BY_PARAMETERS.get(operation)
    if rule is None:
        return operation
    for parameter in rule.parameters:
        value = params.get(parameter)
        if not isinstance(value, str):
            continue
        quota = _quota_of_value(parameter, value)
        if quota is not None and quota != rule.default:
            return quota
    return rule.default


def _quota_of_value(parameter: str, value: str) -> str | None:
    if parameter == "KeyPairSpec":
        return _key_pair_quota(value) if value in _KEY_PAIR_RATES else None
    for prefix, quota in _BY_PREFIX:
        if value.startswith(prefix):
            return quota
    return None


def default_rates(region: str) -> dict[str, float]:
    """Every quota's default rate in requests/s in ``region``, by quota name."""
    china = region in _CHINA
    rates = {
        SYMMETRIC: _SYMMETRIC_BY_REGION.get(region, _SYMMETRIC_DEFAULT),
        RSA: _ASYMMETRIC_RATE,
        ECC: _ASYMMETRIC_RATE,
        ML_DSA: _ASYMMETRIC_RATE,
    }
    for spec, (rate, china_rate) in _KEY_PAIR_RATES.items():
        rates[_key_pair_quota(spec)] = china_rate if china else rate
    rates.update((name, float(rate)) for name, rate in CONTROL_PLANE_RATES.items())
    return rates
