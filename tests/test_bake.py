"""Bake every option set and check what comes out: tree, leftovers, parsing, answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import CUSTOM, FOUR_ACCOUNTS, OPTION_SETS, TEMPLATE, baked_config

EXPECTED_TREE = Path(__file__).with_name("expected_tree.txt")
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Jinja left unrendered: a variable, a statement tag or a comment. `${{ ... }}` is GitHub
# Actions' syntax and must survive; `{{`/`%}` inside Python f-strings are not Jinja.
LEFTOVER = re.compile(
    r"(?<!\$)\{\{-?\s*cookiecutter"
    r"|\{%-?\s*(if|elif|else|endif|for|endfor|raw|endraw|set|macro|include)\b"
    r"|\{#-?\s"
    r"|\bcookiecutter\.\w"
)
ALL_SETS = [*OPTION_SETS, "custom"]


def files_of(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def expected_files(package: str) -> list[str]:
    lines = [ln.strip() for ln in EXPECTED_TREE.read_text().splitlines()]
    return sorted(ln.replace("<package>", package) for ln in lines if ln and not ln.startswith("#"))


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


CloudFormationLoader.add_multi_constructor("!", _any_tag)


@pytest.mark.parametrize("name", ALL_SETS)
def test_file_tree_is_exact(baked, name):
    repo = baked[name]
    package = json.loads((repo / "config" / "project.json").read_text())["project"]["package"]
    assert files_of(repo) == expected_files(package)


@pytest.mark.parametrize("name", ALL_SETS)
def test_no_template_markers_left(baked, name):
    leftovers = []
    for rel in files_of(baked[name]):
        path = baked[name] / rel
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if LEFTOVER.search(line):
                leftovers.append(f"{rel}:{number}: {line.strip()}")
    assert leftovers == []


def test_leftover_check_catches_markers_but_not_github_expressions():
    assert LEFTOVER.search("name: {{ cookiecutter.project_slug }}")
    assert LEFTOVER.search("{% if x %}")
    assert LEFTOVER.search("{%- endraw %}")
    assert LEFTOVER.search("{# a note #}")
    assert not LEFTOVER.search("ref: ${{ github.sha }}")
    assert not LEFTOVER.search("ref: ${{ cookiecutter_output }}")
    assert not LEFTOVER.search('f"{rate:.1%} of {{x}}"')


@pytest.mark.parametrize("name", ALL_SETS)
def test_structured_files_parse(baked, name):
    parsed = 0
    for rel in files_of(baked[name]):
        path = baked[name] / rel
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix in (".yml", ".yaml"):
            yaml.load(path.read_text(), Loader=CloudFormationLoader)
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        else:
            continue
        parsed += 1
    assert parsed >= 4  # config, .cruft.json, pyproject.toml, .pre-commit-config.yaml at least


def test_config_reflects_custom_answers(baked):
    cfg = json.loads((baked["custom"] / "config" / "project.json").read_text())
    assert cfg["aws"]["region"] == "eu-west-1"
    assert cfg["aws"]["accounts"] == {
        "data_science": FOUR_ACCOUNTS["data_science_account_id"],
        "shared_services": FOUR_ACCOUNTS["shared_services_account_id"],
        "qa": FOUR_ACCOUNTS["qa_account_id"],
        "prod": FOUR_ACCOUNTS["prod_account_id"],
    }
    assert cfg["branches"] == {"dev": "develop", "prod": "release", "feature_prefix": "feat/"}
    assert cfg["model"]["framework"] == "xgboost"
    assert cfg["pipeline"]["metric_threshold"] == 0.85
    assert cfg["environments"]["qa"]["endpoint"]["type"] == "real-time"
    assert dict(baked_config(baked["custom"]).names.groups) == {
        "feature": "fraud-xgb-feature",
        "dev": "fraud-xgb-dev",
        "prod": "fraud-xgb-prod",
    }
    assert cfg["project"]["slug"] == "fraud-detector"
    assert cfg["project"]["package"] == "fraud_detector"


def test_serving_option_renders_both_endpoints_or_none(baked):
    """serving=batch-only: qa and prod both have endpoint type "none" (and the config package
    accepts that); the endpoints bakes have an endpoint in both."""
    batch_only = baked_config(baked["batch-only"])
    assert [batch_only.environment(env).endpoint.kind for env in ("qa", "prod")] == ["none", "none"]
    assert all(batch_only.environment(env).endpoint.batch_only for env in ("qa", "prod"))
    assert batch_only.model.framework == "xgboost"
    for name in OPTION_SETS.keys() - {"batch-only"}:
        cfg = baked_config(baked[name])
        kinds = [cfg.environment(env).endpoint.kind for env in ("qa", "prod")]
        assert kinds == [OPTION_SETS[name]["qa_endpoint_type"], "real-time"], (name, kinds)
        assert not any(cfg.environment(env).endpoint.batch_only for env in ("qa", "prod")), name


@pytest.mark.parametrize("name", ALL_SETS)
def test_sagemaker_names_fit_the_pattern(baked, name):
    derived = baked_config(baked[name]).names
    names = [*derived.groups.values(), *derived.pipelines.values(), *derived.endpoints.values()]
    assert names
    for value in names:
        assert SAGEMAKER_NAME.match(value), value


S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def test_longest_names_still_fit_aws_limits(tmp_path):
    """A 40-character model name in the longest region still yields valid AWS names (the longest
    region name the bake accepts: one where SageMaker hosts the framework images)."""
    from conftest import bake

    repo = bake(tmp_path, model_name="m" * 38 + "-x", aws_region="ap-southeast-3", **FOUR_ACCOUNTS)
    check_names(repo)


def check_names(repo: Path) -> None:
    derived = baked_config(repo).names
    buckets = [derived.artifact_bucket, *derived.capture_buckets.values()]
    for bucket in buckets:
        assert S3_BUCKET.match(bucket), bucket
    names = [*derived.groups.values(), *derived.pipelines.values(), *derived.endpoints.values()]
    for value in names:
        assert SAGEMAKER_NAME.match(value), value
    for value in derived.roles.values():
        assert len(value) <= 64, value


def test_a_long_model_name_keeps_every_pipeline_location_on_the_one_bucket(tmp_path):
    """Every S3 location in the pipeline definition of a 40-character model name is on the artifact bucket.

    The bucket is derived once (config.derive_names); a second rule built from the full name once
    pointed the pipeline's input at a bucket that does not exist.
    """
    from conftest import bake

    model_name = "m" * 38 + "-x"
    repo = bake(tmp_path, model_name=model_name, aws_region="ap-southeast-3", **FOUR_ACCOUNTS)
    check_names(repo)
    package = json.loads((repo / "config" / "project.json").read_text())["project"]["package"]
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", package, "pipeline", "definition", "--offline"]
    result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    definition = json.loads(result.stdout)
    text = json.dumps(definition)
    literal = re.findall(r"s3://([^/\"]*)", text)
    joined = [join["Values"][1] for join in s3_joins(definition)]
    bucket = baked_config(repo).names.artifact_bucket
    assert literal and joined, (literal, joined)
    assert set(literal) | set(joined) == {bucket}, sorted(set(literal) | set(joined))
    assert text.count('"s3:/"') == len(joined)  # every joined location was seen
    assert S3_BUCKET.match(bucket) and model_name not in bucket, bucket


def s3_joins(node: object) -> list[dict]:
    """Every Std:Join in a pipeline definition that builds an s3:// URI from parts."""
    found = []
    if isinstance(node, dict):
        join = node.get("Std:Join")
        if isinstance(join, dict) and join.get("Values", [None])[0] == "s3:/":
            found.append(join)
        for value in node.values():
            found += s3_joins(value)
    elif isinstance(node, list):
        for value in node:
            found += s3_joins(value)
    return found


def test_default_answers_give_single_account_mode(baked):
    cfg = json.loads((baked["sklearn-serverless-single"] / "config" / "project.json").read_text())
    assert len(set(cfg["aws"]["accounts"].values())) == 1


@pytest.mark.parametrize("name", ["sklearn-serverless-single", "custom"])
def test_answers_recorded_for_cruft(baked, name):
    record = json.loads((baked[name] / ".cruft.json").read_text())
    assert set(record) == {"template", "commit", "checkout", "context", "directory", "skip"}
    assert Path(record["template"]).resolve() == TEMPLATE
    context = record["context"]["cookiecutter"]
    public_keys = [k for k in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if not k.startswith("_")]
    assert set(public_keys) <= set(context)
    if name == "custom":
        for key, value in CUSTOM.items():
            assert context[key] == value


def test_python_templates_hold_no_jinja():
    """Generated Python reads config/project.json; no answer is ever pasted into code."""
    offenders = []
    for path in (TEMPLATE / "{{cookiecutter.project_slug|slugify}}").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "{%" in line or "{{ cookiecutter" in line or "{{cookiecutter" in line:
                offenders.append(f"{path.relative_to(TEMPLATE)}:{number}")
    assert offenders == []


def test_dependabot_config_is_valid(baked):
    import subprocess
    import sys

    tool = Path(sys.executable).parent / "check-jsonschema"
    config = baked["sklearn-serverless-single"] / ".github" / "dependabot.yml"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.dependabot", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
