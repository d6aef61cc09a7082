"""The rehearsal report's evaluation, hyperparameter and data sections (Markdown and SVG files).

- `read_evaluation`: evaluation.json in SageMaker's model-quality layout: the scalar metrics of
  `binary_classification_metrics` (`<name>.value`), its `confusion_matrix` (actual -> predicted
  counts), `receiver_operating_characteristic_curve` and `precision_recall_curve` (each also
  accepted at the top level of the file).
- `write_charts`: confusion_matrix.svg, roc_curve.svg, precision_recall_curve.svg (charts.py).
- `evaluation_markdown`, `hyperparameters_markdown`, `data_markdown`: the report's sections; the
  data summary comes from the schema.json preprocess writes (rows, dropped, label mapping,
  features).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .charts import confusion_svg, curve_svg

CHARTS = {
    "confusion": "confusion_matrix.svg",
    "roc": "roc_curve.svg",
    "pr": "precision_recall_curve.svg",
}
METRICS = "binary_classification_metrics"
LABEL_CHARS = 12  # class names are cut to this many characters in the confusion chart


@dataclass
class Evaluation:
    metrics: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] | None = None  # [actual][predicted]
    roc: tuple[list[float], list[float]] | None = None  # false positive rates, true positive rates
    pr: tuple[list[float], list[float]] | None = None  # recalls, precisions
    problems: list[str] = field(default_factory=list)


def _section(report: dict[str, Any], name: str) -> Any:
    metrics = report.get(METRICS)
    if isinstance(metrics, dict) and name in metrics:
        return metrics[name]
    return report.get(name)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise ValueError(f"{value!r} is not a count")
    return int(value)


def read_evaluation(path: Path) -> Evaluation:
    """What the report shows of evaluation.json; a part it cannot read is named in `problems`."""
    found = Evaluation()
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        found.problems.append(f"{path.name} cannot be read: {exc}")
        return found
    if not isinstance(report, dict):
        found.problems.append(f"{path.name} is not a JSON object")
        return found
    for name, entry in (report.get(METRICS) or {}).items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.metrics[name] = float(value)
    matrix = _section(report, "confusion_matrix")
    if matrix is not None:
        try:
            found.confusion = [[_count(matrix[a][p]) for p in ("0", "1")] for a in ("0", "1")]
        except (KeyError, TypeError, ValueError) as exc:
            found.problems.append(f"confusion_matrix is not actual -> predicted counts for 0 and 1 ({exc})")
    for attr, name, keys in (
        ("roc", "receiver_operating_characteristic_curve", ("false_positive_rates", "true_positive_rates")),
        ("pr", "precision_recall_curve", ("recalls", "precisions")),
    ):
        curve = _section(report, name)
        if isinstance(curve, dict) and all(isinstance(curve.get(k), list) for k in keys):
            setattr(found, attr, (curve[keys[0]], curve[keys[1]]))
        elif curve is not None:
            found.problems.append(f"{name} lacks the lists {', '.join(keys)}")
    return found


def class_names(schema: dict[str, Any] | None) -> list[str]:
    """["<original label> (0)", "<original label> (1)"] from the schema's label mapping (just "0"
    and "1" when the labels were 0 and 1 already)."""
    mapping = (schema or {}).get("label_mapping") or {}
    names = {v: str(k) for k, v in mapping.items() if v in (0, 1)} if isinstance(mapping, dict) else {}
    return [f"{names[i]} ({i})" if names.get(i, str(i)) != str(i) else str(i) for i in (0, 1)]


def write_charts(evaluation: Evaluation, out: Path, labels: list[str]) -> dict[str, str]:
    """Write the charts evaluation.json has data for; {chart: file name}. A curve that cannot be
    drawn is added to evaluation.problems instead."""
    written: dict[str, str] = {}
    documents: dict[str, str] = {}
    if evaluation.confusion is not None:
        short = [label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…" for label in labels]
        documents["confusion"] = confusion_svg("Confusion matrix (test split)", evaluation.confusion, short)
    curves = {
        "roc": ("ROC curve", "false positive rate", "true positive rate", True),
        "pr": ("Precision-recall curve", "recall", "precision", False),
    }
    for name, (title, x_label, y_label, diagonal) in curves.items():
        data = getattr(evaluation, name)
        if data is None:
            continue
        if name == "roc" and "auc" in evaluation.metrics:
            title = f"{title} (AUC {evaluation.metrics['auc']:.3f})"
        try:
            documents[name] = curve_svg(title, data[0], data[1], x_label, y_label, diagonal)
        except ValueError as exc:
            evaluation.problems.append(f"{title}: {exc}")
    for name, document in documents.items():
        (out / CHARTS[name]).write_text(document)
        written[name] = CHARTS[name]
    return written


def evaluation_markdown(evaluation: Evaluation, charts: dict[str, str], labels: list[str]) -> list[str]:
    lines = ["### Evaluation (held-out test split)", ""]
    if evaluation.metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4f} |" for name, value in evaluation.metrics.items()]
        lines.append("")
    if evaluation.confusion is not None:
        (tn, fp), (fn, tp) = evaluation.confusion
        lines += [
            "Confusion matrix (rows: actual, columns: predicted):",
            "",
            f"| | predicted {_cell(labels[0])} | predicted {_cell(labels[1])} |",
            "|---|---|---|",
            f"| actual {_cell(labels[0])} | {tn} | {fp} |",
            f"| actual {_cell(labels[1])} | {fn} | {tp} |",
            "",
        ]
    titles = {"confusion": "Confusion matrix", "roc": "ROC curve", "pr": "Precision-recall curve"}
    if charts:
        lines += [" ".join(f"![{titles[name]}]({file})" for name, file in charts.items()), ""]
    if not (evaluation.metrics or evaluation.confusion or charts):
        lines += ["No evaluation: the run stopped before the evaluate step.", ""]
    lines += [f"- not shown: {problem}" for problem in evaluation.problems]
    return lines + ([""] if evaluation.problems else [])


def hyperparameters_markdown(framework: str, params: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    lines = [
        "### Hyperparameters",
        "",
        f"Framework {framework}.",
        "",
        "| name | value | from |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {value} | {'--set' if name in overrides else 'config'} |"
        for name, value in params.items()
    ]
    return [*lines, ""]


def data_markdown(schema: dict[str, Any] | None) -> list[str]:
    """Rows, dropped rows and columns, the label mapping and the features of schema.json."""
    lines = ["### Data", ""]
    if not schema:
        return [*lines, "No schema.json: the run stopped before preprocess wrote one.", ""]
    rows = schema.get("rows") or {}
    dropped = rows.get("dropped") or {}
    dropped_total = sum(v for v in dropped.values() if isinstance(v, int)) if isinstance(dropped, dict) else 0
    reasons = ", ".join(f"{why} {n}" for why, n in dropped.items() if n) if isinstance(dropped, dict) else ""
    if rows:
        lines.append(
            f"Rows: {rows.get('read', '?')} read, {rows.get('kept', '?')} kept, {dropped_total} dropped"
            + (f" ({reasons})" if reasons else "")
            + f"; split {rows.get('train', '?')} train / {rows.get('validation', '?')} validation"
            f" / {rows.get('test', '?')} test."
        )
    if schema.get("sources"):
        lines.append(f"Sources: {', '.join(str(s) for s in schema['sources'])}.")
    mapping = schema.get("label_mapping") or {}
    lines.append(
        f"Target `{schema.get('target', '?')}`"
        + (
            f", positive label `{schema['positive_label']}`"
            if schema.get("positive_label") is not None
            else ""
        )
        + (
            "; label mapping: " + ", ".join(f"`{k}` -> {v}" for k, v in mapping.items())
            if isinstance(mapping, dict) and mapping
            else ""
        )
        + "."
    )
    dropped_columns = schema.get("dropped_columns") or {}
    if isinstance(dropped_columns, dict) and dropped_columns:
        lines.append(
            "Dropped columns: " + ", ".join(f"`{c}` ({why})" for c, why in dropped_columns.items()) + "."
        )
    features = [f for f in schema.get("features") or [] if isinstance(f, dict)]
    lines += ["", f"{len(features)} features:", "", "| feature | type | categories |", "|---|---|---|"]
    for feature in features:
        categories = feature.get("categories") or []
        shown = ", ".join(str(c) for c in categories[:8]) + (", …" if len(categories) > 8 else "")
        count = f" ({len(categories)})" if categories else ""
        lines.append(
            f"| {_cell(feature.get('name', '?'))} | {feature.get('type', '?')} | {_cell(shown)}{count} |"
        )
    return [*lines, ""]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
