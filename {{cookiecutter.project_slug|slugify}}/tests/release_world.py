"""A release world on moto: the shared-services account with its versioned artifact bucket, dev
versions whose model artifact is a real object under the dev prefix, the QA record and the lock.

Tests drive the same functions the workflows run (`registry digest`, `record-qa`, `lock write`,
`lock check`, approve, promote, deploy's artifact check) and attack the seams between them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from deploy_helpers import INFERENCE_SPEC, NOW, Accounts, Recorder, create_bucket, create_groups, module

aws = module("deploy.aws")
images = module("access.images")
evidence = module("promotion.evidence")
lifecycle = module("promotion.lifecycle")
lockfile = module("promotion.lockfile")
promote = module("promotion.promote")
release = module("promotion.release")
version = module("promotion.version")

GOOD_MODEL = b"model bytes QA tested"
GIT_SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class World:
    cfg: Any
    accounts: Accounts
    recorder: Recorder
    shared: Any = None
    runs: int = 0
    objects: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shared = self.accounts.session("shared_services")
        self.clients = aws.Clients(self.shared, self.cfg.region)
        self.s3 = self.shared.client("s3")
        self.bucket = self.cfg.names.artifact_bucket
        create_bucket(self.s3, self.bucket, self.cfg.region)
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        create_groups(self.shared, self.cfg)

    def put(self, key: str, body: bytes) -> str:
        """Write an object; return its S3 version id."""
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)["VersionId"]

    def read(self, uri: str) -> bytes:
        bucket, key = evidence.split_uri(uri)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def register(
        self,
        metrics: dict[str, float] | None = None,
        body: bytes = GOOD_MODEL,
        git_sha: str = GIT_SHA,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """A dev version as the dev pipeline registers it: artifact and evaluation report under
        the dev prefix, PendingManualApproval, git_sha/branch metadata."""
        self.runs += 1
        prefix = f"{self.cfg.names.artifact_prefixes['dev']}run-{self.runs}"
        self.put(f"{prefix}/train/model.tar.gz", body)
        report = {
            "binary_classification_metrics": {
                name: {"value": value, "standard_deviation": "NaN"}
                for name, value in (metrics or {"auc": 0.97, "accuracy": 0.93}).items()
            }
        }
        self.put(f"{prefix}/evaluate/evaluation.json", json.dumps(report).encode())
        spec = copy.deepcopy(INFERENCE_SPEC)
        spec["Containers"][0]["ModelDataUrl"] = f"s3://{self.bucket}/{prefix}/train/model.tar.gz"
        spec["Containers"][0]["Environment"] = evidence.serving_environment(self.cfg)
        # The framework image of the config's region (the image account differs per region).
        account = images.image_account(self.cfg.region)
        spec["Containers"][0]["Image"] = (
            f"{account}.dkr.ecr.{self.cfg.region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
        )
        return self.shared.client("sagemaker").create_model_package(
            ModelPackageGroupName=self.cfg.group("dev"),
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification=spec,
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{self.bucket}/{prefix}/evaluate/evaluation.json",
                    }
                }
            },
            CustomerMetadataProperties={"git_sha": git_sha, "branch": "dev", **(metadata or {})},
        )["ModelPackageArn"]

    def qa(self, arn: str, passed: bool = True) -> Any:
        """What the dev workflow's QA job does: digest the artifact, then record the result."""
        value = version.resolve(self.cfg, self.clients, arn, "dev")
        artifact = evidence.digest(self.clients, evidence.model_artifact_uri(value))
        evidence.record_qa(self.cfg, self.clients, arn, passed, artifact, "1/1 checks passed")
        return artifact

    def lock(self, arn: str) -> dict[str, Any]:
        """`lock write`: the lock from the registry's evidence."""
        value = version.read_metrics(self.clients, version.resolve(self.cfg, self.clients, arn, "dev"))
        report = {"passed": True, "checks": [{"name": "ping", "passed": True}]}
        return lockfile.lock_for(self.cfg, value, report, now=NOW)

    def approve(self, arn: str, pr: str = "7") -> Any:
        return lifecycle.approve(self.cfg, self.clients, arn, pr, "c" * 40, "octocat")

    def describe(self, arn: str) -> dict[str, Any]:
        return self.shared.client("sagemaker").describe_model_package(ModelPackageName=arn)

    def pull_request(
        self, head: str | None = None, base: str | None = None, head_repository: str = "o/r"
    ) -> Any:
        branches = self.cfg.branches
        return release.PullRequest("7", head or branches.dev, base or branches.prod, head_repository, "o/r")

    def release(self, arn: str) -> str:
        """The release job up to deploy: verify, approve, promote; return the prod ARN."""
        lock = self.lock(arn)
        release.verify_release(self.cfg, self.clients, lock, self.pull_request())
        self.approve(arn)
        prod_arn, _ = promote.promote(self.cfg, self.clients, arn, lock["artifact"]["sha256"])
        return prod_arn

    def update(self, arn: str, **fields: Any) -> None:
        """A direct UpdateModelPackage (what an identity that may update versions can send);
        metadata and approval are kept unless given (moto clears what a request leaves out)."""
        current = self.describe(arn)
        self.shared.client("sagemaker").update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus=fields.pop("ModelApprovalStatus", current["ModelApprovalStatus"]),
            CustomerMetadataProperties=fields.pop(
                "CustomerMetadataProperties", current.get("CustomerMetadataProperties", {})
            ),
            **fields,
        )


def released_prod_version(accounts: Accounts, cfg: Any) -> str:
    """A prod version as a release leaves it (QA-verified dev version, approved, promoted onto
    its prod copy) and the lock naming its source written next to the config; its ARN."""
    world = World(cfg, accounts, Recorder())
    dev = world.register()
    world.qa(dev)
    prod = world.release(dev)
    lockfile.write_lock(lockfile.lock_path(cfg), world.lock(dev))
    return prod


def tamper_containers(world: World, arn: str, **changes: Any) -> None:
    """Change a version's containers in place, as UpdateModelPackage(InferenceSpecification=...)
    does on SageMaker (moto 5.2.5 does not implement that field, so its backend is edited)."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[world.cfg.account_id("shared_services")][world.cfg.region]
    package = backend.model_packages[backend.model_package_name_mapping.get(arn, arn)]
    for container in package.inference_specification["Containers"]:
        container.update(changes)
