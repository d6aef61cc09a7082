"""The act AWS emulator's segmented path (config `model.segments`): one model per segment.

Two test doubles, used by aws_emulator.py:

1. `execution_run` picks how an execution runs: a definition with a `Train-<segment>` training
   step per segment runs as SageMaker would run it here (`SegmentedRun`); any other definition
   runs the emulator's single-model path. A segmented run is one Preprocess job (the repository's
   steps/preprocess.py with the definition's container arguments, so it splits rows by segment
   into `<channel>/<segment>/`), then per segment the jobs the definition names, each reading
   exactly the S3 locations its step resolves to (downloaded as the job's channels and inputs
   would be): Train-<segment> (model.tar.gz packed as SageMaker packs SM_MODEL_DIR),
   Evaluate-<segment> (with its champion input when it has one), the baseline steps; then the
   one ConditionStep over every segment and on a pass each Register-<segment>, or the Fail step
   with its joined message. `registered` of the execution log is the comma-separated list of
   registered ARNs in the definition's order.
2. `invoke_multi_model` answers InvokeEndpoint on a multi-model endpoint (a model whose
   container has Mode MultiModel): the request's TargetModel (header
   X-Amzn-SageMaker-Target-Model) is the key of a model.tar.gz relative to the container's
   ModelDataUrl prefix, loaded and answered through its packed handler as aws_emulator does for
   one model. No TargetModel: SageMaker's ValidationError; a TargetModel with no object: the
   ValidationError SageMaker gives when it cannot download the model data. Other endpoints:
   None (aws_emulator answers them).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from aws_emulator import _error, _ExecutionRun, _kind, _split, baseline_reports

TRAIN = "Train-"
TARGET_HEADER = "X-Amzn-SageMaker-Target-Model"


def segments_of(definition: dict[str, Any]) -> list[str]:
    """The segments a definition trains, in its order ([] for a single-model definition)."""
    return [
        step["Name"][len(TRAIN) :]
        for step in definition.get("Steps", [])
        if step.get("Type") == "Training" and step["Name"].startswith(TRAIN)
    ]


def execution_run(emulator: Any, backend: Any, definition: dict[str, Any], execution: Any) -> _ExecutionRun:
    """The run of one execution: segmented when the definition trains per segment."""
    if segments_of(definition):
        return SegmentedRun(emulator, backend, definition, execution)
    return _ExecutionRun(emulator, backend, definition, execution)


class SegmentedRun(_ExecutionRun):
    """One emulated execution of a segmented definition (see the module docstring)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.segments = segments_of(self.definition)
        self.job = f"arn:aws:sagemaker:{self.emulator.region}:{self.backend.account_id}"

    def download(self, uri: str, dest: Path) -> Path:
        """Every object under the S3 prefix `uri`, as a job's File-mode input gets it."""
        bucket, prefix = _split(str(uri))
        dest.mkdir(parents=True, exist_ok=True)
        s3 = self.s3()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :].lstrip("/") or Path(item["Key"]).name
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        if not any(dest.iterdir()):
            raise RuntimeError(f"no objects under {uri}")
        return dest

    def arguments(self, name: str) -> list[str]:
        spec = self.by_name[name]["Arguments"].get("AppSpecification", {})
        return [str(a) for a in self.resolve(spec.get("ContainerArguments") or [])]

    def inputs(self, name: str, dest: Path) -> dict[str, Path]:
        """A processing step's inputs (its code excepted), downloaded under `dest/<input name>`."""
        found = {}
        for item in self.by_name[name]["Arguments"].get("ProcessingInputs", []):
            if item["InputName"] != "code":
                found[item["InputName"]] = self.download(
                    self.resolve(item["S3Input"]["S3Uri"]), dest / item["InputName"]
                )
        return found

    def outputs(self, name: str, local: Path, output: str) -> None:
        """Upload `local`'s files (sub-folders kept) to the step's output `output`."""
        self.processing_outputs(name)
        prefix = self.properties[f"Steps.{name}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"]
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.upload(path, f"{prefix.rstrip('/')}/{path.relative_to(local).as_posix()}")

    def succeeded(self, name: str, kind: str = "ProcessingJob") -> None:
        job = "training-job" if kind == "TrainingJob" else "processing-job"
        self.record(name, "Succeeded", {kind: {"Arn": f"{self.job}:{job}/emulated-{name.lower()}"}})

    def execute(self) -> None:
        work = self.work
        bucket, key = _split(str(self.params["InputDataUri"]))
        (work / "input").mkdir()
        (work / "input" / Path(key).name).write_bytes(self.s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        self.script(
            "preprocess",
            [*self.arguments("Preprocess"), "--input-dir", str(work / "input"), "--output-dir", str(work / "data")],
        )
        for output in self.by_name["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
            self.outputs("Preprocess", work / "data" / output["OutputName"], output["OutputName"])
        self.succeeded("Preprocess")
        for segment in self.segments:
            self.train(segment)
            self.evaluate(segment)
            if f"BaselineData-{segment}" in self.by_name:
                self.baselines_of(segment)
        gate = next(s for s in self.by_name.values() if s["Type"] == "Condition")
        outcome = all(self.condition(c) for c in gate["Arguments"]["Conditions"])
        self.record(gate["Name"], "Succeeded", {"Condition": {"Outcome": str(outcome).lower()}})
        registered = []
        for step in gate["Arguments"]["IfSteps" if outcome else "ElseSteps"]:
            if step["Type"] == "RegisterModel":
                self.registered = None
                self.register(step)
                if self.registered is None:
                    return
                registered.append(self.registered)
            elif step["Type"] == "Fail":
                message = self.resolve(step["Arguments"]["ErrorMessage"])
                self.record(step["Name"], "Failed", {"Fail": {"ErrorMessage": message}}, reason=message)
                self.fail_execution(message)
                return
        self.registered = ",".join(registered) or None
        self.execution.pipeline_execution_status = "Succeeded"

    def train(self, segment: str) -> None:
        name, here = f"{TRAIN}{segment}", self.work / segment
        train = self.by_name[name]["Arguments"]
        env = {"SM_MODEL_DIR": str(here / "model")}
        for channel in train["InputDataConfig"]:
            if channel["ChannelName"] in ("code", "sm_drivers"):
                continue
            uri = self.resolve(channel["DataSource"]["S3DataSource"]["S3Uri"])
            local = self.download(uri, here / "channels" / channel["ChannelName"])
            env[f"SM_CHANNEL_{channel['ChannelName'].upper()}"] = str(local)
        hyper = [part for k, v in train.get("HyperParameters", {}).items() for part in (f"--{k}", str(v))]
        (here / "model").mkdir(parents=True)
        self.script("train", hyper, env)
        archive = here / "output" / "model.tar.gz"
        archive.parent.mkdir()
        with tarfile.open(archive, "w:gz") as tar:
            for item in sorted((here / "model").iterdir()):
                tar.add(item, arcname=item.name)
        uri = (
            f"{self.resolve(train['OutputDataConfig']['S3OutputPath']).rstrip('/')}"
            f"/pipelines-{self.execution_id}-{name}/output/model.tar.gz"
        )
        self.upload(archive, uri)
        self.properties[f"Steps.{name}.ModelArtifacts.S3ModelArtifacts"] = uri
        self.succeeded(name, "TrainingJob")

    def evaluate(self, segment: str) -> None:
        name, here = f"Evaluate-{segment}", self.work / segment
        inputs = self.inputs(name, here / "evaluate-in")
        arguments = self.arguments(name)
        if "champion" in inputs:
            arguments += ["--champion-dir", str(inputs["champion"])]
        self.script(
            "evaluate",
            [
                "--model-dir",
                str(inputs["model"]),
                "--test-dir",
                str(inputs["test"]),
                "--output-dir",
                str(here / "evaluation"),
                *arguments,
            ],
        )
        report = json.loads((here / "evaluation" / "evaluation.json").read_text())
        for prop in self.by_name[name].get("PropertyFiles", []):
            self.properties[f"Steps.{name}.PropertyFiles.{prop['PropertyFileName']}"] = report
        self.outputs(name, here / "evaluation", "evaluation")
        self.succeeded(name)

    def baselines_of(self, segment: str) -> None:
        """The segment's drift baselines, as aws_emulator's `baselines` does for one model."""
        here = self.work / segment
        name = f"BaselineData-{segment}"
        inputs = self.inputs(name, here / "baseline-in")
        self.script(
            "baseline",
            [*self.arguments(name), "--train-dir", str(inputs["train"]), "--output-dir", str(here / "features")],
        )
        self.outputs(name, here / "features", "features")
        self.succeeded(name)
        statistics, constraints = baseline_reports(here / "features" / "features.csv")
        self.quality_check(f"DataQualityBaseline-{segment}", self.job, statistics, constraints)
        calculated = here / "calculated"
        calculated.mkdir()
        (calculated / "constraints.json").write_text(json.dumps(constraints))
        name = f"DataQualityConstraints-{segment}"
        arguments = self.arguments(name)
        self.script(
            "baseline",
            [*arguments[:1], "--input-dir", str(calculated), "--output-dir", str(here / "constraints"), *arguments[1:]],
        )
        self.outputs(name, here / "constraints", "constraints")
        self.succeeded(name)
        model_constraints = {
            "version": 0.0,
            "binary_classification_constraints": {
                "auc": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"}
            },
        }
        self.quality_check(f"ModelQualityBaseline-{segment}", self.job, {"version": 0.0}, model_constraints)


def invoke_multi_model(emulator: Any, response: Any) -> Any | None:
    """InvokeEndpoint on a multi-model endpoint (see the module docstring), else None."""
    name = response._get_params().get("EndpointName") or response.path.split("/")[2]
    backend, config = emulator._endpoint_config(response, name)
    if config is None:
        return None
    model = backend._models.get(config.production_variants[0]["ModelName"])
    container = (model.primary_container or (model.containers or [{}])[0]) if model else {}
    if container.get("Mode") != "MultiModel":
        return None
    target = response.headers.get(TARGET_HEADER) or ""
    if not target:
        return _error(
            400, "ValidationError", f"Endpoint {name} is a multi-model endpoint; the request names no TargetModel"
        )
    prefix = str(container["ModelDataUrl"])
    data_url = prefix + ("" if prefix.endswith("/") else "/") + target.lstrip("/")
    try:
        handler, loaded = emulator._load_model(data_url)
    except ClientError:  # no object at that key: what SageMaker answers
        bucket, key = _split(data_url)
        return _error(
            400,
            "ValidationError",
            f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure that there is an "
            "object located at the URL and that the role passed to CreateModel has permissions to download the model.",
        )
    if emulator.serve_only is not None and data_url not in emulator.serve_only:
        status, body, answer_type = 500, "broken", "text/plain"
    else:
        accept = response.headers.get("Accept") or "application/json"
        try:
            prediction = handler.predict_fn(
                handler.input_fn(response.body, response.headers.get("Content-Type", "")), loaded
            )
            body, answer_type = handler.output_fn(prediction, accept)
            status = 200
        except handler.InputError as exc:
            status, body, answer_type = 400, str(exc), "text/plain"
    if status != 200:
        return _error(
            424,
            "ModelError",
            f"Received {_kind(status)} error ({status}) from model with TargetModel {target}",
            original=status,
            text=body,
        )
    headers = {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"}
    emulator.__dict__.setdefault("multi_model_log", []).append(
        {"endpoint": name, "target": target, "data_url": data_url}
    )
    return 200, headers, body
