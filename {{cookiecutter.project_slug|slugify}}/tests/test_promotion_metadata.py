"""SageMaker's customer-metadata and tag rules (`promotion.metadata`), checked offline against the
pattern in botocore's service model, with one clear line per refusal."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest

from deploy_helpers import make_config, module, package_arn

metadata = module("promotion.metadata")
version = module("promotion.version")
DeployError = module("deploy.aws").DeployError


def _class_of(pattern: str) -> tuple[set[str], set[str]]:
    """(Unicode categories, literal characters) of the character class in a service-model
    pattern such as `([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)`."""
    body = pattern[pattern.index("[") + 1 : pattern.index("]")]
    categories = set(re.findall(r"\\p\{(\w)\}", body))
    rest = re.sub(r"\\p\{\w\}", "", body)
    return categories, set(re.sub(r"\\(.)", r"\1", rest))


@pytest.mark.parametrize("shape", ["CustomerMetadataKey", "CustomerMetadataValue", "TagKey", "TagValue"])
def test_the_metadata_rule_is_the_one_in_botocores_sagemaker_model(shape):
    model = botocore.session.get_session().get_service_model("sagemaker")
    pattern = model.shape_for(shape).metadata["pattern"]
    assert _class_of(pattern) == ({"L", "Z", "N"}, set(metadata.METADATA_PUNCTUATION))


def test_check_customer_metadata_accepts_what_sagemaker_accepts():
    for layout in ("baked", "four", "single"):
        cfg = make_config(layout)
        for kind in ("dev", "prod"):
            source = package_arn(cfg, kind, 123)
            # What promote adds, and what approve adds for a bot login.
            entries = {
                version.SOURCE_ARN_KEY: source,
                version.SOURCE_VERSION_KEY: "123",
                "approved_by": metadata.metadata_value("release-bot[bot]"),
                "approved_commit": "a" * 40,
            }
            assert metadata.check_customer_metadata(entries, "promote") == entries
    unusual = {
        "dataset_uri": "s3://bucket/datasets/v=2/sample.csv",
        "owner": "Zoë Ångström 東京 ٣",
        "max_depth": "3",
        "learning_rate": "0.1",
        "contact": "ml+platform@example.com",
    }
    assert metadata.check_customer_metadata(unusual, "x") == unusual


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"hyperparameters": json.dumps({"max_depth": 3, "eta": 0.1})},
            "register: customer metadata 'hyperparameters' value contains '\",{}', which SageMaker refuses; "
            "allowed: letters, numbers, spaces and _ . : / = + - @",
        ),
        ({"branch": "feature/a,b"}, "'branch' value contains ','"),
        ({"note": "line\nbreak"}, "'note' value contains '\\n'"),
        ({"tag": "v1 (beta)"}, "'tag' value contains '()'"),
        ({"empty": ""}, "'empty' value has 0 characters; expected 1-256"),
        ({"long": "x" * 257}, "'long' value has 257 characters; expected 1-256"),
        ({"k" * 129: "v"}, "customer metadata key 'kkk"),
        ({"bad key!": "v"}, "customer metadata key 'bad key!' contains '!'"),
        ({"number": 3}, "'number' value must be a string, got int"),
        ({f"k{i}": "v" for i in range(51)}, "51 customer metadata entries; SageMaker allows 50"),
    ],
    ids=[
        "json",
        "comma",
        "newline",
        "parentheses",
        "empty",
        "too long",
        "key too long",
        "key character",
        "not a string",
        "too many",
    ],
)
def test_check_customer_metadata_refuses_with_one_clear_line(properties, message):
    with pytest.raises(DeployError) as caught:
        metadata.check_customer_metadata(properties, "register")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("register: ")
    assert message in text


def test_metadata_value_makes_free_text_acceptable():
    for text in ('{"a": 1}', "release-bot[bot]", "a,b;c", "tab\there", "ü/ok", "x" * 300):
        value = metadata.metadata_value(text)
        assert metadata.check_customer_metadata({"k": value}, "x") == {"k": value}
    assert metadata.metadata_value("release-bot[bot]") == "release-bot_bot_"
    assert metadata.metadata_value("") == "_"


def test_check_tags_allows_empty_values_and_refuses_bad_characters():
    assert metadata.check_tags([{"Key": "note", "Value": ""}], "x") == [{"Key": "note", "Value": ""}]
    with pytest.raises(DeployError, match=r"^deploy: tag 'owner' value contains '#'"):
        metadata.check_tags([{"Key": "owner", "Value": "team#1"}], "deploy")
