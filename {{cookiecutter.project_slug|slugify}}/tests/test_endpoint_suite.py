"""The endpoint test suite and the local model server.

Broken servers are real: the good model.tar.gz with a few lines appended to its packed
code/inference.py (labels flipped, crashes on bad input, slow, wrong schema...), served by
local/server.py exactly as the rehearsal serves the good one.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from model_helpers import CFG, PACKAGE, ROOT, TARGET, config, module, pack, split_sample, train_model

suite = module("endpoint_tests.suite")
checks_module = module("endpoint_tests.checks")
samples_module = module("endpoint_tests.samples")
suite_cli = module("endpoint_tests.cli")
server_module = module("local.server")
ModelServer = server_module.ModelServer
Thresholds = suite.Thresholds

# Generous latency limits: these tests are about behaviour, not about the speed of a busy CI machine.
RELAXED = Thresholds(burst_requests=20, max_p50_ms=500, max_p95_ms=2000, max_error_rate=0.0)

BROKEN_HANDLERS = {
    "flipped labels": """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    predictions = _real_predict_fn(input_data, model)
    return [{"label": 1 - p["label"], "probability": p["probability"]} for p in predictions]
""",
    "500 on bad input": """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    try:
        return _real_predict_fn(input_data, model)
    except InputError as exc:
        raise RuntimeError(str(exc)) from exc
""",
    "slow": """
import time as _time
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    _time.sleep(0.05)  # every response over the 30 ms limits below, far under the relaxed 500 ms
    return _real_predict_fn(input_data, model)
""",
    "percent probabilities": """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    predictions = _real_predict_fn(input_data, model)
    return [{"label": p["label"], "probability": p["probability"] * 100} for p in predictions]
""",
    "text labels": """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    predictions = _real_predict_fn(input_data, model)
    return [{"label": "yes" if p["label"] else "no", "probability": p["probability"]} for p in predictions]
""",
    "json path differs": """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    predictions = _real_predict_fn(input_data, model)
    if input_data[1].startswith("application/json"):
        return [{"label": 1 - p["label"], "probability": 1 - p["probability"]} for p in predictions]
    return predictions
""",
    "first row only": """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    return _real_predict_fn(input_data, model)[:1]
""",
}


# One worker trains the module's model once (pytest-xdist --dist loadgroup) instead of one per worker.
pytestmark = pytest.mark.xdist_group("endpoint-suite")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return split_sample(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory) -> Path:
    return train_model(data_dir, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def samples(data_dir):
    return suite.load_samples(data_dir / "test" / "test.csv", 40, TARGET)


@pytest.fixture(scope="module")
def archives(model_dir, tmp_path_factory):
    """model.tar.gz by name: "good" or a key of BROKEN_HANDLERS."""
    out = tmp_path_factory.mktemp("archives")
    built = {"good": pack(model_dir, out / "good" / "model.tar.gz")}
    for i, (name, code) in enumerate(BROKEN_HANDLERS.items()):
        built[name] = pack(model_dir, out / f"broken{i}" / "model.tar.gz", extra_handler_code=code)
    return built


def run_against(archive: Path, samples, thresholds=RELAXED):
    with ModelServer(archive) as server:
        return suite.run_suite(suite.HttpInvoker(server.url), samples, thresholds)


def failed(report) -> set[str]:
    return {c.name for c in report.failures()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the suite against good and broken servers -------------------------------------------


def test_suite_passes_against_the_packaged_model(archives, samples):
    report = run_against(archives["good"], samples)

    assert report.passed, report.failures()
    assert [c.name for c in report.checks] == [
        "ping",
        "CSV request",
        "JSON request (named features)",
        "response schema",
        "accuracy",
        "CSV and JSON agree",
        "missing values",
        "bad input: wrong width",
        "bad input: non-numeric",
        "bad input: content type",
        "latency p50",
        "latency p95",
        "error rate",
    ]
    assert report.latency["requests"] == RELAXED.burst_requests
    assert report.latency["error_rate"] == 0
    assert 0 < report.latency["p50_ms"] <= report.latency["p95_ms"]
    assert json.loads(json.dumps(report.to_dict()))["passed"] is True
    markdown = report.to_markdown()
    assert "| check | result | detail |" in markdown
    assert all(f"| {c.name} | pass |" in markdown for c in report.checks)


def test_wrong_labels_fail_the_accuracy_floor(archives, samples):
    report = run_against(archives["flipped labels"], samples)
    assert not report.passed
    assert failed(report) == {"accuracy"}
    accuracy = next(c for c in report.checks if c.name == "accuracy")
    assert f"min {RELAXED.min_accuracy:g}" in accuracy.detail


def test_a_server_error_on_bad_input_fails_the_bad_input_checks(archives, samples):
    report = run_against(archives["500 on bad input"], samples)
    assert failed(report) == {"bad input: wrong width", "bad input: non-numeric", "bad input: content type"}
    assert all("got HTTP 500" in c.detail for c in report.failures())


def test_slow_responses_fail_the_latency_limits_and_stop_the_burst_early(archives, samples):
    tight = Thresholds(burst_requests=20, max_p50_ms=30, max_p95_ms=30, max_error_rate=0.0)
    report = run_against(archives["slow"], samples, tight)
    assert failed(report) == {"latency p50", "latency p95"}
    # With 20 requests, p95 fails once 2 are slow: the burst stops there instead of running on.
    assert report.latency["requests"] == 2
    assert (
        "stopped after 2 of 20 requests" in next(c for c in report.checks if c.name == "latency p95").detail
    )
    # The same server meets relaxed limits: the failure above is the latency, nothing else.
    relaxed = Thresholds(burst_requests=5, max_p50_ms=500, max_p95_ms=2000, max_error_rate=0.0)
    assert run_against(archives["slow"], samples, relaxed).passed


@pytest.mark.parametrize(
    ("broken", "problem"),
    [("percent probabilities", "is outside [0, 1]"), ("text labels", "is not 0 or 1")],
)
def test_predictions_off_the_schema_fail_it(archives, samples, broken, problem):
    report = run_against(archives[broken], samples)
    assert "response schema" in failed(report)
    assert problem in next(c for c in report.checks if c.name == "response schema").detail


def test_csv_and_json_paths_must_agree(archives, samples):
    report = run_against(archives["json path differs"], samples)
    assert failed(report) == {"CSV and JSON agree"}


def test_a_wrong_number_of_predictions_fails_both_batch_requests(archives, samples):
    report = run_against(archives["first row only"], samples)
    assert {"CSV request", "JSON request (named features)"} <= failed(report)
    assert f"1 predictions for {len(samples)} rows" in report.checks[1].detail


def test_an_unreachable_server_fails_fast(samples):
    report = suite.run_suite(
        suite.HttpInvoker(f"http://127.0.0.1:{free_port()}", timeout=2), samples, RELAXED
    )
    assert not report.passed
    assert failed(report) == {c.name for c in report.checks}  # latency too: nothing succeeded to time
    assert "no successful request to time" in next(c for c in report.checks if c.name == "latency p95").detail
    assert report.latency["requests"] == 1  # no error is allowed, so the burst stops at the first


def test_suite_cli_exit_codes_and_outputs(archives, data_dir, tmp_path, capsys):
    summary, report_json = tmp_path / "summary.md", tmp_path / "report.json"
    summary.write_text("# earlier job output\n")
    held_out = ["--samples", str(data_dir / "test" / "test.csv")]
    with ModelServer(archives["good"]) as server:
        args = ["--url", server.url, *held_out, "--summary", str(summary), "--report", str(report_json)]
        assert suite_cli.main(args) == 0
    assert summary.read_text().startswith("# earlier job output\n### Endpoint tests PASSED")
    assert json.loads(report_json.read_text())["passed"] is True
    with ModelServer(archives["flipped labels"]) as server:
        assert suite_cli.main(["--url", server.url, *held_out, "--report", str(report_json)]) == 1
    assert json.loads(report_json.read_text())["passed"] is False
    assert suite_cli.main(["--url", "http://192.0.2.1:8080"]) == 2
    assert "must look like http://127.0.0.1:PORT" in capsys.readouterr().err
    assert suite_cli.main(["--url", "http://127.0.0.1:8080", "--env", "staging"]) == 2
    assert "unknown environment 'staging'" in capsys.readouterr().err
    # suite.main is the same command line (older callers import it from there).
    assert suite.main(["--url", "http://127.0.0.1:8080", "--env", "staging"]) == 2
    capsys.readouterr()


def test_suite_cli_follows_the_cli_contract(archives, tmp_path, capsys):
    """--samples is a labelled CSV, --rows how many of its rows, --report the JSON; one `error:` line."""
    samples_csv = tmp_path / "labelled.csv"
    samples_csv.write_text(
        "\n".join(ROOT.joinpath("data", "sample.csv").read_text().splitlines()[:41]) + "\n"
    )
    report_json = tmp_path / "out" / "report.json"
    with ModelServer(archives["good"]) as server:
        args = [
            "--url",
            server.url,
            "--samples",
            str(samples_csv),
            "--rows",
            "30",
            "--report",
            str(report_json),
        ]
        assert suite_cli.main(args) == 0
        capsys.readouterr()
        batch = next(c for c in json.loads(report_json.read_text())["checks"] if c["name"] == "CSV request")
        assert batch["detail"].startswith("30 predictions")
        assert suite_cli.main(["--url", server.url, "--samples", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: endpoint tests: ") and "missing.csv" in err[0]
    for old in (["--n", "5"], ["--json", str(report_json)]):  # the options before the contract
        with pytest.raises(SystemExit) as exit_info:
            suite_cli.main(["--url", "http://127.0.0.1:8080", *old])
        assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        suite_cli.main(["--url", "http://127.0.0.1:8080", "--rows", "0"])
    assert exit_info.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err


def test_the_default_samples_are_the_rehearsals_held_out_split(monkeypatch, tmp_path, capsys):
    assert suite_cli.DEFAULT_SAMPLES == ROOT / "build" / "local" / "data" / "test" / "test.csv"
    monkeypatch.setattr(suite_cli, "DEFAULT_SAMPLES", tmp_path / "test" / "test.csv")
    assert suite_cli.main(["--url", "http://127.0.0.1:8080"]) == 2
    assert capsys.readouterr().err == (
        f"error: endpoint tests: samples file {tmp_path / 'test' / 'test.csv'} not found"
        " (run `make local` first, or pass --samples)\n"
    )


def test_python_m_endpoint_tests_runs_the_cli(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", f"{PACKAGE}.endpoint_tests", "--url", "http://192.0.2.1:8080"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: endpoint tests: url 'http://192.0.2.1:8080' must look like")


# --- pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["local", "qa", "prod"])
def test_thresholds_come_from_config(env):
    expected = config.read_raw(ROOT / "config" / "project.json")["environments"][env]["tests"]
    thresholds = CFG.tests_for(env)
    assert isinstance(thresholds, Thresholds)
    assert thresholds.burst_requests == expected["burst_requests"]
    assert thresholds.max_p50_ms == expected["max_p50_ms"]
    assert thresholds.max_p95_ms == expected["max_p95_ms"]
    assert thresholds.max_error_rate == expected["max_error_rate"]
    assert thresholds.min_accuracy == expected.get("min_accuracy", 0.8)


def test_thresholds_reject_missing_or_out_of_range_settings():
    with pytest.raises(ValueError, match=r"unknown environment 'staging'"):
        CFG.tests_for("staging")
    raw = config.read_raw(ROOT / "config" / "project.json")
    raw["environments"]["local"]["tests"] = {"burst_requests": 5, "max_p50_ms": 10}
    with pytest.raises(ValueError, match=r"environments\.local\.tests\.max_p95_ms is missing"):
        config.parse(raw)
    with pytest.raises(ValueError, match="burst_requests is 0"):
        suite.check_thresholds(Thresholds(burst_requests=0, max_p50_ms=1, max_p95_ms=1, max_error_rate=0))
    with pytest.raises(ValueError, match=r"max_error_rate is 1\.5"):
        suite.check_thresholds(Thresholds(burst_requests=1, max_p50_ms=1, max_p95_ms=1, max_error_rate=1.5))
    # The suite caps the burst below what the config accepts, and run_suite checks before any request.
    too_many = dataclasses.replace(RELAXED, burst_requests=suite.MAX_BURST_REQUESTS + 1)
    with pytest.raises(ValueError, match=f"burst_requests is {suite.MAX_BURST_REQUESTS + 1}"):
        suite.run_suite(FixedAnswer(200, b""), [({"x": 1.0}, 1)], too_many)


def test_load_samples_reads_named_features_and_labels(data_dir):
    test_csv = data_dir / "test" / "test.csv"
    header = test_csv.read_text().splitlines()[0].split(",")
    samples = suite.load_samples(test_csv, 7, TARGET)
    assert len(samples) == 7
    assert all(list(features) == [h for h in header if h != TARGET] for features, _ in samples)
    assert {label for _, label in samples} <= {0, 1}
    with pytest.raises(ValueError, match="no target column 'label'"):
        suite.load_samples(test_csv, 7, "label")


@pytest.mark.parametrize("url", ["http://192.0.2.1:8080", "https://127.0.0.1:8080", "http://127.0.0.1"])
def test_http_invoker_only_talks_to_a_local_server(url):
    with pytest.raises(ValueError, match=re.escape("must look like http://127.0.0.1:PORT")):
        suite.HttpInvoker(url)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(100, 0, -1)]
    assert suite.percentile(values, 50) == 50.0
    assert suite.percentile(values, 95) == 95.0
    assert suite.percentile([7.0], 95) == 7.0


# --- SageMakerInvoker (botocore Stubber; no AWS) -----------------------------------------


@pytest.fixture
def runtime(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", CFG.region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("sagemaker-runtime")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def model_error(stubber, status: int, message: str) -> None:
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message=f"Received client error ({status}) from primary",
        http_status_code=424,
        modeled_fields={"OriginalStatusCode": status, "OriginalMessage": message},
    )


def test_sagemaker_invoker_returns_the_body_and_maps_errors(runtime):
    client, stubber = runtime
    body = b'{"predictions": [{"label": 1, "probability": 0.9}]}'
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
        {"EndpointName": "m-qa", "Body": b"1,2\n", "ContentType": "text/csv", "Accept": "application/json"},
    )
    model_error(stubber, 400, '{"error": "each row needs 30 feature values"}')
    stubber.add_client_error("invoke_endpoint", service_error_code="ValidationError", service_message="bad")
    stubber.add_client_error("invoke_endpoint", service_error_code="ServiceUnavailable", http_status_code=503)

    invoker = suite.SageMakerInvoker("m-qa", client)
    assert invoker.invoke(b"1,2\n", "text/csv") == (200, body)
    assert invoker.invoke(b"1\n", "text/csv") == (400, b'{"error": "each row needs 30 feature values"}')
    assert invoker.invoke(b"1\n", "text/csv")[0] == 400
    assert invoker.invoke(b"1\n", "text/csv")[0] == 503


def test_sagemaker_invoker_ping(runtime):
    client, stubber = runtime
    sagemaker = boto3.client("sagemaker")
    described = {
        "EndpointName": "m-qa",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:111111111111:endpoint/m-qa",
        "CreationTime": "2025-01-01T00:00:00Z",
        "LastModifiedTime": "2025-01-01T00:00:00Z",
    }
    with Stubber(sagemaker) as sm_stubber:
        sm_stubber.add_response("describe_endpoint", {**described, "EndpointStatus": "InService"})
        sm_stubber.add_response("describe_endpoint", {**described, "EndpointStatus": "Updating"})
        with_describe = suite.SageMakerInvoker("m-qa", client, sagemaker)
        assert with_describe.ping() is True
        assert with_describe.ping() is False
    # Without a sagemaker client, a 4xx from the container means it is up; a 5xx means it is not.
    model_error(stubber, 400, "CSV body has no rows")
    model_error(stubber, 500, "internal error")
    runtime_only = suite.SageMakerInvoker("m-qa", client)
    assert runtime_only.ping() is True
    assert runtime_only.ping() is False


class LocalRuntime:
    """A sagemaker-runtime stand-in that forwards to the local server and raises ModelError as
    SageMaker does when the container answers non-2xx."""

    def __init__(self, url: str) -> None:
        self.http = suite.HttpInvoker(url)

    def invoke_endpoint(self, EndpointName, Body, ContentType, Accept):
        status, body = self.http.invoke(Body, ContentType, Accept)
        if status != 200:
            error = {
                "Error": {"Code": "ModelError", "Message": f"Received client error ({status})"},
                "OriginalStatusCode": status,
                "OriginalMessage": body.decode(),
                "ResponseMetadata": {"HTTPStatusCode": 424},
            }
            raise ClientError(error, "InvokeEndpoint")
        return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


def test_the_same_suite_runs_through_the_sagemaker_invoker(archives, samples):
    with ModelServer(archives["good"]) as server:
        report = suite.run_suite(suite.SageMakerInvoker("m-qa", LocalRuntime(server.url)), samples, RELAXED)
    assert report.passed, report.failures()
    assert report.target == "endpoint m-qa"


def container_traceback(last_line: str) -> str:
    """A 500 body as sagemaker-inference sends it: the message, then the traceback."""
    return (
        "each row needs 30 feature values\nTraceback (most recent call last):\n"
        '  File "/opt/ml/model/code/inference.py", line 150, in predict_fn\n'
        f"{last_line}\n"
    )


def bad_input_cases(samples) -> list:
    return checks_module.bad_inputs(samples[0][0], samples_module.numeric_features(samples))


def bad_input_checks(invoker, samples) -> list:
    return [checks_module.check_bad_input(invoker, *case) for case in bad_input_cases(samples)]


JSON = "application/json"


def test_sagemaker_5xx_passes_only_when_it_ends_with_the_handlers_input_error(runtime, samples):
    client, stubber = runtime
    column = samples_module.numeric_features(samples)[0]
    messages = {
        "bad input: wrong width": "each row needs 30 feature values, got [29]",
        "bad input: non-numeric": f"column {column!r}: 'not-a-number' is not a number",
        "bad input: content type": f"content type 'text/plain' not supported; use text/csv or {JSON}",
    }
    for message in messages.values():
        model_error(stubber, 500, container_traceback(f"inference.InputError: {message}"))
    checks = bad_input_checks(suite.SageMakerInvoker("m-qa", client), samples)
    assert [c.passed for c in checks] == [True, True, True], checks
    assert all("for the handler's InputError" in c.detail for c in checks)

    # A crash fails: another exception, even one quoting or wrapping the InputError text.
    crashes = [
        "<html><title>500 Internal Server Error</title></html>",
        f"RuntimeError: {messages['bad input: wrong width']}",
        "inference.InputError: an InputError about something else",
    ]
    for last_line in crashes:
        model_error(stubber, 500, container_traceback(last_line))
    checks = bad_input_checks(suite.SageMakerInvoker("m-qa", client), samples)
    assert [c.passed for c in checks] == [False, False, False]
    assert all("expected a 4xx answer, got HTTP 500" in c.detail for c in checks)


class FixedAnswer:
    """An invoker whose server answers every request with the same status and body."""

    target = "fixed"

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def ping(self) -> bool:
        return True

    def invoke(self, body, content_type, accept="application/json"):
        return self.status, self.body


def test_a_local_5xx_fails_even_with_the_input_error_text(samples):
    body = container_traceback("inference.InputError: CSV line 1 has a value that is not a number").encode()
    checks = bad_input_checks(FixedAnswer(500, body), samples)
    assert [c.passed for c in checks] == [False, False, False]
    assert [c.passed for c in bad_input_checks(FixedAnswer(400, b'{"error": "x"}'), samples)] == [True] * 3


def test_the_suite_knows_the_handlers_input_error_texts(model_dir, samples):
    """The text each bad-input case expects is what the packaged handler really says."""
    handler = module("steps.inference")
    model = handler.model_fn(str(model_dir))
    for _name, body, content_type, expected in bad_input_cases(samples):
        with pytest.raises(handler.InputError) as caught:
            handler.predict_fn(handler.input_fn(body, content_type), model)
        assert expected in str(caught.value)


def test_a_crash_on_bad_input_fails_through_the_sagemaker_invoker_too(archives, samples):
    with ModelServer(archives["500 on bad input"]) as server:
        checks = bad_input_checks(suite.SageMakerInvoker("m-qa", LocalRuntime(server.url)), samples)
    assert [c.passed for c in checks] == [False, False, False]


# --- the local server ----------------------------------------------------------------------


def request(url: str, method: str, path: str, body: bytes | None = None, content_type: str = "text/csv"):
    invoker = suite.HttpInvoker(url)
    return invoker._request(method, path, body, {"Content-Type": content_type} if body is not None else {})


def test_server_speaks_the_sagemaker_container_contract(archives, samples):
    row = ",".join(repr(v) for v in samples[0][0].values()).encode()
    with ModelServer(archives["good"]) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert request(server.url, "GET", "/ping")[0] == 200
        status, body = request(server.url, "POST", "/invocations", row)
        assert status == 200 and len(json.loads(body)["predictions"]) == 1
        status, body = request(server.url, "POST", "/invocations", b"1,2,3")
        assert status == 400 and "feature values" in json.loads(body)["error"]
        assert request(server.url, "GET", "/nothing-here")[0] == 404
        assert request(server.url, "GET", "/invocations")[0] == 405
        assert request(server.url, "POST", "/ping", b"")[0] == 405
    with ModelServer(archives["500 on bad input"]) as server:
        status, body = request(server.url, "POST", "/invocations", b"1,2,3")
        assert status == 500 and json.loads(body)["error"].startswith("internal error: RuntimeError")


def test_server_rejects_archives_it_cannot_serve(model_dir, tmp_path):
    with pytest.raises(server_module.ServerError, match="not found"):
        ModelServer(tmp_path / "missing.tar.gz").load()
    no_code = tmp_path / "no-code.tar.gz"
    with tarfile.open(no_code, "w:gz") as tar:
        tar.add(model_dir / "model_info.json", arcname="model_info.json")
    with pytest.raises(server_module.ServerError, match=r"no code/inference.py"):
        ModelServer(no_code).load()


def test_server_command_line_errors_follow_the_cli_contract(model_dir, tmp_path, capsys):
    """2 and one `error:` line for no archive there; 1 for an archive that cannot be served."""
    assert server_module.main(["--model", str(tmp_path / "missing.tar.gz"), "--port", "0"]) == 2
    assert (
        capsys.readouterr().err == f"error: server: model archive {tmp_path / 'missing.tar.gz'} not found\n"
    )
    no_code = tmp_path / "no-code.tar.gz"
    with tarfile.open(no_code, "w:gz") as tar:
        tar.add(model_dir / "model_info.json", arcname="model_info.json")
    assert server_module.main(["--model", str(no_code), "--port", "0"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: server: no code/inference.py")
    with pytest.raises(SystemExit) as exit_info:
        server_module.main(["--model", str(no_code), "--port", "70000"])
    assert exit_info.value.code == 2
    assert "port 70000 is outside 0-65535" in capsys.readouterr().err


@pytest.mark.slow
def test_server_command_line_serves_until_terminated(archives):
    """SIGTERM (what process managers send) takes the same clean path as Ctrl-C."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        f"{PACKAGE}.local.server",
        "--model",
        str(archives["good"]),
        "--port",
        str(port),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first_line = process.stdout.readline()
        assert f"at http://127.0.0.1:{port}" in first_line
        assert suite.HttpInvoker(f"http://127.0.0.1:{port}").ping()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0  # a clean stop, not death by signal
