"""How the rehearsal runs step scripts: the warm worker (forked per step) gives each step what a new
interpreter gives it, `python steps/<name>.py ARGS` in a container, and both runners report alike."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from model_helpers import module

step_runner = module("local.step_runner")

REPORT = """
import json, os, sys
print(json.dumps({
    "argv": sys.argv, "cwd": os.getcwd(), "path0": sys.path[0], "name": __name__, "file": __file__,
    "sm_model_dir": os.environ.get("SM_MODEL_DIR"), "home": os.environ.get("HOME"),
    "stdin": sys.stdin.read(),
}))
"""


@pytest.fixture(params=["warm", "fresh"])
def runner(request):
    runner = step_runner.WarmRunner() if request.param == "warm" else step_runner.FreshRunner()
    yield runner
    runner.close()


def script(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


def test_a_step_gets_its_own_argv_environment_cwd_and_path(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    step = script(tmp_path / "steps", "report.py", REPORT)
    done = runner.run(step, ["--a", "1"], {"SM_MODEL_DIR": "/opt/ml/model"}, ["json"], 30)
    assert (done.returncode, done.stderr, done.timed_out) == (0, "", False)
    seen = json.loads(done.stdout)
    assert seen == {
        "argv": [str(step), "--a", "1"],
        "cwd": str(tmp_path),
        "path0": str(step.parent),
        "name": "__main__",
        "file": str(step),
        "sm_model_dir": "/opt/ml/model",
        "home": os.environ.get("HOME"),
        "stdin": "",  # nothing to read: the warm worker's requests stay its own
    }
    # The step's environment does not outlive it.
    again = json.loads(runner.run(step, [], {}, [], 30).stdout)
    assert again["sm_model_dir"] == os.environ.get("SM_MODEL_DIR")
    assert again["argv"] == [str(step)]


def test_nothing_a_step_imports_or_changes_reaches_the_next_one(runner, tmp_path):
    steps = tmp_path / "steps"
    script(steps, "helper.py", "VALUE = 1\n")
    first = script(
        steps,
        "first.py",
        """
        import json, sys, helper
        helper.VALUE = 2
        json.marker = "left by first"
        print("first", helper.VALUE)
        """,
    )
    second = script(
        steps,
        "second.py",
        """
        import json, sys
        print(sorted(m for m in ("helper", "first") if m in sys.modules), hasattr(json, "marker"))
        """,
    )
    assert runner.run(first, [], {}, ["json"], 30).stdout == "first 2\n"
    assert runner.run(second, [], {}, ["json"], 30).stdout == "[] False\n"


@pytest.mark.parametrize(
    ("code", "returncode", "last_error_line"),
    [
        ("print('fine')", 0, None),
        ("raise SystemExit('preprocess: no .csv file in /data')", 1, "preprocess: no .csv file in /data"),
        ("import sys; sys.exit(3)", 3, None),
        ("raise SystemExit(None)", 0, None),
        ("raise ValueError('bad value')", 1, "ValueError: bad value"),
    ],
)
def test_exit_status_and_errors_are_those_of_the_interpreter(
    runner, tmp_path, code, returncode, last_error_line
):
    done = runner.run(script(tmp_path, "step.py", code + "\n"), [], {}, [], 30)
    assert done.returncode == returncode
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert (lines[-1] if lines else None) == last_error_line
    if last_error_line and last_error_line.startswith("ValueError"):
        assert lines[0] == "Traceback (most recent call last):"


def test_a_step_past_its_timeout_is_stopped(runner, tmp_path):
    done = runner.run(
        script(tmp_path, "slow.py", "import time\nprint('started', flush=True)\ntime.sleep(30)\n"),
        [],
        {},
        [],
        0.5,
    )
    assert done.timed_out and done.returncode != 0


def test_the_warm_worker_survives_a_missing_preload_and_reports_its_own_death(tmp_path):
    runner = step_runner.WarmRunner()
    try:
        step = script(tmp_path, "step.py", "print('ran')\n")
        assert runner.run(step, [], {}, ["no_such_module_for_the_worker"], 30).stdout == "ran\n"
        runner._process.kill()
        with pytest.raises(step_runner.RunnerError, match="step worker"):
            runner.run(step, [], {}, [], 30)
    finally:
        runner.close()


def test_the_runner_is_warm_where_fork_exists(monkeypatch):
    assert isinstance(step_runner.make_runner(fresh_processes=True), step_runner.FreshRunner)
    expected = step_runner.WarmRunner if hasattr(os, "fork") else step_runner.FreshRunner
    assert isinstance(step_runner.make_runner(), expected)
    monkeypatch.delattr(os, "fork", raising=False)
    assert isinstance(step_runner.make_runner(), step_runner.FreshRunner)


SERVICE = """
import signal, sys, time
def stop(signum, frame):
    print("stopping", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", sys.argv[1:], __name__, flush=True)
while True:
    time.sleep(0.05)
"""


def wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_spawned_service_runs_as_python_m_until_stopped(runner, tmp_path):
    script(tmp_path / "src", "svc_for_runner.py", SERVICE)
    log = tmp_path / "service.log"
    service = runner.spawn("svc_for_runner", ["--port", "0"], tmp_path / "src", log, ["json"])
    try:
        wait_for(lambda: log.exists() and "ready" in log.read_text())
        assert service.poll() is None
        assert log.read_text() == "ready ['--port', '0'] __main__\n"
    finally:
        assert service.stop() == 0
    assert log.read_text().endswith("stopping\n")
    assert service.poll() == 0


def test_a_spawned_service_that_fails_reports_its_status(runner, tmp_path):
    script(tmp_path / "src", "broken_for_runner.py", "raise SystemExit('error: cannot serve')\n")
    log = tmp_path / "service.log"
    service = runner.spawn("broken_for_runner", [], tmp_path / "src", log, [])
    wait_for(lambda: service.poll() is not None)
    assert service.poll() == 1
    assert log.read_text() == "error: cannot serve\n"
    service.stop()
