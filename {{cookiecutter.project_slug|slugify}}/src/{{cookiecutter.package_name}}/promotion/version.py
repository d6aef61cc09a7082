"""One model version, resolved once: what deploy, lock, compare and promote all consume.

- `PackageRef`: the parts of a versioned model package ARN (region, account, group, version)
  and the group's kind in this repository (feature, dev, prod; None when not checked).
  `parse_package_arn` is the only parser, `reference` the only check that an ARN names a
  version of this repository's shared registry.
- `ModelVersion`: a frozen value built from one DescribeModelPackage answer: the ref, status,
  approval, life-cycle stage, customer metadata (git SHA, branch, source ARN), metrics,
  artifact locations (model data URLs, images) and creation time. `resolve` checks the ARN,
  describes it once and returns the value; `from_description` builds it from an answer the
  caller already holds (tests, `latest`, `find_promoted`).
- `check_deployable`: the registry gate of a deploy, on the value.

boto3 only: nothing here imports the SageMaker SDK, pandas or numpy.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from botocore.exceptions import ClientError

from .. import config
from ..config import Config
from ..deploy.aws import Clients, DeployError, is_not_found, log

PACKAGE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62})/(?P<version>[1-9]\d{0,8})$"
)
# Customer metadata keys this repository writes on a version.
GIT_SHA_KEY = "git_sha"
BRANCH_KEY = "branch"
SOURCE_ARN_KEY = "source_model_package_arn"
SOURCE_VERSION_KEY = "source_model_package_version"
# The evaluation report's object version: pinned by QA on a dev version, by promotion on prod.
QA_REPORT_VERSION_KEY = "qa_report_version"
REPORT_VERSION_KEY = "report_version"


@dataclass(frozen=True)
class PackageRef:
    """The parts of a versioned model package ARN; `kind` is the group's kind once checked."""

    arn: str
    region: str
    account: str
    group: str
    version: int
    kind: str | None = None


def parse_package_arn(arn: str) -> PackageRef:
    match = PACKAGE_ARN.match(arn or "")
    if not match:
        raise DeployError(
            f"{arn!r} is not a versioned model package ARN "
            "(expected arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    return PackageRef(arn, match["region"], match["account"], match["group"], int(match["version"]))


def group_kind(cfg: Config, group: str) -> str | None:
    """The kind (feature, dev, prod) of one of this repository's groups, else None."""
    return next((kind for kind in config.GROUP_KINDS if cfg.group(kind) == group), None)


def reference(cfg: Config, arn: str, kind: str | None = None) -> PackageRef:
    """Parse `arn` and check it names a version of this repository's shared registry.

    With `kind`, the version must be in that group; without, in any of this repository's
    groups (its kind is then read from the group name). It raises DeployError naming the
    first part (group, account, region) that does not match.
    """
    ref = parse_package_arn(arn)
    if kind is None:
        kind = group_kind(cfg, ref.group)
        if kind is None:
            raise DeployError(f"model package {arn} is not in one of this repository's registry groups")
    registry = cfg.account_id("shared_services")
    if ref.account != registry:
        raise DeployError(
            f"model package {arn} is in account {ref.account}, not the shared-services registry {registry}"
        )
    if ref.region != cfg.region:
        raise DeployError(f"model package {arn} is in region {ref.region}, expected {cfg.region}")
    group = cfg.group(kind)
    if ref.group != group:
        raise DeployError(f"model package {arn} is in group {ref.group}, expected the {kind} group {group}")
    return replace(ref, kind=kind)


def check_package(cfg: Config, arn: str, kind: str) -> PackageRef:
    """`reference(cfg, arn, kind)`: the ARN names a version of the `kind` group."""
    return reference(cfg, arn, kind)


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def plain(value: Any) -> Any:
    """A frozen description part as the plain dicts and lists a boto3 request takes."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return copy.copy(value)


def git_sha_of(metadata: Mapping[str, Any], properties: Mapping[str, Any]) -> str | None:
    """The git commit a version was built from: customer metadata, else MetadataProperties."""
    for key, value in metadata.items():
        if re.sub(r"[^a-z]", "", key.lower()) in ("gitsha", "gitcommit", "commit", "commitsha"):
            return value
    return properties.get("CommitId")


def metrics_from_metadata(metadata: Mapping[str, Any]) -> dict[str, float]:
    """`metric_<name>` (or metrics.<name>, metric:<name>) customer metadata as numbers."""
    metrics = {}
    for key, value in metadata.items():
        match = re.match(r"^metrics?[_.:](.+)$", key)
        if match:
            try:
                metrics[match[1]] = float(value)
            except ValueError:
                continue
    return metrics


def metrics_from_report(report: dict[str, Any]) -> dict[str, float]:
    """Every `<section>_metrics.<name>.value` of an evaluation report (SageMaker's layout)."""
    metrics: dict[str, float] = {}
    for section, values in report.items():
        if not (section.endswith("_metrics") and isinstance(values, dict)):
            continue
        for name, entry in values.items():
            value = entry.get("value") if isinstance(entry, dict) else entry
            if isinstance(value, int | float):
                metrics[name] = float(value)
    return metrics


@dataclass(frozen=True)
class ModelVersion:
    """One registered version as the registry described it, read-only."""

    ref: PackageRef
    status: str
    approval: str
    described_group: str
    approval_description: str = ""
    stage: str | None = None
    stage_status: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    quality_report_uri: str | None = None
    # None until read (`with_metrics`); deploy does not need them.
    metrics: Mapping[str, float] | None = None
    model_data_urls: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    created: Any = None
    description: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    @property
    def arn(self) -> str:
        return self.ref.arn

    @property
    def version(self) -> int:
        return self.ref.version

    @property
    def group(self) -> str:
        return self.ref.group

    @property
    def kind(self) -> str | None:
        return self.ref.kind

    @property
    def git_sha(self) -> str | None:
        return git_sha_of(self.metadata, self.description.get("MetadataProperties") or {})

    @property
    def branch(self) -> str | None:
        return self.metadata.get(BRANCH_KEY)

    @property
    def source_arn(self) -> str | None:
        """The dev version a prod version was promoted from (its metadata), if any."""
        return self.metadata.get(SOURCE_ARN_KEY)

    def containers(self) -> list[dict[str, Any]]:
        """The InferenceSpecification containers, as plain dicts."""
        return plain((self.description.get("InferenceSpecification") or {}).get("Containers") or ())

    def fields(self, names: tuple[str, ...]) -> dict[str, Any]:
        """The named description fields that are set, as plain request values."""
        return {name: plain(self.description[name]) for name in names if self.description.get(name)}

    def with_metrics(self, metrics: Mapping[str, float]) -> ModelVersion:
        return replace(self, metrics=MappingProxyType(dict(metrics)))


def _model_data(container: Mapping[str, Any]) -> list[str]:
    urls = [container["ModelDataUrl"]] if container.get("ModelDataUrl") else []
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    if source.get("S3Uri"):
        urls.append(source["S3Uri"])
    return urls


def from_description(ref: PackageRef, package: Mapping[str, Any]) -> ModelVersion:
    """The value for `ref` from its DescribeModelPackage answer `package`.

    It raises DeployError when the answer describes another package than the one asked for.
    """
    described = package.get("ModelPackageArn")
    if described != ref.arn:
        raise DeployError(f"the registry answered with {described} when asked for model package {ref.arn}")
    frozen = _frozen(package)
    lifecycle = frozen.get("ModelLifeCycle") or {}
    containers = (frozen.get("InferenceSpecification") or {}).get("Containers") or ()
    quality = (((frozen.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get(
        "S3Uri"
    )
    return ModelVersion(
        ref=ref,
        status=str(package.get("ModelPackageStatus") or ""),
        approval=str(package.get("ModelApprovalStatus") or ""),
        described_group=str(package.get("ModelPackageGroupName") or "").rsplit("/", 1)[-1],
        approval_description=str(package.get("ApprovalDescription") or ""),
        stage=lifecycle.get("Stage"),
        stage_status=lifecycle.get("StageStatus"),
        metadata=frozen.get("CustomerMetadataProperties") or MappingProxyType({}),
        quality_report_uri=quality,
        model_data_urls=tuple(url for c in containers for url in _model_data(c)),
        images=tuple(c["Image"] for c in containers if c.get("Image")),
        created=package.get("CreationTime"),
        description=frozen,
    )


def describe_package(clients: Clients, arn: str) -> dict[str, Any]:
    """DescribeModelPackage; DeployError when the version does not exist."""
    try:
        return clients.sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        if is_not_found(exc):
            raise DeployError(f"model package {arn} does not exist in the registry") from exc
        raise


def resolve(
    cfg: Config, clients: Clients, arn: str | PackageRef, kind: str | None = None, metrics: bool = False
) -> ModelVersion:
    """Check the ARN (`reference`), describe the version once and return its value.

    With `metrics`, also read its evaluation metrics (`read_metrics`: one S3 GetObject).
    """
    ref = arn if isinstance(arn, PackageRef) else reference(cfg, arn, kind)
    value = from_description(ref, describe_package(clients, ref.arn))
    return read_metrics(clients, value) if metrics else value


def pinned_report_request(value: ModelVersion) -> dict[str, str] | None:
    """GetObject arguments for the version's evaluation report at the object version the release
    (`report_version`) or QA (`qa_report_version`) pinned, else the current one; None without a
    report in S3."""
    uri = value.quality_report_uri
    if not (uri and uri.startswith("s3://")):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    pinned = value.metadata.get(REPORT_VERSION_KEY) or value.metadata.get(QA_REPORT_VERSION_KEY)
    request = {"Bucket": bucket, "Key": key}
    if pinned and pinned != "unversioned":
        request["VersionId"] = pinned
    return request


def read_metrics(clients: Clients, value: ModelVersion, strict: bool = False) -> ModelVersion:
    """The value with its evaluation metrics.

    From the model quality report the pipeline registered (ModelMetrics.ModelQuality.
    Statistics, an evaluation.json in S3): the object version the release pinned
    (`report_version` on a prod version, `qa_report_version` on a QA-verified dev version),
    else the current one. Without a report, or (unless `strict`) when it cannot be read, from
    `metric_<name>` customer metadata. `strict` (release verification) raises DeployError
    instead: metadata any identity below the prod gate may write is no evidence.
    """
    uri = value.quality_report_uri
    request = pinned_report_request(value)
    if request is not None:
        pinned = request.get("VersionId", "current")
        try:
            body = clients("s3").get_object(**request)["Body"].read()
            metrics = metrics_from_report(json.loads(body))
            if metrics:
                return value.with_metrics(metrics)
            problem = "it holds no metrics"
        except (ClientError, ValueError) as exc:
            problem = str(exc)
        if strict:
            raise DeployError(f"cannot read the model quality report {uri} (version {pinned}): {problem}")
        log(f"warning: could not read the model quality report {uri}: {problem}")
    elif strict:
        raise DeployError(f"model package {value.arn} registered no model quality report")
    return value.with_metrics(metrics_from_metadata(value.metadata))


def check_deployable(cfg: Config, env: str, value: ModelVersion) -> ModelVersion:
    """Check that the version may be deployed to `env`; return it unchanged.

    Every environment needs a Completed version of the group it deploys from
    (`Environment.group_kind`: qa from dev, prod from prod) in the shared-services registry
    account and region, checked on the ARN and again on the description. Prod
    (`Environment.approved_only`) also needs ModelApprovalStatus Approved; QA takes any
    approval status, because the dev push deploys the version it has just registered
    (PendingManualApproval). It raises DeployError with one line naming what is wrong.
    """
    environment = cfg.environment(env)
    kind = environment.group_kind
    if value.kind != kind:
        reference(cfg, value.arn, kind)
    arn, group = value.arn, environment.group
    if value.described_group != group:
        raise DeployError(
            f"model package {arn} belongs to group {value.described_group or '(none)'}, "
            f"expected the {kind} group {group}"
        )
    if value.status != "Completed":
        raise DeployError(
            f"model package {arn} is {value.status or None}, not Completed; it cannot be deployed"
        )
    if environment.approved_only and value.approval != "Approved":
        raise DeployError(
            f"model package {arn} is {value.approval or None}; {env} deploys only Approved versions "
            f"of {group} in the shared-services registry {cfg.account_id('shared_services')}"
        )
    return value
