"""The output check of a batch run and its summary, the same for a job in AWS and a local run.

For each input file `<name>` there must be `<name>.out` with as many lines as the input has
records (non-blank lines), and line i of the output must be input line i, a comma, then one
prediction: the inference handler's answer for that record, CSV `label,probability` (what the
job's `Accept text/csv` answers), or JSON `{"predictions": [{"label": 0|1, "probability": p}]}`
(or the bare `{"label": ..., "probability": ...}`).
Every input line must have the width of the file's first line. The summary counts files, rows
and failures (the first few named, file and line).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..deploy.aws import Clients
from ..promotion.evidence import split_uri

MAX_LISTED = 20


@dataclass
class Summary:
    files: int = 0
    rows: int = 0
    positives: int = 0
    failures: list[str] = field(default_factory=list)
    failed_count: int = 0
    requests: int = 0  # requests sent (a local run; a job in AWS does not report them)

    @property
    def passed(self) -> bool:
        return self.files > 0 and not self.failed_count

    def fail(self, problem: str) -> None:
        self.failed_count += 1
        if len(self.failures) < MAX_LISTED:
            self.failures.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "files": self.files,
            "rows": self.rows,
            "positives": self.positives,
            "failures": self.failed_count,
            "first_failures": list(self.failures),
        }

    def markdown(self, title: str) -> str:
        lines = [
            f"### {title}",
            "",
            "| files | rows | positive predictions | failures | result |",
            "|---:|---:|---:|---:|---|",
            f"| {self.files} | {self.rows} | {self.positives} | {self.failed_count} | "
            f"{'passed' if self.passed else 'FAILED'} |",
        ]
        if self.failures:
            lines += ["", *[f"- {problem}" for problem in self.failures]]
        return "\n".join(lines) + "\n"


def records(text: str) -> list[str]:
    """The records of an input or output file: its non-blank lines (SplitType Line)."""
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _width(line: str) -> int:
    return len(next(csv.reader(io.StringIO(line)), []))


def prediction(text: str) -> dict[str, Any]:
    """The one prediction after the input line; ValueError saying what is wrong."""
    if text.startswith(("{", "[")):
        value: Any = json.loads(text)
        if isinstance(value, dict) and "predictions" in value:
            value = value["predictions"]
        if isinstance(value, list):
            if len(value) != 1:
                raise ValueError(f"{len(value)} predictions for one record")
            value = value[0]
    else:
        fields = next(csv.reader(io.StringIO(text)), [])
        if len(fields) != 2:
            raise ValueError(f"expected label,probability, got {len(fields)} fields")
        value = {"label": int(fields[0]), "probability": float(fields[1])}
    if (
        not isinstance(value, dict)
        or value.get("label") not in (0, 1)
        or isinstance(value.get("label"), bool)
    ):
        raise ValueError("no label 0 or 1")
    probability = value.get("probability")
    if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise ValueError("no probability from 0 to 1")
    return value


def check_file(summary: Summary, name: str, input_text: str, output_text: str | None) -> None:
    """Add one input file and its `.out` (None: missing) to the summary."""
    summary.files += 1
    inputs = records(input_text)
    if output_text is None:
        summary.fail(f"{name}: no {name}.out")
        return
    outputs = records(output_text)
    if len(outputs) != len(inputs):
        summary.fail(f"{name}.out: {len(outputs)} rows for {len(inputs)} input rows")
        return
    width = _width(inputs[0]) if inputs else 0
    for number, (line, joined) in enumerate(zip(inputs, outputs, strict=True), start=1):
        summary.rows += 1
        if _width(line) != width:
            summary.fail(f"{name} line {number}: {_width(line)} columns, the first line has {width}")
            continue
        if not joined.startswith(line + ","):
            summary.fail(f"{name}.out line {number}: does not start with input line {number}")
            continue
        try:
            summary.positives += prediction(joined[len(line) + 1 :])["label"]
        except (ValueError, TypeError) as exc:
            summary.fail(f"{name}.out line {number}: the prediction cannot be read ({exc})")


def check_pairs(pairs: Iterable[tuple[str, str, str | None]]) -> Summary:
    """Check (name, input text, output text or None) triples."""
    summary = Summary()
    for name, input_text, output_text in pairs:
        check_file(summary, name, input_text, output_text)
    if not summary.files:
        summary.fail("no input files")
    return summary


def input_keys(clients: Clients, input_uri: str) -> list[str]:
    """The object keys under an s3:// input prefix (folders left out)."""
    bucket, prefix = split_uri(input_uri)
    keys: list[str] = []
    for page in clients("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    return keys


def read_text(clients: Clients, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def check_s3(clients: Clients, input_uri: str, output_uri: str) -> Summary:
    """Check a finished job: each input object against `<output>/<relative key>.out`."""
    in_bucket, prefix = split_uri(input_uri)
    out_bucket, out_prefix = split_uri(output_uri)

    def pairs() -> Iterable[tuple[str, str, str | None]]:
        for key in input_keys(clients, input_uri):
            relative = key[len(prefix) :]
            text = read_text(clients, in_bucket, key) or ""
            yield relative, text, read_text(clients, out_bucket, f"{out_prefix}{relative}.out")

    return check_pairs(pairs())
