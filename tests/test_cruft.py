"""The answers recorded in .cruft.json let `cruft update` bring template changes into a baked repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

from conftest import TEMPLATE

CRUFT = str(Path(sys.executable).parent / "cruft")
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "template-test",
    "GIT_AUTHOR_EMAIL": "template-test@example.invalid",
    "GIT_COMMITTER_NAME": "template-test",
    "GIT_COMMITTER_EMAIL": "template-test@example.invalid",
}
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".venv-checkov", "build", "__pycache__", ".pytest_cache", ".ruff_cache"
)


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=300)


def commit_all(repo: Path, message: str) -> str:
    run(["git", "add", "-A"], repo)
    assert run(["git", "commit", "-q", "-m", message], repo).returncode == 0
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def test_cruft_update_applies_a_template_change(tmp_path):
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template, ignore=IGNORE)
    run(["git", "init", "-q"], template)
    first = commit_all(template, "template v1")

    repo = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path / "out")))
    record = json.loads((repo / ".cruft.json").read_text())
    assert record["template"] == str(template)
    assert record["commit"] == first
    run(["git", "init", "-q"], repo)
    commit_all(repo, "baked")
    assert run([CRUFT, "check"], repo).returncode == 0

    makefile = template / "{{cookiecutter.project_slug|slugify}}" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# a change made in the template after baking\n")
    commit_all(template, "template v2")
    assert run([CRUFT, "check"], repo).returncode != 0

    update = run([CRUFT, "update", "--skip-apply-ask", "-y"], repo)
    assert update.returncode == 0, update.stdout + update.stderr
    assert (repo / "Makefile").read_text().endswith("# a change made in the template after baking\n")
    assert list(repo.rglob("*.rej")) == []
    assert run([CRUFT, "check"], repo).returncode == 0
