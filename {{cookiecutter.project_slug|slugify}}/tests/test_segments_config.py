"""`model.segments`: one model per listed value of a column; off by default."""

from __future__ import annotations

import copy

import pytest

from deploy_helpers import make_raw
from model_helpers import config

MULTI_MODEL = "multi-model"


def segmented(column="region", values=("north", "south"), **model) -> dict:
    """The baked config with segments on (and the multi-model endpoints they need)."""
    raw = make_raw("baked")
    raw["model"]["segments"] = {"column": column, "values": list(values)}
    raw["model"].update(model)
    for env in ("qa", "prod"):
        raw["environments"][env]["endpoint"]["type"] = MULTI_MODEL
    return raw


def refused(raw: dict) -> str:
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw)
    return str(caught.value)


def test_segments_are_off_by_default_and_in_the_baked_config():
    raw = make_raw("baked")
    assert raw["model"]["segments"] == {"column": "", "values": []}
    segments = config.parse(raw).model.segments
    assert not segments.enabled and segments.values == () and segments.preprocess_arguments() == []
    without = copy.deepcopy(raw)
    del without["model"]["segments"]
    assert config.parse(without).model.segments == segments


def test_segments_parse_into_column_values_and_preprocess_arguments():
    segments = config.parse(segmented(values=["north", "South-2", "3"])).model.segments
    assert segments.enabled and segments.column == "region"
    assert segments.values == ("north", "South-2", "3")
    assert segments.preprocess_arguments() == [
        "--segment-column=region",
        "--segment=north",
        "--segment=South-2",
        "--segment=3",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"values": []}, "model.segments.values is []; expected a list of 1 to 20 segment values"),
        (
            {"values": [f"s{n}" for n in range(21)]},
            "expected a list of 1 to 20 segment values",
        ),
        ({"values": "north"}, 'model.segments.values is "north"; expected a list of 1 to 20'),
        (
            {"values": ["north", "north"]},
            'model.segments.values lists "north" twice; expected each value once',
        ),
        (
            {"values": ["North", "south", "north"]},
            'model.segments.values lists "North" and "north"; expected values that differ in more '
            "than letter case",
        ),
        ({"values": ["no rth"]}, 'model.segments.values lists "no rth"; expected each value 1-32 letters'),
        ({"values": ["-north"]}, 'lists "-north"; expected each value 1-32 letters, digits or hyphens'),
        ({"values": ["a" * 33]}, "expected each value 1-32 letters"),
        ({"values": ["north/south"]}, 'lists "north/south"'),
        ({"values": [3]}, "model.segments.values lists 3; expected each value"),
        (
            {"column": "target"},
            'model.segments.column is "target", the target_column; expected a feature column',
        ),
        ({"column": " region"}, 'model.segments.column is " region"; expected a column name'),
        ({"colum": "x"}, "model.segments.colum is not a setting this repository reads"),
    ],
)
def test_bad_segments_are_one_error_naming_key_value_and_expectation(change, expected):
    raw = segmented()
    raw["model"]["segments"].update(change)
    assert expected in refused(raw)


def test_the_segment_column_is_no_dropped_or_categorical_column():
    message = refused(segmented(drop_columns=["region"]))
    assert (
        'model.segments.column is "region", which model.drop_columns or model.categorical_columns' in message
    )
    message = refused(segmented(categorical_columns=["region"]))
    assert "model.categorical_columns lists; expected a column in neither" in message


def test_values_without_a_column_are_refused():
    raw = make_raw("baked")
    raw["model"]["segments"] = {"column": "", "values": ["north"]}
    assert 'model.segments.values is ["north"] but model.segments.column is empty' in refused(raw)


def test_segments_need_multi_model_endpoints_and_no_shadow():
    raw = segmented()
    raw["environments"]["qa"]["endpoint"]["type"] = "real-time"
    assert "environments.qa.endpoint.type" in refused(raw)
    raw = segmented()
    raw["champion"]["shadow"]["enabled"] = True
    assert "champion.shadow.enabled is true, but model.segments is on" in refused(raw)
