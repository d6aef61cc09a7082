"""Training data to the pipeline's input URI: plan (`plan`), AWS calls (`upload`), command line (`cli`).

`main` is the `data` command (`python -m <package> data upload ...`, `python -m <package>.datasets
upload ...`); its docstring in `cli.py` describes output and exit status.
"""

from ..cli_support import UsageError
from .cli import main, parse_args
from .plan import (
    CHUNK_BYTES,
    DEFAULT_PATH,
    MAX_OBJECT_BYTES,
    Destination,
    PlannedFile,
    destination,
    local_files,
    plan,
    sha256_of,
)
from .upload import NOT_FOUND, UploadError, check_access, upload_one

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_PATH",
    "MAX_OBJECT_BYTES",
    "NOT_FOUND",
    "Destination",
    "PlannedFile",
    "UploadError",
    "UsageError",
    "check_access",
    "destination",
    "local_files",
    "main",
    "parse_args",
    "plan",
    "sha256_of",
    "upload_one",
]
