"""The champion a pipeline definition is built against, resolved before the build.

The champion is the prod version the prod endpoint serves: `promotion.lifecycle.champion_version`,
the prod version released last (never simply the newest Approved one). `resolve_champion` looks it
up with the credentials of whoever builds the definition (the build roles and the data-scientist
role may only List and Describe the prod group) and returns its version ARN and the S3 URI of the
model.tar.gz it serves, under the prod prefix the pipeline jobs may read. The pipeline writes both
into the definition as literals (pipeline/steps.py): they are not start parameters, so whoever
starts an execution cannot compare the candidate with a weaker model than the one serving.

boto3 only (no SageMaker SDK).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..deploy.aws import Clients
from ..promotion.lifecycle import champion_version
from .execution import CliError

# What the definition says when there is no champion (before the first release).
NO_CHAMPION = "none"


@dataclass(frozen=True)
class Champion:
    """The serving prod version: its ARN and the model.tar.gz it serves (under the prod prefix)."""

    version: str
    model_data_uri: str


def champion_label(champion: Champion | None) -> str:
    """The version ARN, or "none" before the first release."""
    return champion.version if champion else NO_CHAMPION


def prod_prefix_uri(cfg: Config) -> str:
    return f"s3://{cfg.names.artifact_bucket}/{cfg.names.artifact_prefixes['prod']}"


def resolve_champion(cfg: Config, clients: Clients, segment: str | None = None) -> Champion | None:
    """The champion (None before the first release), read-only; with `segment`, that segment's
    (the prod version released last whose `segment` metadata is it; None for a new segment).

    It raises CliError when the champion serves a model from anywhere but one model.tar.gz
    under the prod prefix (the only place the pipeline jobs may read it from).
    """
    version = (
        champion_version(cfg, clients) if segment is None else champion_version(cfg, clients, segment=segment)
    )
    if version is None:
        return None
    urls = sorted(set(version.model_data_urls))
    prefix = prod_prefix_uri(cfg)
    if len(urls) != 1 or not urls[0].startswith(prefix) or not urls[0].endswith("/model.tar.gz"):
        raise CliError(
            f"the champion {version.arn} serves {', '.join(urls) or 'no model data'}; expected one "
            f"model.tar.gz under {prefix} (where promotion copies what prod serves)"
        )
    return Champion(version.arn, urls[0])
