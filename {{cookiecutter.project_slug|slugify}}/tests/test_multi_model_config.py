"""The "multi-model" endpoint type and its rules with `model.segments`: one ConfigError naming the
environment (or the shadow setting) and what is expected."""

from __future__ import annotations

import pytest

from deploy_helpers import module
from multi_model_helpers import segmented_raw

config = module("config")


def parse(raw):
    return config.parse(raw)


def test_a_segmented_model_on_multi_model_endpoints_parses():
    cfg = parse(
        segmented_raw(
            prod={
                "autoscaling": {
                    "enabled": True,
                    "min_capacity": 1,
                    "max_capacity": 3,
                    "target_invocations_per_instance": 50,
                }
            }
        )
    )
    for env in ("qa", "prod"):
        settings = cfg.environment(env).endpoint
        assert settings.kind == "multi-model" and settings.multi_model and settings.on_instances
        assert not settings.real_time and not settings.is_async
    # Instance settings as for real-time: autoscaling applies to a multi-model endpoint.
    requests = module("deploy.update_policy").autoscaling_requests(cfg.environment("prod").endpoint)
    assert requests is not None and requests[0]["MaxCapacity"] == 3
    assert not cfg.monitoring.watches("prod")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda raw: raw["model"].update(segments={"column": "", "values": []}),
            'environments.qa.endpoint.type is "multi-model", but model.segments.column is ""; expected a '
            "segmented model (model.segments) or another endpoint type",
        ),
        (
            lambda raw: raw["environments"]["qa"]["endpoint"].update(type="real-time"),
            'environments.qa.endpoint.type is "real-time", but model.segments is on (column "region"); '
            'expected "multi-model" in both qa and prod',
        ),
        (
            lambda raw: raw["environments"]["prod"]["endpoint"].update(
                type="serverless", serverless={"memory_mb": 2048, "max_concurrency": 5}
            ),
            'environments.prod.endpoint.type is "serverless", but model.segments is on (column "region"); '
            'expected "multi-model" in both qa and prod',
        ),
        (
            lambda raw: raw["champion"]["shadow"].update(enabled=True),
            'champion.shadow.enabled is true, but model.segments is on (column "region"); expected '
            "champion.shadow.enabled false (a multi-model endpoint has no shadow variant)",
        ),
        (
            lambda raw: raw["environments"]["prod"]["endpoint"].update(
                autoscaling={
                    "enabled": True,
                    "min_capacity": 3,
                    "max_capacity": 2,
                    "target_invocations_per_instance": 5,
                }
            ),
            "environments.prod.endpoint.autoscaling needs 1 <= min_capacity <= max_capacity",
        ),
        (
            lambda raw: raw["environments"]["qa"]["endpoint"].update(instance_type="m5.large"),
            "environments.qa.endpoint.instance_type 'm5.large' is not an ml.* instance type",
        ),
    ],
    ids=[
        "multi-model without segments",
        "segments with real-time qa",
        "segments with serverless prod",
        "shadow",
        "autoscaling",
        "instance type",
    ],
)
def test_the_multi_model_rules_are_one_error_each(change, message):
    raw = segmented_raw()
    change(raw)
    with pytest.raises(config.ConfigError) as error:
        parse(raw)
    assert str(error.value) == message


def test_the_endpoint_type_lists_multi_model():
    raw = segmented_raw()
    raw["environments"]["qa"]["endpoint"]["type"] = "multimodel"
    with pytest.raises(config.ConfigError) as error:
        parse(raw)
    assert str(error.value) == (
        'environments.qa.endpoint.type is "multimodel"; expected one of real-time, serverless, async, '
        "multi-model, none"
    )
