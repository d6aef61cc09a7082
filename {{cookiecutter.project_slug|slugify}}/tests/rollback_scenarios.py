"""Stubber scenarios of rollbacks, shared by test_rollback.py, test_smoke_rollback.py and
test_deploy_autoscaling.py.

- The rollback command on a prod endpoint without autoscaling (`PROD`, `prod_config`,
  `rollback_names`, `stub_rollback_start`, `stub_back`): v2 running, v1 recorded as previous.
- An autoscaled real-time prod endpoint whose instance type changes between versions
  (`on_instance`, `stub_*`): its first deploy, the update to another instance type (the
  scalable target deregistered around it), and the pieces a rollback's call sequence is made of.

Every stubbed call carries the exact parameters it must be made with, and botocore checks each
response against the service model."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from deploy_helpers import (
    REAL_TIME_PROD,
    REGION,
    SAMPLE_CSV,
    endpoint_response,
    make_config,
    make_raw,
    module,
    not_found,
    package_arn,
    plan_for,
    stubbed_as,
)
from deploy_scenarios import PROD_REAL_TIME, QA_SERVERLESS, SOME_ARN, config_response

config = module("config")
cli = module("deploy.cli")

# The instance types of the autoscaled prod endpoint before and after an instance-type change.
INSTANCE_A = PROD_REAL_TIME["instance_type"]
INSTANCE_B = "ml.c5.xlarge"
ROLLBACK_DEPLOYMENT = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
        "TerminationWaitInSeconds": 0,
    }
}
# Prod without autoscaling: a rollback of it makes no Application Auto Scaling call.
PROD = {
    **REAL_TIME_PROD,
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": False},
    "traffic_shifting": {"type": "LINEAR", "linear_step_percent": 50, "wait_seconds": 300},
}
SMOKE = ["endpoint-test", "--env", "prod", "--rows", "2", "--samples", str(SAMPLE_CSV)]


def prod_config(configure=None, **endpoint):
    raw = make_raw("four", prod={**PROD, **endpoint})
    raw["environments"]["prod"]["tests"]["burst_requests"] = 3
    if configure:
        configure(raw)
    return config.parse(raw)


def rollback_names(cfg):
    """v1 (the recorded previous config), v2 (running) and the endpoint name."""
    old = plan_for(cfg, "prod", package_arn(cfg, "prod", 1)).config_name
    new = plan_for(cfg, "prod", package_arn(cfg, "prod", 2)).config_name
    return {"old": old, "new": new, "endpoint": cfg.environment("prod").endpoint_name}


def session_for(cfg, recorder, *services):
    return stubbed_as(cfg, "prod", "sagemaker", *services, recorder=recorder)


def stub_rollback_start(sm, cfg, names, previous="old"):
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["new"]))
    arn = endpoint_response(cfg, "prod", names["new"])["EndpointArn"]
    tags = [{"Key": "previous-endpoint-config", "Value": names[previous]}] if previous else []
    sm.add_response("list_tags", {"Tags": tags}, {"ResourceArn": arn})


def old_config(names, instance_type=INSTANCE_A):
    arn = f"arn:aws:sagemaker:{REGION}:444444444444:endpoint-config/{names['old']}"
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": instance_type}
    return {
        "EndpointConfigName": names["old"],
        "EndpointConfigArn": arn,
        "ProductionVariants": [{**variant, "InitialInstanceCount": 2}],
        "CreationTime": 0,
    }


def stub_back(sm, cfg, names, instance_type=INSTANCE_A):
    sm.add_response(
        "describe_endpoint_config", old_config(names, instance_type), {"EndpointConfigName": names["old"]}
    )
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": endpoint_response(cfg, "prod", names["old"])["EndpointArn"]},
        {
            "EndpointName": names["endpoint"],
            "EndpointConfigName": names["old"],
            "DeploymentConfig": ROLLBACK_DEPLOYMENT,
        },
    )


def run(args, session, capsys):
    """`deploy.cli` with `args`, polling without waiting: (exit status, stdout, stderr)."""
    code = cli.main([*args, "--poll-interval", "0"], session=session)
    out, err = capsys.readouterr()
    return code, out, err


ROLLBACK_CALLS = ["DescribeEndpoint", "ListTags", "DescribeEndpointConfig", "UpdateEndpoint"]


def on_instance(instance_type: str, **overrides: Any):
    """The fixed four-account config with prod (real-time, autoscaled) on `instance_type`."""
    return make_config(
        "four", prod={**PROD_REAL_TIME, "instance_type": instance_type, **overrides}, qa=QA_SERVERLESS
    )


def no_wait():
    """A deploy Waiter that polls without sleeping."""
    return module("deploy.deploy").Waiter(timeout=60, poll_seconds=0, sleep=lambda _: None)


def stub_endpoint(sm: Stubber, cfg, config_name: str, status="InService", reason=None) -> None:
    name = cfg.environment("prod").endpoint_name
    sm.add_response(
        "describe_endpoint",
        endpoint_response(cfg, "prod", config_name, status, reason),
        {"EndpointName": name},
    )


def stub_previous_tag(sm: Stubber, cfg, previous: str | None) -> None:
    arn = endpoint_response(cfg, "prod", "x")["EndpointArn"]
    tags = [{"Key": "previous-endpoint-config", "Value": previous}] if previous else []
    sm.add_response("list_tags", {"Tags": tags}, {"ResourceArn": arn})


def stub_config(sm: Stubber, plan) -> None:
    sm.add_response(
        "describe_endpoint_config", config_response(plan), {"EndpointConfigName": plan.config_name}
    )


def stub_update_back(sm: Stubber, plan) -> None:
    """A rollback's UpdateEndpoint to `plan`'s config: all traffic at once, no alarms."""
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": SOME_ARN},
        {
            "EndpointName": plan.settings.endpoint_name,
            "EndpointConfigName": plan.config_name,
            "DeploymentConfig": ROLLBACK_DEPLOYMENT,
        },
    )


def stub_target(scaling: Stubber, plan, registered: bool) -> None:
    """DescribeScalableTargets of the variant: registered as `plan` wants it, or not at all."""
    target = plan.autoscaling[0]
    found = [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}] if registered else []
    scaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": found},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": [target["ResourceId"]],
            "ScalableDimension": target["ScalableDimension"],
        },
    )


def stub_deregister(scaling: Stubber, plan) -> None:
    target = plan.autoscaling[0]
    scaling.add_response(
        "deregister_scalable_target",
        {},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": target["ResourceId"],
            "ScalableDimension": target["ScalableDimension"],
        },
    )


def stub_policy(scaling: Stubber, plan, present: bool) -> None:
    policy = plan.autoscaling[1]
    found = [{**policy, "PolicyARN": "arn:aws:autoscaling:policy", "CreationTime": 0}] if present else []
    scaling.add_response(
        "describe_scaling_policies",
        {"ScalingPolicies": found},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": policy["ResourceId"],
            "ScalableDimension": policy["ScalableDimension"],
            "PolicyNames": [policy["PolicyName"]],
        },
    )


def stub_register(scaling: Stubber, plan) -> None:
    """The variant has no target: RegisterScalableTarget and PutScalingPolicy as `plan` wants."""
    target, policy = plan.autoscaling
    stub_target(scaling, plan, registered=False)
    scaling.add_response("register_scalable_target", {}, target)
    stub_policy(scaling, plan, present=False)
    scaling.add_response("put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:policy"}, policy)


def stub_scaling_in_place(scaling: Stubber, plan) -> None:
    """Target and policy already as `plan` wants: two reads, nothing put."""
    stub_target(scaling, plan, registered=True)
    stub_policy(scaling, plan, present=True)


def stub_create(stubs: dict[str, Stubber], cfg, plan) -> None:
    """A first deploy of `plan`: model, config, alarms, CreateEndpoint, wait, autoscaling."""
    sm, cloudwatch = stubs["sagemaker"], stubs["cloudwatch"]
    not_found(sm, "describe_endpoint", "endpoint")
    stub_new_model_and_config(sm, plan)
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": []})
    for alarm in plan.alarms:
        cloudwatch.add_response("put_metric_alarm", {}, alarm)
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": endpoint_response(cfg, "prod", plan.config_name)["EndpointArn"]},
        {
            "EndpointName": plan.settings.endpoint_name,
            "EndpointConfigName": plan.config_name,
            "Tags": plan.config_request["Tags"],
        },
    )
    stub_endpoint(sm, cfg, plan.config_name)
    stub_register(stubs["application-autoscaling"], plan)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})


def stub_new_model_and_config(sm: Stubber, plan) -> None:
    not_found(sm, "describe_model", "model")
    sm.add_response("create_model", {"ModelArn": SOME_ARN}, plan.model_request)
    not_found(sm, "describe_endpoint_config", "endpoint configuration")
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN}, plan.config_request)


def stub_instance_type_change(
    stubs: dict[str, Stubber], cfg, old, new, outcome=("InService", "new", None)
) -> None:
    """An update from `old` to `new` on another instance type, up to the wait's `outcome`
    (status, which config, reason), or "refused" (UpdateEndpoint answers ValidationException);
    the autoscaling after it only when it ends InService on new."""
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    stub_endpoint(sm, cfg, old.config_name)
    stub_new_model_and_config(sm, new)
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": new.alarms})
    stub_previous_tag(sm, cfg, None)
    arn = endpoint_response(cfg, "prod", old.config_name)["EndpointArn"]
    recorded = [{"Key": "previous-endpoint-config", "Value": old.config_name}]
    sm.add_response("add_tags", {"Tags": recorded}, {"ResourceArn": arn, "Tags": recorded})
    stub_config(sm, old)
    stub_target(scaling, old, registered=True)
    stub_deregister(scaling, old)
    update = {
        "EndpointName": new.settings.endpoint_name,
        "EndpointConfigName": new.config_name,
        "DeploymentConfig": new.deployment_config,
    }
    if outcome == "refused":
        sm.add_client_error(
            "update_endpoint",
            "ValidationException",
            "Instance type not available",
            400,
            expected_params=update,
        )
        return
    sm.add_response("update_endpoint", {"EndpointArn": arn}, update)
    stub_endpoint(sm, cfg, new.config_name, "Updating")
    status, which, reason = outcome
    stub_endpoint(sm, cfg, {"old": old, "new": new}[which].config_name, status, reason)
    if outcome == ("InService", "new", None):
        stub_register(scaling, new)
        sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})
