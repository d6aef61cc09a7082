"""The champion look-up's access, decided on the deployed policies (test_authority.py's evaluator).

A pipeline is compared with the prod champion: its starters (the feature and dev build roles, and
the data scientist) read the prod group to find it, and both pipeline job roles read its
model.tar.gz under the prod prefix to score it. Neither may write what prod serves: no object
under the prod prefix, no prod version. Each negative is shown to turn positive once the one
control that stops it is loosened.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from test_access import ACCESS_LAYOUTS
from test_authority import APPROVED, PENDING, REJECTED, Attacker, Mutation, _add, _sid, both, on

STARTERS = ("github_feature", "github_build")
JOBS = ("sagemaker_feature", "sagemaker_pipeline")
CHAMPION_KEY = "4/model.tar.gz"


@pytest.fixture(scope="module", params=ACCESS_LAYOUTS)
def layout(request: pytest.FixtureRequest) -> Attacker:
    return Attacker(request.param)


def reads_champion_version(a: Attacker, role: str) -> bool:
    group = a.cfg.group_arn("prod")
    return a.can(
        role,
        [
            ("sagemaker:ListModelPackages", group, {}),
            ("sagemaker:DescribeModelPackageGroup", group, {}),
            ("sagemaker:DescribeModelPackage", a.version("prod"), {}),
        ],
    )


def test_the_starters_find_the_champion_and_the_jobs_read_its_model(layout: Attacker) -> None:
    a = layout
    starters = [*STARTERS, *(("data_scientist",) if a.cfg.data_scientist_principal else ())]
    for key in starters:
        assert reads_champion_version(a, a.who(key)), key
    for key in JOBS:
        assert a.get(a.who(key), a.obj("prod", CHAMPION_KEY)), key
        # Its own evaluation report aside, the prod prefix is read-only for the jobs.
        assert a.can(a.who(key), [("s3:GetObjectVersion", a.obj("prod", CHAMPION_KEY), {})]), key


def test_no_starter_or_pipeline_job_writes_the_prod_prefix_or_the_prod_group(layout: Attacker) -> None:
    a = layout
    champion = a.obj("prod", CHAMPION_KEY)
    for key in (*STARTERS, *JOBS):
        who = a.who(key)
        assert not a.put(who, champion), key
        assert not a.copy(who, a.obj("dev"), champion), key
        for status in (PENDING, APPROVED, None):
            assert not a.register(who, "prod", status), (key, status)
        for status in (APPROVED, REJECTED, None):
            assert not a.update(who, a.version("prod"), status), (key, status)
    # The starters look the champion up; only the jobs read its artifact.
    for key in STARTERS:
        assert not a.get(a.who(key), champion), key


PROD_OBJECTS = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ArtifactBucketName}/${ProdArtifactPrefix}*"}

# (attack, layout, the loosening that lets it through)
LOOSENED: list[tuple[str, str, Callable[[Attacker], bool], Mutation]] = [
    (
        "the dev pipeline's jobs overwrite the champion once their policy and the bucket policy may write",
        "four",
        lambda a: a.put(a.who("sagemaker_pipeline"), a.obj("prod", CHAMPION_KEY)),
        both(
            on("data-science.yaml", _add("PipelineRole", "ReadProdChampion", "Action", "s3:PutObject")),
            on(
                "shared-services.yaml",
                _add("ArtifactBucketPolicy", "PipelineJobsReadProdObjects", "Action", "s3:PutObject"),
            ),
        ),
    ),
    (
        "the feature jobs overwrite the champion in one account once their policy may write",
        "single",
        lambda a: a.put(a.who("sagemaker_feature"), a.obj("prod", CHAMPION_KEY)),
        on("data-science.yaml", _add("FeaturePipelineRole", "ReadProdChampion", "Action", "s3:PutObject")),
    ),
    (
        "the dev build marks a prod version Rejected in one account once its policy may update it",
        "single",
        lambda a: a.update(a.who("github_build"), a.version("prod"), REJECTED),
        on("data-science.yaml", _add("BuildRole", "ReadProdGroup", "Action", "sagemaker:UpdateModelPackage")),
    ),
    (
        "the feature build registers into the prod group in one account once its policy may register",
        "single",
        lambda a: a.register(a.who("github_feature"), "prod", PENDING),
        on(
            "data-science.yaml",
            _add("FeatureBuildRole", "ReadProdGroup", "Action", "sagemaker:CreateModelPackage"),
        ),
    ),
    (
        "the dev build reads the champion's artifact once its policy and the bucket policy name it",
        "four",
        lambda a: a.get(a.who("github_build"), a.obj("prod", CHAMPION_KEY)),
        both(
            on("data-science.yaml", _add("BuildRole", "ReadWriteOwnArtifacts", "Resource", PROD_OBJECTS)),
            on(
                "shared-services.yaml",
                lambda t: _sid(t, "ArtifactBucketPolicy", "PipelineJobsReadProdObjects")["Condition"][
                    "StringEquals"
                ]["aws:PrincipalArn"].append(
                    {"Fn::Sub": "arn:${AWS::Partition}:iam::${DataScienceAccountId}:role/${BuildRoleName}"}
                ),
            ),
        ),
    ),
]


@pytest.mark.parametrize(
    ("layout_name", "attack", "loosen"), [f[1:] for f in LOOSENED], ids=[f[0] for f in LOOSENED]
)
def test_the_attack_succeeds_once_its_control_is_loosened(
    layout_name: str, attack: Callable, loosen: Mutation
) -> None:
    assert not attack(Attacker(layout_name))
    assert attack(Attacker(layout_name, loosen))
