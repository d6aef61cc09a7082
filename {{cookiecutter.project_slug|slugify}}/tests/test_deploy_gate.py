"""The registry gate: only Approved, Completed versions of the prod group reach prod.

Each refusal is one `error:` line and exit 1, after GetCallerIdentity and at most one
DescribeModelPackage, and no mutating call is made (Stubber; the last case on moto).
"""

from __future__ import annotations

import pytest

from deploy_helpers import (
    assert_done,
    module,
    not_found,
    package_arn,
    package_description,
    register_version,
    stubbed_as,
)
from deploy_scenarios import NEW_VERSION, SHARED, config_for

cli = module("deploy.cli")
pytestmark = pytest.mark.usefixtures("fake_aws")


GATE_CASES = {
    "pending approval": (
        lambda cfg, arn: package_description(arn, "PendingManualApproval"),
        "model package {arn} is PendingManualApproval; prod deploys only Approved versions of "
        "{prod_group} in the shared-services registry 222222222222",
    ),
    "rejected": (
        lambda cfg, arn: package_description(arn, "Rejected"),
        "model package {arn} is Rejected; prod deploys only Approved versions of {prod_group}",
    ),
    "described in another group": (
        lambda cfg, arn: package_description(arn, "Approved", group=cfg.group("dev")),
        "model package {arn} belongs to group {dev_group}, expected the prod group {prod_group}",
    ),
    "still registering": (
        lambda cfg, arn: package_description(arn, "Approved", status="InProgress"),
        "model package {arn} is InProgress, not Completed; it cannot be deployed",
    ),
    "another package answered": (
        lambda cfg, arn: package_description(arn[:-1] + "6", "Approved"),
        "the registry answered with {other} when asked for model package {arn}",
    ),
    "missing": (None, "model package {arn} does not exist in the registry"),
}


@pytest.mark.parametrize("case", sorted(GATE_CASES))
def test_prod_refuses_a_version_the_registry_gate_does_not_pass(configure, recorder, run_cli, case):
    """Each refusal is one error line after GetCallerIdentity and DescribeModelPackage, and no
    mutating call is made."""
    cfg = config_for("four")
    configure(cfg)
    arn = package_arn(cfg, "prod", NEW_VERSION)
    describe, message = GATE_CASES[case]
    session, stubs = stubbed_as(cfg, "prod", "sagemaker", recorder=recorder)
    if describe is None:
        not_found(stubs["sagemaker"], "describe_model_package", "model package")
    else:
        stubs["sagemaker"].add_response(
            "describe_model_package", describe(cfg, arn), {"ModelPackageName": arn}
        )
    code, out, err = run_cli(cli.main, ["deploy", "--env", "prod", "--arn", arn], session)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage"]
    assert recorder.mutating == []
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    expected = message.format(
        arn=arn, other=arn[:-1] + "6", prod_group=cfg.group("prod"), dev_group=cfg.group("dev")
    )
    assert len(errors) == 1 and errors[0].startswith(f"error: {expected}")


@pytest.mark.parametrize(
    ("arn_of", "message"),
    [
        (
            lambda cfg: package_arn(cfg, "dev", 5),
            "is in group {dev_group}, expected the prod group {prod_group}",
        ),
        (
            lambda cfg: package_arn(cfg, "prod", 5).replace(f":{SHARED}:", ":444444444444:"),
            "is in account 444444444444, not the shared-services registry 222222222222",
        ),
    ],
    ids=["dev group", "prod account"],
)
def test_prod_refuses_an_arn_outside_the_prod_group_before_reading_it(
    configure, recorder, run_cli, arn_of, message
):
    cfg = config_for("four")
    configure(cfg)
    arn = arn_of(cfg)
    session, _ = stubbed_as(cfg, "prod", "sagemaker", recorder=recorder)
    code, _, err = run_cli(cli.main, ["deploy", "--env", "prod", "--arn", arn], session)
    assert code == 1
    assert recorder.operations == ["GetCallerIdentity"]
    expected = message.format(prod_group=cfg.group("prod"), dev_group=cfg.group("dev"))
    assert err == f"error: model package {arn} {expected}\n"


@pytest.mark.parametrize("layout", ["four", "single"])
def test_a_pending_or_dev_version_never_reaches_prod_on_moto(configure, accounts, recorder, run_cli, layout):
    """A version registered straight into the prod group without approval, and an Approved
    dev version, are both refused; the prod account is left without model, config or endpoint."""
    cfg = config_for(layout)
    configure(cfg)
    aws = accounts(cfg)
    shared = aws.session("shared_services")
    pending = register_version(shared, cfg, kind="prod", status="PendingManualApproval")
    approved_dev = register_version(shared, cfg, kind="dev", status="Approved")
    prod = recorder.attach(aws.session("prod"))
    registry = recorder.attach(aws.session("shared_services"))
    code, _, err = run_cli(cli.main, ["deploy", "--env", "prod", "--arn", pending], prod, registry)
    assert code == 1
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage"]
    assert err.strip().splitlines()[-1] == (
        f"error: model package {pending} is PendingManualApproval; prod deploys only Approved "
        f"versions of {cfg.group('prod')} in the shared-services registry "
        f"{cfg.account_id('shared_services')}"
    )
    recorder.clear()
    code, _, err = run_cli(cli.main, ["deploy", "--env", "prod", "--arn", approved_dev], prod, registry)
    assert code == 1
    assert recorder.operations == ["GetCallerIdentity"]
    assert f"is in group {cfg.group('dev')}, expected the prod group" in err
    sm = prod.client("sagemaker")
    assert sm.list_models()["Models"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_endpoints()["Endpoints"] == []
