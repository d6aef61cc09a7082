"""`shadow start|compare|promote|abort`: the shadow phase of a release, as subcommands of the
deploy command line (`python -m <package> shadow ...`, hooked in by deploy/cli.py).

Each runs with the prod deploy role and checks the account of its credentials first. Exit 0 on
success, 1 when the operation failed or the recorded state does not allow it, 2 for bad
arguments or config, and 3 (`compare` only) when it is too early to decide: too little time,
too few requests or no captured pair yet; nothing was recorded, compare again later.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import cli_support
from ..config import Config
from .artifact import check_artifact
from .aws import Clients, log, require_account
from .deploy import DEFAULT_POLL_SECONDS, Waiter, prepare
from .endpoint import DeployPlan, default_timeout
from .shadow import StepResult, abort, promote, start, utc_now
from .shadow_compare import compare, markdown

EXIT_NOT_YET = 3
# The clock the commands read (tests replace it).
clock = utc_now


def _waiter(args: argparse.Namespace, cfg: Config) -> Waiter:
    timeout = args.timeout if args.timeout is not None else default_timeout(cfg.environment("prod").endpoint)
    return Waiter(timeout=timeout, poll_seconds=args.poll_interval)


def _checked_plan(args: argparse.Namespace, cfg: Config, clients: Clients) -> DeployPlan:
    """The candidate's prod plan, refused unless its artifact is the lock's (as `deploy` does)."""
    from ..promotion import lockfile

    deploy_plan = prepare(cfg, clients, "prod", args.arn)
    lock_path = Path(args.lock_file) if args.lock_file else lockfile.lock_path(cfg)
    check_artifact(clients, deploy_plan.package, lockfile.read_lock(cfg, lock_path))
    return deploy_plan


def _emit(args: argparse.Namespace, result: StepResult, **extra: str) -> int:
    values = {
        "phase": result.phase or "none",
        "endpoint_config": result.config_name,
        "changed": str(result.changed).lower(),
        **extra,
    }
    cli_support.emit(values, args.github_output)
    return 0


def _account(cfg: Config, clients: Clients, what: str) -> None:
    require_account(clients, cfg, cfg.environment("prod").account_role, f"shadow {what}")


def cmd_start(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    _account(cfg, clients, "start")
    if not cfg.champion.shadow.enabled:
        log("champion.shadow.enabled is false: deploy directly")
        return _emit(args, StepResult("", "", False), mode="direct", reason="shadow phase disabled")
    result = start(cfg, clients, _checked_plan(args, cfg, clients), _waiter(args, cfg), clock)
    if result.reason:
        log(f"{result.reason}: deploy directly")
    return _emit(args, result, mode=result.mode, reason=result.reason)


def cmd_compare(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    _account(cfg, clients, "compare")
    result = compare(cfg, clients, args.arn, clock)
    if args.report:
        args.report.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    if args.summary:
        with args.summary.open("a") as handle:
            handle.write(markdown(result))
    cli_support.emit(
        {"decision": result.decision, "phase": result.phase or "none", "ready_at": result.ready_at},
        args.github_output,
    )
    if result.decision == "not-yet":
        log(f"not yet: {'; '.join(result.reasons)}; compare again later (exit {EXIT_NOT_YET})")
        return EXIT_NOT_YET
    return 0


def cmd_promote(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    _account(cfg, clients, "promote")
    return _emit(args, promote(clients, _checked_plan(args, cfg, clients), _waiter(args, cfg)))


def cmd_abort(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    _account(cfg, clients, "abort")
    return _emit(args, abort(cfg, clients, args.arn, _waiter(args, cfg)))


COMMANDS: dict[str, tuple[Any, str]] = {
    "start": (cmd_start, "Deploy the candidate as the shadow variant next to the prod champion."),
    "compare": (cmd_compare, "Decide: promote, abort, or not yet (exit 3), from live metrics and capture."),
    "promote": (cmd_promote, "Make the candidate the production variant after a passed comparison."),
    "abort": (cmd_abort, "Put the prod endpoint back on the champion alone."),
}


def add_parser(commands: Any) -> None:
    """Add `shadow <step>` to the deploy command line's subparsers."""
    help_ = "Shadow phase of a release: start, compare, promote or abort (docs/shadow.md)."
    shadow = commands.add_parser("shadow", help=help_, description=help_)
    steps = shadow.add_subparsers(dest="step", required=True, metavar="step")
    for name, (handler, text) in COMMANDS.items():
        sub = steps.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler)
        sub.add_argument("--arn", required=True, help="the candidate's prod version (model package ARN)")
        cli_support.add_github_output(sub)
        if name in ("start", "promote"):
            sub.add_argument(
                "--lock-file", help="the lock whose artifact checksum must match (default: the repo's)"
            )
        if name == "compare":
            sub.add_argument("--report", type=Path, metavar="PATH", help="write the comparison JSON here")
            sub.add_argument(
                "--summary", type=Path, help="append a markdown table here ($GITHUB_STEP_SUMMARY)"
            )
        else:
            cli_support.add_timeout(sub, None, "the endpoint (default from config; 0: check once)")
            cli_support.add_poll_interval(sub, DEFAULT_POLL_SECONDS)
