"""From a laptop: `pipeline run --check-account` (make run), `pipeline status` (make status) and
`pipeline compare` (make compare), offline.

moto holds the artifact bucket, the input data and the evaluation reports; a botocore Stubber on
the SageMaker client gives the pipeline calls (moto can run no execution) and STS is stubbed to
name the caller's account. `compare` runs on a moto registry where a dev version was released to
prod the way the release workflow does it. Every refusal is shown to happen before any AWS call.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import UnauthorizedSSOTokenError
from botocore.stub import ANY, Stubber

from deploy_helpers import INFERENCE_SPEC, PACKAGE, Recorder, make_config, package_arn
from pipeline_helpers import (
    BRANCH,
    CFG,
    FEATURE,
    FEATURE_ROLE,
    GIT_SHA,
    REGION,
    account_with_input,
    cli,
    refused_before_any_call,
    use_project,
)
from release_world import World

laptop = importlib.import_module(f"{PACKAGE}.pipeline.laptop")
lifecycle = importlib.import_module(f"{PACKAGE}.promotion.lifecycle")

# run builds the pipeline with the SageMaker SDK: one xdist worker imports it.
pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

NOW = datetime(2025, 1, 1, tzinfo=UTC)
EXECUTION = f"arn:aws:sagemaker:{REGION}:{CFG.account_id('data_science')}:pipeline/{FEATURE}/execution/run1"
VERSION = package_arn(CFG, "feature", 12)
REPORT_KEY = f"{FEATURE}/run1/Evaluate/evaluation/evaluation.json"
METRICS = {"auc": 0.9123, "accuracy": 0.88}


@pytest.fixture(autouse=True)
def project(configure, monkeypatch):
    use_project(configure, monkeypatch)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class Laptop:
    """A boto3 session whose STS answers as `account` (stubbed) and whose other clients are moto's."""

    def __init__(self, session: boto3.Session, account: str, sts_error: Exception | None = None) -> None:
        self.session = session
        self.sts = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x").client(
            "sts"
        )
        self.stub = Stubber(self.sts)
        if sts_error is None:
            arn = f"arn:aws:sts::{account}:assumed-role/{CFG.role_name('data_scientist')}/me"
            self.stub.add_response(
                "get_caller_identity", {"Account": account, "Arn": arn, "UserId": "AROA:me"}
            )
        self.error = sts_error
        self.stub.activate()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)  # region_name, resource(), ... for the SageMaker SDK

    def client(self, service: str, **kwargs: Any) -> Any:
        if service != "sts":
            return self.session.client(service, **kwargs)
        if self.error is not None:
            error = self.error

            class Failing:
                def get_caller_identity(self) -> Any:
                    raise error

            return Failing()
        return self.sts


def step(name: str, status: str, **extra: Any) -> dict:
    return {"StepName": name, "StepStatus": status, "StartTime": NOW, **extra}


SUCCEEDED = [
    step("Preprocess", "Succeeded"),
    step("Train", "Succeeded"),
    step("Evaluate", "Succeeded"),
    step("MetricGate", "Succeeded", Metadata={"Condition": {"Outcome": "True"}}),
    step("Register-RegisterModel", "Succeeded", Metadata={"RegisterModel": {"Arn": VERSION}}),
]


def watched_to_success(stub: Stubber, execution: str = EXECUTION) -> None:
    """One poll that finds the execution Succeeded, then the steps again for the summary, then
    the registered version's description (its report in moto's S3)."""
    steps = {"PipelineExecutionArn": execution, "SortOrder": "Ascending"}
    stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": SUCCEEDED}, steps)
    stub.add_response(
        "describe_pipeline_execution",
        {"PipelineExecutionArn": execution, "PipelineExecutionStatus": "Succeeded"},
        {"PipelineExecutionArn": execution},
    )
    stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": SUCCEEDED}, steps)
    stub.add_response("describe_model_package", registered_package(), {"ModelPackageName": VERSION})


def registered_package() -> dict:
    return {
        "ModelPackageName": CFG.group("feature"),
        "ModelPackageGroupName": CFG.group("feature"),
        "ModelPackageVersion": 12,
        "ModelPackageArn": VERSION,
        "CreationTime": NOW,
        "InferenceSpecification": INFERENCE_SPEC,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "PendingManualApproval",
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{CFG.names.artifact_bucket}/{REPORT_KEY}",
                }
            }
        },
        "CustomerMetadataProperties": {"git_sha": GIT_SHA, "branch": BRANCH},
    }


def put_report(session: boto3.Session, key: str = REPORT_KEY, metrics: dict | None = None) -> None:
    report = {
        "binary_classification_metrics": {
            name: {"value": value, "standard_deviation": "NaN"}
            for name, value in (metrics or METRICS).items()
        }
    }
    session.client("s3").put_object(
        Bucket=CFG.names.artifact_bucket, Key=key, Body=json.dumps(report).encode()
    )


def run_cli(args: list[str], session: Any, client: Any) -> tuple[int, list[str]]:
    out = io.StringIO()
    clock = [0.0]
    code = cli.main(
        args,
        boto_session=session,
        sagemaker_client=client,
        out=out,
        sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds),
        clock=lambda: clock[0],
    )
    return code, out.getvalue().splitlines()


# --- make run ------------------------------------------------------------------------------------


def test_make_run_checks_the_account_runs_pinned_and_shows_the_metrics_and_version(aws_env, capsys):
    upsert = {
        "PipelineName": FEATURE,
        "RoleArn": FEATURE_ROLE,
        "PipelineDefinition": ANY,
        "PipelineDescription": CFG.project.description,
    }
    with account_with_input() as moto_session:
        put_report(moto_session)
        client = moto_session.client("sagemaker")
        laptop_session = Laptop(moto_session, CFG.account_id("data_science"))
        with Stubber(client) as stub:
            stub.add_response("create_pipeline", {"PipelineArn": f"arn:p/{FEATURE}"}, upsert)
            stub.add_response(
                "update_pipeline", {"PipelineArn": f"arn:p/{FEATURE}", "PipelineVersionId": 2}, upsert
            )
            start = {
                "PipelineName": FEATURE,
                "PipelineVersionId": 2,
                "PipelineParameters": ANY,
                "PipelineExecutionDescription": f"git {GIT_SHA} on {BRANCH}",
            }
            stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION}, start)
            watched_to_success(stub)
            code, lines = run_cli(
                ["run", "--check-account", "--branch", BRANCH, "--git-sha", GIT_SHA], laptop_session, client
            )
            stub.assert_no_pending_responses()
        laptop_session.stub.assert_no_pending_responses()
    assert code == 0, capsys.readouterr().err
    assert lines[0] == f"pipeline: upserted arn:p/{FEATURE} (version 2)"
    registered = lines.index(f"pipeline: registered {VERSION} (PendingManualApproval)")
    threshold = f"{CFG.pipeline.metric_threshold:g}"
    assert [line.split() for line in lines[registered + 1 : registered + 4]] == [
        ["metric", "value"],
        ["auc", "(gate", ">=", f"{threshold})", "0.9123"],
        ["accuracy", "0.8800"],
    ]
    assert lines[registered + 4] == f"  auc 0.9123 meets the gate {threshold}"
    assert lines[-3:] == [f"execution_arn={EXECUTION}", "status=Succeeded", f"model_package_arn={VERSION}"]


def test_make_run_stops_on_another_accounts_credentials_before_any_other_call(aws_env, capsys):
    recorder = Recorder()
    session = recorder.attach(
        boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    )
    client = recorder.attach(session.client("sagemaker"))
    laptop_session = Laptop(session, "999999999999")
    with Stubber(client):
        code, lines = run_cli(["run", "--check-account", "--branch", BRANCH], laptop_session, client)
    err = capsys.readouterr().err
    assert (code, lines, recorder.calls) == (1, [], [])
    assert err.startswith("error: the credentials are arn:aws:sts::999999999999:assumed-role/")
    assert f"the data-science account {CFG.account_id('data_science')}: pass PROFILE=" in err


def test_an_expired_sso_sign_in_names_the_login_command(aws_env, monkeypatch, tmp_path, capsys):
    config_file = tmp_path / "aws-config"
    config_file.write_text("[profile ds]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    session = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    laptop_session = Laptop(session, "", sts_error=UnauthorizedSSOTokenError())
    monkeypatch.setenv("AWS_PROFILE", "ds")
    client = session.client("sagemaker")
    with Stubber(client):
        code, lines = run_cli(["status", "--check-account", "--branch", BRANCH], laptop_session, client)
    err = capsys.readouterr().err
    assert (code, lines) == (1, [])
    assert err.startswith("error: no valid AWS credentials (") and err.endswith(
        "sign in: aws sso login --profile ds\n"
    )


@pytest.mark.parametrize("command", ["run", "status", "compare"])
@pytest.mark.parametrize("branch", ["dev", "prod"])
def test_the_dev_and_prod_branches_are_cis_and_refused_before_any_call(command, branch, capsys):
    name = getattr(CFG.branches, branch)
    err = refused_before_any_call([command, "--branch", name], capsys)
    assert err.startswith(f"error: {name!r} is the {branch} branch: its runs are CI's")
    assert f"git switch -c {CFG.branches.feature_prefix}<name>" in err and err.count("\n") == 1


def test_the_dev_pipeline_itself_is_still_started_by_ci():
    """The refusal is of feature pipelines on CI's branches; CI's own `--kind dev` run is untouched."""
    laptop.refuse_ci_branch(CFG, "dev", CFG.branches.dev)
    with pytest.raises(cli.UsageError):
        laptop.refuse_ci_branch(CFG, "feature", CFG.branches.dev)


def test_an_unknown_profile_is_a_usage_error_before_any_call(monkeypatch, tmp_path, capsys):
    """Without the check, boto3 itself would refuse the profile on the first client (exit 1)."""
    config_file = tmp_path / "aws-config"
    config_file.write_text("[profile data-science]\nregion = us-east-1\n[profile admin]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "data-sciense")
    out = io.StringIO()
    assert cli.main(["run", "--branch", BRANCH], out=out) == 2
    err = capsys.readouterr().err
    assert out.getvalue() == ""
    assert err == (
        "error: AWS profile 'data-sciense' (PROFILE / AWS_PROFILE) is not in your AWS config files; "
        "expected one of: admin, data-science\n"
    )


def test_run_warns_about_uncommitted_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert laptop.dirty_tree_warning() is None  # not a git checkout
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    assert laptop.dirty_tree_warning() is None
    (tmp_path / "train.py").write_text("print(2)\n")
    assert laptop.dirty_tree_warning().startswith("warning: uncommitted changes")


# --- make status ---------------------------------------------------------------------------------


def test_make_status_reattaches_to_the_branchs_newest_run(aws_env, capsys):
    with account_with_input() as moto_session:
        put_report(moto_session)
        client = moto_session.client("sagemaker")
        with Stubber(client) as stub:
            stub.add_response(
                "list_pipeline_executions",
                {"PipelineExecutionSummaries": [{"PipelineExecutionArn": EXECUTION}]},
                {
                    "PipelineName": FEATURE,
                    "SortBy": "CreationTime",
                    "SortOrder": "Descending",
                    "MaxResults": 1,
                },
            )
            watched_to_success(stub)
            code, lines = run_cli(["status", "--branch", BRANCH], moto_session, client)
            stub.assert_no_pending_responses()
    assert code == 0, capsys.readouterr().err
    assert lines[0] == f"pipeline: watching {EXECUTION}"
    assert f"pipeline: registered {VERSION} (PendingManualApproval)" in lines
    assert lines[-3:] == [f"execution_arn={EXECUTION}", "status=Succeeded", f"model_package_arn={VERSION}"]


def test_make_status_of_a_branch_without_runs_fails_with_one_line(aws_env, capsys):
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error(
            "list_pipeline_executions", "ResourceNotFound", f"Pipeline {FEATURE} does not exist."
        )
        code, lines = run_cli(["status", "--branch", BRANCH], object(), client)
    assert (code, lines) == (1, [])
    assert capsys.readouterr().err == f"error: pipeline {FEATURE} has no execution yet; make run starts one\n"


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("run1", "'run1' is not a pipeline execution ARN"),
        (
            EXECUTION.replace(CFG.account_id("data_science"), "222233334444"),
            f"is in {CFG.region}/222233334444",
        ),
        (EXECUTION.replace(FEATURE, "someone-elses-pipeline"), "belongs to pipeline someone-elses-pipeline"),
    ],
    ids=["not-an-arn", "other-account", "other-pipeline"],
)
def test_make_status_refuses_an_execution_that_is_not_this_repositorys(arn, message, capsys):
    err = refused_before_any_call(["status", "--execution-arn", arn], capsys)
    assert err.startswith("error: ") and message in err


# --- make compare --------------------------------------------------------------------------------


def released_world(accounts: Any, recorder: Recorder) -> tuple[World, str]:
    """One account: a dev version (auc 0.95) released to prod as the release workflow does."""
    cfg = make_config("single")
    world = World(cfg, accounts(cfg, recorder), recorder)
    dev = world.register(metrics={"auc": 0.95, "accuracy": 0.9})
    world.qa(dev)
    prod = world.release(dev)
    lifecycle.record_release(cfg, world.clients, prod, "c" * 40, "7", "2025-01-31T12:00:00Z")
    return world, prod


def feature_version(world: World, branch: str, auc: float) -> str:
    run = f"run{auc}"
    key = f"{world.cfg.names.artifact_prefixes['feature']}x/{run}/Evaluate/evaluation/evaluation.json"
    report = {"binary_classification_metrics": {"auc": {"value": auc}, "accuracy": {"value": 0.91}}}
    world.put(key, json.dumps(report).encode())
    return world.shared.client("sagemaker").create_model_package(
        ModelPackageGroupName=world.cfg.group("feature"),
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification=INFERENCE_SPEC,
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{world.bucket}/{key}"}
            }
        },
        CustomerMetadataProperties={"git_sha": GIT_SHA, "branch": branch},
    )["ModelPackageArn"]


def test_make_compare_shows_the_branchs_newest_version_next_to_the_served_champion(
    accounts, configure, recorder, capsys
):
    world, prod = released_world(accounts, recorder)
    configure(world.cfg)
    mine = feature_version(world, BRANCH, 0.97)
    feature_version(world, f"{world.cfg.branches.feature_prefix}someone-else", 0.99)  # newer, another branch
    code, lines = run_cli(["compare", "--branch", BRANCH], world.shared, None)
    assert code == 0, capsys.readouterr().err
    assert lines[0].startswith(f"candidate:     {mine} (branch {BRANCH}, git {GIT_SHA})")
    assert lines[1].startswith(f"prod champion: {prod} (released 2025-01-31T12:00:00Z, from ")
    assert [line.split() for line in lines[2:5]] == [
        ["metric", "candidate", "prod", "champion", "change"],
        ["auc", "(gate", ">=", f"{world.cfg.pipeline.metric_threshold:g})", "0.9700", "0.9500", "+0.0200"],
        ["accuracy", "0.9100", "0.9000", "+0.0100"],
    ]
    assert lines[-2:] == [f"candidate={mine}", f"champion={prod}"]


def test_make_compare_before_the_first_release_and_for_a_branch_without_a_version(
    accounts, configure, recorder, capsys
):
    cfg = make_config("single")
    world = World(cfg, accounts(cfg, recorder), recorder)
    configure(cfg)
    code, lines = run_cli(["compare", "--branch", BRANCH], world.shared, None)
    assert (code, lines) == (1, [])
    assert (
        f"error: branch {BRANCH} registered no version in {cfg.group('feature')} yet"
        in capsys.readouterr().err
    )
    mine = feature_version(world, BRANCH, 0.97)
    code, lines = run_cli(["compare", "--candidate", mine], world.shared, None)
    assert code == 0
    assert lines[1] == "prod champion: none yet (nothing was released to prod)"
    assert lines[-1] == "champion=none"


def test_make_compare_refuses_a_version_of_another_registry_before_any_call(capsys):
    other = (
        CFG.packages_arn("feature")
        .replace(CFG.account_id("shared_services"), "222233334444")
        .removesuffix("*")
    )
    err = refused_before_any_call(["compare", "--candidate", other + "3"], capsys)
    assert err.startswith("error: --candidate: model package ") and "not the shared-services registry" in err


def test_the_report_the_data_scientist_may_read_is_the_one_the_pipeline_writes():
    """access.REPORT_FILE (what the data-scientist role reads under the dev prefix) is the
    pipeline's evaluation report file name."""
    steps = importlib.import_module(f"{PACKAGE}.pipeline.steps")
    access = importlib.import_module(f"{PACKAGE}.access")
    assert access.REPORT_FILE == steps.EVALUATION_FILE
