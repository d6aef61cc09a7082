"""QA tests a version with its own held-out test split, and every QA failure rolls the endpoint back.

- The pipeline's Register step records where that execution's preprocess wrote the test split
  (customer metadata `test_data_uri`, the same location as the Preprocess "test" output).
- `registry samples --arn ARN --output-dir DIR` (moto) downloads that split's test.csv and
  schema.json; the QA endpoint tests then send its rows (Stubber: the exact request bodies).
- `endpoint-test --rollback-on-failure` rolls back for samples it cannot use, an error inside
  the suite and a report it cannot write, not only for failed checks (Stubber: call sequences).
"""

from __future__ import annotations

import io
import json
import re
import warnings

import pytest
import yaml
from botocore.response import StreamingBody
from moto import mock_aws

from deploy_helpers import (
    ROOT,
    assert_done,
    create_bucket,
    endpoint_response,
    make_raw,
    module,
    new_session,
    register_version,
    stubbed_as,
)
from rollback_scenarios import ROLLBACK_CALLS, prod_config, rollback_names, stub_back, stub_rollback_start

promotion_cli = module("promotion.cli")
cli_release = module("promotion.cli_release")
deploy_cli = module("deploy.cli")
metadata = module("promotion.metadata")
suite = module("endpoint_tests.suite")
config = module("config")

pytestmark = pytest.mark.usefixtures("fake_aws")
TEST_CSV = "target,age,plan\n1,34,pro\n0,,basic\n1,51.5,\n"
SCHEMA = {
    "target": "target",
    "label_mapping": {"no": 0, "yes": 1},
    "features": [
        {"name": "age", "type": "numeric"},
        {"name": "plan", "type": "categorical", "categories": ["basic", "pro"]},
    ],
}


# --- the pipeline records where the split is ----------------------------------------------


def dev_definition(cfg) -> dict:
    pipeline = module("pipeline.pipeline")
    names = module("pipeline.names")
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")
        boto_session = new_session(region_name=cfg.region)
        create_bucket(boto_session.client("s3"), cfg.names.artifact_bucket, cfg.region)
        built = pipeline.get_pipeline(
            cfg,
            "dev",
            role_arn=names.execution_role_arn(cfg, "dev"),
            session=pipeline.pipeline_session(cfg, boto_session=boto_session),
            git_sha="0" * 40,
            branch=cfg.branches.dev,
        )
        return json.loads(built.definition())


def resolve(value, execution_id: str):
    """A definition value as SageMaker Pipelines resolves it, for the execution variables."""
    if isinstance(value, dict) and set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        return join["On"].join(str(resolve(v, execution_id)) for v in join["Values"])
    if value == {"Get": "Execution.PipelineExecutionId"}:
        return execution_id
    return value


def test_register_records_the_executions_test_split_location(monkeypatch):
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    raw = make_raw("baked")
    raw["registry"]["kms_key_arn"] = (
        f"arn:aws:kms:{raw['aws']['region']}:{raw['aws']['accounts']['shared_services']}:key/1234abcd-12ab"
    )
    cfg = config.parse(raw)
    definition = dev_definition(cfg)
    steps = {s["Name"]: s for s in definition["Steps"]}
    [register] = steps["MetricGate"]["Arguments"]["IfSteps"]
    recorded = register["Arguments"]["CustomerMetadataProperties"][cli_release.TEST_DATA_KEY]
    [test_output] = [
        o
        for o in steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        if o["OutputName"] == "test"
    ]
    assert recorded == test_output["S3Output"]["S3Uri"]  # the very place preprocess writes the split
    uri = resolve(recorded, "a1b2c3d4e5f6")
    assert (
        uri == f"s3://{cfg.names.artifact_bucket}/{cfg.names.pipelines['dev']}/a1b2c3d4e5f6/Preprocess/test"
    )
    assert uri.startswith(f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['dev']}")
    metadata.check_customer_metadata({cli_release.TEST_DATA_KEY: uri}, "Register")  # SageMaker's rules


# --- registry samples (moto) ----------------------------------------------------------------


@pytest.fixture
def registry(accounts, configure):
    raw = make_raw("four")
    raw["environments"]["qa"]["tests"]["burst_requests"] = 2
    cfg = config.parse(raw)
    configure(raw)
    shared = accounts(cfg).session("shared_services")
    create_bucket(shared.client("s3"), cfg.names.artifact_bucket, cfg.region)
    return cfg, shared


def put_split(cfg, shared, files: dict[str, str], execution: str = "exec1") -> str:
    folder = f"{cfg.names.pipelines['dev']}/{execution}/Preprocess/test"
    for name, body in files.items():
        shared.client("s3").put_object(
            Bucket=cfg.names.artifact_bucket, Key=f"{folder}/{name}", Body=body.encode()
        )
    return f"s3://{cfg.names.artifact_bucket}/{folder}"


def samples_command(run_cli, shared, arn, out):
    return run_cli(promotion_cli.main, ["samples", "--arn", arn, "--output-dir", str(out)], shared)


def test_registry_samples_downloads_the_split_the_version_names(registry, run_cli, tmp_path):
    cfg, shared = registry
    folder = put_split(cfg, shared, {"test.csv": TEST_CSV, "schema.json": json.dumps(SCHEMA)})
    put_split(cfg, shared, {"test.csv": "target,age,plan\n0,1,x\n"}, execution="another-run")
    arn = register_version(shared, cfg, metadata={cli_release.TEST_DATA_KEY: folder})
    code, out, err = samples_command(run_cli, shared, arn, tmp_path / "qa")
    assert code == 0, err
    assert (tmp_path / "qa" / "test.csv").read_text() == TEST_CSV
    assert json.loads((tmp_path / "qa" / "schema.json").read_text()) == SCHEMA
    lines = out.splitlines()
    assert f"samples={tmp_path / 'qa' / 'test.csv'}" in lines
    assert f"test_data_uri={folder}" in lines and "truncated=false" in lines
    loaded = suite.load_samples(tmp_path / "qa" / "test.csv", 50, cfg.model.target_column)
    assert loaded == [
        ({"age": 34.0, "plan": "pro"}, 1),
        ({"age": None, "plan": "basic"}, 0),
        ({"age": 51.5, "plan": None}, 1),
    ]


def test_a_version_without_the_split_location_is_refused(registry, run_cli, tmp_path):
    cfg, shared = registry
    arn = register_version(shared, cfg)
    code, out, err = samples_command(run_cli, shared, arn, tmp_path / "qa")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {arn} has no test_data_uri customer metadata")
    assert not (tmp_path / "qa").exists()


def test_a_split_folder_without_test_csv_is_refused(registry, run_cli, tmp_path):
    cfg, shared = registry
    folder = put_split(cfg, shared, {"schema.json": json.dumps(SCHEMA)})
    arn = register_version(shared, cfg, metadata={cli_release.TEST_DATA_KEY: folder})
    code, _, err = samples_command(run_cli, shared, arn, tmp_path / "qa")
    assert code == 1
    assert err.strip() == f"error: no test.csv in {folder}, the held-out test split {arn} names"


def test_a_large_split_is_cut_after_its_last_full_line(registry, run_cli, tmp_path, monkeypatch):
    cfg, shared = registry
    monkeypatch.setattr(cli_release, "MAX_SAMPLE_BYTES", 40)
    folder = put_split(cfg, shared, {"test.csv": TEST_CSV})
    arn = register_version(shared, cfg, metadata={cli_release.TEST_DATA_KEY: folder})
    code, out, _ = samples_command(run_cli, shared, arn, tmp_path / "qa")
    assert code == 0 and "truncated=true" in out.splitlines() and "schema=" in out.splitlines()
    assert (tmp_path / "qa" / "test.csv").read_text() == "target,age,plan\n1,34,pro\n0,,basic\n"


def test_the_dev_workflow_sends_qa_the_split_it_downloaded():
    """deploy-qa downloads the split with the QA registry identity before the deploy and hands it
    to the endpoint tests, which roll QA back on any failure."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "dev.yml").read_text())
    steps = workflow["jobs"]["deploy-qa"]["steps"]
    roles, role = [], None
    for step in steps:
        if "configure-aws-credentials" in step.get("uses", ""):
            role = step["with"]["role-to-assume"]
        roles.append(role)
    runs = [step.get("run", "") for step in steps]
    [download] = [i for i, run in enumerate(runs) if " registry samples " in run]
    [deploy] = [i for i, run in enumerate(runs) if " deploy --env qa " in run]
    [tests] = [i for i, run in enumerate(runs) if " endpoint-test --env qa " in run]
    assert download < deploy < tests
    assert "env.REGISTRY_ROLE_ARN" in roles[download]  # the QA registry identity, not the deploy one
    assert '--arn "$PACKAGE_ARN"' in runs[download]
    folder = re.search(r'--output-dir "([^"]+)"', runs[download]).group(1)
    assert f'--samples "{folder}/test.csv"' in runs[tests] and "--rollback-on-failure" in runs[tests]


def answer(payload) -> dict:
    body = json.dumps(payload).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


def test_qa_sends_the_held_out_rows_as_raw_records(registry, run_cli, tmp_path, recorder):
    """The split downloaded with the registry identity is what reaches the QA endpoint."""
    cfg, shared = registry
    folder = put_split(cfg, shared, {"test.csv": TEST_CSV, "schema.json": json.dumps(SCHEMA)})
    arn = register_version(shared, cfg, metadata={cli_release.TEST_DATA_KEY: folder})
    assert samples_command(run_cli, shared, arn, tmp_path / "qa")[0] == 0

    session, stubs = stubbed_as(cfg, "qa", "sagemaker", "sagemaker-runtime", recorder=recorder)
    name = cfg.environment("qa").endpoint_name
    stubs["sagemaker"].add_response("describe_endpoint", endpoint_response(cfg, "qa", "qa-config"))
    runtime = stubs["sagemaker-runtime"]
    three = {"predictions": [{"label": y, "probability": 0.9 if y else 0.1} for y in (1, 0, 1)]}
    one = {"predictions": [{"label": 1, "probability": 0.9}]}

    def invoke(body: bytes, content_type: str, payload) -> None:
        expected = {
            "EndpointName": name,
            "Body": body,
            "ContentType": content_type,
            "Accept": "application/json",
        }
        runtime.add_response("invoke_endpoint", answer(payload), expected)

    invoke(b"34.0,pro\n,basic\n51.5,\n", "text/csv", three)  # the held-out rows, gaps kept
    instances = [{"age": 34.0, "plan": "pro"}, {"age": None, "plan": "basic"}, {"age": 51.5, "plan": None}]
    invoke(json.dumps({"instances": instances}).encode(), "application/json", three)
    invoke(json.dumps({"instances": [{"age": None, "plan": None}]}).encode(), "application/json", one)
    invoke(b",\n", "text/csv", one)
    for _ in range(3):  # wrong width, text in "age", content type: 400 from the container
        runtime.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "bad",
            424,
            modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "bad"},
        )
    invoke(b"34.0,pro\n", "text/csv", one)
    invoke(b",basic\n", "text/csv", {"predictions": [{"label": 0, "probability": 0.1}]})
    args = [
        "endpoint-test",
        "--env",
        "qa",
        "--samples",
        str(tmp_path / "qa" / "test.csv"),
        "--report",
        str(tmp_path / "r.json"),
    ]
    code, _, err = run_cli(deploy_cli.main, args, session)
    assert code == 0, err
    assert_done(stubs)
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True


# --- every failure rolls back (Stubber, exact call sequence) --------------------------------


@pytest.fixture
def prod(configure):
    cfg = prod_config(configure)
    return cfg, rollback_names(cfg)


def rolled_back(cfg, names, recorder):
    session, stubs = stubbed_as(cfg, "prod", "sagemaker", "sagemaker-runtime", recorder=recorder)
    sm = stubs["sagemaker"]
    stub_rollback_start(sm, cfg, names)
    stub_back(sm, cfg, names)
    sm.add_response("describe_endpoint", endpoint_response(cfg, "prod", names["old"]))
    return session, stubs


def write_split(folder, csv_text: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.json").write_text(json.dumps(SCHEMA))
    (folder / "test.csv").write_text(csv_text)
    return folder / "test.csv"


BAD = {
    "no such file": (None, "No such file or directory"),
    "label not 0/1": ("target,age,plan\nyes,34,pro\n", "target 'target' is 'yes'; expected 0 or 1"),
    "wrong columns": ("target,age,city\n1,34,x\n", "missing ['plan'], unexpected ['city']"),
    "not UTF-8": (b"target,age,plan\n1,34,\xff\n", "can't decode byte 0xff"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_unusable_samples_roll_the_endpoint_back(prod, recorder, run_cli, tmp_path, case):
    cfg, names = prod
    text, message = BAD[case]
    path = tmp_path / "qa" / "test.csv"
    if isinstance(text, bytes):
        write_split(path.parent, "").write_bytes(text)
    elif text is not None:
        write_split(path.parent, text)
    session, stubs = rolled_back(cfg, names, recorder)
    report = tmp_path / "report.json"
    args = [
        "endpoint-test",
        "--env",
        "prod",
        "--rollback-on-failure",
        "--samples",
        str(path),
        "--report",
        str(report),
    ]
    code, out, err = run_cli(deploy_cli.main, args, session)
    assert code == 1
    assert_done(stubs)
    # No request reached the endpoint: the caller check, then the rollback, nothing else.
    assert recorder.operations == ["GetCallerIdentity", *ROLLBACK_CALLS, "DescribeEndpoint"]
    assert "passed=false" in out.splitlines()
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: endpoint tests failed (the samples cannot be used: ") and message in last
    assert last.endswith(f"{names['endpoint']} is back on {names['old']}")
    written = json.loads(report.read_text())  # what `registry record-qa` records on the version
    assert written["passed"] is False and [c["name"] for c in written["checks"]] == ["samples"]


def test_unusable_samples_without_rollback_are_a_usage_error(prod, recorder, run_cli, tmp_path):
    cfg, _ = prod
    path = write_split(tmp_path / "qa", "target,age,plan\nyes,34,pro\n")
    session, stubs = stubbed_as(cfg, "prod", "sagemaker", "sagemaker-runtime", recorder=recorder)
    code, out, err = run_cli(
        deploy_cli.main, ["endpoint-test", "--env", "prod", "--samples", str(path)], session
    )
    assert (code, out) == (2, "")
    assert_done(stubs)
    assert recorder.operations == ["GetCallerIdentity"]
    assert err.startswith("error: ") and "expected 0 or 1" in err and err.count("\n") == 1


def test_an_error_inside_the_suite_rolls_back(prod, recorder, run_cli, tmp_path, monkeypatch):
    cfg, names = prod
    path = write_split(tmp_path / "qa", TEST_CSV)

    def broken(*args, **kwargs):
        raise RuntimeError("the suite itself broke")

    monkeypatch.setattr(suite, "run_suite", broken)
    session, stubs = rolled_back(cfg, names, recorder)
    args = ["endpoint-test", "--env", "prod", "--rollback-on-failure", "--samples", str(path)]
    code, _, err = run_cli(deploy_cli.main, args, session)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == ["GetCallerIdentity", *ROLLBACK_CALLS, "DescribeEndpoint"]
    assert "(the suite stopped: RuntimeError: the suite itself broke)" in err.strip().splitlines()[-1]


def test_a_report_that_cannot_be_written_rolls_back(prod, recorder, run_cli, tmp_path, monkeypatch):
    cfg, names = prod
    path = write_split(tmp_path / "qa", TEST_CSV)
    passing = suite.SuiteReport(passed=True, checks=[suite.Check("ping", True)], latency={}, target="x")
    monkeypatch.setattr(suite, "run_suite", lambda *args, **kwargs: passing)
    (tmp_path / "taken").mkdir()
    session, stubs = rolled_back(cfg, names, recorder)
    args = [
        "endpoint-test",
        "--env",
        "prod",
        "--rollback-on-failure",
        "--samples",
        str(path),
        "--report",
        str(tmp_path / "taken"),
    ]
    code, out, err = run_cli(deploy_cli.main, args, session)
    assert code == 1
    assert_done(stubs)
    assert recorder.operations == ["GetCallerIdentity", *ROLLBACK_CALLS, "DescribeEndpoint"]
    assert "passed=false" in out.splitlines()
    assert "(the report cannot be written: " in err.strip().splitlines()[-1]
