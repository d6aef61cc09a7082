"""IAM identity policies: explicit actions, `Resource: "*"` only where needed and explained,
and every grant on a shared resource one the access table makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ... import access
from .base import (
    NO_RESOURCE_LEVEL_ACTIONS,
    Context,
    Finding,
    allowed_statements,
    as_list,
    basic_findings,
    label,
    statements,
)


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


def check_role_grants(
    where: str, role_name: str, account: str, policies: Iterable[Any], ctx: Context, key_arns: Iterable[str]
) -> list[Finding]:
    """A role's grants on the shared resources (registry groups and versions, artifact bucket and
    key) are ones the access table makes to that role; `key_arns` are the ARNs of the artifact key
    as this stack sees it. Wildcard actions and `Resource: "*"` are the other checks' findings."""
    if ctx.cfg is None:
        return []
    allowed = access.grants_of_role(ctx.cfg, account, role_name)
    findings = []
    for policy in policies:
        for at, statement, actions in allowed_statements(
            f"{where} policy {policy.get('PolicyName')}", policy.get("PolicyDocument")
        ):
            extra = set()
            for resource in as_list(statement.get("Resource")):
                symbol = access.resource_of(ctx.cfg, str(resource), key_arns)
                if symbol is None:
                    continue
                extra |= {
                    f"{action} on {symbol}"
                    for action in actions
                    if not re.search(r"[*?]", str(action)) and (action, symbol) not in (allowed or set())
                }
            if extra:
                who = f"role {role_name}" + (
                    "" if allowed is not None else " (a role the access table does not name)"
                )
                findings.append(
                    Finding(
                        at,
                        f"grants {', '.join(sorted(extra))} to {who}, "
                        "which the access table (access/table.py) does not grant",
                    )
                )
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
