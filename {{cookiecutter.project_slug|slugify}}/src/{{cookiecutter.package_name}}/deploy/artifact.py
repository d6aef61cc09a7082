"""Before prod serves a version: the artifact it is about to serve is the one QA tested.

`check_artifact` compares the prod version with the lock (model.lock.json, reviewed in the
release pull request): the version was promoted from the locked dev version, its recorded
checksum is the lock's, and the bytes of the object its container points at hash to that
checksum (read with the deploy role, which may read the prod prefix only). Any difference
stops the deploy before its first mutating call, naming both checksums.
"""

from __future__ import annotations

from typing import Any

from ..promotion.evidence import Artifact, digest, model_artifact_uri
from ..promotion.promote import ARTIFACT_SHA256_KEY, ARTIFACT_VERSION_KEY
from ..promotion.version import ModelVersion
from .aws import Clients, DeployError, log


def check_artifact(clients: Clients, version: ModelVersion, lock: dict[str, Any]) -> str:
    """Refuse unless `version` serves exactly the artifact the lock names; return its sha256."""
    return checked_object(clients, version, lock).sha256


def checked_object(clients: Clients, version: ModelVersion, lock: dict[str, Any]) -> Artifact:
    """`check_artifact`, returning the object version it read and hashed."""
    expected = lock["artifact"]["sha256"]
    if version.source_arn != lock["model_package_arn"]:
        raise DeployError(
            f"{version.arn} was promoted from {version.source_arn or 'nothing'}, "
            f"but the lock names {lock['model_package_arn']}; refusing to deploy"
        )
    recorded = version.metadata.get(ARTIFACT_SHA256_KEY)
    if recorded != expected:
        raise DeployError(
            f"{version.arn} records artifact sha256 {recorded or 'none'}, the lock says {expected}; "
            "refusing to deploy"
        )
    # SageMaker loads the current version of the key: hash that one, and it must be the copy.
    object_version = version.metadata.get(ARTIFACT_VERSION_KEY)
    return current_object(clients, version, object_version, expected, "the promoted copy", "deploy")


def current_object(
    clients: Clients,
    version: ModelVersion,
    object_version: str | None,
    expected: str,
    known_as: str,
    verb: str,
) -> Artifact:
    """Hash the object `version`'s container points at now (what a model made from it loads):
    DeployError unless it is object version `object_version` (`known_as` in the message; no
    check when None, "" or "unversioned") and hashes to the lock's `expected` sha256."""
    uri = model_artifact_uri(version)
    actual = digest(clients, uri)
    if object_version not in (None, "", "unversioned") and actual.version_id != object_version:
        raise DeployError(
            f"{uri} is now object version {actual.version_id or 'none'} (sha256 {actual.sha256}), not "
            f"{known_as} ({object_version}); refusing to {verb}"
        )
    if actual.sha256 != expected:
        raise DeployError(f"{uri} has sha256 {actual.sha256}, the lock says {expected}; refusing to {verb}")
    log(f"artifact {uri}: sha256 {actual.sha256} matches the lock")
    return actual
