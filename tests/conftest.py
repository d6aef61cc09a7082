"""Shared fixtures for the template tests: answer sets to bake and a baking helper."""

from __future__ import annotations

import gc
import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# The act scenarios' AWS emulator (moto) runs in this process; a large long-lived heap makes
# each full garbage collection slow, so collections run less often and what exists once the
# tests are collected is frozen out of them (speed only, as in the generated repo's conftest).
gc.set_threshold(50_000, 20, 20)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


FOUR_ACCOUNTS = {
    "data_science_account_id": "111111111111",
    "shared_services_account_id": "222222222222",
    "qa_account_id": "333333333333",
    "prod_account_id": "444444444444",
}

# Options that change what is generated. Every value of every choice is baked at least
# once: the full product of the choice answers times both account layouts (all with the
# default `serving`, endpoints), plus one batch-only set.
CHOICES = {
    "framework": ["sklearn", "xgboost"],
    "qa_endpoint_type": ["serverless", "real-time"],
    "accounts": ["single", "four"],
}


def answers_for(framework: str, qa_endpoint_type: str, accounts: str) -> dict[str, str]:
    extra = {"framework": framework, "qa_endpoint_type": qa_endpoint_type}
    if accounts == "four":
        extra.update(FOUR_ACCOUNTS)
    return extra


OPTION_SETS = {"-".join(combo): answers_for(*combo) for combo in itertools.product(*CHOICES.values())}
# serving=batch-only renders endpoint type "none" in qa and prod, so qa_endpoint_type has no
# effect there: one extra set (the non-default framework, four accounts), not another factor.
BATCH_ONLY = {"serving": "batch-only", "framework": "xgboost", **FOUR_ACCOUNTS}
OPTION_SETS["batch-only"] = BATCH_ONLY

# A non-default answer set that also renames everything a user may rename.
CUSTOM = {
    **FOUR_ACCOUNTS,
    "project_name": "Fraud Detector",
    "github_owner": "acme-ml",
    "github_repo": "fraud-detector-model",
    "aws_region": "eu-west-1",
    "dev_branch": "develop",
    "prod_branch": "release",
    "feature_branch_prefix": "feat/",
    "framework": "xgboost",
    "qa_endpoint_type": "real-time",
    "metric_threshold": "0.85",
    "model_name": "fraud-xgb",
}


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake the template with --no-input and the given answers; return the repo path."""
    from cookiecutter.main import cookiecutter

    path = cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir))
    return Path(path)


def run_cookiecutter_cli(output_dir: Path, *answers: str) -> subprocess.CompletedProcess:
    """Bake through the `cookiecutter` command, as automation would."""
    cmd = [str(VENV_BIN / "cookiecutter"), "--no-input", "--output-dir", str(output_dir), str(TEMPLATE), *answers]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def baked_config(repo: Path):
    """The baked repo's parsed config, through the repo's own config package (standard library only).

    Derived names (bucket, groups, pipelines, endpoints, roles) exist only there, so the template
    tests ask the baked code for them instead of restating the rules.
    """
    [path] = (repo / "src").glob("*/config/__init__.py")
    spec = importlib.util.spec_from_file_location(
        f"baked_config_{abs(hash(str(repo)))}", path, submodule_search_locations=[str(path.parent)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building classes
    spec.loader.exec_module(module)
    return module.load_config(repo / "config" / "project.json")


@pytest.fixture(scope="session")
def baked(tmp_path_factory) -> dict[str, Path]:
    """Every option set plus the custom set, baked once per test session."""
    out = tmp_path_factory.mktemp("baked")
    repos = {name: bake(out / name, **answers) for name, answers in OPTION_SETS.items()}
    repos["custom"] = bake(out / "custom", **CUSTOM)
    return repos
