"""Deploy a set of versions (one per segment) to a multi-model endpoint.

A segmented model (`model.segments`) runs in QA and prod on an endpoint of type
"multi-model": one SageMaker model with one container in MultiModel mode, whose ModelDataUrl
is the environment's source prefix (`s3://<artifact bucket>/<model>-dev/` for QA,
`<model>-prod/` for prod), which the endpoint role already reads. Each segment's version is
then served by TargetModel, its artifact's key relative to that prefix; the routes
(segment -> TargetModel and version) are tags on the endpoint (routes.py).

`plan_set` refuses, before any call that changes anything, a set whose versions differ in
image or container environment (naming them), an artifact outside the prefix or not a
model.tar.gz, and any version `check_deployable` refuses. The model and endpoint config are
named by a hash of what they hold, not by a version, so a new set with the same image and
settings keeps them: `deploy_set` then only rewrites the route tags (a new segment or a new
version of one is served without CreateEndpointConfig or UpdateEndpoint). A changed image or
instance setting goes through the same blue/green update as a single model. A repeat makes
no mutating call. Each route names the S3 object its key held when routed (`with_objects`:
from the lock check in prod, the `registry digest` output or the key's current object in
QA); a deploy that finds a routed key now holding another object is refused before any
change (routes.py). Before the route tags change, the running config and routes are
recorded (`previous-endpoint-config`, `previous-route:*`), which is what `rollback` restores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import Config
from ..promotion.metadata import check_tags
from ..promotion.version import ModelVersion, check_deployable
from .aws import Clients, DeployError, log
from .deploy import (
    DeployResult,
    ensure_endpoint_config,
    ensure_model,
    finish,
    settled_endpoint,
    update_recorded,
    wait_and_verify,
)
from .endpoint import DeployPlan, digest, production_config, versioned_name
from .routes import (
    PREVIOUS_ROUTE_TAG,
    ROUTE_TAG,
    Route,
    as_previous,
    check_fits,
    check_objects,
    check_tag_count,
    endpoint_tags,
    live,
    package_arn,
    replaced,
    retag,
    route_tags,
)
from .scaling import ensure_alarms, ensure_autoscaling
from .state import PREVIOUS_CONFIG_TAG, Waiter
from .update_policy import alarm_requests, autoscaling_requests, default_timeout, deployment_config

MULTI_MODEL_VERSION = 0  # names of a multi-model endpoint's model and config serve no one version


@dataclass
class SetPlan(DeployPlan):
    """A DeployPlan for a set: `package` is the first segment's version, `routes` every segment's."""

    versions: dict[str, ModelVersion] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)


def source_prefix(cfg: Config, env: str) -> str:
    """s3://<artifact bucket>/<prefix of the group env deploys from>."""
    return f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes[cfg.environment(env).group_kind]}"


def _container(version: ModelVersion) -> dict[str, Any]:
    containers = version.containers()
    if len(containers) != 1 or not containers[0].get("Image") or not containers[0].get("ModelDataUrl"):
        raise DeployError(
            f"model package {version.arn} has {len(containers)} containers; a multi-model endpoint "
            "needs exactly one with an Image and a ModelDataUrl (model.tar.gz)"
        )
    return containers[0]


def shared_container(versions: Mapping[str, ModelVersion]) -> tuple[str, dict[str, str]]:
    """(image, environment) every version shares; DeployError naming the versions that differ."""
    seen: dict[tuple[str, str], list[str]] = {}
    for segment, version in versions.items():
        container = _container(version)
        key = (container["Image"], digest(container.get("Environment") or {}))
        seen.setdefault(key, []).append(f"{segment} ({version.arn})")
    if len(seen) > 1:
        groups = "; ".join(
            f"image {image}, environment {env}: {', '.join(names)}" for (image, env), names in seen.items()
        )
        raise DeployError(
            "a multi-model endpoint serves one image with one environment, but the versions differ: " + groups
        )
    first = _container(next(iter(versions.values())))
    return first["Image"], dict(first.get("Environment") or {})


def target_model(prefix: str, segment: str, version: ModelVersion) -> str:
    """The artifact's key relative to the endpoint's prefix; DeployError when it is outside it."""
    url = _container(version)["ModelDataUrl"]
    if not url.startswith(prefix) or not url.endswith(".tar.gz") or len(url) == len(prefix):
        raise DeployError(
            f"segment {segment}: the artifact {url} of {version.arn} is not a model.tar.gz under {prefix}, "
            "the prefix the multi-model endpoint serves; refusing to deploy"
        )
    return url[len(prefix) :]


def plan_set(cfg: Config, env: str, versions: Mapping[str, ModelVersion]) -> SetPlan:
    """Compute the deploy of the resolved set `versions` ({segment: version}) to `env`; no AWS call."""
    environment = cfg.environment(env)
    settings = environment.endpoint
    if not settings.multi_model:
        raise DeployError(f'environments.{env}.endpoint.type is "{settings.kind}"; a set needs "multi-model"')
    if not versions:
        raise DeployError("no versions to deploy")
    for version in versions.values():
        check_deployable(cfg, env, version)
    prefix = source_prefix(cfg, env)
    image, variables = shared_container(versions)
    routes = {
        segment: Route(target_model(prefix, segment, v), package_arn(cfg, env, v.version), v.version)
        for segment, v in versions.items()
    }
    check_fits(routes)  # every value fits, before any call
    role = cfg.role_arn(environment.account_role, "sagemaker_endpoint")
    container: dict[str, Any] = {"Image": image, "Mode": "MultiModel", "ModelDataUrl": prefix}
    if variables:
        container["Environment"] = variables
    tags = check_tags(
        [{"Key": "project", "Value": cfg.project.slug}, {"Key": "environment", "Value": env}],
        f"the {env} multi-model deploy",
    )
    name = settings.endpoint_name
    model_name = versioned_name(name, MULTI_MODEL_VERSION, digest([role, [container]]))
    model_request = {
        "ModelName": model_name,
        "ExecutionRoleArn": role,
        "Containers": [container],
        "EnableNetworkIsolation": True,
        "Tags": tags,
    }
    body = production_config(cfg, env, model_name)
    config_name = versioned_name(name, MULTI_MODEL_VERSION, digest(body))
    return SetPlan(
        settings=settings,
        package=next(iter(versions.values())),
        role_arn=role,
        model_name=model_name,
        config_name=config_name,
        model_request=model_request,
        config_request={"EndpointConfigName": config_name, **body, "Tags": tags},
        alarms=alarm_requests(settings),
        deployment_config=deployment_config(settings),
        autoscaling=autoscaling_requests(settings),
        timeout=default_timeout(settings),
        versions=dict(versions),
        routes=routes,
        tags=tags,
    )


def with_objects(plan: SetPlan, objects: Mapping[str, str]) -> SetPlan:
    """`plan` whose routes name the S3 object each segment's key holds ({segment: identity})."""
    missing = [segment for segment in plan.routes if not objects.get(segment)]
    if missing:
        raise DeployError(f"no S3 object identity for segment {', '.join(missing)}")
    routes = {segment: replace(route, object_id=objects[segment]) for segment, route in plan.routes.items()}
    route_tags(routes)
    return replace(plan, routes=routes)


def _recorded(current: Mapping[str, str], running_config: str) -> dict[str, str]:
    """Tag changes recording what a rollback returns to: the running config and routes."""
    changes = {PREVIOUS_CONFIG_TAG: running_config}
    changes.update(replaced(current, PREVIOUS_ROUTE_TAG, as_previous(current)))
    return changes


def deploy_set(clients: Clients, plan: SetPlan, waiter: Waiter | None = None) -> DeployResult:
    """Make the multi-model endpoint serve `plan` (see the module docstring) and wait for it.

    Returns action "unchanged" (no mutating call), "routed" (route tags only), "created" or
    "updated" (blue/green). Failures raise as `deploy.deploy` does; an UpdateFailed leaves the
    routes as they were, so `rollback` returns the endpoint to its recorded config.
    """
    waiter = waiter or Waiter(timeout=plan.timeout)
    name = plan.settings.endpoint_name
    wanted = route_tags(plan.routes)
    endpoint = settled_endpoint(clients, name, waiter, "it cannot be updated: delete it and deploy again")
    current = endpoint_tags(clients, endpoint["EndpointArn"]) if endpoint else {}
    check_objects(plan.routes, current, name)
    if endpoint is None:
        check_tag_count({}, {**{t["Key"]: t["Value"] for t in plan.tags}, **wanted}, name)
    else:
        record = _recorded(current, endpoint["EndpointConfigName"])
        check_tag_count(current, {**record, **replaced(current, ROUTE_TAG, wanted)}, name)
    if endpoint and endpoint.get("EndpointConfigName") == plan.config_name:
        running = endpoint["EndpointConfigName"]
        repairs = ensure_alarms(clients, plan) + ensure_autoscaling(clients, plan)
        if live(current, ROUTE_TAG) == wanted:
            log(f"endpoint {name} already runs {running} with these routes; nothing to deploy")
            return DeployResult(name, running, plan.model_name, None, repairs > 0, "unchanged")
        log(
            f"routing {name} on {running}: "
            + ", ".join(f"{s} -> v{r.version}" for s, r in plan.routes.items())
        )
        changes = _recorded(current, running)
        changes.update(replaced(current, ROUTE_TAG, wanted))
        retag(clients, endpoint["EndpointArn"], current, changes)
        return DeployResult(name, running, plan.model_name, running, True, "routed")
    ensure_model(clients, plan)
    ensure_endpoint_config(clients, plan)
    ensure_alarms(clients, plan)
    previous = None
    if endpoint is None:
        log(f"creating multi-model endpoint {name} with {plan.config_name}")
        tags = plan.tags + [{"Key": k, "Value": v} for k, v in wanted.items()]
        clients.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=plan.config_name, Tags=tags)
        wait_and_verify(clients, plan, waiter)
        action = "created"
    else:
        previous = endpoint["EndpointConfigName"]
        arn = endpoint["EndpointArn"]
        retag(clients, arn, current, record)
        update_recorded(clients, plan, previous, waiter)
        current = {**current, **record}
        retag(clients, arn, current, replaced(current, ROUTE_TAG, wanted))
        action = "updated"
    return finish(clients, plan, previous, action)
