"""Create-or-update one environment's endpoint to serve a model package, and wait for it.

The order, each step skipped when the resource already matches (so a re-run after a crash
picks up where the last run stopped):

0. `prepare`: the version resolved once (`promotion.version.resolve`: one DescribeModelPackage
   with `clients.registry`), the registry gate (`check_deployable`: right group and account,
   Completed, Approved for prod), then the plan. A refused package stops here, before any
   mutating call.
1. DescribeEndpoint. If it already runs the planned endpoint config: done, no mutating call.
2. CreateModel (prod: from the package ARN; QA: from the package's containers, tagged with
   the package ARN and version), CreateEndpointConfig (deterministic versioned names).
3. Real-time: the 5XX and latency alarms (PutMetricAlarm only when missing or changed).
4. CreateEndpoint, or (recording the running config on the endpoint's
   `previous-endpoint-config` tag first) UpdateEndpoint with blue/green traffic shifting and
   the alarms as auto-rollback triggers.
   A real-time update to another instance type first deregisters the variant's scalable
   target (SageMaker refuses the update otherwise).
5. Poll DescribeEndpoint until it settles or the timeout passes. Success means InService on
   the requested config with no FailureReason; Failed, a silent revert to the old config or
   a timeout raise DeployFailed (UpdateFailed, naming the recorded config, for an update).
6. Real-time: target-tracking autoscaling; then delete endpoint configs (and their models)
   older than the newest two, never the running or the recorded previous one.

Alarms and autoscaling (steps 3, 4 and 6) are in scaling.py; waiting, the check and the
previous-config tag in state.py. `rollback.deploy_or_roll_back` rolls a failed update back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..config import Config
from ..promotion.version import resolve
from .aws import Clients, DeployError, error_code, error_message, is_not_found, log
from .endpoint import DeployPlan, is_versioned_name, plan
from .model_check import refuse_other_model
from .scaling import ensure_alarms, ensure_autoscaling, prepare_scaling_for_update
from .state import (
    BROKEN,
    DEFAULT_POLL_SECONDS,
    SETTLING,
    DeployFailed,
    UpdateFailed,
    Waiter,
    describe_endpoint,
    previous_config,
    record_previous,
    verify,
    wait_until_settled,
)

# Also imported from here by the CLI and the tests, though state.py defines them.
__all__ = [
    "DEFAULT_POLL_SECONDS",
    "DeployFailed",
    "DeployResult",
    "UpdateFailed",
    "Waiter",
    "cleanup",
    "deploy",
    "ensure_endpoint_config",
    "ensure_model",
    "prepare",
    "previous_config",
    "record_previous",
]

KEEP_CONFIGS = 2


@dataclass
class DeployResult:
    endpoint_name: str
    config_name: str
    model_name: str
    previous_config: str | None
    changed: bool
    action: str  # "unchanged", "created" or "updated" ("routed": multi_model.deploy_set)


def prepare(cfg: Config, clients: Clients, env: str, package_arn: str) -> DeployPlan:
    """Resolve the version and plan its deploy to `env`; read-only.

    The ARN is checked against the environment's group before any call; the version is then
    described once with `clients.registry` (the workload credentials unless a registry session
    was given) and must pass `version.check_deployable`. It raises DeployError naming what is
    wrong (not in the expected group of the shared registry, missing, not Completed, not
    Approved for prod, or registered by a segmented run for one segment while model.segments
    is off), so a refused package never reaches a mutating call.
    """
    from ..promotion.segments import single_version_problem

    version = resolve(cfg, clients.registry, package_arn, cfg.environment(env).group_kind)
    problem = single_version_problem(cfg, version)
    if problem:
        raise DeployError(f"refusing to deploy: {problem}")
    log(f"model package {package_arn}: {version.approval or None}, {version.status or None}")
    return plan(cfg, env, version)


def _create_unless_present(describe: Callable[[], Any], create: Callable[[], Any], message: str) -> bool:
    """Describe; on "not found" log `message` and create. True when it created something."""
    try:
        describe()
        return False
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    log(message)
    create()
    return True


def ensure_model(clients: Clients, plan: DeployPlan) -> bool:
    """Create the planned model unless it exists; one that exists must be the planned one
    (`model_check.refuse_other_model`: DeployError, before anything serves it)."""
    sm = clients.sagemaker
    try:
        found = sm.describe_model(ModelName=plan.model_name)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        log(f"creating model {plan.model_name} from {plan.package.arn}")
        sm.create_model(**plan.model_request)
        return True
    refuse_other_model(found, plan, plan.settings.env)
    return False


def ensure_endpoint_config(clients: Clients, plan: DeployPlan) -> bool:
    sm = clients.sagemaker
    return _create_unless_present(
        lambda: sm.describe_endpoint_config(EndpointConfigName=plan.config_name),
        lambda: sm.create_endpoint_config(**plan.config_request),
        f"creating endpoint config {plan.config_name}",
    )


def cleanup(clients: Clients, plan: DeployPlan, keep: set[str]) -> list[str]:
    """Delete this endpoint's configs older than the newest KEEP_CONFIGS, and their models.

    Configs in `keep` (the running and the recorded previous one) and their models always
    stay. A failure here is reported and does not fail the deploy.
    """
    sm = clients.sagemaker
    endpoint = plan.settings.endpoint_name

    def ours(name: str) -> bool:
        return is_versioned_name(endpoint, name)

    deleted: list[str] = []
    try:
        names: list[str] = []
        paginator = sm.get_paginator("list_endpoint_configs")
        for page in paginator.paginate(
            NameContains=endpoint[:40], SortBy="CreationTime", SortOrder="Descending"
        ):
            names += [
                c["EndpointConfigName"]
                for c in page.get("EndpointConfigs", [])
                if ours(c["EndpointConfigName"])
            ]
        keep = set(keep) | set(names[:KEEP_CONFIGS])
        doomed = [n for n in names if n not in keep]
        if not doomed:
            return deleted
        kept_models = set()
        for name in keep:
            try:
                kept_models |= _config_models(sm.describe_endpoint_config(EndpointConfigName=name))
            except ClientError as exc:
                if is_not_found(exc):
                    continue
                raise
        for name in doomed:
            models = _config_models(sm.describe_endpoint_config(EndpointConfigName=name))
            log(f"deleting old endpoint config {name}")
            sm.delete_endpoint_config(EndpointConfigName=name)
            deleted.append(name)
            for model in models - kept_models:
                try:
                    sm.delete_model(ModelName=model)
                    log(f"deleted old model {model}")
                except ClientError as exc:
                    if not is_not_found(exc):
                        raise
    except ClientError as exc:
        log(f"warning: cleaning up old endpoint configs failed: {error_message(exc)}")
    return deleted


def settled_endpoint(clients: Clients, name: str, waiter: Waiter, broken: str) -> dict[str, Any] | None:
    """DescribeEndpoint, waiting while it is Creating/Updating; DeployError ending with `broken`
    when it is Failed or OutOfService."""
    endpoint = describe_endpoint(clients, name)
    if endpoint and endpoint["EndpointStatus"] in SETTLING:
        log(f"endpoint {name} is {endpoint['EndpointStatus']}; waiting for it to settle first")
        endpoint = wait_until_settled(clients, name, waiter)
    if endpoint and endpoint["EndpointStatus"] in BROKEN:
        raise DeployError(
            f"endpoint {name} is {endpoint['EndpointStatus']} "
            f"({endpoint.get('FailureReason', 'no reason given')}); {broken}"
        )
    return endpoint


def _config_models(config: dict) -> set[str]:
    """The models an endpoint config serves, its shadow variants' included (docs/shadow.md)."""
    variants = [*config["ProductionVariants"], *config.get("ShadowProductionVariants", [])]
    return {v["ModelName"] for v in variants}


def wait_and_verify(clients: Clients, plan: DeployPlan, waiter: Waiter) -> None:
    """Wait until the endpoint settles; DeployFailed unless it runs the planned config."""
    verify(wait_until_settled(clients, plan.settings.endpoint_name, waiter), plan.config_name)
    log(f"endpoint {plan.settings.endpoint_name} is InService on {plan.config_name}")


def update(clients: Clients, plan: DeployPlan, previous: str, waiter: Waiter) -> None:
    """Update the running endpoint (off `previous`) to the planned config and wait for it."""
    name = plan.settings.endpoint_name
    prepare_scaling_for_update(clients, plan, previous)
    log(f"updating endpoint {name}: {previous} -> {plan.config_name}")
    request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": plan.config_name}
    if plan.deployment_config:
        request["DeploymentConfig"] = plan.deployment_config
    clients.sagemaker.update_endpoint(**request)
    wait_and_verify(clients, plan, waiter)


def update_recorded(clients: Clients, plan: DeployPlan, previous: str, waiter: Waiter) -> None:
    """`update` once the running config `previous` is recorded on the endpoint: any failure
    raises as an UpdateFailed naming it (`rollback.deploy_or_roll_back` returns to it)."""
    try:
        update(clients, plan, previous, waiter)
    except DeployFailed as exc:
        raise UpdateFailed(str(exc), previous) from exc
    except ClientError as exc:
        message = f"{exc.operation_name} failed: {error_code(exc)}: {error_message(exc)}"
        raise UpdateFailed(message, previous) from exc


def finish(clients: Clients, plan: DeployPlan, previous: str | None, action: str) -> DeployResult:
    """After a create or update: autoscaling, then the cleanup of old configs (never the planned
    or the recorded `previous` one); the changed result."""
    ensure_autoscaling(clients, plan)
    cleanup(clients, plan, {plan.config_name, *([previous] if previous else [])})
    return DeployResult(
        plan.settings.endpoint_name, plan.config_name, plan.model_name, previous, True, action
    )


def deploy(clients: Clients, plan: DeployPlan, waiter: Waiter | None = None) -> DeployResult:
    """Make the endpoint serve `plan` and wait until it does.

    It returns without any mutating call when the endpoint already runs the planned config.
    It raises DeployFailed when the endpoint ends Failed, reverts to its old config, or does
    not settle within the timeout, and DeployError when the endpoint is in a state that
    cannot be updated. A failure once the running config is recorded (the update refused,
    or not ending InService on the new config) is an UpdateFailed naming that config:
    `rollback.deploy_or_roll_back` then puts the endpoint back on it.
    """
    waiter = waiter or Waiter(timeout=plan.timeout)
    settings = plan.settings
    name = settings.endpoint_name
    endpoint = settled_endpoint(clients, name, waiter, "it cannot be updated: delete it and deploy again")
    if endpoint and endpoint.get("EndpointConfigName") == plan.config_name:
        log(f"endpoint {name} already runs {plan.config_name} ({plan.package.arn}); nothing to deploy")
        # Read-only unless a crashed earlier run left the alarms or autoscaling unfinished.
        repairs = ensure_alarms(clients, plan) + ensure_autoscaling(clients, plan)
        return DeployResult(name, plan.config_name, plan.model_name, None, repairs > 0, "unchanged")

    ensure_model(clients, plan)
    ensure_endpoint_config(clients, plan)
    ensure_alarms(clients, plan)
    previous = None
    if endpoint is None:
        log(f"creating endpoint {name} with {plan.config_name}")
        request: dict[str, Any] = {
            "EndpointName": name,
            "EndpointConfigName": plan.config_name,
            "Tags": plan.config_request["Tags"],
        }
        clients.sagemaker.create_endpoint(**request)
        wait_and_verify(clients, plan, waiter)
        action = "created"
    else:
        previous = record_previous(clients, endpoint)
        update_recorded(clients, plan, previous, waiter)
        action = "updated"
    return finish(clients, plan, previous, action)
