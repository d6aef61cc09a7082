"""Teardown finds an async endpoint's backlog alarm (the one that scales it out from zero) with
its rollback alarms, on moto: nothing this repository created is left behind."""

from __future__ import annotations

from typing import Any

from moto import mock_aws

from deploy_helpers import REAL_TIME_PROD, fake_aws_env, make_config, module, new_session

teardown_listing = module("infra.teardown_listing")
monitoring_listing = module("infra.teardown_monitoring")
async_config = module("deploy.async_config")
Clients = module("deploy.aws").Clients

CFG = make_config("four", prod=REAL_TIME_PROD)


def test_the_backlog_alarm_is_listed_with_the_rollback_alarms(monkeypatch: Any) -> None:
    fake_aws_env(monkeypatch)
    monkeypatch.setattr(monitoring_listing, "list_monitoring", lambda *_: ([], []))
    settings = CFG.environment("prod").endpoint
    backlog = async_config.backlog_alarm_name(settings)
    with mock_aws():
        clients = Clients(new_session(region_name=CFG.region), CFG.region)
        cloudwatch = clients("cloudwatch")
        for name in (f"{settings.endpoint_name}-5xx-errors", backlog, f"{settings.endpoint_name}-other"):
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="Invocation5XXErrors",
                Namespace="AWS/SageMaker",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
        items = teardown_listing.list_environment(CFG, "prod", clients)
    alarms = sorted(i.name for i in items if i.kind == "alarm")
    assert alarms == sorted([f"{settings.endpoint_name}-5xx-errors", backlog])
