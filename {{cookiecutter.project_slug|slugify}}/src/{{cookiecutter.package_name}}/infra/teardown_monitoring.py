"""What teardown deletes of an endpoint's Model Monitor (deploy/monitoring.py), found with read calls only.

Job definitions are listed by endpoint and kept when they carry deploy's names
(`<endpoint>-dq-<hash>`, `<endpoint>-mq-<hash>`). A schedule cannot exist without its job
definition (SageMaker refuses to delete a definition a schedule runs), so the two schedules
(`<endpoint>-data-quality`, `<endpoint>-model-quality`) are described only when a definition was
found. Alarms: the drift alarms (`<endpoint>-data-drift*`) and the model-quality alarm.

`list_monitoring` returns (before, after): schedules and alarms go before the endpoint (SageMaker
refuses to delete an endpoint that schedules still monitor), job definitions after it, once
their schedules are long gone.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from ..config import Config
from ..deploy.aws import Clients, is_not_found
from ..deploy.monitoring_requests import drift_alarm_prefix, model_quality_alarm, schedule_names
from .teardown_listing import Item

# kind -> (list operation, the short name in deploy's definition names)
DEFINITIONS = {
    "data quality job definition": ("list_data_quality_job_definitions", "dq"),
    "model quality job definition": ("list_model_quality_job_definitions", "mq"),
}


def _definitions(sm: Any, operation: str, endpoint: str, short: str) -> list[str]:
    pattern = re.compile(re.escape(endpoint) + "-" + short + "-[0-9a-f]{8}")
    names = [
        row["MonitoringJobDefinitionName"]
        for page in sm.get_paginator(operation).paginate(EndpointName=endpoint)
        for row in page.get("JobDefinitionSummaries", [])
    ]
    return sorted(name for name in names if pattern.fullmatch(name))


def list_monitoring(cfg: Config, env: str, clients: Clients) -> tuple[list[Item], list[Item]]:
    environment = cfg.environment(env)
    endpoint, account = environment.endpoint_name, environment.account
    sm = clients.sagemaker
    after = [
        Item(account, kind, name, {"JobDefinitionName": name})
        for kind, (operation, short) in DEFINITIONS.items()
        for name in _definitions(sm, operation, endpoint, short)
    ]
    before = []
    if after:
        for schedule in schedule_names(endpoint).values():
            try:
                sm.describe_monitoring_schedule(MonitoringScheduleName=schedule)
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                continue
            before.append(
                Item(account, "monitoring schedule", schedule, {"MonitoringScheduleName": schedule})
            )
    cloudwatch = clients("cloudwatch")
    alarms = [
        a["AlarmName"]
        for a in cloudwatch.describe_alarms(AlarmNamePrefix=drift_alarm_prefix(endpoint))["MetricAlarms"]
    ]
    alarms += [
        a["AlarmName"]
        for a in cloudwatch.describe_alarms(AlarmNames=[model_quality_alarm(endpoint)])["MetricAlarms"]
    ]
    before += [Item(account, "alarm", name, {"AlarmNames": [name]}) for name in alarms]
    return before, after
