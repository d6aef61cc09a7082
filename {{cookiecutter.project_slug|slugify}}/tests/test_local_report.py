"""The rehearsal report, the run history, `local compare` and `--set`, from fixture files.

The fixtures are in the layouts the steps write: evaluation.json in SageMaker's model-quality
format with the confusion matrix and the ROC and precision-recall curves, and preprocess's
schema.json. No model is trained here (test_rehearsal.py runs the whole rehearsal).
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from model_helpers import CFG, FRAMEWORK, module

reports = module("local.reports")
history = module("local.history")
charts = module("local.charts")
overrides = module("local.overrides")
rehearsal = module("local.rehearsal")
stages = module("local.stages")
config = module("config")

SVG = "{http://www.w3.org/2000/svg}"
EVALUATION = {
    "binary_classification_metrics": {
        "auc": {"value": 0.91, "standard_deviation": "NaN"},
        "accuracy": {"value": 0.85, "standard_deviation": "NaN"},
        "precision": {"value": 0.8, "standard_deviation": "NaN"},
        "recall": {"value": 0.75, "standard_deviation": "NaN"},
        "f1": {"value": 0.774, "standard_deviation": "NaN"},
        "confusion_matrix": {"0": {"0": 50, "1": 6}, "1": {"0": 8, "1": 24}},
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": [0.0, 0.1, 0.3, 1.0],
            "true_positive_rates": [0.0, 0.6, 0.9, 1.0],
        },
        "precision_recall_curve": {"precisions": [0.36, 0.8, 1.0], "recalls": [1.0, 0.75, 0.0]},
    }
}
SCHEMA = {
    "target": "Survived",
    "positive_label": "yes",
    "label_mapping": {"no": 0, "yes": 1},
    "features": [
        {"name": "Age", "type": "numeric"},
        {"name": "Embarked", "type": "categorical", "categories": ["C", "Q", "S"]},
    ],
    "dropped_columns": {"PassengerId": "identifier", "Name": "drop_columns"},
    "rows": {
        "read": 891,
        "kept": 889,
        "dropped": {"target missing": 2},
        "train": 622,
        "validation": 133,
        "test": 134,
    },
    "sources": ["train.csv"],
}
PARAMS = dict(CFG.model.hyperparameters[FRAMEWORK])
FIRST = next(iter(PARAMS))


def write_run(
    work: Path, evaluation=EVALUATION, schema=SCHEMA, params=PARAMS, sets=None, passed=True
) -> Path:
    """The files a rehearsal leaves in its work dir, then the report written from them."""
    (work / "evaluation").mkdir(parents=True, exist_ok=True)
    if evaluation is not None:
        (work / "evaluation" / "evaluation.json").write_text(json.dumps(evaluation))
    schema_path = work / "data" / "train" / "schema.json"
    schema_path.parent.mkdir(parents=True, exist_ok=True)
    schema_path.write_text(json.dumps(schema))
    steps = [stages.StepResult(name, "ok", 0.5, "done") for name in rehearsal.STEP_NAMES]
    report = {
        "passed": passed,
        "reason": "" if passed else "metric auc = 0.5 < threshold 0.9",
        "framework": FRAMEWORK,
        "data": "data/train.csv",
        "gate": {"metric": "auc", "threshold": 0.9, "value": 0.91},
        "metrics": {},
        "steps": reports.step_rows(steps),
        "total_seconds": 4.2,
    }
    facts = reports.RunFacts("2025-06-01T120000Z", FRAMEWORK, {**params, **(sets or {})}, sets or {})
    reports.write_reports(work, report, steps, None, facts, schema_path)
    return work


def svg(path: Path) -> ET.Element:
    root = ET.fromstring(path.read_text())  # well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def test_the_report_renders_the_evaluation_hyperparameters_and_data(tmp_path):
    work = write_run(tmp_path, sets={FIRST: 7})
    md = (work / "report.md").read_text()
    # Metrics, the confusion matrix with the original label names, and the three charts.
    assert "| auc | 0.9100 |" in md and "| f1 | 0.7740 |" in md
    assert "| | predicted no (0) | predicted yes (1) |" in md
    assert "| actual no (0) | 50 | 6 |" in md and "| actual yes (1) | 8 | 24 |" in md
    for name in ("confusion_matrix.svg", "roc_curve.svg", "precision_recall_curve.svg"):
        assert f"]({name})" in md
        svg(work / name)
    # Hyperparameters: the override is marked, the others come from the config.
    assert f"| {FIRST} | 7 | --set |" in md
    assert all(f"| {k} | {v} | config |" in md for k, v in PARAMS.items() if k != FIRST)
    # The data summary from schema.json.
    assert (
        "Rows: 891 read, 889 kept, 2 dropped (target missing 2); split 622 train / 133 validation / 134 test."
        in md
    )
    assert "Target `Survived`, positive label `yes`; label mapping: `no` -> 0, `yes` -> 1." in md
    assert "Dropped columns: `PassengerId` (identifier), `Name` (drop_columns)." in md
    assert "| Embarked | categorical | C, Q, S (3) |" in md and "| Age | numeric |  |" in md
    written = json.loads((work / "hyperparameters.json").read_text())
    assert written == {"framework": FRAMEWORK, "params": {**PARAMS, FIRST: 7}, "overrides": {FIRST: 7}}
    assert json.loads((work / "report.json").read_text())["hyperparameters"] == written


def test_the_charts_draw_the_data_they_are_given(tmp_path):
    work = write_run(tmp_path)
    roc = svg(work / "roc_curve.svg")
    [curve] = roc.iter(f"{SVG}polyline")
    points = [tuple(map(float, p.split(","))) for p in curve.get("points").split()]
    left, top, size = charts.LEFT, charts.TOP, charts.SIZE
    expected = zip(
        *EVALUATION["binary_classification_metrics"]["receiver_operating_characteristic_curve"].values(),
        strict=True,
    )
    assert points == [(round(left + x * size, 2), round(top + (1 - y) * size, 2)) for x, y in expected]
    assert "AUC 0.910" in roc.find(f"{SVG}title").text
    pr = svg(work / "precision_recall_curve.svg")
    [curve] = pr.iter(f"{SVG}polyline")
    assert curve.get("points").split()[0] == f"{left + size:.2f},{top + (1 - 0.36) * size:.2f}"  # recall 1
    texts = [t.text for t in svg(work / "confusion_matrix.svg").iter(f"{SVG}text")]
    assert [t for t in texts if t.isdigit()] == ["50", "6", "8", "24"]
    assert {"no (0)", "yes (1)", "predicted", "actual"} <= set(texts)


def test_class_names_come_from_the_label_mapping():
    names = module("local.evaluation_report").class_names
    assert names(SCHEMA) == ["no (0)", "yes (1)"]
    assert names({"label_mapping": {"False": 0, "True": 1}}) == ["False (0)", "True (1)"]
    assert names({"label_mapping": {"0": 0, "1": 1}}) == ["0", "1"]  # already 0/1: said once
    assert names({"label_mapping": {"2": 1, "1": 0}}) == ["1 (0)", "2 (1)"]
    assert names(None) == ["0", "1"]


def test_text_in_labels_is_escaped_in_the_svg(tmp_path):
    document = charts.confusion_svg("a <b> & c", [[1, 2], [3, 4]], ["<x>", "&y"])
    root = ET.fromstring(document)
    assert root.find(f"{SVG}title").text == "a <b> & c"
    assert {"<x>", "&y"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_a_curve_it_cannot_draw_is_named_instead(tmp_path):
    broken = copy.deepcopy(EVALUATION)
    broken["binary_classification_metrics"]["receiver_operating_characteristic_curve"]["true_positive_rates"][
        1
    ] = 1.5
    del broken["binary_classification_metrics"]["precision_recall_curve"]["recalls"]
    work = write_run(tmp_path, evaluation=broken)
    md = (work / "report.md").read_text()
    assert not (work / "roc_curve.svg").exists() and not (work / "precision_recall_curve.svg").exists()
    assert "- not shown: ROC curve (AUC 0.910): curve point (0.1, 1.5) is outside [0, 1]" in md
    assert "- not shown: precision_recall_curve lacks the lists recalls, precisions" in md
    assert (work / "confusion_matrix.svg").exists()


def test_the_sections_may_also_sit_at_the_top_level(tmp_path):
    metrics = EVALUATION["binary_classification_metrics"]
    flat = {
        "binary_classification_metrics": {
            k: v for k, v in metrics.items() if isinstance(v, dict) and "value" in v
        },
        **{k: v for k, v in metrics.items() if not (isinstance(v, dict) and "value" in v)},
    }
    work = write_run(tmp_path, evaluation=flat)
    assert "| actual yes (1) | 8 | 24 |" in (work / "report.md").read_text()
    assert (work / "roc_curve.svg").exists()


def test_a_run_without_evaluation_or_schema_says_so(tmp_path):
    work = write_run(tmp_path, evaluation=None, schema={}, passed=False)
    md = (work / "report.md").read_text()
    assert md.startswith("## Local rehearsal FAILED: metric auc")
    assert "No evaluation: the run stopped before the evaluate step." in md
    assert "No schema.json: the run stopped before preprocess wrote one." in md
    assert not list(work.glob("*.svg"))


# --- history and compare ----------------------------------------------------------------------


def keep_run(work: Path, name: str, **kwargs) -> Path:
    """A run kept under runs/<name>/ as the rehearsal keeps it."""
    scratch = work / "scratch" / name
    write_run(scratch, **kwargs)
    run_dir = work / history.RUNS / name
    run_dir.mkdir(parents=True)
    files = {f: scratch / f for f in history.KEPT}
    files.update(
        {
            "evaluation.json": scratch / "evaluation" / "evaluation.json",
            "schema.json": scratch / "data" / "train" / "schema.json",
        }
    )
    history.keep(run_dir, files)
    return run_dir


def better(evaluation=EVALUATION):
    changed = copy.deepcopy(evaluation)
    changed["binary_classification_metrics"]["auc"]["value"] = 0.93
    changed["binary_classification_metrics"]["confusion_matrix"]["1"] = {"0": 5, "1": 27}
    return changed


def test_run_folders_are_named_by_utc_time_and_never_reused(tmp_path):
    now = datetime(2025, 6, 1, 12, 3, 1, tzinfo=UTC)
    first, second = history.new_run_dir(tmp_path, now), history.new_run_dir(tmp_path, now)
    assert (first.name, second.name) == ("2025-06-01T120301Z", "2025-06-01T120301Z-2")
    assert history.runs(tmp_path) == [first, second]


def test_compare_shows_the_last_two_evaluated_runs_side_by_side(tmp_path, capsys):
    keep_run(tmp_path, "2025-06-01T100000Z")
    keep_run(tmp_path, "2025-06-01T110000Z", evaluation=better(), sets={FIRST: 300})
    schema = copy.deepcopy(SCHEMA)
    schema["features"].append({"name": "Fare", "type": "numeric"})
    keep_run(tmp_path, "2025-06-01T120000Z", evaluation=better(), schema=schema, sets={FIRST: 300})
    keep_run(tmp_path, "2025-06-01T130000Z", evaluation=None, passed=False)  # stopped early: skipped
    assert history.main(["--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Local runs: 2025-06-01T110000Z -> 2025-06-01T120000Z\n")
    assert "| features | 2 | 3 | +1 |" in out and "Features added: Fare; removed: none." in out
    assert history.main(["2025-06-01T100000Z", "2025-06-01T120000Z", "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| auc | 0.9100 | 0.9300 | +0.0200 |" in out
    assert "| true positives | 24 | 27 | +3 |" in out and "| false negatives | 8 | 5 | -3 |" in out
    assert f"| hyperparameter {FIRST} | {PARAMS[FIRST]} | 300 | {300 - PARAMS[FIRST]:+d} |" in out
    assert "| label mapping | no->0, yes->1 | no->0, yes->1 |  |" in out


def test_compare_needs_two_runs(tmp_path, capsys):
    keep_run(tmp_path, "2025-06-01T100000Z")
    assert history.main(["--work-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: local compare: 1 run(s) with an evaluation in {tmp_path / 'runs'};"
        " compare needs two (run `make local` again)"
    )
    assert history.main(["2025-06-01T100000Z", "nope", "--work-dir", str(tmp_path)]) == 1
    assert "no such run: " in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        history.main(["2025-06-01T100000Z", "--work-dir", str(tmp_path)])
    assert exit_info.value.code == 2


def test_local_compare_is_the_rehearsal_commands_subcommand(tmp_path, capsys):
    keep_run(tmp_path, "2025-06-01T100000Z")
    keep_run(tmp_path, "2025-06-01T110000Z", evaluation=better())
    assert rehearsal.main(["compare", "--work-dir", str(tmp_path)]) == 0
    assert "| auc | 0.9100 | 0.9300 | +0.0200 |" in capsys.readouterr().out


# --- --set ------------------------------------------------------------------------------------


def test_set_changes_one_hyperparameter_for_the_run(monkeypatch):
    path = config.config_path()
    cfg, given = overrides.apply_overrides(path, CFG, FRAMEWORK, [f"{FIRST}=7"])
    assert given == {FIRST: 7}
    assert cfg.model.hyperparameters[FRAMEWORK] == {**PARAMS, FIRST: 7}
    assert (
        stages.hyperparameter_args(cfg, FRAMEWORK)[
            stages.hyperparameter_args(cfg, FRAMEWORK).index(f"--{FIRST}") + 1
        ]
        == "7"
    )
    assert config.load_config() == CFG  # the config file is unchanged
    assert overrides.apply_overrides(path, CFG, FRAMEWORK, []) == (CFG, {})


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("n_estimatorz=3", "has no hyperparameter 'n_estimatorz'; expected one of: "),
        ("max_depth", "is not name=value"),
        ("max_depth=", "is not name=value"),
        ("max_depth=0", "model.hyperparameters.{fw}.max_depth is 0; expected a whole number from 1"),
        ("max_depth=deep", 'model.hyperparameters.{fw}.max_depth is "deep"; expected a whole number'),
        ("max_depth=2.5", "max_depth is 2.5; expected a whole number"),
    ],
)
def test_set_refuses_what_the_config_would_refuse(item, message):
    with pytest.raises(config.ConfigError) as refused:
        overrides.apply_overrides(config.config_path(), CFG, FRAMEWORK, [item])
    text = str(refused.value)
    assert text.startswith("--set ") and message.format(fw=FRAMEWORK) in text
    if "expected one of" in message:
        assert text.endswith(", ".join(sorted(config.HYPERPARAMETERS[FRAMEWORK])))


def test_a_name_of_the_other_framework_is_refused():
    other = next(f for f in config.FRAMEWORKS if f != FRAMEWORK)
    name = next(n for n in config.HYPERPARAMETERS[other] if n not in config.HYPERPARAMETERS[FRAMEWORK])
    with pytest.raises(config.ConfigError, match=f"{FRAMEWORK} has no hyperparameter '{name}'"):
        overrides.parse_sets(FRAMEWORK, [f"{name}=3"])


def test_a_refused_set_stops_the_rehearsal_before_any_step(tmp_path, capsys):
    code = rehearsal.main(["--set", "n_estimatorz=3", "--work-dir", str(tmp_path / "work")])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: --set n_estimatorz=3: ")
    assert not (tmp_path / "work").exists()
