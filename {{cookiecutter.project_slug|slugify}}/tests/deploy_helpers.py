"""Shared by the promotion, lock file, deploy, rollback and CLI tests (and imported by others).

Fixtures built on these live in conftest.py.

- Config variants of the rendered config/project.json: the baked accounts, four distinct
  accounts, or one account for everything. `make_raw` gives the JSON document (to mutate or
  write), `make_config` the parsed `Config` the code under test takes.
- Simulated accounts under moto: `Accounts.session(role)` assumes a role in that account;
  moto 5 keys its state by the account of the assumed-role credentials, so each session sees
  only its own account's resources, as real cross-account credentials would.
- `Recorder` (every AWS operation, parameters checked against botocore's service model) and
  `stubbed(...)` (real clients behind Stubbers, for what moto lacks and for failures) come
  from recording.py; `stubbed_as(cfg, role, ...)` adds GetCallerIdentity for role's account.
- `package_description` / `model_version` / `plan_for`: a DescribeModelPackage answer, the
  `ModelVersion` resolved from it and the plan built from that.

Cross-account reads: moto 5.2.5 does not model resource policies, so a QA or prod session
cannot describe a package that lives in the shared-services account. Tests that deploy in
four accounts pass the shared-services session as `registry_session`, standing in for the
group's resource policy that lets the workload account describe the package on AWS.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

# Re-exported: the tests import these from here.
from base_config import BASE
from base_config import REAL_TIME_PROD as REAL_TIME_PROD
from recording import READ_PREFIXES as READ_PREFIXES
from recording import Recorder as Recorder
from recording import StubSession as StubSession
from recording import assert_done as assert_done
from recording import new_session as new_session
from recording import not_found as not_found
from recording import stubbed_in

ROOT = Path(__file__).resolve().parents[1]
# The rendered config/project.json as plain JSON, as the suite's base (base_config.py; never
# mutate it: make_raw copies it).
CONFIG = BASE
PACKAGE = CONFIG["project"]["package"]
REGION = CONFIG["aws"]["region"]
config = importlib.import_module(f"{PACKAGE}.config")
Config = config.Config
SAMPLE_CSV = ROOT / "data" / "sample.csv"
FOUR_ACCOUNTS = {
    "data_science": "111111111111",
    "shared_services": "222222222222",
    "qa": "333333333333",
    "prod": "444444444444",
}
LAYOUTS = ("baked", "four", "single")
NOW = dt.datetime(2025, 1, 31, 12, 0, tzinfo=dt.UTC)


def module(name: str) -> ModuleType:
    """A module of the package under test, e.g. module("promotion.version")."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def make_raw(layout: str = "baked", **endpoint_overrides: dict[str, Any]) -> dict[str, Any]:
    """The rendered config document (a fresh copy) with the accounts of `layout`; keyword
    arguments (qa=..., prod=...) update that environment's `endpoint` settings."""
    raw = copy.deepcopy(CONFIG)
    if layout == "four":
        raw["aws"]["accounts"] = dict(FOUR_ACCOUNTS)
    elif layout == "single":
        raw["aws"]["accounts"] = dict.fromkeys(FOUR_ACCOUNTS, "555555555555")
    elif layout != "baked":
        raise ValueError(layout)
    for env, overrides in endpoint_overrides.items():
        raw["environments"][env]["endpoint"].update(overrides)
    return raw


# The document each Config from make_config was parsed from, so write_config can write it back.
_RAW_OF: dict[int, tuple[Config, dict[str, Any]]] = {}


def make_config(layout: str = "baked", **endpoint_overrides: dict[str, Any]) -> Config:
    """`config.parse(make_raw(layout, **endpoint_overrides))`: the Config the code takes."""
    raw = make_raw(layout, **endpoint_overrides)
    cfg = config.parse(raw)
    _RAW_OF[id(cfg)] = (cfg, copy.deepcopy(raw))
    return cfg


def write_config(cfg: Config | dict[str, Any], root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write a raw config document, or a Config from make_config (as the document it was parsed
    from), as <root>/config/project.json and point MLOPS_CONFIG at it."""
    if isinstance(cfg, Config):
        kept = _RAW_OF.get(id(cfg))
        if kept is None or kept[0] is not cfg:
            raise TypeError("write_config takes a raw dict or a Config made by make_config")
        cfg = kept[1]
    path = root / "config" / "project.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg, indent=2))
    monkeypatch.setenv("MLOPS_CONFIG", str(path))
    return path


def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the region (use from an autouse fixture); nothing can reach AWS."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "GITHUB_OUTPUT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


class Accounts:
    """Sessions for simulated accounts inside one mock_aws() context."""

    def __init__(self, cfg: Config, recorder: Recorder | None = None) -> None:
        self.cfg = cfg
        self.recorder = recorder
        self._sts = new_session(region_name=REGION).client("sts")

    def session_for_account(self, account: str, role: str = "github-role") -> boto3.Session:
        credentials = self._sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="pytest"
        )["Credentials"]
        session = new_session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        if self.recorder:
            self.recorder.attach(session)
        return session

    def session(self, role: str) -> boto3.Session:
        """Credentials of the account playing `role` (data_science, shared_services, qa, prod)."""
        return self.session_for_account(self.cfg.account_id(role))


def stubbed(*services: str, recorder: Recorder | None = None) -> tuple[StubSession, dict[str, Stubber]]:
    """Real clients in the baked region (fake credentials, never sent) behind activated Stubbers."""
    return stubbed_in(REGION, *services, recorder=recorder)


def stubbed_as(
    cfg: Config, role: str, *services: str, recorder: Recorder | None = None
) -> tuple[StubSession, dict[str, Stubber]]:
    """`stubbed("sts", *services)` with GetCallerIdentity answering the account of `role`."""
    session, stubs = stubbed("sts", *services, recorder=recorder)
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": cfg.account_id(role), "Arn": "arn:aws:sts::1:assumed-role/x/y", "UserId": "x"},
    )
    return session, stubs


def endpoint_response(
    cfg: Config, env: str, config_name: str, status: str = "InService", reason: str | None = None
) -> dict[str, Any]:
    """A DescribeEndpoint answer for the environment's endpoint in its account."""
    name = cfg.environment(env).endpoint_name
    account = cfg.environment(env).account
    response = {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{name}",
        "EndpointConfigName": config_name,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }
    if reason:
        response["FailureReason"] = reason
    return response


def package_arn(cfg: Config, kind: str, version: int) -> str:
    return cfg.packages_arn(kind).removesuffix("*") + str(version)


INFERENCE_SPEC = {
    "Containers": [
        {
            "Image": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "ModelDataUrl": "s3://artifacts/models/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        }
    ],
    "SupportedContentTypes": ["text/csv", "application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def package_description(
    arn: str, approval: str = "Approved", group: str | None = None, status: str = "Completed"
) -> dict[str, Any]:
    """A DescribeModelPackage answer for `arn` (ModelPackageGroupName is the group in the ARN
    unless `group` says otherwise), with INFERENCE_SPEC as its containers."""
    arn_group, version = arn.rsplit("/", 2)[-2:]
    return {
        "ModelPackageName": arn_group,
        "ModelPackageGroupName": group or arn_group,
        "ModelPackageVersion": int(version),
        "ModelPackageArn": arn,
        "CreationTime": NOW,
        "InferenceSpecification": copy.deepcopy(INFERENCE_SPEC),
        "ModelPackageStatus": status,
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": approval,
    }


def model_version(arn: str, package: dict[str, Any]) -> Any:
    """The `promotion.version.ModelVersion` of a DescribeModelPackage answer (ARN parsed, not
    checked against a config: `endpoint.plan` checks it for the environment)."""
    version = module("promotion.version")
    return version.from_description(version.parse_package_arn(arn), package)


def plan_for(cfg: Config, env: str, arn: str, approval: str | None = None) -> Any:
    """endpoint.plan for a version described as `approval` (default: Approved for prod,
    PendingManualApproval for QA, what the release path deploys to each)."""
    approval = approval or ("Approved" if env == "prod" else "PendingManualApproval")
    return module("deploy.endpoint").plan(cfg, env, model_version(arn, package_description(arn, approval)))


def described_model(plan: Any) -> dict[str, Any]:
    """DescribeModel of the model `plan` creates, as SageMaker answers once it exists."""
    request = plan.model_request
    return {
        "ModelName": request["ModelName"],
        "ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/{request['ModelName']}",
        "ExecutionRoleArn": request["ExecutionRoleArn"],
        "Containers": copy.deepcopy(request["Containers"]),
        "EnableNetworkIsolation": True,
        "CreationTime": NOW,
    }


def create_bucket(s3: Any, name: str, region: str) -> None:
    """S3 wants the region named for every region but us-east-1."""
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **where)


def create_groups(session: boto3.Session, cfg: Config) -> None:
    """The feature, dev and prod groups, in the session's account (what ensure-groups creates)."""
    sm = session.client("sagemaker")
    existing = {
        g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    }
    for group in cfg.names.groups.values():
        if group not in existing:
            sm.create_model_package_group(ModelPackageGroupName=group)


def register_version(
    session: boto3.Session,
    cfg: Config,
    kind: str = "dev",
    git_sha: str = "0123456789abcdef0123456789abcdef01234567",
    metrics: dict[str, float] | None = None,
    status: str = "PendingManualApproval",
    metadata: dict[str, str] | None = None,
) -> str:
    """Register a version as the pipeline does: artifacts, evaluation report in S3, metadata
    (git_sha, branch, plus `metadata`; moto does not check the values, SageMaker does).

    Groups and the artifact bucket are created on first use (in the session's account).
    """
    sm = session.client("sagemaker")
    group = cfg.group(kind)
    create_groups(session, cfg)
    existing = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    s3 = session.client("s3")
    bucket = "evaluation-reports"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        create_bucket(s3, bucket, session.region_name or cfg.region)
    report_key = f"{git_sha[:8]}/{len(existing)}/evaluation.json"
    report = {
        "binary_classification_metrics": {
            name: {"value": value, "standard_deviation": "NaN"}
            for name, value in (metrics or {"auc": 0.97, "accuracy": 0.93}).items()
        }
    }
    s3.put_object(Bucket=bucket, Key=report_key, Body=json.dumps(report).encode())
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification=INFERENCE_SPEC,
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/{report_key}"}
            }
        },
        CustomerMetadataProperties={"git_sha": git_sha, "branch": "dev", **(metadata or {})},
    )["ModelPackageArn"]


def passing_report(endpoint: str = "qa-endpoint") -> dict[str, Any]:
    """The shape of the suite's SuiteReport.to_dict() for a run that passed."""
    return {
        "passed": True,
        "target": f"endpoint {endpoint}",
        "seconds": 1.5,
        "checks": [{"name": "ping", "passed": True, "detail": "healthy"}],
        "latency": {"requests": 50, "p50_ms": 12.0, "p95_ms": 30.0, "error_rate": 0.0, "seconds": 1.0},
        "thresholds": {},
    }
