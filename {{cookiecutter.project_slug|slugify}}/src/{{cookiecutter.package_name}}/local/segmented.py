"""The segmented rehearsal (`make local SEGMENTS=1`): one model per segment, served by one server.

The pipeline's segmented path (config `model.segments`, pipeline/segments.py) on a laptop, with
the same step scripts: preprocess (one run, splitting by segment into data/<split>/<segment>/),
then per segment train, package (output/<segment>/model.tar.gz) and evaluate
(evaluation/<segment>/evaluation.json), one gate over every segment (each must reach the
threshold; the failure names each failing segment with its numbers), one local multi-model
server (`local.server --target <segment>=<archive>`, routed by the X-Amzn-SageMaker-Target-Model
header; locally the TargetModel of a segment is its value) and the endpoint tests per segment
with that segment's held-out rows.

When config/project.json has no segments, the rehearsal uses a demo: the column `segment` added
in front of --data (default data/sample.csv), "east" on the 1st, 3rd, 5th... data row and "west"
on the others (deterministic, written to <work dir>/input/), and `model.segments` =
{"column": "segment", "values": ["east", "west"]} for this run only. With segments in the config,
its column and values and --data as given are used.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from ..config import Config
from ..config.settings import Segments
from ..endpoint_tests.invokers import HttpInvoker
from ..endpoint_tests.report import format_text
from ..endpoint_tests.segments import load_segment_samples, run_segments, segment_samples
from . import history
from .rehearsal import Rehearsal
from .reports import RunFacts, show, step_rows, summary, write_reports
from .stages import StepFailed, StepResult, hyperparameter_args, pack_model, read_metric

DEMO_COLUMN = "segment"
DEMO_VALUES = ("east", "west")
STEP_NAMES = ("preprocess", "train", "package", "evaluate", "gate", "serve", "endpoint tests")


def demo_config(cfg: Config) -> Config:
    """The config with the demo's `model.segments` (the config's own when it has segments)."""
    if cfg.model.segments.enabled:
        return cfg
    return replace(cfg, model=replace(cfg.model, segments=Segments(DEMO_COLUMN, DEMO_VALUES)))


def demo_data(source: Path, dest: Path) -> Path:
    """`source` with the demo's segment column in front: east, west, east, ... by data row."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (
        source.open(newline="", encoding="utf-8") as src,
        dest.open("w", newline="", encoding="utf-8") as out,
    ):
        reader, writer = csv.reader(src), csv.writer(out, lineterminator="\n")
        header = next(reader, None)
        if header is None:
            raise StepFailed(f"data file {source} is empty")
        if DEMO_COLUMN in header:
            raise StepFailed(
                f"data file {source} already has a {DEMO_COLUMN!r} column; expected the demo to add it"
            )
        writer.writerow([DEMO_COLUMN, *header])
        for number, row in enumerate(reader):
            writer.writerow([DEMO_VALUES[number % len(DEMO_VALUES)], *row])
    return dest


class SegmentedRehearsal(Rehearsal):
    """A rehearsal of the segmented pipeline; `demo` adds the demo's segment column to the data."""

    def __init__(self, cfg: Config, *args, demo: bool = False, **kwargs) -> None:
        super().__init__(cfg, *args, **kwargs)
        self.segments = cfg.model.segments.values
        self.demo = demo
        self.steps = [StepResult(name) for name in STEP_NAMES]
        self.segment_metrics: dict[str, dict[str, float]] = {}

    def preprocess(self) -> str:
        if not self.data.is_file():
            raise StepFailed(f"data file {self.data} not found")
        source = self.data
        if self.demo:
            source = demo_data(self.data, self.work / "input" / f"{self.data.stem}-segmented.csv")
        else:
            (self.work / "input" / self.data.name).write_bytes(self.data.read_bytes())
        args = ["--input-dir", str(self.work / "input"), "--output-dir", str(self.work / "data")]
        model = self.cfg.model
        self.script(
            "preprocess", [*args, *model.preprocess_arguments(), *model.segments.preprocess_arguments()]
        )
        return f"{source.name} -> train/validation/test for {', '.join(self.segments)}"

    def train(self) -> str:
        args = hyperparameter_args(self.cfg, self.framework)
        for segment in self.segments:
            env = {
                "SM_MODEL_DIR": str(self.work / "model" / segment),
                "SM_CHANNEL_TRAIN": str(self.work / "data" / "train" / segment),
                "SM_CHANNEL_VALIDATION": str(self.work / "data" / "validation" / segment),
            }
            self.say(f"      segment {segment}")
            self.script("train", args, env)
        return f"{' '.join(args)} -> {len(self.segments)} models"

    def package(self) -> str:
        for segment in self.segments:
            pack_model(self.work / "model" / segment, self.work / "output" / segment / "model.tar.gz")
        return f"output/<segment>/model.tar.gz for {', '.join(self.segments)}"

    def evaluate(self) -> str:
        threshold = ["--threshold", f"{self.threshold:g}"]
        for segment in self.segments:
            self.say(f"      segment {segment}")
            self.script(
                "evaluate",
                [
                    "--model-dir",
                    str(self.work / "output" / segment),
                    "--test-dir",
                    str(self.work / "data" / "test" / segment),
                    "--output-dir",
                    str(self.work / "evaluation" / segment),
                    "--champion-version",
                    "none",
                    "--tolerance",
                    f"{self.cfg.champion.tolerance:g}",
                    "--metric",
                    self.metric,
                    "--segment",
                    segment,
                    *threshold,
                ],
            )
            report = json.loads((self.work / "evaluation" / segment / "evaluation.json").read_text())
            self.segment_metrics[segment] = {
                name: entry["value"]
                for name, entry in report["binary_classification_metrics"].items()
                if isinstance(entry, dict) and isinstance(entry.get("value"), int | float)
            }
        return "; ".join(f"{s} {self.metric} {m[self.metric]:.4f}" for s, m in self.segment_metrics.items())

    def gate(self) -> str:
        """Every segment must pass; else one failure naming each failing segment with its numbers."""
        values, failing = {}, []
        for segment in self.segments:
            value = read_metric(self.work / "evaluation" / segment / "evaluation.json", self.metric)
            values[segment] = value
            if value < self.threshold:
                failing.append(f"{segment}: {self.metric} {value:.6g} < threshold {self.threshold:g}")
        if failing:
            raise StepFailed(f"no segment registered; failing: {'; '.join(failing)}")
        return ", ".join(f"{s} {v:.6g}" for s, v in values.items()) + f" >= threshold {self.threshold:g}"

    def server_args(self) -> list[str]:
        targets = [
            arg
            for segment in self.segments
            for arg in ("--target", f"{segment}={self.work / 'output' / segment / 'model.tar.gz'}")
        ]
        return [*targets, "--port", "0", "--quiet"]

    def endpoint_tests(self) -> str:
        thresholds = self.cfg.tests_for("local")
        paths = segment_samples(self.work / "data" / "test" / "test.csv", self.segments)
        samples = load_segment_samples(paths, self.n_samples, self.target)
        routes = {segment: segment for segment in self.segments}
        self.suite = run_segments(
            lambda target: HttpInvoker(self.url, target_model=target), routes, samples, thresholds, self.url
        )
        ok = sum(c.passed for c in self.suite.checks)
        if not self.suite.passed:
            failed = self.suite.failures()[0]
            raise StepFailed(f"endpoint test {failed.name!r} failed: {failed.detail}")
        return f"{ok}/{len(self.suite.checks)} checks passed over {len(self.segments)} segments"

    def run(self) -> int:
        self.say(f"Segmented rehearsal: {self.cfg.model.segments.column} = {', '.join(self.segments)}")
        return super().run()

    def summary_text(self, total: float) -> str:
        return segmented_summary(self, total)

    def write_reports(self, total: float) -> None:
        lowest = min((m.get(self.metric) for m in self.segment_metrics.values()), default=None)
        report = {
            "passed": not self.reason,
            "reason": self.reason,
            "framework": self.framework,
            "data": str(self.data),
            "segments": {"column": self.cfg.model.segments.column, "values": list(self.segments)},
            "gate": {"metric": self.metric, "threshold": self.threshold, "value": lowest},
            "metrics": {},
            "segment_metrics": self.segment_metrics,
            "steps": step_rows(self.steps),
            "total_seconds": round(total, 3),
            "endpoint_tests": self.suite.to_dict() if self.suite else None,
            "monitoring": None,
        }
        assert self.run_dir is not None
        params = dict(self.cfg.model.hyperparameters.get(self.framework) or {})
        facts = RunFacts(self.run_dir.name, self.framework, params, self.overrides)
        schema = self.work / "data" / "train" / self.segments[0] / "schema.json"
        write_reports(self.work, report, self.steps, self.suite, facts, schema)
        kept = {name: self.work / name for name in history.KEPT}
        for segment in self.segments:
            kept[f"evaluation-{segment}.json"] = self.work / "evaluation" / segment / "evaluation.json"
        history.keep(self.run_dir, kept)


def segmented_summary(rehearsal: SegmentedRehearsal, total: float) -> str:
    """The summary table, each segment's metrics and its endpoint checks."""
    text = summary(rehearsal.steps, total, {}, None, rehearsal.work, rehearsal.run_dir)
    lines = [text, ""]
    for segment, values in rehearsal.segment_metrics.items():
        lines.append(f"Segment {segment}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    if rehearsal.suite is not None:
        lines += ["", "Endpoint checks:", format_text(rehearsal.suite)]
    lines.append(f"Per-segment files: {show(rehearsal.work / 'evaluation')}/<segment>/")
    return "\n".join(lines)
