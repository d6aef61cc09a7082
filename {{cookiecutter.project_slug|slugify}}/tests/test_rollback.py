"""Rollback and the post-deploy smoke test, against botocore's Stubber (moto has no UpdateEndpoint).

Each test asserts the exact AWS operation sequence and the command's exit status.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from botocore.response import StreamingBody

from deploy_helpers import (
    REAL_TIME_PROD,
    REGION,
    SAMPLE_CSV,
    assert_done,
    endpoint_response,
    make_raw,
    module,
    not_found,
    package_arn,
    plan_for,
    stubbed_as,
)

config = module("config")
cli = module("deploy.cli")

PROD = {
    **REAL_TIME_PROD,
    "data_capture": {"enabled": False},
    "traffic_shifting": {"type": "LINEAR", "linear_step_percent": 50, "wait_seconds": 300},
}
ROLLBACK_DEPLOYMENT = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
        "TerminationWaitInSeconds": 0,
    }
}
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture
def cfg(configure):
    raw = make_raw("four", prod=PROD)
    raw["environments"]["prod"]["tests"]["burst_requests"] = 3
    configure(raw)
    return config.parse(raw)


@pytest.fixture
def names(cfg):
    old = plan_for(cfg, "prod", package_arn(cfg, "prod", 1)).config_name
    new = plan_for(cfg, "prod", package_arn(cfg, "prod", 2)).config_name
    return {"old": old, "new": new, "endpoint": cfg.environment("prod").endpoint_name}


def session_for(cfg, recorder, *services):
    return stubbed_as(cfg, "prod", "sagemaker", *services, recorder=recorder)


def stub_rollback_start(sm, cfg, names, previous="old"):
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["new"]))
    arn = endpoint_response(cfg, "prod", names["new"])["EndpointArn"]
    tags = [{"Key": "previous-endpoint-config", "Value": names[previous]}] if previous else []
    sm.add_response("list_tags", {"Tags": tags}, {"ResourceArn": arn})


def old_config(names):
    arn = f"arn:aws:sagemaker:{REGION}:444444444444:endpoint-config/{names['old']}"
    return {
        "EndpointConfigName": names["old"],
        "EndpointConfigArn": arn,
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
        "CreationTime": 0,
    }


def stub_update_back(sm, cfg, names):
    sm.add_response("describe_endpoint_config", old_config(names), {"EndpointConfigName": names["old"]})
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": endpoint_response(cfg, "prod", names["old"])["EndpointArn"]},
        {
            "EndpointName": names["endpoint"],
            "EndpointConfigName": names["old"],
            "DeploymentConfig": ROLLBACK_DEPLOYMENT,
        },
    )


def run(args, session, capsys):
    code = cli.main([*args, "--poll-interval", "0"], session=session)
    out, err = capsys.readouterr()
    return code, out, err


ROLLBACK_CALLS = ["DescribeEndpoint", "ListTags", "DescribeEndpointConfig", "UpdateEndpoint"]


def test_rollback_returns_to_the_recorded_config(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_update_back(sm, cfg, names)
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"], "Updating"))
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"]))
    code, out, err = run(["rollback", "--env", "prod"], session, capsys)
    assert code == 0, err
    sm.assert_no_pending_responses()
    assert recorder.operations == [
        "GetCallerIdentity",
        *ROLLBACK_CALLS,
        "DescribeEndpoint",
        "DescribeEndpoint",
    ]
    assert f"endpoint_config={names['old']}" in out.splitlines()
    assert f"rolled_back_from={names['new']}" in out.splitlines()


def test_rollback_when_already_on_the_previous_config_changes_nothing(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder)
    sm = stubs["sagemaker"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"], reason="Alarm fired"))
    sm.add_response("list_tags", {"Tags": [{"Key": "previous-endpoint-config", "Value": names["old"]}]})
    code, out, _ = run(["rollback", "--env", "prod"], session, capsys)
    assert code == 0
    assert recorder.operations == ["GetCallerIdentity", "DescribeEndpoint", "ListTags"]
    assert "changed=false" in out.splitlines()


@pytest.mark.parametrize(
    ("case", "calls", "message"),
    [
        ("no record", ["DescribeEndpoint", "ListTags"], "has no recorded previous config"),
        ("config gone", ["DescribeEndpoint", "ListTags", "DescribeEndpointConfig"], "no longer exists"),
        ("update refused", ROLLBACK_CALLS, "UpdateEndpoint: Cannot update in-progress endpoint"),
        ("ends Failed", [*ROLLBACK_CALLS, "DescribeEndpoint"], "ended Failed, not InService: old fleet gone"),
        ("times out", [*ROLLBACK_CALLS, "DescribeEndpoint"], "timed out after 0 s"),
    ],
)
def test_a_failing_rollback_exits_non_zero_with_one_line(recorder, cfg, names, capsys, case, calls, message):
    session, stubs = session_for(cfg, recorder)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names, previous=None if case == "no record" else "old")
    if case == "config gone":
        not_found(sm, "describe_endpoint_config", "endpoint configuration")
    elif case == "update refused":
        sm.add_response("describe_endpoint_config", old_config(names))
        sm.add_client_error(
            "update_endpoint", "ValidationException", "Cannot update in-progress endpoint", 400
        )
    elif case == "ends Failed":
        stub_update_back(sm, cfg, names)
        sm.add_response(
            "describe_endpoint", endpoint_response(cfg, "prod", names["old"], "Failed", "old fleet gone")
        )
    elif case == "times out":
        stub_update_back(sm, cfg, names)
        sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"], "Updating"))
    args = ["rollback", "--env", "prod"] + (["--timeout", "0"] if case == "times out" else [])
    code, _, err = run(args, session, capsys)
    assert code == 1
    sm.assert_no_pending_responses()
    assert recorder.operations == ["GetCallerIdentity", *calls]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: rollback failed: ")
    assert message in last


def first_rows(n):
    with SAMPLE_CSV.open() as handle:
        rows = list(csv.DictReader(handle))[:n]
    return [int(float(row["target"])) for row in rows]


def answer(payload):
    body = json.dumps(payload).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


def model_error(stub, status, message="bad request"):
    stub.add_client_error(
        "invoke_endpoint",
        "ModelError",
        message,
        424,
        modeled_fields={"OriginalStatusCode": status, "OriginalMessage": message},
    )


def test_passing_smoke_test_writes_the_report_and_exits_zero(recorder, cfg, names, tmp_path, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    runtime = stubs["sagemaker-runtime"]
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", names["new"]))
    labels = first_rows(2)
    predictions = {"predictions": [{"label": y, "probability": 0.9 if y else 0.1} for y in labels]}
    runtime.add_response("invoke_endpoint", answer(predictions))  # CSV batch
    runtime.add_response("invoke_endpoint", answer(predictions))  # JSON batch
    for _ in range(3):  # wrong width, non-numeric, unsupported content type
        model_error(runtime, 400)
    for _ in range(3):  # latency burst (burst_requests = 3)
        runtime.add_response("invoke_endpoint", answer({"predictions": predictions["predictions"][:1]}))
    report, summary = tmp_path / "report.json", tmp_path / "summary.md"
    args = ["endpoint-test", "--env", "prod", "--rows", "2", "--samples", str(SAMPLE_CSV)]
    code, out, err = run([*args, "--report", str(report), "--summary", str(summary)], session, capsys)
    assert code == 0, out + err
    assert recorder.operations == ["GetCallerIdentity", "DescribeEndpoint", *["InvokeEndpoint"] * 8]
    assert json.loads(report.read_text())["passed"] is True
    assert "Endpoint tests PASSED" in summary.read_text()
    assert "passed=true" in out.splitlines()


SMOKE_FAILURE_CALLS = ["GetCallerIdentity", "DescribeEndpoint", *["InvokeEndpoint"] * 6]


def stub_failing_smoke(stubs, cfg, names):
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", names["new"]))
    # Every request fails with a 500; the burst stops after its first error (max_error_rate 0).
    for _ in range(6):
        model_error(stubs["sagemaker-runtime"], 500, "model crashed")


def test_failed_smoke_test_rolls_back_and_exits_non_zero(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    stub_failing_smoke(stubs, cfg, names)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_update_back(sm, cfg, names)
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"]))
    args = [
        "endpoint-test",
        "--env",
        "prod",
        "--rows",
        "2",
        "--samples",
        str(SAMPLE_CSV),
        "--rollback-on-failure",
    ]
    code, _, err = run(args, session, capsys)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [*SMOKE_FAILURE_CALLS, *ROLLBACK_CALLS, "DescribeEndpoint"]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: endpoint tests failed (CSV request, ")
    assert last.endswith(f"{names['endpoint']} is back on {names['old']}")


def test_failed_smoke_test_and_failed_rollback_say_both(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    stub_failing_smoke(stubs, cfg, names)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_update_back(sm, cfg, names)
    sm.add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", names["new"], reason="old config unusable")
    )
    args = [
        "endpoint-test",
        "--env",
        "prod",
        "--rows",
        "2",
        "--samples",
        str(SAMPLE_CSV),
        "--rollback-on-failure",
    ]
    code, _, err = run(args, session, capsys)
    assert code == 1
    assert recorder.operations == [*SMOKE_FAILURE_CALLS, *ROLLBACK_CALLS, "DescribeEndpoint"]
    last = err.strip().splitlines()[-1]
    assert "error: endpoint tests failed (" in last
    assert f"and rollback failed: endpoint {names['endpoint']} reverted to {names['new']}" in last


def test_failed_smoke_test_without_rollback_only_reports(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    stub_failing_smoke(stubs, cfg, names)
    args = ["endpoint-test", "--env", "prod", "--rows", "2", "--samples", str(SAMPLE_CSV)]
    code, out, err = run(args, session, capsys)
    assert code == 1
    assert recorder.operations == SMOKE_FAILURE_CALLS
    assert recorder.mutating == []
    assert "passed=false" in out.splitlines()
    assert (
        err.strip().splitlines()[-1].startswith(f"error: endpoint tests failed against {names['endpoint']}: ")
    )
