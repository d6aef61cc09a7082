"""Posting a message to a Slack incoming webhook (standard library only).

The webhook URL is a secret (whoever holds it can post to the channel): it comes from the
environment variable SLACK_WEBHOOK_URL (a GitHub secret), is checked to be
`https://hooks.slack.com/...`, and is never printed: not in output, warnings or errors, whatever
fails. Redirects are not followed (a redirect would carry the message elsewhere); every post has
a timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
SLACK_HOST = "hooks.slack.com"
WEBHOOK_PATHS = ("/services/", "/workflows/", "/triggers/")
EXPECTED = f"https://{SLACK_HOST}/services/... (a Slack incoming webhook URL)"


class SlackError(RuntimeError):
    """The post failed; the message never contains the webhook URL."""


def webhook_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The webhook URL, or "" when SLACK_WEBHOOK_URL is unset or empty."""
    env = os.environ if environ is None else environ
    return env.get(WEBHOOK_ENV, "").strip()


def webhook_problem(url: str) -> str:
    """Why `url` is not a Slack incoming webhook URL ("" when it is). Never quotes the URL."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "it contains spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "it is not a URL"
    if parts.scheme != "https":
        return "it is not https"
    if parts.hostname != SLACK_HOST or parts.username or parts.password or port not in (None, 443):
        return f"its host is not {SLACK_HOST}"
    if not parts.path.startswith(WEBHOOK_PATHS) or parts.query or parts.fragment:
        return "its path is not a webhook's (/services/...)"
    return ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


def _target(url: str) -> str:
    """Where the request goes: the webhook itself (tests point this at 127.0.0.1)."""
    return url


def post(url: str, payload: Mapping[str, Any], timeout: float) -> None:
    """POST `payload` as JSON to the (checked) webhook; SlackError on anything but a 2xx answer."""
    problem = webhook_problem(url)
    if problem:
        raise SlackError(f"{WEBHOOK_ENV} is not usable: {problem}; expected {EXPECTED}")
    data = json.dumps(payload).encode()
    # webhook_problem admitted https://hooks.slack.com only.
    request = urllib.request.Request(_target(url), data=data, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json; charset=utf-8")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise SlackError(f"Slack answered HTTP {exc.code}{_body(exc, url)}") from None
    except TimeoutError:
        raise SlackError(f"Slack did not answer within {timeout:g} s") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SlackError(
            f"could not reach Slack: {_scrub(type(reason).__name__ + ': ' + str(reason), url)}"
        ) from None
    except http.client.HTTPException as exc:  # an answer that is not HTTP (bad status line, huge header)
        raise SlackError(
            f"Slack's answer was not HTTP: {_scrub(type(exc).__name__ + ': ' + str(exc), url)}"
        ) from None


def _body(exc: urllib.error.HTTPError, url: str) -> str:
    if 300 <= exc.code < 400:
        return " (a redirect, not followed)"
    try:
        text = exc.read(200).decode("utf-8", "replace")
    except OSError:
        text = ""
    text = _scrub(text, url)
    return f": {text}" if text else ""


def _scrub(text: str, url: str) -> str:
    """One line without the webhook URL or its path (in case a server or error echoes them)."""
    path = urllib.parse.urlsplit(url).path if url else ""
    for secret in (url, path, *[p for p in path.split("/") if len(p) >= 8]):
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:200]
