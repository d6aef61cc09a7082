"""From a laptop (`make run`, `make status`, `make compare`): the `status` and `compare` commands,
and the checks made before, and at, the first AWS call, so a wrong profile, branch or account is
one clear line, never a half-done run.

- `add_commands(sub)`, `prepare(args, cfg)`, `execute(...)`: the `status` and `compare`
  subcommands of the pipeline CLI (arguments checked in `prepare`, before any AWS call);
  `show_run(...)`: after a successful run, the registered version and its metrics;
- `check_profile()`: AWS_PROFILE (the Makefile's PROFILE) names a profile of the AWS config
  files (no AWS call);
- `refuse_ci_branch(cfg, kind, branch)`: the dev and prod branches are CI's. A feature pipeline is
  one per branch, so a feature run on either would register the branch's code as a feature
  version under a hashed name; the dev pipeline is started by the dev workflow on push (and the
  data-scientist role may not start it). Refused, naming the way forward;
- `check_account(session, cfg)`: STS GetCallerIdentity, the credentials must be the data-science
  account's (pipelines live there); a stale SSO sign-in is named with `aws sso login`;
- `dirty_tree_warning()`: the pipeline runs the working tree's step scripts but records HEAD.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ..cli_support import EXIT_FAILED, EXIT_OK, UsageError, add_timeout, positive_number
from ..config import PIPELINE_KINDS, Config
from ..deploy.aws import DeployError
from ..promotion.compare import champion
from ..promotion.version import reference, resolve
from . import names, watch
from .context import NO_BRANCH, git_value
from .execution import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT, CliError, list_steps, watch_execution

CHECK_ACCOUNT_HELP = (
    "first check (STS) that the credentials are the data-science account's; "
    "make run, status and compare pass it"
)


def add_commands(sub: Any) -> None:
    """The `status` and `compare` subparsers."""
    status = sub.add_parser(
        "status", help="watch a run's steps live, then show the version it registered and its metrics"
    )
    status.add_argument(
        "--kind", choices=PIPELINE_KINDS, default="feature", help="branch kind (default: feature)"
    )
    status.add_argument("--branch", help="whose pipeline's newest run to watch (default: GitHub env or git)")
    status.add_argument(
        "--execution-arn",
        metavar="ARN",
        help="the run to watch (default: the newest run of the branch's pipeline)",
    )
    add_timeout(status, DEFAULT_TIMEOUT, "the execution to finish (0: look once)")
    status.add_argument(
        "--poll-interval", type=positive_number, default=DEFAULT_POLL_INTERVAL, help=argparse.SUPPRESS
    )
    compare = sub.add_parser("compare", help="a candidate version's metrics next to the prod champion's")
    compare.add_argument("--branch", help="whose newest feature version is the candidate (default: git)")
    compare.add_argument(
        "--candidate",
        metavar="ARN",
        help="the version to compare (default: the branch's newest version in the feature group)",
    )
    for command in (status, compare):
        command.add_argument("--check-account", action="store_true", help=CHECK_ACCOUNT_HELP)


@dataclass(frozen=True)
class Request:
    """What `status` or `compare` acts on, settled before any AWS call."""

    branch: str
    pipeline: str = ""
    execution_arn: str = ""
    candidate: str = ""


def _branch(args: argparse.Namespace, cfg: Config, kind: str) -> str:
    branch = args.branch or git_value(
        ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"), ["rev-parse", "--abbrev-ref", "HEAD"]
    )
    if kind == "feature" and not args.branch and branch in NO_BRANCH:
        raise UsageError(
            f"cannot tell the branch (git says {branch!r}); pass --branch NAME (make: BRANCH=NAME)"
        )
    refuse_ci_branch(cfg, kind, branch)
    return branch


def prepare(args: argparse.Namespace, cfg: Config) -> Request:
    """The checked Request of `status` or `compare` (UsageError/CliError: exit 2, no AWS call)."""
    if args.command == "status":
        if args.execution_arn:
            pipelines = (cfg.names.pipelines["dev"],)
            arn = watch.execution_arn_of(
                cfg, args.execution_arn, pipelines, cfg.names.artifact_prefixes["feature"]
            )
            return Request(branch="", execution_arn=arn)
        branch = _branch(args, cfg, args.kind)
        return Request(branch=branch, pipeline=names.pipeline_name(cfg, args.kind, branch))
    if args.candidate:
        try:
            reference(cfg, args.candidate)
        except DeployError as exc:
            raise UsageError(f"--candidate: {exc}") from None
        return Request(branch="", candidate=args.candidate)
    return Request(branch=_branch(args, cfg, "feature"))


def execute(
    args: argparse.Namespace,
    cfg: Config,
    request: Request,
    session: Any,
    client: Any,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, dict[str, str]]:
    """Run `status` or `compare`; (exit status, key=value results)."""
    clients = watch.clients_for(cfg, session, client)
    if args.command == "compare":
        arn = request.candidate or watch.branch_candidate(cfg, clients, request.branch)
        candidate = resolve(cfg, clients, arn, metrics=True)
        current = champion(cfg, clients)
        for line in watch.comparison_lines(cfg, candidate, current):
            print(line, file=out)
        return EXIT_OK, {"candidate": candidate.arn, "champion": current.arn if current else "none"}
    execution_arn = request.execution_arn or watch.latest_execution(client, request.pipeline)
    print(f"pipeline: watching {execution_arn}", file=out, flush=True)
    return follow_run(cfg, clients, client, execution_arn, args, out, sleep, clock)


def follow_run(
    cfg: Config,
    clients: Any,
    client: Any,
    execution_arn: str,
    args: argparse.Namespace,
    out: TextIO,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> tuple[int, dict[str, str]]:
    """Watch an execution to its end (`--timeout`, `--poll-interval`); on success show the
    registered version and its metrics. The exit status and the key=value results."""
    status = watch_execution(
        client,
        execution_arn,
        timeout=args.timeout,
        poll_interval=args.poll_interval,
        out=out,
        sleep=sleep,
        clock=clock,
    )
    values = {"execution_arn": execution_arn, "status": status}
    if status == "Succeeded":
        values["model_package_arn"] = show_run(cfg, clients, client, execution_arn, out) or ""
    return (EXIT_OK if status == "Succeeded" else EXIT_FAILED), values


def show_run(cfg: Config, clients: Any, client: Any, execution_arn: str, out: TextIO) -> str | None:
    """After a successful execution: the registered version and its metrics table. The run did
    succeed, so a version that cannot be read is a warning (its ARN is still printed)."""
    steps = list_steps(client, execution_arn)
    try:
        return watch.show_registered(cfg, clients, steps, out)
    except (BotoCoreError, ClientError, DeployError) as exc:
        found = watch.registered_set(cfg, steps) if cfg.model.segments.enabled else {}
        arn = ",".join(found.values()) if found else watch.registered_arn(steps)
        print(f"pipeline: registered {arn}", file=out)
        print(f"warning: could not read the registered version's metrics: {exc}", file=sys.stderr)
        return arn


# botocore's exceptions for a sign-in that expired or never happened.
SIGN_IN_ERRORS = (
    "SSOTokenLoadError",
    "UnauthorizedSSOTokenError",
    "TokenRetrievalError",
    "NoCredentialsError",
    "CredentialRetrievalError",
)


def check_profile(environ: Any = None) -> None:
    """UsageError when AWS_PROFILE names no profile of ~/.aws/config or ~/.aws/credentials."""
    environ = os.environ if environ is None else environ
    profile = environ.get("AWS_PROFILE")
    if not profile:
        return
    import botocore.session

    known = botocore.session.Session(profile=None).available_profiles
    if profile not in known:
        raise UsageError(
            f"AWS profile {profile!r} (PROFILE / AWS_PROFILE) is not in your AWS config files; expected one "
            f"of: {', '.join(sorted(known)) or 'none (run aws configure sso)'}"
        )


def refuse_ci_branch(cfg: Config, kind: str, branch: str) -> None:
    """UsageError for a feature-pipeline command on the dev or prod branch."""
    if kind != "feature" or branch not in (cfg.branches.dev, cfg.branches.prod):
        return
    if branch == cfg.branches.dev:
        which, ci = "dev", f"a push to it runs the dev pipeline {cfg.names.pipelines['dev']}"
    else:
        which, ci = "prod", "a push to it releases to prod"
    raise UsageError(
        f"{branch!r} is the {which} branch: its runs are CI's ({ci}), not a feature pipeline's; "
        f"run from a feature branch: git switch -c {cfg.branches.feature_prefix}<name>"
    )


def check_account(session: Any, cfg: Config) -> str:
    """The caller's ARN; CliError unless the credentials are the data-science account's."""
    expected = cfg.account_id("data_science")
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise CliError(sign_in_message(exc)) from exc
    if identity["Account"] != expected:
        raise CliError(
            f"the credentials are {identity['Arn']} in account {identity['Account']}; the pipelines run in "
            f"the data-science account {expected}: pass PROFILE=<a profile of that account> "
            "(docs/workflows.md, from a laptop)"
        )
    return identity["Arn"]


def sign_in_message(exc: Exception) -> str:
    """One line for a credentials failure, with the command that fixes a stale SSO sign-in."""
    text = str(exc).replace("\n", " ")
    if type(exc).__name__ in SIGN_IN_ERRORS:
        profile = os.environ.get("AWS_PROFILE")
        login = f"aws sso login --profile {profile}" if profile else "aws sso login (or set PROFILE)"
        return f"no valid AWS credentials ({text}); sign in: {login}"
    return f"AWS call failed: {text}"


def dirty_tree_warning() -> str | None:
    """A warning when git reports uncommitted changes (None when clean or not a git checkout)."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        # Fixed arguments, no shell: nothing user-controlled reaches the command line.
        command = [git, "status", "--porcelain"]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=10)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    if not out.stdout.strip():
        return None
    return (
        "warning: uncommitted changes: the pipeline runs this working tree's code but records the "
        "last commit; commit first to keep the version reproducible"
    )
