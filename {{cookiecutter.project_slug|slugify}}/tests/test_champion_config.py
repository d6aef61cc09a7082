"""The `champion` section of config/project.json (config/champion.py)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from deploy_helpers import make_raw
from model_helpers import config, module

champion = module("config.champion")
DEFAULTS = {
    "tolerance": 0.01,
    "shadow": {
        "enabled": False,
        "sampling_percent": 20,
        "duration_minutes": 60,
        "min_requests": 100,
        "max_latency_ratio": 1.5,
        "max_error_rate": 0.01,
        "min_agreement": 0.95,
    },
}


def parsed(section=None, absent: bool = False):
    raw = make_raw("baked")
    if absent:
        raw.pop("champion", None)
    elif section is not None:
        raw["champion"] = section
    return config.parse(raw).champion


def test_the_baked_config_names_every_default():
    assert make_raw("baked")["champion"] == DEFAULTS
    settings = parsed()
    assert settings.tolerance == 0.01
    assert dataclasses.asdict(settings.shadow) == DEFAULTS["shadow"]


def test_an_absent_or_partial_section_takes_the_defaults():
    default = champion.ChampionSettings()
    assert parsed(absent=True) == default == parsed({})
    assert parsed({"shadow": {"enabled": True}}) == dataclasses.replace(
        default, shadow=dataclasses.replace(default.shadow, enabled=True)
    )
    assert parsed({"tolerance": 0}).tolerance == 0.0


def test_values_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed().tolerance = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed().shadow.enabled = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("tolerance",), 'champion.tolerance is "0.01"; expected a number from 0 to 1'),
        (("tolerance", 1.5), "champion.tolerance is 1.5; expected a number from 0 to 1"),
        (("tolerance", -0.01), "champion.tolerance is -0.01; expected a number from 0 to 1"),
        (("shadow", "enabled", "yes"), 'champion.shadow.enabled is "yes"; expected true or false'),
        (
            ("shadow", "sampling_percent", 0),
            "champion.shadow.sampling_percent is 0; expected a whole number from 1 to 100",
        ),
        (
            ("shadow", "sampling_percent", 12.5),
            "champion.shadow.sampling_percent is 12.5; expected a whole number from 1 to 100",
        ),
        (
            ("shadow", "duration_minutes", 0),
            "champion.shadow.duration_minutes is 0; expected a whole number from 1 to 10080",
        ),
        (
            ("shadow", "min_requests", 0),
            "champion.shadow.min_requests is 0; expected a whole number from 1 to 1e+07",
        ),
        (
            ("shadow", "max_latency_ratio", 0.5),
            "champion.shadow.max_latency_ratio is 0.5; expected a number from 1 to 100",
        ),
        (
            ("shadow", "max_error_rate", 2),
            "champion.shadow.max_error_rate is 2; expected a number from 0 to 1",
        ),
        (
            ("shadow", "min_agreement", True),
            "champion.shadow.min_agreement is true; expected a number from 0 to 1",
        ),
        (
            ("shadow", "percent", 20),
            "champion.shadow.percent is not a setting this repository reads; known keys here: ",
        ),
        (("metric", "auc"), "champion.metric is not a setting this repository reads; known keys here: "),
    ],
)
def test_a_bad_value_is_one_error_naming_key_value_and_expectation(change, message):
    raw = make_raw("baked")
    section = copy.deepcopy(DEFAULTS)
    if change == ("tolerance",):
        section["tolerance"] = "0.01"
    elif change[0] == "shadow":
        section["shadow"][change[1]] = change[2]
    else:
        section[change[0]] = change[1]
    raw["champion"] = section
    with pytest.raises(config.ConfigError) as info:
        config.parse(raw)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_shadow_phase_needs_a_real_time_prod_endpoint():
    """Shadow variants run on instances: a serverless prod endpoint with the phase on is refused
    when the config is read, before any command starts."""
    raw = make_raw("baked")
    raw["champion"] = copy.deepcopy(DEFAULTS)
    raw["champion"]["shadow"]["enabled"] = True
    config.parse(raw)  # real-time prod: accepted
    raw["environments"]["prod"]["endpoint"]["type"] = "serverless"
    raw["environments"]["prod"]["endpoint"]["autoscaling"]["enabled"] = False
    raw["environments"]["prod"]["endpoint"]["data_capture"]["enabled"] = False
    raw.setdefault("monitoring", {})["environments"] = []
    expected = r"^champion\.shadow\.enabled is true but environments\.prod"
    with pytest.raises(config.ConfigError, match=expected):
        config.parse(raw)
    raw["champion"]["shadow"]["enabled"] = False
    config.parse(raw)
