"""Who may write what: which role may change which artifacts, pipelines and registry versions.

These are the checks' own limits, whatever the access table says (`checks/table.py` holds the
table to them, and every IAM role and bucket policy statement of the templates is held to them
too):

- no role writes objects outside the key prefixes (the whole artifact bucket), and none writes
  the datasets prefix;
- the feature prefix is written only by the feature identities (`github_feature`,
  `sagemaker_feature`, and the optional `data_scientist`), the dev prefix only by the dev ones
  (`github_build`, `sagemaker_pipeline`), the prod prefix only by `github_registry_prod`;
- a pipeline kind's pipelines are created, changed and started only by that kind's build role
  (feature pipelines also by `data_scientist`, from a laptop), and its job role is passed only by
  those and the job role itself;
- versions are registered into the feature and dev groups only by that kind's job role, into the
  prod group only by `github_registry_prod`, and only `github_registry_prod` registers or sets
  Approved; dev versions are updated only by the two registry roles, prod versions only by the
  prod one, feature versions by none.

Each limit is a probe: a concrete request (actions, ARNs, request context) and the roles that may
make it. A role's statements allow a probe when an Allow matches an action and ARN (wildcards as
IAM reads them; Allow conditions on keys the probe does not set count as satisfiable) and no
Deny matches with a condition that holds for the probe's context. That over-approximates IAM, so
a role that can make the request is never missed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import access, config
from ...config import Config
from .base import Finding, as_list, statements

APPROVAL = "sagemaker:ModelApprovalStatus"
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
PIPELINE_CHANGES = (
    "sagemaker:CreatePipeline",
    "sagemaker:StartPipelineExecution",
    "sagemaker:UpdatePipeline",
)
CREATE = "sagemaker:CreateModelPackage"
UPDATE = "sagemaker:UpdateModelPackage"
PROMOTER = "github_registry_prod"
# The optional laptop identity (aws.data_scientist_principal): a feature-branch identity only.
LAPTOP = "data_scientist"
LAPTOP_KINDS = ("feature",)
# A key that starts no prefix (model names never start with `_`).
OUTSIDE_KEY = "_outside-every-prefix/model.tar.gz"


@dataclass(frozen=True)
class Probe:
    """A request (any of `actions` on any of `arns`, with `context`) only `allowed` roles may make."""

    what: str
    actions: tuple[str, ...]
    arns: tuple[str, ...]
    allowed: frozenset[str]
    context: Mapping[str, str] = field(default_factory=dict)


def probes(cfg: Config) -> tuple[Probe, ...]:
    """The limits above as probes, with this config's names and accounts."""
    names = cfg.names
    objects = f"arn:aws:s3:::{names.artifact_bucket}/"
    pending, approved = {APPROVAL: "PendingManualApproval"}, {APPROVAL: "Approved"}
    laptop = {kind: {LAPTOP} if kind in LAPTOP_KINDS else set() for kind in config.PIPELINE_KINDS}
    writers = {
        kind: {config.PIPELINE_STARTERS[kind], config.PIPELINE_ROLES[kind], *laptop[kind]}
        for kind in config.PIPELINE_KINDS
    }
    writers["prod"] = {PROMOTER}
    result = [
        Probe(
            "write objects outside every prefix (the whole artifact bucket)",
            WRITES,
            (objects + OUTSIDE_KEY,),
            frozenset(),
        ),
        Probe(
            "write the datasets prefix", WRITES, (objects + names.datasets_prefix + "probe.csv",), frozenset()
        ),
    ]
    for kind, prefix in names.artifact_prefixes.items():
        arn = objects + prefix + "probe/model.tar.gz"
        result.append(Probe(f"write the {kind} prefix", WRITES, (arn,), frozenset(writers[kind])))
    data_science = cfg.account_id("data_science")
    for kind in config.PIPELINE_KINDS:
        build, jobs = config.PIPELINE_STARTERS[kind], config.PIPELINE_ROLES[kind]
        name = names.pipelines["dev"] if kind == "dev" else names.artifact_prefixes["feature"] + "probe"
        pipeline = f"arn:aws:sagemaker:{cfg.region}:{data_science}:pipeline/{name}"
        result.append(
            Probe(
                f"create, change or start the {kind} pipeline",
                PIPELINE_CHANGES,
                (pipeline,),
                frozenset({build, *laptop[kind]}),
            )
        )
        role = f"arn:aws:iam::{data_science}:role/{cfg.role_name(jobs)}"
        passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
        result.append(
            Probe(
                f"pass the {kind} pipeline role",
                ("iam:PassRole",),
                (role,),
                frozenset({build, jobs, *laptop[kind]}),
                passed,
            )
        )
    registrars = {kind: {config.PIPELINE_ROLES[kind]} for kind in config.PIPELINE_KINDS} | {
        "prod": {PROMOTER}
    }
    updaters = {"feature": set(), "dev": {"github_registry_qa", PROMOTER}, "prod": {PROMOTER}}
    for kind in config.GROUP_KINDS:
        group, version = cfg.group_arn(kind), cfg.packages_arn(kind).removesuffix("*") + "1"
        result += [
            Probe(
                f"register versions into the {kind} group",
                (CREATE,),
                (group, version),
                frozenset(registrars[kind]),
                pending,
            ),
            Probe(
                f"register an Approved version into the {kind} group",
                (CREATE,),
                (group, version),
                frozenset({PROMOTER} & registrars[kind]),
                approved,
            ),
            Probe(f"update {kind} versions", (UPDATE,), (version,), frozenset(updaters[kind])),
            Probe(
                f"set Approved on {kind} versions",
                (UPDATE,),
                (version,),
                frozenset({PROMOTER} & updaters[kind]),
                approved,
            ),
        ]
    return tuple(result)


@functools.cache
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _matches(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcard match: `*` any run of characters (`/` included), `?` one character."""
    return _wildcard(pattern, case_sensitive).fullmatch(value) is not None


def _holds(operator: str, values: list[str], actual: str) -> bool | None:
    """One condition on a present key; None for an operator these checks do not read."""
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    kind = base.replace("Not", "")
    if kind in ("StringEquals", "ArnEquals"):
        found = actual in values
    elif kind == "StringEqualsIgnoreCase":
        found = actual.lower() in (v.lower() for v in values)
    elif kind in ("StringLike", "ArnLike"):
        found = any(_matches(v, actual) for v in values)
    elif kind == "Bool":
        found = actual.lower() in (v.lower() for v in values)
    else:
        return None
    return not found if negated else found


def condition_holds(condition: Any, context: Mapping[str, str], deny: bool) -> bool:
    """Whether a statement's Condition holds for a probe. A key the probe does not set is the
    requester's choice: it satisfies an Allow and avoids a Deny; an unread operator likewise."""
    if not isinstance(condition, dict):
        return True
    for operator, pairs in condition.items():
        for key, values in (pairs or {}).items():
            if key not in context:
                if deny:
                    return False
                continue
            result = _holds(operator, [str(v) for v in as_list(values)], context[key])
            if result is None:
                if deny:
                    return False
                continue
            if not result:
                return False
    return True


def _action_applies(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_matches(str(a), action, False) for a in as_list(statement["NotAction"]))
    return any(_matches(str(a), action, False) for a in as_list(statement.get("Action")))


def _resource_applies(statement: dict[str, Any], arn: str) -> bool:
    if "NotResource" in statement:
        return not any(_matches(str(r), arn) for r in as_list(statement["NotResource"]))
    return any(_matches(str(r), arn) for r in as_list(statement.get("Resource")))


def allows(
    items: Iterable[dict[str, Any]], probe: Probe, named_by: dict[str, list[dict[str, Any]]] | None = None
) -> tuple[str, str] | None:
    """The first (action, ARN) of `probe` the statements allow, or None.

    Each action is matched against each statement once (`named_by` keeps, per action, the
    statements naming it, for callers asking many probes of the same statements); only those
    are then matched against the probe's ARNs and their conditions against its context."""
    items = list(items)
    named_by = {} if named_by is None else named_by
    for action in probe.actions:
        if action not in named_by:
            named_by[action] = [s for s in items if _action_applies(s, action)]
        named = named_by[action]
        denies = [s for s in named if s.get("Effect") == "Deny"]
        grants = [s for s in named if s.get("Effect") == "Allow"]
        if not grants:
            continue
        for arn in probe.arns:
            if any(
                _resource_applies(s, arn) and condition_holds(s.get("Condition"), probe.context, True)
                for s in denies
            ):
                continue
            if any(
                _resource_applies(s, arn) and condition_holds(s.get("Condition"), probe.context, False)
                for s in grants
            ):
                return action, arn
    return None


def _who_may(cfg: Config, keys: Iterable[str]) -> str:
    names = ", ".join(sorted(cfg.role_name(key) for key in keys))
    return f"only {names} may" if names else "no role may"


def check_authority(
    where: str, who: str, role_key: str | None, items: Iterable[dict[str, Any]], cfg: Config
) -> list[Finding]:
    """Every probe the statements of one principal (`who`, role key `role_key` or None for any
    other principal) allow although the limits above do not let that role make it."""
    from .async_io import async_probes
    from .batch import batch_probes
    from .batch_tests import batch_test_probes
    from .capture import capture_probes
    from .monitoring import monitoring_probes

    items = list(items)
    named_by: dict[str, list[dict[str, Any]]] = {}
    findings = []
    for probe in (
        *probes(cfg),
        *monitoring_probes(cfg),
        *capture_probes(cfg),
        *async_probes(cfg),
        *batch_probes(cfg),
        *batch_test_probes(cfg),
    ):
        if role_key in probe.allowed:
            continue
        hit = allows(items, probe, named_by)
        if hit:
            findings.append(
                Finding(
                    where,
                    f"{who} may {probe.what} ({hit[0]} on {hit[1]}); {_who_may(cfg, probe.allowed)}",
                )
            )
    return findings


def role_statements(policies: Iterable[Any]) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies."""
    return [item for policy in policies for item in statements((policy or {}).get("PolicyDocument"))]


def table_statements(cfg: Config, rows: Iterable[access.Grant]) -> list[dict[str, Any]]:
    """The access table's rows of one role as the identity policy statements they stand for."""
    key = f"arn:aws:kms:{cfg.region}:{cfg.account_id('shared_services')}:key/artifact-key"
    return [
        {
            "Effect": grant.effect,
            "Action": list(grant.actions),
            "Resource": [
                arn
                for symbol in grant.resources
                for arn in access.resource_arns(cfg, symbol, grant.party, key)
            ],
            "Condition": grant.condition_document(),
        }
        for grant in rows
    ]


def principal_roles(statement: dict[str, Any]) -> list[str | None]:
    """The role names a bucket or key policy statement is limited to (aws:PrincipalArn), or
    [None] when it is not limited to roles."""
    arns = as_list(((statement.get("Condition") or {}).get("StringEquals") or {}).get("aws:PrincipalArn"))
    names = [str(a).split(":role/", 1)[1] if ":role/" in str(a) else None for a in arns]
    return names or [None]
