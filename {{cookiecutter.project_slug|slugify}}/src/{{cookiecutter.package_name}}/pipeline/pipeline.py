"""SageMaker pipeline definition: Preprocess -> Train -> Evaluate -> metric gate -> Register | Fail.

`get_pipeline(cfg, kind, role_arn=...)` is a pure factory: it takes the parsed `Config`, builds
the steps (one small builder per step) and returns a `Pipeline` object without calling AWS.
AWS is touched only when the caller asks for `pipeline.definition()` (it uploads the step
scripts to the artifact bucket, because the definition names their S3 locations),
`upsert()` or `start()`. `python -m <package>.pipeline.cli` is the driver.

Built with the SageMaker Python SDK v3 (`sagemaker.mlops.workflow`, `sagemaker.train`,
`sagemaker.core`, `sagemaker.serve`); see
https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-sdk.html.

Knobs a user tunes live in config/project.json, not here:
- `pipeline.processing_instance_type`, `pipeline.training_instance_type`, `pipeline.metric`,
  `pipeline.metric_threshold`, `pipeline.input_data_uri`: defaults of the pipeline parameters
  below (each can be overridden per execution). An empty `input_data_uri` means
  `s3://<artifact bucket>/datasets/sample.csv` (config.py derives it).
- `pipeline.framework_versions`: SageMaker framework container versions per framework
  (https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html).
- `pipeline.cache_expire_after` (ISO 8601 duration) and `pipeline.retry_attempts`
  (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-caching.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html).
- `model.framework` and `model.hyperparameters.<framework>`: what steps/train.py fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from sagemaker.core import image_uris
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer

from ..config import PIPELINE_KINDS, Config, ConfigError
from ..deploy.registry import check_customer_metadata, metadata_value

KINDS = PIPELINE_KINDS
# Whether the SageMaker SDK may send usage telemetry to AWS (see silence_sdk_telemetry).
SDK_TELEMETRY = False
STEPS_DIR = Path(__file__).resolve().parents[1] / "steps"
PROCESSING_BASE = "/opt/ml/processing"
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
# Request and response types the inference handler (steps/inference.py) accepts.
CONTENT_TYPES = ["text/csv", "application/json"]
RESPONSE_TYPES = ["application/json"]

# Step names: the CLI's progress lines, the tests and the workflows refer to them.
PREPROCESS, TRAIN, EVALUATE, GATE, REGISTER, FAIL = (
    "Preprocess",
    "Train",
    "Evaluate",
    "MetricGate",
    "Register",
    "MetricBelowThreshold",
)
EVALUATION_OUTPUT = "evaluation"
EVALUATION_FILE = "evaluation.json"


class PipelineConfigError(ConfigError):
    """The config or the arguments do not describe a pipeline that can be built."""


def pipeline_name(cfg: Config, kind: str) -> str:
    """Pipeline name for a branch kind (feature or dev); PipelineConfigError for another kind
    (a thin check over `cfg.names.pipelines`, which has no entry for prod)."""
    if kind not in KINDS:
        raise PipelineConfigError(f"unknown pipeline kind {kind!r}; expected one of {', '.join(KINDS)}")
    return cfg.names.pipelines[kind]


def silence_sdk_telemetry() -> None:
    """Stop the SageMaker SDK's usage telemetry: an HTTPS request to AWS after each SDK call.

    CI builds and `definition --offline` must not call out. The SDK's documented switch
    (`TelemetryOptOut` in an SDK config file) makes it re-validate its whole config schema on
    every setting lookup, which more than doubles the build time, so the SDK's sender is
    replaced instead. An SDK upgrade that renames it fails here loudly rather than sending
    silently. Set SDK_TELEMETRY = True to let the SDK send telemetry.
    """
    if SDK_TELEMETRY:
        return
    from sagemaker.core.telemetry import telemetry_logging

    if not hasattr(telemetry_logging, "_send_telemetry_request"):
        raise RuntimeError("sagemaker SDK telemetry sender not found; update silence_sdk_telemetry()")
    telemetry_logging._send_telemetry_request = _drop_telemetry


def _drop_telemetry(*_args: Any, **_kwargs: Any) -> None:
    return None


def pipeline_session(
    cfg: Config,
    boto_session: boto3.Session | None = None,
    default_bucket: str | None = None,
    sagemaker_client: Any = None,
) -> PipelineSession:
    """A PipelineSession for the config's region whose default bucket is the shared artifact bucket.

    Creating it makes no AWS call. `sagemaker_client` replaces the session's SageMaker client
    (tests pass one with a botocore Stubber).
    """
    silence_sdk_telemetry()
    boto_session = boto_session or boto3.Session(region_name=cfg.region)
    return PipelineSession(
        boto_session=boto_session,
        sagemaker_client=sagemaker_client,
        default_bucket=default_bucket or cfg.names.artifact_bucket,
    )


def parameters(cfg: Config) -> dict[str, Any]:
    """Pipeline parameters (overridable per execution), with defaults from the config."""
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
        "metric_threshold": ParameterFloat("MetricThreshold", default_value=pipe.metric_threshold),
        "approval_status": ParameterString(
            "ModelApprovalStatus", default_value="PendingManualApproval", enum_values=list(APPROVAL_STATUSES)
        ),
    }


def cache_config(cfg: Config) -> CacheConfig:
    """Step caching for the job steps: a step whose cache key is unchanged reuses an earlier result.

    Cache keys (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html)
    include the S3 locations of the step code. Processing code goes to content-hashed paths,
    so Preprocess and Evaluate hit the cache across upserts. ModelTrainer stages the training
    code under a new timestamped folder on every build, so Train hits the cache only for
    executions of the same upserted version (e.g. `start` again with another MetricThreshold).
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


def images(cfg: Config) -> dict[str, str]:
    """Container images for the configured framework (resolved offline by the SDK). The config
    guarantees `pipeline.framework_versions` has the framework's version."""
    framework = cfg.model.framework
    region = cfg.region
    version = cfg.pipeline.framework_versions[framework]
    instance_type = cfg.pipeline.training_instance_type
    try:
        return {
            "training": image_uris.retrieve(
                framework, region=region, version=version, instance_type=instance_type
            ),
            "inference": image_uris.retrieve(
                framework,
                region=region,
                version=version,
                instance_type=instance_type,
                image_scope="inference",
            ),
        }
    except ValueError as exc:
        # The SDK's image table knows which framework versions exist in which regions.
        raise PipelineConfigError(
            f"pipeline.framework_versions.{framework} is {version!r} and aws.region is {region!r}: "
            f"the SageMaker SDK has no {framework} image for them ({exc}); expected a version and region "
            "listed at https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html"
        ) from None


def hyperparameters_metadata(cfg: Config) -> str:
    """Hyperparameters as one customer-metadata value, `key=value` pairs separated by spaces.

    SageMaker refuses `{`, `"` and `,` in metadata values, so JSON cannot be stored there.
    It raises DeployError when a value holds a character SageMaker would refuse.
    """
    text = " ".join(f"{key}={value}" for key, value in sorted(hyperparameters(cfg).items()))
    check_customer_metadata({"hyperparameters": text}, "model.hyperparameters")
    return text


def hyperparameters(cfg: Config) -> dict[str, Any]:
    """Arguments steps/train.py receives: the framework's hyperparameters plus --framework."""
    return {**cfg.model.params, "framework": cfg.model.framework}


@dataclass(frozen=True)
class Build:
    """What every step builder needs: the config, the kind and what `get_pipeline` resolved once."""

    cfg: Config
    kind: str
    name: str
    role_arn: str
    session: PipelineSession
    bucket: str
    kms_key: str
    images: dict[str, str]
    params: dict[str, Any]
    cache: CacheConfig
    retries: list
    git_sha: str
    branch: str


def _s3_output(name: str, step: str, bucket: str, pipeline: str) -> ProcessingOutput:
    """A processing output under s3://<bucket>/<pipeline>/<execution id>/<step>/<name>."""
    destination = Join(
        on="/", values=["s3:/", bucket, pipeline, ExecutionVariables.PIPELINE_EXECUTION_ID, step, name]
    )
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=destination, local_path=f"{PROCESSING_BASE}/{name}", s3_upload_mode="EndOfJob"
        ),
    )


def _s3_input(name: str, source: Any, local_dir: str) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=source,
            local_path=f"{PROCESSING_BASE}/{local_dir}",
            s3_data_type="S3Prefix",
            s3_input_mode="File",
        ),
    )


def _processor(ctx: Build, step: str) -> ScriptProcessor:
    return ScriptProcessor(
        role=ctx.role_arn,
        image_uri=ctx.images["training"],
        command=["python3"],
        instance_type=ctx.params["processing_instance_type"],
        instance_count=1,
        base_job_name=step.lower(),
        output_kms_key=ctx.kms_key,
        sagemaker_session=ctx.session,
    )


def preprocess_step(ctx: Build) -> ProcessingStep:
    """Split the input CSV into train/validation/test with steps/preprocess.py."""
    step_args = _processor(ctx, PREPROCESS).run(
        code=str(STEPS_DIR / "preprocess.py"),
        inputs=[_s3_input("input", ctx.params["input_data_uri"], "input")],
        outputs=[
            _s3_output(name, PREPROCESS, ctx.bucket, ctx.name) for name in ("train", "validation", "test")
        ],
        arguments=["--target", ctx.cfg.model.target_column],
    )
    return ProcessingStep(
        name=PREPROCESS,
        step_args=step_args,
        cache_config=ctx.cache,
        retry_policies=ctx.retries,
    )


def _output_uri(step: ProcessingStep, name: str):
    return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def train_step(ctx: Build, preprocess: ProcessingStep) -> TrainingStep:
    """Fit the model with steps/train.py (the steps/ folder is the source dir) on the train split.

    ModelTrainer runs it through the SDK's script driver in the framework image: hyperparameters
    arrive as `--name value` arguments, channels in SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION.
    """
    trainer = ModelTrainer(
        sagemaker_session=ctx.session,
        role=ctx.role_arn,
        training_image=ctx.images["training"],
        source_code=SourceCode(source_dir=str(STEPS_DIR), entry_script="train.py"),
        compute=Compute(instance_type=ctx.params["training_instance_type"], instance_count=1),
        hyperparameters=hyperparameters(ctx.cfg),
        # Code is staged under s3://<bucket>/<pipeline>/train-<timestamp>/input/ (kept short so
        # the SDK never truncates the timestamp and two builds never share a folder).
        base_job_name=TRAIN.lower(),
        input_s3_key_prefix=ctx.name,
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{ctx.bucket}/{ctx.name}/{TRAIN}", kms_key_id=ctx.kms_key
        ),
    )
    step_args = trainer.train(
        input_data_config=[
            InputData(
                channel_name=channel, data_source=_output_uri(preprocess, channel), content_type="text/csv"
            )
            for channel in ("train", "validation")
        ]
    )
    return TrainingStep(name=TRAIN, step_args=step_args, cache_config=ctx.cache, retry_policies=ctx.retries)


def evaluate_step(
    ctx: Build, preprocess: ProcessingStep, train: TrainingStep
) -> tuple[ProcessingStep, PropertyFile]:
    """Score model.tar.gz on the test split with steps/evaluate.py; evaluation.json is a PropertyFile."""
    report = PropertyFile(name="EvaluationReport", output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE)
    step_args = _processor(ctx, EVALUATE).run(
        code=str(STEPS_DIR / "evaluate.py"),
        inputs=[
            _s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts, "model"),
            _s3_input("test", _output_uri(preprocess, "test"), "test"),
        ],
        outputs=[_s3_output(EVALUATION_OUTPUT, EVALUATE, ctx.bucket, ctx.name)],
    )
    step = ProcessingStep(
        name=EVALUATE,
        step_args=step_args,
        property_files=[report],
        cache_config=ctx.cache,
        retry_policies=ctx.retries,
    )
    return step, report


def metric_json_path(cfg: Config) -> str:
    return f"binary_classification_metrics.{cfg.pipeline.metric}.value"


def register_step(ctx: Build, train: TrainingStep, evaluate: ProcessingStep) -> ModelStep:
    """Register model.tar.gz in the shared registry's group for this kind, with metrics and metadata."""
    cfg = ctx.cfg
    params = ctx.params
    evaluation_uri = Join(on="/", values=[_output_uri(evaluate, EVALUATION_OUTPUT), EVALUATION_FILE])
    endpoint_types = endpoint_instance_types(cfg)
    builder = ModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=ctx.images["inference"],
        role_arn=ctx.role_arn,
        sagemaker_session=ctx.session,
        instance_type=endpoint_types[0],
        # The framework containers serve with the handler packed in model.tar.gz under code/.
        env_vars={
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            "SAGEMAKER_REGION": cfg.region,
        },
        # Nothing to package: model.tar.gz already holds the handler. (A non-empty value makes
        # the builder stage code in S3 while the pipeline is being built.)
        dependencies={},
        # Leave logging alone (the default sets the SDK's shared logger to DEBUG).
        log_level=None,
    )
    step_args = builder.register(
        model_package_group_name=cfg.group_arn(ctx.kind),
        content_types=CONTENT_TYPES,
        response_types=RESPONSE_TYPES,
        inference_instances=endpoint_types,
        transform_instances=endpoint_types,
        approval_status=params["approval_status"],
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
        ),
        customer_metadata_properties={
            "git_sha": metadata_value(ctx.git_sha),
            "branch": metadata_value(ctx.branch),
            "dataset_uri": params["input_data_uri"],
            "dataset_version": params["input_data_version"],
            "framework": cfg.model.framework,
            "hyperparameters": hyperparameters_metadata(cfg),
            "pipeline_execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
        },
        domain="MACHINE_LEARNING",
        task="CLASSIFICATION",
    )
    return ModelStep(
        name=REGISTER,
        step_args=step_args,
        retry_policies=[
            StepRetryPolicy(
                exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
                max_attempts=cfg.pipeline.retry_attempts,
                interval_seconds=10,
            )
        ],
    )


def endpoint_instance_types(cfg: Config) -> list[str]:
    """Instance types the deploy environments' endpoints name (sorted), recorded on the package
    as its inference and transform instances."""
    return sorted(
        {env.endpoint.instance_type for env in cfg.environments.values() if env.endpoint.instance_type}
    )


def gate_step(
    ctx: Build, evaluate: ProcessingStep, report: PropertyFile, register: ModelStep
) -> ConditionStep:
    """Register when the evaluation metric reaches the threshold, else fail with metric vs threshold."""
    cfg = ctx.cfg
    metric = cfg.pipeline.metric
    threshold = ctx.params["metric_threshold"]
    metric_value = JsonGet(step_name=evaluate.name, property_file=report, json_path=metric_json_path(cfg))
    fail = FailStep(
        name=FAIL,
        error_message=Join(
            on=" ",
            values=[
                f"Evaluation {metric}",
                metric_value,
                "is below the threshold",
                threshold,
                "- not registered.",
            ],
        ),
    )
    return ConditionStep(
        name=GATE,
        conditions=[ConditionGreaterThanOrEqualTo(left=metric_value, right=threshold)],
        if_steps=[register],
        else_steps=[fail],
    )


def get_pipeline(
    cfg: Config,
    kind: str,
    *,
    role_arn: str,
    session: PipelineSession | None = None,
    default_bucket: str | None = None,
    git_sha: str = "unknown",
    branch: str = "unknown",
) -> Pipeline:
    """Build the pipeline for a branch kind ("feature" or "dev") without calling AWS.

    Name and model package group come from the config (`cfg.names.pipelines[kind]`, the
    group `cfg.group_arn(kind)` in the shared-services account). `role_arn` is the execution
    role the jobs run as. Code and artifacts go to `default_bucket` (default: the shared
    artifact bucket `cfg.names.artifact_bucket`, which also holds the default input data),
    encrypted with the artifact KMS key (`cfg.artifact_key()`); `session` defaults to
    `pipeline_session(cfg, default_bucket=...)`, and a session passed in should have that same
    default bucket. `git_sha` and `branch` become customer metadata of the registered model package.

    ModelTrainer validates `role_arn` through IAM unless SAGEMAKER_VALIDATE_ROLE=false
    (the CLI sets that default; see cli.py). It raises PipelineConfigError for an unknown kind;
    everything else the config could lack was refused when it was parsed.
    """
    name = pipeline_name(cfg, kind)
    silence_sdk_telemetry()
    bucket = default_bucket or cfg.names.artifact_bucket
    session = session or pipeline_session(cfg, default_bucket=bucket)
    params = parameters(cfg)
    ctx = Build(
        cfg=cfg,
        kind=kind,
        name=name,
        role_arn=role_arn,
        session=session,
        bucket=bucket,
        kms_key=cfg.artifact_key(),
        images=images(cfg),
        params=params,
        cache=cache_config(cfg),
        retries=job_retry_policies(cfg),
        git_sha=git_sha,
        branch=branch,
    )
    preprocess = preprocess_step(ctx)
    train = train_step(ctx, preprocess)
    evaluate, report = evaluate_step(ctx, preprocess, train)
    register = register_step(ctx, train, evaluate)
    gate = gate_step(ctx, evaluate, report, register)
    return Pipeline(
        name=name,
        parameters=list(params.values()),
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
        # No SageMaker Experiments trial per execution: the role would need Experiments
        # permissions for no use here. Pass a PipelineExperimentConfig to turn it on.
        pipeline_experiment_config=None,
    )
