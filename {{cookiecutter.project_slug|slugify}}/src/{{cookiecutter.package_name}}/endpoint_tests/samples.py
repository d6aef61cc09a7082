"""Labelled samples for the endpoint suite: the first rows of a CSV with a header."""

from __future__ import annotations

import csv
from pathlib import Path

Sample = tuple[dict[str, float], int]


def load_samples(csv_path: Path | str, n: int, target: str = "target") -> list[Sample]:
    """The first n labelled rows of a CSV with a header: (features by name in file order, label).

    It raises ValueError when the file lacks the target column, has a non-numeric value or no rows.
    """
    path = Path(csv_path)
    if n < 1:
        raise ValueError(f"sample count must be at least 1, got {n}")
    samples: list[Sample] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or target not in reader.fieldnames:
            raise ValueError(f"{path}: no target column {target!r} in the header")
        names = [name for name in reader.fieldnames if name != target]
        for line, row in enumerate(reader, start=2):
            try:
                features = {name: float(row[name]) for name in names}
                label = int(float(row[target]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path} line {line}: a value is not a number") from exc
            samples.append((features, label))
            if len(samples) == n:
                break
    if not samples:
        raise ValueError(f"{path}: no data rows")
    return samples
