"""Static checks of the retraining workflow (retrain.yml) and the dispatch path into dev.yml.

The shared rules of test_workflows_static.py (pins, permissions, expressions, triggers with the
cron taken from config/project.json, zizmor, actionlint) already cover retrain.yml; these add
what is particular to retraining, each rule shown to catch a broken workflow:

- retrain.yml never reaches prod: no environment, no AWS credentials, no reusable workflow, and
  its one command is `retrain dispatch` (which starts dev.yml on the dev branch only);
- `actions: write` (to dispatch) only there; the cron is the config's;
- a dispatched dev.yml checks its branch and inputs before the pipeline starts, and passes the
  dataset to the pipeline as data.
"""

from __future__ import annotations

import json

import pytest
from test_workflows_static import (
    load,
    mutate,
    permission_problems,
    role_problems,
    trigger_problems,
    workflows,
)

from conftest import baked_config


def retrain_problems(files: dict[str, str]) -> list[str]:
    problems = []
    data = load(files["retrain.yml"])
    for job_id, job in data["jobs"].items():
        where = f"retrain.yml/{job_id}"
        if "uses" in job:
            problems.append(f"{where}: calls a reusable workflow ({job['uses']}); retraining only dispatches dev.yml")
        if "environment" in job:
            problems.append(f"{where}: runs in environment {job['environment']!r}; retraining holds no environment")
        runs = [s.get("run", "") for s in job.get("steps", [])]
        if any("configure-aws-credentials" in str(s.get("uses", "")) for s in job.get("steps", [])):
            problems.append(f"{where}: configures AWS credentials")
        commands = [line for run in runs for line in run.splitlines() if 'python -m "$PACKAGE"' in line]
        allowed = ('python -m "$PACKAGE" retrain dispatch', 'python -m "$PACKAGE" notify drift')
        problems += [f"{where}: runs {c.strip()!r}" for c in commands if not c.strip().startswith(allowed)]
        if any(word in run for run in runs for word in ("gh ", "curl ", "release.yml")):
            problems.append(f"{where}: calls GitHub or names the release workflow outside `retrain dispatch`")
    build = load(files["dev.yml"])["jobs"]["build"]["steps"]
    names = [s.get("name", "") for s in build]
    if "Check the retraining inputs" not in names or names.index("Check the retraining inputs") > names.index(
        "Run the dev pipeline"
    ):
        problems.append("dev.yml/build: a dispatched run must check its branch and inputs before the pipeline")
    else:
        check = build[names.index("Check the retraining inputs")]
        if "retrain check" not in check.get("run", "") or "workflow_dispatch" not in str(check.get("if", "")):
            problems.append("dev.yml/build: the input check must run `retrain check` on every workflow_dispatch")
    return problems


def test_retraining_rules_hold_on_every_option_set(baked):
    problems = {name: retrain_problems(workflows(repo)) for name, repo in baked.items()}
    assert problems == {name: [] for name in baked}


@pytest.fixture(scope="module")
def default_repo(baked):
    return baked["sklearn-serverless-single"]


def test_rules_catch_a_retraining_that_goes_straight_to_prod(default_repo, baked):
    step = "      - name: Check the trigger and its inputs, then start dev.yml on the dev branch\n"
    release = mutate(
        default_repo,
        "retrain.yml",
        "  dispatch:\n",
        "  release:\n    uses: ./.github/workflows/release.yml\n  dispatch:\n",
    )
    environment = mutate(
        default_repo, "retrain.yml", "    timeout-minutes: 10\n", "    timeout-minutes: 10\n    environment: prod\n"
    )
    gh = mutate(
        default_repo,
        "retrain.yml",
        step,
        step.replace("- name: Check", "- run: gh workflow run release.yml --ref main\n      - name: Check"),
    )
    promote = mutate(
        default_repo,
        "retrain.yml",
        'python -m "$PACKAGE" retrain dispatch',
        'python -m "$PACKAGE" registry promote --arn x && python -m "$PACKAGE" retrain dispatch',
    )
    for files in (release, environment, gh, promote):
        assert retrain_problems(files) != []
    # An AWS role in the retraining job: no environment may assume it there.
    cfg = baked_config(baked["custom"])
    role = cfg.role_arn("prod", "github_deploy_prod")
    aws = mutate(
        baked["custom"],
        "retrain.yml",
        "      # No packages are installed",
        f"      - uses: aws-actions/configure-aws-credentials@a03048d87541d1d9fcf2ecf528a4a65ba9bd7838 # v5.0.0\n"
        f"        with:\n          role-to-assume: {role}\n          aws-region: eu-west-1\n\n"
        "      # No packages are installed",
    )
    assert retrain_problems(aws) != [] and role_problems("retrain.yml", aws["retrain.yml"], cfg) != []


def test_rules_catch_dispatch_rights_elsewhere_and_a_cron_the_config_does_not_name(default_repo):
    actions = mutate(
        default_repo,
        "dev.yml",
        "      contents: read # checkout\n",
        "      contents: read # checkout\n      actions: write\n",
    )
    assert permission_problems("dev.yml", actions["dev.yml"]) != []
    cfg = json.loads((default_repo / "config" / "project.json").read_text())
    assert trigger_problems(workflows(default_repo), cfg) == []
    cron = mutate(default_repo, "retrain.yml", '- cron: "0 6 * * 1"', '- cron: "0 7 * * 1"')
    types = mutate(default_repo, "retrain.yml", "types: [new-data, drift]", "types: [new-data, drift, release]")
    optional = mutate(default_repo, "retrain.yml", "        required: true\n", "        required: false\n")
    for files in (cron, types, optional):
        assert trigger_problems(files, cfg) != []
    # Config and file change together: the rule follows the config.
    assert trigger_problems(cron, {**cfg, "retraining": {**cfg["retraining"], "schedule": "0 7 * * 1"}}) == []


def test_rules_catch_a_dispatched_run_that_trains_unchecked(default_repo):
    unchecked = mutate(
        default_repo, "dev.yml", 'run: python -m "$PACKAGE" retrain check --github-output', "run: echo skipped"
    )
    no_if = mutate(
        default_repo,
        "dev.yml",
        "        if: ${{ github.event_name == 'workflow_dispatch' }}\n",
        "        if: ${{ false }}\n",
    )
    for files in (unchecked, no_if):
        assert retrain_problems(files) != []
