"""Put an endpoint back on the config it ran before the last deploy.

The deploy records the running config on the endpoint's `previous-endpoint-config` tag just
before it updates, and never deletes that config or its model, so a rollback is one
UpdateEndpoint (all traffic at once, no alarm triggers) plus the same wait and check as a
deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..config import EndpointSettings
from .aws import Clients, DeployError, error_message, is_not_found, log
from .deploy import (
    SETTLING,
    DeployFailed,
    Waiter,
    describe_endpoint,
    previous_config,
    verify,
    wait_until_settled,
)
from .endpoint import default_timeout, rollback_deployment_config


class RollbackFailed(DeployError):
    """The endpoint could not be put back on its previous config."""


@dataclass
class RollbackResult:
    endpoint_name: str
    from_config: str
    to_config: str
    changed: bool


def rollback(clients: Clients, settings: EndpointSettings, waiter: Waiter | None = None) -> RollbackResult:
    """Update the endpoint back to its recorded previous config and wait until it runs it.

    It returns changed=False when the endpoint already runs that config (for example after
    SageMaker rolled a failed update back by itself). It raises RollbackFailed when there is no
    endpoint, no recorded previous config, the config is gone, the update is refused, or the
    endpoint does not end InService on the previous config.
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
            return RollbackResult(name, running, target, False)
        try:
            clients.sagemaker.describe_endpoint_config(EndpointConfigName=target)
        except ClientError as exc:
            if is_not_found(exc):
                raise RollbackFailed(
                    f"rollback failed: previous config {target} of {name} no longer exists"
                ) from exc
            raise
        log(f"rolling endpoint {name} back: {running} -> {target}")
        request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": target}
        deployment = rollback_deployment_config(settings)
        if deployment:
            request["DeploymentConfig"] = deployment
        clients.sagemaker.update_endpoint(**request)
        verify(wait_until_settled(clients, name, waiter), target)
    except DeployFailed as exc:
        raise RollbackFailed(f"rollback failed: {exc}") from exc
    except ClientError as exc:
        raise RollbackFailed(f"rollback failed: {exc.operation_name}: {error_message(exc)}") from exc
    log(f"endpoint {name} is back on {target}")
    return RollbackResult(name, running, target, True)
