"""Batch Transform with `BatchStrategy MultiRecord` (batch/job.py, batch/local.py): the exact
CreateTransformJob request, and the local emulation of SageMaker's mini-batches (whole lines up
to MaxPayloadInMB, one request each, the answer split by line and joined to its records; a
mini-batch whose answer has another number of lines fails the job)."""

from __future__ import annotations

import math

import pytest

from deploy_helpers import make_raw, module, package_arn, plan_for, stubbed
from model_helpers import pack, split_sample, train_model

config = module("config")
job = module("batch.job")
local = module("batch.local")
outputs = module("batch.outputs")
Clients = module("deploy.aws").Clients
pytestmark = pytest.mark.usefixtures("fake_aws")

MB = 1024 * 1024


def four_config(max_payload_mb: int = 6):
    raw = make_raw("four")
    raw["batch"]["environments"]["prod"]["max_payload_mb"] = max_payload_mb
    return config.parse(raw)


def expected_request(cfg, plan, max_payload_mb: int) -> dict:
    env = cfg.environment("prod")
    settings = cfg.batch.environment("prod")
    return {
        "TransformJobName": plan.job_name,
        "ModelName": plan.model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": settings.input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{env.capture_bucket}/batch/prod/output/{plan.job_name}/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
            "KmsKeyId": env.capture_key_arn,
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
        "Tags": [
            {"Key": "project", "Value": cfg.project.slug},
            {"Key": "environment", "Value": "prod"},
            {"Key": "model-package-arn", "Value": package_arn(cfg, "prod", 3)},
            {"Key": "batch-date", "Value": "2025-01-31"},
            {"Key": "batch-attempt", "Value": "1"},
        ],
    }


@pytest.mark.parametrize("max_payload_mb", [6, 20])
def test_create_transform_job_sends_multi_record_csv_with_the_configured_payload(recorder, max_payload_mb):
    cfg = four_config(max_payload_mb)
    arn = package_arn(cfg, "prod", 3)
    input_uri = cfg.batch.environment("prod").input_uri
    plan = job.plan_job(cfg, "prod", plan_for(cfg, "prod", arn), input_uri, "2025-01-31")
    request = expected_request(cfg, plan, max_payload_mb)
    assert plan.request == request
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    sm.add_client_error(
        "describe_transform_job",
        service_error_code="ValidationException",
        service_message=f"Could not find requested job with name {plan.job_name}",
        expected_params={"TransformJobName": plan.job_name},
    )
    sm.add_response("create_transform_job", {"TransformJobArn": "arn"}, expected_params=request)
    answer, created = job.ensure_job(
        Clients(session, cfg.region), plan, wait=False, timeout=1, poll_seconds=0
    )
    assert created and answer["TransformJobStatus"] == "InProgress"
    sm.assert_no_pending_responses()
    assert recorder.mutating == ["CreateTransformJob"]
    recorder.assert_valid()  # against botocore's model of CreateTransformJob


# --- the local emulation, against a stand-in model server --------------------------------


def answering(per_record=lambda line: "0,0.100000", status: int = 200, drop: int = 0, from_batch: int = 1):
    """A sender that answers each record of a mini-batch with a line; from mini-batch
    `from_batch` on, the last `drop` lines are left out."""
    sent: list[list[str]] = []

    def send(body: bytes) -> tuple[int, bytes]:
        records = body.decode().split("\n")[:-1]
        sent.append(records)
        lines = [per_record(line) for line in records]
        if len(sent) >= from_batch:
            lines = lines[: len(lines) - drop]
        return status, "".join(line + "\n" for line in lines).encode()

    return send, sent


def test_each_mini_batch_is_one_request_its_answer_split_by_line_and_joined():
    lines = [f"{i},x" for i in range(10)]  # 4 or 5 bytes each with the newline
    send, sent = answering(lambda line: f"{int(line.split(',')[0]) % 2},0.{line.split(',')[0]}00000")
    batches = local.mini_batches(lines, 20)
    joined = local.join("f.csv", batches, send)
    assert sent == batches and [len(b) for b in batches] == [5, 5]
    assert joined == [f"{i},x,{i % 2},0.{i}00000" for i in range(10)]
    summary = outputs.check_pairs([("f.csv", "\n".join(lines), "\n".join(joined))])
    assert summary.passed and summary.rows == 10 and summary.positives == 5


def test_an_answer_with_carriage_returns_or_no_final_newline_still_splits():
    assert local.answer_lines("1,0.9\r\n0,0.1\r\n") == ["1,0.9", "0,0.1"]
    assert local.answer_lines("1,0.9\n0,0.1") == ["1,0.9", "0,0.1"]


@pytest.mark.parametrize("drop", [1, 2])
def test_an_answer_without_one_line_per_record_fails_the_job_naming_the_mini_batch(drop):
    send, sent = answering(drop=drop, from_batch=2)
    batches = [["1,a", "2,b"], ["3,c", "4,d", "5,e"]]
    with pytest.raises(local.JobFailed, match=rf"f\.csv mini-batch 2: {3 - drop} answer lines for 3 records"):
        local.join("f.csv", batches, send)
    assert sent == batches


def test_an_extra_answer_line_fails_the_job_too():
    send, _ = answering(lambda line: "1,0.9\n0,0.1")
    with pytest.raises(local.JobFailed, match="mini-batch 1: 4 answer lines for 2 records"):
        local.join("f.csv", [["1,a", "2,b"]], send)


def test_a_refused_mini_batch_fails_the_job_with_the_model_answer():
    send, _ = answering(status=400)
    with pytest.raises(local.JobFailed, match=r"f\.csv mini-batch 1: the model answered 400"):
        local.join("f.csv", [["1,a"]], send)


# --- against the rehearsal's packaged model ------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("multirecord")
    data = split_sample(root / "data")
    return data / "test" / "test.csv", train_model(data, root / "model"), root


def thousand_lines(table, features) -> list[str]:
    lines = local.feature_lines(table, features)
    return (lines * (1000 // len(lines) + 1))[:1000]


def test_a_thousand_row_file_takes_one_request_instead_of_a_thousand(trained, tmp_path):
    table, model_dir, _ = trained
    archive = pack(model_dir, tmp_path / "model.tar.gz")
    with module("local.server").ModelServer(archive) as server:
        lines = thousand_lines(table, list(server.model.features))
        source = tmp_path / "rows.csv"
        source.write_text("".join(line + "\n" for line in lines))
        send = local.http_sender(server.url)
        out, requests = local.transform(send, source, tmp_path, 6 * MB)
        assert requests == 1  # SingleRecord sent one request per row: 1000
        # A payload of a seventh of the file: whole lines, so at least 7 mini-batches, each full.
        size, limit = len(source.read_bytes()), len(source.read_bytes()) // 7
        small = tmp_path / "small"
        small.mkdir()
        _, small_requests = local.transform(send, source, small, limit)
        batches = local.mini_batches(lines, limit)
        assert small_requests == len(batches) >= math.ceil(size / limit)
        assert all(len("\n".join(b).encode()) + 1 <= limit for b in batches)
    for folder in (tmp_path, small):
        text = (folder / "rows.csv.out").read_text()
        summary = outputs.check_pairs([("rows.csv", source.read_text(), text)])
        assert summary.passed and summary.rows == 1000
    assert out.read_text() == (small / "rows.csv.out").read_text()  # the split does not change answers


def test_a_handler_that_drops_an_answer_line_fails_the_local_job(trained, tmp_path):
    table, model_dir, _ = trained
    broken = pack(
        model_dir,
        tmp_path / "broken.tar.gz",
        "_csv_answer = csv_answer\n\ndef csv_answer(prediction):\n    return _csv_answer(prediction[:-1])\n",
    )
    with pytest.raises(local.JobFailed, match=r"mini-batch 1: (\d+) answer lines for \d+ records"):
        local.run_local(broken, table, tmp_path / "batch", max_payload_mb=6)
    assert not (tmp_path / "batch" / f"{table.name}.out").exists()
