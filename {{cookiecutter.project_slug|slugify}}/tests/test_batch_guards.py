"""What a batch run checks before it creates anything: a QA run hashes the dev artifact it is
about to run again (the current object must be the one QA tested, with the lock's checksum), and
a segmented project is refused with one error before any AWS call (batch/source.py, batch/cli.py).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json

import pytest
from botocore.response import StreamingBody

from deploy_helpers import make_config, model_version, module, package_arn, package_description, stubbed

cli = module("batch.cli")
source = module("batch.source")
evidence = module("promotion.evidence")
IMAGE_ACCOUNTS = module("access.images").IMAGE_ACCOUNTS
Clients = module("deploy.aws").Clients
DeployError = module("deploy.aws").DeployError
pytestmark = pytest.mark.usefixtures("fake_aws")

CFG = make_config("four")
ARTIFACT = b"the model QA tested"
SHA = hashlib.sha256(ARTIFACT).hexdigest()
ARN = package_arn(CFG, "dev", 2)


def dev_package() -> dict:
    package = package_description(ARN, "PendingManualApproval")
    container = package["InferenceSpecification"]["Containers"][0]
    container["Environment"] = evidence.serving_environment(CFG)
    # An AWS framework image of the config's region (the baked region varies with the answers).
    registry = f"{IMAGE_ACCOUNTS[CFG.region]}.dkr.ecr.{CFG.region}.amazonaws.com"
    container["Image"] = f"{registry}/sagemaker-xgboost:1.7-1"
    package["CustomerMetadataProperties"] = {
        evidence.QA_RESULT_KEY: "passed",
        evidence.QA_SHA256_KEY: SHA,
        evidence.QA_VERSION_KEY: "v1",
    }
    return package


def lock() -> dict:
    package = dev_package()
    return {
        "model_package_arn": ARN,
        "artifact": {"uri": "s3://artifacts/models/model.tar.gz", "version_id": "v1", "sha256": SHA},
        "containers_sha256": evidence.containers_digest(model_version(ARN, package)),
    }


def run_qa(recorder, body: bytes, object_version: str):
    session, stubs = stubbed("sagemaker", "s3", recorder=recorder)
    stubs["sagemaker"].add_response("describe_model_package", copy.deepcopy(dev_package()))
    stubs["s3"].add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "VersionId": object_version},
        {"Bucket": "artifacts", "Key": "models/model.tar.gz"},
    )
    try:
        return source.qa_version(CFG, Clients(session, CFG.region), lock())
    finally:
        stubs["s3"].assert_no_pending_responses()


def test_qa_hashes_the_dev_artifact_it_runs_and_accepts_the_tested_bytes(recorder):
    version = run_qa(recorder, ARTIFACT, "v1")
    assert version.arn == ARN
    assert recorder.operations == ["DescribeModelPackage", "GetObject"] and recorder.mutating == []


@pytest.mark.parametrize(
    ("body", "object_version", "message"),
    [
        (
            ARTIFACT + b"!",
            "v1",
            f"has sha256 {hashlib.sha256(ARTIFACT + b'!').hexdigest()}, the lock says {SHA}",
        ),
        (ARTIFACT, "v2", r"is now object version v2 .*, not the one QA tested \(v1\); refusing to run"),
    ],
    ids=["changed-bytes", "replaced-object"],
)
def test_qa_refuses_a_dev_artifact_that_is_not_the_one_qa_tested(recorder, body, object_version, message):
    with pytest.raises(DeployError, match=message):
        run_qa(recorder, body, object_version)
    assert recorder.mutating == []


SEGMENTED = "batch runs one model, but model.segments.column is 'region' (one model per segment)"


class NoAws:
    def client(self, *args, **kwargs):
        raise AssertionError("no AWS call expected")


def segmented():
    """The config with `model.segments` on (built directly: the endpoint-type cross-checks of a
    segmented config are not what this guard is about)."""
    segments = dataclasses.replace(CFG.model.segments, column="region", values=("north", "south"))
    return dataclasses.replace(CFG, model=dataclasses.replace(CFG.model, segments=segments))


def test_a_segmented_project_is_refused_before_any_aws_call(run_cli, tmp_path, monkeypatch):
    cfg = segmented()
    assert cfg.model.segments.enabled
    monkeypatch.setattr(cli.config, "load_config", lambda *args, **kwargs: cfg)
    code, out, err = run_cli(cli.main, ["run", "--env", "prod"], session=NoAws())
    assert code == 2 and out == ""
    assert err.count("error:") == 1 and SEGMENTED in err
    # The workflow's plan job stops there too, before any job with credentials.
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"inputs": {"env": "prod"}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_dispatch")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, err = run_cli(cli.main, ["plan"])
    assert code == 2 and out == "" and SEGMENTED in err
    # Locally too, before looking for the rehearsal's model and test split.
    code, out, err = run_cli(cli.main, ["local", "--model", str(tmp_path / "absent.tar.gz")])
    assert code == 2 and out == "" and err.count("error:") == 1 and SEGMENTED in err


def test_an_unsegmented_project_passes_the_segment_guard():
    cli.check_unsegmented(CFG)  # no error: the default config has no segments
    assert not CFG.model.segments.enabled


job = module("batch.job")


def qa_plan():
    """The QA deploy's plan of the dev version: what its model must be."""
    return module("deploy.endpoint").plan(CFG, "qa", model_version(ARN, dev_package()))


def described(request: dict) -> dict:
    """DescribeModel's answer for a model created by `request`."""
    return {
        "ModelName": request["ModelName"],
        "ModelArn": "arn:aws:sagemaker:r:1:model/m",
        "ExecutionRoleArn": request["ExecutionRoleArn"],
        "Containers": copy.deepcopy(request["Containers"]),
        "EnableNetworkIsolation": request["EnableNetworkIsolation"],
        "CreationTime": "2025-01-01",
    }


def test_a_run_needs_the_model_the_deploy_created_and_creates_none(recorder):
    session, stubs = stubbed("sagemaker", recorder=recorder)
    deploy = qa_plan()
    name = deploy.model_name
    stubs["sagemaker"].add_client_error(
        "describe_model", "ValidationException", f'Could not find model "{name}".', 400, {"ModelName": name}
    )
    with pytest.raises(
        DeployError,
        match=rf"model {name} does not exist; a qa batch runs the model the qa deploy created for "
        rf"{ARN}: deploy that version to qa first \(a batch run creates no model\)",
    ):
        job.require_model(Clients(session, CFG.region), deploy, "qa")
    stubs["sagemaker"].add_response("describe_model", described(deploy.model_request), {"ModelName": name})
    job.require_model(Clients(session, CFG.region), deploy, "qa")
    assert recorder.operations == ["DescribeModel", "DescribeModel"] and recorder.mutating == []


def swap_image(model: dict) -> None:
    model["Containers"][0]["Image"] = "111111111111.dkr.ecr.us-east-1.amazonaws.com/other:latest"


def add_environment(model: dict) -> None:
    model["Containers"][0]["Environment"] = {"SAGEMAKER_PROGRAM": "other.py"}


def other_data(model: dict) -> None:
    model["Containers"][0]["ModelDataUrl"] = "s3://elsewhere/model.tar.gz"


def other_role(model: dict) -> None:
    model["ExecutionRoleArn"] = "arn:aws:iam::111111111111:role/other"


def open_network(model: dict) -> None:
    model["EnableNetworkIsolation"] = False


def extra_container(model: dict) -> None:
    model["Containers"].append(copy.deepcopy(model["Containers"][0]))


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (swap_image, "container 1 Image is"),
        (add_environment, "container 1 has another Environment"),
        (other_data, "container 1 ModelDataUrl is 's3://elsewhere/model.tar.gz'"),
        (other_role, "it runs as arn:aws:iam::111111111111:role/other"),
        (open_network, "it is not network-isolated"),
        (extra_container, "containers, not 1"),
    ],
)
def test_a_model_someone_else_created_under_the_deploys_name_is_refused(recorder, tamper, named):
    """Code that can deploy to QA could create the name the QA batch expects with other
    containers; the batch compares the model with the deploy's request and runs nothing."""
    session, stubs = stubbed("sagemaker", recorder=recorder)
    deploy = qa_plan()
    model = described(deploy.model_request)
    tamper(model)
    stubs["sagemaker"].add_response("describe_model", model, {"ModelName": deploy.model_name})
    with pytest.raises(
        DeployError, match=rf"model {deploy.model_name} is not the model the qa deploy creates"
    ) as err:
        job.require_model(Clients(session, CFG.region), deploy, "qa")
    assert named in str(err.value) and "refusing to run it" in str(err.value)
    assert recorder.mutating == []
