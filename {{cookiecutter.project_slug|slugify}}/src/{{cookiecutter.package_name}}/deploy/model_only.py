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

from botocore.exceptions import ClientError

from ..config import Config
from .aws import Clients, is_not_found, log
from .deploy import DeployResult, prepare
from .endpoint import DeployPlan
from .state import describe_endpoint


def deploy_model(clients: Clients, plan: DeployPlan) -> DeployResult:
    """Create the planned model unless it exists; refuse (DeployError) one that differs."""
    from ..batch.job import refuse_other_model  # batch builds on the deploy modules

    try:
        found = clients.sagemaker.describe_model(ModelName=plan.model_name)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        log(f"{plan.settings.env} is batch-only: creating model {plan.model_name} from {plan.package.arn}")
        clients.sagemaker.create_model(**plan.model_request)
        return DeployResult("", "", plan.model_name, None, True, "created")
    refuse_other_model(found, plan, plan.settings.env)
    log(f"model {plan.model_name} already exists for {plan.package.arn}; nothing to deploy")
    return DeployResult("", "", plan.model_name, None, False, "unchanged")


def tested_version_problem(cfg: Config, clients: Clients, env: str, arn: str) -> str:
    """Why the environment's endpoint does not serve `arn` ("" when it does: its running config's
    production variant runs the model the deploy plans for that version; a multi-model one
    routes exactly the set `arn` lists). Read-only."""
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
    config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    models = [variant["ModelName"] for variant in config["ProductionVariants"]]
    if models != [plan.model_name]:
        return (
            f"endpoint {name} runs {', '.join(models)} ({endpoint['EndpointConfigName']}), not "
            f"{plan.model_name}, the model of {arn}; deploy that version first"
        )
    return ""
