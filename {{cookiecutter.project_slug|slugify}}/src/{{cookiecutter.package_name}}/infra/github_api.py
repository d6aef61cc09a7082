"""A small client for GitHub's REST API (standard library only: the deploy jobs have boto3 and
nothing else installed).

- The token comes from an environment variable the caller names (`token_from_env`); it is sent
  as `Authorization: Bearer ...` and never printed, logged or put in an error message.
- The base URL is configurable (GitHub Enterprise, or a local fake in the tests). It must be
  https, except plain http to this machine (127.0.0.1, ::1, localhost).
- Redirects are not followed (a redirect could carry the token to another host); GitHub answers
  a renamed repository with one, which is reported as an error naming the new location.
- Every failure is one `GitHubError` line naming the call, the HTTP status and GitHub's message.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import UsageError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
API_VERSION = "2022-11-28"
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}
PER_PAGE = 100
MAX_PAGES = 50


class GitHubError(RuntimeError):
    """A GitHub API call failed; one line naming the call, the HTTP status and GitHub's message."""


def token_from_env(name: str) -> str:
    """The token held by environment variable `name`; UsageError (before any request) when unset."""
    token = os.environ.get(name, "").strip()
    if not token:
        raise UsageError(
            f"environment variable {name} is not set or empty; expected a GitHub token "
            "(see docs/github.md for the permissions it needs)"
        )
    return token


def check_api_url(url: str) -> str:
    """`url` without a trailing slash; UsageError unless https, or http to this machine."""
    parts = urllib.parse.urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or local) or parts.query or parts.fragment:
        raise UsageError(
            f"--api-url {url!r} is not a GitHub API URL; expected https://HOST[/PATH] "
            "(plain http only to 127.0.0.1 or localhost)"
        )
    return url.rstrip("/")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


class GitHubApi:
    """GET/PUT/POST/DELETE on GitHub's REST API with JSON bodies; see the module docstring."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, timeout: float = 30.0) -> None:
        self._token = token
        self.api_url = check_api_url(api_url)
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return f"GitHubApi({self.api_url!r})"

    def request(self, method: str, path: str, body: Any = None, missing_ok: bool = False) -> Any:
        """The decoded JSON answer (None for an empty one, or for a 404 when `missing_ok`)."""
        call = f"{method} {path}"
        data = None if body is None else json.dumps(body).encode()
        # check_api_url admitted https, or http to this machine, only.
        req = urllib.request.Request(self.api_url + path, data=data, method=method)  # noqa: S310
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", API_VERSION)
        req.add_unredirected_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(req, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            raise GitHubError(f"GitHub API {call} failed: HTTP {exc.code}: {self._message(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"GitHub API {call} failed: {self._clean(str(reason))}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise GitHubError(f"GitHub API {call} answered with something that is not JSON") from None

    def get(self, path: str, missing_ok: bool = False) -> Any:
        return self.request("GET", path, missing_ok=missing_ok)

    def get_all(self, path: str, key: str | None, query: str = "") -> list[Any]:
        """Every item of a paginated list answer (`{key: [...]}`, or a bare list when `key` is
        None), 100 per page; `query` (`name=value&...`) is sent before the paging parameters."""
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            answer = self.get(f"{path}?{query + '&' if query else ''}per_page={PER_PAGE}&page={page}")
            batch = (answer or []) if key is None else (answer or {}).get(key, [])
            items += batch
            if len(batch) < PER_PAGE:
                return items
        raise GitHubError(f"GitHub API GET {path} lists more than {PER_PAGE * MAX_PAGES} items")

    def _message(self, exc: urllib.error.HTTPError) -> str:
        try:
            text = exc.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        try:
            message = str(json.loads(text).get("message", "")) if text else ""
        except (ValueError, AttributeError):
            message = text[:200]
        if 300 <= exc.code < 400:
            message = f"redirected to {exc.headers.get('Location', '?')} (not followed)"
        return self._clean(message or exc.reason or "no message")

    def _clean(self, text: str) -> str:
        """One line, without the token (in case the server echoes it)."""
        return " ".join(str(text).replace(self._token, "***").split())
