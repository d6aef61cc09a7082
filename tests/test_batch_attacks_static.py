"""batch.yml's jobs hold a batch role's credentials: none of them may run code from a branch that
writers push to without review.

The `batch` GitHub environment admits the prod branch only, so the code a batch job checks out at
the workspace root (no `ref`, or the prod branch named) is the prod branch's. The QA job needs the dev branch's lock; it
may check the dev branch out only into a folder of its own, and use that folder only as
`batch run --lock-root <folder>` (data the registry and the artifact hash must confirm): never
as code, requirements, working directory or PYTHONPATH.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from conftest import CUSTOM, bake

CHECKOUT = "actions/checkout"
PROD_REF = "${{ env.PROD_BRANCH }}"


@pytest.fixture(scope="module")
def batch_workflow(tmp_path_factory) -> dict:
    repo = bake(tmp_path_factory.mktemp("batch-static"), **CUSTOM)
    return yaml.safe_load((repo / ".github" / "workflows" / "batch.yml").read_text())


def batch_jobs(workflow: dict) -> dict[str, dict]:
    return {name: job for name, job in workflow["jobs"].items() if job.get("environment") == "batch"}


def code_problems(workflow: dict) -> list[str]:
    """Each way a batch job could run code that is not the prod branch's."""
    problems = []
    for name, job in batch_jobs(workflow).items():
        steps = job.get("steps", [])
        other_checkouts = []
        for step in steps:
            if not str(step.get("uses", "")).startswith(CHECKOUT + "@"):
                continue
            given = step.get("with") or {}
            if "path" not in given:
                if given.get("ref", PROD_REF) != PROD_REF or "repository" in given:
                    problems.append(f"{name}: the workspace root is checked out from {given}, not this run's ref")
            else:
                path = str(given["path"]).rstrip("/")
                if not path.startswith("build/"):
                    problems.append(f"{name}: another ref is checked out into {path}, outside build/")
                other_checkouts.append(path)
        for step in steps:
            if "working-directory" in step:
                problems.append(f"{name}: a step runs in {step['working-directory']}")
            text = " ".join([str(step.get("run", "")), *map(str, (step.get("env") or {}).values())])
            for path in other_checkouts:
                uses = re.findall(rf"(\S*){re.escape(path)}\S*", text)
                allowed = re.findall(rf"--lock-root {re.escape(path)}/?(?:\s|$)", text)
                if len(uses) != len(allowed):
                    problems.append(f"{name}: a step uses {path} other than as --lock-root: {text[:120]!r}")
        problems += [
            f"{name}: {key} is set on the job" for key in ("defaults",) if "working-directory" in str(job.get(key, ""))
        ]
    return problems


def test_no_batch_job_runs_code_from_another_branch(batch_workflow):
    assert set(batch_jobs(batch_workflow)) == {"batch-qa", "batch-prod"}
    assert code_problems(batch_workflow) == []


def test_the_qa_job_reads_the_dev_branchs_lock_through_lock_root(batch_workflow):
    job = batch_workflow["jobs"]["batch-qa"]
    paths = [s["with"]["path"] for s in job["steps"] if (s.get("with") or {}).get("path")]
    assert len(paths) == 1
    assert any(f"--lock-root {paths[0]}" in str(s.get("run", "")) for s in job["steps"])


def _checkout_root_at_dev(workflow: dict) -> None:
    """The QA job as it was: the dev branch checked out at the root, and run."""
    steps = workflow["jobs"]["batch-qa"]["steps"]
    steps[0]["with"]["ref"] = "${{ env.DEV_BRANCH }}"


def _run_from_the_dev_checkout(workflow: dict) -> None:
    for step in workflow["jobs"]["batch-qa"]["steps"]:
        if "run" in step and "batch run" in step["run"]:
            step["env"]["PYTHONPATH"] = "build/dev-lock/src"


def _install_dev_requirements(workflow: dict) -> None:
    for step in workflow["jobs"]["batch-qa"]["steps"]:
        if "pip install" in str(step.get("run", "")):
            step["run"] = step["run"].replace("requirements/", "build/dev-lock/requirements/")


def _work_in_the_dev_checkout(workflow: dict) -> None:
    for step in workflow["jobs"]["batch-qa"]["steps"]:
        if "run" in step and "batch run" in step["run"]:
            step["working-directory"] = "build/dev-lock"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_checkout_root_at_dev, "the workspace root is checked out from"),
        (_run_from_the_dev_checkout, "other than as --lock-root"),
        (_install_dev_requirements, "other than as --lock-root"),
        (_work_in_the_dev_checkout, "a step runs in build/dev-lock"),
    ],
)
def test_each_way_of_running_dev_code_with_a_batch_role_is_caught(batch_workflow, mutate, problem):
    workflow = copy.deepcopy(batch_workflow)
    mutate(workflow)
    problems = code_problems(workflow)
    assert problems and problem in problems[0], problems


def test_the_rule_reads_this_files_own_template(batch_workflow):
    """The jobs named above exist in the template, so the rule is not vacuous."""
    template = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug|slugify}}" / ".github"
    assert (template / "workflows" / "batch.yml").is_file()
    assert all(batch_jobs(batch_workflow)[job]["steps"] for job in ("batch-qa", "batch-prod"))
