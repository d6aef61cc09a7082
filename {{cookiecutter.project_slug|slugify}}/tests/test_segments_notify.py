"""`notify` with a segmented project's lock: the message names every segment's version and metrics.

A segmented lock holds one single-version entry per segment under `segments` (see
promotion/lockfile.py); the Slack post goes to a local receiver on 127.0.0.1 as in test_notify.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy_helpers import make_config, make_raw, module
from http_receiver import Receiver

slack = module("notify.slack")
message = module("notify.message")
cli = module("cli")

WEBHOOK = "https://hooks.slack.com/services/T0001/B0002/secretvalue"
GROUP = "arn:aws:sagemaker:us-east-1:111111111111:model-package/m-dev"


def entry(version: int, auc: float) -> dict:
    return {"model_package_arn": f"{GROUP}/{version}", "version": version, "metrics": {"auc": auc}}


def set_lock(tmp_path: Path, segments: dict[str, dict]) -> Path:
    path = tmp_path / "model.lock.json"
    lock = {"segment_column": "region", "segments": segments, "created_at": "2026-12-01T08:00:00+00:00"}
    path.write_text(json.dumps(lock))
    return path


@pytest.fixture
def cfg(configure, fake_aws, monkeypatch):
    raw = make_raw("four")
    raw["notifications"] = {"sns": False}
    configure(raw)
    monkeypatch.delenv(slack.WEBHOOK_ENV, raising=False)
    return make_config("four")


def test_the_message_of_a_set_names_each_segments_version_and_metrics(cfg, tmp_path):
    lock = set_lock(tmp_path, {"north": entry(3, 0.91234), "south-2": entry(4, 0.88)})

    built = message.build(cfg, "released", lock=lock)

    assert built.version == f"north: 3, south-2: 4 of {GROUP}"
    assert built.metrics == {"north auc": "0.9123", "south-2 auc": "0.88"}
    assert f"version: north: 3, south-2: 4 of {GROUP}" in built.text().splitlines()
    assert built.notes == []


def test_the_slack_post_of_a_released_set_names_every_segment(cfg, tmp_path, monkeypatch, capsys):
    lock = set_lock(tmp_path, {"north": entry(3, 0.9), "south-2": entry(4, 0.8)})
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    with Receiver() as server:
        monkeypatch.setattr(
            slack, "_target", lambda url: url.replace("https://hooks.slack.com", server.url, 1)
        )
        code = cli.main(["notify", "released", "--lock", str(lock)])
        [request] = server.requests
    assert code == 0, capsys.readouterr().err
    payload = request.json()
    model = cfg.project.model_name
    assert payload["text"] == f"{model}: Released to prod (version north: 3, south-2: 4 of {GROUP})"
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert f"*Version*\nnorth: 3, south-2: 4 of {GROUP}" in fields
    assert "*Metrics*\nnorth auc: 0.9\nsouth-2 auc: 0.8" in fields


def test_the_largest_set_lists_all_its_segments_within_slacks_field_limit(cfg, tmp_path):
    values = [f"s{i:02d}".ljust(32, "n") for i in range(20)]
    lock = set_lock(tmp_path, {value: entry(100 + i, 0.9) for i, value in enumerate(values)})

    built = message.build(cfg, "released", lock=lock)

    assert all(f"{value}: {100 + i}" in built.version for i, value in enumerate(values))
    version_field = next(
        f["text"] for f in built.slack_payload()["blocks"][1]["fields"] if "Version" in f["text"]
    )
    assert len(version_field) <= 2000  # Slack's limit of a section field's text


def test_versions_of_different_groups_are_named_by_their_arns(cfg, tmp_path):
    other = "arn:aws:sagemaker:us-east-1:111111111111:model-package/m-feature/7"
    lock = set_lock(
        tmp_path, {"north": entry(3, 0.9), "south-2": {**entry(7, 0.9), "model_package_arn": other}}
    )

    built = message.build(cfg, "qa-failed", lock=lock)

    assert built.version == f"north: {GROUP}/3, south-2: {other}"


def test_a_single_version_lock_reads_as_before(cfg, tmp_path):
    path = tmp_path / "model.lock.json"
    path.write_text(json.dumps({**entry(3, 0.91234), "metrics": {"auc": 0.91234, "f1": 0.8}}))

    built = message.build(cfg, "released", lock=path)

    assert (built.version, built.metrics) == (f"3 ({GROUP}/3)", {"auc": "0.9123", "f1": "0.8"})
