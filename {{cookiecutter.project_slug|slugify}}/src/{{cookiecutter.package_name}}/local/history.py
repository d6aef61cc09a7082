"""The history of local rehearsals and `local compare` (`make compare-runs`).

Every rehearsal, passed or failed, is kept in `<work dir>/runs/<UTC time>/` (e.g.
build/local/runs/2025-06-01T120301Z/): report.md and report.json, the charts, evaluation.json,
schema.json and hyperparameters.json, whichever the run got far enough to write, and the
monitoring step's constraint_violations.json. A passed run also keeps its model.tar.gz, the
champion `make local CHAMPION=latest` scores the next candidate against; a failed run's model is
not kept (build/local/output holds the last one).

`python -m <package> local compare` prints, as Markdown, the last two runs that reached the
evaluation side by side: metrics with the change, confusion counts, hyperparameters, data
(rows, features, label mapping). `local compare OLDER NEWER` compares two named runs. Exit
status (cli_support): 0 printed, 1 fewer than two runs to compare, 2 bad arguments.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import cli_support
from ..config import REPO_ROOT
from .evaluation_report import CHARTS, Evaluation, read_evaluation

RUNS = "runs"
STAMP = "%Y-%m-%dT%H%M%SZ"
KEPT = (
    "report.md",
    "report.json",
    "hyperparameters.json",
    "evaluation.json",
    "schema.json",
    *CHARTS.values(),
)


def new_run_dir(work: Path, now: datetime | None = None) -> Path:
    """A new, empty runs/<UTC time>/ folder (a suffix -2, -3... when that second is taken)."""
    base = work / RUNS / (now or datetime.now(UTC)).strftime(STAMP)
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def keep(run_dir: Path, files: dict[str, Path]) -> None:
    """Copy each file that exists into run_dir under its name in `files`."""
    for name, source in files.items():
        if source.is_file():
            shutil.copy2(source, run_dir / name)


def runs(work: Path) -> list[Path]:
    """The recorded runs, oldest first."""
    folder = work / RUNS
    return (
        sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name) if folder.is_dir() else []
    )


@dataclass
class Run:
    name: str
    report: dict[str, Any]
    evaluation: Evaluation
    hyperparameters: dict[str, Any]
    schema: dict[str, Any]


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def load_run(path: Path) -> Run:
    return Run(
        name=path.name,
        report=_json(path / "report.json"),
        evaluation=read_evaluation(path / "evaluation.json"),
        hyperparameters=_json(path / "hyperparameters.json"),
        schema=_json(path / "schema.json"),
    )


def _show(value: Any, digits: int | None) -> str:
    """A cell: floats with `digits` decimals (None: as short as exact), "-" for nothing."""
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if digits is not None else f"{value:g}"
    return str(value).replace("|", "\\|")


def _change(old: Any, new: Any, digits: int | None) -> str:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
    if numbers:
        delta = new - old
        if delta == 0:
            return ""
        if isinstance(delta, int):
            return f"{delta:+d}"
        return f"{delta:+.{digits}f}" if digits is not None else f"{delta:+g}"
    return "" if old == new else "changed"


def compare_markdown(older: Run, newer: Run) -> str:
    """The two runs side by side, one row per fact."""
    rows: list[tuple[str, Any, Any, int | None]] = []

    def both(label: str, get, digits: int | None = None) -> None:
        rows.append((label, get(older), get(newer), digits))

    both("passed", lambda r: {True: "yes", False: "no"}.get(r.report.get("passed")))
    both("framework", lambda r: r.hyperparameters.get("framework") or r.report.get("framework"))
    both("data", lambda r: Path(str(r.report.get("data") or "")).name or None)
    metrics = list(dict.fromkeys([*older.evaluation.metrics, *newer.evaluation.metrics]))
    for name in metrics:
        both(name, lambda r, n=name: r.evaluation.metrics.get(n), 4)
    for label, (a, p) in {
        "true negatives": (0, 0),
        "false positives": (0, 1),
        "false negatives": (1, 0),
        "true positives": (1, 1),
    }.items():
        both(label, lambda r, a=a, p=p: r.evaluation.confusion[a][p] if r.evaluation.confusion else None)
    params = list(dict.fromkeys([*_params(older), *_params(newer)]))
    for name in params:
        both(f"hyperparameter {name}", lambda r, n=name: _params(r).get(n))
    for key in ("read", "kept", "train", "validation", "test"):
        both(f"rows {key}", lambda r, k=key: (r.schema.get("rows") or {}).get(k))
    both("features", lambda r: len(r.schema.get("features") or []) if r.schema else None)
    both(
        "label mapping",
        lambda r: ", ".join(f"{k}->{v}" for k, v in (r.schema.get("label_mapping") or {}).items()) or None,
    )
    both("seconds", lambda r: r.report.get("total_seconds"), 2)
    lines = [
        f"## Local runs: {older.name} -> {newer.name}",
        "",
        f"| | {older.name} | {newer.name} | change |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {label} | {_show(a, digits)} | {_show(b, digits)} | {_change(a, b, digits)} |"
        for label, a, b, digits in rows
    ]
    added = sorted(_features(newer) - _features(older))
    removed = sorted(_features(older) - _features(newer))
    if added or removed:
        lines += [
            "",
            f"Features added: {', '.join(added) or 'none'}; removed: {', '.join(removed) or 'none'}.",
        ]
    return "\n".join(lines) + "\n"


def _params(run: Run) -> dict[str, Any]:
    return dict(run.hyperparameters.get("params") or {})


def _features(run: Run) -> set[str]:
    return {str(f.get("name")) for f in run.schema.get("features") or [] if isinstance(f, dict)}


def pick(work: Path, names: Sequence[str]) -> tuple[Path, Path]:
    """The two runs to compare: the named ones, or the last two that reached the evaluation.
    ValueError says what is missing."""
    if names:
        paths = [work / RUNS / name for name in names]
        missing = [str(p) for p in paths if not p.is_dir()]
        if missing:
            raise ValueError(f"no such run: {', '.join(missing)}")
        return paths[0], paths[1]
    evaluated = [p for p in runs(work) if (p / "evaluation.json").is_file()]
    if len(evaluated) < 2:
        raise ValueError(
            f"{len(evaluated)} run(s) with an evaluation in {work / RUNS}; compare needs two"
            " (run `make local` again)"
        )
    return evaluated[-2], evaluated[-1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli_support.Parser(
        prog=cli_support.prog(f"python -m {__package__}.rehearsal") + " compare",
        description="Compare two local rehearsal runs (default: the last two that reached the evaluation).",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN", help="two run folder names under <work dir>/runs")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO_ROOT / "build" / "local",
        metavar="PATH",
        help="default build/local",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    if len(args.runs) not in (0, 2):
        parser.error(f"give two runs or none, not {len(args.runs)}")
    try:
        older, newer = pick(args.work_dir, args.runs)
    except ValueError as exc:
        return cli_support.fail(f"local compare: {exc}")
    print(compare_markdown(load_run(older), load_run(newer)), end="")
    return cli_support.EXIT_OK
