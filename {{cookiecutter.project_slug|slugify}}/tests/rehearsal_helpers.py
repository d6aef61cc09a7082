"""Whole rehearsals as the Makefile runs them, each run once per test session and shared by the
test modules that only read what it wrote (test_rehearsal.py, test_local_monitoring_rehearsal.py).

Under pytest-xdist the first worker that needs a run starts it and any other worker reads its
result (a lock file and a JSON record in the session's shared temporary folder), so no two
workers run the same rehearsal, and runs that are still missing are started side by side.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_helpers import ROOT

Run = tuple[subprocess.CompletedProcess, Path]

# Runs made in this process, by name (without pytest-xdist every module reads them from here).
_DONE: dict[str, Run] = {}


def _start(folder: Path, wanted: dict[str, list[str]]) -> dict[str, Run]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    started = {}
    for name, args in wanted.items():
        work = folder / name
        command = [sys.executable, *args, "--work-dir", str(work)]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started[name] = (process, command, work)
    results = {}
    for name, (process, command, work) in started.items():
        out, err = process.communicate(timeout=600)
        results[name] = (subprocess.CompletedProcess(command, process.returncode, out, err), work)
    return results


def rehearsals(tmp_path_factory: pytest.TempPathFactory, wanted: dict[str, list[str]]) -> dict[str, Run]:
    """`wanted`: run name -> the interpreter's arguments (`--work-dir <folder>/<name>` is added).
    A name always stands for the same arguments; each is run once per session."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        missing = {name: args for name, args in wanted.items() if name not in _DONE}
        if missing:
            _DONE.update(_start(tmp_path_factory.mktemp("rehearsals"), missing))
        return {name: _DONE[name] for name in wanted}
    shared = tmp_path_factory.getbasetemp().parent
    with (shared / "rehearsals.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "rehearsals.json"
        done = json.loads(saved.read_text()) if saved.is_file() else {}
        missing = {name: args for name, args in wanted.items() if name not in done}
        if missing:
            folder = shared / "rehearsals"
            folder.mkdir(exist_ok=True)
            for name, (result, work) in _start(folder, missing).items():
                done[name] = (vars(result), str(work))
            saved.write_text(json.dumps(done))
    return {
        name: (
            subprocess.CompletedProcess(r["args"], r["returncode"], r["stdout"], r["stderr"]),
            Path(work),
        )
        for name, (r, work) in ((name, done[name]) for name in wanted)
    }
