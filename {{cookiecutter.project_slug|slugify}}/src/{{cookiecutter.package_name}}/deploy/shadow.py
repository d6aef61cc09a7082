"""The shadow phase of a release (config `champion.shadow`, docs/shadow.md): the candidate runs as a
shadow variant next to the champion on the prod endpoint, then takes over or goes away.

- `start`: CreateModel (the candidate) and CreateEndpointConfig with the champion's production
  variant as it runs and the candidate in ShadowProductionVariants (its weight is the sampling
  share, `sampling_percent` / 100 of the production variant's 1.0), data capture of every request
  and response of both variants; then UpdateEndpoint and wait until it is InService on it.
- `compare` (shadow_compare.py): live latency, errors and prediction agreement, decided once.
- `promote`: the candidate's own config (the one a direct deploy would create) through the deploy
  path (`deploy.update`: blue/green with the rollback alarms), then autoscaling and cleanup.
- `abort`: `rollback.rollback` to the champion-only config.

The state lives on the endpoint's tags (shadow_state.py). Each step resumes after a crash,
makes no mutating call when its work is already done, and refuses a state it does not expect.
During the phase the `previous-endpoint-config` tag names the champion-only config, so every
rollback (the cancelled-release step, `rollback --env prod`, a failed smoke test after promotion)
returns to the champion.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..config import Config
from .aws import Clients, DeployError, log
from .deploy import cleanup, ensure_endpoint_config, ensure_model, settled_endpoint, update
from .endpoint import DeployPlan, data_capture_config, digest, versioned_name
from .rollback import RollbackFailed, rollback
from .scaling import ensure_alarms, ensure_autoscaling
from .shadow_state import (
    InconsistentState,
    ShadowState,
    check_candidate,
    check_previous,
    check_running,
    format_time,
    read_state,
    write_state,
)
from .state import Waiter, describe_endpoint, verify, wait_until_settled

SHADOW_VARIANT = "Shadow"
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class StepResult:
    """What a step did: `mode` shadow/direct (start only), the phase now, the running config."""

    phase: str
    config_name: str
    changed: bool
    mode: str = "shadow"
    reason: str = ""


def _settled(clients: Clients, name: str, waiter: Waiter) -> dict[str, Any] | None:
    return settled_endpoint(clients, name, waiter, "it cannot run a shadow phase")


def shadow_config_request(cfg: Config, plan: DeployPlan, champion: dict[str, Any]) -> dict[str, Any]:
    """CreateEndpointConfig body: the champion's production variant unchanged (weight 1.0), the
    candidate's variant as the shadow, data capture of 100% of both. The shadow fleet is sized to
    its share: ceil(instance_count * sampling_percent / 100) instances, at least one."""
    variants = champion.get("ProductionVariants") or []
    if len(variants) != 1 or champion.get("ShadowProductionVariants"):
        raise DeployError(
            f"endpoint config {champion['EndpointConfigName']} has {len(variants)} production and "
            f"{len(champion.get('ShadowProductionVariants') or [])} shadow variants; a shadow phase "
            "needs a config with exactly one production variant and no shadow"
        )
    settings = cfg.champion.shadow
    production = {**copy.deepcopy(variants[0]), "InitialVariantWeight": 1.0}
    for key in ("CurrentWeight", "CurrentInstanceCount", "DesiredWeight", "DesiredInstanceCount"):
        production.pop(key, None)
    shadow = copy.deepcopy(plan.config_request["ProductionVariants"][0])
    shadow.update(VariantName=SHADOW_VARIANT, InitialVariantWeight=settings.sampling_percent / 100)
    if "InitialInstanceCount" in shadow:
        share = shadow["InitialInstanceCount"] * settings.sampling_percent / 100
        shadow["InitialInstanceCount"] = max(1, math.ceil(share))
    body: dict[str, Any] = {
        "ProductionVariants": [production],
        "ShadowProductionVariants": [shadow],
        "DataCaptureConfig": data_capture_config(cfg, "prod", 100),
    }
    name = versioned_name(plan.settings.endpoint_name, plan.package.version, digest(body))
    return {"EndpointConfigName": name, **body, "Tags": plan.config_request["Tags"]}


def start(
    cfg: Config, clients: Clients, plan: DeployPlan, waiter: Waiter, now: Clock = utc_now
) -> StepResult:
    """Put the candidate of `plan` in the shadow variant of the prod endpoint and wait for it.

    mode "direct" (no call but reads) when the shadow phase is off, there is no endpoint yet (a
    first release has no champion) or the endpoint already serves the candidate: the release
    then deploys as usual. InconsistentState when another candidate's phase is open or the
    endpoint runs something the recorded phase does not expect.
    """
    name = plan.settings.endpoint_name
    arn = plan.package.arn
    if not cfg.champion.shadow.enabled:
        return StepResult("", "", False, "direct", "champion.shadow.enabled is false")
    endpoint = _settled(clients, name, waiter)
    if endpoint is None:
        return StepResult(
            "", "", False, "direct", f"no endpoint {name} yet: the first release has no champion"
        )
    state = read_state(clients, endpoint)
    running = endpoint["EndpointConfigName"]
    if state.open and state.candidate != arn:
        raise InconsistentState(
            f"the prod endpoint records {state.describe()}; promote or abort it before starting {arn}"
        )
    if state.candidate == arn and state.phase == "aborted":
        raise InconsistentState(f"{state.describe()} ended: {arn} was aborted and is not started again")
    if state.candidate == arn and state.phase in ("shadowing", "passed", "failed", "promoted"):
        expected = (plan.config_name,) if state.phase == "promoted" else (state.shadow_config,)
        check_running(endpoint, state, expected)
        log(f"{state.describe()} is recorded and the endpoint runs {running}; nothing to start")
        return StepResult(state.phase, running, False)
    if running == plan.config_name:
        return StepResult("", running, False, "direct", f"endpoint {name} already serves {arn}")
    if state.phase == "starting":  # resume: the champion config and shadow config are recorded
        check_running(endpoint, state, (state.champion_config, state.shadow_config))
        champion_config = state.champion_config
    else:
        champion_config = running
    champion = clients.sagemaker.describe_endpoint_config(EndpointConfigName=champion_config)
    request = shadow_config_request(cfg, plan, champion)
    shadow_config = request["EndpointConfigName"]
    if state.phase == "starting" and state.shadow_config != shadow_config:
        raise InconsistentState(
            f"{state.describe()} recorded {state.shadow_config}, but the settings now give {shadow_config}; "
            "abort the shadow phase and start again"
        )
    ensure_model(clients, plan)
    ensure_endpoint_config(clients, replace(plan, config_name=shadow_config, config_request=request))
    state = write_state(
        clients,
        endpoint,
        state,
        candidate=arn,
        champion_config=champion_config,
        shadow_config=shadow_config,
        phase="starting",
        previous_config=champion_config,
    )
    if running != shadow_config:
        log(f"updating endpoint {name}: {running} -> {shadow_config} (shadow: {arn})")
        clients.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=shadow_config)
    endpoint = wait_until_settled(clients, name, waiter)
    verify(endpoint, shadow_config)
    write_state(clients, endpoint, state, phase="shadowing", started_at=format_time(now()))
    log(f"endpoint {name} is InService with {arn} as its shadow variant")
    return StepResult("shadowing", shadow_config, True)


def promote(clients: Clients, plan: DeployPlan, waiter: Waiter) -> StepResult:
    """Make the candidate of `plan` the production variant (its own config, blue/green).

    Only after `compare` recorded phase passed; a repeat once promoted repairs alarms and
    autoscaling at most. A failed update raises DeployFailed with the endpoint on the shadow
    config (SageMaker rolls a failed blue/green update back); `abort` then returns to the champion.
    """
    name = plan.settings.endpoint_name
    endpoint = _settled(clients, name, waiter)
    if endpoint is None:
        raise InconsistentState(f"endpoint {name} does not exist; there is no shadow phase to promote")
    state = read_state(clients, endpoint)
    check_candidate(state, plan.package.arn)
    if state.phase == "promoted":
        check_running(endpoint, state, (plan.config_name,))
        log(f"{plan.package.arn} is already promoted on {name}; nothing to promote")
        repairs = ensure_alarms(clients, plan) + ensure_autoscaling(clients, plan)
        return StepResult("promoted", plan.config_name, repairs > 0)
    if state.phase != "passed":
        reason = {
            "starting": "did not start completely: run `shadow start` again",
            "shadowing": "has no decision yet: run `shadow compare` first",
            "failed": "failed its comparison: abort it",
            "aborted": "was aborted",
        }[state.phase]
        raise InconsistentState(f"{state.describe()} {reason}; {plan.package.arn} is not promoted")
    running = check_running(endpoint, state, (state.shadow_config, plan.config_name))
    check_previous(endpoint, state)
    ensure_model(clients, plan)
    ensure_endpoint_config(clients, plan)
    ensure_alarms(clients, plan)
    if running != plan.config_name:
        update(clients, plan, running, waiter)
    else:
        verify(endpoint, plan.config_name)
    ensure_autoscaling(clients, plan)
    write_state(clients, endpoint, state, phase="promoted")
    cleanup(clients, plan, {plan.config_name, state.champion_config})
    log(f"{plan.package.arn} serves all traffic of {name}; a rollback returns to {state.champion_config}")
    return StepResult("promoted", plan.config_name, True)


def abort(cfg: Config, clients: Clients, arn: str, waiter: Waiter) -> StepResult:
    """Return the prod endpoint to the champion-only config and record phase aborted.

    Allowed in every phase of `arn`'s shadow phase (a failed start, a lost comparison, a failed
    promotion or smoke test); a repeat once aborted makes no mutating call. Rejecting the prod
    version is the registry's step (`registry reject`, promotion.lifecycle.reject).
    """
    settings = cfg.environment("prod").endpoint
    name = settings.endpoint_name
    endpoint = _settled(clients, name, waiter)
    if endpoint is None:
        raise InconsistentState(f"endpoint {name} does not exist; there is no shadow phase to abort")
    state = read_state(clients, endpoint)
    if not state.phase:
        log(f"no shadow phase is recorded on {name}; nothing to abort")
        return StepResult("", endpoint["EndpointConfigName"], False)
    check_candidate(state, arn)
    if state.phase == "aborted":
        check_running(endpoint, state, (state.champion_config,))
        log(f"{state.describe()}: endpoint {name} already runs the champion config; nothing to abort")
        return StepResult("aborted", state.champion_config, False)
    if state.phase != "promoted":
        check_running(endpoint, state, (state.champion_config, state.shadow_config))
    check_previous(endpoint, state)
    try:
        result = rollback(clients, settings, waiter)
    except RollbackFailed as exc:
        raise RollbackFailed(f"aborting {state.describe()}: {exc}") from exc
    write_state(clients, endpoint, state, phase="aborted")
    log(f"endpoint {name} is back on the champion config {result.to_config}; {arn} no longer runs")
    return StepResult("aborted", result.to_config, True)


def recorded_state(clients: Clients, name: str) -> tuple[dict[str, Any], ShadowState]:
    """The endpoint and its shadow state (for compare); InconsistentState when there is none."""
    endpoint = describe_endpoint(clients, name)
    if endpoint is None:
        raise InconsistentState(f"endpoint {name} does not exist; there is no shadow phase")
    return endpoint, read_state(clients, endpoint)
