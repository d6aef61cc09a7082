"""The pipeline CLI's AWS commands (upsert, start, run) and the execution watch, offline.

moto holds the artifact bucket and the input data; a botocore Stubber on the SageMaker client,
injected through `main()`, gives the exact call sequence of `run` and an execution's step
progress (moto can execute neither). Each test asserts the exit status, the output lines and the
calls made. Pinned and idempotent starts are in test_pipeline_start.py.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from deploy_helpers import new_session
from pipeline_helpers import (
    BRANCH,
    CFG,
    CI_RUN,
    FEATURE,
    FEATURE_ROLE,
    GIT_SHA,
    REGION,
    account_with_input,
    cli,
    names,
    start_args,
    use_project,
)

# run builds the pipeline with the SageMaker SDK: one xdist worker imports it
# (with `--dist loadgroup`; without it the mark does nothing).
pytestmark = pytest.mark.xdist_group("sagemaker-sdk")


@pytest.fixture(autouse=True)
def project(configure, monkeypatch):
    use_project(configure, monkeypatch)


@pytest.fixture
def moto_account(aws_env):
    with account_with_input() as session:
        yield session


def test_cli_start_refuses_missing_input_data(moto_account, capsys):
    missing = f"s3://{CFG.names.artifact_bucket}/{CFG.names.datasets_prefix}missing.csv"
    client = moto_account.client("sagemaker")
    with Stubber(client):  # no responses queued: any SageMaker call would fail the test
        code = cli.main(
            [*start_args(), "--input-data-uri", missing],
            boto_session=moto_account,
            sagemaker_client=client,
            out=io.StringIO(),
        )
    assert code == 1
    assert f"input data {missing} not found" in capsys.readouterr().err


def test_cli_stops_when_the_artifact_bucket_is_missing(aws_env, capsys):
    with mock_aws():
        session = new_session(region_name=REGION)
        code = cli.main(["upsert", "--branch", BRANCH], boto_session=session, out=io.StringIO())
        buckets = session.client("s3").list_buckets()["Buckets"]
    assert code == 1
    assert f"artifact bucket {CFG.names.artifact_bucket} is not reachable" in capsys.readouterr().err
    assert buckets == []


def test_cli_rejects_a_bad_input_uri(capsys):
    assert cli.main([*start_args(), "--input-data-uri", "/tmp/data.csv"]) == 2
    assert "is not an s3://bucket/key URI" in capsys.readouterr().err


EXECUTION_ARN = "arn:aws:sagemaker:us-east-1:111111111111:pipeline/p/execution/abc123"
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def step(name: str, status: str, **extra) -> dict:
    return {"StepName": name, "StepStatus": status, "StartTime": NOW, **extra}


def execution(status: str, **extra) -> dict:
    return {"PipelineExecutionArn": EXECUTION_ARN, "PipelineExecutionStatus": status, **extra}


def poll(stub: Stubber, steps: list[dict], status: str, **extra) -> None:
    list_params = {"PipelineExecutionArn": EXECUTION_ARN, "SortOrder": "Ascending"}
    stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps}, list_params)
    stub.add_response(
        "describe_pipeline_execution", execution(status, **extra), {"PipelineExecutionArn": EXECUTION_ARN}
    )


class FakeClock:
    """Deterministic time for follow_execution: sleep() advances it, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


PROGRESS = re.compile(r"^\[\s*(\d+)s\] (\S+)\s+(\S+)")
GATE_FAILED = "Evaluation auc 0.81 is below the threshold 0.9 - not registered."
FAILED_STEPS = [
    step("Preprocess", "Succeeded"),
    step("Train", "Succeeded", Metadata={"TrainingJob": dict(Arn="arn:aws:sagemaker:::training-job/t")}),
    step("Evaluate", "Succeeded"),
    step("MetricGate", "Succeeded", Metadata={"Condition": dict(Outcome="False")}),
    step("MetricBelowThreshold", "Failed", FailureReason=GATE_FAILED),
]


def test_follow_execution_prints_progress_and_fails_on_a_failed_execution():
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    clock = FakeClock()
    out = io.StringIO()
    with Stubber(client) as stub:
        poll(stub, [step("Preprocess", "Executing")], "Executing")
        poll(stub, [step("Preprocess", "Succeeded"), step("Train", "Executing")], "Executing")
        poll(stub, FAILED_STEPS, "Failed", FailureReason="Step failure: One or multiple steps failed.")
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": FAILED_STEPS})
        code = cli.follow_execution(
            client, EXECUTION_ARN, timeout=3600, poll_interval=30, out=out, sleep=clock.sleep, clock=clock
        )
        stub.assert_no_pending_responses()
    lines = out.getvalue().splitlines()
    assert code == 1
    assert [PROGRESS.match(line).groups() for line in lines[:7]] == [
        ("0", "Preprocess", "Executing"),
        ("30", "Preprocess", "Succeeded"),
        ("30", "Train", "Executing"),
        ("60", "Train", "Succeeded"),
        ("60", "Evaluate", "Succeeded"),
        ("60", "MetricGate", "Succeeded"),
        ("60", "MetricBelowThreshold", "Failed"),
    ]
    assert "outcome: False" in lines[5] and GATE_FAILED in lines[6]
    assert lines[7] == f"pipeline: execution Failed after 60s: {EXECUTION_ARN}"
    assert lines[8:] == [
        "  reason: Step failure: One or multiple steps failed.",
        f"  MetricBelowThreshold: {GATE_FAILED}",
    ]


def test_follow_execution_succeeds_and_reports_cache_hits():
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    clock = FakeClock()
    out = io.StringIO()
    cached = {"CacheHitResult": dict(SourcePipelineExecutionArn="arn:earlier-execution")}
    with Stubber(client) as stub:
        poll(stub, [step("Preprocess", "Succeeded", **cached), step("Train", "Executing")], "Executing")
        poll(stub, [step("Preprocess", "Succeeded", **cached), step("Train", "Succeeded")], "Succeeded")
        code = cli.follow_execution(
            client, EXECUTION_ARN, timeout=3600, out=out, sleep=clock.sleep, clock=clock
        )
        stub.assert_no_pending_responses()
    assert code == 0
    assert "cached from arn:earlier-execution" in out.getvalue().splitlines()[0]
    assert out.getvalue().splitlines()[-1] == "pipeline: execution Succeeded after 30s"


def test_follow_execution_gives_up_after_the_timeout():
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    clock = FakeClock()
    out = io.StringIO()
    with Stubber(client) as stub:
        for _ in range(3):
            poll(stub, [step("Train", "Executing")], "Executing")
        code = cli.follow_execution(
            client, EXECUTION_ARN, timeout=60, poll_interval=30, out=out, sleep=clock.sleep, clock=clock
        )
        stub.assert_no_pending_responses()
    assert code == 1
    assert out.getvalue().splitlines()[-1].startswith("pipeline: still Executing after 60s (--timeout 60)")


def test_cli_run_upserts_starts_and_exits_non_zero_when_the_gate_fails(moto_account, monkeypatch):
    """`run` end to end in a CI run: build, upsert, start the stored version with the run's token,
    follow. The exact SageMaker call sequence goes to a Stubber; S3 to moto."""
    for key, value in CI_RUN.items():
        monkeypatch.setenv(key, value)
    client = moto_account.client("sagemaker")
    name = FEATURE
    pipeline_arn = f"arn:aws:sagemaker:{REGION}:111111111111:pipeline/{name}"
    upsert = {
        "PipelineName": name,
        "RoleArn": FEATURE_ROLE,
        "PipelineDefinition": ANY,
        "PipelineDescription": CFG.project.description,
    }
    clock = FakeClock()
    out = io.StringIO()
    with Stubber(client) as stub:
        stub.add_client_error(
            "create_pipeline",
            "ValidationException",
            "Pipeline names must be unique within an AWS account and region. "
            f"Pipeline with name ({name}) already exists.",
            expected_params=upsert,
        )
        stub.add_response("update_pipeline", {"PipelineArn": pipeline_arn, "PipelineVersionId": 7}, upsert)
        data_uri = CFG.pipeline.input_data_uri
        stub.add_response(
            "start_pipeline_execution",
            {"PipelineExecutionArn": EXECUTION_ARN},
            {
                "PipelineName": name,
                "PipelineParameters": [
                    {"Name": "InputDataUri", "Value": data_uri},
                    {"Name": "InputDataVersion", "Value": ANY},
                ],
                "PipelineExecutionDescription": f"git {GIT_SHA} on {BRANCH}",
                "PipelineVersionId": 7,
                "ClientRequestToken": names.start_token("octo/models", GIT_SHA, "9876543210", "1", name),
            },
        )
        poll(stub, FAILED_STEPS, "Failed", FailureReason="Step failure: One or multiple steps failed.")
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": FAILED_STEPS})
        code = cli.main(
            ["run", "--git-sha", GIT_SHA, "--branch", BRANCH],
            boto_session=moto_account,
            sagemaker_client=client,
            out=out,
            sleep=clock.sleep,
            clock=clock,
        )
        stub.assert_no_pending_responses()
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[0] == f"pipeline: upserted {pipeline_arn} (version 7)"
    assert lines[1].startswith(
        f"pipeline: started {EXECUTION_ARN} (input {CFG.pipeline.input_data_uri}, etag:"
    )
    assert lines[-3] == f"  MetricBelowThreshold: {GATE_FAILED}"
    assert lines[-2:] == [f"execution_arn={EXECUTION_ARN}", "status=Failed"]


# --- the command-line contract (cli_support): option names, --github-output, one error line ------


def test_start_with_github_output_appends_the_execution_arn(moto_account, tmp_path, monkeypatch):
    target = tmp_path / "github-output"
    target.write_text("earlier=kept\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    client = moto_account.client("sagemaker")
    out = io.StringIO()
    with Stubber(client) as stub:
        stub.add_response(
            "start_pipeline_execution",
            {"PipelineExecutionArn": EXECUTION_ARN},
            {
                "PipelineName": CFG.names.pipelines["dev"],
                "PipelineParameters": [
                    {"Name": "InputDataUri", "Value": CFG.pipeline.input_data_uri},
                    {"Name": "InputDataVersion", "Value": ANY},
                ],
                "PipelineExecutionDescription": f"git {GIT_SHA} on {BRANCH}",
                "PipelineVersionId": 4,
                # No CI run: no token of ours (botocore adds a random one after this check).
            },
        )
        code = cli.main(
            [
                "start",
                "--kind",
                "dev",
                "--git-sha",
                GIT_SHA,
                "--branch",
                BRANCH,
                "--pipeline-version-id",
                "4",
                "--github-output",
            ],
            boto_session=moto_account,
            sagemaker_client=client,
            out=out,
        )
        stub.assert_no_pending_responses()
    assert code == 0
    assert out.getvalue() == f"execution_arn={EXECUTION_ARN}\n"
    assert target.read_text() == f"earlier=kept\nexecution_arn={EXECUTION_ARN}\n"


def test_github_output_without_its_file_is_a_usage_error_before_any_call(aws_env, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client):  # no responses queued: any SageMaker call would fail the test
        code = cli.main(["run", "--github-output"], boto_session=object(), sagemaker_client=client)
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == "error: --github-output given but GITHUB_OUTPUT is not set\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wait-timeout", "60"], "unrecognized arguments: --wait-timeout 60"),
        (["--poll-seconds", "5"], "unrecognized arguments: --poll-seconds 5"),
        (["--timeout", "soon"], "argument --timeout: 'soon' is not a number of seconds"),
        (["--poll-interval", "0"], "argument --poll-interval: '0' must be above 0 seconds"),
    ],
    ids=["old-wait-timeout", "old-poll-seconds", "bad-timeout", "zero-interval"],
)
def test_run_options_follow_the_shared_names(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", *args])
    captured = capsys.readouterr()
    assert (exit_info.value.code, captured.out) == (2, "")
    assert captured.err == f"error: {message} (see --help)\n"


def test_run_help_names_timeout_and_github_output_and_hides_the_poll_interval(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal width
    assert exit_info.value.code == 0
    assert "--timeout SECONDS" in out and "(default 14400)" in out
    assert "--github-output" in out
    assert "--poll-interval" not in out
    args = cli.parse_args(["run"])
    assert (args.timeout, args.poll_interval, args.github_output) == (4 * 3600, 30.0, False)
