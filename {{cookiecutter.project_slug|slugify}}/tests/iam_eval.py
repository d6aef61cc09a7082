"""A small IAM policy evaluator for the tests: does this request of this role succeed?

It reads the policies as bootstrap deploys them (every template resolved with the plan's
parameters, `World.build`), and decides a request the way AWS's documented evaluation logic does
for the parts these policies use:

- an explicit Deny in any applicable policy (the caller's identity policies, the resource's
  policy) wins;
- otherwise the caller's identity policies must Allow it, and
  - for S3 and SageMaker in the resource's own account that is enough (a resource policy that
    names the account root delegates to IAM, it grants nothing by itself);
  - across accounts the resource policy (bucket policy, model package group policy) must Allow
    it too, naming the caller's account root or role;
  - for KMS the key policy must Allow it as well, in any account (an account-root principal in
    the key policy lets that account's IAM policies grant the key);
- Action matches case-insensitively, Resource case-sensitively, both with `*` and `?` wildcards;
  NotAction/NotResource are read too;
- conditions: StringEquals, StringNotEquals, StringLike, StringNotLike, ArnLike, ArnNotLike,
  Bool, each optionally IfExists. A key absent from the request makes a positive operator
  false, a negated one true, and any IfExists operator true. Every condition key must hold
  (AND), any listed value may match (OR). An operator it does not know fails the test loudly
  instead of guessing.

It knows nothing about SCPs, permission boundaries, session policies or ACLs: none are used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Statement = dict[str, Any]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def wildcard(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _operator(name: str, wanted: list[str], present: bool, actual: str) -> bool:
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    if not present:
        return if_exists or base.startswith(("StringNot", "ArnNot"))
    if base == "StringEquals":
        return actual in wanted
    if base == "StringNotEquals":
        return actual not in wanted
    if base in ("StringLike", "ArnLike"):
        return any(wildcard(w, actual) for w in wanted)
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(wildcard(w, actual) for w in wanted)
    if base == "Bool":
        return actual.lower() in (w.lower() for w in wanted)
    raise AssertionError(f"the test evaluator does not know the condition operator {name}")


def conditions_hold(condition: Mapping[str, Any] | None, context: Mapping[str, str]) -> bool:
    for name, pairs in (condition or {}).items():
        for key, values in pairs.items():
            if not _operator(
                name, [str(v) for v in _list(values)], key in context, str(context.get(key, ""))
            ):
                return False
    return True


def _matches(statement: Statement, action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "NotAction" in statement:
        action_ok = not any(wildcard(a, action, False) for a in _list(statement["NotAction"]))
    else:
        action_ok = any(wildcard(a, action, False) for a in _list(statement.get("Action")))
    if "NotResource" in statement:
        resource_ok = not any(wildcard(r, resource) for r in _list(statement["NotResource"]))
    else:
        resource_ok = any(wildcard(r, resource) for r in _list(statement.get("Resource")))
    return action_ok and resource_ok and conditions_hold(statement.get("Condition"), context)


def _principal(statement: Statement, role_arn: str) -> str | None:
    """How a resource policy statement names the caller: "role", "root" (its account) or None."""
    principal = statement.get("Principal")
    values = ["*"] if principal == "*" else _list((principal or {}).get("AWS"))
    account = role_arn.split(":")[4]
    if role_arn in values:
        return "role"
    if "*" in values or account in values or f"arn:aws:iam::{account}:root" in values:
        return "root"
    return None


def account_of(arn: str, bucket_account: str) -> str:
    """The account owning a resource ARN (S3 ARNs carry none: the bucket's account)."""
    return bucket_account if arn.startswith("arn:aws:s3:::") else arn.split(":")[4]


@dataclass
class World:
    """The deployed policies: identity policies per role ARN, resource policies per resource."""

    bucket: str
    bucket_account: str
    identity: dict[str, list[Statement]] = field(default_factory=dict)
    # (ARN pattern of the resources it governs, its statements)
    resource_policies: list[tuple[str, list[Statement]]] = field(default_factory=list)

    def policies_of(self, resource: str) -> list[Statement]:
        return [
            s
            for pattern, statements in self.resource_policies
            if wildcard(pattern, resource)
            for s in statements
        ]

    def allowed(
        self, role_arn: str, action: str, resource: str, context: Mapping[str, str] | None = None
    ) -> bool:
        ctx = {"aws:PrincipalArn": role_arn, "aws:SecureTransport": "true", **(context or {})}
        identity = self.identity.get(role_arn)
        assert identity is not None, f"no deployed role {role_arn}"
        on_resource = [s for s in self.policies_of(resource) if _principal(s, role_arn)]
        applicable = [*identity, *on_resource]
        if any(s.get("Effect") == "Deny" and _matches(s, action, resource, ctx) for s in applicable):
            return False
        by_identity = any(s.get("Effect") == "Allow" and _matches(s, action, resource, ctx) for s in identity)
        granted = {
            _principal(s, role_arn)
            for s in on_resource
            if s.get("Effect") == "Allow" and _matches(s, action, resource, ctx)
        }
        by_resource = "role" in granted or ("root" in granted and by_identity)
        if action.lower().startswith("kms:"):
            return by_resource
        same_account = role_arn.split(":")[4] == account_of(resource, self.bucket_account)
        if same_account:
            return by_identity or "role" in granted
        return by_resource

    def all_allowed(self, role_arn: str, calls: Iterable[tuple[str, str, Mapping[str, str]]]) -> bool:
        return all(self.allowed(role_arn, action, resource, ctx) for action, resource, ctx in calls)


def build_world(cfg: Any, resolve: Callable[[str], list[tuple[Any, Any, set[str]]]]) -> tuple[World, str]:
    """The World of every stack of the plan (`resolve(template)` gives (spec, resolver, key ARNs)
    per stack deploying it), and the artifact key's ARN."""
    [(spec, shared, key_arns)] = resolve("shared-services.yaml")
    world = World(cfg.names.artifact_bucket, spec.account)
    [key_arn] = key_arns
    world.resource_policies.append((key_arn, shared.properties("ArtifactKey")["KeyPolicy"]["Statement"]))
    bucket_policy = shared.properties("ArtifactBucketPolicy")["PolicyDocument"]["Statement"]
    world.resource_policies.append((f"arn:aws:s3:::{world.bucket}*", bucket_policy))
    for logical, resource in shared.resources.items():
        if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
            props = shared.properties(logical)
            group = shared.attribute(logical, "Arn")
            versions = group.replace(":model-package-group/", ":model-package/") + "/*"
            statements = (props.get("ModelPackageGroupPolicy") or {}).get("Statement", [])
            world.resource_policies += [(group, statements), (versions, statements)]
    for template in sorted({s.template for s in _plan(cfg)}):
        for spec, resolver, _ in resolve(template):
            for logical, resource in resolver.resources.items():
                if resource["Type"] != "AWS::IAM::Role" or not resolver.active(logical):
                    continue
                props = resolver.properties(logical)
                arn = f"arn:aws:iam::{spec.account}:role/{props['RoleName']}"
                statements = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
                world.identity.setdefault(arn, []).extend(statements)
    return world, key_arn


def _plan(cfg: Any) -> list[Any]:
    from deploy_helpers import module

    return module("infra.plan").plan(cfg)
