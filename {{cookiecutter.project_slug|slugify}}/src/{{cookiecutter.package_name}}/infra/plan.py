"""The stacks bootstrap deploys: which template, in which account, with which parameters (no AWS call).

Every name and account comes from the config; who may do what on the shared registry, bucket
and key comes from the access table (`access/table.py`), and the account the image-pulling roles
may pull framework images from comes from `access/images.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import access, config
from ..config import Config
from ..config.batch import ROLE_KEYS as BATCH_ROLE_KEYS
from . import async_parameters, batch_test_parameters, retraining_events
from .errors import BootstrapError

INFRA_DIR = config.REPO_ROOT / "infra"
OIDC_STACK = "github-actions-oidc-provider"
# Output keys of the shared-services stack that later stacks take as parameters.
KEY_ARN_OUTPUT = "ArtifactKeyArn"
# The environments whose deploy role runs the shadow comparison (`shadow compare`, prod only).
SHADOW_ENVIRONMENTS = ("prod",)


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
    `cfg.role_name`): each environment deploys from its `config.ENVIRONMENT_GROUPS` group (and
    reads the artifacts under that group's prefix, `access.workload_parameters`), and
    environments sharing an account share that account's capture bucket and key (the names
    depend on the account only).
    """
    shared = cfg.account_id("shared_services")
    data_science = cfg.account_id("data_science")
    names = cfg.names
    github = github_parameters(cfg)
    envs = {env: cfg.environment(env) for env in config.ENVIRONMENTS}
    endpoint_role = cfg.role_name("sagemaker_endpoint")
    # AWS's framework image account for the region (ConfigError where SageMaker has no image).
    images = access.image_parameters(cfg)

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
                **access.shared_services_parameters(cfg),
                "ArtifactBucketName": names.artifact_bucket,
                "KmsKeyAlias": names.kms_key_alias,
                "FeatureGroupName": cfg.group("feature"),
                "DevGroupName": cfg.group("dev"),
                "ProdGroupName": cfg.group("prod"),
                **github,
                "QaEnvironmentName": envs["qa"].github_environment,
                "ProdEnvironmentName": envs["prod"].github_environment,
                "GitHubOidcProviderArn": "",
                **retraining_events.bucket_parameters(cfg),
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
                "ProdGroupName": cfg.group("prod"),
                "FeaturePrefix": names.artifact_prefixes["feature"],
                "DevPipelineName": names.pipelines["dev"],
                "DevArtifactPrefix": names.artifact_prefixes["dev"],
                "ProdArtifactPrefix": names.artifact_prefixes["prod"],
                "DatasetsPrefix": names.datasets_prefix,
                **images,
                # Model Monitor's analyzer account (the pipeline's baseline steps run its image).
                **access.analyzer_parameters(cfg),
                "FeaturePipelineRoleName": cfg.role_name("sagemaker_feature"),
                "PipelineRoleName": cfg.role_name("sagemaker_pipeline"),
                "FeatureBuildRoleName": cfg.role_name("github_feature"),
                "BuildRoleName": cfg.role_name("github_build"),
                **access.data_scientist_parameters(cfg),
                **github,
                "FeatureEnvironmentName": cfg.github.environments["feature"],
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
                    # Each hosted environment's deploy role decrypts what it reads of the capture
                    # bucket: its batch data and, prod's, the captures (the shadow comparison).
                    **{
                        f"{env.capitalize()}DeployRoleName": cfg.role_name(cfg.deploy_role_key(env))
                        for env in hosted
                    },
                    # ... and its batch role, the batch data (batch run).
                    **{
                        f"{env.capitalize()}BatchRoleName": cfg.role_name(BATCH_ROLE_KEYS[env])
                        for env in hosted
                    },
                    **access.workload_parameters(cfg, hosted),
                    **images,
                    # The Model Monitor jobs' role, analyzer image and alarm topic (deploy/monitoring.py).
                    **monitoring_parameters(cfg),
                    # Async environments hosted here: their topics and testers (async_parameters.py).
                    **async_parameters.workload_parameters(cfg, hosted),
                    # Batch-only environments hosted here: their transform tests' prefix.
                    **batch_test_parameters.workload_parameters(cfg, hosted),
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
                    "BatchRoleName": cfg.role_name(BATCH_ROLE_KEYS[env]),
                    "BatchGitHubEnvironmentName": cfg.batch.github_environment,
                    "EndpointRoleName": endpoint_role,
                    "EndpointName": settings.endpoint_name,
                    "MonitorRoleName": cfg.role_name("sagemaker_monitor"),
                    "AlertsTopicName": names.alerts_topic,
                    "SharedServicesAccountId": shared,
                    "ArtifactBucketName": names.artifact_bucket,
                    **access.deploy_parameters(cfg, env),
                    # The shadow comparison's reads (prod only: capture prefix and variant metrics).
                    **capture_read_parameters(cfg, env),
                    **async_parameters.deploy_parameters(cfg, env),
                    **batch_test_parameters.deploy_parameters(cfg, env),
                    **github,
                    "GitHubOidcProviderArn": "",
                },
                dict(key_input),
            )
        )
    # The optional retraining event source (retraining.on_new_data / on_drift).
    specs += event_specs(cfg)
    return specs


def capture_read_parameters(cfg: Config, env: str) -> dict[str, str]:
    """What a deploy-role stack reads of its account's capture bucket: prod's deploy role lists
    and reads the prod capture prefix (where `shadow compare` pairs the variants' answers) and
    reads the variants' metrics; QA's reads neither ("" prefix: the template grants nothing), nor
    does a batch-only prod's (no endpoint, no shadow phase, nothing captured)."""
    settings = cfg.environment(env)
    prefix = settings.capture_uri.removeprefix(f"s3://{settings.capture_bucket}/").rstrip("/") + "/"
    compares = env in SHADOW_ENVIRONMENTS and not settings.endpoint.batch_only
    return {
        "CaptureBucketName": settings.capture_bucket,
        "CaptureReadPrefix": prefix if compares else "",
    }


def event_specs(cfg: Config, every: bool = False) -> list[StackSpec]:
    """The retraining event-source stacks (`retraining_events.event_stacks`; `every`: all, for the checks)."""
    return [
        StackSpec(key, stack_name(cfg, suffix), retraining_events.TEMPLATE, role, account, params)
        for key, suffix, role, account, params in retraining_events.event_stacks(cfg, every)
    ]


def monitoring_parameters(cfg: Config) -> dict[str, str]:
    """What the workload stack takes for monitoring: the role, the analyzer account, the alerts
    topic, and the bucket and prefix of the ground truth ("" when model quality is off)."""
    uri = cfg.monitoring.model_quality.ground_truth_uri
    bucket, _, prefix = uri.removeprefix("s3://").partition("/") if uri else ("", "", "")
    return {
        "MonitorRoleName": cfg.role_name("sagemaker_monitor"),
        "AlertsTopicName": cfg.names.alerts_topic,
        **access.analyzer_parameters(cfg),
        "GroundTruthBucket": bucket,
        "GroundTruthPrefix": prefix,
    }


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
