"""Labelled samples for the endpoint suite: the first rows of a CSV with a header, as raw records.

The samples are normally the held-out test split the preprocess step wrote for the model under
test (`<out>/test/test.csv`: the target column first as 0/1, then the kept feature columns with
their raw values, text as text and a gap as an empty cell). A `schema.json` beside the CSV, as
preprocess writes it, gives each feature's type and the column set the model was trained on;
without one, a column whose every non-empty value is a number is numeric and any other is text.

Each sample is (features by name in training column order, label): a numeric feature is a float,
a categorical one the text as written, a gap None. The suite sends them as they are, so the
endpoint sees what a client would send it.

Standard library only (the deploy jobs install boto3 alone).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

Sample = tuple[dict[str, Any], int]
SCHEMA_FILE = "schema.json"
NUMERIC = "numeric"


class SampleError(ValueError):
    """The samples cannot be used; the message names the file and the line or column."""


def _schema_types(path: Path) -> dict[str, str] | None:
    """{feature: type} in training order from schema.json beside the CSV, or None without one."""
    schema_path = path.with_name(SCHEMA_FILE)
    if not schema_path.is_file():
        return None
    try:
        schema = json.loads(schema_path.read_text())
        types = {str(f["name"]): str(f["type"]) for f in schema["features"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SampleError(
            f"{schema_path}: not a preprocess schema (features with name and type): {exc}"
        ) from exc
    if not types:
        raise SampleError(f"{schema_path}: no features")
    return types


def _label(text: str | None, where: str, target: str) -> int:
    try:
        value = float(text or "")
    except ValueError:
        value = math.nan
    if value not in (0.0, 1.0):
        raise SampleError(
            f"{where}: target {target!r} is {text!r}; expected 0 or 1 (the held-out split of "
            "preprocess holds the mapped label)"
        )
    return int(value)


def _number(text: str) -> float | None:
    """The cell as a finite float, None for a gap (or a non-finite number); ValueError for text."""
    if text.strip() == "":
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _is_number(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def _read_rows(path: Path, n: int, target: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header's feature names and the first n rows (line number, cells by name)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise SampleError(f"{path}: no header row")
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise SampleError(f"{path}: the header repeats {duplicated}")
        if target not in header:
            raise SampleError(f"{path}: no target column {target!r} in the header {header[:5]}")
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            if not cells:
                continue
            if len(cells) != len(header):
                raise SampleError(
                    f"{path} line {reader.line_num}: {len(cells)} values, the header has {len(header)}"
                )
            rows.append((reader.line_num, dict(zip(header, cells, strict=True))))
            if len(rows) == n:
                break
    features = [name for name in header if name != target]
    if not features:
        raise SampleError(f"{path}: no feature column beside the target {target!r}")
    if not rows:
        raise SampleError(f"{path}: no data rows")
    return features, rows


def load_samples(csv_path: Path | str, n: int, target: str = "target") -> list[Sample]:
    """The first n labelled rows of a CSV with a header, as raw records (see the module docstring).

    It raises SampleError (a ValueError) naming the file, and the line or column, for a file
    without a header or the target column, a row of another width, a label other than 0 or 1,
    columns other than schema.json's features, or text in a column schema.json says is numeric;
    OSError (or UnicodeDecodeError) when the file cannot be read.
    """
    path = Path(csv_path)
    if n < 1:
        raise ValueError(f"sample count must be at least 1, got {n}")
    features, rows = _read_rows(path, n, target)
    types = _schema_types(path)
    if types is not None:
        if sorted(features) != sorted(types):
            missing = [name for name in types if name not in features]
            extra = [name for name in features if name not in types]
            raise SampleError(
                f"{path}: the columns are not the model's features ({path.with_name(SCHEMA_FILE).name}):"
                f" missing {missing}, unexpected {extra}"
            )
        features = list(types)
    else:
        types = {
            name: NUMERIC if all(_is_number(cells[name]) for _, cells in rows) else "text"
            for name in features
        }
    samples: list[Sample] = []
    for line, cells in rows:
        values: dict[str, Any] = {}
        for name in features:
            text = cells[name]
            if types[name] == NUMERIC:
                try:
                    values[name] = _number(text)
                except ValueError:
                    raise SampleError(
                        f"{path} line {line}: column {name!r} is numeric in the schema but holds {text!r}"
                    ) from None
            else:
                values[name] = text if text != "" else None
        samples.append((values, _label(cells[target], f"{path} line {line}", target)))
    return samples


def numeric_features(samples: list[Sample]) -> list[str]:
    """The features whose sample values are numbers (or gaps), at least one a number, in order."""
    if not samples:
        return []
    names = list(samples[0][0])
    return [
        name
        for name in names
        if all(not isinstance(f[name], str) for f, _ in samples)
        and any(f[name] is not None for f, _ in samples)
    ]
