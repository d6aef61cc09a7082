"""Deploying a set of versions (one per segment) to a multi-model endpoint, against botocore's
Stubber: the exact operations of a first deploy, a repeat (no mutating call), a new segment
(route tags only), a changed image (blue/green), the refused sets (before any mutating call),
the rollback that restores the previous routes, and the routes command."""

from __future__ import annotations

import json

import pytest

from deploy_helpers import assert_done, endpoint_response, module, not_found
from multi_model_helpers import (
    MUTATING_FIRST_DEPLOY,
    OTHER_IMAGE,
    SEGMENTS,
    deploy_args,
    endpoint_arn,
    plan_of,
    prefix_of,
    route_tags,
    segmented_config,
    segmented_raw,
    session_for,
    set_description,
    stub_alarms_present,
    stub_no_autoscaling,
    stub_resolve,
    stub_tags,
    target_of,
    two_versions,
)

cli = module("deploy.cli")
pytestmark = pytest.mark.usefixtures("fake_aws")


def test_first_deploy_creates_one_multi_model_endpoint_with_a_route_per_segment(configure, recorder, run_cli):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    plan = plan_of(cfg, "qa", descriptions)
    session, stubs = session_for(cfg, "qa", recorder)
    sm = stubs["sagemaker"]
    stub_resolve(stubs, descriptions)
    not_found(sm, "describe_endpoint")
    not_found(sm, "describe_model")
    sm.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:x:1:model/m"}, plan.model_request)
    not_found(sm, "describe_endpoint_config")
    sm.add_response(
        "create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:x:1:ec/c"}, plan.config_request
    )
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": []})
    for alarm in plan.alarms:
        stubs["cloudwatch"].add_response("put_metric_alarm", {}, alarm)
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": endpoint_arn(cfg, "qa")},
        {
            "EndpointName": cfg.environment("qa").endpoint_name,
            "EndpointConfigName": plan.config_name,
            "Tags": [*plan.tags, *route_tags(descriptions)],
        },
    )
    sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", plan.config_name))
    stub_no_autoscaling(stubs)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})

    code, out, err = run_cli(cli.main, deploy_args("qa", descriptions), session)

    assert code == 0, err
    assert_done(stubs)
    recorder.assert_valid()
    assert recorder.mutating == MUTATING_FIRST_DEPLOY
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "DescribeModelPackage",
        "GetObject",
        "GetObject",
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
        "DescribeScalableTargets",
        "ListEndpointConfigs",
    ]
    # One container in MultiModel mode on the QA source prefix, the versions' image and environment.
    (container,) = plan.model_request["Containers"]
    assert container == {
        "Image": descriptions[0]["InferenceSpecification"]["Containers"][0]["Image"],
        "Mode": "MultiModel",
        "ModelDataUrl": prefix_of(cfg, "qa"),
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
    }
    assert prefix_of(cfg, "qa").endswith(cfg.names.artifact_prefixes["dev"])
    lines = out.splitlines()
    assert "action=created" in lines and f"segments={','.join(SEGMENTS)}" in lines


def test_a_repeat_makes_no_mutating_call(configure, recorder, run_cli):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    plan = plan_of(cfg, "qa", descriptions)
    session, stubs = session_for(cfg, "qa", recorder)
    stub_resolve(stubs, descriptions)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "qa", plan.config_name))
    emptied = {"Key": "route:west", "Value": ""}  # a segment an earlier deploy stopped routing
    stub_tags(stubs, cfg, "qa", [{"Key": "project", "Value": "p"}, emptied, *route_tags(descriptions)])
    stub_alarms_present(stubs, plan)
    stub_no_autoscaling(stubs)

    code, out, err = run_cli(cli.main, deploy_args("qa", descriptions), session)

    assert code == 0, err
    assert_done(stubs)
    assert recorder.mutating == []
    assert recorder.operations[-4:] == [
        "DescribeEndpoint",
        "ListTags",
        "DescribeAlarms",
        "DescribeScalableTargets",
    ]
    assert "action=unchanged" in out.splitlines() and "changed=false" in out.splitlines()


def test_a_new_segment_only_rewrites_the_route_tags(configure, recorder, run_cli):
    """Same image and settings: the model and config keep their names, no UpdateEndpoint."""
    before = segmented_config()
    cfg = segmented_config([*SEGMENTS, "east"])
    configure(segmented_raw([*SEGMENTS, "east"]))
    old = two_versions(before, first=7)
    new = two_versions(cfg, first=10, set_id="exec-0002")
    plan = plan_of(cfg, "qa", new)
    assert plan.config_name == plan_of(before, "qa", old).config_name
    session, stubs = session_for(cfg, "qa", recorder)
    stub_resolve(stubs, new)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "qa", plan.config_name))
    previous_config_tag = {"Key": "previous-endpoint-config", "Value": "older-config"}
    stub_tags(stubs, cfg, "qa", [previous_config_tag, *route_tags(old)])
    stub_alarms_present(stubs, plan)
    stub_no_autoscaling(stubs)
    stubs["sagemaker"].add_response(
        "add_tags",
        {},
        {
            "ResourceArn": endpoint_arn(cfg, "qa"),
            "Tags": [
                {"Key": "previous-endpoint-config", "Value": plan.config_name},
                *route_tags(old, "previous-route:"),
                *route_tags(new, set_id="exec-0002"),
            ],
        },
    )

    code, out, err = run_cli(cli.main, deploy_args("qa", new), session)

    assert code == 0, err
    assert_done(stubs)
    assert recorder.mutating == ["AddTags"]
    assert "action=routed" in out.splitlines()
    assert f"previous_config={plan.config_name}" in out.splitlines()


def test_a_changed_image_goes_through_the_blue_green_update(configure, recorder, run_cli):
    cfg = segmented_config()
    configure(segmented_raw())
    old = two_versions(cfg, first=7)
    new = two_versions(cfg, first=9, image=OTHER_IMAGE, set_id="exec-0002")
    old_plan, plan = plan_of(cfg, "qa", old), plan_of(cfg, "qa", new)
    assert plan.model_name != old_plan.model_name and plan.config_name != old_plan.config_name
    session, stubs = session_for(cfg, "qa", recorder)
    sm = stubs["sagemaker"]
    stub_resolve(stubs, new)
    sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", old_plan.config_name))
    stub_tags(stubs, cfg, "qa", route_tags(old))  # read before any change
    not_found(sm, "describe_model")
    sm.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:x:1:model/m"}, plan.model_request)
    not_found(sm, "describe_endpoint_config")
    sm.add_response(
        "create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:x:1:ec/c"}, plan.config_request
    )
    stub_alarms_present(stubs, plan)
    recorded = [
        {"Key": "previous-endpoint-config", "Value": old_plan.config_name},
        *route_tags(old, "previous-route:"),
    ]
    sm.add_response("add_tags", {}, {"ResourceArn": endpoint_arn(cfg, "qa"), "Tags": recorded})
    config = {
        "EndpointConfigName": old_plan.config_name,
        "ProductionVariants": old_plan.config_request["ProductionVariants"],
    }
    sm.add_response(
        "describe_endpoint_config",
        {**config, "EndpointConfigArn": "arn:aws:sagemaker:x:1:ec/old", "CreationTime": 0},
    )
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": endpoint_arn(cfg, "qa")},
        {
            "EndpointName": cfg.environment("qa").endpoint_name,
            "EndpointConfigName": plan.config_name,
            "DeploymentConfig": plan.deployment_config,  # blue/green, the alarms as rollback triggers
        },
    )
    sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", plan.config_name))
    sm.add_response(
        "add_tags", {}, {"ResourceArn": endpoint_arn(cfg, "qa"), "Tags": route_tags(new, set_id="exec-0002")}
    )
    stub_no_autoscaling(stubs)
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []})

    code, out, err = run_cli(cli.main, deploy_args("qa", new), session)

    assert code == 0, err
    assert_done(stubs)
    recorder.assert_valid()
    assert recorder.mutating == [
        "CreateModel",
        "CreateEndpointConfig",
        "AddTags",
        "UpdateEndpoint",
        "AddTags",
    ]
    assert "action=updated" in out.splitlines()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("different images", "a multi-model endpoint serves one image with one environment"),
        ("artifact outside the prefix", "is not a model.tar.gz under s3://"),
        ("missing segment", "missing segments: south"),
        ("two runs", "different pipeline runs (segment_set)"),
        ("route too long", "segment south: TargetModel p/p/"),
    ],
)
def test_a_set_the_endpoint_cannot_serve_is_refused_before_any_change(
    configure, recorder, run_cli, case, message
):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    if case == "different images":
        descriptions[1] = set_description(cfg, "qa", 8, "south", image=OTHER_IMAGE)
    elif case == "artifact outside the prefix":
        outside = f"s3://{cfg.names.artifact_bucket}/elsewhere/{target_of('south')}"
        descriptions[1] = set_description(cfg, "qa", 8, "south", model_data=outside)
    elif case == "route too long":
        deep = prefix_of(cfg, "qa") + "p/" * 125 + "model.tar.gz"  # TargetModel of 262 characters
        descriptions[1] = set_description(cfg, "qa", 8, "south", model_data=deep)
    elif case == "missing segment":
        descriptions = descriptions[:1]
    else:
        descriptions[1] = set_description(cfg, "qa", 8, "south", set_id="exec-0009")
    session, stubs = session_for(cfg, "qa", recorder)
    stub_resolve(stubs, descriptions, heads=None)

    code, _, err = run_cli(cli.main, deploy_args("qa", descriptions), session)

    assert code == 1
    assert_done(stubs)
    assert recorder.mutating == []
    (line,) = err.strip().splitlines()[-1:]
    assert line.startswith("error: ") and message in line
    if case == "different images":
        assert "north (" in line and "south (" in line and OTHER_IMAGE in line
    if case == "route too long":
        assert (
            "is 262 characters; its route tag '<version> <object> <TargetModel>' would need up to 336" in line
        )


def test_a_multi_model_environment_without_segments_is_refused(configure, recorder, run_cli):
    raw = segmented_raw()
    raw["model"]["segments"] = {"column": "", "values": []}
    configure(raw)
    cfg = segmented_config()
    descriptions = two_versions(cfg)
    session, _ = session_for(cfg, "qa", recorder)
    code, _, err = run_cli(cli.main, deploy_args("qa", descriptions[:1]), session)
    assert code == 2  # the config is refused before any AWS call
    assert recorder.operations == []
    (line,) = err.strip().splitlines()
    assert 'environments.qa.endpoint.type is "multi-model", but model.segments.column is ""' in line


def test_a_list_of_versions_is_refused_for_an_unsegmented_model(configure, recorder, run_cli):
    cfg = segmented_config()
    arns = ",".join(d["ModelPackageArn"] for d in two_versions(cfg))
    raw = segmented_raw()
    raw["model"]["segments"] = {"column": "", "values": []}
    raw["environments"]["qa"]["endpoint"]["type"] = "real-time"
    raw["environments"]["prod"]["endpoint"]["type"] = "real-time"
    configure(raw)
    session, _ = session_for(cfg, "qa", recorder)
    code, _, err = run_cli(cli.main, ["deploy", "--env", "qa", "--arn", arns], session)
    assert code == 1
    assert recorder.operations == ["GetCallerIdentity"]
    (line,) = err.strip().splitlines()
    assert line == (
        "error: --arn names 2 versions; a list of versions is only accepted when model.segments is on "
        "(one version per segment value)"
    )


def test_rollback_restores_the_routes_of_the_previous_deploy(configure, recorder, run_cli):
    """After a deploy that only re-routed, the config stays and the routes go back."""
    cfg = segmented_config()
    configure(segmented_raw())
    old, new = two_versions(cfg, first=7), two_versions(cfg, first=9, set_id="exec-0002")
    running = plan_of(cfg, "qa", new).config_name
    session, stubs = session_for(cfg, "qa", recorder)
    sm = stubs["sagemaker"]
    tags = [
        {"Key": "previous-endpoint-config", "Value": running},
        *route_tags(old, "previous-route:"),
        *route_tags(new, set_id="exec-0002"),
        {"Key": "route:east", "Value": "12 pipelines/exec-0002/Train-east/output/model.tar.gz"},
    ]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", running))
    stub_tags(stubs, cfg, "qa", tags)
    sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", running))
    stub_tags(stubs, cfg, "qa", tags)
    # A segment the previous deploy did not route is emptied (the deploy role cannot delete tags).
    restored = [{"Key": "route:east", "Value": ""}, *route_tags(old)]
    sm.add_response("add_tags", {}, {"ResourceArn": endpoint_arn(cfg, "qa"), "Tags": restored})

    code, out, err = run_cli(cli.main, ["rollback", "--env", "qa", "--poll-interval", "0"], session)

    assert code == 0, err
    assert_done(stubs)
    assert recorder.mutating == ["AddTags"]
    assert "changed=true" in out.splitlines()


def test_routes_prints_each_segment_s_target_model_and_version(configure, recorder, run_cli):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg, env="prod", first=3)
    session, stubs = session_for(cfg, "prod", recorder)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", "c"))
    emptied = {"Key": "route:west", "Value": ""}
    stub_tags(stubs, cfg, "prod", [{"Key": "project", "Value": "p"}, emptied, *route_tags(descriptions)])

    code, out, err = run_cli(cli.main, ["routes", "--env", "prod"], session)

    assert code == 0, err
    assert recorder.mutating == []
    document = json.loads(out)
    assert document == {
        "endpoint_name": cfg.environment("prod").endpoint_name,
        "segment_column": "region",
        "routes": {
            d["CustomerMetadataProperties"]["segment"]: {
                "target_model": target_of(d["CustomerMetadataProperties"]["segment"]),
                "package_arn": d["ModelPackageArn"],
                "version": d["ModelPackageVersion"],
                "object": "v1",
            }
            for d in descriptions
        },
    }
