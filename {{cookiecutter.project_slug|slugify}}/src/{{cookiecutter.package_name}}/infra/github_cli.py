"""Apply or verify the GitHub environments and branch rulesets the workflows rely on, through
GitHub's REST API.

    <slug> infra github apply  [--token-env NAME] [--api-url URL] [--prod-reviewer team:SLUG|user:LOGIN ...]
    <slug> infra github verify [--token-env NAME] [--api-url URL] [--prod-reviewer team:SLUG|user:LOGIN ...]

The environments (feature, data-science, qa, prod by default), their deployment branch rules,
the prod environment's required reviewers and "prevent self-review", and `can_admins_bypass`
false everywhere; and the rulesets of the prod and dev branches (no deletion, no force push; on
prod a reviewed pull request and the `checks` and `compare` jobs, no bypass actors): see
github_settings.github_manifest and docs/github.md. The required reviewers are the
`--prod-reviewer` flags when given, else `github.prod_reviewers` of the config.

`apply` changes only what differs (a second run makes no change), then verifies. `verify` only
reads (GET), so a read-only token will do (a workflow's GITHUB_TOKEN with `actions: read`); it
prints one line per difference. GitHub shows a ruleset's bypass actors only to a token that may
edit it; with any other token `verify` prints a `note:` on stderr that they were not checked.

The token is read from the environment variable `--token-env` names (default GITHUB_TOKEN) and
is never printed. Exit status: 0 GitHub matches the config, 1 a difference remains or a GitHub
call failed (one `error:` line naming the call, the HTTP status and GitHub's message), 2 bad
arguments, config or a missing token, before any request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import config
from ..cli_support import EXIT_FAILED, EXIT_OK, error, prog
from .errors import Parser, error_exit
from .github_api import DEFAULT_API_URL, DEFAULT_TOKEN_ENV, GitHubApi, GitHubError, token_from_env
from .github_settings import github_manifest, prod_reviewers
from .github_sync import apply, check_manifest, verify


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog=prog(f"python -m {__spec__.name if __spec__ else __name__}"),
        description="Apply or verify the GitHub environments and branch rulesets in config/project.json "
        "through the REST API.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="{apply,verify}")
    for name, summary in (
        (
            "apply",
            "create or update the environments, their branch rules and the branch rulesets; then verify",
        ),
        ("verify", "compare GitHub with the config (GET requests only); exit 1 on any difference"),
    ):
        sub = actions.add_parser(name, help=summary, description=summary)
        sub.add_argument(
            "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
        )
        sub.add_argument(
            "--token-env",
            default=DEFAULT_TOKEN_ENV,
            metavar="NAME",
            help=f"environment variable holding the GitHub token (default {DEFAULT_TOKEN_ENV})",
        )
        sub.add_argument(
            "--api-url",
            default=DEFAULT_API_URL,
            metavar="URL",
            help=f"API base URL (default {DEFAULT_API_URL})",
        )
        sub.add_argument(
            "--prod-reviewer",
            action="append",
            default=[],
            metavar="team:SLUG|user:LOGIN",
            help="required reviewer of the prod environment (repeatable; default github.prod_reviewers)",
        )
    return parser.parse_args(argv)


def apply_and_verify(
    api: GitHubApi, manifest: dict[str, Any], out: TextIO, log: Callable[[str], None]
) -> int:
    """Apply the manifest, verify it, print the outcome; the exit status (GitHubError raised)."""
    changes = apply(api, manifest, log)
    drift = verify(api, manifest, lambda line: log(f"note: {line}"))
    return report(manifest, drift, out, changes=len(changes))


def report(manifest: dict[str, Any], drift: list[str], out: TextIO, **extra: int) -> int:
    """Print the drift lines, or the key=value outcome; the exit status."""
    repository = manifest["repository"]
    if drift:
        for line in drift:
            print(f"drift: {line}", file=out)
        error(
            f"the GitHub settings of {repository} differ from the config in {len(drift)} place(s), "
            "listed above; run `infra github apply` with a repository admin's token"
        )
        return EXIT_FAILED
    values = {
        "repository": repository,
        "environments": ",".join(manifest["environments"]),
        "rulesets": ",".join(manifest.get("rulesets", {})),
        **extra,
    }
    values["drift"] = 0
    print("\n".join(f"{key}={value}" for key, value in values.items()), file=out)
    return EXIT_OK


def main(
    argv: list[str] | None = None, *, out: TextIO | None = None, log: Callable[[str], None] | None = None
) -> int:
    """Run the command; see the module docstring for options and exit codes."""
    out = out or sys.stdout
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        args = parse_args(argv)
        cfg = config.load_config(args.config)
        manifest = github_manifest(cfg, prod_reviewers(cfg, args.prod_reviewer))
        check_manifest(manifest)
        api = GitHubApi(token_from_env(args.token_env), args.api_url)
        if args.action == "apply":
            return apply_and_verify(api, manifest, out, log)
        return report(manifest, verify(api, manifest, lambda line: log(f"note: {line}")), out)
    except Exception as exc:
        return error_exit(exc, GitHubError)


if __name__ == "__main__":
    sys.exit(main())
