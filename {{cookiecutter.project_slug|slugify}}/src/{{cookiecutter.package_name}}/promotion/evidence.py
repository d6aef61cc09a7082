"""Evidence that later steps re-check instead of trusting: the artifact's checksum and the QA result.

- `Artifact`: one S3 object version (URI, version id, sha256). `digest` reads the object (a
  given version, else the current one) and hashes its bytes; nothing trusts an ETag or a
  checksum someone else wrote.
- `record_qa`: the QA job writes its result on the dev version in the registry: `qa_result`
  (passed/failed), `qa_artifact_sha256` and `qa_artifact_version` (the object version the QA
  endpoint served) as customer metadata, and the life-cycle stage QA/Approved or QA/Rejected.
  A failed QA also sets ModelApprovalStatus Rejected, so the version can never be locked,
  approved or promoted. The QA identity's IAM policy denies setting Approved.
- `qa_evidence`: what a version's metadata says QA recorded (for lock write and release).
- `serving_problems` / `containers_digest`: the container definition is evidence too. A
  container may hold only an image of AWS's framework account, its model data URL and exactly
  `serving_environment(cfg)` (what the pipeline registers); no extra data sources or settings
  that would make an endpoint load code or data nothing hashed. QA records the digest of the
  containers it tested (`qa_containers_sha256`) and of the evaluation report it read
  (`qa_report_version`, `qa_report_sha256`), so later steps read pinned evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..access.images import is_framework_image
from ..config import Config
from ..deploy.aws import Clients, DeployError, error_message, log
from .metadata import check_customer_metadata, metadata_value
from .version import QA_REPORT_VERSION_KEY, ModelVersion, plain, resolve

QA_RESULT_KEY = "qa_result"
QA_SHA256_KEY = "qa_artifact_sha256"
QA_VERSION_KEY = "qa_artifact_version"
QA_SUMMARY_KEY = "qa_summary"
QA_RUN_KEY = "qa_run"
QA_CONTAINERS_KEY = "qa_containers_sha256"
QA_REPORT_SHA256_KEY = "qa_report_sha256"
# What a serving container may name besides its environment (CreateModel takes these over).
CONTAINER_KEYS = frozenset({"Image", "ModelDataUrl", "Environment"})
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Artifact:
    """One object version of a model artifact and the sha256 of its bytes."""

    uri: str
    version_id: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.uri, "version_id": self.version_id, "sha256": self.sha256}


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise DeployError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def digest(clients: Clients, uri: str, version_id: str | None = None) -> Artifact:
    """Read the object at `uri` (version `version_id`, else the current one) and hash it.

    It raises DeployError naming the object when it cannot be read.
    """
    bucket, key = split_uri(uri)
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        response = clients("s3").get_object(**request)
    except ClientError as exc:
        where = f"{uri} (version {version_id})" if version_id else uri
        raise DeployError(f"cannot read the model artifact {where}: {error_message(exc)}") from exc
    sha = hashlib.sha256()
    body = response["Body"]
    for chunk in iter(lambda: body.read(CHUNK), b""):
        sha.update(chunk)
    return Artifact(uri, str(response.get("VersionId") or version_id or ""), sha.hexdigest())


def model_artifact_uri(value: ModelVersion) -> str:
    """The one model artifact a version serves; DeployError when it has none or several."""
    urls = value.model_data_urls
    if len(urls) != 1:
        raise DeployError(
            f"model package {value.arn} has {len(urls)} model artifacts; expected exactly one ModelDataUrl"
        )
    return urls[0]


def serving_environment(cfg: Config) -> dict[str, str]:
    """The only container environment a model of this repository is registered and served with:
    the framework containers run code/inference.py from inside model.tar.gz (pipeline/steps.py
    registers exactly this)."""
    return {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": cfg.region,
    }


def serving_problems(cfg: Config, value: ModelVersion) -> list[str]:
    """Why the version's containers could serve something the checksums do not cover (empty: none)."""
    problems = []
    if value.description.get("AdditionalInferenceSpecifications"):
        problems.append("AdditionalInferenceSpecifications are not allowed")
    containers = value.containers()
    if len(containers) != 1:
        problems.append(f"{len(containers)} containers; expected exactly one")
    for container in containers:
        extra = sorted(set(container) - CONTAINER_KEYS)
        if extra:
            allowed = ", ".join(sorted(CONTAINER_KEYS))
            problems.append(f"container fields {', '.join(extra)} are not allowed (only {allowed})")
        image = str(container.get("Image", ""))
        if not is_framework_image(image, cfg.region):
            problems.append(f"image {image or 'none'} is not one of AWS's framework images for {cfg.region}")
        environment = container.get("Environment") or {}
        if environment != serving_environment(cfg):
            problems.append(f"container environment {environment} is not {serving_environment(cfg)}")
    return problems


def containers_digest(value: ModelVersion) -> str:
    """sha256 of the version's InferenceSpecification containers, as canonical JSON."""
    text = json.dumps(plain(value.containers()), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def report_digest(clients: Clients, value: ModelVersion) -> Artifact | None:
    """The evaluation report the version registered (ModelMetrics), hashed; None without one."""
    uri = value.quality_report_uri
    return digest(clients, uri) if uri and uri.startswith("s3://") else None


@dataclass(frozen=True)
class QaEvidence:
    result: str | None
    sha256: str | None
    version_id: str | None
    containers: str | None = None

    @property
    def passed(self) -> bool:
        return self.result == "passed"


def qa_evidence(metadata: Mapping[str, str]) -> QaEvidence:
    return QaEvidence(
        metadata.get(QA_RESULT_KEY),
        metadata.get(QA_SHA256_KEY),
        metadata.get(QA_VERSION_KEY),
        metadata.get(QA_CONTAINERS_KEY),
    )


def record_qa(
    cfg: Config,
    clients: Clients,
    arn: str,
    passed: bool,
    artifact: Artifact,
    summary: str = "",
    run: str = "",
) -> ModelVersion:
    """Record the QA result of the dev version `arn` on it; return the version as recorded.

    The artifact must be the one the version points at (same URI) and, for a pass, still be its
    current object version with the same bytes. A failed result also rejects the version. A
    version already Rejected or Approved is not changed (DeployError
    for Rejected; Approved versions keep their record). One UpdateModelPackage call.
    """
    version = resolve(cfg, clients, arn, "dev")
    uri = model_artifact_uri(version)
    if artifact.uri != uri:
        raise DeployError(f"the artifact {artifact.uri} is not the one {arn} serves ({uri})")
    if not SHA256.match(artifact.sha256):
        raise DeployError(f"artifact sha256 {artifact.sha256!r} is not 64 lowercase hex digits")
    if version.approval in ("Approved", "Rejected"):
        raise DeployError(f"model package {arn} is already {version.approval}; its QA record stays as it is")
    report = None
    if passed:
        problems = serving_problems(cfg, version)
        if problems:
            raise DeployError(f"{arn} cannot pass QA: " + "; ".join(problems))
        # The object must still be the one hashed before the QA deploy: a newer object version
        # means the endpoint may have loaded other bytes than the ones recorded.
        current = digest(clients, uri)
        if (current.version_id, current.sha256) != (artifact.version_id, artifact.sha256):
            raise DeployError(
                f"{uri} changed during QA (now version {current.version_id}, sha256 {current.sha256}; "
                f"hashed before the QA deploy: version {artifact.version_id}, sha256 {artifact.sha256}); "
                "not recording a pass"
            )
        report = report_digest(clients, version)
    result = "passed" if passed else "failed"
    metadata = {
        **version.metadata,
        QA_RESULT_KEY: result,
        QA_SHA256_KEY: artifact.sha256,
        QA_VERSION_KEY: artifact.version_id or "unversioned",
    }
    if passed:
        metadata[QA_CONTAINERS_KEY] = containers_digest(version)
        if report is not None:
            metadata[QA_REPORT_VERSION_KEY] = report.version_id or "unversioned"
            metadata[QA_REPORT_SHA256_KEY] = report.sha256
        # The drift baselines QA saw, pinned like the artifact: promotion copies these object
        # versions to prod only if their bytes still hash the same (promotion/baselines.py).
        from .baselines import qa_pins  # baselines builds on this module

        metadata.update(qa_pins(clients, version))
    if summary:
        metadata[QA_SUMMARY_KEY] = metadata_value(summary)
    if run:
        metadata[QA_RUN_KEY] = metadata_value(run)
    check_customer_metadata(metadata, f"recording the QA result of {arn}")
    request: dict[str, Any] = {
        "ModelPackageArn": arn,
        # Sent explicitly (never Approved: the QA identity may not approve).
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": metadata,
        "ModelLifeCycle": {
            "Stage": "QA",
            "StageStatus": "Approved" if passed else "Rejected",
            "StageDescription": f"QA endpoint {cfg.environment('qa').endpoint_name}: {result}",
        },
    }
    if not passed:
        request["ModelApprovalStatus"] = "Rejected"
        request["ApprovalDescription"] = f"QA endpoint tests failed: {summary}"[:1024]
    clients.sagemaker.update_model_package(**request)
    log(f"{arn}: QA {result} (artifact sha256 {artifact.sha256})")
    return resolve(cfg, clients, arn, "dev")


def load_artifact(data: Any, where: str) -> Artifact:
    """An Artifact from its dict form (`to_dict`), checked; DeployError names `where`."""
    if not isinstance(data, dict) or set(data) != {"uri", "version_id", "sha256"}:
        raise DeployError(f"{where}: expected an object with uri, version_id and sha256")
    if not all(isinstance(data[k], str) for k in data):
        raise DeployError(f"{where}: uri, version_id and sha256 must be text")
    if not data["uri"].startswith("s3://") or "/" not in data["uri"][5:]:
        raise DeployError(f"{where}: uri {data['uri']!r} is not an s3://bucket/key URI")
    if not SHA256.match(data["sha256"]):
        raise DeployError(f"{where}: sha256 {data['sha256']!r} is not 64 lowercase hex digits")
    return Artifact(data["uri"], data["version_id"], data["sha256"])


def load_set_artifacts(
    document: Any, versions: Mapping[str, ModelVersion], where: str
) -> dict[str, Artifact]:
    """{segment: Artifact} from the `registry digest` output of a set (`{"segments": {...}}`):
    exactly the segments of `versions` in their order, each the artifact its own version
    serves; DeployError names `where`, the segment and what was expected."""
    parts = document.get("segments") if isinstance(document, dict) else None
    if not isinstance(parts, dict) or list(parts) != list(versions):
        raise DeployError(
            f"{where}: expected the artifacts of segments {', '.join(versions)} "
            "(`registry digest` of the set)"
        )
    loaded = {}
    for segment, value in versions.items():
        artifact = load_artifact(parts[segment], f"{where}: segment {segment}")
        uri = model_artifact_uri(value)
        if artifact.uri != uri:
            raise DeployError(
                f"{where}: segment {segment}: {artifact.uri} is not the artifact {value.arn} serves ({uri})"
            )
        loaded[segment] = artifact
    return loaded
