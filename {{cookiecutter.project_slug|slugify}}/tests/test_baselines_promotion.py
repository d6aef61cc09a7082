"""Promotion carries a version's quality baselines to prod, on moto.

A dev version registered as the pipeline registers it (DriftCheckBaselines and ModelMetrics
naming three baseline objects under the dev prefix, metadata `baselines=registered`), QA'd
with its baseline pins (promotion/baselines.py `qa_pins`), approved and promoted: the objects
QA pinned are copied into the prod prefix next to the artifact and the prod version registers
the prod copies. A baseline changed after QA, a missing baseline or a missing pin is refused
before anything is copied; a version registered before baselines existed is promoted without.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from deploy_helpers import make_config, module
from release_world import World, promote, version

DeployError = module("deploy.aws").DeployError
quality = module("promotion.baselines")
pytestmark = pytest.mark.usefixtures("fake_aws")

OBJECTS = {
    "data_statistics": ("DataQualityBaseline/statistics.json", {"features": [{"name": "_c0"}]}),
    "data_constraints": (
        "DataQualityConstraints/constraints/constraints.json",
        {"features": [], "monitoring_config": {}},
    ),
    "model_constraints": ("ModelQualityBaseline/constraints.json", {"binary_classification_constraints": {}}),
}
SECTIONS = {
    "data_statistics": ("ModelDataQuality", "Statistics"),
    "data_constraints": ("ModelDataQuality", "Constraints"),
    "model_constraints": ("ModelQuality", "Constraints"),
}


@pytest.fixture(params=["four", "single"])
def world(request, accounts, recorder):
    cfg = make_config(request.param)
    return World(cfg, accounts(cfg, recorder), recorder)


def register_with_baselines(world: World, drop: str | None = None) -> tuple[str, dict[str, str]]:
    """A dev version as the pipeline registers it, with its baselines (but `drop`); (ARN, kind -> URI)."""
    arn = world.register(metadata={"baselines": "registered"})
    described = world.describe(arn)
    run = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].rsplit("/evaluate/", 1)[0]
    uris = {}
    for kind, (key, body) in OBJECTS.items():
        uri = f"{run}/{key}"
        world.put(uri.split("/", 3)[3], json.dumps(body).encode())
        uris[kind] = uri
    metrics = {"ModelQuality": dict(described["ModelMetrics"]["ModelQuality"])}
    drift: dict = {}
    for kind, uri in uris.items():
        if kind == drop:
            continue
        part, entry = SECTIONS[kind]
        source = {"ContentType": "application/json", "S3Uri": uri}
        metrics.setdefault(part, {})[entry] = source
        drift.setdefault(part, {})[entry] = source
    # The same version again, with its baselines (moto cannot update these fields).
    arn = world.shared.client("sagemaker").create_model_package(
        ModelPackageGroupName=world.cfg.group("dev"),
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification=described["InferenceSpecification"],
        ModelMetrics=metrics,
        DriftCheckBaselines=drift,
        CustomerMetadataProperties=described["CustomerMetadataProperties"],
    )["ModelPackageArn"]
    return arn, uris


def qa_with_pins(world: World, arn: str) -> None:
    """QA as the dev workflow records it: a pass pins each baseline object (evidence.record_qa)."""
    world.qa(arn)
    current = version.resolve(world.cfg, world.clients, arn, "dev")
    recorded = world.describe(arn)["CustomerMetadataProperties"]
    expected = quality.qa_pins(world.clients, current)
    assert len(expected) == 3
    assert {key: recorded.get(key) for key in expected} == expected


def qa_without_pins(world: World, arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass recorded without baseline pins (as QA did before the baselines existed)."""
    with monkeypatch.context() as patch:
        patch.setattr(quality, "qa_pins", lambda clients, version: {})
        world.qa(arn)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prod_key(world: World, arn: str, path: str) -> str:
    number = arn.rsplit("/", 1)[-1]
    return f"{world.cfg.names.artifact_prefixes['prod']}{number}/{path}"


def test_baselines_are_copied_into_the_prod_prefix_and_registered_on_the_prod_version(world):
    arn, uris = register_with_baselines(world)
    qa_with_pins(world, arn)
    world.approve(arn)
    prod_arn, created = promote.promote(world.cfg, world.clients, arn)
    assert created
    prod = world.describe(prod_arn)
    bucket = world.cfg.names.artifact_bucket
    expected = {kind: f"s3://{bucket}/{prod_key(world, arn, quality.KINDS[kind][2])}" for kind in OBJECTS}
    for kind, uri in expected.items():
        assert world.read(uri) == world.read(uris[kind]), kind
        part, entry = SECTIONS[kind]
        assert prod["DriftCheckBaselines"][part][entry] == {"ContentType": "application/json", "S3Uri": uri}
        assert prod["ModelMetrics"][part][entry] == {"ContentType": "application/json", "S3Uri": uri}
        # The QA pin travels with the QA record: the copy's bytes are checkable against it.
        assert prod["CustomerMetadataProperties"][f"qa_baseline_{kind}"].startswith(
            sha256(world.read(uri)) + "@"
        )
    assert set(prod["DriftCheckBaselines"]) == {"ModelDataQuality", "ModelQuality"}
    assert set(prod["DriftCheckBaselines"]["ModelQuality"]) == {"Constraints"}
    # Every prod URI is below the prod prefix, beside the artifact copy.
    model_dir = prod["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].rsplit("/", 1)[0]
    assert all(uri.startswith(model_dir + "/") for uri in expected.values())
    # Promoting again: the same prod version, nothing written.
    world.recorder.calls.clear()
    assert promote.promote(world.cfg, world.clients, arn) == (prod_arn, False)
    assert world.recorder.mutating == []


def test_a_baseline_changed_after_qa_is_refused_before_anything_is_copied(world):
    """Overwrite the data-quality constraints and point the pin at the new object version (what
    anyone who may update dev versions could do): its bytes do not match QA's sha256."""
    arn, uris = register_with_baselines(world)
    qa_with_pins(world, arn)
    tampered = world.put(
        uris["data_constraints"].split("/", 3)[3],
        b'{"features": [], "monitoring_config": {"evaluate_constraints": "Disabled"}}',
    )
    metadata = world.describe(arn)["CustomerMetadataProperties"]
    sha = metadata["qa_baseline_data_constraints"].split("@")[0]
    world.update(
        arn, CustomerMetadataProperties={**metadata, "qa_baseline_data_constraints": f"{sha}@{tampered}"}
    )
    world.approve(arn)
    world.recorder.calls.clear()
    with pytest.raises(DeployError, match=r"the data_constraints baseline .* QA pinned .*changed after QA"):
        promote.promote(world.cfg, world.clients, arn)
    assert "CopyObject" not in world.recorder.operations
    assert "CreateModelPackage" not in world.recorder.operations
    listed = world.s3.list_objects_v2(Bucket=world.bucket, Prefix=world.cfg.names.artifact_prefixes["prod"])
    assert listed.get("KeyCount", 0) == 0


def test_a_baseline_overwritten_after_qa_never_reaches_prod(world):
    """Overwritten but the pin left alone: promotion copies the object version QA pinned."""
    arn, uris = register_with_baselines(world)
    qa_with_pins(world, arn)
    original = world.read(uris["model_constraints"])
    world.put(
        uris["model_constraints"].split("/", 3)[3], b'{"binary_classification_constraints": {"accuracy": 0}}'
    )
    world.approve(arn)
    prod_arn, _ = promote.promote(world.cfg, world.clients, arn)
    uri = world.describe(prod_arn)["DriftCheckBaselines"]["ModelQuality"]["Constraints"]["S3Uri"]
    assert world.read(uri) == original


def test_a_version_registered_with_baselines_expected_but_lacking_one_is_refused(world, monkeypatch):
    arn, _ = register_with_baselines(world, drop="model_constraints")
    with pytest.raises(DeployError, match="lacks model_constraints"):
        world.qa(arn)  # QA cannot record a pass it cannot pin
    assert world.describe(arn)["CustomerMetadataProperties"].get("qa_result") is None
    qa_without_pins(world, arn, monkeypatch)
    world.approve(arn)
    world.recorder.calls.clear()
    with pytest.raises(
        DeployError,
        match=r"registered with baselines but lacks model_constraints \(ModelQuality.Constraints\)",
    ):
        promote.promote(world.cfg, world.clients, arn)
    assert world.recorder.mutating == []


def test_a_version_without_its_baseline_pins_is_refused(world, monkeypatch):
    arn, _ = register_with_baselines(world)
    qa_without_pins(world, arn, monkeypatch)
    world.approve(arn)
    world.recorder.calls.clear()
    with pytest.raises(DeployError, match=r"no QA pin of its data_statistics baseline .*re-run QA"):
        promote.promote(world.cfg, world.clients, arn)
    assert world.recorder.mutating == []


def test_a_version_registered_before_baselines_is_promoted_without_them(world, capsys):
    arn = world.register()
    world.qa(arn)
    world.approve(arn)
    prod_arn, created = promote.promote(world.cfg, world.clients, arn)
    assert created
    prod = world.describe(prod_arn)
    assert not prod.get("DriftCheckBaselines")
    assert set(prod["ModelMetrics"]) <= {"ModelQuality", "Bias", "Explainability"}
    lines = [line for line in capsys.readouterr().err.splitlines() if "without quality baselines" in line]
    assert lines == [f"{arn} was registered without quality baselines; promoting it without them"], lines
