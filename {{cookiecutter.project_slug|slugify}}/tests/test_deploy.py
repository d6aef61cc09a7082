"""Create-or-update deploys: names, request bodies, and the exact AWS calls of each path.

moto (one simulated account per role) runs first deploys, repeats, a re-run after a crash
before CreateEndpoint, cleanup and the cross-account layout. moto keeps accounts apart and
has no resource policies, so four-account deploys read the package with the shared-services
session (`registry_session`), standing in for the group policy that lets the workload account
describe it on AWS. moto 5.2.5 has no
UpdateEndpoint, so updates and their failures (Failed endpoint, silent revert, timeout, a
re-run after a crash before UpdateEndpoint) run against botocore's Stubber; every such test
asserts the exact operation sequence and the command's exit status.
"""

from __future__ import annotations

import time

import pytest
from moto import mock_aws

from deploy_helpers import (
    INFERENCE_SPEC,
    REAL_TIME_PROD,
    REGION,
    Accounts,
    Recorder,
    endpoint_response,
    fake_aws_env,
    make_config,
    make_raw,
    module,
    not_found,
    package_arn,
    package_description,
    plan_for,
    register_version,
    stubbed,
    write_config,
)

config = module("config")
endpoint = module("deploy.endpoint")
deploy_module = module("deploy.deploy")
cli = module("deploy.cli")
aws = module("deploy.aws")
DeployError = aws.DeployError
Clients = aws.Clients

PROD_REAL_TIME = REAL_TIME_PROD
QA_SERVERLESS = {
    "type": "serverless",
    "serverless": {"memory_mb": 2048, "max_concurrency": 5},
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": False},
}


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch):
    fake_aws_env(monkeypatch)


def config_for(layout="four"):
    """Fixed endpoint settings so the call sequences do not depend on the baked answers."""
    return make_config(layout, prod=PROD_REAL_TIME, qa=QA_SERVERLESS)


def run(args, session, capsys, registry=None):
    code = cli.main(args, session=session, registry_session=registry)
    out, err = capsys.readouterr()
    return code, out, err


# --- names and request bodies (no AWS) -------------------------------------------------


def test_names_are_deterministic_versioned_and_fit_63_characters():
    cfg = config_for()
    first = plan_for(cfg, "prod", package_arn(cfg, "prod", 7))
    again = plan_for(cfg, "prod", package_arn(cfg, "prod", 7))
    other = plan_for(cfg, "prod", package_arn(cfg, "prod", 8))
    name = cfg.environment("prod").endpoint_name
    assert (first.model_name, first.config_name) == (again.model_name, again.config_name)
    assert first.config_name.startswith(f"{name}-v7-") and other.config_name.startswith(f"{name}-v8-")
    assert first.config_name != other.config_name and first.model_name != other.model_name
    tweaked = make_config("four", prod={**PROD_REAL_TIME, "instance_type": "ml.c5.xlarge"}, qa=QA_SERVERLESS)
    changed = plan_for(tweaked, "prod", package_arn(cfg, "prod", 7))
    assert changed.model_name == first.model_name and changed.config_name != first.config_name
    long_name = endpoint.versioned_name("m" * 60 + "-prod", 123456789, "abcdef12")
    assert len(long_name) == 63 and long_name.endswith("-v123456789-abcdef12")


@pytest.mark.parametrize("layout", ["four", "single", "baked"])
def test_plan_builds_the_cross_account_model_and_blue_green_update(layout):
    cfg = make_config(layout, prod=PROD_REAL_TIME)
    arn = package_arn(cfg, "prod", 3)
    plan = plan_for(cfg, "prod", arn)
    accounts = cfg.accounts
    assert plan.model_request["Containers"] == [{"ModelPackageName": arn}]
    assert plan.model_request["ExecutionRoleArn"] == (
        f"arn:aws:iam::{accounts['prod']}:role/{cfg.role_name('sagemaker_endpoint')}"
    )
    capture = plan.config_request["DataCaptureConfig"]
    prod_env = cfg.environment("prod")
    assert capture["DestinationS3Uri"] == f"s3://{prod_env.capture_bucket}/data-capture/prod"
    assert capture["KmsKeyId"] == f"arn:aws:kms:{REGION}:{accounts['prod']}:{prod_env.capture_key_alias}"
    assert capture["InitialSamplingPercentage"] == 20
    assert plan.deployment_config == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 600,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 1800,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": n} for n in endpoint.alarm_names(plan.settings)],
        },
    }
    latency = plan.alarms[1]
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "ModelLatency",
        "p99",
        500_000.0,
    )
    assert plan.autoscaling[1]["TargetTrackingScalingPolicyConfiguration"][
        "PredefinedMetricSpecification"
    ] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}


def test_data_capture_always_uses_the_environment_capture_bucket_and_key():
    """The shared-bucket fallback is gone: the workload stack always creates the capture bucket,
    so the capture bucket and key are derived, whatever `registry.kms_key_arn` says, and the
    settings that used to name them are refused with their key path."""
    raw = make_raw("four", prod=PROD_REAL_TIME)
    raw["registry"]["kms_key_arn"] = (
        f"arn:aws:kms:{REGION}:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    cfg = config.parse(raw)
    capture = plan_for(cfg, "prod", package_arn(cfg, "prod", 3)).config_request["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == f"s3://{cfg.environment('prod').capture_bucket}/data-capture/prod"
    assert capture["KmsKeyId"] == f"arn:aws:kms:{REGION}:444444444444:{cfg.names.capture_key_alias}"
    for key in ("data_capture_bucket", "data_capture_kms_key_alias"):
        raw = make_raw("four", prod=PROD_REAL_TIME)
        raw["environments"]["prod"][key] = "shared"
        with pytest.raises(config.ConfigError, match=rf"^environments\.prod\.{key} is not a setting"):
            config.parse(raw)


def test_linear_traffic_shifting_and_serverless_variants():
    cfg = make_config(
        "four",
        prod={
            **PROD_REAL_TIME,
            "traffic_shifting": {"type": "LINEAR", "linear_step_percent": 25, "wait_seconds": 60},
        },
        qa=QA_SERVERLESS,
    )
    prod = plan_for(cfg, "prod", package_arn(cfg, "prod", 1))
    routing = prod.deployment_config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 60,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
    }
    assert prod.timeout == endpoint.PROVISIONING_ALLOWANCE_SECONDS + 4 * 60 + 300
    qa = plan_for(cfg, "qa", package_arn(cfg, "dev", 1))
    assert qa.config_request["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 5,
    }
    assert "DataCaptureConfig" not in qa.config_request
    assert (qa.alarms, qa.deployment_config, qa.autoscaling) == ([], None, None)


@pytest.mark.parametrize(
    ("env", "kind", "message"),
    [
        ("prod", "dev", "expected the prod group"),
        ("qa", "prod", "expected the dev group"),
        ("qa", "feature", "expected the dev group"),
    ],
)
def test_plan_refuses_versions_from_the_wrong_group(env, kind, message):
    cfg = config_for()
    with pytest.raises(DeployError, match=message):
        plan_for(cfg, env, package_arn(cfg, kind, 1))


def test_qa_model_is_built_from_the_package_containers_and_prod_from_its_arn():
    """SageMaker refuses CreateModel from the ARN of a version that is not Approved; QA runs
    such versions, so its model takes the containers; prod keeps the ARN (SageMaker then
    enforces Approved). Both requests pass botocore's CreateModel validation."""
    cfg = config_for()
    dev_arn = package_arn(cfg, "dev", 3)
    package = package_description(dev_arn, "PendingManualApproval")
    data_source = {
        "S3DataSource": {
            "S3Uri": "s3://artifacts/models/v3/",
            "S3DataType": "S3Prefix",
            "CompressionType": "None",
        }
    }
    image = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
    package["InferenceSpecification"]["Containers"].append(
        {
            "Image": image,
            "ModelDataSource": data_source,
            "ImageDigest": "sha256:" + "0" * 64,
            "Framework": "XGBOOST",
            "NearestModelName": "xgboost",
        }
    )
    qa = endpoint.plan(cfg, "qa", dev_arn, package)
    assert qa.model_request["Containers"] == [
        INFERENCE_SPEC["Containers"][0],
        {"Image": image, "ModelDataSource": data_source},
    ]
    tags = {t["Key"]: t["Value"] for t in qa.model_request["Tags"]}
    assert (tags["model-package-arn"], tags["model-package-version"]) == (dev_arn, "3")
    assert qa.model_name == endpoint.plan(cfg, "qa", dev_arn, package).model_name
    prod_arn = package_arn(cfg, "prod", 3)
    prod = plan_for(cfg, "prod", prod_arn)
    assert prod.model_request["Containers"] == [{"ModelPackageName": prod_arn}]
    session, stubs = stubbed("sagemaker")
    for request in (qa.model_request, prod.model_request):
        stubs["sagemaker"].add_response("create_model", {"ModelArn": SOME_ARN}, request)
        session.client("sagemaker").create_model(**request)
    stubs["sagemaker"].assert_no_pending_responses()


def test_plan_refuses_tag_values_sagemaker_would_refuse():
    raw = make_raw("four", prod=PROD_REAL_TIME, qa=QA_SERVERLESS)
    raw["project"]["slug"] = "churn#1"
    cfg = config.parse(raw)
    with pytest.raises(DeployError, match=r"tag 'project' value contains '#', which SageMaker refuses"):
        plan_for(cfg, "prod", package_arn(cfg, "prod", 1))


@pytest.mark.parametrize(
    ("containers", "message"),
    [
        ([], "has no InferenceSpecification containers"),
        ([{"ModelDataUrl": "s3://artifacts/model.tar.gz"}], "container 1 of model package .* names no image"),
    ],
)
def test_qa_refuses_a_package_without_a_usable_container(containers, message):
    cfg = config_for()
    arn = package_arn(cfg, "dev", 2)
    package = package_description(arn, "PendingManualApproval")
    package["InferenceSpecification"]["Containers"] = containers
    with pytest.raises(DeployError, match=message):
        endpoint.plan(cfg, "qa", arn, package)


@pytest.mark.parametrize(
    ("env", "settings", "message"),
    [
        (
            "prod",
            {"traffic_shifting": {"type": "CANARY", "canary_percent": 60}},
            "canary_percent must be 1-50",
        ),
        (
            "prod",
            {"traffic_shifting": {"type": "LINEAR", "linear_step_percent": 5}},
            "linear_step_percent must be 10-50",
        ),
        (
            "prod",
            {"traffic_shifting": {"type": "ROLLING"}},
            'traffic_shifting.type is "ROLLING"; expected one of CANARY, LINEAR, ALL_AT_ONCE',
        ),
        (
            "prod",
            {"autoscaling": {"enabled": True, "min_capacity": 3, "max_capacity": 2}},
            "min_capacity <= max_capacity",
        ),
        (
            "prod",
            {"alarms": {"error_5xx_threshold": 0, "model_latency_p99_ms": 500}},
            "error_5xx_threshold must be",
        ),
        ("prod", {"type": "batch"}, 'type is "batch"; expected one of real-time, serverless'),
        (
            "qa",
            {"data_capture": {"enabled": True, "sampling_percent": 5}},
            "serverless endpoints do not support it",
        ),
        ("qa", {"serverless": {"memory_mb": 1500, "max_concurrency": 5}}, "memory_mb is 1500"),
    ],
)
def test_invalid_endpoint_settings_fail_with_the_setting_named(env, settings, message):
    """Endpoint settings are validated when the config is parsed; the error names the key path."""
    base = PROD_REAL_TIME if env == "prod" else QA_SERVERLESS
    with pytest.raises(config.ConfigError, match=rf"^environments\.{env}\.endpoint\..*{message}"):
        make_config("four", **{env: {**base, **settings}})


# --- moto: first deploy, repeat, crash re-run, cleanup, cross-account ------------------

FIRST_DEPLOY_PROD = [
    "GetCallerIdentity",
    "DescribeModelPackage",
    "DescribeEndpoint",
    "DescribeModel",
    "CreateModel",
    "DescribeEndpointConfig",
    "CreateEndpointConfig",
    "DescribeAlarms",
    "PutMetricAlarm",
    "PutMetricAlarm",
    "CreateEndpoint",
    "DescribeEndpoint",
    "DescribeScalableTargets",
    "RegisterScalableTarget",
    "DescribeScalingPolicies",
    "PutScalingPolicy",
    "ListEndpointConfigs",
]
REPEAT_DEPLOY_PROD = [
    "GetCallerIdentity",
    "DescribeModelPackage",
    "DescribeEndpoint",
    "DescribeAlarms",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
]


@pytest.mark.parametrize("layout", ["four", "single"])
def test_first_deploy_then_repeat_of_the_same_arn(tmp_path, monkeypatch, capsys, layout):
    cfg = config_for(layout)
    write_config(cfg, tmp_path, monkeypatch)
    recorder = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        arn = register_version(accounts.session("shared_services"), cfg, kind="prod", status="Approved")
        prod = recorder.attach(accounts.session("prod"))
        registry = recorder.attach(accounts.session("shared_services"))
        args = ["deploy", "--env", "prod", "--arn", arn, "--poll-interval", "0"]
        code, out, err = run(args, prod, capsys, registry)
        assert code == 0, err
        assert recorder.operations == FIRST_DEPLOY_PROD
        assert len(recorder.mutating) == 7
        assert "action=created" in out.splitlines()
        plan = plan_for(cfg, "prod", arn)
        sm = prod.client("sagemaker")
        live = sm.describe_endpoint(EndpointName=plan.settings.endpoint_name)
        assert live["EndpointConfigName"] == plan.config_name
        assert sm.describe_model(ModelName=plan.model_name)["Containers"] == [{"ModelPackageName": arn}]
        alarms = prod.client("cloudwatch").describe_alarms()["MetricAlarms"]
        assert sorted(a["AlarmName"] for a in alarms) == sorted(endpoint.alarm_names(plan.settings))
        targets = prod.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker"
        )
        assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]] == [(2, 4)]

        recorder.clear()
        code, out, err = run(args, prod, capsys, registry)
        assert code == 0, err
        assert recorder.operations == REPEAT_DEPLOY_PROD
        assert recorder.mutating == []
        assert "action=unchanged" in out.splitlines()
        assert "nothing to deploy" in err


@pytest.mark.parametrize("layout", ["four", "single"])
def test_qa_deploys_a_pending_version_from_its_containers(tmp_path, monkeypatch, capsys, layout):
    """The dev push deploys the version it just registered (PendingManualApproval) to QA.
    SageMaker refuses a model created from the ARN of a version that is not Approved, so the
    QA model is built from the package's containers and tagged with the ARN and version; a
    serverless first deploy makes three changes and a repeat none."""
    cfg = config_for(layout)
    write_config(cfg, tmp_path, monkeypatch)
    recorder = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        shared = accounts.session("shared_services")
        arn = register_version(shared, cfg)
        assert shared.client("sagemaker").describe_model_package(ModelPackageName=arn)[
            "ModelApprovalStatus"
        ] == ("PendingManualApproval")
        qa = recorder.attach(accounts.session("qa"))
        registry = recorder.attach(accounts.session("shared_services"))
        args = ["deploy", "--env", "qa", "--arn", arn, "--poll-interval", "0"]
        code, _, err = run(args, qa, capsys, registry)
        assert code == 0, err
        assert recorder.operations == [
            "GetCallerIdentity",
            "DescribeModelPackage",
            "DescribeEndpoint",
            "DescribeModel",
            "CreateModel",
            "DescribeEndpointConfig",
            "CreateEndpointConfig",
            "CreateEndpoint",
            "DescribeEndpoint",
            "ListEndpointConfigs",
        ]
        assert recorder.mutating == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
        plan = plan_for(cfg, "qa", arn)
        sm = qa.client("sagemaker")
        model = sm.describe_model(ModelName=plan.model_name)
        assert model["Containers"] == INFERENCE_SPEC["Containers"]
        assert all("ModelPackageName" not in c for c in model["Containers"])
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
        assert (tags["model-package-arn"], tags["model-package-version"]) == (arn, "1")

        recorder.clear()
        code, out, err = run(args, qa, capsys, registry)
        assert code == 0, err
        assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage", "DescribeEndpoint"]
        assert "action=unchanged" in out.splitlines()


def test_qa_first_deploy_and_repeat_with_the_baked_qa_settings(tmp_path, monkeypatch, capsys):
    """The QA endpoint as this repository was baked (serverless or real-time), four accounts."""
    cfg = make_config("four")
    write_config(cfg, tmp_path, monkeypatch)
    settings = cfg.environment("qa").endpoint
    recorder = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        arn = register_version(accounts.session("shared_services"), cfg)
        qa = recorder.attach(accounts.session("qa"))
        registry = recorder.attach(accounts.session("shared_services"))
        args = ["deploy", "--env", "qa", "--arn", arn, "--poll-interval", "0"]
        code, _, err = run(args, qa, capsys, registry)
        assert code == 0, err
        expected = ["CreateModel", "CreateEndpointConfig"]
        if settings.real_time:
            expected += ["PutMetricAlarm", "PutMetricAlarm"]
        expected.append("CreateEndpoint")
        if settings.autoscaling.get("enabled"):
            expected += ["RegisterScalableTarget", "PutScalingPolicy"]
        assert recorder.mutating == expected
        first = len(recorder.mutating)
        recorder.clear()
        code, _, err = run(args, qa, capsys, registry)
        assert code == 0, err
        assert recorder.mutating == []
        print(f"mutating calls (qa, {settings.kind}): first deploy {first}, repeat 0")
        model = qa.client("sagemaker").describe_model(ModelName=plan_for(cfg, "qa", arn).model_name)
        assert model["Containers"] == INFERENCE_SPEC["Containers"]


def test_cross_account_deploy_lands_in_the_workload_account_only(tmp_path, monkeypatch, capsys):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    with mock_aws():
        accounts = Accounts(cfg)
        shared = accounts.session("shared_services")
        arn = register_version(shared, cfg)
        qa = accounts.session("qa")
        code, _, err = run(
            ["deploy", "--env", "qa", "--arn", arn, "--poll-interval", "0"], qa, capsys, shared
        )
        assert code == 0, err
        name = cfg.environment("qa").endpoint_name
        live = qa.client("sagemaker").describe_endpoint(EndpointName=name)
        assert live["EndpointArn"].split(":")[4] == "333333333333"
        assert shared.client("sagemaker").list_endpoints()["Endpoints"] == []
        # Credentials of another account are refused before anything changes.
        code, _, err = run(["deploy", "--env", "prod", "--arn", package_arn(cfg, "prod", 1)], qa, capsys)
        assert code == 1
        assert err.strip() == (
            "error: deploy --env prod must run with credentials for the prod account 444444444444, "
            "but the current credentials are for account 333333333333"
        )


def test_rerun_after_a_crash_before_create_endpoint_completes(tmp_path, monkeypatch, capsys):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    recorder = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        arn = register_version(accounts.session("shared_services"), cfg, kind="prod", status="Approved")
        prod = recorder.attach(accounts.session("prod"))
        registry = recorder.attach(accounts.session("shared_services"))
        args = ["deploy", "--env", "prod", "--arn", arn, "--poll-interval", "0"]

        def crash(**kwargs):
            raise KeyboardInterrupt("runner lost")

        prod.events.register("before-call.sagemaker.CreateEndpoint", crash, unique_id="crash")
        with pytest.raises(KeyboardInterrupt):
            cli.main(args, session=prod, registry_session=registry)
        prod.events.unregister("before-call.sagemaker.CreateEndpoint", unique_id="crash")
        capsys.readouterr()
        recorder.clear()
        code, _, err = run(args, prod, capsys, registry)
        assert code == 0, err
        assert recorder.operations == [
            "GetCallerIdentity",
            "DescribeModelPackage",
            "DescribeEndpoint",
            "DescribeModel",
            "DescribeEndpointConfig",
            "DescribeAlarms",
            "CreateEndpoint",
            "DescribeEndpoint",
            "DescribeScalableTargets",
            "RegisterScalableTarget",
            "DescribeScalingPolicies",
            "PutScalingPolicy",
            "ListEndpointConfigs",
        ]


def test_cleanup_keeps_the_newest_two_and_the_recorded_previous_config():
    cfg = config_for("four")
    with mock_aws():
        accounts = Accounts(cfg)
        prod = accounts.session("prod")
        clients = Clients(prod, REGION)
        sm = prod.client("sagemaker")
        plans = [plan_for(cfg, "prod", package_arn(cfg, "prod", v)) for v in range(1, 6)]
        for plan in plans:
            deploy_module.ensure_model(clients, plan)
            deploy_module.ensure_endpoint_config(clients, plan)
            time.sleep(0.002)
        sm.create_endpoint_config(
            EndpointConfigName=f"{plans[0].settings.endpoint_name}-manual",
            ProductionVariants=plans[0].config_request["ProductionVariants"],
        )
        deleted = deploy_module.cleanup(clients, plans[4], keep={plans[4].config_name, plans[0].config_name})
        assert deleted == [plans[2].config_name, plans[1].config_name]
        left = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
        assert left == {
            plans[4].config_name,
            plans[3].config_name,
            plans[0].config_name,
            f"{plans[0].settings.endpoint_name}-manual",
        }
        models = {m["ModelName"] for m in sm.list_models()["Models"]}
        assert models == {plans[4].model_name, plans[3].model_name, plans[0].model_name}


# --- Stubber: updates and their failures -----------------------------------------------

OLD_CONFIG_VERSION = 4
SOME_ARN = f"arn:aws:sagemaker:{REGION}:444444444444:endpoint-config/placeholder"
NEW_VERSION = 5


def update_stubs(cfg, recorder, version=NEW_VERSION, approval="Approved"):
    """Stubbed clients for `deploy --env prod --arn <prod version>`, with the caller identity
    and the DescribeModelPackage answer queued (a Stubber session is its own registry session)."""
    session, stubs = stubbed("sts", "sagemaker", "cloudwatch", "application-autoscaling", recorder=recorder)
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": cfg.account_id("prod"), "Arn": "arn:aws:sts::1:assumed-role/x/y", "UserId": "x"},
    )
    arn = package_arn(cfg, "prod", version)
    stubs["sagemaker"].add_response(
        "describe_model_package", package_description(arn, approval), {"ModelPackageName": arn}
    )
    return session, stubs


def plans(cfg):
    old = plan_for(cfg, "prod", package_arn(cfg, "prod", OLD_CONFIG_VERSION))
    new = plan_for(cfg, "prod", package_arn(cfg, "prod", NEW_VERSION))
    return old, new


def stub_prepare(stubs, cfg, old, new, *, exists=False, previous_tag=None):
    """Responses up to and including UpdateEndpoint."""
    sm, cloudwatch = stubs["sagemaker"], stubs["cloudwatch"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", old.config_name))
    if exists:
        sm.add_response(
            "describe_model",
            {
                "ModelName": new.model_name,
                "ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/x",
                "CreationTime": 0,
            },
        )
        sm.add_response("describe_endpoint_config", config_response(new))
    else:
        not_found(sm, "describe_model", "model")
        sm.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/{new.model_name}"})
        not_found(sm, "describe_endpoint_config", "endpoint configuration")
        sm.add_response(
            "create_endpoint_config", {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/x"}
        )
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": new.alarms})
    arn = endpoint_response(cfg, "prod", old.config_name)["EndpointArn"]
    tags = [{"Key": "previous-endpoint-config", "Value": previous_tag}] if previous_tag else []
    sm.add_response("list_tags", {"Tags": tags}, {"ResourceArn": arn})
    if previous_tag != old.config_name:
        sm.add_response(
            "add_tags",
            {"Tags": [{"Key": "previous-endpoint-config", "Value": old.config_name}]},
            {"ResourceArn": arn, "Tags": [{"Key": "previous-endpoint-config", "Value": old.config_name}]},
        )
    sm.add_response("describe_endpoint_config", config_response(old), {"EndpointConfigName": old.config_name})
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": arn},
        {
            "EndpointName": new.settings.endpoint_name,
            "EndpointConfigName": new.config_name,
            "DeploymentConfig": new.deployment_config,
        },
    )


def config_response(plan):
    return {
        "EndpointConfigName": plan.config_name,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/{plan.config_name}",
        "ProductionVariants": plan.config_request["ProductionVariants"],
        "CreationTime": 0,
    }


def stub_after_success(stubs, new):
    target, policy = new.autoscaling
    stubs["application-autoscaling"].add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}]},
    )
    stubs["application-autoscaling"].add_response(
        "describe_scaling_policies",
        {
            "ScalingPolicies": [
                {
                    **{k: v for k, v in policy.items()},
                    "PolicyARN": "arn:aws:autoscaling:policy",
                    "CreationTime": 0,
                }
            ]
        },
    )


UPDATE_PREFIX = [
    "GetCallerIdentity",
    "DescribeModelPackage",
    "DescribeEndpoint",
    "DescribeModel",
    "CreateModel",
    "DescribeEndpointConfig",
    "CreateEndpointConfig",
    "DescribeAlarms",
    "ListTags",
    "AddTags",
    "DescribeEndpointConfig",
    "UpdateEndpoint",
]


def assert_done(stubs):
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def test_update_shifts_traffic_blue_green_and_records_the_previous_config(tmp_path, monkeypatch, capsys):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    stub_prepare(stubs, cfg, old, new)
    stubs["sagemaker"].add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", new.config_name, "Updating")
    )
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    stub_after_success(stubs, new)
    stubs["sagemaker"].add_response(
        "list_endpoint_configs",
        {
            "EndpointConfigs": [
                {"EndpointConfigName": p.config_name, "EndpointConfigArn": SOME_ARN, "CreationTime": 0}
                for p in (new, old)
            ]
        },
    )
    code, out, err = run(
        ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session, capsys
    )
    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        *UPDATE_PREFIX,
        "DescribeEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "ListEndpointConfigs",
    ]
    assert recorder.mutating == ["CreateModel", "CreateEndpointConfig", "AddTags", "UpdateEndpoint"]
    assert f"previous_config={old.config_name}" in out.splitlines()


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (
            [("Failed", "new", "ClientError: container failed health checks")],
            "ended Failed, not InService: ClientError: container failed health checks",
        ),
        (
            [
                ("Updating", "new", None),
                ("RollingBack", "new", None),
                ("InService", "old", "Alarm 5xx-errors fired"),
            ],
            "reverted to {old} instead of running {new}: Alarm 5xx-errors fired",
        ),
        (
            [("InService", "old", None)],
            "reverted to {old} instead of running {new}: SageMaker rolled the update back",
        ),
        ([("InService", "new", "Insufficient capacity for canary")], "runs {new} but reports a failure"),
    ],
)
def test_an_update_that_does_not_end_on_the_new_config_fails(tmp_path, monkeypatch, capsys, outcome, message):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    stub_prepare(stubs, cfg, old, new)
    names = {"old": old.config_name, "new": new.config_name}
    for status, which, reason in outcome:
        stubs["sagemaker"].add_response(
            "describe_endpoint", endpoint_response(cfg, "prod", names[which], status, reason)
        )
    code, _, err = run(
        ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session, capsys
    )
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [*UPDATE_PREFIX, *["DescribeEndpoint"] * len(outcome)]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: endpoint ")
    assert message.format(**names) in last


def test_an_update_that_outlasts_the_timeout_fails(tmp_path, monkeypatch, capsys):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    stub_prepare(stubs, cfg, old, new)
    stubs["sagemaker"].add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", new.config_name, "Updating")
    )
    args = ["deploy", "--env", "prod", "--arn", new.package.arn, "--timeout", "0", "--poll-interval", "0"]
    code, _, err = run(args, session, capsys)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [*UPDATE_PREFIX, "DescribeEndpoint"]
    assert err.strip().splitlines()[-1].startswith("error: timed out after 0 s waiting for endpoint")


def test_rerun_after_a_crash_before_update_endpoint_completes(tmp_path, monkeypatch, capsys):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    # The crashed run created the model and the config and recorded the previous config.
    stub_prepare(stubs, cfg, old, new, exists=True, previous_tag=old.config_name)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    stub_after_success(stubs, new)
    stubs["sagemaker"].add_response("list_endpoint_configs", {"EndpointConfigs": []})
    code, _, err = run(
        ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session, capsys
    )
    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "DescribeEndpoint",
        "DescribeModel",
        "DescribeEndpointConfig",
        "DescribeAlarms",
        "ListTags",
        "DescribeEndpointConfig",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "ListEndpointConfigs",
    ]
    assert recorder.mutating == ["UpdateEndpoint"]


def test_an_instance_type_change_deregisters_autoscaling_around_the_update(tmp_path, monkeypatch, capsys):
    cfg = make_config("four", prod={**PROD_REAL_TIME, "instance_type": "ml.c5.xlarge"}, qa=QA_SERVERLESS)
    write_config(cfg, tmp_path, monkeypatch)
    old = plan_for(config_for("four"), "prod", package_arn(cfg, "prod", OLD_CONFIG_VERSION))
    new = plan_for(cfg, "prod", package_arn(cfg, "prod", NEW_VERSION))
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", old.config_name))
    not_found(sm, "describe_model", "model")
    sm.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/{new.model_name}"})
    not_found(sm, "describe_endpoint_config", "endpoint configuration")
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN})
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": new.alarms})
    sm.add_response("list_tags", {"Tags": [{"Key": "previous-endpoint-config", "Value": old.config_name}]})
    sm.add_response("describe_endpoint_config", config_response(old))
    target, policy = new.autoscaling
    scaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}]},
    )
    scaling.add_response(
        "deregister_scalable_target",
        {},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": target["ResourceId"],
            "ScalableDimension": target["ScalableDimension"],
        },
    )
    sm.add_response("update_endpoint", {"EndpointArn": SOME_ARN})
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": []})
    scaling.add_response("register_scalable_target", {}, target)
    scaling.add_response("describe_scaling_policies", {"ScalingPolicies": []})
    scaling.add_response("put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:policy"}, policy)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})
    code, _, err = run(
        ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session, capsys
    )
    assert code == 0, err
    assert_done(stubs)
    assert recorder.mutating == [
        "CreateModel",
        "CreateEndpointConfig",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        "RegisterScalableTarget",
        "PutScalingPolicy",
    ]


def test_an_endpoint_that_cannot_be_updated_is_reported_not_touched(tmp_path, monkeypatch, capsys):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    stubs["sagemaker"].add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", old.config_name, "Failed", "image not found")
    )
    code, _, err = run(["deploy", "--env", "prod", "--arn", new.package.arn], session, capsys)
    assert code == 1
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage", "DescribeEndpoint"]
    assert err.strip().splitlines()[-1] == (
        f"error: endpoint {new.settings.endpoint_name} is Failed (image not found); "
        "it cannot be updated: delete it and deploy again"
    )


# --- the registry gate: only Approved versions of the prod group reach prod -------------

SHARED = "222222222222"


GATE_CASES = {
    "pending approval": (
        lambda cfg, arn: package_description(arn, "PendingManualApproval"),
        "model package {arn} is PendingManualApproval; prod deploys only Approved versions of "
        "{prod_group} in the shared-services registry 222222222222",
    ),
    "rejected": (
        lambda cfg, arn: package_description(arn, "Rejected"),
        "model package {arn} is Rejected; prod deploys only Approved versions of {prod_group}",
    ),
    "described in another group": (
        lambda cfg, arn: package_description(arn, "Approved", group=cfg.group("dev")),
        "model package {arn} belongs to group {dev_group}, expected the prod group {prod_group}",
    ),
    "still registering": (
        lambda cfg, arn: package_description(arn, "Approved", status="InProgress"),
        "model package {arn} is InProgress, not Completed; it cannot be deployed",
    ),
    "another package answered": (
        lambda cfg, arn: package_description(arn[:-1] + "6", "Approved"),
        "the registry answered with {other} when asked for model package {arn}",
    ),
    "missing": (None, "model package {arn} does not exist in the registry"),
}


@pytest.mark.parametrize("case", sorted(GATE_CASES))
def test_prod_refuses_a_version_the_registry_gate_does_not_pass(tmp_path, monkeypatch, capsys, case):
    """Each refusal is one error line after GetCallerIdentity and DescribeModelPackage, and no
    mutating call is made."""
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    arn = package_arn(cfg, "prod", NEW_VERSION)
    describe, message = GATE_CASES[case]
    recorder = Recorder()
    session, stubs = stubbed("sts", "sagemaker", recorder=recorder)
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": cfg.account_id("prod"), "Arn": "arn:aws:sts::1:assumed-role/x/y", "UserId": "x"},
    )
    if describe is None:
        not_found(stubs["sagemaker"], "describe_model_package", "model package")
    else:
        stubs["sagemaker"].add_response(
            "describe_model_package", describe(cfg, arn), {"ModelPackageName": arn}
        )
    code, out, err = run(["deploy", "--env", "prod", "--arn", arn], session, capsys)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage"]
    assert recorder.mutating == []
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    expected = message.format(
        arn=arn, other=arn[:-1] + "6", prod_group=cfg.group("prod"), dev_group=cfg.group("dev")
    )
    assert len(errors) == 1 and errors[0].startswith(f"error: {expected}")


@pytest.mark.parametrize(
    ("arn_of", "message"),
    [
        (
            lambda cfg: package_arn(cfg, "dev", 5),
            "is in group {dev_group}, expected the prod group {prod_group}",
        ),
        (
            lambda cfg: package_arn(cfg, "prod", 5).replace(f":{SHARED}:", ":444444444444:"),
            "is in account 444444444444, not the shared-services registry 222222222222",
        ),
    ],
    ids=["dev group", "prod account"],
)
def test_prod_refuses_an_arn_outside_the_prod_group_before_reading_it(
    tmp_path, monkeypatch, capsys, arn_of, message
):
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    arn = arn_of(cfg)
    recorder = Recorder()
    session, stubs = stubbed("sts", "sagemaker", recorder=recorder)
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": cfg.account_id("prod"), "Arn": "arn:aws:sts::1:assumed-role/x/y", "UserId": "x"},
    )
    code, _, err = run(["deploy", "--env", "prod", "--arn", arn], session, capsys)
    assert code == 1
    assert recorder.operations == ["GetCallerIdentity"]
    expected = message.format(prod_group=cfg.group("prod"), dev_group=cfg.group("dev"))
    assert err == f"error: model package {arn} {expected}\n"


@pytest.mark.parametrize("layout", ["four", "single"])
def test_a_pending_or_dev_version_never_reaches_prod_on_moto(tmp_path, monkeypatch, capsys, layout):
    """A version registered straight into the prod group without approval, and an Approved
    dev version, are both refused; the prod account is left without model, config or endpoint."""
    cfg = config_for(layout)
    write_config(cfg, tmp_path, monkeypatch)
    recorder = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        shared = accounts.session("shared_services")
        pending = register_version(shared, cfg, kind="prod", status="PendingManualApproval")
        approved_dev = register_version(shared, cfg, kind="dev", status="Approved")
        prod = recorder.attach(accounts.session("prod"))
        registry = recorder.attach(accounts.session("shared_services"))
        code, _, err = run(["deploy", "--env", "prod", "--arn", pending], prod, capsys, registry)
        assert code == 1
        assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage"]
        assert err.strip().splitlines()[-1] == (
            f"error: model package {pending} is PendingManualApproval; prod deploys only Approved "
            f"versions of {cfg.group('prod')} in the shared-services registry "
            f"{cfg.account_id('shared_services')}"
        )
        recorder.clear()
        code, _, err = run(["deploy", "--env", "prod", "--arn", approved_dev], prod, capsys, registry)
        assert code == 1
        assert recorder.operations == ["GetCallerIdentity"]
        assert f"is in group {cfg.group('dev')}, expected the prod group" in err
        sm = prod.client("sagemaker")
        assert sm.list_models()["Models"] == []
        assert sm.list_endpoint_configs()["EndpointConfigs"] == []
        assert sm.list_endpoints()["Endpoints"] == []


def test_mutating_call_counts_first_deploy_update_and_repeat(tmp_path, monkeypatch, capsys):
    """The figures the deploy notes quote, counted by the recorder, not by hand."""
    cfg = config_for("four")
    write_config(cfg, tmp_path, monkeypatch)
    counts = {}
    with mock_aws():
        accounts = Accounts(cfg)
        arn = register_version(accounts.session("shared_services"), cfg, kind="prod", status="Approved")
        recorder = Recorder()
        prod = recorder.attach(accounts.session("prod"))
        registry = recorder.attach(accounts.session("shared_services"))
        args = ["deploy", "--env", "prod", "--arn", arn, "--poll-interval", "0"]
        assert run(args, prod, capsys, registry)[0] == 0
        counts["first deploy"] = len(recorder.mutating)
        recorder.clear()
        assert run(args, prod, capsys, registry)[0] == 0
        counts["repeat of the same ARN"] = len(recorder.mutating)
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = update_stubs(cfg, recorder)
    stub_prepare(stubs, cfg, old, new)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    stub_after_success(stubs, new)
    stubs["sagemaker"].add_response("list_endpoint_configs", {"EndpointConfigs": []})
    assert (
        run(["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session, capsys)[0]
        == 0
    )
    counts["update"] = len(recorder.mutating)
    print(f"mutating calls (prod, real-time): {counts}")
    assert counts == {"first deploy": 7, "repeat of the same ARN": 0, "update": 4}


def test_the_wait_polls_until_the_timeout_and_no_longer(monkeypatch):
    cfg = config_for("four")
    old, new = plans(cfg)
    recorder = Recorder()
    session, stubs = stubbed("sagemaker", "cloudwatch", "application-autoscaling", recorder=recorder)
    stub_prepare(stubs, cfg, old, new)
    for _ in range(3):
        stubs["sagemaker"].add_response(
            "describe_endpoint", endpoint_response(cfg, "prod", new.config_name, "Updating")
        )
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    waiter = deploy_module.Waiter(timeout=60, poll_seconds=30, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(
        deploy_module.DeployFailed, match=r"^timed out after 60 s waiting for endpoint .*still Updating"
    ):
        deploy_module.deploy(Clients(session, REGION), new, waiter)
    assert_done(stubs)
    assert recorder.operations == [
        *UPDATE_PREFIX[2:],
        "DescribeEndpoint",
        "DescribeEndpoint",
        "DescribeEndpoint",
    ]


def test_previous_config_is_recorded_once_as_an_endpoint_tag():
    cfg = config_for("four")
    recorder = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        prod = accounts.session("prod")
        clients = Clients(prod, REGION)
        old, _ = plans(cfg)
        deploy_module.ensure_model(clients, old)
        deploy_module.ensure_endpoint_config(clients, old)
        sm = prod.client("sagemaker")
        sm.create_endpoint(EndpointName=old.settings.endpoint_name, EndpointConfigName=old.config_name)
        live = sm.describe_endpoint(EndpointName=old.settings.endpoint_name)
        assert deploy_module.previous_config(clients, live) is None
        recorder.attach(clients.sagemaker)
        assert deploy_module.record_previous(clients, live) == old.config_name
        assert deploy_module.record_previous(clients, live) == old.config_name
        assert recorder.operations == ["ListTags", "AddTags", "ListTags"]
        assert deploy_module.previous_config(clients, live) == old.config_name
