"""The shadow phase's endpoint steps against botocore's Stubber (moto has no UpdateEndpoint nor
shadow variants): start, promote and abort, each fresh, repeated (no mutating call) and resumed
from the state a crashed run left on the endpoint's tags, and refused in a state it does not
expect. Each asserts the exact operation sequence; the Recorder checks every request against
botocore's service model."""

from __future__ import annotations

import pytest

from deploy_helpers import REGION, assert_done, module, not_found, package_arn
from deploy_scenarios import QA_SERVERLESS, config_response
from shadow_helpers import (
    STARTED_TEXT,
    World,
    raw_config,
    run,
    shadow_config_response,
    stub_add_tags,
    stub_autoscaling_in_place,
    stub_config,
    stub_endpoint,
    stub_model_exists,
    stub_state,
    tags,
    world,
)

pytestmark = pytest.mark.usefixtures("fake_aws")
update_policy = module("deploy.update_policy")

CHECKED = ["GetCallerIdentity", "DescribeModelPackage", "GetObject"]  # the candidate and its artifact
SOME_ARN = f"arn:aws:sagemaker:{REGION}:444444444444:endpoint-config/x"


def expected_shadow_request(w: World) -> dict:
    """The CreateEndpointConfig body, written out: champion as it ran, candidate as a 20% shadow
    on one instance (ceil(2 * 20%)), capture of every request of both."""
    env = w.cfg.environment("prod")
    return {
        "EndpointConfigName": w.shadow_config,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": w.old.model_name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
                "InitialVariantWeight": 1.0,
            }
        ],
        "ShadowProductionVariants": [
            {
                "VariantName": "Shadow",
                "ModelName": w.new.model_name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 0.2,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": env.capture_uri,
            "KmsKeyId": env.capture_key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            },
        },
        "Tags": w.new.config_request["Tags"],
    }


def stub_shadow_update(w: World) -> None:
    w.sm.add_response(
        "update_endpoint",
        {"EndpointArn": w.endpoint_arn},
        {"EndpointName": w.cfg.environment("prod").endpoint_name, "EndpointConfigName": w.shadow_config},
    )


def outputs(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


# ------------------------------------------------------------------------------------------ start


def test_start_deploys_the_candidate_as_shadow_next_to_the_champion(
    configure, recorder, run_cli, monkeypatch
):
    w = world(configure, recorder)
    stub_state(w, w.old.config_name, [])
    stub_config(w, w.old.config_name, config_response(w.old))
    not_found(w.sm, "describe_model", "model")
    w.sm.add_response(
        "create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:1:model/x"}, w.new.model_request
    )
    stub_config(w, w.shadow_config, None)
    w.sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN}, expected_shadow_request(w))
    stub_add_tags(
        w,
        **{
            "shadow-candidate": w.arn,
            "shadow-champion-config": w.old.config_name,
            "shadow-config": w.shadow_config,
            "shadow-phase": "starting",
            "previous-endpoint-config": w.old.config_name,
        },
    )
    stub_shadow_update(w)
    stub_endpoint(w, w.shadow_config, "Updating")
    stub_endpoint(w, w.shadow_config)
    stub_add_tags(w, **{"shadow-phase": "shadowing", "shadow-started-at": STARTED_TEXT})

    code, out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)

    assert code == 0, err
    assert_done(w.stubs)
    recorder.assert_valid()
    assert recorder.operations == [
        *CHECKED,
        "DescribeEndpoint",
        "ListTags",
        "DescribeEndpointConfig",
        "DescribeModel",
        "CreateModel",
        "DescribeEndpointConfig",
        "CreateEndpointConfig",
        "AddTags",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeEndpoint",
        "AddTags",
    ]
    assert outputs(out) | {"reason": ""} == {
        "phase": "shadowing",
        "endpoint_config": w.shadow_config,
        "changed": "true",
        "mode": "shadow",
        "reason": "",
    }


def test_a_repeated_start_makes_no_mutating_call(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder)
    stub_state(w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name))
    code, out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.operations == [*CHECKED, "DescribeEndpoint", "ListTags"]
    assert recorder.mutating == []
    assert outputs(out)["mode"] == "shadow" and outputs(out)["changed"] == "false"


def test_start_resumes_after_a_crash_before_the_update(configure, recorder, run_cli, monkeypatch):
    """The tags say `starting` and the endpoint still runs the champion: the recorded configs are
    reused (nothing created again, the tags not rewritten) and the update is made."""
    w = world(configure, recorder)
    stub_state(
        w, w.old.config_name, tags(w, "starting", previous=w.old.config_name, **{"shadow-started-at": ""})
    )
    stub_config(w, w.old.config_name, config_response(w.old))
    stub_model_exists(w)
    stub_config(w, w.shadow_config, shadow_config_response(w))
    stub_shadow_update(w)
    stub_endpoint(w, w.shadow_config)
    stub_add_tags(w, **{"shadow-phase": "shadowing", "shadow-started-at": STARTED_TEXT})
    code, _out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.mutating == ["UpdateEndpoint", "AddTags"]


def test_start_resumes_after_a_crash_after_the_update(configure, recorder, run_cli, monkeypatch):
    """The tags say `starting` and the endpoint already runs the shadow config: no second update;
    the champion config stays the recorded one (not what the endpoint runs now)."""
    w = world(configure, recorder)
    stub_state(
        w, w.shadow_config, tags(w, "starting", previous=w.old.config_name, **{"shadow-started-at": ""})
    )
    stub_config(w, w.old.config_name, config_response(w.old))
    stub_model_exists(w)
    stub_config(w, w.shadow_config, shadow_config_response(w))
    stub_endpoint(w, w.shadow_config)
    stub_add_tags(w, **{"shadow-phase": "shadowing", "shadow-started-at": STARTED_TEXT})
    code, _out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.mutating == ["AddTags"]


def test_start_refuses_while_another_candidates_shadow_phase_is_open(
    configure, recorder, run_cli, monkeypatch
):
    w = world(configure, recorder)
    other = package_arn(w.cfg, "prod", 3)
    stub_state(
        w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name, **{"shadow-candidate": other})
    )
    code, _out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 1
    assert (
        err.count("error:") == 1
        and f"shadow phase of {other} (shadowing)" in err
        and "promote or abort" in err
    )
    assert recorder.mutating == []


def test_start_says_direct_when_the_shadow_phase_is_off(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False, enabled=False)
    code, out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 0, err
    assert recorder.operations == ["GetCallerIdentity"]
    assert outputs(out)["mode"] == "direct"


def test_start_refuses_a_serverless_prod_endpoint_before_any_call(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    raw = raw_config()
    raw["environments"]["prod"]["endpoint"].update(QA_SERVERLESS)
    raw.setdefault("monitoring", {})["environments"] = []  # nothing to monitor without capture
    configure(raw)
    code, _, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 2
    assert err.count("error:") == 1 and "expected a real-time prod endpoint" in err
    assert recorder.calls == []


def test_start_says_direct_on_the_first_release(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder)
    not_found(w.sm, "describe_endpoint", "endpoint")
    code, out, err = run(w, run_cli, "start", monkeypatch=monkeypatch)
    assert code == 0, err
    assert recorder.operations == [*CHECKED, "DescribeEndpoint"]
    assert outputs(out)["mode"] == "direct" and "first release" in outputs(out)["reason"]


# ---------------------------------------------------------------------------------------- promote


def stub_promote_update(w: World) -> None:
    stub_config(w, w.shadow_config, shadow_config_response(w))  # the running config's instance types
    w.sm.add_response(
        "update_endpoint",
        {"EndpointArn": w.endpoint_arn},
        {
            "EndpointName": w.cfg.environment("prod").endpoint_name,
            "EndpointConfigName": w.new.config_name,
            "DeploymentConfig": w.new.deployment_config,
        },
    )
    stub_endpoint(w, w.new.config_name)


def stub_cleanup(w: World) -> None:
    configs = [w.new.config_name, w.shadow_config, w.old.config_name]
    w.sm.add_response(
        "list_endpoint_configs",
        {
            "EndpointConfigs": [
                {"EndpointConfigName": n, "EndpointConfigArn": SOME_ARN, "CreationTime": 0} for n in configs
            ]
        },
    )


def test_promote_makes_the_candidate_the_production_variant_blue_green(
    configure, recorder, run_cli, monkeypatch
):
    w = world(configure, recorder)
    stub_state(w, w.shadow_config, tags(w, "passed", previous=w.old.config_name))
    stub_model_exists(w)
    stub_config(w, w.new.config_name, None)
    w.sm.add_response("create_endpoint_config", {"EndpointConfigArn": SOME_ARN}, w.new.config_request)
    w.stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": w.new.alarms})
    stub_promote_update(w)
    stub_autoscaling_in_place(w)
    stub_add_tags(w, **{"shadow-phase": "promoted"})
    stub_cleanup(w)

    code, out, err = run(w, run_cli, "promote", monkeypatch=monkeypatch)

    assert code == 0, err
    assert_done(w.stubs)
    recorder.assert_valid()
    assert recorder.operations == [
        *CHECKED,
        "DescribeEndpoint",
        "ListTags",
        "DescribeModel",
        "DescribeEndpointConfig",
        "CreateEndpointConfig",
        "DescribeAlarms",
        "DescribeEndpointConfig",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "AddTags",
        "ListEndpointConfigs",
    ]
    # The previous-endpoint-config tag is left on the champion: a rollback returns there.
    assert recorder.mutating == ["CreateEndpointConfig", "UpdateEndpoint", "AddTags"]
    assert outputs(out)["phase"] == "promoted"


def test_a_repeated_promote_makes_no_mutating_call(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder)
    stub_state(w, w.new.config_name, tags(w, "promoted", previous=w.old.config_name))
    w.stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": w.new.alarms})
    stub_autoscaling_in_place(w)
    code, out, err = run(w, run_cli, "promote", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.mutating == []
    assert outputs(out)["changed"] == "false"


def test_promote_resumes_after_a_crash_after_the_update(configure, recorder, run_cli, monkeypatch):
    """Phase still `passed`, the endpoint already on the candidate's config: no second update."""
    w = world(configure, recorder)
    stub_state(w, w.new.config_name, tags(w, "passed", previous=w.old.config_name))
    stub_model_exists(w)
    stub_config(w, w.new.config_name, config_response(w.new))
    w.stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": w.new.alarms})
    stub_autoscaling_in_place(w)
    stub_add_tags(w, **{"shadow-phase": "promoted"})
    stub_cleanup(w)
    code, _out, err = run(w, run_cli, "promote", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.mutating == ["AddTags"]


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ("shadowing", "has no decision yet: run `shadow compare` first"),
        ("failed", "failed its comparison: abort it"),
        ("starting", "did not start completely"),
    ],
)
def test_promote_is_refused_without_a_passed_comparison(
    configure, recorder, run_cli, monkeypatch, phase, message
):
    w = world(configure, recorder)
    stub_state(w, w.shadow_config, tags(w, phase, previous=w.old.config_name))
    code, _out, err = run(w, run_cli, "promote", monkeypatch=monkeypatch)
    assert code == 1
    assert err.count("error:") == 1 and message in err
    assert recorder.mutating == []


def test_promote_is_refused_when_the_rollback_target_is_not_the_champion(
    configure, recorder, run_cli, monkeypatch
):
    w = world(configure, recorder)
    stub_state(w, w.shadow_config, tags(w, "passed", previous="someone-elses-config"))
    code, _out, err = run(w, run_cli, "promote", monkeypatch=monkeypatch)
    assert code == 1 and "would roll back to someone-elses-config" in err
    assert recorder.mutating == []


# ------------------------------------------------------------------------------------------ abort


def stub_rollback_reads(w: World, running: str, found: list) -> None:
    stub_state(w, running, found)  # rollback describes the endpoint and reads its tags itself


def test_abort_returns_the_endpoint_to_the_champion_alone(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    found = tags(w, "failed", previous=w.old.config_name)
    stub_state(w, w.shadow_config, found)
    stub_rollback_reads(w, w.shadow_config, found)
    stub_config(w, w.old.config_name, config_response(w.old))
    stub_config(w, w.shadow_config, shadow_config_response(w))
    w.sm.add_response(
        "update_endpoint",
        {"EndpointArn": w.endpoint_arn},
        {
            "EndpointName": w.cfg.environment("prod").endpoint_name,
            "EndpointConfigName": w.old.config_name,
            "DeploymentConfig": update_policy.rollback_deployment_config(w.new.settings),
        },
    )
    stub_endpoint(w, w.old.config_name)
    stub_autoscaling_in_place(w)
    stub_add_tags(w, **{"shadow-phase": "aborted"})

    code, out, err = run(w, run_cli, "abort", monkeypatch=monkeypatch)

    assert code == 0, err
    assert_done(w.stubs)
    recorder.assert_valid()
    assert recorder.operations == [
        "GetCallerIdentity",
        "DescribeEndpoint",
        "ListTags",
        "DescribeEndpoint",
        "ListTags",
        "DescribeEndpointConfig",
        "DescribeEndpointConfig",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "AddTags",
    ]
    assert recorder.mutating == ["UpdateEndpoint", "AddTags"]
    assert outputs(out) == {"phase": "aborted", "endpoint_config": w.old.config_name, "changed": "true"}


def test_a_repeated_abort_makes_no_mutating_call(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    stub_state(w, w.old.config_name, tags(w, "aborted", previous=w.old.config_name))
    code, out, err = run(w, run_cli, "abort", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.operations == ["GetCallerIdentity", "DescribeEndpoint", "ListTags"]
    assert outputs(out)["changed"] == "false"


def test_abort_resumes_after_a_crash_after_the_rollback(configure, recorder, run_cli, monkeypatch):
    """Phase still `failed`, the endpoint already on the champion: no update, the phase recorded."""
    w = world(configure, recorder, checked=False)
    found = tags(w, "failed", previous=w.old.config_name)
    stub_state(w, w.old.config_name, found)
    stub_rollback_reads(w, w.old.config_name, found)
    stub_config(w, w.old.config_name, config_response(w.old))
    stub_autoscaling_in_place(w)
    stub_add_tags(w, **{"shadow-phase": "aborted"})
    code, _out, err = run(w, run_cli, "abort", monkeypatch=monkeypatch)
    assert code == 0, err
    assert_done(w.stubs)
    assert recorder.mutating == ["AddTags"]


def test_abort_refuses_an_endpoint_changed_outside_the_shadow_phase(
    configure, recorder, run_cli, monkeypatch
):
    w = world(configure, recorder, checked=False)
    stranger = w.cfg.environment("prod").endpoint_name + "-v9-deadbeef"
    stub_state(w, stranger, tags(w, "shadowing", previous=w.old.config_name))
    code, _out, err = run(w, run_cli, "abort", monkeypatch=monkeypatch)
    assert code == 1
    assert err.count("error:") == 1 and f"runs {stranger}" in err and "changed the endpoint" in err
    assert recorder.mutating == []


def test_abort_refuses_another_candidates_shadow_phase(configure, recorder, run_cli, monkeypatch):
    w = world(configure, recorder, checked=False)
    other = package_arn(w.cfg, "prod", 3)
    stub_state(
        w, w.shadow_config, tags(w, "shadowing", previous=w.old.config_name, **{"shadow-candidate": other})
    )
    code, _out, err = run(w, run_cli, "abort", monkeypatch=monkeypatch)
    assert code == 1 and f"not one of {w.arn}" in err
    assert recorder.mutating == []


def test_the_project_command_line_runs_shadow_under_the_usage_contract(capsys):
    cli = module("cli")
    assert "shadow" in cli.usage("x")
    assert cli.main(["shadow", "compare", "--report", "r.json"]) == 2  # --arn is required
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "--arn" in err
    assert cli.main(["shadow", "promote", "--arn", "x", "--timeout", "-1"]) == 2
    assert "must be 0 seconds or more" in capsys.readouterr().err
