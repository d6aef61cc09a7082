"""Alarms and autoscaling of a real-time endpoint: put what is missing or differs, and take the
scalable target off around an update SageMaker would otherwise refuse (an instance-type change
of an autoscaled variant). Each function returns how many mutating calls it made.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..config import EndpointSettings
from .aws import Clients, is_not_found, log
from .endpoint import SCALABLE_DIMENSION, VARIANT, DeployPlan, scaling_resource_id

ALARM_FIELDS = (
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


def ensure_alarms(clients: Clients, plan: DeployPlan) -> int:
    """Put the alarms that are missing or differ from the plan; return how many were put."""
    if not plan.alarms:
        return 0
    cloudwatch = clients("cloudwatch")
    names = [alarm["AlarmName"] for alarm in plan.alarms]
    existing = {
        a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", [])
    }
    put = 0
    for alarm in plan.alarms:
        current = existing.get(alarm["AlarmName"])
        if current and all(current.get(k) == alarm.get(k) for k in ALARM_FIELDS):
            continue
        log(f"putting alarm {alarm['AlarmName']}")
        cloudwatch.put_metric_alarm(**alarm)
        put += 1
    return put


def _instance_type(clients: Clients, config_name: str) -> str | None:
    try:
        variants = clients.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)[
            "ProductionVariants"
        ]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return next((v.get("InstanceType") for v in variants if v["VariantName"] == VARIANT), None)


def _scalable_target(clients: Clients, settings: EndpointSettings) -> dict[str, Any] | None:
    targets = (
        clients("application-autoscaling")
        .describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=[scaling_resource_id(settings)],
            ScalableDimension=SCALABLE_DIMENSION,
        )
        .get("ScalableTargets", [])
    )
    return targets[0] if targets else None


def _deregister_scaling(clients: Clients, settings: EndpointSettings) -> None:
    log(f"deregistering the autoscaling target of {settings.endpoint_name}")
    clients("application-autoscaling").deregister_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=scaling_resource_id(settings),
        ScalableDimension=SCALABLE_DIMENSION,
    )


def prepare_scaling_for_update(clients: Clients, plan: DeployPlan, running_config: str) -> None:
    """SageMaker refuses an update that changes the instance type of an autoscaled variant;
    deregister the target first in that case (it is registered again after the update)."""
    if not plan.settings.real_time:
        return
    old_type = _instance_type(clients, running_config)
    if old_type is None or old_type == plan.settings.instance_type:
        return
    if _scalable_target(clients, plan.settings):
        _deregister_scaling(clients, plan.settings)


def ensure_autoscaling(clients: Clients, plan: DeployPlan) -> int:
    """Match the endpoint's autoscaling to the plan; return the number of mutating calls."""
    if not plan.settings.real_time:
        return 0
    target = _scalable_target(clients, plan.settings)
    if plan.autoscaling is None:
        if target:
            _deregister_scaling(clients, plan.settings)
            return 1
        return 0
    wanted_target, wanted_policy = plan.autoscaling
    autoscaling = clients("application-autoscaling")
    calls = 0
    if not target or (target["MinCapacity"], target["MaxCapacity"]) != (
        wanted_target["MinCapacity"],
        wanted_target["MaxCapacity"],
    ):
        log(
            f"autoscaling {plan.settings.endpoint_name}: "
            f"{wanted_target['MinCapacity']}-{wanted_target['MaxCapacity']} instances"
        )
        autoscaling.register_scalable_target(**wanted_target)
        calls += 1
    policies = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker",
        ResourceId=wanted_policy["ResourceId"],
        ScalableDimension=wanted_policy["ScalableDimension"],
        PolicyNames=[wanted_policy["PolicyName"]],
    ).get("ScalingPolicies", [])
    wanted = wanted_policy["TargetTrackingScalingPolicyConfiguration"]
    current = policies[0].get("TargetTrackingScalingPolicyConfiguration", {}) if policies else {}
    if not policies or any(current.get(k) != v for k, v in wanted.items()):
        log(f"target tracking on {wanted['TargetValue']:g} invocations per instance")
        autoscaling.put_scaling_policy(**wanted_policy)
        calls += 1
    return calls
