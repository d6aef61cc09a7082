"""Train step: fit a binary classifier on the train channel and save it to SM_MODEL_DIR.

SageMaker's training contract: hyperparameters arrive as command-line arguments, data in
SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION, the model goes to SM_MODEL_DIR (packed into
model.tar.gz by SageMaker). Locally the same environment variables are set by the rehearsal.
Each channel holds the preprocess step's split: `*.csv` (header; the target first, as 0/1;
then the features as raw text, gaps empty) and `schema.json` (features, types, categories,
label mapping).

The model sees the features through tabular.py (text -> numbers or categories, gaps -> NaN):
- sklearn: one Pipeline, saved with joblib as `model.joblib`: a ColumnTransformer (numeric:
  median imputation plus missing-value indicators; categorical: a "missing" category, then
  one-hot over the schema's categories) followed by a GradientBoostingClassifier.
- xgboost: XGBoost's own handling, saved as `xgboost-model.json`: NaN is missing (each split
  learns which way gaps go) and categorical columns are pandas Categoricals over the schema's
  categories (`enable_categorical`, tree_method "hist"; xgboost 1.7.4 has both). No scikit-learn
  object in the model: the 1.7-1 image's scikit-learn is 0.24.1, and the model stays a portable
  JSON booster.

Files written: the model, `schema.json` (copied), `model_info.json` (framework, target, label
mapping, features with types and categories, library versions) and `code/inference.py` plus
`code/tabular.py` (the serving handler and its conversion).

On any failure it writes one line to SM_OUTPUT_FAILURE (/opt/ml/output/failure, which SageMaker
reports as the job's FailureReason) and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

try:  # imported from the package (tests, tools) or run as a script beside tabular.py (SageMaker)
    from . import tabular
except ImportError:
    import tabular

FRAMEWORKS = ("sklearn", "xgboost")
FAILURE_FILE = "/opt/ml/output/failure"
FAILURE_LIMIT = 1000  # characters; SageMaker's FailureReason holds at most 1024


class TrainError(SystemExit):
    """A failure with a one-line reason (also the process's exit message)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise TrainError(f"train: bad hyperparameter: {message}")


def arguments() -> argparse.ArgumentParser:
    """The hyperparameters this script takes (config.HYPERPARAMETERS must list the same, a test checks)."""
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, default="sklearn")
    parser.add_argument("--n_estimators", type=int, default=150)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--num_round", type=int, default=150)
    parser.add_argument("--eta", type=float, default=0.1)
    return parser


class Split:
    """One channel: the features as the model sees them, and the labels."""

    def __init__(self, frame: pd.DataFrame, labels: np.ndarray, rows: int) -> None:
        self.frame, self.labels, self.rows = frame, labels, rows


def channel_dir(env_var: str, default: str) -> Path:
    return Path(os.environ.get(env_var, default))


def load_split(env_var: str, default: str, schema: tabular.Schema) -> Split:
    directory = channel_dir(env_var, default)
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise TrainError(f"train: no .csv file in {directory} ({env_var})")
    frames, labels = [], []
    expected = [schema.target, *schema.names]
    for path in files:
        table = tabular.read_csv(path)
        if list(table.columns) != expected:
            raise TrainError(
                f"train: {path.name} has columns {list(table.columns)[:8]}, expected {expected[:8]} "
                f"(the target, then the features of {tabular.SCHEMA_FILE}, in that order)"
            )
        values = table[schema.target]
        bad = ~values.isin(["0", "1"])
        if bad.any():
            first = values[bad].iloc[0]
            raise TrainError(
                f"train: {path.name}: target column {schema.target!r} holds {first!r} (row "
                f"{int(np.flatnonzero(bad.to_numpy())[0]) + 1}); expected 0 or 1 (preprocess maps the labels)"
            )
        try:
            frames.append(tabular.convert(table, schema).frame)
        except tabular.DataError as exc:
            raise TrainError(f"train: {path.name}: {exc}") from None
        labels.append(values.astype(int).to_numpy())
    frame = pd.concat(frames, ignore_index=True)
    return Split(frame, np.concatenate(labels), len(frame))


def fit_sklearn(train: Split, schema: tabular.Schema, args: argparse.Namespace):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [f.name for f in schema.features if f.kind == tabular.NUMERIC]
    categorical = [f for f in schema.features if f.kind == tabular.CATEGORICAL]
    parts = []
    if numeric:
        parts.append(("numeric", SimpleImputer(strategy="median", add_indicator=True), numeric))
    if categorical:
        missing = "(missing)"
        encoder = OneHotEncoder(
            categories=[[*f.categories, missing] for f in categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        steps = [("impute", SimpleImputer(strategy="constant", fill_value=missing)), ("encode", encoder)]
        parts.append(("categorical", Pipeline(steps), [f.name for f in categorical]))
    model = GradientBoostingClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        random_state=0,
    )
    pipeline = Pipeline([("features", ColumnTransformer(parts, sparse_threshold=0)), ("model", model)])
    return pipeline.fit(train.frame, train.labels)


def fit_xgboost(train: Split, validation: Split, schema: tabular.Schema, args: argparse.Namespace):
    import xgboost as xgb

    params = {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "tree_method": "hist",  # categorical splits need hist (or approx) in xgboost 1.7
        "max_depth": args.max_depth,
        "eta": args.eta,
        "seed": 0,
    }
    dtrain = tabular.xgboost_matrix(train.frame, schema, train.labels)
    dvalid = tabular.xgboost_matrix(validation.frame, schema, validation.labels)
    return xgb.train(
        params, dtrain, num_boost_round=args.num_round, evals=[(dvalid, "validation")], verbose_eval=False
    )


def versions(framework: str) -> dict[str, str]:
    library = "sklearn" if framework == "sklearn" else "xgboost"
    found = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__}
    found[library] = __import__(library).__version__
    return found


def model_info(schema: tabular.Schema, framework: str) -> dict:
    return {
        "framework": framework,
        "model_file": tabular.MODEL_FILES[framework],
        "target": schema.target,
        "positive_label": schema.positive_label,
        "label_mapping": schema.label_mapping,
        "features": [f.as_dict() for f in schema.features],
        "versions": versions(framework),
    }


def train(args: argparse.Namespace) -> str:
    schema_path = channel_dir("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train") / tabular.SCHEMA_FILE
    if not schema_path.is_file():
        raise TrainError(
            f"train: no {tabular.SCHEMA_FILE} in {schema_path.parent}; the preprocess step writes it"
        )
    try:
        schema = tabular.load_schema(schema_path)
    except tabular.DataError as exc:
        raise TrainError(f"train: {exc}") from None
    data = load_split("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train", schema)
    validation = load_split("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation", schema)
    classes = sorted(set(data.labels.tolist()))
    if classes != [0, 1]:
        raise TrainError(f"train: the train split holds only class {classes}; both 0 and 1 are needed")

    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    model_file = model_dir / tabular.MODEL_FILES[args.framework]
    if args.framework == "sklearn":
        import joblib

        joblib.dump(fit_sklearn(data, schema, args), model_file)
    else:
        fit_xgboost(data, validation, schema, args).save_model(str(model_file))
    shutil.copy2(schema_path, model_dir / tabular.SCHEMA_FILE)
    (model_dir / tabular.INFO_FILE).write_text(json.dumps(model_info(schema, args.framework), indent=2))
    # The handler travels inside model.tar.gz (code/), as SageMaker's framework containers expect,
    # with the conversion it shares with this step, so every server runs the same code.
    (model_dir / "code").mkdir(exist_ok=True)
    here = Path(__file__).resolve().parent
    for name in ("inference.py", "tabular.py"):
        shutil.copy2(here / name, model_dir / "code" / name)
    kinds = {
        kind: sum(f.kind == kind for f in schema.features) for kind in (tabular.NUMERIC, tabular.CATEGORICAL)
    }
    return (
        f"train: {args.framework} model on {data.rows} rows, {kinds[tabular.NUMERIC]} numeric and "
        f"{kinds[tabular.CATEGORICAL]} categorical features -> {model_dir}"
    )


def write_failure(reason: str) -> None:
    """One line for SageMaker's FailureReason. SM_OUTPUT_FAILURE overrides the path (local runs);
    the default path is written only where it exists, i.e. inside a training container."""
    path = Path(os.environ.get("SM_OUTPUT_FAILURE") or FAILURE_FILE)
    if "SM_OUTPUT_FAILURE" not in os.environ and not path.parent.is_dir():
        return
    line = " ".join(reason.split())[:FAILURE_LIMIT]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line + "\n")
    except OSError as exc:
        print(f"train: cannot write the failure reason to {path}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        args, unknown = arguments().parse_known_args(argv)
        if unknown:
            print(f"train: ignoring unknown arguments {unknown}")
        print(train(args))
    except SystemExit as exc:
        if exc.code not in (None, 0):
            write_failure(exc.code if isinstance(exc.code, str) else f"train: exited {exc.code}")
        raise
    except Exception as exc:
        write_failure(f"train: {type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
