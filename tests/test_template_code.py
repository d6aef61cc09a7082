"""The template's own Python (hooks, tests, benchmarks) meets the gate it gives generated repos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATE

RUFF = str(Path(sys.executable).parent / "ruff")
PATHS = ["hooks", "tests", "benchmarks"]


def test_ruff_lint_is_clean():
    result = subprocess.run([RUFF, "check", *PATHS], cwd=TEMPLATE, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ruff_format_leaves_no_diff():
    result = subprocess.run([RUFF, "format", "--check", *PATHS], cwd=TEMPLATE, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
