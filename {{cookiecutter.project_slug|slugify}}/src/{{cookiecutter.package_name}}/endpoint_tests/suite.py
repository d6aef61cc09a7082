"""The endpoint test suite: one suite for the local server, the QA endpoint and the prod smoke test.

It talks to a model server through an Invoker (HTTP to 127.0.0.1 for the local server,
sagemaker-runtime InvokeEndpoint for SageMaker endpoints) and checks, in order:

- ping: the server reports healthy;
- CSV and JSON (named features) requests of the labelled samples, sent as raw records (text
  as text, a gap as an empty cell or null; samples.py), return one prediction per row;
- schema: every prediction is {"label": 0 or 1, "probability": number in [0, 1]};
- correctness: accuracy on labelled samples reaches `min_accuracy`, and the CSV and JSON
  paths agree;
- missing values: a record with every feature missing still gets a prediction;
- bad input (wrong width, text in a numeric feature, unsupported content type) gets a 4xx
  answer, not a prediction. A 5xx fails, with one exception for SageMaker endpoints: a 5xx whose body
  ends with the handler's own InputError for that case (the last line of the traceback the
  sagemaker-inference toolkit sends back, e.g. `inference.InputError: each row needs 30 feature
  values, got [29]`) passes, marked as such, because a model packaged before the handler
  subclassed the toolkit's error class is answered that way. A crash (any other exception,
  even one that wraps or quotes the InputError) still fails. The handler maps InputError to
  400 in the SageMaker framework containers (steps/inference.py says how and what was
  verified); this allowance is checked offline with botocore's Stubber only.
- latency: a burst of single-row requests, p50/p95 and error rate against thresholds read
  from config (`environments.<env>.tests` in config/project.json, `cfg.tests_for(env)`).

Only the standard library and the package's config.py (standard library too) are imported
here, because the deploy job installs boto3 alone; the SageMaker invoker receives ready-made
boto3 clients (or creates them lazily).

The pieces: invokers.py (HTTP, SageMaker), samples.py (labelled raw records), checks.py (one
check each, thresholds), report.py (text, markdown, JSON), cli.py (`python -m <package>.endpoint_tests`),
segments.py (a multi-model endpoint: the suite once per segment, each with its TargetModel).
This module runs them in order and re-exports what deploy.cli and the rehearsal import.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict

from .checks import (
    BURST_BUDGET_SECONDS,
    MAX_BURST_REQUESTS,
    PROBABILITY_TOLERANCE,
    Thresholds,
    bad_inputs,
    batch_predictions,
    burst,
    call,
    check_bad_input,
    check_missing_values,
    check_thresholds,
    csv_body,
    json_body,
    percentile,
    schema_problem,
)
from .invokers import CSV, JSON, LOOPBACK_HOSTS, HttpInvoker, Invoker, SageMakerInvoker
from .report import Check, SuiteReport, format_text, write_outputs
from .samples import Sample, SampleError, load_samples, numeric_features

__all__ = [
    "BURST_BUDGET_SECONDS",
    "CSV",
    "JSON",
    "LOOPBACK_HOSTS",
    "MAX_BURST_REQUESTS",
    "PROBABILITY_TOLERANCE",
    "Check",
    "HttpInvoker",
    "Invoker",
    "SageMakerInvoker",
    "Sample",
    "SampleError",
    "SuiteReport",
    "Thresholds",
    "check_thresholds",
    "failed_report",
    "format_text",
    "load_samples",
    "main",
    "percentile",
    "run_suite",
    "write_outputs",
]


def run_suite(invoker: Invoker, samples: list[Sample], thresholds: Thresholds) -> SuiteReport:
    """Run every check against one server. It never raises for a misbehaving server: failures
    become failed checks. The number of requests is bounded: 2 batch requests, 2 requests with
    missing values, 3 bad-input requests, one ping and thresholds.burst_requests single-row
    requests (fewer if the burst stops early). It raises ValueError, before any request, for
    thresholds outside check_thresholds' ranges or no samples."""
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

    csv_predictions, detail = batch_predictions(call(invoker, csv_body(rows), CSV), len(rows))
    checks.append(Check("CSV request", csv_predictions is not None, detail))
    json_predictions, detail = batch_predictions(call(invoker, json_body(rows), JSON), len(rows))
    checks.append(Check("JSON request (named features)", json_predictions is not None, detail))

    answered = [p for p in (csv_predictions, json_predictions) if p is not None]
    if answered:
        problem = next((p for p in map(schema_problem, answered) if p), "")
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

    checks.append(check_missing_values(invoker, rows[0]))
    checks += [check_bad_input(invoker, *case) for case in bad_inputs(rows[0], numeric_features(samples))]
    latency, latency_checks = burst(invoker, rows, thresholds)
    checks += latency_checks

    return SuiteReport(
        passed=all(c.passed for c in checks),
        checks=checks,
        latency=latency,
        target=str(getattr(invoker, "target", type(invoker).__name__)),
        thresholds=asdict(thresholds),
        seconds=time.perf_counter() - started,
    )


def failed_report(target: str, name: str, detail: str, thresholds: Thresholds) -> SuiteReport:
    """A report of one failed check, for a run that could not test the endpoint (unusable
    samples, an error in the suite itself): the same shape as run_suite's."""
    return SuiteReport(
        passed=False,
        checks=[Check(name, False, detail)],
        latency={"requests": 0, "p50_ms": 0.0, "p95_ms": 0.0, "error_rate": 0.0, "seconds": 0.0},
        target=target,
        thresholds=asdict(thresholds),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m <package>.endpoint_tests`: see cli.py (imported here lazily, it imports this module)."""
    from .cli import main as cli_main

    return cli_main(argv)
