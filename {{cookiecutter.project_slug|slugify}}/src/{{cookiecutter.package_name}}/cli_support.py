"""The contract every subcommand of the project's command line keeps.

- Exit status: 0 success, 1 the operation failed, 2 usage or configuration error.
- One error line on stderr, `error: <what is wrong and what is expected>`.
- Results on stdout as `key=value` lines; `--github-output` also appends them to $GITHUB_OUTPUT.
- The same option means the same thing everywhere: `--timeout SECONDS` (how long to wait),
  `--poll-interval SECONDS` (between status checks), `--samples PATH` (a labelled CSV),
  `--rows N` (how many of its rows), `--report PATH` (a JSON report written), `--github-output`.

Standard library only: the deploy jobs import this with boto3 and nothing else installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


# How the running command was invoked ("<slug> registry"), set by the dispatchers (cli.py,
# infra/cli.py) so every parser's usage line names what the user typed; None when a module runs
# on its own (`python -m <package>.deploy.cli`).
_invoked_as: list[str] = []


def prog(default: str) -> str:
    """The program name for a parser's usage line: how the command was invoked, else `default`."""
    return " ".join(_invoked_as) if _invoked_as else default


@contextmanager
def invoked_as(*words: str) -> Iterator[None]:
    """Within the block, parsers name `words` (appended to what is already set) as their program."""
    before = list(_invoked_as)
    _invoked_as.extend(words)
    try:
        yield
    finally:
        _invoked_as[:] = before


class UsageError(ValueError):
    """Bad arguments or configuration: exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one `error:` line and exit status 2 (subparsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def error(message: object) -> None:
    """Print the one `error: ...` line on stderr."""
    text = str(message)
    if text.startswith("error: "):
        text = text[len("error: ") :]
    print(f"error: {text}", file=sys.stderr)


def fail(message: object, status: int = EXIT_FAILED) -> int:
    """Print the error line and return the exit status to hand back from main()."""
    error(message)
    return status


def parse_number(text: str, cast: Any, what: str) -> Any:
    """`cast(text)`, or the argparse error "'<text>' is not <what>" (for an option's type)."""
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_number(text: str) -> float:
    """argparse type for durations: a number of seconds above zero."""
    value = parse_number(text, float, "a number of seconds")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 seconds")
    return value


def seconds(text: str) -> float:
    """argparse type for waits: a number of seconds, 0 or more (0 = check once, do not wait)."""
    value = parse_number(text, float, "a number of seconds")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 seconds or more")
    return value


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number above zero."""
    value = parse_number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def add_timeout(parser: argparse.ArgumentParser, default: float | None, what: str) -> None:
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=default,
        metavar="SECONDS",
        help=f"seconds to wait for {what}" + ("" if default is None else f" (default {default:g})"),
    )


def add_poll_interval(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument(
        "--poll-interval",
        type=seconds,
        default=default,
        metavar="SECONDS",
        help=f"seconds between status checks (default {default:g})",
    )


def add_samples(parser: argparse.ArgumentParser, default: Path | None, rows_default: int) -> None:
    parser.add_argument(
        "--samples", type=Path, default=default, metavar="PATH", help="labelled CSV the tests send rows of"
    )
    parser.add_argument(
        "--rows",
        type=positive_int,
        default=rows_default,
        metavar="N",
        help=f"labelled rows to send (default {rows_default})",
    )


def add_github_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--github-output", action="store_true", help="also append the key=value lines to $GITHUB_OUTPUT"
    )


def emit(values: Mapping[str, Any], github_output: bool = False) -> None:
    """Print key=value lines; with github_output also append them to $GITHUB_OUTPUT."""
    lines = [f"{key}={value}" for key, value in values.items()]
    for key, value in values.items():
        if "\n" in f"{key}{value}":
            raise UsageError(f"output {key!r} holds a newline; refusing to write it as key=value")
    if github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise UsageError("--github-output given but GITHUB_OUTPUT is not set")
        with Path(target).open("a") as handle:
            handle.write("".join(line + "\n" for line in lines))
    for line in lines:
        print(line)
