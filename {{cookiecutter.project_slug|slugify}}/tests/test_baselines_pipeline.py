"""The pipeline's quality baselines in the definition, the analyzer image table and its IAM grant.

- The check steps: a data-quality QualityCheckStep on the train split (features only, as an
  endpoint request carries them), the config's thresholds applied to its constraints, and a
  model-quality QualityCheckStep (BinaryClassification) on evaluate's predictions.csv; both
  compute a new baseline on every execution (skip_check / register_new_baseline literals).
- The Register step records them as DriftCheckBaselines and ModelMetrics, and the metadata
  promotion reads to know baselines are expected.
- The analyzer image: access/images.py's table equals the SDK's, a region without it is one
  PipelineConfigError, a table the SDK disagrees with fails the build; both pipeline roles may
  pull exactly that repository, and the policy checks hold them to it.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from moto import mock_aws

from deploy_helpers import config, create_bucket, make_config, module, new_session
from model_helpers import PACKAGE
from test_infra_policies import INFRA, checks, findings_for, statement
from test_pipeline import CFG, build, referenced_steps, steps_by_name

pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

access = module("access")
names = importlib.import_module(f"{PACKAGE}.pipeline.names")
plan_module = module("infra.plan")
baseline_script = module("steps.baseline")

JSON = "application/json"
PIPELINE_ROLES = (("FeaturePipelineRole", "pipeline-jobs"), ("PipelineRole", "pipeline-jobs"))


@pytest.fixture(scope="module")
def pipeline_module(aws_env):
    return importlib.import_module(f"{PACKAGE}.pipeline.pipeline")


@pytest.fixture(scope="module")
def baselines_module(aws_env):
    return importlib.import_module(f"{PACKAGE}.pipeline.baselines")


@pytest.fixture(scope="module")
def built(pipeline_module):
    return {kind: build(pipeline_module, CFG, kind) for kind in pipeline_module.KINDS}


@pytest.fixture(params=["feature", "dev"])
def steps(request, built):
    return steps_by_name(built[request.param]["definition"])


def output_uri(step: str, name: str) -> dict:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"}


def inputs(step: dict) -> dict:
    return {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}


def test_the_baseline_steps_run_between_evaluate_and_the_gate(built):
    for kind in built:
        top = [s["Name"] for s in built[kind]["definition"]["Steps"]]
        assert top == [
            "Preprocess",
            "Train",
            "Evaluate",
            "BaselineData",
            "DataQualityBaseline",
            "DataQualityConstraints",
            "ModelQualityBaseline",
            "MetricGate",
        ]


def test_data_quality_baseline_is_computed_on_the_train_split_features(steps):
    data = steps["BaselineData"]
    assert data["Type"] == "Processing"
    assert inputs(data)["train"]["S3Uri"] == output_uri("Preprocess", "train")
    assert data["Arguments"]["AppSpecification"]["ContainerArguments"] == ["features"]
    assert data["Arguments"]["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/baseline.py")

    check = steps["DataQualityBaseline"]
    assert check["Type"] == "QualityCheck" and check["CheckType"] == "DATA_QUALITY"
    assert referenced_steps(check) == {"BaselineData"}
    [dataset] = check["Arguments"]["ProcessingInputs"]
    assert dataset["S3Input"]["S3Uri"] == output_uri("BaselineData", "features")
    env = check["Arguments"]["Environment"]
    assert env["dataset_source"] == dataset["S3Input"]["LocalPath"]
    # No header, no target: the columns of a text/csv request as data capture records it.
    assert json.loads(env["dataset_format"]) == {"csv": {"header": False, "output_columns_position": "START"}}
    assert env["publish_cloudwatch_metrics"] == "Disabled"
    assert check["Arguments"]["AppSpecification"]["ImageUri"] == access.analyzer_image_uri(CFG.region)


def test_model_quality_baseline_is_computed_on_evaluates_predictions(steps):
    check = steps["ModelQualityBaseline"]
    assert check["Type"] == "QualityCheck" and check["CheckType"] == "MODEL_QUALITY"
    assert referenced_steps(check) == {"Evaluate"}
    [dataset] = check["Arguments"]["ProcessingInputs"]
    assert dataset["S3Input"]["S3Uri"] == {
        "Std:Join": {"On": "/", "Values": [output_uri("Evaluate", "evaluation"), "predictions.csv"]}
    }
    env = check["Arguments"]["Environment"]
    assert {k: env[k] for k in ("analysis_type", "problem_type")} == {
        "analysis_type": "MODEL_QUALITY",
        "problem_type": "BinaryClassification",
    }
    # predictions.csv's columns: probability,prediction,label (with a header row).
    assert (env["probability_attribute"], env["inference_attribute"], env["ground_truth_attribute"]) == (
        "probability",
        "prediction",
        "label",
    )
    assert json.loads(env["dataset_format"])["csv"]["header"] is True
    assert check["Arguments"]["AppSpecification"]["ImageUri"] == access.analyzer_image_uri(CFG.region)


def test_every_execution_computes_and_registers_its_own_baseline(steps):
    """Literals, not parameters: the first execution has no earlier baseline to check against,
    and no execution carries over a predecessor's baseline."""
    for name in ("DataQualityBaseline", "ModelQualityBaseline"):
        step = steps[name]
        assert step["SkipCheck"] is True and step["RegisterNewBaseline"] is True, name
        assert step["ModelPackageGroupName"] is None
        assert step["SuppliedBaselineStatistics"] is None and step["SuppliedBaselineConstraints"] is None


def test_the_constraints_step_applies_the_configured_thresholds(steps, baselines_module):
    step = steps["DataQualityConstraints"]
    assert inputs(step)["calculated"]["S3Uri"] == {
        "Get": "Steps.DataQualityBaseline.CalculatedBaselineConstraints"
    }
    args = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    expected = baselines_module.monitoring_constraints(CFG)
    assert args == ["constraints", *(f"--{k.replace('_', '-')}={v}" for k, v in expected.items())]
    assert set(expected) == {
        "comparison_threshold",
        "comparison_method",
        "datatype_check_threshold",
        "domain_content_threshold",
    }


def test_monitoring_constraints_come_from_the_config(baselines_module):
    custom = {"comparison_threshold": 0.3, "comparison_method": "Simple"}
    as_mapping = SimpleNamespace(monitoring=SimpleNamespace(constraints=custom))
    as_fields = SimpleNamespace(monitoring=SimpleNamespace(constraints=SimpleNamespace(**custom)))
    for cfg in (as_mapping, as_fields):
        values = baselines_module.monitoring_constraints(cfg)
        assert values == {**baselines_module.CONSTRAINT_DEFAULTS, **custom}
    assert baselines_module.monitoring_constraints(SimpleNamespace()) == dict(
        baselines_module.CONSTRAINT_DEFAULTS
    )


def test_register_records_drift_check_baselines_and_model_metrics(steps):
    register = steps["Register"]["Arguments"]
    constraints = {
        "Std:Join": {
            "On": "/",
            "Values": [output_uri("DataQualityConstraints", "constraints"), "constraints.json"],
        }
    }

    def source(uri):
        return {"ContentType": JSON, "S3Uri": uri}

    assert register["DriftCheckBaselines"] == {
        "ModelDataQuality": {
            "Statistics": source({"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckStatistics"}),
            "Constraints": source(constraints),
        },
        "ModelQuality": {
            "Constraints": source({"Get": "Steps.ModelQualityBaseline.BaselineUsedForDriftCheckConstraints"})
        },
    }
    metrics = register["ModelMetrics"]
    assert metrics["ModelDataQuality"] == {
        "Statistics": source({"Get": "Steps.DataQualityBaseline.CalculatedBaselineStatistics"}),
        "Constraints": source(constraints),
    }
    assert metrics["ModelQuality"]["Constraints"] == source(
        {"Get": "Steps.ModelQualityBaseline.CalculatedBaselineConstraints"}
    )
    # The evaluation report stays the model quality statistics.
    assert metrics["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][-1] == "evaluation.json"
    assert register["CustomerMetadataProperties"]["baselines"] == "registered"
    assert {"DataQualityBaseline", "ModelQualityBaseline", "DataQualityConstraints"} <= referenced_steps(
        steps["Register"]
    )


def test_baseline_outputs_stay_in_the_pipelines_prefix_and_are_encrypted(built):
    key = names.job_kms_key(CFG)
    for kind, result in built.items():
        steps = steps_by_name(result["definition"])
        for step in ("BaselineData", "DataQualityBaseline", "DataQualityConstraints", "ModelQualityBaseline"):
            config = steps[step]["Arguments"]["ProcessingOutputConfig"]
            assert config["KmsKeyId"] == key, step
            for output in config["Outputs"]:
                values = output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
                assert values[:3] == ["s3:/", CFG.names.artifact_bucket, values[2]], step
                assert values[2].startswith(CFG.names.artifact_prefixes[kind].rstrip("/")), (step, values)
                assert values[4] == step
            assert steps[step]["Arguments"]["RoleArn"] == names.execution_role_arn(CFG, kind)


# --- the analyzer image ----------------------------------------------------------------------


def sdk_analyzer_accounts() -> dict[str, str]:
    import sagemaker.core

    folder = Path(next(iter(sagemaker.core.__path__))) / "image_uri_config"
    return json.loads((folder / "model-monitor.json").read_text())["versions"][""]["registries"]


def test_the_analyzer_table_is_the_sdks_for_every_framework_image_region():
    sdk = sdk_analyzer_accounts()
    expected = {region: sdk[region] for region in access.IMAGE_ACCOUNTS if region in sdk}
    assert dict(access.ANALYZER_ACCOUNTS) == expected
    for region in set(access.IMAGE_ACCOUNTS) - set(sdk):
        with pytest.raises(config.ConfigError, match=f"aws.region is '{region}'"):
            access.analyzer_account(region)
    uri = access.analyzer_image_uri("eu-west-1")
    assert uri == f"{sdk['eu-west-1']}.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    assert access.is_analyzer_image(uri, "eu-west-1") and access.is_analyzer_image(
        uri + ":latest", "eu-west-1"
    )
    for bad in (
        uri.replace(sdk["eu-west-1"], "999999999999"),
        uri + "-evil",
        uri.replace("eu-west-1", "us-east-1"),
    ):
        assert not access.is_analyzer_image(bad, "eu-west-1"), bad


def test_a_region_without_the_analyzer_is_one_pipeline_config_error(baselines_module):
    region = sorted(set(access.IMAGE_ACCOUNTS) - set(access.ANALYZER_ACCOUNTS))[0]
    with pytest.raises(
        baselines_module.PipelineConfigError, match=f"aws.region is '{region}'.*Model Monitor"
    ):
        baselines_module.analyzer_image(SimpleNamespace(region=region))


def test_an_analyzer_table_the_sdk_disagrees_with_fails_the_build(pipeline_module, monkeypatch):
    images = module("access.images")
    monkeypatch.setattr(images, "ANALYZER_ACCOUNTS", {**images.ANALYZER_ACCOUNTS, CFG.region: "999999999999"})
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")
        session = new_session(region_name=CFG.region)
        create_bucket(session.client("s3"), CFG.names.artifact_bucket, CFG.region)
        with pytest.raises(pipeline_module.PipelineConfigError, match=r"999999999999.*expected them equal"):
            pipeline_module.get_pipeline(
                CFG,
                "dev",
                role_arn=names.execution_role_arn(CFG, "dev"),
                session=pipeline_module.pipeline_session(CFG, boto_session=session),
            )


@pytest.mark.parametrize(("role", "policy"), PIPELINE_ROLES)
def test_both_pipeline_roles_pull_exactly_the_analyzer_repository(role: str, policy: str):
    cfg = make_config("four")
    ctx = checks.Context.from_config(cfg)
    loaded = checks.load_template(INFRA / "data-science.yaml")
    [spec] = [s for s in plan_module.plan(cfg) if s.template == "data-science.yaml"]
    assert spec.parameters["AnalyzerImageAccountId"] == access.ANALYZER_ACCOUNTS[cfg.region]
    params = spec.resolved_parameters({"shared-services": {"ArtifactKeyArn": "arn:aws:kms:r:1:key/k"}})
    resolver = checks.Resolver(loaded, params, spec.account, ctx.region)
    resolved = resolver.value(statement(loaded, role, "PullAnalyzerImage", policy))
    assert resolved["Resource"] == access.analyzer_repository_arn(cfg.region)
    assert sorted(resolved["Action"]) == sorted(access.PULL_ACTIONS)
    assert findings_for("data-science.yaml") == []


def test_bootstrap_passes_the_analyzer_account_to_the_stacks_that_take_it():
    cfg = make_config("four")
    specs = plan_module.plan(cfg)
    for spec in specs:
        declared = "AnalyzerImageAccountId" in checks.load_template(INFRA / spec.template).get(
            "Parameters", {}
        )
        assert ("AnalyzerImageAccountId" in spec.parameters) == declared, spec.template
        if declared:
            assert spec.parameters["AnalyzerImageAccountId"] == access.ANALYZER_ACCOUNTS[cfg.region]
    assert any(s.template == "data-science.yaml" and "AnalyzerImageAccountId" in s.parameters for s in specs)


@pytest.mark.parametrize(("role", "policy"), PIPELINE_ROLES)
@pytest.mark.parametrize(
    "resource",
    [
        "arn:${AWS::Partition}:ecr:${AWS::Region}:*:repository/sagemaker-model-monitor-analyzer",
        "arn:${AWS::Partition}:ecr:${AWS::Region}:999999999999:repository/sagemaker-model-monitor-analyzer",
        "arn:${AWS::Partition}:ecr:${AWS::Region}:${AnalyzerImageAccountId}:repository/sagemaker-*",
    ],
)
def test_an_analyzer_grant_beyond_its_account_and_repository_fails(role: str, policy: str, resource: str):
    def mutate(t):
        statement(t, role, "PullAnalyzerImage", policy)["Resource"] = {"Fn::Sub": resource}

    found = findings_for("data-science.yaml", mutate)
    assert found and all("statement PullAnalyzerImage" in f for f in found), found
    assert any("only the analyzer's arn:aws:ecr:" in f for f in found), found


def test_the_analyzer_repository_inside_the_framework_statement_fails():
    analyzer = (
        "arn:${AWS::Partition}:ecr:${AWS::Region}:${AnalyzerImageAccountId}"
        ":repository/sagemaker-model-monitor-analyzer"
    )

    def mutate(t):
        framework = statement(t, "PipelineRole", "PullFrameworkImages", "pipeline-jobs")
        framework["Resource"] = [*framework["Resource"], {"Fn::Sub": analyzer}]

    found = findings_for("data-science.yaml", mutate)
    assert any("PullFrameworkImages" in f and "sagemaker-model-monitor-analyzer" in f for f in found), found


# --- steps/baseline.py -----------------------------------------------------------------------


def test_features_writes_the_request_columns_without_header_or_target(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    (train / "train.csv").write_text('churn,tenure,plan\n1,3,"gold, annual"\n0,,basic\n')
    (train / "schema.json").write_text(json.dumps({"target": "churn"}))
    assert (
        baseline_script.main(["features", "--train-dir", str(train), "--output-dir", str(tmp_path / "out")])
        == 0
    )
    assert (tmp_path / "out" / "features.csv").read_text() == '3,"gold, annual"\n,basic\n'


def test_features_refuses_a_table_whose_first_column_is_not_the_target(tmp_path, capsys):
    train = tmp_path / "train"
    train.mkdir()
    (train / "train.csv").write_text("tenure,churn\n3,1\n")
    (train / "schema.json").write_text(json.dumps({"target": "churn"}))
    assert (
        baseline_script.main(["features", "--train-dir", str(train), "--output-dir", str(tmp_path / "out")])
        == 1
    )
    assert capsys.readouterr().err.strip() == (
        f"baseline: {train / 'train.csv'} starts with column 'tenure'; expected the target 'churn' first"
    )
    assert not (tmp_path / "out" / "features.csv").exists()


def constraints_args(tmp_path, method="Simple"):
    return [
        "constraints",
        "--input-dir",
        str(tmp_path / "in"),
        "--output-dir",
        str(tmp_path / "out"),
        "--comparison-threshold=0.25",
        f"--comparison-method={method}",
        "--datatype-check-threshold=0.9",
        "--domain-content-threshold=0.8",
    ]


def write_suggested(tmp_path):
    (tmp_path / "in").mkdir()
    suggested = {
        "version": 0.0,
        "features": [{"name": "_c0", "inferred_type": "Integral", "completeness": 1.0}],
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
                "categorical_comparison_threshold": 0.1,
                "categorical_drift_method": "LInfinity",
            },
        },
    }
    (tmp_path / "in" / "constraints.json").write_text(json.dumps(suggested))
    return suggested


def test_constraints_sets_the_monitoring_config_thresholds(tmp_path):
    suggested = write_suggested(tmp_path)
    assert baseline_script.main(constraints_args(tmp_path)) == 0
    written = json.loads((tmp_path / "out" / "constraints.json").read_text())
    assert written["features"] == suggested["features"]
    assert written["monitoring_config"] == {
        **suggested["monitoring_config"],
        "datatype_check_threshold": 0.9,
        "domain_content_threshold": 0.8,
        "distribution_constraints": {
            **suggested["monitoring_config"]["distribution_constraints"],
            "comparison_threshold": 0.25,
            "comparison_method": "Simple",
        },
    }


def test_constraints_refuses_an_unknown_comparison_method(tmp_path, capsys):
    write_suggested(tmp_path)
    assert baseline_script.main(constraints_args(tmp_path, method="Fuzzy")) == 1
    assert "--comparison-method is 'Fuzzy'; expected one of Robust, Simple" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
