"""`batch run|plan|local`: Batch Transform over the configured input prefix (docs/batch.md).

- `batch run --env prod|qa [--input URI] [--date YYYY-MM-DD] [--attempt N] [--wait]
  [--lock-root DIR]`: resolve and check the version (`source`; `--lock-root`: the lock of another
  checkout, read as data, e.g. the dev branch's for QA while the code is the prod branch's),
  check that its model exists (the one the environment's deploy created: a batch run creates no
  model), create or attach to the transform job (`job`) and, once it has Completed, check its
  outputs (`outputs`) and append the summary to `--summary`. A repeat of a Completed run makes no
  mutating call.
- `batch plan`: in the workflow, turn the event (schedule or workflow_dispatch inputs, read from
  GITHUB_EVENT_PATH as data) into checked `env`, `input_uri`, `date` outputs; no AWS call.
- `batch local`: the same split-by-line and join against the rehearsal's model on 127.0.0.1.

Contract (cli_support): key=value results on stdout, exit 0/1/2, one `error:` line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import cli_support, config
from ..config import Config
from ..config.batch import is_input_prefix

if TYPE_CHECKING:  # `batch plan` runs in a job with the standard library alone: boto3 loads lazily
    from ..deploy.aws import Clients

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_TIMEOUT = 6 * 3600.0
DEFAULT_POLL = 30.0


def check_date(text: str) -> str:
    """A YYYY-MM-DD calendar date, or "" for today (UTC)."""
    if not text:
        return datetime.now(UTC).strftime("%Y-%m-%d")
    try:
        if not DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise cli_support.UsageError(f"date {text!r} is not a calendar date YYYY-MM-DD") from None
    return text


def check_unsegmented(cfg: Config) -> None:
    """A batch job runs one model; a segmented project serves one model per segment value."""
    segments = cfg.model.segments
    if segments.enabled:
        raise cli_support.UsageError(
            f"batch runs one model, but model.segments.column is {segments.column!r} (one model per "
            'segment); expected a project without segments (model.segments.column ""): score each '
            "segment through the multi-model endpoint instead"
        )


def check_input(cfg: Config, env: str, uri: str) -> str:
    """The input prefix: "" for the configured one, else an s3:// prefix under the batch input prefix."""
    settings = cfg.batch.environment(env)
    if not uri:
        return settings.input_uri
    if not is_input_prefix(uri, settings.input_prefix_uri):
        raise cli_support.UsageError(
            f"input {uri!r} is not a prefix ending in / under {settings.input_prefix_uri} "
            f"(the {env} batch jobs read only there)"
        )
    return uri


def lock_file(cfg: Config, args: argparse.Namespace) -> Path | None:
    """The lock a run reads: --lock-file, `<--lock-root>/<lock_file>`, or None (the repo's)."""
    if args.lock_file and args.lock_root:
        raise cli_support.UsageError("give --lock-file or --lock-root, not both")
    if args.lock_root:
        root = Path(args.lock_root)
        if not root.is_dir():
            raise cli_support.UsageError(f"--lock-root {root} is not a directory (expected a checkout)")
        return root / cfg.lock_file
    return Path(args.lock_file) if args.lock_file else None


def cmd_run(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    from ..deploy.aws import DeployError, log, require_account
    from ..deploy.endpoint import plan
    from .job import ensure_job, plan_job, require_model
    from .outputs import check_s3, input_keys
    from .source import batch_version

    check_unsegmented(cfg)
    input_uri = check_input(cfg, args.env, args.input or "")
    run_date = check_date(args.date or "")
    require_account(clients, cfg, cfg.environment(args.env).account_role, f"batch run --env {args.env}")
    version = batch_version(cfg, clients, args.env, lock_file(cfg, args))
    deploy_plan = plan(cfg, args.env, version)
    batch = plan_job(cfg, args.env, deploy_plan, input_uri, run_date, args.attempt)
    if not input_keys(clients, input_uri):
        raise DeployError(f"no input files under {input_uri}; put CSV files (no header) there first")
    require_model(clients, deploy_plan, args.env)
    job, created = ensure_job(clients, batch, args.wait, args.timeout, args.poll_interval)
    status = job["TransformJobStatus"]
    values: dict[str, Any] = {
        "job_name": batch.job_name,
        "model_name": batch.model_name,
        "model_package_arn": version.arn,
        "input_uri": input_uri,
        "output_uri": batch.output_uri,
        "status": status,
        "created": str(created).lower(),
    }
    if status != "Completed":
        values["validated"] = "false"
        cli_support.emit(values, args.github_output)
        log(f"transform job {batch.job_name} is {status}; run again (or with --wait) to check its outputs")
        return cli_support.EXIT_OK
    summary = check_s3(clients, input_uri, batch.output_uri)
    values |= {
        "validated": "true",
        "files": summary.files,
        "rows": summary.rows,
        "failures": summary.failed_count,
    }
    if args.summary:
        with args.summary.open("a") as handle:
            handle.write(summary.markdown(f"Batch {batch.job_name} ({args.env}, {run_date})"))
    cli_support.emit(values, args.github_output)
    if not summary.passed:
        return cli_support.fail(
            f"the outputs of {batch.job_name} failed the check: {summary.failed_count} problem(s), first: "
            f"{summary.failures[0] if summary.failures else 'none'}"
        )
    return cli_support.EXIT_OK


def event_values(cfg: Config, event_name: str, event: dict[str, Any]) -> dict[str, str]:
    """env, input_uri and date of a batch.yml run from its event (checked; no AWS call)."""
    check_unsegmented(cfg)
    if event_name == "schedule":
        env = cfg.batch.source
        cron = event.get("schedule")
        expected = cfg.batch.environment(env).schedule
        if cron != expected:
            raise cli_support.UsageError(
                f"scheduled run for cron {cron!r}, but batch.environments.{env}.schedule is {expected!r}; "
                "expected .github/workflows/batch.yml's cron to equal the config"
            )
        input_uri, run_date = cfg.batch.environment(env).input_uri, check_date("")
    elif event_name == "workflow_dispatch":
        inputs = event.get("inputs") or {}
        env = str(inputs.get("env") or "")
        if env not in cfg.batch.environments:
            raise cli_support.UsageError(
                f"env {env!r} is not a batch environment; expected one of {', '.join(cfg.batch.environments)}"
            )
        input_uri = check_input(cfg, env, str(inputs.get("input_uri") or ""))
        run_date = check_date(str(inputs.get("date") or ""))
    else:
        raise cli_support.UsageError(f"event {event_name!r}; expected schedule or workflow_dispatch")
    return {"env": env, "input_uri": input_uri, "date": run_date}


def cmd_plan(args: argparse.Namespace, cfg: Config, clients: Any) -> int:
    path = os.environ.get("GITHUB_EVENT_PATH", "")
    if not path:
        raise cli_support.UsageError("GITHUB_EVENT_PATH is not set; batch plan reads the workflow's event")
    try:
        event = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise cli_support.UsageError(f"cannot read the event {path}: {exc}") from exc
    if not isinstance(event, dict):
        raise cli_support.UsageError(f"the event {path} is not a JSON object")
    values = event_values(cfg, os.environ.get("GITHUB_EVENT_NAME", ""), event)
    cli_support.emit(values, args.github_output)
    return cli_support.EXIT_OK


def cmd_local(args: argparse.Namespace, cfg: Config, clients: Any) -> int:
    from .local import run_local

    check_unsegmented(cfg)
    summary = run_local(
        args.model, args.input, args.out, cfg.batch.environment(cfg.batch.source).max_payload_mb
    )
    print(summary.markdown(f"Local batch ({args.out})"), file=sys.stderr)
    cli_support.emit(
        {
            "files": summary.files,
            "rows": summary.rows,
            "requests": summary.requests,
            "failures": summary.failed_count,
        }
    )
    if not summary.passed:
        return cli_support.fail(f"local batch outputs failed the check: {summary.failures[:1]}")
    return cli_support.EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = cli_support.Parser(
        prog=cli_support.prog(f"python -m {__package__}.cli"), description="Batch Transform runs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    run = commands.add_parser("run", help="run (or attach to) the batch job of an environment")
    run.set_defaults(handler=cmd_run, aws=True)
    run.add_argument("--env", required=True, choices=config.ENVIRONMENTS)
    run.add_argument("--input", default="", metavar="URI", help="s3:// prefix under the batch input prefix")
    run.add_argument("--date", default="", metavar="YYYY-MM-DD", help="the run's date (default today, UTC)")
    run.add_argument(
        "--attempt",
        type=cli_support.positive_int,
        default=1,
        metavar="N",
        help="a new job after a failed attempt N-1 (default 1)",
    )
    run.add_argument("--wait", action="store_true", help="wait for the job, then check its outputs")
    run.add_argument("--lock-file", help="the lock naming the version (default: the repo's lock)")
    run.add_argument(
        "--lock-root",
        metavar="DIR",
        help="a checkout whose lock (config lock_file) names the version; the code stays this one",
    )
    run.add_argument("--summary", type=Path, help="append the markdown summary here ($GITHUB_STEP_SUMMARY)")
    cli_support.add_timeout(run, DEFAULT_TIMEOUT, "the job")
    cli_support.add_poll_interval(run, DEFAULT_POLL)
    cli_support.add_github_output(run)
    plan = commands.add_parser("plan", help="the workflow's checked env, input and date from its event")
    plan.set_defaults(handler=cmd_plan, aws=False)
    cli_support.add_github_output(plan)
    local = commands.add_parser("local", help="split, send and join the test split locally")
    local.set_defaults(handler=cmd_local, aws=False, github_output=False)
    local.add_argument("--model", type=Path, default=Path("build/local/output/model.tar.gz"), metavar="PATH")
    local.add_argument(
        "--input",
        type=Path,
        default=Path("build/local/data/test/test.csv"),
        metavar="PATH",
        help="a CSV with a header (the test split); its feature columns are sent",
    )
    local.add_argument("--out", type=Path, default=Path("build/local/batch"), metavar="DIR")
    return parser


def main(argv: list[str] | None = None, *, session: Any = None, registry_session: Any = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))

    def run() -> int:
        cfg = config.load_config()
        clients = None
        if args.aws:
            nonlocal session
            if session is None:
                import boto3

                session = boto3.Session()
            from ..deploy.aws import Clients

            clients = Clients(session, cfg.region, registry_session)
        return args.handler(args, cfg, clients)

    github_output = getattr(args, "github_output", False)
    if args.command == "plan":
        try:
            if github_output and not os.environ.get("GITHUB_OUTPUT"):
                raise cli_support.UsageError("--github-output given but GITHUB_OUTPUT is not set")
            return run()
        except (cli_support.UsageError, config.ConfigError) as exc:
            return cli_support.fail(exc, cli_support.EXIT_USAGE)
    from ..deploy.aws import run_guarded

    return run_guarded(run, github_output)


if __name__ == "__main__":
    sys.exit(main())
