"""Model Monitor on asynchronous endpoints (endpoint type "async").

The config: an async environment that captures data may be in `monitoring.environments` (and an
async prod that captures is watched by default), one that does not capture, a serverless one and
a multi-model one are each refused with one error naming what is wrong. The deploy: `deploy` of
an async QA endpoint sends its DataCaptureConfig and then ensures the same data-quality and
model-quality schedules and drift alarms as a real-time endpoint, in an exact call sequence
checked against botocore's service models; a repeat makes no mutating call.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
from typing import Any

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from deploy_helpers import (
    REAL_TIME_PROD,
    REGION,
    make_raw,
    model_version,
    module,
    package_arn,
    package_description,
    stubbed,
)
from multi_model_helpers import segmented_raw
from recording import assert_done, not_found
from test_async_deploy import (
    CREATE_SEQUENCE,
    QA_ASYNC,
    SOME_ARN,
    endpoint,
    stub_rollback_alarms,
    stub_scaling,
)

config = module("config")
endpoint_module = module("deploy.endpoint")
monitoring = module("deploy.monitoring")
requests = module("deploy.monitoring_requests")
cli = module("deploy.cli")
Clients = module("deploy.aws").Clients

FEATURES = [f"_c{i}" for i in range(12)]
GROUND_TRUTH = "s3://my-app-labels/ground-truth/qa"
QA_SERVERLESS = {
    "type": "serverless",
    "serverless": {"memory_mb": 2048, "max_concurrency": 5},
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": False},
}


def raw_for(qa: dict[str, Any], section: dict[str, Any] | None) -> dict[str, Any]:
    raw = make_raw("four", prod=REAL_TIME_PROD, qa=qa)
    raw.pop("monitoring", None)
    if section is not None:
        raw["monitoring"] = section
    return raw


# --- config ---------------------------------------------------------------------------------------


def test_an_async_environment_that_captures_may_be_monitored() -> None:
    cfg = config.parse(raw_for(QA_ASYNC, {"environments": ["qa", "prod"]}))
    assert cfg.environment("qa").endpoint.is_async
    assert cfg.monitoring.watches("qa") and cfg.monitoring.environments == ("qa", "prod")


def test_without_the_key_an_async_prod_that_captures_is_watched_and_one_that_does_not_is_not() -> None:
    capturing = make_raw("four", prod=QA_ASYNC)
    capturing.pop("monitoring", None)
    assert config.parse(capturing).monitoring.environments == ("prod",)
    quiet = make_raw("four", prod={**QA_ASYNC, "data_capture": {"enabled": False}})
    quiet.pop("monitoring", None)
    assert config.parse(quiet).monitoring.environments == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            raw_for({**QA_ASYNC, "data_capture": {"enabled": False}}, {"environments": ["qa"]}),
            'monitoring.environments includes "qa", but environments.qa.endpoint.data_capture.enabled '
            "is false, so there is nothing to monitor; expected data capture on, or qa left out of "
            "monitoring.environments",
        ),
        (
            raw_for(QA_SERVERLESS, {"environments": ["qa"]}),
            'monitoring.environments includes "qa", but environments.qa.endpoint is serverless, which '
            "has no data capture to monitor; expected qa left out of monitoring.environments, or a "
            "real-time or async qa endpoint with data_capture.enabled true",
        ),
        (
            {
                **segmented_raw(prod={"data_capture": {"enabled": True, "sampling_percent": 10}}),
                "monitoring": {"environments": ["prod"]},
            },
            'monitoring.environments includes "prod", but environments.prod.endpoint is multi-model, '
            "and monitoring is not available for multi-model endpoints",
        ),
    ],
    ids=["async-without-capture", "serverless", "multi-model"],
)
def test_an_environment_monitor_cannot_watch_is_one_error_naming_why(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw)
    text = str(caught.value)
    assert message in text and "\n" not in text
    # Only the serverless endpoint is called serverless.
    assert ("serverless" in text) == ("serverless" in message)


# --- deploy ---------------------------------------------------------------------------------------


def monitored_async(ground_truth: str = GROUND_TRUTH) -> Any:
    return config.parse(
        raw_for(QA_ASYNC, {"environments": ["qa"], "model_quality": {"ground_truth_uri": ground_truth}})
    )


def qa_version_with_baselines(cfg: Any) -> Any:
    arn = package_arn(cfg, "dev", 3)
    description = package_description(arn, "PendingManualApproval")
    prefix = f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['dev']}3"
    description["DriftCheckBaselines"] = {
        "ModelDataQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"{prefix}/data/statistics.json"},
            "Constraints": {"ContentType": "application/json", "S3Uri": f"{prefix}/data/constraints.json"},
        },
        "ModelQuality": {
            "Constraints": {"ContentType": "application/json", "S3Uri": f"{prefix}/model/constraints.json"}
        },
    }
    return model_version(arn, description)


def constraints_object() -> dict[str, Any]:
    document = {
        "version": 0.0,
        "features": [{"name": name, "inferred_type": "Fractional"} for name in FEATURES],
        "monitoring_config": {"comparison_threshold": 0.1, "comparison_method": "Robust"},
    }
    data = json.dumps(document).encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data))}


def wanted(cfg: Any, plan: Any) -> Any:
    return requests.plan_monitoring(cfg, "qa", plan.package, requests.baselines(plan.package), FEATURES)


def schedule_answer(monitor: Any) -> dict[str, Any]:
    return {
        "MonitoringScheduleArn": f"arn:aws:sagemaker:{REGION}:333333333333:monitoring-schedule/x",
        "MonitoringScheduleName": monitor.schedule_name,
        "MonitoringScheduleStatus": "Scheduled",
        "CreationTime": "2025-01-31T12:00:00Z",
        "LastModifiedTime": "2025-01-31T12:00:00Z",
        "MonitoringScheduleConfig": copy.deepcopy(monitor.schedule_request["MonitoringScheduleConfig"]),
    }


def definition_answer(monitor: Any) -> dict[str, Any]:
    body = {k: v for k, v in monitor.definition_request.items() if k != "Tags"}
    return {**body, "JobDefinitionArn": "arn:aws:sagemaker:x:1:job-definition/x", "CreationTime": 0}


def stub_monitoring(stubs: dict[str, Any], cfg: Any, plan: Any, present: bool) -> None:
    """The monitoring calls after the deploy: all planned resources created, or all found as planned."""
    want = wanted(cfg, plan)
    found = requests.baselines(plan.package)
    bucket, _, key = found.constraints.removeprefix("s3://").partition("/")
    stubs["s3"].add_response("get_object", constraints_object(), {"Bucket": bucket, "Key": key})
    sm, cloudwatch = stubs["sagemaker"], stubs["cloudwatch"]
    for monitor in want.monitors:
        describe, create, _ = monitoring.DEFINITION_CALLS[monitor.kind]
        name = {"JobDefinitionName": monitor.definition_name}
        schedule = {"MonitoringScheduleName": monitor.schedule_name}
        if present:
            sm.add_response(describe, definition_answer(monitor), name)
            sm.add_response("describe_monitoring_schedule", schedule_answer(monitor), schedule)
        else:
            not_found(sm, describe, "job definition")
            sm.add_response(create, {"JobDefinitionArn": "arn:x"}, monitor.definition_request)
            not_found(sm, "describe_monitoring_schedule", "schedule")
            sm.add_response(
                "create_monitoring_schedule", {"MonitoringScheduleArn": "arn:x"}, monitor.schedule_request
            )
    names = [a["AlarmName"] for a in want.alarms]
    alarms = [{**a, "AlarmArn": "arn:alarm"} for a in want.alarms] if present else []
    drift = [a for a in alarms if a["AlarmName"].startswith(want.drift_alarm_prefix)]
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": names})
    cloudwatch.add_response(
        "describe_alarms", {"MetricAlarms": drift}, {"AlarmNamePrefix": want.drift_alarm_prefix}
    )
    if not present:
        for alarm in want.alarms:
            cloudwatch.add_response("put_metric_alarm", {}, alarm)


MONITORING_CREATE = [
    "GetObject",
    "DescribeDataQualityJobDefinition",
    "CreateDataQualityJobDefinition",
    "DescribeMonitoringSchedule",
    "CreateMonitoringSchedule",
    "DescribeModelQualityJobDefinition",
    "CreateModelQualityJobDefinition",
    "DescribeMonitoringSchedule",
    "CreateMonitoringSchedule",
    "DescribeAlarms",
    "DescribeAlarms",
    "PutMetricAlarm",
    "PutMetricAlarm",
    "PutMetricAlarm",
]


def deploy_command(monkeypatch: pytest.MonkeyPatch, plan: Any) -> argparse.Namespace:
    """`deploy --env qa` of the planned version with the registry look-up and the account check
    left out (the rest, deploy and monitoring, runs against the stubs)."""
    monkeypatch.setattr(cli, "require_account", lambda *a: None)
    monkeypatch.setattr(cli, "prepare", lambda *a: plan)
    return argparse.Namespace(
        env="qa",
        arn=plan.package.arn,
        lock_file=None,
        rollback_on_failure=False,
        timeout=60,
        poll_interval=0,
        github_output=False,
    )


def test_an_async_deploy_sends_data_capture_then_creates_the_schedules_and_alarms(
    monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    cfg = monitored_async()
    plan = endpoint_module.plan(cfg, "qa", qa_version_with_baselines(cfg))
    environment = cfg.environment("qa")
    # The async endpoint captures its requests and answers beside its AsyncInferenceConfig.
    assert plan.config_request["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"].endswith(
        "/async/qa/output/"
    )
    assert plan.config_request["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": f"s3://{environment.capture_bucket}/data-capture/qa",
        "KmsKeyId": environment.capture_key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    session, stubs = stubbed("sagemaker", "cloudwatch", "application-autoscaling", "s3", recorder=recorder)
    sm, cloudwatch = stubs["sagemaker"], stubs["cloudwatch"]
    not_found(sm, "describe_endpoint", "endpoint")
    not_found(sm, "describe_model", "model")
    sm.add_response("create_model", {"ModelArn": SOME_ARN}, plan.model_request)
    not_found(sm, "describe_endpoint_config", "endpoint configuration")
    # The exact body, DataCaptureConfig included: a config without it would not match.
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN}, plan.config_request)
    stub_rollback_alarms(cloudwatch, plan, present=False)
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": endpoint(cfg, plan.config_name)["EndpointArn"]},
        {"EndpointName": plan.settings.endpoint_name, "EndpointConfigName": plan.config_name, "Tags": ANY},
    )
    sm.add_response("describe_endpoint", endpoint(cfg, plan.config_name))
    stub_scaling(stubs["application-autoscaling"], cloudwatch, plan, present=False)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})
    stub_monitoring(stubs, cfg, plan, present=False)
    args = deploy_command(monkeypatch, plan)
    assert cli.cmd_deploy(args, cfg, Clients(session, REGION)) == 0
    assert recorder.operations == CREATE_SEQUENCE + MONITORING_CREATE
    assert_done(stubs)
    recorder.assert_valid()
    want = wanted(cfg, plan)
    endpoint_name = environment.endpoint_name
    for monitor in want.monitors:
        kind = "DataQualityJobInput" if monitor.kind == "DataQuality" else "ModelQualityJobInput"
        assert monitor.definition_request[kind]["EndpointInput"]["EndpointName"] == endpoint_name
    assert [a["AlarmName"] for a in want.alarms] == [
        f"{endpoint_name}-data-drift-1",
        f"{endpoint_name}-data-drift-2",
        f"{endpoint_name}-model-quality",
    ]


def test_a_repeat_async_deploy_makes_no_mutating_call_for_the_endpoint_or_its_monitoring(
    monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    cfg = monitored_async()
    plan = endpoint_module.plan(cfg, "qa", qa_version_with_baselines(cfg))
    session, stubs = stubbed("sagemaker", "cloudwatch", "application-autoscaling", "s3", recorder=recorder)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint(cfg, plan.config_name))
    stub_rollback_alarms(stubs["cloudwatch"], plan, present=True)
    stub_scaling(stubs["application-autoscaling"], stubs["cloudwatch"], plan, present=True)
    stub_monitoring(stubs, cfg, plan, present=True)
    args = deploy_command(monkeypatch, plan)
    assert cli.cmd_deploy(args, cfg, Clients(session, REGION)) == 0
    assert recorder.mutating == []
    assert recorder.operations[-7:] == [
        "GetObject",
        "DescribeDataQualityJobDefinition",
        "DescribeMonitoringSchedule",
        "DescribeModelQualityJobDefinition",
        "DescribeMonitoringSchedule",
        "DescribeAlarms",
        "DescribeAlarms",
    ]
    assert_done(stubs)
    recorder.assert_valid()


def test_the_monitoring_of_an_async_endpoint_asks_for_what_a_real_time_one_does() -> None:
    """botocore's EndpointInput and DataCaptureConfig have no member for async endpoints, so the
    job definitions of an async endpoint are those of a real-time endpoint of the same name."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    for shape in ("EndpointInput", "DataCaptureConfig"):
        assert not [m for m in model.shape_for(shape).members if "async" in m.lower()], shape
    create = model.operation_model("CreateEndpointConfig").input_shape.members
    assert {"AsyncInferenceConfig", "DataCaptureConfig"} <= set(create)
    async_cfg = monitored_async()
    real_cfg = config.parse(
        raw_for(
            {**REAL_TIME_PROD, "data_capture": {"enabled": True, "sampling_percent": 50}},
            {"environments": ["qa"], "model_quality": {"ground_truth_uri": GROUND_TRUTH}},
        )
    )
    version = qa_version_with_baselines(async_cfg)
    found = requests.baselines(version)
    as_async = requests.plan_monitoring(async_cfg, "qa", version, found, FEATURES)
    as_real_time = requests.plan_monitoring(real_cfg, "qa", version, found, FEATURES)
    assert [m.definition_request for m in as_async.monitors] == [
        m.definition_request for m in as_real_time.monitors
    ]
    assert as_async.alarms == as_real_time.alarms and len(as_async.monitors) == 2
