"""IAM identity policies: explicit actions, `Resource: "*"` only where needed and explained,
and a role's statements on the table's resources exactly the access table's (Denies included);
the roles of a batch-only environment's transform test hold what it needs (`checks/batch_tests.py`).
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
    as_list,
    basic_findings,
    label,
    statements,
)
from .batch_tests import check_batch_test_grants


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


def _entries(statement: dict[str, Any], cfg: Any, key_arns: Iterable[str]) -> set[tuple[str, str, str, str]]:
    """A statement's (effect, action, resource symbol, condition text) entries on the table's resources."""
    condition = access.condition_text(statement.get("Condition"))
    entries = set()
    for resource in as_list(statement.get("Resource")):
        symbol = access.resource_of(cfg, str(resource), key_arns)
        if symbol is None:
            continue
        entries |= {
            (str(statement.get("Effect")), str(action), symbol, condition)
            for action in as_list(statement.get("Action"))
            if not re.search(r"[*?]", str(action))
        }
    return entries


def _describe(entries: Iterable[tuple[str, str, str, str]]) -> str:
    return ", ".join(
        f"{action} on {symbol}" + (f" when {condition}" if condition else "")
        for _, action, symbol, condition in sorted(entries, key=lambda e: (e[1], e[2], e[3]))
    )


def check_role_grants(
    where: str, role_name: str, account: str, policies: Iterable[Any], ctx: Context, key_arns: Iterable[str]
) -> list[Finding]:
    """A role's statements on the table's resources (registry groups and versions, the artifact
    bucket's prefixes and key, pipelines, the roles it passes) are exactly the access table's for
    that role: every Allow one the table makes (with the same condition), and every Deny the
    table gives the role present. `key_arns` are the ARNs of the artifact key as this stack sees
    it. Wildcard actions and `Resource: "*"` are the other checks' findings. A role a
    batch-only environment's transform test needs must hold its grants (`checks/batch_tests.py`)."""
    if ctx.cfg is None:
        return []
    policies = list(policies)
    table = access.grants_of_role(ctx.cfg, account, role_name)
    who = f"role {role_name}" + ("" if table is not None else " (a role the access table does not name)")
    findings = []
    held: set[tuple[str, str, str, str]] = set()
    for policy in policies:
        for index, statement in enumerate(statements(policy.get("PolicyDocument"))):
            at = f"{where} policy {policy.get('PolicyName')} {label(index, statement)}"
            entries = _entries(statement, ctx.cfg, key_arns)
            held |= entries
            extra = {e for e in entries if e[0] == "Allow" and e not in (table or set())}
            if extra:
                findings.append(
                    Finding(
                        at,
                        f"grants {_describe(extra)} to {who}, "
                        "which the access table (access/table.py) does not grant",
                    )
                )
    missing = {e for e in (table or set()) if e[0] == "Deny" and e not in held}
    if missing:
        findings.append(
            Finding(
                where,
                f"lacks the access table's Deny of {_describe(missing)} for {who} (access/table.py)",
            )
        )
    # A batch-only environment's transform test needs its deploy and endpoint roles' grants.
    items = [s for policy in policies for s in statements((policy or {}).get("PolicyDocument"))]
    findings += check_batch_test_grants(where, role_name, ctx.role_key(role_name), account, items, ctx.cfg)
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
