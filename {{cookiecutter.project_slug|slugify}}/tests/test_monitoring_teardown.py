"""Teardown of an endpoint's Model Monitor (infra/teardown_monitoring.py), on botocore's Stubber.

Listing makes read calls only and finds deploy's definitions (another endpoint's look-alike is
left alone); schedules are described only when a definition exists; schedules and alarms come
before the endpoint, job definitions after it; deletion makes exactly the deleting calls in order.
"""

from __future__ import annotations

from typing import Any

from deploy_helpers import REAL_TIME_PROD, make_config, module, stubbed
from recording import assert_done, not_found

listing = module("infra.teardown_monitoring")
teardown_delete = module("infra.teardown_delete")
teardown_listing = module("infra.teardown_listing")
Clients = module("deploy.aws").Clients

CFG = make_config("four", prod=REAL_TIME_PROD)
ENDPOINT = CFG.environment("prod").endpoint_name
DQ = f"{ENDPOINT}-dq-0123abcd"
MQ = f"{ENDPOINT}-mq-89abcdef"


def summary(name: str) -> dict[str, Any]:
    return {
        "MonitoringJobDefinitionName": name,
        "MonitoringJobDefinitionArn": f"arn:aws:sagemaker:us-east-1:444444444444:job-definition/{name}",
        "CreationTime": "2025-01-31T12:00:00Z",
        "EndpointName": ENDPOINT,
    }


def schedule(name: str) -> dict[str, Any]:
    return {
        "MonitoringScheduleArn": f"arn:aws:sagemaker:us-east-1:444444444444:monitoring-schedule/{name}",
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "CreationTime": "2025-01-31T12:00:00Z",
        "LastModifiedTime": "2025-01-31T12:00:00Z",
        "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": DQ, "MonitoringType": "DataQuality"},
    }


def alarm(name: str) -> dict[str, Any]:
    return {"AlarmName": name, "AlarmArn": f"arn:aws:cloudwatch:us-east-1:444444444444:alarm:{name}"}


def queue_listing(stubs: dict[str, Any], definitions: bool) -> None:
    sm, cw = stubs["sagemaker"], stubs["cloudwatch"]
    dq = [summary(DQ), summary(f"{ENDPOINT}-dq-handmade")] if definitions else []
    sm.add_response(
        "list_data_quality_job_definitions", {"JobDefinitionSummaries": dq}, {"EndpointName": ENDPOINT}
    )
    mq = [summary(MQ)] if definitions else []
    sm.add_response(
        "list_model_quality_job_definitions", {"JobDefinitionSummaries": mq}, {"EndpointName": ENDPOINT}
    )
    if definitions:
        sm.add_response(
            "describe_monitoring_schedule",
            schedule(f"{ENDPOINT}-data-quality"),
            {"MonitoringScheduleName": f"{ENDPOINT}-data-quality"},
        )
        not_found(sm, "describe_monitoring_schedule", "schedule")
    cw.add_response(
        "describe_alarms",
        {
            "MetricAlarms": [alarm(f"{ENDPOINT}-data-drift-1"), alarm(f"{ENDPOINT}-data-drift-2")]
            if definitions
            else []
        },
        {"AlarmNamePrefix": f"{ENDPOINT}-data-drift"},
    )
    cw.add_response(
        "describe_alarms",
        {"MetricAlarms": [alarm(f"{ENDPOINT}-model-quality")] if definitions else []},
        {"AlarmNames": [f"{ENDPOINT}-model-quality"]},
    )


def test_listing_finds_schedules_alarms_and_deploys_definitions_only() -> None:
    session, stubs = stubbed("sagemaker", "cloudwatch")
    queue_listing(stubs, definitions=True)
    before, after = listing.list_monitoring(CFG, "prod", Clients(session, CFG.region))
    assert_done(stubs)
    assert [(i.kind, i.name) for i in before] == [
        ("monitoring schedule", f"{ENDPOINT}-data-quality"),
        ("alarm", f"{ENDPOINT}-data-drift-1"),
        ("alarm", f"{ENDPOINT}-data-drift-2"),
        ("alarm", f"{ENDPOINT}-model-quality"),
    ]
    assert [(i.kind, i.name) for i in after] == [
        ("data quality job definition", DQ),
        ("model quality job definition", MQ),
    ]


def test_without_definitions_no_schedule_is_described() -> None:
    session, stubs = stubbed("sagemaker", "cloudwatch")
    queue_listing(stubs, definitions=False)
    assert listing.list_monitoring(CFG, "prod", Clients(session, CFG.region)) == ([], [])
    assert_done(stubs)


def test_deletion_makes_the_deleting_calls_in_order() -> None:
    session, stubs = stubbed("sagemaker", "cloudwatch")
    queue_listing(stubs, definitions=True)
    clients = Clients(session, CFG.region)
    before, after = listing.list_monitoring(CFG, "prod", clients)
    account = CFG.environment("prod").account
    sm, cw = stubs["sagemaker"], stubs["cloudwatch"]
    sm.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": f"{ENDPOINT}-data-quality"})
    for name in (f"{ENDPOINT}-data-drift-1", f"{ENDPOINT}-data-drift-2", f"{ENDPOINT}-model-quality"):
        cw.add_response("delete_alarms", {}, {"AlarmNames": [name]})
    sm.add_response("delete_data_quality_job_definition", {}, {"JobDefinitionName": DQ})
    sm.add_response("delete_model_quality_job_definition", {}, {"JobDefinitionName": MQ})
    lines: list[str] = []
    result = teardown_delete.delete(
        teardown_listing.Listing(items=before + after), {account: clients}, lines.append
    )
    assert result == 6
    assert_done(stubs)
    assert lines[0] == f"deleting monitoring schedule {ENDPOINT}-data-quality ({account})"
    assert lines[-1] == f"deleting model quality job definition {MQ} ({account})"


def test_the_environment_listing_puts_schedules_before_the_endpoint_and_definitions_after(
    monkeypatch: Any,
) -> None:
    """SageMaker refuses to delete an endpoint that schedules still monitor, and a definition a
    schedule runs: the order of list_environment is what makes teardown succeed."""
    from moto import mock_aws

    from deploy_helpers import fake_aws_env, new_session

    fake_aws_env(monkeypatch)
    account = CFG.environment("prod").account
    schedule = teardown_listing.Item(account, "monitoring schedule", "s", {})
    definition = teardown_listing.Item(account, "data quality job definition", "d", {})
    monkeypatch.setattr(listing, "list_monitoring", lambda *_: ([schedule], [definition]))
    monkeypatch.setattr(teardown_listing, "_exists", lambda describe: True)
    with mock_aws():
        clients = Clients(new_session(region_name=CFG.region), CFG.region)
        kinds = [i.kind for i in teardown_listing.list_environment(CFG, "prod", clients)]
    assert kinds == ["monitoring schedule", "endpoint", "data quality job definition"]
