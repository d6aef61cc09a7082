"""The rulesets routes of the fake GitHub API (fake_github.py): `/repos/R/rulesets` (GET lists
summaries, POST creates) and `/repos/R/rulesets/ID` (GET, PUT, DELETE), kept by ID in
`FakeGitHub.rulesets` in the shape GitHub answers a single ruleset with. As on GitHub, a
ruleset's `bypass_actors` are returned only to the token that may edit it (`write_token`).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar


class GitHubFault(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class RulesetRoutes:
    """Mixed into FakeGitHub, which provides these attributes."""

    repository: str
    write_token: str
    rulesets: dict[int, dict[str, Any]]
    _ids: itertools.count[int]

    def ruleset(self, name: str) -> dict[str, Any]:
        """The stored ruleset called `name` (StopIteration when there is none)."""
        return next(r for r in self.rulesets.values() if r["name"] == name)

    RULE_TYPES: ClassVar[set[str]] = {
        "deletion",
        "non_fast_forward",
        "pull_request",
        "required_status_checks",
        "creation",
        "update",
    }

    def _checked_ruleset(self, body: Any, ident: int) -> dict[str, Any]:
        """The ruleset `body` describes, with GitHub's 422 for what GitHub refuses."""
        body = body or {}
        if not body.get("name") or body.get("enforcement") not in ("active", "disabled", "evaluate"):
            raise GitHubFault(422, "Invalid request: name and enforcement are required")
        if body.get("target", "branch") != "branch":
            raise GitHubFault(422, "Invalid target")
        if any(r["name"] == body["name"] and i != ident for i, r in self.rulesets.items()):
            raise GitHubFault(422, "Validation Failed: Name must be unique")
        for rule in body.get("rules", []):
            if rule.get("type") not in self.RULE_TYPES:
                raise GitHubFault(422, f"Invalid rule type {rule.get('type')!r}")
        return {
            "id": ident,
            "name": body["name"],
            "target": body.get("target", "branch"),
            "source_type": "Repository",
            "source": self.repository,
            "enforcement": body["enforcement"],
            "bypass_actors": list(body.get("bypass_actors", [])),
            "conditions": body.get("conditions") or {"ref_name": {"include": [], "exclude": []}},
            "rules": list(body.get("rules", [])),
        }

    def _ruleset_list(self, method: str, body: Any, query: dict[str, list[str]]) -> Any:
        if method == "POST":
            ruleset = self._checked_ruleset(body, next(self._ids))
            self.rulesets[ruleset["id"]] = ruleset
            return ruleset
        if method != "GET":
            raise GitHubFault(404, "Not Found")
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        keys = ("id", "name", "target", "source_type", "source", "enforcement")
        summaries = [{key: r[key] for key in keys} for r in self.rulesets.values()]
        return summaries[(page - 1) * per_page : page * per_page]

    def _ruleset(self, method: str, ident: int, body: Any, auth: str) -> Any:
        if ident not in self.rulesets:
            raise GitHubFault(404, "Not Found")
        if method == "PUT":
            self.rulesets[ident] = self._checked_ruleset({**self.rulesets[ident], **(body or {})}, ident)
        elif method == "DELETE":
            del self.rulesets[ident]
            return None
        elif method != "GET":
            raise GitHubFault(404, "Not Found")
        answer = dict(self.rulesets[ident])
        if auth != f"Bearer {self.write_token}":
            answer.pop("bypass_actors")
        return answer
