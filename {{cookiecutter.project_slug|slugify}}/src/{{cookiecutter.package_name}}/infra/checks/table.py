"""The access table itself, held to the checks' own limits.

The templates are checked against the table (a grant the table does not make is a finding), so
a table that grew too generous would let an equally generous template pass. These checks stop
that: whatever the table says, a workload account only reads the artifacts, decrypts and
describes the versions of the group its environment deploys from (plus CreateModel where only
Approved versions are deployed); data science never registers into the prod group; other
accounts' key use goes through S3 or SageMaker only; and every role is within the "who may
write what" limits of `checks/authority.py` (prefixes, pipelines, job roles, groups, approval).
"""

from __future__ import annotations

from ... import access, config
from ...config import Config
from .authority import check_authority, table_statements
from .base import (
    BUCKET_DATA_SCIENCE_ACTIONS,
    BUCKET_READ_ACTIONS,
    GROUP_REGISTER_ACTIONS,
    KMS_DATA_SCIENCE_ACTIONS,
    KMS_VIA_SERVICES,
    KMS_WORKLOAD_ACTIONS,
    WORKLOAD_ROLES,
    Context,
    Finding,
)


def limit_of(ctx: Context, party: str, resource: str) -> frozenset[str] | None:
    """The most `party` may hold on `resource` (None: left to its own IAM and to the authority
    limits: the owner's roles, and a party's pipelines and the roles it passes)."""
    head, _, kind = resource.partition(":")
    if party == "shared_services" or head in ("pipelines", "role"):
        return None
    if party == "data_science":
        if resource == "key":
            return KMS_DATA_SCIENCE_ACTIONS
        if head in ("objects", "reports", "bucket"):
            return BUCKET_DATA_SCIENCE_ACTIONS
        if kind == "prod":
            return GROUP_REGISTER_ACTIONS - {"sagemaker:CreateModelPackage"}
        return GROUP_REGISTER_ACTIONS
    if party in WORKLOAD_ROLES:
        if resource == "key":
            return KMS_WORKLOAD_ACTIONS
        if head in ("objects", "reports", "bucket"):
            return BUCKET_READ_ACTIONS
        return ctx.workload_group_actions({party}, kind)
    return frozenset()


def check_table(cfg: Config) -> list[Finding]:
    """Every row of the access table (resolved for `cfg`) within the checks' limits, and every
    role of the table within the authority limits."""
    ctx = Context.from_config(cfg)
    findings = []
    rows = access.grants(cfg)
    for grant in rows:
        where = f"access/table.py {grant.party} {grant.role}"
        if grant.party not in config.ACCOUNT_ROLES or grant.role not in config.ROLE_SUFFIXES:
            findings.append(Finding(where, "names an account or role the config does not have"))
            continue
        if not grant.allow:
            continue
        for resource in grant.resources:
            limit = limit_of(ctx, grant.party, resource)
            extra = sorted(set(grant.actions) - limit) if limit is not None else []
            if extra:
                findings.append(
                    Finding(
                        where,
                        f"grants {', '.join(extra)} on {resource}; the most allowed: {sorted(limit or [])}",
                    )
                )
            if resource == "key" and not (grant.via and set(grant.via) <= set(KMS_VIA_SERVICES)):
                findings.append(
                    Finding(where, f"key use via {list(grant.via)}; expected S3 or SageMaker only")
                )
    roles = dict.fromkeys((g.party, g.role) for g in rows if g.role in config.ROLE_SUFFIXES)
    for party, role in roles:
        mine = [g for g in rows if (g.party, g.role) == (party, role)]
        where = f"access/table.py {party} {role}"
        findings += check_authority(
            where, f"role {cfg.role_name(role)}", role, table_statements(cfg, mine), cfg
        )
    return findings
