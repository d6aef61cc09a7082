"""Delete what this repository created in AWS, after listing it and a typed confirmation.

    python -m <package>.infra.teardown [--env qa|prod|all] [--include-registry] [--include-stacks]
                                        [--dry-run] [--yes MODEL_NAME] [--profile ROLE=PROFILE ...]
                                        [--assume-role ROLE_NAME] [--config FILE]

Per environment (`--env`, default all), in its workload account, in this order: the endpoint's
scaling policies and scalable target, the endpoint (waiting until it is gone), its endpoint
configs, then its models, then its rollback and backlog alarms; around them its Model Monitor resources
(`teardown_monitoring`): schedules and monitoring alarms first, job definitions last. Configs
and models are found by listing with NameContains and keeping deploy's versioned names of this endpoint only,
`<endpoint>-v<version>-<hash>` (`deploy.endpoint.versioned_name`): another model's resources,
even one named `<endpoint>-v2-...`, never match.

`--include-registry` (with --env all) adds every version of the feature, dev and prod model
package groups, then the groups. `--include-stacks` adds the stacks `bootstrap.plan` deploys,
in reverse: deploy-role stacks, workload stacks, data-science, shared-services, then the GitHub
OIDC provider stacks (with --env qa or prod only that environment's deploy stack, and its
workload stack when no other environment shares the account). A stack is left alone when its
tags show it was not made by this repository's bootstrap; an OIDC stack also when no stack
made the provider (bootstrap reused it) or roles of another repository trust the provider.

Stored data is never deleted by this command: buckets and KMS keys that a template retains
(DeletionPolicy Retain, as infra/shared-services.yaml and infra/workload.yaml do) are listed
as kept, with what to do by hand. A stack that would delete a non-empty bucket is a blocker:
a real run stops before any deletion and says how to empty or keep the bucket (likewise a
stack that would delete a model package group without --include-registry).

Safety: it first lists everything it would delete, grouped by account with counts, using read
calls only; `--dry-run` stops there. Otherwise it asks for the model name on stdin (or takes
`--yes MODEL_NAME`); any other answer, or end of input, aborts before the first mutating call.
A run after a complete teardown lists nothing and changes nothing.

Credentials are bootstrap's (`--profile`, `--assume-role`, or the default chain); every
distinct account of the config is checked with STS first, whichever --env is given.
It exits 0 when done (or nothing to do, or a dry run), 1 when
an AWS call fails or a blocker stops it, 2 for bad arguments or config, credentials of the
wrong account or a missing confirmation; errors are one `error: ` line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .. import config
from ..cli_support import prog
from ..deploy.aws import Clients
from .errors import Parser, TeardownError, UsageError, error_exit
from .sessions import SessionFactory, check_sessions, parse_profiles, session_factory
from .teardown_delete import (  # noqa: F401 - the teardown API in one place
    ENDPOINT_WAIT_DELAY_SECONDS,
    ENDPOINT_WAIT_MAX_ATTEMPTS,
    KINDS,
    confirm,
    delete,
    render,
)
from .teardown_listing import (  # noqa: F401
    BUCKET,
    GROUP,
    KEEPING,
    KEY,
    VERSIONED,
    Item,
    Listing,
    list_environment,
    list_registry,
    ours,
)
from .teardown_stacks import (  # noqa: F401
    build_listing,
    list_stacks,
    registry_data,
    resource_policies,
    stack_data,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog=prog(f"python -m {__spec__.name if __spec__ else __name__}"), description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--env", choices=(*config.ENVIRONMENTS, "all"), default="all", help="whose endpoints (default all)"
    )
    parser.add_argument("--include-registry", action="store_true", help="also the model package groups")
    parser.add_argument("--include-stacks", action="store_true", help="also the bootstrap stacks")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted (read calls only)")
    parser.add_argument("--yes", metavar="MODEL_NAME", help="confirm without a prompt (automation)")
    parser.add_argument("--profile", action="append", default=[], metavar="ROLE=PROFILE")
    parser.add_argument("--assume-role", metavar="NAME", help="role to assume in each account")
    parser.add_argument(
        "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
    )
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None,
    *,
    session_for: SessionFactory | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run the teardown CLI; see the module docstring. Tests pass `session_for` (sessions for
    simulated accounts), `stdin` (the typed answer) and `out` (the listing)."""
    out = out or sys.stdout
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        args = parse_args(argv)
        cfg = config.load_config(args.config)
        envs = list(config.ENVIRONMENTS) if args.env == "all" else [args.env]
        if args.include_registry and args.env != "all":
            raise UsageError("--include-registry deletes the groups every environment uses; add --env all")
        factory = session_for or session_factory(cfg.region, parse_profiles(args.profile), args.assume_role)
        sessions = check_sessions(cfg, factory)
        clients = {account: Clients(session, cfg.region) for account, session in sessions.items()}
        listing = build_listing(
            cfg, envs, clients, registry=args.include_registry, stacks=args.include_stacks
        )
        print("\n".join(render(cfg, listing)), file=out, flush=True)
        if args.dry_run:
            print("dry run: nothing was deleted", file=out)
            return 0
        if listing.blockers:
            raise TeardownError(
                f"{len(listing.blockers)} blocker(s) listed above (BLOCKED); nothing was deleted"
            )
        if not listing.items and args.yes is None:
            return 0
        confirm(cfg, args.yes, len(listing.items), stdin or sys.stdin)
        deleted = delete(listing, clients, log)
        print(f"deleted {deleted} resources", file=out)
    except Exception as exc:
        return error_exit(exc, TeardownError)
    return 0


if __name__ == "__main__":
    sys.exit(main())
