"""The segmented rehearsal (`make local SEGMENTS=1`) end to end, and evaluate's per-segment verdict."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from model_helpers import CFG, FRAMEWORK, PACKAGE, SAMPLE_CSV, module
from rehearsal_helpers import rehearsals

segmented = module("local.segmented")
evaluate = module("steps.evaluate")
stages = module("local.stages")
METRIC = CFG.pipeline.metric
SEGMENTS = list(segmented.DEMO_VALUES)
REHEARSALS = {"segments": ["-m", PACKAGE, "local", "--segments"]}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    return rehearsals(tmp_path_factory, REHEARSALS)["segments"]


@pytest.mark.slow
def test_every_segment_is_trained_evaluated_served_by_one_server_and_tested(run):
    done, work = run
    assert done.returncode == 0, done.stdout + done.stderr
    steps = segmented.STEP_NAMES
    for number, step in enumerate(steps, start=1):
        assert f"[{number}/{len(steps)}] {step:<15} ok" in done.stdout
    assert "Segmented rehearsal: segment = east, west" in done.stdout
    for segment in SEGMENTS:
        assert (work / "output" / segment / "model.tar.gz").is_file()
        assert (work / "data" / "test" / segment / "test.csv").is_file()
    # one server, every segment's model behind it
    served = [line for line in (work / "server.log").read_text().splitlines() if line.startswith("serving ")]
    assert len(served) == 1
    assert all(f"{s}={work / 'output' / s / 'model.tar.gz'}" in served[0] for s in SEGMENTS)
    report = json.loads((work / "report.json").read_text())
    assert report["passed"] is True and report["framework"] == FRAMEWORK
    assert report["segments"] == {"column": "segment", "values": SEGMENTS}
    assert set(report["segment_metrics"]) == set(SEGMENTS)
    tests = report["endpoint_tests"]
    assert list(tests["segments"]) == SEGMENTS and tests["passed"] is True
    for segment in SEGMENTS:
        evaluation = json.loads((work / "evaluation" / segment / "evaluation.json").read_text())
        value = evaluation["binary_classification_metrics"][METRIC]["value"]
        assert report["segment_metrics"][segment][METRIC] == value
        assert evaluation["segment"] == {
            "name": segment,
            "threshold": CFG.pipeline.metric_threshold,
            "failure": "",
        }
        # each segment's requests named its own model (TargetModel), on the one server
        assert tests["segments"][segment]["target"] == f"{tests['target']} model {segment}"
        accuracy = next(c for c in tests["segments"][segment]["checks"] if c["name"] == "accuracy")
        rows = len(list(csv.reader((work / "data" / "test" / segment / "test.csv").open()))) - 1
        assert accuracy["passed"] and f"on {rows} labelled rows" in accuracy["detail"]
    assert "Segment east:" in done.stdout and "west: ping" in done.stdout


@pytest.mark.slow
def test_the_gate_names_each_failing_segment_with_its_numbers(run):
    _, work = run
    values = {s: stages.read_metric(work / "evaluation" / s / "evaluation.json", METRIC) for s in SEGMENTS}
    low, high = sorted(SEGMENTS, key=values.get)
    cfg = segmented.demo_config(CFG)

    def gate(threshold: float) -> str:
        rehearsal = segmented.SegmentedRehearsal(cfg, work, SAMPLE_CSV, FRAMEWORK, threshold)
        return rehearsal.gate()

    assert gate(values[low]).startswith(f"{SEGMENTS[0]} ")  # at the threshold passes
    between = (values[low] + values[high]) / 2 if values[low] < values[high] else None
    if between is not None:
        with pytest.raises(stages.StepFailed) as one:
            gate(between)
        assert str(one.value) == (
            f"no segment registered; failing: {low}: {METRIC} {values[low]:.6g} < threshold {between:g}"
        )
    with pytest.raises(stages.StepFailed) as both:
        gate(1.5)  # above any score: every segment fails
    assert str(both.value) == "no segment registered; failing: " + "; ".join(
        f"{s}: {METRIC} {values[s]:.6g} < threshold 1.5" for s in SEGMENTS
    )


@pytest.mark.slow
def test_evaluate_writes_the_segments_verdict_for_the_pipelines_failure_message(run, tmp_path):
    _, work = run
    segment = SEGMENTS[0]
    common = [
        "--model-dir",
        str(work / "output" / segment),
        "--test-dir",
        str(work / "data" / "test" / segment),
    ]
    common += ["--metric", METRIC, "--segment", segment]
    assert evaluate.main([*common, "--output-dir", str(tmp_path / "high"), "--threshold", "0.9999"]) == 0
    report = json.loads((tmp_path / "high" / "evaluation.json").read_text())
    value = report["binary_classification_metrics"][METRIC]["value"]
    assert report["segment"] == {
        "name": segment,
        "threshold": 0.9999,
        "failure": f"{segment}: {METRIC} {value:.4f} below the threshold 0.9999 or the required 0.0000 "
        "(champion none);",
    }
    assert evaluate.main([*common, "--output-dir", str(tmp_path / "low"), "--threshold", "0.5"]) == 0
    assert json.loads((tmp_path / "low" / "evaluation.json").read_text())["segment"]["failure"] == ""
    # without --segment evaluation.json is as before
    plain = [
        "--model-dir",
        str(work / "output" / segment),
        "--test-dir",
        str(work / "data" / "test" / segment),
    ]
    assert evaluate.main([*plain, "--output-dir", str(tmp_path / "plain")]) == 0
    assert "segment" not in json.loads((tmp_path / "plain" / "evaluation.json").read_text())


def test_a_segment_below_its_champions_required_score_fails_too():
    result = evaluate.comparison("auc", 0.95, 0.97, "arn:v3", 0.01)
    verdict = evaluate.segment_verdict("north", 0.9, result)
    assert (
        verdict["failure"]
        == "north: auc 0.9500 below the threshold 0.9 or the required 0.9600 (champion arn:v3);"
    )
    assert (
        evaluate.segment_verdict("north", 0.9, evaluate.comparison("auc", 0.96, 0.97, "arn:v3", 0.01))[
            "failure"
        ]
        == ""
    )


def test_the_demo_data_is_the_sample_with_a_segment_column_by_row(tmp_path):
    dest = segmented.demo_data(SAMPLE_CSV, tmp_path / "demo.csv")
    rows = list(csv.reader(dest.open()))
    original = list(csv.reader(SAMPLE_CSV.open()))
    assert rows[0] == ["segment", *original[0]]
    assert [r[1:] for r in rows[1:]] == original[1:]
    assert [r[0] for r in rows[1:5]] == ["east", "west", "east", "west"]


def test_options_the_segmented_rehearsal_has_no_use_for_are_refused(tmp_path, capsys):
    cli = module("local.cli")
    work = tmp_path / "work"
    assert cli.main(["--segments", "--async", "--shifted", "--work-dir", str(work)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: --shifted, --async with a segmented rehearsal; expected neither (the segmented rehearsal "
        "has no champion comparison, monitoring step or asynchronous contract)"
    ]
    assert not work.exists()
