"""Model Monitor after a deploy (deploy/monitoring.py): exact call sequences on botocore's Stubber.

Every request is validated against botocore's own service models by the Stubber, and each test
queues exactly the calls it expects, in order, so a missing, extra or reordered call fails. The
cases: a first deploy creates the definitions, schedules and alarms; a repeat makes read calls
only; a changed config makes a new definition, points the schedule at it and deletes the old one;
a version without baselines is skipped before any call; an environment not monitored makes no
call; a failed deploy (rolled back) never reaches monitoring.
"""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody

from deploy_helpers import (
    REAL_TIME_PROD,
    make_config,
    make_raw,
    model_version,
    module,
    package_arn,
    package_description,
    stubbed,
)
from recording import assert_done, not_found

config = module("config")
endpoint = module("deploy.endpoint")
monitoring = module("deploy.monitoring")
requests = module("deploy.monitoring_requests")
Clients = module("deploy.aws").Clients
DeployError = module("deploy.aws").DeployError

FEATURES = [f"_c{i}" for i in range(12)]
GROUND_TRUTH = "s3://my-app-labels/ground-truth/prod"


def monitored_config(ground_truth: str = "", **monitoring_section: Any) -> Any:
    raw = make_raw("four", prod=REAL_TIME_PROD)
    raw["monitoring"] = {
        "environments": ["prod"],
        "model_quality": {"ground_truth_uri": ground_truth},
        **monitoring_section,
    }
    return config.parse(raw)


def version_with_baselines(cfg: Any, model_quality: bool = True, baselines: bool = True) -> Any:
    arn = package_arn(cfg, "prod", 7)
    description = package_description(arn)
    prefix = f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['prod']}7"
    if baselines:
        drift: dict[str, Any] = {
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{prefix}/data/statistics.json"},
                "Constraints": {
                    "ContentType": "application/json",
                    "S3Uri": f"{prefix}/data/constraints.json",
                },
            }
        }
        if model_quality:
            drift["ModelQuality"] = {
                "Constraints": {
                    "ContentType": "application/json",
                    "S3Uri": f"{prefix}/model/constraints.json",
                }
            }
        description["DriftCheckBaselines"] = drift
    return model_version(arn, description)


def deploy_plan(cfg: Any, **kwargs: Any) -> Any:
    return endpoint.plan(cfg, "prod", version_with_baselines(cfg, **kwargs))


def constraints_body(thresholds: dict[str, Any] | None = None) -> dict[str, Any]:
    document = {
        "version": 0.0,
        "features": [{"name": name, "inferred_type": "Fractional"} for name in FEATURES],
        "monitoring_config": thresholds or {"comparison_threshold": 0.1, "comparison_method": "Robust"},
    }
    data = json.dumps(document).encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data))}


def queue_constraints(stubs: dict[str, Any], plan: Any, thresholds: dict[str, Any] | None = None) -> None:
    bucket, _, key = (
        plan.package.description["DriftCheckBaselines"]["ModelDataQuality"]["Constraints"]["S3Uri"]
        .removeprefix("s3://")
        .partition("/")
    )
    stubs["s3"].add_response("get_object", constraints_body(thresholds), {"Bucket": bucket, "Key": key})


def expected(cfg: Any, plan: Any) -> Any:
    found = requests.baselines(plan.package)
    return requests.plan_monitoring(cfg, "prod", plan.package, found, FEATURES)


def schedule_answer(monitor: Any, definition: str | None = None) -> dict[str, Any]:
    config_ = json.loads(json.dumps(monitor.schedule_request["MonitoringScheduleConfig"]))
    if definition:
        config_["MonitoringJobDefinitionName"] = definition
    return {
        "MonitoringScheduleArn": f"arn:aws:sagemaker:us-east-1:1:monitoring-schedule/{monitor.schedule_name}",
        "MonitoringScheduleName": monitor.schedule_name,
        "MonitoringScheduleStatus": "Scheduled",
        "CreationTime": "2025-01-31T12:00:00Z",
        "LastModifiedTime": "2025-01-31T12:00:00Z",
        "MonitoringScheduleConfig": config_,
    }


def definition_answer(monitor: Any) -> dict[str, Any]:
    body = {k: v for k, v in monitor.definition_request.items() if k not in ("Tags",)}
    body["JobDefinitionArn"] = "arn:aws:sagemaker:us-east-1:444444444444:job-definition/x"
    body["CreationTime"] = "2025-01-31T12:00:00Z"
    return body


def alarm_answer(alarm: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in alarm.items() if k != "ActionsEnabled"} | {"ActionsEnabled": True}


def describe_definition(stubs: dict[str, Any], monitor: Any, exists: bool) -> None:
    method = requests_method(monitor, "describe")
    if exists:
        stubs["sagemaker"].add_response(
            method, definition_answer(monitor), {"JobDefinitionName": monitor.definition_name}
        )
    else:
        not_found(stubs["sagemaker"], method, "job definition")


def requests_method(monitor: Any, verb: str) -> str:
    describe, create, delete = monitoring.DEFINITION_CALLS[monitor.kind]
    return {"describe": describe, "create": create, "delete": delete}[verb]


def run(cfg: Any, plan: Any, stubs: dict[str, Any], session: Any) -> Any:
    result = monitoring.ensure_monitoring(cfg, Clients(session, cfg.region), plan)
    assert_done(stubs)
    return result


def test_first_deploy_creates_definitions_schedules_and_alarms() -> None:
    cfg = monitored_config(GROUND_TRUTH)
    plan = deploy_plan(cfg)
    want = expected(cfg, plan)
    assert [m.kind for m in want.monitors] == ["DataQuality", "ModelQuality"]
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    queue_constraints(stubs, plan)
    sm = stubs["sagemaker"]
    for monitor in want.monitors:
        describe_definition(stubs, monitor, exists=False)
        sm.add_response(
            requests_method(monitor, "create"), {"JobDefinitionArn": "arn:x"}, monitor.definition_request
        )
        not_found(sm, "describe_monitoring_schedule", "schedule")
        sm.add_response(
            "create_monitoring_schedule", {"MonitoringScheduleArn": "arn:x"}, monitor.schedule_request
        )
    names = [a["AlarmName"] for a in want.alarms]
    cw = stubs["cloudwatch"]
    cw.add_response("describe_alarms", {"MetricAlarms": []}, {"AlarmNames": names})
    cw.add_response("describe_alarms", {"MetricAlarms": []}, {"AlarmNamePrefix": want.drift_alarm_prefix})
    for alarm in want.alarms:
        cw.add_response("put_metric_alarm", {}, alarm)
    result = run(cfg, plan, stubs, session)
    assert result.changes == 2 * 2 + len(want.alarms)
    endpoint_name = cfg.environment("prod").endpoint_name
    assert names == [
        f"{endpoint_name}-data-drift-1",
        f"{endpoint_name}-data-drift-2",
        f"{endpoint_name}-model-quality",
    ]
    capture = cfg.environment("prod").capture_bucket
    dq = want.monitors[0].definition_request
    assert dq["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] == (
        f"s3://{capture}/monitoring/prod/data-quality"
    )
    assert dq["DataQualityJobOutputConfig"]["KmsKeyId"] == cfg.environment("prod").capture_key_arn
    assert dq["RoleArn"] == cfg.role_arn("prod", "sagemaker_monitor")
    assert want.alarms[0]["AlarmActions"] == [
        f"arn:aws:sns:{cfg.region}:{cfg.environment('prod').account}:{cfg.project.model_name}-alerts"
    ]
    assert len(want.alarms[0]["Metrics"]) == 11 and len(want.alarms[1]["Metrics"]) == 3


def test_a_repeat_makes_read_calls_only() -> None:
    cfg = monitored_config(GROUND_TRUTH)
    plan = deploy_plan(cfg)
    want = expected(cfg, plan)
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    queue_constraints(stubs, plan)
    for monitor in want.monitors:
        describe_definition(stubs, monitor, exists=True)
        stubs["sagemaker"].add_response(
            "describe_monitoring_schedule",
            schedule_answer(monitor),
            {"MonitoringScheduleName": monitor.schedule_name},
        )
    names = [a["AlarmName"] for a in want.alarms]
    alarms = [alarm_answer(a) for a in want.alarms]
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": names})
    stubs["cloudwatch"].add_response(
        "describe_alarms", {"MetricAlarms": alarms[:2]}, {"AlarmNamePrefix": want.drift_alarm_prefix}
    )
    assert run(cfg, plan, stubs, session).changes == 0


def test_a_changed_definition_is_a_new_one_the_schedule_moves_to_and_the_old_is_deleted() -> None:
    cfg = monitored_config(instance_type="ml.m5.xlarge")
    old_cfg = monitored_config()
    plan = deploy_plan(cfg)
    want, before = expected(cfg, plan), expected(old_cfg, deploy_plan(old_cfg))
    [monitor], [old] = want.monitors, before.monitors
    assert monitor.definition_name != old.definition_name
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    queue_constraints(stubs, plan)
    sm = stubs["sagemaker"]
    describe_definition(stubs, monitor, exists=False)
    sm.add_response(
        "create_data_quality_job_definition", {"JobDefinitionArn": "arn:x"}, monitor.definition_request
    )
    sm.add_response(
        "describe_monitoring_schedule",
        schedule_answer(monitor, definition=old.definition_name),
        {"MonitoringScheduleName": monitor.schedule_name},
    )
    sm.add_response(
        "update_monitoring_schedule",
        {"MonitoringScheduleArn": "arn:x"},
        {
            "MonitoringScheduleName": monitor.schedule_name,
            "MonitoringScheduleConfig": monitor.schedule_request["MonitoringScheduleConfig"],
        },
    )
    sm.add_response("delete_data_quality_job_definition", {}, {"JobDefinitionName": old.definition_name})
    names = [a["AlarmName"] for a in want.alarms]
    alarms = [alarm_answer(a) for a in want.alarms]
    # A third drift alarm from a version with more features is deleted.
    stale = dict(alarms[0], AlarmName=f"{want.drift_alarm_prefix}-3")
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": names})
    stubs["cloudwatch"].add_response(
        "describe_alarms", {"MetricAlarms": [*alarms, stale]}, {"AlarmNamePrefix": want.drift_alarm_prefix}
    )
    stubs["cloudwatch"].add_response("delete_alarms", {}, {"AlarmNames": [stale["AlarmName"]]})
    assert run(cfg, plan, stubs, session).changes == 4


def test_a_version_without_baselines_is_skipped_with_one_line_and_no_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = monitored_config(GROUND_TRUTH)
    plan = deploy_plan(cfg, baselines=False)
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    result = run(cfg, plan, stubs, session)
    assert result.changes == 0 and "registered no data-quality baselines" in result.skipped
    lines = [line for line in capsys.readouterr().err.splitlines() if "monitoring" in line]
    assert len(lines) == 1 and plan.package.arn in lines[0]


def test_an_environment_not_monitored_makes_no_call() -> None:
    cfg = monitored_config(environments=[])
    plan = deploy_plan(cfg)
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    assert run(cfg, plan, stubs, session).skipped == "prod is not in monitoring.environments"


def test_ground_truth_without_a_model_quality_baseline_skips_only_that_schedule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = monitored_config(GROUND_TRUTH)
    plan = deploy_plan(cfg, model_quality=False)
    want = expected(cfg, plan)
    assert [m.kind for m in want.monitors] == ["DataQuality"] and len(want.skipped) == 1
    assert all(a["AlarmName"] != requests.model_quality_alarm(want.endpoint) for a in want.alarms)


def test_a_baseline_with_other_thresholds_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = monitored_config()
    plan = deploy_plan(cfg)
    want = expected(cfg, plan)
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    queue_constraints(stubs, plan, {"comparison_threshold": 0.3})
    describe_definition(stubs, want.monitors[0], exists=True)
    stubs["sagemaker"].add_response("describe_monitoring_schedule", schedule_answer(want.monitors[0]))
    alarms = [alarm_answer(a) for a in want.alarms]
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": alarms})
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": alarms})
    run(cfg, plan, stubs, session)
    assert "comparison_threshold 0.3 where monitoring.constraints says 0.1" in capsys.readouterr().err


def test_a_refused_call_is_one_error_saying_the_endpoint_serves_and_to_rerun() -> None:
    cfg = monitored_config()
    plan = deploy_plan(cfg)
    session, stubs = stubbed("s3", "sagemaker", "cloudwatch")
    queue_constraints(stubs, plan)
    stubs["sagemaker"].add_client_error(
        "describe_data_quality_job_definition", "AccessDeniedException", "not authorized", 400
    )
    with pytest.raises(
        DeployError, match=r"serves .* but its monitoring was not completed: .*run the deploy again"
    ):
        monitoring.ensure_monitoring(cfg, Clients(session, cfg.region), plan)


# --- the deploy command: monitoring after success only ----------------------------------------


class _Result:
    endpoint_name = config_name = model_name = "x"
    previous_config = ""
    action = "updated"
    changed = True


@pytest.mark.parametrize("rollback_on_failure", [True, False])
def test_monitoring_runs_after_a_successful_deploy_and_never_after_a_failed_one(
    monkeypatch: pytest.MonkeyPatch, rollback_on_failure: bool
) -> None:
    cli = module("deploy.cli")
    state = module("deploy.state")
    cfg = make_config("four", qa=REAL_TIME_PROD)
    plan = endpoint.plan(
        cfg,
        "qa",
        model_version(
            package_arn(cfg, "dev", 3),
            package_description(package_arn(cfg, "dev", 3), "PendingManualApproval"),
        ),
    )
    calls: list[Any] = []
    monkeypatch.setattr(cli, "require_account", lambda *a: None)
    monkeypatch.setattr(cli, "prepare", lambda *a: plan)
    monkeypatch.setattr(cli, "ensure_monitoring", lambda c, clients, p: calls.append(p))
    outcome: dict[str, Any] = {}

    def deploying(*_: Any) -> Any:
        if outcome.get("fail"):
            raise state.DeployFailed("update failed; endpoint is back on the previous config")
        return _Result()

    monkeypatch.setattr(cli, "deploy_or_roll_back" if rollback_on_failure else "deploy", deploying)
    args = argparse.Namespace(
        env="qa",
        arn=plan.package.arn,
        lock_file=None,
        rollback_on_failure=rollback_on_failure,
        timeout=0,
        poll_interval=0,
        github_output=False,
    )
    assert cli.cmd_deploy(args, cfg, object()) == 0
    assert calls == [plan]
    outcome["fail"] = True
    with pytest.raises(state.DeployFailed):
        cli.cmd_deploy(args, cfg, object())
    assert calls == [plan]
