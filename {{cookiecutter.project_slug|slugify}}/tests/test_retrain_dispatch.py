"""`retrain dispatch` starting dev.yml on the dev branch (a local receiver on 127.0.0.1 stands in
for GitHub's API) and never anything that reaches prod; `retrain check` in the dispatched run; the
retrain workflow file against the config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy_helpers import ROOT, config, make_raw, module
from http_receiver import Receiver

cli = module("cli")
TOKEN = "ghs_retrainTokenValue123"


def datasets(cfg) -> str:
    return f"s3://{cfg.names.artifact_bucket}/datasets/"


# ---------------------------------------------------------------------------- the command


@pytest.fixture
def github(configure, monkeypatch, tmp_path):
    """A GitHub Actions-like environment for `retrain` with a local API receiver."""
    raw = make_raw("four")
    raw["retraining"] = {"schedule": "0 6 * * 1", "on_new_data": True, "on_drift": False}
    configure(raw)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with Receiver() as api:
        api.answer(204)
        monkeypatch.setenv("GITHUB_API_URL", api.url)

        def event(name: str, payload: dict[str, Any], ref: str = "") -> None:
            path = tmp_path / "event.json"
            path.write_text(json.dumps(payload))
            monkeypatch.setenv("GITHUB_EVENT_NAME", name)
            monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
            monkeypatch.setenv("GITHUB_REF", ref)

        api.event = event
        api.cfg = config.parse(raw)
        yield api


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["retrain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dispatch_starts_dev_yml_on_the_dev_branch_with_the_inputs(github, capsys):
    cfg = github.cfg
    uri = datasets(cfg) + "2025/churn.csv"
    github.event("workflow_dispatch", {"inputs": {"dataset_uri": uri, "reason": "quarterly; $(rm -rf /)"}})

    code, out, err = run(capsys, "dispatch")

    assert code == 0, err
    [request] = github.requests
    assert request.path == f"/repos/{cfg.github.repository}/actions/workflows/dev.yml/dispatches"
    assert request.json() == {
        "ref": cfg.branches.dev,
        "inputs": {"dataset_uri": uri, "reason": "quarterly; $(rm -rf /)", "trigger": "manual"},
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert out.splitlines() == [
        "action=dispatched",
        "workflow=dev.yml",
        f"ref={cfg.branches.dev}",
        f"dataset_uri={uri}",
        "reason=quarterly; $(rm -rf /)",
        "trigger=manual",
    ]
    assert TOKEN not in out + err


def test_no_trigger_can_reach_the_prod_branch_or_the_release_workflow(github, capsys):
    cfg = github.cfg
    events = [
        ("schedule", {"schedule": "0 6 * * 1"}),
        (
            "workflow_dispatch",
            {"inputs": {"reason": "r", "ref": cfg.branches.prod, "workflow": "release.yml"}},
        ),
        ("repository_dispatch", {"action": "new-data", "client_payload": {"ref": cfg.branches.prod}}),
    ]
    for name, payload in events:
        github.event(name, payload)
        assert run(capsys, "dispatch")[0] == 0
    assert [(r.path.rsplit("/", 2)[-2], r.json()["ref"]) for r in github.requests] == [
        ("dev.yml", cfg.branches.dev)
    ] * 3


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        (
            "workflow_dispatch",
            {"inputs": {"dataset_uri": "s3://elsewhere/datasets/x.csv", "reason": "r"}},
            "dataset_uri",
        ),
        ("workflow_dispatch", {"inputs": {"reason": ""}}, "reason is empty"),
        ("schedule", {"schedule": "0 7 * * 1"}, "is not retraining.schedule"),
        ("repository_dispatch", {"action": "release"}, "is not one retraining takes"),
        ("push", {}, "cannot start a retraining"),
    ],
)
def test_an_invalid_trigger_dispatches_nothing(github, capsys, name, payload, expected):
    github.event(name, payload)
    code, out, err = run(capsys, "dispatch")
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("error: ")
    assert expected in lines[0]
    assert github.requests == []


def test_a_disabled_trigger_is_one_line_and_no_dispatch(github, capsys):
    github.event("repository_dispatch", {"action": "drift", "client_payload": {}})
    code, out, _ = run(capsys, "dispatch")
    assert code == 0 and github.requests == []
    assert out.splitlines()[:2] == [
        "retrain: nothing started: retraining.on_drift is false; a drift event starts nothing",
        "action=skipped",
    ]


def test_a_refused_dispatch_is_exit_1_without_the_token(github, capsys):
    github.answer(403, json.dumps({"message": f"Resource not accessible by integration {TOKEN}"}).encode())
    github.event("workflow_dispatch", {"inputs": {"reason": "r"}})
    code, out, err = run(capsys, "dispatch")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "HTTP 403" in lines[0]
    assert TOKEN not in out + err


def test_check_prints_the_dispatched_inputs_for_the_dev_run(github, capsys, tmp_path, monkeypatch):
    cfg = github.cfg
    uri = datasets(cfg) + "x.csv"
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    github.event(
        "workflow_dispatch",
        {"inputs": {"dataset_uri": uri, "reason": "r", "trigger": "manual"}},
        ref=f"refs/heads/{cfg.branches.dev}",
    )
    assert run(capsys, "check", "--github-output")[0] == 0
    assert output.read_text().splitlines() == [f"dataset_uri={uri}", "reason=r", "trigger=manual"]
    github.event("workflow_dispatch", {"inputs": {"dataset_uri": uri}}, ref=f"refs/heads/{cfg.branches.prod}")
    code, _, err = run(capsys, "check")
    assert code == 2 and "was dispatched on" in err


# ---------------------------------------------------------------------------- the workflow file


def workflow(name: str) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_the_workflow_cron_is_the_configured_schedule():
    """GitHub reads the schedule from the workflow file; change both together."""
    cfg = config.load_config(ROOT / "config" / "project.json")
    crons = [entry["cron"] for entry in workflow("retrain.yml")["on"].get("schedule", [])]
    # An empty schedule turns scheduled retraining off (a scheduled run then starts nothing).
    expected = [cfg.retraining.schedule] if cfg.retraining.schedule else crons
    assert crons == expected, (
        f".github/workflows/retrain.yml schedules {crons}; config/project.json retraining.schedule is "
        f"{cfg.retraining.schedule!r}: make them equal"
    )


def test_the_retrain_workflow_holds_no_aws_credentials_and_only_dispatches():
    data = workflow("retrain.yml")
    [(_job_id, job)] = data["jobs"].items()
    assert data["permissions"] == {} and job["permissions"] == {"contents": "read", "actions": "write"}
    assert "environment" not in job
    text = json.dumps(data)
    for forbidden in ("configure-aws-credentials", "release.yml", "id-token", "ROLE_ARN"):
        assert forbidden not in text, forbidden
    runs = [step.get("run", "") for step in job["steps"]]
    assert any("retrain dispatch" in run for run in runs)
    assert data["on"]["repository_dispatch"]["types"] == ["new-data", "drift"]


def test_a_dispatched_dev_run_checks_its_inputs_before_training():
    build = workflow("dev.yml")["jobs"]["build"]
    names = [step.get("name") or step.get("uses") for step in build["steps"]]
    check = names.index("Check the retraining inputs")
    assert check < names.index("Run the dev pipeline")
    assert "retrain check" in build["steps"][check]["run"]
    run_step = build["steps"][names.index("Run the dev pipeline")]
    # (the expression is spelled in two parts: this file is a cookiecutter template too)
    assert run_step["env"]["DATASET_URI"] == "${" + "{ steps.inputs.outputs.dataset_uri }" + "}"
