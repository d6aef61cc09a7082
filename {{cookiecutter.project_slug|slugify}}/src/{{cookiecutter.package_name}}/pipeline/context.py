"""What a pipeline command runs for, settled before any AWS call: the commit, the branch, the
pipeline (one per feature branch), its execution role, and the CI run that names the start token.

- `git_value`: a value from GitHub Actions' environment, else from git;
- `resolve_target`: a `Target` from the arguments, the environment and the config (including
  the jobs' artifact key, `names.job_kms_key`), or one ConfigError / UsageError naming what is
  missing;
- `sdk_logging`: the SageMaker SDK's log chatter kept off the terminal unless --verbose.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..cli_support import UsageError
from ..config import Config, ConfigError
from . import names

NOISY_LOGGERS = ("sagemaker", "botocore", "boto3", "urllib3", "moto")
# What `git rev-parse --abbrev-ref HEAD` and git_value give when there is no branch to name.
NO_BRANCH = ("unknown", "HEAD")


@dataclass(frozen=True)
class Target:
    """The pipeline a command acts on and the facts recorded with it."""

    kind: str
    name: str
    branch: str
    git_sha: str
    role_arn: str
    # ClientRequestToken of the start (None outside a CI run: every start is a new execution).
    token: str | None
    # The jobs' artifact key ("" for `start`, which builds nothing).
    kms_key: str


def git_value(env_names: tuple[str, ...], git_args: list[str]) -> str:
    """First non-empty environment variable of env_names, else `git <git_args>`, else "unknown"."""
    for name in env_names:
        if os.environ.get(name):
            return os.environ[name]
    git = shutil.which("git")
    if git:
        try:
            # Fixed arguments, no shell: nothing user-controlled reaches the command line.
            out = subprocess.run([git, *git_args], capture_output=True, text=True, check=True, timeout=10)  # noqa: S603
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        return out.stdout.strip() or "unknown"
    return "unknown"


def resolve_target(args: argparse.Namespace, cfg: Config) -> Target:
    """The Target of a parsed command line.

    Defaults: --git-sha GITHUB_SHA or git; --branch GITHUB_HEAD_REF, GITHUB_REF_NAME or git;
    --role-arn the kind's execution role; --repository GITHUB_REPOSITORY or the config's
    owner/repo; --run-id GITHUB_RUN_ID (none: no token); --run-attempt GITHUB_RUN_ATTEMPT or 1.
    A feature run that would start (upsert, start, run) on a branch it cannot name is refused.
    """
    git_sha = args.git_sha or git_value(("GITHUB_SHA",), ["rev-parse", "HEAD"])
    branch = args.branch or git_value(
        ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"), ["rev-parse", "--abbrev-ref", "HEAD"]
    )
    if args.kind == "feature" and args.command != "definition" and not args.branch and branch in NO_BRANCH:
        raise UsageError(
            "cannot tell the branch (no GITHUB_HEAD_REF / GITHUB_REF_NAME, git says "
            f"{branch!r}); feature pipelines are one per branch: pass --branch NAME (make: BRANCH=NAME)"
        )
    name = names.pipeline_name(cfg, args.kind, branch)
    role_arn = args.role_arn or names.execution_role_arn(cfg, args.kind)
    token = None
    run_id = getattr(args, "run_id", None) or os.environ.get("GITHUB_RUN_ID")
    if args.command in ("start", "run") and run_id:
        repository = (
            getattr(args, "repository", None)
            or os.environ.get("GITHUB_REPOSITORY")
            or f"{cfg.github.owner}/{cfg.github.repo}"
        )
        attempt = getattr(args, "run_attempt", None) or os.environ.get("GITHUB_RUN_ATTEMPT") or "1"
        token = names.start_token(repository, git_sha, run_id, attempt, name)
    return Target(args.kind, name, branch, git_sha, role_arn, token, _kms_key(args, cfg))


def _kms_key(args: argparse.Namespace, cfg: Config) -> str:
    """The jobs' artifact key (`names.job_kms_key`). Only the offline definition, which runs no
    job and writes nothing, may show the alias ARN instead, with a warning on stderr."""
    if args.command == "start":
        return ""
    try:
        return names.job_kms_key(cfg)
    except ConfigError as exc:
        if not (args.command == "definition" and args.offline):
            raise
        print(f"warning: this definition names the key alias; upsert and run refuse: {exc}", file=sys.stderr)
        return cfg.artifact_key()


@contextmanager
def sdk_logging(verbose: bool) -> Iterator[None]:
    """Keep the SDK's INFO and WARNING chatter (and its PipelineSession notice) off the terminal
    unless --verbose. Enter it after importing the SDK: it quiets the loggers that exist then
    (the SDK sets levels on its own loggers) and restores their levels on exit."""
    if verbose:
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        yield
        return
    names_ = [
        *NOISY_LOGGERS,
        *(n for n in logging.root.manager.loggerDict if n.split(".")[0] in NOISY_LOGGERS),
    ]
    saved = [(logger, logger.level) for logger in map(logging.getLogger, names_)]
    try:
        for logger, _ in saved:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)
