"""Shared by the pipeline CLI tests (test_pipeline_cli.py, test_pipeline_start.py): the project
config they run with, the CI run they pretend to be, and small runners."""

from __future__ import annotations

import importlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from deploy_helpers import Recorder, create_bucket, make_raw, new_session
from model_helpers import PACKAGE, config
from model_helpers import ROOT as REPO

cli = importlib.import_module(f"{PACKAGE}.pipeline.cli")
names = importlib.import_module(f"{PACKAGE}.pipeline.names")

# The baked config with the artifact key's ARN set (the jobs of a multi-account layout need it).
RAW = make_raw("baked")
RAW["registry"]["kms_key_arn"] = (
    f"arn:aws:kms:{RAW['aws']['region']}:{RAW['aws']['accounts']['shared_services']}:key/1234abcd-12ab"
)
CFG = config.parse(RAW)
REGION = CFG.region
GIT_SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER_SHA = "fedcba9876543210fedcba9876543210fedcba98"
BRANCH = f"{CFG.branches.feature_prefix}better-model"
FEATURE = names.pipeline_name(CFG, "feature", BRANCH)
FEATURE_ROLE = CFG.role_arn("data_science", "sagemaker_feature")
DEV_ROLE = CFG.role_arn("data_science", "sagemaker_pipeline")
CI_RUN = {"GITHUB_REPOSITORY": "octo/models", "GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "1"}
GITHUB_CONTEXT = ("GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", *CI_RUN)


def use_project(configure: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """RAW as the project's config; no GitHub Actions context (a test sets one when it wants it)."""
    configure(RAW)
    for name in GITHUB_CONTEXT:
        monkeypatch.delenv(name, raising=False)


@contextmanager
def account_with_input() -> Iterator[boto3.Session]:
    """moto with the artifact bucket and the sample data at the configured input URI."""
    with mock_aws():
        session = new_session(region_name=REGION)
        bucket, key = cli.s3_parts(CFG.pipeline.input_data_uri)
        s3 = session.client("s3")
        create_bucket(s3, CFG.names.artifact_bucket, REGION)
        if bucket != CFG.names.artifact_bucket:
            create_bucket(s3, bucket, REGION)
        s3.put_object(Bucket=bucket, Key=key, Body=(REPO / "data" / "sample.csv").read_bytes())
        yield session


def command(session, client, *args: str) -> tuple[int, dict[str, str]]:
    """Run the CLI; (exit status, its key=value output lines)."""
    out = io.StringIO()
    code = cli.main(list(args), boto_session=session, sagemaker_client=client, out=out)
    return code, dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)


def register_metadata(definition: str) -> dict:
    gate = next(step for step in json.loads(definition)["Steps"] if step["Name"] == "MetricGate")
    [register] = gate["Arguments"]["IfSteps"]
    return register["Arguments"]["CustomerMetadataProperties"]


def start_args(version: str = "1") -> list[str]:
    return ["start", "--branch", BRANCH, "--git-sha", GIT_SHA, "--pipeline-version-id", version]


def refused_before_any_call(args: list[str], capsys) -> str:
    """Run the CLI with every AWS call recorded and SageMaker stubbed with nothing queued;
    assert exit 2, no call and no output; return the error line."""
    recorder = Recorder()
    session = recorder.attach(
        boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    )
    client = recorder.attach(session.client("sagemaker"))
    with Stubber(client):
        code = cli.main(args, boto_session=session, sagemaker_client=client, out=io.StringIO())
    captured = capsys.readouterr()
    assert (code, captured.out, recorder.calls) == (2, "", [])
    return captured.err
