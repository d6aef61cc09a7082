"""The local rehearsal's command line: `python -m <package> local [options]` (`make local`) and
`python -m <package> local compare [RUN RUN]` (`make compare-runs`).

Options: --work-dir, --data, --framework, --threshold, --rows (test rows the endpoint tests
send), --set NAME=VALUE (a hyperparameter for this run only), --fresh-processes, --shifted
(also check a deliberately shifted sample; monitoring.py), --champion PATH|latest (also
compare with a champion model; champion.py), --async (the endpoint tests through the async
contract; rehearsal.py), --segments (one model per segment served by one multi-model server;
segmented.py). A batch-only project (endpoint type "none") refuses --async, --segments and
--shifted: it has no endpoint. Exit status: see rehearsal.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import cli_support
from ..config import FRAMEWORKS, REPO_ROOT, ConfigError, config_path, load_config
from . import champion, history
from .overrides import apply_overrides
from .rehearsal import DEFAULT_ROWS, Rehearsal
from .rehearsal import __doc__ as rehearsal_doc


def _fraction(text: str) -> float:
    value = cli_support.parse_number(text, float, "a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold {text} is not between 0 and 1")
    return value


def parser() -> argparse.ArgumentParser:
    prog = cli_support.prog(f"python -m {__package__}.rehearsal")
    parser = cli_support.Parser(
        prog=prog,
        description=rehearsal_doc.splitlines()[0],
        epilog=f"`{prog} compare [RUN RUN]` compares two kept runs (default: the last two).",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO_ROOT / "build" / "local",
        metavar="PATH",
        help="default build/local",
    )
    parser.add_argument(
        "--data", type=Path, default=REPO_ROOT / "data" / "sample.csv", metavar="PATH", help="labelled CSV"
    )
    parser.add_argument("--framework", choices=FRAMEWORKS, help="override config model.framework")
    parser.add_argument("--threshold", type=_fraction, help="override config pipeline.metric_threshold")
    parser.add_argument(
        "--rows",
        type=cli_support.positive_int,
        default=DEFAULT_ROWS,
        metavar="N",
        help=f"labelled test rows the endpoint tests send (default {DEFAULT_ROWS})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter of the framework for this run only (repeatable), e.g. --set max_depth=4",
    )
    parser.add_argument(
        "--fresh-processes",
        action="store_true",
        help="start a new interpreter for every step instead of forking a warm worker (slower)",
    )
    parser.add_argument(
        "--champion",
        metavar="PATH|latest",
        help="also compare with this champion model.tar.gz (latest: the last passed rehearsal's model)",
    )
    parser.add_argument(
        "--shifted",
        action="store_true",
        help="the monitoring step also checks a deliberately shifted sample (it must report violations)",
    )
    parser.add_argument(
        "--async",
        dest="async_mode",
        action="store_true",
        help="run the endpoint tests through the asynchronous contract (input file, output file)",
    )
    parser.add_argument(
        "--segments",
        action="store_true",
        help="one model per segment (config model.segments, else a demo on --data), served by one "
        "multi-model server and tested per segment",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The rehearsal; `compare [RUN RUN]` as the first argument compares two kept runs instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return history.main(argv[1:])
    args = parser().parse_args(argv)
    try:
        cfg = load_config()
        framework = args.framework or cfg.model.framework
        cfg, overrides = apply_overrides(config_path(), cfg, framework, args.set)
        champion_archive = champion.resolve(args.champion, args.work_dir.resolve()) if args.champion else None
    except (ConfigError, cli_support.UsageError) as exc:
        return cli_support.fail(exc, cli_support.EXIT_USAGE)
    refused = _batch_only_problem(args, cfg)
    if refused:
        return cli_support.fail(refused, cli_support.EXIT_USAGE)
    options = {
        "work_dir": args.work_dir.resolve(),
        "data": args.data.resolve(),
        "framework": framework,
        "threshold": args.threshold if args.threshold is not None else cfg.pipeline.metric_threshold,
        "n_samples": args.rows,
        "fresh_processes": args.fresh_processes,
        "overrides": overrides,
    }
    if args.segments or cfg.model.segments.enabled:
        return _segmented(args, cfg, options)
    rehearsal = Rehearsal(
        cfg, **options, shifted=args.shifted, champion=champion_archive, async_mode=args.async_mode
    )
    return rehearsal.run()


def _batch_only_problem(args: argparse.Namespace, cfg) -> str:
    """Why the options given make no sense in a batch-only project ("" when they do): with no
    endpoint there is no asynchronous contract, no multi-model server per segment and no
    captured traffic for --shifted to check."""
    if not cfg.environment("qa").endpoint.batch_only:
        return ""
    given = [
        option
        for option, on in (
            ("--async (ASYNC=1)", args.async_mode),
            ("--segments (SEGMENTS=1)", args.segments),
            ("--shifted (SHIFTED=1)", args.shifted),
        )
        if on
    ]
    if not given:
        return ""
    return (
        f'{", ".join(given)} in a batch-only project (environments.qa.endpoint.type is "none"); '
        "expected none of them: the rehearsal's test is the transform test, with no asynchronous "
        "contract, no per-segment multi-model server and no captured traffic to monitor "
        "(docs/inference-modes.md)"
    )


def _segmented(args: argparse.Namespace, cfg, options: dict[str, Any]) -> int:
    """The segmented rehearsal (segmented.py) with the `options` every rehearsal takes; the
    options it has no use for are refused."""
    from .segmented import SegmentedRehearsal, demo_config

    unused = [
        option
        for option, given in (
            ("--champion", args.champion),
            ("--shifted", args.shifted),
            ("--async", args.async_mode),
        )
        if given
    ]
    if unused:
        return cli_support.fail(
            f"{', '.join(unused)} with a segmented rehearsal; expected neither (the segmented rehearsal "
            "has no champion comparison, monitoring step or asynchronous contract)",
            cli_support.EXIT_USAGE,
        )
    rehearsal = SegmentedRehearsal(demo_config(cfg), **options, demo=not cfg.model.segments.enabled)
    return rehearsal.run()
