"""More attacks on promotion integrity, found by playing the attacker against the chain that
test_release_integrity.py covers: what the container definition, the metadata, the evaluation
report, the approval status and the pull request's repository could smuggle past the checks.
"""

from __future__ import annotations

import json

import pytest

from deploy_helpers import make_config, module, package_arn, plan_for
from release_world import World, evidence, lifecycle, lockfile, promote, release, tamper_containers, version

DeployError = module("deploy.aws").DeployError
LockError = lockfile.LockError
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture(params=["four", "single"])
def world(request, accounts, recorder):
    cfg = make_config(request.param)
    return World(cfg, accounts(cfg, recorder), recorder)


def test_a_container_changed_after_qa_is_refused_by_lock_check_and_promote(world):
    arn = world.register()
    world.qa(arn)
    lock = world.lock(arn)
    code = f"s3://{world.bucket}/{world.cfg.names.artifact_prefixes['dev']}code/sourcedir.tar.gz"
    tamper_containers(
        world,
        arn,
        Environment={**evidence.serving_environment(world.cfg), "SAGEMAKER_SUBMIT_DIRECTORY": code},
    )
    world.recorder.clear()
    with pytest.raises(LockError, match=r"the containers now hash to .*QA tested"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request())
    world.approve(arn)
    world.recorder.clear()
    with pytest.raises(DeployError, match="containers changed after QA tested them"):
        promote.promote(world.cfg, world.clients, arn)
    assert world.recorder.mutating == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {
                "AdditionalModelDataSources": [
                    {
                        "ChannelName": "extra",
                        "S3DataSource": {
                            "S3Uri": "s3://b/x/",
                            "S3DataType": "S3Prefix",
                            "CompressionType": "None",
                        },
                    }
                ]
            },
            "AdditionalModelDataSources are not allowed",
        ),
        ({"Environment": {"SAGEMAKER_PROGRAM": "backdoor.py"}}, "container environment"),
        (
            {"Image": "999999999999.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"},
            "is not one of AWS's framework images",
        ),
    ],
    ids=["extra data", "other program", "other image"],
)
def test_a_container_serving_anything_unhashed_cannot_pass_qa(world, change, problem):
    arn = world.register()
    tamper_containers(world, arn, **change)
    world.recorder.clear()
    with pytest.raises(DeployError, match=problem):
        world.qa(arn)
    assert world.recorder.mutating == []


def test_decision_keys_planted_on_a_dev_version_never_reach_prod(world):
    planted = {
        "released_at": "9999-12-31T00:00:00Z",
        "artifact_sha256": "f" * 64,
        "source_model_package_arn": "elsewhere",
        "approved_by": "nobody",
    }
    arn = world.register(metadata=planted)
    world.qa(arn)
    prod_arn = world.release(arn)  # promoted, but its release is never recorded (cancelled)
    metadata = world.describe(prod_arn)["CustomerMetadataProperties"]
    assert "released_at" not in metadata
    assert metadata["source_model_package_arn"] == arn
    assert metadata["approved_by"] == "octocat"
    assert metadata["artifact_sha256"] != "f" * 64
    assert lifecycle.champion_version(world.cfg, world.clients) is None


def test_metadata_padded_to_break_the_release_record_is_refused_before_any_change(world):
    arn = world.register(metadata={f"note_{n:02d}": "x" for n in range(38)})
    world.qa(arn)  # 40 + the QA record's entries
    lock = world.lock(arn)
    world.recorder.clear()
    with pytest.raises(LockError, match="customer metadata entries to carry to prod; the release adds 12"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request())
    assert world.recorder.mutating == []


def test_a_revert_still_works_after_the_dev_version_was_demoted(world):
    arn = world.register()
    world.qa(arn)
    served = world.release(arn)
    lifecycle.record_release(world.cfg, world.clients, served, "a" * 40, "7", "2025-01-31T00:00:00Z")
    # An identity below the prod gate moves the released dev version back to pending.
    world.update(arn, ModelApprovalStatus="PendingManualApproval")
    lock = world.lock(arn)
    release.verify_release(world.cfg, world.clients, lock, None)
    again = world.approve(arn, pr="none")
    assert again.approval == "Approved"
    assert "served prod as" in world.describe(arn)["ApprovalDescription"]
    assert promote.promote(world.cfg, world.clients, arn) == (served, False)


def test_an_evaluation_report_rewritten_after_qa_does_not_change_the_evidence(world):
    arn = world.register(metrics={"auc": 0.71})
    world.qa(arn)
    honest = world.lock(arn)
    assert honest["metrics"]["auc"] == 0.71
    report_uri = version.resolve(world.cfg, world.clients, arn, "dev").quality_report_uri
    _, key = evidence.split_uri(report_uri)
    inflated = {"binary_classification_metrics": {"auc": {"value": 0.99, "standard_deviation": "NaN"}}}
    world.put(key, json.dumps(inflated).encode())
    # Lock check reads the report version QA pinned: the honest lock passes, an inflated one not.
    release.verify_release(world.cfg, world.clients, honest, world.pull_request())
    forged = {**honest, "metrics": {**honest["metrics"], "auc": 0.99}}
    with pytest.raises(LockError, match=r"metric auc: lock 0\.99, registry 0\.71"):
        release.verify_release(world.cfg, world.clients, forged, world.pull_request())
    # The prod version's report is a prod-only copy of the pinned one.
    served = world.release(arn)
    lifecycle.record_release(world.cfg, world.clients, served, "a" * 40, "7", "2025-01-31T00:00:00Z")
    world.put(key, json.dumps(inflated).encode())
    champion = version.read_metrics(world.clients, lifecycle.champion_version(world.cfg, world.clients))
    assert champion.metrics["auc"] == 0.71


def test_a_pull_request_from_a_fork_is_refused(world):
    arn = world.register()
    world.qa(arn)
    lock = world.lock(arn)
    with pytest.raises(LockError, match="came from attacker/fork, not o/r"):
        release.verify_release(
            world.cfg, world.clients, lock, world.pull_request(head_repository="attacker/fork")
        )


@pytest.mark.parametrize("env", ["qa", "prod"])
def test_endpoints_run_with_network_isolation(env):
    """A container cannot fetch code or data at start-up that no checksum covers."""
    cfg = make_config("four")
    plan = plan_for(cfg, env, package_arn(cfg, cfg.environment(env).group_kind, 3))
    assert plan.model_request["EnableNetworkIsolation"] is True
