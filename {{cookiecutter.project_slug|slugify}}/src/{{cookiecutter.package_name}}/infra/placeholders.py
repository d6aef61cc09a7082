"""The template's example answers: a dry run warns about each, a real run refuses them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import config
from ..config import Config

# The template's example answers (its default answers and README examples). A repository
# still holding them would deploy into accounts that are not yours and trust a GitHub owner
# that is not yours; see `placeholder_answers`.
PLACEHOLDER_ACCOUNTS = frozenset({"111111111111", "222222222222", "333333333333", "444444444444"})
PLACEHOLDER_GITHUB_OWNERS = frozenset({"example-org"})


@dataclass(frozen=True)
class Placeholder:
    """A config value that is still the template's example: its key path, value and what to set."""

    key: str
    value: str
    change_to: str


def placeholder_answers(cfg: Config) -> list[Placeholder]:
    """The config values that are still the template's examples, in config order."""
    found = [
        Placeholder(
            f"aws.accounts.{role}",
            cfg.account_id(role),
            f"the 12-digit ID of your {role.replace('_', '-')} AWS account",
        )
        for role in config.ACCOUNT_ROLES
        if cfg.account_id(role) in PLACEHOLDER_ACCOUNTS
    ]
    if cfg.github.owner.lower() in PLACEHOLDER_GITHUB_OWNERS:
        found.append(
            Placeholder(
                "github.owner",
                cfg.github.owner,
                "the GitHub organisation or user that hosts this repository",
            )
        )
    return found


def placeholder_warning(found: list[Placeholder], source: str) -> str:
    """The multi-line WARNING block a dry run prints for placeholder answers."""
    rule = "!" * 78
    return "\n".join(
        [
            rule,
            f"WARNING: {source} still holds the template's placeholder answers:",
            *(f"  {p.key} = {json.dumps(p.value)}  -> change to {p.change_to}" for p in found),
            f"Edit these keys in {source}, then run the dry run again.",
            "Every derived name (buckets, roles, groups) follows from them, and the GitHub OIDC",
            "roles trust exactly github.owner/github.repo, so deploying them as they are would",
            "target accounts and a GitHub owner that are not yours.",
            "A real run refuses them (exit 2) unless --allow-placeholders is given.",
            rule,
        ]
    )


def placeholder_refusal(found: list[Placeholder], source: str) -> str:
    """The one-line reason a real run stops on placeholder answers."""
    keys = ", ".join(f"{p.key}={p.value}" for p in found)
    return (
        f"{source} still holds the template's placeholder answers ({keys}); set your AWS account IDs "
        "and GitHub owner there (--dry-run lists what to change), or pass --allow-placeholders "
        "for simulated accounts"
    )
