"""The policy checks' "who may write what" rules (infra/checks/authority.py), one defect each.

Every fixture starts from the real template (clean, asserted in test_infra_policies.py), injects
one widening an attacker would want (a role writing another prefix or the whole bucket, starting
another kind's pipeline, passing another kind's job role, registering into another group, a
missing Deny that let a role set Approved) and asserts the checks report exactly that. The last
test proves every rule has a fixture here, so a rule that stopped looking fails one of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from deploy_helpers import make_config, module
from test_access import access_config
from test_infra_policies import assert_only, checks, findings_for, statement

CFG = make_config("four")
ROLE = CFG.role_name
PREFIXES = CFG.names.artifact_prefixes
BUCKET = "arn:${AWS::Partition}:s3:::${ArtifactBucketName}"
GROUP = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${SharedServicesAccountId}"
LOCAL_GROUP = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}"
PIPELINE = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:pipeline/"
BEYOND = "which the access table (access/table.py) does not grant"
MISSING_DENY = "lacks the access table's Deny of"


def widen(
    resource: str, sid: str, policy: str, resources: list[Any] = (), actions: list[str] = ()
) -> Callable:
    """A mutation adding resources (`!Sub` text or a ready node) and actions to one statement."""

    def mutate(t: dict[str, Any]) -> None:
        item = statement(t, resource, sid, policy)
        added = [{"Fn::Sub": r} if isinstance(r, str) else copy.deepcopy(r) for r in resources]
        item["Resource"] = [*checks.as_list(item["Resource"]), *added]
        item["Action"] = [*checks.as_list(item["Action"]), *actions]

    return mutate


def replace_resources(resource: str, sid: str, policy: str, resources: list[Any]) -> Callable:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, resource, sid, policy)["Resource"] = [
            {"Fn::Sub": r} if isinstance(r, str) else r for r in resources
        ]

    return mutate


def drop(resource: str, sid: str, policy: str) -> Callable:
    def mutate(t: dict[str, Any]) -> None:
        document = next(
            p["PolicyDocument"]
            for p in t["Resources"][resource]["Properties"]["Policies"]
            if p["PolicyName"] == policy
        )
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]

    return mutate


def may(role: str, what: str) -> str:
    return f"role {ROLE(role)} may {what} ("


WRITE_EVERYWHERE = [
    "write objects outside every prefix (the whole artifact bucket)",
    "write the datasets prefix",
]

# (id, template, stack, mutation, expected findings)
FIXTURES = [
    (
        "feature build writes the whole bucket",
        "data-science.yaml",
        None,
        replace_resources("FeatureBuildRole", "ReadWriteOwnArtifacts", "build-pipelines", [f"{BUCKET}/*"]),
        [BEYOND]
        + [
            may("github_feature", w)
            for w in [*WRITE_EVERYWHERE, "write the dev prefix", "write the prod prefix"]
        ],
    ),
    (
        "bucket policy lets the feature roles write every object",
        "shared-services.yaml",
        None,
        lambda t: statement(t, "ArtifactBucketPolicy", "FeatureReadWriteObjects").update(
            Resource={"Fn::Sub": "${ArtifactBucket.Arn}/*"}
        ),
        [
            may(role, w)
            for role in ("github_feature", "sagemaker_feature")
            for w in [*WRITE_EVERYWHERE, "write the dev prefix", "write the prod prefix"]
        ],
    ),
    (
        "dev jobs write the input data",
        "data-science.yaml",
        None,
        widen("PipelineRole", "ReadDatasets", "pipeline-jobs", actions=["s3:PutObject"]),
        [BEYOND, may("sagemaker_pipeline", "write the datasets prefix")],
    ),
    (
        "dev jobs write the prod prefix",
        "data-science.yaml",
        None,
        widen("PipelineRole", "ReadWriteOwnArtifacts", "pipeline-jobs", [f"{BUCKET}/{PREFIXES['prod']}*"]),
        [BEYOND, may("sagemaker_pipeline", "write the prod prefix")],
    ),
    (
        "dev build writes the feature prefix",
        "data-science.yaml",
        None,
        widen("BuildRole", "ReadWriteOwnArtifacts", "build-pipelines", [BUCKET + "/${FeaturePrefix}*"]),
        [BEYOND, may("github_build", "write the feature prefix")],
    ),
    (
        "feature build writes the dev prefix",
        "data-science.yaml",
        None,
        widen(
            "FeatureBuildRole",
            "ReadWriteOwnArtifacts",
            "build-pipelines",
            [BUCKET + "/${DevArtifactPrefix}*"],
        ),
        [BEYOND, may("github_feature", "write the dev prefix")],
    ),
    (
        "feature build starts the dev pipeline (a wildcard the table cannot name)",
        "data-science.yaml",
        None,
        widen("FeatureBuildRole", "UpsertAndRunOwnPipelines", "build-pipelines", [PIPELINE + "*"]),
        [may("github_feature", "create, change or start the dev pipeline")],
    ),
    (
        "dev build starts feature pipelines",
        "data-science.yaml",
        None,
        widen("BuildRole", "UpsertAndRunOwnPipelines", "build-pipelines", [PIPELINE + "${FeaturePrefix}*"]),
        [BEYOND, may("github_build", "create, change or start the feature pipeline")],
    ),
    (
        "feature build passes the dev job role",
        "data-science.yaml",
        None,
        widen(
            "FeatureBuildRole",
            "PassOwnPipelineRole",
            "build-pipelines",
            [{"Fn::GetAtt": ["PipelineRole", "Arn"]}],
        ),
        [BEYOND, may("github_feature", "pass the dev pipeline role")],
    ),
    (
        "dev build passes the feature job role",
        "data-science.yaml",
        None,
        widen(
            "BuildRole",
            "PassOwnPipelineRole",
            "build-pipelines",
            [{"Fn::GetAtt": ["FeaturePipelineRole", "Arn"]}],
        ),
        [BEYOND, may("github_build", "pass the feature pipeline role")],
    ),
    (
        "feature jobs register into the dev group",
        "data-science.yaml",
        None,
        widen(
            "FeaturePipelineRole",
            "RegisterIntoOwnGroup",
            "pipeline-jobs",
            [GROUP + ":model-package-group/${DevGroupName}", GROUP + ":model-package/${DevGroupName}/*"],
        ),
        [
            BEYOND,
            may("sagemaker_feature", "register versions into the dev group"),
            may("sagemaker_feature", "register an Approved version into the dev group"),
        ],
    ),
    (
        "feature build registers into the feature group",
        "data-science.yaml",
        None,
        widen(
            "FeatureBuildRole", "ReadOwnGroup", "build-pipelines", actions=["sagemaker:CreateModelPackage"]
        ),
        [
            BEYOND,
            may("github_feature", "register versions into the feature group"),
            may("github_feature", "register an Approved version into the feature group"),
        ],
    ),
    (
        "dev jobs may register Approved (the Deny removed)",
        "data-science.yaml",
        None,
        drop("PipelineRole", "RegisterPendingOnly", "pipeline-jobs"),
        [MISSING_DENY, may("sagemaker_pipeline", "register an Approved version into the dev group")],
    ),
    (
        "dev jobs update dev versions",
        "data-science.yaml",
        None,
        widen(
            "PipelineRole", "RegisterIntoOwnGroup", "pipeline-jobs", actions=["sagemaker:UpdateModelPackage"]
        ),
        [
            BEYOND,
            may("sagemaker_pipeline", "update dev versions"),
            may("sagemaker_pipeline", "set Approved on dev versions"),
        ],
    ),
    (
        "QA may approve (the Deny removed)",
        "shared-services.yaml",
        None,
        drop("RegistryQaRole", "NeverApprove", "model-registry"),
        [MISSING_DENY, may("github_registry_qa", "set Approved on dev versions")],
    ),
    (
        "QA creates prod versions",
        "shared-services.yaml",
        None,
        widen(
            "RegistryQaRole",
            "RecordQaResult",
            "model-registry",
            [LOCAL_GROUP + ":model-package-group/${ProdGroupName}"],
            ["sagemaker:CreateModelPackage"],
        ),
        # The statement also names dev versions, so QA could register there too.
        [
            BEYOND,
            may("github_registry_qa", "register versions into the prod group"),
            may("github_registry_qa", "register an Approved version into the prod group"),
            may("github_registry_qa", "register versions into the dev group"),
            may("github_registry_qa", "register an Approved version into the dev group"),
        ],
    ),
    (
        "QA updates prod versions",
        "shared-services.yaml",
        None,
        widen(
            "RegistryQaRole",
            "RecordQaResult",
            "model-registry",
            [LOCAL_GROUP + ":model-package/${ProdGroupName}/*"],
        ),
        [
            BEYOND,
            may("github_registry_qa", "update prod versions"),
            may("github_registry_qa", "set Approved on prod versions"),
        ],
    ),
    (
        "QA writes the artifacts it tested",
        "shared-services.yaml",
        None,
        widen("RegistryQaRole", "ReadDevArtifacts", "model-registry", actions=["s3:PutObject"]),
        [BEYOND, may("github_registry_qa", "write the dev prefix")],
    ),
    (
        "prod release updates feature versions",
        "shared-services.yaml",
        None,
        widen(
            "RegistryProdRole",
            "ApproveAndRecordStage",
            "model-registry",
            [LOCAL_GROUP + ":model-package/${FeatureGroupName}/*"],
        ),
        [
            BEYOND,
            may("github_registry_prod", "update feature versions"),
            may("github_registry_prod", "set Approved on feature versions"),
        ],
    ),
    (
        "prod deploy writes the prod prefix",
        "workload-deploy.yaml",
        "deploy-prod",
        lambda t: next(
            item["Fn::If"][1]
            for p in t["Resources"]["DeployRole"]["Properties"]["Policies"]
            for item in p["PolicyDocument"]["Statement"]
            if "Fn::If" in item and item["Fn::If"][1]["Sid"] == "ReadSourceArtifacts"
        )["Action"].append("s3:PutObject"),
        [BEYOND, may("github_deploy_prod", "write the prod prefix")],
    ),
]


@pytest.mark.parametrize(
    ("template", "stack", "mutate", "expected"),
    [f[1:] for f in FIXTURES],
    ids=[f[0] for f in FIXTURES],
)
def test_each_widening_is_a_finding(
    template: str, stack: str | None, mutate: Callable, expected: list[str]
) -> None:
    assert findings_for(template, stack_key=stack) == []
    assert_only(findings_for(template, mutate, stack_key=stack), *expected)


def test_every_rule_has_a_fixture() -> None:
    """Each probe of infra/checks/authority.py is what some fixture above expects, so removing
    any rule fails that fixture."""
    expected = " ".join(text for fixture in FIXTURES for text in fixture[4])
    missing = [p.what for p in checks.probes(CFG) if f" may {p.what} (" not in expected]
    assert missing == []


def test_a_wide_bucket_policy_principal_is_held_to_the_rules() -> None:
    """A bucket statement not narrowed to roles (no aws:PrincipalArn) lets every principal of the
    account write what it names: only read statements may be written so."""

    def unnarrowed(t: dict[str, Any]) -> None:
        del statement(t, "ArtifactBucketPolicy", "DevReadWriteObjects")["Condition"]

    found = findings_for("shared-services.yaml", unnarrowed)
    everyone = "every principal of arn:aws:iam::111111111111:root"
    assert_only(found, f"statement DevReadWriteObjects: {everyone} may write the dev prefix")


SS, DS = "shared-services.yaml", "data-science.yaml"
TRUSTS = [
    (SS, "RegistryQaRole", "GitHubQaEnvironment", "qa", "prod", "github_registry_qa"),
    (SS, "RegistryProdRole", "GitHubProdEnvironment", "prod", "qa", "github_registry_prod"),
    (DS, "FeatureBuildRole", "GitHubFeatureEnvironment", "feature", "build", "github_feature"),
    (DS, "BuildRole", "GitHubBuildEnvironment", "build", "feature", "github_build"),
]


@pytest.mark.parametrize(("template", "resource", "sid", "own", "other", "role"), TRUSTS)
def test_each_github_role_trusts_only_its_own_environment(
    template: str, resource: str, sid: str, own: str, other: str, role: str
) -> None:
    """The QA identity is not the prod one, the feature build is not the dev build: a role also
    trusting the other environment (as the single registry role trusted qa and prod) is a finding."""
    envs = CFG.github.environments
    names = {key: envs[key] for key in ("feature", "build")} | {
        env: CFG.environment(env).github_environment for env in ("qa", "prod")
    }
    subject = f"repo:{CFG.github.owner}/{CFG.github.repo}:environment:"

    def mutate(t: dict[str, Any]) -> None:
        statement(t, resource, sid, "trust")["Condition"]["StringEquals"][
            "token.actions.githubusercontent.com:sub"
        ] = [
            subject + names[own],
            subject + names[other],
        ]

    assert_only(
        findings_for(template, mutate),
        f"sub '{subject}{names[other]}' trusts environment '{names[other]}'; "
        f"role {ROLE(role)} expects only ['{names[own]}']",
    )


# --- the data-scientist role (aws.data_scientist_principal) -------------------------------------

SCIENTIST_CFG = access_config("four+scientist")
SCIENTIST = SCIENTIST_CFG.role_name("data_scientist")
POLICY = "feature-pipelines"


def scientist_may(what: str) -> str:
    return f"role {SCIENTIST} may {what} ("


# (id, template, mutation, expected findings), checked with a data-scientist principal configured.
SCIENTIST_FIXTURES = [
    (
        "data scientist starts the dev pipeline",
        DS,
        widen("DataScientistRole", "UpsertAndRunFeaturePipelines", POLICY, [PIPELINE + "${DevPipelineName}"]),
        [BEYOND, scientist_may("create, change or start the dev pipeline")],
    ),
    (
        "data scientist passes the dev job role",
        DS,
        widen(
            "DataScientistRole", "PassFeaturePipelineRole", POLICY, [{"Fn::GetAtt": ["PipelineRole", "Arn"]}]
        ),
        [BEYOND, scientist_may("pass the dev pipeline role")],
    ),
    (
        "data scientist writes the dev prefix",
        DS,
        widen("DataScientistRole", "ReadWriteFeatureArtifacts", POLICY, [BUCKET + "/${DevArtifactPrefix}*"]),
        [BEYOND, scientist_may("write the dev prefix")],
    ),
    (
        "data scientist reads every dev object, not only the evaluation reports",
        DS,
        widen("DataScientistRole", "ReadEvaluationReports", POLICY, [BUCKET + "/${DevArtifactPrefix}*"]),
        [BEYOND],
    ),
    (
        "data scientist updates versions (and so approves)",
        DS,
        widen(
            "DataScientistRole", "ReadFeatureAndProdGroups", POLICY, actions=["sagemaker:UpdateModelPackage"]
        ),
        [BEYOND]
        + [
            scientist_may(f"{verb} {kind} versions")
            for kind in ("feature", "prod")
            for verb in ("update", "set Approved on")
        ],
    ),
    (
        "data scientist registers into the feature and prod groups",
        DS,
        widen(
            "DataScientistRole", "ReadFeatureAndProdGroups", POLICY, actions=["sagemaker:CreateModelPackage"]
        ),
        [BEYOND]
        + [
            scientist_may(what)
            for kind in ("feature", "prod")
            for what in (
                f"register versions into the {kind} group",
                f"register an Approved version into the {kind} group",
            )
        ],
    ),
    (
        "bucket policy lets the data scientist write the dev prefix",
        SS,
        lambda t: statement(t, "ArtifactBucketPolicy", "DevReadWriteObjects")["Condition"]["StringEquals"][
            "aws:PrincipalArn"
        ].append(
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${DataScienceAccountId}:role/${DataScientistRoleName}"}
        ),
        [f"statement DevReadWriteObjects: {scientist_may('write the dev prefix')}"],
    ),
    (
        "trust without its ArnLike condition",
        DS,
        lambda t: statement(t, "DataScientistRole", "DataScientists", "trust").pop("Condition"),
        ["condition {} is not exactly ArnLike aws:PrincipalArn"],
    ),
    (
        "trust naming another account",
        DS,
        lambda t: statement(t, "DataScientistRole", "DataScientists", "trust")["Principal"].update(
            AWS="arn:aws:iam::123456789012:root"
        ),
        ["is not exactly arn:aws:iam::111111111111:root (the account of aws.data_scientist_principal)"],
    ),
    (
        "a GitHub role trusting AWS principals",
        DS,
        lambda t: statement(t, "FeatureBuildRole", "GitHubFeatureEnvironment", "trust").update(
            Principal={"AWS": "arn:aws:iam::111111111111:root"}, Action="sts:AssumeRole", Condition={}
        ),
        [
            f"assume role {ROLE('github_feature')}; "
            "only the data-scientist role (aws.data_scientist_principal)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("template", "mutate", "expected"),
    [f[1:] for f in SCIENTIST_FIXTURES],
    ids=[f[0] for f in SCIENTIST_FIXTURES],
)
def test_each_data_scientist_widening_is_a_finding(
    template: str, mutate: Callable, expected: list[str]
) -> None:
    assert findings_for(template, cfg=SCIENTIST_CFG) == []
    assert_only(findings_for(template, mutate, cfg=SCIENTIST_CFG), *expected)


def test_without_a_principal_no_template_role_trusts_aws_principals() -> None:
    """No data-scientist principal: the role is not deployed, and one deployed anyway (its
    condition forced on) is a role the table does not name, trusting AWS principals."""
    assert findings_for(DS) == []

    def forced(t: dict[str, Any]) -> None:
        t["Conditions"]["HasDataScientist"] = {"Fn::Equals": ["on", "on"]}

    found = findings_for(DS, forced)
    assert any(
        "only the data-scientist role (aws.data_scientist_principal) trusts AWS principals" in f
        for f in found
    )
    assert any("a role the access table does not name" in f for f in found)


def test_a_loose_data_scientist_row_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's data-scientist rows are held to the same limits: a row letting it write the dev
    prefix or start the dev pipeline fails the checks, whatever the templates say."""
    access = module("access")
    assert checks.check_table(SCIENTIST_CFG) == []
    loose = (
        access.Grant("data_science", "data_scientist", ("s3:PutObject",), ("objects:dev",)),
        access.Grant(
            "data_science", "data_scientist", ("sagemaker:StartPipelineExecution",), ("pipelines:dev",)
        ),
    )
    monkeypatch.setattr(module("access.table"), "DATA_SCIENTIST", (*access.DATA_SCIENTIST, *loose))
    assert_only(
        [str(f) for f in checks.check_table(SCIENTIST_CFG)],
        scientist_may("write the dev prefix"),
        scientist_may("create, change or start the dev pipeline"),
    )
