"""The registry, lock and compare commands (`promotion.cli`, and the same through deploy.cli,
which forwards them): one `error:` line, exit 1 for a failed operation and 2 for a usage error,
key=value results, and the account check before anything else."""

from __future__ import annotations

import json

import pytest

from deploy_helpers import assert_done, make_config, module, package_arn, register_version, stubbed_as

promotion_cli = module("promotion.cli")
deploy_cli = module("deploy.cli")
MAINS = [promotion_cli.main, deploy_cli.main]
IDS = ["promotion.cli", "deploy.cli"]
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.mark.parametrize("main", MAINS, ids=IDS)
def test_lock_verify_fails_with_one_line_on_a_bad_lock(configure, tmp_path, capsys, main):
    cfg = make_config("four")
    configure(cfg)
    (tmp_path / cfg.lock_file).write_text(json.dumps({"model_package_arn": "x"}))
    assert main(["lock", "verify"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / cfg.lock_file}: missing 'version'\n"


def test_github_output_without_the_variable_is_a_usage_error_before_any_call(
    configure, accounts, recorder, run_cli
):
    """Exit 2 (cli_support: a usage error) before any AWS call, so nothing runs whose results
    the job could not record. (Before the CLI contract: the command ran, printed its results
    and exited 1.)"""
    cfg = make_config("four")
    configure(cfg)
    shared = accounts(cfg).session("shared_services")
    register_version(shared, cfg)
    recorder.attach(shared)
    code, out, err = run_cli(promotion_cli.main, ["latest", "--group", "dev", "--github-output"], shared)
    assert (code, out) == (2, "")
    assert err == "error: --github-output given but GITHUB_OUTPUT is not set\n"
    assert recorder.operations == []


@pytest.mark.parametrize("main", MAINS, ids=IDS)
def test_registry_commands_refuse_workload_credentials(configure, accounts, capsys, main):
    cfg = make_config("four")
    configure(cfg)
    qa = accounts(cfg).session("qa")
    assert main(["promote", "--arn", "arn:aws:sagemaker:x"], session=qa) == 1
    assert capsys.readouterr().err == (
        "error: promote must run with credentials for the shared_services account 222222222222, "
        "but the current credentials are for account 333333333333\n"
    )


def test_latest_prints_key_value_lines(configure, accounts, run_cli):
    cfg = make_config("four")
    configure(cfg)
    shared = accounts(cfg).session("shared_services")
    arn = register_version(shared, cfg)
    code, out, err = run_cli(promotion_cli.main, ["latest", "--group", "dev"], shared)
    assert code == 0, err
    assert out == f"arn={arn}\nversion=1\nstatus=PendingManualApproval\n"
    code, out, err = run_cli(promotion_cli.main, ["latest", "--group", "dev", "--status", "Approved"], shared)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == f"error: no Completed version with status Approved in {cfg.group('dev')}"


@pytest.mark.parametrize("main", MAINS, ids=IDS)
def test_stage_command_records_the_life_cycle_stage(configure, recorder, capsys, main):
    cfg = make_config("four")
    configure(cfg)
    arn = package_arn(cfg, "dev", 3)
    session, stubs = stubbed_as(cfg, "shared_services", "sagemaker", recorder=recorder)
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
    assert main(args, session=session) == 0
    assert capsys.readouterr().out.splitlines() == [f"arn={arn}", "stage=QA", "changed=true"]
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage", "UpdateModelPackage"]
    assert_done(stubs)
