"""What started a retraining, validated: the event, the dataset it names and the reason.

A retraining always runs the dev workflow (.github/workflows/dev.yml) on the dev branch, which
trains into the dev group, deploys to QA, tests and locks; nothing here names the prod branch,
the prod group or the release workflow. The dataset must be an object or prefix under the
artifact bucket's datasets folder (the only data the pipeline roles may read); the reason is one
line of free text, passed on as data (environment variables and JSON), never as code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..config.fields import _show

# The workflow a retraining starts, and the inputs it takes (dev.yml's workflow_dispatch inputs).
DEV_WORKFLOW = "dev.yml"
INPUTS = ("dataset_uri", "reason", "trigger")
EVENTS = ("schedule", "workflow_dispatch", "repository_dispatch")
DISPATCH_TYPES = ("new-data", "drift")
MAX_REASON = 200
MAX_URI = 1024
URI_CHARACTERS = re.compile(r"^s3://[a-z0-9.-]+/[A-Za-z0-9!_.*'()/=+@-]+$")


class TriggerError(ValueError):
    """The event or its inputs cannot start a retraining (exit status 2)."""


@dataclass(frozen=True)
class Trigger:
    kind: str  # schedule, manual, new-data or drift
    dataset_uri: str  # "" = the config's pipeline.input_data_uri
    reason: str
    skip: str = ""  # why nothing is started ("" = start one)

    def inputs(self) -> dict[str, str]:
        """dev.yml's workflow_dispatch inputs."""
        return {"dataset_uri": self.dataset_uri, "reason": self.reason, "trigger": self.kind}


def datasets_location(cfg: Config) -> str:
    return f"s3://{cfg.names.artifact_bucket}/{cfg.names.datasets_prefix}"


def check_dataset_uri(cfg: Config, uri: str) -> str:
    """`uri` ("" = the config's default) when it is under the datasets folder; else TriggerError."""
    if uri == "":
        return ""
    where = datasets_location(cfg)
    segments = uri[len("s3://") :].split("/")
    if (
        len(uri) > MAX_URI
        or not URI_CHARACTERS.match(uri)
        or not uri.startswith(where)
        or uri == where
        or any(s in ("", ".", "..") for s in segments[1:-1])
    ):
        raise TriggerError(
            f"dataset_uri is {_show(uri)}; expected an object or prefix under {where} (the "
            "pipeline roles read only that folder; letters, digits and !_.*'()/=+@- only)"
        )
    return uri


def check_reason(text: str, required: bool) -> str:
    reason = " ".join(str(text).split())
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in reason):
        raise TriggerError("reason holds control characters; expected one line of text")
    if required and not reason:
        raise TriggerError("reason is empty; expected one line saying why the model is retrained")
    if len(reason) > MAX_REASON:
        raise TriggerError(f"reason is {len(reason)} characters; expected at most {MAX_REASON}")
    return reason


def read_trigger(cfg: Config, event_name: str, event: Mapping[str, Any]) -> Trigger:
    """The retraining `event` asks for (retrain.yml's event), checked against `cfg.retraining`."""
    settings = cfg.retraining
    if event_name == "schedule":
        fired = str(event.get("schedule", ""))
        if not settings.schedule:
            return Trigger("schedule", "", "", skip='scheduled retraining is off (retraining.schedule is "")')
        if fired != settings.schedule:
            raise TriggerError(
                f"the schedule that fired, {_show(fired)}, is not retraining.schedule "
                f"{_show(settings.schedule)}; expected .github/workflows/retrain.yml's cron to equal "
                "the config's"
            )
        return Trigger("schedule", "", f"scheduled ({fired})")
    if event_name == "workflow_dispatch":
        inputs = _object(event.get("inputs"), "inputs")
        return Trigger(
            "manual",
            check_dataset_uri(cfg, _text(inputs, "dataset_uri")),
            check_reason(_text(inputs, "reason"), required=True),
        )
    if event_name == "repository_dispatch":
        kind = str(event.get("action", ""))
        if kind not in DISPATCH_TYPES:
            raise TriggerError(
                f"repository_dispatch type {_show(kind)} is not one retraining takes; "
                f"expected one of {', '.join(DISPATCH_TYPES)}"
            )
        payload = _object(event.get("client_payload"), "client_payload")
        uri = check_dataset_uri(cfg, _text(payload, "dataset_uri"))
        reason = check_reason(_text(payload, "reason"), required=False) or (
            f"new data: {uri or 'the configured dataset'}" if kind == "new-data" else "drift alarm"
        )
        enabled = settings.on_new_data if kind == "new-data" else settings.on_drift
        flag = "on_new_data" if kind == "new-data" else "on_drift"
        skip = "" if enabled else f"retraining.{flag} is false; a {kind} event starts nothing"
        return Trigger(kind, uri, check_reason(reason, required=False), skip=skip)
    raise TriggerError(
        f"event {_show(event_name)} cannot start a retraining; expected one of {', '.join(EVENTS)}"
    )


def read_dispatched(cfg: Config, ref: str, event: Mapping[str, Any]) -> Trigger:
    """dev.yml's own check of a workflow_dispatch: on the dev branch, with valid inputs."""
    expected = f"refs/heads/{cfg.branches.dev}"
    if ref != expected:
        raise TriggerError(f"the dev workflow was dispatched on {_show(ref)}; expected {expected}")
    inputs = _object(event.get("inputs"), "inputs")
    kind = _text(inputs, "trigger") or "manual"
    if kind not in ("schedule", "manual", *DISPATCH_TYPES):
        raise TriggerError(f"trigger is {_show(kind)}; expected schedule, manual, new-data or drift")
    return Trigger(
        kind,
        check_dataset_uri(cfg, _text(inputs, "dataset_uri")),
        check_reason(_text(inputs, "reason"), required=False) or "manual run of the dev workflow",
    )


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TriggerError(f"{what} is {_show(value)}; expected an object")
    return value


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TriggerError(f"{key} is {_show(value)}; expected a string")
    return value.strip()
