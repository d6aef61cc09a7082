"""What Model Monitor on one endpoint should look like, from config and the deployed version (no AWS calls).

- `baselines(version)`: the version's DriftCheckBaselines URIs (data quality statistics and
  constraints, model quality constraints), None where the pipeline registered none;
- `MonitoringPlan` / `plan_monitoring`: the job definitions (CreateDataQualityJobDefinition,
  CreateModelQualityJobDefinition bodies), the schedules that run them and the alarms on what
  the jobs publish.

Job definitions cannot be updated (SageMaker has no Update call for them), so each is named
after a hash of its body, `<endpoint>-dq-<hash>` / `<endpoint>-mq-<hash>`: a changed body is a
new definition, and the schedule (`<endpoint>-data-quality`, `<endpoint>-model-quality`, fixed
names) is pointed at it. Reports go to the environment's capture bucket under
`monitoring/<env>/`, encrypted with its capture key.

Alarms (CloudWatch, to the `<model>-alerts` topic of the workload account) watch the metrics the
built-in analyzer publishes when `publish_cloudwatch_metrics` is Enabled
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html):
`feature_baseline_drift_<feature>` in `aws/sagemaker/Endpoints/data-metrics` (one alarm per ten
features, the largest distance above `monitoring.constraints.comparison_threshold`), and the
pipeline's metric (`pipeline.metric`) in `aws/sagemaker/Endpoints/model-metrics` below
`pipeline.metric_threshold`. Both carry the dimensions Endpoint and MonitoringSchedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import access
from ..config import Config
from ..config.monitoring import schedule_seconds
from ..promotion.version import ModelVersion
from .endpoint import digest

DATA_METRICS = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS = "aws/sagemaker/Endpoints/model-metrics"
# A metric math alarm reads at most 10 metrics.
FEATURES_PER_ALARM = 10
MAX_RUNTIME_SECONDS = 3600
VOLUME_GB = 20
INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"
GROUND_TRUTH_PATH = "/opt/ml/processing/groundtruth"
ENVIRONMENT = {"publish_cloudwatch_metrics": "Enabled"}


@dataclass(frozen=True)
class Baselines:
    statistics: str
    constraints: str
    model_quality_constraints: str | None


def baselines(version: ModelVersion) -> Baselines | None:
    """The data-quality baselines the version registered (DriftCheckBaselines), or None."""
    drift = version.description.get("DriftCheckBaselines") or {}
    data = drift.get("ModelDataQuality") or {}
    statistics = (data.get("Statistics") or {}).get("S3Uri")
    constraints = (data.get("Constraints") or {}).get("S3Uri")
    if not (statistics and constraints):
        return None
    quality = ((drift.get("ModelQuality") or {}).get("Constraints") or {}).get("S3Uri")
    return Baselines(statistics, constraints, quality)


@dataclass
class Monitor:
    """One schedule and the job definition it runs."""

    kind: str  # "DataQuality" or "ModelQuality"
    schedule_name: str
    definition_name: str
    definition_request: dict[str, Any]
    schedule_request: dict[str, Any]


@dataclass
class MonitoringPlan:
    endpoint: str
    monitors: list[Monitor] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    # The prefix of the drift alarms (their count follows the feature count).
    drift_alarm_prefix: str = ""
    skipped: list[str] = field(default_factory=list)


def schedule_names(endpoint: str) -> dict[str, str]:
    return {"DataQuality": f"{endpoint}-data-quality", "ModelQuality": f"{endpoint}-model-quality"}


def drift_alarm_prefix(endpoint: str) -> str:
    return f"{endpoint}-data-drift"


def model_quality_alarm(endpoint: str) -> str:
    return f"{endpoint}-model-quality"


def topic_arn(cfg: Config, env: str) -> str:
    return f"arn:aws:sns:{cfg.region}:{cfg.environment(env).account}:{cfg.names.alerts_topic}"


def _common(cfg: Config, env: str, kind: str) -> dict[str, Any]:
    environment = cfg.environment(env)
    folder = "data-quality" if kind == "DataQuality" else "model-quality"
    output = f"s3://{environment.capture_bucket}/monitoring/{env}/{folder}"
    return {
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": cfg.monitoring.instance_type,
                "VolumeSizeInGB": VOLUME_GB,
            }
        },
        "RoleArn": cfg.role_arn(environment.account_role, "sagemaker_monitor"),
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
        "OutputConfig": {
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": output, "LocalPath": OUTPUT_PATH, "S3UploadMode": "EndOfJob"}}
            ],
            "KmsKeyId": environment.capture_key_arn,
        },
    }


def _endpoint_input(endpoint: str) -> dict[str, Any]:
    return {
        "EndpointName": endpoint,
        "LocalPath": INPUT_PATH,
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }


def _tags(cfg: Config, env: str, version: ModelVersion) -> list[dict[str, str]]:
    return [
        {"Key": "project", "Value": cfg.project.slug},
        {"Key": "environment", "Value": env},
        {"Key": "model-package-arn", "Value": version.arn},
    ]


def _monitor(
    cfg: Config, env: str, version: ModelVersion, kind: str, body: dict[str, Any], schedule: str
) -> Monitor:
    endpoint = cfg.environment(env).endpoint_name
    short = "dq" if kind == "DataQuality" else "mq"
    name = f"{endpoint}-{short}-{digest(body)}"
    schedule_name = schedule_names(endpoint)[kind]
    tags = _tags(cfg, env, version)
    return Monitor(
        kind=kind,
        schedule_name=schedule_name,
        definition_name=name,
        definition_request={"JobDefinitionName": name, **body, "Tags": tags},
        schedule_request={
            "MonitoringScheduleName": schedule_name,
            "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": schedule},
                "MonitoringJobDefinitionName": name,
                "MonitoringType": kind,
            },
            "Tags": tags,
        },
    )


def data_quality(cfg: Config, env: str, version: ModelVersion, found: Baselines) -> Monitor:
    common = _common(cfg, env, "DataQuality")
    endpoint = cfg.environment(env).endpoint_name
    body = {
        "DataQualityBaselineConfig": {
            "ConstraintsResource": {"S3Uri": found.constraints},
            "StatisticsResource": {"S3Uri": found.statistics},
        },
        "DataQualityAppSpecification": {
            "ImageUri": access.analyzer_image_uri(cfg.region),
            "Environment": dict(ENVIRONMENT),
        },
        "DataQualityJobInput": {"EndpointInput": _endpoint_input(endpoint)},
        "DataQualityJobOutputConfig": common.pop("OutputConfig"),
        **common,
    }
    return _monitor(cfg, env, version, "DataQuality", body, cfg.monitoring.data_quality.schedule)


def model_quality(cfg: Config, env: str, version: ModelVersion, constraints: str) -> Monitor:
    """Binary classification on the endpoint's JSON answers {"predictions": [{"label", "probability"}]}."""
    common = _common(cfg, env, "ModelQuality")
    endpoint = cfg.environment(env).endpoint_name
    body = {
        "ModelQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": constraints}},
        "ModelQualityAppSpecification": {
            "ImageUri": access.analyzer_image_uri(cfg.region),
            "ProblemType": "BinaryClassification",
            "Environment": dict(ENVIRONMENT),
        },
        "ModelQualityJobInput": {
            "EndpointInput": {
                **_endpoint_input(endpoint),
                "InferenceAttribute": "predictions[0].label",
                "ProbabilityAttribute": "predictions[0].probability",
            },
            "GroundTruthS3Input": {"S3Uri": cfg.monitoring.model_quality.ground_truth_uri},
        },
        "ModelQualityJobOutputConfig": common.pop("OutputConfig"),
        **common,
    }
    return _monitor(cfg, env, version, "ModelQuality", body, cfg.monitoring.model_quality.schedule)


def _dimensions(endpoint: str, schedule: str) -> list[dict[str, str]]:
    return [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]


def drift_alarms(cfg: Config, env: str, monitor: Monitor, features: list[str]) -> list[dict[str, Any]]:
    """One alarm per ten features: the largest baseline drift above the comparison threshold."""
    endpoint = cfg.environment(env).endpoint_name
    period = schedule_seconds(cfg.monitoring.data_quality.schedule)
    chunks = [features[i : i + FEATURES_PER_ALARM] for i in range(0, len(features), FEATURES_PER_ALARM)]
    alarms = []
    for number, chunk in enumerate(chunks, start=1):
        name = drift_alarm_prefix(endpoint) + (f"-{number}" if len(chunks) > 1 else "")
        metrics: list[dict[str, Any]] = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": DATA_METRICS,
                        "MetricName": f"feature_baseline_drift_{feature}",
                        "Dimensions": _dimensions(endpoint, monitor.schedule_name),
                    },
                    "Period": period,
                    "Stat": "Maximum",
                },
                "ReturnData": False,
            }
            for index, feature in enumerate(chunk)
        ]
        ids = ", ".join(m["Id"] for m in metrics)
        metrics.append(
            {"Id": "drift", "Expression": f"MAX([{ids}])", "Label": "largest drift", "ReturnData": True}
        )
        alarms.append(
            {
                "AlarmName": name,
                "AlarmDescription": f"Data drift on {endpoint}: {', '.join(chunk)} against the baseline",
                "ActionsEnabled": True,
                "AlarmActions": [topic_arn(cfg, env)],
                "Metrics": metrics,
                "EvaluationPeriods": 1,
                "DatapointsToAlarm": 1,
                "Threshold": cfg.monitoring.constraints.comparison_threshold,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            }
        )
    return alarms


def quality_alarm(cfg: Config, env: str, monitor: Monitor) -> dict[str, Any]:
    endpoint = cfg.environment(env).endpoint_name
    metric = cfg.pipeline.metric
    return {
        "AlarmName": model_quality_alarm(endpoint),
        "AlarmDescription": f"{metric} of {endpoint} on ground truth below {cfg.pipeline.metric_threshold:g}",
        "ActionsEnabled": True,
        "AlarmActions": [topic_arn(cfg, env)],
        "Namespace": MODEL_METRICS,
        "MetricName": metric,
        "Dimensions": _dimensions(endpoint, monitor.schedule_name),
        "Period": schedule_seconds(cfg.monitoring.model_quality.schedule),
        "Statistic": "Minimum",
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": cfg.pipeline.metric_threshold,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "notBreaching",
    }


def plan_monitoring(
    cfg: Config, env: str, version: ModelVersion, found: Baselines, features: list[str]
) -> MonitoringPlan:
    """The schedules, definitions and alarms for `env` serving `version` (baselines `found`)."""
    endpoint = cfg.environment(env).endpoint_name
    result = MonitoringPlan(endpoint=endpoint, drift_alarm_prefix=drift_alarm_prefix(endpoint))
    dq = data_quality(cfg, env, version, found)
    result.monitors.append(dq)
    result.alarms += drift_alarms(cfg, env, dq, features)
    if cfg.monitoring.model_quality.enabled:
        if found.model_quality_constraints:
            mq = model_quality(cfg, env, version, found.model_quality_constraints)
            result.monitors.append(mq)
            result.alarms.append(quality_alarm(cfg, env, mq))
        else:
            result.skipped.append(
                f"model package {version.arn} registered no model-quality baseline "
                "(DriftCheckBaselines.ModelQuality.Constraints); no model-quality schedule"
            )
    return result
