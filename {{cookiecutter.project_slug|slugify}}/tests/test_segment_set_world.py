"""A segmented release world on moto (helpers for the test_segment_set_* tests; no tests here).

A segmented project (`model.segments`) registers one dev version per segment value in one
pipeline run: customer metadata `segment`, `segment_column` and `segment_set` (the execution id).
`SetWorld.register_set` does what such a run leaves in the registry, with a real artifact, an
evaluation report holding the champion comparison and a held-out test split per segment.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from deploy_helpers import NOW, Accounts, Recorder, make_config, make_raw, module, passing_report
from release_world import GIT_SHA, World, evidence, lifecycle, lockfile, promote, version

config = module("config")
cli = module("promotion.cli")
lockset = module("promotion.lockset")
segments = module("promotion.segments")
COLUMN = "region"
VALUES = ("north", "south", "west")
COMMIT = "c" * 40
TEST_CSV = b"churn,age\n1,30\n0,40\n"


def segmented_raw(layout: str = "four", values: tuple[str, ...] = VALUES) -> dict[str, Any]:
    """The config document of a segmented project (QA and prod serve multi-model endpoints)."""
    raw = make_raw(layout)
    raw["model"]["segments"] = {"column": COLUMN, "values": list(values)}
    multi = copy.deepcopy(raw)
    for env in ("qa", "prod"):
        multi["environments"][env]["endpoint"]["type"] = "multi-model"
    try:
        config.parse(multi)
        return multi
    except config.ConfigError:
        return raw  # an endpoint type the config does not know yet


def compared(candidate: float, champion: float | None = None, champion_arn: str = "none") -> dict[str, Any]:
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


class SetWorld(World):
    executions = 0

    def register_segment(
        self,
        segment: str,
        execution: str,
        comparison: dict[str, Any] | None = None,
        git_sha: str = GIT_SHA,
        column: str = COLUMN,
        **extra: str,
    ) -> str:
        comparison = comparison or compared(0.97)
        champion = comparison["champion"]
        split = f"s3://{self.bucket}/{self.cfg.names.artifact_prefixes['dev']}{execution}/Preprocess/test/{segment}"
        self.put(f"{split.split('/', 3)[3]}/test.csv", TEST_CSV + segment.encode() + b"\n")
        metadata = {
            "segment": segment,
            "segment_column": column,
            "segment_set": execution,
            "pipeline_execution_id": execution,
            "test_data_uri": split,
            "champion_version": comparison["champion_version"],
            "champion_metric": "none" if champion is None else str(champion),
            **extra,
        }
        arn = self.register(
            metrics={"auc": comparison["candidate"], "accuracy": 0.9},
            body=f"model of {segment} in {execution}".encode(),
            git_sha=git_sha,
            metadata=metadata,
        )
        uri = self.describe(arn)["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        report = json.loads(self.read(uri))
        report["champion_comparison"] = comparison
        self.put(evidence.split_uri(uri)[1], json.dumps(report).encode())
        return arn

    def register_set(
        self,
        values: tuple[str, ...] = VALUES,
        comparisons: dict[str, dict[str, Any]] | None = None,
        git_sha: str = GIT_SHA,
    ) -> dict[str, str]:
        """One segmented pipeline run: {segment: dev ARN}, registered in the order given."""
        SetWorld.executions += 1
        execution = f"execution-{SetWorld.executions:04d}"
        return {s: self.register_segment(s, execution, (comparisons or {}).get(s), git_sha) for s in values}

    def register_set_qa(self, **kwargs: Any) -> dict[str, str]:
        """`register_set`, then QA passed for every segment."""
        arns = self.register_set(**kwargs)
        self.qa_set(arns)
        return arns

    def qa_set(self, arns: dict[str, str]) -> None:
        for arn in arns.values():
            self.qa(arn)

    def resolved(self, arns: dict[str, str]) -> dict[str, Any]:
        return {
            s: version.read_metrics(self.clients, version.resolve(self.cfg, self.clients, a, "dev"))
            for s, a in arns.items()
        }

    def lock_set(self, arns: dict[str, str]) -> dict[str, Any]:
        """`lock write` of a set, the comparisons read from the registry."""
        return lockset.build_set(
            self.cfg, self.resolved(arns), passing_report(), now=NOW, clients=self.clients
        )

    def release_set(self, arns: dict[str, str], when: str = "2025-02-01T00:00:00Z") -> dict[str, str]:
        """The release job for a set: verify, approve, promote, record each prod version released."""
        locked = self.lock_set(arns)
        lockset.verify_set(self.cfg, self.clients, locked, self.pull_request())
        prod = {}
        for segment, arn in arns.items():
            self.approve(arn)
            prod[segment], _ = promote.promote(self.cfg, self.clients, arn, None)
            lifecycle.record_release(self.cfg, self.clients, prod[segment], COMMIT, "7", when)
        return prod


def make_segmented(accounts, configure) -> SetWorld:
    """A segmented project's world (four accounts), its config written for the CLI (the
    `segmented` fixture of each test file)."""
    raw = segmented_raw()
    configure(raw)
    cfg = config.parse(raw)
    recorder = Recorder()
    return SetWorld(cfg, accounts(cfg, recorder), recorder)


def run(world: SetWorld, capsys, *args: str) -> tuple[int, dict[str, str], str]:
    """Run a promotion CLI command as the shared-services identity: (code, key=values, stderr)."""
    code = cli.main(list(args), session=world.shared)
    out, err = capsys.readouterr()
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return code, values, err


def write(world: SetWorld, lock: dict[str, Any]) -> None:
    lockfile.write_lock(lockfile.lock_path(world.cfg), lock)


def unsegmented_world(accounts, recorder: Recorder, configure) -> World:
    """The release world of a project with model.segments off (four accounts), its config
    written for the CLI."""
    cfg = make_config("four")
    configure(cfg)
    return World(cfg, accounts(cfg, recorder), recorder)


def listed(arns: dict[str, str]) -> str:
    """The set as the commands take it: ARNs comma-separated in config order."""
    return ",".join(arns[s] for s in VALUES)


def digested(world: SetWorld, capsys, tmp_path, arns: dict[str, str]) -> dict[str, Any]:
    """`registry digest --output` of the set: the document `record-qa --artifact` reads."""
    code, _, err = run(world, capsys, "digest", "--arn", listed(arns), "--output", str(tmp_path / "a.json"))
    assert code == 0, err
    return json.loads((tmp_path / "a.json").read_text())


def record_qa(world: SetWorld, capsys, tmp_path, arns, report, artifacts) -> tuple[int, dict[str, str], str]:
    """`registry record-qa` of the set with this endpoint test `report` and `digest` document."""
    (tmp_path / "r.json").write_text(json.dumps(report))
    (tmp_path / "a.json").write_text(json.dumps(artifacts))
    args = ["--report", str(tmp_path / "r.json"), "--artifact", str(tmp_path / "a.json")]
    return run(world, capsys, "record-qa", "--arn", listed(arns), *args)


__all__ = ["NOW", "Accounts", "lifecycle", "lockfile", "promote", "segments"]
