"""Delete what this repository created in AWS, after listing it and a typed confirmation.

    python -m <package>.infra.teardown [--env qa|prod|all] [--include-registry] [--include-stacks]
                                        [--dry-run] [--yes MODEL_NAME] [--profile ROLE=PROFILE ...]
                                        [--assume-role ROLE_NAME] [--config FILE]

Per environment (`--env`, default all), in its workload account, in this order: the endpoint's
scaling policies and scalable target, the endpoint (waiting until it is gone), its endpoint
configs, then its models, then its rollback alarms. Configs and models are found by listing
with NameContains and keeping deploy's versioned names of this endpoint only,
`<endpoint>-v<version>-<hash>` (`deploy.endpoint.versioned_name`): another model's resources,
even one named `<endpoint>-v2-...`, never match.

`--include-registry` (with --env all) adds every version of the feature, dev and prod model
package groups, then the groups. `--include-stacks` adds the stacks `bootstrap.plan` deploys,
in reverse: deploy-role stacks, workload stacks, data-science, shared-services, then the GitHub
OIDC provider stacks (with --env qa or prod only that environment's deploy stack, and its
workload stack when no other environment shares the account). A stack is left alone when its
tags show it was not made by this repository's bootstrap; an OIDC stack also when no stack
made the provider (bootstrap reused it) or roles of another repository trust the provider.

Stored data is never deleted by this command: buckets and KMS keys that a template retains
(DeletionPolicy Retain, as infra/shared-services.yaml and infra/workload.yaml do) are listed
as kept, with what to do by hand. A stack that would delete a non-empty bucket is a blocker:
a real run stops before any deletion and says how to empty or keep the bucket (likewise a
stack that would delete a model package group without --include-registry).

Safety: it first lists everything it would delete, grouped by account with counts, using read
calls only; `--dry-run` stops there. Otherwise it asks for the model name on stdin (or takes
`--yes MODEL_NAME`); any other answer, or end of input, aborts before the first mutating call.
A run after a complete teardown lists nothing and changes nothing.

Credentials are bootstrap's (`--profile`, `--assume-role`, or the default chain); every
distinct account of the config is checked with STS first, whichever --env is given.
It exits 0 when done (or nothing to do, or a dry run), 1 when
an AWS call fails or a blocker stops it, 2 for bad arguments or config, credentials of the
wrong account or a missing confirmation; errors are one `error: ` line on stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .. import config
from ..config import Config
from ..deploy import endpoint
from ..deploy.aws import Clients, is_not_found
from . import bootstrap

# Waiter pacing for DeleteEndpoint (minutes on SageMaker); stacks use bootstrap's pacing.
ENDPOINT_WAIT_DELAY_SECONDS = 15
ENDPOINT_WAIT_MAX_ATTEMPTS = 80
# deploy's versioned names (endpoint.versioned_name); the base may be shortened to fit 63 characters.
VERSIONED = re.compile(r"^(?P<base>[A-Za-z0-9-]+)-v\d+-[0-9a-f]{8}$")
# Resource types holding data: kept unless their template lets CloudFormation delete them.
BUCKET, KEY, GROUP = "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SageMaker::ModelPackageGroup"
KEEPING = ("Retain", "RetainExceptOnCreate", "Snapshot")
# kind -> (service, deleting operation, (waiter, its name parameter) or None)
KINDS: Mapping[str, tuple[str, str, tuple[str, str] | None]] = {
    "scaling policy": ("application-autoscaling", "delete_scaling_policy", None),
    "scalable target": ("application-autoscaling", "deregister_scalable_target", None),
    "endpoint": ("sagemaker", "delete_endpoint", ("endpoint_deleted", "EndpointName")),
    "endpoint config": ("sagemaker", "delete_endpoint_config", None),
    "model": ("sagemaker", "delete_model", None),
    "alarm": ("cloudwatch", "delete_alarms", None),
    "model package": ("sagemaker", "delete_model_package", None),
    "model package group": ("sagemaker", "delete_model_package_group", None),
    "stack": ("cloudformation", "delete_stack", ("stack_delete_complete", "StackName")),
}


class TeardownError(RuntimeError):
    """A deletion failed or cannot succeed; one line naming the resource and the reason."""


@dataclass(frozen=True)
class Item:
    """One resource to delete: where, what, and the arguments of the deleting call."""

    account: str
    kind: str
    name: str
    request: Mapping[str, Any]


@dataclass
class Listing:
    """Everything a run would delete (in deletion order), what it keeps and what blocks it."""

    items: list[Item] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)


def ours(endpoint_name: str, name: str) -> bool:
    """True for a config or model name deploy made for this endpoint (the rule deploy.cleanup uses)."""
    match = VERSIONED.match(name)
    if not match:
        return False
    base = match["base"]
    return base == endpoint_name or (len(name) == endpoint.NAME_LIMIT and endpoint_name.startswith(base))


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [row for page in client.get_paginator(operation).paginate(**kwargs) for row in page.get(key, [])]


def list_environment(cfg: Config, env: str, clients: Clients) -> list[Item]:
    """The environment's endpoint resources, in deletion order (read calls only)."""
    environment = cfg.environment(env)
    settings = environment.endpoint
    name, account = environment.endpoint_name, environment.account
    sm, scaling = clients.sagemaker, clients("application-autoscaling")
    # Checked whatever the settings say now: an earlier config may have enabled autoscaling.
    scope = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": endpoint.scaling_resource_id(settings),
        "ScalableDimension": endpoint.SCALABLE_DIMENSION,
    }
    items = [
        Item(account, "scaling policy", p["PolicyName"], {"PolicyName": p["PolicyName"], **scope})
        for p in _paged(scaling, "describe_scaling_policies", "ScalingPolicies", **scope)
    ]
    targets = scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[scope["ResourceId"]],
        ScalableDimension=scope["ScalableDimension"],
    )["ScalableTargets"]
    items += [Item(account, "scalable target", scope["ResourceId"], scope)] if targets else []
    if _exists(lambda: sm.describe_endpoint(EndpointName=name)):
        items.append(Item(account, "endpoint", name, {"EndpointName": name}))
    # The first 40 characters are in every versioned name, shortened or not (as in deploy.cleanup).
    for kind, operation, key, param in (
        ("endpoint config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
        ("model", "list_models", "Models", "ModelName"),
    ):
        found = sorted(r[param] for r in _paged(sm, operation, key, NameContains=name[:40]))
        items += [Item(account, kind, n, {param: n}) for n in found if ours(name, n)]
    alarms = clients("cloudwatch").describe_alarms(AlarmNames=endpoint.alarm_names(settings))["MetricAlarms"]
    items += [Item(account, "alarm", a["AlarmName"], {"AlarmNames": [a["AlarmName"]]}) for a in alarms]
    return items


def list_registry(cfg: Config, clients: Clients) -> tuple[list[Item], list[str]]:
    """Every version of each model package group, then the group; and the groups that exist."""
    account = cfg.account_id("shared_services")
    items: list[Item] = []
    groups = []
    for kind in config.GROUP_KINDS:
        group = cfg.group(kind)
        if not _exists(
            lambda group=group: clients.sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        ):
            continue
        groups.append(group)
        for package in _paged(
            clients.sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=group
        ):
            arn = package["ModelPackageArn"]
            items.append(Item(account, "model package", arn, {"ModelPackageName": arn}))
        items.append(Item(account, "model package group", group, {"ModelPackageGroupName": group}))
    return items, groups


def _exists(describe: Callable[[], Any]) -> bool:
    from botocore.exceptions import ClientError

    try:
        describe()
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    return True


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


def stack_data(spec: bootstrap.StackSpec, clients: Clients, listing: Listing, registry: bool) -> None:
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
    hosts = bootstrap.workload_accounts(cfg)
    own_roles = set(cfg.names.roles.values())
    for spec in reversed(bootstrap.plan(cfg)):
        if spec.key.startswith("deploy-"):
            wanted = spec.key.removeprefix("deploy-") in envs
        elif spec.key.startswith("workload:"):
            wanted = all(env in envs for env in hosts[spec.account])
        else:
            wanted = everything
        if not wanted:
            continue
        account_clients = clients[spec.account]
        stack = bootstrap.describe_stack(account_clients("cloudformation"), spec.name)
        where = f"stack {spec.name} in {spec.account}"
        if stack is None:
            # bootstrap reuses a provider it did not make (`--oidc-provider auto`): never ours to delete.
            found = bootstrap.existing_oidc_provider(account_clients("iam")) if spec.oidc else None
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
    infra_dir: Path = bootstrap.INFRA_DIR,
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
    if registry and not any(i.name == bootstrap.stack_name(cfg, "shared-services") for i in listing.items):
        registry_data(cfg, shared, listing, infra_dir)
    return listing


def _plural(kind: str, count: int) -> str:
    if count == 1:
        return f"1 {kind}"
    return f"{count} {kind[:-1]}ies" if kind.endswith("y") else f"{count} {kind}s"


def render(cfg: Config, listing: Listing) -> list[str]:
    """The listing as text lines: per account, a header with counts, then one line per resource."""
    by_account: dict[str, list[Item]] = {}
    for item in listing.items:
        by_account.setdefault(item.account, []).append(item)
    lines = []
    for account, items in by_account.items():
        roles = ", ".join(r for r in config.ACCOUNT_ROLES if cfg.account_id(r) == account)
        kinds = [item.kind for item in items]
        summary = ", ".join(_plural(kind, kinds.count(kind)) for kind in KINDS if kind in kinds)
        lines.append(f"account {account} ({roles}): {len(items)} to delete: {summary}")
        lines += [f"  {item.kind:<20} {item.name}" for item in items]
    lines += listing.kept + [f"BLOCKED: {line}" for line in listing.blockers]
    if listing.items:
        lines.append(f"total: {len(listing.items)} resources in {len(by_account)} accounts")
    else:
        lines.append("nothing to delete")
    return lines


def delete(listing: Listing, clients: dict[str, Clients], log: Callable[[str], None]) -> int:
    """Delete every item in order, waiting for endpoints and stacks; return how many were deleted."""
    from botocore.exceptions import ClientError, WaiterError

    for item in listing.items:
        service, operation, waiter = KINDS[item.kind]
        client = clients[item.account](service)
        log(f"deleting {item.kind} {item.name} ({item.account})")
        try:
            getattr(client, operation)(**item.request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if not (is_not_found(exc) or code == "ObjectNotFoundException"):
                raise
            log(f"  {item.kind} {item.name} was already gone")
            continue
        if waiter is None:
            continue
        name, param = waiter
        pacing = (
            {"Delay": ENDPOINT_WAIT_DELAY_SECONDS, "MaxAttempts": ENDPOINT_WAIT_MAX_ATTEMPTS}
            if item.kind == "endpoint"
            else {"Delay": bootstrap.WAIT_DELAY_SECONDS, "MaxAttempts": bootstrap.WAIT_MAX_ATTEMPTS}
        )
        try:
            client.get_waiter(name).wait(**{param: item.name}, WaiterConfig=pacing)
        except WaiterError as exc:
            reason = bootstrap.failure_reason(client, item.name) if item.kind == "stack" else str(exc)
            raise TeardownError(
                f"{item.kind} {item.name} in {item.account} was not deleted: {reason}"
            ) from exc
    return len(listing.items)


def confirm(cfg: Config, answer: str | None, count: int, stdin: TextIO) -> None:
    """Raise UsageError unless the model name was given (--yes) or typed."""
    expected = cfg.project.model_name
    if answer is None:
        print(
            f"Type the model name {expected!r} to delete these {count} resources: ", end="", file=sys.stderr
        )
        sys.stderr.flush()
        line = stdin.readline()
        if not stdin.isatty():  # a terminal echoes the answer and its newline; a pipe does not
            print(file=sys.stderr)
        if not line:
            raise bootstrap.UsageError("no confirmation (end of input); nothing was deleted")
        answer = line.strip()
    if answer != expected:
        raise bootstrap.UsageError(
            f"confirmation {answer!r} is not the model name {expected!r}; nothing was deleted"
        )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one `error:` line, exit 2, like every other usage error
        raise bootstrap.UsageError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog=f"python -m {__spec__.name if __spec__ else __name__}", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--env", choices=(*config.ENVIRONMENTS, "all"), default="all", help="whose endpoints (default all)"
    )
    parser.add_argument("--include-registry", action="store_true", help="also the model package groups")
    parser.add_argument("--include-stacks", action="store_true", help="also the bootstrap stacks")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted (read calls only)")
    parser.add_argument("--yes", metavar="MODEL_NAME", help="confirm without a prompt (automation)")
    parser.add_argument("--profile", action="append", default=[], metavar="ROLE=PROFILE")
    parser.add_argument("--assume-role", metavar="NAME", help="role to assume in each account")
    parser.add_argument(
        "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
    )
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None,
    *,
    session_for: bootstrap.SessionFactory | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run the teardown CLI; see the module docstring. Tests pass `session_for` (sessions for
    simulated accounts), `stdin` (the typed answer) and `out` (the listing)."""
    out = out or sys.stdout
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        args = parse_args(argv)
        cfg = config.load_config(args.config)
        envs = list(config.ENVIRONMENTS) if args.env == "all" else [args.env]
        if args.include_registry and args.env != "all":
            raise bootstrap.UsageError(
                "--include-registry deletes the groups every environment uses; add --env all"
            )
        factory = session_for or bootstrap.session_factory(
            cfg.region, bootstrap.parse_profiles(args.profile), args.assume_role
        )
        sessions = bootstrap.check_sessions(cfg, factory)
        clients = {account: Clients(session, cfg.region) for account, session in sessions.items()}
        listing = build_listing(
            cfg, envs, clients, registry=args.include_registry, stacks=args.include_stacks
        )
        print("\n".join(render(cfg, listing)), file=out, flush=True)
        if args.dry_run:
            print("dry run: nothing was deleted", file=out)
            return 0
        if listing.blockers:
            raise TeardownError(
                f"{len(listing.blockers)} blocker(s) listed above (BLOCKED); nothing was deleted"
            )
        if not listing.items and args.yes is None:
            return 0
        confirm(cfg, args.yes, len(listing.items), stdin or sys.stdin)
        deleted = delete(listing, clients, log)
        print(f"deleted {deleted} resources", file=out)
    except Exception as exc:
        return bootstrap.error_exit(exc, TeardownError)
    return 0


if __name__ == "__main__":
    sys.exit(main())
