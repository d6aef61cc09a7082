"""A set of versions: one model per segment value, registered together by one pipeline run.

A segmented project (`model.segments`) trains one model per listed value of the segment column;
its Register steps write customer metadata `segment`, `segment_column` and `segment_set` (the
pipeline execution id) on each version. Wherever one version travels (`--arn`, the `arn`
output of a command, the workflows' PACKAGE_ARN / PROD_ARN), a set travels as a comma-separated
list of ARNs ordered as `model.segments.values`.

- `segment_values(cfg)`: the listed values, empty when the project is not segmented.
- `split_arns(cfg, text)`: the list; more than one ARN is refused unless segments are on.
- `order(cfg, versions)`: the versions keyed by segment in the configured order, refused unless
  they are exactly one per listed segment, all of one pipeline run (`segment_set`), one commit,
  one group and the configured segment column (every problem named in one error).
- `latest_set`: the newest complete set of a group (optionally for one commit).
- `single_version_problem(cfg, value)`: why one segment's model may not be the model of a project
  whose segments are off (lock write, lock check and promote refuse it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .metadata import metadata_value
from .version import GIT_SHA_KEY, ModelVersion, describe_package, from_description, parse_package_arn, resolve

SEGMENT_KEY = "segment"
SEGMENT_COLUMN_KEY = "segment_column"
SEGMENT_SET_KEY = "segment_set"


ARN_HELP = "a model package ARN; a segmented project: its set, comma-separated in model.segments.values order"


class SetError(DeployError):
    """A list of versions that is not one complete set of this project's segments."""


def segment_column(cfg: Config) -> str:
    segments = getattr(cfg.model, "segments", None)
    return str(getattr(segments, "column", "") or "") if segments is not None else ""


def segment_values(cfg: Config) -> tuple[str, ...]:
    """The configured segment values in order; () when the project is not segmented."""
    segments = getattr(cfg.model, "segments", None)
    if segments is None or not segment_column(cfg):
        return ()
    return tuple(str(value) for value in getattr(segments, "values", ()))


def segmented(cfg: Config) -> bool:
    return bool(segment_values(cfg))


def split_arns(cfg: Config, text: str, what: str = "--arn") -> list[str]:
    """The ARNs of a comma-separated list (surrounding blanks ignored, none empty)."""
    arns = [part.strip() for part in str(text).split(",")]
    if not all(arns):
        raise SetError(f"{what} {text!r}: an empty entry in the comma-separated list of model package ARNs")
    if len(arns) > 1 and not segmented(cfg):
        raise SetError(
            f"{what} names {len(arns)} versions; a list of versions is only accepted when "
            "model.segments is on (one version per segment value)"
        )
    return arns


def single_version_problem(cfg: Config, value: ModelVersion) -> str:
    """Why `value` may not be an unsegmented project's model (empty: it may): a version a segmented
    run registered for one segment was trained and QA-tested on that segment's rows only."""
    segment = value.metadata.get(SEGMENT_KEY)
    if not segment or segmented(cfg):
        return ""
    column = value.metadata.get(SEGMENT_COLUMN_KEY) or "none"
    return (
        f"{value.arn} was registered by a segmented run for segment {segment} (column {column}), "
        "trained and QA-tested on that segment's rows only, and model.segments is off; run the "
        "pipeline to register a model of every row"
    )


def is_set(cfg: Config, text: str | None) -> bool:
    """Whether a command's `--arn` goes the set path: segments on, or a comma-separated list."""
    return segmented(cfg) or "," in str(text or "")


def join(values: Iterable[Any]) -> str:
    return ",".join(str(value) for value in values)


def problems_of(cfg: Config, versions: Sequence[ModelVersion]) -> list[str]:
    """Why `versions` are not one complete set of this project's segments (empty: they are)."""
    values = segment_values(cfg)
    column = segment_column(cfg)
    # Register steps record the column as customer metadata allows it (`metadata_value`).
    recorded = metadata_value(column)
    problems: list[str] = []
    seen: dict[str, list[str]] = {}
    for value in versions:
        segment = value.metadata.get(SEGMENT_KEY)
        if not segment:
            problems.append(f"{value.arn} has no {SEGMENT_KEY} metadata (not registered by a segmented run)")
            continue
        seen.setdefault(segment, []).append(value.arn)
        if value.metadata.get(SEGMENT_COLUMN_KEY) != recorded:
            problems.append(
                f"{value.arn} (segment {segment}) was trained on segment column "
                f"{value.metadata.get(SEGMENT_COLUMN_KEY) or 'none'!r}, the config names {column!r}"
            )
    missing = [segment for segment in values if segment not in seen]
    extra = [segment for segment in seen if segment not in values]
    duplicate = {segment: arns for segment, arns in seen.items() if len(arns) > 1}
    if missing:
        problems.append(f"missing segments: {', '.join(missing)}")
    if extra:
        problems.append(f"segments not in model.segments.values: {', '.join(extra)}")
    for segment, arns in duplicate.items():
        problems.append(f"segment {segment} appears {len(arns)} times ({', '.join(arns)})")
    for key, label in ((SEGMENT_SET_KEY, "pipeline runs (segment_set)"), (GIT_SHA_KEY, "commits (git_sha)")):
        found = {value.metadata.get(key) or "none" for value in versions}
        if len(found) > 1:
            named = "; ".join(
                f"{value.metadata.get(SEGMENT_KEY) or value.arn}: {value.metadata.get(key) or 'none'}"
                for value in versions
            )
            problems.append(f"the versions come from different {label} ({named})")
    if any(not value.metadata.get(SEGMENT_SET_KEY) for value in versions):
        problems.append("a version has no segment_set metadata")
    groups = {value.group for value in versions}
    if len(groups) > 1:
        problems.append(f"the versions are in different groups ({', '.join(sorted(groups))})")
    return problems


def order(cfg: Config, versions: Sequence[ModelVersion]) -> dict[str, ModelVersion]:
    """`{segment: version}` in the configured order; SetError naming every problem otherwise."""
    problems = problems_of(cfg, versions)
    if problems:
        wanted = join(segment_values(cfg))
        raise SetError(f"not one complete set of segments ({wanted}): " + "; ".join(problems))
    by_segment = {value.metadata[SEGMENT_KEY]: value for value in versions}
    return {segment: by_segment[segment] for segment in segment_values(cfg)}


def resolve_set(cfg: Config, clients: Clients, text: str, kind: str) -> dict[str, ModelVersion]:
    """Resolve a comma-separated list of versions of the `kind` group as one complete set."""
    arns = split_arns(cfg, text)
    if len(set(arns)) != len(arns):
        raise SetError(f"--arn names a version twice: {text}")
    return order(cfg, [resolve(cfg, clients, arn, kind) for arn in arns])


def latest_set(
    cfg: Config, clients: Clients, group: str, status: str | None = None, git_sha: str | None = None
) -> dict[str, ModelVersion] | None:
    """The newest complete set of Completed versions in `group` (with `git_sha`: of that commit).

    Versions are read newest first and grouped by `segment_set`; the first set to hold one
    version of every listed segment is returned (ordered as the config lists them). A set missing
    a segment (a run whose registration stopped half-way) is skipped with one log line; a set
    holding a segment twice, or versions of another commit or segment column, is refused.
    """
    from .lifecycle import completed_summaries  # it builds on this module

    values = segment_values(cfg)
    sets: dict[str, list[ModelVersion]] = {}
    for summary in completed_summaries(clients, group, status):
        arn = summary["ModelPackageArn"]
        value = from_description(parse_package_arn(arn), describe_package(clients, arn))
        if git_sha is not None and value.metadata.get(GIT_SHA_KEY) != git_sha:
            continue
        key = value.metadata.get(SEGMENT_SET_KEY)
        if not key:
            log(f"{arn} has no {SEGMENT_SET_KEY} metadata; not part of a set, skipped")
            continue
        members = sets.setdefault(key, [])
        members.append(value)
        if all(any(m.metadata.get(SEGMENT_KEY) == s for m in members) for s in values):
            for skipped, partial in sets.items():
                if skipped != key:
                    found = sorted({m.metadata.get(SEGMENT_KEY) or "none" for m in partial})
                    log(f"skipped the incomplete set {skipped} (segments {', '.join(found)})")
            return order(cfg, members)
    return None
