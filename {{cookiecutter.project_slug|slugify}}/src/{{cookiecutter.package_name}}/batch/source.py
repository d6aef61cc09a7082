"""Which model version a batch job runs, checked as a deploy checks what it is about to serve.

- prod: the version the prod endpoint serves (endpoint -> endpoint config -> model -> its
  package ARN; a batch-only prod, which has no endpoint: the prod version released last among
  the models its deploy created, `released_package_arn`), which must be an Approved, released
  prod version promoted from the version model.lock.json names, serving exactly the artifact
  the lock names (`deploy.artifact.check_artifact`: recorded checksum and the object's bytes).
  A lock not yet released, or an endpoint serving something else, stops the run before any
  mutating call.
- qa: the dev version the lock names, with the QA result recorded on it in the registry
  (passed, the same artifact checksum and container digest as the lock) and containers that
  serve nothing the checksums do not cover (`promotion.evidence.serving_problems`); the bytes
  its container points at are hashed again (`qa_artifact`), as a deploy hashes what it serves:
  the current object must be the one QA tested (the recorded object version) with the lock's
  checksum, else nothing is created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Config
from ..deploy.artifact import check_artifact, current_object
from ..deploy.aws import Clients, DeployError, log
from ..deploy.endpoint import is_versioned_name
from ..deploy.state import describe_endpoint
from ..promotion import lockfile
from ..promotion.evidence import (
    containers_digest,
    qa_evidence,
    serving_problems,
)
from ..promotion.lifecycle import RELEASED_AT_KEY
from ..promotion.version import ModelVersion, check_deployable, resolve


def served_package_arn(cfg: Config, clients: Clients, env: str) -> str:
    """The model package ARN of the model the environment's endpoint serves."""
    name = cfg.environment(env).endpoint_name
    endpoint = describe_endpoint(clients, name)
    if endpoint is None:
        raise DeployError(f"endpoint {name} does not exist; a {env} batch runs the version {env} serves")
    sm = clients.sagemaker
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model_name = config["ProductionVariants"][0]["ModelName"]
    arn = model_package_arn(sm.describe_model(ModelName=model_name))
    if not arn:
        raise DeployError(f"model {model_name} of endpoint {name} is not built from one model package ARN")
    return arn


def model_package_arn(model: dict[str, Any]) -> str:
    """The one model package ARN a described model is built from ("" when not exactly one)."""
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    arns = [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
    return arns[0] if len(arns) == 1 else ""


def released_package_arn(cfg: Config, clients: Clients) -> str:
    """A batch-only prod (no endpoint): the prod version released last among those whose model
    the prod deploy created (`<prod endpoint>-v*`, each built from one prod package ARN; every
    release deploys before it is recorded as released). DeployError when none was released."""
    name = cfg.environment("prod").endpoint_name
    best: ModelVersion | None = None
    sm = clients.sagemaker
    pages = sm.get_paginator("list_models").paginate(
        NameContains=name[:40], PaginationConfig={"PageSize": 100}
    )
    for page in pages:
        for summary in page.get("Models", []):
            if not is_versioned_name(name, summary["ModelName"]):  # only the deploy's names
                continue
            arn = model_package_arn(sm.describe_model(ModelName=summary["ModelName"]))
            if not arn:
                raise DeployError(
                    f"model {summary['ModelName']} is not built from one prod model package ARN"
                )
            version = resolve(cfg, clients.registry, arn, "prod")
            released = version.metadata.get(RELEASED_AT_KEY)
            if (
                released
                and version.approval == "Approved"
                and (best is None or released > best.metadata[RELEASED_AT_KEY])
            ):
                best = version
    if best is None:
        raise DeployError(
            f"no model {name}-v* of a released prod version; a batch-only prod batch runs the version "
            "released last: release the lock first"
        )
    return best.arn


def prod_version(cfg: Config, clients: Clients, lock: dict[str, Any]) -> ModelVersion:
    """The released prod version prod serves (an endpoint's, or a batch-only prod's released
    last); DeployError unless it is the locked one."""
    if cfg.environment("prod").endpoint.batch_only:
        arn = released_package_arn(cfg, clients)
    else:
        arn = served_package_arn(cfg, clients, "prod")
    version = check_deployable(cfg, "prod", resolve(cfg, clients.registry, arn, "prod"))
    if not version.metadata.get(RELEASED_AT_KEY):
        raise DeployError(f"{arn} has no {RELEASED_AT_KEY} record; batch runs only a released prod version")
    if version.source_arn != lock["model_package_arn"]:
        raise DeployError(
            f"prod serves {arn}, promoted from {version.source_arn or 'nothing'}, but the lock names "
            f"{lock['model_package_arn']}; release the lock first (or run on the prod branch's lock)"
        )
    check_artifact(clients, version, lock)
    return version


def qa_version(cfg: Config, clients: Clients, lock: dict[str, Any]) -> ModelVersion:
    """The lock's dev version with its QA evidence; DeployError naming the first mismatch."""
    arn = lock["model_package_arn"]
    version = check_deployable(cfg, "qa", resolve(cfg, clients.registry, arn, "dev"))
    evidence = qa_evidence(version.metadata)
    if not evidence.passed:
        raise DeployError(
            f"{arn}: QA recorded {evidence.result or 'no result'}; batch runs only QA-verified versions"
        )
    if evidence.sha256 != lock["artifact"]["sha256"]:
        raise DeployError(
            f"{arn}: QA recorded artifact sha256 {evidence.sha256 or 'none'}, the lock says "
            f"{lock['artifact']['sha256']}; refusing to run"
        )
    if containers_digest(version) != lock["containers_sha256"]:
        raise DeployError(f"{arn}: its containers are not the ones the lock records; refusing to run")
    problems = serving_problems(cfg, version)
    if problems:
        raise DeployError(f"{arn}: {'; '.join(problems)}")
    qa_artifact(clients, version, evidence.version_id, lock["artifact"]["sha256"])
    log(f"{arn}: QA passed on artifact sha256 {evidence.sha256}")
    return version


def qa_artifact(clients: Clients, version: ModelVersion, tested_version: str | None, expected: str) -> str:
    """Hash the object the dev version's container points at (the current one: what the job's
    model loads); DeployError unless it is the object version QA tested with the lock's sha256."""
    return current_object(clients, version, tested_version, expected, "the one QA tested", "run").sha256


def batch_version(cfg: Config, clients: Clients, env: str, lock_file: Path | None) -> ModelVersion:
    lock = lockfile.read_lock(cfg, lock_file or lockfile.lock_path(cfg))
    return prod_version(cfg, clients, lock) if env == "prod" else qa_version(cfg, clients, lock)
