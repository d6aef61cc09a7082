"""Markdown for the dev -> prod pull request: the locked candidate next to the prod champion.

The candidate is the version in model.lock.json (metrics and QA test result as locked); the
champion is the prod version the prod endpoint serves (`lifecycle.champion_version`: the one
released last), not merely the newest Approved one. First the decision: the lock's champion
comparison (both scored on the same held-out rows by the pipeline), the tolerance and the
verdict of the release pull request's champion check (`compare_champion.verdict`); then each
version's registered metrics, scored on each version's own test split, for information.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..deploy.aws import Clients
from .compare_champion import NONE, verdict
from .lifecycle import champion_version
from .version import ModelVersion, read_metrics


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def champion(cfg: Config, clients: Clients, segment: str | None = None) -> ModelVersion | None:
    """The served prod version (of `segment`) with its metrics, or None before the first release."""
    served = champion_version(cfg, clients, segment)
    return None if served is None else read_metrics(clients, served)


def comparison_markdown(cfg: Config, lock: dict[str, Any], current: ModelVersion | None) -> str:
    """Candidate vs champion table, the gate metric called out, and the QA test result."""
    gate = cfg.pipeline.metric
    candidate = lock["metrics"]
    lines = [f"## Release candidate: {_cell(cfg.project.model_name)} dev version {lock['version']}", ""]
    lines += [
        f"- candidate: `{lock['model_package_arn']}` "
        f"(commit `{lock['git_sha'][:12]}`, locked {lock['created_at']})",
    ]
    if current is None:
        lines += ["- prod champion: none yet (this is the first release)", ""]
        champion_metrics: dict[str, float] = {}
    else:
        source = current.source_arn or "unknown source"
        lines += [f"- prod champion: `{current.arn}` (promoted from `{source}`)", ""]
        champion_metrics = dict(current.metrics or {})
    lines += champion_section(cfg, lock, current)
    lines += ["### Registered metrics (each version on its own test split)", ""]
    names = sorted(set(candidate) | set(champion_metrics), key=lambda n: (n != gate, n))
    lines += ["| metric | candidate | prod champion | change |", "|---|---|---|---|"]
    for name in names:
        new, old = candidate.get(name), champion_metrics.get(name)
        change = "n/a" if new is None or old is None else f"{new - old:+.4f}"
        label = f"**{_cell(name)}** (gate)" if name == gate else _cell(name)
        lines.append(f"| {label} | {_number(new)} | {_number(old)} | {change} |")
    if not names:
        lines.append("| (no metrics recorded) | | | |")
    threshold = cfg.pipeline.metric_threshold
    gate_value = candidate.get(gate)
    if gate_value is not None:
        verdict = "meets" if gate_value >= threshold else "**does not meet**"
        lines += ["", f"Gate: candidate {gate} {gate_value:.4f} {verdict} the threshold {threshold:g}."]
    qa = lock["qa_test"]
    lines += [
        "",
        f"### QA endpoint tests: {'passed' if qa['passed'] else '**FAILED**'}",
        "",
        _cell(qa["summary"]) + (f" (endpoint `{qa['endpoint']}`)" if qa.get("endpoint") else ""),
        "",
    ]
    return "\n".join(lines)


VERDICT_TITLES = {"passed": "passed", "lost": "**LOST**", "stale": "**STALE**", "missing": "**MISSING**"}


def champion_section(cfg: Config, lock: dict[str, Any], current: ModelVersion | None) -> list[str]:
    """The champion comparison the lock carries and the champion check's verdict on it."""
    comparison = lock.get("comparison")
    served = current.arn if current is not None else NONE
    decided = verdict(cfg, comparison, served)
    lines = [f"### Champion check: {VERDICT_TITLES[decided.status]}", ""]
    if comparison is not None:
        first = comparison["champion"] is None
        required = "0 (first release)" if first else f"{_number(comparison['required'])}"
        lines += [
            "Both scored by the pipeline on the same held-out rows; the candidate must reach "
            "champion - tolerance.",
            "",
            "| metric | candidate | prod champion | tolerance | required | verdict |",
            "|---|---|---|---|---|---|",
            f"| {_cell(comparison['metric'])} | {_number(comparison['candidate'])} | "
            f"{'none' if first else _number(comparison['champion'])} | {comparison['tolerance']:g} | "
            f"{required} | {VERDICT_TITLES[decided.status]} |",
            "",
            f"- compared with: `{_cell(comparison['champion_version'])}`",
            f"- prod serves now: `{_cell(served)}`",
        ]
    lines += [f"- {_cell(reason)}" for reason in decided.reasons]
    return [*lines, ""]
