"""The champion comparison: what the pipeline decided, carried into the lock and re-checked.

The pipeline's Evaluate step scores the candidate and the prod champion (the version the prod
endpoint served when the pipeline started) on the same held-out rows and writes
`champion_comparison` into evaluation.json:

    {"metric": "auc", "candidate": 0.93, "champion": 0.91, "champion_version": "<prod ARN>",
     "tolerance": 0.01, "required": 0.90, "passed": true}

(`champion` null, `champion_version` "none" and `required` 0.0 on the first release). The gate
registers the candidate only when it passed; the version carries customer metadata
`champion_version` and `champion_metric` (the champion's score as text, "none").

- `registered_comparison`: the comparison of a registered version, read from its evaluation
  report (the object version QA pinned, hashed against the sha256 QA recorded) and checked
  against its customer metadata. None for a version registered before the pipeline compared
  candidates with the champion (neither the report nor the metadata has one).
- `mismatches`: where the lock's `comparison` and the registry's differ.
- `verdict`: may the locked candidate replace the champion prod serves now? It lost when
  candidate < champion - tolerance; the comparison is stale when prod now serves another
  champion, or the config names another metric or tolerance (then re-run the dev pipeline).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..config import Config
from ..deploy.aws import Clients, DeployError, error_message
from .evidence import QA_REPORT_SHA256_KEY
from .version import ModelVersion, check_package, pinned_report_request

COMPARISON_KEY = "champion_comparison"
CHAMPION_VERSION_KEY = "champion_version"
CHAMPION_METRIC_KEY = "champion_metric"
NONE = "none"
FIELDS = ("metric", "candidate", "champion", "champion_version", "tolerance", "required", "passed")
RERUN = (
    "re-run the dev pipeline (push to the dev branch) to compare the candidate with the champion prod serves"
)


class ComparisonError(DeployError):
    """A champion comparison is malformed, unreadable or contradicts the registry."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ComparisonError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _close(a: float, b: float, tolerance: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=tolerance)


def load_comparison(cfg: Config, data: Any, where: str) -> dict[str, Any]:
    """A checked comparison: exactly FIELDS, the champion a prod version of this registry (or
    "none" with no score), `required` = champion - tolerance (at least 0; 0.0 without one) and
    `passed` = candidate >= required. ComparisonError names `where` and the first problem."""
    if not isinstance(data, dict) or set(data) != set(FIELDS):
        raise ComparisonError(f"{where}: expected an object with exactly {', '.join(FIELDS)}")
    if not isinstance(data["metric"], str) or not data["metric"]:
        raise ComparisonError(f"{where}: metric must be the metric's name")
    candidate = _number(data["candidate"], f"{where}: candidate")
    tolerance = _number(data["tolerance"], f"{where}: tolerance")
    required = _number(data["required"], f"{where}: required")
    if tolerance < 0:
        raise ComparisonError(f"{where}: tolerance {tolerance:g} is negative; expected 0 or more")
    if not isinstance(data["passed"], bool):
        raise ComparisonError(f"{where}: passed must be true or false")
    champion_version = data["champion_version"]
    if not isinstance(champion_version, str):
        raise ComparisonError(f"{where}: champion_version must be a prod version ARN or {NONE!r}")
    if champion_version == NONE:
        if data["champion"] is not None:
            raise ComparisonError(f"{where}: champion must be null when champion_version is {NONE!r}")
        champion, expected = None, 0.0
    else:
        try:
            check_package(cfg, champion_version, "prod")
        except DeployError as exc:
            raise ComparisonError(f"{where}: champion_version: {exc}") from exc
        champion = _number(data["champion"], f"{where}: champion")
        expected = max(0.0, champion - tolerance)  # a score is never below 0
    if not _close(required, expected, 1e-6):
        raise ComparisonError(
            f"{where}: required {required} is not champion - tolerance ({expected}); "
            "the comparison was altered"
        )
    if data["passed"] != (candidate >= required):
        raise ComparisonError(
            f"{where}: passed is {str(data['passed']).lower()} but the candidate {candidate} is "
            f"{'at least' if candidate >= required else 'below'} the required {required}"
        )
    return {
        "metric": data["metric"],
        "candidate": candidate,
        "champion": champion,
        "champion_version": champion_version,
        "tolerance": tolerance,
        "required": required,
        "passed": data["passed"],
    }


def _report(clients: Clients, version: ModelVersion) -> dict[str, Any] | None:
    """The version's evaluation report: the object version pinned on it (by QA on a dev version),
    its bytes checked against the sha256 QA recorded; None when the version names no report."""
    uri = version.quality_report_uri
    request = pinned_report_request(version)
    if request is None:
        return None
    pinned = request.get("VersionId")
    try:
        body = clients("s3").get_object(**request)["Body"].read()
    except ClientError as exc:
        raise ComparisonError(
            f"cannot read the evaluation report {uri} (version {pinned or 'current'}): {error_message(exc)}"
        ) from exc
    recorded = version.metadata.get(QA_REPORT_SHA256_KEY)
    actual = hashlib.sha256(body).hexdigest()
    if recorded and actual != recorded:
        raise ComparisonError(
            f"the evaluation report {uri} (version {pinned or 'current'}) has sha256 {actual}; "
            f"QA read {recorded}"
        )
    try:
        report = json.loads(body)
    except ValueError as exc:
        raise ComparisonError(f"the evaluation report {uri} is not JSON: {exc}") from exc
    if not isinstance(report, dict):
        raise ComparisonError(f"the evaluation report {uri} is not a JSON object")
    return report


def registered_comparison(cfg: Config, clients: Clients, version: ModelVersion) -> dict[str, Any] | None:
    """The comparison `version` was registered with (see the module docstring); None when it
    was registered before the pipeline compared candidates with the champion. ComparisonError
    when the report cannot be read or the report, the metadata and the metrics disagree."""
    report = _report(clients, version) or {}
    data = report.get(COMPARISON_KEY)
    meta_version = version.metadata.get(CHAMPION_VERSION_KEY)
    meta_metric = version.metadata.get(CHAMPION_METRIC_KEY)
    if data is None and meta_version is None and meta_metric is None:
        return None
    if data is None:
        raise ComparisonError(
            f"{version.arn} has {CHAMPION_VERSION_KEY} metadata {meta_version!r} but its evaluation "
            f"report holds no {COMPARISON_KEY}"
        )
    comparison = load_comparison(cfg, data, f"{COMPARISON_KEY} of {version.arn}")
    problems = []
    if meta_version != comparison["champion_version"]:
        problems.append(
            f"{CHAMPION_VERSION_KEY} metadata {meta_version or 'missing'}, "
            f"evaluation report {comparison['champion_version']}"
        )
    champion = comparison["champion"]
    if champion is None:
        agrees = meta_metric == NONE
    else:
        try:
            agrees = meta_metric is not None and _close(float(meta_metric), champion, 1e-6)
        except ValueError:
            agrees = False
    if not agrees:
        problems.append(
            f"{CHAMPION_METRIC_KEY} metadata {meta_metric or 'missing'}, evaluation report {_score(champion)}"
        )
    metrics = dict(version.metrics or {})
    score = metrics.get(comparison["metric"])
    if version.metrics is not None and (score is None or not _close(score, comparison["candidate"], 1e-6)):
        problems.append(
            f"the candidate's {comparison['metric']} is {_score(score)} in its metrics, "
            f"{comparison['candidate']} in the comparison"
        )
    if problems:
        raise ComparisonError(
            f"the champion comparison of {version.arn} contradicts itself: " + "; ".join(problems)
        )
    return comparison


def _score(value: float | None) -> str:
    return NONE if value is None else f"{value:.4f}"


def describe(comparison: dict[str, Any]) -> str:
    """One line with both numbers, the tolerance and what was required."""
    metric = comparison["metric"]
    if comparison["champion"] is None:
        return f"{metric}: candidate {_score(comparison['candidate'])}, no prod champion (first release)"
    return (
        f"{metric}: candidate {_score(comparison['candidate'])}, champion {_score(comparison['champion'])} "
        f"({comparison['champion_version']}), tolerance {comparison['tolerance']:g}, "
        f"required {_score(comparison['required'])}"
    )


def mismatches(locked: dict[str, Any] | None, registered: dict[str, Any] | None) -> list[str]:
    """Every way the lock's comparison differs from the registry's, naming both values."""
    if locked is None and registered is None:
        return []
    if locked is None:
        return [f"the lock carries no champion comparison; the registry has one ({describe(registered)})"]
    if registered is None:
        return [
            f"the lock carries a champion comparison ({describe(locked)}); the version was registered "
            "without one"
        ]
    problems = []
    for key in FIELDS:
        mine, theirs = locked[key], registered[key]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mine, theirs))
        if (numbers and not _close(mine, theirs, 1e-12)) or (not numbers and mine != theirs):
            problems.append(f"champion comparison {key}: lock {mine}, registry {theirs}")
    return problems


@dataclass(frozen=True)
class Verdict:
    """`status`: passed, lost (candidate < champion - tolerance), stale (the champion or the
    config changed since the comparison) or missing (no comparison); `reasons` say why."""

    status: str
    reasons: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def verdict(cfg: Config, comparison: dict[str, Any] | None, served: str) -> Verdict:
    """Whether the candidate of `comparison` may replace the champion prod serves now (`served`:
    its ARN, or "none"), under the config's metric and tolerance (`champion.tolerance`)."""
    if comparison is None:
        return Verdict(
            "missing",
            (
                "the locked version carries no champion comparison (it was registered before the "
                f"pipeline compared candidates with the prod champion); {RERUN}",
            ),
        )
    lost, stale = [], []
    if not comparison["passed"] or comparison["candidate"] < comparison["required"]:
        lost.append(
            f"the candidate lost: {comparison['metric']} {_score(comparison['candidate'])} is below the "
            f"champion's {_score(comparison['champion'])} minus the tolerance {comparison['tolerance']:g} "
            f"(required {_score(comparison['required'])})"
        )
    if comparison["champion_version"] != served:
        stale.append(
            f"the candidate was compared with the champion {comparison['champion_version']}, but prod "
            f"now serves {served}"
        )
    if comparison["metric"] != cfg.pipeline.metric:
        stale.append(
            f"the comparison is on {comparison['metric']}; config pipeline.metric is {cfg.pipeline.metric}"
        )
    tolerance = float(cfg.champion.tolerance)
    if not _close(comparison["tolerance"], tolerance, 1e-12):
        stale.append(
            f"the comparison used the tolerance {comparison['tolerance']:g}; config champion.tolerance "
            f"is {tolerance:g}"
        )
    if stale:
        stale[-1] += f": {RERUN}"
    if lost or stale:
        return Verdict("lost" if lost else "stale", tuple(lost + stale))
    metric, candidate = comparison["metric"], _score(comparison["candidate"])
    if comparison["champion"] is None:
        return Verdict(
            "passed", (f"first release: no prod champion to beat (candidate {metric} {candidate})",)
        )
    return Verdict(
        "passed",
        (f"the candidate reaches the required {metric}: {candidate} >= {_score(comparison['required'])}",),
    )
