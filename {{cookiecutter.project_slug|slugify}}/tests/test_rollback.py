"""The rollback command, against botocore's Stubber (moto has no UpdateEndpoint).

Each test asserts the exact AWS operation sequence and the command's exit status. Prod has
autoscaling off here, so a rollback makes no Application Auto Scaling call (the session has
no such client); test_deploy_autoscaling.py covers rollbacks of an autoscaled endpoint and
test_smoke_rollback.py the smoke test's rollback.
"""

from __future__ import annotations

import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from deploy_helpers import (
    REGION,
    Recorder,
    assert_done,
    endpoint_response,
    module,
    not_found,
    package_arn,
    plan_for,
    stubbed,
)
from recording import stubbed_in
from rollback_scenarios import (
    INSTANCE_A,
    INSTANCE_B,
    ROLLBACK_CALLS,
    old_config,
    on_instance,
    prod_config,
    rollback_names,
    run,
    session_for,
    stub_back,
    stub_config,
    stub_endpoint,
    stub_previous_tag,
    stub_rollback_start,
    stub_target,
    stub_update_back,
)

rollback_module = module("deploy.rollback")
Clients = module("deploy.aws").Clients
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture
def cfg(configure):
    return prod_config(configure)


@pytest.fixture
def names(cfg):
    return rollback_names(cfg)


@pytest.mark.parametrize("previous_instance_type", [INSTANCE_A, INSTANCE_B])
def test_rollback_returns_to_the_recorded_config(recorder, cfg, names, capsys, previous_instance_type):
    """With autoscaling off, not one Application Auto Scaling call, even across an instance-type
    change (the session has no such client: asking for one fails the test)."""
    session, stubs = session_for(cfg, recorder)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_back(sm, cfg, names, previous_instance_type)
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
    assert {service for service, _ in recorder.calls} == {"sts", "sagemaker"}
    recorder.assert_valid()
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
        stub_back(sm, cfg, names)
        sm.add_response(
            "describe_endpoint", endpoint_response(cfg, "prod", names["old"], "Failed", "old fleet gone")
        )
    elif case == "times out":
        stub_back(sm, cfg, names)
        sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"], "Updating"))
    args = ["rollback", "--env", "prod"] + (["--timeout", "0"] if case == "times out" else [])
    code, _, err = run(args, session, capsys)
    assert code == 1
    sm.assert_no_pending_responses()
    assert recorder.operations == ["GetCallerIdentity", *calls]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: rollback failed: ")
    assert message in last


def test_a_rollback_whose_autoscaling_fails_says_where_the_endpoint_is(recorder, configure, capsys):
    cfg = on_instance(INSTANCE_B)
    configure(cfg)
    v1 = plan_for(on_instance(INSTANCE_A), "prod", package_arn(cfg, "prod", 1))
    v2 = plan_for(cfg, "prod", package_arn(cfg, "prod", 2))
    session, stubs = session_for(cfg, recorder, "application-autoscaling")
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    stub_endpoint(sm, cfg, v2.config_name)
    stub_previous_tag(sm, cfg, v1.config_name)
    stub_config(sm, v1)
    stub_config(sm, v2)
    stub_target(scaling, v1, registered=False)
    stub_update_back(sm, v1)
    stub_endpoint(sm, cfg, v1.config_name)
    stub_target(scaling, v1, registered=False)
    scaling.add_client_error("register_scalable_target", "ValidationException", "Role not found", 400)
    code, _, err = run(["rollback", "--env", "prod"], session, capsys)
    assert code == 1
    assert_done(stubs)
    assert recorder.mutating == ["UpdateEndpoint", "RegisterScalableTarget"]
    assert err.strip().splitlines()[-1] == (
        f"error: rollback failed: {v1.settings.endpoint_name} is back on {v1.config_name}, but its "
        "autoscaling was not applied (RegisterScalableTarget: Role not found); "
        "run the rollback again to apply it"
    )


def test_a_deploy_that_fails_before_its_update_does_not_roll_back(recorder, cfg, names):
    """Only a failure after the running config was recorded rolls back: an earlier one (here
    CreateModel refused) would otherwise put the endpoint on the config before the running one."""
    plan = plan_for(cfg, "prod", package_arn(cfg, "prod", 3))
    session, stubs = stubbed("sagemaker", "cloudwatch", recorder=recorder)
    sm = stubs["sagemaker"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["new"]))
    not_found(sm, "describe_model", "model")
    sm.add_client_error("create_model", "AccessDeniedException", "not allowed", 400)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        rollback_module.deploy_or_roll_back(Clients(session, REGION), plan)
    assert_done(stubs)
    assert recorder.operations == ["DescribeEndpoint", "DescribeModel", "CreateModel"]


def test_the_recorder_flags_parameters_the_service_model_refuses():
    """`Recorder.assert_valid` checks each call against botocore's service model on its own,
    so it also catches a request from a client built without parameter validation."""
    recorder = Recorder()
    session, stubs = stubbed_in(
        REGION, "sagemaker", recorder=recorder, config=BotoConfig(parameter_validation=False)
    )
    stubs["sagemaker"].add_response("list_tags", {"Tags": []})
    session.client("sagemaker").list_tags(ResourceArn=5, MaxResults=0)
    with pytest.raises(AssertionError) as invalid:
        recorder.assert_valid()
    assert str(invalid.value).splitlines() == [
        "sagemaker ListTags: Invalid type for parameter ResourceArn, value: 5, type: <class 'int'>, "
        "valid types: <class 'str'>",
        "Invalid value for parameter MaxResults, value: 0, valid min value: 50",
    ]
