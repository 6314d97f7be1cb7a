"""The KMS operations LocalKMS serves: validated parameters in, a reply dict out.

How this works: :class:`Backend` maps each ``X-Amz-Target`` to an :class:`Operation`, built once
from botocore's KMS model: its request parser (:mod:`._validate`), its handler here, whether it
counts against the shared cryptographic request quota, and, for the operations that generate
RSA keys, a *prepare* step the shell may run in a worker thread so that a slow key generation
does not stall every other request. A handler reads the :class:`~._keys.KeyStore`, checks what
KMS checks, in KMS's order where it matters (key identifier, key state, key usage, algorithm,
sizes), and returns the reply's JSON-ready dict (blobs base64, key ids as key ARNs) or raises
:class:`KMSError` with KMS's error code. Known KMS operations without a handler answer
``UnsupportedOperationException``; unknown targets answer ``UnknownOperationException``.

Pure code apart from ``os.urandom``: time comes from the store's clock.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.session
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aiokms._config import partition_of
from aiokms.emulator import _crypto
from aiokms.emulator._access import CONTEXT_GRANT_OPERATIONS, authorize, check_lockout
from aiokms.emulator._errors import KMSError, unsupported_operation
from aiokms.emulator._keys import (
    CREATING,
    DAY,
    DISABLED,
    ENABLED,
    PENDING_DELETION,
    PENDING_IMPORT,
    PENDING_REPLICA_DELETION,
    PENDING_ROTATION_STATES,
    SYMMETRIC_DEFAULT,
    UNAVAILABLE,
    UPDATING,
    Alias,
    CustomKeyStore,
    Grant,
    ImportedMaterial,
    Key,
    KeyStore,
    default_policy,
)
from aiokms.emulator._policy import Caller, compile_policy
from aiokms.emulator._validate import RequestParser, compile_request

__all__ = [
    "QUOTA_OPERATIONS",
    "SUPPORTED_OPERATIONS",
    "TARGET_PREFIX",
    "Backend",
    "Operation",
]

TARGET_PREFIX = "TrentService."
Params = dict[str, Any]
Reply = dict[str, Any]
Handler = Callable[[KeyStore, Params, Any], Reply]
Prepare = Callable[[Params], Callable[[], Any] | None]
T = TypeVar("T")

_HANDLERS: dict[str, tuple[Handler, bool, Prepare | None]] = {}


def _operation(
    name: str, *, quota: bool = False, prepare: Prepare | None = None
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = (handler, quota, prepare)
        return handler

    return register


@dataclass(frozen=True, slots=True)
class Operation:
    """One served operation.

    Attributes:
        name: the API name, such as ``"GenerateDataKey"``.
        parse: body bytes -> validated parameters (raises :class:`KMSError`).
        handler: ``(store, params, prepared) -> reply``.
        quota: whether it counts against the shared cryptographic request quota.
        prepare: ``params -> slow pure work`` to run off the event loop first, or ``None``.
    """

    name: str
    parse: RequestParser
    handler: Handler
    quota: bool
    prepare: Prepare | None


class Backend:
    """The operations over one key store.

    Args:
        store: the keys and aliases to serve.
        authorize: authorize every request by the key policies of the keys it uses
            (:mod:`._access`); ``False`` serves every signed request.
    """

    __slots__ = ("_known", "authorize", "operations", "root", "store")

    def __init__(self, store: KeyStore, *, authorize: bool = True) -> None:
        self.store = store
        self.authorize = authorize
        self.root = Caller.root(store.account_id, store.partition)
        self.operations, self._known = _operations()

    def __repr__(self) -> str:
        return f"<Backend operations={len(self.operations)} {self.store!r}>"

    def operation(self, target: str | None) -> Operation:
        """The operation an ``X-Amz-Target`` names.

        Raises:
            KMSError: ``UnknownOperationException`` for a target KMS does not have,
                ``UnsupportedOperationException`` for a KMS operation LocalKMS does not serve.
        """
        op = self.operations.get(target) if target else None
        if op is not None:
            return op
        name = target[len(TARGET_PREFIX) :] if target and target.startswith(TARGET_PREFIX) else ""
        if name in self._known:
            raise unsupported_operation(name)
        raise KMSError("UnknownOperationException", "")

    def call(
        self,
        op: Operation,
        params: Params,
        prepared: Any = None,
        caller: Caller | None = None,
        request_id: str | None = None,
    ) -> Reply:
        """Run ``op`` on validated ``params`` (and the result of its prepare step, if any) for
        ``caller`` (default: the account's root user); a successful cryptographic operation
        is recorded as its keys' last use, with ``request_id`` (GetKeyLastUsage).

        Raises:
            KMSError: what KMS answers, ``AccessDeniedException`` included.
        """
        caller = caller or self.root
        policy = params.get("Policy") if op.name in _POLICY_SETTERS else None
        if policy is not None:  # a malformed policy is refused before anything else
            _check_policy(policy)
        if self.authorize:
            authorize(self.store, op.name, params, caller)
            if policy is not None:
                check_lockout(policy, caller, self._policy_resource(op, params), params)
        reply = op.handler(self.store, params, prepared)
        if op.quota and "KeyId" in reply:
            self._record_use(op.name, reply, request_id)
        return reply

    def _record_use(self, operation: str, reply: Reply, request_id: str | None) -> None:
        usage = (operation, self.store.now(), request_id or str(uuid.uuid4()))
        for member in ("KeyId", "SourceKeyId"):  # ReEncrypt uses two keys
            key = self.store.by_arn(reply.get(member))
            if key is not None:
                key.last_used = usage

    def _policy_resource(self, op: Operation, params: Params) -> str:
        if op.name == "PutKeyPolicy":
            return self.store.resolve(params["KeyId"], aliases=False).arn
        if op.name == "ReplicateKey":
            key = self.store.resolve(params["KeyId"], aliases=False)
            region, store = params["ReplicaRegion"], self.store
            return f"arn:{store.partition}:kms:{region}:{store.account_id}:key/{key.key_id}"
        return self.store.key_arn("*")  # the key CreateKey is about to create


@functools.cache
def _service_model() -> Any:
    return botocore.session.get_session().get_service_model("kms")


@functools.cache
def _operations() -> tuple[dict[str, Operation], frozenset[str]]:
    service = _service_model()
    known = frozenset(service.operation_names)
    table = {}
    for name, (handler, quota, prepare) in _HANDLERS.items():
        if name not in known:  # an older botocore's model, without it: KMS as that model knows it
            continue
        parse = compile_request(service.operation_model(name).input_shape)
        table[TARGET_PREFIX + name] = Operation(name, parse, handler, quota, prepare)
    return table, known


# --- shared checks ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _validation(message: str) -> KMSError:
    return KMSError("ValidationException", message)


def _required(params: Params, member: str) -> Any:
    value = params.get(member)
    if value is None:
        camel = member[:1].lower() + member[1:]
        raise _validation(
            f"1 validation error detected: Value null at '{camel}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def _key(store: KeyStore, params: Params, member: str = "KeyId", *, aliases: bool = True) -> Key:
    return store.resolve(_required(params, member), aliases=aliases)


def _check_state(key: Key, store: KeyStore) -> None:
    """What KMS checks before using a key: it must be enabled (and due rotations happen)."""
    if key.state != ENABLED:
        if key.state == UNAVAILABLE:
            _settled(store, key)
        if key.state == DISABLED:
            raise KMSError("DisabledException", f"{key.arn} is disabled.")
        _not_pending(key)
    if key.next_rotation is not None:
        _rotate_if_due(key, store)


_DELETING = (PENDING_DELETION, PENDING_REPLICA_DELETION)


def _not_pending(key: Key, *, usable: bool = True) -> None:
    """KMSInvalidStateException for a key pending deletion or, with ``usable``, pending
    import or unavailable (its custom key store disconnected), worded as the key state
    table's notes are."""
    if key.state == PENDING_DELETION:
        raise KMSError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    if key.state == PENDING_REPLICA_DELETION:
        raise KMSError("KMSInvalidStateException", f"{key.arn} is pending replica deletion.")
    if usable and key.state == PENDING_IMPORT:
        raise KMSError("KMSInvalidStateException", f"{key.arn} is pending import.")
    if usable and key.state == UNAVAILABLE:
        raise KMSError("KMSInvalidStateException", f"{key.arn} is unavailable.")
    if usable and key.state == CREATING:
        raise KMSError("KMSInvalidStateException", f"{key.arn} is creating.")


def _not_transient(key: Key) -> None:
    """KMSInvalidStateException for a key Creating or Updating, for the operations that change
    its state or material (Developer Guide, "Key states of AWS KMS keys"; UpdatePrimaryRegion
    reference: while Updating, the keys cannot be replicated, enabled or disabled)."""
    if key.state in (CREATING, UPDATING):
        raise KMSError("KMSInvalidStateException", f"{key.arn} is {key.state.lower()}.")


def _origin_not_valid(key: Key) -> KMSError:
    return KMSError(
        "UnsupportedOperationException",
        f"{key.arn} origin is {key.origin} which is not valid for this operation.",
    )


def _check_usage(key: Key, usage: str, operation: str) -> None:
    if key.usage != usage:
        raise KMSError(
            "InvalidKeyUsageException",
            f"{key.arn} key usage is {key.usage} which is not valid for {operation}.",
        )


def _incompatible(algorithm: str, key: Key) -> KMSError:
    return KMSError(
        "InvalidKeyUsageException",
        f"Algorithm {algorithm} is incompatible with key spec {key.spec}.",
    )


def _symmetric_only(key: Key, operation: str) -> None:
    if not key.symmetric:
        raise KMSError(
            "UnsupportedOperationException",
            f"{key.arn} key spec is {key.spec} which is not valid for {operation}.",
        )


def _dry_run(params: Params, status: int = 412) -> None:
    """A request that would have succeeded, with ``DryRun``: ``DryRunOperationException``.

    The API reference gives it HTTP 412; KMS answers GenerateDataKeyPair's with 400.
    """
    if params.get("DryRun"):
        raise KMSError(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
            status,
        )


def _no_recipient(params: Params) -> None:
    if params.get("Recipient") is not None:
        raise KMSError(
            "UnsupportedOperationException",
            "LocalKMS does not support the Recipient parameter (attested environments).",
        )


def _custom_key_store(store: KeyStore, store_id: str) -> CustomKeyStore:
    cks = store.custom_key_stores.get(store_id)
    if cks is None:
        raise KMSError(
            "CustomKeyStoreNotFoundException", f"Custom key store {store_id} does not exist."
        )
    _settle(store, cks)
    return cks


def _settle(store: KeyStore, cks: CustomKeyStore) -> None:
    """A simulated connection or disconnection whose time has come ends: CONNECTING becomes
    CONNECTED (its keys usable again) or FAILED with the ConnectionErrorCode given for its
    cluster or proxy; DISCONNECTING becomes DISCONNECTED."""
    if cks.settles_at is None or store.now() < cks.settles_at:
        return
    cks.settles_at = None
    if cks.state == "DISCONNECTING":
        cks.state = "DISCONNECTED"
    elif cks.state == "CONNECTING":
        target = cks.cluster_id if cks.xks is None else cks.xks["UriEndpoint"]
        cks.error_code = store.connection_errors.get(target or "")
        if cks.xks is None and cks.error_code is None and cks.password_digest != cks.kmsuser_digest:
            # CustomKeyStoresListEntry, ConnectionErrorCode: the KeyStorePassword does not
            # match the kmsuser password in the cluster
            cks.error_code = "INVALID_CREDENTIALS"
        cks.state = "CONNECTED" if cks.error_code is None else "FAILED"
        if cks.state == "CONNECTED":
            for key in _keys_in(store, cks.store_id):
                if key.offline_state is not None:
                    key.state, key.offline_state = key.offline_state, None
    store.touch()


def _settled(store: KeyStore, key: Key) -> None:
    """An Unavailable key's custom key store, its connection settled (the key may be usable)."""
    cks = store.custom_key_stores.get(key.custom_key_store or "")
    if cks is not None:
        _settle(store, cks)


def _connected_store(store: KeyStore, params: Params) -> CustomKeyStore | None:
    """The custom key store a request names, which must be connected; ``None`` if none."""
    store_id = params.get("CustomKeyStoreId")
    if store_id is None:
        return None
    cks = _custom_key_store(store, store_id)
    if cks.state != "CONNECTED":
        raise KMSError(
            "CustomKeyStoreInvalidStateException",
            f"Custom key store {store_id} is {cks.state}, not CONNECTED.",
        )
    return cks


def _page(items: list[T], params: Params, *, default: int, maximum: int) -> tuple[list[T], Reply]:
    """One page of ``items``, and the ``Truncated``/``NextMarker`` members of the reply."""
    limit = min(params.get("Limit", default), maximum)
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        start = _marker_offset(marker)
        if start > len(items):
            raise KMSError("InvalidMarkerException", "Invalid marker.")
    page = items[start : start + limit]
    end = start + len(page)
    extra: Reply = {"Truncated": end < len(items)}
    if end < len(items):
        extra["NextMarker"] = base64.urlsafe_b64encode(f"localkms:{end}".encode()).decode()
    return page, extra


def _marker_offset(marker: str) -> int:
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        prefix, _, offset = text.partition(":")
        if prefix != "localkms" or not offset.isdigit():
            raise ValueError(marker)
        return int(offset)
    except (ValueError, UnicodeError, binascii.Error):
        raise KMSError("InvalidMarkerException", "Invalid marker.") from None


def _context(params: Params, member: str, key: Key) -> bytes:
    context = params.get(member)
    if not key.symmetric:
        if context:
            raise _validation(
                f"{member} is supported only on operations with symmetric encryption KMS keys."
            )
        return b""
    return _crypto.canonical_context(context)


# --- key metadata ----------------------------------------------------------------------------

_ALGORITHMS_BY_USAGE = {
    "ENCRYPT_DECRYPT": "EncryptionAlgorithms",
    "SIGN_VERIFY": "SigningAlgorithms",
    "GENERATE_VERIFY_MAC": "MacAlgorithms",
    "KEY_AGREEMENT": "KeyAgreementAlgorithms",
}


def _multi_region(store: KeyStore, key: Key) -> Reply:
    """A multi-Region key's MultiRegionConfiguration: its primary and replicas by Region."""
    primary_region = key.primary_region or store.region
    primary = store.peer_key(primary_region, key.key_id)
    replicas = primary.replica_regions if primary is not None else []

    def arn(region: str) -> str:
        # multi-Region keys are all in one partition, the store's
        return f"arn:{store.partition}:kms:{region}:{store.account_id}:key/{key.key_id}"

    return {
        "MultiRegionKeyType": "PRIMARY" if primary_region == store.region else "REPLICA",
        "PrimaryKey": {"Arn": arn(primary_region), "Region": primary_region},
        "ReplicaKeys": [{"Arn": arn(region), "Region": region} for region in replicas],
    }


def _algorithms(key: Key) -> list[str]:
    if key.usage == "ENCRYPT_DECRYPT":
        return [SYMMETRIC_DEFAULT] if key.symmetric else list(_crypto.RSA_ENCRYPTION_ALGORITHMS)
    if key.usage == "GENERATE_VERIFY_MAC":
        return [_crypto.HMAC_SPECS[key.spec][2]]
    if key.usage == "KEY_AGREEMENT":
        return ["ECDH"]
    if key.spec in _crypto.RSA_SPECS:
        return list(_crypto.RSA_SIGNING_ALGORITHMS)
    if key.spec == _crypto.ED25519_SPEC:
        return list(_crypto.ED25519_ALGORITHMS)
    if key.spec in _crypto.ML_DSA_SPECS:
        return [_crypto.ML_DSA_ALGORITHM]
    return [_crypto.ECC_SPECS[key.spec][1]]


def _metadata(store: KeyStore, key: Key) -> Reply:
    if key.state == UNAVAILABLE:
        _settled(store, key)
    meta: Reply = {
        "AWSAccountId": store.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.state == ENABLED,
        "Description": key.description,
        "KeyUsage": key.usage,
        "KeyState": key.state,
        "Origin": key.origin,
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": key.spec,
        "KeySpec": key.spec,
        _ALGORITHMS_BY_USAGE[key.usage]: _algorithms(key),
        "MultiRegion": key.multi_region,
    }
    if key.multi_region:
        meta["MultiRegionConfiguration"] = _multi_region(store, key)
    if key.state == PENDING_DELETION:
        meta["DeletionDate"] = key.deletion_date
    elif key.state == PENDING_REPLICA_DELETION:
        meta["PendingDeletionWindowInDays"] = key.pending_window
    if key.current is not None:
        meta["CurrentKeyMaterialId"] = key.current.hex_id
    elif key.imports:  # the current imported key material, deleted or expired
        for record in key.imports.values():
            if record.state == "CURRENT":
                meta["CurrentKeyMaterialId"] = record.material_id.hex()
    if key.custom_key_store is not None:
        meta["CustomKeyStoreId"] = key.custom_key_store
        cks = store.custom_key_stores.get(key.custom_key_store)
        if cks is not None and cks.cluster_id is not None:
            meta["CloudHsmClusterId"] = cks.cluster_id
        if key.xks_key_id is not None:
            meta["XksKeyConfiguration"] = {"Id": key.xks_key_id}
    if key.expiration_model is not None:
        meta["ExpirationModel"] = key.expiration_model
    if key.valid_to is not None:
        meta["ValidTo"] = key.valid_to
    return meta


# --- keys: create, describe, list, state ----------------------------------------------------

_SPECS_FOR_USAGE = {
    "ENCRYPT_DECRYPT": frozenset({SYMMETRIC_DEFAULT, *_crypto.RSA_SPECS}),
    "SIGN_VERIFY": frozenset(
        {*_crypto.RSA_SPECS, *_crypto.ECC_SPECS, _crypto.ED25519_SPEC, *_crypto.ML_DSA_SPECS}
    ),
    "GENERATE_VERIFY_MAC": frozenset(_crypto.HMAC_SPECS),
    "KEY_AGREEMENT": frozenset(_crypto.ECC_SPECS) - {"ECC_SECG_P256K1"},
}
_SUPPORTED_SPECS = frozenset().union(*_SPECS_FOR_USAGE.values())


# The China Regions, the only ones with SM2 keys (CreateKey reference, KeySpec)
CHINA_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})


def _create_key_spec(params: Params, region: str) -> tuple[str, str]:
    spec = params.get("KeySpec")
    legacy = params.get("CustomerMasterKeySpec")
    if spec is not None and legacy is not None and spec != legacy:
        raise _validation("KeySpec and CustomerMasterKeySpec must not both be set.")
    spec = spec or legacy or SYMMETRIC_DEFAULT
    usage = params.get("KeyUsage")
    if usage is None:
        if spec != SYMMETRIC_DEFAULT:
            raise _validation(
                "You must specify a KeyUsage value for all KMS keys except for symmetric "
                "encryption keys."
            )
        usage = "ENCRYPT_DECRYPT"
    if spec == "SM2" and region not in CHINA_REGIONS:
        raise KMSError(
            "UnsupportedOperationException", "KeySpec SM2 is not supported in this Region."
        )
    if spec not in _SUPPORTED_SPECS:
        raise KMSError("UnsupportedOperationException", f"LocalKMS does not support {spec} keys.")
    if spec in _crypto.ML_DSA_SPECS and (missing := _crypto.ml_dsa_unavailable()) is not None:
        raise KMSError(
            "UnsupportedOperationException", f"LocalKMS cannot make {spec} keys here: {missing}."
        )
    if spec not in _SPECS_FOR_USAGE[usage]:
        raise _validation(f"KeyUsage {usage} is not compatible with KeySpec {spec}.")
    return spec, usage


def _prepare_create_key(params: Params) -> Callable[[], Any] | None:
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec")
    if spec in _crypto.RSA_SPECS:
        return functools.partial(_crypto.generate_private_key, spec)
    return None


# Resource quotas (Developer Guide, "Resource quotas"); beyond one, LimitExceededException.
MAX_KEYS = 100_000  # customer managed keys per account and Region
MAX_ALIASES_PER_KEY = 50
MAX_POLICY_BYTES = 32_768  # key policy document size
MAX_ON_DEMAND_ROTATIONS = 25  # the one quota that cannot be raised
MAX_TAGS = 50  # per key ("Tagging AWS resources": 50 user-created tags per resource)


def _limit_exceeded(message: str) -> KMSError:
    return KMSError("LimitExceededException", message)


_POLICY_SETTERS = frozenset({"CreateKey", "PutKeyPolicy", "ReplicateKey"})


def _check_policy(policy: str) -> None:
    if len(policy.encode()) > MAX_POLICY_BYTES:
        raise _limit_exceeded(
            f"The key policy is larger than the key policy document size quota of "
            f"{MAX_POLICY_BYTES} bytes."
        )
    compile_policy(policy)  # MalformedPolicyDocumentException saying what is wrong


def _tags(params: Params, existing: dict[str, str] | None = None) -> dict[str, str]:
    """The tags of a request, checked as KMS checks them, added to ``existing`` (a copy)."""
    tags = dict(existing or {})
    given: set[str] = set()
    for tag in params.get("Tags") or ():
        name = tag["TagKey"]
        if name.lower().startswith("aws:"):
            raise KMSError("TagException", "Tags beginning with aws: are reserved.")
        if name in given:
            raise KMSError("TagException", f"Duplicate tag keys are not allowed: {name}.")
        given.add(name)
        tags[name] = tag["TagValue"]
    if len(tags) > MAX_TAGS:
        raise KMSError("TagException", f"A KMS key can have at most {MAX_TAGS} tags.")
    return tags


_STORE_ORIGINS = frozenset({"AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"})


def _store_for_key(
    store: KeyStore, params: Params, origin: str, spec: str
) -> CustomKeyStore | None:
    """The custom key store a CreateKey request puts its key in (CreateKey reference:
    ``Origin`` AWS_CLOUDHSM or EXTERNAL_KEY_STORE with ``CustomKeyStoreId``, symmetric
    encryption keys only, the store connected; ``XksKeyId`` for an external key store)."""
    if origin not in _STORE_ORIGINS:
        if params.get("CustomKeyStoreId") is not None or params.get("XksKeyId") is not None:
            raise _validation(
                "CustomKeyStoreId and XksKeyId need Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE."
            )
        return None
    if params.get("CustomKeyStoreId") is None:
        raise _validation(f"Origin {origin} needs a CustomKeyStoreId.")
    cks = _custom_key_store(store, params["CustomKeyStoreId"])
    if cks.store_type != origin:
        raise _validation(
            f"Origin {origin} does not match custom key store {cks.store_id} of type "
            f"{cks.store_type}."
        )
    if spec != SYMMETRIC_DEFAULT or params.get("MultiRegion"):
        raise KMSError(
            "UnsupportedOperationException",
            "A custom key store holds single-Region symmetric encryption keys only.",
        )
    if origin == "EXTERNAL_KEY_STORE" and not params.get("XksKeyId"):
        raise _validation("Origin EXTERNAL_KEY_STORE needs an XksKeyId.")
    if origin == "AWS_CLOUDHSM" and params.get("XksKeyId") is not None:
        raise _validation("XksKeyId is for keys in an external key store.")
    return _connected_store(store, params)


@_operation("CreateKey", prepare=_prepare_create_key)
def _create_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    spec, usage = _create_key_spec(params, store.region)
    origin = params.get("Origin", "AWS_KMS")
    if origin == "EXTERNAL" and spec not in _IMPORTABLE_SPECS:
        raise KMSError(
            "UnsupportedOperationException",
            "LocalKMS imports key material into symmetric encryption, HMAC, RSA and ECC "
            f"(NIST and SECG) keys, not {spec} keys.",
        )
    cks = _store_for_key(store, params, origin, spec)
    policy = params.get("Policy")  # checked by Backend.call
    tags = _tags(params)
    if store.customer_keys >= MAX_KEYS:
        raise _limit_exceeded(f"The account already has {MAX_KEYS} customer managed keys.")
    multi_region = bool(params.get("MultiRegion"))
    key_id = store.new_key_id(multi_region)
    now = store.now()
    key = Key(
        key_id=key_id,
        arn=store.key_arn(key_id),
        spec=spec,
        usage=usage,
        created=now,
        description=params.get("Description", ""),
        policy=policy if policy is not None else default_policy(store.account_id, store.partition),
        multi_region=multi_region,
    )
    key.tags = tags
    if multi_region:
        key.primary_region = store.region
    if cks is not None:  # its material simulated here, as if in the HSMs or the external key
        key.origin = origin
        key.custom_key_store = cks.store_id
        key.xks_key_id = params.get("XksKeyId")
        key.add_material(_crypto.SymmetricMaterial.new(key.raw_id, now))
    elif origin == "EXTERNAL":  # no key material until ImportKeyMaterial
        key.origin = origin
        key.state = PENDING_IMPORT
    elif spec == SYMMETRIC_DEFAULT:
        key.add_material(_crypto.SymmetricMaterial.new(key.raw_id, now))
    elif spec in _crypto.HMAC_SPECS:
        key.hmac_secret = os.urandom(_crypto.HMAC_SPECS[spec][1])
    else:
        private = prepared if prepared is not None else _crypto.generate_private_key(spec)
        key.private_key = private
        key.public_der = _crypto.public_key_der(private)
    store.add(key)
    if cks is not None:  # Creating while the key store makes it (key state table)
        store.begin_transition(key, CREATING)
    return {"KeyMetadata": _metadata(store, key)}


@_operation("DescribeKey")
def _describe_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    return {"KeyMetadata": _metadata(store, _key(store, params))}


@_operation("ListKeys")
def _list_keys(store: KeyStore, params: Params, prepared: Any) -> Reply:
    store.purge()
    keys, extra = _page(list(store), params, default=100, maximum=1000)
    return {"Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in keys], **extra}


def _change_key(
    store: KeyStore, params: Params, change: Callable[[Key], None], *, usable: bool = True
) -> Reply:
    """What EnableKey, DisableKey and UpdateKeyDescription share: a key named by key id or
    ARN, not pending deletion (nor, with ``usable``, pending import, unavailable, creating
    or updating), changed."""
    key = _key(store, params, aliases=False)
    if key.state == UNAVAILABLE:
        _settled(store, key)
    _not_pending(key, usable=usable)
    if usable:
        _not_transient(key)
    change(key)
    store.touch()
    return {}


@_operation("UpdateKeyDescription")
def _update_key_description(store: KeyStore, params: Params, prepared: Any) -> Reply:
    description = _required(params, "Description")
    return _change_key(
        store, params, lambda key: setattr(key, "description", description), usable=False
    )


@_operation("EnableKey")
def _enable_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    return _change_key(store, params, lambda key: setattr(key, "state", ENABLED))


@_operation("DisableKey")
def _disable_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    return _change_key(store, params, lambda key: setattr(key, "state", DISABLED))


@_operation("ScheduleKeyDeletion")
def _schedule_key_deletion(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    days = params.get("PendingWindowInDays", 30)
    if not 7 <= days <= 30:
        raise _validation(f"PendingWindowInDays must be between 7 and 30, inclusive, not {days}.")
    _not_pending(key, usable=False)
    _not_transient(key)
    key.pending_window = days
    store.touch()
    if key.replica_regions:  # a primary with replicas waits for them (API reference)
        key.state = PENDING_REPLICA_DELETION
        return {"KeyId": key.arn, "KeyState": key.state, "PendingWindowInDays": days}
    key.state = PENDING_DELETION
    key.deletion_date = store.now() + days * DAY
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": PENDING_DELETION,
        "PendingWindowInDays": days,
    }


@_operation("CancelKeyDeletion")
def _cancel_key_deletion(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    if key.state not in _DELETING:
        raise KMSError("KMSInvalidStateException", f"{key.arn} is not pending deletion.")
    key.state = DISABLED
    key.deletion_date = key.pending_window = None
    store.touch()
    return {"KeyId": key.arn}


# --- aliases ----------------------------------------------------------------------------------


def _alias_name(params: Params) -> str:
    name: str = _required(params, "AliasName")
    if not name.startswith("alias/"):
        raise _validation(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    return name


def _alias_target(store: KeyStore, params: Params) -> Key:
    target = _required(params, "TargetKeyId")
    if target.startswith("alias/") or (target.startswith("arn:") and ":alias/" in target):
        raise _validation("Aliases must refer to keys. Not aliases")
    key = store.resolve(target, aliases=False)
    _not_pending(key, usable=False)
    return key


def _alias_room(store: KeyStore, key: Key) -> None:
    if len(store.aliases_of(key.key_id)) >= MAX_ALIASES_PER_KEY:
        raise _limit_exceeded(f"{key.arn} already has {MAX_ALIASES_PER_KEY} aliases.")


def _key_kind(key: Key) -> str:
    if key.symmetric:
        return "symmetric"
    return "HMAC" if key.spec in _crypto.HMAC_SPECS else "asymmetric"


def _customer_alias(params: Params) -> str:
    name = _alias_name(params)
    if name.startswith("alias/aws/"):
        raise KMSError("NotAuthorizedException", "The alias/aws/ prefix is reserved for AWS.")
    return name


@_operation("CreateAlias")
def _create_alias(store: KeyStore, params: Params, prepared: Any) -> Reply:
    name = _customer_alias(params)
    if ":" in name:
        raise _validation(f"{name} contains invalid characters for an alias")
    key = _alias_target(store, params)
    if name in store.aliases:
        raise KMSError(
            "AlreadyExistsException",
            f"An alias with the name {store.alias_arn(name)} already exists",
        )
    _alias_room(store, key)
    now = store.now()
    store.aliases[name] = Alias(name, key.key_id, now, now)
    store.touch()
    return {}


@_operation("UpdateAlias")
def _update_alias(store: KeyStore, params: Params, prepared: Any) -> Reply:
    name = _customer_alias(params)
    alias = store.aliases.get(name)
    if alias is None:
        raise KMSError("NotFoundException", f"Alias {store.alias_arn(name)} is not found.")
    key = _alias_target(store, params)
    current = store.keys.get(alias.target)
    if current is not None and (_key_kind(current) != _key_kind(key) or current.usage != key.usage):
        raise _validation(
            f"{store.alias_arn(name)} points to a {_key_kind(current)} {current.usage} key; "
            f"its new target must be a key of the same type and key usage, not a "
            f"{_key_kind(key)} {key.usage} key."
        )
    if alias.target != key.key_id:
        _alias_room(store, key)
    alias.target = key.key_id
    alias.updated = store.now()
    store.touch()
    return {}


@_operation("DeleteAlias")
def _delete_alias(store: KeyStore, params: Params, prepared: Any) -> Reply:
    name = _customer_alias(params)
    if store.aliases.pop(name, None) is None:
        raise KMSError("NotFoundException", f"Alias {store.alias_arn(name)} is not found.")
    store.touch()
    return {}


@_operation("ListAliases")
def _list_aliases(store: KeyStore, params: Params, prepared: Any) -> Reply:
    store.purge()
    aliases: list[Alias | str] = list(store.aliases.values())
    if params.get("KeyId") is not None:
        key = _key(store, params, aliases=False)
        aliases = list(store.aliases_of(key.key_id))
    else:  # the predefined AWS aliases with no key yet: a name and an ARN only
        aliases.extend(store.unassociated_aliases())
    page, extra = _page(aliases, params, default=50, maximum=100)
    entries: list[Reply] = []
    for a in page:
        if isinstance(a, str):
            entries.append({"AliasName": a, "AliasArn": store.alias_arn(a)})
            continue
        entries.append(
            {
                "AliasName": a.name,
                "AliasArn": store.alias_arn(a.name),
                "TargetKeyId": a.target,
                "CreationDate": a.created,
                "LastUpdatedDate": a.updated,
            }
        )
    return {"Aliases": entries, **extra}


# --- tags and policies ------------------------------------------------------------------------


@_operation("TagResource")
def _tag_resource(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    _not_pending(key, usable=False)
    _required(params, "Tags")
    key.tags = _tags(params, key.tags)
    store.touch()
    return {}


@_operation("UntagResource")
def _untag_resource(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    _not_pending(key, usable=False)
    for name in _required(params, "TagKeys"):
        key.tags.pop(name, None)
    store.touch()
    return {}


@_operation("ListResourceTags")
def _list_resource_tags(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    page, extra = _page(list(key.tags.items()), params, default=50, maximum=50)
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in page], **extra}


def _policy_name(params: Params) -> str:
    name = params.get("PolicyName", "default")
    if name != "default":
        raise KMSError("NotFoundException", "No such policy exists")
    return "default"


@_operation("GetKeyPolicy")
def _get_key_policy(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    return {"Policy": key.policy, "PolicyName": _policy_name(params)}


@_operation("PutKeyPolicy")
def _put_key_policy(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    _policy_name(params)
    key.policy = _required(params, "Policy")  # checked by Backend.call
    store.touch()
    return {}


@_operation("ListKeyPolicies")
def _list_key_policies(store: KeyStore, params: Params, prepared: Any) -> Reply:
    _key(store, params, aliases=False)
    return {"PolicyNames": ["default"], "Truncated": False}


# --- grants -----------------------------------------------------------------------------------

MAX_GRANTS_PER_KEY = 50_000  # Developer Guide, "Resource quotas"

# the grant operations each kind of key supports (Developer Guide, "Grant operations")
_GRANT_COMMON = frozenset({"DescribeKey", "CreateGrant", "RetireGrant"})
_GRANT_OPERATIONS = {
    "symmetric": _GRANT_COMMON | CONTEXT_GRANT_OPERATIONS,
    "ENCRYPT_DECRYPT": _GRANT_COMMON
    | {"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"},
    "SIGN_VERIFY": _GRANT_COMMON | {"Sign", "Verify", "GetPublicKey"},
    "GENERATE_VERIFY_MAC": _GRANT_COMMON | {"GenerateMac", "VerifyMac"},
    "KEY_AGREEMENT": _GRANT_COMMON | {"DeriveSharedSecret", "GetPublicKey"},
}
_GRANTEE = re.compile(r"arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+|[a-z0-9.-]+\.amazonaws\.com")


def _grant_entry(store: KeyStore, grant: Grant) -> Reply:
    entry: Reply = {
        "KeyId": store.key_arn(grant.key_id),
        "GrantId": grant.grant_id,
        "CreationDate": grant.created,
        "GranteePrincipal": grant.grantee,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
    }
    if grant.name is not None:
        entry["Name"] = grant.name
    if grant.retiring is not None:
        entry["RetiringPrincipal"] = grant.retiring
    if grant.constraints:
        entry["Constraints"] = grant.constraints
    return entry


def _principal(params: Params, member: str) -> str | None:
    value = params.get(member)
    if value is not None and not _GRANTEE.fullmatch(value):
        raise _validation(f"{member} {value} is not a valid principal.")
    return value


@_operation("CreateGrant")
def _create_grant(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    grantee = _principal(params, "GranteePrincipal")
    operations = _required(params, "Operations")
    retiring = _principal(params, "RetiringPrincipal")
    if key.state == DISABLED:
        raise KMSError("DisabledException", f"{key.arn} is disabled.")
    _not_pending(key)
    kind = "symmetric" if key.symmetric else key.usage
    unsupported = sorted(set(operations) - _GRANT_OPERATIONS[kind])
    if unsupported:
        raise _validation(
            f"Grant operations {', '.join(unsupported)} are not valid for {key.arn}, a "
            f"{key.spec} {key.usage} key."
        )
    constraints = params.get("Constraints") or None
    if constraints and not key.symmetric:
        raise _validation(
            "Grant constraints are supported only for grants on symmetric encryption KMS keys."
        )
    if constraints and len(constraints) > 1:
        raise _validation(
            "Specify only one of EncryptionContextSubset and EncryptionContextEquals."
        )
    name = params.get("Name")
    for grant in key.grants.values():  # CreateGrant is idempotent for the same grant
        same = (grant.name, grant.grantee, grant.retiring, set(grant.operations)) == (
            name,
            grantee,
            retiring,
            set(operations),
        )
        if name is not None and same and grant.constraints == constraints:
            _dry_run(params)
            return {"GrantToken": grant.token, "GrantId": grant.grant_id}
    if len(key.grants) >= MAX_GRANTS_PER_KEY:
        raise _limit_exceeded(f"{key.arn} already has {MAX_GRANTS_PER_KEY} grants.")
    _dry_run(params)
    grant_id = os.urandom(32).hex()
    assert grantee is not None
    grant = Grant(
        grant_id=grant_id,
        key_id=key.key_id,
        name=name,
        created=store.now(),
        grantee=grantee,
        retiring=retiring,
        operations=tuple(dict.fromkeys(operations)),
        constraints=constraints,
        issuing_account=store.root_arn,
        token=store.grant_token(key.key_id, grant_id),
    )
    key.grants[grant_id] = grant
    store.touch()
    return {"GrantToken": grant.token, "GrantId": grant_id}


@_operation("ListGrants")
def _list_grants(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params)
    grants = list(key.grants.values())
    if params.get("GrantId") is not None:
        grants = [g for g in grants if g.grant_id == params["GrantId"]]
    if params.get("GranteePrincipal") is not None:
        grants = [g for g in grants if g.grantee == params["GranteePrincipal"]]
    page, extra = _page(grants, params, default=50, maximum=100)
    return {"Grants": [_grant_entry(store, g) for g in page], **extra}


@_operation("ListRetirableGrants")
def _list_retirable_grants(store: KeyStore, params: Params, prepared: Any) -> Reply:
    retiring = _required(params, "RetiringPrincipal")
    grants = [g for key in store for g in key.grants.values() if g.retiring == retiring]
    page, extra = _page(grants, params, default=50, maximum=100)
    return {"Grants": [_grant_entry(store, g) for g in page], **extra}


def _grant_by_id(store: KeyStore, params: Params) -> tuple[Key, Grant]:
    key = _key(store, params, aliases=False)
    grant_id = _required(params, "GrantId")
    grant = key.grants.get(grant_id)
    if grant is None:
        if not re.fullmatch(r"[0-9a-f]{64}", grant_id):
            raise KMSError("InvalidGrantIdException", f"Invalid grant ID {grant_id}.")
        raise KMSError("NotFoundException", f"Grant ID {grant_id} not found.")
    return key, grant


def retiring_grant(store: KeyStore, params: Params) -> tuple[Key, Grant]:
    """The key and grant a RetireGrant request names: by token, or by key and grant id."""
    token = params.get("GrantToken")
    if token is not None:
        return store.grant_of_token(token)
    if params.get("KeyId") is None or params.get("GrantId") is None:
        raise _validation("Specify either GrantToken, or both KeyId and GrantId.")
    return _grant_by_id(store, params)


def _drop_grant(store: KeyStore, params: Params, found: tuple[Key, Grant]) -> Reply:
    key, grant = found
    _dry_run(params)
    del key.grants[grant.grant_id]
    store.touch()
    return {}


@_operation("RetireGrant")
def _retire_grant(store: KeyStore, params: Params, prepared: Any) -> Reply:
    return _drop_grant(store, params, retiring_grant(store, params))


@_operation("RevokeGrant")
def _revoke_grant(store: KeyStore, params: Params, prepared: Any) -> Reply:
    return _drop_grant(store, params, _grant_by_id(store, params))


# --- imported key material --------------------------------------------------------------------

_IMPORT_PARAMETERS_LIFETIME = DAY  # GetParametersForImport reference: valid for 24 hours
# HMAC key material lengths KMS imports, bytes (Developer Guide, "Importing key material")
_HMAC_IMPORT_SIZES = {"HMAC_224": (28, 64), "HMAC_256": (32, 64), "HMAC_384": (48, 128)}
_HMAC_IMPORT_SIZES["HMAC_512"] = (64, 128)
_IMPORT_ID = b"localkms-import"
_IMPORTABLE_SPECS = frozenset(
    {SYMMETRIC_DEFAULT, *_crypto.HMAC_SPECS, *_crypto.RSA_SPECS, *_crypto.ECC_SPECS}
)


def _external(store: KeyStore, params: Params) -> Key:
    key = _key(store, params, aliases=False)
    if key.origin != "EXTERNAL":
        raise _origin_not_valid(key)
    _not_pending(key, usable=False)
    _not_transient(key)
    return key


def _prepare_import_parameters(params: Params) -> Callable[[], Any] | None:
    spec = params.get("WrappingKeySpec")
    if spec in _crypto.RSA_SPECS:
        return functools.partial(_crypto.generate_private_key, spec)
    return None


@_operation("GetParametersForImport", prepare=_prepare_import_parameters)
def _get_parameters_for_import(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _external(store, params)
    algorithm = _required(params, "WrappingAlgorithm")
    spec = _required(params, "WrappingKeySpec")
    if algorithm == "RSAES_PKCS1_V1_5":
        # Still in the model's AlgorithmSpec, refused for every key since October 10, 2023
        # (GetParametersForImport reference, WrappingAlgorithm). The reference gives no error
        # code: a parameter value KMS no longer accepts is a ValidationException, while its
        # UnsupportedOperationException means the operation does not apply to this key.
        raise _validation(
            "The RSAES_PKCS1_V1_5 wrapping algorithm is not supported: as of October 10, 2023, "
            "KMS does not support it. Use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, "
            "RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1."
        )
    if algorithm not in _crypto.WRAPPING_ALGORITHMS or spec not in _crypto.RSA_SPECS:
        raise KMSError(
            "UnsupportedOperationException",
            f"LocalKMS does not support the {algorithm} wrapping algorithm with {spec} "
            "wrapping keys (SM2 is for China Regions).",
        )
    # GetParametersForImport reference, WrappingAlgorithm: which algorithms wrap which material
    if key.spec in _crypto.RSA_SPECS and not algorithm.startswith("RSA_AES_KEY_WRAP"):
        raise _validation(
            f"{key.arn} is an RSA key: import its private key with an RSA_AES wrapping "
            "algorithm (RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256)."
        )
    if key.spec == "ECC_NIST_P521" and algorithm.startswith("RSAES") and spec == "RSA_2048":
        raise _validation(
            f"An RSA_2048 wrapping key cannot wrap ECC_NIST_P521 key material with {algorithm}: "
            "use an RSA_AES wrapping algorithm or a longer wrapping key."
        )
    private = prepared if prepared is not None else _crypto.generate_private_key(spec)
    assert isinstance(private, rsa.RSAPrivateKey)
    token = os.urandom(64)
    now = store.now()
    valid_to = now + _IMPORT_PARAMETERS_LIFETIME
    for old in [t for t, (_, _, until) in key.import_params.items() if until <= now]:
        del key.import_params[old]
    key.import_params[token] = (private, algorithm, valid_to)
    return {
        "KeyId": key.arn,
        "ImportToken": _b64(token),
        "PublicKey": _b64(_crypto.public_key_der(private)),
        "ParametersValidTo": valid_to,
    }


def _imported_private_key(key: Key, material: bytes) -> _crypto.PrivateKey:
    """An asymmetric key's material: a PKCS #8 DER private key of the key's spec (Developer
    Guide, "Encrypt key material")."""
    try:
        private = _crypto.load_private_key(material)
    except ValueError:
        private = None
    if isinstance(private, rsa.RSAPrivateKey):
        fits = private.key_size == _crypto.RSA_SPECS.get(key.spec)
    elif isinstance(private, ec.EllipticCurvePrivateKey) and key.spec in _crypto.ECC_SPECS:
        fits = private.curve.name == _crypto.ECC_SPECS[key.spec][0].name
    else:
        fits = False
    if private is None or not fits:
        raise KMSError(
            "IncorrectKeyMaterialException",
            f"{key.spec} key material must be a {key.spec} private key in PKCS #8 DER.",
        )
    return private


def _related_keys(store: KeyStore, key: Key) -> list[Key]:
    """A multi-Region key's primary and replica keys in every Region, itself included; a
    single-Region key alone."""
    if not key.multi_region:
        return [key]
    primary = store.peer_key(key.primary_region or store.region, key.key_id)
    if primary is None:
        return [key]
    primary_store = store.peers[primary.primary_region or store.region]
    return [
        primary,
        *filter(None, (primary_store.peer_key(r, key.key_id) for r in primary.replica_regions)),
    ]


def _known_digest(store: KeyStore, key: Key) -> str | None:
    """The SHA-256 of the key material imported before into this key or, for a multi-Region
    key, into any related key (their key material must be the same)."""
    for each in _related_keys(store, key):
        if each.imported_digest is not None:
            return each.imported_digest
    return None


def _imported_material(store: KeyStore, key: Key, material: bytes) -> _crypto.PrivateKey | None:
    """Check the unwrapped material for the key: its length or form, and the same as before
    (into this key or a related multi-Region key; for a symmetric key that has key materials,
    the caller checks which one it is); an asymmetric key's private key."""
    private = None
    if key.symmetric:
        if len(material) != 32:
            raise KMSError(
                "IncorrectKeyMaterialException",
                "Symmetric encryption key material must be 256 bits (32 bytes).",
            )
    elif key.spec not in _crypto.HMAC_SPECS:
        private = _imported_private_key(key, material)
    else:
        low, high = _HMAC_IMPORT_SIZES[key.spec]
        if not low <= len(material) <= high:
            raise KMSError(
                "IncorrectKeyMaterialException",
                f"{key.spec} key material must be {low} to {high} bytes.",
            )
    if key.imports:
        return None
    digest = hashlib.sha256(material).hexdigest()
    known = _known_digest(store, key)
    if known is not None and known != digest:
        raise KMSError(
            "IncorrectKeyMaterialException",
            f"The key material is not the key material previously imported into {key.arn}.",
        )
    key.imported_digest = digest
    return private


_SYMMETRIC_IMPORT_MEMBERS = ("ImportType", "KeyMaterialId", "KeyMaterialDescription")


def _import_type(store: KeyStore, key: Key, params: Params) -> str:
    """The ImportType of a request for a symmetric key (ImportKeyMaterial reference: by default
    NEW_KEY_MATERIAL until a first key material is imported, then EXISTING_KEY_MATERIAL; a
    replica only takes the key material of its primary), checked against the key."""
    replica = key.primary_region not in (None, store.region)
    import_type = params.get("ImportType") or (
        "EXISTING_KEY_MATERIAL" if key.imports or replica else "NEW_KEY_MATERIAL"
    )
    if import_type == "EXISTING_KEY_MATERIAL":
        if not key.imports and not replica:
            raise KMSError(
                "IncorrectKeyMaterialException",
                f"No key material is associated with {key.arn} yet: import its first key "
                "material with ImportType NEW_KEY_MATERIAL.",
            )
        return import_type
    if params.get("KeyMaterialId") is not None:
        raise _validation("You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.")
    if replica:
        raise KMSError(
            "UnsupportedOperationException",
            f"{key.arn} is a multi-Region replica key: import new key material into its primary "
            f"key in {key.primary_region}, and the same key material here with ImportType "
            "EXISTING_KEY_MATERIAL.",
        )
    pending = _pending_rotation(key)
    if pending is not None:
        raise KMSError(
            "KMSInvalidStateException",
            f"Key material {pending.material_id.hex()} of {key.arn} is pending rotation: rotate "
            "the key (RotateKeyOnDemand) or delete that key material first.",
        )
    return import_type


def _pending_rotation(key: Key) -> ImportedMaterial | None:
    """The imported key material of ``key`` waiting for RotateKeyOnDemand, if there is one."""
    for record in key.imports.values():
        if record.state in PENDING_ROTATION_STATES:
            return record
    return None


def _import_symmetric(
    key: Key, import_type: str, material: bytes, material_id: bytes, params: Params, now: float
) -> ImportedMaterial:
    """Record a symmetric key's imported material: its first, new material for rotation
    (``PENDING_ROTATION``), or one associated with it before, imported again."""
    record = key.imports.get(material_id)
    if key.imports and import_type == "NEW_KEY_MATERIAL":
        if record is not None:
            raise KMSError(
                "IncorrectKeyMaterialException",
                f"The key material is already associated with {key.arn}: import it with "
                "ImportType EXISTING_KEY_MATERIAL.",
            )
        record = ImportedMaterial(material_id, "PENDING_ROTATION", now)
    elif key.imports and record is None:
        raise KMSError(
            "IncorrectKeyMaterialException",
            f"The key material is not the key material previously imported into {key.arn}.",
        )
    elif record is None:  # the first: current and permanently associated
        record = ImportedMaterial(material_id, "CURRENT", now)
    key.imports[material_id] = record
    record.material = _crypto.SymmetricMaterial.new(
        key.raw_id, record.created, record.rotation_type, material_id=material_id, secret=material
    )
    if params.get("KeyMaterialDescription") is not None:  # else the last one given stays
        record.description = params["KeyMaterialDescription"]
    return record


@_operation("ImportKeyMaterial")
def _import_key_material(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _external(store, params)
    token = _required(params, "ImportToken")
    wrapped = _required(params, "EncryptedKeyMaterial")
    found = key.import_params.get(token)
    if found is None:
        raise KMSError(
            "InvalidImportTokenException", f"The import token is not valid for {key.arn}."
        )
    private, algorithm, until = found
    now = store.now()
    if now >= until:
        raise KMSError("ExpiredImportTokenException", "The import token has expired.")
    valid_to = params.get("ValidTo")
    model = params.get("ExpirationModel") or (
        "KEY_MATERIAL_EXPIRES" if valid_to is not None else "KEY_MATERIAL_DOES_NOT_EXPIRE"
    )
    if (model == "KEY_MATERIAL_EXPIRES") != (valid_to is not None):
        raise _validation(
            "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES, and not "
            "allowed when it is KEY_MATERIAL_DOES_NOT_EXPIRE."
        )
    if valid_to is not None and valid_to <= now:
        raise _validation("ValidTo must be in the future.")
    import_type = None
    if key.symmetric:
        key.expire_imports(now)
        import_type = _import_type(store, key, params)
    else:  # Developer Guide, "Import key material": one key material only, no ImportType
        _symmetric_members_only(key, params)
    try:
        material = _crypto.unwrap_key_material(private, algorithm, wrapped)
    except ValueError:
        raise KMSError("InvalidCiphertextException", "") from None
    private_key = _imported_material(store, key, material)
    material_id = hashlib.sha256(_IMPORT_ID + key.raw_id + material).digest()
    if params.get("KeyMaterialId") not in (None, material_id.hex()):
        raise KMSError(
            "IncorrectKeyMaterialException", "KeyMaterialId does not name this key material."
        )
    if import_type is not None:
        record = _import_symmetric(key, import_type, material, material_id, params, now)
        record.expiration_model, record.valid_to = model, valid_to
        if key.multi_region and record.state in PENDING_ROTATION_STATES:
            # ImportKeyMaterial reference: new material of a multi-Region primary is then
            # imported into each replica (EXISTING_KEY_MATERIAL) before the rotation
            for replica in _related_keys(store, key)[1:]:
                replica.imports.setdefault(
                    material_id, ImportedMaterial(material_id, "PENDING_ROTATION", now)
                )
        if key.sync_imports() and key.state == PENDING_IMPORT:
            key.state = ENABLED
        store.touch()
        return {"KeyId": key.arn, "KeyMaterialId": material_id.hex()}
    if private_key is not None:
        key.private_key = private_key
        key.public_der = _crypto.public_key_der(private_key)
    else:
        key.hmac_secret = material
    key.expiration_model = model
    key.valid_to = valid_to
    if key.state == PENDING_IMPORT:
        key.state = ENABLED
    store.touch()
    return {"KeyId": key.arn, "KeyMaterialId": material_id.hex()}


def _symmetric_members_only(key: Key, params: Params) -> None:
    for member in _SYMMETRIC_IMPORT_MEMBERS:
        if params.get(member) is not None:
            raise KMSError(
                "UnsupportedOperationException",
                f"{member} is only for symmetric encryption keys: {key.arn} key spec is "
                f"{key.spec}.",
            )


@_operation("DeleteImportedKeyMaterial")
def _delete_imported_key_material(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """DeleteImportedKeyMaterial reference: the current key material, or the one
    ``KeyMaterialId`` names; one pending rotation is no longer associated with the key."""
    key = _external(store, params)
    reply: Reply = {"KeyId": key.arn}
    if not key.imports:  # an asymmetric or HMAC key: its one key material
        _symmetric_members_only(key, {"KeyMaterialId": params.get("KeyMaterialId")})
        if key.current is not None:
            reply["KeyMaterialId"] = key.current.hex_id
        if key.state != PENDING_IMPORT:  # no effect on a key pending import (key state table)
            key.drop_imported_material()
            store.touch()
        return reply
    named = params.get("KeyMaterialId")
    record = next(
        (
            r
            for r in key.imports.values()
            if r.material_id.hex() == named or (named is None and r.state == "CURRENT")
        ),
        None,
    )
    if record is None:
        raise KMSError(
            "NotFoundException", f"Key material {named} is not associated with {key.arn}."
        )
    reply["KeyMaterialId"] = record.material_id.hex()
    replica = key.primary_region not in (None, store.region)
    if record.state in PENDING_ROTATION_STATES and not replica:
        # not associated with the key: gone, from a multi-Region primary's replicas too
        # (DeleteImportedKeyMaterial reference, multi-Region symmetric encryption keys)
        for each in _related_keys(store, key):
            each.imports.pop(record.material_id, None)
    record.material = record.valid_to = record.expiration_model = None
    key.sync_imports()
    store.touch()
    return reply


# --- custom key stores (simulated) -------------------------------------------------------------

MAX_CUSTOM_KEY_STORES = 10  # Developer Guide, "Resource quotas"
_XKS_MEMBERS = {  # request member -> XksProxyConfiguration member
    "XksProxyConnectivity": "Connectivity",
    "XksProxyUriEndpoint": "UriEndpoint",
    "XksProxyUriPath": "UriPath",
    "XksProxyVpcEndpointServiceName": "VpcEndpointServiceName",
    "XksProxyVpcEndpointServiceOwner": "VpcEndpointServiceOwner",
}


def _xks_configuration(params: Params, current: dict[str, str] | None) -> dict[str, str]:
    config = dict(current or {})
    for member, name in _XKS_MEMBERS.items():
        if params.get(member) is not None:
            config[name] = params[member]
    credential = params.get("XksProxyAuthenticationCredential")
    if credential is not None:  # the secret access key is checked by the proxy, not kept
        config["AccessKeyId"] = credential["AccessKeyId"]
    return config


def _check_store_name(store: KeyStore, name: str, store_id: str | None = None) -> None:
    for cks in store.custom_key_stores.values():
        if cks.name == name and cks.store_id != store_id:
            raise KMSError(
                "CustomKeyStoreNameInUseException",
                f"A custom key store named {name} already exists in this account and Region.",
            )


@_operation("CreateCustomKeyStore")
def _create_custom_key_store(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """CreateCustomKeyStore reference, simulated: the cluster or proxy named is taken to exist
    and to answer; the store is created DISCONNECTED."""
    name = _required(params, "CustomKeyStoreName")
    store_type = params.get("CustomKeyStoreType", "AWS_CLOUDHSM")
    _check_store_name(store, name)
    if store_type == "AWS_CLOUDHSM":
        for member in ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword"):
            _required(params, member)
        cluster = params["CloudHsmClusterId"]
        if any(c.cluster_id == cluster for c in store.custom_key_stores.values()):
            raise KMSError(
                "CloudHsmClusterInUseException",
                f"CloudHSM cluster {cluster} is associated with another custom key store.",
            )
        xks = None
    else:
        for member in (
            "XksProxyUriEndpoint",
            "XksProxyUriPath",
            "XksProxyAuthenticationCredential",
            "XksProxyConnectivity",
        ):
            _required(params, member)
        xks = _xks_configuration(params, None)
        if any(
            c.xks is not None
            and (c.xks["UriEndpoint"], c.xks["UriPath"]) == (xks["UriEndpoint"], xks["UriPath"])
            for c in store.custom_key_stores.values()
        ):
            raise KMSError(
                "XksProxyUriInUseException",
                "The proxy endpoint and path are used by another external key store.",
            )
    if len(store.custom_key_stores) >= MAX_CUSTOM_KEY_STORES:
        raise _limit_exceeded(
            f"The account already has {MAX_CUSTOM_KEY_STORES} custom key stores in this Region."
        )
    store_id = "cks-" + os.urandom(9).hex()[:17]
    cks = store.custom_key_stores[store_id] = CustomKeyStore(
        store_id,
        name,
        store_type,
        store.now(),
        cluster_id=params.get("CloudHsmClusterId"),
        trust_anchor=params.get("TrustAnchorCertificate"),
        xks=xks,
    )
    if xks is None:  # the simulated cluster's kmsuser has the password given
        cks.password_digest = cks.kmsuser_digest = cks.digest(params["KeyStorePassword"])
    store.touch()
    return {"CustomKeyStoreId": store_id}


@_operation("DescribeCustomKeyStores")
def _describe_custom_key_stores(store: KeyStore, params: Params, prepared: Any) -> Reply:
    stores = list(store.custom_key_stores.values())
    for cks in stores:
        _settle(store, cks)
    if params.get("CustomKeyStoreId") is not None:
        stores = [_custom_key_store(store, params["CustomKeyStoreId"])]
    if params.get("CustomKeyStoreName") is not None:
        stores = [c for c in stores if c.name == params["CustomKeyStoreName"]]
        if not stores:
            raise KMSError(
                "CustomKeyStoreNotFoundException",
                f"Custom key store {params['CustomKeyStoreName']} does not exist.",
            )
    page, extra = _page(stores, params, default=100, maximum=1000)
    entries = []
    for cks in page:
        entry: Reply = {
            "CustomKeyStoreId": cks.store_id,
            "CustomKeyStoreName": cks.name,
            "CustomKeyStoreType": cks.store_type,
            "ConnectionState": cks.state,
            "CreationDate": cks.created,
        }
        if cks.error_code is not None:
            entry["ConnectionErrorCode"] = cks.error_code
        if cks.cluster_id is not None:
            entry["CloudHsmClusterId"] = cks.cluster_id
            entry["TrustAnchorCertificate"] = cks.trust_anchor
        if cks.xks is not None:
            entry["XksProxyConfiguration"] = dict(cks.xks)
        entries.append(entry)
    return {"CustomKeyStores": entries, **extra}


def _keys_in(store: KeyStore, store_id: str) -> list[Key]:
    return [key for key in store if key.custom_key_store == store_id]


@_operation("ConnectCustomKeyStore")
def _connect_custom_key_store(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """Simulated: the store is CONNECTING for the store's ``connect_seconds``, then CONNECTED
    (its keys usable again) or FAILED; a store DISCONNECTING or FAILED is refused (to retry
    a FAILED store, disconnect it first), and a connected or connecting one is left as is."""
    cks = _custom_key_store(store, _required(params, "CustomKeyStoreId"))
    if cks.state in ("DISCONNECTING", "FAILED"):
        raise KMSError(
            "CustomKeyStoreInvalidStateException",
            f"Custom key store {cks.store_id} is {cks.state}: ConnectCustomKeyStore is valid "
            "only for a store that is not DISCONNECTING or FAILED.",
        )
    if cks.state == "DISCONNECTED":
        cks.state = "CONNECTING"
        cks.settles_at = store.now() + store.connect_seconds
        store.touch()
    return {}


@_operation("DisconnectCustomKeyStore")
def _disconnect_custom_key_store(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """The store is DISCONNECTING for the store's ``connect_seconds``, then DISCONNECTED;
    its keys are Unavailable (key state table) at once, until it is connected again."""
    cks = _custom_key_store(store, _required(params, "CustomKeyStoreId"))
    if cks.state in ("DISCONNECTING", "DISCONNECTED"):
        raise KMSError(
            "CustomKeyStoreInvalidStateException",
            f"Custom key store {cks.store_id} is already {cks.state}.",
        )
    cks.state, cks.error_code = "DISCONNECTING", None
    cks.settles_at = store.now() + store.connect_seconds
    for key in _keys_in(store, cks.store_id):
        if key.state == CREATING:  # made, whatever its time: the store goes offline
            key.state, key.settled_state, key.settles_at = key.settled_state or ENABLED, None, None
        if key.state in (ENABLED, DISABLED):
            key.offline_state, key.state = key.state, UNAVAILABLE
    store.touch()
    return {}


def _disconnected(cks: CustomKeyStore, operation: str) -> None:
    if cks.state != "DISCONNECTED":
        raise KMSError(
            "CustomKeyStoreInvalidStateException",
            f"Custom key store {cks.store_id} is {cks.state}: disconnect it before {operation}.",
        )


@_operation("UpdateCustomKeyStore")
def _update_custom_key_store(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """A new name at any time; any other setting only while the store is disconnected."""
    cks = _custom_key_store(store, _required(params, "CustomKeyStoreId"))
    settings = [m for m in params if m not in ("CustomKeyStoreId", "NewCustomKeyStoreName")]
    if settings:
        _disconnected(cks, "UpdateCustomKeyStore")
    if settings and cks.store_type == "AWS_CLOUDHSM" and any(m in _XKS_MEMBERS for m in settings):
        raise _validation("The XksProxy settings are for external key stores.")
    if cks.xks is not None and params.get("KeyStorePassword") is not None:
        raise _validation("KeyStorePassword is for CloudHSM key stores.")
    if params.get("NewCustomKeyStoreName") is not None:
        _check_store_name(store, params["NewCustomKeyStoreName"], cks.store_id)
        cks.name = params["NewCustomKeyStoreName"]
    if params.get("CloudHsmClusterId") is not None:
        cks.cluster_id = params["CloudHsmClusterId"]
    if params.get("KeyStorePassword") is not None:  # what KMS holds, not the cluster's
        cks.password_digest = cks.digest(params["KeyStorePassword"])
        if cks.kmsuser_digest is None:  # a store from an older state file: taken as right
            cks.kmsuser_digest = cks.password_digest
    if cks.xks is not None:
        cks.xks = _xks_configuration(params, cks.xks)
    store.touch()
    return {}


@_operation("DeleteCustomKeyStore")
def _delete_custom_key_store(store: KeyStore, params: Params, prepared: Any) -> Reply:
    cks = _custom_key_store(store, _required(params, "CustomKeyStoreId"))
    _disconnected(cks, "DeleteCustomKeyStore")
    if _keys_in(store, cks.store_id):
        raise KMSError(
            "CustomKeyStoreHasCMKsException",
            f"Custom key store {cks.store_id} still has KMS keys: delete them first.",
        )
    del store.custom_key_stores[cks.store_id]
    store.touch()
    return {}


# --- multi-Region keys ---------------------------------------------------------------------------


def _primary(store: KeyStore, params: Params, operation: str) -> Key:
    key = _key(store, params, aliases=False)
    if not key.multi_region or key.primary_region != store.region:
        kind = "multi-Region replica" if key.multi_region else "single-Region"
        raise KMSError(
            "UnsupportedOperationException",
            f"{key.arn} is a {kind} key: {operation} takes a multi-Region primary key.",
        )
    return key


@_operation("ReplicateKey")
def _replicate_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """ReplicateKey reference: a replica of a multi-Region primary key in another Region,
    with the same key id and key material, its own policy, description and tags. LocalKMS
    serves the Regions given to it (``regions=``); the replica is used through them."""
    key = _primary(store, params, "ReplicateKey")
    region = _required(params, "ReplicaRegion")
    _not_pending(key, usable=False)
    _not_transient(key)
    if key.state == DISABLED:
        raise KMSError("DisabledException", f"{key.arn} is disabled.")
    if region == store.region:
        raise _validation(f"ReplicaRegion {region} is the Region of the primary key.")
    if partition_of(region) != store.partition:
        # ReplicateKey reference, ReplicaRegion: "in the same Amazon Web Services partition"
        raise _validation(
            f"ReplicaRegion {region} is not in the partition of the primary key "
            f"({store.partition})."
        )
    target = store.peers.get(region)
    if target is None:
        raise KMSError(
            "UnsupportedOperationException",
            f"LocalKMS does not serve Region {region}: give it to LocalKMS in regions=.",
        )
    if key.key_id in target.keys:
        raise KMSError("AlreadyExistsException", f"{target.key_arn(key.key_id)} already exists.")
    tags = _tags(params)
    policy = params.get("Policy")
    replica = Key(
        key_id=key.key_id,
        arn=target.key_arn(key.key_id),
        spec=key.spec,
        usage=key.usage,
        created=store.now(),
        description=params.get("Description", ""),
        policy=policy if policy is not None else default_policy(store.account_id, store.partition),
        multi_region=True,
    )
    replica.tags = tags
    replica.primary_region = store.region
    if key.origin == "EXTERNAL":
        # Developer Guide, "Importing key material into multi-Region keys": KMS does not copy
        # imported key material to replicas; the same material must be imported into each
        replica.origin = "EXTERNAL"
        replica.state = PENDING_IMPORT
        replica.imported_digest = key.imported_digest
        for record in key.imports.values():  # each to import (ImportState PENDING_IMPORT)
            replica.imports[record.material_id] = ImportedMaterial(
                record.material_id,
                record.state,
                record.created,
                record.rotation_type,
                record.description,
            )
    else:
        replica.materials, replica.current = key.materials, key.current
        replica.hmac_secret, replica.private_key = key.hmac_secret, key.private_key
        replica.public_der = key.public_der
    target.add(replica)
    # ReplicateKey reference: "the new replica key has a transient key state of Creating"
    target.begin_transition(replica, CREATING)
    key.replica_regions.append(region)
    store.touch()
    return {
        "ReplicaKeyMetadata": _metadata(target, replica),
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()],
    }


@_operation("UpdatePrimaryRegion")
def _update_primary_region(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """UpdatePrimaryRegion reference: the replica in ``PrimaryRegion`` becomes the primary key
    and this one a replica; automatic rotation follows the primary."""
    key = _primary(store, params, "UpdatePrimaryRegion")
    region = _required(params, "PrimaryRegion")
    _not_pending(key, usable=False)
    new = store.peer_key(region, key.key_id)
    if new is None or region not in key.replica_regions:
        raise KMSError(
            "NotFoundException",
            f"{key.arn} has no replica key in {region}.",
        )
    store.peers[region].settle(new)
    # Developer Guide, "Change the primary key in a set of multi-Region keys": "Both the
    # primary key and the replica key must be in the Enabled key state when the operation
    # starts"
    for side in (key, new):
        if side.state == DISABLED:
            raise KMSError("DisabledException", f"{side.arn} is disabled.")
        _not_pending(side)
        _not_transient(side)
    new.replica_regions = [store.region, *(r for r in key.replica_regions if r != region)]
    key.replica_regions = []
    for each in new.replica_regions:
        replica = store.peer_key(each, key.key_id)
        if replica is not None:
            replica.primary_region = region
            store.peers[each].touch()
    new.primary_region = region
    new.rotation_period, new.next_rotation = key.rotation_period, key.next_rotation
    key.rotation_period = key.next_rotation = None
    # UpdatePrimaryRegion reference: "The old and new primary keys have a transient key state
    # of Updating. The original key state is restored when the update is complete."
    store.peers[region].begin_transition(new, UPDATING)
    store.begin_transition(key, UPDATING)
    return {}


# --- last use ---------------------------------------------------------------------------------

_EVENT_IDS = uuid.UUID("6c6f6361-6c6b-4d73-a000-6576656e7473")  # event ids from request ids


@_operation("GetKeyLastUsage")
def _get_key_last_usage(store: KeyStore, params: Params, prepared: Any) -> Reply:
    """GetKeyLastUsage reference: the last successful cryptographic operation with the key,
    tracked from the key's creation. LocalKMS has no CloudTrail: the event id is derived from
    the request id."""
    key = _key(store, params, aliases=False)
    reply: Reply = {
        "KeyId": key.arn,
        "TrackingStartDate": key.created,
        "KeyCreationDate": key.created,
    }
    if key.last_used is not None:
        operation, moment, request_id = key.last_used
        reply["KeyLastUsage"] = {
            "Operation": operation,
            "Timestamp": moment,
            "CloudTrailEventId": str(uuid.uuid5(_EVENT_IDS, request_id)),
            "KmsRequestId": request_id,
        }
    return reply


# --- rotation ---------------------------------------------------------------------------------


def _rotate(store: KeyStore, key: Key, rotation_type: str, now: float) -> None:
    key.add_material(_crypto.SymmetricMaterial.new(key.raw_id, now, rotation_type))
    for region in key.replica_regions:  # the replicas share the materials: the current too
        replica = store.peer_key(region, key.key_id)
        if replica is not None:
            replica.current = key.current
            store.peers[region].touch()
    store.touch()


def _rotate_if_due(key: Key, store: KeyStore) -> None:
    """Automatic rotation, performed lazily when the key is next used after its date."""
    now = store.now()
    if key.next_rotation is None or now < key.next_rotation or key.rotation_period is None:
        return
    _rotate(store, key, "AUTOMATIC", key.next_rotation)
    period = key.rotation_period * DAY
    while key.next_rotation <= now:
        key.next_rotation += period


def _rotatable(store: KeyStore, params: Params, operation: str, *, imported: bool = False) -> Key:
    # the key state first, then the key type (Developer Guide, "Key states of AWS KMS keys":
    # a disabled key answers DisabledException whatever its type); with ``imported``, a
    # symmetric key with imported key material too (RotateKeyOnDemand)
    key = _key(store, params, aliases=False)
    if key.state == DISABLED:
        raise KMSError("DisabledException", f"{key.arn} is disabled.")
    external = imported and key.origin == "EXTERNAL"
    _not_pending(key, usable=external)
    _not_transient(key)
    if key.origin != "AWS_KMS" and not external:
        raise _origin_not_valid(key)
    _symmetric_only(key, operation)
    if key.primary_region not in (None, store.region):
        raise KMSError(
            "UnsupportedOperationException",
            f"{key.arn} is a multi-Region replica key: call {operation} on its primary key "
            f"in {key.primary_region}.",
        )
    return key


@_operation("EnableKeyRotation")
def _enable_key_rotation(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _rotatable(store, params, "EnableKeyRotation")
    period = params.get("RotationPeriodInDays", 365)
    if key.rotation_period != period:
        key.rotation_period = period
        key.next_rotation = store.now() + period * DAY
    store.touch()
    return {}


@_operation("DisableKeyRotation")
def _disable_key_rotation(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _rotatable(store, params, "DisableKeyRotation")
    key.rotation_period = key.next_rotation = None
    store.touch()
    return {}


@_operation("GetKeyRotationStatus")
def _get_key_rotation_status(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    if key.origin != "AWS_KMS":
        raise _origin_not_valid(key)
    if not key.symmetric:  # automatic rotation exists only for symmetric encryption keys
        return {"KeyRotationEnabled": False, "KeyId": key.arn}
    if key.state == ENABLED:
        _rotate_if_due(key, store)
    enabled = key.rotation_period is not None and key.state not in _DELETING
    reply: Reply = {"KeyRotationEnabled": enabled, "KeyId": key.arn}
    if enabled:
        reply["RotationPeriodInDays"] = key.rotation_period
        reply["NextRotationDate"] = key.next_rotation
    return reply


@_operation("RotateKeyOnDemand")
def _rotate_key_on_demand(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _rotatable(store, params, "RotateKeyOnDemand", imported=True)
    now = store.now()
    pending = None
    if key.origin == "EXTERNAL":
        # RotateKeyOnDemand reference: a key with imported key material rotates to new key
        # material imported before, in state PENDING_ROTATION
        key.expire_imports(now)
        pending = _pending_rotation(key)
        if pending is None or pending.material is None:
            raise KMSError(
                "KMSInvalidStateException",
                f"{key.arn} has no imported key material pending rotation: import new key "
                "material (ImportType NEW_KEY_MATERIAL) first.",
            )
    materials = key.imports.values() if key.imports else key.materials.values()
    done = sum(m.rotation_type == "ON_DEMAND" for m in materials)
    if done >= MAX_ON_DEMAND_ROTATIONS:
        raise KMSError(
            "LimitExceededException",
            f"{key.arn} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
        )
    if pending is None:
        _rotate(store, key, "ON_DEMAND", now)
        return {"KeyId": key.arn}
    if _rotation_state(store, key, pending) != "PENDING_ROTATION":
        raise KMSError(
            "KMSInvalidStateException",
            f"Key material {pending.material_id.hex()} of {key.arn} is not imported into "
            "every replica key yet.",
        )
    for each in _related_keys(store, key):  # a multi-Region key's replicas rotate with it
        record = each.imports[pending.material_id]
        assert record.material is not None
        for other in each.imports.values():
            if other.state == "CURRENT":
                other.state = "NON_CURRENT"
        record.state, record.created, record.rotation_type = "CURRENT", now, "ON_DEMAND"
        record.material = _crypto.SymmetricMaterial.new(
            each.raw_id,
            now,
            "ON_DEMAND",
            material_id=record.material_id,
            secret=record.material.secret,
        )
        each.sync_imports()
    for peer in store.peers.values():
        peer.touch()
    return {"KeyId": key.arn}


def _rotation_state(store: KeyStore, key: Key, record: ImportedMaterial) -> str:
    """A key material's KeyMaterialState: new material of a multi-Region primary is
    PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every replica has it imported
    (RotationsListEntry)."""
    if record.state != "PENDING_ROTATION" or key.primary_region != store.region:
        return record.state
    for replica in _related_keys(store, key)[1:]:
        replica.expire_imports(store.now())
        theirs = replica.imports.get(record.material_id)
        if theirs is None or theirs.material is None:
            return "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
    return record.state


@_operation("ListKeyRotations")
def _list_key_rotations(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params, aliases=False)
    _symmetric_only(key, "ListKeyRotations")
    materials: list[_crypto.SymmetricMaterial | ImportedMaterial]
    if key.imports:  # imported key materials, deleted and pending rotation ones too
        key.expire_imports(store.now())
        materials = list(key.imports.values())
    else:
        materials = list(key.materials.values())
    if params.get("IncludeKeyMaterial", "ROTATIONS_ONLY") == "ROTATIONS_ONLY":
        materials = [m for m in materials if m.rotation_type is not None]
    page, extra = _page(materials, params, default=100, maximum=1000)
    return {"Rotations": [_rotation_entry(store, key, m) for m in page], **extra}


def _rotation_entry(
    store: KeyStore, key: Key, m: _crypto.SymmetricMaterial | ImportedMaterial
) -> Reply:
    """A RotationsListEntry; an imported key material's with its ImportState,
    KeyMaterialState, expiration and description."""
    entry: Reply = {"KeyId": key.key_id, "KeyMaterialId": m.material_id.hex()}
    if isinstance(m, ImportedMaterial):
        entry["ImportState"] = "IMPORTED" if m.material is not None else "PENDING_IMPORT"
        entry["KeyMaterialState"] = _rotation_state(store, key, m)
        if m.description is not None:
            entry["KeyMaterialDescription"] = m.description
        if m.expiration_model is not None:
            entry["ExpirationModel"] = m.expiration_model
        if m.valid_to is not None:
            entry["ValidTo"] = m.valid_to
    else:
        entry["KeyMaterialState"] = "CURRENT" if m is key.current else "NON_CURRENT"
    if m.rotation_type is not None:
        entry["RotationDate"] = m.created
        entry["RotationType"] = m.rotation_type
    return entry


# --- encryption -------------------------------------------------------------------------------


def _encryption_algorithm(key: Key, algorithm: str | None, operation: str) -> str:
    _check_usage(key, "ENCRYPT_DECRYPT", operation)
    algorithm = algorithm or SYMMETRIC_DEFAULT
    allowed = (SYMMETRIC_DEFAULT,) if key.symmetric else _crypto.RSA_ENCRYPTION_ALGORITHMS
    if algorithm not in allowed:
        raise _incompatible(algorithm, key)
    return algorithm


def _encrypt(
    store: KeyStore, key: Key, plaintext: bytes, algorithm: str | None, context: bytes, op: str
) -> tuple[bytes, str, _crypto.SymmetricMaterial | None]:
    """``(ciphertext, algorithm, material)`` of ``plaintext`` under ``key``."""
    _check_state(key, store)
    algorithm = _encryption_algorithm(key, algorithm, op)
    if key.symmetric:
        material = key.current
        assert material is not None
        return _crypto.seal(material, plaintext, context), algorithm, material
    limit = _crypto.rsa_max_plaintext(_crypto.RSA_SPECS[key.spec], algorithm)
    if len(plaintext) > limit:
        raise _validation(
            f"Algorithm {algorithm} and key spec {key.spec} cannot encrypt data larger than "
            f"{limit} bytes."
        )
    return _crypto.rsa_encrypt(key.rsa_key(), algorithm, plaintext), algorithm, None


def _invalid_ciphertext() -> KMSError:
    return KMSError("InvalidCiphertextException", "")


def _incorrect_key() -> KMSError:
    return KMSError(
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )


def _decrypt(
    store: KeyStore,
    blob: bytes,
    key_param: str | None,
    algorithm: str | None,
    params: Params,
    context_member: str,
    op: str,
) -> tuple[Key, bytes, str, _crypto.SymmetricMaterial | None]:
    """``(key, plaintext, algorithm, material)`` of a ciphertext blob."""
    named = store.resolve(key_param) if key_param is not None else None
    parsed = _crypto.parse_envelope(blob)
    if named is not None and parsed is not None and algorithm in (None, SYMMETRIC_DEFAULT):
        # A symmetric ciphertext names its key: a KeyId naming any other key, of whatever
        # type or state, is the wrong key (Decrypt reference, KeyId: "If you identify a
        # different KMS key, the Decrypt operation throws an IncorrectKeyException").
        owner = store.by_raw_id(parsed[0])
        if owner is not None and owner is not named:
            raise _incorrect_key()
    if named is not None:
        _check_state(named, store)
        _check_usage(named, "ENCRYPT_DECRYPT", op)
        if not named.symmetric:
            if algorithm is None or algorithm == SYMMETRIC_DEFAULT:
                raise _incompatible(algorithm or SYMMETRIC_DEFAULT, named)
            algorithm = _encryption_algorithm(named, algorithm, op)
            _context(params, context_member, named)
            try:
                plaintext = _crypto.rsa_decrypt(named.rsa_key(), algorithm, blob)
            except ValueError:
                raise _invalid_ciphertext() from None
            return named, plaintext, algorithm, None
    if algorithm not in (None, SYMMETRIC_DEFAULT):
        if named is None:  # an asymmetric ciphertext: the key must be named
            raise _validation(
                f"KeyId is required to decrypt with the {algorithm} encryption algorithm."
            )
        raise _incompatible(algorithm, named)
    if parsed is None:
        raise _invalid_ciphertext()
    raw_id, material_id = parsed
    owner = store.by_raw_id(raw_id)
    if owner is None:
        raise _invalid_ciphertext()
    _check_state(owner, store)
    material = owner.materials.get(material_id)
    if material is None:
        raise _invalid_ciphertext()
    context = _crypto.canonical_context(params.get(context_member))
    try:
        plaintext = _crypto.open_envelope(material, blob, context)
    except InvalidTag:
        raise _invalid_ciphertext() from None
    return owner, plaintext, SYMMETRIC_DEFAULT, material


@_operation("Encrypt", quota=True)
def _encrypt_op(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params)
    plaintext = _required(params, "Plaintext")
    context = _context(params, "EncryptionContext", key)
    blob, algorithm, _ = _encrypt(
        store, key, plaintext, params.get("EncryptionAlgorithm"), context, "Encrypt"
    )
    _dry_run(params)
    return {"CiphertextBlob": _b64(blob), "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


@_operation("Decrypt", quota=True)
def _decrypt_op(store: KeyStore, params: Params, prepared: Any) -> Reply:
    _no_recipient(params)
    blob = _required(params, "CiphertextBlob")
    key, plaintext, algorithm, material = _decrypt(
        store,
        blob,
        params.get("KeyId"),
        params.get("EncryptionAlgorithm"),
        params,
        "EncryptionContext",
        "Decrypt",
    )
    _dry_run(params)
    reply = {"KeyId": key.arn, "Plaintext": _b64(plaintext), "EncryptionAlgorithm": algorithm}
    if material is not None:
        reply["KeyMaterialId"] = material.hex_id
    return reply


@_operation("ReEncrypt", quota=True)
def _re_encrypt(store: KeyStore, params: Params, prepared: Any) -> Reply:
    blob = _required(params, "CiphertextBlob")
    destination = _key(store, params, "DestinationKeyId")
    source, plaintext, source_algorithm, source_material = _decrypt(
        store,
        blob,
        params.get("SourceKeyId"),
        params.get("SourceEncryptionAlgorithm"),
        params,
        "SourceEncryptionContext",
        "ReEncrypt",
    )
    context = _context(params, "DestinationEncryptionContext", destination)
    new_blob, algorithm, material = _encrypt(
        store,
        destination,
        plaintext,
        params.get("DestinationEncryptionAlgorithm"),
        context,
        "ReEncrypt",
    )
    _dry_run(params)
    reply = {
        "CiphertextBlob": _b64(new_blob),
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": algorithm,
    }
    if source_material is not None:
        reply["SourceKeyMaterialId"] = source_material.hex_id
    if material is not None:
        reply["DestinationKeyMaterialId"] = material.hex_id
    return reply


_DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}


def _data_key(store: KeyStore, params: Params, operation: str) -> tuple[Key, bytes, bytes, str]:
    """``(key, plaintext, ciphertext, material id)`` of a new data key."""
    spec = params.get("KeySpec")
    count = params.get("NumberOfBytes")
    if (spec is None) == (count is None):
        raise _validation("Please specify either number of bytes or key spec.")
    key = _key(store, params)
    _no_recipient(params)
    _check_state(key, store)
    _encryption_algorithm(key, SYMMETRIC_DEFAULT, operation)
    material = key.current
    assert material is not None
    plaintext = os.urandom(count if count is not None else _DATA_KEY_SPECS[str(spec)])
    blob = _crypto.seal(
        material, plaintext, _crypto.canonical_context(params.get("EncryptionContext"))
    )
    _dry_run(params)
    return key, plaintext, blob, material.hex_id


@_operation("GenerateDataKey", quota=True)
def _generate_data_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key, plaintext, blob, material_id = _data_key(store, params, "GenerateDataKey")
    return {
        "CiphertextBlob": _b64(blob),
        "Plaintext": _b64(plaintext),
        "KeyId": key.arn,
        "KeyMaterialId": material_id,
    }


@_operation("GenerateDataKeyWithoutPlaintext", quota=True)
def _generate_data_key_without_plaintext(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key, _, blob, material_id = _data_key(store, params, "GenerateDataKeyWithoutPlaintext")
    return {"CiphertextBlob": _b64(blob), "KeyId": key.arn, "KeyMaterialId": material_id}


_KEY_PAIR_SPECS = frozenset({*_crypto.RSA_SPECS, *_crypto.ECC_SPECS, "ECC_NIST_EDWARDS25519"})


def _prepare_key_pair(params: Params) -> Callable[[], Any] | None:
    spec = params.get("KeyPairSpec")
    if spec in _crypto.RSA_SPECS:
        return functools.partial(_crypto.generate_key_pair, spec)
    return None


def _key_pair(store: KeyStore, params: Params, prepared: Any, operation: str) -> Reply:
    spec = _required(params, "KeyPairSpec")
    key = _key(store, params)
    _no_recipient(params)
    if spec not in _KEY_PAIR_SPECS:
        raise KMSError(
            "UnsupportedOperationException", f"LocalKMS does not generate {spec} key pairs."
        )
    _check_state(key, store)
    _encryption_algorithm(key, SYMMETRIC_DEFAULT, operation)
    private_der, public_der = prepared if prepared is not None else _crypto.generate_key_pair(spec)
    material = key.current
    assert material is not None
    context = _crypto.canonical_context(params.get("EncryptionContext"))
    blob = _crypto.seal(material, private_der, context)
    _dry_run(params, 400 if operation == "GenerateDataKeyPair" else 412)
    return {
        "PrivateKeyCiphertextBlob": _b64(blob),
        "PrivateKeyPlaintext": _b64(private_der),
        "PublicKey": _b64(public_der),
        "KeyId": key.arn,
        "KeyPairSpec": spec,
        "KeyMaterialId": material.hex_id,
    }


@_operation("GenerateDataKeyPair", quota=True, prepare=_prepare_key_pair)
def _generate_data_key_pair(store: KeyStore, params: Params, prepared: Any) -> Reply:
    return _key_pair(store, params, prepared, "GenerateDataKeyPair")


@_operation("GenerateDataKeyPairWithoutPlaintext", quota=True, prepare=_prepare_key_pair)
def _generate_data_key_pair_without_plaintext(
    store: KeyStore, params: Params, prepared: Any
) -> Reply:
    reply = _key_pair(store, params, prepared, "GenerateDataKeyPairWithoutPlaintext")
    del reply["PrivateKeyPlaintext"]
    return reply


@_operation("GenerateRandom", quota=True)
def _generate_random(store: KeyStore, params: Params, prepared: Any) -> Reply:
    count = params.get("NumberOfBytes")
    if count is None:
        raise _validation("NumberOfBytes is required.")
    cks = _connected_store(store, params)
    if cks is not None and cks.store_type != "AWS_CLOUDHSM":
        raise KMSError(
            "UnsupportedOperationException",
            "GenerateRandom takes random bytes from a CloudHSM key store's cluster only.",
        )
    _no_recipient(params)
    return {"Plaintext": _b64(os.urandom(count))}


# --- MACs, signatures, public keys, key agreement --------------------------------------------


def _mac_key(store: KeyStore, params: Params, operation: str) -> tuple[Key, str, bytes]:
    key = _key(store, params)
    message = _required(params, "Message")
    algorithm = _required(params, "MacAlgorithm")
    _check_state(key, store)
    _check_usage(key, "GENERATE_VERIFY_MAC", operation)
    hash_name, _, key_algorithm = _crypto.HMAC_SPECS[key.spec]
    if algorithm != key_algorithm:
        raise _incompatible(algorithm, key)
    assert key.hmac_secret is not None
    return key, algorithm, _crypto.mac(key.hmac_secret, hash_name, message)


@_operation("GenerateMac", quota=True)
def _generate_mac(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key, algorithm, mac = _mac_key(store, params, "GenerateMac")
    _dry_run(params)
    return {"Mac": _b64(mac), "MacAlgorithm": algorithm, "KeyId": key.arn}


@_operation("VerifyMac", quota=True)
def _verify_mac(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key, algorithm, mac = _mac_key(store, params, "VerifyMac")
    if not hmac.compare_digest(mac, _required(params, "Mac")):
        raise KMSError("KMSInvalidMacException", "")
    _dry_run(params)
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": algorithm}


_ML_DSA_MU_SIZE = 64  # the message representative mu (FIPS 204, section 6.2)


def _signing(store: KeyStore, params: Params, operation: str) -> tuple[Key, str, bytes, str]:
    """The key, algorithm, message and message type of a Sign or Verify request, checked as
    the Sign reference's MessageType describes."""
    key = _key(store, params)
    message = _required(params, "Message")
    algorithm = _required(params, "SigningAlgorithm")
    _check_state(key, store)
    _check_usage(key, "SIGN_VERIFY", operation)
    if algorithm not in _algorithms(key):
        raise _incompatible(algorithm, key)
    message_type = params.get("MessageType", "RAW")
    if key.spec == _crypto.ED25519_SPEC:
        # Sign reference, MessageType: ED25519_SHA_512 takes RAW, ED25519_PH_SHA_512 DIGEST
        if message_type != ("RAW" if algorithm == "ED25519_SHA_512" else "DIGEST"):
            raise _validation(
                f"Message type {message_type} is incompatible with algorithm {algorithm}."
            )
    elif key.spec in _crypto.ML_DSA_SPECS:
        if message_type == "DIGEST":
            raise _validation(f"Message type DIGEST is incompatible with key spec {key.spec}.")
        if message_type == "EXTERNAL_MU" and len(message) != _ML_DSA_MU_SIZE:
            raise _validation(
                f"Message must be {_ML_DSA_MU_SIZE} bytes with message type EXTERNAL_MU."
            )
    elif message_type == "EXTERNAL_MU":
        raise _validation("The EXTERNAL_MU message type is supported only with ML-DSA keys.")
    digest = message_type == "DIGEST"
    if digest and len(message) != _crypto.signing_digest_size(algorithm):
        raise _validation(f"Digest is invalid length for algorithm {algorithm}.")
    if algorithm == "ED25519_PH_SHA_512":
        raise KMSError(
            "UnsupportedOperationException",
            "LocalKMS does not support the ED25519_PH_SHA_512 signing algorithm (Ed25519ph, "
            "which the cryptography package does not offer); use ED25519_SHA_512.",
        )
    return key, algorithm, message, message_type


@_operation("Sign", quota=True)
def _sign(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key, algorithm, message, message_type = _signing(store, params, "Sign")
    assert key.private_key is not None
    signature = _crypto.sign(
        key.private_key,
        algorithm,
        message,
        digest=message_type == "DIGEST",
        mu=message_type == "EXTERNAL_MU",
    )
    _dry_run(params)
    return {"KeyId": key.arn, "Signature": _b64(signature), "SigningAlgorithm": algorithm}


@_operation("Verify", quota=True)
def _verify(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key, algorithm, message, message_type = _signing(store, params, "Verify")
    signature = _required(params, "Signature")
    assert key.private_key is not None
    valid = _crypto.verify(
        key.private_key,
        algorithm,
        message,
        signature,
        digest=message_type == "DIGEST",
        mu=message_type == "EXTERNAL_MU",
    )
    if not valid:
        raise KMSError("KMSInvalidSignatureException", "")
    _dry_run(params)
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


@_operation("GetPublicKey")
def _get_public_key(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params)
    if _key_kind(key) != "asymmetric":
        raise KMSError(
            "UnsupportedOperationException",
            f"{key.arn} key spec is {key.spec} which is not valid for GetPublicKey.",
        )
    _check_state(key, store)
    assert key.public_der is not None
    return {
        "KeyId": key.arn,
        "PublicKey": _b64(key.public_der),
        "CustomerMasterKeySpec": key.spec,
        "KeySpec": key.spec,
        "KeyUsage": key.usage,
        _ALGORITHMS_BY_USAGE[key.usage]: _algorithms(key),
    }


@_operation("DeriveSharedSecret", quota=True)
def _derive_shared_secret(store: KeyStore, params: Params, prepared: Any) -> Reply:
    key = _key(store, params)
    algorithm = _required(params, "KeyAgreementAlgorithm")
    peer_der = _required(params, "PublicKey")
    _no_recipient(params)
    _check_state(key, store)
    _check_usage(key, "KEY_AGREEMENT", "DeriveSharedSecret")
    if algorithm != "ECDH":
        raise _incompatible(algorithm, key)
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    try:
        peer = serialization.load_der_public_key(peer_der)
    except ValueError:
        raise _validation("PublicKey is not a DER-encoded SubjectPublicKeyInfo.") from None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != private.curve.name:
        raise _validation(f"PublicKey must be a public key on the curve of {key.spec}.")
    secret = private.exchange(ec.ECDH(), peer)
    _dry_run(params)
    return {
        "KeyId": key.arn,
        "SharedSecret": _b64(secret),
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": "AWS_KMS",
    }


SUPPORTED_OPERATIONS: frozenset[str] = frozenset(_HANDLERS)
"""The KMS operations LocalKMS serves; every other one answers UnsupportedOperationException."""
QUOTA_OPERATIONS: frozenset[str] = frozenset(name for name, h in _HANDLERS.items() if h[1])
"""The cryptographic operations that share the ``rate_limit`` quota."""
