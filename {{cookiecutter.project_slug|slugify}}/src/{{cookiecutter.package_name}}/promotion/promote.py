"""Promotion: register an Approved dev version into the prod group of the shared registry.

It runs as the registry role in the shared-services account.
"""

from __future__ import annotations

import hashlib

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .metadata import check_customer_metadata
from .version import (
    SOURCE_ARN_KEY,
    SOURCE_VERSION_KEY,
    ModelVersion,
    describe_package,
    from_description,
    parse_package_arn,
    resolve,
)

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


def find_promoted(clients: Clients, prod_group: str, source_arn: str) -> ModelVersion | None:
    """The prod version whose metadata names `source_arn`, newest first, or None."""
    paginator = clients.sagemaker.get_paginator("list_model_packages")
    params = {"ModelPackageGroupName": prod_group, "SortBy": "CreationTime", "SortOrder": "Descending"}
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": 50}):
        for summary in page.get("ModelPackageSummaryList", []):
            arn = summary["ModelPackageArn"]
            package = describe_package(clients, arn)
            if (package.get("CustomerMetadataProperties") or {}).get(SOURCE_ARN_KEY) == source_arn:
                return from_description(parse_package_arn(arn), package)
    return None


def promote(cfg: Config, clients: Clients, source_arn: str) -> tuple[str, bool]:
    """Register an Approved dev version into the prod group; return (prod ARN, created).

    The prod version points at the same containers and artifacts, carries the same metadata
    plus the source ARN and version, and is Approved. Promoting the same source again
    returns the existing prod version (found by its metadata) without a mutating call.
    It raises DeployError if the source is not an Approved, Completed dev version, if its
    earlier promotion was Rejected, or if the metadata to send breaks SageMaker's
    customer-metadata rules (`check_customer_metadata`), before any mutating call.
    """
    source = resolve(cfg, clients, source_arn, "dev")
    if source.approval != "Approved":
        raise DeployError(
            f"model package {source_arn} is {source.approval or None}; "
            "only Approved versions may be promoted to prod (run approve first)"
        )
    if source.status != "Completed":
        raise DeployError(f"model package {source_arn} is {source.status or None}, not Completed")
    prod_group = cfg.group("prod")
    existing = find_promoted(clients, prod_group, source_arn)
    if existing:
        if existing.approval == "Rejected":
            raise DeployError(
                f"{source_arn} was promoted as {existing.arn}, which is Rejected; promote a new version"
            )
        log(f"{source_arn} is already promoted as {existing.arn}; unchanged")
        return existing.arn, False
    metadata = {**source.metadata, SOURCE_ARN_KEY: source_arn, SOURCE_VERSION_KEY: str(source.version)}
    check_customer_metadata(metadata, f"promoting {source_arn}")
    request = source.fields(COPIED_FIELDS)
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
