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
    DELEGATED,
    DENY,
    IMPLICIT_DENY,
    Caller,
    RequestContext,
    access_denied,
    compile_identity_policies,
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
    assert decide(DEFAULT, ROOT, "kms:Decrypt") == ALLOW
    assert decide(DEFAULT, ROOT, "kms:PutKeyPolicy") == ALLOW
    for caller in (ALICE, APP_ROLE):  # allowed as far as their IAM policies allow
        assert decide(DEFAULT, caller, "kms:Decrypt") == DELEGATED
        assert decide(DEFAULT, caller, "kms:PutKeyPolicy") == DELEGATED
    assert decide(DEFAULT, STRANGER, "kms:Decrypt") == IMPLICIT_DENY
    # the account can also be named by its id
    by_id = policy(allow({"AWS": ACCOUNT}, "kms:*"))
    assert decide(by_id, ALICE, "kms:Encrypt") == DELEGATED
    assert decide(by_id, ROOT, "kms:Encrypt") == ALLOW


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
    assert decide(text, ALICE, "kms:Encrypt") == DELEGATED
    assert decide(text, ROOT, "kms:Decrypt") == ALLOW
    not_principal = policy(
        allow({"AWS": ACCOUNT}, "kms:*"),
        {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "kms:Decrypt"},
    )
    assert decide(not_principal, ALICE, "kms:Decrypt") == DELEGATED
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
    assert decide(ignore_case, APP_ROLE, "kms:Decrypt", ok) == DELEGATED


def test_encryption_context_keys_set_operators() -> None:
    """Condition keys page, kms:EncryptionContextKeys: ``ForAllValues`` allows only the listed
    keys, and also a request with no encryption context unless a ``Null`` test requires one;
    ``ForAnyValue`` requires at least one of them."""
    only = {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName", "FilePath"]}}
    text = policy(allow({"AWS": ACCOUNT}, "kms:Encrypt", Condition=only))
    assert (
        decide(text, ALICE, "kms:Encrypt", {"kms:EncryptionContextKeys": ["AppName"]}) == DELEGATED
    )
    mixed = {"kms:EncryptionContextKeys": ["AppName", "Department"]}
    assert decide(text, ALICE, "kms:Encrypt", mixed) == IMPLICIT_DENY
    assert decide(text, ALICE, "kms:Encrypt") == DELEGATED  # no keys: ForAllValues holds
    required = {**only, "Null": {"kms:EncryptionContextKeys": "false"}}
    strict = policy(allow({"AWS": ACCOUNT}, "kms:Encrypt", Condition=required))
    assert decide(strict, ALICE, "kms:Encrypt") == IMPLICIT_DENY
    any_of = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}}
    some = policy(allow({"AWS": ACCOUNT}, "kms:Encrypt", Condition=any_of))
    assert decide(some, ALICE, "kms:Encrypt", mixed) == DELEGATED
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
    assert decide(deny_other_algorithms, ALICE, "kms:Encrypt", symmetric) == DELEGATED
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
    assert decide(if_exists, ALICE, "kms:Sign") == DELEGATED
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
    assert decide(window, ALICE, "kms:ScheduleKeyDeletion", {days: ["30"]}) == DELEGATED
    assert decide(window, ALICE, "kms:ScheduleKeyDeletion", {days: ["7"]}) == IMPLICIT_DENY
    until = policy(
        allow(
            {"AWS": ACCOUNT},
            "kms:Decrypt",
            Condition={"DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}},
        )
    )
    assert decide(until, ALICE, "kms:Decrypt", {"aws:CurrentTime": ["2026-12-07T00:00:00Z"]}) == (
        DELEGATED
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
    assert decide(bypass, ALICE, "kms:PutKeyPolicy", {flag: ["false"]}) == DELEGATED
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


def test_a_policy_nested_deeper_than_the_json_parser_goes_is_malformed() -> None:
    with pytest.raises(KMSError) as caught:
        compile_policy("[" * 15_000 + "]" * 15_000)  # within KMS's 32 KB of policy
    assert caught.value.code == "MalformedPolicyDocumentException"
    assert "not valid JSON" in caught.value.message


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


# --- IAM policies (Developer Guide, "IAM policy examples"; IAM User Guide, "Policy evaluation
# logic"): no Principal, the Resource matched against the key ARN or "*" --------------------


def iam(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def iam_decide(documents: Any, action: str, resource: str = KEY) -> str:
    return compile_identity_policies(documents).decide(RequestContext(action, ALICE, resource))


def test_iam_policy_examples_of_the_developer_guide() -> None:
    """ "IAM policy examples": view keys; encrypt and decrypt with any key of an account, of an
    account and Region, or named keys; create keys; and "Prevent a user from disabling or
    deleting any KMS keys" (a Deny beside an allow-all)."""
    view = iam(
        {
            "Effect": "Allow",
            "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
            "Resource": "*",
        }
    )
    assert iam_decide(view, "kms:DescribeKey") == ALLOW
    assert iam_decide(view, "kms:ListKeys", "*") == ALLOW
    assert iam_decide(view, "kms:Decrypt") == IMPLICIT_DENY
    crypto = {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"]}
    any_key = iam({**crypto, "Resource": f"arn:aws:kms:*:{ACCOUNT}:key/*"})
    assert iam_decide(any_key, "kms:Decrypt") == ALLOW
    assert iam_decide(any_key, "kms:Decrypt", KEY.replace(ACCOUNT, OTHER)) == IMPLICIT_DENY
    assert iam_decide(any_key, "kms:Encrypt", "*") == IMPLICIT_DENY  # not a key ARN
    one_region = iam({**crypto, "Resource": f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*"})
    assert iam_decide(one_region, "kms:Encrypt") == ALLOW
    assert iam_decide(one_region, "kms:Encrypt", KEY.replace("us-west-2", "eu-west-1")) == (
        IMPLICIT_DENY
    )
    named = iam({**crypto, "Resource": [KEY, KEY[:-4] + "0000"]})
    assert iam_decide(named, "kms:Encrypt") == ALLOW
    assert iam_decide(named, "kms:Encrypt", KEY[:-4] + "1111") == IMPLICIT_DENY
    create = iam({"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"})
    assert iam_decide(create, "kms:CreateKey", "*") == ALLOW
    no_disable = iam(
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["kms:DisableKey", "kms:ScheduleKeyDeletion"],
            "Resource": "*",
        },
    )
    assert iam_decide(no_disable, "kms:EnableKey") == ALLOW
    assert iam_decide(no_disable, "kms:DisableKey") == DENY
    # several policies are evaluated together: a deny in any wins
    separate = [view, iam({"Effect": "Deny", "Action": "kms:GetKeyPolicy", "Resource": KEY})]
    assert iam_decide(separate, "kms:GetKeyPolicy") == DENY
    assert iam_decide(separate, "kms:GetKeyRotationStatus") == ALLOW
    assert iam_decide([], "kms:DescribeKey") == IMPLICIT_DENY  # no policy allows nothing


def test_iam_policy_not_action_not_resource_and_conditions() -> None:
    """NotAction, NotResource and Condition work in IAM policies as in key policies."""
    everything_but = iam(
        {
            "Effect": "Allow",
            "NotAction": "kms:ScheduleKeyDeletion",
            "NotResource": f"arn:aws:kms:*:{ACCOUNT}:alias/*",
        }
    )
    assert iam_decide(everything_but, "kms:DisableKey") == ALLOW
    assert iam_decide(everything_but, "kms:ScheduleKeyDeletion") == IMPLICIT_DENY
    alias_arn = f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/app"
    assert iam_decide(everything_but, "kms:CreateAlias", alias_arn) == IMPLICIT_DENY
    symmetric_only = iam(
        {
            "Effect": "Allow",
            "Action": "kms:CreateKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
        }
    )
    policy_ = compile_identity_policies([symmetric_only])
    spec = {"kms:keyspec": ["RSA_2048"]}
    assert policy_.decide(RequestContext("kms:CreateKey", ALICE, "*", spec.get)) == IMPLICIT_DENY
    spec = {"kms:keyspec": ["SYMMETRIC_DEFAULT"]}
    assert policy_.decide(RequestContext("kms:CreateKey", ALICE, "*", spec.get)) == ALLOW


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (
            {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
            "should not specify a principal",
        ),
        ({"Effect": "Allow", "Action": "kms:*"}, "must contain resources"),
        ({"Effect": "Allow", "Resource": "*"}, "missing Action"),
    ],
)
def test_malformed_iam_policies(statement: dict[str, Any], words: str) -> None:
    with pytest.raises(KMSError, match=words) as caught:
        compile_identity_policies([iam(statement)])
    assert caught.value.code == "MalformedPolicyDocumentException"
    with pytest.raises(ValueError, match=f"IAM policy: .*{words}"):
        Caller.of(ALICE.arn, [iam(statement)])


def test_caller_with_iam_policies() -> None:
    """A caller given IAM policies carries them compiled; the root user has none (IAM
    policies do not apply to it), and without ``policies`` a caller has ``iam`` None."""
    assert Caller.of(ALICE.arn).iam is None
    alice = Caller.of(
        ALICE.arn, [{"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}}]
    )
    assert alice.iam is not None and alice == ALICE
    assert alice.iam.decide(RequestContext("kms:Decrypt", alice, KEY)) == ALLOW
    with pytest.raises(ValueError, match="root user"):
        Caller.of(ROOT.arn, [])


def test_access_denied_wording_for_iam_policies() -> None:
    """KMS's words for a request no identity-based policy allows, and for an explicit deny in
    one."""
    implicit = access_denied(ALICE, "kms:CreateKey", "*", explicit=False, identity=True)
    assert (implicit.code, implicit.message) == (
        "AccessDeniedException",
        f"User: {ALICE.arn} is not authorized to perform: kms:CreateKey on resource: * "
        "because no identity-based policy allows the kms:CreateKey action",
    )
    explicit = access_denied(ALICE, "kms:Decrypt", KEY, explicit=True, identity=True)
    assert explicit.message == (
        f"User: {ALICE.arn} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "with an explicit deny in an identity-based policy"
    )


def test_principals_are_scoped_to_their_partition() -> None:
    """General Reference, "Amazon Resource Names (ARNs)": "Each AWS account is scoped to one
    partition" (aws, aws-cn for the China Regions, aws-us-gov). A key policy of a China
    Regions key names the account as ``arn:aws-cn:iam::ACCOUNT:root`` (or by its id, which
    means that root ARN there); the account's principals there are ``arn:aws-cn:...``."""
    china_root = Caller.of(f"arn:aws-cn:iam::{ACCOUNT}:root")
    china_user = Caller.of(f"arn:aws-cn:iam::{ACCOUNT}:user/x")
    china_role = Caller.of(f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/App/session-1")
    assert china_role.role_arn == f"arn:aws-cn:iam::{ACCOUNT}:role/App"
    china = policy(allow({"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}, "kms:*"))
    assert decide(china, china_root, "kms:Decrypt") == ALLOW
    for caller in (china_user, china_role):
        assert decide(china, caller, "kms:Decrypt") == DELEGATED
    # the same account number in another partition is another account
    for caller in (ROOT, ALICE):
        assert decide(china, caller, "kms:Decrypt") == IMPLICIT_DENY
    for caller in (china_root, china_user):
        assert decide(DEFAULT, caller, "kms:Decrypt") == IMPLICIT_DENY
    # a principal ARN of the China Regions is named as it is
    alice = policy(allow({"AWS": f"arn:aws-cn:iam::{ACCOUNT}:user/x"}, "kms:Decrypt"))
    assert decide(alice, china_user, "kms:Decrypt") == ALLOW
    assert decide(alice, Caller.of(f"arn:aws:iam::{ACCOUNT}:user/x"), "kms:Decrypt") == (
        IMPLICIT_DENY
    )


def test_an_account_id_names_the_root_of_the_policys_partition() -> None:
    """IAM JSON policy reference, "AWS account principals": an account id in ``Principal``
    stands for the account's root ARN, here in the partition of the key the policy is on."""
    china_root = Caller.root(ACCOUNT, "aws-cn")
    assert china_root.arn == f"arn:aws-cn:iam::{ACCOUNT}:root"
    assert Caller.of(f"arn:aws-cn:iam::{ACCOUNT}:user/x").root_arn == china_root.arn
    by_id = policy(allow({"AWS": ACCOUNT}, "kms:*"))
    as_china = RequestContext("kms:Decrypt", china_root, KEY, {}.get)
    assert compile_policy(by_id, "aws-cn").decide(as_china) == ALLOW
    assert compile_policy(by_id, "aws").decide(as_china) == IMPLICIT_DENY
    assert decide(by_id, ROOT, "kms:Decrypt") == ALLOW
