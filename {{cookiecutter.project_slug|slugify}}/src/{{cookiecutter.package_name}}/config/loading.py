"""Loading config/project.json: `load_config` (the file), `parse` (a document), `read_raw` (plain JSON).

`parse` reads every section through `fields._Section`, derives the names once
(`names.derive_names`) and returns the frozen `Config`. Set MLOPS_CONFIG to read another file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .batch import parse_batch
from .champion import parse_champion
from .environments import (
    _parse_environment,
    _parse_tests,
    check_batch_only,
    check_both_or_neither,
    check_segmented_endpoints,
    raw_kinds,
)
from .fields import (
    ACCOUNT_ID,
    DURATION,
    GITHUB_NAME,
    INSTANCE_TYPE,
    REGION,
    REVIEWER,
    SAGEMAKER_NAME,
    ConfigError,
    _frozen,
    _Section,
    _show,
)
from .model import parse_model
from .monitoring import parse_monitoring
from .names import ACCOUNT_ROLES, ENVIRONMENTS, Names, derive_names
from .parsed import Config
from .principals import parse_data_scientist_principal
from .retraining import parse_notifications, parse_retraining
from .settings import FRAMEWORKS, Branches, GitHub, PipelineSettings, Project

# The repository holding this package (src/<package>/config/loading.py).
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = REPO_ROOT / "config" / "project.json"


def config_path() -> Path:
    return Path(os.environ.get("MLOPS_CONFIG", DEFAULT_CONFIG))


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
    principal = aws.text("data_scientist_principal", default="")
    aws.done()
    branches = _parse_branches(top.required_section("branches"))
    registry = top.section("registry")
    kms_key_arn = registry.text("kms_key_arn", default="")
    if kms_key_arn and not re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$", kms_key_arn):
        raise ConfigError(f'registry.kms_key_arn is {_show(kms_key_arn)}; expected a KMS key ARN or ""')
    registry.done()
    names = derive_names(project.model_name, region, accounts)
    principal = parse_data_scientist_principal(principal, names, accounts)
    model = parse_model(top.required_section("model"))
    pipeline = _parse_pipeline(top.required_section("pipeline"), names, model.framework)
    envs = top.required_section("environments")
    check_both_or_neither(raw_kinds(envs.data, ENVIRONMENTS))
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
    retraining = parse_retraining(top.section("retraining"))
    notifications = parse_notifications(top.section("notifications"))
    champion = parse_champion(top.section("champion"))
    check_segmented_endpoints(
        model.segments, {env: e.endpoint for env, e in environments.items()}, champion.shadow.enabled
    )
    if champion.shadow.enabled and not environments["prod"].endpoint.real_time:
        raise ConfigError(
            "champion.shadow.enabled is true but environments.prod.endpoint.type is "
            f'"{environments["prod"].endpoint.kind}"; expected '
            "a real-time prod endpoint (SageMaker runs shadow variants on instances) "
            "or champion.shadow.enabled false"
        )
    monitoring = parse_monitoring(
        top.section("monitoring"),
        {env: environment.endpoint for env, environment in environments.items()},
        names.artifact_bucket,
    )
    batch = parse_batch(top.section("batch"), names)
    top.done()
    check_batch_only({env: e.endpoint for env, e in environments.items()}, batch.environments)
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
        data_scientist_principal=principal,
        names=names,
        source=source,
        document=_frozen(raw),
        retraining=retraining,
        notifications=notifications,
        champion=champion,
        monitoring=monitoring,
        batch=batch,
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
            for key, default in (
                ("feature", "feature"),
                ("build", "data-science"),
                ("qa", "qa"),
                ("prod", "prod"),
            )
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


def _parse_pipeline(s: _Section, names: Names, framework: str) -> PipelineSettings:
    uri = s.text("input_data_uri", default="") or names.default_input_data_uri
    datasets = f"s3://{names.artifact_bucket}/{names.datasets_prefix}"
    if not uri.startswith(datasets) or uri == datasets:
        raise ConfigError(
            f"pipeline.input_data_uri is {_show(uri)}; expected an object or prefix in the artifact "
            f"bucket's datasets folder, {datasets}... (the pipeline roles read only that prefix; "
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
