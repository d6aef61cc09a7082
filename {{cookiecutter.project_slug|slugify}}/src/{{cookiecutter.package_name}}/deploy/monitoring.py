"""Model Monitor on an endpoint after a successful deploy: create or update, a repeat changes nothing.

`ensure_monitoring(cfg, clients, plan)` runs after `deploy` returned (never after a rollback:
a failed deploy raises before it). For an environment in `monitoring.environments`:

0. The deployed version's DriftCheckBaselines (`monitoring_requests.baselines`). A version
   registered without them (older than the baseline steps) is skipped with one line; so is an
   environment that is not monitored. The data-quality constraints are read (one GetObject) for
   the feature names the drift alarms watch.
1. Per schedule (data quality; model quality when `ground_truth_uri` is set and the version has
   its baseline): DescribeDataQualityJobDefinition / DescribeModelQualityJobDefinition of the
   planned (hash-named) definition, created when missing; DescribeMonitoringSchedule, created
   when missing, updated when its expression, definition or type differ. Job definitions are
   immutable, so a changed one is a new definition: the schedule is pointed at it and the one it
   ran before is deleted.
2. DescribeAlarms, then PutMetricAlarm for each alarm missing or different, and DeleteAlarms for
   drift alarms left over from a version with more features.

A second run with the same version and config makes read calls only. An AWS error is raised as
DeployError saying the endpoint serves the version and that a re-run completes the monitoring.

Real-time and async endpoints are monitored alike: both capture to data-capture/<env> with the
same DataCaptureConfig (an async endpoint's requests and answers as it served them, not the
objects under async/<env>/), and a job definition names the endpoint by EndpointInput, which has
no field of its own for an async endpoint. A multi-model endpoint is skipped (config refuses it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..config import Config
from .aws import Clients, DeployError, error_code, error_message, is_not_found, log, put_changed_alarms
from .endpoint import DeployPlan
from .monitoring_requests import Baselines, Monitor, MonitoringPlan, baselines, plan_monitoring

ALARM_FIELDS = (
    "AlarmActions",
    "AlarmDescription",
    "Metrics",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Period",
    "Statistic",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)
# Per monitoring type: (describe, create, delete) of its job definitions.
DEFINITION_CALLS = {
    "DataQuality": (
        "describe_data_quality_job_definition",
        "create_data_quality_job_definition",
        "delete_data_quality_job_definition",
    ),
    "ModelQuality": (
        "describe_model_quality_job_definition",
        "create_model_quality_job_definition",
        "delete_model_quality_job_definition",
    ),
}


@dataclass
class MonitoringResult:
    endpoint: str
    changes: int
    skipped: str = ""


def _s3_object(clients: Clients, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def features_of(clients: Clients, found: Baselines) -> tuple[list[str], dict[str, Any]]:
    """The feature names of the baseline constraints, and their `monitoring_config`."""
    try:
        document = json.loads(_s3_object(clients, found.constraints))
    except ValueError as exc:
        raise DeployError(f"the baseline constraints {found.constraints} are not JSON: {exc}") from exc
    features = [f["name"] for f in document.get("features", []) if isinstance(f, dict) and f.get("name")]
    if not features:
        raise DeployError(f"the baseline constraints {found.constraints} name no features")
    return features, document.get("monitoring_config") or {}


def _exists(call: Any, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return call(**kwargs)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def ensure_monitor(clients: Clients, monitor: Monitor) -> int:
    """The job definition and schedule of one monitor; return the number of mutating calls."""
    sm = clients.sagemaker
    describe, create, delete = DEFINITION_CALLS[monitor.kind]
    calls = 0
    if _exists(getattr(sm, describe), JobDefinitionName=monitor.definition_name) is None:
        log(f"creating {monitor.kind} job definition {monitor.definition_name}")
        getattr(sm, create)(**monitor.definition_request)
        calls += 1
    schedule = _exists(sm.describe_monitoring_schedule, MonitoringScheduleName=monitor.schedule_name)
    wanted = monitor.schedule_request["MonitoringScheduleConfig"]
    if schedule is None:
        expression = wanted["ScheduleConfig"]["ScheduleExpression"]
        log(f"creating monitoring schedule {monitor.schedule_name} ({expression})")
        sm.create_monitoring_schedule(**monitor.schedule_request)
        return calls + 1
    current = schedule.get("MonitoringScheduleConfig") or {}
    keys = ("ScheduleConfig", "MonitoringJobDefinitionName", "MonitoringType")
    if all(current.get(k) == wanted[k] for k in keys):
        return calls
    log(f"updating monitoring schedule {monitor.schedule_name} to {monitor.definition_name}")
    sm.update_monitoring_schedule(
        MonitoringScheduleName=monitor.schedule_name, MonitoringScheduleConfig=wanted
    )
    calls += 1
    previous = current.get("MonitoringJobDefinitionName")
    if previous and previous != monitor.definition_name:
        try:
            getattr(sm, delete)(JobDefinitionName=previous)
            log(f"deleted the replaced job definition {previous}")
            calls += 1
        except ClientError as exc:
            if not is_not_found(exc):
                log(f"warning: the replaced job definition {previous} was not deleted: {error_message(exc)}")
    return calls


def ensure_alarms(clients: Clients, plan: MonitoringPlan) -> int:
    """Put the alarms missing or different; delete drift alarms beyond the current count."""
    cloudwatch = clients("cloudwatch")
    names = [alarm["AlarmName"] for alarm in plan.alarms]
    existing = (
        {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", [])}
        if names
        else {}
    )
    drift = cloudwatch.describe_alarms(AlarmNamePrefix=plan.drift_alarm_prefix).get("MetricAlarms", [])
    calls = put_changed_alarms(cloudwatch, plan.alarms, existing, ALARM_FIELDS)
    stale = sorted(a["AlarmName"] for a in drift if a["AlarmName"] not in names)
    if stale:
        log(f"deleting drift alarms of features no longer in the baseline: {', '.join(stale)}")
        cloudwatch.delete_alarms(AlarmNames=stale)
        calls += 1
    return calls


def ensure_monitoring(cfg: Config, clients: Clients, plan: DeployPlan) -> MonitoringResult:
    """Monitoring for the environment `plan` deployed to (see the module docstring)."""
    env, endpoint = plan.settings.env, plan.settings.endpoint_name
    if not cfg.monitoring.watches(env):
        return MonitoringResult(endpoint, 0, f"{env} is not in monitoring.environments")
    if plan.settings.multi_model:  # Model Monitor watches endpoints that host one model
        return MonitoringResult(endpoint, 0, f"{endpoint} is a multi-model endpoint; not monitored")
    found = baselines(plan.package)
    if found is None:
        line = (
            f"model package {plan.package.arn} registered no data-quality baselines "
            f"(DriftCheckBaselines.ModelDataQuality); monitoring of {endpoint} skipped, "
            "schedules already there left as they are"
        )
        log(f"monitoring: {line}")
        return MonitoringResult(endpoint, 0, line)
    try:
        features, thresholds = features_of(clients, found)
        wanted = cfg.monitoring.constraints.as_dict()
        differ = sorted(k for k in wanted if k in thresholds and thresholds[k] != wanted[k])
        if differ:
            log(
                f"monitoring: the baseline of {plan.package.arn} has {differ[0]} "
                f"{thresholds[differ[0]]!r} where monitoring.constraints says {wanted[differ[0]]!r}; "
                "the schedule applies the baseline's until a new version is trained"
            )
        monitoring = plan_monitoring(cfg, env, plan.package, found, features)
        for line in monitoring.skipped:
            log(f"monitoring: {line}")
        changes = sum(ensure_monitor(clients, monitor) for monitor in monitoring.monitors)
        changes += ensure_alarms(clients, monitoring)
    except ClientError as exc:
        raise DeployError(
            f"{endpoint} serves {plan.config_name}, but its monitoring was not completed: "
            f"{exc.operation_name} failed: {error_code(exc)}: {error_message(exc)}; run the deploy again"
        ) from exc
    log(
        f"monitoring of {endpoint}: {changes} change(s)"
        if changes
        else f"monitoring of {endpoint} is up to date"
    )
    return MonitoringResult(endpoint, changes)
