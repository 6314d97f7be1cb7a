"""Authorization of each request: which key an operation uses, for which action, and the
request's condition keys; then the key policy's decision, and the key's grants where the
policy does not deny.

How this works: :func:`authorize` runs before an operation's handler. From the operation's
name it knows where its key is named (``KeyId``, ``SourceKeyId`` and ``DestinationKeyId`` for
ReEncrypt, ``TargetKeyId`` for aliases, the ciphertext itself for a Decrypt without
``KeyId``) and which ``kms:`` action each key is used for (the "Required permissions" of each
operation's API reference page: ReEncrypt needs ``kms:ReEncryptFrom`` on the source key and
``kms:ReEncryptTo`` on the destination). Operations whose permission is an IAM policy only
(CreateKey, ListKeys, ListAliases, GenerateRandom, ...) involve no key policy: the caller's
IAM policies must allow them on ``*``; CreateAlias, UpdateAlias and DeleteAlias need the
action on the alias's ARN from IAM too ("AWS KMS permissions"). A caller given without IAM
policies is taken to be allowed everything by IAM (then a key policy statement naming its
account covers it fully, as before IAM was modelled).

Per key (Developer Guide, "Determining access to a KMS key"): an explicit deny in the key
policy or in the caller's IAM policies refuses; a key policy ``Allow`` naming the caller
itself is enough in the key's account; one naming only the account (the default key
policy's delegation to IAM), or a principal of another account, allows only where an IAM
policy allows the action on the key's ARN too; else a grant may allow.

A caller from another account may use a key only with the operations the Developer Guide's
"Allowing users in other accounts to use a KMS key" lists, naming it by key ARN or alias ARN;
a key id or alias name is looked up in the caller's own account, where LocalKMS has no keys.

Grants (Developer Guide, "Grants in AWS KMS"): where the policies do not allow the request
and no policy denies it, a grant on the key whose grantee is the caller and whose
operations include the action allows it, if its encryption context constraint holds for the
request. A grant giving CreateGrant allows only grants no broader than itself (its
operations or some of them, constraints at least as strict). Grants take effect at once, so a
grant token adds nothing but must be one LocalKMS issued (``InvalidGrantTokenException``).
RetireGrant is authorized by the grant itself.

CreateKey and PutKeyPolicy apply KMS's lockout safety check: unless
``BypassPolicyLockoutSafetyCheck`` is set, the new policy must allow the caller
``kms:PutKeyPolicy`` (PutKeyPolicy reference), else ``MalformedPolicyDocumentException``.

Pure code: time comes from the store's clock.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from aiokms.emulator import _crypto
from aiokms.emulator._errors import KMSError
from aiokms.emulator._keys import Grant, Key, KeyStore
from aiokms.emulator._policy import (
    ALLOW,
    DELEGATED,
    DENY,
    Caller,
    RequestContext,
    access_denied,
    compile_policy,
)

__all__ = ["CONTEXT_GRANT_OPERATIONS", "CROSS_ACCOUNT_OPERATIONS", "authorize", "check_lockout"]

Params = dict[str, Any]
Lookup = Callable[[str], "list[str] | None"]

CROSS_ACCOUNT_OPERATIONS = frozenset(
    {
        "CreateGrant",
        "Decrypt",
        "DescribeKey",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ReEncrypt",
        "RetireGrant",
        "RevokeGrant",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)
"""The operations a principal of another account may call with a key (Developer Guide)."""

# operations whose permission is an IAM policy only: no key policy is consulted
_IAM_ONLY = frozenset(
    {
        "CreateKey",
        "ListKeys",
        "ListAliases",
        "GenerateRandom",
        "ListRetirableGrants",
        "CreateCustomKeyStore",
        "ConnectCustomKeyStore",
        "DeleteCustomKeyStore",
        "DescribeCustomKeyStores",
        "DisconnectCustomKeyStore",
        "UpdateCustomKeyStore",
    }
)

# operations authorized otherwise than for the action of their name on the key KeyId names
_SPECIAL = _IAM_ONLY | {
    "RetireGrant",
    "ReEncrypt",
    "Decrypt",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
}


class _Actions(dict[str, str]):
    """Operation name -> its ``kms:`` action, made once."""

    def __missing__(self, operation: str) -> str:
        action = self[operation] = "kms:" + operation
        return action


_ACTIONS = _Actions()

_ALLOWED = (ALLOW, DELEGATED)

CONTEXT_GRANT_OPERATIONS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
    }
)
"""The grant operations that take an encryption context, which grant constraints apply to."""

# where the context of each operation's encryption context is, for kms:EncryptionContext:
_CONTEXT_MEMBER = {
    "kms:ReEncryptFrom": "SourceEncryptionContext",
    "kms:ReEncryptTo": "DestinationEncryptionContext",
}

_ALGORITHM_MEMBER = {
    "kms:ReEncryptFrom": "SourceEncryptionAlgorithm",
    "kms:ReEncryptTo": "DestinationEncryptionAlgorithm",
}

_CONSTRAINT_TYPES = ("EncryptionContextEquals", "EncryptionContextSubset")

# key property condition keys of CreateKey -> (the request member, its default)
_NEW_KEY_MEMBERS = {
    "kms:keyspec": ("KeySpec", "SYMMETRIC_DEFAULT"),
    "kms:keyusage": ("KeyUsage", "ENCRYPT_DECRYPT"),
    "kms:keyorigin": ("Origin", "AWS_KMS"),
    "kms:multiregion": ("MultiRegion", False),
}

# condition key -> the request member it reads, as is
_MEMBER_KEYS = {
    "kms:signingalgorithm": "SigningAlgorithm",
    "kms:macalgorithm": "MacAlgorithm",
    "kms:keyagreementalgorithm": "KeyAgreementAlgorithm",
    "kms:messagetype": "MessageType",
    "kms:datakeypairspec": "KeyPairSpec",
    "kms:granteeprincipal": "GranteePrincipal",
    "kms:retiringprincipal": "RetiringPrincipal",
    "kms:rotationperiodindays": "RotationPeriodInDays",
    "kms:schedulekeydeletionpendingwindowindays": "PendingWindowInDays",
    "kms:bypasspolicylockoutsafetycheck": "BypassPolicyLockoutSafetyCheck",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(
    store: KeyStore, key: Key | None, params: Params, action: str, alias: str | None
) -> Lookup:
    """The request's condition keys, computed when a condition asks for one. Without a key
    (CreateKey and the other operations on no key), the key's properties are those the
    request asks for."""

    def values(name: str) -> list[str] | None:
        if name.startswith("kms:encryptioncontext:"):
            wanted = name[len("kms:encryptioncontext:") :]
            context = params.get(_CONTEXT_MEMBER.get(action, "EncryptionContext")) or {}
            found = [v for k, v in context.items() if k.lower() == wanted]
            return found or None
        if name == "kms:encryptioncontextkeys":
            context = params.get(_CONTEXT_MEMBER.get(action, "EncryptionContext")) or {}
            return list(context) or None
        if name == "kms:encryptionalgorithm":  # the default counts (condition keys page)
            member = _ALGORITHM_MEMBER.get(action, "EncryptionAlgorithm")
            return [params.get(member) or "SYMMETRIC_DEFAULT"]
        if name in _MEMBER_KEYS:
            value = params.get(_MEMBER_KEYS[name])
            return None if value is None else [_text(value)]
        if name == "kms:grantoperations":
            return list(params.get("Operations") or ()) or None
        if name == "kms:grantconstrainttype":  # the constraints a CreateGrant asks for
            return [
                kind for kind in _CONSTRAINT_TYPES if kind in (params.get("Constraints") or ())
            ] or None
        if name == "kms:requestalias":
            return [alias] if alias is not None else None
        if key is None:
            if name in _NEW_KEY_MEMBERS:
                member, default = _NEW_KEY_MEMBERS[name]
                return [_text(params.get(member, default))]
            return _request_values(store, params, name)
        if name == "kms:resourcealiases":
            return [a.name for a in store.aliases_of(key.key_id)] or None
        if name == "kms:keyspec":
            return [key.spec]
        if name == "kms:keyusage":
            return [key.usage]
        if name == "kms:keyorigin":
            return ["AWS_KMS"]
        if name == "kms:multiregion":
            return [_text(key.multi_region)]
        if name == "kms:grantisforawsresource":
            return ["false"]  # no AWS service calls LocalKMS on a caller's behalf
        if name.startswith("aws:resourcetag/"):
            wanted = name[len("aws:resourcetag/") :]
            return [v for k, v in key.tags.items() if k.lower() == wanted] or None
        return _request_values(store, params, name)

    return values


def _request_values(store: KeyStore, params: Params, name: str) -> list[str] | None:
    """The condition keys any request has, key or not."""
    if name.startswith("aws:requesttag/"):
        wanted = name[len("aws:requesttag/") :]
        tags = params.get("Tags") or ()
        return [t["TagValue"] for t in tags if t["TagKey"].lower() == wanted] or None
    if name == "aws:tagkeys":
        keys = params.get("TagKeys") or [t["TagKey"] for t in params.get("Tags") or ()]
        return list(keys) or None
    if name == "aws:securetransport":
        return ["false"]  # LocalKMS serves plain HTTP
    if name == "aws:currenttime":
        moment = datetime.datetime.fromtimestamp(store.now(), datetime.timezone.utc)
        return [moment.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if name == "aws:epochtime":
        return [str(int(store.now()))]
    return None  # kms:ViaService and the rest: not in a direct request


def _check(
    store: KeyStore, key: Key, caller: Caller, action: str, params: Params, alias: str | None
) -> None:
    """Authorize ``action`` on ``key`` ("Determining access to a KMS key"): an explicit deny
    in the key policy or the caller's IAM policies refuses; else the key policy allows a
    principal of the key's account it names, a principal it allows through the account
    (or of another account) if an IAM policy allows too, and a grant allows on its own."""
    policy = compile_policy(key.policy, store.partition)
    decision = policy.remembered(caller, action, key.arn)
    lookup = None
    if decision is None:
        lookup = _lookup(store, key, params, action, alias)
        decision = policy.decide(RequestContext(action, caller, key.arn, lookup))
    iam = caller.iam
    identity = ALLOW  # no IAM policies given: IAM allows everything
    if iam is not None:
        identity = iam.remembered(caller, action, key.arn) or iam.decide(
            RequestContext(
                action, caller, key.arn, lookup or _lookup(store, key, params, action, alias)
            )
        )
    key_allows = decision in _ALLOWED
    if identity == ALLOW and key_allows:
        return
    if decision == ALLOW and identity != DENY and caller.account == store.account_id:
        return  # the key policy names the caller: IAM need not allow too
    if decision == DENY:
        raise access_denied(caller, action, key.arn, explicit=True)
    if identity == DENY:
        raise access_denied(caller, action, key.arn, explicit=True, identity=True)
    if _granted(key, caller, action, params):
        return  # a grant allows what no policy denies
    raise access_denied(caller, action, key.arn, explicit=False, identity=key_allows)


def _check_iam(caller: Caller, action: str, resource: str, lookup: Lookup) -> None:
    """Authorize ``action`` on a resource no key policy governs (``*`` for the operations on
    no key; an alias ARN) by the caller's IAM policies alone."""
    iam = caller.iam
    if iam is None:
        return
    decision = iam.remembered(caller, action, resource)
    if decision is None:
        decision = iam.decide(RequestContext(action, caller, resource, lookup))
    if decision != ALLOW:
        raise access_denied(caller, action, resource, explicit=decision == DENY, identity=True)


def _is_grantee(principal: str, caller: Caller) -> bool:
    """Whether a grant's grantee or retiring principal is ``caller`` (an account's root ARN
    names every principal of the account in its partition, as in a key policy)."""
    return principal == caller.arn or principal == caller.root_arn or principal == caller.role_arn


def _granted(key: Key, caller: Caller, action: str, params: Params) -> bool:
    """Whether a grant on ``key`` allows ``caller`` the action, its constraints met
    (Developer Guide, "Grant constraints": they apply to the operations that take an
    encryption context)."""
    operation = action[len("kms:") :]
    for grant in key.grants.values():
        if operation not in grant.operations or not _is_grantee(grant.grantee, caller):
            continue
        if operation == "CreateGrant" and not _narrower(grant, params):
            continue
        if grant.constraints and operation in CONTEXT_GRANT_OPERATIONS:
            context = params.get(_CONTEXT_MEMBER.get(action, "EncryptionContext")) or {}
            equals = grant.constraints.get("EncryptionContextEquals")
            subset = grant.constraints.get("EncryptionContextSubset")
            if equals is not None and context != equals:
                continue
            if subset is not None and any(context.get(k) != v for k, v in subset.items()):
                continue
        return True
    return False


def _narrower(parent: Grant, params: Params) -> bool:
    """Whether the grant a CreateGrant request asks for is no broader than ``parent``, the
    grant giving the caller CreateGrant (Developer Guide, "Creating grants", Granting
    CreateGrant permission): some or all of its operations, and constraints at least as
    strict (an EncryptionContextSubset may gain pairs or become EncryptionContextEquals; an
    EncryptionContextEquals stays the same)."""
    if not set(params.get("Operations") or ()) <= set(parent.operations):
        return False
    if not parent.constraints:
        return True
    child = params.get("Constraints") or {}
    equals = parent.constraints.get("EncryptionContextEquals")
    if equals is not None:
        return child.get("EncryptionContextEquals") == equals and len(child) == 1
    required = parent.constraints.get("EncryptionContextSubset") or {}
    context = child.get("EncryptionContextEquals", child.get("EncryptionContextSubset"))
    return context is not None and all(context.get(k) == v for k, v in required.items())


def _authorize_retire(store: KeyStore, params: Params, caller: Caller) -> None:
    """RetireGrant: the grant's retiring principal, its grantee if the grant allows
    RetireGrant, or the root user of the account that issued it ("Retiring and revoking
    grants"). A grant that cannot be found is left to the handler to report."""
    try:
        token = params.get("GrantToken")
        if token is not None:
            key, grant = store.grant_of_token(token)
        else:
            key = store.resolve(params["KeyId"], aliases=False)
            grant = key.grants[params["GrantId"]]
    except (KMSError, KeyError, TypeError):
        return
    if grant.retiring is not None and _is_grantee(grant.retiring, caller):
        return
    if "RetireGrant" in grant.operations and _is_grantee(grant.grantee, caller):
        return
    if caller.arn == grant.issuing_account:
        return
    raise access_denied(caller, "kms:RetireGrant", key.arn, explicit=False)


def _named(
    store: KeyStore, ident: Any, caller: Caller, foreign: bool
) -> tuple[Key, str | None] | None:
    """The key ``ident`` names and the alias it named it by, as the caller sees it."""
    if not isinstance(ident, str):
        return None  # the handler reports the missing or malformed member
    if foreign and not ident.startswith("arn:"):
        # a key id or alias name means a key in the caller's own account
        raise KMSError(
            "NotFoundException",
            f"Key 'arn:{store.partition}:kms:{store.region}:{caller.account}:key/{ident}' "
            "does not exist",
        )
    alias = ident if ident.startswith("alias/") else _alias_of_arn(ident)
    return store.resolve(ident), alias


def _alias_of_arn(ident: str) -> str | None:
    """The alias name an alias ARN names (``None`` for a key id or key ARN)."""
    if ident.startswith("arn:") and ":alias/" in ident:
        return ident[ident.index(":alias/") + 1 :]
    return None


def authorize(store: KeyStore, operation: str, params: Params, caller: Caller) -> None:
    """Raise ``AccessDeniedException`` unless the key policies allow ``caller`` the request.

    Resolves the keys the request names first (so an unknown key is ``NotFoundException``,
    as KMS answers before it authorizes).
    """
    ident = params.get("KeyId")
    if (
        type(ident) is str
        and operation not in _SPECIAL
        and caller.account == store.account_id
        and not params.get("GrantTokens")
    ):  # the common case, in short: one key named by KeyId, in the caller's own account
        alias = ident if ident.startswith("alias/") else _alias_of_arn(ident)
        _check(store, store.resolve(ident), caller, _ACTIONS[operation], params, alias)
        return
    foreign = caller.account != store.account_id
    if operation in _IAM_ONLY:
        if foreign:
            raise KMSError(
                "AccessDeniedException",
                f"User: {caller.arn} is not authorized to perform: kms:{operation} in "
                f"account {store.account_id}: LocalKMS serves one account",
            )
        if caller.iam is not None:
            action = "kms:" + operation
            _check_iam(caller, action, "*", _lookup(store, None, params, action, None))
        return
    if foreign and operation not in CROSS_ACCOUNT_OPERATIONS:
        ident = params.get("KeyId") or params.get("TargetKeyId")
        if isinstance(ident, str) and not ident.startswith("arn:"):
            _named(store, ident, caller, foreign)  # NotFoundException, as above
        raise KMSError(
            "AccessDeniedException",
            f"User: {caller.arn} is not authorized to perform: kms:{operation} on a key of "
            f"another account",
        )
    for token in params.get("GrantTokens") or ():
        try:
            store.grant_of_token(token)
        except KMSError as exc:
            if exc.code == "InvalidGrantTokenException":
                raise
    if operation == "RetireGrant":
        _authorize_retire(store, params, caller)
        return
    if operation == "ReEncrypt":
        source = _source_key(store, params, "SourceKeyId", caller, foreign)
        destination = _named(store, params.get("DestinationKeyId"), caller, foreign)
        if source is not None:
            _check(store, source[0], caller, "kms:ReEncryptFrom", params, source[1])
        if destination is not None:
            _check(store, destination[0], caller, "kms:ReEncryptTo", params, destination[1])
        return
    if operation == "Decrypt":
        found = _source_key(store, params, "KeyId", caller, foreign)
        if found is not None:
            _check(store, found[0], caller, "kms:Decrypt", params, found[1])
        return
    action = "kms:" + operation
    if operation in ("CreateAlias", "UpdateAlias", "DeleteAlias"):
        _authorize_alias(store, operation, params, caller)
        return
    found = _named(store, params.get("KeyId"), caller, foreign)
    if found is not None:
        _check(store, found[0], caller, action, params, found[1])


def _source_key(
    store: KeyStore, params: Params, member: str, caller: Caller, foreign: bool
) -> tuple[Key, str | None] | None:
    """The key a Decrypt or ReEncrypt decrypts with: the one named, else the ciphertext's."""
    if params.get(member) is not None:
        return _named(store, params[member], caller, foreign)
    blob = params.get("CiphertextBlob")
    parsed = _crypto.parse_envelope(blob) if isinstance(blob, bytes) else None
    if parsed is None:
        return None  # the handler answers InvalidCiphertextException
    key = store.by_raw_id(parsed[0])
    return None if key is None else (key, None)


def _authorize_alias(store: KeyStore, operation: str, params: Params, caller: Caller) -> None:
    """CreateAlias: the target key; UpdateAlias: the current and the new target; DeleteAlias:
    the alias's key (each operation's "Required permissions")."""
    action = "kms:" + operation
    name = params.get("AliasName")
    if not isinstance(name, str) or not name.startswith("alias/") or name.startswith("alias/aws/"):
        return  # the handler refuses the name first
    if caller.iam is not None:  # the alias itself: IAM policies only (permissions reference)
        lookup = _lookup(store, None, params, action, None)
        _check_iam(caller, action, store.alias_arn(name), lookup)
    if operation != "CreateAlias":
        alias = store.aliases.get(name)
        current = store.keys.get(alias.target) if alias is not None else None
        if current is not None:
            _check(store, current, caller, action, params, None)
    target = params.get("TargetKeyId")
    if operation != "DeleteAlias" and isinstance(target, str):
        try:
            key = store.resolve(target, aliases=False)
        except KMSError:
            return  # the handler reports it in its own words
        _check(store, key, caller, action, params, None)


def check_lockout(policy: str, caller: Caller, key_arn: str, params: Params) -> None:
    """KMS's policy lockout safety check: the new policy must let ``caller`` change it again.

    Raises:
        KMSError: ``MalformedPolicyDocumentException`` as KMS words it.
    """
    if params.get("BypassPolicyLockoutSafetyCheck"):
        return
    context = RequestContext("kms:PutKeyPolicy", caller, key_arn, None)
    if compile_policy(policy, key_arn.split(":", 2)[1]).decide(context) not in _ALLOWED:
        raise KMSError(
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
        )
