"""Every derived resource name, computed from the model name, region and account IDs in one place.

`derive_names` is the only place a bucket, KMS alias, model package group, pipeline, endpoint,
capture bucket or IAM role name is built; `Config.names` holds its result. The constants say
which accounts, environments, group kinds and pipeline kinds exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ACCOUNT_ROLES = ("data_science", "shared_services", "qa", "prod")
# Deploy environments, in release order. Each runs in the account of the same name and deploys
# from one registry group: QA from dev (not yet approved versions), prod from prod.
ENVIRONMENTS = ("qa", "prod")
ENVIRONMENT_GROUPS = MappingProxyType({"qa": "dev", "prod": "prod"})
# Registry groups and the pipelines that write them (prod is written by promotion only).
GROUP_KINDS = ("feature", "dev", "prod")
PIPELINE_KINDS = ("feature", "dev")
# S3 bucket names are at most 63 characters: `<model[:24]>-artifacts-<12 digits>-<region>`
# fits for every region name SageMaker has.
BUCKET_MODEL_PREFIX = 24
# Asynchronous inference: what each key prefix holds, and the outcomes SageMaker notifies.
ASYNC_USES = ("input", "output", "failure")
BATCH_TEST_USES = ("input", "output")
ASYNC_OUTCOMES = ("success", "error")


@dataclass(frozen=True)
class Names:
    """Every derived resource name; computed in `derive_names` only."""

    artifact_bucket: str
    kms_key_alias: str
    capture_key_alias: str
    groups: Mapping[str, str]
    pipelines: Mapping[str, str]
    endpoints: Mapping[str, str]
    capture_buckets: Mapping[str, str]
    roles: Mapping[str, str]
    datasets_prefix: str
    # Key prefixes of the artifact bucket per registry group kind: each pipeline kind writes only
    # its own (a feature pipeline's prefix is its per-branch pipeline name), promotion alone
    # writes the prod one. IAM resources append `*`.
    artifact_prefixes: Mapping[str, str]
    default_input_data_uri: str
    # The SNS topic of the monitoring alarms and notifications, in each workload account.
    alerts_topic: str = ""
    # Batch Transform input and output key prefixes of each environment's capture bucket
    # (`batch/<env>/input/`, `batch/<env>/output/`; IAM resources append `*`).
    batch_input_prefixes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    batch_output_prefixes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # A batch-only project's test jobs (endpoint type "none": the QA test, the prod smoke test):
    # their inputs and outputs, apart from the scheduled runs' (`batch/<env>/tests/<use>/`,
    # BATCH_TEST_USES), so a scheduled run never reads a test's rows.
    batch_test_prefixes: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    # Asynchronous inference (endpoint type "async"): key prefixes of each environment's capture
    # bucket per use (ASYNC_USES: `async/<env>/<use>/`) and its SNS topics per outcome
    # (ASYNC_OUTCOMES: `<endpoint>-async-<outcome>`), by environment.
    async_prefixes: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    async_topics: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))


# IAM roles, one per identity: `<model>-<suffix>`. Each GitHub role is trusted by exactly one
# GitHub environment (feature branches, the dev build, qa, prod), each pipeline role runs the jobs
# of one pipeline kind; what each may do is the access table's (access/table.py). The longest
# suffix with a 40-character model name stays within IAM's 64 characters.
ROLE_SUFFIXES = MappingProxyType(
    {
        "github_feature": "github-feature",
        "github_build": "github-build",
        "github_registry_qa": "github-registry-qa",
        "github_registry_prod": "github-registry-prod",
        "github_deploy_qa": "github-deploy-qa",
        "github_deploy_prod": "github-deploy-prod",
        # `batch run` in each workload account: transform jobs with the model its deploy created.
        "github_batch_qa": "github-batch-qa",
        "github_batch_prod": "github-batch-prod",
        "sagemaker_feature": "sagemaker-feature",
        "sagemaker_pipeline": "sagemaker-pipeline",
        "sagemaker_endpoint": "sagemaker-endpoint",
        # Runs the Model Monitor jobs of the endpoints (every workload account, as the endpoint role).
        "sagemaker_monitor": "sagemaker-monitor",
        # Optional (aws.data_scientist_principal): make run, status and compare from a laptop.
        "data_scientist": "data-scientist",
    }
)
# The account each role lives in (the endpoint role lives in every workload account).
ROLE_ACCOUNTS = MappingProxyType(
    {
        "github_feature": "data_science",
        "github_build": "data_science",
        "github_registry_qa": "shared_services",
        "github_registry_prod": "shared_services",
        "github_deploy_qa": "qa",
        "github_deploy_prod": "prod",
        "github_batch_qa": "qa",
        "github_batch_prod": "prod",
        "sagemaker_feature": "data_science",
        "sagemaker_pipeline": "data_science",
    }
)
# The role that runs the jobs of each pipeline kind, and the GitHub role that upserts and starts it.
PIPELINE_ROLES = MappingProxyType({"feature": "sagemaker_feature", "dev": "sagemaker_pipeline"})
PIPELINE_STARTERS = MappingProxyType({"feature": "github_feature", "dev": "github_build"})


def derive_names(model: str, region: str, accounts: Mapping[str, str]) -> Names:
    """All resource names from the model name, region and account IDs."""
    bucket = f"{model[:BUCKET_MODEL_PREFIX]}-artifacts-{accounts['shared_services']}-{region}"
    datasets = "datasets/"
    return Names(
        artifact_bucket=bucket,
        kms_key_alias=f"alias/{model}-artifacts",
        capture_key_alias=f"alias/{model}-capture",
        groups=MappingProxyType({kind: f"{model}-{kind}" for kind in GROUP_KINDS}),
        pipelines=MappingProxyType({kind: f"{model}-{kind}" for kind in PIPELINE_KINDS}),
        endpoints=MappingProxyType({env: f"{model}-{env}" for env in ENVIRONMENTS}),
        capture_buckets=MappingProxyType({env: f"{model}-capture-{accounts[env]}" for env in ENVIRONMENTS}),
        roles=MappingProxyType({key: f"{model}-{suffix}" for key, suffix in ROLE_SUFFIXES.items()}),
        datasets_prefix=datasets,
        artifact_prefixes=MappingProxyType(
            {"feature": f"{model}-feature-", "dev": f"{model}-dev/", "prod": f"{model}-prod/"}
        ),
        default_input_data_uri=f"s3://{bucket}/{datasets}sample.csv",
        alerts_topic=f"{model}-alerts",
        batch_input_prefixes=MappingProxyType({env: f"batch/{env}/input/" for env in ENVIRONMENTS}),
        batch_output_prefixes=MappingProxyType({env: f"batch/{env}/output/" for env in ENVIRONMENTS}),
        batch_test_prefixes=MappingProxyType(
            {
                env: MappingProxyType({use: f"batch/{env}/tests/{use}/" for use in BATCH_TEST_USES})
                for env in ENVIRONMENTS
            }
        ),
        async_prefixes=MappingProxyType(
            {
                env: MappingProxyType({use: f"async/{env}/{use}/" for use in ASYNC_USES})
                for env in ENVIRONMENTS
            }
        ),
        async_topics=MappingProxyType(
            {
                env: MappingProxyType({o: f"{model}-{env}-async-{o}" for o in ASYNC_OUTCOMES})
                for env in ENVIRONMENTS
            }
        ),
    )
