"""Trust policies: GitHub OIDC statements pinned exactly, services from an allow-list, and AWS
principals only for the data-scientist role, pinned to `aws.data_scientist_principal`."""

from __future__ import annotations

from typing import Any

from .base import (
    AUD_KEY,
    AUDIENCE,
    GITHUB_PROVIDER,
    SERVICE_PRINCIPALS,
    SUB_KEY,
    SUBJECT,
    Context,
    Finding,
    allowed_statements,
    as_list,
    basic_findings,
)
from .events import trusted_services


def check_trust_policy(where: str, policy: Any, role_name: str, ctx: Context) -> list[Finding]:
    """A role's trust policy: GitHub OIDC statements pinned exactly, services from an allow-list;
    only the data-scientist role trusts AWS principals (`_data_scientist_trust`)."""
    findings = basic_findings(where, policy, resource_policy=True)
    for at, statement, actions in allowed_statements(where, policy):
        principal = statement.get("Principal") or {}
        if "sts:AssumeRoleWithWebIdentity" in actions:
            findings += _github_trust(at, statement, role_name, ctx)
            actions.discard("sts:AssumeRoleWithWebIdentity")
        elif actions == {"sts:AssumeRole"} and isinstance(principal, dict) and "AWS" in principal:
            findings += _data_scientist_trust(at, statement, role_name, ctx)
            actions.clear()
        elif actions == {"sts:AssumeRole"}:
            services = set(as_list(principal.get("Service"))) if isinstance(principal, dict) else set()
            others = {k for k in (principal if isinstance(principal, dict) else {"*": 1}) if k != "Service"}
            # The event-source roles may also trust EventBridge (checks/events.py limits them).
            allowed = SERVICE_PRINCIPALS | trusted_services(role_name, ctx)
            if others or not services or not services <= allowed:
                findings.append(
                    Finding(at, f"lets {principal!r} assume the role; only {sorted(allowed)} may")
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


def _data_scientist_trust(at: str, statement: dict[str, Any], role_name: str, ctx: Context) -> list[Finding]:
    """The data-scientist role alone trusts AWS principals: exactly the root of the account of
    `aws.data_scientist_principal`, narrowed by exactly `ArnLike aws:PrincipalArn` that pattern."""
    principal = statement.get("Principal") or {}
    if ctx.data_scientist is None or role_name != ctx.data_scientist[0]:
        return [
            Finding(
                at,
                f"lets AWS principals {as_list(principal.get('AWS'))!r} assume role {role_name}; only the "
                "data-scientist role (aws.data_scientist_principal) trusts AWS principals",
            )
        ]
    pattern = ctx.data_scientist[1]
    account = pattern.split(":")[4]
    root = f"arn:aws:iam::{account}:root"
    findings = []
    if set(principal) != {"AWS"} or as_list(principal.get("AWS")) != [root]:
        findings.append(
            Finding(
                at,
                f"principal {principal!r} is not exactly {root} "
                "(the account of aws.data_scientist_principal)",
            )
        )
    condition = {
        operator: {key: [str(v) for v in as_list(values)] for key, values in (pairs or {}).items()}
        for operator, pairs in (statement.get("Condition") or {}).items()
    }
    if condition != {"ArnLike": {"aws:PrincipalArn": [pattern]}}:
        findings.append(
            Finding(
                at,
                f"condition {condition!r} is not exactly ArnLike aws:PrincipalArn {pattern!r} "
                f"(aws.data_scientist_principal): any other lets more principals of account {account} "
                "assume the role",
            )
        )
    return findings
