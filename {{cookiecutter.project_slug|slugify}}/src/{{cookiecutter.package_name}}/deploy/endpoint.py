"""What an endpoint should look like, computed from config and a described package (no AWS calls).

Every name is deterministic: the same package ARN with the same settings always gives the
same model and endpoint-config names, which is how a repeated deploy recognises that there
is nothing to do. Prod models are created from the package ARN (SageMaker then requires the
version to be Approved); QA models from the package's containers (QA runs versions that are
not approved yet). Settings live in config/project.json under `environments.<env>.endpoint`:

- type: "real-time" or "serverless" (serverless is the cheap QA option; it supports neither
  autoscaling nor data capture);
- instance_type / instance_count (real-time), serverless.memory_mb / max_concurrency;
- autoscaling: target tracking on SageMakerVariantInvocationsPerInstance
  (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling.html);
- data_capture: requests and responses to s3://<capture bucket>/data-capture/<env>, encrypted
  with its KMS key (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html);
  the bucket and key are `environments.<env>.data_capture_bucket` / `data_capture_kms_key_alias`
  in the workload account, else the shared artifact bucket and the shared key;
- traffic_shifting: blue/green CANARY, LINEAR or ALL_AT_ONCE
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html);
- alarms: 5XX errors and p99 model latency; a real-time update rolls back when one fires.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .. import config
from .aws import DeployError
from .registry import APPROVED_ONLY_ENVIRONMENTS, PackageRef, check_deployable, check_tags

VARIANT = "AllTraffic"
REAL_TIME = "real-time"
SERVERLESS = "serverless"
NAME_LIMIT = 63
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# Time allowed for SageMaker to provision instances and pass health checks, on top of the
# traffic-shifting waits. Raise it for large models or slow containers.
PROVISIONING_ALLOWANCE_SECONDS = 900


def digest(value: Any, length: int = 8) -> str:
    """Short, stable hash of a JSON-serialisable value."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


def versioned_name(base: str, version: int, hash_: str) -> str:
    """`<base>-v<version>-<hash>`, with base shortened so the name fits SageMaker's 63 characters."""
    suffix = f"-v{version}-{hash_}"
    return base[: NAME_LIMIT - len(suffix)].rstrip("-") + suffix


def _alias_arn(cfg: dict[str, Any], account_role: str, alias: str) -> str:
    if not alias.startswith("alias/"):
        alias = f"alias/{alias}"
    return f"arn:aws:kms:{cfg['aws']['region']}:{config.account_id(cfg, account_role)}:{alias}"


def data_capture_destination(cfg: dict[str, Any], env: str) -> tuple[str, str]:
    """(S3 URI, KMS key) for an environment's data capture.

    With `environments.<env>.data_capture_bucket` (the capture bucket the workload stack
    creates) the key is that environment's `data_capture_kms_key_alias`, as an alias ARN in the
    workload account. Without it, captures go to the shared artifact bucket under
    data-capture/<env>, encrypted with the shared key (`registry.kms_key_arn` if set, else the
    alias ARN of `registry.kms_key_alias` in the shared-services account: a bare alias would be
    looked up in the workload account).
    """
    env_cfg = config.environment(cfg, env)
    if env_cfg.get("data_capture_bucket"):
        alias = env_cfg.get("data_capture_kms_key_alias")
        if not alias:
            raise DeployError(
                f"environments.{env}.data_capture_bucket is set but data_capture_kms_key_alias is not"
            )
        key = _alias_arn(cfg, env_cfg["account"], alias)
        return f"s3://{env_cfg['data_capture_bucket']}/data-capture/{env}", key
    registry = cfg["registry"]
    key = registry.get("kms_key_arn") or _alias_arn(cfg, "shared_services", registry["kms_key_alias"])
    return f"s3://{registry['artifact_bucket']}/data-capture/{env}", key


@dataclass(frozen=True)
class EndpointSettings:
    """One environment's endpoint settings, validated."""

    env: str
    endpoint_name: str
    kind: str
    instance_type: str
    instance_count: int
    serverless: dict[str, int]
    autoscaling: dict[str, Any]
    data_capture: dict[str, Any]
    traffic: dict[str, Any]
    alarms: dict[str, float]

    @property
    def real_time(self) -> bool:
        return self.kind == REAL_TIME


def settings_for(cfg: dict[str, Any], env: str) -> EndpointSettings:
    """Read and check `environments.<env>.endpoint`; DeployError names the bad setting."""
    env_cfg = config.environment(cfg, env)
    endpoint = env_cfg["endpoint"]
    where = f"environments.{env}.endpoint"
    kind = endpoint.get("type", REAL_TIME)
    if kind not in (REAL_TIME, SERVERLESS):
        raise DeployError(f"{where}.type is {kind!r}; expected {REAL_TIME!r} or {SERVERLESS!r}")
    settings = EndpointSettings(
        env=env,
        endpoint_name=env_cfg["endpoint_name"],
        kind=kind,
        instance_type=endpoint.get("instance_type", ""),
        instance_count=int(endpoint.get("instance_count", 1)),
        serverless={k: int(v) for k, v in endpoint.get("serverless", {}).items()},
        autoscaling=dict(endpoint.get("autoscaling", {"enabled": False})),
        data_capture=dict(endpoint.get("data_capture", {"enabled": False})),
        traffic=dict(endpoint.get("traffic_shifting", {"type": "ALL_AT_ONCE", "wait_seconds": 0})),
        alarms={k: float(v) for k, v in endpoint.get("alarms", {}).items()},
    )
    if settings.real_time:
        if not settings.instance_type.startswith("ml."):
            raise DeployError(
                f"{where}.instance_type {settings.instance_type!r} is not an ml.* instance type"
            )
        if settings.instance_count < 1:
            raise DeployError(f"{where}.instance_count must be at least 1")
        traffic = settings.traffic
        shift = traffic.get("type", "ALL_AT_ONCE")
        if shift not in ("CANARY", "LINEAR", "ALL_AT_ONCE"):
            raise DeployError(
                f"{where}.traffic_shifting.type is {shift!r}; expected CANARY, LINEAR or ALL_AT_ONCE"
            )
        if shift == "CANARY" and not 1 <= int(traffic.get("canary_percent", 0)) <= 50:
            raise DeployError(f"{where}.traffic_shifting.canary_percent must be 1-50 (percent of capacity)")
        if shift == "LINEAR" and not 10 <= int(traffic.get("linear_step_percent", 0)) <= 50:
            raise DeployError(
                f"{where}.traffic_shifting.linear_step_percent must be 10-50 (percent of capacity)"
            )
        for key in ("wait_seconds", "termination_wait_seconds"):
            if not 0 <= int(traffic.get(key, 0)) <= 3600:
                raise DeployError(f"{where}.traffic_shifting.{key} must be 0-3600 seconds")
        for key in ("error_5xx_threshold", "model_latency_p99_ms"):
            if settings.alarms.get(key, 0) <= 0:
                raise DeployError(f"{where}.alarms.{key} must be a positive number")
        scaling = settings.autoscaling
        if scaling.get("enabled"):
            low, high = int(scaling.get("min_capacity", 0)), int(scaling.get("max_capacity", 0))
            if not 1 <= low <= high:
                raise DeployError(f"{where}.autoscaling needs 1 <= min_capacity <= max_capacity")
            if float(scaling.get("target_invocations_per_instance", 0)) <= 0:
                raise DeployError(f"{where}.autoscaling.target_invocations_per_instance must be positive")
    else:
        memory = settings.serverless.get("memory_mb", 0)
        if memory not in range(1024, 6145, 1024):
            raise DeployError(
                f"{where}.serverless.memory_mb is {memory}; expected 1024-6144 in steps of 1024"
            )
        if not 1 <= settings.serverless.get("max_concurrency", 0) <= 200:
            raise DeployError(f"{where}.serverless.max_concurrency must be 1-200")
        for option in ("autoscaling", "data_capture"):
            if getattr(settings, option).get("enabled"):
                raise DeployError(
                    f"{where}.{option}.enabled is true, but serverless endpoints do not support it"
                )
    capture = settings.data_capture
    if capture.get("enabled") and not 0 < int(capture.get("sampling_percent", 0)) <= 100:
        raise DeployError(f"{where}.data_capture.sampling_percent must be 1-100")
    return settings


def alarm_names(settings: EndpointSettings) -> list[str]:
    return [f"{settings.endpoint_name}-5xx-errors", f"{settings.endpoint_name}-model-latency-p99"]


def alarm_requests(settings: EndpointSettings) -> list[dict[str, Any]]:
    """PutMetricAlarm bodies: 5XX errors (sum per minute) and p99 ModelLatency (microseconds)."""
    if not settings.real_time:
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


def traffic_routing(traffic: dict[str, Any]) -> dict[str, Any]:
    shift = traffic.get("type", "ALL_AT_ONCE")
    routing: dict[str, Any] = {"Type": shift, "WaitIntervalInSeconds": int(traffic.get("wait_seconds", 0))}
    if shift == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": int(traffic["canary_percent"])}
    elif shift == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": int(traffic["linear_step_percent"])}
    return routing


def shifting_seconds(traffic: dict[str, Any]) -> int:
    """How long SageMaker spends shifting traffic and baking before the old fleet goes."""
    wait = int(traffic.get("wait_seconds", 0))
    steps = 1
    if traffic.get("type") == "LINEAR":
        steps = math.ceil(100 / int(traffic["linear_step_percent"]))
    return steps * wait + int(traffic.get("termination_wait_seconds", 0))


def deployment_config(settings: EndpointSettings) -> dict[str, Any] | None:
    """UpdateEndpoint DeploymentConfig: blue/green with the configured traffic shifting and the
    alarms as auto-rollback triggers. None for serverless (SageMaker's default blue/green)."""
    if not settings.real_time:
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
    if not settings.real_time:
        return None
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 0,
        }
    }


def default_timeout(settings: EndpointSettings) -> int:
    """Seconds to wait for a create/update before calling it failed."""
    if not settings.real_time:
        return PROVISIONING_ALLOWANCE_SECONDS
    return PROVISIONING_ALLOWANCE_SECONDS + shifting_seconds(settings.traffic) + 300


def scaling_resource_id(settings: EndpointSettings) -> str:
    return f"endpoint/{settings.endpoint_name}/variant/{VARIANT}"


def scaling_policy_name(settings: EndpointSettings) -> str:
    return f"{settings.endpoint_name}-invocations-per-instance"


def autoscaling_requests(settings: EndpointSettings) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """RegisterScalableTarget and PutScalingPolicy bodies, or None when autoscaling is off."""
    scaling = settings.autoscaling
    if not (settings.real_time and scaling.get("enabled")):
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


# Container fields a model takes over from the package's InferenceSpecification when it is
# built from them (QA) rather than from the package ARN (prod).
CONTAINER_FIELDS = (
    "ContainerHostname",
    "Image",
    "ModelDataUrl",
    "ModelDataSource",
    "AdditionalModelDataSources",
    "Environment",
)


def model_containers(env: str, package_arn: str, package: dict[str, Any]) -> list[dict[str, Any]]:
    """CreateModel `Containers` for deploying the described package `package` to `env`.

    Prod (APPROVED_ONLY_ENVIRONMENTS): `[{"ModelPackageName": <ARN>}]`, so SageMaker itself
    checks at CreateModel that the version is Approved. Other environments deploy versions
    that are not approved yet, which SageMaker refuses by ARN; their model is built from the
    package's InferenceSpecification containers instead (image, model data, environment).
    It raises DeployError when the package has no container with an image.
    """
    if env in APPROVED_ONLY_ENVIRONMENTS:
        return [{"ModelPackageName": package_arn}]
    specified = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not specified:
        raise DeployError(f"model package {package_arn} has no InferenceSpecification containers")
    containers = []
    for number, container in enumerate(specified, start=1):
        if not container.get("Image"):
            raise DeployError(f"container {number} of model package {package_arn} names no image")
        containers.append({key: container[key] for key in CONTAINER_FIELDS if container.get(key)})
    return containers


@dataclass
class DeployPlan:
    """Everything a deploy of one package to one environment will ask SageMaker for."""

    settings: EndpointSettings
    package: PackageRef
    role_arn: str
    model_name: str
    config_name: str
    model_request: dict[str, Any]
    config_request: dict[str, Any]
    alarms: list[dict[str, Any]] = field(default_factory=list)
    deployment_config: dict[str, Any] | None = None
    autoscaling: tuple[dict[str, Any], dict[str, Any]] | None = None
    timeout: int = PROVISIONING_ALLOWANCE_SECONDS


def plan(cfg: dict[str, Any], env: str, package_arn: str, package: dict[str, Any]) -> DeployPlan:
    """Compute the deploy of `package_arn` to `env` without calling AWS.

    `package` is the DescribeModelPackage answer for `package_arn`. Names are
    `<endpoint>-v<version>-<hash>`, hashed over the ARN, the execution role and the model's
    containers (model) or the variant settings (endpoint config), so the same ARN with the
    same settings always gives the same names. The model, its endpoint config and
    a new endpoint carry the tags `model-package-arn` and `model-package-version`.
    It raises DeployError when `check_deployable` refuses the package for this environment
    (wrong account, region or group, not Completed, not Approved for prod), when the package
    has no usable container, or when the settings are invalid.
    """
    settings = settings_for(cfg, env)
    ref = check_deployable(cfg, env, package_arn, package)
    env_cfg = config.environment(cfg, env)
    role = config.role_arn(cfg, env_cfg["account"], "sagemaker_endpoint_role")
    tags = check_tags(
        [
            {"Key": "project", "Value": cfg["project"]["slug"]},
            {"Key": "environment", "Value": env},
            {"Key": "model-package-arn", "Value": package_arn},
            {"Key": "model-package-version", "Value": str(ref.version)},
        ],
        f"the {env} deploy of {package_arn}",
    )
    containers = model_containers(env, package_arn, package)
    model_name = versioned_name(settings.endpoint_name, ref.version, digest([package_arn, role, containers]))
    model_request = {
        "ModelName": model_name,
        "ExecutionRoleArn": role,
        "Containers": containers,
        "Tags": tags,
    }
    if settings.real_time:
        variant: dict[str, Any] = {
            "VariantName": VARIANT,
            "ModelName": model_name,
            "InstanceType": settings.instance_type,
            "InitialInstanceCount": settings.instance_count,
            "InitialVariantWeight": 1.0,
        }
    else:
        variant = {
            "VariantName": VARIANT,
            "ModelName": model_name,
            "ServerlessConfig": {
                "MemorySizeInMB": settings.serverless["memory_mb"],
                "MaxConcurrency": settings.serverless["max_concurrency"],
            },
        }
    config_request: dict[str, Any] = {"ProductionVariants": [variant]}
    if settings.data_capture.get("enabled"):
        destination, key = data_capture_destination(cfg, env)
        config_request["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": int(settings.data_capture["sampling_percent"]),
            "DestinationS3Uri": destination,
            "KmsKeyId": key,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            },
        }
    config_name = versioned_name(settings.endpoint_name, ref.version, digest(config_request))
    config_request = {"EndpointConfigName": config_name, **config_request, "Tags": tags}
    return DeployPlan(
        settings=settings,
        package=ref,
        role_arn=role,
        model_name=model_name,
        config_name=config_name,
        model_request=model_request,
        config_request=config_request,
        alarms=alarm_requests(settings),
        deployment_config=deployment_config(settings),
        autoscaling=autoscaling_requests(settings),
        timeout=default_timeout(settings),
    )
