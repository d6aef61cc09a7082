"""Run the step scripts and the serving handler under each framework image's Python and libraries.

For every framework of `pipeline.framework_versions` (or --framework), in that image's environment
(images.py), on the data file and on a built-in table with text, gaps and yes/no labels:
preprocess -> train -> package -> evaluate, each as `python steps/<name>.py ARGS` with the
container conventions, then the packaged handler through the image's own serving toolkit
(serve.py): test rows as CSV and as JSON must get the probabilities the evaluate path computes,
and bad values, a wrong width or an unsupported content type must get HTTP 400, an unsupported
accept type 406.
Everything lands in build/parity/ (environments are reused while their pins are unchanged).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Config
from ..local.stages import hyperparameter_args, pack_model
from ..steps.evaluate import safe_extract
from .images import Image, ParityError

STEPS_DIR = Path(__file__).resolve().parents[1] / "steps"
SERVE = Path(__file__).resolve().with_name("serve.py")
STEP_TIMEOUT = 900


@dataclass
class Outcome:
    image: str
    dataset: str
    seconds: dict[str, float] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    auc: float | None = None
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and all(ok for _, ok, _ in self.checks)


def mixed_table(target: str, rows: int = 600, seed: int = 7) -> str:
    """CSV text: yes/no labels, a unique name (an identifier preprocess drops), numbers with gaps,
    categories with gaps and a quoted comma, whole numbers."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, rows).round(1)
    plan = rng.choice(["basic", "pro", "team"], rows)
    city = rng.choice(["Paris", "Lyon, Rhone", "Nice"], rows)
    visits = rng.integers(0, 20, rows)
    score = (age - 40) / 12 + np.where(plan == "pro", 1.5, np.where(plan == "team", -1.0, 0.0))
    label = np.where(score + rng.normal(0, 0.6, rows) > 0.2, "yes", "no")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "age", "plan", "city", "visits", target])
    for i in range(rows):
        writer.writerow(
            [
                f"Customer {i:04d}, {rng.choice(['Mr', 'Ms'])}",
                "" if rng.random() < 0.15 else age[i],
                "" if rng.random() < 0.1 else plan[i],
                "" if rng.random() < 0.1 else city[i],
                visits[i],
                label[i],
            ]
        )
    return out.getvalue()


def run_step(python: Path, name: str, args: list[str], env: dict[str, str], cwd: Path) -> str:
    """`python steps/<name>.py ARGS` as a container runs it; its output, or ParityError with its
    last error line."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(  # noqa: S603 - a step script of this package, no shell
        [str(python), str(STEPS_DIR / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        env={**environment, **env},
        cwd=cwd,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ParityError(f"{name}.py exited {done.returncode}: {lines[-1] if lines else 'no error output'}")
    return done.stdout


def csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(fields)
    return out.getvalue()


EVALUATE, ONE = "the evaluate step's probabilities", "one prediction"


def requests(test_csv: Path, schema: dict) -> tuple[list[dict], list[tuple[str, int, str]]]:
    """The requests for serve.py and what each must answer: (name, status, and for 200 EVALUATE or
    ONE, for 400 a text the body holds)."""
    with test_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, features = rows[0], [row[1:] for row in rows[1:]]
    body = io.StringIO()
    csv.writer(body).writerows(features)
    records = [{n: v or None for n, v in zip(header[1:], row, strict=True)} for row in features]
    first = list(features[0])
    wrong_width = first[:-1] if len(first) > 1 else [*first, "1"]
    as_json = "application/json"
    specs = [
        ("test rows as CSV", body.getvalue(), "text/csv", as_json, 200, EVALUATE),
        ("test rows as JSON", json.dumps({"instances": records}), as_json, as_json, 200, EVALUATE),
        ("every feature missing", json.dumps([dict.fromkeys(header[1:])]), as_json, as_json, 200, ONE),
        ("wrong width", csv_line(wrong_width), "text/csv", as_json, 400, "feature values"),
        ("content type", csv_line(first), "text/plain", as_json, 400, "not supported"),
        ("accept type", csv_line(first), "text/csv", "application/x-npy", 406, "not supported"),
    ]
    kinds = {f["name"]: f["type"] for f in schema["features"]}
    categorical = [n for n in header[1:] if kinds[n] == "categorical"]
    if categorical:
        unseen = {**records[0], categorical[0]: "a value not seen in training"}
        specs.append(("an unseen category", json.dumps([unseen]), as_json, as_json, 200, ONE))
    numeric = [i for i, n in enumerate(header[1:]) if kinds[n] == "numeric"]
    if numeric:
        bad = list(first)
        bad[numeric[0]] = "not a number"
        column = header[1 + numeric[0]]
        specs.append(
            ("text in a numeric column", csv_line(bad), "text/csv", as_json, 400, f"column {column!r}")
        )
    sent = [{"name": n, "body": b, "content_type": c, "accept": a} for n, b, c, a, _, _ in specs]
    return sent, [(n, status, expected) for n, _, _, _, status, expected in specs]


def serve_checks(python: Path, work: Path, image: Image, outcome: Outcome) -> None:
    base = work / "serve"
    safe_extract(work / "output" / "model.tar.gz", base / "model")
    test_csv = work / "data" / "test" / "test.csv"
    schema = json.loads((work / "data" / "test" / "schema.json").read_text())
    sent, wanted = requests(test_csv, schema)
    spec = {"toolkit": image.toolkit, "base_dir": str(base), "test_csv": str(test_csv), "requests": sent}
    (work / "serve.json").write_text(json.dumps(spec))
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(  # noqa: S603 - parity/serve.py, no shell
        [str(python), str(SERVE), str(work / "serve.json")],
        capture_output=True,
        text=True,
        env=environment,
        cwd=work,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    (work / "serve.log").write_text(done.stderr)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ParityError(
            f"serving through {image.toolkit} failed: {lines[-1] if lines else done.returncode}"
        )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    outcome.versions = result["versions"]
    if result["ping"] is not None:
        outcome.checks.append(("GET /ping", result["ping"] == 200, f"HTTP {result['ping']}"))
    expected = [round(p, 6) for p in result["expected"]]
    for (name, status, text), answer in zip(wanted, result["responses"], strict=True):
        ok = answer["status"] == status
        detail = f"HTTP {answer['status']}"
        lines = [line.strip() for line in answer["body"].splitlines() if line.strip()]
        if not ok:
            detail += f" (expected {status}): {lines[-1][:120] if lines else 'empty body'}"
        if ok and status == 200:
            got = [p["probability"] for p in json.loads(answer["body"])["predictions"]]
            if text == EVALUATE:
                ok = got == expected
                detail += f", {len(got)} probabilities " + (
                    "= evaluate's" if ok else "differ from evaluate's"
                )
            else:
                ok = len(got) == 1
                detail += f", {len(got)} prediction(s)"
        elif ok:
            ok = text in answer["body"]
            detail += f": {lines[0][:90] if lines else ''}"
        outcome.checks.append((name, ok, detail))


def run_dataset(
    cfg: Config, image: Image, python: Path, name: str, source: Path, args: list[str], work: Path
):
    outcome = Outcome(image.name, name)
    (work / "input").mkdir(parents=True)
    (work / "input" / source.name).write_bytes(source.read_bytes())
    env = {
        "SM_MODEL_DIR": str(work / "model"),
        "SM_CHANNEL_TRAIN": str(work / "data" / "train"),
        "SM_CHANNEL_VALIDATION": str(work / "data" / "validation"),
        "SM_OUTPUT_FAILURE": str(work / "failure"),
    }
    stages = [
        ("preprocess", ["--input-dir", str(work / "input"), "--output-dir", str(work / "data"), *args], {}),
        ("train", hyperparameter_args(cfg, image.framework), env),
        ("evaluate", ["--model-dir", str(work / "output"), "--test-dir", str(work / "data" / "test"),
                      "--output-dir", str(work / "evaluation")], {}),
    ]  # fmt: skip
    try:
        for step, step_args, step_env in stages:
            started = time.perf_counter()
            run_step(python, step, step_args, step_env, work)
            outcome.seconds[step] = time.perf_counter() - started
            if step == "train":
                pack_model(work / "model", work / "output" / "model.tar.gz")
        report = json.loads((work / "evaluation" / "evaluation.json").read_text())
        outcome.auc = report["binary_classification_metrics"]["auc"]["value"]
        started = time.perf_counter()
        serve_checks(python, work, image, outcome)
        outcome.seconds["serve"] = time.perf_counter() - started
    except (ParityError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
        outcome.error = str(exc)
    return outcome


def datasets(cfg: Config, data: Path, work: Path) -> list[tuple[str, Path, list[str]]]:
    """(name, file, preprocess arguments): the data file under the configured contract, and the
    built-in table under the defaults (the configured column lists name the data file's columns)."""
    mixed = work / "tables" / "text-and-gaps.csv"
    mixed.parent.mkdir(parents=True, exist_ok=True)
    mixed.write_text(mixed_table(cfg.model.target_column))
    return [
        (data.name, data, cfg.model.preprocess_arguments()),
        ("text-and-gaps.csv", mixed, [f"--target={cfg.model.target_column}"]),
    ]


def format_outcome(outcome: Outcome) -> list[str]:
    status = "PASS" if outcome.passed else "FAIL"
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in outcome.seconds.items())
    auc = f", auc {outcome.auc:.4f}" if outcome.auc is not None else ""
    lines = [f"{status}  {outcome.image}  {outcome.dataset}: {timing}{auc}"]
    if outcome.error:
        lines.append(f"      error: {outcome.error}")
    lines += [f"      {'ok  ' if ok else 'FAIL'} {name}: {detail}" for name, ok, detail in outcome.checks]
    return lines


def report(outcomes: list[Outcome], builds: dict[str, float], seconds: float) -> dict:
    return {
        "passed": all(o.passed for o in outcomes),
        "seconds": round(seconds, 1),
        "environment_build_seconds": {k: round(v, 1) for k, v in builds.items()},
        "runs": [
            {
                "image": o.image,
                "dataset": o.dataset,
                "passed": o.passed,
                "auc": o.auc,
                "seconds": {k: round(v, 2) for k, v in o.seconds.items()},
                "versions": o.versions,
                "checks": [{"name": n, "passed": ok, "detail": d} for n, ok, d in o.checks],
                "error": o.error,
            }
            for o in outcomes
        ],
    }


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
