"""Markdown for the dev -> prod pull request: the locked candidate next to the prod champion.

The candidate is the version in model.lock.json (metrics and QA test result as locked); the
champion is the newest Approved version in the prod group of the shared registry.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..deploy.aws import Clients
from .lifecycle import latest_package
from .version import ModelVersion, parse_package_arn, resolve


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def champion(cfg: Config, clients: Clients) -> ModelVersion | None:
    """The newest Approved prod version with its metrics, or None before the first release."""
    summary = latest_package(clients, cfg.group("prod"), status="Approved")
    if summary is None:
        return None
    return resolve(cfg, clients, parse_package_arn(summary["ModelPackageArn"]), metrics=True)


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
