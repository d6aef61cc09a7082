"""Autoscaling around an update and a rollback, against botocore's Stubber: SageMaker refuses
an update that changes the instance type of an autoscaled variant, so a deploy, and a rollback
back to a config on another instance type, deregister the scalable target first and register
it (and its policy) again after the endpoint is verified on the new (or previous) config.
Each test asserts the exact call sequence; the stubs check each call's parameters and the
recorder checks them against botocore's service model. The deploys run through
`deploy.deploy` (the CLI's account and registry checks are covered in test_deploy_update.py
and test_deploy_gate.py); the rollbacks through the rollback command.
"""

from __future__ import annotations

import pytest

from deploy_helpers import REGION, assert_done, module, package_arn, plan_for, stubbed, stubbed_as
from rollback_scenarios import (
    INSTANCE_A,
    INSTANCE_B,
    no_wait,
    on_instance,
    stub_config,
    stub_create,
    stub_deregister,
    stub_endpoint,
    stub_instance_type_change,
    stub_previous_tag,
    stub_register,
    stub_scaling_in_place,
    stub_target,
    stub_update_back,
)

cli = module("deploy.cli")
deploy_module = module("deploy.deploy")
rollback_module = module("deploy.rollback")
Clients = module("deploy.aws").Clients


# The calls a scalable target takes: deregistered before an update, registered again after it.
DEREGISTER = ["DescribeScalableTargets", "DeregisterScalableTarget"]
REGISTER = [
    "DescribeScalableTargets",
    "RegisterScalableTarget",
    "DescribeScalingPolicies",
    "PutScalingPolicy",
]


def autoscaled_versions():
    """v1 on instance type A, v2 on B, same autoscaling settings; the config now says B."""
    cfg_a, cfg_b = on_instance(INSTANCE_A), on_instance(INSTANCE_B)
    v1 = plan_for(cfg_a, "prod", package_arn(cfg_a, "prod", 1))
    v2 = plan_for(cfg_b, "prod", package_arn(cfg_b, "prod", 2))
    assert v1.autoscaling == v2.autoscaling
    return cfg_b, v1, v2


def prod_stubs(cfg, recorder):
    return stubbed_as(cfg, "prod", "sagemaker", "cloudwatch", "application-autoscaling", recorder=recorder)


def rollback(run_cli, session):
    return run_cli(cli.main, ["rollback", "--env", "prod", "--poll-interval", "0"], session)


def test_rollback_after_an_instance_type_change_moves_autoscaling_back(
    fake_aws, configure, recorder, run_cli
):
    cfg, v1, v2 = autoscaled_versions()
    configure(cfg)
    session, stubs = prod_stubs(cfg, recorder)
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    clients = Clients(session, REGION)

    # 1. v1 on instance type A, autoscaled.
    stub_create(stubs, cfg, v1)
    assert deploy_module.deploy(clients, v1, no_wait()).action == "created"
    assert recorder.operations == [
        "DescribeEndpoint",
        "DescribeModel",
        "CreateModel",
        "DescribeEndpointConfig",
        "CreateEndpointConfig",
        "DescribeAlarms",
        "PutMetricAlarm",
        "PutMetricAlarm",
        "CreateEndpoint",
        "DescribeEndpoint",
        *REGISTER,
        "ListEndpointConfigs",
    ]
    recorder.clear()

    # 2. v2 on instance type B: the target is deregistered around the update.
    stub_instance_type_change(stubs, cfg, v1, v2)
    assert deploy_module.deploy(clients, v2, no_wait()).previous_config == v1.config_name
    assert recorder.mutating == [
        "CreateModel",
        "CreateEndpointConfig",
        "AddTags",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        "RegisterScalableTarget",
        "PutScalingPolicy",
    ]
    assert recorder.operations == [
        "DescribeEndpoint",
        "DescribeModel",
        "CreateModel",
        "DescribeEndpointConfig",
        "CreateEndpointConfig",
        "DescribeAlarms",
        "ListTags",
        "AddTags",
        "DescribeEndpointConfig",
        *DEREGISTER,
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeEndpoint",
        *REGISTER,
        "ListEndpointConfigs",
    ]
    recorder.clear()

    # 3. Rollback to v1's config: back on A, so the target goes before the update and comes back after.
    stub_endpoint(sm, cfg, v2.config_name)
    stub_previous_tag(sm, cfg, v1.config_name)
    stub_config(sm, v1)
    stub_config(sm, v2)
    stub_target(scaling, v1, registered=True)
    stub_deregister(scaling, v1)
    stub_update_back(sm, v1)
    stub_endpoint(sm, cfg, v1.config_name, "Updating")
    stub_endpoint(sm, cfg, v1.config_name)
    stub_register(scaling, v1)
    code, out, err = rollback(run_cli, session)
    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeEndpoint",
        "ListTags",
        "DescribeEndpointConfig",
        "DescribeEndpointConfig",
        "DescribeScalableTargets",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "RegisterScalableTarget",
        "DescribeScalingPolicies",
        "PutScalingPolicy",
    ]
    recorder.assert_valid()
    assert f"endpoint_config={v1.config_name}" in out.splitlines()
    assert "changed=true" in out.splitlines()


def test_rollback_on_the_same_instance_type_keeps_the_scalable_target(fake_aws, configure, recorder, run_cli):
    cfg = on_instance(INSTANCE_A)
    configure(cfg)
    v1, v2 = (plan_for(cfg, "prod", package_arn(cfg, "prod", v)) for v in (1, 2))
    session, stubs = prod_stubs(cfg, recorder)
    sm = stubs["sagemaker"]
    stub_endpoint(sm, cfg, v2.config_name)
    stub_previous_tag(sm, cfg, v1.config_name)
    stub_config(sm, v1)
    stub_config(sm, v2)
    stub_update_back(sm, v1)
    stub_endpoint(sm, cfg, v1.config_name)
    stub_scaling_in_place(stubs["application-autoscaling"], v1)
    code, _, err = rollback(run_cli, session)
    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeEndpoint",
        "ListTags",
        "DescribeEndpointConfig",
        "DescribeEndpointConfig",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
    ]
    assert recorder.mutating == ["UpdateEndpoint"]
    recorder.assert_valid()


@pytest.mark.parametrize("scaling", ["in place", "deregistered"])
def test_a_repeat_rollback_only_repairs_autoscaling(fake_aws, configure, recorder, run_cli, scaling):
    """Already on the previous config: nothing changes, unless a deploy that deregistered the
    target was reverted by SageMaker before it could register it again."""
    cfg, v1, _ = autoscaled_versions()
    configure(cfg)
    session, stubs = prod_stubs(cfg, recorder)
    sm = stubs["sagemaker"]
    stub_endpoint(sm, cfg, v1.config_name)
    stub_previous_tag(sm, cfg, v1.config_name)
    stub_config(sm, v1)
    if scaling == "in place":
        stub_scaling_in_place(stubs["application-autoscaling"], v1)
    else:
        stub_register(stubs["application-autoscaling"], v1)
    code, out, err = rollback(run_cli, session)
    assert code == 0, err
    assert_done(stubs)
    reads = ["GetCallerIdentity", "DescribeEndpoint", "ListTags", "DescribeEndpointConfig"]
    if scaling == "in place":
        assert recorder.operations == [*reads, "DescribeScalableTargets", "DescribeScalingPolicies"]
        assert recorder.mutating == []
        assert "changed=false" in out.splitlines()
    else:
        assert recorder.operations == [*reads, *REGISTER]
        assert recorder.mutating == ["RegisterScalableTarget", "PutScalingPolicy"]
    recorder.assert_valid()


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (("InService", "old", "Alarm 5xx-errors fired"), "reverted to {old} instead of running {new}"),
        (("InService", "new", "Insufficient capacity"), "runs {new} but reports a failure"),
        ("refused", "UpdateEndpoint failed: ValidationException: Instance type not available"),
    ],
)
def test_a_failed_update_to_another_instance_type_rolls_back_with_its_autoscaling(
    fake_aws, recorder, outcome, message
):
    """A failed update (reverted by SageMaker, failing on the new config, or refused after the
    target was deregistered) goes through `rollback` as well: the endpoint ends on v1 with its
    scalable target and policy registered again."""
    cfg, v1, v2 = autoscaled_versions()
    session, stubs = stubbed("sagemaker", "cloudwatch", "application-autoscaling", recorder=recorder)
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    stub_instance_type_change(stubs, cfg, v1, v2, outcome)
    waits = [] if outcome == "refused" else ["DescribeEndpoint", "DescribeEndpoint"]
    on_v2 = outcome != "refused" and outcome[1] == "new"
    stub_endpoint(sm, cfg, v2.config_name if on_v2 else v1.config_name, *(outcome[::2] if waits else ()))
    stub_previous_tag(sm, cfg, v1.config_name)
    stub_config(sm, v1)
    after = ["DescribeEndpoint", "ListTags", "DescribeEndpointConfig"]
    if on_v2:  # the deploy has deregistered the target already: nothing to deregister
        stub_config(sm, v2)
        stub_target(scaling, v1, registered=False)
        stub_update_back(sm, v1)
        stub_endpoint(sm, cfg, v1.config_name)
        after += ["DescribeEndpointConfig", "DescribeScalableTargets", "UpdateEndpoint", "DescribeEndpoint"]
    stub_register(scaling, v1)
    with pytest.raises(deploy_module.DeployFailed) as failed:
        rollback_module.deploy_or_roll_back(Clients(session, REGION), v2, no_wait())
    assert_done(stubs)
    assert message.format(old=v1.config_name, new=v2.config_name) in str(failed.value)
    assert str(failed.value).endswith(f"; {v2.settings.endpoint_name} is back on {v1.config_name}")
    update = recorder.operations.index("UpdateEndpoint")
    assert recorder.operations[update:] == ["UpdateEndpoint", *waits, *after, *REGISTER]
    assert recorder.mutating == [
        "CreateModel",
        "CreateEndpointConfig",
        "AddTags",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        *(["UpdateEndpoint"] if on_v2 else []),
        "RegisterScalableTarget",
        "PutScalingPolicy",
    ]
    recorder.assert_valid()
