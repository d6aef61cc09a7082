"""Where a shadow phase keeps its state: tags on the prod endpoint, so every step (start, compare,
promote, abort) re-reads it and a re-run of any of them resumes from where the last run stopped.

    shadow-candidate        the prod version in the shadow variant (its package ARN)
    shadow-champion-config  the champion-only config the endpoint ran before (where abort returns)
    shadow-config           the config with the champion as production variant, the candidate as shadow
    shadow-phase            starting, shadowing, passed, failed, promoted or aborted
    shadow-started-at       when the endpoint was first InService on the shadow config (UTC)

The deploy role already reads and writes the endpoint's tags (the `previous-endpoint-config` tag
of `state.py`), so the state needs no other store and no other permission. Every step checks the
tags against what the endpoint runs (`check_running`) and refuses a mismatch with one error naming
both, before any mutating call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from .aws import Clients, DeployError, log
from .state import PREVIOUS_CONFIG_TAG

TAGS = {
    "candidate": "shadow-candidate",
    "champion_config": "shadow-champion-config",
    "shadow_config": "shadow-config",
    "phase": "shadow-phase",
    "started_at": "shadow-started-at",
}
PHASES = ("starting", "shadowing", "passed", "failed", "promoted", "aborted")
# A shadow phase is open in these; another candidate cannot start until it is promoted or aborted.
OPEN = ("starting", "shadowing", "passed", "failed")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class InconsistentState(DeployError):
    """The endpoint's shadow tags and what it runs disagree; nothing was changed."""


@dataclass(frozen=True)
class ShadowState:
    """The shadow tags of the prod endpoint ("" for a tag that is absent) and its previous config."""

    candidate: str = ""
    champion_config: str = ""
    shadow_config: str = ""
    phase: str = ""
    started_at: str = ""
    previous_config: str = ""

    @property
    def open(self) -> bool:
        return self.phase in OPEN

    def started(self) -> dt.datetime:
        """`started_at` as an aware datetime; InconsistentState when it is missing or malformed."""
        try:
            return dt.datetime.strptime(self.started_at, TIME_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            raise InconsistentState(
                f"the shadow phase of {self.candidate} is {self.phase} but its start time "
                f"{self.started_at!r} is not a UTC time like 2025-01-31T12:00:00Z"
            ) from None

    def describe(self) -> str:
        return f"the shadow phase of {self.candidate or '(no candidate)'} ({self.phase or 'no phase'})"


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(TIME_FORMAT)


def _tags(clients: Clients, endpoint: dict[str, Any]) -> dict[str, str]:
    response = clients.sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"])
    return {t["Key"]: t["Value"] for t in response.get("Tags", [])}


def read_state(clients: Clients, endpoint: dict[str, Any]) -> ShadowState:
    """The endpoint's shadow state (one ListTags); InconsistentState for an unknown phase or a
    phase whose tags are incomplete."""
    tags = _tags(clients, endpoint)
    state = ShadowState(
        **{name: tags.get(key, "") for name, key in TAGS.items()},
        previous_config=tags.get(PREVIOUS_CONFIG_TAG, ""),
    )
    if not state.phase:
        return state
    if state.phase not in PHASES:
        raise InconsistentState(
            f"endpoint {endpoint['EndpointName']} has {TAGS['phase']}={state.phase!r}; "
            f"expected one of {', '.join(PHASES)}"
        )
    missing = [TAGS[n] for n in ("candidate", "champion_config", "shadow_config") if not getattr(state, n)]
    if state.phase not in ("starting",) and not state.started_at:
        missing.append(TAGS["started_at"])
    if missing:
        raise InconsistentState(
            f"endpoint {endpoint['EndpointName']} is in {state.describe()} but has no "
            f"{', '.join(missing)} tag; repair the tags or delete them all to start over"
        )
    return state


def write_state(
    clients: Clients, endpoint: dict[str, Any], state: ShadowState, **changes: str
) -> ShadowState:
    """Record `changes` (field=value; `previous_config` is the rollback tag) in one AddTags,
    only for the tags whose value differs; return the new state. No call when nothing differs."""
    new = ShadowState(**{**{f.name: getattr(state, f.name) for f in fields(state)}, **changes})
    keys = {**TAGS, "previous_config": PREVIOUS_CONFIG_TAG}
    tags = [
        {"Key": keys[name], "Value": value}
        for name, value in changes.items()
        if getattr(state, name) != value
    ]
    if tags:
        clients.sagemaker.add_tags(ResourceArn=endpoint["EndpointArn"], Tags=tags)
        log(f"endpoint {endpoint['EndpointName']}: " + ", ".join(f"{t['Key']}={t['Value']}" for t in tags))
    return new


def check_candidate(state: ShadowState, arn: str) -> None:
    """Refuse a step for `arn` when the recorded shadow phase is another candidate's."""
    if state.candidate != arn:
        if not state.phase:
            raise InconsistentState(f"no shadow phase is recorded on the prod endpoint (asked for {arn})")
        raise InconsistentState(f"the prod endpoint records {state.describe()}, not one of {arn}")


def check_running(endpoint: dict[str, Any], state: ShadowState, expected: tuple[str, ...]) -> str:
    """The running config, which must be one of `expected` for the recorded phase."""
    running = endpoint.get("EndpointConfigName", "")
    if running not in expected:
        raise InconsistentState(
            f"endpoint {endpoint['EndpointName']} runs {running}, but {state.describe()} expects "
            f"{' or '.join(expected)}; someone changed the endpoint outside the shadow phase: "
            "put it back (deploy or rollback) or abort the shadow phase"
        )
    return running


def check_previous(endpoint: dict[str, Any], state: ShadowState) -> None:
    """During a shadow phase, a rollback must return to the champion-only config."""
    if state.previous_config != state.champion_config:
        raise InconsistentState(
            f"endpoint {endpoint['EndpointName']} would roll back to "
            f"{state.previous_config or 'nothing'} ({PREVIOUS_CONFIG_TAG}), but {state.describe()} "
            f"recorded the champion config {state.champion_config}"
        )
