"""Read the one rendered config file, `config/project.json`.

Everything that varies between repositories baked from the template (accounts, region,
names, branches, instance types, thresholds, endpoint settings per environment) lives
in that file; the code reads it and holds no per-repository values of its own.
Set MLOPS_CONFIG to read another file (tests do).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "config" / "project.json"
ACCOUNT_ROLES = ("data_science", "shared_services", "qa", "prod")
ENVIRONMENTS = ("qa", "prod")


class ConfigError(ValueError):
    """The config file is missing, unreadable or lacks a required setting."""


def config_path() -> Path:
    return Path(os.environ.get("MLOPS_CONFIG", DEFAULT_CONFIG))


def load_config(path: Path | str | None = None) -> dict[str, Any]:
    """Load and sanity-check the config. It raises ConfigError naming what is wrong."""
    path = Path(path) if path else config_path()
    try:
        cfg = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    for section in ("project", "aws", "branches", "iam", "registry", "model", "pipeline", "environments"):
        if section not in cfg:
            raise ConfigError(f"config file {path} has no '{section}' section")
    missing = [role for role in ACCOUNT_ROLES if role not in cfg["aws"].get("accounts", {})]
    if missing:
        raise ConfigError(f"config file {path}: aws.accounts lacks {', '.join(missing)}")
    return cfg


def account_id(cfg: dict[str, Any], role: str) -> str:
    """Account ID for an account role (data_science, shared_services, qa, prod)."""
    return cfg["aws"]["accounts"][role]


def environment(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """Settings of one deploy environment (qa or prod); ConfigError for an unknown name."""
    try:
        return cfg["environments"][name]
    except KeyError as exc:
        known = ", ".join(sorted(cfg["environments"]))
        raise ConfigError(f"unknown environment {name!r}; expected one of {known}") from exc


def role_arn(cfg: dict[str, Any], account_role: str, role_key: str) -> str:
    """ARN of an IAM role named in the `iam` section, in the given account."""
    return f"arn:aws:iam::{account_id(cfg, account_role)}:role/{cfg['iam'][role_key]}"


def model_package_group(cfg: dict[str, Any], kind: str) -> str:
    """Model package group name for a branch kind: feature, dev or prod."""
    return cfg["registry"]["model_package_groups"][kind]


def model_package_group_arn(cfg: dict[str, Any], kind: str) -> str:
    region = cfg["aws"]["region"]
    owner = account_id(cfg, "shared_services")
    return f"arn:aws:sagemaker:{region}:{owner}:model-package-group/{model_package_group(cfg, kind)}"


def is_single_account(cfg: dict[str, Any]) -> bool:
    return len({account_id(cfg, role) for role in ACCOUNT_ROLES}) == 1
