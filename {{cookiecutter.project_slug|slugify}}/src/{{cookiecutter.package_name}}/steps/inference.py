"""Inference handler: SageMaker's model_fn / input_fn / predict_fn / output_fn contract.

Packaged into model.tar.gz under code/ by the train step, so the SageMaker framework
containers, the evaluate step and the local rehearsal server all serve the model
through this one file. It imports only numpy (and the model's framework when loading).

Request: `text/csv` (one row of feature values per line, no header, no target) or
`application/json` ({"instances": [[...], ...]} or {"instances": [{"feature": value}, ...]}).
Response: `application/json` {"predictions": [{"label": 0 or 1, "probability": p}, ...]}.

Bad input raises InputError (a ValueError) whose text says what is wrong; every server
answers it with HTTP 400 and that text:
- local/server.py (the rehearsal) maps InputError to 400 itself.
- sagemaker-inference toolkit (the XGBoost 1.7-1 image in script mode, and multi-model
  endpoints of the scikit-learn image): its Transformer answers an exception that is a
  `sagemaker_inference.errors.BaseInferenceToolkitError` with the exception's `status_code`
  (body: `message`, then the traceback) and any other exception with 500. So when that
  toolkit is importable, InputError also subclasses it, with status_code 400.
- sagemaker-containers toolkit (the scikit-learn 1.2-1 image, single-model: gunicorn + Flask):
  it re-raises any exception of input_fn/predict_fn/output_fn as its own ClientError and Flask
  answers 500 with a generic page, whatever the exception. A Flask response returned by
  output_fn is passed through, though, so inside a Flask request predict_fn returns the
  InputError instead of raising it and output_fn turns it into a 400 JSON response.
Verified offline, outside the images (Python 3.11, Flask 3.1, sagemaker-inference 1.10.1 and
sagemaker-containers 2.8.6.post2 from PyPI, the latter with a collections.Mapping shim): the
toolkits' own Transformer classes, fed this handler and a trained model, answer 200 for a good
row and 400 with the InputError text for a wrong width, a non-numeric value and an unsupported
content type; the previous handler (InputError a plain ValueError) got 500 from both, the
Flask one with a generic page. The unit tests cover the two mechanisms without the toolkits.
Only read from source, not run in the real images: that the 1.2-1 scikit-learn image serves a
single model through sagemaker-containers and the 1.7-1 XGBoost image through
sagemaker-inference, and that InvokeEndpoint turns a non-2xx answer into ModelError with
OriginalStatusCode and the body as OriginalMessage.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

JSON = "application/json"
CSV = "text/csv"
MAX_ROWS = 1000


def _toolkit_error_bases() -> tuple[type, ...]:
    """(BaseInferenceToolkitError,) where the sagemaker-inference toolkit is installed, else ()."""
    try:
        from sagemaker_inference.errors import BaseInferenceToolkitError
    except ImportError:
        return ()
    return (BaseInferenceToolkitError,)


class InputError(ValueError, *_toolkit_error_bases()):
    """The request body or content type cannot be turned into feature rows (HTTP 400).

    status_code, phrase and message are the attributes sagemaker-inference's Transformer reads
    from a BaseInferenceToolkitError; str(error) is the message alone.
    """

    status_code = 400
    phrase = "Bad Request"

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)
        self.message = message


def _in_flask_request() -> bool:
    """True while sagemaker-containers' Flask worker handles a request. Neither module is
    imported here, only looked up if the server already loaded them, so other Flask-hosted
    callers of this handler (a test server, an emulator) still get the InputError raised."""
    flask = sys.modules.get("flask")
    return "sagemaker_containers" in sys.modules and flask is not None and bool(flask.has_request_context())


def _flask_error(error: InputError):
    """The 400 answer for sagemaker-containers, which passes a returned Flask response through."""
    flask = sys.modules["flask"]
    body = json.dumps({"error": str(error), "type": "InputError"})
    return flask.Response(body, status=error.status_code, mimetype=JSON)


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


def predict_fn(input_data: tuple[bytes | str, str], model: Model) -> list[dict] | InputError:
    """Predictions for the request rows. It raises InputError for bad input, except inside a
    Flask request, where it returns the InputError for output_fn to answer with 400."""
    body, content_type = input_data
    try:
        rows = parse(body, content_type, model.features)
    except InputError as error:
        if _in_flask_request():
            return error
        raise
    probabilities = model.predict_proba(rows)
    return [{"label": int(p >= 0.5), "probability": round(float(p), 6)} for p in probabilities]


def output_fn(prediction: list[dict] | InputError, accept: str = JSON):
    """(JSON body, content type); inside a Flask request an InputError becomes a 400 response."""
    error = prediction if isinstance(prediction, InputError) else None
    kind = (accept or JSON).split(";")[0].strip().lower()
    if error is None and kind not in (JSON, "*/*"):
        error = InputError(f"accept type {accept!r} not supported; use {JSON}")
    if error is not None:
        if _in_flask_request():
            return _flask_error(error)
        raise error
    return json.dumps({"predictions": prediction}), JSON
