"""Key policy evaluation (``aiokms.emulator._policy``) as plain unit tests, on the policies
and statements the KMS Developer Guide documents: "Default key policy", "AWS KMS condition
keys" (kms:EncryptionContext:, kms:EncryptionContextKeys, kms:CallerAccount,
kms:RequestAlias, kms:GrantOperations, kms:ViaService), the IAM policy reference's condition
operators, and the wording of AccessDeniedException.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiokms.emulator._errors import KMSError
from aiokms.emulator._policy import (
    ALLOW,
    DENY,
    IMPLICIT_DENY,
    Caller,
    RequestContext,
    access_denied,
    compile_policy,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = Caller.root(ACCOUNT)
ALICE = Caller.of(f"arn:aws:iam::{ACCOUNT}:user/alice")
APP_ROLE = Caller.of(f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleForExampleApp/session-1")
STRANGER = Caller.of(f"arn:aws:iam::{OTHER}:user/mallory")


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


def decide(
    text: str, caller: Caller, action: str, values: dict[str, list[str]] | None = None
) -> str:
    table = {k.lower(): v for k, v in (values or {}).items()}
    context = RequestContext(action, caller, KEY, table.get)
    return compile_policy(text).decide(context)


DEFAULT = policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "kms:*"))


def test_default_key_policy_delegates_to_the_account() -> None:
    """Developer Guide, "Default key policy": the statement "Enable IAM User Permissions"
    gives the account's root user, and through IAM every principal of the account, access to
    the key; nobody of another account."""
    for caller in (ROOT, ALICE, APP_ROLE):
        assert decide(DEFAULT, caller, "kms:Decrypt") == ALLOW
        assert decide(DEFAULT, caller, "kms:PutKeyPolicy") == ALLOW
    assert decide(DEFAULT, STRANGER, "kms:Decrypt") == IMPLICIT_DENY
    # the account can also be named by its id
    assert decide(policy(allow({"AWS": ACCOUNT}, "kms:*")), ALICE, "kms:Encrypt") == ALLOW


def test_principals_roles_and_sessions() -> None:
    """A role's principal ARN matches its assumed-role sessions ("Key policies": principals);
    a user ARN matches that user only."""
    text = policy(allow({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/RoleForExampleApp"]}, "kms:*"))
    assert decide(text, APP_ROLE, "kms:Encrypt") == ALLOW
    assert decide(text, ALICE, "kms:Encrypt") == IMPLICIT_DENY
    assert decide(text, ROOT, "kms:Encrypt") == IMPLICIT_DENY
    everyone = policy(allow("*", "kms:DescribeKey"), allow({"AWS": "*"}, "kms:Encrypt"))
    assert decide(everyone, STRANGER, "kms:DescribeKey") == ALLOW
    assert decide(everyone, STRANGER, "kms:Encrypt") == ALLOW
    # service principals never sign a request
    service = policy(allow({"Service": "s3.amazonaws.com"}, "kms:*"))
    assert decide(service, ROOT, "kms:Encrypt") == IMPLICIT_DENY


def test_action_wildcards_and_not_action() -> None:
    """The key administrators' and key users' statements of the default console policy use
    ``kms:Describe*``, ``kms:ReEncrypt*`` and ``kms:GenerateDataKey*``; action names are not
    case sensitive."""
    users = policy(
        allow(
            {"AWS": ALICE.arn},
            ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
        )
    )
    for action in ("kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKeyPair"):
        assert decide(users, ALICE, action) == ALLOW
    assert decide(users, ALICE, "KMS:ENCRYPT") == ALLOW
    assert decide(users, ALICE, "kms:DescribeKey") == IMPLICIT_DENY
    assert decide(users, ALICE, "kms:GenerateMac") == IMPLICIT_DENY
    single = policy(allow({"AWS": ALICE.arn}, "kms:Get?eyPolicy"))
    assert decide(single, ALICE, "kms:GetKeyPolicy") == ALLOW
    not_action = policy(
        {"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "NotAction": "kms:ScheduleKey*"}
    )
    assert decide(not_action, ALICE, "kms:Encrypt") == ALLOW
    assert decide(not_action, ALICE, "kms:ScheduleKeyDeletion") == IMPLICIT_DENY


def test_an_explicit_deny_wins() -> None:
    """ "Policy evaluation logic": an explicit deny overrides any allow."""
    text = policy(
        allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "kms:*"),
        {"Effect": "Deny", "Principal": {"AWS": ALICE.arn}, "Action": "kms:Decrypt"},
    )
    assert decide(text, ALICE, "kms:Decrypt") == DENY
    assert decide(text, ALICE, "kms:Encrypt") == ALLOW
    assert decide(text, ROOT, "kms:Decrypt") == ALLOW
    not_principal = policy(
        allow({"AWS": ACCOUNT}, "kms:*"),
        {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "kms:Decrypt"},
    )
    assert decide(not_principal, ALICE, "kms:Decrypt") == ALLOW
    assert decide(not_principal, ROOT, "kms:Decrypt") == DENY


def test_encryption_context_condition() -> None:
    """Condition keys page, kms:EncryptionContext:context-key: the role may decrypt only when
    the encryption context has ``AppName: ExampleApp``."""
    text = policy(
        allow(
            {"AWS": f"arn:aws:iam::{ACCOUNT}:role/RoleForExampleApp"},
            "kms:Decrypt",
            Condition={"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        )
    )
    ok = {"kms:EncryptionContext:appname": ["ExampleApp"]}
    assert decide(text, APP_ROLE, "kms:Decrypt", ok) == ALLOW
    wrong = {"kms:EncryptionContext:appname": ["OtherApp"]}
    assert decide(text, APP_ROLE, "kms:Decrypt", wrong) == IMPLICIT_DENY
    assert decide(text, APP_ROLE, "kms:Decrypt") == IMPLICIT_DENY  # no context at all
    ignore_case = policy(
        allow(
            {"AWS": ACCOUNT},
            "kms:Decrypt",
            Condition={"StringEqualsIgnoreCase": {"kms:EncryptionContext:AppName": "exampleapp"}},
        )
    )
    assert decide(ignore_case, APP_ROLE, "kms:Decrypt", ok) == ALLOW


def test_encryption_context_keys_set_operators() -> None:
    """Condition keys page, kms:EncryptionContextKeys: ``ForAllValues`` allows only the listed
    keys, and also a request with no encryption context unless a ``Null`` test requires one;
    ``ForAnyValue`` requires at least one of them."""
    only = {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName", "FilePath"]}}
    text = policy(allow({"AWS": ACCOUNT}, "kms:Encrypt", Condition=only))
    assert decide(text, ALICE, "kms:Encrypt", {"kms:EncryptionContextKeys": ["AppName"]}) == ALLOW
    mixed = {"kms:EncryptionContextKeys": ["AppName", "Department"]}
    assert decide(text, ALICE, "kms:Encrypt", mixed) == IMPLICIT_DENY
    assert decide(text, ALICE, "kms:Encrypt") == ALLOW  # no keys: ForAllValues holds
    required = {**only, "Null": {"kms:EncryptionContextKeys": "false"}}
    strict = policy(allow({"AWS": ACCOUNT}, "kms:Encrypt", Condition=required))
    assert decide(strict, ALICE, "kms:Encrypt") == IMPLICIT_DENY
    any_of = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}}
    some = policy(allow({"AWS": ACCOUNT}, "kms:Encrypt", Condition=any_of))
    assert decide(some, ALICE, "kms:Encrypt", mixed) == ALLOW
    other = {"kms:EncryptionContextKeys": ["Department"]}
    assert decide(some, ALICE, "kms:Encrypt", other) == IMPLICIT_DENY
    assert decide(some, ALICE, "kms:Encrypt") == IMPLICIT_DENY


def test_caller_account_and_via_service() -> None:
    """Condition keys page, kms:CallerAccount and kms:ViaService, as an AWS managed key's
    policy uses them: every principal of the account, but only through the service."""
    text = policy(
        allow(
            {"AWS": "*"},
            ["kms:Encrypt", "kms:Decrypt"],
            Condition={
                "StringEquals": {
                    "kms:CallerAccount": ACCOUNT,
                    "kms:ViaService": "ebs.us-west-2.amazonaws.com",
                }
            },
        )
    )
    via = {"kms:ViaService": ["ebs.us-west-2.amazonaws.com"]}
    assert decide(text, ALICE, "kms:Encrypt", via) == ALLOW
    assert decide(text, STRANGER, "kms:Encrypt", via) == IMPLICIT_DENY
    assert decide(text, ALICE, "kms:Encrypt") == IMPLICIT_DENY  # a direct call
    account = policy(
        allow({"AWS": "*"}, "kms:*", Condition={"StringEquals": {"kms:CallerAccount": OTHER}})
    )
    assert decide(account, STRANGER, "kms:Encrypt") == ALLOW
    assert decide(account, ALICE, "kms:Encrypt") == IMPLICIT_DENY


def test_request_alias_and_grant_operations() -> None:
    """Condition keys page: kms:RequestAlias (the alias that named the key in the request) and
    kms:GrantOperations (every operation of a CreateGrant, with ForAllValues)."""
    alias = policy(
        allow(
            {"AWS": ALICE.arn},
            "kms:GenerateDataKey",
            Condition={"StringEquals": {"kms:RequestAlias": "alias/finance-key"}},
        )
    )
    named = {"kms:RequestAlias": ["alias/finance-key"]}
    assert decide(alias, ALICE, "kms:GenerateDataKey", named) == ALLOW
    assert decide(alias, ALICE, "kms:GenerateDataKey") == IMPLICIT_DENY  # named by key id
    like = policy(
        allow(
            {"AWS": ALICE.arn},
            "kms:Decrypt",
            Condition={"StringLike": {"kms:RequestAlias": "alias/project-*"}},
        )
    )
    assert decide(like, ALICE, "kms:Decrypt", {"kms:RequestAlias": ["alias/project-x"]}) == ALLOW
    grants = policy(
        allow(
            {"AWS": ALICE.arn},
            "kms:CreateGrant",
            Condition={
                "ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}
            },
        )
    )
    assert decide(grants, ALICE, "kms:CreateGrant", {"kms:GrantOperations": ["Decrypt"]}) == (ALLOW)
    wider = {"kms:GrantOperations": ["Decrypt", "RetireGrant"]}
    assert decide(grants, ALICE, "kms:CreateGrant", wider) == IMPLICIT_DENY


def test_negated_missing_if_exists_and_other_operators() -> None:
    """IAM policy reference, condition operators: a negated operator holds when the key is
    absent; ``...IfExists`` holds when it is absent; Numeric, Date and Bool compare values."""
    deny_other_algorithms = policy(
        allow({"AWS": ACCOUNT}, "kms:*"),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Encrypt",
            "Condition": {"StringNotEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        },
    )
    symmetric = {"kms:EncryptionAlgorithm": ["SYMMETRIC_DEFAULT"]}
    assert decide(deny_other_algorithms, ALICE, "kms:Encrypt", symmetric) == ALLOW
    rsa = {"kms:EncryptionAlgorithm": ["RSAES_OAEP_SHA_256"]}
    assert decide(deny_other_algorithms, ALICE, "kms:Encrypt", rsa) == DENY
    assert decide(deny_other_algorithms, ALICE, "kms:Encrypt") == DENY  # absent: negated holds
    if_exists = policy(
        allow(
            {"AWS": ACCOUNT},
            "kms:Sign",
            Condition={"StringEqualsIfExists": {"kms:MessageType": "RAW"}},
        )
    )
    assert decide(if_exists, ALICE, "kms:Sign") == ALLOW
    assert decide(if_exists, ALICE, "kms:Sign", {"kms:MessageType": ["DIGEST"]}) == IMPLICIT_DENY
    window = policy(
        allow(
            {"AWS": ACCOUNT},
            "kms:ScheduleKeyDeletion",
            Condition={
                "NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "21"}
            },
        )
    )
    days = "kms:ScheduleKeyDeletionPendingWindowInDays"
    assert decide(window, ALICE, "kms:ScheduleKeyDeletion", {days: ["30"]}) == ALLOW
    assert decide(window, ALICE, "kms:ScheduleKeyDeletion", {days: ["7"]}) == IMPLICIT_DENY
    until = policy(
        allow(
            {"AWS": ACCOUNT},
            "kms:Decrypt",
            Condition={"DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}},
        )
    )
    assert decide(until, ALICE, "kms:Decrypt", {"aws:CurrentTime": ["2026-12-07T00:00:00Z"]}) == (
        ALLOW
    )
    assert decide(until, ALICE, "kms:Decrypt", {"aws:CurrentTime": ["2027-01-01T00:00:00Z"]}) == (
        IMPLICIT_DENY
    )
    bypass = policy(
        allow(
            {"AWS": ACCOUNT},
            "kms:PutKeyPolicy",
            Condition={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": False}},
        )
    )
    flag = "kms:BypassPolicyLockoutSafetyCheck"
    assert decide(bypass, ALICE, "kms:PutKeyPolicy", {flag: ["false"]}) == ALLOW
    assert decide(bypass, ALICE, "kms:PutKeyPolicy", {flag: ["true"]}) == IMPLICIT_DENY
    arn = policy(
        allow(
            "*",
            "kms:Decrypt",
            Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Role*"}},
        )
    )
    assert decide(arn, APP_ROLE, "kms:Decrypt") == ALLOW  # the session's role ARN
    assert decide(arn, ALICE, "kms:Decrypt") == IMPLICIT_DENY


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("not json", "not valid JSON"),
        ("[]", "JSON object"),
        (json.dumps({"Version": "2012-10-17"}), "at least one statement"),
        (policy({"Effect": "Maybe", "Principal": "*", "Action": "kms:*"}), "Effect"),
        (policy({"Effect": "Allow", "Action": "kms:*"}), "missing Principal"),
        (policy({"Effect": "Allow", "Principal": "*"}), "missing Action"),
        (policy({"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "*"}), "principals"),
        (
            policy(allow("*", "kms:*", Condition={"StringSortOf": {"kms:CallerAccount": "1"}})),
            "Unknown condition operator",
        ),
    ],
)
def test_malformed_policies(document: str, words: str) -> None:
    with pytest.raises(KMSError) as caught:
        compile_policy(document)
    assert caught.value.code == "MalformedPolicyDocumentException"
    assert words in caught.value.message


def test_access_denied_wording() -> None:
    """KMS words a key policy's refusal as IAM does: who, which action, which key, and why."""
    implicit = access_denied(ALICE, "kms:Decrypt", KEY, explicit=False)
    assert (implicit.code, implicit.status) == ("AccessDeniedException", 400)
    assert implicit.message == (
        f"User: {ALICE.arn} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no resource-based policy allows the kms:Decrypt action"
    )
    explicit = access_denied(ALICE, "kms:Decrypt", KEY, explicit=True)
    assert explicit.message.endswith("with an explicit deny in a resource-based policy")


def test_caller_of_refuses_what_is_not_a_principal() -> None:
    assert Caller.of(f"arn:aws:iam::{ACCOUNT}:user/alice").account == ACCOUNT
    assert APP_ROLE.role_arn == f"arn:aws:iam::{ACCOUNT}:role/RoleForExampleApp"
    for bad in ("alice", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/x", "arn:aws:iam::12:root"):
        with pytest.raises(ValueError, match="principal ARN"):
            Caller.of(bad)
