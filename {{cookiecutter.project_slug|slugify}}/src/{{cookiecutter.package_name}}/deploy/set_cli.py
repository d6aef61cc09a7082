"""The deploy commands on a multi-model environment (a segmented model, docs/inference-modes.md).

- `deploy --env E --arn <arn>,<arn>,...`: the set (one version per segment, ordered as
  `model.segments.values`, `promotion.segments.resolve_set`) planned by `multi_model.plan_set`;
  for prod each version's artifact is first checked against its segment's entry of the lock.
  Each route names the S3 object its key holds: in prod the one the lock check read, in QA the
  one `registry digest` read (`--artifact`, its output), else the key's current object
  (GetObject of its first byte).
- `routes --env E`: the endpoint's routes as JSON, what an application needs to call
  InvokeEndpoint with each segment's TargetModel.
- `endpoint-test`: the suite once per segment (endpoint_tests/segments.py), each with its
  TargetModel: from the endpoint's route tags (`--env`), or the segment value itself against a
  local multi-model server (`--url`, as the rehearsal serves it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ..config import Config
from ..promotion.version import ModelVersion
from .artifact import checked_object
from .aws import Clients, DeployError, error_message, log
from .deploy import DeployResult
from .multi_model import SetPlan, deploy_set, plan_set, with_objects
from .routes import Route, endpoint_tags, object_identity, routes_document, routes_from_tags
from .state import Waiter, describe_endpoint


def prepare_set(
    cfg: Config,
    clients: Clients,
    env: str,
    arns: str,
    lock_file: str | None,
    artifact_file: str | None = None,
) -> SetPlan:
    """Resolve, check and plan the set; prod: every artifact against its segment's lock entry.
    The routes then name each key's current S3 object."""
    from ..promotion import lockfile
    from ..promotion.segments import resolve_set

    environment = cfg.environment(env)
    versions = resolve_set(cfg, clients.registry, arns, environment.group_kind)
    plan = plan_set(cfg, env, versions)
    objects: dict[str, str] = {}
    if environment.group_kind == "prod":
        path = Path(lock_file) if lock_file else lockfile.lock_path(cfg)
        entries = lockfile.entries(lockfile.read_lock(cfg, path))
        for segment, version in versions.items():
            if segment not in entries:
                raise DeployError(f"the lock {path} has no entry for segment {segment}; refusing to deploy")
            log(f"segment {segment}: checking {version.arn} against the lock")
            checked = checked_object(clients, version, entries[segment])
            objects[segment] = object_identity(checked.version_id, checked.sha256)
    else:
        objects = qa_objects(clients, versions, artifact_file)
    return with_objects(plan, objects)


def qa_objects(
    clients: Clients, versions: dict[str, ModelVersion], artifact_file: str | None
) -> dict[str, str]:
    """{segment: identity of the S3 object its artifact key holds}: from `registry digest`'s
    output when given (each part must be of the version's own artifact), else the current object
    of the key (GetObject of one byte: its VersionId, else its ETag)."""
    from ..promotion import evidence

    if artifact_file:
        try:
            document = json.loads(Path(artifact_file).read_text())
        except (OSError, ValueError) as exc:
            raise DeployError(f"--artifact {artifact_file}: cannot be read as JSON: {exc}") from exc
        found = evidence.load_set_artifacts(document, versions, f"--artifact {artifact_file}")
        return {segment: object_identity(a.version_id, a.sha256) for segment, a in found.items()}
    objects = {}
    for segment, version in versions.items():
        uri = evidence.model_artifact_uri(version)
        bucket, key = evidence.split_uri(uri)
        try:  # the first byte: the answer names the object's VersionId and ETag
            head = clients("s3").get_object(Bucket=bucket, Key=key, Range="bytes=0-0")
            head["Body"].close()
        except ClientError as exc:
            raise DeployError(
                f"segment {segment}: cannot read which object {uri} holds ({error_message(exc)}); "
                "pass --artifact with the `registry digest` output of the set"
            ) from exc
        objects[segment] = object_identity(head.get("VersionId"), etag=head.get("ETag", ""))
    return objects


def run_deploy(plan: SetPlan, clients: Clients, waiter: Waiter, roll_back: bool) -> DeployResult:
    if roll_back:
        from .rollback import deploy_or_roll_back

        return deploy_or_roll_back(clients, plan, waiter)
    return deploy_set(clients, plan, waiter)


def cmd_routes(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    """Print the environment's multi-model routes as JSON (stdout)."""
    from .aws import require_account

    require_account(clients, cfg, cfg.environment(args.env).account_role, f"routes --env {args.env}")
    print(json.dumps(routes_document(cfg, args.env, clients), indent=2))
    return 0


def endpoint_routes(cfg: Config, env: str, clients: Clients | None) -> dict[str, Route]:
    """{segment: Route} of the configured segments: from the endpoint's route tags, or (a local
    server, no clients) TargetModel = the segment value itself, no package. DeployError for a
    segment without one."""
    values = cfg.model.segments.values
    if clients is None:
        return {segment: Route(segment, "", 0) for segment in values}
    name = cfg.environment(env).endpoint.endpoint_name
    endpoint = describe_endpoint(clients, name)
    if endpoint is None:
        raise DeployError(f"endpoint {name} does not exist; deploy the set first")
    routes = routes_from_tags(cfg, env, endpoint_tags(clients, endpoint["EndpointArn"]))
    missing = [segment for segment in values if segment not in routes]
    if missing:
        raise DeployError(
            f"endpoint {name} has no route for segment {', '.join(missing)}; deploy the set first"
        )
    return {segment: routes[segment] for segment in values}


def segment_suite(
    cfg: Config, env: str, clients: Clients | None, url: str | None, samples: Path, rows: int, thresholds: Any
) -> Callable[[], Any]:
    """The suite per segment against the environment's endpoint (or the local `url`), ready to
    run: routes and samples are read now (ValueError naming a segment whose samples cannot be
    used, DeployError for a segment without a route), the requests go out when it is called."""
    from ..endpoint_tests import segments, suite

    found = endpoint_routes(cfg, env, clients)
    routes = {segment: route.target_model for segment, route in found.items()}
    routed = {
        segment: {"package_arn": route.package_arn, "object": route.object_id}
        for segment, route in found.items()
        if route.package_arn
    }
    loaded = segments.load_segment_samples(
        segments.segment_samples(samples, list(routes)), rows, cfg.model.target_column
    )
    if clients is None:
        assert url is not None
        return lambda: segments.run_segments(
            lambda target: suite.HttpInvoker(url, target_model=target), routes, loaded, thresholds, url
        )
    name = cfg.environment(env).endpoint.endpoint_name
    runtime = clients("sagemaker-runtime")
    return lambda: segments.run_segments(
        lambda target: suite.SageMakerInvoker(name, runtime, clients.sagemaker, target_model=target),
        routes,
        loaded,
        thresholds,
        f"endpoint {name}",
        routed,
    )


def result_outputs(result: DeployResult) -> dict[str, str]:
    """The `deploy` command's key=value results, of a single model or of a set."""
    return {
        "endpoint_name": result.endpoint_name,
        "endpoint_config": result.config_name,
        "model_name": result.model_name,
        "previous_config": result.previous_config or "",
        "action": result.action,
        "changed": str(result.changed).lower(),
    }


def cmd_deploy_set(args: argparse.Namespace, cfg: Config, clients: Clients, waiter: Waiter) -> int:
    """`deploy` on a multi-model environment (the account was checked); key=value results."""
    from .. import cli_support
    from .monitoring import ensure_monitoring

    plan = prepare_set(cfg, clients, args.env, args.arn, args.lock_file, args.artifact)
    result = run_deploy(plan, clients, waiter, args.rollback_on_failure)
    ensure_monitoring(cfg, clients, plan)
    cli_support.emit({**result_outputs(result), "segments": ",".join(plan.routes)}, args.github_output)
    return 0
