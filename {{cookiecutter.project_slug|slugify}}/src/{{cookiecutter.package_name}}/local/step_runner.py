"""How the rehearsal runs a step script (and the model server): in a warm worker (default) or in
a new interpreter.

Both give the step what `python steps/<name>.py ARGS` in a SageMaker container gives it: its own
argv, environment (SM_* variables added), working directory and process, and report its exit
status and output. WarmRunner sends each step to step_worker.py, which imports pandas and the
framework once and forks a clean child per step (POSIX); FreshRunner starts a new interpreter
per step (slower: each one imports pandas and the framework again; the fallback without fork).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

WORKER = Path(__file__).resolve().with_name("step_worker.py")
# Extra seconds the rehearsal waits for the worker's answer beyond the step's own timeout.
WORKER_GRACE_SECONDS = 60.0
# Seconds a stopped service gets to end after SIGTERM before it is killed.
STOP_SECONDS = 10.0


class RunnerError(RuntimeError):
    """The warm worker died or stopped answering (not a step failure)."""


@dataclass
class StepOutput:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


class Service(Protocol):
    """A long-running child (the model server): poll() is None while it runs, stop() ends it."""

    def poll(self) -> int | None: ...

    def stop(self) -> int | None: ...


class StepRunner(Protocol):
    def run(
        self, script: Path, args: list[str], env: dict[str, str], preload: list[str], timeout: float
    ) -> StepOutput: ...

    def spawn(self, module: str, args: list[str], path: Path, log: Path, preload: list[str]) -> Service:
        """`python -m module ARGS` with path first on sys.path, output appended to log."""
        ...

    def close(self) -> None: ...


class FreshRunner:
    """One new interpreter per step (subprocess), the rehearsal's environment plus the step's."""

    def run(
        self, script: Path, args: list[str], env: dict[str, str], preload: list[str], timeout: float
    ) -> StepOutput:
        try:
            done = subprocess.run(  # noqa: S603 - our own step script, no shell
                [sys.executable, str(script), *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, **env},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return StepOutput(-9, _text(exc.stdout), _text(exc.stderr), timed_out=True)
        return StepOutput(done.returncode, done.stdout, done.stderr)

    def spawn(self, module: str, args: list[str], path: Path, log: Path, preload: list[str]) -> Service:
        pythonpath = os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", module, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": pythonpath},
            )
        return FreshService(process)

    def close(self) -> None:
        pass


class FreshService:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class WarmRunner:
    """Steps forked from one warm step_worker.py process, started on the first step."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            self._process = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
                [sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,  # the worker's own errors (not a step's) reach the terminal
            )
        return self._process

    def run(
        self, script: Path, args: list[str], env: dict[str, str], preload: list[str], timeout: float
    ) -> StepOutput:
        request = {"script": str(script), "argv": args, "env": env, "preload": preload, "timeout": timeout}
        answer = self.ask(request, timeout + WORKER_GRACE_SECONDS)
        return StepOutput(answer["returncode"], answer["stdout"], answer["stderr"], answer["timed_out"])

    def spawn(self, module: str, args: list[str], path: Path, log: Path, preload: list[str]) -> Service:
        request = {"spawn": True, "module": module, "path": [str(path)], "argv": args, "log": str(log)}
        answer = self.ask({**request, "preload": preload}, WORKER_GRACE_SECONDS)
        return WarmService(self, int(answer["pid"]))

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request (run in this process's working directory) and read the answer."""
        process = self._start()
        assert process.stdin is not None
        try:
            process.stdin.write((json.dumps({"cwd": os.getcwd(), **request}) + "\n").encode())
            process.stdin.flush()
        except OSError as exc:
            raise RunnerError(f"the step worker is gone (exit status {process.poll()})") from exc
        return json.loads(self._read_line(timeout))

    def _read_line(self, timeout: float) -> bytes:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                self.close()
                raise RunnerError(f"the step worker gave no answer in {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                status = self._process.wait()
                raise RunnerError(f"the step worker exited {status} without an answer")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def close(self) -> None:
        """Stop the worker (closing its stdin ends it; it is killed if it does not end)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # already gone
                process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class WarmService:
    def __init__(self, runner: WarmRunner, pid: int) -> None:
        self.runner, self.pid = runner, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.runner.ask({"poll": self.pid}, WORKER_GRACE_SECONDS)["returncode"]
        return self.returncode

    def stop(self) -> int | None:
        if self.returncode is None:
            answer = self.runner.ask(
                {"stop": self.pid, "timeout": STOP_SECONDS}, STOP_SECONDS + WORKER_GRACE_SECONDS
            )
            self.returncode = answer["returncode"]
        return self.returncode


def make_runner(fresh_processes: bool = False) -> StepRunner:
    """The warm worker where os.fork exists, unless fresh_processes asks for one interpreter per step."""
    if fresh_processes or not hasattr(os, "fork"):
        return FreshRunner()
    return WarmRunner()


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
