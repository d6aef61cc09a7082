"""A multi-model endpoint caches each model by its TargetModel name, so every route names the S3
object its key held when routed: a deploy that finds a routed key (live or previous route) now
holding another object is refused before any change, the object comes from `registry digest`'s
output when `--artifact` is given, and a deploy that would leave more than SageMaker's 50 tags
on the endpoint is refused before any change (Stubber)."""

from __future__ import annotations

import json

import pytest

from deploy_helpers import assert_done, endpoint_response, module
from multi_model_helpers import (
    deploy_args,
    plan_of,
    route_tags,
    segmented_config,
    segmented_raw,
    session_for,
    stub_alarms_present,
    stub_no_autoscaling,
    stub_resolve,
    stub_tags,
    target_of,
    two_versions,
)

cli = module("deploy.cli")
pytestmark = pytest.mark.usefixtures("fake_aws")


def running(cfg, recorder, descriptions, tags, heads: str | None = "v1"):
    """Stubs up to the endpoint's tags: the set resolved, each key's object (`heads`), the
    endpoint running the planned config with `tags`."""
    session, stubs = session_for(cfg, "qa", recorder)
    stub_resolve(stubs, descriptions, heads)
    config_name = plan_of(cfg, "qa", descriptions).config_name
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "qa", config_name))
    stub_tags(stubs, cfg, "qa", tags)
    return session, stubs


@pytest.mark.parametrize("routed_as", ["route:", "previous-route:"])
def test_a_routed_key_whose_object_was_rewritten_is_refused_before_any_change(
    configure, recorder, run_cli, routed_as
):
    """QA runs again on the same set after its artifact was rewritten in place (a new S3 object
    version under the same key): the endpoint may still serve the cached old bytes."""
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    tags = route_tags(descriptions, routed_as, object_id="v1")
    if routed_as == "previous-route:":  # the endpoint serves another set now, this one before it
        tags += route_tags(two_versions(cfg, first=9, set_id="exec-0002"), set_id="exec-0002", object_id="v7")
    session, stubs = running(cfg, recorder, descriptions, tags, heads="v2")

    code, out, err = run_cli(cli.main, deploy_args("qa", descriptions), session)

    assert code == 1
    assert_done(stubs)
    assert recorder.mutating == []
    (line,) = err.strip().splitlines()[-1:]
    assert line.startswith(f"error: segment north: TargetModel {target_of('north')} is routed on ")
    assert f"as object v1 ({routed_as}north), but the object under that key is now v2" in line
    assert "A rewritten artifact must get a new key: run the pipeline again" in line
    assert out == ""


def digest_output(cfg, descriptions, tmp_path, version_id="v1", uri_of=None) -> str:
    parts = {}
    for d in descriptions:
        segment = d["CustomerMetadataProperties"]["segment"]
        uri = d["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        parts[segment] = {
            "uri": (uri_of or {}).get(segment, uri),
            "version_id": version_id,
            "sha256": "a" * 64,
        }
    path = tmp_path / "artifact.json"
    path.write_text(json.dumps({"segments": parts}))
    return str(path)


def test_the_digest_output_names_the_objects_and_a_repeat_changes_nothing(
    configure, recorder, run_cli, tmp_path
):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    plan = plan_of(cfg, "qa", descriptions)
    session, stubs = running(cfg, recorder, descriptions, route_tags(descriptions), heads=None)
    stub_alarms_present(stubs, plan)
    stub_no_autoscaling(stubs)
    artifact = digest_output(cfg, descriptions, tmp_path)

    code, out, err = run_cli(cli.main, deploy_args("qa", descriptions, "--artifact", artifact), session)

    assert code == 0, err
    assert_done(stubs)
    assert "GetObject" not in recorder.operations  # the digest already read each object
    assert recorder.mutating == []
    assert "action=unchanged" in out.splitlines()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("rewritten", "is routed on"),
        ("another artifact", "segment south: s3://"),
        ("one segment", "expected the artifacts of segments north, south"),
    ],
)
def test_a_digest_output_that_is_not_the_routed_objects_is_refused(
    configure, recorder, run_cli, tmp_path, case, message
):
    cfg = segmented_config()
    configure(segmented_raw())
    descriptions = two_versions(cfg)
    if case == "rewritten":
        session, stubs = running(cfg, recorder, descriptions, route_tags(descriptions), heads=None)
        artifact = digest_output(cfg, descriptions, tmp_path, version_id="v2")
    else:
        session, stubs = session_for(cfg, "qa", recorder)
        stub_resolve(stubs, descriptions, heads=None)
        other = {"south": descriptions[0]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]}
        artifact = digest_output(cfg, descriptions, tmp_path, uri_of=other)
        if case == "one segment":
            artifact = digest_output(cfg, descriptions[:1], tmp_path)

    code, _, err = run_cli(cli.main, deploy_args("qa", descriptions, "--artifact", artifact), session)

    assert code == 1
    assert_done(stubs)
    assert recorder.mutating == []
    assert message in err.strip().splitlines()[-1]


def test_a_deploy_that_would_pass_sagemaker_s_tag_limit_is_refused_before_any_change(
    configure, recorder, run_cli
):
    """Emptied routes of segments no longer served stay as keys (the deploy role cannot delete
    tags); a routes-only deploy adding the previous-route records would pass 50."""
    cfg = segmented_config()
    configure(segmented_raw())
    old, new = two_versions(cfg), two_versions(cfg, first=9, set_id="exec-0002")
    emptied = [{"Key": f"route:gone{i}", "Value": ""} for i in range(45)]
    tags = [{"Key": "project", "Value": "p"}, *emptied, *route_tags(old)]  # 48 tags
    session, stubs = running(cfg, recorder, new, tags)

    code, _, err = run_cli(cli.main, deploy_args("qa", new), session)

    assert code == 1
    assert_done(stubs)
    assert recorder.mutating == []
    line = err.strip().splitlines()[-1]
    assert "would carry 51 tags, SageMaker allows 50; 45 are emptied routes" in line
    assert "route:gone0" in line and "delete-tags" in line
