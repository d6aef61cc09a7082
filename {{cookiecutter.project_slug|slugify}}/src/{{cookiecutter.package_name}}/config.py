"""The repository's one config: `config/project.json`, parsed once into frozen, validated values.

Everything that varies between repositories baked from the template (accounts, region, model
name, branches, instance types, thresholds, endpoint settings per environment) lives in that
file. `load_config()` reads it and returns a `Config`; code receives that value, never the raw
dict. A bad file raises ConfigError with one line naming the key path, the value found and
what is expected. Unknown keys are refused too, so a typo cannot be ignored silently.

Every derived name (artifact bucket, KMS aliases, model package groups, pipelines, endpoints,
IAM roles, capture buckets, the default input data URI) is computed here and nowhere
else; `Config.names` holds them. Set MLOPS_CONFIG to read another file (tests do).

Only the standard library is used: the deploy jobs install boto3 alone.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "config" / "project.json"
ACCOUNT_ROLES = ("data_science", "shared_services", "qa", "prod")
# Deploy environments, in release order. Each runs in the account of the same name and deploys
# from one registry group: QA from dev (not yet approved versions), prod from prod.
ENVIRONMENTS = ("qa", "prod")
ENVIRONMENT_GROUPS = MappingProxyType({"qa": "dev", "prod": "prod"})
# Registry groups and the pipelines that write them (prod is written by promotion only).
GROUP_KINDS = ("feature", "dev", "prod")
PIPELINE_KINDS = ("feature", "dev")
FRAMEWORKS = ("sklearn", "xgboost")
# The hyperparameters steps/train.py accepts per framework, with their types (a test keeps this
# equal to train.py's own argument parser, which runs alone in the framework image).
HYPERPARAMETERS = MappingProxyType(
    {
        "sklearn": MappingProxyType({"n_estimators": int, "max_depth": int, "learning_rate": float}),
        "xgboost": MappingProxyType({"num_round": int, "max_depth": int, "eta": float}),
    }
)
GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")
REAL_TIME = "real-time"
SERVERLESS = "serverless"
TRAFFIC_SHIFTS = ("CANARY", "LINEAR", "ALL_AT_ONCE")
# S3 bucket names are at most 63 characters: `<model[:24]>-artifacts-<12 digits>-<region>`
# fits for every region name SageMaker has.
BUCKET_MODEL_PREFIX = 24
ACCOUNT_ID = re.compile(r"^\d{12}$")
SAGEMAKER_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,39}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# The endpoint suite's burst is one request per sample row at most this many.
MAX_BURST_REQUESTS = 1000
DURATION = re.compile(r"^P(\d+D)?(T(\d+H)?(\d+M)?)?$")


class ConfigError(ValueError):
    """The config file is missing, unreadable or holds a setting the code cannot use."""


def config_path() -> Path:
    return Path(os.environ.get("MLOPS_CONFIG", DEFAULT_CONFIG))


# --- reading helpers: every error names the key path ------------------------------------------


class _Section:
    """A JSON object at a key path; each read checks type and marks the key as known."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or 'the config'} is {_show(data)}; expected an object")
        self.data = data
        self.path = path
        self.read: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, default: Any) -> Any:
        self.read.add(key)
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise ConfigError(f"{self.where(key)} is missing")
        return default

    def section(self, key: str) -> _Section:
        """An optional object (empty when absent)."""
        return _Section(self._get(key, {}), self.where(key))

    def required_section(self, key: str) -> _Section:
        return _Section(self._get(key, _REQUIRED), self.where(key))

    def text(
        self, key: str, default: Any = None, pattern: re.Pattern[str] | None = None, expected: str = ""
    ) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected a string")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected {expected}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = None) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if value not in options:
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected one of {', '.join(options)}")
        return value

    def number(self, key: str, low: float, high: float, default: Any = None, integer: bool = False) -> Any:
        value = self._get(key, _REQUIRED if default is None else default)
        kind = "a whole number" if integer else "a number"
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if ok and integer:
            ok = float(value).is_integer()
        if not ok or not low <= value <= high:
            raise ConfigError(
                f"{self.where(key)} is {_show(value)}; expected {kind} from {low:g} to {high:g}"
            )
        return int(value) if integer else float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected true or false")
        return value

    def done(self) -> None:
        """Refuse keys nothing read: a typo or a setting this version no longer has."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            known = ", ".join(sorted(self.read)) or "none"
            raise ConfigError(
                f"{self.where(unknown[0])} is not a setting this repository reads; known keys here: {known}"
            )


_REQUIRED: Any = object()


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, Mapping) else "an object"
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(value: Any) -> Any:
    """JSON encoder fallback for `_frozen` values."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


# --- the values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    name: str
    description: str
    slug: str
    package: str
    model_name: str


@dataclass(frozen=True)
class GitHub:
    owner: str
    repo: str
    owner_id: str
    repo_id: str
    # GitHub environment names: build (data-science), qa, prod.
    environments: Mapping[str, str]
    # Who must approve a prod release: `@user` or `@org/team` handles (CODEOWNERS, the prod
    # environment's required reviewers).
    prod_reviewers: tuple[str, ...] = ()

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"


@dataclass(frozen=True)
class Branches:
    dev: str
    prod: str
    feature_prefix: str


@dataclass(frozen=True)
class ModelSettings:
    framework: str
    target_column: str
    # Per framework; `params` gives the chosen framework's.
    hyperparameters: Mapping[str, Mapping[str, Any]]

    @property
    def params(self) -> Mapping[str, Any]:
        return self.hyperparameters[self.framework]


@dataclass(frozen=True)
class PipelineSettings:
    input_data_uri: str
    processing_instance_type: str
    training_instance_type: str
    metric: str
    metric_threshold: float
    framework_versions: Mapping[str, str]
    retry_attempts: int
    cache_expire_after: str


@dataclass(frozen=True)
class EndpointSettings:
    """One environment's endpoint (`environments.<env>.endpoint`), validated.

    - type: "real-time" or "serverless" (serverless is the cheap QA option; it supports neither
      autoscaling nor data capture);
    - instance_type / instance_count (real-time), serverless.memory_mb / max_concurrency;
    - autoscaling: target tracking on SageMakerVariantInvocationsPerInstance
      (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling.html);
    - data_capture: requests and responses to the environment's capture bucket
      (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html);
    - traffic_shifting: blue/green CANARY, LINEAR or ALL_AT_ONCE
      (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html);
    - alarms: 5XX errors and p99 model latency; a real-time update rolls back when one fires.
    """

    env: str
    endpoint_name: str
    kind: str
    instance_type: str
    instance_count: int
    serverless: Mapping[str, int]
    autoscaling: Mapping[str, Any]
    data_capture: Mapping[str, Any]
    traffic: Mapping[str, Any]
    alarms: Mapping[str, float]

    @property
    def real_time(self) -> bool:
        return self.kind == REAL_TIME


@dataclass(frozen=True)
class TestThresholds:
    """Endpoint test thresholds of one environment (`environments.<env>.tests`)."""

    burst_requests: int
    max_p50_ms: float
    max_p95_ms: float
    max_error_rate: float
    min_accuracy: float = 0.8


@dataclass(frozen=True)
class Environment:
    """A deploy environment: where it runs, which group it deploys from, its endpoint and tests."""

    name: str
    account_role: str
    account: str
    github_environment: str
    group_kind: str
    group: str
    endpoint_name: str
    capture_bucket: str
    capture_key_alias: str
    endpoint: EndpointSettings
    tests: TestThresholds
    capture_key_region: str = ""

    @property
    def capture_uri(self) -> str:
        """Where data capture writes: the capture bucket of the account that serves the endpoint."""
        return f"s3://{self.capture_bucket}/data-capture/{self.name}"

    @property
    def capture_key_arn(self) -> str:
        """The capture key's alias ARN in that account (a bare alias is looked up in the caller's)."""
        return f"arn:aws:kms:{self.capture_key_region}:{self.account}:{self.capture_key_alias}"

    @property
    def approved_only(self) -> bool:
        """Prod takes Approved versions only (SageMaker enforces it too for models built from a
        versioned package ARN); QA runs the version the dev push has just registered."""
        return self.group_kind == "prod"


@dataclass(frozen=True)
class Names:
    """Every derived resource name; computed in `derive_names` only."""

    artifact_bucket: str
    kms_key_alias: str
    capture_key_alias: str
    groups: Mapping[str, str]
    pipelines: Mapping[str, str]
    endpoints: Mapping[str, str]
    capture_buckets: Mapping[str, str]
    roles: Mapping[str, str]
    datasets_prefix: str
    default_input_data_uri: str


ROLE_SUFFIXES = MappingProxyType(
    {
        "github_build": "github-build",
        "github_registry": "github-registry",
        "github_deploy_qa": "github-deploy-qa",
        "github_deploy_prod": "github-deploy-prod",
        "sagemaker_pipeline": "sagemaker-pipeline",
        "sagemaker_endpoint": "sagemaker-endpoint",
    }
)
# The account each role lives in.
ROLE_ACCOUNTS = MappingProxyType(
    {
        "github_build": "data_science",
        "github_registry": "shared_services",
        "github_deploy_qa": "qa",
        "github_deploy_prod": "prod",
        "sagemaker_pipeline": "data_science",
    }
)


def derive_names(model: str, region: str, accounts: Mapping[str, str]) -> Names:
    """All resource names from the model name, region and account IDs."""
    bucket = f"{model[:BUCKET_MODEL_PREFIX]}-artifacts-{accounts['shared_services']}-{region}"
    datasets = "datasets/"
    return Names(
        artifact_bucket=bucket,
        kms_key_alias=f"alias/{model}-artifacts",
        capture_key_alias=f"alias/{model}-capture",
        groups=MappingProxyType({kind: f"{model}-{kind}" for kind in GROUP_KINDS}),
        pipelines=MappingProxyType({kind: f"{model}-{kind}" for kind in PIPELINE_KINDS}),
        endpoints=MappingProxyType({env: f"{model}-{env}" for env in ENVIRONMENTS}),
        capture_buckets=MappingProxyType({env: f"{model}-capture-{accounts[env]}" for env in ENVIRONMENTS}),
        roles=MappingProxyType({key: f"{model}-{suffix}" for key, suffix in ROLE_SUFFIXES.items()}),
        datasets_prefix=datasets,
        default_input_data_uri=f"s3://{bucket}/{datasets}sample.csv",
    )


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
        return parse(document, source=self.source)

    def with_input_data_uri(self, uri: str) -> Config:
        """The same config reading another dataset (a command-line override for one run)."""
        from dataclasses import replace

        return replace(self, pipeline=replace(self.pipeline, input_data_uri=uri))


# --- parsing ------------------------------------------------------------------------------------


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the config file; ConfigError names the first thing wrong."""
    path = Path(path) if path else config_path()
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    try:
        return parse(raw, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def read_raw(path: Path | str | None = None) -> dict[str, Any]:
    """The config file as plain JSON (for tools that rewrite it, and tests)."""
    return json.loads(Path(path or config_path()).read_text())


def parse(raw: Any, source: str = "config/project.json") -> Config:
    """Validate a config document (the JSON of config/project.json) into a `Config`."""
    top = _Section(raw, "")
    project = _parse_project(top.required_section("project"))
    github = _parse_github(top.required_section("github"))
    aws = top.required_section("aws")
    region = aws.text("region", pattern=REGION, expected="an AWS region name such as us-east-1")
    acc = aws.required_section("accounts")
    accounts = MappingProxyType(
        {
            role: acc.text(role, pattern=ACCOUNT_ID, expected="a 12-digit AWS account ID")
            for role in ACCOUNT_ROLES
        }
    )
    acc.done()
    aws.done()
    branches = _parse_branches(top.required_section("branches"))
    registry = top.section("registry")
    kms_key_arn = registry.text("kms_key_arn", default="")
    if kms_key_arn and not re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$", kms_key_arn):
        raise ConfigError(f'registry.kms_key_arn is {_show(kms_key_arn)}; expected a KMS key ARN or ""')
    registry.done()
    names = derive_names(project.model_name, region, accounts)
    model = _parse_model(top.required_section("model"))
    pipeline = _parse_pipeline(top.required_section("pipeline"), names, model.framework)
    envs = top.required_section("environments")
    environments = MappingProxyType(
        {
            env: _parse_environment(envs.required_section(env), env, names, accounts, github, region)
            for env in ENVIRONMENTS
        }
    )
    local = envs.section("local")
    local_tests = _parse_tests(local.required_section("tests"))
    local.done()
    envs.done()
    lock_file = top.text(
        "lock_file",
        default="model.lock.json",
        pattern=re.compile(r"^[\w.-]+\.json$"),
        expected="a file name ending in .json",
    )
    top.done()
    return Config(
        project=project,
        github=github,
        region=region,
        accounts=accounts,
        branches=branches,
        model=model,
        pipeline=pipeline,
        environments=environments,
        local_tests=local_tests,
        lock_file=lock_file,
        kms_key_arn=kms_key_arn,
        names=names,
        source=source,
        document=_frozen(raw),
    )


def _parse_project(s: _Section) -> Project:
    model_name = s.data.get("model_name")
    if isinstance(model_name, str) and model_name.startswith("xn--"):
        raise ConfigError(
            f"project.model_name is {_show(model_name)}; S3 bucket names may not start with xn--"
        )
    project = Project(
        name=s.text("name"),
        description=s.text("description", default=""),
        slug=s.text("slug"),
        package=s.text(
            "package", pattern=re.compile(r"^[a-z_][a-z0-9_]*$"), expected="a Python package name"
        ),
        model_name=s.text(
            "model_name",
            pattern=SAGEMAKER_NAME,
            expected="lowercase letters, digits and hyphens, at most 40 characters, starting and ending "
            "with a letter or digit",
        ),
    )
    s.done()
    return project


def _parse_github(s: _Section) -> GitHub:
    envs = s.section("environments")
    environments = MappingProxyType(
        {
            key: envs.text(key, default=default)
            for key, default in (("build", "data-science"), ("qa", "qa"), ("prod", "prod"))
        }
    )
    envs.done()
    digits = re.compile(r"^\d*$")
    github = GitHub(
        owner=s.text("owner", pattern=GITHUB_NAME, expected="a GitHub user or organisation name"),
        repo=s.text("repo", pattern=GITHUB_NAME, expected="a GitHub repository name"),
        owner_id=str(
            s.text("owner_id", default="", pattern=digits, expected='GitHub\'s numeric owner ID or ""')
        ),
        repo_id=str(
            s.text("repo_id", default="", pattern=digits, expected='GitHub\'s numeric repository ID or ""')
        ),
        environments=environments,
        prod_reviewers=_reviewers(s),
    )
    s.done()
    return github


REVIEWER = re.compile(r"^@[A-Za-z0-9](?:-?[A-Za-z0-9])*(?:/[A-Za-z0-9._-]+)?$")


def _reviewers(s: _Section) -> tuple[str, ...]:
    value = s._get("prod_reviewers", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and REVIEWER.match(v) for v in value):
        raise ConfigError(
            f"{s.where('prod_reviewers')} is {_show(value)}; "
            "expected a list of GitHub handles, each @user or @org/team"
        )
    return tuple(value)


def _parse_branches(s: _Section) -> Branches:
    branch = re.compile(r"^[A-Za-z0-9._/-]+$")
    expected = "a branch name (letters, digits, . _ / -)"
    branches = Branches(
        dev=s.text("dev", pattern=branch, expected=expected),
        prod=s.text("prod", pattern=branch, expected=expected),
        feature_prefix=s.text(
            "feature_prefix", pattern=branch, expected=expected + "; an empty prefix would admit every branch"
        ),
    )
    s.done()
    if branches.dev == branches.prod:
        raise ConfigError(
            f"branches.dev and branches.prod are both {_show(branches.dev)}; expected two branches"
        )
    return branches


def _parse_model(s: _Section) -> ModelSettings:
    framework = s.choice("framework", FRAMEWORKS)
    target = s.text("target_column")
    hyper = s.required_section("hyperparameters")
    params = {}
    for name in FRAMEWORKS:
        section = hyper.section(name)
        values = {}
        for key, kind in HYPERPARAMETERS[name].items():
            if key in section.data:
                integer = kind is int
                values[key] = section.number(key, 1e-12 if not integer else 1, 1e9, integer=integer)
        section.read.update(HYPERPARAMETERS[name])  # list every valid name when refusing a typo
        section.done()
        params[name] = MappingProxyType(values)
    hyper.done()
    if not params[framework]:
        raise ConfigError(
            f"model.hyperparameters.{framework} is missing; the chosen framework needs its settings"
        )
    s.done()
    return ModelSettings(framework=framework, target_column=target, hyperparameters=MappingProxyType(params))


def _parse_pipeline(s: _Section, names: Names, framework: str) -> PipelineSettings:
    uri = s.text("input_data_uri", default="") or names.default_input_data_uri
    if not uri.startswith(f"s3://{names.artifact_bucket}/") or uri == f"s3://{names.artifact_bucket}/":
        raise ConfigError(
            f"pipeline.input_data_uri is {_show(uri)}; expected an object or prefix in the artifact "
            f"bucket, s3://{names.artifact_bucket}/... (the pipeline role reads only that bucket; "
            "make upload-data puts data there)"
        )
    versions = s.required_section("framework_versions")
    framework_versions = MappingProxyType(
        {name: versions.text(name) for name in FRAMEWORKS if name in versions.data}
    )
    versions.read.update(versions.data)
    versions.done()
    if framework not in framework_versions:
        raise ConfigError(f"pipeline.framework_versions.{framework} is missing; expected the image version")
    expected_type = "an ml.* instance type such as ml.m5.large"
    settings = PipelineSettings(
        input_data_uri=uri,
        processing_instance_type=s.text(
            "processing_instance_type", pattern=INSTANCE_TYPE, expected=expected_type
        ),
        training_instance_type=s.text(
            "training_instance_type", pattern=INSTANCE_TYPE, expected=expected_type
        ),
        metric=s.choice("metric", ("auc", "accuracy", "precision", "recall", "f1"), default="auc"),
        metric_threshold=s.number("metric_threshold", 0.0, 1.0),
        framework_versions=framework_versions,
        retry_attempts=s.number("retry_attempts", 0, 10, default=3, integer=True),
        cache_expire_after=s.text(
            "cache_expire_after",
            default="P30D",
            pattern=DURATION,
            expected="an ISO 8601 duration such as P30D",
        ),
    )
    if settings.metric_threshold <= 0:
        raise ConfigError(f"pipeline.metric_threshold is {settings.metric_threshold:g}; expected above 0")
    s.done()
    return settings


def _parse_tests(s: _Section) -> TestThresholds:
    tests = TestThresholds(
        burst_requests=s.number("burst_requests", 1, MAX_BURST_REQUESTS, integer=True),
        max_p50_ms=s.number("max_p50_ms", 1e-9, 3_600_000),
        max_p95_ms=s.number("max_p95_ms", 1e-9, 3_600_000),
        max_error_rate=s.number("max_error_rate", 0, 1),
        min_accuracy=s.number("min_accuracy", 0, 1, default=0.8),
    )
    s.done()
    return tests


def _parse_environment(
    s: _Section, env: str, names: Names, accounts: Mapping[str, str], github: GitHub, region: str
) -> Environment:
    endpoint = _parse_endpoint(s.required_section("endpoint"), env, names.endpoints[env])
    tests = _parse_tests(s.required_section("tests"))
    s.done()
    kind = ENVIRONMENT_GROUPS[env]
    return Environment(
        name=env,
        account_role=env,
        account=accounts[env],
        github_environment=github.environments[env],
        group_kind=kind,
        group=names.groups[kind],
        endpoint_name=names.endpoints[env],
        capture_bucket=names.capture_buckets[env],
        capture_key_alias=names.capture_key_alias,
        endpoint=endpoint,
        tests=tests,
        capture_key_region=region,
    )


def _sub(s: _Section, key: str, fields: Mapping[str, Callable[[_Section, str], Any]]) -> Mapping[str, Any]:
    sub = s.section(key)
    values = {name: read(sub, name) for name, read in fields.items() if name in sub.data}
    sub.done()
    return MappingProxyType(values)


def _parse_endpoint(s: _Section, env: str, endpoint_name: str) -> EndpointSettings:
    where = s.path
    kind = s.choice("type", (REAL_TIME, SERVERLESS), default=REAL_TIME)
    serverless = _sub(
        s,
        "serverless",
        {
            "memory_mb": lambda x, k: x.number(k, 1024, 6144, integer=True),
            "max_concurrency": lambda x, k: x.number(k, 1, 200, integer=True),
        },
    )
    autoscaling = _sub(
        s,
        "autoscaling",
        {
            "enabled": lambda x, k: x.flag(k, False),
            "min_capacity": lambda x, k: x.number(k, 0, 1000, integer=True),
            "max_capacity": lambda x, k: x.number(k, 0, 1000, integer=True),
            "target_invocations_per_instance": lambda x, k: x.number(k, 0, 1e9),
        },
    )
    capture = _sub(
        s,
        "data_capture",
        {
            "enabled": lambda x, k: x.flag(k, False),
            "sampling_percent": lambda x, k: x.number(k, 0, 100, integer=True),
        },
    )
    traffic = _sub(
        s,
        "traffic_shifting",
        {
            "type": lambda x, k: x.choice(k, TRAFFIC_SHIFTS),
            "canary_percent": lambda x, k: x.number(k, 0, 100, integer=True),
            "linear_step_percent": lambda x, k: x.number(k, 0, 100, integer=True),
            "wait_seconds": lambda x, k: x.number(k, 0, 3600, integer=True),
            "termination_wait_seconds": lambda x, k: x.number(k, 0, 3600, integer=True),
        },
    ) or MappingProxyType({"type": "ALL_AT_ONCE", "wait_seconds": 0})
    alarms = _sub(
        s,
        "alarms",
        {
            "error_5xx_threshold": lambda x, k: x.number(k, 0, 1e9),
            "model_latency_p99_ms": lambda x, k: x.number(k, 0, 1e9),
        },
    )
    settings = EndpointSettings(
        env=env,
        endpoint_name=endpoint_name,
        kind=kind,
        instance_type=s.text("instance_type", default=""),
        instance_count=s.number("instance_count", 0, 1000, default=1, integer=True),
        serverless=serverless,
        autoscaling=autoscaling or MappingProxyType({"enabled": False}),
        data_capture=capture or MappingProxyType({"enabled": False}),
        traffic=traffic,
        alarms=alarms,
    )
    s.done()
    _check_endpoint(settings, where)
    return settings


def _check_endpoint(settings: EndpointSettings, where: str) -> None:
    """Rules that join several settings; each error names the setting to change."""
    if settings.real_time:
        if not INSTANCE_TYPE.match(settings.instance_type):
            raise ConfigError(
                f"{where}.instance_type {settings.instance_type!r} is not an ml.* instance type"
            )
        if settings.instance_count < 1:
            raise ConfigError(f"{where}.instance_count must be at least 1")
        traffic = settings.traffic
        shift = traffic.get("type", "ALL_AT_ONCE")
        if shift == "CANARY" and not 1 <= int(traffic.get("canary_percent", 0)) <= 50:
            raise ConfigError(f"{where}.traffic_shifting.canary_percent must be 1-50 (percent of capacity)")
        if shift == "LINEAR" and not 10 <= int(traffic.get("linear_step_percent", 0)) <= 50:
            raise ConfigError(
                f"{where}.traffic_shifting.linear_step_percent must be 10-50 (percent of capacity)"
            )
        for key in ("error_5xx_threshold", "model_latency_p99_ms"):
            if settings.alarms.get(key, 0) <= 0:
                raise ConfigError(f"{where}.alarms.{key} must be a positive number")
        scaling = settings.autoscaling
        if scaling.get("enabled"):
            low, high = int(scaling.get("min_capacity", 0)), int(scaling.get("max_capacity", 0))
            if not 1 <= low <= high:
                raise ConfigError(f"{where}.autoscaling needs 1 <= min_capacity <= max_capacity")
            if float(scaling.get("target_invocations_per_instance", 0)) <= 0:
                raise ConfigError(f"{where}.autoscaling.target_invocations_per_instance must be positive")
    else:
        memory = settings.serverless.get("memory_mb", 0)
        if memory % 1024:
            raise ConfigError(
                f"{where}.serverless.memory_mb is {memory}; expected 1024-6144 in steps of 1024"
            )
        if "memory_mb" not in settings.serverless or "max_concurrency" not in settings.serverless:
            raise ConfigError(f"{where}.serverless needs memory_mb and max_concurrency")
        for option in ("autoscaling", "data_capture"):
            if getattr(settings, option).get("enabled"):
                raise ConfigError(
                    f"{where}.{option}.enabled is true, but serverless endpoints do not support it"
                )
    capture = settings.data_capture
    if capture.get("enabled") and not 0 < int(capture.get("sampling_percent", 0)) <= 100:
        raise ConfigError(f"{where}.data_capture.sampling_percent must be 1-100")


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
        | {f"sagemaker_endpoint_{env}": cfg.role_arn(env, "sagemaker_endpoint") for env in ENVIRONMENTS},
        "environments": {
            env.name: {
                "account": env.account,
                "deploys_from": env.group,
                "endpoint": env.endpoint_name,
                "endpoint_type": env.endpoint.kind,
                "data_capture": env.capture_uri,
                "data_capture_kms_key": env.capture_key_arn,
            }
            for env in cfg.environments.values()
        },
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m <package>.config [FILE]`: validate the config and print every derived name as JSON.

    It exits 0 when the config is valid and 2 with one `error: ...` line when it is not.
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        cfg = load_config(args[0] if args else None)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(describe(cfg), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
