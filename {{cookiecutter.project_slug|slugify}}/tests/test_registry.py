"""Registry: group resource policies, groups, newest version, approval, life-cycle stage, promotion
(`promotion.groups`, `promotion.lifecycle`, `promotion.promote`).

moto runs what it implements (groups, versions, approval, promotion, S3 reports) with one
simulated account per role; the group-policy calls (moto 5.2.5 raises NotImplementedError for
them) and the life-cycle stage (moto drops ModelLifeCycle) run against botocore's Stubber.
"""

from __future__ import annotations

import json

import pytest

from deploy_helpers import (
    REGION,
    Recorder,
    make_config,
    make_raw,
    module,
    not_found,
    package_arn,
    register_version,
    stubbed,
)
from release_world import GOOD_MODEL, World

config = module("config")
groups = module("promotion.groups")
lifecycle = module("promotion.lifecycle")
promotion = module("promotion.promote")
version = module("promotion.version")
deploy_cli = module("deploy.cli")
lockfile = module("promotion.lockfile")
aws = module("deploy.aws")
DeployError = aws.DeployError
Clients = aws.Clients
pytestmark = pytest.mark.usefixtures("fake_aws")


READ_ONLY = {
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
}


def test_group_policies_grant_account_roots_explicit_actions_per_group():
    cfg = make_config("four")
    root = "arn:aws:iam::{}:root".format
    policies = {kind: groups.group_policy(cfg, kind) for kind in config.GROUP_KINDS}
    grants = {
        kind: {s["Principal"]["AWS"]: set(s["Action"]) for s in policy["Statement"]}
        for kind, policy in policies.items()
    }
    register = READ_ONLY | {"sagemaker:CreateModelPackage"}
    # QA builds its model from the package's containers: it only describes dev versions.
    # Prod creates its model from the package ARN: describe and CreateModel on prod versions.
    qa_read = {"sagemaker:DescribeModelPackage"}
    prod_deploy = {"sagemaker:CreateModel", "sagemaker:DescribeModelPackage"}
    assert grants == {
        "feature": {root("111111111111"): register},
        "dev": {root("111111111111"): register, root("333333333333"): qa_read},
        # The data-science account reads the prod group: the champion a pipeline compares with.
        "prod": {root("111111111111"): READ_ONLY, root("444444444444"): prod_deploy},
    }
    sids = {kind: [s["Sid"] for s in policy["Statement"]] for kind, policy in policies.items()}
    assert sids == {
        "feature": ["DataScienceRegister"],
        "dev": ["DataScienceRegister", "QaRead"],
        "prod": ["DataScienceRead", "ProdDeploy"],
    }
    for kind, policy in policies.items():
        group = cfg.group(kind)
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Resource"] == [
                f"arn:aws:sagemaker:{cfg.region}:222222222222:model-package-group/{group}",
                f"arn:aws:sagemaker:{cfg.region}:222222222222:model-package/{group}/*",
            ]
            assert all(
                action.startswith("sagemaker:") and "*" not in action for action in statement["Action"]
            )


def test_single_account_needs_no_group_policy():
    cfg = make_config("single")
    assert [groups.group_policy(cfg, kind) for kind in config.GROUP_KINDS] == [None, None, None]


@pytest.mark.parametrize("env", ["qa", "prod"])
def test_group_grants_cover_exactly_the_registry_calls_of_a_deploy(configure, accounts, capsys, env):
    """A four-account deploy on moto, recording only what it asks the registry account: every
    such call is granted to the environment's account by the group policy, and CreateModel
    (authorised on the package when the model names it by ARN) is granted exactly when the
    created model references the package ARN (prod), never to QA."""
    cfg = make_config("four")
    configure(cfg)
    kind = cfg.environment(env).group_kind
    account = cfg.environment(env).account
    granted = {
        action
        for statement in groups.group_policy(cfg, kind)["Statement"]
        if statement["Principal"]["AWS"] == f"arn:aws:iam::{account}:root"
        for action in statement["Action"]
    }
    registry_calls = Recorder()
    aws = accounts(cfg)
    shared = aws.session("shared_services")
    if env == "prod":  # prod serves a promoted copy and checks it against the lock
        world = World(cfg, aws, Recorder())
        dev = world.register()
        world.qa(dev)
        arn = world.release(dev)
        lockfile.write_lock(lockfile.lock_path(cfg), world.lock(dev))
    else:
        arn = register_version(shared, cfg, kind=kind, status="Approved")
    workload = aws.session(env)
    args = ["deploy", "--env", env, "--arn", arn, "--poll-interval", "0"]
    code = deploy_cli.main(args, session=workload, registry_session=registry_calls.attach(shared))
    assert code == 0, capsys.readouterr().err
    sm = workload.client("sagemaker")
    [model] = sm.list_models()["Models"]
    containers = sm.describe_model(ModelName=model["ModelName"])["Containers"]
    assert registry_calls.operations == ["DescribeModelPackage"]
    by_arn = any(container.get("ModelPackageName") == arn for container in containers)
    assert by_arn == (env == "prod")
    expected = {f"sagemaker:{op}" for op in registry_calls.operations} | (
        {"sagemaker:CreateModel"} if by_arn else set()
    )
    assert granted == expected


def test_an_account_shared_with_the_registry_is_not_granted_by_resource_policy():
    raw = make_raw("four")
    raw["aws"]["accounts"]["qa"] = raw["aws"]["accounts"]["shared_services"]
    dev = groups.group_policy(config.parse(raw), "dev")
    assert [s["Principal"]["AWS"] for s in dev["Statement"]] == ["arn:aws:iam::111111111111:root"]


def test_ensure_groups_four_accounts_creates_groups_and_puts_policies(recorder):
    cfg = make_config("four")
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    for kind in config.GROUP_KINDS:
        name = cfg.group(kind)
        not_found(sm, "describe_model_package_group", f"group {name}")
        sm.add_response(
            "create_model_package_group",
            {"ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:222222222222:model-package-group/{name}"},
        )
        not_found(sm, "get_model_package_group_policy", "policy")
        sm.add_response(
            "put_model_package_group_policy",
            {"ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:222222222222:model-package-group/{name}"},
            {"ModelPackageGroupName": name, "ResourcePolicy": json.dumps(groups.group_policy(cfg, kind))},
        )
    lines = groups.ensure_groups(cfg, Clients(session, cfg.region))
    sm.assert_no_pending_responses()
    assert (
        recorder.operations
        == [
            "DescribeModelPackageGroup",
            "CreateModelPackageGroup",
            "GetModelPackageGroupPolicy",
            "PutModelPackageGroupPolicy",
        ]
        * 3
    )
    assert all("created; resource policy set" in line for line in lines)


def test_ensure_groups_is_idempotent_when_groups_and_policies_match(recorder):
    cfg = make_config("four")
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    for kind in config.GROUP_KINDS:
        name = cfg.group(kind)
        sm.add_response(
            "describe_model_package_group",
            {
                "ModelPackageGroupName": name,
                "ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:222222222222:model-package-group/{name}",
                "CreationTime": "2025-01-01T00:00:00Z",
                "CreatedBy": {},
                "ModelPackageGroupStatus": "Completed",
            },
        )
        # Same policy, keys in another order: compared as JSON, not as text.
        policy = json.dumps(groups.group_policy(cfg, kind), sort_keys=True)
        sm.add_response("get_model_package_group_policy", {"ResourcePolicy": policy})
    groups.ensure_groups(cfg, Clients(session, cfg.region))
    sm.assert_no_pending_responses()
    assert recorder.operations == ["DescribeModelPackageGroup", "GetModelPackageGroupPolicy"] * 3
    assert recorder.mutating == []


def test_ensure_groups_single_account_on_moto_creates_groups_once(accounts, recorder):
    cfg = make_config("single")
    shared = accounts(cfg, recorder).session("shared_services")
    clients = Clients(shared, cfg.region)
    groups.ensure_groups(cfg, clients)
    assert recorder.mutating == ["CreateModelPackageGroup"] * 3
    recorder.clear()
    groups.ensure_groups(cfg, clients)
    assert recorder.operations == ["DescribeModelPackageGroup"] * 3
    listed = shared.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert sorted(g["ModelPackageGroupName"] for g in listed) == sorted(cfg.names.groups.values())


def test_latest_pages_on_past_versions_that_are_not_completed(recorder):
    cfg = make_config("four")
    group = cfg.group("dev")
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    summary = {"ModelPackageGroupName": group, "CreationTime": "2025-01-01T00:00:00Z"}
    params = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "ModelApprovalStatus": "Approved",
        "MaxResults": 50,
    }
    sm.add_response(
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {**summary, "ModelPackageArn": package_arn(cfg, "dev", 9), "ModelPackageStatus": "Failed"},
            ],
            "NextToken": "page-2",
        },
        params,
    )
    sm.add_response(
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {
                    **summary,
                    "ModelPackageArn": package_arn(cfg, "dev", 8),
                    "ModelPackageStatus": "InProgress",
                },
                {**summary, "ModelPackageArn": package_arn(cfg, "dev", 7), "ModelPackageStatus": "Completed"},
            ]
        },
        {**params, "NextToken": "page-2"},
    )
    found = lifecycle.latest_package(Clients(session, cfg.region), group, "Approved")
    assert found["ModelPackageArn"] == package_arn(cfg, "dev", 7)
    assert recorder.operations == ["ListModelPackages", "ListModelPackages"]


@pytest.mark.parametrize("layout", ["four", "single"])
def test_latest_on_moto_picks_the_newest_version_with_the_status(accounts, layout):
    cfg = make_config(layout)
    shared = accounts(cfg).session("shared_services")
    first = register_version(shared, cfg, status="Approved")
    second = register_version(shared, cfg)
    clients = Clients(shared, cfg.region)
    group = cfg.group("dev")
    assert lifecycle.latest_package(clients, group)["ModelPackageArn"] == second
    assert lifecycle.latest_package(clients, group, "Approved")["ModelPackageArn"] == first
    assert lifecycle.latest_package(clients, group, "Rejected") is None


@pytest.mark.parametrize("layout", ["four", "single"])
def test_latest_with_git_sha_skips_newer_versions_from_other_commits(accounts, layout):
    cfg = make_config(layout)
    mine, theirs = "1" * 40, "2" * 40
    shared = accounts(cfg).session("shared_services")
    own = register_version(shared, cfg, git_sha=mine)
    newer = register_version(shared, cfg, git_sha=theirs)
    clients = Clients(shared, cfg.region)
    group = cfg.group("dev")
    assert lifecycle.latest_package(clients, group)["ModelPackageArn"] == newer
    assert lifecycle.latest_package(clients, group, git_sha=mine)["ModelPackageArn"] == own
    assert lifecycle.latest_package(clients, group, git_sha="3" * 40) is None


@pytest.mark.parametrize("layout", ["four", "single"])
def test_approve_records_actor_pr_and_commit_and_keeps_metadata(accounts, recorder, layout):
    cfg = make_config(layout)
    shared = accounts(cfg, recorder).session("shared_services")
    arn = register_version(shared, cfg)
    clients = Clients(shared, cfg.region)
    recorder.clear()
    lifecycle.approve(cfg, clients, arn, "#42", "a" * 40, "release-bot[bot]")
    assert recorder.operations == ["DescribeModelPackage", "UpdateModelPackage"]
    package = shared.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert (
        package["ApprovalDescription"]
        == f"Approved by release-bot[bot] in pull request #42 at commit {'a' * 40}"
    )
    metadata = package["CustomerMetadataProperties"]
    assert metadata["git_sha"] == "0123456789abcdef0123456789abcdef01234567"
    assert metadata["approved_by"] == "release-bot_bot_"
    assert metadata["approved_pull_request"] == "42"
    recorder.clear()
    lifecycle.approve(cfg, clients, arn, "43", "b" * 40, "someone-else")
    assert recorder.operations == ["DescribeModelPackage"]
    again = shared.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert again["ApprovalDescription"] == package["ApprovalDescription"]


@pytest.mark.parametrize(
    ("pr", "commit", "actor", "message"),
    [
        ("abc", "a" * 40, "octocat", "not a pull request number"),
        ("42", "not-a-sha", "octocat", "is not a git commit SHA"),
        ("42", "a" * 40, "rm -rf /", "is not a GitHub login"),
    ],
)
def test_approve_rejects_malformed_inputs_before_any_call(pr, commit, actor, message):
    cfg = make_config("four")
    session, stubs = stubbed("sagemaker")
    with pytest.raises(DeployError, match=message):
        lifecycle.approve(cfg, Clients(session, cfg.region), package_arn(cfg, "dev", 3), pr, commit, actor)
    stubs["sagemaker"].assert_no_pending_responses()


def test_approve_refuses_versions_outside_the_dev_group_and_rejected_ones(accounts):
    cfg = make_config("four")
    shared = accounts(cfg).session("shared_services")
    clients = Clients(shared, cfg.region)
    feature = register_version(shared, cfg, kind="feature")
    with pytest.raises(DeployError, match="expected the dev group"):
        lifecycle.approve(cfg, clients, feature, "1", "a" * 7, "octocat")
    rejected = register_version(shared, cfg, status="Rejected")
    with pytest.raises(DeployError, match="was Rejected"):
        lifecycle.approve(cfg, clients, rejected, "1", "a" * 7, "octocat")
    foreign = package_arn(cfg, "dev", 1).replace(":222222222222:", ":999999999999:")
    with pytest.raises(DeployError, match="not the shared-services registry 222222222222"):
        lifecycle.approve(cfg, clients, foreign, "1", "a" * 7, "octocat")


def test_record_stage_sends_the_model_life_cycle_and_skips_when_already_there(recorder):
    cfg = make_config("four")
    arn = package_arn(cfg, "prod", 2)
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    described = {
        "ModelPackageName": cfg.group("prod"),
        "ModelPackageArn": arn,
        "CreationTime": "2025-01-01T00:00:00Z",
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
    }
    sm.add_response("describe_model_package", described)
    sm.add_response(
        "update_model_package",
        {"ModelPackageArn": arn},
        {
            "ModelPackageArn": arn,
            "ModelLifeCycle": {
                "Stage": "Production",
                "StageStatus": "Approved",
                "StageDescription": f"prod endpoint {cfg.environment('prod').endpoint_name}",
            },
        },
    )
    sm.add_response(
        "describe_model_package",
        {**described, "ModelLifeCycle": {"Stage": "Production", "StageStatus": "Approved"}},
    )
    clients = Clients(session, cfg.region)
    assert lifecycle.record_stage(cfg, clients, arn, "prod") is True
    assert lifecycle.record_stage(cfg, clients, arn, "prod") is False
    sm.assert_no_pending_responses()
    assert recorder.operations == ["DescribeModelPackage", "UpdateModelPackage", "DescribeModelPackage"]


@pytest.mark.parametrize("layout", ["four", "single"])
def test_promote_registers_one_prod_version_serving_a_prod_copy(accounts, recorder, layout):
    cfg = make_config(layout)
    world = World(cfg, accounts(cfg, recorder), recorder)
    source = world.register()
    clients = world.clients
    with pytest.raises(DeployError, match="only Approved versions may be promoted"):
        promotion.promote(cfg, clients, source)
    tested = world.qa(source)
    world.approve(source)
    recorder.clear()
    prod_arn, created = promotion.promote(cfg, clients, source, tested.sha256)
    assert created is True
    assert recorder.mutating == ["CopyObject", "CopyObject", "CreateModelPackage"]
    recorder.clear()
    again, created_again = promotion.promote(cfg, clients, source)
    assert (again, created_again) == (prod_arn, False)
    assert recorder.mutating == []
    sm = world.shared.client("sagemaker")
    prod_group = cfg.group("prod")
    versions = sm.list_model_packages(ModelPackageGroupName=prod_group)["ModelPackageSummaryList"]
    assert [v["ModelPackageArn"] for v in versions] == [prod_arn]
    prod = sm.describe_model_package(ModelPackageName=prod_arn)
    src = sm.describe_model_package(ModelPackageName=source)
    assert prod["ModelApprovalStatus"] == "Approved"
    copy_url = f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['prod']}1/model.tar.gz"
    [container] = prod["InferenceSpecification"]["Containers"]
    [source_container] = src["InferenceSpecification"]["Containers"]
    assert container == {**source_container, "ModelDataUrl": copy_url}
    assert world.read(copy_url) == GOOD_MODEL
    # The quality report is a prod-only copy of the one QA pinned.
    report_url = f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['prod']}1/evaluation.json"
    assert prod["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == report_url
    assert world.read(report_url) == world.read(src["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    metadata = prod["CustomerMetadataProperties"]
    copy_version = metadata.pop("artifact_version")
    assert copy_version and copy_version != tested.version_id
    assert metadata.pop("report_version")
    assert metadata == {
        **src["CustomerMetadataProperties"],
        "source_model_package_arn": source,
        "source_model_package_version": "1",
        "artifact_sha256": tested.sha256,
    }
    version.check_package(cfg, prod_arn, "prod")
    with pytest.raises(DeployError, match="the lock names sha256 " + "0" * 64):
        promotion.promote(cfg, clients, source, "0" * 64)


def test_package_metrics_read_the_registered_quality_report(accounts):
    cfg = make_config("four")
    shared = accounts(cfg).session("shared_services")
    arn = register_version(shared, cfg, metrics={"auc": 0.91, "f1": 0.88})
    clients = Clients(shared, cfg.region)
    resolved = version.resolve(cfg, clients, arn, "dev")
    assert resolved.metrics is None
    assert version.read_metrics(clients, resolved).metrics == {"auc": 0.91, "f1": 0.88}
    assert resolved.git_sha == "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(DeployError, match="does not exist in the registry"):
        version.resolve(cfg, clients, package_arn(cfg, "dev", 99), "dev")


def test_promote_refuses_source_metadata_sagemaker_would_refuse_before_any_change(accounts, recorder):
    cfg = make_config("four")
    world = World(cfg, accounts(cfg, recorder), recorder)
    source = world.register()
    world.qa(source)
    world.approve(source)
    sm = world.shared.client("sagemaker")
    metadata = world.describe(source)["CustomerMetadataProperties"]
    # moto stores what SageMaker would refuse; a real registry never holds it.
    sm.update_model_package(
        ModelPackageArn=source,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={**metadata, "hyperparameters": json.dumps({"max_depth": 3})},
    )
    recorder.clear()
    with pytest.raises(DeployError) as caught:
        promotion.promote(cfg, world.clients, source)
    assert str(caught.value).startswith(
        f"promoting {source}: customer metadata 'hyperparameters' value contains "
    )
    assert "which SageMaker refuses; allowed: letters, numbers, spaces and _ . : / = + - @" in str(
        caught.value
    )
    assert recorder.mutating == []
    prod_group = cfg.group("prod")
    assert sm.list_model_packages(ModelPackageGroupName=prod_group)["ModelPackageSummaryList"] == []


def test_approve_refuses_metadata_sagemaker_would_refuse_before_any_change(accounts, recorder):
    cfg = make_config("four")
    shared = accounts(cfg, recorder).session("shared_services")
    arn = register_version(shared, cfg, metadata={"dataset_version": "2025-01-31 (rc1)"})
    clients = Clients(shared, cfg.region)
    recorder.clear()
    with pytest.raises(DeployError, match=r"customer metadata 'dataset_version' value contains '\(\)'"):
        lifecycle.approve(cfg, clients, arn, "7", "c" * 40, "octocat")
    assert recorder.operations == ["DescribeModelPackage"]
    package = shared.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
