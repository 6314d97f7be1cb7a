"""Key policies: checked when they are set, evaluated for every request that uses a key.

How this works: :func:`compile_policy` turns a key policy document into a :class:`Policy`, a
tuple of :class:`Statement` objects whose ``Principal``, ``Action``, ``Resource`` and
``Condition`` elements are parsed once (exact names in sets, wildcards as regular
expressions), or raises ``MalformedPolicyDocumentException``. :meth:`Policy.decide` evaluates
one request, described by a :class:`RequestContext`, the way the Developer Guide's "Policy
evaluation logic" does for a resource-based policy: an explicit ``Deny`` wins, else any
``Allow`` allows, else the request is implicitly denied.

A statement naming an account (``"111122223333"`` or ``arn:aws:iam::111122223333:root``)
applies to every principal of that account, but only as far as the principal's IAM policies
allow too: that is what the Developer Guide's default key policy means by delegating to IAM
("Allows access to the AWS account and enables IAM policies"). So :meth:`Policy.decide` tells
an ``Allow`` that names the caller (its ARN, its role, ``*``), :data:`ALLOW`, from one that
names only the caller's account, :data:`DELEGATED`. A caller's IAM policies
(:func:`compile_identity_policies`) compile to a :class:`Policy` too, whose statements have no
``Principal`` and whose ``Resource`` is matched against the key ARN, or ``*`` for operations
on no key. A policy whose statements have no ``Condition`` decides by caller, action and
resource alone, so it remembers its decisions.

Condition values are read from the context on demand: :meth:`RequestContext.values` answers
the condition keys of the Developer Guide's "AWS KMS condition keys" and the global ones a key
policy can use (``aws:PrincipalArn``, ``aws:ResourceTag/...``, ...), or ``None`` for a key the
request does not have. The operators are those of the IAM policy reference (String, Numeric,
Date, Bool, Arn, Null, with ``...IfExists`` and the ``ForAnyValue:``/``ForAllValues:`` set
qualifiers).

Pure code: no I/O, no clock of its own (the context carries the request time).
"""

from __future__ import annotations

import calendar
import datetime
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from aiokms.emulator._errors import KMSError

__all__ = [
    "ALLOW",
    "DELEGATED",
    "DENY",
    "IMPLICIT_DENY",
    "Caller",
    "IamPolicy",
    "Policy",
    "RequestContext",
    "access_denied",
    "compile_identity_policies",
    "compile_policy",
]

IamPolicy = Union[str, Mapping[str, Any]]  # noqa: UP007 -- a runtime alias on 3.10 too
"""An IAM policy document: JSON text, or parsed."""

ALLOW = "allow"
DELEGATED = "delegated"  # allowed by a statement naming only the caller's account: IAM decides
DENY = "deny"
IMPLICIT_DENY = "implicit"

_ROOT = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):root")
_ACCOUNT = re.compile(r"[0-9]{12}")
_ASSUMED_ROLE = re.compile(r"arn:(aws[a-z-]*):sts::([0-9]{12}):assumed-role/([^/]+)/.+")
_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::([0-9]{12}):.+")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed a request: a principal ARN and its account.

    ``arn`` is ``arn:aws:iam::<account>:root``, an IAM user or role ARN, or an STS
    assumed-role session ARN (which a policy matches by its role's ARN too), in any partition
    (``arn:aws-cn:...`` in the China Regions). ``iam`` is the principal's IAM policies,
    compiled, or ``None``: then IAM is taken to allow everything. ``root_arn`` is the root
    ARN of the caller's account in the caller's partition: an account is scoped to one
    partition (General Reference, "Amazon Resource Names (ARNs)"), so a policy naming
    ``arn:aws:iam::111122223333:root`` does not name a principal of ``arn:aws-cn:iam::
    111122223333:...``.
    """

    arn: str
    account: str
    role_arn: str | None = None
    iam: Policy | None = field(default=None, compare=False, repr=False)
    root_arn: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        partition = self.arn.split(":", 2)[1]
        object.__setattr__(self, "root_arn", f"arn:{partition}:iam::{self.account}:root")

    @classmethod
    def of(cls, arn: str, policies: Iterable[IamPolicy] | None = None) -> Caller:
        """The caller a principal ARN names, with its IAM policies if ``policies`` is given
        (policy documents, as JSON text or parsed; an empty list allows nothing).

        Raises:
            ValueError: ``arn`` is not an IAM or STS principal ARN, ``policies`` is given for
                an account's root user (IAM policies do not apply to it), or a policy is
                malformed (saying what is wrong).
        """
        match = _PRINCIPAL_ARN.fullmatch(arn)
        if match is None:
            raise ValueError(f"not an IAM or STS principal ARN: {arn!r}")
        role = _ASSUMED_ROLE.fullmatch(arn)
        role_arn = f"arn:{role[1]}:iam::{role[2]}:role/{role[3]}" if role else None
        iam = None
        if policies is not None:
            if _ROOT.fullmatch(arn):
                raise ValueError(f"{arn}: IAM policies do not apply to an account's root user")
            try:
                iam = compile_identity_policies(policies)
            except KMSError as exc:
                raise ValueError(f"IAM policy: {exc.message}") from None
        return cls(arn, match[2], role_arn, iam)

    @classmethod
    def root(cls, account: str, partition: str = "aws") -> Caller:
        """The account's root user in ``partition``."""
        return cls(f"arn:{partition}:iam::{account}:root", account)


def access_denied(
    caller: Caller, action: str, resource: str, *, explicit: bool, identity: bool = False
) -> KMSError:
    """``AccessDeniedException`` as KMS words it for a key policy's decision, or for the
    caller's IAM policies' (``identity``)."""
    kind = "identity-based" if identity else "resource-based"
    why = (
        f"with an explicit deny in {'an' if identity else 'a'} {kind} policy"
        if explicit
        else f"because no {kind} policy allows the {action} action"
    )
    return KMSError(
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {why}",
    )


class RequestContext:
    """One request as a policy sees it: action, caller, key ARN and condition keys.

    Args:
        action: ``kms:`` and the action name, such as ``"kms:Decrypt"``.
        caller: who signed the request.
        resource: the key ARN.
        lookup: condition key (lower case) -> its values, or ``None`` when the request has
            none; called only when a statement's condition asks.
    """

    __slots__ = ("_lookup", "action", "caller", "resource")

    def __init__(
        self,
        action: str,
        caller: Caller,
        resource: str,
        lookup: Callable[[str], list[str] | None] | None = None,
    ) -> None:
        self.action = action
        self.caller = caller
        self.resource = resource
        self._lookup = lookup

    def values(self, key: str) -> list[str] | None:
        """The values of condition key ``key`` (any case), ``None`` if the request has none."""
        name = key.lower()
        if name == "kms:calleraccount" or name == "aws:principalaccount":
            return [self.caller.account]
        if name == "aws:principalarn":
            return [self.caller.role_arn or self.caller.arn]
        return self._lookup(name) if self._lookup is not None else None


# --- matching names --------------------------------------------------------------------------


def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Names:
    """A set of names with ``*``/``?`` wildcards: exact ones in a set, the others as globs."""

    exact: frozenset[str]
    globs: tuple[re.Pattern[str], ...]
    ignore_case: bool

    @classmethod
    def of(cls, names: Iterable[str], *, ignore_case: bool) -> _Names:
        exact, globs = set(), []
        for name in names:
            if "*" in name or "?" in name:
                globs.append(_glob(name, ignore_case=ignore_case))
            else:
                exact.add(name.lower() if ignore_case else name)
        return cls(frozenset(exact), tuple(globs), ignore_case)

    def __contains__(self, name: object) -> bool:
        assert isinstance(name, str)
        if (name.lower() if self.ignore_case else name) in self.exact:
            return True
        return any(glob.fullmatch(name) for glob in self.globs)


# --- conditions ------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return calendar.timegm(moment.utctimetuple()) + moment.microsecond / 1e6


def _compare(convert: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Any:
    def match(value: str, wanted: str) -> bool:
        a, b = convert(value), convert(wanted)
        return a is not None and b is not None and test(a, b)

    return match


def _like(value: str, wanted: str) -> bool:
    return _glob(wanted, ignore_case=False).fullmatch(value) is not None


# base operator -> (match one request value against one policy value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (str.__eq__, False),
    "StringNotEquals": (str.__eq__, True),
    "StringEqualsIgnoreCase": (lambda v, w: v.casefold() == w.casefold(), False),
    "StringNotEqualsIgnoreCase": (lambda v, w: v.casefold() == w.casefold(), True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "NumericEquals": (_compare(_number, float.__eq__), False),
    "NumericNotEquals": (_compare(_number, float.__eq__), True),
    "NumericLessThan": (_compare(_number, float.__lt__), False),
    "NumericLessThanEquals": (_compare(_number, float.__le__), False),
    "NumericGreaterThan": (_compare(_number, float.__gt__), False),
    "NumericGreaterThanEquals": (_compare(_number, float.__ge__), False),
    "DateEquals": (_compare(_date, float.__eq__), False),
    "DateNotEquals": (_compare(_date, float.__eq__), True),
    "DateLessThan": (_compare(_date, float.__lt__), False),
    "DateLessThanEquals": (_compare(_date, float.__le__), False),
    "DateGreaterThan": (_compare(_date, float.__gt__), False),
    "DateGreaterThanEquals": (_compare(_date, float.__ge__), False),
    "Bool": (lambda v, w: v.lower() == w.lower(), False),
    "ArnEquals": (str.__eq__, False),
    "ArnNotEquals": (str.__eq__, True),
    "ArnLike": (_like, False),
    "ArnNotLike": (_like, True),
}


@dataclass(frozen=True, slots=True)
class _Condition:
    """One ``operator: {key: values}`` test."""

    key: str
    values: tuple[str, ...]
    match: Callable[[str, str], bool] | None  # None: the Null operator
    negated: bool
    if_exists: bool
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"

    def holds(self, context: RequestContext) -> bool:
        present = context.values(self.key)
        if self.match is None:  # Null: "true" means the key is absent
            absent = not present
            return all((value.lower() == "true") == absent for value in self.values)
        if not present:
            if self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.if_exists or self.negated
        match, wanted = self.match, self.values

        def ok(value: str) -> bool:
            hit = any(match(value, w) for w in wanted)
            return not hit if self.negated else hit

        if self.qualifier == "ForAllValues":
            return all(ok(value) for value in present)
        if self.negated and not self.qualifier:  # no value may match
            return all(ok(value) for value in present)
        return any(ok(value) for value in present)


def _condition(operator: str, key: str, values: Any) -> _Condition:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise _malformed(f"Unknown condition operator {operator}.")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if isinstance(values, (str, bool, int, float)):
        values = [values]
    if not isinstance(values, list) or not values:
        raise _malformed(f"The values of condition {operator} {key} must be a list.")
    texts = tuple(("true" if v else "false") if isinstance(v, bool) else str(v) for v in values)
    if base == "Null":
        return _Condition(key, texts, None, False, False, qualifier)
    if base not in _OPERATORS:
        raise _malformed(f"Unknown condition operator {operator}.")
    match, negated = _OPERATORS[base]
    return _Condition(key, texts, match, negated, if_exists, qualifier)


# --- statements and policies -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Principals:
    """A ``Principal`` element: anyone, or accounts (by their root ARNs) and principal ARNs."""

    anyone: bool
    accounts: frozenset[str]
    arns: frozenset[str]

    def __contains__(self, caller: object) -> bool:
        assert isinstance(caller, Caller)
        return caller.root_arn in self.accounts or self.names(caller)

    def names(self, caller: Caller) -> bool:
        """Whether the element names ``caller`` itself, not only its account (an account's
        root ARN names its root user)."""
        return (
            self.anyone
            or caller.arn in self.arns
            or (caller.role_arn is not None and caller.role_arn in self.arns)
        )


def _principals(element: Any, partition: str) -> _Principals:
    """The principals of a ``Principal`` element; an account id names the account's root in
    ``partition``, the policy's (IAM JSON policy reference, "AWS account principals")."""
    if element == "*":
        return _Principals(True, frozenset(), frozenset())
    if not isinstance(element, dict) or not element:
        raise _malformed("Policy contains a statement with one or more invalid principals.")
    accounts, arns, anyone = set(), set(), False
    for kind, names in element.items():
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _malformed("Policy contains a statement with one or more invalid principals.")
        if kind != "AWS":
            continue  # service and federated principals never sign LocalKMS requests
        for name in names:
            root = _ROOT.fullmatch(name)
            if name == "*":
                anyone = True
            elif _ACCOUNT.fullmatch(name):
                root_arn = f"arn:{partition}:iam::{name}:root"
                accounts.add(root_arn)
                arns.add(root_arn)
            elif root is not None:
                accounts.add(name)
                arns.add(name)
            elif _PRINCIPAL_ARN.fullmatch(name):
                arns.add(name)
            else:
                raise _malformed("Policy contains a statement with one or more invalid principals.")
    return _Principals(anyone, frozenset(accounts), frozenset(arns))


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled policy statement."""

    allow: bool
    principals: _Principals
    not_principal: bool
    actions: _Names
    not_action: bool
    resources: _Names | None  # None: "*"
    not_resource: bool
    conditions: tuple[_Condition, ...]

    def applies(self, context: RequestContext) -> bool:
        """Whether the statement covers ``context`` (its effect aside)."""
        if (context.caller in self.principals) == self.not_principal:
            return False
        if (context.action in self.actions) == self.not_action:
            return False
        if self.resources is not None and (
            (context.resource in self.resources) == self.not_resource
        ):
            return False
        return all(condition.holds(context) for condition in self.conditions)


def _strings(element: Any, name: str) -> list[str]:
    values = [element] if isinstance(element, str) else element
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise _malformed(f"{name} must be a string or a list of strings.")
    return values


def _either(statement: dict[str, Any], name: str) -> tuple[Any, bool]:
    if name in statement and f"Not{name}" in statement:
        raise _malformed(f"A statement cannot have both {name} and Not{name}.")
    if name in statement:
        return statement[name], False
    if f"Not{name}" in statement:
        return statement[f"Not{name}"], True
    raise _malformed(f"Policy statement is missing {name}.")


def _statement(raw: Any, *, identity: bool = False, partition: str = "aws") -> Statement:
    """One statement of a key policy, or of an IAM policy (``identity``: no ``Principal``,
    a ``Resource`` required)."""
    if not isinstance(raw, dict):
        raise _malformed("Each policy statement must be a JSON object.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _malformed("Policy statement Effect must be Allow or Deny.")
    if not identity:
        principal, not_principal = _either(raw, "Principal")
    elif "Principal" in raw or "NotPrincipal" in raw:
        raise _malformed("Policy document should not specify a principal.")
    elif "Resource" not in raw and "NotResource" not in raw:
        raise _malformed("Policy statement must contain resources.")
    else:
        principal, not_principal = "*", False
    action, not_action = _either(raw, "Action")
    resources: _Names | None = None
    not_resource = False
    if "Resource" in raw or "NotResource" in raw:
        resource, not_resource = _either(raw, "Resource")
        names = _strings(resource, "Resource")
        if "*" not in names or not_resource:
            resources = _Names.of(names, ignore_case=False)
    conditions: list[_Condition] = []
    condition = raw.get("Condition", {})
    if not isinstance(condition, dict):
        raise _malformed("Policy statement Condition must be a JSON object.")
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            raise _malformed(f"Condition {operator} must map condition keys to values.")
        conditions.extend(_condition(operator, key, values) for key, values in tests.items())
    return Statement(
        allow=effect == "Allow",
        principals=_principals(principal, partition),
        not_principal=not_principal,
        actions=_Names.of(_strings(action, "Action"), ignore_case=True),
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=tuple(conditions),
    )


@dataclass(slots=True)
class Policy:
    """A compiled key policy.

    Attributes:
        statements: the statements, in document order.
    """

    statements: tuple[Statement, ...]
    _decisions: dict[tuple[str, str, str], str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not any(statement.conditions for statement in self.statements):
            self._decisions = {}

    def remembered(self, caller: Caller, action: str, resource: str) -> str | None:
        """The decision already made for this caller, action and key, if the policy has no
        conditions and made it before (then no context needs building)."""
        memo = self._decisions
        return memo.get((caller.arn, action, resource)) if memo is not None else None

    def decide(self, context: RequestContext) -> str:
        """:data:`DENY` (an explicit deny), :data:`ALLOW` (an ``Allow`` names the caller),
        :data:`DELEGATED` (``Allow`` statements name only the caller's account), or
        :data:`IMPLICIT_DENY`."""
        memo = self._decisions
        if memo is not None:
            cached = memo.get((context.caller.arn, context.action, context.resource))
            if cached is not None:
                return cached
        decision = IMPLICIT_DENY
        for statement in self.statements:
            if statement.applies(context):
                if not statement.allow:
                    decision = DENY
                    break
                if statement.not_principal or statement.principals.names(context.caller):
                    decision = ALLOW
                elif decision != ALLOW:
                    decision = DELEGATED
        if memo is not None:
            if len(memo) > 4096:
                memo.clear()
            memo[(context.caller.arn, context.action, context.resource)] = decision
        return decision


def _malformed(message: str) -> KMSError:
    return KMSError("MalformedPolicyDocumentException", message)


def _raw_statements(document: Any) -> list[Any]:
    """The statements of a parsed policy document."""
    if not isinstance(document, dict):
        raise _malformed("The policy must be a JSON object.")
    raw = document.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise _malformed("The policy must have at least one statement.")
    return raw


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json.loads goes
        raise _malformed("The policy is not valid JSON.") from None


@functools.lru_cache(maxsize=1024)
def compile_policy(text: str, partition: str = "aws") -> Policy:
    """Parse and check a key policy document of a key in ``partition`` (where an account id
    in a ``Principal`` names the account's root).

    Raises:
        KMSError: ``MalformedPolicyDocumentException`` saying what is wrong.
    """
    statements = _raw_statements(_parsed(text))
    return Policy(tuple(_statement(raw, partition=partition) for raw in statements))


def compile_identity_policies(documents: Iterable[IamPolicy]) -> Policy:
    """The IAM policies of one principal (JSON text or parsed documents) as one
    :class:`Policy` over all their statements (IAM evaluates them together: an explicit deny
    in any wins, else an allow in any allows).

    Raises:
        KMSError: ``MalformedPolicyDocumentException`` saying what is wrong.
    """
    if isinstance(documents, (str, Mapping)):
        documents = [documents]
    statements: list[Statement] = []
    for document in documents:
        parsed = _parsed(document) if isinstance(document, str) else dict(document)
        statements.extend(_statement(raw, identity=True) for raw in _raw_statements(parsed))
    return Policy(tuple(statements))
