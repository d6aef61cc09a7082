"""Raw table cells -> model input, shared by train, evaluate and the inference handler.

The train step copies this file next to the handler (model.tar.gz: code/tabular.py), and the
handler loads it from there, so the model is trained, evaluated and served through the same
conversion. It runs in the SageMaker framework images (Python 3.8/3.9, pandas 1.1+, numpy 1.19+)
and imports only numpy and pandas at module level (the framework only when a model is loaded).

Cells arrive as text (a CSV field, or a JSON scalar turned into text by `cell`) or missing.
- numeric column: a number; "true"/"false" (any case) are 1/0; empty, a pandas missing marker
  ("NA", "null", "NaN", ...) or null is missing (NaN). Anything else, and infinity, is a
  DataError naming the column, the value and the row.
- categorical column: one of the schema's categories (the train split's distinct values, as
  text); "1" also matches a category "1.0" and the reverse. Empty or a missing marker that is
  not itself a category is missing. A value the schema does not know is treated as missing
  too (reported back in `Converted.unknown`), never an error: new values appear in production.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC, CATEGORICAL = "numeric", "categorical"
SCHEMA_FILE, INFO_FILE = "schema.json", "model_info.json"
MODEL_FILES = {"sklearn": "model.joblib", "xgboost": "xgboost-model.json"}
# What pandas.read_csv reads as missing by default (so the preprocess step wrote them as gaps);
# the same set as preprocess.NA_MARKERS (a test keeps them equal).
MISSING_TEXT = frozenset(
    (
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    )
)
BOOLEAN_TEXT = {"true": 1.0, "false": 0.0}


class DataError(ValueError):
    """A value (or the layout of a table) the model cannot use; the text names the column."""


class Feature:
    def __init__(self, name: str, kind: str, categories: list[str]) -> None:
        self.name, self.kind, self.categories = name, kind, categories

    def as_dict(self) -> dict:
        if self.kind == CATEGORICAL:
            return {"name": self.name, "type": self.kind, "categories": self.categories}
        return {"name": self.name, "type": self.kind}


class Schema:
    """schema.json as the preprocess step writes it (the fields train and the handler use)."""

    def __init__(self, data: dict, source: str = SCHEMA_FILE) -> None:
        def fail(what: str) -> DataError:
            return DataError(f"{source}: {what}")

        if not isinstance(data, dict) or not isinstance(data.get("target"), str):
            raise fail('expected an object with "target" (a column name) and "features"')
        self.data = data
        self.target = data["target"]
        self.label_mapping = data.get("label_mapping") or {}
        self.positive_label = data.get("positive_label")
        self.features = []
        raw = data.get("features")
        if not isinstance(raw, list) or not raw:
            raise fail('"features" must be a non-empty list of {"name", "type"} objects')
        for i, item in enumerate(raw):
            name = item.get("name") if isinstance(item, dict) else None
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(name, str) or kind not in (NUMERIC, CATEGORICAL):
                raise fail(f'features[{i}] needs a "name" and a "type" of {NUMERIC!r} or {CATEGORICAL!r}')
            categories = item.get("categories") if kind == CATEGORICAL else []
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                raise fail(f'features[{i}] ({name!r}): "categories" must be a list of strings')
            self.features.append(Feature(name, kind, list(categories)))
        self.names = [f.name for f in self.features]
        if len(set(self.names)) != len(self.names) or self.target in self.names:
            raise fail("feature names must be unique and differ from the target")
        # Columns a client may send that the model ignores: the target and the dropped columns.
        self.ignored = {self.target, *(data.get("dropped_columns") or {})}


def load_schema(path: Path) -> Schema:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return Schema(data, str(path))


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV with a header as text cells (None where empty): the values exactly as written."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return table.astype(object).where(table.notna(), None)


def cell(value: object, column: str, row: int) -> str | None:
    """A JSON scalar as the text a CSV field would hold; None stays missing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"  # as pandas writes a boolean column
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    raise DataError(
        f"column {column!r}: {json.dumps(value)[:40]} is not a number, a string or null (row {row})"
    )


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numeric(values: pd.Series, column: str) -> np.ndarray:
    parsed = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(np.isnan(parsed)):
        text = values.iloc[i]
        if _absent(text):
            continue
        stripped = str(text).strip()
        if stripped in MISSING_TEXT:
            continue
        if stripped.lower() in BOOLEAN_TEXT:
            parsed[i] = BOOLEAN_TEXT[stripped.lower()]
            continue
        try:
            parsed[i] = float(stripped)
        except ValueError:
            raise DataError(f"column {column!r}: {stripped[:40]!r} is not a number (row {i + 1})") from None
    infinite = np.flatnonzero(np.isinf(parsed))
    if infinite.size:
        i = int(infinite[0])
        raise DataError(f"column {column!r}: {values.iloc[i]!r} is not a finite number (row {i + 1})")
    return parsed


def _number_key(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _categorical(values: pd.Series, categories: list[str]) -> tuple[list, list[str]]:
    known = set(categories)
    by_number = {}
    for category in categories:
        key = _number_key(category)
        if key is not None:
            by_number.setdefault(key, category)
    out, unknown = [], []
    for text in values:
        if _absent(text) or text in known:
            out.append(None if _absent(text) else text)
            continue
        stripped = str(text).strip()
        match = stripped if stripped in known else by_number.get(_number_key(stripped))
        if match is None and stripped not in MISSING_TEXT:
            unknown.append(stripped)
        out.append(match)
    return out, unknown


class Converted:
    """The model input (one column per feature: float, or category text / NaN) and the unknown
    category values seen per column."""

    def __init__(self, frame: pd.DataFrame, unknown: dict[str, list[str]]) -> None:
        self.frame, self.unknown = frame, unknown


def convert(table: pd.DataFrame, schema: Schema) -> Converted:
    """Typed model input from a table of text cells (other columns are ignored). DataError for a
    missing feature column or a value a numeric column cannot use."""
    missing = [name for name in schema.names if name not in table.columns]
    if missing:
        raise DataError(f"columns {missing[:5]} are missing; the model needs {schema.names[:10]}")
    columns, unknown = {}, {}
    for feature in schema.features:
        values = table[feature.name].reset_index(drop=True)
        if feature.kind == NUMERIC:
            columns[feature.name] = _numeric(values, feature.name)
        else:
            out, seen = _categorical(values, feature.categories)
            columns[feature.name] = np.array([np.nan if v is None else v for v in out], dtype=object)
            if seen:
                unknown[feature.name] = sorted(set(seen))
    return Converted(pd.DataFrame(columns, columns=schema.names), unknown)


def xgboost_matrix(frame: pd.DataFrame, schema: Schema, label: np.ndarray | None = None):
    """An xgboost DMatrix with XGBoost's own missing values (NaN) and categorical splits: each
    categorical column becomes a pandas Categorical over the schema's categories, so a category
    has the same code in training and serving. Columns are named f0, f1, ... (xgboost refuses
    some characters in feature names); model_info.json maps them to the schema's names."""
    import xgboost as xgb

    columns = {}
    for i, feature in enumerate(schema.features):
        values = frame[feature.name]
        if feature.kind == CATEGORICAL:
            columns[f"f{i}"] = pd.Categorical(values, categories=feature.categories)
        else:
            columns[f"f{i}"] = values.to_numpy(dtype=float)
    data = pd.DataFrame(columns, columns=[f"f{i}" for i in range(len(schema.features))])
    return xgb.DMatrix(data, label=label, enable_categorical=True)


class Model:
    """A trained model with its schema: what evaluate and the handler call."""

    def __init__(self, info: dict, schema: Schema, estimator) -> None:
        self.info, self.schema, self.estimator = info, schema, estimator
        self.framework = info["framework"]
        self.features = schema.names

    def convert(self, table: pd.DataFrame) -> Converted:
        return convert(table, self.schema)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (label 1) for each row of a converted frame."""
        if self.framework == "xgboost":
            return np.asarray(self.estimator.predict(xgboost_matrix(frame, self.schema)), dtype=float)
        return np.asarray(self.estimator.predict_proba(frame)[:, 1], dtype=float)


def load_model(model_dir: Path) -> Model:
    directory = Path(model_dir)
    info = json.loads((directory / INFO_FILE).read_text())
    schema = load_schema(directory / SCHEMA_FILE)
    path = directory / MODEL_FILES[info["framework"]]
    if info["framework"] == "xgboost":
        import xgboost as library

        estimator = library.Booster()
        estimator.load_model(str(path))
    else:
        import joblib
        import sklearn as library

        estimator = joblib.load(path)
    trained_with = (info.get("versions") or {}).get(info["framework"])
    if trained_with and trained_with != library.__version__:
        print(
            f"model: trained with {info['framework']} {trained_with}, loaded with {library.__version__}; "
            "predictions may differ (the pipeline trains and serves in the same framework image)",
            file=sys.stderr,
        )
    return Model(info, schema, estimator)
