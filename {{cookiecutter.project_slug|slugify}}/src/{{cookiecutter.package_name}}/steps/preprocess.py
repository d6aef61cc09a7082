"""Preprocess step: split the raw CSV into train, validation and test sets.

Runs inside a SageMaker processing container (input under /opt/ml/processing/input,
outputs under /opt/ml/processing/{train,validation,test}) and locally with the
directories given as arguments. Only the standard library, NumPy and pandas.
It exits non-zero when the input has no CSV or lacks the target column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASE = Path("/opt/ml/processing")


def find_csv(input_dir: Path) -> Path:
    files = sorted(input_dir.glob("*.csv"))
    if not files:
        raise SystemExit(f"preprocess: no .csv file in {input_dir}")
    return files[0]


def split(
    frame: pd.DataFrame, target: str, seed: int, val_fraction: float, test_fraction: float
) -> dict[str, pd.DataFrame]:
    """Shuffle and split; the target becomes the first column (SageMaker's CSV convention)."""
    if target not in frame.columns:
        raise SystemExit(f"preprocess: target column {target!r} not in {list(frame.columns)[:5]}...")
    frame = frame.dropna()
    ordered = frame[[target] + [c for c in frame.columns if c != target]]
    rng = np.random.default_rng(seed)
    index = rng.permutation(len(ordered))
    n_test = int(len(ordered) * test_fraction)
    n_val = int(len(ordered) * val_fraction)
    return {
        "test": ordered.iloc[index[:n_test]],
        "validation": ordered.iloc[index[n_test : n_test + n_val]],
        "train": ordered.iloc[index[n_test + n_val :]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", type=Path, default=BASE / "input")
    parser.add_argument("--output-dir", type=Path, default=BASE, help="gets train/, validation/, test/")
    parser.add_argument("--target", default="target")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    args = parser.parse_args(argv)

    source = find_csv(args.input_dir)
    parts = split(pd.read_csv(source), args.target, args.seed, args.validation_fraction, args.test_fraction)
    for name, part in parts.items():
        out = args.output_dir / name
        out.mkdir(parents=True, exist_ok=True)
        part.to_csv(out / f"{name}.csv", index=False)
        print(f"preprocess: {name}: {len(part)} rows -> {out / f'{name}.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
