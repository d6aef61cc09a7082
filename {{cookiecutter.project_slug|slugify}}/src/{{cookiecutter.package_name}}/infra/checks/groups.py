"""Model package group policies, from a template or any builder (e.g. the deploy code)."""

from __future__ import annotations

from typing import Any

from .base import (
    CREATE_MODEL,
    GROUP_REGISTER_ACTIONS,
    WORKLOAD_ROLES,
    Context,
    Finding,
    allowed_statements,
    basic_findings,
    beyond_table,
    principal_accounts,
)


def check_group_policy(where: str, policy: Any, kind: str, ctx: Context) -> list[Finding]:
    """A model package group's resource policy, from a template or any builder (e.g. the deploy code).

    Account-root principals only (a role principal makes the group undiscoverable from the
    other account), explicit actions, data-science registers and reads (never in the prod
    group). A workload account may hold only `Context.workload_group_actions`: describe the
    versions of the group its environment deploys from and, for prod only, create models from
    them; every other action (e.g. CreateModel for the QA account on the dev group) is a finding.
    Within those limits, an action the access table does not grant that account on the group is
    a finding too.
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
                if CREATE_MODEL in extra and roles & WORKLOAD_ROLES - ctx.create_from_package:
                    why = " (QA creates its model from the package's containers, not from the package ARN)"
                findings.append(
                    Finding(
                        at,
                        f"grants {', '.join(extra)} on the {kind} group to {who}{why}; "
                        f"allowed: {sorted(limit)}",
                    )
                )
            table = ctx.table_actions(account, [f"group:{kind}", f"versions:{kind}"])
            beyond = sorted((actions & limit) - table) if table is not None else []
            if beyond:
                findings.append(
                    Finding(at, beyond_table(f"{', '.join(beyond)} on the {kind} group", who, table))
                )
    return findings
