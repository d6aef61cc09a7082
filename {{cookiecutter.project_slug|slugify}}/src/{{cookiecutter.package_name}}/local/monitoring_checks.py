"""A capture-like sample checked against a baseline, with SageMaker Model Monitor's constraint checks.

check() takes the records of a capture file (monitoring_capture.read_capture), reads only
constraints.json and the baseline's statistics.json and returns constraint_violations.json's
`violations`, one per feature and check:

- missing_column_check: a baseline feature absent from records; extra_column_check: a column
  the baseline does not have.
- completeness_check: the share of non-null values is below the constraint's completeness c minus
  the sampling tolerance z * sqrt(c * (1 - c) * (1/n + 1/m)) for the baseline's n and the sample's
  m records (0 for a feature the baseline always had: then one gap is a violation).
- data_type_check: the share of present values of the baseline's type (an Integral value counts
  as Fractional too; String accepts anything) is below datatype_check_threshold.
- categorical_values_check: the share of a String feature's values within the baseline's
  domains is below domain_content_threshold.
- baseline_drift_check: the L-infinity distance between the baseline's distribution and the
  sample's (numeric: the largest gap between the two cumulative distribution functions;
  categorical: the largest gap between the two shares of a value) exceeds comparison_threshold.
  With comparison_method Simple that is the rule; Robust also requires the distance to exceed
  the two-sample Kolmogorov-Smirnov critical value for the two sample sizes, so a small sample
  does not report noise as drift.

The sample size n of those tests is the effective size of the records (Kish: (sum w)^2 / sum w^2,
w the number of times each distinct record occurs): the same rows sent again add no evidence.
The tests' significance is SIGNIFICANCE for the whole table (divided among the features checked).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from .monitoring_capture import Sample, record_key
from .monitoring_stats import INTEGRAL, NUMERIC_TYPES, STRING, common, number, sketch_items, text, value_type

SIGNIFICANCE = 0.01


def effective_size(keys: Sequence[Any]) -> float:
    """Kish's effective sample size of records given as hashable keys (duplicates count once each
    time they occur in sum w, and squared in sum w^2)."""
    weights = Counter(keys).values()
    squares = sum(w * w for w in weights)
    return sum(weights) ** 2 / squares if squares else 0.0


def ks_bound(n: float, m: float, alpha: float) -> float:
    """The two-sample Kolmogorov-Smirnov critical distance for sizes n and m at significance alpha."""
    if n <= 0 or m <= 0:
        return math.inf
    return math.sqrt(-0.5 * math.log(alpha / 2)) * math.sqrt((n + m) / (n * m))


def numeric_distance(baseline: Sequence[tuple[float, float]], current: Sequence[float]) -> float:
    """The largest gap between the cumulative distribution functions of weighted baseline items
    and current values."""
    cur = sorted(current)
    total = sum(w for _, w in baseline)
    i = j = 0
    below_base = 0.0
    best = 0.0
    for point in sorted({v for v, _ in baseline} | set(cur)):
        while i < len(baseline) and baseline[i][0] <= point:
            below_base += baseline[i][1]
            i += 1
        while j < len(cur) and cur[j] <= point:
            j += 1
        best = max(best, abs(below_base / total - j / len(cur)))
    return best


def categorical_distance(baseline: Mapping[str, float], current: Sequence[str]) -> float:
    """The largest gap between the share of any value in the baseline and in the sample."""
    total = sum(baseline.values())
    counts = Counter(current)
    return max(
        abs(baseline.get(v, 0) / total - counts.get(v, 0) / len(current)) for v in {*baseline, *counts}
    )


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


@dataclass
class Context:
    """What every feature's checks share: the thresholds and the sample's records."""

    config: Mapping[str, Any]
    records: list[dict[str, Any]]
    keys: list[str]
    alpha: float

    @property
    def drift(self) -> Mapping[str, Any]:
        return self.config.get("distribution_constraints") or {}


def _drift(ctx: Context, feature: Mapping[str, Any], base: Mapping[str, Any], values: list, size: float):
    """A baseline_drift_check violation of one feature, or None."""
    kind = feature["inferred_type"]
    if kind in NUMERIC_TYPES:
        current = [n for n in map(number, values) if n is not None]
        kll = (base.get("numerical_statistics") or {}).get("distribution", {}).get("kll")
        if not current or not kll:
            return None
        items = sketch_items(kll["sketch"])
        distance, n = numeric_distance(items, current), sum(w for _, w in items)
    elif kind == STRING:
        current = [text(v) for v in values if value_type(v) is not None]
        buckets = (base.get("string_statistics") or {}).get("distribution", {}).get("categorical")
        if not current or not buckets or not buckets["buckets"]:
            return None
        shares = {b["value"]: float(b["count"]) for b in buckets["buckets"]}
        distance, n = categorical_distance(shares, current), sum(shares.values())
    else:
        return None
    threshold = float(ctx.drift.get("comparison_threshold", 0.1))
    method = ctx.drift.get("comparison_method", "Robust")
    bound = ks_bound(n, size, ctx.alpha)
    if distance <= threshold or (method == "Robust" and distance <= bound):
        return None
    robust = f", and the bound {bound:.4f} for {n:g} and {size:.1f} records" if method == "Robust" else ""
    return _violation(
        feature["name"],
        "baseline_drift_check",
        f"Baseline drift distance: {distance:.4f} exceeds threshold: {threshold:g} ({method}{robust}).",
    )


def _feature_checks(ctx: Context, feature: Mapping[str, Any], base: Mapping[str, Any]) -> list[dict]:
    name, kind = feature["name"], feature["inferred_type"]
    having = [(r[name], k) for r, k in zip(ctx.records, ctx.keys, strict=True) if name in r]
    values = [v for v, _ in having]
    present = [(v, k) for v, k in having if value_type(v) is not None]
    found: list[dict] = []
    baseline_completeness = float(feature.get("completeness", 0.0))
    observed = len(present) / len(values)
    counts = common(base)
    n = counts["num_present"] + counts["num_missing"]
    size = effective_size([k for _, k in having])
    z = NormalDist().inv_cdf(1 - ctx.alpha)
    spread = baseline_completeness * (1 - baseline_completeness) * (1 / max(n, 1) + 1 / size)
    tolerance = z * math.sqrt(spread)
    if observed < baseline_completeness - tolerance:
        found.append(
            _violation(
                name,
                "completeness_check",
                f"Data completeness requirement is not met. Expected: {baseline_completeness:.1%} "
                f"(tolerance {tolerance:.1%}). Observed: only {observed:.1%} of data is non-null.",
            )
        )
    if not present:
        return found
    if kind in NUMERIC_TYPES:
        accepted = {INTEGRAL} if kind == INTEGRAL else set(NUMERIC_TYPES)
        share = sum(value_type(v) in accepted for v, _ in present) / len(present)
        threshold = float(ctx.config.get("datatype_check_threshold", 1.0))
        if share < threshold:
            found.append(
                _violation(
                    name,
                    "data_type_check",
                    f"Data type match requirement is not met. Expected data type: {kind}, "
                    f"Expected match: {threshold:.1%}. Observed: only {share:.1%} of data is {kind}.",
                )
            )
    domains = (feature.get("string_constraints") or {}).get("domains")
    if kind == STRING and domains is not None:
        known = set(domains)
        unknown = sorted({text(v) for v, _ in present} - known)
        share = sum(text(v) in known for v, _ in present) / len(present)
        threshold = float(ctx.config.get("domain_content_threshold", 1.0))
        if share < threshold:
            found.append(
                _violation(
                    name,
                    "categorical_values_check",
                    f"Value match requirement is not met. Expected match: {threshold:.1%}. Observed: "
                    f"only {share:.1%} of data is within the baseline domains; unknown: {unknown[:5]}.",
                )
            )
    if ctx.drift.get("perform_comparison", "Enabled") == "Enabled":
        drift = _drift(ctx, feature, base, [v for v, _ in present], effective_size([k for _, k in present]))
        if drift:
            found.append(drift)
    return found


def check(constraints: Mapping[str, Any], statistics: Mapping[str, Any], sample: Sample) -> list[dict]:
    """constraint_violations.json's violations of a sample (ValueError for a sample without records)."""
    records = sample.records
    if not records:
        raise ValueError("the sample holds no record with a value")
    features = constraints["features"]
    names = [f["name"] for f in features]
    config = constraints.get("monitoring_config") or {}
    if config.get("evaluate_constraints", "Enabled") != "Enabled":
        return []
    keys = [record_key(r) for r in records]
    ctx = Context(config, records, keys, SIGNIFICANCE / max(1, len(features)))
    base = {f["name"]: f for f in statistics["features"]}
    violations: list[dict] = []
    for name in names:
        absent = sum(name not in r for r in records)
        if absent:
            violations.append(
                _violation(
                    name,
                    "missing_column_check",
                    f"Column is missing from {absent} of {len(records)} records "
                    f"(the baseline has {len(names)} columns).",
                )
            )
    known = set(names)
    extra = Counter(k for r in records for k in r if k not in known)
    for name, count in sorted(extra.items()):
        violations.append(
            _violation(
                name,
                "extra_column_check",
                f"Column {name!r} is not in the baseline ({count} of {len(records)} records have it).",
            )
        )
    for feature in features:
        if any(feature["name"] in r for r in records):
            violations.extend(_feature_checks(ctx, feature, base.get(feature["name"], {})))
    return violations
