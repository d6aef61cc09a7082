"""A segmented project on multi-model endpoints, for the test_multi_model_* tests: its config,
the registry's description of each segment's version, and the endpoint's answers."""

from __future__ import annotations

import copy
import io
from typing import Any

from botocore.response import StreamingBody

from deploy_helpers import (
    INFERENCE_SPEC,
    NOW,
    REGION,
    endpoint_response,
    make_raw,
    module,
    package_arn,
    stubbed_as,
)

config = module("config")
SEGMENTS = ["north", "south"]
IMAGE = INFERENCE_SPEC["Containers"][0]["Image"]
OTHER_IMAGE = IMAGE.replace("1.2-1", "1.4-2")
SET_ID = "exec-0001"
OBJECT = "v1"  # the S3 VersionId of every artifact unless a test says otherwise
MULTI_MODEL = {
    "type": "multi-model",
    "instance_type": "ml.m5.large",
    "instance_count": 1,
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": False},
    "traffic_shifting": {"type": "ALL_AT_ONCE", "wait_seconds": 0},
    "alarms": {"error_5xx_threshold": 1, "model_latency_p99_ms": 500},
}
SERVICES = ("sagemaker", "cloudwatch", "application-autoscaling", "s3")
MUTATING_FIRST_DEPLOY = [
    "CreateModel",
    "CreateEndpointConfig",
    "PutMetricAlarm",
    "PutMetricAlarm",
    "CreateEndpoint",
]


def segmented_raw(values: list[str] | None = None, layout: str = "four", **endpoints: Any) -> dict[str, Any]:
    """The config document of a project segmented on `region`, QA and prod multi-model."""
    raw = make_raw(layout, qa=MULTI_MODEL, prod=MULTI_MODEL)
    for env, settings in endpoints.items():
        raw["environments"][env]["endpoint"].update(settings)
    raw["model"]["segments"] = {"column": "region", "values": list(values or SEGMENTS)}
    return raw


def segmented_config(values: list[str] | None = None, **endpoints: Any) -> Any:
    return config.parse(segmented_raw(values, **endpoints))


def prefix_of(cfg: Any, env: str) -> str:
    kind = cfg.environment(env).group_kind
    return f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes[kind]}"


def target_of(segment: str, set_id: str = SET_ID) -> str:
    return f"pipelines/{set_id}/Train-{segment}/output/model.tar.gz"


def set_description(
    cfg: Any,
    env: str,
    version: int,
    segment: str,
    image: str = IMAGE,
    model_data: str | None = None,
    set_id: str = SET_ID,
) -> dict[str, Any]:
    """DescribeModelPackage of one segment's version in the group `env` deploys from."""
    kind = cfg.environment(env).group_kind
    arn = package_arn(cfg, kind, version)
    container = copy.deepcopy(INFERENCE_SPEC["Containers"][0])
    container["Image"] = image
    container["ModelDataUrl"] = model_data or prefix_of(cfg, env) + target_of(segment, set_id)
    return {
        "ModelPackageName": cfg.group(kind),
        "ModelPackageGroupName": cfg.group(kind),
        "ModelPackageVersion": version,
        "ModelPackageArn": arn,
        "CreationTime": NOW,
        "InferenceSpecification": {**copy.deepcopy(INFERENCE_SPEC), "Containers": [container]},
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "Approved" if kind == "prod" else "PendingManualApproval",
        "CustomerMetadataProperties": {
            "git_sha": "0123456789abcdef0123456789abcdef01234567",
            "segment": segment,
            "segment_column": "region",
            "segment_set": set_id,
        },
    }


def versions_of(cfg: Any, env: str, descriptions: list[dict[str, Any]]) -> dict[str, Any]:
    version = module("promotion.version")
    return {
        d["CustomerMetadataProperties"]["segment"]: version.from_description(
            version.parse_package_arn(d["ModelPackageArn"]), d
        )
        for d in descriptions
    }


def plan_of(cfg: Any, env: str, descriptions: list[dict[str, Any]], object_id: str = OBJECT) -> Any:
    multi_model = module("deploy.multi_model")
    plan = multi_model.plan_set(cfg, env, versions_of(cfg, env, descriptions))
    return multi_model.with_objects(plan, {segment: object_id for segment in plan.routes})


def route_tags(
    descriptions: list[dict[str, Any]], prefix: str = "route:", set_id: str = SET_ID, object_id: str = OBJECT
) -> list[dict[str, str]]:
    tags = []
    for d in descriptions:
        segment = d["CustomerMetadataProperties"]["segment"]
        value = f"{d['ModelPackageVersion']} {object_id} {target_of(segment, set_id)}"
        tags.append({"Key": prefix + segment, "Value": value})
    return tags


def stub_heads(stubs: Any, descriptions: list[dict[str, Any]], version_id: str = OBJECT) -> None:
    """The first byte of each version's artifact (a QA deploy without --artifact reads which object
    its key holds), answering `version_id`."""
    for d in descriptions:
        bucket, key = d["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][5:].split("/", 1)
        stubs["s3"].add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(b"x"), 1), "VersionId": version_id, "ETag": '"e"'},
            {"Bucket": bucket, "Key": key, "Range": "bytes=0-0"},
        )


def session_for(cfg: Any, env: str, recorder: Any, *extra: str) -> tuple[Any, dict[str, Any]]:
    return stubbed_as(cfg, env, *SERVICES, *extra, recorder=recorder)


def endpoint_arn(cfg: Any, env: str) -> str:
    return endpoint_response(cfg, env, "x")["EndpointArn"]


def two_versions(cfg: Any, env: str = "qa", first: int = 7, **kwargs: Any) -> list[dict[str, Any]]:
    """One version per configured segment (versions `first`, `first` + 1, ...), of one run."""
    return [
        set_description(cfg, env, first + i, s, **kwargs) for i, s in enumerate(cfg.model.segments.values)
    ]


def deploy_args(env: str, descriptions: list[dict[str, Any]], *extra: str) -> list[str]:
    arns = ",".join(d["ModelPackageArn"] for d in descriptions)
    return ["deploy", "--env", env, "--arn", arns, "--poll-interval", "0", *extra]


def stub_resolve(stubs: Any, descriptions: list[dict[str, Any]], heads: str | None = OBJECT) -> None:
    """The set resolved (DescribeModelPackage each), then, unless `heads` is None, each key's
    object answered as `heads` (stub_heads)."""
    for d in descriptions:
        stubs["sagemaker"].add_response(
            "describe_model_package", d, {"ModelPackageName": d["ModelPackageArn"]}
        )
    if heads:
        stub_heads(stubs, descriptions, heads)


def stub_tags(stubs: Any, cfg: Any, env: str, tags: list[dict[str, str]]) -> None:
    stubs["sagemaker"].add_response("list_tags", {"Tags": tags}, {"ResourceArn": endpoint_arn(cfg, env)})


def stub_alarms_present(stubs: Any, plan: Any) -> None:
    alarms = [{**a, "AlarmArn": f"arn:aws:cloudwatch:x:1:alarm:{a['AlarmName']}"} for a in plan.alarms]
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": alarms})


def stub_no_autoscaling(stubs: Any) -> None:
    stubs["application-autoscaling"].add_response("describe_scalable_targets", {"ScalableTargets": []})


__all__ = ["REGION"]
