"""Endpoint updates and their failures, against botocore's Stubber (moto 5.2.5 has no
UpdateEndpoint): blue/green with the previous config recorded, a Failed endpoint, a silent
revert, a timeout, a re-run after a crash before UpdateEndpoint, an endpoint that cannot be
updated, and the wait itself. Each asserts the exact operation sequence and the exit status.
"""

from __future__ import annotations

import pytest

from deploy_helpers import REGION, assert_done, endpoint_response, module, stubbed
from deploy_scenarios import (
    SOME_ARN,
    UPDATE_PREFIX,
    config_for,
    plans,
    stub_after_success,
    stub_prepare,
)

deploy_module = module("deploy.deploy")
cli = module("deploy.cli")
Clients = module("deploy.aws").Clients


def test_update_shifts_traffic_blue_green_and_records_the_previous_config(prod_update, run_cli):
    cfg, old, new, recorder, session, stubs = prod_update
    stub_prepare(stubs, cfg, old, new)
    stubs["sagemaker"].add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", new.config_name, "Updating")
    )
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    stub_after_success(stubs, new)
    stubs["sagemaker"].add_response(
        "list_endpoint_configs",
        {
            "EndpointConfigs": [
                {"EndpointConfigName": p.config_name, "EndpointConfigArn": SOME_ARN, "CreationTime": 0}
                for p in (new, old)
            ]
        },
    )
    code, out, err = run_cli(
        cli.main, ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session
    )
    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        *UPDATE_PREFIX,
        "DescribeEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "ListEndpointConfigs",
    ]
    assert recorder.mutating == ["CreateModel", "CreateEndpointConfig", "AddTags", "UpdateEndpoint"]
    assert f"previous_config={old.config_name}" in out.splitlines()


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (
            [("Failed", "new", "ClientError: container failed health checks")],
            "ended Failed, not InService: ClientError: container failed health checks",
        ),
        (
            [
                ("Updating", "new", None),
                ("RollingBack", "new", None),
                ("InService", "old", "Alarm 5xx-errors fired"),
            ],
            "reverted to {old} instead of running {new}: Alarm 5xx-errors fired",
        ),
        (
            [("InService", "old", None)],
            "reverted to {old} instead of running {new}: SageMaker rolled the update back",
        ),
        ([("InService", "new", "Insufficient capacity for canary")], "runs {new} but reports a failure"),
    ],
)
def test_an_update_that_does_not_end_on_the_new_config_fails(prod_update, run_cli, outcome, message):
    cfg, old, new, recorder, session, stubs = prod_update
    stub_prepare(stubs, cfg, old, new)
    names = {"old": old.config_name, "new": new.config_name}
    for status, which, reason in outcome:
        stubs["sagemaker"].add_response(
            "describe_endpoint", endpoint_response(cfg, "prod", names[which], status, reason)
        )
    code, _, err = run_cli(
        cli.main, ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session
    )
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [*UPDATE_PREFIX, *["DescribeEndpoint"] * len(outcome)]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: endpoint ")
    assert message.format(**names) in last


def test_an_update_that_outlasts_the_timeout_fails(prod_update, run_cli):
    cfg, old, new, recorder, session, stubs = prod_update
    stub_prepare(stubs, cfg, old, new)
    stubs["sagemaker"].add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", new.config_name, "Updating")
    )
    args = ["deploy", "--env", "prod", "--arn", new.package.arn, "--timeout", "0", "--poll-interval", "0"]
    code, _, err = run_cli(cli.main, args, session)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == [*UPDATE_PREFIX, "DescribeEndpoint"]
    assert err.strip().splitlines()[-1].startswith("error: timed out after 0 s waiting for endpoint")


def test_rerun_after_a_crash_before_update_endpoint_completes(prod_update, run_cli):
    cfg, old, new, recorder, session, stubs = prod_update
    # The crashed run created the model and the config and recorded the previous config.
    stub_prepare(stubs, cfg, old, new, exists=True, previous_tag=old.config_name)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    stub_after_success(stubs, new)
    stubs["sagemaker"].add_response("list_endpoint_configs", {"EndpointConfigs": []})
    code, _, err = run_cli(
        cli.main, ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session
    )
    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "GetObject",
        "DescribeEndpoint",
        "DescribeModel",
        "DescribeEndpointConfig",
        "DescribeAlarms",
        "ListTags",
        "DescribeEndpointConfig",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "ListEndpointConfigs",
    ]
    assert recorder.mutating == ["UpdateEndpoint"]


def test_an_endpoint_that_cannot_be_updated_is_reported_not_touched(prod_update, run_cli):
    cfg, old, new, recorder, session, stubs = prod_update
    stubs["sagemaker"].add_response(
        "describe_endpoint", endpoint_response(cfg, "prod", old.config_name, "Failed", "image not found")
    )
    code, _, err = run_cli(cli.main, ["deploy", "--env", "prod", "--arn", new.package.arn], session)
    assert code == 1
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "GetObject",
        "DescribeEndpoint",
    ]
    assert err.strip().splitlines()[-1] == (
        f"error: endpoint {new.settings.endpoint_name} is Failed (image not found); "
        "it cannot be updated: delete it and deploy again"
    )


def test_the_wait_polls_until_the_timeout_and_no_longer(fake_aws, recorder):
    cfg = config_for("four")
    old, new = plans(cfg)
    session, stubs = stubbed("sagemaker", "cloudwatch", "application-autoscaling", recorder=recorder)
    stub_prepare(stubs, cfg, old, new)
    for _ in range(3):
        stubs["sagemaker"].add_response(
            "describe_endpoint", endpoint_response(cfg, "prod", new.config_name, "Updating")
        )
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    waiter = deploy_module.Waiter(timeout=60, poll_seconds=30, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(
        deploy_module.DeployFailed, match=r"^timed out after 60 s waiting for endpoint .*still Updating"
    ):
        deploy_module.deploy(Clients(session, REGION), new, waiter)
    assert_done(stubs)
    assert recorder.operations == [
        *UPDATE_PREFIX[3:],
        "DescribeEndpoint",
        "DescribeEndpoint",
        "DescribeEndpoint",
    ]
