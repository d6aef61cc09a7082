"""Retraining: the `retraining`/`notifications` config and what a trigger may ask for
(`retrain.trigger`); the command and the workflow file are test_retrain_dispatch.py's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy_helpers import config, make_raw, module

retraining = module("config.retraining")
trigger = module("retrain.trigger")


def parsed(**sections: Any):
    raw = make_raw("four")
    raw.update(sections)
    return config.parse(raw)


# ---------------------------------------------------------------------------- config


def test_defaults_apply_when_the_sections_are_absent():
    raw = make_raw()
    raw.pop("retraining", None)
    raw.pop("notifications", None)
    cfg = config.parse(raw)
    assert cfg.retraining == retraining.Retraining("0 6 * * 1", False, False)
    assert cfg.notifications.sns is True


def test_the_rendered_config_reads_its_sections():
    cfg = parsed(retraining={"schedule": "30 2 1-7 * MON", "on_new_data": True, "on_drift": True})
    assert (cfg.retraining.schedule, cfg.retraining.on_new_data, cfg.retraining.on_drift) == (
        "30 2 1-7 * MON",
        True,
        True,
    )


@pytest.mark.parametrize(
    "schedule",
    [
        "0 6 * * 1",
        "*/15 * * * *",
        "*/5 * * * *",
        "55,0 * * * *",
        "0 0,12 * * 1-5",
        "5 4 * JAN-MAR sun",
        "0 6 1 */2 *",
        "59 23 31 12 6",
        "",
    ],
)
def test_valid_github_cron_expressions(schedule):
    assert parsed(retraining={"schedule": schedule}).retraining.schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("0 6 * *", "it has 4 fields, not five"),
        ("0 6 * * 1 2025", "6 fields"),
        ("0  6 * * 1", "not five separated by single spaces"),
        ("*/1 * * * *", "minute field '*/1' runs 1 minute(s) apart; GitHub runs a schedule at most every 5"),
        ("* 6 * * 1", "minute field '*' runs 1 minute(s) apart"),
        ("0,3 * * * *", "runs 3 minute(s) apart"),
        ("58,1 * * * *", "runs 3 minute(s) apart"),
        ("60 6 * * 1", "minute field '60'"),
        ("0 24 * * 1", "hour field '24'"),
        ("0 6 0 * 1", "day of month field '0'"),
        ("0 6 * 13 1", "month field '13'"),
        ("0 6 * * 7", "day of week field '7'"),
        ("0 6 * * FUNDAY", "day of week field 'FUNDAY'"),
        ("0 6 * * 5-1", "a range must go upwards"),
        ("*/0 * * * *", "step 0"),
        ("0 6 ? * 1", "day of month field '?'"),
        ("@weekly", "1 fields"),
    ],
)
def test_invalid_cron_is_one_error_naming_key_value_and_expectation(schedule, problem):
    with pytest.raises(config.ConfigError) as exc:
        parsed(retraining={"schedule": schedule})
    message = str(exc.value)
    assert message.startswith(f"retraining.schedule is {json.dumps(schedule)}: ")
    assert problem in message and "expected a GitHub Actions cron expression" in message
    assert message.count("expected") == 1


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"retraining": {"on_drift": "yes"}}, 'retraining.on_drift is "yes"; expected true or false'),
        ({"retraining": {"on_new_data": 1}}, "retraining.on_new_data is 1; expected true or false"),
        ({"notifications": {"sns": "true"}}, 'notifications.sns is "true"; expected true or false'),
        ({"retraining": {"cron": "0 6 * * 1"}}, "retraining.cron is not a setting this repository reads"),
        ({"notifications": {"slack": True}}, "notifications.slack is not a setting this repository reads"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused(sections, expected):
    with pytest.raises(config.ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parsed(**sections)


def test_a_webhook_in_the_config_is_refused_without_echoing_it():
    url = "https://hooks.slack.com/services/T1/B2/secretInConfig"
    with pytest.raises(config.ConfigError) as exc:
        parsed(notifications={"sns": True, "slack_webhook_url": url})
    assert "GitHub secret SLACK_WEBHOOK_URL" in str(exc.value) and "secretInConfig" not in str(exc.value)


# ---------------------------------------------------------------------------- triggers


@pytest.fixture
def cfg():
    return parsed(retraining={"schedule": "0 6 * * 1", "on_new_data": True, "on_drift": False})


def datasets(cfg) -> str:
    return f"s3://{cfg.names.artifact_bucket}/datasets/"


def test_a_schedule_starts_only_when_it_is_the_configured_one(cfg):
    assert trigger.read_trigger(cfg, "schedule", {"schedule": "0 6 * * 1"}) == trigger.Trigger(
        "schedule", "", "scheduled (0 6 * * 1)"
    )
    with pytest.raises(trigger.TriggerError, match=r'"0 7 \* \* 1", is not retraining.schedule'):
        trigger.read_trigger(cfg, "schedule", {"schedule": "0 7 * * 1"})
    off = parsed(retraining={"schedule": ""})
    assert trigger.read_trigger(off, "schedule", {"schedule": "0 6 * * 1"}).skip.startswith(
        "scheduled retraining is off"
    )


def test_a_manual_dispatch_takes_a_dataset_under_datasets_and_a_reason(cfg):
    uri = datasets(cfg) + "2025/01/churn.csv"
    started = trigger.read_trigger(
        cfg, "workflow_dispatch", {"inputs": {"dataset_uri": uri, "reason": "  new\tquarter\n data "}}
    )
    assert started == trigger.Trigger("manual", uri, "new quarter data")
    assert started.inputs() == {"dataset_uri": uri, "reason": "new quarter data", "trigger": "manual"}
    default = trigger.read_trigger(
        cfg, "workflow_dispatch", {"inputs": {"dataset_uri": "", "reason": "refresh"}}
    )
    assert default.dataset_uri == ""


@pytest.mark.parametrize(
    "uri",
    [
        "s3://another-bucket/datasets/x.csv",
        "{bucket}/dev-prefix/x.csv",
        "{datasets}",
        "{datasets}../{prod}model.tar.gz",
        "{datasets}a//b.csv",
        "{datasets}a b.csv",
        "{datasets}x.csv\nother",
        "{datasets}$(touch pwned).csv",
        "https://example.com/datasets/x.csv",
        "{datasets}" + "x" * 1100,
    ],
)
def test_an_invalid_dataset_uri_is_refused(cfg, uri):
    uri = uri.format(
        bucket=f"s3://{cfg.names.artifact_bucket}",
        datasets=datasets(cfg),
        prod=cfg.names.artifact_prefixes["prod"],
    )
    with pytest.raises(
        trigger.TriggerError, match=r"dataset_uri is .*; expected an object or prefix under s3://"
    ):
        trigger.read_trigger(cfg, "workflow_dispatch", {"inputs": {"dataset_uri": uri, "reason": "r"}})


@pytest.mark.parametrize(
    ("reason", "problem"),
    [("", "reason is empty"), ("x" * 201, "reason is 201 characters"), ("a\x00b", "control characters")],
)
def test_an_invalid_reason_is_refused(cfg, reason, problem):
    with pytest.raises(trigger.TriggerError, match=problem):
        trigger.read_trigger(cfg, "workflow_dispatch", {"inputs": {"reason": reason}})


def test_repository_dispatch_acts_only_when_the_config_says_so(cfg):
    uri = datasets(cfg) + "incoming/day.csv"
    new_data = trigger.read_trigger(
        cfg, "repository_dispatch", {"action": "new-data", "client_payload": {"dataset_uri": uri}}
    )
    assert new_data == trigger.Trigger("new-data", uri, f"new data: {uri}")
    drift = trigger.read_trigger(cfg, "repository_dispatch", {"action": "drift", "client_payload": {}})
    assert drift.skip == "retraining.on_drift is false; a drift event starts nothing"
    with pytest.raises(trigger.TriggerError, match='type "deploy-prod" is not one retraining takes'):
        trigger.read_trigger(cfg, "repository_dispatch", {"action": "deploy-prod"})
    with pytest.raises(trigger.TriggerError, match='event "push" cannot start a retraining'):
        trigger.read_trigger(cfg, "push", {})


def test_the_dev_workflow_accepts_a_dispatch_on_the_dev_branch_only(cfg):
    inputs = {"inputs": {"dataset_uri": datasets(cfg) + "x.csv", "reason": "r", "trigger": "new-data"}}
    ok = trigger.read_dispatched(cfg, f"refs/heads/{cfg.branches.dev}", inputs)
    assert (ok.kind, ok.dataset_uri) == ("new-data", datasets(cfg) + "x.csv")
    for ref in (f"refs/heads/{cfg.branches.prod}", f"refs/heads/{cfg.branches.feature_prefix}x", ""):
        with pytest.raises(trigger.TriggerError, match="expected refs/heads/"):
            trigger.read_dispatched(cfg, ref, inputs)
