"""What a notification says: the event, the model, the version, its metrics and the run's link.

`Message` is built from the files the workflow jobs already have (the lock file, an endpoint
test report, a pipeline log) plus `--metric` and `--detail`; `slack_payload` and `text` render it.
Every value is shown as data: Slack's mrkdwn control characters (`&`, `<`, `>`) are escaped, so a
branch name or log line cannot become a link or an @channel mention.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..promotion.lockfile import entries


@dataclass(frozen=True)
class Event:
    title: str
    # The workload environment whose `<model>-alerts` topic gets it, or None: no SNS (the job
    # holds no workload credentials, or the alarm itself already published there).
    sns_environment: str | None
    failure: bool


EVENTS: Mapping[str, Event] = {
    "gate-failed": Event("Training failed or the metric gate refused the model", None, True),
    "qa-failed": Event("QA endpoint tests failed; QA rolled back, the version rejected", "qa", True),
    "released": Event("Released to prod", "prod", False),
    "release-failed": Event("Release failed before the prod endpoint changed", "prod", True),
    "rolled-back": Event("Release failed; the prod endpoint was rolled back", "prod", True),
    "drift": Event("Drift alarm: retraining requested", None, True),
}
MAX_LOG_LINES = 20
MAX_LINE = 300
MAX_METRICS = 20
# The version of a segmented lock lists every segment (at most 20): a longer line than MAX_LINE,
# within Slack's 2,000-character limit of a section field.
MAX_VERSION = 1500


class NotifyInputError(ValueError):
    """An argument `notify` cannot use (exit status 2)."""


@dataclass
class Message:
    event: str
    model: str
    version: str = "unknown"
    metrics: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    run_url: str = ""
    notes: list[str] = field(default_factory=list)  # what could not be read (printed as warnings)

    @property
    def title(self) -> str:
        return EVENTS[self.event].title

    def text(self) -> str:
        """Plain text (SNS e-mail and SMS subscribers, the job log)."""
        lines = [f"{self.model}: {self.title}", f"version: {self.version}"]
        lines += [f"{name}: {value}" for name, value in self.metrics.items()]
        lines += self.details
        lines.append(f"run: {self.run_url or 'not run in GitHub Actions'}")
        return "\n".join(lines)

    def subject(self) -> str:
        """An SNS subject: ASCII, one line, at most 100 characters."""
        text = f"{self.model}: {self.title}".encode("ascii", "replace").decode()
        return " ".join(text.split())[:100]

    def slack_payload(self) -> dict[str, Any]:
        icon = ":red_circle:" if EVENTS[self.event].failure else ":large_green_circle:"
        fields = [f"*Model*\n{escape(self.model)}", f"*Version*\n{escape(self.version)}"]
        if self.metrics:
            fields.append(
                "*Metrics*\n" + "\n".join(f"{escape(k)}: {escape(v)}" for k, v in self.metrics.items())
            )
        link = f"<{self.run_url}|{escape(self.run_url)}>" if self.run_url else "not run in GitHub Actions"
        fields.append(f"*Run*\n{link}")
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{escape(self.title)}*"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        ]
        if self.details:
            quoted = "\n".join(escape(line) for line in self.details)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{quoted}```"}})
        return {"text": escape(f"{self.model}: {self.title} (version {self.version})"), "blocks": blocks}


def escape(text: object) -> str:
    """Slack mrkdwn text: & < > escaped as Slack asks, so no value becomes markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_url(environ: Mapping[str, str] | None = None) -> str:
    """The GitHub Actions run this step belongs to, or "" outside GitHub Actions."""
    env = os.environ if environ is None else environ
    parts = [env.get(key, "").strip() for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if not all(parts) or not parts[0].startswith(("https://", "http://")) or not parts[2].isdigit():
        return ""
    return f"{parts[0].rstrip('/')}/{parts[1]}/actions/runs/{parts[2]}"


def build(
    cfg: Config,
    event: str,
    *,
    version: str = "",
    lock: Path | None = None,
    report: Path | None = None,
    log: Path | None = None,
    log_lines: int = 5,
    metrics: Sequence[str] = (),
    details: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Message:
    """The message for `event`; files that are missing or unreadable become notes, not errors
    (a failure notice must still go out when the failed step wrote nothing)."""
    if event not in EVENTS:
        raise NotifyInputError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
    message = Message(event=event, model=cfg.project.model_name, run_url=run_url(environ))
    if lock is not None:
        data = _read_json(lock, message)
        if isinstance(data, dict):
            message.version = _version_of(data)
            message.metrics.update(_metrics_of(data))
    if version:
        message.version = _one_line(version)
    for item in metrics:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise NotifyInputError(f"--metric {item!r} is not NAME=VALUE")
        message.metrics[_one_line(name)] = _one_line(value)
    message.metrics = dict(list(message.metrics.items())[:MAX_METRICS])
    if report is not None:
        data = _read_json(report, message)
        if isinstance(data, dict):
            message.details.append(_report_line(data))
    message.details += [_one_line(d) for d in details if d.strip()]
    if log is not None:
        message.details += _log_tail(log, log_lines, message)
    return message


def _read_json(path: Path, message: Message) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        message.notes.append(f"{path} does not exist; sent without it")
    except (OSError, ValueError) as exc:
        message.notes.append(f"{path} is not readable JSON ({type(exc).__name__}); sent without it")
    return None


def _segments(lock: Mapping[str, Any]) -> dict[str, Mapping[str, Any]] | None:
    """A segmented lock's entries by segment, or None for a single-version lock."""
    if not isinstance(lock.get("segments"), Mapping):
        return None
    return {str(s): e for s, e in entries(dict(lock)).items() if isinstance(e, Mapping)}


def _version_of(lock: Mapping[str, Any]) -> str:
    """`3 (arn)` for one version; for a set each segment's version, `north: 3, south: 4 of
    <the group's package ARN prefix>` (each full ARN when they do not share the group)."""
    segments = _segments(lock)
    if segments is None:
        arn = str(lock.get("model_package_arn") or "")
        number = lock.get("version")
        if arn and number is not None:
            return _one_line(f"{number} ({arn})")
        return _one_line(arn or str(number or "unknown"))
    if not segments:
        return "unknown"
    arns = [str(entry.get("model_package_arn") or "") for entry in segments.values()]
    groups = {arn.rpartition("/")[0] for arn in arns}
    numbers = [entry.get("version") for entry in segments.values()]
    if len(groups) == 1 and all(groups) and None not in numbers:
        listed = ", ".join(f"{segment}: {number}" for segment, number in zip(segments, numbers, strict=True))
        text = f"{listed} of {groups.pop()}"
    else:
        text = ", ".join(
            f"{segment}: {arn or 'unknown'}" for segment, arn in zip(segments, arns, strict=True)
        )
    line = " ".join(text.split())
    return line if len(line) <= MAX_VERSION else line[: MAX_VERSION - 3] + "..."


def _metrics_of(lock: Mapping[str, Any]) -> dict[str, str]:
    """The lock's metrics; a set's as `<segment> <metric>`."""
    segments = _segments(lock)
    parts = {None: lock} if segments is None else segments
    found = {}
    for segment, entry in parts.items():
        metrics = entry.get("metrics")
        for name, value in (metrics if isinstance(metrics, Mapping) else {}).items():
            found[_one_line(f"{segment} {name}" if segment else str(name))] = _number(value)
    return found


def _report_line(report: Mapping[str, Any]) -> str:
    checks = [c for c in report.get("checks") or [] if isinstance(c, Mapping)]
    failed = [str(c.get("name")) for c in checks if not c.get("passed")]
    verdict = "passed" if report.get("passed") else "FAILED"
    line = f"endpoint tests {verdict}: {len(checks) - len(failed)} of {len(checks)} checks passed"
    return _one_line(line + (f"; failed: {', '.join(failed)}" if failed else ""))


def _log_tail(path: Path, count: int, message: Message) -> list[str]:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        message.notes.append(f"{path} does not exist; sent without its log lines")
        return []
    return [_one_line(line) for line in lines[-min(count, MAX_LOG_LINES) :]] if count else []


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _one_line(str(value))


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."
