"""Endpoint tests: one suite for the local server, the QA endpoint and the prod smoke test.

Standard library and the package's config.py only (the deploy job installs boto3 alone). See
suite.py for the checks and how the modules divide them; thresholds are `config.TestThresholds`
(`cfg.tests_for(env)`).
"""

from .suite import (
    Check,
    HttpInvoker,
    Invoker,
    SageMakerInvoker,
    SuiteReport,
    Thresholds,
    check_thresholds,
    format_text,
    load_samples,
    run_suite,
    write_outputs,
)

__all__ = [
    "Check",
    "HttpInvoker",
    "Invoker",
    "SageMakerInvoker",
    "SuiteReport",
    "Thresholds",
    "check_thresholds",
    "format_text",
    "load_samples",
    "run_suite",
    "write_outputs",
]
