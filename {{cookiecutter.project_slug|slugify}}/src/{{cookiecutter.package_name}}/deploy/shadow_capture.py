"""Prediction agreement of the shadow phase, from the prod endpoint's data capture.

SageMaker writes each variant's captured requests and responses as JSON lines under
`<capture uri>/<endpoint>/<variant>/YYYY/MM/DD/HH/*.jsonl`, one record a line:

    {"captureData": {"endpointInput": {...},
                     "endpointOutput": {"data": "...", "encoding": "JSON", ...}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "..."}}

`read_variant` lists and reads one variant's files written since the shadow phase started (at
most MAX_FILES); `parse_capture` turns a file into records; `agreement` pairs the champion's and
the candidate's records of the same request (by inferenceId when the caller set one, else by
eventId) and counts the predicted labels that agree. The caller chooses inferenceId: a key seen
more than once on either side cannot say which request is which, so its records are left out
(counted as ambiguous) instead of being compared with another request's answer. The model's
response is the inference handler's {"predictions": [{"label": 0 or 1, "probability": p}, ...]};
a response without labels (an error) disagrees with every label of the other side.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .aws import Clients, log

MAX_FILES = 1000


@dataclass(frozen=True)
class Record:
    key: str
    labels: tuple[Any, ...] | None  # None: the response held no labels


@dataclass(frozen=True)
class Agreement:
    champion_records: int
    shadow_records: int
    pairs: int
    rows: int
    agreeing: int
    unreadable: int = 0
    ambiguous: int = 0  # keys seen more than once on a side: their records are not paired

    @property
    def share(self) -> float | None:
        return self.agreeing / self.rows if self.rows else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion_records": self.champion_records,
            "shadow_records": self.shadow_records,
            "pairs": self.pairs,
            "rows": self.rows,
            "agreeing": self.agreeing,
            "share": self.share,
            "unreadable_lines": self.unreadable,
            "ambiguous_keys": self.ambiguous,
        }


def _decoded(output: dict[str, Any]) -> str:
    data = output.get("data", "")
    if str(output.get("encoding", "")).upper() == "BASE64":
        return base64.b64decode(data).decode("utf-8")
    return data


def labels_of(output: dict[str, Any]) -> tuple[Any, ...] | None:
    """The predicted labels of one captured response, None when it holds none."""
    try:
        body = json.loads(_decoded(output))
    except (ValueError, TypeError):
        return None
    predictions = body.get("predictions") if isinstance(body, dict) else body
    if not isinstance(predictions, list) or not predictions:
        return None
    labels = [p.get("label") if isinstance(p, dict) else p for p in predictions]
    return None if any(label is None for label in labels) else tuple(labels)


def parse_capture(text: str) -> tuple[list[Record], int]:
    """The records of one capture file and how many of its lines could not be read."""
    records: list[Record] = []
    unreadable = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            metadata = event["eventMetadata"]
            output = event["captureData"]["endpointOutput"]
            if not isinstance(metadata, dict) or not isinstance(output, dict):
                raise TypeError("eventMetadata and endpointOutput must be objects")
            key = metadata.get("inferenceId") or metadata["eventId"]
        except (ValueError, KeyError, TypeError):
            unreadable += 1
            continue
        records.append(Record(str(key), labels_of(output)))
    return records, unreadable


def agreement(champion: list[Record], shadow: list[Record], unreadable: int = 0) -> Agreement:
    """Pair the shadow's records with the champion's of the same request; count agreeing labels."""
    seen = [Counter(record.key for record in side) for side in (champion, shadow)]
    ambiguous = {key for counts in seen for key, count in counts.items() if count > 1}
    by_key = {record.key: record for record in champion if record.key not in ambiguous}
    pairs = rows = agreeing = 0
    for record in shadow:
        match = None if record.key in ambiguous else by_key.get(record.key)
        if match is None:
            continue
        pairs += 1
        ours, theirs = match.labels or (), record.labels or ()
        rows += max(len(ours), len(theirs), 1)
        agreeing += sum(1 for a, b in zip(ours, theirs, strict=False) if a == b)
    return Agreement(len(champion), len(shadow), pairs, rows, agreeing, unreadable, len(ambiguous))


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.rstrip("/")


def read_variant(
    clients: Clients, capture_uri: str, endpoint: str, variant: str, since: dt.datetime
) -> tuple[list[Record], int]:
    """One variant's records from the files of the hours since `since` (oldest first, at most
    MAX_FILES files), and the number of unreadable lines."""
    bucket, prefix = split_uri(capture_uri)
    base = f"{prefix}/{endpoint}/{variant}/"
    start_after = base + since.astimezone(dt.UTC).strftime("%Y/%m/%d/%H")
    s3 = clients("s3")
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=base, StartAfter=start_after):
        keys += [item["Key"] for item in page.get("Contents", [])]
        if len(keys) >= MAX_FILES:
            log(f"warning: reading the first {MAX_FILES} capture files of {variant} only")
            keys = keys[:MAX_FILES]
            break
    records: list[Record] = []
    unreadable = 0
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
        found, bad = parse_capture(body)
        records += found
        unreadable += bad
    log(f"data capture of {variant}: {len(records)} records in {len(keys)} files")
    return records, unreadable


def measure(
    clients: Clients, capture_uri: str, endpoint: str, variants: tuple[str, str], since: dt.datetime
) -> Agreement:
    """The agreement of the shadow variant (variants[1]) with the production variant (variants[0])."""
    champion, bad_champion = read_variant(clients, capture_uri, endpoint, variants[0], since)
    shadow, bad_shadow = read_variant(clients, capture_uri, endpoint, variants[1], since)
    return agreement(champion, shadow, bad_champion + bad_shadow)
