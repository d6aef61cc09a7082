"""Upload the training data to the pipeline's input URI: `python -m <package>.datasets upload`.

    python -m <package>.datasets upload [PATH] [--dry-run] [--to S3_URI] [--profile NAME]

PATH (default `data/sample.csv`) is a file or a folder; a folder uploads every file below it
with its relative path, skipping hidden files and folders (names starting with "."). The
destination is `pipeline.input_data_uri` of config/project.json (by default
`s3://<artifact bucket>/datasets/sample.csv`, see config.py), or `--to`:
- a URI ending in "/" is a prefix: a file goes below it under its own name, a folder's files
  under their relative paths (the preprocess step reads the first `*.csv` directly below it);
- any other URI names one object and takes exactly one file (a folder is refused).

On the artifact bucket every object is written with the shared artifact KMS key
(`ServerSideEncryption=aws:kms`, `SSEKMSKeyId` = `Config.artifact_key()`) and
`ExpectedBucketOwner` = the shared-services account, so data never lands in a look-alike
bucket of another account. Another bucket (`--to`) keeps its own default encryption.

Before it writes, it checks the credentials (STS GetCallerIdentity) and the bucket
(HeadBucket). Each object carries its SHA-256 as metadata `sha256` (and as the request's
ChecksumSHA256, which S3 verifies); a file whose object already holds the same digest is not
uploaded again, so a repeat run makes no PutObject call. Run it with credentials that may
write to the bucket: the shared-services account's, or the data-science build role's.

Output (stdout): one line per file, `<local file> -> s3://<bucket>/<key> (<n> bytes, sha256
<hex>)`, followed on a real run by `uploaded` or `unchanged` and the object's VersionId and
ETag, then `input_data_uri=<URI>`: the URI the pipeline reads. `--dry-run` prints the file
lines only and makes no AWS call at all (no session, no client).

It exits 0 when every file is uploaded or already there; 1 when an AWS call fails (missing
bucket, credentials, access), with one `error: ...` line naming the call and its error code;
2 for a usage or config error (bad path, empty folder, a folder for a single-object URI, an
invalid URI, an unknown profile, a bad config/project.json). Every error is one line on
stderr starting with `error: `.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

from . import config
from .config import Config

DEFAULT_PATH = "data/sample.csv"
# PutObject takes at most 5 GiB in one request
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
MAX_OBJECT_BYTES = 5 * 1024**3
CHUNK_BYTES = 1024 * 1024
NOT_FOUND = ("404", "NoSuchBucket", "NoSuchKey", "NotFound")


class UsageError(Exception):
    """Bad arguments, path or destination: exit 2, nothing was called."""


class UploadError(Exception):
    """An AWS call failed: exit 1 with this one line."""


@dataclass(frozen=True)
class Destination:
    """Where the files go. `key` is one object's key, or a prefix when it ends in "/"."""

    bucket: str
    key: str
    # Set for the artifact bucket only: its owner (shared services) and the artifact key.
    owner: str | None = None
    kms_key: str | None = None

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def owner_args(self) -> dict[str, str]:
        return {"ExpectedBucketOwner": self.owner} if self.owner else {}


@dataclass(frozen=True)
class PlannedFile:
    """One local file and the object it becomes."""

    path: Path
    key: str
    size: int
    sha256: str

    def line(self, bucket: str) -> str:
        return f"{self.path} -> s3://{bucket}/{self.key} ({self.size} bytes, sha256 {self.sha256})"


def destination(cfg: Config, uri: str, source: str) -> Destination:
    """Parse the target URI; `source` names where it came from for the error line."""
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or not key or parsed.query or parsed.fragment:
        raise UsageError(
            f"{source} is {uri!r}; expected s3://bucket/key (one object) or s3://bucket/prefix/ (a folder)"
        )
    if parsed.netloc != cfg.names.artifact_bucket:
        return Destination(parsed.netloc, key)
    return Destination(
        parsed.netloc, key, owner=cfg.account_id("shared_services"), kms_key=cfg.artifact_key()
    )


def local_files(path: Path) -> tuple[list[tuple[Path, str]], int]:
    """(file, relative POSIX path) pairs in a stable order, and how many hidden files were skipped.

    A file stands for itself (under its own name); a folder for every non-hidden file below it.
    """
    if path.is_file():
        return [(path, path.name)], 0
    if not path.exists():
        raise UsageError(f"{path} does not exist; give a data file or folder (default {DEFAULT_PATH})")
    if not path.is_dir():
        raise UsageError(f"{path} is neither a file nor a folder")
    found: list[tuple[Path, str]] = []
    hidden = 0
    for folder, dirs, files in os.walk(path):
        hidden += sum(1 for d in dirs if d.startswith("."))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file = Path(folder) / name
            if name.startswith("."):
                hidden += 1
            elif file.is_file():
                found.append((file, file.relative_to(path).as_posix()))
    if not found:
        raise UsageError(f"{path} holds no files to upload (hidden files and folders are skipped)")
    return found, hidden


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def plan(path: Path, dest: Destination) -> tuple[list[PlannedFile], int]:
    """The objects to write for `path` at `dest`, and the number of hidden files skipped.

    It raises UsageError for a missing path, an empty folder, a folder for a single-object
    destination and a file too large for one PutObject.
    """
    files, hidden = local_files(path)
    if not dest.is_prefix and path.is_dir():
        parent = dest.key.rpartition("/")[0] or dest.key
        raise UsageError(
            f"{path} is a folder but {dest.uri} names one object; give one file, or a prefix ending "
            f"in / (for example s3://{dest.bucket}/{parent}/ as --to and pipeline.input_data_uri)"
        )
    planned = []
    for file, relative in files:
        size = file.stat().st_size
        if size > MAX_OBJECT_BYTES:
            raise UsageError(f"{file} is {size} bytes; one upload takes at most 5 GiB: split the file")
        key = dest.key + relative if dest.is_prefix else dest.key
        planned.append(PlannedFile(file, key, size, sha256_of(file)))
    return planned, hidden


# --- AWS calls: each failure becomes one line naming the call, the code and what to do ---------


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


# --- command line ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (exit 2)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog=f"python -m {__package__}.datasets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    upload = sub.add_parser("upload", help="upload a data file or folder to the pipeline's input URI")
    upload.add_argument(
        "path", nargs="?", default=DEFAULT_PATH, help=f"file or folder (default {DEFAULT_PATH})"
    )
    upload.add_argument("--dry-run", action="store_true", help="print the plan; make no AWS call")
    upload.add_argument("--to", metavar="S3_URI", help="destination (default: pipeline.input_data_uri)")
    upload.add_argument("--profile", metavar="NAME", help="AWS profile (default: the usual credential chain)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, session: Any = None) -> int:
    """Run `upload`; see the module docstring for output and exit codes.

    `session` lets callers (tests) supply the boto3 Session; by default one is created from
    --profile and the config's region, after the plan is made and never on a dry run.
    """
    out, err = sys.stdout, sys.stderr
    args = parse_args(argv)
    try:
        cfg = config.load_config()
        source = "--to" if args.to else "pipeline.input_data_uri"
        dest = destination(cfg, args.to or cfg.pipeline.input_data_uri, source)
        files, hidden = plan(Path(args.path), dest)
    except (config.ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    if args.dry_run:
        for item in files:
            print(item.line(dest.bucket), file=out)
        total = sum(item.size for item in files)
        skipped = f", skipped {hidden} hidden files/folders" if hidden else ""
        print(f"dry run: {len(files)} file(s), {total} bytes{skipped}; no AWS call made", file=err)
        return 0
    try:
        session = session or _session(args.profile, cfg.region)
    except UsageError as exc:
        print(f"error: {exc}", file=err)
        return 2
    try:
        s3 = check_access(session, dest, cfg.region)
        for item in files:
            print(f"{item.line(dest.bucket)} {upload_one(s3, dest, item)}", file=out, flush=True)
    except UploadError as exc:
        print(f"error: {exc}", file=err)
        return 1
    if hidden:
        print(f"note: skipped {hidden} hidden files/folders below {args.path}", file=err)
    if dest.uri != cfg.pipeline.input_data_uri:
        print(
            f"note: {dest.uri} is not pipeline.input_data_uri ({cfg.pipeline.input_data_uri}); "
            "set it in config/project.json or pass --input-data-uri to the pipeline",
            file=err,
        )
    print(f"input_data_uri={dest.uri}", file=out)
    return 0


def _session(profile: str | None, region: str) -> Any:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {profile!r} not found (--profile); see aws configure list-profiles"
        ) from exc


if __name__ == "__main__":
    raise SystemExit(main())
