"""After the listing: show it, take the typed confirmation, delete in order and wait."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from .. import config
from ..config import Config
from ..deploy.aws import Clients, is_not_found
from . import apply
from .errors import TeardownError, UsageError
from .teardown_listing import Item, Listing

# Waiter pacing for DeleteEndpoint (minutes on SageMaker); stacks use bootstrap's pacing.
ENDPOINT_WAIT_DELAY_SECONDS = 15
ENDPOINT_WAIT_MAX_ATTEMPTS = 80

# kind -> (service, deleting operation, (waiter, its name parameter) or None)
KINDS: Mapping[str, tuple[str, str, tuple[str, str] | None]] = {
    "scaling policy": ("application-autoscaling", "delete_scaling_policy", None),
    "scalable target": ("application-autoscaling", "deregister_scalable_target", None),
    "endpoint": ("sagemaker", "delete_endpoint", ("endpoint_deleted", "EndpointName")),
    "endpoint config": ("sagemaker", "delete_endpoint_config", None),
    "model": ("sagemaker", "delete_model", None),
    "alarm": ("cloudwatch", "delete_alarms", None),
    "monitoring schedule": ("sagemaker", "delete_monitoring_schedule", None),
    "data quality job definition": ("sagemaker", "delete_data_quality_job_definition", None),
    "model quality job definition": ("sagemaker", "delete_model_quality_job_definition", None),
    "model package": ("sagemaker", "delete_model_package", None),
    "model package group": ("sagemaker", "delete_model_package_group", None),
    "stack": ("cloudformation", "delete_stack", ("stack_delete_complete", "StackName")),
}


def _plural(kind: str, count: int) -> str:
    if count == 1:
        return f"1 {kind}"
    return f"{count} {kind[:-1]}ies" if kind.endswith("y") else f"{count} {kind}s"


def render(cfg: Config, listing: Listing) -> list[str]:
    """The listing as text lines: per account, a header with counts, then one line per resource."""
    by_account: dict[str, list[Item]] = {}
    for item in listing.items:
        by_account.setdefault(item.account, []).append(item)
    lines = []
    for account, items in by_account.items():
        roles = ", ".join(r for r in config.ACCOUNT_ROLES if cfg.account_id(r) == account)
        kinds = [item.kind for item in items]
        summary = ", ".join(_plural(kind, kinds.count(kind)) for kind in KINDS if kind in kinds)
        lines.append(f"account {account} ({roles}): {len(items)} to delete: {summary}")
        lines += [f"  {item.kind:<20} {item.name}" for item in items]
    lines += listing.kept + [f"BLOCKED: {line}" for line in listing.blockers]
    if listing.items:
        lines.append(f"total: {len(listing.items)} resources in {len(by_account)} accounts")
    else:
        lines.append("nothing to delete")
    return lines


def delete(listing: Listing, clients: dict[str, Clients], log: Callable[[str], None]) -> int:
    """Delete every item in order, waiting for endpoints and stacks; return how many were deleted."""
    from botocore.exceptions import ClientError, WaiterError

    for item in listing.items:
        service, operation, waiter = KINDS[item.kind]
        client = clients[item.account](service)
        log(f"deleting {item.kind} {item.name} ({item.account})")
        try:
            getattr(client, operation)(**item.request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if not (is_not_found(exc) or code == "ObjectNotFoundException"):
                raise
            log(f"  {item.kind} {item.name} was already gone")
            continue
        if waiter is None:
            continue
        name, param = waiter
        pacing = (
            {"Delay": ENDPOINT_WAIT_DELAY_SECONDS, "MaxAttempts": ENDPOINT_WAIT_MAX_ATTEMPTS}
            if item.kind == "endpoint"
            else {"Delay": apply.WAIT_DELAY_SECONDS, "MaxAttempts": apply.WAIT_MAX_ATTEMPTS}
        )
        try:
            client.get_waiter(name).wait(**{param: item.name}, WaiterConfig=pacing)
        except WaiterError as exc:
            reason = apply.failure_reason(client, item.name) if item.kind == "stack" else str(exc)
            raise TeardownError(
                f"{item.kind} {item.name} in {item.account} was not deleted: {reason}"
            ) from exc
    return len(listing.items)


def confirm(cfg: Config, answer: str | None, count: int, stdin: TextIO) -> None:
    """Raise UsageError unless the model name was given (--yes) or typed."""
    expected = cfg.project.model_name
    if answer is None:
        print(
            f"Type the model name {expected!r} to delete these {count} resources: ", end="", file=sys.stderr
        )
        sys.stderr.flush()
        line = stdin.readline()
        if not stdin.isatty():  # a terminal echoes the answer and its newline; a pipe does not
            print(file=sys.stderr)
        if not line:
            raise UsageError("no confirmation (end of input); nothing was deleted")
        answer = line.strip()
    if answer != expected:
        raise UsageError(f"confirmation {answer!r} is not the model name {expected!r}; nothing was deleted")
