"""The step scripts (preprocess, train, evaluate) as the pipeline and the local rehearsal run them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

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

    # Stratified: each class is cut 70/15/15 on its own, so each split has the table's class balance.
    for name, share in (("test", 0.15), ("validation", 0.15)):
        for label in (0, 1):
            expected = int((raw[TARGET] == label).sum() * share + 0.5)
            assert (parts[name][TARGET] == label).sum() == expected
    assert sum(len(part) for part in parts.values()) == len(raw)
    expected_columns = [TARGET] + [c for c in raw.columns if c != TARGET]
    for part in parts.values():
        assert list(part.columns) == expected_columns
    # Together the parts hold exactly the raw rows (a multiset comparison, so no row is lost or doubled).
    combined = pd.concat(parts.values())[expected_columns]
    as_rows = sorted(map(tuple, combined.to_numpy().tolist()))
    assert as_rows == sorted(map(tuple, raw[expected_columns].to_numpy().tolist()))
    # The schema beside each split describes it.
    schema = json.loads((data_dir / "test" / "schema.json").read_text())
    assert schema["label_mapping"] == {"0": 0, "1": 1} and schema["positive_label"] == "1"
    assert [f["name"] for f in schema["features"]] == expected_columns[1:]
    assert schema["rows"]["test"] == len(parts["test"]) and schema["sources"] == [SAMPLE_CSV.name]


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
    assert done.stderr == (
        f"preprocess: {tmp_path / 'empty'}: no CSV or Parquet file here or below; "
        "expected *.csv or *.parquet files\n"
    )


def test_preprocess_rejects_input_without_the_target_column(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    pd.read_csv(SAMPLE_CSV).drop(columns=[TARGET]).to_csv(tmp_path / "in" / "data.csv", index=False)
    assert preprocess.main(["--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith(f"preprocess: {TARGET}: not a column of the table; columns: ")
    assert not (tmp_path / "out").exists()


def test_train_writes_the_model_files_of_the_configured_framework(data_dir, model_dir):
    info = json.loads((model_dir / "model_info.json").read_text())
    train_columns = list(pd.read_csv(data_dir / "train" / "train.csv", nrows=1).columns)
    schema = json.loads((data_dir / "train" / "schema.json").read_text())

    assert info["framework"] == FRAMEWORK and info["model_file"] == MODEL_FILE[FRAMEWORK]
    assert info["target"] == TARGET and info["label_mapping"] == schema["label_mapping"]
    assert info["features"] == [{"name": name, "type": "numeric"} for name in train_columns[1:]]
    assert set(info["versions"]) == {"python", "numpy", "pandas", FRAMEWORK}
    assert (model_dir / MODEL_FILE[FRAMEWORK]).is_file()
    other = {"sklearn": "xgboost", "xgboost": "sklearn"}[FRAMEWORK]
    assert not (model_dir / MODEL_FILE[other]).exists()
    assert json.loads((model_dir / "schema.json").read_text()) == schema
    # The serving handler and its conversion travel with the model, byte for byte the repository's.
    for name in ("inference", "tabular"):
        source = Path(module(f"steps.{name}").__file__).read_bytes()
        assert (model_dir / "code" / f"{name}.py").read_bytes() == source


def test_train_without_a_train_channel_exits_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "missing"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_OUTPUT_FAILURE", str(tmp_path / "failure"))
    with pytest.raises(SystemExit, match=r"no schema\.json in .*missing; the preprocess step writes it"):
        train.main(["--framework", FRAMEWORK])
    (tmp_path / "missing").mkdir()
    schema = {"target": TARGET, "features": [{"name": "a", "type": "numeric"}]}
    (tmp_path / "missing" / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(SystemExit, match=r"no \.csv file in .*missing \(SM_CHANNEL_TRAIN\)"):
        train.main(["--framework", FRAMEWORK])


def test_evaluate_writes_sagemaker_model_quality_metrics(data_dir, model_dir, tmp_path):
    pack(model_dir, tmp_path / "model" / "model.tar.gz")
    args = ["--model-dir", str(tmp_path / "model"), "--test-dir", str(data_dir / "test")]
    assert evaluate.main([*args, "--output-dir", str(tmp_path / "evaluation")]) == 0

    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    scalars = {"auc", "accuracy", "precision", "recall", "f1"}
    curves = {"receiver_operating_characteristic_curve", "precision_recall_curve"}
    assert set(metrics) == scalars | curves | {"confusion_matrix"}
    for name in scalars:
        assert metrics[name]["standard_deviation"] == "NaN"
        assert 0.0 <= metrics[name]["value"] <= 1.0
    # The AUC matches one computed independently from the model loaded straight from model_dir.
    handler = module("steps.inference")
    model = handler.model_fn(str(model_dir))
    test = pd.read_csv(data_dir / "test" / "test.csv")
    table = handler.tabular.read_csv(data_dir / "test" / "test.csv")
    probability = model.predict_proba(model.convert(table).frame)
    assert metrics["auc"]["value"] == pytest.approx(roc_auc_score(test[TARGET], probability), abs=1e-6)
    counts = confusion_matrix(test[TARGET], (probability >= 0.5).astype(int))
    assert metrics["confusion_matrix"] == {
        str(actual): {str(p): int(counts[actual][p]) for p in (0, 1)} for actual in (0, 1)
    }


def test_evaluate_without_a_model_archive_exits_with_the_reason(data_dir, tmp_path):
    with pytest.raises(SystemExit, match=r"model\.tar\.gz not found"):
        evaluate.main(["--model-dir", str(tmp_path), "--test-dir", str(data_dir / "test")])


# --- evaluate: metrics without scikit-learn ----------------------------------------------------

RNG = np.random.default_rng(7)
METRIC_CASES = {
    "random": (RNG.integers(0, 2, 200), RNG.random(200)),
    "coarse scores, many ties": (RNG.integers(0, 2, 300), RNG.integers(0, 5, 300) / 4),
    "all scores tied": (np.array([0, 1, 1, 0, 1]), np.full(5, 0.5)),
    "perfect": (np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])),
    "reversed": (np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.8, 0.9])),
    "nothing predicted positive": (np.array([0, 1, 0, 1, 1]), np.array([0.1, 0.4, 0.2, 0.3, 0.3])),
    "ties at the threshold": (np.array([1, 0, 1, 0, 1, 0]), np.array([0.5, 0.5, 0.49, 0.51, 0.5, 0.2])),
}


@pytest.mark.parametrize("case", list(METRIC_CASES))
def test_metrics_equal_sklearn(case, monkeypatch):
    monkeypatch.setattr(evaluate, "CURVE_POINTS", 10_000)  # every point (thinning: test_curves_...)
    y, score = METRIC_CASES[case]
    label = (score >= 0.5).astype(int)
    expected = {
        "auc": roc_auc_score(y, score),
        "accuracy": accuracy_score(y, label),
        "precision": precision_score(y, label, zero_division=0),
        "recall": recall_score(y, label, zero_division=0),
        "f1": f1_score(y, label, zero_division=0),
    }
    assert evaluate.roc_auc(y, score) == pytest.approx(expected["auc"], abs=1e-12)
    report = evaluate.metrics(y, score)["binary_classification_metrics"]
    scalars = {k: v["value"] for k, v in report.items() if "value" in v}
    assert scalars == {k: round(float(v), 6) for k, v in expected.items()}
    (tn, fp), (fn, tp) = confusion_matrix(y, label, labels=[0, 1]).tolist()
    assert report["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    # The curves are sklearn's, point for point (sklearn orders precision-recall the other way).
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    roc = report["receiver_operating_characteristic_curve"]
    assert roc == {
        "false_positive_rates": [round(float(v), 6) for v in fpr],
        "true_positive_rates": [round(float(v), 6) for v in tpr],
    }
    precision, recall, _ = precision_recall_curve(y, score)
    pr = report["precision_recall_curve"]
    assert pr == {
        "precisions": [round(float(v), 6) for v in precision[::-1]],
        "recalls": [round(float(v), 6) for v in recall[::-1]],
    }


def test_metrics_reject_labels_that_are_not_binary():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        evaluate.metrics(np.array([0, 1, 2]), np.array([0.1, 0.5, 0.9]))
    with pytest.raises(ValueError, match="needs both classes"):
        evaluate.roc_auc(np.array([1, 1]), np.array([0.1, 0.9]))


def test_evaluate_does_not_import_sklearn(tmp_path):
    code = (
        "import sys, numpy as np\n"
        f"from {module('steps').__name__} import evaluate\n"
        "evaluate.metrics(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.4]))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]"


# --- evaluate: safe extraction on every Python -------------------------------------------------


def tarball(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def as_on_python(monkeypatch, old: bool) -> None:
    """old=True: tarfile as on a Python without extraction filters (before 3.8.17, 3.9.17,
    3.10.12, 3.11.4): no data_filter, and extractall rejects the filter keyword."""
    if not old:
        return
    extractall = tarfile.TarFile.extractall

    def old_extractall(self, path=".", members=None, *, numeric_owner=False, **kwargs):
        if kwargs:
            raise TypeError(f"extractall() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return extractall(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.setattr(evaluate, "has_extraction_filters", lambda: False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", old_extractall)


def test_evaluate_runs_on_a_python_without_extraction_filters(data_dir, model_dir, tmp_path, monkeypatch):
    pack(model_dir, tmp_path / "model" / "model.tar.gz")
    as_on_python(monkeypatch, True)
    args = ["--model-dir", str(tmp_path / "model"), "--test-dir", str(data_dir / "test")]
    assert evaluate.main([*args, "--output-dir", str(tmp_path / "evaluation")]) == 0
    assert (tmp_path / "evaluation" / "evaluation.json").is_file()


@pytest.mark.parametrize("old", [True, False], ids=["python without filters", "python with filters"])
def test_safe_extract_extracts_a_model_archive(model_dir, tmp_path, monkeypatch, old):
    archive = pack(model_dir, tmp_path / "model.tar.gz")
    as_on_python(monkeypatch, old)
    evaluate.safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "code" / "inference.py").read_bytes() == (
        model_dir / "code" / "inference.py"
    ).read_bytes()
    assert json.loads((tmp_path / "out" / "model_info.json").read_text())["framework"] == FRAMEWORK


ESCAPES = {
    "dot-dot": ({"../evil": b"x"}, None),
    "nested dot-dot": ({"code/../../evil": b"x"}, None),
    "escaping symlink": ({}, {"code/link": "../../evil"}),
}


@pytest.mark.parametrize("old", [True, False], ids=["python without filters", "python with filters"])
@pytest.mark.parametrize("case", list(ESCAPES))
def test_safe_extract_refuses_members_that_escape(tmp_path, monkeypatch, case, old):
    members, links = ESCAPES[case]
    archive = tarball(tmp_path / "evil.tar.gz", {"model_info.json": b"{}", **members}, links)
    dest = tmp_path / "deep" / "out"
    dest.mkdir(parents=True)
    as_on_python(monkeypatch, old)
    with pytest.raises(SystemExit, match="unsafe member"):
        evaluate.safe_extract(archive, dest)
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()


def test_without_filters_absolute_paths_and_links_are_refused_before_anything_is_extracted(
    tmp_path, monkeypatch
):
    as_on_python(monkeypatch, True)
    cases = [
        ({"/tmp/evil": b"x"}, None, "has an absolute path"),
        ({"../evil": b"x"}, None, 'has a ".." component'),
        ({}, {"code/link": "inference.py"}, "is not a regular file or directory"),
    ]
    for i, (members, links, reason) in enumerate(cases):
        archive = tarball(tmp_path / f"bad{i}.tar.gz", {"model_info.json": b"{}", **members}, links)
        dest = tmp_path / f"out{i}"
        dest.mkdir()
        with pytest.raises(SystemExit, match=reason):
            evaluate.safe_extract(archive, dest)
        assert list(dest.iterdir()) == []
