"""The config document this suite tests from (conftest.py applies it before any test module loads).

The suite covers every serving mode through explicit variants of one base document
(`deploy_helpers.make_raw(..., qa=..., prod=...)`, the files `configure` writes). The base is the
repository's config/project.json, except in a batch-only repository (endpoint type "none", the
`serving` bake option): there the endpoint blocks an endpoints repository is generated with
(`ENDPOINTS`) stand in for "none", so the endpoint paths stay tested in that repository too, and
MLOPS_CONFIG points the session's `config.load_config()` calls at that base. The batch-only paths
are tested from explicit "none" variants (test_batch_only.py), and the repository's own file by
test_config.py (`test_the_repository_config_file_parses_as_it_is`).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPO_DOCUMENT: dict[str, Any] = json.loads((ROOT / "config" / "project.json").read_text())

# A prod-like real-time endpoint: canary shifting, autoscaling, data capture (an endpoints
# repository's prod; deploy_helpers re-exports it).
REAL_TIME_PROD: dict[str, Any] = {
    "type": "real-time",
    "instance_type": "ml.m5.large",
    "instance_count": 2,
    "autoscaling": {
        "enabled": True,
        "min_capacity": 2,
        "max_capacity": 4,
        "target_invocations_per_instance": 200,
    },
    "data_capture": {"enabled": True, "sampling_percent": 20},
    "traffic_shifting": {
        "type": "CANARY",
        "canary_percent": 10,
        "linear_step_percent": 25,
        "wait_seconds": 600,
        "termination_wait_seconds": 300,
    },
    "alarms": {"error_5xx_threshold": 1, "model_latency_p99_ms": 500},
}
_SERVERLESS = {"memory_mb": 2048, "max_concurrency": 5}
ENDPOINTS: dict[str, dict[str, Any]] = {
    "qa": {
        **REAL_TIME_PROD,
        "type": "serverless",
        "instance_count": 1,
        "serverless": _SERVERLESS,
        "autoscaling": {"enabled": False},
        "data_capture": {"enabled": False},
        "alarms": {"error_5xx_threshold": 1, "model_latency_p99_ms": 1000},
    },
    "prod": {**REAL_TIME_PROD, "serverless": _SERVERLESS},
}


def is_batch_only(document: dict[str, Any]) -> bool:
    return document["environments"]["qa"]["endpoint"].get("type") == "none"


def base_document(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (a copy), with the endpoints repository's endpoint blocks if it is batch-only."""
    base = copy.deepcopy(document)
    if is_batch_only(base):
        for env, endpoint in ENDPOINTS.items():
            base["environments"][env]["endpoint"] = copy.deepcopy(endpoint)
    return base


BASE: dict[str, Any] = base_document(REPO_DOCUMENT)


def use_base() -> None:
    """In a batch-only repository, point MLOPS_CONFIG at the base (a file of its own per process)."""
    if not is_batch_only(REPO_DOCUMENT) or os.environ.get("MLOPS_CONFIG"):
        return
    folder = Path(tempfile.mkdtemp(prefix="test-config-")) / "config"
    folder.mkdir()
    (folder / "project.json").write_text(json.dumps(BASE, indent=2))
    os.environ["MLOPS_CONFIG"] = str(folder / "project.json")
