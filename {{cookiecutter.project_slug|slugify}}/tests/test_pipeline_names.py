"""Which pipeline a run targets (pipeline/names.py): one feature pipeline per branch within
SageMaker's name rules, its S3 prefix, its execution role, the jobs' artifact key and the start
token. No SageMaker SDK, no AWS."""

from __future__ import annotations

import hashlib
import re

import pytest

from deploy_helpers import FOUR_ACCOUNTS, make_raw, module

names = module("pipeline.names")
config = module("config")

CFG = config.parse(make_raw("baked"))
FEATURE = CFG.names.artifact_prefixes["feature"]
PREFIX = CFG.branches.feature_prefix
# SageMaker's pipeline-name pattern and length (botocore's service model for PipelineName).
PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
KEY_ARN = f"arn:aws:kms:{CFG.region}:{FOUR_ACCOUNTS['shared_services']}:key/1234abcd-12ab-34cd-56ef"


def digest(branch: str) -> str:
    return hashlib.sha256(branch.encode()).hexdigest()[:12]


def test_dev_is_one_pipeline_whatever_the_branch():
    assert names.pipeline_name(CFG, "dev", CFG.branches.dev) == CFG.names.pipelines["dev"]
    assert names.pipeline_name(CFG, "dev", f"{PREFIX}other") == CFG.names.pipelines["dev"]
    assert names.s3_prefix(CFG.names.pipelines["dev"]) == CFG.names.artifact_prefixes["dev"]


def test_a_plain_feature_branch_names_its_pipeline_without_a_hash():
    assert names.pipeline_name(CFG, "feature", f"{PREFIX}better-model") == f"{FEATURE}better-model"


@pytest.mark.parametrize(
    ("branch", "slugged"),
    [
        (f"{PREFIX}Better_Model", "better-model"),  # capitals and `_`
        (f"{PREFIX}team/better.model", "team-better-model"),  # `/` and `.`
        (f"{PREFIX}better--model", "better-model"),  # a run of hyphens collapses
        ("better-model", "better-model"),  # no feature prefix
        (f"{PREFIX}x-0123456789ab", "x-0123456789ab"),  # already ends like a hash
        (PREFIX, ""),  # nothing after the prefix
        (f"{PREFIX}///", ""),  # nothing survives slugging
    ],
)
def test_a_lossy_slug_gets_the_hash_of_the_exact_branch(branch, slugged):
    expected = f"{FEATURE}{slugged}-{digest(branch)}" if slugged else f"{FEATURE}{digest(branch)}"
    assert names.pipeline_name(CFG, "feature", branch) == expected


def test_branches_that_slug_alike_get_distinct_pipelines():
    branches = [
        f"{PREFIX}better-model",
        f"{PREFIX}Better-Model",
        f"{PREFIX}better_model",
        f"{PREFIX}better/model",
        f"{PREFIX}better--model",
        f"{PREFIX}-better-model-",
        "better-model",
        f"{PREFIX}{PREFIX}better-model",
        f"{PREFIX}better-model-{digest(f'{PREFIX}Better-Model')}",  # a crafted look-alike
        f"{PREFIX}{digest(PREFIX)}",
        PREFIX,
    ]
    pipelines = [names.pipeline_name(CFG, "feature", branch) for branch in branches]
    assert len(set(pipelines)) == len(branches), pipelines
    for name in pipelines:
        assert PIPELINE_NAME.match(name), name
        assert names.s3_prefix(name).startswith(FEATURE)
        assert not names.s3_prefix(name).startswith(CFG.names.artifact_prefixes["dev"])


def test_a_long_branch_is_shortened_to_sagemakers_limit_and_stays_distinct():
    long_a = f"{PREFIX}{'a' * 300}"
    long_b = f"{PREFIX}{'a' * 299}b"
    first, second = (names.pipeline_name(CFG, "feature", b) for b in (long_a, long_b))
    assert len(first) == len(second) == names.MAX_PIPELINE_NAME
    assert first != second
    assert first.endswith(f"-{digest(long_a)}") and PIPELINE_NAME.match(first)


def test_an_empty_branch_or_another_kind_is_refused():
    with pytest.raises(config.ConfigError, match="branch name is empty"):
        names.pipeline_name(CFG, "feature", "")
    with pytest.raises(config.ConfigError, match="unknown pipeline kind 'prod'"):
        names.pipeline_name(CFG, "prod", "main")


def test_each_kind_runs_as_its_own_role():
    data_science = CFG.account_id("data_science")
    model = CFG.project.model_name
    assert (
        names.execution_role_arn(CFG, "feature")
        == f"arn:aws:iam::{data_science}:role/{model}-sagemaker-feature"
    )
    assert (
        names.execution_role_arn(CFG, "dev") == f"arn:aws:iam::{data_science}:role/{model}-sagemaker-pipeline"
    )


# --- the jobs' artifact key ---------------------------------------------------------------


def key_config(layout: str, key_arn: str = ""):
    raw = make_raw(layout)
    raw["registry"]["kms_key_arn"] = key_arn
    return config.parse(raw)


def test_one_account_may_use_the_alias_arn():
    cfg = key_config("single")
    assert names.job_kms_key(cfg) == cfg.alias_arn("shared_services", cfg.names.kms_key_alias)


def test_across_accounts_the_jobs_use_the_key_arn():
    assert names.job_kms_key(key_config("four", KEY_ARN)) == KEY_ARN


def test_across_accounts_an_empty_key_arn_is_one_config_error():
    cfg = key_config("four")
    with pytest.raises(config.ConfigError) as raised:
        names.job_kms_key(cfg)
    message = str(raised.value)
    assert message.startswith("registry.kms_key_arn is empty")
    assert cfg.names.kms_key_alias in message
    assert f"arn:aws:kms:{cfg.region}:{FOUR_ACCOUNTS['shared_services']}:key/<key id>" in message


@pytest.mark.parametrize(
    "key_arn",
    [
        f"arn:aws:kms:{CFG.region}:{FOUR_ACCOUNTS['data_science']}:key/1234abcd",
        f"arn:aws:kms:{'eu-north-1' if CFG.region != 'eu-north-1' else 'us-east-1'}:"
        f"{FOUR_ACCOUNTS['shared_services']}:key/1234abcd",
    ],
    ids=["other-account", "other-region"],
)
def test_a_key_arn_outside_the_shared_account_and_region_is_refused(key_arn):
    with pytest.raises(config.ConfigError, match="expected the artifact key of the shared-services account"):
        names.job_kms_key(key_config("four", key_arn))


# --- the start token ----------------------------------------------------------------------

TOKEN_ARGS = ("octo/models", "0123456789abcdef0123456789abcdef01234567", "9876543210", "1", "m-feature-x")


def test_the_start_token_is_the_same_for_the_same_run_attempt():
    token = names.start_token(*TOKEN_ARGS)
    assert token == names.start_token(*TOKEN_ARGS)
    assert token == hashlib.sha256(":".join(TOKEN_ARGS).encode()).hexdigest()
    assert 32 <= len(token) <= 128  # StartPipelineExecution's ClientRequestToken length


@pytest.mark.parametrize(
    "position", range(len(TOKEN_ARGS)), ids=["repo", "sha", "run", "attempt", "pipeline"]
)
def test_the_start_token_changes_with_each_part(position):
    changed = list(TOKEN_ARGS)
    changed[position] = "2" if position in (2, 3) else f"{changed[position]}x"
    assert names.start_token(*changed) != names.start_token(*TOKEN_ARGS)


@pytest.mark.parametrize(("run_id", "attempt"), [("42:1", "1"), ("", "1"), ("42", "two")])
def test_a_run_id_or_attempt_that_is_not_digits_is_refused(run_id, attempt):
    with pytest.raises(config.ConfigError, match="expected digits"):
        names.start_token("o/r", "sha", run_id, attempt, "p")
