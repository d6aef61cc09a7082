"""Batch Transform jobs (batch/job.py) under botocore's Stubber (moto has no transform jobs):
the exact calls of a first run, a repeat (0 mutating calls), an attach and a failed job; the
deterministic name and the CreateTransformJob request."""

from __future__ import annotations

import pytest
from botocore.stub import ANY

from deploy_helpers import NOW, make_config, module, package_arn, plan_for, stubbed

job = module("batch.job")
DeployError = module("deploy.aws").DeployError
Clients = module("deploy.aws").Clients
pytestmark = pytest.mark.usefixtures("fake_aws")

CFG = make_config("four")
ARN = package_arn(CFG, "prod", 3)
INPUT = CFG.batch.environment("prod").input_uri


def batch_plan(date: str = "2025-01-31", attempt: int = 1, input_uri: str = INPUT):
    return job.plan_job(CFG, "prod", plan_for(CFG, "prod", ARN), input_uri, date, attempt)


def described(plan, status: str, reason: str = "") -> dict:
    answer = {
        "TransformJobName": plan.job_name,
        "TransformJobArn": f"arn:aws:sagemaker:{CFG.region}:444444444444:transform-job/{plan.job_name}",
        "TransformJobStatus": status,
        "ModelName": plan.model_name,
        "TransformInput": plan.request["TransformInput"],
        "TransformResources": plan.request["TransformResources"],
        "CreationTime": NOW,
    }
    if reason:
        answer["FailureReason"] = reason
    return answer


def not_found(stub, plan) -> None:
    stub.add_client_error(
        "describe_transform_job",
        service_error_code="ValidationException",
        service_message=f"Could not find requested job with name {plan.job_name}",
        expected_params={"TransformJobName": plan.job_name},
    )


def test_a_first_run_creates_the_job_waits_and_a_repeat_makes_no_mutating_call(recorder):
    plan = batch_plan()
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    not_found(sm, plan)
    sm.add_response("create_transform_job", {"TransformJobArn": "arn"}, expected_params=plan.request)
    sm.add_response(
        "describe_transform_job", described(plan, "InProgress"), {"TransformJobName": plan.job_name}
    )
    sm.add_response(
        "describe_transform_job", described(plan, "Completed"), {"TransformJobName": plan.job_name}
    )
    clients = Clients(session, CFG.region)
    answer, created = job.ensure_job(clients, plan, wait=True, timeout=60, poll_seconds=0)
    assert (answer["TransformJobStatus"], created) == ("Completed", True)
    sm.assert_no_pending_responses()
    assert recorder.operations == [
        "DescribeTransformJob",
        "CreateTransformJob",
        "DescribeTransformJob",
        "DescribeTransformJob",
    ]
    # The repeat: one describe, nothing created.
    sm.add_response(
        "describe_transform_job", described(plan, "Completed"), {"TransformJobName": plan.job_name}
    )
    answer, created = job.ensure_job(clients, plan, wait=True, timeout=60, poll_seconds=0)
    assert (answer["TransformJobStatus"], created) == ("Completed", False)
    sm.assert_no_pending_responses()
    assert recorder.operations[4:] == ["DescribeTransformJob"]
    assert recorder.mutating == ["CreateTransformJob"]
    recorder.assert_valid()  # CreateTransformJob's request matches botocore's model


def test_a_run_while_the_job_runs_attaches_and_waits_without_creating(recorder):
    plan = batch_plan()
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    for status in ("InProgress", "InProgress", "Completed"):
        sm.add_response(
            "describe_transform_job", described(plan, status), {"TransformJobName": plan.job_name}
        )
    answer, created = job.ensure_job(
        Clients(session, CFG.region), plan, wait=True, timeout=60, poll_seconds=0
    )
    assert (answer["TransformJobStatus"], created) == ("Completed", False)
    assert "CreateTransformJob" not in recorder.operations
    sm.assert_no_pending_responses()


def test_a_failed_job_is_a_clear_error_asking_for_the_next_attempt(recorder):
    plan = batch_plan()
    session, stubs = stubbed("sagemaker", recorder=recorder)
    stubs["sagemaker"].add_response(
        "describe_transform_job", described(plan, "Failed", "ClientError: bad row"), {"TransformJobName": ANY}
    )
    with pytest.raises(DeployError, match=r"Failed: ClientError: bad row; .* --attempt 2"):
        job.ensure_job(Clients(session, CFG.region), plan, wait=True, timeout=60, poll_seconds=0)
    assert recorder.operations == ["DescribeTransformJob"]


def test_the_name_follows_version_input_date_and_attempt_and_nothing_else():
    first = batch_plan()
    assert batch_plan().job_name == first.job_name
    assert first.job_name.startswith(CFG.environment("prod").endpoint_name + "-b")
    assert len(first.job_name) <= 63
    others = {
        batch_plan(date="2025-02-01").job_name,
        batch_plan(attempt=2).job_name,
        batch_plan(input_uri=INPUT + "day/").job_name,
        job.plan_job(
            CFG, "prod", plan_for(CFG, "prod", package_arn(CFG, "prod", 4)), INPUT, "2025-01-31"
        ).job_name,
    }
    assert first.job_name not in others and len(others) == 4


def test_the_request_splits_lines_joins_the_input_and_encrypts_the_output():
    plan = batch_plan()
    request = plan.request
    env = CFG.environment("prod")
    assert request["ModelName"] == plan_for(CFG, "prod", ARN).model_name
    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT}},
        "ContentType": "text/csv",
        "SplitType": "Line",
        "CompressionType": "None",
    }
    # Mini-batches of whole lines up to MaxPayloadInMB, each answered with one CSV line per record.
    assert request["BatchStrategy"] == "MultiRecord"
    assert request["MaxPayloadInMB"] == 6
    assert request["TransformOutput"]["Accept"] == "text/csv"
    assert request["DataProcessing"]["JoinSource"] == "Input"
    output = request["TransformOutput"]
    assert output["AssembleWith"] == "Line" and output["KmsKeyId"] == env.capture_key_arn
    assert output["S3OutputPath"] == f"s3://{env.capture_bucket}/batch/prod/output/{plan.job_name}/"
