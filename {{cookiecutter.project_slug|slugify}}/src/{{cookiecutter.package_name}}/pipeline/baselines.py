"""The pipeline's quality baselines: what Model Monitor later compares the endpoint's traffic with.

- `BaselineData` (a processing job in the framework image, steps/baseline.py `features`): the
  train split without its header and target: the columns an endpoint request carries.
- `DataQualityBaseline` (QualityCheckStep, data quality): Model Monitor's analyzer suggests
  statistics.json and constraints.json for those rows.
- `DataQualityConstraints` (steps/baseline.py `constraints`): that constraints.json with the
  config's `monitoring.constraints` thresholds as its `monitoring_config` (the analyzer takes no
  setting for them).
- `ModelQualityBaseline` (QualityCheckStep, model quality, BinaryClassification): the analyzer's
  metrics and suggested constraints for evaluate's predictions.csv (`probability,prediction,label`
  of the held-out test rows, beside evaluation.json).

The registered version carries them (`Baselines.model_metrics`, `Baselines.drift_check_baselines`):
ModelMetrics.ModelDataQuality (statistics, constraints) and ModelMetrics.ModelQuality.Constraints
beside the evaluation report, and DriftCheckBaselines.ModelDataQuality (statistics,
constraints) and DriftCheckBaselines.ModelQuality (constraints), which the monitoring schedules
of a deployed version use and promotion copies into the prod prefix.

Drift checks and baseline registration
(https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-quality-clarify-baseline-lifecycle.html):
both check steps run with `skip_check=True` and `register_new_baseline=True`, fixed in the
definition. So every execution, the first one included, computes its own baseline and the
`BaselineUsedForDriftCheck*` properties are that new baseline: a version always registers the
baseline of the data it was trained on and of its own predictions, never a predecessor's. A
drift check in the pipeline (`skip_check=False`) would need a previous baseline (supplied, or
the latest approved version of a group), fail the very first execution, and block exactly the
retraining that drifted data calls for; data is checked by preprocess's data contract and the
model by the metric gate, while drift is what the monitoring schedules watch after deployment.

The analyzer image comes from `access/images.py` (`analyzer_image_uri`): a region without one is
one PipelineConfigError, and an SDK that resolves another image than the table fails the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.model_monitor.dataset_format import DatasetFormat
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
from sagemaker.mlops.workflow.quality_check_step import (
    DataQualityCheckConfig,
    ModelQualityCheckConfig,
    QualityCheckStep,
)
from sagemaker.mlops.workflow.steps import ProcessingStep

from .. import config
from ..access import images
from ..config import Config
from ..promotion.baselines import EXPECTED_KEY, EXPECTED_VALUE
from .parameters import PipelineConfigError
from .steps import (
    EVALUATION_OUTPUT,
    STEPS_DIR,
    Build,
    _output_uri,
    _processor,
    _s3_input,
    _s3_output,
    channel_uri,
)

BASELINE_DATA, DATA_QUALITY, DATA_CONSTRAINTS, MODEL_QUALITY = (
    "BaselineData",
    "DataQualityBaseline",
    "DataQualityConstraints",
    "ModelQualityBaseline",
)
STEPS = (BASELINE_DATA, DATA_QUALITY, DATA_CONSTRAINTS, MODEL_QUALITY)
FEATURES_OUTPUT = "features"
CONSTRAINTS_OUTPUT = "constraints"
CONSTRAINTS_FILE = "constraints.json"
# Evaluate writes this beside evaluation.json (in its "evaluation" output).
PREDICTIONS_FILE = "predictions.csv"
PROBLEM_TYPE = "BinaryClassification"
PROBABILITY, PREDICTION, LABEL = "probability", "prediction", "label"
JSON = "application/json"
# Model Monitor's monitoring_config names and this product's defaults (config `monitoring.constraints`).
CONSTRAINT_DEFAULTS: Mapping[str, Any] = {
    "comparison_threshold": 0.1,
    "comparison_method": "Robust",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
}


def monitoring_constraints(cfg: Config) -> dict[str, Any]:
    """`monitoring.constraints` of the config (its defaults where the config has no such section)."""
    section = getattr(getattr(cfg, "monitoring", None), "constraints", None)
    values = dict(CONSTRAINT_DEFAULTS)
    for key in CONSTRAINT_DEFAULTS:
        if isinstance(section, Mapping) and key in section:
            values[key] = section[key]
        elif section is not None and hasattr(section, key):
            values[key] = getattr(section, key)
    return values


def analyzer_image(cfg: Config) -> str:
    """The Model Monitor analyzer image for the config's region; PipelineConfigError where none."""
    try:
        return images.analyzer_image_uri(cfg.region)
    except config.ConfigError as exc:
        raise PipelineConfigError(str(exc)) from None


@dataclass(frozen=True)
class Baselines:
    """The four baseline steps and what the Register step records from them."""

    data: ProcessingStep
    data_quality: QualityCheckStep
    constraints: ProcessingStep
    model_quality: QualityCheckStep

    @property
    def steps(self) -> list:
        return [self.data, self.data_quality, self.constraints, self.model_quality]

    def metadata(self) -> dict[str, str]:
        """Customer metadata saying the version was registered with baselines (promotion refuses
        such a version when one is missing; promotion/baselines.py)."""
        return {EXPECTED_KEY: EXPECTED_VALUE}

    def data_constraints_uri(self) -> Join:
        """The constraints.json with the config's thresholds (DataQualityConstraints' output)."""
        return Join(on="/", values=[_output_uri(self.constraints, CONSTRAINTS_OUTPUT), CONSTRAINTS_FILE])

    def model_metrics(self, model_statistics: MetricsSource) -> ModelMetrics:
        """ModelMetrics: the evaluation report (`model_statistics`), the model-quality constraints
        and the data-quality statistics and constraints this execution calculated."""
        return ModelMetrics(
            model_statistics=model_statistics,
            model_constraints=MetricsSource(
                content_type=JSON, s3_uri=self.model_quality.properties.CalculatedBaselineConstraints
            ),
            model_data_statistics=MetricsSource(
                content_type=JSON, s3_uri=self.data_quality.properties.CalculatedBaselineStatistics
            ),
            model_data_constraints=MetricsSource(content_type=JSON, s3_uri=self.data_constraints_uri()),
        )

    def drift_check_baselines(self) -> DriftCheckBaselines:
        """DriftCheckBaselines: data quality (statistics, constraints) and model quality (constraints)."""
        return DriftCheckBaselines(
            model_data_statistics=MetricsSource(
                content_type=JSON, s3_uri=self.data_quality.properties.BaselineUsedForDriftCheckStatistics
            ),
            model_data_constraints=MetricsSource(content_type=JSON, s3_uri=self.data_constraints_uri()),
            model_constraints=MetricsSource(
                content_type=JSON, s3_uri=self.model_quality.properties.BaselineUsedForDriftCheckConstraints
            ),
        )


def _check_output(ctx: Build, step: str) -> Join:
    """Where a check step's analyzer writes: s3://<bucket>/<pipeline>/<execution id>/<step>."""
    return Join(on="/", values=["s3:/", ctx.bucket, ctx.name, ExecutionVariables.PIPELINE_EXECUTION_ID, step])


def _check_job(ctx: Build, step: str) -> CheckJobConfig:
    return CheckJobConfig(
        role=ctx.role_arn,
        instance_count=1,
        instance_type=ctx.params["processing_instance_type"],
        output_kms_key=ctx.kms_key,
        # The analyzer's default is a day; a baseline of a training set takes minutes.
        max_runtime_in_seconds=3600,
        base_job_name=step.lower(),
        sagemaker_session=ctx.session,
    )


def _quality_check(ctx: Build, name: str, check_config: Any, image: str) -> QualityCheckStep:
    step = QualityCheckStep(
        name=ctx.step(name),
        quality_check_config=check_config,
        check_job_config=_check_job(ctx, name),
        # See the module docstring: always a new baseline, never a check against an older one.
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=None,
        cache_config=ctx.cache,
    )
    resolved = step._baselining_processor.image_uri
    if resolved != image:
        raise PipelineConfigError(
            f"the SageMaker SDK runs {name} in {resolved}, access/images.py lists {image} for aws.region "
            f"{ctx.cfg.region!r}; expected them equal (update ANALYZER_ACCOUNTS from the SDK's table)"
        )
    return step


def baseline_steps(ctx: Build, preprocess: ProcessingStep, evaluate: ProcessingStep) -> Baselines:
    """The baseline steps on preprocess's train split and evaluate's predictions (one segment's
    when `ctx.segment` is set: its steps are named `<step>-<segment>`)."""
    image = analyzer_image(ctx.cfg)
    data = ProcessingStep(
        name=ctx.step(BASELINE_DATA),
        step_args=_processor(ctx, BASELINE_DATA).run(
            code=str(STEPS_DIR / "baseline.py"),
            inputs=[_s3_input("train", channel_uri(ctx, preprocess, "train"), "train")],
            outputs=[_s3_output(FEATURES_OUTPUT, ctx.step(BASELINE_DATA), ctx.bucket, ctx.name)],
            arguments=["features"],
        ),
        cache_config=ctx.cache,
        retry_policies=ctx.retries,
    )
    data_quality = _quality_check(
        ctx,
        DATA_QUALITY,
        DataQualityCheckConfig(
            baseline_dataset=_output_uri(data, FEATURES_OUTPUT),
            dataset_format=DatasetFormat.csv(header=False),
            output_s3_uri=_check_output(ctx, ctx.step(DATA_QUALITY)),
        ),
        image,
    )
    thresholds = monitoring_constraints(ctx.cfg)
    constraints = ProcessingStep(
        name=ctx.step(DATA_CONSTRAINTS),
        step_args=_processor(ctx, DATA_CONSTRAINTS).run(
            code=str(STEPS_DIR / "baseline.py"),
            inputs=[
                _s3_input("calculated", data_quality.properties.CalculatedBaselineConstraints, "calculated")
            ],
            outputs=[_s3_output(CONSTRAINTS_OUTPUT, ctx.step(DATA_CONSTRAINTS), ctx.bucket, ctx.name)],
            arguments=[
                "constraints",
                *(f"--{key.replace('_', '-')}={thresholds[key]}" for key in CONSTRAINT_DEFAULTS),
            ],
        ),
        cache_config=ctx.cache,
        retry_policies=ctx.retries,
    )
    predictions = Join(on="/", values=[_output_uri(evaluate, EVALUATION_OUTPUT), PREDICTIONS_FILE])
    model_quality = _quality_check(
        ctx,
        MODEL_QUALITY,
        ModelQualityCheckConfig(
            baseline_dataset=predictions,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=_check_output(ctx, ctx.step(MODEL_QUALITY)),
            problem_type=PROBLEM_TYPE,
            inference_attribute=PREDICTION,
            probability_attribute=PROBABILITY,
            ground_truth_attribute=LABEL,
        ),
        image,
    )
    return Baselines(
        data=data, data_quality=data_quality, constraints=constraints, model_quality=model_quality
    )
