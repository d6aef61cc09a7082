"""Attacks on the chain of a set of versions (a segmented project), on moto: each tries to get a
version into the lock, approved or into prod that QA did not test as what it would serve."""

from __future__ import annotations

import copy
import json

import pytest

from deploy_helpers import NOW, Recorder, module, passing_report
from release_world import evidence, lockfile, promote, release, version
from test_segment_set_world import (
    COLUMN,
    VALUES,
    SetWorld,
    config,
    digested,
    listed,
    make_segmented,
    record_qa,
    run,
    segmented_raw,
    unsegmented_world,
    write,
)

DeployError = module("deploy.aws").DeployError
LockError = lockfile.LockError
pytestmark = pytest.mark.usefixtures("fake_aws")
COMMIT = "c" * 40


@pytest.fixture
def segmented(accounts, configure):
    return make_segmented(accounts, configure)


def per_segment_report(passed: bool = True) -> dict:
    return {
        "passed": passed,
        "segments": {s: {"passed": passed, "checks": [{"name": "ping", "passed": passed}]} for s in VALUES},
    }


def qa_results(world, arns: dict[str, str]) -> dict[str, str | None]:
    return {
        s: world.describe(a).get("CustomerMetadataProperties", {}).get("qa_result") for s, a in arns.items()
    }


def test_a_report_of_one_model_is_not_qa_evidence_for_every_segment(segmented, capsys, tmp_path):
    """A single-model endpoint report (no per-segment results) tested no segment of the set."""
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, passing_report(), artifacts)
    assert (code, values) == (1, {})
    assert "no per-segment results" in err.splitlines()[-1]
    assert qa_results(segmented, arns) == dict.fromkeys(VALUES)


def report_naming_models(world, arns: dict[str, str], models: dict[str, str] | None = None) -> dict:
    """The multi-model endpoint test's report: each part names the model it invoked."""
    prefix = f"s3://{world.cfg.names.artifact_bucket}/{world.cfg.names.artifact_prefixes['dev']}"
    endpoint = world.cfg.environment("qa").endpoint_name
    report = per_segment_report()
    for segment, arn in arns.items():
        uri = world.describe((models or {}).get(segment, arn))["InferenceSpecification"]["Containers"][0]
        report["segments"][segment]["target"] = (
            f"endpoint {endpoint} model {uri['ModelDataUrl'][len(prefix) :]}"
        )
    return report


def test_a_report_of_the_models_the_endpoint_served_before_is_not_qa_evidence(segmented, capsys, tmp_path):
    """QA tested the routes the endpoint still had (the previous set's models): the report's
    parts name the models they invoked, and those are not this set's."""
    before = segmented.register_set()
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    stale = report_naming_models(segmented, arns, models={"south": before["south"]})
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, stale, artifacts)
    assert (code, values) == (1, {})
    line = err.splitlines()[-1]
    assert "segment south: the report tested endpoint " in line and f"not {arns['south']}" in line
    assert "segment north" not in line
    assert qa_results(segmented, arns) == dict.fromkeys(VALUES)
    code, values, err = record_qa(
        segmented, capsys, tmp_path, arns, report_naming_models(segmented, arns), artifacts
    )
    assert (code, values["qa_result"]) == (0, "passed,passed,passed"), err


def test_a_report_of_another_version_s_route_is_not_qa_evidence(segmented, capsys, tmp_path):
    """Each part names the package its route served; it must be the segment's version of this set."""
    before = segmented.register_set()
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    report = report_naming_models(segmented, arns)
    for segment, arn in arns.items():
        report["segments"][segment]["package_arn"] = before[segment] if segment == "south" else arn
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values) == (1, {})
    line = err.splitlines()[-1]
    assert f"segment south: the report tested the route of {before['south']}, not {arns['south']}" in line
    assert "segment north" not in line
    assert qa_results(segmented, arns) == dict.fromkeys(VALUES)
    report["segments"]["south"]["package_arn"] = arns["south"]
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values["qa_result"]) == (0, "passed,passed,passed"), err


def test_a_report_of_another_object_under_the_key_is_not_qa_evidence(segmented, capsys, tmp_path):
    """Each part names the S3 object its route served; it must be the object the digest read
    (an endpoint still serving a cached copy of a key rewritten since is not this evidence)."""
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    report = report_naming_models(segmented, arns)
    for segment, part in artifacts["segments"].items():
        report["segments"][segment]["object"] = "old-object" if segment == "south" else part["version_id"]
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values) == (1, {})
    line = err.splitlines()[-1]
    digested_south = artifacts["segments"]["south"]["version_id"]
    assert digested_south  # the artifact bucket keeps versions
    assert "segment south: the endpoint served object old-object of s3://" in line
    assert f"the digest read {digested_south}" in line and "segment north" not in line
    assert qa_results(segmented, arns) == dict.fromkeys(VALUES)
    report["segments"]["south"]["object"] = digested_south
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values["qa_result"]) == (0, "passed,passed,passed"), err


def test_swapped_artifact_digests_record_nothing_for_any_segment(segmented, capsys, tmp_path):
    """Each segment's digest must be its own artifact's; checked for all before the first record."""
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    parts = artifacts["segments"]
    parts["south"], parts["west"] = parts["west"], parts["south"]
    code, _, err = record_qa(segmented, capsys, tmp_path, arns, per_segment_report(), artifacts)
    assert code == 1
    assert "segment south" in err.splitlines()[-1]
    assert qa_results(segmented, arns) == dict.fromkeys(VALUES)


def test_approving_a_set_with_a_rejected_segment_approves_none(segmented, capsys):
    arns = segmented.register_set()
    for segment, arn in arns.items():
        segmented.qa(arn, passed=segment != "west")
    args = ["--pr", "7", "--commit", COMMIT, "--actor", "octocat"]
    code, values, err = run(segmented, capsys, "approve", "--arn", listed(arns), *args)
    assert (code, values) == (1, {})
    assert "segment west" in err.splitlines()[-1] and "Rejected" in err.splitlines()[-1]
    assert {s: segmented.describe(a)["ModelApprovalStatus"] for s, a in arns.items()} == {
        "north": "PendingManualApproval",
        "south": "PendingManualApproval",
        "west": "Rejected",
    }


def test_entries_swapped_between_segments_fail_the_lock_check(segmented, capsys, tmp_path):
    """Every version is of the set and QA-passed, so only the entry's own segment catches this."""
    arns = segmented.register_set_qa()
    (tmp_path / "qa.json").write_text(json.dumps(passing_report()))
    code, _, err = run(
        segmented, capsys, "lock", "write", "--arn", listed(arns), "--qa-report", str(tmp_path / "qa.json")
    )
    assert code == 0, err
    lock = json.loads(lockfile.lock_path(segmented.cfg).read_text())
    entries = lock["segments"]
    entries["north"], entries["south"] = entries["south"], entries["north"]
    write(segmented, lock)
    code, values, err = run(segmented, capsys, "lock", "check")
    assert (code, values) == (1, {})
    line = err.splitlines()[-1]
    assert f"segment north: {arns['south']} is registered for segment south" in line
    assert f"segment south: {arns['north']} is registered for segment north" in line


def test_a_lock_for_another_segment_column_is_refused_after_the_config_changed(
    segmented, capsys, tmp_path, configure
):
    """The config's segment column switched between QA and release (same values)."""
    arns = segmented.register_set_qa()
    (tmp_path / "qa.json").write_text(json.dumps(passing_report()))
    args = ["--arn", listed(arns), "--qa-report", str(tmp_path / "qa.json")]
    assert run(segmented, capsys, "lock", "write", *args)[0] == 0
    raw = segmented_raw()
    raw["model"]["segments"]["column"] = "country"
    configure(raw)
    for command in ("verify", "check"):
        code, values, err = run(segmented, capsys, "lock", command)
        assert (code, values) == (1, {})
        assert "segment_column 'region'; model.segments.column is 'country'" in err.splitlines()[-1]


def test_a_segment_column_with_characters_metadata_refuses_still_makes_a_set(accounts, configure, capsys):
    """The pipeline records the column as customer metadata allows (`metadata_value`): a column
    such as "plan (tier)" is recorded as "plan _tier_", and its sets are still sets."""
    raw = segmented_raw()
    raw["model"]["segments"]["column"] = "plan (tier)"
    configure(raw)
    cfg = config.parse(raw)
    recorder = Recorder()
    world = SetWorld(cfg, accounts(cfg, recorder), recorder)
    recorded = module("promotion.metadata").metadata_value("plan (tier)")
    assert recorded == "plan _tier_"
    arns = {s: world.register_segment(s, "execution-plan", column=recorded) for s in VALUES}
    code, values, err = run(world, capsys, "digest", "--arn", listed(arns))
    assert code == 0, err
    assert values["segments"] == ",".join(VALUES)
    other = world.register_segment("north", "execution-plan-2", column="plan (tier)")
    code, _, err = run(world, capsys, "digest", "--arn", listed({**arns, "north": other}))
    assert code == 1
    assert "was trained on segment column 'plan (tier)'" in err.splitlines()[-1]


@pytest.fixture
def unsegmented(accounts, recorder, configure):
    """A project whose config turned model.segments off after a segmented run's QA."""
    world = unsegmented_world(accounts, recorder, configure)
    segment_version = world.register(
        metadata={"segment": "north", "segment_column": COLUMN, "segment_set": "execution-9999"}
    )
    world.qa(segment_version)
    return world, segment_version


def hand_written_lock(world, arn: str) -> dict:
    """The single-version lock a person could write for `arn` from the registry's evidence."""
    value = version.read_metrics(world.clients, version.resolve(world.cfg, world.clients, arn, "dev"))
    qa = evidence.qa_evidence(value.metadata)
    artifact = evidence.Artifact(value.model_data_urls[0], qa.version_id or "", qa.sha256)
    report = {"passed": True, "checks": [{"name": "ping", "passed": True}]}
    return lockfile.build_lock(
        world.cfg, value.ref, value.git_sha, dict(value.metrics), report, artifact,
        list(value.images), qa.containers or "", NOW,
    )  # fmt: skip


def test_one_segments_model_is_not_locked_as_the_model_of_an_unsegmented_project(unsegmented):
    world, arn = unsegmented
    with pytest.raises(LockError, match=r"registered by a segmented run for segment north \(column region\)"):
        world.lock(arn)


def test_one_segments_model_fails_the_lock_check_of_an_unsegmented_project(unsegmented):
    world, arn = unsegmented
    lock = hand_written_lock(world, arn)
    with pytest.raises(LockError, match=r"registered by a segmented run for segment north"):
        release.verify_release(world.cfg, world.clients, lock, world.pull_request())


def test_one_segments_model_is_not_promoted_in_an_unsegmented_project(unsegmented):
    world, arn = unsegmented
    world.approve(arn)
    with pytest.raises(DeployError, match=r"registered by a segmented run for segment north"):
        promote.promote(world.cfg, world.clients, arn, None)
    listed_prod = world.shared.client("sagemaker").list_model_packages(
        ModelPackageGroupName=world.cfg.group("prod")
    )["ModelPackageSummaryList"]
    assert listed_prod == []


def test_an_unsegmented_version_still_locks_in_an_unsegmented_project(accounts, recorder, configure):
    world = unsegmented_world(accounts, recorder, configure)
    arn = world.register()
    world.qa(arn)
    lock = world.lock(arn)
    assert (
        release.verify_release(world.cfg, world.clients, copy.deepcopy(lock), world.pull_request()).arn == arn
    )
