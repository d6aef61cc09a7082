"""The segmented pipeline definition (config `model.segments`): one model per segment, one gate.

Built offline under moto like test_pipeline.py; `upsert` looks up each segment's champion (the
prod version released last whose `segment` metadata is that segment) as test_champion_pipeline.py
does for one model.
"""

from __future__ import annotations

import copy
import io
import json
import warnings

import pytest
from moto import mock_aws

from deploy_helpers import Accounts, create_bucket, new_session
from model_helpers import config, module
from pipeline_fakes import PipelineService
from pipeline_helpers import GIT_SHA, RAW, account_with_input, cli

pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

SEGMENTS = ["north", "south-2"]
SEG_RAW = copy.deepcopy(RAW)
SEG_RAW["model"]["segments"] = {"column": "region", "values": SEGMENTS}
for _env in ("qa", "prod"):
    SEG_RAW["environments"][_env]["endpoint"]["type"] = "multi-model"
SEG_CFG = config.parse(SEG_RAW)
PROD_PREFIX = f"s3://{SEG_CFG.names.artifact_bucket}/{SEG_CFG.names.artifact_prefixes['prod']}"
PER_SEGMENT = (
    "Train",
    "Evaluate",
    "BaselineData",
    "DataQualityBaseline",
    "DataQualityConstraints",
    "ModelQualityBaseline",
)
EXECUTION = {"Get": "Execution.PipelineExecutionId"}
IMAGE = f"683313688378.dkr.ecr.{SEG_CFG.region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def build(cfg, **kwargs) -> dict:
    pipeline = module("pipeline.pipeline")
    names = module("pipeline.names")
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        session = new_session(region_name=cfg.region)
        create_bucket(session.client("s3"), cfg.names.artifact_bucket, cfg.region)
        built = pipeline.get_pipeline(
            cfg,
            "dev",
            role_arn=names.execution_role_arn(cfg, "dev"),
            session=pipeline.pipeline_session(cfg, boto_session=session),
            git_sha=GIT_SHA,
            branch=cfg.branches.dev,
            **kwargs,
        )
        return json.loads(built.definition())


def by_name(definition: dict) -> dict:
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for nested in step["Arguments"].get(branch, []):
                found[nested["Name"]] = nested
    return found


@pytest.fixture(scope="module")
def definition(aws_env) -> dict:
    champion = module("pipeline.champion").Champion
    north = champion("arn:aws:sagemaker:x:1:model-package/p/3", f"{PROD_PREFIX}3/model.tar.gz")
    return build(SEG_CFG, segment_champions={"north": north, "south-2": None})


def channel(segment: str, name: str) -> dict:
    """Preprocess's output `name`, its `<segment>/` folder (the slash: "a" never matches "a-2/")."""
    uri = {"Get": f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"}
    return {"Std:Join": {"On": "/", "Values": [uri, segment, ""]}}


def arguments(step: dict) -> list[str]:
    return step["Arguments"]["AppSpecification"]["ContainerArguments"]


def test_one_preprocess_then_each_segments_steps_then_one_gate(definition):
    top = [step["Name"] for step in definition["Steps"]]
    assert top == [
        "Preprocess",
        *(f"{step}-{segment}" for segment in SEGMENTS for step in PER_SEGMENT),
        "MetricGate",
    ]
    gate = by_name(definition)["MetricGate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == [f"Register-{s}" for s in SEGMENTS]
    assert [s["Name"] for s in gate["ElseSteps"]] == ["MetricBelowThreshold"]
    assert arguments(by_name(definition)["Preprocess"])[-3:] == [
        "--segment-column=region",
        "--segment=north",
        "--segment=south-2",
    ]


def test_each_segments_jobs_read_only_its_own_folder(definition):
    steps = by_name(definition)
    for segment in SEGMENTS:
        train = steps[f"Train-{segment}"]["Arguments"]
        sources = {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]
        }
        assert sources["train"] == channel(segment, "train")
        assert sources["validation"] == channel(segment, "validation")
        output = train["OutputDataConfig"]["S3OutputPath"]
        pipeline_name = module("pipeline.names").pipeline_name(SEG_CFG, "dev", SEG_CFG.branches.dev)
        assert output == f"s3://{SEG_CFG.names.artifact_bucket}/{pipeline_name}/Train-{segment}"
        evaluate = steps[f"Evaluate-{segment}"]["Arguments"]
        inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
        assert inputs["model"] == {"Get": f"Steps.Train-{segment}.ModelArtifacts.S3ModelArtifacts"}
        assert inputs["test"] == channel(segment, "test")
        baseline = steps[f"BaselineData-{segment}"]["Arguments"]
        assert baseline["ProcessingInputs"][0]["S3Input"]["S3Uri"] == channel(segment, "train")


def test_each_segment_is_evaluated_against_its_own_champion(definition):
    steps = by_name(definition)
    north, south = (steps[f"Evaluate-{s}"] for s in SEGMENTS)
    threshold = f"{float(SEG_CFG.pipeline.metric_threshold):g}"
    assert arguments(north)[:2] == ["--champion-version", "arn:aws:sagemaker:x:1:model-package/p/3"]
    assert arguments(north)[-4:] == ["--segment", "north", "--threshold", threshold]
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in north["Arguments"]["ProcessingInputs"]}[
        "champion"
    ] == f"{PROD_PREFIX}3/model.tar.gz"
    assert arguments(south)[:2] == ["--champion-version", "none"]
    assert arguments(south)[-4:] == ["--segment", "south-2", "--threshold", threshold]
    assert "champion" not in {i["InputName"] for i in south["Arguments"]["ProcessingInputs"]}


def test_the_gate_requires_both_conditions_of_every_segment(definition):
    gate = by_name(definition)["MetricGate"]["Arguments"]
    metric = SEG_CFG.pipeline.metric
    expected = []
    for segment in SEGMENTS:
        report = {"Get": f"Steps.Evaluate-{segment}.PropertyFiles.EvaluationReport"}
        value = {
            "Std:JsonGet": {"PropertyFile": report, "Path": f"binary_classification_metrics.{metric}.value"}
        }
        required = {"Std:JsonGet": {"PropertyFile": report, "Path": "champion_comparison.required"}}
        expected += [
            {
                "Type": "GreaterThanOrEqualTo",
                "LeftValue": value,
                "RightValue": SEG_CFG.pipeline.metric_threshold,
            },
            {"Type": "GreaterThanOrEqualTo", "LeftValue": value, "RightValue": required},
        ]
    assert gate["Conditions"] == expected


def test_the_failure_message_names_each_failing_segment(definition):
    message = by_name(definition)["MetricBelowThreshold"]["Arguments"]["ErrorMessage"]["Std:Join"]
    verdicts = [
        {
            "Std:JsonGet": {
                "PropertyFile": {"Get": f"Steps.Evaluate-{s}.PropertyFiles.EvaluationReport"},
                "Path": "segment.failure",
            }
        }
        for s in SEGMENTS
    ]
    assert message["Values"][1:] == verdicts
    assert "no segment registered" in message["Values"][0]


def test_each_version_registers_with_its_segment_and_the_runs_set(definition):
    steps = by_name(definition)
    for segment in SEGMENTS:
        register = steps[f"Register-{segment}"]["Arguments"]
        assert register["ModelPackageGroupName"] == SEG_CFG.group_arn("dev")
        assert register["ModelApprovalStatus"] == "PendingManualApproval"
        metadata = register["CustomerMetadataProperties"]
        assert metadata["segment"] == segment
        assert metadata["segment_column"] == "region"
        assert metadata["segment_set"] == EXECUTION == metadata["pipeline_execution_id"]
        assert metadata["test_data_uri"]["Std:Join"]["Values"][-2:] == ["test", segment]
        assert metadata["champion_version"] == (
            "arn:aws:sagemaker:x:1:model-package/p/3" if segment == "north" else "none"
        )
        container = register["InferenceSpecification"]["Containers"][0]
        assert container["ModelDataUrl"] == {"Get": f"Steps.Train-{segment}.ModelArtifacts.S3ModelArtifacts"}
        statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][0]
        assert statistics == {
            "Get": f"Steps.Evaluate-{segment}.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
        }


def test_the_unsegmented_definition_has_no_segment_anything(aws_env):
    definition = build(config.parse(RAW))
    steps = by_name(definition)
    assert [s["Name"] for s in definition["Steps"]][:3] == ["Preprocess", "Train", "Evaluate"]
    assert not any("--segment" in a for a in arguments(steps["Evaluate"]) + arguments(steps["Preprocess"]))
    assert not {"segment", "segment_column", "segment_set"} & set(
        steps["Register"]["Arguments"]["CustomerMetadataProperties"]
    )


def test_upsert_looks_up_each_segments_champion(configure, monkeypatch, aws_env, capsys):
    configure(SEG_RAW)
    served = f"{PROD_PREFIX}5/model.tar.gz"
    with account_with_input():
        session = Accounts(SEG_CFG).session("shared_services")
        sagemaker = session.client("sagemaker")
        sagemaker.create_model_package_group(ModelPackageGroupName=SEG_CFG.group("prod"))

        def released(column: str, at: str) -> str:
            return sagemaker.create_model_package(
                ModelPackageGroupName=SEG_CFG.group("prod"),
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": served}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                CustomerMetadataProperties={
                    "git_sha": GIT_SHA,
                    "segment": "south-2",
                    "segment_column": column,
                    "released_at": at,
                },
            )["ModelPackageArn"]

        arn = released(SEG_CFG.model.segments.column, "2025-03-01T00:00:00Z")
        # The same value under another column, released later: another segment's model.
        released(SEG_CFG.model.segments.column + "_old", "2025-04-01T00:00:00Z")
        service = PipelineService()
        client = service.attach(sagemaker)
        args = ["upsert", "--kind", "dev", "--branch", SEG_CFG.branches.dev, "--git-sha", GIT_SHA]
        code = cli.main(args, boto_session=session, sagemaker_client=client, out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 0, err
    assert "pipeline: champion of north: none" in err
    assert f"pipeline: champion of south-2: {arn}" in err
    [stored] = {tuple(v) for v in service.versions.values()}
    steps = by_name(json.loads(stored[-1]))
    assert arguments(steps["Evaluate-north"])[:2] == ["--champion-version", "none"]
    assert arguments(steps["Evaluate-south-2"])[:2] == ["--champion-version", arn]


def test_a_segmented_runs_versions_are_read_in_the_configured_order():
    watch = module("pipeline.watch")

    def step(name: str, arn: str | None = None) -> dict:
        return {"StepName": name, "Metadata": {"RegisterModel": {"Arn": arn}} if arn else {}}

    steps = [step("Register-south-2", "arn:s"), step("Train-north"), step("Register-north", "arn:n")]
    assert list(watch.registered_set(SEG_CFG, steps).items()) == [("north", "arn:n"), ("south-2", "arn:s")]
    assert watch.registered_set(SEG_CFG, [step("MetricBelowThreshold"), step("Register", "arn:x")]) == {}
