"""How an endpoint is updated, watched and scaled, computed from its settings (no AWS calls):
blue/green traffic shifting and the time it takes, the 5XX and latency alarms that roll an
update back, the all-at-once policy of a rollback, and target-tracking autoscaling.
`endpoint.plan` puts these into a `DeployPlan`; rollback and scaling use them directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..config import EndpointSettings

VARIANT = "AllTraffic"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# Time allowed for SageMaker to provision instances and pass health checks, on top of the
# traffic-shifting waits. Raise it for large models or slow containers.
PROVISIONING_ALLOWANCE_SECONDS = 900


def alarm_names(settings: EndpointSettings) -> list[str]:
    return [f"{settings.endpoint_name}-5xx-errors", f"{settings.endpoint_name}-model-latency-p99"]


def alarm_requests(settings: EndpointSettings) -> list[dict[str, Any]]:
    """PutMetricAlarm bodies: 5XX errors (sum per minute) and p99 ModelLatency (microseconds)."""
    if not settings.on_instances:
        return []
    dimensions = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": VARIANT},
    ]
    errors_name, latency_name = alarm_names(settings)
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": dimensions,
        "Period": 60,
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": True,
    }
    return [
        {
            **common,
            "AlarmName": errors_name,
            "AlarmDescription": f"5XX errors on {settings.endpoint_name}; rolls back a blue/green update",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": settings.alarms["error_5xx_threshold"],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
        {
            **common,
            "AlarmName": latency_name,
            "AlarmDescription": f"p99 latency on {settings.endpoint_name}; rolls back a blue/green update",
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": settings.alarms["model_latency_p99_ms"] * 1000.0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    ]


def traffic_routing(traffic: Mapping[str, Any]) -> dict[str, Any]:
    shift = traffic.get("type", "ALL_AT_ONCE")
    routing: dict[str, Any] = {"Type": shift, "WaitIntervalInSeconds": int(traffic.get("wait_seconds", 0))}
    if shift == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": int(traffic["canary_percent"])}
    elif shift == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": int(traffic["linear_step_percent"])}
    return routing


def shifting_seconds(traffic: Mapping[str, Any]) -> int:
    """How long SageMaker spends shifting traffic and baking before the old fleet goes."""
    wait = int(traffic.get("wait_seconds", 0))
    steps = 1
    if traffic.get("type") == "LINEAR":
        steps = math.ceil(100 / int(traffic["linear_step_percent"]))
    return steps * wait + int(traffic.get("termination_wait_seconds", 0))


def deployment_config(settings: EndpointSettings) -> dict[str, Any] | None:
    """UpdateEndpoint DeploymentConfig: blue/green with the configured traffic shifting and the
    alarms as auto-rollback triggers (async endpoints too: SageMaker's deployment guardrails
    cover real-time and async). None for serverless (SageMaker's default blue/green)."""
    if not settings.on_instances:
        return None
    policy: dict[str, Any] = {
        "TrafficRoutingConfiguration": traffic_routing(settings.traffic),
        "TerminationWaitInSeconds": int(settings.traffic.get("termination_wait_seconds", 0)),
    }
    # MaximumExecutionTimeoutInSeconds must exceed the waits (600..28800).
    policy["MaximumExecutionTimeoutInSeconds"] = min(
        28800, max(600, shifting_seconds(settings.traffic) + PROVISIONING_ALLOWANCE_SECONDS)
    )
    return {
        "BlueGreenUpdatePolicy": policy,
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names(settings)]},
    }


def rollback_deployment_config(settings: EndpointSettings) -> dict[str, Any] | None:
    """Going back is urgent: all traffic at once, no alarms (they are likely firing)."""
    if not settings.on_instances:
        return None
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 0,
        }
    }


def default_timeout(settings: EndpointSettings) -> int:
    """Seconds to wait for a create/update before calling it failed."""
    if not settings.on_instances:
        return PROVISIONING_ALLOWANCE_SECONDS
    return PROVISIONING_ALLOWANCE_SECONDS + shifting_seconds(settings.traffic) + 300


def scaling_resource_id(settings: EndpointSettings) -> str:
    return f"endpoint/{settings.endpoint_name}/variant/{VARIANT}"


def scaling_policy_name(settings: EndpointSettings) -> str:
    return f"{settings.endpoint_name}-invocations-per-instance"


def autoscaling_requests(settings: EndpointSettings) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """RegisterScalableTarget and PutScalingPolicy bodies, or None when autoscaling is off.
    An async endpoint always scales, on its backlog (async_config.scaling_requests)."""
    if settings.is_async:
        from .async_config import scaling_requests  # it shares this module's constants

        return scaling_requests(settings)
    scaling = settings.autoscaling
    if not ((settings.real_time or settings.multi_model) and scaling.get("enabled")):
        return None
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(settings),
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": int(scaling["min_capacity"]),
        "MaxCapacity": int(scaling["max_capacity"]),
    }
    policy = {
        "PolicyName": scaling_policy_name(settings),
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(settings),
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(scaling["target_invocations_per_instance"]),
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": int(scaling.get("scale_in_cooldown_seconds", 300)),
            "ScaleOutCooldown": int(scaling.get("scale_out_cooldown_seconds", 60)),
        },
    }
    return target, policy
