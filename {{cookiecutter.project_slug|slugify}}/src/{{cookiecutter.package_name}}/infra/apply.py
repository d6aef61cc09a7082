"""Deploying the plan: create or update each stack, wait, and collect the outputs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from ..config import Config
from .errors import BootstrapError
from .plan import INFRA_DIR, plan
from .sessions import SessionFactory, check_sessions

OIDC_URL = "token.actions.githubusercontent.com"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# Waiter pacing for real CloudFormation; stacks with IAM roles take a few minutes.
WAIT_DELAY_SECONDS = 10
WAIT_MAX_ATTEMPTS = 180
NO_UPDATES = "No updates are to be performed"


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _error_message(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message", str(exc))


def describe_stack(cf: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cf.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if _error_code(exc) == "ValidationError" and "does not exist" in _error_message(exc):
            return None
        raise
    return stacks[0] if stacks else None


def failure_reason(cf: Any, name: str) -> str:
    """The first failure reason in the stack's recent events, oldest first."""
    try:
        events = cf.describe_stack_events(StackName=name)["StackEvents"]
    except Exception:
        return "no event details"
    for event in reversed(events):
        if event.get("ResourceStatus", "").endswith("FAILED") and event.get("ResourceStatusReason"):
            return f"{event.get('LogicalResourceId')}: {event['ResourceStatusReason']}"
    return "no failure reason recorded"


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def is_current(
    cf: Any, stack: dict[str, Any], template_body: str, parameters: dict[str, str], tags: dict[str, str]
) -> bool:
    """True when the deployed stack already has this exact template text, these parameter values
    and tags, so an update could change nothing and no UpdateStack call is needed.

    Parameters the caller leaves to their template defaults are not compared: a changed default
    changes the template text.
    """
    deployed_params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    if any(deployed_params.get(key) != value for key, value in parameters.items()):
        return False
    if {t["Key"]: t["Value"] for t in stack.get("Tags", [])} != tags:
        return False
    body = cf.get_template(StackName=stack["StackName"], TemplateStage="Original").get("TemplateBody")
    return body == template_body


def deploy_stack(
    cf: Any,
    name: str,
    template_body: str,
    parameters: dict[str, str],
    tags: dict[str, str],
) -> tuple[str, dict[str, str]]:
    """Create or update one stack and wait; return (outcome, outputs).

    The outcome is "created", "updated" or "unchanged": the deployed stack already matches
    (`is_current`, no UpdateStack call) or CloudFormation answers "No updates are to be
    performed". It raises BootstrapError when the stack is in a state that needs a person
    (ROLLBACK_COMPLETE, an operation in progress) or when the operation fails.
    """
    from botocore.exceptions import ClientError, WaiterError

    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())]
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    waiter_config = {"Delay": WAIT_DELAY_SECONDS, "MaxAttempts": WAIT_MAX_ATTEMPTS}
    stack = describe_stack(cf, name)
    if stack is None:
        cf.create_stack(
            StackName=name,
            TemplateBody=template_body,
            Parameters=params,
            Capabilities=CAPABILITIES,
            Tags=tag_list,
            OnFailure="ROLLBACK",
        )
        outcome, waiter = "created", "stack_create_complete"
    else:
        status = stack["StackStatus"]
        if status == "ROLLBACK_COMPLETE":
            raise BootstrapError(
                f"stack {name} is ROLLBACK_COMPLETE after a failed first creation "
                f"({failure_reason(cf, name)}); delete it "
                f"(aws cloudformation delete-stack --stack-name {name}) and run the bootstrap again"
            )
        if status.endswith("_IN_PROGRESS"):
            raise BootstrapError(f"stack {name} is {status}; wait for that operation to finish and run again")
        if status.endswith("_COMPLETE") and is_current(cf, stack, template_body, parameters, tags):
            return "unchanged", _outputs(stack)
        try:
            cf.update_stack(
                StackName=name,
                TemplateBody=template_body,
                Parameters=params,
                Capabilities=CAPABILITIES,
                Tags=tag_list,
            )
        except ClientError as exc:
            if NO_UPDATES in _error_message(exc):
                return "unchanged", _outputs(stack)
            raise BootstrapError(f"stack {name}: update rejected: {_error_message(exc)}") from exc
        outcome, waiter = "updated", "stack_update_complete"
    try:
        cf.get_waiter(waiter).wait(StackName=name, WaiterConfig=waiter_config)
    except WaiterError as exc:
        raise BootstrapError(f"stack {name} was not {outcome}: {failure_reason(cf, name)}") from exc
    final = describe_stack(cf, name) or {}
    return outcome, _outputs(final)


def existing_oidc_provider(iam: Any) -> str | None:
    """ARN of the account's GitHub OIDC provider, if one exists."""
    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        if provider["Arn"].endswith(f"oidc-provider/{OIDC_URL}"):
            return provider["Arn"]
    return None


@dataclass
class Result:
    """What a bootstrap run did: outcome per stack name and account, and every stack's outputs."""

    outcomes: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


def run(
    cfg: Config,
    session_for: SessionFactory,
    *,
    infra_dir: Path = INFRA_DIR,
    oidc_provider: str = "auto",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> Result:
    """Deploy every stack of `plan(cfg)` in order with per-account sessions; return what happened.

    `session_for(account_role, account_id)` returns a boto3 Session for that account (tests
    pass sessions for simulated accounts). `oidc_provider`: "auto" deploys the provider stack
    unless the account already has a provider made outside it, "create" always deploys it,
    "existing" requires a provider to exist and deploys no provider stack.
    """
    region = cfg.region
    specs = plan(cfg)
    sessions = check_sessions(cfg, session_for)
    tags = {"project": cfg.project.slug, "managed-by": "bootstrap"}
    result = Result()
    provider_arns: dict[str, str] = {}
    for spec in specs:
        session = sessions[spec.account]
        cf = session.client("cloudformation", region_name=region)
        where = f"{spec.name} ({spec.account})"
        if spec.oidc:
            iam = session.client("iam", region_name=region)
            found = existing_oidc_provider(iam)
            if oidc_provider == "existing" or (
                oidc_provider == "auto" and found and describe_stack(cf, spec.name) is None
            ):
                if not found:
                    raise BootstrapError(
                        f"account {spec.account} has no OIDC provider for {OIDC_URL}; "
                        "run with --oidc-provider auto or create"
                    )
                provider_arns[spec.account] = found
                result.outcomes[where] = "reused"
                log(f"{where}: reusing the existing provider {found}")
                continue
        params = spec.resolved_parameters(result.outputs)
        if "GitHubOidcProviderArn" in params:
            params["GitHubOidcProviderArn"] = provider_arns.get(spec.account, "")
        body = (infra_dir / spec.template).read_text()
        stack_tags = tags if not spec.oidc else {"managed-by": "bootstrap"}
        log(f"{where}: deploying {spec.template} ...")
        outcome, outputs = deploy_stack(cf, spec.name, body, params, stack_tags)
        result.outcomes[where] = outcome
        result.outputs[spec.key] = outputs
        if spec.oidc:
            provider_arns[spec.account] = outputs.get("GitHubOidcProviderArn", "")
        log(f"{where}: {outcome}")
    return result


def role_outputs(cfg: Config, result: Result) -> dict[str, str]:
    """The ARNs and names the workflows and deploy code use, from the stacks' outputs."""
    shared = result.outputs.get("shared-services", {})
    data_science = result.outputs.get("data-science", {})
    values = {
        "feature_build_role_arn": data_science.get("FeatureBuildRoleArn", ""),
        "build_role_arn": data_science.get("BuildRoleArn", ""),
        "feature_pipeline_role_arn": data_science.get("FeaturePipelineRoleArn", ""),
        "pipeline_role_arn": data_science.get("PipelineRoleArn", ""),
        "registry_qa_role_arn": shared.get("RegistryQaRoleArn", ""),
        "registry_prod_role_arn": shared.get("RegistryProdRoleArn", ""),
        "artifact_bucket": shared.get("ArtifactBucketName", ""),
        "artifact_kms_key_arn": shared.get("ArtifactKeyArn", ""),
    }
    for env in config.ENVIRONMENTS:
        workload = result.outputs.get(f"workload:{cfg.environment(env).account}", {})
        deploy = result.outputs.get(f"deploy-{env}", {})
        values[f"deploy_role_arn_{env}"] = deploy.get("DeployRoleArn", "")
        values[f"batch_role_arn_{env}"] = deploy.get("BatchRoleArn", "")
        values[f"endpoint_role_arn_{env}"] = workload.get("EndpointRoleArn", "")
        values[f"data_capture_bucket_{env}"] = workload.get("CaptureBucketName", "")
        values[f"data_capture_kms_key_arn_{env}"] = workload.get("CaptureKeyArn", "")
    if data_science.get("DataScientistRoleArn"):
        # The role_arn of the data scientists' AWS profile (make run PROFILE=...).
        values["data_scientist_role_arn"] = data_science["DataScientistRoleArn"]
    return values
