"""Data-quality statistics and suggested constraints in SageMaker Model Monitor's own formats.

statistics(): statistics.json ("Schema for Statistics"): dataset.item_count, and per feature
name, inferred_type and numerical_statistics (common.num_present/num_missing, mean, sum, std_dev,
min, max, distribution.kll with 10 buckets and a KLL-style sketch) or string_statistics
(common, distinct_count, distribution.categorical.buckets).
suggest_constraints(): constraints.json ("Schema for Constraints"): per feature inferred_type,
completeness (the observed share of non-null values), num_constraints.is_non_negative,
string_constraints.domains for a small number of distinct values; monitoring_config with the
thresholds given (config `monitoring.constraints`).

A value's type: a gap (empty cell, JSON null, a non-finite number) is missing; a number, or text
that reads as one, with no fractional part (3, "3", 3.0) is Integral, another number
Fractional, anything else String. A feature the data schema calls numeric is Integral when every
present value is, else Fractional; any other feature is String; one with no value at all is
Unknown. The sketch keeps every value while there are at most SKETCH_K of them, else the values at
one level of a KLL sketch (each standing for 2**level values), so the distribution distance
reads the baseline from statistics.json alone. Standard library only.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
NUMERIC_TYPES = (INTEGRAL, FRACTIONAL)
BUCKETS = 10
SKETCH_K = 2048
SKETCH_C = 0.64
# string_constraints.domains lists the observed values of a String feature with at most this many.
DOMAIN_LIMIT = 20

Row = Mapping[str, Any]


def value_type(value: Any) -> str | None:
    """Integral, Fractional or String for a raw value; None for a gap."""
    if value is None or isinstance(value, bool):
        return None if value is None else STRING
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return STRING
    if not math.isfinite(number):
        return None
    return INTEGRAL if number.is_integer() else FRACTIONAL


def number(value: Any) -> float | None:
    """The value as a finite float, or None when it is a gap or not a number."""
    kind = value_type(value)
    return float(value) if kind in NUMERIC_TYPES else None


def text(value: Any) -> str:
    """A present value as the category it stands for: text as written (trimmed), a number sent
    as a number as its text (3.0 as "3", as a CSV cell would carry it)."""
    if isinstance(value, str | bool):
        return str(value).strip()
    return str(int(value)) if value_type(value) == INTEGRAL else repr(float(value))


def read_table(csv_path: Path, schema_path: Path) -> tuple[list[str], dict[str, bool], list[dict[str, str]]]:
    """(features in training order, {feature: numeric?}, rows) of a split preprocess wrote: its CSV
    (the target column first, then the features) and schema.json; a gap is None."""
    schema = json.loads(schema_path.read_text())
    kinds = {str(f["name"]): f.get("type") == "numeric" for f in schema["features"]}
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        absent = [name for name in kinds if name not in header]
        if absent:
            raise ValueError(f"{csv_path}: no column {absent[0]!r} of {schema_path.name}")
        rows = [{name: (cells[name] if cells[name] != "" else None) for name in kinds} for cells in reader]
    return list(kinds), kinds, rows


def inferred_type(values: Iterable[Any], numeric: bool) -> str:
    kinds = {value_type(v) for v in values} - {None}
    if not kinds:
        return UNKNOWN
    if not numeric:
        return STRING
    return INTEGRAL if kinds == {INTEGRAL} else FRACTIONAL


def sketch(values: Sequence[float]) -> dict[str, Any]:
    """A KLL-style sketch of sorted values: level h of `data` holds items weighing 2**h each."""
    if len(values) <= SKETCH_K:
        data = [list(values)]
    else:
        level = math.ceil(math.log2(len(values) / SKETCH_K))
        step = 2**level
        data = [[] for _ in range(level)] + [list(values[step // 2 :: step])]
    return {"parameters": {"c": SKETCH_C, "k": SKETCH_K}, "data": data}


def sketch_items(sketch_doc: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(value, weight) pairs of a sketch, sorted by value."""
    items = [(float(v), float(2**level)) for level, values in enumerate(sketch_doc["data"]) for v in values]
    return sorted(items)


def _buckets(values: Sequence[float]) -> list[dict[str, float]]:
    low, high = values[0], values[-1]
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": len(values)}]
    width = (high - low) / BUCKETS
    counts = [0] * BUCKETS
    for v in values:
        counts[min(int((v - low) / width), BUCKETS - 1)] += 1
    return [
        {"lower_bound": low + i * width, "upper_bound": low + (i + 1) * width, "count": counts[i]}
        for i in range(BUCKETS)
    ]


def feature_statistics(name: str, kind: str, values: Sequence[Any]) -> dict[str, Any]:
    """One entry of statistics.json `features` for the values of one feature (gaps included)."""
    if kind in NUMERIC_TYPES:
        numbers = sorted(n for n in map(number, values) if n is not None)
        common = {"num_present": len(numbers), "num_missing": len(values) - len(numbers)}
        stats: dict[str, Any] = {"common": common}
        if numbers:
            total = math.fsum(numbers)
            mean = total / len(numbers)
            variance = math.fsum((n - mean) ** 2 for n in numbers) / len(numbers)
            stats.update(mean=mean, sum=total, std_dev=math.sqrt(variance), min=numbers[0], max=numbers[-1])
            stats["distribution"] = {"kll": {"buckets": _buckets(numbers), "sketch": sketch(numbers)}}
        return {"name": name, "inferred_type": kind, "numerical_statistics": stats}
    present = [text(v) for v in values if value_type(v) is not None]
    counts = Counter(present)
    return {
        "name": name,
        "inferred_type": kind,
        "string_statistics": {
            "common": {"num_present": len(present), "num_missing": len(values) - len(present)},
            "distinct_count": len(counts),
            "distribution": {
                "categorical": {"buckets": [{"value": v, "count": c} for v, c in sorted(counts.items())]}
            },
        },
    }


def statistics(features: Sequence[str], kinds: Mapping[str, str], rows: Sequence[Row]) -> dict[str, Any]:
    """statistics.json of rows; kinds gives each feature's inferred type."""
    return {
        "version": 0,
        "dataset": {"item_count": len(rows)},
        "features": [feature_statistics(f, kinds[f], [row.get(f) for row in rows]) for f in features],
    }


def common(feature: Mapping[str, Any]) -> Mapping[str, Any]:
    stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    return stats.get("common") or {"num_present": 0, "num_missing": 0}


def suggest_constraints(stats: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """constraints.json for a baseline's statistics.json and the monitoring thresholds."""
    features = []
    for feature in stats["features"]:
        counts = common(feature)
        total = counts["num_present"] + counts["num_missing"]
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": counts["num_present"] / total if total else 0.0,
        }
        if feature["inferred_type"] in NUMERIC_TYPES:
            low = feature["numerical_statistics"].get("min", 0.0)
            entry["num_constraints"] = {"is_non_negative": low >= 0}
        elif feature["inferred_type"] == STRING:
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            if len(buckets) <= DOMAIN_LIMIT:
                entry["string_constraints"] = {"domains": [b["value"] for b in buckets]}
        features.append(entry)
    return {
        "version": 0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": settings["datatype_check_threshold"],
            "domain_content_threshold": settings["domain_content_threshold"],
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": settings["comparison_threshold"],
                "comparison_method": settings["comparison_method"],
            },
        },
    }


def baseline(csv_path: Path, schema_path: Path, settings: Mapping[str, Any]) -> tuple[dict, dict]:
    """(statistics.json, constraints.json) of a split preprocess wrote (the train split)."""
    features, numeric, rows = read_table(csv_path, schema_path)
    kinds = {f: inferred_type((row[f] for row in rows), numeric[f]) for f in features}
    stats = statistics(features, kinds, rows)
    return stats, suggest_constraints(stats, settings)
