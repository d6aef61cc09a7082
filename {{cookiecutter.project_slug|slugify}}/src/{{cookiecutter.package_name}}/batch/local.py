"""Batch Transform rehearsed on this machine against the rehearsal's packaged model.

What a job with `SplitType Line`, `BatchStrategy MultiRecord`, `Accept text/csv`,
`AssembleWith Line` and `JoinSource Input` does, done here:

- the test split's feature columns become an input file of CSV lines (no header, the model's
  column order); its records are its non-blank lines;
- mini-batches: consecutive whole records, as many as fit in MaxPayloadInMB (each record and
  its newline counted); a record larger than that fails the job;
- one request per mini-batch (`Content-Type` and `Accept` text/csv) to the model server on
  127.0.0.1; an answer other than 200 fails the job;
- the answer is split by line and must hold one line per record of its mini-batch, else the job
  fails (naming the file, the mini-batch and both counts), as SageMaker cannot join it;
- line i of `<name>.out` is record i, a comma, then answer line i.

The local model server takes at most 6 MB per request (local/server.py, a real-time endpoint's
limit), so here a mini-batch is at most the smaller of `max_payload_mb` and 6 MB. The `.out`
is written beside the input under build/local/batch/ and `outputs.check_pairs` checks it, the
same check as a job's outputs in S3.
"""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..cli_support import UsageError
from ..deploy.aws import DeployError
from .job import ACCEPT, CONTENT_TYPE
from .outputs import Summary, check_pairs, records

MB = 1024 * 1024


class JobFailed(DeployError):
    """The rehearsed job failed where SageMaker's would (a refused request, answers that do not
    split into one line per record)."""


def feature_lines(table: Path, features: list[str]) -> list[str]:
    """The rows of a CSV with a header, as CSV lines of `features` in that order."""
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in features if name not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(f"{table} lacks the model's columns {missing[:5]}")
        lines = []
        for row in reader:
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow([row[name] for name in features])
            lines.append(out.getvalue())
    return lines


def mini_batches(lines: list[str], max_bytes: int) -> list[list[str]]:
    """Consecutive whole lines, as many per batch as fit in `max_bytes` (newlines counted)."""
    batches: list[list[str]] = []
    size = 0
    for number, line in enumerate(lines, start=1):
        length = len(line.encode()) + 1
        if length > max_bytes:
            raise JobFailed(
                f"record {number} is {length} bytes, more than MaxPayloadInMB ({max_bytes} bytes); "
                "expected every record to fit in one request (raise max_payload_mb)"
            )
        if not batches or size + length > max_bytes:
            batches.append([])
            size = 0
        batches[-1].append(line)
        size += length
    return batches


def answer_lines(answer: str) -> list[str]:
    """An answer split by line (AssembleWith Line): the final newline ends the last line."""
    lines = [line.rstrip("\r") for line in answer.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def http_sender(url: str) -> Callable[[bytes], tuple[int, bytes]]:
    """POST a mini-batch to a model server on 127.0.0.1: (status, body)."""
    if not url.startswith("http://127.0.0.1:"):
        raise UsageError(f"{url} is not a local model server (http://127.0.0.1:PORT)")

    def send(body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": CONTENT_TYPE, "Accept": ACCEPT}
        request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (127.0.0.1 only)
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    return send


def join(name: str, batches: list[list[str]], send: Callable[[bytes], tuple[int, bytes]]) -> list[str]:
    """Each record joined with its answer line, one request per mini-batch; JobFailed else."""
    joined: list[str] = []
    for index, batch in enumerate(batches, start=1):
        status, body = send(("\n".join(batch) + "\n").encode())
        text = body.decode("utf-8", errors="replace")
        if status != 200:
            raise JobFailed(f"{name} mini-batch {index}: the model answered {status}: {text.strip()[:300]}")
        answers = answer_lines(text)
        if len(answers) != len(batch):
            raise JobFailed(
                f"{name} mini-batch {index}: {len(answers)} answer lines for {len(batch)} records; "
                "expected one answer line per record to join (Accept text/csv)"
            )
        joined += [f"{line},{answer}" for line, answer in zip(batch, answers, strict=True)]
    return joined


def transform(
    send: Callable[[bytes], tuple[int, bytes]], input_file: Path, out_dir: Path, max_bytes: int
) -> tuple[Path, int]:
    """Write `<out_dir>/<input name>.out`: each record joined with its answer. (path, requests)."""
    batches = mini_batches(records(input_file.read_text()), max_bytes)
    joined = join(input_file.name, batches, send)
    target = out_dir / f"{input_file.name}.out"
    target.write_text("".join(line + "\n" for line in joined))
    return target, len(batches)


def run_local(model: Path, table: Path, out_dir: Path, max_payload_mb: int) -> Summary:
    """Serve `model`, turn `table` into an input file, transform it, check the outputs."""
    from ..local.server import MAX_BODY_BYTES, ModelServer, ServerError

    if not table.is_file():
        raise UsageError(f"{table} not found; run the rehearsal first (make local)")
    try:
        server = ModelServer(model).start()
    except ServerError as exc:
        raise UsageError(f"{exc}; run the rehearsal first (make local)") from exc
    try:
        input_dir = out_dir / "input"
        input_dir.mkdir(parents=True, exist_ok=True)
        input_file = input_dir / table.name
        lines = feature_lines(table, list(server.model.features))
        input_file.write_text("".join(line + "\n" for line in lines))
        max_bytes = min(max_payload_mb * MB, MAX_BODY_BYTES)
        _, requests = transform(http_sender(server.url), input_file, out_dir, max_bytes)
    finally:
        server.stop()
    pairs = []
    for path in sorted(input_dir.iterdir()):
        out = out_dir / f"{path.name}.out"
        pairs.append((path.name, path.read_text(), out.read_text() if out.is_file() else None))
    summary = check_pairs(pairs)
    summary.requests = requests
    return summary
