"""The post-deploy smoke test (`endpoint-test --env prod`) against botocore's Stubber: a passing
run, and a failing one with and without `--rollback-on-failure`. Its rollback is the rollback
command's function, so an autoscaled endpoint on another instance type is rolled back with its
scalable target moved around the update. Each test asserts the exact call sequence.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from botocore.response import StreamingBody

from deploy_helpers import REAL_TIME_PROD, SAMPLE_CSV, assert_done, endpoint_response, package_arn, plan_for
from rollback_scenarios import (
    INSTANCE_A,
    INSTANCE_B,
    ROLLBACK_CALLS,
    SMOKE,
    prod_config,
    rollback_names,
    run,
    session_for,
    stub_back,
    stub_config,
    stub_deregister,
    stub_endpoint,
    stub_previous_tag,
    stub_register,
    stub_rollback_start,
    stub_target,
    stub_update_back,
)

pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture
def cfg(configure):
    return prod_config(configure)


@pytest.fixture
def names(cfg):
    return rollback_names(cfg)


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
    for _ in range(2):  # missing values: JSON nulls, empty CSV cells
        runtime.add_response("invoke_endpoint", answer({"predictions": predictions["predictions"][:1]}))
    for _ in range(3):  # wrong width, non-numeric, unsupported content type
        model_error(runtime, 400)
    for _ in range(3):  # latency burst (burst_requests = 3)
        runtime.add_response("invoke_endpoint", answer({"predictions": predictions["predictions"][:1]}))
    report, summary = tmp_path / "report.json", tmp_path / "summary.md"
    args = ["endpoint-test", "--env", "prod", "--rows", "2", "--samples", str(SAMPLE_CSV)]
    code, out, err = run([*args, "--report", str(report), "--summary", str(summary)], session, capsys)
    assert code == 0, out + err
    assert recorder.operations == ["GetCallerIdentity", "DescribeEndpoint", *["InvokeEndpoint"] * 10]
    assert json.loads(report.read_text())["passed"] is True
    assert "Endpoint tests PASSED" in summary.read_text()
    assert "passed=true" in out.splitlines()


SMOKE_FAILURE_CALLS = ["GetCallerIdentity", "DescribeEndpoint", *["InvokeEndpoint"] * 7]


def stub_failing_smoke(stubs, cfg, names):
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", names["new"]))
    # Every request fails with a 500; the burst stops after its first error (max_error_rate 0).
    for _ in range(7):
        model_error(stubs["sagemaker-runtime"], 500, "model crashed")


def test_failed_smoke_test_rolls_back_and_exits_non_zero(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    stub_failing_smoke(stubs, cfg, names)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_back(sm, cfg, names)
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"]))
    code, _, err = run([*SMOKE, "--rollback-on-failure"], session, capsys)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [*SMOKE_FAILURE_CALLS, *ROLLBACK_CALLS, "DescribeEndpoint"]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: endpoint tests failed (CSV request, ")
    assert last.endswith(f"{names['endpoint']} is back on {names['old']}")


def test_failed_smoke_test_rolls_back_an_instance_type_change_with_its_autoscaling(
    recorder, configure, names, capsys
):
    """The smoke test's rollback is the rollback command's: the scalable target goes before the
    update back to the previous instance type and comes back after it."""
    autoscaling = {"autoscaling": REAL_TIME_PROD["autoscaling"]}
    cfg = prod_config(configure, instance_type=INSTANCE_B, **autoscaling)
    v1 = plan_for(prod_config(instance_type=INSTANCE_A, **autoscaling), "prod", package_arn(cfg, "prod", 1))
    v2 = plan_for(cfg, "prod", package_arn(cfg, "prod", 2))
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime", "application-autoscaling")
    stub_failing_smoke(stubs, cfg, {"new": v2.config_name})
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    stub_endpoint(sm, cfg, v2.config_name)
    stub_previous_tag(sm, cfg, v1.config_name)
    stub_config(sm, v1)
    stub_config(sm, v2)
    stub_target(scaling, v1, registered=True)
    stub_deregister(scaling, v1)
    stub_update_back(sm, v1)
    stub_endpoint(sm, cfg, v1.config_name)
    stub_register(scaling, v1)
    code, _, err = run([*SMOKE, "--rollback-on-failure"], session, capsys)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [
        *SMOKE_FAILURE_CALLS,
        "DescribeEndpoint",
        "ListTags",
        "DescribeEndpointConfig",
        "DescribeEndpointConfig",
        "DescribeScalableTargets",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "RegisterScalableTarget",
        "DescribeScalingPolicies",
        "PutScalingPolicy",
    ]
    recorder.assert_valid()
    assert err.strip().splitlines()[-1].endswith(f"{v2.settings.endpoint_name} is back on {v1.config_name}")


def test_failed_smoke_test_and_failed_rollback_say_both(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    stub_failing_smoke(stubs, cfg, names)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_back(sm, cfg, names)
    sm.add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", names["new"], reason="old config unusable")
    )
    code, _, err = run([*SMOKE, "--rollback-on-failure"], session, capsys)
    assert code == 1
    assert recorder.operations == [*SMOKE_FAILURE_CALLS, *ROLLBACK_CALLS, "DescribeEndpoint"]
    last = err.strip().splitlines()[-1]
    assert "error: endpoint tests failed (" in last
    assert f"and rollback failed: endpoint {names['endpoint']} reverted to {names['new']}" in last


def test_failed_smoke_test_without_rollback_only_reports(recorder, cfg, names, capsys):
    session, stubs = session_for(cfg, recorder, "sagemaker-runtime")
    stub_failing_smoke(stubs, cfg, names)
    code, out, err = run(SMOKE, session, capsys)
    assert code == 1
    assert recorder.operations == SMOKE_FAILURE_CALLS
    assert recorder.mutating == []
    assert "passed=false" in out.splitlines()
    assert (
        err.strip().splitlines()[-1].startswith(f"error: endpoint tests failed against {names['endpoint']}: ")
    )
