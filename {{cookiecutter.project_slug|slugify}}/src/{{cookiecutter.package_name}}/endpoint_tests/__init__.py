"""Endpoint tests: one suite for the local server, the QA endpoint and the prod smoke test.

Standard library only (the deploy job installs boto3 alone). See suite.py for the checks.
"""

from .suite import (
    Check,
    HttpInvoker,
    Invoker,
    SageMakerInvoker,
    SuiteReport,
    Thresholds,
    load_samples,
    run_suite,
)

__all__ = [
    "Check",
    "HttpInvoker",
    "Invoker",
    "SageMakerInvoker",
    "SuiteReport",
    "Thresholds",
    "load_samples",
    "run_suite",
]
