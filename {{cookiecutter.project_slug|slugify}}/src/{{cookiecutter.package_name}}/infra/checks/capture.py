"""Who may read what in the capture buckets: the captured requests and answers, and the reports.

These probes join `checks/authority.py`'s (`check_authority` asks them with its own and
`checks/monitoring.py`'s), with this config's capture buckets and workload accounts. They are the
checks' own limits, whatever the templates or the bootstrap plan say:

- each environment's data capture (`data-capture/<env>/`) is read and listed only by the
  monitoring role, and prod's also by the prod deploy role (`shadow compare` pairs the champion's
  and the shadow's answers there); the QA deploy role reads no capture;
- the monitoring reports (`monitoring/<env>/`) are read and listed only by the monitoring role;
- no role may decrypt, through S3, objects of a bucket other than the capture bucket with a
  wildcard key grant of a workload account (the prod deploy role's capture-key statement names
  `key/*`, narrowed by the capture bucket's encryption context).
"""

from __future__ import annotations

from collections.abc import Mapping

from ... import config
from ...config import Config
from .authority import Probe

MONITOR = "sagemaker_monitor"
READS = ("s3:GetObject", "s3:GetObjectVersion")
# Besides the monitoring role, the readers of each environment's data capture.
CAPTURE_READERS: Mapping[str, frozenset[str]] = {
    "qa": frozenset(),
    "prod": frozenset({"github_deploy_prod"}),
}
# A bucket no template names: the encryption context of an object outside the capture bucket.
OTHER_BUCKET = "some-other-bucket-of-the-account"


def capture_probes(cfg: Config) -> tuple[Probe, ...]:
    result = []
    for env in config.ENVIRONMENTS:
        environment = cfg.environment(env)
        bucket = f"arn:aws:s3:::{environment.capture_bucket}"
        readers = frozenset({MONITOR}) | CAPTURE_READERS[env]
        result += [
            Probe(
                f"read data capture of {env}",
                READS,
                (f"{bucket}/data-capture/{env}/{environment.endpoint_name}/AllTraffic/probe.jsonl",),
                readers,
            ),
            Probe(
                f"list data capture of {env}",
                ("s3:ListBucket",),
                (bucket,),
                readers,
                {"s3:prefix": f"data-capture/{env}/"},
            ),
            Probe(
                f"read monitoring reports of {env}",
                READS,
                (f"{bucket}/monitoring/{env}/data-quality/constraint_violations.json",),
                frozenset({MONITOR}),
            ),
            Probe(
                f"list monitoring reports of {env}",
                ("s3:ListBucket",),
                (bucket,),
                frozenset({MONITOR}),
                {"s3:prefix": f"monitoring/{env}/"},
            ),
            Probe(
                f"decrypt another bucket's objects with a key of the {env} account",
                ("kms:Decrypt",),
                (f"arn:aws:kms:{cfg.region}:{environment.account}:key/00000000-probe",),
                frozenset(),
                {
                    "kms:ViaService": f"s3.{cfg.region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{OTHER_BUCKET}/probe.jsonl",
                },
            ),
        ]
    return tuple(result)
