"""Attacks on a batch-only project (endpoint type "none") and on `endpoint-test --arn`.

- A transform test attaches to an existing job under its name only when that job is the request
  it would make: another output path (where the job wrote, while the test reads its own prefix,
  which any job running as the endpoint role can fill), another input type, an environment or
  another join is not this test.
- `endpoint-test --arn` of an endpoint tests a version only while the endpoint is InService on
  the config that runs its model: an update in flight (the config named, traffic still shifting
  to another) is not the version served.
- A batch-only prod batch never picks a Rejected version, even one released later.

Exact call sequences with botocore's Stubber (as tests/test_batch_only.py).
"""

from __future__ import annotations

import copy
import json

import pytest

import test_batch_only as bo
from deploy_helpers import (
    REAL_TIME_PROD,
    SAMPLE_CSV,
    endpoint_response,
    make_config,
    module,
    not_found,
    package_arn,
    package_description,
    plan_for,
    stubbed,
    stubbed_as,
)

Clients = module("deploy.aws").Clients
cli = module("deploy.cli")
model_only = module("deploy.model_only")
source = module("batch.source")
pytestmark = pytest.mark.usefixtures("fake_aws")


# --- an existing job under the test's name -----------------------------------------------------


def attached(world: bo.TestWorld, change) -> dict:
    """The Completed job an attacker created under the test's name, on the deploy's model and
    the test's input URI (all the name-and-model check looks at), with the test's own request
    otherwise, then `change`d."""
    request = module("batch.job").transform_request(
        bo.CFG,
        "qa",
        world.plan,
        world.name,
        world.input_uri,
        world.input_uri.replace("/tests/input/", "/tests/output/"),
        module("batch.transform_test").TEST_TAGS,
    )
    job = bo.job_response(world.name, "Completed", world.plan, world.input_uri)
    for key in request.keys() - {"TransformJobName", "Tags"}:
        job[key] = copy.deepcopy(request[key])
    change(job)
    return job


def elsewhere(job: dict) -> None:
    job["TransformOutput"]["S3OutputPath"] = job["TransformOutput"]["S3OutputPath"].replace(
        "/tests/output/", "/tests/output/elsewhere-"
    )


def manifest(job: dict) -> None:
    job["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] = "ManifestFile"


def environment(job: dict) -> None:
    job["Environment"] = {"SAGEMAKER_PROGRAM": "other.py"}


def no_join(job: dict) -> None:
    job["DataProcessing"]["InputFilter"] = "$[1:]"


def whole_file(job: dict) -> None:
    job["TransformInput"]["SplitType"] = "None"


def json_answers(job: dict) -> None:
    job["TransformOutput"]["Accept"] = "application/json"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (elsewhere, "writes s3://"),
        (manifest, "reads "),
        (environment, "sets Environment"),
        (no_join, "DataProcessing"),
        (whole_file, "TransformInput.SplitType is 'None', not 'Line'"),
        (json_answers, "TransformOutput.Accept is 'application/json', not 'text/csv'"),
    ],
)
def test_an_existing_job_that_is_not_the_tests_request_fails_without_reading_an_output(
    configure, run_cli, recorder, tmp_path, change, detail
):
    """The job wrote elsewhere (or read, ran or joined otherwise) while the test's output prefix
    holds a passing file another job wrote: the test fails and reads nothing. Compared with
    test_batch_only's `test_a_job_under_the_tests_name_on_another_model_fails_the_test`, which
    changes the model only."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    world.sm.add_response("describe_transform_job", attached(world, change))
    world.output(bo.answer(world.data))  # what another job wrote under the test's prefix
    code, _, _, report = world.run(run_cli, tmp_path)
    assert code == 1 and report["passed"] is False
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["transform job"]
    assert detail in failed[0]["detail"], failed[0]["detail"]
    assert "GetObject" not in recorder.operations and recorder.mutating == []


def described_more(job: dict) -> None:
    """What SageMaker may describe beyond the request: the key resolved, more fields."""
    job["TransformOutput"]["KmsKeyId"] = "arn:aws:kms:us-east-1:333333333333:key/1234abcd-12ab"
    job["TransformResources"]["VolumeKmsKeyId"] = "arn:aws:kms:us-east-1:333333333333:key/1234abcd-12ab"
    job["ModelClientConfig"] = {"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 3}


@pytest.mark.parametrize("change", [lambda job: None, described_more], ids=["as sent", "described with more"])
def test_an_existing_job_that_is_the_tests_request_is_read(configure, run_cli, recorder, tmp_path, change):
    """The control of the attacks above: the same job, unchanged (or described with what SageMaker
    adds or resolves), is read and passes."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    world.sm.add_response("describe_transform_job", attached(world, change))
    world.model_again()
    world.output(bo.answer(world.data))
    code, _, err, report = world.run(run_cli, tmp_path)
    assert code == 0 and report["passed"], err
    assert recorder.mutating == []


@pytest.mark.parametrize("swap", ["re-created during the job", "another artifact", "deleted"])
def test_a_model_swapped_under_its_name_while_the_job_ran_fails_the_test(
    configure, run_cli, recorder, tmp_path, swap
):
    """The deploy role may delete and create models under `<endpoint>-v*`: a model re-created
    under the planned name while the test job ran (even identical), changed, or deleted is not
    shown to be what the job ran, so the test fails before its output is read."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    world.sm.add_response("describe_transform_job", attached(world, lambda job: None))
    model = bo.described(world.plan)
    if swap == "deleted":
        not_found(world.sm, "describe_model")
    else:
        if swap == "another artifact":
            model["Containers"][0]["ModelDataUrl"] = "s3://elsewhere/older-good-model.tar.gz"
        else:
            model["CreationTime"] = bo.START  # after the job's CreationTime (bo.NOW)
        world.model_again(model)
    world.output(bo.answer(world.data))
    code, _, _, report = world.run(run_cli, tmp_path)
    job = next(c for c in report["checks"] if c["name"] == "transform job")
    assert code == 1 and not job["passed"], report["checks"]
    expected = {
        "deleted": "was deleted",
        "another artifact": "older-good-model",
        "re-created during the job": "after the job",
    }
    assert expected[swap] in job["detail"], job["detail"]
    assert recorder.mutating == []


# --- endpoint-test --arn of an endpoint ----------------------------------------------------------

ENDPOINTS = make_config("four", qa=copy.deepcopy(REAL_TIME_PROD))
QA_ARN = package_arn(ENDPOINTS, "dev", 3)


def config_answer(plan) -> dict:
    """DescribeEndpointConfig of the config the deploy plans: one variant on the planned model."""
    return {
        "EndpointConfigName": plan.config_name,
        "EndpointConfigArn": "arn:aws:sagemaker:r:1:endpoint-config/x",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": plan.model_name}],
        "CreationTime": bo.NOW,
    }


def served(recorder, status: str, pending: bool, model_data: str | None = None) -> str:
    """tested_version_problem while the endpoint names the config of QA_ARN's model (the model
    under its name the deploy's, or one loading `model_data`)."""
    plan = plan_for(ENDPOINTS, "qa", QA_ARN)
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    sm.add_response("describe_model_package", package_description(QA_ARN, "PendingManualApproval"))
    endpoint = endpoint_response(ENDPOINTS, "qa", plan.config_name, status)
    if pending:
        endpoint["PendingDeploymentSummary"] = {"EndpointConfigName": "qa-config-of-another-model"}
    sm.add_response("describe_endpoint", endpoint)
    sm.add_response("describe_endpoint_config", config_answer(plan))
    model = bo.described(plan)
    if model_data:
        model["Containers"][0]["ModelDataUrl"] = model_data
    sm.add_response("describe_model", model)
    return model_only.tested_version_problem(ENDPOINTS, Clients(session, ENDPOINTS.region), "qa", QA_ARN)


@pytest.mark.parametrize(("status", "pending"), [("Updating", True), ("Updating", False), ("Failed", False)])
def test_an_endpoint_not_in_service_on_the_versions_config_does_not_serve_it(recorder, status, pending):
    """Someone with the QA deploy role updates the endpoint to another model after the deploy:
    while that update runs, the endpoint still names the tested version's config but its traffic
    moves to the other model, so the suite would score that one."""
    problem = served(recorder, status, pending)
    assert f"is {status}" in problem and "not InService" in problem, problem
    assert recorder.mutating == []


def test_an_endpoint_in_service_on_the_versions_config_serves_it(recorder):
    assert served(recorder, "InService", False) == ""


def test_a_model_under_the_versions_model_name_loading_other_data_does_not_serve_it(recorder):
    """The endpoint deploy uses a model it finds under the planned name as it is: one created
    beforehand under that name (by the QA deploy role's holder), loading another artifact, is
    what the suite would score while the version's own bytes are recorded as tested."""
    problem = served(recorder, "InService", False, "s3://artifacts/models/an-older-good-model.tar.gz")
    assert "an-older-good-model" in problem and "not the model the qa deploy creates" in problem, problem
    assert recorder.mutating == []


def test_an_in_service_endpoint_with_a_pending_deployment_does_not_serve_it(recorder):
    problem = served(recorder, "InService", True)
    assert "qa-config-of-another-model" in problem, problem


@pytest.mark.parametrize("changed", [False, True], ids=["unchanged", "updated and back while testing"])
def test_an_endpoint_changed_while_the_suite_ran_fails_the_test(
    configure, run_cli, recorder, monkeypatch, tmp_path, changed
):
    """The endpoint is checked before the suite, and its config, status and last change again
    after: an update started (and even undone) while the suite ran fails the run, so no QA pass
    is recorded for traffic that may have reached another model."""
    configure(ENDPOINTS)
    plan = plan_for(ENDPOINTS, "qa", QA_ARN)
    session, stubs = stubbed_as(ENDPOINTS, "qa", "sagemaker", "sagemaker-runtime", recorder=recorder)
    sm = stubs["sagemaker"]
    endpoint = endpoint_response(ENDPOINTS, "qa", plan.config_name)
    sm.add_response("describe_endpoint", endpoint)  # before
    sm.add_response("describe_model_package", package_description(QA_ARN, "PendingManualApproval"))
    sm.add_response("describe_endpoint", endpoint)
    sm.add_response("describe_endpoint_config", config_answer(plan))
    sm.add_response("describe_model", bo.described(plan))
    later = dict(endpoint, LastModifiedTime=bo.NOW.replace(hour=13)) if changed else endpoint
    sm.add_response("describe_endpoint", later)  # after
    suite = module("endpoint_tests.suite")
    passing = suite.SuiteReport(True, [suite.Check("ping", True, "healthy")], {"requests": 1}, "endpoint")
    monkeypatch.setattr(suite, "run_suite", lambda *args: passing)
    report = tmp_path / "report.json"
    args = ["endpoint-test", "--env", "qa", "--arn", QA_ARN, "--samples", str(SAMPLE_CSV)]
    code, _, err = run_cli(cli.main, [*args, "--report", str(report)], session)
    written = json.loads(report.read_text())
    if changed:
        assert code == 1 and "the endpoint changed while the suite ran" in err
        assert written["passed"] is False and written["checks"][0]["name"] == "version"
    else:
        assert code == 0 and written["passed"] is True, err
    assert recorder.mutating == []


# --- the version a batch-only prod batch runs ------------------------------------------------------


def test_a_rejected_version_released_later_is_not_the_one_the_prod_batch_runs(recorder):
    """Version 6 was released after 5, then Rejected (a failed release): the prod batch runs 5,
    the Approved version released last. Compared with test_batch_only's
    `test_the_prod_batch_runs_the_version_released_last`, where every version is Approved."""
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    endpoint = bo.CFG.environment("prod").endpoint_name
    versions = {5: ("Approved", "2025-01-09T00:00:00Z"), 6: ("Rejected", "2025-01-20T00:00:00Z")}
    sm.add_response(
        "list_models",
        {
            "Models": [
                {
                    "ModelName": f"{endpoint}-v{n}-0a1b2c3d",
                    "ModelArn": f"arn:aws:sagemaker:r:1:model/{n}",
                    "CreationTime": bo.NOW,
                }
                for n in versions
            ]
        },
    )
    for number, (approval, released) in versions.items():
        arn = package_arn(bo.CFG, "prod", number)
        sm.add_response(
            "describe_model",
            {
                "ModelName": f"{endpoint}-v{number}-0a1b2c3d",
                "ModelArn": "arn:aws:sagemaker:r:1:model/m",
                "Containers": [{"ModelPackageName": arn}],
                "CreationTime": bo.NOW,
            },
        )
        package = package_description(arn, approval)
        package["CustomerMetadataProperties"] = {
            bo.SOURCE_ARN_KEY: package_arn(bo.CFG, "dev", number),
            "released_at": released,
        }
        sm.add_response("describe_model_package", package)
    found = source.released_package_arn(bo.CFG, Clients(session, bo.CFG.region))
    assert found == package_arn(bo.CFG, "prod", 5)
    assert recorder.mutating == []
