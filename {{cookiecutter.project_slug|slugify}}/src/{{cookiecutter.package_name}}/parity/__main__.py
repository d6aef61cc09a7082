"""`python -m <package>.parity` (make parity): the step scripts and the serving handler under the
Python and library versions of the framework images the pipeline names. See run.py and
docs/local.md. Exit status: 0 every run passed, 1 one failed or an environment could not be
built, 2 bad arguments or config."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .. import cli_support
from ..config import REPO_ROOT, ConfigError, load_config
from .images import ParityError, ensure_env, image_for
from .run import datasets, format_outcome, log, report, run_dataset


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli_support.Parser(
        prog=cli_support.prog(f"python -m {__package__}"),
        description="Run the step scripts and the serving handler in the framework images' versions.",
    )
    parser.add_argument(
        "--framework",
        action="append",
        choices=("sklearn", "xgboost"),
        help="only this framework (repeatable); default every framework of pipeline.framework_versions",
    )
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "data" / "sample.csv", help="labelled table")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "build" / "parity")
    parser.add_argument("--report", type=Path, help="JSON report (default <work-dir>/report.json)")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        cfg = load_config()
    except ConfigError as exc:
        return cli_support.fail(f"parity: {exc}", cli_support.EXIT_USAGE)
    if not args.data.is_file():
        return cli_support.fail(f"parity: data file {args.data} not found", cli_support.EXIT_USAGE)
    frameworks = args.framework or sorted(cfg.pipeline.framework_versions)
    started = time.perf_counter()
    outcomes, builds = [], {}
    try:
        images = [image_for(f, cfg.pipeline.framework_versions[f]) for f in frameworks]
        for image in images:
            log(f"{image.name}: Python {image.python}, {', '.join(image.packages[:3])}")
            python, builds[image.name] = ensure_env(image, args.work_dir / "envs", log)
            for name, source, preprocess_args in datasets(cfg, args.data, args.work_dir):
                work = args.work_dir / "runs" / image.name / name.replace(".", "-")
                shutil.rmtree(work, ignore_errors=True)
                outcome = run_dataset(cfg, image, python, name, source, preprocess_args, work)
                outcomes.append(outcome)
                for line in format_outcome(outcome):
                    print(line, flush=True)
    except (ParityError, KeyError) as exc:
        return cli_support.fail(f"parity: {exc}")
    elapsed = time.perf_counter() - started
    result = report(outcomes, builds, elapsed)
    path = args.report or args.work_dir / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    passed = sum(o.passed for o in outcomes)
    print(f"parity: {passed}/{len(outcomes)} runs passed in {elapsed:.0f} s (report: {path})")
    return cli_support.EXIT_OK if result["passed"] else cli_support.EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
