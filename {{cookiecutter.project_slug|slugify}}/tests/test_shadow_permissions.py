"""What the shadow comparison may read: prod's data capture and its variants' metrics, nothing more.

`shadow compare` runs as the prod deploy role: GetMetricData for the endpoint's variants, then
ListObjectsV2 (with the variant's prefix under `data-capture/prod/`) and GetObject on the files.
Policy checks: each widening of those reads (infra/checks/capture.py) has a fixture the checks
report, and one test proves every capture rule has one. Outcomes (tests/iam_eval.py on the
deployed identity policies, the capture bucket's policy and the capture key's policy): the prod
deploy role lists and reads prod captures and decrypts them through S3, and cannot write them,
read QA's captures or the monitoring reports; the QA deploy role reads no capture and no metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy_helpers import make_config, module
from iam_eval import World
from test_access import resolved
from test_authority import Attacker, Mutation, _sid, on
from test_infra_authority import widen
from test_infra_policies import assert_only, findings_for, statement

plan_module = module("infra.plan")
capture_probes = module("infra.checks.capture").capture_probes
CFG = make_config("four")
ROLE = CFG.role_name
CAPTURE = "arn:${AWS::Partition}:s3:::${CaptureBucketName}"
DEPLOY = ("DeployRole", "deploy-endpoint")


def may(role: str, what: str) -> str:
    return f"role {ROLE(role)} may {what} ("


def in_deploy(sid: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda t: change(statement(t, DEPLOY[0], sid, DEPLOY[1]))


# (id, config layout, stack, mutation, expected findings)
FIXTURES = [
    (
        "the prod deploy reads the whole capture bucket",
        "four",
        "deploy-prod",
        in_deploy("ReadDataCapture", lambda s: s.update(Resource={"Fn::Sub": CAPTURE + "/*"})),
        [
            may("github_deploy_prod", "read monitoring reports of prod"),
            may("github_deploy_prod", "read batch input of prod"),
            may("github_deploy_prod", "read batch output of prod"),
            may("github_deploy_prod", "read transform test inputs of prod"),
            may("github_deploy_prod", "read transform test outputs of prod"),
        ],
    ),
    (
        "the prod deploy reads QA's capture in a shared account",
        "single",
        "deploy-prod",
        widen(*DEPLOY[:1], "ReadDataCapture", DEPLOY[1], [CAPTURE + "/data-capture/*"]),
        [may("github_deploy_prod", "read data capture of qa")],
    ),
    (
        "the prod deploy lists the whole capture bucket",
        "four",
        "deploy-prod",
        in_deploy("ListDataCapture", lambda s: s.pop("Condition")),
        [
            may("github_deploy_prod", "list monitoring reports of prod"),
            may("github_deploy_prod", "list batch input of prod"),
            may("github_deploy_prod", "list batch output of prod"),
            may("github_deploy_prod", "list transform test inputs of prod"),
            may("github_deploy_prod", "list transform test outputs of prod"),
        ],
    ),
    (
        "the prod deploy lists QA's capture in a shared account",
        "single",
        "deploy-prod",
        in_deploy(
            "ListDataCapture", lambda s: s["Condition"]["StringLike"].update({"s3:prefix": "data-capture/*"})
        ),
        [may("github_deploy_prod", "list data capture of qa")],
    ),
    (
        "the prod deploy writes data capture",
        "four",
        "deploy-prod",
        widen(*DEPLOY[:1], "ReadDataCapture", DEPLOY[1], actions=["s3:PutObject"]),
        [may("github_deploy_prod", "write data capture of prod")],
    ),
    (
        "the prod deploy decrypts any bucket's objects with the account's keys",
        "four",
        "deploy-prod",
        in_deploy("DecryptDataCapture", lambda s: s["Condition"].pop("StringLike")),
        [may("github_deploy_prod", "decrypt another bucket's objects with a key of the prod account")],
    ),
]


@pytest.mark.parametrize(
    ("layout", "stack", "mutate", "expected"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_each_capture_widening_is_a_finding(
    layout: str, stack: str, mutate: Callable, expected: list[str]
) -> None:
    cfg = make_config(layout)
    assert findings_for("workload-deploy.yaml", stack_key=stack, cfg=cfg) == []
    found = findings_for("workload-deploy.yaml", mutate, stack_key=stack, cfg=cfg)
    assert_only(found, *expected)


def test_the_qa_deploy_role_given_the_capture_reads_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan granting QA's deploy role the shadow comparison's reads: the checks name each."""
    monkeypatch.setattr(plan_module, "SHADOW_ENVIRONMENTS", ("qa", "prod"))
    found = findings_for("workload-deploy.yaml", stack_key="deploy-qa")
    assert_only(
        found,
        may("github_deploy_qa", "read data capture of qa"),
        may("github_deploy_qa", "list data capture of qa"),
    )


def test_every_capture_rule_has_a_fixture() -> None:
    expected = " ".join(text for fixture in FIXTURES for text in fixture[4])
    expected += (
        " "
        + may("github_deploy_qa", "read data capture of qa")
        + may("github_deploy_qa", "list data capture of qa")
    )
    kinds = {p.what.rsplit(" of ", 1)[0] for p in capture_probes(CFG)}
    assert {k for k in kinds if f" may {k} of " not in expected} == set()


def test_only_prod_gets_the_comparison_parameters() -> None:
    for layout in ("four", "single", "baked"):
        cfg = make_config(layout)
        specs = {s.key: s.parameters for s in plan_module.plan(cfg)}
        prod = cfg.environment("prod")
        assert specs["deploy-prod"]["CaptureBucketName"] == prod.capture_bucket
        assert specs["deploy-prod"]["CaptureReadPrefix"] == "data-capture/prod/"
        assert prod.capture_uri == f"s3://{prod.capture_bucket}/data-capture/prod"
        assert specs["deploy-qa"]["CaptureReadPrefix"] == ""


# --- outcomes on the deployed policies ----------------------------------------------------------


class Capture:
    """One layout's deployed policies, with each workload account's capture bucket and key."""

    def __init__(self, layout: str, mutate: Mutation | None = None) -> None:
        self.attacker = a = Attacker(layout, mutate)
        self.cfg = cfg = a.cfg
        self.worlds: dict[str, tuple[World, str]] = {}
        change = (lambda t: mutate("workload.yaml", t)) if mutate else None
        for spec, resolver, _ in resolved(cfg, "workload.yaml", change):
            bucket = resolver.properties("CaptureBucket")["BucketName"]
            key = resolver.attribute("CaptureKey", "Arn")
            world = World(bucket, spec.account, a.world.identity)
            world.resource_policies += [
                (key, resolver.properties("CaptureKey")["KeyPolicy"]["Statement"]),
                (
                    f"arn:aws:s3:::{bucket}*",
                    resolver.properties("CaptureBucketPolicy")["PolicyDocument"]["Statement"],
                ),
            ]
            self.worlds[spec.account] = (world, key)

    def _world(self, env: str) -> tuple[World, str]:
        return self.worlds[self.cfg.environment(env).account]

    def deploy(self, env: str) -> str:
        return self.attacker.arn(f"github_deploy_{env}", env)

    def file(self, env: str, where: str = "data-capture") -> str:
        """A key of `env`'s capture bucket: a capture file of its endpoint, or a monitoring report."""
        endpoint = self.cfg.environment(env).endpoint_name
        if where == "monitoring":
            return f"monitoring/{env}/data-quality/constraint_violations.json"
        return f"data-capture/{env}/{endpoint}/Shadow/2025/01/31/12/00-00-000-abc.jsonl"

    def _via_s3(self, world: World) -> dict[str, str]:
        return {
            "kms:ViaService": f"s3.{self.cfg.region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{world.bucket}",
        }

    def read(self, role: str, env: str, key: str) -> bool:
        world, kms = self._world(env)
        arn = f"arn:aws:s3:::{world.bucket}/{key}"
        return world.all_allowed(role, [("s3:GetObject", arn, {}), ("kms:Decrypt", kms, self._via_s3(world))])

    def write(self, role: str, env: str, key: str) -> bool:
        """PutObject alone: a writer may ask for SSE-S3 and so need no key at all."""
        world, _ = self._world(env)
        return world.allowed(role, "s3:PutObject", f"arn:aws:s3:::{world.bucket}/{key}")

    def lists(self, role: str, env: str, prefix: str) -> bool:
        world, _ = self._world(env)
        return world.allowed(role, "s3:ListBucket", f"arn:aws:s3:::{world.bucket}", {"s3:prefix": prefix})

    def metrics(self, role: str, env: str) -> bool:
        world, _ = self._world(env)
        account = self.cfg.environment(env).account
        return world.allowed(
            role, "cloudwatch:GetMetricData", f"arn:aws:cloudwatch:{self.cfg.region}:{account}:*"
        )


@pytest.fixture(scope="module", params=["four", "single", "baked"])
def capture(request: pytest.FixtureRequest) -> Capture:
    return Capture(request.param)


def test_the_prod_deploy_reads_prod_captures_and_metrics(capture: Capture) -> None:
    c, prod = capture, capture.deploy("prod")
    endpoint = c.cfg.environment("prod").endpoint_name
    assert c.lists(prod, "prod", f"data-capture/prod/{endpoint}/Shadow/")
    assert c.lists(prod, "prod", f"data-capture/prod/{endpoint}/AllTraffic/")
    assert c.read(prod, "prod", c.file("prod"))
    assert c.metrics(prod, "prod")


def test_the_prod_deploy_writes_no_capture_and_reads_nothing_else_there(capture: Capture) -> None:
    c, prod = capture, capture.deploy("prod")
    for env in ("qa", "prod"):
        assert not c.write(prod, env, c.file(env))
        assert not c.read(prod, env, c.file(env, "monitoring"))
        assert not c.lists(prod, env, f"monitoring/{env}/")
        assert not c.lists(prod, env, "")
    assert not c.read(prod, "qa", c.file("qa"))
    assert not c.lists(prod, "qa", "data-capture/qa/")


def test_the_qa_deploy_reads_no_capture_and_no_metric(capture: Capture) -> None:
    c, qa = capture, capture.deploy("qa")
    for env in ("qa", "prod"):
        assert not c.read(qa, env, c.file(env))
        assert not c.lists(qa, env, f"data-capture/{env}/")
        assert not c.read(qa, env, c.file(env, "monitoring"))
    assert not c.metrics(qa, "qa")


def test_a_prod_deploy_reading_the_whole_capture_bucket_is_caught_by_the_outcome_test() -> None:
    """Mutation: ReadDataCapture on the whole capture bucket lets the prod deploy read reports."""

    def everything(t: dict[str, Any]) -> None:
        _sid(t, "DeployRole", "ReadDataCapture")["Resource"] = {"Fn::Sub": CAPTURE + "/*"}

    c = Capture("four", on("workload-deploy.yaml", everything))
    assert c.read(c.deploy("prod"), "prod", c.file("prod", "monitoring"))
