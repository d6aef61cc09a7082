"""Run baked repositories' own quality gate and local rehearsal, as their users would.

The default answers and one non-default combination (xgboost, four accounts, custom
branches and names) must pass the generated `make check` (ruff lint, ruff format check
with no diff, pytest) and `make local` (the local rehearsal end to end), in each inference
mode: real-time, asynchronous (ASYNC=1), batch transform (BATCH=1) and one model per segment
behind one multi-model server (SEGMENTS=1). A batch-only bake (serving=batch-only) passes
`make check`, `make local` (its test: the transform test) and `make local BATCH=1`, and
refuses the modes that need an endpoint (ASYNC=1, SEGMENTS=1, SHIFTED=1) with one error
naming the setting.
The baked repos reuse this suite's virtual environment (VENV=...), which holds the
generated repo's pinned dev requirements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BATCH_ONLY, CUSTOM, bake

VENV = Path(sys.executable).parent.parent
CASES = {"default": {}, "custom": CUSTOM, "batch-only": BATCH_ONLY}


def make(repo: Path, target: str, *variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    return subprocess.run(
        ["make", "-C", str(repo), target, f"VENV={VENV}", *variables],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.fixture(scope="module", params=list(CASES))
def repo(request, tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp(request.param), **CASES[request.param])


def git_status(repo: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_make_check_passes_and_changes_nothing(repo):
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    before = git_status(repo)
    result = make(repo, "check")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " passed" in result.stdout
    assert git_status(repo) == before  # lint and tests leave the tree as it was


@pytest.mark.slow
def test_make_local_rehearsal_passes(repo):
    result = make(repo, "local")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (repo / "build" / "local").is_dir()
    # A batch-only project's test is the transform test, and it has no traffic to monitor.
    batch_only = json.loads((repo / "config" / "project.json").read_text())["environments"]["qa"]["endpoint"]
    marks = (
        ["transform test PASSED", "skipped: batch-only"]
        if batch_only == {"type": "none"}
        else ["endpoint tests PASSED"]
    )
    assert all(mark in result.stdout for mark in marks), result.stdout[-4000:]


# What each mode's rehearsal prints only when it ran that mode.
MODES = {
    "ASYNC=1": ("endpoint tests PASSED", "(async)"),
    "BATCH=1": ("requests=", "failures=0"),
    "SEGMENTS=1": ("endpoint tests PASSED", "Per-segment files: build/local/evaluation/<segment>/"),
}


# A batch-only project has no endpoint: its rehearsal runs BATCH=1 and refuses the rest.
BATCH_ONLY_MODES = ["BATCH=1"]
BATCH_ONLY_REFUSED = {
    "ASYNC=1": "--async (ASYNC=1)",
    "SEGMENTS=1": "--segments (SEGMENTS=1)",
    "SHIFTED=1": "--shifted (SHIFTED=1)",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("repo", "mode"),
    [(case, mode) for case in CASES for mode in (BATCH_ONLY_MODES if case == "batch-only" else MODES)],
    indirect=["repo"],
)
def test_make_local_rehearses_each_inference_mode(repo, mode):
    result = make(repo, "local", mode)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "rehearsal passed" in output, output[-4000:]
    assert all(mark in output for mark in MODES[mode]), output[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("repo", ["batch-only"], indirect=True)
@pytest.mark.parametrize("mode", list(BATCH_ONLY_REFUSED))
def test_a_batch_only_bake_refuses_the_modes_that_need_an_endpoint(repo, mode):
    result = make(repo, "local", mode)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode != 0 and len(errors) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert errors[0].startswith(f"error: {BATCH_ONLY_REFUSED[mode]} in a batch-only project "), errors
    assert 'environments.qa.endpoint.type is "none"' in errors[0]
    assert "rehearsal passed" not in result.stdout
