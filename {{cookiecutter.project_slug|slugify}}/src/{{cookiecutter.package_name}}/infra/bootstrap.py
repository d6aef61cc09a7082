"""Deploy the CloudFormation stacks in `infra/` into the accounts named in config/project.json.

    python -m <package>.infra.bootstrap [--dry-run] [--profile ROLE=PROFILE ...]
                                         [--assume-role ROLE_NAME] [--oidc-provider auto|create|existing]
                                         [--prod-reviewer team:SLUG|user:LOGIN ...] [--output FILE]
                                         [--allow-placeholders]

Stacks, in dependency order (stack names start with the model name):

1. `github-actions-oidc-provider` (github-oidc.yaml) in every distinct account, unless the
   account already has a GitHub OIDC provider that was made some other way (then it is reused).
2. `<model>-shared-services` (shared-services.yaml): KMS key, artifact bucket, model package
   groups, GitHub registry role.
3. `<model>-data-science` (data-science.yaml): pipeline execution role, GitHub build role.
4. `<model>-workload` (workload.yaml) once per distinct workload account: endpoint execution
   role, data-capture bucket and key.
5. `<model>-deploy-qa`, `<model>-deploy-prod` (workload-deploy.yaml): the GitHub deploy role of
   each environment.

Each stack is created, or updated when it exists; "No updates are to be performed" counts as
success. Every operation is waited for. Afterwards it prints (stdout) one JSON document with
the stacks' outcomes, the role ARNs the workflows need and the GitHub settings to apply
(environments, deployment branch rules, required reviewers on prod), followed by the `gh api`
commands that apply them. Progress goes to stderr.

Credentials: each account's stacks are deployed with a session for that account, from
`--profile data_science=NAME` (and shared_services=, qa=, prod=) named profiles, or by
assuming `--assume-role NAME` in each account from the current credentials, or else the
current credentials for every account (single-account mode). The account of every session is
checked with STS before anything is deployed.

Placeholder answers: while config/project.json still holds the template's example accounts
(111111111111 ... 444444444444) or GitHub owner (example-org), a dry run prints a WARNING block
(stderr) naming each key and what to set, and a real run refuses before any AWS call unless
`--allow-placeholders` is given (for simulated accounts, e.g. the tests' moto accounts).

It exits 0 when every stack is in place, 1 when a stack operation fails (naming the stack and
the first failure reason), and 2 for bad arguments, config (placeholder answers in a real run
included), or credentials of the wrong account.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .. import config
from ..config import Config

INFRA_DIR = config.REPO_ROOT / "infra"
OIDC_STACK = "github-actions-oidc-provider"
OIDC_URL = "token.actions.githubusercontent.com"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# Waiter pacing for real CloudFormation; stacks with IAM roles take a few minutes.
WAIT_DELAY_SECONDS = 10
WAIT_MAX_ATTEMPTS = 180
NO_UPDATES = "No updates are to be performed"
REVIEWER = re.compile(r"^(team|user):([A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?)$")
# Output keys of the shared-services stack that later stacks take as parameters.
KEY_ARN_OUTPUT = "ArtifactKeyArn"
# The template's example answers (its default answers and README examples). A repository
# still holding them would deploy into accounts that are not yours and trust a GitHub owner
# that is not yours; see `placeholder_answers`.
PLACEHOLDER_ACCOUNTS = frozenset({"111111111111", "222222222222", "333333333333", "444444444444"})
PLACEHOLDER_GITHUB_OWNERS = frozenset({"example-org"})

SessionFactory = Callable[[str, str], Any]


class BootstrapError(RuntimeError):
    """A stack could not be deployed; the message is one line naming the stack and the reason."""


class UsageError(ValueError):
    """Bad arguments, config or credentials; nothing was deployed."""


@dataclass
class StackSpec:
    """One stack to deploy: where, from which template, with which parameters.

    `inputs` maps a parameter to (stack key, output key): its value is read from an earlier
    stack's outputs at deploy time (or shown as a placeholder in a dry run).
    """

    key: str
    name: str
    template: str
    account_role: str
    account: str
    parameters: dict[str, str]
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    oidc: bool = False

    def resolved_parameters(self, outputs: dict[str, dict[str, str]]) -> dict[str, str]:
        values = dict(self.parameters)
        for param, (stack_key, output) in self.inputs.items():
            try:
                values[param] = outputs[stack_key][output]
            except KeyError as exc:
                raise BootstrapError(
                    f"stack {self.name}: parameter {param} needs output {output} of {stack_key}, "
                    "which it lacks"
                ) from exc
        return values


def distinct_accounts(cfg: Config) -> dict[str, str]:
    """Each distinct account ID mapped to the first account role (config order) that names it."""
    accounts: dict[str, str] = {}
    for role in config.ACCOUNT_ROLES:
        accounts.setdefault(cfg.account_id(role), role)
    return accounts


def stack_name(cfg: Config, suffix: str) -> str:
    # Stack names are bootstrap's own (no other code reads them); config.Names has none yet.
    return f"{cfg.project.model_name}-{suffix}"


def github_parameters(cfg: Config) -> dict[str, str]:
    return {
        "GitHubOwner": cfg.github.owner,
        "GitHubRepo": cfg.github.repo,
        "GitHubOwnerId": cfg.github.owner_id,
        "GitHubRepoId": cfg.github.repo_id,
    }


def workload_accounts(cfg: Config) -> dict[str, list[str]]:
    """Each distinct workload account mapped to the environments it hosts (qa, prod order)."""
    hosts: dict[str, list[str]] = {}
    for env in config.ENVIRONMENTS:
        hosts.setdefault(cfg.environment(env).account, []).append(env)
    return hosts


def plan(cfg: Config) -> list[StackSpec]:
    """The stacks to deploy, in dependency order, with their parameters (no AWS calls).

    Every name and account comes from the config (`cfg.names`, `cfg.environment(env)`,
    `cfg.role_name`): each environment deploys from its `config.ENVIRONMENT_GROUPS` group, and
    environments sharing an account share that account's capture bucket and key (the names
    depend on the account only).
    """
    shared = cfg.account_id("shared_services")
    data_science = cfg.account_id("data_science")
    names = cfg.names
    github = github_parameters(cfg)
    envs = {env: cfg.environment(env) for env in config.ENVIRONMENTS}
    endpoint_role = cfg.role_name("sagemaker_endpoint")

    specs: list[StackSpec] = []
    for account, role in distinct_accounts(cfg).items():
        specs.append(
            StackSpec(f"oidc:{account}", OIDC_STACK, "github-oidc.yaml", role, account, {}, oidc=True)
        )
    shared_key = "shared-services"
    specs.append(
        StackSpec(
            shared_key,
            stack_name(cfg, "shared-services"),
            "shared-services.yaml",
            "shared_services",
            shared,
            {
                "DataScienceAccountId": data_science,
                "QaAccountId": envs["qa"].account,
                "ProdAccountId": envs["prod"].account,
                "ArtifactBucketName": names.artifact_bucket,
                "KmsKeyAlias": names.kms_key_alias,
                "FeatureGroupName": cfg.group("feature"),
                "DevGroupName": cfg.group("dev"),
                "ProdGroupName": cfg.group("prod"),
                "PipelineRoleName": cfg.role_name("sagemaker_pipeline"),
                "BuildRoleName": cfg.role_name("github_build"),
                "QaEndpointRoleName": endpoint_role,
                "ProdEndpointRoleName": endpoint_role,
                "RegistryRoleName": cfg.role_name("github_registry"),
                **github,
                "QaEnvironmentName": envs["qa"].github_environment,
                "ProdEnvironmentName": envs["prod"].github_environment,
                "GitHubOidcProviderArn": "",
            },
        )
    )
    key_input = {"ArtifactKeyArn": (shared_key, KEY_ARN_OUTPUT)}
    specs.append(
        StackSpec(
            "data-science",
            stack_name(cfg, "data-science"),
            "data-science.yaml",
            "data_science",
            data_science,
            {
                "SharedServicesAccountId": shared,
                "ArtifactBucketName": names.artifact_bucket,
                "FeatureGroupName": cfg.group("feature"),
                "DevGroupName": cfg.group("dev"),
                "FeaturePipelineName": names.pipelines["feature"],
                "DevPipelineName": names.pipelines["dev"],
                "PipelineRoleName": cfg.role_name("sagemaker_pipeline"),
                "BuildRoleName": cfg.role_name("github_build"),
                **github,
                "BuildEnvironmentName": cfg.github.environments["build"],
                "GitHubOidcProviderArn": "",
            },
            dict(key_input),
        )
    )
    for account, hosted in workload_accounts(cfg).items():
        first = envs[hosted[0]]
        specs.append(
            StackSpec(
                f"workload:{account}",
                stack_name(cfg, "workload"),
                "workload.yaml",
                first.account_role,
                account,
                {
                    "ArtifactBucketName": names.artifact_bucket,
                    "EndpointRoleName": endpoint_role,
                    "CaptureBucketName": first.capture_bucket,
                    "CaptureKeyAlias": first.capture_key_alias,
                },
                dict(key_input),
            )
        )
    for env, settings in envs.items():
        specs.append(
            StackSpec(
                f"deploy-{env}",
                stack_name(cfg, f"deploy-{env}"),
                "workload-deploy.yaml",
                settings.account_role,
                settings.account,
                {
                    "EnvironmentName": env,
                    "GitHubEnvironmentName": settings.github_environment,
                    "DeployRoleName": cfg.role_name(cfg.deploy_role_key(env)),
                    "EndpointRoleName": endpoint_role,
                    "EndpointName": settings.endpoint_name,
                    "SharedServicesAccountId": shared,
                    "ModelPackageGroupName": settings.group,
                    **github,
                    "GitHubOidcProviderArn": "",
                },
            )
        )
    return specs


# --- Placeholder answers ----------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """A config value that is still the template's example: its key path, value and what to set."""

    key: str
    value: str
    change_to: str


def placeholder_answers(cfg: Config) -> list[Placeholder]:
    """The config values that are still the template's examples, in config order."""
    found = [
        Placeholder(
            f"aws.accounts.{role}",
            cfg.account_id(role),
            f"the 12-digit ID of your {role.replace('_', '-')} AWS account",
        )
        for role in config.ACCOUNT_ROLES
        if cfg.account_id(role) in PLACEHOLDER_ACCOUNTS
    ]
    if cfg.github.owner.lower() in PLACEHOLDER_GITHUB_OWNERS:
        found.append(
            Placeholder(
                "github.owner",
                cfg.github.owner,
                "the GitHub organisation or user that hosts this repository",
            )
        )
    return found


def placeholder_warning(found: list[Placeholder], source: str) -> str:
    """The multi-line WARNING block a dry run prints for placeholder answers."""
    rule = "!" * 78
    return "\n".join(
        [
            rule,
            f"WARNING: {source} still holds the template's placeholder answers:",
            *(f"  {p.key} = {json.dumps(p.value)}  -> change to {p.change_to}" for p in found),
            f"Edit these keys in {source}, then run the dry run again.",
            "Every derived name (buckets, roles, groups) follows from them, and the GitHub OIDC",
            "roles trust exactly github.owner/github.repo, so deploying them as they are would",
            "target accounts and a GitHub owner that are not yours.",
            "A real run refuses them (exit 2) unless --allow-placeholders is given.",
            rule,
        ]
    )


def placeholder_refusal(found: list[Placeholder], source: str) -> str:
    """The one-line reason a real run stops on placeholder answers."""
    keys = ", ".join(f"{p.key}={p.value}" for p in found)
    return (
        f"{source} still holds the template's placeholder answers ({keys}); set your AWS account IDs "
        "and GitHub owner there (--dry-run lists what to change), or pass --allow-placeholders "
        "for simulated accounts"
    )


# --- GitHub settings --------------------------------------------------------------------


def parse_reviewers(values: list[str]) -> list[tuple[str, str]]:
    """`team:SLUG` / `user:LOGIN` strings as (kind, name); UsageError for anything else."""
    reviewers = []
    for value in values:
        match = REVIEWER.match(value)
        if not match:
            raise UsageError(f"--prod-reviewer {value!r} is not team:SLUG or user:LOGIN")
        reviewers.append((match[1], match[2]))
    return reviewers


def github_manifest(cfg: Config, reviewers: list[tuple[str, str]]) -> dict[str, Any]:
    """The GitHub environments the workflows rely on, as data.

    - build environment (data-science): deployable from the dev branch and feature branches only;
    - qa: from the dev branch only;
    - prod: from the prod branch only, with required reviewers who may not approve their own run.
    OIDC trust names these environments, so these branch rules are what keeps each AWS role
    reachable only from the intended branches.
    """
    branches = cfg.branches
    custom = {"protected_branches": False, "custom_branch_policies": True}
    return {
        "repository": cfg.github.repository,
        "environments": {
            cfg.github.environments["build"]: {
                "settings": {"deployment_branch_policy": custom},
                "deployment_branches": [branches.dev, f"{branches.feature_prefix}*"],
            },
            cfg.environment("qa").github_environment: {
                "settings": {"deployment_branch_policy": custom},
                "deployment_branches": [branches.dev],
            },
            cfg.environment("prod").github_environment: {
                "settings": {
                    "wait_timer": 0,
                    "prevent_self_review": True,
                    "reviewers": [
                        {"type": kind.capitalize(), "login_or_slug": name} for kind, name in reviewers
                    ],
                    "deployment_branch_policy": custom,
                },
                "deployment_branches": [branches.prod],
            },
        },
    }


def gh_commands(manifest: dict[str, Any]) -> list[str]:
    """Shell lines that apply the manifest with the GitHub CLI (`gh api`).

    Reviewer IDs are looked up by name first; with no reviewer given, the prod command stops
    with a message until PROD_REVIEWER_TEAM_ID is set. Re-running them is safe except that
    GitHub answers an existing deployment branch rule with an error, which can be ignored.
    """
    repo = manifest["repository"]
    owner = repo.split("/")[0]
    lines = ["set -euo pipefail"]
    for name, env in manifest["environments"].items():
        settings = dict(env["settings"])
        reviewers = settings.pop("reviewers", None)
        if reviewers is None:
            lines += [
                f"gh api --method PUT repos/{repo}/environments/{name} --input - <<'JSON'",
                json.dumps(settings),
                "JSON",
            ]
        else:
            # Shell variables hold the numeric IDs; the here-document is unquoted so they expand.
            ids = []
            for index, reviewer in enumerate(reviewers, start=1):
                var = f"PROD_REVIEWER_{index}"
                path = (
                    f"orgs/{owner}/teams/{reviewer['login_or_slug']}"
                    if reviewer["type"] == "Team"
                    else f"users/{reviewer['login_or_slug']}"
                )
                lines.append(f"{var}=$(gh api {path} --jq .id)")
                ids.append((reviewer["type"], "$" + var))
            if not ids:
                ids.append(
                    (
                        "Team",
                        "${PROD_REVIEWER_TEAM_ID:?set PROD_REVIEWER_TEAM_ID to the ID of the approving team}",
                    )
                )
            settings["reviewers"] = [
                {"type": kind, "id": f"@ID{index}@"} for index, (kind, _) in enumerate(ids)
            ]
            body = json.dumps(settings)
            for index, (_, ref) in enumerate(ids):
                body = body.replace(f'"@ID{index}@"', ref)
            lines += [f"gh api --method PUT repos/{repo}/environments/{name} --input - <<JSON", body, "JSON"]
        for branch in env["deployment_branches"]:
            lines.append(
                f"gh api --method POST repos/{repo}/environments/{name}/deployment-branch-policies "
                f"-f name='{branch}' -f type=branch"
            )
    return lines


# --- Deploying --------------------------------------------------------------------------


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _error_message(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message", str(exc))


def describe_stack(cf: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cf.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if _error_code(exc) == "ValidationError" and "does not exist" in _error_message(exc):
            return None
        raise
    return stacks[0] if stacks else None


def failure_reason(cf: Any, name: str) -> str:
    """The first failure reason in the stack's recent events, oldest first."""
    try:
        events = cf.describe_stack_events(StackName=name)["StackEvents"]
    except Exception:
        return "no event details"
    for event in reversed(events):
        if event.get("ResourceStatus", "").endswith("FAILED") and event.get("ResourceStatusReason"):
            return f"{event.get('LogicalResourceId')}: {event['ResourceStatusReason']}"
    return "no failure reason recorded"


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def is_current(
    cf: Any, stack: dict[str, Any], template_body: str, parameters: dict[str, str], tags: dict[str, str]
) -> bool:
    """True when the deployed stack already has this exact template text, these parameter values
    and tags, so an update could change nothing and no UpdateStack call is needed.

    Parameters the caller leaves to their template defaults are not compared: a changed default
    changes the template text.
    """
    deployed_params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    if any(deployed_params.get(key) != value for key, value in parameters.items()):
        return False
    if {t["Key"]: t["Value"] for t in stack.get("Tags", [])} != tags:
        return False
    body = cf.get_template(StackName=stack["StackName"], TemplateStage="Original").get("TemplateBody")
    return body == template_body


def deploy_stack(
    cf: Any,
    name: str,
    template_body: str,
    parameters: dict[str, str],
    tags: dict[str, str],
) -> tuple[str, dict[str, str]]:
    """Create or update one stack and wait; return (outcome, outputs).

    The outcome is "created", "updated" or "unchanged": the deployed stack already matches
    (`is_current`, no UpdateStack call) or CloudFormation answers "No updates are to be
    performed". It raises BootstrapError when the stack is in a state that needs a person
    (ROLLBACK_COMPLETE, an operation in progress) or when the operation fails.
    """
    from botocore.exceptions import ClientError, WaiterError

    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())]
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    waiter_config = {"Delay": WAIT_DELAY_SECONDS, "MaxAttempts": WAIT_MAX_ATTEMPTS}
    stack = describe_stack(cf, name)
    if stack is None:
        cf.create_stack(
            StackName=name,
            TemplateBody=template_body,
            Parameters=params,
            Capabilities=CAPABILITIES,
            Tags=tag_list,
            OnFailure="ROLLBACK",
        )
        outcome, waiter = "created", "stack_create_complete"
    else:
        status = stack["StackStatus"]
        if status == "ROLLBACK_COMPLETE":
            raise BootstrapError(
                f"stack {name} is ROLLBACK_COMPLETE after a failed first creation "
                f"({failure_reason(cf, name)}); delete it "
                f"(aws cloudformation delete-stack --stack-name {name}) and run the bootstrap again"
            )
        if status.endswith("_IN_PROGRESS"):
            raise BootstrapError(f"stack {name} is {status}; wait for that operation to finish and run again")
        if status.endswith("_COMPLETE") and is_current(cf, stack, template_body, parameters, tags):
            return "unchanged", _outputs(stack)
        try:
            cf.update_stack(
                StackName=name,
                TemplateBody=template_body,
                Parameters=params,
                Capabilities=CAPABILITIES,
                Tags=tag_list,
            )
        except ClientError as exc:
            if NO_UPDATES in _error_message(exc):
                return "unchanged", _outputs(stack)
            raise BootstrapError(f"stack {name}: update rejected: {_error_message(exc)}") from exc
        outcome, waiter = "updated", "stack_update_complete"
    try:
        cf.get_waiter(waiter).wait(StackName=name, WaiterConfig=waiter_config)
    except WaiterError as exc:
        raise BootstrapError(f"stack {name} was not {outcome}: {failure_reason(cf, name)}") from exc
    final = describe_stack(cf, name) or {}
    return outcome, _outputs(final)


def existing_oidc_provider(iam: Any) -> str | None:
    """ARN of the account's GitHub OIDC provider, if one exists."""
    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        if provider["Arn"].endswith(f"oidc-provider/{OIDC_URL}"):
            return provider["Arn"]
    return None


@dataclass
class Result:
    """What a bootstrap run did: outcome per stack name and account, and every stack's outputs."""

    outcomes: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


def check_sessions(cfg: Config, session_for: SessionFactory) -> dict[str, Any]:
    """One session per distinct account, each verified with STS; UsageError on a mismatch."""
    sessions = {}
    for account, role in distinct_accounts(cfg).items():
        session = session_for(role, account)
        actual = session.client("sts", region_name=cfg.region).get_caller_identity()["Account"]
        if actual != account:
            raise UsageError(
                f"credentials for the {role} account resolve to account {actual}, expected {account}; "
                f"pass --profile {role}=NAME or --assume-role NAME"
            )
        sessions[account] = session
    return sessions


def run(
    cfg: Config,
    session_for: SessionFactory,
    *,
    infra_dir: Path = INFRA_DIR,
    oidc_provider: str = "auto",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> Result:
    """Deploy every stack of `plan(cfg)` in order with per-account sessions; return what happened.

    `session_for(account_role, account_id)` returns a boto3 Session for that account (tests
    pass sessions for simulated accounts). `oidc_provider`: "auto" deploys the provider stack
    unless the account already has a provider made outside it, "create" always deploys it,
    "existing" requires a provider to exist and deploys no provider stack.
    """
    region = cfg.region
    specs = plan(cfg)
    sessions = check_sessions(cfg, session_for)
    tags = {"project": cfg.project.slug, "managed-by": "bootstrap"}
    result = Result()
    provider_arns: dict[str, str] = {}
    for spec in specs:
        session = sessions[spec.account]
        cf = session.client("cloudformation", region_name=region)
        where = f"{spec.name} ({spec.account})"
        if spec.oidc:
            iam = session.client("iam", region_name=region)
            found = existing_oidc_provider(iam)
            if oidc_provider == "existing" or (
                oidc_provider == "auto" and found and describe_stack(cf, spec.name) is None
            ):
                if not found:
                    raise BootstrapError(
                        f"account {spec.account} has no OIDC provider for {OIDC_URL}; "
                        "run with --oidc-provider auto or create"
                    )
                provider_arns[spec.account] = found
                result.outcomes[where] = "reused"
                log(f"{where}: reusing the existing provider {found}")
                continue
        params = spec.resolved_parameters(result.outputs)
        if "GitHubOidcProviderArn" in params:
            params["GitHubOidcProviderArn"] = provider_arns.get(spec.account, "")
        body = (infra_dir / spec.template).read_text()
        stack_tags = tags if not spec.oidc else {"managed-by": "bootstrap"}
        log(f"{where}: deploying {spec.template} ...")
        outcome, outputs = deploy_stack(cf, spec.name, body, params, stack_tags)
        result.outcomes[where] = outcome
        result.outputs[spec.key] = outputs
        if spec.oidc:
            provider_arns[spec.account] = outputs.get("GitHubOidcProviderArn", "")
        log(f"{where}: {outcome}")
    return result


def role_outputs(cfg: Config, result: Result) -> dict[str, str]:
    """The ARNs and names the workflows and deploy code use, from the stacks' outputs."""
    shared = result.outputs.get("shared-services", {})
    data_science = result.outputs.get("data-science", {})
    values = {
        "build_role_arn": data_science.get("BuildRoleArn", ""),
        "pipeline_role_arn": data_science.get("PipelineRoleArn", ""),
        "registry_role_arn": shared.get("RegistryRoleArn", ""),
        "artifact_bucket": shared.get("ArtifactBucketName", ""),
        "artifact_kms_key_arn": shared.get("ArtifactKeyArn", ""),
    }
    for env in config.ENVIRONMENTS:
        workload = result.outputs.get(f"workload:{cfg.environment(env).account}", {})
        values[f"deploy_role_arn_{env}"] = result.outputs.get(f"deploy-{env}", {}).get("DeployRoleArn", "")
        values[f"endpoint_role_arn_{env}"] = workload.get("EndpointRoleArn", "")
        values[f"data_capture_bucket_{env}"] = workload.get("CaptureBucketName", "")
        values[f"data_capture_kms_key_arn_{env}"] = workload.get("CaptureKeyArn", "")
    return values


def describe_plan(specs: list[StackSpec]) -> list[dict[str, Any]]:
    """The plan as data for --dry-run: stack, account, template and parameters."""
    rows = []
    for spec in specs:
        params = dict(spec.parameters)
        for param, (stack_key, output) in spec.inputs.items():
            params[param] = f"<output {output} of {stack_key}>"
        rows.append(
            {
                "stack": spec.name,
                "account": spec.account,
                "credentials": spec.account_role,
                "template": f"infra/{spec.template}",
                "parameters": params,
                **(
                    {"note": "skipped when the account already has a GitHub OIDC provider"}
                    if spec.oidc
                    else {}
                ),
            }
        )
    return rows


# --- CLI --------------------------------------------------------------------------------


def parse_profiles(values: list[str]) -> dict[str, str]:
    profiles = {}
    for value in values:
        role, sep, profile = value.partition("=")
        if not sep or role not in config.ACCOUNT_ROLES or not profile:
            raise UsageError(
                f"--profile {value!r} is not ROLE=PROFILE with ROLE one of {', '.join(config.ACCOUNT_ROLES)}"
            )
        profiles[role] = profile
    return profiles


def session_factory(region: str, profiles: dict[str, str], assume_role: str | None) -> SessionFactory:
    """Sessions from named profiles, from assuming `assume_role` in each account, or the default chain."""
    import boto3

    base = boto3.Session(region_name=region)

    def session_for(account_role: str, account: str) -> Any:
        if account_role in profiles:
            return boto3.Session(profile_name=profiles[account_role], region_name=region)
        if assume_role:
            creds = base.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{assume_role}", RoleSessionName="mlops-bootstrap"
            )["Credentials"]
            return boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=region,
            )
        return base

    return session_for


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}",
        description="Deploy the infra/ CloudFormation stacks into the accounts in config/project.json.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and the GitHub settings; no AWS call"
    )
    parser.add_argument(
        "--config", type=Path, help="config file (default config/project.json or $MLOPS_CONFIG)"
    )
    parser.add_argument("--infra-dir", type=Path, default=INFRA_DIR, help="folder of the templates")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="ROLE=PROFILE",
        help="named profile for an account role",
    )
    parser.add_argument(
        "--assume-role", metavar="NAME", help="role to assume in each account, e.g. an admin role"
    )
    parser.add_argument("--oidc-provider", choices=("auto", "create", "existing"), default="auto")
    parser.add_argument(
        "--prod-reviewer",
        action="append",
        default=[],
        metavar="team:SLUG|user:LOGIN",
        help="required reviewer of the prod environment (repeatable)",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON summary to this file")
    parser.add_argument(
        "--allow-placeholders",
        action="store_true",
        help="deploy even though the config holds the template's placeholder accounts or GitHub owner "
        "(simulated accounts only)",
    )
    return parser.parse_args(argv)


def error_exit(exc: Exception, failure: type[Exception]) -> int:
    """One `error: ...` line on stderr and the exit status of the infra commands: 2 for a usage or
    config error, 1 for `failure` or a failed AWS call. Anything else is a bug and is raised again."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, UsageError | config.ConfigError):
        status, text = 2, str(exc)
    elif isinstance(exc, failure):
        status, text = 1, str(exc)
    elif isinstance(exc, ClientError | BotoCoreError):
        status, text = 1, f"AWS call failed: {exc}"
    else:
        raise exc
    print(f"error: {text}", file=sys.stderr)
    return status


def main(
    argv: list[str] | None = None,
    *,
    session_for: SessionFactory | None = None,
    out: TextIO | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run the bootstrap CLI; see the module docstring for options and exit codes.

    `session_for` replaces the credential handling (tests pass sessions for simulated
    accounts); `out` receives the JSON summary and the gh commands.
    """
    out = out or sys.stdout
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        args = parse_args(argv)
        cfg = config.load_config(args.config)
        reviewers = parse_reviewers(args.prod_reviewer)
        specs = plan(cfg)
        manifest = github_manifest(cfg, reviewers)
        placeholders = placeholder_answers(cfg)
        if placeholders and not (args.dry_run or args.allow_placeholders):
            print(f"error: {placeholder_refusal(placeholders, cfg.source)}", file=sys.stderr)
            return 2
        if placeholders:
            print(placeholder_warning(placeholders, cfg.source), file=sys.stderr, flush=True)
        if args.dry_run:
            summary: dict[str, Any] = {"dry_run": True, "stacks": describe_plan(specs), "github": manifest}
        else:
            profiles = parse_profiles(args.profile)
            factory = session_for or session_factory(cfg.region, profiles, args.assume_role)
            result = run(cfg, factory, infra_dir=args.infra_dir, oidc_provider=args.oidc_provider, log=log)
            summary = {"stacks": result.outcomes, "outputs": role_outputs(cfg, result), "github": manifest}
    except Exception as exc:
        return error_exit(exc, BootstrapError)
    text = json.dumps(summary, indent=2)
    print(text, file=out)
    print("\n# Apply the GitHub settings (gh CLI, repository admin):", file=out)
    print("\n".join(gh_commands(manifest)), file=out)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
