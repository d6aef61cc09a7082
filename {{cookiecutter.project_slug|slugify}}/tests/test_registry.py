"""Registry: group resource policies, groups, newest version, approval, life-cycle stage, promotion.

moto runs what it implements (groups, versions, approval, promotion, S3 reports) with one
simulated account per role; the group-policy calls (moto 5.2.5 raises NotImplementedError for
them) and the life-cycle stage (moto drops ModelLifeCycle) run against botocore's Stubber.
"""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
from moto import mock_aws

from deploy_helpers import (
    INFERENCE_SPEC,
    REGION,
    Accounts,
    Recorder,
    fake_aws_env,
    make_config,
    make_raw,
    module,
    not_found,
    package_arn,
    register_version,
    stubbed,
    write_config,
)

config = module("config")
registry = module("deploy.registry")
cli = module("deploy.cli")
aws = module("deploy.aws")
DeployError = aws.DeployError
Clients = aws.Clients


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch):
    fake_aws_env(monkeypatch)


READ_ONLY = {
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
}


def test_group_policies_grant_account_roots_explicit_actions_per_group():
    cfg = make_config("four")
    root = "arn:aws:iam::{}:root".format
    policies = {kind: registry.group_policy(cfg, kind) for kind in config.GROUP_KINDS}
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
        "prod": {root("444444444444"): prod_deploy},
    }
    sids = {kind: [s["Sid"] for s in policy["Statement"]] for kind, policy in policies.items()}
    assert sids == {
        "feature": ["DataScienceRegister"],
        "dev": ["DataScienceRegister", "QaRead"],
        "prod": ["ProdDeploy"],
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
    assert [registry.group_policy(cfg, kind) for kind in config.GROUP_KINDS] == [None, None, None]


@pytest.mark.parametrize("env", ["qa", "prod"])
def test_group_grants_cover_exactly_the_registry_calls_of_a_deploy(tmp_path, monkeypatch, capsys, env):
    """A four-account deploy on moto, recording only what it asks the registry account: every
    such call is granted to the environment's account by the group policy, and CreateModel
    (authorised on the package when the model names it by ARN) is granted exactly when the
    created model references the package ARN (prod), never to QA."""
    cfg = make_config("four")
    write_config(cfg, tmp_path, monkeypatch)
    kind = cfg.environment(env).group_kind
    account = cfg.environment(env).account
    granted = {
        action
        for statement in registry.group_policy(cfg, kind)["Statement"]
        if statement["Principal"]["AWS"] == f"arn:aws:iam::{account}:root"
        for action in statement["Action"]
    }
    registry_calls = Recorder()
    with mock_aws():
        accounts = Accounts(cfg)
        shared = accounts.session("shared_services")
        arn = register_version(shared, cfg, kind=kind, status="Approved")
        workload = accounts.session(env)
        args = ["deploy", "--env", env, "--arn", arn, "--poll-interval", "0"]
        code = cli.main(args, session=workload, registry_session=registry_calls.attach(shared))
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
    dev = registry.group_policy(config.parse(raw), "dev")
    assert [s["Principal"]["AWS"] for s in dev["Statement"]] == ["arn:aws:iam::111111111111:root"]


def test_ensure_groups_four_accounts_creates_groups_and_puts_policies():
    cfg = make_config("four")
    recorder = Recorder()
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
            {"ModelPackageGroupName": name, "ResourcePolicy": json.dumps(registry.group_policy(cfg, kind))},
        )
    lines = registry.ensure_groups(cfg, Clients(session, cfg.region))
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


def test_ensure_groups_is_idempotent_when_groups_and_policies_match():
    cfg = make_config("four")
    recorder = Recorder()
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
        policy = json.dumps(registry.group_policy(cfg, kind), sort_keys=True)
        sm.add_response("get_model_package_group_policy", {"ResourcePolicy": policy})
    registry.ensure_groups(cfg, Clients(session, cfg.region))
    sm.assert_no_pending_responses()
    assert recorder.operations == ["DescribeModelPackageGroup", "GetModelPackageGroupPolicy"] * 3
    assert recorder.mutating == []


def test_ensure_groups_single_account_on_moto_creates_groups_once():
    cfg = make_config("single")
    recorder = Recorder()
    with mock_aws():
        shared = Accounts(cfg, recorder).session("shared_services")
        clients = Clients(shared, cfg.region)
        registry.ensure_groups(cfg, clients)
        assert recorder.mutating == ["CreateModelPackageGroup"] * 3
        recorder.clear()
        registry.ensure_groups(cfg, clients)
        assert recorder.operations == ["DescribeModelPackageGroup"] * 3
        groups = shared.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert sorted(g["ModelPackageGroupName"] for g in groups) == sorted(cfg.names.groups.values())


def test_latest_pages_on_past_versions_that_are_not_completed():
    cfg = make_config("four")
    group = cfg.group("dev")
    recorder = Recorder()
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
    found = registry.latest_package(Clients(session, cfg.region), group, "Approved")
    assert found["ModelPackageArn"] == package_arn(cfg, "dev", 7)
    assert recorder.operations == ["ListModelPackages", "ListModelPackages"]


@pytest.mark.parametrize("layout", ["four", "single"])
def test_latest_on_moto_picks_the_newest_version_with_the_status(layout):
    cfg = make_config(layout)
    with mock_aws():
        shared = Accounts(cfg).session("shared_services")
        first = register_version(shared, cfg, status="Approved")
        second = register_version(shared, cfg)
        clients = Clients(shared, cfg.region)
        group = cfg.group("dev")
        assert registry.latest_package(clients, group)["ModelPackageArn"] == second
        assert registry.latest_package(clients, group, "Approved")["ModelPackageArn"] == first
        assert registry.latest_package(clients, group, "Rejected") is None


@pytest.mark.parametrize("layout", ["four", "single"])
def test_latest_with_git_sha_skips_newer_versions_from_other_commits(layout):
    cfg = make_config(layout)
    mine, theirs = "1" * 40, "2" * 40
    with mock_aws():
        shared = Accounts(cfg).session("shared_services")
        own = register_version(shared, cfg, git_sha=mine)
        newer = register_version(shared, cfg, git_sha=theirs)
        clients = Clients(shared, cfg.region)
        group = cfg.group("dev")
        assert registry.latest_package(clients, group)["ModelPackageArn"] == newer
        assert registry.latest_package(clients, group, git_sha=mine)["ModelPackageArn"] == own
        assert registry.latest_package(clients, group, git_sha="3" * 40) is None


@pytest.mark.parametrize("layout", ["four", "single"])
def test_approve_records_actor_pr_and_commit_and_keeps_metadata(layout):
    cfg = make_config(layout)
    recorder = Recorder()
    with mock_aws():
        shared = Accounts(cfg, recorder).session("shared_services")
        arn = register_version(shared, cfg)
        clients = Clients(shared, cfg.region)
        recorder.clear()
        registry.approve(cfg, clients, arn, "#42", "a" * 40, "release-bot[bot]")
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
        registry.approve(cfg, clients, arn, "43", "b" * 40, "someone-else")
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
        registry.approve(cfg, Clients(session, cfg.region), package_arn(cfg, "dev", 3), pr, commit, actor)
    stubs["sagemaker"].assert_no_pending_responses()


def test_approve_refuses_versions_outside_the_dev_group_and_rejected_ones():
    cfg = make_config("four")
    with mock_aws():
        shared = Accounts(cfg).session("shared_services")
        clients = Clients(shared, cfg.region)
        feature = register_version(shared, cfg, kind="feature")
        with pytest.raises(DeployError, match="expected the dev group"):
            registry.approve(cfg, clients, feature, "1", "a" * 7, "octocat")
        rejected = register_version(shared, cfg, status="Rejected")
        with pytest.raises(DeployError, match="was Rejected"):
            registry.approve(cfg, clients, rejected, "1", "a" * 7, "octocat")
        foreign = package_arn(cfg, "dev", 1).replace(":222222222222:", ":999999999999:")
        with pytest.raises(DeployError, match="not the shared-services registry 222222222222"):
            registry.approve(cfg, clients, foreign, "1", "a" * 7, "octocat")


def test_record_stage_sends_the_model_life_cycle_and_skips_when_already_there():
    cfg = make_config("four")
    arn = package_arn(cfg, "prod", 2)
    recorder = Recorder()
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
    assert registry.record_stage(cfg, clients, arn, "prod") is True
    assert registry.record_stage(cfg, clients, arn, "prod") is False
    sm.assert_no_pending_responses()
    assert recorder.operations == ["DescribeModelPackage", "UpdateModelPackage", "DescribeModelPackage"]


@pytest.mark.parametrize("layout", ["four", "single"])
def test_promote_registers_one_prod_version_pointing_at_the_same_artifacts(layout):
    cfg = make_config(layout)
    recorder = Recorder()
    with mock_aws():
        shared = Accounts(cfg, recorder).session("shared_services")
        source = register_version(shared, cfg)
        clients = Clients(shared, cfg.region)
        with pytest.raises(DeployError, match="only Approved versions may be promoted"):
            registry.promote(cfg, clients, source)
        registry.approve(cfg, clients, source, "7", "c" * 40, "octocat")
        recorder.clear()
        prod_arn, created = registry.promote(cfg, clients, source)
        assert created is True
        assert recorder.mutating == ["CreateModelPackage"]
        recorder.clear()
        again, created_again = registry.promote(cfg, clients, source)
        assert (again, created_again) == (prod_arn, False)
        assert recorder.mutating == []
        sm = shared.client("sagemaker")
        prod_group = cfg.group("prod")
        versions = sm.list_model_packages(ModelPackageGroupName=prod_group)["ModelPackageSummaryList"]
        assert [v["ModelPackageArn"] for v in versions] == [prod_arn]
        prod = sm.describe_model_package(ModelPackageName=prod_arn)
        src = sm.describe_model_package(ModelPackageName=source)
        assert prod["ModelApprovalStatus"] == "Approved"
        assert prod["InferenceSpecification"] == src["InferenceSpecification"] == INFERENCE_SPEC
        assert prod["ModelMetrics"] == src["ModelMetrics"]
        assert prod["CustomerMetadataProperties"] == {
            **src["CustomerMetadataProperties"],
            "source_model_package_arn": source,
            "source_model_package_version": "1",
        }
        registry.check_package(cfg, prod_arn, "prod")


def test_package_metrics_read_the_registered_quality_report():
    cfg = make_config("four")
    with mock_aws():
        shared = Accounts(cfg).session("shared_services")
        arn = register_version(shared, cfg, metrics={"auc": 0.91, "f1": 0.88})
        clients = Clients(shared, cfg.region)
        package = registry.describe(clients, arn)
        assert registry.package_metrics(clients, package) == {"auc": 0.91, "f1": 0.88}
        assert registry.package_git_sha(package) == "0123456789abcdef0123456789abcdef01234567"
        with pytest.raises(DeployError, match="does not exist in the registry"):
            registry.describe(clients, package_arn(cfg, "dev", 99))


# --- customer metadata and tag values ----------------------------------------------------


def _class_of(pattern: str) -> tuple[set[str], set[str]]:
    """(Unicode categories, literal characters) of the character class in a service-model
    pattern such as `([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)`."""
    body = pattern[pattern.index("[") + 1 : pattern.index("]")]
    categories = set(re.findall(r"\\p\{(\w)\}", body))
    rest = re.sub(r"\\p\{\w\}", "", body)
    return categories, set(re.sub(r"\\(.)", r"\1", rest))


@pytest.mark.parametrize("shape", ["CustomerMetadataKey", "CustomerMetadataValue", "TagKey", "TagValue"])
def test_the_metadata_rule_is_the_one_in_botocores_sagemaker_model(shape):
    model = botocore.session.get_session().get_service_model("sagemaker")
    pattern = model.shape_for(shape).metadata["pattern"]
    assert _class_of(pattern) == ({"L", "Z", "N"}, set(registry.METADATA_PUNCTUATION))


def test_check_customer_metadata_accepts_what_sagemaker_accepts():
    for layout in ("baked", "four", "single"):
        cfg = make_config(layout)
        for kind in ("dev", "prod"):
            source = package_arn(cfg, kind, 123)
            # What promote adds, and what approve adds for a bot login.
            entries = {
                registry.SOURCE_ARN_KEY: source,
                registry.SOURCE_VERSION_KEY: "123",
                "approved_by": registry.metadata_value("release-bot[bot]"),
                "approved_commit": "a" * 40,
            }
            assert registry.check_customer_metadata(entries, "promote") == entries
    unusual = {
        "dataset_uri": "s3://bucket/datasets/v=2/sample.csv",
        "owner": "Zoë Ångström 東京 ٣",
        "max_depth": "3",
        "learning_rate": "0.1",
        "contact": "ml+platform@example.com",
    }
    assert registry.check_customer_metadata(unusual, "x") == unusual


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"hyperparameters": json.dumps({"max_depth": 3, "eta": 0.1})},
            "register: customer metadata 'hyperparameters' value contains '\",{}', which SageMaker refuses; "
            "allowed: letters, numbers, spaces and _ . : / = + - @",
        ),
        ({"branch": "feature/a,b"}, "'branch' value contains ','"),
        ({"note": "line\nbreak"}, "'note' value contains '\\n'"),
        ({"tag": "v1 (beta)"}, "'tag' value contains '()'"),
        ({"empty": ""}, "'empty' value has 0 characters; expected 1-256"),
        ({"long": "x" * 257}, "'long' value has 257 characters; expected 1-256"),
        ({"k" * 129: "v"}, "customer metadata key 'kkk"),
        ({"bad key!": "v"}, "customer metadata key 'bad key!' contains '!'"),
        ({"number": 3}, "'number' value must be a string, got int"),
        ({f"k{i}": "v" for i in range(51)}, "51 customer metadata entries; SageMaker allows 50"),
    ],
    ids=[
        "json",
        "comma",
        "newline",
        "parentheses",
        "empty",
        "too long",
        "key too long",
        "key character",
        "not a string",
        "too many",
    ],
)
def test_check_customer_metadata_refuses_with_one_clear_line(properties, message):
    with pytest.raises(DeployError) as caught:
        registry.check_customer_metadata(properties, "register")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("register: ")
    assert message in text


def test_metadata_value_makes_free_text_acceptable():
    for text in ('{"a": 1}', "release-bot[bot]", "a,b;c", "tab\there", "ü/ok", "x" * 300):
        value = registry.metadata_value(text)
        assert registry.check_customer_metadata({"k": value}, "x") == {"k": value}
    assert registry.metadata_value("release-bot[bot]") == "release-bot_bot_"
    assert registry.metadata_value("") == "_"


def test_check_tags_allows_empty_values_and_refuses_bad_characters():
    assert registry.check_tags([{"Key": "note", "Value": ""}], "x") == [{"Key": "note", "Value": ""}]
    with pytest.raises(DeployError, match=r"^deploy: tag 'owner' value contains '#'"):
        registry.check_tags([{"Key": "owner", "Value": "team#1"}], "deploy")


def test_promote_refuses_source_metadata_sagemaker_would_refuse_before_any_change():
    cfg = make_config("four")
    recorder = Recorder()
    with mock_aws():
        shared = Accounts(cfg, recorder).session("shared_services")
        hyperparameters = json.dumps({"max_depth": 3})
        source = register_version(
            shared, cfg, status="Approved", metadata={"hyperparameters": hyperparameters}
        )
        clients = Clients(shared, cfg.region)
        recorder.clear()
        with pytest.raises(DeployError) as caught:
            registry.promote(cfg, clients, source)
        assert str(caught.value).startswith(
            f"promoting {source}: customer metadata 'hyperparameters' value contains "
        )
        assert "which SageMaker refuses; allowed: letters, numbers, spaces and _ . : / = + - @" in str(
            caught.value
        )
        assert recorder.mutating == []
        prod_group = cfg.group("prod")
        sm = shared.client("sagemaker")
        assert sm.list_model_packages(ModelPackageGroupName=prod_group)["ModelPackageSummaryList"] == []


def test_approve_refuses_metadata_sagemaker_would_refuse_before_any_change():
    cfg = make_config("four")
    recorder = Recorder()
    with mock_aws():
        shared = Accounts(cfg, recorder).session("shared_services")
        arn = register_version(shared, cfg, metadata={"dataset_version": "2025-01-31 (rc1)"})
        clients = Clients(shared, cfg.region)
        recorder.clear()
        with pytest.raises(DeployError, match=r"customer metadata 'dataset_version' value contains '\(\)'"):
            registry.approve(cfg, clients, arn, "7", "c" * 40, "octocat")
        assert recorder.operations == ["DescribeModelPackage"]
        package = shared.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert package["ModelApprovalStatus"] == "PendingManualApproval"
