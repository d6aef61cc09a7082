"""The access table's resource symbols as ARNs, and ARNs back as symbols.

- `resource_arns(cfg, symbol, party, key_arn)`: the ARNs an identity policy names for a symbol
  (a role's ARN is in the account of the row's `party`);
- `resource_of(cfg, arn, key_arns)`: the symbol of an ARN, or None for anything that is not one
  of the table's resources. An ARN of the artifact bucket that names none of its prefixes (or
  their evaluation reports) exactly (`bucket/*`, `bucket/<model>-*`) is `objects` (the whole
  bucket), which the table grants to no role, so a template naming it is a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .. import config
from ..config import Config

# Key prefixes of the artifact bucket besides the group kinds' (cfg.names.artifact_prefixes).
SCOPES = ("feature", "dev", "prod", "datasets")
# The evaluation report each pipeline execution writes (pipeline/steps.py EVALUATION_FILE): a
# version's ModelMetrics point at it; promotion copies it under the prod prefix with the same name.
REPORT_FILE = "evaluation.json"


def prefixes(cfg: Config) -> dict[str, str]:
    """Object scope -> key prefix: the group kinds' artifact prefixes and the datasets prefix."""
    return {**cfg.names.artifact_prefixes, "datasets": cfg.names.datasets_prefix}


def objects_arn(cfg: Config, scope: str | None = None) -> str:
    """The ARN pattern of the objects under one prefix (None: every object of the bucket)."""
    prefix = prefixes(cfg)[scope] if scope else ""
    return f"arn:aws:s3:::{cfg.names.artifact_bucket}/{prefix}*"


def reports_arn(cfg: Config, scope: str) -> str:
    """The ARN pattern of the evaluation reports under one prefix, and nothing else there."""
    return f"{objects_arn(cfg, scope)}/{REPORT_FILE}"


def pipeline_arns(cfg: Config, kind: str) -> tuple[str, str]:
    """A pipeline kind's pipelines and their executions: the dev pipeline, or every feature
    pipeline (one per branch, all named `<model>-feature-<branch>`)."""
    name = cfg.names.pipelines["dev"] if kind == "dev" else cfg.names.artifact_prefixes["feature"] + "*"
    base = f"arn:aws:sagemaker:{cfg.region}:{cfg.account_id('data_science')}:pipeline/{name}"
    return base, f"{base}/execution/*"


def resource_arns(cfg: Config, symbol: str, party: str, key_arn: str = "") -> tuple[str, ...]:
    """The ARNs of `symbol` as an identity policy of a role in the `party` account names them."""
    head, _, kind = symbol.partition(":")
    if head == "group":
        return (cfg.group_arn(kind),)
    if head == "versions":
        return (cfg.packages_arn(kind),)
    if head == "objects":
        return (objects_arn(cfg, kind or None),)
    if head == "reports":
        return (reports_arn(cfg, kind),)
    if head == "bucket":
        return (f"arn:aws:s3:::{cfg.names.artifact_bucket}",)
    if head == "key":
        return (key_arn or cfg.artifact_key(),)
    if head == "pipelines":
        return pipeline_arns(cfg, kind)
    if head == "role":
        return (f"arn:aws:iam::{cfg.account_id(party)}:role/{cfg.role_name(kind)}",)
    raise ValueError(f"unknown resource symbol {symbol!r}")


def resource_of(cfg: Config, arn: str, key_arns: Iterable[str] = ()) -> str | None:
    """The symbol of a table resource's ARN (None for anything else). The key's ID is generated,
    so the caller names the ARNs that are the artifact key (`key_arns`)."""
    partition = "arn:aws[a-z-]*"
    registry = f"{partition}:sagemaker:{re.escape(cfg.region)}:{cfg.account_id('shared_services')}"
    for kind in config.GROUP_KINDS:
        group = re.escape(cfg.group(kind))
        if re.fullmatch(f"{registry}:model-package-group/{group}", arn):
            return f"group:{kind}"
        if re.fullmatch(f"{registry}:model-package/{group}/\\*", arn):
            return f"versions:{kind}"
    bucket = re.escape(cfg.names.artifact_bucket)
    objects = re.fullmatch(f"{partition}:s3:::{bucket}/(.*)", arn)
    if objects:
        for scope, prefix in prefixes(cfg).items():
            if objects[1] == prefix + "*":
                return f"objects:{scope}"
            if objects[1] == f"{prefix}*/{REPORT_FILE}":
                return f"reports:{scope}"
        return "objects"
    if re.fullmatch(f"{partition}:s3:::{bucket}", arn):
        return "bucket"
    pipelines = f"{partition}:sagemaker:{re.escape(cfg.region)}:{cfg.account_id('data_science')}:pipeline/"
    for kind in config.PIPELINE_KINDS:
        for pattern in pipeline_arns(cfg, kind):
            if re.fullmatch(pipelines + re.escape(pattern.split(":pipeline/", 1)[1]), arn):
                return f"pipelines:{kind}"
    role = re.fullmatch(partition + r":iam::[0-9]{12}:role/(.+)", arn)
    if role:
        keys = [key for key, name in cfg.names.roles.items() if name == role[1]]
        return f"role:{keys[0]}" if keys else None
    return "key" if arn in set(key_arns) else None
