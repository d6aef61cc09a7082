"""The step scripts (preprocess, train, evaluate) as the pipeline and the local rehearsal run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from model_helpers import FRAMEWORK, ROOT, SAMPLE_CSV, TARGET, module, pack, split_sample, train_model

preprocess = module("steps.preprocess")
train = module("steps.train")
evaluate = module("steps.evaluate")
MODEL_FILE = {"sklearn": "model.joblib", "xgboost": "xgboost-model.json"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return split_sample(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory) -> Path:
    return train_model(data_dir, tmp_path_factory.mktemp("model"))


def test_preprocess_splits_every_row_once_with_the_target_first(data_dir):
    raw = pd.read_csv(SAMPLE_CSV)
    parts = {name: pd.read_csv(data_dir / name / f"{name}.csv") for name in ("train", "validation", "test")}

    assert len(parts["test"]) == int(len(raw) * 0.15)
    assert len(parts["validation"]) == int(len(raw) * 0.15)
    assert len(parts["train"]) == len(raw) - len(parts["test"]) - len(parts["validation"])
    expected_columns = [TARGET] + [c for c in raw.columns if c != TARGET]
    for part in parts.values():
        assert list(part.columns) == expected_columns
    # Together the parts hold exactly the raw rows (a multiset comparison, so no row is lost or doubled).
    combined = pd.concat(parts.values())[expected_columns]
    as_rows = sorted(map(tuple, combined.to_numpy().tolist()))
    assert as_rows == sorted(map(tuple, raw[expected_columns].to_numpy().tolist()))


def test_preprocess_is_reproducible_for_a_seed(data_dir, tmp_path):
    again = split_sample(tmp_path)
    for name in ("train", "validation", "test"):
        assert (again / name / f"{name}.csv").read_text() == (data_dir / name / f"{name}.csv").read_text()


def test_preprocess_without_a_csv_exits_non_zero_with_the_reason(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [sys.executable, str(Path(preprocess.__file__)), "--input-dir", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode != 0
    assert f"no .csv file in {tmp_path / 'empty'}" in done.stderr


def test_preprocess_rejects_input_without_the_target_column(tmp_path):
    (tmp_path / "in").mkdir()
    pd.read_csv(SAMPLE_CSV).drop(columns=[TARGET]).to_csv(tmp_path / "in" / "data.csv", index=False)
    with pytest.raises(SystemExit, match=f"target column '{TARGET}' not in"):
        preprocess.main(["--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "out")])


def test_train_writes_the_model_files_of_the_configured_framework(data_dir, model_dir):
    info = json.loads((model_dir / "model_info.json").read_text())
    train_columns = list(pd.read_csv(data_dir / "train" / "train.csv", nrows=1).columns)

    assert info == {"framework": FRAMEWORK, "target": TARGET, "features": train_columns[1:]}
    assert (model_dir / MODEL_FILE[FRAMEWORK]).is_file()
    other = {"sklearn": "xgboost", "xgboost": "sklearn"}[FRAMEWORK]
    assert not (model_dir / MODEL_FILE[other]).exists()
    # The serving handler travels with the model, byte for byte the repository's handler.
    source = Path(module("steps.inference").__file__).read_bytes()
    assert (model_dir / "code" / "inference.py").read_bytes() == source


def test_train_without_a_train_channel_exits_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "missing"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    with pytest.raises(SystemExit, match=r"no \.csv file in .*missing \(SM_CHANNEL_TRAIN\)"):
        train.main(["--framework", FRAMEWORK])


def test_evaluate_writes_sagemaker_model_quality_metrics(data_dir, model_dir, tmp_path):
    pack(model_dir, tmp_path / "model" / "model.tar.gz")
    args = ["--model-dir", str(tmp_path / "model"), "--test-dir", str(data_dir / "test")]
    assert evaluate.main([*args, "--output-dir", str(tmp_path / "evaluation")]) == 0

    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"auc", "accuracy", "precision", "recall", "f1"}
    for entry in metrics.values():
        assert entry["standard_deviation"] == "NaN"
        assert 0.0 <= entry["value"] <= 1.0
    # The AUC matches one computed independently from the model loaded straight from model_dir.
    handler = module("steps.inference")
    model = handler.model_fn(str(model_dir))
    test = pd.read_csv(data_dir / "test" / "test.csv")
    expected = roc_auc_score(test[TARGET], model.predict_proba(test[model.features].to_numpy()))
    assert metrics["auc"]["value"] == pytest.approx(expected, abs=1e-6)


def test_evaluate_without_a_model_archive_exits_with_the_reason(data_dir, tmp_path):
    with pytest.raises(SystemExit, match=r"model\.tar\.gz not found"):
        evaluate.main(["--model-dir", str(tmp_path), "--test-dir", str(data_dir / "test")])
