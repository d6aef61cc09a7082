"""The endpoint suite sends raw records: text stays text, a gap stays a gap, in both request kinds.

The samples are a held-out split in preprocess's layout (target first as 0/1, raw feature values,
schema.json beside it) with a numeric column with gaps, a categorical one with gaps and a text
column whose values hold commas and quotes. The server is the rehearsal's local server
(local/server.py) serving a small archive whose code/inference.py keeps the serving contract
strictly (CSV rows in training column order, JSON by column name, a gap is missing, text in a
numeric column is a 400 naming the column) and records every value it parsed, so the tests see
exactly what reached the endpoint.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from model_helpers import module, pack

suite = module("endpoint_tests.suite")
samples_module = module("endpoint_tests.samples")
ModelServer = module("local.server").ModelServer
Thresholds = suite.Thresholds
RELAXED = Thresholds(burst_requests=10, max_p50_ms=500, max_p95_ms=2000, max_error_rate=0.0)

FEATURES = [
    {"name": "age", "type": "numeric"},
    {"name": "plan", "type": "categorical", "categories": ["basic", "pro"]},
    {"name": "note", "type": "categorical", "categories": ['Ashby, Mr "Jack"', "plain"]},
]
# target first (0/1), then the features with raw values; "" is a gap.
ROWS = [
    ["1", "34", "pro", 'Ashby, Mr "Jack"'],
    ["0", "", "basic", "plain"],
    ["1", "51.5", "pro", ""],
    ["0", "29", "", "plain"],
    ["0", "62", "basic", 'Ashby, Mr "Jack"'],
]

# The serving contract, kept strictly. Prediction: label 1 for plan "pro", else 0.
CONTRACT_HANDLER = """
import csv, io, json, math
from pathlib import Path

SEEN = []


class InputError(ValueError):
    pass


def model_fn(model_dir):
    return json.loads((Path(model_dir) / "model_info.json").read_text())["features"]


def input_fn(body, content_type):
    return body, content_type


def _value(feature, raw):
    if raw is None or raw == "":
        return None
    if feature["type"] == "numeric":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        try:
            return float(raw)
        except ValueError:
            raise InputError("column %r: %r is not a number" % (feature["name"], raw)) from None
    return str(raw)


def predict_fn(data, features):
    body, content_type = data
    text = body.decode() if isinstance(body, bytes) else body
    kind = content_type.split(";")[0].strip()
    if kind == "text/csv":
        rows = [r for r in csv.reader(io.StringIO(text))]
        if not rows:
            raise InputError("CSV body has no rows")
        if {len(r) for r in rows} != {len(features)}:
            raise InputError("each row needs %d feature values" % len(features))
        records = [[_value(f, cell) for f, cell in zip(features, r)] for r in rows]
    elif kind == "application/json":
        instances = json.loads(text)["instances"]
        records = [[_value(f, item.get(f["name"])) for f in features] for item in instances]
    else:
        raise InputError("content type %r not supported" % content_type)
    SEEN.append((kind, records))
    return [{"label": int(r[1] == "pro"), "probability": 0.9 if r[1] == "pro" else 0.1} for r in records]


def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction}), "application/json"
"""

REFUSES_GAPS = """
_strict_predict_fn = predict_fn
def predict_fn(data, features):
    predictions = _strict_predict_fn(data, features)
    if any(value is None for row in SEEN[-1][1] for value in row):
        raise InputError("feature values must be finite numbers")
    return predictions
"""


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    """test/test.csv and test/schema.json as preprocess writes them."""
    test = tmp_path_factory.mktemp("split") / "test"
    test.mkdir()
    with (test / "test.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["churn", *(f["name"] for f in FEATURES)])
        writer.writerows(ROWS)
    schema = {"target": "churn", "label_mapping": {"no": 0, "yes": 1}, "features": FEATURES}
    (test / "schema.json").write_text(json.dumps(schema))
    return test


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    model = tmp_path_factory.mktemp("contract-model")
    (model / "code").mkdir()
    (model / "code" / "inference.py").write_text(CONTRACT_HANDLER)
    (model / "model_info.json").write_text(json.dumps({"framework": "contract", "features": FEATURES}))
    out = tmp_path_factory.mktemp("archives")
    return {
        "strict": pack(model, out / "strict" / "model.tar.gz"),
        "refuses gaps": pack(model, out / "gaps" / "model.tar.gz", extra_handler_code=REFUSES_GAPS),
    }


def test_samples_keep_text_gaps_and_the_schemas_column_order(split):
    samples = suite.load_samples(split / "test.csv", 10, "churn")
    assert [label for _, label in samples] == [1, 0, 1, 0, 0]
    assert samples[0][0] == {"age": 34.0, "plan": "pro", "note": 'Ashby, Mr "Jack"'}
    assert samples[1][0] == {"age": None, "plan": "basic", "note": "plain"}
    assert samples[3][0]["plan"] is None and samples[2][0]["note"] is None
    assert samples_module.numeric_features(samples) == ["age"]


def test_the_endpoint_receives_the_raw_records_by_csv_and_by_name(split, archives):
    samples = suite.load_samples(split / "test.csv", 10, "churn")
    with ModelServer(archives["strict"]) as server:
        report = suite.run_suite(suite.HttpInvoker(server.url), samples, RELAXED)
        seen = list(server.handler.SEEN)
    assert report.passed, report.failures()
    expected = [
        [34.0, "pro", 'Ashby, Mr "Jack"'],
        [None, "basic", "plain"],
        [51.5, "pro", None],
        [29.0, None, "plain"],
        [62.0, "basic", 'Ashby, Mr "Jack"'],
    ]
    # The two batch requests: the CSV rows, then the same records by column name.
    assert seen[0] == ("text/csv", expected)
    assert seen[1] == ("application/json", expected)
    # Then a record with every feature missing, as JSON nulls and as empty CSV cells.
    assert seen[2] == ("application/json", [[None, None, None]])
    assert seen[3] == ("text/csv", [[None, None, None]])
    checks = {c.name: c for c in report.checks}
    assert checks["missing values"].passed
    # Text goes into the numeric feature, and the handler's 400 names that column.
    assert "'age'" in checks["bad input: non-numeric"].detail


def test_an_endpoint_that_refuses_gaps_fails_the_missing_values_check(split, archives):
    samples = suite.load_samples(split / "test.csv", 1, "churn")  # a row without gaps
    with ModelServer(archives["refuses gaps"]) as server:
        report = suite.run_suite(suite.HttpInvoker(server.url), samples, RELAXED)
    assert {c.name for c in report.failures()} == {"missing values"}
    detail = next(c for c in report.checks if c.name == "missing values").detail
    assert detail.startswith("JSON nulls: HTTP 400") and "finite numbers" in detail


def test_an_endpoint_that_refuses_a_sample_row_fails_the_batch_checks(split, archives):
    """Rows with gaps are refused by that endpoint: the labelled batch fails, not only one check."""
    samples = suite.load_samples(split / "test.csv", 10, "churn")
    with ModelServer(archives["refuses gaps"]) as server:
        report = suite.run_suite(suite.HttpInvoker(server.url), samples, RELAXED)
    assert {"CSV request", "JSON request (named features)", "accuracy"} <= {c.name for c in report.failures()}
    assert not report.passed


def test_without_a_schema_types_come_from_the_values(tmp_path):
    data = tmp_path / "labelled.csv"
    data.write_text("x,code,label\n1.5,007,1\n,A1,0\n2,,1\n")
    samples = suite.load_samples(data, 5, "label")
    assert samples[0] == ({"x": 1.5, "code": "007"}, 1)
    assert samples[1] == ({"x": None, "code": "A1"}, 0)
    assert samples[2] == ({"x": 2.0, "code": None}, 1)
    assert samples_module.numeric_features(samples) == ["x"]


BAD_SAMPLES = {
    "label is not 0/1": (
        "churn,age,plan,note\nyes,3,pro,plain\n",
        "line 2: target 'churn' is 'yes'; expected 0 or 1",
    ),
    "no target column": ("age,plan,note\n3,pro,plain\n", "no target column 'churn' in the header"),
    "wrong width": ("churn,age,plan,note\n1,3,pro\n", "line 2: 3 values, the header has 4"),
    "columns differ from the schema": (
        "churn,age,plan,city\n1,3,pro,x\n",
        "the columns are not the model's features (schema.json): missing ['note'], unexpected ['city']",
    ),
    "text in a numeric column": ("churn,age,plan,note\n1,old,pro,plain\n", "line 2: column 'age' is numeric"),
    "no rows": ("churn,age,plan,note\n", "no data rows"),
    "empty file": ("", "no header row"),
    "repeated column": ("churn,age,age,plan,note\n1,2,3,pro,x\n", "the header repeats ['age']"),
}


@pytest.mark.parametrize("case", BAD_SAMPLES, ids=list(BAD_SAMPLES))
def test_unusable_samples_are_refused_naming_the_file_and_what_is_wrong(tmp_path, split, case):
    text, message = BAD_SAMPLES[case]
    folder = tmp_path / "test"
    folder.mkdir()
    (folder / "schema.json").write_text((split / "schema.json").read_text())
    (folder / "test.csv").write_text(text)
    with pytest.raises(samples_module.SampleError) as refused:
        suite.load_samples(folder / "test.csv", 5, "churn")
    assert str(refused.value).startswith(str(folder / "test.csv"))
    assert message in str(refused.value)
