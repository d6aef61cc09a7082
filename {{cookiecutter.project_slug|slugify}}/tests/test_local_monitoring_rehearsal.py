"""The rehearsal's monitoring step end to end: `make local` passes with the endpoint tests' captured
traffic checked against the train split's baseline, and `make local SHIFTED=1` fails naming the
shifted features."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model_helpers import PACKAGE, ROOT
from rehearsal_helpers import rehearsals

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """A rehearsal without and one with --shifted, as `make local` runs them; the one without is
    the default run test_rehearsal.py checks too (rehearsal_helpers.rehearsals, once per session)."""
    done = rehearsals(
        tmp_path_factory,
        {"default": ["-m", PACKAGE, "local"], "shifted": ["-m", PACKAGE, "local", "--shifted"]},
    )
    return {"normal": done["default"], "shifted": done["shifted"]}


def violations(path: Path) -> set[tuple[str, str]]:
    document = json.loads(path.read_text())
    assert set(document) == {"violations"}
    for v in document["violations"]:
        assert set(v) == {"feature_name", "constraint_check_type", "description"}
    return {(v["constraint_check_type"], v["feature_name"]) for v in document["violations"]}


def features(work: Path) -> list[str]:
    return [f["name"] for f in json.loads((work / "data" / "train" / "schema.json").read_text())["features"]]


def test_the_endpoint_traffic_is_captured_and_passes(runs):
    done, work = runs["normal"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "monitoring      ok" in done.stdout and "rehearsal passed" in done.stdout
    folder = work / "monitoring"
    baseline = json.loads((folder / "baseline" / "statistics.json").read_text())
    constraints = json.loads((folder / "baseline" / "constraints.json").read_text())
    train_rows = len((work / "data" / "train" / "train.csv").read_text().splitlines()) - 1
    assert baseline["dataset"]["item_count"] == train_rows
    assert [f["name"] for f in constraints["features"]] == features(work)
    events = [json.loads(line) for line in (folder / "capture" / "traffic.jsonl").read_text().splitlines()]
    assert {e["captureData"]["endpointInput"]["observedContentType"] for e in events} == {
        "text/csv",
        "application/json",
    }
    assert violations(folder / "traffic" / "constraint_violations.json") == set()
    report = json.loads((work / "report.json").read_text())
    traffic = report["monitoring"]["traffic"]
    assert traffic["violations"] == [] and traffic["empty_records"] == 2  # the suite's all-missing probes
    assert traffic["records"] >= 2 * report["endpoint_tests"]["latency"]["requests"] - 2
    [kept] = (work / "runs").iterdir()
    assert json.loads((kept / "constraint_violations.json").read_text()) == {"violations": []}
    assert not (kept / "shifted_constraint_violations.json").exists()


def test_the_shifted_sample_fails_the_rehearsal_naming_its_features(runs):
    done, work = runs["shifted"]
    names = features(work)
    found = violations(work / "monitoring" / "shifted" / "constraint_violations.json")
    drifted = names[:3]
    assert {("baseline_drift_check", n) for n in drifted} | {("completeness_check", names[-1])} <= found
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: rehearsal failed: monitoring: {len(found)} violations in the shifted sample ("
    )
    assert all(n in last for n in [*drifted, names[-1]]) and "constraint_violations.json" in last
    # The normal traffic of the same run still passed; the table shows both samples.
    assert violations(work / "monitoring" / "traffic" / "constraint_violations.json") == set()
    table = done.stdout.split("monitoring      running", 1)[1]
    assert "traffic" in table and "shifted" in table and "baseline_drift_check" in table
    report = json.loads((work / "report.json").read_text())
    assert report["passed"] is False and report["monitoring"]["shifted"]["violations"]
    [kept] = (work / "runs").iterdir()
    assert violations(kept / "shifted_constraint_violations.json") == found


def test_make_local_passes_shifted_only_when_asked():
    def dry(*args: str) -> str:
        done = subprocess.run(
            ["make", "-n", "local", *args], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout

    assert "--shifted" in dry("SHIFTED=1")
    assert "--shifted" not in dry() and "--shifted" not in dry("SHIFTED=0")
