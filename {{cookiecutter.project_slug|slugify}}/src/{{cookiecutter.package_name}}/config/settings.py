"""The parsed settings of each config section, as frozen values (built by `loading`).

`Project`, `GitHub`, `Branches`, `ModelSettings`, `PipelineSettings`; per deploy environment
an `Environment` holding its `EndpointSettings` and `TestThresholds` (parsed in `environments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FRAMEWORKS = ("sklearn", "xgboost")
# The hyperparameters steps/train.py accepts per framework, with their types (a test keeps this
# equal to train.py's own argument parser, which runs alone in the framework image).
HYPERPARAMETERS = MappingProxyType(
    {
        "sklearn": MappingProxyType({"n_estimators": int, "max_depth": int, "learning_rate": float}),
        "xgboost": MappingProxyType({"num_round": int, "max_depth": int, "eta": float}),
    }
)
REAL_TIME = "real-time"
SERVERLESS = "serverless"
ASYNC = "async"
# One endpoint serving a segmented model's set of versions, one model per segment (TargetModel).
MULTI_MODEL = "multi-model"
# No endpoint at all (a batch-only project): the deploy creates the version's model, the tests are
# a transform job over the held-out split, and Batch Transform is how the model is used.
NO_ENDPOINT = "none"
TRAFFIC_SHIFTS = ("CANARY", "LINEAR", "ALL_AT_ONCE")
# The endpoint suite's burst is one request per sample row at most this many.
MAX_BURST_REQUESTS = 1000


@dataclass(frozen=True)
class Project:
    name: str
    description: str
    slug: str
    package: str
    model_name: str


@dataclass(frozen=True)
class GitHub:
    owner: str
    repo: str
    owner_id: str
    repo_id: str
    # GitHub environment names: build (data-science), qa, prod.
    environments: Mapping[str, str]
    # Who must approve a prod release: `@user` or `@org/team` handles (CODEOWNERS, the prod
    # environment's required reviewers).
    prod_reviewers: tuple[str, ...] = ()

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"


@dataclass(frozen=True)
class Branches:
    dev: str
    prod: str
    feature_prefix: str


IDENTIFIER_POLICIES = ("drop", "refuse", "keep")
# A processing job's container arguments are at most 256 characters each (AppSpecification).
MAX_ARGUMENT_CHARS = 256


@dataclass(frozen=True)
class Segments:
    """`model.segments`: one model per listed value of `column` (off when `column` is "").
    A data value is compared as `str(value).strip()`."""

    column: str = ""
    values: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.column)

    def preprocess_arguments(self) -> list[str]:
        """steps/preprocess.py's segment arguments (none when off): one `--segment=<value>` each,
        so every container argument stays short."""
        if not self.enabled:
            return []
        return [f"--segment-column={self.column}", *(f"--segment={value}" for value in self.values)]


@dataclass(frozen=True)
class ModelSettings:
    """`model`: the framework, its hyperparameters and the data contract steps/preprocess.py
    enforces (docs/data.md): the label column, which value is positive, the columns to drop,
    the categorical columns (None: a column is categorical when a value is not a number), the
    share of unlabelled rows tolerated, what to do with identifier-like columns, and the fewest
    rows of each class in each split."""

    framework: str
    target_column: str
    # Per framework; `params` gives the chosen framework's.
    hyperparameters: Mapping[str, Mapping[str, Any]]
    drop_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] | None = None
    positive_label: str | None = None
    max_dropped_share: float = 0.05
    identifier_columns: str = "drop"
    min_class_count: int = 5
    segments: Segments = field(default_factory=Segments)

    @property
    def params(self) -> Mapping[str, Any]:
        return self.hyperparameters[self.framework]

    def preprocess_arguments(self) -> list[str]:
        """The contract as steps/preprocess.py's arguments (the pipeline and the rehearsal pass
        these). `--option=value`, so a value may start with "-"; a column list is comma-separated
        in chunks that each fit one container argument, and an empty categorical list is the
        one empty value `--categorical-columns=`."""
        args = [f"--target={self.target_column}"]
        lists = (
            ("--drop-columns", self.drop_columns or None),
            ("--categorical-columns", self.categorical_columns),
        )
        for option, names in lists:
            if names is None:
                continue
            chunks = [""]
            for name in names:
                joined = f"{chunks[-1]},{name}" if chunks[-1] else name
                if chunks[-1] and len(option) + 1 + len(joined) > MAX_ARGUMENT_CHARS:
                    chunks.append(name)
                else:
                    chunks[-1] = joined
            args += [f"{option}={chunk}" for chunk in chunks]
        if self.positive_label is not None:
            args.append(f"--positive-label={self.positive_label}")
        return [
            *args,
            f"--max-dropped-share={self.max_dropped_share:g}",
            f"--identifier-columns={self.identifier_columns}",
            f"--min-class-count={self.min_class_count}",
        ]


@dataclass(frozen=True)
class PipelineSettings:
    input_data_uri: str
    processing_instance_type: str
    training_instance_type: str
    metric: str
    metric_threshold: float
    framework_versions: Mapping[str, str]
    retry_attempts: int
    cache_expire_after: str


@dataclass(frozen=True)
class EndpointSettings:
    """One environment's endpoint (`environments.<env>.endpoint`), validated.

    - type: "real-time" or "serverless" (serverless is the cheap QA option; it supports neither
      autoscaling nor data capture);
    - instance_type / instance_count (real-time), serverless.memory_mb / max_concurrency;
    - autoscaling: target tracking on SageMakerVariantInvocationsPerInstance
      (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling.html);
    - data_capture: requests and responses to the environment's capture bucket
      (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html);
    - traffic_shifting: blue/green CANARY, LINEAR or ALL_AT_ONCE
      (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html);
    - alarms: 5XX errors and p99 model latency; a real-time update rolls back when one fires;
    - type "async" (asynchronous inference, docs/inference-modes.md): instances as real-time,
      `async_inference` holds max_concurrent_invocations_per_instance, min_capacity (0 allowed),
      max_capacity, target_backlog_per_instance and invocation_timeout_seconds;
    - type "multi-model" (a segmented model, docs/inference-modes.md): instances, autoscaling,
      alarms, data capture and traffic shifting as real-time; one endpoint serves every segment;
    - type "none" (a batch-only project, docs/inference-modes.md): no endpoint; qa and prod are
      both "none", the deploy creates the version's model only and the tests run a transform job
      (`batch.environments.<env>` settings); autoscaling and data capture are refused.
    """

    env: str
    endpoint_name: str
    kind: str
    instance_type: str
    instance_count: int
    serverless: Mapping[str, int]
    autoscaling: Mapping[str, Any]
    data_capture: Mapping[str, Any]
    traffic: Mapping[str, Any]
    alarms: Mapping[str, float]
    async_inference: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def real_time(self) -> bool:
        return self.kind == REAL_TIME

    @property
    def is_async(self) -> bool:
        return self.kind == ASYNC

    @property
    def multi_model(self) -> bool:
        return self.kind == MULTI_MODEL

    @property
    def batch_only(self) -> bool:
        """No endpoint: the environment runs its model through Batch Transform jobs only."""
        return self.kind == NO_ENDPOINT

    @property
    def on_instances(self) -> bool:
        """Runs on provisioned instances (real-time, async or multi-model), not serverless."""
        return self.kind in (REAL_TIME, ASYNC, MULTI_MODEL)


@dataclass(frozen=True)
class TestThresholds:
    """Endpoint test thresholds of one environment (`environments.<env>.tests`)."""

    burst_requests: int
    max_p50_ms: float
    max_p95_ms: float
    max_error_rate: float
    min_accuracy: float = 0.8


@dataclass(frozen=True)
class Environment:
    """A deploy environment: where it runs, which group it deploys from, its endpoint and tests."""

    name: str
    account_role: str
    account: str
    github_environment: str
    group_kind: str
    group: str
    endpoint_name: str
    capture_bucket: str
    capture_key_alias: str
    endpoint: EndpointSettings
    tests: TestThresholds
    capture_key_region: str = ""

    @property
    def capture_uri(self) -> str:
        """Where data capture writes: the capture bucket of the account that serves the endpoint."""
        return f"s3://{self.capture_bucket}/data-capture/{self.name}"

    @property
    def capture_key_arn(self) -> str:
        """The capture key's alias ARN in that account (a bare alias is looked up in the caller's)."""
        return f"arn:aws:kms:{self.capture_key_region}:{self.account}:{self.capture_key_alias}"

    @property
    def approved_only(self) -> bool:
        """Prod takes Approved versions only (SageMaker enforces it too for models built from a
        versioned package ARN); QA runs the version the dev push has just registered."""
        return self.group_kind == "prod"
