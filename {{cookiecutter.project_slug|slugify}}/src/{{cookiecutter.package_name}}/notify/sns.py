"""Publishing a message to the `<model>-alerts` SNS topic of a workload account.

The topic is the one the monitoring alarms publish to (infra/workload.yaml); its name is derived
in config/names.py (`Names.alerts_topic`). The caller's credentials must be that account's (the
workflows publish from the steps that hold the environment's deploy role). boto3 is imported on
call: the Slack-only path needs nothing but the standard library.
"""

from __future__ import annotations

from typing import Any

from ..config import Config


class SnsError(RuntimeError):
    """The publish failed; one line naming the topic and AWS's error."""


def topic_arn(cfg: Config, env: str) -> str:
    account = cfg.environment(env).account
    return f"arn:aws:sns:{cfg.region}:{account}:{cfg.names.alerts_topic}"


def publish(cfg: Config, env: str, subject: str, text: str, session: Any = None) -> str:
    """Publish to `env`'s alerts topic; returns the SNS message ID."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    arn = topic_arn(cfg, env)
    session = session or boto3.Session(region_name=cfg.region)
    try:
        answer = session.client("sns", region_name=cfg.region).publish(
            TopicArn=arn, Subject=subject, Message=text
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise SnsError(f"publish to {arn} failed: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise SnsError(f"publish to {arn} failed: {exc}") from None
    return str(answer.get("MessageId", ""))
