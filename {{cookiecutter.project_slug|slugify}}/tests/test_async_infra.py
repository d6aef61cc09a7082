"""Async endpoints in the infrastructure: topics and grants only for async environments, and the
policy checks' async rules (infra/checks/async_io.py), each with a widening the checks report.

The endpoint role reads requests and writes answers under its environment's async prefixes and
publishes to its topics; the environment's deploy role puts requests and reads answers (its
endpoint tests); nothing else touches them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deploy_helpers import make_config, module
from deploy_scenarios import PROD_REAL_TIME
from test_access import resolved
from test_async_deploy import QA_ASYNC
from test_infra_authority import widen
from test_infra_policies import INFRA, assert_only, checks, findings_for

plan_module = module("infra.plan")
async_probes = module("infra.checks.async_io").async_probes
PROD_ASYNC = {**QA_ASYNC, "instance_count": 1}
CAPTURE = "arn:${AWS::Partition}:s3:::${CaptureBucketName}"
ENDPOINT = ("EndpointRole", "endpoint-runtime")
DEPLOY = ("DeployRole", "deploy-endpoint")


def both_async(layout: str):
    return make_config(layout, qa=QA_ASYNC, prod=PROD_ASYNC)


def may(cfg, role: str, what: str) -> str:
    return f"role {cfg.role_name(role)} may {what} ("


CFG = both_async("four")
# (id, layout, template, stack, mutation, expected role, expected probe)
FIXTURES = [
    (
        "the endpoint role writes requests",
        "four",
        "workload.yaml",
        None,
        widen(ENDPOINT[0], "QaAsyncAnswers", ENDPOINT[1], ["${CaptureBucket.Arn}/async/qa/input/*"]),
        "sagemaker_endpoint",
        "write async requests of qa",
    ),
    (
        "the endpoint role reads the answers",
        "four",
        "workload.yaml",
        None,
        widen(ENDPOINT[0], "QaAsyncRequests", ENDPOINT[1], ["${CaptureBucket.Arn}/async/qa/output/*"]),
        "sagemaker_endpoint",
        "read async answers of qa",
    ),
    (
        "the QA deploy role writes answers",
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(DEPLOY[0], "ReadAsyncAnswers", DEPLOY[1], actions=["s3:PutObject"]),
        "github_deploy_qa",
        "write async answers of qa",
    ),
    (
        "the QA deploy role reads the requests",
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(DEPLOY[0], "PutAsyncRequests", DEPLOY[1], actions=["s3:GetObject"]),
        "github_deploy_qa",
        "read async requests of qa",
    ),
    (
        "the QA deploy role puts prod's requests in a shared account",
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(DEPLOY[0], "PutAsyncRequests", DEPLOY[1], [CAPTURE + "/async/prod/input/*"]),
        "github_deploy_qa",
        "write async requests of prod",
    ),
    (
        "the QA deploy role reads prod's answers in a shared account",
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(DEPLOY[0], "ReadAsyncAnswers", DEPLOY[1], [CAPTURE + "/async/prod/output/*"]),
        "github_deploy_qa",
        "read async answers of prod",
    ),
    (
        "the deploy role publishes to any topic of its account",
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(
            DEPLOY[0],
            "PublishAlerts",
            DEPLOY[1],
            ["arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*"],
        ),
        "github_deploy_qa",
        "publish async notifications of qa",
    ),
]


@pytest.mark.parametrize(
    ("layout", "template", "stack", "mutate", "role", "what"),
    [f[1:] for f in FIXTURES],
    ids=[f[0] for f in FIXTURES],
)
def test_each_async_widening_is_a_finding(layout, template, stack, mutate: Callable, role, what) -> None:
    cfg = both_async(layout)
    assert findings_for(template, stack_key=stack, cfg=cfg) == []
    found = findings_for(template, mutate, stack_key=stack, cfg=cfg)
    assert_only(found, may(cfg, role, what))


def test_every_async_rule_has_a_fixture() -> None:
    covered = {f[6].rsplit(" of ", 1)[0] for f in FIXTURES}
    kinds = {p.what.rsplit(" of ", 1)[0] for p in async_probes(CFG)}
    assert kinds - covered == set()


@pytest.mark.parametrize("layout", ["four", "single", "baked"])
def test_the_templates_with_async_environments_pass_every_check(layout) -> None:
    assert checks.check_directory(INFRA, both_async(layout)) == []


def test_only_async_environments_get_topics_and_grants() -> None:
    cfg = make_config("single", qa=QA_ASYNC, prod=PROD_REAL_TIME)
    specs = {s.key: s.parameters for s in plan_module.plan(cfg)}
    (workload,) = [v for k, v in specs.items() if k.startswith("workload:")]
    endpoint = cfg.environment("qa").endpoint_name
    assert workload["QaAsyncTopicPrefix"] == f"{endpoint}-async"
    assert workload["QaAsyncTesterRoleName"] == cfg.role_name("github_deploy_qa")
    assert workload["ProdAsyncTopicPrefix"] == workload["ProdAsyncTesterRoleName"] == ""
    assert specs["deploy-qa"]["AsyncPrefix"] == "async/qa/"
    assert specs["deploy-prod"]["AsyncPrefix"] == ""
    ((_, resolver, _),) = resolved(cfg, "workload.yaml")
    topics = {
        resolver.value(r["Properties"]["TopicName"])
        for r in resolver.template["Resources"].values()
        if r["Type"] == "AWS::SNS::Topic" and ("Condition" not in r or resolver.condition(r["Condition"]))
    }
    assert topics == {cfg.names.alerts_topic, f"{endpoint}-async-success", f"{endpoint}-async-error"}


def test_without_async_environments_nothing_async_is_granted() -> None:
    cfg = make_config("four")
    for spec in plan_module.plan(cfg):
        params = spec.parameters
        assert all(
            params.get(k, "") == "" for k in ("QaAsyncTopicPrefix", "ProdAsyncTopicPrefix", "AsyncPrefix")
        )
