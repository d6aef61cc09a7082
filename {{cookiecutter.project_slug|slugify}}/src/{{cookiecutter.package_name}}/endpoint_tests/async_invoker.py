"""The suite's invoker for asynchronous endpoints: put the request body where the endpoint reads
it, submit it, poll for the answer object (or the failure object) until one is there or the
timeout passes, and hand the answer to the checks like any other invoker.

Two transports, one invoker:
- SageMaker: the body goes to s3://<capture bucket>/async/<env>/input/, InvokeEndpointAsync
  names it and answers with the OutputLocation and FailureLocation it will write (the
  environment's `async/<env>/output/` and `failure/` prefixes), which are polled with GetObject;
- local: the body goes to a file under the local server's async folder, POST
  /invocations-async names it (header X-Amzn-SageMaker-InputLocation) and the server writes
  the output file (local/server.py).

Latency is measured end to end: upload, queueing, inference, the answer's write and the poll
interval, so it is higher than a real-time endpoint's for the same model, and depends on
`poll_seconds`. A failure object's status is the HTTP error status it names ("(400)"), else 500.
Standard library only; the SageMaker clients are handed in (or created lazily in for_endpoint).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .invokers import JSON, HttpInvoker

INPUT_HEADER = "X-Amzn-SageMaker-InputLocation"
ASYNC_PATH = "/invocations-async"
# A failure object is never an answer: only an error status (4xx, 5xx) it names is kept.
STATUS_IN_FAILURE = re.compile(r"\((?P<status>[45]\d\d)\)")
EXTENSIONS = {"text/csv": "csv", "application/json": "json"}


class Store(Protocol):
    """Where request bodies are put and answers are read: S3 or a local folder."""

    def put(self, name: str, body: bytes, content_type: str) -> str: ...

    def get(self, location: str) -> bytes | None: ...


class Channel(Protocol):
    """Submits a stored request: (status, OutputLocation, FailureLocation, error body)."""

    def ping(self) -> bool: ...

    def submit(self, location: str, content_type: str, accept: str) -> tuple[int, str, str, bytes]: ...


class AsyncInvoker:
    """An async endpoint behind the suite's Invoker protocol (see the module docstring)."""

    def __init__(
        self,
        channel: Channel,
        store: Store,
        target: str,
        timeout: float = 600.0,
        poll_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.store = store
        self.target = target
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.clock = clock

    def ping(self) -> bool:
        return self.channel.ping()

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]:
        name = f"{uuid.uuid4().hex}.{EXTENSIONS.get(content_type, 'bin')}"
        location = self.store.put(name, body, content_type)
        status, output, failure, error = self.channel.submit(location, content_type, accept)
        if status >= 300:
            return status, error
        started = self.clock()
        while True:
            answer = self.store.get(output)
            if answer is not None:
                return 200, answer
            failed = self.store.get(failure) if failure else None
            if failed is not None:
                found = STATUS_IN_FAILURE.search(failed.decode("utf-8", "replace"))
                return (int(found["status"]) if found else 500), failed
            if self.clock() - started >= self.timeout:
                raise TimeoutError(f"no answer at {output} (nor {failure}) after {self.timeout:g} s")
            self.sleep(self.poll_seconds)


# --- SageMaker ---------------------------------------------------------------------------------


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class S3Store:
    """Request bodies under s3://bucket/prefix; answers read by their s3:// URI."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3_client, bucket, prefix

    def put(self, name: str, body: bytes, content_type: str) -> str:
        key = f"{self.prefix}{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        return f"s3://{self.bucket}/{key}"

    def get(self, location: str) -> bytes | None:
        bucket, key = _split(location)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise


class SageMakerChannel:
    """InvokeEndpointAsync; ping() is DescribeEndpoint InService. Service errors map to HTTP
    statuses as SageMakerInvoker's do (ValidationError 400, others their HTTP status)."""

    def __init__(
        self, endpoint_name: str, runtime_client: Any, sagemaker_client: Any, invocation_timeout: int
    ) -> None:
        self.endpoint_name = endpoint_name
        self.runtime, self.sagemaker = runtime_client, sagemaker_client
        self.invocation_timeout = invocation_timeout

    def ping(self) -> bool:
        try:
            status = self.sagemaker.describe_endpoint(EndpointName=self.endpoint_name)["EndpointStatus"]
        except Exception:
            return False
        return status == "InService"

    def submit(self, location: str, content_type: str, accept: str) -> tuple[int, str, str, bytes]:
        try:
            response = self.runtime.invoke_endpoint_async(
                EndpointName=self.endpoint_name,
                InputLocation=location,
                ContentType=content_type,
                Accept=accept,
                InvocationTimeoutSeconds=self.invocation_timeout,
            )
        except Exception as exc:
            error = getattr(exc, "response", None)
            if not isinstance(error, dict):
                raise
            code = error.get("Error", {}).get("Code", "")
            message = str(error.get("Error", {}).get("Message", exc)).encode()
            if code == "ValidationError":
                return 400, "", "", message
            return int(error.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500), "", "", message
        return 202, response["OutputLocation"], response.get("FailureLocation", ""), b""


def for_endpoint(
    cfg: Any, env: str, client: Callable[[str], Any], poll_seconds: float = 2.0, **waiting: Any
) -> AsyncInvoker:
    """The invoker of `env`'s async endpoint; `client(service)` gives boto3 clients of its
    workload account (deploy.aws.Clients does). `waiting`: sleep and clock, for tests."""
    environment = cfg.environment(env)
    settings = environment.endpoint
    timeout = int(settings.async_inference["invocation_timeout_seconds"])
    channel = SageMakerChannel(
        settings.endpoint_name, client("sagemaker-runtime"), client("sagemaker"), timeout
    )
    store = S3Store(
        client("s3"),
        environment.capture_bucket,
        cfg.names.async_prefixes[env]["input"],
    )
    # Queueing and a scale-out from zero instances come on top of the invocation itself.
    target = f"async endpoint {settings.endpoint_name}"
    return AsyncInvoker(channel, store, target, timeout + 900, poll_seconds, **waiting)


# --- local --------------------------------------------------------------------------------------


class LocalStore:
    """Request bodies as files under `folder`/input; answers read by their file path."""

    def __init__(self, folder: Path) -> None:
        self.input = folder / "input"

    def put(self, name: str, body: bytes, content_type: str) -> str:
        self.input.mkdir(parents=True, exist_ok=True)
        path = self.input / name
        path.write_bytes(body)
        return str(path)

    def get(self, location: str) -> bytes | None:
        path = Path(location)
        return path.read_bytes() if path.is_file() else None


class LocalChannel:
    """POST /invocations-async of the local server (local/server.py), naming the input file."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.http = HttpInvoker(url, timeout)

    def ping(self) -> bool:
        return self.http.ping()

    def submit(self, location: str, content_type: str, accept: str) -> tuple[int, str, str, bytes]:
        headers = {"Content-Type": content_type, "Accept": accept, INPUT_HEADER: location}
        status, body = self.http._request("POST", ASYNC_PATH, b"", headers)
        if status != 202:
            return status, "", "", body
        answer = json.loads(body)
        return status, answer["OutputLocation"], answer["FailureLocation"], b""


def local(url: str, folder: Path, poll_seconds: float = 0.002, timeout: float = 30.0) -> AsyncInvoker:
    """The invoker of a local server started with an async folder (`--async-dir`)."""
    return AsyncInvoker(LocalChannel(url), LocalStore(folder), f"{url} (async)", timeout, poll_seconds)


__all__ = [
    "ASYNC_PATH",
    "INPUT_HEADER",
    "AsyncInvoker",
    "LocalChannel",
    "LocalStore",
    "S3Store",
    "SageMakerChannel",
    "for_endpoint",
    "local",
]
