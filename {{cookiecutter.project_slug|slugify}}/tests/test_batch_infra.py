"""Batch Transform in the infrastructure: who runs the jobs, who touches their inputs and outputs.

Policy checks: each batch rule (infra/checks/batch.py) has a widening fixture the checks report,
and one test proves every batch rule has one. Outcomes (tests/iam_eval.py on the deployed
identity policies, each capture bucket's policy and each capture key's policy): the prod batch
role creates its transform jobs under the batch names only, reads the batch data and writes none,
and cannot deploy, register or write models; the deploy roles run no transform job; the endpoint
role reads the inputs and writes the outputs; no QA role touches prod's batch data or jobs where
both environments share an account; no role of the product writes batch inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy_helpers import make_config, module
from test_authority import _sid, on
from test_infra_authority import BEYOND, widen
from test_infra_policies import assert_only, findings_for, statement
from test_shadow_permissions import Capture

batch_probes = module("infra.checks.batch").batch_probes
job_name = module("batch.job").job_name
CFG = make_config("four")
CAPTURE = "arn:${AWS::Partition}:s3:::${CaptureBucketName}"
BUCKET = "${CaptureBucket.Arn}"
JOBS = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:transform-job/"
ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
DEPLOY = ("DeployRole", "deploy-endpoint")
BATCH = ("BatchRole", "batch-transform")
ENDPOINT = ("EndpointRole", "endpoint-runtime")
MONITOR = ("MonitorRole", "monitoring-jobs")


def may(layout: str, role: str, what: str) -> str:
    return f"role {make_config(layout).role_name(role)} may {what} ("


def change(where: tuple[str, str], sid: str, edit: Callable[[dict[str, Any]], None]) -> Callable:
    return lambda t: edit(statement(t, where[0], sid, where[1]))


def set_resource(where: tuple[str, str], sid: str, resource: str) -> Callable:
    return change(where, sid, lambda s: s.update(Resource={"Fn::Sub": resource}))


def add_statement(where: tuple[str, str], item: dict[str, Any]) -> Callable:
    def mutate(t: dict[str, Any]) -> None:
        props = t["Resources"][where[0]]["Properties"]
        policy = next(p for p in props["Policies"] if p["PolicyName"] == where[1])
        policy["PolicyDocument"]["Statement"].append(item)

    return mutate


def add_prefix(where: tuple[str, str], sid: str, prefix: str) -> Callable:
    def edit(s: dict[str, Any]) -> None:
        like = s["Condition"]["StringLike"]
        values = like["s3:prefix"]
        like["s3:prefix"] = [*(values if isinstance(values, list) else [values]), prefix]

    return change(where, sid, edit)


PROD_JOBS = JOBS + make_config("single").environment("prod").endpoint_name + "-b*"

# (id, layout, template, stack, mutation, expected findings)
FIXTURES = [
    (
        "the QA batch role creates prod's transform jobs in a shared account",
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(*BATCH[:1], "BatchTransformJobs", BATCH[1], [PROD_JOBS]),
        [may("single", "github_batch_qa", "create or stop transform jobs of prod")],
    ),
    (
        "the prod batch role runs its transform jobs on any model (QA's, in a shared account)",
        "single",
        "workload-deploy.yaml",
        "deploy-prod",
        change(BATCH, "BatchTransformJobs", lambda s: s.pop("Condition")),
        [may("single", "github_batch_prod", "create transform jobs on another model of prod")],
    ),
    (
        "the prod deploy role runs transform jobs again",
        "four",
        "workload-deploy.yaml",
        "deploy-prod",
        add_statement(
            DEPLOY,
            {
                "Effect": "Allow",
                "Action": ["sagemaker:CreateTransformJob"],
                "Resource": {"Fn::Sub": JOBS + "${EndpointName}-b*"},
            },
        ),
        [
            may("four", "github_deploy_prod", "create or stop transform jobs of prod"),
            may("four", "github_deploy_prod", "create transform jobs on another model of prod"),
        ],
    ),
    (
        "the QA batch role writes the dev prefix it hashes",
        "four",
        "workload-deploy.yaml",
        "deploy-qa",
        change(BATCH, "ReadSourceArtifacts", lambda s: s.update(Action=[*s["Action"], "s3:PutObject"])),
        [BEYOND, may("four", "github_batch_qa", "write the dev prefix")],
    ),
    (
        "the prod batch role creates transform jobs of any name of its endpoint",
        "four",
        "workload-deploy.yaml",
        "deploy-prod",
        set_resource(BATCH, "BatchTransformJobs", JOBS + "${EndpointName}-*"),
        [
            may(
                "four", "github_batch_prod", "create transform jobs under other names in the account of prod"
            ),
            may("four", "github_batch_prod", "create or stop transform test jobs of prod"),
        ],
    ),
    (
        "the prod batch role creates models (and could serve one)",
        "four",
        "workload-deploy.yaml",
        "deploy-prod",
        change(BATCH, "ReadEndpoint", lambda s: s.update(Action=[*s["Action"], "sagemaker:CreateModel"])),
        [may("four", "github_batch_prod", "change the models, endpoint configs or endpoint of prod")],
    ),
    (
        "the endpoint role passes itself",
        "four",
        "workload.yaml",
        "workload:444444444444",
        add_statement(
            ENDPOINT,
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": {"Fn::Sub": ROLES + "${EndpointRoleName}"},
            },
        ),
        [BEYOND, may("four", "sagemaker_endpoint", "pass the endpoint role of prod")],
    ),
    (
        "the prod batch role passes any role of its account",
        "four",
        "workload-deploy.yaml",
        "deploy-prod",
        set_resource(BATCH, "PassEndpointRole", ROLES + "*"),
        [
            may("four", "github_batch_prod", "pass another role to SageMaker in the account of prod"),
            may("four", "github_batch_prod", "pass the monitoring role of prod"),
        ],
    ),
    (
        "the endpoint role writes batch inputs",
        "four",
        "workload.yaml",
        "workload:444444444444",
        widen(*ENDPOINT[:1], "WriteBatchOutput", ENDPOINT[1], [BUCKET + "/batch/prod/input/*"]),
        [may("four", "sagemaker_endpoint", "write batch input of prod")],
    ),
    (
        "the QA batch role reads prod's batch data in a shared account",
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        widen(*BATCH[:1], "ReadBatchData", BATCH[1], [CAPTURE + "/batch/prod/*"]),
        [
            may("single", "github_batch_qa", "read batch input of prod"),
            may("single", "github_batch_qa", "read batch output of prod"),
            may("single", "github_batch_qa", "read transform test inputs of prod"),
            may("single", "github_batch_qa", "read transform test outputs of prod"),
        ],
    ),
    (
        "the QA batch role lists prod's batch inputs in a shared account",
        "single",
        "workload-deploy.yaml",
        "deploy-qa",
        add_prefix(BATCH, "ListBatchData", "batch/prod/input/*"),
        [may("single", "github_batch_qa", "list batch input of prod")],
    ),
    (
        "the monitoring role writes (and reads) batch outputs",
        "four",
        "workload.yaml",
        "workload:444444444444",
        widen(*MONITOR[:1], "WriteReports", MONITOR[1], [BUCKET + "/batch/prod/output/*"]),
        [
            may("four", "sagemaker_monitor", "write batch output of prod"),
            may("four", "sagemaker_monitor", "read batch output of prod"),
        ],
    ),
    (
        "the endpoint role reads batch outputs",
        "four",
        "workload.yaml",
        "workload:444444444444",
        widen(*ENDPOINT[:1], "ReadBatchInput", ENDPOINT[1], [BUCKET + "/batch/prod/output/*"]),
        [may("four", "sagemaker_endpoint", "read batch output of prod")],
    ),
    (
        "the endpoint role lists batch outputs",
        "four",
        "workload.yaml",
        "workload:444444444444",
        add_prefix(ENDPOINT, "ListBatchInput", "batch/prod/output/*"),
        [may("four", "sagemaker_endpoint", "list batch output of prod")],
    ),
    (
        "the prod batch role decrypts batch data outside S3",
        "four",
        "workload-deploy.yaml",
        "deploy-prod",
        change(BATCH, "DecryptBatchData", lambda s: s["Condition"].pop("StringEquals")),
        [may("four", "github_batch_prod", "decrypt outside S3 with a key of the account of prod")],
    ),
    (
        "the prod batch role decrypts another bucket's objects (checks/capture.py)",
        "four",
        "workload-deploy.yaml",
        "deploy-prod",
        change(BATCH, "DecryptBatchData", lambda s: s["Condition"].pop("StringLike")),
        [
            may(
                "four",
                "github_batch_prod",
                "decrypt another bucket's objects with a key of the prod account",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("layout", "template", "stack", "mutate", "expected"),
    [f[1:] for f in FIXTURES],
    ids=[f[0] for f in FIXTURES],
)
def test_each_batch_widening_is_a_finding(
    layout: str, template: str, stack: str, mutate: Callable, expected: list[str]
) -> None:
    cfg = make_config(layout)
    assert findings_for(template, stack_key=stack, cfg=cfg) == []
    assert_only(findings_for(template, mutate, stack_key=stack, cfg=cfg), *expected)


def test_every_batch_rule_has_a_fixture() -> None:
    expected = " ".join(text for fixture in FIXTURES for text in fixture[5])
    kinds = {p.what.rsplit(" of ", 1)[0] for p in batch_probes(CFG)}
    assert len(kinds) == len(batch_probes(CFG)) // 2
    assert {k for k in kinds if f" may {k} of " not in expected} == set()


# --- outcomes on the deployed policies ----------------------------------------------------------


@pytest.fixture(scope="module", params=["four", "single", "baked"])
def world(request: pytest.FixtureRequest) -> Capture:
    return Capture(request.param)


def _job(c: Capture, env: str, name: str) -> str:
    account = c.cfg.environment(env).account
    return f"arn:aws:sagemaker:{c.cfg.region}:{account}:transform-job/{name}"


def creates_job(c: Capture, role: str, env: str, name: str) -> bool:
    """CreateTransformJob with tags (AddTags on the job), as `batch run` calls it: on a model of
    the endpoint of the role's own environment (sagemaker:ModelArn), in `env`'s account."""
    world, _ = c._world(env)
    job = _job(c, env, name)
    endpoint = c.cfg.environment("qa" if role.endswith("-qa") else "prod").endpoint_name
    account = c.cfg.environment(env).account
    model = {"sagemaker:ModelArn": f"arn:aws:sagemaker:{c.cfg.region}:{account}:model/{endpoint}-v7-abc"}
    return world.all_allowed(
        role, [("sagemaker:CreateTransformJob", job, model), ("sagemaker:AddTags", job, {})]
    )


def batch_name(c: Capture, env: str) -> str:
    endpoint = c.cfg.environment(env).endpoint_name
    return job_name(endpoint, f"{endpoint}-v7-abc", f"s3://bucket/batch/{env}/input/", "2025-01-31")


def gets(c: Capture, role: str, env: str, key: str) -> bool:
    """GetObject alone: a read refused by S3 permissions, whatever the key policy says."""
    world, _ = c._world(env)
    return world.allowed(role, "s3:GetObject", f"arn:aws:s3:::{world.bucket}/{key}")


def inputs(env: str) -> str:
    return f"batch/{env}/input/2025-01-31/customers.csv"


def outputs(c: Capture, env: str) -> str:
    return f"batch/{env}/output/{batch_name(c, env)}/2025-01-31/customers.csv.out"


def batch_role(c: Capture, env: str) -> str:
    return c.attacker.arn(f"github_batch_{env}", env)


def test_the_prod_batch_role_creates_only_its_batch_jobs(world: Capture) -> None:
    c, prod = world, batch_role(world, "prod")
    endpoint = c.cfg.environment("prod").endpoint_name
    name = batch_name(c, "prod")
    assert name.startswith(f"{endpoint}-b")
    assert creates_job(c, prod, "prod", name)
    world_, _ = c._world("prod")
    for action in ("sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"):
        assert world_.allowed(prod, action, _job(c, "prod", name))
    for other in (f"{endpoint}-v7-abc", f"{endpoint}x-b123", "nightly-scoring", batch_name(c, "qa")):
        assert not creates_job(c, prod, "prod", other), other


def test_the_deploy_roles_run_no_transform_job(world: Capture) -> None:
    c = world
    for env in ("qa", "prod"):
        assert not creates_job(c, c.deploy(env), env, batch_name(c, env)), env
        assert not c.read(c.deploy(env), env, inputs(env)), env


def test_the_prod_batch_role_reads_batch_data_and_writes_none(world: Capture) -> None:
    c, prod = world, batch_role(world, "prod")
    assert c.lists(prod, "prod", "batch/prod/input/2025-01-31/")
    assert c.lists(prod, "prod", f"batch/prod/output/{batch_name(c, 'prod')}/")
    assert c.read(prod, "prod", inputs("prod"))
    assert c.read(prod, "prod", outputs(c, "prod"))
    assert not c.write(prod, "prod", outputs(c, "prod"))
    assert not c.write(prod, "prod", inputs("prod"))
    assert not c.lists(prod, "prod", "batch/")


def serving_changes(c: Capture, env: str) -> list[tuple[str, str]]:
    """Every request that changes what `env` serves: its models, endpoint configs and endpoint."""
    account = c.cfg.environment(env).account
    endpoint = c.cfg.environment(env).endpoint_name
    arn = f"arn:aws:sagemaker:{c.cfg.region}:{account}:"
    return [
        ("sagemaker:CreateModel", f"{arn}model/{endpoint}-v8-abc"),
        ("sagemaker:DeleteModel", f"{arn}model/{endpoint}-v7-abc"),
        ("sagemaker:CreateEndpointConfig", f"{arn}endpoint-config/{endpoint}-v8-abc"),
        ("sagemaker:CreateEndpoint", f"{arn}endpoint/{endpoint}"),
        ("sagemaker:UpdateEndpoint", f"{arn}endpoint/{endpoint}"),
        ("sagemaker:DeleteEndpoint", f"{arn}endpoint/{endpoint}"),
    ]


def test_the_batch_roles_cannot_deploy_register_or_write_models(world: Capture) -> None:
    c, a = world, world.attacker
    for env in ("qa", "prod"):
        role = batch_role(c, env)
        world_, _ = c._world(env)
        # It reads what it serves, as the deploy does, and changes none of it.
        endpoint = c.cfg.environment(env).endpoint_name
        account = c.cfg.environment(env).account
        assert world_.allowed(
            role,
            "sagemaker:DescribeModel",
            f"arn:aws:sagemaker:{c.cfg.region}:{account}:model/{endpoint}-v7-abc",
        )
        for action, arn in serving_changes(c, env):
            assert not world_.allowed(role, action, arn), (env, action)
        for kind in ("feature", "dev", "prod"):
            version = a.version(kind)
            assert not a.can(role, [("sagemaker:CreateModelPackage", version, {})]), (env, kind)
            assert not a.can(role, [("sagemaker:UpdateModelPackage", version, {})]), (env, kind)
            assert not a.put(role, a.obj(kind)), (env, kind)
        assert not a.put(role, a.obj("datasets", "x.csv")), env
        assert not a.can(role, [("sagemaker:CreateModel", a.version("prod"), {})]), env
    # It hashes the artifact its environment runs: prod's the prod copy, QA's the dev one.
    assert a.get(batch_role(c, "prod"), a.obj("prod"))
    assert a.get(batch_role(c, "qa"), a.obj("dev"))
    assert not a.get(batch_role(c, "qa"), a.obj("prod"))


def test_the_endpoint_role_reads_inputs_and_writes_outputs(world: Capture) -> None:
    c = world
    for env in ("qa", "prod"):
        endpoint = c.attacker.arn("sagemaker_endpoint", env)
        assert c.lists(endpoint, env, f"batch/{env}/input/")
        assert c.read(endpoint, env, inputs(env))
        assert c.write(endpoint, env, outputs(c, env))
        assert not c.write(endpoint, env, inputs(env))
        assert not gets(c, endpoint, env, outputs(c, env))


def _roles(c: Capture) -> list[str]:
    """Every deployed identity of the layout (the endpoint and monitoring roles in each workload account)."""
    return sorted(c.attacker.world.identity)


def test_no_role_of_the_product_writes_batch_inputs(world: Capture) -> None:
    c = world
    for role in _roles(c):
        for env in ("qa", "prod"):
            assert not c.write(role, env, inputs(env)), role


def test_only_the_endpoint_role_writes_batch_outputs(world: Capture) -> None:
    c = world
    for env in ("qa", "prod"):
        endpoint = c.attacker.arn("sagemaker_endpoint", env)
        writers = {role for role in _roles(c) if c.write(role, env, outputs(c, env))}
        assert writers == {endpoint}


def test_no_qa_role_touches_prods_batch_data_or_jobs(world: Capture) -> None:
    c = world
    for key in ("github_deploy_qa", "github_registry_qa", "github_batch_qa"):
        qa = c.attacker.arn(key, "qa") if key != "github_registry_qa" else c.attacker.who(key)
        assert not gets(c, qa, "prod", inputs("prod")), key
        assert not gets(c, qa, "prod", outputs(c, "prod")), key
        assert not c.lists(qa, "prod", "batch/prod/"), key
        assert not c.lists(qa, "prod", "batch/prod/input/"), key
        assert not c.lists(qa, "prod", "batch/prod/output/"), key
        assert not c.write(qa, "prod", outputs(c, "prod")), key
        assert not creates_job(c, qa, "prod", batch_name(c, "prod")), key


def test_the_qa_batch_role_reads_its_batch_data(world: Capture) -> None:
    c, qa = world, batch_role(world, "qa")
    assert c.read(qa, "qa", inputs("qa"))
    assert c.read(qa, "qa", outputs(c, "qa"))


def test_a_batch_role_creating_any_transform_job_is_caught_by_the_outcome_test() -> None:
    """Mutation: BatchTransformJobs on transform-job/* lets the prod batch role run any job."""

    def everything(t: dict[str, Any]) -> None:
        for sid in ("BatchTransformJobs", "ManageBatchTransformJobs"):
            _sid(t, "BatchRole", sid)["Resource"] = {"Fn::Sub": JOBS + "*"}

    c = Capture("single", on("workload-deploy.yaml", everything))
    assert creates_job(c, batch_role(c, "prod"), "prod", "nightly-scoring")
    assert creates_job(c, batch_role(c, "qa"), "prod", batch_name(c, "prod"))


def test_a_batch_role_allowed_to_create_models_is_caught_by_the_outcome_test() -> None:
    """Mutation: the batch role's endpoint reads widened to CreateModel."""

    def widened(t: dict[str, Any]) -> None:
        item = _sid(t, "BatchRole", "ReadEndpoint")
        item["Action"] = [*item["Action"], "sagemaker:CreateModel"]

    c = Capture("four", on("workload-deploy.yaml", widened))
    world_, _ = c._world("prod")
    action, arn = serving_changes(c, "prod")[0]
    assert world_.allowed(batch_role(c, "prod"), action, arn)


def test_without_the_capture_key_statement_the_batch_roles_cannot_read_their_batch_data() -> None:
    """The capture key's DeployRolesReadCaptureBucket statement is what lets each batch role decrypt
    its batch data through S3 (its IAM policy limits the prefixes): without it both reads fail."""

    def without(t: dict[str, Any]) -> None:
        statements = t["Resources"]["CaptureKey"]["Properties"]["KeyPolicy"]["Statement"]
        sid = "DeployRolesReadCaptureBucket"
        statements[:] = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]

    c = Capture("four", on("workload.yaml", without))
    for env in ("qa", "prod"):
        role = batch_role(c, env)
        assert not c.read(role, env, inputs(env)), env
        assert not c.read(role, env, outputs(c, env)), env
