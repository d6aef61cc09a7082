"""The teardown command: what it lists, what it deletes and in which order, and what it never touches.

moto (one simulated account per role, `deploy_helpers.Accounts`) holds endpoints, configs,
models, alarms and autoscaling made by the real deploy code, plus another model's look-alike
resources that must survive. CloudFormation stacks are small stand-ins created with moto under
the names and tags bootstrap uses (IAM roles, a retained bucket, an output naming the OIDC
provider). moto 5.2.5 has no DeleteModelPackage or DeleteModelPackageGroup, so `RegistryShim`
(tests/moto_shims.py) answers those two calls on moto's backend (refusing, as SageMaker does, a
group that still has versions); a stack whose deletion fails, which moto cannot produce, runs
against botocore's Stubber.

Every AWS call is logged per account by a botocore event hook (`CallLog`, the same event as
deploy_helpers.Recorder), so the tests assert the exact order of the mutating calls and that
listing, dry runs and refused confirmations make none.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from deploy_helpers import (
    READ_PREFIXES,
    REAL_TIME_PROD,
    REGION,
    ROOT,
    Accounts,
    StubSession,
    create_bucket,
    fake_aws_env,
    make_config,
    make_raw,
    module,
    new_session,
    plan_for,
    register_version,
    stubbed,
    write_config,
)
from moto_shims import RegistryShim

config = module("config")
teardown = module("infra.teardown")
bootstrap = module("infra.bootstrap")
endpoint = module("deploy.endpoint")
deploy_module = module("deploy.deploy")
Clients = module("deploy.aws").Clients

QA_SERVERLESS = {
    "type": "serverless",
    "serverless": {"memory_mb": 2048, "max_concurrency": 5},
    "autoscaling": {"enabled": False},
    "data_capture": {"enabled": False},
}
NAME_KEYS = (
    "StackName",
    "EndpointName",
    "EndpointConfigName",
    "ModelName",
    "PolicyName",
    "ResourceId",
    "AlarmNames",
    "ModelPackageName",
    "ModelPackageGroupName",
)
PROVIDER = "token.actions.githubusercontent.com"


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch):
    fake_aws_env(monkeypatch)


class CallLog:
    """Every AWS operation made through the sessions it hands out: (account, operation, name)."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.calls: list[tuple[str, str, str]] = []
        self.hooks: list[Any] = []

    def session(self, account: str) -> Any:
        session = self.accounts.session_for_account(account)

        def record(event_name: str, params: dict[str, Any], **_: Any) -> None:
            name = next((params[k] for k in NAME_KEYS if k in params), "")
            self.calls.append(
                (account, event_name.rsplit(".", 1)[-1], name[0] if isinstance(name, list) else name)
            )

        session.events.register("before-parameter-build.*.*", record)
        for hook in self.hooks:
            hook(session, account)
        return session

    def __call__(self, account_role: str, account: str) -> Any:
        return self.session(account)

    @property
    def mutating(self) -> list[tuple[str, str, str]]:
        return [call for call in self.calls if not call[1].startswith(READ_PREFIXES)]

    def clear(self) -> None:
        self.calls.clear()


def other_names(cfg: Any) -> dict[str, str]:
    """Endpoints of other models in the prod account: one whose name starts with
    `<prod endpoint>-v` (so only deploy's full naming rule tells them apart) and one unrelated."""
    prod = cfg.environment("prod").endpoint_name
    return {"look-alike": f"{prod}-v2", "unrelated": "other-model-prod"}


def deploy_env(accounts: Accounts, cfg: Any, env: str, versions: int = 2) -> list[Any]:
    """Deploy version 1 with the deploy code, then add version 2's model and config (an older
    deploy's leftovers look the same); return the plans."""
    shared = accounts.session("shared_services")
    kind = cfg.environment(env).group_kind
    status = "Approved" if env == "prod" else "PendingManualApproval"
    arns = [register_version(shared, cfg, kind=kind, status=status) for _ in range(versions)]
    plans = [plan_for(cfg, env, arn) for arn in arns]
    clients = Clients(accounts.session(env), REGION, registry_session=shared)
    deploy_module.deploy(clients, plans[0], deploy_module.Waiter(timeout=60, poll_seconds=0))
    for plan in plans[1:]:
        clients.sagemaker.create_model(**plan.model_request)
        clients.sagemaker.create_endpoint_config(**plan.config_request)
    return plans


def create_others(accounts: Accounts, cfg: Any) -> None:
    session = accounts.session("prod")
    sm = session.client("sagemaker")
    role = f"arn:aws:iam::{cfg.account_id('prod')}:role/other"
    scaling = session.client("application-autoscaling")
    for name in other_names(cfg).values():
        versioned = endpoint.versioned_name(name, 1, "0123abcd")
        sm.create_model(ModelName=versioned, ExecutionRoleArn=role, PrimaryContainer={"Image": "img"})
        sm.create_endpoint_config(
            EndpointConfigName=versioned,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": versioned,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=versioned)
        session.client("cloudwatch").put_metric_alarm(
            AlarmName=f"{name}-5xx-errors",
            MetricName="Invocation5XXErrors",
            Namespace="AWS/SageMaker",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        scaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{name}/variant/AllTraffic",
            ScalableDimension=endpoint.SCALABLE_DIMENSION,
            MinCapacity=1,
            MaxCapacity=2,
        )


def inventory(accounts: Accounts, cfg: Any, role: str) -> dict[str, list[str]]:
    session = accounts.session(role)
    sm = session.client("sagemaker")
    targets = session.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )
    return {
        "endpoints": sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]),
        "configs": sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        "alarms": sorted(
            a["AlarmName"] for a in session.client("cloudwatch").describe_alarms()["MetricAlarms"]
        ),
        "targets": sorted(t["ResourceId"] for t in targets["ScalableTargets"]),
    }


def others_inventory(cfg: Any) -> dict[str, list[str]]:
    names = sorted(other_names(cfg).values())
    versioned = sorted(endpoint.versioned_name(n, 1, "0123abcd") for n in names)
    return {
        "endpoints": names,
        "configs": versioned,
        "models": versioned,
        "alarms": sorted(f"{n}-5xx-errors" for n in names),
        "targets": sorted(f"endpoint/{n}/variant/AllTraffic" for n in names),
    }


def run(log: CallLog, capsys: Any, *argv: str, answer: str | None = None) -> tuple[int, str, str]:
    stdin = io.StringIO(answer if answer is not None else "")
    code = teardown.main(list(argv), session_for=log, stdin=stdin)
    out, err = capsys.readouterr()
    return code, out, err


class World:
    """Both environments deployed twice over (four accounts or one), plus the other models."""

    def __init__(self, tmp_path, monkeypatch, layout="four"):
        self.cfg = make_config(layout, prod=REAL_TIME_PROD, qa=QA_SERVERLESS)
        write_config(self.cfg, tmp_path, monkeypatch)
        self.accounts = Accounts(self.cfg)
        self.plans = {env: deploy_env(self.accounts, self.cfg, env) for env in config.ENVIRONMENTS}
        create_others(self.accounts, self.cfg)
        self.log = CallLog(self.accounts)

    def expected(self, env: str) -> list[tuple[str, str, str]]:
        """Exact deletions in the environment's account, in order: scaling policy, scalable target
        (real-time), endpoint, configs, models, alarms (real-time)."""
        settings = self.cfg.environment(env).endpoint
        calls = []
        if settings.real_time:
            calls += [
                ("DeleteScalingPolicy", endpoint.scaling_policy_name(settings)),
                ("DeregisterScalableTarget", endpoint.scaling_resource_id(settings)),
            ]
        calls.append(("DeleteEndpoint", settings.endpoint_name))
        calls += [("DeleteEndpointConfig", n) for n in sorted(p.config_name for p in self.plans[env])]
        calls += [("DeleteModel", n) for n in sorted(p.model_name for p in self.plans[env])]
        if settings.real_time:
            calls += [("DeleteAlarms", n) for n in endpoint.alarm_names(settings)]
        account = self.cfg.environment(env).account
        return [(account, *call) for call in calls]


# --- listing, dry run, confirmation ----------------------------------------------------------


def test_dry_run_lists_by_account_with_counts_and_changes_nothing(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        before = inventory(accounts, cfg, "prod")
        code, out, err = run(log, capsys, "--dry-run", "--include-registry")
        assert code == 0, err
        assert log.mutating == []
        lines = out.splitlines()
        assert (
            f"account {cfg.account_id('qa')} (qa): 5 to delete: 1 endpoint, 2 endpoint configs, 2 models"
            in lines
        )
        assert (
            f"account {cfg.account_id('prod')} (prod): 9 to delete: 1 scaling policy, 1 scalable target, "
            "1 endpoint, 2 endpoint configs, 2 models, 2 alarms"
        ) in lines
        assert (
            f"account {cfg.account_id('shared_services')} (shared_services): 7 to delete: "
            "4 model packages, 3 model package groups"
        ) in lines
        assert "total: 21 resources in 3 accounts" in lines
        assert lines[-1] == "dry run: nothing was deleted"
        listed = [line.split()[-1] for line in lines if line.startswith("  ")]
        assert len(listed) == 21
        assert not set(listed) & {name for names in others_inventory(cfg).values() for name in names}
        assert inventory(accounts, cfg, "prod") == before


@pytest.mark.parametrize(
    ("answer", "argv", "message"),
    [
        ("wrong-model\n", [], "error: confirmation 'wrong-model' is not the model name"),
        ("", [], "error: no confirmation (end of input); nothing was deleted"),
        (None, ["--yes", "wrong-model"], "error: confirmation 'wrong-model' is not the model name"),
    ],
    ids=["wrong-answer", "eof", "wrong-yes"],
)
def test_a_wrong_or_missing_confirmation_aborts_with_no_mutating_call(
    tmp_path, monkeypatch, capsys, answer, argv, message
):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        before = {env: inventory(accounts, cfg, env) for env in config.ENVIRONMENTS}
        code, out, err = run(log, capsys, "--include-stacks", *argv, answer=answer)
        assert code == 2
        assert log.mutating == []
        assert [line for line in err.splitlines() if "error: " in line] == [err.splitlines()[-1]]
        assert err.splitlines()[-1].startswith(message)
        assert "total: 14 resources" in out
        assert {env: inventory(accounts, cfg, env) for env in config.ENVIRONMENTS} == before


def test_typed_model_name_confirms(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch, layout="single")
        cfg, accounts, log = w.cfg, w.accounts, w.log
        code, _, err = run(log, capsys, "--env", "qa", answer=f"{cfg.project.model_name}\n")
        assert code == 0, err
        assert f"Type the model name {cfg.project.model_name!r} to delete these 5 resources" in err
        assert inventory(accounts, cfg, "qa")["endpoints"] == sorted(
            [cfg.environment("prod").endpoint_name, *other_names(cfg).values()]
        )


# --- what --yes deletes, in which order ----------------------------------------------------


@pytest.mark.parametrize("layout", ["four", "single"])
def test_yes_removes_exactly_this_repos_endpoints_in_order_and_a_repeat_changes_nothing(
    tmp_path, monkeypatch, capsys, layout
):
    with mock_aws():
        w = World(tmp_path, monkeypatch, layout)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        code, out, err = run(log, capsys, "--yes", cfg.project.model_name)
        assert code == 0, err
        assert log.mutating == w.expected("qa") + w.expected("prod")
        assert len(log.mutating) == 14
        # The order, spelled out for prod: scaling first, then endpoint, configs, models, alarms.
        prod_ops = [op for account, op, name in log.mutating[5:]]
        assert (
            prod_ops
            == ["DeleteScalingPolicy", "DeregisterScalableTarget", "DeleteEndpoint"]
            + ["DeleteEndpointConfig"] * 2
            + ["DeleteModel"] * 2
            + ["DeleteAlarms"] * 2
        )
        assert "deleted 14 resources" in out.splitlines()
        # The deletion of each endpoint is waited for before its configs go.
        prod_calls = [op for account, op, name in log.calls if name == cfg.environment("prod").endpoint_name]
        assert prod_calls[prod_calls.index("DeleteEndpoint") + 1] == "DescribeEndpoint"

        qa_left = inventory(accounts, cfg, "qa")
        prod_left = inventory(accounts, cfg, "prod")
        if layout == "four":
            assert qa_left == {key: [] for key in qa_left}
        assert prod_left == others_inventory(cfg)
        # Registry kept without --include-registry, and said so.
        sm = accounts.session("shared_services").client("sagemaker")
        groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert sorted(g["ModelPackageGroupName"] for g in groups) == sorted(cfg.names.groups.values())
        assert "add --include-registry to delete it" in out

        log.clear()
        code, out, err = run(log, capsys, "--yes", cfg.project.model_name)
        assert code == 0, err
        assert log.mutating == []
        assert "nothing to delete" in out.splitlines()
        assert "account " not in out


def test_env_qa_leaves_prod_alone(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        prod_before = inventory(accounts, cfg, "prod")
        code, _, err = run(log, capsys, "--env", "qa", "--yes", cfg.project.model_name)
        assert code == 0, err
        assert log.mutating == w.expected("qa")
        assert inventory(accounts, cfg, "prod") == prod_before


def test_registry_is_deleted_only_with_include_registry_versions_before_groups(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        log.hooks.append(RegistryShim())
        shared = cfg.account_id("shared_services")
        code, _, err = run(log, capsys, "--yes", cfg.project.model_name)
        assert code == 0, err
        assert [c for c in log.mutating if c[0] == shared] == []

        log.clear()
        sm = accounts.session("shared_services").client("sagemaker")
        packages = {
            group: [
                p["ModelPackageArn"]
                for p in sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
            ]
            for group in cfg.names.groups.values()
        }
        code, out, err = run(log, capsys, "--include-registry", "--yes", cfg.project.model_name)
        assert code == 0, err
        expected = []
        for kind in config.GROUP_KINDS:
            group = cfg.group(kind)
            expected += [(shared, "DeleteModelPackage", arn) for arn in packages[group]]
            expected += [(shared, "DeleteModelPackageGroup", group)]
        # The endpoints are gone already; then each group's versions, then the group.
        assert log.mutating == expected
        assert len(expected) == 7
        assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []

        log.clear()
        code, out, _ = run(log, capsys, "--include-registry", "--yes", cfg.project.model_name)
        assert (code, log.mutating) == (0, [])
        assert "nothing to delete" in out.splitlines()


def test_registry_note_names_the_retained_bucket_and_key(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        shared = accounts.session("shared_services")
        create_bucket(shared.client("s3"), cfg.names.artifact_bucket, REGION)
        key = shared.client("kms").create_key()["KeyMetadata"]["KeyId"]
        shared.client("kms").create_alias(AliasName=cfg.names.kms_key_alias, TargetKeyId=key)
        code, out, _ = run(log, capsys, "--include-registry", "--dry-run")
        assert code == 0
        assert (
            f"kept: S3 bucket {cfg.names.artifact_bucket} with its data (infra/shared-services.yaml: "
            "DeletionPolicy Retain, so deleting its stack keeps it too)"
        ) in out
        assert (
            f"kept: KMS key {key} ({cfg.names.kms_key_alias}; infra/shared-services.yaml: DeletionPolicy "
            f"Retain, so deleting its stack keeps it too); once nothing needs to decrypt with it: "
            f"aws kms schedule-key-deletion --key-id {key} --pending-window-in-days 30"
        ) in out.splitlines()


# --- stacks -----------------------------------------------------------------------------------


def role_resource(logical: str, name: str, provider: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
    return (
        f"  {logical}:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: {name}\n"
        f"      AssumeRolePolicyDocument: '{json.dumps(trust)}'\n"
    )


def stand_in_template(cfg: Any, spec: Any, retain: bool = True) -> str:
    """A small template for `spec`: its roles (trusting the account's provider), its retained
    bucket, and the provider ARN as output for the OIDC stack."""
    provider = f"arn:aws:iam::{spec.account}:oidc-provider/{PROVIDER}"
    policy = "    DeletionPolicy: Retain\n" if retain else ""
    if spec.oidc:
        return (
            "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
            f"Outputs:\n  GitHubOidcProviderArn:\n    Value: {provider}\n"
        )
    body = "Resources:\n"
    roles = {
        "shared-services": ["github_registry_qa", "github_registry_prod"],
        "data-science": ["github_feature", "github_build", "sagemaker_feature", "sagemaker_pipeline"],
    }.get(spec.key, [])
    if spec.key.startswith("deploy-"):
        roles = [cfg.deploy_role_key(spec.key.removeprefix("deploy-"))]
    for index, key in enumerate(roles):
        body += role_resource(f"Role{index}", cfg.role_name(key), provider)
    if spec.key == "shared-services":
        body += f"  ArtifactBucket:\n    Type: AWS::S3::Bucket\n{policy}"
        body += f"    Properties:\n      BucketName: {cfg.names.artifact_bucket}\n"
    if spec.key.startswith("workload:"):
        body += role_resource("EndpointRole", cfg.role_name("sagemaker_endpoint"), provider)
        bucket = spec.parameters["CaptureBucketName"]
        body += f"  CaptureBucket:\n    Type: AWS::S3::Bucket\n{policy}"
        body += f"    Properties:\n      BucketName: {bucket}\n"
    return body


def create_stacks(accounts: Accounts, cfg: Any, retain: bool = True, oidc: bool = True) -> None:
    for spec in bootstrap.plan(cfg):
        if spec.oidc and not oidc:
            continue
        session = accounts.session_for_account(spec.account)
        if spec.oidc:
            session.client("iam").create_open_id_connect_provider(
                Url=f"https://{PROVIDER}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
            )
        tags = {"managed-by": "bootstrap"} | ({} if spec.oidc else {"project": cfg.project.slug})
        session.client("cloudformation").create_stack(
            StackName=spec.name,
            TemplateBody=stand_in_template(cfg, spec, retain),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )


def stacks_left(accounts: Accounts, cfg: Any) -> list[tuple[str, str]]:
    left = []
    for account in dict.fromkeys(cfg.accounts.values()):
        cf = accounts.session_for_account(account).client("cloudformation")
        left += [(account, s["StackName"]) for s in cf.describe_stacks()["Stacks"]]
    return sorted(left)


def test_stacks_go_in_reverse_dependency_order_and_a_shared_oidc_provider_stays(
    tmp_path, monkeypatch, capsys
):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        create_stacks(accounts, cfg)
        ds, shared, qa, prod = (cfg.account_id(r) for r in config.ACCOUNT_ROLES)
        # Another repository's role in the prod account trusts that account's provider.
        provider = f"arn:aws:iam::{prod}:oidc-provider/{PROVIDER}"
        trust = json.loads(role_resource("X", "x", provider).split("'")[1])
        accounts.session("prod").client("iam").create_role(
            RoleName="another-repo-github-deploy", AssumeRolePolicyDocument=json.dumps(trust)
        )
        code, out, err = run(log, capsys, "--include-stacks", "--yes", cfg.project.model_name)
        assert code == 0, err
        model = cfg.project.model_name
        oidc = bootstrap.OIDC_STACK
        assert [c for c in log.mutating if c[1] == "DeleteStack"] == [
            (prod, "DeleteStack", f"{model}-deploy-prod"),
            (qa, "DeleteStack", f"{model}-deploy-qa"),
            (prod, "DeleteStack", f"{model}-workload"),
            (qa, "DeleteStack", f"{model}-workload"),
            (ds, "DeleteStack", f"{model}-data-science"),
            (shared, "DeleteStack", f"{model}-shared-services"),
            (qa, "DeleteStack", oidc),
            (shared, "DeleteStack", oidc),
            (ds, "DeleteStack", oidc),
        ]
        # Stacks go after every endpoint resource.
        operations = [op for _, op, _ in log.mutating]
        assert operations.index("DeleteStack") == len(operations) - 9
        assert stacks_left(accounts, cfg) == [(prod, oidc)]
        assert (
            f"kept: stack {oidc} in {prod}: roles of another repository trust its provider "
            "(another-repo-github-deploy)"
        ) in out
        assert (
            f"kept: S3 bucket {cfg.names.artifact_bucket} with its data (stack {model}-shared-services: "
            in out
        )
        assert (
            f"kept: S3 bucket {cfg.environment('qa').capture_bucket} with its data (stack {model}-workload: "
            in out
        )
        # Registry groups are retained by the template, so they stay until asked for.
        sm = accounts.session("shared_services").client("sagemaker")
        assert len(sm.list_model_package_groups()["ModelPackageGroupSummaryList"]) == 3

        log.clear()
        code, out, _ = run(log, capsys, "--include-stacks", "--yes", cfg.project.model_name)
        assert (code, log.mutating) == (0, [])
        assert "nothing to delete" in out.splitlines()


def test_a_reused_oidc_provider_and_a_foreign_stack_are_never_deleted(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch, layout="single")
        cfg, accounts, log = w.cfg, w.accounts, w.log
        create_stacks(accounts, cfg, oidc=False)
        account = cfg.account_id("qa")
        iam = accounts.session("qa").client("iam")
        provider = iam.create_open_id_connect_provider(
            Url=f"https://{PROVIDER}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
        )["OpenIDConnectProviderArn"]
        cf = accounts.session("qa").client("cloudformation")
        cf.update_stack(
            StackName=bootstrap.stack_name(cfg, "deploy-qa"),
            UsePreviousTemplate=True,
            Tags=[{"Key": "project", "Value": "someone-else"}, {"Key": "managed-by", "Value": "bootstrap"}],
        )
        code, out, err = run(log, capsys, "--include-stacks", "--yes", cfg.project.model_name)
        assert code == 0, err
        deleted = [name for _, op, name in log.mutating if op == "DeleteStack"]
        assert bootstrap.OIDC_STACK not in deleted
        assert bootstrap.stack_name(cfg, "deploy-qa") not in deleted
        assert f"kept: GitHub OIDC provider {provider}: no stack made it (bootstrap reused it)" in out
        assert (
            f"kept: stack {bootstrap.stack_name(cfg, 'deploy-qa')} in {account}: not made by this "
            "repository's bootstrap (tag project=someone-else)"
        ) in out
        assert [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]] == [
            provider
        ]


def test_a_stack_that_would_delete_a_non_empty_bucket_blocks_before_any_change(tmp_path, monkeypatch, capsys):
    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, accounts, log = w.cfg, w.accounts, w.log
        create_stacks(accounts, cfg, retain=False)
        capture = cfg.environment("prod").capture_bucket
        accounts.session("prod").client("s3").put_object(
            Bucket=capture, Key="data-capture/x.jsonl", Body=b"{}"
        )
        code, out, err = run(log, capsys, "--include-stacks", "--yes", cfg.project.model_name)
        assert code == 1
        assert log.mutating == []
        assert (
            f"BLOCKED: stack {cfg.project.model_name}-workload would delete S3 bucket {capture}, "
            "which is not empty" in out
        )
        assert "set DeletionPolicy: Retain on CaptureBucket in infra/workload.yaml" in out
        assert err.splitlines()[-1] == "error: 1 blocker(s) listed above (BLOCKED); nothing was deleted"
        code, out, _ = run(log, capsys, "--include-stacks", "--dry-run")
        assert (code, log.mutating) == (0, [])


def test_a_stack_that_fails_to_delete_names_the_reason():
    cf = new_session(aws_access_key_id="stub", aws_secret_access_key="stub", region_name=REGION).client(
        "cloudformation"
    )
    stubber = Stubber(cf)
    name = "churn-workload"
    now = dt.datetime(2025, 1, 31, tzinfo=dt.UTC)
    stubber.add_response("delete_stack", {}, {"StackName": name})
    failed = {"StackName": name, "StackStatus": "DELETE_FAILED", "CreationTime": now}
    stubber.add_response("describe_stacks", {"Stacks": [failed]}, {"StackName": name})
    event = {
        "StackId": "id",
        "EventId": "e",
        "StackName": name,
        "Timestamp": now,
        "LogicalResourceId": "CaptureBucket",
        "ResourceStatus": "DELETE_FAILED",
        "ResourceStatusReason": "The bucket you tried to delete is not empty",
    }
    stubber.add_response("describe_stack_events", {"StackEvents": [event]}, {"StackName": name})
    stubber.activate()
    listing = teardown.Listing(items=[teardown.Item("1", "stack", name, {"StackName": name})])
    with pytest.raises(teardown.TeardownError) as caught:
        teardown.delete(listing, {"1": Clients(StubSession({"cloudformation": cf}), REGION)}, lambda _: None)
    assert str(caught.value) == (
        f"stack {name} in 1 was not deleted: CaptureBucket: The bucket you tried to delete is not empty"
    )
    stubber.assert_no_pending_responses()


def test_an_aws_failure_is_one_error_line_and_exit_1(tmp_path, monkeypatch, capsys):
    def refuse(session: Any, account: str) -> None:
        def deny(model: Any, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, model.name)

        session.events.register("before-call.sagemaker.DeleteEndpoint", deny)

    with mock_aws():
        w = World(tmp_path, monkeypatch)
        cfg, log = w.cfg, w.log
        log.hooks.append(refuse)
        code, _, err = run(log, capsys, "--yes", cfg.project.model_name)
        assert code == 1
        assert err.splitlines()[-1].startswith("error: AWS call failed: ")
        assert "AccessDenied" in err.splitlines()[-1]
        # It stopped at the first failure: the endpoint's configs and models were not touched.
        assert [op for _, op, _ in log.mutating] == ["DeleteEndpoint"]


# --- usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--env", "qa", "--include-registry"],
            "error: --include-registry deletes the groups every environment",
        ),
        (["--env", "dev"], "error: argument --env: invalid choice: 'dev'"),
        (["--profile", "admin"], "error: --profile 'admin' is not ROLE=PROFILE"),
    ],
)
def test_usage_errors_exit_2_with_one_error_line(tmp_path, monkeypatch, capsys, argv, message):
    write_config(make_raw("four"), tmp_path, monkeypatch)
    code = teardown.main(argv, stdin=io.StringIO(""))
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [err.splitlines()[0]]
    assert err.startswith(message)


def test_credentials_of_the_wrong_account_stop_before_listing(tmp_path, monkeypatch, capsys):
    with mock_aws():
        cfg = make_config("four")
        write_config(cfg, tmp_path, monkeypatch)
        log = CallLog(Accounts(cfg))
        code = teardown.main(
            ["--dry-run"], session_for=lambda role, account: log.session(cfg.account_id("qa"))
        )
        err = capsys.readouterr().err
        assert code == 2
        assert "error: credentials for the data_science account resolve to account" in err
        assert [op for _, op, _ in log.calls] == ["GetCallerIdentity"]


# --- rules ------------------------------------------------------------------------------------


def test_only_deploys_versioned_names_of_this_endpoint_are_ours():
    ep = "churn-prod"
    assert teardown.ours(ep, endpoint.versioned_name(ep, 12, "0123abcd"))
    long = "m" * 55
    shortened = endpoint.versioned_name(long, 1, "0123abcd")
    assert len(shortened) == 63 and not shortened.startswith(f"{long}-v")
    assert teardown.ours(long, shortened)
    for other in (
        endpoint.versioned_name(f"{ep}-v2", 1, "0123abcd"),  # another model's, starts with churn-prod-v
        f"{ep}-vintage",
        f"{ep}-v1-0123abcd-copy",
        endpoint.versioned_name("other-churn-prod", 1, "0123abcd"),
        endpoint.versioned_name("churn-qa", 1, "0123abcd"),
    ):
        assert not teardown.ours(ep, other), other


def test_deletion_policies_read_without_yaml_match_a_yaml_parse_of_every_template():
    load_template = module("infra.policy_checks").load_template
    templates = sorted((ROOT / "infra").glob("*.yaml"))
    assert len(templates) == 6
    for path in templates:
        parsed = load_template(path)["Resources"]
        expected = {k: (v["Type"], v.get("DeletionPolicy", "Delete")) for k, v in parsed.items()}
        assert teardown.resource_policies(path.read_text()) == expected, path.name
    shared = teardown.resource_policies((ROOT / "infra" / "shared-services.yaml").read_text())
    kept = {kind for kind, policy in shared.values() if policy == "Retain"}
    assert {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SageMaker::ModelPackageGroup"} <= kept
    assert teardown.resource_policies({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}) == {
        "B": ("AWS::S3::Bucket", "Delete")
    }


def test_a_stack_that_would_delete_the_registry_unasked_is_a_blocker():
    """moto's CloudFormation has no model package groups; the two read calls are stubbed."""
    session, stubs = stubbed("cloudformation", "s3")
    template = {"Resources": {"DevGroup": {"Type": "AWS::SageMaker::ModelPackageGroup"}}}
    resource = {
        "LogicalResourceId": "DevGroup",
        "PhysicalResourceId": "churn-dev",
        "ResourceType": "AWS::SageMaker::ModelPackageGroup",
        "LastUpdatedTimestamp": dt.datetime(2025, 1, 31, tzinfo=dt.UTC),
        "ResourceStatus": "CREATE_COMPLETE",
    }
    for _ in range(2):
        stubs["cloudformation"].add_response("get_template", {"TemplateBody": json.dumps(template)})
        stubs["cloudformation"].add_response("list_stack_resources", {"StackResourceSummaries": [resource]})
    spec = next(s for s in bootstrap.plan(make_config("four")) if s.key == "shared-services")
    listings = []
    for registry in (False, True):
        listing = teardown.Listing()
        teardown.stack_data(spec, Clients(session, REGION), listing, registry)
        listings.append(listing)
    assert listings[0].blockers == [
        f"stack {spec.name} would delete model package group churn-dev (DeletionPolicy Delete); add "
        "--include-registry to delete the registry on purpose, or set DeletionPolicy: Retain on DevGroup "
        "in infra/shared-services.yaml"
    ]
    assert listings[1].blockers == listings[1].kept == []
    stubs["cloudformation"].assert_no_pending_responses()
