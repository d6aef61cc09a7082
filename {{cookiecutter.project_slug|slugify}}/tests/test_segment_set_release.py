"""Releasing a set (a segmented project), on moto: the champion of each segment is the prod version
of that segment released last; `lock champion` checks every segment against its own champion
(one that lost fails the check, naming it); `registry approve/promote/released` take the list
and keep its order; no copy or registration happens unless every segment may be promoted."""

from __future__ import annotations

import json

import pytest

from deploy_helpers import NOW, passing_report
from release_world import lifecycle, lockfile
from test_segment_set_world import COMMIT, VALUES, compared, listed, make_segmented, run, write

pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture
def segmented(accounts, configure):
    return make_segmented(accounts, configure)


FIRST, SECOND = "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"


def test_the_champion_of_a_segment_is_its_prod_version_released_last(segmented):
    first = segmented.release_set(segmented.register_set_qa(), FIRST)
    second = segmented.release_set(segmented.register_set_qa(values=("north", "south", "west")), SECOND)
    for segment in VALUES:
        assert lifecycle.champion_version(segmented.cfg, segmented.clients, segment).arn == second[segment]
    assert lifecycle.champion_version(segmented.cfg, segmented.clients, "east") is None
    # A rejected release of one segment leaves that segment's previous champion serving.
    lifecycle.reject(segmented.cfg, segmented.clients, second["south"], "smoke test failed")
    assert lifecycle.champion_version(segmented.cfg, segmented.clients, "south").arn == first["south"]
    assert lifecycle.champion_version(segmented.cfg, segmented.clients, "north").arn == second["north"]


def champions_and_candidates(world, south: float = 0.97, south_against: str = "south"):
    """A released set (auc 0.95 each) and a QA-passed candidate set compared with each segment's
    champion (south scoring `south`, compared with the champion of `south_against`)."""
    champions = world.release_set(
        world.register_set_qa(comparisons={s: compared(0.95) for s in VALUES}), FIRST
    )
    comparisons = {s: compared(0.97, 0.95, champions[s]) for s in VALUES}
    comparisons["south"] = compared(south, 0.95, champions[south_against])
    arns = world.register_set(comparisons=comparisons)
    world.qa_set(arns)
    return champions, arns


def locked_by_hand(world, arns: dict[str, str]) -> dict:
    """Each entry as `lock write` builds it, the comparison the registry's (also one that lost)."""
    entries = {}
    for segment, value in world.resolved(arns).items():
        entry = lockfile.lock_for(world.cfg, value, passing_report(), now=NOW)
        entry["comparison"] = json.loads(world.read(value.quality_report_uri))["champion_comparison"]
        entries[segment] = entry
    return {"segment_column": "region", "segments": entries, "created_at": entry["created_at"]}


def test_the_champion_check_passes_when_every_segment_beat_its_champion(segmented, capsys):
    champions, arns = champions_and_candidates(segmented)
    write(segmented, segmented.lock_set(arns))
    segmented.recorder.clear()
    code, values, err = run(segmented, capsys, "lock", "champion", "--env", "prod")
    assert code == 0, err
    assert values == {
        "verdict": "passed,passed,passed",
        "served_champion": listed(champions),
        "segments": "north,south,west",
    }
    assert segmented.recorder.mutating == []


def test_one_segment_that_lost_fails_the_champion_check_naming_it(segmented, capsys):
    _, arns = champions_and_candidates(segmented, south=0.90)
    write(segmented, locked_by_hand(segmented, arns))
    code, values, err = run(segmented, capsys, "lock", "champion", "--env", "prod")
    assert (code, values["verdict"]) == (1, "passed,lost,passed")
    line = err.splitlines()[-1]
    assert line.startswith("error: champion check failed for segment south: the candidate lost: auc 0.9000")
    assert "segment north" not in line and "segment west" not in line


def test_a_segment_compared_with_another_segments_champion_is_stale(segmented, capsys):
    """Attack: south's comparison names north's champion (a weaker bar, say); the check compares
    each segment with the champion prod serves for that segment."""
    _, arns = champions_and_candidates(segmented, south_against="north")
    write(segmented, locked_by_hand(segmented, arns))
    code, values, err = run(segmented, capsys, "lock", "champion", "--env", "prod")
    assert (code, values["verdict"]) == (1, "passed,stale,passed")
    assert "segment south: the candidate was compared with the champion" in err.splitlines()[-1]


def test_approve_promote_and_released_keep_the_order_of_the_set(segmented, capsys):
    arns = segmented.register_set(values=("west", "south", "north"))
    segmented.qa_set(arns)
    write(segmented, segmented.lock_set({s: arns[s] for s in VALUES}))
    code, values, err = run(segmented, capsys, "lock", "verify")
    assert code == 0, err
    code, _, err = run(
        segmented,
        capsys,
        "approve",
        "--arn",
        values["arn"],
        "--pr",
        "7",
        "--commit",
        COMMIT,
        "--actor",
        "octocat",
    )
    assert code == 0, err
    code, promoted, err = run(
        segmented, capsys, "promote", "--arn", values["arn"], "--expect-sha256", values["sha256"]
    )
    assert code == 0, err
    prod = promoted["arn"].split(",")
    assert promoted["created"] == "true,true,true" and promoted["segments"] == "north,south,west"
    for segment, arn in zip(VALUES, prod, strict=True):
        described = segmented.describe(arn)["CustomerMetadataProperties"]
        assert (described["segment"], described["source_model_package_arn"]) == (segment, arns[segment])
    assert promoted["version"] == ",".join(a.rsplit("/", 1)[1] for a in prod)
    code, again, err = run(segmented, capsys, "promote", "--arn", values["arn"])
    assert (code, again["arn"], again["created"]) == (0, promoted["arn"], "false,false,false")
    code, _, err = run(
        segmented, capsys, "released", "--arn", promoted["arn"], "--commit", COMMIT, "--pr", "7"
    )
    assert code == 0, err
    for segment, arn in zip(VALUES, prod, strict=True):
        assert lifecycle.champion_version(segmented.cfg, segmented.clients, segment).arn == arn


def test_no_segment_is_promoted_unless_every_segment_may_be(segmented, capsys):
    arns = segmented.register_set()
    segmented.qa_set(arns)
    for segment in ("north", "west"):
        segmented.approve(arns[segment])
    segmented.recorder.clear()
    code, values, err = run(segmented, capsys, "promote", "--arn", listed(arns))
    assert (code, values) == (1, {})
    assert err.splitlines()[-1].startswith(
        f"error: not promoting segment south ({arns['south']}): it is PendingManualApproval"
    )
    assert segmented.recorder.mutating == []


def test_a_version_of_another_run_cannot_be_promoted_within_the_set(segmented, capsys):
    arns = segmented.register_set()
    other = segmented.register_set()
    mixed = {**arns, "west": other["west"]}
    for each in mixed.values():
        segmented.qa(each)
        segmented.approve(each)
    segmented.recorder.clear()
    code, _, err = run(segmented, capsys, "promote", "--arn", listed(mixed))
    assert code == 1
    assert "different pipeline runs (segment_set)" in err.splitlines()[-1]
    assert segmented.recorder.mutating == []


def test_compare_shows_every_segment_next_to_its_champion(segmented, capsys, tmp_path):
    champions, arns = champions_and_candidates(segmented)
    write(segmented, segmented.lock_set(arns))
    code = run(segmented, capsys, "compare", "--env", "prod", "--output", str(tmp_path / "c.md"))[0]
    assert code == 0
    markdown = (tmp_path / "c.md").read_text()
    for segment in VALUES:
        assert f"## Segment {segment}: release candidate:" in markdown
        assert f"- prod champion: `{champions[segment]}`" in markdown
    assert markdown.count("### Champion check: passed") == 3
