"""The async invoker: the same suite through SageMaker's asynchronous contract.

Locally: the packaged model served with an async folder; the suite's checks pass through
input file -> POST /invocations-async -> output file, bad input lands in the failure file with
its 4xx status, and an input outside the folder is refused. Against SageMaker: moto's S3 holds
the input and answer objects, InvokeEndpointAsync is stubbed (botocore's Stubber checks it
against the service model) and the answer object appears after a few polls.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from deploy_helpers import REGION, create_bucket, make_config, module
from deploy_scenarios import PROD_REAL_TIME
from model_helpers import TARGET, pack, split_sample, train_model
from test_async_deploy import QA_ASYNC

suite = module("endpoint_tests.suite")
async_invoker = module("endpoint_tests.async_invoker")
ModelServer = module("local.server").ModelServer
RELAXED = suite.Thresholds(burst_requests=10, max_p50_ms=1000, max_p95_ms=3000, max_error_rate=0.0)

pytestmark = pytest.mark.xdist_group("endpoint-suite")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return split_sample(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def archive(data_dir, tmp_path_factory) -> Path:
    model_dir = train_model(data_dir, tmp_path_factory.mktemp("model"))
    return pack(model_dir, tmp_path_factory.mktemp("archive") / "model.tar.gz")


@pytest.fixture(scope="module")
def samples(data_dir):
    return suite.load_samples(data_dir / "test" / "test.csv", 30, TARGET)


def test_the_suite_passes_through_the_local_async_contract(archive, samples, tmp_path) -> None:
    folder = tmp_path / "async"
    with ModelServer(archive, async_dir=folder) as server:
        report = suite.run_suite(async_invoker.local(server.url, folder), samples, RELAXED)
    assert report.passed, [(c.name, c.detail) for c in report.failures()]
    assert {c.name for c in report.checks} >= {"CSV request", "accuracy", "CSV and JSON agree"}
    outputs = list((folder / "output").glob("*.out"))
    inputs = list((folder / "input").iterdir())
    assert len(outputs) >= 2 + RELAXED.burst_requests and len(inputs) > len(outputs)
    # Bad input is answered in the failure file, with the handler's 400.
    failures = list((folder / "failure").glob("*-error.out"))
    assert failures and all(f.read_bytes().startswith(b"(400) ") for f in failures)
    assert report.latency["requests"] == RELAXED.burst_requests


def test_the_local_async_contract_refuses_inputs_outside_its_folder(archive, tmp_path) -> None:
    folder = tmp_path / "async"
    outside = tmp_path / "secret.csv"
    outside.write_text("1,2,3\n")
    with ModelServer(archive, async_dir=folder) as server:
        channel = async_invoker.LocalChannel(server.url)
        for named in (str(outside), str(folder / "input" / ".." / ".." / "secret.csv"), ""):
            status, output, _, body = channel.submit(named, "text/csv", "application/json")
            assert (status, output) == (400, ""), named
            assert b"must name a file under" in body
    assert not (folder / "output").exists()


def test_without_an_async_folder_the_server_has_no_async_path(archive) -> None:
    with ModelServer(archive) as server:
        status, _ = suite.HttpInvoker(server.url)._request("POST", "/invocations-async", b"", {})
    assert status == 404


# --- against SageMaker: moto S3, Stubber for sagemaker-runtime ------------------------------------


class Clock:
    """A clock that advances by each sleep, so polling takes no time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1

    def __call__(self) -> float:
        return self.now


def sagemaker_invoker(
    cfg,
    s3,
    runtime,
    clock,
    answer_after=2,
    answer=b'[{"label": 1, "probability": 0.9}]',
    fail=None,
    **polling,
):
    """for_endpoint with moto's S3 and a stubbed runtime; the answer (or failure) object is
    written by the clock after `answer_after` polls, as SageMaker would once it processed it."""
    env = cfg.environment("qa")
    bucket = env.capture_bucket
    output_key = "async/qa/output/abc.out"
    failure_key = "async/qa/failure/abc-error.out"
    original_sleep = clock.sleep

    def sleep(seconds):
        original_sleep(seconds)
        if clock.sleeps == answer_after:
            key, body = (failure_key, fail) if fail else (output_key, answer)
            s3.put_object(Bucket=bucket, Key=key, Body=body)

    clients = {"s3": s3, "sagemaker-runtime": runtime, "sagemaker": None}
    invoker = async_invoker.for_endpoint(cfg, "qa", clients.__getitem__, sleep=sleep, clock=clock, **polling)
    return invoker, f"s3://{bucket}/{output_key}", f"s3://{bucket}/{failure_key}"


def stub_submit(stubber, cfg, output, failure, body_key=None):
    env = cfg.environment("qa")
    stubber.add_response(
        "invoke_endpoint_async",
        {"InferenceId": "abc", "OutputLocation": output, "FailureLocation": failure},
        {
            "EndpointName": env.endpoint_name,
            "InputLocation": body_key or _any_input(env.capture_bucket),
            "ContentType": "text/csv",
            "Accept": "application/json",
            "InvocationTimeoutSeconds": 600,
        },
    )


class _any_input(str):
    """Matches any s3:// URI under the QA async input prefix (and says so when it does not)."""

    def __new__(cls, bucket):
        return super().__new__(cls, f"s3://{bucket}/async/qa/input/")

    def __eq__(self, other):
        return isinstance(other, str) and other.startswith(str(self)) and other.endswith(".csv")

    def __ne__(self, other):
        return not self == other

    __hash__ = str.__hash__


@pytest.fixture
def qa_world(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    cfg = make_config("four", prod=PROD_REAL_TIME, qa=QA_ASYNC)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        create_bucket(s3, cfg.environment("qa").capture_bucket, REGION)
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        with Stubber(runtime) as stubber:
            yield cfg, s3, runtime, stubber


def test_the_sagemaker_async_invoker_uploads_submits_and_polls_the_answer(qa_world) -> None:
    cfg, s3, runtime, stubber = qa_world
    clock = Clock()
    invoker, output, failure = sagemaker_invoker(cfg, s3, runtime, clock)
    stub_submit(stubber, cfg, output, failure)
    status, body = invoker.invoke(b"1,2,3\n", "text/csv")
    assert (status, json.loads(body)) == (200, [{"label": 1, "probability": 0.9}])
    assert clock.sleeps == 2
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=cfg.environment("qa").capture_bucket)["Contents"]]
    uploaded = [k for k in keys if k.startswith("async/qa/input/")]
    assert len(uploaded) == 1
    obj = s3.get_object(Bucket=cfg.environment("qa").capture_bucket, Key=uploaded[0])
    assert obj["Body"].read() == b"1,2,3\n"
    stubber.assert_no_pending_responses()


def test_a_failure_object_is_the_status_it_names(qa_world) -> None:
    cfg, s3, runtime, stubber = qa_world
    invoker, output, failure = sagemaker_invoker(
        cfg, s3, runtime, Clock(), fail=b"Received client error (400) from primary: each row needs 30 values"
    )
    stub_submit(stubber, cfg, output, failure)
    status, body = invoker.invoke(b"1,2\n", "text/csv")
    assert status == 400 and b"each row needs" in body


def test_no_answer_within_the_timeout_raises(qa_world) -> None:
    """The suite records the TimeoutError as a failed check; the wait is the invocation timeout
    plus the scale-out allowance, here in simulated time."""
    cfg, s3, runtime, stubber = qa_world
    clock = Clock()
    # Polled every simulated minute: the same deadline in 25 polls of moto's S3 instead of 750.
    invoker, output, failure = sagemaker_invoker(cfg, s3, runtime, clock, answer_after=10**9, poll_seconds=60)
    stub_submit(stubber, cfg, output, failure)
    with pytest.raises(TimeoutError, match="no answer at s3://"):
        invoker.invoke(b"1,2,3\n", "text/csv")
    assert clock.now >= 600 + 900


def test_a_refused_submission_keeps_its_status(qa_world) -> None:
    cfg, s3, runtime, stubber = qa_world
    invoker, *_ = sagemaker_invoker(cfg, s3, runtime, Clock())
    stubber.add_client_error("invoke_endpoint_async", "ValidationError", "bad content type", 400)
    assert invoker.invoke(b"x", "text/csv") == (400, b"bad content type")
