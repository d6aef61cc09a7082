"""The endpoint test suite: one suite for the local server, the QA endpoint and the prod smoke test.

It talks to a model server through an Invoker (HTTP to 127.0.0.1 for the local server,
sagemaker-runtime InvokeEndpoint for SageMaker endpoints) and checks, in order:

- ping: the server reports healthy;
- CSV and JSON (named features) requests return one prediction per row;
- schema: every prediction is {"label": 0 or 1, "probability": number in [0, 1]};
- correctness: accuracy on labelled samples reaches `min_accuracy`, and the CSV and JSON
  paths agree;
- bad input (wrong width, non-numeric value, unsupported content type) gets a 4xx answer,
  not a prediction. A 5xx fails, with one exception for SageMaker endpoints: a 5xx whose body
  ends with the handler's own InputError for that case (the last line of the traceback the
  sagemaker-inference toolkit sends back, e.g. `inference.InputError: CSV line 1 has a value
  that is not a number`) passes, marked as such, because a model packaged before the handler
  subclassed the toolkit's error class is answered that way. A crash (any other exception,
  even one that wraps or quotes the InputError) still fails. The handler maps InputError to
  400 in the SageMaker framework containers (steps/inference.py says how and what was
  verified); this allowance is checked offline with botocore's Stubber only.
- latency: a burst of single-row requests, p50/p95 and error rate against thresholds read
  from config (`environments.<env>.tests` in config/project.json, `cfg.tests_for(env)`).

Only the standard library and the package's config.py (standard library too) are imported
here, because the deploy job installs boto3 alone; the SageMaker invoker receives ready-made
boto3 clients (or creates them lazily).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import math
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..config import REPO_ROOT, TestThresholds, load_config

CSV = "text/csv"
JSON = "application/json"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# Upper bounds that keep every run of the suite short, whatever the config says.
MAX_BURST_REQUESTS = 1000
BURST_BUDGET_SECONDS = 120.0
# Two probabilities for the same row (CSV path vs JSON path) must agree to this tolerance.
PROBABILITY_TOLERANCE = 1e-6


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


class Invoker(Protocol):
    """How the suite reaches a model server. Transport failures may raise; the suite records them."""

    def ping(self) -> bool: ...

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]: ...


class HttpInvoker:
    """SageMaker's container contract over HTTP (GET /ping, POST /invocations) to a local server.

    Only loopback addresses are accepted: real endpoints are reached through SageMakerInvoker.
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
            raise ValueError(f"url {base_url!r} must look like http://127.0.0.1:PORT (a local server)")
        self.host = parts.hostname
        self.port = parts.port
        self.timeout = timeout
        self.target = f"http://{self.host}:{self.port}"

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def ping(self) -> bool:
        try:
            status, _ = self._request("GET", "/ping", None, {})
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type, "Accept": accept}
        return self._request("POST", "/invocations", body, headers)


class SageMakerInvoker:
    """A SageMaker endpoint through sagemaker-runtime InvokeEndpoint.

    runtime_client: boto3 "sagemaker-runtime" client (credentials of the workload account).
    sagemaker_client: optional boto3 "sagemaker" client; with it, ping() means the endpoint is
    InService. Without it, ping() sends an empty CSV body and counts any answer from the model
    container that is not a 5xx as healthy.
    Errors map to HTTP statuses: ModelError carries the container's OriginalStatusCode and
    OriginalMessage; ValidationError is 400; other service errors keep their HTTP status.
    """

    def __init__(self, endpoint_name: str, runtime_client: Any, sagemaker_client: Any = None) -> None:
        self.endpoint_name = endpoint_name
        self.runtime = runtime_client
        self.sagemaker = sagemaker_client
        self.target = f"endpoint {endpoint_name}"

    @classmethod
    def for_endpoint(cls, endpoint_name: str, region_name: str, session: Any = None) -> SageMakerInvoker:
        """Build the clients from a boto3 session (default: the ambient credentials)."""
        import boto3  # lazily: the suite itself needs only the standard library

        session = session or boto3.session.Session(region_name=region_name)
        return cls(
            endpoint_name,
            session.client("sagemaker-runtime", region_name=region_name),
            session.client("sagemaker", region_name=region_name),
        )

    def ping(self) -> bool:
        if self.sagemaker is not None:
            try:
                status = self.sagemaker.describe_endpoint(EndpointName=self.endpoint_name)["EndpointStatus"]
            except Exception:  # any failure to describe means "not healthy"
                return False
            return status == "InService"
        try:
            status, _ = self.invoke(b"", CSV)
        except Exception:
            return False
        return status < 500

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]:
        try:
            response = self.runtime.invoke_endpoint(
                EndpointName=self.endpoint_name, Body=body, ContentType=content_type, Accept=accept
            )
        except Exception as exc:
            error = getattr(exc, "response", None)
            if not isinstance(error, dict):
                raise
            code = error.get("Error", {}).get("Code", "")
            message = error.get("Error", {}).get("Message", str(exc))
            if code == "ModelError":
                original = error.get("OriginalMessage") or message
                return int(error.get("OriginalStatusCode") or 500), str(original).encode()
            if code == "ValidationError":
                return 400, message.encode()
            return int(error.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500), message.encode()
        return 200, response["Body"].read()


Sample = tuple[dict[str, float], int]


def load_samples(csv_path: Path | str, n: int, target: str = "target") -> list[Sample]:
    """The first n labelled rows of a CSV with a header: (features by name in file order, label).

    It raises ValueError when the file lacks the target column, has a non-numeric value or no rows.
    """
    path = Path(csv_path)
    if n < 1:
        raise ValueError(f"sample count must be at least 1, got {n}")
    samples: list[Sample] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or target not in reader.fieldnames:
            raise ValueError(f"{path}: no target column {target!r} in the header")
        names = [name for name in reader.fieldnames if name != target]
        for line, row in enumerate(reader, start=2):
            try:
                features = {name: float(row[name]) for name in names}
                label = int(float(row[target]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path} line {line}: a value is not a number") from exc
            samples.append((features, label))
            if len(samples) == n:
                break
    if not samples:
        raise ValueError(f"{path}: no data rows")
    return samples


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class SuiteReport:
    """Outcome of one run; passed is True only when every check passed."""

    passed: bool
    checks: list[Check]
    latency: dict[str, float]
    target: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "target": self.target,
            "seconds": round(self.seconds, 3),
            "checks": [asdict(c) for c in self.checks],
            "latency": self.latency,
            "thresholds": self.thresholds,
        }

    def to_markdown(self) -> str:
        """Tables for a GitHub job summary ($GITHUB_STEP_SUMMARY)."""
        verdict = "PASSED" if self.passed else "FAILED"
        ok = sum(c.passed for c in self.checks)
        lines = [
            f"### Endpoint tests {verdict}: {_cell(self.target)}",
            "",
            f"{ok} of {len(self.checks)} checks passed in {self.seconds:.1f} s.",
            "",
            "| check | result | detail |",
            "|---|---|---|",
        ]
        lines += [
            f"| {_cell(c.name)} | {'pass' if c.passed else '**FAIL**'} | {_cell(c.detail)} |"
            for c in self.checks
        ]
        t = self.thresholds
        lat = self.latency
        lines += [
            "",
            "| burst requests | p50 ms | p95 ms | error rate |",
            "|---|---|---|---|",
            f"| {lat.get('requests', 0)} | {lat.get('p50_ms', 0):.1f} (max {t.get('max_p50_ms', 0):g}) "
            f"| {lat.get('p95_ms', 0):.1f} (max {t.get('max_p95_ms', 0):g}) "
            f"| {lat.get('error_rate', 0):.1%} (max {t.get('max_error_rate', 0):.1%}) |",
            "",
        ]
        return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _Answer:
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


def _call(invoker: Invoker, body: bytes, content_type: str) -> _Answer:
    start = time.perf_counter()
    try:
        status, payload = invoker.invoke(body, content_type)
    except Exception as exc:  # a transport failure is a failed request, not a crash
        return _Answer(0, b"", (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}")
    return _Answer(status, payload, (time.perf_counter() - start) * 1000)


def _csv_body(rows: list[dict[str, float]]) -> bytes:
    return "".join(",".join(repr(v) for v in row.values()) + "\n" for row in rows).encode()


def _json_body(rows: list[dict[str, float]]) -> bytes:
    return json.dumps({"instances": rows}).encode()


def _predictions(answer: _Answer, expected: int) -> tuple[list[Any] | None, str]:
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


def _schema_problem(predictions: list[Any]) -> str:
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


def _bad_inputs(sample: dict[str, float]) -> list[tuple[str, bytes, str, str]]:
    """(check name, body, content type, text the handler's InputError carries for it)."""
    values = [repr(v) for v in sample.values()]
    return [
        ("bad input: wrong width", (",".join(values[:-1]) + "\n").encode(), CSV, "feature values"),
        ("bad input: non-numeric", (",".join(["abc", *values[1:]]) + "\n").encode(), CSV, "not a number"),
        ("bad input: content type", (",".join(values) + "\n").encode(), "text/plain", "not supported"),
    ]


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


def _check_bad_input(invoker: Invoker, name: str, body: bytes, content_type: str, expected: str) -> Check:
    answer = _call(invoker, body, content_type)
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


def _burst(
    invoker: Invoker, rows: list[dict[str, float]], thresholds: Thresholds
) -> tuple[dict, list[Check]]:
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
        answer = _call(invoker, _csv_body([rows[i % len(rows)]]), CSV)
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


def run_suite(invoker: Invoker, samples: list[Sample], thresholds: Thresholds) -> SuiteReport:
    """Run every check against one server. It never raises for a misbehaving server: failures
    become failed checks. The number of requests is bounded: 2 batch requests, 3 bad-input
    requests, one ping and thresholds.burst_requests single-row requests (fewer if the burst
    stops early). It raises ValueError, before any request, for thresholds outside
    check_thresholds' ranges or no samples."""
    check_thresholds(thresholds)
    if not samples:
        raise ValueError("the suite needs at least one labelled sample")
    started = time.perf_counter()
    rows = [features for features, _ in samples]
    labels = [label for _, label in samples]
    checks: list[Check] = []

    try:
        healthy = bool(invoker.ping())
        ping_detail = "healthy" if healthy else "ping did not report healthy"
    except Exception as exc:
        healthy, ping_detail = False, f"{type(exc).__name__}: {exc}"
    checks.append(Check("ping", healthy, ping_detail))

    csv_predictions, detail = _predictions(_call(invoker, _csv_body(rows), CSV), len(rows))
    checks.append(Check("CSV request", csv_predictions is not None, detail))
    json_predictions, detail = _predictions(_call(invoker, _json_body(rows), JSON), len(rows))
    checks.append(Check("JSON request (named features)", json_predictions is not None, detail))

    answered = [p for p in (csv_predictions, json_predictions) if p is not None]
    if answered:
        problem = next((p for p in map(_schema_problem, answered) if p), "")
        checks.append(Check("response schema", not problem, problem or "label 0/1, probability in [0, 1]"))
    else:
        checks.append(Check("response schema", False, "no successful response to inspect"))
        problem = "no response"

    if csv_predictions is not None and not problem:
        correct = sum(p["label"] == y for p, y in zip(csv_predictions, labels, strict=True))
        accuracy = correct / len(labels)
        checks.append(
            Check(
                "accuracy",
                accuracy >= thresholds.min_accuracy,
                f"{accuracy:.3f} on {len(labels)} labelled rows, min {thresholds.min_accuracy:g}",
            )
        )
    else:
        checks.append(Check("accuracy", False, "no valid CSV predictions to score"))
    if csv_predictions is not None and json_predictions is not None and not problem:
        disagree = [
            i
            for i, (a, b) in enumerate(zip(csv_predictions, json_predictions, strict=True))
            if a["label"] != b["label"] or abs(a["probability"] - b["probability"]) > PROBABILITY_TOLERANCE
        ]
        detail = f"rows {disagree[:5]} differ" if disagree else f"{len(rows)} rows agree"
        checks.append(Check("CSV and JSON agree", not disagree, detail))
    else:
        checks.append(Check("CSV and JSON agree", False, "needs valid CSV and JSON predictions"))

    checks += [_check_bad_input(invoker, *case) for case in _bad_inputs(rows[0])]
    latency, latency_checks = _burst(invoker, rows, thresholds)
    checks += latency_checks

    return SuiteReport(
        passed=all(c.passed for c in checks),
        checks=checks,
        latency=latency,
        target=str(getattr(invoker, "target", type(invoker).__name__)),
        thresholds=asdict(thresholds),
        seconds=time.perf_counter() - started,
    )


def format_text(report: SuiteReport) -> str:
    """Plain-text table for a terminal."""
    width = max(len(c.name) for c in report.checks)
    lines = [f"  {c.name:<{width}}  {'pass' if c.passed else 'FAIL'}  {c.detail}" for c in report.checks]
    verdict = "PASSED" if report.passed else "FAILED"
    ok = sum(c.passed for c in report.checks)
    lines.append(f"endpoint tests {verdict}: {ok}/{len(report.checks)} checks against {report.target}")
    return "\n".join(lines)


def write_outputs(report: SuiteReport, summary: Path | None, json_path: Path | None) -> None:
    """Append the markdown to `summary` (GitHub's job summary file appends) and write the JSON."""
    if summary:
        with Path(summary).open("a") as handle:
            handle.write(report.to_markdown() + "\n")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report.to_dict(), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the suite against a local server. It exits 1 when a check fails, 2 on bad arguments
    or config."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}", description="Endpoint tests against a local model server."
    )
    parser.add_argument("--url", required=True, help="local server, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--env",
        default="local",
        help="thresholds of local, qa or prod (environments.<env>.tests; default local)",
    )
    parser.add_argument(
        "--samples", type=Path, default=REPO_ROOT / "data" / "sample.csv", help="labelled CSV"
    )
    parser.add_argument("--n", type=int, default=50, help="labelled rows to send (default 50)")
    parser.add_argument(
        "--summary", type=Path, help="append markdown tables here (e.g. $GITHUB_STEP_SUMMARY)"
    )
    parser.add_argument("--json", type=Path, help="write the report JSON here")
    args = parser.parse_args(argv)

    try:
        cfg = load_config()
        thresholds = check_thresholds(cfg.tests_for(args.env))
        samples = load_samples(args.samples, args.n, cfg.model.target_column)
        invoker = HttpInvoker(args.url)
    except (OSError, ValueError) as exc:
        print(f"endpoint tests: {exc}", file=sys.stderr)
        return 2
    report = run_suite(invoker, samples, thresholds)
    print(format_text(report))
    write_outputs(report, args.summary, args.json)
    return 0 if report.passed else 1
