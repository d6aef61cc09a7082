"""The registry and lock commands for a set of versions (a segmented project, promotion/segments.py).

`promotion.cli` and `promotion.cli_release` hand a command here when `model.segments` is on or
`--arn` holds a comma-separated list (refused unless segments are on). Each takes and prints the
list ordered as `model.segments.values`: `arn=<arn>,<arn>`, `version=<n>,<n>`, and
`segments=<value>,<value>`; every check runs for every segment before any mutating call, and
a failure names the segment.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import cli_support
from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from . import compare, compare_champion, evidence, lifecycle, lockfile, lockset, promote, release
from .segments import join, latest_set, resolve_set, split_arns
from .version import read_metrics, resolve


def emit(args: argparse.Namespace, values: dict[str, Any]) -> None:
    cli_support.emit(values, getattr(args, "github_output", False))


def lock_file(args: argparse.Namespace, cfg: Config) -> Path:
    return Path(args.lock_file) if getattr(args, "lock_file", None) else lockfile.lock_path(cfg)


def latest(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    group = cfg.group(args.group)
    found = latest_set(cfg, clients, group, args.status, args.git_sha)
    if found is None:
        wanted = lifecycle.filter_description(args.status, args.git_sha)
        raise DeployError(f"no complete set of Completed versions{wanted} in {group}")
    emit(
        args,
        {
            "arn": join(v.arn for v in found.values()),
            "version": join(v.version for v in found.values()),
            "status": join(v.approval for v in found.values()),
            "segments": join(found),
        },
    )
    return 0


def digest(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    found = resolve_set(cfg, clients, args.arn, "dev")
    artifacts = {s: evidence.digest(clients, evidence.model_artifact_uri(v)) for s, v in found.items()}
    if args.output:
        document = {"segments": {s: a.to_dict() for s, a in artifacts.items()}}
        Path(args.output).write_text(json.dumps(document, indent=2) + "\n")
    for segment, artifact in artifacts.items():
        log(f"segment {segment}: {artifact.uri} version {artifact.version_id} sha256 {artifact.sha256}")
    emit(args, {"segments": join(artifacts), "sha256": join(a.sha256 for a in artifacts.values())})
    return 0


def samples(args: argparse.Namespace, cfg: Config, clients: Clients, download: Any) -> int:
    """`download(value, folder)` writes one version's split into `folder`; returns (written, cut)."""
    found = resolve_set(cfg, clients, args.arn, None)
    out = Path(args.output_dir)
    cut = False
    for segment, value in found.items():
        cut = download(value, out / segment)[1] or cut
    emit(args, {"samples": str(out), "segments": join(found), "truncated": str(cut).lower()})
    return 0


def record_qa(args: argparse.Namespace, cfg: Config, clients: Clients, report: Any, artifacts: Any) -> int:
    found = resolve_set(cfg, clients, args.arn, "dev")
    # Every segment's digest must be of its own artifact before the first record.
    loaded = evidence.load_set_artifacts(artifacts, found, args.artifact)
    readable = isinstance(report, dict)
    problems = []
    if readable:
        problems = lockset.tested_problems(cfg, report, found) + lockset.object_problems(report, loaded)
    if problems:
        raise DeployError(f"{args.report}: not the QA evidence of this set: " + "; ".join(problems))
    results: dict[str, str] = {}
    tested = {s: lockset.segment_report(report, s) if readable else {} for s in found}
    # A report that failed while every segment's part passed failed for all of them.
    overall = readable and (
        report.get("passed") is True or any(not lockfile.report_passed(p) for p in tested.values())
    )
    for segment, value in found.items():
        artifact = loaded[segment]
        part = tested[segment]
        passed = overall and lockfile.report_passed(part)
        summary = lockfile.summarise_report(part) if readable else "unreadable report"
        evidence.record_qa(cfg, clients, value.arn, passed, artifact, summary, args.run or "")
        results[segment] = "passed" if passed else "failed"
    emit(args, {"arn": join(v.arn for v in found.values()), "qa_result": join(results.values())})
    failed = [segment for segment, result in results.items() if result != "passed"]
    if failed:
        return cli_support.fail(f"the QA endpoint tests failed for segment {', '.join(failed)}; now Rejected")
    return 0


def approve(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    found = resolve_set(cfg, clients, args.arn, "dev")
    blocked = [
        f"segment {s} ({v.arn}) is {v.approval if v.approval == 'Rejected' else v.status}"
        for s, v in found.items()
        if v.approval == "Rejected" or v.status != "Completed"
    ]
    if blocked:
        raise DeployError("not approving any version of the set: " + "; ".join(blocked))
    done = [lifecycle.approve(cfg, clients, v.arn, args.pr, args.commit, args.actor) for v in found.values()]
    emit(args, {"arn": join(found[s].arn for s in found), "approval": done[0].approval_description})
    return 0


def stage(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    arns = split_arns(cfg, args.arn)
    changed = [
        lifecycle.record_stage(cfg, clients, a, args.stage, args.status, args.description) for a in arns
    ]
    emit(
        args,
        {
            "arn": join(arns),
            "stage": lifecycle.STAGES[args.stage],
            "changed": join(str(c).lower() for c in changed),
        },
    )
    return 0


def promotable(cfg: Config, value: Any) -> list[str]:
    """What `promote.promote` would refuse in a dev version before its first copy (empty: none)."""
    problems = []
    if value.approval != "Approved":
        problems.append(f"it is {value.approval or None}, not Approved (run approve first)")
    if value.status != "Completed":
        problems.append(f"it is {value.status or None}, not Completed")
    qa = evidence.qa_evidence(value.metadata)
    if not qa.passed or not qa.sha256:
        problems.append("it has no passed QA record in the registry")
    problems.extend(evidence.serving_problems(cfg, value))
    if qa.containers != evidence.containers_digest(value):
        problems.append("its containers changed after QA tested them")
    return problems


def promote_set(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    found = resolve_set(cfg, clients, args.arn, "dev")
    expected = split_arns(cfg, args.expect_sha256, "--expect-sha256") if args.expect_sha256 else []
    if expected and len(expected) != len(found):
        raise DeployError(f"--expect-sha256 names {len(expected)} checksums for {len(found)} segments")
    # Every segment's evidence is checked before the first copy or registration.
    for segment, value in found.items():
        problems = promotable(cfg, value)
        if problems:
            raise DeployError(f"not promoting segment {segment} ({value.arn}): " + "; ".join(problems))
    results = [
        promote.promote(cfg, clients, value.arn, expected[i] if expected else None)
        for i, value in enumerate(found.values())
    ]
    emit(
        args,
        {
            "arn": join(arn for arn, _ in results),
            "version": join(arn.rsplit("/", 1)[1] for arn, _ in results),
            "created": join(str(created).lower() for _, created in results),
            "segments": join(found),
        },
    )
    return 0


def released(args: argparse.Namespace, cfg: Config, clients: Clients, when: str) -> int:
    found = resolve_set(cfg, clients, args.arn, "prod")
    for value in found.values():
        lifecycle.record_release(cfg, clients, value.arn, args.commit, args.pr, when)
    emit(args, {"arn": join(v.arn for v in found.values()), "released_at": when})
    return 0


def reject(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    """Every listed version is rejected (no set check: rejecting never serves anything)."""
    arns = split_arns(cfg, args.arn)
    changed = [lifecycle.reject(cfg, clients, arn, args.reason) for arn in arns]
    emit(args, {"arn": join(arns), "changed": join(str(c).lower() for c in changed)})
    return 0


def lock_write(args: argparse.Namespace, cfg: Config, clients: Clients, qa_report: Any) -> int:
    found = resolve_set(cfg, clients, args.arn, "dev")
    resolved = {s: read_metrics(clients, v) for s, v in found.items()}
    lock = lockset.build_set(cfg, resolved, qa_report, args.git_sha, clients=clients)
    path = lock_file(args, cfg)
    lockfile.write_lock(path, lock)
    log(f"wrote {path}: the set of segments {join(found)}")
    entries = lock["segments"]
    emit(
        args,
        {
            "lock_file": path,
            "arn": join(e["model_package_arn"] for e in entries.values()),
            "version": join(e["version"] for e in entries.values()),
        },
    )
    return 0


def set_values(lock: dict[str, Any]) -> dict[str, Any]:
    entries = lock["segments"]
    return {
        "arn": join(e["model_package_arn"] for e in entries.values()),
        "version": join(e["version"] for e in entries.values()),
        "sha256": join(e["artifact"]["sha256"] for e in entries.values()),
        "segments": join(entries),
    }


def lock_verify(args: argparse.Namespace, cfg: Config, lock: dict[str, Any]) -> int:
    log(f"lock OK: the set of segments {join(lock['segments'])}")
    first = next(iter(lock["segments"].values()))
    values = set_values(lock)
    emit(
        args,
        {
            "arn": values["arn"],
            "version": values["version"],
            "git_sha": first["git_sha"],
            "sha256": values["sha256"],
            "segments": values["segments"],
        },
    )
    return 0


def lock_check(args: argparse.Namespace, cfg: Config, clients: Clients, lock: dict[str, Any], pr: Any) -> int:
    lockset.verify_set(cfg, clients, lock, pr, check_provenance=args.pr is not None)
    values = set_values(lock)
    emit(
        args,
        {
            "arn": values["arn"],
            "version": values["version"],
            "sha256": values["sha256"],
            "pull_request": pr.number if pr else "none",
            "segments": values["segments"],
        },
    )
    return 0


def lock_champion(args: argparse.Namespace, cfg: Config, clients: Clients, lock: dict[str, Any]) -> int:
    """Each segment's candidate against the champion prod serves for that segment; all must pass."""
    verdicts: dict[str, Any] = {}
    served: dict[str, str] = {}
    for segment, entry in lock["segments"].items():
        value = read_metrics(clients, resolve(cfg, clients, lockfile.locked_ref(cfg, entry)), strict=True)
        problems = release.comparison_problems(cfg, clients, entry, value)
        if problems:
            raise lockfile.LockError(
                f"champion check refused for segment {segment} ({value.arn}): " + "; ".join(problems)
            )
        champion = lifecycle.champion_version(cfg, clients, segment)
        served[segment] = champion.arn if champion else compare_champion.NONE
        verdicts[segment] = compare_champion.verdict(cfg, entry.get("comparison"), served[segment])
    emit(
        args,
        {
            "verdict": join(v.status for v in verdicts.values()),
            "served_champion": join(served.values()),
            "segments": join(verdicts),
        },
    )
    failed = {segment: v for segment, v in verdicts.items() if not v.passed}
    if failed:
        return cli_support.fail(
            "champion check failed for " + "; ".join(f"segment {s}: {v.message}" for s, v in failed.items())
        )
    for segment, v in verdicts.items():
        log(f"champion check passed for segment {segment}: {v.message}")
    return 0


def compare_markdown(cfg: Config, clients: Clients, lock: dict[str, Any]) -> str:
    parts = []
    for segment, entry in lock["segments"].items():
        body = compare.comparison_markdown(cfg, entry, compare.champion(cfg, clients, segment))
        parts.append(body.replace("## Release candidate:", f"## Segment {segment}: release candidate:", 1))
    return "\n".join(parts)
