"""Deploy the CloudFormation stacks in `infra/` into the accounts named in config/project.json.

    python -m <package>.infra.bootstrap [--dry-run] [--profile ROLE=PROFILE ...]
                                         [--assume-role ROLE_NAME] [--oidc-provider auto|create|existing]
                                         [--prod-reviewer team:SLUG|user:LOGIN ...] [--output FILE]
                                         [--allow-placeholders]
                                         [--github-token-env NAME [--github-api-url URL]]

Stacks, in dependency order (stack names start with the model name):

1. `github-actions-oidc-provider` (github-oidc.yaml) in every distinct account, unless the
   account already has a GitHub OIDC provider that was made some other way (then it is reused).
2. `<model>-shared-services` (shared-services.yaml): KMS key, artifact bucket, model package
   groups, the GitHub QA registry role (`qa` environment) and prod registry role (`prod`).
3. `<model>-data-science` (data-science.yaml): the feature and dev pipeline execution roles,
   the GitHub feature role (`feature` environment) and build role (`data-science`), and, when
   `aws.data_scientist_principal` is set, the data-scientist role (make run, status, compare).
4. `<model>-workload` (workload.yaml) once per distinct workload account: endpoint execution
   role, data-capture bucket and key.
5. `<model>-deploy-qa`, `<model>-deploy-prod` (workload-deploy.yaml): the GitHub deploy role of
   each environment.
6. Only with `retraining.on_new_data` / `on_drift` true: `<model>-retraining-new-data` (shared
   services) and `<model>-retraining-drift` (each workload account with a monitored environment),
   both retraining-events.yaml: EventBridge rules sending repository_dispatch events to GitHub.
   Their connections hold a placeholder; the output ends with the `aws events update-connection`
   commands that set the GitHub token (retraining_events.py, docs/retraining.md).

Each stack is created, or updated when it exists; "No updates are to be performed" counts as
success. Every operation is waited for. Afterwards it prints (stdout) one JSON document with
the stacks' outcomes, the role ARNs the workflows need and the GitHub settings to apply
(environments, deployment branch rules, required reviewers on prod). Progress goes to stderr.

GitHub settings: with `--github-token-env NAME` (the environment variable holding a token with
repository administration rights), bootstrap then applies them through GitHub's REST API and
verifies them, as `infra github apply` does (github_cli.py); a missing variable is a usage error
before any AWS or GitHub call. Without it, it prints the `gh api` commands that create them and
the `infra github apply` command. The prod reviewers are the `--prod-reviewer` flags, else
`github.prod_reviewers` of the config.

Credentials: each account's stacks are deployed with a session for that account, from
`--profile data_science=NAME` (and shared_services=, qa=, prod=) named profiles, or by
assuming `--assume-role NAME` in each account from the current credentials, or else the
current credentials for every account (single-account mode). The account of every session is
checked with STS before anything is deployed.

Placeholder answers: while config/project.json still holds the template's example accounts
(111111111111 ... 444444444444) or GitHub owner (example-org), a dry run prints a WARNING block
(stderr) naming each key and what to set, and a real run refuses before any AWS call unless
`--allow-placeholders` is given (for simulated accounts, e.g. the tests' moto accounts).

It exits 0 when every stack is in place (and the GitHub settings, when applied, match), 1 when a
stack operation or a GitHub call fails (naming the stack or the call and the first failure
reason) or GitHub still differs, and 2 for bad arguments, config (placeholder answers in a real run
included), or credentials of the wrong account.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import config
from ..cli_support import EXIT_USAGE, error, prog
from . import retraining_events
from .apply import (  # noqa: F401 - the bootstrap API in one place
    CAPABILITIES,
    NO_UPDATES,
    OIDC_URL,
    WAIT_DELAY_SECONDS,
    WAIT_MAX_ATTEMPTS,
    Result,
    deploy_stack,
    describe_stack,
    existing_oidc_provider,
    failure_reason,
    is_current,
    role_outputs,
    run,
)
from .errors import BootstrapError, Parser, UsageError, error_exit  # noqa: F401
from .github_api import DEFAULT_API_URL, GitHubApi, GitHubError, token_from_env
from .github_cli import apply_and_verify
from .github_settings import (  # noqa: F401
    REVIEWER,
    gh_commands,
    github_manifest,
    parse_reviewers,
    prod_reviewers,
)
from .github_sync import check_manifest
from .placeholders import (  # noqa: F401
    PLACEHOLDER_ACCOUNTS,
    PLACEHOLDER_GITHUB_OWNERS,
    Placeholder,
    placeholder_answers,
    placeholder_refusal,
    placeholder_warning,
)
from .plan import (  # noqa: F401
    INFRA_DIR,
    KEY_ARN_OUTPUT,
    OIDC_STACK,
    StackSpec,
    describe_plan,
    distinct_accounts,
    github_parameters,
    plan,
    stack_name,
    workload_accounts,
)
from .sessions import SessionFactory, check_sessions, parse_profiles, session_factory  # noqa: F401


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog=prog(f"python -m {__spec__.name if __spec__ else __name__}"),
        description="Deploy the infra/ CloudFormation stacks into the accounts in config/project.json.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and the GitHub settings; no AWS call"
    )
    parser.add_argument(
        "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
    )
    parser.add_argument("--infra-dir", type=Path, default=INFRA_DIR, help="folder of the templates")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="ROLE=PROFILE",
        help="named profile for an account role",
    )
    parser.add_argument(
        "--assume-role", metavar="NAME", help="role to assume in each account, e.g. an admin role"
    )
    parser.add_argument("--oidc-provider", choices=("auto", "create", "existing"), default="auto")
    parser.add_argument(
        "--prod-reviewer",
        action="append",
        default=[],
        metavar="team:SLUG|user:LOGIN",
        help="required reviewer of the prod environment (repeatable)",
    )
    parser.add_argument(
        "--github-token-env",
        metavar="NAME",
        help="after the stacks, apply and verify the GitHub settings through the API with the token in "
        "this environment variable (repository admin); without it the gh commands are printed",
    )
    parser.add_argument(
        "--github-api-url",
        default=DEFAULT_API_URL,
        metavar="URL",
        help=f"GitHub API base URL for --github-token-env (default {DEFAULT_API_URL})",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON summary to this file")
    parser.add_argument(
        "--allow-placeholders",
        action="store_true",
        help="deploy even though the config holds the template's placeholder accounts or GitHub owner "
        "(simulated accounts only)",
    )
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None,
    *,
    session_for: SessionFactory | None = None,
    out: TextIO | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run the bootstrap CLI; see the module docstring for options and exit codes.

    `session_for` replaces the credential handling (tests pass sessions for simulated
    accounts); `out` receives the JSON summary and the gh commands.
    """
    out = out or sys.stdout
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        args = parse_args(argv)
        cfg = config.load_config(args.config)
        manifest = github_manifest(cfg, prod_reviewers(cfg, args.prod_reviewer))
        github = None
        if args.github_token_env:
            check_manifest(manifest)
            github = GitHubApi(token_from_env(args.github_token_env), args.github_api_url)
        specs = plan(cfg)
        profiles = parse_profiles(args.profile)  # a dry run refuses what the real run would
        placeholders = placeholder_answers(cfg)
        if placeholders and not (args.dry_run or args.allow_placeholders):
            error(placeholder_refusal(placeholders, cfg.source))
            return EXIT_USAGE
        if placeholders:
            print(placeholder_warning(placeholders, cfg.source), file=sys.stderr, flush=True)
        if args.dry_run:
            summary: dict[str, Any] = {"dry_run": True, "stacks": describe_plan(specs), "github": manifest}
        else:
            factory = session_for or session_factory(cfg.region, profiles, args.assume_role)
            result = run(cfg, factory, infra_dir=args.infra_dir, oidc_provider=args.oidc_provider, log=log)
            summary = {"stacks": result.outcomes, "outputs": role_outputs(cfg, result), "github": manifest}
    except Exception as exc:
        return error_exit(exc, BootstrapError)
    text = json.dumps(summary, indent=2)
    print(text, file=out)
    if args.output:
        args.output.write_text(text + "\n")
    steps = retraining_events.token_steps(cfg)
    if steps:
        print("\n" + "\n".join(steps), file=out)
    if github is not None and not args.dry_run:
        print("\n# GitHub settings, applied through the API and verified:", file=out)
        try:
            return apply_and_verify(github, manifest, out, log)
        except GitHubError as exc:
            return error_exit(exc, GitHubError)
    print("\n# Apply the GitHub settings (gh CLI, repository admin):", file=out)
    print("\n".join(gh_commands(manifest)), file=out)
    package = __package__.rsplit(".", 1)[0]
    print(
        "\n# Or apply and verify them through the REST API (token of a repository admin in GITHUB_TOKEN):"
        f"\n#   python -m {package} infra github apply --token-env GITHUB_TOKEN"
        "\n# (or rerun bootstrap with --github-token-env GITHUB_TOKEN; see docs/github.md)",
        file=out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
