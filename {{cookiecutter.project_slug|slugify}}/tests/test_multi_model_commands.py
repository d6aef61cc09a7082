"""The commands around a multi-model endpoint (Stubber): a single-version deploy refuses one
segment's version once model.segments is off, the endpoint test report names each segment's
routed package, a failing QA endpoint test with `--rollback-on-failure` rolls back even when a
segment has no route, `routes` runs through the project's main command line, and a multi-model
environment under Model Monitor is refused by the config."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from deploy_helpers import REAL_TIME_PROD, SAMPLE_CSV, assert_done, endpoint_response, make_raw, module
from multi_model_helpers import (
    SEGMENTS,
    endpoint_arn,
    plan_of,
    route_tags,
    segmented_config,
    segmented_raw,
    session_for,
    set_description,
    stub_tags,
    target_of,
    two_versions,
)

config = module("config")
deploy_cli = module("deploy.cli")
pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.mark.parametrize("env", ["qa", "prod"])
def test_a_single_version_deploy_refuses_one_segments_version_when_segments_are_off(
    configure, recorder, run_cli, env
):
    """A version a segmented run registered for one segment was trained and tested on that
    segment's rows only; with model.segments off it is not the project's model."""
    raw = make_raw("four", prod=REAL_TIME_PROD)
    configure(raw)
    cfg = config.parse(raw)
    description = set_description(cfg, env, 3, "north")
    session, stubs = session_for(cfg, env, recorder)
    stubs["sagemaker"].add_response(
        "describe_model_package", description, {"ModelPackageName": description["ModelPackageArn"]}
    )

    code, out, err = run_cli(
        deploy_cli.main, ["deploy", "--env", env, "--arn", description["ModelPackageArn"]], session
    )

    assert code == 1
    assert_done(stubs)
    assert recorder.operations == ["GetCallerIdentity", "DescribeModelPackage"]
    (line,) = err.strip().splitlines()[-1:]
    assert line == (
        f"error: refusing to deploy: {description['ModelPackageArn']} was registered by a segmented run "
        "for segment north (column region), trained and QA-tested on that segment's rows only, and "
        "model.segments is off; run the pipeline to register a model of every row"
    )
    assert out == ""


def samples_dir(tmp_path):
    for segment in SEGMENTS:
        (tmp_path / segment).mkdir()
        shutil.copy(SAMPLE_CSV, tmp_path / segment / "test.csv")
    return tmp_path / "test.csv"


class DownInvoker:
    """A SageMakerInvoker whose endpoint does not answer (the report is what is checked)."""

    def __init__(self, endpoint_name, runtime, sagemaker=None, target_model=None) -> None:
        self.target = f"endpoint {endpoint_name} model {target_model}"

    def ping(self) -> bool:
        raise RuntimeError("endpoint down")

    def invoke(self, body, content_type, accept="application/json"):
        raise RuntimeError("endpoint down")


def test_the_report_names_the_package_each_segment_s_route_serves(
    configure, recorder, run_cli, tmp_path, monkeypatch
):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    monkeypatch.setattr(module("endpoint_tests.suite"), "SageMakerInvoker", DownInvoker)
    session, stubs = session_for(cfg, "qa", recorder, "sagemaker-runtime")
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "qa", "c"))
    stub_tags(stubs, cfg, "qa", route_tags(descriptions))
    report = tmp_path / "report.json"
    args = ["endpoint-test", "--env", "qa", "--samples", str(samples_dir(tmp_path)), "--report", str(report)]

    code, _, err = run_cli(deploy_cli.main, args, session)

    assert code == 1, err
    assert_done(stubs)
    parts = json.loads(report.read_text())["segments"]
    endpoint = cfg.environment("qa").endpoint_name
    for d in descriptions:
        segment = d["CustomerMetadataProperties"]["segment"]
        assert parts[segment]["target"] == f"endpoint {endpoint} model {target_of(segment)}"
        assert parts[segment]["package_arn"] == d["ModelPackageArn"]
        assert parts[segment]["object"] == "v1"


def test_a_local_run_names_no_package():
    segments = module("endpoint_tests.segments")
    suite = module("endpoint_tests.suite")
    thresholds = module("config").parse(segmented_raw()).tests_for("local")
    sample = suite.load_samples(SAMPLE_CSV, 3, config.parse(segmented_raw()).model.target_column)
    report = segments.run_segments(
        lambda target: DownInvoker("local", None, target_model=target),
        {"north": "north"},
        {"north": sample},
        thresholds,
        "http://127.0.0.1:1",
    )
    assert "package_arn" not in report.to_dict()["segments"]["north"]


@pytest.mark.parametrize("rolling_back", [True, False])
def test_a_qa_endpoint_test_without_a_route_for_a_segment_rolls_back(
    configure, recorder, run_cli, tmp_path, rolling_back
):
    """A QA deploy that fails its tests must roll back, also when the endpoint lacks a route."""
    cfg = segmented_config()
    configure(segmented_raw())
    old = two_versions(cfg, first=3)
    running = plan_of(cfg, "qa", old).config_name
    north_only = route_tags([set_description(cfg, "qa", 9, "north", set_id="exec-0002")], set_id="exec-0002")
    tags = [
        {"Key": "previous-endpoint-config", "Value": running},
        *route_tags(old, "previous-route:"),
        *north_only,
    ]
    session, stubs = session_for(cfg, "qa", recorder, "sagemaker-runtime")
    sm = stubs["sagemaker"]
    sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", running))
    sm.add_response("list_tags", {"Tags": tags})
    if rolling_back:
        for _ in range(2):  # the config (already the recorded one), then the routes
            sm.add_response("describe_endpoint", endpoint_response(cfg, "qa", running))
            sm.add_response("list_tags", {"Tags": tags})
        restored = route_tags(old)
        sm.add_response("add_tags", {}, {"ResourceArn": endpoint_arn(cfg, "qa"), "Tags": restored})
    args = ["endpoint-test", "--env", "qa", "--samples", str(samples_dir(tmp_path)), "--poll-interval", "0"]

    code, out, err = run_cli(
        deploy_cli.main, [*args, *(["--rollback-on-failure"] if rolling_back else [])], session
    )

    assert code == 1
    assert_done(stubs)
    line = err.strip().splitlines()[-1]
    name = cfg.environment("qa").endpoint_name
    if rolling_back:
        assert recorder.mutating == ["AddTags"]
        assert line.startswith(
            f"error: endpoint tests failed (the routes cannot be used: endpoint {name} has no "
        )
        assert line.endswith(f"route for segment south; deploy the set first); {name} is back on {running}")
        assert "passed=false" in out.splitlines()
    else:
        assert recorder.mutating == []
        assert line == f"error: endpoint {name} has no route for segment south; deploy the set first"


def test_routes_runs_through_the_main_command_line(configure, recorder, capsys, monkeypatch):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg, "prod", 3)
    session, stubs = session_for(cfg, "prod", recorder)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "prod", "c"))
    stub_tags(stubs, cfg, "prod", route_tags(descriptions))
    monkeypatch.setattr(boto3, "Session", lambda *args, **kwargs: session)
    main = module("cli")

    code = main.main(["routes", "--env", "prod"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert_done(stubs)
    routes = json.loads(out)["routes"]
    assert {s: r["target_model"] for s, r in routes.items()} == {s: target_of(s) for s in SEGMENTS}
    assert "routes" in main.usage("prog")


def test_a_multi_model_environment_under_monitoring_is_one_clear_error():
    raw = segmented_raw()
    raw.setdefault("monitoring", {})["environments"] = ["prod"]
    with pytest.raises(config.ConfigError) as error:
        config.parse(raw)
    assert str(error.value) == (
        'monitoring.environments includes "prod", but environments.prod.endpoint is multi-model, and '
        "monitoring is not available for multi-model endpoints (each segment's model would need its own "
        "baseline); expected prod left out of monitoring.environments"
    )
