"""The whole parsed config, `Config`: every section's settings, the derived names and their ARNs.

Build it with `load_config` or `parse` (module `loading`); `describe(cfg)` gives the derived
names as plain JSON (what `python -m <package>.config` prints).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .batch import ROLE_KEYS, Batch
from .champion import ChampionSettings
from .fields import ConfigError, _plain
from .monitoring import Monitoring
from .names import ACCOUNT_ROLES, ENVIRONMENTS, GROUP_KINDS, ROLE_ACCOUNTS, ROLE_SUFFIXES, Names
from .retraining import Notifications, Retraining
from .settings import Branches, Environment, GitHub, ModelSettings, PipelineSettings, Project, TestThresholds


@dataclass(frozen=True)
class Config:
    """The whole parsed config. Build it with `load_config` or `parse`."""

    project: Project
    github: GitHub
    region: str
    accounts: Mapping[str, str]
    branches: Branches
    model: ModelSettings
    pipeline: PipelineSettings
    environments: Mapping[str, Environment]
    local_tests: TestThresholds
    lock_file: str
    # Optional: the shared artifact key's ARN (else its alias ARN in the shared-services account).
    kms_key_arn: str
    names: Names = field(repr=False)
    source: str = field(default="config/project.json", compare=False)
    # The parsed document, kept read-only so a variant (`with_accounts`) is parsed by the same rules.
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Optional: the role ARN pattern the data-scientist role trusts ("" = no such role).
    data_scientist_principal: str = ""
    # When retrain.yml retrains, and where `notify` publishes (config/retraining.py).
    retraining: Retraining = field(default_factory=Retraining)
    notifications: Notifications = field(default_factory=Notifications)
    # How a candidate is compared with the prod champion (config/champion.py).
    champion: ChampionSettings = field(default_factory=ChampionSettings)
    # Model Monitor schedules on the endpoints (config/monitoring.py).
    monitoring: Monitoring = field(default_factory=Monitoring)
    # Batch Transform runs per environment and the scheduled run's source (config/batch.py).
    batch: Batch = field(default_factory=Batch)

    def account_id(self, role: str) -> str:
        """Account ID for an account role (data_science, shared_services, qa, prod)."""
        try:
            return self.accounts[role]
        except KeyError as exc:
            raise ConfigError(
                f"unknown account role {role!r}; expected one of {', '.join(ACCOUNT_ROLES)}"
            ) from exc

    def environment(self, name: str) -> Environment:
        """One deploy environment (qa or prod); ConfigError for an unknown name."""
        try:
            return self.environments[name]
        except KeyError as exc:
            raise ConfigError(
                f"unknown environment {name!r}; expected one of {', '.join(self.environments)}"
            ) from exc

    def tests_for(self, name: str) -> TestThresholds:
        """Endpoint test thresholds for local, qa or prod."""
        if name == "local":
            return self.local_tests
        return self.environment(name).tests

    def group(self, kind: str) -> str:
        """Model package group name for a kind: feature, dev or prod."""
        try:
            return self.names.groups[kind]
        except KeyError as exc:
            raise ConfigError(
                f"unknown group kind {kind!r}; expected one of {', '.join(GROUP_KINDS)}"
            ) from exc

    def group_arn(self, kind: str) -> str:
        return (
            f"arn:aws:sagemaker:{self.region}:{self.account_id('shared_services')}:"
            f"model-package-group/{self.group(kind)}"
        )

    def packages_arn(self, kind: str) -> str:
        """ARN pattern of every version in the `kind` group."""
        return (
            f"arn:aws:sagemaker:{self.region}:{self.account_id('shared_services')}:"
            f"model-package/{self.group(kind)}/*"
        )

    def role_name(self, key: str) -> str:
        try:
            return self.names.roles[key]
        except KeyError as exc:
            raise ConfigError(f"unknown role {key!r}; expected one of {', '.join(ROLE_SUFFIXES)}") from exc

    def role_arn(self, account_role: str, key: str) -> str:
        """ARN of a derived IAM role (`ROLE_SUFFIXES` key) in the given account."""
        return f"arn:aws:iam::{self.account_id(account_role)}:role/{self.role_name(key)}"

    def github_role_arn(self, key: str) -> str:
        """ARN of one of the GitHub OIDC roles, in the account it lives in."""
        return self.role_arn(ROLE_ACCOUNTS[key], key)

    def deploy_role_key(self, env: str) -> str:
        return f"github_deploy_{self.environment(env).name}"

    def alias_arn(self, account_role: str, alias: str) -> str:
        if not alias.startswith("alias/"):
            alias = f"alias/{alias}"
        return f"arn:aws:kms:{self.region}:{self.account_id(account_role)}:{alias}"

    def artifact_key(self) -> str:
        """The shared artifact key: `registry.kms_key_arn` if set, else its alias ARN in the
        shared-services account (a bare alias would be looked up in the caller's account)."""
        return self.kms_key_arn or self.alias_arn("shared_services", self.names.kms_key_alias)

    @property
    def single_account(self) -> bool:
        return len(set(self.accounts.values())) == 1

    def with_accounts(self, accounts: Mapping[str, str]) -> Config:
        """The same config in other accounts, parsed again, so every derived name follows."""
        document = json.loads(json.dumps(self.document, default=_plain))
        document["aws"]["accounts"] = dict(accounts)
        from .loading import parse

        return parse(document, source=self.source)

    def with_input_data_uri(self, uri: str) -> Config:
        """The same config reading another dataset (a command-line override for one run)."""
        from dataclasses import replace

        return replace(self, pipeline=replace(self.pipeline, input_data_uri=uri))


def describe(cfg: Config) -> dict[str, Any]:
    """The derived names and the resources they belong to, as plain JSON."""
    names = cfg.names
    return {
        "region": cfg.region,
        "accounts": dict(cfg.accounts),
        "artifact_bucket": names.artifact_bucket,
        "artifact_kms_key": cfg.artifact_key(),
        "input_data_uri": cfg.pipeline.input_data_uri,
        "model_package_groups": dict(names.groups),
        "pipelines": dict(names.pipelines),
        "roles": {key: cfg.github_role_arn(key) for key in ROLE_ACCOUNTS}
        | (
            {"data_scientist": cfg.role_arn("data_science", "data_scientist")}
            if cfg.data_scientist_principal
            else {}
        )
        | {f"sagemaker_endpoint_{env}": cfg.role_arn(env, "sagemaker_endpoint") for env in ENVIRONMENTS},
        "environments": {env.name: _environment(cfg, env) for env in cfg.environments.values()},
    }


def _environment(cfg: Config, env: Environment) -> dict[str, Any]:
    """One environment: its endpoint and data capture, or (batch-only) where its transform tests
    write; where its batch jobs read and write, when it has batch settings."""
    described: dict[str, Any] = {
        "account": env.account,
        "deploys_from": env.group,
        "endpoint": env.endpoint_name,
        "endpoint_type": env.endpoint.kind,
    }
    bucket = f"s3://{env.capture_bucket}/"
    if env.endpoint.batch_only:
        tests = cfg.names.batch_test_prefixes[env.name]
        described["transform_tests"] = {use: bucket + prefix for use, prefix in tests.items()}
    else:
        described |= {"data_capture": env.capture_uri, "data_capture_kms_key": env.capture_key_arn}
    if env.name in cfg.batch.environments:
        batch = cfg.batch.environment(env.name)
        described["batch"] = {
            "input": batch.input_uri,
            "output": batch.output_uri,
            "schedule": batch.schedule,
            "role": cfg.role_arn(env.name, ROLE_KEYS[env.name]),
        }
    return described
