"""The batch identity's GitHub side: the `batch` environment the batch roles trust (no reviewers,
the prod branch only, so a schedule runs unattended and nothing pushed elsewhere reaches it), its
config key, and the roles' trust (infra/github_settings.py, config/batch.py, workload-deploy.yaml)."""

from __future__ import annotations

import copy

import pytest

from deploy_helpers import make_config, make_raw, module
from test_infra_policies import assert_only, findings_for, statement

config = module("config")
github_settings = module("infra.github_settings")
UsageError = module("infra.errors").UsageError
CFG = make_config("four")


def test_the_batch_environment_admits_the_prod_branch_only_and_has_no_reviewers():
    manifest = github_settings.github_manifest(CFG, [("team", "ml-leads")])
    batch = manifest["environments"][CFG.batch.github_environment]
    assert CFG.batch.github_environment == "batch"
    assert batch["deployment_branches"] == [CFG.branches.prod]
    assert "reviewers" not in batch["settings"] and batch["settings"]["can_admins_bypass"] is False
    assert batch["settings"]["deployment_branch_policy"] == {
        "protected_branches": False,
        "custom_branch_policies": True,
    }


def test_the_batch_environment_must_be_distinct_from_the_others():
    raw = make_raw("four")
    raw["batch"] = {**raw.get("batch", {}), "github_environment": raw["github"]["environments"]["prod"]}
    cfg = config.parse(raw)
    with pytest.raises(
        UsageError, match=r"github\.environments\.prod and batch\.github_environment are both 'prod'"
    ):
        github_settings.github_manifest(cfg, [])


@pytest.mark.parametrize("value", ["", "a b", "prod/$(id)", 7])
def test_a_bad_batch_environment_name_is_one_config_error(value):
    raw = copy.deepcopy(make_raw("four"))
    raw["batch"] = {**raw.get("batch", {}), "github_environment": value}
    with pytest.raises(config.ConfigError, match=r"batch\.github_environment is .*; expected"):
        config.parse(raw)


def test_each_batch_role_trusts_only_the_batch_environment():
    for env in ("qa", "prod"):
        assert findings_for("workload-deploy.yaml", stack_key=f"deploy-{env}", cfg=CFG) == []

    def to_prod(t):
        trust = statement(t, "BatchRole", "GitHubBatchEnvironment", "trust")
        subject = trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        subject["Fn::If"][2] = {"Fn::Sub": "repo:${GitHubOwner}/${GitHubRepo}:environment:prod"}

    assert_only(
        findings_for("workload-deploy.yaml", to_prod, stack_key="deploy-prod", cfg=CFG),
        f"trusts environment 'prod'; role {CFG.role_name('github_batch_prod')} expects only ['batch']",
        "does not trust environment(s) ['batch'] its jobs use",
    )
