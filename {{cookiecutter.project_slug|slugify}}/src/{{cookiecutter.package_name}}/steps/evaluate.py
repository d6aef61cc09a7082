"""Evaluate step: score the packaged model on the test set and write evaluation.json.

Runs in a SageMaker processing container (model.tar.gz under /opt/ml/processing/model,
test CSV under /opt/ml/processing/test, report to /opt/ml/processing/evaluation) and
locally with those directories given as arguments. The model is loaded through the
inference handler packed in model.tar.gz (code/inference.py), so evaluation exercises
exactly what will be served.

evaluation.json follows SageMaker's model quality metrics format:
{"binary_classification_metrics": {"auc": {"value": ..., "standard_deviation": "NaN"}, ...}}
The pipeline's ConditionStep reads binary_classification_metrics.<metric>.value from it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

BASE = Path("/opt/ml/processing")


def load_handler(model_dir: Path):
    spec = importlib.util.spec_from_file_location("packaged_inference", model_dir / "code" / "inference.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"evaluate: no code/inference.py in the model package at {model_dir}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metrics(y_true: np.ndarray, probability: np.ndarray) -> dict:
    label = (probability >= 0.5).astype(int)
    values = {
        "auc": roc_auc_score(y_true, probability),
        "accuracy": accuracy_score(y_true, label),
        "precision": precision_score(y_true, label, zero_division=0),
        "recall": recall_score(y_true, label, zero_division=0),
        "f1": f1_score(y_true, label, zero_division=0),
    }
    return {
        "binary_classification_metrics": {
            name: {"value": round(float(v), 6), "standard_deviation": "NaN"} for name, v in values.items()
        }
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=BASE / "model", help="holds model.tar.gz")
    parser.add_argument("--test-dir", type=Path, default=BASE / "test")
    parser.add_argument("--output-dir", type=Path, default=BASE / "evaluation")
    args = parser.parse_args(argv)

    archive = args.model_dir / "model.tar.gz"
    if not archive.exists():
        raise SystemExit(f"evaluate: {archive} not found")
    tests = sorted(args.test_dir.glob("*.csv"))
    if not tests:
        raise SystemExit(f"evaluate: no .csv file in {args.test_dir}")
    test = pd.concat([pd.read_csv(f) for f in tests], ignore_index=True)

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        handler = load_handler(Path(tmp))
        model = handler.model_fn(tmp)
        features = test[model.features].to_numpy()
        probability = np.asarray(model.predict_proba(features), dtype=float)

    report = metrics(test.iloc[:, 0].to_numpy(), probability)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    summary = ", ".join(f"{k}={v['value']:.4f}" for k, v in report["binary_classification_metrics"].items())
    print(f"evaluate: {len(test)} rows: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
