"""A version's life in the registry: find the newest, approve it, record the stage it reached.

They run in the shared-services account: `latest` and the QA stage as the QA registry role,
approve, `record_release` and `reject` as the prod registry role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from .. import config
from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .metadata import check_customer_metadata, metadata_value
from .segments import SEGMENT_COLUMN_KEY, SEGMENT_KEY
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
    for summary in completed_summaries(clients, group, status):
        if git_sha is None:
            return summary
        package = describe_package(clients, summary["ModelPackageArn"])
        if (package.get("CustomerMetadataProperties") or {}).get(GIT_SHA_KEY) == git_sha:
            return summary
    return None


def completed_summaries(clients: Clients, group: str, status: str | None = None) -> Iterator[dict[str, Any]]:
    """The summaries of `group`'s Completed versions (optionally with an approval status), newest
    first (CreationTime/Descending asked for explicitly), paged on only as far as they are read."""
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
            if summary.get("ModelPackageStatus") == "Completed":
                yield summary


def filter_description(status: str | None, git_sha: str | None) -> str:
    """What `latest` looked for besides Completed, for its "none found" error ("" for nothing)."""
    return (f" with status {status}" if status else "") + (
        f" registered from commit {git_sha}" if git_sha else ""
    )


def _approve_revert(cfg: Config, clients: Clients, ref: Any, commit: str) -> ModelVersion:
    """A revert pushed to the prod branch without a pull request: only a version that served
    prod before may run again. The evidence is its prod version (`released_at`), which only the
    prod identity writes; the dev version's own approval status is not trusted (identities below
    the prod gate may update dev versions), so it is set to Approved again when needed."""
    from .promote import find_promoted

    version = resolve(cfg, clients, ref)
    promoted = find_promoted(clients, cfg.group("prod"), ref.arn)
    if not (promoted and promoted.approval == "Approved" and promoted.metadata.get("released_at")):
        raise DeployError(
            f"{ref.arn} never served prod and no pull request merged commit {commit}: a version is "
            f"approved only through a pull request from {cfg.branches.dev}"
        )
    if version.status != "Completed" or version.approval == "Rejected":
        raise DeployError(f"{ref.arn} is {version.approval or version.status}; it cannot be released again")
    if version.approval == "Approved":
        log(f"{ref.arn} is Approved and served prod as {promoted.arn}; released again without a pull request")
        return version
    description = f"Approved again for a revert at commit {commit}: it served prod as {promoted.arn}"
    clients.sagemaker.update_model_package(
        ModelPackageArn=ref.arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=description,
        CustomerMetadataProperties=dict(version.metadata),
    )
    log(f"approved {ref.arn} again: {description}")
    return replace(version, approval="Approved", approval_description=description)


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
    if pr == "none":
        return _approve_revert(cfg, clients, ref, commit)
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


# Customer metadata of a prod version that served prod: when, from which run, commit and PR.
RELEASED_AT_KEY = "released_at"
RELEASED_COMMIT_KEY = "released_commit"
RELEASED_PULL_REQUEST_KEY = "released_pull_request"


def record_release(cfg: Config, clients: Clients, arn: str, commit: str, pr: str, when: str) -> ModelVersion:
    """Record that the prod version `arn` now serves the prod endpoint (after its smoke test).

    Stage Production/Approved plus `released_at` (UTC, ISO 8601), `released_commit` and
    `released_pull_request` ("none" for a revert pushed without one). The champion is the
    prod version released last (`champion_version`), not the newest Approved one.
    """
    ref = check_package(cfg, arn, "prod")
    if not COMMIT.match(commit):
        raise DeployError(f"commit {commit!r} is not a git commit SHA (7-40 lowercase hex digits)")
    pr = pr.lstrip("#")
    if pr != "none" and not PULL_REQUEST.match(pr):
        raise DeployError(f"pull request {pr!r} is not a pull request number or 'none'")
    version = resolve(cfg, clients, ref)
    if version.approval != "Approved":
        raise DeployError(f"{arn} is {version.approval or None}; only Approved prod versions are released")
    metadata = {
        **version.metadata,
        RELEASED_AT_KEY: when,
        RELEASED_COMMIT_KEY: commit,
        RELEASED_PULL_REQUEST_KEY: pr,
    }
    check_customer_metadata(metadata, f"recording the release of {arn}")
    clients.sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=metadata,
        ModelLifeCycle={
            "Stage": STAGES["prod"],
            "StageStatus": "Approved",
            "StageDescription": f"serving {cfg.environment('prod').endpoint_name} since {when}",
        },
    )
    log(f"{arn}: released at {when} (commit {commit}, pull request {pr})")
    return resolve(cfg, clients, ref)


def reject(cfg: Config, clients: Clients, arn: str, reason: str) -> bool:
    """Reject a version (a failed prod deploy or smoke test); False when already Rejected.

    A Rejected prod version is never promoted again nor counted as champion.
    """
    ref = reference(cfg, arn)
    version = resolve(cfg, clients, ref)
    if version.approval == "Rejected":
        log(f"{arn} is already Rejected; unchanged")
        return False
    stage = STAGES["prod"] if ref.kind == "prod" else STAGES["qa"]
    metadata = {**version.metadata, "rejected_reason": metadata_value(reason)}
    check_customer_metadata(metadata, f"rejecting {arn}")
    clients.sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=reason[:1024],
        CustomerMetadataProperties=metadata,
        ModelLifeCycle={"Stage": stage, "StageStatus": "Rejected", "StageDescription": reason[:1024]},
    )
    log(f"{arn}: Rejected ({reason})")
    return True


def champion_version(cfg: Config, clients: Clients, segment: str | None = None) -> ModelVersion | None:
    """The prod version the prod endpoint serves: the one released last, never a Rejected one.

    With `segment`, only prod versions whose `segment` metadata equals it and whose
    `segment_column` is the configured column count: the champion of that segment (None for a
    segment prod never served; a value reused under another column is another segment). Without
    it, only versions registered for no segment: a segment's model is no whole model's champion.
    Each prod version is described once (the prod group holds one version per release).
    """
    best: ModelVersion | None = None
    wanted = (None, None) if segment is None else (segment, cfg.model.segments.column)
    paginator = clients.sagemaker.get_paginator("list_model_packages")
    params = {"ModelPackageGroupName": cfg.group_arn("prod"), "ModelApprovalStatus": "Approved"}
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": 50}):
        for summary in page.get("ModelPackageSummaryList", []):
            version = resolve(cfg, clients, summary["ModelPackageArn"], "prod")
            if (version.metadata.get(SEGMENT_KEY), version.metadata.get(SEGMENT_COLUMN_KEY)) != wanted:
                continue
            released = version.metadata.get(RELEASED_AT_KEY)
            if released and (best is None or released > best.metadata[RELEASED_AT_KEY]):
                best = version
    return best
