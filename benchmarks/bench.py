"""Time the product's user-facing operations on this machine and print a Markdown table.

Measured (median of --runs, each a fresh process):
  bake              cookiecutter --no-input with the default answers
  make check        the generated repo's lint + format check + tests
  make local        the generated repo's local rehearsal, end to end
  definition        building the SageMaker pipeline definition JSON (offline, moto in-process)

Run with the template's venv: `.venv/bin/python benchmarks/bench.py --runs 5`.
Figures are printed, never asserted: tests stay free of timing thresholds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent


def timed(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(runs: int, fn) -> tuple[float, list[float]]:
    samples = [fn(i) for i in range(runs)]
    return statistics.median(samples), samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check-runs", type=int, default=3, help="runs of the slower `make check`")
    parser.add_argument("--framework", default="sklearn", choices=["sklearn", "xgboost"])
    parser.add_argument("--skip", nargs="*", default=[], help="operations to leave out")
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    cookiecutter = str(VENV / "bin" / "cookiecutter")
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    answers = [f"framework={args.framework}"]

    def bake(i: int) -> float:
        return timed([cookiecutter, "--no-input", "-o", str(work / f"bake{i}"), str(TEMPLATE), *answers], env=env)

    rows = []
    if "bake" not in args.skip:
        rows.append(("bake (cookiecutter --no-input)", *median_of(args.runs, bake)))
    else:
        bake(0)
    repo = next((work / "bake0").iterdir())
    make = ["make", "-C", str(repo), f"VENV={VENV}"]
    ops = {
        "make check": [*make, "check"],
        "make local": [*make, "local"],
        "definition": [*make, "definition"],
    }
    for name, cmd in ops.items():
        if name not in args.skip:
            runs = args.check_runs if name == "make check" else args.runs
            rows.append((name, *median_of(runs, lambda _i, c=cmd: timed(c, env=env))))

    print(
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, framework {args.framework}, "
        f"{args.runs} runs each ({args.check_runs} of make check)\n"
    )
    print("| operation | median (s) | runs (s) |")
    print("|---|---:|---|")
    for name, median, samples in rows:
        print(f"| {name} | {median:.2f} | {', '.join(f'{s:.2f}' for s in samples)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
