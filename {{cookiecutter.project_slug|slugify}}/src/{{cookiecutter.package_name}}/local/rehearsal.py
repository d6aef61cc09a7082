"""Local rehearsal (`make local`): the pipeline's path on the sample data, in seconds, with no AWS.

It runs the same step scripts the SageMaker pipeline runs, with SageMaker's container conventions
(arguments, SM_MODEL_DIR, SM_CHANNEL_*), into build/local/:

  preprocess -> train -> package (model.tar.gz, as SageMaker packs SM_MODEL_DIR) -> evaluate
  -> gate (config pipeline.metric >= pipeline.metric_threshold, as the pipeline's ConditionStep;
     with --champion also >= the champion's score on the same rows - champion.tolerance: champion.py)
  -> serve (`python -m <package>.local.server` on 127.0.0.1: the handler packed in model.tar.gz)
  -> endpoint tests (the suite the QA and prod deploys run, thresholds from environments.local.tests;
     a batch-only project: the transform test, split and joined as Batch Transform does)
  -> monitoring (a data-quality baseline on the train split; the endpoint tests' captured traffic,
     and with --shifted a deliberately shifted sample, checked as Model Monitor does; monitoring.py)

With --async (`make local ASYNC=1`) the server also takes the asynchronous contract and the
endpoint tests go through the async invoker (input file, POST /invocations-async, poll for the
output file under <work dir>/async; endpoint_tests/async_invoker.py), with the same checks, and
the monitoring step checks that captured async traffic (and sends --shifted the same way).

Each step script, and the server, runs in its own process with its own argv, environment and
clean module state; by default that process is forked from a warm worker that imported pandas and
the framework once (step_runner.py), `--fresh-processes` starts a new interpreter for each instead.

Progress is printed per step, then a summary table. report.md (steps, evaluation with its
confusion matrix and ROC and precision-recall charts, hyperparameters, data summary, endpoint
tests; reports.py) and report.json land in the work dir, and each run is kept in
runs/<UTC time>/ (history.py; `local compare` compares the last two). `--set name=value`
changes a hyperparameter for this run only (overrides.py). Exit status (cli_support): 0 every
step passed; 1 a step failed, with one line `error: rehearsal failed: <reason>` (for a failed
gate: "metric auc = 0.95 < threshold 0.99"); 2 bad arguments or config (an unknown --set name
lists the known ones).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .. import cli_support
from ..config import Config
from ..endpoint_tests import async_invoker
from ..endpoint_tests.invokers import Invoker
from ..endpoint_tests.suite import HttpInvoker, SuiteReport, load_samples, run_suite
from . import champion, history
from .evaluation_report import CHARTS
from .monitoring import FOLDER as MONITORING
from .monitoring import Monitor, capturing, kept_files
from .reports import RunFacts, show, step_rows, summary, write_reports
from .stages import StepFailed, StepResult, apply_gate, hyperparameter_args, pack_model, read_metric
from .step_runner import Service, StepRunner, make_runner

__all__ = [
    "STEP_NAMES",
    "Rehearsal",
    "StepFailed",
    "StepResult",
    "apply_gate",
    "hyperparameter_args",
    "main",
    "pack_model",
    "read_metric",
]

STEPS_DIR = Path(__file__).resolve().parents[1] / "steps"
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the package
STEP_TIMEOUT_SECONDS = 600
SERVER_START_SECONDS = 120
SERVING = re.compile(r"^serving .* at (?P<url>http://127\.0\.0\.1:\d+) ", re.MULTILINE)
STEP_NAMES = ("preprocess", "train", "package", "evaluate", "gate", "serve", "endpoint tests", "monitoring")
# Folders and files of the work dir that a run owns and clears first; nothing else is deleted.
OWNED = (
    "input",
    "data",
    "model",
    "output",
    "evaluation",
    "server.log",
    "report.json",
    "report.md",
    "hyperparameters.json",
    MONITORING,
    "async",
    *CHARTS.values(),
)
DEFAULT_ROWS = 100
# What the step scripts import that is slow to import: the warm worker imports these once.
DATA_IMPORTS = ["numpy", "pandas"]
FRAMEWORK_IMPORTS = {"sklearn": ["sklearn.ensemble", "joblib"], "xgboost": ["xgboost"]}


class Rehearsal:
    """One rehearsal run in work_dir. run() prints progress and the summary, writes report.json and
    report.md, and returns the exit code: 0 when all steps pass, 1 at the first failed step."""

    def __init__(
        self,
        cfg: Config,
        work_dir: Path,
        data: Path,
        framework: str,
        threshold: float,
        n_samples: int = DEFAULT_ROWS,
        out: TextIO = sys.stdout,
        fresh_processes: bool = False,
        overrides: dict[str, object] | None = None,
        shifted: bool = False,
        champion: Path | None = None,
        async_mode: bool = False,
    ) -> None:
        self.cfg = cfg
        self.work = work_dir
        self.data = data
        self.framework = framework
        self.threshold = threshold
        self.metric = cfg.pipeline.metric
        self.target = cfg.model.target_column
        self.n_samples = n_samples
        self.out = out
        self.fresh_processes = fresh_processes
        self.overrides = dict(overrides or {})
        self.run_dir: Path | None = None
        self.steps = [StepResult(name) for name in STEP_NAMES]
        self.metrics: dict[str, float] = {}
        self.suite: SuiteReport | None = None
        self.reason = ""
        self.runner: StepRunner | None = None
        self.server: Service | None = None
        self.url = ""
        self.shifted = shifted
        # The champion archive to compare with (local/champion.py) and its copy for this run.
        self.champion_source = champion
        self.champion_archive: Path | None = None
        self.monitor: Monitor | None = None
        self.async_mode = async_mode

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def script(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        """Run steps/<name>.py in its own process; StepFailed carries its last error line."""
        assert self.runner is not None
        preload = DATA_IMPORTS + (self.framework_imports() if name != "preprocess" else [])
        done = self.runner.run(STEPS_DIR / f"{name}.py", args, env or {}, preload, STEP_TIMEOUT_SECONDS)
        for line in (done.stdout + done.stderr).splitlines():
            if line.strip():
                self.say(f"      | {line}")
        if done.timed_out:
            raise StepFailed(f"{name}.py ran longer than {STEP_TIMEOUT_SECONDS} s")
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1] if lines else "no error output"
            raise StepFailed(f"{name}.py exited {done.returncode}: {last}")

    def framework_imports(self) -> list[str]:
        return FRAMEWORK_IMPORTS.get(self.framework, [])

    # The steps, in order. Each returns a short detail for the summary or raises StepFailed.

    def preprocess(self) -> str:
        if not self.data.is_file():
            raise StepFailed(f"data file {self.data} not found")
        shutil.copy2(self.data, self.work / "input" / self.data.name)
        args = ["--input-dir", str(self.work / "input"), "--output-dir", str(self.work / "data")]
        self.script("preprocess", [*args, *self.cfg.model.preprocess_arguments()])
        return f"{self.data.name} -> train/validation/test"

    def train(self) -> str:
        env = {
            "SM_MODEL_DIR": str(self.work / "model"),
            "SM_CHANNEL_TRAIN": str(self.work / "data" / "train"),
            "SM_CHANNEL_VALIDATION": str(self.work / "data" / "validation"),
        }
        args = hyperparameter_args(self.cfg, self.framework)
        self.script("train", args, env)
        return f"{' '.join(args)} -> {', '.join(sorted(p.name for p in (self.work / 'model').iterdir()))}"

    def package(self) -> str:
        archive = pack_model(self.work / "model", self.work / "output" / "model.tar.gz")
        return f"{archive.relative_to(self.work)} ({archive.stat().st_size // 1024} KiB)"

    def evaluate(self) -> str:
        self.script(
            "evaluate",
            [
                "--model-dir",
                str(self.work / "output"),
                "--test-dir",
                str(self.work / "data" / "test"),
                "--output-dir",
                str(self.work / "evaluation"),
                *champion.evaluate_arguments(self.cfg, self.champion_archive, self.champion_source),
            ],
        )
        report = json.loads((self.work / "evaluation" / "evaluation.json").read_text())
        self.metrics = {
            name: entry["value"]
            for name, entry in report["binary_classification_metrics"].items()
            if isinstance(entry, dict) and isinstance(entry.get("value"), int | float)
        }
        return ", ".join(f"{k} {v:.4f}" for k, v in self.metrics.items())

    def gate(self) -> str:
        value = read_metric(self.work / "evaluation" / "evaluation.json", self.metric)
        detail = apply_gate(value, self.threshold, self.metric)
        return champion.gate(self.work / "evaluation" / "evaluation.json", detail)

    def serve(self) -> str:
        """Start the server on a free port and wait until it says where it serves."""
        assert self.runner is not None
        log = self.work / "server.log"
        module = f"{__package__}.server"
        self.server = self.runner.spawn(
            module, self.server_args(), SOURCE_ROOT, log, DATA_IMPORTS + self.framework_imports()
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            text = log.read_text(errors="replace") if log.exists() else ""
            found = SERVING.search(text)
            if found:
                self.url = found.group("url")
                return self.url
            status = self.server.poll()
            if status is not None:
                lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
                raise StepFailed(f"model server exited {status}: {lines[-1] if lines else 'no output'}")
            if time.monotonic() > deadline:
                raise StepFailed(f"model server did not start in {SERVER_START_SECONDS} s (see {show(log)})")
            time.sleep(0.02)

    def server_args(self) -> list[str]:
        args = ["--model", str(self.work / "output" / "model.tar.gz"), "--port", "0", "--quiet"]
        if self.async_mode:
            args += ["--async-dir", str(self.work / "async")]
        return args

    def invoker(self) -> Invoker:
        """The endpoint tests' invoker: the asynchronous contract with --async, else HTTP."""
        if self.async_mode:
            return async_invoker.local(self.url, self.work / "async")
        return HttpInvoker(self.url)

    @property
    def batch_only(self) -> bool:
        """A batch-only project (endpoint type "none"): its tests are a transform job's."""
        return self.cfg.environment("qa").endpoint.batch_only

    def endpoint_tests(self) -> str:
        thresholds = self.cfg.tests_for("local")
        samples = load_samples(self.work / "data" / "test" / "test.csv", self.n_samples, self.target)
        if self.batch_only:
            from ..batch import transform_test  # botocore-backed: only a batch-only project needs it

            self.suite = transform_test.rehearse(self.cfg, self.url, samples, thresholds)
        else:
            self.suite = run_suite(capturing(self.invoker(), self.work), samples, thresholds)
        ok = sum(c.passed for c in self.suite.checks)
        detail = f"{ok}/{len(self.suite.checks)} checks passed"
        if not self.suite.passed:
            failed = self.suite.failures()[0]
            raise StepFailed(f"endpoint test {failed.name!r} failed: {failed.detail}")
        return detail

    def monitoring(self) -> str:
        """Data-quality baseline on the train split; the captured traffic (and --shifted) checked."""
        if self.batch_only:
            return "skipped: batch-only (no endpoint, no captured traffic; docs/inference-modes.md)"
        self.monitor = Monitor(self.cfg, self.work, self.url, self.n_samples, self.say, self.invoker())
        return self.monitor.run(self.shifted)

    def run(self) -> int:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        self.say(
            f"Local rehearsal: framework {self.framework}, data {show(self.data)}, "
            f"work dir {show(self.work)}, gate {self.metric} >= {self.threshold:g}"
        )
        self.champion_archive = champion.stage(self.champion_source, self.work)
        for name in OWNED:
            target = self.work / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        (self.work / "input").mkdir(parents=True)
        self.runner = make_runner(self.fresh_processes)
        try:
            for number, result in enumerate(self.steps, start=1):
                label = f"[{number}/{len(self.steps)}] {result.name:<15}"
                self.say(f"{label} running")
                step_start = time.perf_counter()
                try:
                    result.detail = getattr(self, result.name.replace(" ", "_"))()
                    result.status = "ok"
                except StepFailed as exc:
                    result.status, result.detail = "FAILED", str(exc)
                    self.reason = str(exc)
                except Exception as exc:  # any other error still ends with a one-line reason
                    result.status, result.detail = "FAILED", f"{type(exc).__name__}: {exc}"
                    self.reason = f"{result.name}: {result.detail}"
                result.seconds = time.perf_counter() - step_start
                self.say(f"{label} {result.status:<7} {result.seconds:6.2f} s")
                if result.status != "ok":
                    break
        finally:
            try:
                if self.server is not None:
                    self.server.stop()
            finally:
                self.runner.close()
        total = time.perf_counter() - started
        self.run_dir = history.new_run_dir(self.work, started_at)
        self.write_reports(total)
        self.say(self.summary_text(total))
        if self.reason:
            cli_support.error(f"rehearsal failed: {self.reason}")
            sys.stderr.flush()
            return cli_support.EXIT_FAILED
        self.say(f"rehearsal passed in {total:.1f} s")
        return cli_support.EXIT_OK

    def summary_text(self, total: float) -> str:
        return summary(self.steps, total, self.metrics, self.suite, self.work, self.run_dir)

    def write_reports(self, total: float) -> None:
        report = {
            "passed": not self.reason,
            "reason": self.reason,
            "framework": self.framework,
            "data": str(self.data),
            "gate": {
                "metric": self.metric,
                "threshold": self.threshold,
                "value": self.metrics.get(self.metric),
            },
            "metrics": self.metrics,
            "steps": step_rows(self.steps),
            "total_seconds": round(total, 3),
            "endpoint_tests": self.suite.to_dict() if self.suite else None,
            "monitoring": self.monitor.summary() if self.monitor else None,
        }
        assert self.run_dir is not None
        params = dict(self.cfg.model.hyperparameters.get(self.framework) or {})
        facts = RunFacts(self.run_dir.name, self.framework, params, self.overrides)
        schema = self.work / "data" / "train" / "schema.json"
        write_reports(self.work, report, self.steps, self.suite, facts, schema)
        kept = {name: self.work / name for name in history.KEPT}
        kept.update({"evaluation.json": self.work / "evaluation" / "evaluation.json", "schema.json": schema})
        kept.update(kept_files(self.work))
        history.keep(self.run_dir, kept)
        champion.keep_model(self.run_dir, self.work, not self.reason)


def parser() -> argparse.ArgumentParser:
    """The rehearsal's command line (local/cli.py)."""
    from .cli import parser as cli_parser  # it imports this module

    return cli_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m <package> local`: the rehearsal, or `local compare` (local/cli.py)."""
    from .cli import main as cli_main  # it imports this module

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
