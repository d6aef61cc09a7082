"""What one run of the endpoint suite found: checks, latency, and the report's text, markdown and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class SuiteReport:
    """Outcome of one run; passed is True only when every check passed."""

    passed: bool
    checks: list[Check]
    latency: dict[str, float]
    target: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    # What ran: the endpoint suite, or a batch-only project's transform test (no latency: a job
    # has no per-request timing, so `latency` is empty and no burst table is shown).
    title: str = "Endpoint tests"

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "target": self.target,
            "seconds": round(self.seconds, 3),
            "checks": [asdict(c) for c in self.checks],
            "latency": self.latency,
            "thresholds": self.thresholds,
        }

    def to_markdown(self) -> str:
        """Tables for a GitHub job summary ($GITHUB_STEP_SUMMARY)."""
        verdict = "PASSED" if self.passed else "FAILED"
        ok = sum(c.passed for c in self.checks)
        lines = [
            f"### {self.title} {verdict}: {_cell(self.target)}",
            "",
            f"{ok} of {len(self.checks)} checks passed in {self.seconds:.1f} s.",
            "",
            "| check | result | detail |",
            "|---|---|---|",
        ]
        lines += [
            f"| {_cell(c.name)} | {'pass' if c.passed else '**FAIL**'} | {_cell(c.detail)} |"
            for c in self.checks
        ]
        t = self.thresholds
        lat = self.latency
        if not lat:
            return "\n".join([*lines, ""])
        lines += [
            "",
            "| burst requests | p50 ms | p95 ms | error rate |",
            "|---|---|---|---|",
            f"| {lat.get('requests', 0)} | {lat.get('p50_ms', 0):.1f} (max {t.get('max_p50_ms', 0):g}) "
            f"| {lat.get('p95_ms', 0):.1f} (max {t.get('max_p95_ms', 0):g}) "
            f"| {lat.get('error_rate', 0):.1%} (max {t.get('max_error_rate', 0):.1%}) |",
            "",
        ]
        return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_text(report: SuiteReport) -> str:
    """Plain-text table for a terminal."""
    width = max(len(c.name) for c in report.checks)
    lines = [f"  {c.name:<{width}}  {'pass' if c.passed else 'FAIL'}  {c.detail}" for c in report.checks]
    verdict = "PASSED" if report.passed else "FAILED"
    ok = sum(c.passed for c in report.checks)
    lines.append(
        f"{report.title.lower()} {verdict}: {ok}/{len(report.checks)} checks against {report.target}"
    )
    return "\n".join(lines)


def write_outputs(report: SuiteReport, summary: Path | None, json_path: Path | None) -> None:
    """Append the markdown to `summary` (GitHub's job summary file appends) and write the JSON."""
    if summary:
        with Path(summary).open("a") as handle:
            handle.write(report.to_markdown() + "\n")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
