"""The whole release path through the CLI the workflows call, on moto, with one simulated
account per role (and with a single account): register -> latest -> deploy QA -> lock ->
compare -> approve -> promote -> deploy prod. Assertions are on the resulting AWS state and
on what the commands write to $GITHUB_OUTPUT, not only on exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from moto import mock_aws

from deploy_helpers import (
    INFERENCE_SPEC,
    PACKAGE,
    REAL_TIME_PROD,
    ROOT,
    Accounts,
    Recorder,
    create_groups,
    fake_aws_env,
    make_config,
    module,
    package_arn,
    passing_report,
    plan_for,
    register_version,
    stubbed,
    write_config,
)

cli = module("deploy.cli")

PROD = REAL_TIME_PROD
SHA = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch):
    fake_aws_env(monkeypatch)


class Runner:
    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, session, *args, expect=0, registry=None):
        code = cli.main(list(args), session=session, registry_session=registry)
        out, err = self.capsys.readouterr()
        assert code == expect, f"{args[0]} exited {code}: {err}"
        return dict(
            line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("|")
        ), err


@pytest.mark.parametrize("layout", ["four", "single"])
def test_release_path_from_registration_to_prod(tmp_path, monkeypatch, capsys, layout):
    cfg = make_config(layout, prod=PROD)
    write_config(cfg, tmp_path, monkeypatch)
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    run = Runner(capsys)
    with mock_aws():
        accounts = Accounts(cfg)
        shared, qa, prod = (accounts.session(r) for r in ("shared_services", "qa", "prod"))
        if cfg.single_account:
            run(shared, "ensure-groups")
        else:
            create_groups(shared, cfg)  # moto lacks the group-policy calls ensure-groups makes
        register_version(shared, cfg, git_sha="1" * 40, metrics={"auc": 0.95})
        dev_arn = register_version(shared, cfg, git_sha=SHA, metrics={"auc": 0.97, "accuracy": 0.93})

        latest, _ = run(shared, "latest", "--group", "dev", "--github-output")
        assert latest == {"arn": dev_arn, "version": "2", "status": "PendingManualApproval"}
        # The QA session reads the shared package through `shared`: moto has no resource
        # policies (on AWS the dev group's policy lets the QA account describe it).
        deploy_qa = ("deploy", "--env", "qa", "--arn", dev_arn, "--poll-interval", "0", "--github-output")
        run(qa, *deploy_qa, registry=shared)
        qa_plan = plan_for(cfg, "qa", dev_arn)
        qa_sm = qa.client("sagemaker")
        qa_live = qa_sm.describe_endpoint(EndpointName=qa_plan.settings.endpoint_name)
        assert qa_live["EndpointConfigName"] == qa_plan.config_name
        qa_model = qa_sm.describe_model(ModelName=qa_plan.model_name)
        assert qa_model["Containers"] == INFERENCE_SPEC["Containers"]
        qa_tags = {t["Key"]: t["Value"] for t in qa_sm.list_tags(ResourceArn=qa_model["ModelArn"])["Tags"]}
        assert qa_tags["model-package-arn"] == dev_arn

        report = tmp_path / "qa-report.json"
        report.write_text(json.dumps(passing_report(qa_plan.settings.endpoint_name)))
        run(shared, "lock", "write", "--arn", dev_arn, "--qa-report", str(report))
        lock = json.loads((tmp_path / cfg.lock_file).read_text())
        assert (lock["model_package_arn"], lock["version"], lock["git_sha"]) == (dev_arn, 2, SHA)
        assert lock["metrics"] == {"accuracy": 0.93, "auc": 0.97}
        verified, _ = run(None, "lock", "verify", "--github-output")
        assert verified == {"arn": dev_arn, "version": "2", "git_sha": SHA}

        first = cli.main(["compare", "--env", "prod"], session=shared)
        markdown = capsys.readouterr().out
        assert first == 0
        assert "prod champion: none yet" in markdown
        assert "| **auc** (gate) | 0.9700 | n/a | n/a |" in markdown

        run(shared, "approve", "--arn", dev_arn, "--pr", "12", "--commit", SHA, "--actor", "octocat")
        promoted, _ = run(shared, "promote", "--arn", dev_arn, "--github-output")
        assert promoted["created"] == "true"
        prod_arn = promoted["arn"]
        run(prod, "deploy", "--env", "prod", "--arn", prod_arn, "--poll-interval", "0", registry=shared)
        again, _ = run(shared, "promote", "--arn", dev_arn)
        assert again == {"arn": prod_arn, "version": promoted["version"], "created": "false"}

        assert cli.main(["compare", "--env", "prod"], session=shared) == 0
        markdown = capsys.readouterr().out
        assert f"prod champion: `{prod_arn}` (promoted from `{dev_arn}`)" in markdown
        assert "| **auc** (gate) | 0.9700 | 0.9700 | +0.0000 |" in markdown

        registry = shared.client("sagemaker")
        prod_group = cfg.group("prod")
        versions = registry.list_model_packages(ModelPackageGroupName=prod_group)["ModelPackageSummaryList"]
        assert [(v["ModelPackageArn"], v["ModelApprovalStatus"]) for v in versions] == [
            (prod_arn, "Approved")
        ]
        source = registry.describe_model_package(ModelPackageName=dev_arn)
        assert source["ApprovalDescription"] == f"Approved by octocat in pull request #12 at commit {SHA}"
        prod_plan = plan_for(cfg, "prod", prod_arn)
        prod_sm = prod.client("sagemaker")
        prod_live = prod_sm.describe_endpoint(EndpointName=prod_plan.settings.endpoint_name)
        assert prod_live["EndpointConfigName"] == prod_plan.config_name
        assert prod_live["EndpointArn"].split(":")[4] == cfg.account_id("prod")
        model = prod_sm.describe_model(ModelName=prod_plan.model_name)
        assert model["Containers"] == [{"ModelPackageName": prod_arn}]

    written = outputs.read_text().splitlines()
    assert f"arn={dev_arn}" in written
    assert f"endpoint_config={qa_plan.config_name}" in written
    assert f"arn={prod_arn}" in written and "created=true" in written


def test_lock_verify_fails_with_one_line_on_a_bad_lock(tmp_path, monkeypatch, capsys):
    cfg = make_config("four")
    write_config(cfg, tmp_path, monkeypatch)
    (tmp_path / cfg.lock_file).write_text(json.dumps({"model_package_arn": "x"}))
    assert cli.main(["lock", "verify"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / cfg.lock_file}: missing 'version'\n"


def test_github_output_without_the_variable_fails(tmp_path, monkeypatch, capsys):
    cfg = make_config("four")
    write_config(cfg, tmp_path, monkeypatch)
    with mock_aws():
        shared = Accounts(cfg).session("shared_services")
        arn = register_version(shared, cfg)
        assert cli.main(["latest", "--group", "dev", "--github-output"], session=shared) == 1
    out, err = capsys.readouterr()
    assert out == f"arn={arn}\nversion=1\nstatus=PendingManualApproval\n"
    assert err == "error: --github-output given but GITHUB_OUTPUT is not set\n"


def test_registry_commands_refuse_workload_credentials(tmp_path, monkeypatch, capsys):
    cfg = make_config("four")
    write_config(cfg, tmp_path, monkeypatch)
    with mock_aws():
        qa = Accounts(cfg).session("qa")
        assert cli.main(["promote", "--arn", "arn:aws:sagemaker:x"], session=qa) == 1
    assert capsys.readouterr().err == (
        "error: promote must run with credentials for the shared_services account 222222222222, "
        "but the current credentials are for account 333333333333\n"
    )


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["deploy", "--env", "staging", "--arn", "x"])
    assert caught.value.code == 2
    assert "invalid choice: 'staging'" in capsys.readouterr().err


def test_the_deploy_commands_need_nothing_beyond_boto3():
    """The deploy and release jobs install requirements/deploy.txt (boto3) only."""
    code = f"""
import importlib, sys
HEAVY = ('sagemaker', 'pandas', 'numpy', 'sklearn', 'xgboost', 'joblib', 'scipy', 'moto')
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError("deploy code imported " + name)
sys.meta_path.insert(0, Block())
for name in ("aws", "registry", "lockfile", "endpoint", "deploy", "rollback", "compare", "cli"):
    importlib.import_module("{PACKAGE}.deploy." + name)
sys.argv = ["cli", "--help"]
importlib.import_module("{PACKAGE}.deploy.cli").main()
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in (
        "ensure-groups",
        "latest",
        "approve",
        "stage",
        "promote",
        "deploy",
        "rollback",
        "endpoint-test",
    ):
        assert command in result.stdout


def test_stage_command_records_the_life_cycle_stage(tmp_path, monkeypatch, capsys):
    cfg = make_config("four")
    write_config(cfg, tmp_path, monkeypatch)
    arn = package_arn(cfg, "dev", 3)
    recorder = Recorder()
    session, stubs = stubbed("sts", "sagemaker", recorder=recorder)
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": "222222222222", "Arn": "arn:aws:sts::1:assumed-role/x/y", "UserId": "x"},
    )
    stubs["sagemaker"].add_response(
        "describe_model_package",
        {
            "ModelPackageName": "x",
            "ModelPackageArn": arn,
            "CreationTime": 0,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "ModelLifeCycle": {"Stage": "Development", "StageStatus": "Approved"},
        },
    )
    lifecycle = {"Stage": "QA", "StageStatus": "Approved", "StageDescription": "verified by endpoint tests"}
    stubs["sagemaker"].add_response(
        "update_model_package",
        {"ModelPackageArn": arn},
        {"ModelPackageArn": arn, "ModelLifeCycle": lifecycle},
    )
    args = ["stage", "--arn", arn, "--stage", "qa", "--description", "verified by endpoint tests"]
    assert cli.main(args, session=session) == 0
    assert capsys.readouterr().out.splitlines() == [f"arn={arn}", "stage=QA", "changed=true"]
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage", "UpdateModelPackage"]
    for stub in stubs.values():
        stub.assert_no_pending_responses()
