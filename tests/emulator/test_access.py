"""Authorization of LocalKMS's requests (``aiokms.emulator._access``): identities, key
policies enforced per operation, the lockout safety check, cross-account use and
``authorize=False``; with the pure backend and, over HTTP, with botocore as the client.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.exceptions
import pytest

import aiokms
from aiokms.emulator import LocalKMS
from aiokms.emulator._errors import KMSError
from aiokms.emulator._operations import Backend
from aiokms.emulator._policy import Caller
from tests.emulator.helpers import boto_client, client_of, error_of, key_store

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = Caller.root(ACCOUNT)
ALICE = Caller.of(f"arn:aws:iam::{ACCOUNT}:user/alice")
BOB = Caller.of(f"arn:aws:iam::{ACCOUNT}:user/bob")
STRANGER = Caller.of(f"arn:aws:iam::{OTHER}:user/mallory")
ADMIN = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def call(backend: Backend, caller: Caller | None, operation: str, **params: Any) -> Any:
    wire = {
        k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in params.items()
    }
    op = backend.operation("TrentService." + operation)
    return backend.call(op, op.parse(json.dumps(wire).encode()), None, caller)


def refused(backend: Backend, caller: Caller | None, operation: str, **params: Any) -> KMSError:
    with pytest.raises(KMSError) as caught:
        call(backend, caller, operation, **params)
    return caught.value


def only_alice_policy() -> str:
    """The account may administer the key; only alice may use it, and only to encrypt."""
    admin = {**ADMIN, "Action": ["kms:Describe*", "kms:Put*", "kms:Get*", "kms:Create*"]}
    return policy(
        admin,
        {
            "Effect": "Allow",
            "Principal": {"AWS": ALICE.arn},
            "Action": ["kms:Encrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    )


def test_each_operation_is_authorized_by_the_key_policy() -> None:
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey", Policy=only_alice_policy())["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    blob = call(backend, ALICE, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    call(backend, ALICE, "GenerateDataKeyWithoutPlaintext", KeyId=key_id, KeySpec="AES_256")
    denied = refused(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x")
    assert (denied.code, denied.message) == (
        "AccessDeniedException",
        f"User: {BOB.arn} is not authorized to perform: kms:Encrypt on resource: {arn} "
        "because no resource-based policy allows the kms:Encrypt action",
    )
    # Decrypt without KeyId is authorized on the ciphertext's key
    ciphertext = base64.b64decode(blob)
    assert refused(backend, ALICE, "Decrypt", CiphertextBlob=ciphertext).code == (
        "AccessDeniedException"
    )
    assert refused(backend, ROOT, "DisableKey", KeyId=key_id).code == "AccessDeniedException"
    call(backend, BOB, "DescribeKey", KeyId=key_id)  # the account's Describe* delegation
    # an unknown key is NotFoundException before any authorization
    missing = refused(backend, BOB, "Encrypt", KeyId="alias/none", Plaintext=b"x")
    assert missing.code == "NotFoundException"


def test_an_explicit_deny_of_describe_key() -> None:
    """A key policy that denies DescribeKey is enforced (with KMS's wording)."""
    backend = Backend(key_store())
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:DescribeKey", "Resource": "*"}
    key_id = call(backend, None, "CreateKey", Policy=policy(ADMIN, deny))["KeyMetadata"]["KeyId"]
    error = refused(backend, ROOT, "DescribeKey", KeyId=key_id)
    assert error.code == "AccessDeniedException"
    assert error.message.endswith("with an explicit deny in a resource-based policy")
    call(backend, ROOT, "Encrypt", KeyId=key_id, Plaintext=b"x")


def test_re_encrypt_needs_from_and_to() -> None:
    """ReEncrypt reference, Required permissions: kms:ReEncryptFrom on the source key and
    kms:ReEncryptTo on the destination key."""
    backend = Backend(key_store())
    source = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    only_from = policy(
        {**ADMIN, "Action": ["kms:Describe*", "kms:Put*", "kms:Encrypt", "kms:ReEncryptFrom"]}
    )
    destination = call(backend, None, "CreateKey", Policy=only_from)["KeyMetadata"]["KeyId"]
    blob = base64.b64decode(
        call(backend, ROOT, "Encrypt", KeyId=source, Plaintext=b"x")["CiphertextBlob"]
    )
    error = refused(backend, ROOT, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=destination)
    assert "kms:ReEncryptTo" in error.message
    call(backend, ROOT, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=source)
    other = base64.b64decode(
        call(backend, ROOT, "Encrypt", KeyId=destination, Plaintext=b"x")["CiphertextBlob"]
    )
    call(backend, ROOT, "ReEncrypt", CiphertextBlob=other, DestinationKeyId=source)


def test_conditions_read_the_request() -> None:
    """kms:EncryptionContext:, kms:RequestAlias and kms:CallerAccount from real requests."""
    backend = Backend(key_store())
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": ALICE.arn},
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:EncryptionContext:AppName": "ExampleApp",
                "kms:RequestAlias": "alias/app",
                "kms:CallerAccount": ACCOUNT,
            }
        },
    }
    admin = {**ADMIN, "Action": ["kms:Put*", "kms:CreateAlias"]}
    key_id = call(backend, None, "CreateKey", Policy=policy(admin, statement))["KeyMetadata"][
        "KeyId"
    ]
    call(backend, None, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    good = {"AppName": "ExampleApp"}
    call(backend, ALICE, "Encrypt", KeyId="alias/app", Plaintext=b"x", EncryptionContext=good)
    for key, context in [("alias/app", {"AppName": "Other"}), (key_id, good), ("alias/app", {})]:
        error = refused(
            backend, ALICE, "Encrypt", KeyId=key, Plaintext=b"x", EncryptionContext=context
        )
        assert error.code == "AccessDeniedException", (key, context)


def test_lockout_safety_check() -> None:
    """PutKeyPolicy and CreateKey reference, BypassPolicyLockoutSafetyCheck: KMS refuses a
    policy that would not let the caller call PutKeyPolicy again, unless bypassed."""
    backend = Backend(key_store())
    deny_all = policy({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"})
    lockout = (
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
    )
    error = refused(backend, ROOT, "CreateKey", Policy=deny_all)
    assert (error.code, error.message) == lockout
    key_id = call(backend, ROOT, "CreateKey")["KeyMetadata"]["KeyId"]
    error = refused(backend, ROOT, "PutKeyPolicy", KeyId=key_id, Policy=deny_all)
    assert (error.code, error.message) == lockout
    for_alice = policy({**ADMIN, "Principal": {"AWS": ALICE.arn}})
    assert (
        refused(backend, BOB, "PutKeyPolicy", KeyId=key_id, Policy=for_alice).message
        == (lockout[1])
    )
    call(backend, ALICE, "PutKeyPolicy", KeyId=key_id, Policy=for_alice)
    call(
        backend,
        ALICE,
        "PutKeyPolicy",
        KeyId=key_id,
        Policy=deny_all,
        BypassPolicyLockoutSafetyCheck=True,
    )
    assert refused(backend, ALICE, "PutKeyPolicy", KeyId=key_id, Policy=for_alice).code == (
        "AccessDeniedException"
    )


def test_another_account_uses_a_key_by_arn_only() -> None:
    """Developer Guide, "Allowing users in other accounts to use a KMS key": the key policy
    must allow the other account, which names the key by its ARN, and only the cryptographic
    and a few read operations work across accounts."""
    backend = Backend(key_store())
    shared = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": ["kms:Encrypt", "kms:DescribeKey", "kms:DisableKey"],
        "Resource": "*",
    }
    key_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    assert refused(backend, STRANGER, "DescribeKey", KeyId=arn).code == "AccessDeniedException"
    call(backend, ROOT, "PutKeyPolicy", KeyId=key_id, Policy=policy(ADMIN, shared))
    call(backend, STRANGER, "DescribeKey", KeyId=arn)
    call(backend, STRANGER, "Encrypt", KeyId=arn, Plaintext=b"x")
    error = refused(backend, STRANGER, "DescribeKey", KeyId=key_id)
    assert (error.code, error.message) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:us-east-1:{OTHER}:key/{key_id}' does not exist",
    )
    assert refused(backend, STRANGER, "DisableKey", KeyId=arn).code == "AccessDeniedException"
    assert refused(backend, STRANGER, "CreateKey").code == "AccessDeniedException"


def test_aws_managed_keys_are_used_through_their_service_only() -> None:
    """The AWS managed key policy allows kms:Encrypt only with kms:ViaService: a direct call
    is denied, reading the key's metadata is allowed."""
    backend = Backend(key_store())
    call(backend, ROOT, "DescribeKey", KeyId="alias/aws/ebs")
    assert refused(backend, ROOT, "Encrypt", KeyId="alias/aws/ebs", Plaintext=b"x").code == (
        "AccessDeniedException"
    )
    assert (
        refused(
            backend,
            ROOT,
            "DisableKey",
            KeyId=call(backend, ROOT, "DescribeKey", KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"],
        ).code
        == "AccessDeniedException"
    )


def test_authorize_false_serves_every_signed_request() -> None:
    backend = Backend(key_store(), authorize=False)
    deny_all = policy({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"})
    key_id = call(backend, BOB, "CreateKey", Policy=deny_all)["KeyMetadata"]["KeyId"]
    call(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x")
    call(backend, STRANGER, "DescribeKey", KeyId=key_id)


async def test_identities_over_http() -> None:
    """Each access key signs as its principal; the default credentials are the root user."""
    identities = {
        "AKIDALICE": ("alice-secret", ALICE.arn),
        "AKIDBOB": ("bob-secret", BOB.arn),
    }
    async with LocalKMS(identities=identities) as local:
        async with client_of(local) as root:
            key_id = (await root.create_key(Policy=only_alice_policy()))["KeyMetadata"]["KeyId"]
        url = local.endpoint_url
        async with boto_client(url, "AKIDALICE", "alice-secret") as alice:
            await alice.encrypt(KeyId=key_id, Plaintext=b"x")
        async with boto_client(url, "AKIDBOB", "bob-secret") as bob:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await bob.encrypt(KeyId=key_id, Plaintext=b"x")
            assert error_of(caught.value) == ("AccessDeniedException", 400)
            assert caught.value.response["Error"]["Message"].startswith(f"User: {BOB.arn} ")
        async with boto_client(url, "AKIDBOB", "wrong") as forger:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await forger.list_keys()
            assert error_of(caught.value) == ("InvalidSignatureException", 400)
    async with LocalKMS(identities=identities, authorize=False) as local:
        async with client_of(local) as root:
            key_id = (await root.create_key(Policy=only_alice_policy()))["KeyMetadata"]["KeyId"]
        async with boto_client(local.endpoint_url, "AKIDBOB", "bob-secret") as bob:
            await bob.encrypt(KeyId=key_id, Plaintext=b"x")


def test_identities_are_checked() -> None:
    with pytest.raises(ValueError, match=r"identities\['AKID'\]: not an IAM or STS principal"):
        LocalKMS(identities={"AKID": ("secret", "alice")})
    with pytest.raises(ValueError, match="also access_key"):
        LocalKMS(access_key="AKID", secret_key="s", identities={"AKID": ("t", ALICE.arn)})


# --- IAM policies ------------------------------------------------------------------------------


def statement(effect: str, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def with_iam(caller: Caller, *statements: dict[str, Any]) -> Caller:
    """``caller`` with one IAM policy of these statements (none: an empty list of policies)."""
    return Caller.of(caller.arn, [policy(*statements)] if statements else [])


KEYS = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"


def test_iam_policies_decide_where_the_key_policy_delegates_to_the_account() -> None:
    """Developer Guide, "Using IAM policies with AWS KMS": with the default key policy, a
    principal may do what its IAM policies allow on the key's ARN; an explicit deny in them
    refuses, worded as KMS words an identity-based policy's refusal."""
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    alice = with_iam(
        ALICE,
        statement("Allow", ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], KEYS),
        statement("Deny", "kms:DescribeKey", arn),
    )
    blob = call(backend, alice, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    call(backend, alice, "Decrypt", CiphertextBlob=blob)
    error = refused(backend, alice, "GenerateDataKey", KeyId=key_id, KeySpec="AES_256")
    assert (error.code, error.message) == (
        "AccessDeniedException",
        f"User: {ALICE.arn} is not authorized to perform: kms:GenerateDataKey on resource: "
        f"{arn} because no identity-based policy allows the kms:GenerateDataKey action",
    )
    error = refused(backend, alice, "DescribeKey", KeyId=key_id)
    assert error.message == (
        f"User: {ALICE.arn} is not authorized to perform: kms:DescribeKey on resource: "
        f"{arn} with an explicit deny in an identity-based policy"
    )
    # a principal given no IAM policies at all: allowed nothing through the account
    nobody = with_iam(BOB)
    assert (
        "no identity-based policy" in refused(backend, nobody, "DescribeKey", KeyId=key_id).message
    )
    # a principal given without IAM policies: IAM taken to allow everything (as before)
    call(backend, BOB, "DescribeKey", KeyId=key_id)
    call(backend, BOB, "GenerateDataKey", KeyId=key_id, KeySpec="AES_256")


def test_a_key_policy_naming_the_principal_needs_no_iam_policy() -> None:
    """ "Determining access to a KMS key": a key policy statement that names the principal
    allows it in the key's account whatever its IAM policies allow, but not past their
    explicit deny; the key policy's own refusal keeps its resource-based wording."""
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey", Policy=only_alice_policy())["KeyMetadata"]["KeyId"]
    alice = with_iam(ALICE)
    call(backend, alice, "Encrypt", KeyId=key_id, Plaintext=b"x")
    error = refused(backend, alice, "DescribeKey", KeyId=key_id)  # the account statement only
    assert error.message.endswith(
        "because no identity-based policy allows the kms:DescribeKey action"
    )
    error = refused(backend, alice, "Decrypt", KeyId=key_id, CiphertextBlob=b"x" * 64)
    assert error.message.endswith("because no resource-based policy allows the kms:Decrypt action")
    denied = with_iam(ALICE, statement("Deny", "kms:Encrypt"))
    error = refused(backend, denied, "Encrypt", KeyId=key_id, Plaintext=b"x")
    assert error.message.endswith("with an explicit deny in an identity-based policy")


def test_operations_on_no_key_need_an_iam_policy() -> None:
    """ "AWS KMS permissions": CreateKey, ListKeys, ListAliases, GenerateRandom and the other
    operations on no key are allowed by IAM policies only, on ``"Resource": "*"``, with the
    conditions of the request (kms:KeySpec of the key CreateKey would make)."""
    backend = Backend(key_store())
    on_keys = with_iam(ALICE, statement("Allow", "kms:*", KEYS))
    for operation, params in [
        ("CreateKey", {}),
        ("ListKeys", {}),
        ("ListAliases", {}),
        ("GenerateRandom", {"NumberOfBytes": 8}),
        ("ListRetirableGrants", {"RetiringPrincipal": ALICE.arn}),
    ]:
        error = refused(backend, on_keys, operation, **params)
        assert (error.code, error.message) == (
            "AccessDeniedException",
            f"User: {ALICE.arn} is not authorized to perform: kms:{operation} on resource: * "
            f"because no identity-based policy allows the kms:{operation} action",
        )
        call(backend, BOB, operation, **params)  # no IAM policies given: allowed
    symmetric = {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}}
    creator = with_iam(
        ALICE,
        statement("Allow", ["kms:CreateKey", "kms:List*"], Condition=symmetric),
        statement("Deny", "kms:ListAliases"),
    )
    call(backend, creator, "CreateKey")
    call(backend, creator, "ListKeys")
    error = refused(backend, creator, "CreateKey", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert error.message.endswith(
        "because no identity-based policy allows the kms:CreateKey action"
    )
    error = refused(backend, creator, "ListAliases")
    assert error.message.endswith("with an explicit deny in an identity-based policy")


def test_alias_operations_need_the_alias_and_the_key() -> None:
    """ "AWS KMS permissions", CreateAlias, UpdateAlias and DeleteAlias: the action on the
    alias ARN from an IAM policy, and on the key(s) from the key policy (here through IAM)."""
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    other_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    alias_actions = ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
    keys_only = with_iam(ALICE, statement("Allow", alias_actions, KEYS))
    error = refused(backend, keys_only, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    assert error.message == (
        f"User: {ALICE.arn} is not authorized to perform: kms:CreateAlias on resource: "
        f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app because no identity-based policy allows "
        "the kms:CreateAlias action"
    )
    alias_only = with_iam(
        ALICE, statement("Allow", alias_actions, f"arn:aws:kms:*:{ACCOUNT}:alias/*")
    )
    error = refused(backend, alias_only, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    assert error.message.endswith(
        f"key/{key_id} because no identity-based policy allows the kms:CreateAlias action"
    )
    both = with_iam(
        ALICE,
        statement("Allow", alias_actions, [KEYS, f"arn:aws:kms:*:{ACCOUNT}:alias/app"]),
    )
    call(backend, both, "CreateAlias", AliasName="alias/app", TargetKeyId=key_id)
    call(backend, both, "UpdateAlias", AliasName="alias/app", TargetKeyId=other_id)
    error = refused(backend, both, "CreateAlias", AliasName="alias/other", TargetKeyId=key_id)
    assert error.message.endswith(
        "because no identity-based policy allows the kms:CreateAlias action"
    )
    call(backend, both, "DeleteAlias", AliasName="alias/app")


def test_a_grant_allows_without_iam_but_not_past_its_deny() -> None:
    """A grant allows its grantee on its own ("Grants in AWS KMS"), IAM policies or not; no
    principal has a permission that is explicitly denied, in an IAM policy too."""
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    call(
        backend,
        ROOT,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal=ALICE.arn,
        Operations=["Encrypt"],
    )
    call(backend, with_iam(ALICE), "Encrypt", KeyId=key_id, Plaintext=b"x")
    denied = with_iam(ALICE, statement("Deny", "kms:Encrypt"))
    error = refused(backend, denied, "Encrypt", KeyId=key_id, Plaintext=b"x")
    assert error.message.endswith("with an explicit deny in an identity-based policy")


def test_another_account_needs_the_key_policy_and_its_iam_policy() -> None:
    """ "Allowing users in other accounts to use a KMS key": the key policy must allow the
    other account (or its principal) AND the principal's IAM policy must allow the key."""
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    other_account = {
        "Effect": "Allow",
        "Principal": {"AWS": OTHER},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    named = {**other_account, "Principal": {"AWS": STRANGER.arn}, "Action": "kms:DescribeKey"}
    call(backend, ROOT, "PutKeyPolicy", KeyId=key_id, Policy=policy(ADMIN, other_account, named))
    no_iam = with_iam(STRANGER)
    for operation, params in [("Encrypt", {"Plaintext": b"x"}), ("DescribeKey", {})]:
        error = refused(backend, no_iam, operation, KeyId=arn, **params)
        assert error.message.endswith(
            f"because no identity-based policy allows the kms:{operation} action"
        )
        call(backend, STRANGER, operation, KeyId=arn, **params)  # no IAM policies given
    allowed = with_iam(
        STRANGER, statement("Allow", ["kms:Encrypt", "kms:DescribeKey", "kms:Decrypt"], arn)
    )
    call(backend, allowed, "Encrypt", KeyId=arn, Plaintext=b"x")
    call(backend, allowed, "DescribeKey", KeyId=arn)
    error = refused(backend, allowed, "Decrypt", KeyId=arn, CiphertextBlob=b"x" * 64)
    assert error.message.endswith("because no resource-based policy allows the kms:Decrypt action")


async def test_iam_policies_over_http() -> None:
    """``identities=`` takes a third item, the principal's IAM policies; with boto3-style
    clients (aiobotocore) and aiokms as the client."""
    alice_iam = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": KEYS},
            {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": KEYS},
        ],
    }
    identities = {
        "AKIDALICE": ("alice-secret", ALICE.arn, [alice_iam]),
        "AKIDBOB": ("bob-secret", BOB.arn),
    }
    async with LocalKMS(identities=identities, account_id=ACCOUNT, aliases=["alias/app"]) as local:
        url = local.endpoint_url
        async with boto_client(url, "AKIDALICE", "alice-secret") as alice:
            await alice.encrypt(KeyId="alias/app", Plaintext=b"x")
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await alice.list_keys()
            assert error_of(caught.value) == ("AccessDeniedException", 400)
            assert caught.value.response["Error"]["Message"] == (
                f"User: {ALICE.arn} is not authorized to perform: kms:ListKeys on resource: * "
                "because no identity-based policy allows the kms:ListKeys action"
            )
        async with boto_client(url, "AKIDBOB", "bob-secret") as bob:
            await bob.list_keys()  # no IAM policies given: allowed
        credentials = aiokms.Credentials("AKIDALICE", "alice-secret")
        async with aiokms.KMSClient(
            region_name=local.region, endpoint_url=url, credentials=credentials, max_attempts=1
        ) as client:
            await client.generate_data_key(KeyId="alias/app", KeySpec="AES_256")
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await client.describe_key(KeyId="alias/app")
            assert error_of(caught.value) == ("AccessDeniedException", 400)


def test_iam_policies_are_checked() -> None:
    bad = {"Statement": [{"Effect": "Allow", "Action": "kms:*"}]}
    with pytest.raises(
        ValueError, match=r"identities\['AKID'\]: IAM policy: .*must contain resources"
    ):
        LocalKMS(identities={"AKID": ("secret", ALICE.arn, [bad])})
    with pytest.raises(ValueError, match=r"identities\['AKID'\]: .*root user"):
        LocalKMS(identities={"AKID": ("secret", ROOT.arn, [])})


# --- grants ------------------------------------------------------------------------------------


def test_a_grant_allows_what_the_key_policy_does_not() -> None:
    """Developer Guide, "Grants in AWS KMS": a grant gives its grantee the grant operations on
    the key; RevokeGrant and RetireGrant take it back; an explicit deny in the key policy
    still wins."""
    backend = Backend(key_store())
    # the default policy would allow bob through IAM: this one allows administration only
    admin_only = policy({**ADMIN, "Action": ["kms:Put*", "kms:CreateGrant", "kms:RevokeGrant"]})
    key_id = call(backend, None, "CreateKey", Policy=admin_only)["KeyMetadata"]["KeyId"]
    assert refused(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x").code == (
        "AccessDeniedException"
    )
    grant = call(
        backend,
        ROOT,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal=BOB.arn,
        Operations=["Encrypt", "DescribeKey"],
    )
    call(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x")
    call(backend, BOB, "DescribeKey", KeyId=key_id)
    assert refused(backend, BOB, "GenerateDataKey", KeyId=key_id, NumberOfBytes=8).code == (
        "AccessDeniedException"
    )
    assert refused(backend, ALICE, "Encrypt", KeyId=key_id, Plaintext=b"x").code == (
        "AccessDeniedException"
    )
    call(backend, ROOT, "RevokeGrant", KeyId=key_id, GrantId=grant["GrantId"])
    assert refused(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x").code == (
        "AccessDeniedException"
    )
    call(
        backend, ROOT, "CreateGrant", KeyId=key_id, GranteePrincipal=BOB.arn, Operations=["Encrypt"]
    )
    deny_bob = {"Effect": "Deny", "Principal": {"AWS": BOB.arn}, "Action": "kms:Encrypt"}
    call(
        backend,
        ROOT,
        "PutKeyPolicy",
        KeyId=key_id,
        Policy=policy(json.loads(admin_only)["Statement"][0], deny_bob),
    )
    error = refused(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x")
    assert error.message.endswith("with an explicit deny in a resource-based policy")


def test_grant_constraints() -> None:
    """CreateGrant reference, Constraints: EncryptionContextEquals needs exactly that context,
    EncryptionContextSubset at least those pairs; DescribeKey is not constrained."""
    backend = Backend(key_store())
    admin_only = policy({**ADMIN, "Action": ["kms:Put*", "kms:CreateGrant"]})
    key_id = call(backend, None, "CreateKey", Policy=admin_only)["KeyMetadata"]["KeyId"]
    for constraint, good, bad in [
        ("EncryptionContextEquals", {"app": "a"}, {"app": "a", "more": "b"}),
        ("EncryptionContextSubset", {"app": "a", "more": "b"}, {"more": "b"}),
    ]:
        grantee = Caller.of(f"arn:aws:iam::{ACCOUNT}:role/{constraint}")
        call(
            backend,
            ROOT,
            "CreateGrant",
            KeyId=key_id,
            GranteePrincipal=grantee.arn,
            Operations=["Encrypt", "DescribeKey"],
            Constraints={constraint: {"app": "a"}},
        )
        call(backend, grantee, "Encrypt", KeyId=key_id, Plaintext=b"x", EncryptionContext=good)
        call(backend, grantee, "DescribeKey", KeyId=key_id)
        for context in (bad, {}):
            error = refused(
                backend, grantee, "Encrypt", KeyId=key_id, Plaintext=b"x", EncryptionContext=context
            )
            assert error.code == "AccessDeniedException", (constraint, context)


def test_create_grant_through_a_grant_only_narrows_it() -> None:
    """Developer Guide, "Creating grants", Granting CreateGrant permission
    (https://docs.aws.amazon.com/kms/latest/developerguide/create-grant-overview.html#grant-creategrant):
    a grantee that may call CreateGrant by a grant, not a policy, creates only grants with
    some or all of the parent grant's operations and constraints at least as strict (pairs
    added to an EncryptionContextSubset, Subset made Equals, never the reverse); a principal
    the key policy allows is not limited."""
    backend = Backend(key_store())
    admin = Caller.of(f"arn:aws:iam::{ACCOUNT}:user/admin")  # the account's root is everyone
    statement = {**ADMIN, "Principal": {"AWS": admin.arn}, "Action": ["kms:Put*", "kms:Create*"]}
    key_id = call(backend, admin, "CreateKey", Policy=policy(statement))["KeyMetadata"]["KeyId"]
    call(
        backend,
        admin,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal=BOB.arn,
        Operations=["GenerateDataKey", "Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"Department": "IT"}},
    )

    def child(operations: list[str], constraints: dict[str, Any] | None) -> dict[str, Any]:
        extra = {"Constraints": constraints} if constraints is not None else {}
        return {
            "KeyId": key_id,
            "GranteePrincipal": ALICE.arn,
            "Operations": operations,
            **extra,
        }

    subset = {"EncryptionContextSubset": {"Department": "IT"}}
    for operations, constraints in [
        (["CreateGrant", "Decrypt"], subset),
        (["Decrypt"], {"EncryptionContextSubset": {"Department": "IT", "Team": "a"}}),
        (["Decrypt"], {"EncryptionContextEquals": {"Department": "IT"}}),
        (["GenerateDataKey", "Decrypt", "CreateGrant"], subset),
    ]:
        call(backend, BOB, "CreateGrant", **child(operations, constraints))
    for operations, constraints in [
        (["Decrypt", "Encrypt"], subset),  # an operation the parent does not have
        (["ReEncryptFrom"], subset),
        (["Decrypt"], None),  # no constraint: broader
        (["Decrypt"], {"EncryptionContextSubset": {"Team": "a"}}),  # a pair removed
        (["Decrypt"], {"EncryptionContextEquals": {"Team": "a"}}),
    ]:
        error = refused(backend, BOB, "CreateGrant", **child(operations, constraints))
        assert error.code == "AccessDeniedException", (operations, constraints)
        assert "kms:CreateGrant" in error.message
    # a child with EncryptionContextEquals narrows no further than to the same context
    call(
        backend,
        BOB,
        "CreateGrant",
        **{**child(["Decrypt", "CreateGrant"], None), "GranteePrincipal": STRANGER.arn},
        Constraints={"EncryptionContextEquals": {"Department": "IT"}},
    )
    carol = Caller.of(f"arn:aws:iam::{ACCOUNT}:user/carol")
    call(
        backend,
        admin,
        "CreateGrant",
        KeyId=key_id,
        GranteePrincipal=carol.arn,
        Operations=["Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextEquals": {"Department": "IT"}},
    )
    for constraints in (subset, {"EncryptionContextEquals": {"Department": "IT", "x": "y"}}):
        error = refused(backend, carol, "CreateGrant", **child(["Decrypt"], constraints))
        assert error.code == "AccessDeniedException", constraints
    call(
        backend,
        carol,
        "CreateGrant",
        **child(["Decrypt"], {"EncryptionContextEquals": {"Department": "IT"}}),
    )
    # the key policy's own CreateGrant permission is not limited by any grant
    call(backend, admin, "CreateGrant", **child(["Encrypt", "ReEncryptFrom"], None))


def test_grant_condition_keys_in_a_key_policy() -> None:
    """ "Controlling access to grants" and "AWS KMS condition keys": kms:GranteePrincipal,
    kms:RetiringPrincipal, kms:GrantOperations, kms:GrantConstraintType and
    kms:GrantIsForAWSResource limit the CreateGrant permission a key policy gives."""
    backend = Backend(key_store())
    admin = {**ADMIN, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"}}
    admin_caller = Caller.of(admin["Principal"]["AWS"])

    def key_with(condition: dict[str, Any]) -> str:
        grants = {
            "Effect": "Allow",
            "Principal": {"AWS": ALICE.arn},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": condition,
        }
        created = call(backend, admin_caller, "CreateKey", Policy=policy(admin, grants))
        return str(created["KeyMetadata"]["KeyId"])

    def grant(key_id: str, **extra: Any) -> dict[str, Any]:
        return {"KeyId": key_id, "GranteePrincipal": BOB.arn, "Operations": ["Decrypt"], **extra}

    subset = {"EncryptionContextSubset": {"Department": "IT"}}
    equals = {"EncryptionContextEquals": {"Department": "IT"}}
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = [
        (
            {"StringEquals": {"kms:GranteePrincipal": BOB.arn}},
            [{}],
            [{"GranteePrincipal": STRANGER.arn}],
        ),
        (
            {"StringEquals": {"kms:RetiringPrincipal": ALICE.arn}},
            [{"RetiringPrincipal": ALICE.arn}],
            [{}, {"RetiringPrincipal": BOB.arn}],
        ),
        (
            {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}},
            [{"Operations": ["Encrypt", "Decrypt"]}],
            [{"Operations": ["Decrypt", "CreateGrant"]}],
        ),
        (
            {"StringEquals": {"kms:GrantConstraintType": "EncryptionContextEquals"}},
            [{"Constraints": equals}],
            [{}, {"Constraints": subset}],
        ),
        (
            {"Null": {"kms:GrantConstraintType": "false"}},
            [{"Constraints": subset}, {"Constraints": equals}],
            [{}],
        ),
        ({"Bool": {"kms:GrantIsForAWSResource": True}}, [], [{}]),
    ]
    for condition, allowed, denied in cases:
        key_id = key_with(condition)
        for extra in allowed:
            call(backend, ALICE, "CreateGrant", **grant(key_id, **extra))
        for extra in denied:
            error = refused(backend, ALICE, "CreateGrant", **grant(key_id, **extra))
            assert error.code == "AccessDeniedException", (condition, extra)


def test_retire_grant_permissions_and_grant_tokens() -> None:
    """ "Retiring and revoking grants": the retiring principal, the grantee of a grant with
    RetireGrant, or the issuing account's root user may retire it; others may not. A grant
    token LocalKMS did not issue is InvalidGrantTokenException wherever GrantTokens go."""
    backend = Backend(key_store())
    key_id = call(backend, None, "CreateKey")["KeyMetadata"]["KeyId"]

    def grant(**extra: Any) -> Any:
        return call(backend, ROOT, "CreateGrant", KeyId=key_id, GranteePrincipal=BOB.arn, **extra)

    by_retiring = grant(Operations=["Decrypt"], RetiringPrincipal=ALICE.arn)
    assert refused(backend, BOB, "RetireGrant", GrantToken=by_retiring["GrantToken"]).code == (
        "AccessDeniedException"
    )
    call(backend, ALICE, "RetireGrant", GrantToken=by_retiring["GrantToken"])
    by_grantee = grant(Operations=["Decrypt", "RetireGrant"])
    call(backend, BOB, "RetireGrant", KeyId=key_id, GrantId=by_grantee["GrantId"])
    by_root = grant(Operations=["Decrypt"])
    call(backend, ROOT, "RetireGrant", GrantToken=by_root["GrantToken"])
    assert refused(backend, ROOT, "RetireGrant", GrantToken=by_root["GrantToken"]).code == (
        "NotFoundException"
    )
    bad = refused(backend, ROOT, "Encrypt", KeyId=key_id, Plaintext=b"x", GrantTokens=["nope"])
    assert bad.code == "InvalidGrantTokenException"
    token = grant(Operations=["Encrypt"])["GrantToken"]
    call(backend, BOB, "Encrypt", KeyId=key_id, Plaintext=b"x", GrantTokens=[token])


async def test_grants_over_http_and_across_restarts(tmp_path: Any) -> None:
    """The grant operations with aiobotocore as the client, the grantee signing as itself;
    grants are kept in the state file."""
    identities = {"AKIDBOB": ("bob-secret", BOB.arn)}
    path = tmp_path / "state.json"
    admin_only = policy({**ADMIN, "Action": ["kms:Put*", "kms:*Grant*", "kms:ListGrants"]})
    async with LocalKMS(identities=identities, state_file=path) as local:
        async with client_of(local) as root:
            key_id = (await root.create_key(Policy=admin_only))["KeyMetadata"]["KeyId"]
            grant = await root.create_grant(
                KeyId=key_id, GranteePrincipal=BOB.arn, Operations=["GenerateDataKey"]
            )
        credentials = local.credentials
    async with LocalKMS(
        identities=identities,
        state_file=path,
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
    ) as local:
        async with boto_client(local.endpoint_url, "AKIDBOB", "bob-secret") as bob:
            await bob.generate_data_key(
                KeyId=key_id, KeySpec="AES_256", GrantTokens=[grant["GrantToken"]]
            )
        async with client_of(local) as root:
            listed = (await root.list_grants(KeyId=key_id))["Grants"]
            assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
            await root.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
        async with boto_client(local.endpoint_url, "AKIDBOB", "bob-secret") as bob:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await bob.generate_data_key(KeyId=key_id, KeySpec="AES_256")
            assert error_of(caught.value) == ("AccessDeniedException", 400)


async def test_china_regions_principals_over_http() -> None:
    """General Reference, "Amazon Resource Names (ARNs)": the China Regions' partition is
    aws-cn. A key made in cn-north-1 has an arn:aws-cn:kms ARN and a default key policy naming
    arn:aws-cn:iam::ACCOUNT:root, which lets the account's aws-cn principals use it (no IAM
    policies given: IAM allows); a principal of the aws partition is another account's ("Getting
    Started with Amazon Web Services in China": accounts and credentials for other Regions do
    not work in the China Regions)."""
    identities = {
        "AKIDCN": ("cn-secret", f"arn:aws-cn:iam::{ACCOUNT}:user/x"),
        "AKIDAWS": ("aws-secret", f"arn:aws:iam::{ACCOUNT}:user/x"),
    }
    async with LocalKMS(identities=identities, regions=["cn-north-1"]) as local:
        async with client_of(local, region="cn-north-1") as root:
            meta = (await root.create_key())["KeyMetadata"]
            policy = json.loads((await root.get_key_policy(KeyId=meta["KeyId"]))["Policy"])
        arn = meta["Arn"]
        assert arn == f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/{meta['KeyId']}"
        assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}
        url = local.endpoint_url
        async with boto_client(url, "AKIDCN", "cn-secret", region="cn-north-1") as user:
            assert (await user.describe_key(KeyId=arn))["KeyMetadata"]["Arn"] == arn
            await user.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await user.describe_key(KeyId=arn.replace("arn:aws-cn:", "arn:aws:"))
            assert error_of(caught.value) == ("NotFoundException", 400)
        async with boto_client(url, "AKIDAWS", "aws-secret", region="cn-north-1") as other:
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                await other.describe_key(KeyId=arn)
            assert error_of(caught.value) == ("AccessDeniedException", 400)
            assert caught.value.response["Error"]["Message"] == (
                f"User: arn:aws:iam::{ACCOUNT}:user/x is not authorized to perform: "
                f"kms:DescribeKey on resource: {arn} because no resource-based policy allows "
                "the kms:DescribeKey action"
            )
        credentials = aiokms.Credentials("AKIDCN", "cn-secret")
        async with aiokms.KMSClient(
            region_name="cn-north-1", endpoint_url=url, credentials=credentials, max_attempts=1
        ) as client:
            assert (await client.describe_key(KeyId=arn))["KeyMetadata"]["Arn"] == arn


def test_grantee_roots_are_scoped_to_their_partition() -> None:
    """Developer Guide, "Grants in AWS KMS": a grant to an account's root ARN gives the
    account's principals the grant operations; an account is scoped to one partition
    (General Reference, "Amazon Resource Names (ARNs)"), so a grant to the aws-cn root ARN
    covers the account's aws-cn principals and not its aws ones, and the other way round."""
    backend = Backend(key_store(region="cn-north-1"))
    china_root = Caller.of(f"arn:aws-cn:iam::{ACCOUNT}:root")
    china_user = Caller.of(f"arn:aws-cn:iam::{ACCOUNT}:user/x")
    admin = {**ADMIN, "Principal": {"AWS": china_root.arn}}
    admin_only = policy({**admin, "Action": ["kms:Put*", "kms:CreateGrant", "kms:Describe*"]})
    key_id = call(backend, china_root, "CreateKey", Policy=admin_only)["KeyMetadata"]["KeyId"]
    assert refused(backend, china_user, "Encrypt", KeyId=key_id, Plaintext=b"x").code == (
        "AccessDeniedException"
    )

    def grant(grantee: str, operations: list[str]) -> None:
        call(
            backend,
            china_root,
            "CreateGrant",
            KeyId=key_id,
            GranteePrincipal=grantee,
            Operations=operations,
        )

    grant(ROOT.arn, ["Encrypt"])  # the aws partition's root: not the aws-cn user's account
    assert refused(backend, china_user, "Encrypt", KeyId=key_id, Plaintext=b"x").code == (
        "AccessDeniedException"
    )
    grant(china_root.arn, ["Encrypt", "Decrypt"])
    blob = call(backend, china_user, "Encrypt", KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    plain = call(backend, china_user, "Decrypt", CiphertextBlob=base64.b64decode(blob))
    assert base64.b64decode(plain["Plaintext"]) == b"x"
