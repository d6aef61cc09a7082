"""Append one JSON line to $ACT_STUB_LOG: the stub's name, workflow, job and the inputs it got
(and, for github-script, the content of $SUMMARY_FILE: what the real script would post).

Usage: record.py STUB NAME=ENV_VAR ...  (each input's value is read from ENV_VAR)
"""

import json
import os
import sys
from pathlib import Path

stub, pairs = sys.argv[1], sys.argv[2:]
entry = {
    "stub": stub,
    "workflow": os.environ.get("GITHUB_WORKFLOW"),
    "job": os.environ.get("GITHUB_JOB"),
    "inputs": {name: os.environ.get(var, "") for name, var in (pair.split("=", 1) for pair in pairs)},
}
summary = os.environ.get("SUMMARY_FILE")
if stub == "github-script" and summary and Path(summary).is_file():
    entry["summary_file"] = Path(summary).read_text()
with open(os.environ["ACT_STUB_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\n")
