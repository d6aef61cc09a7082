"""What the workload and deploy-role stacks take for asynchronous inference (endpoint type
"async"): per hosted async environment, its topics' name prefix and the deploy role that tests
it (workload.yaml), and the async prefix its deploy role's endpoint tests use
(workload-deploy.yaml). "" everywhere for an environment that is not async: the templates then
create no topic and grant nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import config
from ..config import Config


def _is_async(cfg: Config, env: str) -> bool:
    return cfg.environment(env).endpoint.is_async


def workload_parameters(cfg: Config, hosted: Iterable[str]) -> dict[str, str]:
    hosted = set(hosted)
    params = {}
    for env in config.ENVIRONMENTS:
        on = env in hosted and _is_async(cfg, env)
        prefix = env.capitalize()
        topics = cfg.names.async_topics[env]["success"].removesuffix("-success")
        params[f"{prefix}AsyncTopicPrefix"] = topics if on else ""
        params[f"{prefix}AsyncTesterRoleName"] = cfg.role_name(cfg.deploy_role_key(env)) if on else ""
    return params


def deploy_parameters(cfg: Config, env: str) -> dict[str, str]:
    return {"AsyncPrefix": f"async/{env}/" if _is_async(cfg, env) else ""}
