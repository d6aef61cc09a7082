"""The champion a pipeline is built against: the served prod version, looked up before the build.

`upsert` (and `run`) resolve `promotion.lifecycle.champion_version` (the prod version released
last) with the starter's credentials and write it into the stored definition as literals: the
Evaluate step's `champion` input (its model.tar.gz under the prod prefix) and
`--champion-version`. The registry is moto's, SageMaker Pipelines pipeline_fakes.PipelineService.
"""

from __future__ import annotations

import io
import json

import pytest

from deploy_helpers import Accounts
from pipeline_fakes import PipelineService
from pipeline_helpers import CFG, GIT_SHA, account_with_input, cli, use_project

pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

PROD_PREFIX = f"s3://{CFG.names.artifact_bucket}/{CFG.names.artifact_prefixes['prod']}"
IMAGE = f"683313688378.dkr.ecr.{CFG.region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(autouse=True)
def project(configure, monkeypatch):
    use_project(configure, monkeypatch)


@pytest.fixture
def moto_account(aws_env):
    """The shared-services account (the baked config is single-account: it is every account)."""
    with account_with_input():
        session = Accounts(CFG).session("shared_services")
        session.client("sagemaker").create_model_package_group(ModelPackageGroupName=CFG.group("prod"))
        yield session


def prod_version(session, model_uri: str, metadata: dict[str, str], status: str = "Approved") -> str:
    """A prod version serving `model_uri`, as promotion registers it (moto checks no metadata)."""
    return session.client("sagemaker").create_model_package(
        ModelPackageGroupName=CFG.group("prod"),
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": model_uri}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties={"git_sha": GIT_SHA, **metadata},
    )["ModelPackageArn"]


def upsert(session, capsys) -> tuple[int, PipelineService, str]:
    """`pipeline upsert --kind dev`: (exit status, the pipeline service, stderr)."""
    service = PipelineService()
    client = service.attach(session.client("sagemaker"))
    args = ["upsert", "--kind", "dev", "--branch", CFG.branches.dev, "--git-sha", GIT_SHA]
    code = cli.main(args, boto_session=session, sagemaker_client=client, out=io.StringIO())
    return code, service, capsys.readouterr().err


def evaluate_of(service: PipelineService) -> dict:
    [definition] = {tuple(v) for v in service.versions.values()}
    steps = json.loads(definition[-1])["Steps"]
    return next(s for s in steps if s["Name"] == "Evaluate")["Arguments"]


def champion_of(evaluate: dict) -> tuple[str, str | None]:
    """(--champion-version, the champion input's S3 URI or None)."""
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    return arguments[arguments.index("--champion-version") + 1], inputs.get("champion")


def test_the_definition_compares_with_the_served_version_not_the_newest_approved(moto_account, capsys):
    served_uri = f"{PROD_PREFIX}5/model.tar.gz"
    served = prod_version(
        moto_account, served_uri, {"released_at": "2025-03-01T00:00:00Z", "released_commit": "a" * 40}
    )
    # Promoted (Approved) after it, but its release has not served prod (yet, or ever).
    newest = prod_version(moto_account, f"{PROD_PREFIX}6/model.tar.gz", {})
    rejected = prod_version(
        moto_account, f"{PROD_PREFIX}7/model.tar.gz", {"released_at": "2025-04-01T00:00:00Z"}, "Rejected"
    )
    # One segment's model of an earlier segmented project, released later: no whole model's champion.
    segment = prod_version(
        moto_account,
        f"{PROD_PREFIX}8/model.tar.gz",
        {"released_at": "2025-05-01T00:00:00Z", "segment": "north", "segment_column": "region"},
    )
    assert len({served, newest, rejected, segment}) == 4
    code, service, err = upsert(moto_account, capsys)
    assert code == 0, err
    assert f"pipeline: champion {served}" in err
    assert champion_of(evaluate_of(service)) == (served, served_uri)


def test_before_the_first_release_there_is_no_champion_input(moto_account, capsys):
    prod_version(moto_account, f"{PROD_PREFIX}6/model.tar.gz", {})  # Approved, never released
    code, service, err = upsert(moto_account, capsys)
    assert code == 0, err
    assert "pipeline: champion none" in err
    assert champion_of(evaluate_of(service)) == ("none", None)


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://{CFG.names.artifact_bucket}/{CFG.names.artifact_prefixes['dev']}5/model.tar.gz",
        "s3://somewhere-else/models/model.tar.gz",
    ],
)
def test_a_champion_serving_from_outside_the_prod_prefix_is_refused_before_the_upsert(
    moto_account, capsys, uri
):
    champion = prod_version(moto_account, uri, {"released_at": "2025-03-01T00:00:00Z"})
    code, service, err = upsert(moto_account, capsys)
    assert code == 1
    assert err == (
        f"error: the champion {champion} serves {uri}; expected one model.tar.gz under {PROD_PREFIX} "
        "(where promotion copies what prod serves)\n"
    )
    assert service.operations == []


def test_definition_shows_no_champion_unless_asked(moto_account, capsys):
    """`make definition` makes no registry call and shows none; --with-champion looks it up."""
    served_uri = f"{PROD_PREFIX}5/model.tar.gz"
    served = prod_version(moto_account, served_uri, {"released_at": "2025-03-01T00:00:00Z"})
    calls: list[str] = []
    client = moto_account.client("sagemaker")
    moto_account.events.register("before-call.sagemaker.*", lambda event_name, **_: calls.append(event_name))
    args = ["definition", "--kind", "dev", "--branch", CFG.branches.dev, "--git-sha", GIT_SHA]
    for extra, expected in (([], ("none", None)), (["--with-champion"], (served, served_uri))):
        out = io.StringIO()
        calls.clear()
        assert cli.main([*args, *extra], boto_session=moto_account, sagemaker_client=client, out=out) == 0
        steps = json.loads(out.getvalue())["Steps"]
        assert champion_of(next(s for s in steps if s["Name"] == "Evaluate")["Arguments"]) == expected
        assert ("before-call.sagemaker.ListModelPackages" in calls) is bool(extra)
    capsys.readouterr()
