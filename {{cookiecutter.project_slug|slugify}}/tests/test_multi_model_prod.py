"""A prod deploy of a set: each prod version's artifact is checked against its segment's entry of
the lock (promoted from the locked dev version, its sha256 the lock's) before any mutating call."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from botocore.response import StreamingBody

from deploy_helpers import assert_done, endpoint_response, module, package_arn
from multi_model_helpers import (
    SEGMENTS,
    deploy_args,
    plan_of,
    route_tags,
    segmented_config,
    segmented_raw,
    session_for,
    set_description,
    stub_alarms_present,
    stub_no_autoscaling,
    stub_resolve,
    stub_tags,
)

cli = module("deploy.cli")
pytestmark = pytest.mark.usefixtures("fake_aws")
GIT_SHA = "0123456789abcdef0123456789abcdef01234567"


def artifact(segment: str) -> bytes:
    return f"the promoted model.tar.gz of {segment}".encode()


def prod_set(cfg):
    """The prod versions (3, 4), each naming its dev source and the sha256 of its artifact."""
    descriptions = []
    for i, segment in enumerate(SEGMENTS):
        d = set_description(cfg, "prod", 3 + i, segment)
        d["CustomerMetadataProperties"].update(
            source_model_package_arn=package_arn(cfg, "dev", 7 + i),
            artifact_sha256=hashlib.sha256(artifact(segment)).hexdigest(),
            artifact_version="v1",
        )
        descriptions.append(d)
    return descriptions


def lock_of(cfg, descriptions, sha_of_south: str | None = None) -> dict:
    entries = {}
    for i, d in enumerate(descriptions):
        segment = d["CustomerMetadataProperties"]["segment"]
        sha = d["CustomerMetadataProperties"]["artifact_sha256"]
        entries[segment] = {
            "model_package_arn": package_arn(cfg, "dev", 7 + i),
            "version": 7 + i,
            "git_sha": GIT_SHA,
            "metrics": {},
            "qa_test": {"passed": True, "summary": "passed", "endpoint": "qa"},
            "artifact": {"uri": f"s3://b/dev/{segment}/model.tar.gz", "version_id": "v0", "sha256": sha},
            "containers_sha256": "0" * 64,
            "images": [d["InferenceSpecification"]["Containers"][0]["Image"]],
            "created_at": "2025-01-31T12:00:00Z",
        }
    if sha_of_south:
        entries["south"]["artifact"]["sha256"] = sha_of_south
    return {"segment_column": "region", "segments": entries, "created_at": "2025-01-31T12:00:00Z"}


def stub_prepare(stubs, descriptions, bodies) -> None:
    stub_resolve(stubs, descriptions, heads=None)
    for d, body in zip(descriptions, bodies, strict=True):
        url = d["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, key = url[len("s3://") :].split("/", 1)
        stubs["s3"].add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "VersionId": "v1"},
            {"Bucket": bucket, "Key": key},
        )


def args(descriptions, lock) -> list[str]:
    return deploy_args("prod", descriptions, "--lock-file", str(lock))


def test_a_repeat_prod_deploy_checks_every_artifact_and_changes_nothing(
    configure, recorder, run_cli, tmp_path
):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = prod_set(cfg)
    lock = tmp_path / "model.lock.json"
    lock.write_text(json.dumps(lock_of(cfg, descriptions)))
    plan = plan_of(cfg, "prod", descriptions)
    session, stubs = session_for(cfg, "prod", recorder)
    stub_prepare(stubs, descriptions, [artifact(s) for s in SEGMENTS])
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", plan.config_name))
    stub_tags(stubs, cfg, "prod", route_tags(descriptions))
    stub_alarms_present(stubs, plan)
    stub_no_autoscaling(stubs)

    code, out, err = run_cli(cli.main, args(descriptions, lock), session)

    assert code == 0, err
    assert_done(stubs)
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeModelPackage",
        "DescribeModelPackage",
        "GetObject",
        "GetObject",
        "DescribeEndpoint",
        "ListTags",
        "DescribeAlarms",
        "DescribeScalableTargets",
    ]
    assert recorder.mutating == []
    assert "action=unchanged" in out.splitlines()
    assert "segment south: checking" in err


def test_a_prod_artifact_that_differs_from_its_lock_entry_is_refused(configure, recorder, run_cli, tmp_path):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = prod_set(cfg)
    lock = tmp_path / "model.lock.json"
    lock.write_text(json.dumps(lock_of(cfg, descriptions)))
    session, stubs = session_for(cfg, "prod", recorder)
    tampered = b"another model.tar.gz"
    stub_prepare(stubs, descriptions, [artifact("north"), tampered])

    code, _, err = run_cli(cli.main, args(descriptions, lock), session)

    assert code == 1
    assert_done(stubs)
    assert recorder.mutating == []
    line = err.strip().splitlines()[-1]
    expected = descriptions[1]["CustomerMetadataProperties"]["artifact_sha256"]
    assert line.startswith("error: s3://") and "Train-south" in line
    assert f"has sha256 {hashlib.sha256(tampered).hexdigest()}, the lock says {expected}" in line
