"""A warm process that runs the step scripts for the local rehearsal, one fork per step.

Started by step_runner.WarmRunner as `python step_worker.py` (standard library only; it imports
nothing of the package). Most of a step's seconds in a fresh interpreter go to importing pandas
and scikit-learn or xgboost; this process imports them once (the modules a request names in
"preload", which are the ones the step imports anyway) and then forks. Each step runs in its own
child, as `python steps/<name>.py ARGS` would: its own argv, working directory, environment and
sys.path[0], run as __main__, its output captured, and nothing it imports or changes reaching the
next step (the child exits; the worker never runs step code itself).

Protocol: one JSON request per line on stdin, one JSON answer per line on the original stdout:
    {"script": PATH, "argv": [...], "env": {...}, "cwd": PATH, "preload": [...], "timeout": SECONDS}
        -> {"returncode": N, "stdout": TEXT, "stderr": TEXT, "timed_out": BOOL}   (a step, run to its end)
    {"spawn": true, "module": NAME, "path": [...], "argv": [...], "log": PATH, ...} -> {"pid": N}
    {"poll": PID} -> {"returncode": N or null};  {"stop": PID, "timeout": SECONDS} -> {"returncode": N, ...}
A spawned child (the model server, `python -m <package>.local.server`) runs until stopped, its
output appended to the log file.
Exit status of a step follows the interpreter's rules: SystemExit(None) 0, SystemExit(int) that
number, SystemExit(text) prints the text on stderr and exits 1, any other exception prints its
traceback and exits 1, a signal gives -SIGNUM. POSIX only (os.fork); elsewhere the rehearsal runs
each step in a new interpreter.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import signal
import sys
import tempfile
import time
import traceback
from typing import Any

POLL_SECONDS = 0.01
SPAWNED: set[int] = set()
ANSWER_FDS: list[int] = []  # the worker's answer channel, closed in every child


def _exit_status(exc: SystemExit) -> int:
    """What the interpreter exits with for an uncaught SystemExit."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def run_step(request: dict[str, Any]) -> int:
    """Run one step script (or a module, like `python -m`) as __main__ in this (child) process;
    its exit status."""
    script = request.get("script")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd in ANSWER_FDS:
        os.close(fd)
    stdin = os.open(os.devnull, os.O_RDONLY)  # the requests stay the worker's
    os.dup2(stdin, 0)
    os.close(stdin)
    os.environ.update(request.get("env") or {})
    if request.get("cwd"):
        os.chdir(request["cwd"])
    sys.argv = [script or request["module"], *request.get("argv", [])]
    if script:
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))  # as `python script.py` does
    else:
        sys.path[:0] = request.get("path") or []  # where the module's package is, as PYTHONPATH would
    try:
        if script:
            runpy.run_path(script, run_name="__main__")
        else:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return _exit_status(exc)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _preload(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - the step imports it itself and reports the error
            continue


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    """(exit status, timed out) of the child; past the timeout it is killed."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status), True
        time.sleep(POLL_SECONDS)


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Preload, fork, run the step in the child, collect its output: the answer to one request."""
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            _preload(request.get("preload") or [])  # its warnings belong to this step's output
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child: run the step and leave without returning to the loop
                status = 1
                try:
                    status = run_step(request)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(status & 0xFF)  # what the interpreter does with sys.exit(N)
            returncode, timed_out = _wait(pid, float(request.get("timeout") or 600))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return {
            "returncode": returncode,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
            "timed_out": timed_out,
        }


def spawn(request: dict[str, Any]) -> dict[str, Any]:
    """Start a long-running child (the model server) with its output appended to request["log"];
    the answer is its pid, for "poll" and "stop" requests."""
    _preload(request.get("preload") or [])
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
            status = run_step(request)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status & 0xFF)
    SPAWNED.add(pid)
    return {"pid": pid}


def poll(pid: int) -> dict[str, Any]:
    """{"returncode": N} once a spawned child has ended, None while it runs."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if not done:
        return {"returncode": None}
    SPAWNED.discard(pid)
    return {"returncode": os.waitstatus_to_exitcode(status)}


def stop(pid: int, timeout: float) -> dict[str, Any]:
    """SIGTERM a spawned child and wait for it (SIGKILL after timeout seconds)."""
    if pid not in SPAWNED:
        return {"returncode": None, "timed_out": False}
    SPAWNED.discard(pid)
    os.kill(pid, signal.SIGTERM)
    returncode, timed_out = _wait(pid, timeout)
    return {"returncode": returncode, "timed_out": timed_out}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("spawn"):
        return spawn(request)
    if "poll" in request:
        return poll(int(request["poll"]))
    if "stop" in request:
        return stop(int(request["stop"]), float(request.get("timeout") or 10))
    return handle(request)


def main() -> int:
    # Answers go to a private copy of stdout; anything else printed here goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    ANSWER_FDS.append(answers.fileno())
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the rehearsal's to handle; it closes stdin
    del sys.path[0]  # this file's folder; each step puts its own first
    for line in sys.stdin:
        if not line.strip():
            continue
        answers.write(json.dumps(answer(json.loads(line))) + "\n")
        answers.flush()
    for pid in list(SPAWNED):  # the rehearsal stops what it spawned; this is the last resort
        stop(pid, 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
