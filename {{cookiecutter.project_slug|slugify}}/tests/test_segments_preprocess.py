"""steps/preprocess.py with segments: one split per listed segment, refusals before any write."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model_helpers import SAMPLE_CSV, TARGET, module

preprocess = module("steps.preprocess")
SEGMENTS = ("north", "south-2")


def with_segments(tmp_path, values) -> Path:
    """data/sample.csv with a `region` column in front holding `values` in turn."""
    frame = pd.read_csv(SAMPLE_CSV, dtype=str)
    frame.insert(0, "region", [values[n % len(values)] for n in range(len(frame))])
    source = tmp_path / "input"
    source.mkdir()
    frame.to_csv(source / "table.csv", index=False)
    return source


def run(tmp_path, source, *extra: str, segments=SEGMENTS) -> int:
    args = ["--input-dir", str(source), "--output-dir", str(tmp_path / "out"), f"--target={TARGET}"]
    args += ["--segment-column=region", *(f"--segment={s}" for s in segments), *extra]
    return preprocess.main([*args, "--message-file", str(tmp_path / "none" / "message")])


def test_each_segment_is_split_on_its_own_under_its_folder(tmp_path, capsys):
    # " north " strips to north: data values are compared as str(value).strip()
    source = with_segments(tmp_path, ["north", "south-2", " north "])
    assert run(tmp_path, source) == 0
    out = tmp_path / "out"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(
        f"{split}/{segment}/{name}"
        for split in ("train", "validation", "test")
        for segment in SEGMENTS
        for name in (f"{split}.csv", "schema.json")
    )
    total = len(pd.read_csv(SAMPLE_CSV))
    rows = {}
    for segment in SEGMENTS:
        schema = json.loads((out / "train" / segment / "schema.json").read_text())
        assert schema["segment"] == {"column": "region", "value": segment}
        assert schema["dropped_columns"]["region"] == "segment"
        assert "region" not in [f["name"] for f in schema["features"]]  # not a feature
        table = pd.read_csv(out / "test" / segment / "test.csv")
        assert "region" not in table.columns and table.columns[0] == TARGET
        rows[segment] = schema["rows"]["read"]
        assert sum(schema["rows"][split] for split in ("train", "validation", "test")) == rows[segment]
    assert rows == {"north": total - len(range(1, total, 3)), "south-2": len(range(1, total, 3))}
    assert "segment north:" in capsys.readouterr().out


def test_rows_of_unlisted_values_are_refused_with_values_and_counts(tmp_path, capsys):
    source = with_segments(tmp_path, ["north", "south-2", "east", "north", ""])
    total = len(pd.read_csv(SAMPLE_CSV))
    assert run(tmp_path, source) == 1
    err = capsys.readouterr().err.strip().splitlines()
    east = len(range(2, total, 5))
    missing = len(range(4, total, 5))
    assert err == [
        f"preprocess: region: {east + missing} rows hold values not listed in model.segments.values: "
        f"'(missing)' ({missing} rows), 'east' ({east} rows); expected every row's value one of "
        "north, south-2 (list the value, or drop those rows)"
    ]
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_segment_too_small_to_split_is_refused_naming_it(tmp_path, capsys):
    # south-2 gets one row in 20: too few of a class for train, validation and test
    source = with_segments(tmp_path, ["north"] * 19 + ["south-2"])
    assert run(tmp_path, source, "--min-class-count=5") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("preprocess: segment 'south-2' (region): target: class ")
    assert err[0].endswith("in every listed segment (model.segments)")
    assert "at least 5 of each class in each of train, validation and test" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_listed_segment_without_rows_is_refused(tmp_path, capsys):
    source = with_segments(tmp_path, ["north"])
    assert run(tmp_path, source) == 1
    assert capsys.readouterr().err.splitlines() == [
        "preprocess: region: no rows of the listed segment south-2; expected rows of every value in "
        "model.segments.values (remove a value with no data)"
    ]


def test_the_segment_column_must_exist_and_come_with_values(tmp_path, capsys):
    source = with_segments(tmp_path, ["north"])
    args = [
        "--input-dir",
        str(source),
        "--output-dir",
        str(tmp_path / "out"),
        "--message-file",
        "/nonexistent/m",
    ]
    assert preprocess.main([*args, "--segment-column=zone", "--segment=north"]) == 1
    assert "preprocess: zone: not a column (" in capsys.readouterr().err
    assert preprocess.main([*args, "--segment-column=region"]) == 1
    assert "preprocess: --segment-column: and --segment come together; expected both, or neither" in (
        capsys.readouterr().err
    )
