"""The routes of a multi-model endpoint: which model (TargetModel) serves each segment.

A multi-model endpoint serves every segment of a segmented model from one container whose
ModelDataUrl is the environment's source prefix; a request picks its segment's model with
InvokeEndpoint's TargetModel, the artifact's S3 key relative to that prefix. The routes live
on the endpoint as tags, one per segment, so applications and rollbacks read them where the
endpoint is:

- `route:<segment>` = `<version> <object> <TargetModel>`: the segment's version number in the
  environment's group (the package ARN is that group's ARN with the version), the identity of
  the S3 object its target named when it was routed (the object's VersionId, or `sha256:<hex>`
  / `etag:<ETag>` in a bucket without versioning) and its target;
- `previous-route:<segment>`: the routes before the last deploy that changed them, which a
  rollback restores.

A segment no longer routed keeps its key with an empty value (the deploy role may add tags but
not delete them); an empty value is no route.

The endpoint caches a model by its TargetModel name: once it has loaded a key it may keep
serving those bytes after the object under the key is rewritten. A deploy therefore refuses a
routed key (live or previous) whose object is not the one it was routed with
(`check_objects`): a rewritten artifact must get a new key, i.e. come from a new pipeline run.

SageMaker allows 50 tags on an endpoint and 256 characters in a value: 20 segments (the most
`model.segments` takes) use 40 with the project, environment and previous-config tags 43; a
TargetModel too long for a value (with room for the longest object identity), or a deploy that
would leave more than 50 tags on the endpoint, stops before any mutating call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..promotion.metadata import check_tags
from .aws import Clients, DeployError, log
from .state import describe_endpoint

ROUTE_TAG = "route:"
PREVIOUS_ROUTE_TAG = "previous-route:"
MAX_TAGS = 50  # SageMaker's limit per resource
MAX_VALUE = 256
MAX_OBJECT_ID = len("sha256:") + 64  # the longest object identity a route holds


@dataclass(frozen=True)
class Route:
    """One segment's model on a multi-model endpoint."""

    target_model: str
    package_arn: str
    version: int
    object_id: str = ""  # the S3 object the target named when routed (see the module docstring)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_model": self.target_model,
            "package_arn": self.package_arn,
            "version": self.version,
            "object": self.object_id,
        }

    def tag_value(self) -> str:
        return f"{self.version} {self.object_id} {self.target_model}"


def object_identity(version_id: str | None, sha256: str = "", etag: str = "") -> str:
    """How a route names an S3 object: its VersionId, else its sha256, else its ETag."""
    if version_id and version_id != "null":
        return version_id
    if sha256:
        return f"sha256:{sha256}"
    if etag:
        return f"etag:{etag.strip(chr(34))}"
    raise DeployError("an S3 object without VersionId, sha256 or ETag cannot be routed")


def package_arn(cfg: Config, env: str, version: int) -> str:
    """The ARN of `version` in the group `env` deploys from."""
    return cfg.packages_arn(cfg.environment(env).group_kind).removesuffix("*") + str(version)


def check_fits(routes: Mapping[str, Route]) -> None:
    """DeployError naming a segment whose route value could not fit, whatever its object identity."""
    for segment, route in routes.items():
        length = len(f"{route.version}  {route.target_model}") + MAX_OBJECT_ID
        if length > MAX_VALUE:
            raise DeployError(
                f"segment {segment}: TargetModel {route.target_model} ({route.package_arn}) is "
                f"{len(route.target_model)} characters; its route tag '<version> <object> <TargetModel>' "
                f"would need up to {length} characters, SageMaker allows {MAX_VALUE}"
            )


def check_tag_count(current: Mapping[str, str], changes: Mapping[str, str], endpoint: str) -> None:
    """DeployError when `changes` would leave more than MAX_TAGS tags on the endpoint."""
    keys = {k for k in (*current, *changes) if not k.startswith("aws:")}
    if len(keys) > MAX_TAGS:
        emptied = sorted(k for k, v in current.items() if not v and k not in changes)
        raise DeployError(
            f"endpoint {endpoint} would carry {len(keys)} tags, SageMaker allows {MAX_TAGS}; "
            f"{len(emptied)} are emptied routes of segments no longer served "
            f"({', '.join(emptied) or 'none'}): remove them (sagemaker delete-tags) and deploy again"
        )


def check_objects(routes: Mapping[str, Route], current: Mapping[str, str], endpoint: str) -> None:
    """Refuse a target the endpoint has routed (live or previous route) with another object
    than the one under its key now: the endpoint may still serve its cached copy of that one."""
    for prefix in (ROUTE_TAG, PREVIOUS_ROUTE_TAG):
        for key, value in live(current, prefix).items():
            parts = value.split(" ", 2)
            if len(parts) != 3:
                continue
            for segment, route in routes.items():
                if parts[2] == route.target_model and parts[1] != route.object_id:
                    raise DeployError(
                        f"segment {segment}: TargetModel {route.target_model} is routed on {endpoint} "
                        f"as object {parts[1]} ({key}), but the object under that key is now "
                        f"{route.object_id}; the endpoint may keep serving its cached copy of the "
                        "old one. A rewritten artifact must get a new key: run the pipeline again "
                        "and deploy its set"
                    )


def route_tags(routes: Mapping[str, Route], prefix: str = ROUTE_TAG) -> dict[str, str]:
    """{tag key: value} of the routes; DeployError naming a segment whose value does not fit."""
    tags = {f"{prefix}{segment}": route.tag_value() for segment, route in routes.items()}
    for segment, route in routes.items():
        if not route.object_id:
            raise DeployError(f"segment {segment}: the route of {route.package_arn} names no S3 object")
        check_tags(
            [{"Key": f"{prefix}{segment}", "Value": tags[f"{prefix}{segment}"]}],
            f"the route of segment {segment} ({route.package_arn}, TargetModel {route.target_model})",
        )
    return tags


def routes_from_tags(
    cfg: Config, env: str, tags: Mapping[str, str], prefix: str = ROUTE_TAG
) -> dict[str, Route]:
    """The routes the endpoint's tags hold, in the configured segment order first."""
    found: dict[str, Route] = {}
    for key, value in live(tags, prefix).items():
        parts = value.split(" ", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not all(parts):
            raise DeployError(f"endpoint tag {key}={value!r} is not '<version> <object> <TargetModel>'")
        version, object_id, target = parts
        found[key[len(prefix) :]] = Route(
            target, package_arn(cfg, env, int(version)), int(version), object_id
        )
    order = [s for s in cfg.model.segments.values if s in found] + sorted(
        set(found) - set(cfg.model.segments.values)
    )
    return {segment: found[segment] for segment in order}


def endpoint_tags(clients: Clients, endpoint_arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    paginator_kwargs: dict[str, Any] = {"ResourceArn": endpoint_arn}
    while True:
        page = clients.sagemaker.list_tags(**paginator_kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        paginator_kwargs["NextToken"] = page["NextToken"]


def live(tags: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The `prefix` tags that hold a route (not emptied)."""
    return {k: v for k, v in tags.items() if k.startswith(prefix) and v}


def retag(clients: Clients, endpoint_arn: str, current: Mapping[str, str], wanted: Mapping[str, str]) -> int:
    """One AddTags for the `wanted` tags whose value differs from `current` (0 calls when none
    does); return the number of calls."""
    add = [{"Key": k, "Value": v} for k, v in wanted.items() if current.get(k) != v]
    if add:
        clients.sagemaker.add_tags(ResourceArn=endpoint_arn, Tags=add)
    return int(bool(add))


def replaced(current: Mapping[str, str], prefix: str, tags: Mapping[str, str]) -> dict[str, str]:
    """The tag changes that make the live `prefix` tags exactly `tags` (stale ones emptied)."""
    changes = {k: "" for k in live(current, prefix) if k not in tags}
    changes.update(tags)
    return changes


def as_previous(current: Mapping[str, str]) -> dict[str, str]:
    """The endpoint's live route tags, renamed to previous-route tags."""
    return {PREVIOUS_ROUTE_TAG + k[len(ROUTE_TAG) :]: v for k, v in live(current, ROUTE_TAG).items()}


def restore_routes(clients: Clients, endpoint: Mapping[str, Any]) -> bool:
    """Rollback: the previous-route tags become the route tags again; True when that changed them."""
    arn = endpoint["EndpointArn"]
    current = endpoint_tags(clients, arn)
    previous = {
        ROUTE_TAG + k[len(PREVIOUS_ROUTE_TAG) :]: v for k, v in live(current, PREVIOUS_ROUTE_TAG).items()
    }
    if not previous:
        log(f"endpoint {endpoint['EndpointName']} has no previous routes recorded; routes left as they are")
        return False
    changed = retag(clients, arn, current, replaced(current, ROUTE_TAG, previous)) > 0
    if changed:
        log(f"restored the previous routes of {endpoint['EndpointName']}: {', '.join(sorted(previous))}")
    return changed


def routes_document(cfg: Config, env: str, clients: Clients) -> dict[str, Any]:
    """What `endpoint routes --env` prints: the endpoint and each segment's TargetModel and version."""
    settings = cfg.environment(env).endpoint
    if not settings.multi_model:
        raise DeployError(
            f'environments.{env}.endpoint.type is "{settings.kind}"; routes exist on a multi-model endpoint'
        )
    name = settings.endpoint_name
    endpoint = describe_endpoint(clients, name)
    if endpoint is None:
        raise DeployError(f"endpoint {name} does not exist; deploy a set to {env} first")
    routes = routes_from_tags(cfg, env, endpoint_tags(clients, endpoint["EndpointArn"]))
    return {
        "endpoint_name": name,
        "segment_column": cfg.model.segments.column,
        "routes": {segment: route.to_dict() for segment, route in routes.items()},
    }
