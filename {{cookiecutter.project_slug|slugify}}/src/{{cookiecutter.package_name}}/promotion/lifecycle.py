"""A version's life in the registry: find the newest, approve it, record the stage it reached.

These functions run as the registry role in the shared-services account.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .. import config
from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .metadata import check_customer_metadata, metadata_value
from .version import GIT_SHA_KEY, ModelVersion, check_package, describe_package, reference, resolve

# SageMaker's predefined model life-cycle stages
# (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-staging-construct-set-up.html).
STAGES = {"dev": "Development", "qa": "QA", "prod": "Production"}
STAGE_STATUSES = ("PendingApproval", "InProgress", "OnHold", "Approved", "Rejected", "Retired")
PULL_REQUEST = re.compile(r"^[1-9]\d{0,9}$")
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
GITHUB_ACTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$")


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
            package = describe_package(clients, summary["ModelPackageArn"])
            if (package.get("CustomerMetadataProperties") or {}).get(GIT_SHA_KEY) == git_sha:
                return summary
    return None


def approval_description(pr: str, commit: str, actor: str) -> str:
    return f"Approved by {actor} in pull request #{pr} at commit {commit}"


def approve(cfg: Config, clients: Clients, arn: str, pr: str, commit: str, actor: str) -> ModelVersion:
    """Approve a dev version, recording who approved it, in which pull request, at which commit.

    It raises DeployError for a malformed PR/commit/actor, a package outside the dev group, a
    package that is not Completed or that was Rejected, or metadata SageMaker would refuse
    (`check_customer_metadata`). An already Approved package is left as it is (its first
    approval record stays) and no mutating call is made. It returns the version as approved.
    """
    ref = check_package(cfg, arn, "dev")
    pr = pr.lstrip("#")
    if not PULL_REQUEST.match(pr):
        raise DeployError(f"pull request {pr!r} is not a pull request number")
    if not COMMIT.match(commit):
        raise DeployError(f"commit {commit!r} is not a git commit SHA (7-40 lowercase hex digits)")
    if not GITHUB_ACTOR.match(actor):
        raise DeployError(f"actor {actor!r} is not a GitHub login")
    version = resolve(cfg, clients, ref)
    if version.status != "Completed":
        raise DeployError(f"model package {arn} is {version.status or None}, not Completed")
    if version.approval == "Rejected":
        raise DeployError(f"model package {arn} was Rejected; register and verify a new version instead")
    if version.approval == "Approved":
        log(f"{arn} is already Approved ({version.approval_description or 'no description'}); unchanged")
        return version
    metadata = {
        **version.metadata,
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
    return replace(version, approval="Approved", approval_description=description)


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
    version = resolve(cfg, clients, reference(cfg, arn))
    lifecycle = {"Stage": STAGES[stage], "StageStatus": status}
    if version.stage == lifecycle["Stage"] and version.stage_status == status:
        log(f"{arn} is already at stage {lifecycle['Stage']}/{status}; unchanged")
        return False
    if stage in config.ENVIRONMENTS and not description:
        description = f"{stage} endpoint {cfg.environment(stage).endpoint_name}"
    if description:
        lifecycle["StageDescription"] = description[:1024]
    clients.sagemaker.update_model_package(ModelPackageArn=arn, ModelLifeCycle=lifecycle)
    log(f"{arn}: stage {lifecycle['Stage']}/{status}")
    return True
