"""Deploy plans: names and request bodies computed from config and a resolved version (no AWS).

The names are deterministic and versioned, prod models come from the package ARN and QA models
from its containers, and every request passes botocore's validation (Stubber).
"""

from __future__ import annotations

import pytest

from deploy_helpers import (
    INFERENCE_SPEC,
    REGION,
    make_config,
    make_raw,
    model_version,
    module,
    package_arn,
    package_description,
    plan_for,
    stubbed,
)
from deploy_scenarios import PROD_REAL_TIME, QA_SERVERLESS, SOME_ARN, config_for

config = module("config")
endpoint = module("deploy.endpoint")
DeployError = module("deploy.aws").DeployError
pytestmark = pytest.mark.usefixtures("fake_aws")


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
    qa = endpoint.plan(cfg, "qa", model_version(dev_arn, package))
    assert qa.model_request["Containers"] == [
        INFERENCE_SPEC["Containers"][0],
        {"Image": image, "ModelDataSource": data_source},
    ]
    tags = {t["Key"]: t["Value"] for t in qa.model_request["Tags"]}
    assert (tags["model-package-arn"], tags["model-package-version"]) == (dev_arn, "3")
    assert qa.model_name == endpoint.plan(cfg, "qa", model_version(dev_arn, package)).model_name
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
        endpoint.plan(cfg, "qa", model_version(arn, package))


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
