"""`endpoint-test`: the endpoint test suite against an environment's endpoint or a local server,
and a batch-only environment's transform test (the command deploy/cli.py hooks in).

With `--env`, the suite runs with the role of the environment's workload account (its account
checked first) against the endpoint (`SageMakerInvoker`; an async endpoint through S3; a
multi-model endpoint once per segment); with `--arn`, the endpoint must serve that version before
the suite and nothing about it may change until the suite ends (`model_only.served_state`). A
batch-only environment (endpoint type "none") runs `batch.transform_test` instead, on the model
the deploy created for `--arn` (required there). With `--url`, the suite runs against a local
model server, without AWS.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import cli_support, config
from ..config import Config
from . import set_cli
from .aws import Clients, DeployError, log, require_account
from .deploy import Waiter, prepare
from .endpoint import default_timeout
from .model_only import served_state, tested_version_problem
from .rollback import RollbackFailed, rollback

DEFAULT_ROWS = 50
# Seconds a batch-only environment's transform test may take (instances start, then ~50 rows).
TRANSFORM_TEST_TIMEOUT = 3600.0


def lowercase(value: object) -> str:
    return str(value).lower()


def waiter(args: argparse.Namespace, timeout: float) -> Waiter:
    return Waiter(
        timeout=args.timeout if args.timeout is not None else timeout, poll_seconds=args.poll_interval
    )


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
    cli_support.emit({"passed": lowercase(report.passed and not problem)}, args.github_output)
    if report.passed and not problem:
        return 0
    failed = problem or ", ".join(c.name for c in report.failures())
    if rolling_back and batch_only:
        return cli_support.fail(f"the {args.env} transform test failed ({failed}); no endpoint to roll back")
    if rolling_back:
        settings = cfg.environment(args.env).endpoint
        log(f"endpoint tests failed ({failed}); rolling back")
        try:
            result = rollback(clients, settings, waiter(args, default_timeout(settings)))
        except RollbackFailed as exc:
            return cli_support.fail(f"endpoint tests failed ({failed}) and {exc}")
        return cli_support.fail(
            f"endpoint tests failed ({failed}); {settings.endpoint_name} is back on {result.to_config}"
        )
    return cli_support.fail(f"endpoint tests failed against {target}: {failed}")
