"""The checks of the endpoint suite, one request (or burst) each; suite.run_suite puts them in order.

Nothing here raises for a misbehaving server: a transport failure is a failed request, and every
outcome becomes a Check.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from ..config import TestThresholds
from .invokers import CSV, JSON, Invoker, SageMakerInvoker
from .report import Check

# Upper bounds that keep every run of the suite short, whatever the config says.
MAX_BURST_REQUESTS = 1000
BURST_BUDGET_SECONDS = 120.0
# Two probabilities for the same row (CSV path vs JSON path) must agree to this tolerance.
PROBABILITY_TOLERANCE = 1e-6
# What the non-numeric bad-input case puts into a numeric feature.
NOT_A_NUMBER = "not-a-number"


# What the suite requires of an endpoint: `environments.<env>.tests` in config/project.json,
# parsed by config.py (`cfg.tests_for("local" | "qa" | "prod")`). Fields:
# burst_requests: single-row requests in the latency burst (1..MAX_BURST_REQUESTS);
# max_p50_ms / max_p95_ms: latency limits, measured by the caller (so they include the network);
# max_error_rate: share of burst requests allowed to fail (0.0 = none);
# min_accuracy: accuracy floor on the labelled samples (optional key, default 0.8).
Thresholds = TestThresholds


def check_thresholds(thresholds: Thresholds) -> Thresholds:
    """The thresholds unchanged, or ValueError when one is outside what the suite can run: the
    burst is capped at MAX_BURST_REQUESTS whatever the config allows, and a value built in code
    (not parsed from the config) gets the same range checks as the config's."""
    if not 1 <= thresholds.burst_requests <= MAX_BURST_REQUESTS:
        raise ValueError(f"burst_requests is {thresholds.burst_requests}; expected 1 to {MAX_BURST_REQUESTS}")
    if thresholds.max_p50_ms <= 0 or thresholds.max_p95_ms <= 0:
        raise ValueError(
            f"max_p50_ms/max_p95_ms must be positive, got {thresholds.max_p50_ms}/{thresholds.max_p95_ms}"
        )
    for name in ("max_error_rate", "min_accuracy"):
        value = getattr(thresholds, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is {value}; expected a number from 0 to 1")
    return thresholds


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Answer:
    status: int
    body: bytes
    ms: float
    error: str = ""

    def text(self, limit: int = 160) -> str:
        if self.error:
            return self.error[:limit]
        return self.body.decode("utf-8", "replace").strip()[:limit]

    def describe(self, limit: int = 160) -> str:
        """ "HTTP 400: <body>" or "no answer (<transport error>)"."""
        if self.error:
            return f"no answer ({self.error[:limit]})"
        return f"HTTP {self.status}: {self.text(limit)}"


def call(invoker: Invoker, body: bytes, content_type: str) -> Answer:
    start = time.perf_counter()
    try:
        status, payload = invoker.invoke(body, content_type)
    except Exception as exc:  # a transport failure is a failed request, not a crash
        return Answer(0, b"", (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}")
    return Answer(status, payload, (time.perf_counter() - start) * 1000)


def _cell(value: Any) -> str:
    """A raw value as a CSV cell: a gap is empty, a number its repr, text as it is."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def csv_body(rows: list[dict[str, Any]]) -> bytes:
    """CSV rows in the features' order, no header and no target; text is quoted when it must be."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row.values()])
    return out.getvalue().encode()


def json_body(rows: list[dict[str, Any]]) -> bytes:
    """{"instances": [{feature: value}]}: numbers as numbers, text as strings, a gap as null."""
    return json.dumps({"instances": rows}).encode()


def batch_predictions(answer: Answer, expected: int) -> tuple[list[Any] | None, str]:
    """The predictions list of a successful answer, or None and why not."""
    if answer.status != 200:
        return None, answer.describe()
    try:
        payload = json.loads(answer.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, f"response is not JSON: {answer.text(80)!r}"
    predictions = payload.get("predictions") if isinstance(payload, dict) else None
    if not isinstance(predictions, list):
        return None, 'response has no "predictions" list'
    if len(predictions) != expected:
        return None, f"{len(predictions)} predictions for {expected} rows"
    return predictions, f"{expected} predictions in {answer.ms:.0f} ms"


def schema_problem(predictions: list[Any]) -> str:
    for i, p in enumerate(predictions):
        if not isinstance(p, dict):
            return f"prediction {i} is not an object"
        label, probability = p.get("label"), p.get("probability")
        if isinstance(label, bool) or label not in (0, 1):
            return f"prediction {i}: label {label!r} is not 0 or 1"
        if isinstance(probability, bool) or not isinstance(probability, int | float):
            return f"prediction {i}: probability {probability!r} is not a number"
        if not 0.0 <= probability <= 1.0:
            return f"prediction {i}: probability {probability} is outside [0, 1]"
    return ""


def bad_inputs(sample: dict[str, Any], numeric: list[str]) -> list[tuple[str, bytes, str, str]]:
    """(check name, body, content type, text the handler's InputError carries for it). The
    non-numeric case puts text into the first numeric feature (none: no such case); the
    handler's error names that column (quoted, as repr() quotes it)."""
    values = [_cell(v) for v in sample.values()]
    cases = [("bad input: wrong width", _line(values[:-1]), CSV, "feature values")]
    if numeric:
        column = numeric[0]
        changed = [NOT_A_NUMBER if name == column else _cell(v) for name, v in sample.items()]
        cases.append(("bad input: non-numeric", _line(changed), CSV, repr(column)))
    cases.append(("bad input: content type", _line(values), "text/plain", "not supported"))
    return cases


def _line(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().encode()


def check_missing_values(invoker: Invoker, sample: dict[str, Any]) -> Check:
    """A record with every feature missing gets one valid prediction, by name (JSON nulls) and,
    with two or more features, as a CSV row of empty cells."""
    gaps = dict.fromkeys(sample)
    requests = [("JSON nulls", json_body([gaps]), JSON)]
    if len(gaps) > 1:
        requests.append(("empty CSV cells", csv_body([gaps]), CSV))
    for what, body, content_type in requests:
        predictions, detail = batch_predictions(call(invoker, body, content_type), 1)
        problem = detail if predictions is None else schema_problem(predictions)
        if problem:
            return Check("missing values", False, f"{what}: {problem}")
    return Check("missing values", True, f"{' and '.join(w for w, _, _ in requests)} answered")


# The last line of a Python traceback when the exception raised is the handler's InputError.
_INPUT_ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?InputError: (?P<message>.+)$")


def _handler_input_error(body: bytes, expected: str) -> str:
    """The InputError message ending a 5xx body (sagemaker-inference sends message, then the
    traceback), when it carries `expected`; "" otherwise."""
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    match = _INPUT_ERROR_LINE.match(lines[-1]) if lines else None
    if match and expected in match.group("message"):
        return match.group("message")
    return ""


def check_bad_input(invoker: Invoker, name: str, body: bytes, content_type: str, expected: str) -> Check:
    answer = call(invoker, body, content_type)
    if answer.status >= 500 and isinstance(invoker, SageMakerInvoker) and not answer.error:
        message = _handler_input_error(answer.body, expected)
        if message:
            detail = f"HTTP {answer.status} from the framework container for the handler's InputError"
            return Check(name, True, f"{detail}: {message[:100]}")
    if not 400 <= answer.status < 500:
        return Check(name, False, f"expected a 4xx answer, got {answer.describe()}")
    try:
        payload = json.loads(answer.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if isinstance(payload, dict) and "predictions" in payload:
        return Check(name, False, f"HTTP {answer.status} but the body holds predictions")
    return Check(name, True, f"HTTP {answer.status}: {answer.text(100)}")


def burst(invoker: Invoker, rows: list[dict[str, Any]], thresholds: Thresholds) -> tuple[dict, list[Check]]:
    """Sequential single-row requests. Latency percentiles are over the successful requests (a
    fast error must not flatter them); the error rate is over all. It stops early once a limit
    can no longer be met."""
    n = thresholds.burst_requests
    # Most requests allowed above each limit (nearest-rank percentiles) and most errors allowed.
    slow50_allowed = n - math.ceil(0.50 * n)
    slow95_allowed = n - math.ceil(0.95 * n)
    errors_allowed = math.floor(thresholds.max_error_rate * n + 1e-9)
    times: list[float] = []
    done = errors = slow50 = slow95 = 0
    stopped = ""
    last_error = ""
    started = time.perf_counter()
    for i in range(n):
        answer = call(invoker, csv_body([rows[i % len(rows)]]), CSV)
        done += 1
        if answer.status != 200:
            errors += 1
            last_error = answer.describe(100)
        else:
            times.append(answer.ms)
            slow50 += answer.ms > thresholds.max_p50_ms
            slow95 += answer.ms > thresholds.max_p95_ms
        if errors > errors_allowed:
            stopped = "errors"
        elif slow95 > slow95_allowed:
            stopped = "p95"
        elif slow50 > slow50_allowed:
            stopped = "p50"
        elif time.perf_counter() - started > BURST_BUDGET_SECONDS:
            stopped = "budget"
        if stopped and i + 1 < n:
            break
        stopped = ""
    latency = {
        "requests": done,
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "error_rate": round(errors / done, 4),
        "seconds": round(time.perf_counter() - started, 3),
    }
    note = (
        f" (stopped after {done} of {n} requests: the {stopped.replace('errors', 'error-rate')} limit"
        " could no longer be met)"
        if stopped
        else ""
    )
    if stopped == "budget":
        note = f" (stopped after {done} of {n} requests: over the {BURST_BUDGET_SECONDS:g} s budget)"
    p50_ok = bool(times) and latency["p50_ms"] <= thresholds.max_p50_ms and stopped not in ("p50", "budget")
    p95_ok = bool(times) and latency["p95_ms"] <= thresholds.max_p95_ms and stopped not in ("p95", "budget")
    errors_ok = latency["error_rate"] <= thresholds.max_error_rate and stopped != "errors"
    timed = f" over {len(times)} successful requests" if times else ", no successful request to time"
    checks = [
        Check(
            "latency p50",
            p50_ok,
            f"{latency['p50_ms']:.1f} ms, max {thresholds.max_p50_ms:g} ms{timed}{note}",
        ),
        Check(
            "latency p95",
            p95_ok,
            f"{latency['p95_ms']:.1f} ms, max {thresholds.max_p95_ms:g} ms{timed}{note}",
        ),
        Check(
            "error rate",
            errors_ok,
            f"{errors} of {done} failed, max rate {thresholds.max_error_rate:.1%}"
            + (f"; last: {last_error}" if last_error else "")
            + note,
        ),
    ]
    return latency, checks
