"""The product's policy checks: clean on the real templates, and each check fails on a defect.

Every negative test starts from the real template, asserts the check is clean on it, injects one
defect and asserts the check reports exactly that defect, so a check that stopped looking would
fail here.
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy_helpers import FOUR_ACCOUNTS, LAYOUTS, ROOT, Config, config, make_config, make_raw, module

INFRA = ROOT / "infra"
checks = module("infra.policy_checks")
bootstrap = module("infra.bootstrap")
access = module("access")


def registry_module() -> Any:
    """The module that ensures the registry's groups and their policies."""
    return module("promotion.groups")


FOUR = FOUR_ACCOUNTS
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


def findings_for(
    template_file: str,
    mutate: Callable[[dict[str, Any]], None] | None = None,
    stack_key: str | None = None,
    cfg: Config | None = None,
) -> list[str]:
    """Findings of one template as the bootstrap deploys it in four distinct accounts (or `cfg`)."""
    cfg = cfg or make_config("four")
    ctx = checks.Context.from_config(cfg)
    shared = cfg.account_id("shared_services")
    outputs = {"shared-services": {"ArtifactKeyArn": f"arn:aws:kms:{ctx.region}:{shared}:key/k"}}
    specs = [s for s in bootstrap.plan(cfg) if s.template == template_file and (stack_key in (None, s.key))]
    assert specs, f"no stack deploys {template_file}"
    template = checks.load_template(INFRA / template_file)
    if mutate:
        mutate(template)
    found = []
    for spec in specs:
        params = spec.resolved_parameters(outputs)
        found += [str(f) for f in checks.check_template(template, params, spec.account, ctx, spec.name)]
    return found


def statement(template: dict[str, Any], resource: str, sid: str, policy: str | None = None) -> dict[str, Any]:
    """A statement of a resource's policy by Sid (policy: inline policy name, or None for the
    resource's own policy document)."""
    props = template["Resources"][resource]["Properties"]
    if policy == "trust":
        document = props["AssumeRolePolicyDocument"]
    elif policy:
        document = next(p["PolicyDocument"] for p in props["Policies"] if p["PolicyName"] == policy)
    else:
        document = (
            props.get("KeyPolicy") or props.get("PolicyDocument") or props.get("ModelPackageGroupPolicy")
        )
    if "Fn::If" in document:  # group policies: the branch used when the account is remote
        document = document["Fn::If"][1]
    for item in document["Statement"]:
        candidate = item["Fn::If"][1] if "Fn::If" in item else item
        if candidate.get("Sid") == sid:
            return candidate
    raise AssertionError(f"{resource} has no statement {sid}")


def assert_only(found: list[str], *expected: str) -> None:
    """Every expected text appears in some finding, and nothing unrelated was found."""
    for text in expected:
        assert any(text in f for f in found), f"no finding mentions {text!r}; findings: {found}"
    unrelated = [f for f in found if not any(text in f for text in expected)]
    assert not unrelated, f"unexpected findings: {unrelated}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_real_templates_pass_every_check(layout: str) -> None:
    assert checks.check_directory(INFRA, make_config(layout)) == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_distinct_accounts_variant_is_the_config_parsed_in_those_accounts(layout: str) -> None:
    """The checks' extra variants (four distinct accounts; then with a data-scientist role) are
    exactly what config.parse makes of the same file in those accounts (with that principal), so
    every name the checks compare follows config.py."""
    raw = make_raw(layout)
    raw["aws"]["accounts"] = dict(checks.DISTINCT_ACCOUNTS)
    parsed = config.parse(raw)
    assert make_config(layout).with_accounts(checks.DISTINCT_ACCOUNTS) == parsed
    assert parsed.environment("qa").capture_bucket != make_config(layout).environment("qa").capture_bucket
    variants = checks.variants(make_config(layout))
    distinct = len(set(make_config(layout).accounts.values())) == len(config.ACCOUNT_ROLES)
    last = "configured accounts" if distinct else "four distinct accounts"
    assert [name for name, _ in variants] == ["configured accounts"] + (
        [] if distinct else ["four distinct accounts"]
    ) + [f"{last} with a data-scientist role"]
    if not distinct:
        assert variants[1][1] == parsed
    else:
        raw = make_raw(layout)
    accounts = raw["aws"]["accounts"]
    raw["aws"]["data_scientist_principal"] = checks.PLACEHOLDER_PRINCIPAL.format(
        account=accounts["data_science"], region=raw["aws"]["region"]
    )
    assert variants[-1][1] == config.parse(raw)
    assert variants[-1][1].data_scientist_principal.startswith(f"arn:aws:iam::{accounts['data_science']}:")
    # A config that has a data-scientist principal is checked as it is.
    with_one = config.parse(raw)
    assert [name for name, _ in checks.variants(with_one)][-1] != f"{last} with a data-scientist role"


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert checks.main([str(INFRA)]) == 0
    assert "no findings in 6 templates" in capsys.readouterr().out

    broken = tmp_path / "infra"
    shutil.copytree(INFRA, broken)
    path = broken / "workload-deploy.yaml"
    path.write_text(
        path.read_text()
        .replace("- sagemaker:InvokeEndpoint", "- sagemaker:*")
        .replace("Action: sagemaker:InvokeEndpoint", "Action: sagemaker:*")
    )
    assert checks.main([str(broken)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines and all("wildcard action 'sagemaker:*'" in line for line in lines)
    assert "finding(s)" in captured.err

    assert checks.main([str(tmp_path / "missing")]) == 2
    assert "no *.yaml templates" in capsys.readouterr().err


def test_every_template_is_deployed_by_the_plan(tmp_path: Path) -> None:
    extra = tmp_path / "infra"
    shutil.copytree(INFRA, extra)
    (extra / "stray.yaml").write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    found = [str(f) for f in checks.check_directory(extra, make_config("four"))]
    assert found == ["stray.yaml: no stack of the bootstrap plan deploys this template, so it is not checked"]


# --- GitHub OIDC trust -------------------------------------------------------------------


def test_wildcard_subject_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "BuildRole", "GitHubBuildEnvironment", "trust")["Condition"]["StringEquals"][SUB] = [
            {"Fn::Sub": "repo:${GitHubOwner}/${GitHubRepo}:environment:${BuildEnvironmentName}"},
            "repo:org/*",
        ]

    assert findings_for("data-science.yaml") == []
    assert_only(findings_for("data-science.yaml", mutate), "sub 'repo:org/*' contains a wildcard")


def test_string_like_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        condition = statement(t, "BuildRole", "GitHubBuildEnvironment", "trust")["Condition"]
        condition["StringLike"] = {SUB: condition["StringEquals"].pop(SUB)}

    assert_only(
        findings_for("data-science.yaml", mutate),
        "uses StringLike; GitHub trust must use StringEquals",
        f"no StringEquals on {SUB}",
    )


def test_for_all_values_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        condition = statement(t, "RegistryQaRole", "GitHubQaEnvironment", "trust")["Condition"]
        condition["ForAllValues:StringEquals"] = {SUB: ["repo:example/x:environment:qa"]}

    assert_only(
        findings_for("shared-services.yaml", mutate),
        "uses ForAllValues:StringEquals; set operators are not allowed",
        "uses ForAllValues:StringEquals; GitHub trust must use StringEquals",
    )


def test_audience_must_be_sts() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "DeployRole", "GitHubEnvironment", "trust")["Condition"]["StringEquals"][AUD] = "api://x"

    found = findings_for("workload-deploy.yaml", mutate, stack_key="deploy-qa")
    assert_only(found, f"{AUD} must be exactly ['sts.amazonaws.com']")


def test_deploy_role_trusting_another_environment_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "DeployRole", "GitHubEnvironment", "trust")["Condition"]["StringEquals"][SUB] = {
            "Fn::Sub": "repo:${GitHubOwner}/${GitHubRepo}:environment:prod"
        }

    found = findings_for("workload-deploy.yaml", mutate, stack_key="deploy-qa")
    assert_only(found, "trusts environment 'prod'; role", "does not trust environment(s) ['qa']")


def test_branch_subject_and_foreign_repository_fail() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "BuildRole", "GitHubBuildEnvironment", "trust")["Condition"]["StringEquals"][SUB] = [
            {"Fn::Sub": "repo:${GitHubOwner}/${GitHubRepo}:environment:${BuildEnvironmentName}"},
            {"Fn::Sub": "repo:${GitHubOwner}/${GitHubRepo}:ref:refs/heads/main"},
            "repo:someone-else/other:environment:data-science",
        ]

    assert_only(
        findings_for("data-science.yaml", mutate),
        "trusts a branch",
        "names another repository",
    )


def with_github_ids() -> Config:
    """The four-account config with numeric GitHub owner and repository IDs set."""
    raw = make_raw("four")
    raw["github"].update(owner_id="1234", repo_id="5678")
    return config.parse(raw)


def test_id_qualified_subjects_must_match_config() -> None:
    cfg = with_github_ids()
    ctx = checks.Context.from_config(cfg)
    role = cfg.role_name("github_build")
    env = cfg.github.environments["build"]
    owner, repo = cfg.github.owner, cfg.github.repo
    trust = {
        "Statement": [
            {
                "Sid": "GitHub",
                "Effect": "Allow",
                "Principal": {
                    "Federated": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        AUD: "sts.amazonaws.com",
                        SUB: [
                            f"repo:{owner}/{repo}:environment:{env}",
                            f"repo:{owner}@1234/{repo}@5678:environment:{env}",
                        ],
                    }
                },
            }
        ]
    }
    assert checks.check_trust_policy("trust", trust, role, ctx) == []
    trust["Statement"][0]["Condition"]["StringEquals"][SUB][1] = (
        f"repo:{owner}@999/{repo}@5678:environment:{env}"
    )
    assert_only([str(f) for f in checks.check_trust_policy("trust", trust, role, ctx)], "has owner_id 999")


def test_template_trusts_id_qualified_form_only_when_ids_are_given() -> None:
    cfg = with_github_ids()
    ctx = checks.Context.from_config(cfg)
    spec = next(s for s in bootstrap.plan(cfg) if s.key == "data-science")
    params = spec.resolved_parameters({"shared-services": {"ArtifactKeyArn": "arn:aws:kms:r:2:key/k"}})
    resolver = checks.Resolver(
        checks.load_template(INFRA / "data-science.yaml"), params, spec.account, ctx.region
    )
    trust = resolver.properties("BuildRole")["AssumeRolePolicyDocument"]
    owner, repo = cfg.github.owner, cfg.github.repo
    assert trust["Statement"][0]["Condition"]["StringEquals"][SUB] == [
        f"repo:{owner}/{repo}:environment:data-science",
        f"repo:{owner}@1234/{repo}@5678:environment:data-science",
    ]
    params.update(GitHubOwnerId="", GitHubRepoId="")
    resolver = checks.Resolver(
        checks.load_template(INFRA / "data-science.yaml"), params, spec.account, ctx.region
    )
    trust = resolver.properties("BuildRole")["AssumeRolePolicyDocument"]
    assert (
        trust["Statement"][0]["Condition"]["StringEquals"][SUB]
        == f"repo:{owner}/{repo}:environment:data-science"
    )


# --- IAM actions and resources -----------------------------------------------------------


def test_service_wildcard_action_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "DeployRole", "InvokeForEndpointTests", "deploy-endpoint")["Action"] = "sagemaker:*"

    found = findings_for("workload-deploy.yaml", mutate, stack_key="deploy-prod")
    assert_only(found, "grants wildcard action 'sagemaker:*'")


def test_star_action_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "PipelineRole", "ReadWriteOwnArtifacts", "pipeline-jobs")["Action"] = "*"

    assert_only(findings_for("data-science.yaml", mutate), "grants wildcard action '*'")


def test_resource_star_only_for_actions_without_resource_level_permissions() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "EndpointRole", "EcrLogin", "endpoint-runtime")["Action"] = [
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
        ]

    found = findings_for("workload.yaml", mutate)
    assert_only(found, "Resource '*' for ecr:BatchGetImage, which support resource-level permissions")


def test_resource_star_needs_a_comment() -> None:
    text = (INFRA / "workload-deploy.yaml").read_text()
    assert checks.check_wildcard_comments(text, "workload-deploy.yaml") == []
    uncommented = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    found = [str(f) for f in checks.check_wildcard_comments(uncommented, "workload-deploy.yaml")]
    assert len(found) == 3 and all('Resource: "*" without a comment' in f for f in found), found


# --- KMS ---------------------------------------------------------------------------------


def test_kms_encrypt_granted_to_workload_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "ArtifactKey", "WorkloadDecryptOnly")["Action"] = ["kms:Decrypt", "kms:Encrypt"]

    assert findings_for("shared-services.yaml") == []
    assert_only(
        findings_for("shared-services.yaml", mutate),
        "grants kms:Encrypt to workload account 333333333333 (qa)",
        "grants kms:Encrypt to workload account 444444444444 (prod)",
    )


def test_kms_grant_without_via_service_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        del statement(t, "ArtifactKey", "DataScienceEncryptDecrypt")["Condition"]["StringEquals"][
            "kms:ViaService"
        ]

    assert_only(findings_for("shared-services.yaml", mutate), "key use without a kms:ViaService condition")


def test_kms_data_science_limited_and_rotation_on() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "ArtifactKey", "DataScienceEncryptDecrypt")["Action"].append("kms:ReEncryptFrom")
        t["Resources"]["ArtifactKey"]["Properties"]["EnableKeyRotation"] = False

    assert_only(
        findings_for("shared-services.yaml", mutate),
        "grants kms:ReEncryptFrom to the data-science account",
        "EnableKeyRotation is not true",
    )


# --- Bucket ------------------------------------------------------------------------------


def test_bucket_workload_write_and_missing_tls_deny_fail() -> None:
    cfg = make_config("four")
    endpoint = cfg.role_name("sagemaker_endpoint")

    def mutate(t: dict[str, Any]) -> None:
        statement(t, "ArtifactBucketPolicy", "QaReadObjects")["Action"].append("s3:PutObject")
        document = t["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "DenyInsecureTransport"]

    assert_only(
        findings_for("shared-services.yaml", mutate),
        "grants s3:PutObject to workload account 333333333333 (qa)",
        f"statement QaReadObjects: role {endpoint} may write the dev prefix (s3:PutObject on ",
        f"statement QaReadObjects: role {cfg.role_name('github_batch_qa')} may write the dev prefix "
        "(s3:PutObject on ",
        "no Deny of s3:* when aws:SecureTransport is false",
    )


def test_bucket_settings() -> None:
    def mutate(t: dict[str, Any]) -> None:
        props = t["Resources"]["CaptureBucket"]["Properties"]
        props["VersioningConfiguration"]["Status"] = "Suspended"
        props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] = {
            "SSEAlgorithm": "AES256"
        }

    assert_only(
        findings_for("workload.yaml", mutate),
        "versioning is not Enabled",
        "public access block is not fully on",
        "default encryption is ['AES256'], expected aws:kms",
    )


# --- Model package groups ----------------------------------------------------------------


def test_role_principal_in_group_policy_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "DevModelPackageGroup", "QaRead")["Principal"]["AWS"] = {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${QaAccountId}:role/deployer"
        }

    assert_only(findings_for("shared-services.yaml", mutate), "is not an account root")


def test_workload_write_on_registry_fails() -> None:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, "ProdModelPackageGroup", "ProdDeploy")["Action"].append("sagemaker:UpdateModelPackage")

    assert_only(
        findings_for("shared-services.yaml", mutate),
        "grants sagemaker:UpdateModelPackage on the prod group to workload account 444444444444 (prod)",
    )


def test_create_model_for_qa_on_the_dev_group_fails() -> None:
    """QA builds its model from the package's containers; CreateModel on the dev group (the
    grant QA no longer needs) is a finding, as is any registry action beyond the deploy's."""

    def mutate(t: dict[str, Any]) -> None:
        statement(t, "DevModelPackageGroup", "QaRead")["Action"].append("sagemaker:CreateModel")

    assert findings_for("shared-services.yaml") == []
    assert_only(
        findings_for("shared-services.yaml", mutate),
        "grants sagemaker:CreateModel on the dev group to workload account 333333333333 (qa) "
        "(QA creates its model from the package's containers",
    )

    def widen(t: dict[str, Any]) -> None:
        statement(t, "DevModelPackageGroup", "QaRead")["Action"].append("sagemaker:ListModelPackages")

    assert_only(
        findings_for("shared-services.yaml", widen),
        "grants sagemaker:ListModelPackages on the dev group to workload account 333333333333 (qa)",
    )


def test_create_model_from_package_environments_match_the_deploy_code() -> None:
    """The environments the checks let create a model from the package ARN are those whose model
    the deploy code creates from it (`Environment.approved_only` in the config, the ones
    registry.workload_group_actions grants sagemaker:CreateModel, and the access table's)."""
    registry = registry_module()
    cfg = make_config("four")
    approved_only = {env for env in config.ENVIRONMENTS if cfg.environment(env).approved_only}
    create_model = {
        env
        for env in config.ENVIRONMENTS
        if "sagemaker:CreateModel" in registry.workload_group_actions(cfg.environment(env))
    }
    in_table = {env for env in config.ENVIRONMENTS if access.creates_model_from_package(env)}
    ctx = checks.Context.from_config(cfg)
    assert ctx.create_from_package == approved_only == create_model == in_table == {"prod"}
    assert ctx.deploys_from == dict(config.ENVIRONMENT_GROUPS)


@pytest.mark.parametrize("env", ["qa", "prod"])
def test_deploy_role_registry_grants_match_the_deploy(env: str) -> None:
    """The deploy role reads only DescribeModelPackage from the registry; only prod's CreateModel
    statement names the registry's packages (QA's model comes from the package's containers)."""
    cfg = make_config("four")
    spec = next(s for s in bootstrap.plan(cfg) if s.key == f"deploy-{env}")
    resolver = checks.Resolver(
        checks.load_template(INFRA / "workload-deploy.yaml"),
        spec.parameters,
        spec.account,
        cfg.region,
    )
    [policy] = resolver.properties("DeployRole")["Policies"]
    sids = {item["Sid"]: item for item in policy["PolicyDocument"]["Statement"]}
    assert spec.parameters["ModelPackageGroupName"] == cfg.environment(env).group
    packages = cfg.packages_arn(cfg.environment(env).group_kind)
    assert f":{FOUR['shared_services']}:model-package/{cfg.environment(env).group}/" in packages
    assert sids["ReadSourcePackages"]["Action"] == "sagemaker:DescribeModelPackage"
    assert sids["ReadSourcePackages"]["Resource"] == packages
    registry_actions = {
        action
        for item in sids.values()
        for action in checks.as_list(item["Action"])
        if any(f":{FOUR['shared_services']}:" in str(r) for r in checks.as_list(item["Resource"]))
    }
    create_resources = checks.as_list(sids["CreateModels"]["Resource"])
    if env == "prod":
        assert registry_actions == {"sagemaker:DescribeModelPackage", "sagemaker:CreateModel"}
        assert packages in create_resources
    else:
        assert registry_actions == {"sagemaker:DescribeModelPackage"}
        assert all(f":{FOUR['qa']}:model/" in r for r in create_resources)


def test_data_science_write_on_prod_group_fails() -> None:
    cfg = make_config("four")
    ctx = checks.Context.from_config(cfg)
    policy = {
        "Statement": [
            {
                "Sid": "DataScienceRegister",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                "Resource": "*",
            }
        ]
    }
    assert checks.check_group_policy("dev", policy, "dev", ctx) == []
    assert_only(
        [str(f) for f in checks.check_group_policy("prod", policy, "prod", ctx)],
        "grants sagemaker:CreateModelPackage on the prod group to the data-science account",
    )


# --- The access table -----------------------------------------------------------------------


def test_group_grant_beyond_the_access_table_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading prod versions is within what the checks allow the data-science account; a template
    that grants it while the access table does not (here: a table without the champion look-up of
    the build roles) is a finding."""
    assert findings_for("shared-services.yaml") == []
    full = access.grants

    def without_prod_reads(cfg: Config) -> list[Any]:
        return [g for g in full(cfg) if not (g.party == "data_science" and "group:prod" in g.resources)]

    monkeypatch.setattr(access, "grants", without_prod_reads)
    assert_only(
        findings_for("shared-services.yaml"),
        "statement DataScienceRead: grants sagemaker:DescribeModelPackage, "
        "sagemaker:DescribeModelPackageGroup, sagemaker:ListModelPackages on the prod group to the "
        "data-science account, which the access table (access/table.py) does not grant",
    )


def test_role_grant_beyond_the_access_table_fails() -> None:
    """An IAM role's grant on a shared resource (registry, artifact bucket or key) that the access
    table does not make is a finding, even where no resource policy would let it through."""
    cfg = make_config("four")

    def register_into_prod(t: dict[str, Any]) -> None:
        resources = statement(t, "PipelineRole", "RegisterIntoOwnGroup", "pipeline-jobs")["Resource"]
        resources.append(
            f"arn:aws:sagemaker:{cfg.region}:{FOUR['shared_services']}:model-package-group/{cfg.group('prod')}"
        )

    assert findings_for("data-science.yaml") == []
    pipeline = cfg.role_name("sagemaker_pipeline")
    assert_only(
        findings_for("data-science.yaml", register_into_prod),
        "statement RegisterIntoOwnGroup: grants sagemaker:CreateModelPackage on group:prod, "
        "sagemaker:DescribeModelPackage on group:prod, sagemaker:DescribeModelPackageGroup on group:prod, "
        f"sagemaker:ListModelPackages on group:prod to role {pipeline}, which the access table",
        f"PipelineRole: role {pipeline} may register versions into the prod group",
        f"PipelineRole: role {pipeline} may register an Approved version into the prod group",
    )

    def qa_creates_from_package(t: dict[str, Any]) -> None:
        t["Conditions"]["CreatesModelFromPackageArn"] = {"Fn::Equals": ["true", "true"]}

    assert_only(
        findings_for("workload-deploy.yaml", qa_creates_from_package, stack_key="deploy-qa"),
        f"statement CreateModels: grants sagemaker:CreateModel on versions:dev to role "
        f"{cfg.role_name('github_deploy_qa')}, which the access table (access/table.py) does not grant",
    )


def test_a_loose_access_table_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The templates are held to the table and the table to the checks' own limits, so a table
    grown as loose as a template would be still fails the checks."""
    cfg = make_config("four")
    table = module("access.table")
    assert checks.check_table(cfg) == []
    qa = access.ENVIRONMENT_TABLE["qa"]
    loose = (
        access.Grant("qa", "github_deploy_qa", ("sagemaker:CreateModel",), ("versions:source",)),
        access.Grant("qa", "sagemaker_endpoint", ("s3:PutObject",), ("objects:source",)),
        access.Grant("qa", "sagemaker_endpoint", ("kms:Encrypt",), ("key",)),
    )
    monkeypatch.setattr(table, "ENVIRONMENT_TABLE", {**access.ENVIRONMENT_TABLE, "qa": qa + loose})
    monkeypatch.setattr(
        table,
        "TABLE",
        (
            *access.TABLE,
            access.Grant("data_science", "github_build", ("sagemaker:CreateModelPackage",), ("group:prod",)),
        ),
    )
    build, endpoint = cfg.role_name("github_build"), cfg.role_name("sagemaker_endpoint")
    assert_only(
        [str(f) for f in checks.check_table(cfg)],
        "access/table.py qa github_deploy_qa: grants sagemaker:CreateModel on versions:dev",
        "access/table.py qa sagemaker_endpoint: grants s3:PutObject on objects:dev",
        "access/table.py qa sagemaker_endpoint: grants kms:Encrypt on key",
        "access/table.py qa sagemaker_endpoint: key use via []; expected S3 or SageMaker only",
        f"access/table.py qa sagemaker_endpoint: role {endpoint} may write the dev prefix",
        "access/table.py data_science github_build: grants sagemaker:CreateModelPackage on group:prod",
        f"access/table.py data_science github_build: role {build} may register versions into the prod group",
        f"access/table.py data_science github_build: role {build} may register an Approved version",
    )
    assert checks.check_directory(INFRA, cfg)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deploy_code_group_policies_pass_and_match_the_template(layout: str) -> None:
    """The deploy code's registry.group_policy and the template build the same documents, and
    the same check accepts both (so `ensure_groups` never fights the CloudFormation stack)."""
    registry = registry_module()
    cfg = make_config(layout)
    ctx = checks.Context.from_config(cfg)
    spec = next(s for s in bootstrap.plan(cfg) if s.key == "shared-services")
    resolver = checks.Resolver(
        checks.load_template(INFRA / "shared-services.yaml"), spec.parameters, spec.account, ctx.region
    )
    logical = {
        "feature": "FeatureModelPackageGroup",
        "dev": "DevModelPackageGroup",
        "prod": "ProdModelPackageGroup",
    }
    for kind, resource in logical.items():
        from_code = registry.group_policy(cfg, kind)
        assert checks.check_group_policy(kind, from_code, kind, ctx) == []
        from_template = resolver.properties(resource).get("ModelPackageGroupPolicy")
        assert from_template == from_code, f"{kind} group: template and deploy code disagree"
    if layout == "four":
        bad = copy.deepcopy(registry.group_policy(cfg, "dev"))
        bad["Statement"][-1]["Principal"]["AWS"] = "arn:aws:iam::333333333333:role/deployer"
        assert_only(
            [str(f) for f in checks.check_group_policy("dev", bad, "dev", ctx)], "is not an account root"
        )
        # A builder that still grants QA CreateModel on the dev group is caught too.
        old = copy.deepcopy(registry.group_policy(cfg, "dev"))
        [qa] = [s for s in old["Statement"] if s["Sid"] == "QaRead"]
        qa["Action"] = sorted([*qa["Action"], "sagemaker:CreateModel"])
        assert_only(
            [str(f) for f in checks.check_group_policy("dev", old, "dev", ctx)],
            "grants sagemaker:CreateModel on the dev group to workload account 333333333333 (qa)",
        )


def test_docs_list_every_statement_that_keeps_resource_star() -> None:
    """docs/infrastructure.md's table names exactly the statements with Resource "*"."""
    in_templates = set()
    for path in sorted(INFRA.glob("*.yaml")):
        for logical, resource in checks.load_template(path)["Resources"].items():
            props = resource.get("Properties", {})
            documents = [props.get("KeyPolicy")] + [
                p.get("PolicyDocument") for p in props.get("Policies", [])
            ]
            for document in filter(None, documents):
                for item in document["Statement"]:
                    # A conditional statement (!If) counts with either branch.
                    for candidate in item["Fn::If"][1:] if "Fn::If" in item else [item]:
                        if isinstance(candidate, dict) and "*" in checks.as_list(candidate.get("Resource")):
                            in_templates.add((path.name, logical, candidate["Sid"]))
    doc = (ROOT / "docs" / "infrastructure.md").read_text().split("## Statements that keep")[1]
    rows = re.findall(r"^\| `([\w.-]+\.yaml)` \| `(\w+)` \| `(\w+)` \|", doc, flags=re.MULTILINE)
    assert set(rows) == in_templates
    assert len(rows) == len(set(rows))


def test_infra_cli_runs_each_command_under_the_cli_contract(capsys: pytest.CaptureFixture[str]) -> None:
    """`<package> infra check|bootstrap|teardown ...` runs the same mains; usage errors exit 2
    with one `error:` line."""
    cli = module("infra.cli")
    assert cli.main(["check", str(INFRA)]) == 0
    assert "no findings in 6 templates" in capsys.readouterr().out
    assert cli.main(["check", "--bogus"]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: unrecognized arguments: --bogus"]
    assert cli.main(["deploy"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown infra command 'deploy'")
    assert cli.main([]) == 2
    assert "usage: infra <command>" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0 and "usage: infra <command>" in capsys.readouterr().out
    assert set(cli.COMMANDS) == {"bootstrap", "teardown", "check", "github"}
