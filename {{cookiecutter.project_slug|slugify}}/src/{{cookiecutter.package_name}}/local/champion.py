"""`make local CHAMPION=<path to model.tar.gz | latest>`: the rehearsal compares the candidate with
a champion the way the pipeline does.

The evaluate step (steps/evaluate.py) scores the champion archive on the same test rows as the
candidate, through the champion's own handler and conversion, and writes champion_comparison into
evaluation.json; the gate step then also requires candidate >= champion - `champion.tolerance`
on `pipeline.metric`, and a candidate that lost fails the rehearsal with both numbers. Without
CHAMPION the rehearsal runs as the pipeline does before the first release (`--champion-version
none`).

`latest` is the model of the newest earlier rehearsal in the work dir that passed: each passed run
keeps its model.tar.gz in runs/<UTC time>/ (history.py), so a failed candidate never becomes the
champion of the next run. The champion archive is copied to <work dir>/champion/model.tar.gz
before a run clears its folders, so naming build/local/output/model.tar.gz itself works too.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from ..cli_support import UsageError
from ..config import Config
from . import history
from .stages import StepFailed

LATEST = "latest"
FOLDER = "champion"
ARCHIVE = "model.tar.gz"


def _passed(run: Path) -> bool:
    try:
        return json.loads((run / "report.json").read_text()).get("passed") is True
    except (OSError, ValueError):
        return False


def resolve(spec: str, work: Path) -> Path:
    """The champion archive `--champion` names: a model.tar.gz, or `latest` (the model of the
    newest passed rehearsal in `work`). UsageError, before anything runs, when there is none."""
    if spec == LATEST:
        for run in reversed(history.runs(work)):
            if (run / ARCHIVE).is_file() and _passed(run):
                return run / ARCHIVE
        raise UsageError(
            f"--champion latest: no earlier rehearsal in {work / history.RUNS} passed and kept its "
            f"{ARCHIVE}; run make local first, or name a {ARCHIVE}"
        )
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UsageError(f"--champion {spec}: no such file; expected a {ARCHIVE} path or {LATEST}")
    if not tarfile.is_tarfile(path):
        raise UsageError(f"--champion {spec} is not a tar archive; expected a {ARCHIVE} (a trained model)")
    return path.resolve()


def stage(source: Path | None, work: Path) -> Path | None:
    """Copy the champion to <work>/champion/model.tar.gz for this run (a stale one is removed
    when there is no champion); the copy, or None."""
    folder = work / FOLDER
    target = folder / ARCHIVE
    if source is None:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    if source.resolve() != target.resolve():
        shutil.copy2(source, target)
    return target


def label(source: Path | None) -> str:
    """What evaluation.json records as champion_version: the archive's path, or "none"."""
    return str(source) if source is not None else "none"


def evaluate_arguments(cfg: Config, staged: Path | None, source: Path | None) -> list[str]:
    """The champion arguments of steps/evaluate.py, as the pipeline's Evaluate step passes them."""
    where = ["--champion-dir", str(staged.parent)] if staged is not None else []
    return [
        *where,
        "--champion-version",
        label(source),
        "--tolerance",
        f"{cfg.champion.tolerance:g}",
        "--metric",
        cfg.pipeline.metric,
    ]


def gate(evaluation_json: Path, detail: str) -> str:
    """The gate's second condition on evaluate's champion_comparison: the gate step's detail, or
    StepFailed showing the candidate's and the champion's numbers when the candidate lost."""
    try:
        result = json.loads(evaluation_json.read_text())["champion_comparison"]
    except (OSError, ValueError, KeyError) as exc:
        raise StepFailed(f"{evaluation_json} has no champion_comparison") from exc
    if result["champion"] is None:
        return f"{detail}; no champion"
    numbers = (
        f"candidate {result['metric']} {result['candidate']:.4f}, champion {result['champion']:.4f} "
        f"- tolerance {result['tolerance']:g} = required {result['required']:.4f}"
    )
    if not result["passed"]:
        raise StepFailed(f"{numbers}: the candidate lost to the champion {result['champion_version']}")
    return f"{detail}; {numbers}"


def keep_model(run_dir: Path, work: Path, passed: bool) -> None:
    """Keep a passed run's model in its runs/ folder (what `latest` picks next time)."""
    model = work / "output" / ARCHIVE
    if passed and model.is_file():
        shutil.copy2(model, run_dir / ARCHIVE)
