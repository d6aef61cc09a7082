"""steps/evaluate.py with a champion: both models scored on the same test rows, each through its
own handler and conversion, and evaluation.json's champion_comparison the gate reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from model_helpers import TARGET, mixed_table, module, pack, split_sample, split_table, train_model

evaluate = module("steps.evaluate")
# Appended to a packed handler: every third prediction is turned around (a clearly worse model).
WORSE = """
_good_model_fn = model_fn


class _Worse:
    def __init__(self, model):
        self.model, self.schema = model, model.schema

    def convert(self, table):
        return self.model.convert(table)

    def predict_proba(self, frame):
        import numpy
        p = self.model.predict_proba(frame)
        return numpy.where(numpy.arange(len(p)) % 3 == 0, 1.0 - p, p)


def model_fn(model_dir):
    return _Worse(_good_model_fn(model_dir))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return split_sample(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def archives(data_dir, tmp_path_factory) -> dict[str, Path]:
    """model.tar.gz of a good model and of a worse one (the same model, predictions damaged)."""
    root = tmp_path_factory.mktemp("archives")
    model_dir = train_model(data_dir, root / "model")
    return {
        "good": pack(model_dir, root / "good" / "model.tar.gz"),
        "worse": pack(model_dir, root / "worse" / "model.tar.gz", WORSE),
    }


def run(data_dir: Path, out: Path, candidate: Path, champion: Path | None = None, *extra: str) -> dict:
    args = ["--model-dir", str(candidate.parent), "--test-dir", str(data_dir / "test")]
    if champion is not None:
        args += ["--champion-dir", str(champion.parent), "--champion-version", "arn:champion/4"]
    assert evaluate.main([*args, "--output-dir", str(out), "--tolerance", "0.01", *extra]) == 0
    return json.loads((out / "evaluation.json").read_text())


def test_the_champion_is_scored_on_the_same_rows_as_the_candidate(data_dir, archives, tmp_path):
    """The same model as candidate and champion scores exactly the same: the rows are the same."""
    report = run(data_dir, tmp_path, archives["good"], archives["good"])
    comparison = report["champion_comparison"]
    auc = report["binary_classification_metrics"]["auc"]["value"]
    assert comparison == {
        "metric": "auc",
        "candidate": auc,
        "champion": auc,
        "champion_version": "arn:champion/4",
        "tolerance": 0.01,
        "required": round(auc - 0.01, 6),
        "passed": True,
    }


def test_a_worse_candidate_fails_the_comparison_with_both_numbers(data_dir, archives, tmp_path, capsys):
    report = run(data_dir, tmp_path, archives["worse"], archives["good"])
    comparison = report["champion_comparison"]
    out = capsys.readouterr().out
    test = pd.read_csv(data_dir / "test" / "test.csv")
    # Both numbers as computed independently over every test row.
    handler = module("steps.inference")
    good = handler.model_fn(str(train_model(data_dir, tmp_path / "again")))
    probability = good.predict_proba(
        good.convert(handler.tabular.read_csv(data_dir / "test" / "test.csv")).frame
    )
    assert comparison["champion"] == pytest.approx(roc_auc_score(test[TARGET], probability), abs=1e-6)
    worse = np.where(np.arange(len(probability)) % 3 == 0, 1.0 - probability, probability)
    assert comparison["candidate"] == pytest.approx(roc_auc_score(test[TARGET], worse), abs=1e-6)
    assert comparison["candidate"] < comparison["required"] == round(comparison["champion"] - 0.01, 6)
    assert comparison["passed"] is False
    assert f"candidate auc {comparison['candidate']:.4f}, champion {comparison['champion']:.4f}" in out
    assert out.rstrip().endswith("FAILED")
    # The same candidate against no champion passes the comparison.
    alone = run(data_dir, tmp_path / "alone", archives["worse"])["champion_comparison"]
    assert (alone["champion"], alone["champion_version"], alone["required"]) == (None, "none", 0.0)
    assert alone["passed"] is True


def test_without_a_champion_a_champion_folder_is_ignored_and_predictions_are_written(
    data_dir, archives, tmp_path
):
    args = ["--model-dir", str(archives["good"].parent), "--test-dir", str(data_dir / "test")]
    # The default --champion-version is none: a stray archive in --champion-dir is not scored.
    extra = ["--champion-dir", str(archives["worse"].parent), "--output-dir", str(tmp_path)]
    assert evaluate.main([*args, *extra]) == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["champion_comparison"]["champion"] is None
    assert report["champion_comparison"]["tolerance"] == 0.0
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    test = pd.read_csv(data_dir / "test" / "test.csv")
    assert list(predictions.columns) == ["probability", "prediction", "label"]
    assert predictions["label"].tolist() == test[TARGET].tolist()
    assert (predictions["prediction"] == (predictions["probability"] >= 0.5).astype(int)).all()
    assert roc_auc_score(predictions["label"], predictions["probability"]) == pytest.approx(
        report["binary_classification_metrics"]["auc"]["value"], abs=1e-5
    )


def test_a_named_champion_without_its_archive_stops_evaluate(data_dir, archives, tmp_path):
    args = ["--model-dir", str(archives["good"].parent), "--test-dir", str(data_dir / "test")]
    with pytest.raises(SystemExit, match=r"champion arn:x/1: .*champion/model\.tar\.gz not found"):
        evaluate.main([*args, "--champion-dir", str(tmp_path / "champion"), "--champion-version", "arn:x/1"])


def test_a_champion_trained_on_another_schema_is_scored_with_its_own_conversion(tmp_path):
    """The champion was trained without one column (an older data contract); it still scores the
    candidate's test rows, reading only its own columns, and a champion that needs a column the
    rows do not have stops evaluate naming it."""
    rows = mixed_table()
    full = split_table(rows, tmp_path / "full")
    fewer = split_table(rows, tmp_path / "fewer", "--drop-columns", "city")
    candidate = pack(train_model(full, tmp_path / "m-full"), tmp_path / "a" / "model.tar.gz")
    champion = pack(train_model(fewer, tmp_path / "m-fewer"), tmp_path / "b" / "model.tar.gz")
    comparison = run(full, tmp_path / "out", candidate, champion)["champion_comparison"]
    assert comparison["champion"] is not None and 0.5 < comparison["champion"] <= 1.0
    # The other way round: the candidate's rows lack the column the champion was trained on.
    with pytest.raises(SystemExit, match=r"champion model, test\.csv: columns \['city'\] are missing"):
        run(fewer, tmp_path / "out2", champion, candidate)


@pytest.mark.parametrize(
    ("champion", "flipped"),
    [({}, False), ({"no": 0, "yes": 1}, False), ({"no": 1, "yes": 0}, True)],
)
def test_a_champion_with_the_other_positive_label_is_turned_around(champion, flipped):
    assert evaluate.champion_flipped({"no": 0, "yes": 1}, champion, "arn:x/1") is flipped


def test_a_champion_predicting_other_classes_is_refused():
    with pytest.raises(SystemExit, match="predict different classes and cannot be compared"):
        evaluate.champion_flipped({"no": 0, "yes": 1}, {"stay": 0, "churn": 1}, "arn:x/1")
