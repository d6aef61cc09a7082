"""What a pipeline run produced, on a terminal: the version it registered and its metrics, a
branch's newest run, and a candidate next to the prod champion.

boto3 only (no SageMaker SDK), like execution.py; the registry reads are the promotion code's
(`promotion.version.resolve`, `promotion.lifecycle.champion_version`), so a version's metrics
come from the evaluation report its ModelMetrics name, exactly as the release compares them.

- `registered_arn(steps)`: the model package a finished execution's RegisterModel step created;
- `registered_set(cfg, steps)`: a segmented run's versions (`Register-<segment>`), as the
  comma-separated list of ARNs ordered as `model.segments.values`;
- `show_registered(...)`: its metrics table and ARN (a segmented run: one column per segment and
  the list), after `run` or `status`;
- `execution_arn_of(cfg, text)`, `latest_execution(client, name)`: which run `status` watches;
- `branch_candidate(...)`: the newest version a branch registered in the feature group;
- `comparison_lines(...)`: a candidate's metrics next to the champion's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TextIO

from botocore.exceptions import ClientError

from ..config import Config
from ..deploy.aws import Clients, is_not_found
from ..promotion.lifecycle import RELEASED_AT_KEY
from ..promotion.metadata import metadata_value
from ..promotion.version import BRANCH_KEY, ModelVersion, describe_package, resolve
from .execution import CliError

EXECUTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"pipeline/(?P<pipeline>[A-Za-z0-9](?:-*[A-Za-z0-9]){0,255})/execution/(?P<id>[A-Za-z0-9]{1,256})$"
)


class _Session:
    """A boto3 session whose SageMaker client is the one given (tests pass a stubbed one)."""

    def __init__(self, session: Any, sagemaker: Any) -> None:
        self._session, self._sagemaker = session, sagemaker

    def client(self, service: str, **kwargs: Any) -> Any:
        if service == "sagemaker" and self._sagemaker is not None:
            return self._sagemaker
        return self._session.client(service, **kwargs)


def clients_for(cfg: Config, session: Any, sagemaker: Any = None) -> Clients:
    """The promotion code's Clients on `session`, with `sagemaker` as its SageMaker client."""
    return Clients(_Session(session, sagemaker), cfg.region)


def registered_arn(steps: list[dict[str, Any]]) -> str | None:
    """The model package ARN of the execution's RegisterModel step, or None (gate not passed)."""
    for step in steps:
        arn = (step.get("Metadata", {}).get("RegisterModel") or {}).get("Arn")
        if arn:
            return arn
    return None


# The segmented pipeline's register steps are `Register-<segment>` (pipeline/segments.py).
REGISTER_STEP = "Register"


def registered_set(cfg: Config, steps: list[dict[str, Any]]) -> dict[str, str]:
    """{segment: model package ARN} of a segmented execution's register steps, in the order of
    `model.segments.values` (empty: the gate did not pass)."""
    by_step = {
        step.get("StepName"): (step.get("Metadata", {}).get("RegisterModel") or {}).get("Arn")
        for step in steps
    }
    found = {s: by_step.get(f"{REGISTER_STEP}-{s}") for s in cfg.model.segments.values}
    return {segment: arn for segment, arn in found.items() if arn}


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def metrics_table(cfg: Config, columns: Mapping[str, Mapping[str, float]], change: bool = False) -> list[str]:
    """Aligned rows: one per metric (the gate metric first, marked), one column per version;
    with `change`, the difference of the first column from the second."""
    gate = cfg.pipeline.metric
    names = sorted({name for values in columns.values() for name in values}, key=lambda n: (n != gate, n))
    header = ["metric", *columns, *(["change"] if change else [])]
    rows = []
    for name in names:
        values = [values.get(name) for values in columns.values()]
        row = [f"{name} (gate >= {cfg.pipeline.metric_threshold:g})" if name == gate else name]
        row += [_number(value) for value in values]
        if change:
            new, old = values[0], values[1]
            row.append("n/a" if new is None or old is None else f"{new - old:+.4f}")
        rows.append(row)
    if not rows:
        return ["  (no metrics recorded)"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def show_registered(cfg: Config, clients: Clients, steps: list[dict[str, Any]], out: TextIO) -> str | None:
    """Print the registered version's metrics table and return its ARN (None: nothing registered);
    a segmented run's: every segment's version, and the list of their ARNs."""
    if cfg.model.segments.enabled:
        return _show_set(cfg, clients, registered_set(cfg, steps), out)
    arn = registered_arn(steps)
    if arn is None:
        print("pipeline: the execution registered no version", file=out)
        return None
    version = resolve(cfg, clients, arn, metrics=True)
    print(f"pipeline: registered {arn} ({version.approval or 'no approval status'})", file=out)
    for line in metrics_table(cfg, {"value": version.metrics or {}}):
        print(line, file=out)
    gate = (version.metrics or {}).get(cfg.pipeline.metric)
    if gate is not None:
        verdict = "meets" if gate >= cfg.pipeline.metric_threshold else "does not meet"
        print(
            f"  {cfg.pipeline.metric} {gate:.4f} {verdict} the gate {cfg.pipeline.metric_threshold:g}",
            file=out,
        )
    return arn


def _show_set(cfg: Config, clients: Clients, arns: dict[str, str], out: TextIO) -> str | None:
    if not arns:
        print("pipeline: the execution registered no version", file=out)
        return None
    metrics = {}
    for segment, arn in arns.items():
        version = resolve(cfg, clients, arn, metrics=True)
        print(f"pipeline: registered {segment}: {arn} ({version.approval or 'no approval status'})", file=out)
        metrics[segment] = version.metrics or {}
    for line in metrics_table(cfg, metrics):
        print(line, file=out)
    return ",".join(arns.values())


def execution_arn_of(cfg: Config, text: str, pipelines: tuple[str, ...], feature_prefix: str) -> str:
    """`text` checked as an execution of one of this repository's pipelines in the data-science
    account and the config's region (`pipelines` by name, or any name starting `feature_prefix`)."""
    match = EXECUTION_ARN.match(text)
    if not match:
        raise CliError(
            f"{text!r} is not a pipeline execution ARN "
            "(arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>)"
        )
    account = cfg.account_id("data_science")
    if (match["region"], match["account"]) != (cfg.region, account):
        raise CliError(
            f"execution {text} is in {match['region']}/{match['account']}; this repository's pipelines run "
            f"in {cfg.region}/{account} (the data-science account)"
        )
    name = match["pipeline"]
    if name not in pipelines and not name.startswith(feature_prefix):
        raise CliError(
            f"execution {text} belongs to pipeline {name}, not one of this repository's "
            f"({', '.join(pipelines)} or {feature_prefix}<branch>)"
        )
    return text


def latest_execution(client: Any, name: str) -> str:
    """The newest execution of pipeline `name`; CliError when there is none (or no pipeline)."""
    try:
        page = client.list_pipeline_executions(
            PipelineName=name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
        )
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        page = {}
    summaries = page.get("PipelineExecutionSummaries") or []
    if not summaries:
        raise CliError(f"pipeline {name} has no execution yet; make run starts one")
    return summaries[0]["PipelineExecutionArn"]


def branch_candidate(cfg: Config, clients: Clients, branch: str) -> str:
    """The newest Completed version in the feature group whose `branch` metadata is `branch`."""
    group = cfg.group("feature")
    wanted = metadata_value(branch)
    paginator = clients.sagemaker.get_paginator("list_model_packages")
    params = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending"}
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": 50}):
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelPackageStatus") != "Completed":
                continue
            package = describe_package(clients, summary["ModelPackageArn"])
            if (package.get("CustomerMetadataProperties") or {}).get(BRANCH_KEY) == wanted:
                return summary["ModelPackageArn"]
    raise CliError(
        f"branch {branch} registered no version in {group} yet; make run trains one (or pass --candidate ARN)"
    )


def comparison_lines(cfg: Config, candidate: ModelVersion, champion: ModelVersion | None) -> list[str]:
    """The candidate and the champion named, then their metrics side by side and the gate."""
    lines = [
        f"candidate:     {candidate.arn} "
        f"(branch {candidate.branch or 'unknown'}, git {candidate.git_sha or 'unknown'})"
    ]
    if champion is None:
        lines.append("prod champion: none yet (nothing was released to prod)")
        columns = {"candidate": candidate.metrics or {}}
    else:
        released = champion.metadata.get(RELEASED_AT_KEY, "unknown")
        lines.append(
            f"prod champion: {champion.arn} (released {released}, from {champion.source_arn or 'unknown'})"
        )
        columns = {"candidate": candidate.metrics or {}, "prod champion": champion.metrics or {}}
    lines += metrics_table(cfg, columns, change=champion is not None)
    gate = (candidate.metrics or {}).get(cfg.pipeline.metric)
    if gate is not None:
        verdict = "meets" if gate >= cfg.pipeline.metric_threshold else "does not meet"
        lines.append(
            f"gate: candidate {cfg.pipeline.metric} {gate:.4f} {verdict} "
            f"the threshold {cfg.pipeline.metric_threshold:g}"
        )
    return lines
