"""Train step: fit a binary classifier on the train channel and save it to SM_MODEL_DIR.

SageMaker's training contract: hyperparameters arrive as command-line arguments, data in
SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION, the model goes to SM_MODEL_DIR (packed into
model.tar.gz by SageMaker). Locally the same environment variables are set by the
rehearsal. The target is the first CSV column.

Files written: `model.joblib` (sklearn) or `xgboost-model.json` (xgboost), `model_info.json`
naming the framework and feature columns, and `code/inference.py` (the serving handler).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

FRAMEWORKS = ("sklearn", "xgboost")


def load_channel(env_var: str, default: str) -> pd.DataFrame:
    directory = Path(os.environ.get(env_var, default))
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise SystemExit(f"train: no .csv file in {directory} ({env_var})")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def fit_sklearn(x: np.ndarray, y: np.ndarray, args: argparse.Namespace):
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        random_state=0,
    )
    return model.fit(x, y)


def fit_xgboost(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, args: argparse.Namespace):
    import xgboost as xgb

    params = {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "max_depth": args.max_depth,
        "eta": args.eta,
    }
    train = xgb.DMatrix(x, label=y)
    valid = xgb.DMatrix(x_val, label=y_val)
    return xgb.train(
        params, train, num_boost_round=args.num_round, evals=[(valid, "validation")], verbose_eval=False
    )


def arguments() -> argparse.ArgumentParser:
    """The hyperparameters this script takes (config.HYPERPARAMETERS must list the same, a test checks)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, default="sklearn")
    parser.add_argument("--n_estimators", type=int, default=150)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--num_round", type=int, default=150)
    parser.add_argument("--eta", type=float, default=0.1)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, unknown = arguments().parse_known_args(argv)
    if unknown:
        print(f"train: ignoring unknown arguments {unknown}")

    train = load_channel("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    validation = load_channel("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    target = train.columns[0]
    features = list(train.columns[1:])
    x, y = train[features].to_numpy(), train[target].to_numpy()
    x_val, y_val = validation[features].to_numpy(), validation[target].to_numpy()

    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    if args.framework == "sklearn":
        import joblib

        joblib.dump(fit_sklearn(x, y, args), model_dir / "model.joblib")
    else:
        fit_xgboost(x, y, x_val, y_val, args).save_model(str(model_dir / "xgboost-model.json"))
    info = {"framework": args.framework, "target": target, "features": features}
    (model_dir / "model_info.json").write_text(json.dumps(info, indent=2))
    # The inference handler travels inside model.tar.gz (code/), as SageMaker's framework
    # containers expect, so every server of this model runs the same handler.
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy2(Path(__file__).with_name("inference.py"), model_dir / "code" / "inference.py")
    print(f"train: {args.framework} model on {len(train)} rows, {len(features)} features -> {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
