"""Promotion: register an Approved, QA-verified dev version into the prod group of the shared registry.

It runs as the prod registry role in the shared-services account, the only role that writes
the prod prefix of the artifact bucket or the prod group.
"""

from __future__ import annotations

import hashlib

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .evidence import digest, model_artifact_uri, qa_evidence, split_uri
from .metadata import check_customer_metadata
from .version import (
    GIT_SHA_KEY,
    SOURCE_ARN_KEY,
    SOURCE_VERSION_KEY,
    ModelVersion,
    describe_package,
    from_description,
    parse_package_arn,
    plain,
    resolve,
)

# Customer metadata of a prod version: the checksum and S3 version of its artifact copy.
ARTIFACT_SHA256_KEY = "artifact_sha256"
ARTIFACT_VERSION_KEY = "artifact_version"

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


def prod_artifact_uri(cfg: Config, source: ModelVersion, source_uri: str) -> str:
    """Where promotion copies the source's artifact: `<prod prefix><dev version>/<file name>`."""
    bucket, key = split_uri(source_uri)
    if bucket != cfg.names.artifact_bucket:
        raise DeployError(
            f"{source.arn} serves {source_uri}, outside the artifact bucket {cfg.names.artifact_bucket}"
        )
    name = key.rsplit("/", 1)[-1]
    return f"s3://{bucket}/{cfg.names.artifact_prefixes['prod']}{source.version}/{name}"


def expected_request(
    cfg: Config, source: ModelVersion, prod_uri: str, sha256: str, copy_version: str
) -> dict:
    """The CreateModelPackage request of the prod version: the source's fields, its containers
    pointing at the prod copy, its metadata plus source ARN/version and the copy's checksum."""
    request = source.fields(COPIED_FIELDS)
    for container in request["InferenceSpecification"]["Containers"]:
        container["ModelDataUrl"] = prod_uri
    metadata = {
        **source.metadata,
        SOURCE_ARN_KEY: source.arn,
        SOURCE_VERSION_KEY: str(source.version),
        ARTIFACT_SHA256_KEY: sha256,
        ARTIFACT_VERSION_KEY: copy_version,
    }
    check_customer_metadata(metadata, f"promoting {source.arn}")
    request.update(
        ModelPackageGroupName=cfg.group("prod"),
        ModelPackageDescription=f"Promoted from {source.arn}",
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=metadata,
    )
    return request


def differences(existing: ModelVersion, request: dict) -> list[str]:
    """Fields in which an existing prod version differs from what promotion would register."""
    problems = []
    for name in COPIED_FIELDS:
        if name == "InferenceSpecification":
            continue
        if plain(existing.description.get(name)) != request.get(name):
            problems.append(name)
    wanted = request["InferenceSpecification"]
    if plain(existing.description.get("InferenceSpecification")) != wanted:
        problems.append("InferenceSpecification (containers, images or ModelDataUrl)")
    metadata = request["CustomerMetadataProperties"]
    if existing.metadata.get(ARTIFACT_SHA256_KEY) != metadata[ARTIFACT_SHA256_KEY]:
        problems.append(f"{ARTIFACT_SHA256_KEY} ({existing.metadata.get(ARTIFACT_SHA256_KEY) or 'none'})")
    for key in (GIT_SHA_KEY, SOURCE_VERSION_KEY):
        if existing.metadata.get(key) != metadata.get(key):
            problems.append(key)
    return problems


def copy_artifact(clients: Clients, source_uri: str, version_id: str, prod_uri: str, sha256: str) -> str:
    """Copy one object version to the prod prefix, re-hash the copy; return the copy's version id."""
    bucket, key = split_uri(source_uri)
    prod_bucket, prod_key = split_uri(prod_uri)
    copy_source = {"Bucket": bucket, "Key": key}
    if version_id and version_id != "unversioned":
        copy_source["VersionId"] = version_id
    response = clients("s3").copy_object(CopySource=copy_source, Bucket=prod_bucket, Key=prod_key)
    copied = digest(clients, prod_uri, response.get("VersionId"))
    if copied.sha256 != sha256:
        raise DeployError(
            f"the copy {prod_uri} has sha256 {copied.sha256}, QA tested {sha256}; "
            f"{source_uri} changed after QA: not promoting"
        )
    log(f"copied {source_uri} (version {version_id}) -> {prod_uri} (sha256 {sha256})")
    return copied.version_id or "unversioned"


def promote(
    cfg: Config, clients: Clients, source_arn: str, lock_sha256: str | None = None
) -> tuple[str, bool]:
    """Register an Approved dev version into the prod group; return (prod ARN, created).

    The prod version serves a copy of the artifact QA tested, in the prod-only prefix: the
    object version QA recorded is copied and the copy re-hashed against QA's sha256 (and the
    lock's, when given). It carries the source's other fields and metadata plus the source
    ARN, version and the copy's checksum, and is Approved. Promoting the same source again
    returns the existing prod version without a mutating call, but only if it is exactly
    what promotion would register; a prod version naming the source that differs (other
    containers, artifact, metrics or checksum) is refused, as is a Rejected one.
    It raises DeployError before any mutating call if the source is not an Approved,
    Completed dev version with a passed QA record.
    """
    source = resolve(cfg, clients, source_arn, "dev")
    if source.approval != "Approved":
        raise DeployError(
            f"model package {source_arn} is {source.approval or None}; "
            "only Approved versions may be promoted to prod (run approve first)"
        )
    if source.status != "Completed":
        raise DeployError(f"model package {source_arn} is {source.status or None}, not Completed")
    qa = qa_evidence(source.metadata)
    if not qa.passed or not qa.sha256:
        raise DeployError(f"{source_arn} has no passed QA record in the registry; not promoting")
    if lock_sha256 and lock_sha256 != qa.sha256:
        raise DeployError(f"the lock names sha256 {lock_sha256}, QA tested {qa.sha256}; not promoting")
    source_uri = model_artifact_uri(source)
    prod_uri = prod_artifact_uri(cfg, source, source_uri)
    existing = find_promoted(clients, cfg.group("prod"), source_arn)
    if existing:
        if existing.approval == "Rejected":
            raise DeployError(
                f"{source_arn} was promoted as {existing.arn}, which is Rejected; promote a new version"
            )
        copy_version = existing.metadata.get(ARTIFACT_VERSION_KEY) or "missing"
        wanted = expected_request(cfg, source, prod_uri, qa.sha256, copy_version)
        problems = differences(existing, wanted)
        if problems:
            raise DeployError(
                f"{existing.arn} names {source_arn} as its source but differs from it in "
                f"{', '.join(problems)}; refusing to serve it (reject it and promote again)"
            )
        log(f"{source_arn} is already promoted as {existing.arn}; unchanged")
        return existing.arn, False
    expected_request(cfg, source, prod_uri, qa.sha256, "unversioned")  # metadata rules, before any change
    copy_version = copy_artifact(clients, source_uri, qa.version_id or "", prod_uri, qa.sha256)
    request = expected_request(cfg, source, prod_uri, qa.sha256, copy_version)
    # Same source, same token: SageMaker returns the first version on a retried request.
    request["ClientToken"] = hashlib.sha256(source_arn.encode()).hexdigest()[:32]
    arn = clients.sagemaker.create_model_package(**request)["ModelPackageArn"]
    log(f"promoted {source_arn} -> {arn}")
    return arn, True
