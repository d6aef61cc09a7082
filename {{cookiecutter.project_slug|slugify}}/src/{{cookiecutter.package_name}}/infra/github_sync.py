"""Apply the GitHub environments and branch rulesets of `github_manifest` through the REST API,
and verify them (the rulesets in github_rulesets.py).

`apply` makes GitHub match the manifest: an environment is PUT only when it is missing or one
of the manifest's settings differs, and its deployment branch policies become exactly the
manifest's (extra ones DELETEd first, then missing ones POSTed), so a second run changes
nothing. `verify` reads only (GET), so a read-only token will do, and returns one line per
difference. Settings the manifest does not name (e.g. reviewers of a non-prod environment) are
left alone and not reported: they can only make an environment stricter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from .errors import UsageError
from .github_api import GitHubApi, GitHubError
from .github_rulesets import apply_rulesets, verify_rulesets

# GitHub accepts at most six required reviewers per environment.
MAX_REVIEWERS = 6
WANTED_BRANCH_POLICY = {"protected_branches": False, "custom_branch_policies": True}


def check_manifest(manifest: dict[str, Any]) -> None:
    """UsageError when an environment with required reviewers has none or too many, or a team of
    another organisation (only the owner's teams can have access to the repository)."""
    owner = manifest["repository"].split("/")[0]
    for name, env in manifest["environments"].items():
        reviewers = env["settings"].get("reviewers")
        for reviewer in reviewers or []:
            org = reviewer.get("org", owner)
            if org.lower() != owner.lower():
                raise UsageError(
                    f"prod reviewer @{org}/{reviewer['login_or_slug']} is a team of {org!r}; expected a "
                    f"team of the repository owner (@{owner}/TEAM) or a user (github.prod_reviewers)"
                )
        if reviewers is not None and not reviewers:
            raise UsageError(
                f"environment {name!r} needs at least one required reviewer; set github.prod_reviewers "
                "in config/project.json or pass --prod-reviewer team:SLUG|user:LOGIN"
            )
        if reviewers and len(reviewers) > MAX_REVIEWERS:
            raise UsageError(
                f"environment {name!r} has {len(reviewers)} required reviewers; GitHub accepts at most "
                f"{MAX_REVIEWERS}"
            )


def _reviewer_name(kind: str, name: str) -> str:
    return f"{kind.lower()}:{name.lower()}"


def _current(env: dict[str, Any]) -> dict[str, Any]:
    """The manifest's settings as GitHub reports them for one environment (GET answer)."""
    rules = {rule.get("type"): rule for rule in env.get("protection_rules") or []}
    review = rules.get("required_reviewers") or {}
    reviewers = []
    for entry in review.get("reviewers") or []:
        who = entry.get("reviewer") or {}
        kind = str(entry.get("type", ""))
        reviewers.append(_reviewer_name(kind, str(who.get("slug" if kind == "Team" else "login", ""))))
    policy = env.get("deployment_branch_policy") or {}
    return {
        "wait_timer": (rules.get("wait_timer") or {}).get("wait_timer", 0),
        "prevent_self_review": bool(review.get("prevent_self_review", False)),
        "reviewers": sorted(reviewers),
        # GitHub's default is true; an answer without the field is treated as the default.
        "can_admins_bypass": bool(env.get("can_admins_bypass", True)),
        "deployment_branch_policy": {key: bool(policy.get(key)) for key in WANTED_BRANCH_POLICY}
        if policy
        else None,
    }


def _describe_branch_policy(value: dict[str, bool] | None) -> str:
    if not value:
        return "all branches"
    if value.get("custom_branch_policies"):
        return "selected branches"
    return "protected branches" if value.get("protected_branches") else "no branch"


def differences(settings: dict[str, Any], env: dict[str, Any]) -> list[str]:
    """One line per setting of the manifest that the environment (GET answer) does not have."""
    have = _current(env)
    lines = []
    for key, want in settings.items():
        if key == "reviewers":
            wanted = sorted(_reviewer_name(r["type"], r["login_or_slug"]) for r in want)
            if have["reviewers"] != wanted:
                lines.append(
                    f"required reviewers are {', '.join(have['reviewers']) or 'none'}; "
                    f"expected {', '.join(wanted)}"
                )
        elif key == "deployment_branch_policy":
            if have[key] != want:
                lines.append(
                    f"deployment branches are {_describe_branch_policy(have[key])}; expected selected "
                    "branches only (custom branch policies)"
                )
        elif have[key] != want:
            lines.append(f"{key} is {_show(have[key])}; expected {_show(want)}")
    return lines


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _policy_key(policy: dict[str, Any]) -> tuple[str, str]:
    return (str(policy.get("type") or "branch"), str(policy.get("name", "")))


def _policy_lines(have: list[dict[str, Any]], branches: list[str]) -> list[str]:
    keys = [_policy_key(policy) for policy in have]
    lines = [f"branch policy {name!r} missing" for name in branches if ("branch", name) not in keys]
    lines += [
        f"{kind} policy {name!r} is extra (not in the config)"
        for kind, name in keys
        if kind != "branch" or name not in branches
    ]
    return lines


def _paths(repository: str, name: str) -> tuple[str, str]:
    env = f"/repos/{repository}/environments/{quote(name, safe='')}"
    return env, f"{env}/deployment-branch-policies"


def _check_repository(api: GitHubApi, repository: str) -> None:
    if api.get(f"/repos/{repository}", missing_ok=True) is None:
        raise GitHubError(
            f"GitHub API GET /repos/{repository} failed: HTTP 404: the repository does not exist or the "
            "token cannot read it"
        )


def resolve_reviewers(api: GitHubApi, reviewers: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The PUT form of reviewers (`{"type", "id"}`), looked up by login or team slug."""
    resolved = []
    for reviewer in reviewers:
        kind, name, org = reviewer["type"], reviewer["login_or_slug"], reviewer.get("org", "")
        path = f"/orgs/{quote(org)}/teams/{quote(name)}" if kind == "Team" else f"/users/{quote(name)}"
        found = api.get(path, missing_ok=True)
        if found is None:
            what = f"team {name!r} in organization {org!r}" if kind == "Team" else f"user {name!r}"
            raise GitHubError(f"GitHub API GET {path} failed: HTTP 404: no {what} (prod reviewer)")
        resolved.append({"type": kind, "id": found["id"]})
    return resolved


def apply(api: GitHubApi, manifest: dict[str, Any], log: Callable[[str], None]) -> list[str]:
    """Make GitHub match the manifest; the changes made, one line each (none when it matched)."""
    check_manifest(manifest)
    repository = manifest["repository"]
    _check_repository(api, repository)
    # Every reviewer is resolved before the first change, so an unknown one changes nothing.
    ids = {
        name: resolve_reviewers(api, env["settings"]["reviewers"])
        for name, env in manifest["environments"].items()
        if "reviewers" in env["settings"]
    }
    changes: list[str] = []

    def change(line: str) -> None:
        changes.append(line)
        log(f"github: {line}")

    for name, env in manifest["environments"].items():
        env_path, policies_path = _paths(repository, name)
        current = api.get(env_path, missing_ok=True)
        diffs = ["environment missing"] if current is None else differences(env["settings"], current)
        if diffs:
            body = dict(env["settings"])
            if name in ids:
                body["reviewers"] = ids[name]
            api.request("PUT", env_path, body)
            change(f"{name}: environment updated ({'; '.join(diffs)})")
        wanted = env["deployment_branches"]
        have = api.get_all(policies_path, "branch_policies")
        for policy in have:
            kind, pattern = _policy_key(policy)
            if kind != "branch" or pattern not in wanted:
                api.request("DELETE", f"{policies_path}/{policy['id']}")
                change(f"{name}: {kind} policy {pattern!r} deleted")
        present = {_policy_key(policy) for policy in have}
        for pattern in wanted:
            if ("branch", pattern) not in present:
                api.request("POST", policies_path, {"name": pattern, "type": "branch"})
                change(f"{name}: branch policy {pattern!r} added")
    if manifest.get("rulesets"):
        apply_rulesets(api, manifest, change)
    return changes


def verify(
    api: GitHubApi, manifest: dict[str, Any], note: Callable[[str], None] = lambda line: None
) -> list[str]:
    """Every difference between GitHub and the manifest, one line each; GET requests only.
    `note` receives what the token could not read (a ruleset's bypass actors)."""
    check_manifest(manifest)
    repository = manifest["repository"]
    _check_repository(api, repository)
    drift = []
    for name, env in manifest["environments"].items():
        env_path, policies_path = _paths(repository, name)
        current = api.get(env_path, missing_ok=True)
        if current is None:
            drift.append(f"{name}: environment missing")
            continue
        drift += [f"{name}: {line}" for line in differences(env["settings"], current)]
        if (current.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
            have = api.get_all(policies_path, "branch_policies")
            drift += [f"{name}: {line}" for line in _policy_lines(have, env["deployment_branches"])]
    if manifest.get("rulesets"):
        drift += verify_rulesets(api, manifest, note)
    return drift
