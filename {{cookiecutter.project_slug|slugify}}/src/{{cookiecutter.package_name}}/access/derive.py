"""What each consumer needs, derived from the access table and a Config."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .. import config
from ..config import Config, Environment
from . import table
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
            sid = "DataScienceRegister"
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
    cfg: Config, layout: Iterable[tuple[str, tuple[str, ...], str]]
) -> list[dict[str, Any]]:
    rows = grants(cfg)
    bucket = cfg.names.artifact_bucket
    arns = {"key": "*", "objects": f"arn:aws:s3:::{bucket}/*", "bucket": f"arn:aws:s3:::{bucket}"}
    statements = []
    for sid, parties, resource in layout:
        held = [g for g in rows if g.party in parties and resource in g.resources]
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
                "Resource": arns[resource],
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
    """The artifact bucket policy's Allow statements (the TLS-only Deny is the checks' concern)."""
    return _resource_statements(cfg, table.BUCKET_STATEMENTS)


# --- identity policies and stack parameters --------------------------------------------------


def resource_of(cfg: Config, arn: str, key_arns: Iterable[str] = ()) -> str | None:
    """The symbol of a shared resource's ARN (None for anything else). The key's ID is generated,
    so the caller names the ARNs that are the artifact key (`key_arns`)."""
    registry = f"arn:aws[a-z-]*:sagemaker:{re.escape(cfg.region)}:{cfg.account_id('shared_services')}"
    for kind in config.GROUP_KINDS:
        group = re.escape(cfg.group(kind))
        if re.fullmatch(f"{registry}:model-package-group/{group}", arn):
            return f"group:{kind}"
        if re.fullmatch(f"{registry}:model-package/{group}/\\*", arn):
            return f"versions:{kind}"
    bucket = re.escape(cfg.names.artifact_bucket)
    if re.fullmatch(f"arn:aws[a-z-]*:s3:::{bucket}/\\*", arn):
        return "objects"
    if re.fullmatch(f"arn:aws[a-z-]*:s3:::{bucket}", arn):
        return "bucket"
    return "key" if arn in set(key_arns) else None


def role_grants(cfg: Config) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(party, role key) -> its (action, resource symbol) pairs on the shared resources."""
    result: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for grant in grants(cfg):
        pairs = result.setdefault((grant.party, grant.role), set())
        pairs.update((action, resource) for action in grant.actions for resource in grant.resources)
    return result


def grants_of_role(cfg: Config, account: str, role_name: str) -> set[tuple[str, str]] | None:
    """The (action, resource) pairs the table grants an IAM role of an account (its rows under
    every party in that account), or None when the table names no such role."""
    found = [
        pairs
        for (party, role), pairs in role_grants(cfg).items()
        if party_account(cfg, party) == account and cfg.role_name(role) == role_name
    ]
    return set().union(*found) if found else None


def shared_services_parameters(cfg: Config) -> dict[str, str]:
    """The principals of the shared-services stack's key, bucket and group policies."""
    endpoint = cfg.role_name("sagemaker_endpoint")
    return {
        "DataScienceAccountId": cfg.account_id("data_science"),
        "QaAccountId": cfg.environment("qa").account,
        "ProdAccountId": cfg.environment("prod").account,
        "PipelineRoleName": cfg.role_name("sagemaker_pipeline"),
        "BuildRoleName": cfg.role_name("github_build"),
        "QaEndpointRoleName": endpoint,
        "ProdEndpointRoleName": endpoint,
        "RegistryRoleName": cfg.role_name("github_registry"),
    }


def deploy_parameters(cfg: Config, env: str) -> dict[str, str]:
    """What an environment's deploy-role stack grants on the registry: the group it reads, and
    whether it creates models from the package ARN."""
    return {
        "ModelPackageGroupName": cfg.environment(env).group,
        "ModelFromPackageArn": "true" if creates_model_from_package(env) else "false",
    }
