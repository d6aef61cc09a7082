"""`<package> infra <command>`: the infrastructure commands behind one entry point.

    bootstrap ...   deploy the infra/ stacks (infra/bootstrap.py)
    teardown ...    list, confirm and delete what this repository created (infra/teardown.py)
    check ...       the policy checks on infra/*.yaml (infra/policy_checks.py)
    github apply|verify ...
                    apply or verify the GitHub environments through the REST API (infra/github_cli.py)

Each keeps the cli_support contract: exit 0 success, 1 failure, 2 usage or config error, one
`error:` line on stderr.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from ..cli_support import EXIT_OK, EXIT_USAGE, _invoked_as, error, invoked_as, prog

COMMANDS = {
    "bootstrap": ("bootstrap", "deploy the infra/ stacks into the configured accounts"),
    "teardown": ("teardown", "delete what this repository created, after a listing and a confirmation"),
    "check": ("policy_checks", "the policy checks on the CloudFormation templates"),
    "github": ("github_cli", "apply or verify the GitHub environments (apply|verify)"),
}


def usage() -> str:
    me = prog("infra")
    lines = [f"usage: {me} <command> [options]   ({me} <command> --help for its options)", ""]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(usage(), file=sys.stderr)
        return EXIT_USAGE
    if args[0] in ("-h", "--help", "help"):
        # As argparse's --help in every other command's main: the usage on stdout, SystemExit(0).
        print(usage())
        raise SystemExit(EXIT_OK)
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        error(f"unknown infra command {name!r}; expected one of: {', '.join(COMMANDS)}")
        return EXIT_USAGE
    module = importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")
    with invoked_as(*(() if _invoked_as else ("infra",)), name):
        return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
