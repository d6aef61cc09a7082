"""The repository's one config: `config/project.json`, parsed once into frozen, validated values.

Everything that varies between repositories baked from the template (accounts, region, model
name, branches, instance types, thresholds, endpoint settings per environment) lives in that
file. `load_config()` reads it and returns a `Config`; code receives that value, never the raw
dict. A bad file raises ConfigError with one line naming the key path, the value found and
what is expected. Unknown keys are refused too, so a typo cannot be ignored silently.

Every derived name (artifact bucket, KMS aliases, model package groups, pipelines, endpoints,
IAM roles, capture buckets, the default input data URI) is computed in `derive_names` and
nowhere else; `Config.names` holds them. Set MLOPS_CONFIG to read another file (tests do).

The parts, each importable from here:
- `fields`: ConfigError and the typed reads that name the key path (`_Section`), the patterns;
- `names`: accounts, environments, group and pipeline kinds, `Names` and `derive_names`;
- `settings`: the frozen section values (Project, GitHub, ..., EndpointSettings, Environment);
- `environments`: parsing and cross-checking each environment's endpoint and tests;
- `parsed`: `Config` (the whole config, its ARNs and variants) and `describe`;
- `model`: the `model` section: framework, hyperparameters, the data contract (docs/data.md);
- `principals`: `aws.data_scientist_principal`, who may assume the optional data-scientist role;
- `loading`: `load_config`, `parse`, `read_raw`, `config_path`, REPO_ROOT;
- `cli`: `main`, the `config` command (`python -m <package>.config [FILE]`).

Only the standard library is used: the deploy jobs install boto3 alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from .fields import (
    ACCOUNT_ID,
    DURATION,
    GITHUB_NAME,
    INSTANCE_TYPE,
    REGION,
    REVIEWER,
    SAGEMAKER_NAME,
    ConfigError,
)
from .loading import DEFAULT_CONFIG, REPO_ROOT, config_path, load_config, parse, read_raw
from .names import (
    ACCOUNT_ROLES,
    BUCKET_MODEL_PREFIX,
    ENVIRONMENT_GROUPS,
    ENVIRONMENTS,
    GROUP_KINDS,
    PIPELINE_KINDS,
    PIPELINE_ROLES,
    PIPELINE_STARTERS,
    ROLE_ACCOUNTS,
    ROLE_SUFFIXES,
    Names,
    derive_names,
)
from .parsed import Config, describe
from .settings import (
    ASYNC,
    FRAMEWORKS,
    HYPERPARAMETERS,
    MAX_BURST_REQUESTS,
    REAL_TIME,
    SERVERLESS,
    TRAFFIC_SHIFTS,
    Branches,
    EndpointSettings,
    Environment,
    GitHub,
    ModelSettings,
    PipelineSettings,
    Project,
    TestThresholds,
)

__all__ = [
    "ACCOUNT_ID",
    "ACCOUNT_ROLES",
    "ASYNC",
    "BUCKET_MODEL_PREFIX",
    "DEFAULT_CONFIG",
    "DURATION",
    "ENVIRONMENTS",
    "ENVIRONMENT_GROUPS",
    "FRAMEWORKS",
    "GITHUB_NAME",
    "GROUP_KINDS",
    "HYPERPARAMETERS",
    "INSTANCE_TYPE",
    "MAX_BURST_REQUESTS",
    "PIPELINE_KINDS",
    "PIPELINE_ROLES",
    "PIPELINE_STARTERS",
    "REAL_TIME",
    "REGION",
    "REPO_ROOT",
    "REVIEWER",
    "ROLE_ACCOUNTS",
    "ROLE_SUFFIXES",
    "SAGEMAKER_NAME",
    "SERVERLESS",
    "TRAFFIC_SHIFTS",
    "Branches",
    "Config",
    "ConfigError",
    "EndpointSettings",
    "Environment",
    "GitHub",
    "ModelSettings",
    "Names",
    "PipelineSettings",
    "Project",
    "TestThresholds",
    "config_path",
    "derive_names",
    "describe",
    "load_config",
    "main",
    "parse",
    "read_raw",
]


def main(argv: Sequence[str] | None = None) -> int:
    """The `config` command (see cli.py). Imported on call: the config itself needs no CLI code."""
    from .cli import main as run

    return run(argv)
