"""Drive the SageMaker pipeline: print its definition, upsert it, start it, or run it to the end.

    python -m <package>.pipeline.cli definition [--kind feature|dev] [--offline]
    python -m <package>.pipeline.cli upsert     [--kind ...] [--git-sha ...] [--branch ...] [--role-arn ...]
    python -m <package>.pipeline.cli start      [--kind ...] [--input-data-uri s3://...]
    python -m <package>.pipeline.cli run        [--kind ...] [--wait-timeout SECONDS] ...

- `definition` prints the pipeline definition JSON. Building it uploads the step scripts
  to the artifact bucket (the definition names their S3 locations), so it needs AWS
  credentials; nothing else is written. `--offline` builds inside moto's in-process AWS
  mock instead: no account, no network, and the same JSON (only the timestamped S3 folder of
  the training code differs, as it does between any two builds).
- `upsert` creates or updates the pipeline and prints its ARN.
- `start` starts an execution of the pipeline version last upserted (it does not build or
  upload anything) and prints the execution ARN. It passes InputDataUri and
  InputDataVersion (the S3 version ID or ETag of the input data, which must exist).
- `run` upserts, starts and waits, printing one line each time a step changes status.

Defaults: --kind feature; --git-sha and --branch from GitHub Actions' environment or git;
--role-arn is the data-science account's `<model>-sagemaker-pipeline` role; --input-data-uri is
`pipeline.input_data_uri`, or datasets/sample.csv on the artifact bucket when that is empty.

Exit codes: 0 success; 1 the execution failed or was stopped, `run` gave up waiting after
--wait-timeout (the execution keeps running), the input data is missing, or AWS refused a
call; 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TextIO
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from ..config import PIPELINE_KINDS, Config, ConfigError, load_config

KINDS = PIPELINE_KINDS
TERMINAL = ("Succeeded", "Failed", "Stopped")
DEFAULT_WAIT_TIMEOUT = 4 * 3600
DEFAULT_POLL_SECONDS = 30.0
NOISY_LOGGERS = ("sagemaker", "botocore", "boto3", "urllib3", "moto")


class CliError(Exception):
    """A problem the user can fix; main() prints it as one line and exits 1."""


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
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
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
    sub.add_parser("upsert", parents=[common], help="create or update the pipeline")
    sub.add_parser("start", parents=[common], help="start an execution; prints its ARN")
    run = sub.add_parser("run", parents=[common], help="upsert, start and wait with per-step progress")
    run.add_argument(
        "--wait-timeout", type=float, default=DEFAULT_WAIT_TIMEOUT, help="seconds (default: 4 h)"
    )
    run.add_argument("--poll-seconds", type=float, default=DEFAULT_POLL_SECONDS, help=argparse.SUPPRESS)
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


def s3_parts(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise CliError(f"input data URI {uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def dataset_version(s3_client: Any, uri: str) -> str:
    """A version label for the input data: `version:<S3 version ID>`, `etag:<ETag>` for an
    unversioned object, or `prefix-sha256:<digest of keys and ETags>` for a prefix.

    It raises CliError when nothing exists at the URI, so a run never starts on missing data.
    """
    bucket, key = s3_parts(uri)
    if key and not key.endswith("/"):
        try:
            head = s3_client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise CliError(f"cannot read input data {uri}: {exc}") from exc
        else:
            version = head.get("VersionId")
            if version and version != "null":
                return f"version:{version}"
            return f"etag:{head['ETag'].strip(chr(34))}"
    digest = hashlib.sha256()
    found = 0
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for obj in page.get("Contents", []):
            digest.update(f"{obj['Key']} {obj['ETag']}\n".encode())
            found += 1
    if not found:
        raise CliError(f"input data {uri} not found; upload it (make upload-data) or pass another")
    return f"prefix-sha256:{digest.hexdigest()[:16]}"


def check_artifact_bucket(s3_client: Any, cfg: Config) -> None:
    """Fail early, with one line, when the shared artifact bucket is missing or owned by another
    account (otherwise the SDK would try to create a bucket of that name in the caller's account)."""
    bucket = cfg.names.artifact_bucket
    owner = cfg.account_id("shared_services")
    try:
        s3_client.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        raise CliError(
            f"artifact bucket {bucket} is not reachable ({code}); expected it in account {owner}: "
            "deploy the bootstrap infrastructure or check the credentials"
        ) from exc


def step_detail(step: dict[str, Any]) -> str:
    """The most useful fact about a step for a progress line: job ARN, gate outcome or error."""
    meta = step.get("Metadata", {})
    if step.get("FailureReason"):
        return step["FailureReason"]
    if step.get("CacheHitResult", {}).get("SourcePipelineExecutionArn"):
        return f"cached from {step['CacheHitResult']['SourcePipelineExecutionArn']}"
    for key in ("TrainingJob", "ProcessingJob", "RegisterModel", "Model"):
        if meta.get(key, {}).get("Arn"):
            return meta[key]["Arn"]
    if "Condition" in meta:
        return f"outcome: {meta['Condition'].get('Outcome')}"
    if meta.get("Fail", {}).get("ErrorMessage"):
        return meta["Fail"]["ErrorMessage"]
    return ""


def list_steps(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    paginator = client.get_paginator("list_pipeline_execution_steps")
    for page in paginator.paginate(PipelineExecutionArn=execution_arn, SortOrder="Ascending"):
        steps.extend(page.get("PipelineExecutionSteps", []))
    return steps


def follow_execution(
    client: Any,
    execution_arn: str,
    *,
    timeout: float,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Poll an execution, print a line whenever a step changes status, and return the exit code.

    It returns 0 when the execution succeeds, 1 when it fails or is stopped (printing the
    execution's and the failed steps' reasons) and 1 when `timeout` seconds pass first.
    """
    started = clock()
    seen: dict[str, str] = {}
    while True:
        elapsed = clock() - started
        for step in list_steps(client, execution_arn):
            name, status = step["StepName"], step["StepStatus"]
            if seen.get(name) != status:
                seen[name] = status
                print(
                    f"[{elapsed:6.0f}s] {name:<22} {status:<10} {step_detail(step)}".rstrip(),
                    file=out,
                    flush=True,
                )
        execution = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = execution["PipelineExecutionStatus"]
        if status == "Succeeded":
            print(f"pipeline: execution Succeeded after {elapsed:.0f}s", file=out)
            return 0
        if status in TERMINAL:
            print(f"pipeline: execution {status} after {elapsed:.0f}s: {execution_arn}", file=out)
            if execution.get("FailureReason"):
                print(f"  reason: {execution['FailureReason']}", file=out)
            for step in list_steps(client, execution_arn):
                if step["StepStatus"] in ("Failed", "Stopped") and step.get("FailureReason"):
                    print(f"  {step['StepName']}: {step['FailureReason']}", file=out)
            return 1
        if elapsed >= timeout:
            print(
                f"pipeline: still {status} after {elapsed:.0f}s (--wait-timeout {timeout:.0f}); "
                f"the execution keeps running: {execution_arn}",
                file=out,
            )
            return 1
        sleep(poll_seconds)


def main(
    argv: list[str] | None = None,
    *,
    boto_session: Any = None,
    sagemaker_client: Any = None,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run one subcommand; see the module docstring for commands and exit codes.

    `boto_session` and `sagemaker_client` let callers (tests) supply AWS access, for
    example a botocore Stubber on the SageMaker client.
    """
    args = parse_args(argv)
    try:
        cfg = load_config()
        if args.input_data_uri:
            s3_parts(args.input_data_uri)
            cfg = cfg.with_input_data_uri(args.input_data_uri)
    except (ConfigError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1


def _aws_context(offline: bool) -> AbstractContextManager:
    """moto's in-process AWS mock for --offline (fake credentials, nothing leaves the process)."""
    if not offline:
        return nullcontext()
    from moto import mock_aws

    return mock_aws()


def start_execution(client: Any, cfg: Config, kind: str, data_uri: str, version: str, note: str) -> str:
    """Start the upserted pipeline of `kind` on `data_uri` and return the execution ARN."""
    response = client.start_pipeline_execution(
        PipelineName=cfg.names.pipelines[kind],
        PipelineParameters=[
            {"Name": "InputDataUri", "Value": data_uri},
            {"Name": "InputDataVersion", "Value": version},
        ],
        PipelineExecutionDescription=note,
    )
    return response["PipelineExecutionArn"]


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
        print(execution_arn, file=out)
        return 0
    print(f"pipeline: started {execution_arn} (input {data_uri}, {version})", file=out, flush=True)
    return follow_execution(
        client,
        execution_arn,
        timeout=args.wait_timeout,
        poll_seconds=args.poll_seconds,
        out=out,
        sleep=sleep,
        clock=clock,
    )


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
            return 0
        arn = pipeline.upsert(role_arn=role, description=cfg.project.description)["PipelineArn"]
    if args.command == "upsert":
        print(arn, file=out)
        return 0
    print(f"pipeline: upserted {arn}", file=out, flush=True)
    return None


if __name__ == "__main__":
    sys.exit(main())
