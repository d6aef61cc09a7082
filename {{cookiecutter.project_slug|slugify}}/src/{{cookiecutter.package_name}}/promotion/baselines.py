"""The quality baselines a version registered, pinned by QA and copied to prod by promotion.

The pipeline (pipeline/baselines.py) registers three baseline objects on a dev version, each in
DriftCheckBaselines and in ModelMetrics (same object in both):
- `data_statistics`: ModelDataQuality.Statistics (statistics.json of the train split),
- `data_constraints`: ModelDataQuality.Constraints (constraints.json with the configured thresholds),
- `model_constraints`: ModelQuality.Constraints (the model-quality constraints.json).
It also writes the customer metadata `baselines` = `registered`, so a version that should carry
them but does not is refused rather than promoted without monitoring baselines. Versions
registered before baselines existed have neither and are promoted without them.

Evidence, as for the artifact and the evaluation report: `qa_pins` hashes each object's current
version when QA records its result (`qa_baseline_<kind>` = `<sha256>@<version id>`, carried to
the prod version with the rest of the QA record); promotion re-hashes that version, copies it to
`<prod prefix><dev version>/<data-quality|model-quality>/<file>` and re-hashes the copy against
the pin. Only promotion writes the prod prefix, so the copy stays the current object there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..deploy.aws import Clients, DeployError
from .evidence import SHA256, digest, split_uri
from .version import ModelVersion

# kind -> (ModelMetrics / DriftCheckBaselines section, entry, file below the prod version's folder)
KINDS: Mapping[str, tuple[str, str, str]] = {
    "data_statistics": ("ModelDataQuality", "Statistics", "data-quality/statistics.json"),
    "data_constraints": ("ModelDataQuality", "Constraints", "data-quality/constraints.json"),
    "model_constraints": ("ModelQuality", "Constraints", "model-quality/constraints.json"),
}
EXPECTED_KEY = "baselines"
EXPECTED_VALUE = "registered"
QA_KEY = "qa_baseline_{}"
JSON = "application/json"


@dataclass(frozen=True)
class Pin:
    """One baseline object version QA pinned, and where promotion copies it."""

    kind: str
    uri: str
    version_id: str
    sha256: str
    target: str


def _uri(section: Any, part: str, entry: str) -> str | None:
    value = ((section or {}).get(part) or {}).get(entry) or {}
    return value.get("S3Uri") or None


def sources(version: ModelVersion) -> dict[str, str] | None:
    """kind -> the S3 URI the version registered; None for a version registered without baselines.

    DeployError when it was registered with baselines expected (the `baselines` metadata, or any
    baseline field) but one is missing, or when ModelMetrics and DriftCheckBaselines name
    different objects for the same baseline.
    """
    drift = version.description.get("DriftCheckBaselines")
    metrics = version.description.get("ModelMetrics")
    found: dict[str, str] = {}
    problems = []
    for kind, (part, entry, _file) in KINDS.items():
        in_drift, in_metrics = _uri(drift, part, entry), _uri(metrics, part, entry)
        if in_drift and in_metrics and in_drift != in_metrics:
            problems.append(
                f"{kind}: DriftCheckBaselines names {in_drift}, ModelMetrics {in_metrics}; "
                "expected the same object"
            )
        elif in_drift or in_metrics:
            found[kind] = str(in_drift or in_metrics)
    expected = version.metadata.get(EXPECTED_KEY) == EXPECTED_VALUE or bool(found)
    if not expected:
        return None
    missing = [f"{kind} ({part}.{entry})" for kind, (part, entry, _) in KINDS.items() if kind not in found]
    if missing:
        problems.append(
            f"registered with baselines but lacks {', '.join(missing)} "
            "in DriftCheckBaselines and ModelMetrics"
        )
    if problems:
        raise DeployError(f"not promoting {version.arn}: " + "; ".join(problems))
    return found


def qa_pins(clients: Clients, version: ModelVersion) -> dict[str, str]:
    """The metadata QA records for the baselines it saw: `qa_baseline_<kind>` = `<sha256>@<version>`
    of each object's current version; {} for a version without baselines."""
    pins = {}
    for kind, uri in (sources(version) or {}).items():
        found = digest(clients, uri)
        pins[QA_KEY.format(kind)] = f"{found.sha256}@{found.version_id or 'unversioned'}"
    return pins


def pinned(version: ModelVersion, kind: str) -> tuple[str, str]:
    """(sha256, object version) QA pinned for a baseline; DeployError when there is no valid pin."""
    value = version.metadata.get(QA_KEY.format(kind)) or ""
    sha, _, object_version = value.partition("@")
    if not SHA256.match(sha) or not object_version:
        raise DeployError(
            f"{version.arn} has no QA pin of its {kind} baseline "
            f"({QA_KEY.format(kind)} is {value or 'missing'}; "
            "expected <sha256>@<object version>, written by record-qa); re-run QA before promoting"
        )
    return sha, object_version


def prod_uri(cfg: Config, version: ModelVersion, kind: str, source_uri: str) -> str:
    """Where promotion copies a baseline: `<prod prefix><dev version>/<data-quality|model-quality>/<file>`."""
    bucket, _key = split_uri(source_uri)
    if bucket != cfg.names.artifact_bucket:
        raise DeployError(
            f"{version.arn} registers its {kind} baseline at {source_uri}, outside the artifact bucket "
            f"{cfg.names.artifact_bucket}"
        )
    return f"s3://{bucket}/{cfg.names.artifact_prefixes['prod']}{version.version}/{KINDS[kind][2]}"


def verify(cfg: Config, clients: Clients, version: ModelVersion, found: Mapping[str, str]) -> list[Pin]:
    """Each baseline's QA pin, its source object version re-hashed against it (reads only, so a
    missing pin or changed bytes are refused before promotion copies anything)."""
    pins = []
    for kind, uri in found.items():
        sha, object_version = pinned(version, kind)
        target = prod_uri(cfg, version, kind, uri)
        current = digest(clients, uri, None if object_version == "unversioned" else object_version)
        if current.sha256 != sha:
            raise DeployError(
                f"the {kind} baseline {uri} (version {object_version}) has sha256 {current.sha256}, "
                f"QA pinned "
                f"{sha}; it changed after QA: not promoting {version.arn}"
            )
        pins.append(Pin(kind, uri, object_version, sha, target))
    return pins


def copy_all(
    clients: Clients, pins: list[Pin], copy: Callable[[Clients, str, str, str, str], str]
) -> dict[str, str]:
    """Copy each verified baseline version into the prod prefix (`copy` re-hashes the copy
    against the pin); kind -> prod URI."""
    for pin in pins:
        copy(clients, pin.uri, pin.version_id, pin.target, pin.sha256)
    return {pin.kind: pin.target for pin in pins}


def request_fields(copies: Mapping[str, str]) -> tuple[dict, dict]:
    """(ModelMetrics parts, DriftCheckBaselines) of a prod version whose baselines are `copies`
    (kind -> prod URI)."""
    sections: dict[str, dict] = {}
    for kind, uri in copies.items():
        part, entry, _file = KINDS[kind]
        sections.setdefault(part, {})[entry] = {"ContentType": JSON, "S3Uri": uri}
    drift = {part: dict(entries) for part, entries in sections.items()}
    return sections, drift
