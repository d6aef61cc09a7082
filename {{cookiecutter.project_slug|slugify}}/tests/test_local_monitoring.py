"""The rehearsal's monitoring step: Model Monitor's baseline formats, each constraint check on crafted
samples (and never on the baseline itself), the capture format, and the endpoint suite's own traffic
passing on several tables."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_wine

from model_helpers import CFG, ROOT, mixed_table, module, split_sample, split_table

monitoring = module("local.monitoring")
stats_mod = module("local.monitoring_stats")
checks_mod = module("local.monitoring_checks")
capture_mod = module("local.monitoring_capture")
suite = module("endpoint_tests.suite")
config = module("config")

SETTINGS = CFG.monitoring.constraints.as_dict()


def baseline_of(data: Path, **settings) -> tuple[dict, dict, list[str], list[dict]]:
    """(statistics, constraints, features, train rows) of a split folder preprocess wrote."""
    train = data / "train"
    stats, constraints = stats_mod.baseline(
        train / "train.csv", train / "schema.json", {**SETTINGS, **settings}
    )
    features, _, rows = stats_mod.read_table(train / "train.csv", train / "schema.json")
    return stats, constraints, features, rows


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[dict, dict, list[str], list[dict]]:
    return baseline_of(split_table(mixed_table(), tmp_path_factory.mktemp("mixed")))


def captured(tmp_path: Path, rows: list[dict], features: list[str], kind: str = "json") -> Path:
    """rows sent as one request and captured as data capture writes it."""
    if kind == "json":
        body, content_type = json.dumps({"instances": rows}).encode(), "application/json"
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in rows:
            writer.writerow(["" if row.get(f) is None else row[f] for f in features] + row.get("_extra", []))
        body, content_type = out.getvalue().encode(), "text/csv"
    path = tmp_path / f"{kind}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    event = capture_mod.capture_event(body, content_type, b'{"predictions": []}', "application/json")
    with path.open("a") as handle:
        handle.write(json.dumps(event) + "\n")
    return path


def violations(baseline, rows, tmp_path, kind="json", **settings) -> set[tuple[str, str]]:
    stats, constraints, features, _ = baseline
    if settings:
        constraints = stats_mod.suggest_constraints(stats, {**SETTINGS, **settings})
    sample = capture_mod.read_capture(captured(tmp_path, rows, features, kind), features)
    found = checks_mod.check(constraints, stats, sample)
    assert all(v["description"] for v in found)
    return {(v["constraint_check_type"], v["feature_name"]) for v in found}


def edited(rows: list[dict], every: int, **changes) -> list[dict]:
    """Copies of rows where every `every`-th row gets the changes (a callable gets the old value)."""
    out = []
    for i, row in enumerate(rows):
        new = dict(row)
        if i % every == 0:
            for name, change in changes.items():
                new[name] = change(row[name]) if callable(change) else change
        out.append(new)
    return out


# --- the baseline files ------------------------------------------------------------------------


def test_statistics_and_constraints_follow_model_monitors_schemas(mixed):
    stats, constraints, features, rows = mixed
    assert set(stats) == {"version", "dataset", "features"} and stats["dataset"] == {"item_count": len(rows)}
    by_name = {f["name"]: f for f in stats["features"]}
    assert list(by_name) == features == ["age", "plan", "city", "visits"]
    assert {n: f["inferred_type"] for n, f in by_name.items()} == {
        "age": "Fractional",
        "plan": "String",
        "city": "String",
        "visits": "Integral",
    }
    frame = pd.DataFrame(rows).astype({"age": float, "visits": float})
    for name in ("age", "visits"):
        numeric = by_name[name]["numerical_statistics"]
        assert set(numeric) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
        assert numeric["common"] == {
            "num_present": int(frame[name].notna().sum()),
            "num_missing": int(frame[name].isna().sum()),
        }
        assert numeric["mean"] == pytest.approx(frame[name].mean())
        assert numeric["std_dev"] == pytest.approx(frame[name].std(ddof=0))
        assert (numeric["min"], numeric["max"]) == (frame[name].min(), frame[name].max())
        kll = numeric["distribution"]["kll"]
        assert len(kll["buckets"]) == 10 and all(
            set(b) == {"lower_bound", "upper_bound", "count"} for b in kll["buckets"]
        )
        assert sum(b["count"] for b in kll["buckets"]) == numeric["common"]["num_present"]
        assert set(kll["sketch"]) == {"parameters", "data"} and set(kll["sketch"]["parameters"]) == {"c", "k"}
        assert sorted(v for level in kll["sketch"]["data"] for v in level) == sorted(frame[name].dropna())
    plan = by_name["plan"]["string_statistics"]
    assert set(plan) == {"common", "distinct_count", "distribution"} and plan["distinct_count"] == 3
    counts = frame["plan"].value_counts()
    assert {
        b["value"]: b["count"] for b in plan["distribution"]["categorical"]["buckets"]
    } == counts.to_dict()

    assert set(constraints) == {"version", "features", "monitoring_config"}
    entries = {f["name"]: f for f in constraints["features"]}
    assert entries["age"]["completeness"] == pytest.approx(frame["age"].notna().mean())
    assert entries["age"]["num_constraints"] == {"is_non_negative": bool(frame["age"].min() >= 0)}
    assert entries["plan"]["string_constraints"] == {"domains": ["basic", "pro", "team"]}
    assert all({"name", "inferred_type", "completeness"} <= set(f) for f in entries.values())
    assert constraints["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
        },
    }


def test_a_large_baseline_keeps_a_weighted_sketch_with_its_quantiles():
    values = [float(i) for i in range(10_000)]
    sketch = stats_mod.sketch(values)
    assert sum(len(level) for level in sketch["data"]) <= stats_mod.SKETCH_K
    items = stats_mod.sketch_items(sketch)
    assert sum(w for _, w in items) == pytest.approx(len(values), rel=0.01)
    assert checks_mod.numeric_distance(items, values) < 0.01


# --- each check: triggered by a crafted sample, never by the baseline ------------------------------


@pytest.mark.parametrize("kind", ["json", "csv"])
@pytest.mark.parametrize("method", ["Robust", "Simple"])
def test_the_baseline_itself_has_no_violation(mixed, tmp_path, kind, method):
    assert violations(mixed, mixed[3], tmp_path, kind, comparison_method=method) == set()


def test_completeness_below_the_baseline_is_a_violation_and_above_it_is_not(mixed, tmp_path):
    rows = mixed[3]
    assert violations(mixed, edited(rows, 2, age=None), tmp_path / "gaps") == {("completeness_check", "age")}
    # No gap at all (the baseline has 15 %): more complete than the baseline is no violation.
    filled = [{**row, "age": row["age"] or "40.0"} for row in rows]
    assert ("completeness_check", "age") not in violations(mixed, filled, tmp_path / "filled")


def test_a_value_of_another_type_is_a_violation_under_the_threshold(mixed, tmp_path):
    rows = edited(mixed[3], 5, age=lambda v: "unknown" if v else v, visits=lambda v: f"{v}.5")
    found = violations(mixed, rows, tmp_path / "strict")
    assert {("data_type_check", "age"), ("data_type_check", "visits")} <= found
    # 20 % of other types passes a threshold of 70 %.
    lenient = violations(mixed, rows, tmp_path / "lenient", datatype_check_threshold=0.7)
    assert not {v for v in lenient if v[0] == "data_type_check"}


def test_a_value_outside_the_domains_is_a_violation_under_the_threshold(mixed, tmp_path):
    rows = edited(mixed[3], 10, plan="enterprise")
    assert ("categorical_values_check", "plan") in violations(mixed, rows, tmp_path / "strict")
    lenient = violations(mixed, rows, tmp_path / "lenient", domain_content_threshold=0.8)
    assert ("categorical_values_check", "plan") not in lenient


def test_numeric_and_categorical_drift_beyond_the_threshold_are_violations(mixed, tmp_path):
    rows = edited(mixed[3], 1, age=lambda v: str(float(v) * 1.5 + 5) if v else v, plan="basic")
    found = violations(mixed, rows, tmp_path / "drift")
    assert {("baseline_drift_check", "age"), ("baseline_drift_check", "plan")} <= found
    assert ("categorical_values_check", "plan") not in found  # "basic" is a known value
    assert not {v for v in found if v[1] in ("city", "visits")}
    assert not violations(mixed, rows, tmp_path / "lenient", comparison_threshold=0.95)


def test_robust_needs_a_significant_distance_and_simple_does_not(mixed, tmp_path):
    few = mixed[3][:12]
    simple = violations(mixed, few, tmp_path / "simple", comparison_method="Simple")
    assert {v for v in simple if v[0] == "baseline_drift_check"}
    assert violations(mixed, few, tmp_path / "robust", comparison_method="Robust") == set()


def test_missing_and_extra_columns_are_violations(mixed, tmp_path):
    rows = [{**{k: v for k, v in row.items() if k != "city"}, "coupon": "X1"} for row in mixed[3]]
    found = violations(mixed, rows, tmp_path / "json")
    assert found == {("missing_column_check", "city"), ("extra_column_check", "coupon")}
    long = [{**row, "_extra": ["7"]} for row in mixed[3]]
    assert violations(mixed, long, tmp_path / "long", "csv") == {("extra_column_check", "_c4")}
    short = io.StringIO()
    rows = [[row[f] or "" for f in mixed[2][:3]] for row in mixed[3]]
    csv.writer(short, lineterminator="\n").writerows(rows)
    path = tmp_path / "short.jsonl"
    event = capture_mod.capture_event(short.getvalue().encode(), "text/csv", b"{}", "application/json")
    path.write_text(json.dumps(event) + "\n")
    found = checks_mod.check(mixed[1], mixed[0], capture_mod.read_capture(path, mixed[2]))
    assert {(v["constraint_check_type"], v["feature_name"]) for v in found} == {
        ("missing_column_check", "visits")
    }


# --- capture ----------------------------------------------------------------------------------


class FakeServer:
    """The serving contract without a model: one prediction per CSV row or JSON instance; 400 for a
    row of another width, text in a numeric feature or another content type."""

    target = "fake server"

    def __init__(self, features: list[str], numeric: dict[str, bool]) -> None:
        self.features, self.numeric = features, numeric

    def ping(self) -> bool:
        return True

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> tuple[int, bytes]:
        if content_type == "text/csv":
            rows = list(csv.reader(io.StringIO(body.decode())))
            for row in rows:
                if len(row) != len(self.features):
                    return 400, b'{"error": "width"}'
                for name, cell in zip(self.features, row, strict=True):
                    if self.numeric[name] and cell and stats_mod.number(cell) is None:
                        return 400, b'{"error": "not a number"}'
            count = len(rows)
        elif content_type == "application/json":
            count = len(json.loads(body)["instances"])
        else:
            return 415, b'{"error": "content type"}'
        return 200, json.dumps({"predictions": [{"label": 0, "probability": 0.5}] * count}).encode()


def test_only_answered_requests_are_captured_in_sagemakers_format(tmp_path):
    path = tmp_path / "capture" / "traffic.jsonl"
    invoker = capture_mod.CapturingInvoker(FakeServer(["a", "b"], {"a": True, "b": False}), path)
    status, answer = invoker.invoke(b"1,x\n2,y\n", "text/csv")
    assert status == 200 and len(json.loads(answer)["predictions"]) == 2
    assert invoker.invoke(b"1\n", "text/csv")[0] == 400
    assert invoker.invoke(b"\xff\x00", "application/octet-stream")[0] == 415
    invoker.invoke(json.dumps({"instances": [{"a": 3, "b": "z"}]}).encode(), "application/json")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(events) == 2
    first = events[0]
    assert set(first) == {"captureData", "eventMetadata", "eventVersion"} and first["eventVersion"] == "0"
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "1,x\n2,y\n",
        "encoding": "CSV",
    }
    assert first["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert first["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert set(first["eventMetadata"]) == {"eventId", "inferenceTime"}
    assert first["eventMetadata"]["inferenceTime"].endswith("Z")
    binary = capture_mod.capture_event(b"\xff\x00", "application/x-npy", b"", "application/json")
    assert binary["captureData"]["endpointInput"]["encoding"] == "BASE64"
    sample = capture_mod.read_capture(path, ["a", "b"])
    assert sample.records == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}, {"a": 3, "b": "z"}]


def public(name: str) -> pd.DataFrame:
    loader = {"wine": load_wine, "digits": load_digits}[name]
    data = loader(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    frame["target"] = np.where(data.target == 0, "first", "other")
    return frame


@pytest.mark.parametrize("table", ["sample", "mixed", "wine", "digits"])
def test_the_endpoint_suites_own_traffic_passes(table, tmp_path):
    """The requests the endpoint tests send (batches, a burst, the record with every feature
    missing) on each table's test split, captured and checked against its train split."""
    if table == "sample":
        data = split_sample(tmp_path / "data")
    else:
        data = split_table(mixed_table() if table == "mixed" else public(table), tmp_path / "data")
    stats, constraints, features, _ = baseline_of(data)
    _, numeric, _ = stats_mod.read_table(data / "train" / "train.csv", data / "train" / "schema.json")
    samples = suite.load_samples(data / "test" / "test.csv", 100, CFG.model.target_column)
    invoker = capture_mod.capturing(FakeServer(features, numeric), tmp_path)
    suite.run_suite(invoker, samples, CFG.tests_for("local"))
    sample = capture_mod.read_capture(capture_mod.capture_path(tmp_path), features)
    assert sample.empty == 2 and not sample.unreadable  # the suite's two records with every feature missing
    assert len(sample.records) >= 2 * len(samples)
    assert checks_mod.check(constraints, stats, sample) == []
    # The same rows shifted as `--shifted` shifts them are reported, naming the features.
    names = [f for f in features if numeric[f]]
    moved = monitoring.shift([s for s, _ in samples], names, [f for f in features if not numeric[f]])
    shifted = capture_mod.Sample()
    for row in moved:
        shifted.add(dict(row))
    found = {
        (v["constraint_check_type"], v["feature_name"]) for v in checks_mod.check(constraints, stats, shifted)
    }
    assert ("completeness_check", features[-1]) in found
    drifted = [n for n in names if n != features[-1]][: monitoring.SHIFTED_FEATURES]
    assert drifted and {("baseline_drift_check", n) for n in drifted} <= found


# --- thresholds -----------------------------------------------------------------------------------


def test_the_thresholds_of_config_reach_constraints_json(tmp_path):
    """monitoring.constraints of config/project.json is what constraints.json carries."""
    chosen = {
        "comparison_threshold": 0.3,
        "comparison_method": "Simple",
        "datatype_check_threshold": 0.9,
        "domain_content_threshold": 0.8,
    }
    document = config.read_raw(ROOT / "config" / "project.json")
    document["monitoring"]["constraints"] = chosen
    cfg = config.parse(document)
    settings = monitoring.constraint_settings(cfg)
    assert settings == chosen
    assert monitoring.constraint_settings(CFG) == SETTINGS
    _, constraints, _, _ = baseline_of(split_sample(tmp_path / "data"), **settings)
    assert constraints["monitoring_config"]["datatype_check_threshold"] == 0.9
    assert constraints["monitoring_config"]["domain_content_threshold"] == 0.8
    assert constraints["monitoring_config"]["distribution_constraints"] == {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.3,
        "comparison_method": "Simple",
    }
