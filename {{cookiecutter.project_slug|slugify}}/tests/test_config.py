"""The one config: parsed once, every derived name computed in one place, one-line errors.

Each refusal names the key path, the value found and what is expected; the derived names are
checked against the limits AWS puts on them for the longest model name the template accepts.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import base_config
from base_config import BASE

ROOT = Path(__file__).resolve().parents[1]
RAW = copy.deepcopy(BASE)  # the suite's base config (base_config.py)
PACKAGE = RAW["project"]["package"]
config = importlib.import_module(f"{PACKAGE}.config")
S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
FOUR = {
    "data_science": "111111111111",
    "shared_services": "222222222222",
    "qa": "333333333333",
    "prod": "444444444444",
}


def raw(**changes) -> dict:
    """The rendered config with dotted-path changes, e.g. raw(**{"aws.region": "eu-west-1"})."""
    doc = copy.deepcopy(RAW)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return doc


DELETE = object()


def refusal(doc: dict) -> str:
    with pytest.raises(config.ConfigError) as caught:
        config.parse(doc)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_rendered_config_parses_into_frozen_values():
    cfg = config.load_config()
    assert cfg.project.model_name == RAW["project"]["model_name"]
    with pytest.raises(AttributeError):
        cfg.region = "eu-west-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.environment("prod").endpoint.autoscaling["enabled"] = False  # type: ignore[index]


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-7", "eu-central-2"])
def test_a_40_character_model_name_keeps_every_location_on_one_valid_bucket(region):
    model = "m" * 38 + "-x"
    cfg = config.parse(raw(**{"project.model_name": model, "aws.region": region, "aws.accounts": FOUR}))
    names = cfg.names
    assert S3_BUCKET.match(names.artifact_bucket), names.artifact_bucket
    assert cfg.pipeline.input_data_uri == f"s3://{names.artifact_bucket}/datasets/sample.csv"
    for bucket in names.capture_buckets.values():
        assert S3_BUCKET.match(bucket), bucket
    for name in [*names.groups.values(), *names.pipelines.values(), *names.endpoints.values()]:
        assert SAGEMAKER_NAME.match(name), name
    for role in names.roles.values():
        assert len(role) <= 64, role
    assert names.capture_buckets == {
        "qa": f"{model}-capture-333333333333",
        "prod": f"{model}-capture-444444444444",
    }


def test_derived_names_follow_the_accounts_and_region():
    cfg = config.parse(raw(**{"aws.accounts": FOUR, "aws.region": "eu-west-1"}))
    model = RAW["project"]["model_name"]
    assert cfg.names.artifact_bucket == f"{model[:24]}-artifacts-222222222222-eu-west-1"
    assert cfg.artifact_key() == f"arn:aws:kms:eu-west-1:222222222222:alias/{model}-artifacts"
    assert (
        cfg.github_role_arn("github_deploy_prod")
        == f"arn:aws:iam::444444444444:role/{model}-github-deploy-prod"
    )
    assert cfg.group_arn("dev") == f"arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/{model}-dev"
    qa, prod = cfg.environment("qa"), cfg.environment("prod")
    assert (qa.group_kind, qa.account, qa.approved_only) == ("dev", "333333333333", False)
    assert (prod.group_kind, prod.account, prod.approved_only) == ("prod", "444444444444", True)
    assert not cfg.single_account


@pytest.mark.parametrize("where", ["tables/x.csv", "datasets/", "model-dev/run/x.csv"])
def test_input_data_outside_the_datasets_prefix_is_refused(where):
    bucket = config.parse(RAW).names.artifact_bucket
    with pytest.raises(config.ConfigError) as caught:
        config.parse(raw(**{"pipeline.input_data_uri": f"s3://{bucket}/{where}"}))
    message = str(caught.value)
    assert message.startswith("pipeline.input_data_uri is ") and "\n" not in message
    assert message.endswith(
        "; expected an object or prefix in the artifact bucket's datasets folder, "
        f"s3://{bucket}/datasets/... (the pipeline roles read only that prefix; "
        "make upload-data puts data there)"
    )


def test_an_explicit_input_uri_and_key_arn_win():
    key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    bucket = config.parse(RAW).names.artifact_bucket
    tables = f"s3://{bucket}/datasets/tables/"
    cfg = config.parse(raw(**{"pipeline.input_data_uri": tables, "registry.kms_key_arn": key}))
    assert cfg.pipeline.input_data_uri == tables
    assert cfg.artifact_key() == key
    assert cfg.with_input_data_uri("s3://other/x.csv").pipeline.input_data_uri == "s3://other/x.csv"


def test_hyperparameters_are_exactly_what_the_train_script_takes():
    """config.HYPERPARAMETERS restates train.py's arguments (train.py runs alone in the image): equal."""
    train = importlib.import_module(f"{RAW['project']['package']}.steps.train")
    parser_types = {a.dest: a.type for a in train.arguments()._actions if a.dest not in ("help", "framework")}
    listed = {name: kind for params in config.HYPERPARAMETERS.values() for name, kind in params.items()}
    assert listed == parser_types
    for framework, params in RAW["model"]["hyperparameters"].items():
        assert set(params) <= set(config.HYPERPARAMETERS[framework])


def test_the_data_contract_keys_default_when_absent():
    doc = raw()
    for key in CONTRACT_KEYS:
        doc["model"].pop(key, None)
    model = config.parse(doc).model
    assert (model.drop_columns, model.categorical_columns, model.positive_label) == ((), None, None)
    assert (model.max_dropped_share, model.identifier_columns, model.min_class_count) == (0.05, "drop", 5)
    # The rendered config states every key, with those defaults.
    assert config.parse(RAW).model == model
    assert set(CONTRACT_KEYS) <= set(RAW["model"])


CONTRACT_KEYS = (
    "drop_columns",
    "categorical_columns",
    "positive_label",
    "max_dropped_share",
    "identifier_columns",
    "min_class_count",
)


@pytest.mark.parametrize(
    "contract",
    [
        {},
        {
            "model.drop_columns": ["PassengerId", "Customer ID", "-lead"],
            "model.categorical_columns": ["plan", "region"],
            "model.positive_label": "-1",
            "model.max_dropped_share": 0.2,
            "model.identifier_columns": "refuse",
            "model.min_class_count": 12,
        },
        {"model.categorical_columns": [], "model.positive_label": 2, "model.identifier_columns": "keep"},
        {"model.drop_columns": [f"column_{i:03d}_{'x' * 30}" for i in range(40)]},
    ],
    ids=["defaults", "every key", "no categorical columns", "a long drop list"],
)
def test_the_preprocess_step_reads_back_exactly_the_configured_contract(contract):
    """What the pipeline and the rehearsal pass (`preprocess_arguments`) parses, with the step's own
    parser, into the configured settings; each argument fits a processing job's 256 characters."""
    preprocess = importlib.import_module(f"{PACKAGE}.steps.preprocess")
    model = config.parse(raw(**contract)).model
    argv = model.preprocess_arguments()
    assert all(len(arg) <= 256 for arg in argv)
    args = preprocess.parse(argv)
    assert args.target == model.target_column
    assert tuple(args.drop_columns) == model.drop_columns
    categorical = None if args.categorical_columns is None else tuple(args.categorical_columns)
    assert categorical == model.categorical_columns
    assert args.positive_label == model.positive_label
    assert (args.max_dropped_share, args.identifier_columns, args.min_class_count) == (
        model.max_dropped_share,
        model.identifier_columns,
        model.min_class_count,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aws.accounts.qa": "12345"}, 'aws.accounts.qa is "12345"; expected a 12-digit AWS account ID'),
        ({"aws.region": "moon-1"}, 'aws.region is "moon-1"; expected an AWS region name'),
        ({"project.model_name": "Churn_Model"}, 'project.model_name is "Churn_Model"; expected lowercase'),
        ({"model.framework": "lightgbm"}, 'model.framework is "lightgbm"; expected one of sklearn, xgboost'),
        (
            {"pipeline.metric_threshold": 1.5},
            "pipeline.metric_threshold is 1.5; expected a number from 0 to 1",
        ),
        ({"pipeline.metric_threshold": "0.9"}, 'pipeline.metric_threshold is "0.9"; expected a number'),
        ({"pipeline.retry_attempts": 2.5}, "pipeline.retry_attempts is 2.5; expected a whole number"),
        (
            {"pipeline.input_data_uri": "data/x.csv"},
            'pipeline.input_data_uri is "data/x.csv"; expected an object',
        ),
        (
            {"pipeline.input_data_uri": "s3://team-data/x/"},
            "expected an object or prefix in the artifact bucket",
        ),
        (
            {"model.hyperparameters.xgboost": {"num_rounds": 150}},
            "model.hyperparameters.xgboost.num_rounds is not a hyperparameter steps/train.py takes for "
            "xgboost; expected one of eta, max_depth, num_round",
        ),
        (
            {"model.hyperparameters.sklearn.n_estimator": 10},
            "model.hyperparameters.sklearn.n_estimator is not a hyperparameter steps/train.py takes for "
            "sklearn; expected one of learning_rate, max_depth, n_estimators",
        ),
        ({"model.drop_columns": "id"}, 'model.drop_columns is "id"; expected a list of column names;'),
        ({"model.drop_columns": ["a,b"]}, 'model.drop_columns is ["a,b"]; expected a list of column names'),
        ({"model.drop_columns": [" id"]}, "no commas, no surrounding spaces"),
        (
            {"model.drop_columns": ["id", "id"]},
            'model.drop_columns lists "id" twice; expected each column once',
        ),
        (
            {"model.drop_columns": ["target"]},
            'model.drop_columns lists "target", the target_column; expected feature columns only',
        ),
        (
            {"model.categorical_columns": "plan"},
            'model.categorical_columns is "plan"; expected a list of column names or null',
        ),
        (
            {"model.categorical_columns": ["plan"], "model.drop_columns": ["plan"]},
            'model.categorical_columns lists "plan", which model.drop_columns drops; expected',
        ),
        ({"model.positive_label": True}, "model.positive_label is true; expected the label value"),
        ({"model.positive_label": ""}, 'model.positive_label is ""; expected the label value'),
        ({"model.max_dropped_share": 1.5}, "model.max_dropped_share is 1.5; expected a number from 0 to 1"),
        (
            {"model.identifier_columns": "warn"},
            'model.identifier_columns is "warn"; expected one of drop, refuse, keep',
        ),
        ({"model.min_class_count": 0}, "model.min_class_count is 0; expected a whole number from 1 to"),
        ({"model.min_class_count": 2.5}, "model.min_class_count is 2.5; expected a whole number"),
        ({"model.target_column": ""}, 'model.target_column is ""; expected a column name'),
        ({"model.drop_column": []}, "model.drop_column is not a setting this repository reads"),
        ({"model.hyperparameters.sklearn.max_depth": "deep"}, 'sklearn.max_depth is "deep"; expected'),
        ({"github.owner": ""}, 'github.owner is ""; expected a GitHub user or organisation name'),
        ({"branches.feature_prefix": ""}, 'branches.feature_prefix is ""; expected a branch name'),
        ({"registry.kms_key_arn": "arn:aws:s3:::bucket"}, 'registry.kms_key_arn is "arn:aws:s3:::bucket"'),
        ({"project.model_name": "xn--aml"}, "S3 bucket names may not start with xn--"),
        ({"pipeline.training_instance_type": "m5.large"}, "pipeline.training_instance_type is"),
        ({"iam": {}}, "iam is not a setting this repository reads"),
        ({"environments.qa.endpoint_name": "x"}, "environments.qa.endpoint_name is not a setting"),
        (
            {"environments.prod.endpoint.alarms.typo": 1},
            "environments.prod.endpoint.alarms.typo is not a setting",
        ),
        ({"environments.prod": DELETE}, "environments.prod is missing"),
        ({"branches.prod": RAW["branches"]["dev"]}, "branches.dev and branches.prod are both"),
        (
            {"environments.prod.endpoint.type": "batch"},
            'environments.prod.endpoint.type is "batch"; expected',
        ),
        (
            {"environments.prod.endpoint.traffic_shifting.canary_percent": 80},
            "environments.prod.endpoint.traffic_shifting.canary_percent must be 1-50",
        ),
        (
            {"environments.prod.endpoint.autoscaling.min_capacity": 5},
            "environments.prod.endpoint.autoscaling needs 1 <= min_capacity <= max_capacity",
        ),
        (
            {
                "environments.qa.endpoint.type": "serverless",
                "environments.qa.endpoint.serverless.memory_mb": 1500,
            },
            "environments.qa.endpoint.serverless.memory_mb is 1500; expected 1024-6144 in steps of 1024",
        ),
        (
            {
                "environments.qa.endpoint.type": "serverless",
                "environments.qa.endpoint.data_capture.enabled": True,
            },
            "environments.qa.endpoint.data_capture.enabled is true, but serverless endpoints do not support",
        ),
        (
            {"environments.local.tests.max_error_rate": 2},
            "environments.local.tests.max_error_rate is 2; expected",
        ),
        ({"registry.kms_key_arn": "alias/x"}, 'registry.kms_key_arn is "alias/x"; expected a KMS key ARN'),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key_path_value_and_expectation(changes, message):
    assert message in refusal(raw(**changes))


def test_load_config_names_the_file(tmp_path):
    path = tmp_path / "project.json"
    path.write_text(json.dumps(raw(**{"aws.accounts.prod": "x"})))
    with pytest.raises(config.ConfigError, match=rf"^{re.escape(str(path))}: aws.accounts.prod is \"x\""):
        config.load_config(path)
    path.write_text("{not json")
    with pytest.raises(config.ConfigError, match="is not valid JSON"):
        config.load_config(path)
    with pytest.raises(config.ConfigError, match="not found"):
        config.load_config(tmp_path / "missing.json")


def test_the_config_command_prints_the_derived_names_or_one_error(tmp_path, capsys):
    assert config.main([]) == 0
    shown = json.loads(capsys.readouterr().out)
    cfg = config.load_config()
    assert shown["artifact_bucket"] == cfg.names.artifact_bucket
    assert shown["input_data_uri"].startswith(f"s3://{cfg.names.artifact_bucket}/")
    assert shown["environments"]["prod"]["deploys_from"] == cfg.group("prod")
    bad = tmp_path / "project.json"
    bad.write_text(json.dumps(raw(**{"aws.region": 7})))
    assert config.main([str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and "aws.region is 7; expected a string" in captured.err


def test_the_config_command_warns_when_the_pipeline_cannot_run_yet(tmp_path, capsys):
    four = {"aws.accounts.shared_services": "222222222222", "aws.accounts.data_science": "111111111111"}
    path = tmp_path / "project.json"
    path.write_text(json.dumps(raw(**four, **{"registry.kms_key_arn": ""})))
    assert config.main([str(path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["artifact_bucket"]
    [line] = captured.err.splitlines()
    assert line.startswith(
        "warning: registry.kms_key_arn is empty; the pipeline's jobs write across accounts"
    )
    key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    path.write_text(json.dumps(raw(**four, **{"registry.kms_key_arn": key, "aws.region": "us-east-1"})))
    assert config.main([str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_the_config_command_keeps_the_cli_contract(capsys):
    with pytest.raises(SystemExit) as exit_info:
        config.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage: config [-h] [file]" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        config.main(["--verbose"])
    captured = capsys.readouterr()
    assert (exit_info.value.code, captured.out) == (2, "")
    assert captured.err == "error: unrecognized arguments: --verbose (see --help)\n"


def test_python_m_config_runs_on_the_standard_library_alone():
    """`python -m <package>.config` (make config) works, and importing the config loads nothing
    outside the standard library and this package: the deploy jobs install boto3 alone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("MLOPS_CONFIG", None)
    command = [sys.executable, "-m", f"{PACKAGE}.config"]
    shown = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    cfg = config.load_config()
    # Only a project whose jobs write across accounts without the key ARN gets the one warning.
    needs_key = cfg.account_id("data_science") != cfg.account_id("shared_services") and not cfg.kms_key_arn
    assert shown.returncode == 0
    assert (
        shown.stderr.startswith("warning: registry.kms_key_arn is empty") if needs_key else shown.stderr == ""
    )
    assert json.loads(shown.stdout)["artifact_bucket"] == config.load_config().names.artifact_bucket
    script = (
        f"import sys; before = set(sys.modules); import {PACKAGE}.config as c; c.load_config()\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        f"print(sorted(new - set(sys.stdlib_module_names) - set([{PACKAGE!r}])))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "[]"), loaded.stderr


def test_the_repository_config_file_parses_as_it_is():
    """The repository's own file (not the suite's base, base_config.py) is what make local and the
    workflows read: it parses, and a batch-only repository has no endpoint in QA or prod."""
    cfg = config.load_config(ROOT / "config" / "project.json")
    kinds = {env: cfg.environment(env).endpoint.kind for env in ("qa", "prod")}
    if base_config.is_batch_only(base_config.REPO_DOCUMENT):
        assert kinds == {"qa": "none", "prod": "none"}
        assert cfg.monitoring.environments == () and not cfg.champion.shadow.enabled
    else:
        assert kinds["qa"] in ("serverless", "real-time") and kinds["prod"] == "real-time"
