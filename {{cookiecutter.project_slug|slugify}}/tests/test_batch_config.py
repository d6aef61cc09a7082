"""The `batch` section of config/project.json (config/batch.py) and its derived prefixes."""

from __future__ import annotations

import copy

import pytest

from deploy_helpers import make_config, make_raw, module

config = module("config")


def parsed(batch: object | None = None):
    raw = make_raw("four")
    if batch is None:
        raw.pop("batch", None)
    else:
        raw["batch"] = batch
    return config.parse(raw)


def test_without_the_section_both_environments_read_and_write_their_capture_bucket():
    cfg = parsed()
    assert cfg.batch.source == "prod" and set(cfg.batch.environments) == {"qa", "prod"}
    for env in ("qa", "prod"):
        bucket = cfg.environment(env).capture_bucket
        settings = cfg.batch.environment(env)
        assert settings.input_uri == settings.input_prefix_uri == f"s3://{bucket}/batch/{env}/input/"
        assert settings.output_uri == f"s3://{bucket}/batch/{env}/output/"
        assert (settings.schedule, settings.instance_count, settings.max_payload_mb) == ("0 5 * * *", 1, 6)


def test_the_baked_config_holds_the_section_with_the_defaults():
    raw = make_raw("baked")
    assert "batch" in raw
    without = copy.deepcopy(raw)
    del without["batch"]
    assert config.parse(raw).batch == config.parse(without).batch


def test_a_prefix_under_the_input_prefix_is_taken():
    cfg = parsed()
    base = cfg.batch.environment("prod").input_prefix_uri
    cfg = parsed({"environments": {"prod": {"input_uri": base + "daily/"}}})
    assert cfg.batch.environment("prod").input_uri == base + "daily/"
    assert list(cfg.batch.environments) == ["prod"]
    with pytest.raises(config.ConfigError, match=r'batch\.environments has no "qa"'):
        cfg.batch.environment("qa")


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (
            {"environments": {"prod": {"input_uri": "s3://elsewhere/batch/prod/input/"}}},
            'input_uri is "s3://elsewhere/batch/prod/input/"; expected "" or a prefix',
        ),
        ({"environments": {"prod": {"input_uri": "QA"}}}, 'batch.environments.prod.input_uri is "QA"'),
        (
            {"environments": {"prod": {"schedule": "daily"}}},
            'batch.environments.prod.schedule is "daily"; expected a five-field cron',
        ),
        ({"environments": {"prod": {"schedule": "0 5 * *"}}}, "batch.environments.prod.schedule is"),
        (
            {"environments": {"prod": {"instance_type": "m5.large"}}},
            "batch.environments.prod.instance_type is",
        ),
        (
            {"environments": {"prod": {"instance_count": 0}}},
            "batch.environments.prod.instance_count is 0; expected a whole number from 1 to 100",
        ),
        (
            {"environments": {"prod": {"max_payload_mb": 101}}},
            "batch.environments.prod.max_payload_mb is 101",
        ),
        ({"environments": {"prod": {"extra": 1}}}, "batch.environments.prod.extra is not a setting"),
        ({"environments": {"dev": {}}}, "batch.environments.dev is not an environment; expected qa, prod"),
        ({"environments": {"qa": {}}}, 'batch.source is "prod" but batch.environments has no prod'),
        ({"source": "dev"}, 'batch.source is "dev"; expected one of qa, prod'),
        ({"sources": "qa"}, "batch.sources is not a setting"),
    ],
)
def test_each_bad_batch_setting_is_one_error_naming_key_value_and_expectation(batch, message):
    with pytest.raises(config.ConfigError) as caught:
        parsed(copy.deepcopy(batch))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_prefixes_are_derived_once_per_environment():
    names = make_config("four").names
    assert dict(names.batch_input_prefixes) == {"qa": "batch/qa/input/", "prod": "batch/prod/input/"}
    assert dict(names.batch_output_prefixes) == {"qa": "batch/qa/output/", "prod": "batch/prod/output/"}
