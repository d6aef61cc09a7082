"""One model version, resolved once (`promotion.version`): the ARN parts and group kind, the
frozen value built from one DescribeModelPackage answer, and what lock and deploy take from it."""

from __future__ import annotations

import dataclasses

import pytest

from deploy_helpers import (
    INFERENCE_SPEC,
    NOW,
    REGION,
    make_config,
    module,
    package_arn,
    package_description,
    passing_report,
    register_version,
)

version = module("promotion.version")
lockfile = module("promotion.lockfile")
aws = module("deploy.aws")
DeployError = aws.DeployError
Clients = aws.Clients
pytestmark = pytest.mark.usefixtures("fake_aws")
SHA = "0123456789abcdef0123456789abcdef01234567"
evidence = module("promotion.evidence")


@pytest.mark.parametrize("layout", ["baked", "four", "single"])
@pytest.mark.parametrize("kind", ["feature", "dev", "prod"])
def test_reference_reads_the_parts_and_the_group_kind(layout, kind):
    cfg = make_config(layout)
    arn = package_arn(cfg, kind, 12)
    ref = version.reference(cfg, arn)
    assert ref == version.PackageRef(
        arn, cfg.region, cfg.account_id("shared_services"), cfg.group(kind), 12, kind
    )
    assert version.reference(cfg, arn, kind) == ref
    assert version.parse_package_arn(arn) == dataclasses.replace(ref, kind=None)


@pytest.mark.parametrize(
    ("arn_of", "message"),
    [
        (
            lambda cfg: package_arn(cfg, "dev", 1).replace(cfg.group("dev"), "other-model-dev"),
            "is not in one of",
        ),
        (lambda cfg: package_arn(cfg, "dev", 1).replace(":222222222222:", ":999999999999:"), "is in account"),
        (lambda cfg: package_arn(cfg, "dev", 1).replace(REGION, "ap-south-2"), "is in region ap-south-2"),
        (lambda cfg: package_arn(cfg, "dev", 0), "is not a versioned model package ARN"),
    ],
    ids=["foreign group", "account", "region", "version 0"],
)
def test_reference_refuses_what_is_not_this_repositorys_registry(arn_of, message):
    cfg = make_config("four")
    with pytest.raises(DeployError, match=message):
        version.reference(cfg, arn_of(cfg))


def described(cfg, kind="dev", number=3):
    arn = package_arn(cfg, kind, number)
    package = package_description(arn, "PendingManualApproval")
    package["InferenceSpecification"]["Containers"].append(
        {
            "Image": "image:2",
            "ModelDataSource": {
                "S3DataSource": {
                    "S3Uri": "s3://artifacts/v3/",
                    "S3DataType": "S3Prefix",
                    "CompressionType": "None",
                }
            },
        }
    )
    package["CustomerMetadataProperties"] = {"git_sha": SHA, "branch": "dev", "metric_auc": "0.9"}
    package["ModelLifeCycle"] = {"Stage": "QA", "StageStatus": "Approved"}
    package["ModelMetrics"] = {
        "ModelQuality": {"Statistics": {"ContentType": "json", "S3Uri": "s3://b/e.json"}}
    }
    return arn, package


def test_the_value_holds_what_deploy_lock_compare_and_promote_read():
    cfg = make_config("four")
    arn, package = described(cfg)
    value = version.from_description(version.reference(cfg, arn), package)
    assert (value.arn, value.version, value.group, value.kind) == (arn, 3, cfg.group("dev"), "dev")
    assert (value.status, value.approval, value.stage, value.stage_status) == (
        "Completed",
        "PendingManualApproval",
        "QA",
        "Approved",
    )
    assert (value.git_sha, value.branch, value.source_arn) == (SHA, "dev", None)
    assert value.model_data_urls == (INFERENCE_SPEC["Containers"][0]["ModelDataUrl"], "s3://artifacts/v3/")
    assert value.images == (INFERENCE_SPEC["Containers"][0]["Image"], "image:2")
    assert (value.quality_report_uri, value.created, value.metrics) == ("s3://b/e.json", NOW, None)
    assert value.containers() == package["InferenceSpecification"]["Containers"]


def test_the_value_is_frozen_and_hands_out_copies():
    cfg = make_config("four")
    arn, package = described(cfg)
    value = version.from_description(version.reference(cfg, arn), package)
    package["CustomerMetadataProperties"]["git_sha"] = "f" * 40
    package["InferenceSpecification"]["Containers"][0]["Image"] = "changed"
    assert value.git_sha == SHA and value.images[0] != "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.approval = "Approved"
    with pytest.raises(TypeError):
        value.metadata["git_sha"] = "f" * 40
    containers = value.containers()
    containers[0]["Environment"]["SAGEMAKER_PROGRAM"] = "other.py"
    assert value.containers()[0]["Environment"] == INFERENCE_SPEC["Containers"][0]["Environment"]
    request = value.fields(("InferenceSpecification", "Task", "ModelMetrics"))
    assert sorted(request) == ["InferenceSpecification", "ModelMetrics"]
    assert isinstance(request["InferenceSpecification"]["Containers"], list)


def test_an_answer_for_another_package_is_refused():
    cfg = make_config("four")
    arn, package = described(cfg)
    other = package_arn(cfg, "dev", 4)
    with pytest.raises(
        DeployError, match=f"the registry answered with {other} when asked for model package {arn}"
    ):
        version.from_description(version.reference(cfg, arn), {**package, "ModelPackageArn": other})


def test_resolve_describes_once_and_reads_metrics_only_when_asked(accounts, recorder):
    cfg = make_config("four")
    shared = accounts(cfg).session("shared_services")
    arn = register_version(shared, cfg, git_sha=SHA, metrics={"auc": 0.91})
    clients = Clients(recorder.attach(shared), cfg.region)
    value = version.resolve(cfg, clients, arn, "dev")
    assert recorder.operations == ["DescribeModelPackage"]
    assert (value.kind, value.git_sha, value.metrics) == ("dev", SHA, None)
    recorder.clear()
    with_metrics = version.resolve(cfg, clients, arn, metrics=True)
    assert recorder.operations == ["DescribeModelPackage", "GetObject"]
    assert with_metrics.metrics == {"auc": 0.91}
    assert with_metrics == value.with_metrics({"auc": 0.91})
    recorder.clear()
    with pytest.raises(DeployError, match="expected the prod group"):
        version.resolve(cfg, clients, arn, "prod")
    assert recorder.operations == []


def test_metrics_fall_back_to_customer_metadata_without_a_report():
    cfg = make_config("four")
    arn, package = described(cfg)
    del package["ModelMetrics"]
    value = version.from_description(version.reference(cfg, arn), package)
    assert version.read_metrics(Clients(None, cfg.region), value).metrics == {"auc": 0.9}


def test_the_lock_is_built_from_the_resolved_value_and_its_qa_record():
    cfg = make_config("four")
    arn, package = described(cfg)
    package["InferenceSpecification"]["Containers"].pop()  # one artifact, as the pipeline registers
    value = version.from_description(version.reference(cfg, arn), package).with_metrics({"auc": 0.9})
    with pytest.raises(lockfile.LockError, match=r"no passed QA record in the registry \(qa_result: none\)"):
        lockfile.lock_for(cfg, value, passing_report(), now=NOW)
    sha = "cd" * 32
    package["CustomerMetadataProperties"].update(
        qa_result="passed", qa_artifact_sha256=sha, qa_artifact_version="v7", qa_containers_sha256="ef" * 32
    )
    value = version.from_description(value.ref, package).with_metrics({"auc": 0.9})
    lock = lockfile.lock_for(cfg, value, passing_report(), now=NOW)
    [container] = package["InferenceSpecification"]["Containers"]
    tested = evidence.Artifact(container["ModelDataUrl"], "v7", sha)
    assert lock == lockfile.build_lock(
        cfg, arn, SHA, {"auc": 0.9}, passing_report(), tested, [container["Image"]], "ef" * 32, now=NOW
    )
    assert lockfile.locked_ref(cfg, lock) == value.ref
    with pytest.raises(lockfile.LockError, match="were not read"):
        lockfile.lock_for(cfg, dataclasses.replace(value, metrics=None), passing_report(), now=NOW)
    with pytest.raises(lockfile.LockError, match=f"was built from commit {SHA}, not abc1234"):
        lockfile.lock_for(cfg, value, passing_report(), git_sha="abc1234", now=NOW)
    del package["CustomerMetadataProperties"]["git_sha"]
    bare = version.from_description(value.ref, package).with_metrics({})
    with pytest.raises(lockfile.LockError, match="has no git_sha metadata"):
        lockfile.lock_for(cfg, bare, passing_report(), now=NOW)
    package["CustomerMetadataProperties"].update(git_sha=SHA, qa_result="failed")
    failed = version.from_description(value.ref, package).with_metrics({})
    with pytest.raises(lockfile.LockError, match=r"qa_result: failed"):
        lockfile.lock_for(cfg, failed, passing_report(), now=NOW)


@pytest.mark.parametrize(
    ("env", "change", "message"),
    [
        ("qa", {}, None),
        ("prod", {}, "is PendingManualApproval; prod deploys only Approved versions"),
        ("qa", {"ModelPackageStatus": "Failed"}, "is Failed, not Completed; it cannot be deployed"),
        ("qa", {"ModelPackageGroupName": "elsewhere"}, "belongs to group elsewhere, expected the dev group"),
    ],
)
def test_check_deployable_works_on_the_value(env, change, message):
    cfg = make_config("four")
    kind = cfg.environment(env).group_kind
    arn, package = described(cfg, kind)
    value = version.from_description(version.parse_package_arn(arn), {**package, **change})
    if message is None:
        assert version.check_deployable(cfg, env, value) is value
    else:
        with pytest.raises(DeployError, match=message):
            version.check_deployable(cfg, env, value)
