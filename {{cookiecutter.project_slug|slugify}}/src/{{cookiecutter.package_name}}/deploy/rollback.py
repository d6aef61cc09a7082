"""Put an endpoint back on the config it ran before the last deploy.

The deploy records the running config on the endpoint's `previous-endpoint-config` tag just
before it updates, and never deletes that config or its model, so a rollback is one
UpdateEndpoint (all traffic at once, no alarm triggers) plus the same wait and check as a
deploy. Autoscaling is handled as a deploy handles it: when the previous config runs on
other instance types than the running one, the scalable target is deregistered before the
update (SageMaker refuses the update otherwise), and after the verified rollback the
environment's autoscaling settings are applied to the restored variant.

Every rollback goes through `rollback`: the rollback command, the endpoint tests'
`--rollback-on-failure`, and `deploy_or_roll_back` when an update fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..config import EndpointSettings
from .aws import Clients, DeployError, error_message, is_not_found, log
from .deploy import DeployResult, deploy
from .endpoint import DeployPlan
from .scaling import autoscales, config_instance_types, instance_types, release_scaling, restore_autoscaling
from .state import (
    SETTLING,
    DeployFailed,
    UpdateFailed,
    Waiter,
    describe_endpoint,
    previous_config,
    verify,
    wait_until_settled,
)
from .update_policy import default_timeout, rollback_deployment_config


class RollbackFailed(DeployError):
    """The endpoint could not be put back on its previous config."""


@dataclass
class RollbackResult:
    endpoint_name: str
    from_config: str
    to_config: str
    changed: bool


def _describe_config(clients: Clients, name: str, config_name: str) -> dict[str, Any]:
    try:
        return clients.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError as exc:
        if is_not_found(exc):
            raise RollbackFailed(
                f"rollback failed: previous config {config_name} of {name} no longer exists"
            ) from exc
        raise


def rollback(clients: Clients, settings: EndpointSettings, waiter: Waiter | None = None) -> RollbackResult:
    """`rollback_config`; on a multi-model endpoint also restore the routes recorded before the
    last deploy (routes.restore_routes), which is all a deploy that only re-routed changed."""
    result = rollback_config(clients, settings, waiter)
    if settings.multi_model:
        from .routes import restore_routes

        try:
            endpoint = describe_endpoint(clients, settings.endpoint_name)
            if endpoint is not None and restore_routes(clients, endpoint):
                result = RollbackResult(result.endpoint_name, result.from_config, result.to_config, True)
        except ClientError as exc:
            raise RollbackFailed(
                f"rollback failed: {settings.endpoint_name} runs {result.to_config}, but its routes were "
                f"not restored ({exc.operation_name}: {error_message(exc)}); run the rollback again"
            ) from exc
    return result


def rollback_config(
    clients: Clients, settings: EndpointSettings, waiter: Waiter | None = None
) -> RollbackResult:
    """Update the endpoint back to its recorded previous config and wait until it runs it.

    With autoscaling on in `settings`, a scalable target on the variant is deregistered first
    when the previous config's instance types differ from the running config's, and the
    settings' target and policy are applied after the endpoint is verified InService on the
    previous config (read-only when they are in place). With autoscaling off, no Application
    Auto Scaling call is made (a deploy with autoscaling off leaves no target behind).

    It returns changed=False when the endpoint already runs that config (for example after
    SageMaker rolled a failed update back by itself) and its autoscaling needed no repair. It
    raises RollbackFailed when there is no endpoint, no recorded previous config, the config
    is gone, a call is refused, or the endpoint does not end InService on the previous config;
    running the rollback again then continues from where the endpoint is.
    """
    waiter = waiter or Waiter(timeout=default_timeout(settings))
    name = settings.endpoint_name
    try:
        endpoint = describe_endpoint(clients, name)
        if endpoint is None:
            raise RollbackFailed(f"rollback failed: endpoint {name} does not exist")
        if endpoint["EndpointStatus"] in SETTLING:
            log(f"endpoint {name} is {endpoint['EndpointStatus']}; waiting before rolling back")
            endpoint = wait_until_settled(clients, name, waiter)
        running = endpoint.get("EndpointConfigName", "")
        target = previous_config(clients, endpoint)
        if not target:
            raise RollbackFailed(
                f"rollback failed: endpoint {name} has no recorded previous config (first deploy?)"
            )
        if target == running and endpoint["EndpointStatus"] == "InService":
            log(f"endpoint {name} already runs its previous config {target}; nothing to roll back")
            repairs = 0
            if autoscales(settings):
                # A deploy that deregistered the target may have been reverted by SageMaker.
                repairs = restore_autoscaling(clients, settings, config_instance_types(clients, target) or {})
            return RollbackResult(name, running, target, repairs > 0)
        restored = instance_types(_describe_config(clients, name, target)["ProductionVariants"])
        if autoscales(settings):
            release_scaling(clients, settings, config_instance_types(clients, running), restored)
        log(f"rolling endpoint {name} back: {running} -> {target}")
        request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": target}
        deployment = rollback_deployment_config(settings)
        if deployment:
            request["DeploymentConfig"] = deployment
        clients.sagemaker.update_endpoint(**request)
        verify(wait_until_settled(clients, name, waiter), target)
        log(f"endpoint {name} is back on {target}")
        try:
            restore_autoscaling(clients, settings, restored)
        except ClientError as exc:
            raise RollbackFailed(
                f"rollback failed: {name} is back on {target}, but its autoscaling was not applied "
                f"({exc.operation_name}: {error_message(exc)}); run the rollback again to apply it"
            ) from exc
    except DeployFailed as exc:
        raise RollbackFailed(f"rollback failed: {exc}") from exc
    except ClientError as exc:
        raise RollbackFailed(f"rollback failed: {exc.operation_name}: {error_message(exc)}") from exc
    return RollbackResult(name, running, target, True)


def deploy_or_roll_back(clients: Clients, plan: DeployPlan, waiter: Waiter | None = None) -> DeployResult:
    """`deploy`, and when the update of a running endpoint fails, `rollback` to the config it ran.

    It raises DeployFailed either way, naming the deploy's failure and where the endpoint is
    now (or why the rollback failed too). A failure before the running config is recorded on
    the endpoint (before any change to it) and a failed first deploy have nothing to go back
    to: they raise as `deploy` does.
    """
    from .multi_model import SetPlan, deploy_set  # it builds on deploy, as this module does

    waiter = waiter or Waiter(timeout=plan.timeout)
    try:
        return (
            deploy_set(clients, plan, waiter) if isinstance(plan, SetPlan) else deploy(clients, plan, waiter)
        )
    except UpdateFailed as exc:
        log(f"deploy failed ({exc}); rolling {plan.settings.endpoint_name} back to {exc.previous}")
        try:
            result = rollback(clients, plan.settings, waiter)
        except RollbackFailed as failure:
            raise DeployFailed(f"{exc}, and {failure}") from exc
        raise DeployFailed(f"{exc}; {result.endpoint_name} is back on {result.to_config}") from exc
