"""The SageMaker Python SDK v3 as this pipeline uses it: no telemetry, one session, the images.

- `silence_sdk_telemetry()`: no usage telemetry sent to AWS after each SDK call;
- `pipeline_session(cfg, ...)`: a PipelineSession in the config's region whose default bucket is
  the shared artifact bucket (creating it makes no AWS call);
- `images(cfg)`: the training and inference images of the configured framework and version,
  resolved offline from the SDK's image table (a version or region without an image is one
  PipelineConfigError naming both keys).
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from sagemaker.core import image_uris
from sagemaker.core.workflow.pipeline_context import PipelineSession

from ..config import Config
from .parameters import PipelineConfigError

# Whether the SageMaker SDK may send usage telemetry to AWS (see silence_sdk_telemetry).
SDK_TELEMETRY = False
IMAGE_TABLE = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html"
)


def silence_sdk_telemetry() -> None:
    """Stop the SageMaker SDK's usage telemetry: an HTTPS request to AWS after each SDK call.

    CI builds and `definition --offline` must not call out. The SDK's documented switch
    (`TelemetryOptOut` in an SDK config file) makes it re-validate its whole config schema on
    every setting lookup, which more than doubles the build time, so the SDK's sender is
    replaced instead. An SDK upgrade that renames it fails here loudly rather than sending
    silently. Set SDK_TELEMETRY = True to let the SDK send telemetry.
    """
    if SDK_TELEMETRY:
        return
    from sagemaker.core.telemetry import telemetry_logging

    if not hasattr(telemetry_logging, "_send_telemetry_request"):
        raise RuntimeError("sagemaker SDK telemetry sender not found; update silence_sdk_telemetry()")
    telemetry_logging._send_telemetry_request = _drop_telemetry


def _drop_telemetry(*_args: Any, **_kwargs: Any) -> None:
    return None


def pipeline_session(
    cfg: Config,
    boto_session: boto3.Session | None = None,
    default_bucket: str | None = None,
    sagemaker_client: Any = None,
) -> PipelineSession:
    """A PipelineSession for the config's region whose default bucket is the shared artifact bucket.

    Creating it makes no AWS call. `sagemaker_client` replaces the session's SageMaker client
    (tests pass one with a botocore Stubber).
    """
    silence_sdk_telemetry()
    boto_session = boto_session or boto3.Session(region_name=cfg.region)
    return PipelineSession(
        boto_session=boto_session,
        sagemaker_client=sagemaker_client,
        default_bucket=default_bucket or cfg.names.artifact_bucket,
    )


def images(cfg: Config) -> dict[str, str]:
    """Container images for the configured framework (resolved offline by the SDK). The config
    guarantees `pipeline.framework_versions` has the framework's version."""
    framework = cfg.model.framework
    region = cfg.region
    version = cfg.pipeline.framework_versions[framework]
    try:
        return dict(_images(framework, region, version, cfg.pipeline.training_instance_type))
    except ValueError as exc:
        # The SDK's image table knows which framework versions exist in which regions.
        raise PipelineConfigError(
            f"pipeline.framework_versions.{framework} is {version!r} and aws.region is {region!r}: "
            f"the SageMaker SDK has no {framework} image for them ({exc}); expected a version and region "
            f"listed at {IMAGE_TABLE}"
        ) from None


@functools.lru_cache(maxsize=8)
def _images(framework: str, region: str, version: str, instance_type: str) -> tuple[tuple[str, str], ...]:
    """The SDK's lookup, once per process and setting: each call reads botocore's endpoint table."""
    lookup = functools.partial(
        image_uris.retrieve, framework, region=region, version=version, instance_type=instance_type
    )
    return (("training", lookup()), ("inference", lookup(image_scope="inference")))
