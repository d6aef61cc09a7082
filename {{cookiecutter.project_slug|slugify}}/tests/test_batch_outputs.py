"""The output check of a batch run (batch/outputs.py): in memory and against moto S3."""

from __future__ import annotations

import json

import boto3
import pytest

from deploy_helpers import REGION, create_bucket, make_config, module

outputs = module("batch.outputs")
Clients = module("deploy.aws").Clients

INPUT = "1,a,2.5\n3,b,\n"


def answer(label: int, probability: float) -> str:
    return json.dumps({"predictions": [{"label": label, "probability": probability}]})


GOOD = f"1,a,2.5,{answer(1, 0.9)}\n3,b,,{answer(0, 0.2)}\n"


def test_joined_lines_with_one_prediction_each_pass_and_are_counted():
    summary = outputs.check_pairs([("day.csv", INPUT, GOOD)])
    assert summary.to_dict() == {
        "passed": True,
        "files": 1,
        "rows": 2,
        "positives": 1,
        "failures": 0,
        "first_failures": [],
    }
    assert outputs.check_pairs([("day.csv", INPUT, "1,a,2.5,1,0.9\n3,b,,0,0.2\n")]).passed  # CSV answers


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (None, "day.csv: no day.csv.out"),
        (GOOD.split("\n")[0] + "\n", "day.csv.out: 1 rows for 2 input rows"),
        ("\n".join(reversed(GOOD.strip().split("\n"))) + "\n", "line 1: does not start with input line 1"),
        (f"1,a,2.5,{answer(2, 0.9)}\n3,b,,{answer(0, 0.2)}\n", "no label 0 or 1"),
        (f"1,a,2.5,{answer(1, 1.5)}\n3,b,,{answer(0, 0.2)}\n", "no probability from 0 to 1"),
        ('1,a,2.5,{"predictions": []}\n' + f"3,b,,{answer(0, 0.2)}\n", "0 predictions for one record"),
        ("1,a,2.5,\n3,b,,\n", "the prediction cannot be read"),
    ],
)
def test_each_defect_of_the_outputs_is_a_named_failure(output, problem):
    summary = outputs.check_pairs([("day.csv", INPUT, output)])
    assert not summary.passed and summary.failed_count >= 1
    assert problem in summary.failures[0]


def test_an_input_line_of_another_width_fails_and_no_input_fails():
    summary = outputs.check_pairs(
        [("d.csv", "1,2\n1,2,3\n", f"1,2,{answer(1, 0.5)}\n1,2,3,{answer(1, 0.5)}\n")]
    )
    assert summary.failures == ["d.csv line 2: 3 columns, the first line has 2"]
    assert not outputs.check_pairs([]).passed


def test_a_job_in_s3_is_checked_file_by_file_under_its_output_prefix(moto):
    cfg = make_config("baked")
    settings = cfg.batch.environment("prod")
    bucket = cfg.environment("prod").capture_bucket
    s3 = boto3.client("s3", region_name=REGION)
    create_bucket(s3, bucket, REGION)
    prefix = settings.input_uri.split(bucket + "/", 1)[1]
    output = f"{settings.output_uri}job-1/"
    out_prefix = output.split(bucket + "/", 1)[1]
    s3.put_object(Bucket=bucket, Key=f"{prefix}a.csv", Body=INPUT)
    s3.put_object(Bucket=bucket, Key=f"{prefix}sub/b.csv", Body=INPUT)
    s3.put_object(Bucket=bucket, Key=f"{out_prefix}a.csv.out", Body=GOOD)
    clients = Clients(boto3.Session(region_name=REGION), REGION)
    summary = outputs.check_s3(clients, settings.input_uri, output)
    assert (summary.files, summary.rows, summary.failures) == (2, 2, ["sub/b.csv: no sub/b.csv.out"])
    s3.put_object(Bucket=bucket, Key=f"{out_prefix}sub/b.csv.out", Body=GOOD)
    summary = outputs.check_s3(clients, settings.input_uri, output)
    assert summary.passed and (summary.files, summary.rows) == (2, 4)
    assert "| 2 | 4 | 2 | 0 | passed |" in summary.markdown("Batch")
