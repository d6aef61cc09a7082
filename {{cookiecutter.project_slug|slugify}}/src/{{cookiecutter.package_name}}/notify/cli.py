"""`notify EVENT`: tell people about a gate failure, a QA failure, a release or a drift alarm.

    python -m <package> notify EVENT [--version TEXT] [--lock PATH] [--report PATH] [--log PATH]
        [--log-lines N] [--metric NAME=VALUE ...] [--detail TEXT ...] [--env qa|prod]
        [--timeout SECONDS] [--strict]

EVENT: gate-failed, qa-failed, released, release-failed, rolled-back, drift. The message names
the model, the version (`--version`, or the lock file's), its metrics (the lock file's, plus
`--metric`), the endpoint test result (`--report`), the last lines of a log (`--log`),
`--detail` lines and the run's link (GITHUB_SERVER_URL/GITHUB_REPOSITORY/GITHUB_RUN_ID).

Where it goes:
- Slack, when the environment variable SLACK_WEBHOOK_URL is set (a GitHub secret, never config).
  Unset: one line says Slack is skipped. The URL must be https://hooks.slack.com/...; it is
  never printed.
- SNS, when `notifications.sns` is true and the event concerns a workload environment (qa-failed:
  qa; released, release-failed, rolled-back: prod; `--env` overrides): the `<model>-alerts`
  topic of that environment's account, with the credentials the step holds. gate-failed runs in
  the data-science account and drift was published by its alarm, so neither goes to SNS unless
  `--env` names one.

A post or publish that fails is a `warning:` line and exit status 0: a notice must never fail
the job it reports on. `--strict` makes it exit 1 (and an unusable webhook URL 2). Usage errors
exit 2. Missing --lock/--report/--log files are noted and the message goes out without them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, add_timeout, fail, positive_int, prog
from ..config import ENVIRONMENTS, ConfigError, load_config
from . import slack, sns
from .message import EVENTS, NotifyInputError, build

DEFAULT_TIMEOUT = 10.0


def parse_args(argv: Sequence[str]) -> Any:
    parser = Parser(prog=prog("notify"), description=__doc__.splitlines()[0])
    parser.add_argument("event", choices=tuple(EVENTS), help="what happened")
    parser.add_argument("--version", default="", help="the model version (default: the lock file's)")
    parser.add_argument("--lock", type=Path, metavar="PATH", help="a lock file: version and metrics")
    parser.add_argument("--report", type=Path, metavar="PATH", help="an endpoint test report (JSON)")
    parser.add_argument("--log", type=Path, metavar="PATH", help="a log whose last lines are quoted")
    parser.add_argument(
        "--log-lines", type=positive_int, default=5, metavar="N", help="log lines quoted (default 5)"
    )
    parser.add_argument("--metric", action="append", default=[], metavar="NAME=VALUE", help="a metric")
    parser.add_argument("--detail", action="append", default=[], metavar="TEXT", help="a line of detail")
    parser.add_argument("--env", choices=ENVIRONMENTS, help="whose alerts topic (default: by event)")
    add_timeout(parser, DEFAULT_TIMEOUT, "each post")
    parser.add_argument("--strict", action="store_true", help="a failed post fails the command")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cfg = load_config()
        message = build(
            cfg,
            args.event,
            version=args.version,
            lock=args.lock,
            report=args.report,
            log=args.log,
            log_lines=args.log_lines,
            metrics=args.metric,
            details=args.detail,
        )
    except (ConfigError, NotifyInputError) as exc:
        return fail(exc, EXIT_USAGE)
    for note in message.notes:
        _warn(note)
    print(message.text())
    status = _to_slack(message, args)
    env = args.env or EVENTS[args.event].sns_environment
    if not cfg.notifications.sns:
        print("notify: SNS skipped (notifications.sns is false)")
    elif env is None:
        print(f"notify: SNS skipped ({args.event} concerns no workload environment; --env names one)")
    else:
        try:
            message_id = sns.publish(cfg, env, message.subject(), message.text(), session=session)
            print(f"notify: published to {sns.topic_arn(cfg, env)} (message {message_id})")
        except sns.SnsError as exc:
            status = max(status, _failed(str(exc), args.strict))
    return status


def _to_slack(message: Any, args: Any) -> int:
    url = slack.webhook_from_env()
    if not url:
        print(f"notify: Slack skipped ({slack.WEBHOOK_ENV} is not set)")
        return EXIT_OK
    problem = slack.webhook_problem(url)
    if problem:
        text = f"{slack.WEBHOOK_ENV} is not usable: {problem}; expected {slack.EXPECTED}"
        if args.strict:
            return fail(text, EXIT_USAGE)
        _warn(text + "; Slack skipped")
        return EXIT_OK
    try:
        slack.post(url, message.slack_payload(), timeout=args.timeout)
    except slack.SlackError as exc:
        return _failed(f"Slack post failed: {exc}", args.strict)
    print("notify: posted to Slack")
    return EXIT_OK


def _failed(text: str, strict: bool) -> int:
    if strict:
        return fail(text, EXIT_FAILED)
    _warn(text)
    return EXIT_OK


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)
