"""What the rehearsal computes itself between the step scripts, as the SageMaker pipeline does:
the model archive, the quality gate and the hyperparameters passed to train.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..config import Config


class StepFailed(Exception):
    """A step failed; the message is the one-line reason printed at the end."""


@dataclass
class StepResult:
    name: str
    status: str = "skipped"
    seconds: float = 0.0
    detail: str = ""


def pack_model(model_dir: Path, archive: Path) -> Path:
    """Pack the contents of SM_MODEL_DIR at the root of a gzipped tarball, as SageMaker training does."""
    archive.parent.mkdir(parents=True, exist_ok=True)

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            if "__pycache__" in path.parts:
                continue
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False, filter=clean)
    return archive


def read_metric(evaluation_json: Path, metric: str) -> float:
    """binary_classification_metrics.<metric>.value, as the pipeline's JsonGet reads it."""
    try:
        report = json.loads(evaluation_json.read_text())
        return float(report["binary_classification_metrics"][metric]["value"])
    except FileNotFoundError as exc:
        raise StepFailed(f"{evaluation_json} not found") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise StepFailed(f"{evaluation_json} has no binary_classification_metrics.{metric}.value") from exc


def apply_gate(value: float, threshold: float, metric: str) -> str:
    """The pipeline's condition: it passes when value >= threshold, else raises StepFailed."""
    if value < threshold:
        raise StepFailed(f"metric {metric} = {value:.6g} < threshold {threshold:g}")
    return f"{metric} {value:.6g} >= threshold {threshold:g}"


def hyperparameter_args(cfg: Config, framework: str) -> list[str]:
    """Hyperparameters from config as `--key value` arguments, the way SageMaker passes them.
    `framework` may differ from the configured one (--framework); its settings must be there."""
    params = cfg.model.hyperparameters.get(framework)
    if not params:
        raise StepFailed(f"config model.hyperparameters has no {framework!r} entry")
    args = ["--framework", framework]
    for key, value in params.items():
        args += [f"--{key}", str(value)]
    return args
