"""The bootstrap stacks teardown would delete, and what happens to the data they hold (read calls only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import config
from ..config import Config
from ..deploy.aws import Clients, is_not_found
from .apply import describe_stack, existing_oidc_provider
from .plan import INFRA_DIR, StackSpec, plan, stack_name, workload_accounts
from .teardown_listing import (
    BUCKET,
    GROUP,
    KEEPING,
    KEY,
    Item,
    Listing,
    _paged,
    list_environment,
    list_registry,
)


def resource_policies(template: Any) -> dict[str, tuple[str, str]]:
    """Logical ID -> (Type, DeletionPolicy, "Delete" when unset) of a template's resources.

    Reads JSON (a dict or text) and YAML laid out as infra/*.yaml is: a top-level `Resources:`,
    each resource one indent in, its attributes one further (no YAML library: the deploy
    install is boto3 only; tests compare this with a real YAML parse of every template).
    """
    if isinstance(template, str):
        try:
            template = json.loads(template)
        except ValueError:
            return _yaml_policies(template)
    return {
        key: (str(value.get("Type", "")), str(value.get("DeletionPolicy", "Delete")))
        for key, value in (template.get("Resources") or {}).items()
    }


def _yaml_policies(text: str) -> dict[str, tuple[str, str]]:
    found: dict[str, dict[str, str]] = {}
    inside, current, levels = False, "", [0, 0]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            inside, levels = stripped.split("#")[0].strip() == "Resources:", [0, 0]
        elif inside and levels[0] in (0, indent) and stripped.endswith(":"):
            levels = [indent, 0]
            current = stripped[:-1].strip("\"'")
            found[current] = {}
        elif inside and current and indent > levels[0] and levels[1] in (0, indent):
            levels[1] = indent
            key, _, value = stripped.partition(":")
            if key in ("Type", "DeletionPolicy"):
                found[current][key] = value.split("#")[0].strip().strip("\"'")
    return {k: (v.get("Type", ""), v.get("DeletionPolicy", "Delete")) for k, v in found.items()}


def _bucket_state(s3: Any, bucket: str) -> str:
    """One of missing, empty or "not empty" (any object version or delete marker counts)."""
    from botocore.exceptions import ClientError

    try:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return "missing"
        raise
    return "not empty" if page.get("Versions") or page.get("DeleteMarkers") else "empty"


def _kept_line(kind: str, physical: str, why: str) -> str:
    if kind == BUCKET:
        return (
            f"kept: S3 bucket {physical} with its data ({why}); bootstrap cannot create it again while it "
            "exists. To remove it, copy what you need, empty it (S3 console: Empty) and delete it"
        )
    return (
        f"kept: KMS key {physical} ({why}); once nothing needs to decrypt with it: "
        f"aws kms schedule-key-deletion --key-id {physical} --pending-window-in-days 30"
    )


def stack_data(spec: StackSpec, clients: Clients, listing: Listing, registry: bool) -> None:
    """Notes for the data resources of a stack about to be deleted: kept or a blocker."""
    cf = clients("cloudformation")
    policies = resource_policies(
        cf.get_template(StackName=spec.name, TemplateStage="Original")["TemplateBody"]
    )
    for res in _paged(cf, "list_stack_resources", "StackResourceSummaries", StackName=spec.name):
        kind, physical = res.get("ResourceType", ""), res.get("PhysicalResourceId") or ""
        policy = policies.get(res.get("LogicalResourceId", ""), (kind, "Delete"))[1]
        if kind not in (BUCKET, KEY, GROUP) or not physical or (kind == GROUP and registry):
            continue
        if kind == GROUP:  # the registry note says what happens to the groups, unless the stack would
            if policy not in KEEPING:
                listing.blockers.append(
                    f"stack {spec.name} would delete model package group {physical} (DeletionPolicy "
                    f"{policy}); add --include-registry to delete the registry on purpose, or set "
                    f"DeletionPolicy: Retain on {res['LogicalResourceId']} in infra/{spec.template}"
                )
        elif policy in KEEPING:
            listing.kept.append(_kept_line(kind, physical, f"stack {spec.name}: DeletionPolicy {policy}"))
        elif kind == BUCKET and _bucket_state(clients("s3"), physical) == "not empty":
            listing.blockers.append(
                f"stack {spec.name} would delete S3 bucket {physical}, which is not empty; CloudFormation "
                f"cannot, and the stack would end DELETE_FAILED. Copy what you need and empty it (every "
                f"version: S3 console Empty), or set DeletionPolicy: Retain on "
                f"{res['LogicalResourceId']} in infra/{spec.template} and run make bootstrap; then run again"
            )


def _foreign(stack: dict[str, Any], cfg: Config, oidc: bool) -> str:
    """Why a stack of this name is not this repository's (empty when it is), from bootstrap's tags."""
    tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    wanted = {"managed-by": "bootstrap", **({} if oidc else {"project": cfg.project.slug})}
    wrong = {k: tags.get(k) for k, v in wanted.items() if tags.get(k) != v}
    return ", ".join(f"tag {k}={v or '(none)'}" for k, v in wrong.items())


def _other_trusting_roles(iam: Any, provider: str, own: set[str]) -> list[str]:
    roles = _paged(iam, "list_roles", "Roles")
    return sorted(
        r["RoleName"]
        for r in roles
        if r["RoleName"] not in own and provider in json.dumps(r.get("AssumeRolePolicyDocument", {}))
    )


def list_stacks(
    cfg: Config, envs: list[str], clients: dict[str, Clients], listing: Listing, registry: bool
) -> None:
    """The bootstrap stacks to delete for `envs`, in reverse dependency order."""
    everything = set(envs) == set(config.ENVIRONMENTS)
    hosts = workload_accounts(cfg)
    own_roles = set(cfg.names.roles.values())
    for spec in reversed(plan(cfg)):
        if spec.key.startswith("deploy-"):
            wanted = spec.key.removeprefix("deploy-") in envs
        elif spec.key.startswith(("workload:", "retraining-drift:")):
            # An account's drift event source goes with the account's last environment.
            wanted = all(env in envs for env in hosts[spec.account])
        else:
            wanted = everything
        if not wanted:
            continue
        account_clients = clients[spec.account]
        stack = describe_stack(account_clients("cloudformation"), spec.name)
        where = f"stack {spec.name} in {spec.account}"
        if stack is None:
            # bootstrap reuses a provider it did not make (`--oidc-provider auto`): never ours to delete.
            found = existing_oidc_provider(account_clients("iam")) if spec.oidc else None
            if found:
                listing.kept.append(
                    f"kept: GitHub OIDC provider {found}: no stack made it (bootstrap reused it)"
                )
            continue
        reason = _foreign(stack, cfg, spec.oidc)
        if reason:
            listing.kept.append(f"kept: {where}: not made by this repository's bootstrap ({reason})")
            continue
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        # The provider stack's name is the same for every repository in the account.
        provider = outputs.get("GitHubOidcProviderArn", "") if spec.oidc else ""
        others = _other_trusting_roles(account_clients("iam"), provider, own_roles) if provider else []
        if others:
            listing.kept.append(
                f"kept: {where}: roles of another repository trust its provider ({', '.join(others)})"
            )
            continue
        listing.items.append(Item(spec.account, "stack", spec.name, {"StackName": spec.name}))
        stack_data(spec, account_clients, listing, registry)


def registry_data(cfg: Config, clients: Clients, listing: Listing, infra_dir: Path) -> None:
    """With --include-registry but the shared-services stack staying: what happens to the bucket and key."""
    from botocore.exceptions import ClientError

    shared = infra_dir / "shared-services.yaml"
    policies = resource_policies(shared.read_text()).values()
    found = []
    if _bucket_state(clients("s3"), cfg.names.artifact_bucket) != "missing":
        found.append((BUCKET, cfg.names.artifact_bucket, ""))
    try:
        key = clients("kms").describe_key(KeyId=cfg.names.kms_key_alias)["KeyMetadata"]["KeyId"]
        found.append((KEY, key, f"{cfg.names.kms_key_alias}; "))
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    for kind, physical, alias in found:
        policy = next((p for t, p in policies if t == kind), "Delete")
        why = (
            f"infra/{shared.name}: DeletionPolicy {policy}, so deleting its stack keeps it too"
            if policy in KEEPING
            else f"deleted only with its stack (infra/{shared.name}: DeletionPolicy {policy})"
        )
        listing.kept.append(_kept_line(kind, physical, alias + why))


def build_listing(
    cfg: Config,
    envs: list[str],
    clients: dict[str, Clients],
    *,
    registry: bool,
    stacks: bool,
    infra_dir: Path = INFRA_DIR,
) -> Listing:
    """Everything to delete, in order: endpoints per environment, registry, stacks (read calls only)."""
    listing = Listing()
    for env in envs:
        listing.items += list_environment(cfg, env, clients[cfg.environment(env).account])
    shared = clients[cfg.account_id("shared_services")]
    if set(envs) == set(config.ENVIRONMENTS):
        items, groups = list_registry(cfg, shared)
        if registry:
            listing.items += items
        elif groups:
            listing.kept.append(
                f"kept: the model registry ({', '.join(groups)}, {len(items) - len(groups)} versions); "
                "add --include-registry to delete it"
            )
    if stacks:
        list_stacks(cfg, envs, clients, listing, registry)
    if registry and not any(i.name == stack_name(cfg, "shared-services") for i in listing.items):
        registry_data(cfg, shared, listing, infra_dir)
    return listing
