"""Data capture for the rehearsal, in SageMaker's format, written and read back.

CapturingInvoker wraps an endpoint-test invoker and appends every request answered with 2xx, and
its answer, as SageMaker data capture writes them: JSON Lines, one event a line, with
captureData.endpointInput and endpointOutput (observedContentType, mode INPUT or OUTPUT, data,
encoding CSV, JSON or BASE64), eventMetadata (eventId, inferenceTime) and eventVersion "0".
Refused requests (4xx, 5xx) were not served and are not captured.

read_capture() reads such a file into records by column name. A text/csv input holds rows of
feature values in training order, no header (a column beyond the baseline's is named
_c<position>, as Model Monitor names headerless columns); an application/json input holds
{"instances": [...]} (or a list, or one object) of records by feature name or rows of values. A
record with no value at all is counted apart (`empty`) and not checked.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..endpoint_tests.invokers import CSV, JSON, Invoker
from .monitoring_stats import STRING, number, text, value_type

FOLDER = "monitoring"


def _payload(data: bytes, content_type: str, mode: str) -> dict[str, str]:
    kind = content_type.split(";")[0].strip().lower()
    encoding = {CSV: "CSV", JSON: "JSON"}.get(kind)
    try:
        decoded = data.decode("utf-8") if encoding else None
    except UnicodeDecodeError:
        decoded = None
    if decoded is None:
        encoding, decoded = "BASE64", base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": decoded, "encoding": encoding}


def capture_event(body: bytes, content_type: str, output: bytes, accept: str) -> dict[str, Any]:
    """One line of SageMaker data capture for a request and its answer."""
    return {
        "captureData": {
            "endpointInput": _payload(body, content_type, "INPUT"),
            "endpointOutput": _payload(output, accept, "OUTPUT"),
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        },
        "eventVersion": "0",
    }


class CapturingInvoker:
    """An Invoker that appends every 2xx request and answer to a data capture file."""

    def __init__(self, inner: Invoker, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.target = getattr(inner, "target", type(inner).__name__)
        path.parent.mkdir(parents=True, exist_ok=True)

    def ping(self) -> bool:
        return self.inner.ping()

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]:
        status, payload = self.inner.invoke(body, content_type, accept)
        if 200 <= status < 300:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(capture_event(body, content_type, payload, accept)) + "\n")
        return status, payload


def capture_path(work: Path, sample: str = "traffic") -> Path:
    return work / FOLDER / "capture" / f"{sample}.jsonl"


def capturing(invoker: Invoker, work: Path) -> CapturingInvoker:
    """The endpoint tests' invoker, capturing into the work dir's traffic capture."""
    return CapturingInvoker(invoker, capture_path(work))


@dataclass
class Sample:
    """Records by column name from a capture file, and what could not be read as records."""

    records: list[dict[str, Any]] = field(default_factory=list)
    empty: int = 0
    unreadable: list[str] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        if all(value_type(v) is None for v in record.values()):
            self.empty += 1
        else:
            self.records.append(record)


def _row(cells: Sequence[Any], features: Sequence[str]) -> dict[str, Any]:
    record = {name: cells[i] for i, name in enumerate(features) if i < len(cells)}
    record.update({f"_c{i}": cells[i] for i in range(len(features), len(cells))})
    return {k: (None if v == "" else v) for k, v in record.items()}


def _decode(payload: Mapping[str, Any]) -> str:
    data = str(payload.get("data", ""))
    if str(payload.get("encoding", "")).upper() == "BASE64":
        return base64.b64decode(data).decode("utf-8")
    return data


def add_payload(sample: Sample, content_type: str, body: str, features: Sequence[str]) -> None:
    """The records of one request body (CSV rows or JSON instances) into sample."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == CSV:
        for cells in csv.reader(io.StringIO(body)):
            if cells:
                sample.add(_row(cells, features))
    elif kind == JSON:
        document = json.loads(body)
        if isinstance(document, dict) and "instances" in document:
            document = document["instances"]
        for item in document if isinstance(document, list) else [document]:
            if isinstance(item, dict):
                sample.add({str(k): v for k, v in item.items()})
            elif isinstance(item, list):
                sample.add(_row(item, features))
            else:
                raise ValueError(f"a JSON instance is {type(item).__name__}; expected an object or a list")
    else:
        raise ValueError(f"content type {content_type!r} is not {CSV} or {JSON}")


def read_capture(path: Path, features: Sequence[str]) -> Sample:
    """The input records of a data capture file (JSON Lines); an event that cannot be read is
    listed in `unreadable` with its line number and why."""
    sample = Sample()
    for number_, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            captured = json.loads(line)["captureData"]["endpointInput"]
            add_payload(sample, str(captured["observedContentType"]), _decode(captured), features)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            sample.unreadable.append(f"{path.name} line {number_}: {type(exc).__name__}: {exc}")
    return sample


def record_key(record: Mapping[str, Any]) -> str:
    """The same record sent as CSV text or as JSON numbers gives the same key."""
    return json.dumps(
        sorted((k, number(v) if value_type(v) != STRING else text(v)) for k, v in record.items())
    )
