"""The inference handler (model_fn/input_fn/predict_fn/output_fn) that every server of the model runs."""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import sys
import types

import flask
import pytest

from model_helpers import FRAMEWORK, TARGET, module, split_sample, train_model

inference = module("steps.inference")
InputError = inference.InputError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return split_sample(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def model(data_dir, tmp_path_factory):
    return inference.model_fn(str(train_model(data_dir, tmp_path_factory.mktemp("model"))))


@pytest.fixture(scope="module")
def rows(data_dir, model) -> list[dict[str, float]]:
    """Five held-out rows as {feature: value}, in the model's feature order."""
    with (data_dir / "test" / "test.csv").open() as handle:
        return [{f: float(row[f]) for f in model.features} for row in list(csv.DictReader(handle))[:5]]


def predict(model, body, content_type="text/csv", accept="application/json"):
    prediction = inference.predict_fn(inference.input_fn(body, content_type), model)
    text, response_type = inference.output_fn(prediction, accept)
    assert response_type == "application/json"
    return json.loads(text)["predictions"]


def csv_body(rows) -> str:
    return "".join(",".join(str(v) for v in row.values()) + "\n" for row in rows)


def test_model_fn_loads_the_feature_order_it_was_trained_on(model, data_dir):
    with (data_dir / "train" / "train.csv").open() as handle:
        header = next(csv.reader(handle))
    assert model.features == header[1:]
    assert model.framework == FRAMEWORK


def test_csv_rows_get_one_prediction_each(model, rows):
    predictions = predict(model, csv_body(rows).encode())
    assert len(predictions) == len(rows)
    for p in predictions:
        assert set(p) == {"label", "probability"}
        assert 0.0 <= p["probability"] <= 1.0
        assert p["label"] == int(p["probability"] >= 0.5)


def test_json_lists_and_named_features_match_csv(model, rows):
    from_csv = predict(model, csv_body(rows))
    lists = {"instances": [list(row.values()) for row in rows]}
    assert predict(model, json.dumps(lists), "application/json") == from_csv
    # Named features may come in any key order.
    shuffled = []
    for row in rows:
        keys = list(row)
        random.Random(0).shuffle(keys)
        shuffled.append({k: row[k] for k in keys})
    named = json.dumps({"instances": shuffled})
    assert predict(model, named, "application/json; charset=utf-8") == from_csv


def test_csv_with_charset_and_blank_lines_is_accepted(model, rows):
    body = "\n" + csv_body(rows[:2]) + "\n"
    assert len(predict(model, body, "text/csv; charset=utf-8")) == 2


def bad_requests(rows):
    row = list(rows[0].values())
    names = list(rows[0])
    width = len(row)
    line = ",".join(map(str, row))
    return {
        "wrong width": (",".join(map(str, row[:-1])), "text/csv", f"needs {width} feature values"),
        "non-numeric": ("abc," + ",".join(map(str, row[1:])), "text/csv", "not a number"),
        "not finite": ("inf," + ",".join(map(str, row[1:])), "text/csv", "not a finite number"),
        "empty csv": ("\n\n", "text/csv", "no rows"),
        "invalid json": ("{not json", "application/json", "not valid JSON"),
        "no instances": (json.dumps({"rows": [row]}), "application/json", "instances"),
        "unknown column": (
            json.dumps({"instances": [{**rows[0], "colour": "red"}]}),
            "application/json",
            r"unknown columns \['colour'\]",
        ),
        "no known column": (json.dumps([{TARGET: 1}]), "application/json", "none of the model's columns"),
        "string in json": (json.dumps({"instances": [["x"] * width]}), "application/json", "is not a number"),
        "object as a value": (
            json.dumps([{**rows[0], names[2]: {"a": 1}}]),
            "application/json",
            "not a number, a string or null",
        ),
        "scalar instance": (
            json.dumps({"instances": [3]}),
            "application/json",
            "must be an object of columns",
        ),
        "not utf-8": (b"\xff\xfe1,2", "text/csv", "not UTF-8"),
        "content type": (line, "text/plain", "not supported"),
        "too many rows": (
            json.dumps({"instances": [row] * (inference.MAX_ROWS + 1)}),
            "application/json",
            f"at most {inference.MAX_ROWS}",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong width",
        "non-numeric",
        "not finite",
        "empty csv",
        "invalid json",
        "no instances",
        "unknown column",
        "no known column",
        "string in json",
        "object as a value",
        "scalar instance",
        "not utf-8",
        "content type",
        "too many rows",
    ],
)
def test_bad_input_raises_input_error(model, rows, case):
    body, content_type, message = bad_requests(rows)[case]
    with pytest.raises(InputError, match=message):
        inference.predict_fn(inference.input_fn(body, content_type), model)


def test_unsupported_accept_type_raises_input_error(model, rows):
    prediction = inference.predict_fn(inference.input_fn(csv_body(rows[:1]), "text/csv"), model)
    with pytest.raises(InputError, match="accept type 'application/x-npy' not supported") as caught:
        inference.output_fn(prediction, "application/x-npy")
    assert caught.value.status_code == 406
    assert json.loads(inference.output_fn(prediction, "*/*")[0])["predictions"] == prediction


# --- how the SageMaker framework containers see InputError -------------------------------


def load_handler_copy(name: str):
    """A fresh import of the handler file (what a container does with code/inference.py)."""
    spec = importlib.util.spec_from_file_location(name, inference.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy


class ToolkitError(Exception):
    """Stand-in for sagemaker_inference.errors.BaseInferenceToolkitError (same constructor)."""

    def __init__(self, status_code, message, phrase):
        self.status_code, self.message, self.phrase = status_code, message, phrase
        super().__init__(status_code, message, phrase)


def toolkit_status(error: Exception) -> int:
    """The status sagemaker-inference's Transformer answers an exception with."""
    return error.status_code if isinstance(error, ToolkitError) else 500


def test_input_error_is_a_400_toolkit_error_where_sagemaker_inference_is_installed(monkeypatch, model, rows):
    package = types.ModuleType("sagemaker_inference")
    errors = types.ModuleType("sagemaker_inference.errors")
    errors.BaseInferenceToolkitError = ToolkitError
    package.errors = errors
    monkeypatch.setitem(sys.modules, "sagemaker_inference", package)
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", errors)
    handler = load_handler_copy("inference_with_toolkit")

    body, content_type, message = bad_requests(rows)["non-numeric"]
    with pytest.raises(handler.InputError) as caught:
        handler.predict_fn(handler.input_fn(body, content_type), model)
    error = caught.value
    assert isinstance(error, ToolkitError) and isinstance(error, ValueError)
    assert toolkit_status(error) == 400
    assert error.phrase == "Bad Request"
    assert message in error.message and str(error) == error.message


def test_without_the_toolkit_input_error_is_a_plain_value_error():
    handler = load_handler_copy("inference_without_toolkit")
    assert "sagemaker_inference" not in sys.modules
    assert handler.InputError.__mro__[1:] == (ValueError, Exception, BaseException, object)
    assert str(handler.InputError("bad row")) == "bad row"


def test_inside_a_flask_request_bad_input_becomes_a_400_response(model, rows, monkeypatch):
    """sagemaker-containers (scikit-learn image) answers any raised exception with 500 but passes
    a Flask response returned by output_fn through."""
    monkeypatch.setitem(sys.modules, "sagemaker_containers", types.ModuleType("sagemaker_containers"))
    app = flask.Flask("sagemaker_containers_stand_in")
    body, content_type, message = bad_requests(rows)["wrong width"]
    with app.test_request_context("/invocations", method="POST"):
        rejected = inference.predict_fn(inference.input_fn(body, content_type), model)
        response = inference.output_fn(rejected, "application/json")
        assert isinstance(response, flask.Response)
        assert response.status_code == 400
        assert message in json.loads(response.get_data())["error"]
        prediction = inference.predict_fn((csv_body(rows[:1]), "text/csv"), model)
        assert inference.output_fn(prediction, "application/x-npy").status_code == 406
        good = inference.predict_fn(inference.input_fn(csv_body(rows[:2]), "text/csv"), model)
        assert len(json.loads(inference.output_fn(good, "application/json")[0])["predictions"]) == 2


def test_other_flask_servers_still_get_the_input_error_raised(model, rows):
    """Only sagemaker-containers' worker gets a returned response; any other Flask host (a test
    server, an emulator) sees the InputError, so it can answer 400 itself."""
    assert "sagemaker_containers" not in sys.modules
    app = flask.Flask("another_flask_host")
    body, content_type, _ = bad_requests(rows)["wrong width"]
    with app.test_request_context("/invocations", method="POST"), pytest.raises(inference.InputError):
        inference.predict_fn(inference.input_fn(body, content_type), model)
