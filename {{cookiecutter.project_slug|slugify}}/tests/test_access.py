"""The access table (access/table.py) is what the deploy code, the templates and bootstrap use.

- `access.group_policy` is exactly what the deploy code's `registry.group_policy` builds;
- the shared-services template's key, bucket and group policies resolve to the table's
  statements, and every IAM role in the templates holds exactly the table's grants on the table's
  resources (Allow and Deny, each with its condition), on the default (baked), four-account and
  single-account layouts;
- the key and bucket statements group only roles that hold the same grants, cover every grant
  another account (or the key) needs, and no statement names every object of the bucket;
- bootstrap passes the templates the table's principals, prefixes and per-environment access;
- all of it also with the optional data-scientist role (`aws.data_scientist_principal`), whose
  rows join the table, its statements the templates, only when that is set.

The negative tests show the comparison catches a template that drifts from the table.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from deploy_helpers import LAYOUTS, ROOT, config, make_config, make_raw, module

access = module("access")
checks = module("infra.policy_checks")
plan_module = module("infra.plan")
INFRA = ROOT / "infra"
# The layouts again with a data-scientist principal: an SSO permission set's role in the data-science
# account, or a role of another (identity) account; "prodshared": prod served from the
# shared-services account, so only the data scientist needs the prod group's policy.
SCIENTIST_LAYOUTS = ("four+scientist", "single+scientist", "baked+scientist", "prodshared+scientist")
ACCESS_LAYOUTS = (*LAYOUTS, *SCIENTIST_LAYOUTS)
SSO_PRINCIPAL = (
    "arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{region}/AWSReservedSSO_DataScientist_*"
)
IDENTITY_PRINCIPAL = "arn:aws:iam::999999999999:role/data-scientists/ds-*"


def access_config(layout: str) -> Any:
    """`make_config(layout)`; `<layout>+scientist` adds a data-scientist principal (baked: a role
    of an identity account; else an SSO role of the data-science account)."""
    base, _, scientist = layout.partition("+")
    if not scientist:
        return make_config(base)
    raw = make_raw("four" if base == "prodshared" else base)
    aws = raw["aws"]
    if base == "prodshared":
        aws["accounts"]["prod"] = aws["accounts"]["shared_services"]
    pattern = IDENTITY_PRINCIPAL if base == "baked" else SSO_PRINCIPAL
    aws["data_scientist_principal"] = pattern.format(
        account=aws["accounts"]["data_science"], region=aws["region"]
    )
    return config.parse(raw)


GROUP_RESOURCES = {
    "feature": "FeatureModelPackageGroup",
    "dev": "DevModelPackageGroup",
    "prod": "ProdModelPackageGroup",
}


def registry_module() -> Any:
    """The module that ensures the registry's groups and their policies."""
    return module("promotion.groups")


def as_set(value: Any) -> list[Any]:
    return sorted(set(checks.as_list(value)))


def normal(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement with every single-or-list value as a sorted list (IAM reads them as sets)."""
    result = dict(statement)
    for key in ("Action", "Resource"):
        result[key] = as_set(statement.get(key))
    result["Principal"] = {k: as_set(v) for k, v in (statement.get("Principal") or {}).items()}
    result["Condition"] = {
        op: {k: as_set(v) for k, v in values.items()}
        for op, values in (statement.get("Condition") or {}).items()
    }
    return result


def allowed(document: Any) -> list[dict[str, Any]]:
    return [normal(s) for s in checks.statements(document) if s.get("Effect") == "Allow"]


def template_of(template_file: str) -> dict[str, Any]:
    """A fresh copy of a template of infra/ (conftest parses each template once per process and
    hands every caller its own copy)."""
    return checks.load_template(INFRA / template_file)


def resolved(
    cfg: Any, template_file: str, mutate: Callable[[dict[str, Any]], None] | None = None
) -> list[tuple[Any, Any, set[str]]]:
    """(stack spec, resolver, artifact key ARNs) for every stack of the plan deploying the template."""
    shared_spec = next(s for s in plan_module.plan(cfg) if s.key == "shared-services")
    shared = checks.Resolver(
        template_of("shared-services.yaml"),
        shared_spec.parameters,
        shared_spec.account,
        cfg.region,
    )
    key_arn = shared.value(shared.template["Outputs"]["ArtifactKeyArn"]["Value"])
    found = []
    for spec in plan_module.plan(cfg):
        if spec.template != template_file:
            continue
        template = template_of(template_file)
        if mutate:
            mutate(template)
        params = spec.resolved_parameters({"shared-services": {"ArtifactKeyArn": key_arn}})
        found.append((spec, checks.Resolver(template, params, spec.account, cfg.region), {key_arn}))
    return found


def resource_policy_differences(
    cfg: Any, mutate: Callable[[dict[str, Any]], None] | None = None
) -> list[str]:
    """Where the shared-services template's resource policies differ from the table's."""
    [(_, resolver, _)] = resolved(cfg, "shared-services.yaml", mutate)
    differences = []
    key = allowed(resolver.properties("ArtifactKey")["KeyPolicy"])
    if key != [normal(s) for s in access.key_policy(cfg)]:
        differences.append(f"key policy: {key} != table {access.key_policy(cfg)}")
    bucket = allowed(resolver.properties("ArtifactBucketPolicy")["PolicyDocument"])
    if bucket != [normal(s) for s in access.bucket_policy(cfg)]:
        differences.append(f"bucket policy: {bucket} != table {access.bucket_policy(cfg)}")
    for kind, logical in GROUP_RESOURCES.items():
        from_template = resolver.properties(logical).get("ModelPackageGroupPolicy")
        if from_template != access.group_policy(cfg, kind):
            differences.append(
                f"{kind} group policy: {from_template} != table {access.group_policy(cfg, kind)}"
            )
    return differences


def template_role_grants(cfg: Any, mutate: Callable[[dict[str, Any]], None] | None = None) -> dict[Any, set]:
    """(account, role name) -> (effect, action, resource symbol, condition) entries its inline
    policies hold on the table's resources, over every stack of the plan."""
    grants: dict[Any, set] = {}
    for template_file in sorted({s.template for s in plan_module.plan(cfg)}):
        for spec, resolver, key_arns in resolved(cfg, template_file, mutate):
            for logical, resource in resolver.resources.items():
                if resource["Type"] != "AWS::IAM::Role" or not resolver.active(logical):
                    continue
                props = resolver.properties(logical)
                entries = grants.setdefault((spec.account, props["RoleName"]), set())
                for policy in props.get("Policies", []):
                    for item in checks.statements(policy["PolicyDocument"]):
                        condition = access.condition_text(item.get("Condition"))
                        for arn in checks.as_list(item.get("Resource")):
                            symbol = access.resource_of(cfg, str(arn), key_arns)
                            if symbol:
                                entries |= {
                                    (item["Effect"], action, symbol, condition)
                                    for action in checks.as_list(item["Action"])
                                }
    return grants


def identity_differences(cfg: Any, mutate: Callable[[dict[str, Any]], None] | None = None) -> list[str]:
    in_templates = template_role_grants(cfg, mutate)
    differences = []
    for (account, role), pairs in sorted(in_templates.items()):
        expected = access.grants_of_role(cfg, account, role) or set()
        if pairs != expected:
            differences.append(
                f"{role} in {account}: extra {sorted(pairs - expected)}, missing {sorted(expected - pairs)}"
            )
    for party, role in access.role_grants(cfg):
        if (access.party_account(cfg, party), cfg.role_name(role)) not in in_templates:
            differences.append(f"the table names {role} in the {party} account, which no template creates")
    return differences


# The registry code (promotion.groups) delegates to the table; test_registry.py holds the
# resulting group policies to explicit statements, so the table is checked against an oracle there.
@pytest.mark.parametrize("layout", LAYOUTS)
def test_workload_actions_are_describe_and_create_model_only_where_the_config_says(layout: str) -> None:
    cfg = make_config(layout)
    expected = {
        "qa": {"sagemaker:DescribeModelPackage"},
        "prod": {"sagemaker:DescribeModelPackage", "sagemaker:CreateModel"},
    }
    for env in config.ENVIRONMENTS:
        environment = cfg.environment(env)
        assert set(access.workload_group_actions(environment)) == expected[env]
        registry_actions = registry_module().workload_group_actions(environment)
        assert registry_actions == access.workload_group_actions(environment)
        assert access.creates_model_from_package(env) == environment.approved_only
    assert {env for env in config.ENVIRONMENTS if access.creates_model_from_package(env)} == {"prod"}


@pytest.mark.parametrize("layout", ACCESS_LAYOUTS)
def test_shared_services_resource_policies_are_the_table(layout: str) -> None:
    """Statement by statement: the artifact key's and bucket's Allow statements and the three
    group policies, resolved as bootstrap deploys them, equal the table's."""
    assert resource_policy_differences(access_config(layout)) == []


@pytest.mark.parametrize("layout", ACCESS_LAYOUTS)
def test_every_role_holds_exactly_the_tables_grants(layout: str) -> None:
    assert identity_differences(access_config(layout)) == []


def test_a_template_that_drifts_from_the_table_is_caught() -> None:
    cfg = make_config("four")

    def drop_qa_read(t: dict[str, Any]) -> None:
        statements = t["Resources"]["DevModelPackageGroup"]["Properties"]["ModelPackageGroupPolicy"][
            "Fn::If"
        ][1]
        statements["Statement"] = statements["Statement"][:1]

    def widen_workload_read(t: dict[str, Any]) -> None:
        document = t["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
        [workload] = [s for s in document["Statement"] if s.get("Sid") == "QaReadObjects"]
        workload["Action"] = [*workload["Action"], "s3:ListBucket"]

    assert [d.split(":")[0] for d in resource_policy_differences(cfg, drop_qa_read)] == ["dev group policy"]
    assert [d.split(":")[0] for d in resource_policy_differences(cfg, widen_workload_read)] == [
        "bucket policy"
    ]

    def registry_role_writes_feature(t: dict[str, Any]) -> None:
        props = t["Resources"].get("RegistryProdRole", {}).get("Properties")
        if props:
            document = props["Policies"][0]["PolicyDocument"]
            [promote] = [s for s in document["Statement"] if s["Sid"] == "PromoteIntoProdGroup"]
            promote["Resource"] = [*promote["Resource"], copy.deepcopy(promote["Resource"][0])]
            promote["Resource"][-1]["Fn::Sub"] = promote["Resource"][-1]["Fn::Sub"].replace(
                "ProdGroup", "FeatureGroup"
            )

    [difference] = identity_differences(cfg, registry_role_writes_feature)
    assert "github-registry-prod" in difference
    assert "extra [('Allow', 'sagemaker:CreateModelPackage', 'group:feature', '')], missing []" in difference

    def qa_may_approve(t: dict[str, Any]) -> None:
        props = t["Resources"].get("RegistryQaRole", {}).get("Properties")
        if props:
            document = props["Policies"][0]["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "NeverApprove"]

    [difference] = identity_differences(cfg, qa_may_approve)
    assert "github-registry-qa" in difference
    assert "extra [], missing [('Deny', 'sagemaker:UpdateModelPackage', 'versions:dev', " in difference

    def pass_role_unconditionally(t: dict[str, Any]) -> None:
        props = t["Resources"].get("FeatureBuildRole", {}).get("Properties")
        if props:
            document = props["Policies"][0]["PolicyDocument"]
            [passing] = [s for s in document["Statement"] if s["Sid"] == "PassOwnPipelineRole"]
            del passing["Condition"]

    [difference] = identity_differences(cfg, pass_role_unconditionally)
    assert "github-feature" in difference
    assert "extra [('Allow', 'iam:PassRole', 'role:sagemaker_feature', '')]" in difference


@pytest.mark.parametrize("layout", ACCESS_LAYOUTS)
def test_key_and_bucket_statements_group_equal_grants_and_cover_every_cross_account_grant(
    layout: str,
) -> None:
    """A key or bucket statement lists several roles only when they hold the same actions (and
    key services) on it, so it widens none of them; every Allow another account needs on the
    bucket, and every key use, has its statement; no statement names every object. A statement
    whose roles hold nothing on it (the data scientist's, without one) is left out of the policy."""
    cfg = access_config(layout)
    sids = {s["Sid"] for s in access.key_policy(cfg) + access.bucket_policy(cfg)}
    rows = [g for g in access.grants(cfg) if g.allow]
    layouts = [(sid, parties, roles, r, "key") for sid, parties, roles, r in access.KEY_STATEMENTS]
    layouts += [(sid, parties, roles, r, "bucket") for sid, parties, roles, r in access.BUCKET_STATEMENTS]
    covered = set()
    for sid, parties, roles, resource, _policy in layouts:
        if resource.endswith(":source"):
            resource = resource.replace(":source", ":" + cfg.environment(parties[0]).group_kind)
        held = [g for g in rows if g.party in parties and g.role in roles and resource in g.resources]
        assert (sid in sids) == bool(held), sid
        if not held:
            assert not cfg.data_scientist_principal and roles == ("data_scientist",), sid
            continue
        assert {(g.party, g.role) for g in held} == {
            (p, r) for p in parties for r in roles if (p, r) in {(g.party, g.role) for g in rows}
        }
        assert len({(g.actions, g.via) for g in held}) == 1, f"{sid} unions different grants: {held}"
        covered |= {(g.party, g.role, resource) for g in held}
    needed = {
        (g.party, g.role, r)
        for g in rows
        for r in g.resources
        if r == "key" or (r.startswith(("objects", "bucket")) and g.party != "shared_services")
    }
    assert needed <= covered, sorted(needed - covered)
    every_object = access.objects_arn(cfg)
    assert all(s["Resource"] != every_object for s in access.bucket_policy(cfg))


@pytest.mark.parametrize("layout", ACCESS_LAYOUTS)
def test_bootstrap_passes_the_tables_principals_and_registry_access(layout: str) -> None:
    cfg = access_config(layout)
    specs = {spec.key: spec for spec in plan_module.plan(cfg)}
    shared = specs["shared-services"].parameters
    assert access.shared_services_parameters(cfg).items() <= shared.items()
    # Every principal of the key and bucket statements is one of those parameters' accounts and roles.
    names = set(shared.values())
    for statement in access.key_policy(cfg) + access.bucket_policy(cfg):
        for root in checks.as_list(statement["Principal"]["AWS"]):
            assert root.split(":")[4] in names | {cfg.account_id("shared_services")}
        for arn in statement.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalArn", []):
            assert arn.rsplit("/", 1)[1] in names
    for env in config.ENVIRONMENTS:
        parameters = specs[f"deploy-{env}"].parameters
        assert access.deploy_parameters(cfg, env).items() <= parameters.items()
        assert parameters["ModelFromPackageArn"] == ("true" if env == "prod" else "false")
        assert parameters["ModelPackageGroupName"] == cfg.group(config.ENVIRONMENT_GROUPS[env])


# --- the optional data-scientist role --------------------------------------------------------


def test_the_data_scientist_rows_are_exactly_what_make_run_status_and_compare_need() -> None:
    """An explicit oracle for the table's data-scientist rows: its branch's feature pipelines (run
    as the feature job role), the feature prefix, the input data, the dev and prod evaluation
    reports (the prod champion's metrics), the feature and prod groups read-only, the key through
    S3; nothing on the dev pipeline, the dev group or the dev and prod prefixes' other objects."""
    cfg = access_config("four+scientist")
    pipelines = {
        "sagemaker:AddTags", "sagemaker:CreatePipeline", "sagemaker:DescribePipeline",
        "sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps",
        "sagemaker:ListPipelineExecutions", "sagemaker:ListTags", "sagemaker:StartPipelineExecution",
        "sagemaker:StopPipelineExecution", "sagemaker:UpdatePipeline",
    }  # fmt: skip
    read = {"s3:GetObject", "s3:GetObjectVersion"}
    registry = {
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    }
    passed = access.condition_text({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
    expected = {
        *(("Allow", a, "pipelines:feature", "") for a in pipelines),
        ("Allow", "iam:PassRole", "role:sagemaker_feature", passed),
        *(("Allow", a, "objects:feature", "") for a in {*read, "s3:PutObject", "s3:AbortMultipartUpload"}),
        *(
            ("Allow", a, scope, "")
            for a in read
            for scope in ("objects:datasets", "reports:dev", "reports:prod")
        ),
        *(("Allow", a, "bucket", "") for a in ("s3:GetBucketLocation", "s3:ListBucket")),
        *(
            ("Allow", a, f"{head}:{kind}", "")
            for a in registry
            for head in ("group", "versions")
            for kind in ("feature", "prod")
        ),
        ("Allow", "kms:Decrypt", "key", ""),
        ("Allow", "kms:GenerateDataKey", "key", ""),
    }
    assert access.role_grants(cfg)[("data_science", "data_scientist")] == expected
    [key_use] = [g for g in access.grants(cfg) if g.role == "data_scientist" and "key" in g.resources]
    assert key_use.via == ("s3",)
    assert ("data_science", "data_scientist") not in access.role_grants(make_config("four"))


@pytest.mark.parametrize("layout", ["four", "four+scientist", "single+scientist"])
def test_the_prod_group_admits_the_data_science_account_only_to_read(
    layout: str,
) -> None:
    """The build roles look up the champion a pipeline compares with (and the data scientist
    compares with it): the data-science account reads the prod group, with or without a data
    scientist, and never registers into it."""
    cfg = access_config(layout)
    policy = access.group_policy(cfg, "prod")
    if cfg.single_account:
        assert policy is None
        return
    sids = [s["Sid"] for s in policy["Statement"]]
    read = policy["Statement"][0]
    assert sids == ["DataScienceRead", "ProdDeploy"]
    assert read["Principal"] == {"AWS": f"arn:aws:iam::{cfg.account_id('data_science')}:root"}
    assert read["Action"] == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    # The dev group's data-science statement still registers, and names no data-scientist action.
    assert access.group_policy(cfg, "dev") == access.group_policy(make_config("four"), "dev")


def test_the_report_symbol_names_only_evaluation_reports() -> None:
    cfg = access_config("four+scientist")
    bucket, dev = cfg.names.artifact_bucket, cfg.names.artifact_prefixes["dev"]
    [arn] = access.resource_arns(cfg, "reports:dev", "data_science")
    assert arn == f"arn:aws:s3:::{bucket}/{dev}*/{access.REPORT_FILE}" == access.reports_arn(cfg, "dev")
    assert access.resource_of(cfg, arn) == "reports:dev"
    # Any other pattern under the dev prefix that is not the whole prefix is "every object": a finding.
    assert access.resource_of(cfg, f"arn:aws:s3:::{bucket}/{dev}*/model.tar.gz") == "objects"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("DataScientist", 'expected "" (no data-scientist role) or the ARN of the role'),
        ("arn:aws:iam::*:role/DataScientist", 'expected "" (no data-scientist role)'),
        ("arn:aws:iam::111111111111:user/alice", 'expected "" (no data-scientist role)'),
        ("arn:aws:iam::111111111111:role/*", "its role name is only wildcards"),
        ("arn:aws:iam::111111111111:role/aws-reserved/*/*?", "its role name is only wildcards"),
        ("arn:aws:iam::{ds}:role/{model}-*", "which matches this repository's own role"),
        ("arn:aws:iam::{ds}:role/*-GITHUB-FEATURE", "which matches this repository's own role"),
        ("arn:aws:iam::{ds}:role/*data-scientist", "which matches this repository's own role"),
    ],
)
def test_a_bad_data_scientist_principal_is_one_config_error(value: str, message: str) -> None:
    raw = make_raw("four")
    value = value.format(ds=raw["aws"]["accounts"]["data_science"], model=raw["project"]["model_name"])
    raw["aws"]["data_scientist_principal"] = value
    with pytest.raises(config.ConfigError) as error:
        config.parse(raw)
    text = str(error.value)
    assert text.startswith(f'aws.data_scientist_principal is "{value}"') and message in text
    assert "\n" not in text


def test_a_data_scientist_principal_names_the_role_and_its_parameters() -> None:
    cfg = access_config("baked+scientist")
    assert cfg.data_scientist_principal == IDENTITY_PRINCIPAL
    role = f"{cfg.project.model_name}-data-scientist"
    assert access.data_scientist_parameters(cfg) == {
        "DataScientistPrincipal": IDENTITY_PRINCIPAL,
        "DataScientistAccountId": "999999999999",
        "DataScientistRoleName": role,
    }
    assert (
        config.describe(cfg)["roles"]["data_scientist"]
        == f"arn:aws:iam::{cfg.account_id('data_science')}:role/{role}"
    )
    plain = make_config("baked")
    assert set(access.data_scientist_parameters(plain).values()) == {""}
    assert "data_scientist" not in config.describe(plain)["roles"]
