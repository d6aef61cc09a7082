"""Upload the training data to the pipeline's input URI: `python -m <package> data upload`.

    python -m <package> data upload [PATH] [--dry-run] [--to S3_URI] [--profile NAME] [--github-output]

(`python -m <package>.datasets upload ...` and `make upload-data` run the same.)

PATH (default `data/sample.csv`) is a file or a folder; a folder uploads every file below it
with its relative path, skipping hidden files and folders (names starting with "."). The
destination is `pipeline.input_data_uri` of config/project.json (by default
`s3://<artifact bucket>/datasets/sample.csv`, see `config.derive_names`), or `--to`:
- a URI ending in "/" is a prefix: a file goes below it under its own name, a folder's files
  under their relative paths (the preprocess step reads every CSV and Parquet file below it);
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
ETag, then `input_data_uri=<URI>`: the URI the pipeline reads (`--github-output` also appends
that line to $GITHUB_OUTPUT). `--dry-run` prints the file lines only and makes no AWS call at
all (no session, no client).

Exit status (cli_support): 0 when every file is uploaded or already there; 1 when an AWS call
fails (missing bucket, credentials, access), with one `error: ...` line naming the call and its
error code; 2 for a usage or config error (bad path, empty folder, a folder for a
single-object URI, an invalid URI, an unknown profile, --github-output without
$GITHUB_OUTPUT, a bad config/project.json). Every error is one line on stderr starting with
`error: `.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import config
from ..cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    add_github_output,
    emit,
    fail,
    prog,
)
from .plan import DEFAULT_PATH, destination, plan
from .upload import UploadError, check_access, upload_one


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = Parser(prog=prog("data"), description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    upload = sub.add_parser("upload", help="upload a data file or folder to the pipeline's input URI")
    upload.add_argument(
        "path", nargs="?", default=DEFAULT_PATH, help=f"file or folder (default {DEFAULT_PATH})"
    )
    upload.add_argument("--dry-run", action="store_true", help="print the plan; make no AWS call")
    upload.add_argument("--to", metavar="S3_URI", help="destination (default: pipeline.input_data_uri)")
    upload.add_argument("--profile", metavar="NAME", help="AWS profile (default: the usual credential chain)")
    add_github_output(upload)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, session: Any = None) -> int:
    """Run `upload`; see the module docstring for output and exit status.

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
        if args.github_output and not args.dry_run and not os.environ.get("GITHUB_OUTPUT"):
            raise UsageError("--github-output given but GITHUB_OUTPUT is not set")
    except (config.ConfigError, UsageError) as exc:
        return fail(exc, EXIT_USAGE)
    if args.dry_run:
        for item in files:
            print(item.line(dest.bucket), file=out)
        total = sum(item.size for item in files)
        skipped = f", skipped {hidden} hidden files/folders" if hidden else ""
        print(f"dry run: {len(files)} file(s), {total} bytes{skipped}; no AWS call made", file=err)
        return EXIT_OK
    try:
        session = session or _session(args.profile, cfg.region)
    except UsageError as exc:
        return fail(exc, EXIT_USAGE)
    try:
        s3 = check_access(session, dest, cfg.region)
        for item in files:
            print(f"{item.line(dest.bucket)} {upload_one(s3, dest, item)}", file=out, flush=True)
    except UploadError as exc:
        return fail(exc, EXIT_FAILED)
    if hidden:
        print(f"note: skipped {hidden} hidden files/folders below {args.path}", file=err)
    if dest.uri != cfg.pipeline.input_data_uri:
        print(
            f"note: {dest.uri} is not pipeline.input_data_uri ({cfg.pipeline.input_data_uri}); "
            "set it in config/project.json or pass --input-data-uri to the pipeline",
            file=err,
        )
    emit({"input_data_uri": dest.uri}, args.github_output)
    return EXIT_OK


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
