"""The rehearsal's summary table (printed) and its report.json and report.md (written to the work dir)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..endpoint_tests.suite import SuiteReport, format_text
from .stages import StepResult


def summary(
    steps: list[StepResult], total: float, metrics: dict[str, float], suite: SuiteReport | None, work: Path
) -> str:
    lines = ["", "Summary", f"  {'step':<15} {'status':<8} {'seconds':>8}  detail"]
    for s in steps:
        lines.append(f"  {s.name:<15} {s.status:<8} {s.seconds:8.2f}  {s.detail}")
    lines.append(f"  {'total':<15} {'':<8} {total:8.2f}")
    if metrics:
        lines += ["", "Metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())]
    if suite is not None:
        lat, t = suite.latency, suite.thresholds
        lines += [
            "",
            "Endpoint checks:",
            format_text(suite),
            f"Latency: {lat['requests']} requests, p50 {lat['p50_ms']:.1f} ms (max {t['max_p50_ms']:g}), "
            f"p95 {lat['p95_ms']:.1f} ms (max {t['max_p95_ms']:g}), "
            f"error rate {lat['error_rate']:.1%} (max {t['max_error_rate']:.1%})",
        ]
    lines += ["", f"Reports: {show(work / 'report.json')}, {show(work / 'report.md')}"]
    return "\n".join(lines)


def step_rows(steps: list[StepResult]) -> list[dict[str, Any]]:
    return [asdict(s) | {"seconds": round(s.seconds, 3)} for s in steps]


def write_reports(
    work: Path, report: dict[str, Any], steps: list[StepResult], suite: SuiteReport | None
) -> None:
    """report.json (the dict as given) and report.md (the steps, then the suite's tables)."""
    reason = report["reason"]
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    verdict = "PASSED" if not reason else f"FAILED: {reason}"
    md = [
        f"## Local rehearsal {verdict}",
        "",
        "| step | status | seconds | detail |",
        "|---|---|---|---|",
        *(f"| {s.name} | {s.status} | {s.seconds:.2f} | {s.detail.replace('|', '/')} |" for s in steps),
        "",
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
