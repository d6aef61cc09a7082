"""The handler's `text/csv` answer (steps/inference.py): one `<label>,<probability>` line per
input record, in order, what a Batch Transform job with MultiRecord splits by line and joins to
its input; the JSON answer unchanged; an Accept the handler cannot answer refused with 406."""

from __future__ import annotations

import csv
import json
import sys
import types
import urllib.error
import urllib.request

import flask
import pytest

from model_helpers import module, pack, split_sample, train_model

inference = module("steps.inference")
ModelServer = module("local.server").ModelServer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv-answer")
    data = split_sample(root / "data")
    return data, train_model(data, root / "model")


@pytest.fixture(scope="module")
def model(trained):
    return inference.model_fn(str(trained[1]))


@pytest.fixture(scope="module")
def lines(trained, model) -> list[str]:
    """The test split's feature columns as CSV lines (no header), as a batch input file holds them."""
    with (trained[0] / "test" / "test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [",".join(row[name] for name in model.features) for row in rows]


def answer(model, body: str, accept: str | None) -> tuple[str, str]:
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, "text/csv"), model), accept)


def body_of(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def test_a_multi_line_request_gets_one_csv_line_per_record_in_order(model, lines):
    text, content_type = answer(model, body_of(lines), "text/csv")
    assert content_type == "text/csv" and text.endswith("\n")
    answered = text.split("\n")[:-1]
    assert len(answered) == len(lines) > 1
    predictions = json.loads(answer(model, body_of(lines), "application/json")[0])["predictions"]
    # Each line is the JSON answer's label and probability (6 decimals) of the same record.
    assert answered == [f"{p['label']},{p['probability']:.6f}" for p in predictions]
    for line in answered:
        label, probability = line.split(",")
        assert label in ("0", "1") and 0.0 <= float(probability) <= 1.0
    # Order follows the request: the records reversed, the answer lines reversed.
    assert answer(model, body_of(lines[::-1]), "text/csv")[0].split("\n")[:-1] == answered[::-1]


def test_json_stays_the_answer_without_accept_and_for_any_type(model, lines):
    body = body_of(lines[:3])
    expected = answer(model, body, "application/json")
    assert json.loads(expected[0]).keys() == {"predictions"} and expected[1] == "application/json"
    for accept in (None, "", "*/*", "application/json; charset=utf-8"):
        assert answer(model, body, accept) == expected
    assert answer(model, body, "text/csv; charset=utf-8")[1] == "text/csv"
    assert inference.output_fn(inference.predict_fn((body, "text/csv"), model)) == expected


def test_a_mini_batch_may_hold_more_records_than_a_json_request(model, lines):
    """A transform job fills each request up to MaxPayloadInMB, whatever the number of lines:
    CSV bodies are bounded by size alone (JSON keeps its MAX_ROWS instances)."""
    many = (lines * (inference.MAX_ROWS // len(lines) + 2))[: inference.MAX_ROWS * 2 + 1]
    text, _ = answer(model, body_of(many), "text/csv")
    assert len(text.split("\n")[:-1]) == len(many)


def test_a_csv_body_over_the_byte_limit_is_refused(model, lines, monkeypatch):
    body = body_of(lines[:4])
    monkeypatch.setattr(inference, "MAX_CSV_BYTES", len(body.encode()))
    assert len(answer(model, body, "text/csv")[0].split("\n")[:-1]) == 4  # at the limit: answered
    with pytest.raises(
        inference.InputError, match=rf"CSV body of {len(body) + 1} bytes; at most {len(body)}"
    ):
        answer(model, body + "\n", "text/csv")


@pytest.mark.parametrize("accept", ["application/x-npy", "text/plain", "application/jsonlines"])
def test_an_unsupported_accept_is_406_naming_the_types_answered(model, lines, accept):
    prediction = inference.predict_fn((body_of(lines[:2]), "text/csv"), model)
    with pytest.raises(inference.AcceptError) as caught:
        inference.output_fn(prediction, accept)
    error = caught.value
    assert isinstance(error, inference.InputError) and error.status_code == 406
    assert error.phrase == "Not Acceptable"
    assert str(error) == f"accept type {accept!r} not supported; use application/json or text/csv"


def test_inside_sagemaker_containers_an_unsupported_accept_is_a_406_response(model, lines, monkeypatch):
    """sagemaker-containers passes a Flask response returned by output_fn through."""
    monkeypatch.setitem(sys.modules, "sagemaker_containers", types.ModuleType("sagemaker_containers"))
    app = flask.Flask("sagemaker_containers_stand_in")
    with app.test_request_context("/invocations", method="POST"):
        prediction = inference.predict_fn((body_of(lines[:2]), "text/csv"), model)
        refused = inference.output_fn(prediction, "application/x-npy")
        assert isinstance(refused, flask.Response) and refused.status_code == 406
        assert "accept type 'application/x-npy' not supported" in json.loads(refused.get_data())["error"]
        text, content_type = inference.output_fn(prediction, "text/csv")
        assert content_type == "text/csv" and len(text.split("\n")[:-1]) == 2


def post(url: str, body: bytes, accept: str) -> tuple[int, str, str]:
    headers = {"Content-Type": "text/csv", "Accept": accept}
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_the_packaged_model_answers_a_multi_record_csv_request_line_by_line(trained, lines, tmp_path):
    """What every endpoint type serves (the handler packed in model.tar.gz), over HTTP: one
    request of many records, one answer line each, agreeing with the JSON answer."""
    archive = pack(trained[1], tmp_path / "model.tar.gz")
    with ModelServer(archive) as server:
        status, content_type, text = post(server.url, body_of(lines).encode(), "text/csv")
        assert (status, content_type) == (200, "text/csv")
        status, _, as_json = post(server.url, body_of(lines).encode(), "application/json")
        assert status == 200
        predictions = json.loads(as_json)["predictions"]
        assert text.split("\n")[:-1] == [f"{p['label']},{p['probability']:.6f}" for p in predictions]
        status, _, refused = post(server.url, body_of(lines[:1]).encode(), "application/x-npy")
        # 406 Not Acceptable, as SageMaker's containers answer it (the local server passes the
        # status the handler's error carries).
        assert status == 406 and "accept type 'application/x-npy' not supported" in refused
