"""Buckets: a TLS-only deny, data science reads and writes, workload accounts only read, and
every statement within the "who may write what" limits (`checks/authority.py`: no principal
writes the whole bucket, each prefix only by its roles); KMS encryption, versioning and a full
public access block.
"""

from __future__ import annotations

from typing import Any

from ... import access
from .authority import check_authority, principal_roles
from .base import (
    BUCKET_DATA_SCIENCE_ACTIONS,
    BUCKET_READ_ACTIONS,
    Context,
    Finding,
    account_limit,
    allowed_statements,
    as_list,
    basic_findings,
    excess_grant,
    is_public,
    principal_accounts,
    statements,
)

# The table's symbols of the artifact bucket: the bucket, its prefixes, their evaluation reports and
# (never granted) every object.
BUCKET_RESOURCES = (
    "bucket",
    "objects",
    *(f"{head}:{scope}" for head in ("objects", "reports") for scope in access.resources.SCOPES),
)


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
    denies = [s for s in statements(policy) if s.get("Effect") == "Deny"]
    for at, statement, actions in allowed_statements(where, policy):
        if ctx.cfg is not None:
            accounts = ", ".join(str(text) for text, _, _ in principal_accounts(statement))
            for role in principal_roles(statement):
                who = f"role {role}" if role else f"every principal of {accounts}"
                key = ctx.role_key(role) if role else None
                findings += check_authority(at, who, key, [statement, *denies], ctx.cfg)
        for text, account, _kind in principal_accounts(statement):
            if account is None:
                findings.append(Finding(at, f"principal {text!r} is not an account or IAM ARN"))
                continue
            if account == bucket_account:
                continue
            limit, who = account_limit(ctx, account, BUCKET_DATA_SCIENCE_ACTIONS, BUCKET_READ_ACTIONS)
            findings += excess_grant(at, actions, limit, who, ctx.table_actions(account, BUCKET_RESOURCES))
    return findings


def bucket_settings(at: str, props: dict[str, Any]) -> list[Finding]:
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
