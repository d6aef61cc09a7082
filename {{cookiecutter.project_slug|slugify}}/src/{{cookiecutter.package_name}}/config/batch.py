"""The `batch` section of config/project.json: Batch Transform runs over a prefix of input files.

    "batch": {
      "source": "prod",
      "environments": {
        "prod": {"input_uri": "", "schedule": "0 5 * * *", "instance_type": "ml.m5.large",
                 "instance_count": 1, "max_payload_mb": 6}
      }
    }

- `environments.<env>` (qa, prod): where `batch run --env <env>` reads and writes, in that
  environment's workload account. Input and output live in the account's capture bucket under
  `batch/<env>/input/` and `batch/<env>/output/` (names.py derives both; the bucket's KMS key
  encrypts the output). `input_uri` is "" (the whole input prefix) or an s3:// prefix under it.
  Without `environments`: both qa and prod with these defaults.
- `schedule`: the cron of .github/workflows/batch.yml's scheduled run (five fields, UTC, as
  GitHub Actions reads it); tests/test_batch_workflow.py checks the workflow carries it.
- `instance_type`, `instance_count` (1-100): the transform job's instances.
- `max_payload_mb` (1-100): MaxPayloadInMB, the largest request the job sends.
- `source`: the environment the scheduled run uses: prod (the released, locked version) or qa
  (the QA-verified dev version from the lock).
- `github_environment`: the GitHub environment of batch.yml's jobs (default "batch"), the only
  one the batch roles (`<model>-github-batch-<env>`, ROLE_KEYS) trust: no reviewers, the prod
  branch only (`infra github apply`), so a schedule runs unattended.

The section is optional (these defaults apply); unknown keys are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .fields import INSTANCE_TYPE, ConfigError, _Section, _show
from .names import ENVIRONMENTS, Names

DEFAULT_SCHEDULE = "0 5 * * *"
DEFAULT_GITHUB_ENVIRONMENT = "batch"
GITHUB_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
# The identity that runs an environment's transform jobs (config.ROLE_SUFFIXES keys).
ROLE_KEYS = MappingProxyType({"qa": "github_batch_qa", "prod": "github_batch_prod"})
# Five cron fields of digits, *, lists, ranges and steps (GitHub Actions' schedule syntax).
_FIELD = r"(\*|\d{1,2}(-\d{1,2})?)(/\d{1,2})?(,(\*|\d{1,2}(-\d{1,2})?)(/\d{1,2})?)*"
CRON = re.compile("^" + _FIELD + "( " + _FIELD + "){4}$")
CRON_EXPECTED = 'a five-field cron expression in UTC such as "0 5 * * *" (daily at 05:00)'


@dataclass(frozen=True)
class BatchEnvironment:
    """One environment's batch settings, validated; the URIs are s3://bucket/prefix/."""

    env: str
    input_uri: str
    input_prefix_uri: str
    output_uri: str
    schedule: str = DEFAULT_SCHEDULE
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    max_payload_mb: int = 6


@dataclass(frozen=True)
class Batch:
    environments: Mapping[str, BatchEnvironment] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "prod"
    github_environment: str = DEFAULT_GITHUB_ENVIRONMENT

    def environment(self, env: str) -> BatchEnvironment:
        try:
            return self.environments[env]
        except KeyError:
            configured = ", ".join(self.environments) or "none"
            raise ConfigError(
                f"batch.environments has no {_show(env)}; expected one of the configured: {configured}"
            ) from None


def is_input_prefix(uri: str, prefix_uri: str) -> bool:
    """Whether `uri` is a prefix ending in / under `prefix_uri` with plain path segments: no
    whitespace, no empty, "." or ".." segment, no %-escape (S3 keys are literal, so such a
    prefix would not mean what it seems to)."""
    if not uri.startswith(prefix_uri) or not uri.endswith("/"):
        return False
    if any(c.isspace() for c in uri) or "%" in uri:
        return False
    segments = uri[len("s3://") :].split("/")[:-1]
    return all(segment not in ("", ".", "..") for segment in segments)


def _environment(s: _Section, env: str, names: Names) -> BatchEnvironment:
    bucket = names.capture_buckets[env]
    prefix_uri = f"s3://{bucket}/{names.batch_input_prefixes[env]}"
    input_uri = s.text("input_uri", default="") or prefix_uri
    if not is_input_prefix(input_uri, prefix_uri):
        raise ConfigError(
            f'{s.where("input_uri")} is {_show(input_uri)}; expected "" or a prefix ending in / '
            f"under {prefix_uri} (the {env} batch jobs read only there)"
        )
    settings = BatchEnvironment(
        env=env,
        input_uri=input_uri,
        input_prefix_uri=prefix_uri,
        output_uri=f"s3://{bucket}/{names.batch_output_prefixes[env]}",
        schedule=s.text("schedule", default=DEFAULT_SCHEDULE, pattern=CRON, expected=CRON_EXPECTED),
        instance_type=s.text(
            "instance_type",
            default="ml.m5.large",
            pattern=INSTANCE_TYPE,
            expected="an ml.* instance type such as ml.m5.large",
        ),
        instance_count=s.number("instance_count", 1, 100, default=1, integer=True),
        max_payload_mb=s.number("max_payload_mb", 1, 100, default=6, integer=True),
    )
    s.done()
    return settings


def parse_batch(s: _Section, names: Names) -> Batch:
    """`batch` (optional): per-environment settings and the scheduled run's source."""
    envs = s.section("environments")
    chosen = list(envs.data) if "environments" in s.data else list(ENVIRONMENTS)
    for env in chosen:
        if env not in ENVIRONMENTS:
            raise ConfigError(f"{envs.where(env)} is not an environment; expected {', '.join(ENVIRONMENTS)}")
    environments = MappingProxyType(
        {env: _environment(envs.section(env), env, names) for env in ENVIRONMENTS if env in chosen}
    )
    envs.done()
    source = s.choice("source", ENVIRONMENTS, default="prod")
    if source not in environments:
        raise ConfigError(
            f"batch.source is {_show(source)} but batch.environments has no {source}; expected a "
            f"configured environment ({', '.join(environments) or 'none'})"
        )
    github_environment = s.text(
        "github_environment",
        default=DEFAULT_GITHUB_ENVIRONMENT,
        pattern=GITHUB_ENVIRONMENT,
        expected="a GitHub environment name (letters, digits, . _ -)",
    )
    s.done()
    return Batch(environments=environments, source=source, github_environment=github_environment)
