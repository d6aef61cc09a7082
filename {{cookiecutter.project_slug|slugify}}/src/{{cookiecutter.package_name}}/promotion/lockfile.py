"""model.lock.json: the QA-verified model version that the prod branch deploys.

(A segmented project locks one such entry per segment: promotion/lockset.py; `entries`
gives the entries of either shape.)

Written on the dev branch after the QA endpoint tests pass, reviewed in the dev -> prod pull
request, read by the prod release. What reviewers approve is exactly what ships; rolling prod
back is a revert of the lock change. Shape:

    {
      "model_package_arn": "arn:aws:sagemaker:<region>:<registry account>:model-package/<model>-dev/<n>",
      "version": <n>,
      "git_sha": "<commit the version was built from>",
      "metrics": {"auc": 0.98, ...},
      "qa_test": {"passed": true, "summary": "...", "endpoint": "<qa endpoint>"},
      "artifact": {"uri": "s3://<bucket>/<model>-dev/.../model.tar.gz", "version_id": "<S3 version>",
                   "sha256": "<sha256 of the bytes QA served>"},
      "containers_sha256": "<sha256 of the container definitions QA tested>",
      "images": ["<exact image URI of each container>"],
      "created_at": "2025-01-31T12:00:00Z",
      "comparison": {"metric": "auc", "candidate": 0.98, "champion": 0.97,
                     "champion_version": "<prod version ARN, or none>", "tolerance": 0.01,
                     "required": 0.96, "passed": true}
    }

`comparison` is the champion comparison the pipeline's Evaluate step made on the same held-out
rows (`compare_champion`), read from the version's evaluation report, never from the caller.
It is null for a version registered before the pipeline compared candidates with the champion
(and a lock file written before then has no such key, read as null): such a lock passes `lock
check` only when the registry holds no comparison either, and the release pull request's
champion check refuses it, asking for a new dev pipeline run.

The lock is a claim, not evidence: the release re-checks every field against the registry
(the QA result and checksum QA recorded there, git SHA, metrics, images) and the artifact
bytes before any mutating call (`release.verify_release`), the champion comparison included.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import config
from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .compare_champion import ComparisonError, describe, load_comparison, registered_comparison
from .evidence import SHA256, Artifact, load_artifact, qa_evidence
from .segments import segment_values, single_version_problem
from .version import ModelVersion, PackageRef, check_package

REQUIRED = {
    "model_package_arn": str,
    "version": int,
    "git_sha": str,
    "metrics": dict,
    "qa_test": dict,
    "artifact": dict,
    "containers_sha256": str,
    "images": list,
    "created_at": str,
}
# Keys a lock may lack (read as null): written by every `lock write` since champion comparisons.
OPTIONAL = ("comparison",)
GIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class LockError(DeployError):
    """The lock file is missing, malformed or names a version it must not."""


def repo_root() -> Path:
    """The repository holding the config file (config/project.json sits one level down)."""
    return config.config_path().resolve().parent.parent


def lock_path(cfg: Config, root: Path | None = None) -> Path:
    return (root or repo_root()) / cfg.lock_file


def report_passed(report: Any) -> bool:
    """Whether a test report (SuiteReport.to_dict(), or one segment's part) is a pass: it says
    passed, names at least one check and every check it names passed. A report that says passed
    over no checks, or over a failed one, tested nothing it can show."""
    if not isinstance(report, dict) or report.get("passed") is not True:
        return False
    checks = report.get("checks")
    if not isinstance(checks, list) or not checks:
        return False
    return all(isinstance(c, dict) and c.get("passed") is True for c in checks)


def summarise_report(report: dict[str, Any]) -> str:
    """One line from an endpoint test report (the suite's SuiteReport.to_dict())."""
    checks = report.get("checks", [])
    passed = sum(1 for c in checks if c.get("passed"))
    latency = report.get("latency", {})
    parts = [f"{passed}/{len(checks)} checks passed"]
    if latency:
        parts.append(
            f"p50 {latency.get('p50_ms', 0):.1f} ms, p95 {latency.get('p95_ms', 0):.1f} ms, "
            f"error rate {latency.get('error_rate', 0):.1%} over {latency.get('requests', 0)} requests"
        )
    failed = [c.get("name", "?") for c in checks if not c.get("passed")]
    if failed:
        parts.append("failed: " + ", ".join(failed))
    return "; ".join(parts)


def build_lock(
    cfg: Config,
    arn: str | PackageRef,
    git_sha: str,
    metrics: dict[str, float],
    qa_report: dict[str, Any],
    artifact: Artifact,
    images: list[str],
    containers_sha256: str,
    now: datetime | None = None,
    comparison: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The lock for a QA-verified version. It raises LockError if the QA report did not pass or
    the champion comparison says the candidate lost."""
    ref = arn if isinstance(arn, PackageRef) and arn.kind == "dev" else check_package(cfg, str(arn), "dev")
    arn = ref.arn
    if not report_passed(qa_report):
        raise LockError(
            f"the QA endpoint tests did not pass ({summarise_report(qa_report)}); refusing to lock {arn}"
        )
    lock = {
        "model_package_arn": arn,
        "version": ref.version,
        "git_sha": git_sha,
        "metrics": {k: float(v) for k, v in sorted(metrics.items())},
        "qa_test": {
            "passed": True,
            "summary": summarise_report(qa_report),
            "endpoint": cfg.environment("qa").endpoint_name,
        },
        "artifact": artifact.to_dict(),
        "containers_sha256": containers_sha256,
        "images": list(images),
        "created_at": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "comparison": comparison,
    }
    validate(cfg, lock, "lock")
    if comparison is not None and not comparison["passed"]:
        raise LockError(f"{arn} lost against the prod champion ({describe(comparison)}); refusing to lock it")
    return lock


def lock_for(
    cfg: Config,
    version: ModelVersion,
    qa_report: dict[str, Any],
    git_sha: str | None = None,
    now: datetime | None = None,
    clients: Clients | None = None,
) -> dict[str, Any]:
    """The lock for a resolved dev version (metrics read): its git SHA, metrics, the artifact QA
    recorded on it in the registry (`evidence.record_qa`), its exact image URIs and, read with
    `clients`, the champion comparison it was registered with (`compare_champion`; without
    `clients` the lock carries none, which the release pull request's champion check refuses).

    It raises LockError when the version has no git SHA, a git SHA given differs from it, the
    registry holds no passed QA record for it, the QA report did not pass, or its champion
    comparison is unreadable, contradicts the registry or says the candidate lost.
    """
    sha = version.git_sha
    if not sha:
        raise LockError(f"{version.arn} has no git_sha metadata; it was not registered by this pipeline")
    if git_sha and git_sha != sha:
        raise LockError(f"{version.arn} was built from commit {sha}, not {git_sha}")
    if version.metrics is None:
        raise LockError(f"the metrics of {version.arn} were not read; resolve it with metrics=True")
    if single_version_problem(cfg, version):
        raise LockError(f"refusing to lock: {single_version_problem(cfg, version)}")
    qa = qa_evidence(version.metadata)
    if not qa.passed or not qa.sha256:
        raise LockError(
            f"{version.arn} has no passed QA record in the registry (qa_result: {qa.result or 'none'}); "
            "only versions whose QA endpoint tests passed may be locked"
        )
    if version.approval == "Rejected":
        raise LockError(f"{version.arn} is Rejected; it cannot be locked")
    uri = version.model_data_urls[0] if len(version.model_data_urls) == 1 else ""
    artifact = Artifact(uri, qa.version_id or "", qa.sha256)
    comparison = None
    if clients is not None:
        try:
            comparison = registered_comparison(cfg, clients, version)
        except ComparisonError as exc:
            raise LockError(f"refusing to lock {version.arn}: {exc}") from exc
        if comparison is None:
            log(
                f"{version.arn} was registered without a champion comparison (by a pipeline from before "
                "champion comparisons); the lock carries none and the release pull request's champion "
                "check will ask for a new dev pipeline run"
            )
    return build_lock(
        cfg,
        version.ref,
        sha,
        dict(version.metrics),
        qa_report,
        artifact,
        list(version.images),
        qa.containers or "",
        now,
        comparison,
    )


def locked_ref(cfg: Config, lock: dict[str, Any]) -> PackageRef:
    """The dev version a validated lock names."""
    return check_package(cfg, lock["model_package_arn"], "dev")


def validate(cfg: Config, lock: Any, where: str) -> dict[str, Any]:
    """Check the shape and that the ARN is a dev version of this repo's shared registry.

    It raises LockError with one line naming the first problem.
    """
    if not isinstance(lock, dict):
        raise LockError(f"{where}: expected a JSON object")
    for key, kind in REQUIRED.items():
        if key not in lock:
            raise LockError(f"{where}: missing {key!r}")
        if not isinstance(lock[key], kind) or (kind is int and isinstance(lock[key], bool)):
            raise LockError(f"{where}: {key!r} must be {kind.__name__}, got {type(lock[key]).__name__}")
    unknown = sorted(set(lock) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise LockError(f"{where}: unknown keys {', '.join(unknown)}")
    try:
        ref = check_package(cfg, lock["model_package_arn"], "dev")
    except DeployError as exc:
        raise LockError(f"{where}: {exc}") from exc
    if ref.version != lock["version"]:
        raise LockError(f"{where}: version {lock['version']} does not match the ARN's version {ref.version}")
    if not GIT_SHA.match(lock["git_sha"]):
        raise LockError(f"{where}: git_sha {lock['git_sha']!r} is not a commit SHA")
    for name, value in lock["metrics"].items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LockError(f"{where}: metric {name!r} must be a number")
    qa = lock["qa_test"]
    if not isinstance(qa.get("passed"), bool) or not isinstance(qa.get("summary"), str):
        raise LockError(f"{where}: qa_test needs 'passed' (true/false) and 'summary' (text)")
    try:
        load_artifact(lock["artifact"], f"{where}: artifact")
    except DeployError as exc:
        raise LockError(str(exc)) from exc
    if not SHA256.match(lock["containers_sha256"]):
        raise LockError(
            f"{where}: containers_sha256 {lock['containers_sha256']!r} is not 64 lowercase hex digits"
        )
    if not lock["images"] or not all(isinstance(i, str) and i for i in lock["images"]):
        raise LockError(f"{where}: images must be a non-empty list of image URIs")
    if not TIMESTAMP.match(lock["created_at"]):
        raise LockError(f"{where}: created_at {lock['created_at']!r} is not an ISO-8601 UTC time (…Z)")
    if lock.get("comparison") is not None:
        try:
            load_comparison(cfg, lock["comparison"], f"{where}: comparison")
        except ComparisonError as exc:
            raise LockError(str(exc)) from exc
    return lock


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique: with a repeated key a reviewer reading the diff could
    see one value while the release reads another."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice")
        seen[key] = value
    return seen


def entries(lock: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    """The single-version entries of a validated lock: `{None: lock}` for one version, else
    `{segment value: entry}` in the lock's order (a segmented project locks one per segment)."""
    if "segments" in lock:
        return dict(lock["segments"])
    return {None: lock}


def write_lock(path: Path, lock: dict[str, Any]) -> None:
    path.write_text(json.dumps(lock, indent=2) + "\n")


def read_lock(cfg: Config, path: Path | None = None, require_passed: bool = True) -> dict[str, Any]:
    """Read and validate the lock; by default also require that its QA tests passed."""
    path = path or lock_path(cfg)
    try:
        lock = json.loads(path.read_text(), object_pairs_hook=_no_duplicate_keys)
    except FileNotFoundError as exc:
        raise LockError(f"{path}: no lock file; the dev branch writes it after the QA tests pass") from exc
    except json.JSONDecodeError as exc:
        raise LockError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except ValueError as exc:
        raise LockError(f"{path}: {exc}") from exc
    if segment_values(cfg) or (isinstance(lock, dict) and "segments" in lock):
        from .lockset import require_passed as set_passed
        from .lockset import validate_set

        validate_set(cfg, lock, str(path))
        if require_passed:
            set_passed(lock, str(path))
        return lock
    validate(cfg, lock, str(path))
    if require_passed and not lock["qa_test"]["passed"]:
        raise LockError(f"{path}: qa_test.passed is false; only QA-verified versions may be released")
    return lock
