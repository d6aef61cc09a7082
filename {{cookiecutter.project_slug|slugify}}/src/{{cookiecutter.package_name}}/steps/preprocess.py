"""Preprocess step: check the input tables against the data contract, split them into train,
validation and test sets, and write the feature schema beside each.

Runs inside a SageMaker processing container (input under /opt/ml/processing/input, outputs under
/opt/ml/processing/{train,validation,test}) and locally with the paths given as arguments. Only
the standard library, NumPy and pandas (and pyarrow or fastparquet when there are Parquet files).

The contract (docs/data.md):
- every CSV (.csv, .csv.gz) and Parquet (.parquet, .pq) file under --input-dir, a file or a folder
  searched recursively, is read; all must have the same columns;
- rows without a label are dropped and counted; more than --max-dropped-share of them stops;
- the label has exactly two distinct values, mapped to 0/1 (--positive-label is 1; else
  `positive_label` below), with at least --min-class-count rows of each class in each split;
- --drop-columns are removed; a column that looks like an identifier is dropped with a warning,
  refused or kept (--identifier-columns drop|refuse|keep);
- features keep their raw values: categorical when listed in --categorical-columns (then every
  other feature must be numeric), else when any value is not a number;
- with --segment-column and --segment values (config model.segments), the rows are split by that
  column's value (`str(value).strip()`) and each listed segment is checked and split on its own into
  <out>/<split>/<segment>/; a row of an unlisted value is refused (the values and their counts), and
  so is a segment too small for the split; the segment column is not a feature;
- the split is stratified and seeded; <out>/<split>/<split>.csv has the 0/1 target first, and
  <out>/<split>/schema.json describes target, mapping, features, dropped columns, rows, sources.
A refusal is one line `preprocess: <column>: <what is wrong>; expected <rule>` on stderr and exit
status 1, before anything is written.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASE = Path("/opt/ml/processing")
SPLITS = ("train", "validation", "test")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
NO_LABEL = "target missing"
POSITIVE_WORDS = {"1", "true", "t", "yes", "y", "positive", "pos"}
NEGATIVE_WORDS = {"0", "false", "f", "no", "n", "negative", "neg"}
# Names that say "identifier": id/uuid/guid as the last word (customer_id, Customer ID, PassengerId,
# customerID), and the index pandas writes without a name (Unnamed: 0).
ID_WORD = re.compile(r"(^|[^A-Za-z0-9])(id|uuid|guid)$", re.IGNORECASE)
ID_CAMEL = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Guid|GUID)$")
PANDAS_INDEX = re.compile(r"^(unnamed: ?\d+|index)$", re.IGNORECASE)
# What reads as a gap: pandas' default markers, listed so every pandas version reads the same
# (pandas 2 added "None"). steps/tabular.py (the serving side) keeps the same set; this step runs
# alone in its job, so it cannot import it (tests/test_data_contract.py keeps the two equal).
NA_MARKERS = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
MIN_ROWS_FOR_VALUE_RULES = 20
SHOWN = 5


class Refusal(Exception):
    """The input breaks the contract: the one line to print."""

    def __init__(self, what: str, problem: str, expected: str) -> None:
        super().__init__(f"preprocess: {what}: {problem}; expected {expected}")
        self.what, self.problem, self.expected = what, problem, expected


def shown(values) -> str:
    values = [str(v) for v in values]
    more = f", ... ({len(values)} in all)" if len(values) > SHOWN else ""
    return ", ".join(repr(v) for v in values[:SHOWN]) + more


def data_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise Refusal(str(root), "no such file or folder", "the input table or a folder of tables")
    files = [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)
    ]
    if not files:
        raise Refusal(str(root), "no CSV or Parquet file here or below", "*.csv or *.parquet files")
    return files


def parquet_engine() -> str:
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
            return engine
        except ImportError:
            continue
    return ""


def read_table(path: Path, name: str, engine: str) -> pd.DataFrame | None:
    """The file as strings exactly as a CSV holds them (missing values NaN); None when empty."""
    try:
        if path.name.lower().endswith(PARQUET_SUFFIXES):
            source = io.StringIO(pd.read_parquet(path, engine=engine).to_csv(index=False))
        else:
            source = path
        frame = pd.read_csv(source, dtype=str, encoding="utf-8", keep_default_na=False, na_values=NA_MARKERS)
    except pd.errors.EmptyDataError:
        print(f"preprocess: warning: {name} is empty; skipped")
        return None
    except UnicodeDecodeError as exc:
        raise Refusal(
            name,
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
            "UTF-8 text, e.g. saved as CSV UTF-8",
        ) from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Refusal(name, f"cannot be read: {first}", "a comma-separated CSV or a Parquet file") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_input(root: Path) -> tuple[pd.DataFrame, list[str]]:
    files = data_files(root)
    engine = ""
    if any(p.name.lower().endswith(PARQUET_SUFFIXES) for p in files):
        engine = parquet_engine()
        if not engine:
            parquet = next(p for p in files if p.name.lower().endswith(PARQUET_SUFFIXES))
            raise Refusal(
                parquet.name if root.is_file() else parquet.relative_to(root).as_posix(),
                "Parquet needs pyarrow or fastparquet, neither is installed",
                "CSV files, or pyarrow installed where this step runs",
            )
    frames, sources, columns = [], [], None
    for path in files:
        name = path.name if root.is_file() else path.relative_to(root).as_posix()
        frame = read_table(path, name, engine)
        if frame is None:
            continue
        if columns is None:
            columns, first = list(frame.columns), name
        elif set(frame.columns) != set(columns):
            missing = [c for c in columns if c not in frame.columns]
            extra = [c for c in frame.columns if c not in columns]
            raise Refusal(
                name,
                f"columns differ from {first} (missing: {shown(missing) or 'none'}; "
                f"extra: {shown(extra) or 'none'})",
                "every file to have the same columns",
            )
        frames.append(frame[columns])
        sources.append(name)
    if not frames:
        raise Refusal(str(root), "every file is empty", "a header row and data rows")
    return pd.concat(frames, ignore_index=True, sort=False), sources


def canonical(value: str) -> str:
    """A label as text; numbers written one way, so 1, 1.0 and 1.00 are one class."""
    try:
        number = float(value)
    except ValueError:
        return value
    if not np.isfinite(number):
        return value
    return str(int(number)) if number.is_integer() else repr(number)


def map_labels(labels: pd.Series, target: str, positive: str | None) -> tuple[pd.Series, dict, str]:
    """The 0/1 codes (NaN where missing), the mapping and how the positive label was chosen."""
    text = labels.str.strip()
    text = text.where(text != "")
    raw = sorted(set(text.dropna().tolist()))
    codes = {value: canonical(value) for value in raw}
    values = sorted(set(codes.values()))
    counts = text.map(codes).value_counts()
    if len(values) != 2:
        found = {0: "no label values", 1: f"one label value ({shown(values)})"}.get(
            len(values), f"{len(values)} label values ({shown(values)})"
        )
        raise Refusal(
            target, found, "exactly two classes (binary classification); map or filter the others out first"
        )
    numeric = all(_is_number(v) for v in values)
    if positive is not None:
        if canonical(positive.strip()) not in values:
            raise Refusal(
                target,
                f"positive_label {positive!r} is not a label value ({shown(values)})",
                "one of the two values",
            )
        chosen, rule = canonical(positive.strip()), "model.positive_label"
    elif numeric:
        chosen, rule = max(values, key=float), "the greater number"
    else:
        pos = [v for v in values if v.lower() in POSITIVE_WORDS]
        neg = [v for v in values if v.lower() in NEGATIVE_WORDS]
        if len(pos) == 1 and not (neg and neg[0] == pos[0]):
            chosen, rule = pos[0], "the true/yes-looking value"
        elif len(neg) == 1:
            chosen, rule = next(v for v in values if v != neg[0]), "the other value is false/no-looking"
        else:
            chosen, rule = (
                values[-1],
                "the lexicographically greater value; set model.positive_label to choose",
            )
    mapping = {v: int(v == chosen) for v in sorted(values, key=lambda v: v == chosen)}
    y = text.map(codes).map(mapping)
    print(
        f"preprocess: label {target}: "
        + ", ".join(f"{v!r} -> {c} ({int(counts.get(v, 0))} rows)" for v, c in mapping.items())
        + f"; positive: {rule}"
    )
    return y, mapping, chosen


def _is_number(value: str) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce")


def is_numeric(column: pd.Series) -> bool:
    present = column.dropna()
    return bool(numbers(present).notna().all())


def identifier_reason(name: str, column: pd.Series) -> str:
    """Why the column looks like an identifier, or "" when it does not."""
    rows = len(column)
    distinct = column.nunique(dropna=True)
    if PANDAS_INDEX.match(name):
        return "named like a written-out row index"
    if (ID_WORD.search(name) or ID_CAMEL.search(name)) and rows and distinct >= 0.5 * rows:
        return f"named like an identifier, {distinct} distinct values in {rows} rows"
    if rows < MIN_ROWS_FOR_VALUE_RULES or column.isna().any() or distinct < rows:
        return ""
    if not is_numeric(column):
        return "a different text value in every row"
    values = numbers(column)
    if (values % 1 == 0).all() and (values.is_monotonic_increasing or values.is_monotonic_decreasing):
        return "a different whole number in every row, in order"
    return ""


def choose_features(frame: pd.DataFrame, args: argparse.Namespace) -> tuple[list, dict]:
    """The feature columns with their types, and the dropped columns with their reasons."""
    columns = list(frame.columns)
    for option, listed in (
        ("drop_columns", args.drop_columns),
        ("categorical_columns", args.categorical_columns),
    ):
        for name in listed or []:
            if name == args.target:
                raise Refusal(name, f"is the target and is listed in {option}", "feature columns only")
            if name not in columns:
                raise Refusal(
                    name, f"listed in {option} but not a column ({shown(columns)})", "a column name"
                )
    dropped = {name: "drop_columns" for name in args.drop_columns}
    candidates = [c for c in columns if c != args.target and c not in dropped]
    for name in candidates:
        if frame[name].isna().all():
            dropped[name] = "empty"
            print(f"preprocess: warning: {name} has no values; dropped")
    suspects = {}
    if args.identifier_columns != "keep":
        suspects = {
            c: r for c in candidates if c not in dropped for r in [identifier_reason(c, frame[c])] if r
        }
    if suspects and args.identifier_columns == "refuse":
        verb = "looks like an identifier" if len(suspects) == 1 else "look like identifiers"
        raise Refusal(
            ", ".join(suspects),
            f"{verb} (" + "; ".join(f"{c}: {r}" for c, r in suspects.items()) + ")",
            "feature columns only: list identifiers in "
            'model.drop_columns, or set model.identifier_columns to "drop" or "keep"',
        )
    for name, reason in suspects.items():
        dropped[name] = "identifier"
        print(
            f"preprocess: warning: {name} looks like an identifier ({reason}); dropped. List it in "
            'model.drop_columns to say so, or set model.identifier_columns to "keep" to use it'
        )
    features = []
    for name in (c for c in candidates if c not in dropped):
        numeric = is_numeric(frame[name])
        if args.categorical_columns is not None and name not in args.categorical_columns and not numeric:
            bad = frame[name].dropna()[numbers(frame[name].dropna()).isna()]
            raise Refusal(
                name,
                f"text values ({shown(sorted(set(bad.tolist())))}) in a column not listed "
                "in categorical_columns",
                "numbers, or the column in model.categorical_columns",
            )
        categorical = (
            name in args.categorical_columns if args.categorical_columns is not None else not numeric
        )
        features.append((name, "categorical" if categorical else "numeric"))
    if not features:
        raise Refusal(args.target, "no feature columns left", "at least one column besides the target")
    return features, dropped


def allocate(n: int, args: argparse.Namespace) -> dict[str, int]:
    """Rows of one class per split: the fractions, at least min_class_count in each."""
    low = args.min_class_count
    sizes = {
        split: max(low, int(n * fraction + 0.5))
        for split, fraction in (("test", args.test_fraction), ("validation", args.validation_fraction))
    }
    while n - sum(sizes.values()) < low and max(sizes.values()) > low:
        larger = max(sizes, key=sizes.get)
        sizes[larger] -= 1
    sizes["train"] = n - sizes["test"] - sizes["validation"]
    return sizes


def stratified_split(y: pd.Series, args: argparse.Namespace, target: str, mapping: dict) -> dict:
    """Row positions per split: each class shuffled (seeded) and cut by `allocate`."""
    rng = np.random.default_rng(args.seed)
    parts = {split: [] for split in SPLITS}
    for value, code in mapping.items():
        rows = np.flatnonzero(y.to_numpy() == code)
        if len(rows) < 3 * args.min_class_count:
            raise Refusal(
                target,
                f"class {code} ({value!r}) has {len(rows)} rows",
                f"at least {args.min_class_count} of each class in each of train, validation "
                f"and test, {3 * args.min_class_count} in all (model.min_class_count)",
            )
        rows = rng.permutation(rows)
        sizes = allocate(len(rows), args)
        start = 0
        for split in ("test", "validation", "train"):
            parts[split].append(rows[start : start + sizes[split]])
            start += sizes[split]
    return {split: rng.permutation(np.concatenate(parts[split])) for split in SPLITS}


def arguments() -> argparse.ArgumentParser:
    def names(text: str) -> list[str]:
        return [n.strip() for n in text.split(",") if n.strip()]

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input-dir", type=Path, default=BASE / "input", help="a table or a folder of tables"
    )
    parser.add_argument("--output-dir", type=Path, default=BASE, help="gets train/, validation/, test/")
    parser.add_argument("--target", default="target")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--drop-columns", type=names, action="append", default=[], help="a,b (repeatable)")
    parser.add_argument(
        "--categorical-columns",
        type=names,
        action="append",
        help="a,b (repeatable); without it a column is categorical when a value is not a number",
    )
    parser.add_argument("--positive-label", help="the label value that becomes 1")
    parser.add_argument("--max-dropped-share", type=float, default=0.05)
    parser.add_argument("--identifier-columns", choices=("drop", "refuse", "keep"), default="drop")
    parser.add_argument("--min-class-count", type=int, default=5, help="per class in each split")
    parser.add_argument(
        "--segment-column", default="", help="split the rows by this column's value (model.segments)"
    )
    parser.add_argument(
        "--segment", action="append", default=[], help="a segment value (repeatable, with --segment-column)"
    )
    parser.add_argument(
        "--message-file",
        type=Path,
        default=Path("/opt/ml/output/message"),
        help="where a refusal is also written when its folder's parent exists "
        "(SageMaker shows it as the job's ExitMessage)",
    )
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    return check(arguments().parse_args(argv))


def check(args: argparse.Namespace) -> argparse.Namespace:
    """Flatten the column lists and check the numbers (Refusal)."""
    args.drop_columns = [n for chunk in args.drop_columns for n in chunk]
    if args.categorical_columns is not None:
        args.categorical_columns = [n for chunk in args.categorical_columns for n in chunk]
    for option, value, ok, rule in (
        (
            "--validation-fraction",
            args.validation_fraction,
            0 < args.validation_fraction < 1,
            "above 0, below 1",
        ),
        ("--test-fraction", args.test_fraction, 0 < args.test_fraction < 1, "above 0, below 1"),
        (
            "--validation-fraction + --test-fraction",
            args.validation_fraction + args.test_fraction,
            args.validation_fraction + args.test_fraction < 1,
            "below 1",
        ),
        ("--max-dropped-share", args.max_dropped_share, 0 <= args.max_dropped_share <= 1, "from 0 to 1"),
        ("--min-class-count", args.min_class_count, args.min_class_count >= 1, "at least 1"),
    ):
        if not ok:
            raise Refusal(option, f"is {value:g}", rule)
    if bool(args.segment_column) != bool(args.segment):
        raise Refusal("--segment-column", "and --segment come together", "both, or neither")
    return args


def prepare(args: argparse.Namespace) -> dict[str, str]:
    """Check everything and render every output file; {relative path: text}. Writes nothing."""
    frame, sources = read_input(args.input_dir)
    if args.target not in frame.columns:
        hint = (
            " (one column holding ';': a semicolon-separated file?)"
            if len(frame.columns) == 1 and ";" in frame.columns[0]
            else ""
        )
        raise Refusal(
            args.target,
            f"not a column of the table{hint}; columns: {shown(frame.columns)}",
            "model.target_column to name the label column",
        )
    read = len(frame)
    y, mapping, positive = map_labels(frame[args.target], args.target, args.positive_label)
    kept = y.notna().to_numpy()
    missing = int(read - kept.sum())
    if read and missing > args.max_dropped_share * read:
        raise Refusal(
            args.target,
            f"{missing} of {read} rows ({missing / read:.1%}) have no label",
            f"at most {args.max_dropped_share:.1%} of rows dropped (model.max_dropped_share)",
        )
    frame, y = frame[kept].reset_index(drop=True), y[kept].astype(int).reset_index(drop=True)
    counts = {"read": read, "kept": int(kept.sum()), "dropped": {NO_LABEL: missing}}
    print(
        f"preprocess: read {read} rows from {shown(sources)}; kept {len(y)}, dropped {missing} ({NO_LABEL})"
    )
    if not args.segment_column:
        return split_table(frame, y, args, mapping, positive, counts, sources)
    outputs = {}
    for value, positions in segment_rows(frame, args).items():
        print(f"preprocess: segment {value}: {len(positions)} rows")
        part = frame.iloc[positions].drop(columns=[args.segment_column]).reset_index(drop=True)
        labels = y.iloc[positions].reset_index(drop=True)
        counts = {"read": len(positions), "kept": len(positions), "dropped": {NO_LABEL: 0}}
        segment = {"column": args.segment_column, "value": value}
        try:
            written = split_table(part, labels, args, mapping, positive, counts, sources, segment)
        except Refusal as refusal:
            raise Refusal(
                f"segment {value!r} ({args.segment_column})",
                f"{refusal.what}: {refusal.problem}",
                f"{refusal.expected}, in every listed segment (model.segments)",
            ) from None
        outputs.update(
            {f"{path.split('/')[0]}/{value}/{path.split('/')[1]}": text for path, text in written.items()}
        )
    return outputs


def segment_rows(frame: pd.DataFrame, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Row positions per listed segment value (`str(value).strip()`); a row of any other value,
    or of none, is a Refusal naming those values and their counts."""
    column = args.segment_column
    if column == args.target or column not in frame.columns:
        raise Refusal(
            column,
            "is the target" if column == args.target else f"not a column ({shown(frame.columns)})",
            "the segment column (model.segments.column) to be a column of the table besides the target",
        )
    values = frame[column].map(lambda v: "" if pd.isna(v) else str(v).strip())
    unknown = values[~values.isin(args.segment)].map(lambda v: v or "(missing)").value_counts()
    if len(unknown):
        listed = ", ".join(f"{value!r} ({count} rows)" for value, count in sorted(unknown.items()))
        raise Refusal(
            column,
            f"{int(unknown.sum())} rows hold values not listed in model.segments.values: {listed}",
            f"every row's value one of {', '.join(args.segment)} (list the value, or drop those rows)",
        )
    rows = {value: np.flatnonzero((values == value).to_numpy()) for value in args.segment}
    empty = [value for value, positions in rows.items() if not len(positions)]
    if empty:
        raise Refusal(
            column,
            f"no rows of the listed segment{'s' if len(empty) > 1 else ''} {', '.join(empty)}",
            "rows of every value in model.segments.values (remove a value with no data)",
        )
    return rows


def split_table(
    frame: pd.DataFrame,
    y: pd.Series,
    args: argparse.Namespace,
    mapping: dict,
    positive: str,
    counts: dict,
    sources: list[str],
    segment: dict | None = None,
) -> dict[str, str]:
    """One table's features, split and files: {<split>/<file>: text}."""
    features, dropped = choose_features(frame, args)
    if segment is not None:
        dropped[segment["column"]] = "segment"
    rows = stratified_split(y, args, args.target, mapping)
    names = [name for name, _ in features]
    train = frame.iloc[rows["train"]]
    schema = {
        "target": args.target,
        "positive_label": positive,
        "label_mapping": mapping,
        "features": [
            {
                "name": n,
                "type": t,
                **({"categories": sorted(set(train[n].dropna().tolist()))} if t == "categorical" else {}),
            }
            for n, t in features
        ],
        "dropped_columns": dropped,
        "rows": {**counts, **{split: len(rows[split]) for split in SPLITS}},
        "sources": sources,
        **({"segment": segment} if segment is not None else {}),
    }
    outputs = {}
    for split in SPLITS:
        part = frame.iloc[rows[split]][names].reset_index(drop=True)
        part.insert(0, args.target, y.iloc[rows[split]].to_numpy())
        outputs[f"{split}/{split}.csv"] = part.to_csv(index=False)
        outputs[f"{split}/schema.json"] = json.dumps(schema, indent=2) + "\n"
    kinds = [t for _, t in features]
    dropped_text = ", ".join(f"{c} ({r})" for c, r in dropped.items()) or "none"
    print(
        f"preprocess: features: {kinds.count('numeric')} numeric, {kinds.count('categorical')} categorical; "
        f"dropped columns: {dropped_text}"
    )
    print(
        "preprocess: rows: "
        + ", ".join(f"{s} {len(rows[s])} ({int(y.iloc[rows[s]].sum())} positive)" for s in SPLITS)
    )
    return outputs


def leave_message(path: Path, line: str) -> None:
    """Also write the refusal where SageMaker reads a processing job's ExitMessage (first 1 KB)."""
    try:
        if path.parent.parent.is_dir():
            path.parent.mkdir(exist_ok=True)
            path.write_text(line[:1000] + "\n", encoding="utf-8")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    try:
        outputs = prepare(check(args))
    except Refusal as refusal:
        print(refusal, file=sys.stderr)
        leave_message(args.message_file, str(refusal))
        return 1
    for relative, text in outputs.items():
        path = args.output_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    where = f" (one folder per segment: {', '.join(args.segment)})" if args.segment else ""
    print(
        f"preprocess: wrote train/, validation/, test/ (CSV and schema.json){where} under {args.output_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
