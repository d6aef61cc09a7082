"""Asynchronous inference (endpoint type "async"): where requests and answers live, who is
notified, and how the endpoint scales on its backlog (no AWS calls except `ensure_scale_from_zero`).

An async endpoint queues each request (an S3 object named by InvokeEndpointAsync) and writes the
answer to the environment's capture bucket under `async/<env>/output/` (a failed one under
`async/<env>/failure/`), encrypted with the capture key, then notifies `<endpoint>-async-success`
or `<endpoint>-async-error` (config/names.py; infra/workload.yaml creates them).
https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html

Scaling (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html): the
variant is a scalable target from `async.min_capacity` (0 allowed: scale to zero) to
`async.max_capacity`, with target tracking on ApproximateBacklogSizePerInstance. Target tracking
alone does not scale out from zero instances, so a step-scaling policy adds one instance when
the alarm on HasBacklogWithoutCapacity fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Config, EndpointSettings
from .aws import Clients, log, put_changed_alarms

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
VARIANT = "AllTraffic"
NAMESPACE = "AWS/SageMaker"
BACKLOG_METRIC = "ApproximateBacklogSizePerInstance"
NO_CAPACITY_METRIC = "HasBacklogWithoutCapacity"
SCALE_OUT_COOLDOWN = 300
# The alarm fields compared to decide whether the backlog alarm needs a PutMetricAlarm.
ALARM_FIELDS = (
    "MetricName",
    "Namespace",
    "Statistic",
    "Dimensions",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
)


@dataclass(frozen=True)
class AsyncLocations:
    """Where one environment's async requests and answers live, and whom SageMaker notifies."""

    bucket: str
    input_prefix: str
    output_uri: str
    failure_uri: str
    key_arn: str
    success_topic_arn: str
    error_topic_arn: str


def locations(cfg: Config, env: str) -> AsyncLocations:
    """The capture bucket of the environment's account, its async prefixes, key and topics."""
    environment = cfg.environment(env)
    prefixes = cfg.names.async_prefixes[env]
    topics = cfg.names.async_topics[env]
    bucket = environment.capture_bucket
    sns = f"arn:aws:sns:{cfg.region}:{environment.account}"
    return AsyncLocations(
        bucket=bucket,
        input_prefix=prefixes["input"],
        output_uri=f"s3://{bucket}/{prefixes['output']}",
        failure_uri=f"s3://{bucket}/{prefixes['failure']}",
        key_arn=environment.capture_key_arn,
        success_topic_arn=f"{sns}:{topics['success']}",
        error_topic_arn=f"{sns}:{topics['error']}",
    )


def async_inference_config(cfg: Config, env: str) -> dict[str, Any]:
    """CreateEndpointConfig AsyncInferenceConfig of an async environment."""
    settings = cfg.environment(env).endpoint
    where = locations(cfg, env)
    return {
        "ClientConfig": {
            "MaxConcurrentInvocationsPerInstance": int(
                settings.async_inference["max_concurrent_invocations_per_instance"]
            )
        },
        "OutputConfig": {
            "KmsKeyId": where.key_arn,
            "S3OutputPath": where.output_uri,
            "S3FailurePath": where.failure_uri,
            "NotificationConfig": {
                "SuccessTopic": where.success_topic_arn,
                "ErrorTopic": where.error_topic_arn,
            },
        },
    }


def resource_id(settings: EndpointSettings) -> str:
    return f"endpoint/{settings.endpoint_name}/variant/{VARIANT}"


def backlog_policy_name(settings: EndpointSettings) -> str:
    return f"{settings.endpoint_name}-backlog-per-instance"


def scale_out_policy_name(settings: EndpointSettings) -> str:
    return f"{settings.endpoint_name}-scale-out-from-zero"


def backlog_alarm_name(settings: EndpointSettings) -> str:
    return f"{settings.endpoint_name}-backlog-without-capacity"


def scaling_requests(settings: EndpointSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """RegisterScalableTarget (min 0 allowed) and the target-tracking PutScalingPolicy bodies."""
    options = settings.async_inference
    common = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id(settings),
        "ScalableDimension": SCALABLE_DIMENSION,
    }
    target = {
        **common,
        "MinCapacity": int(options["min_capacity"]),
        "MaxCapacity": int(options["max_capacity"]),
    }
    policy = {
        "PolicyName": backlog_policy_name(settings),
        **common,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(options["target_backlog_per_instance"]),
            "CustomizedMetricSpecification": {
                "MetricName": BACKLOG_METRIC,
                "Namespace": NAMESPACE,
                "Dimensions": [{"Name": "EndpointName", "Value": settings.endpoint_name}],
                "Statistic": "Average",
            },
            "ScaleInCooldown": 600,
            "ScaleOutCooldown": 300,
        },
    }
    return target, policy


def scale_out_policy(settings: EndpointSettings) -> dict[str, Any]:
    """The step-scaling policy that adds one instance when requests wait and none runs."""
    return {
        "PolicyName": scale_out_policy_name(settings),
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id(settings),
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Average",
            "Cooldown": SCALE_OUT_COOLDOWN,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        },
    }


def backlog_alarm(settings: EndpointSettings, policy_arn: str) -> dict[str, Any]:
    """PutMetricAlarm body: HasBacklogWithoutCapacity >= 1 for 2 of 2 minutes runs the step policy."""
    return {
        "AlarmName": backlog_alarm_name(settings),
        "AlarmDescription": f"requests wait at {settings.endpoint_name} with no instance: scale out",
        "MetricName": NO_CAPACITY_METRIC,
        "Namespace": NAMESPACE,
        "Statistic": "Average",
        "Dimensions": [{"Name": "EndpointName", "Value": settings.endpoint_name}],
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        "ActionsEnabled": True,
        "AlarmActions": [policy_arn],
    }


def _policy(clients: Clients, settings: EndpointSettings, name: str) -> dict[str, Any] | None:
    policies = (
        clients("application-autoscaling")
        .describe_scaling_policies(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id(settings),
            ScalableDimension=SCALABLE_DIMENSION,
            PolicyNames=[name],
        )
        .get("ScalingPolicies", [])
    )
    return policies[0] if policies else None


def ensure_scale_from_zero(clients: Clients, settings: EndpointSettings) -> int:
    """Put the step-scaling policy and its HasBacklogWithoutCapacity alarm when missing or
    different (the scalable target must be registered first); return the mutating calls."""
    wanted = scale_out_policy(settings)
    calls = 0
    current = _policy(clients, settings, wanted["PolicyName"])
    config = wanted["StepScalingPolicyConfiguration"]
    if current is None or current.get("StepScalingPolicyConfiguration") != config:
        log(f"step scaling {settings.endpoint_name} out from zero on {NO_CAPACITY_METRIC}")
        arn = clients("application-autoscaling").put_scaling_policy(**wanted)["PolicyARN"]
        calls += 1
    else:
        arn = current["PolicyARN"]
    alarm = backlog_alarm(settings, arn)
    cloudwatch = clients("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]]).get("MetricAlarms", [])
    existing = {current["AlarmName"]: current for current in found}
    return calls + put_changed_alarms(cloudwatch, [alarm], existing, ALARM_FIELDS)
