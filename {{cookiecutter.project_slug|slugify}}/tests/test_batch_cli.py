"""`batch plan|run` (batch/cli.py) and the version a batch runs (batch/source.py).

Bad input is a usage error (exit 2, one `error:` line) before any AWS call; the workflow's event
becomes checked outputs; a lock that prod does not serve, or a QA result that is not the lock's,
stops the run before any mutating call (Stubber: the exact reads)."""

from __future__ import annotations

import copy
import json

import pytest

from deploy_helpers import make_config, module, package_arn, package_description, stubbed, stubbed_as

cli = module("batch.cli")
source = module("batch.source")
evidence = module("promotion.evidence")
SOURCE_ARN_KEY = module("promotion.version").SOURCE_ARN_KEY
Clients = module("deploy.aws").Clients
DeployError = module("deploy.aws").DeployError
pytestmark = pytest.mark.usefixtures("fake_aws")

CFG = make_config("four")
PREFIX = CFG.batch.environment("prod").input_prefix_uri


class NoAws:
    def client(self, *args, **kwargs):
        raise AssertionError("no AWS call expected")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "s3://elsewhere/x/"], "is not a prefix ending in / under " + PREFIX),
        (["--input", PREFIX + "day.csv"], "is not a prefix ending in /"),
        (["--input", PREFIX + "../../output/prod/"], "is not a prefix ending in /"),
        (["--input", PREFIX + "./2025/"], "is not a prefix ending in /"),
        (["--input", PREFIX + "2025//"], "is not a prefix ending in /"),
        (["--input", PREFIX + "%2e%2e/"], "is not a prefix ending in /"),
        (["--date", "2025-02-30"], "date '2025-02-30' is not a calendar date YYYY-MM-DD"),
        (["--date", "31.01.2025"], "is not a calendar date"),
    ],
)
def test_bad_input_or_date_is_a_usage_error_before_any_aws_call(configure, run_cli, args, message):
    configure(CFG)
    code, out, err = run_cli(cli.main, ["run", "--env", "prod", *args], session=NoAws())
    assert code == 2 and out == ""
    assert err.count("error:") == 1 and message in err


def test_the_schedule_runs_the_configured_source_and_refuses_another_cron():
    values = cli.event_values(CFG, "schedule", {"schedule": "0 5 * * *"})
    assert values["env"] == "prod" and values["input_uri"] == PREFIX
    with pytest.raises(ValueError, match=r"batch\.yml's cron to equal the config"):
        cli.event_values(CFG, "schedule", {"schedule": "0 6 * * *"})


def test_dispatch_inputs_are_checked(configure, run_cli, tmp_path, monkeypatch):
    configure(CFG)
    event = tmp_path / "event.json"
    output = tmp_path / "out"
    output.write_text("")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_dispatch")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    event.write_text(json.dumps({"inputs": {"env": "qa", "input_uri": "", "date": "2025-01-31"}}))
    code, out, _ = run_cli(cli.main, ["plan", "--github-output"])
    qa_prefix = CFG.batch.environment("qa").input_uri
    assert code == 0 and output.read_text() == f"env=qa\ninput_uri={qa_prefix}\ndate=2025-01-31\n"
    for inputs, message in [
        ({"env": "dev"}, "env 'dev' is not a batch environment"),
        ({"env": "prod", "input_uri": "s3://x/$(id)/"}, "is not a prefix ending in / under"),
        ({"env": "prod", "date": "tomorrow"}, "date 'tomorrow' is not a calendar date"),
    ]:
        event.write_text(json.dumps({"inputs": inputs}))
        code, out, err = run_cli(cli.main, ["plan"])
        assert code == 2 and message in err and out == "", inputs


LOCK = {
    "model_package_arn": package_arn(CFG, "dev", 2),
    "artifact": {"uri": "s3://b/k", "version_id": "v1", "sha256": "b" * 64},
    "containers_sha256": "c" * 64,
}


def test_prod_runs_only_the_version_it_serves_when_the_lock_names_its_source(recorder):
    prod_arn = package_arn(CFG, "prod", 7)
    endpoint = CFG.environment("prod").endpoint_name
    session, stubs = stubbed("sagemaker", recorder=recorder)
    sm = stubs["sagemaker"]
    sm.add_response(
        "describe_endpoint",
        {
            "EndpointName": endpoint,
            "EndpointArn": "arn:aws:sagemaker:r:1:endpoint/e",
            "EndpointConfigName": f"{endpoint}-v7-abc",
            "EndpointStatus": "InService",
            "CreationTime": "2025-01-01",
            "LastModifiedTime": "2025-01-01",
        },
    )
    sm.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": f"{endpoint}-v7-abc",
            "EndpointConfigArn": "arn:aws:sagemaker:r:1:endpoint-config/c",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": f"{endpoint}-v7-m"}],
            "CreationTime": "2025-01-01",
        },
    )
    sm.add_response(
        "describe_model",
        {
            "ModelName": f"{endpoint}-v7-m",
            "ModelArn": "arn:aws:sagemaker:r:1:model/m",
            "Containers": [{"ModelPackageName": prod_arn}],
            "CreationTime": "2025-01-01",
        },
    )
    package = package_description(prod_arn, "Approved")
    package["CustomerMetadataProperties"] = {
        SOURCE_ARN_KEY: package_arn(CFG, "dev", 1),  # promoted from another dev version
        "released_at": "2025-01-30T00:00:00Z",
    }
    sm.add_response("describe_model_package", package)
    with pytest.raises(DeployError, match=r"prod serves .*/7, promoted from .*/1, but the lock names .*/2"):
        source.prod_version(CFG, Clients(session, CFG.region), LOCK)
    assert recorder.mutating == []
    sm.assert_no_pending_responses()


def test_qa_runs_only_a_version_whose_recorded_qa_result_is_the_locks(recorder):
    arn = LOCK["model_package_arn"]
    package = package_description(arn, "PendingManualApproval")
    package["CustomerMetadataProperties"] = {
        evidence.QA_RESULT_KEY: "passed",
        evidence.QA_SHA256_KEY: "d" * 64,
    }
    session, stubs = stubbed("sagemaker", recorder=recorder)
    stubs["sagemaker"].add_response("describe_model_package", copy.deepcopy(package))
    with pytest.raises(
        DeployError, match=f"QA recorded artifact sha256 {'d' * 64}, the lock says {'b' * 64}"
    ):
        source.qa_version(CFG, Clients(session, CFG.region), LOCK)
    package["CustomerMetadataProperties"][evidence.QA_RESULT_KEY] = "failed"
    stubs["sagemaker"].add_response("describe_model_package", package)
    with pytest.raises(DeployError, match="QA recorded failed; batch runs only QA-verified versions"):
        source.qa_version(CFG, Clients(session, CFG.region), LOCK)
    assert recorder.mutating == []


def test_a_run_without_a_lock_stops_after_the_account_check(configure, run_cli, recorder):
    configure(CFG)
    session, _ = stubbed_as(CFG, "qa", recorder=recorder)
    code, _, err = run_cli(
        cli.main, ["run", "--env", "qa", "--lock-file", "/nonexistent/lock.json"], session=session
    )
    assert code == 1 and "no lock file" in err
    assert recorder.operations == ["GetCallerIdentity"]
