"""Deploys on moto, one simulated account per role: first deploy and repeat, QA from a pending
version, the cross-account layout, a re-run after a crash before CreateEndpoint, and the
mutating-call figures the deploy notes quote.

moto keeps accounts apart and has no resource policies, so four-account deploys read the
package with the shared-services session (`registry_session`), standing in for the group
policy that lets the workload account describe it on AWS.
"""

from __future__ import annotations

import pytest

from deploy_helpers import (
    INFERENCE_SPEC,
    endpoint_response,
    make_config,
    module,
    package_arn,
    plan_for,
    register_version,
)
from deploy_scenarios import (
    FIRST_DEPLOY_PROD,
    REPEAT_DEPLOY_PROD,
    config_for,
    plans,
    stub_after_success,
    stub_prepare,
    update_stubs,
)
from release_world import released_prod_version

endpoint = module("deploy.endpoint")
cli = module("deploy.cli")


@pytest.mark.parametrize("layout", ["four", "single"])
def test_first_deploy_then_repeat_of_the_same_arn(configure, accounts, recorder, run_cli, layout):
    cfg = config_for(layout)
    configure(cfg)
    aws = accounts(cfg)
    arn = released_prod_version(aws, cfg)
    prod = recorder.attach(aws.session("prod"))
    registry = recorder.attach(aws.session("shared_services"))
    args = ["deploy", "--env", "prod", "--arn", arn, "--poll-interval", "0"]
    code, out, err = run_cli(cli.main, args, prod, registry)
    assert code == 0, err
    assert recorder.operations == FIRST_DEPLOY_PROD
    assert len(recorder.mutating) == 7
    assert "action=created" in out.splitlines()
    plan = plan_for(cfg, "prod", arn)
    sm = prod.client("sagemaker")
    live = sm.describe_endpoint(EndpointName=plan.settings.endpoint_name)
    assert live["EndpointConfigName"] == plan.config_name
    assert sm.describe_model(ModelName=plan.model_name)["Containers"] == [{"ModelPackageName": arn}]
    alarms = prod.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(endpoint.alarm_names(plan.settings))
    targets = prod.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]] == [(2, 4)]

    recorder.clear()
    code, out, err = run_cli(cli.main, args, prod, registry)
    assert code == 0, err
    assert recorder.operations == REPEAT_DEPLOY_PROD
    assert recorder.mutating == []
    assert "action=unchanged" in out.splitlines()
    assert "nothing to deploy" in err


@pytest.mark.parametrize("layout", ["four", "single"])
def test_qa_deploys_a_pending_version_from_its_containers(configure, accounts, recorder, run_cli, layout):
    """The dev push deploys the version it just registered (PendingManualApproval) to QA.
    SageMaker refuses a model created from the ARN of a version that is not Approved, so the
    QA model is built from the package's containers and tagged with the ARN and version; a
    serverless first deploy makes three changes and a repeat none."""
    cfg = config_for(layout)
    configure(cfg)
    aws = accounts(cfg)
    shared = aws.session("shared_services")
    arn = register_version(shared, cfg)
    assert shared.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
        "PendingManualApproval"
    )
    qa = recorder.attach(aws.session("qa"))
    registry = recorder.attach(aws.session("shared_services"))
    args = ["deploy", "--env", "qa", "--arn", arn, "--poll-interval", "0"]
    code, _, err = run_cli(cli.main, args, qa, registry)
    assert code == 0, err
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "DescribeEndpoint",
        "DescribeModel",
        "CreateModel",
        "DescribeEndpointConfig",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "DescribeEndpoint",
        "ListEndpointConfigs",
    ]
    assert recorder.mutating == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    plan = plan_for(cfg, "qa", arn)
    sm = qa.client("sagemaker")
    model = sm.describe_model(ModelName=plan.model_name)
    assert model["Containers"] == INFERENCE_SPEC["Containers"]
    assert all("ModelPackageName" not in c for c in model["Containers"])
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
    assert (tags["model-package-arn"], tags["model-package-version"]) == (arn, "1")

    recorder.clear()
    code, out, err = run_cli(cli.main, args, qa, registry)
    assert code == 0, err
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage", "DescribeEndpoint"]
    assert "action=unchanged" in out.splitlines()


def test_qa_first_deploy_and_repeat_with_the_baked_qa_settings(configure, accounts, recorder, run_cli):
    """The QA endpoint as this repository was baked (serverless or real-time), four accounts."""
    cfg = make_config("four")
    configure(cfg)
    settings = cfg.environment("qa").endpoint
    aws = accounts(cfg)
    arn = register_version(aws.session("shared_services"), cfg)
    qa = recorder.attach(aws.session("qa"))
    registry = recorder.attach(aws.session("shared_services"))
    args = ["deploy", "--env", "qa", "--arn", arn, "--poll-interval", "0"]
    code, _, err = run_cli(cli.main, args, qa, registry)
    assert code == 0, err
    expected = ["CreateModel", "CreateEndpointConfig"]
    if settings.real_time:
        expected += ["PutMetricAlarm", "PutMetricAlarm"]
    expected.append("CreateEndpoint")
    if settings.autoscaling.get("enabled"):
        expected += ["RegisterScalableTarget", "PutScalingPolicy"]
    assert recorder.mutating == expected
    first = len(recorder.mutating)
    recorder.clear()
    code, _, err = run_cli(cli.main, args, qa, registry)
    assert code == 0, err
    assert recorder.mutating == []
    print(f"mutating calls (qa, {settings.kind}): first deploy {first}, repeat 0")
    model = qa.client("sagemaker").describe_model(ModelName=plan_for(cfg, "qa", arn).model_name)
    assert model["Containers"] == INFERENCE_SPEC["Containers"]


def test_cross_account_deploy_lands_in_the_workload_account_only(configure, accounts, run_cli):
    cfg = config_for("four")
    configure(cfg)
    aws = accounts(cfg)
    shared = aws.session("shared_services")
    arn = register_version(shared, cfg)
    qa = aws.session("qa")
    code, _, err = run_cli(
        cli.main, ["deploy", "--env", "qa", "--arn", arn, "--poll-interval", "0"], qa, shared
    )
    assert code == 0, err
    name = cfg.environment("qa").endpoint_name
    live = qa.client("sagemaker").describe_endpoint(EndpointName=name)
    assert live["EndpointArn"].split(":")[4] == "333333333333"
    assert shared.client("sagemaker").list_endpoints()["Endpoints"] == []
    # Credentials of another account are refused before anything changes.
    code, _, err = run_cli(cli.main, ["deploy", "--env", "prod", "--arn", package_arn(cfg, "prod", 1)], qa)
    assert code == 1
    assert err.strip() == (
        "error: deploy --env prod must run with credentials for the prod account 444444444444, "
        "but the current credentials are for account 333333333333"
    )


def test_rerun_after_a_crash_before_create_endpoint_completes(configure, accounts, recorder, run_cli, capsys):
    cfg = config_for("four")
    configure(cfg)
    aws = accounts(cfg)
    arn = released_prod_version(aws, cfg)
    prod = recorder.attach(aws.session("prod"))
    registry = recorder.attach(aws.session("shared_services"))
    args = ["deploy", "--env", "prod", "--arn", arn, "--poll-interval", "0"]

    def crash(**kwargs):
        raise KeyboardInterrupt("runner lost")

    prod.events.register("before-call.sagemaker.CreateEndpoint", crash, unique_id="crash")
    with pytest.raises(KeyboardInterrupt):
        cli.main(args, session=prod, registry_session=registry)
    prod.events.unregister("before-call.sagemaker.CreateEndpoint", unique_id="crash")
    capsys.readouterr()
    recorder.clear()
    code, _, err = run_cli(cli.main, args, prod, registry)
    assert code == 0, err
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "GetObject",
        "DescribeEndpoint",
        "DescribeModel",
        "DescribeEndpointConfig",
        "DescribeAlarms",
        "CreateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "RegisterScalableTarget",
        "DescribeScalingPolicies",
        "PutScalingPolicy",
        "ListEndpointConfigs",
    ]


def test_mutating_call_counts_first_deploy_update_and_repeat(configure, accounts, recorder, run_cli):
    """The figures the deploy notes quote, counted by the recorder, not by hand."""
    cfg = config_for("four")
    configure(cfg)
    counts = {}
    aws = accounts(cfg)
    arn = released_prod_version(aws, cfg)
    prod = recorder.attach(aws.session("prod"))
    registry = recorder.attach(aws.session("shared_services"))
    args = ["deploy", "--env", "prod", "--arn", arn, "--poll-interval", "0"]
    assert run_cli(cli.main, args, prod, registry)[0] == 0
    counts["first deploy"] = len(recorder.mutating)
    recorder.clear()
    assert run_cli(cli.main, args, prod, registry)[0] == 0
    counts["repeat of the same ARN"] = len(recorder.mutating)
    old, new = plans(cfg)
    recorder.clear()
    session, stubs = update_stubs(cfg, recorder)
    stub_prepare(stubs, cfg, old, new)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    stub_after_success(stubs, new)
    stubs["sagemaker"].add_response("list_endpoint_configs", {"EndpointConfigs": []})
    assert (
        run_cli(
            cli.main, ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session
        )[0]
        == 0
    )
    counts["update"] = len(recorder.mutating)
    print(f"mutating calls (prod, real-time): {counts}")
    assert counts == {"first deploy": 7, "repeat of the same ARN": 0, "update": 4}
