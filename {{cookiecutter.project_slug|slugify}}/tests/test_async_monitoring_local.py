"""`make local ASYNC=1 SHIFTED=1`: the rehearsal's monitoring step checks the traffic captured
through the asynchronous contract, and sends the shifted sample through it too."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model_helpers import PACKAGE
from rehearsal_helpers import rehearsals

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    return rehearsals(tmp_path_factory, {"async-shifted": ["-m", PACKAGE, "local", "--async", "--shifted"]})[
        "async-shifted"
    ]


def inputs(path: Path) -> list[str]:
    return [
        json.loads(line)["captureData"]["endpointInput"]["data"] for line in path.read_text().splitlines()
    ]


def test_the_async_traffic_is_captured_and_checked_and_the_shifted_sample_fails(run) -> None:
    done, work = run
    assert done.returncode == 1, done.stdout + done.stderr
    assert "endpoint tests  ok" in done.stdout and "monitoring      FAILED" in done.stdout
    assert "violations in the shifted sample" in done.stderr
    # Every request the async contract took is a file under <work>/async/input; the captured
    # traffic and the shifted sample are among them.
    submitted = {path.read_text() for path in (work / "async" / "input").iterdir()}
    capture = work / "monitoring" / "capture"
    traffic, shifted = inputs(capture / "traffic.jsonl"), inputs(capture / "shifted.jsonl")
    assert len(traffic) > 100 and set(traffic) <= submitted
    assert len(shifted) == 1 and shifted[0] in submitted
    report = json.loads((work / "report.json").read_text())["monitoring"]
    assert report["traffic"]["violations"] == [] and report["traffic"]["records"] > 100
    assert {v["constraint_check_type"] for v in report["shifted"]["violations"]} >= {"baseline_drift_check"}
