"""Run the inference modes beyond a real-time endpoint with act, offline: an asynchronous QA
endpoint deployed and tested by dev.yml, and a Batch Transform run of prod's released version
by batch.yml, with what it refuses.

One baked repository (the custom answer set) against one moto server, bootstrapped as in
test_workflows_act.py (`bootstrapped_world`, the fake GitHub API with the environments applied).
The emulator (tests/act/aws_emulator.py) answers InvokeEndpointAsync through the deployed model
and writes the answer object, and runs a transform job line by line through the job's model.

1. dev.yml, push to the dev branch with `environments.qa.endpoint.type` "async" -> an async QA
   endpoint (AsyncInferenceConfig with the QA capture bucket's output and failure prefixes), the
   endpoint tests go through InvokeEndpointAsync and the answer objects, the lock is committed.
2. release.yml then batch.yml (workflow_dispatch, env prod) on the prod branch -> with the prod
   batch identity alone, a transform job of the model the prod endpoint serves, built from the
   released prod version; every input file has its joined .out file, checked, and the job
   summary says so.
3. batch.yml for prod after the prod artifact was overwritten -> refused before any mutating call.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "act"))

from test_workflows_act import assert_success, bootstrapped_world, github_settings, roles_assumed

from harness import git, push_event

pytestmark = [pytest.mark.slow]

RUN_DATE = "2026-03-02"


def async_qa(raw: dict[str, Any]) -> None:
    """QA as an asynchronous endpoint with one instance always up, loose latency thresholds (the
    tests measure upload, answer and polling) and a short burst."""
    endpoint = raw["environments"]["qa"]["endpoint"]
    endpoint.update(
        {
            "type": "async",
            "instance_count": 1,
            "autoscaling": {**endpoint["autoscaling"], "enabled": False},
            "traffic_shifting": {**endpoint["traffic_shifting"], "type": "ALL_AT_ONCE", "wait_seconds": 0},
            "async": {"min_capacity": 1, "max_capacity": 2, "invocation_timeout_seconds": 60},
        }
    )
    endpoint.pop("serverless", None)
    raw["environments"]["qa"]["tests"].update({"burst_requests": 5, "max_p50_ms": 30000, "max_p95_ms": 60000})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    settings: dict[str, Any] = {}

    def apply_github_settings(baked: Path, cfg: Any) -> None:
        settings["github"], settings["url"] = github_settings(baked, cfg, "act-fake-token")

    with bootstrapped_world(tmp_path_factory.mktemp("act-inference"), apply_github_settings) as world:
        world.github = settings["github"]
        world.job_env = {"GITHUB_API_URL": settings["url"]}
        # The workload stacks' capture buckets (infra/workload.yaml), where async requests and
        # answers and the batch inputs and outputs live.
        for env in ("qa", "prod"):
            environment = world.cfg.environment(env)
            world.aws.client("s3", environment.account).create_bucket(
                Bucket=environment.capture_bucket, CreateBucketConfiguration={"LocationConstraint": world.cfg.region}
            )
        yield world
    settings["github"].stop()


def test_dev_push_deploys_an_async_qa_endpoint_tests_it_through_invoke_async_and_locks(world):
    config_file = world.repo.path / "config" / "project.json"
    raw = json.loads(config_file.read_text())
    async_qa(raw)
    config_file.write_text(json.dumps(raw, indent=2) + "\n")
    sha = world.repo.commit_all("QA serves asynchronously")
    world.repo.push(world.dev_branch)

    result = world.run("dev-push-async", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))

    assert_success(result, "build", "deploy-qa", "record-lock")
    qa = world.sagemaker("qa")
    environment = world.cfg.environment("qa")
    endpoint = qa.describe_endpoint(EndpointName=environment.endpoint_name)
    config = qa.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    bucket = environment.capture_bucket
    assert output["S3OutputPath"] == f"s3://{bucket}/{world.cfg.names.async_prefixes['qa']['output']}"
    assert output["S3FailurePath"] == f"s3://{bucket}/{world.cfg.names.async_prefixes['qa']['failure']}"
    assert output["KmsKeyId"] == environment.capture_key_arn
    # The endpoint tests went through InvokeEndpointAsync: requests put under the QA input
    # prefix, every one answered with an object under the output prefix (none failed).
    calls = world.aws.async_log
    assert len(calls) >= 5 and {c["endpoint"] for c in calls} == {environment.endpoint_name}
    input_prefix = f"s3://{bucket}/{world.cfg.names.async_prefixes['qa']['input']}"
    assert all(c["input"].startswith(input_prefix) for c in calls)
    assert {c["status"] for c in calls} <= {200, 400}  # the suite's bad-input checks answer 400
    assert any(c["status"] == 200 and c["written"].startswith(output["S3OutputPath"]) for c in calls)
    [package] = world.packages("dev")
    assert package["CustomerMetadataProperties"]["qa_result"] == "passed"
    lock = json.loads(world.repo.remote_file(world.dev_branch, world.cfg.lock_file))
    assert (lock["model_package_arn"], lock["git_sha"], lock["qa_test"]["passed"]) == (
        package["ModelPackageArn"],
        sha,
        True,
    )
    assert "p95" in result.summaries()


def release(world) -> dict:
    """release.yml on the prod branch with the locked version (as test_workflows_act.py plays it)."""
    git(world.repo.path, "fetch", "--quiet", "origin", world.dev_branch)
    git(world.repo.path, "checkout", "--quiet", "-B", world.prod_branch, f"origin/{world.prod_branch}")
    git(world.repo.path, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #42 from dev", "FETCH_HEAD")
    sha = world.head()
    world.repo.push(world.prod_branch)
    world.merged_pr("42")
    result = world.run(
        "prod-push-for-batch", "release.yml", "push", push_event(world.repo, world.prod_branch, sha), actor="ml-lead"
    )
    assert_success(result, "release")
    [promoted] = world.packages("prod")
    return promoted


def dispatch(world, inputs: dict[str, str]) -> dict:
    owner, name = world.repo.slug.split("/")
    return {
        "ref": f"refs/heads/{world.prod_branch}",
        "inputs": inputs,
        "repository": {"full_name": world.repo.slug, "name": name, "owner": {"login": owner}},
        "sender": {"login": "ml-lead"},
    }


def put_inputs(world) -> tuple[str, dict[str, list[str]]]:
    """Two CSV files (feature columns, no header) under a dated folder of prod's input prefix."""
    environment = world.cfg.environment("prod")
    rows = (world.repo.path / "data" / "sample.csv").read_text().splitlines()[1:]
    features = [",".join(row.split(",")[:-1]) for row in rows if row.strip()]
    files = {"part-a.csv": features[:7], "part-b.csv": features[7:12]}
    prefix = f"{world.cfg.names.batch_input_prefixes['prod']}{RUN_DATE}/"
    s3 = world.aws.client("s3", environment.account)
    for name, lines in files.items():
        s3.put_object(Bucket=environment.capture_bucket, Key=prefix + name, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{environment.capture_bucket}/{prefix}", files


def test_batch_dispatch_runs_the_released_prod_version_over_the_input_and_checks_the_outputs(world):
    promoted = release(world)
    input_uri, files = put_inputs(world)
    prod = world.sagemaker("prod")
    name = world.cfg.environment("prod").endpoint_name
    endpoint = prod.describe_endpoint(EndpointName=name)
    served_model = prod.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])[
        "ProductionVariants"
    ][0]["ModelName"]
    models_before = sorted(m["ModelName"] for m in prod.list_models()["Models"])

    result = world.run(
        "batch-prod",
        "batch.yml",
        "workflow_dispatch",
        dispatch(world, {"env": "prod", "input_uri": input_uri, "date": RUN_DATE}),
    )

    assert_success(result, "plan", "batch-prod")
    assert result.job_results().get("batch-qa") != "success"  # the QA job was skipped
    # One transform job, of the model the prod endpoint serves (built from the released prod
    # version), over the dispatched prefix; no model was created for it.
    [run] = world.aws.transform_log
    assert (run["model"], run["input"], run["status"]) == (served_model, input_uri, "Completed")
    assert run["requests"] == len(files)  # MultiRecord: each small file is one mini-batch
    job = prod.describe_transform_job(TransformJobName=run["job"])
    assert job["ModelName"] == served_model and run["job"].startswith(f"{name}-b")
    model = prod.describe_model(ModelName=served_model)
    containers = model.get("Containers") or [model["PrimaryContainer"]]
    assert containers[0]["ModelPackageName"] == promoted["ModelPackageArn"]
    assert sorted(m["ModelName"] for m in prod.list_models()["Models"]) == models_before
    # Every input file has its .out: the input line joined with one prediction per line.
    environment = world.cfg.environment("prod")
    s3 = world.aws.client("s3", environment.account)
    output_uri = job["TransformOutput"]["S3OutputPath"]
    assert output_uri.startswith(f"s3://{environment.capture_bucket}/{world.cfg.names.batch_output_prefixes['prod']}")
    for file_name, lines in files.items():
        key = f"{output_uri.split('/', 3)[3].rstrip('/')}/{file_name}.out"
        out = s3.get_object(Bucket=environment.capture_bucket, Key=key)["Body"].read().decode().splitlines()
        assert [line[: len(source)] for line, source in zip(out, lines, strict=True)] == lines
    # The job summary: both files, every row, the check passed.
    summary = result.summaries("batch-prod")
    assert f"Batch {run['job']} (prod, {RUN_DATE})" in summary
    assert f"| 2 | {sum(len(v) for v in files.values())} |" in summary and "passed" in summary
    # The prod batch identity alone: no deploy or registry role.
    assert roles_assumed(result) == [("batch-prod", world.role("prod", "github_batch_prod"))]


def test_batch_refuses_a_prod_artifact_that_is_not_the_released_copy_before_any_change(world):
    [promoted] = world.packages("prod")
    bucket, key = promoted["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][len("s3://") :].split("/", 1)
    s3 = world.aws.client("s3", world.accounts["shared_services"])
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=original + b"tampered")
    runs_before = list(world.aws.transform_log)
    prod = world.sagemaker("prod")
    models_before = sorted(m["ModelName"] for m in prod.list_models()["Models"])
    try:
        result = world.run(
            "batch-prod-tampered",
            "batch.yml",
            "workflow_dispatch",
            dispatch(world, {"env": "prod", "input_uri": "", "date": "2026-03-03"}),
        )
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)

    assert result.returncode != 0
    assert result.job_results().get("batch-prod") == "failure"
    assert "not the promoted copy" in result.output and "refusing" in result.output
    assert world.aws.transform_log == runs_before  # no job created
    assert sorted(m["ModelName"] for m in prod.list_models()["Models"]) == models_before
