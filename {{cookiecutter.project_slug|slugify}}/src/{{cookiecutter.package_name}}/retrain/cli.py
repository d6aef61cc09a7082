"""`retrain dispatch` and `retrain check`: start a retraining on the dev path, never prod.

    python -m <package> retrain dispatch [--api-url URL] [--dry-run]
    python -m <package> retrain check [--github-output]

`dispatch` (.github/workflows/retrain.yml) reads the event that ran the workflow
(GITHUB_EVENT_NAME, GITHUB_EVENT_PATH): a schedule (its cron must be `retraining.schedule`), a
workflow_dispatch (inputs `dataset_uri`, optional, under the datasets folder, and `reason`,
required) or a repository_dispatch of type new-data or drift (`client_payload.dataset_uri` and
`reason`, optional; started only when `retraining.on_new_data` / `on_drift` is true, else one line
says why nothing starts). Then it asks GitHub to run dev.yml on the dev branch with those inputs
(POST /repos/OWNER/REPO/actions/workflows/dev.yml/dispatches, token from GITHUB_TOKEN, API URL
from --api-url or GITHUB_API_URL) and prints `action=dispatched|skipped`, `workflow`, `ref`,
`trigger`, `dataset_uri`, `reason`. `--dry-run` checks and prints without dispatching.

`check` (dev.yml, on a workflow_dispatch) checks the run is on the dev branch and the inputs are
valid, and prints `dataset_uri`, `reason` and `trigger` (`--github-output` also writes them).

Exit status: 0 dispatched, skipped or checked; 1 GitHub refused the dispatch; 2 an invalid event,
input or config (nothing dispatched).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    add_github_output,
    emit,
    fail,
    prog,
)
from ..config import ConfigError, load_config
from .trigger import DEV_WORKFLOW, TriggerError, read_dispatched, read_trigger


def parse_args(argv: Sequence[str]) -> Any:
    parser = Parser(prog=prog("retrain"), description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dispatch = sub.add_parser("dispatch", help="check the trigger, then start dev.yml on the dev branch")
    dispatch.add_argument("--api-url", help="GitHub's API URL (default: GITHUB_API_URL or api.github.com)")
    dispatch.add_argument("--dry-run", action="store_true", help="check and print, dispatch nothing")
    check = sub.add_parser("check", help="check a dispatched dev workflow run's branch and inputs")
    add_github_output(check)
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from ..infra.github_api import DEFAULT_API_URL, GitHubApi, GitHubError, token_from_env

    try:
        cfg = load_config()
        event_name, event = _event()
        if args.command == "check":
            trigger = read_dispatched(cfg, os.environ.get("GITHUB_REF", ""), event)
            emit(
                {"dataset_uri": trigger.dataset_uri, "reason": trigger.reason, "trigger": trigger.kind},
                args.github_output,
            )
            return EXIT_OK
        trigger = read_trigger(cfg, event_name, event)
        api = None
        if not trigger.skip and not args.dry_run:
            api = GitHubApi(
                token_from_env("GITHUB_TOKEN"),
                args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
            )
    except (ConfigError, TriggerError, UsageError) as exc:
        return fail(exc, EXIT_USAGE)
    values = {"workflow": DEV_WORKFLOW, "ref": cfg.branches.dev, **trigger.inputs()}
    if trigger.skip:
        print(f"retrain: nothing started: {trigger.skip}")
        emit({"action": "skipped", **values})
        return EXIT_OK
    if api is not None:
        path = f"/repos/{cfg.github.repository}/actions/workflows/{DEV_WORKFLOW}/dispatches"
        try:
            api.request("POST", path, {"ref": cfg.branches.dev, "inputs": trigger.inputs()})
        except GitHubError as exc:
            return fail(exc, EXIT_FAILED)
    emit({"action": "dispatched" if api is not None else "checked", **values})
    return EXIT_OK


def _event() -> tuple[str, dict[str, Any]]:
    """The event that ran this workflow: GITHUB_EVENT_NAME and the JSON at GITHUB_EVENT_PATH."""
    name = os.environ.get("GITHUB_EVENT_NAME", "")
    path = os.environ.get("GITHUB_EVENT_PATH", "")
    if not name or not path:
        raise UsageError("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set; expected a GitHub Actions run")
    try:
        event = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"GITHUB_EVENT_PATH {path} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(event, dict):
        raise UsageError(f"GITHUB_EVENT_PATH {path} holds no event object")
    return name, event
