"""What the workload and deploy-role stacks take for the transform test of a batch-only
environment (endpoint type "none"): the prefix of the capture bucket its test uses
(`batch/<env>/tests/`, whose `input/` and `output/` are `cfg.names.batch_test_prefixes`), per
hosted batch-only environment for the endpoint role the job runs as (workload.yaml) and for the
environment's deploy role that runs the test (workload-deploy.yaml). "" everywhere for an
environment with an endpoint: the templates then grant nothing on those prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import config
from ..config import Config


def tests_prefix(cfg: Config, env: str) -> str:
    """`batch/<env>/tests/` for a batch-only environment, else "". The templates append `input/`
    and `output/`, so every use of `cfg.names.batch_test_prefixes[env]` must be that plus its name."""
    if not cfg.environment(env).endpoint.batch_only:
        return ""
    uses = cfg.names.batch_test_prefixes[env]
    parents = {prefix.removesuffix(f"{use}/") for use, prefix in uses.items()}
    if len(parents) != 1 or any(uses[use] != f"{next(iter(parents))}{use}/" for use in uses):
        raise ValueError(f"batch test prefixes of {env} share no parent the templates can name: {dict(uses)}")
    return parents.pop()


def workload_parameters(cfg: Config, hosted: Iterable[str]) -> dict[str, str]:
    hosted = set(hosted)
    return {
        f"{env.capitalize()}BatchTestPrefix": tests_prefix(cfg, env) if env in hosted else ""
        for env in config.ENVIRONMENTS
    }


def deploy_parameters(cfg: Config, env: str) -> dict[str, str]:
    return {"BatchTestPrefix": tests_prefix(cfg, env)}
