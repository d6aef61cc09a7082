"""The product's own checks on the infrastructure's policies (cfn-lint and checkov miss these).

    python -m <package>.infra.policy_checks [infra/] [--config config/project.json]

It resolves every template in `infra/` with the parameters the bootstrap command would pass
(`bootstrap.plan`), once for the configured accounts and, unless they already differ, once for
four distinct placeholder accounts (so a single-account repository still proves that its
templates keep the accounts apart), and checks:

- GitHub OIDC trust: `StringEquals` only, `aud` exactly `sts.amazonaws.com`, every `sub` an
  exact subject of this repository (`repo:OWNER/REPO:environment:NAME`, `...:ref:refs/heads/BRANCH`,
  or the `repo:OWNER@ID/REPO@ID:...` form) with no wildcard, and each role trusting exactly the
  GitHub environments its jobs use; no `StringLike`, no `ForAllValues`/`ForAnyValue` anywhere.
- IAM policies: no wildcard actions (`*`, `service:*`, `service:Get*`), no NotAction/NotResource,
  `Resource: "*"` only for actions without resource-level permissions (`NO_RESOURCE_LEVEL_ACTIONS`),
  and in the template text every such statement carries a comment saying why.
- KMS key policies: rotation on; the data-science account may only encrypt, decrypt and generate
  data keys, workload (QA/prod) accounts may only decrypt, both only through S3 or SageMaker
  (`kms:ViaService`); no other account.
- Bucket policies: a TLS-only deny; the data-science account may read and write objects,
  workload accounts may only read; buckets encrypted with KMS, versioned, public access blocked.
- Model package group policies (from the template or from any other builder, see
  `check_group_policy`): account-root principals only, explicit actions, the data-science
  account may register and read (never into the prod group); a workload account may only
  describe the versions of the group its environment deploys from, and create a model from
  them only for prod (`CREATE_FROM_PACKAGE_ENVIRONMENTS`). sagemaker:CreateModel granted to
  the QA account (on the dev group or anywhere else) is a finding.

It exits 0 when there is no finding, 1 listing each finding on its own line
(`<template>[<stack variant>] <resource>: <what is wrong>`), and 2 when the folder or config
cannot be read.
"""

from __future__ import annotations

import argparse
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from ..config import Config
from . import bootstrap

GITHUB_PROVIDER = "token.actions.githubusercontent.com"
AUD_KEY = f"{GITHUB_PROVIDER}:aud"
SUB_KEY = f"{GITHUB_PROVIDER}:sub"
AUDIENCE = "sts.amazonaws.com"
SUBJECT = re.compile(
    r"^repo:(?P<owner>[A-Za-z0-9-]+)(?:@(?P<owner_id>[0-9]+))?/(?P<repo>[A-Za-z0-9._-]+)(?:@(?P<repo_id>[0-9]+))?"
    r":(?:environment:(?P<environment>[A-Za-z0-9._-]+)|ref:refs/heads/(?P<branch>[A-Za-z0-9._/-]+))$"
)
# Services that may assume the execution roles.
SERVICE_PRINCIPALS = frozenset({"sagemaker.amazonaws.com"})
# Actions that have no resource-level permissions, so a statement granting only these may use
# Resource "*" (Service Authorization Reference: empty "Resource types" column). Add an action
# here only after checking that reference; the docs table in docs/infrastructure.md lists why
# each statement needs it.
NO_RESOURCE_LEVEL_ACTIONS = frozenset(
    {
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DescribeScalingPolicies",
        "cloudwatch:PutMetricData",
        "ecr:GetAuthorizationToken",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:ListModelPackageGroups",
        "sagemaker:ListModels",
    }
)
KMS_CRYPTO_ACTIONS = frozenset(
    {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    }
)
KMS_DATA_SCIENCE_ACTIONS = frozenset({"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"})
KMS_WORKLOAD_ACTIONS = frozenset({"kms:Decrypt"})
KMS_VIA_SERVICES = ("s3", "sagemaker")
BUCKET_READ_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectVersion"})
BUCKET_DATA_SCIENCE_ACTIONS = BUCKET_READ_ACTIONS | {
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:PutObject",
}
GROUP_REGISTER_ACTIONS = frozenset(
    {
        "sagemaker:CreateModelPackage",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    }
)
# What a workload account's deploy calls on the registry with its own credentials:
# DescribeModelPackage, and CreateModel with ModelPackageName for the environments whose model
# is created from the package ARN (the config's `Environment.approved_only`, i.e. prod; QA
# creates its model from the package's containers in its own account). Kept here as the
# oracle's own statement; a test proves it equals the config's.
GROUP_READ_ACTIONS = frozenset({"sagemaker:DescribeModelPackage"})
CREATE_MODEL = "sagemaker:CreateModel"
CREATE_FROM_PACKAGE_ENVIRONMENTS = frozenset({"prod"})
# Each deploy environment runs in the account role of the same name.
WORKLOAD_ROLES = frozenset(config.ENVIRONMENTS)
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):(?P<kind>root|role/.+|user/.+|.+)$")
ACCOUNT = re.compile(r"^[0-9]{12}$")
PLACEHOLDER_KEY_ID = "00000000-0000-0000-0000-000000000000"
DISTINCT_ACCOUNTS = {
    "data_science": "100000000001",
    "shared_services": "100000000002",
    "qa": "100000000003",
    "prod": "100000000004",
}


@dataclass(frozen=True)
class Finding:
    """One problem: where it is and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Context:
    """What the checks compare against: accounts by role, the repository, who trusts what."""

    region: str
    accounts: dict[str, str]
    owner: str
    repo: str
    owner_id: str = ""
    repo_id: str = ""
    # GitHub role name -> the GitHub environments whose jobs assume it.
    github_roles: dict[str, set[str]] = field(default_factory=dict)
    # Model package group name -> kind (feature, dev, prod).
    group_kinds: dict[str, str] = field(default_factory=dict)
    # Environment (qa, prod) -> kind of the group it deploys from.
    deploys_from: dict[str, str] = field(default_factory=lambda: dict(config.ENVIRONMENT_GROUPS))

    @classmethod
    def from_config(cls, cfg: Config) -> Context:
        envs = {env: cfg.environment(env) for env in config.ENVIRONMENTS}
        roles = {
            cfg.role_name("github_build"): {cfg.github.environments["build"]},
            cfg.role_name("github_registry"): {env.github_environment for env in envs.values()},
        }
        for name, env in envs.items():
            roles[cfg.role_name(cfg.deploy_role_key(name))] = {env.github_environment}
        return cls(
            region=cfg.region,
            accounts={role: cfg.account_id(role) for role in config.ACCOUNT_ROLES},
            owner=cfg.github.owner,
            repo=cfg.github.repo,
            owner_id=cfg.github.owner_id,
            repo_id=cfg.github.repo_id,
            github_roles=roles,
            group_kinds={cfg.group(kind): kind for kind in config.GROUP_KINDS},
            deploys_from={name: env.group_kind for name, env in envs.items()},
        )

    def workload_group_actions(self, roles: set[str], kind: str) -> frozenset[str]:
        """Registry actions an account hosting the environments `roles` may hold on the `kind` group."""
        allowed: set[str] = set()
        for env in sorted(roles & WORKLOAD_ROLES):
            if self.deploys_from.get(env) != kind:
                continue
            allowed |= GROUP_READ_ACTIONS
            if env in CREATE_FROM_PACKAGE_ENVIRONMENTS:
                allowed.add(CREATE_MODEL)
        return frozenset(allowed)

    def roles_of(self, account: str) -> set[str]:
        return {role for role, value in self.accounts.items() if value == account}

    def via_services(self) -> set[str]:
        return {f"{service}.{self.region}.amazonaws.com" for service in KMS_VIA_SERVICES}


# --- Policy documents ----------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(policy: Any) -> list[dict[str, Any]]:
    if not isinstance(policy, dict):
        return []
    return [s for s in as_list(policy.get("Statement")) if isinstance(s, dict)]


def label(index: int, statement: dict[str, Any]) -> str:
    return f"statement {statement.get('Sid') or index}"


def allowed_statements(where: str, policy: Any) -> Iterator[tuple[str, dict[str, Any], set[str]]]:
    """(where it is, statement, its actions) for each Allow statement of a policy."""
    for index, statement in enumerate(statements(policy)):
        if statement.get("Effect") == "Allow":
            yield f"{where} {label(index, statement)}", statement, set(as_list(statement.get("Action")))


def account_limit(
    ctx: Context, account: str, data_science: frozenset[str], workload: frozenset[str]
) -> tuple[frozenset[str], str]:
    """The actions an account may be granted on a shared resource, and how to name it."""
    roles = ctx.roles_of(account)
    if "data_science" in roles:
        return data_science, "the data-science account"
    if roles and roles <= WORKLOAD_ROLES:
        return workload, f"workload account {account} ({', '.join(sorted(roles))})"
    return frozenset(), f"account {account}" + (f" ({', '.join(sorted(roles))})" if roles else "")


def excess_grant(at: str, actions: set[str], limit: frozenset[str], who: str) -> list[Finding]:
    extra = sorted(actions - limit)
    if not extra:
        return []
    return [Finding(at, f"grants {', '.join(extra)} to {who}; allowed: {sorted(limit) or 'none'}")]


def principal_accounts(statement: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(principal, account or None, kind) for every AWS principal of a statement."""
    principal = statement.get("Principal")
    values = as_list(principal.get("AWS")) if isinstance(principal, dict) else as_list(principal)
    result = []
    for value in values:
        text = str(value)
        if ACCOUNT.match(text):
            result.append((text, text, "root"))
            continue
        match = PRINCIPAL_ARN.match(text)
        result.append((text, match["account"], match["kind"]) if match else (text, None, "other"))
    return result


def is_public(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


def basic_findings(where: str, policy: Any, resource_policy: bool) -> list[Finding]:
    """Rules for every policy: explicit Allow actions, no negations, no set operators."""
    findings = []
    if not statements(policy):
        return [Finding(where, "policy has no statements")]
    for index, statement in enumerate(statements(policy)):
        at = f"{where} {label(index, statement)}"
        allow = statement.get("Effect") == "Allow"
        for operator in statement.get("Condition") or {}:
            if operator.startswith(("ForAllValues:", "ForAnyValue:")):
                findings.append(
                    Finding(
                        at, f"uses {operator}; set operators are not allowed (use single-valued StringEquals)"
                    )
                )
        if not allow:
            continue
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in statement:
                findings.append(Finding(at, f"Allow with {key}; list what is allowed explicitly"))
        for action in as_list(statement.get("Action")):
            if "*" in str(action) or "?" in str(action):
                findings.append(Finding(at, f"grants wildcard action {action!r}; name each action"))
        if resource_policy and is_public(statement):
            findings.append(Finding(at, "allows Principal '*'"))
    return findings


def check_identity_policy(where: str, policy: Any) -> list[Finding]:
    """An IAM identity policy: basic rules, and Resource "*" only for NO_RESOURCE_LEVEL_ACTIONS."""
    findings = basic_findings(where, policy, resource_policy=False)
    for index, statement in enumerate(statements(policy)):
        if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource")):
            continue
        scoped = sorted(a for a in as_list(statement.get("Action")) if a not in NO_RESOURCE_LEVEL_ACTIONS)
        if scoped:
            findings.append(
                Finding(
                    f"{where} {label(index, statement)}",
                    f"Resource '*' for {', '.join(scoped)}, which support resource-level permissions",
                )
            )
    return findings


def check_trust_policy(where: str, policy: Any, role_name: str, ctx: Context) -> list[Finding]:
    """A role's trust policy: GitHub OIDC statements pinned exactly, services from an allow-list."""
    findings = basic_findings(where, policy, resource_policy=True)
    for at, statement, actions in allowed_statements(where, policy):
        principal = statement.get("Principal") or {}
        if "sts:AssumeRoleWithWebIdentity" in actions:
            findings += _github_trust(at, statement, role_name, ctx)
            actions.discard("sts:AssumeRoleWithWebIdentity")
        elif actions == {"sts:AssumeRole"}:
            services = set(as_list(principal.get("Service"))) if isinstance(principal, dict) else set()
            others = {k for k in (principal if isinstance(principal, dict) else {"*": 1}) if k != "Service"}
            if others or not services or not services <= SERVICE_PRINCIPALS:
                findings.append(
                    Finding(at, f"lets {principal!r} assume the role; only {sorted(SERVICE_PRINCIPALS)} may")
                )
            actions.clear()
        if actions:
            findings.append(Finding(at, f"trust policy allows unexpected actions {sorted(actions)}"))
    return findings


def _github_trust(at: str, statement: dict[str, Any], role_name: str, ctx: Context) -> list[Finding]:
    findings = []
    principal = statement.get("Principal") or {}
    federated = as_list(principal.get("Federated")) if isinstance(principal, dict) else []
    if len(federated) != 1 or not str(federated[0]).endswith(f":oidc-provider/{GITHUB_PROVIDER}"):
        findings.append(Finding(at, f"web identity principal {federated!r} is not the GitHub OIDC provider"))
    conditions = statement.get("Condition") or {}
    for operator in conditions:
        if operator != "StringEquals":
            findings.append(
                Finding(at, f"uses {operator}; GitHub trust must use StringEquals on exact values only")
            )
    exact = conditions.get("StringEquals") or {}
    audiences = as_list(exact.get(AUD_KEY))
    if audiences != [AUDIENCE]:
        findings.append(Finding(at, f"{AUD_KEY} must be exactly [{AUDIENCE!r}], found {audiences!r}"))
    subjects = as_list(exact.get(SUB_KEY))
    if not subjects:
        findings.append(Finding(at, f"no StringEquals on {SUB_KEY}: any repository could assume the role"))
    expected = ctx.github_roles.get(role_name)
    if expected is None:
        findings.append(
            Finding(at, f"role {role_name!r} trusts GitHub but is not one of the configured GitHub roles")
        )
        expected = set()
    seen = set()
    for subject in subjects:
        text = str(subject)
        if "*" in text or "?" in text:
            findings.append(Finding(at, f"sub {text!r} contains a wildcard; name one exact subject"))
            continue
        match = SUBJECT.match(text)
        if not match:
            findings.append(
                Finding(at, f"sub {text!r} is not an exact repo:OWNER/REPO:environment:NAME subject")
            )
            continue
        if (match["owner"], match["repo"]) != (ctx.owner, ctx.repo):
            findings.append(Finding(at, f"sub {text!r} names another repository than {ctx.owner}/{ctx.repo}"))
        for part, want in (("owner_id", ctx.owner_id), ("repo_id", ctx.repo_id)):
            if match[part] is not None and match[part] != want:
                findings.append(Finding(at, f"sub {text!r} has {part} {match[part]}, config says {want!r}"))
        if match["branch"] is not None:
            findings.append(
                Finding(
                    at, f"sub {text!r} trusts a branch; this role is trusted through GitHub environments only"
                )
            )
            continue
        env = match["environment"]
        seen.add(env)
        if expected and env not in expected:
            findings.append(
                Finding(
                    at,
                    f"sub {text!r} trusts environment {env!r}; "
                    f"role {role_name} expects only {sorted(expected)}",
                )
            )
    missing = expected - seen
    if expected and subjects and missing:
        findings.append(
            Finding(at, f"role {role_name} does not trust environment(s) {sorted(missing)} its jobs use")
        )
    return findings


def check_key_policy(where: str, policy: Any, key_account: str, ctx: Context) -> list[Finding]:
    """A KMS key policy: who may use the key, for what, and through which service."""
    findings = basic_findings(where, policy, resource_policy=True)
    allowed_via = ctx.via_services()
    for at, statement, actions in allowed_statements(where, policy):
        principal = statement.get("Principal")
        if isinstance(principal, dict) and set(principal) - {"AWS"}:
            findings.append(
                Finding(at, f"grants the key to non-account principals {sorted(set(principal) - {'AWS'})}")
            )
        for text, account, _kind in principal_accounts(statement):
            if account is None:
                findings.append(Finding(at, f"principal {text!r} is not an account or IAM ARN"))
                continue
            if account == key_account:
                continue
            if not ctx.roles_of(account):
                findings.append(
                    Finding(at, f"grants the key to account {account}, which is none of the four accounts")
                )
                continue
            limit, who = account_limit(ctx, account, KMS_DATA_SCIENCE_ACTIONS, KMS_WORKLOAD_ACTIONS)
            findings += excess_grant(at, actions, limit, who)
            if actions & KMS_CRYPTO_ACTIONS:
                via = set(
                    as_list(
                        ((statement.get("Condition") or {}).get("StringEquals") or {}).get("kms:ViaService")
                    )
                )
                if not via:
                    findings.append(Finding(at, f"grants {who} key use without a kms:ViaService condition"))
                elif not via <= allowed_via:
                    findings.append(
                        Finding(
                            at,
                            f"kms:ViaService {sorted(via - allowed_via)} "
                            f"is not S3 or SageMaker in {ctx.region}",
                        )
                    )
    return findings


def check_bucket_policy(where: str, policy: Any, bucket_account: str, ctx: Context) -> list[Finding]:
    """A bucket policy: TLS-only deny; data-science read/write; workload accounts read only."""
    findings = basic_findings(where, policy, resource_policy=True)
    tls_deny = any(
        s.get("Effect") == "Deny"
        and is_public(s)
        and "s3:*" in as_list(s.get("Action"))
        and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"
        for s in statements(policy)
    )
    if not tls_deny:
        findings.append(Finding(where, "no Deny of s3:* when aws:SecureTransport is false (TLS-only)"))
    for at, statement, actions in allowed_statements(where, policy):
        for text, account, _kind in principal_accounts(statement):
            if account is None:
                findings.append(Finding(at, f"principal {text!r} is not an account or IAM ARN"))
                continue
            if account == bucket_account:
                continue
            limit, who = account_limit(ctx, account, BUCKET_DATA_SCIENCE_ACTIONS, BUCKET_READ_ACTIONS)
            findings += excess_grant(at, actions, limit, who)
    return findings


def check_group_policy(where: str, policy: Any, kind: str, ctx: Context) -> list[Finding]:
    """A model package group's resource policy, from a template or any builder (e.g. the deploy code).

    Account-root principals only (a role principal makes the group undiscoverable from the
    other account), explicit actions, data-science registers and reads (never in the prod
    group). A workload account may hold only `Context.workload_group_actions`: describe the
    versions of the group its environment deploys from and, for prod only, create models from
    them; every other action (e.g. CreateModel for the QA account on the dev group) is a finding.
    """
    if policy is None:
        return []
    findings = basic_findings(where, policy, resource_policy=True)
    owner = ctx.accounts["shared_services"]
    for at, statement, actions in allowed_statements(where, policy):
        principal = statement.get("Principal")
        if not isinstance(principal, dict) or set(principal) != {"AWS"}:
            findings.append(Finding(at, f"principal {principal!r} must be an AWS principal of account roots"))
        for text, account, principal_kind in principal_accounts(statement):
            if principal_kind != "root" or account is None:
                findings.append(
                    Finding(at, f"principal {text!r} is not an account root; use arn:aws:iam::<account>:root")
                )
            if account is None or account == owner:
                continue
            roles = ctx.roles_of(account)
            workload = ctx.workload_group_actions(roles, kind)
            if "data_science" in roles:
                limit = GROUP_REGISTER_ACTIONS | workload
                if kind == "prod":
                    limit = limit - {"sagemaker:CreateModelPackage"}
                who = "the data-science account"
            elif roles and roles <= WORKLOAD_ROLES:
                limit, who = workload, f"workload account {account} ({', '.join(sorted(roles))})"
            else:
                limit, who = frozenset(), f"account {account}"
            extra = sorted(actions - limit)
            if extra:
                why = ""
                if CREATE_MODEL in extra and roles & WORKLOAD_ROLES - CREATE_FROM_PACKAGE_ENVIRONMENTS:
                    why = " (QA creates its model from the package's containers, not from the package ARN)"
                findings.append(
                    Finding(
                        at,
                        f"grants {', '.join(extra)} on the {kind} group to {who}{why}; "
                        f"allowed: {sorted(limit)}",
                    )
                )
    return findings


# --- Templates -------------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, turning short-form tags (!Sub, !Ref...) into long form."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        return {name: value}

    Loader.add_multi_constructor("!", construct)
    data = yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return data


_NO_VALUE = object()


class Resolver:
    """Evaluates a template's intrinsic functions for one set of parameters and one account.

    Resource references become the names and ARNs CloudFormation would produce (role ARNs from
    RoleName, bucket ARNs from BucketName, placeholders for generated IDs such as key IDs).
    """

    def __init__(
        self, template: dict[str, Any], parameters: dict[str, str], account: str, region: str
    ) -> None:
        self.template = template
        self.resources = template.get("Resources", {})
        self.params = {k: str(v.get("Default", "")) for k, v in (template.get("Parameters") or {}).items()}
        self.params.update(parameters)
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
        }
        self.account, self.region = account, region
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def active(self, logical_id: str) -> bool:
        cond = self.resources[logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = self._functions().get(key)
            if handler:
                return handler(arg)
        return {k: v for k, v in ((k, self.value(n)) for k, n in node.items()) if v is not _NO_VALUE}

    def _functions(self) -> dict[str, Any]:
        return {
            "Ref": self.ref,
            "Condition": self.condition,
            "Fn::Sub": self.sub,
            "Fn::GetAtt": lambda arg: self.attribute(arg[0], arg[1]),
            "Fn::If": lambda arg: self.value(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: str(self.value(arg[0])) == str(self.value(arg[1])),
            "Fn::Not": lambda arg: not self.value(arg[0]),
            "Fn::And": lambda arg: all(self.value(a) for a in arg),
            "Fn::Or": lambda arg: any(self.value(a) for a in arg),
            "Fn::Join": lambda arg: str(arg[0]).join(str(v) for v in self.value(arg[1])),
            "Fn::Select": lambda arg: self.value(arg[1])[int(self.value(arg[0]))],
            "Fn::Split": lambda arg: str(self.value(arg[1])).split(arg[0]),
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return self.attribute(name, "Ref")
        raise ValueError(f"!Ref {name} names no parameter or resource")

    def sub(self, arg: Any) -> str:
        text, variables = (arg[0], self.value(arg[1])) if isinstance(arg, list) else (arg, {})

        def replace(match: re.Match[str]) -> str:
            inner = match[1]
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner and inner.split(".", 1)[0] in self.resources:
                return str(self.attribute(*inner.split(".", 1)))
            return str(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def prop(self, logical_id: str, name: str) -> Any:
        return self.value(self.resources[logical_id].get("Properties", {}).get(name, f"<{logical_id}>"))

    def attribute(self, logical_id: str, attr: str) -> Any:
        kind = self.resources[logical_id]["Type"]
        acct, region = self.account, self.region
        if kind == "AWS::IAM::Role":
            name = self.prop(logical_id, "RoleName")
            return name if attr == "Ref" else f"arn:aws:iam::{acct}:role/{name}"
        if kind == "AWS::S3::Bucket":
            name = self.prop(logical_id, "BucketName")
            return name if attr == "Ref" else f"arn:aws:s3:::{name}"
        if kind == "AWS::KMS::Key":
            key_id = f"00000000-0000-0000-0000-{zlib.crc32(logical_id.encode()):012d}"
            return key_id if attr in ("Ref", "KeyId") else f"arn:aws:kms:{region}:{acct}:key/{key_id}"
        if kind == "AWS::KMS::Alias":
            return self.prop(logical_id, "AliasName")
        if kind == "AWS::IAM::OIDCProvider":
            url = str(self.prop(logical_id, "Url")).removeprefix("https://")
            return f"arn:aws:iam::{acct}:oidc-provider/{url}"
        if kind == "AWS::SageMaker::ModelPackageGroup":
            name = self.prop(logical_id, "ModelPackageGroupName")
            return f"arn:aws:sagemaker:{region}:{acct}:model-package-group/{name}"
        return f"<{logical_id}.{attr}>"

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.value(self.resources[logical_id].get("Properties", {}))


def check_template(
    template: dict[str, Any], parameters: dict[str, str], account: str, ctx: Context, where: str
) -> list[Finding]:
    """Resolve one template for one stack and check every policy and bucket in it."""
    resolver = Resolver(template, parameters, account, ctx.region)
    findings: list[Finding] = []
    for logical_id, resource in template["Resources"].items():
        if not resolver.active(logical_id):
            continue
        at = f"{where} {logical_id}"
        kind = resource["Type"]
        props = resolver.properties(logical_id)
        if kind == "AWS::IAM::Role":
            role_name = str(props.get("RoleName", logical_id))
            findings += check_trust_policy(
                f"{at} trust", props.get("AssumeRolePolicyDocument"), role_name, ctx
            )
            for inline in props.get("Policies", []):
                findings += check_identity_policy(
                    f"{at} policy {inline.get('PolicyName')}", inline.get("PolicyDocument")
                )
            if props.get("ManagedPolicyArns"):
                findings.append(
                    Finding(at, "attaches managed policies; keep permissions inline and reviewable")
                )
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            findings += check_identity_policy(at, props.get("PolicyDocument"))
        elif kind == "AWS::KMS::Key":
            if props.get("EnableKeyRotation") not in (True, "true"):
                findings.append(Finding(at, "EnableKeyRotation is not true"))
            findings += check_key_policy(f"{at} key policy", props.get("KeyPolicy"), account, ctx)
        elif kind == "AWS::S3::Bucket":
            findings += _bucket_settings(at, props)
        elif kind == "AWS::S3::BucketPolicy":
            findings += check_bucket_policy(f"{at}", props.get("PolicyDocument"), account, ctx)
        elif kind == "AWS::SageMaker::ModelPackageGroup":
            name = str(props.get("ModelPackageGroupName"))
            group_kind = ctx.group_kinds.get(name)
            if group_kind is None:
                findings.append(
                    Finding(at, f"model package group {name!r} is not one of the configured groups")
                )
                continue
            findings += check_group_policy(
                f"{at} group policy", props.get("ModelPackageGroupPolicy"), group_kind, ctx
            )
    return findings


def _bucket_settings(at: str, props: dict[str, Any]) -> list[Finding]:
    findings = []
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    algorithms = {(r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in rules}
    if algorithms != {"aws:kms"}:
        findings.append(
            Finding(at, f"default encryption is {sorted(map(str, algorithms))}, expected aws:kms")
        )
    if (props.get("VersioningConfiguration") or {}).get("Status") != "Enabled":
        findings.append(Finding(at, "versioning is not Enabled"))
    block = props.get("PublicAccessBlockConfiguration") or {}
    keys = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    if not all(block.get(k) in (True, "true") for k in keys):
        findings.append(Finding(at, "public access block is not fully on"))
    return findings


def check_wildcard_comments(text: str, where: str) -> list[Finding]:
    """Every statement with `Resource: "*"` carries a comment saying why: a comment line inside the
    statement, the comment lines right above it, or a comment at the end of the Resource line."""
    lines = text.splitlines()
    findings = []
    for number, line in enumerate(lines):
        if not re.match(r'^\s*Resource:\s*["\']\*["\']\s*(#.*)?$', line):
            continue
        indent = len(line) - len(line.lstrip())
        start = number
        while start > 0:
            start -= 1
            stripped = lines[start].lstrip()
            if stripped.startswith("- ") and len(lines[start]) - len(stripped) < indent:
                break
        above = start
        while above > 0 and lines[above - 1].lstrip().startswith("#"):
            above -= 1
        block = lines[above : number + 1]
        if "#" not in line and not any(candidate.lstrip().startswith("#") for candidate in block):
            findings.append(
                Finding(f"{where} line {number + 1}", 'Resource: "*" without a comment saying why')
            )
    return findings


def variants(cfg: Config) -> list[tuple[str, Config]]:
    """The configured accounts, plus four distinct placeholder accounts when they are not distinct."""
    result = [("configured accounts", cfg)]
    if len({cfg.account_id(role) for role in config.ACCOUNT_ROLES}) < len(config.ACCOUNT_ROLES):
        result.append(("four distinct accounts", cfg.with_accounts(DISTINCT_ACCOUNTS)))
    return result


def check_directory(infra_dir: Path, cfg: Config) -> list[Finding]:
    """Check every template in `infra_dir` as the bootstrap plan deploys it; findings in order."""
    findings: list[Finding] = []
    templates = sorted(infra_dir.glob("*.yaml"))
    if not templates:
        raise FileNotFoundError(f"no *.yaml templates in {infra_dir}")
    parsed = {}
    for path in templates:
        findings += check_wildcard_comments(path.read_text(), path.name)
        parsed[path.name] = load_template(path)
    used = set()
    for variant, variant_cfg in variants(cfg):
        ctx = Context.from_config(variant_cfg)
        shared = variant_cfg.account_id("shared_services")
        outputs = {
            "shared-services": {
                bootstrap.KEY_ARN_OUTPUT: f"arn:aws:kms:{ctx.region}:{shared}:key/{PLACEHOLDER_KEY_ID}"
            }
        }
        for spec in bootstrap.plan(variant_cfg):
            used.add(spec.template)
            if spec.template not in parsed:
                findings.append(
                    Finding(spec.template, f"missing from {infra_dir} (stack {spec.name} deploys it)")
                )
                continue
            params = spec.resolved_parameters(outputs)
            where = f"{spec.template}[{spec.name} in {spec.account}, {variant}]"
            findings += check_template(parsed[spec.template], params, spec.account, ctx, where)
    for name in sorted(set(parsed) - used):
        findings.append(
            Finding(name, "no stack of the bootstrap plan deploys this template, so it is not checked")
        )
    unique: dict[str, Finding] = {}
    for finding in findings:
        unique.setdefault(str(finding), finding)
    return list(unique.values())


def main(argv: list[str] | None = None) -> int:
    """Run the checks; exit codes as in the module docstring."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__.splitlines()[0])
    parser.add_argument("infra_dir", nargs="?", type=Path, default=bootstrap.INFRA_DIR)
    parser.add_argument(
        "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
    )
    args = parser.parse_args(argv)
    try:
        cfg = config.load_config(args.config)
        findings = check_directory(args.infra_dir, cfg)
    except (config.ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    if findings:
        print(f"policy checks: {len(findings)} finding(s) in {args.infra_dir}", file=sys.stderr)
        return 1
    print(
        f"policy checks: no findings in {len(list(args.infra_dir.glob('*.yaml')))} templates "
        f"in {args.infra_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
