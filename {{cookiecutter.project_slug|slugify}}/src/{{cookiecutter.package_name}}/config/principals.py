"""`aws.data_scientist_principal`: who may assume the optional data-scientist role.

Empty (the default): no data-scientist role. Otherwise the ARN of the IAM role the data
scientists sign in with, `*` and `?` allowed in its path and name (an IAM Identity Center
permission set's role carries a generated suffix), e.g.
`arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<region>/AWSReservedSSO_DataScientist_*`.
Bootstrap then creates `<model>-data-scientist` in the data-science account, trusted by the
roles that pattern matches (`ArnLike aws:PrincipalArn`); what that role may do is the access
table's (`access/table.py`).

The pattern names one account (no wildcard), a role name that is not wildcards alone, and
matches none of this repository's own roles, so no pipeline, GitHub or endpoint identity can
become the data scientist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from .fields import ConfigError
from .names import Names

PRINCIPAL_KEY = "aws.data_scientist_principal"
# arn:<partition>:iam::<12 digits>:role/<path/><name>, IAM's role path and name characters plus * ?.
ROLE_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?P<path>(?:[\w+=,.@*?-]+/)*)(?P<name>[\w+=,.@*?-]{1,64})$",
    re.ASCII,
)
EXAMPLE = "arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<region>/AWSReservedSSO_DataScientist_*"


def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's ArnLike: `*` any run of characters, `?` one character."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)


def parse_data_scientist_principal(value: str, names: Names, accounts: Mapping[str, str]) -> str:
    """The checked pattern ("" for none); ConfigError naming what is wrong and what is expected."""
    if value == "":
        return value
    shown = json.dumps(value)
    expected = (
        'expected "" (no data-scientist role) or the ARN of the role your data scientists sign in '
        f"with, e.g. {EXAMPLE}"
    )
    match = ROLE_PATTERN.match(value)
    if not match:
        raise ConfigError(f"{PRINCIPAL_KEY} is {shown}; {expected}")
    if not match["name"].strip("*?"):
        raise ConfigError(
            f"{PRINCIPAL_KEY} is {shown}: its role name is only wildcards, which admits every role "
            f"of account {match['account']}; {expected}"
        )
    matches = _wildcard(value)
    own = sorted(
        name
        for account in set(accounts.values())
        for name in names.roles.values()
        if matches.fullmatch(f"arn:aws:iam::{account}:role/{name}")
    )
    if own:
        raise ConfigError(
            f"{PRINCIPAL_KEY} is {shown}, which matches this repository's own role {own[0]}; "
            f"a pipeline, GitHub or endpoint identity must not become the data scientist; {expected}"
        )
    return value


def principal_account(value: str) -> str:
    """The account of a checked, non-empty principal pattern."""
    match = ROLE_PATTERN.match(value)
    if not match:
        raise ConfigError(f"{PRINCIPAL_KEY} is {json.dumps(value)}; expected a role ARN, e.g. {EXAMPLE}")
    return match["account"]
