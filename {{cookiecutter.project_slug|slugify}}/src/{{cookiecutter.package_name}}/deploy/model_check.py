"""Whether a model found under a planned name is the model planned.

Model names are deterministic (`endpoint.plan`), so a model already under the name is reused:
by a deploy that creates it unless present, by a batch run or a transform test that runs it. The
name alone would not tell one created beforehand with another artifact, image, role or
environment; `refuse_other_model` compares what DescribeModel answers with the planned
CreateModel request and refuses any difference (DeployError naming each).
"""

from __future__ import annotations

from typing import Any

from .aws import DeployError
from .endpoint import DeployPlan

# What a model's containers are made of: any difference is another model under the same name.
CONTAINER_KEYS = ("Image", "ModelDataUrl", "ModelPackageName", "Mode")


def model_differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """How the described model `found` differs from the deploy's CreateModel request."""
    problems = []
    if found.get("ExecutionRoleArn") != expected["ExecutionRoleArn"]:
        problems.append(f"it runs as {found.get('ExecutionRoleArn')}, not {expected['ExecutionRoleArn']}")
    if found.get("EnableNetworkIsolation") is not True:
        problems.append("it is not network-isolated")
    containers = found.get("Containers") or [found.get("PrimaryContainer") or {}]
    wanted = expected["Containers"]
    if len(containers) != len(wanted):
        problems.append(f"it has {len(containers)} containers, not {len(wanted)}")
    for index, (have, want) in enumerate(zip(containers, wanted, strict=False)):
        for key in CONTAINER_KEYS:
            if key in want and have.get(key) != want[key]:
                problems.append(f"container {index + 1} {key} is {have.get(key)!r}, not {want[key]!r}")
        # A container made from a package ARN (prod) is what SageMaker resolves from the
        # immutable version, and only the reviewed prod deploy creates those models; what
        # DescribeModel adds to it is not compared. Containers spelled out (QA) are, in full.
        spelled_out = "ModelPackageName" not in want
        if spelled_out and (have.get("Environment") or {}) != (want.get("Environment") or {}):
            problems.append(f"container {index + 1} has another Environment")
    return problems


def refuse_other_model(found: dict[str, Any], deploy: DeployPlan, env: str) -> None:
    """DeployError unless the described model `found` is the one `deploy` plans."""
    name, arn = deploy.model_name, deploy.package.arn
    problems = model_differences(deploy.model_request, found)
    if problems:
        raise DeployError(
            f"model {name} is not the model the {env} deploy creates for {arn}: "
            + "; ".join(problems)
            + f"; refusing to run it (delete it, then deploy that version to {env} again)"
        )
