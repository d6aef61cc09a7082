"""Errors of the infra commands and the exit status each maps to (the cli_support contract)."""

from __future__ import annotations

import argparse
from typing import Any

from .. import config
from ..cli_support import EXIT_FAILED, EXIT_USAGE, error
from ..cli_support import UsageError as _CliUsageError


class BootstrapError(RuntimeError):
    """A stack could not be deployed; the message is one line naming the stack and the reason."""


class TeardownError(RuntimeError):
    """A deletion failed or cannot succeed; one line naming the resource and the reason."""


class UsageError(_CliUsageError):
    """Bad arguments, config or credentials; nothing was deployed or deleted."""


def error_exit(exc: Exception, failure: type[Exception]) -> int:
    """One `error: ...` line on stderr and the exit status of the infra commands: 2 for a usage or
    config error, 1 for `failure` or a failed AWS call. Anything else is a bug and is raised again."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, _CliUsageError | config.ConfigError):
        status, text = EXIT_USAGE, str(exc)
    elif isinstance(exc, failure):
        status, text = EXIT_FAILED, str(exc)
    elif isinstance(exc, ClientError | BotoCoreError):
        status, text = EXIT_FAILED, f"AWS call failed: {exc}"
    else:
        raise exc
    error(text)
    return status


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one `error:` line and exit status 2, like every other."""

    def error(self, message: str) -> Any:
        raise UsageError(message)
