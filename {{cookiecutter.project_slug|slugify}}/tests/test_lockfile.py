"""model.lock.json: built only from a passed QA run, validated on read with one clear line."""

from __future__ import annotations

import json

import pytest

from deploy_helpers import NOW, make_config, module, package_arn, passing_report

lockfile = module("promotion.lockfile")
evidence = module("promotion.evidence")
LockError = lockfile.LockError
SHA = "ab" * 32
CONTAINERS = "cd" * 32
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def artifact(cfg):
    return evidence.Artifact(f"s3://{cfg.names.artifact_bucket}/m-dev/x/model.tar.gz", "v1", SHA)


@pytest.fixture(params=["baked", "four", "single"])
def cfg(request):
    return make_config(request.param)


def comparison(cfg, **changes):
    """A champion comparison as the pipeline's Evaluate step writes it (prod version 3 the champion)."""
    return {
        "metric": "auc",
        "candidate": 0.97,
        "champion": 0.95,
        "champion_version": package_arn(cfg, "prod", 3),
        "tolerance": 0.01,
        "required": 0.94,
        "passed": True,
        **changes,
    }


def good_lock(cfg):
    return lockfile.build_lock(
        cfg,
        package_arn(cfg, "dev", 12),
        "0123abc",
        {"auc": 0.97, "f1": 0.9},
        passing_report(),
        artifact(cfg),
        [IMAGE],
        CONTAINERS,
        now=NOW,
        comparison=comparison(cfg),
    )


def test_build_write_and_read_round_trip(cfg, tmp_path):
    lock = good_lock(cfg)
    assert lock == {
        "model_package_arn": package_arn(cfg, "dev", 12),
        "version": 12,
        "git_sha": "0123abc",
        "metrics": {"auc": 0.97, "f1": 0.9},
        "qa_test": {
            "passed": True,
            "summary": "1/1 checks passed; p50 12.0 ms, p95 30.0 ms, error rate 0.0% over 50 requests",
            "endpoint": cfg.environment("qa").endpoint_name,
        },
        "artifact": {"uri": artifact(cfg).uri, "version_id": "v1", "sha256": SHA},
        "containers_sha256": CONTAINERS,
        "images": [IMAGE],
        "created_at": "2025-01-31T12:00:00Z",
        "comparison": comparison(cfg),
    }
    path = tmp_path / "model.lock.json"
    lockfile.write_lock(path, lock)
    assert lockfile.read_lock(cfg, path) == lock
    assert path.read_text().endswith("}\n")


def test_a_lock_from_before_champion_comparisons_reads_as_none(cfg, tmp_path):
    """A lock file written before the comparison existed has no key: read as null (the release
    pull request's champion check then asks for a new dev pipeline run)."""
    lock = good_lock(cfg)
    del lock["comparison"]
    path = tmp_path / "model.lock.json"
    lockfile.write_lock(path, lock)
    assert lockfile.read_lock(cfg, path).get("comparison") is None


def test_a_lost_candidate_is_never_locked(cfg):
    lost = comparison(cfg, candidate=0.9, passed=False)
    with pytest.raises(
        LockError, match=r"lost against the prod champion \(auc: candidate 0\.9000, champion 0\.9500"
    ):
        lockfile.build_lock(
            cfg,
            package_arn(cfg, "dev", 1),
            "0123abc",
            {"auc": 0.9},
            passing_report(),
            artifact(cfg),
            [IMAGE],
            CONTAINERS,
            now=NOW,
            comparison=lost,
        )


def test_a_failed_qa_run_is_never_locked(cfg):
    report = {**passing_report(), "passed": False, "checks": [{"name": "latency p95", "passed": False}]}
    with pytest.raises(LockError, match=r"did not pass \(0/1 checks passed.*failed: latency p95\)"):
        lockfile.build_lock(
            cfg,
            package_arn(cfg, "dev", 1),
            "0123abc",
            {},
            report,
            artifact(cfg),
            [IMAGE],
            CONTAINERS,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lock, cfg: lock.pop("git_sha"), "missing 'git_sha'"),
        (lambda lock, cfg: lock.update(version="12"), "'version' must be int, got str"),
        (lambda lock, cfg: lock.update(version=True), "'version' must be int, got bool"),
        (lambda lock, cfg: lock.update(extra=1), "unknown keys extra"),
        (
            lambda lock, cfg: lock.update(
                model_package_arn=package_arn(cfg, "dev", 12).replace(
                    f":{cfg.account_id('shared_services')}:", ":999999999999:"
                )
            ),
            "is in account 999999999999, not the shared-services registry",
        ),
        (
            lambda lock, cfg: lock.update(
                model_package_arn=package_arn(cfg, "dev", 12).replace(cfg.region, "ap-south-2")
            ),
            "is in region ap-south-2",
        ),
        (
            lambda lock, cfg: lock.update(model_package_arn=package_arn(cfg, "prod", 12)),
            "expected the dev group",
        ),
        (
            lambda lock, cfg: lock.update(model_package_arn=package_arn(cfg, "feature", 12)),
            "expected the dev group",
        ),
        (
            lambda lock, cfg: lock.update(model_package_arn="arn:aws:s3:::bucket/key"),
            "not a versioned model package",
        ),
        (lambda lock, cfg: lock.update(version=11), "version 11 does not match the ARN's version 12"),
        (lambda lock, cfg: lock.update(git_sha="main"), "git_sha 'main' is not a commit SHA"),
        (lambda lock, cfg: lock["metrics"].update(auc="high"), "metric 'auc' must be a number"),
        (lambda lock, cfg: lock["qa_test"].pop("summary"), "qa_test needs 'passed'"),
        (lambda lock, cfg: lock.update(created_at="yesterday"), "is not an ISO-8601 UTC time"),
        (lambda lock, cfg: lock.pop("artifact"), "missing 'artifact'"),
        (lambda lock, cfg: lock["artifact"].update(sha256="abc"), "sha256 'abc' is not 64 lowercase hex"),
        (lambda lock, cfg: lock["artifact"].pop("version_id"), "artifact: expected an object with uri"),
        (lambda lock, cfg: lock["artifact"].update(uri="model.tar.gz"), "is not an s3://bucket/key URI"),
        (lambda lock, cfg: lock.update(images=[]), "images must be a non-empty list"),
        (lambda lock, cfg: lock.update(containers_sha256="x"), "containers_sha256 'x' is not 64"),
        (lambda lock, cfg: lock["qa_test"].update(passed=False), "only QA-verified versions may be released"),
        (
            lambda lock, cfg: lock["comparison"].pop("tolerance"),
            "comparison: expected an object with exactly",
        ),
        (lambda lock, cfg: lock["comparison"].update(candidate="0.99"), "candidate must be a finite number"),
        (lambda lock, cfg: lock["comparison"].update(champion=None), "champion must be a finite number"),
        (
            lambda lock, cfg: lock["comparison"].update(champion_version=package_arn(cfg, "dev", 3)),
            "champion_version: .* expected the prod group",
        ),
        (lambda lock, cfg: lock["comparison"].update(tolerance=-0.5), "tolerance -0.5 is negative"),
        # Lowered requirement or a flipped verdict: the arithmetic no longer holds.
        (
            lambda lock, cfg: lock["comparison"].update(required=0.5),
            "required 0.5 is not champion - tolerance",
        ),
        (
            lambda lock, cfg: lock["comparison"].update(candidate=0.5),
            "passed is true but the candidate 0.5 is below the required 0.94",
        ),
        (
            lambda lock, cfg: lock["comparison"].update(champion_version="none"),
            "champion must be null when champion_version is 'none'",
        ),
    ],
)
def test_read_rejects_a_bad_lock_with_one_line(cfg, tmp_path, change, message):
    lock = good_lock(cfg)
    change(lock, cfg)
    path = tmp_path / "model.lock.json"
    path.write_text(json.dumps(lock))
    with pytest.raises(LockError, match=message) as caught:
        lockfile.read_lock(cfg, path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_a_key_written_twice_is_refused(cfg, tmp_path):
    """json.loads keeps the last of two equal keys: a reviewer could read one ARN, the release another."""
    lock = good_lock(cfg)
    text = json.dumps(lock, indent=2)
    other = package_arn(cfg, "dev", 13)
    twice = text.replace('"version": 12,', f'"version": 12,\n  "model_package_arn": "{other}",', 1)
    path = tmp_path / "model.lock.json"
    path.write_text(twice)
    with pytest.raises(LockError, match="the key 'model_package_arn' appears twice"):
        lockfile.read_lock(cfg, path)


def test_read_reports_missing_and_broken_files(cfg, tmp_path):
    with pytest.raises(LockError, match="no lock file; the dev branch writes it"):
        lockfile.read_lock(cfg, tmp_path / "absent.json")
    broken = tmp_path / "model.lock.json"
    broken.write_text('{"model_package_arn": ')
    with pytest.raises(LockError, match="not valid JSON"):
        lockfile.read_lock(cfg, broken)
    broken.write_text("[]")
    with pytest.raises(LockError, match="expected a JSON object"):
        lockfile.read_lock(cfg, broken)


def test_lock_path_follows_the_config_file(tmp_path, monkeypatch):
    cfg = make_config()
    monkeypatch.setenv("MLOPS_CONFIG", str(tmp_path / "config" / "project.json"))
    assert lockfile.lock_path(cfg) == tmp_path / cfg.lock_file
