"""The largest segmented pipeline the config allows stays within what SageMaker accepts.

`model.segments` allows at most `MAX_SEGMENTS` values of up to 32 characters. Each segment adds
its own jobs to the one pipeline definition, and the segment value is part of each job's step
name, so the limits come from botocore's SageMaker service model (what CreatePipeline and
UpdatePipeline accept): the `PipelineDefinition` string's maximum length, and the `StepName`
shape (the name of a step in an execution, as ListPipelineExecutionSteps reports it). The
definition is built offline under moto, with a champion for every segment (the largest case:
each Evaluate step then names its champion and downloads its model).
"""

from __future__ import annotations

import copy
import json
import re
import warnings

import botocore.session
import pytest
from moto import mock_aws

from deploy_helpers import create_bucket, new_session
from model_helpers import config, module
from pipeline_helpers import BRANCH, GIT_SHA, RAW

pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
MAX_DEFINITION = (
    SAGEMAKER.operation_model("CreatePipeline").input_shape.members["PipelineDefinition"].metadata["max"]
)
STEP_NAME = SAGEMAKER.shape_for("StepName").metadata
MAX_SEGMENTS = module("config.model").MAX_SEGMENTS
VALUE_LENGTH = 32
# A long feature branch: its pipeline name (and so every S3 URI in the definition) is the longest.
LONG_BRANCH = BRANCH + "-" + "x" * 200


def values(count: int, length: int = VALUE_LENGTH) -> list[str]:
    """`count` distinct segment values of `length` characters."""
    return [f"s{i:02d}".ljust(length, "n") for i in range(count)]


def segmented(count: int, length: int = VALUE_LENGTH) -> dict:
    raw = copy.deepcopy(RAW)
    raw["model"]["segments"] = {"column": "region", "values": values(count, length)}
    for env in ("qa", "prod"):
        raw["environments"][env]["endpoint"]["type"] = "multi-model"
    return raw


def definition(cfg, kind: str, branch: str) -> str:
    """The PipelineDefinition string the pipeline CLI sends, every segment with a champion."""
    pipeline = module("pipeline.pipeline")
    names = module("pipeline.names")
    champion = module("pipeline.champion").Champion
    group = cfg.group_arn("prod")
    prod = f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['prod']}"
    champions = {
        value: champion(
            f"{group.replace(':model-package-group/', ':model-package/')}/{99990 + i}",
            f"{prod}{value}/pipelines-{'e' * 12}-Train-{value}/output/model.tar.gz",
        )
        for i, value in enumerate(cfg.model.segments.values)
    }
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        session = new_session(region_name=cfg.region)
        create_bucket(session.client("s3"), cfg.names.artifact_bucket, cfg.region)
        built = pipeline.get_pipeline(
            cfg,
            kind,
            role_arn=names.execution_role_arn(cfg, kind),
            session=pipeline.pipeline_session(cfg, boto_session=session),
            git_sha=GIT_SHA,
            branch=branch,
            segment_champions=champions,
        )
        return built.definition()


def step_names(document: dict) -> list[str]:
    found = []
    for step in document["Steps"]:
        found.append(step["Name"])
        for branch in ("IfSteps", "ElseSteps"):
            found.extend(nested["Name"] for nested in step["Arguments"].get(branch, []))
    return found


@pytest.fixture(scope="module")
def largest(aws_env) -> dict[str, str]:
    """The definition of a long-named feature branch's pipeline: the largest there is. A pipeline
    kind changes only names (the pipeline's, which every S3 URI holds, and the group's), never the
    steps, and no name is longer than a feature branch's, so the dev definition is smaller."""
    cfg = config.parse(segmented(MAX_SEGMENTS))
    feature_name = module("pipeline.names").pipeline_name(cfg, "feature", LONG_BRANCH)
    assert len(feature_name) >= len(cfg.names.pipelines["dev"])
    return {"feature": definition(cfg, "feature", LONG_BRANCH)}


def test_the_config_allows_exactly_the_largest_case_built_here():
    assert config.parse(segmented(MAX_SEGMENTS)).model.segments.values == tuple(values(MAX_SEGMENTS))
    with pytest.raises(config.ConfigError, match=f"expected a list of 1 to {MAX_SEGMENTS} segment values"):
        config.parse(segmented(MAX_SEGMENTS + 1))
    with pytest.raises(config.ConfigError, match="1-32 letters, digits or hyphens"):
        config.parse(segmented(1, VALUE_LENGTH + 1))


def test_the_largest_segmented_definition_fits_createpipeline(largest):
    for kind, text in largest.items():
        steps = step_names(json.loads(text))
        assert all(f"Train-{value}" in steps for value in values(MAX_SEGMENTS))  # every segment's jobs
        assert len(text) <= MAX_DEFINITION, (
            f"the {kind} definition with {MAX_SEGMENTS} segments is {len(text)} characters; "
            f"CreatePipeline accepts at most {MAX_DEFINITION}"
        )


def test_every_step_name_of_the_largest_definition_is_a_valid_step_name(largest):
    pattern = re.compile(f"(?:{STEP_NAME['pattern']})")
    for text in largest.values():
        names = step_names(json.loads(text))
        assert any(values(1)[0] in name for name in names)
        too_long = [name for name in names if len(name) > STEP_NAME["max"]]
        assert too_long == [], f"step names longer than {STEP_NAME['max']} characters: {too_long}"
        assert [name for name in names if not pattern.fullmatch(name)] == []
