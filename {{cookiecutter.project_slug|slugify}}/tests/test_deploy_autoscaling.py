"""Autoscaling around an update, against botocore's Stubber: SageMaker refuses an update that
changes the instance type of an autoscaled variant, so the deploy deregisters the scalable
target first and registers it (and its policy) again after the verified update.
"""

from __future__ import annotations

from deploy_helpers import (
    REGION,
    assert_done,
    endpoint_response,
    make_config,
    module,
    not_found,
    package_arn,
    plan_for,
)
from deploy_scenarios import (
    NEW_VERSION,
    OLD_CONFIG_VERSION,
    PROD_REAL_TIME,
    QA_SERVERLESS,
    SOME_ARN,
    config_for,
    config_response,
    update_stubs,
)

cli = module("deploy.cli")


def test_an_instance_type_change_deregisters_autoscaling_around_the_update(
    fake_aws, configure, recorder, run_cli
):
    cfg = make_config("four", prod={**PROD_REAL_TIME, "instance_type": "ml.c5.xlarge"}, qa=QA_SERVERLESS)
    configure(cfg)
    old = plan_for(config_for("four"), "prod", package_arn(cfg, "prod", OLD_CONFIG_VERSION))
    new = plan_for(cfg, "prod", package_arn(cfg, "prod", NEW_VERSION))
    session, stubs = update_stubs(cfg, recorder)
    sm, scaling = stubs["sagemaker"], stubs["application-autoscaling"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", old.config_name))
    not_found(sm, "describe_model", "model")
    sm.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/{new.model_name}"})
    not_found(sm, "describe_endpoint_config", "endpoint configuration")
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN})
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": new.alarms})
    sm.add_response("list_tags", {"Tags": [{"Key": "previous-endpoint-config", "Value": old.config_name}]})
    sm.add_response("describe_endpoint_config", config_response(old))
    target, policy = new.autoscaling
    scaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}]},
    )
    scaling.add_response(
        "deregister_scalable_target",
        {},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": target["ResourceId"],
            "ScalableDimension": target["ScalableDimension"],
        },
    )
    sm.add_response("update_endpoint", {"EndpointArn": SOME_ARN})
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", new.config_name))
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": []})
    scaling.add_response("register_scalable_target", {}, target)
    scaling.add_response("describe_scaling_policies", {"ScalingPolicies": []})
    scaling.add_response("put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:policy"}, policy)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})
    code, _, err = run_cli(
        cli.main, ["deploy", "--env", "prod", "--arn", new.package.arn, "--poll-interval", "0"], session
    )
    assert code == 0, err
    assert_done(stubs)
    assert recorder.mutating == [
        "CreateModel",
        "CreateEndpointConfig",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        "RegisterScalableTarget",
        "PutScalingPolicy",
    ]
