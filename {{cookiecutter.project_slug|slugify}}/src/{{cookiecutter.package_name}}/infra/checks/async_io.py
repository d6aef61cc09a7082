"""Who may touch an async endpoint's requests, answers and notifications (endpoint type "async").

These probes join `checks/authority.py`'s (`check_authority` asks them), with this config's
capture buckets and workload accounts, for each environment whose endpoint is async (the
templates grant nothing there for the others):

- only the endpoint role reads the requests (`async/<env>/input/`) and writes the answers and
  failures (`async/<env>/output/`, `failure/`), so no other identity can forge an answer;
- only the environment's own deploy role puts requests and reads answers (its endpoint tests);
- only the endpoint role publishes to the environment's `<endpoint>-async-success/error` topics.
"""

from __future__ import annotations

from ... import config
from ...config import Config
from .authority import WRITES, Probe

READS = ("s3:GetObject", "s3:GetObjectVersion")
ENDPOINT = frozenset({"sagemaker_endpoint"})


def async_probes(cfg: Config) -> tuple[Probe, ...]:
    result = []
    for env in config.ENVIRONMENTS:
        environment = cfg.environment(env)
        if not environment.endpoint.is_async:
            continue
        bucket = f"arn:aws:s3:::{environment.capture_bucket}/"
        prefixes = cfg.names.async_prefixes[env]
        tester = frozenset({f"github_deploy_{env}"})
        answers = (
            bucket + prefixes["output"] + "probe.out",
            bucket + prefixes["failure"] + "probe-error.out",
        )
        topics = cfg.names.async_topics[env]
        sns = f"arn:aws:sns:{cfg.region}:{environment.account}:"
        result += [
            Probe(f"write async answers of {env}", WRITES, answers, ENDPOINT),
            Probe(f"read async answers of {env}", READS, answers, tester),
            Probe(
                f"write async requests of {env}", WRITES, (bucket + prefixes["input"] + "probe.csv",), tester
            ),
            Probe(
                f"read async requests of {env}", READS, (bucket + prefixes["input"] + "probe.csv",), ENDPOINT
            ),
            Probe(
                f"publish async notifications of {env}",
                ("sns:Publish",),
                tuple(sns + name for name in topics.values()),
                ENDPOINT,
            ),
        ]
    return tuple(result)
