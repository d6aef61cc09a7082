"""Pipeline starts are pinned and idempotent, offline.

`upsert` stores a version and prints its PipelineVersionId; `start` and `run` start exactly that
version, with a ClientRequestToken from the CI run, on the branch's own feature pipeline (or the
dev pipeline). SageMaker Pipelines is pipeline_fakes.PipelineService (moto keeps no versions or
tokens); moto holds the artifact bucket and the input data. What would change the gate, the
approval status or the artifact key is refused before any AWS call.
"""

from __future__ import annotations

import importlib
import json

import pytest

from deploy_helpers import make_raw
from model_helpers import PACKAGE
from pipeline_fakes import PipelineService
from pipeline_helpers import (
    BRANCH,
    CFG,
    CI_RUN,
    DEV_ROLE,
    FEATURE,
    FEATURE_ROLE,
    GIT_SHA,
    OTHER_SHA,
    account_with_input,
    cli,
    command,
    names,
    refused_before_any_call,
    register_metadata,
    start_args,
    use_project,
)

# upsert builds the pipeline with the SageMaker SDK: one xdist worker imports it
# (with `--dist loadgroup`; without it the mark does nothing).
pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

context = importlib.import_module(f"{PACKAGE}.pipeline.context")


@pytest.fixture(autouse=True)
def project(configure, monkeypatch):
    use_project(configure, monkeypatch)


@pytest.fixture
def moto_account(aws_env):
    with account_with_input() as session:
        yield session


@pytest.fixture
def pipelines(moto_account):
    """(SageMaker client answered by a PipelineService, the service)."""
    service = PipelineService()
    return service.attach(moto_account.client("sagemaker")), service


def test_cli_upsert_then_start_runs_the_version_it_stored(moto_account, pipelines):
    client, service = pipelines
    dev = CFG.names.pipelines["dev"]
    args = ["--kind", "dev", "--branch", CFG.branches.dev]
    code, first = command(moto_account, client, "upsert", *args, "--git-sha", GIT_SHA)
    assert code == 0
    assert first == {"pipeline_arn": service.arn(dev), "pipeline_version_id": "2"}
    # A later upsert (another push) stores version 3; starting version 2 still runs version 2.
    code, second = command(moto_account, client, "upsert", *args, "--git-sha", OTHER_SHA)
    assert (code, second["pipeline_version_id"]) == (0, "3")
    code, started = command(
        moto_account, client, "start", *args, "--git-sha", GIT_SHA, "--pipeline-version-id", "2"
    )
    assert code == 0
    execution_arn = started["execution_arn"]
    assert execution_arn.startswith(f"{service.arn(dev)}/execution/")
    assert service.operations == [
        "CreatePipeline",  # new: version 1
        "UpdatePipeline",  # version 2, whose ID the start names
        "CreatePipeline",  # refused: it exists
        "UpdatePipeline",  # version 3
        "StartPipelineExecution",
    ]
    for operation, request in service.calls[:4]:
        assert (request["PipelineName"], request["RoleArn"]) == (dev, DEV_ROLE), operation
    start = service.calls[-1][1]
    assert (start["PipelineName"], start["PipelineVersionId"]) == (dev, 2)
    assert start["PipelineExecutionDescription"] == f"git {GIT_SHA} on {CFG.branches.dev}"
    stored = client.describe_pipeline_definition_for_execution(PipelineExecutionArn=execution_arn)
    assert register_metadata(stored["PipelineDefinition"])["git_sha"] == GIT_SHA
    params = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution_arn)
    values = {p["Name"]: p["Value"] for p in params["PipelineParameters"]}
    bucket, key = cli.s3_parts(CFG.pipeline.input_data_uri)
    etag = moto_account.client("s3").head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    assert values == {"InputDataUri": CFG.pipeline.input_data_uri, "InputDataVersion": f"etag:{etag}"}
    names_ = [s["Name"] for s in json.loads(stored["PipelineDefinition"])["Steps"]]
    assert names_[:3] == ["Preprocess", "Train", "Evaluate"] and names_[-1] == "MetricGate"


def test_two_feature_branches_running_at_once_each_execute_their_own_version(moto_account, pipelines):
    """upsert A, upsert B, start A, start B: each start names its branch's pipeline and the
    version its own upsert stored, and each execution runs that branch's definition."""
    client, service = pipelines
    prefix = CFG.branches.feature_prefix
    runs = {"a": (f"{prefix}alpha", GIT_SHA), "b": (f"{prefix}beta", OTHER_SHA)}
    upserted = {}
    for run, (branch, sha) in runs.items():
        code, lines = command(moto_account, client, "upsert", "--branch", branch, "--git-sha", sha)
        assert code == 0
        upserted[run] = lines
    started = {}
    for run, (branch, sha) in runs.items():
        version = upserted[run]["pipeline_version_id"]
        code, lines = command(
            moto_account,
            client,
            "start",
            "--branch",
            branch,
            "--git-sha",
            sha,
            "--pipeline-version-id",
            version,
        )
        assert code == 0
        started[run] = lines["execution_arn"]
    assert service.operations == [*["CreatePipeline", "UpdatePipeline"] * 2, *["StartPipelineExecution"] * 2]
    starts = [request for operation, request in service.calls if operation == "StartPipelineExecution"]
    for run, (branch, sha) in runs.items():  # each execution runs its own branch's definition
        metadata = register_metadata(service.executions[started[run]]["definition"])
        assert (metadata["branch"], metadata["git_sha"]) == (branch, sha)
    for (run, (branch, _)), start in zip(runs.items(), starts, strict=True):
        name = names.pipeline_name(CFG, "feature", branch)
        assert upserted[run]["pipeline_arn"] == service.arn(name)
        assert start["PipelineName"] == service.executions[started[run]]["pipeline"] == name
        assert start["PipelineVersionId"] == int(upserted[run]["pipeline_version_id"])
    assert upserted["a"]["pipeline_arn"] != upserted["b"]["pipeline_arn"]
    upserts = [request for operation, request in service.calls if operation != "StartPipelineExecution"]
    assert {request["RoleArn"] for request in upserts} == {FEATURE_ROLE}


def test_a_repeated_start_in_the_same_run_attempt_starts_one_execution(moto_account, pipelines, monkeypatch):
    client, service = pipelines
    service.versions[FEATURE] = ["{}"]  # an upserted pipeline (start builds nothing)
    for name, value in CI_RUN.items():
        monkeypatch.setenv(name, value)
    first = command(moto_account, client, *start_args())
    again = command(moto_account, client, *start_args())
    assert first == again and first[0] == 0
    assert len(service.executions) == 1
    expected = names.start_token("octo/models", GIT_SHA, "9876543210", "1", FEATURE)
    tokens = [request["ClientRequestToken"] for _, request in service.calls]
    assert tokens == [expected, expected]
    # A re-run of the job is a new attempt: a new token, a new execution.
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    rerun = command(moto_account, client, *start_args())
    assert rerun[0] == 0 and rerun[1] != first[1]
    assert len(service.executions) == 2
    # The options name the same parts as the environment.
    for name in CI_RUN:
        monkeypatch.delenv(name)
    options = ["--repository", "octo/models", "--run-id", "9876543210", "--run-attempt", "1"]
    assert command(moto_account, client, *start_args(), *options) == first


def test_outside_a_ci_run_every_start_is_a_new_execution(moto_account, pipelines):
    client, service = pipelines
    service.versions[FEATURE] = ["{}"]
    first = command(moto_account, client, *start_args())
    second = command(moto_account, client, *start_args())
    assert first[0] == second[0] == 0
    assert first[1] != second[1] and len(service.executions) == 2


def test_start_names_the_version_to_start(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["start", "--branch", BRANCH])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --pipeline-version-id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["start", "--branch", BRANCH, "--pipeline-version-id", "0"])
    assert "'0' is not a pipeline version ID" in capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["upsert", "run", "definition"])
def test_jobs_across_accounts_without_the_key_arn_are_refused_before_any_call(subcommand, configure, capsys):
    raw = make_raw("four")
    raw["registry"]["kms_key_arn"] = ""
    configure(raw)
    err = refused_before_any_call([subcommand, "--kind", "dev", "--branch", CFG.branches.dev], capsys)
    assert err.startswith(
        "error: registry.kms_key_arn is empty, but the pipeline's jobs run in the data-science"
    )
    assert "not the alias" in err and err.count("\n") == 1


def test_a_feature_run_without_a_branch_is_refused_before_any_call(monkeypatch, capsys):
    monkeypatch.setattr(context, "git_value", lambda env_names, git_args: "HEAD")  # a detached checkout
    err = refused_before_any_call(["run", "--git-sha", GIT_SHA], capsys)
    assert err == (
        "error: cannot tell the branch (no GITHUB_HEAD_REF / GITHUB_REF_NAME, git says 'HEAD'); "
        "feature pipelines are one per branch: pass --branch NAME (make: BRANCH=NAME)\n"
    )
