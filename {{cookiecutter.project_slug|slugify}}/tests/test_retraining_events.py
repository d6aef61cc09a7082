"""The optional retraining event source: its place in the bootstrap plan and teardown, its rules'
event patterns and the requests their input transformers make.

The patterns are evaluated by moto's EventBridge pattern matcher (moto.events EventPattern; the
TestEventPattern API of moto 5.2.5 answers without a result). The transformed bodies are fed to
`retrain`'s own check of a repository_dispatch event.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from deploy_helpers import ROOT, Accounts, fake_aws_env, make_config, make_raw, module, write_config

config = module("config")
bootstrap = module("infra.bootstrap")
events = module("infra.retraining_events")
teardown_stacks = module("infra.teardown_stacks")
listing_module = module("infra.teardown_listing")
cfn = module("infra.cfn")
trigger = module("retrain.trigger")
drift_alarm_prefix = module("deploy.monitoring_requests").drift_alarm_prefix
Clients = module("deploy.aws").Clients

TEMPLATE = ROOT / "infra" / "retraining-events.yaml"


def events_config(
    layout: str = "four", new_data: bool = True, drift: bool = True, monitored: tuple[str, ...] = ("prod",)
) -> Any:
    raw = make_raw(layout)
    raw["retraining"] = {"schedule": "0 6 * * 1", "on_new_data": new_data, "on_drift": drift}
    raw.setdefault("monitoring", {})["environments"] = list(monitored)
    if "qa" in monitored:  # monitoring needs a real-time endpoint capturing data
        prod = raw["environments"]["prod"]["endpoint"]
        raw["environments"]["qa"]["endpoint"] = json.loads(json.dumps(prod))
    return config.parse(raw)


def event_specs(cfg: Any) -> dict[str, Any]:
    return {s.key: s for s in bootstrap.plan(cfg) if s.template == events.TEMPLATE}


def shared_params(cfg: Any) -> dict[str, str]:
    return next(s for s in bootstrap.plan(cfg) if s.key == "shared-services").parameters


# --- the plan -----------------------------------------------------------------------------------


def test_the_default_config_deploys_no_event_source() -> None:
    cfg = make_config("four")
    assert (cfg.retraining.on_new_data, cfg.retraining.on_drift) == (False, False)
    assert event_specs(cfg) == {}
    assert shared_params(cfg)["DatasetEvents"] == "false"
    assert events.token_steps(cfg) == []


def test_on_new_data_deploys_the_dataset_rule_in_shared_services_only() -> None:
    cfg = events_config(drift=False)
    model = cfg.project.model_name
    [spec] = event_specs(cfg).values()
    assert (spec.key, spec.name, spec.account_role, spec.account) == (
        "retraining-new-data",
        f"{model}-retraining-new-data",
        "shared_services",
        cfg.account_id("shared_services"),
    )
    assert spec.parameters == {
        "ModelName": model,
        "GitHubOwner": cfg.github.owner,
        "GitHubRepo": cfg.github.repo,
        "EventSource": "new-data",
        "ArtifactBucketName": cfg.names.artifact_bucket,
        "DatasetsPrefix": cfg.names.datasets_prefix,
    }
    assert shared_params(cfg)["DatasetEvents"] == "true"
    # After every other stack: the bucket's EventBridge switch is in the shared-services stack.
    assert bootstrap.plan(cfg)[-1] is not None and bootstrap.plan(cfg)[-1].key == "retraining-new-data"


@pytest.mark.parametrize(
    ("layout", "monitored", "expected"),
    [
        ("four", ("prod",), {"prod": ["prod"]}),
        ("four", ("qa", "prod"), {"qa": ["qa"], "prod": ["prod"]}),
        ("single", ("qa", "prod"), {"prod": ["qa", "prod"]}),
        ("four", (), {}),
    ],
)
def test_on_drift_deploys_one_rule_per_account_with_a_monitored_endpoint(
    layout: str, monitored: tuple[str, ...], expected: dict[str, list[str]]
) -> None:
    cfg = events_config(layout, new_data=False, monitored=monitored)
    specs = event_specs(cfg)
    assert shared_params(cfg)["DatasetEvents"] == "false"
    want = {}
    for host, envs in expected.items():
        account = cfg.environment(host).account
        prefixes = [drift_alarm_prefix(cfg.environment(env).endpoint_name) for env in envs]
        want[f"retraining-drift:{account}"] = (account, prefixes[0], prefixes[1] if len(prefixes) > 1 else "")
    got = {
        key: (s.account, s.parameters["DriftAlarmPrefix"], s.parameters["SecondDriftAlarmPrefix"])
        for key, s in specs.items()
    }
    assert got == want
    assert all(s.name == f"{cfg.project.model_name}-retraining-drift" for s in specs.values())
    assert all(s.parameters["EventSource"] == "drift" for s in specs.values())


def test_bootstrap_dry_run_lists_the_stacks_and_ends_with_the_token_step(tmp_path, monkeypatch) -> None:
    cfg = events_config("four", monitored=("qa", "prod"))
    raw = json.loads(json.dumps(cfg.document, default=dict))
    write_config(raw, tmp_path, monkeypatch)
    out = io.StringIO()
    assert bootstrap.main(["--dry-run"], out=out, log=lambda line: None) == 0
    text = out.getvalue()
    summary = json.loads(text[: text.index("\n}\n") + 2])
    model = cfg.project.model_name
    rows = [r for r in summary["stacks"] if "retraining" in r["stack"]]
    listed = [(r["stack"], r["account"], r["template"]) for r in rows]
    assert listed == [
        (f"{model}-retraining-new-data", cfg.account_id("shared_services"), "infra/retraining-events.yaml"),
        (f"{model}-retraining-drift", cfg.account_id("qa"), "infra/retraining-events.yaml"),
        (f"{model}-retraining-drift", cfg.account_id("prod"), "infra/retraining-events.yaml"),
    ]
    commands = [line for line in text.splitlines() if line.startswith("aws events update-connection")]
    assert [re.search(r"--name (\S+)", c)[1] for c in commands] == [
        f"{model}-retraining-new-data",
        f"{model}-retraining-drift",
        f"{model}-retraining-drift",
    ]
    for command in commands:
        assert f"--region {cfg.region} " in command
        assert "--authorization-type API_KEY" in command
        assert '\\"ApiKeyName\\": \\"Authorization\\"' in command
        # The token comes from the shell variable read without echo; none is in the output.
        assert '\\"ApiKeyValue\\": \\"Bearer $GITHUB_DISPATCH_TOKEN\\"' in command
    assert "read -rs GITHUB_DISPATCH_TOKEN" in text
    assert not re.search(r"gh[pousr]_|github_pat_", text)


def test_bootstrap_without_event_sources_prints_no_token_step(tmp_path, monkeypatch) -> None:
    write_config(make_raw("four"), tmp_path, monkeypatch)
    out = io.StringIO()
    assert bootstrap.main(["--dry-run"], out=out, log=lambda line: None) == 0
    assert "update-connection" not in out.getvalue()
    assert "retraining" not in out.getvalue()


# --- teardown -----------------------------------------------------------------------------------


def _stand_in(accounts: Any, cfg: Any) -> None:
    for spec in bootstrap.plan(cfg):
        if spec.oidc:
            continue
        accounts.session_for_account(spec.account).client("cloudformation").create_stack(
            StackName=spec.name,
            TemplateBody="Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n",
            Tags=[{"Key": "managed-by", "Value": "bootstrap"}, {"Key": "project", "Value": cfg.project.slug}],
        )


@pytest.mark.parametrize(
    ("envs", "expected"),
    [
        (["qa", "prod"], ["drift:prod", "drift:qa", "new-data"]),
        (["prod"], ["drift:prod"]),
        (["qa"], ["drift:qa"]),
    ],
)
def test_teardown_deletes_the_event_sources_first_and_with_their_account(monkeypatch, envs, expected) -> None:
    fake_aws_env(monkeypatch)
    cfg = events_config("four", monitored=("qa", "prod"))
    with mock_aws():
        accounts = Accounts(cfg)
        _stand_in(accounts, cfg)
        clients = {
            account: Clients(accounts.session_for_account(account), cfg.region)
            for account in dict.fromkeys(cfg.accounts.values())
        }
        listing = listing_module.Listing()
        teardown_stacks.list_stacks(cfg, envs, clients, listing, registry=False)
    model = cfg.project.model_name
    names = {
        "new-data": (cfg.account_id("shared_services"), f"{model}-retraining-new-data"),
        "drift:qa": (cfg.account_id("qa"), f"{model}-retraining-drift"),
        "drift:prod": (cfg.account_id("prod"), f"{model}-retraining-drift"),
    }
    stacks = [(i.account, i.name) for i in listing.items if i.kind == "stack"]
    events_first = [s for s in stacks if "retraining" in s[1]]
    assert events_first == [names[key] for key in expected]
    # Reverse plan order: the event sources go before every other stack.
    assert stacks[: len(events_first)] == events_first


def test_teardown_reads_the_templates_deletion_policies_without_yaml() -> None:
    parsed = cfn.load_template(TEMPLATE)["Resources"]
    expected = {k: (v["Type"], v.get("DeletionPolicy", "Delete")) for k, v in parsed.items()}
    assert teardown_stacks.resource_policies(TEMPLATE.read_text()) == expected


# --- the rules ----------------------------------------------------------------------------------


def resolved_rule(cfg: Any, key: str) -> dict[str, Any]:
    spec = event_specs(cfg)[key]
    template = cfn.load_template(TEMPLATE)
    resolver = cfn.Resolver(template, spec.parameters, spec.account, cfg.region)
    return resolver.properties("Rule")


def matches(rule: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event)


def s3_event(bucket: str, key: str, kind: str = "Object Created") -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": kind,
        "account": "222222222222",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
    }


def alarm_event(name: str, state: str = "ALARM") -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": name, "state": {"value": state}, "previousState": {"value": "OK"}},
    }


def transformed(rule: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The body EventBridge sends: InputPathsMap ($.a.b) values put into the InputTemplate."""
    transformer = rule["Targets"][0]["InputTransformer"]
    body = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        body = body.replace(f"<{name}>", json.dumps(value)[1:-1])
    return json.loads(body)


def test_the_dataset_rule_matches_new_objects_under_datasets_only() -> None:
    cfg = events_config(drift=False)
    rule = resolved_rule(cfg, "retraining-new-data")
    bucket, datasets = cfg.names.artifact_bucket, cfg.names.datasets_prefix
    assert matches(rule, s3_event(bucket, f"{datasets}2025-02.csv"))
    assert matches(rule, s3_event(bucket, f"{datasets}2025/02/train.csv"))
    assert not matches(rule, s3_event(bucket, cfg.names.artifact_prefixes["dev"] + "exec/model.tar.gz"))
    assert not matches(rule, s3_event(bucket, f"archive/{datasets}2025-02.csv"))
    assert not matches(rule, s3_event("another-bucket", f"{datasets}2025-02.csv"))
    assert not matches(rule, s3_event(bucket, f"{datasets}2025-02.csv", kind="Object Deleted"))


def test_the_dataset_rule_sends_a_new_data_dispatch_retrain_accepts() -> None:
    cfg = events_config(drift=False)
    rule = resolved_rule(cfg, "retraining-new-data")
    key = f"{cfg.names.datasets_prefix}2025-02.csv"
    body = transformed(rule, s3_event(cfg.names.artifact_bucket, key))
    uri = f"s3://{cfg.names.artifact_bucket}/{key}"
    assert body["event_type"] == "new-data"
    assert body["client_payload"]["dataset_uri"] == uri
    started = trigger.read_trigger(
        cfg, "repository_dispatch", {"action": body["event_type"], "client_payload": body["client_payload"]}
    )
    assert (started.kind, started.dataset_uri, started.skip) == ("new-data", uri, "")


def test_the_drift_rule_matches_drift_alarms_going_to_alarm_only() -> None:
    cfg = events_config(new_data=False, monitored=("prod",))
    prod = cfg.environment("prod")
    rule = resolved_rule(cfg, f"retraining-drift:{prod.account}")
    drift = drift_alarm_prefix(prod.endpoint_name)
    assert matches(rule, alarm_event(drift))
    assert matches(rule, alarm_event(f"{drift}-2"))
    assert not matches(rule, alarm_event(drift, state="OK"))
    assert not matches(rule, alarm_event(drift, state="INSUFFICIENT_DATA"))
    assert not matches(rule, alarm_event(f"{prod.endpoint_name}-model-quality"))
    assert not matches(rule, alarm_event(f"{prod.endpoint_name}-5xx"))
    assert not matches(rule, alarm_event(drift_alarm_prefix(cfg.environment("qa").endpoint_name)))


def test_a_shared_account_drift_rule_matches_both_endpoints() -> None:
    cfg = events_config("single", new_data=False, monitored=("qa", "prod"))
    rule = resolved_rule(cfg, f"retraining-drift:{cfg.environment('prod').account}")
    for env in ("qa", "prod"):
        assert matches(rule, alarm_event(drift_alarm_prefix(cfg.environment(env).endpoint_name)))
    assert not matches(rule, alarm_event(f"{cfg.environment('qa').endpoint_name}-model-quality"))


def test_the_drift_rule_sends_a_drift_dispatch_retrain_accepts() -> None:
    cfg = events_config(new_data=False)
    prod = cfg.environment("prod")
    rule = resolved_rule(cfg, f"retraining-drift:{prod.account}")
    name = drift_alarm_prefix(prod.endpoint_name) + "-2"
    body = transformed(rule, alarm_event(name))
    reason = f"drift alarm {name} is in ALARM (EventBridge)"
    assert body == {"event_type": "drift", "client_payload": {"reason": reason}}
    started = trigger.read_trigger(
        cfg, "repository_dispatch", {"action": "drift", "client_payload": body["client_payload"]}
    )
    assert (started.kind, started.dataset_uri, started.skip) == ("drift", "", "")
