"""Release verification: the lock is a claim; the registry and the artifact bytes are the evidence.

`verify_release` runs before any mutating call of a release (and, read-only, on the release
pull request). It refuses, naming every mismatch in one line, unless:

- the lock names a Completed, not Rejected version of the dev group in the shared-services
  registry (`lockfile.validate` checks the ARN);
- the registry holds a passed QA record for that version (`evidence.record_qa`), for the same
  artifact version and sha256 the lock names;
- git SHA, metrics, image URIs and artifact URI are equal between lock and registry;
- the artifact version still exists and its bytes hash to that sha256;
- the lock's champion comparison is the one the version's evaluation report holds (the object
  version QA read) and its customer metadata repeat (`compare_champion`), field by field; the
  release pull request's champion check decides on it (`lock champion`);
- the container definitions are the ones QA tested (their digest) and serve nothing the
  checksums do not cover (`evidence.serving_problems`);
- the lock change reached the prod branch through a pull request of this repository from its
  dev branch; or, from another branch of this repository or with no pull request (a revert,
  reviewed or pushed by someone allowed to bypass the branch ruleset), the version served prod
  before (a prod version promoted from it carries `released_at`: evidence only the prod
  identity writes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from .compare_champion import ComparisonError, mismatches, registered_comparison
from .evidence import (
    containers_digest,
    digest,
    load_artifact,
    model_artifact_uri,
    qa_evidence,
    serving_problems,
)
from .lockfile import LockError, locked_ref
from .promote import DECISION_KEYS, RELEASE_METADATA_ENTRIES, copied_metadata, find_promoted
from .segments import single_version_problem
from .version import ModelVersion, read_metrics, resolve


@dataclass(frozen=True)
class PullRequest:
    """The merged pull request a release commit came from (number, head and base branches, and
    the repository its head branch lives in)."""

    number: str
    head: str
    base: str
    head_repository: str = ""
    repository: str = ""


def _metrics_differ(locked: dict[str, Any], registered: dict[str, float]) -> list[str]:
    problems = []
    for name in sorted(set(locked) | set(registered)):
        if name not in registered:
            problems.append(f"metric {name} is in the lock but not in the registry")
        elif name not in locked:
            problems.append(f"metric {name} is in the registry but not in the lock")
        elif not math.isclose(float(locked[name]), registered[name], rel_tol=1e-9, abs_tol=1e-12):
            problems.append(f"metric {name}: lock {locked[name]}, registry {registered[name]}")
    return problems


def evidence_mismatches(cfg: Config, lock: dict[str, Any], version: ModelVersion) -> list[str]:
    """Every field on which the lock and the registry disagree (empty when they agree)."""
    problems = list(serving_problems(cfg, version))
    if version.status != "Completed":
        problems.append(f"the version is {version.status or 'not Completed'}")
    if version.approval == "Rejected":
        problems.append("the version is Rejected")
    qa = qa_evidence(version.metadata)
    artifact = load_artifact(lock["artifact"], "lock artifact")
    if not qa.passed:
        problems.append(f"the registry records no passed QA for it (qa_result: {qa.result or 'none'})")
    if qa.sha256 != artifact.sha256:
        problems.append(f"QA tested sha256 {qa.sha256 or 'none'}, the lock says {artifact.sha256}")
    current = containers_digest(version)
    if qa.containers != current or lock["containers_sha256"] != current:
        problems.append(
            f"the containers now hash to {current}; QA tested {qa.containers or 'none'}, "
            f"the lock says {lock['containers_sha256']}"
        )
    copied = len(copied_metadata(version.metadata))
    if copied + RELEASE_METADATA_ENTRIES > 50:
        problems.append(
            f"the version has {copied} customer metadata entries to carry to prod; the release adds "
            f"{RELEASE_METADATA_ENTRIES} and SageMaker allows 50"
        )
    if (qa.version_id or "") != artifact.version_id:
        problems.append(
            f"QA tested object version {qa.version_id or 'none'}, the lock says {artifact.version_id}"
        )
    if version.git_sha != lock["git_sha"]:
        problems.append(f"git SHA: lock {lock['git_sha']}, registry {version.git_sha or 'none'}")
    problems.extend(_metrics_differ(lock["metrics"], dict(version.metrics or {})))
    if list(version.images) != list(lock["images"]):
        problems.append(f"images: lock {lock['images']}, registry {list(version.images)}")
    if list(version.model_data_urls) != [artifact.uri]:
        problems.append(f"artifact: lock {artifact.uri}, registry {list(version.model_data_urls)}")
    if lock["qa_test"].get("passed") is not True:
        problems.append("the lock's qa_test.passed is not true")
    return problems


def verify_release(
    cfg: Config,
    clients: Clients,
    lock: dict[str, Any],
    pull_request: PullRequest | None,
    check_provenance: bool = True,
) -> ModelVersion:
    """Check the lock against the registry, the artifact and the pull request; read-only.

    It returns the dev version (metrics read) or raises LockError naming every mismatch.
    """
    ref = locked_ref(cfg, lock)
    version = read_metrics(clients, resolve(cfg, clients, ref), strict=True)
    problems = evidence_mismatches(cfg, lock, version)
    if single_version_problem(cfg, version):
        problems.append(single_version_problem(cfg, version))
    if not problems:
        artifact = load_artifact(lock["artifact"], "lock artifact")
        actual = digest(clients, model_artifact_uri(version), artifact.version_id or None)
        if actual.sha256 != artifact.sha256:
            problems.append(
                f"the artifact {artifact.uri} (version {artifact.version_id}) now has sha256 "
                f"{actual.sha256}, the lock says {artifact.sha256}"
            )
    problems.extend(comparison_problems(cfg, clients, lock, version))
    if check_provenance:
        released = released_from(cfg, clients, version)
        problems.extend(provenance_problems(cfg, version, pull_request, released))
    if problems:
        raise LockError(f"release refused for {ref.arn}: " + "; ".join(problems))
    log(f"release verified: {ref.arn} (QA passed on sha256 {lock['artifact']['sha256']})")
    return version


def comparison_problems(
    cfg: Config, clients: Clients, lock: dict[str, Any], version: ModelVersion
) -> list[str]:
    """Where the lock's champion comparison differs from the registry's (empty: they agree)."""
    try:
        registered = registered_comparison(cfg, clients, version)
    except ComparisonError as exc:
        return [str(exc)]
    return mismatches(lock.get("comparison"), registered)


def released_from(cfg: Config, clients: Clients, version: ModelVersion) -> ModelVersion | None:
    """The prod version promoted from `version` that served prod (`released_at`), not Rejected;
    only the prod registry identity writes the prod group, so this is evidence a revert can use."""
    promoted = find_promoted(clients, cfg.group("prod"), version.arn)
    if promoted and promoted.approval == "Approved" and promoted.metadata.get("released_at"):
        return promoted
    return None


def provenance_problems(
    cfg: Config,
    version: ModelVersion,
    pull_request: PullRequest | None,
    released: ModelVersion | None = None,
) -> list[str]:
    """Why the way the lock reached the prod branch does not allow this release (empty: it does)."""
    branches = cfg.branches
    if pull_request is None:
        if released is None:
            return [
                "no pull request merged this commit, and the version never served prod: a version "
                f"reaches prod for the first time only through a pull request from {branches.dev} "
                f"to {branches.prod} (a revert without a pull request may only name a released version)"
            ]
        return []
    problems = []
    if pull_request.head_repository != pull_request.repository:
        problems.append(
            f"pull request #{pull_request.number} came from "
            f"{pull_request.head_repository or 'an unknown repository'}, "
            f"not {pull_request.repository or 'this repository'}"
        )
    if pull_request.head != branches.dev and released is None:
        # From another branch, a pull request is a revert: it may only name a released version.
        problems.append(
            f"pull request #{pull_request.number} came from {pull_request.head!r}, not {branches.dev!r}, "
            "and names a version that never served prod (a revert may only name a released version)"
        )
    if pull_request.base != branches.prod:
        problems.append(
            f"pull request #{pull_request.number} was merged into {pull_request.base!r}, "
            f"not {branches.prod!r}"
        )
    return problems


def parse_pull_request(
    number: str, head: str | None, base: str | None, head_repository: str | None, repository: str | None
) -> PullRequest | None:
    """`--pr none` means no pull request; a number needs its head and base branches and the
    repositories of its head and of this run."""
    if number == "none":
        return None
    number = number.lstrip("#")
    if not number.isdigit() or not head or not base or not head_repository or not repository:
        raise DeployError(
            f"pull request {number!r}: expected a number with --pr-head, --pr-base, "
            "--pr-head-repository and --repository, or 'none'"
        )
    return PullRequest(number, head, base, head_repository, repository)


__all__ = [
    "DECISION_KEYS",
    "LockError",
    "PullRequest",
    "comparison_problems",
    "evidence_mismatches",
    "parse_pull_request",
    "verify_release",
]
