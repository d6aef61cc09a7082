"""A test double of SageMaker Pipelines' versions and start tokens, for the pipeline CLI tests.

moto 5.2.5 keeps one definition per pipeline: UpdatePipeline returns no PipelineVersionId, and
StartPipelineExecution ignores PipelineVersionId and ClientRequestToken (every call starts a
new execution of the latest definition). `PipelineService` answers the pipeline calls of the
clients it is attached to (botocore `before-call`, after botocore validated the request against
the service model), as SageMaker documents them:

- CreatePipeline stores version 1, and refuses a name that exists (ValidationException, the
  message SageMaker sends); UpdatePipeline stores a new version and returns its
  PipelineVersionId (ResourceNotFound for an unknown pipeline);
- StartPipelineExecution runs the version it names (else the latest) and, for a
  ClientRequestToken it has seen, returns the execution that token started instead of starting
  another;
- DescribePipelineExecution, ListPipelineParametersForExecution and
  DescribePipelineDefinitionForExecution report what each execution was started with.

Every call is recorded in `calls` as (operation, request), in order.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse

from deploy_helpers import REGION

OPERATIONS = (
    "CreatePipeline",
    "UpdatePipeline",
    "StartPipelineExecution",
    "DescribePipelineExecution",
    "ListPipelineParametersForExecution",
    "DescribePipelineDefinitionForExecution",
)


class PipelineService:
    """The double; its methods named like the operations answer them."""

    def __init__(self, account: str = "111111111111", region: str = REGION) -> None:
        self.account = account
        self.region = region
        self.versions: dict[str, list[str]] = {}  # pipeline name -> definitions, version N at [N-1]
        self.executions: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def attach(self, client: Any) -> Any:
        for operation in OPERATIONS:
            client.meta.events.register(f"before-call.sagemaker.{operation}", self._answer)
        return client

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{name}"

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        request = json.loads(params["body"] or b"{}")
        self.calls.append((model.name, request))
        try:
            body = getattr(self, model.name)(request)
        except LookupError as exc:
            code, message = exc.args
            return AWSResponse(None, 400, {}, None), {"Error": {"Code": code, "Message": message}}
        return AWSResponse(None, 200, {}, None), body

    def _pipeline(self, name: str) -> list[str]:
        if name not in self.versions:
            raise LookupError("ResourceNotFound", f"Pipeline {self.arn(name)} does not exist.")
        return self.versions[name]

    def _execution(self, arn: str) -> dict[str, Any]:
        if arn not in self.executions:
            raise LookupError("ResourceNotFound", f"Pipeline execution {arn} does not exist.")
        return self.executions[arn]

    def CreatePipeline(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["PipelineName"]
        if name in self.versions:
            raise LookupError(
                "ValidationException",
                "Pipeline names must be unique within an AWS account and region. "
                f"Pipeline with name ({name}) already exists.",
            )
        self.versions[name] = [request["PipelineDefinition"]]
        return {"PipelineArn": self.arn(name)}

    def UpdatePipeline(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["PipelineName"]
        versions = self._pipeline(name)
        versions.append(request["PipelineDefinition"])
        return {"PipelineArn": self.arn(name), "PipelineVersionId": len(versions)}

    def StartPipelineExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["PipelineName"]
        versions = self._pipeline(name)
        token = request["ClientRequestToken"]
        if token in self.tokens:
            return {"PipelineExecutionArn": self.tokens[token]}
        version = request.get("PipelineVersionId", len(versions))
        if not 1 <= version <= len(versions):
            raise LookupError("ResourceNotFound", f"Pipeline {name} has no version {version}.")
        arn = f"{self.arn(name)}/execution/{len(self.executions) + 1:012d}"
        self.executions[arn] = {
            "pipeline": name,
            "version": version,
            "definition": versions[version - 1],
            "parameters": request.get("PipelineParameters", []),
            "token": token,
        }
        self.tokens[token] = arn
        return {"PipelineExecutionArn": arn}

    def DescribePipelineExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["PipelineExecutionArn"]
        execution = self._execution(arn)
        return {
            "PipelineArn": self.arn(execution["pipeline"]),
            "PipelineExecutionArn": arn,
            "PipelineExecutionStatus": "Executing",
            "PipelineVersionId": execution["version"],
        }

    def ListPipelineParametersForExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"PipelineParameters": self._execution(request["PipelineExecutionArn"])["parameters"]}

    def DescribePipelineDefinitionForExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(request["PipelineExecutionArn"])
        return {"PipelineDefinition": execution["definition"], "CreationTime": datetime.now(UTC)}
