"""What an endpoint runs and how to wait for it, shared by deploy and rollback: DescribeEndpoint,
polling until the endpoint settles, the check that it runs the requested config, and the
`previous-endpoint-config` tag a deploy records before it updates (what a rollback returns to).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .aws import Clients, DeployError, is_not_found, log

PREVIOUS_CONFIG_TAG = "previous-endpoint-config"
SETTLING = ("Creating", "Updating", "SystemUpdating", "RollingBack")
BROKEN = ("Failed", "OutOfService", "Deleting", "UpdateRollbackFailed")
DEFAULT_POLL_SECONDS = 30.0


class DeployFailed(DeployError):
    """The endpoint did not end up InService on the requested config."""


class UpdateFailed(DeployFailed):
    """An update of a running endpoint failed after the config it ran was recorded as its
    previous config (`previous`), so a rollback returns it to what it ran before the update."""

    def __init__(self, message: str, previous: str) -> None:
        super().__init__(message)
        self.previous = previous


@dataclass
class Waiter:
    """Polls DescribeEndpoint; `sleep` and `clock` are injectable so tests do not wait."""

    timeout: float
    poll_seconds: float = DEFAULT_POLL_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def describe_endpoint(clients: Clients, name: str) -> dict[str, Any] | None:
    try:
        return clients.sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def wait_until_settled(clients: Clients, name: str, waiter: Waiter) -> dict[str, Any]:
    """Describe the endpoint until its status is no longer Creating/Updating/...; return it.

    It raises DeployFailed when the timeout passes first, naming the last status seen.
    """
    start = waiter.clock()
    while True:
        endpoint = describe_endpoint(clients, name)
        if endpoint is None:
            raise DeployFailed(f"endpoint {name} disappeared while waiting for it")
        status = endpoint["EndpointStatus"]
        elapsed = waiter.clock() - start
        if status not in SETTLING:
            return endpoint
        if elapsed >= waiter.timeout:
            raise DeployFailed(
                f"timed out after {elapsed:.0f} s waiting for endpoint {name}: still {status} "
                f"(on {endpoint.get('EndpointConfigName')}); "
                "raise --timeout or check the endpoint in the console"
            )
        log(f"  {name}: {status} ({elapsed:.0f} s)")
        waiter.sleep(waiter.poll_seconds)


def verify(endpoint: dict[str, Any], config_name: str) -> None:
    """Success only if InService on `config_name` with no FailureReason; else DeployFailed."""
    name = endpoint["EndpointName"]
    status = endpoint["EndpointStatus"]
    running = endpoint.get("EndpointConfigName")
    reason = endpoint.get("FailureReason")
    if status != "InService":
        raise DeployFailed(f"endpoint {name} ended {status}, not InService: {reason or 'no reason given'}")
    if running != config_name:
        raise DeployFailed(
            f"endpoint {name} reverted to {running} instead of running {config_name}: "
            f"{reason or 'SageMaker rolled the update back (an alarm fired or the new fleet failed)'}"
        )
    if reason:
        raise DeployFailed(f"endpoint {name} runs {config_name} but reports a failure: {reason}")


def _tags(clients: Clients, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in clients.sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}


def previous_config(clients: Clients, endpoint: dict[str, Any]) -> str | None:
    """The config recorded on the endpoint before its last update, if any."""
    return _tags(clients, endpoint["EndpointArn"]).get(PREVIOUS_CONFIG_TAG)


def record_previous(clients: Clients, endpoint: dict[str, Any]) -> str:
    running = endpoint["EndpointConfigName"]
    if previous_config(clients, endpoint) != running:
        clients.sagemaker.add_tags(
            ResourceArn=endpoint["EndpointArn"], Tags=[{"Key": PREVIOUS_CONFIG_TAG, "Value": running}]
        )
    return running
