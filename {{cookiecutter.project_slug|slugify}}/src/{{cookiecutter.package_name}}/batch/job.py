"""One Batch Transform job: its deterministic name and request, and create-or-attach.

The name is `<endpoint>-b<hash>`, the hash over the model, the input prefix, the run date and
(from the second on) the attempt number, so a re-run of the same batch finds its job:
Completed: no mutating call; InProgress or Stopping: wait for it (attach); Failed or Stopped:
an error naming the reason and the `--attempt` that starts a new job. The request
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html):

- input: every object under the prefix, `text/csv`, split by line;
- BatchStrategy MultiRecord, Accept text/csv: each request is a mini-batch of as many whole
  lines as fit in MaxPayloadInMB (config); the inference handler answers it with one
  `<label>,<probability>` line per input line, in order, and the job splits the answer by line
  (a mini-batch whose answer has another number of lines fails the job);
- DataProcessing JoinSource Input: each output line is the input line, then the prediction;
- output: `<output prefix>/<job name>/<input key relative to the prefix>.out`, lines assembled
  by line, encrypted with the workload account's capture key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..config import Config
from ..deploy.aws import Clients, DeployError, is_not_found, log
from ..deploy.endpoint import DeployPlan, digest
from ..deploy.model_check import refuse_other_model

CONTENT_TYPE = "text/csv"
ACCEPT = "text/csv"  # one answer line per input line (steps/inference.py)
BATCH_STRATEGY = "MultiRecord"
RUNNING = ("InProgress", "Stopping")
NAME_LIMIT = 63


@dataclass(frozen=True)
class BatchPlan:
    env: str
    job_name: str
    model_name: str
    input_uri: str
    output_uri: str
    date: str
    attempt: int
    request: dict[str, Any]


def job_name(endpoint: str, model_name: str, input_uri: str, date: str, attempt: int = 1) -> str:
    key = [model_name, input_uri, date] + ([attempt] if attempt > 1 else [])
    return f"{endpoint}-b{digest(key, 10)}"[:NAME_LIMIT]


def plan_job(
    cfg: Config, env: str, deploy: DeployPlan, input_uri: str, date: str, attempt: int = 1
) -> BatchPlan:
    """The transform job of `deploy`'s model over `input_uri` for `date` (no AWS calls)."""
    settings = cfg.batch.environment(env)
    name = job_name(cfg.environment(env).endpoint_name, deploy.model_name, input_uri, date, attempt)
    output_uri = f"{settings.output_uri}{name}/"
    tags = [
        {"Key": "batch-date", "Value": date},
        {"Key": "batch-attempt", "Value": str(attempt)},
    ]
    request = transform_request(cfg, env, deploy, name, input_uri, output_uri, tags)
    return BatchPlan(env, name, deploy.model_name, input_uri, output_uri, date, attempt, request)


def transform_request(
    cfg: Config,
    env: str,
    deploy: DeployPlan,
    name: str,
    input_uri: str,
    output_uri: str,
    extra_tags: list[dict[str, str]],
) -> dict[str, Any]:
    """CreateTransformJob `name`: `deploy`'s model over every object under `input_uri`, the
    joined lines to `output_uri`, on the environment's batch instances (no AWS calls)."""
    settings = cfg.batch.environment(env)
    tags = [
        {"Key": "project", "Value": cfg.project.slug},
        {"Key": "environment", "Value": env},
        {"Key": "model-package-arn", "Value": deploy.package.arn},
        *extra_tags,
    ]
    return {
        "TransformJobName": name,
        "ModelName": deploy.model_name,
        "BatchStrategy": BATCH_STRATEGY,
        "MaxPayloadInMB": settings.max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": CONTENT_TYPE,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": output_uri,
            "Accept": ACCEPT,
            "AssembleWith": "Line",
            "KmsKeyId": cfg.environment(env).capture_key_arn,
        },
        "TransformResources": {
            "InstanceType": settings.instance_type,
            "InstanceCount": settings.instance_count,
        },
        "DataProcessing": {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
        "Tags": tags,
    }


def require_model(clients: Clients, deploy: DeployPlan, env: str) -> None:
    """The job's model must exist and be the one the environment's deploy created for this
    version (same role, containers, image, data, package and environment: its name alone would not
    tell a model someone else created under it); a batch run creates no model, so it needs no
    CreateModel or registry write. DeployError else."""
    name, arn = deploy.model_name, deploy.package.arn
    try:
        found = clients.sagemaker.describe_model(ModelName=name)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        raise DeployError(
            f"model {name} does not exist; a {env} batch runs the model the {env} deploy "
            f"created for {arn}: deploy that version to {env} first (a batch run creates no model)"
        ) from None
    refuse_other_model(found, deploy, env)


def describe_job(clients: Clients, name: str) -> dict[str, Any] | None:
    try:
        return clients.sagemaker.describe_transform_job(TransformJobName=name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def wait_for(clients: Clients, name: str, timeout: float, poll_seconds: float) -> dict[str, Any]:
    """Describe the job until it leaves InProgress/Stopping; DeployError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = clients.sagemaker.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] not in RUNNING:
            return job
        if time.monotonic() >= deadline:
            raise DeployError(
                f"transform job {name} is still {job['TransformJobStatus']} after {timeout:g} s"
            )
        time.sleep(poll_seconds)


def ensure_job(
    clients: Clients, plan: BatchPlan, wait: bool, timeout: float, poll_seconds: float
) -> tuple[dict[str, Any], bool]:
    """Create the job unless it exists; with `wait`, wait until it ends. (description, created)."""
    job = describe_job(clients, plan.job_name)
    created = False
    if job is None:
        log(f"creating transform job {plan.job_name}: {plan.model_name} over {plan.input_uri}")
        clients.sagemaker.create_transform_job(**plan.request)
        created = True
        job = {"TransformJobName": plan.job_name, "TransformJobStatus": "InProgress"}
    elif job["TransformJobStatus"] in RUNNING:
        log(f"transform job {plan.job_name} is already {job['TransformJobStatus']}; attaching")
    else:
        log(f"transform job {plan.job_name} already ended {job['TransformJobStatus']}")
    if wait and job["TransformJobStatus"] in RUNNING:
        job = wait_for(clients, plan.job_name, timeout, poll_seconds)
    if job["TransformJobStatus"] in ("Failed", "Stopped"):
        raise DeployError(
            f"transform job {plan.job_name} {job['TransformJobStatus']}: "
            f"{job.get('FailureReason', 'no reason given')}; fix the cause and run again with "
            f"--attempt {plan.attempt + 1} (a new job; this one stays as it is)"
        )
    return job, created
