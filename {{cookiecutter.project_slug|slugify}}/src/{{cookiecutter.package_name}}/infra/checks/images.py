"""ECR pulls: only from AWS's framework image account for the region, only its framework repositories.

Every Allow statement of an IAM policy that grants an image pull (`access.PULL_ACTIONS`) must
name exactly `access.repository_arns(region)`: the region's image account from
`access/images.py` and the scikit-learn and XGBoost repositories. Any account (`*`), a
repository wildcard (`sagemaker-*`), another account or another repository is a finding, and so
is a pull statement missing one of those repositories. The one other allowed pull statement
names exactly `access.analyzer_repository_arn(region)`: Model Monitor's analyzer image, from its
own AWS account for the region, which the roles running baseline or monitoring jobs pull.
`Resource: "*"` is left to the identity check (it is a finding there already).
"""

from __future__ import annotations

from typing import Any

from ... import access
from .base import Context, Finding, allowed_statements, as_list


def check_image_pulls(where: str, policy: Any, ctx: Context) -> list[Finding]:
    """The ECR pull statements of one identity policy name exactly the region's image repositories."""
    findings = []
    expected = access.repository_arns(ctx.region)
    account = access.image_account(ctx.region)
    known = ctx.region in access.ANALYZER_ACCOUNTS
    analyzer = access.analyzer_repository_arn(ctx.region) if known else None
    for at, statement, actions in allowed_statements(where, policy):
        pulls = sorted(actions & set(access.PULL_ACTIONS))
        resources = [str(r) for r in as_list(statement.get("Resource"))]
        if not pulls or "*" in resources or (analyzer and resources == [analyzer]):
            continue
        foreign = [r for r in resources if r not in expected]
        if foreign:
            findings.append(
                Finding(
                    at,
                    f"grants {', '.join(pulls)} on {', '.join(foreign)}; image pulls are allowed only "
                    f"from AWS's image account for {ctx.region} ({account}, access/images.py): "
                    f"{', '.join(expected)}"
                    + (f"; or, in a statement of its own, only the analyzer's {analyzer}" if known else ""),
                )
            )
        missing = [r for r in expected if r not in resources]
        if missing:
            findings.append(
                Finding(
                    at,
                    f"grants {', '.join(pulls)} without {', '.join(missing)}; an image pull statement names "
                    f"exactly the framework repositories of access/images.py: {', '.join(expected)}",
                )
            )
    return findings
