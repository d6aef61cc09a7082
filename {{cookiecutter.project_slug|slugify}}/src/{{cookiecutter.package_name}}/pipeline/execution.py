"""A pipeline on AWS: its input checked, its definition stored, an execution started and watched.

boto3 only (no SageMaker SDK): `start` and the watch never load the SDK.

- `check_artifact_bucket` and `dataset_version` run before anything is upserted or started, so a
  run never starts against a missing bucket or missing input data;
- `upsert_pipeline` stores a definition and returns the PipelineVersionId that holds it;
- `start_execution` starts exactly that version (PipelineVersionId), with a ClientRequestToken
  when the run has one, and passes InputDataUri and InputDataVersion;
- `watch_execution` prints one line each time a step changes status and returns the last
  execution status; `follow_execution` turns that into an exit status.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from ..config import Config

TERMINAL = ("Succeeded", "Failed", "Stopped")
DEFAULT_TIMEOUT = 4 * 3600
DEFAULT_POLL_INTERVAL = 30.0


class CliError(Exception):
    """A problem the user can fix; main() prints it as one `error:` line and exits 1."""


def s3_parts(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise CliError(f"input data URI {uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def dataset_version(s3_client: Any, uri: str) -> str:
    """A version label for the input data: `version:<S3 version ID>`, `etag:<ETag>` for an
    unversioned object, or `prefix-sha256:<digest of keys and ETags>` for a prefix.

    It raises CliError when nothing exists at the URI, so a run never starts on missing data.
    """
    bucket, key = s3_parts(uri)
    if key and not key.endswith("/"):
        try:
            head = s3_client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise CliError(f"cannot read input data {uri}: {exc}") from exc
        else:
            version = head.get("VersionId")
            if version and version != "null":
                return f"version:{version}"
            return f"etag:{head['ETag'].strip(chr(34))}"
    digest = hashlib.sha256()
    found = 0
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for obj in page.get("Contents", []):
            digest.update(f"{obj['Key']} {obj['ETag']}\n".encode())
            found += 1
    if not found:
        raise CliError(f"input data {uri} not found; upload it (make upload-data) or pass another")
    return f"prefix-sha256:{digest.hexdigest()[:16]}"


def check_artifact_bucket(s3_client: Any, cfg: Config) -> None:
    """Fail early, with one line, when the shared artifact bucket is missing or owned by another
    account (otherwise the SDK would try to create a bucket of that name in the caller's account)."""
    bucket = cfg.names.artifact_bucket
    owner = cfg.account_id("shared_services")
    try:
        s3_client.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        raise CliError(
            f"artifact bucket {bucket} is not reachable ({code}); expected it in account {owner}: "
            "deploy the bootstrap infrastructure or check the credentials"
        ) from exc


def _already_exists(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    message = str(error.get("Message", ""))
    return error.get("Code") in ("ValidationException", "ResourceInUse", "ConflictException") and (
        "already exist" in message or "must be unique" in message
    )


def upsert_pipeline(
    client: Any, name: str, definition: str, role_arn: str, description: str
) -> tuple[str, int]:
    """Store `definition` as the newest version of pipeline `name`; return (pipeline ARN, the
    PipelineVersionId of that version).

    Always CreatePipeline (an "already exists" refusal is expected and ignored), then
    UpdatePipeline with the same definition. UpdatePipeline is the one call that answers with the
    version ID of the definition it stored: CreatePipeline returns only the ARN, DescribePipeline
    names no version ID, and ListPipelineVersions could return a version another job stored in
    between. A new pipeline therefore gets two identical versions, and the second one is started.
    The SageMaker SDK's `Pipeline.upsert` is not used: it returns CreatePipeline's answer for a
    new pipeline and builds (and uploads) the definition again for the update.
    """
    request = {
        "PipelineName": name,
        "PipelineDefinition": definition,
        "RoleArn": role_arn,
        "PipelineDescription": description,
    }
    try:
        client.create_pipeline(**request)
    except ClientError as exc:
        if not _already_exists(exc):
            raise
    response = client.update_pipeline(**request)
    if response.get("PipelineVersionId") is None:
        raise CliError(f"UpdatePipeline of {name} returned no PipelineVersionId; cannot pin the execution")
    return response["PipelineArn"], int(response["PipelineVersionId"])


def start_execution(
    client: Any,
    name: str,
    version_id: int,
    token: str | None,
    data_uri: str,
    data_version: str,
    note: str,
) -> str:
    """Start version `version_id` of pipeline `name` on `data_uri` and return the execution ARN.

    `token` is the ClientRequestToken (`names.start_token`): the same token starts one execution
    only. Without one (no CI run), botocore sends a random token and every call starts a new one.
    """
    request: dict[str, Any] = {
        "PipelineName": name,
        "PipelineVersionId": version_id,
        "PipelineParameters": [
            {"Name": "InputDataUri", "Value": data_uri},
            {"Name": "InputDataVersion", "Value": data_version},
        ],
        "PipelineExecutionDescription": note,
    }
    if token:
        request["ClientRequestToken"] = token
    return client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def step_detail(step: dict[str, Any]) -> str:
    """The most useful fact about a step for a progress line: job ARN, gate outcome or error."""
    meta = step.get("Metadata", {})
    if step.get("FailureReason"):
        return step["FailureReason"]
    if step.get("CacheHitResult", {}).get("SourcePipelineExecutionArn"):
        return f"cached from {step['CacheHitResult']['SourcePipelineExecutionArn']}"
    for key in ("TrainingJob", "ProcessingJob", "RegisterModel", "Model"):
        if meta.get(key, {}).get("Arn"):
            return meta[key]["Arn"]
    if "Condition" in meta:
        return f"outcome: {meta['Condition'].get('Outcome')}"
    if meta.get("Fail", {}).get("ErrorMessage"):
        return meta["Fail"]["ErrorMessage"]
    return ""


def list_steps(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    paginator = client.get_paginator("list_pipeline_execution_steps")
    for page in paginator.paginate(PipelineExecutionArn=execution_arn, SortOrder="Ascending"):
        steps.extend(page.get("PipelineExecutionSteps", []))
    return steps


def watch_execution(
    client: Any,
    execution_arn: str,
    *,
    timeout: float,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll an execution, print a line whenever a step changes status, and return its last status.

    The status is terminal (Succeeded, Failed, Stopped; for the last two the execution's and the
    failed steps' reasons are printed too) unless `timeout` seconds passed first: then it is the
    status the execution still has (it keeps running).
    """
    out = out or sys.stdout
    started = clock()
    seen: dict[str, str] = {}
    while True:
        elapsed = clock() - started
        for step in list_steps(client, execution_arn):
            name, status = step["StepName"], step["StepStatus"]
            if seen.get(name) != status:
                seen[name] = status
                print(
                    f"[{elapsed:6.0f}s] {name:<22} {status:<10} {step_detail(step)}".rstrip(),
                    file=out,
                    flush=True,
                )
        execution = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = execution["PipelineExecutionStatus"]
        if status == "Succeeded":
            print(f"pipeline: execution Succeeded after {elapsed:.0f}s", file=out)
            return status
        if status in TERMINAL:
            print(f"pipeline: execution {status} after {elapsed:.0f}s: {execution_arn}", file=out)
            if execution.get("FailureReason"):
                print(f"  reason: {execution['FailureReason']}", file=out)
            for step in list_steps(client, execution_arn):
                if step["StepStatus"] in ("Failed", "Stopped") and step.get("FailureReason"):
                    print(f"  {step['StepName']}: {step['FailureReason']}", file=out)
            return status
        if elapsed >= timeout:
            print(
                f"pipeline: still {status} after {elapsed:.0f}s (--timeout {timeout:.0f}); "
                f"the execution keeps running: {execution_arn}",
                file=out,
            )
            return status
        sleep(poll_interval)


def follow_execution(client: Any, execution_arn: str, **kwargs: Any) -> int:
    """`watch_execution` as an exit status: 0 when the execution succeeded, 1 when it failed, was
    stopped or is still running after the timeout."""
    return 0 if watch_execution(client, execution_arn, **kwargs) == "Succeeded" else 1
