"""The upload's AWS calls: credentials and bucket checked first, then one PutObject per changed file.

Each failure becomes one UploadError line naming the call, its error code and what to do (exit 1).
botocore is imported inside the functions, so planning and `--dry-run` load no AWS library.
"""

from __future__ import annotations

import base64
from typing import Any

from .plan import Destination, PlannedFile

NOT_FOUND = ("404", "NoSuchBucket", "NoSuchKey", "NotFound")


class UploadError(Exception):
    """An AWS call failed: exit 1 with this one line."""


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "unknown")
    return type(exc).__name__


def _failure(call: str, exc: Exception, advice: str) -> UploadError:
    return UploadError(f"{call} failed ({_code(exc)}): {advice}")


def check_access(session: Any, dest: Destination, region: str) -> Any:
    """Check the credentials and the bucket before anything is written; return the S3 client.

    It raises UploadError when the credentials do not work or the bucket is missing, not
    reachable with them, or owned by an account other than the expected one.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        caller = session.client("sts", region_name=region).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise _failure(
            "sts GetCallerIdentity",
            exc,
            f"no working AWS credentials to write to bucket {dest.bucket}; "
            "check the credentials (--profile NAME or AWS_PROFILE)",
        ) from exc
    s3 = session.client("s3", region_name=region)
    try:
        s3.head_bucket(Bucket=dest.bucket, **dest.owner_args())
    except (BotoCoreError, ClientError) as exc:
        if _code(exc) in NOT_FOUND:
            todo = (
                "run make bootstrap (docs/infrastructure.md) to create it"
                if dest.owner
                else "create it or pass another --to"
            )
            advice = f"bucket {dest.bucket} does not exist; {todo}"
        else:
            owner = f" owned by account {dest.owner}" if dest.owner else ""
            advice = (
                f"bucket {dest.bucket}{owner} is not reachable with the credentials of "
                f"{caller.get('Arn', 'unknown')}; check the credentials (shared-services account or the "
                "data-science build role) or run make bootstrap"
            )
        raise _failure("s3 HeadBucket", exc, advice) from exc
    return s3


def _version(response: dict[str, Any]) -> str:
    version = response.get("VersionId")
    etag = str(response.get("ETag", "")).strip('"')
    parts = [f"VersionId={version}"] if version and version != "null" else []
    return " ".join([*parts, f"ETag={etag}"])


def upload_one(s3: Any, dest: Destination, item: PlannedFile) -> str:
    """Write one object unless it already holds the same SHA-256; return `uploaded ...` or
    `unchanged ...` with its VersionId and ETag. It raises UploadError when a call fails."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{dest.bucket}/{item.key}"
    try:
        head = s3.head_object(Bucket=dest.bucket, Key=item.key, **dest.owner_args())
    except (BotoCoreError, ClientError) as exc:
        if _code(exc) not in NOT_FOUND:
            raise _failure(f"s3 HeadObject {where}", exc, "check read access to the bucket") from exc
    else:
        if head.get("Metadata", {}).get("sha256") == item.sha256:
            return f"unchanged {_version(head)}"
    extra: dict[str, str] = dict(dest.owner_args())
    if dest.kms_key:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=dest.kms_key)
    checksum = base64.b64encode(bytes.fromhex(item.sha256)).decode()
    try:
        with item.path.open("rb") as body:
            response = s3.put_object(
                Bucket=dest.bucket,
                Key=item.key,
                Body=body,
                ContentLength=item.size,
                ChecksumSHA256=checksum,
                Metadata={"sha256": item.sha256},
                **extra,
            )
    except (BotoCoreError, ClientError) as exc:
        raise _failure(
            f"s3 PutObject {where}",
            exc,
            "check write access to the bucket and use of its KMS key (docs/infrastructure.md)",
        ) from exc
    return f"uploaded {_version(response)}"
