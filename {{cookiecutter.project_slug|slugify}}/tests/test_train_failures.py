"""Every train failure leaves its own one-line reason where SageMaker reads FailureReason
(/opt/ml/output/failure; SM_OUTPUT_FAILURE locally) and exits non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from model_helpers import FRAMEWORK, mixed_table, module, split_table

train = module("steps.train")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    return split_table(mixed_table(), tmp_path_factory.mktemp("mixed"))


def channels(monkeypatch, data: Path, tmp_path: Path) -> Path:
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(data / "train"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(data / "validation"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_OUTPUT_FAILURE", str(tmp_path / "output" / "failure"))
    return tmp_path / "output" / "failure"


def copy_split(source: Path, target: Path, edit=None) -> Path:
    """The preprocess layout of source under target; edit(train table) changes train.csv."""
    for split in ("train", "validation", "test"):
        (target / split).mkdir(parents=True)
        for path in (source / split).iterdir():
            (target / split / path.name).write_bytes(path.read_bytes())
    if edit:
        table = pd.read_csv(target / "train" / "train.csv", dtype=str, keep_default_na=False)
        edit(table).to_csv(target / "train" / "train.csv", index=False)
    return target


def test_the_script_writes_the_reason_and_exits_non_zero(mixed, tmp_path):
    """As SageMaker runs it: `python train.py ARGS` in its folder (tabular.py imported beside it)."""

    def text_in_a_numeric_column(table):
        table.loc[2, "age"] = "forty"
        return table

    data = copy_split(mixed, tmp_path / "data", text_in_a_numeric_column)
    failure = tmp_path / "output" / "failure"
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(data / "train"),
        "SM_CHANNEL_VALIDATION": str(data / "validation"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_FAILURE": str(failure),
        "PYTHONPATH": "",
    }
    script = Path(train.__file__)
    done = subprocess.run(
        [sys.executable, str(script), "--framework", FRAMEWORK],
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent,
        check=False,
    )
    reason = "train: train.csv: column 'age': 'forty' is not a number (row 3)"
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == reason
    assert failure.read_text() == reason + "\n"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad hyperparameter", "train: bad hyperparameter: argument --max_depth: invalid int value: 'deep'"),
        (
            "labels not mapped",
            "train: train.csv: target column 'target' holds 'yes' (row 1); expected 0 or 1",
        ),
        (
            "columns out of order",
            "train: train.csv has columns ['target', 'plan', 'age', 'city', 'visits'], ",
        ),
        ("no schema", "train: no schema.json in "),
        ("one class", "train: the train split holds only class [0]; both 0 and 1 are needed"),
    ],
)
def test_each_refusal_is_the_failure_reason(mixed, tmp_path, monkeypatch, case, reason):
    edits = {
        "labels not mapped": lambda t: t.assign(target=t["target"].where(t.index > 0, "yes")),
        "columns out of order": lambda t: t[["target", "plan", "age", "city", "visits"]],
        "one class": lambda t: t.assign(target="0"),
    }
    data = copy_split(mixed, tmp_path / "data", edits.get(case))
    if case == "no schema":
        (data / "train" / "schema.json").unlink()
    failure = channels(monkeypatch, data, tmp_path)
    args = ["--framework", FRAMEWORK] + (["--max_depth", "deep"] if case == "bad hyperparameter" else [])
    with pytest.raises(SystemExit) as caught:
        train.main(args)
    assert str(caught.value.code).startswith(reason)
    assert failure.read_text() == str(caught.value.code) + "\n"
    assert "\n" not in failure.read_text().rstrip("\n")
    assert not (tmp_path / "model" / "model_info.json").exists()


def test_an_unexpected_error_is_named_and_re_raised(mixed, tmp_path, monkeypatch):
    failure = channels(monkeypatch, mixed, tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory\nwhile fitting")

    monkeypatch.setattr(train, f"fit_{FRAMEWORK}", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        train.main(["--framework", FRAMEWORK])
    assert failure.read_text() == "train: RuntimeError: out of memory while fitting\n"


def test_the_default_path_is_written_only_inside_a_container(tmp_path, monkeypatch):
    monkeypatch.delenv("SM_OUTPUT_FAILURE", raising=False)
    outside = tmp_path / "opt" / "ml" / "output" / "failure"
    monkeypatch.setattr(train, "FAILURE_FILE", str(outside))
    train.write_failure("train: nothing to do")
    assert not outside.parent.exists()
    outside.parent.mkdir(parents=True)
    train.write_failure("x" * 2000)
    assert outside.read_text() == "x" * train.FAILURE_LIMIT + "\n"


def test_a_successful_run_leaves_no_failure_file(mixed, tmp_path, monkeypatch):
    failure = channels(monkeypatch, mixed, tmp_path)
    assert train.main(["--framework", FRAMEWORK, "--n_estimators", "5", "--num_round", "5"]) == 0
    assert not failure.exists()
    assert json.loads((tmp_path / "model" / "model_info.json").read_text())["framework"] == FRAMEWORK
