"""A batch-only project (endpoint type "none") in the infrastructure: the transform test's grants.

With no endpoint, `endpoint-test` is a transform test run by the environment's deploy role: it
puts the test rows under `batch/<env>/tests/input/` of the capture bucket, creates a transform job
`<endpoint>-t<hex>` on the model the deploy created, and reads the output under
`batch/<env>/tests/output/`; the job runs as the endpoint role. The parameters
(infra/batch_test_parameters.py) turn those grants on only for batch-only environments.

Policy checks (infra/checks/batch_tests.py): each rule has a widening (or a missing grant) the
checks report, on a batch-only config and on the default endpoint config. Outcomes (tests/iam_eval.py
on the deployed identity policies, each capture bucket's policy and each capture key's policy):
the QA deploy role of a batch-only config runs its own test jobs on its own models only, never
the batch role's `-b` jobs, never on another model, never writes the scheduled run's input or
another environment's prefixes; in an endpoint config the deploy role gets none of it; the
endpoint role reads and writes the tests prefixes only when batch-only. Each outcome attack is
also shown to succeed once its one control is loosened.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from deploy_helpers import REAL_TIME_PROD, config, make_raw, module
from iam_eval import World, build_world
from test_access import resolved
from test_infra_authority import widen
from test_infra_policies import INFRA, assert_only, checks, findings_for, statement

plan_module = module("infra.plan")
parameters = module("infra.batch_test_parameters")
batch_tests = module("infra.checks.batch_tests")
job_name = module("batch.job").job_name
CAPTURE = "arn:${AWS::Partition}:s3:::${CaptureBucketName}"
BUCKET = "${CaptureBucket.Arn}"
DEPLOY = ("DeployRole", "deploy-endpoint")
ENDPOINT = ("EndpointRole", "endpoint-runtime")
LAYOUTS = ("four", "single", "baked")


def batch_only(layout: str) -> Any:
    """The rendered config with both environments batch-only (endpoint type "none"; prod without
    data capture, autoscaling or a shadow), whichever `serving` option baked it."""
    raw = make_raw(layout)
    for env in ("qa", "prod"):
        endpoint = raw["environments"][env]["endpoint"]
        endpoint["type"] = "none"
        for option in ("data_capture", "autoscaling"):
            if option in endpoint:
                endpoint[option]["enabled"] = False
    raw["champion"]["shadow"]["enabled"] = False
    return config.parse(raw)


def with_endpoints(layout: str) -> Any:
    """The rendered config where it serves endpoints; a real-time endpoint in each environment
    where it was baked batch-only (the `batch-only` option), so both kinds are tested in any bake."""
    raw = make_raw(layout)
    for env in ("qa", "prod"):
        if raw["environments"][env]["endpoint"].get("type") == "none":
            raw["environments"][env]["endpoint"] = copy.deepcopy(REAL_TIME_PROD)
    return config.parse(raw)


def specs_of(cfg: Any) -> dict[str, dict[str, str]]:
    return {s.key: s.parameters for s in plan_module.plan(cfg)}


# --- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["four", "single"])
def test_a_batch_only_config_gets_the_tests_prefix_for_each_environment(layout: str) -> None:
    cfg = batch_only(layout)
    specs = specs_of(cfg)
    for env in ("qa", "prod"):
        prefix = specs[f"deploy-{env}"]["BatchTestPrefix"]
        assert prefix == f"batch/{env}/tests/"
        assert {use: prefix + f"{use}/" for use in ("input", "output")} == dict(
            cfg.names.batch_test_prefixes[env]
        )
    workloads = {k.split(":", 1)[1]: v for k, v in specs.items() if k.startswith("workload:")}
    for account, params in workloads.items():
        hosted = [env for env in ("qa", "prod") if cfg.environment(env).account == account]
        for env in ("qa", "prod"):
            expected = f"batch/{env}/tests/" if env in hosted else ""
            assert params[f"{env.capitalize()}BatchTestPrefix"] == expected, (account, env)
    assert len(workloads) == (2 if layout == "four" else 1)


def test_a_batch_only_prod_deploy_role_reads_no_capture() -> None:
    """No endpoint, no shadow phase, nothing captured: a batch-only prod's deploy role gets no
    shadow-comparison reads (an endpoints prod's does)."""
    assert specs_of(batch_only("four"))["deploy-prod"]["CaptureReadPrefix"] == ""
    assert specs_of(with_endpoints("four"))["deploy-prod"]["CaptureReadPrefix"] == "data-capture/prod/"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_endpoint_config_gets_no_tests_prefix(layout: str) -> None:
    for spec in plan_module.plan(with_endpoints(layout)):
        for key in ("BatchTestPrefix", "QaBatchTestPrefix", "ProdBatchTestPrefix"):
            assert spec.parameters.get(key, "") == "", (spec.key, key)


def test_prefixes_the_templates_cannot_name_are_refused() -> None:
    cfg = batch_only("four")
    odd = {"qa": {"input": "batch/qa/tests/input/", "output": "batch/qa/test-output/"}}
    fake = SimpleNamespace(environment=cfg.environment, names=SimpleNamespace(batch_test_prefixes=odd))
    with pytest.raises(ValueError, match="batch test prefixes of qa share no parent"):
        parameters.tests_prefix(fake, "qa")
    same = {"qa": dict(cfg.names.batch_test_prefixes["qa"])}
    fake.names.batch_test_prefixes = same
    assert parameters.tests_prefix(fake, "qa") == "batch/qa/tests/"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_templates_of_a_batch_only_config_pass_every_check(layout: str) -> None:
    assert checks.check_directory(INFRA, batch_only(layout)) == []


# --- the policy checks' rules, one defect each ---------------------------------------------------


def may(cfg: Any, role: str, what: str) -> str:
    return f"role {cfg.role_name(role)} may {what} ("


def cannot(cfg: Any, role: str, what: str) -> str:
    return f"role {cfg.role_name(role)} cannot {what} ("


def deploy(sid: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda t: edit(statement(t, DEPLOY[0], sid, DEPLOY[1]))


def drop(resource: str, sid: str, policy: str) -> Callable[[dict[str, Any]], None]:
    """A mutation removing one statement (conditional ones included) of a role's inline policy."""

    def mutate(t: dict[str, Any]) -> None:
        document = next(
            p["PolicyDocument"]
            for p in t["Resources"][resource]["Properties"]["Policies"]
            if p["PolicyName"] == policy
        )
        document["Statement"] = [
            s for s in document["Statement"] if (s["Fn::If"][1] if "Fn::If" in s else s).get("Sid") != sid
        ]

    return mutate


def without_condition(item: dict[str, Any]) -> None:
    item.pop("Condition")


def add_prefix(prefix: Any) -> Callable[[dict[str, Any]], None]:
    def edit(item: dict[str, Any]) -> None:
        like = item["Condition"]["StringLike"]
        like["s3:prefix"] = [*checks.as_list(like["s3:prefix"]), prefix]

    return edit


def add_statements(where: tuple[str, str], *grants: tuple[str, str, str | None]) -> Callable:
    """A mutation adding (action, `!Sub` resource, s3:prefix or None) statements to a role's policy."""

    def mutate(t: dict[str, Any]) -> None:
        props = t["Resources"][where[0]]["Properties"]
        policy = next(p for p in props["Policies"] if p["PolicyName"] == where[1])
        for index, (action, resource, prefix) in enumerate(grants):
            item = {
                "Sid": f"Added{index}",
                "Effect": "Allow",
                "Action": action,
                "Resource": {"Fn::Sub": resource},
            }
            if prefix:
                item["Condition"] = {"StringLike": {"s3:prefix": prefix}}
            policy["PolicyDocument"]["Statement"].append(item)

    return mutate


def drop_action(action: str) -> Callable[[dict[str, Any]], None]:
    return lambda item: item.update(Action=[a for a in checks.as_list(item["Action"]) if a != action])


def grants_always(t: dict[str, Any]) -> None:
    """The deploy role's transform-test statements on whatever the parameters say."""
    t["Conditions"]["TestsTransform"] = {"Fn::Equals": ["on", "on"]}


B, E = batch_only, with_endpoints
# (id, config, layout, template, stack, mutation, expected findings as (role, what) pairs, kind)
FIXTURES = [
    (
        "the QA deploy role creates the batch role's -b jobs",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(
            *DEPLOY[:1],
            "TransformTestJobs",
            DEPLOY[1],
            [
                "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:transform-job/${EndpointName}-b*"
            ],
        ),
        [("github_deploy_qa", "create or stop transform jobs of qa")],
        "may",
    ),
    (
        "the QA deploy role's test jobs run any model",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        deploy("TransformTestJobs", without_condition),
        [("github_deploy_qa", "create transform test jobs on another model of qa")],
        "may",
    ),
    (
        "the QA deploy role creates prod's test jobs in a shared account",
        B,
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(
            *DEPLOY[:1],
            "TransformTestJobs",
            DEPLOY[1],
            ["arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:transform-job/*-t*"],
        ),
        [("github_deploy_qa", "create or stop transform test jobs of prod")],
        "may",
    ),
    (
        "the QA deploy role writes the scheduled run's input",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(
            *DEPLOY[:1], "PutTransformTestInputs", DEPLOY[1], [CAPTURE + "/batch/${EnvironmentName}/input/*"]
        ),
        [("github_deploy_qa", "write batch input of qa")],
        "may",
    ),
    (
        "the QA deploy role puts prod's test rows in a shared account",
        B,
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(*DEPLOY[:1], "PutTransformTestInputs", DEPLOY[1], [CAPTURE + "/batch/prod/tests/input/*"]),
        [("github_deploy_qa", "write transform test inputs of prod")],
        "may",
    ),
    (
        "the QA deploy role forges the test output",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(*DEPLOY[:1], "ReadTransformTestOutputs", DEPLOY[1], actions=["s3:PutObject"]),
        [("github_deploy_qa", "write transform test outputs of qa")],
        "may",
    ),
    (
        "the QA deploy role reads the test rows back",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(*DEPLOY[:1], "PutTransformTestInputs", DEPLOY[1], actions=["s3:GetObject"]),
        [("github_deploy_qa", "read transform test inputs of qa")],
        "may",
    ),
    (
        "the QA deploy role lists the test rows",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        deploy("ListTransformTestOutputs", add_prefix({"Fn::Sub": "${BatchTestPrefix}input/*"})),
        [("github_deploy_qa", "list transform test inputs of qa")],
        "may",
    ),
    (
        "the QA deploy role lists prod's test output in a shared account",
        B,
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        deploy("ListTransformTestOutputs", add_prefix("batch/prod/tests/output/*")),
        [
            ("github_deploy_qa", "list transform test outputs of prod"),
            ("github_deploy_qa", "list the versions of transform test outputs of prod"),
        ],
        "may",
    ),
    (
        "the QA deploy role reads prod's test output in a shared account",
        B,
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(*DEPLOY[:1], "ReadTransformTestOutputs", DEPLOY[1], [CAPTURE + "/batch/prod/tests/output/*"]),
        [("github_deploy_qa", "read transform test outputs of prod")],
        "may",
    ),
    (
        "the endpoint role reads the test output",
        B,
        "four",
        "workload.yaml",
        None,
        widen(*ENDPOINT[:1], "ReadTransformTestInputs", ENDPOINT[1], [BUCKET + "/batch/qa/tests/output/*"]),
        [("sagemaker_endpoint", "read transform test outputs of qa")],
        "may",
    ),
    (
        "an endpoint config's deploy role runs test jobs",
        E,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        grants_always,
        [("github_deploy_qa", "create or stop transform test jobs of qa")],
        "may",
    ),
    (
        "an endpoint config's deploy role puts test rows",
        E,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(
            *DEPLOY[:1],
            "InvokeForEndpointTests",
            DEPLOY[1],
            [CAPTURE + "/batch/qa/tests/input/*"],
            ["s3:PutObject"],
        ),
        [("github_deploy_qa", "write transform test inputs of qa")],
        "may",
    ),
    (
        "an endpoint config's deploy role reads and lists test output",
        E,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        add_statements(
            DEPLOY,
            ("s3:GetObject", CAPTURE + "/batch/qa/tests/output/*", None),
            ("s3:ListBucket", CAPTURE, "batch/qa/tests/output/*"),
        ),
        [
            ("github_deploy_qa", "read transform test outputs of qa"),
            ("github_deploy_qa", "list transform test outputs of qa"),
        ],
        "may",
    ),
    (
        "an endpoint config's endpoint role reads, lists and writes the tests prefixes",
        E,
        "four",
        "workload.yaml",
        None,
        add_statements(
            ENDPOINT,
            ("s3:GetObject", BUCKET + "/batch/qa/tests/input/*", None),
            ("s3:ListBucket", BUCKET, "batch/qa/tests/input/*"),
            ("s3:PutObject", BUCKET + "/batch/qa/tests/output/*", None),
        ),
        [
            ("sagemaker_endpoint", "read transform test inputs of qa"),
            ("sagemaker_endpoint", "list transform test inputs of qa"),
            ("sagemaker_endpoint", "write transform test outputs of qa"),
        ],
        "may",
    ),
    # Missing grants: the checks' other half (what the test needs).
    (
        "the QA deploy role cannot create its test jobs",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        drop(*DEPLOY[:1], "TransformTestJobs", DEPLOY[1]),
        [("github_deploy_qa", "create its transform test jobs")],
        "cannot",
    ),
    (
        "the QA deploy role cannot tag its test jobs",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        deploy("ManageTransformTestJobs", drop_action("sagemaker:AddTags")),
        [("github_deploy_qa", "tag, describe and stop its transform test jobs")],
        "cannot",
    ),
    (
        "the QA deploy role cannot pass the endpoint role",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        drop(*DEPLOY[:1], "PassEndpointRole", DEPLOY[1]),
        [("github_deploy_qa", "pass the endpoint role to SageMaker")],
        "cannot",
    ),
    (
        "the QA deploy role cannot put the test rows",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        drop(*DEPLOY[:1], "PutTransformTestInputs", DEPLOY[1]),
        [("github_deploy_qa", "put the transform test rows")],
        "cannot",
    ),
    (
        "the QA deploy role cannot read the test output",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        drop(*DEPLOY[:1], "ReadTransformTestOutputs", DEPLOY[1]),
        [("github_deploy_qa", "read the transform test output")],
        "cannot",
    ),
    (
        "the QA deploy role cannot list the test output",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        drop(*DEPLOY[:1], "ListTransformTestOutputs", DEPLOY[1]),
        [("github_deploy_qa", "list the transform test output and its versions")],
        "cannot",
    ),
    (
        "the QA deploy role cannot use the capture key",
        B,
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        drop(*DEPLOY[:1], "TransformTestCaptureKey", DEPLOY[1]),
        [("github_deploy_qa", "use the capture key through S3")],
        "cannot",
    ),
    (
        "the endpoint role cannot list the test rows",
        B,
        "four",
        "workload.yaml",
        None,
        drop(*ENDPOINT[:1], "ListTransformTestInputs", ENDPOINT[1]),
        [("sagemaker_endpoint", "list the transform test rows")],
        "cannot",
    ),
    (
        "the endpoint role cannot read the test rows",
        B,
        "four",
        "workload.yaml",
        None,
        drop(*ENDPOINT[:1], "ReadTransformTestInputs", ENDPOINT[1]),
        [("sagemaker_endpoint", "read the transform test rows")],
        "cannot",
    ),
    (
        "the endpoint role cannot write the test output",
        B,
        "four",
        "workload.yaml",
        None,
        drop(*ENDPOINT[:1], "WriteTransformTestOutputs", ENDPOINT[1]),
        [("sagemaker_endpoint", "write the transform test output")],
        "cannot",
    ),
]


@pytest.mark.parametrize(
    ("make", "layout", "template", "stack", "mutate", "expected", "kind"),
    [f[1:] for f in FIXTURES],
    ids=[f[0] for f in FIXTURES],
)
def test_each_defect_is_a_finding(make, layout, template, stack, mutate, expected, kind) -> None:
    cfg = make(layout)
    assert findings_for(template, stack_key=stack, cfg=cfg) == []
    found = findings_for(template, mutate, stack_key=stack, cfg=cfg)
    phrase = may if kind == "may" else cannot
    assert_only(found, *(phrase(cfg, role, what) for role, what in expected))


def test_every_rule_and_need_has_a_fixture() -> None:
    cfg = batch_only("single")
    covered = {what for f in FIXTURES for _, what in f[6]}
    kinds = {p.what.rsplit(" of ", 1)[0] for p in batch_tests.batch_test_probes(cfg)}
    assert {k for k in kinds if not any(c.startswith(k + " of ") for c in covered)} == set()
    needs = {
        need.what
        for env in ("qa", "prod")
        for ps in batch_tests.transform_test_needs(cfg, env).values()
        for need in ps
    }
    assert needs - covered == set()


# --- outcomes on the deployed policies ----------------------------------------------------------

Mutation = Callable[[str, dict[str, Any]], None]


class Deployed:
    """One config's deployed policies, with each workload account's capture bucket and key."""

    def __init__(self, cfg: Any, mutate: Mutation | None = None) -> None:
        self.cfg = cfg

        def resolve(template: str) -> list[tuple[Any, Any, set[str]]]:
            return resolved(cfg, template, (lambda t: mutate(template, t)) if mutate else None)

        identity, _ = build_world(cfg, resolve)
        self.worlds: dict[str, tuple[World, str]] = {}
        for spec, resolver, _ in resolve("workload.yaml"):
            bucket = resolver.properties("CaptureBucket")["BucketName"]
            key = resolver.attribute("CaptureKey", "Arn")
            world = World(bucket, spec.account, identity.identity)
            world.resource_policies += [
                (key, resolver.properties("CaptureKey")["KeyPolicy"]["Statement"]),
                (
                    f"arn:aws:s3:::{bucket}*",
                    resolver.properties("CaptureBucketPolicy")["PolicyDocument"]["Statement"],
                ),
            ]
            self.worlds[spec.account] = (world, key)

    def of(self, env: str) -> tuple[World, str]:
        return self.worlds[self.cfg.environment(env).account]

    def role(self, key: str, env: str) -> str:
        return f"arn:aws:iam::{self.cfg.environment(env).account}:role/{self.cfg.role_name(key)}"

    def deploy(self, env: str) -> str:
        return self.role(f"github_deploy_{env}", env)

    def endpoint(self, env: str) -> str:
        return self.role("sagemaker_endpoint", env)

    def arn(self, env: str, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.cfg.region}:{self.cfg.environment(env).account}:{kind}/{name}"

    def test_job(self, env: str) -> str:
        return f"{self.cfg.environment(env).endpoint_name}-t0123456789"

    def model(self, env: str) -> str:
        return self.arn(env, "model", f"{self.cfg.environment(env).endpoint_name}-v3-0a1b2c3d")

    def creates_job(self, role: str, env: str, name: str, model: str, tags: bool = False) -> bool:
        """CreateTransformJob in `env`'s account on `model`; with `tags` (AddTags on the job too)
        as the transform test calls it, without as an attacker would."""
        world, _ = self.of(env)
        job = self.arn(env, "transform-job", name)
        calls = [("sagemaker:CreateTransformJob", job, {"sagemaker:ModelArn": model})]
        return world.all_allowed(role, calls + ([("sagemaker:AddTags", job, {})] if tags else []))

    def _via_s3(self, env: str) -> dict[str, str]:
        world, _ = self.of(env)
        return {
            "kms:ViaService": f"s3.{self.cfg.region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{world.bucket}",
        }

    def put(self, role: str, env: str, key: str) -> bool:
        """PutObject with SSE-KMS under the capture key, as the test runner writes its rows."""
        world, kms = self.of(env)
        arn = f"arn:aws:s3:::{world.bucket}/{key}"
        return world.all_allowed(
            role, [("s3:PutObject", arn, {}), ("kms:GenerateDataKey", kms, self._via_s3(env))]
        )

    def writes(self, role: str, env: str, key: str) -> bool:
        """PutObject alone: a writer may ask for SSE-S3 and so need no key at all."""
        world, _ = self.of(env)
        return world.allowed(role, "s3:PutObject", f"arn:aws:s3:::{world.bucket}/{key}")

    def read(self, role: str, env: str, key: str) -> bool:
        world, kms = self.of(env)
        arn = f"arn:aws:s3:::{world.bucket}/{key}"
        return world.all_allowed(role, [("s3:GetObject", arn, {}), ("kms:Decrypt", kms, self._via_s3(env))])

    def gets(self, role: str, env: str, key: str) -> bool:
        world, _ = self.of(env)
        return world.allowed(role, "s3:GetObject", f"arn:aws:s3:::{world.bucket}/{key}")

    def lists(self, role: str, env: str, prefix: str) -> bool:
        world, _ = self.of(env)
        return world.allowed(role, "s3:ListBucket", f"arn:aws:s3:::{world.bucket}", {"s3:prefix": prefix})

    def rows(self, env: str, target: str | None = None) -> str:
        return f"batch/{target or env}/tests/input/{self.test_job(env)}/test.csv"

    def output(self, env: str, target: str | None = None) -> str:
        return f"batch/{target or env}/tests/output/{self.test_job(env)}/test.csv.out"


@pytest.fixture(scope="module", params=["four", "single"])
def bo(request: pytest.FixtureRequest) -> Deployed:
    return Deployed(batch_only(request.param))


@pytest.fixture(scope="module", params=["four", "single"])
def endpoints(request: pytest.FixtureRequest) -> Deployed:
    return Deployed(with_endpoints(request.param))


def batch_job(d: Deployed, env: str) -> str:
    endpoint = d.cfg.environment(env).endpoint_name
    return job_name(endpoint, f"{endpoint}-v3-0a1b2c3d", f"s3://bucket/batch/{env}/input/", "2025-01-31")


def test_each_batch_only_deploy_role_runs_its_transform_test(bo: Deployed) -> None:
    d = bo
    for env in ("qa", "prod"):
        role, job = d.deploy(env), d.test_job(env)
        world, _ = d.of(env)
        assert d.creates_job(role, env, job, d.model(env), tags=True), env
        for action in ("sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"):
            assert world.allowed(role, action, d.arn(env, "transform-job", job)), (env, action)
        passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
        assert world.allowed(role, "iam:PassRole", d.endpoint(env), passed), env
        assert d.put(role, env, d.rows(env)), env
        assert d.lists(role, env, f"batch/{env}/tests/output/{job}/"), env
        assert d.read(role, env, d.output(env)), env
        # The one object version its job wrote: listed, then read by version.
        prefix = {"s3:prefix": f"batch/{env}/tests/output/{job}/"}
        assert world.allowed(role, "s3:ListBucketVersions", f"arn:aws:s3:::{world.bucket}", prefix), env
        assert world.allowed(role, "s3:GetObjectVersion", f"arn:aws:s3:::{world.bucket}/{d.output(env)}"), env
        assert not world.allowed(role, "s3:ListBucketVersions", f"arn:aws:s3:::{world.bucket}"), env


def test_the_qa_deploy_role_runs_no_other_job_and_no_other_model(bo: Deployed) -> None:
    d, qa = bo, bo.deploy("qa")
    endpoint = d.cfg.environment("qa").endpoint_name
    # The batch role's `-b` jobs, on its own model.
    assert batch_job(d, "qa").startswith(f"{endpoint}-b")
    assert not d.creates_job(qa, "qa", batch_job(d, "qa"), d.model("qa"))
    # Its own test name, on a model that is not one of its versions.
    for other in ("some-other-model", f"{endpoint}x-v3-0a1b2c3d", f"{endpoint}-shadow"):
        assert not d.creates_job(qa, "qa", d.test_job("qa"), d.arn("qa", "model", other)), other
    # Prod's test and batch jobs, on prod's model, in prod's account (which is QA's in `single`).
    assert not d.creates_job(qa, "prod", d.test_job("prod"), d.model("prod"))
    assert not d.creates_job(qa, "prod", batch_job(d, "prod"), d.model("prod"))
    assert not d.creates_job(qa, "qa", d.test_job("qa"), d.model("prod"))
    # Prod's test job names, even on a QA model: prod's names are prod's alone.
    qa_model = d.arn("prod", "model", f"{endpoint}-v3-0a1b2c3d")
    assert not d.creates_job(qa, "prod", d.test_job("prod"), qa_model)


def test_the_qa_deploy_role_writes_neither_the_scheduled_input_nor_another_prefix(bo: Deployed) -> None:
    d, qa = bo, bo.deploy("qa")
    for key in ("batch/qa/input/2025-01-31/customers.csv", f"batch/qa/output/{batch_job(d, 'qa')}/x.csv.out"):
        assert not d.writes(qa, "qa", key), key
    assert not d.writes(qa, "qa", d.output("qa"))
    for env in ("qa", "prod"):
        assert not d.writes(qa, env, "data-capture/qa/x.jsonl"), env
    assert not d.writes(qa, "prod", d.rows("qa", target="prod"))
    assert not d.writes(qa, "prod", "batch/prod/input/2025-01-31/customers.csv")
    assert not d.read(qa, "prod", d.output("prod"))
    assert not d.lists(qa, "prod", "batch/prod/tests/output/")
    assert not d.gets(qa, "qa", d.rows("qa"))
    assert not d.lists(qa, "qa", "batch/qa/input/")


def test_the_endpoint_role_reads_the_rows_and_writes_the_output_when_batch_only(bo: Deployed) -> None:
    d = bo
    for env in ("qa", "prod"):
        endpoint, job = d.endpoint(env), d.test_job(env)
        assert d.lists(endpoint, env, f"batch/{env}/tests/input/{job}/"), env
        assert d.read(endpoint, env, d.rows(env)), env
        assert d.writes(endpoint, env, d.output(env)), env
        assert not d.writes(endpoint, env, d.rows(env)), env
        assert not d.gets(endpoint, env, d.output(env)), env


def test_in_an_endpoint_config_nobody_gets_the_transform_test(endpoints: Deployed) -> None:
    d = endpoints
    for env in ("qa", "prod"):
        deploy_role, endpoint = d.deploy(env), d.endpoint(env)
        assert not d.creates_job(deploy_role, env, d.test_job(env), d.model(env)), env
        assert not d.writes(deploy_role, env, d.rows(env)), env
        assert not d.gets(deploy_role, env, d.output(env)), env
        assert not d.lists(deploy_role, env, f"batch/{env}/tests/output/"), env
        assert not d.lists(endpoint, env, f"batch/{env}/tests/input/"), env
        assert not d.gets(endpoint, env, d.rows(env)), env
        assert not d.writes(endpoint, env, d.output(env)), env


def test_only_a_batch_only_prods_batch_role_lists_the_models(bo: Deployed, endpoints: Deployed) -> None:
    """`batch run --env prod` of a batch-only prod finds the version released last among the
    deploy's models (ListModels, no resource-level permissions); no other batch role lists them."""
    for d, listing in ((bo, {"prod"}), (endpoints, set())):
        for env in ("qa", "prod"):
            world, _ = d.of(env)
            role = d.role(f"github_batch_{env}", env)
            anything = d.arn(env, "model", "any")  # ListModels is evaluated against "*"
            assert world.allowed(role, "sagemaker:ListModels", anything) == (env in listing), (env, listing)
            assert not world.allowed(d.deploy(env), "sagemaker:ListModels", anything), env


# --- each attack succeeds once its control is loosened ---------------------------------------------


def on(template_file: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(name: str, template: dict[str, Any]) -> None:
        if name == template_file:
            change(template)

    return mutate


def test_without_the_model_condition_the_qa_test_job_runs_any_model() -> None:
    d = Deployed(
        batch_only("single"), on("workload-deploy.yaml", deploy("TransformTestJobs", without_condition))
    )
    assert d.creates_job(d.deploy("qa"), "qa", d.test_job("qa"), d.model("prod"))


def test_a_test_job_pattern_covering_b_lets_the_qa_deploy_role_run_batch_jobs() -> None:
    jobs = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:transform-job/${EndpointName}-*"

    def wider(t: dict[str, Any]) -> None:
        for sid in ("TransformTestJobs", "ManageTransformTestJobs"):
            statement(t, *DEPLOY[:1], sid, DEPLOY[1])["Resource"] = {"Fn::Sub": jobs}

    d = Deployed(batch_only("four"), on("workload-deploy.yaml", wider))
    assert d.creates_job(d.deploy("qa"), "qa", batch_job(d, "qa"), d.model("qa"))


def test_a_put_on_the_environments_batch_prefix_writes_the_scheduled_input() -> None:
    def wider(t: dict[str, Any]) -> None:
        item = statement(t, *DEPLOY[:1], "PutTransformTestInputs", DEPLOY[1])
        item["Resource"] = {"Fn::Sub": CAPTURE + "/batch/${EnvironmentName}/*"}

    d = Deployed(batch_only("four"), on("workload-deploy.yaml", wider))
    assert d.writes(d.deploy("qa"), "qa", "batch/qa/input/2025-01-31/customers.csv")


def test_without_the_capture_key_statement_the_deploy_role_cannot_put_its_rows() -> None:
    """The capture key's DeployRoleTransformTests statement is what lets the deploy role encrypt
    its test rows (GenerateDataKey through S3): without it the put fails."""

    def without(t: dict[str, Any]) -> None:
        items = t["Resources"]["CaptureKey"]["Properties"]["KeyPolicy"]["Statement"]
        items[:] = [s for s in items if "DeployRoleTransformTests" not in str(s)]

    d = Deployed(batch_only("four"), on("workload.yaml", without))
    assert not d.put(d.deploy("qa"), "qa", d.rows("qa"))
    assert d.writes(d.deploy("qa"), "qa", d.rows("qa"))


def test_the_test_grants_on_unconditionally_reach_an_endpoint_config() -> None:
    d = Deployed(with_endpoints("four"), on("workload-deploy.yaml", grants_always))
    assert d.creates_job(d.deploy("qa"), "qa", d.test_job("qa"), d.model("qa"))
