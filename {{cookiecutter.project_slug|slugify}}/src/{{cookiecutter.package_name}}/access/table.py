"""The access table's rows: which role, in which account, may call which actions on which resource.

Resources are symbols (`access/resources.py` turns them into ARNs and back):

- `group:<kind>`, `versions:<kind>`: a model package group of the shared registry and its
  versions (kind feature, dev or prod; `source` in an environment's rows is the group that
  environment deploys from);
- `objects:<scope>`: the objects under one key prefix of the artifact bucket
  (`cfg.names.artifact_prefixes`: feature, dev, prod; `datasets` for the input data; `source`
  in an environment's rows is the prefix of the group it deploys from). `objects` alone, the
  whole bucket, is granted to no role;
- `reports:<scope>`: only the evaluation reports (`evaluation.json`) under one prefix;
- `bucket` (the bucket itself, for listing) and `key` (the artifact key);
- `pipelines:<kind>`: the pipelines of a kind and their executions (the dev pipeline, or every
  per-branch feature pipeline `<model>-feature-*`), in the data-science account;
- `role:<role key>`: an execution role, as the resource of iam:PassRole.

A row is an Allow unless `effect` is "Deny"; `condition` is the identity policy statement's
Condition (operator, key, values); `via` limits the row's key use to those services in the
key policy (kms:ViaService).

Least authority, per identity: each pipeline kind's build role (feature branches or the dev
branch) and job role write only that kind's prefix, run only that kind's pipelines, pass only
that kind's job role, and register only into that kind's group as PendingManualApproval. The
build roles also read the prod group (the champion a definition is compared with) and the job
roles read the prod prefix (the champion's model.tar.gz, scored by Evaluate); neither writes it. The QA
registry role reads dev versions and artifacts and records the QA result on dev versions, but
may not approve (a Deny) or write any object. Only the prod registry role approves, registers
into the prod group and writes the prod prefix (the copy of the artifact prod serves).

The optional data-scientist role (`aws.data_scientist_principal`; its rows, `DATA_SCIENTIST`,
join the table only when that is set) runs feature pipelines from a laptop as the feature build
role does, reads the feature and prod groups and the evaluation reports a prod version's metrics
point at (for compare: its prod copy, or the dev run's for a version promoted before promotion
copied reports), and nothing else on the dev pipeline, the dev or prod groups or their prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .. import config
from ..config import Config
from .actions import (  # noqa: F401 - the table's vocabulary, importable from here too
    APPROVAL_STATUS_KEY,
    CREATE_MODEL,
    CREATE_PACKAGE,
    DATA_SCIENCE_KEY,
    DESCRIBE_PACKAGE,
    KEY_ADMIN_ACTIONS,
    LIST_BUCKET,
    PASS_ROLE,
    PASSED_TO_SAGEMAKER,
    PIPELINE_ACTIONS,
    READ_OBJECTS,
    READ_REGISTRY,
    READ_VERSIONS,
    REGISTER,
    S3_AND_SAGEMAKER,
    UNLESS_PENDING,
    UPDATE_PACKAGE,
    WHEN_APPROVED,
    WRITE_OBJECTS,
    Condition,
)


def _on(prefix: str, kinds: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"{prefix}:{kind}" for kind in kinds)


@dataclass(frozen=True)
class Grant:
    """One row: the `role` (a config.ROLE_SUFFIXES key) in the `party` account may (or, with
    effect "Deny", may not) call `actions` on `resources`, under `condition`; `via` limits key
    use to those services."""

    party: str
    role: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    via: tuple[str, ...] = ()
    effect: str = "Allow"
    condition: Condition = ()

    @property
    def allow(self) -> bool:
        return self.effect == "Allow"

    def condition_document(self) -> dict[str, dict[str, Any]]:
        """The Condition element of the statement this row is (empty: none)."""
        document: dict[str, dict[str, Any]] = {}
        for operator, key, values in self.condition:
            document.setdefault(operator, {})[key] = values[0] if len(values) == 1 else list(values)
        return document


def _pipeline_kind(kind: str) -> tuple[Grant, ...]:
    """The rows of one pipeline kind: its build role (GitHub) and its job role (SageMaker)."""
    build, jobs = config.PIPELINE_STARTERS[kind], config.PIPELINE_ROLES[kind]
    own = (f"group:{kind}", f"versions:{kind}")
    return (
        # The jobs register versions into their own group, PendingManualApproval only, and read
        # and write artifacts under their own prefix; they pass their own role to their jobs.
        Grant("data_science", jobs, REGISTER, own),
        Grant("data_science", jobs, (CREATE_PACKAGE,), own, effect="Deny", condition=UNLESS_PENDING),
        Grant("data_science", jobs, WRITE_OBJECTS, (f"objects:{kind}",)),
        Grant("data_science", jobs, READ_OBJECTS, ("objects:datasets",)),
        # Evaluate scores the prod champion's model.tar.gz: read only, never written.
        Grant("data_science", jobs, READ_OBJECTS, ("objects:prod",)),
        Grant("data_science", jobs, LIST_BUCKET, ("bucket",)),
        Grant("data_science", jobs, DATA_SCIENCE_KEY, ("key",), S3_AND_SAGEMAKER),
        Grant("data_science", jobs, (PASS_ROLE,), (f"role:{jobs}",), condition=PASSED_TO_SAGEMAKER),
        # The build upserts and runs its kind's pipelines with its kind's job role, uploads their
        # code under its prefix, checks the input data and reads versions and reports for summaries.
        Grant("data_science", build, PIPELINE_ACTIONS, (f"pipelines:{kind}",)),
        Grant("data_science", build, (PASS_ROLE,), (f"role:{jobs}",), condition=PASSED_TO_SAGEMAKER),
        Grant("data_science", build, READ_REGISTRY, own),
        # It looks up the prod champion the definition compares with (the version released last).
        Grant("data_science", build, READ_REGISTRY, ("group:prod", "versions:prod")),
        Grant("data_science", build, WRITE_OBJECTS, (f"objects:{kind}",)),
        Grant("data_science", build, READ_OBJECTS, ("objects:datasets",)),
        Grant("data_science", build, LIST_BUCKET, ("bucket",)),
        Grant("data_science", build, DATA_SCIENCE_KEY, ("key",), S3_AND_SAGEMAKER),
    )


# Accounts that are not a deploy environment.
TABLE: tuple[Grant, ...] = (
    *_pipeline_kind("feature"),
    *_pipeline_kind("dev"),
    # QA (GitHub environment qa): reads dev and prod versions (latest, lock, compare), records the
    # QA result and stage on dev versions but may never set Approved, and reads dev artifacts to
    # hash the one it tested. No object write anywhere.
    Grant(
        "shared_services",
        "github_registry_qa",
        ("sagemaker:DescribeModelPackageGroup",),
        ("group:dev", "group:prod"),
    ),
    Grant("shared_services", "github_registry_qa", READ_VERSIONS, ("versions:dev", "versions:prod")),
    Grant("shared_services", "github_registry_qa", (UPDATE_PACKAGE,), ("versions:dev",)),
    Grant(
        "shared_services",
        "github_registry_qa",
        (UPDATE_PACKAGE,),
        ("versions:dev",),
        effect="Deny",
        condition=WHEN_APPROVED,
    ),
    Grant("shared_services", "github_registry_qa", READ_OBJECTS, ("objects:dev",)),
    Grant("shared_services", "github_registry_qa", ("kms:Decrypt",), ("key",), ("s3",)),
    # Prod release (GitHub environment prod, required reviewers): approves the locked dev
    # version, copies its artifact into the prod prefix (and hashes the copy), registers the prod
    # version on the copy and records its stage (or rejects it after a failed release).
    Grant(
        "shared_services",
        "github_registry_prod",
        ("sagemaker:DescribeModelPackageGroup",),
        ("group:dev", "group:prod"),
    ),
    Grant("shared_services", "github_registry_prod", READ_VERSIONS, ("versions:dev", "versions:prod")),
    Grant("shared_services", "github_registry_prod", (UPDATE_PACKAGE,), ("versions:dev", "versions:prod")),
    Grant("shared_services", "github_registry_prod", (CREATE_PACKAGE,), ("group:prod", "versions:prod")),
    Grant("shared_services", "github_registry_prod", READ_OBJECTS, ("objects:dev",)),
    # The copy it makes, read back to hash it.
    Grant("shared_services", "github_registry_prod", (*READ_OBJECTS, "s3:PutObject"), ("objects:prod",)),
    Grant(
        "shared_services",
        "github_registry_prod",
        ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"),
        ("key",),
        ("s3",),
    ),
)

# The data scientist (make run, status and compare, with their own credentials): upsert, start and
# watch their branch's feature pipeline as the feature job role, upload its code under the feature
# prefix, check the input data, read the version it registered and its report, and compare it with
# the prod champion, whose metrics are its report's copy under the prod prefix (or, promoted before
# promotion copied reports, the dev run's report).
DATA_SCIENTIST: tuple[Grant, ...] = (
    Grant("data_science", "data_scientist", PIPELINE_ACTIONS, ("pipelines:feature",)),
    Grant(
        "data_science",
        "data_scientist",
        (PASS_ROLE,),
        ("role:sagemaker_feature",),
        condition=PASSED_TO_SAGEMAKER,
    ),
    Grant("data_science", "data_scientist", WRITE_OBJECTS, ("objects:feature",)),
    Grant("data_science", "data_scientist", READ_OBJECTS, ("objects:datasets",)),
    Grant("data_science", "data_scientist", READ_OBJECTS, ("reports:dev", "reports:prod")),
    Grant("data_science", "data_scientist", LIST_BUCKET, ("bucket",)),
    Grant(
        "data_science",
        "data_scientist",
        READ_REGISTRY,
        ("group:feature", "versions:feature", "group:prod", "versions:prod"),
    ),
    Grant("data_science", "data_scientist", ("kms:Decrypt", "kms:GenerateDataKey"), ("key",), ("s3",)),
)


def _monitoring_rows(env: str) -> tuple[Grant, ...]:
    """An environment's Model Monitor rows: its deploy role passes the monitoring role to the
    schedules it creates; the monitoring jobs read (decrypt) the version's baselines under the
    prefix the environment deploys from, and nothing else of the artifact bucket."""
    return (
        Grant(
            env,
            f"github_deploy_{env}",
            (PASS_ROLE,),
            ("role:sagemaker_monitor",),
            condition=PASSED_TO_SAGEMAKER,
        ),
        Grant(env, "sagemaker_monitor", READ_OBJECTS, ("objects:source",)),
        Grant(env, "sagemaker_monitor", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
    )


def _batch_rows(env: str) -> tuple[Grant, ...]:
    """An environment's batch role (`batch run`, unattended): it describes the version it runs
    and hashes its artifact (the bytes of the prefix the environment deploys from, decrypted
    through S3 only) and passes the endpoint role to its transform jobs; it creates no model and
    writes nothing in the registry or the artifact bucket."""
    role = f"github_batch_{env}"
    return (
        Grant(env, role, (DESCRIBE_PACKAGE,), ("versions:source",)),
        Grant(env, role, (PASS_ROLE,), ("role:sagemaker_endpoint",), condition=PASSED_TO_SAGEMAKER),
        Grant(env, role, READ_OBJECTS, ("objects:source",)),
        Grant(env, role, ("kms:Decrypt",), ("key",), ("s3",)),
    )


# Per deploy environment. The deploy role describes the version it deploys and passes the
# endpoint role; prod also creates its model from the package ARN (SageMaker then checks the
# version is Approved) and reads the artifact to check its checksum before serving it, while QA
# builds its model from the package's containers in its own account, so it never needs
# CreateModel on the registry. The endpoint role reads (decrypts) the artifacts of the prefix
# its environment deploys from.
ENVIRONMENT_TABLE: Mapping[str, tuple[Grant, ...]] = MappingProxyType(
    {
        "qa": (
            Grant("qa", "github_deploy_qa", (DESCRIBE_PACKAGE,), ("versions:source",)),
            Grant(
                "qa",
                "github_deploy_qa",
                (PASS_ROLE,),
                ("role:sagemaker_endpoint",),
                condition=PASSED_TO_SAGEMAKER,
            ),
            # With QA monitored, the deploy reads the version's baseline constraints (the features
            # the drift alarms watch).
            Grant("qa", "github_deploy_qa", READ_OBJECTS, ("objects:source",)),
            Grant("qa", "github_deploy_qa", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
            Grant("qa", "sagemaker_endpoint", READ_OBJECTS, ("objects:source",)),
            Grant("qa", "sagemaker_endpoint", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
            *_monitoring_rows("qa"),
            *_batch_rows("qa"),
        ),
        "prod": (
            Grant("prod", "github_deploy_prod", (DESCRIBE_PACKAGE,), ("versions:source",)),
            Grant("prod", "github_deploy_prod", (CREATE_MODEL,), ("versions:source",)),
            Grant(
                "prod",
                "github_deploy_prod",
                (PASS_ROLE,),
                ("role:sagemaker_endpoint",),
                condition=PASSED_TO_SAGEMAKER,
            ),
            Grant("prod", "github_deploy_prod", READ_OBJECTS, ("objects:source",)),
            Grant("prod", "github_deploy_prod", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
            Grant("prod", "sagemaker_endpoint", READ_OBJECTS, ("objects:source",)),
            Grant("prod", "sagemaker_endpoint", ("kms:Decrypt",), ("key",), S3_AND_SAGEMAKER),
            *_monitoring_rows("prod"),
            *_batch_rows("prod"),
        ),
    }
)

# How the key and bucket policies group the rows into statements: (Sid, parties, roles,
# resource). Every role of one statement holds the same actions (and key services) on it, so a
# statement never widens one role to another's grants (the access tests prove it).
DATA_SCIENCE_ROLES = ("github_feature", "github_build", "sagemaker_feature", "sagemaker_pipeline")
KEY_STATEMENTS = (
    ("DataScienceEncryptDecrypt", ("data_science",), DATA_SCIENCE_ROLES, "key"),
    ("DataScientistEncryptDecrypt", ("data_science",), ("data_scientist",), "key"),
    ("WorkloadDecryptOnly", config.ENVIRONMENTS, ("sagemaker_endpoint", "github_deploy_prod"), "key"),
    # Model Monitor: the jobs read baselines, the QA deploy their constraints (the prod deploy reads
    # the prod prefix already).
    ("WorkloadMonitoringDecryptOnly", config.ENVIRONMENTS, ("github_deploy_qa", "sagemaker_monitor"), "key"),
    # The batch roles hash the artifact a transform job is about to run.
    ("BatchDecryptOnly", config.ENVIRONMENTS, ("github_batch_qa", "github_batch_prod"), "key"),
    ("RegistryQaDecrypt", ("shared_services",), ("github_registry_qa",), "key"),
    ("RegistryProdEncryptDecrypt", ("shared_services",), ("github_registry_prod",), "key"),
)
# The registry roles live in the bucket's own account, where their IAM policies decide. A statement
# whose roles hold nothing (no data-scientist role) is left out.
BUCKET_STATEMENTS = (
    (
        "FeatureReadWriteObjects",
        ("data_science",),
        ("github_feature", "sagemaker_feature", "data_scientist"),
        "objects:feature",
    ),
    ("DevReadWriteObjects", ("data_science",), ("github_build", "sagemaker_pipeline"), "objects:dev"),
    (
        "DataScienceReadDatasets",
        ("data_science",),
        (*DATA_SCIENCE_ROLES, "data_scientist"),
        "objects:datasets",
    ),
    ("DataScienceListBucket", ("data_science",), (*DATA_SCIENCE_ROLES, "data_scientist"), "bucket"),
    (
        "PipelineJobsReadProdObjects",
        ("data_science",),
        (config.PIPELINE_ROLES["feature"], config.PIPELINE_ROLES["dev"]),
        "objects:prod",
    ),
    ("DataScientistReadDevReports", ("data_science",), ("data_scientist",), "reports:dev"),
    ("DataScientistReadProdReports", ("data_science",), ("data_scientist",), "reports:prod"),
    ("QaReadObjects", ("qa",), ("sagemaker_endpoint", "github_batch_qa"), "objects:source"),
    (
        "ProdReadObjects",
        ("prod",),
        ("sagemaker_endpoint", "github_deploy_prod", "github_batch_prod"),
        "objects:source",
    ),
    ("QaMonitoringReadObjects", ("qa",), ("github_deploy_qa", "sagemaker_monitor"), "objects:source"),
    ("ProdMonitoringReadObjects", ("prod",), ("sagemaker_monitor",), "objects:source"),
)


def grants(cfg: Config) -> list[Grant]:
    """Every row for this config, `:source` resolved to the group kind (and artifact prefix) the
    row's environment deploys from; the data scientist's rows when `aws.data_scientist_principal`
    is set."""
    rows = list(TABLE)
    if cfg.data_scientist_principal:
        rows += DATA_SCIENTIST
    for env in config.ENVIRONMENTS:
        kind = cfg.environment(env).group_kind
        for grant in ENVIRONMENT_TABLE[env]:
            resources = tuple(r.replace(":source", f":{kind}") for r in grant.resources)
            rows.append(
                Grant(
                    grant.party,
                    grant.role,
                    grant.actions,
                    resources,
                    grant.via,
                    grant.effect,
                    grant.condition,
                )
            )
    return rows


def party_account(cfg: Config, party: str) -> str:
    return cfg.account_id(party)


def actions_of(rows: Iterable[Grant], resources: Iterable[str]) -> tuple[str, ...]:
    """The sorted union of the Allow rows' actions on any of `resources`."""
    wanted = set(resources)
    return tuple(sorted({a for g in rows if g.allow and wanted & set(g.resources) for a in g.actions}))
