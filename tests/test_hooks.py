"""The pre- and post-generation hooks: validation, clean failure, answers as data."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest

from conftest import FOUR_ACCOUNTS, TEMPLATE, run_cookiecutter_cli


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(name, TEMPLATE / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

GOOD = {
    "project_name": "Customer Churn",
    "author_name": "ML Platform Team",
    "project_slug": "customer-churn",
    "package_name": "customer_churn",
    "model_name": "customer-churn",
    "github_owner": "example-org",
    "github_repo": "customer-churn",
    "prod_reviewers": "@example-org/ml-leads @jane-doe",
    "aws_region": "us-east-1",
    "data_science_account_id": "111111111111",
    "shared_services_account_id": "222222222222",
    "qa_account_id": "333333333333",
    "prod_account_id": "444444444444",
    "dev_branch": "dev",
    "prod_branch": "main",
    "feature_branch_prefix": "feature-",
    "processing_instance_type": "ml.m5.large",
    "training_instance_type": "ml.m5.xlarge",
    "endpoint_instance_type": "ml.c5.large",
    "framework": "xgboost",
    "serving": "batch-only",
    "qa_endpoint_type": "real-time",
    "metric_threshold": "0.90",
}

# (field, bad value, words the message must contain)
BAD = [
    ("data_science_account_id", "12345", "12-digit"),
    ("shared_services_account_id", "12345678901a", "12-digit"),
    ("qa_account_id", "", "12-digit"),
    ("prod_account_id", "1234567890123", "12-digit"),
    ("aws_region", "us-east-9", "SageMaker is available"),
    ("aws_region", "mars-1", "SageMaker is available"),
    ("model_name", "churn_model", "SageMaker's name pattern"),
    ("model_name", "Churn", "in lowercase"),
    ("model_name", "a" * 41, "at most 40"),
    ("model_name", "-churn", "SageMaker's name pattern"),
    ("project_slug", "Customer Churn", "lowercase letters"),
    ("package_name", "customer-churn", "Python identifier"),
    ("package_name", "class", "Python identifier"),
    ("github_owner", "-acme", "GitHub user or organisation"),
    ("github_owner", "a" * 40, "GitHub user or organisation"),
    ("github_repo", "my repo", "GitHub repository name"),
    ("github_repo", "..", "GitHub repository name"),
    ("prod_reviewers", "", "GitHub handles"),
    ("prod_reviewers", "example-org/ml-leads", "@user or @org/team"),
    ("prod_reviewers", "@example-org/ml-leads jane", "@user or @org/team"),
    ("prod_reviewers", "@-acme/leads", "@user or @org/team"),
    ("prod_reviewers", "@acme/ml leads", "@user or @org/team"),
    ("prod_reviewers", "@acme/leads\n* @evil", "@user or @org/team"),
    ("dev_branch", "dev branch", "letters, digits"),
    ("dev_branch", "dev..x", "valid git branch name"),
    ("prod_branch", "dev", "different from dev_branch"),
    ("prod_branch", "main.lock", "valid git branch name"),
    ("prod_branch", "$(touch pwned)", "letters, digits"),
    ("dev_branch", "feature-dev", "does not start with the feature prefix"),
    ("feature_branch_prefix", "feat*", "letters, digits"),
    ("processing_instance_type", "m5.large", "SageMaker instance type"),
    ("serving", "batch", "one of endpoints, batch-only"),
    ("serving", "", "one of endpoints, batch-only"),
    ("framework", "lightgbm", "one of sklearn, xgboost"),
    ("qa_endpoint_type", "async", "one of serverless, real-time"),
    ("metric_threshold", "high", "greater than 0 and at most 1"),
    ("metric_threshold", "1.5", "greater than 0 and at most 1"),
    ("project_name", "  ", "non-empty"),
]


def test_good_answers_pass():
    assert pre_gen.validate(GOOD) == []


@pytest.mark.parametrize(("field", "value", "words"), BAD)
def test_each_bad_answer_is_named(field, value, words):
    errors = pre_gen.validate({**GOOD, field: value})
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{field}: {value!r} is not valid; expected ")
    assert words in errors[0]


def test_each_choice_value_of_cookiecutter_json_passes_and_no_other():
    """The hook's choices are cookiecutter.json's choice variables, value for value."""
    options = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    choices = {key: tuple(value) for key, value in options.items() if isinstance(value, list)}
    assert choices == pre_gen.CHOICES
    for field, values in choices.items():
        for value in values:
            assert pre_gen.validate({**GOOD, field: value}) == [], (field, value)


def test_a_replayed_unknown_serving_value_stops_the_bake(tmp_path):
    """A replay file skips cookiecutter's own choice check: the hook refuses the value, where
    the template would have rendered endpoints."""
    context = {**GOOD, "description": "d", "serving": "batch"}
    replay = tmp_path / "replay" / "answers.json"
    replay.parent.mkdir()
    replay.write_text(json.dumps({"cookiecutter": context}))
    out = tmp_path / "out"
    cookiecutter = Path(sys.executable).parent / "cookiecutter"
    cmd = [str(cookiecutter), "--replay-file", str(replay), "-o", str(out), str(TEMPLATE)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR: ")]
    assert errors == ["ERROR: serving: 'batch' is not valid; expected one of endpoints, batch-only"], result.stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_a_bad_owner_is_not_reported_again_through_the_derived_reviewers():
    errors = pre_gen.validate({**GOOD, "github_owner": "-acme", "prod_reviewers": "@-acme/ml-leads"})
    assert [e.split(":")[0] for e in errors] == ["github_owner"]


def test_image_regions_match_the_generated_image_table():
    """The hook refuses the regions the generated access/images.py has no image account for
    (framework images or the Model Monitor analyzer)."""
    [images] = Path(__file__).resolve().parents[1].glob("{{*/src/*/access/images.py")
    tables = {}
    for node in ast.walk(ast.parse(images.read_text())):
        name = getattr(node.targets[0], "id", "") if isinstance(node, ast.Assign) else ""
        if name in ("IMAGE_ACCOUNTS", "ANALYZER_ACCOUNTS"):
            tables[name] = set(ast.literal_eval(node.value.args[0]))
    table = tables["IMAGE_ACCOUNTS"] & tables["ANALYZER_ACCOUNTS"]
    assert table == pre_gen.FRAMEWORK_IMAGE_REGIONS
    without = sorted(set(pre_gen.sagemaker_regions()) - set(table))
    assert without, "every SageMaker region has the images: nothing left to refuse"
    errors = pre_gen.validate({**GOOD, "aws_region": without[0]})
    assert errors == [
        f"aws_region: {without[0]!r} is not valid; expected a region where SageMaker hosts its scikit-learn, "
        f"XGBoost and Model Monitor images, such as us-east-1 ({without[0]} has SageMaker but not those images)"
    ]


def test_region_fallback_matches_botocore():
    """The list used when botocore is absent equals the pinned botocore's SageMaker regions."""
    live = botocore.session.get_session().get_available_regions("sagemaker")
    assert sorted(pre_gen.SAGEMAKER_REGIONS_FALLBACK) == sorted(live)


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ("data_science_account_id=12345", "data_science_account_id"),
        ("aws_region=us-east-9", "aws_region"),
        ("model_name=bad_name", "model_name"),
        ("prod_branch=dev", "prod_branch"),
        ("github_owner=-acme", "github_owner"),
        ("prod_reviewers=ml-leads", "prod_reviewers"),
        ("metric_threshold=2", "metric_threshold"),
    ],
)
def test_bad_answer_stops_the_bake_and_leaves_nothing(tmp_path, answer, field):
    # Four distinct account IDs, so a bad data-science ID is not also copied into the others.
    accounts = [f"{key}={value}" for key, value in FOUR_ACCOUNTS.items()]
    result = run_cookiecutter_cli(tmp_path, *accounts, answer)
    assert result.returncode != 0
    error_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR: ")]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"ERROR: {field}: ")
    assert list(tmp_path.iterdir()) == []


def test_answers_cannot_inject_code(tmp_path):
    """Quotes and shell syntax in free-text answers are data: nothing runs, text round-trips."""
    marker = tmp_path / "pwned"
    description = f'He said """hi""" \\ and $(touch {marker}) `touch {marker}` \'x\''
    out = tmp_path / "out"
    result = run_cookiecutter_cli(
        out, f"description={description}", 'author_name=O"Brien """ {{ 7*7 }}', "project_name=Churn"
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    repo = out / "churn"
    cfg = json.loads((repo / "config" / "project.json").read_text())
    assert cfg["project"]["description"] == description


def test_code_in_the_project_name_is_only_data(tmp_path):
    marker = tmp_path / "pwned"
    name = f'x"""); __import__("os").system("touch {marker}"); ("""'
    out = tmp_path / "out"
    result = run_cookiecutter_cli(out, f"project_name={name}", "model_name=x-model", "github_repo=x-repo")
    assert not marker.exists()
    assert result.returncode == 0, result.stderr
    [repo] = list(out.iterdir())
    assert json.loads((repo / "config" / "project.json").read_text())["project"]["name"] == name
    # The baked package imports cleanly: the name is nowhere in its code.
    package = json.loads((repo / "config" / "project.json").read_text())["project"]["package"]
    check = subprocess.run(
        [sys.executable, "-c", f"import {package}.config"], cwd=repo / "src", capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert not marker.exists()


def test_prod_reviewers_own_what_reaches_prod(tmp_path):
    """The answer lands in CODEOWNERS (one owner list per prod path) and in the config as a list."""
    out = tmp_path / "out"
    result = run_cookiecutter_cli(out, "prod_reviewers=@acme/ml-leads   @jane-doe", "github_owner=acme")
    assert result.returncode == 0, result.stderr
    [repo] = list(out.iterdir())
    rules = [ln.split() for ln in (repo / ".github" / "CODEOWNERS").read_text().splitlines() if ln and ln[0] != "#"]
    assert {rule[0] for rule in rules} >= {"/model.lock.json", "/config/", "/infra/", "/.github/", "/src/"}
    assert all(rule[1:] == ["@acme/ml-leads", "@jane-doe"] for rule in rules)
    cfg = json.loads((repo / "config" / "project.json").read_text())
    assert cfg["github"]["prod_reviewers"] == ["@acme/ml-leads", "@jane-doe"]
    template = (repo / ".github" / "pull_request_template.md").read_text()
    assert "model.lock.json" in template and "champion" in template and "QA report" in template


@pytest.mark.parametrize("slug", ["a/b", "../escape", "x y"])
def test_path_like_slug_is_rejected_without_leftovers(tmp_path, slug):
    out = tmp_path / "out"
    result = run_cookiecutter_cli(out, f"project_slug={slug}", "package_name=ok_pkg", "model_name=ok-model")
    assert result.returncode != 0
    assert "ERROR: project_slug: " in result.stderr
    assert not out.exists() or [p for p in out.rglob("*")] == []


def test_cruft_record_keeps_answers_and_drops_machine_paths():
    answers = {**GOOD, "_template": "gh:acme/cookiecutter-sagemaker-mlops", "_output_dir": "/tmp/x", "_checkout": None}
    record = post_gen.cruft_record(answers)
    assert record["template"] == "https://github.com/acme/cookiecutter-sagemaker-mlops.git"
    assert record["commit"] is None
    assert "_output_dir" not in record["context"]["cookiecutter"]
    assert record["context"]["cookiecutter"]["qa_account_id"] == "333333333333"


def test_template_location_is_something_cruft_can_clone(tmp_path, monkeypatch):
    location = post_gen.template_location
    assert location({"_template": "gl:team/tpl"}) == "https://gitlab.com/team/tpl.git"
    assert location({"_template": "https://example.com/tpl.git"}) == "https://example.com/tpl.git"
    assert location({"_template": "git@github.com:acme/tpl.git"}) == "git@github.com:acme/tpl.git"
    # A local folder given relative to where cookiecutter started is recorded absolute.
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "cookiecutter.json").write_text("{}")
    monkeypatch.setenv("PWD", str(tmp_path))
    assert location({"_template": "tpl", "_repo_dir": "tpl"}) == str(tmp_path / "tpl")


def test_no_record_is_written_while_cruft_renders(tmp_path):
    assert post_gen.main({**GOOD, "_commit": "a" * 40}, tmp_path) == 0
    assert not (tmp_path / ".cruft.json").exists()
    assert post_gen.main(GOOD, tmp_path) == 0
    assert (tmp_path / ".cruft.json").exists()


def test_cruft_record_names_the_template_commit(tmp_path):
    answers = {**GOOD, "_template": str(TEMPLATE), "_repo_dir": str(TEMPLATE)}
    commit = post_gen.cruft_record(answers)["commit"]
    if (TEMPLATE / ".git").exists():  # a checkout of the template: its HEAD is recorded
        assert re.fullmatch(r"[0-9a-f]{40}", commit or ""), commit
    else:
        assert commit is None
    assert post_gen.template_commit(str(tmp_path)) is None  # not a git checkout
