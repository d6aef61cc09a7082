"""Local rehearsal (`make local`): the pipeline's path on the sample data, in seconds, with no AWS.

It runs the same step scripts the SageMaker pipeline runs, as subprocesses with SageMaker's
container conventions (arguments, SM_MODEL_DIR, SM_CHANNEL_*), into build/local/:

  preprocess -> train -> package (model.tar.gz, as SageMaker packs SM_MODEL_DIR) -> evaluate
  -> gate (config pipeline.metric >= pipeline.metric_threshold, as the pipeline's ConditionStep)
  -> serve (local/server.py on 127.0.0.1, the handler packed in model.tar.gz)
  -> endpoint tests (the suite the QA and prod deploys run, thresholds from environments.local.tests)

Progress is printed per step, then a summary table; report.json and report.md land in the
work dir. It exits 0 when every step passes and 1 with a one-line reason otherwise (for a
failed gate: "metric auc = 0.95 < threshold 0.99"); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from ..config import FRAMEWORKS, REPO_ROOT, Config, ConfigError, load_config
from ..endpoint_tests.suite import (
    HttpInvoker,
    SuiteReport,
    format_text,
    load_samples,
    run_suite,
)
from .server import ModelServer, ServerError

STEPS_DIR = Path(__file__).resolve().parents[1] / "steps"
STEP_TIMEOUT_SECONDS = 600
STEP_NAMES = ("preprocess", "train", "package", "evaluate", "gate", "serve", "endpoint tests")
# Folders and files of the work dir that a run owns and clears first; nothing else is deleted.
OWNED = ("input", "data", "model", "output", "evaluation", "report.json", "report.md")


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
        n_samples: int = 100,
        out: TextIO = sys.stdout,
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
        self.steps = [StepResult(name) for name in STEP_NAMES]
        self.metrics: dict[str, float] = {}
        self.suite: SuiteReport | None = None
        self.reason = ""
        self.server: ModelServer | None = None
        self._loader: threading.Thread | None = None
        self._load_error: BaseException | None = None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def script(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        """Run steps/<name>.py with the current interpreter; StepFailed carries its last error line."""
        command = [sys.executable, str(STEPS_DIR / f"{name}.py"), *args]
        try:
            done = subprocess.run(  # noqa: S603 - our own step script, no shell
                command,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_SECONDS,
                env={**os.environ, **(env or {})},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"{name}.py ran longer than {STEP_TIMEOUT_SECONDS} s") from exc
        for line in (done.stdout + done.stderr).splitlines():
            if line.strip():
                self.say(f"      | {line}")
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1] if lines else "no error output"
            raise StepFailed(f"{name}.py exited {done.returncode}: {last}")

    # The steps, in order. Each returns a short detail for the summary or raises StepFailed.

    def preprocess(self) -> str:
        if not self.data.is_file():
            raise StepFailed(f"data file {self.data} not found")
        shutil.copy2(self.data, self.work / "input" / self.data.name)
        self.script(
            "preprocess",
            [
                "--input-dir",
                str(self.work / "input"),
                "--output-dir",
                str(self.work / "data"),
                "--target",
                self.target,
            ],
        )
        return f"{self.data.name} -> train/validation/test"

    def train(self) -> str:
        env = {
            "SM_MODEL_DIR": str(self.work / "model"),
            "SM_CHANNEL_TRAIN": str(self.work / "data" / "train"),
            "SM_CHANNEL_VALIDATION": str(self.work / "data" / "validation"),
        }
        self.script("train", hyperparameter_args(self.cfg, self.framework), env)
        return f"{self.framework}, {', '.join(sorted(p.name for p in (self.work / 'model').iterdir()))}"

    def package(self) -> str:
        archive = pack_model(self.work / "model", self.work / "output" / "model.tar.gz")
        # Loading the model (framework import and model_fn) is the slow part of serving; it runs
        # while evaluate runs and is used only if the gate passes.
        self.server = ModelServer(archive)
        self._loader = threading.Thread(target=self._load, name="model-loader", daemon=True)
        self._loader.start()
        return f"{archive.relative_to(self.work)} ({archive.stat().st_size // 1024} KiB)"

    def _load(self) -> None:
        try:
            assert self.server is not None
            self.server.load()
        except Exception as exc:  # reported by the serve step
            self._load_error = exc

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
            ],
        )
        report = json.loads((self.work / "evaluation" / "evaluation.json").read_text())
        self.metrics = {k: v["value"] for k, v in report["binary_classification_metrics"].items()}
        return ", ".join(f"{k} {v:.4f}" for k, v in self.metrics.items())

    def gate(self) -> str:
        value = read_metric(self.work / "evaluation" / "evaluation.json", self.metric)
        return apply_gate(value, self.threshold, self.metric)

    def serve(self) -> str:
        assert self.server is not None and self._loader is not None
        self._loader.join()
        if self._load_error is not None:
            raise StepFailed(f"model server: {self._load_error}")
        try:
            self.server.start()
        except (ServerError, OSError) as exc:
            raise StepFailed(f"model server: {exc}") from exc
        return self.server.url

    def endpoint_tests(self) -> str:
        assert self.server is not None
        thresholds = self.cfg.tests_for("local")
        samples = load_samples(self.work / "data" / "test" / "test.csv", self.n_samples, self.target)
        self.suite = run_suite(HttpInvoker(self.server.url), samples, thresholds)
        ok = sum(c.passed for c in self.suite.checks)
        detail = f"{ok}/{len(self.suite.checks)} checks passed"
        if not self.suite.passed:
            failed = self.suite.failures()[0]
            raise StepFailed(f"endpoint test {failed.name!r} failed: {failed.detail}")
        return detail

    def run(self) -> int:
        started = time.perf_counter()
        self.say(
            f"Local rehearsal: framework {self.framework}, data {_show(self.data)}, "
            f"work dir {_show(self.work)}, gate {self.metric} >= {self.threshold:g}"
        )
        for name in OWNED:
            target = self.work / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        (self.work / "input").mkdir(parents=True)
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
            if self._loader is not None:
                self._loader.join()
            if self.server is not None:
                self.server.stop()
        total = time.perf_counter() - started
        self.say(self.summary(total))
        self.write_reports(total)
        if self.reason:
            print(f"rehearsal failed: {self.reason}", file=sys.stderr, flush=True)
            return 1
        self.say(f"rehearsal passed in {total:.1f} s")
        return 0

    def summary(self, total: float) -> str:
        lines = ["", "Summary", f"  {'step':<15} {'status':<8} {'seconds':>8}  detail"]
        for s in self.steps:
            lines.append(f"  {s.name:<15} {s.status:<8} {s.seconds:8.2f}  {s.detail}")
        lines.append(f"  {'total':<15} {'':<8} {total:8.2f}")
        if self.metrics:
            lines += ["", "Metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in self.metrics.items())]
        if self.suite is not None:
            lat, t = self.suite.latency, self.suite.thresholds
            lines += [
                "",
                "Endpoint checks:",
                format_text(self.suite),
                f"Latency: {lat['requests']} requests, p50 {lat['p50_ms']:.1f} ms (max {t['max_p50_ms']:g}), "
                f"p95 {lat['p95_ms']:.1f} ms (max {t['max_p95_ms']:g}), "
                f"error rate {lat['error_rate']:.1%} (max {t['max_error_rate']:.1%})",
            ]
        lines += ["", f"Reports: {_show(self.work / 'report.json')}, {_show(self.work / 'report.md')}"]
        return "\n".join(lines)

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
            "steps": [asdict(s) | {"seconds": round(s.seconds, 3)} for s in self.steps],
            "total_seconds": round(total, 3),
            "endpoint_tests": self.suite.to_dict() if self.suite else None,
        }
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        verdict = "PASSED" if not self.reason else f"FAILED: {self.reason}"
        md = [
            f"## Local rehearsal {verdict}",
            "",
            "| step | status | seconds | detail |",
            "|---|---|---|---|",
            *(
                f"| {s.name} | {s.status} | {s.seconds:.2f} | {s.detail.replace('|', '/')} |"
                for s in self.steps
            ),
            "",
        ]
        if self.suite is not None:
            md.append(self.suite.to_markdown())
        (self.work / "report.md").write_text("\n".join(md) + "\n")


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold {text} is not between 0 and 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.rehearsal", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--work-dir", type=Path, default=REPO_ROOT / "build" / "local", help="default build/local"
    )
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "data" / "sample.csv", help="labelled CSV")
    parser.add_argument("--framework", choices=FRAMEWORKS, help="override config model.framework")
    parser.add_argument("--threshold", type=_fraction, help="override config pipeline.metric_threshold")
    parser.add_argument("--samples", type=int, default=100, help="labelled test rows the endpoint tests send")
    args = parser.parse_args(argv)
    try:
        cfg = load_config()
    except ConfigError as exc:
        print(f"rehearsal failed: {exc}", file=sys.stderr)
        return 1
    threshold = args.threshold if args.threshold is not None else cfg.pipeline.metric_threshold
    rehearsal = Rehearsal(
        cfg,
        work_dir=args.work_dir.resolve(),
        data=args.data.resolve(),
        framework=args.framework or cfg.model.framework,
        threshold=threshold,
        n_samples=args.samples,
    )
    return rehearsal.run()


if __name__ == "__main__":
    sys.exit(main())
