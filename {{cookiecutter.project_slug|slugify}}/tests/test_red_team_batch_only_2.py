"""Attacks on the transform test's output read and on the model check, and the legitimate answers
they must keep accepting.

- The output is read only as the one version its job wrote. A bucket whose versioning is off or
  suspended lists every object as the one version "null", overwritten in place: one version there
  says nothing about how many writers there were, so it is not read.
- ListObjectVersions answers in pages: a first page showing one version of the output, with more
  versions of that key on the next page, is not one version.
- S3 keeps LastModified to the second; an output written in the job's first second is read.
- A prod model made from the package ARN is described with what SageMaker resolves from the
  version (image, model data, environment, mode): the model the deploy planned, not another one.

Exact call sequences with botocore's Stubber (as tests/test_batch_only.py).
"""

from __future__ import annotations

import copy
import datetime as dt
import io

import pytest

import test_batch_only as bo
from deploy_helpers import described_model, module, plan_for, stubbed
from recording import assert_done, not_found

Clients = module("deploy.aws").Clients
model_only = module("deploy.model_only")
model_check = module("deploy.model_check")
pytestmark = pytest.mark.usefixtures("fake_aws")


def listing(world: bo.TestWorld, versions: list[tuple[str, dt.datetime]], **page) -> dict:
    return {
        "Versions": [
            {"Key": world.output_key, "VersionId": vid, "LastModified": at, "IsLatest": i == 0}
            for i, (vid, at) in enumerate(versions)
        ],
        "DeleteMarkers": [],
        **page,
    }


def readable(world: bo.TestWorld, version_id: str) -> None:
    """GetObject of that version answers a passing output (what the test reads if it accepts it)."""
    world.s3.add_response(
        "get_object",
        {"Body": io.BytesIO(bo.answer(world.data).encode())},
        {"Bucket": world.bucket, "Key": world.output_key, "VersionId": version_id},
    )


def new_job(world: bo.TestWorld, start: dt.datetime, end: dt.datetime) -> None:
    """world.new_job, the job Completed between `start` and `end`."""
    not_found(world.sm, "describe_transform_job")
    world.s3.add_response("put_object", {})
    world.sm.add_response("create_transform_job", {"TransformJobArn": "arn:x"})
    job = bo.job_response(world.name, "Completed", world.plan, world.input_uri)
    job["TransformStartTime"], job["TransformEndTime"] = start, end
    world.sm.add_response("describe_transform_job", job)
    world.model_again()


def outputs_check(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "outputs")


# --- the output's versions ----------------------------------------------------------------------


def test_an_output_in_a_bucket_without_versioning_is_not_read(configure, run_cli, recorder, tmp_path):
    """Versioning off or suspended: another job's passing answer written over this job's output
    leaves one version, "null", written while the job ran. Nothing tells one writer from two."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    world.new_job()
    world.s3.add_response(
        "list_object_versions",
        listing(world, [("null", bo.WRITTEN)]),
        {"Bucket": world.bucket, "Prefix": world.output_key},
    )
    readable(world, "null")
    code, _, _, report = world.run(run_cli, tmp_path)
    outputs = outputs_check(report)
    assert code == 1 and report["passed"] is False and not outputs["passed"], report
    assert "versioning" in outputs["detail"], outputs
    assert "GetObject" not in recorder.operations


def test_more_versions_of_the_output_on_a_later_page_are_seen(configure, run_cli, recorder, tmp_path):
    """The first page holds one version of the output and says it is truncated right after it
    (NextKeyMarker the output's key): the versions on the next page count too."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    world.new_job()
    world.s3.add_response(
        "list_object_versions",
        listing(
            world,
            [("v0", bo.WRITTEN)],
            IsTruncated=True,
            NextKeyMarker=world.output_key,
            NextVersionIdMarker="v0",
        ),
        {"Bucket": world.bucket, "Prefix": world.output_key},
    )
    world.s3.add_response(
        "list_object_versions",
        listing(world, [("v1", bo.WRITTEN - dt.timedelta(seconds=30))], IsTruncated=False),
        {
            "Bucket": world.bucket,
            "Prefix": world.output_key,
            "KeyMarker": world.output_key,
            "VersionIdMarker": "v0",
        },
    )
    readable(world, "v0")
    code, _, err, report = world.run(run_cli, tmp_path)
    assert report is not None, err  # (a read of v0 after the first page meets the next page's answer)
    outputs = outputs_check(report)
    assert code == 1 and not outputs["passed"], report
    assert "written 2 time(s)" in outputs["detail"], outputs
    assert "GetObject" not in recorder.operations


def test_later_pages_holding_only_other_keys_are_not_listed(configure, run_cli, recorder, tmp_path):
    """Keys sort after the output's own (`test.csv.out...`): once a page reaches one, the
    output's versions are all listed; the read takes no further page."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    world.new_job()
    page = listing(world, [("v0", bo.WRITTEN)], IsTruncated=True, NextKeyMarker=world.output_key + "x")
    page["Versions"].append(
        {"Key": world.output_key + "x", "VersionId": "o1", "LastModified": bo.WRITTEN, "IsLatest": True}
    )
    world.s3.add_response("list_object_versions", page, {"Bucket": world.bucket, "Prefix": world.output_key})
    readable(world, "v0")
    code, _, err, report = world.run(run_cli, tmp_path)
    assert code == 0 and report["passed"], err
    assert recorder.operations.count("ListObjectVersions") == 1
    assert_done(world.stubs)


def test_an_output_written_in_the_jobs_first_second_is_read(configure, run_cli, recorder, tmp_path):
    """The job started at 0.6 s past a second and wrote at 0.9 s: S3 lists that second, 0.6 s
    before the start the job reports. Its own output, read."""
    configure(bo.CFG)
    world = bo.TestWorld(recorder)
    start = bo.START + dt.timedelta(milliseconds=600)
    new_job(world, start, start + dt.timedelta(seconds=2))
    world.s3.add_response(
        "list_object_versions",
        listing(world, [("v0", bo.START)]),
        {"Bucket": world.bucket, "Prefix": world.output_key},
    )
    readable(world, "v0")
    code, _, err, report = world.run(run_cli, tmp_path)
    assert code == 0 and report["passed"], (err, report)
    assert_done(world.stubs)


# --- a prod model from the package ARN, as SageMaker describes it -----------------------------


def resolved(plan) -> dict:
    """DescribeModel of the prod model created with Containers [{ModelPackageName}]: one
    container, answered as PrimaryContainer, with what SageMaker took from the version."""
    described = described_model(plan)
    container = described.pop("Containers")[0]
    described["PrimaryContainer"] = {
        **container,
        "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sklearn:1.2-1",
        "ModelDataUrl": "s3://artifacts/model-prod/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        "Mode": "SingleModel",
    }
    return described


def test_a_prod_model_described_with_what_sagemaker_resolved_is_the_planned_one(recorder):
    """A redeploy of a batch-only prod finds its model and makes no mutating call; a model under
    that name made from another version is still refused."""
    plan = plan_for(bo.CFG, "prod", bo.PROD_ARN)
    assert plan.model_request["Containers"] == [{"ModelPackageName": bo.PROD_ARN}]
    session, stubs = stubbed("sagemaker", recorder=recorder)
    stubs["sagemaker"].add_response("describe_model", resolved(plan), {"ModelName": plan.model_name})
    result = model_only.deploy_model(Clients(session, bo.CFG.region), plan)
    assert result.action == "unchanged" and recorder.mutating == []
    assert_done(stubs)

    other = resolved(plan)
    other["PrimaryContainer"]["ModelPackageName"] = bo.PROD_ARN.replace("/5", "/4")
    assert model_check.model_differences(plan.model_request, other) == [
        f"container 1 ModelPackageName is {other['PrimaryContainer']['ModelPackageName']!r}, "
        f"not {bo.PROD_ARN!r}"
    ]


def test_a_qa_model_described_with_its_mode_and_image_config_is_the_planned_one():
    """DescribeModel of a model built from spelled-out containers adds Mode and ImageConfig."""
    plan = plan_for(bo.CFG, "qa", bo.QA_ARN)
    described = described_model(plan)
    described["Containers"][0] |= {"Mode": "SingleModel", "ImageConfig": {"RepositoryAccessMode": "Platform"}}
    assert model_check.model_differences(plan.model_request, described) == []
    tampered = copy.deepcopy(described)
    tampered["Containers"][0]["Environment"] = {"SAGEMAKER_PROGRAM": "other.py"}
    assert model_check.model_differences(plan.model_request, tampered) == [
        "container 1 has another Environment"
    ]
