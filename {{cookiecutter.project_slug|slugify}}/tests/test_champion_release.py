"""The champion comparison from the registry to the release pull request, on moto.

The pipeline's Evaluate step scores the candidate and the prod champion on the same held-out
rows and writes `champion_comparison` into evaluation.json; Register records
`champion_version`/`champion_metric`. Here: `lock write` takes the comparison from the
registry (the report QA pinned), `lock check` re-checks a lock's comparison against it, and
`lock champion --env prod` (the release pull request's required check) fails for a candidate
that lost, for one compared with a champion prod no longer serves, and for a version
registered before comparisons existed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy_helpers import NOW, make_config, module, passing_report
from release_world import World, evidence, lifecycle, lockfile, promote, release, version

cli = module("promotion.cli")
compare = module("promotion.compare")
LockError = lockfile.LockError
pytestmark = pytest.mark.usefixtures("fake_aws")
COMMIT = "c" * 40


@pytest.fixture(params=["four", "single"])
def world(request, accounts, recorder):
    cfg = make_config(request.param)
    return World(cfg, accounts(cfg, recorder), recorder)


@pytest.fixture
def four(accounts, recorder, configure):
    """One world (four accounts) with its config written, for the CLI."""
    cfg = make_config("four")
    configure(cfg)
    return World(cfg, accounts(cfg, recorder), recorder)


def compared(candidate: float, champion: float | None = None, champion_arn: str = "none") -> dict[str, Any]:
    """champion_comparison as steps/evaluate.py writes it (tolerance 0.01, the config default)."""
    required = 0.0 if champion is None else max(0.0, round(champion - 0.01, 6))
    return {
        "metric": "auc",
        "candidate": candidate,
        "champion": champion,
        "champion_version": champion_arn,
        "tolerance": 0.01,
        "required": required,
        "passed": candidate >= required,
    }


def register(world: World, comparison: dict[str, Any] | None, **metadata: str) -> str:
    """A dev version as the champion-comparing pipeline registers it: the comparison in its
    evaluation report, champion_version/champion_metric metadata (`metadata` overrides)."""
    candidate = comparison["candidate"] if comparison else 0.97
    recorded = {}
    if comparison is not None:
        champion = comparison["champion"]
        recorded = {
            "champion_version": comparison["champion_version"],
            "champion_metric": "none" if champion is None else str(champion),
        }
    arn = world.register(metrics={"auc": candidate, "accuracy": 0.9}, metadata={**recorded, **metadata})
    if comparison is not None:
        uri = world.describe(arn)["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        report = json.loads(world.read(uri))
        report["champion_comparison"] = comparison
        world.put(evidence.split_uri(uri)[1], json.dumps(report).encode())
    return arn


def lock(world: World, arn: str) -> dict[str, Any]:
    """`lock write`: from the registry, the comparison included."""
    value = version.read_metrics(world.clients, version.resolve(world.cfg, world.clients, arn, "dev"))
    return lockfile.lock_for(world.cfg, value, passing_report(), now=NOW, clients=world.clients)


def release_as_champion(world: World, arn: str, when: str) -> str:
    """The release job end to end: verify, approve, promote, record it served prod at `when`."""
    locked = lock(world, arn)
    release.verify_release(world.cfg, world.clients, locked, world.pull_request())
    world.approve(arn)
    prod_arn, _ = promote.promote(world.cfg, world.clients, arn, locked["artifact"]["sha256"])
    lifecycle.record_release(world.cfg, world.clients, prod_arn, COMMIT, "7", when)
    return prod_arn


def champion_and_candidate(world: World, candidate: float = 0.97) -> tuple[str, str]:
    """A released champion (auc 0.95 on the rows compared) and a QA-passed dev candidate
    compared with it; (champion prod ARN, candidate dev ARN)."""
    first = register(world, compared(0.95))
    world.qa(first)
    champion = release_as_champion(world, first, "2025-02-01T00:00:00Z")
    arn = register(world, compared(candidate, 0.95, champion))
    world.qa(arn)
    return champion, arn


def check(world: World, capsys, locked: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    """Write the lock where the config says and run `lock champion --env prod`."""
    lockfile.write_lock(lockfile.lock_path(world.cfg), locked)
    code = cli.main(["lock", "champion", "--env", "prod"], session=world.shared)
    out, err = capsys.readouterr()
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return code, values, err


def test_the_lock_carries_the_registered_comparison_and_lock_check_rechecks_it(world):
    first = register(world, compared(0.95))
    world.qa(first)
    locked = lock(world, first)
    assert locked["comparison"] == compared(0.95)  # first release: no champion
    champion = release_as_champion(world, first, "2025-02-01T00:00:00Z")

    arn = register(world, compared(0.97, 0.95, champion))
    world.qa(arn)
    locked = lock(world, arn)
    assert locked["comparison"] == compared(0.97, 0.95, champion)
    assert release.verify_release(world.cfg, world.clients, locked, world.pull_request()).arn == arn


TAMPERS = {
    "weaker champion": (
        lambda c: c.update(champion=0.9, required=0.89),
        "champion comparison champion: lock 0.9, registry 0.95",
    ),
    "another champion": (
        lambda c: c.update(champion_version=c["champion_version"][:-1] + "9"),
        "champion comparison champion_version: lock arn:",
    ),
    "wider tolerance": (
        lambda c: c.update(tolerance=0.05, required=0.9),
        "champion comparison tolerance: lock 0.05, registry 0.01",
    ),
    "better candidate": (
        lambda c: c.update(candidate=0.99),
        "champion comparison candidate: lock 0.99, registry 0.96",
    ),
    "first release claimed": (
        lambda c: c.update(champion=None, champion_version="none", required=0.0),
        "champion comparison champion_version: lock none, registry arn:",
    ),
    "removed": (lambda c: c.clear(), "the lock carries no champion comparison; the registry has one"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_a_tampered_comparison_in_the_lock_is_refused_before_any_change(world, tamper):
    _, arn = champion_and_candidate(world, candidate=0.96)
    locked = lock(world, arn)
    change, message = TAMPERS[tamper]
    change(locked["comparison"])
    if not locked["comparison"]:
        del locked["comparison"]
    lockfile.validate(world.cfg, locked, "model.lock.json")  # still well formed: shape is not evidence
    world.recorder.clear()
    with pytest.raises(LockError, match="release refused for") as refused:
        release.verify_release(world.cfg, world.clients, locked, world.pull_request())
    assert message in str(refused.value)
    assert world.recorder.mutating == []


def test_a_comparison_the_registry_contradicts_is_neither_locked_nor_released(world):
    """The QA identity may update dev versions' metadata: a champion_version rewritten there
    contradicts the pinned evaluation report."""
    champion, arn = champion_and_candidate(world)
    locked = lock(world, arn)
    metadata = dict(world.describe(arn)["CustomerMetadataProperties"])
    world.update(arn, CustomerMetadataProperties={**metadata, "champion_version": "none"})
    with pytest.raises(LockError, match=f"champion_version metadata none, evaluation report {champion}"):
        lock(world, arn)
    with pytest.raises(LockError, match="contradicts itself"):
        release.verify_release(world.cfg, world.clients, locked, world.pull_request())
    world.update(arn, CustomerMetadataProperties={**metadata, "champion_metric": "0.5"})
    with pytest.raises(LockError, match=r"champion_metric metadata 0\.5, evaluation report 0\.9500"):
        lock(world, arn)
    # The report's bytes are the ones QA read (its sha256), not whatever the pin now names.
    world.update(arn, CustomerMetadataProperties={**metadata, "qa_report_sha256": "0" * 64})
    with pytest.raises(LockError, match="QA read " + "0" * 64):
        lock(world, arn)


def test_a_version_registered_before_champion_comparisons_gets_a_clear_answer(four, capsys):
    old = four.register()  # no comparison in the report, no champion metadata
    four.qa(old)
    locked = lock(four, old)
    assert locked["comparison"] is None
    # lock check: the registry agrees there is none, so the lock itself is consistent...
    release.verify_release(four.cfg, four.clients, locked, four.pull_request())
    # ...and the release pull request's check refuses it, saying what to do.
    code, values, err = check(four, capsys, locked)
    assert (code, values["verdict"]) == (1, "missing")
    assert "carries no champion comparison" in err and "re-run the dev pipeline" in err
    # Metadata that claims a comparison the report does not hold is refused outright.
    half = four.register(metadata={"champion_version": "none", "champion_metric": "none"})
    four.qa(half)
    with pytest.raises(LockError, match="its evaluation report holds no champion_comparison"):
        lock(four, half)


def test_a_candidate_that_lost_is_never_locked(four):
    champion, _ = champion_and_candidate(four)
    arn = register(four, compared(0.93, 0.95, champion))
    four.qa(arn)
    with pytest.raises(
        LockError, match=r"lost against the prod champion \(auc: candidate 0\.9300, champion 0\.9500"
    ):
        lock(four, arn)


def test_the_champion_check_passes_for_a_candidate_that_beat_the_served_champion(four, capsys):
    champion, arn = champion_and_candidate(four)
    locked = lock(four, arn)
    four.recorder.clear()
    code, values, err = check(four, capsys, locked)
    assert code == 0, err
    assert values == {
        "verdict": "passed",
        "served_champion": champion,
        "metric": "auc",
        "candidate": "0.97",
        "champion": "0.95",
        "tolerance": "0.01",
        "required": "0.94",
        "compared_with": champion,
    }
    assert four.recorder.mutating == []  # read-only


def test_the_champion_check_passes_on_the_first_release(four, capsys):
    arn = register(four, compared(0.9))
    four.qa(arn)
    code, values, err = check(four, capsys, lock(four, arn))
    assert code == 0, err
    assert (values["verdict"], values["champion"], values["served_champion"]) == ("passed", "none", "none")


def test_the_champion_check_fails_for_a_candidate_that_lost_with_both_numbers(four, capsys):
    """A lost comparison cannot be locked; a lock naming one (written by hand with the registry's
    own comparison, so every field agrees) still fails the check."""
    champion, _ = champion_and_candidate(four)
    arn = register(four, compared(0.93, 0.95, champion))
    four.qa(arn)
    value = version.read_metrics(four.clients, version.resolve(four.cfg, four.clients, arn, "dev"))
    locked = lockfile.lock_for(four.cfg, value, passing_report(), now=NOW)  # no comparison read
    locked["comparison"] = compared(0.93, 0.95, champion)
    code, values, err = check(four, capsys, locked)
    assert (code, values["verdict"]) == (1, "lost")
    [line] = err.strip().splitlines()[-1:]
    assert line.startswith("error: champion check failed for")
    assert "auc 0.9300 is below the champion's 0.9500 minus the tolerance 0.01 (required 0.9400)" in line


def test_the_champion_check_fails_when_prod_now_serves_another_champion(four, capsys):
    champion, arn = champion_and_candidate(four)
    locked = lock(four, arn)
    # Meanwhile another candidate was released: prod serves a newer champion.
    other = register(four, compared(0.96, 0.95, champion))
    four.qa(other)
    newer = release_as_champion(four, other, "2025-03-01T00:00:00Z")
    code, values, err = check(four, capsys, locked)
    assert (code, values["verdict"], values["served_champion"]) == (1, "stale", newer)
    assert f"compared with the champion {champion}, but prod now serves {newer}" in err
    assert "re-run the dev pipeline" in err


def test_the_champion_check_refuses_a_lock_whose_comparison_was_edited(four, capsys):
    """The candidate lost; a hand-made lock claims it won, arithmetic and all."""
    champion, _ = champion_and_candidate(four)
    arn = register(four, compared(0.93, 0.95, champion))
    four.qa(arn)
    value = version.read_metrics(four.clients, version.resolve(four.cfg, four.clients, arn, "dev"))
    forged = lockfile.lock_for(four.cfg, value, passing_report(), now=NOW)
    forged["comparison"] = compared(0.99, 0.95, champion)
    code, values, err = check(four, capsys, forged)
    assert (code, values) == (1, {})
    assert (
        "champion check refused" in err and "champion comparison candidate: lock 0.99, registry 0.93" in err
    )


def test_the_pull_request_comment_shows_both_numbers_the_tolerance_and_the_verdict(four):
    champion, arn = champion_and_candidate(four)
    served = version.read_metrics(four.clients, version.resolve(four.cfg, four.clients, champion, "prod"))
    markdown = compare.comparison_markdown(four.cfg, lock(four, arn), served)
    assert "### Champion check: passed" in markdown
    assert "| auc | 0.9700 | 0.9500 | 0.01 | 0.9400 | passed |" in markdown
    assert f"- compared with: `{champion}`" in markdown and f"- prod serves now: `{champion}`" in markdown
    lost = {**lock(four, arn), "comparison": compared(0.93, 0.95, champion)}
    markdown = compare.comparison_markdown(four.cfg, lost, served)
    assert "| auc | 0.9300 | 0.9500 | 0.01 | 0.9400 | **LOST** |" in markdown
    assert "the candidate lost" in markdown
    stale = compare.comparison_markdown(four.cfg, lock(four, arn), None)
    assert "### Champion check: **STALE**" in stale and "but prod now serves none" in stale


def test_a_comparison_under_another_tolerance_than_the_config_is_stale(four):
    champion, arn = champion_and_candidate(four)
    comparison = lock(four, arn)["comparison"]
    compare_champion = module("promotion.compare_champion")
    assert compare_champion.verdict(four.cfg, comparison, champion).passed
    stricter = dict(comparison, tolerance=0.0, required=0.95, passed=True)
    decided = compare_champion.verdict(four.cfg, stricter, champion)
    assert decided.status == "stale" and "config champion.tolerance is 0.01" in decided.message
