"""Attacks on champion/challenger, the shadow phase, monitoring, retraining and notifications,
each written as the outcome an attacker or a new user would get."""

from __future__ import annotations

import re
import socket
import threading

import pytest
import yaml

from deploy_helpers import ROOT, make_config, module

slack = module("notify.slack")

SECRET = "Zr8secretWEBHOOKtoken99"
WEBHOOK = f"https://hooks.slack.com/services/T0009/B0008/{SECRET}"


class RawServer:
    """A TCP server on 127.0.0.1 that reads one request and answers with the given raw bytes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(self.answer)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"garbage\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n", id="header-too-long"),
    ],
)
def test_a_server_that_does_not_speak_http_is_a_warning_not_a_crash(answer, monkeypatch):
    """A broken or hostile answer in place of Slack's is a SlackError without the URL (the notify
    step then warns and the job it reports on goes on), never an uncaught exception."""
    with RawServer(answer) as server:
        monkeypatch.setattr(
            slack, "_target", lambda url: url.replace("https://hooks.slack.com", server.url, 1)
        )
        with pytest.raises(slack.SlackError) as caught:
            slack.post(WEBHOOK, {"text": "released"}, timeout=5)
    assert SECRET not in str(caught.value) and "T0009/B0008" not in str(caught.value)


def test_docs_pass_options_to_make_targets_through_their_variables():
    """`make bootstrap --dry-run` is make's own dry run: it prints the recipe and lists no stack.
    Options reach the commands through BOOTSTRAP_ARGS, TEARDOWN_ARGS, LOCAL_ARGS and the like."""
    wrong = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in re.finditer(
                r"`make [a-z][a-z-]*(?: [A-Z_]+=(?:\"[^\"]*\"|'[^']*'|[^\s\"']+))* --[a-z-]+", line
            ):
                wrong.append(f"{path.name}:{number}: {match.group(0)}`")
            if re.search(r"`make teardown` with\s*$", line) or "`make teardown` with `--" in line:
                wrong.append(f"{path.name}:{number}: `make teardown` with an option")
    assert wrong == []


def _release_steps() -> list[dict]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    return workflow["jobs"]["release"]["steps"]


def _index(steps: list[dict], text: str) -> int:
    found = [i for i, step in enumerate(steps) if text in str(step.get("run", ""))]
    assert found, f"no release step runs {text!r}"
    return found[0]


def test_the_release_rechecks_the_champion_before_any_mutating_call():
    """The pull request's champion check ran when the pull request last changed; prod may have
    released another champion since (a shadow phase that ended, a release merged meanwhile: the
    required checks are not strict). The release of a dev-branch pull request runs the same
    check again, with the registry role, before it approves anything; a revert (no pull request,
    or one from another branch) is not held to it, as in the pull request."""
    steps = _release_steps()
    champion = _index(steps, "lock champion --env prod")
    assert champion < _index(steps, "registry approve")
    assert champion > _index(steps, "lock check --pr")
    dev = make_config().branches.dev
    condition = str(steps[champion].get("if", ""))
    assert f"fromJSON(steps.pr.outputs.result).head == '{dev}'" in condition.replace('"', "'")
