"""Alarms and autoscaling of a real-time endpoint: put what is missing or differs, and take the
scalable target off around an update SageMaker would otherwise refuse (a change of the instance
type, or of the variants, of an autoscaled endpoint), for a deploy and for a rollback alike.
Each function that may change something returns whether, or how many times, it did.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..config import EndpointSettings
from .async_config import ensure_scale_from_zero
from .aws import Clients, is_not_found, log, put_changed_alarms
from .endpoint import DeployPlan
from .update_policy import SCALABLE_DIMENSION, VARIANT, autoscaling_requests, scaling_resource_id

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
# {variant name: instance type, None for a serverless variant}
InstanceTypes = dict[str, str | None]


def ensure_alarms(clients: Clients, plan: DeployPlan) -> int:
    """Put the alarms that are missing or differ from the plan; return how many were put."""
    if not plan.alarms:
        return 0
    cloudwatch = clients("cloudwatch")
    names = [alarm["AlarmName"] for alarm in plan.alarms]
    existing = {
        a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", [])
    }
    return put_changed_alarms(cloudwatch, plan.alarms, existing, ALARM_FIELDS)


def instance_types(variants: list[dict[str, Any]]) -> InstanceTypes:
    """The instance type of each variant of an endpoint config (or of a CreateEndpointConfig body)."""
    return {v["VariantName"]: v.get("InstanceType") for v in variants}


def config_instance_types(clients: Clients, config_name: str) -> InstanceTypes | None:
    """DescribeEndpointConfig: the instance types of its variants; None when the config is gone."""
    try:
        config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return instance_types(config["ProductionVariants"])


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
    # Deregistering a scalable target also deletes its scaling policies (and their alarms).
    log(f"deregistering the autoscaling target (and its policy) of {settings.endpoint_name}")
    clients("application-autoscaling").deregister_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=scaling_resource_id(settings),
        ScalableDimension=SCALABLE_DIMENSION,
    )


def release_scaling(
    clients: Clients, settings: EndpointSettings, running: InstanceTypes | None, wanted: InstanceTypes
) -> bool:
    """Before an UpdateEndpoint from a config with the instance types `running` (None: unknown,
    the config is gone) to one with `wanted`: when they differ and the variant is registered as
    a scalable target, deregister it, since SageMaker refuses that update otherwise. True when
    it deregistered; the caller registers the target again after the verified update."""
    if running == wanted or not _scalable_target(clients, settings):
        return False
    _deregister_scaling(clients, settings)
    return True


def prepare_scaling_for_update(clients: Clients, plan: DeployPlan, running_config: str) -> bool:
    """The deploy's `release_scaling`, for a plan on instances updating off `running_config`."""
    if not plan.settings.on_instances:
        return False
    running = config_instance_types(clients, running_config)
    if running is None:
        return False
    wanted = instance_types(plan.config_request["ProductionVariants"])
    return release_scaling(clients, plan.settings, running, wanted)


def apply_autoscaling(
    clients: Clients,
    settings: EndpointSettings,
    requests: tuple[dict[str, Any], dict[str, Any]] | None,
) -> int:
    """Match the variant's scalable target and policy to `requests` (None: no autoscaling, a
    registered target is deregistered); return the number of mutating calls."""
    target = _scalable_target(clients, settings)
    if requests is None:
        if target:
            _deregister_scaling(clients, settings)
            return 1
        return 0
    wanted_target, wanted_policy = requests
    autoscaling = clients("application-autoscaling")
    calls = 0
    if not target or (target["MinCapacity"], target["MaxCapacity"]) != (
        wanted_target["MinCapacity"],
        wanted_target["MaxCapacity"],
    ):
        log(
            f"autoscaling {settings.endpoint_name}: "
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
        log(f"target tracking on {wanted['TargetValue']:g} per instance ({wanted_policy['PolicyName']})")
        autoscaling.put_scaling_policy(**wanted_policy)
        calls += 1
    if settings.is_async:
        calls += ensure_scale_from_zero(clients, settings)
    return calls


def ensure_autoscaling(clients: Clients, plan: DeployPlan) -> int:
    """Match the endpoint's autoscaling to the plan; return the number of mutating calls."""
    if not plan.settings.on_instances:
        return 0
    return apply_autoscaling(clients, plan.settings, plan.autoscaling)


def autoscales(settings: EndpointSettings) -> bool:
    """Whether the environment's settings ask for autoscaling (a real-time endpoint)."""
    return autoscaling_requests(settings) is not None


def restore_autoscaling(clients: Clients, settings: EndpointSettings, restored: InstanceTypes) -> int:
    """After a rollback to a config with the instance types `restored`: apply the environment's
    autoscaling settings to its variant when they ask for autoscaling and the variant runs on
    instances (a serverless variant has no instance count to scale). Read-only when the target
    and policy already match; return the number of mutating calls."""
    if not autoscales(settings) or not restored.get(VARIANT):
        return 0
    return apply_autoscaling(clients, settings, autoscaling_requests(settings))
