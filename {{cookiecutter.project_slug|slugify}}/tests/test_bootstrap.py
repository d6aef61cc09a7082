"""The bootstrap command against a moto server on 127.0.0.1 with simulated accounts.

moto's CloudFormation runs the templates for real (parameters, conditions, !Sub, !GetAtt,
outputs; roles, inline policies, KMS key and alias, bucket), but moto 5.2.5 has no
CloudFormation model for three resource types the templates use: AWS::IAM::OIDCProvider,
AWS::S3::BucketPolicy and AWS::SageMaker::ModelPackageGroup, and its AWS::KMS::Key model breaks on a KeyPolicy
written as a JSON object. `MotoShims` (tests/moto_shims.py) registers minimal models for them that make the
same moto backend calls CloudFormation would (create the OIDC provider, put the bucket
policy, create the group, create the key with the policy as JSON text). moto has no
model-package-group policy API at all, so the group shim keeps the resolved
ModelPackageGroupPolicy on moto's group object and the tests read it there. moto's S3
model also ignores VersioningConfiguration and PublicAccessBlockConfiguration; those are
covered by the policy checks and cfn-lint/checkov, not here.

Failure paths CloudFormation in moto cannot produce (ROLLBACK_COMPLETE, a failed waiter, a
rejected update) run against botocore's Stubber.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from deploy_helpers import FOUR_ACCOUNTS, REGION, Config, config, make_config, make_raw, module, write_config
from moto_shims import MotoShims

bootstrap = module("infra.bootstrap")
access = module("access")
# The moto accounts. FOUR are the template's own example IDs (placeholders), so real runs in
# these tests pass --allow-placeholders; the placeholder tests below check the refusal.
FOUR = FOUR_ACCOUNTS
SINGLE = dict.fromkeys(FOUR, "555555555555")
LAYOUT_OF = {"four": FOUR, "single": SINGLE}
OIDC_URL = "token.actions.githubusercontent.com"
MUTATING_CFN = {"CreateStack", "UpdateStack", "DeleteStack"}


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A moto server in this process on 127.0.0.1 (an ephemeral port), with the shims."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    MotoShims.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto state; every client in the test talks to the moto server only."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return moto_server


class Accounts:
    """Sessions for simulated accounts: assume a role in the account; moto keys its state by the
    account of the assumed-role credentials. Counts the CloudFormation calls that change stacks."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._sessions: dict[str, boto3.Session] = {}

    def session(self, account: str) -> boto3.Session:
        if account not in self._sessions:
            creds = boto3.client("sts", region_name=REGION).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/platform-admin", RoleSessionName="bootstrap-test"
            )["Credentials"]
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=REGION,
            )
            session.events.register("before-call.cloudformation", self._record)
            self._sessions[account] = session
        return self._sessions[account]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def __call__(self, account_role: str, account: str) -> boto3.Session:
        return self.session(account)

    def mutating_calls(self) -> list[str]:
        return [call for call in self.calls if call in MUTATING_CFN]


def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> Config:
    """The rendered config in the accounts of `layout` ("four" or "single"), written for the
    bootstrap to read (MLOPS_CONFIG); every derived name follows the accounts."""
    cfg = make_config(layout)
    assert dict(cfg.accounts) == LAYOUT_OF[layout]
    write_config(cfg, tmp_path, monkeypatch)
    return cfg


def run_bootstrap(accounts: Accounts, *argv: str) -> tuple[int, dict[str, Any], str]:
    """A real run against the moto accounts (placeholder IDs, hence --allow-placeholders)."""
    out = io.StringIO()
    code = bootstrap.main(
        ["--allow-placeholders", *argv], session_for=accounts, out=out, log=lambda line: None
    )
    text = out.getvalue()
    summary = json.loads(text.split("\n# Apply the GitHub settings")[0]) if code == 0 else {}
    return code, summary, text


def trust_subjects(iam: Any, role: str) -> list[str]:
    document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    value = document["Statement"][0]["Condition"]["StringEquals"][f"{OIDC_URL}:sub"]
    return value if isinstance(value, list) else [value]


def group_policy(account: str, name: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][REGION].model_package_groups[name].resource_policy


def image_pull_resources(iam: Any, role: str) -> list[str]:
    """The resources of every ECR pull statement in a deployed role's inline policies."""
    found = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            # moto's CloudFormation stores an inline policy as the Python repr of the document.
            document = ast.literal_eval(document)
        # A conditional statement (!If ... AWS::NoValue) that is off reads back as None from moto.
        for statement in filter(None, document["Statement"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "ecr:BatchGetImage" in actions:
                resource = statement["Resource"]
                found += resource if isinstance(resource, list) else [resource]
    return sorted(found)


def _inline_statements(iam: Any, role: str) -> list[dict[str, Any]]:
    """Every statement of a deployed role's inline policies. moto's CloudFormation keeps an
    `!If [..., ..., !Ref AWS::NoValue]` that resolves to NoValue as None (CloudFormation drops
    it), so Nones are left out here."""
    found = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = ast.literal_eval(document)
        found += [statement for statement in document["Statement"] if statement]
    return found


def _object_resources(iam: Any, role: str, action: str) -> list[str]:
    """The artifact-object resources of every Allow statement of a deployed role granting `action`."""
    found = []
    for statement in _inline_statements(iam, role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if statement["Effect"] == "Allow" and action in actions:
            found += [
                r
                for r in resources
                if r and r.startswith("arn:aws:s3:::") and "/" in r and "capture" not in r
            ]
    return sorted(found)


def object_write_resources(iam: Any, role: str) -> list[str]:
    return _object_resources(iam, role, "s3:PutObject")


def object_read_resources(iam: Any, role: str) -> list[str]:
    """Objects of the artifact bucket the role reads, the input data (datasets/) left out."""
    return [r for r in _object_resources(iam, role, "s3:GetObject") if not r.endswith("/datasets/*")]


def oidc_providers(session: boto3.Session) -> list[str]:
    providers = session.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    return [p["Arn"] for p in providers if p["Arn"].endswith(OIDC_URL)]


def test_four_accounts_then_second_run_changes_nothing(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = use_config(tmp_path, monkeypatch, "four")
    accounts = Accounts()
    owner, repo = cfg.github.owner, cfg.github.repo
    envs = cfg.github.environments
    model = cfg.project.model_name

    code, summary, text = run_bootstrap(accounts)

    assert code == 0
    stacks = summary["stacks"]
    assert len(stacks) == 10 and set(stacks.values()) == {"created"}, stacks
    assert [name.split(" (")[0] for name in stacks][4:] == [
        f"{model}-shared-services",
        f"{model}-data-science",
        f"{model}-workload",
        f"{model}-workload",
        f"{model}-deploy-qa",
        f"{model}-deploy-prod",
    ]
    outputs = summary["outputs"]
    # The deployed roles are the ARNs the config gives the workflows, each in its own account.
    for output, key, role in (
        ("feature_build_role_arn", "github_feature", "data_science"),
        ("build_role_arn", "github_build", "data_science"),
        ("feature_pipeline_role_arn", "sagemaker_feature", "data_science"),
        ("pipeline_role_arn", "sagemaker_pipeline", "data_science"),
        ("registry_qa_role_arn", "github_registry_qa", "shared_services"),
        ("registry_prod_role_arn", "github_registry_prod", "shared_services"),
        ("deploy_role_arn_qa", "github_deploy_qa", "qa"),
        ("deploy_role_arn_prod", "github_deploy_prod", "prod"),
        ("batch_role_arn_qa", "github_batch_qa", "qa"),
        ("batch_role_arn_prod", "github_batch_prod", "prod"),
    ):
        assert outputs[output] == cfg.github_role_arn(key)
        assert outputs[output].split(":")[4] == FOUR[role]
    assert "gh api --method PUT repos/" in text

    # One GitHub OIDC provider per account; each GitHub role trusts exactly one environment.
    for account in FOUR.values():
        assert len(oidc_providers(accounts.session(account))) == 1
    subject = f"repo:{owner}/{repo}:environment:"
    ds_iam = accounts.session(FOUR["data_science"]).client("iam")
    assert trust_subjects(ds_iam, cfg.role_name("github_feature")) == [subject + envs["feature"]]
    assert trust_subjects(ds_iam, cfg.role_name("github_build")) == [subject + envs["build"]]
    # Images are pulled only from AWS's image account for the region (access/images.py).
    pulls = list(access.repository_arns(REGION))
    assert all(f":{access.image_account(REGION)}:repository/sagemaker-" in arn for arn in pulls)
    # ... and Model Monitor's analyzer repository, which the baseline steps run.
    analyzer = access.analyzer_repository_arn(REGION)
    for jobs in ("sagemaker_feature", "sagemaker_pipeline"):
        assert image_pull_resources(ds_iam, cfg.role_name(jobs)) == sorted([*pulls, analyzer])
    # Each data-science role writes only its own prefix (the deployed policies, as moto stores them).
    prefixes = cfg.names.artifact_prefixes
    bucket_arn = f"arn:aws:s3:::{cfg.names.artifact_bucket}"
    for key, kind in (
        ("github_feature", "feature"),
        ("sagemaker_feature", "feature"),
        ("github_build", "dev"),
        ("sagemaker_pipeline", "dev"),
    ):
        assert object_write_resources(ds_iam, cfg.role_name(key)) == [f"{bucket_arn}/{prefixes[kind]}*"]
    ss = accounts.session(FOUR["shared_services"])
    assert trust_subjects(ss.client("iam"), cfg.role_name("github_registry_qa")) == [subject + envs["qa"]]
    assert trust_subjects(ss.client("iam"), cfg.role_name("github_registry_prod")) == [subject + envs["prod"]]
    assert object_write_resources(ss.client("iam"), cfg.role_name("github_registry_qa")) == []
    assert object_write_resources(ss.client("iam"), cfg.role_name("github_registry_prod")) == [
        f"{bucket_arn}/{prefixes['prod']}*"
    ]
    for env, source in (("qa", "dev"), ("prod", "prod")):
        env_iam = accounts.session(FOUR[env]).client("iam")
        assert trust_subjects(env_iam, cfg.role_name(cfg.deploy_role_key(env))) == [subject + envs[env]]
        env_iam.get_role(RoleName=cfg.role_name("sagemaker_endpoint"))
        assert image_pull_resources(env_iam, cfg.role_name("sagemaker_endpoint")) == pulls
        # Each endpoint role reads only the prefix its environment deploys from; so does each
        # deploy role (prod: the artifact's checksum before serving it; both: the version's
        # drift constraints, which name the monitoring alarms' features).
        assert object_read_resources(env_iam, cfg.role_name("sagemaker_endpoint")) == [
            f"{bucket_arn}/{prefixes[source]}*"
        ]
        deploy_reads = object_read_resources(env_iam, cfg.role_name(cfg.deploy_role_key(env)))
        assert deploy_reads == [f"{bucket_arn}/{prefixes[source]}*"]

    # The shared key: rotation on, workload accounts decrypt only.
    kms = ss.client("kms")
    key_id = kms.describe_key(KeyId=cfg.names.kms_key_alias)["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    workload = next(s for s in key_policy["Statement"] if s["Sid"] == "WorkloadDecryptOnly")
    assert workload["Action"] == "kms:Decrypt"
    assert workload["Principal"]["AWS"] == [
        f"arn:aws:iam::{FOUR['qa']}:root",
        f"arn:aws:iam::{FOUR['prod']}:root",
    ]

    # The artifact bucket: SSE-KMS with that key, TLS-only, workload accounts read only.
    s3 = ss.client("s3")
    bucket = cfg.names.artifact_bucket
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(f":key/{key_id}")
    bucket_policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    sids = {s["Sid"]: s for s in bucket_policy["Statement"]}
    assert sids["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sids["QaReadObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert sids["QaReadObjects"]["Resource"] == f"{bucket_arn}/{prefixes['dev']}*"
    assert sids["ProdReadObjects"]["Resource"] == f"{bucket_arn}/{prefixes['prod']}*"
    # No statement names every object of the bucket.
    assert all(
        s["Resource"] != f"{bucket_arn}/*" for s in bucket_policy["Statement"] if s["Effect"] == "Allow"
    )

    # The model package groups and their resource policies.
    sagemaker = ss.client("sagemaker")
    groups = {kind: cfg.group(kind) for kind in config.GROUP_KINDS}
    for name in groups.values():
        sagemaker.describe_model_package_group(ModelPackageGroupName=name)
    principals = {
        kind: [s["Principal"]["AWS"] for s in group_policy(FOUR["shared_services"], name)["Statement"]]
        for kind, name in groups.items()
    }
    assert principals == {
        "feature": [f"arn:aws:iam::{FOUR['data_science']}:root"],
        "dev": [f"arn:aws:iam::{FOUR['data_science']}:root", f"arn:aws:iam::{FOUR['qa']}:root"],
        # Data science reads the prod group: a pipeline start resolves the served champion.
        "prod": [f"arn:aws:iam::{FOUR['data_science']}:root", f"arn:aws:iam::{FOUR['prod']}:root"],
    }

    first_calls = accounts.mutating_calls()
    assert first_calls == ["CreateStack"] * 10

    accounts.calls.clear()
    code, summary, _ = run_bootstrap(accounts)
    assert code == 0
    assert set(summary["stacks"].values()) == {"unchanged"} and len(summary["stacks"]) == 10
    assert accounts.mutating_calls() == []
    assert kms.describe_key(KeyId=cfg.names.kms_key_alias)["KeyMetadata"]["KeyId"] == key_id


def test_single_account_mode_deploys_everything_once(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = use_config(tmp_path, monkeypatch, "single")
    accounts = Accounts()
    account = SINGLE["data_science"]

    code, summary, _ = run_bootstrap(accounts)

    assert code == 0
    names = [name.split(" (")[0] for name in summary["stacks"]]
    model = cfg.project.model_name
    assert names == [
        "github-actions-oidc-provider",
        f"{model}-shared-services",
        f"{model}-data-science",
        f"{model}-workload",
        f"{model}-deploy-qa",
        f"{model}-deploy-prod",
    ]
    session = accounts.session(account)
    assert len(oidc_providers(session)) == 1
    roles = {r["RoleName"] for r in session.client("iam").list_roles()["Roles"]}
    expected = {cfg.role_name(key) for key in config.ROLE_SUFFIXES if key != "data_scientist"}
    assert expected <= roles and len(expected) == 12
    # No aws.data_scientist_principal: no data-scientist role.
    assert cfg.role_name("data_scientist") not in roles
    assert "data_scientist_role_arn" not in summary["outputs"]
    # Inside one account IAM policies decide; the groups get no resource policy.
    for kind in config.GROUP_KINDS:
        assert group_policy(account, cfg.group(kind)) is None

    accounts.calls.clear()
    code, summary, _ = run_bootstrap(accounts)
    assert code == 0 and set(summary["stacks"].values()) == {"unchanged"}
    assert accounts.mutating_calls() == []


def test_a_data_scientist_principal_deploys_one_role_trusting_exactly_it(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aws.data_scientist_principal set: the data-science stack adds the data-scientist role,
    trusted by that pattern only, writing only the feature prefix and reading only the feature
    artifacts and the dev and prod evaluation reports; the prod group admits the data-science account to
    read; the key and bucket policies name the role."""
    raw = make_raw("four")
    sso = f"aws-reserved/sso.amazonaws.com/{REGION}/AWSReservedSSO_DS_*"
    pattern = f"arn:aws:iam::{FOUR['data_science']}:role/{sso}"
    raw["aws"]["data_scientist_principal"] = pattern
    write_config(raw, tmp_path, monkeypatch)
    cfg = config.parse(raw)
    accounts = Accounts()

    code, summary, _ = run_bootstrap(accounts)

    assert code == 0
    role = cfg.role_name("data_scientist")
    data_science = f"arn:aws:iam::{FOUR['data_science']}"
    assert summary["outputs"]["data_scientist_role_arn"] == f"{data_science}:role/{role}"
    ds_iam = accounts.session(FOUR["data_science"]).client("iam")
    trust = ds_iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"] == [
        {
            "Sid": "DataScientists",
            "Effect": "Allow",
            "Principal": {"AWS": f"{data_science}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": pattern}},
        }
    ]
    bucket_arn = f"arn:aws:s3:::{cfg.names.artifact_bucket}"
    prefixes = cfg.names.artifact_prefixes
    assert object_write_resources(ds_iam, role) == [f"{bucket_arn}/{prefixes['feature']}*"]
    assert object_read_resources(ds_iam, role) == [
        f"{bucket_arn}/{prefixes['dev']}*/evaluation.json",
        f"{bucket_arn}/{prefixes['feature']}*",
        f"{bucket_arn}/{prefixes['prod']}*/evaluation.json",
    ]
    prod = group_policy(FOUR["shared_services"], cfg.group("prod"))["Statement"]
    assert [(s["Sid"], s["Principal"]["AWS"]) for s in prod] == [
        ("DataScienceRead", f"{data_science}:root"),
        ("ProdDeploy", f"arn:aws:iam::{FOUR['prod']}:root"),
    ]
    assert "sagemaker:CreateModelPackage" not in prod[0]["Action"]
    ss = accounts.session(FOUR["shared_services"])
    kms = ss.client("kms")
    key_id = kms.describe_key(KeyId=cfg.names.kms_key_alias)["KeyMetadata"]["KeyId"]
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    key_use = next(s for s in key_policy["Statement"] if s["Sid"] == "DataScientistEncryptDecrypt")
    assert key_use["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
        "aws:PrincipalArn": f"{data_science}:role/{role}",
    }
    bucket_policy = json.loads(ss.client("s3").get_bucket_policy(Bucket=cfg.names.artifact_bucket)["Policy"])
    sids = {s["Sid"]: s for s in bucket_policy["Statement"]}
    for kind in ("dev", "prod"):
        resource = sids[f"DataScientistRead{kind.capitalize()}Reports"]["Resource"]
        assert resource == f"{bucket_arn}/{prefixes[kind]}*/evaluation.json"
    assert (
        f"{data_science}:role/{role}"
        in sids["FeatureReadWriteObjects"]["Condition"]["StringEquals"]["aws:PrincipalArn"]
    )
    assert f"{data_science}:role/{role}" not in json.dumps(sids["DevReadWriteObjects"])


def test_existing_oidc_provider_is_reused(aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = use_config(tmp_path, monkeypatch, "single")
    accounts = Accounts()
    session = accounts.session(SINGLE["qa"])
    arn = session.client("iam").create_open_id_connect_provider(
        Url=f"https://{OIDC_URL}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=[]
    )["OpenIDConnectProviderArn"]

    code, summary, _ = run_bootstrap(accounts)

    assert code == 0
    assert summary["stacks"][f"github-actions-oidc-provider ({SINGLE['qa']})"] == "reused"
    assert oidc_providers(session) == [arn]
    document = session.client("iam").get_role(RoleName=cfg.role_name("github_deploy_prod"))["Role"]
    statement = document["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"]["Federated"] == arn
    assert "github-actions-oidc-provider" not in {
        s["StackName"] for s in session.client("cloudformation").describe_stacks()["Stacks"]
    }


def test_wrong_account_credentials_stop_before_any_change(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_config(tmp_path, monkeypatch, "four")
    accounts = Accounts()

    def same_session(account_role: str, account: str) -> boto3.Session:
        return accounts.session(FOUR["data_science"])

    code = bootstrap.main(
        ["--allow-placeholders"], session_for=same_session, out=io.StringIO(), log=lambda line: None
    )

    assert code == 2
    assert (
        f"resolve to account {FOUR['data_science']}, expected {FOUR['shared_services']}"
        in capsys.readouterr().err
    )
    assert accounts.calls == []


def test_dry_run_refuses_a_profile_the_real_run_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_config(tmp_path, monkeypatch, "four")

    def no_aws(account_role: str, account: str) -> Any:
        raise AssertionError("a dry run must not create sessions")

    out = io.StringIO()
    assert bootstrap.main(["--dry-run", "--profile", "ds=foo"], session_for=no_aws, out=out) == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert (
        "--profile 'ds=foo' is not ROLE=PROFILE with ROLE one of data_science, shared_services, qa, prod"
        in line
    )
    assert out.getvalue() == ""


def test_dry_run_makes_no_aws_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_config(tmp_path, monkeypatch, "four")

    def no_aws(account_role: str, account: str) -> Any:
        raise AssertionError("a dry run must not create sessions")

    out = io.StringIO()
    assert bootstrap.main(["--dry-run"], session_for=no_aws, out=out) == 0
    plan = json.loads(out.getvalue().split("\n# Apply the GitHub settings")[0])
    stacks = plan["stacks"]
    assert [s["template"] for s in stacks[-6:]] == [
        "infra/shared-services.yaml",
        "infra/data-science.yaml",
        "infra/workload.yaml",
        "infra/workload.yaml",
        "infra/workload-deploy.yaml",
        "infra/workload-deploy.yaml",
    ]
    assert stacks[5]["parameters"]["ArtifactKeyArn"] == "<output ArtifactKeyArn of shared-services>"


# --- Placeholder answers -----------------------------------------------------------------

PLACEHOLDER_OWNER = "example-org"


def placeholder_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accounts: dict[str, str], owner: str
) -> Path:
    """The rendered config with these accounts and GitHub owner, written for the bootstrap."""
    raw = make_raw()
    raw["aws"]["accounts"] = dict(accounts)
    raw["github"]["owner"] = owner
    return write_config(raw, tmp_path, monkeypatch)


def no_aws(account_role: str, account: str) -> Any:
    raise AssertionError("no session may be created")


@pytest.mark.parametrize(
    ("accounts", "owner", "expected"),
    [
        (
            FOUR,
            PLACEHOLDER_OWNER,
            [*(f"aws.accounts.{role}" for role in FOUR), "github.owner"],
        ),
        (SINGLE, PLACEHOLDER_OWNER, ["github.owner"]),
        ({**SINGLE, "qa": FOUR["qa"]}, "acme-ml", ["aws.accounts.qa"]),
    ],
    ids=["four-accounts-and-owner", "owner-only", "one-account"],
)
def test_dry_run_warns_on_each_placeholder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    accounts: dict[str, str],
    owner: str,
    expected: list[str],
) -> None:
    path = placeholder_config(tmp_path, monkeypatch, accounts, owner)
    values = {f"aws.accounts.{role}": account for role, account in accounts.items()}
    values["github.owner"] = owner
    out = io.StringIO()

    assert bootstrap.main(["--dry-run"], session_for=no_aws, out=out) == 0

    err = capsys.readouterr().err
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("WARNING: "))
    assert str(path) in lines[start] and "placeholder" in lines[start]
    named = [line.split(" = ")[0].strip() for line in lines if line.startswith("  ") and " = " in line]
    assert named == expected
    for key in expected:
        line = next(line for line in lines if line.strip().startswith(f"{key} = "))
        assert f'{key} = "{values[key]}"  -> change to ' in line
    assert "--allow-placeholders" in err
    # The plan on stdout stays clean JSON.
    json.loads(out.getvalue().split("\n# Apply the GitHub settings")[0])


def test_dry_run_without_placeholders_prints_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    placeholder_config(tmp_path, monkeypatch, SINGLE, "acme-ml")

    assert bootstrap.main(["--dry-run"], session_for=no_aws, out=io.StringIO()) == 0
    assert "WARNING" not in capsys.readouterr().err


@pytest.mark.parametrize("credentials", ["session_for", "default chain"])
@pytest.mark.parametrize(
    ("accounts", "owner", "keys"),
    [
        (FOUR, PLACEHOLDER_OWNER, ["aws.accounts.data_science=111111111111", "github.owner=example-org"]),
        (SINGLE, PLACEHOLDER_OWNER, ["github.owner=example-org"]),
    ],
    ids=["four-accounts-and-owner", "owner-only"],
)
def test_real_run_refuses_placeholders_before_any_aws_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    credentials: str,
    accounts: dict[str, str],
    owner: str,
    keys: list[str],
) -> None:
    placeholder_config(tmp_path, monkeypatch, accounts, owner)
    created: list[str] = []

    def no_boto3(*args: Any, **kwargs: Any) -> Any:
        created.append("boto3")
        raise AssertionError("no session or client may be created")

    monkeypatch.setattr(boto3, "Session", no_boto3)
    monkeypatch.setattr(boto3, "client", no_boto3)
    recorded = Accounts()
    session_for = recorded if credentials == "session_for" else None
    out = io.StringIO()

    code = bootstrap.main([], session_for=session_for, out=out, log=lambda line: None)

    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert all(key in err for key in keys), err
    assert "--allow-placeholders" in err
    assert created == [] and recorded.calls == [] and recorded._sessions == {}
    assert out.getvalue() == ""


# --- GitHub settings ---------------------------------------------------------------------


def run_gh_script(
    tmp_path: Path, script: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the printed commands with a stand-in `gh` that records each call and its input."""
    calls = tmp_path / "calls"
    calls.mkdir()
    stub = tmp_path / "bin" / "gh"
    stub.parent.mkdir()
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'n=$(ls {calls} | wc -l); echo "$*" > {calls}/$n.args\n'
        'if [[ "$*" == *"--input -"* ]]; then cat > ' + f"{calls}" + "/$n.json; fi\n"
        'if [[ "$*" == *"--jq .id"* ]]; then echo 4242; fi\n'
    )
    stub.chmod(0o755)
    bash = shutil.which("bash")
    assert bash, "bash is needed to run the printed gh commands"
    result = subprocess.run(
        [bash, "-c", script],
        env={"PATH": f"{stub.parent}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, calls


def test_gh_commands_apply_the_manifest(tmp_path: Path) -> None:
    cfg = make_config()
    manifest = bootstrap.github_manifest(cfg, bootstrap.parse_reviewers(["team:ml-leads"]))
    script = "\n".join(bootstrap.gh_commands(manifest))

    result, calls = run_gh_script(tmp_path, script, {})

    assert result.returncode == 0, result.stderr
    bodies = {path.stem: json.loads(path.read_text()) for path in calls.glob("*.json")}
    args = {path.stem: path.read_text() for path in calls.glob("*.args")}
    envs = cfg.github.environments
    prod_call = next(k for k, v in args.items() if f"environments/{envs['prod']} " in v + " " and "PUT" in v)
    assert bodies[prod_call]["reviewers"] == [{"type": "Team", "id": 4242}]
    assert bodies[prod_call]["prevent_self_review"] is True
    branch_rules = sorted(v.strip() for v in args.values() if "deployment-branch-policies" in v)
    repo = manifest["repository"]
    branches = cfg.branches
    assert repo == cfg.github.repository
    assert branch_rules == sorted(
        [
            f"api --method POST repos/{repo}/environments/{envs['feature']}/deployment-branch-policies "
            f"-f name={branches.feature_prefix}** -f type=branch",
            f"api --method POST repos/{repo}/environments/{envs['build']}/deployment-branch-policies "
            f"-f name={branches.dev} -f type=branch",
            f"api --method POST repos/{repo}/environments/{envs['qa']}/deployment-branch-policies "
            f"-f name={branches.dev} -f type=branch",
            f"api --method POST repos/{repo}/environments/{envs['prod']}/deployment-branch-policies "
            f"-f name={branches.prod} -f type=branch",
            f"api --method POST repos/{repo}/environments/{cfg.batch.github_environment}"
            f"/deployment-branch-policies -f name={branches.prod} -f type=branch",
        ]
    )


def test_gh_commands_refuse_prod_without_reviewer(tmp_path: Path) -> None:
    script = "\n".join(bootstrap.gh_commands(bootstrap.github_manifest(make_config(), [])))

    result, calls = run_gh_script(tmp_path, script, {})

    assert result.returncode != 0
    assert "set PROD_REVIEWER_TEAM_ID" in result.stderr
    assert not any("environments/prod" in p.read_text() for p in calls.glob("*.args"))


def test_bad_reviewer_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert bootstrap.main(["--dry-run", "--prod-reviewer", "ml-leads"], out=io.StringIO()) == 2
    assert "is not team:SLUG or user:LOGIN" in capsys.readouterr().err


# --- Stack operations CloudFormation in moto cannot fail ---------------------------------


def stubbed_cloudformation() -> tuple[Any, Stubber]:
    client = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION).client(
        "cloudformation", endpoint_url="http://127.0.0.1:9"
    )
    return client, Stubber(client)


def stack(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "StackName": "s",
        "StackStatus": status,
        "CreationTime": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        **extra,
    }


def test_no_updates_answer_counts_as_unchanged() -> None:
    cf, stub = stubbed_cloudformation()
    current = stack("UPDATE_COMPLETE", Parameters=[{"ParameterKey": "A", "ParameterValue": "1"}], Tags=[])
    stub.add_response("describe_stacks", {"Stacks": [current]}, {"StackName": "s"})
    stub.add_response(
        "get_template", {"TemplateBody": "old text"}, {"StackName": "s", "TemplateStage": "Original"}
    )
    stub.add_client_error(
        "update_stack", "ValidationError", "No updates are to be performed.", expected_params=None
    )
    with stub:
        assert bootstrap.deploy_stack(cf, "s", "new text", {"A": "1"}, {}) == ("unchanged", {})
    stub.assert_no_pending_responses()


def test_rollback_complete_stack_needs_a_person() -> None:
    cf, stub = stubbed_cloudformation()
    stub.add_response("describe_stacks", {"Stacks": [stack("ROLLBACK_COMPLETE")]}, {"StackName": "s"})
    event = {
        "StackId": "id",
        "EventId": "e",
        "StackName": "s",
        "Timestamp": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        "LogicalResourceId": "ArtifactBucket",
        "ResourceStatus": "CREATE_FAILED",
        "ResourceStatusReason": "bucket name already taken",
    }
    stub.add_response("describe_stack_events", {"StackEvents": [event]}, {"StackName": "s"})
    with (
        stub,
        pytest.raises(
            bootstrap.BootstrapError, match=r"ROLLBACK_COMPLETE .*bucket name already taken.*delete-stack"
        ),
    ):
        bootstrap.deploy_stack(cf, "s", "body", {}, {})
    stub.assert_no_pending_responses()


def test_failed_creation_reports_the_first_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module("infra.apply"), "WAIT_DELAY_SECONDS", 0)
    cf, stub = stubbed_cloudformation()
    stub.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id s does not exist", expected_params=None
    )
    stub.add_response("create_stack", {"StackId": "id"}, None)
    stub.add_response("describe_stacks", {"Stacks": [stack("ROLLBACK_COMPLETE")]}, None)
    events = [
        {
            "StackId": "id",
            "EventId": str(n),
            "StackName": "s",
            "Timestamp": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            "LogicalResourceId": logical,
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
        }
        for n, (logical, status, reason) in enumerate(
            [
                ("DeployRole", "DELETE_COMPLETE", "rolled back"),
                ("DeployRole", "CREATE_FAILED", "Resource creation cancelled"),
                ("EndpointRole", "CREATE_FAILED", "Role already exists"),
            ]
        )
    ]
    stub.add_response("describe_stack_events", {"StackEvents": events}, None)
    with (
        stub,
        pytest.raises(
            bootstrap.BootstrapError, match="stack s was not created: EndpointRole: Role already exists"
        ),
    ):
        bootstrap.deploy_stack(cf, "s", "body", {"A": "1"}, {"project": "p"})
    stub.assert_no_pending_responses()


def test_stack_operation_in_progress_is_not_touched() -> None:
    cf, stub = stubbed_cloudformation()
    stub.add_response("describe_stacks", {"Stacks": [stack("UPDATE_IN_PROGRESS")]}, {"StackName": "s"})
    with stub, pytest.raises(bootstrap.BootstrapError, match="UPDATE_IN_PROGRESS; wait"):
        bootstrap.deploy_stack(cf, "s", "body", {}, {})
    stub.assert_no_pending_responses()
