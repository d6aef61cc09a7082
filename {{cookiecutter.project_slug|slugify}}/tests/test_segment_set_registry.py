"""A set of versions in the registry (a segmented project), on moto: `registry latest`, `digest`,
`samples` and `record-qa` take and print the set as a comma-separated list ordered as
`model.segments.values`; a list is refused for an unsegmented project; nothing lets a version of
another run, another group or another commit join a set."""

from __future__ import annotations

import json

import pytest

from deploy_helpers import module
from release_world import GIT_SHA
from test_segment_set_world import (
    VALUES,
    digested,
    listed,
    make_segmented,
    record_qa,
    run,
    segments,
    unsegmented_world,
)

DeployError = module("deploy.aws").DeployError
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture
def segmented(accounts, configure):
    return make_segmented(accounts, configure)


OTHER_SHA = "f" * 40


def test_latest_returns_the_newest_complete_set_of_the_commit_in_config_order(segmented, capsys):
    old = segmented.register_set()
    # A newer run of the same commit that registered two of three segments (stopped half-way)...
    segmented.register_set(values=("north", "west"))
    # ...and a complete set of another commit, newer still; registered in another order.
    segmented.register_set(values=("west", "south", "north"), git_sha=OTHER_SHA)
    code, values, err = run(segmented, capsys, "latest", "--group", "dev", "--git-sha", GIT_SHA)
    assert code == 0, err
    assert values == {
        "arn": ",".join(old[s] for s in VALUES),
        "version": ",".join(old[s].rsplit("/", 1)[1] for s in VALUES),
        "status": "PendingManualApproval,PendingManualApproval,PendingManualApproval",
        "segments": "north,south,west",
    }
    assert "skipped the incomplete set" in err
    code, values, err = run(segmented, capsys, "latest", "--group", "dev", "--git-sha", OTHER_SHA)
    assert (code, values["segments"]) == (0, "north,south,west")


def test_latest_never_completes_a_set_with_versions_of_other_runs(segmented, capsys):
    """Two partial runs of one commit that together cover every segment are not a set."""
    segmented.register_set(values=("north", "south"))
    segmented.register_set(values=("west",))
    code, values, err = run(segmented, capsys, "latest", "--group", "dev", "--git-sha", GIT_SHA)
    assert (code, values) == (1, {})
    assert err.splitlines()[-1] == (
        f"error: no complete set of Completed versions registered from commit {GIT_SHA} in "
        f"{segmented.cfg.group('dev')}"
    )


def test_a_list_of_versions_is_refused_when_segments_are_off(accounts, recorder, configure, capsys):
    world = unsegmented_world(accounts, recorder, configure)
    first, second = world.register(), world.register()
    recorder.clear()
    code = module("promotion.cli").main(["digest", "--arn", f"{first},{second}"], session=world.shared)
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[-1] == (
        "error: --arn names 2 versions; a list of versions is only accepted when model.segments is on "
        "(one version per segment value)"
    )
    assert recorder.operations == ["GetCallerIdentity"]


def test_single_version_latest_output_is_unchanged(accounts, recorder, configure, capsys):
    world = unsegmented_world(accounts, recorder, configure)
    arn = world.register()
    code = module("promotion.cli").main(["latest", "--group", "dev"], session=world.shared)
    out = capsys.readouterr().out
    assert (code, out) == (0, f"arn={arn}\nversion=1\nstatus=PendingManualApproval\n")


def test_digest_samples_and_record_qa_work_on_the_whole_set(segmented, capsys, tmp_path):
    arns = segmented.register_set(values=("west", "north", "south"))
    code, values, err = run(
        segmented, capsys, "digest", "--arn", listed(arns), "--output", str(tmp_path / "a.json")
    )
    assert code == 0, err
    digests = json.loads((tmp_path / "a.json").read_text())
    assert list(digests["segments"]) == list(VALUES)
    assert values["segments"] == "north,south,west"
    assert values["sha256"] == ",".join(digests["segments"][s]["sha256"] for s in VALUES)

    code, values, err = run(
        segmented, capsys, "samples", "--arn", listed(arns), "--output-dir", str(tmp_path / "s")
    )
    assert code == 0, err
    assert values == {"samples": str(tmp_path / "s"), "segments": "north,south,west", "truncated": "false"}
    for segment in VALUES:
        assert (tmp_path / "s" / segment / "test.csv").read_bytes().endswith(segment.encode() + b"\n")

    report = {
        "passed": True,
        "segments": {s: {"passed": True, "checks": [{"name": f"{s} ping", "passed": True}]} for s in VALUES},
    }
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, report, digests)
    assert code == 0, err
    assert values == {"arn": listed(arns), "qa_result": "passed,passed,passed"}
    for segment in VALUES:
        meta = segmented.describe(arns[segment])["CustomerMetadataProperties"]
        assert meta["qa_result"] == "passed"
        assert meta["qa_artifact_sha256"] == digests["segments"][segment]["sha256"]


def test_record_qa_rejects_exactly_the_segment_that_failed(segmented, capsys, tmp_path):
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    report = {
        "passed": False,
        "segments": {
            s: {"passed": s != "south", "checks": [{"name": "ping", "passed": s != "south"}]} for s in VALUES
        },
    }
    code, values, err = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values["qa_result"]) == (1, "passed,failed,passed")
    assert "failed for segment south" in err.splitlines()[-1]
    assert segmented.describe(arns["south"])["ModelApprovalStatus"] == "Rejected"
    assert segmented.describe(arns["north"])["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_report_without_a_segment_fails_that_segment(segmented, capsys, tmp_path):
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    passed = {"passed": True, "checks": [{"name": "ping", "passed": True}]}
    report = {"passed": True, "segments": {s: passed for s in ("north", "south")}}
    code, values, _ = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values["qa_result"]) == (1, "passed,passed,failed")


def test_a_segment_whose_part_shows_no_passed_check_fails(segmented, capsys, tmp_path):
    """A part saying passed over no checks tested nothing it can show: that segment fails."""
    arns = segmented.register_set()
    artifacts = digested(segmented, capsys, tmp_path, arns)
    passed = {"passed": True, "checks": [{"name": "ping", "passed": True}]}
    report = {
        "passed": True,
        "segments": {s: passed for s in VALUES} | {"south": {"passed": True, "checks": []}},
    }
    code, values, _ = record_qa(segmented, capsys, tmp_path, arns, report, artifacts)
    assert (code, values["qa_result"]) == (1, "passed,failed,passed")
    assert segmented.describe(arns["south"])["ModelApprovalStatus"] == "Rejected"


@pytest.mark.parametrize(
    "attack",
    ["other_run", "other_commit", "feature_group", "missing", "duplicate", "extra", "other_column"],
)
def test_a_list_that_is_not_one_complete_set_is_refused_naming_why(segmented, capsys, attack):
    arns = segmented.register_set()
    other = segmented.register_set(git_sha=OTHER_SHA if attack == "other_commit" else GIT_SHA)
    members = dict(arns)
    expected = {
        "other_run": "different pipeline runs (segment_set)",
        "other_commit": "different pipeline runs (segment_set)",
        "feature_group": "expected the dev group",
        "missing": "missing segments: west",
        "duplicate": "segment north appears 2 times",
        "extra": "segments not in model.segments.values: east",
        "other_column": "was trained on segment column 'country'",
    }[attack]
    if attack in ("other_run", "other_commit"):
        members["south"] = other["south"]
    elif attack == "feature_group":
        members["south"] = members["south"].replace(
            segmented.cfg.group("dev"), segmented.cfg.group("feature")
        )
    elif attack == "missing":
        del members["west"]
    elif attack == "duplicate":
        members["west"] = other["north"]
    elif attack == "extra":
        members["east"] = segmented.register_segment("east", "execution-x")
    elif attack == "other_column":
        members["south"] = segmented.register_segment("south", "execution-y", column="country")
    code, values, err = run(segmented, capsys, "digest", "--arn", ",".join(members.values()))
    assert (code, values) == (1, {})
    assert expected in err.splitlines()[-1]
    if attack == "other_commit":
        assert "different commits (git_sha)" in err.splitlines()[-1]


def test_split_arns_refuses_an_empty_entry(segmented):
    with pytest.raises(segments.SetError, match="an empty entry"):
        segments.split_arns(segmented.cfg, "a,,b")
