"""Registry, lock and compare commands: `python -m <package>.promotion.cli <command> ...`.

Registry commands (ensure-groups, latest, approve, stage, promote), `lock write` and `compare`
run with a shared-services registry role (QA or prod, see docs/deploy.md) and check the
account of their credentials before anything else; `lock verify` and `lock show` are offline.

Contract (cli_support): results on stdout as key=value lines (JSON for `lock show`, markdown
for `compare`), `--github-output` also appends them to $GITHUB_OUTPUT; progress on stderr.
Exit 0 on success, 1 when the operation failed, 2 for bad arguments or config, each failure
with one `error: ...` line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import cli_support, config
from ..config import Config
from ..deploy.aws import Clients, DeployError, log, require_account, run_guarded
from . import cli_release, cli_sets, compare, groups, lifecycle, lockfile, promote, segments, version

# The first argument of each command this CLI runs (deploy.cli forwards them here).
COMMANDS = (
    "ensure-groups",
    "latest",
    "digest",
    "record-qa",
    "approve",
    "stage",
    "promote",
    "released",
    "reject",
    "lock",
    "compare",
)


def _lowercase(value: object) -> str:
    return str(value).lower()


def _emit(args: argparse.Namespace, values: dict[str, Any]) -> None:
    cli_support.emit(values, getattr(args, "github_output", False))


def cmd_ensure_groups(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "ensure-groups")
    groups.ensure_groups(cfg, clients)
    return 0


def cmd_latest(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "latest")
    if segments.segmented(cfg):
        return cli_sets.latest(args, cfg, clients)
    group = cfg.group(args.group)
    summary = lifecycle.latest_package(clients, group, args.status, args.git_sha)
    if summary is None:
        wanted = lifecycle.filter_description(args.status, args.git_sha)
        raise DeployError(f"no Completed version{wanted} in {group}")
    _emit(
        args,
        {
            "arn": summary["ModelPackageArn"],
            "version": summary.get("ModelPackageVersion", ""),
            "status": summary.get("ModelApprovalStatus", ""),
        },
    )
    return 0


def cmd_approve(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "approve")
    if segments.is_set(cfg, args.arn):
        return cli_sets.approve(args, cfg, clients)
    approved = lifecycle.approve(cfg, clients, args.arn, args.pr, args.commit, args.actor)
    _emit(args, {"arn": args.arn, "approval": approved.approval_description})
    return 0


def cmd_stage(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "stage")
    if segments.is_set(cfg, args.arn):
        return cli_sets.stage(args, cfg, clients)
    changed = lifecycle.record_stage(cfg, clients, args.arn, args.stage, args.status, args.description)
    _emit(args, {"arn": args.arn, "stage": lifecycle.STAGES[args.stage], "changed": _lowercase(changed)})
    return 0


def cmd_promote(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "promote")
    if segments.is_set(cfg, args.arn):
        return cli_sets.promote_set(args, cfg, clients)
    arn, created = promote.promote(cfg, clients, args.arn, args.expect_sha256)
    number = version.parse_package_arn(arn).version
    _emit(args, {"arn": arn, "version": number, "created": _lowercase(created)})
    return 0


def _lock_file(args: argparse.Namespace, cfg: Config) -> Path:
    return Path(args.lock_file) if args.lock_file else lockfile.lock_path(cfg)


def cmd_lock_write(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "lock write")
    try:
        qa_report = json.loads(Path(args.qa_report).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DeployError(f"cannot read the QA report {args.qa_report}: {exc}") from exc
    if segments.is_set(cfg, args.arn):
        return cli_sets.lock_write(args, cfg, clients, qa_report)
    resolved = version.resolve(cfg, clients, args.arn, "dev")
    value = version.read_metrics(clients, resolved)
    lock = lockfile.lock_for(cfg, value, qa_report, args.git_sha, clients=clients)
    path = _lock_file(args, cfg)
    lockfile.write_lock(path, lock)
    log(f"wrote {path}: version {lock['version']} ({lock['qa_test']['summary']})")
    _emit(args, {"lock_file": path, "arn": args.arn, "version": lock["version"]})
    return 0


def cmd_lock_show(args: argparse.Namespace, cfg: Config, clients: Clients | None) -> int:
    lock = lockfile.read_lock(cfg, _lock_file(args, cfg), require_passed=False)
    print(json.dumps(lock, indent=2))
    return 0


def cmd_lock_verify(args: argparse.Namespace, cfg: Config, clients: Clients | None) -> int:
    lock = lockfile.read_lock(cfg, _lock_file(args, cfg))
    if "segments" in lock:
        return cli_sets.lock_verify(args, cfg, lock)
    log(f"lock OK: {lock['model_package_arn']} (QA: {lock['qa_test']['summary']})")
    _emit(
        args,
        {
            "arn": lock["model_package_arn"],
            "version": lock["version"],
            "git_sha": lock["git_sha"],
            "sha256": lock["artifact"]["sha256"],
        },
    )
    return 0


def cmd_compare(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    if args.env != "prod":
        raise DeployError("compare supports --env prod (the locked candidate against the prod champion)")
    lock = lockfile.read_lock(cfg, _lock_file(args, cfg), require_passed=False)
    require_account(clients, cfg, "shared_services", "compare")
    if "segments" in lock:
        markdown = cli_sets.compare_markdown(cfg, clients, lock)
    else:
        markdown = compare.comparison_markdown(cfg, lock, compare.champion(cfg, clients))
    print(markdown)
    if args.output:
        with Path(args.output).open("a") as handle:
            handle.write(markdown + "\n")
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli_support.Parser(
        prog=prog or cli_support.prog(f"python -m {__package__}.cli"),
        description="Model registry, lock file and release comparison commands.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(
        name: str, handler, help_: str, outputs: bool = True, parent=commands
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        if outputs:
            cli_support.add_github_output(sub)
        return sub

    command(
        "ensure-groups",
        cmd_ensure_groups,
        "Create the model package groups and their resource policies.",
        False,
    )
    sub = command("latest", cmd_latest, "Print the newest Completed version of a group.")
    sub.add_argument("--group", required=True, choices=config.GROUP_KINDS)
    sub.add_argument("--status", choices=("Approved", "PendingManualApproval", "Rejected"))
    sub.add_argument("--git-sha", help="only a version registered from this commit (metadata git_sha)")
    sub = command("approve", cmd_approve, "Approve a dev version, recording actor, pull request and commit.")
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument("--pr", required=True, help="pull request number, or 'none' (only an Approved version)")
    sub.add_argument("--commit", required=True, help="merge commit SHA")
    sub.add_argument("--actor", required=True, help="GitHub login of the approver")
    sub = command("stage", cmd_stage, "Record a version's model life-cycle stage.")
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument("--stage", required=True, choices=tuple(lifecycle.STAGES))
    sub.add_argument("--status", default="Approved", choices=lifecycle.STAGE_STATUSES)
    sub.add_argument("--description")
    sub = command(
        "promote", cmd_promote, "Register an Approved dev version into the prod group (idempotent)."
    )
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument(
        "--expect-sha256", help="the artifact checksum the lock names; refused if QA tested another"
    )

    lock = commands.add_parser("lock", help="Write, show or verify model.lock.json.")
    actions = lock.add_subparsers(dest="lock_command", required=True, metavar="action")
    written = command("write", cmd_lock_write, "Lock a QA-verified dev version.", parent=actions)
    written.add_argument("--arn", required=True, help=segments.ARN_HELP)
    written.add_argument("--qa-report", required=True, help="report JSON of `endpoint-test --report`")
    written.add_argument("--git-sha", help="refuse unless the version was built from this commit")
    shown = command("show", cmd_lock_show, "Print the lock file.", False, parent=actions)
    verified = command("verify", cmd_lock_verify, "Validate the lock file (offline).", parent=actions)
    for sub in (written, shown, verified):
        sub.add_argument("--lock-file", help="default: <repo>/<lock_file from config>")
    cli_release.add_commands(command, actions)

    sub = command("compare", cmd_compare, "Markdown: locked candidate vs prod champion and QA report.", False)
    sub.add_argument("--env", required=True, choices=("prod",))
    sub.add_argument("--lock-file", help="default: <repo>/<lock_file from config>")
    sub.add_argument("--output", type=Path, help="also append the markdown here (e.g. $GITHUB_STEP_SUMMARY)")
    return parser


OFFLINE = {cmd_lock_show, cmd_lock_verify}


def main(argv: list[str] | None = None, *, session: Any = None) -> int:
    """Run one command. `session` (a boto3 Session) defaults to the ambient credentials."""
    args = build_parser().parse_args(argv)

    def run() -> int:
        cfg = config.load_config()
        clients = None
        if args.handler not in OFFLINE:
            nonlocal session
            if session is None:
                import boto3

                session = boto3.Session()
            clients = Clients(session, cfg.region)
        return args.handler(args, cfg, clients)

    return run_guarded(run, getattr(args, "github_output", False))


if __name__ == "__main__":
    sys.exit(main())
