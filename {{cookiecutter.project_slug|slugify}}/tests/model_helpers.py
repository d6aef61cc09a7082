"""Shared by the step, handler, endpoint-suite and rehearsal tests: the package under test and a
small model trained in-process by the real step scripts on the bundled sample data."""

from __future__ import annotations

import copy
import importlib
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from base_config import BASE

ROOT = Path(__file__).resolve().parents[1]
# The one package under src/ (the folder holding __init__.py and config).
PACKAGE = next(path.parent.name for path in sorted((ROOT / "src").glob("*/__init__.py")))
config = importlib.import_module(f"{PACKAGE}.config")
CFG = config.parse(copy.deepcopy(BASE))  # the suite's base config (base_config.py)
FRAMEWORK = CFG.model.framework
TARGET = CFG.model.target_column
SAMPLE_CSV = ROOT / "data" / "sample.csv"
# Fewer trees than config: enough for a good model on the sample data, fast enough for unit tests.
SMALL_HYPERPARAMETERS = {"sklearn": ["--n_estimators", "30"], "xgboost": ["--num_round", "30"]}


def module(name: str) -> ModuleType:
    """A module of the package under test, e.g. module("steps.train")."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def split_sample(out_dir: Path) -> Path:
    """Run the preprocess step on data/sample.csv; out_dir gets train/, validation/, test/."""
    source = out_dir / "input"
    source.mkdir(parents=True)
    shutil.copy2(SAMPLE_CSV, source / SAMPLE_CSV.name)
    assert module("steps.preprocess").main(["--input-dir", str(source), "--output-dir", str(out_dir)]) == 0
    return out_dir


def split_table(table: pd.DataFrame, out_dir: Path, *args: str) -> Path:
    """Run the preprocess step on a table (written as input/table.csv; args are extra options)."""
    source = out_dir / "input"
    source.mkdir(parents=True)
    table.to_csv(source / "table.csv", index=False)
    argv = ["--input-dir", str(source), "--output-dir", str(out_dir), "--target", "target", *args]
    assert module("steps.preprocess").main(argv) == 0
    return out_dir


def mixed_table(rows: int = 400, seed: int = 1) -> pd.DataFrame:
    """A labelled table with text, categories, gaps and a quoted comma: the target depends on a
    numeric column with gaps and on a categorical one."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, rows).round(1)
    plan = rng.choice(["basic", "pro", "team"], rows)
    city = rng.choice(["Paris", "Lyon, Rhone", "Nice"], rows)
    score = (age - 40) / 12 + np.where(plan == "pro", 1.5, np.where(plan == "team", -1.0, 0.0))
    target = (score + rng.normal(0, 0.6, rows) > 0.2).astype(int)
    table = pd.DataFrame({"age": age, "plan": plan, "city": city, "visits": rng.integers(0, 20, rows)})
    table["target"] = target
    table.loc[rng.random(rows) < 0.15, "age"] = np.nan
    table.loc[rng.random(rows) < 0.1, "plan"] = None
    table.loc[rng.random(rows) < 0.1, "city"] = None
    return table


def train_model(data_dir: Path, model_dir: Path, framework: str = FRAMEWORK) -> Path:
    """Run the train step as SageMaker would (SM_* environment, hyperparameters as arguments)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SM_MODEL_DIR", str(model_dir))
        mp.setenv("SM_CHANNEL_TRAIN", str(data_dir / "train"))
        mp.setenv("SM_CHANNEL_VALIDATION", str(data_dir / "validation"))
        args = ["--framework", framework, *SMALL_HYPERPARAMETERS[framework]]
        assert module("steps.train").main(args) == 0
    return model_dir


def pack(model_dir: Path, archive: Path, extra_handler_code: str = "") -> Path:
    """model.tar.gz of model_dir; extra_handler_code is appended to the packed code/inference.py
    (a way to build a deliberately broken server)."""
    staging = archive.parent / f"{archive.name}.staging"
    shutil.copytree(model_dir, staging)
    if extra_handler_code:
        handler = staging / "code" / "inference.py"
        handler.write_text(handler.read_text() + "\n" + extra_handler_code)
    module("local.rehearsal").pack_model(staging, archive)
    shutil.rmtree(staging)
    return archive
