"""`make local CHAMPION=<path | latest>`: the rehearsal compares the candidate with a champion
through the same evaluate.py and gate as the pipeline (local/champion.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_helpers import CFG, FRAMEWORK, module, pack, split_sample, train_model

rehearsal = module("local.rehearsal")
champion = module("local.champion")
history = module("local.history")
METRIC = CFG.pipeline.metric
# One shallow tree: a candidate clearly worse than the champion trained with the test defaults.
WEAK = {"sklearn": ["n_estimators=1", "max_depth=1"], "xgboost": ["num_round=1", "max_depth=1"]}


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("champion")
    data = split_sample(root / "data")
    return pack(train_model(data, root / "model"), root / "kept" / "model.tar.gz")


def test_a_worse_candidate_fails_the_rehearsal_with_both_numbers(good_archive, tmp_path, capsys):
    work = tmp_path / "work"
    args = ["--work-dir", str(work), "--threshold", "0.01", "--champion", str(good_archive)]
    code = rehearsal.main([*args, *(f"--set={s}" for s in WEAK[FRAMEWORK])])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    result = json.loads((work / "evaluation" / "evaluation.json").read_text())["champion_comparison"]
    assert code == 1
    # It reached the threshold; it lost to the champion on the same rows.
    assert result["candidate"] >= 0.01 and result["passed"] is False
    assert result["champion_version"] == str(good_archive)
    assert err == (
        f"error: rehearsal failed: candidate {METRIC} {result['candidate']:.4f}, champion "
        f"{result['champion']:.4f} - tolerance {CFG.champion.tolerance:g} = required "
        f"{result['required']:.4f}: the candidate lost to the champion {good_archive}"
    )
    status = {s["name"]: s["status"] for s in json.loads((work / "report.json").read_text())["steps"]}
    assert (status["evaluate"], status["gate"], status["serve"]) == ("ok", "FAILED", "skipped")
    # A failed run keeps no model: it can never become the `latest` champion.
    [run] = history.runs(work)
    assert not (run / "model.tar.gz").exists()
    with pytest.raises(module("cli_support").UsageError, match=r"no earlier rehearsal .* passed"):
        champion.resolve("latest", work)


def fake_run(work: Path, name: str, passed: bool, model: bytes | None) -> Path:
    run = work / history.RUNS / name
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps({"passed": passed}))
    if model is not None:
        (run / "model.tar.gz").write_bytes(model)
    return run


def test_latest_is_the_newest_passed_run_that_kept_its_model(good_archive, tmp_path):
    model = good_archive.read_bytes()
    fake_run(tmp_path, "2025-06-01T100000Z", True, model)
    passed = fake_run(tmp_path, "2025-06-02T100000Z", True, model)
    fake_run(tmp_path, "2025-06-03T100000Z", False, model)  # a failed candidate (kept by hand)
    fake_run(tmp_path, "2025-06-04T100000Z", True, None)  # passed before models were kept
    assert champion.resolve("latest", tmp_path) == passed / "model.tar.gz"


def test_a_champion_path_must_be_a_model_archive(tmp_path):
    UsageError = module("cli_support").UsageError
    with pytest.raises(UsageError, match=r"no such file; expected a model\.tar\.gz path or latest"):
        champion.resolve(str(tmp_path / "missing.tar.gz"), tmp_path)
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(UsageError, match="is not a tar archive"):
        champion.resolve(str(tmp_path / "notes.txt"), tmp_path)


def test_a_bad_champion_exits_2_before_anything_runs(tmp_path, capsys):
    code = rehearsal.main(["--work-dir", str(tmp_path / "work"), "--champion", "latest"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: --champion latest: no earlier rehearsal in ")
    assert not (tmp_path / "work").exists()


def test_the_champion_is_staged_before_the_run_clears_its_folders(good_archive, tmp_path):
    """Naming the last run's own output/model.tar.gz works: it is copied before output/ is cleared."""
    output = tmp_path / "output" / "model.tar.gz"
    output.parent.mkdir()
    shutil.copy2(good_archive, output)
    staged = champion.stage(output, tmp_path)
    assert staged == tmp_path / "champion" / "model.tar.gz"
    assert staged.read_bytes() == good_archive.read_bytes()
    assert champion.stage(None, tmp_path) is None and not (tmp_path / "champion").exists()
