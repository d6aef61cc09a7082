"""A moto server on 127.0.0.1 that stands in for AWS while act runs the generated workflows.

moto keeps the state (S3, STS, IAM, SageMaker registry, models, endpoint configs, endpoints,
CloudWatch alarms) and this module fills, inside the test process, the gaps that stop
the workflows from running end to end against it. Each gap-filler is a test double and says so:

1. Cross-account registry calls. SageMaker serves a model package group or package named by
   ARN from the account in the ARN (the resource policy decides access); moto 5.2.5 always
   looks in the caller's account. Model-package calls whose ARN names another account are
   routed to that account's backend, and a group ARN is reduced to its name for moto.
   `UpdateModelPackage` changes only the fields a request names (moto 5.2.5 clears the approval
   description and customer metadata a request leaves out) and keeps `ModelLifeCycle`, which
   `DescribeModelPackage` then returns, as SageMaker does.
2. Pipeline versions and executions. moto 5.2.5 answers `UpdatePipeline` without a
   `PipelineVersionId` and ignores the version and `ClientRequestToken` of a start. Here every
   `UpdatePipeline` stores its definition as a new numbered version and answers with its ID; a
   start runs the definition of the version it names (an unknown version is refused, as
   SageMaker does) and a repeated token returns the first execution. moto records
   `StartPipelineExecution` as instantly Succeeded and runs nothing. Here an execution runs the
   repository's own step scripts locally, the way the local rehearsal does (preprocess -> train
   -> evaluate, model.tar.gz packed as SageMaker packs SM_MODEL_DIR; evaluate gets the
   definition's container arguments and its champion input), evaluates the
   definition's ConditionStep on evaluation.json, and on a pass performs its RegisterModel
   step: every `Get`/`Std:Join`/`Std:JsonGet` in the step's arguments is resolved and the
   package is created in the group's account, after the checks CreateModelPackage makes on
   customer metadata (botocore's service model gives the pattern; moto checks nothing).
   Artifacts (the data splits too) land in the S3 locations the definition names.
   `ListPipelineExecutionSteps` (absent in moto) returns the emulated steps.
   A segmented definition (one `Train-<segment>` per segment) runs through segmented_pipeline.py.
   `CreateModel` keeps `EnableNetworkIsolation`, which `DescribeModel` answers (moto 5.2.5 drops it).
3. Endpoint updates and invocations. moto 5.2.5 has no `UpdateEndpoint`; here it switches the
   endpoint to the new config at once (InService; no traffic shifting, no alarm evaluation).
   moto's `InvokeEndpoint` returns canned bodies. Here it loads the
   model.tar.gz the endpoint's model points at (through its model package, across accounts)
   and answers through the handler packed in it (code/inference.py), so the endpoint tests
   exercise the model that was actually deployed. Bad input gives SageMaker's ModelError.
   A test may set `serve_only` to the model data URLs that work; any other model answers every
   request with a 500 ModelError (a broken model, to exercise test failure and rollback).
   A test may set `flip_unless` to the model data URLs that answer honestly; any other model
   answers every row with the opposite label and probability 1 - p (a model that runs and
   answers well-formed but wrong predictions, to exercise an accuracy check).
   A multi-model endpoint answers by the request's TargetModel (segmented_pipeline.py).
   moto's `InvokeEndpointAsync` returns canned locations and writes nothing. Here an async
   endpoint (its config has an AsyncInferenceConfig) reads the input object, answers through the
   same handler at once (no queue, no scaling) and writes the answer to the config's
   S3OutputPath, or a failure object naming the status to S3FailurePath; the run is logged in
   `async_log`.
4. Batch Transform. moto's `CreateTransformJob` stores the job as Completed and runs nothing.
   Here the job runs at once as SplitType Line, JoinSource Input would, by its BatchStrategy:
   SingleRecord sends each non-blank line of each object under the input prefix as one
   request to the job's model (the same handler); MultiRecord sends mini-batches of whole
   lines up to MaxPayloadInMB, one request each, and splits each answer by line. `<key>.out`
   under S3OutputPath holds the input lines joined with their answers; a request the model
   refuses, or a MultiRecord answer without one line per record, marks the job Failed with a
   reason. Runs (with their request counts) are logged in `transform_log`.
   moto's `ListModels` ignores `NameContains` (it lists every model of the account); here it
   lists only the models whose name contains it, as SageMaker does (case-insensitively: the API
   reference does not say, and listing more is the stricter test of what the caller filters).

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unicodedata
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3

ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):(\d{12}):model-package")
TEST_KEY = "testing"


class AwsEmulator:
    """Start with `with AwsEmulator(repo_dir, region) as aws:`; `aws.url` is the endpoint URL.

    `repo_dir` is the model repository whose step scripts stand in for the pipeline's jobs.
    """

    def __init__(self, repo_dir: Path, region: str) -> None:
        self.repo_dir = Path(repo_dir)
        self.region = region
        self.url = ""
        self.executions: dict[str, list[dict[str, Any]]] = {}
        self.pipeline_versions: dict[tuple[str, str], list[str]] = {}
        # Model Monitor resources per account: kind -> name -> the stored create request.
        self.monitoring: dict[str, dict[str, dict[str, Any]]] = {}
        self.start_tokens: dict[tuple[str, str, str], str] = {}
        self._starting: dict[str, Any] = {}
        self.execution_log: list[dict[str, Any]] = []
        self._models: dict[str, Any] = {}
        self.serve_only: set[str] | None = None
        self.flip_unless: set[str] | None = None
        self.async_log: list[dict[str, Any]] = []
        self.transform_log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._work = Path(tempfile.mkdtemp(prefix="aws-emulator-"))

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> AwsEmulator:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._patch()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        host, port = server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # moto keeps its state in the process: another world started earlier in this test session
        # (another act module) must not leave its buckets, roles or stacks in this one.
        self._reset()
        self._stack.callback(self._reset)
        return self

    def _reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def credentials(self, account: str, session_name: str = "emulator") -> dict[str, str]:
        """Temporary credentials that moto maps to `account` (STS AssumeRole into that account)."""
        sts = boto3.client(
            "sts",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=TEST_KEY,
            aws_secret_access_key=TEST_KEY,
        )
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/emulator", RoleSessionName=session_name)[
            "Credentials"
        ]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def client(self, service: str, account: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=self.region, **self.credentials(account))

    # ------------------------------------------------------------------ patches

    def _patch(self) -> None:
        from moto.sagemaker import models as sm_models
        from moto.sagemaker import responses as sm_responses
        from moto.sagemakerruntime import responses as rt_responses

        emulator = self
        response_cls = sm_responses.SageMakerResponse
        original_backend = response_cls.sagemaker_backend
        original_get_param = response_cls._get_param
        original_start = sm_models.SageMakerModelBackend.start_pipeline_execution

        def routed_backend(self: Any) -> Any:
            account = emulator._arn_account(self)
            if account and account != self.current_account:
                return sm_models.sagemaker_backends[account][self.region]
            return original_backend.fget(self)

        def get_param(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            value = original_get_param(self, name, *args, **kwargs)
            if name == "ModelPackageGroupName" and isinstance(value, str) and value.startswith("arn:"):
                return value.split("/")[-1]
            return value

        def start_pipeline_execution(backend: Any, pipeline_name: str, *args: Any, **kwargs: Any) -> Any:
            result = original_start(backend, pipeline_name, *args, **kwargs)
            emulator._run_execution(backend, pipeline_name, result["PipelineExecutionArn"])
            return result

        original_update_pipeline = response_cls.update_pipeline
        original_start_response = response_cls.start_pipeline_execution

        def update_pipeline(self: Any) -> Any:
            original_update_pipeline(self)  # moto stores the newest definition
            key = (self.current_account, self._get_param("PipelineName"))
            versions = emulator.pipeline_versions.setdefault(key, [])
            versions.append(self._get_param("PipelineDefinition"))
            arn = self.sagemaker_backend.pipelines[key[1]].arn
            return sm_responses.ActionResult({"PipelineArn": arn, "PipelineVersionId": len(versions)})

        def start_pipeline_execution_response(self: Any) -> Any:
            name = self._get_param("PipelineName")
            version = self._get_param("PipelineVersionId")
            token = self._get_param("ClientRequestToken")
            definitions = emulator.pipeline_versions.get((self.current_account, name), [])
            if version is not None and not 1 <= int(version) <= len(definitions):
                return _error(400, "ValidationException", f"Pipeline {name} has no version {version}")
            seen = emulator.start_tokens.get((self.current_account, name, token or ""))
            if token and seen:
                return json.dumps({"PipelineExecutionArn": seen})
            emulator._starting[name] = (int(version), definitions[int(version) - 1]) if version else None
            try:
                result = original_start_response(self)
            finally:
                emulator._starting.pop(name, None)
            if token:
                arn = result.result["PipelineExecutionArn"]
                emulator.start_tokens[(self.current_account, name, token)] = arn
            return result

        def list_pipeline_execution_steps(self: Any) -> Any:
            arn = self._get_param("PipelineExecutionArn")
            steps = list(emulator.executions.get(arn, []))
            if self._get_param("SortOrder") == "Descending":
                steps.reverse()
            return json.dumps({"PipelineExecutionSteps": steps})

        def invoke_endpoint(self: Any) -> Any:
            from segmented_pipeline import invoke_multi_model  # a multi-model endpoint's TargetModel

            return invoke_multi_model(emulator, self) or emulator._invoke(self)

        def invoke_endpoint_async(self: Any) -> Any:
            return emulator._invoke_async(self)

        original_create_transform_job = response_cls.create_transform_job

        def create_transform_job(self: Any) -> Any:
            result = original_create_transform_job(self)  # moto stores the job, Completed at once
            emulator._run_transform(self.sagemaker_backend, self._get_param("TransformJobName"))
            return result

        def update_model_package(self: Any) -> Any:
            arn = self._get_param("ModelPackageArn")
            backend = self.sagemaker_backend
            package = backend.model_packages.get(backend.model_package_name_mapping.get(arn, arn))
            if package is None:
                return _error(400, "ValidationException", f"Model package {arn} not found")
            if self._get_param("ModelApprovalStatus") is not None:
                package.set_model_approval_status(self._get_param("ModelApprovalStatus"))
            if self._get_param("ApprovalDescription") is not None:
                package.approval_description = self._get_param("ApprovalDescription")
            if self._get_param("CustomerMetadataProperties"):
                package.customer_metadata_properties = {
                    **(package.customer_metadata_properties or {}),
                    **self._get_param("CustomerMetadataProperties"),
                }
            package.remove_customer_metadata_property(self._get_param("CustomerMetadataPropertiesToRemove", []))
            if self._get_param("ModelLifeCycle") is not None:
                package.model_life_cycle = self._get_param("ModelLifeCycle")
            package.modifications_done()
            return json.dumps({"ModelPackageArn": package.arn})

        def update_endpoint(self: Any) -> Any:
            backend = self.sagemaker_backend
            name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
            endpoint = backend.endpoints.get(name)
            config = backend.endpoint_configs.get(config_name)
            if endpoint is None or config is None:
                return _error(400, "ValidationException", f"Could not find endpoint {name} or config {config_name}")
            endpoint.endpoint_config_name = config_name
            endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = None
            return json.dumps({"EndpointArn": endpoint.arn})

        # moto drops CreateModel's EnableNetworkIsolation; SageMaker keeps it and DescribeModel
        # answers it (a batch run checks the model it finds is the deploy's, isolation included).
        isolated: dict[tuple[str, str, str], bool] = {}
        create_model_response = response_cls.create_model

        def create_model(self: Any) -> Any:
            result = create_model_response(self)
            key = (self.current_account, self.region, self._get_param("ModelName"))
            isolated[key] = self._get_param("EnableNetworkIsolation") is True
            return result

        def describe_model(self: Any) -> Any:
            name = self._get_param("ModelName")
            body = dict(self.sagemaker_backend.describe_model(name).response_object)
            body["EnableNetworkIsolation"] = isolated.get((self.current_account, self.region, name), False)
            return sm_responses.ActionResult(body)

        def list_models(self: Any) -> Any:
            contains = str(self._get_param("NameContains") or "").lower()
            models = [m for m in self.sagemaker_backend.list_models() if contains in m.model_name.lower()]
            return sm_responses.ActionResult({"Models": [m.response_object for m in models]})

        def describe_model_package(self: Any) -> Any:
            package = self.sagemaker_backend.describe_model_package(self._get_param("ModelPackageName"))
            body = package.gen_response_object()
            if getattr(package, "model_life_cycle", None):
                body["ModelLifeCycle"] = package.model_life_cycle
            return sm_responses.ActionResult(body)

        monitoring_patches = [(response_cls, name, call) for name, call in self._monitoring_calls().items()]
        patches = [
            *monitoring_patches,
            (response_cls, "sagemaker_backend", property(routed_backend)),
            (response_cls, "_get_param", get_param),
            (response_cls, "list_pipeline_execution_steps", list_pipeline_execution_steps),
            (sm_models.SageMakerModelBackend, "start_pipeline_execution", start_pipeline_execution),
            (response_cls, "update_pipeline", update_pipeline),
            (response_cls, "start_pipeline_execution", start_pipeline_execution_response),
            (response_cls, "update_model_package", update_model_package),
            (response_cls, "describe_model_package", describe_model_package),
            (response_cls, "create_model", create_model),
            (response_cls, "describe_model", describe_model),
            (response_cls, "list_models", list_models),
            (response_cls, "update_endpoint", update_endpoint),
            (rt_responses.SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint),
            (rt_responses.SageMakerRuntimeResponse, "invoke_endpoint_async", invoke_endpoint_async),
            (response_cls, "create_transform_job", create_transform_job),
        ]
        for owner, name, value in patches:
            missing = object()
            previous = owner.__dict__.get(name, missing)
            setattr(owner, name, value)
            if previous is missing:
                self._stack.callback(delattr, owner, name)
            else:
                self._stack.callback(setattr, owner, name, previous)

    def _monitoring_calls(self) -> dict[str, Any]:
        """Model Monitor's job definitions and schedules (moto has none): stored per account in
        `self.monitoring`, with SageMaker's not-found error for an unknown name."""
        emulator = self

        def store(response: Any, kind: str) -> dict[str, Any]:
            return emulator.monitoring.setdefault(response.current_account, {}).setdefault(kind, {})

        def describe(kind: str, key: str) -> Any:
            def call(response: Any) -> Any:
                name = response._get_param(key)
                found = store(response, kind).get(name)
                if found is None:
                    return _error(400, "ResourceNotFound", f"{kind} {name} does not exist")
                return json.dumps(found)

            return call

        def create(kind: str, key: str, arn_key: str) -> Any:
            def call(response: Any) -> Any:
                body = json.loads(response.body or "{}")
                name = body[key]
                if name in store(response, kind):
                    return _error(400, "ResourceInUse", f"{kind} {name} already exists")
                arn = f"arn:aws:sagemaker:{emulator.region}:{response.current_account}:{kind}/{name}"
                store(response, kind)[name] = {**body, arn_key: arn, "CreationTime": time.time()}
                return json.dumps({arn_key: arn})

            return call

        def delete(kind: str, key: str) -> Any:
            def call(response: Any) -> Any:
                name = response._get_param(key)
                if store(response, kind).pop(name, None) is None:
                    return _error(400, "ResourceNotFound", f"{kind} {name} does not exist")
                return "{}"

            return call

        def update_schedule(response: Any) -> Any:
            body = json.loads(response.body or "{}")
            found = store(response, "monitoring-schedule").get(body["MonitoringScheduleName"])
            if found is None:
                return _error(400, "ResourceNotFound", f"{body['MonitoringScheduleName']} does not exist")
            found["MonitoringScheduleConfig"] = body["MonitoringScheduleConfig"]
            return json.dumps({"MonitoringScheduleArn": found["MonitoringScheduleArn"]})

        calls: dict[str, Any] = {}
        for kind, prefix in (
            ("data-quality-job-definition", "data_quality"),
            ("model-quality-job-definition", "model_quality"),
        ):
            calls[f"describe_{prefix}_job_definition"] = describe(kind, "JobDefinitionName")
            calls[f"create_{prefix}_job_definition"] = create(kind, "JobDefinitionName", "JobDefinitionArn")
            calls[f"delete_{prefix}_job_definition"] = delete(kind, "JobDefinitionName")
        calls["describe_monitoring_schedule"] = describe("monitoring-schedule", "MonitoringScheduleName")
        calls["create_monitoring_schedule"] = create(
            "monitoring-schedule", "MonitoringScheduleName", "MonitoringScheduleArn"
        )
        calls["update_monitoring_schedule"] = update_schedule
        calls["delete_monitoring_schedule"] = delete("monitoring-schedule", "MonitoringScheduleName")
        return calls

    @staticmethod
    def _arn_account(response: Any) -> str | None:
        """Account named by a model-package ARN in a model-package request, else None."""
        action = response._get_action() if hasattr(response, "_get_action") else ""
        if "ModelPackage" not in action:
            return None
        try:
            params = json.loads(response.body or "{}")
        except (TypeError, ValueError):
            return None
        for key in ("ModelPackageName", "ModelPackageArn", "ModelPackageGroupName", "SourceArn"):
            match = ARN_ACCOUNT.match(str(params.get(key, "")))
            if match:
                return match.group(2)
        return None

    # ------------------------------------------------------------------ pipeline executions

    def _run_execution(self, backend: Any, pipeline_name: str, execution_arn: str) -> None:
        pipeline = backend.pipelines[pipeline_name]
        execution = pipeline.pipeline_executions[execution_arn]
        version, definition = self._starting.get(pipeline_name) or (None, pipeline.pipeline_definition)
        from segmented_pipeline import execution_run  # one model per segment, or _ExecutionRun

        run = execution_run(self, backend, json.loads(definition), execution)
        try:
            run.execute()
        except Exception as exc:  # the emulated execution fails; the workflow sees it
            run.fail_execution(f"emulated execution error: {exc}")
        self.executions[execution_arn] = run.steps
        self.execution_log.append(
            {
                "pipeline": pipeline_name,
                "version": version,
                "execution_arn": execution_arn,
                "status": execution.pipeline_execution_status,
                "parameters": run.params,
                "registered": run.registered,
            }
        )

    # ------------------------------------------------------------------ endpoint invocations

    def _invoke(self, response: Any) -> Any:
        name = response._get_params().get("EndpointName") or response.path.split("/")[2]
        backend, config = self._endpoint_config(response, name)
        if config is None:
            return _error(400, "ValidationError", f"Endpoint {name} of account {response.current_account} not found.")
        accept = response.headers.get("Accept") or "application/json"
        status, body, content_type = self._predict(
            backend,
            config.production_variants[0]["ModelName"],
            response.body,
            response.headers.get("Content-Type", ""),
            accept,
        )
        if status != 200:
            return _error(
                424, "ModelError", f"Received {_kind(status)} error ({status}) from primary", original=status, text=body
            )
        return 200, {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, body

    def _endpoint_config(self, response: Any, name: str) -> tuple[Any, Any]:
        """The caller's SageMaker backend and the config of its InService endpoint `name` (or None)."""
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[response.current_account][response.region]
        endpoint = backend.endpoints.get(name)
        if endpoint is None or endpoint.endpoint_status != "InService":
            return backend, None
        return backend, backend.endpoint_configs[endpoint.endpoint_config_name]

    def _data_url(self, backend: Any, model_name: str) -> str | None:
        """The model data a SageMaker model serves: its container's, or its model package's (any account)."""
        from moto.sagemaker.models import sagemaker_backends

        model = backend._models.get(model_name)
        if model is None:
            return None
        container = model.primary_container or (model.containers or [{}])[0]
        data_url = container.get("ModelDataUrl")
        if not data_url and container.get("ModelPackageName"):
            package_arn = container["ModelPackageName"]
            match = ARN_ACCOUNT.match(package_arn)
            owner = match.group(2) if match else backend.account_id
            package = sagemaker_backends[owner][backend.region_name].describe_model_package(package_arn)
            data_url = package.inference_specification["Containers"][0]["ModelDataUrl"]
        return data_url

    def _predict(
        self, backend: Any, model_name: str, body: Any, content_type: str, accept: str
    ) -> tuple[int, Any, str]:
        """(status, body, content type) of one request to `model_name` through its packed handler;
        the status the handler's InputError carries (400 unless it names another), 500 for a model
        without data or outside `serve_only`."""
        data_url = self._data_url(backend, model_name)
        if not data_url:
            return 500, "the model names no model data", "text/plain"
        if self.serve_only is not None and data_url not in self.serve_only:
            return 500, "broken", "text/plain"
        handler, loaded = self._load_model(data_url)
        try:
            prediction = handler.predict_fn(handler.input_fn(body, content_type), loaded)
            if self.flip_unless is not None and data_url not in self.flip_unless:
                prediction = [
                    {**p, "label": 1 - p["label"], "probability": round(1 - p["probability"], 6)} for p in prediction
                ]
            answer, answer_type = handler.output_fn(prediction, accept)
        except handler.InputError as exc:
            return getattr(exc, "status_code", 400), str(exc), "text/plain"
        return 200, answer, answer_type

    def _invoke_async(self, response: Any) -> Any:
        """InvokeEndpointAsync: the request is answered at once (no queue): the input object is read,
        the answer written to the config's S3OutputPath/<inference id>.out, or the failure (naming
        its status, as SageMaker's failure objects do) to S3FailurePath/<inference id>-error.out."""
        name = response.path.split("/")[2]
        backend, config = self._endpoint_config(response, name)
        if config is None:
            return _error(400, "ValidationError", f"Endpoint {name} of account {response.current_account} not found.")
        output = (config.async_inference_config or {}).get("OutputConfig")
        if not output:
            return _error(400, "ValidationError", f"Endpoint {name} is not an asynchronous endpoint.")
        headers = {k.lower(): v for k, v in response.headers.items()}
        location = headers.get("x-amzn-sagemaker-inputlocation", "")
        inference_id = headers.get("x-amzn-sagemaker-inference-id") or uuid.uuid4().hex
        s3 = self.client("s3", response.current_account)
        bucket, key = _split(location)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            return _error(400, "ValidationError", f"Could not read the input location {location}: {exc}")
        status, answer, _type = self._predict(
            backend,
            config.production_variants[0]["ModelName"],
            body,
            headers.get("x-amzn-sagemaker-content-type", ""),
            headers.get("x-amzn-sagemaker-accept") or "application/json",
        )
        output_uri = f"{output['S3OutputPath'].rstrip('/')}/{inference_id}.out"
        failure_uri = f"{output.get('S3FailurePath', output['S3OutputPath']).rstrip('/')}/{inference_id}-error.out"
        if status == 200:
            target, written = output_uri, answer if isinstance(answer, bytes) else str(answer).encode()
        else:
            target, written = failure_uri, f"Received {_kind(status)} error ({status}) from primary: {answer}".encode()
        out_bucket, out_key = _split(target)
        s3.put_object(Bucket=out_bucket, Key=out_key, Body=written)
        self.async_log.append({"endpoint": name, "input": location, "status": status, "written": target})
        headers_out = {"X-Amzn-SageMaker-OutputLocation": output_uri, "X-Amzn-SageMaker-FailureLocation": failure_uri}
        return 202, headers_out, json.dumps({"InferenceId": inference_id})

    def _run_transform(self, backend: Any, name: str) -> None:
        """A Batch Transform job as SageMaker runs one with SplitType Line and JoinSource Input:
        every object under the input prefix split into its non-blank lines, sent to the job's model
        one line per request (SingleRecord) or in mini-batches of whole lines up to MaxPayloadInMB
        (MultiRecord, whose answer is split by line and must hold one line per record); each output
        line the input line, a comma and its answer, written to <S3OutputPath>/<key relative to the
        prefix>.out. A refused request or an answer that does not split fails the job, naming it."""
        job = backend.transform_jobs[name]
        source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
        output_path = job.transform_output["S3OutputPath"]
        s3 = self.client("s3", backend.account_id)
        bucket, prefix = _split(source)
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        content_type = job.transform_input.get("ContentType", "")
        accept = job.transform_output.get("Accept") or "application/json"
        multi = job.batch_strategy == "MultiRecord"
        max_bytes = int(job.max_payload_in_mb or 6) * 1024 * 1024
        written, requests = [], 0

        def failed(reason: str) -> None:
            job.transform_job_status = "Failed"
            job.failure_reason = reason
            self.transform_log.append(
                {"job": name, "model": job.model_name, "input": source, "status": "Failed", "requests": requests}
            )

        for key in keys:
            text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            records = [line.rstrip(chr(13)) for line in text.split("\n") if line.strip()]
            batches: list[list[str]] = []
            size = 0
            for record in records:
                length = len(record.encode()) + 1
                if multi and length > max_bytes:
                    return failed(f"ClientError: {key}: a record of {length} bytes exceeds MaxPayloadInMB")
                if not multi or not batches or size + length > max_bytes:
                    batches.append([])
                    size = 0
                batches[-1].append(record)
                size += length
            lines = []
            for batch in batches:
                body = "".join(record + "\n" for record in batch) if multi else batch[0]
                requests += 1
                status, answer, _type = self._predict(backend, job.model_name, body, content_type, accept)
                if status != 200:
                    return failed(f"ClientError: {key}: the model answered {status}: {answer}")
                answer_text = answer.decode() if isinstance(answer, bytes) else str(answer)
                if multi:
                    answers = [line.rstrip(chr(13)) for line in answer_text.split("\n")]
                    answers = answers[:-1] if answers and answers[-1] == "" else answers
                else:
                    answers = [answer_text.strip()]
                if len(answers) != len(batch):
                    return failed(
                        f"ClientError: {key}: {len(answers)} answer lines for a mini-batch of {len(batch)} records"
                    )
                lines += [f"{record},{answer_line}" for record, answer_line in zip(batch, answers, strict=True)]
            out_bucket, out_key = _split(f"{output_path.rstrip('/')}/{key[len(prefix) :]}.out")
            s3.put_object(Bucket=out_bucket, Key=out_key, Body=("\n".join(lines) + "\n").encode())
            written.append(out_key)
        self.transform_log.append(
            {
                "job": name,
                "model": job.model_name,
                "input": source,
                "status": "Completed",
                "outputs": written,
                "requests": requests,
            }
        )

    def _load_model(self, data_url: str) -> tuple[Any, Any]:
        with self._lock:
            if data_url not in self._models:
                bucket, key = data_url[len("s3://") :].split("/", 1)
                raw = (
                    boto3.client(
                        "s3",
                        endpoint_url=self.url,
                        region_name=self.region,
                        aws_access_key_id=TEST_KEY,
                        aws_secret_access_key=TEST_KEY,
                    )
                    .get_object(Bucket=bucket, Key=key)["Body"]
                    .read()
                )
                target = Path(tempfile.mkdtemp(prefix="model-", dir=self._work))
                with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as archive:
                    archive.extractall(target, filter="data")
                spec = importlib.util.spec_from_file_location(
                    f"emulated_inference_{len(self._models)}", target / "code" / "inference.py"
                )
                handler = importlib.util.module_from_spec(spec)
                assert spec.loader is not None
                spec.loader.exec_module(handler)
                self._models[data_url] = (handler, handler.model_fn(str(target)))
            return self._models[data_url]


def _kind(status: int) -> str:
    return "client" if 400 <= status < 500 else "server"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _error(status: int, code: str, message: str, original: int | None = None, text: str = "") -> Any:
    body: dict[str, Any] = {"__type": code, "message": message}
    if original is not None:
        body.update({"OriginalStatusCode": original, "OriginalMessage": text or message})
    # moto takes the HTTP status from the "status" header of a handler's answer.
    headers = {"status": status, "x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return status, headers, json.dumps(body)


def metadata_problem(properties: dict[str, Any] | None) -> str | None:
    """Why SageMaker would refuse these CustomerMetadataProperties, or None.

    The service model's patterns: keys ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*){1,128}, values the same
    {1,256}, at most 50 entries.
    """
    if not properties:
        return None
    if len(properties) > 50:
        return f"{len(properties)} customer metadata entries; at most 50"

    def bad(text: str) -> list[str]:
        return [c for c in text if not (c in "_.:/=+-@" or unicodedata.category(c)[0] in "LZN")]

    for key, value in properties.items():
        for what, text, limit in (("key", key, 128), ("value", str(value), 256)):
            if not 1 <= len(text) <= limit or bad(text):
                return (
                    f"ValidationException: customer metadata {what} of {key!r} ({text[:60]!r}) fails "
                    f"the pattern [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]{{1,{limit}}}"
                )
    return None


def _walk(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        out.append(step)
        for branch in ("IfSteps", "ElseSteps"):
            out.extend(_walk(step.get("Arguments", {}).get(branch, [])))
    return out


def baseline_reports(features_csv: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The data-quality baseline's statistics.json and constraints.json for a header-less feature
    table, in Model Monitor's shapes (columns `_c0`, `_c1`, ... as the analyzer names them)."""
    rows = list(csv.reader(io.StringIO(features_csv.read_text())))
    columns = [f"_c{i}" for i in range(len(rows[0]) if rows else 0)]
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": len(rows)},
        "features": [
            {
                "name": name,
                "inferred_type": "String",
                "string_statistics": {"common": {"num_present": len(rows), "num_missing": 0}},
            }
            for name in columns
        ],
    }
    constraints = {
        "version": 0.0,
        "features": [{"name": name, "inferred_type": "String", "completeness": 1.0} for name in columns],
    }
    return statistics, constraints


class _ExecutionRun:
    """One emulated pipeline execution: local jobs, the gate, the registration."""

    def __init__(self, emulator: AwsEmulator, backend: Any, definition: dict[str, Any], execution: Any) -> None:
        self.emulator = emulator
        self.backend = backend
        self.definition = definition
        self.execution = execution
        self.execution_id = execution.arn.split("/")[-1]
        self.params = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])}
        for item in execution.pipeline_parameters or []:
            self.params[item["Name"]] = item["Value"]
        self.steps: list[dict[str, Any]] = []
        self.by_name = {step["Name"]: step for step in _walk(definition["Steps"])}
        self.properties: dict[str, Any] = {}
        self.property_files: dict[str, Any] = {}
        self.registered: str | None = None
        self.work = Path(tempfile.mkdtemp(prefix=f"execution-{self.execution_id}-", dir=emulator._work))

    # Expression resolution, as SageMaker Pipelines does it at run time.
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Get"}:
                return self.get(value["Get"])
            if set(value) == {"Std:Join"}:
                join = value["Std:Join"]
                return join["On"].join(str(self.resolve(v)) for v in join["Values"])
            if set(value) == {"Std:JsonGet"}:
                spec = value["Std:JsonGet"]
                document = self.resolve(spec["PropertyFile"])
                for part in spec["Path"].split("."):
                    document = document[part]
                return document
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def get(self, path: str) -> Any:
        if path.startswith("Parameters."):
            return self.params[path.split(".", 1)[1]]
        if path == "Execution.PipelineExecutionId":
            return self.execution_id
        if path == "Execution.PipelineExecutionArn":
            return self.execution.arn
        if path in self.properties:
            return self.properties[path]
        raise KeyError(f"the emulator cannot resolve {path!r}")

    # Steps.
    def record(self, name: str, status: str, metadata: dict[str, Any] | None = None, reason: str = "") -> None:
        now = time.time()
        step = {
            "StepName": name,
            "StepStatus": status,
            "StartTime": now,
            "EndTime": now,
            "Metadata": metadata or {},
        }
        if reason:
            step["FailureReason"] = reason
        self.steps.append(step)

    def fail_execution(self, reason: str) -> None:
        self.execution.pipeline_execution_status = "Failed"
        self.execution.pipeline_execution_failure_reason = reason

    def script(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        steps_dir = next((self.emulator.repo_dir / "src").glob("*/steps"))
        done = subprocess.run(
            [sys.executable, str(steps_dir / f"{name}.py"), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{name}.py exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")

    def s3(self) -> Any:
        return self.emulator.client("s3", self.backend.account_id)

    def processing_outputs(self, step_name: str) -> None:
        for output in self.by_name[step_name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
            key = f"Steps.{step_name}.ProcessingOutputConfig.Outputs['{output['OutputName']}'].S3Output.S3Uri"
            self.properties[key] = self.resolve(output["S3Output"]["S3Uri"])

    def upload(self, path: Path, uri: str) -> None:
        bucket, key = uri[len("s3://") :].split("/", 1)
        self.s3().put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def execute(self) -> None:
        work = self.work
        job = f"arn:aws:sagemaker:{self.emulator.region}:{self.backend.account_id}"
        # Preprocess: the input data the execution names, from S3.
        bucket, key = str(self.params["InputDataUri"])[len("s3://") :].split("/", 1)
        (work / "input").mkdir()
        (work / "input" / Path(key).name).write_bytes(self.s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        self.script("preprocess", ["--input-dir", str(work / "input"), "--output-dir", str(work / "data")])
        self.processing_outputs("Preprocess")
        for output in self.by_name["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
            name = output["OutputName"]  # each split's files, where the definition sends them
            prefix = self.properties[f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"]
            for path in sorted((work / "data" / name).iterdir()):
                self.upload(path, f"{prefix.rstrip('/')}/{path.name}")
        self.record("Preprocess", "Succeeded", {"ProcessingJob": {"Arn": f"{job}:processing-job/emulated-preprocess"}})
        # Train: hyperparameters as SageMaker passes them to a script (--name value).
        train = self.by_name["Train"]["Arguments"]
        hyper = [part for k, v in train.get("HyperParameters", {}).items() for part in (f"--{k}", str(v))]
        env = {
            "SM_MODEL_DIR": str(work / "model"),
            "SM_CHANNEL_TRAIN": str(work / "data" / "train"),
            "SM_CHANNEL_VALIDATION": str(work / "data" / "validation"),
        }
        (work / "model").mkdir()
        self.script("train", hyper, env)
        (work / "output").mkdir()
        archive = work / "output" / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for item in sorted((work / "model").iterdir()):
                tar.add(item, arcname=item.name)
        model_uri = (
            f"{self.resolve(train['OutputDataConfig']['S3OutputPath']).rstrip('/')}"
            f"/pipelines-{self.execution_id}-Train/output/model.tar.gz"
        )
        self.upload(archive, model_uri)
        self.properties["Steps.Train.ModelArtifacts.S3ModelArtifacts"] = model_uri
        self.record("Train", "Succeeded", {"TrainingJob": {"Arn": f"{job}:training-job/emulated-train"}})
        # Evaluate: evaluation.json to the step's evaluation output, and as its property file.
        # The definition's container arguments (champion, tolerance, metric) are passed on, and
        # its champion input (the served prod model.tar.gz) is downloaded as the job would.
        evaluate = self.by_name["Evaluate"]["Arguments"]
        arguments = [str(a) for a in self.resolve(evaluate.get("AppSpecification", {}).get("ContainerArguments") or [])]
        for item in evaluate.get("ProcessingInputs", []):
            if item["InputName"] == "champion":
                bucket, key = str(self.resolve(item["S3Input"]["S3Uri"]))[len("s3://") :].split("/", 1)
                (work / "champion").mkdir()
                body = self.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
                (work / "champion" / "model.tar.gz").write_bytes(body)
                arguments += ["--champion-dir", str(work / "champion")]
        self.script(
            "evaluate",
            [
                "--model-dir",
                str(work / "output"),
                "--test-dir",
                str(work / "data" / "test"),
                "--output-dir",
                str(work / "evaluation"),
                *arguments,
            ],
        )
        self.processing_outputs("Evaluate")
        report = json.loads((work / "evaluation" / "evaluation.json").read_text())
        for prop in self.by_name["Evaluate"].get("PropertyFiles", []):
            self.properties[f"Steps.Evaluate.PropertyFiles.{prop['PropertyFileName']}"] = report
        evaluation_prefix = next(
            uri for key, uri in self.properties.items() if key.startswith("Steps.Evaluate.ProcessingOutputConfig")
        )
        for name in ("evaluation.json", "predictions.csv"):
            if (work / "evaluation" / name).exists():
                self.upload(work / "evaluation" / name, f"{evaluation_prefix.rstrip('/')}/{name}")
        self.record("Evaluate", "Succeeded", {"ProcessingJob": {"Arn": f"{job}:processing-job/emulated-evaluate"}})
        self.baselines(job)
        # The gate, as the definition states it.
        gate = next(s for s in self.by_name.values() if s["Type"] == "Condition")
        outcome = all(self.condition(c) for c in gate["Arguments"]["Conditions"])
        self.record(gate["Name"], "Succeeded", {"Condition": {"Outcome": str(outcome).lower()}})
        branch = gate["Arguments"]["IfSteps" if outcome else "ElseSteps"]
        for step in branch:
            if step["Type"] == "RegisterModel":
                self.register(step)
                if self.registered is None:
                    return
            elif step["Type"] == "Fail":
                message = self.resolve(step["Arguments"]["ErrorMessage"])
                self.record(step["Name"], "Failed", {"Fail": {"ErrorMessage": message}}, reason=message)
                self.fail_execution(message)
                return
        self.execution.pipeline_execution_status = "Succeeded"

    def baselines(self, job: str) -> None:
        """The drift baselines: the framework-image helper steps run steps/baseline.py as the jobs
        would; the two QualityCheck steps stand in for Model Monitor's analyzer (an emulation: the
        analyzer image cannot run here), writing statistics.json/constraints.json in its format."""
        if "BaselineData" not in self.by_name:
            return
        work = self.work
        self.script(
            "baseline",
            ["features", "--train-dir", str(work / "data" / "train"), "--output-dir", str(work / "features")],
        )
        self.processing_outputs("BaselineData")
        features_uri = self.properties["Steps.BaselineData.ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri"]
        self.upload(work / "features" / "features.csv", f"{features_uri.rstrip('/')}/features.csv")
        self.record(
            "BaselineData", "Succeeded", {"ProcessingJob": {"Arn": f"{job}:processing-job/emulated-baseline-data"}}
        )
        statistics, constraints = baseline_reports(work / "features" / "features.csv")
        self.quality_check("DataQualityBaseline", job, statistics, constraints)
        calculated = work / "calculated"
        calculated.mkdir()
        (calculated / "constraints.json").write_text(json.dumps(constraints))
        step = self.by_name["DataQualityConstraints"]["Arguments"]
        arguments = [str(a) for a in self.resolve(step["AppSpecification"].get("ContainerArguments") or [])]
        self.script(
            "baseline",
            [*arguments[:1], "--input-dir", str(calculated), "--output-dir", str(work / "constraints"), *arguments[1:]],
        )
        self.processing_outputs("DataQualityConstraints")
        out = self.properties[
            "Steps.DataQualityConstraints.ProcessingOutputConfig.Outputs['constraints'].S3Output.S3Uri"
        ]
        self.upload(work / "constraints" / "constraints.json", f"{out.rstrip('/')}/constraints.json")
        self.record(
            "DataQualityConstraints",
            "Succeeded",
            {"ProcessingJob": {"Arn": f"{job}:processing-job/emulated-constraints"}},
        )
        model_constraints = {
            "version": 0.0,
            "binary_classification_constraints": {
                "auc": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"}
            },
        }
        self.quality_check("ModelQualityBaseline", job, {"version": 0.0}, model_constraints)

    def quality_check(self, name: str, job: str, statistics: dict[str, Any], constraints: dict[str, Any]) -> None:
        step = self.by_name[name]["Arguments"]
        [output] = step["ProcessingOutputConfig"]["Outputs"]
        prefix = str(self.resolve(output["S3Output"]["S3Uri"])).rstrip("/")
        for kind, document in (("Statistics", statistics), ("Constraints", constraints)):
            uri = f"{prefix}/{kind.lower()}.json"
            bucket, key = uri[len("s3://") :].split("/", 1)
            self.s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())
            for prop in ("CalculatedBaseline", "BaselineUsedForDriftCheck"):
                self.properties[f"Steps.{name}.{prop}{kind}"] = uri
        self.record(name, "Succeeded", {"QualityCheck": {"CheckType": self.by_name[name].get("CheckType")}})

    def condition(self, condition: dict[str, Any]) -> bool:
        left, right = float(self.resolve(condition["LeftValue"])), float(self.resolve(condition["RightValue"]))
        operators = {
            "GreaterThanOrEqualTo": left >= right,
            "GreaterThan": left > right,
            "LessThanOrEqualTo": left <= right,
            "LessThan": left < right,
            "Equals": left == right,
        }
        return operators[condition["Type"]]

    def register(self, step: dict[str, Any]) -> None:
        from moto.sagemaker.models import sagemaker_backends

        args = self.resolve({k: v for k, v in step["Arguments"].items() if k != "SkipModelValidation"})
        group = args["ModelPackageGroupName"]
        match = ARN_ACCOUNT.match(group)
        owner = match.group(2) if match else self.backend.account_id
        registry = sagemaker_backends[owner][self.emulator.region]
        problem = metadata_problem(args.get("CustomerMetadataProperties"))
        if problem:
            self.record(step["Name"], "Failed", reason=problem)
            self.fail_execution(problem)
            return
        arn = registry.create_model_package(
            model_package_name=None,
            model_package_group_name=group.split("/")[-1],
            model_package_description=args.get("ModelPackageDescription"),
            inference_specification=args.get("InferenceSpecification"),
            validation_specification=None,
            source_algorithm_specification=None,
            certify_for_marketplace=False,
            tags=None,
            model_approval_status=args.get("ModelApprovalStatus"),
            metadata_properties=args.get("MetadataProperties"),
            model_metrics=args.get("ModelMetrics"),
            client_token=None,
            customer_metadata_properties=args.get("CustomerMetadataProperties"),
            drift_check_baselines=args.get("DriftCheckBaselines"),
            domain=args.get("Domain"),
            task=args.get("Task"),
            sample_payload_url=None,
            additional_inference_specifications=None,
        )
        self.registered = arn
        self.record(step["Name"], "Succeeded", {"RegisterModel": {"Arn": arn}})
