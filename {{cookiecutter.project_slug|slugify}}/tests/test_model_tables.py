"""A table with text, categories and gaps through preprocess -> train -> evaluate -> serve, for both
frameworks: the schema ships with the model, evaluate and the endpoint convert the rows alike, gaps
and unseen categories are scored, a value the model cannot use is a 400 naming its column."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from model_helpers import mixed_table, module, pack, split_table, train_model

evaluate = module("steps.evaluate")
ModelServer = module("local.server").ModelServer


class Trained:
    def __init__(self, framework: str, root: Path) -> None:
        self.framework, self.root = framework, root
        self.data = split_table(mixed_table(), root / "data")
        self.model_dir = train_model(self.data, root / "model", framework)
        self.archive = pack(self.model_dir, root / "output" / "model.tar.gz")
        args = ["--model-dir", str(root / "output"), "--test-dir", str(self.data / "test")]
        assert evaluate.main([*args, "--output-dir", str(root / "evaluation")]) == 0
        self.report = json.loads((root / "evaluation" / "evaluation.json").read_text())
        self.info = json.loads((self.model_dir / "model_info.json").read_text())


@pytest.fixture(scope="module", params=["sklearn", "xgboost"])
def trained(request, tmp_path_factory) -> Trained:
    return Trained(request.param, tmp_path_factory.mktemp(f"mixed-{request.param}"))


@pytest.fixture(scope="module")
def server(trained):
    with ModelServer(trained.archive) as running:
        yield running


def post(server, body: str | bytes, content_type: str) -> tuple[int, dict]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(
        f"{server.url}/invocations", data=data, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def probabilities(server, body: str, content_type: str = "text/csv") -> list[float]:
    status, payload = post(server, body, content_type)
    assert status == 200, payload
    return [p["probability"] for p in payload["predictions"]]


def test_the_schema_ships_with_the_model(trained):
    schema = json.loads((trained.data / "train" / "schema.json").read_text())
    assert json.loads((trained.model_dir / "schema.json").read_text()) == schema
    features = {f["name"]: f for f in trained.info["features"]}
    assert list(features) == ["age", "plan", "city", "visits"]
    assert features["age"] == {"name": "age", "type": "numeric"}
    assert features["plan"] == {"name": "plan", "type": "categorical", "categories": ["basic", "pro", "team"]}
    assert features["city"]["categories"] == ["Lyon, Rhone", "Nice", "Paris"]
    assert trained.info["label_mapping"] == {"0": 0, "1": 1} and trained.info["target"] == "target"
    with tarfile.open(trained.archive) as tar:
        assert {"schema.json", "model_info.json", "code/inference.py", "code/tabular.py"} <= set(
            tar.getnames()
        )
    assert trained.report["binary_classification_metrics"]["auc"]["value"] > 0.8


def test_evaluate_and_the_endpoint_score_each_test_row_alike(trained, server, tmp_path):
    """evaluation.json comes from the packaged handler's conversion of test.csv; the endpoint, sent
    the same rows as CSV (gaps empty) and as JSON (gaps null or left out), answers the same
    probability for every row."""
    evaluate.safe_extract(trained.archive, tmp_path)
    handler = evaluate.load_handler(tmp_path)
    model = handler.model_fn(str(tmp_path))
    test_csv = trained.data / "test" / "test.csv"
    table = handler.tabular.read_csv(test_csv)
    expected = model.predict_proba(model.convert(table).frame)
    labels = table["target"].astype(int).to_numpy()
    # (evaluation.json also holds champion_comparison: no champion here, so only the threshold.)
    metrics = {k: v for k, v in trained.report.items() if k != "champion_comparison"}
    assert evaluate.metrics(labels, expected) == metrics
    assert trained.report["champion_comparison"]["champion"] is None

    with test_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    body = io.StringIO()
    csv.writer(body).writerows(row[1:] for row in rows)
    assert any("" in row for row in rows) and any('"' in line for line in body.getvalue().splitlines())
    assert probabilities(server, body.getvalue()) == [round(float(p), 6) for p in expected]
    names = model.features
    records = [
        {n: v for n, v in zip(names, row[1:], strict=True) if v != "" or i % 2} | {"target": row[0]}
        for i, row in enumerate(rows)
    ]
    records = [{k: (None if v == "" else v) for k, v in r.items()} for r in records]
    from_json = probabilities(server, json.dumps({"instances": records}), "application/json")
    assert from_json == [round(float(p), 6) for p in expected]


def test_gaps_and_unseen_categories_are_scored_as_missing(server):
    known = {"age": 52.5, "plan": "pro", "city": "Nice", "visits": 3}
    cases = [
        known,
        {**known, "plan": None},
        {**known, "plan": "gold"},  # not in the train split
        {k: v for k, v in known.items() if k != "plan"},
        {"age": None, "plan": None, "city": None, "visits": None},
    ]
    p = probabilities(server, json.dumps(cases), "application/json")
    assert p[1] == p[2] == p[3] != p[0]
    # A row's answer does not depend on the other rows of the request (categories keep their codes).
    plans = ("basic", "pro", "team")
    batch = probabilities(server, json.dumps([{**known, "plan": plan} for plan in plans]), "application/json")
    for plan, together in zip(plans, batch, strict=True):
        assert probabilities(server, json.dumps([{**known, "plan": plan}]), "application/json") == [together]
    assert probabilities(server, "52.5,,Nice,3\n52.5,gold,Nice,3\n") == [p[1], p[2]]
    assert p[4] == probabilities(server, ",,,\n")[0]
    # Numbers may come as JSON numbers or text, categories as text; a number for a category matches it.
    assert (
        probabilities(server, json.dumps([{**known, "age": "52.5", "visits": "3"}]), "application/json")
        == p[:1]
    )


@pytest.mark.parametrize(
    ("body", "content_type", "column"),
    [
        ("abc,pro,Nice,3\n", "text/csv", "age"),
        ("40,pro,Nice,three\n", "text/csv", "visits"),
        ("40,pro,Nice,inf\n", "text/csv", "visits"),
        (json.dumps([{"age": "forty", "plan": "pro"}]), "application/json", "age"),
        (json.dumps([{"age": 40, "plan": ["pro"]}]), "application/json", "plan"),
    ],
)
def test_a_value_the_model_cannot_use_is_a_400_naming_the_column(server, body, content_type, column):
    status, payload = post(server, body, content_type)
    assert status == 400
    assert payload["error"].startswith(f"column {column!r}: ")


def test_curves_are_thinned_monotone_and_span_the_unit_square():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 5000)
    score = np.clip(y * 0.3 + rng.random(5000) * 0.7, 0, 1)
    section = evaluate.metrics(y, score)["binary_classification_metrics"]
    roc = section["receiver_operating_characteristic_curve"]
    pr = section["precision_recall_curve"]
    fpr, tpr = roc["false_positive_rates"], roc["true_positive_rates"]
    precision, recall = pr["precisions"], pr["recalls"]
    assert len(fpr) == len(tpr) == len(precision) == len(recall) == evaluate.CURVE_POINTS
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert (recall[0], precision[0], recall[-1]) == (0.0, 1.0, 1.0)
    assert precision[-1] == round(float(y.mean()), 6)  # everything predicted positive
    for values in (fpr, tpr, recall):
        assert values == sorted(values)
    assert all(0.0 <= v <= 1.0 for v in precision)
    counts = section["confusion_matrix"]
    assert sum(counts["1"].values()) == int(y.sum()) and sum(counts["0"].values()) == int((1 - y).sum())
