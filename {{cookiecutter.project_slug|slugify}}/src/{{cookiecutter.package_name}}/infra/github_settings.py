"""The GitHub environments, branch rules, reviewers and branch rulesets the workflows rely on
(`github_manifest`), and the `gh api` commands that create the environments (`gh_commands`).
`github_sync.py` applies and verifies the same manifest through the REST API
(`<slug> infra github apply|verify`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..config import Config
from .errors import UsageError

# The check runs a pull request into the prod branch must pass: GitHub names a job's check run
# after the job's `name:` (checks.yml job `checks`, release-pr.yml jobs `compare` and `champion`).
PROD_STATUS_CHECKS = ("Lint, tests, pipeline definition", "Candidate vs prod", "Candidate beats the champion")
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


def config_reviewers(cfg: Config) -> list[tuple[str, ...]]:
    """`github.prod_reviewers` (`@user`, `@org/team`) as (kind, name) or ("team", slug, org)."""
    reviewers: list[tuple[str, ...]] = []
    for handle in cfg.github.prod_reviewers:
        org, _, team = handle[1:].partition("/")
        reviewers.append(("team", team, org) if team else ("user", org))
    return reviewers


def prod_reviewers(cfg: Config, flags: list[str]) -> list[tuple[str, ...]]:
    """The prod environment's required reviewers: the `--prod-reviewer` flags when given, else
    `github.prod_reviewers` from the config."""
    return parse_reviewers(flags) if flags else config_reviewers(cfg)


def github_manifest(cfg: Config, reviewers: list[tuple[str, ...]]) -> dict[str, Any]:
    """The GitHub environments the workflows rely on, as data (the wanted state).

    - feature: deployable from `<feature prefix>**` branches only. GitHub matches branch-name
      patterns with Ruby's File.fnmatch, where `*` does not match `/`; `**` is used so that
      nested names (`feature-x/y`) are meant too. Every pattern starts with the prefix, so no
      other branch can match it;
    - build (data-science): from the dev branch only;
    - qa: from the dev branch only;
    - prod: from the prod branch only, with required reviewers who may not approve their own
      run, and no wait timer. A reviewer is (kind, name), or ("team", slug, org) for a team of
      another organisation than the repository owner (which GitHub refuses: see check_manifest);
    - batch (`batch.github_environment`): from the prod branch only, no reviewers, so the
      scheduled batch run (GitHub runs schedules on the default branch) is unattended; the
      batch roles it reaches run transform jobs and change nothing else.
    No environment lets administrators bypass its rules (`can_admins_bypass` false). OIDC trust
    names these environments, so these branch rules are what keeps each AWS role reachable
    only from the intended branches.
    """
    branches = cfg.branches
    names = {key: cfg.github.environments[key] for key in ("feature", "build", "qa", "prod")}
    names["batch"] = cfg.batch.github_environment
    keys = {key: f"github.environments.{key}" for key in names} | {"batch": "batch.github_environment"}
    seen: dict[str, str] = {}
    for key, name in names.items():
        if name in seen:
            raise UsageError(
                f"{keys[seen[name]]} and {keys[key]} are both {name!r}; "
                "expected a distinct GitHub environment for each"
            )
        seen[name] = key

    def settings(**extra: Any) -> dict[str, Any]:
        custom = {"protected_branches": False, "custom_branch_policies": True}
        return {**extra, "can_admins_bypass": False, "deployment_branch_policy": custom}

    return {
        "repository": cfg.github.repository,
        "environments": {
            names["feature"]: {
                "settings": settings(),
                "deployment_branches": [f"{branches.feature_prefix}**"],
            },
            names["build"]: {"settings": settings(), "deployment_branches": [branches.dev]},
            names["qa"]: {"settings": settings(), "deployment_branches": [branches.dev]},
            names["prod"]: {
                "settings": settings(
                    wait_timer=0,
                    prevent_self_review=True,
                    reviewers=[_reviewer(cfg.github.owner, *reviewer) for reviewer in reviewers],
                ),
                "deployment_branches": [branches.prod],
            },
            names["batch"]: {"settings": settings(), "deployment_branches": [branches.prod]},
        },
        "rulesets": branch_rulesets(cfg),
    }


def branch_rulesets(cfg: Config) -> dict[str, dict[str, Any]]:
    """The repository rulesets of the prod and dev branches, by their names (`<model> prod branch`,
    `<model> dev branch`), as the body of GitHub's create/update ruleset call.

    Both: no deletion, no force push, active, and no bypass actors. Prod also needs a pull request
    approved by someone other than its last pusher (code owners, stale approvals dismissed) and
    the `checks`, `compare` and `champion` jobs passing, so nobody can change `release.yml` or the
    lock on prod without review, nor merge a candidate that lost to the champion prod serves.
    Dev has no pull-request rule: the dev workflow's record-lock job pushes the lock commit there
    with GITHUB_TOKEN, and exempting GitHub Actions as a bypass actor would
    exempt every workflow a writer can add on any branch, from every rule of the ruleset.
    """
    model = cfg.project.model_name

    def ruleset(branch: str, *rules: dict[str, Any]) -> dict[str, Any]:
        return {
            "target": "branch",
            "enforcement": "active",
            "bypass_actors": [],
            "conditions": {"ref_name": {"include": [f"refs/heads/{branch}"], "exclude": []}},
            "rules": [{"type": "deletion"}, {"type": "non_fast_forward"}, *rules],
        }

    review = {
        "required_approving_review_count": 1,
        "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": True,
        "require_last_push_approval": True,
        "required_review_thread_resolution": False,
    }
    checks = {
        "strict_required_status_checks_policy": False,
        "required_status_checks": [{"context": name} for name in PROD_STATUS_CHECKS],
    }
    return {
        f"{model} prod branch": ruleset(
            cfg.branches.prod,
            {"type": "pull_request", "parameters": review},
            {"type": "required_status_checks", "parameters": checks},
        ),
        f"{model} dev branch": ruleset(cfg.branches.dev),
    }


def _reviewer(owner: str, kind: str, name: str, org: str | None = None) -> dict[str, str]:
    entry = {"type": kind.capitalize(), "login_or_slug": name}
    if kind == "team":
        entry["org"] = org or owner
    return entry


def gh_commands(manifest: dict[str, Any]) -> list[str]:
    """Shell lines that apply the manifest with the GitHub CLI (`gh api`).

    Reviewer IDs are looked up by name first; with no reviewer given, the prod command stops
    with a message until PROD_REVIEWER_TEAM_ID is set. They only add: GitHub answers an existing
    deployment branch rule with an error, and rules that should not be there stay.
    `<slug> infra github apply` makes the rules exactly these, and `verify` checks them.
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
                    f"orgs/{reviewer.get('org', owner)}/teams/{reviewer['login_or_slug']}"
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
