"""What an endpoint should look like, computed from config and a resolved model version (no AWS calls).

Every name is deterministic: the same package ARN with the same settings always gives the
same model and endpoint-config names, which is how a repeated deploy recognises that there
is nothing to do. Prod models are created from the package ARN (SageMaker then requires the
version to be Approved); QA models from the package's containers (QA runs versions that are
not approved yet). Settings live in config/project.json under `environments.<env>.endpoint`;
config.py validates them into `config.EndpointSettings` (documented there), which is
`cfg.environment(env).endpoint`. Data capture goes to s3://<capture bucket>/data-capture/<env>
in the workload account, encrypted with that account's capture key
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html). The traffic
shifting, alarm and autoscaling bodies come from `update_policy`; an async endpoint's
AsyncInferenceConfig and backlog scaling from `async_config`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, EndpointSettings, Environment
from ..promotion.metadata import check_tags
from ..promotion.version import ModelVersion, check_deployable
from .async_config import async_inference_config
from .aws import DeployError
from .update_policy import (
    PROVISIONING_ALLOWANCE_SECONDS,
    SCALABLE_DIMENSION,
    VARIANT,
    alarm_names,
    alarm_requests,
    autoscaling_requests,
    default_timeout,
    deployment_config,
    rollback_deployment_config,
    scaling_policy_name,
    scaling_resource_id,
)

# Also read from here by teardown, the CLI and the tests, though update_policy defines some.
__all__ = [
    "NAME_LIMIT",
    "PROVISIONING_ALLOWANCE_SECONDS",
    "SCALABLE_DIMENSION",
    "VARIANT",
    "DeployPlan",
    "alarm_names",
    "default_timeout",
    "digest",
    "is_versioned_name",
    "model_containers",
    "plan",
    "rollback_deployment_config",
    "scaling_policy_name",
    "scaling_resource_id",
    "versioned_name",
]

NAME_LIMIT = 63


def digest(value: Any, length: int = 8) -> str:
    """Short, stable hash of a JSON-serialisable value."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


def versioned_name(base: str, version: int, hash_: str) -> str:
    """`<base>-v<version>-<hash>`, with base shortened so the name fits SageMaker's 63 characters."""
    suffix = f"-v{version}-{hash_}"
    return base[: NAME_LIMIT - len(suffix)].rstrip("-") + suffix


VERSIONED = re.compile(r"^(?P<base>[A-Za-z0-9-]+)-v\d+-[0-9a-f]{8}$")


def is_versioned_name(base: str, name: str) -> bool:
    """Whether `name` is a `versioned_name` of `base` (its base shortened when the name is long)."""
    match = VERSIONED.match(name)
    if not match:
        return False
    found = match["base"]
    return found == base or (len(name) == NAME_LIMIT and base.startswith(found))


def data_capture_destination(cfg: Config, env: str) -> tuple[str, str]:
    """(S3 URI, KMS key) for an environment's data capture: its own capture bucket (which the
    workload stack creates) under data-capture/<env>, encrypted with the capture key as an alias
    ARN in the workload account."""
    environment = cfg.environment(env)
    return environment.capture_uri, environment.capture_key_arn


def data_capture_config(cfg: Config, env: str, sampling_percent: int) -> dict[str, Any]:
    """DataCaptureConfig: requests and responses (CSV and JSON bodies) of every variant to the
    environment's capture destination, `sampling_percent` of the requests."""
    destination, key = data_capture_destination(cfg, env)
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": sampling_percent,
        "DestinationS3Uri": destination,
        "KmsKeyId": key,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }


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


def model_containers(environment: Environment, version: ModelVersion) -> list[dict[str, Any]]:
    """CreateModel `Containers` for deploying `version` to `environment`.

    Prod (`Environment.approved_only`): `[{"ModelPackageName": <ARN>}]`, so SageMaker itself
    checks at CreateModel that the version is Approved. Other environments deploy versions
    that are not approved yet, which SageMaker refuses by ARN; their model is built from the
    package's InferenceSpecification containers instead (image, model data, environment).
    It raises DeployError when the package has no container with an image.
    """
    package_arn = version.arn
    if environment.approved_only:
        return [{"ModelPackageName": package_arn}]
    specified = version.containers()
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
    package: ModelVersion
    role_arn: str
    model_name: str
    config_name: str
    model_request: dict[str, Any]
    config_request: dict[str, Any]
    alarms: list[dict[str, Any]] = field(default_factory=list)
    deployment_config: dict[str, Any] | None = None
    autoscaling: tuple[dict[str, Any], dict[str, Any]] | None = None
    timeout: int = PROVISIONING_ALLOWANCE_SECONDS


def plan(cfg: Config, env: str, version: ModelVersion) -> DeployPlan:
    """Compute the deploy of the resolved `version` to `env` without calling AWS.

    Names are
    `<endpoint>-v<version>-<hash>`, hashed over the ARN, the execution role and the model's
    containers (model) or the variant settings (endpoint config), so the same ARN with the
    same settings always gives the same names. The model, its endpoint config and
    a new endpoint carry the tags `model-package-arn` and `model-package-version`. A batch-only
    environment (endpoint type "none") plans the model alone: no config name or request.
    It raises DeployError when `check_deployable` refuses the package for this environment
    (wrong account, region or group, not Completed, not Approved for prod), when the package
    has no usable container. (The endpoint settings were validated when the config was parsed.)
    """
    environment = cfg.environment(env)
    settings = environment.endpoint
    check_deployable(cfg, env, version)
    package_arn = version.arn
    role = cfg.role_arn(environment.account_role, "sagemaker_endpoint")
    tags = check_tags(
        [
            {"Key": "project", "Value": cfg.project.slug},
            {"Key": "environment", "Value": env},
            {"Key": "model-package-arn", "Value": package_arn},
            {"Key": "model-package-version", "Value": str(version.version)},
        ],
        f"the {env} deploy of {package_arn}",
    )
    containers = model_containers(environment, version)
    model_name = versioned_name(
        settings.endpoint_name, version.version, digest([package_arn, role, containers])
    )
    model_request = {
        "ModelName": model_name,
        "ExecutionRoleArn": role,
        "Containers": containers,
        # The serving container needs no network: SageMaker downloads the model data for it,
        # and a container definition that would fetch code at start-up cannot.
        "EnableNetworkIsolation": True,
        "Tags": tags,
    }
    config_name, config_request = "", {}
    if not settings.batch_only:  # a batch-only environment has no endpoint config
        config_request = production_config(cfg, env, model_name)
        config_name = versioned_name(settings.endpoint_name, version.version, digest(config_request))
        config_request = {"EndpointConfigName": config_name, **config_request, "Tags": tags}
    return DeployPlan(
        settings=settings,
        package=version,
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


def production_config(cfg: Config, env: str, model_name: str) -> dict[str, Any]:
    """The endpoint config body (no name, no tags) of `env` serving the model `model_name`:
    its variant, async inference and data capture."""
    settings = cfg.environment(env).endpoint
    if settings.on_instances:
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
    if settings.is_async:
        config_request["AsyncInferenceConfig"] = async_inference_config(cfg, env)
    if settings.data_capture.get("enabled"):
        sampling = int(settings.data_capture["sampling_percent"])
        config_request["DataCaptureConfig"] = data_capture_config(cfg, env, sampling)
    return config_request
