"""The access table's rows: which role, in which account, may call which actions on which shared resource.

Resources are symbols: `group:<kind>` and `versions:<kind>` (a model package group and its
versions; kind `source` is the group the row's environment deploys from), `objects` (every object
of the artifact bucket), `bucket` (the bucket itself, for listing) and `key` (the artifact key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .. import config
from ..config import Config

DESCRIBE_PACKAGE = "sagemaker:DescribeModelPackage"
CREATE_MODEL = "sagemaker:CreateModel"
REGISTER = (
    "sagemaker:CreateModelPackage",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
READ_REGISTRY = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
READ_OBJECTS = ("s3:GetObject", "s3:GetObjectVersion")
LIST_BUCKET = ("s3:GetBucketLocation", "s3:ListBucket")
# Key use by other accounts goes through these services only (kms:ViaService).
S3_AND_SAGEMAKER = ("s3", "sagemaker")
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
)


def _on(prefix: str, kinds: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"{prefix}:{kind}" for kind in kinds)


@dataclass(frozen=True)
class Grant:
    """One row: the `role` (a config.ROLE_SUFFIXES key) in the `party` account may call `actions`
    on `resources`; `via` limits key use to those services."""

    party: str
    role: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    via: tuple[str, ...] = ()


# The groups the pipelines write (feature, dev), with their versions.
PIPELINE_GROUPS = _on("group", config.PIPELINE_KINDS) + _on("versions", config.PIPELINE_KINDS)

# Accounts that are not a deploy environment.
TABLE: tuple[Grant, ...] = (
    # The pipeline's jobs register versions into the feature and dev groups and read and write artifacts.
    Grant("data_science", "sagemaker_pipeline", REGISTER, PIPELINE_GROUPS),
    Grant(
        "data_science",
        "sagemaker_pipeline",
        ("s3:AbortMultipartUpload", *READ_OBJECTS, "s3:PutObject"),
        ("objects",),
    ),
    Grant("data_science", "sagemaker_pipeline", LIST_BUCKET, ("bucket",)),
    Grant(
        "data_science",
        "sagemaker_pipeline",
        ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
        ("key",),
        S3_AND_SAGEMAKER,
    ),
    # The build jobs upload pipeline code and read versions and reports for the summaries.
    Grant("data_science", "github_build", READ_REGISTRY, PIPELINE_GROUPS),
    Grant("data_science", "github_build", ("s3:GetObject", "s3:PutObject"), ("objects",)),
    Grant("data_science", "github_build", LIST_BUCKET, ("bucket",)),
    Grant("data_science", "github_build", ("kms:Decrypt", "kms:GenerateDataKey"), ("key",), S3_AND_SAGEMAKER),
    # The registry role (QA and prod jobs) approves, records stages and promotes into the prod group.
    Grant(
        "shared_services",
        "github_registry",
        ("sagemaker:DescribeModelPackageGroup", "sagemaker:GetModelPackageGroupPolicy"),
        _on("group", config.GROUP_KINDS),
    ),
    Grant(
        "shared_services",
        "github_registry",
        ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"),
        _on("versions", config.GROUP_KINDS),
    ),
    Grant(
        "shared_services",
        "github_registry",
        ("sagemaker:UpdateModelPackage",),
        ("versions:dev", "versions:prod"),
    ),
    Grant(
        "shared_services",
        "github_registry",
        ("sagemaker:CreateModelPackage",),
        ("group:prod", "versions:prod"),
    ),
    Grant("shared_services", "github_registry", ("s3:GetObject",), ("objects",)),
    Grant("shared_services", "github_registry", ("kms:Decrypt",), ("key",), ("s3",)),
)

# Per deploy environment. The deploy role describes the version it deploys; prod also creates its
# model from the package ARN (SageMaker then checks the version is Approved), while QA builds its
# model from the package's containers in its own account, so it never needs CreateModel on the
# registry. The endpoint role reads (decrypts) the model artifacts.
ENVIRONMENT_TABLE: Mapping[str, tuple[Grant, ...]] = MappingProxyType(
    {
        "qa": (
            Grant("qa", "github_deploy_qa", (DESCRIBE_PACKAGE,), ("versions:source",)),
            Grant("qa", "sagemaker_endpoint", READ_OBJECTS, ("objects",)),
            Grant("qa", "sagemaker_endpoint", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
        ),
        "prod": (
            Grant("prod", "github_deploy_prod", (DESCRIBE_PACKAGE,), ("versions:source",)),
            Grant("prod", "github_deploy_prod", (CREATE_MODEL,), ("versions:source",)),
            Grant("prod", "sagemaker_endpoint", READ_OBJECTS, ("objects",)),
            Grant("prod", "sagemaker_endpoint", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
        ),
    }
)

# How the resource policies group the rows into statements: (Sid, parties, resource).
KEY_STATEMENTS = (
    ("DataScienceEncryptDecrypt", ("data_science",), "key"),
    ("WorkloadDecryptOnly", config.ENVIRONMENTS, "key"),
    ("RegistryRoleDecrypt", ("shared_services",), "key"),
)
BUCKET_STATEMENTS = (
    ("DataScienceReadWriteObjects", ("data_science",), "objects"),
    ("DataScienceListBucket", ("data_science",), "bucket"),
    ("WorkloadReadObjects", config.ENVIRONMENTS, "objects"),
)


def grants(cfg: Config) -> list[Grant]:
    """Every row for this config, `versions:source`/`group:source` resolved to the group kind."""
    rows = list(TABLE)
    for env in config.ENVIRONMENTS:
        kind = cfg.environment(env).group_kind
        for grant in ENVIRONMENT_TABLE[env]:
            resources = tuple(r.replace(":source", f":{kind}") for r in grant.resources)
            rows.append(Grant(grant.party, grant.role, grant.actions, resources, grant.via))
    return rows


def party_account(cfg: Config, party: str) -> str:
    return cfg.account_id(party)


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _role_arn(cfg: Config, grant: Grant) -> str:
    return f"arn:aws:iam::{party_account(cfg, grant.party)}:role/{cfg.role_name(grant.role)}"


def actions_of(rows: Iterable[Grant], resources: Iterable[str]) -> tuple[str, ...]:
    """The sorted union of the rows' actions on any of `resources`."""
    wanted = set(resources)
    return tuple(sorted({a for g in rows if wanted & set(g.resources) for a in g.actions}))
