"""Attacks on the batch and async inference modes: what a user or a hostile input would hit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from deploy_helpers import ROOT

PACKAGE = next(p.name for p in (ROOT / "src").iterdir() if (p / "batch").is_dir())

# Runs `python -m <package> batch plan` with boto3 and botocore unimportable, as batch.yml's plan
# job does (setup-python and nothing installed), and prints the non-standard modules it loaded.
BLOCKED_RUN = """
import runpy, sys
sys.modules["boto3"] = None
sys.modules["botocore"] = None
before = set(sys.modules)
sys.argv = [sys.argv[0], "batch", "plan", "--github-output"]
try:
    runpy.run_module("PACKAGE", run_name="__main__")
except SystemExit as exc:
    code = exc.code
new = set(m.split(".")[0] for m in set(sys.modules) - before if sys.modules[m] is not None)
print(sorted(new - set(sys.stdlib_module_names) - set(["PACKAGE"])), file=sys.stderr)
sys.exit(code)
"""


def test_batch_plan_runs_on_the_standard_library_alone(tmp_path):
    """The workflow's plan job installs nothing: `batch plan` must not import boto3 or botocore."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"inputs": {"env": "prod", "input_uri": "", "date": "2024-02-29"}}))
    output = tmp_path / "github_output"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(output),
    }
    env.pop("MLOPS_CONFIG", None)
    shown = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN.replace("PACKAGE", PACKAGE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.strip().splitlines()[-1] == "[]", shown.stderr
    assert "env=prod\n" in output.read_text() and "date=2024-02-29\n" in output.read_text()


class _Store:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def put(self, name: str, body: bytes, content_type: str) -> str:
        return f"in/{name}"

    def get(self, location: str) -> bytes | None:
        return self.objects.get(location)


class _Channel:
    def ping(self) -> bool:
        return True

    def submit(self, location: str, content_type: str, accept: str) -> tuple[int, str, str, bytes]:
        return 202, "out/answer", "failure/answer", b""


def test_a_failure_object_naming_a_success_status_is_still_a_failure():
    """Only the output object is an answer: a failure object quoting "(200)" is not a success."""
    from importlib import import_module

    invoker_module = import_module(f"{PACKAGE}.endpoint_tests.async_invoker")
    failure = b'Received server error (200) from primary: {"predictions": []}'
    invoker = invoker_module.AsyncInvoker(
        _Channel(), _Store({"failure/answer": failure}), "local", sleep=lambda s: None
    )
    assert invoker.invoke(b"1,2\n", "text/csv") == (500, failure)
    quoted = _Store({"failure/answer": b"Received client error (400) from primary"})
    assert invoker_module.AsyncInvoker(_Channel(), quoted, "local").invoke(b"x", "text/csv")[0] == 400
