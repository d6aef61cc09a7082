"""Batch Transform rehearsed on this machine against the rehearsal's packaged model.

What SageMaker does with `SplitType Line` and `JoinSource Input`, done here: the test split's
feature columns become an input file of CSV lines (no header, the model's column order), the
lines go to the model server on 127.0.0.1 in mini-batches (at most `max_payload_mb` and the
handler's row limit per request), each prediction is joined to its line as the job's
SingleRecord answer would be (`<line>,{"predictions": [...]}`), and `<name>.out` is written
beside the input under build/local/batch/. `outputs.check_pairs` then checks them, the same
check as a job's outputs in S3.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from pathlib import Path

from ..cli_support import UsageError
from .job import ACCEPT, CONTENT_TYPE
from .outputs import Summary, check_pairs, records

MAX_ROWS = 1000  # the inference handler's limit per request


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


def mini_batches(lines: list[str], max_bytes: int, max_rows: int = MAX_ROWS) -> list[list[str]]:
    """Consecutive lines, each batch at most `max_bytes` (newlines counted) and `max_rows` lines."""
    batches: list[list[str]] = []
    size = 0
    for line in lines:
        length = len(line.encode()) + 1
        if length > max_bytes:
            raise UsageError(f"a record of {length} bytes exceeds max_payload_mb")
        if not batches or size + length > max_bytes or len(batches[-1]) >= max_rows:
            batches.append([])
            size = 0
        batches[-1].append(line)
        size += length
    return batches


def invoke(url: str, lines: list[str]) -> list[dict]:
    body = ("\n".join(lines) + "\n").encode()
    if not url.startswith("http://127.0.0.1:"):
        raise UsageError(f"{url} is not a local model server (http://127.0.0.1:PORT)")
    headers = {"Content-Type": CONTENT_TYPE, "Accept": ACCEPT}
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http://127.0.0.1 only)
        predictions = json.loads(response.read())["predictions"]
    if len(predictions) != len(lines):
        raise UsageError(f"{len(predictions)} predictions for {len(lines)} lines")
    return predictions


def transform(url: str, input_file: Path, out_dir: Path, max_payload_mb: int) -> Path:
    """Write `<out_dir>/<input name>.out`: each line joined with its prediction."""
    lines = records(input_file.read_text())
    joined: list[str] = []
    for batch in mini_batches(lines, max_payload_mb * 1024 * 1024):
        for line, answer in zip(batch, invoke(url, batch), strict=True):
            joined.append(f"{line},{json.dumps({'predictions': [answer]})}")
    target = out_dir / f"{input_file.name}.out"
    target.write_text("".join(line + "\n" for line in joined))
    return target


def run_local(model: Path, table: Path, out_dir: Path, max_payload_mb: int) -> Summary:
    """Serve `model`, turn `table` into an input file, transform it, check the outputs."""
    from ..local.server import ModelServer, ServerError

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
        transform(server.url, input_file, out_dir, max_payload_mb)
    finally:
        server.stop()
    pairs = []
    for path in sorted(input_dir.iterdir()):
        out = out_dir / f"{path.name}.out"
        pairs.append((path.name, path.read_text(), out.read_text() if out.is_file() else None))
    return check_pairs(pairs)
