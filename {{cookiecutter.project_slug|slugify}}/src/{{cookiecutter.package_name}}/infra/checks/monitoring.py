"""Who may write what in the capture buckets, and who may pass the monitoring role.

These probes join `checks/authority.py`'s (`check_authority` asks both), with this config's
capture buckets and workload accounts:

- only the endpoint role writes data capture (`data-capture/` of each capture bucket), so no
  other identity can forge the requests the monitoring jobs judge;
- only the monitoring role writes monitoring reports (`monitoring/`), so neither the endpoint
  nor anything else can hide a violation;
- only the deploy roles pass the monitoring role (to the schedules they create).
"""

from __future__ import annotations

from ... import config
from ...config import Config
from .authority import WRITES, Probe

MONITOR = "sagemaker_monitor"
DEPLOY_ROLES = frozenset(f"github_deploy_{env}" for env in config.ENVIRONMENTS)


def monitoring_probes(cfg: Config) -> tuple[Probe, ...]:
    result = []
    for env in config.ENVIRONMENTS:
        environment = cfg.environment(env)
        bucket = f"arn:aws:s3:::{environment.capture_bucket}/"
        result += [
            Probe(
                f"write data capture of {env}",
                WRITES,
                (bucket + f"data-capture/{env}/probe.jsonl",),
                frozenset({"sagemaker_endpoint"}),
            ),
            Probe(
                f"write monitoring reports of {env}",
                WRITES,
                (bucket + f"monitoring/{env}/data-quality/constraint_violations.json",),
                frozenset({MONITOR}),
            ),
            Probe(
                f"pass the monitoring role of {env}",
                ("iam:PassRole",),
                (f"arn:aws:iam::{environment.account}:role/{cfg.role_name(MONITOR)}",),
                DEPLOY_ROLES,
                {"iam:PassedToService": "sagemaker.amazonaws.com"},
            ),
        ]
    return tuple(result)
