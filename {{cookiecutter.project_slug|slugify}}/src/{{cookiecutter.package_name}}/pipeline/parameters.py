"""What the pipeline takes from the config: its name, parameters, caching, retries, hyperparameters.

- `parameters(cfg)`: the pipeline parameters (each overridable per execution), with defaults
  from `pipeline.*` of config/project.json. What decides whether a model is registered and how
  is not among them: the gate's metric and threshold (`pipeline.metric`,
  `pipeline.metric_threshold`) and the approval status (`APPROVAL_STATUS`) are fixed in the
  definition, so no execution can start with a lower bar or register an approved version;
- `cache_config(cfg)` and `job_retry_policies(cfg)`: `pipeline.cache_expire_after` and
  `pipeline.retry_attempts`
  (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-caching.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html);
- `hyperparameters(cfg)`: what steps/train.py receives, and `hyperparameters_metadata(cfg)` the
  same as one model-package metadata value.
"""

from __future__ import annotations

from typing import Any

from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.mlops.workflow.steps import CacheConfig

from ..config import PIPELINE_KINDS, Config, ConfigError
from ..promotion.metadata import check_customer_metadata
from . import names

KINDS = PIPELINE_KINDS
# The only status the pipeline registers with: approval is a reviewed step outside it.
APPROVAL_STATUS = "PendingManualApproval"


class PipelineConfigError(ConfigError):
    """The config or the arguments do not describe a pipeline that can be built."""


def pipeline_name(cfg: Config, kind: str, branch: str) -> str:
    """Pipeline name for a branch kind (feature or dev) and branch (`names.pipeline_name`: one
    feature pipeline per branch); PipelineConfigError for another kind."""
    if kind not in KINDS:
        raise PipelineConfigError(f"unknown pipeline kind {kind!r}; expected one of {', '.join(KINDS)}")
    return names.pipeline_name(cfg, kind, branch)


def parameters(cfg: Config) -> dict[str, Any]:
    """Pipeline parameters (overridable per execution), with defaults from the config. The gate
    and the approval status are deliberately not parameters (see the module docstring)."""
    pipe = cfg.pipeline
    return {
        "input_data_uri": ParameterString("InputDataUri", default_value=pipe.input_data_uri),
        # Filled by the CLI at start time (S3 version ID or ETag of the input data).
        "input_data_version": ParameterString("InputDataVersion", default_value="unknown"),
        "processing_instance_type": ParameterString(
            "ProcessingInstanceType", default_value=pipe.processing_instance_type
        ),
        "training_instance_type": ParameterString(
            "TrainingInstanceType", default_value=pipe.training_instance_type
        ),
    }


def cache_config(cfg: Config) -> CacheConfig:
    """Step caching for the job steps: a step whose cache key is unchanged reuses an earlier result.

    Cache keys (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html)
    include the S3 locations of the step code. Processing code goes to content-hashed paths,
    so Preprocess and Evaluate hit the cache across upserts. ModelTrainer stages the training
    code under a new timestamped folder on every build, so Train hits the cache only for
    executions of the same upserted version (e.g. `start` again on other input data).
    """
    return CacheConfig(enable_caching=True, expire_after=cfg.pipeline.cache_expire_after)


def job_retry_policies(cfg: Config) -> list:
    """Retries for processing and training steps: service faults, throttling, capacity, limits."""
    attempts = cfg.pipeline.retry_attempts
    return [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            max_attempts=attempts,
            interval_seconds=30,
        ),
        SageMakerJobStepRetryPolicy(
            exception_types=[SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT],
            failure_reason_types=[
                SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
            ],
            max_attempts=attempts,
            interval_seconds=60,
        ),
    ]


def register_retry_policies(cfg: Config) -> list:
    """Retries for the registration: service faults and throttling only."""
    return [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            max_attempts=cfg.pipeline.retry_attempts,
            interval_seconds=10,
        )
    ]


def hyperparameters(cfg: Config) -> dict[str, Any]:
    """Arguments steps/train.py receives: the framework's hyperparameters plus --framework."""
    return {**cfg.model.params, "framework": cfg.model.framework}


def hyperparameters_metadata(cfg: Config) -> str:
    """Hyperparameters as one customer-metadata value, `key=value` pairs separated by spaces.

    SageMaker refuses `{`, `"` and `,` in metadata values, so JSON cannot be stored there.
    It raises DeployError when a value holds a character SageMaker would refuse.
    """
    text = " ".join(f"{key}={value}" for key, value in sorted(hyperparameters(cfg).items()))
    check_customer_metadata({"hyperparameters": text}, "model.hyperparameters")
    return text


def metric_json_path(cfg: Config) -> str:
    """Where the gate reads the configured metric in evaluation.json."""
    return f"binary_classification_metrics.{cfg.pipeline.metric}.value"


def endpoint_instance_types(cfg: Config) -> list[str]:
    """Instance types the deploy environments' endpoints name (sorted), recorded on the package
    as its inference instances; a batch-only project (no endpoint) names its batch jobs' instead."""
    types = {env.endpoint.instance_type for env in cfg.environments.values() if env.endpoint.instance_type}
    return sorted(types or batch_instance_types(cfg))


def batch_instance_types(cfg: Config) -> set[str]:
    return {settings.instance_type for settings in cfg.batch.environments.values()}


def transform_instance_types(cfg: Config) -> list[str]:
    """Instance types a transform job of the package may run on (sorted): the endpoints' and the
    batch jobs' (`batch.environments`)."""
    return sorted(set(endpoint_instance_types(cfg)) | batch_instance_types(cfg))
