"""Which pipeline a run targets: its name (one per feature branch), S3 prefix, execution role,
artifact key and start token.

Standard library and the config only: the pipeline CLI checks all of this before any AWS call,
and other commands can name a branch's pipeline without loading the SageMaker SDK.

Pipeline names (`pipeline_name(cfg, kind, branch)`):
- dev: `cfg.names.pipelines["dev"]`, i.e. `<model>-dev`.
- feature: one pipeline per branch, `<model>-feature-<part>` (the prefix is
  `cfg.names.artifact_prefixes["feature"]`). `part` is the branch name without the configured
  feature prefix (`branches.feature_prefix`), slugged: lowercased, every run of characters
  outside [a-z0-9] replaced by one `-`, leading and trailing `-` dropped. For example, with the
  prefix `feature-`, branch `feature-better-model` -> `<model>-feature-better-model`.
  `-<hash>` (the first 12 hex digits of the SHA-256 of the exact branch name) is appended
  whenever the slug alone could name more than one branch: the slug differs from `part` (the
  branch had capitals, `/`, `_`, `.` or repeated hyphens), the branch lacks the feature prefix,
  the slug is empty or already ends like a hash, or the name would exceed SageMaker's 256
  characters (the slug is then shortened to fit). So `feature-Better_Model` ->
  `<model>-feature-better-model-<hash>`, and two branches never share a pipeline.

Each pipeline's code and outputs live under `s3://<artifact bucket>/<pipeline name>/`
(`s3_prefix`), so a feature pipeline writes only below `artifact_prefixes["feature"]` and the dev
pipeline only below `artifact_prefixes["dev"]`.

Execution role (`execution_role_arn`): feature pipelines run as `<model>-sagemaker-feature`, the
dev pipeline as `<model>-sagemaker-pipeline`, both in the data-science account.

Artifact key (`job_kms_key`): jobs encrypt their outputs with the shared artifact key. When the
data-science account is not the shared-services account the jobs write across accounts, and S3
needs the key's ARN (`registry.kms_key_arn`), not an alias; an empty one is a ConfigError.

Start token (`start_token`): the ClientRequestToken of StartPipelineExecution, the SHA-256 of
`<repository>:<git sha>:<run id>:<run attempt>:<pipeline name>`. Starting again within the same
GitHub Actions run attempt sends the same token, and SageMaker does not start a second execution;
a re-run (a new attempt) starts a new one.
"""

from __future__ import annotations

import hashlib
import re

from ..config import PIPELINE_KINDS, PIPELINE_ROLES, Config, ConfigError

# SageMaker pipeline names: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}.
MAX_PIPELINE_NAME = 256
HASH_LENGTH = 12
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_HASH_LIKE = re.compile("(^|-)[0-9a-f]{" + str(HASH_LENGTH) + "}$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")


def slug(text: str) -> str:
    """Lowercase; every run of characters outside [a-z0-9] becomes one `-`; no edge hyphens."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def branch_hash(branch: str) -> str:
    return hashlib.sha256(branch.encode()).hexdigest()[:HASH_LENGTH]


def feature_pipeline_name(cfg: Config, branch: str) -> str:
    """The feature pipeline of `branch` (see the module docstring for the rule)."""
    if not branch:
        raise ConfigError("the branch name is empty; feature pipelines are named after their branch")
    base = cfg.names.artifact_prefixes["feature"]
    prefix = cfg.branches.feature_prefix
    prefixed = branch.startswith(prefix)
    part = branch[len(prefix) :] if prefixed else branch
    slugged = slug(part)
    name = base + slugged
    if (
        slugged == part
        and prefixed
        and slugged
        and not _HASH_LIKE.search(slugged)
        and len(name) <= MAX_PIPELINE_NAME
    ):
        return name
    room = MAX_PIPELINE_NAME - len(base) - HASH_LENGTH - 1
    short = slugged[:room].strip("-")
    return f"{base}{short}-{branch_hash(branch)}" if short else f"{base}{branch_hash(branch)}"


def pipeline_name(cfg: Config, kind: str, branch: str) -> str:
    """The pipeline a run of `kind` on `branch` uses: the branch's own feature pipeline, or the
    dev pipeline (the branch does not change it). ConfigError for another kind."""
    if kind == "dev":
        return cfg.names.pipelines["dev"]
    if kind == "feature":
        return feature_pipeline_name(cfg, branch)
    raise ConfigError(f"unknown pipeline kind {kind!r}; expected one of {', '.join(PIPELINE_KINDS)}")


def s3_prefix(name: str) -> str:
    """Key prefix of everything a pipeline writes in the artifact bucket."""
    return f"{name}/"


def execution_role_arn(cfg: Config, kind: str) -> str:
    """The role a pipeline of `kind` and its jobs run as (`config.PIPELINE_ROLES`, data-science
    account)."""
    if kind not in PIPELINE_ROLES:
        raise ConfigError(f"unknown pipeline kind {kind!r}; expected one of {', '.join(PIPELINE_KINDS)}")
    return cfg.role_arn("data_science", PIPELINE_ROLES[kind])


def job_kms_key(cfg: Config) -> str:
    """The KMS key the jobs encrypt their outputs with.

    `registry.kms_key_arn` when set (it must be a key in the shared-services account and the
    config's region). When empty: the alias ARN in the shared-services account if the pipeline
    runs in that account too, else ConfigError (a cross-account S3 write with an alias would
    resolve it in the writer's account, or be refused).
    """
    data_science, shared = cfg.account_id("data_science"), cfg.account_id("shared_services")
    if cfg.kms_key_arn:
        match = KEY_ARN.match(cfg.kms_key_arn)
        if match and (match.group(1), match.group(2)) != (cfg.region, shared):
            raise ConfigError(
                f"registry.kms_key_arn is {cfg.kms_key_arn!r}; expected the artifact key of the "
                f"shared-services account {shared} in {cfg.region}"
            )
        return cfg.kms_key_arn
    if data_science == shared:
        return cfg.artifact_key()
    raise ConfigError(
        f"registry.kms_key_arn is empty, but the pipeline's jobs run in the data-science account "
        f"{data_science} and write to the artifact bucket of the shared-services account {shared}: "
        f"cross-account writes need the key ARN of {cfg.names.kms_key_alias}, not the alias; expected "
        f"arn:aws:kms:{cfg.region}:{shared}:key/<key id> (the ArtifactKeyArn output of the "
        "shared-services stack) in config/project.json"
    )


def start_token(repository: str, git_sha: str, run_id: str, run_attempt: str, pipeline: str) -> str:
    """ClientRequestToken for StartPipelineExecution (32 to 128 characters): 64 hex digits."""
    for label, value in (("run ID", run_id), ("run attempt", run_attempt)):
        if not _DIGITS.match(value):
            raise ConfigError(f"the {label} is {value!r}; expected digits (GitHub Actions' run {label})")
    text = f"{repository}:{git_sha}:{run_id}:{run_attempt}:{pipeline}"
    return hashlib.sha256(text.encode()).hexdigest()
