"""Evaluate step: score the packaged model on the test set and write evaluation.json.

Runs in a SageMaker processing container (model.tar.gz under /opt/ml/processing/model,
test CSV under /opt/ml/processing/test, report to /opt/ml/processing/evaluation) and
locally with those directories given as arguments. The model is loaded through the
inference handler packed in model.tar.gz (code/inference.py and its code/tabular.py), and the
test rows go through the same conversion as training data and endpoint requests, so
evaluation exercises exactly what will be served.

evaluation.json follows SageMaker's model quality metrics format, every entry under
"binary_classification_metrics": auc, accuracy, precision, recall, f1 as
{"value": ..., "standard_deviation": "NaN"} (at the 0.5 threshold), then
confusion_matrix {"0": {"0": n, "1": n}, "1": {...}} (actual -> predicted),
receiver_operating_characteristic_curve {"false_positive_rates": [...], "true_positive_rates": [...]}
and precision_recall_curve {"precisions": [...], "recalls": [...]}, at most CURVE_POINTS points
each, from the strictest threshold to the most lenient. The pipeline's ConditionStep reads
binary_classification_metrics.<metric>.value from it; the registry shows the rest.

The champion (the prod version released last, `--champion-version <ARN>`, its model.tar.gz under
/opt/ml/processing/champion) is scored on the same test rows, through its own handler and its own
conversion (it may have been trained on another schema), and evaluation.json gains
"champion_comparison": {"metric", "candidate", "champion" (null without one), "champion_version"
("none" without one), "tolerance", "required" (champion - tolerance, 0.0 without one), "passed"}.
The gate's second condition is candidate >= required. predictions.csv beside it holds the
candidate's probability,prediction,label per test row (the model-quality baseline's input).

For one segment's model (`--segment <value> --threshold <t>`, config model.segments) evaluation.json
also has "segment": {"name", "threshold", "failure"}: failure is "" when the candidate reaches the
threshold and the required score, else "<segment>: <metric> <candidate> below ..." with the numbers;
the pipeline's failure message joins every segment's.

The metrics are computed with numpy alone (same values as sklearn.metrics, which the tests
check), so evaluating an XGBoost model never imports scikit-learn. The archive is extracted
with tarfile's "data" filter where the Python has it (3.12+, and 3.8.17+/3.9.17+/3.10.12+/
3.11.4+); on an older Python every member is checked first (regular files and directories
only, no absolute path, no "..", nothing outside the target directory). It exits non-zero
when the archive, the test CSV or a safe archive member is missing, or a test value is unusable.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

BASE = Path("/opt/ml/processing")
CURVE_POINTS = 200  # per curve in evaluation.json; more distinct scores are thinned evenly
METRICS = ("auc", "accuracy", "precision", "recall", "f1")


def read_labels(table, target: str, path: Path) -> np.ndarray:
    """The 0/1 target column of a test table of text cells; SystemExit naming the file otherwise."""
    if target not in table.columns:
        raise SystemExit(f"evaluate: {path.name} has no target column {target!r}")
    values = table[target]
    bad = ~values.isin(["0", "1"])
    if bad.any():
        raise SystemExit(
            f"evaluate: {path.name}: target column {target!r} holds {values[bad].iloc[0]!r}; expected 0 or 1"
        )
    return values.astype(int).to_numpy()


def load_handler(model_dir: Path, name: str = "candidate"):
    script = model_dir / "code" / "inference.py"
    spec = importlib.util.spec_from_file_location(f"packaged_inference_{name}", script)
    if not script.is_file() or spec is None or spec.loader is None:
        raise SystemExit(f"evaluate: no code/inference.py in the model package at {model_dir}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unsafe_member(member: tarfile.TarInfo, dest: Path) -> str:
    """Why extracting member under dest would be unsafe, or "" when it is a plain file or
    directory that stays inside dest."""
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or directory (links and devices are refused)"
    name = PurePosixPath(member.name)
    if name.is_absolute():
        return "has an absolute path"
    if ".." in name.parts:
        return 'has a ".." component'
    root = dest.resolve()
    target = (root / name).resolve()
    if target != root and root not in target.parents:  # Path.is_relative_to needs Python 3.9
        return "resolves outside the target directory"
    return ""


def has_extraction_filters() -> bool:
    """Whether this Python's tarfile takes extractall(filter=...)."""
    return hasattr(tarfile, "data_filter")


def safe_extract(archive: Path, dest: Path, use_data_filter: bool | None = None) -> None:
    """Extract a tar archive under dest without letting any member escape it.

    use_data_filter: None = tarfile's "data" filter when this Python has it; False forces the
    member-by-member check used on older Pythons. It raises SystemExit naming the first unsafe
    member (nothing is extracted then).
    """
    if use_data_filter is None:
        use_data_filter = has_extraction_filters()
    with tarfile.open(archive) as tar:
        if use_data_filter:
            try:
                tar.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                raise SystemExit(f"evaluate: unsafe member in {archive}: {exc}") from exc
            return
        members = tar.getmembers()
        for member in members:
            reason = _unsafe_member(member, dest)
            if reason:
                raise SystemExit(f"evaluate: unsafe member {member.name!r} in {archive}: {reason}")
            member.mode &= 0o755  # no setuid/setgid/sticky bits, no group/other write
        # The members were checked above; Pythons that know filters would otherwise warn.
        trusted = {"filter": "fully_trusted"} if has_extraction_filters() else {}
        tar.extractall(dest, members=members, **trusted)  # noqa: S202


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for tied scores)."""
    y = np.asarray(y_true) == 1
    score = np.asarray(score, dtype=float)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes in y_true; the test set has only one")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1  # 1-based rank of each distinct score's first row
    ranks = (first_rank + (counts - 1) / 2.0)[inverse.ravel()]
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _thin(points: int) -> np.ndarray:
    """Indices of at most CURVE_POINTS of `points` curve points, evenly spread, ends kept."""
    if points <= CURVE_POINTS:
        return np.arange(points)
    return np.unique(np.linspace(0, points - 1, CURVE_POINTS).round().astype(int))


def curves(y_true: np.ndarray, score: np.ndarray) -> dict:
    """ROC and precision-recall curves: one point per distinct score used as the threshold
    (score >= threshold is positive), from the strictest to the most lenient, the ROC curve from
    (0, 0) and the precision-recall curve from (recall 0, precision 1), thinned to CURVE_POINTS."""
    y = np.asarray(y_true) == 1
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    ranked_scores, ranked = np.asarray(score, dtype=float)[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked_scores)), len(ranked) - 1]
    tp = np.cumsum(ranked)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    positives, negatives = int(y.sum()), int((~y).sum())
    fpr = np.r_[0.0, fp / max(negatives, 1)]
    tpr = recall = np.r_[0.0, tp / max(positives, 1)]
    precision = np.r_[1.0, tp / (tp + fp)]
    keep = _thin(len(fpr))

    def listed(values: np.ndarray) -> list:
        return [round(float(v), 6) for v in values[keep]]

    return {
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": listed(fpr),
            "true_positive_rates": listed(tpr),
        },
        "precision_recall_curve": {"precisions": listed(precision), "recalls": listed(recall)},
    }


def metrics(y_true: np.ndarray, probability: np.ndarray) -> dict:
    """SageMaker model-quality metrics of a binary classifier at the 0.5 threshold. It raises
    ValueError when y_true holds values other than 0 and 1 or the lengths differ."""
    y = np.asarray(y_true)
    probability = np.asarray(probability, dtype=float)
    if y.shape != probability.shape:
        raise ValueError(f"{len(y)} labels but {len(probability)} probabilities")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got {sorted(set(y.tolist()))[:5]}")
    truth = y == 1
    predicted = probability >= 0.5
    tp = int((truth & predicted).sum())
    fp = int((~truth & predicted).sum())
    fn = int((truth & ~predicted).sum())
    values = {
        "auc": roc_auc(y, probability),
        "accuracy": float((truth == predicted).mean()),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }
    section = {name: {"value": round(float(v), 6), "standard_deviation": "NaN"} for name, v in values.items()}
    tn = int((~truth & ~predicted).sum())
    section["confusion_matrix"] = {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    section.update(curves(y, probability))
    return {"binary_classification_metrics": section}


def score(archive: Path, tests: list[Path], dest: Path, name: str):
    """Extract a model archive under dest, load it through its own handler and score every test
    file with its own conversion: (model, probabilities in file and row order, per-file tables)."""
    dest.mkdir(parents=True, exist_ok=True)
    safe_extract(archive, dest)
    handler = load_handler(dest, name)
    model = handler.model_fn(str(dest))
    tables, probability = [], []
    for path in tests:
        table = handler.tabular.read_csv(path)
        try:
            converted = model.convert(table)
        except handler.tabular.DataError as exc:
            raise SystemExit(f"evaluate: {name} model, {path.name}: {exc}") from None
        tables.append(table)
        probability.append(model.predict_proba(converted.frame))
    return model, np.concatenate(probability), tables


def champion_flipped(candidate: dict, champion: dict, version: str) -> bool:
    """Whether the champion's label 1 is the candidate's label 0 (a changed positive label);
    SystemExit when the two label mappings name different values."""
    if not champion or champion == candidate:
        return False
    if set(champion) == set(candidate) and all(champion[k] == 1 - candidate[k] for k in candidate):
        return True
    raise SystemExit(
        f"evaluate: the champion {version} maps labels {champion}, the candidate {candidate}; "
        "the two models predict different classes and cannot be compared"
    )


def comparison(metric: str, candidate: float, champion: float | None, version: str, tolerance: float) -> dict:
    """evaluation.json's champion_comparison: the candidate passes when it scores at least the
    champion minus the tolerance (with no champion: at least 0)."""
    required = max(0.0, round(champion - tolerance, 6)) if champion is not None else 0.0
    return {
        "metric": metric,
        "candidate": candidate,
        "champion": champion,
        "champion_version": version,
        "tolerance": tolerance,
        "required": required,
        "passed": bool(candidate >= required),
    }


def segment_verdict(segment: str, threshold: float, result: dict) -> dict:
    """evaluation.json's segment section: the gate's two conditions for this segment's model."""
    metric, candidate, required = result["metric"], result["candidate"], result["required"]
    failed = candidate < threshold or candidate < required
    failure = (
        f"{segment}: {metric} {candidate:.4f} below the threshold {threshold:g} or the required "
        f"{required:.4f} (champion {result['champion_version']});"
        if failed
        else ""
    )
    return {"name": segment, "threshold": threshold, "failure": failure}


def write_predictions(path: Path, probability: np.ndarray, labels: np.ndarray) -> None:
    """predictions.csv (probability,prediction,label per test row): the model-quality baseline's input."""
    lines = ["probability,prediction,label"]
    lines += [f"{p:.6f},{int(p >= 0.5)},{int(y)}" for p, y in zip(probability, labels)]  # noqa: B905
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=BASE / "model", help="holds model.tar.gz")
    parser.add_argument("--test-dir", type=Path, default=BASE / "test")
    parser.add_argument("--output-dir", type=Path, default=BASE / "evaluation")
    parser.add_argument(
        "--champion-dir", type=Path, default=BASE / "champion", help="the champion's model.tar.gz"
    )
    parser.add_argument("--champion-version", default="none", help='the champion\'s version ARN, or "none"')
    parser.add_argument("--tolerance", type=float, default=0.0)
    parser.add_argument("--metric", choices=METRICS, default="auc")
    parser.add_argument("--segment", help="the segment this model serves (config model.segments)")
    parser.add_argument("--threshold", type=float, default=0.0, help="the gate's threshold (with --segment)")
    args = parser.parse_args(argv)

    archive = args.model_dir / "model.tar.gz"
    if not archive.exists():
        raise SystemExit(f"evaluate: {archive} not found")
    tests = sorted(args.test_dir.glob("*.csv"))
    if not tests:
        raise SystemExit(f"evaluate: no .csv file in {args.test_dir}")
    champion_archive = args.champion_dir / "model.tar.gz"
    has_champion = args.champion_version != "none"
    if has_champion and not champion_archive.exists():
        raise SystemExit(f"evaluate: champion {args.champion_version}: {champion_archive} not found")
    if not 0.0 <= args.tolerance <= 1.0:
        raise SystemExit(f"evaluate: --tolerance {args.tolerance:g} is not between 0 and 1")

    with tempfile.TemporaryDirectory() as tmp:
        model, probability, tables = score(archive, tests, Path(tmp) / "candidate", "candidate")
        labels = np.concatenate(
            [read_labels(table, model.schema.target, path) for table, path in zip(tables, tests)]  # noqa: B905
        )
        champion_probability = None
        if has_champion:
            champion, champion_probability, _ = score(
                champion_archive, tests, Path(tmp) / "champion", "champion"
            )
            if len(champion_probability) != len(labels):  # the same files, so only a broken handler
                scored = f"{len(champion_probability)} rows, the candidate {len(labels)}"
                raise SystemExit(f"evaluate: the champion scored {scored}")
            if champion_flipped(
                model.schema.label_mapping, champion.schema.label_mapping, args.champion_version
            ):
                champion_probability = 1.0 - champion_probability

    report = metrics(labels, probability)
    candidate_value = report["binary_classification_metrics"][args.metric]["value"]
    champion_value = None
    if champion_probability is not None:
        champion_section = metrics(labels, champion_probability)["binary_classification_metrics"]
        champion_value = champion_section[args.metric]["value"]
    report["champion_comparison"] = comparison(
        args.metric, candidate_value, champion_value, args.champion_version, args.tolerance
    )
    if args.segment:
        report["segment"] = segment_verdict(args.segment, args.threshold, report["champion_comparison"])
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    write_predictions(args.output_dir / "predictions.csv", probability, labels)
    section = report["binary_classification_metrics"]
    summary = ", ".join(f"{k}={v['value']:.4f}" for k, v in section.items() if "value" in v)
    print(f"evaluate: {len(labels)} rows: {summary}")
    result = report["champion_comparison"]
    if champion_value is None:
        print(f"evaluate: no champion; candidate {args.metric} {candidate_value:.4f}")
    else:
        print(
            f"evaluate: same {len(labels)} rows: candidate {args.metric} {candidate_value:.4f}, champion "
            f"{champion_value:.4f} ({args.champion_version}), tolerance {args.tolerance:g}, required "
            f"{result['required']:.4f}: {'passed' if result['passed'] else 'FAILED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
