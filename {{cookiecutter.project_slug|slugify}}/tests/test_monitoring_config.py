"""The `monitoring` section (config/monitoring.py): defaults, and one ConfigError per bad value."""

from __future__ import annotations

from typing import Any

import pytest

from deploy_helpers import REAL_TIME_PROD, make_raw, module

config = module("config")
monitoring = module("config.monitoring")

QA_SERVERLESS = {"type": "serverless", "data_capture": {"enabled": False}, "autoscaling": {"enabled": False}}
QA_NO_CAPTURE = {**REAL_TIME_PROD, "data_capture": {"enabled": False}}


def parse(section: dict[str, Any] | None, **endpoints: Any) -> Any:
    raw = make_raw("four", **endpoints)
    raw.pop("monitoring", None)
    if section is not None:
        raw["monitoring"] = section
    return config.parse(raw)


def test_absent_section_watches_prod_with_the_documented_defaults() -> None:
    cfg = parse(None, prod=REAL_TIME_PROD)
    m = cfg.monitoring
    assert m.environments == ("prod",) and m.instance_type == "ml.m5.large"
    assert m.data_quality.schedule == "cron(0 * ? * * *)"
    assert (m.model_quality.ground_truth_uri, m.model_quality.schedule) == ("", "cron(0 0 ? * * *)")
    assert not m.model_quality.enabled
    assert m.constraints.as_dict() == {
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
    }


def test_absent_section_with_prod_not_capturing_watches_nothing_so_old_configs_parse() -> None:
    assert (
        parse(None, prod={**REAL_TIME_PROD, "data_capture": {"enabled": False}}).monitoring.environments == ()
    )


def test_the_template_config_has_the_section_and_watches_prod() -> None:
    """The template leaves `environments` to its default, so a prod endpoint without data
    capture (or a serverless one) still parses; the baked prod endpoint captures, so prod is watched."""
    assert "environments" not in make_raw("baked")["monitoring"]
    assert config.parse(make_raw("baked")).monitoring.environments == ("prod",)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("cron(0 * ? * * *)", 3600),
        ("cron(0 3 ? * * *)", 86400),
        ("cron(0 0/6 ? * * *)", 21600),
        ("cron(0 23 ? * * *)", 86400),
    ],
)
def test_schedule_forms_and_their_interval(expression: str, seconds: int) -> None:
    cfg = parse({"data_quality": {"schedule": expression}}, prod=REAL_TIME_PROD)
    assert monitoring.schedule_seconds(cfg.monitoring.data_quality.schedule) == seconds


@pytest.mark.parametrize(
    ("section", "endpoints", "message"),
    [
        (
            {"environments": ["qa", "prod"]},
            {"qa": QA_SERVERLESS, "prod": REAL_TIME_PROD},
            'monitoring.environments includes "qa", but environments.qa.endpoint is serverless, which has '
            "no data capture to monitor",
        ),
        (
            {"environments": ["qa"]},
            {"qa": QA_NO_CAPTURE},
            'monitoring.environments includes "qa", but '
            "environments.qa.endpoint.data_capture.enabled is false",
        ),
        (
            {"environments": ["staging"]},
            {},
            'monitoring.environments names "staging"; expected only qa, prod',
        ),
        ({"environments": ["prod", "prod"]}, {"prod": REAL_TIME_PROD}, "expected each environment once"),
        ({"environments": "prod"}, {}, "expected a list of environment names"),
        (
            {"data_quality": {"schedule": "cron(30 * ? * * *)"}},
            {"prod": REAL_TIME_PROD},
            'monitoring.data_quality.schedule is "cron(30 * ? * * *)"; expected a Model Monitor schedule',
        ),
        (
            {"model_quality": {"schedule": "rate(1 hour)"}},
            {"prod": REAL_TIME_PROD},
            "monitoring.model_quality.schedule is",
        ),
        (
            {"model_quality": {"ground_truth_uri": "https://example.com/labels"}},
            {"prod": REAL_TIME_PROD},
            'monitoring.model_quality.ground_truth_uri is "https://example.com/labels"; expected an s3://',
        ),
        (
            {"model_quality": {"ground_truth_uri": "s3://{bucket}/labels/"}},
            {"prod": REAL_TIME_PROD},
            "not the artifact bucket",
        ),
        (
            {"constraints": {"comparison_threshold": 1.5}},
            {"prod": REAL_TIME_PROD},
            "monitoring.constraints.comparison_threshold is 1.5; expected a number from 0 to 1",
        ),
        (
            {"constraints": {"comparison_method": "Strict"}},
            {"prod": REAL_TIME_PROD},
            'monitoring.constraints.comparison_method is "Strict"; expected one of Robust, Simple',
        ),
        ({"instance_type": "m5.large"}, {"prod": REAL_TIME_PROD}, 'monitoring.instance_type is "m5.large"'),
        (
            {"schedules": {}},
            {"prod": REAL_TIME_PROD},
            "monitoring.schedules is not a setting this repository reads",
        ),
    ],
)
def test_each_bad_value_is_one_config_error(
    section: dict[str, Any], endpoints: dict[str, Any], message: str
) -> None:
    raw = make_raw("four", **endpoints)
    bucket = config.parse(raw).names.artifact_bucket
    uri = section.get("model_quality", {}).get("ground_truth_uri")
    if uri:
        section = {**section, "model_quality": {"ground_truth_uri": uri.format(bucket=bucket)}}
    raw["monitoring"] = section
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_role_and_topic_names() -> None:
    cfg = parse(None, prod=REAL_TIME_PROD)
    model = cfg.project.model_name
    assert cfg.role_name("sagemaker_monitor") == f"{model}-sagemaker-monitor"
    assert cfg.names.alerts_topic == f"{model}-alerts"
