"""Baseline helper step: the data-quality baseline's input, and the thresholds of its constraints.

Runs in the framework image as two small processing jobs of the pipeline (pipeline/baselines.py);
standard library only.

- `features`: <train-dir>/train.csv (a header row, the 0/1 target first, as preprocess writes it)
  -> <output-dir>/features.csv: the feature columns only, no header, every cell unchanged. That
  is exactly what the endpoint receives as text/csv and what data capture records, so the
  baseline's columns (_c0, _c1, ... in the order of schema.json's features) are the columns
  Model Monitor finds in the captured requests. The target column is checked against
  schema.json's `target` when schema.json is beside train.csv.
- `constraints`: <input-dir>/constraints.json (what the Model Monitor analyzer suggested)
  -> <output-dir>/constraints.json with `monitoring_config` set to the given thresholds (config
  `monitoring.constraints`): datatype_check_threshold, domain_content_threshold, and
  distribution_constraints.comparison_threshold / comparison_method; everything else unchanged.

A refusal is one line `baseline: <what is wrong>; expected <what>` and exit status 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

BASE = Path("/opt/ml/processing")
COMPARISON_METHODS = ("Robust", "Simple")


class Refusal(Exception):
    pass


def features(train_dir: Path, output_dir: Path) -> int:
    """Write features.csv (no header, no target); return the number of rows."""
    source = train_dir / "train.csv"
    if not source.is_file():
        raise Refusal(f"no train.csv in {train_dir}; expected the train split written by preprocess")
    schema_path = train_dir / "schema.json"
    target = json.loads(schema_path.read_text())["target"] if schema_path.is_file() else None
    rows = 0
    out = io.StringIO()
    with source.open(newline="", encoding="utf-8") as src:
        reader = csv.reader(src)
        header = next(reader, None)
        if not header or len(header) < 2:
            raise Refusal(f"{source} has header {header!r}; expected the target and at least one feature")
        if target is not None and header[0] != target:
            raise Refusal(f"{source} starts with column {header[0]!r}; expected the target {target!r} first")
        writer = csv.writer(out, lineterminator="\n")
        for row in reader:
            if len(row) != len(header):
                raise Refusal(f"{source} row {rows + 2} has {len(row)} cells; expected {len(header)}")
            writer.writerow(row[1:])
            rows += 1
    if rows == 0:
        raise Refusal(f"{source} has no rows; expected the train split's rows")
    # Written only once every row passed: a refusal leaves no partial baseline input.
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "features.csv").write_text(out.getvalue(), encoding="utf-8", newline="")
    return rows


def threshold(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise Refusal(f"--{name.replace('_', '-')} is {value}; expected a number from 0 to 1")
    return value


def constraints(input_dir: Path, output_dir: Path, settings: dict) -> dict:
    """Write constraints.json with the monitoring_config thresholds; return the monitoring_config."""
    found = sorted(input_dir.rglob("constraints.json"))
    if len(found) != 1:
        raise Refusal(f"{len(found)} constraints.json under {input_dir}; expected the analyzer's one")
    document = json.loads(found[0].read_text())
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise Refusal(f"{found[0]} has no features list; expected Model Monitor's constraints.json")
    if settings["comparison_method"] not in COMPARISON_METHODS:
        raise Refusal(
            f"--comparison-method is {settings['comparison_method']!r}; "
            f"expected one of {', '.join(COMPARISON_METHODS)}"
        )
    config = dict(document.get("monitoring_config") or {})
    config["datatype_check_threshold"] = threshold(
        "datatype_check_threshold", settings["datatype_check_threshold"]
    )
    config["domain_content_threshold"] = threshold(
        "domain_content_threshold", settings["domain_content_threshold"]
    )
    distribution = dict(config.get("distribution_constraints") or {})
    distribution.setdefault("perform_comparison", "Enabled")
    distribution["comparison_threshold"] = threshold("comparison_threshold", settings["comparison_threshold"])
    distribution["comparison_method"] = settings["comparison_method"]
    config["distribution_constraints"] = distribution
    document["monitoring_config"] = config
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "constraints.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baseline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    feats = commands.add_parser("features")
    feats.add_argument("--train-dir", type=Path, default=BASE / "train")
    feats.add_argument("--output-dir", type=Path, default=BASE / "features")
    cons = commands.add_parser("constraints")
    cons.add_argument("--input-dir", type=Path, default=BASE / "calculated")
    cons.add_argument("--output-dir", type=Path, default=BASE / "constraints")
    cons.add_argument("--comparison-threshold", type=float, required=True)
    cons.add_argument("--comparison-method", required=True)
    cons.add_argument("--datatype-check-threshold", type=float, required=True)
    cons.add_argument("--domain-content-threshold", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "features":
            rows = features(args.train_dir, args.output_dir)
            print(f"baseline: wrote {rows} feature rows to {args.output_dir / 'features.csv'}")
        else:
            keys = (
                "comparison_threshold",
                "comparison_method",
                "datatype_check_threshold",
                "domain_content_threshold",
            )
            config = constraints(args.input_dir, args.output_dir, {key: getattr(args, key) for key in keys})
            print(f"baseline: monitoring_config {json.dumps(config, sort_keys=True)}")
    except Refusal as exc:
        print(f"baseline: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
