"""Apply and verify the branch rulesets of `github_manifest` (`manifest["rulesets"]`).

A ruleset is found by its name among the repository's own rulesets (organisation rulesets are
not listed: `includes_parents=false`). `apply` POSTs a missing one and PUTs one that differs,
so a second run changes nothing. `verify` reads only and reports one line per difference:
missing ruleset, enforcement, target, a branch the conditions do not cover, a missing or weaker
rule, bypass actors. Rules and stricter parameters the manifest does not name are left alone.

GitHub returns a ruleset's `bypass_actors` only to a token that may edit the ruleset
(Administration: write); with a read-only token they cannot be checked, which `verify` says
in a note rather than as a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .github_api import GitHubApi


def _list_path(repository: str) -> str:
    return f"/repos/{repository}/rulesets"


def _own_rulesets(api: GitHubApi, repository: str) -> dict[str, Any]:
    """The repository's own rulesets (summaries) by name."""
    found = api.get_all(_list_path(repository), None, "includes_parents=false")
    return {item.get("name"): item for item in found if item.get("source_type", "Repository") == "Repository"}


def _actor(actor: dict[str, Any]) -> str:
    return f"{actor.get('actor_type')}:{actor.get('actor_id')} ({actor.get('bypass_mode', 'always')})"


def _weaker(key: str, want: Any, have: Any) -> str | None:
    """Why parameter `key` (`have`) is weaker than `want`, or None."""
    if key == "required_status_checks":
        contexts = {check.get("context") for check in have or []}
        missing = [check["context"] for check in want if check["context"] not in contexts]
        return f"required status checks lack {', '.join(map(repr, missing))}" if missing else None
    if isinstance(want, bool):
        return f"{key} is false; expected true" if want and not have else None
    if isinstance(want, int):
        weaker = not isinstance(have, int) or have < want
        return f"{key} is {have}; expected at least {want}" if weaker else None
    return None


def ruleset_differences(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """One line per way the ruleset `have` (GET answer) is weaker than `want`; `bypass_actors`
    are compared only when the answer has them."""
    lines = []
    for key in ("target", "enforcement"):
        if have.get(key) != want[key]:
            lines.append(f"{key} is {have.get(key)}; expected {want[key]}")
    ref_name = (have.get("conditions") or {}).get("ref_name") or {}
    for ref in want["conditions"]["ref_name"]["include"]:
        if ref not in (ref_name.get("include") or []) or ref in (ref_name.get("exclude") or []):
            lines.append(f"conditions do not cover {ref}")
    rules = {rule.get("type"): rule.get("parameters") or {} for rule in have.get("rules") or []}
    for rule in want["rules"]:
        if rule["type"] not in rules:
            lines.append(f"rule {rule['type']} missing")
            continue
        for key, value in (rule.get("parameters") or {}).items():
            reason = _weaker(key, value, rules[rule["type"]].get(key))
            if reason:
                lines.append(f"rule {rule['type']}: {reason}")
    if have.get("bypass_actors"):
        actors = ", ".join(_actor(actor) for actor in have["bypass_actors"])
        lines.append(f"bypass actors {actors}; expected none")
    return lines


def apply_rulesets(api: GitHubApi, manifest: dict[str, Any], change: Callable[[str], None]) -> None:
    """Create the missing rulesets and update the ones that differ (see the module docstring)."""
    repository = manifest["repository"]
    present = _own_rulesets(api, repository)
    for name, want in manifest["rulesets"].items():
        body = {"name": name, **want}
        if name not in present:
            api.request("POST", _list_path(repository), body)
            change(f"ruleset {name!r} created")
            continue
        path = f"{_list_path(repository)}/{present[name]['id']}"
        diffs = ruleset_differences(want, api.get(path) or {})
        if diffs:
            api.request("PUT", path, body)
            change(f"ruleset {name!r} updated ({'; '.join(diffs)})")


def verify_rulesets(api: GitHubApi, manifest: dict[str, Any], note: Callable[[str], None]) -> list[str]:
    """Every difference of the rulesets, one line each; GET requests only."""
    repository = manifest["repository"]
    present = _own_rulesets(api, repository)
    drift = []
    for name, want in manifest["rulesets"].items():
        if name not in present:
            drift.append(f"ruleset {name!r} missing")
            continue
        have = api.get(f"{_list_path(repository)}/{present[name]['id']}") or {}
        drift += [f"ruleset {name!r}: {line}" for line in ruleset_differences(want, have)]
        if "bypass_actors" not in have:
            note(
                f"ruleset {name!r}: this token cannot read the bypass actors (GitHub shows them to "
                "Administration: write only); not checked"
            )
    return drift
