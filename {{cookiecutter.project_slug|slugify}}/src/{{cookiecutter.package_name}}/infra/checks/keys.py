"""KMS key policies: who may use the key, for what, and only through S3 or SageMaker."""

from __future__ import annotations

from typing import Any

from .base import (
    KMS_CRYPTO_ACTIONS,
    KMS_DATA_SCIENCE_ACTIONS,
    KMS_WORKLOAD_ACTIONS,
    Context,
    Finding,
    account_limit,
    allowed_statements,
    as_list,
    basic_findings,
    excess_grant,
    principal_accounts,
)

# The one service principal a key policy may name: CloudWatch, publishing this account's alarms
# to an encrypted SNS topic; it may only generate data keys and decrypt, for its own account.
ALARM_SERVICE = "cloudwatch.amazonaws.com"
ALARM_SERVICE_ACTIONS = frozenset({"kms:Decrypt", "kms:GenerateDataKey"})


def check_alarm_service(
    at: str, statement: dict[str, Any], actions: set[str], key_account: str
) -> list[Finding]:
    """A key statement for a service principal: only CloudWatch, only data keys and decrypt, and
    only for alarms of the key's own account (StringEquals aws:SourceAccount)."""
    services = as_list(statement["Principal"]["Service"])
    if services != [ALARM_SERVICE]:
        return [
            Finding(at, f"grants the key to services {services}; only {ALARM_SERVICE} (alarms) may be named")
        ]
    findings = []
    extra = sorted(actions - ALARM_SERVICE_ACTIONS)
    if extra:
        findings.append(
            Finding(
                at, f"grants {', '.join(extra)} to {ALARM_SERVICE}; allowed: {sorted(ALARM_SERVICE_ACTIONS)}"
            )
        )
    source = ((statement.get("Condition") or {}).get("StringEquals") or {}).get("aws:SourceAccount")
    if as_list(source) != [key_account]:
        findings.append(
            Finding(
                at, f"grants the key to {ALARM_SERVICE} without StringEquals aws:SourceAccount {key_account}"
            )
        )
    return findings


def check_key_policy(where: str, policy: Any, key_account: str, ctx: Context) -> list[Finding]:
    """A KMS key policy: who may use the key, for what, and through which service."""
    findings = basic_findings(where, policy, resource_policy=True)
    allowed_via = ctx.via_services()
    for at, statement, actions in allowed_statements(where, policy):
        principal = statement.get("Principal")
        if isinstance(principal, dict) and set(principal) == {"Service"}:
            findings += check_alarm_service(at, statement, actions, key_account)
            continue
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
            findings += excess_grant(at, actions, limit, who, ctx.table_actions(account, ["key"]))
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
