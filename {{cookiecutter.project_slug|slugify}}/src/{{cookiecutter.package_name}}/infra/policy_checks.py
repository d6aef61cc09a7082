"""The product's own checks on the infrastructure's policies (cfn-lint and checkov miss these).

    python -m <package>.infra.policy_checks [infra/] [--config config/project.json]

It resolves every template in `infra/` with the parameters the bootstrap command would pass
(`plan.plan`), once for the configured accounts and, unless they already differ, once for
four distinct placeholder accounts (so a single-account repository still proves that its
templates keep the accounts apart), and, unless `aws.data_scientist_principal` is set, once
more with a placeholder one (so the optional data-scientist role is checked before anyone turns
it on), and checks:

- Trust: only the data-scientist role trusts AWS principals, exactly the root of the account of
  `aws.data_scientist_principal` with exactly `ArnLike aws:PrincipalArn` that pattern.
- GitHub OIDC trust: `StringEquals` only, `aud` exactly `sts.amazonaws.com`, every `sub` an
  exact subject of this repository (`repo:OWNER/REPO:environment:NAME`, `...:ref:refs/heads/BRANCH`,
  or the `repo:OWNER@ID/REPO@ID:...` form) with no wildcard, and each role trusting exactly the
  GitHub environments its jobs use; no `StringLike`, no `ForAllValues`/`ForAnyValue` anywhere.
- IAM policies: no wildcard actions (`*`, `service:*`, `service:Get*`), no NotAction/NotResource,
  `Resource: "*"` only for actions without resource-level permissions (`NO_RESOURCE_LEVEL_ACTIONS`),
  and in the template text every such statement carries a comment saying why.
- ECR image pulls (`checks/images.py`): every statement granting ecr:BatchGetImage,
  ecr:GetDownloadUrlForLayer or ecr:BatchCheckLayerAvailability names exactly AWS's framework image
  account for the region and its scikit-learn and XGBoost repositories (`access/images.py`); any
  account, a `sagemaker-*` wildcard, another account or repository is a finding.
- KMS key policies: rotation on; the data-science account may only encrypt, decrypt and generate
  data keys, workload (QA/prod) accounts may only decrypt, both only through S3 or SageMaker
  (`kms:ViaService`); no other account.
- Bucket policies: a TLS-only deny; the data-science account may read and write objects,
  workload accounts may only read; buckets encrypted with KMS, versioned, public access blocked.
- Who may write what (`checks/authority.py`), for every IAM role, every bucket policy statement
  and every role of the access table: no role writes the whole artifact bucket or the datasets
  prefix; the feature and dev prefixes are written only by that kind's build and job roles, the
  prod prefix only by the prod registry role; a kind's pipelines are changed and started only by
  its build role, and its job role passed only by that build role and itself; each group is
  registered into only by its kind's job role (prod: the prod registry role), only the prod
  registry role registers or sets Approved, and the QA registry role updates dev versions only.
  Each limit is a concrete request probed against the role's Allow and Deny statements, so a
  wildcard resource or a missing Deny is found however it is written.
- Model package group policies (from the template or from any other builder, see
  `check_group_policy`): account-root principals only, explicit actions, the data-science
  account may register and read (never into the prod group); a workload account may only
  describe the versions of the group its environment deploys from, and create a model from
  them only where just Approved versions are deployed (`Environment.approved_only`: prod).
  sagemaker:CreateModel granted to the QA account (on the dev group or anywhere else) is a finding.
- The access table (`access/table.py`, who may do what on the registry, bucket and key): within the
  limits above, every grant of a key, bucket or group policy, and every statement of an IAM role
  on the table's resources (with its condition; the table's Denies must be there too), must be
  one the table makes (`checks/table.py` holds the table itself to the same limits, so a loose
  table cannot make a loose template pass).

- The retraining event source (`checks/events.py`; its stacks are checked even while the config
  leaves them off): API destinations exactly this repository's dispatch URL, the connection's
  placeholder and no token in any template, EventBridge trusted only by the event-source roles,
  which invoke only their own destination; each rule target with a retry policy and a DLQ.

Each concern is one module of `infra/checks/`; the templates are read by `infra/cfn.py`.

It exits 0 when there is no finding, 1 listing each finding on its own line
(`<template>[<stack variant>] <resource>: <what is wrong>`), and 2 when the folder or config
cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .. import config
from ..cli_support import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, prog
from ..config import Config
from .cfn import Resolver, load_template
from .checks.authority import check_authority, probes, role_statements
from .checks.base import NO_RESOURCE_LEVEL_ACTIONS, Context, Finding, as_list, statements
from .checks.buckets import bucket_settings, check_bucket_policy
from .checks.events import check_event_source
from .checks.groups import check_group_policy
from .checks.identity import check_identity_policy, check_role_grants, check_wildcard_comments
from .checks.images import check_image_pulls
from .checks.keys import check_key_policy
from .checks.table import check_table
from .checks.trust import check_trust_policy
from .errors import Parser
from .plan import INFRA_DIR, KEY_ARN_OUTPUT, event_specs, plan

__all__ = [
    "NO_RESOURCE_LEVEL_ACTIONS",
    "Context",
    "Finding",
    "Resolver",
    "as_list",
    "bucket_settings",
    "check_authority",
    "check_bucket_policy",
    "check_directory",
    "check_group_policy",
    "check_identity_policy",
    "check_image_pulls",
    "check_key_policy",
    "check_role_grants",
    "check_table",
    "check_template",
    "check_trust_policy",
    "check_wildcard_comments",
    "load_template",
    "main",
    "probes",
    "role_statements",
    "statements",
    "variants",
    "with_data_scientist",
]

PLACEHOLDER_KEY_ID = "00000000-0000-0000-0000-000000000000"
DISTINCT_ACCOUNTS = {
    "data_science": "100000000001",
    "shared_services": "100000000002",
    "qa": "100000000003",
    "prod": "100000000004",
}
# An IAM Identity Center permission set's role in the data-science account.
PLACEHOLDER_PRINCIPAL = (
    "arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{region}/AWSReservedSSO_DataScientist_*"
)


def check_template(
    template: dict[str, Any], parameters: dict[str, str], account: str, ctx: Context, where: str
) -> list[Finding]:
    """Resolve one template for one stack and check every policy and bucket in it."""
    resolver = Resolver(template, parameters, account, ctx.region)
    # The artifact key as this stack sees it: its own output, or the parameter it takes.
    output = (template.get("Outputs") or {}).get(KEY_ARN_OUTPUT)
    key_arns = {parameters[KEY_ARN_OUTPUT]} if KEY_ARN_OUTPUT in parameters else set()
    if output:
        key_arns.add(str(resolver.value(output["Value"])))
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
                inline_at = f"{at} policy {inline.get('PolicyName')}"
                findings += check_identity_policy(inline_at, inline.get("PolicyDocument"))
                findings += check_image_pulls(inline_at, inline.get("PolicyDocument"), ctx)
            findings += check_role_grants(at, role_name, account, props.get("Policies", []), ctx, key_arns)
            if ctx.cfg is not None:
                items = role_statements(props.get("Policies", []))
                findings += check_authority(at, f"role {role_name}", ctx.role_key(role_name), items, ctx.cfg)
            if props.get("ManagedPolicyArns"):
                findings.append(
                    Finding(at, "attaches managed policies; keep permissions inline and reviewable")
                )
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            findings += check_identity_policy(at, props.get("PolicyDocument"))
            findings += check_image_pulls(at, props.get("PolicyDocument"), ctx)
        elif kind == "AWS::KMS::Key":
            if props.get("EnableKeyRotation") not in (True, "true"):
                findings.append(Finding(at, "EnableKeyRotation is not true"))
            findings += check_key_policy(f"{at} key policy", props.get("KeyPolicy"), account, ctx)
        elif kind == "AWS::S3::Bucket":
            findings += bucket_settings(at, props)
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
    findings += check_event_source(template, resolver, ctx, where)
    return findings


def variants(cfg: Config) -> list[tuple[str, Config]]:
    """The configured accounts, plus four distinct placeholder accounts when they are not distinct,
    plus (the last of those) with a placeholder data-scientist principal when none is configured."""
    result = [("configured accounts", cfg)]
    if len({cfg.account_id(role) for role in config.ACCOUNT_ROLES}) < len(config.ACCOUNT_ROLES):
        result.append(("four distinct accounts", cfg.with_accounts(DISTINCT_ACCOUNTS)))
    if not cfg.data_scientist_principal:
        name, last = result[-1]
        result.append((f"{name} with a data-scientist role", with_data_scientist(last)))
    return result


def with_data_scientist(cfg: Config, principal: str | None = None) -> Config:
    """The same config with `aws.data_scientist_principal` set (default: `PLACEHOLDER_PRINCIPAL`
    in its data-science account), parsed again."""
    document = json.loads(json.dumps(cfg.document, default=dict))
    principal = principal or PLACEHOLDER_PRINCIPAL.format(
        account=cfg.account_id("data_science"), region=cfg.region
    )
    document["aws"]["data_scientist_principal"] = principal
    return config.parse(document, source=cfg.source)


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
        findings += check_table(variant_cfg)
        ctx = Context.from_config(variant_cfg)
        shared = variant_cfg.account_id("shared_services")
        outputs = {
            "shared-services": {KEY_ARN_OUTPUT: f"arn:aws:kms:{ctx.region}:{shared}:key/{PLACEHOLDER_KEY_ID}"}
        }
        specs = plan(variant_cfg)
        # The optional event-source stacks are checked whether or not the config turns them on.
        specs += [s for s in event_specs(variant_cfg, every=True) if s.key not in {p.key for p in specs}]
        for spec in specs:
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
    parser = Parser(
        prog=prog(f"python -m {__spec__.name if __spec__ else __name__}"), description=__doc__.splitlines()[0]
    )
    parser.add_argument("infra_dir", nargs="?", type=Path, default=INFRA_DIR)
    parser.add_argument(
        "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
    )
    try:
        args = parser.parse_args(argv)
        cfg = config.load_config(args.config)
        findings = check_directory(args.infra_dir, cfg)
    except (config.ConfigError, FileNotFoundError, ValueError) as exc:  # UsageError is a ValueError
        error(exc)
        return EXIT_USAGE
    for finding in findings:
        print(finding)
    if findings:
        print(f"policy checks: {len(findings)} finding(s) in {args.infra_dir}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"policy checks: no findings in {len(list(args.infra_dir.glob('*.yaml')))} templates "
        f"in {args.infra_dir}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
