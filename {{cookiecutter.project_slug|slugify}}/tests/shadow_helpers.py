"""The shadow-phase tests' world: a real-time prod endpoint serving the champion (version 4) and
a candidate (version 5), the shadow phase switched on, stubbed clients for the prod account and
the responses each step receives. Times come from a fixed clock, never from waiting."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, NamedTuple

from deploy_helpers import (
    REGION,
    Recorder,
    config,
    described_model,
    endpoint_response,
    make_raw,
    module,
    not_found,
)
from deploy_scenarios import QA_SERVERLESS, REAL_TIME_PROD, config_response, plans, update_stubs

shadow = module("deploy.shadow")
shadow_cli = module("deploy.shadow_cli")
deploy_cli = module("deploy.cli")

STARTED = dt.datetime(2025, 1, 31, 12, 0, tzinfo=dt.UTC)
STARTED_TEXT = "2025-01-31T12:00:00Z"
SETTINGS = {
    "enabled": True,
    "sampling_percent": 20,
    "duration_minutes": 60,
    "min_requests": 100,
    "max_latency_ratio": 1.5,
    "max_error_rate": 0.01,
    "min_agreement": 0.95,
}


class World(NamedTuple):
    cfg: Any
    old: Any  # the champion's plan (what the endpoint ran before the shadow phase)
    new: Any  # the candidate's plan
    recorder: Recorder
    session: Any
    stubs: dict[str, Any]

    @property
    def arn(self) -> str:
        return self.new.package.arn

    @property
    def endpoint_arn(self) -> str:
        return endpoint_response(self.cfg, "prod", "x")["EndpointArn"]

    @property
    def shadow_config(self) -> str:
        return shadow.shadow_config_request(self.cfg, self.new, config_response(self.old))[
            "EndpointConfigName"
        ]

    @property
    def sm(self) -> Any:
        return self.stubs["sagemaker"]


def raw_config(**settings: Any) -> dict[str, Any]:
    raw = make_raw("four", prod=REAL_TIME_PROD, qa=QA_SERVERLESS)
    raw.setdefault("champion", {})["shadow"] = {**SETTINGS, **settings}
    return raw


def world(configure, recorder: Recorder, *, checked: bool = True, **settings: Any) -> World:
    """Config written (shadow on), both plans, stubbed prod clients with the caller identity queued;
    `checked`: also the candidate's DescribeModelPackage and artifact check (start, promote)."""
    raw = raw_config(**settings)
    configure(raw)
    cfg = config.parse(raw)
    old, new = plans(cfg)
    if checked:
        session, stubs = update_stubs(cfg, recorder)
    else:
        from deploy_helpers import stubbed_as

        session, stubs = stubbed_as(
            cfg, "prod", "sagemaker", "cloudwatch", "application-autoscaling", "s3", recorder=recorder
        )
    return World(cfg, old, new, recorder, session, stubs)


def tags(w: World, phase: str = "", previous: str | None = None, **values: str) -> list[dict[str, str]]:
    """The endpoint's tags in a phase of the candidate's shadow phase ("" = no shadow tags)."""
    found = []
    if previous:
        found.append({"Key": "previous-endpoint-config", "Value": previous})
    if phase:
        state = {
            "shadow-candidate": w.arn,
            "shadow-champion-config": w.old.config_name,
            "shadow-config": w.shadow_config,
            "shadow-phase": phase,
            "shadow-started-at": STARTED_TEXT,
        }
        state.update({key: value for key, value in values.items()})
        found += [{"Key": key, "Value": value} for key, value in state.items() if value]
    return found


def stub_endpoint(w: World, config_name: str, status: str = "InService") -> None:
    w.sm.add_response(
        "describe_endpoint",
        endpoint_response(w.cfg, "prod", config_name, status),
        {"EndpointName": w.cfg.environment("prod").endpoint_name},
    )


def stub_state(w: World, config_name: str, found: list[dict[str, str]]) -> None:
    """DescribeEndpoint then ListTags: what every step reads first."""
    stub_endpoint(w, config_name)
    w.sm.add_response("list_tags", {"Tags": found}, {"ResourceArn": w.endpoint_arn})


def stub_add_tags(w: World, **values: str) -> None:
    w.sm.add_response(
        "add_tags",
        {"Tags": []},
        {"ResourceArn": w.endpoint_arn, "Tags": [{"Key": k, "Value": v} for k, v in values.items()]},
    )


def stub_model_exists(w: World) -> None:
    w.sm.add_response("describe_model", described_model(w.new), {"ModelName": w.new.model_name})


def stub_config(w: World, name: str, response: dict[str, Any] | None) -> None:
    """DescribeEndpointConfig of `name`: `response`, or not found when None."""
    if response is None:
        not_found(w.sm, "describe_endpoint_config", "endpoint configuration")
    else:
        w.sm.add_response("describe_endpoint_config", response, {"EndpointConfigName": name})


def shadow_config_response(w: World) -> dict[str, Any]:
    request = shadow.shadow_config_request(w.cfg, w.new, config_response(w.old))
    return {
        "EndpointConfigName": request["EndpointConfigName"],
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/x",
        "ProductionVariants": request["ProductionVariants"],
        "ShadowProductionVariants": request["ShadowProductionVariants"],
        "CreationTime": 0,
    }


def stub_autoscaling_in_place(w: World) -> None:
    target, policy = w.new.autoscaling
    autoscaling = w.stubs["application-autoscaling"]
    autoscaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [{**target, "RoleARN": "arn:aws:iam::1:role/x", "CreationTime": 0}]},
    )
    autoscaling.add_response(
        "describe_scaling_policies",
        {"ScalingPolicies": [{**policy, "PolicyARN": "arn:aws:autoscaling:policy", "CreationTime": 0}]},
    )


def run(w: World, run_cli, step: str, *extra: str, now: dt.datetime | None = None, monkeypatch=None):
    """`shadow <step> --arn <candidate>` through the project's deploy command line."""
    if monkeypatch is not None:
        monkeypatch.setattr(shadow_cli, "clock", lambda: now or STARTED)
    args = ["shadow", step, "--arn", w.arn, *extra]
    if step != "compare":
        args += ["--poll-interval", "0"]
    return run_cli(deploy_cli.main, args, w.session)


def capture_line(event_id: str, label: int | None, inference_id: str = "", encoding: str = "JSON") -> str:
    """One data-capture record whose response predicts `label` (None: an error body)."""
    body = json.dumps(
        {"predictions": [{"label": label, "probability": 0.9}]} if label is not None else {"error": "x"}
    )
    if encoding == "BASE64":
        import base64

        body = base64.b64encode(body.encode()).decode()
    metadata = {"eventId": event_id, "inferenceTime": "2025-01-31T12:30:00Z"}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": "1,2",
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": body,
                    "encoding": encoding,
                },
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )
