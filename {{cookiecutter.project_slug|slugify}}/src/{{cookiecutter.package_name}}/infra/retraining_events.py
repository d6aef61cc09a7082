"""The optional retraining event source: infra/retraining-events.yaml stacks, and the token step.

With `retraining.on_new_data` true, bootstrap deploys `<model>-retraining-new-data` in the
shared-services account (a rule on new objects under the artifact bucket's datasets prefix, which
the shared-services stack then sends to EventBridge: its `DatasetEvents` parameter); with
`retraining.on_drift` true, `<model>-retraining-drift` in each workload account hosting an
environment of `monitoring.environments` (a rule on its data-drift alarms going to ALARM; the
alarms are named by deploy/monitoring_requests.py). Each stack turns its event into
`POST https://api.github.com/repos/OWNER/REPO/dispatches` (event_type new-data or drift) through an
EventBridge connection and API destination.

The GitHub token is never in the template, the config or the repository: CloudFormation creates
each connection with `PLACEHOLDER_TOKEN`, which GitHub refuses, and `token_steps` prints the
`aws events update-connection` command that puts the real token into the connection's own
Secrets Manager secret. No API call here.
"""

from __future__ import annotations

import json

from .. import config
from ..config import Config
from ..deploy.monitoring_requests import drift_alarm_prefix

TEMPLATE = "retraining-events.yaml"
NEW_DATA, DRIFT = "new-data", "drift"
# The connection's ApiKeyValue in the template: not a token; GitHub answers 401 until it is replaced.
PLACEHOLDER_TOKEN = "Bearer token-not-set-run-aws-events-update-connection"  # noqa: S105 - no secret
TOKEN_ENV = "GITHUB_DISPATCH_TOKEN"  # noqa: S105 - a shell variable's name


def resource_name(cfg: Config, source: str) -> str:
    """The name of the connection, API destination, rule and role of one event source."""
    return f"{cfg.project.model_name}-retraining-{source}"


def dispatch_url(cfg: Config) -> str:
    return f"https://api.github.com/repos/{cfg.github.owner}/{cfg.github.repo}/dispatches"


def bucket_parameters(cfg: Config) -> dict[str, str]:
    """What the shared-services stack takes: whether the artifact bucket sends EventBridge events."""
    return {"DatasetEvents": "true" if cfg.retraining.on_new_data else "false"}


def drift_accounts(cfg: Config, every: bool = False) -> dict[str, list[str]]:
    """Each workload account mapped to its monitored environments (`every`: all environments)."""
    hosts: dict[str, list[str]] = {}
    for env in config.ENVIRONMENTS:
        if every or env in cfg.monitoring.environments:
            hosts.setdefault(cfg.environment(env).account, []).append(env)
    return hosts


def event_stacks(cfg: Config, every: bool = False) -> list[tuple[str, str, str, str, dict[str, str]]]:
    """(plan key, stack name suffix, account role, account, parameters) of each event-source stack
    the config turns on (`every`: as if both were on and every environment monitored, for the checks)."""
    common = {
        "ModelName": cfg.project.model_name,
        "GitHubOwner": cfg.github.owner,
        "GitHubRepo": cfg.github.repo,
    }
    stacks = []
    if every or cfg.retraining.on_new_data:
        stacks.append(
            (
                f"retraining-{NEW_DATA}",
                f"retraining-{NEW_DATA}",
                "shared_services",
                cfg.account_id("shared_services"),
                {
                    **common,
                    "EventSource": NEW_DATA,
                    "ArtifactBucketName": cfg.names.artifact_bucket,
                    "DatasetsPrefix": cfg.names.datasets_prefix,
                },
            )
        )
    if every or cfg.retraining.on_drift:
        for account, envs in drift_accounts(cfg, every).items():
            prefixes = [drift_alarm_prefix(cfg.environment(env).endpoint_name) for env in envs]
            stacks.append(
                (
                    f"retraining-{DRIFT}:{account}",
                    f"retraining-{DRIFT}",
                    cfg.environment(envs[0]).account_role,
                    account,
                    {
                        **common,
                        "EventSource": DRIFT,
                        "DriftAlarmPrefix": prefixes[0],
                        "SecondDriftAlarmPrefix": prefixes[1] if len(prefixes) > 1 else "",
                    },
                )
            )
    return stacks


def token_steps(cfg: Config) -> list[str]:
    """The commands that set the GitHub token of each connection the config turns on (none: [])."""
    stacks = event_stacks(cfg)
    if not stacks:
        return []
    value = {"ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": f"Bearer ${TOKEN_ENV}"}}
    # Double-quoted for the shell, so $GITHUB_DISPATCH_TOKEN expands and the quotes inside stay.
    auth = json.dumps(value).replace('"', '\\"')
    lines = [
        "# Retraining event source: each connection holds a placeholder until you set the GitHub token",
        f"# (fine-grained, 'Contents: read and write' on {cfg.github.owner}/{cfg.github.repo} only); until",
        "# then GitHub refuses its events (401) and they wait in the stack's dead-letter queue.",
        f"#   read -rs {TOKEN_ENV}   # paste the token: it stays out of the shell history",
    ]
    for _key, _suffix, role, account, params in stacks:
        name = resource_name(cfg, params["EventSource"])
        lines += [
            f"# with credentials of account {account} ({role}):",
            f"aws events update-connection --region {cfg.region} --name {name} "
            f'--authorization-type API_KEY --auth-parameters "{auth}"',
        ]
    return lines
