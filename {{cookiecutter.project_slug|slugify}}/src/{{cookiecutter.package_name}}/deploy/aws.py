"""AWS plumbing shared by deploy and promotion: clients from an injected session, errors, logging.

Every command works with exactly the credentials it is given (the workflow configures one
OIDC role per account); clients are created from a boto3 Session passed in, never at import
time, so tests can hand in sessions for simulated accounts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from ..cli_support import EXIT_USAGE, UsageError, fail
from ..config import Config, ConfigError


class DeployError(RuntimeError):
    """A registry, deploy or rollback step failed; the message is one line for the job log."""


def log(message: str) -> None:
    """Human-readable progress goes to stderr; stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", str(exc))


def is_not_found(exc: ClientError) -> bool:
    """SageMaker reports a missing resource as ValidationException 'Could not find ...'."""
    code = error_code(exc)
    if code in ("ResourceNotFound", "ResourceNotFoundException", "NotFoundException"):
        return True
    message = error_message(exc).lower()
    return code == "ValidationException" and (
        "could not find" in message or "does not exist" in message or "not found" in message
    )


class Clients:
    """Lazily created, cached boto3 clients for one region from one session.

    `registry` holds the clients that read the shared model registry. By default they are
    these same clients: a workload account describes the versions of the group it deploys
    from with its own credentials, which the group's resource policy allows. Pass
    `registry_session` to read with other credentials (the tests pass the shared-services
    account's session, standing in for that resource policy, which moto does not model).
    """

    def __init__(self, session: Any, region: str, registry_session: Any = None) -> None:
        self.session = session
        self.region = region
        self._cache: dict[str, Any] = {}
        self._registry = Clients(registry_session, region) if registry_session is not None else None

    @property
    def registry(self) -> Clients:
        return self._registry or self

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self.session.client(service, region_name=self.region)
        return self._cache[service]

    @property
    def sagemaker(self) -> Any:
        return self("sagemaker")


def caller_account(clients: Clients) -> str:
    return clients("sts").get_caller_identity()["Account"]


def require_account(clients: Clients, cfg: Config, role: str, purpose: str) -> str:
    """Fail unless the credentials belong to the account of `role` (shared_services, qa, prod).

    It raises DeployError naming both accounts, so a job configured with the wrong OIDC role
    stops before it changes anything.
    """
    expected = cfg.account_id(role)
    actual = caller_account(clients)
    if actual != expected:
        raise DeployError(
            f"{purpose} must run with credentials for the {role} account {expected}, "
            f"but the current credentials are for account {actual}"
        )
    return actual


def run_guarded(command: Callable[[], int], github_output: bool = False) -> int:
    """Run one CLI command under the cli_support contract: its own status on success; on an
    error one `error: ...` line and 2 for usage or config errors, 1 for everything that failed.

    With `github_output`, $GITHUB_OUTPUT must be set: checked before the command runs, so a
    job that could not record the results changes nothing.
    """
    try:
        if github_output and not os.environ.get("GITHUB_OUTPUT"):
            raise UsageError("--github-output given but GITHUB_OUTPUT is not set")
        return command()
    except (UsageError, ConfigError) as exc:
        return fail(exc, EXIT_USAGE)
    except DeployError as exc:
        return fail(exc)
    except ClientError as exc:
        return fail(f"{exc.operation_name} failed: {error_code(exc)}: {error_message(exc)}")
    except NoCredentialsError:
        return fail(
            "no AWS credentials found: sign in (e.g. aws sso login --profile NAME) and set AWS_PROFILE, "
            "or run where the role's credentials are configured (the workflows assume them through OIDC)"
        )
    except ProfileNotFound as exc:
        return fail(f"{exc}; see aws configure list-profiles", EXIT_USAGE)
    except (BotoCoreError, OSError) as exc:
        return fail(exc)


def put_changed_alarms(
    cloudwatch: Any,
    alarms: list[dict[str, Any]],
    existing: dict[str, dict[str, Any]],
    fields: tuple[str, ...],
) -> int:
    """PutMetricAlarm for each alarm missing from `existing` or differing in one of `fields`."""
    put = 0
    for alarm in alarms:
        current = existing.get(alarm["AlarmName"])
        if current and all(current.get(k) == alarm.get(k) for k in fields):
            continue
        log(f"putting alarm {alarm['AlarmName']}")
        cloudwatch.put_metric_alarm(**alarm)
        put += 1
    return put
