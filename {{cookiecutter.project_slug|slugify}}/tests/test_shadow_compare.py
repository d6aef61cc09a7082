"""The shadow phase's decision against botocore's Stubber: CloudWatch GetMetricData for both
variants and the data capture of both in S3, with a fixed clock. Pass, each way to fail, each
way of "not yet" (exit 3, nothing recorded), a re-run after the verdict (read from the tags, not
measured again), and the capture parser on a tiny fixture."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from botocore.response import StreamingBody

from deploy_helpers import assert_done, module
from shadow_helpers import STARTED, World, capture_line, run, stub_add_tags, stub_state, tags, world

pytestmark = pytest.mark.usefixtures("fake_aws")
capture = module("deploy.shadow_capture")

LATER = STARTED + dt.timedelta(minutes=61)
READ = ["GetCallerIdentity", "DescribeEndpoint", "ListTags"]
MEASURED = [
    *READ,
    "GetMetricData",
    "GetMetricData",
    "ListObjectsV2",
    "GetObject",
    "ListObjectsV2",
    "GetObject",
]
CHAMPION_LABELS = [1, 0, 1, 1]
GOOD = {
    "champion": {"invocations": 1000, "errors": 0, "latency_ms": 20.0},
    "shadow": {"invocations": 200, "errors": 1, "latency_ms": 25.0},
}


def metric_queries(w: World) -> list[dict]:
    """The GetMetricData queries, written out."""
    endpoint = w.cfg.environment("prod").endpoint_name
    queries = []
    for role, variant in (("champion", "AllTraffic"), ("shadow", "Shadow")):
        for key, metric, stat in (
            ("invocations", "Invocations", "Sum"),
            ("errors", "Invocation5XXErrors", "Sum"),
            ("latency_sum", "ModelLatency", "Sum"),
            ("latency_count", "ModelLatency", "SampleCount"),
        ):
            dimensions = [
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": variant},
            ]
            queries.append(
                {
                    "Id": f"{role}_{key}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/SageMaker",
                            "MetricName": metric,
                            "Dimensions": dimensions,
                        },
                        "Period": 60,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    return queries


def stub_metrics(w: World, metrics: dict, now: dt.datetime = LATER) -> None:
    """Two pages (NextToken): each total split in two one-minute values, latency in microseconds."""
    totals = {}
    for role, values in metrics.items():
        count = values["invocations"]
        totals[f"{role}_invocations"] = values["invocations"]
        totals[f"{role}_errors"] = values["errors"]
        totals[f"{role}_latency_sum"] = values["latency_ms"] * 1000 * count
        totals[f"{role}_latency_count"] = count
    expected = {"MetricDataQueries": metric_queries(w), "StartTime": STARTED, "EndTime": now}
    cloudwatch = w.stubs["cloudwatch"]
    for page, token in ((0, "more"), (1, None)):
        results = [
            {
                "Id": key,
                "Label": key,
                "Timestamps": [STARTED],
                "Values": [total / 2],
                "StatusCode": "Complete",
            }
            for key, total in totals.items()
        ]
        response = {"MetricDataResults": results, **({"NextToken": token} if token else {})}
        cloudwatch.add_response(
            "get_metric_data", response, expected if page == 0 else {**expected, "NextToken": "more"}
        )


def stub_capture(w: World, variant: str, lines: list[str]) -> None:
    env = w.cfg.environment("prod")
    bucket, prefix = env.capture_uri.removeprefix("s3://").split("/", 1)
    base = f"{prefix}/{env.endpoint_name}/{variant}/"
    key = base + "2025/01/31/12/part-1.jsonl"
    s3 = w.stubs["s3"]
    s3.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": key}] if lines else [], "IsTruncated": False, "KeyCount": len(lines[:1])},
        {"Bucket": bucket, "Prefix": base, "StartAfter": base + "2025/01/31/12"},
    )
    if lines:
        body = ("\n".join(lines) + "\n").encode()
        s3.add_response(
            "get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))}, {"Bucket": bucket, "Key": key}
        )


def champion_lines() -> list[str]:
    return [capture_line(f"e{i}", label) for i, label in enumerate(CHAMPION_LABELS)] + [capture_line("e9", 0)]


def measured_world(configure, recorder, metrics=GOOD, shadow_labels=CHAMPION_LABELS) -> World:
    w = world(configure, recorder, checked=False)
    stub_state(w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name))
    stub_metrics(w, metrics)
    stub_capture(w, "AllTraffic", champion_lines())
    stub_capture(w, "Shadow", [capture_line(f"e{i}", label) for i, label in enumerate(shadow_labels)])
    return w


def outputs(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_a_candidate_within_every_limit_passes_and_the_verdict_is_recorded(
    configure, recorder, run_cli, monkeypatch, tmp_path
):
    w = measured_world(configure, recorder)
    stub_add_tags(w, **{"shadow-phase": "passed"})
    report, summary = tmp_path / "shadow.json", tmp_path / "summary.md"
    code, out, err = run(
        w,
        run_cli,
        "compare",
        "--report",
        str(report),
        "--summary",
        str(summary),
        now=LATER,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert_done(w.stubs)
    recorder.assert_valid()
    assert recorder.operations == [*MEASURED, "AddTags"]
    assert outputs(out)["decision"] == "promote" and outputs(out)["phase"] == "passed"
    checks = {c["name"]: c for c in json.loads(report.read_text())["checks"]}
    assert checks["latency_ratio"]["value"] == pytest.approx(1.25)
    assert checks["error_rate"]["value"] == pytest.approx(0.005)
    assert checks["agreement"]["value"] == 1.0
    assert "| agreement | 1 | 0.95 | yes | 4 of 4 labels in 4 paired requests |" in summary.read_text()


@pytest.mark.parametrize(
    ("metrics", "shadow_labels", "failed"),
    [
        (GOOD, [1, 1, 0, 1], "agreement"),  # 2 of 4 labels differ
        ({**GOOD, "shadow": {**GOOD["shadow"], "latency_ms": 40.0}}, CHAMPION_LABELS, "latency_ratio"),  # 2.0
        ({**GOOD, "shadow": {**GOOD["shadow"], "errors": 5}}, CHAMPION_LABELS, "error_rate"),  # 0.025
    ],
)
def test_a_candidate_over_one_limit_fails_and_is_to_be_aborted(
    configure, recorder, run_cli, monkeypatch, tmp_path, metrics, shadow_labels, failed
):
    w = measured_world(configure, recorder, metrics, shadow_labels)
    stub_add_tags(w, **{"shadow-phase": "failed"})
    report = tmp_path / "shadow.json"
    code, out, err = run(w, run_cli, "compare", "--report", str(report), now=LATER, monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert outputs(out)["decision"] == "abort"
    result = json.loads(report.read_text())
    assert [c["name"] for c in result["checks"] if not c["passed"]] == [failed]
    assert result["reasons"][0].startswith(failed)


def test_too_early_is_not_yet_with_no_measurement_and_nothing_recorded(
    configure, recorder, run_cli, monkeypatch
):
    w = world(configure, recorder, checked=False)
    stub_state(w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name))
    now = STARTED + dt.timedelta(minutes=30)
    code, out, err = run(w, run_cli, "compare", now=now, monkeypatch=monkeypatch)
    assert code == 3
    assert_done(w.stubs)
    assert recorder.operations == READ
    assert outputs(out) == {"decision": "not-yet", "phase": "shadowing", "ready_at": "2025-01-31T13:00:00Z"}
    assert "30 of 60 minutes" in err and "error:" not in err


def test_too_few_shadow_requests_is_not_yet(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    stub_state(w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name))
    stub_metrics(w, {**GOOD, "shadow": {**GOOD["shadow"], "invocations": 99}})
    code, _out, err = run(w, run_cli, "compare", now=LATER, monkeypatch=monkeypatch)
    assert code == 3
    assert_done(w.stubs)
    assert recorder.mutating == []
    assert "answered 99 of 100 requests" in err


def test_no_captured_pair_yet_is_not_yet(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    stub_state(w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name))
    stub_metrics(w, GOOD)
    stub_capture(w, "AllTraffic", champion_lines())
    stub_capture(w, "Shadow", [])
    code, _out, err = run(w, run_cli, "compare", now=LATER, monkeypatch=monkeypatch)
    assert code == 3
    assert_done(w.stubs)
    assert recorder.mutating == []
    assert "no request is captured for both variants" in err


@pytest.mark.parametrize(
    ("phase", "decision"), [("failed", "abort"), ("passed", "promote"), ("promoted", "promote")]
)
def test_a_rerun_after_the_verdict_reports_it_without_measuring_again(
    configure, recorder, run_cli, monkeypatch, phase, decision
):
    """A failed candidate gets no second chance from a re-run with better numbers: the tags decide."""
    w = world(configure, recorder, checked=False)
    running = w.new.config_name if phase == "promoted" else w.shadow_config
    stub_state(w, running, tags(w, phase, previous=w.old.config_name))
    code, out, err = run(w, run_cli, "compare", now=LATER, monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.operations == READ
    assert outputs(out)["decision"] == decision


def test_compare_refuses_a_shadow_phase_that_did_not_start(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    stub_state(
        w, w.old.config_name, tags(w, "starting", previous=w.old.config_name, **{"shadow-started-at": ""})
    )
    code, _out, err = run(w, run_cli, "compare", now=LATER, monkeypatch=monkeypatch)
    assert code == 1 and "did not start completely" in err


# ------------------------------------------------------------------------------ capture parsing

FIXTURE = "\n".join(
    [
        capture_line("a", 1),
        capture_line("b", 0, encoding="BASE64"),
        capture_line("c", 1, inference_id="req-7"),
        capture_line("d", None),  # an error body: no labels
        '{"captureData": {}}',  # no eventMetadata
        '{"eventMetadata": "e", "captureData": {"endpointOutput": {}}}',  # metadata not an object
        '{"eventMetadata": {"eventId": "f"}, "captureData": {"endpointOutput": []}}',  # output not an object
        "not json",
        "",
    ]
)


def test_capture_records_are_keyed_by_inference_id_else_event_id_and_decoded():
    records, unreadable = capture.parse_capture(FIXTURE)
    assert [(r.key, r.labels) for r in records] == [("a", (1,)), ("b", (0,)), ("req-7", (1,)), ("d", None)]
    assert unreadable == 4


def test_agreement_pairs_by_key_and_counts_an_error_as_disagreement():
    champion, _ = capture.parse_capture(FIXTURE)
    shadow, _ = capture.parse_capture(
        "\n".join([capture_line("a", 1), capture_line("x", 0, inference_id="req-7"), capture_line("b", 1)])
    )
    shadow.append(capture.Record("d", (0,)))
    shadow.append(capture.Record("unpaired", (1,)))
    result = capture.agreement(champion, shadow)
    # a agrees; req-7 pairs by inference id (0 vs 1); b differs; d: error vs a label.
    assert (result.pairs, result.rows, result.agreeing) == (4, 4, 1)
    assert result.share == 0.25


def test_a_key_seen_twice_on_either_side_is_left_out_not_compared_with_another_request():
    """inferenceId is the caller's: two requests sharing one must not be paired with each other's answers."""
    champion = [capture.Record("k", (1,)), capture.Record("k", (0,)), capture.Record("a", (1,))]
    shadow = [
        capture.Record("k", (1,)),
        capture.Record("a", (1,)),
        capture.Record("b", (0,)),
        capture.Record("b", (0,)),
    ]
    result = capture.agreement(champion, shadow)
    assert (result.pairs, result.rows, result.agreeing, result.ambiguous) == (1, 1, 1, 2)
    assert result.to_dict()["ambiguous_keys"] == 2
