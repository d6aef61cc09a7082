"""Drive the SageMaker pipeline: print its definition, upsert it, start it, or run it to the end.

    python -m <package> pipeline definition [--kind feature|dev] [--offline]
    python -m <package> pipeline upsert     [--kind ...] [--git-sha ...] [--branch ...] [--role-arn ...]
    python -m <package> pipeline start      --pipeline-version-id N [--kind ...] [--input-data-uri s3://...]
    python -m <package> pipeline run        [--kind ...] [--timeout SECONDS] [--github-output] ...
    python -m <package> pipeline status     [--execution-arn ARN] [--branch ...] [--timeout SECONDS]
    python -m <package> pipeline compare    [--candidate ARN] [--branch ...]

(`python -m <package>.pipeline.cli ...` runs the same.)

Which pipeline: `--kind dev` is `<model>-dev`; `--kind feature` is the branch's own pipeline,
`<model>-feature-<branch slug>` (pipeline/names.py has the rule), so two feature branches never
share one. Feature pipelines run as `<model>-sagemaker-feature`, the dev pipeline as
`<model>-sagemaker-pipeline`.

- `definition` prints the pipeline definition JSON. Building it uploads the step scripts
  to the artifact bucket (the definition names their S3 locations), so it needs AWS
  credentials; nothing else is written. `--offline` builds inside moto's in-process AWS
  mock instead: no account, no network, and the same JSON (only the timestamped S3 folder of
  the training code differs, as it does between any two builds). It shows no champion
  (`--champion-version none`) unless `--with-champion` looks it up as `upsert` does.
- `upsert` looks up the champion (the prod version released last; read-only on the prod
  group), writes it into the definition (pipeline/champion.py), stores the definition as a new
  version of the pipeline and prints `pipeline_arn=<ARN>` and `pipeline_version_id=<N>`.
- `start` starts version `--pipeline-version-id` (what `upsert` printed; it builds and uploads
  nothing) and prints `execution_arn=<ARN>`. It passes InputDataUri and InputDataVersion (the S3
  version ID or ETag of the input data, which must exist).
- `run` upserts, starts the version it stored and waits, printing one line each time a step
  changes status, then, when it succeeded, the version it registered with its metrics table
  (from the version's evaluation report), and `execution_arn=<ARN>`, `status=<last execution
  status>` (and `model_package_arn=<ARN>` when it succeeded).
- `status` reattaches to a run (`--execution-arn`, default the newest execution of the branch's
  pipeline) and shows the same as `run` from there on.
- `compare` prints a candidate version's metrics next to the prod champion's (the prod version
  released last) and `candidate=<ARN>`, `champion=<ARN or none>`; the candidate is `--candidate`
  or the newest version the branch registered in the feature group.

From a laptop (`make run`, `make status`, `make compare`; pipeline/laptop.py): the branch is
git's; feature commands on the dev or prod branch are refused (those branches' runs are CI's);
`--check-account` first checks the credentials are the data-science account's; AWS_PROFILE must
name a configured profile. `run` warns when the working tree has uncommitted changes.

Starts are pinned and idempotent: StartPipelineExecution names the PipelineVersionId, so a later
upsert (another push) cannot change what runs, and, inside a CI run, a ClientRequestToken from
the repository, commit, run ID, run attempt and pipeline, so starting again in the same run
attempt starts no second execution. Nothing a start passes can change the gate (the config's
metric and threshold) or the approval status (always PendingManualApproval): both are fixed in
the definition.

`--github-output` (upsert, start, run) also appends the key=value lines to $GITHUB_OUTPUT.
Defaults: --kind feature; --git-sha and --branch from GitHub Actions' environment or git;
--role-arn the kind's execution role; --repository, --run-id and --run-attempt from
GITHUB_REPOSITORY, GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT (no run ID: no token, every start is a
new execution); --input-data-uri is `pipeline.input_data_uri`, or datasets/sample.csv on the
artifact bucket when that is empty; --timeout 4 hours (0: look once, do not wait).

Exit status (cli_support): 0 success; 1 the execution failed or was stopped, `run` or `status`
gave up waiting after --timeout (the execution keeps running), the input data is missing, the
credentials are another account's, or AWS refused a call; 2 bad arguments or config (among them
a multi-account config without `registry.kms_key_arn`, a feature run whose branch is unknown or
is the dev or prod branch, an ARN of something else, an unknown AWS profile), before any AWS call.
Errors are one `error: ...` line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, redirect_stdout
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ..cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    emit,
    fail,
    prog,
)
from ..config import PIPELINE_KINDS, Config, ConfigError, load_config
from ..deploy.aws import Clients, DeployError
from . import arguments, laptop, watch
from .champion import champion_label, resolve_champion
from .context import Target, git_value, resolve_target, sdk_logging
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
    upsert_pipeline,
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
    "upsert_pipeline",
    "watch_execution",
]

KINDS = PIPELINE_KINDS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return arguments.parse_args(argv, prog("pipeline"), __doc__.splitlines()[0])


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
    offline = args.command == "definition" and args.offline
    try:
        cfg = load_config()
        if args.command in ("status", "compare"):
            target = laptop.prepare(args, cfg)
        else:
            if args.input_data_uri:
                s3_parts(args.input_data_uri)
                cfg = cfg.with_input_data_uri(args.input_data_uri)
            if getattr(args, "github_output", False) and not os.environ.get("GITHUB_OUTPUT"):
                raise UsageError("--github-output given but GITHUB_OUTPUT is not set")
            target = resolve_target(args, cfg)
            if args.command != "definition":
                laptop.refuse_ci_branch(cfg, target.kind, target.branch)
        if not offline:
            laptop.check_profile()
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
        with _aws_context(offline):
            return _run_command(args, cfg, target, boto_session, sagemaker_client, out, sleep, clock)
    except (ConfigError, UsageError) as exc:
        return fail(exc, EXIT_USAGE)
    except (CliError, DeployError) as exc:
        return fail(exc, EXIT_FAILED)
    except (BotoCoreError, ClientError) as exc:
        return fail(laptop.sign_in_message(exc), EXIT_FAILED)


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
    target: Target | laptop.Request,
    boto_session: Any,
    sagemaker_client: Any,
    out: TextIO,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> int:
    import boto3

    boto_session = boto_session or boto3.Session(region_name=cfg.region)
    client = sagemaker_client or boto_session.client("sagemaker")
    if getattr(args, "check_account", False):
        laptop.check_account(boto_session, cfg)
    if isinstance(target, laptop.Request):
        code, values = laptop.execute(args, cfg, target, boto_session, client, out, sleep, clock)
        _emit(out, values, False)
        return code
    s3 = boto_session.client("s3")
    if not (args.command == "definition" and args.offline):
        check_artifact_bucket(s3, cfg)
    data_uri = cfg.pipeline.input_data_uri
    # Checked before anything is upserted, so a run never starts on missing data.
    data_version = dataset_version(s3, data_uri) if args.command in ("start", "run") else ""
    if args.command == "start":
        version_id = args.pipeline_version_id
    else:
        version_id = _build_and_upsert(args, cfg, target, boto_session, client, out)
        if version_id is None:
            return EXIT_OK
    note = f"git {target.git_sha} on {target.branch}"
    execution_arn = start_execution(
        client, target.name, version_id, target.token, data_uri, data_version, note
    )
    if args.command == "start":
        _emit(out, {"execution_arn": execution_arn}, args.github_output)
        return EXIT_OK
    print(f"pipeline: started {execution_arn} (input {data_uri}, {data_version})", file=out, flush=True)
    clients = watch.clients_for(cfg, boto_session, client)
    code, values = laptop.follow_run(cfg, clients, client, execution_arn, args, out, sleep, clock)
    _emit(out, values, args.github_output)
    return code


def _build_and_upsert(
    args: argparse.Namespace,
    cfg: Config,
    target: Target,
    boto_session: Any,
    client: Any,
    out: TextIO,
) -> int | None:
    """`definition` and `upsert`: do it and return None (done). `run`: upsert and return the
    PipelineVersionId to start."""
    # The SageMaker SDK is imported only here: `start` and the deploy code never load it.
    from .pipeline import get_pipeline, pipeline_session

    # The champion is looked up before the build and written into the definition (never a start
    # parameter); `definition` shows none unless --with-champion.
    champion = None
    segment_champions: dict = {}
    if (args.command != "definition" or args.with_champion) and cfg.model.segments.enabled:
        for segment in cfg.model.segments.values:
            found = resolve_champion(cfg, Clients(boto_session, cfg.region), segment=segment)
            segment_champions[segment] = found
            print(f"pipeline: champion of {segment}: {champion_label(found)}", file=sys.stderr, flush=True)
    elif args.command != "definition" or args.with_champion:
        champion = resolve_champion(cfg, Clients(boto_session, cfg.region))
        print(f"pipeline: champion {champion_label(champion)}", file=sys.stderr, flush=True)
    with sdk_logging(args.verbose):
        pipeline = get_pipeline(
            cfg,
            target.kind,
            role_arn=target.role_arn,
            session=pipeline_session(cfg, boto_session=boto_session, sagemaker_client=client),
            git_sha=target.git_sha,
            branch=target.branch,
            kms_key=target.kms_key,
            champion=champion,
            segment_champions=segment_champions,
        )
        definition = pipeline.definition()
    if args.command == "definition":
        print(json.dumps(json.loads(definition), indent=2), file=out)
        return None
    if args.command == "run" and (warning := laptop.dirty_tree_warning()):
        print(warning, file=sys.stderr)
    arn, version_id = upsert_pipeline(
        client, target.name, definition, target.role_arn, cfg.project.description
    )
    if args.command == "upsert":
        _emit(out, {"pipeline_arn": arn, "pipeline_version_id": str(version_id)}, args.github_output)
        return None
    print(f"pipeline: upserted {arn} (version {version_id})", file=out, flush=True)
    return version_id


if __name__ == "__main__":
    sys.exit(main())
