"""Asynchronous inference deploys (endpoint type "async"), against botocore's Stubber.

The plan: AsyncInferenceConfig (client config, output and failure locations in the QA account's
capture bucket with its key, the two SNS topics) beside an instance variant; backlog scaling
with MinCapacity 0 and the step policy that scales out from zero. The deploys: the exact call
sequence of a first deploy, a repeat that makes no mutating call, a blue/green update, and a
rollback that restores the backlog scaling. The recorder checks each call against botocore's
service models.
"""

from __future__ import annotations

import copy

import pytest
from botocore.stub import ANY

from deploy_helpers import REGION, make_config, make_raw, module, package_arn, plan_for, stubbed
from deploy_scenarios import PROD_REAL_TIME
from recording import assert_done, not_found

config = module("config")
deploy_module = module("deploy.deploy")
rollback_module = module("deploy.rollback")
async_config = module("deploy.async_config")
Clients = module("deploy.aws").Clients

QA_ASYNC = {
    "type": "async",
    "instance_type": "ml.m5.large",
    "instance_count": 1,
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": True, "sampling_percent": 50},
    "traffic_shifting": {"type": "ALL_AT_ONCE", "wait_seconds": 0},
    "alarms": {"error_5xx_threshold": 1, "model_latency_p99_ms": 2000},
    "async": {
        "max_concurrent_invocations_per_instance": 4,
        "min_capacity": 0,
        "max_capacity": 2,
        "target_backlog_per_instance": 5,
        "invocation_timeout_seconds": 600,
    },
}
QA_ACCOUNT = "333333333333"
STEP_ARN = "arn:aws:autoscaling:eu-west-1:333333333333:scalingPolicy:1:resource/x:policyName/step"
SOME_ARN = f"arn:aws:sagemaker:{REGION}:{QA_ACCOUNT}:endpoint-config/placeholder"


def async_config_for(**qa):
    return make_config("four", prod=PROD_REAL_TIME, qa={**QA_ASYNC, **qa})


def qa_plan(cfg, version=3):
    return plan_for(cfg, "qa", package_arn(cfg, "dev", version))


def no_wait():
    return deploy_module.Waiter(timeout=60, poll_seconds=0, sleep=lambda _: None)


def endpoint(cfg, config_name, status="InService"):
    name = cfg.environment("qa").endpoint_name
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{QA_ACCOUNT}:endpoint/{name}",
        "EndpointConfigName": config_name,
        "EndpointStatus": status,
        "CreationTime": 0,
        "LastModifiedTime": 0,
    }


# --- the plan ------------------------------------------------------------------------------------


def test_the_plan_asks_for_async_inference_in_the_qa_account() -> None:
    cfg = async_config_for()
    plan = qa_plan(cfg)
    bucket = f"{cfg.project.model_name}-capture-{QA_ACCOUNT}"
    endpoint_name = cfg.environment("qa").endpoint_name
    topics = f"arn:aws:sns:{cfg.region}:{QA_ACCOUNT}:{endpoint_name}-async"
    assert plan.config_request["AsyncInferenceConfig"] == {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
        "OutputConfig": {
            "KmsKeyId": f"arn:aws:kms:{cfg.region}:{QA_ACCOUNT}:alias/{cfg.project.model_name}-capture",
            "S3OutputPath": f"s3://{bucket}/async/qa/output/",
            "S3FailurePath": f"s3://{bucket}/async/qa/failure/",
            "NotificationConfig": {"SuccessTopic": f"{topics}-success", "ErrorTopic": f"{topics}-error"},
        },
    }
    (variant,) = plan.config_request["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large" and variant["InitialInstanceCount"] == 1
    assert "ServerlessConfig" not in variant
    # Data capture stays available; blue/green with the rollback alarms as for real-time.
    assert plan.config_request["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    assert plan.deployment_config["AutoRollbackConfiguration"]["Alarms"]
    assert [a["AlarmName"] for a in plan.alarms] == [
        f"{endpoint_name}-5xx-errors",
        f"{endpoint_name}-model-latency-p99",
    ]


def test_the_backlog_scaling_allows_zero_and_tracks_the_backlog_per_instance() -> None:
    cfg = async_config_for()
    plan = qa_plan(cfg)
    target, policy = plan.autoscaling
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 5.0
    assert tracking["CustomizedMetricSpecification"] == {
        "MetricName": "ApproximateBacklogSizePerInstance",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": cfg.environment("qa").endpoint_name}],
        "Statistic": "Average",
    }
    step = async_config.scale_out_policy(plan.settings)
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}
    ]
    alarm = async_config.backlog_alarm(plan.settings, STEP_ARN)
    assert (alarm["MetricName"], alarm["Threshold"], alarm["AlarmActions"]) == (
        "HasBacklogWithoutCapacity",
        1.0,
        [STEP_ARN],
    )


def test_a_changed_async_setting_is_a_new_endpoint_config() -> None:
    one = qa_plan(async_config_for())
    two = qa_plan(
        async_config_for(**{"async": {**QA_ASYNC["async"], "max_concurrent_invocations_per_instance": 8}})
    )
    assert one.model_name == two.model_name and one.config_name != two.config_name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "autoscaling": {
                    "enabled": True,
                    "min_capacity": 1,
                    "max_capacity": 2,
                    "target_invocations_per_instance": 5,
                }
            },
            "environments.qa.endpoint.autoscaling.enabled is true, but an async endpoint scales on",
        ),
        (
            {"async": {"min_capacity": 3, "max_capacity": 2}},
            "environments.qa.endpoint.async.min_capacity 3 is above max_capacity 2",
        ),
        (
            {"instance_count": 3},
            "environments.qa.endpoint.instance_count 3 is outside environments.qa.endpoint.async",
        ),
        ({"async": {"max_capacity": 0}}, "environments.qa.endpoint.async.max_capacity"),
        (
            {"async": {"invocation_timeout_seconds": 7200}},
            "environments.qa.endpoint.async.invocation_timeout_seconds",
        ),
        ({"async": {"queue": 1}}, "environments.qa.endpoint.async"),
        (
            {"instance_type": "m5.large"},
            "environments.qa.endpoint.instance_type 'm5.large' is not an ml.* instance type",
        ),
    ],
)
def test_a_bad_async_setting_is_one_error_naming_it(change, message) -> None:
    raw = make_raw("four", prod=PROD_REAL_TIME, qa={**QA_ASYNC, **change})
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw)
    assert message in str(caught.value)


def test_the_async_section_has_defaults() -> None:
    raw = make_raw("four", prod=PROD_REAL_TIME, qa={k: v for k, v in QA_ASYNC.items() if k != "async"})
    settings = config.parse(raw).environment("qa").endpoint
    assert settings.is_async and settings.on_instances and not settings.real_time
    assert dict(settings.async_inference) == {
        "max_concurrent_invocations_per_instance": 4,
        "min_capacity": 0,
        "max_capacity": 2,
        "target_backlog_per_instance": 5,
        "invocation_timeout_seconds": 600,
    }


# --- the deploys ---------------------------------------------------------------------------------


def stub_scaling(scaling, cloudwatch, plan, present: bool) -> None:
    """Target, tracking policy, step policy and its alarm: all as planned, or none of them."""
    target, tracking = plan.autoscaling
    step = async_config.scale_out_policy(plan.settings)
    where = {k: target[k] for k in ("ServiceNamespace", "ScalableDimension")}
    found = [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}] if present else []
    scaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": found},
        {**where, "ResourceIds": [target["ResourceId"]]},
    )
    if not present:
        scaling.add_response("register_scalable_target", {}, target)
    for policy, arn in ((tracking, "arn:tracking"), (step, STEP_ARN)):
        found = [{**policy, "PolicyARN": arn, "CreationTime": 0}] if present else []
        scaling.add_response(
            "describe_scaling_policies",
            {"ScalingPolicies": found},
            {**where, "ResourceId": target["ResourceId"], "PolicyNames": [policy["PolicyName"]]},
        )
        if not present:
            scaling.add_response("put_scaling_policy", {"PolicyARN": arn}, policy)
    alarm = async_config.backlog_alarm(plan.settings, STEP_ARN)
    alarms = [{**alarm, "AlarmArn": "arn:alarm"}] if present else []
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": [alarm["AlarmName"]]})
    if not present:
        cloudwatch.add_response("put_metric_alarm", {}, alarm)


def stub_rollback_alarms(cloudwatch, plan, present: bool) -> None:
    names = [a["AlarmName"] for a in plan.alarms]
    found = [{**a, "AlarmArn": "arn:alarm"} for a in plan.alarms] if present else []
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": found}, {"AlarmNames": names})
    if not present:
        for alarm in plan.alarms:
            cloudwatch.add_response("put_metric_alarm", {}, alarm)


def stubs_for(recorder):
    return stubbed("sagemaker", "cloudwatch", "application-autoscaling", recorder=recorder)


CREATE_SEQUENCE = [
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
    "DescribeScalingPolicies",
    "PutScalingPolicy",
    "DescribeAlarms",
    "PutMetricAlarm",
    "ListEndpointConfigs",
]


def test_a_first_async_deploy_creates_the_endpoint_and_its_backlog_scaling(recorder) -> None:
    cfg = async_config_for()
    plan = qa_plan(cfg)
    session, stubs = stubs_for(recorder)
    sm, cloudwatch, scaling = stubs["sagemaker"], stubs["cloudwatch"], stubs["application-autoscaling"]
    not_found(sm, "describe_endpoint", "endpoint")
    not_found(sm, "describe_model", "model")
    sm.add_response("create_model", {"ModelArn": SOME_ARN}, plan.model_request)
    not_found(sm, "describe_endpoint_config", "endpoint configuration")
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN}, plan.config_request)
    stub_rollback_alarms(cloudwatch, plan, present=False)
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": endpoint(cfg, plan.config_name)["EndpointArn"]},
        {"EndpointName": plan.settings.endpoint_name, "EndpointConfigName": plan.config_name, "Tags": ANY},
    )
    sm.add_response("describe_endpoint", endpoint(cfg, plan.config_name))
    stub_scaling(scaling, cloudwatch, plan, present=False)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})
    result = deploy_module.deploy(Clients(session, REGION), plan, no_wait())
    assert (result.action, result.changed) == ("created", True)
    assert recorder.operations == CREATE_SEQUENCE
    assert_done(stubs)
    recorder.assert_valid()


def test_a_repeat_async_deploy_makes_no_mutating_call(recorder) -> None:
    cfg = async_config_for()
    plan = qa_plan(cfg)
    session, stubs = stubs_for(recorder)
    sm, cloudwatch, scaling = stubs["sagemaker"], stubs["cloudwatch"], stubs["application-autoscaling"]
    sm.add_response("describe_endpoint", endpoint(cfg, plan.config_name))
    stub_rollback_alarms(cloudwatch, plan, present=True)
    stub_scaling(scaling, cloudwatch, plan, present=True)
    result = deploy_module.deploy(Clients(session, REGION), plan, no_wait())
    assert (result.action, result.changed) == ("unchanged", False)
    assert recorder.mutating == []
    assert recorder.operations == [
        "DescribeEndpoint",
        "DescribeAlarms",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "DescribeScalingPolicies",
        "DescribeAlarms",
    ]
    assert_done(stubs)


def test_a_lost_scale_out_alarm_is_put_back_by_a_repeat(recorder) -> None:
    """A repeat repairs what a crashed run left: here only the HasBacklogWithoutCapacity alarm."""
    cfg = async_config_for()
    plan = qa_plan(cfg)
    session, stubs = stubs_for(recorder)
    sm, cloudwatch, scaling = stubs["sagemaker"], stubs["cloudwatch"], stubs["application-autoscaling"]
    sm.add_response("describe_endpoint", endpoint(cfg, plan.config_name))
    stub_rollback_alarms(cloudwatch, plan, present=True)
    target, tracking = plan.autoscaling
    where = {k: target[k] for k in ("ServiceNamespace", "ScalableDimension")}
    scaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}]},
        {**where, "ResourceIds": [target["ResourceId"]]},
    )
    step = async_config.scale_out_policy(plan.settings)
    for policy, arn in ((tracking, "arn:tracking"), (step, STEP_ARN)):
        scaling.add_response(
            "describe_scaling_policies",
            {"ScalingPolicies": [{**policy, "PolicyARN": arn, "CreationTime": 0}]},
            {**where, "ResourceId": target["ResourceId"], "PolicyNames": [policy["PolicyName"]]},
        )
    alarm = async_config.backlog_alarm(plan.settings, STEP_ARN)
    stale = {**alarm, "AlarmActions": ["arn:deleted-policy"], "AlarmArn": "arn:alarm"}
    cloudwatch.add_response(
        "describe_alarms", {"MetricAlarms": [stale]}, {"AlarmNames": [alarm["AlarmName"]]}
    )
    cloudwatch.add_response("put_metric_alarm", {}, alarm)
    result = deploy_module.deploy(Clients(session, REGION), plan, no_wait())
    assert (result.action, result.changed) == ("unchanged", True)
    assert recorder.mutating == ["PutMetricAlarm"]
    assert_done(stubs)


def described_config(plan):
    variants = copy.deepcopy(plan.config_request["ProductionVariants"])
    return {
        "EndpointConfigName": plan.config_name,
        "EndpointConfigArn": SOME_ARN,
        "ProductionVariants": variants,
        "CreationTime": 0,
    }


def test_an_async_update_is_blue_green_with_the_rollback_alarms(recorder) -> None:
    """v3 runs; v4 goes out blue/green (the configured shifting, the alarms as triggers)."""
    cfg = async_config_for()
    old, new = qa_plan(cfg, 3), qa_plan(cfg, 4)
    session, stubs = stubs_for(recorder)
    sm, cloudwatch, scaling = stubs["sagemaker"], stubs["cloudwatch"], stubs["application-autoscaling"]
    running = endpoint(cfg, old.config_name)
    sm.add_response("describe_endpoint", running)
    not_found(sm, "describe_model", "model")
    sm.add_response("create_model", {"ModelArn": SOME_ARN}, new.model_request)
    not_found(sm, "describe_endpoint_config", "endpoint configuration")
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN}, new.config_request)
    stub_rollback_alarms(cloudwatch, new, present=True)
    sm.add_response("list_tags", {"Tags": []}, {"ResourceArn": running["EndpointArn"]})
    previous = [{"Key": "previous-endpoint-config", "Value": old.config_name}]
    sm.add_response("add_tags", {"Tags": previous}, {"ResourceArn": running["EndpointArn"], "Tags": previous})
    sm.add_response(
        "describe_endpoint_config", described_config(old), {"EndpointConfigName": old.config_name}
    )
    assert (
        new.deployment_config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    )
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": running["EndpointArn"]},
        {
            "EndpointName": new.settings.endpoint_name,
            "EndpointConfigName": new.config_name,
            "DeploymentConfig": new.deployment_config,
        },
    )
    sm.add_response("describe_endpoint", endpoint(cfg, new.config_name))
    stub_scaling(scaling, cloudwatch, new, present=True)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})
    result = deploy_module.deploy(Clients(session, REGION), new, no_wait())
    assert (result.action, result.previous_config) == ("updated", old.config_name)
    assert recorder.mutating == ["CreateModel", "CreateEndpointConfig", "AddTags", "UpdateEndpoint"]
    assert_done(stubs)
    recorder.assert_valid()


def test_an_async_rollback_returns_to_the_previous_config_and_keeps_the_backlog_scaling(recorder) -> None:
    cfg = async_config_for()
    old, new = qa_plan(cfg, 3), qa_plan(cfg, 4)
    session, stubs = stubs_for(recorder)
    sm, cloudwatch, scaling = stubs["sagemaker"], stubs["cloudwatch"], stubs["application-autoscaling"]
    running = endpoint(cfg, new.config_name)
    sm.add_response("describe_endpoint", running)
    previous = [{"Key": "previous-endpoint-config", "Value": old.config_name}]
    sm.add_response("list_tags", {"Tags": previous}, {"ResourceArn": running["EndpointArn"]})
    sm.add_response(
        "describe_endpoint_config", described_config(old), {"EndpointConfigName": old.config_name}
    )
    sm.add_response(
        "describe_endpoint_config", described_config(new), {"EndpointConfigName": new.config_name}
    )
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": running["EndpointArn"]},
        {
            "EndpointName": new.settings.endpoint_name,
            "EndpointConfigName": old.config_name,
            "DeploymentConfig": rollback_module.rollback_deployment_config(new.settings),
        },
    )
    sm.add_response("describe_endpoint", endpoint(cfg, old.config_name))
    stub_scaling(scaling, cloudwatch, new, present=True)
    result = rollback_module.rollback(Clients(session, REGION), new.settings, no_wait())
    assert (result.to_config, result.changed) == (old.config_name, True)
    assert recorder.mutating == ["UpdateEndpoint"]
    assert_done(stubs)
    recorder.assert_valid()
