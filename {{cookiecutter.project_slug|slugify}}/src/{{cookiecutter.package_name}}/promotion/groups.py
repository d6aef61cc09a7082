"""The model package groups of the shared registry and who may use them.

- `group_policy` builds the resource policy of one model package group: the data-science
  account may register and read; the QA account may describe the dev group's versions (its
  model is built from their containers); the prod account may describe the prod group's
  versions and create a model from them by ARN. Principals are account roots and actions are
  explicit: a role principal or `"Action": "*"` makes a group undiscoverable from other
  accounts (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram.html).
- `workload_group_actions`: what a workload account needs on the group it deploys from.
- `ensure_groups` creates the feature/dev/prod groups and their policies (idempotent). The
  shared-services stack normally owns them; `ensure_groups` needs credentials of that account
  that may create groups and put their policies (an administrator's, as bootstrap uses): no
  GitHub role holds those actions, so no workflow job can change who may use a group.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .. import access, config
from ..config import Config, Environment
from ..deploy.aws import Clients, is_not_found, log

# Who may do what on a group is the access table's (access/table.py); these names stay for
# the callers that read them here.
REGISTER_ACTIONS = access.table.REGISTER
WORKLOAD_READ_ACTIONS = (access.DESCRIBE_PACKAGE,)
CREATE_FROM_PACKAGE_ACTIONS = (access.CREATE_MODEL, access.DESCRIBE_PACKAGE)


def workload_group_actions(environment: Environment) -> tuple[str, ...]:
    """Registry actions the workload account of `environment` needs on the group it deploys from.

    DescribeModelPackage for every environment; sagemaker:CreateModel as well only where the
    model is created from the package ARN (`Environment.approved_only`, i.e. prod).
    """
    return access.workload_group_actions(environment)


def group_policy(cfg: Config, kind: str) -> dict[str, Any] | None:
    """Resource policy for the `kind` group, from the access table; None when no other account needs it.

    The data-science account registers into the groups its pipelines write (feature and dev); a
    workload account gets `workload_group_actions` on the group its environment deploys from.
    The shared-services account itself is never listed: inside one account IAM identity
    policies decide, so single-account mode gets no resource policy at all.
    """
    return access.group_policy(cfg, kind)


def ensure_groups(cfg: Config, clients: Clients) -> list[str]:
    """Create missing groups and put each group's resource policy if it differs.

    It makes no mutating call when everything already matches; it returns one line per group.
    """
    sm = clients.sagemaker
    results = []
    for kind in config.GROUP_KINDS:
        name = cfg.group(kind)
        try:
            sm.describe_model_package_group(ModelPackageGroupName=name)
            state = "exists"
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            sm.create_model_package_group(
                ModelPackageGroupName=name,
                ModelPackageGroupDescription=f"{cfg.project.name}: {kind} model versions",
                Tags=[{"Key": "project", "Value": cfg.project.slug}],
            )
            state = "created"
        desired = group_policy(cfg, kind)
        if desired is None:
            results.append(f"{name}: {state}; no cross-account access needed, no resource policy")
            continue
        current = None
        try:
            current = json.loads(
                sm.get_model_package_group_policy(ModelPackageGroupName=name)["ResourcePolicy"]
            )
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        if current == desired:
            results.append(f"{name}: {state}; resource policy up to date")
            continue
        sm.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=json.dumps(desired))
        results.append(f"{name}: {state}; resource policy {'updated' if current else 'set'}")
    for line in results:
        log(line)
    return results
