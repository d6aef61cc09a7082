"""The central model registry in the shared-services account.

- `group_policy` builds the resource policy of one model package group: the data-science
  account may register and read; the QA account may describe the dev group's versions (its
  model is built from their containers); the prod account may describe the prod group's
  versions and create a model from them by ARN. Principals are account roots and actions are
  explicit: a role principal or `"Action": "*"` makes a group undiscoverable from other
  accounts (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram.html).
- `ensure_groups` creates the feature/dev/prod groups and their policies (idempotent).
- `latest_package`, `approve`, `record_stage`, `promote` move a version from dev to prod.

These functions run as the registry role in the shared-services account.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .. import config
from ..config import Config, Environment
from .aws import Clients, DeployError, is_not_found, log

# Who may do what on a group. UpdateModelPackage stays with the registry role in the owning
# account. A workload account gets exactly what `deploy` calls with its credentials:
# DescribeModelPackage (deploy.prepare), plus, for an environment whose model is created
# from the package ARN (`Environment.approved_only`: prod), sagemaker:CreateModel on the
# package (AWS "Deploy a model version from a different account"). QA builds its model from
# the package's containers in its own account, so it never needs CreateModel on the registry.
REGISTER_ACTIONS = (
    "sagemaker:CreateModelPackage",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
WORKLOAD_READ_ACTIONS = ("sagemaker:DescribeModelPackage",)
CREATE_FROM_PACKAGE_ACTIONS = ("sagemaker:CreateModel", *WORKLOAD_READ_ACTIONS)
# SageMaker's predefined model life-cycle stages
# (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-staging-construct-set-up.html).
STAGES = {"dev": "Development", "qa": "QA", "prod": "Production"}
STAGE_STATUSES = ("PendingApproval", "InProgress", "OnHold", "Approved", "Rejected", "Retired")
SOURCE_ARN_KEY = "source_model_package_arn"
SOURCE_VERSION_KEY = "source_model_package_version"
# Customer metadata (CustomerMetadataProperties) and tags: SageMaker's service model gives
# values the pattern ([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256} and keys the same with ${1,128}
# (Unicode letters, separators such as spaces, numbers, and _ . : / = + - @), keys 1-128 and
# values 1-256 characters, at most 50 entries. Tags use the same characters (key 1-128,
# value 0-256). Nothing client-side checks the pattern (botocore checks lengths only, moto
# nothing), so `check_customer_metadata` and `check_tags` do, before a request that would be
# refused on real AWS.
MAX_METADATA_ENTRIES = 50
METADATA_PUNCTUATION = "_.:/=+-@"
METADATA_ALLOWED = "letters, numbers, spaces and _ . : / = + - @"

PACKAGE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62})/(?P<version>[1-9]\d{0,8})$"
)
PULL_REQUEST = re.compile(r"^[1-9]\d{0,9}$")
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
GITHUB_ACTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$")


@dataclass(frozen=True)
class PackageRef:
    """The parts of a versioned model package ARN."""

    arn: str
    region: str
    account: str
    group: str
    version: int


def parse_package_arn(arn: str) -> PackageRef:
    match = PACKAGE_ARN.match(arn or "")
    if not match:
        raise DeployError(
            f"{arn!r} is not a versioned model package ARN "
            "(expected arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    return PackageRef(arn, match["region"], match["account"], match["group"], int(match["version"]))


def check_package(cfg: Config, arn: str, kind: str) -> PackageRef:
    """Parse `arn` and check it names a version in this repo's `kind` group of the shared registry.

    It raises DeployError naming the first part (account, region, group) that does not match.
    """
    ref = parse_package_arn(arn)
    registry = cfg.account_id("shared_services")
    region = cfg.region
    group = cfg.group(kind)
    if ref.account != registry:
        raise DeployError(
            f"model package {arn} is in account {ref.account}, not the shared-services registry {registry}"
        )
    if ref.region != region:
        raise DeployError(f"model package {arn} is in region {ref.region}, expected {region}")
    if ref.group != group:
        raise DeployError(f"model package {arn} is in group {ref.group}, expected the {kind} group {group}")
    return ref


def check_deployable(cfg: Config, env: str, arn: str, package: dict[str, Any]) -> PackageRef:
    """Check that the described package `package` may be deployed to `env`; return its ARN parts.

    Every environment needs a Completed version of the group it deploys from
    (`Environment.group_kind`: qa from dev, prod from prod) in the shared-services registry
    account and region, checked on the ARN and again on the description. Prod
    (`Environment.approved_only`) also needs ModelApprovalStatus Approved; QA takes any
    approval status, because the dev push deploys the version it has just registered
    (PendingManualApproval). It raises DeployError with one line naming what is wrong.
    """
    environment = cfg.environment(env)
    kind = environment.group_kind
    ref = check_package(cfg, arn, kind)
    group = environment.group
    described = package.get("ModelPackageArn")
    if described != arn:
        raise DeployError(f"the registry answered with {described} when asked for model package {arn}")
    described_group = str(package.get("ModelPackageGroupName") or "").rsplit("/", 1)[-1]
    if described_group != group:
        raise DeployError(
            f"model package {arn} belongs to group {described_group or '(none)'}, "
            f"expected the {kind} group {group}"
        )
    status = package.get("ModelPackageStatus")
    if status != "Completed":
        raise DeployError(f"model package {arn} is {status}, not Completed; it cannot be deployed")
    approval = package.get("ModelApprovalStatus")
    if environment.approved_only and approval != "Approved":
        raise DeployError(
            f"model package {arn} is {approval}; {env} deploys only Approved versions of {group} "
            f"in the shared-services registry {cfg.account_id('shared_services')}"
        )
    return ref


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def workload_group_actions(environment: Environment) -> tuple[str, ...]:
    """Registry actions the workload account of `environment` needs on the group it deploys from.

    DescribeModelPackage for every environment; sagemaker:CreateModel as well only where the
    model is created from the package ARN (`Environment.approved_only`, i.e. prod).
    """
    return CREATE_FROM_PACKAGE_ACTIONS if environment.approved_only else WORKLOAD_READ_ACTIONS


def group_policy(cfg: Config, kind: str) -> dict[str, Any] | None:
    """Resource policy for the `kind` group, or None when no other account needs access.

    The data-science account registers into the groups its pipelines write (`cfg.names.pipelines`:
    feature and dev). A workload account gets `workload_group_actions` on the group its
    environment deploys from: QA describes dev versions (statement QaRead), prod describes
    prod versions and creates models from them (statement ProdDeploy). The shared-services
    account itself is never listed: inside one account IAM identity policies decide, so
    single-account mode gets no resource policy at all.
    """
    owner = cfg.account_id("shared_services")
    group_arn = cfg.group_arn(kind)
    packages_arn = cfg.packages_arn(kind)
    grants: list[tuple[str, tuple[str, ...], str]] = []
    if kind in cfg.names.pipelines:
        grants.append(("DataScienceRegister", REGISTER_ACTIONS, cfg.account_id("data_science")))
    for environment in cfg.environments.values():
        if environment.group_kind == kind:
            actions = workload_group_actions(environment)
            verb = "Deploy" if "sagemaker:CreateModel" in actions else "Read"
            sid = f"{environment.name.capitalize()}{verb}"
            grants.append((sid, actions, environment.account))
    statements = []
    for sid, actions, account in grants:
        if account == owner:
            continue
        statements.append(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": _root(account)},
                "Action": sorted(actions),
                "Resource": [group_arn, packages_arn],
            }
        )
    if not statements:
        return None
    return {"Version": "2012-10-17", "Statement": statements}


def ensure_groups(cfg: Config, clients: Clients) -> list[str]:
    """Create missing groups and put each group's resource policy if it differs.

    It makes no mutating call when everything already matches; it returns one line per group.
    """
    sm = clients.sagemaker
    results = []
    for kind in config.GROUP_KINDS:
        name = cfg.group(kind)
        try:
            sm.describe_model_package_group(ModelPackageGroupName=name)
            state = "exists"
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            sm.create_model_package_group(
                ModelPackageGroupName=name,
                ModelPackageGroupDescription=f"{cfg.project.name}: {kind} model versions",
                Tags=[{"Key": "project", "Value": cfg.project.slug}],
            )
            state = "created"
        desired = group_policy(cfg, kind)
        if desired is None:
            results.append(f"{name}: {state}; no cross-account access needed, no resource policy")
            continue
        current = None
        try:
            current = json.loads(
                sm.get_model_package_group_policy(ModelPackageGroupName=name)["ResourcePolicy"]
            )
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        if current == desired:
            results.append(f"{name}: {state}; resource policy up to date")
            continue
        sm.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=json.dumps(desired))
        results.append(f"{name}: {state}; resource policy {'updated' if current else 'set'}")
    for line in results:
        log(line)
    return results


def latest_package(
    clients: Clients, group: str, status: str | None = None, git_sha: str | None = None
) -> dict[str, Any] | None:
    """Newest Completed version in `group` (optionally with an approval status), or None.

    It asks for CreationTime/Descending explicitly and pages on, skipping versions whose
    registration failed or is still in progress. With `git_sha`, only a version whose
    `git_sha` customer metadata equals it counts (each candidate is described, newest
    first), so a workflow run picks the version its own commit registered even when a
    later push registered another one meanwhile.
    """
    params: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    if status:
        params["ModelApprovalStatus"] = status
    paginator = clients.sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": 50}):
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelPackageStatus") != "Completed":
                continue
            if git_sha is None:
                return summary
            package = describe(clients, summary["ModelPackageArn"])
            if package.get("CustomerMetadataProperties", {}).get("git_sha") == git_sha:
                return summary
    return None


def describe(clients: Clients, arn: str) -> dict[str, Any]:
    try:
        return clients.sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        if is_not_found(exc):
            raise DeployError(f"model package {arn} does not exist in the registry") from exc
        raise


def _metadata_character(char: str) -> bool:
    """A Unicode letter, separator or number (categories L*, Z*, N*) or one of METADATA_PUNCTUATION."""
    return char in METADATA_PUNCTUATION or unicodedata.category(char)[0] in "LZN"


def _check_text(text: Any, what: str, minimum: int, maximum: int) -> None:
    if not isinstance(text, str):
        raise DeployError(f"{what} must be a string, got {type(text).__name__}")
    if not minimum <= len(text) <= maximum:
        raise DeployError(f"{what} has {len(text)} characters; expected {minimum}-{maximum}")
    bad = "".join(sorted({char for char in text if not _metadata_character(char)}))
    if bad:
        raise DeployError(f"{what} contains {bad!r}, which SageMaker refuses; allowed: {METADATA_ALLOWED}")


def check_customer_metadata(properties: dict[str, Any], where: str) -> dict[str, str]:
    """Check CustomerMetadataProperties against SageMaker's rules; return them unchanged.

    It raises DeployError naming `where`, the key and the refused characters (or the length)
    of the first entry SageMaker would refuse, and when there are more than 50 entries.
    """
    if len(properties) > MAX_METADATA_ENTRIES:
        raise DeployError(
            f"{where}: {len(properties)} customer metadata entries; SageMaker allows {MAX_METADATA_ENTRIES}"
        )
    for key, value in properties.items():
        _check_text(key, f"{where}: customer metadata key {key!r}", 1, 128)
        _check_text(value, f"{where}: customer metadata {key!r} value", 1, 256)
    return properties


def check_tags(tags: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Check Key/Value tags against SageMaker's tag rules; DeployError names the first bad tag."""
    for tag in tags:
        _check_text(tag["Key"], f"{where}: tag key {tag['Key']!r}", 1, 128)
        _check_text(tag["Value"], f"{where}: tag {tag['Key']!r} value", 0, 256)
    return tags


def metadata_value(text: str) -> str:
    """Fit free text (a login, a branch name) to a customer-metadata value: each refused
    character becomes `_`, at most 256 characters, never empty."""
    return "".join(char if _metadata_character(char) else "_" for char in text)[:256] or "_"


def approval_description(pr: str, commit: str, actor: str) -> str:
    return f"Approved by {actor} in pull request #{pr} at commit {commit}"


def approve(cfg: Config, clients: Clients, arn: str, pr: str, commit: str, actor: str) -> dict[str, Any]:
    """Approve a dev version, recording who approved it, in which pull request, at which commit.

    It raises DeployError for a malformed PR/commit/actor, a package outside the dev group, a
    package that is not Completed or that was Rejected, or metadata SageMaker would refuse
    (`check_customer_metadata`). An already Approved package is left as it is (its first
    approval record stays) and no mutating call is made.
    """
    check_package(cfg, arn, "dev")
    pr = pr.lstrip("#")
    if not PULL_REQUEST.match(pr):
        raise DeployError(f"pull request {pr!r} is not a pull request number")
    if not COMMIT.match(commit):
        raise DeployError(f"commit {commit!r} is not a git commit SHA (7-40 lowercase hex digits)")
    if not GITHUB_ACTOR.match(actor):
        raise DeployError(f"actor {actor!r} is not a GitHub login")
    package = describe(clients, arn)
    if package.get("ModelPackageStatus") != "Completed":
        raise DeployError(f"model package {arn} is {package.get('ModelPackageStatus')}, not Completed")
    status = package.get("ModelApprovalStatus")
    if status == "Rejected":
        raise DeployError(f"model package {arn} was Rejected; register and verify a new version instead")
    if status == "Approved":
        log(f"{arn} is already Approved ({package.get('ApprovalDescription', 'no description')}); unchanged")
        return package
    metadata = {
        **package.get("CustomerMetadataProperties", {}),
        "approved_by": metadata_value(actor),
        "approved_pull_request": pr,
        "approved_commit": commit,
    }
    check_customer_metadata(metadata, f"approving {arn}")
    description = approval_description(pr, commit, actor)
    clients.sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=description,
        CustomerMetadataProperties=metadata,
    )
    log(f"approved {arn}: {description}")
    return {**package, "ModelApprovalStatus": "Approved", "ApprovalDescription": description}


def record_stage(
    cfg: Config,
    clients: Clients,
    arn: str,
    stage: str,
    status: str = "Approved",
    description: str | None = None,
) -> bool:
    """Record the environment a version reached as its SageMaker model life-cycle stage.

    Stages map to SageMaker's predefined ones (dev: Development, qa: QA, prod: Production).
    It returns False, with no mutating call, when the package already carries that stage and
    status; it raises DeployError for an unknown stage/status or a package outside this
    repo's registry groups.
    """
    if stage not in STAGES:
        raise DeployError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if status not in STAGE_STATUSES:
        raise DeployError(f"unknown stage status {status!r}; expected one of {', '.join(STAGE_STATUSES)}")
    ref = parse_package_arn(arn)
    kind = next((k for k in config.GROUP_KINDS if cfg.group(k) == ref.group), None)
    if kind is None:
        raise DeployError(f"model package {arn} is not in one of this repository's registry groups")
    check_package(cfg, arn, kind)
    package = describe(clients, arn)
    lifecycle = {"Stage": STAGES[stage], "StageStatus": status}
    current = package.get("ModelLifeCycle") or {}
    if current.get("Stage") == lifecycle["Stage"] and current.get("StageStatus") == status:
        log(f"{arn} is already at stage {lifecycle['Stage']}/{status}; unchanged")
        return False
    if stage in config.ENVIRONMENTS and not description:
        description = f"{stage} endpoint {cfg.environment(stage).endpoint_name}"
    if description:
        lifecycle["StageDescription"] = description[:1024]
    clients.sagemaker.update_model_package(ModelPackageArn=arn, ModelLifeCycle=lifecycle)
    log(f"{arn}: stage {lifecycle['Stage']}/{status}")
    return True


def find_promoted(clients: Clients, prod_group: str, source_arn: str) -> dict[str, Any] | None:
    """The prod version whose metadata names `source_arn`, newest first, or None."""
    paginator = clients.sagemaker.get_paginator("list_model_packages")
    params = {"ModelPackageGroupName": prod_group, "SortBy": "CreationTime", "SortOrder": "Descending"}
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": 50}):
        for summary in page.get("ModelPackageSummaryList", []):
            package = describe(clients, summary["ModelPackageArn"])
            if (package.get("CustomerMetadataProperties") or {}).get(SOURCE_ARN_KEY) == source_arn:
                return package
    return None


# Fields of the source version that the prod version carries over unchanged.
COPIED_FIELDS = (
    "InferenceSpecification",
    "ModelMetrics",
    "MetadataProperties",
    "DriftCheckBaselines",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "AdditionalInferenceSpecifications",
)


def promote(cfg: Config, clients: Clients, source_arn: str) -> tuple[str, bool]:
    """Register an Approved dev version into the prod group; return (prod ARN, created).

    The prod version points at the same containers and artifacts, carries the same metadata
    plus the source ARN and version, and is Approved. Promoting the same source again
    returns the existing prod version (found by its metadata) without a mutating call.
    It raises DeployError if the source is not an Approved, Completed dev version, if its
    earlier promotion was Rejected, or if the metadata to send breaks SageMaker's
    customer-metadata rules (`check_customer_metadata`), before any mutating call.
    """
    ref = check_package(cfg, source_arn, "dev")
    source = describe(clients, source_arn)
    if source.get("ModelApprovalStatus") != "Approved":
        raise DeployError(
            f"model package {source_arn} is {source.get('ModelApprovalStatus')}; "
            "only Approved versions may be promoted to prod (run approve first)"
        )
    if source.get("ModelPackageStatus") != "Completed":
        raise DeployError(f"model package {source_arn} is {source.get('ModelPackageStatus')}, not Completed")
    prod_group = cfg.group("prod")
    existing = find_promoted(clients, prod_group, source_arn)
    if existing:
        arn = existing["ModelPackageArn"]
        if existing.get("ModelApprovalStatus") == "Rejected":
            raise DeployError(f"{source_arn} was promoted as {arn}, which is Rejected; promote a new version")
        log(f"{source_arn} is already promoted as {arn}; unchanged")
        return arn, False
    metadata = {
        **(source.get("CustomerMetadataProperties") or {}),
        SOURCE_ARN_KEY: source_arn,
        SOURCE_VERSION_KEY: str(ref.version),
    }
    check_customer_metadata(metadata, f"promoting {source_arn}")
    request = {field: source[field] for field in COPIED_FIELDS if source.get(field)}
    request.update(
        ModelPackageGroupName=prod_group,
        ModelPackageDescription=f"Promoted from {source_arn}",
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=metadata,
        # Same source, same token: SageMaker returns the first version on a retried request.
        ClientToken=hashlib.sha256(source_arn.encode()).hexdigest()[:32],
    )
    arn = clients.sagemaker.create_model_package(**request)["ModelPackageArn"]
    log(f"promoted {source_arn} -> {arn}")
    return arn, True


def package_git_sha(package: dict[str, Any]) -> str | None:
    """The git commit a version was built from: customer metadata, else MetadataProperties."""
    for key, value in (package.get("CustomerMetadataProperties") or {}).items():
        if re.sub(r"[^a-z]", "", key.lower()) in ("gitsha", "gitcommit", "commit", "commitsha"):
            return value
    return (package.get("MetadataProperties") or {}).get("CommitId")


def _metrics_from_report(report: dict[str, Any]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for section, values in report.items():
        if not (section.endswith("_metrics") and isinstance(values, dict)):
            continue
        for name, entry in values.items():
            value = entry.get("value") if isinstance(entry, dict) else entry
            if isinstance(value, int | float):
                metrics[name] = float(value)
    return metrics


def package_metrics(clients: Clients, package: dict[str, Any]) -> dict[str, float]:
    """Evaluation metrics of a version.

    From the model quality report the pipeline registered (ModelMetrics.ModelQuality.
    Statistics, an evaluation.json in S3), else from `metric_<name>` customer metadata.
    """
    uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get(
        "S3Uri"
    )
    if uri and uri.startswith("s3://"):
        bucket, _, key = uri[len("s3://") :].partition("/")
        try:
            body = clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            metrics = _metrics_from_report(json.loads(body))
            if metrics:
                return metrics
        except (ClientError, ValueError) as exc:
            log(f"warning: could not read the model quality report {uri}: {exc}")
    metrics = {}
    for key, value in (package.get("CustomerMetadataProperties") or {}).items():
        match = re.match(r"^metrics?[_.:](.+)$", key)
        if match:
            try:
                metrics[match[1]] = float(value)
            except ValueError:
                continue
    return metrics
