"""A small IAM policy evaluator: the one reading of policy documents behind the stand-in's copy
paths (vault access policies, the copying role's policies, KMS key policies) and behind the
SimulatePrincipalPolicy proxy (standin.iam_proxy). docs/aws-facts.md#copy-paths, *The policy
evaluator*.

What it covers (anything else is out of scope, see below):

* Documents: `{"Version"?, "Statement": statement | [statement]}`, given as JSON text or a dict.
* Effect `Allow` / `Deny`. The decision over a set of documents is IAM's for one policy type: an
  explicit Deny in any matching statement wins (`explicitDeny`); else an Allow in any matching
  statement (`allowed`); else `implicitDeny` ("Policy evaluation logic", IAM User Guide).
* `Action` / `NotAction`: one string or a list; `*` and `?` wildcards; service prefix and action
  name compared case-insensitively (IAM: "action names are not case sensitive").
* `Resource` / `NotResource`: one string or a list; `*` and `?` wildcards, case-sensitive; a
  statement without either (a resource-based policy's often) applies to every resource.
* `Principal` (resource-based policies only; identity policies have none): `"*"`, `{"AWS": "*"}`,
  `{"AWS": account id | "arn:aws:iam::ACCOUNT:root" | a role or user ARN | a list of them}`. An
  account id or its root ARN matches every principal of that account; a role ARN matches that
  role (and its assumed-role sessions). `NotPrincipal` makes a statement never match (not
  modelled: it is refused by no one here, only ignored).
* `Condition`: the operators `StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike`,
  `StringEqualsIgnoreCase` and their `ForAnyValue:` forms, over the keys the request context
  carries: `aws:PrincipalOrgID`, `aws:PrincipalAccount`, `aws:PrincipalArn`, and whatever a caller
  adds (e.g. `kms:CallerAccount`). A value list matches when any value matches. An operator or
  key the evaluator does not know makes its statement not apply (an Allow then grants nothing, a
  Deny denies nothing): it is reported in `unknown`, so callers and tests can see what was skipped.
* Not covered: policy variables (`${aws:username}`), `IfExists`, numeric/date/ARN/bool/IP
  operators, `ForAllValues:`, permissions boundaries, session policies, SCPs, grants.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"
ACCOUNT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):root$")
ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::([0-9]{12}):assumed-role/([^/]+)/.+$")
STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase"}


@dataclass
class Request:
    """What is asked: `action` (e.g. "backup:CopyIntoBackupVault") on `resource` (an ARN) by the
    principal `principal` (an ARN; its account is its fifth field), with condition `context`
    (aws:PrincipalArn and aws:PrincipalAccount are filled in from the principal)."""

    action: str
    resource: str
    principal: str | None = None
    context: dict = field(default_factory=dict)

    def keys(self) -> dict:
        keys = {k.lower(): v for k, v in self.context.items()}
        if self.principal:
            keys.setdefault("aws:principalarn", self.principal)
            keys.setdefault("aws:principalaccount", principal_account(self.principal))
        return keys


@dataclass
class Decision:
    decision: str
    # (policy id, statement index) of the statements that decided: the Denies for explicitDeny,
    # the Allows for allowed, none for implicitDeny.
    matched: list[tuple[str, int]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # condition operators/keys that made a statement not apply

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


def principal_account(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def parse(document) -> list[dict]:
    """The statements of a policy document (JSON text or dict). Raises ValueError on a document
    that is not one."""
    if isinstance(document, str):
        document = json.loads(document)
    if not isinstance(document, dict) or "Statement" not in document:
        raise ValueError("a policy document needs a Statement")
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise ValueError("every statement needs an Effect of Allow or Deny")
        if not any(k in statement for k in ("Action", "NotAction")):
            raise ValueError("every statement needs an Action or a NotAction")
    return statements


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.S | (re.I if ignore_case else 0))


def like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_wildcard(str(pattern), ignore_case).match(str(value)))


def _action_matches(statement: dict, action: str) -> bool:
    if "Action" in statement:
        return any(like(p, action, True) for p in as_list(statement["Action"]))
    return not any(like(p, action, True) for p in as_list(statement["NotAction"]))


def _resource_matches(statement: dict, resource: str) -> bool:
    if "Resource" in statement:
        return any(like(p, resource) for p in as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(like(p, resource) for p in as_list(statement["NotResource"]))
    return True


def _principal_matches(statement: dict, principal: str | None) -> bool:
    if "NotPrincipal" in statement:
        return False
    named = statement.get("Principal")
    if named == "*":
        return True
    if not isinstance(named, dict):
        return False
    account = principal_account(principal)
    role = None
    assumed = ASSUMED_ROLE.match(principal or "")
    if assumed:
        role = f"arn:{assumed.group(1)}:iam::{assumed.group(2)}:role/{assumed.group(3)}"
    for value in as_list(named.get("AWS")):
        root = ACCOUNT_ARN.match(value)
        if value == "*" or (account and value in (account, f"arn:aws:iam::{account}:root")) or (root and root.group(1) == account):
            return True
        if principal and value in (principal, role):
            return True
    return False


def _conditions_hold(statement: dict, keys: dict, unknown: list[str]) -> bool:
    for operator, tests in (statement.get("Condition") or {}).items():
        quantifier, _, name = operator.rpartition(":")
        if quantifier not in ("", "ForAnyValue") or name not in STRING_OPERATORS or not isinstance(tests, dict):
            unknown.append(operator)
            return False
        for key, expected in tests.items():
            if key.lower() not in keys:
                unknown.append(key)
                return False
            values = [str(v) for v in as_list(keys[key.lower()])]
            wanted = [str(v) for v in as_list(expected)]
            if name == "StringEquals":
                ok = any(v in wanted for v in values)
            elif name == "StringEqualsIgnoreCase":
                ok = any(v.lower() in [w.lower() for w in wanted] for v in values)
            elif name == "StringNotEquals":
                ok = all(v not in wanted for v in values)
            elif name == "StringLike":
                ok = any(like(w, v) for w in wanted for v in values)
            else:  # StringNotLike
                ok = not any(like(w, v) for w in wanted for v in values)
            if not ok:
                return False
    return True


def evaluate(policies: list[tuple[str, object]], request: Request, *, resource_based: bool = False) -> Decision:
    """The decision of the documents `policies` ([(policy id, document)], all of one type) on
    `request`. `resource_based`: the documents are resource policies, whose statements apply
    only to the principals they name."""
    keys = request.keys()
    allows, denies, unknown = [], [], []
    for policy_id, document in policies:
        for index, statement in enumerate(parse(document)):
            if not _action_matches(statement, request.action) or not _resource_matches(statement, request.resource):
                continue
            if resource_based and not _principal_matches(statement, request.principal):
                continue
            if not _conditions_hold(statement, keys, unknown):
                continue
            (denies if statement["Effect"] == "Deny" else allows).append((policy_id, index))
    if denies:
        return Decision(EXPLICIT_DENY, denies, unknown)
    if allows:
        return Decision(ALLOWED, allows, unknown)
    return Decision(IMPLICIT_DENY, [], unknown)


def combine(identity: Decision, resource: Decision | None, same_account: bool) -> Decision:
    """An identity decision and a resource policy's together, as IAM combines them: an explicit
    Deny in either wins; within one account an Allow in either suffices; across accounts both
    must allow ("Cross-account policy evaluation logic", IAM User Guide)."""
    if resource is None:
        return identity
    unknown = identity.unknown + resource.unknown
    for decision in (identity, resource):
        if decision.decision == EXPLICIT_DENY:
            return Decision(EXPLICIT_DENY, decision.matched, unknown)
    if same_account and (identity.allowed or resource.allowed):
        return Decision(ALLOWED, identity.matched + resource.matched, unknown)
    if identity.allowed and resource.allowed:
        return Decision(ALLOWED, identity.matched + resource.matched, unknown)
    return Decision(IMPLICIT_DENY, [], unknown)
