"""The `monitoring` section of config/project.json: Model Monitor schedules on the endpoints.

    "monitoring": {
      "environments": ["prod"],
      "instance_type": "ml.m5.large",
      "data_quality": {"schedule": "cron(0 * ? * * *)"},
      "model_quality": {"ground_truth_uri": "", "schedule": "cron(0 0 ? * * *)"},
      "constraints": {"comparison_threshold": 0.1, "comparison_method": "Robust",
                      "datatype_check_threshold": 1.0, "domain_content_threshold": 1.0}
    }

- `environments`: the deploy environments (qa, prod) whose endpoint `deploy` puts under
  monitoring; `[]` turns monitoring off. Each must capture data: a real-time or async endpoint
  with `data_capture.enabled` true (a serverless endpoint has no data capture; monitoring is not
  available for multi-model endpoints). Without the key: prod when prod captures data, else none.
- `instance_type`: the instance of each monitoring job.
- `data_quality.schedule`, `model_quality.schedule`: SageMaker monitoring schedule expressions,
  hourly `cron(0 * ? * * *)`, daily at an hour `cron(0 H ? * * *)`, or every N hours from an
  hour `cron(0 H/N ? * * *)` (UTC; the forms Model Monitor accepts).
- `model_quality.ground_truth_uri`: the s3:// prefix your application writes ground-truth labels
  to; "" (the default) means no model-quality schedule.
- `constraints`: Model Monitor's own `monitoring_config` names; the pipeline writes them into the
  version's baseline constraints, which the schedules then apply.

The section is optional (these defaults apply); unknown keys are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .fields import INSTANCE_TYPE, ConfigError, _Section, _show
from .names import ENVIRONMENTS

COMPARISON_METHODS = ("Robust", "Simple")
DATA_QUALITY_SCHEDULE = "cron(0 * ? * * *)"
MODEL_QUALITY_SCHEDULE = "cron(0 0 ? * * *)"
# Hourly, daily at an hour, or every N hours from an hour (minute 0, every day, UTC).
SCHEDULE = re.compile(
    r"^cron\(0 (?P<hour>\*|(?:[01]?\d|2[0-3]))(?:/(?P<every>[1-9]|1\d|2[0-4]))? \? \* \* \*\)$"
)
SCHEDULE_EXPECTED = (
    "a Model Monitor schedule: cron(0 * ? * * *) hourly, cron(0 H ? * * *) daily at hour H (0-23), "
    "or cron(0 H/N ? * * *) every N hours (1-24) from hour H"
)
DEFAULT_ENVIRONMENTS = ("prod",)
GROUND_TRUTH = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")


@dataclass(frozen=True)
class Constraints:
    """Thresholds of the data-quality constraints, under Model Monitor's `monitoring_config` names."""

    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "comparison_threshold": self.comparison_threshold,
            "comparison_method": self.comparison_method,
            "datatype_check_threshold": self.datatype_check_threshold,
            "domain_content_threshold": self.domain_content_threshold,
        }


@dataclass(frozen=True)
class DataQuality:
    schedule: str = DATA_QUALITY_SCHEDULE


@dataclass(frozen=True)
class ModelQuality:
    ground_truth_uri: str = ""
    schedule: str = MODEL_QUALITY_SCHEDULE

    @property
    def enabled(self) -> bool:
        return bool(self.ground_truth_uri)


@dataclass(frozen=True)
class Monitoring:
    environments: tuple[str, ...] = ("prod",)
    instance_type: str = "ml.m5.large"
    data_quality: DataQuality = field(default_factory=DataQuality)
    model_quality: ModelQuality = field(default_factory=ModelQuality)
    constraints: Constraints = field(default_factory=Constraints)

    def watches(self, env: str) -> bool:
        return env in self.environments


def schedule_seconds(expression: str) -> int:
    """Seconds between two runs of a (validated) schedule expression: 3600 hourly, the step in
    hours for `H/N`, a day for a single hour."""
    match = SCHEDULE.match(expression)
    if not match:
        raise ConfigError(f"schedule {_show(expression)}; expected {SCHEDULE_EXPECTED}")
    if match["hour"] == "*":
        return 3600 * int(match["every"] or 1)
    return 3600 * int(match["every"]) if match["every"] else 86400


def _captures(settings: Any) -> bool:
    """A real-time or async endpoint (one model) that captures its requests and answers."""
    watchable = settings.real_time or settings.is_async
    return bool(watchable and settings.data_capture.get("enabled"))


def _schedule(s: _Section, default: str) -> str:
    return s.text("schedule", default=default, pattern=SCHEDULE, expected=SCHEDULE_EXPECTED)


def parse_monitoring(s: _Section, endpoints: Mapping[str, Any], artifact_bucket: str) -> Monitoring:
    """`monitoring` (optional). `endpoints` maps each environment to its EndpointSettings, which
    must capture data where monitoring is asked for; ground truth must not be in the artifact
    bucket (no monitoring job reads it)."""
    where = s.where("environments")
    if "environments" not in s.data:
        # The default watches prod where prod captures data, so configs without the key keep parsing.
        s.read.add("environments")
        envs = [e for e in DEFAULT_ENVIRONMENTS if _captures(endpoints[e])]
    else:
        envs = s._get("environments", None)
    if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
        raise ConfigError(f"{where} is {_show(envs)}; expected a list of environment names (qa, prod)")
    for env in envs:
        if env not in ENVIRONMENTS:
            raise ConfigError(f"{where} names {_show(env)}; expected only {', '.join(ENVIRONMENTS)}")
    if len(set(envs)) != len(envs):
        raise ConfigError(f"{where} is {_show(envs)}; expected each environment once")
    for env in envs:
        settings = endpoints[env]
        if settings.multi_model:
            raise ConfigError(
                f'{where} includes "{env}", but environments.{env}.endpoint is multi-model, and '
                "monitoring is not available for multi-model endpoints (each segment's model would "
                f"need its own baseline); expected {env} left out of {where}"
            )
        if not settings.on_instances:
            raise ConfigError(
                f'{where} includes "{env}", but environments.{env}.endpoint is {settings.kind}, which has no '
                f"data capture to monitor; expected {env} left out of {where}, or a real-time or async "
                f"{env} endpoint with data_capture.enabled true"
            )
        if not settings.data_capture.get("enabled"):
            raise ConfigError(
                f'{where} includes "{env}", but environments.{env}.endpoint.data_capture.enabled is '
                f"false, so there is nothing to monitor; expected data capture on, or {env} left out "
                f"of {where}"
            )
    instance_type = s.text(
        "instance_type",
        default="ml.m5.large",
        pattern=INSTANCE_TYPE,
        expected="an ml.* instance type such as ml.m5.large",
    )
    dq = s.section("data_quality")
    data_quality = DataQuality(schedule=_schedule(dq, DATA_QUALITY_SCHEDULE))
    dq.done()
    mq = s.section("model_quality")
    uri = mq.text("ground_truth_uri", default="")
    if uri and not GROUND_TRUTH.match(uri):
        raise ConfigError(
            f"{mq.where('ground_truth_uri')} is {_show(uri)}; expected an s3://bucket/prefix URI "
            'or "" (no model-quality monitoring)'
        )
    if uri and uri[len("s3://") :].split("/", 1)[0] == artifact_bucket:
        raise ConfigError(
            f"{mq.where('ground_truth_uri')} is {_show(uri)}; expected a bucket of your application "
            f"(the monitoring role reads ground truth there), not the artifact bucket {artifact_bucket}"
        )
    model_quality = ModelQuality(ground_truth_uri=uri, schedule=_schedule(mq, MODEL_QUALITY_SCHEDULE))
    mq.done()
    c = s.section("constraints")
    constraints = Constraints(
        comparison_threshold=c.number("comparison_threshold", 0, 1, default=0.1),
        comparison_method=c.choice("comparison_method", COMPARISON_METHODS, default="Robust"),
        datatype_check_threshold=c.number("datatype_check_threshold", 0, 1, default=1.0),
        domain_content_threshold=c.number("domain_content_threshold", 0, 1, default=1.0),
    )
    c.done()
    s.done()
    return Monitoring(
        environments=tuple(envs),
        instance_type=instance_type,
        data_quality=data_quality,
        model_quality=model_quality,
        constraints=constraints,
    )
