"""The retraining event source (infra/retraining-events.yaml): where events go, who sends them, no token.

- Every EventBridge API destination is exactly `POST https://api.github.com/repos/OWNER/REPO/dispatches`
  of the configured repository, so no event (object keys, alarm names) goes anywhere else.
- Every connection authenticates with the `Authorization` header holding
  `retraining_events.PLACEHOLDER_TOKEN`: the real token is set outside CloudFormation and never
  written in a template; no string in a template looks like a GitHub token or another bearer value.
- Only the event-source roles (`<model>-retraining-new-data`, `<model>-retraining-drift`) may
  trust events.amazonaws.com, only for their own account (`aws:SourceAccount`), and they may do
  nothing but events:InvokeApiDestination on the API destinations of their own template; no role
  invokes any other destination.
- Every rule target is such a destination, called with such a role, with a retry policy and a
  dead-letter queue.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...config import Config
from .. import retraining_events
from ..cfn import Resolver
from .base import Context, Finding, as_list, label, statements

EVENTS_SERVICE = "events.amazonaws.com"
INVOKE = "events:InvokeApiDestination"
API_DESTINATION = "AWS::Events::ApiDestination"
CONNECTION = "AWS::Events::Connection"
# GitHub token formats (classic, OAuth, user-to-server, server-to-server, refresh, fine-grained).
GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")
BEARER = re.compile(r"Bearer\s+([^\s\"']+)")


def event_roles(cfg: Config | None) -> frozenset[str]:
    """The role names that may trust EventBridge: the event sources' invoke roles."""
    if cfg is None:
        return frozenset()
    sources = (retraining_events.NEW_DATA, retraining_events.DRIFT)
    return frozenset(retraining_events.resource_name(cfg, source) for source in sources)


def trusted_services(role_name: str, ctx: Context) -> frozenset[str]:
    """Services the role may trust beyond SageMaker (EventBridge for the event-source roles)."""
    return frozenset({EVENTS_SERVICE}) if role_name in event_roles(ctx.cfg) else frozenset()


def check_event_source(
    template: dict[str, Any], resolver: Resolver, ctx: Context, where: str
) -> list[Finding]:
    """The rules above for one resolved template (nothing to check: no finding)."""
    findings = _token_literals(template, where)
    resources = {lid: r for lid, r in template["Resources"].items() if resolver.active(lid)}
    destinations = {
        str(resolver.attribute(lid, "Arn")) for lid, r in resources.items() if r["Type"] == API_DESTINATION
    }
    roles = {}
    for logical_id, resource in resources.items():
        at = f"{where} {logical_id}"
        props = resolver.properties(logical_id)
        kind = resource["Type"]
        if kind == API_DESTINATION:
            findings += _destination(at, props, ctx)
        elif kind == CONNECTION:
            findings += _connection(at, props)
        elif kind == "AWS::IAM::Role":
            roles[str(resolver.attribute(logical_id, "Arn"))] = str(props.get("RoleName", logical_id))
            findings += _role(at, props, resolver.account, destinations, ctx)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Events::Rule":
            props = resolver.properties(logical_id)
            findings += _targets(f"{where} {logical_id}", props, destinations, roles)
    return findings


def _token_literals(template: dict[str, Any], where: str) -> list[Finding]:
    text = json.dumps(template)
    findings = [
        Finding(
            where,
            f"holds what looks like a GitHub token ({m[0][:8]}...); set tokens with "
            "aws events update-connection, never in a template",
        )
        for m in GITHUB_TOKEN.finditer(text)
    ]
    placeholder = retraining_events.PLACEHOLDER_TOKEN.split(" ", 1)[1]
    findings += [
        Finding(
            where,
            f"holds a bearer value other than the placeholder ({m[1][:4]}...); the token "
            "is set with aws events update-connection, never in a template",
        )
        for m in BEARER.finditer(text)
        if m[1] != placeholder
    ]
    return findings


def _destination(at: str, props: dict[str, Any], ctx: Context) -> list[Finding]:
    findings = []
    url = f"https://api.github.com/repos/{ctx.owner}/{ctx.repo}/dispatches"
    if props.get("InvocationEndpoint") != url:
        findings.append(
            Finding(
                at,
                f"invocation endpoint {props.get('InvocationEndpoint')!r} is not {url} "
                "(this repository's dispatch API)",
            )
        )
    if props.get("HttpMethod") != "POST":
        findings.append(Finding(at, f"HttpMethod {props.get('HttpMethod')!r}; the dispatch API takes POST"))
    return findings


def _connection(at: str, props: dict[str, Any]) -> list[Finding]:
    expected = {
        "ApiKeyAuthParameters": {
            "ApiKeyName": "Authorization",
            "ApiKeyValue": retraining_events.PLACEHOLDER_TOKEN,
        }
    }
    if props.get("AuthorizationType") == "API_KEY" and props.get("AuthParameters") == expected:
        return []
    return [
        Finding(
            at,
            "authorization is not exactly API_KEY Authorization with the placeholder "
            f"{retraining_events.PLACEHOLDER_TOKEN!r} (the token is set outside the template)",
        )
    ]


def _role(
    at: str, props: dict[str, Any], account: str, destinations: set[str], ctx: Context
) -> list[Finding]:
    findings = []
    trusted = False
    for index, item in enumerate(statements(props.get("AssumeRolePolicyDocument"))):
        principal = item.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if EVENTS_SERVICE not in services:
            continue
        trusted = True
        source = ((item.get("Condition") or {}).get("StringEquals") or {}).get("aws:SourceAccount")
        if as_list(source) != [account]:
            findings.append(
                Finding(
                    f"{at} trust {label(index, item)}",
                    f"trusts {EVENTS_SERVICE} without StringEquals aws:SourceAccount {account}",
                )
            )
    for policy in props.get("Policies", []):
        for index, item in enumerate(statements(policy.get("PolicyDocument"))):
            if item.get("Effect") != "Allow":
                continue
            s_at = f"{at} policy {policy.get('PolicyName')} {label(index, item)}"
            actions = {str(a) for a in as_list(item.get("Action"))}
            if trusted and actions - {INVOKE}:
                findings.append(
                    Finding(
                        s_at,
                        f"grants {', '.join(sorted(actions - {INVOKE}))} to a role EventBridge "
                        f"assumes; it may only {INVOKE}",
                    )
                )
            others = sorted(str(r) for r in as_list(item.get("Resource")) if str(r) not in destinations)
            if INVOKE in actions and others:
                findings.append(
                    Finding(
                        s_at,
                        f"lets the role invoke {', '.join(others)}; only this template's "
                        "dispatch API destination may be invoked",
                    )
                )
    return findings


def _targets(at: str, props: dict[str, Any], destinations: set[str], roles: dict[str, str]) -> list[Finding]:
    findings = []
    for target in as_list(props.get("Targets")):
        t_at = f"{at} target {target.get('Id')}"
        if str(target.get("Arn")) not in destinations:
            arn = target.get("Arn")
            findings.append(Finding(t_at, f"sends events to {arn!r}; only the dispatch API destination"))
        if str(target.get("RoleArn")) not in roles:
            findings.append(Finding(t_at, "is not called with this template's invoke role"))
        if not (target.get("DeadLetterConfig") or {}).get("Arn") or not target.get("RetryPolicy"):
            lost = "has no dead-letter queue or no retry policy; failed events would be lost"
            findings.append(Finding(t_at, lost))
    return findings
