"""The SageMaker pipeline definition, built offline under moto (no AWS account).

The definition is built once per branch kind (module-scoped fixture) and inspected as the
JSON SageMaker Pipelines receives. The CLI's other commands (upsert, start, run and the
execution watch) are in test_pipeline_cli.py.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import json
import re
import threading
import warnings

import pytest
import requests
from moto import mock_aws

from base_config import BASE
from deploy_helpers import FOUR_ACCOUNTS, create_bucket, new_session
from model_helpers import PACKAGE, config
from model_helpers import ROOT as REPO

# One xdist worker imports the SageMaker SDK and builds these definitions once
# (with `--dist loadgroup`; without it the mark does nothing).
pytestmark = pytest.mark.xdist_group("sagemaker-sdk")

cli = importlib.import_module(f"{PACKAGE}.pipeline.cli")
names = importlib.import_module(f"{PACKAGE}.pipeline.names")
registry = importlib.import_module(f"{PACKAGE}.promotion.metadata")

# The baked config; across accounts with the artifact key's ARN set, as the jobs need it there.
RAW = copy.deepcopy(BASE)
if len(set(RAW["aws"]["accounts"].values())) > 1:
    RAW["registry"]["kms_key_arn"] = (
        f"arn:aws:kms:{RAW['aws']['region']}:{RAW['aws']['accounts']['shared_services']}:key/5678abcd-12ab"
    )
CFG = config.parse(RAW)
REGION = CFG.region
FRAMEWORK = CFG.model.framework
JOB_STEPS = ("Preprocess", "Train", "Evaluate")
GIT_SHA = "0123456789abcdef0123456789abcdef01234567"
BRANCH = f"{CFG.branches.feature_prefix}better-model"
# The start parameters: none of them decides whether or how a model is registered.
PARAMETERS = {"InputDataUri", "InputDataVersion", "ProcessingInstanceType", "TrainingInstanceType"}


def pipeline_of(kind: str, cfg=CFG) -> str:
    return names.pipeline_name(cfg, kind, BRANCH)


@pytest.fixture(scope="module")
def pipeline_module(aws_env):
    return importlib.import_module(f"{PACKAGE}.pipeline.pipeline")


@pytest.fixture(scope="module")
def outbound_http():
    """URLs requested through `requests` (what the SDK's telemetry uses) while the fixtures build."""
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(requests, "get", lambda url, *args, **kwargs: calls.append(url))
        yield calls


def record_call(calls: list[str], event_name: str, **_kwargs) -> None:
    calls.append(event_name)


def build(pipeline_module, cfg, kind: str, champion=None) -> dict:
    """Build `kind` for `cfg` under moto: the definition dict, the S3 keys uploaded while building
    it, and the AWS API calls made by get_pipeline() itself and by definition()."""
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")
        calls: list[str] = []
        boto_session = new_session(region_name=cfg.region)
        boto_session.events.register("before-call", functools.partial(record_call, calls))
        create_bucket(boto_session.client("s3"), cfg.names.artifact_bucket, cfg.region)
        calls.clear()
        session = pipeline_module.pipeline_session(cfg, boto_session=boto_session)
        pipeline = pipeline_module.get_pipeline(
            cfg,
            kind,
            role_arn=names.execution_role_arn(cfg, kind),
            session=session,
            git_sha=GIT_SHA,
            branch=BRANCH,
            champion=champion,
        )
        factory_calls = list(calls)
        definition = json.loads(pipeline.definition())
        definition_calls = calls[len(factory_calls) :]
        listing = boto_session.client("s3").list_objects_v2(Bucket=cfg.names.artifact_bucket)
        keys = [obj["Key"] for obj in listing.get("Contents", [])]
        for thread in threading.enumerate():  # the SDK sends telemetry from background threads
            if thread.name.startswith("sagemaker"):
                thread.join(timeout=10)
    return {
        "definition": definition,
        "keys": keys,
        "factory_calls": factory_calls,
        "definition_calls": definition_calls,
    }


@pytest.fixture(scope="module")
def built(pipeline_module, outbound_http):
    """`build` for both kinds of the baked config."""
    return {kind: build(pipeline_module, CFG, kind) for kind in pipeline_module.KINDS}


@pytest.fixture(params=["feature", "dev"])
def kind(request):
    return request.param


@pytest.fixture
def definition(built, kind):
    return built[kind]["definition"]


def steps_by_name(definition: dict) -> dict:
    """Every step, including those nested in the ConditionStep's branches, by name."""
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for nested in step["Arguments"].get(branch, []):
                found[nested["Name"]] = nested
    return found


def references(value) -> set[str]:
    """All `Get` expressions inside a JSON value (step properties, parameters, execution vars)."""
    if isinstance(value, dict):
        found = {value["Get"]} if isinstance(value.get("Get"), str) else set()
        for item in value.values():
            found |= references(item)
        return found
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    return set()


def referenced_steps(step: dict) -> set[str]:
    return {ref.split(".")[1] for ref in references(step["Arguments"]) if ref.startswith("Steps.")}


def test_top_level_steps_and_branches(definition, pipeline_module):
    baselines = importlib.import_module(f"{PACKAGE}.pipeline.baselines").STEPS
    assert [s["Name"] for s in definition["Steps"]] == [
        "Preprocess",
        "Train",
        "Evaluate",
        *baselines,
        "MetricGate",
    ]
    gate = definition["Steps"][-1]
    assert gate["Type"] == "Condition"
    assert [(s["Name"], s["Type"]) for s in gate["Arguments"]["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in gate["Arguments"]["ElseSteps"]] == [
        ("MetricBelowThreshold", "Fail")
    ]


def test_data_dependencies_chain_the_steps(definition):
    steps = steps_by_name(definition)
    assert referenced_steps(steps["Preprocess"]) == set()
    assert referenced_steps(steps["Train"]) == {"Preprocess"}
    assert referenced_steps(steps["Evaluate"]) == {"Preprocess", "Train"}
    assert referenced_steps(steps["MetricGate"]) >= {"Evaluate"}
    assert referenced_steps(steps["Register"]) >= {"Train", "Evaluate"}  # and the baselines
    train_inputs = {c["ChannelName"]: c for c in steps["Train"]["Arguments"]["InputDataConfig"]}
    for channel in ("train", "validation"):
        uri = train_inputs[channel]["DataSource"]["S3DataSource"]["S3Uri"]
        assert uri == {"Get": f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{channel}'].S3Output.S3Uri"}
    evaluate_inputs = {
        i["InputName"]: i["S3Input"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert evaluate_inputs["model"]["S3Uri"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert evaluate_inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert evaluate_inputs["test"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }


def test_gate_compares_the_evaluation_property_file_with_the_threshold(definition):
    steps = steps_by_name(definition)
    evaluate = steps["Evaluate"]
    [report] = evaluate["PropertyFiles"]
    assert report["FilePath"] == "evaluation.json"
    outputs = {o["OutputName"]: o for o in evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]}
    assert outputs[report["OutputName"]]["S3Output"]["LocalPath"] == "/opt/ml/processing/evaluation"

    threshold, champion = steps["MetricGate"]["Arguments"]["Conditions"]
    candidate = json_get(report, f"binary_classification_metrics.{CFG.pipeline.metric}.value")
    assert threshold["Type"] == champion["Type"] == "GreaterThanOrEqualTo"
    assert threshold["LeftValue"] == champion["LeftValue"] == candidate
    # The config's threshold, as a literal: no start parameter can lower it.
    assert threshold["RightValue"] == float(CFG.pipeline.metric_threshold)
    # And the champion's score on the same rows minus the tolerance, as evaluate computed it.
    assert champion["RightValue"] == json_get(report, "champion_comparison.required")


def json_get(report: dict, path: str) -> dict:
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": f"Steps.Evaluate.PropertyFiles.{report['PropertyFileName']}"},
            "Path": path,
        }
    }


def test_fail_step_message_shows_candidate_threshold_champion_and_tolerance(definition):
    fail = steps_by_name(definition)["MetricBelowThreshold"]
    values = fail["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    threshold, champion = steps_by_name(definition)["MetricGate"]["Arguments"]["Conditions"]
    assert threshold["LeftValue"] in values and champion["RightValue"] in values
    assert f"{float(CFG.pipeline.metric_threshold):g}" in values
    assert f"{CFG.champion.tolerance:g}" in values
    assert any(CFG.pipeline.metric in v for v in values if isinstance(v, str))
    # No champion before the first release: the message says so.
    assert "none" in values and "(none) minus the tolerance" in values


def test_without_a_champion_evaluate_has_no_champion_input_and_says_none(definition):
    evaluate = steps_by_name(definition)["Evaluate"]["Arguments"]
    assert [i["InputName"] for i in evaluate["ProcessingInputs"]] == ["model", "test", "code"]
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert arguments == [
        "--champion-version",
        "none",
        "--tolerance",
        f"{CFG.champion.tolerance:g}",
        "--metric",
        CFG.pipeline.metric,
    ]
    metadata = steps_by_name(definition)["Register"]["Arguments"]["CustomerMetadataProperties"]
    assert (metadata["champion_version"], metadata["champion_metric"]) == ("none", "none")


def test_register_step_targets_the_kinds_group_pending_manual_approval(definition, kind):
    register = steps_by_name(definition)["Register"]["Arguments"]
    assert register["ModelPackageGroupName"] == CFG.group_arn(kind)
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    [container] = register["InferenceSpecification"]["Containers"]
    # What the handler answers: JSON to endpoint requests, CSV lines to Batch Transform's Accept.
    specification = register["InferenceSpecification"]
    assert specification["SupportedResponseMIMETypes"] == ["application/json", "text/csv"]
    assert specification["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    image_repo = {"sklearn": "sagemaker-scikit-learn", "xgboost": "sagemaker-xgboost"}[FRAMEWORK]
    assert f"/{image_repo}:{CFG.pipeline.framework_versions[FRAMEWORK]}" in container["Image"]
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"] == [
        {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
        "evaluation.json",
    ]


def test_register_step_records_customer_metadata(definition):
    metadata = steps_by_name(definition)["Register"]["Arguments"]["CustomerMetadataProperties"]
    assert metadata["git_sha"] == GIT_SHA
    assert metadata["branch"] == BRANCH
    assert metadata["dataset_uri"] == {"Get": "Parameters.InputDataUri"}
    assert metadata["dataset_version"] == {"Get": "Parameters.InputDataVersion"}
    expected = {**CFG.model.hyperparameters[FRAMEWORK], "framework": FRAMEWORK}
    pairs = dict(item.split("=", 1) for item in metadata["hyperparameters"].split(" "))
    assert pairs == {key: str(value) for key, value in expected.items()}
    literal = {key: value for key, value in metadata.items() if isinstance(value, str)}
    registry.check_customer_metadata(literal, "Register")  # what SageMaker would accept


def test_parameters_and_defaults(definition):
    params = {p["Name"]: p for p in definition["Parameters"]}
    pipe = CFG.pipeline
    assert params["InputDataUri"]["DefaultValue"] == pipe.input_data_uri
    assert params["ProcessingInstanceType"]["DefaultValue"] == pipe.processing_instance_type
    assert params["TrainingInstanceType"]["DefaultValue"] == pipe.training_instance_type
    assert set(params) == PARAMETERS
    steps = steps_by_name(definition)
    for name in ("Preprocess", "Evaluate"):
        cluster = steps[name]["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert cluster["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}
    resources = steps["Train"]["Arguments"]["ResourceConfig"]
    assert resources["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    preprocess_input = steps["Preprocess"]["Arguments"]["ProcessingInputs"][0]["S3Input"]
    assert preprocess_input["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    # The data contract of config `model` reaches the preprocess script as its arguments.
    app = steps["Preprocess"]["Arguments"]["AppSpecification"]
    assert app["ContainerArguments"] == CFG.model.preprocess_arguments()


def test_no_start_parameter_reaches_the_gate_or_the_approval_status(definition):
    """What a branch job could pass at start time cannot lower the bar or approve: the gate and
    the registration's status reference no parameter at all."""
    steps = steps_by_name(definition)
    assert references(steps["MetricGate"]["Arguments"]["Conditions"]) == {
        f"Steps.Evaluate.PropertyFiles.{steps['Evaluate']['PropertyFiles'][0]['PropertyFileName']}"
    }
    register = steps["Register"]["Arguments"]
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    used = {ref.split(".", 1)[1] for ref in references(definition["Steps"]) if ref.startswith("Parameters.")}
    assert used <= PARAMETERS, used
    assert "Threshold" not in json.dumps(definition["Parameters"])
    assert "Approval" not in json.dumps(definition["Parameters"])


def test_job_steps_cache_and_retry(definition):
    steps = steps_by_name(definition)
    attempts = CFG.pipeline.retry_attempts
    for name in JOB_STEPS:
        step = steps[name]
        assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": CFG.pipeline.cache_expire_after}
        retried = {e for policy in step["RetryPolicies"] for e in policy["ExceptionType"]}
        assert {"Step.SERVICE_FAULT", "Step.THROTTLING", "SageMaker.CAPACITY_ERROR"} <= retried
        assert all(policy["MaxAttempts"] == attempts for policy in step["RetryPolicies"])
    assert steps["Register"]["RetryPolicies"][0]["MaxAttempts"] == attempts


def test_get_pipeline_calls_no_aws_and_definition_only_writes_code_to_s3(built, kind):
    assert built[kind]["factory_calls"] == []
    operations = {name.removeprefix("before-call.") for name in built[kind]["definition_calls"]}
    # Writes: code uploads only. Reads: the bucket check and the SDK's staging-bucket access probe.
    assert "s3.PutObject" in operations
    assert operations <= {"s3.PutObject", "s3.ListBuckets", "s3.HeadBucket", "iam.SimulatePrincipalPolicy"}


def test_jobs_run_the_step_scripts_uploaded_to_the_artifact_bucket(built, kind):
    definition, keys = built[kind]["definition"], built[kind]["keys"]
    steps = steps_by_name(definition)
    name = pipeline_of(kind)
    for step, script in (("Preprocess", "preprocess.py"), ("Evaluate", "evaluate.py")):
        app = steps[step]["Arguments"]["AppSpecification"]
        assert app["ContainerEntrypoint"] == ["python3", f"/opt/ml/processing/input/code/{script}"]
        code = next(i for i in steps[step]["Arguments"]["ProcessingInputs"] if i["InputName"] == "code")
        key = code["S3Input"]["S3Uri"].split("/", 3)[3]
        assert key.startswith(f"{name}/code/") and key in keys
    train = steps["Train"]["Arguments"]
    code = next(c for c in train["InputDataConfig"] if c["ChannelName"] == "code")
    prefix = code["DataSource"]["S3DataSource"]["S3Uri"].split("/", 3)[3]
    assert f"{prefix}/train.py" in keys and f"{prefix}/inference.py" in keys
    expected = {k: str(v) for k, v in CFG.model.hyperparameters[FRAMEWORK].items()}
    assert train["HyperParameters"] == {**expected, "framework": FRAMEWORK}
    assert train["OutputDataConfig"]["S3OutputPath"].startswith(f"s3://{CFG.names.artifact_bucket}/")


def test_outputs_are_encrypted_with_the_shared_artifact_key(definition):
    steps = steps_by_name(definition)
    # The jobs' key: the key ARN when set or when the jobs write across accounts, else the alias
    # ARN in the shared-services account (a bare alias would resolve in the caller's).
    key_arn = names.job_kms_key(CFG)
    assert key_arn.startswith(f"arn:aws:kms:{REGION}:{CFG.account_id('shared_services')}:")
    assert steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key_arn
    assert steps["Evaluate"]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key_arn
    assert steps["Train"]["Arguments"]["OutputDataConfig"]["KmsKeyId"] == key_arn


def test_each_kind_gets_its_own_name_and_group(built):
    groups = {kind: steps_by_name(b["definition"])["Register"]["Arguments"] for kind, b in built.items()}
    assert len({g["ModelPackageGroupName"] for g in groups.values()}) == len(groups)
    for kind, b in built.items():
        first_output = steps_by_name(b["definition"])["Preprocess"]["Arguments"]["ProcessingOutputConfig"]
        destination = first_output["Outputs"][0]["S3Output"]["S3Uri"]["Std:Join"]["Values"]
        assert pipeline_of(kind) in destination


def test_each_kind_writes_only_below_its_own_artifact_prefix(built, kind):
    """Every S3 location a job writes (outputs, training output, staged code) and every key the
    build uploaded is below the pipeline's name, so below the kind's prefix (what its role may write)."""
    definition, keys = built[kind]["definition"], built[kind]["keys"]
    allowed = CFG.names.artifact_prefixes[kind]
    own = names.s3_prefix(pipeline_of(kind))
    assert own.startswith(allowed)
    written = [key for key in s3_keys(definition) if not key.startswith(CFG.names.datasets_prefix)]
    assert len(written) >= 5, written  # 3 + 1 processing outputs, the training output, the code
    assert keys
    for key in [*written, *keys]:
        assert key.startswith(own), key


def test_building_sends_no_sdk_telemetry(built, outbound_http):
    assert outbound_http == []


# --- a 40-character model name: every S3 location on the one artifact bucket -------------------

LONG_MODEL_NAME = "a-model-name-of-forty-characters-exactly"
S3_URI = re.compile(r"s3://([^/\s]*)")
S3_URI_KEY = re.compile(r"s3://(\S*)")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def s3_keys(value) -> list[str]:
    """The key (or the literal key prefix of a joined location) of every S3 location in a
    definition, in the same walk as s3_buckets."""
    if isinstance(value, dict):
        join = value.get("Std:Join")
        if isinstance(join, dict) and join.get("On") == "/" and join["Values"][:1] == ["s3:/"]:
            literal = []
            for part in join["Values"][2:]:
                if not isinstance(part, str):
                    break
                literal.append(part)
            return ["/".join(literal) + "/"]
        return [key for item in value.values() for key in s3_keys(item)]
    if isinstance(value, list):
        return [key for item in value for key in s3_keys(item)]
    if isinstance(value, str):
        return [match.split("/", 1)[1] if "/" in match else "" for match in S3_URI_KEY.findall(value)]
    return []


def s3_buckets(value) -> list[str]:
    """The bucket of every S3 location in a definition: literal s3:// URIs and the Std:Join
    expressions that build one from parts ("s3:/", bucket, ...)."""
    if isinstance(value, dict):
        join = value.get("Std:Join")
        if isinstance(join, dict) and join.get("On") == "/" and join["Values"][:1] == ["s3:/"]:
            return [join["Values"][1], *s3_buckets(join["Values"][2:])]
        return [bucket for item in value.values() for bucket in s3_buckets(item)]
    if isinstance(value, list):
        return [bucket for item in value for bucket in s3_buckets(item)]
    if isinstance(value, str):
        return S3_URI.findall(value)
    return []


@pytest.fixture(scope="module")
def long_name(pipeline_module, outbound_http):
    """The feature pipeline of a four-account config whose model name has the maximum 40
    characters, with the artifact key ARN set: (config, build)."""
    raw = config.read_raw(REPO / "config" / "project.json")
    raw["project"]["model_name"] = LONG_MODEL_NAME
    raw["aws"]["accounts"] = dict(FOUR_ACCOUNTS)
    shared = raw["aws"]["accounts"]["shared_services"]
    raw["registry"]["kms_key_arn"] = (
        f"arn:aws:kms:{raw['aws']['region']}:{shared}:key/1234abcd-12ab-34cd-56ef"
    )
    cfg = config.parse(raw)
    return cfg, build(pipeline_module, cfg, "feature")


def test_a_long_model_name_keeps_every_s3_location_on_one_valid_bucket(long_name):
    cfg, result = long_name
    assert len(LONG_MODEL_NAME) == 40
    bucket = cfg.names.artifact_bucket
    assert 3 <= len(bucket) <= 63 and BUCKET_NAME.match(bucket), bucket
    definition = result["definition"]
    buckets = s3_buckets(definition)
    # Input data, code, step outputs, training output: nothing may be missed or vacuous.
    assert len(buckets) >= 5
    assert json.dumps(definition).count("s3:") == len(buckets)
    assert set(buckets) == {bucket}, buckets
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert params["InputDataUri"]["DefaultValue"] == cfg.names.default_input_data_uri
    assert all(key.startswith(names.s3_prefix(pipeline_of("feature", cfg))) for key in result["keys"])


def test_jobs_writing_across_accounts_use_the_key_arn_not_the_alias(long_name):
    cfg, result = long_name
    assert cfg.account_id("data_science") != cfg.account_id("shared_services")
    steps = steps_by_name(result["definition"])
    key = cfg.kms_key_arn
    assert key.endswith(":key/1234abcd-12ab-34cd-56ef")
    assert ":alias/" not in json.dumps(result["definition"])
    assert steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert steps["Evaluate"]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert steps["Train"]["Arguments"]["OutputDataConfig"]["KmsKeyId"] == key


def test_unknown_kind_is_rejected(pipeline_module):
    with pytest.raises(pipeline_module.PipelineConfigError, match="unknown pipeline kind 'prod'"):
        pipeline_module.get_pipeline(CFG, "prod", role_arn="arn:aws:iam::111111111111:role/x")


# --- CLI: the definition it prints is the one built above ---------------------------------


def test_cli_definition_offline_prints_the_definition(aws_env, built, configure, capsys):
    configure(RAW)
    out = io.StringIO()
    code = cli.main(
        ["definition", "--offline", "--kind", "dev", "--git-sha", GIT_SHA, "--branch", BRANCH], out=out
    )
    assert code == 0
    printed = json.loads(out.getvalue())
    expected = built["dev"]["definition"]
    assert [s["Name"] for s in printed["Steps"]] == [s["Name"] for s in expected["Steps"]]
    assert printed["Parameters"] == expected["Parameters"]
    assert steps_by_name(printed)["MetricGate"] == steps_by_name(expected)["MetricGate"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"aws": "ap-southeast-7"}, "aws.region is 'ap-southeast-7'"),
        ({"version": "9.9-9"}, "pipeline.framework_versions"),
    ],
)
def test_an_image_the_sdk_does_not_know_is_one_config_error(pipeline_module, changes, named):
    """A region or framework version without a SageMaker image fails with the keys named, not a traceback."""
    raw = config.read_raw()
    if "aws" in changes:
        raw["aws"]["region"] = changes["aws"]
    if "version" in changes:
        raw["pipeline"]["framework_versions"][FRAMEWORK] = changes["version"]
    with pytest.raises(pipeline_module.PipelineConfigError, match=re.escape(named)):
        pipeline_module.images(config.parse(raw))


def test_offline_definition_across_accounts_without_the_key_arn_warns(aws_env, configure, capsys):
    """It runs no job and writes nothing, so it prints the definition (naming the alias) with
    one warning; upsert and run refuse the same config (test_pipeline_cli.py)."""
    raw = config.read_raw(REPO / "config" / "project.json")
    raw["aws"]["accounts"] = dict(FOUR_ACCOUNTS)
    raw["registry"]["kms_key_arn"] = ""
    configure(raw)
    out = io.StringIO()
    code = cli.main(["definition", "--offline", "--kind", "dev", "--branch", BRANCH], out=out)
    err = capsys.readouterr().err
    assert code == 0
    assert err.startswith("warning: this definition names the key alias; upsert and run refuse: ")
    assert "registry.kms_key_arn is empty" in err and err.count("\n") == 1
    cfg = config.parse(raw)
    train = steps_by_name(json.loads(out.getvalue()))["Train"]["Arguments"]
    assert train["OutputDataConfig"]["KmsKeyId"] == cfg.alias_arn("shared_services", cfg.names.kms_key_alias)


# --- with a champion: scored on the same rows, compared in the gate ------------------------------

CHAMPION_ARN = f"{CFG.packages_arn('prod').removesuffix('*')}4"
CHAMPION_URI = f"s3://{CFG.names.artifact_bucket}/{CFG.names.artifact_prefixes['prod']}3/model.tar.gz"


@pytest.fixture(scope="module")
def with_champion(pipeline_module, outbound_http):
    champion = importlib.import_module(f"{PACKAGE}.pipeline.champion").Champion(CHAMPION_ARN, CHAMPION_URI)
    return build(pipeline_module, CFG, "dev", champion)["definition"]


def test_with_a_champion_evaluate_reads_its_model_and_names_it(with_champion):
    evaluate = steps_by_name(with_champion)["Evaluate"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in evaluate["ProcessingInputs"]}
    assert inputs["champion"]["S3Uri"] == CHAMPION_URI  # a literal, not a parameter
    assert inputs["champion"]["LocalPath"] == "/opt/ml/processing/champion"
    # The same test split as the candidate: the rows are the same.
    assert inputs["test"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    assert evaluate["AppSpecification"]["ContainerArguments"] == [
        "--champion-version",
        CHAMPION_ARN,
        "--tolerance",
        f"{CFG.champion.tolerance:g}",
        "--metric",
        CFG.pipeline.metric,
    ]
    # The champion's model is read from the prod prefix, which the jobs read but never write.
    assert CHAMPION_URI.split("/", 3)[3].startswith(CFG.names.artifact_prefixes["prod"])


def test_with_a_champion_the_gate_and_the_metadata_name_it(with_champion):
    steps = steps_by_name(with_champion)
    [report] = steps["Evaluate"]["PropertyFiles"]
    threshold, champion = steps["MetricGate"]["Arguments"]["Conditions"]
    assert threshold["RightValue"] == float(CFG.pipeline.metric_threshold)
    assert champion["RightValue"] == json_get(report, "champion_comparison.required")
    values = steps["MetricBelowThreshold"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert json_get(report, "champion_comparison.champion") in values
    assert f"({CHAMPION_ARN}) minus the tolerance" in values
    metadata = steps["Register"]["Arguments"]["CustomerMetadataProperties"]
    assert metadata["champion_version"] == CHAMPION_ARN
    assert metadata["champion_metric"] == {
        "Std:Join": {"On": "", "Values": [json_get(report, "champion_comparison.champion")]}
    }
    registry.check_customer_metadata({"champion_version": CHAMPION_ARN}, "Register")
    # Nothing about the champion is a start parameter.
    params = {p["Name"] for p in with_champion["Parameters"]}
    assert params == PARAMETERS
