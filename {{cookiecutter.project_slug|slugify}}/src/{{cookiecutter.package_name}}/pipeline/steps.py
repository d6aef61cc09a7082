"""The pipeline's steps, one small builder each: Preprocess -> Train -> Evaluate -> gate -> Register | Fail.

Each builder takes a `Build` (what `get_pipeline` resolved once: config, kind, name, role,
session, bucket, key, images, parameters, caching, retries) and returns an SDK step object.
Nothing here calls AWS. The step scripts are steps/*.py of this package: they run unchanged in
the framework images and in the local rehearsal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer

from ..config import Config
from ..promotion.cli_release import TEST_DATA_KEY
from ..promotion.evidence import serving_environment
from ..promotion.lifecycle import SEGMENT_KEY
from ..promotion.metadata import metadata_value
from .champion import Champion, champion_label
from .parameters import (
    APPROVAL_STATUS,
    endpoint_instance_types,
    hyperparameters,
    hyperparameters_metadata,
    metric_json_path,
    register_retry_policies,
    transform_instance_types,
)

STEPS_DIR = Path(__file__).resolve().parents[1] / "steps"
PROCESSING_BASE = "/opt/ml/processing"
# Request and response types the inference handler (steps/inference.py) accepts and answers:
# JSON for endpoint requests, CSV lines for Batch Transform's `Accept text/csv`.
CONTENT_TYPES = ["text/csv", "application/json"]
RESPONSE_TYPES = ["application/json", "text/csv"]

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
PREDICTIONS_FILE = "predictions.csv"
CHAMPION_INPUT = "champion"
COMPARISON = "champion_comparison"


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
    # The serving prod version, resolved before the build (None before the first release).
    champion: Champion | None = None
    # The segment (config model.segments) whose model these steps train; None when not segmented.
    segment: str | None = None

    def step(self, base: str) -> str:
        """A step's name: `<base>`, or `<base>-<segment>` for one segment's steps."""
        return base if self.segment is None else f"{base}-{self.segment}"


def channel_uri(ctx: Build, preprocess: ProcessingStep, channel: str) -> Any:
    """Preprocess's output for `channel`, or its `<segment>/` sub-folder for one segment's steps
    (with the trailing slash: the S3 prefix of segment "a" must not also match "a-2/")."""
    uri = _output_uri(preprocess, channel)
    return uri if ctx.segment is None else Join(on="/", values=[uri, ctx.segment, ""])


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


def _output_uri(step: ProcessingStep, name: str):
    return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def preprocess_step(ctx: Build) -> ProcessingStep:
    """Check the input tables against the data contract (config `model`, docs/data.md) and split
    them into train/validation/test with steps/preprocess.py."""
    step_args = _processor(ctx, PREPROCESS).run(
        code=str(STEPS_DIR / "preprocess.py"),
        inputs=[_s3_input("input", ctx.params["input_data_uri"], "input")],
        outputs=[
            _s3_output(name, PREPROCESS, ctx.bucket, ctx.name) for name in ("train", "validation", "test")
        ],
        arguments=[*ctx.cfg.model.preprocess_arguments(), *ctx.cfg.model.segments.preprocess_arguments()],
    )
    return ProcessingStep(
        name=PREPROCESS,
        step_args=step_args,
        cache_config=ctx.cache,
        retry_policies=ctx.retries,
    )


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
            s3_output_path=f"s3://{ctx.bucket}/{ctx.name}/{ctx.step(TRAIN)}", kms_key_id=ctx.kms_key
        ),
    )
    step_args = trainer.train(
        input_data_config=[
            InputData(
                channel_name=channel,
                data_source=channel_uri(ctx, preprocess, channel),
                content_type="text/csv",
            )
            for channel in ("train", "validation")
        ]
    )
    return TrainingStep(
        name=ctx.step(TRAIN), step_args=step_args, cache_config=ctx.cache, retry_policies=ctx.retries
    )


def evaluate_arguments(ctx: Build) -> list[str]:
    """What steps/evaluate.py compares with: the champion (or "none"), the tolerance, the metric;
    for one segment's model also the segment and the threshold (its verdict names the segment)."""
    args = [
        "--champion-version",
        champion_label(ctx.champion),
        "--tolerance",
        f"{ctx.cfg.champion.tolerance:g}",
        "--metric",
        ctx.cfg.pipeline.metric,
    ]
    if ctx.segment is not None:
        args += ["--segment", ctx.segment, "--threshold", f"{float(ctx.cfg.pipeline.metric_threshold):g}"]
    return args


def evaluate_step(
    ctx: Build, preprocess: ProcessingStep, train: TrainingStep
) -> tuple[ProcessingStep, PropertyFile]:
    """Score model.tar.gz, and the champion's when there is one, on the same test split with
    steps/evaluate.py; evaluation.json (with champion_comparison) is a PropertyFile, and
    predictions.csv lands beside it."""
    report = PropertyFile(name="EvaluationReport", output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE)
    inputs = [
        _s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts, "model"),
        _s3_input("test", channel_uri(ctx, preprocess, "test"), "test"),
    ]
    if ctx.champion is not None:
        inputs.append(_s3_input(CHAMPION_INPUT, ctx.champion.model_data_uri, CHAMPION_INPUT))
    step_args = _processor(ctx, EVALUATE).run(
        code=str(STEPS_DIR / "evaluate.py"),
        inputs=inputs,
        outputs=[_s3_output(EVALUATION_OUTPUT, ctx.step(EVALUATE), ctx.bucket, ctx.name)],
        arguments=evaluate_arguments(ctx),
    )
    step = ProcessingStep(
        name=ctx.step(EVALUATE),
        step_args=step_args,
        property_files=[report],
        cache_config=ctx.cache,
        retry_policies=ctx.retries,
    )
    return step, report


def held_out_split_uri(ctx: Build) -> Join:
    """Where this execution's preprocess wrote the test split: the same location `_s3_output`
    gives the Preprocess step's "test" output, built from execution variables (an S3 URI fits
    SageMaker's customer-metadata rules: letters, digits and - . / :)."""
    values = ["s3:/", ctx.bucket, ctx.name, ExecutionVariables.PIPELINE_EXECUTION_ID, PREPROCESS, "test"]
    return Join(on="/", values=values if ctx.segment is None else [*values, ctx.segment])


def comparison_value(evaluate: ProcessingStep, report: PropertyFile, field: str) -> JsonGet:
    """One field of evaluation.json's champion_comparison, read when the gate runs."""
    return JsonGet(step_name=evaluate.name, property_file=report, json_path=f"{COMPARISON}.{field}")


def champion_metric(ctx: Build, evaluate: ProcessingStep, report: PropertyFile) -> Any:
    """The champion's score on this run's test rows, as text ("none" before the first release)."""
    if ctx.champion is None:
        return champion_label(None)
    return Join(on="", values=[comparison_value(evaluate, report, "champion")])


def _report_only(model_statistics: MetricsSource) -> ModelMetrics:
    return ModelMetrics(model_statistics=model_statistics)


def register_step(
    ctx: Build,
    train: TrainingStep,
    evaluate: ProcessingStep,
    report: PropertyFile,
    baselines: Any = None,
) -> ModelStep:
    """Register model.tar.gz in the shared registry's group for this kind, with metrics and metadata.

    `baselines` (pipeline/baselines.py `Baselines`) adds the data and model quality baselines to
    ModelMetrics and registers them as DriftCheckBaselines.
    """
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
        # Exactly this environment: promotion refuses any other (promotion/evidence.py).
        env_vars=serving_environment(cfg),
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
        transform_instances=transform_instance_types(cfg),
        # Fixed, not a parameter: an execution cannot register an approved version.
        approval_status=APPROVAL_STATUS,
        model_metrics=(baselines.model_metrics if baselines else _report_only)(
            MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
        ),
        drift_check_baselines=baselines.drift_check_baselines() if baselines else None,
        customer_metadata_properties={
            "git_sha": metadata_value(ctx.git_sha),
            "branch": metadata_value(ctx.branch),
            "dataset_uri": params["input_data_uri"],
            "dataset_version": params["input_data_version"],
            "framework": cfg.model.framework,
            "hyperparameters": hyperparameters_metadata(cfg),
            "pipeline_execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            TEST_DATA_KEY: held_out_split_uri(ctx),
            "champion_version": champion_label(ctx.champion),
            "champion_metric": champion_metric(ctx, evaluate, report),
            **(baselines.metadata() if baselines else {}),
            **segment_metadata(ctx),
        },
        domain="MACHINE_LEARNING",
        task="CLASSIFICATION",
    )
    return ModelStep(
        name=ctx.step(REGISTER), step_args=step_args, retry_policies=register_retry_policies(cfg)
    )


def segment_metadata(ctx: Build) -> dict[str, Any]:
    """One segment's version: its segment, the segment column and the run's set (the execution id
    every version of one run shares); nothing when not segmented."""
    if ctx.segment is None:
        return {}
    return {
        SEGMENT_KEY: ctx.segment,
        "segment_column": metadata_value(ctx.cfg.model.segments.column),
        "segment_set": ExecutionVariables.PIPELINE_EXECUTION_ID,
    }


def gate_step(
    ctx: Build, evaluate: ProcessingStep, report: PropertyFile, register: ModelStep
) -> ConditionStep:
    """Register when the candidate reaches the threshold AND the champion's score minus the
    tolerance (evaluation.json's champion_comparison.required, 0 before the first release), else
    fail with the candidate's, the champion's and the required numbers.

    The metric, the threshold, the tolerance and the champion are written into the definition as
    literals (`pipeline.metric`, `pipeline.metric_threshold`, `champion.tolerance`, the champion
    resolved before the build): no start parameter can lower the bar.
    """
    cfg = ctx.cfg
    metric = cfg.pipeline.metric
    threshold = float(cfg.pipeline.metric_threshold)
    metric_value = JsonGet(step_name=evaluate.name, property_file=report, json_path=metric_json_path(cfg))
    required = comparison_value(evaluate, report, "required")
    champion = ["none"] if ctx.champion is None else [comparison_value(evaluate, report, "champion")]
    fail = FailStep(
        name=FAIL,
        error_message=Join(
            on=" ",
            values=[
                f"Candidate {metric}",
                metric_value,
                "must reach the threshold",
                f"{threshold:g}",
                f"and the champion's {metric}",
                *champion,
                f"({champion_label(ctx.champion)}) minus the tolerance",
                f"{cfg.champion.tolerance:g}",
                "=",
                required,
                "- not registered.",
            ],
        ),
    )
    return ConditionStep(
        name=GATE,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=metric_value, right=threshold),
            ConditionGreaterThanOrEqualTo(left=metric_value, right=required),
        ],
        if_steps=[register],
        else_steps=[fail],
    )
