"""What a deploy keeps and records on moto: old endpoint configs and models are deleted except
the newest two and the recorded previous one, and the previous config is tagged once."""

from __future__ import annotations

import time

from deploy_helpers import REGION, module, package_arn, plan_for
from deploy_scenarios import config_for, plans

deploy_module = module("deploy.deploy")
Clients = module("deploy.aws").Clients


def test_cleanup_keeps_the_newest_two_and_the_recorded_previous_config(accounts):
    cfg = config_for("four")
    aws = accounts(cfg)
    prod = aws.session("prod")
    clients = Clients(prod, REGION)
    sm = prod.client("sagemaker")
    plans = [plan_for(cfg, "prod", package_arn(cfg, "prod", v)) for v in range(1, 6)]
    for plan in plans:
        deploy_module.ensure_model(clients, plan)
        deploy_module.ensure_endpoint_config(clients, plan)
        time.sleep(0.002)
    sm.create_endpoint_config(
        EndpointConfigName=f"{plans[0].settings.endpoint_name}-manual",
        ProductionVariants=plans[0].config_request["ProductionVariants"],
    )
    deleted = deploy_module.cleanup(clients, plans[4], keep={plans[4].config_name, plans[0].config_name})
    assert deleted == [plans[2].config_name, plans[1].config_name]
    left = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert left == {
        plans[4].config_name,
        plans[3].config_name,
        plans[0].config_name,
        f"{plans[0].settings.endpoint_name}-manual",
    }
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    assert models == {plans[4].model_name, plans[3].model_name, plans[0].model_name}


def test_previous_config_is_recorded_once_as_an_endpoint_tag(accounts, recorder):
    cfg = config_for("four")
    aws = accounts(cfg)
    prod = aws.session("prod")
    clients = Clients(prod, REGION)
    old, _ = plans(cfg)
    deploy_module.ensure_model(clients, old)
    deploy_module.ensure_endpoint_config(clients, old)
    sm = prod.client("sagemaker")
    sm.create_endpoint(EndpointName=old.settings.endpoint_name, EndpointConfigName=old.config_name)
    live = sm.describe_endpoint(EndpointName=old.settings.endpoint_name)
    assert deploy_module.previous_config(clients, live) is None
    recorder.attach(clients.sagemaker)
    assert deploy_module.record_previous(clients, live) == old.config_name
    assert deploy_module.record_previous(clients, live) == old.config_name
    assert recorder.operations == ["ListTags", "AddTags", "ListTags"]
    assert deploy_module.previous_config(clients, live) == old.config_name


def test_cleanup_keeps_the_model_a_kept_config_shadows(accounts):
    """A shadow phase's config serves two models: the champion's and, as the shadow variant, the
    candidate's. Deleting an old config must not delete a model a kept config still shadows."""
    cfg = config_for("four")
    aws = accounts(cfg)
    prod = aws.session("prod")
    clients = Clients(prod, REGION)
    sm = prod.client("sagemaker")
    plans = [plan_for(cfg, "prod", package_arn(cfg, "prod", v)) for v in range(1, 5)]
    for plan in plans:
        deploy_module.ensure_model(clients, plan)
        deploy_module.ensure_endpoint_config(clients, plan)
        time.sleep(0.002)
    [champion] = plans[3].config_request["ProductionVariants"]
    shadow_config = f"{plans[3].settings.endpoint_name}-shadow-1"
    shadow = [{**champion, "VariantName": "Shadow", "ModelName": plans[0].model_name}]
    sm.create_endpoint_config(
        EndpointConfigName=shadow_config, ProductionVariants=[champion], ShadowProductionVariants=shadow
    )

    def with_shadow(parsed, **_):  # moto stores no ShadowProductionVariants: answer as SageMaker does
        if parsed.get("EndpointConfigName") == shadow_config:
            parsed["ShadowProductionVariants"] = shadow

    clients.sagemaker.meta.events.register("after-call.sagemaker.DescribeEndpointConfig", with_shadow)
    deleted = deploy_module.cleanup(clients, plans[3], keep={plans[3].config_name, shadow_config})
    assert plans[0].config_name in deleted
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    assert plans[0].model_name in models
    assert plans[1].model_name not in models
