"""The deploy tests' fixed settings and Stubber scenarios (the `prod_update` fixture in
conftest.py builds on them): a prod endpoint running the old version's config, updated to the
new version's, with the exact responses each step of `deploy` receives."""

from __future__ import annotations

import hashlib
import io
from typing import Any, NamedTuple

from botocore.response import StreamingBody

from deploy_helpers import (
    REAL_TIME_PROD,
    REGION,
    Recorder,
    described_model,
    endpoint_response,
    make_config,
    module,
    not_found,
    package_arn,
    package_description,
    plan_for,
    stubbed_as,
)

PROD_REAL_TIME = REAL_TIME_PROD
QA_SERVERLESS = {
    "type": "serverless",
    "serverless": {"memory_mb": 2048, "max_concurrency": 5},
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": False},
}
SHARED = "222222222222"
OLD_CONFIG_VERSION = 4
SOME_ARN = f"arn:aws:sagemaker:{REGION}:444444444444:endpoint-config/placeholder"
NEW_VERSION = 5


def config_for(layout="four"):
    """Fixed endpoint settings so the call sequences do not depend on the baked answers."""
    return make_config(layout, prod=PROD_REAL_TIME, qa=QA_SERVERLESS)


def deploy_args(env: str, arn: str, *extra: str) -> list[str]:
    return ["deploy", "--env", env, "--arn", arn, "--poll-interval", "0", *extra]


FIRST_DEPLOY_PROD = [
    "GetCallerIdentity",
    "DescribeModelPackage",
    "GetObject",  # the artifact checked against the lock
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
    "RegisterScalableTarget",
    "DescribeScalingPolicies",
    "PutScalingPolicy",
    "ListEndpointConfigs",
]
REPEAT_DEPLOY_PROD = [
    "GetCallerIdentity",
    "DescribeModelPackage",
    "GetObject",  # the artifact checked against the lock
    "DescribeEndpoint",
    "DescribeAlarms",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
]


ARTIFACT = b"the promoted model.tar.gz"


def update_stubs(cfg, recorder: Recorder, version=NEW_VERSION, approval="Approved"):
    """Stubbed clients for `deploy --env prod --arn <prod version>`, with the caller identity,
    the DescribeModelPackage answer and the artifact check queued (a Stubber session is its own
    registry session): the prod version names its dev source and the sha256 of its artifact,
    the lock file (written next to the config) names the same, and S3 returns those bytes."""
    session, stubs = stubbed_as(
        cfg, "prod", "sagemaker", "cloudwatch", "application-autoscaling", "s3", recorder=recorder
    )
    arn = package_arn(cfg, "prod", version)
    source = package_arn(cfg, "dev", version)
    sha = hashlib.sha256(ARTIFACT).hexdigest()
    package = package_description(arn, approval)
    package["CustomerMetadataProperties"] = {
        "git_sha": "0" * 40,
        "source_model_package_arn": source,
        "artifact_sha256": sha,
        "artifact_version": "v1",
    }
    stubs["sagemaker"].add_response("describe_model_package", package, {"ModelPackageName": arn})
    if approval == "Approved":
        url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, key = url[len("s3://") :].split("/", 1)
        stubs["s3"].add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(ARTIFACT), len(ARTIFACT)), "VersionId": "v1"},
            {"Bucket": bucket, "Key": key},
        )
        lock = {
            "model_package_arn": source,
            "version": version,
            "git_sha": "0" * 40,
            "metrics": {},
            "qa_test": {"passed": True, "summary": "passed", "endpoint": "qa"},
            "artifact": {"uri": f"s3://{bucket}/dev/model.tar.gz", "version_id": "v0", "sha256": sha},
            "containers_sha256": "0" * 64,
            "images": [package["InferenceSpecification"]["Containers"][0]["Image"]],
            "created_at": "2025-01-31T12:00:00Z",
        }
        lockfile = module("promotion.lockfile")
        lockfile.write_lock(lockfile.lock_path(cfg), lock)
    return session, stubs


def plans(cfg):
    old = plan_for(cfg, "prod", package_arn(cfg, "prod", OLD_CONFIG_VERSION))
    new = plan_for(cfg, "prod", package_arn(cfg, "prod", NEW_VERSION))
    return old, new


def stub_prepare(stubs, cfg, old, new, *, exists=False, previous_tag=None):
    """Responses up to and including UpdateEndpoint."""
    sm, cloudwatch = stubs["sagemaker"], stubs["cloudwatch"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", old.config_name))
    if exists:
        sm.add_response("describe_model", described_model(new))
        sm.add_response("describe_endpoint_config", config_response(new))
    else:
        not_found(sm, "describe_model", "model")
        sm.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/{new.model_name}"})
        not_found(sm, "describe_endpoint_config", "endpoint configuration")
        sm.add_response(
            "create_endpoint_config", {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/x"}
        )
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": new.alarms})
    arn = endpoint_response(cfg, "prod", old.config_name)["EndpointArn"]
    tags = [{"Key": "previous-endpoint-config", "Value": previous_tag}] if previous_tag else []
    sm.add_response("list_tags", {"Tags": tags}, {"ResourceArn": arn})
    if previous_tag != old.config_name:
        sm.add_response(
            "add_tags",
            {"Tags": [{"Key": "previous-endpoint-config", "Value": old.config_name}]},
            {"ResourceArn": arn, "Tags": [{"Key": "previous-endpoint-config", "Value": old.config_name}]},
        )
    sm.add_response("describe_endpoint_config", config_response(old), {"EndpointConfigName": old.config_name})
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": arn},
        {
            "EndpointName": new.settings.endpoint_name,
            "EndpointConfigName": new.config_name,
            "DeploymentConfig": new.deployment_config,
        },
    )


def config_response(plan) -> dict[str, Any]:
    return {
        "EndpointConfigName": plan.config_name,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/{plan.config_name}",
        "ProductionVariants": plan.config_request["ProductionVariants"],
        "CreationTime": 0,
    }


def stub_after_success(stubs, new):
    target, policy = new.autoscaling
    stubs["application-autoscaling"].add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}]},
    )
    stubs["application-autoscaling"].add_response(
        "describe_scaling_policies",
        {
            "ScalingPolicies": [
                {
                    **{k: v for k, v in policy.items()},
                    "PolicyARN": "arn:aws:autoscaling:policy",
                    "CreationTime": 0,
                }
            ]
        },
    )


UPDATE_PREFIX = [
    "GetCallerIdentity",
    "DescribeModelPackage",
    "GetObject",  # the artifact checked against the lock
    "DescribeEndpoint",
    "DescribeModel",
    "CreateModel",
    "DescribeEndpointConfig",
    "CreateEndpointConfig",
    "DescribeAlarms",
    "ListTags",
    "AddTags",
    "DescribeEndpointConfig",
    "UpdateEndpoint",
]


class ProdUpdate(NamedTuple):
    """The `prod_update` fixture: unpack as `cfg, old, new, recorder, session, stubs = prod_update`."""

    cfg: Any
    old: Any
    new: Any
    recorder: Recorder
    session: Any
    stubs: dict[str, Any]
