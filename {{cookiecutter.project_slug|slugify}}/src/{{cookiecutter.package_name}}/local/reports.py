"""The rehearsal's summary table (printed) and its report (written to the work dir).

report.md: the steps, the evaluation (metrics, confusion matrix, ROC and precision-recall curves
as SVG files beside it), the hyperparameters, a data summary from preprocess's schema.json and
the endpoint tests. report.json: the same facts as data. hyperparameters.json: what train got.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..endpoint_tests.suite import SuiteReport, format_text
from .evaluation_report import (
    Evaluation,
    class_names,
    data_markdown,
    evaluation_markdown,
    hyperparameters_markdown,
    read_evaluation,
    write_charts,
)
from .stages import StepResult


@dataclass
class RunFacts:
    """What the report says about the run besides its steps."""

    run: str
    framework: str
    params: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)

    def hyperparameters(self) -> dict[str, Any]:
        return {"framework": self.framework, "params": self.params, "overrides": self.overrides}


def summary(
    steps: list[StepResult],
    total: float,
    metrics: dict[str, float],
    suite: SuiteReport | None,
    work: Path,
    run_dir: Path | None = None,
) -> str:
    lines = ["", "Summary", f"  {'step':<15} {'status':<8} {'seconds':>8}  detail"]
    for s in steps:
        lines.append(f"  {s.name:<15} {s.status:<8} {s.seconds:8.2f}  {s.detail}")
    lines.append(f"  {'total':<15} {'':<8} {total:8.2f}")
    if metrics:
        lines += ["", "Metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())]
    if suite is not None and not suite.latency:  # a transform test: no per-request latency
        lines += ["", f"{suite.title} checks:", format_text(suite)]
    elif suite is not None:
        lat, t = suite.latency, suite.thresholds
        lines += [
            "",
            "Endpoint checks:",
            format_text(suite),
            f"Latency: {lat['requests']} requests, p50 {lat['p50_ms']:.1f} ms (max {t['max_p50_ms']:g}), "
            f"p95 {lat['p95_ms']:.1f} ms (max {t['max_p95_ms']:g}), "
            f"error rate {lat['error_rate']:.1%} (max {t['max_error_rate']:.1%})",
        ]
    lines += ["", f"Reports: {show(work / 'report.md')} (charts beside it), {show(work / 'report.json')}"]
    if run_dir is not None:
        lines.append(f"Kept in {show(run_dir)}; `make compare-runs` compares the last two runs")
    return "\n".join(lines)


def step_rows(steps: list[StepResult]) -> list[dict[str, Any]]:
    return [asdict(s) | {"seconds": round(s.seconds, 3)} for s in steps]


def read_schema(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_reports(
    work: Path,
    report: dict[str, Any],
    steps: list[StepResult],
    suite: SuiteReport | None,
    facts: RunFacts,
    schema_path: Path,
) -> None:
    """report.json (the dict as given, plus the run's facts), the charts, hyperparameters.json
    and report.md."""
    work.mkdir(parents=True, exist_ok=True)
    evaluation_json = work / "evaluation" / "evaluation.json"
    evaluation = read_evaluation(evaluation_json) if evaluation_json.is_file() else Evaluation()
    schema = read_schema(schema_path)
    labels = class_names(schema)
    charts = write_charts(evaluation, work, labels)
    report = {**report, "run": facts.run, "hyperparameters": facts.hyperparameters()}
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (work / "hyperparameters.json").write_text(json.dumps(facts.hyperparameters(), indent=2) + "\n")
    reason = report["reason"]
    verdict = "PASSED" if not reason else f"FAILED: {reason}"
    gate = report.get("gate") or {}
    value = gate.get("value")
    md = [
        f"## Local rehearsal {verdict}",
        "",
        f"Run {facts.run}: framework {facts.framework}, data `{Path(str(report.get('data', ''))).name}`,"
        " gate "
        + (
            f"{gate.get('metric')} {value:.4f} (threshold {gate.get('threshold')})."
            if isinstance(value, int | float)
            else f"{gate.get('metric')} not reached (threshold {gate.get('threshold')})."
        ),
        "",
        "| step | status | seconds | detail |",
        "|---|---|---|---|",
        *(f"| {s.name} | {s.status} | {s.seconds:.2f} | {s.detail.replace('|', '/')} |" for s in steps),
        "",
        *evaluation_markdown(evaluation, charts, labels),
        *hyperparameters_markdown(facts.framework, facts.params, facts.overrides),
        *data_markdown(schema),
    ]
    if suite is not None:
        md.append(suite.to_markdown())
    (work / "report.md").write_text("\n".join(md) + "\n")


def show(path: Path) -> str:
    """The path relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
