"""What an upload writes: the destination, and one planned object per local file.

No AWS call here: the plan is what `--dry-run` prints and what the upload then writes.
A bad path, an empty folder, a folder for a single-object URI or an invalid URI is a
UsageError (exit 2).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..cli_support import UsageError
from ..config import Config

DEFAULT_PATH = "data/sample.csv"
# PutObject takes at most 5 GiB in one request
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
MAX_OBJECT_BYTES = 5 * 1024**3
CHUNK_BYTES = 1024 * 1024


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
        parsed.netloc,
        key,
        owner=cfg.account_id("shared_services"),
        # The key ARN when configured: an alias resolves in the uploader's account.
        kms_key=cfg.kms_key_arn or cfg.artifact_key(),
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
