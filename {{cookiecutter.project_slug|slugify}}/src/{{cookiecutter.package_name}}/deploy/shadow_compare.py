"""The decision of the shadow phase: promote, abort, or not yet.

Read-only until it decides. It re-reads the state from the endpoint's tags; while the phase is
`shadowing` it measures, since the recorded start:

- latency and errors from CloudWatch (GetMetricData, namespace AWS/SageMaker, dimensions
  EndpointName and VariantName, one-minute sums): Invocations, Invocation5XXErrors, and the
  mean ModelLatency (its Sum over its SampleCount) of each variant;
- prediction agreement from data capture (shadow_capture.py).

"Not yet" (no mutating call; the CLI exits 3): fewer than `duration_minutes` since the start,
fewer than `min_requests` invocations of the shadow variant, or no captured request of both
variants yet. Otherwise the candidate passes when its mean latency is at most
`max_latency_ratio` times the champion's, its 5XX rate at most `max_error_rate` and its labels
agree with the champion's on at least `min_agreement` of the paired rows. The verdict is
recorded once (phase passed or failed, one AddTags): later runs report it without measuring
again, so a candidate that failed never gets a second chance from a re-run.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from .aws import Clients, log
from .shadow import SHADOW_VARIANT, Clock, recorded_state, utc_now
from .shadow_capture import Agreement, measure
from .shadow_state import InconsistentState, check_candidate, check_running, format_time, write_state
from .update_policy import VARIANT

DECISIONS = {"passed": "promote", "failed": "abort", "promoted": "promote", "aborted": "abort"}
METRICS = (
    ("invocations", "Invocations", "Sum"),
    ("errors", "Invocation5XXErrors", "Sum"),
    ("latency_sum", "ModelLatency", "Sum"),
    ("latency_count", "ModelLatency", "SampleCount"),
)


@dataclass
class Comparison:
    decision: str  # promote, abort or not-yet
    phase: str
    candidate: str
    reasons: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    ready_at: str = ""
    recorded: bool = False  # the verdict was already recorded before this run

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "phase": self.phase,
            "candidate": self.candidate,
            "reasons": self.reasons,
            "checks": self.checks,
            "measured": self.measured,
            "ready_at": self.ready_at,
            "recorded": self.recorded,
        }


def variant_metrics(
    clients: Clients, endpoint: str, variants: dict[str, str], start: dt.datetime, end: dt.datetime
) -> dict[str, dict[str, float]]:
    """{role: {invocations, errors, latency_ms}} per variant ({role: variant name}), summed over
    one-minute periods from `start` to `end` (GetMetricData, following NextToken)."""
    queries = [
        {
            "Id": f"{role}_{key}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                },
                "Period": 60,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for role, variant in variants.items()
        for key, metric, stat in METRICS
    ]
    totals = {q["Id"]: 0.0 for q in queries}
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    cloudwatch = clients("cloudwatch")
    while True:
        response = cloudwatch.get_metric_data(**request)
        for result in response.get("MetricDataResults", []):
            totals[result["Id"]] += sum(result.get("Values", []))
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    measured = {}
    for role in variants:
        count = totals[f"{role}_latency_count"]
        measured[role] = {
            "invocations": totals[f"{role}_invocations"],
            "errors": totals[f"{role}_errors"],
            # ModelLatency is in microseconds.
            "latency_ms": totals[f"{role}_latency_sum"] / count / 1000.0 if count else None,
        }
    return measured


def _check(name: str, value: float | None, limit: float, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "value": value, "limit": limit, "passed": passed, "detail": detail}


def judge(settings: Any, metrics: dict[str, dict[str, Any]], agreed: Agreement) -> list[dict[str, Any]]:
    """The three checks of a measured shadow phase (each a dict with `passed`)."""
    shadow, champion = metrics["shadow"], metrics["champion"]
    if shadow["latency_ms"] is None or champion["latency_ms"] is None:
        ratio = None
        latency_ok = False
        detail = "ModelLatency missing for " + (
            "the shadow" if shadow["latency_ms"] is None else "the champion"
        )
    else:
        ratio = shadow["latency_ms"] / champion["latency_ms"] if champion["latency_ms"] else math.inf
        latency_ok = ratio <= settings.max_latency_ratio
        detail = f"{shadow['latency_ms']:.1f} ms vs {champion['latency_ms']:.1f} ms"
    error_rate = shadow["errors"] / shadow["invocations"]
    share = agreed.share
    return [
        _check("latency_ratio", ratio, settings.max_latency_ratio, latency_ok, detail),
        _check(
            "error_rate",
            error_rate,
            settings.max_error_rate,
            error_rate <= settings.max_error_rate,
            f"{shadow['errors']:.0f} 5XX of {shadow['invocations']:.0f} requests",
        ),
        _check(
            "agreement",
            share,
            settings.min_agreement,
            share is not None and share >= settings.min_agreement,
            f"{agreed.agreeing} of {agreed.rows} labels in {agreed.pairs} paired requests",
        ),
    ]


def compare(cfg: Config, clients: Clients, arn: str, now: Clock = utc_now) -> Comparison:
    """Decide the shadow phase of `arn` (see the module docstring)."""
    settings = cfg.champion.shadow
    environment = cfg.environment("prod")
    name = environment.endpoint_name
    endpoint, state = recorded_state(clients, name)
    check_candidate(state, arn)
    if state.phase in DECISIONS:
        log(f"{state.describe()}: decided earlier")
        return Comparison(
            DECISIONS[state.phase], state.phase, arn, [f"recorded phase {state.phase}"], recorded=True
        )
    if state.phase != "shadowing":
        raise InconsistentState(f"{state.describe()} did not start completely: run `shadow start` again")
    check_running(endpoint, state, (state.shadow_config,))
    started, current = state.started(), now()
    ready = started + dt.timedelta(minutes=settings.duration_minutes)
    result = Comparison("not-yet", state.phase, arn, ready_at=format_time(ready))
    elapsed = (current - started).total_seconds() / 60
    result.measured["elapsed_minutes"] = round(elapsed, 1)
    if current < ready:
        result.reasons.append(f"{elapsed:.0f} of {settings.duration_minutes} minutes have passed")
        return result
    production = (endpoint.get("ProductionVariants") or [{"VariantName": VARIANT}])[0]["VariantName"]
    variants = {"champion": production, "shadow": SHADOW_VARIANT}
    metrics = variant_metrics(clients, name, variants, started, current)
    result.measured.update(metrics)
    requests = metrics["shadow"]["invocations"]
    if requests < settings.min_requests:
        result.reasons.append(
            f"the shadow variant answered {requests:.0f} of {settings.min_requests} requests"
        )
        return result
    agreed = measure(clients, environment.capture_uri, name, (production, SHADOW_VARIANT), started)
    result.measured["agreement"] = agreed.to_dict()
    if not agreed.pairs:
        result.reasons.append("no request is captured for both variants yet")
        return result
    result.checks = judge(settings, metrics, agreed)
    failed = [c for c in result.checks if not c["passed"]]
    result.reasons = [f"{c['name']} {c['detail']}: {_shown(c['value'])} vs {c['limit']:g}" for c in failed]
    phase = "failed" if failed else "passed"
    write_state(clients, endpoint, state, phase=phase)
    result.phase, result.decision = phase, DECISIONS[phase]
    log(f"shadow comparison of {arn}: {phase}" + (f" ({'; '.join(result.reasons)})" if failed else ""))
    return result


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def markdown(result: Comparison) -> str:
    """The job summary: the decision and each check."""
    lines = [
        f"### Shadow comparison: {result.decision}",
        "",
        f"candidate `{result.candidate}`, phase {result.phase}",
    ]
    if result.ready_at:
        lines.append(f"comparable from {result.ready_at}")
    if result.checks:
        lines += ["", "| check | value | limit | passed | detail |", "|---|---|---|---|---|"]
        for c in result.checks:
            passed = "yes" if c["passed"] else "no"
            cells = [c["name"], _shown(c["value"]), f"{c['limit']:g}", passed, c["detail"]]
            lines.append("| " + " | ".join(cells) + " |")
    if result.reasons:
        lines += ["", *[f"- {reason}" for reason in result.reasons]]
    return "\n".join(lines) + "\n"
