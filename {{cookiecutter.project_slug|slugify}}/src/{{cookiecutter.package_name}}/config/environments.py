"""Per deploy environment (qa, prod) and for the local rehearsal: endpoint settings and test thresholds.

`_parse_environment` reads `environments.<env>`; `_check_endpoint` holds the rules that join
several endpoint settings (each error names the setting to change).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .fields import INSTANCE_TYPE, ConfigError, _Section
from .names import ENVIRONMENT_GROUPS, Names
from .settings import (
    ASYNC,
    MAX_BURST_REQUESTS,
    MULTI_MODEL,
    NO_ENDPOINT,
    REAL_TIME,
    SERVERLESS,
    TRAFFIC_SHIFTS,
    EndpointSettings,
    Environment,
    GitHub,
    Segments,
    TestThresholds,
)


def _parse_tests(s: _Section) -> TestThresholds:
    tests = TestThresholds(
        burst_requests=s.number("burst_requests", 1, MAX_BURST_REQUESTS, integer=True),
        max_p50_ms=s.number("max_p50_ms", 1e-9, 3_600_000),
        max_p95_ms=s.number("max_p95_ms", 1e-9, 3_600_000),
        max_error_rate=s.number("max_error_rate", 0, 1),
        min_accuracy=s.number("min_accuracy", 0, 1, default=0.8),
    )
    s.done()
    return tests


def _parse_environment(
    s: _Section, env: str, names: Names, accounts: Mapping[str, str], github: GitHub, region: str
) -> Environment:
    endpoint = _parse_endpoint(s.required_section("endpoint"), env, names.endpoints[env])
    tests = _parse_tests(s.required_section("tests"))
    s.done()
    kind = ENVIRONMENT_GROUPS[env]
    return Environment(
        name=env,
        account_role=env,
        account=accounts[env],
        github_environment=github.environments[env],
        group_kind=kind,
        group=names.groups[kind],
        endpoint_name=names.endpoints[env],
        capture_bucket=names.capture_buckets[env],
        capture_key_alias=names.capture_key_alias,
        endpoint=endpoint,
        tests=tests,
        capture_key_region=region,
    )


def _sub(s: _Section, key: str, fields: Mapping[str, Callable[[_Section, str], Any]]) -> Mapping[str, Any]:
    sub = s.section(key)
    values = {name: read(sub, name) for name, read in fields.items() if name in sub.data}
    sub.done()
    return MappingProxyType(values)


def _parse_endpoint(s: _Section, env: str, endpoint_name: str) -> EndpointSettings:
    where = s.path
    kind = s.choice("type", (REAL_TIME, SERVERLESS, ASYNC, MULTI_MODEL, NO_ENDPOINT), default=REAL_TIME)
    serverless = _sub(
        s,
        "serverless",
        {
            "memory_mb": lambda x, k: x.number(k, 1024, 6144, integer=True),
            "max_concurrency": lambda x, k: x.number(k, 1, 200, integer=True),
        },
    )
    autoscaling = _sub(
        s,
        "autoscaling",
        {
            "enabled": lambda x, k: x.flag(k, False),
            "min_capacity": lambda x, k: x.number(k, 0, 1000, integer=True),
            "max_capacity": lambda x, k: x.number(k, 0, 1000, integer=True),
            "target_invocations_per_instance": lambda x, k: x.number(k, 0, 1e9),
        },
    )
    capture = _sub(
        s,
        "data_capture",
        {
            "enabled": lambda x, k: x.flag(k, False),
            "sampling_percent": lambda x, k: x.number(k, 0, 100, integer=True),
        },
    )
    traffic = _sub(
        s,
        "traffic_shifting",
        {
            "type": lambda x, k: x.choice(k, TRAFFIC_SHIFTS),
            "canary_percent": lambda x, k: x.number(k, 0, 100, integer=True),
            "linear_step_percent": lambda x, k: x.number(k, 0, 100, integer=True),
            "wait_seconds": lambda x, k: x.number(k, 0, 3600, integer=True),
            "termination_wait_seconds": lambda x, k: x.number(k, 0, 3600, integer=True),
        },
    ) or MappingProxyType({"type": "ALL_AT_ONCE", "wait_seconds": 0})
    alarms = _sub(
        s,
        "alarms",
        {
            "error_5xx_threshold": lambda x, k: x.number(k, 0, 1e9),
            "model_latency_p99_ms": lambda x, k: x.number(k, 0, 1e9),
        },
    )
    async_inference = _sub(
        s,
        "async",
        {
            "max_concurrent_invocations_per_instance": lambda x, k: x.number(k, 1, 1000, integer=True),
            "min_capacity": lambda x, k: x.number(k, 0, 1000, integer=True),
            "max_capacity": lambda x, k: x.number(k, 1, 1000, integer=True),
            "target_backlog_per_instance": lambda x, k: x.number(k, 1e-9, 1e9),
            "invocation_timeout_seconds": lambda x, k: x.number(k, 1, 3600, integer=True),
        },
    )
    settings = EndpointSettings(
        env=env,
        endpoint_name=endpoint_name,
        kind=kind,
        instance_type=s.text("instance_type", default=""),
        instance_count=s.number("instance_count", 0, 1000, default=1, integer=True),
        serverless=serverless,
        autoscaling=autoscaling or MappingProxyType({"enabled": False}),
        data_capture=capture or MappingProxyType({"enabled": False}),
        traffic=traffic,
        alarms=alarms,
        async_inference=MappingProxyType({**ASYNC_DEFAULTS, **async_inference}),
    )
    s.done()
    _check_endpoint(settings, where)
    return settings


# `environments.<env>.endpoint.async` when absent or partial (docs/configuration.md).
ASYNC_DEFAULTS = MappingProxyType(
    {
        "max_concurrent_invocations_per_instance": 4,
        "min_capacity": 0,
        "max_capacity": 2,
        "target_backlog_per_instance": 5,
        "invocation_timeout_seconds": 600,
    }
)


def _check_async(settings: EndpointSettings, where: str) -> None:
    """An async endpoint scales on its backlog (the `async` section), not on invocations."""
    if settings.autoscaling.get("enabled"):
        raise ConfigError(
            f"{where}.autoscaling.enabled is true, but an async endpoint scales on its backlog: "
            f"set it to false and use {where}.async.min_capacity/max_capacity/target_backlog_per_instance"
        )
    options = settings.async_inference
    low, high = int(options["min_capacity"]), int(options["max_capacity"])
    if low > high:
        raise ConfigError(
            f"{where}.async.min_capacity {low} is above max_capacity {high}; expected min <= max"
        )
    if not low <= settings.instance_count <= high:
        raise ConfigError(
            f"{where}.instance_count {settings.instance_count} is outside "
            f"{where}.async min_capacity-max_capacity ({low}-{high}); expected a count within them"
        )


def _check_endpoint(settings: EndpointSettings, where: str) -> None:
    """Rules that join several settings; each error names the setting to change."""
    if settings.batch_only:
        for option in ("autoscaling", "data_capture"):
            if getattr(settings, option).get("enabled"):
                raise ConfigError(
                    f'{where}.{option}.enabled is true, but type is "{NO_ENDPOINT}" (no endpoint); '
                    "expected false (a batch-only environment has nothing to scale or capture)"
                )
        return
    if settings.is_async:
        _check_async(settings, where)
    if settings.on_instances:
        if not settings.instance_type:
            raise ConfigError(
                f"{where}.instance_type is missing; expected an ml.* instance type such as ml.m5.large"
            )
        if not INSTANCE_TYPE.match(settings.instance_type):
            raise ConfigError(
                f"{where}.instance_type {settings.instance_type!r} is not an ml.* instance type"
            )
        if settings.instance_count < 1:
            raise ConfigError(f"{where}.instance_count must be at least 1")
        traffic = settings.traffic
        shift = traffic.get("type", "ALL_AT_ONCE")
        if shift == "CANARY" and not 1 <= int(traffic.get("canary_percent", 0)) <= 50:
            raise ConfigError(f"{where}.traffic_shifting.canary_percent must be 1-50 (percent of capacity)")
        if shift == "LINEAR" and not 10 <= int(traffic.get("linear_step_percent", 0)) <= 50:
            raise ConfigError(
                f"{where}.traffic_shifting.linear_step_percent must be 10-50 (percent of capacity)"
            )
        for key in ("error_5xx_threshold", "model_latency_p99_ms"):
            if key not in settings.alarms:
                raise ConfigError(f"{where}.alarms.{key} is missing; expected a positive number")
            if settings.alarms.get(key, 0) <= 0:
                raise ConfigError(f"{where}.alarms.{key} must be a positive number")
        scaling = settings.autoscaling
        if scaling.get("enabled") and (settings.real_time or settings.multi_model):
            low, high = int(scaling.get("min_capacity", 0)), int(scaling.get("max_capacity", 0))
            if not 1 <= low <= high:
                raise ConfigError(f"{where}.autoscaling needs 1 <= min_capacity <= max_capacity")
            if float(scaling.get("target_invocations_per_instance", 0)) <= 0:
                raise ConfigError(f"{where}.autoscaling.target_invocations_per_instance must be positive")
    else:
        memory = settings.serverless.get("memory_mb", 0)
        if memory % 1024:
            raise ConfigError(
                f"{where}.serverless.memory_mb is {memory}; expected 1024-6144 in steps of 1024"
            )
        if "memory_mb" not in settings.serverless or "max_concurrency" not in settings.serverless:
            raise ConfigError(f"{where}.serverless needs memory_mb and max_concurrency")
        for option in ("autoscaling", "data_capture"):
            if getattr(settings, option).get("enabled"):
                raise ConfigError(
                    f"{where}.{option}.enabled is true, but serverless endpoints do not support it"
                )
    capture = settings.data_capture
    if capture.get("enabled") and not 0 < int(capture.get("sampling_percent", 0)) <= 100:
        raise ConfigError(f"{where}.data_capture.sampling_percent must be 1-100")


def check_segmented_endpoints(
    segments: Segments, endpoints: Mapping[str, EndpointSettings], shadow_enabled: bool
) -> None:
    """A segmented model (`model.segments`) is served by multi-model endpoints in QA and prod,
    and only a segmented one is: one ConfigError naming the environment and what is expected.
    A segmented model has no shadow phase (one prod variant serves every segment)."""
    for env, settings in endpoints.items():
        where = f"environments.{env}.endpoint.type"
        if settings.multi_model and not segments.enabled:
            raise ConfigError(
                f'{where} is "{MULTI_MODEL}", but model.segments.column is ""; expected a segmented '
                f"model (model.segments) or another endpoint type"
            )
        if segments.enabled and not settings.multi_model:
            raise ConfigError(
                f'{where} is "{settings.kind}", but model.segments is on (column '
                f'"{segments.column}"); expected "{MULTI_MODEL}" in both qa and prod'
            )
    if segments.enabled and shadow_enabled:
        raise ConfigError(
            f'champion.shadow.enabled is true, but model.segments is on (column "{segments.column}"); '
            "expected champion.shadow.enabled false (a multi-model endpoint has no shadow variant)"
        )


def check_both_or_neither(kinds: Mapping[str, Any]) -> None:
    """A batch-only project (endpoint type "none") has no endpoint in QA or in prod: both or
    neither. Asked with the types as written (`raw_kinds`), before either endpoint is read, so
    this is the first error a half-switched project gets, not one about the other keys."""
    none = [env for env, kind in kinds.items() if kind == NO_ENDPOINT]
    others = [env for env in kinds if env not in none]
    if none and others:
        shown = ", ".join(f'environments.{env}.endpoint.type is "{kinds[env]}"' for env in others)
        raise ConfigError(
            f'environments.{none[0]}.endpoint.type is "{NO_ENDPOINT}" but {shown}; expected '
            f'"{NO_ENDPOINT}" in both qa and prod (a batch-only project) or an endpoint in both'
        )


def raw_kinds(environments: Any, envs: Iterable[str]) -> dict[str, Any]:
    """The endpoint type each environment's document names (its default when absent)."""
    kinds = {}
    for env in envs:
        section = environments.get(env) if isinstance(environments, Mapping) else None
        endpoint = section.get("endpoint") if isinstance(section, Mapping) else None
        kinds[env] = endpoint.get("type", REAL_TIME) if isinstance(endpoint, Mapping) else REAL_TIME
    return kinds


def check_batch_only(endpoints: Mapping[str, EndpointSettings], batch_environments: Iterable[str]) -> None:
    """A batch-only project needs batch settings for both environments (their transform jobs run
    the tests): one ConfigError naming the missing one. (Its shadow phase is refused with the
    other non-real-time prods; both-or-neither by `check_both_or_neither`.)"""
    kinds = {env: settings.kind for env, settings in endpoints.items()}
    check_both_or_neither(kinds)
    if NO_ENDPOINT not in kinds.values():
        return
    missing = [env for env in kinds if env not in set(batch_environments)]
    if missing:
        raise ConfigError(
            f'environments.{missing[0]}.endpoint.type is "{NO_ENDPOINT}", but batch.environments has '
            f"no {missing[0]}; expected batch settings for {' and '.join(kinds)} (their transform jobs "
            "run the QA test and the prod smoke test)"
        )
