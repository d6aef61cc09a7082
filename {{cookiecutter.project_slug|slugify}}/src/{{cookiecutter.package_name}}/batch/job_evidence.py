"""What a transform test believes of a job and its output only after checking it (batch-only
projects, `transform_test.run_job`).

Every test job of an environment runs as its endpoint role and the deploy role may create
`-t` jobs, so a job or an output under the test's names may be someone else's:

- `job_problem`: a job already under the test's name must be exactly the test's request (model,
  input and its type, output path, data processing, no container environment);
- `model_problem`: once the job ended, the model under the deploy's name must still be the
  planned one and older than the job (one re-created while it ran is not what it ran);
- `job_output`: the output is read only as the one object version written while the job ran.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..deploy.aws import Clients, DeployError, is_not_found
from ..deploy.endpoint import DeployPlan
from ..deploy.model_check import refuse_other_model


def model_problem(clients: Clients, deploy: DeployPlan, job: dict[str, Any]) -> str:
    """Why the model the job ran may not be the planned one ("" when it is)."""
    try:
        found = clients.sagemaker.describe_model(ModelName=deploy.model_name)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return f"model {deploy.model_name} was deleted while its test ran"
    try:
        refuse_other_model(found, deploy, deploy.settings.env)
    except DeployError as exc:
        return str(exc)
    created, started = found.get("CreationTime"), job.get("CreationTime")
    if created and started and created > started:
        return (
            f"model {deploy.model_name} was created at {created}, after the job ({started}): it is "
            "not the model the job ran"
        )
    return ""


# S3 keeps LastModified to the second; a job's times are finer.
CLOCK_SLACK = timedelta(seconds=1)


def job_output(clients: Clients, bucket: str, key: str, job: dict[str, Any]) -> tuple[str | None, str]:
    """The output object the job wrote: (its text, "") or (None, "") when there is none. The
    capture bucket keeps versions, so any other writer shows: (None, why) unless the key has
    exactly one version, no deletion, written while the job ran (its start to its end). That
    version, and no later one, is read. A version "null" was written while versioning was off or
    suspended, where a write replaces it in place: one version then proves nothing."""
    versions: list[dict[str, Any]] = []
    deleted: list[dict[str, Any]] = []
    # Every page up to the first key after this one (keys starting with it sort after it).
    for page in clients("s3").get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        versions += [v for v in page.get("Versions", []) if v["Key"] == key]
        deleted += [m for m in page.get("DeleteMarkers", []) if m["Key"] == key]
        if any(entry["Key"] != key for entry in entries):
            break
    if not versions and not deleted:
        return None, ""
    if len(versions) != 1 or deleted:
        return None, (
            f"{key} was written {len(versions)} time(s) and deleted {len(deleted)} time(s); expected "
            "the one object its job wrote (someone else wrote or replaced it)"
        )
    if versions[0].get("VersionId") in (None, "null"):
        return None, (
            f"{key} has no version ID (written while the bucket's versioning was off or suspended, "
            "where a later write replaces it unseen); expected versioning Enabled on the capture bucket"
        )
    written = versions[0]["LastModified"]
    start = job.get("TransformStartTime") or job.get("CreationTime")
    end = job.get("TransformEndTime")
    if (start and written < start - CLOCK_SLACK) or (end and written > end + CLOCK_SLACK):
        return None, f"{key} was written at {written}, outside the job's run ({start} to {end or 'now'})"
    body = clients("s3").get_object(Bucket=bucket, Key=key, VersionId=versions[0]["VersionId"])["Body"]
    return body.read().decode("utf-8"), ""


def job_problem(job: dict[str, Any], request: dict[str, Any]) -> str:
    """Why an existing job under the test's name is not this test ("" when it is): another model,
    input, output path, processing or container environment. The name alone would not tell, and
    the test reads its own output prefix, which any job running as the endpoint role can write: a
    job that wrote elsewhere, or ran otherwise, is not the job whose output it would read."""
    name = request["TransformJobName"]
    if job.get("ModelName") != request["ModelName"]:
        return f"{name} runs model {job.get('ModelName')}, not {request['ModelName']}"
    source = job.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {})
    wanted = request["TransformInput"]["DataSource"]["S3DataSource"]
    if (source.get("S3DataType"), source.get("S3Uri")) != (wanted["S3DataType"], wanted["S3Uri"]):
        return (
            f"{name} reads {source.get('S3Uri')} ({source.get('S3DataType')}), "
            f"not {wanted['S3Uri']} ({wanted['S3DataType']})"
        )
    output = job.get("TransformOutput", {}).get("S3OutputPath")
    if output != request["TransformOutput"]["S3OutputPath"]:
        return f"{name} writes {output}, not {request['TransformOutput']['S3OutputPath']}"
    if job.get("Environment"):
        return f"{name} sets Environment {', '.join(sorted(job['Environment']))}; the test sets none"
    if job.get("DataProcessing") != request["DataProcessing"]:
        return f"{name} has DataProcessing {job.get('DataProcessing')}, not {request['DataProcessing']}"
    # The rest of the request (strategy, payload size, split, accept, assembly, instances): each
    # value sent must be the one described (SageMaker may describe more, never other values).
    others = [key for key in request if key not in ("TransformJobName", "Tags")]
    found = [d for key in others for d in differences(request[key], job.get(key), key)]
    return f"{name} is not the test's request: {'; '.join(found[:3])}" if found else ""


# How SageMaker describes the output key (the alias ARN sent, or the key it resolves to) is not
# documented; the key decides how the output is encrypted, not what the job answers.
UNCOMPARED = frozenset({"TransformOutput.KmsKeyId"})


def differences(want: Any, have: Any, where: str) -> list[str]:
    """Where `have` (a described value) differs from `want` (what was sent): every key sent must
    be there with the same value; keys only `have` holds, and UNCOMPARED paths, are not compared."""
    if where in UNCOMPARED:
        return []
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{where} is {have!r}, not {want!r}"]
        return [d for key, value in want.items() for d in differences(value, have.get(key), f"{where}.{key}")]
    return [] if want == have else [f"{where} is {have!r}, not {want!r}"]
