"""What each identity can do to what prod serves, decided on the deployed policies.

Every template is resolved as bootstrap deploys it, and `iam_eval.World` decides concrete
requests with IAM's evaluation logic (explicit Deny wins, the identity policy must Allow, a
cross-account request also needs the bucket or group policy, key use always needs the key
policy). The attacks are the requests an attacker holding one identity would make: the QA
identity approving or writing prod, a feature-branch job writing dev artifacts or starting the
dev pipeline, a pipeline job registering an Approved version, the data scientist (the optional
laptop role, `+scientist` layouts) touching dev or prod. The positive cases are each job's real
calls, so the evaluator cannot pass by denying everything; the mutation tests loosen the one
control that stops an attack and show the same request then succeeds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from iam_eval import build_world, conditions_hold
from test_access import ACCESS_LAYOUTS, SCIENTIST_LAYOUTS, access_config, resolved

VIA_S3 = "s3.{region}.amazonaws.com"
PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
ROLE_KEYS = (
    "github_feature",
    "github_build",
    "sagemaker_feature",
    "sagemaker_pipeline",
    "github_registry_qa",
    "github_registry_prod",
    "github_deploy_qa",
    "github_deploy_prod",
)
Mutation = Callable[[str, dict[str, Any]], None]


class Attacker:
    """Requests one configuration's identities make, decided on its deployed policies."""

    def __init__(self, layout: str, mutate: Mutation | None = None) -> None:
        cfg = self.cfg = access_config(layout)

        def resolve(template: str) -> list[tuple[Any, Any, set[str]]]:
            return resolved(cfg, template, (lambda t: mutate(template, t)) if mutate else None)

        self.world, self.key = build_world(cfg, resolve)
        self.via_s3 = {"kms:ViaService": VIA_S3.format(region=cfg.region)}

    # --- identities and resources
    def arn(self, key: str, env: str | None = None) -> str:
        account = self.cfg.environment(env).account if env else self.cfg.account_id(self.cfg_account(key))
        return f"arn:aws:iam::{account}:role/{self.cfg.role_name(key)}"

    def cfg_account(self, key: str) -> str:
        from deploy_helpers import config

        return "data_science" if key == "data_scientist" else config.ROLE_ACCOUNTS[key]

    def role_keys(self) -> tuple[str, ...]:
        """Every identity of this layout (the data scientist's only where it has one)."""
        return ROLE_KEYS + (("data_scientist",) if self.cfg.data_scientist_principal else ())

    def who(self, key: str) -> str:
        return self.arn(
            key, "prod" if key == "github_deploy_prod" else "qa" if key == "github_deploy_qa" else None
        )

    def obj(self, scope: str, key: str = "run/train/model.tar.gz") -> str:
        prefix = {**self.cfg.names.artifact_prefixes, "datasets": self.cfg.names.datasets_prefix, "none": ""}[
            scope
        ]
        if scope == "feature":
            prefix += "better-model/"
        return f"arn:aws:s3:::{self.cfg.names.artifact_bucket}/{prefix}{key}"

    def version(self, kind: str, number: int = 3) -> str:
        return self.cfg.packages_arn(kind).removesuffix("*") + str(number)

    def pipeline(self, kind: str) -> str:
        name = (
            self.cfg.names.pipelines["dev"]
            if kind == "dev"
            else self.cfg.names.artifact_prefixes["feature"] + "better-model"
        )
        return f"arn:aws:sagemaker:{self.cfg.region}:{self.cfg.account_id('data_science')}:pipeline/{name}"

    # --- requests (each the IAM actions one API call needs)
    def can(self, role: str, calls: Iterable[tuple[str, str, dict[str, str]]]) -> bool:
        return self.world.all_allowed(role, calls)

    def put(self, role: str, arn: str, **ctx: str) -> bool:
        return self.can(role, [("s3:PutObject", arn, ctx), ("kms:GenerateDataKey", self.key, self.via_s3)])

    def get(self, role: str, arn: str) -> bool:
        return self.can(role, [("s3:GetObject", arn, {}), ("kms:Decrypt", self.key, self.via_s3)])

    def copy(self, role: str, source: str, target: str, **ctx: str) -> bool:
        """CopyObject of a given source version: read it, write the target, with the key via S3."""
        return self.can(
            role,
            [
                ("s3:GetObjectVersion", source, ctx),
                ("s3:PutObject", target, ctx),
                ("kms:Decrypt", self.key, self.via_s3),
                ("kms:GenerateDataKey", self.key, self.via_s3),
            ],
        )

    def register(self, role: str, kind: str, status: str | None) -> bool:
        ctx = {"sagemaker:ModelApprovalStatus": status} if status else {}
        group = self.cfg.group_arn(kind)
        return self.can(
            role, [("sagemaker:CreateModelPackage", arn, ctx) for arn in (group, self.version(kind))]
        )

    def update(self, role: str, version: str, status: str | None) -> bool:
        ctx = {"sagemaker:ModelApprovalStatus": status} if status else {}
        return self.can(role, [("sagemaker:UpdateModelPackage", version, ctx)])

    def start(self, role: str, kind: str) -> bool:
        return self.can(role, [("sagemaker:StartPipelineExecution", self.pipeline(kind), {})])

    def pass_role(self, role: str, target: str) -> bool:
        ctx = {"iam:PassedToService": "sagemaker.amazonaws.com"}
        return self.can(role, [("iam:PassRole", self.arn(target), ctx)])


@pytest.fixture(scope="module", params=ACCESS_LAYOUTS)
def attacker(request: pytest.FixtureRequest) -> Attacker:
    return Attacker(request.param)


# --- the attacks ---------------------------------------------------------------------------


def test_the_qa_identity_cannot_approve_create_or_update_prod_or_write(attacker: Attacker) -> None:
    qa = attacker.who("github_registry_qa")
    assert not attacker.update(qa, attacker.version("dev"), APPROVED)
    for status in (PENDING, APPROVED, None):
        assert not attacker.register(qa, "prod", status)
    assert not attacker.update(qa, attacker.version("prod"), REJECTED)
    for scope in ("feature", "dev", "prod", "datasets", "none"):
        assert not attacker.put(qa, attacker.obj(scope))
    assert not attacker.copy(qa, attacker.obj("dev"), attacker.obj("prod"))


def test_a_feature_branch_job_cannot_touch_dev(attacker: Attacker) -> None:
    feature = attacker.who("github_feature")
    assert not attacker.put(feature, attacker.obj("dev"))
    assert not attacker.start(feature, "dev")
    assert not attacker.pass_role(feature, "sagemaker_pipeline")
    assert not attacker.register(feature, "dev", PENDING)
    jobs = attacker.who("sagemaker_feature")
    assert not attacker.register(jobs, "dev", PENDING)
    assert not attacker.put(jobs, attacker.obj("dev"))


def test_no_pipeline_job_registers_an_approved_version(attacker: Attacker) -> None:
    for role, kind in (("sagemaker_pipeline", "dev"), ("sagemaker_feature", "feature")):
        jobs = attacker.who(role)
        assert not attacker.register(jobs, kind, APPROVED)
        assert not attacker.register(jobs, kind, REJECTED)
        # Without a status the Deny applies too (IfExists): the pipeline names PendingManualApproval.
        assert not attacker.register(jobs, kind, None)
        assert not attacker.register(jobs, "prod", PENDING)


def test_only_the_prod_release_writes_the_prod_prefix_and_nobody_the_whole_bucket(attacker: Attacker) -> None:
    keys = attacker.role_keys()
    writers = {key for key in keys if attacker.put(attacker.who(key), attacker.obj("prod"))}
    assert writers == {"github_registry_prod"}
    for key in keys:
        assert not attacker.put(attacker.who(key), attacker.obj("none")), key
        assert not attacker.put(attacker.who(key), attacker.obj("datasets", "sample.csv")), key


def test_the_prod_endpoint_reads_only_the_prod_prefix_where_it_has_its_own_account() -> None:
    """In its own account the prod endpoint role reads prod artifacts, never dev ones. Where QA and
    prod share an account they share the endpoint role (docs/infrastructure.md), which then reads
    both prefixes; the prod deploy's checksum check is what holds there."""
    four = Attacker("four")
    endpoint = four.arn("sagemaker_endpoint", "prod")
    assert not four.get(endpoint, four.obj("dev"))
    assert four.get(endpoint, four.obj("prod"))
    assert not four.get(four.arn("sagemaker_endpoint", "qa"), four.obj("prod"))
    shared = Attacker("single")
    assert shared.get(shared.arn("sagemaker_endpoint", "prod"), shared.obj("dev"))


def test_plain_http_is_refused_even_for_the_prod_release(attacker: Attacker) -> None:
    prod = attacker.who("github_registry_prod")
    assert not attacker.copy(
        prod, attacker.obj("dev"), attacker.obj("prod"), **{"aws:SecureTransport": "false"}
    )


# --- the data scientist (make run, status and compare from a laptop) ---------------------------


@pytest.fixture(scope="module", params=SCIENTIST_LAYOUTS)
def laptop(request: pytest.FixtureRequest) -> Attacker:
    return Attacker(request.param)


def report(a: Attacker, scope: str) -> str:
    return a.obj(scope, "exec1/Evaluate/evaluation/evaluation.json")


def test_the_data_scientist_runs_their_feature_pipeline_and_compares_with_prod(laptop: Attacker) -> None:
    """make run (upload the code, check the input, upsert, start with the feature job role, watch,
    read the registered version and its report), make status, make compare (the feature version
    and the prod champion, whose report is under the prod or, promoted earlier, the dev prefix)."""
    a = laptop
    ds = a.who("data_scientist")
    assert a.put(ds, a.obj("feature", "code/abc/preprocess.py"))
    assert a.can(ds, [("s3:ListBucket", f"arn:aws:s3:::{a.cfg.names.artifact_bucket}", {})])
    assert a.get(ds, a.obj("datasets", "sample.csv"))
    pipeline = a.pipeline("feature")
    calls = ("CreatePipeline", "UpdatePipeline", "DescribePipeline", "ListPipelineExecutions")
    assert a.can(ds, [(f"sagemaker:{call}", pipeline, {}) for call in calls])
    assert a.start(ds, "feature")
    assert a.pass_role(ds, "sagemaker_feature")
    execution = f"{pipeline}/execution/abc123"
    calls = ("DescribePipelineExecution", "ListPipelineExecutionSteps", "StopPipelineExecution")
    assert a.can(ds, [(f"sagemaker:{call}", execution, {}) for call in calls])
    for kind in ("feature", "prod"):
        assert a.can(
            ds,
            [
                ("sagemaker:ListModelPackages", a.cfg.group_arn(kind), {}),
                ("sagemaker:DescribeModelPackage", a.version(kind), {}),
            ],
        )
    for scope in ("feature", "dev", "prod"):
        assert a.get(ds, report(a, scope)), scope


def test_the_data_scientist_cannot_touch_dev_or_prod(laptop: Attacker) -> None:
    a = laptop
    ds = a.who("data_scientist")
    assert not a.start(ds, "dev")
    assert not a.can(ds, [("sagemaker:UpdatePipeline", a.pipeline("dev"), {})])
    assert not a.pass_role(ds, "sagemaker_pipeline")
    for scope in ("dev", "prod", "datasets", "none"):
        assert not a.put(ds, a.obj(scope)), scope
    assert not a.put(ds, report(a, "dev"))
    assert not a.put(ds, report(a, "prod"))
    assert not a.copy(ds, a.obj("dev"), a.obj("prod"))
    # Approve, register anywhere (prod included), record anything on a version.
    assert not a.update(ds, a.version("dev"), APPROVED)
    for status in (PENDING, APPROVED, None):
        for kind in ("feature", "dev", "prod"):
            assert not a.register(ds, kind, status), (kind, status)
    for kind in ("feature", "dev", "prod"):
        assert not a.update(ds, a.version(kind), None), kind
    # Reads: the dev and prod models are not theirs, nor the dev group.
    assert not a.get(ds, a.obj("dev"))
    assert not a.get(ds, a.obj("prod", "4/model.tar.gz"))
    assert not a.can(ds, [("sagemaker:DescribeModelPackage", a.version("dev"), {})])


def assumable(a: Attacker, caller: str, mutate: Mutation | None = None) -> bool:
    """Whether the data-scientist role's trust (as deployed) lets `caller` (a role ARN) assume it."""
    [(_, resolver, _)] = resolved(
        a.cfg, "data-science.yaml", (lambda t: mutate("data-science.yaml", t)) if mutate else None
    )
    trust = resolver.properties("DataScientistRole")["AssumeRolePolicyDocument"]["Statement"]
    root = f"arn:aws:iam::{caller.split(':')[4]}:root"
    return any(
        s["Effect"] == "Allow"
        and s["Action"] == "sts:AssumeRole"
        and root in [s["Principal"]["AWS"]]
        and conditions_hold(s.get("Condition"), {"aws:PrincipalArn": caller})
        for s in trust
    )


def test_only_the_configured_sign_in_role_assumes_the_data_scientist_role(laptop: Attacker) -> None:
    a = laptop
    pattern = a.cfg.data_scientist_principal
    account = pattern.split(":")[4]
    signed_in = pattern.replace("*", "0123456789abcdef")
    assert assumable(a, signed_in)
    administrator = pattern.replace("*", "x").replace("DataScientist", "Admin").replace("/ds-", "/admin-")
    other_account = signed_in.replace(f"::{account}:", "::123456789012:")
    for caller in (administrator, other_account, a.who("github_feature"), a.who("sagemaker_feature")):
        assert not assumable(a, caller), caller
    # The condition is the control: without it every principal of that account may assume the role.
    unconditional = on(
        "data-science.yaml",
        lambda t: _sid(t, "DataScientistRole", "DataScientists", "trust").pop("Condition"),
    )
    assert assumable(a, administrator, unconditional)


# --- every job's real calls --------------------------------------------------------------------


def test_each_job_can_make_its_real_calls(attacker: Attacker) -> None:
    a = attacker
    feature, build = a.who("github_feature"), a.who("github_build")
    for role, kind, jobs in ((feature, "feature", "sagemaker_feature"), (build, "dev", "sagemaker_pipeline")):
        assert a.put(role, a.obj(kind, "code/abc/preprocess.py"))
        assert a.get(role, a.obj("datasets", "sample.csv"))
        assert a.start(role, kind)
        assert a.pass_role(role, jobs)
        assert a.can(role, [("sagemaker:DescribeModelPackage", a.version(kind), {})])
    for role, kind in (("sagemaker_feature", "feature"), ("sagemaker_pipeline", "dev")):
        jobs = a.who(role)
        assert a.put(jobs, a.obj(kind))
        assert a.get(jobs, a.obj("datasets", "sample.csv"))
        assert a.register(jobs, kind, PENDING)
        assert a.pass_role(jobs, role)
    qa = a.who("github_registry_qa")
    assert a.update(qa, a.version("dev"), REJECTED)
    assert a.update(qa, a.version("dev"), None)
    assert a.get(qa, a.obj("dev"))
    assert a.can(qa, [("sagemaker:DescribeModelPackage", a.version(kind), {}) for kind in ("dev", "prod")])
    prod = a.who("github_registry_prod")
    assert a.update(prod, a.version("dev"), APPROVED)
    assert a.copy(prod, a.obj("dev"), a.obj("prod", "4/model.tar.gz"))
    assert a.get(prod, a.obj("prod", "4/model.tar.gz"))
    assert not a.get(prod, a.obj("feature"))
    assert a.register(prod, "prod", APPROVED)
    assert a.update(prod, a.version("prod"), REJECTED)
    assert a.can(a.who("github_deploy_qa"), [("sagemaker:DescribeModelPackage", a.version("dev"), {})])
    deploy = a.who("github_deploy_prod")
    assert a.can(deploy, [("sagemaker:CreateModel", a.version("prod"), {})])
    assert a.get(deploy, a.obj("prod", "4/model.tar.gz"))
    assert not a.get(deploy, a.obj("dev"))
    assert a.get(a.arn("sagemaker_endpoint", "qa"), a.obj("dev"))


# --- each control is what stops its attack -----------------------------------------------------


def _statements(template: dict[str, Any], resource: str, policy: str = "") -> list[dict[str, Any]]:
    props = template["Resources"][resource]["Properties"]
    if policy == "trust":
        return props["AssumeRolePolicyDocument"]["Statement"]
    if "Policies" in props:
        return props["Policies"][0]["PolicyDocument"]["Statement"]
    return (props.get("KeyPolicy") or props["PolicyDocument"])["Statement"]


def _sid(template: dict[str, Any], resource: str, sid: str, policy: str = "") -> dict[str, Any]:
    """A statement by Sid (one inside `!If` too: the branch used when the condition holds)."""
    items = _statements(template, resource, policy)
    return next(s for s in (i["Fn::If"][1] if "Fn::If" in i else i for i in items) if s.get("Sid") == sid)


def on(template_file: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(name: str, template: dict[str, Any]) -> None:
        if name == template_file:
            change(template)

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(name: str, template: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(name, template)

    return mutate


def _drop(resource: str, sid: str) -> Callable[[dict[str, Any]], None]:
    def change(t: dict[str, Any]) -> None:
        statements = _statements(t, resource)
        statements[:] = [s for s in statements if s.get("Sid") != sid]

    return change


def _add(resource: str, sid: str, key: str, *values: Any) -> Callable[[dict[str, Any]], None]:
    def change(t: dict[str, Any]) -> None:
        item = _sid(t, resource, sid)
        current = item[key] if isinstance(item[key], list) else [item[key]]
        item[key] = [*current, *copy.deepcopy(list(values))]

    return change


SAGEMAKER = "arn:${AWS::Partition}:sagemaker:${AWS::Region}"
DEV_OBJECTS = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ArtifactBucketName}/${DevArtifactPrefix}*"}
FEATURE_ROLE = {"Fn::Sub": "arn:${AWS::Partition}:iam::${DataScienceAccountId}:role/${FeatureBuildRoleName}"}
DEV_GROUP = [
    {"Fn::Sub": SAGEMAKER + ":${SharedServicesAccountId}:model-package-group/${DevGroupName}"},
    {"Fn::Sub": SAGEMAKER + ":${SharedServicesAccountId}:model-package/${DevGroupName}/*"},
]
PROD_GROUP = {"Fn::Sub": SAGEMAKER + ":${AWS::AccountId}:model-package-group/${ProdGroupName}"}
PROD_VERSIONS = {"Fn::Sub": SAGEMAKER + ":${AWS::AccountId}:model-package/${ProdGroupName}/*"}
ALL_PIPELINES = {"Fn::Sub": SAGEMAKER + ":${AWS::AccountId}:pipeline/*"}
SCIENTIST_ROLE = {
    "Fn::Sub": "arn:${AWS::Partition}:iam::${DataScienceAccountId}:role/${DataScientistRoleName}"
}
DEV_VERSIONS = {"Fn::Sub": SAGEMAKER + ":${SharedServicesAccountId}:model-package/${DevGroupName}/*"}


def _scientist(a: Attacker) -> str:
    return a.who("data_scientist")


# (attack, layout, the loosening that lets it through)
LOOSENED: list[tuple[str, str, Callable[[Attacker], bool], Mutation]] = [
    (
        "QA approves a dev version once its Deny is gone",
        "four",
        lambda a: a.update(a.who("github_registry_qa"), a.version("dev"), APPROVED),
        on("shared-services.yaml", _drop("RegistryQaRole", "NeverApprove")),
    ),
    (
        "QA creates a prod version once its policy names the prod group",
        "four",
        lambda a: a.register(a.who("github_registry_qa"), "prod", APPROVED),
        both(
            on(
                "shared-services.yaml",
                _add("RegistryQaRole", "RecordQaResult", "Action", "sagemaker:CreateModelPackage"),
            ),
            on("shared-services.yaml", _add("RegistryQaRole", "RecordQaResult", "Resource", PROD_GROUP)),
            on("shared-services.yaml", _add("RegistryQaRole", "RecordQaResult", "Resource", PROD_VERSIONS)),
        ),
    ),
    (
        "QA writes a dev artifact once its policy and the key policy allow it",
        "four",
        lambda a: a.put(a.who("github_registry_qa"), a.obj("dev")),
        both(
            on("shared-services.yaml", _add("RegistryQaRole", "ReadDevArtifacts", "Action", "s3:PutObject")),
            on(
                "shared-services.yaml",
                _add("RegistryQaRole", "DecryptArtifacts", "Action", "kms:GenerateDataKey"),
            ),
            on(
                "shared-services.yaml",
                _add("ArtifactKey", "RegistryQaDecrypt", "Action", "kms:GenerateDataKey"),
            ),
        ),
    ),
    (
        "a feature job writes dev artifacts once its policy and the bucket policy name the dev prefix",
        "four",
        lambda a: a.put(a.who("github_feature"), a.obj("dev")),
        both(
            on(
                "data-science.yaml",
                _add("FeatureBuildRole", "ReadWriteOwnArtifacts", "Resource", DEV_OBJECTS),
            ),
            on(
                "shared-services.yaml",
                lambda t: _sid(t, "ArtifactBucketPolicy", "DevReadWriteObjects")["Condition"]["StringEquals"][
                    "aws:PrincipalArn"
                ].append(FEATURE_ROLE),
            ),
        ),
    ),
    (
        "a feature job writes dev artifacts in one account once its own policy names the dev prefix",
        "single",
        lambda a: a.put(a.who("github_feature"), a.obj("dev")),
        on("data-science.yaml", _add("FeatureBuildRole", "ReadWriteOwnArtifacts", "Resource", DEV_OBJECTS)),
    ),
    (
        "a feature job starts the dev pipeline once its policy names every pipeline",
        "four",
        lambda a: a.start(a.who("github_feature"), "dev"),
        on(
            "data-science.yaml",
            _add("FeatureBuildRole", "UpsertAndRunOwnPipelines", "Resource", ALL_PIPELINES),
        ),
    ),
    (
        "feature jobs register into the dev group once their policy names it (its group policy admits them)",
        "four",
        lambda a: a.register(a.who("sagemaker_feature"), "dev", PENDING),
        on("data-science.yaml", _add("FeaturePipelineRole", "RegisterIntoOwnGroup", "Resource", *DEV_GROUP)),
    ),
    (
        "dev jobs register an Approved version once their Deny is gone",
        "four",
        lambda a: a.register(a.who("sagemaker_pipeline"), "dev", APPROVED),
        on("data-science.yaml", _drop("PipelineRole", "RegisterPendingOnly")),
    ),
    (
        "the data scientist starts the dev pipeline once its policy names every pipeline",
        "four+scientist",
        lambda a: a.start(_scientist(a), "dev"),
        on(
            "data-science.yaml",
            _add("DataScientistRole", "UpsertAndRunFeaturePipelines", "Resource", ALL_PIPELINES),
        ),
    ),
    (
        "the data scientist writes dev artifacts once its policy and the bucket policy name the dev prefix",
        "four+scientist",
        lambda a: a.put(_scientist(a), a.obj("dev")),
        both(
            on(
                "data-science.yaml",
                _add("DataScientistRole", "ReadWriteFeatureArtifacts", "Resource", DEV_OBJECTS),
            ),
            on(
                "shared-services.yaml",
                lambda t: _sid(t, "ArtifactBucketPolicy", "DevReadWriteObjects")["Condition"]["StringEquals"][
                    "aws:PrincipalArn"
                ].append(SCIENTIST_ROLE),
            ),
        ),
    ),
    (
        "the data scientist reads dev models once the report grants name the whole dev prefix",
        "four+scientist",
        lambda a: a.get(_scientist(a), a.obj("dev")),
        both(
            on(
                "data-science.yaml",
                lambda t: _sid(t, "DataScientistRole", "ReadEvaluationReports")["Resource"].append(
                    DEV_OBJECTS
                ),
            ),
            on(
                "shared-services.yaml",
                lambda t: _sid(t, "ArtifactBucketPolicy", "DataScientistReadDevReports").update(
                    Resource={"Fn::Sub": "${ArtifactBucket.Arn}/${DevArtifactPrefix}*"}
                ),
            ),
        ),
    ),
    (
        "the data scientist approves a dev version in one account once its policy may update dev versions",
        "single+scientist",
        lambda a: a.update(_scientist(a), a.version("dev"), APPROVED),
        both(
            on(
                "data-science.yaml",
                _add(
                    "DataScientistRole", "ReadFeatureAndProdGroups", "Action", "sagemaker:UpdateModelPackage"
                ),
            ),
            on(
                "data-science.yaml",
                _add("DataScientistRole", "ReadFeatureAndProdGroups", "Resource", DEV_VERSIONS),
            ),
        ),
    ),
    (
        "the data scientist creates a prod version in one account once its policy may register",
        "single+scientist",
        lambda a: a.register(_scientist(a), "prod", APPROVED),
        on(
            "data-science.yaml",
            _add("DataScientistRole", "ReadFeatureAndProdGroups", "Action", "sagemaker:CreateModelPackage"),
        ),
    ),
    (
        "the prod endpoint reads dev artifacts once its policy and the bucket policy name them",
        "four",
        lambda a: a.get(a.arn("sagemaker_endpoint", "prod"), a.obj("dev")),
        both(
            on(
                "workload.yaml",
                lambda t: _sid(t, "EndpointRole", "ReadSharedArtifacts").update(
                    Resource={"Fn::Sub": "arn:${AWS::Partition}:s3:::${ArtifactBucketName}/*"}
                ),
            ),
            on(
                "shared-services.yaml",
                lambda t: _sid(t, "ArtifactBucketPolicy", "ProdReadObjects").update(
                    Resource={"Fn::Sub": "${ArtifactBucket.Arn}/*"}
                ),
            ),
        ),
    ),
]


@pytest.mark.parametrize(
    ("layout", "attack", "loosen"), [f[1:] for f in LOOSENED], ids=[f[0] for f in LOOSENED]
)
def test_the_attack_succeeds_once_its_control_is_loosened(
    layout: str, attack: Callable, loosen: Mutation
) -> None:
    assert not attack(Attacker(layout))
    assert attack(Attacker(layout, loosen))


def test_one_layer_alone_still_stops_a_cross_account_write() -> None:
    """Across accounts a write needs the role's policy and the bucket policy (and the key policy):
    loosening only one of them is not enough."""
    identity_only = on(
        "data-science.yaml", _add("FeatureBuildRole", "ReadWriteOwnArtifacts", "Resource", DEV_OBJECTS)
    )
    four = Attacker("four", identity_only)
    assert not four.put(four.who("github_feature"), four.obj("dev"))
    qa_identity_only = on(
        "shared-services.yaml", _add("RegistryQaRole", "ReadDevArtifacts", "Action", "s3:PutObject")
    )
    four = Attacker("four", qa_identity_only)
    qa = four.who("github_registry_qa")
    assert four.can(qa, [("s3:PutObject", four.obj("dev"), {})])
    assert not four.put(qa, four.obj("dev")), "the QA role may only decrypt with the key"
