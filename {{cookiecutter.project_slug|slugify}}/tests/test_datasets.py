"""`python -m <package> data upload` (datasets.main): training data to the pipeline's input URI.

moto plays the shared-services account (artifact bucket, KMS alias, STS); botocore's Stubber
covers what moto does not check (ExpectedBucketOwner, refused calls). Each test asserts the
exit status, the exact output lines and the AWS operations made, in order.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY
from moto import mock_aws

from deploy_helpers import (
    REGION,
    SAMPLE_CSV,
    Accounts,
    Recorder,
    fake_aws_env,
    make_config,
    make_raw,
    module,
    stubbed,
    write_config,
)

config = module("config")
datasets = module("datasets")
ROOT = SAMPLE_CSV.parents[1]
CHECKS = ["GetCallerIdentity", "HeadBucket"]


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch, tmp_path):
    fake_aws_env(monkeypatch)
    # No profile or config file of the machine running the tests is read.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def no_aws(monkeypatch):
    """Any attempt to create a boto3 session or client fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS session or client was created")

    for name in ("Session", "client", "resource"):
        monkeypatch.setattr(boto3, name, refuse)


def use_config(tmp_path: Path, monkeypatch, layout: str = "baked", input_data_uri: str = ""):
    raw = make_raw(layout)
    raw["pipeline"]["input_data_uri"] = input_data_uri
    write_config(raw, tmp_path, monkeypatch)
    return config.parse(raw)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_line(path: Path | str, uri: str, data: bytes) -> str:
    return f"{path} -> {uri} ({len(data)} bytes, sha256 {digest(data)})"


def run(capsys, *args: str, session: Any = None) -> tuple[int, list[str], list[str]]:
    code = datasets.main(["upload", *args], session=session)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


class PutParams:
    """The parameters of every PutObject call (without the body), from a botocore event hook."""

    def __init__(self, session: boto3.Session) -> None:
        self.calls: list[dict[str, Any]] = []
        session.events.register("before-parameter-build.s3.PutObject", self)

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.calls.append({key: value for key, value in params.items() if key != "Body"})


def shared_services(cfg, recorder: Recorder, bucket: bool = True) -> boto3.Session:
    """The shared-services account's session under moto; with bucket=True it holds what
    bootstrap creates there for uploads: the versioned artifact bucket and the key alias."""
    session = Accounts(cfg, recorder).session("shared_services")
    if bucket:
        kms = session.client("kms")
        key = kms.create_key(Description="artifact key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=cfg.names.kms_key_alias, TargetKeyId=key)
        s3 = session.client("s3")
        where = {} if REGION == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
        s3.create_bucket(Bucket=cfg.names.artifact_bucket, **where)
        s3.put_bucket_versioning(
            Bucket=cfg.names.artifact_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    recorder.clear()
    return session


# --- moto: real uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["baked", "four"])
def test_file_goes_to_the_input_uri_with_the_artifact_key_and_its_sha256(
    layout, tmp_path, monkeypatch, capsys
):
    cfg = use_config(tmp_path, monkeypatch, layout)
    data = SAMPLE_CSV.read_bytes()
    bucket, key = cfg.names.artifact_bucket, cfg.pipeline.input_data_uri.split("/", 3)[3]
    recorder = Recorder()
    with mock_aws():
        session = shared_services(cfg, recorder)
        puts = PutParams(session)
        code, out, err = run(capsys, str(SAMPLE_CSV), session=session)
        operations = list(recorder.operations)
        head = session.client("s3").head_object(Bucket=bucket, Key=key)
        stored = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    assert (code, err) == (0, [])
    version = f"VersionId={head['VersionId']} ETag={head['ETag'].strip(chr(34))}"
    assert out == [
        f"{plan_line(SAMPLE_CSV, cfg.pipeline.input_data_uri, data)} uploaded {version}",
        f"input_data_uri={cfg.pipeline.input_data_uri}",
    ]
    assert operations == [*CHECKS, "HeadObject", "PutObject"]
    assert stored == data
    assert head["Metadata"] == {"sha256": digest(data)}
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == cfg.artifact_key()
    assert cfg.artifact_key() == cfg.alias_arn("shared_services", cfg.names.kms_key_alias)
    assert puts.calls == [
        {
            "Bucket": bucket,
            "Key": key,
            "ContentLength": len(data),
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
            "Metadata": {"sha256": digest(data)},
            "ExpectedBucketOwner": cfg.account_id("shared_services"),
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": cfg.artifact_key(),
        }
    ]


def test_folder_keeps_relative_paths_below_a_prefix_and_skips_hidden_files(tmp_path, monkeypatch, capsys):
    probe = make_config()
    prefix = f"s3://{probe.names.artifact_bucket}/{probe.names.datasets_prefix}churn/"
    cfg = use_config(tmp_path, monkeypatch, input_data_uri=prefix)
    folder = tmp_path / "data"
    files = {"train.csv": b"a,target\n1,0\n", "extra/more.csv": b"a,target\n2,1\n"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_bytes(b"x")
    recorder = Recorder()
    with mock_aws():
        session = shared_services(cfg, recorder)
        code, out, err = run(capsys, str(folder), session=session)
        operations = list(recorder.operations)
        listed = session.client("s3").list_objects_v2(Bucket=cfg.names.artifact_bucket)["Contents"]

    assert code == 0
    keys = sorted(obj["Key"] for obj in listed)
    assert keys == ["datasets/churn/extra/more.csv", "datasets/churn/train.csv"]
    # Sorted walk: a folder's own files first, then its sub-folders.
    expected = [plan_line(folder / "train.csv", prefix + "train.csv", files["train.csv"])]
    expected.append(plan_line(folder / "extra/more.csv", prefix + "extra/more.csv", files["extra/more.csv"]))
    assert [line.split(" uploaded ")[0] for line in out[:-1]] == expected
    assert out[-1] == f"input_data_uri={prefix}"
    assert err == [f"note: skipped 2 hidden files/folders below {folder}"]
    assert operations == [*CHECKS, "HeadObject", "PutObject", "HeadObject", "PutObject"]


def test_a_file_to_another_prefix_with_to_keeps_its_name(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch)
    target = f"s3://{cfg.names.artifact_bucket}/datasets/2025-01/"
    recorder = Recorder()
    with mock_aws():
        session = shared_services(cfg, recorder)
        code, out, err = run(capsys, str(SAMPLE_CSV), "--to", target, session=session)
    assert code == 0
    assert out[0].startswith(f"{SAMPLE_CSV} -> {target}sample.csv (")
    assert out[-1] == f"input_data_uri={target}"
    assert err == [
        f"note: {target} is not pipeline.input_data_uri ({cfg.pipeline.input_data_uri}); "
        "set it in config/project.json or pass --input-data-uri to the pipeline"
    ]


def test_a_repeat_makes_no_put_and_a_changed_file_is_uploaded_again(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch)
    data_file = tmp_path / "train.csv"
    data_file.write_bytes(b"a,target\n1,0\n")
    recorder = Recorder()
    with mock_aws():
        session = shared_services(cfg, recorder)
        first = run(capsys, str(data_file), session=session)
        recorder.clear()
        again = run(capsys, str(data_file), session=session)
        repeat_ops = list(recorder.operations)
        data_file.write_bytes(b"a,target\n1,0\n2,1\n")
        recorder.clear()
        changed = run(capsys, str(data_file), session=session)

    assert first[0] == again[0] == changed[0] == 0
    assert repeat_ops == [*CHECKS, "HeadObject"]
    assert "PutObject" not in repeat_ops
    uploaded_version = first[1][0].split(" uploaded ")[1]
    assert again[1][0].split(" unchanged ")[1] == uploaded_version
    assert recorder.operations == [*CHECKS, "HeadObject", "PutObject"]
    assert " uploaded " in changed[1][0]
    assert changed[1][0].split(" uploaded ")[1] != uploaded_version


def test_missing_bucket_fails_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch)
    recorder = Recorder()
    with mock_aws():
        session = shared_services(cfg, recorder, bucket=False)
        code, out, err = run(capsys, str(SAMPLE_CSV), session=session)
    assert (code, out) == (1, [])
    assert err == [
        f"error: s3 HeadBucket failed (404): bucket {cfg.names.artifact_bucket} does not exist; "
        "run make bootstrap (docs/infrastructure.md) to create it"
    ]
    assert recorder.operations == CHECKS


# --- Stubber: the exact requests, and refusals moto does not produce --------------------------------


def test_every_call_names_the_shared_services_owner(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch, "four")
    bucket, key = cfg.names.artifact_bucket, cfg.pipeline.input_data_uri.split("/", 3)[3]
    owner = cfg.account_id("shared_services")
    session, stubs = stubbed("sts", "s3")
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": owner, "Arn": f"arn:aws:iam::{owner}:user/admin", "UserId": "AIDA"},
    )
    stubs["s3"].add_response("head_bucket", {}, {"Bucket": bucket, "ExpectedBucketOwner": owner})
    stubs["s3"].add_client_error(
        "head_object",
        "404",
        "Not Found",
        404,
        expected_params={"Bucket": bucket, "Key": key, "ExpectedBucketOwner": owner},
    )
    stubs["s3"].add_response(
        "put_object",
        {"ETag": '"abc"', "VersionId": "v1"},
        {
            "Bucket": bucket,
            "Key": key,
            "Body": ANY,
            "ContentLength": SAMPLE_CSV.stat().st_size,
            "ChecksumSHA256": ANY,
            "Metadata": {"sha256": digest(SAMPLE_CSV.read_bytes())},
            "ExpectedBucketOwner": owner,
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": f"arn:aws:kms:{REGION}:{owner}:{cfg.names.kms_key_alias}",
        },
    )
    code, out, err = run(capsys, str(SAMPLE_CSV), session=session)
    assert (code, err) == (0, [])
    assert out[0].endswith(" uploaded VersionId=v1 ETag=abc")
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def test_expired_credentials_stop_before_any_s3_call(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch)
    session, stubs = stubbed("sts")  # an s3 client would fail the test
    stubs["sts"].add_client_error("get_caller_identity", "ExpiredToken", "The security token expired", 403)
    code, out, err = run(capsys, str(SAMPLE_CSV), session=session)
    assert (code, out) == (1, [])
    assert err == [
        "error: sts GetCallerIdentity failed (ExpiredToken): no working AWS credentials to write to "
        f"bucket {cfg.names.artifact_bucket}; check the credentials (--profile NAME or AWS_PROFILE)"
    ]


def test_a_bucket_of_another_owner_or_without_access_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch, "four")
    bucket, owner = cfg.names.artifact_bucket, cfg.account_id("shared_services")
    caller = f"arn:aws:sts::{cfg.account_id('data_science')}:assumed-role/admin/me"
    session, stubs = stubbed("sts", "s3")
    stubs["sts"].add_response(
        "get_caller_identity", {"Account": cfg.account_id("data_science"), "Arn": caller, "UserId": "AROA"}
    )
    stubs["s3"].add_client_error(
        "head_bucket",
        "403",
        "Forbidden",
        403,
        expected_params={"Bucket": bucket, "ExpectedBucketOwner": owner},
    )
    code, out, err = run(capsys, str(SAMPLE_CSV), session=session)
    assert (code, out) == (1, [])
    assert err == [
        f"error: s3 HeadBucket failed (403): bucket {bucket} owned by account {owner} is not reachable "
        f"with the credentials of {caller}; check the credentials (shared-services account or the "
        "data-science build role) or run make bootstrap"
    ]
    stubs["s3"].assert_no_pending_responses()


def test_a_refused_put_names_the_call_and_code(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch)
    session, stubs = stubbed("sts", "s3")
    identity = {
        "Account": cfg.account_id("shared_services"),
        "Arn": f"arn:aws:iam::{cfg.account_id('shared_services')}:user/admin",
    }
    stubs["sts"].add_response("get_caller_identity", {**identity, "UserId": "AIDA"})
    stubs["s3"].add_response("head_bucket", {})
    stubs["s3"].add_client_error("head_object", "404", "Not Found", 404)
    stubs["s3"].add_client_error("put_object", "AccessDenied", "KMS refused", 403)
    code, out, err = run(capsys, str(SAMPLE_CSV), session=session)
    assert (code, out) == (1, [])
    assert err == [
        f"error: s3 PutObject {cfg.pipeline.input_data_uri} failed (AccessDenied): check write access "
        "to the bucket and use of its KMS key (docs/infrastructure.md)"
    ]


# --- dry run and usage errors: no AWS at all ---------------------------------------------------------


def test_dry_run_prints_the_plan_and_creates_no_client(tmp_path, monkeypatch, capsys, no_aws):
    cfg = use_config(tmp_path, monkeypatch)
    monkeypatch.chdir(ROOT)  # PATH defaults to data/sample.csv
    code, out, err = run(capsys, "--dry-run")
    assert code == 0
    assert out == [plan_line("data/sample.csv", cfg.pipeline.input_data_uri, SAMPLE_CSV.read_bytes())]
    size = SAMPLE_CSV.stat().st_size
    assert err == [f"dry run: 1 file(s), {size} bytes; no AWS call made"]


def test_dry_run_of_a_folder_lists_every_object(tmp_path, monkeypatch, capsys, no_aws):
    cfg = use_config(tmp_path, monkeypatch)
    folder = tmp_path / "batch"
    (folder / "b").mkdir(parents=True)
    (folder / "a.csv").write_bytes(b"1")
    (folder / "b" / "c.csv").write_bytes(b"22")
    target = f"s3://{cfg.names.artifact_bucket}/datasets/batch/"
    code, out, err = run(capsys, str(folder), "--to", target, "--dry-run")
    assert code == 0
    assert out == [
        plan_line(folder / "a.csv", f"{target}a.csv", b"1"),
        plan_line(folder / "b" / "c.csv", f"{target}b/c.csv", b"22"),
    ]
    assert err == ["dry run: 2 file(s), 3 bytes; no AWS call made"]


def _empty_folder(tmp_path: Path) -> str:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / ".keep").write_bytes(b"")
    return str(folder)


def _folder(tmp_path: Path) -> str:
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"1")
    return str(folder)


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: [str(tmp / "missing.csv")], "missing.csv does not exist; give a data file or folder"),
        (lambda tmp: [_empty_folder(tmp)], "empty holds no files to upload"),
        (lambda tmp: [_folder(tmp)], "two is a folder but s3://"),
        (lambda tmp: [str(SAMPLE_CSV), "--to", "bucket/key.csv"], "--to is 'bucket/key.csv'; expected s3://"),
        (lambda tmp: [str(SAMPLE_CSV), "--to", "s3://bucket"], "--to is 's3://bucket'; expected s3://"),
    ],
    ids=["missing-path", "empty-folder", "folder-to-object", "not-s3", "no-key"],
)
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["real", "dry-run"])
def test_usage_errors_exit_2_with_one_line_and_no_aws(
    make_args, message, dry_run, tmp_path, monkeypatch, capsys, no_aws
):
    use_config(tmp_path, monkeypatch)
    code, out, err = run(capsys, *make_args(tmp_path), *dry_run)
    assert (code, out) == (2, [])
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert message in err[0]


def test_an_unknown_profile_exits_2_before_any_call(tmp_path, monkeypatch, capsys):
    use_config(tmp_path, monkeypatch)
    # The real boto3.Session, with no AWS config file: it refuses the name before any call.
    code, out, err = run(capsys, str(SAMPLE_CSV), "--profile", "nobody")
    assert (code, out) == (2, [])
    assert err == ["error: AWS profile 'nobody' not found (--profile); see aws configure list-profiles"]


def test_an_unknown_option_exits_2_with_one_line(tmp_path, monkeypatch, capsys, no_aws):
    use_config(tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        datasets.main(["upload", str(SAMPLE_CSV), "--bucket", "x"])
    captured = capsys.readouterr()
    assert (exit_info.value.code, captured.out) == (2, "")
    assert captured.err == "error: unrecognized arguments: --bucket x (see --help)\n"


def test_a_bad_config_exits_2_naming_the_key(tmp_path, monkeypatch, capsys, no_aws):
    raw = make_raw()
    raw["pipeline"]["input_data_url"] = "s3://typo/"
    write_config(raw, tmp_path, monkeypatch)
    code, out, err = run(capsys, str(SAMPLE_CSV), "--dry-run")
    assert (code, out) == (2, [])
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert "pipeline.input_data_url is not a setting this repository reads" in err[0]


# --- the command-line contract (cli_support): --github-output --------------------------------------


def test_github_output_appends_the_input_data_uri(tmp_path, monkeypatch, capsys):
    cfg = use_config(tmp_path, monkeypatch)
    target = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    recorder = Recorder()
    with mock_aws():
        session = shared_services(cfg, recorder)
        code, out, err = run(capsys, str(SAMPLE_CSV), "--github-output", session=session)
    assert (code, err) == (0, [])
    assert out[-1] == f"input_data_uri={cfg.pipeline.input_data_uri}"
    assert target.read_text() == f"input_data_uri={cfg.pipeline.input_data_uri}\n"
    assert recorder.operations == [*CHECKS, "HeadObject", "PutObject"]


def test_github_output_without_its_file_exits_2_before_any_aws_call(tmp_path, monkeypatch, capsys, no_aws):
    use_config(tmp_path, monkeypatch)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    code, out, err = run(capsys, str(SAMPLE_CSV), "--github-output")
    assert (code, out) == (2, [])
    assert err == ["error: --github-output given but GITHUB_OUTPUT is not set"]
