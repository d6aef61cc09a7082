"""The evidence and release commands of the registry CLI (`promotion.cli` adds them).

- `registry digest` (QA registry role): hash the artifact a dev version serves; JSON out.
- `registry samples` (QA registry role): download the held-out test split a version's pipeline
  execution wrote (customer metadata `test_data_uri`), the labelled rows the QA endpoint tests send.
- `registry record-qa` (QA registry role): record the QA result on the version; a failed
  result rejects it and the command exits 1.
- `lock check` (QA or prod registry role, read-only): the lock against the registry, the
  artifact bytes and, with `--pr`, the pull request that merged it.
- `lock champion --env prod` (QA or prod registry role, read-only): the release pull request's
  required check. The lock's champion comparison must be the registry's (as in `lock check`);
  it fails when the candidate lost (candidate < champion - tolerance), and when the champion it
  was compared with is no longer the one prod serves (`lifecycle.champion_version`) or the
  config now names another metric or tolerance: then the dev pipeline has to run again.
- `registry released` / `registry reject` (prod registry role): after the smoke test, or when
  the prod deploy or smoke test failed.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .. import cli_support
from ..config import Config
from ..deploy.aws import Clients, DeployError, error_code, error_message, log, require_account
from . import cli_sets, compare_champion, evidence, lifecycle, lockfile, release, segments
from .version import read_metrics, resolve

# Customer metadata the pipeline's Register step writes: the folder of the execution's held-out
# test split (test.csv, schema.json), s3://<bucket>/<pipeline>/<execution id>/Preprocess/test.
TEST_DATA_KEY = "test_data_uri"
SPLIT_FILES = ("test.csv", "schema.json")
# The samples the suite sends are the first rows: a larger split is cut at a line end.
MAX_SAMPLE_BYTES = 8 * 1024 * 1024


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DeployError(f"cannot read the {what} {path}: {exc}") from exc


def cmd_digest(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "registry digest")
    if segments.is_set(cfg, args.arn):
        return cli_sets.digest(args, cfg, clients)
    value = resolve(cfg, clients, args.arn, "dev")
    artifact = evidence.digest(clients, evidence.model_artifact_uri(value))
    if args.output:
        Path(args.output).write_text(json.dumps(artifact.to_dict(), indent=2) + "\n")
    log(f"{value.arn}: {artifact.uri} version {artifact.version_id} sha256 {artifact.sha256}")
    cli_support.emit(artifact.to_dict(), args.github_output)
    return 0


def _read_object(clients: Clients, uri: str, max_bytes: int) -> tuple[bytes, bool] | None:
    """The first max_bytes of an object (cut after its last full line) and whether it was cut;
    None when there is no such object."""
    bucket, key = evidence.split_uri(uri)
    try:
        response = clients("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None
        if error_code(exc) == "InvalidRange":  # an empty object
            return b"", False
        raise DeployError(f"cannot read {uri}: {error_message(exc)}") from exc
    body = response["Body"].read()
    total = str(response.get("ContentRange") or "").rpartition("/")[2]
    cut = total.isdigit() and int(total) > len(body)
    return (body[: body.rfind(b"\n") + 1] if cut else body), cut


def cmd_samples(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "registry samples")
    if segments.is_set(cfg, args.arn):
        return cli_sets.samples(args, cfg, clients, lambda value, out: download_split(clients, value, out))
    value = resolve(cfg, clients, args.arn)
    written, cut = download_split(clients, value, Path(args.output_dir))
    cli_support.emit(
        {
            "samples": written[SPLIT_FILES[0]],
            "schema": written.get("schema.json", ""),
            TEST_DATA_KEY: str(value.metadata.get(TEST_DATA_KEY) or "").rstrip("/"),
            "truncated": str(cut).lower(),
        },
        args.github_output,
    )
    return 0


def download_split(clients: Clients, value: Any, out: Path) -> tuple[dict[str, str], bool]:
    """Write a version's held-out test split into `out`; (file name -> path, whether cut)."""
    folder = str(value.metadata.get(TEST_DATA_KEY) or "").rstrip("/")
    if not folder.startswith("s3://"):
        raise DeployError(
            f"{value.arn} has no {TEST_DATA_KEY} customer metadata naming its held-out test split"
            " (registered by a pipeline that did not record it); run the pipeline again to register"
            " a version that has it"
        )
    written: dict[str, str] = {}
    cut = False
    for name in SPLIT_FILES:
        got = _read_object(clients, f"{folder}/{name}", MAX_SAMPLE_BYTES)
        if got is None:
            if name == SPLIT_FILES[0]:
                raise DeployError(f"no {name} in {folder}, the held-out test split {value.arn} names")
            continue
        body, was_cut = got
        cut = cut or was_cut
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(body)
        written[name] = str(out / name)
    note = f" (the first {MAX_SAMPLE_BYTES // (1024 * 1024)} MiB)" if cut else ""
    log(f"{value.arn}: held-out test split {folder} -> {', '.join(written.values())}{note}")
    return written, cut


def cmd_record_qa(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "registry record-qa")
    report = _read_json(args.report, "QA report")
    if segments.is_set(cfg, args.arn):
        return cli_sets.record_qa(args, cfg, clients, report, _read_json(args.artifact, "artifact digest"))
    artifact = evidence.load_artifact(_read_json(args.artifact, "artifact digest"), args.artifact)
    passed = lockfile.report_passed(report)
    summary = lockfile.summarise_report(report) if isinstance(report, dict) else "unreadable report"
    evidence.record_qa(cfg, clients, args.arn, passed, artifact, summary, args.run or "")
    cli_support.emit({"arn": args.arn, "qa_result": "passed" if passed else "failed"}, args.github_output)
    if not passed:
        return cli_support.fail(f"the QA endpoint tests failed ({summary}); {args.arn} is now Rejected")
    return 0


def cmd_lock_check(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    lock = lockfile.read_lock(cfg, Path(args.lock_file) if args.lock_file else lockfile.lock_path(cfg))
    require_account(clients, cfg, "shared_services", "lock check")
    pull_request = None
    if args.pr is not None:
        pull_request = release.parse_pull_request(
            args.pr, args.pr_head, args.pr_base, args.pr_head_repository, args.repository
        )
    else:
        log("no --pr given: the pull request the lock came through is not checked")
    if "segments" in lock:
        return cli_sets.lock_check(args, cfg, clients, lock, pull_request)
    release.verify_release(cfg, clients, lock, pull_request, check_provenance=args.pr is not None)
    cli_support.emit(
        {
            "arn": lock["model_package_arn"],
            "version": lock["version"],
            "sha256": lock["artifact"]["sha256"],
            "pull_request": pull_request.number if pull_request else "none",
        },
        args.github_output,
    )
    return 0


def cmd_champion(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    lock = lockfile.read_lock(cfg, Path(args.lock_file) if args.lock_file else lockfile.lock_path(cfg))
    require_account(clients, cfg, "shared_services", "lock champion")
    if "segments" in lock:
        return cli_sets.lock_champion(args, cfg, clients, lock)
    version = read_metrics(clients, resolve(cfg, clients, lockfile.locked_ref(cfg, lock)), strict=True)
    problems = release.comparison_problems(cfg, clients, lock, version)
    if problems:
        raise lockfile.LockError(f"champion check refused for {version.arn}: " + "; ".join(problems))
    comparison = lock.get("comparison")
    served = lifecycle.champion_version(cfg, clients)
    served_arn = served.arn if served else compare_champion.NONE
    verdict = compare_champion.verdict(cfg, comparison, served_arn)
    values: dict[str, Any] = {"verdict": verdict.status, "served_champion": served_arn}
    if comparison is not None:
        values.update(
            {
                "metric": comparison["metric"],
                "candidate": comparison["candidate"],
                "champion": comparison["champion"] if comparison["champion"] is not None else "none",
                "tolerance": comparison["tolerance"],
                "required": comparison["required"],
                "compared_with": comparison["champion_version"],
            }
        )
    cli_support.emit(values, args.github_output)
    if not verdict.passed:
        return cli_support.fail(f"champion check failed for {version.arn}: {verdict.message}")
    log(f"champion check passed for {version.arn}: {verdict.message}")
    return 0


def cmd_released(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "registry released")
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if segments.is_set(cfg, args.arn):
        return cli_sets.released(args, cfg, clients, when)
    lifecycle.record_release(cfg, clients, args.arn, args.commit, args.pr, when)
    cli_support.emit({"arn": args.arn, "released_at": when}, args.github_output)
    return 0


def cmd_reject(args: argparse.Namespace, cfg: Config, clients: Clients) -> int:
    require_account(clients, cfg, "shared_services", "registry reject")
    if segments.is_set(cfg, args.arn):
        return cli_sets.reject(args, cfg, clients)
    changed = lifecycle.reject(cfg, clients, args.arn, args.reason)
    cli_support.emit({"arn": args.arn, "changed": str(changed).lower()}, args.github_output)
    return 0


def add_commands(command: Any, lock_actions: Any) -> None:
    """Add these commands with `promotion.cli`'s `command(name, handler, help, outputs, parent)`."""
    sub = command("digest", cmd_digest, "Hash the model artifact a dev version serves (JSON).")
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument("--output", help="also write the JSON here (for record-qa --artifact)")
    sub = command(
        "samples", cmd_samples, "Download the held-out test split a version was evaluated on (QA samples)."
    )
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument(
        "--output-dir", required=True, help="folder for test.csv (and schema.json): endpoint-test --samples"
    )
    sub = command("record-qa", cmd_record_qa, "Record the QA result on a dev version; failed = Rejected.")
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument("--report", required=True, help="report JSON of `endpoint-test --report`")
    sub.add_argument("--artifact", required=True, help="JSON of `registry digest --output`")
    sub.add_argument("--run", help="the run that tested it (e.g. a workflow run URL or ID)")
    sub = command("released", cmd_released, "Record that a prod version now serves prod (champion).")
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument("--commit", required=True, help="the released commit SHA")
    sub.add_argument("--pr", required=True, help="pull request number, or 'none'")
    sub = command("reject", cmd_reject, "Reject a version (a failed prod deploy or smoke test).")
    sub.add_argument("--arn", required=True, help=segments.ARN_HELP)
    sub.add_argument("--reason", required=True)
    checked = command(
        "check",
        cmd_lock_check,
        "Check the lock against the registry, the artifact and the pull request (read-only).",
        parent=lock_actions,
    )
    checked.add_argument("--lock-file", help="default: <repo>/<lock_file from config>")
    checked.add_argument("--pr", help="the merged pull request's number, or 'none' (a push without one)")
    checked.add_argument("--pr-head", help="the pull request's head branch")
    checked.add_argument("--pr-base", help="the pull request's base branch")
    checked.add_argument("--pr-head-repository", help="owner/name of the repository of the head branch")
    checked.add_argument(
        "--repository",
        default=os.environ.get("GITHUB_REPOSITORY"),
        help="owner/name of this repository (default $GITHUB_REPOSITORY)",
    )
    champion = command(
        "champion",
        cmd_champion,
        "Fail unless the locked candidate beat the champion prod serves now (read-only).",
        parent=lock_actions,
    )
    champion.add_argument(
        "--env", required=True, choices=("prod",), help="the environment whose champion it must beat"
    )
    champion.add_argument("--lock-file", help="default: <repo>/<lock_file from config>")
