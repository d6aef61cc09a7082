"""Deploy, rollback and endpoint tests: `python -m <package>.deploy.cli <command> ...`.

deploy, rollback and `endpoint-test --env` run with the role of the environment's workload
account and check the account of their credentials before they change anything;
`endpoint-test --url` runs the same suite against a local model server, without AWS. The
registry, lock and compare commands (`promotion.cli.COMMANDS`) are forwarded to
`promotion.cli`, so `python -m <package>.deploy.cli <any of them>` keeps working.
`shadow start|compare|promote|abort` (shadow_cli.py) run the shadow phase of a release.

Contract (cli_support): results on stdout as key=value lines, `--github-output` also appends
them to $GITHUB_OUTPUT; progress on stderr. Exit 0 on success, 1 when the operation failed,
2 for bad arguments or config, each failure with one `error: ...` line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import cli_support, config
from ..config import Config
from . import set_cli
from .artifact import check_artifact
from .aws import Clients, log, require_account, run_guarded
from .deploy import DEFAULT_POLL_SECONDS, deploy, prepare
from .endpoint import default_timeout
from .endpoint_test_cli import DEFAULT_ROWS, TRANSFORM_TEST_TIMEOUT, cmd_endpoint_test, lowercase, waiter
from .model_only import deploy_model
from .monitoring import ensure_monitoring
from .rollback import deploy_or_roll_back, rollback
from .shadow_cli import add_parser as add_shadow_parser

# Forwarded to promotion.cli (kept here so `deploy.cli --help` lists them too).
FORWARDED = {
    "ensure-groups": "Create the model package groups and their resource policies.",
    "latest": "Print the newest Completed version of a group.",
    "approve": "Approve a dev version, recording actor, pull request and commit.",
    "stage": "Record a version's model life-cycle stage.",
    "promote": "Register an Approved dev version into the prod group (idempotent).",
    "digest": "Hash the model artifact a dev version serves.",
    "record-qa": "Record the QA result on a dev version (failed: Rejected).",
    "released": "Record that a prod version now serves prod.",
    "reject": "Reject a version after a failed prod deploy or smoke test.",
    "lock": "Write, show or verify model.lock.json.",
    "compare": "Markdown: locked candidate vs prod champion and QA report.",
}


def cmd_deploy(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    """Deploy a version to the environment's endpoint and wait for it.

    It exits 1 before any mutating call when the version is not one the environment may run
    (prod: an Approved version of the prod group in the shared registry), and exits 1 when the
    endpoint does not end InService on the new config.
    """
    require_account(clients, cfg, cfg.environment(args.env).account_role, f"deploy --env {args.env}")
    if cfg.environment(args.env).endpoint.multi_model:
        return set_cli.cmd_deploy_set(
            args, cfg, clients, waiter(args, default_timeout(cfg.environment(args.env).endpoint))
        )
    if "," in args.arn:  # a list of versions: refused unless model.segments is on (then multi-model)
        from ..promotion.segments import split_arns

        split_arns(cfg, args.arn)
    deploy_plan = prepare(cfg, clients, args.env, args.arn)
    if cfg.environment(args.env).group_kind == "prod":
        from ..promotion import lockfile

        lock_path = Path(args.lock_file) if args.lock_file else lockfile.lock_path(cfg)
        check_artifact(clients, deploy_plan.package, lockfile.read_lock(cfg, lock_path))
    if deploy_plan.settings.batch_only:
        result = deploy_model(clients, deploy_plan)
        cli_support.emit(set_cli.result_outputs(result), args.github_output)
        return 0
    wait = waiter(args, deploy_plan.timeout)
    if args.rollback_on_failure:
        result = deploy_or_roll_back(clients, deploy_plan, wait)
    else:
        result = deploy(clients, deploy_plan, wait)
    # Only after a successful deploy: a failed one (rolled back or not) raised above.
    ensure_monitoring(cfg, clients, deploy_plan)
    cli_support.emit(set_cli.result_outputs(result), args.github_output)
    return 0


def cmd_rollback(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    environment = cfg.environment(args.env)
    require_account(clients, cfg, environment.account_role, f"rollback --env {args.env}")
    settings = environment.endpoint
    if settings.batch_only:
        log(f"{args.env} is batch-only (no endpoint): nothing to roll back")
        cli_support.emit(
            {"endpoint_name": "", "endpoint_config": "", "rolled_back_from": "", "changed": "false"},
            args.github_output,
        )
        return 0
    result = rollback(clients, settings, waiter(args, default_timeout(settings)))
    cli_support.emit(
        {
            "endpoint_name": result.endpoint_name,
            "endpoint_config": result.to_config,
            "rolled_back_from": result.from_config,
            "changed": lowercase(result.changed),
        },
        args.github_output,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = cli_support.Parser(
        prog=cli_support.prog(f"python -m {__package__}.cli"),
        description="Deploy, rollback and endpoint test commands.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, handler, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        cli_support.add_github_output(sub)
        return sub

    def waiting(sub: argparse.ArgumentParser, what: str = "seconds to wait for the endpoint") -> None:
        sub.add_argument(
            "--timeout",
            type=cli_support.seconds,
            metavar="SECONDS",
            help=f"{what} (default from config; 0: check once)",
        )
        sub.add_argument(
            "--poll-interval",
            type=cli_support.seconds,
            default=DEFAULT_POLL_SECONDS,
            metavar="SECONDS",
            help=f"seconds between status checks (default {DEFAULT_POLL_SECONDS:g})",
        )

    sub = command(
        "deploy",
        cmd_deploy,
        "Create or update an environment's endpoint to serve a version (batch-only: its model alone).",
    )
    sub.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    sub.add_argument("--arn", required=True, help="the model package version (a set: a comma list)")
    sub.add_argument(
        "--lock-file", help="prod: the lock whose artifact checksum must match (default: the repo's lock)"
    )
    sub.add_argument(
        "--artifact",
        help="multi-model QA: the set's `registry digest` output, naming the S3 object each route serves",
    )
    sub.add_argument(
        "--rollback-on-failure",
        action="store_true",
        help="when the update of a running endpoint fails, roll it back to the config it ran (exit 1)",
    )
    waiting(sub)
    sub = command("rollback", cmd_rollback, "Update an endpoint back to its recorded previous config.")
    sub.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    waiting(sub)
    sub = command("endpoint-test", cmd_endpoint_test, "Run the endpoint test suite against an endpoint.")
    target = sub.add_mutually_exclusive_group(required=True)
    target.add_argument("--env", choices=config.ENVIRONMENTS, help="the environment's endpoint (AWS)")
    target.add_argument("--url", help="a local model server instead, e.g. http://127.0.0.1:8080")
    sub.add_argument("--summary", type=Path, help="append markdown tables here (e.g. $GITHUB_STEP_SUMMARY)")
    sub.add_argument(
        "--report", type=Path, metavar="PATH", help="write the report JSON here (input of `lock write`)"
    )
    cli_support.add_samples(sub, None, DEFAULT_ROWS)
    sub.add_argument(
        "--arn",
        help="the version under test (comma list: a set): an endpoint must be serving it; a batch-only "
        "environment (endpoint type none) tests the model its deploy created for it (required there)",
    )
    sub.add_argument("--rollback-on-failure", action="store_true", help="needs --env")
    waiting(
        sub,
        "seconds to wait for the endpoint, or a batch-only environment's transform job "
        f"({TRANSFORM_TEST_TIMEOUT:g} by default)",
    )
    sub = command(
        "routes",
        set_cli.cmd_routes,
        "Print a multi-model endpoint's routes (segment -> TargetModel) as JSON.",
    )
    sub.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    add_shadow_parser(commands)
    for name, help_ in FORWARDED.items():
        commands.add_parser(name, help=f"{help_} (promotion.cli)", add_help=False)
    return parser


def main(argv: list[str] | None = None, *, session: Any = None, registry_session: Any = None) -> int:
    """Run one command. `session` (a boto3 Session) defaults to the ambient credentials.

    `registry_session` is what `deploy` reads the model package with; it defaults to
    `session`, as in the workflows: the workload account describes the shared registry's
    package through the group's resource policy. Tests pass the shared-services account's
    session instead, because moto keeps accounts apart and has no resource policies.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in FORWARDED:
        from ..promotion import cli as promotion_cli

        return promotion_cli.main(argv, session=session)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.handler is cmd_endpoint_test and args.url and args.rollback_on_failure:
        parser.error("endpoint-test: --rollback-on-failure needs --env (an AWS endpoint), not --url")
    if args.handler is cmd_endpoint_test and args.url and args.arn:
        parser.error("endpoint-test: --arn needs --env (the version an AWS endpoint serves), not --url")

    def run() -> int:
        cfg = config.load_config()
        clients = None
        if not getattr(args, "url", None):
            nonlocal session
            if session is None:
                import boto3

                session = boto3.Session()
            clients = Clients(session, cfg.region, registry_session)
        return args.handler(args, cfg, clients)

    return run_guarded(run, getattr(args, "github_output", False))


if __name__ == "__main__":
    sys.exit(main())
