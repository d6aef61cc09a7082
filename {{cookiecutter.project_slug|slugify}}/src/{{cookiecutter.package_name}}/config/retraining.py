"""The `retraining` and `notifications` sections of config/project.json.

    "retraining": {"schedule": "0 6 * * 1", "on_new_data": false, "on_drift": false},
    "notifications": {"sns": true}

- `retraining.schedule`: when .github/workflows/retrain.yml retrains on its own, in GitHub's cron
  syntax (five fields, UTC: minute hour day-of-month month day-of-week; `*`, lists `a,b`, ranges
  `a-b` and steps `/n`; month and weekday names such as JAN or MON). `""` turns scheduled
  retraining off (a scheduled run then does nothing). The workflow file carries the same cron
  (GitHub reads triggers from the file only); a test keeps the two equal and the workflow checks
  at run time that the schedule that fired is the configured one.
- `retraining.on_new_data` / `on_drift`: whether a `new-data` or `drift` repository_dispatch event
  (docs/retraining.md says how to send one) starts a retraining; either off makes such an event
  a one-line no-op.
- `notifications.sns`: whether `notify` also publishes to the `<model>-alerts` topic in the
  workload account. The Slack incoming webhook is never config: it is the GitHub secret
  SLACK_WEBHOOK_URL.

Both sections are optional (the defaults above apply); unknown keys are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .fields import ConfigError, _Section, _show

DEFAULT_SCHEDULE = "0 6 * * 1"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (field name, lowest, highest, names standing for lowest, lowest + 1, ...)
CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 6, WEEKDAYS),
)
# GitHub's shortest interval between two runs of a scheduled workflow.
MIN_INTERVAL_MINUTES = 5
_STEP = re.compile(r"^(?P<base>[^/]+)(?:/(?P<step>\d+))?$")


@dataclass(frozen=True)
class Retraining:
    schedule: str = DEFAULT_SCHEDULE
    on_new_data: bool = False
    on_drift: bool = False


@dataclass(frozen=True)
class Notifications:
    sns: bool = True


def cron_problem(expression: str) -> str:
    """What is wrong with a GitHub Actions cron expression, or "" when it is valid."""
    parts = expression.split(" ")
    if len(parts) != 5 or any(not part for part in parts):
        return f"it has {len(expression.split())} fields, not five separated by single spaces"
    for part, (name, low, high, words) in zip(parts, CRON_FIELDS, strict=True):
        for item in part.split(","):
            problem = _item_problem(item, low, high, words)
            if problem:
                return f"{name} field {item!r}: {problem}"
    gap = _shortest_gap(parts[0])
    if gap < MIN_INTERVAL_MINUTES:
        return (
            f"minute field {parts[0]!r} runs {gap} minute(s) apart; GitHub runs a schedule at most "
            f"every {MIN_INTERVAL_MINUTES} minutes"
        )
    return ""


def _shortest_gap(field: str) -> int:
    """The fewest minutes between two runs the (valid) minute field allows within an hour."""
    minutes: set[int] = set()
    for item in field.split(","):
        base, _, step = item.partition("/")
        first, _, last = base.partition("-")
        start = 0 if base == "*" else int(first)
        end = 59 if base == "*" or (step and not last) else int(last or first)
        minutes.update(range(start, end + 1, int(step or 1)))
    ordered = sorted(minutes)
    return min((b - a for a, b in zip(ordered, [*ordered[1:], ordered[0] + 60], strict=True)), default=60)


def _item_problem(item: str, low: int, high: int, words: tuple[str, ...]) -> str:
    match = _STEP.match(item)
    if not match:
        return "not a value, range or step"
    base, step = match["base"], match["step"]
    if step is not None and not 1 <= int(step) <= high - low + 1:
        return f"step {step} must be from 1 to {high - low + 1}"
    if base == "*":
        return ""
    bounds = base.split("-")
    if len(bounds) > 2:
        return "a range has two ends"
    values = []
    for bound in bounds:
        value = _value(bound, low, words)
        if value is None or not low <= value <= high:
            named = f" or {words[0]}-{words[-1]}" if words else ""
            return f"{bound!r} is not from {low} to {high}{named}"
        values.append(value)
    if len(values) == 2 and values[0] > values[1]:
        return "a range must go upwards"
    return ""


def _value(text: str, low: int, words: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    if text.upper() in words:
        return low + words.index(text.upper())
    return None


def parse_retraining(s: _Section) -> Retraining:
    schedule = s.text("schedule", default=DEFAULT_SCHEDULE)
    problem = cron_problem(schedule) if schedule else ""
    if problem:
        raise ConfigError(
            f"{s.where('schedule')} is {_show(schedule)}: {problem}; expected a GitHub Actions cron "
            'expression (minute hour day-of-month month day-of-week, UTC) such as "0 6 * * 1", '
            'or "" for no scheduled retraining'
        )
    retraining = Retraining(
        schedule=schedule,
        on_new_data=s.flag("on_new_data", False),
        on_drift=s.flag("on_drift", False),
    )
    s.done()
    return retraining


def parse_notifications(s: _Section) -> Notifications:
    if "slack_webhook_url" in s.data or "webhook" in s.data:
        key = "slack_webhook_url" if "slack_webhook_url" in s.data else "webhook"
        raise ConfigError(
            f"{s.where(key)} must not be in the config (a webhook URL is a secret); "
            "expected it as the GitHub secret SLACK_WEBHOOK_URL"
        )
    notifications = Notifications(sns=s.flag("sns", True))
    s.done()
    return notifications
