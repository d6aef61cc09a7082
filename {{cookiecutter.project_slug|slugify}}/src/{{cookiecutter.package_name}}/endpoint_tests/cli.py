"""`python -m <package>.endpoint_tests --url http://127.0.0.1:PORT`: the suite against a local server.

SageMaker endpoints are tested through `<package> endpoint-test` (deploy.cli), which assumes the
workload account's role first. Options and exit status follow cli_support: `--samples PATH` (a
labelled CSV; default the rehearsal's held-out test split, build/local/data/test/test.csv),
`--rows N`, `--report PATH` (the JSON report); 0 every check passed, 1 a check failed (or the
report could not be written), 2 bad arguments, config or samples.

A segmented model (`model.segments`) is served by a local multi-model server
(`python -m <package>.local.server --target <segment>=<its model.tar.gz> ...`): the suite then
runs once per segment with TargetModel = the segment value, on the samples of
`<folder of --samples>/<segment>/<its file name>` (segments.py), and passes only when every
segment passed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .. import cli_support
from ..config import REPO_ROOT, load_config
from . import segments
from .invokers import HttpInvoker
from .report import format_text, write_outputs
from .samples import load_samples
from .suite import check_thresholds, run_suite

DEFAULT_ROWS = 50
# The held-out test split of the last local rehearsal (`make local`).
DEFAULT_SAMPLES = REPO_ROOT / "build" / "local" / "data" / "test" / "test.csv"


def parser() -> argparse.ArgumentParser:
    parser = cli_support.Parser(
        prog=cli_support.prog(f"python -m {__package__}"),
        description="Endpoint tests against a local model server.",
    )
    parser.add_argument("--url", required=True, help="local server, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--env",
        default="local",
        help="thresholds of local, qa or prod (environments.<env>.tests; default local)",
    )
    cli_support.add_samples(parser, DEFAULT_SAMPLES, DEFAULT_ROWS)
    parser.add_argument(
        "--summary", type=Path, metavar="PATH", help="append markdown tables here (e.g. $GITHUB_STEP_SUMMARY)"
    )
    parser.add_argument("--report", type=Path, metavar="PATH", help="write the report JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite against a local server: exit 0 when every check passed, 1 when one failed,
    2 on bad arguments, config or samples."""
    args = parser().parse_args(None if argv is None else list(argv))
    try:
        cfg = load_config()
        thresholds = check_thresholds(cfg.tests_for(args.env))
        invoker = HttpInvoker(args.url)
        values = cfg.model.segments.values if cfg.model.segments.enabled else ()
        if values:
            paths = segments.segment_samples(args.samples, values)
            by_segment = segments.load_segment_samples(paths, args.rows, cfg.model.target_column)
        elif not Path(args.samples).is_file():
            hint = " (run `make local` first, or pass --samples)" if args.samples == DEFAULT_SAMPLES else ""
            raise ValueError(f"samples file {args.samples} not found{hint}")
        else:
            samples = load_samples(args.samples, args.rows, cfg.model.target_column)
    except (OSError, ValueError) as exc:  # config.ConfigError is a ValueError
        return cli_support.fail(f"endpoint tests: {exc}", cli_support.EXIT_USAGE)
    if values:
        report = segments.run_segments(
            lambda target: HttpInvoker(args.url, target_model=target),
            {segment: segment for segment in values},
            by_segment,
            thresholds,
            args.url,
        )
    else:
        report = run_suite(invoker, samples, thresholds)
    print(format_text(report))
    try:
        write_outputs(report, args.summary, args.report)
    except OSError as exc:
        return cli_support.fail(f"endpoint tests: cannot write the report: {exc}")
    return cli_support.EXIT_OK if report.passed else cli_support.EXIT_FAILED
