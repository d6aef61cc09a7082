"""The lock of a segmented project: one QA-verified version per segment, all of one pipeline run.

    {
      "segment_column": "<model.segments.column>",
      "segments": {"<value>": <the single-version lock entry (lockfile.py)>, ...},
      "created_at": "2025-01-31T12:00:00Z"
    }

The segments are exactly `model.segments.values`, in that order. Each entry is checked as a
single-version lock is (`lockfile.validate`, `release.verify_release`); the set is checked as a
whole against the registry: every version carries its entry's segment, the configured segment
column and one `segment_set` (the pipeline run that registered them), so no version of another
run, group or commit can join the set. Every problem names its segment.

`registry record-qa` of a set takes only the multi-model endpoint test's report (one part per
segment, `tested_problems`): a part that names the model it invoked must name its segment's artifact,
one that names the package its route served must name its segment's version, and one that names the
S3 object its route served must name the object `registry digest` read (`object_problems`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from . import segments as sets
from .evidence import model_artifact_uri
from .lockfile import GIT_SHA, TIMESTAMP, LockError, lock_for, validate
from .version import ModelVersion

SET_KEYS = ("segment_column", "segments", "created_at")


def segment_report(report: dict[str, Any], segment: str) -> dict[str, Any]:
    """The endpoint test report of one segment: its part of `segments` when the report has one
    per segment, else the whole report (one suite that exercised every segment)."""
    parts = report.get("segments") if isinstance(report, dict) else None
    if isinstance(parts, dict):
        part = parts.get(segment)
        if not isinstance(part, dict):
            return {
                "passed": False,
                "checks": [{"name": f"segment {segment} was not tested", "passed": False}],
            }
        return part
    return report


def tested_problems(cfg: Config, report: dict[str, Any], versions: dict[str, ModelVersion]) -> list[str]:
    """Why `report` is not the QA evidence of `versions` (empty: it may be). A segmented
    project's report has one part per segment (the multi-model endpoint test's); a part naming
    the model it invoked (the suite's target `endpoint <name> model <TargetModel>`) must name its
    segment's artifact, relative to the dev prefix QA serves, on the QA endpoint, and a part naming
    the package its route served (`package_arn`) must name the segment's version."""
    if not isinstance(report.get("segments"), dict):
        return [
            "the report has no per-segment results ('segments'); a segmented project's QA evidence "
            "is the multi-model endpoint test's report, one part per segment"
        ]
    prefix = f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['dev']}"
    endpoint = f"endpoint {cfg.environment('qa').endpoint_name}"
    problems = []
    for segment, value in versions.items():
        part = report["segments"].get(segment)
        routed = part.get("package_arn") if isinstance(part, dict) else None
        if routed is not None and routed != value.arn:
            problems.append(f"segment {segment}: the report tested the route of {routed}, not {value.arn}")
        target = part.get("target") if isinstance(part, dict) else None
        if not isinstance(target, str) or " model " not in target:
            continue
        where, _, model = target.rpartition(" model ")
        wanted = model_artifact_uri(value).removeprefix(prefix)
        if model != wanted or (where.startswith("endpoint ") and where != endpoint):
            problems.append(
                f"segment {segment}: the report tested {target}, "
                f"not {value.arn} (model {wanted} on {endpoint})"
            )
    return problems


def object_problems(report: dict[str, Any], artifacts: dict[str, Any]) -> list[str]:
    """Why a per-segment report did not test the digested objects (empty: it did or cannot say):
    a part naming the S3 object its route served (`object`, an S3 VersionId or `sha256:<hex>`)
    must name the object `registry digest` read for that segment (`artifacts`: {segment: Artifact})."""
    from ..deploy.routes import object_identity

    problems = []
    parts = report.get("segments") if isinstance(report, dict) else None
    for segment, artifact in artifacts.items():
        part = parts.get(segment) if isinstance(parts, dict) else None
        routed = part.get("object") if isinstance(part, dict) else None
        if not routed or str(routed).startswith("etag:"):
            continue
        digested = object_identity(artifact.version_id, artifact.sha256)
        if routed != digested:
            problems.append(
                f"segment {segment}: the endpoint served object {routed} of {artifact.uri}, "
                f"the digest read {digested}"
            )
    return problems


def build_set(
    cfg: Config,
    versions: dict[str, ModelVersion],
    qa_report: dict[str, Any],
    git_sha: str | None = None,
    now: datetime | None = None,
    clients: Clients | None = None,
) -> dict[str, Any]:
    """The lock of a complete set (`segments.order`), each entry as `lockfile.lock_for` writes
    it; LockError naming each segment that cannot be locked."""
    ordered = sets.order(cfg, list(versions.values()))
    when = now or datetime.now(UTC)
    entries: dict[str, Any] = {}
    problems: list[str] = []
    for segment, value in ordered.items():
        try:
            entries[segment] = lock_for(
                cfg, value, segment_report(qa_report, segment), git_sha, when, clients
            )
        except DeployError as exc:
            problems.append(f"segment {segment}: {exc}")
    if problems:
        raise LockError("refusing to lock the set: " + "; ".join(problems))
    lock = {
        "segment_column": sets.segment_column(cfg),
        "segments": entries,
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return validate_set(cfg, lock, "lock")


def validate_set(cfg: Config, lock: Any, where: str) -> dict[str, Any]:
    """The shape of a set lock: its keys, the configured column and segments (order included),
    each entry a valid single-version lock, one commit and no version twice."""
    values = sets.segment_values(cfg)
    if not values:
        raise LockError(
            f"{where}: the lock names one version per segment, but model.segments is off "
            "(a lock of one version is expected)"
        )
    if not isinstance(lock, dict) or "segments" not in lock:
        raise LockError(
            f"{where}: model.segments is on ({', '.join(values)}): the lock must name one version per "
            "segment under 'segments'"
        )
    missing = [key for key in SET_KEYS if key not in lock]
    unknown = sorted(set(lock) - set(SET_KEYS))
    if missing or unknown:
        raise LockError(
            f"{where}: expected exactly the keys {', '.join(SET_KEYS)} "
            f"(missing {', '.join(missing) or 'none'}; unknown {', '.join(unknown) or 'none'})"
        )
    if lock["segment_column"] != sets.segment_column(cfg):
        raise LockError(
            f"{where}: segment_column {lock['segment_column']!r}; "
            f"model.segments.column is {sets.segment_column(cfg)!r}"
        )
    if not isinstance(lock["created_at"], str) or not TIMESTAMP.match(lock["created_at"]):
        raise LockError(f"{where}: created_at {lock['created_at']!r} is not an ISO-8601 UTC time (…Z)")
    entries = lock["segments"]
    if not isinstance(entries, dict):
        raise LockError(f"{where}: 'segments' must be an object of segment value -> lock entry")
    missing = [value for value in values if value not in entries]
    extra = [value for value in entries if value not in values]
    if missing or extra:
        raise LockError(
            f"{where}: the lock's segments must be exactly {', '.join(values)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; not configured {', '.join(extra)}" if extra else "")
        )
    if tuple(entries) != values:
        raise LockError(f"{where}: segments in the order {', '.join(entries)}; expected {', '.join(values)}")
    for segment, entry in entries.items():
        validate(cfg, entry, f"{where}: segment {segment}")
    arns = [entry["model_package_arn"] for entry in entries.values()]
    if len(set(arns)) != len(arns):
        raise LockError(f"{where}: a version is locked for more than one segment ({', '.join(arns)})")
    shas = {entry["git_sha"] for entry in entries.values()}
    if len(shas) != 1 or not GIT_SHA.match(next(iter(shas))):
        named = ", ".join(f"{segment}: {entry['git_sha']}" for segment, entry in entries.items())
        raise LockError(f"{where}: the segments were built from different commits ({named})")
    return lock


def require_passed(lock: dict[str, Any], where: str) -> None:
    failed = [segment for segment, entry in lock["segments"].items() if not entry["qa_test"]["passed"]]
    if failed:
        raise LockError(
            f"{where}: qa_test.passed is false for segment {', '.join(failed)}; only QA-verified versions "
            "may be released"
        )


def verify_set(
    cfg: Config, clients: Clients, lock: dict[str, Any], pull_request: Any, check_provenance: bool = True
) -> dict[str, ModelVersion]:
    """`release.verify_release` for each segment's entry, then the set as a whole against the
    registry (segment, column, one pipeline run); LockError naming each failing segment."""
    from .release import verify_release

    versions: dict[str, ModelVersion] = {}
    problems: list[str] = []
    for segment, entry in lock["segments"].items():
        try:
            value = verify_release(cfg, clients, entry, pull_request, check_provenance)
        except DeployError as exc:
            problems.append(f"segment {segment}: {exc}")
            continue
        if value.metadata.get(sets.SEGMENT_KEY) != segment:
            problems.append(
                f"segment {segment}: {value.arn} is registered for segment "
                f"{value.metadata.get(sets.SEGMENT_KEY) or 'none'}"
            )
        versions[segment] = value
    if not problems:
        try:
            sets.order(cfg, list(versions.values()))
        except sets.SetError as exc:
            problems.append(str(exc))
    if problems:
        raise LockError("release refused: " + "; ".join(problems))
    log(f"release verified: the set of {len(versions)} segments ({', '.join(versions)})")
    return versions
