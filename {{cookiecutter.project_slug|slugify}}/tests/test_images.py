"""Where framework images may be pulled from: the table in access/images.py, the SDK, the templates.

- The table equals the SageMaker SDK's own image table (dev install only; the table itself is
  data) for every region botocore knows SageMaker in (the regions the bake accepts), for both
  frameworks at the configured versions, training and serving: same account, same repositories,
  and no region listed where the SDK has no image; and the SDK's `image_uris.retrieve` (what the
  pipeline calls) resolves the configured region's images inside it. A new SDK or botocore that
  moves an image fails here.
- Bootstrap passes that account to the stacks whose roles pull images, and refuses a region
  without one (exit 2, before any AWS call).
- The policy checks hold every ECR pull grant to exactly the region's account and repositories:
  any account, a `sagemaker-*` wildcard, another account, another repository or a missing one
  is a finding (negative fixtures on the real templates).
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from deploy_helpers import CONFIG, FOUR_ACCOUNTS, config, make_config, make_raw, module, write_config
from test_infra_policies import INFRA, assert_only, checks, findings_for, statement

access = module("access")
bootstrap = module("infra.bootstrap")
plan_module = module("infra.plan")

VERSIONS = CONFIG["pipeline"]["framework_versions"]
SCOPES = ("training", "inference")
PULLERS = (
    ("data-science.yaml", "FeaturePipelineRole", "pipeline-jobs"),
    ("data-science.yaml", "PipelineRole", "pipeline-jobs"),
    ("workload.yaml", "EndpointRole", "endpoint-runtime"),
)


def sdk_image_table() -> dict[str, dict[tuple[str, str], str]]:
    """region -> (framework, scope) -> image URI (without tag) from the SageMaker SDK's own image
    table (image_uri_config/<framework>.json, read without importing the SDK), for every region
    botocore knows SageMaker in; regions without an image map to {}."""
    spec = importlib.util.find_spec("sagemaker")
    assert spec and spec.submodule_search_locations, (
        "the SageMaker SDK (requirements/dev.txt) is not installed"
    )
    folder = Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config"
    result: dict[str, dict[tuple[str, str], str]] = {
        region: {} for region in botocore.session.get_session().get_available_regions("sagemaker")
    }
    for framework in config.FRAMEWORKS:
        data = json.loads((folder / f"{framework}.json").read_text())
        for scope in SCOPES:
            entry = data[scope]["versions"][VERSIONS[framework]]
            for region, account in entry["registries"].items():
                if region in result:
                    host = f"{account}.dkr.ecr.{region}.amazonaws.com"
                    result[region][(framework, scope)] = f"{host}/{entry['repository']}"
    return result


def test_the_table_is_what_the_sdk_returns_for_every_region() -> None:
    images = sdk_image_table()
    assert set(config.FRAMEWORKS) == set(access.FRAMEWORK_REPOSITORIES) == set(VERSIONS)
    usable = {region: uris for region, uris in images.items() if uris}
    assert set(access.IMAGE_ACCOUNTS) == set(usable), (
        "access/images.py IMAGE_ACCOUNTS must list exactly the regions the SDK has images for: "
        f"missing {sorted(set(usable) - set(access.IMAGE_ACCOUNTS))}, "
        f"extra {sorted(set(access.IMAGE_ACCOUNTS) - set(usable))}"
    )
    for region, uris in usable.items():
        assert len(uris) == len(config.FRAMEWORKS) * len(SCOPES), (region, sorted(uris))
        for (framework, scope), uri in uris.items():
            host, _, repository = uri.partition("/")
            assert host == f"{access.IMAGE_ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com", (region, uri)
            assert repository == access.FRAMEWORK_REPOSITORIES[framework], (framework, scope, uri)
    # Regions botocore knows but the SDK has no image for are refused, not guessed.
    for region in sorted(set(images) - set(usable)):
        with pytest.raises(config.ConfigError, match=f"aws.region is '{region}'"):
            access.image_account(region)


def test_the_sdk_resolves_the_configured_images_from_the_table() -> None:
    """What the pipeline asks the SDK for (image_uris.retrieve, as pipeline/sdk.py does) is in the
    table's account and repositories, and is what the SDK's image table above says."""
    from sagemaker.core import image_uris

    region = CONFIG["aws"]["region"]
    table = sdk_image_table()[region]
    for framework in config.FRAMEWORKS:
        for scope in SCOPES:
            uri = image_uris.retrieve(
                framework,
                region=region,
                version=VERSIONS[framework],
                instance_type=CONFIG["pipeline"]["training_instance_type"],
                image_scope=scope,
            )
            assert access.is_framework_image(uri, region), uri
            assert uri.split(":")[0] == table[(framework, scope)], (uri, table)


def test_repository_arns_and_image_uris() -> None:
    account = access.image_account("eu-west-1")
    assert access.repository_arns("eu-west-1") == (
        f"arn:aws:ecr:eu-west-1:{account}:repository/sagemaker-scikit-learn",
        f"arn:aws:ecr:eu-west-1:{account}:repository/sagemaker-xgboost",
    )
    good = f"{account}.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert access.is_framework_image(good, "eu-west-1")
    assert access.is_framework_image(good.replace(":1.7-1", "@sha256:" + "a" * 64), "eu-west-1")
    for bad in (
        good.replace(account, "999999999999"),
        good.replace("eu-west-1", "us-east-1"),
        good.replace("sagemaker-xgboost", "sagemaker-xgboost-evil"),
        good.replace("sagemaker-xgboost", "my-images"),
        good + "/x",
        good.replace(":1.7-1", ""),
    ):
        assert not access.is_framework_image(bad, "eu-west-1"), bad
    assert not access.is_framework_image(good, "mx-central-1")


@pytest.mark.parametrize("layout", ("baked", "four", "single"))
def test_bootstrap_passes_the_image_account_to_every_image_pulling_stack(layout: str) -> None:
    cfg = make_config(layout)
    specs = plan_module.plan(cfg)
    expected = {"FrameworkImageAccountId": access.IMAGE_ACCOUNTS[cfg.region]}
    pulling = [s for s in specs if s.template in ("data-science.yaml", "workload.yaml")]
    assert pulling and all(expected.items() <= s.parameters.items() for s in pulling)
    assert all("FrameworkImageAccountId" not in s.parameters for s in specs if s not in pulling)


def test_bootstrap_refuses_a_region_without_framework_images(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = make_raw("four")
    raw["aws"]["region"] = "mx-central-1"
    write_config(raw, tmp_path, monkeypatch)

    def no_session(*_: Any) -> Any:
        raise AssertionError("bootstrap made an AWS session for a region it should refuse")

    out = io.StringIO()
    code = bootstrap.main(["--dry-run"], session_for=no_session, out=out, log=lambda line: None)
    assert code == 2 and out.getvalue() == ""
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "aws.region is 'mx-central-1'" in errors[0], errors
    assert "scikit-learn or XGBoost framework image" in errors[0]


# --- the policy checks' rule ---------------------------------------------------------------


@pytest.mark.parametrize(("template", "role", "policy"), PULLERS)
def test_the_real_pull_statements_name_exactly_the_tables_repositories(
    template: str, role: str, policy: str
) -> None:
    assert findings_for(template) == []
    cfg = make_config("four")
    ctx = checks.Context.from_config(cfg)
    loaded = checks.load_template(INFRA / template)
    [spec, *_] = [s for s in plan_module.plan(cfg) if s.template == template]
    params = spec.resolved_parameters({"shared-services": {"ArtifactKeyArn": "arn:aws:kms:r:1:key/k"}})
    resolver = checks.Resolver(loaded, params, spec.account, ctx.region)
    resolved = resolver.value(statement(loaded, role, "PullFrameworkImages", policy))
    assert sorted(resolved["Resource"]) == list(access.repository_arns(cfg.region))
    assert sorted(resolved["Action"]) == sorted(access.PULL_ACTIONS)


def _set_resources(role: str, policy: str, resources: list[str]) -> Any:
    def mutate(t: dict[str, Any]) -> None:
        statement(t, role, "PullFrameworkImages", policy)["Resource"] = [
            {"Fn::Sub": r} if "${" in r else r for r in resources
        ]

    return mutate


REGION_ARN = "arn:${AWS::Partition}:ecr:${AWS::Region}"
# The template's reference to the image account parameter (as !Sub text).
ACCOUNT_REF = "${" + "FrameworkImageAccountId}"


@pytest.mark.parametrize(("template", "role", "policy"), PULLERS)
@pytest.mark.parametrize(
    ("resources", "named"),
    [
        # Today's templates before this rule: any account's framework repositories.
        (
            [
                f"{REGION_ARN}:*:repository/sagemaker-scikit-learn",
                f"{REGION_ARN}:*:repository/sagemaker-xgboost",
            ],
            ":*:repository/sagemaker-scikit-learn",
        ),
        # The right account, but every sagemaker-* repository.
        ([f"{REGION_ARN}:{ACCOUNT_REF}:repository/sagemaker-*"], "repository/sagemaker-*"),
        # Another account (an attacker's, or a typo).
        (
            [
                f"{REGION_ARN}:999999999999:repository/sagemaker-scikit-learn",
                f"{REGION_ARN}:999999999999:repository/sagemaker-xgboost",
            ],
            ":999999999999:repository/sagemaker-xgboost",
        ),
        # Another repository of the right account.
        (
            [
                f"{REGION_ARN}:{ACCOUNT_REF}:repository/sagemaker-scikit-learn",
                f"{REGION_ARN}:{ACCOUNT_REF}:repository/sagemaker-xgboost",
                f"{REGION_ARN}:{ACCOUNT_REF}:repository/sagemaker-pytorch",
            ],
            "repository/sagemaker-pytorch",
        ),
        # Another region's image account.
        (
            [
                "arn:aws:ecr:us-west-2:246618743249:repository/sagemaker-scikit-learn",
                "arn:aws:ecr:us-west-2:246618743249:repository/sagemaker-xgboost",
            ],
            "us-west-2:246618743249",
        ),
    ],
)
def test_a_pull_grant_beyond_the_tables_account_and_repositories_fails(
    template: str, role: str, policy: str, resources: list[str], named: str
) -> None:
    found = findings_for(template, _set_resources(role, policy, resources))
    assert found, f"no finding for {resources}"
    pulls = [f for f in found if "image pulls are allowed only from AWS's image account" in f]
    assert pulls and all(named in f or "without" in f for f in found), found
    assert any(named in f for f in pulls), found
    assert all("statement PullFrameworkImages" in f for f in found), found


@pytest.mark.parametrize(("template", "role", "policy"), PULLERS)
def test_a_pull_statement_missing_a_repository_fails(template: str, role: str, policy: str) -> None:
    only_xgboost = [f"{REGION_ARN}:{ACCOUNT_REF}:repository/sagemaker-xgboost"]
    assert_only(
        findings_for(template, _set_resources(role, policy, only_xgboost)),
        "statement PullFrameworkImages: grants ecr:BatchCheckLayerAvailability, ecr:BatchGetImage, "
        "ecr:GetDownloadUrlForLayer without arn:aws:ecr:",
    )


def test_a_wrong_account_passed_by_bootstrap_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The account is a stack parameter: a plan passing anything but the table's account fails too."""
    cfg = make_config("four")
    real = plan_module.plan(cfg)
    for spec in real:
        if "FrameworkImageAccountId" in spec.parameters:
            spec.parameters["FrameworkImageAccountId"] = FOUR_ACCOUNTS["data_science"]
    monkeypatch.setattr(plan_module, "plan", lambda _cfg: real)
    monkeypatch.setattr(checks, "plan", lambda _cfg: real)
    found = [str(f) for f in checks.check_directory(INFRA, cfg)]
    pulls = [f for f in found if f"{FOUR_ACCOUNTS['data_science']}:repository/sagemaker-" in f]
    assert {f.split("[")[0] for f in pulls} == {"data-science.yaml", "workload.yaml"}, found
    assert all("image pulls are allowed only from AWS's image account" in f or "without" in f for f in found)


def test_a_separate_policy_resource_is_checked_too() -> None:
    def attach(t: dict[str, Any]) -> None:
        t["Resources"]["ExtraPulls"] = {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "extra",
                "Roles": [{"Ref": "EndpointRole"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "MorePulls",
                            "Effect": "Allow",
                            "Action": "ecr:BatchGetImage",
                            "Resource": {"Fn::Sub": f"{REGION_ARN}:*:repository/sagemaker-*"},
                        }
                    ],
                },
            },
        }

    found = findings_for("workload.yaml", attach)
    assert any(
        "ExtraPulls statement MorePulls: grants ecr:BatchGetImage on arn:aws:ecr:" in f for f in found
    ), found
