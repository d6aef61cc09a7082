"""The rehearsal's monitoring step: a data-quality baseline and Model Monitor's checks, locally.

While the endpoint tests run, every request the local server answers with 2xx is captured as
SageMaker data capture writes it (JSON Lines: captureData.endpointInput/endpointOutput,
eventMetadata, eventVersion) into <work>/monitoring/capture/traffic.jsonl. The step then

1. computes the baseline on the train split: monitoring/baseline/statistics.json and
   constraints.json in Model Monitor's formats (monitoring_stats.py), with the thresholds of
   config `monitoring.constraints`;
2. checks the captured traffic against it (monitoring_checks.py) and writes
   monitoring/traffic/statistics.json and constraint_violations.json;
3. with `--shifted` (`make local SHIFTED=1`), sends the test rows once more with a deliberate
   shift (SHIFTED_FEATURES numeric features scaled by SCALE and offset by OFFSET, the most
   common value of a categorical feature replaced by NEW_CATEGORY, every other value of the last
   feature a gap), captured into capture/shifted.jsonl, and checks that too (monitoring/shifted/).
   The sample goes through the invoker the endpoint tests used (with `--async`, the asynchronous
   contract, as an async endpoint takes nothing else), else straight to the server.

It prints one table. Any violation fails the step, so the rehearsal exits 1 naming the sample,
the checks and the features: the normal traffic must pass, the shifted sample must not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config import Config
from ..endpoint_tests.checks import csv_body
from ..endpoint_tests.invokers import CSV, HttpInvoker, Invoker
from ..endpoint_tests.samples import load_samples
from .monitoring_capture import (
    FOLDER,
    CapturingInvoker,
    Sample,
    capture_path,
    capturing,
    read_capture,
    record_key,
)
from .monitoring_checks import check, effective_size
from .monitoring_stats import baseline, read_table, statistics
from .reports import show
from .stages import StepFailed

__all__ = ["FOLDER", "Monitor", "capturing", "constraint_settings", "kept_files", "shift"]

SHIFTED_FEATURES = 3
SCALE, OFFSET = 1.5, 1.0
NEW_CATEGORY = "shifted-category"
TABLE_LINES = 12


def constraint_settings(cfg: Config) -> dict[str, Any]:
    """The thresholds of config `monitoring.constraints` (checked when the config is parsed)."""
    return cfg.monitoring.constraints.as_dict()


def shift(rows: list[dict[str, Any]], numeric: list[str], categorical: list[str]) -> list[dict[str, Any]]:
    """The rows with the deliberate shift of the module docstring (new dicts)."""
    names = list(rows[0]) if rows else []
    gaps = names[-1:] if names else []
    drifted = [n for n in numeric if n not in gaps][:SHIFTED_FEATURES]
    replaced = [n for n in categorical if n not in gaps][:1]
    common = {}
    for name in replaced:
        present = [row[name] for row in rows if row[name] is not None]
        common[name] = max(sorted(set(present)), key=present.count) if present else None
    shifted = []
    for i, row in enumerate(rows):
        new = dict(row)
        for name in drifted:
            new[name] = None if row[name] is None else row[name] * SCALE + OFFSET
        for name, value in common.items():
            new[name] = NEW_CATEGORY if row[name] == value else row[name]
        for name in gaps:
            new[name] = None if i % 2 == 0 else row[name]
        shifted.append(new)
    return shifted


def _write(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


class Monitor:
    """The monitoring step of one rehearsal in work (see the module docstring)."""

    def __init__(
        self,
        cfg: Config,
        work: Path,
        url: str,
        rows: int,
        say: Callable[[str], None],
        invoker: Invoker | None = None,
    ) -> None:
        self.cfg, self.work, self.url, self.rows, self.say = cfg, work, url, rows, say
        self.invoker = invoker or HttpInvoker(url)
        self.folder = work / FOLDER
        self.results: dict[str, dict[str, Any]] = {}

    def send_shifted(self, features: list[str], numeric: dict[str, bool]) -> Path:
        test = self.work / "data" / "test" / "test.csv"
        rows = [features for features, _ in load_samples(test, self.rows, self.cfg.model.target_column)]
        names = [n for n in features if numeric[n]]
        categorical = [n for n in features if not numeric[n]]
        path = capture_path(self.work, "shifted")
        invoker = CapturingInvoker(self.invoker, path)
        status, answer = invoker.invoke(csv_body(shift(rows, names, categorical)), CSV)
        if status != 200:
            raise StepFailed(f"the server refused the shifted sample: HTTP {status}: {answer[:160]!r}")
        return path

    def check(self, name: str, capture: Path, constraints: dict, stats: dict, features: list[str]) -> None:
        sample = read_capture(capture, features) if capture.is_file() else Sample()
        if not sample.records:
            raise StepFailed(f"monitoring: no record with a value captured in {capture}")
        violations = check(constraints, stats, sample)
        kinds = {f["name"]: f["inferred_type"] for f in constraints["features"]}
        columns = [*features, *sorted({k for r in sample.records for k in r} - set(features))]
        kinds.update({k: "String" for k in columns if k not in kinds})
        out = self.folder / name
        _write(out / "statistics.json", statistics(columns, kinds, sample.records))
        _write(out / "constraint_violations.json", {"violations": violations})
        self.results[name] = {
            "records": len(sample.records),
            "empty_records": sample.empty,
            "unreadable": sample.unreadable,
            "effective_records": round(effective_size([record_key(r) for r in sample.records]), 1),
            "violations": violations,
            "report": show(out / "constraint_violations.json"),
        }

    def run(self, shifted: bool) -> str:
        """Baseline, checks and table; StepFailed on any violation."""
        settings = constraint_settings(self.cfg)
        train = self.work / "data" / "train"
        stats, constraints = baseline(train / "train.csv", train / "schema.json", settings)
        _write(self.folder / "baseline" / "statistics.json", stats)
        _write(self.folder / "baseline" / "constraints.json", constraints)
        features, numeric, _ = read_table(train / "train.csv", train / "schema.json")
        self.check("traffic", capture_path(self.work), constraints, stats, features)
        if shifted:
            self.check("shifted", self.send_shifted(features, numeric), constraints, stats, features)
        self.say(self.table(stats, settings))
        failed = {name: r["violations"] for name, r in self.results.items() if r["violations"]}
        if failed:
            name, violations = next(iter(failed.items()))
            raise StepFailed(
                f"monitoring: {len(violations)} violations in the {name} sample ({_grouped(violations)}); "
                f"see {self.results[name]['report']}"
            )
        return ", ".join(f"{name} {r['records']} records: no violation" for name, r in self.results.items())

    def table(self, stats: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
        drift = f"{settings['comparison_method']} {settings['comparison_threshold']:g}"
        rows, features = stats["dataset"]["item_count"], len(stats["features"])
        lines = [
            f"      | baseline: {show(self.folder / 'baseline')} (train split, {rows} rows, {features} "
            f"features); drift {drift}, data type {settings['datatype_check_threshold']:g}, "
            f"domains {settings['domain_content_threshold']:g}",
            f"      | {'sample':<8} {'records':>8} {'effective':>10} {'empty':>6} {'violations':>11}",
        ]
        for name, r in self.results.items():
            lines.append(
                f"      | {name:<8} {r['records']:>8} {r['effective_records']:>10.1f} "
                f"{r['empty_records']:>6} {len(r['violations']):>11}"
            )
        shown = [(name, v) for name, r in self.results.items() for v in r["violations"]]
        for name, v in shown[:TABLE_LINES]:
            check, feature = v["constraint_check_type"], v["feature_name"]
            lines.append(f"      | {name:<8} {check:<25} {feature:<24} {v['description']}")
        if len(shown) > TABLE_LINES:
            lines.append(f"      | ... {len(shown) - TABLE_LINES} more in constraint_violations.json")
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        """For report.json: each checked sample's counts and violations."""
        return {name: {k: v for k, v in r.items() if k != "unreadable"} for name, r in self.results.items()}


def kept_files(work: Path) -> dict[str, Path]:
    """The step's files for the run's history folder, by the name they get there."""
    folder = work / FOLDER
    return {
        "constraint_violations.json": folder / "traffic" / "constraint_violations.json",
        "shifted_constraint_violations.json": folder / "shifted" / "constraint_violations.json",
    }


def _grouped(violations: list[dict[str, str]]) -> str:
    by_check: dict[str, list[str]] = {}
    for v in violations:
        by_check.setdefault(v["constraint_check_type"], []).append(v["feature_name"])
    return "; ".join(f"{check}: {', '.join(names)}" for check, names in by_check.items())
