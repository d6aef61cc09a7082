"""The lock of a set (a segmented project), on moto: `lock write`, `lock verify` and `lock check`
take one entry per segment; tampering with one segment's entry, a missing or an extra segment,
or a version of another run, group or without a QA record fails, naming the segment."""

from __future__ import annotations

import copy
import json

import pytest

from deploy_helpers import make_config, module, passing_report
from release_world import lockfile
from test_segment_set_world import VALUES, listed, lockset, make_segmented, run, unsegmented_world, write

LockError = lockfile.LockError
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture
def segmented(accounts, configure):
    return make_segmented(accounts, configure)


def written_set(world, capsys, tmp_path) -> tuple[dict[str, str], dict]:
    """A QA-passed set locked with `lock write`; ({segment: ARN}, the lock file's content)."""
    arns = world.register_set()
    world.qa_set(arns)
    (tmp_path / "qa.json").write_text(json.dumps(passing_report()))
    code, values, err = run(
        world, capsys, "lock", "write", "--arn", listed(arns), "--qa-report", str(tmp_path / "qa.json")
    )
    assert code == 0, err
    assert values["arn"] == listed(arns)
    return arns, json.loads(lockfile.lock_path(world.cfg).read_text())


def test_lock_write_verify_and_check_a_set(segmented, capsys, tmp_path):
    arns, lock = written_set(segmented, capsys, tmp_path)
    assert list(lock) == ["segment_column", "segments", "created_at"]
    assert lock["segment_column"] == "region"
    assert list(lock["segments"]) == list(VALUES)
    for segment, entry in lock["segments"].items():
        assert entry["model_package_arn"] == arns[segment]
        assert entry["comparison"]["candidate"] == 0.97
    assert lockfile.entries(lock) == lock["segments"]

    code, values, err = run(segmented, capsys, "lock", "verify")
    assert code == 0, err
    assert values == {
        "arn": listed(arns),
        "version": ",".join(arns[s].rsplit("/", 1)[1] for s in VALUES),
        "git_sha": lock["segments"]["north"]["git_sha"],
        "sha256": ",".join(lock["segments"][s]["artifact"]["sha256"] for s in VALUES),
        "segments": "north,south,west",
    }
    segmented.recorder.clear()
    code, values, err = run(segmented, capsys, "lock", "check")
    assert code == 0, err
    assert (values["arn"], values["pull_request"], values["segments"]) == (
        listed(arns),
        "none",
        "north,south,west",
    )
    assert segmented.recorder.mutating == []


def test_entries_of_a_single_version_lock_is_that_lock():
    lock = {"model_package_arn": "x"}
    assert lockfile.entries(lock) == {None: lock}


@pytest.mark.parametrize("field", ["sha256", "metrics", "git_sha"])
def test_tampering_with_one_segments_entry_fails_naming_that_segment(segmented, capsys, tmp_path, field):
    _, lock = written_set(segmented, capsys, tmp_path)
    tampered = copy.deepcopy(lock)
    entry = tampered["segments"]["south"]
    if field == "sha256":
        entry["artifact"]["sha256"] = "0" * 64
    elif field == "metrics":
        entry["metrics"]["auc"] = 0.999
    else:
        for each in tampered["segments"].values():  # one commit for the set, another than registered
            each["git_sha"] = "e" * 40
    write(segmented, tampered)
    code, values, err = run(segmented, capsys, "lock", "check")
    assert (code, values) == (1, {})
    line = err.splitlines()[-1]
    assert line.startswith("error: release refused: ")
    assert "segment south: release refused for " in line
    if field != "git_sha":
        assert "segment north" not in line and "segment west" not in line


@pytest.mark.parametrize("change", ["missing", "extra", "reordered", "duplicate", "two_commits"])
def test_a_lock_without_exactly_the_configured_segments_is_refused(segmented, capsys, tmp_path, change):
    _, lock = written_set(segmented, capsys, tmp_path)
    entries = lock["segments"]
    if change == "missing":
        del entries["west"]
        expected = "the lock's segments must be exactly north, south, west; missing west"
    elif change == "extra":
        entries["east"] = copy.deepcopy(entries["west"])
        expected = "the lock's segments must be exactly north, south, west; not configured east"
    elif change == "reordered":
        lock["segments"] = {s: entries[s] for s in ("west", "north", "south")}
        expected = "segments in the order west, north, south; expected north, south, west"
    elif change == "duplicate":
        entries["west"] = copy.deepcopy(entries["north"])
        expected = "a version is locked for more than one segment"
    else:
        entries["west"]["git_sha"] = "e" * 40
        expected = "the segments were built from different commits"
    write(segmented, lock)
    for command in ("verify", "check"):
        code, values, err = run(segmented, capsys, "lock", command)
        assert (code, values) == (1, {})
        assert expected in err.splitlines()[-1]


def test_a_qa_passed_version_of_another_run_cannot_replace_one_segment(segmented, capsys, tmp_path):
    """Attack: every field of the swapped entry is true (another run's south passed QA, its lock
    entry is honest), but it is not of the run QA tested as a set."""
    _, lock = written_set(segmented, capsys, tmp_path)
    other = segmented.register_set()
    segmented.qa(other["south"])
    value = segmented.resolved({"south": other["south"]})["south"]
    lock["segments"]["south"] = lockfile.lock_for(
        segmented.cfg, value, passing_report(), clients=segmented.clients
    )
    lock["segments"]["south"]["created_at"] = lock["created_at"]
    write(segmented, lock)
    code, values, err = run(segmented, capsys, "lock", "check")
    assert (code, values) == (1, {})
    assert "different pipeline runs (segment_set)" in err.splitlines()[-1]


def test_a_set_with_one_untested_version_is_never_locked(segmented, capsys, tmp_path):
    arns = segmented.register_set()
    for segment in ("north", "west"):
        segmented.qa(arns[segment])
    (tmp_path / "qa.json").write_text(json.dumps(passing_report()))
    code, values, err = run(
        segmented, capsys, "lock", "write", "--arn", listed(arns), "--qa-report", str(tmp_path / "qa.json")
    )
    assert (code, values) == (1, {})
    line = err.splitlines()[-1]
    assert line.startswith("error: refusing to lock the set: segment south: ")
    assert "has no passed QA record in the registry" in line
    assert not lockfile.lock_path(segmented.cfg).exists()


def test_a_forged_entry_for_an_untested_version_fails_the_check(segmented, capsys, tmp_path):
    """Attack: the lock's south entry names a version of the same run that QA never recorded,
    with the fields copied from the honest entry."""
    arns, lock = written_set(segmented, capsys, tmp_path)
    untested = segmented.register_segment(
        "south", segmented.describe(arns["south"])["CustomerMetadataProperties"]["segment_set"]
    )
    entry = lock["segments"]["south"]
    entry["model_package_arn"] = untested
    entry["version"] = int(untested.rsplit("/", 1)[1])
    write(segmented, lock)
    code, _, err = run(segmented, capsys, "lock", "check")
    assert code == 1
    line = err.splitlines()[-1]
    assert "segment south: " in line and "no passed QA" in line


def test_an_entry_of_another_group_is_refused(segmented, capsys, tmp_path):
    _, lock = written_set(segmented, capsys, tmp_path)
    entry = lock["segments"]["west"]
    entry["model_package_arn"] = entry["model_package_arn"].replace(
        segmented.cfg.group("dev"), segmented.cfg.group("feature")
    )
    write(segmented, lock)
    code, _, err = run(segmented, capsys, "lock", "verify")
    assert code == 1
    assert "segment west: " in err and "expected the dev group" in err


def test_a_single_version_lock_is_refused_by_a_segmented_project_and_back(segmented, capsys, tmp_path):
    _, lock = written_set(segmented, capsys, tmp_path)
    write(segmented, lock["segments"]["north"])
    code, _, err = run(segmented, capsys, "lock", "verify")
    assert code == 1
    assert "model.segments is on (north, south, west): the lock must name one version per segment" in err
    with pytest.raises(LockError, match=r"model\.segments is off"):
        lockset.validate_set(make_config("four"), lock, "lock")


def test_a_failed_qa_entry_is_not_released(segmented, capsys, tmp_path):
    _, lock = written_set(segmented, capsys, tmp_path)
    lock["segments"]["west"]["qa_test"]["passed"] = False
    write(segmented, lock)
    code, _, err = run(segmented, capsys, "lock", "verify")
    assert code == 1
    assert "qa_test.passed is false for segment west" in err


def test_a_single_version_lock_still_verifies_as_today(accounts, recorder, configure, capsys):
    world = unsegmented_world(accounts, recorder, configure)
    arn = world.register()
    world.qa(arn)
    lock = world.lock(arn)
    write(world, lock)
    code = module("promotion.cli").main(["lock", "verify"])
    out = capsys.readouterr().out
    assert code == 0
    assert out == (f"arn={arn}\nversion=1\ngit_sha={lock['git_sha']}\nsha256={lock['artifact']['sha256']}\n")
