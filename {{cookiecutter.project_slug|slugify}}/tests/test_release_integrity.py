"""Promotion integrity on moto: what an attacker below the prod gate tries, and what stops it.

Each test is one attack (or the happy path it must not break). The evidence chain under test:
QA records its result and the artifact's sha256 on the dev version; the lock is written from
that record; the release re-checks lock against registry and bytes before any mutating call;
promotion copies the tested object version into the prod-only prefix and re-hashes the copy;
deploy re-hashes what it is about to serve against the lock.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from deploy_helpers import make_config, module
from release_world import GOOD_MODEL, World, evidence, lifecycle, lockfile, promote, release, version

artifact_check = module("deploy.artifact")
DeployError = module("deploy.aws").DeployError
LockError = lockfile.LockError
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture(params=["four", "single"])
def world(request, accounts, recorder):
    cfg = make_config(request.param)
    return World(cfg, accounts(cfg, recorder), recorder)


def test_the_happy_path_serves_a_prod_copy_of_exactly_the_bytes_qa_tested(world):
    arn = world.register()
    tested = world.qa(arn)
    assert tested.sha256 == hashlib.sha256(GOOD_MODEL).hexdigest()
    recorded = world.describe(arn)
    assert recorded["ModelApprovalStatus"] == "PendingManualApproval"
    assert recorded["CustomerMetadataProperties"]["qa_result"] == "passed"
    assert recorded["CustomerMetadataProperties"]["qa_artifact_sha256"] == tested.sha256
    lock = world.lock(arn)
    assert lock["artifact"] == tested.to_dict()
    assert lock["images"] == [c["Image"] for c in recorded["InferenceSpecification"]["Containers"]]
    prod_arn = world.release(arn)
    prod = world.describe(prod_arn)
    url = prod["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert url == f"s3://{world.bucket}/{world.cfg.names.artifact_prefixes['prod']}1/model.tar.gz"
    assert world.read(url) == GOOD_MODEL
    assert prod["CustomerMetadataProperties"]["artifact_sha256"] == tested.sha256
    value = version.resolve(world.cfg, world.clients, prod_arn, "prod")
    assert artifact_check.check_artifact(world.clients, value, lock) == tested.sha256


def test_a_forged_lock_is_refused_before_any_mutating_call(world):
    # A real version that never went through QA, with a poor model...
    arn = world.register(metrics={"auc": 0.51, "accuracy": 0.5})
    # ...and a hand-written lock claiming it passed QA with excellent metrics.
    honest = world.lock  # the honest path refuses outright:
    with pytest.raises(LockError, match="no passed QA record"):
        honest(arn)
    forged = {
        "model_package_arn": arn,
        "version": 1,
        "git_sha": "deadbeef" * 5,
        "metrics": {"auc": 0.99, "accuracy": 0.98},
        "qa_test": {"passed": True, "summary": "QA passed", "endpoint": "x"},
        "artifact": {
            "uri": version.resolve(world.cfg, world.clients, arn, "dev").model_data_urls[0],
            "version_id": "made-up",
            "sha256": "0" * 64,
        },
        "containers_sha256": "1" * 64,
        "images": ["683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"],
        "created_at": "2025-01-31T12:00:00Z",
    }
    lockfile.validate(world.cfg, forged, "model.lock.json")  # the shape is fine: shape is not evidence
    world.recorder.clear()
    with pytest.raises(LockError) as refused:
        release.verify_release(world.cfg, world.clients, forged, world.pull_request())
    message = str(refused.value)
    for expected in (
        "no passed QA",
        f"git SHA: lock {'deadbeef' * 5}",
        "metric auc: lock 0.99, registry 0.51",
        "sha256 none, the lock says 0000",
    ):
        assert expected in message
    assert world.recorder.mutating == []
    # approve-then-promote without the check still refuses: no QA record.
    world.approve(arn)
    world.recorder.clear()
    with pytest.raises(DeployError, match="no passed QA record"):
        promote.promote(world.cfg, world.clients, arn, forged["artifact"]["sha256"])
    assert world.recorder.mutating == []


def test_a_lock_with_inflated_metrics_on_a_qa_passed_version_is_refused(world):
    arn = world.register(metrics={"auc": 0.81})
    world.qa(arn)
    lock = world.lock(arn)
    lock["metrics"]["auc"] = 0.99
    with pytest.raises(LockError, match=r"metric auc: lock 0\.99, registry 0\.81"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request())


def test_a_qa_failed_version_is_rejected_and_can_never_be_locked_approved_or_promoted(world):
    arn = world.register()
    world.qa(arn, passed=False)
    described = world.describe(arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["CustomerMetadataProperties"]["qa_result"] == "failed"
    with pytest.raises(LockError, match=r"no passed QA record in the registry \(qa_result: failed\)"):
        world.lock(arn)
    with pytest.raises(DeployError, match="was Rejected"):
        world.approve(arn)
    with pytest.raises(DeployError, match="is Rejected; only Approved"):
        promote.promote(world.cfg, world.clients, arn)
    # and QA cannot be re-recorded as passed on it
    with pytest.raises(DeployError, match="already Rejected"):
        world.qa(arn)


def test_an_artifact_overwritten_after_qa_is_not_what_prod_serves(world):
    arn = world.register()
    tested = world.qa(arn)
    lock = world.lock(arn)
    # A feature-branch or pipeline job overwrites the dev object after QA.
    _, key = evidence.split_uri(tested.uri)
    world.put(key, b"a different model")
    # The release copies the object version QA tested, not the current one.
    prod_arn = world.release(arn)
    value = version.resolve(world.cfg, world.clients, prod_arn, "prod")
    assert world.read(value.model_data_urls[0]) == GOOD_MODEL
    artifact_check.check_artifact(world.clients, value, lock)
    # Someone with write access to the prod prefix swaps the prod copy: deploy refuses.
    _, prod_key = evidence.split_uri(value.model_data_urls[0])
    world.put(prod_key, b"swapped in prod")
    bad = hashlib.sha256(b"swapped in prod").hexdigest()
    world.recorder.clear()
    with pytest.raises(
        DeployError, match=f"is now object version .* \\(sha256 {bad}\\), not the promoted copy"
    ):
        artifact_check.check_artifact(world.clients, value, lock)
    # Without a recorded copy version (an older prod version), the bytes still decide.
    unpinned = version.from_description(
        value.ref,
        {
            **value.description,
            "CustomerMetadataProperties": {**value.metadata, "artifact_version": "unversioned"},
        },
    )
    with pytest.raises(DeployError, match=f"has sha256 {bad}, the lock says {tested.sha256}; refusing"):
        artifact_check.check_artifact(world.clients, unpinned, lock)
    assert world.recorder.mutating == []


def test_an_artifact_replaced_while_qa_ran_is_not_recorded_as_passed(world):
    arn = world.register()
    value = version.resolve(world.cfg, world.clients, arn, "dev")
    before = evidence.digest(world.clients, evidence.model_artifact_uri(value))
    _, key = evidence.split_uri(before.uri)
    world.put(key, b"swapped while the QA endpoint started")
    world.recorder.clear()
    with pytest.raises(DeployError, match="changed during QA"):
        evidence.record_qa(world.cfg, world.clients, arn, True, before, "passed")
    assert world.recorder.mutating == []
    assert "qa_result" not in world.describe(arn)["CustomerMetadataProperties"]


def test_a_deleted_tested_object_version_stops_the_release(world):
    arn = world.register()
    tested = world.qa(arn)
    lock = world.lock(arn)
    _, key = evidence.split_uri(tested.uri)
    world.s3.delete_object(Bucket=world.bucket, Key=key, VersionId=tested.version_id)
    world.recorder.clear()
    with pytest.raises(DeployError, match="cannot read the model artifact"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request())
    assert world.recorder.mutating == []


def test_a_pre_seeded_prod_package_naming_the_source_is_refused(world):
    arn = world.register()
    world.qa(arn)
    world.approve(arn)
    source = world.describe(arn)
    evil = f"s3://{world.bucket}/elsewhere/model.tar.gz"
    world.put("elsewhere/model.tar.gz", b"evil")
    spec = source["InferenceSpecification"]
    spec["Containers"][0]["ModelDataUrl"] = evil
    world.shared.client("sagemaker").create_model_package(
        ModelPackageGroupName=world.cfg.group("prod"),
        ModelApprovalStatus="Approved",
        InferenceSpecification=spec,
        CustomerMetadataProperties={
            **source["CustomerMetadataProperties"],
            "source_model_package_arn": arn,
            "source_model_package_version": "1",
            "artifact_sha256": source["CustomerMetadataProperties"]["qa_artifact_sha256"],
        },
    )
    world.recorder.clear()
    with pytest.raises(DeployError, match=r"differs from it in .*InferenceSpecification"):
        promote.promote(world.cfg, world.clients, arn)
    assert world.recorder.mutating == []


def test_promoting_again_returns_the_same_prod_version_without_a_change(world):
    arn = world.register()
    world.qa(arn)
    prod_arn = world.release(arn)
    world.recorder.clear()
    assert promote.promote(world.cfg, world.clients, arn) == (prod_arn, False)
    assert world.recorder.mutating == []


def test_a_lock_that_did_not_come_from_the_dev_branch_is_refused(world):
    arn = world.register()
    world.qa(arn)
    lock = world.lock(arn)
    with pytest.raises(LockError, match=r"came from 'feature-x', not .*never served prod"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request(head="feature-x"))
    with pytest.raises(LockError, match="was merged into 'other', not"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request(base="other"))


def test_a_revert_without_a_pull_request_releases_only_an_already_released_version(world):
    first = world.register()
    world.qa(first)
    served = world.release(first)
    lifecycle.record_release(world.cfg, world.clients, served, "a" * 40, "7", "2025-01-31T00:00:00Z")
    second = world.register(body=b"second model")
    world.qa(second)
    # Pushed straight to the prod branch, a never-approved version is refused...
    with pytest.raises(LockError, match="no pull request merged this commit"):
        release.verify_release(world.cfg, world.clients, world.lock(second), None)
    with pytest.raises(DeployError, match="never served prod and no pull request merged commit"):
        world.approve(second, pr="none")
    # ...and so is a pull request from another branch (a revert PR) naming it...
    with pytest.raises(LockError, match=r"came from 'revert-x', not .*never served prod"):
        release.verify_release(
            world.cfg, world.clients, world.lock(second), world.pull_request(head="revert-x")
        )
    # ...while reverting the lock to the released version goes through, reviewed in a pull
    # request from any branch of this repository or pushed without one (recording "none").
    release.verify_release(world.cfg, world.clients, world.lock(first), world.pull_request(head="revert-x"))
    release.verify_release(world.cfg, world.clients, world.lock(first), None)
    assert world.approve(first, pr="none").approval == "Approved"
    prod_arn, created = promote.promote(world.cfg, world.clients, first)
    assert created is False
    lifecycle.record_release(world.cfg, world.clients, prod_arn, "d" * 40, "none", "2025-02-01T00:00:00Z")
    assert world.describe(prod_arn)["CustomerMetadataProperties"]["released_pull_request"] == "none"


def test_the_champion_is_the_released_version_not_the_newest_approved_one(world):
    assert lifecycle.champion_version(world.cfg, world.clients) is None
    first = world.register()
    world.qa(first)
    served = world.release(first)
    lifecycle.record_release(world.cfg, world.clients, served, "a" * 40, "7", "2025-02-01T00:00:00Z")
    second = world.register(body=b"second")
    world.qa(second)
    failed = world.release(second)  # promoted (Approved) but its deploy then fails
    assert lifecycle.champion_version(world.cfg, world.clients).arn == served
    assert lifecycle.reject(world.cfg, world.clients, failed, "release run 9 failed: smoke test") is True
    assert world.describe(failed)["ModelApprovalStatus"] == "Rejected"
    assert lifecycle.champion_version(world.cfg, world.clients).arn == served
    # The next release of the same lock does not redeploy the failed version.
    with pytest.raises(DeployError, match="which is Rejected; promote a new version"):
        promote.promote(world.cfg, world.clients, second)
    assert lifecycle.reject(world.cfg, world.clients, failed, "again") is False
    third = world.register(body=b"third")
    world.qa(third)
    newer = world.release(third)
    lifecycle.record_release(world.cfg, world.clients, newer, "b" * 40, "8", "2025-03-01T00:00:00Z")
    assert lifecycle.champion_version(world.cfg, world.clients).arn == newer


def test_deploy_refuses_a_prod_version_promoted_from_another_source(world):
    first = world.register()
    world.qa(first)
    prod_arn = world.release(first)
    second = world.register(body=b"other")
    world.qa(second)
    value = version.resolve(world.cfg, world.clients, prod_arn, "prod")
    with pytest.raises(DeployError, match="but the lock names"):
        artifact_check.check_artifact(world.clients, value, world.lock(second))


@pytest.mark.parametrize(
    "report",
    [
        {"passed": True, "checks": []},
        {"passed": True},
        {"passed": True, "checks": [{"name": "accuracy", "passed": False, "detail": "0.41"}]},
        {"passed": True, "checks": [{"name": "accuracy", "passed": "yes"}]},
    ],
    ids=["no checks", "no check list", "a failed check", "a check not passed: true"],
)
def test_a_report_that_shows_no_passed_check_is_recorded_as_failed(
    world, configure, tmp_path, capsys, report
):
    """A report claiming a pass over no checks, or over a failed one, tested nothing it can show:
    record-qa records a failure (the version is Rejected) and lock write refuses it."""
    configure(world.cfg)
    arn = world.register()
    value = version.resolve(world.cfg, world.clients, arn, "dev")
    artifact = tmp_path / "artifact.json"
    artifact.write_text(
        json.dumps(evidence.digest(world.clients, evidence.model_artifact_uri(value)).to_dict())
    )
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    cli = module("promotion.cli")
    args = ["record-qa", "--arn", arn, "--report", str(path), "--artifact", str(artifact)]
    code = cli.main(args, session=world.shared)
    assert code == 1 and "qa_result=failed" in capsys.readouterr().out
    assert world.describe(arn)["ModelApprovalStatus"] == "Rejected"
    assert not lockfile.report_passed(report)
    assert lockfile.report_passed({**report, "checks": [{"name": "ping", "passed": True}]})
