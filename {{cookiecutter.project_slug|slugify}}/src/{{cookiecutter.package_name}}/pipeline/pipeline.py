"""SageMaker pipeline definition: Preprocess -> Train -> Evaluate -> metric gate -> Register | Fail.

`get_pipeline(cfg, kind, role_arn=...)` is a pure factory: it takes the parsed `Config`, builds
the steps (one small builder per step) and returns a `Pipeline` object without calling AWS.
AWS is touched only when the caller asks for `pipeline.definition()` (it uploads the step
scripts to the artifact bucket, because the definition names their S3 locations),
`upsert()` or `start()`. `python -m <package>.pipeline.cli` is the driver.

The parts: `parameters` (name, parameters, caching, retries, hyperparameters), `sdk` (telemetry,
session, images), `steps` (one builder per step); this module puts them together and keeps
their names importable from here.

Built with the SageMaker Python SDK v3 (`sagemaker.mlops.workflow`, `sagemaker.train`,
`sagemaker.core`, `sagemaker.serve`); see
https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-sdk.html.

Knobs a user tunes live in config/project.json, not here:
- `pipeline.processing_instance_type`, `pipeline.training_instance_type`,
  `pipeline.input_data_uri`: defaults of the pipeline parameters (`parameters.py`; each can be
  overridden per execution). An empty `input_data_uri` means
  `s3://<artifact bucket>/datasets/sample.csv` (`config.derive_names` derives it).
- `pipeline.metric`, `pipeline.metric_threshold`: the gate, fixed in the definition (no
  execution can override it); the registration is always PendingManualApproval.
- `champion.tolerance`: the gate's second condition, candidate >= champion - tolerance, where
  the champion (the prod version released last) is resolved before the build and written into
  the definition; without one (the first release) only the threshold applies.
- `pipeline.framework_versions`: SageMaker framework container versions per framework
  (https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html).
- `pipeline.cache_expire_after` (ISO 8601 duration) and `pipeline.retry_attempts`
  (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-caching.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html).
- `model.framework` and `model.hyperparameters.<framework>`: what steps/train.py fits.
"""

from __future__ import annotations

from collections.abc import Mapping

from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.pipeline import Pipeline

from ..config import Config
from .baselines import baseline_steps
from .champion import Champion
from .names import job_kms_key
from .parameters import (
    APPROVAL_STATUS,
    KINDS,
    PipelineConfigError,
    cache_config,
    endpoint_instance_types,
    hyperparameters,
    hyperparameters_metadata,
    job_retry_policies,
    metric_json_path,
    parameters,
    pipeline_name,
)
from .sdk import SDK_TELEMETRY, images, pipeline_session, silence_sdk_telemetry
from .segments import segment_steps, segments_gate
from .steps import (
    CONTENT_TYPES,
    EVALUATE,
    EVALUATION_FILE,
    EVALUATION_OUTPUT,
    FAIL,
    GATE,
    PREPROCESS,
    PROCESSING_BASE,
    REGISTER,
    RESPONSE_TYPES,
    STEPS_DIR,
    TRAIN,
    Build,
    evaluate_step,
    gate_step,
    preprocess_step,
    register_step,
    train_step,
)

__all__ = [
    "APPROVAL_STATUS",
    "CONTENT_TYPES",
    "EVALUATE",
    "EVALUATION_FILE",
    "EVALUATION_OUTPUT",
    "FAIL",
    "GATE",
    "KINDS",
    "PREPROCESS",
    "PROCESSING_BASE",
    "REGISTER",
    "RESPONSE_TYPES",
    "SDK_TELEMETRY",
    "STEPS_DIR",
    "TRAIN",
    "Build",
    "PipelineConfigError",
    "cache_config",
    "endpoint_instance_types",
    "evaluate_step",
    "gate_step",
    "get_pipeline",
    "hyperparameters",
    "hyperparameters_metadata",
    "images",
    "job_retry_policies",
    "metric_json_path",
    "parameters",
    "pipeline_name",
    "pipeline_session",
    "preprocess_step",
    "register_step",
    "silence_sdk_telemetry",
    "train_step",
]


def get_pipeline(
    cfg: Config,
    kind: str,
    *,
    role_arn: str,
    session: PipelineSession | None = None,
    default_bucket: str | None = None,
    git_sha: str = "unknown",
    branch: str = "unknown",
    kms_key: str | None = None,
    champion: Champion | None = None,
    segment_champions: Mapping[str, Champion | None] | None = None,
) -> Pipeline:
    """Build the pipeline for a branch kind ("feature" or "dev") without calling AWS.

    The name is `names.pipeline_name(cfg, kind, branch)` (the dev pipeline, or the branch's own
    feature pipeline); the model package group is `cfg.group_arn(kind)` in the shared-services
    account. `role_arn` is the execution role the jobs run as (`names.execution_role_arn`).
    Code and artifacts go to `default_bucket` (default: the shared artifact bucket
    `cfg.names.artifact_bucket`, which also holds the default input data) under the pipeline's
    name, encrypted with `kms_key` (default: `names.job_kms_key`, the key ARN when the jobs
    write across accounts); `session` defaults to `pipeline_session(cfg, default_bucket=...)`,
    and a session passed in should have that same default bucket. `git_sha` and `branch` become
    customer metadata of the registered model package. `champion` is the serving prod version
    (`champion.resolve_champion`, looked up by the caller; None before the first release): the
    Evaluate step scores it on the same test rows and the gate requires the candidate to reach
    its score minus `champion.tolerance`. With `model.segments` on, the pipeline trains one model
    per segment (pipeline/segments.py) and `segment_champions` gives each segment's champion.

    ModelTrainer validates `role_arn` through IAM unless SAGEMAKER_VALIDATE_ROLE=false
    (the CLI sets that default; see cli.py). It raises PipelineConfigError for an unknown kind
    and ConfigError for an artifact key the jobs cannot use (`names.job_kms_key`); everything
    else the config could lack was refused when it was parsed.
    """
    name = pipeline_name(cfg, kind, branch)
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
        kms_key=kms_key or job_kms_key(cfg),
        images=images(cfg),
        params=params,
        cache=cache_config(cfg),
        retries=job_retry_policies(cfg),
        git_sha=git_sha,
        branch=branch,
        champion=champion,
    )
    preprocess = preprocess_step(ctx)
    if cfg.model.segments.enabled:
        parts = segment_steps(ctx, preprocess, segment_champions)
        return Pipeline(
            name=name,
            parameters=list(params.values()),
            steps=[preprocess, *(step for part in parts for step in part.steps), segments_gate(ctx, parts)],
            sagemaker_session=session,
            pipeline_experiment_config=None,
        )
    train = train_step(ctx, preprocess)
    evaluate, report = evaluate_step(ctx, preprocess, train)
    baselines = baseline_steps(ctx, preprocess, evaluate)
    register = register_step(ctx, train, evaluate, report, baselines=baselines)
    gate = gate_step(ctx, evaluate, report, register)
    return Pipeline(
        name=name,
        parameters=list(params.values()),
        steps=[preprocess, train, evaluate, *baselines.steps, gate],
        sagemaker_session=session,
        # No SageMaker Experiments trial per execution: the role would need Experiments
        # permissions for no use here. Pass a PipelineExperimentConfig to turn it on.
        pipeline_experiment_config=None,
    )
