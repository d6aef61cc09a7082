"""`python -m <package> config [FILE]`: validate the config and print every derived name as JSON.

(`python -m <package>.config [FILE]` and `make config` run the same.) FILE defaults to
$MLOPS_CONFIG, else config/project.json. Exit status (cli_support): 0 when the config is valid,
2 with one `error: ...` line naming the key path, the value and what is expected when it is not.
A valid config that cannot run the pipeline yet (a four-account project without the artifact
key's ARN) gets one `warning:` line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..cli_support import EXIT_OK, EXIT_USAGE, Parser, fail, prog
from .fields import ConfigError
from .loading import load_config
from .parsed import describe


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog=prog("config"), description=__doc__.splitlines()[0])
    parser.add_argument(
        "file", nargs="?", type=Path, help="config file (default: $MLOPS_CONFIG or config/project.json)"
    )
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        return fail(exc, EXIT_USAGE)
    print(json.dumps(describe(cfg), indent=2))
    if cfg.account_id("data_science") != cfg.account_id("shared_services") and not cfg.kms_key_arn:
        # Valid (bootstrap runs before the key exists), but the pipeline refuses to run without it.
        print(
            "warning: registry.kms_key_arn is empty; the pipeline's jobs write across accounts and "
            "need the artifact key's ARN (bootstrap prints it as artifact_kms_key_arn, the "
            "shared-services stack's ArtifactKeyArn output): set it before the first pipeline run",
            file=sys.stderr,
        )
    return EXIT_OK
