"""What each consumer needs, derived from the access table and a Config."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .. import config
from ..config import Config, Environment
from ..config.principals import principal_account
from . import resources, table
from .table import CREATE_MODEL, KEY_ADMIN_ACTIONS, Grant, actions_of, grants, party_account


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _role_arn(cfg: Config, grant: Grant) -> str:
    return f"arn:aws:iam::{party_account(cfg, grant.party)}:role/{cfg.role_name(grant.role)}"


# --- the registry --------------------------------------------------------------------------


def workload_group_actions(environment: Environment) -> tuple[str, ...]:
    """Registry actions the account of `environment` needs on the group it deploys from."""
    return actions_of(table.ENVIRONMENT_TABLE[environment.name], ("group:source", "versions:source"))


def creates_model_from_package(env: str) -> bool:
    """True where the deploy creates the model from the package ARN (prod), not from its containers."""
    return CREATE_MODEL in actions_of(table.ENVIRONMENT_TABLE[env], ("versions:source",))


def group_policy(cfg: Config, kind: str) -> dict[str, Any] | None:
    """Resource policy of the `kind` group, or None when no other account needs access.

    One statement per party holding actions on the group or its versions, in table order (data
    science, then the environments): account-root principal, explicit sorted actions, the group
    and its versions as resources. The shared-services account itself is never listed: inside one
    account IAM identity policies decide, so single-account mode gets no resource policy at all.
    """
    owner = cfg.account_id("shared_services")
    rows = grants(cfg)
    statements = []
    for party in ("data_science", *cfg.environments):
        actions = actions_of((g for g in rows if g.party == party), (f"group:{kind}", f"versions:{kind}"))
        account = party_account(cfg, party)
        if not actions or account == owner:
            continue
        if party == "data_science":
            sid = "DataScienceRegister" if table.CREATE_PACKAGE in actions else "DataScienceRead"
        else:
            sid = party.capitalize() + ("Deploy" if CREATE_MODEL in actions else "Read")
        statements.append(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": _root(account)},
                "Action": list(actions),
                "Resource": [cfg.group_arn(kind), cfg.packages_arn(kind)],
            }
        )
    if not statements:
        return None
    return {"Version": "2012-10-17", "Statement": statements}


# --- the artifact key and bucket -------------------------------------------------------------


def _resource_statements(
    cfg: Config, layout: Iterable[tuple[str, tuple[str, ...], tuple[str, ...], str]]
) -> list[dict[str, Any]]:
    """One statement per layout entry: the Allow rows of its parties and roles on its resource
    (`objects:source` is the prefix of the one party's environment); an entry whose roles hold
    nothing on it (the data-scientist role when there is none) makes no statement."""
    rows = [g for g in grants(cfg) if g.allow]
    arns = {"key": "*", "bucket": f"arn:aws:s3:::{cfg.names.artifact_bucket}"}
    statements = []
    for sid, parties, roles, resource in layout:
        if resource.endswith(":source"):
            (party,) = parties
            resource = resource.replace(":source", ":" + cfg.environment(party).group_kind)
        held = [g for g in rows if g.party in parties and g.role in roles and resource in g.resources]
        if not held:
            continue
        condition: dict[str, Any] = {}
        via = sorted({f"{service}.{cfg.region}.amazonaws.com" for g in held for service in g.via})
        if via:
            condition["kms:ViaService"] = via
        condition["aws:PrincipalArn"] = list(dict.fromkeys(_role_arn(cfg, g) for g in held))
        statements.append(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": [_root(party_account(cfg, p)) for p in parties]},
                "Action": list(actions_of(held, (resource,))),
                "Resource": arns.get(resource) or resources.resource_arns(cfg, resource, parties[0])[0],
                "Condition": {"StringEquals": condition},
            }
        )
    return statements


def key_policy(cfg: Config) -> list[dict[str, Any]]:
    """The artifact key policy's Allow statements: administration by its own account, then use."""
    admin = {
        "Sid": "KeyAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": _root(cfg.account_id("shared_services"))},
        "Action": list(KEY_ADMIN_ACTIONS),
        "Resource": "*",
    }
    return [admin, *_resource_statements(cfg, table.KEY_STATEMENTS)]


def bucket_policy(cfg: Config) -> list[dict[str, Any]]:
    """The artifact bucket policy's Allow statements (the TLS-only Deny is the checks' concern).
    Each names one key prefix: no statement grants anything on every object of the bucket."""
    return _resource_statements(cfg, table.BUCKET_STATEMENTS)


# --- identity policies and stack parameters --------------------------------------------------


def condition_text(document: Any) -> str:
    """A statement's Condition as canonical text (values as sorted lists; "" for none), so
    conditions from the table and from a template compare equal when IAM reads them the same."""
    if not document:
        return ""
    normal = {
        operator: {
            key: sorted(map(str, v if isinstance(v, list | tuple) else [v])) for key, v in values.items()
        }
        for operator, values in document.items()
    }
    return json.dumps(normal, sort_keys=True)


def role_grants(cfg: Config) -> dict[tuple[str, str], set[tuple[str, str, str, str]]]:
    """(party, role key) -> its (effect, action, resource symbol, condition text) entries."""
    result: dict[tuple[str, str], set[tuple[str, str, str, str]]] = {}
    for grant in grants(cfg):
        entries = result.setdefault((grant.party, grant.role), set())
        condition = condition_text(grant.condition_document())
        entries.update(
            (grant.effect, action, resource, condition)
            for action in grant.actions
            for resource in grant.resources
        )
    return result


def grants_of_role(cfg: Config, account: str, role_name: str) -> set[tuple[str, str, str, str]] | None:
    """The (effect, action, resource, condition) entries the table gives an IAM role of an
    account (its rows under every party in that account), or None when it names no such role."""
    found = [
        entries
        for (party, role), entries in role_grants(cfg).items()
        if party_account(cfg, party) == account and cfg.role_name(role) == role_name
    ]
    return set().union(*found) if found else None


def shared_services_parameters(cfg: Config) -> dict[str, str]:
    """The principals and prefixes of the shared-services stack's key, bucket and group policies."""
    endpoint = cfg.role_name("sagemaker_endpoint")
    names = cfg.names
    return {
        "DataScienceAccountId": cfg.account_id("data_science"),
        "QaAccountId": cfg.environment("qa").account,
        "ProdAccountId": cfg.environment("prod").account,
        "FeatureBuildRoleName": cfg.role_name("github_feature"),
        "BuildRoleName": cfg.role_name("github_build"),
        "FeaturePipelineRoleName": cfg.role_name("sagemaker_feature"),
        "PipelineRoleName": cfg.role_name("sagemaker_pipeline"),
        "QaEndpointRoleName": endpoint,
        "ProdEndpointRoleName": endpoint,
        "ProdDeployRoleName": cfg.role_name("github_deploy_prod"),
        "QaDeployRoleName": cfg.role_name("github_deploy_qa"),
        "ProdBatchRoleName": cfg.role_name("github_batch_prod"),
        "QaBatchRoleName": cfg.role_name("github_batch_qa"),
        "QaMonitorRoleName": cfg.role_name("sagemaker_monitor"),
        "ProdMonitorRoleName": cfg.role_name("sagemaker_monitor"),
        "RegistryQaRoleName": cfg.role_name("github_registry_qa"),
        "RegistryProdRoleName": cfg.role_name("github_registry_prod"),
        "DataScientistRoleName": data_scientist_parameters(cfg)["DataScientistRoleName"],
        "FeaturePrefix": names.artifact_prefixes["feature"],
        "DevArtifactPrefix": names.artifact_prefixes["dev"],
        "ProdArtifactPrefix": names.artifact_prefixes["prod"],
        "DatasetsPrefix": names.datasets_prefix,
    }


def data_scientist_parameters(cfg: Config) -> dict[str, str]:
    """The data-scientist role of the data-science stack: who may assume it (the config's role ARN
    pattern and that role's account) and its name; all "" when `aws.data_scientist_principal` is."""
    principal = cfg.data_scientist_principal
    return {
        "DataScientistPrincipal": principal,
        "DataScientistAccountId": principal_account(principal) if principal else "",
        "DataScientistRoleName": cfg.role_name("data_scientist") if principal else "",
    }


def reads_source_objects(env: str, role: str) -> bool:
    """Whether `role` of environment `env` reads the artifacts of the prefix `env` deploys from."""
    return any(
        g.allow and g.role == role and "objects:source" in g.resources and "s3:GetObject" in g.actions
        for g in table.ENVIRONMENT_TABLE[env]
    )


def source_prefix(cfg: Config, env: str) -> str:
    """The artifact prefix environment `env` deploys from (that of its group)."""
    return cfg.names.artifact_prefixes[cfg.environment(env).group_kind]


def deploy_parameters(cfg: Config, env: str) -> dict[str, str]:
    """What an environment's deploy-role stack grants on the shared resources: the group it reads,
    whether it creates models from the package ARN, and the artifact prefix it reads ("" none)."""
    reads = reads_source_objects(env, cfg.deploy_role_key(env))
    return {
        "ModelPackageGroupName": cfg.environment(env).group,
        "ModelFromPackageArn": "true" if creates_model_from_package(env) else "false",
        "SourceArtifactPrefix": source_prefix(cfg, env) if reads else "",
    }


def workload_parameters(cfg: Config, hosted: Iterable[str]) -> dict[str, str]:
    """What the workload stack of an account hosting the environments `hosted` passes its
    endpoint role: the artifact prefix each environment deploys from ("" when not hosted)."""
    hosted = set(hosted)
    return {
        f"{env.capitalize()}SourcePrefix": source_prefix(cfg, env)
        if env in hosted and reads_source_objects(env, "sagemaker_endpoint")
        else ""
        for env in config.ENVIRONMENTS
    }
