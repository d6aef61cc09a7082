"""`make parity` offline: every configured image version has pinned environments, the code those
environments run parses as Python 3.8, and the requests and the built-in table are what the run
expects. (The run itself needs PyPI and Python 3.8/3.9: docs/local.md.)"""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

import pytest

from model_helpers import CFG, PACKAGE, ROOT, module

images = module("parity.images")
run = module("parity.run")
STEPS = sorted((ROOT / "src").glob("*/steps/*.py"))
IN_IMAGES = [*STEPS, ROOT / "src" / PACKAGE / "parity" / "serve.py"]
LIBRARY = {"sklearn": "scikit-learn==", "xgboost": "xgboost=="}


@pytest.mark.parametrize("framework", sorted(CFG.pipeline.framework_versions))
def test_every_configured_image_version_has_a_parity_environment(framework):
    version = CFG.pipeline.framework_versions[framework]
    image = images.image_for(framework, version)
    assert image.python in ("3.8", "3.9")
    assert any(p.startswith(LIBRARY[framework]) for p in image.packages)
    assert any(p.startswith("pandas==") for p in image.packages)
    assert any(p.startswith("numpy==") for p in image.packages)


def test_an_image_version_without_pins_is_an_error_naming_the_table():
    with pytest.raises(images.ParityError, match=r"no parity environment for sklearn 9\.9-9 .*images\.py"):
        images.image_for("sklearn", "9.9-9")


@pytest.mark.parametrize("path", IN_IMAGES, ids=lambda p: p.name)
def test_code_run_in_the_images_is_python_3_8(path):
    """Python 3.8 syntax; annotations never evaluated (`X | None` is 3.10); no `isinstance(x, A | B)`."""
    tree = ast.parse(path.read_text(), feature_version=(3, 8))
    if path.name != "serve.py" and path.name != "__init__.py":
        assert "from __future__ import annotations" in path.read_text()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
            assert not isinstance(node.args[1], ast.BinOp), f"{path.name}:{node.lineno}: isinstance with |"
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("removeprefix", "removesuffix"), (
                f"{path.name}:{node.lineno}: {node.attr}"
            )


def test_requests_keep_quoted_text_and_name_a_numeric_column(tmp_path):
    test_csv = tmp_path / "test.csv"
    test_csv.write_text('target,city,age\n1,"Lyon, Rhone",41\n0,,\n')
    schema = {"features": [{"name": "city", "type": "categorical"}, {"name": "age", "type": "numeric"}]}
    sent, wanted = run.requests(test_csv, schema)
    bodies = {r["name"]: r for r in sent}
    assert list(csv.reader(io.StringIO(bodies["test rows as CSV"]["body"]))) == [
        ["Lyon, Rhone", "41"],
        ["", ""],
    ]
    assert json.loads(bodies["test rows as JSON"]["body"]) == {
        "instances": [{"city": "Lyon, Rhone", "age": "41"}, {"city": None, "age": None}]
    }
    assert list(csv.reader(io.StringIO(bodies["wrong width"]["body"]))) == [["Lyon, Rhone"]]
    assert list(csv.reader(io.StringIO(bodies["text in a numeric column"]["body"]))) == [
        ["Lyon, Rhone", "not a number"]
    ]
    assert json.loads(bodies["an unseen category"]["body"]) == [
        {"city": "a value not seen in training", "age": "41"}
    ]
    assert json.loads(bodies["every feature missing"]["body"]) == [{"city": None, "age": None}]
    assert ("text in a numeric column", 400, "column 'age'") in wanted
    assert {(n, s, t) for n, s, t in wanted if s == 200} == {
        ("test rows as CSV", 200, run.EVALUATE),
        ("test rows as JSON", 200, run.EVALUATE),
        ("every feature missing", 200, run.ONE),
        ("an unseen category", 200, run.ONE),
    }


def test_the_built_in_table_passes_the_data_contract(tmp_path, capsys):
    source = tmp_path / "in" / "table.csv"
    source.parent.mkdir()
    source.write_text(run.mixed_table(CFG.model.target_column))
    argv = ["--input-dir", str(source.parent), "--output-dir", str(tmp_path / "out")]
    assert module("steps.preprocess").main([*argv, f"--target={CFG.model.target_column}"]) == 0
    schema = json.loads((tmp_path / "out" / "train" / "schema.json").read_text())
    assert schema["label_mapping"] == {"no": 0, "yes": 1}
    assert schema["dropped_columns"] == {"name": "identifier"}
    kinds = {f["name"]: f["type"] for f in schema["features"]}
    assert kinds == {"age": "numeric", "plan": "categorical", "city": "categorical", "visits": "numeric"}
    assert Path(tmp_path / "out" / "test" / "test.csv").read_text().count('"Lyon, Rhone"') > 0
