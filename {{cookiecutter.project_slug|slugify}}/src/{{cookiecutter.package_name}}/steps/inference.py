"""Inference handler: SageMaker's model_fn / input_fn / predict_fn / output_fn contract.

Packaged into model.tar.gz under code/ by the train step, with tabular.py beside it, so the
SageMaker framework containers, the evaluate step and the local rehearsal server all serve the
model through these two files. It imports numpy and pandas (and the model's framework when
loading); tabular.py is loaded from this file's folder, wherever the container put the pair.

Request, raw records as the training table holds them (tabular.py converts them exactly as it
converted the training data; a gap is a missing value the model handles):
- `text/csv`: one row per line in the training column order, without the target and without a
  header; an empty field is a gap; text with commas in double quotes.
- `application/json`: {"instances": [...]} or a bare list; each instance either an object by
  column name (a column left out or null is a gap; the target and the columns preprocess
  dropped are ignored; any other name is an error) or a list in training column order.
A category the model has not seen is treated as a gap, not refused (listed on stderr, i.e. in
the endpoint's logs); a value a numeric column cannot use is refused, naming the column.
Requests hold at most MAX_ROWS JSON instances, or CSV of at most MAX_CSV_BYTES (a CSV body is
bounded by its size alone, as a Batch Transform job bounds its mini-batches by MaxPayloadInMB:
`BatchStrategy MultiRecord` sends as many whole lines as fit, whatever their number).
Response, by the request's Accept (none or `*/*`: JSON), for the rows in request order:
- `application/json`: {"predictions": [{"label": 0 or 1, "probability": p}, ...]};
- `text/csv`: one line `<label>,<probability>` per row (probability with 6 decimals), so a
  multi-line request's answer splits by line into one answer per input line, which is how
  a transform job with `SplitType Line` and `JoinSource Input` joins each line to its answer.
label 1 is the positive class (model_info.json's label_mapping says which original value).
Another Accept is refused with AcceptError (an InputError with status 406 Not Acceptable, the
status sagemaker-containers gives when output_fn cannot encode an accept type).

Bad input raises InputError (a ValueError) whose text says what is wrong; every server
answers it with its status_code (400; 406 for AcceptError) and that text:
- local/server.py (the rehearsal) maps every InputError to 400 itself, AcceptError included.
- sagemaker-inference toolkit (the XGBoost 1.7-1 image in script mode, and multi-model
  endpoints of the scikit-learn image): its Transformer answers an exception that is a
  `sagemaker_inference.errors.BaseInferenceToolkitError` with the exception's `status_code`
  (body: `message`, then the traceback) and any other exception with 500. So when that
  toolkit is importable, InputError also subclasses it, with status_code 400 (406 for
  AcceptError).
- sagemaker-containers toolkit (the scikit-learn 1.2-1 image, single-model: gunicorn + Flask):
  it re-raises any exception of input_fn/predict_fn/output_fn as its own ClientError and Flask
  answers 500 with a generic page, whatever the exception. A Flask response returned by
  output_fn is passed through, though, so inside a Flask request predict_fn returns the
  InputError instead of raising it and output_fn turns it into a JSON response with its
  status_code (an Accept error arises in output_fn itself and is answered the same way).
`make parity` (parity/serve.py) runs this handler through both toolkits' own classes under
each image's Python and library versions (sagemaker-containers 2.8.6.post2 with Flask 1.1.1 on
Python 3.9; sagemaker-inference 1.5.5 on Python 3.8): 200 for test rows sent as CSV and JSON,
400 with the InputError text for a wrong width, text in a numeric column, an unsupported content
type. The unit tests cover the two mechanisms without the toolkits, the `text/csv` answer and
the 406 for an unsupported accept type (tests/test_inference_csv.py); `make parity` does not
run those two in the images yet. Only read from
source, not run in the real images: that the 1.2-1 scikit-learn image serves a single model
through sagemaker-containers and the 1.7-1 XGBoost image through sagemaker-inference, and that
InvokeEndpoint turns a non-2xx answer into ModelError with OriginalStatusCode and the body as
OriginalMessage. Both images pip-install code/ with the setup.py sagemaker-containers generates
(`packages=['']`); run outside the images, that install puts tabular.py beside inference.py,
which is where this handler looks for it.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import sys
from pathlib import Path

import pandas as pd

JSON = "application/json"
CSV = "text/csv"
ANSWER_TYPES = (JSON, CSV)
MAX_ROWS = 1000  # JSON instances in one request
MAX_CSV_BYTES = 100 * 1024 * 1024  # the largest MaxPayloadInMB of a transform job


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


class AcceptError(InputError):
    """The request's Accept names a type the handler cannot answer in (HTTP 406)."""

    status_code = 406
    phrase = "Not Acceptable"


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


_loads = itertools.count()


def _load_tabular():
    """tabular.py from this file's folder, as a module of its own (each load of this handler gets
    its own copy, so two model archives in one process never share one)."""
    path = Path(__file__).resolve().with_name("tabular.py")
    name = f"_model_tabular_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tabular = _load_tabular()


def model_fn(model_dir: str):
    """The model and its schema (tabular.Model) from an extracted model.tar.gz."""
    return tabular.load_model(Path(model_dir))


def _instance(item: object, i: int, model) -> list:
    """One JSON instance as text cells in the model's column order."""
    names = model.features
    if isinstance(item, dict):
        unknown = [key for key in item if key not in names and key not in model.schema.ignored]
        if unknown or not any(name in item for name in names):
            what = f"unknown columns {unknown[:5]}" if unknown else "none of the model's columns"
            raise InputError(f"instance {i} has {what}; the model takes {names[:10]}")
        values = [item.get(name) for name in names]
    elif isinstance(item, list):
        if len(item) != len(names):
            raise InputError(f"instance {i}: each row needs {len(names)} feature values, got {len(item)}")
        values = item
    else:
        raise InputError(f"instance {i} must be an object of columns or a list of feature values")
    # Same lengths (checked above); no zip(strict=) on Python 3.8.
    return [tabular.cell(value, name, i + 1) for name, value in zip(names, values)]  # noqa: B905


def _rows_from_json(body: str, model) -> list[list]:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc.msg}") from exc
    instances = payload.get("instances") if isinstance(payload, dict) else payload
    if not isinstance(instances, list) or not instances:
        raise InputError('expected {"instances": [...]} (or a list) with at least one instance')
    if len(instances) > MAX_ROWS:
        raise InputError(f"{len(instances)} rows in one request; at most {MAX_ROWS}")
    return [_instance(item, i, model) for i, item in enumerate(instances)]


def _rows_from_csv(body: str, model) -> list[list]:
    width = len(model.features)
    rows = []
    try:
        for fields in csv.reader(io.StringIO(body)):
            if not fields or (len(fields) == 1 and not fields[0].strip()):  # a blank line
                continue
            if len(fields) != width:
                raise InputError(
                    f"CSV row {len(rows) + 1}: each row needs {width} feature values "
                    f"({', '.join(model.features[:5])}{', ...' if width > 5 else ''}), got {len(fields)}"
                )
            rows.append([field if field != "" else None for field in fields])
    except csv.Error as exc:
        raise InputError(f"CSV body cannot be read: {exc}") from exc
    if not rows:
        raise InputError("CSV body has no rows")
    return rows


def parse(body: bytes | str, content_type: str, model):
    """The model input (tabular.Converted) for a request body; InputError says what is wrong."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (JSON, CSV):
        raise InputError(f"content type {content_type!r} not supported; use {CSV} or {JSON}")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if kind == CSV and len(raw) > MAX_CSV_BYTES:
        raise InputError(f"CSV body of {len(raw)} bytes; at most {MAX_CSV_BYTES} in one request")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"body is not UTF-8 text: {exc.reason}") from exc
    try:
        rows = _rows_from_json(text, model) if kind == JSON else _rows_from_csv(text, model)
        return tabular.convert(pd.DataFrame(rows, columns=model.features, dtype=object), model.schema)
    except tabular.DataError as exc:
        raise InputError(str(exc)) from None


def input_fn(request_body: bytes | str, request_content_type: str) -> tuple[bytes | str, str]:
    # Parsing needs the feature list, which only the model knows; predict_fn parses.
    return request_body, request_content_type


def predict_fn(input_data: tuple[bytes | str, str], model) -> list[dict] | InputError:
    """Predictions for the request rows. It raises InputError for bad input, except inside a
    Flask request, where it returns the InputError for output_fn to answer with its status."""
    body, content_type = input_data
    try:
        converted = parse(body, content_type, model)
    except InputError as error:
        if _in_flask_request():
            return error
        raise
    if converted.unknown:
        unknown = "; ".join(f"{column}: {values[:5]}" for column, values in converted.unknown.items())
        print(f"inference: categories not seen in training, treated as missing: {unknown}", file=sys.stderr)
    probabilities = model.predict_proba(converted.frame)
    return [{"label": int(p >= 0.5), "probability": round(float(p), 6)} for p in probabilities]


def answer_type(accept: str | None) -> str:
    """The answer's content type for an Accept header: JSON for none or `*/*`, else the one
    named (parameters such as `; charset=utf-8` ignored); AcceptError for any other type."""
    kind = (accept or JSON).split(";")[0].strip().lower()
    if kind == "*/*":
        return JSON
    if kind not in ANSWER_TYPES:
        raise AcceptError(f"accept type {accept!r} not supported; use {JSON} or {CSV}")
    return kind


def csv_answer(prediction: list[dict]) -> str:
    """One `<label>,<probability>` line per prediction, in order, each ending in a newline."""
    return "".join(f"{p['label']},{p['probability']:.6f}\n" for p in prediction)


def output_fn(prediction: list[dict] | InputError, accept: str = JSON):
    """(body, content type): JSON or CSV lines by `accept`. Inside a Flask request an InputError
    (bad input, or an Accept the handler cannot answer) becomes its 4xx response."""
    error = prediction if isinstance(prediction, InputError) else None
    kind = JSON
    if error is None:
        try:
            kind = answer_type(accept)
        except AcceptError as exc:
            error = exc
    if error is not None:
        if _in_flask_request():
            return _flask_error(error)
        raise error
    if kind == CSV:
        return csv_answer(prediction), CSV
    return json.dumps({"predictions": prediction}), JSON
