"""The local rehearsal (`make local`) end to end, run the way the Makefile runs it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from model_helpers import CFG, FRAMEWORK, PACKAGE, SAMPLE_CSV, TARGET, module
from rehearsal_helpers import rehearsals

rehearsal = module("local.rehearsal")
METRIC = CFG.pipeline.metric
MODEL_FILE = {"sklearn": "model.joblib", "xgboost": "xgboost-model.json"}
UNREACHABLE = "0.9999"
# The failing rehearsal also changes one hyperparameter for its run (fewer trees: faster too).
PARAMS = dict(CFG.model.hyperparameters[FRAMEWORK])
SET_NAME = next(iter(PARAMS))
CHARTS = ("confusion_matrix.svg", "roc_curve.svg", "precision_recall_curve.svg")


# The default rehearsal as `make local` runs it (test_local_monitoring_rehearsal.py reads the same
# run), and one whose gate cannot pass through the rehearsal module's own entry point.
REHEARSALS = {
    "default": ["-m", PACKAGE, "local"],
    "gate": ["-m", f"{PACKAGE}.local.rehearsal", "--threshold", UNREACHABLE, "--set", f"{SET_NAME}=7"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """The two rehearsals, run once per test session (rehearsal_helpers.rehearsals)."""
    return rehearsals(tmp_path_factory, REHEARSALS)


@pytest.mark.slow
def test_rehearsal_passes_end_to_end(runs):
    done, work = runs["default"]
    assert done.returncode == 0, done.stdout + done.stderr
    for number, step in enumerate(rehearsal.STEP_NAMES, start=1):
        assert f"[{number}/{len(rehearsal.STEP_NAMES)}] {step:<15} ok" in done.stdout
    assert "Summary" in done.stdout and "rehearsal passed" in done.stdout
    assert "ignoring unknown arguments" not in done.stdout  # every configured hyperparameter is used

    report = json.loads((work / "report.json").read_text())
    assert report["passed"] is True and report["framework"] == FRAMEWORK
    assert [s["status"] for s in report["steps"]] == ["ok"] * len(rehearsal.STEP_NAMES)
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    value = evaluation["binary_classification_metrics"][METRIC]["value"]
    assert value >= CFG.pipeline.metric_threshold
    assert report["gate"] == {
        "metric": METRIC,
        "threshold": CFG.pipeline.metric_threshold,
        "value": value,
    }
    suite = report["endpoint_tests"]
    assert suite["passed"] is True
    local = dataclasses.asdict(CFG.tests_for("local"))
    assert {k: suite["thresholds"][k] for k in local} == local
    assert suite["latency"]["requests"] == local["burst_requests"]
    markdown = (work / "report.md").read_text()
    assert "## Local rehearsal PASSED" in markdown
    # The report shows the evaluation (charts beside it), hyperparameters and data summary.
    for section in ("### Evaluation (held-out test split)", "### Hyperparameters", "### Data", "| actual "):
        assert section in markdown
    for chart in CHARTS:
        assert f"]({chart})" in markdown and (work / chart).read_text().startswith("<svg ")
    assert all(f"| {k} | {v} | config |" in markdown for k, v in PARAMS.items())
    # The run is kept in runs/<UTC time>/ with what `local compare` reads.
    [kept] = (work / "runs").iterdir()
    assert kept.name == report["run"] and kept.name.endswith("Z")
    expected = {"report.md", "report.json", "hyperparameters.json", "evaluation.json", "schema.json", *CHARTS}
    expected.add("model.tar.gz")  # a passed run keeps its model (`make local CHAMPION=latest`)
    expected.add("constraint_violations.json")  # the monitoring step's result on the served traffic
    assert {p.name for p in kept.iterdir()} == expected
    assert (kept / "evaluation.json").read_text() == (work / "evaluation" / "evaluation.json").read_text()
    assert (kept / "report.md").read_text() == markdown
    # The server ran as `python -m <package>.local.server` and stopped cleanly with the rehearsal.
    assert (work / "server.log").read_text().startswith(f"serving {work / 'output' / 'model.tar.gz'} at http")

    # model.tar.gz is laid out as SageMaker packs SM_MODEL_DIR: the files at the archive root.
    with tarfile.open(work / "output" / "model.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"model_info.json", "code/inference.py", MODEL_FILE[FRAMEWORK]} <= names
    assert all(not n.startswith(("/", "./", "model/")) for n in names)


@pytest.mark.slow
def test_a_failed_gate_exits_non_zero_with_metric_and_threshold(runs):
    done, work = runs["gate"]
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    value = evaluation["binary_classification_metrics"][METRIC]["value"]

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: rehearsal failed: metric {METRIC} = {value:.6g} < threshold {UNREACHABLE}"
    )
    report = json.loads((work / "report.json").read_text())
    assert report["passed"] is False
    status = {s["name"]: s["status"] for s in report["steps"]}
    assert status["gate"] == "FAILED"
    assert status["serve"] == status["endpoint tests"] == "skipped"
    # Its --set reached train's arguments for this run only, and the report and history say so.
    given = {"framework": FRAMEWORK, "params": {**PARAMS, SET_NAME: 7}, "overrides": {SET_NAME: 7}}
    assert report["hyperparameters"] == given
    assert f"--{SET_NAME} 7" in json.dumps(report["steps"])
    assert f"| {SET_NAME} | 7 | --set |" in (work / "report.md").read_text()
    [kept] = (work / "runs").iterdir()
    assert json.loads((kept / "hyperparameters.json").read_text()) == given


def test_gate_passes_at_the_threshold_and_fails_below_it():
    assert rehearsal.apply_gate(0.9, 0.9, "auc") == "auc 0.9 >= threshold 0.9"
    with pytest.raises(rehearsal.StepFailed, match=r"^metric auc = 0.899 < threshold 0.9$"):
        rehearsal.apply_gate(0.899, 0.9, "auc")


def test_hyperparameters_are_passed_as_sagemaker_does():
    args = rehearsal.hyperparameter_args(CFG, FRAMEWORK)
    expected = ["--framework", FRAMEWORK]
    for key, value in CFG.model.params.items():
        expected += [f"--{key}", str(value)]
    assert args == expected
    with pytest.raises(rehearsal.StepFailed, match="no 'lightgbm' entry"):
        rehearsal.hyperparameter_args(CFG, "lightgbm")


def test_missing_data_fails_with_the_reason_and_keeps_unowned_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "report.json").write_text("stale")
    code = rehearsal.main(["--data", str(tmp_path / "nope.csv"), "--work-dir", str(tmp_path)])
    assert code == 1
    assert (
        capsys.readouterr().err.strip()
        == f"error: rehearsal failed: data file {tmp_path / 'nope.csv'} not found"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert json.loads((tmp_path / "report.json").read_text())["passed"] is False


@pytest.mark.parametrize("runner", ["warm worker", "fresh processes"])
def test_a_failing_step_script_stops_the_rehearsal_with_its_error(tmp_path, capsys, runner):
    no_target = tmp_path / "no_target.csv"
    pd.read_csv(SAMPLE_CSV).drop(columns=[TARGET]).to_csv(no_target, index=False)
    args = ["--data", str(no_target), "--work-dir", str(tmp_path / "work")]
    code = rehearsal.main([*args, *(["--fresh-processes"] if runner == "fresh processes" else [])])
    assert code == 1
    reason = capsys.readouterr().err.strip()
    assert reason.startswith(
        f"error: rehearsal failed: preprocess.py exited 1: preprocess: {TARGET}: not a column of the table"
    )
    steps = json.loads((tmp_path / "work" / "report.json").read_text())["steps"]
    assert [s["status"] for s in steps[:2]] == ["FAILED", "skipped"]


def test_options_follow_the_cli_contract(tmp_path, capsys, monkeypatch):
    """--rows is the count of test rows (--samples is a CSV path everywhere, so not a count here);
    a config error exits 2 with one `error:` line."""
    assert rehearsal.parser().parse_args(["--rows", "7"]).rows == 7
    assert rehearsal.parser().parse_args([]).rows == rehearsal.DEFAULT_ROWS == 100
    for bad in (["--samples", "5"], ["--rows", "0"], ["--threshold", "high"]):
        with pytest.raises(SystemExit) as exit_info:
            rehearsal.main(bad)
        assert exit_info.value.code == 2
    capsys.readouterr()
    (tmp_path / "project.json").write_text("{")
    monkeypatch.setenv("MLOPS_CONFIG", str(tmp_path / "project.json"))
    assert rehearsal.main(["--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: config file {tmp_path / 'project.json'} is not valid JSON"
    )
    assert not (tmp_path / "work").exists()
