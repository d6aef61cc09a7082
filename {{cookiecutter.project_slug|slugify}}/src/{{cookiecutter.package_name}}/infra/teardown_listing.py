"""What teardown would delete in a workload account and in the registry, found with read calls only.

Configs and models are deploy's versioned names of this endpoint only (`ours`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import config
from ..config import Config
from ..deploy import endpoint
from ..deploy.async_config import backlog_alarm_name
from ..deploy.aws import Clients, is_not_found

# deploy's versioned names (endpoint.versioned_name); the base may be shortened to fit 63 characters.
VERSIONED = re.compile(r"^(?P<base>[A-Za-z0-9-]+)-v\d+-[0-9a-f]{8}$")
# Resource types holding data: kept unless their template lets CloudFormation delete them.
BUCKET, KEY, GROUP = "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SageMaker::ModelPackageGroup"
KEEPING = ("Retain", "RetainExceptOnCreate", "Snapshot")


@dataclass(frozen=True)
class Item:
    """One resource to delete: where, what, and the arguments of the deleting call."""

    account: str
    kind: str
    name: str
    request: Mapping[str, Any]


@dataclass
class Listing:
    """Everything a run would delete (in deletion order), what it keeps and what blocks it."""

    items: list[Item] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)


def ours(endpoint_name: str, name: str) -> bool:
    """True for a config or model name deploy made for this endpoint (the rule deploy.cleanup uses)."""
    match = VERSIONED.match(name)
    if not match:
        return False
    base = match["base"]
    return base == endpoint_name or (len(name) == endpoint.NAME_LIMIT and endpoint_name.startswith(base))


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [row for page in client.get_paginator(operation).paginate(**kwargs) for row in page.get(key, [])]


def list_environment(cfg: Config, env: str, clients: Clients) -> list[Item]:
    """The environment's endpoint resources, in deletion order (read calls only)."""
    environment = cfg.environment(env)
    settings = environment.endpoint
    name, account = environment.endpoint_name, environment.account
    sm, scaling = clients.sagemaker, clients("application-autoscaling")
    # Checked whatever the settings say now: an earlier config may have enabled autoscaling.
    scope = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": endpoint.scaling_resource_id(settings),
        "ScalableDimension": endpoint.SCALABLE_DIMENSION,
    }
    items = [
        Item(account, "scaling policy", p["PolicyName"], {"PolicyName": p["PolicyName"], **scope})
        for p in _paged(scaling, "describe_scaling_policies", "ScalingPolicies", **scope)
    ]
    targets = scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[scope["ResourceId"]],
        ScalableDimension=scope["ScalableDimension"],
    )["ScalableTargets"]
    items += [Item(account, "scalable target", scope["ResourceId"], scope)] if targets else []
    if _exists(lambda: sm.describe_endpoint(EndpointName=name)):
        items.append(Item(account, "endpoint", name, {"EndpointName": name}))
    # The first 40 characters are in every versioned name, shortened or not (as in deploy.cleanup).
    for kind, operation, key, param in (
        ("endpoint config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
        ("model", "list_models", "Models", "ModelName"),
    ):
        found = sorted(r[param] for r in _paged(sm, operation, key, NameContains=name[:40]))
        items += [Item(account, kind, n, {param: n}) for n in found if ours(name, n)]
    # The rollback alarms and, whether or not the endpoint is async today, the backlog alarm that
    # scales an async endpoint out from zero (deploy/async_config.py).
    names = [*endpoint.alarm_names(settings), backlog_alarm_name(settings)]
    alarms = clients("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    items += [Item(account, "alarm", a["AlarmName"], {"AlarmNames": [a["AlarmName"]]}) for a in alarms]
    # Model Monitor: its schedules and alarms first, its job definitions last.
    from .teardown_monitoring import list_monitoring

    before, after = list_monitoring(cfg, env, clients)
    return before + items + after


def list_registry(cfg: Config, clients: Clients) -> tuple[list[Item], list[str]]:
    """Every version of each model package group, then the group; and the groups that exist."""
    account = cfg.account_id("shared_services")
    items: list[Item] = []
    groups = []
    for kind in config.GROUP_KINDS:
        group = cfg.group(kind)
        if not _exists(
            lambda group=group: clients.sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        ):
            continue
        groups.append(group)
        for package in _paged(
            clients.sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=group
        ):
            arn = package["ModelPackageArn"]
            items.append(Item(account, "model package", arn, {"ModelPackageName": arn}))
        items.append(Item(account, "model package group", group, {"ModelPackageGroupName": group}))
    return items, groups


def _exists(describe: Callable[[], Any]) -> bool:
    from botocore.exceptions import ClientError

    try:
        describe()
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    return True
