"""Command line the workflows call: `python -m <package>.deploy.cli <command> ...`.

Registry commands (ensure-groups, latest, approve, stage, promote, lock write, compare) run
with the shared-services registry role; deploy, rollback and endpoint-test run with the role
of the environment's workload account. Each command checks the account of the credentials it
was given before it changes anything.

Output: human-readable progress on stderr; results on stdout as key=value lines (JSON for
`lock show`, markdown for `compare`); `--github-output` also appends the key=value lines to
$GITHUB_OUTPUT. Exit status: 0 on success, 1 on failure with one `error: ...` line on stderr,
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import config
from ..config import Config
from ..endpoint_tests.suite import (
    SageMakerInvoker,
    format_text,
    load_samples,
    run_suite,
    write_outputs,
)
from . import compare, lockfile, registry
from .aws import Clients, DeployError, error_code, error_message, log, require_account
from .deploy import DEFAULT_POLL_SECONDS, Waiter, deploy, prepare
from .endpoint import default_timeout
from .rollback import RollbackFailed, rollback


def _outputs(args: argparse.Namespace, values: dict[str, Any]) -> None:
    """Print key=value lines; with --github-output also append them to $GITHUB_OUTPUT."""
    lines = [f"{key}={value}" for key, value in values.items()]
    for line in lines:
        print(line)
    if getattr(args, "github_output", False):
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise DeployError("--github-output given but GITHUB_OUTPUT is not set")
        with Path(target).open("a") as handle:
            handle.write("".join(line + "\n" for line in lines))


def _lowercase(value: object) -> str:
    return str(value).lower()


def cmd_ensure_groups(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "ensure-groups")
    registry.ensure_groups(cfg, clients)
    return 0


def cmd_latest(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "latest")
    group = cfg.group(args.group)
    summary = registry.latest_package(clients, group, args.status, args.git_sha)
    if summary is None:
        wanted = (f" with status {args.status}" if args.status else "") + (
            f" registered from commit {args.git_sha}" if args.git_sha else ""
        )
        raise DeployError(f"no Completed version{wanted} in {group}")
    _outputs(
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
    package = registry.approve(cfg, clients, args.arn, args.pr, args.commit, args.actor)
    _outputs(args, {"arn": args.arn, "approval": package.get("ApprovalDescription", "")})
    return 0


def cmd_stage(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "stage")
    changed = registry.record_stage(cfg, clients, args.arn, args.stage, args.status, args.description)
    _outputs(args, {"arn": args.arn, "stage": registry.STAGES[args.stage], "changed": _lowercase(changed)})
    return 0


def cmd_promote(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "promote")
    arn, created = registry.promote(cfg, clients, args.arn)
    ref = registry.parse_package_arn(arn)
    _outputs(args, {"arn": arn, "version": ref.version, "created": _lowercase(created)})
    return 0


def _waiter(args, timeout: int) -> Waiter:
    return Waiter(
        timeout=args.timeout if args.timeout is not None else timeout, poll_seconds=args.poll_interval
    )


def cmd_deploy(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    """Deploy a version to the environment's endpoint and wait for it.

    It exits 1 before any mutating call when the version is not one the environment may run
    (prod: an Approved version of the prod group in the shared registry), and exits 1 when the
    endpoint does not end InService on the new config.
    """
    require_account(clients, cfg, cfg.environment(args.env).account_role, f"deploy --env {args.env}")
    deploy_plan = prepare(cfg, clients, args.env, args.arn)
    result = deploy(clients, deploy_plan, _waiter(args, deploy_plan.timeout))
    _outputs(
        args,
        {
            "endpoint_name": result.endpoint_name,
            "endpoint_config": result.config_name,
            "model_name": result.model_name,
            "previous_config": result.previous_config or "",
            "action": result.action,
            "changed": _lowercase(result.changed),
        },
    )
    return 0


def cmd_rollback(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    environment = cfg.environment(args.env)
    require_account(clients, cfg, environment.account_role, f"rollback --env {args.env}")
    settings = environment.endpoint
    result = rollback(clients, settings, _waiter(args, default_timeout(settings)))
    _outputs(
        args,
        {
            "endpoint_name": result.endpoint_name,
            "endpoint_config": result.to_config,
            "rolled_back_from": result.from_config,
            "changed": _lowercase(result.changed),
        },
    )
    return 0


def cmd_endpoint_test(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    """Run the endpoint test suite against the environment's endpoint.

    It exits 1 when a check fails; with --rollback-on-failure it first rolls the endpoint back
    to its previous config (and still exits 1, so the job fails).
    """
    environment = cfg.environment(args.env)
    require_account(clients, cfg, environment.account_role, f"endpoint-test --env {args.env}")
    settings = environment.endpoint
    thresholds = cfg.tests_for(args.env)
    try:
        samples = load_samples(args.samples, args.rows, cfg.model.target_column)
    except ValueError as exc:
        raise DeployError(str(exc)) from exc
    invoker = SageMakerInvoker(settings.endpoint_name, clients("sagemaker-runtime"), clients.sagemaker)
    log(f"endpoint tests against {settings.endpoint_name} ({thresholds.burst_requests} burst requests)")
    report = run_suite(invoker, samples, thresholds)
    print(format_text(report))
    write_outputs(report, args.summary, args.report)
    _outputs(args, {"passed": _lowercase(report.passed)})
    if report.passed:
        return 0
    failed = ", ".join(c.name for c in report.failures())
    if args.rollback_on_failure:
        log(f"endpoint tests failed ({failed}); rolling back")
        try:
            result = rollback(clients, settings, _waiter(args, default_timeout(settings)))
        except RollbackFailed as exc:
            print(f"error: endpoint tests failed ({failed}) and {exc}", file=sys.stderr)
            return 1
        print(
            f"error: endpoint tests failed ({failed}); "
            f"{settings.endpoint_name} is back on {result.to_config}",
            file=sys.stderr,
        )
        return 1
    print(f"error: endpoint tests failed against {settings.endpoint_name}: {failed}", file=sys.stderr)
    return 1


def _lock_file(args, cfg: Config) -> Path:
    return Path(args.lock_file) if args.lock_file else lockfile.lock_path(cfg)


def cmd_lock_write(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "lock write")
    try:
        qa_report = json.loads(Path(args.qa_report).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DeployError(f"cannot read the QA report {args.qa_report}: {exc}") from exc
    registry.check_package(cfg, args.arn, "dev")
    package = registry.describe(clients, args.arn)
    git_sha = args.git_sha or registry.package_git_sha(package)
    if not git_sha:
        raise DeployError(f"{args.arn} has no git_sha metadata; pass --git-sha")
    metrics = registry.package_metrics(clients, package)
    lock = lockfile.build_lock(cfg, args.arn, git_sha, metrics, qa_report)
    path = _lock_file(args, cfg)
    lockfile.write_lock(path, lock)
    log(f"wrote {path}: version {lock['version']} ({lock['qa_test']['summary']})")
    _outputs(args, {"lock_file": path, "arn": args.arn, "version": lock["version"]})
    return 0


def cmd_lock_show(args: argparse.Namespace, cfg: Config, clients: Clients | None) -> int:
    lock = lockfile.read_lock(cfg, _lock_file(args, cfg), require_passed=False)
    print(json.dumps(lock, indent=2))
    return 0


def cmd_lock_verify(args: argparse.Namespace, cfg: Config, clients: Clients | None) -> int:
    lock = lockfile.read_lock(cfg, _lock_file(args, cfg))
    log(f"lock OK: {lock['model_package_arn']} (QA: {lock['qa_test']['summary']})")
    _outputs(args, {"arn": lock["model_package_arn"], "version": lock["version"], "git_sha": lock["git_sha"]})
    return 0


def cmd_compare(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    if args.env != "prod":
        raise DeployError("compare supports --env prod (the locked candidate against the prod champion)")
    lock = lockfile.read_lock(cfg, _lock_file(args, cfg), require_passed=False)
    require_account(clients, cfg, "shared_services", "compare")
    markdown = compare.comparison_markdown(cfg, lock, compare.champion(cfg, clients))
    print(markdown)
    if args.output:
        with Path(args.output).open("a") as handle:
            handle.write(markdown + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.cli", description="Model registry, deploy and rollback commands."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, handler, help_: str, outputs: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        if outputs:
            sub.add_argument(
                "--github-output", action="store_true", help="also append key=value to $GITHUB_OUTPUT"
            )
        return sub

    def waiting(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--timeout", type=int, help="seconds to wait for the endpoint (default from config)")
        sub.add_argument(
            "--poll-interval", type=float, default=DEFAULT_POLL_SECONDS, help="seconds between status checks"
        )

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
    sub.add_argument("--arn", required=True)
    sub.add_argument("--pr", required=True, help="pull request number")
    sub.add_argument("--commit", required=True, help="merge commit SHA")
    sub.add_argument("--actor", required=True, help="GitHub login of the approver")
    sub = command("stage", cmd_stage, "Record a version's model life-cycle stage.")
    sub.add_argument("--arn", required=True)
    sub.add_argument("--stage", required=True, choices=tuple(registry.STAGES))
    sub.add_argument("--status", default="Approved", choices=registry.STAGE_STATUSES)
    sub.add_argument("--description")
    sub = command(
        "promote", cmd_promote, "Register an Approved dev version into the prod group (idempotent)."
    )
    sub.add_argument("--arn", required=True)
    sub = command("deploy", cmd_deploy, "Create or update an environment's endpoint to serve a version.")
    sub.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    sub.add_argument("--arn", required=True)
    waiting(sub)
    sub = command("rollback", cmd_rollback, "Update an endpoint back to its recorded previous config.")
    sub.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    waiting(sub)
    sub = command("endpoint-test", cmd_endpoint_test, "Run the endpoint test suite against an endpoint.")
    sub.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    sub.add_argument("--summary", type=Path, help="append markdown tables here (e.g. $GITHUB_STEP_SUMMARY)")
    sub.add_argument("--report", type=Path, help="write the report JSON here (input of `lock write`)")
    sub.add_argument("--samples", type=Path, help="labelled CSV (default data/sample.csv)")
    sub.add_argument("--rows", type=int, default=50, help="labelled rows to send (default 50)")
    sub.add_argument("--rollback-on-failure", action="store_true")
    waiting(sub)

    lock = commands.add_parser("lock", help="Write, show or verify model.lock.json.")
    lock_commands = lock.add_subparsers(dest="lock_command", required=True, metavar="action")

    def lock_command(name: str, handler, help_: str, outputs: bool = True) -> argparse.ArgumentParser:
        sub = lock_commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        sub.add_argument("--lock-file", help="default: <repo>/<lock_file from config>")
        if outputs:
            sub.add_argument(
                "--github-output", action="store_true", help="also append key=value to $GITHUB_OUTPUT"
            )
        return sub

    sub = lock_command("write", cmd_lock_write, "Lock a QA-verified dev version.")
    sub.add_argument("--arn", required=True)
    sub.add_argument("--qa-report", required=True, help="report JSON of `endpoint-test --report`")
    sub.add_argument("--git-sha", help="default: the version's git_sha metadata")
    lock_command("show", cmd_lock_show, "Print the lock file.", outputs=False)
    lock_command("verify", cmd_lock_verify, "Validate the lock file (offline).")

    sub = command("compare", cmd_compare, "Markdown: locked candidate vs prod champion and QA report.", False)
    sub.add_argument("--env", required=True, choices=("prod",))
    sub.add_argument("--lock-file", help="default: <repo>/<lock_file from config>")
    sub.add_argument("--output", type=Path, help="also append the markdown here (e.g. $GITHUB_STEP_SUMMARY)")
    return parser


OFFLINE = {cmd_lock_show, cmd_lock_verify}


def main(argv: list[str] | None = None, *, session: Any = None, registry_session: Any = None) -> int:
    """Run one command. `session` (a boto3 Session) defaults to the ambient credentials.

    `registry_session` is what `deploy` reads the model package with; it defaults to
    `session`, as in the workflows: the workload account describes the shared registry's
    package through the group's resource policy. Tests pass the shared-services account's
    session instead, because moto keeps accounts apart and has no resource policies.
    """
    args = build_parser().parse_args(argv)
    try:
        cfg = config.load_config()
        if args.handler is cmd_endpoint_test and args.samples is None:
            args.samples = lockfile.repo_root() / "data" / "sample.csv"
        clients = None
        if args.handler not in OFFLINE:
            if session is None:
                import boto3

                session = boto3.Session()
            clients = Clients(session, cfg.region, registry_session)
        return args.handler(args, cfg, clients)
    except (DeployError, config.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except ClientError as exc:
        print(f"error: {exc.operation_name} failed: {error_code(exc)}: {error_message(exc)}", file=sys.stderr)
    except BotoCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
