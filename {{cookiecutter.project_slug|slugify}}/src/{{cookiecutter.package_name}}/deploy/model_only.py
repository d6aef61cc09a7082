"""A batch-only environment (endpoint type "none"): its deploy and what its tests run against.

- `deploy_model`: the deploy creates the version's model and nothing else. The model is planned
  exactly as an endpoint's (`endpoint.plan`: name, execution role, containers, network isolation,
  tags); there is no endpoint config, endpoint, alarm, autoscaling or monitoring schedule. A
  repeat finds the model and makes no mutating call. A model already under the planned name that
  is not the planned one (another role, image, data, package or environment) is refused, as a
  batch run refuses it (`batch.job.require_model`): nothing runs a model someone else created.
- `tested_version_problem`: which version `endpoint-test --arn` tests. A batch-only test runs the
  deploy's model of that version; an endpoint's must be serving it (its production variant runs
  the model the deploy plans for it; a multi-model endpoint routes exactly that set), so a QA
  result is never recorded on a version the endpoint did not serve.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from .aws import Clients, DeployError, log
from .deploy import DeployResult, ensure_model, prepare
from .endpoint import DeployPlan
from .model_check import refuse_other_model
from .state import describe_endpoint


def deploy_model(clients: Clients, plan: DeployPlan) -> DeployResult:
    """Create the planned model unless it exists; refuse (DeployError) one that differs."""
    created = ensure_model(clients, plan)
    if created:
        log(f"{plan.settings.env} is batch-only: model {plan.model_name} is its deploy (no endpoint)")
    else:
        log(f"model {plan.model_name} already exists for {plan.package.arn}; nothing to deploy")
    return DeployResult("", "", plan.model_name, None, created, "created" if created else "unchanged")


def tested_version_problem(cfg: Config, clients: Clients, env: str, arn: str) -> str:
    """Why the environment's endpoint does not serve `arn` ("" when it does: it is InService with
    no deployment pending, and its config's production variant runs the model the deploy plans
    for that version, by name and by what it is made of; a multi-model one routes exactly the set
    `arn` lists). Read-only."""
    if cfg.environment(env).endpoint.multi_model:
        from ..promotion.segments import split_arns
        from .set_cli import endpoint_routes

        routed = sorted(route.package_arn for route in endpoint_routes(cfg, env, clients).values())
        wanted = sorted(split_arns(cfg, arn))
        if routed != wanted:
            return f"the endpoint routes {', '.join(routed)}, not the set {', '.join(wanted)}"
        return ""
    plan = prepare(cfg, clients, env, arn)
    name = plan.settings.endpoint_name
    endpoint = describe_endpoint(clients, name)
    if endpoint is None:
        return f"endpoint {name} does not exist"
    # An update in flight shifts traffic to another config while the endpoint still names this one.
    status, pending = endpoint.get("EndpointStatus"), endpoint.get("PendingDeploymentSummary")
    if status != "InService" or pending:
        moving = f", deploying {pending.get('EndpointConfigName')}" if pending else ""
        return (
            f"endpoint {name} is {status}{moving}, not InService on one config (its traffic may "
            "reach another model); test once it settles"
        )
    config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    models = [variant["ModelName"] for variant in config["ProductionVariants"]]
    if models != [plan.model_name]:
        return (
            f"endpoint {name} runs {', '.join(models)} ({endpoint['EndpointConfigName']}), not "
            f"{plan.model_name}, the model of {arn}; deploy that version first"
        )
    # The name alone would not tell a model created beforehand with another artifact, image or
    # role (the deploy refuses one too; this checks what serves now).
    try:
        refuse_other_model(clients.sagemaker.describe_model(ModelName=plan.model_name), plan, env)
    except DeployError as exc:
        return str(exc)
    return ""


def served_state(cfg: Config, clients: Clients, env: str) -> tuple[Any, ...]:
    """What `endpoint-test --arn` compares before and after the suite: the endpoint's config,
    status, pending deployment and last change (an update started and undone while the suite ran
    changes the last)."""
    endpoint = describe_endpoint(clients, cfg.environment(env).endpoint.endpoint_name) or {}
    keys = ("EndpointConfigName", "EndpointStatus", "PendingDeploymentSummary", "LastModifiedTime")
    return tuple(str(endpoint.get(key)) for key in keys)
