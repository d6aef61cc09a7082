"""The whole release path through the CLI the workflows call, on moto, with one simulated
account per role (and with a single account): register -> latest -> digest -> deploy QA ->
record QA -> lock -> lock check -> compare -> approve -> promote -> deploy prod -> released.
Assertions are on the resulting AWS state and on what the commands write to $GITHUB_OUTPUT,
not only on exit codes. Also: the CLI contract
of deploy.cli (exit statuses, one error line, endpoint-test --url) and its boto3-only imports."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from deploy_helpers import (
    PACKAGE,
    REAL_TIME_PROD,
    ROOT,
    SAMPLE_CSV,
    make_config,
    make_raw,
    module,
    package_arn,
    passing_report,
    plan_for,
)
from release_world import GOOD_MODEL, Recorder, World

cli = module("deploy.cli")
promotion_cli = module("promotion.cli")

PROD = REAL_TIME_PROD
SHA = "89abcdef0123456789abcdef0123456789abcdef"
pytestmark = pytest.mark.usefixtures("fake_aws")


class _FailOnUse:
    """A session no command may use (offline commands)."""

    def client(self, *args, **kwargs):
        raise AssertionError("no AWS client may be created")


FAIL_ON_USE = _FailOnUse()


class Runner:
    """Runs a command as the workflows do: everything through deploy.cli (which forwards the
    registry, lock and compare commands), or with `split` each command through its own CLI."""

    def __init__(self, capsys, split=False):
        self.capsys = capsys
        self.split = split

    def main(self, args):
        if self.split and args[0] in promotion_cli.COMMANDS:
            return promotion_cli.main
        return cli.main

    def __call__(self, session, *args, expect=0, registry=None):
        kwargs = {"registry_session": registry} if registry is not None else {}
        code = self.main(args)(list(args), session=session, **kwargs)
        out, err = self.capsys.readouterr()
        assert code == expect, f"{args[0]} exited {code}: {err}"
        return dict(
            line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("|")
        ), err


@pytest.mark.parametrize(
    ("layout", "split"), [("four", False), ("single", False), ("four", True)], ids=["four", "single", "split"]
)
def test_release_path_from_registration_to_prod(
    configure, accounts, tmp_path, monkeypatch, capsys, layout, split
):
    cfg = make_config(layout, prod=PROD)
    configure(cfg)
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    run = Runner(capsys, split)
    aws = accounts(cfg)
    shared, qa, prod = (aws.session(r) for r in ("shared_services", "qa", "prod"))
    world = World(cfg, aws, Recorder())  # the versioned artifact bucket and the groups
    if cfg.single_account:
        run(shared, "ensure-groups")
    world.register(git_sha="1" * 40, metrics={"auc": 0.95})
    dev_arn = world.register(git_sha=SHA, metrics={"auc": 0.97, "accuracy": 0.93})

    latest, _ = run(shared, "latest", "--group", "dev", "--github-output")
    assert latest == {"arn": dev_arn, "version": "2", "status": "PendingManualApproval"}
    artifact = tmp_path / "artifact.json"
    digested, _ = run(shared, "digest", "--arn", dev_arn, "--output", str(artifact))
    assert digested["sha256"] == hashlib.sha256(GOOD_MODEL).hexdigest()
    # The QA session reads the shared package through `shared`: moto has no resource
    # policies (on AWS the dev group's policy lets the QA account describe it).
    deploy_qa = ("deploy", "--env", "qa", "--arn", dev_arn, "--poll-interval", "0", "--github-output")
    run(qa, *deploy_qa, registry=shared)
    qa_plan = plan_for(cfg, "qa", dev_arn)
    qa_sm = qa.client("sagemaker")
    qa_live = qa_sm.describe_endpoint(EndpointName=qa_plan.settings.endpoint_name)
    qa_config = qa_sm.describe_endpoint_config(EndpointConfigName=qa_live["EndpointConfigName"])
    qa_model = qa_sm.describe_model(ModelName=qa_config["ProductionVariants"][0]["ModelName"])
    assert qa_model["Containers"] == world.describe(dev_arn)["InferenceSpecification"]["Containers"]
    qa_tags = {t["Key"]: t["Value"] for t in qa_sm.list_tags(ResourceArn=qa_model["ModelArn"])["Tags"]}
    assert qa_tags["model-package-arn"] == dev_arn

    report = tmp_path / "qa-report.json"
    report.write_text(json.dumps(passing_report(qa_plan.settings.endpoint_name)))
    # Without a QA record there is nothing to lock.
    run(shared, "lock", "write", "--arn", dev_arn, "--qa-report", str(report), expect=1)
    recorded, _ = run(
        shared, "record-qa", "--arn", dev_arn, "--report", str(report), "--artifact", str(artifact)
    )
    assert recorded == {"arn": dev_arn, "qa_result": "passed"}
    run(shared, "lock", "write", "--arn", dev_arn, "--qa-report", str(report))
    lock = json.loads((tmp_path / cfg.lock_file).read_text())
    assert (lock["model_package_arn"], lock["version"], lock["git_sha"]) == (dev_arn, 2, SHA)
    assert lock["metrics"] == {"accuracy": 0.93, "auc": 0.97}
    assert lock["artifact"] == json.loads(artifact.read_text())
    verified, _ = run(None, "lock", "verify", "--github-output")
    assert verified == {"arn": dev_arn, "version": "2", "git_sha": SHA, "sha256": digested["sha256"]}
    pr = ("--pr", "12", "--pr-head", cfg.branches.dev, "--pr-base", cfg.branches.prod)
    pr += ("--pr-head-repository", "acme/model", "--repository", "acme/model")
    checked, _ = run(shared, "lock", "check", *pr)
    assert checked["pull_request"] == "12"

    first = run.main(["compare"])(["compare", "--env", "prod"], session=shared)
    markdown = capsys.readouterr().out
    assert first == 0
    assert "prod champion: none yet" in markdown
    assert "| **auc** (gate) | 0.9700 | n/a | n/a |" in markdown

    run(shared, "approve", "--arn", dev_arn, "--pr", "12", "--commit", SHA, "--actor", "octocat")
    promoted, _ = run(
        shared, "promote", "--arn", dev_arn, "--expect-sha256", digested["sha256"], "--github-output"
    )
    assert promoted["created"] == "true"
    prod_arn = promoted["arn"]
    run(prod, "deploy", "--env", "prod", "--arn", prod_arn, "--poll-interval", "0", registry=shared)
    again, _ = run(shared, "promote", "--arn", dev_arn)
    assert again == {"arn": prod_arn, "version": promoted["version"], "created": "false"}
    # Promoted, deployed, but not yet recorded as released: no champion yet.
    assert run.main(["compare"])(["compare", "--env", "prod"], session=shared) == 0
    assert "prod champion: none yet" in capsys.readouterr().out
    run(shared, "released", "--arn", prod_arn, "--commit", SHA, "--pr", "12")

    assert run.main(["compare"])(["compare", "--env", "prod"], session=shared) == 0
    markdown = capsys.readouterr().out
    assert f"prod champion: `{prod_arn}` (promoted from `{dev_arn}`)" in markdown
    assert "| **auc** (gate) | 0.9700 | 0.9700 | +0.0000 |" in markdown

    registry = shared.client("sagemaker")
    prod_group = cfg.group("prod")
    versions = registry.list_model_packages(ModelPackageGroupName=prod_group)["ModelPackageSummaryList"]
    assert [(v["ModelPackageArn"], v["ModelApprovalStatus"]) for v in versions] == [(prod_arn, "Approved")]
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
    assert f"endpoint_config={qa_live['EndpointConfigName']}" in written
    assert f"arn={prod_arn}" in written and "created=true" in written


@pytest.mark.parametrize("flag", [True, False])
def test_deploy_rollback_on_failure_goes_through_deploy_or_roll_back(
    configure, accounts, monkeypatch, capsys, flag
):
    """The flag the workflows pass selects `rollback.deploy_or_roll_back` (tested in
    test_deploy_autoscaling.py); without it the plain deploy runs."""
    cfg = make_config("four")
    configure(cfg)
    calls = []
    result = module("deploy.deploy").DeployResult("e", "c", "m", None, False, "unchanged")
    monkeypatch.setattr(cli, "prepare", lambda cfg, clients, env, arn: plan_for(cfg, env, arn))
    monkeypatch.setattr(cli, "deploy_or_roll_back", lambda *a: calls.append("deploy_or_roll_back") or result)
    monkeypatch.setattr(cli, "deploy", lambda *a: calls.append("deploy") or result)
    arn = package_arn(cfg, "dev", 3)
    args = ["deploy", "--env", "qa", "--arn", arn, *(["--rollback-on-failure"] if flag else [])]
    assert cli.main(args, session=accounts(cfg).session("qa")) == 0, capsys.readouterr().err
    assert calls == ["deploy_or_roll_back" if flag else "deploy"]


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["deploy", "--env", "staging", "--arn", "x"])
    assert caught.value.code == 2
    assert "invalid choice: 'staging'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["endpoint-test", "--env", "qa", "--url", "http://127.0.0.1:9"], "not allowed with argument"),
        (["endpoint-test", "--url", "http://127.0.0.1:9", "--rollback-on-failure"], "needs --env"),
        (["endpoint-test", "--env", "qa", "--rows", "0"], "'0' must be 1 or more"),
        (["deploy", "--env", "qa", "--arn", "x", "--timeout", "-1"], "must be 0 seconds or more"),
    ],
    ids=["url and env", "url with rollback", "rows", "negative timeout"],
)
def test_option_errors_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as caught:
        cli.main(args)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("main", [cli.main, promotion_cli.main], ids=["deploy.cli", "promotion.cli"])
def test_a_config_error_exits_2_with_one_line(configure, run_cli, main):
    raw = make_raw("four")
    raw["aws"]["region"] = "mars-1"
    configure(raw)
    args = ["deploy", "--env", "qa", "--arn", "x"] if main is cli.main else ["lock", "verify"]
    code, out, err = run_cli(main, args, session=FAIL_ON_USE)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1
    assert 'aws.region is "mars-1"; expected an AWS region name' in err


def test_endpoint_test_url_runs_the_suite_locally_without_aws(configure, run_cli, tmp_path):
    """--url tests a local server with the local thresholds and no AWS client: a server that
    is not listening fails the checks (exit 1, one error line naming the URL)."""
    configure(make_config("four"))
    url = "http://127.0.0.1:9"
    report = tmp_path / "report.json"
    args = [
        "endpoint-test",
        "--url",
        url,
        "--samples",
        str(SAMPLE_CSV),
        "--rows",
        "2",
        "--report",
        str(report),
    ]
    code, out, err = run_cli(cli.main, args, FAIL_ON_USE)
    assert code == 1
    assert "passed=false" in out.splitlines()
    assert json.loads(report.read_text())["passed"] is False
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: endpoint tests failed against {url}: ")


def test_the_deploy_commands_need_nothing_beyond_boto3():
    """The deploy and release jobs install requirements/deploy.txt (boto3) only; the endpoint test
    suite is imported only when endpoint-test runs."""
    code = f"""
import importlib, sys
HEAVY = ('sagemaker', 'pandas', 'numpy', 'sklearn', 'xgboost', 'joblib', 'scipy', 'moto')
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError("deploy code imported " + name)
sys.meta_path.insert(0, Block())
for name in ("aws", "endpoint", "update_policy", "deploy", "state", "scaling", "rollback", "artifact", "cli"):
    importlib.import_module("{PACKAGE}.deploy." + name)
for name in ("cli", "cli_support", "access", "config"):
    importlib.import_module("{PACKAGE}." + name)
for name in (
    "version", "metadata", "groups", "lifecycle", "evidence", "promote", "lockfile", "release",
    "compare", "cli_release", "cli",
):
    importlib.import_module("{PACKAGE}.promotion." + name)
lazy = sorted(name for name in sys.modules if name.startswith("{PACKAGE}.endpoint_tests"))
assert not lazy, "imported before endpoint-test runs: " + ", ".join(lazy)
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
        "digest",
        "record-qa",
        "released",
        "reject",
        "deploy",
        "rollback",
        "endpoint-test",
    ):
        assert command in result.stdout
