"""A batch-only project (endpoint type "none"): its config rules, its deploy (the model alone), its
tests (one transform job over the held-out samples, the endpoint suite's report shape) and the
version its prod batch runs (the one released last among the prod deploy's models).

Exact call sequences with botocore's Stubber; a repeat of a deploy or of a finished test makes no
mutating call; every refusal comes before the first mutating call."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json

import pytest

from deploy_helpers import (
    NOW,
    SAMPLE_CSV,
    described_model,
    make_config,
    make_raw,
    module,
    package_arn,
    package_description,
    plan_for,
    stubbed,
    stubbed_as,
)
from recording import assert_done, not_found

config = module("config")
cli = module("deploy.cli")
transform_test = module("batch.transform_test")
source = module("batch.source")
suite = module("endpoint_tests.suite")
Clients = module("deploy.aws").Clients
DeployError = module("deploy.aws").DeployError
SOURCE_ARN_KEY = module("promotion.version").SOURCE_ARN_KEY
pytestmark = pytest.mark.usefixtures("fake_aws")

NONE = {"type": "none", "autoscaling": {"enabled": False}, "data_capture": {"enabled": False}}


def batch_only_raw(layout: str = "four") -> dict:
    return make_raw(layout, qa=copy.deepcopy(NONE), prod=copy.deepcopy(NONE))


CFG = make_config("four", qa=copy.deepcopy(NONE), prod=copy.deepcopy(NONE))
QA_ARN = package_arn(CFG, "dev", 3)
PROD_ARN = package_arn(CFG, "prod", 5)
SAMPLES = suite.load_samples(SAMPLE_CSV, 40, CFG.model.target_column)
THRESHOLDS = CFG.tests_for("qa")


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda raw: raw["environments"]["prod"]["endpoint"].update(type="real-time"),
            'environments.qa.endpoint.type is "none" but environments.prod.endpoint.type is "real-time"; '
            'expected "none" in both qa and prod',
        ),
        (
            lambda raw: raw["environments"]["qa"]["endpoint"]["data_capture"].update(enabled=True),
            'environments.qa.endpoint.data_capture.enabled is true, but type is "none" (no endpoint)',
        ),
        (
            lambda raw: raw["environments"]["prod"]["endpoint"]["autoscaling"].update(enabled=True),
            'environments.prod.endpoint.autoscaling.enabled is true, but type is "none"',
        ),
        (
            lambda raw: raw["batch"].update(environments={"prod": {}}),
            'environments.qa.endpoint.type is "none", but batch.environments has no qa',
        ),
        (
            lambda raw: raw["champion"]["shadow"].update(enabled=True),
            'environments.prod.endpoint.type is "none"; expected a real-time prod endpoint',
        ),
        (
            lambda raw: raw["model"].update(segments={"column": "region", "values": ["eu", "us"]}),
            'environments.qa.endpoint.type is "none", but model.segments is on',
        ),
    ],
)
def test_a_batch_only_config_is_refused_naming_the_setting(change, message):
    raw = batch_only_raw()
    change(raw)
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw)
    assert message in str(caught.value)


def test_a_half_switched_project_is_told_both_or_neither_first():
    """Only prod switched to "none" in an endpoints config (its other keys still an endpoint's),
    or only QA switched back to an incomplete endpoint in a batch-only one: the first error is the
    rule that matters, not one about the keys of the half that changed."""
    raw = make_raw("four")
    raw["environments"]["prod"]["endpoint"]["type"] = "none"  # autoscaling and capture still on
    with pytest.raises(config.ConfigError, match='expected "none" in both qa and prod'):
        config.parse(raw)
    raw = batch_only_raw()
    raw["environments"]["qa"]["endpoint"] = {"type": "real-time"}
    with pytest.raises(config.ConfigError, match='expected "none" in both qa and prod'):
        config.parse(raw)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (
            "instance_type",
            "environments.qa.endpoint.instance_type is missing; expected an ml.* instance type",
        ),
        (
            "alarms",
            "environments.qa.endpoint.alarms.error_5xx_threshold is missing; expected a positive number",
        ),
    ],
)
def test_switching_back_to_endpoints_names_each_missing_key(drop, message):
    raw = make_raw("four")
    raw["environments"]["qa"]["endpoint"]["type"] = "real-time"
    del raw["environments"]["qa"]["endpoint"][drop]
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw)
    assert str(caught.value).startswith(message)


def test_make_config_shows_where_batch_files_and_test_rows_go():
    """`make config` of a batch-only project names the batch input and output (where the
    customer files go) and the transform tests' prefixes, and no data capture it never uses."""
    described = config.describe(CFG)["environments"]
    bucket = f"s3://{CFG.environment('prod').capture_bucket}/"
    prod = described["prod"]
    assert prod["batch"]["input"] == bucket + "batch/prod/input/"
    assert prod["batch"]["role"].endswith(f":role/{CFG.role_name('github_batch_prod')}")
    assert prod["transform_tests"] == {
        "input": bucket + "batch/prod/tests/input/",
        "output": bucket + "batch/prod/tests/output/",
    }
    assert "data_capture" not in prod
    endpoints = config.describe(make_config("four"))["environments"]["prod"]
    assert "transform_tests" not in endpoints and endpoints["data_capture"].endswith("/data-capture/prod")


def test_a_batch_only_environment_plans_the_model_alone():
    plan = plan_for(CFG, "qa", QA_ARN)
    assert CFG.environment("qa").endpoint.batch_only and CFG.environment("prod").endpoint.batch_only
    assert plan.config_name == "" and plan.config_request == {}
    assert plan.alarms == [] and plan.autoscaling is None and plan.deployment_config is None
    assert plan.model_name.startswith(f"{CFG.environment('qa').endpoint_name}-v3-")
    assert plan.model_request["EnableNetworkIsolation"] is True
    prod = plan_for(CFG, "prod", PROD_ARN)
    assert prod.model_request["Containers"] == [{"ModelPackageName": PROD_ARN}]


# --- deploy and rollback --------------------------------------------------------------------


def described(plan) -> dict:
    """DescribeModel of the model the deploy creates for `plan`."""
    return described_model(plan)


def deploy_session(recorder, *responses):
    session, stubs = stubbed_as(CFG, "qa", "sagemaker", recorder=recorder)
    stubs["sagemaker"].add_response(
        "describe_model_package", package_description(QA_ARN, "PendingManualApproval")
    )
    for response in responses:
        response(stubs["sagemaker"])
    return session, stubs


def test_deploy_creates_the_model_and_a_repeat_makes_no_mutating_call(configure, run_cli, recorder):
    configure(CFG)
    plan = plan_for(CFG, "qa", QA_ARN)

    def create(sm):
        not_found(sm, "describe_model")
        sm.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:r:1:model/x"}, plan.model_request)

    session, stubs = deploy_session(recorder, create)
    code, out, _ = run_cli(cli.main, ["deploy", "--env", "qa", "--arn", QA_ARN], session=session)
    assert code == 0, out
    assert (
        f"model_name={plan.model_name}\n" in out and "action=created\n" in out and "endpoint_name=\n" in out
    )
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "DescribeModel",
        "CreateModel",
    ]
    assert_done(stubs)

    recorder.calls.clear()
    session, stubs = deploy_session(recorder, lambda sm: sm.add_response("describe_model", described(plan)))
    code, out, _ = run_cli(cli.main, ["deploy", "--env", "qa", "--arn", QA_ARN], session=session)
    assert code == 0 and "action=unchanged\n" in out and "changed=false\n" in out
    assert recorder.mutating == [] and recorder.invalid == []
    assert_done(stubs)


def test_deploy_refuses_another_model_under_the_planned_name(configure, run_cli, recorder):
    configure(CFG)
    plan = plan_for(CFG, "qa", QA_ARN)
    forged = described(plan)
    forged["Containers"][0]["ModelDataUrl"] = "s3://elsewhere/model.tar.gz"
    session, _ = deploy_session(recorder, lambda sm: sm.add_response("describe_model", forged))
    code, _, err = run_cli(cli.main, ["deploy", "--env", "qa", "--arn", QA_ARN], session=session)
    assert code == 1 and "ModelDataUrl is 's3://elsewhere/model.tar.gz'" in err
    assert recorder.mutating == []


def test_rollback_of_a_batch_only_environment_has_nothing_to_do(configure, run_cli, recorder):
    configure(CFG)
    session, _ = stubbed_as(CFG, "prod", recorder=recorder)
    code, out, err = run_cli(cli.main, ["rollback", "--env", "prod"], session=session)
    assert code == 0 and "changed=false\n" in out and "nothing to roll back" in err
    assert recorder.operations == ["GetCallerIdentity"]


# --- the transform test ---------------------------------------------------------------------


def answer(data, flip: bool = False) -> str:
    """What the job writes: each record, a comma, then label,probability (the true label, or
    its opposite with `flip`; the all-missing record gets 0)."""
    records = data.text.splitlines()
    labels = [*data.labels, 0][: len(records)]
    return "".join(f"{line},{(1 - y) if flip else y},0.75\n" for line, y in zip(records, labels, strict=True))


# The job's run, and when its output was written within it.
START = NOW + dt.timedelta(minutes=3)
END = START + dt.timedelta(minutes=4)
WRITTEN = START + dt.timedelta(minutes=3)


def job_response(name: str, status: str, plan, input_uri: str, reason: str | None = None) -> dict:
    """DescribeTransformJob of the test's own job: its request as sent, with status and times."""
    output = input_uri.replace("/tests/input/", "/tests/output/")
    request = module("batch.job").transform_request(CFG, "qa", plan, name, input_uri, output, [])
    del request["Tags"]
    job = {
        **request,
        "TransformJobArn": f"arn:aws:sagemaker:{CFG.region}:1:transform-job/{name}",
        "TransformJobStatus": status,
        "CreationTime": NOW,
        "TransformStartTime": START,
        "TransformEndTime": END,
    }
    if reason:
        job["FailureReason"] = reason
    return job


class TestWorld:
    """The Stubber answers of one `endpoint-test --env qa --arn` of a batch-only QA."""

    def __init__(self, recorder):
        self.plan = plan_for(CFG, "qa", QA_ARN)
        self.data = transform_test.test_input(SAMPLES)
        env = CFG.environment("qa")
        self.name = transform_test.test_job_name(env.endpoint_name, self.plan.model_name, self.data)
        prefixes = CFG.names.batch_test_prefixes["qa"]
        self.bucket = env.capture_bucket
        self.input_key = f"{prefixes['input']}{self.name}/test.csv"
        self.input_uri = f"s3://{self.bucket}/{prefixes['input']}{self.name}/"
        self.output_key = f"{prefixes['output']}{self.name}/test.csv.out"
        self.session, self.stubs = stubbed_as(CFG, "qa", "sagemaker", "s3", recorder=recorder)
        self.sm, self.s3 = self.stubs["sagemaker"], self.stubs["s3"]
        self.sm.add_response("describe_model_package", package_description(QA_ARN, "PendingManualApproval"))
        self.sm.add_response("describe_model", described(self.plan))

    def new_job(self, status: str = "Completed", reason: str | None = None) -> None:
        not_found(self.sm, "describe_transform_job")
        self.s3.add_response(
            "put_object",
            {},
            {
                "Bucket": self.bucket,
                "Key": self.input_key,
                "Body": self.data.text.encode(),
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": CFG.environment("qa").capture_key_arn,
            },
        )
        self.sm.add_response("create_transform_job", {"TransformJobArn": "arn:x"})
        self.sm.add_response(
            "describe_transform_job", job_response(self.name, status, self.plan, self.input_uri, reason)
        )
        if status == "Completed":
            self.model_again()

    def model_again(self, model: dict | None = None) -> None:
        """DescribeModel once the job ended: the planned model, created before the job."""
        self.sm.add_response("describe_model", model or described(self.plan))

    def output(self, text: str | None, versions: list[dt.datetime] | None = None, deleted: int = 0) -> None:
        """The output object: ListObjectVersions (one version written while the job ran, or
        `versions`' times, and `deleted` delete markers), then GetObject of the version read."""
        written = [WRITTEN] if versions is None else versions
        listing: dict = {"Versions": [], "DeleteMarkers": []}
        if text is not None:
            listing["Versions"] = [
                {"Key": self.output_key, "VersionId": f"v{i}", "LastModified": at, "IsLatest": i == 0}
                for i, at in enumerate(written)
            ]
            listing["DeleteMarkers"] = [
                {"Key": self.output_key, "VersionId": f"d{i}", "LastModified": WRITTEN}
                for i in range(deleted)
            ]
        self.s3.add_response(
            "list_object_versions", listing, {"Bucket": self.bucket, "Prefix": self.output_key}
        )
        if text is not None and len(written) == 1 and not deleted and START <= written[0] <= END:
            self.s3.add_response(
                "get_object",
                {"Body": io.BytesIO(text.encode())},
                {"Bucket": self.bucket, "Key": self.output_key, "VersionId": "v0"},
            )

    def run(self, run_cli, tmp_path, *extra):
        report = tmp_path / "report.json"
        args = ["endpoint-test", "--env", "qa", "--arn", QA_ARN, "--samples", str(SAMPLE_CSV), "--rows", "40"]
        code, out, err = run_cli(
            cli.main, [*args, "--report", str(report), "--poll-interval", "0", *extra], self.session
        )
        return code, out, err, json.loads(report.read_text()) if report.exists() else None


def test_the_transform_test_writes_the_samples_runs_one_job_and_passes(
    configure, run_cli, recorder, tmp_path
):
    configure(CFG)
    world = TestWorld(recorder)
    world.new_job()
    world.output(answer(world.data))
    code, out, err, report = world.run(run_cli, tmp_path)
    assert code == 0, err
    assert "passed=true" in out
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "DescribeModel",
        "DescribeTransformJob",
        "PutObject",
        "CreateTransformJob",
        "DescribeTransformJob",
        "DescribeModel",
        "ListObjectVersions",
        "GetObject",
    ]
    assert recorder.invalid == []
    assert [c["name"] for c in report["checks"]] == [
        "model",
        "transform job",
        "outputs",
        "accuracy",
        "missing values",
    ]
    assert report["passed"] is True and report["latency"] == {}
    assert "1.000 on 40 labelled rows" in report["checks"][3]["detail"]
    assert_done(world.stubs)


def test_the_test_job_request_is_the_scheduled_runs_shape_under_the_tests_prefixes():
    world_plan = plan_for(CFG, "qa", QA_ARN)
    data = transform_test.test_input(SAMPLES)
    lines = data.text.splitlines()
    assert len(lines) == len(SAMPLES) + 1 and set(lines[-1]) == {","}  # the all-missing record last
    assert "," + CFG.model.target_column not in lines[0]
    name = transform_test.test_job_name(CFG.environment("qa").endpoint_name, world_plan.model_name, data)
    assert len(name) <= 63 and "-t" in name
    other = transform_test.test_input(SAMPLES[:-1])
    assert (
        transform_test.test_job_name(CFG.environment("qa").endpoint_name, world_plan.model_name, other)
        != name
    )


@pytest.mark.parametrize(
    ("status", "output", "failed", "detail"),
    [
        ("Completed", "flip", ["accuracy"], "0.000 on 40 labelled rows, min 0.8"),
        ("Completed", None, ["outputs", "accuracy", "missing values"], "test.csv: no test.csv.out"),
        ("Completed", "short", ["outputs", "accuracy", "missing values"], "40 rows for 41 input rows"),
        (
            "Completed",
            "unjoined",
            ["outputs", "accuracy", "missing values"],
            "does not start with input line 1",
        ),
        ("Completed", "bad", ["outputs", "accuracy", "missing values"], "the prediction cannot be read"),
        (
            "Failed",
            "",
            ["transform job", "outputs", "accuracy", "missing values"],
            "Failed: ClientError: 400",
        ),
    ],
)
def test_a_failing_transform_test_is_a_failed_report(
    configure, run_cli, recorder, tmp_path, status, output, failed, detail
):
    configure(CFG)
    world = TestWorld(recorder)
    world.new_job(status, "ClientError: 400" if status == "Failed" else None)
    good = answer(world.data)
    texts = {
        "flip": answer(world.data, flip=True),
        None: None,
        "short": "".join(good.splitlines(keepends=True)[:-1]),
        "unjoined": "x" + good,
        "bad": good.replace(",0.75\n", ",1.75\n", 1),
    }
    if status == "Completed":
        world.output(texts[output])
    code, out, err, report = world.run(run_cli, tmp_path)
    assert code == 1 and "passed=false" in out
    assert [c["name"] for c in report["checks"] if not c["passed"]] == failed
    assert any(detail in c["detail"] for c in report["checks"]), report["checks"]
    assert "error: endpoint tests failed against" in err
    assert_done(world.stubs)


@pytest.mark.parametrize(
    ("versions", "deleted", "detail"),
    [
        ([WRITTEN, END + dt.timedelta(minutes=1)], 0, "written 2 time(s) and deleted 0 time(s)"),
        ([WRITTEN], 1, "written 1 time(s) and deleted 1 time(s)"),
        ([END + dt.timedelta(minutes=2)], 0, "outside the job's run"),
        ([START - dt.timedelta(minutes=2)], 0, "outside the job's run"),
    ],
    ids=["overwritten", "deleted and written again", "written after the job", "written before the job"],
)
def test_an_output_the_job_did_not_write_alone_is_not_read(
    configure, run_cli, recorder, tmp_path, versions, deleted, detail
):
    """Any test job of the environment writes as the endpoint role, so another one can write into
    this test's output folder: the capture bucket keeps versions, and only the one version written
    while this job ran, and nothing after it, is read (a passing answer written over a failing
    one fails the test)."""
    configure(CFG)
    world = TestWorld(recorder)
    world.new_job()
    world.output(answer(world.data), versions, deleted)
    code, _, _, report = world.run(run_cli, tmp_path)
    outputs = next(c for c in report["checks"] if c["name"] == "outputs")
    assert code == 1 and not outputs["passed"] and detail in outputs["detail"], outputs
    assert "GetObject" not in recorder.operations
    assert_done(world.stubs)


def test_a_repeat_reads_the_finished_job_and_makes_no_mutating_call(configure, run_cli, recorder, tmp_path):
    configure(CFG)
    world = TestWorld(recorder)
    world.sm.add_response(
        "describe_transform_job", job_response(world.name, "Completed", world.plan, world.input_uri)
    )
    world.model_again()
    world.output(answer(world.data))
    code, _, err, report = world.run(run_cli, tmp_path)
    assert code == 0 and report["passed"], err
    assert recorder.mutating == []
    assert_done(world.stubs)


def test_a_job_under_the_tests_name_on_another_model_fails_the_test(configure, run_cli, recorder, tmp_path):
    configure(CFG)
    world = TestWorld(recorder)
    other = job_response(world.name, "Completed", world.plan, world.input_uri)
    other["ModelName"] = "someone-elses-model"
    world.sm.add_response("describe_transform_job", other)
    code, _, _, report = world.run(run_cli, tmp_path)
    assert code == 1 and not report["passed"]
    assert "runs model someone-elses-model, not " in report["checks"][-1]["detail"]
    assert recorder.mutating == []


def test_a_model_that_is_not_the_deploys_fails_before_any_job(configure, run_cli, recorder, tmp_path):
    configure(CFG)
    session, stubs = stubbed_as(CFG, "qa", "sagemaker", "s3", recorder=recorder)
    stubs["sagemaker"].add_response(
        "describe_model_package", package_description(QA_ARN, "PendingManualApproval")
    )
    not_found(stubs["sagemaker"], "describe_model")
    report = tmp_path / "r.json"
    args = [
        "endpoint-test",
        "--env",
        "qa",
        "--arn",
        QA_ARN,
        "--samples",
        str(SAMPLE_CSV),
        "--report",
        str(report),
    ]
    code, _, _ = run_cli(cli.main, args, session)
    checks = json.loads(report.read_text())["checks"]
    assert code == 1 and checks[0]["name"] == "model" and "does not exist" in checks[0]["detail"]
    assert recorder.mutating == []


def test_a_batch_only_test_without_arn_is_a_usage_error(configure, run_cli, recorder):
    configure(CFG)
    session, _ = stubbed_as(CFG, "qa", recorder=recorder)
    code, _, err = run_cli(cli.main, ["endpoint-test", "--env", "qa"], session=session)
    assert code == 2 and 'type is "none" (batch-only): give --arn' in err
    assert recorder.mutating == []


def test_with_rollback_on_failure_a_failed_transform_test_says_there_is_nothing_to_roll_back(
    configure, run_cli, recorder, tmp_path
):
    configure(CFG)
    world = TestWorld(recorder)
    world.new_job()
    world.output(answer(world.data, flip=True))
    code, _, err, _ = world.run(run_cli, tmp_path, "--rollback-on-failure")
    assert code == 1 and "the qa transform test failed (accuracy); no endpoint to roll back" in err
    assert recorder.operations[-2:] == ["ListObjectVersions", "GetObject"]  # no UpdateEndpoint after


def test_single_feature_models_send_no_all_missing_record():
    data = transform_test.test_input([({"age": 3}, 1), ({"age": 5}, 0)])
    assert data.text == "3\n5\n" and not data.missing_row and data.labels == (1, 0)
    checks = transform_test.result_checks(data, "3,1,0.9\n5,0,0.2\n", THRESHOLDS)
    assert [c.passed for c in checks] == [True, True, True]
    assert "not sent" in checks[2].detail
    with pytest.raises(ValueError, match="at least one labelled sample"):
        transform_test.test_input([])


# --- the version a batch-only prod batch runs ---------------------------------------------


def prod_models(
    sm, versions: dict[int, str | None], approval: str = "Approved", others: bool = False
) -> None:
    """ListModels of the prod deploy's models, each built from prod version N (released at the
    given time, or never), then DescribeModel and DescribeModelPackage per model. With `others`,
    the listing also holds names that merely contain the endpoint's (never described)."""
    endpoint = CFG.environment("prod").endpoint_name
    foreign = [f"x-{endpoint}-v9-0a1b2c3d", f"{endpoint}-v9-shadow", f"{endpoint}-shadow-v9-0a1b2c3d"]
    sm.add_response(
        "list_models",
        {
            "Models": [
                {
                    "ModelName": f"{endpoint}-v{n}-0a1b2c3d",
                    "ModelArn": f"arn:aws:sagemaker:r:1:model/{n}",
                    "CreationTime": NOW,
                }
                for n in versions
            ]
            + [
                {"ModelName": name, "ModelArn": "arn:aws:sagemaker:r:1:model/o", "CreationTime": NOW}
                for name in foreign
            ]
            * others
        },
        {"NameContains": endpoint[:40], "MaxResults": 100},
    )
    for number, released in versions.items():
        arn = package_arn(CFG, "prod", number)
        sm.add_response(
            "describe_model",
            {
                "ModelName": f"{endpoint}-v{number}-0a1b2c3d",
                "ModelArn": "arn:aws:sagemaker:r:1:model/m",
                "Containers": [{"ModelPackageName": arn}],
                "CreationTime": NOW,
            },
        )
        package = package_description(arn, approval)
        package["CustomerMetadataProperties"] = {SOURCE_ARN_KEY: package_arn(CFG, "dev", number)}
        if released:
            package["CustomerMetadataProperties"]["released_at"] = released
        sm.add_response("describe_model_package", package)


def test_the_prod_batch_runs_the_version_released_last(recorder):
    session, stubs = stubbed("sagemaker", recorder=recorder)
    prod_models(
        stubs["sagemaker"], {4: "2025-01-02T00:00:00Z", 5: "2025-01-09T00:00:00Z", 6: None}, others=True
    )
    assert source.released_package_arn(CFG, Clients(session, CFG.region)) == package_arn(CFG, "prod", 5)
    assert recorder.mutating == []
    assert_done(stubs)


def test_the_prod_batch_refuses_when_nothing_was_released_or_the_lock_names_another(recorder):
    session, stubs = stubbed("sagemaker", recorder=recorder)
    prod_models(stubs["sagemaker"], {6: None})
    with pytest.raises(DeployError, match=r"no model .*-v\* of a released prod version"):
        source.released_package_arn(CFG, Clients(session, CFG.region))
    prod_models(stubs["sagemaker"], {5: "2025-01-09T00:00:00Z"})
    stubs["sagemaker"].add_response("describe_model_package", _released(5))
    lock = {"model_package_arn": package_arn(CFG, "dev", 6), "artifact": {"sha256": "a" * 64}}
    with pytest.raises(DeployError, match=r"promoted from .*/5, but the lock names .*/6"):
        source.prod_version(CFG, Clients(session, CFG.region), lock)
    assert recorder.mutating == []


def _released(number: int) -> dict:
    package = package_description(package_arn(CFG, "prod", number), "Approved")
    package["CustomerMetadataProperties"] = {
        SOURCE_ARN_KEY: package_arn(CFG, "dev", number),
        "released_at": "2025-01-09T00:00:00Z",
    }
    return package
