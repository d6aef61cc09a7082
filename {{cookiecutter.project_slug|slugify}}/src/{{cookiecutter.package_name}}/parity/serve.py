"""Serve an extracted model through a SageMaker framework image's own serving toolkit, offline.

Run by `parity` with the interpreter of an image's environment (Python 3.8/3.9, the image's
library versions and its serving toolkit from PyPI), never imported by the package:

    python serve.py SPEC.json     # prints one JSON object: versions, ping, responses, expected

SPEC: {"toolkit": "sagemaker-containers" | "sagemaker-inference", "base_dir": PATH (holds
model/ with code/), "test_csv": PATH, "requests": [{"name", "body", "content_type", "accept"}]}.

- sagemaker-containers (scikit-learn 1.2-1, single model): what sagemaker_sklearn_container's
  serving module does: import the framework helpers, import the user module `inference` (the
  container pip-installs model/code, which puts inference.py and tabular.py side by side on the
  path; here code/ goes on sys.path), wrap its functions in the toolkit's Transformer, and serve
  them with the toolkit's Flask Worker, called through Flask's test client (GET /ping, POST
  /invocations) instead of gunicorn.
- sagemaker-inference (XGBoost 1.7-1, script mode): the toolkit's Transformer with the user
  module found from SAGEMAKER_PROGRAM, called as multi-model-server calls it (transform(data,
  context)) with a stand-in for the server's request context, which records the status.
"expected" is the evaluate step's path for test_csv (handler.model_fn, then the packaged
conversion and predict_proba), to compare with what the toolkit answered.
"""

import importlib
import json
import os
import sys
from importlib import metadata

DISTRIBUTIONS = ("numpy", "pandas", "scipy", "scikit-learn", "xgboost", "joblib", "Flask")
DISTRIBUTIONS += ("sagemaker-containers", "sagemaker-inference")


class Context:
    """The parts of multi-model-server's Context that sagemaker-inference's Transformer uses."""

    def __init__(self, model_dir, headers):
        self.system_properties = {"model_dir": model_dir}
        self.request_processor = [self]
        self.headers = headers
        self.status = 200
        self.content_type = None

    def get_request_properties(self):
        return self.headers

    def set_response_status(self, code, phrase):
        self.status = code

    def set_response_content_type(self, index, content_type):
        self.content_type = content_type


def text(body):
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def flask_worker(code_dir):
    """(invoke, ping) through sagemaker-containers' Transformer and Worker."""
    from sagemaker_containers.beta.framework import transformer, worker

    user = importlib.import_module("inference")
    serving = transformer.Transformer(
        model_fn=user.model_fn, input_fn=user.input_fn, predict_fn=user.predict_fn, output_fn=user.output_fn
    )
    serving.initialize()
    client = worker.Worker(transform_fn=serving.transform, module_name="inference").test_client()

    def invoke(body, content_type, accept):
        answer = client.post("/invocations", data=body, content_type=content_type, headers={"Accept": accept})
        return answer.status_code, text(answer.get_data())

    return invoke, client.get("/ping").status_code


def mms_transformer(model_dir):
    """(invoke, ping) through sagemaker-inference's Transformer, as multi-model-server calls it."""
    import sagemaker_containers.beta.framework  # noqa: F401 (the image's serving module imports it)
    from sagemaker_inference.default_inference_handler import DefaultInferenceHandler
    from sagemaker_inference.transformer import Transformer

    serving = Transformer(default_inference_handler=DefaultInferenceHandler())

    def invoke(body, content_type, accept):
        context = Context(model_dir, {"Content-Type": content_type, "Accept": accept})
        data = body.encode("utf-8") if isinstance(body, str) else body
        result = serving.transform([{"body": data}], context)
        return context.status, text(result[0])

    serving.validate_and_initialize(model_dir=model_dir)
    return invoke, None


def main(spec_path):
    with open(spec_path) as handle:
        spec = json.load(handle)
    model_dir = os.path.join(spec["base_dir"], "model")
    code_dir = os.path.join(model_dir, "code")
    os.environ.update(
        {
            "SAGEMAKER_BASE_DIR": spec["base_dir"],
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": code_dir,
        }
    )
    sys.path.insert(0, code_dir)
    if spec["toolkit"] == "sagemaker-containers":
        invoke, ping = flask_worker(code_dir)
    else:
        invoke, ping = mms_transformer(model_dir)
    responses = []
    for request in spec["requests"]:
        status, body = invoke(
            request["body"], request["content_type"], request.get("accept", "application/json")
        )
        responses.append({"name": request["name"], "status": status, "body": body})

    handler = importlib.import_module("inference")
    model = handler.model_fn(model_dir)
    table = handler.tabular.read_csv(spec["test_csv"])
    expected = [float(p) for p in model.predict_proba(model.convert(table).frame)]
    versions = {"python": sys.version.split()[0]}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    print(json.dumps({"versions": versions, "ping": ping, "responses": responses, "expected": expected}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
