"""A fake of the GitHub REST API calls `infra github apply|verify` make, served on 127.0.0.1.

It keeps state (one repository's environments and deployment branch policies, its rulesets,
users and teams to resolve reviewers) so an apply followed by a verify round-trips, answers in GitHub's shapes
(an environment's settings come back as `protection_rules`, reviewers as objects with `login` or
`slug`, lists paginated with `per_page`/`page`), and records every request: method, path, query,
JSON body, Authorization header and the Accept / X-GitHub-Api-Version headers.

Rulesets (`/repos/R/rulesets`, `/repos/R/rulesets/ID`) are served by fake_github_rulesets.py.

Tokens: `write_token` may do everything, `read_token` only GET (GitHub's 403 otherwise); any
other Authorization is GitHub's 401. `fail(method, path, status, message)` makes one route answer
an error; `redirect(path, location)` answers a 301 (as GitHub does for a renamed repository).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fake_github_rulesets import GitHubFault, RulesetRoutes

API_VERSION = "2022-11-28"


@dataclass
class Request:
    method: str
    path: str
    query: str
    body: Any
    auth: str
    accept: str
    api_version: str


@dataclass
class FakeGitHub(RulesetRoutes):
    repository: str
    write_token: str
    read_token: str = "read-only-token"
    users: dict[str, int] = field(default_factory=dict)
    teams: dict[tuple[str, str], int] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rulesets: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- setup ---------------------------------------------------------------------------

    def add_user(self, login: str) -> int:
        self.users[login.lower()] = next(self._ids)
        return self.users[login.lower()]

    def add_team(self, org: str, slug: str) -> int:
        self.teams[(org.lower(), slug.lower())] = next(self._ids)
        return self.teams[(org.lower(), slug.lower())]

    def fail(self, method: str, path: str, status: int, message: str) -> None:
        self.failures[(method, path)] = (status, message)

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def add_policy(self, env: str, name: str, kind: str = "branch") -> None:
        self.policies.setdefault(env, []).append({"id": next(self._ids), "name": name, "type": kind})

    def mutating(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                fake._serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: stop() returns within 0.02 s, not serve_forever's default 0.5 s.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # --- HTTP ----------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        method, path = handler.command, unquote(parts.path)
        request = Request(
            method,
            path,
            parts.query,
            body,
            handler.headers.get("Authorization", ""),
            handler.headers.get("Accept", ""),
            handler.headers.get("X-GitHub-Api-Version", ""),
        )
        with self._lock:
            self.requests.append(request)
            try:
                payload, headers = self._route(request, parse_qs(parts.query)), {}
                status = 204 if method == "DELETE" else 200
            except GitHubFault as fault:
                status, headers = fault.status, fault.headers
                payload = {"message": fault.message, "documentation_url": "https://docs.github.com/rest"}
        data = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, request: Request, query: dict[str, list[str]]) -> Any:
        method, path = request.method, request.path
        if request.api_version != API_VERSION or request.accept != "application/vnd.github+json":
            raise GitHubFault(400, "missing or wrong Accept / X-GitHub-Api-Version header")
        if request.auth not in (f"Bearer {self.write_token}", f"Bearer {self.read_token}"):
            raise GitHubFault(401, "Bad credentials")
        if path in self.redirects:
            raise GitHubFault(301, "Moved Permanently", {"Location": self.redirects[path]})
        if (method, path) in self.failures:
            raise GitHubFault(*self.failures[(method, path)])
        if method != "GET" and request.auth != f"Bearer {self.write_token}":
            raise GitHubFault(403, "Resource not accessible by personal access token")
        repo = re.escape(self.repository)
        if method == "GET" and path == f"/repos/{self.repository}":
            return {"id": 4711, "full_name": self.repository}
        if match := re.fullmatch(r"/users/([^/]+)", path):
            return self._found(self.users.get(match[1].lower()), login=match[1])
        if match := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)", path):
            return self._found(self.teams.get((match[1].lower(), match[2].lower())), slug=match[2])
        if match := re.fullmatch(rf"/repos/{repo}/environments/([^/]+)", path):
            return self._environment(method, match[1], request.body)
        if match := re.fullmatch(rf"/repos/{repo}/environments/([^/]+)/deployment-branch-policies", path):
            return self._policies(method, match[1], request.body, query)
        if path == f"/repos/{self.repository}/rulesets":
            return self._ruleset_list(method, request.body, query)
        if match := re.fullmatch(rf"/repos/{repo}/rulesets/(\d+)", path):
            return self._ruleset(method, int(match[1]), request.body, request.auth)
        if method == "DELETE" and (
            match := re.fullmatch(
                rf"/repos/{repo}/environments/([^/]+)/deployment-branch-policies/(\d+)", path
            )
        ):
            kept = [p for p in self.policies.get(match[1], []) if p["id"] != int(match[2])]
            if len(kept) == len(self.policies.get(match[1], [])):
                raise GitHubFault(404, "Not Found")
            self.policies[match[1]] = kept
            return None
        raise GitHubFault(404, "Not Found")

    @staticmethod
    def _found(ident: int | None, **fields: str) -> dict[str, Any]:
        if ident is None:
            raise GitHubFault(404, "Not Found")
        return {"id": ident, **fields}

    def _environment(self, method: str, name: str, body: Any) -> Any:
        env = self.environments.get(name)
        if method == "GET":
            if env is None:
                raise GitHubFault(404, "Not Found")
            return self.render(name)
        if method != "PUT":
            raise GitHubFault(404, "Not Found")
        body = body or {}
        env = env or {
            "id": next(self._ids),
            "wait_timer": 0,
            "prevent_self_review": False,
            "reviewers": [],
            "can_admins_bypass": True,
            "deployment_branch_policy": None,
        }
        policy = body.get("deployment_branch_policy", env["deployment_branch_policy"])
        if policy and policy.get("protected_branches") == policy.get("custom_branch_policies"):
            raise GitHubFault(422, "protected_branches and custom_branch_policies cannot both be set")
        reviewers = []
        for reviewer in body.get("reviewers", env["reviewers"]) or []:
            if not self._reviewer_object(reviewer):
                raise GitHubFault(422, f"reviewer {reviewer} not found")
            reviewers.append({"type": reviewer["type"], "id": reviewer["id"]})
        env.update(
            {
                key: body[key]
                for key in ("wait_timer", "prevent_self_review", "can_admins_bypass")
                if key in body
            }
        )
        env.update(reviewers=reviewers, deployment_branch_policy=policy)
        if not (policy or {}).get("custom_branch_policies"):
            self.policies.pop(name, None)
        self.environments[name] = env
        return self.render(name)

    def _reviewer_object(self, reviewer: dict[str, Any]) -> dict[str, Any] | None:
        table = self.users if reviewer.get("type") == "User" else self.teams
        key = "login" if reviewer.get("type") == "User" else "slug"
        for name, ident in table.items():
            if ident == reviewer.get("id"):
                return {"id": ident, key: name[1] if isinstance(name, tuple) else name}
        return None

    def render(self, name: str) -> dict[str, Any]:
        """An environment as GitHub's GET answers it."""
        env = self.environments[name]
        rules: list[dict[str, Any]] = []
        if env["wait_timer"]:
            rules.append({"id": 1, "type": "wait_timer", "wait_timer": env["wait_timer"]})
        if env["reviewers"]:
            rules.append(
                {
                    "id": 2,
                    "type": "required_reviewers",
                    "prevent_self_review": env["prevent_self_review"],
                    "reviewers": [
                        {"type": r["type"], "reviewer": self._reviewer_object(r)} for r in env["reviewers"]
                    ],
                }
            )
        if (env["deployment_branch_policy"] or {}).get("custom_branch_policies"):
            rules.append({"id": 3, "type": "branch_policy"})
        return {
            "id": env["id"],
            "name": name,
            "can_admins_bypass": env["can_admins_bypass"],
            "protection_rules": rules,
            "deployment_branch_policy": env["deployment_branch_policy"],
        }

    def _policies(self, method: str, name: str, body: Any, query: dict[str, list[str]]) -> Any:
        env = self.environments.get(name)
        if env is None or not (env["deployment_branch_policy"] or {}).get("custom_branch_policies"):
            raise GitHubFault(404, "Not Found")
        policies = self.policies.setdefault(name, [])
        if method == "GET":
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            return {
                "total_count": len(policies),
                "branch_policies": policies[(page - 1) * per_page : page * per_page],
            }
        if method != "POST" or not (body or {}).get("name"):
            raise GitHubFault(422, "name is required")
        kind = body.get("type", "branch")
        if any(p["name"] == body["name"] and p["type"] == kind for p in policies):
            raise GitHubFault(303, "See Other", {"Location": "/existing"})
        self.add_policy(name, body["name"], kind)
        return policies[-1]
