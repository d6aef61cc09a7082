"""The endpoint suite against a multi-model endpoint: every segment, each through its TargetModel.

A segmented model (`model.segments`) is served by one multi-model endpoint; a request names
its segment's model with TargetModel (a local server: the X-Amzn-SageMaker-Target-Model
header). The suite runs once per segment with that segment's own held-out samples, from one
sub-folder per segment: `--samples <dir>/test.csv` reads `<dir>/<segment>/test.csv` (and
`--samples <dir>` the same), which is what `registry samples` writes for a set and what
preprocess writes for a segmented rehearsal. Every check applies per segment; the run passes
only when every segment passed, and the report names each one: each part's `target` names the
model called (`endpoint <name> model <TargetModel>`) and, against an AWS endpoint, its
`package_arn` is the version the endpoint routes that segment to and its `object` the S3 object
the route names (what `registry record-qa` checks against the set and digests it records).

Standard library only (the deploy job installs boto3 alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .checks import Thresholds, check_thresholds
from .invokers import Invoker
from .report import Check, SuiteReport
from .samples import Sample, SampleError, load_samples

SAMPLES_FILE = "test.csv"


def segment_samples(samples: Path | str, segments: Sequence[str]) -> dict[str, Path]:
    """{segment: <root>/<segment>/<file>}: root is `samples` when it is a folder (file test.csv),
    else its folder (file its name)."""
    path = Path(samples)
    root, name = (path, SAMPLES_FILE) if path.is_dir() else (path.parent, path.name)
    return {segment: root / segment / name for segment in segments}


@dataclass
class SegmentedReport:
    """The suite's outcome per segment; it reads like a SuiteReport (report.format_text and
    write_outputs take it): its checks are every segment's, named `<segment>: <check>`."""

    segments: dict[str, SuiteReport]
    target: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    # {segment: {"package_arn": ..., "object": ...}}: what the segment's route served
    routed: dict[str, dict[str, str]] = field(default_factory=dict)
    title: str = "Endpoint tests"

    @property
    def passed(self) -> bool:
        return bool(self.segments) and all(r.passed for r in self.segments.values())

    @property
    def checks(self) -> list[Check]:
        return [
            Check(f"{segment}: {c.name}", c.passed, c.detail)
            for segment, report in self.segments.items()
            for c in report.checks
        ]

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "target": self.target,
            "seconds": round(self.seconds, 3),
            "segments": {segment: self._part(segment) for segment in self.segments},
            "checks": [asdict(c) for c in self.checks],
            "latency": {},
            "thresholds": self.thresholds,
        }

    def _part(self, segment: str) -> dict[str, Any]:
        part = self.segments[segment].to_dict()
        part.update(self.routed.get(segment, {}))
        return part

    def to_markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        passed = [s for s, r in self.segments.items() if r.passed]
        lines = [
            f"## Endpoint tests {verdict}: {self.target}",
            "",
            f"{len(passed)} of {len(self.segments)} segments passed.",
            "",
        ]
        for segment, report in self.segments.items():
            lines.append(report.to_markdown().replace("### Endpoint tests", f"### Segment {segment}:", 1))
        return "\n".join(lines)


def load_segment_samples(paths: Mapping[str, Path], rows: int, target_column: str) -> dict[str, list[Sample]]:
    """Each segment's labelled samples; ValueError naming the segment and the file when a
    segment's samples are missing or cannot be used."""
    loaded: dict[str, list[Sample]] = {}
    for segment, path in paths.items():
        if not Path(path).is_file():
            raise SampleError(f"segment {segment}: samples file {path} not found")
        try:
            loaded[segment] = load_samples(path, rows, target_column)
        except ValueError as exc:
            raise SampleError(f"segment {segment}: {exc}") from exc
    return loaded


def run_segments(
    invoker_for: Callable[[str], Invoker],
    routes: Mapping[str, str],
    samples: Mapping[str, list[Sample]],
    thresholds: Thresholds,
    target: str = "",
    routed: Mapping[str, Mapping[str, str]] | None = None,
) -> SegmentedReport:
    """Run the suite once per segment of `routes` ({segment: TargetModel}) through
    invoker_for(TargetModel), with that segment's samples; `routed` ({segment: {"package_arn",
    "object"}} of each route) is recorded in each segment's part. It never raises for a misbehaving
    endpoint (an error in the suite fails that segment, the others still run); ValueError
    before any request for no routes or a segment without samples."""
    from .suite import failed_report, run_suite  # suite imports this module's neighbours

    check_thresholds(thresholds)
    if not routes:
        raise ValueError("a multi-model endpoint test needs at least one segment route")
    missing = [segment for segment in routes if not samples.get(segment)]
    if missing:
        raise ValueError(f"no samples for segment {', '.join(missing)}")
    started = time.perf_counter()
    reports: dict[str, SuiteReport] = {}
    for segment, target_model in routes.items():
        invoker = invoker_for(target_model)
        try:
            reports[segment] = run_suite(invoker, samples[segment], thresholds)
        except Exception as exc:
            name = str(getattr(invoker, "target", target_model))
            reports[segment] = failed_report(name, "suite", f"{type(exc).__name__}: {exc}", thresholds)
    return SegmentedReport(
        segments=reports,
        target=target,
        thresholds=asdict(thresholds),
        seconds=time.perf_counter() - started,
        routed={segment: dict(fields) for segment, fields in (routed or {}).items() if segment in routes},
    )
