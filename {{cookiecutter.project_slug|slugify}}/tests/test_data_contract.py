"""The data contract steps/preprocess.py enforces before any training (docs/data.md).

Public tables that ship with scikit-learn (breast cancer; wine and digits with relabelled binary
targets) and small hand-made tables with text, gaps, identifiers, imbalanced and multi-valued
labels, several files and Parquet. Every refusal is one line naming the column, exits 1 and writes
nothing; in the rehearsal it stops the run before training.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from model_helpers import ROOT, module, pack, train_model

preprocess = module("steps.preprocess")
evaluate = module("steps.evaluate")
SPLITS = ("train", "validation", "test")
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


@dataclass
class Run:
    code: int
    out: str
    err: str
    out_dir: Path
    message: Path

    def split(self, name: str) -> pd.DataFrame:
        """A split as written, every value as text (so raw values can be compared)."""
        return pd.read_csv(self.out_dir / name / f"{name}.csv", dtype=str, keep_default_na=False)

    @property
    def schema(self) -> dict:
        return json.loads((self.out_dir / "train" / "schema.json").read_text())


def write(folder: Path, tables: dict) -> Path:
    """Files under folder: a DataFrame as CSV (or Parquet, or gzip CSV, by its name), text or bytes."""
    for name, table in tables.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(table, pd.DataFrame):
            if name.endswith(".parquet"):
                table.to_parquet(path, index=False)
            else:
                table.to_csv(path, index=False)
        elif isinstance(table, bytes):
            path.write_bytes(table)
        else:
            path.write_text(table)
    return folder


def run(tmp_path: Path, tables: dict, *args: str, target: str = "label") -> Run:
    source = write(tmp_path / "in", tables)
    out_dir, message = tmp_path / "out", tmp_path / "output" / "message"
    argv = ["--input-dir", str(source), "--output-dir", str(out_dir), "--target", target, *args]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = preprocess.main([*argv, "--message-file", str(message)])
    return Run(code, stdout.getvalue(), stderr.getvalue(), out_dir, message)


def refused(tmp_path: Path, tables: dict, column: str, *args: str, target: str = "label") -> str:
    """Assert a refusal: exit 1, one stderr line naming the column and the rule, nothing written."""
    done = run(tmp_path, tables, *args, target=target)
    lines = done.err.splitlines()
    assert done.code == 1, done.out + done.err
    assert len(lines) == 1, done.err
    assert lines[0].startswith(f"preprocess: {column}: ") and "; expected " in lines[0], lines[0]
    assert not done.out_dir.exists()
    assert done.message.read_text() == lines[0] + "\n"  # SageMaker's ExitMessage
    return lines[0]


def ok(tmp_path: Path, tables: dict, *args: str, target: str = "label") -> Run:
    done = run(tmp_path, tables, *args, target=target)
    assert (done.code, done.err) == (0, ""), done.out + done.err
    assert not done.message.exists()
    return done


def people(n: int = 120, seed: int = 0, label=("no", "yes")) -> pd.DataFrame:
    """A customer-like table: an ID, names, a categorical plan, gaps, a float and a two-valued label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
            "name": [f"Doe, Ms {i}" for i in range(n)],
            "plan": rng.choice(["basic", "pro", "team"], n),
            "age": np.where(rng.random(n) < 0.2, np.nan, rng.integers(18, 90, n)),
            "region": rng.choice(["north", "south", None], n),
            "spend": rng.normal(50, 10, n).round(2),
            "label": rng.choice(list(label), n),
        }
    )


# --- public tables that ship with scikit-learn ----------------------------------------------------


def public_table(name: str) -> tuple[pd.DataFrame, dict]:
    """(table, expected label mapping): breast cancer as is; wine: cultivar 0 or not; digits: 0 or not."""
    if name == "breast_cancer":
        data = load_breast_cancer(as_frame=True)
        return data.frame.rename(columns={"target": "label"}), {"0": 0, "1": 1}
    if name == "wine":
        data = load_wine(as_frame=True)
        frame = data.frame.drop(columns=["target"])
        frame["label"] = np.where(data.target == 0, "barolo", "other")
        return frame, {"barolo": 0, "other": 1}
    data = load_digits(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    frame["label"] = data.target == 0  # written as True/False
    return frame, {"False": 0, "True": 1}


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "digits"])
def test_public_tables_are_split_by_the_contract_then_train_and_evaluate(name, tmp_path):
    table, mapping = public_table(name)
    done = ok(tmp_path, {f"{name}.csv": table})
    schema = done.schema
    assert schema["label_mapping"] == mapping
    assert schema["positive_label"] == next(v for v, code in mapping.items() if code == 1)
    features = [c for c in table.columns if c != "label"]
    assert schema["features"] == [{"name": c, "type": "numeric"} for c in features]
    assert schema["dropped_columns"] == {} and schema["sources"] == [f"{name}.csv"]
    assert schema["rows"] == {
        "read": len(table),
        "kept": len(table),
        "dropped": {"target missing": 0},
        **{split: len(done.split(split)) for split in SPLITS},
    }
    positives = (table["label"].astype(str).map(mapping) == 1).mean()
    for split in SPLITS:
        part = done.split(split)
        assert list(part.columns) == ["label", *features]
        assert set(part["label"]) == {"0", "1"}
        assert (part["label"] == "1").mean() == pytest.approx(positives, abs=0.03)
        assert json.loads((done.out_dir / split / "schema.json").read_text()) == schema
    # What train and evaluate make of it.
    model_dir = train_model(done.out_dir, tmp_path / "model")
    pack(model_dir, tmp_path / "archive" / "model.tar.gz")
    args = ["--model-dir", str(tmp_path / "archive"), "--test-dir", str(done.out_dir / "test")]
    assert evaluate.main([*args, "--output-dir", str(tmp_path / "evaluation")]) == 0
    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert report["binary_classification_metrics"]["auc"]["value"] > 0.9


# --- hand-made tables -------------------------------------------------------------------------------


def test_text_gaps_and_identifiers_keep_raw_values_and_drop_only_unlabelled_rows(tmp_path):
    table = people()
    table.loc[[3, 7], "label"] = None  # 2 of 120 unlabelled: under 5%
    done = ok(tmp_path, {"customers.csv": table})
    schema = done.schema
    assert schema["dropped_columns"] == {"customer_id": "identifier", "name": "identifier"}
    assert "warning: customer_id looks like an identifier" in done.out
    assert "warning: name looks like an identifier (a different text value in every row)" in done.out
    assert schema["rows"]["read"] == 120 and schema["rows"]["kept"] == 118
    assert schema["rows"]["dropped"] == {"target missing": 2}
    assert [(f["name"], f["type"]) for f in schema["features"]] == [
        ("plan", "categorical"),
        ("age", "numeric"),
        ("region", "categorical"),
        ("spend", "numeric"),
    ]
    parts = {split: done.split(split) for split in SPLITS}
    train = parts["train"]
    categories = {f["name"]: f.get("categories") for f in schema["features"]}
    assert categories["plan"] == sorted(set(train["plan"]))
    assert categories["region"] == ["north", "south"]  # gaps are not a category
    # Rows with gaps are kept, their gaps written empty; text stays text; each labelled row once.
    combined = pd.concat(parts.values())
    assert (
        len(combined) == 118
        and (combined["age"] == "").sum() == table["age"][table["label"].notna()].isna().sum()
    )
    expected = table[table["label"].notna()].copy()
    expected["age"] = expected["age"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    rows = sorted(zip(combined["plan"], combined["age"], combined["spend"].astype(float), strict=True))
    assert rows == sorted(zip(expected["plan"], expected["age"], expected["spend"], strict=True))
    assert set(combined["label"]) == {"0", "1"}


def test_categories_are_those_of_the_train_split_only(tmp_path):
    table = people()
    table["channel"] = ["web"] * 100 + [f"partner-{i}" for i in range(20)]  # 20 rare values
    done = ok(tmp_path, {"t.csv": table})
    channel = next(f for f in done.schema["features"] if f["name"] == "channel")
    train = set(done.split("train")["channel"])
    assert channel["categories"] == sorted(train)
    held_out = set(done.split("validation")["channel"]) | set(done.split("test")["channel"])
    assert held_out - train  # some values are seen only outside train, and are not categories


def test_a_column_without_any_value_is_dropped(tmp_path):
    done = ok(tmp_path, {"t.csv": people().assign(notes=None)})
    assert done.schema["dropped_columns"]["notes"] == "empty"
    assert "warning: notes has no values; dropped" in done.out
    assert "notes" not in done.split("train").columns


def test_missing_value_markers_are_gaps_on_every_pandas_version(tmp_path):
    """pandas 2 added "None" to its default markers; the step lists them, so pandas 1.1 agrees."""
    table = people()
    markers = ["None", "NA", "null", "", "n/a", "NaN", "north"]
    table["region"] = [markers[i % len(markers)] for i in range(len(table))]
    done = ok(tmp_path, {"t.csv": table.to_csv(index=False).replace('""', "")})
    region = next(f for f in done.schema["features"] if f["name"] == "region")
    assert region == {"name": "region", "type": "categorical", "categories": ["north"]}
    assert set(pd.concat(done.split(s) for s in SPLITS)["region"]) == {"", "north"}


LABELS = {
    "0/1": (("0", "1"), [], {"0": 0, "1": 1}),
    "yes/no": (("no", "yes"), [], {"no": 0, "yes": 1}),
    "Yes/No": (("No", "Yes"), [], {"No": 0, "Yes": 1}),
    "True/False": (("False", "True"), [], {"False": 0, "True": 1}),
    "TRUE/FALSE": (("FALSE", "TRUE"), [], {"FALSE": 0, "TRUE": 1}),
    "1/2": (("1", "2"), [], {"1": 0, "2": 1}),
    "-1/1": (("-1", "1"), [], {"-1": 0, "1": 1}),
    "y/n": (("n", "y"), [], {"n": 0, "y": 1}),
    "true/unknown": (("true", "unknown"), [], {"unknown": 0, "true": 1}),
    "churned/no": (("churned", "no"), [], {"no": 0, "churned": 1}),
    "two words: the greater": (("ham", "spam"), [], {"ham": 0, "spam": 1}),
    "positive_label": (("ham", "spam"), ["--positive-label", "ham"], {"spam": 0, "ham": 1}),
    "positive_label 1 of 1/2": (("1", "2"), ["--positive-label", "1"], {"2": 0, "1": 1}),
    "positive_label 1 of 1.0/0.0": (("0.0", "1.0"), ["--positive-label", "1"], {"0": 0, "1": 1}),
}


@pytest.mark.parametrize("case", list(LABELS))
def test_two_valued_labels_are_mapped_to_0_and_1_by_the_documented_rule(case, tmp_path):
    values, args, mapping = LABELS[case]
    table = people(label=values)
    done = ok(tmp_path, {"t.csv": table}, *args)
    assert done.schema["label_mapping"] == mapping
    positive = next(v for v, code in mapping.items() if code == 1)
    assert done.schema["positive_label"] == positive
    train = done.split("train")
    original = table["label"].astype(str).map(preprocess.canonical)
    assert (train["label"] == "1").sum() + (done.split("test")["label"] == "1").sum() + (
        done.split("validation")["label"] == "1"
    ).sum() == (original == positive).sum()


def test_one_label_written_several_ways_is_one_class(tmp_path):
    table = people(label=("0", "1"))
    table["label"] = [
        {"0": ["0", "0.0", " 0"], "1": ["1", "1.0", "1.00 "]}[v][i % 3] for i, v in enumerate(table["label"])
    ]
    done = ok(tmp_path, {"t.csv": table})
    assert done.schema["label_mapping"] == {"0": 0, "1": 1}


def test_every_csv_and_parquet_file_below_the_input_is_read(tmp_path):
    table = people(n=150, label=("no", "yes"))
    a, b, c = table.iloc[:50], table.iloc[50:100], table.iloc[100:]
    tables = {
        "2024/01/part-a.csv": a,
        # Compressed, and its columns in another order.
        "2024/02/part-b.csv.gz": gzip.compress(b[list(reversed(b.columns))].to_csv(index=False).encode()),
        "README.md": "not a table",
        ".hidden.csv": "x,label\n1,yes\n",
        "empty.csv": "",
    }
    if HAS_PYARROW:
        tables["2024/03/part-c.parquet"] = c
    else:
        tables["2024/03/part-c.csv"] = c
    done = ok(tmp_path, tables)
    schema = done.schema
    third = "2024/03/part-c.parquet" if HAS_PYARROW else "2024/03/part-c.csv"
    assert schema["sources"] == ["2024/01/part-a.csv", "2024/02/part-b.csv.gz", third]
    assert schema["rows"]["read"] == 150 and "empty.csv is empty; skipped" in done.out
    combined = pd.concat(done.split(s) for s in SPLITS)
    assert sorted(combined["spend"].astype(float)) == sorted(table["spend"])


def test_a_single_file_is_an_input_too(tmp_path):
    path = write(tmp_path / "in", {"t.csv": people()}) / "t.csv"
    out = tmp_path / "out"
    assert preprocess.main(["--input-dir", str(path), "--output-dir", str(out), "--target", "label"]) == 0
    assert json.loads((out / "test" / "schema.json").read_text())["sources"] == ["t.csv"]


@pytest.mark.skipif(not HAS_PYARROW, reason="no Parquet engine here")
def test_parquet_types_arrive_as_their_csv_text(tmp_path):
    table = people(label=(False, True))
    table["label"] = table["label"].astype(bool)
    done = ok(tmp_path, {"t.parquet": table})
    assert done.schema["label_mapping"] == {"False": 0, "True": 1}
    assert {f["name"]: f["type"] for f in done.schema["features"]}["age"] == "numeric"


def test_a_rare_class_gets_the_minimum_in_every_split(tmp_path):
    """2% positives of 1000 rows: without stratification a split could get 0-3 positives."""
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"x": rng.normal(size=1000), "label": ["no"] * 980 + ["yes"] * 20})
    done = ok(tmp_path, {"t.csv": table})
    positives = {split: int((done.split(split)["label"] == "1").sum()) for split in SPLITS}
    assert positives == {"train": 10, "validation": 5, "test": 5}
    negatives = {split: int((done.split(split)["label"] == "0").sum()) for split in SPLITS}
    assert negatives == {"train": 686, "validation": 147, "test": 147}
    # Classes are interleaved, not in blocks: the first rows of test are not all one class.
    assert "1" in set(done.split("test")["label"].head(60))


def test_the_split_is_seeded(tmp_path):
    table = people()
    first = ok(tmp_path / "a", {"t.csv": table}).split("test")
    again = ok(tmp_path / "b", {"t.csv": table}).split("test")
    other = ok(tmp_path / "c", {"t.csv": table}, "--seed", "7").split("test")
    assert first.equals(again) and not first.equals(other)


def test_configured_categorical_columns_keep_codes_as_text(tmp_path):
    table = people()
    table["zip"] = [f"0{2100 + i % 7}" for i in range(len(table))]
    done = ok(
        tmp_path, {"t.csv": table}, "--categorical-columns", "plan,region", "--categorical-columns", "zip"
    )
    types = {f["name"]: (f["type"], f.get("categories")) for f in done.schema["features"]}
    assert types["zip"] == ("categorical", [f"0{2100 + i}" for i in range(7)])
    assert types["age"] == ("numeric", None)
    assert set(done.split("train")["zip"]) <= {f"0{2100 + i}" for i in range(7)}  # leading zero kept


def test_identifier_policies_and_what_is_not_an_identifier(tmp_path):
    n = 200
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {
            "row": np.arange(1000, 1000 + n),  # whole numbers in order
            "Unnamed: 0": np.arange(n),  # an index written out by pandas
            "PassengerId": rng.permutation(n),  # named like one, distinct
            "store_id": rng.integers(0, 10, n),  # named like one, but a real categorical feature
            "body_mass_index": rng.normal(25, 3, n),  # distinct floats: a measurement
            "paid": rng.integers(0, 2, n),
            "label": rng.choice(["no", "yes"], n),
        }
    )
    dropped = ok(tmp_path / "drop", {"t.csv": table}).schema
    assert dropped["dropped_columns"] == {
        "row": "identifier",
        "Unnamed: 0": "identifier",
        "PassengerId": "identifier",
    }
    assert [f["name"] for f in dropped["features"]] == ["store_id", "body_mass_index", "paid"]
    kept = ok(tmp_path / "keep", {"t.csv": table}, "--identifier-columns", "keep").schema
    assert kept["dropped_columns"] == {} and len(kept["features"]) == 6
    listed = ok(tmp_path / "listed", {"t.csv": table}, "--drop-columns", "row,Unnamed: 0,PassengerId")
    assert listed.schema["dropped_columns"] == dict.fromkeys(
        ["row", "Unnamed: 0", "PassengerId"], "drop_columns"
    )
    assert "warning" not in listed.out


def test_parquet_without_an_engine_is_refused_naming_the_file(tmp_path):
    """In a Python where neither pyarrow nor fastparquet imports (the step runs as a script)."""
    folder = write(tmp_path / "in", {"a.csv": people(), "b.parquet": b"PAR1 not read"})
    code = (
        "import sys, runpy\n"
        "sys.modules['pyarrow'] = sys.modules['fastparquet'] = None\n"
        f"sys.argv = ['preprocess.py', '--input-dir', {str(folder)!r},"
        f" '--output-dir', {str(tmp_path / 'out')!r}, '--target', 'label']\n"
        f"runpy.run_path({str(Path(preprocess.__file__))!r}, run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "preprocess: b.parquet: Parquet needs pyarrow or fastparquet, neither is installed; "
        "expected CSV files, or pyarrow installed where this step runs\n"
    )
    assert not (tmp_path / "out").exists()


# --- refusals: one line naming the column, exit 1, nothing written ----------------------------------


def wine_three_classes() -> pd.DataFrame:
    data = load_wine(as_frame=True)
    return data.frame.rename(columns={"target": "cultivar"})


def few(positives: int) -> pd.DataFrame:
    n = 400
    return pd.DataFrame({"x": np.arange(n) % 17, "label": ["no"] * (n - positives) + ["yes"] * positives})


def with_unlabelled(count: int) -> pd.DataFrame:
    table = people(n=100)
    table.loc[: count - 1, "label"] = None
    return table


REFUSALS = {
    "three classes": (
        {"wine.csv": wine_three_classes()},
        ["--target", "cultivar"],
        "cultivar",
        "3 label values ('0', '1', '2'); expected exactly two classes",
    ),
    "one class": (
        {"t.csv": people(label=("yes",))},
        [],
        "label",
        "one label value ('yes'); expected exactly two",
    ),
    "no labels": ({"t.csv": with_unlabelled(100)}, [], "label", "no label values; expected exactly two"),
    "too few of a class": (
        {"t.csv": few(14)},
        [],
        "label",
        "class 1 ('yes') has 14 rows; expected at least 5 of each class in each of train, validation and "
        "test, 15 in all (model.min_class_count)",
    ),
    "too few for a raised minimum": (
        {"t.csv": few(40)},
        ["--min-class-count", "20"],
        "label",
        "class 1 ('yes') has 40 rows; expected at least 20 of each class",
    ),
    "positive label not a value": (
        {"t.csv": people()},
        ["--positive-label", "Yes"],
        "label",
        "positive_label 'Yes' is not a label value ('no', 'yes'); expected one of the two values",
    ),
    "too many unlabelled rows": (
        {"t.csv": with_unlabelled(6)},
        [],
        "label",
        "6 of 100 rows (6.0%) have no label; expected at most 5.0% of rows dropped (model.max_dropped_share)",
    ),
    "no target column": (
        {"t.csv": people().drop(columns=["label"])},
        [],
        "label",
        "not a column of the table; columns: 'customer_id', 'name', 'plan', 'age', 'region', ... (6 in all)",
    ),
    "semicolons": ({"t.csv": "a;label\n1;yes\n"}, [], "label", "a semicolon-separated file?"),
    "unknown drop column": (
        {"t.csv": people()},
        ["--drop-columns", "CustomerID"],
        "CustomerID",
        "listed in drop_columns but not a column",
    ),
    "unknown categorical column": (
        {"t.csv": people()},
        ["--categorical-columns", "plan,tier"],
        "tier",
        "listed in categorical_columns but not a column",
    ),
    "text in a numeric column": (
        {"t.csv": people()},
        ["--categorical-columns", "plan", "--identifier-columns", "keep"],
        "customer_id",
        "text values ('C00000', 'C00001', 'C00002', 'C00003', 'C00004', ... (120 in all)) in a column not "
        "listed in categorical_columns; expected numbers, or the column in model.categorical_columns",
    ),
    "identifiers refused": (
        {"t.csv": people()},
        ["--identifier-columns", "refuse"],
        "customer_id, name",
        "look like identifiers (customer_id: named like an identifier, 120 distinct values in 120 rows; "
        "name: a different text value in every row); expected feature columns only",
    ),
    "files with different columns": (
        {"a.csv": people(), "b.csv": people().drop(columns=["age"]).assign(tenure=1)},
        [],
        "b.csv",
        "columns differ from a.csv (missing: 'age'; extra: 'tenure'); expected every file to have the same",
    ),
    "ragged CSV": ({"t.csv": "a,label\n1,yes\n2,no,extra,more\n"}, [], "t.csv", "cannot be read: "),
    "not UTF-8": ({"t.csv": "name,label\ncaf\xe9,yes\n".encode("latin-1")}, [], "t.csv", "not UTF-8 text"),
    "no feature left": (
        {"t.csv": people()[["customer_id", "label"]]},
        [],
        "label",
        "no feature columns left; expected at least one column besides the target",
    ),
    "the target dropped": ({"t.csv": people()}, ["--drop-columns", "label"], "label", "is the target"),
    "fractions": (
        {"t.csv": people()},
        ["--test-fraction", "0.6", "--validation-fraction", "0.5"],
        "--validation-fraction + --test-fraction",
        "is 1.1; expected below 1",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_table_that_breaks_the_contract_is_refused_before_anything_is_written(case, tmp_path):
    tables, args, column, detail = REFUSALS[case]
    line = refused(tmp_path, tables, column, *args)  # a later --target wins over run()'s
    assert detail in line


def test_a_refusal_stops_the_rehearsal_before_training(tmp_path, capsys):
    rehearsal = module("local.rehearsal")
    data = (
        write(tmp_path, {"wine.csv": wine_three_classes().rename(columns={"cultivar": "target"})})
        / "wine.csv"
    )
    assert rehearsal.main(["--data", str(data), "--work-dir", str(tmp_path / "work")]) == 1
    reason = capsys.readouterr().err.strip()
    assert reason.startswith(
        "error: rehearsal failed: preprocess.py exited 1: "
        "preprocess: target: 3 label values ('0', '1', '2'); expected exactly two classes"
    )
    steps = json.loads((tmp_path / "work" / "report.json").read_text())["steps"]
    assert [s["status"] for s in steps[:2]] == ["FAILED", "skipped"]
    assert not any((tmp_path / "work" / "data").glob("*/*.csv"))
    assert not (tmp_path / "work" / "model").exists() or not any((tmp_path / "work" / "model").iterdir())


def test_preprocess_and_serving_read_the_same_text_as_a_gap():
    """Preprocess runs alone in its processing job and tabular.py ships inside model.tar.gz, so
    neither can import the other: the two copies of the gap markers must stay equal."""
    tabular = module("steps.tabular")
    assert set(preprocess.NA_MARKERS) == tabular.MISSING_TEXT
