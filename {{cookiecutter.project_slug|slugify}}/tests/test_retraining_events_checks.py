"""Policy checks of the retraining event source (infra/checks/events.py, and the EventBridge trust
allowance in infra/checks/trust.py): each rule has a widening fixture the checks report, the last
test proves every rule of checks/events.py has one, and the template is checked even while the
config leaves the event source off."""

from __future__ import annotations

import copy
import inspect
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy_helpers import ROOT, make_config, module
from test_infra_policies import assert_only, findings_for
from test_retraining_events import events_config

checks = module("infra.policy_checks")
events_checks = module("infra.checks.events")
TEMPLATE = "retraining-events.yaml"
CFG = events_config("four")
NEW_DATA = "retraining-new-data"
DRIFT = f"retraining-drift:{CFG.environment('prod').account}"
URL = f"https://api.github.com/repos/{CFG.github.owner}/{CFG.github.repo}/dispatches"
FAKE_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2


def props(resource: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda t: t["Resources"][resource]["Properties"]


def change(resource: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda t: props(resource)(t).update(values)


def invoke_statement(t: dict[str, Any]) -> dict[str, Any]:
    return props("InvokeRole")(t)["Policies"][0]["PolicyDocument"]["Statement"][0]


def trust_statement(t: dict[str, Any]) -> dict[str, Any]:
    return props("InvokeRole")(t)["AssumeRolePolicyDocument"]["Statement"][0]


def target(t: dict[str, Any]) -> dict[str, Any]:
    return props("Rule")(t)["Targets"][0]


def set_token(t: dict[str, Any]) -> None:
    props("Connection")(t)["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"] = f"Bearer {FAKE_TOKEN}"


ENDPOINT = f"is not {URL} (this repository's dispatch API)"
CONNECTION = "authorization is not exactly API_KEY Authorization with the placeholder"
TOKEN = "holds what looks like a GitHub token"
BEARER = "holds a bearer value other than the placeholder"

# (id, stack, mutation, expected findings)
FIXTURES = [
    (
        "the destination is another repository's dispatch API",
        NEW_DATA,
        change("ApiDestination", InvocationEndpoint="https://api.github.com/repos/someone/else/dispatches"),
        [ENDPOINT],
    ),
    (
        "the destination is any other URL (object keys sent elsewhere)",
        DRIFT,
        change("ApiDestination", InvocationEndpoint="https://collector.example.com/hook"),
        [ENDPOINT],
    ),
    (
        "the destination is called with another method",
        NEW_DATA,
        change("ApiDestination", HttpMethod="PUT"),
        ["HttpMethod 'PUT'; the dispatch API takes POST"],
    ),
    (
        "a token written into the connection",
        NEW_DATA,
        set_token,
        [CONNECTION, TOKEN, BEARER],
    ),
    (
        "a fine-grained token anywhere in the template",
        NEW_DATA,
        change("Rule", Description="github_pat_" + "x1Y2z3" * 6),
        [TOKEN],
    ),
    (
        "another bearer value in the connection",
        DRIFT,
        lambda t: props("Connection")(t)["AuthParameters"]["ApiKeyAuthParameters"].update(
            ApiKeyValue="Bearer 0123456789abcdef"
        ),
        [CONNECTION, BEARER],
    ),
    (
        "the connection sends the token as a query parameter",
        NEW_DATA,
        lambda t: props("Connection")(t)["AuthParameters"]["ApiKeyAuthParameters"].update(
            ApiKeyName="access_token"
        ),
        [CONNECTION],
    ),
    (
        "the role may invoke any API destination of the account",
        NEW_DATA,
        lambda t: invoke_statement(t).update(
            Resource={
                "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:api-destination/*"
            }
        ),
        ["lets the role invoke arn:aws:events:"],
    ),
    (
        "the role EventBridge assumes may also put events",
        DRIFT,
        lambda t: invoke_statement(t).update(Action=["events:InvokeApiDestination", "events:PutEvents"]),
        ["grants events:PutEvents to a role EventBridge assumes"],
    ),
    (
        "EventBridge of any account may assume the role",
        NEW_DATA,
        lambda t: trust_statement(t).pop("Condition"),
        ["trusts events.amazonaws.com without StringEquals aws:SourceAccount"],
    ),
    (
        "another role trusts EventBridge",
        NEW_DATA,
        change("InvokeRole", RoleName={"Fn::Sub": "${ModelName}-sagemaker-pipeline"}),
        ["lets {'Service': 'events.amazonaws.com'} assume the role; only ['sagemaker.amazonaws.com'] may"],
    ),
    (
        "the rule sends events to another target",
        DRIFT,
        lambda t: target(t).update(Arn={"Fn::Sub": "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:x"}),
        ["sends events to 'arn:aws:sns:"],
    ),
    (
        "the rule calls the destination with another role",
        NEW_DATA,
        lambda t: target(t).update(
            RoleArn={"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/admin"}
        ),
        ["is not called with this template's invoke role"],
    ),
    (
        "failed events are dropped (no dead-letter queue)",
        NEW_DATA,
        lambda t: target(t).pop("DeadLetterConfig"),
        ["has no dead-letter queue or no retry policy"],
    ),
    (
        "failed events are dropped (no retry policy)",
        DRIFT,
        lambda t: target(t).pop("RetryPolicy"),
        ["has no dead-letter queue or no retry policy"],
    ),
]


@pytest.mark.parametrize(
    ("stack", "mutate", "expected"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_each_event_source_widening_is_a_finding(stack: str, mutate: Callable, expected: list[str]) -> None:
    assert findings_for(TEMPLATE, stack_key=stack, cfg=CFG) == []
    assert_only(findings_for(TEMPLATE, mutate, stack_key=stack, cfg=CFG), *expected)


def test_every_event_source_rule_has_a_fixture() -> None:
    """Every Finding checks/events.py can make (and the trust allowance) is expected by a fixture:
    one stem per Finding call, so a new rule without a fixture fails here."""
    stems = [
        ENDPOINT,
        "the dispatch API takes POST",
        CONNECTION,
        TOKEN,
        BEARER,
        "without StringEquals aws:SourceAccount",
        "to a role EventBridge assumes",
        "lets the role invoke",
        "sends events to",
        "is not called with this template's invoke role",
        "has no dead-letter queue or no retry policy",
    ]
    source = inspect.getsource(events_checks)
    assert source.count("Finding(") == len(stems)
    expected = " ".join(text for fixture in FIXTURES for text in fixture[3])
    assert [s for s in stems if s not in expected] == []


def test_the_template_is_checked_while_the_event_source_is_off(tmp_path: Path) -> None:
    """check_directory adds the event-source stacks to every variant, so a widened template fails
    `make infra-check` before anyone turns the flags on."""
    cfg = make_config("four")
    assert not (cfg.retraining.on_new_data or cfg.retraining.on_drift)
    infra = tmp_path / "infra"
    shutil.copytree(ROOT / "infra", infra)
    assert checks.check_directory(infra, cfg) == []
    text = (infra / TEMPLATE).read_text()
    endpoint = 'InvocationEndpoint: !Sub "https://api.github.com/repos/'
    widened = text.replace(endpoint, endpoint + "x")
    assert widened != text
    (infra / TEMPLATE).write_text(widened)
    found = [str(f) for f in checks.check_directory(infra, cfg)]
    assert found and all(ENDPOINT in f and f.startswith(TEMPLATE) for f in found)
    # Each event-source stack of the plan is checked: the dataset rule and each account's drift rule.
    stacks = {f.split("[", 1)[1].split(",", 1)[0] for f in found}
    model = cfg.project.model_name
    assert stacks == {
        f"{model}-retraining-new-data in {cfg.account_id('shared_services')}",
        f"{model}-retraining-drift in {cfg.account_id('qa')}",
        f"{model}-retraining-drift in {cfg.account_id('prod')}",
    }


def test_the_event_source_roles_trust_only_eventbridge_of_their_account() -> None:
    template = copy.deepcopy(checks.load_template(ROOT / "infra" / TEMPLATE))
    trust = trust_statement(template)
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    names = events_checks.event_roles(CFG)
    model = CFG.project.model_name
    assert names == {f"{model}-retraining-new-data", f"{model}-retraining-drift"}
