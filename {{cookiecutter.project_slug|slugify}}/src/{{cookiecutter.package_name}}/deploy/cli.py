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
from .aws import Clients, DeployError, log, require_account, run_guarded
from .deploy import DEFAULT_POLL_SECONDS, Waiter, deploy, prepare
from .endpoint import default_timeout
from .model_only import deploy_model, served_state, tested_version_problem
from .monitoring import ensure_monitoring
from .rollback import RollbackFailed, deploy_or_roll_back, rollback
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
DEFAULT_ROWS = 50
# Seconds a batch-only environment's transform test may take (instances start, then ~50 rows).
TRANSFORM_TEST_TIMEOUT = 3600.0


def _lowercase(value: object) -> str:
    return str(value).lower()


def _waiter(args: argparse.Namespace, timeout: float) -> Waiter:
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
    if cfg.environment(args.env).endpoint.multi_model:
        return set_cli.cmd_deploy_set(
            args, cfg, clients, _waiter(args, default_timeout(cfg.environment(args.env).endpoint))
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
    waiter = _waiter(args, deploy_plan.timeout)
    if args.rollback_on_failure:
        result = deploy_or_roll_back(clients, deploy_plan, waiter)
    else:
        result = deploy(clients, deploy_plan, waiter)
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
    result = rollback(clients, settings, _waiter(args, default_timeout(settings)))
    cli_support.emit(
        {
            "endpoint_name": result.endpoint_name,
            "endpoint_config": result.to_config,
            "rolled_back_from": result.from_config,
            "changed": _lowercase(result.changed),
        },
        args.github_output,
    )
    return 0


class NotServed(DeployError):
    """`endpoint-test --arn`: the endpoint does not serve that version."""


def cmd_endpoint_test(args: argparse.Namespace, cfg: Config, clients: Clients | None) -> int:
    """Run the endpoint test suite against the environment's endpoint (or a local --url).

    It exits 1 when a check fails; with --rollback-on-failure it first rolls the endpoint back
    to its previous config (and still exits 1, so the job fails). With --rollback-on-failure,
    every failure takes that branch: samples that cannot be used (unreadable, wrong columns, a
    label other than 0/1; without the flag a usage error, exit 2), a multi-model endpoint without
    a route for a segment, an error inside the suite, a report that cannot be written. The
    report then holds the one failed check that says why.
    """
    from ..endpoint_tests import suite

    batch_only = clients is not None and cfg.environment(args.env).endpoint.batch_only
    if batch_only and not args.arn:
        raise cli_support.UsageError(
            f'environments.{args.env}.endpoint.type is "none" (batch-only): give --arn, the version '
            f"whose model the {args.env} deploy created (its transform test runs that model)"
        )
    rolling_back = bool(args.rollback_on_failure and clients is not None)
    segmented = (
        cfg.model.segments.enabled if clients is None else cfg.environment(args.env).endpoint.multi_model
    )
    if clients is not None:
        environment = cfg.environment(args.env)
        require_account(clients, cfg, environment.account_role, f"endpoint-test --env {args.env}")
        thresholds = cfg.tests_for(args.env)
        target = environment.endpoint.endpoint_name
        invoker: Any = None
        if not batch_only:
            invoker = suite.SageMakerInvoker(target, clients("sagemaker-runtime"), clients.sagemaker)
        if environment.endpoint.is_async:
            from ..endpoint_tests import async_invoker

            invoker = async_invoker.for_endpoint(cfg, args.env, clients)
    else:
        thresholds = cfg.tests_for("local")
        invoker = suite.HttpInvoker(args.url)
        target = args.url
    samples_path = args.samples or Path(config.config_path()).resolve().parent.parent / "data" / "sample.csv"
    problem = ""
    # The version under test is served before the suite, and nothing changed until it ended.
    watching = clients is not None and bool(args.arn) and not batch_only
    before = served_state(cfg, clients, args.env) if watching and clients is not None else ()
    try:
        if watching and clients is not None:
            served = tested_version_problem(cfg, clients, args.env, args.arn)
            if served:
                raise NotServed(served)
        if segmented:
            env = args.env or "local"
            run = set_cli.segment_suite(cfg, env, clients, args.url, samples_path, args.rows, thresholds)
        elif batch_only:
            assert clients is not None
            from ..batch import transform_test

            samples = suite.load_samples(samples_path, args.rows, cfg.model.target_column)
            deploy_plan = prepare(cfg, clients, args.env, args.arn)
            waiting = (
                args.timeout if args.timeout is not None else TRANSFORM_TEST_TIMEOUT,
                args.poll_interval,
            )
            target = f"the {args.env} transform test of {args.arn}"
            run = lambda: transform_test.run_job(  # noqa: E731
                cfg, clients, deploy_plan, samples, thresholds, waiting
            )
        else:
            samples = suite.load_samples(samples_path, args.rows, cfg.model.target_column)
            run = lambda: suite.run_suite(invoker, samples, thresholds)  # noqa: E731
    except DeployError as exc:  # another version served, or a segment without a route
        if not rolling_back:
            raise
        check, what = (
            ("version", "not the version served")
            if isinstance(exc, NotServed)
            else ("routes", "the routes cannot be used")
        )
        problem = f"{what}: {exc}"
        report = suite.failed_report(target, check, problem, thresholds)
    except (OSError, ValueError) as exc:
        if not rolling_back:
            raise cli_support.UsageError(str(exc)) from exc
        problem = f"the samples cannot be used: {exc}"
        report = suite.failed_report(target, "samples", problem, thresholds)
    else:
        log(f"endpoint tests against {target} ({thresholds.burst_requests} burst requests)")
        try:
            report = run()
        except Exception as exc:
            if not rolling_back:
                raise
            problem = f"the suite stopped: {type(exc).__name__}: {exc}"
            report = suite.failed_report(target, "suite", problem, thresholds)
        if watching and clients is not None and not problem:
            after = served_state(cfg, clients, args.env)
            if after != before:
                problem = (
                    f"the endpoint changed while the suite ran ({', '.join(before)} -> {', '.join(after)})"
                )
                report = suite.failed_report(target, "version", problem, thresholds)
    print(suite.format_text(report))
    try:
        suite.write_outputs(report, args.summary, args.report)
    except OSError as exc:
        if not rolling_back:
            raise
        problem = problem or f"the report cannot be written: {exc}"
    cli_support.emit({"passed": _lowercase(report.passed and not problem)}, args.github_output)
    if report.passed and not problem:
        return 0
    failed = problem or ", ".join(c.name for c in report.failures())
    if rolling_back and batch_only:
        return cli_support.fail(f"the {args.env} transform test failed ({failed}); no endpoint to roll back")
    if rolling_back:
        settings = cfg.environment(args.env).endpoint
        log(f"endpoint tests failed ({failed}); rolling back")
        try:
            result = rollback(clients, settings, _waiter(args, default_timeout(settings)))
        except RollbackFailed as exc:
            return cli_support.fail(f"endpoint tests failed ({failed}) and {exc}")
        return cli_support.fail(
            f"endpoint tests failed ({failed}); {settings.endpoint_name} is back on {result.to_config}"
        )
    return cli_support.fail(f"endpoint tests failed against {target}: {failed}")


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
