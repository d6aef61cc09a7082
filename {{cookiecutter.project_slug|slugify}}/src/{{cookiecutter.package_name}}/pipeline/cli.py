"""Drive the SageMaker pipeline: print its definition, upsert it, start it, or run it to the end.

    python -m <package> pipeline definition [--kind feature|dev] [--offline]
    python -m <package> pipeline upsert     [--kind ...] [--git-sha ...] [--branch ...] [--role-arn ...]
    python -m <package> pipeline start      [--kind ...] [--input-data-uri s3://...]
    python -m <package> pipeline run       [--kind ...] [--timeout SECONDS] [--github-output] ...

(`python -m <package>.pipeline.cli ...` runs the same.)

- `definition` prints the pipeline definition JSON. Building it uploads the step scripts
  to the artifact bucket (the definition names their S3 locations), so it needs AWS
  credentials; nothing else is written. `--offline` builds inside moto's in-process AWS
  mock instead: no account, no network, and the same JSON (only the timestamped S3 folder of
  the training code differs, as it does between any two builds).
- `upsert` creates or updates the pipeline and prints `pipeline_arn=<ARN>`.
- `start` starts an execution of the pipeline version last upserted (it does not build or
  upload anything) and prints `execution_arn=<ARN>`. It passes InputDataUri and
  InputDataVersion (the S3 version ID or ETag of the input data, which must exist).
- `run` upserts, starts and waits, printing one line each time a step changes status, then
  `execution_arn=<ARN>` and `status=<last execution status>`.

`--github-output` (upsert, start, run) also appends the key=value lines to $GITHUB_OUTPUT.
Defaults: --kind feature; --git-sha and --branch from GitHub Actions' environment or git;
--role-arn is the data-science account's `<model>-sagemaker-pipeline` role; --input-data-uri is
`pipeline.input_data_uri`, or datasets/sample.csv on the artifact bucket when that is empty;
--timeout 4 hours (0: look once, do not wait).

Exit status (cli_support): 0 success; 1 the execution failed or was stopped, `run` gave up
waiting after --timeout (the execution keeps running), the input data is missing, or AWS
refused a call; 2 bad arguments or config. Errors are one `error: ...` line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, redirect_stdout
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ..cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    add_github_output,
    add_timeout,
    emit,
    fail,
    positive_number,
    prog,
)
from ..config import PIPELINE_KINDS, Config, ConfigError, load_config
from .execution import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    TERMINAL,
    CliError,
    check_artifact_bucket,
    dataset_version,
    follow_execution,
    list_steps,
    s3_parts,
    start_execution,
    step_detail,
    watch_execution,
)

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "KINDS",
    "TERMINAL",
    "CliError",
    "check_artifact_bucket",
    "dataset_version",
    "follow_execution",
    "git_value",
    "list_steps",
    "main",
    "parse_args",
    "s3_parts",
    "sdk_logging",
    "start_execution",
    "step_detail",
    "watch_execution",
]

KINDS = PIPELINE_KINDS
NOISY_LOGGERS = ("sagemaker", "botocore", "boto3", "urllib3", "moto")


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog=prog("pipeline"), description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kind", choices=KINDS, default="feature", help="branch kind (default: feature)")
    common.add_argument("--git-sha", help="commit recorded on the model package (default: GITHUB_SHA or git)")
    common.add_argument("--branch", help="branch recorded on the model package (default: GitHub env or git)")
    common.add_argument("--role-arn", help="execution role (default: the config's sagemaker-pipeline role)")
    common.add_argument(
        "--input-data-uri", help="S3 URI of the input CSV (default: the config's pipeline input data URI)"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    definition = sub.add_parser("definition", parents=[common], help="print the pipeline definition JSON")
    definition.add_argument(
        "--offline", action="store_true", help="build inside moto's AWS mock (no account)"
    )
    upsert = sub.add_parser("upsert", parents=[common], help="create or update the pipeline")
    start = sub.add_parser("start", parents=[common], help="start an execution; prints its ARN")
    run = sub.add_parser("run", parents=[common], help="upsert, start and wait with per-step progress")
    add_timeout(run, DEFAULT_TIMEOUT, "the execution to finish")
    run.add_argument(
        "--poll-interval", type=positive_number, default=DEFAULT_POLL_INTERVAL, help=argparse.SUPPRESS
    )
    for command in (upsert, start, run):
        add_github_output(command)
    return parser.parse_args(argv)


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
    names = [
        *NOISY_LOGGERS,
        *(n for n in logging.root.manager.loggerDict if n.split(".")[0] in NOISY_LOGGERS),
    ]
    saved = [(logger, logger.level) for logger in map(logging.getLogger, names)]
    try:
        for logger, _ in saved:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def main(
    argv: list[str] | None = None,
    *,
    boto_session: Any = None,
    sagemaker_client: Any = None,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run one subcommand; see the module docstring for commands, output and exit status.

    `boto_session` and `sagemaker_client` let callers (tests) supply AWS access, for
    example a botocore Stubber on the SageMaker client; `out` receives stdout.
    """
    args = parse_args(argv)
    out = out or sys.stdout
    try:
        cfg = load_config()
        if args.input_data_uri:
            s3_parts(args.input_data_uri)
            cfg = cfg.with_input_data_uri(args.input_data_uri)
        if getattr(args, "github_output", False) and not os.environ.get("GITHUB_OUTPUT"):
            raise UsageError("--github-output given but GITHUB_OUTPUT is not set")
    except (ConfigError, CliError, UsageError) as exc:
        return fail(exc, EXIT_USAGE)
    # The SDK's client-side role check simulates a generic policy (it demands VPC network
    # interface permissions this pipeline does not use), so it would reject the least-privilege
    # role defined in this repo. SageMaker still checks the role when it runs each job.
    # Set SAGEMAKER_VALIDATE_ROLE=true to opt back in.
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    # Parts of the SDK create boto clients from the default session; give them this repo's region.
    os.environ.setdefault("AWS_DEFAULT_REGION", cfg.region)
    try:
        with _aws_context(args.command == "definition" and args.offline):
            return _run_command(args, cfg, boto_session, sagemaker_client, out, sleep, clock)
    except (ConfigError, UsageError) as exc:
        return fail(exc, EXIT_USAGE)
    except CliError as exc:
        return fail(exc, EXIT_FAILED)
    except (BotoCoreError, ClientError) as exc:
        return fail(f"AWS call failed: {exc}", EXIT_FAILED)


def _aws_context(offline: bool) -> AbstractContextManager:
    """moto's in-process AWS mock for --offline (fake credentials, nothing leaves the process)."""
    if not offline:
        return nullcontext()
    from moto import mock_aws

    return mock_aws()


def _emit(out: TextIO, values: dict[str, str], github_output: bool) -> None:
    """cli_support.emit, on `out`."""
    with redirect_stdout(out):
        emit(values, github_output)


def _run_command(
    args: argparse.Namespace,
    cfg: Config,
    boto_session: Any,
    sagemaker_client: Any,
    out: TextIO,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> int:
    import boto3

    boto_session = boto_session or boto3.Session(region_name=cfg.region)
    client = sagemaker_client or boto_session.client("sagemaker")
    s3 = boto_session.client("s3")
    if not (args.command == "definition" and args.offline):
        check_artifact_bucket(s3, cfg)
    data_uri = cfg.pipeline.input_data_uri
    # Checked before anything is upserted, so a run never starts on missing data.
    version = dataset_version(s3, data_uri) if args.command in ("start", "run") else ""
    git_sha = args.git_sha or git_value(("GITHUB_SHA",), ["rev-parse", "HEAD"])
    branch = args.branch or git_value(
        ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"), ["rev-parse", "--abbrev-ref", "HEAD"]
    )
    if args.command != "start":
        code = _build_and_upsert(args, cfg, boto_session, client, git_sha, branch, out)
        if code is not None:
            return code
    execution_arn = start_execution(client, cfg, args.kind, data_uri, version, f"git {git_sha} on {branch}")
    if args.command == "start":
        _emit(out, {"execution_arn": execution_arn}, args.github_output)
        return EXIT_OK
    print(f"pipeline: started {execution_arn} (input {data_uri}, {version})", file=out, flush=True)
    status = watch_execution(
        client,
        execution_arn,
        timeout=args.timeout,
        poll_interval=args.poll_interval,
        out=out,
        sleep=sleep,
        clock=clock,
    )
    _emit(out, {"execution_arn": execution_arn, "status": status}, args.github_output)
    return EXIT_OK if status == "Succeeded" else EXIT_FAILED


def _build_and_upsert(
    args: argparse.Namespace,
    cfg: Config,
    boto_session: Any,
    client: Any,
    git_sha: str,
    branch: str,
    out: TextIO,
) -> int | None:
    """`definition` and `upsert`: do it and return 0. `run`: upsert and return None to go on."""
    # The SageMaker SDK is imported only here: `start` and the deploy code never load it.
    from .pipeline import get_pipeline, pipeline_session

    role = args.role_arn or cfg.role_arn("data_science", "sagemaker_pipeline")
    with sdk_logging(args.verbose):
        pipeline = get_pipeline(
            cfg,
            args.kind,
            role_arn=role,
            session=pipeline_session(cfg, boto_session=boto_session, sagemaker_client=client),
            git_sha=git_sha,
            branch=branch,
        )
        if args.command == "definition":
            print(json.dumps(json.loads(pipeline.definition()), indent=2), file=out)
            return EXIT_OK
        arn = pipeline.upsert(role_arn=role, description=cfg.project.description)["PipelineArn"]
    if args.command == "upsert":
        _emit(out, {"pipeline_arn": arn}, args.github_output)
        return EXIT_OK
    print(f"pipeline: upserted {arn}", file=out, flush=True)
    return None


if __name__ == "__main__":
    sys.exit(main())
