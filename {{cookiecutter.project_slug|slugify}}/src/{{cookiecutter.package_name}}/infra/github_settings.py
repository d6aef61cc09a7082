"""The GitHub environments, branch rules and reviewers the workflows rely on, and the `gh api`
commands that apply them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..config import Config
from .errors import UsageError

REVIEWER = re.compile(r"^(team|user):([A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?)$")


def parse_reviewers(values: list[str]) -> list[tuple[str, str]]:
    """`team:SLUG` / `user:LOGIN` strings as (kind, name); UsageError for anything else."""
    reviewers = []
    for value in values:
        match = REVIEWER.match(value)
        if not match:
            raise UsageError(f"--prod-reviewer {value!r} is not team:SLUG or user:LOGIN")
        reviewers.append((match[1], match[2]))
    return reviewers


def github_manifest(cfg: Config, reviewers: list[tuple[str, str]]) -> dict[str, Any]:
    """The GitHub environments the workflows rely on, as data.

    - build environment (data-science): deployable from the dev branch and feature branches only;
    - qa: from the dev branch only;
    - prod: from the prod branch only, with required reviewers who may not approve their own run.
    OIDC trust names these environments, so these branch rules are what keeps each AWS role
    reachable only from the intended branches.
    """
    branches = cfg.branches
    custom = {"protected_branches": False, "custom_branch_policies": True}
    return {
        "repository": cfg.github.repository,
        "environments": {
            cfg.github.environments["build"]: {
                "settings": {"deployment_branch_policy": custom},
                "deployment_branches": [branches.dev, f"{branches.feature_prefix}*"],
            },
            cfg.environment("qa").github_environment: {
                "settings": {"deployment_branch_policy": custom},
                "deployment_branches": [branches.dev],
            },
            cfg.environment("prod").github_environment: {
                "settings": {
                    "wait_timer": 0,
                    "prevent_self_review": True,
                    "reviewers": [
                        {"type": kind.capitalize(), "login_or_slug": name} for kind, name in reviewers
                    ],
                    "deployment_branch_policy": custom,
                },
                "deployment_branches": [branches.prod],
            },
        },
    }


def gh_commands(manifest: dict[str, Any]) -> list[str]:
    """Shell lines that apply the manifest with the GitHub CLI (`gh api`).

    Reviewer IDs are looked up by name first; with no reviewer given, the prod command stops
    with a message until PROD_REVIEWER_TEAM_ID is set. Re-running them is safe except that
    GitHub answers an existing deployment branch rule with an error, which can be ignored.
    """
    repo = manifest["repository"]
    owner = repo.split("/")[0]
    lines = ["set -euo pipefail"]
    for name, env in manifest["environments"].items():
        settings = dict(env["settings"])
        reviewers = settings.pop("reviewers", None)
        if reviewers is None:
            lines += [
                f"gh api --method PUT repos/{repo}/environments/{name} --input - <<'JSON'",
                json.dumps(settings),
                "JSON",
            ]
        else:
            # Shell variables hold the numeric IDs; the here-document is unquoted so they expand.
            ids = []
            for index, reviewer in enumerate(reviewers, start=1):
                var = f"PROD_REVIEWER_{index}"
                path = (
                    f"orgs/{owner}/teams/{reviewer['login_or_slug']}"
                    if reviewer["type"] == "Team"
                    else f"users/{reviewer['login_or_slug']}"
                )
                lines.append(f"{var}=$(gh api {path} --jq .id)")
                ids.append((reviewer["type"], "$" + var))
            if not ids:
                ids.append(
                    (
                        "Team",
                        "${PROD_REVIEWER_TEAM_ID:?set PROD_REVIEWER_TEAM_ID to the ID of the approving team}",
                    )
                )
            settings["reviewers"] = [
                {"type": kind, "id": f"@ID{index}@"} for index, (kind, _) in enumerate(ids)
            ]
            body = json.dumps(settings)
            for index, (_, ref) in enumerate(ids):
                body = body.replace(f'"@ID{index}@"', ref)
            lines += [f"gh api --method PUT repos/{repo}/environments/{name} --input - <<JSON", body, "JSON"]
        for branch in env["deployment_branches"]:
            lines.append(
                f"gh api --method POST repos/{repo}/environments/{name}/deployment-branch-policies "
                f"-f name='{branch}' -f type=branch"
            )
    return lines
