"""The pipeline command line's arguments: `definition`, `upsert`, `start` and `run` here, `status`
and `compare` from pipeline/laptop.py. What each command does is pipeline/cli.py's docstring."""

from __future__ import annotations

import argparse

from ..cli_support import Parser, add_github_output, add_timeout, positive_number
from ..config import PIPELINE_KINDS
from . import laptop
from .execution import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT

KINDS = PIPELINE_KINDS


def parse_args(argv: list[str] | None, prog: str, description: str) -> argparse.Namespace:
    """The pipeline CLI's arguments (see pipeline/cli.py for what each command does)."""
    parser = Parser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kind", choices=KINDS, default="feature", help="branch kind (default: feature)")
    common.add_argument("--git-sha", help="commit recorded on the model package (default: GITHUB_SHA or git)")
    common.add_argument(
        "--branch", help="names the feature pipeline, recorded on the package (default: GitHub env or git)"
    )
    common.add_argument(
        "--role-arn", help="execution role (default: sagemaker-feature or sagemaker-pipeline, by kind)"
    )
    common.add_argument(
        "--input-data-uri", help="S3 URI of the input CSV (default: the config's pipeline input data URI)"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    definition = sub.add_parser("definition", parents=[common], help="print the pipeline definition JSON")
    definition.add_argument(
        "--offline", action="store_true", help="build inside moto's AWS mock (no account)"
    )
    definition.add_argument(
        "--with-champion",
        action="store_true",
        help="look up the prod champion as upsert does (default: none, no registry call)",
    )
    upsert = sub.add_parser("upsert", parents=[common], help="create or update the pipeline")
    start = sub.add_parser("start", parents=[common], help="start an execution; prints its ARN")
    run = sub.add_parser("run", parents=[common], help="upsert, start and wait with per-step progress")
    add_timeout(run, DEFAULT_TIMEOUT, "the execution to finish")
    run.add_argument(
        "--poll-interval", type=positive_number, default=DEFAULT_POLL_INTERVAL, help=argparse.SUPPRESS
    )
    start.add_argument(
        "--pipeline-version-id",
        type=_version_id,
        required=True,
        help="the version to start (what upsert printed as pipeline_version_id)",
    )
    for command in (start, run):
        command.add_argument(
            "--repository", help="owner/repo in the start token (default: GITHUB_REPOSITORY)"
        )
        command.add_argument("--run-id", help="CI run ID in the start token (default: GITHUB_RUN_ID)")
        command.add_argument(
            "--run-attempt", help="CI run attempt in the start token (default: GITHUB_RUN_ATTEMPT)"
        )
    run.add_argument("--check-account", action="store_true", help=laptop.CHECK_ACCOUNT_HELP)
    laptop.add_commands(sub)
    for command in (upsert, start, run):
        add_github_output(command)
    return parser.parse_args(argv)


def _version_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a pipeline version ID (a number from 1)")
    return int(text)
