"""The key store: KMS keys, their aliases and state, in memory, with a JSON snapshot.

How this works: a :class:`Key` holds a KMS key's metadata and its material, in the form the
hot path wants it: a symmetric key keeps every :class:`SymmetricMaterial` by material id (the
current one seals, any of them opens), an HMAC key its secret, an asymmetric key its private
key object and DER public key. The :class:`KeyStore` indexes keys by key id, by ARN and by the
raw id written into ciphertexts, and aliases by name, so resolving any ``KeyId`` form is one or
two dictionary lookups. Identifiers are resolved as KMS does: key id, key ARN, alias name or
alias ARN, with KMS's ``NotFoundException`` messages, and operations that take only key ids or
key ARNs refuse aliases.

AWS managed keys: the predefined aliases ``alias/aws/<service>`` of :data:`AWS_SERVICES` exist
from the start with no key behind them; the first time one is resolved, the store creates the
AWS managed key (``KeyManager`` ``AWS``, the AWS managed key policy, yearly rotation) and points
the alias at it (DescribeKey reference: "If you call the DescribeKey operation on a predefined
AWS alias ... KMS creates an AWS managed key").

Time comes from the injected wall clock (epoch seconds): creation dates, rotation dates, and
deletion dates; a key past its deletion date is removed, with its aliases, the next time it is
looked up. :meth:`KeyStore.snapshot` and :meth:`KeyStore.restore` turn the whole store into a
JSON-ready dict (key material base64, in the clear) and back; ``changes`` counts mutations so
the shell knows when to write it.

Pure code: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, get_args

from cryptography.hazmat.primitives.asymmetric import rsa

from aiokms._config import partition_of
from aiokms.emulator import _crypto
from aiokms.emulator._crypto import PrivateKey, SymmetricMaterial
from aiokms.emulator._errors import KMSError
from aiokms.types import ConnectionErrorCodeType

__all__ = [
    "AWS_SERVICES",
    "CONNECTION_ERROR_CODES",
    "CREATING",
    "DISABLED",
    "ENABLED",
    "PENDING_DELETION",
    "PENDING_REPLICA_DELETION",
    "PENDING_IMPORT",
    "PENDING_ROTATION_STATES",
    "UNAVAILABLE",
    "UPDATING",
    "Alias",
    "CustomKeyStore",
    "Grant",
    "ImportedMaterial",
    "Key",
    "KeyStore",
]

ENABLED = "Enabled"
DISABLED = "Disabled"
PENDING_DELETION = "PendingDeletion"
# a multi-Region primary key scheduled for deletion while it has replicas: its waiting period
# begins when the last of them is deleted (ScheduleKeyDeletion reference)
PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
PENDING_IMPORT = "PendingImport"  # imported key material: none yet, deleted or expired
UNAVAILABLE = "Unavailable"  # a key whose custom key store is disconnected
# transient key states (Developer Guide, "Key states of AWS KMS keys"): a replica key being
# made, a key being made in a custom key store; both keys of an UpdatePrimaryRegion
CREATING = "Creating"
UPDATING = "Updating"
SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
DAY = 86400.0
_SNAPSHOT_VERSION = 1


AWS_SERVICES = (
    "acm",
    "dynamodb",
    "ebs",
    "elasticfilesystem",
    "es",
    "glue",
    "kinesisvideo",
    "lambda",
    "rds",
    "redshift",
    "s3",
    "secretsmanager",
    "ssm",
    "xray",
)
"""Services whose predefined alias, ``alias/aws/<service>``, every account lists."""
_AWS_ALIAS_PREFIX = "alias/aws/"
_PREDEFINED = frozenset(_AWS_ALIAS_PREFIX + service for service in AWS_SERVICES)


def aws_managed_policy(account_id: str, region: str, service: str, partition: str = "aws") -> str:
    """The key policy of an AWS managed key: use through ``service`` by the account's
    principals, and read access to the key's metadata for the account (its root ARN in
    ``partition``)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account "
                    f"that are authorized to use {service}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account_id,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def default_policy(account_id: str, partition: str = "aws") -> str:
    """The key policy KMS attaches when CreateKey is given none: everything to the account,
    named by its root ARN in ``partition`` (the key's)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


class Key:
    """One KMS key: metadata, state and material.

    Exactly one kind of material is set: ``materials``/``current`` (symmetric encryption),
    ``hmac_secret`` (HMAC) or ``private_key``/``public_der`` (RSA and elliptic curve).
    """

    __slots__ = (
        "arn",
        "created",
        "current",
        "custom_key_store",
        "deletion_date",
        "description",
        "expiration_model",
        "grants",
        "hmac_secret",
        "import_params",
        "imported_digest",
        "imports",
        "key_id",
        "last_used",
        "manager",
        "materials",
        "multi_region",
        "next_rotation",
        "offline_state",
        "origin",
        "pending_window",
        "policy",
        "primary_region",
        "private_key",
        "public_der",
        "raw_id",
        "replica_regions",
        "rotation_period",
        "settled_state",
        "settles_at",
        "spec",
        "state",
        "tags",
        "usage",
        "valid_to",
        "xks_key_id",
    )

    def __init__(
        self,
        *,
        key_id: str,
        arn: str,
        spec: str,
        usage: str,
        created: float,
        description: str,
        policy: str,
        multi_region: bool,
    ) -> None:
        self.key_id = key_id
        self.arn = arn
        self.raw_id = _crypto.raw_key_id(key_id)
        self.spec = spec
        self.usage = usage
        self.created = created
        self.description = description
        self.policy = policy
        self.multi_region = multi_region
        self.manager = "CUSTOMER"
        self.origin = "AWS_KMS"
        # a key in a custom key store: its id, its external key's id (external key stores),
        # and its own state while the store is disconnected and it is Unavailable
        self.custom_key_store: str | None = None
        self.xks_key_id: str | None = None
        self.offline_state: str | None = None
        # a key in a transient state (Creating, Updating): the state it takes, and when
        self.settled_state: str | None = None
        self.settles_at: float | None = None
        # a multi-Region key: the Region of its primary key, and (on the primary) the
        # Regions of its replicas, which share its key material objects
        self.primary_region: str | None = None
        self.replica_regions: list[str] = []
        # imported key material (origin EXTERNAL): when it expires, the SHA-256 of what was
        # imported (a later import must bring the same), and the wrapping keys handed out by
        # GetParametersForImport, by import token (not kept across restarts)
        self.expiration_model: str | None = None
        self.valid_to: float | None = None
        self.imported_digest: str | None = None
        self.import_params: dict[bytes, tuple[rsa.RSAPrivateKey, str, float]] = {}
        # a symmetric encryption key's imported key materials by material id, in the order
        # they came: the first, then each imported for on-demand rotation (ListKeyRotations)
        self.imports: dict[bytes, ImportedMaterial] = {}
        self.tags: dict[str, str] = {}
        self.grants: dict[str, Grant] = {}
        self.last_used: tuple[str, float, str] | None = None  # operation, time, request id
        self.state = ENABLED
        self.deletion_date: float | None = None
        self.pending_window: int | None = None
        self.rotation_period: int | None = None
        self.next_rotation: float | None = None
        self.materials: dict[bytes, SymmetricMaterial] = {}
        self.current: SymmetricMaterial | None = None
        self.hmac_secret: bytes | None = None
        self.private_key: PrivateKey | None = None
        self.public_der: bytes | None = None

    def __repr__(self) -> str:  # no material here, ever
        return f"<Key {self.key_id} {self.spec} {self.usage} {self.state}>"

    @property
    def symmetric(self) -> bool:
        """A symmetric encryption key (the only kind with rotating material)."""
        return self.spec == SYMMETRIC_DEFAULT

    def add_material(self, material: SymmetricMaterial) -> None:
        """Make ``material`` current; older materials keep decrypting."""
        self.materials[material.material_id] = material
        self.current = material

    def sync_imports(self) -> bool:
        """After a change to :attr:`imports`: the materials that decrypt (those permanently
        associated and imported), the current one, the earliest expiry, and the key state
        (``PendingImport`` while any associated material is not imported; ImportKeyMaterial
        reference: "you will need to import all of the key materials associated with the KMS
        key to change its state to Enabled"). Returns whether every associated material is
        imported."""
        self.materials.clear()
        self.current = None
        missing = False
        ends = []  # DescribeKey's ValidTo: the earliest expiry of the associated materials
        for record in self.imports.values():
            if record.state in PENDING_ROTATION_STATES:
                continue
            if record.material is None:
                missing = True
                continue
            self.materials[record.material_id] = record.material
            if record.state == "CURRENT":
                self.current = record.material
            if record.valid_to is not None:
                ends.append(record.valid_to)
        self.valid_to = min(ends) if ends else None
        self.expiration_model = (
            "KEY_MATERIAL_EXPIRES" if self.valid_to is not None else "KEY_MATERIAL_DOES_NOT_EXPIRE"
        )
        if missing and self.state not in (PENDING_DELETION, PENDING_REPLICA_DELETION):
            self.state = PENDING_IMPORT
        return not missing

    def expire_imports(self, now: float) -> None:
        """Delete every imported key material whose ValidTo has come (ImportKeyMaterial
        reference: "KMS deletes the key material from the KMS key on the specified date").
        The store does this when the key is next looked up after ``valid_to``; a material
        pending rotation, which ``valid_to`` does not count, is checked by the operations that
        see it."""
        if not self.imports:
            if self.valid_to is not None and now >= self.valid_to:
                self.drop_imported_material()
            return
        for record in self.imports.values():
            if record.valid_to is not None and now >= record.valid_to:
                record.material = None
                record.valid_to = record.expiration_model = None
        self.sync_imports()

    def drop_imported_material(self) -> None:
        """Delete imported key material: the key is pending import until it comes again."""
        self.materials.clear()
        self.current = None
        self.hmac_secret = self.private_key = self.public_der = None
        self.valid_to = self.expiration_model = None
        self.state = PENDING_IMPORT

    def rsa_key(self) -> rsa.RSAPrivateKey:
        """The RSA private key (the caller has checked the spec)."""
        assert isinstance(self.private_key, rsa.RSAPrivateKey)
        return self.private_key


PENDING_ROTATION_STATES = frozenset(
    {"PENDING_ROTATION", "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"}
)


@dataclass(slots=True)
class ImportedMaterial:
    """One key material imported into a symmetric encryption key, as ListKeyRotations shows it.

    ``state`` is its ``KeyMaterialState`` (``CURRENT``, ``NON_CURRENT``, or
    ``PENDING_ROTATION`` until RotateKeyOnDemand makes it current); ``material`` is ``None``
    while it is not imported (``ImportState`` ``PENDING_IMPORT``: deleted or expired);
    ``created`` and ``rotation_type`` are its rotation's date and type (``None`` for the first
    material and one pending rotation).
    """

    material_id: bytes
    state: str
    created: float
    rotation_type: str | None = None
    description: str | None = None
    expiration_model: str | None = None
    valid_to: float | None = None
    material: SymmetricMaterial | None = None

    def record(self) -> dict[str, Any]:
        """The material as JSON-ready data (the snapshot's form; the secret base64)."""
        secret = self.material.secret if self.material is not None else None
        return {
            "KeyMaterialId": self.material_id.hex(),
            "KeyMaterialState": self.state,
            "Created": self.created,
            "RotationType": self.rotation_type,
            "KeyMaterialDescription": self.description,
            "ExpirationModel": self.expiration_model,
            "ValidTo": self.valid_to,
            "Secret": base64.b64encode(secret).decode() if secret is not None else None,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any], raw_id: bytes) -> ImportedMaterial:
        """The inverse of :meth:`record` for the key whose raw id is ``raw_id``."""
        material_id = bytes.fromhex(r["KeyMaterialId"])
        created = float(r["Created"])
        material = None
        if r.get("Secret") is not None:
            material = SymmetricMaterial.new(
                raw_id,
                created,
                r.get("RotationType"),
                material_id=material_id,
                secret=base64.b64decode(r["Secret"], validate=True),
            )
        return cls(
            material_id,
            r["KeyMaterialState"],
            created,
            r.get("RotationType"),
            r.get("KeyMaterialDescription"),
            r.get("ExpirationModel"),
            r.get("ValidTo"),
            material,
        )


@dataclass(slots=True)
class Grant:
    """A grant on a key: who may use it for which operations, under which constraints.

    ``constraints`` holds ``EncryptionContextSubset`` or ``EncryptionContextEquals`` (a
    mapping each) as CreateGrant takes them; ``token`` is the grant token CreateGrant
    returned.
    """

    grant_id: str
    key_id: str
    name: str | None
    created: float
    grantee: str
    retiring: str | None
    operations: tuple[str, ...]
    constraints: dict[str, dict[str, str]] | None
    issuing_account: str
    token: str

    def record(self) -> dict[str, Any]:
        """The grant as JSON-ready data (the snapshot's form)."""
        return {
            "GrantId": self.grant_id,
            "KeyId": self.key_id,
            "Name": self.name,
            "CreationDate": self.created,
            "GranteePrincipal": self.grantee,
            "RetiringPrincipal": self.retiring,
            "Operations": list(self.operations),
            "Constraints": self.constraints,
            "IssuingAccount": self.issuing_account,
            "GrantToken": self.token,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Grant:
        """The inverse of :meth:`record`."""
        return cls(
            r["GrantId"],
            r["KeyId"],
            r.get("Name"),
            float(r["CreationDate"]),
            r["GranteePrincipal"],
            r.get("RetiringPrincipal"),
            tuple(r["Operations"]),
            r.get("Constraints"),
            r["IssuingAccount"],
            r["GrantToken"],
        )


# why a custom key store's connection FAILED (the model's ConnectionErrorCodeType)
CONNECTION_ERROR_CODES = frozenset(get_args(ConnectionErrorCodeType))


@dataclass(slots=True)
class CustomKeyStore:
    """A custom key store, simulated: its configuration and connection state.

    ``xks`` holds an external key store's proxy configuration as DescribeCustomKeyStores
    shows it (no secret: the proxy's secret access key is not kept). A CloudHSM key store's
    ``password_digest`` stands for the ``KeyStorePassword`` KMS holds, ``kmsuser_digest`` for
    the simulated cluster's kmsuser password (the one the store was created with): digests
    salted with the store id, never the passwords.
    """

    store_id: str
    name: str
    store_type: str
    created: float
    state: str = "DISCONNECTED"
    cluster_id: str | None = None
    trust_anchor: str | None = None
    xks: dict[str, str] | None = None
    # FAILED: why (ConnectionErrorCode); CONNECTING, DISCONNECTING: when that ends
    error_code: str | None = None
    settles_at: float | None = None
    password_digest: str | None = None
    kmsuser_digest: str | None = None

    def digest(self, password: str) -> str:
        """The digest of a kmsuser password for this store."""
        return hashlib.sha256(f"{self.store_id}:{password}".encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        """The store as JSON-ready data (the snapshot's form)."""
        return {
            "CustomKeyStoreId": self.store_id,
            "CustomKeyStoreName": self.name,
            "CustomKeyStoreType": self.store_type,
            "CreationDate": self.created,
            "ConnectionState": self.state,
            "CloudHsmClusterId": self.cluster_id,
            "TrustAnchorCertificate": self.trust_anchor,
            "XksProxyConfiguration": self.xks,
            "ConnectionErrorCode": self.error_code,
            "SettlesAt": self.settles_at,
            "PasswordDigest": self.password_digest,
            "KmsuserDigest": self.kmsuser_digest,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> CustomKeyStore:
        """The inverse of :meth:`record`."""
        return cls(
            r["CustomKeyStoreId"],
            r["CustomKeyStoreName"],
            r["CustomKeyStoreType"],
            float(r["CreationDate"]),
            r["ConnectionState"],
            r.get("CloudHsmClusterId"),
            r.get("TrustAnchorCertificate"),
            r.get("XksProxyConfiguration"),
            r.get("ConnectionErrorCode"),
            r.get("SettlesAt"),
            r.get("PasswordDigest"),
            r.get("KmsuserDigest"),
        )


@dataclass(slots=True)
class Alias:
    """An alias: its name (``alias/...``), target key id and dates (epoch seconds)."""

    name: str
    target: str
    created: float
    updated: float


class KeyStore:
    """Keys and aliases of one account and Region.

    Args:
        region: the Region in ARNs; their partition is the Region's (``aws-cn`` for the
            China Regions, ``aws-us-gov`` for AWS GovCloud (US), ``aws`` for a Region
            botocore's partition data does not know).
        account_id: the account in ARNs.
        clock: wall-clock epoch seconds.
    """

    __slots__ = (
        "_by_arn",
        "_by_raw",
        "_clock",
        "account_id",
        "aliases",
        "changes",
        "connect_seconds",
        "connection_errors",
        "custom_key_stores",
        "keys",
        "partition",
        "peers",
        "region",
        "root_arn",
        "transition_seconds",
    )

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.account_id = account_id
        # ARN Format (General Reference): arn:PARTITION:service:region:account-id:resource;
        # worked out once, not per request
        self.partition = partition_of(region)
        self.root_arn = f"arn:{self.partition}:iam::{account_id}:root"
        self._clock = clock
        self.keys: dict[str, Key] = {}
        self.aliases: dict[str, Alias] = {}
        self.custom_key_stores: dict[str, CustomKeyStore] = {}
        # custom key stores' simulated connections: how long connecting (and disconnecting)
        # takes; the ConnectionErrorCode a cluster id or proxy endpoint fails with
        self.connect_seconds = 0.0
        self.connection_errors: dict[str, str] = {}
        # how long a key stays Creating or Updating (0: until the next request that uses it)
        self.transition_seconds = 0.0
        # the stores of every Region the emulator serves, this one included, by Region
        self.peers: dict[str, KeyStore] = {region: self}
        self._by_arn: dict[str, Key] = {}
        self._by_raw: dict[bytes, Key] = {}
        self.changes = 0

    def __repr__(self) -> str:
        return f"<KeyStore {self.region} {self.account_id} keys={len(self.keys)}>"

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self.keys.values()))

    def now(self) -> float:
        """The store's clock."""
        return self._clock()

    def touch(self) -> None:
        """Record a mutation (the shell persists the store when this count moves)."""
        self.changes += 1

    # --- identifiers ------------------------------------------------------------------------

    def key_arn(self, key_id: str) -> str:
        """The ARN of a key id in this account and Region."""
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:key/{key_id}"

    def alias_arn(self, name: str) -> str:
        """The ARN of an alias name in this account and Region."""
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:{name}"

    def resolve(self, ident: str, *, aliases: bool = True) -> Key:
        """The key ``ident`` names: a key id, key ARN, or (with ``aliases``) alias name or ARN.

        Raises:
            KMSError: ``NotFoundException`` as KMS words it.
        """
        key = self.keys.get(ident)
        if key is None:
            key = self._by_arn.get(ident)
        if key is None:
            key = self._resolve_slow(ident, aliases)
        if key.state != ENABLED and self._deleted(key):
            return self.resolve(ident, aliases=aliases)  # now raises NotFoundException
        if key.valid_to is not None:
            self._material_expiry(key)
        return key

    def _material_expiry(self, key: Key) -> None:
        """Imported key material past its ValidTo is deleted (ImportKeyMaterial reference)."""
        assert key.valid_to is not None
        if self._clock() >= key.valid_to:
            key.expire_imports(self._clock())
            self.touch()

    def _resolve_slow(self, ident: str, aliases: bool) -> Key:
        if ident.startswith("arn:"):
            parts = ident.split(":", 5)
            # a KMS ARN of another partition names no key here, as a malformed one
            if len(parts) != 6 or parts[2] != "kms" or parts[1] != self.partition:
                raise KMSError("NotFoundException", f"Invalid arn {ident}")
            resource = parts[5]
            if resource.startswith("alias/") and aliases:
                if parts[3] != self.region or parts[4] != self.account_id:
                    raise KMSError("NotFoundException", f"Alias {ident} is not found.")
                return self.alias_target(resource)
            if not resource.startswith("key/"):
                raise KMSError("NotFoundException", f"Invalid arn {ident}")
            if parts[3] != self.region:
                raise KMSError("NotFoundException", f"Invalid arn {parts[3]}")
            raise KMSError("NotFoundException", f"Key '{ident}' does not exist")
        if ident.startswith("alias/") and aliases:
            return self.alias_target(ident)
        if not _is_key_id(ident):
            raise KMSError("NotFoundException", f"Invalid keyId '{ident}'")
        raise KMSError("NotFoundException", f"Key '{self.key_arn(ident)}' does not exist")

    def alias_target(self, name: str) -> Key:
        """The key an alias points to (``NotFoundException`` if there is no such alias); the
        AWS managed key of a predefined alias, created now if it does not exist yet."""
        alias = self.aliases.get(name)
        if alias is None:
            if name not in self.predefined_aliases():
                raise KMSError("NotFoundException", f"Alias {self.alias_arn(name)} is not found.")
            return self._create_aws_managed_key(name)
        return self.resolve(alias.target, aliases=False)

    @staticmethod
    def predefined_aliases() -> frozenset[str]:
        """The names of the predefined AWS aliases."""
        return _PREDEFINED

    def unassociated_aliases(self) -> list[str]:
        """The predefined aliases with no AWS managed key yet, by name."""
        return [name for name in sorted(_PREDEFINED) if name not in self.aliases]

    def _create_aws_managed_key(self, alias: str) -> Key:
        service = alias[len(_AWS_ALIAS_PREFIX) :]
        key_id = self.new_key_id(False)
        now = self.now()
        key = Key(
            key_id=key_id,
            arn=self.key_arn(key_id),
            spec=SYMMETRIC_DEFAULT,
            usage="ENCRYPT_DECRYPT",
            created=now,
            description=f"Default key that protects my {service} data when no other key is defined",
            policy=aws_managed_policy(self.account_id, self.region, service, self.partition),
            multi_region=False,
        )
        key.manager = "AWS"
        key.rotation_period = 365  # AWS managed keys rotate every year (Developer Guide)
        key.next_rotation = now + 365 * DAY
        key.add_material(SymmetricMaterial.new(key.raw_id, now))
        self.add(key)
        self.aliases[alias] = Alias(alias, key_id, now, now)
        return key

    @property
    def customer_keys(self) -> int:
        """How many customer managed keys the store holds (the resource quota counts these)."""
        return len(self.keys) - sum(name in self.aliases for name in _PREDEFINED)

    def by_arn(self, arn: Any) -> Key | None:
        """The key with this key ARN, if there is one (no deletion check: just used)."""
        return self._by_arn.get(arn)

    def by_raw_id(self, raw: bytes) -> Key | None:
        """The key whose raw id a ciphertext names, if it still exists."""
        key = self._by_raw.get(raw)
        if key is not None and key.state != ENABLED and self._deleted(key):
            return None
        if key is not None and key.valid_to is not None:
            self._material_expiry(key)
        return key

    def purge(self) -> None:
        """Delete every key whose deletion date has passed (before listing)."""
        for key in [k for k in self.keys.values() if k.state != ENABLED]:
            self._deleted(key)

    def _deleted(self, key: Key) -> bool:
        """Delete ``key`` if it is pending deletion and its time has come (a primary pending
        replica deletion: once its replicas are deleted and then its waiting period has
        passed); return whether it was deleted. A key in a transient state whose time has
        come first takes the state it was going to."""
        if key.settles_at is not None:
            self.settle(key)
        if key.state == PENDING_REPLICA_DELETION:
            for region in list(key.replica_regions):
                peer = self.peers.get(region)
                replica = peer.keys.get(key.key_id) if peer is not None else None
                if replica is None:  # a Region no longer served: its replica is gone
                    key.replica_regions.remove(region)
                    self.replica_gone(key)
                elif replica.state == PENDING_DELETION:
                    assert peer is not None
                    peer._expired(replica)
        return key.state == PENDING_DELETION and self._expired(key)

    def settle(self, key: Key) -> None:
        """A key in a transient state whose time has come takes the state it was going to."""
        if key.settles_at is not None and self._clock() >= key.settles_at:
            key.state, key.settled_state, key.settles_at = key.settled_state or ENABLED, None, None
            self.touch()

    def begin_transition(self, key: Key, state: str) -> None:
        """Put ``key`` in the transient ``state`` (Creating, Updating) for
        :attr:`transition_seconds`, after which it has its present state again."""
        key.settled_state, key.state = key.state, state
        key.settles_at = self._clock() + self.transition_seconds
        self.touch()

    def replica_gone(self, primary: Key) -> None:
        """A replica of ``primary`` was deleted: a primary pending replica deletion whose last
        replica it was becomes pending deletion, its waiting period beginning now."""
        if primary.state == PENDING_REPLICA_DELETION and not primary.replica_regions:
            primary.state = PENDING_DELETION
            primary.deletion_date = self._clock() + (primary.pending_window or 30) * DAY
            self.touch()

    def _expired(self, key: Key) -> bool:
        """Delete ``key`` if its deletion date has passed; return whether it was deleted."""
        if key.deletion_date is None or self._clock() < key.deletion_date:
            return False
        self.remove(key)
        return True

    # --- mutations --------------------------------------------------------------------------

    def new_key_id(self, multi_region: bool) -> str:
        """A fresh key id (``mrk-`` + 32 hex digits for multi-Region keys)."""
        while True:
            key_id = "mrk-" + uuid.uuid4().hex if multi_region else str(uuid.uuid4())
            if key_id not in self.keys:
                return key_id

    def add(self, key: Key) -> Key:
        """Index a new key."""
        self.keys[key.key_id] = key
        self._by_arn[key.arn] = key
        self._by_raw[key.raw_id] = key
        self.touch()
        return key

    def peer_key(self, region: str | None, key_id: str) -> Key | None:
        """The key with ``key_id`` in another Region's store (multi-Region keys)."""
        peer = self.peers.get(region) if region is not None else None
        return peer.keys.get(key_id) if peer is not None else None

    def remove(self, key: Key) -> None:
        """Delete a key, its material and its aliases (and a replica from its primary)."""
        primary = self.peer_key(key.primary_region, key.key_id)
        if primary is not None and self.region in primary.replica_regions:
            primary.replica_regions.remove(self.region)
            primary_store = self.peers.get(key.primary_region or "")
            if primary_store is not None:
                primary_store.replica_gone(primary)
        self.keys.pop(key.key_id, None)
        self._by_arn.pop(key.arn, None)
        self._by_raw.pop(key.raw_id, None)
        for name in [a.name for a in self.aliases.values() if a.target == key.key_id]:
            del self.aliases[name]
        self.touch()

    def grant_token(self, key_id: str, grant_id: str) -> str:
        """A new grant token for a grant: opaque to clients, it names the key and grant."""
        raw = f"localkms-grant:{key_id}:{grant_id}:{uuid.uuid4().hex}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def grant_of_token(self, token: str) -> tuple[Key, Grant]:
        """The key and grant a grant token names.

        Raises:
            KMSError: ``InvalidGrantTokenException`` for a token LocalKMS did not issue,
                ``NotFoundException`` for a grant that is no more.
        """
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            prefix, key_id, grant_id, _ = text.split(":")
        except ValueError:
            raise KMSError("InvalidGrantTokenException", "Invalid grant token.") from None
        if prefix != "localkms-grant":
            raise KMSError("InvalidGrantTokenException", "Invalid grant token.")
        key = self.keys.get(key_id)
        grant = key.grants.get(grant_id) if key is not None else None
        if key is None or grant is None or grant.token != token:
            raise KMSError("NotFoundException", "Grant not found.")
        return key, grant

    def link_replicas(self) -> None:
        """After every Region's store is restored: replicas share their primary's material
        (except imported key material, which each multi-Region key has its own copy of)."""
        for key in self.keys.values():
            primary = None
            if key.primary_region not in (None, self.region) and key.origin != "EXTERNAL":
                primary = self.peer_key(key.primary_region, key.key_id)
            if primary is not None:
                key.materials, key.current = primary.materials, primary.current

    def clear(self) -> None:
        """Delete every key and alias: the store as a new account's."""
        self.keys.clear()
        self.aliases.clear()
        self.custom_key_stores.clear()
        self._by_arn.clear()
        self._by_raw.clear()
        self.touch()

    def aliases_of(self, key_id: str) -> list[Alias]:
        """The aliases that point to ``key_id``."""
        return [alias for alias in self.aliases.values() if alias.target == key_id]

    # --- persistence ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything in the store as JSON-ready data; key material base64, in the clear."""
        return {
            "version": _SNAPSHOT_VERSION,
            "region": self.region,
            "account_id": self.account_id,
            "keys": [_key_record(key) for key in self.keys.values()],
            "aliases": [
                {
                    "AliasName": a.name,
                    "TargetKeyId": a.target,
                    "CreationDate": a.created,
                    "LastUpdatedDate": a.updated,
                }
                for a in self.aliases.values()
            ],
            "custom_key_stores": [cks.record() for cks in self.custom_key_stores.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a :meth:`snapshot` into this (empty) store.

        Raises:
            ValueError: the data is not a snapshot this version understands.
        """
        if data.get("version") != _SNAPSHOT_VERSION:
            raise ValueError(f"unsupported state file version {data.get('version')!r}")
        try:
            for record in data["keys"]:
                self._restore_key(record)
            for record in data.get("custom_key_stores", ()):
                cks = CustomKeyStore.from_record(record)
                self.custom_key_stores[cks.store_id] = cks
            for record in data["aliases"]:
                name = record["AliasName"]
                self.aliases[name] = Alias(
                    name,
                    record["TargetKeyId"],
                    float(record["CreationDate"]),
                    float(record["LastUpdatedDate"]),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed state file: {type(exc).__name__}: {exc}") from None

    def _restore_key(self, r: dict[str, Any]) -> None:
        key = Key(
            key_id=r["KeyId"],
            arn=self.key_arn(r["KeyId"]),
            spec=r["KeySpec"],
            usage=r["KeyUsage"],
            created=float(r["CreationDate"]),
            description=r["Description"],
            policy=r["Policy"],
            multi_region=bool(r["MultiRegion"]),
        )
        key.manager = r.get("KeyManager", "CUSTOMER")
        key.origin = r.get("Origin", "AWS_KMS")
        key.custom_key_store = r.get("CustomKeyStoreId")
        key.primary_region = r.get("PrimaryRegion")
        key.replica_regions = list(r.get("ReplicaRegions", ()))
        key.xks_key_id = r.get("XksKeyId")
        key.offline_state = r.get("OfflineState")
        key.settled_state = r.get("SettledState")
        key.settles_at = r.get("SettlesAt")
        key.expiration_model = r.get("ExpirationModel")
        key.valid_to = r.get("ValidTo")
        key.imported_digest = r.get("ImportedDigest")
        key.tags = dict(r["Tags"])
        used = r.get("LastUsage")
        key.last_used = (used[0], float(used[1]), used[2]) if used else None
        for g in r.get("Grants", ()):
            grant = Grant.from_record(g)
            key.grants[grant.grant_id] = grant
        key.state = r["KeyState"]
        key.deletion_date = r.get("DeletionDate")
        key.pending_window = r.get("PendingWindowInDays")
        key.rotation_period = r.get("RotationPeriodInDays")
        key.next_rotation = r.get("NextRotationDate")
        for m in r.get("Materials", ()):
            key.add_material(
                SymmetricMaterial.new(
                    key.raw_id,
                    float(m["Created"]),
                    m.get("RotationType"),
                    material_id=bytes.fromhex(m["KeyMaterialId"]),
                    secret=base64.b64decode(m["Secret"], validate=True),
                )
            )
        if r.get("Imports"):
            for m in r["Imports"]:
                imported = ImportedMaterial.from_record(m, key.raw_id)
                key.imports[imported.material_id] = imported
            key.sync_imports()
        if key.symmetric and key.current is None and key.state != PENDING_IMPORT:
            raise ValueError(f"key {key.key_id} has no key material")
        current = r.get("CurrentKeyMaterialId")
        if current is not None:
            key.current = key.materials[bytes.fromhex(current)]
        if "HmacSecret" in r:
            key.hmac_secret = base64.b64decode(r["HmacSecret"], validate=True)
        if "PrivateKey" in r:
            key.private_key = _crypto.load_private_key(
                base64.b64decode(r["PrivateKey"], validate=True)
            )
            key.public_der = _crypto.public_key_der(key.private_key)
        for p in r.get("ImportParameters", ()):
            if p["WrappingAlgorithm"] not in _crypto.WRAPPING_ALGORITHMS:
                continue  # one KMS no longer accepts (RSAES_PKCS1_V1_5): the token is void
            wrapping = _crypto.load_private_key(base64.b64decode(p["WrappingKey"], validate=True))
            if not isinstance(wrapping, rsa.RSAPrivateKey):
                raise ValueError(f"key {key.key_id}: a wrapping key that is not RSA")
            token = base64.b64decode(p["ImportToken"], validate=True)
            key.import_params[token] = (
                wrapping,
                p["WrappingAlgorithm"],
                float(p["ParametersValidTo"]),
            )
        self.add(key)


def _key_record(key: Key) -> dict[str, Any]:
    record: dict[str, Any] = {
        "KeyId": key.key_id,
        "KeySpec": key.spec,
        "KeyUsage": key.usage,
        "CreationDate": key.created,
        "Description": key.description,
        "Policy": key.policy,
        "MultiRegion": key.multi_region,
        "KeyManager": key.manager,
        "Origin": key.origin,
        "CustomKeyStoreId": key.custom_key_store,
        "PrimaryRegion": key.primary_region,
        "ReplicaRegions": key.replica_regions,
        "XksKeyId": key.xks_key_id,
        "OfflineState": key.offline_state,
        "SettledState": key.settled_state,
        "SettlesAt": key.settles_at,
        "ExpirationModel": key.expiration_model,
        "ValidTo": key.valid_to,
        "ImportedDigest": key.imported_digest,
        "Tags": key.tags,
        "Grants": [grant.record() for grant in key.grants.values()],
        "LastUsage": list(key.last_used) if key.last_used is not None else None,
        "KeyState": key.state,
        "DeletionDate": key.deletion_date,
        "PendingWindowInDays": key.pending_window,
        "RotationPeriodInDays": key.rotation_period,
        "NextRotationDate": key.next_rotation,
    }
    if key.imports:  # imported key materials: their states, expiry and (if imported) secrets
        record["Imports"] = [imported.record() for imported in key.imports.values()]
    elif key.materials:
        record["Materials"] = [
            {
                "KeyMaterialId": m.material_id.hex(),
                "Secret": base64.b64encode(m.secret).decode(),
                "Created": m.created,
                "RotationType": m.rotation_type,
            }
            for m in key.materials.values()
        ]
        assert key.current is not None
        record["CurrentKeyMaterialId"] = key.current.material_id.hex()
    if key.hmac_secret is not None:
        record["HmacSecret"] = base64.b64encode(key.hmac_secret).decode()
    if key.import_params:  # wrapping keys and import tokens handed out, for 24 hours
        record["ImportParameters"] = [
            {
                "ImportToken": base64.b64encode(token).decode(),
                "WrappingKey": base64.b64encode(_crypto.private_key_der(wrapping)).decode(),
                "WrappingAlgorithm": algorithm,
                "ParametersValidTo": valid_to,
            }
            for token, (wrapping, algorithm, valid_to) in key.import_params.items()
        ]
    if key.private_key is not None:
        record["PrivateKey"] = base64.b64encode(_crypto.private_key_der(key.private_key)).decode()
    return record


def _is_key_id(value: str) -> bool:
    try:
        _crypto.raw_key_id(value)
    except ValueError:
        return False
    return True
