"""The monitoring role, the alerts key and topic, and the deploy role's monitoring rights in infra/.

Policy checks: each monitoring rule (infra/checks/monitoring.py, and the key-policy rule for
CloudWatch in infra/checks/keys.py) has a widening fixture the checks report, and the last test
proves every monitoring probe has one. Outcomes (tests/iam_eval.py on the deployed policies): the
monitoring role reads its environment's baselines and writes no artifact prefix; the deploy role
passes the endpoint and monitoring roles and no other role of its account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy_helpers import make_config, module
from test_authority import Attacker, _sid, on
from test_infra_authority import BEYOND, widen
from test_infra_policies import assert_only, findings_for, statement

CFG = make_config("four")
ROLE = CFG.role_name
probes = module("infra.checks.monitoring").monitoring_probes
CAPTURE = "${CaptureBucket.Arn}"


def may(role: str, what: str) -> str:
    return f"role {ROLE(role)} may {what} ("


def key_statement(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda t: change(statement(t, "AlertsKey", "CloudWatchAlarms"))


# (id, template, stack, mutation, expected findings)
FIXTURES = [
    (
        "the endpoint writes monitoring reports (the whole capture bucket)",
        "workload.yaml",
        "workload:444444444444",
        lambda t: statement(t, "EndpointRole", "WriteDataCapture", "endpoint-runtime").update(
            Resource={"Fn::Sub": CAPTURE + "/*"}
        ),
        [
            may("sagemaker_endpoint", "write monitoring reports of prod"),
            may("sagemaker_endpoint", "write batch input of prod"),
            may("sagemaker_endpoint", "write transform test inputs of prod"),
            may("sagemaker_endpoint", "write transform test outputs of prod"),
        ],
    ),
    (
        "the monitoring role writes data capture",
        "workload.yaml",
        "workload:444444444444",
        widen("MonitorRole", "WriteReports", "monitoring-jobs", [CAPTURE + "/data-capture/*"]),
        [may("sagemaker_monitor", "write data capture of prod")],
    ),
    (
        "the monitoring role passes itself",
        "workload.yaml",
        "workload:444444444444",
        lambda t: statement(t, "MonitorRole", "ReadCaptures", "monitoring-jobs").update(
            Action=["s3:GetObject", "iam:PassRole"],
            Resource=[
                {"Fn::Sub": CAPTURE + "/data-capture/*"},
                {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MonitorRoleName}"},
            ],
        ),
        [BEYOND, may("sagemaker_monitor", "pass the monitoring role of prod")],
    ),
    (
        "the monitoring role writes the prod prefix",
        "workload.yaml",
        "workload:444444444444",
        widen("MonitorRole", "ReadBaselines", "monitoring-jobs", actions=["s3:PutObject"]),
        [BEYOND, may("sagemaker_monitor", "write the prod prefix")],
    ),
    (
        "CloudWatch may use the alerts key for any account",
        "workload.yaml",
        "workload:444444444444",
        key_statement(lambda s: s.pop("Condition")),
        ["grants the key to cloudwatch.amazonaws.com without StringEquals aws:SourceAccount 444444444444"],
    ),
    (
        "CloudWatch may encrypt with the alerts key",
        "workload.yaml",
        "workload:444444444444",
        key_statement(lambda s: s.update(Action=["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"])),
        ["grants kms:Encrypt to cloudwatch.amazonaws.com"],
    ),
    (
        "another service may use the alerts key",
        "workload.yaml",
        "workload:444444444444",
        key_statement(
            lambda s: s.update(Principal={"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]})
        ),
        ["only cloudwatch.amazonaws.com (alarms) may be named"],
    ),
]


@pytest.mark.parametrize(
    ("template", "stack", "mutate", "expected"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_each_monitoring_widening_is_a_finding(
    template: str, stack: str, mutate: Callable, expected: list[str]
) -> None:
    assert findings_for(template, stack_key=stack) == []
    assert_only(findings_for(template, mutate, stack_key=stack), *expected)


def test_every_monitoring_rule_has_a_fixture() -> None:
    expected = " ".join(text for fixture in FIXTURES for text in fixture[4])
    # The probes are per environment; each kind must be caught for one environment at least.
    kinds = {p.what.rsplit(" of ", 1)[0] for p in probes(CFG)}
    assert {k for k in kinds if f" may {k} of " not in expected} == set()


# --- outcomes on the deployed policies ----------------------------------------------------------


@pytest.fixture(scope="module", params=["four", "single"])
def world(request: pytest.FixtureRequest) -> Attacker:
    return Attacker(request.param)


def monitor(a: Attacker, env: str) -> str:
    return a.arn("sagemaker_monitor", env)


def test_the_monitoring_role_reads_its_baselines_and_writes_no_artifact(world: Attacker) -> None:
    a = world
    assert a.get(monitor(a, "prod"), a.obj("prod", "7/data/constraints.json"))
    assert a.get(monitor(a, "qa"), a.obj("dev", "exec1/data/statistics.json"))
    for env in ("qa", "prod"):
        for scope in ("feature", "dev", "prod", "datasets", "none"):
            assert not a.put(monitor(a, env), a.obj(scope, "exec1/model.tar.gz"))
    if not a.cfg.single_account:
        assert not a.get(monitor(a, "prod"), a.obj("dev", "exec1/data/statistics.json"))
        assert not a.get(monitor(a, "prod"), a.obj("feature"))


def test_the_deploy_roles_read_the_baseline_constraints(world: Attacker) -> None:
    a = world
    assert a.get(a.who("github_deploy_qa"), a.obj("dev", "exec1/data/constraints.json"))
    assert a.get(a.who("github_deploy_prod"), a.obj("prod", "7/data/constraints.json"))


def _passes(a: Attacker, env: str, role_name: str) -> bool:
    account = a.cfg.environment(env).account
    ctx = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    return a.can(
        a.who(f"github_deploy_{env}"), [("iam:PassRole", f"arn:aws:iam::{account}:role/{role_name}", ctx)]
    )


def test_the_deploy_role_passes_only_the_endpoint_and_monitoring_roles(world: Attacker) -> None:
    a = world
    for env in ("qa", "prod"):
        assert _passes(a, env, ROLE("sagemaker_endpoint"))
        assert _passes(a, env, ROLE("sagemaker_monitor"))
        for other in ("github_deploy_qa", "github_deploy_prod", "sagemaker_pipeline", "data_scientist"):
            assert not _passes(a, env, ROLE(other)), other
        assert not _passes(a, env, "some-admin-role")


def test_a_deploy_role_passing_every_role_is_caught_by_the_outcome_test() -> None:
    """Mutation: PassMonitorRole on role/* lets the deploy pass any role of its account."""

    def everything(t: dict[str, Any]) -> None:
        _sid(t, "DeployRole", "PassMonitorRole")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"
        }

    a = Attacker("four", on("workload-deploy.yaml", everything))
    assert _passes(a, "prod", "some-admin-role")
