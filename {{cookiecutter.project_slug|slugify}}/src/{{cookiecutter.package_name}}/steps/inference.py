"""Inference handler: SageMaker's model_fn / input_fn / predict_fn / output_fn contract.

Packaged into model.tar.gz under code/ by the train step, so the SageMaker framework
containers, the evaluate step and the local rehearsal server all serve the model
through this one file.

Request: `text/csv` (one row of feature values per line, no header, no target) or
`application/json` ({"instances": [[...], ...]} or {"instances": [{"feature": value}, ...]}).
Response: `application/json` {"predictions": [{"label": 0 or 1, "probability": p}, ...]}.
Bad input raises InputError, which servers report as HTTP 400.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

JSON = "application/json"
CSV = "text/csv"
MAX_ROWS = 1000


class InputError(ValueError):
    """The request body or content type cannot be turned into feature rows."""


class Model:
    """A loaded model with the feature order it was trained on."""

    def __init__(self, framework: str, features: list[str], estimator) -> None:
        self.framework = framework
        self.features = features
        self.estimator = estimator

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        if self.framework == "xgboost":
            import xgboost as xgb

            return self.estimator.predict(xgb.DMatrix(rows))
        return self.estimator.predict_proba(rows)[:, 1]


def model_fn(model_dir: str) -> Model:
    directory = Path(model_dir)
    info = json.loads((directory / "model_info.json").read_text())
    if info["framework"] == "xgboost":
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(directory / "xgboost-model.json"))
        return Model("xgboost", info["features"], booster)
    import joblib

    return Model("sklearn", info["features"], joblib.load(directory / "model.joblib"))


def _rows_from_json(body: str, features: list[str]) -> list[list[float]]:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc.msg}") from exc
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise InputError('expected {"instances": [...]} with at least one instance')
    rows = []
    for i, item in enumerate(instances):
        if isinstance(item, dict):
            missing = [f for f in features if f not in item]
            if missing:
                raise InputError(f"instance {i} lacks features {missing[:3]}")
            rows.append([item[f] for f in features])
        elif isinstance(item, list):
            rows.append(item)
        else:
            raise InputError(f"instance {i} must be a list of numbers or an object of features")
    return rows


def _rows_from_csv(body: str) -> list[list[float]]:
    rows = []
    for n, line in enumerate(io.StringIO(body), start=1):
        if line.strip():
            try:
                rows.append([float(v) for v in line.strip().split(",")])
            except ValueError as exc:
                raise InputError(f"CSV line {n} has a value that is not a number") from exc
    if not rows:
        raise InputError("CSV body has no rows")
    return rows


def parse(body: bytes | str, content_type: str, features: list[str]) -> np.ndarray:
    """Feature matrix from a request body; InputError says what is wrong."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == JSON:
        rows = _rows_from_json(text, features)
    elif kind == CSV:
        rows = _rows_from_csv(text)
    else:
        raise InputError(f"content type {content_type!r} not supported; use {CSV} or {JSON}")
    if len(rows) > MAX_ROWS:
        raise InputError(f"{len(rows)} rows in one request; at most {MAX_ROWS}")
    widths = {len(r) for r in rows}
    if widths != {len(features)}:
        raise InputError(f"each row needs {len(features)} feature values, got {sorted(widths)}")
    try:
        matrix = np.asarray(rows, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError("feature values must be numbers") from exc
    if not np.isfinite(matrix).all():
        raise InputError("feature values must be finite numbers")
    return matrix


def input_fn(request_body: bytes | str, request_content_type: str) -> tuple[bytes | str, str]:
    # Parsing needs the feature list, which only the model knows; predict_fn parses.
    return request_body, request_content_type


def predict_fn(input_data: tuple[bytes | str, str], model: Model) -> list[dict]:
    body, content_type = input_data
    probabilities = model.predict_proba(parse(body, content_type, model.features))
    return [{"label": int(p >= 0.5), "probability": round(float(p), 6)} for p in probabilities]


def output_fn(prediction: list[dict], accept: str = JSON) -> tuple[str, str]:
    kind = (accept or JSON).split(";")[0].strip().lower()
    if kind not in (JSON, "*/*"):
        raise InputError(f"accept type {accept!r} not supported; use {JSON}")
    return json.dumps({"predictions": prediction}), JSON
