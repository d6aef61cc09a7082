"""Promotion: register an Approved, QA-verified dev version into the prod group of the shared registry.

It runs as the prod registry role in the shared-services account, the only role that writes
the prod prefix of the artifact bucket or the prod group. The prod version is built, not
copied: its one container is the tested image with exactly the serving environment and the
prod-only copy of the tested artifact; its model quality report is a prod-only copy of the
report QA pinned, and its quality baselines (DriftCheckBaselines and ModelMetrics, what Model
Monitor compares the prod endpoint's traffic with) prod-only copies of the baseline objects QA
pinned (promotion/baselines.py); its metadata is the source's minus every key a release
decision reads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from . import baselines as quality_baselines
from .evidence import (
    QA_REPORT_SHA256_KEY,
    containers_digest,
    digest,
    model_artifact_uri,
    qa_evidence,
    serving_environment,
    serving_problems,
    split_uri,
)
from .metadata import check_customer_metadata
from .segments import single_version_problem
from .version import (
    GIT_SHA_KEY,
    QA_REPORT_VERSION_KEY,
    REPORT_VERSION_KEY,
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
# Keys the release writes and later steps decide on: never carried over from a dev version
# (anyone who may update dev versions could plant them), and approval keys, written again.
DECISION_KEYS = re.compile(r"^(released_|source_|artifact_|rejected_|approved_)|^report_version$")
# Entries the release adds to the copied metadata: approval (3, on the dev version first),
# promotion (5), the release record (3) and a rejection (1). SageMaker allows 50 in all.
RELEASE_METADATA_ENTRIES = 12

# Fields of the source version that the prod version carries over unchanged (containers, the
# quality report and the baselines, ModelMetrics and DriftCheckBaselines, are rebuilt on the
# prod copies).
COPIED_FIELDS = ("MetadataProperties", "Domain", "Task")


def copied_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The source's customer metadata a prod version carries: all but the decision keys."""
    return {key: value for key, value in metadata.items() if not DECISION_KEYS.match(key)}


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
    cfg: Config,
    source: ModelVersion,
    prod_uri: str,
    sha256: str,
    copy_version: str,
    report: tuple[str, str] | None,
    baselines: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CreateModelPackage request of the prod version (`report`: the quality report copy's
    URI and object version; `baselines`: kind -> the baseline copy's URI)."""
    request = source.fields(COPIED_FIELDS)
    spec = plain(source.description.get("InferenceSpecification") or {})
    spec["Containers"] = [
        {"Image": container["Image"], "ModelDataUrl": prod_uri, "Environment": serving_environment(cfg)}
        for container in spec.get("Containers", [])
    ]
    request["InferenceSpecification"] = spec
    metadata = {
        **copied_metadata(source.metadata),
        **{key: value for key, value in source.metadata.items() if key.startswith("approved_")},
        SOURCE_ARN_KEY: source.arn,
        SOURCE_VERSION_KEY: str(source.version),
        ARTIFACT_SHA256_KEY: sha256,
        ARTIFACT_VERSION_KEY: copy_version,
    }
    metrics: dict[str, dict] = {}
    if report is not None:
        uri, version = report
        metrics["ModelQuality"] = {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
        metadata[REPORT_VERSION_KEY] = version
    if baselines:
        parts, drift = quality_baselines.request_fields(baselines)
        for part, entries in parts.items():
            metrics.setdefault(part, {}).update(entries)
        request["DriftCheckBaselines"] = drift
    if metrics:
        request["ModelMetrics"] = metrics
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
    problems = [
        name
        for name in (*COPIED_FIELDS, "ModelMetrics", "DriftCheckBaselines")
        if plain(existing.description.get(name)) != request.get(name)
    ]
    if plain(existing.description.get("InferenceSpecification")) != request["InferenceSpecification"]:
        problems.append("InferenceSpecification (containers, images, environment or ModelDataUrl)")
    if existing.description.get("AdditionalInferenceSpecifications"):
        problems.append("AdditionalInferenceSpecifications")
    metadata = request["CustomerMetadataProperties"]
    for key in (ARTIFACT_SHA256_KEY, GIT_SHA_KEY, SOURCE_VERSION_KEY):
        if existing.metadata.get(key) != metadata.get(key):
            problems.append(f"{key} ({existing.metadata.get(key) or 'none'})")
    return problems


def copy_object(clients: Clients, source_uri: str, version_id: str, target_uri: str, sha256: str) -> str:
    """Copy one object version, re-hash the copy against `sha256`; return the copy's version id."""
    bucket, key = split_uri(source_uri)
    target_bucket, target_key = split_uri(target_uri)
    copy_source = {"Bucket": bucket, "Key": key}
    if version_id and version_id != "unversioned":
        copy_source["VersionId"] = version_id
    response = clients("s3").copy_object(CopySource=copy_source, Bucket=target_bucket, Key=target_key)
    copied = digest(clients, target_uri, response.get("VersionId"))
    if copied.sha256 != sha256:
        raise DeployError(
            f"the copy {target_uri} has sha256 {copied.sha256}, QA recorded {sha256}; "
            f"{source_uri} changed after QA: not promoting"
        )
    log(f"copied {source_uri} (version {version_id}) -> {target_uri} (sha256 {sha256})")
    return copied.version_id or "unversioned"


def prod_report_uri(cfg: Config, source: ModelVersion) -> str:
    bucket = cfg.names.artifact_bucket
    return f"s3://{bucket}/{cfg.names.artifact_prefixes['prod']}{source.version}/evaluation.json"


def promote(
    cfg: Config, clients: Clients, source_arn: str, lock_sha256: str | None = None
) -> tuple[str, bool]:
    """Register an Approved dev version into the prod group; return (prod ARN, created).

    The prod version serves a copy of the artifact QA tested, in the prod-only prefix: the
    object version QA recorded is copied and the copy re-hashed against QA's sha256 (and the
    lock's, when given); the evaluation report QA pinned is copied the same way, and so are the
    quality baselines (promotion/baselines.py): each object version QA pinned is re-hashed before
    anything is copied, copied, and the copy re-hashed; the prod version registers the copies as
    its DriftCheckBaselines and ModelMetrics. A version registered with baselines expected that
    lacks one, or lacks its QA pin, is refused; one registered before baselines existed is
    promoted without them (one log line). Its one
    container is the tested image with the serving environment; the source's containers must
    still be the ones QA tested (their digest) and serve nothing else. Promoting the same source
    again returns the existing prod version without a mutating call, but only if it is exactly
    what promotion would register; a prod version naming the source that differs is refused, as
    is a Rejected one. It raises DeployError before any mutating call if the source is not an
    Approved, Completed dev version with a passed QA record.
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
    problems = serving_problems(cfg, source)
    if single_version_problem(cfg, source):
        problems.append(single_version_problem(cfg, source))
    if qa.containers != containers_digest(source):
        problems.append("its containers changed after QA tested them")
    if problems:
        raise DeployError(f"not promoting {source_arn}: " + "; ".join(problems))
    source_uri = model_artifact_uri(source)
    prod_uri = prod_artifact_uri(cfg, source, source_uri)
    report_uri = prod_report_uri(cfg, source) if source.quality_report_uri else None
    found = quality_baselines.sources(source)
    if found is None:
        log(f"{source_arn} was registered without quality baselines; promoting it without them")
    existing = find_promoted(clients, cfg.group("prod"), source_arn)
    if existing:
        if existing.approval == "Rejected":
            raise DeployError(
                f"{source_arn} was promoted as {existing.arn}, which is Rejected; promote a new version"
            )
        copy_version = existing.metadata.get(ARTIFACT_VERSION_KEY) or "missing"
        report = (report_uri, existing.metadata.get(REPORT_VERSION_KEY) or "missing") if report_uri else None
        copies = {
            kind: quality_baselines.prod_uri(cfg, source, kind, uri) for kind, uri in (found or {}).items()
        }
        problems = differences(
            existing, expected_request(cfg, source, prod_uri, qa.sha256, copy_version, report, copies)
        )
        if problems:
            raise DeployError(
                f"{existing.arn} names {source_arn} as its source but differs from it in "
                f"{', '.join(problems)}; refusing to serve it (reject it and promote again)"
            )
        log(f"{source_arn} is already promoted as {existing.arn}; unchanged")
        return existing.arn, False
    placeholder = (report_uri, "unversioned") if report_uri else None
    # The baselines QA pinned, re-hashed at their pinned versions (reads only).
    pins = quality_baselines.verify(cfg, clients, source, found) if found else []
    # Metadata rules first.
    expected_request(
        cfg, source, prod_uri, qa.sha256, "unversioned", placeholder, {p.kind: p.target for p in pins}
    )
    copy_version = copy_object(clients, source_uri, qa.version_id or "", prod_uri, qa.sha256)
    report = None
    if report_uri:
        report_sha = source.metadata.get(QA_REPORT_SHA256_KEY) or ""
        pinned = source.metadata.get(QA_REPORT_VERSION_KEY) or ""
        if not report_sha:
            raise DeployError(f"{source_arn} has no pinned evaluation report in its QA record; not promoting")
        report = (report_uri, copy_object(clients, source.quality_report_uri, pinned, report_uri, report_sha))
    copies = quality_baselines.copy_all(clients, pins, copy_object)
    request = expected_request(cfg, source, prod_uri, qa.sha256, copy_version, report, copies)
    # Same source, same token: SageMaker returns the first version on a retried request.
    request["ClientToken"] = hashlib.sha256(source_arn.encode()).hexdigest()[:32]
    arn = clients.sagemaker.create_model_package(**request)["ModelPackageArn"]
    log(f"promoted {source_arn} -> {arn}")
    return arn, True
