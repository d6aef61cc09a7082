"""One boto3 session per account: from named profiles, an assumed role or the default chain,
each checked with STS before anything is deployed or deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import config
from ..config import Config
from .errors import UsageError
from .plan import distinct_accounts

SessionFactory = Callable[[str, str], Any]


def parse_profiles(values: list[str]) -> dict[str, str]:
    profiles = {}
    for value in values:
        role, sep, profile = value.partition("=")
        if not sep or role not in config.ACCOUNT_ROLES or not profile:
            raise UsageError(
                f"--profile {value!r} is not ROLE=PROFILE with ROLE one of {', '.join(config.ACCOUNT_ROLES)}"
            )
        profiles[role] = profile
    return profiles


def session_factory(region: str, profiles: dict[str, str], assume_role: str | None) -> SessionFactory:
    """Sessions from named profiles, from assuming `assume_role` in each account, or the default chain."""
    import boto3

    base = boto3.Session(region_name=region)

    def session_for(account_role: str, account: str) -> Any:
        if account_role in profiles:
            return boto3.Session(profile_name=profiles[account_role], region_name=region)
        if assume_role:
            creds = base.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{assume_role}", RoleSessionName="mlops-bootstrap"
            )["Credentials"]
            return boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=region,
            )
        return base

    return session_for


def check_sessions(cfg: Config, session_for: SessionFactory) -> dict[str, Any]:
    """One session per distinct account, each verified with STS; UsageError on a mismatch."""
    sessions = {}
    for account, role in distinct_accounts(cfg).items():
        session = session_for(role, account)
        actual = session.client("sts", region_name=cfg.region).get_caller_identity()["Account"]
        if actual != account:
            raise UsageError(
                f"credentials for the {role} account resolve to account {actual}, expected {account}; "
                f"pass --profile {role}=NAME or --assume-role NAME"
            )
        sessions[account] = session
    return sessions
