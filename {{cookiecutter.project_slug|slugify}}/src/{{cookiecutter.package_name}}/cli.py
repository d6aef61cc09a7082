"""The project's one command line: `python -m <package> <command> ...` (also the console script).

Each command lives in its own module and is imported only when it runs, so the deploy and release
jobs (boto3 only) never import the SageMaker SDK, pandas or scikit-learn. Every command keeps the
contract in `cli_support`: exit 0 success, 1 failure, 2 usage or config error; one `error:` line.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from .cli_support import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, invoked_as


class Command(NamedTuple):
    module: str  # relative to this package
    keep_name: bool  # pass the command word on (the module's parser has it as a subcommand)
    summary: str
    group: str


# (name, module, keep_name, summary) per group, in the order `--help` lists them.
_TABLE: dict[str, list[tuple[str, str, bool, str]]] = {
    "set-up": [
        ("config", "config", False, "validate config/project.json and print every derived name"),
        ("data", "datasets", False, "upload training data to the pipeline's input location"),
        ("infra", "infra.cli", False, "bootstrap, check or tear down the AWS infrastructure"),
    ],
    "build": [
        ("local", "local.rehearsal", False, "rehearse the whole pipeline and endpoint on this machine"),
        ("serve", "local.server", False, "serve a model.tar.gz on 127.0.0.1 like SageMaker does"),
        (
            "pipeline",
            "pipeline.cli",
            False,
            "print, upsert, run, watch (status) or compare the SageMaker pipeline",
        ),
    ],
    "promote": [
        (
            "registry",
            "promotion.cli",
            False,
            "registry: ensure-groups, latest, digest, samples, record-qa, approve, promote, released, reject",
        ),
        (
            "lock",
            "promotion.cli",
            True,
            "write, verify, check or show model.lock.json; champion: did it beat prod's model",
        ),
        ("compare", "promotion.cli", True, "markdown: the locked candidate next to the prod champion"),
    ],
    "deploy": [
        ("deploy", "deploy.cli", True, "deploy a registered version to an environment's endpoint"),
        ("rollback", "deploy.cli", True, "put an endpoint back on the configuration it served before"),
        ("endpoint-test", "deploy.cli", True, "run the endpoint test suite against an endpoint"),
        (
            "routes",
            "deploy.cli",
            True,
            "print a multi-model endpoint's routes (segment -> TargetModel) as JSON",
        ),
        ("shadow", "deploy.cli", True, "shadow phase: start, compare, promote or abort a candidate"),
        ("batch", "batch.cli", False, "batch transform: run a job and check its outputs, or rehearse it"),
    ],
    "operate": [
        ("notify", "notify.cli", False, "tell Slack and the alerts topic a gate, QA or release outcome"),
        ("retrain", "retrain.cli", False, "check a retraining trigger and start the dev workflow on it"),
    ],
}
COMMANDS: dict[str, Command] = {
    name: Command(module, keep, summary, group)
    for group, rows in _TABLE.items()
    for name, module, keep, summary in rows
}


def usage(prog: str) -> str:
    lines = [f"usage: {prog} <command> [options]   ({prog} <command> --help for its options)", ""]
    for group in _TABLE:
        lines.append(f"{group}:")
        lines += [f"  {name:<14} {cmd.summary}" for name, cmd in COMMANDS.items() if cmd.group == group]
    lines += ["", "exit status: 0 success, 1 the operation failed, 2 usage or configuration error"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    prog = prog or __package__.replace("_", "-")
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage(prog), file=sys.stdout if args else sys.stderr)
        return EXIT_OK if args else EXIT_USAGE
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        error(f"unknown command {name!r}; expected one of: {', '.join(COMMANDS)}")
        return EXIT_USAGE
    module = importlib.import_module(f"{__package__}.{command.module}")
    sub_argv = [name, *rest] if command.keep_name else rest
    # A module whose parser has the command as a subcommand adds the word itself.
    words = (prog,) if command.keep_name else (prog, name)
    try:
        with invoked_as(*words):
            return int(module.main(sub_argv) or 0)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 after --help
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or EXIT_OK
        error(exc.code)
        return EXIT_FAILED


def console() -> int:
    """Entry point of the console script named after the project."""
    return main()
