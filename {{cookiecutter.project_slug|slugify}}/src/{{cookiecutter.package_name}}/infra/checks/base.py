"""What every policy check shares: the oracle's own limits, findings, the context and statement helpers.

The limits below are the checks' own statement of what an account may never hold (workload
accounts read only, data science never registers into the prod group, only approved-only
environments create models from a package ARN). The access table (`access/table.py`) says what each
role does hold; the checks hold the templates to the table and the table to these limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ... import access, config
from ...config import Config
from ...config.batch import ROLE_KEYS as BATCH_ROLE_KEYS

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
        "cloudwatch:GetMetricData",
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
# The most a workload account may hold on the group its environment deploys from:
# DescribeModelPackage, plus CreateModel (with ModelPackageName) only for an environment that
# deploys Approved versions only (`Environment.approved_only` in the config, i.e. prod), because
# only then does SageMaker check the approval. QA creates its model from the package's containers.
GROUP_READ_ACTIONS = frozenset({"sagemaker:DescribeModelPackage"})
CREATE_MODEL = "sagemaker:CreateModel"
# Each deploy environment runs in the account role of the same name.
WORKLOAD_ROLES = frozenset(config.ENVIRONMENTS)
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):(?P<kind>root|role/.+|user/.+|.+)$")
ACCOUNT = re.compile(r"^[0-9]{12}$")


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
    # Environments that deploy Approved versions only, so may create models from a package ARN.
    create_from_package: frozenset[str] = frozenset()
    # The config the access table is read with (None: no comparison with the table).
    cfg: Config | None = None
    # The data-scientist role's name and the principal pattern its trust names (None: no such role).
    data_scientist: tuple[str, str] | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> Context:
        envs = {env: cfg.environment(env) for env in config.ENVIRONMENTS}
        # Every GitHub role is trusted by exactly one GitHub environment.
        roles = {
            cfg.role_name("github_feature"): {cfg.github.environments["feature"]},
            cfg.role_name("github_build"): {cfg.github.environments["build"]},
            cfg.role_name("github_registry_qa"): {envs["qa"].github_environment},
            cfg.role_name("github_registry_prod"): {envs["prod"].github_environment},
        }
        for name, env in envs.items():
            roles[cfg.role_name(cfg.deploy_role_key(name))] = {env.github_environment}
            roles[cfg.role_name(BATCH_ROLE_KEYS[name])] = {cfg.batch.github_environment}
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
            create_from_package=frozenset(name for name, env in envs.items() if env.approved_only),
            cfg=cfg,
            data_scientist=(cfg.role_name("data_scientist"), cfg.data_scientist_principal)
            if cfg.data_scientist_principal
            else None,
        )

    def workload_group_actions(self, roles: set[str], kind: str) -> frozenset[str]:
        """The most an account hosting the environments `roles` may hold on the `kind` group."""
        allowed: set[str] = set()
        for env in sorted(roles & WORKLOAD_ROLES):
            if self.deploys_from.get(env) != kind:
                continue
            allowed |= GROUP_READ_ACTIONS
            if env in self.create_from_package:
                allowed.add(CREATE_MODEL)
        return frozenset(allowed)

    def table_actions(self, account: str, resources: Iterable[str]) -> frozenset[str] | None:
        """What the access table grants the roles of `account` on `resources` (None: no table)."""
        if self.cfg is None:
            return None
        rows = [g for g in access.grants(self.cfg) if access.party_account(self.cfg, g.party) == account]
        return frozenset(access.actions_of(rows, resources))

    def role_key(self, role_name: str) -> str | None:
        """The config.ROLE_SUFFIXES key of an IAM role name (None: not one of this repo's roles)."""
        if self.cfg is None:
            return None
        return next((key for key, name in self.cfg.names.roles.items() if name == role_name), None)

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


def excess_grant(
    at: str, actions: set[str], limit: frozenset[str], who: str, table: frozenset[str] | None = None
) -> list[Finding]:
    """Actions beyond the checks' own limit, then (within it) beyond what the access table grants."""
    findings = []
    extra = sorted(actions - limit)
    if extra:
        findings.append(
            Finding(at, f"grants {', '.join(extra)} to {who}; allowed: {sorted(limit) or 'none'}")
        )
    beyond = sorted((actions & limit) - table) if table is not None else []
    if beyond:
        findings.append(Finding(at, beyond_table(", ".join(beyond), who, table)))
    return findings


def beyond_table(what: str, who: str, table: Iterable[str] | None) -> str:
    return (
        f"grants {what} to {who}, which the access table (access/table.py) does not grant; "
        f"it grants: {sorted(table or []) or 'none'}"
    )


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
