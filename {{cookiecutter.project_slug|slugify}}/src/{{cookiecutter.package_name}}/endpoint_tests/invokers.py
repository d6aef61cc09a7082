"""How the endpoint suite reaches a model server: HTTP to a local server or SageMaker InvokeEndpoint.

Standard library only; SageMakerInvoker receives ready-made boto3 clients (or imports boto3
lazily in for_endpoint), because the deploy job installs boto3 alone.
"""

from __future__ import annotations

import http.client
from typing import Any, Protocol
from urllib.parse import urlsplit

CSV = "text/csv"
JSON = "application/json"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# How a multi-model endpoint's container receives InvokeEndpoint's TargetModel.
TARGET_HEADER = "X-Amzn-SageMaker-Target-Model"


class Invoker(Protocol):
    """How the suite reaches a model server. Transport failures may raise; the suite records them."""

    def ping(self) -> bool: ...

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]: ...


class HttpInvoker:
    """SageMaker's container contract over HTTP (GET /ping, POST /invocations) to a local server.

    Only loopback addresses are accepted: real endpoints are reached through SageMakerInvoker.
    With target_model, every request names that model (a multi-model server, TARGET_HEADER).
    """

    def __init__(self, base_url: str, timeout: float = 10.0, target_model: str | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
            raise ValueError(f"url {base_url!r} must look like http://127.0.0.1:PORT (a local server)")
        self.host = parts.hostname
        self.port = parts.port
        self.timeout = timeout
        self.target_model = target_model
        self.target = f"http://{self.host}:{self.port}" + (f" model {target_model}" if target_model else "")

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def ping(self) -> bool:
        try:
            status, _ = self._request("GET", "/ping", None, {})
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type, "Accept": accept}
        if self.target_model:
            headers[TARGET_HEADER] = self.target_model
        return self._request("POST", "/invocations", body, headers)


class SageMakerInvoker:
    """A SageMaker endpoint through sagemaker-runtime InvokeEndpoint.

    runtime_client: boto3 "sagemaker-runtime" client (credentials of the workload account).
    sagemaker_client: optional boto3 "sagemaker" client; with it, ping() means the endpoint is
    InService. Without it, ping() sends an empty CSV body and counts any answer from the model
    container that is not a 5xx as healthy.
    Errors map to HTTP statuses: ModelError carries the container's OriginalStatusCode and
    OriginalMessage; ValidationError is 400; other service errors keep their HTTP status.
    With target_model (a multi-model endpoint), every InvokeEndpoint names it as TargetModel.
    """

    def __init__(
        self,
        endpoint_name: str,
        runtime_client: Any,
        sagemaker_client: Any = None,
        target_model: str | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.runtime = runtime_client
        self.sagemaker = sagemaker_client
        self.target_model = target_model
        self.target = f"endpoint {endpoint_name}" + (f" model {target_model}" if target_model else "")

    @classmethod
    def for_endpoint(cls, endpoint_name: str, region_name: str, session: Any = None) -> SageMakerInvoker:
        """Build the clients from a boto3 session (default: the ambient credentials)."""
        import boto3  # lazily: the suite itself needs only the standard library

        session = session or boto3.session.Session(region_name=region_name)
        return cls(
            endpoint_name,
            session.client("sagemaker-runtime", region_name=region_name),
            session.client("sagemaker", region_name=region_name),
        )

    def ping(self) -> bool:
        if self.sagemaker is not None:
            try:
                status = self.sagemaker.describe_endpoint(EndpointName=self.endpoint_name)["EndpointStatus"]
            except Exception:  # any failure to describe means "not healthy"
                return False
            return status == "InService"
        try:
            status, _ = self.invoke(b"", CSV)
        except Exception:
            return False
        return status < 500

    def invoke(self, body: bytes, content_type: str, accept: str = JSON) -> tuple[int, bytes]:
        try:
            extra = {"TargetModel": self.target_model} if self.target_model else {}
            response = self.runtime.invoke_endpoint(
                EndpointName=self.endpoint_name, Body=body, ContentType=content_type, Accept=accept, **extra
            )
        except Exception as exc:
            error = getattr(exc, "response", None)
            if not isinstance(error, dict):
                raise
            code = error.get("Error", {}).get("Code", "")
            message = error.get("Error", {}).get("Message", str(exc))
            if code == "ModelError":
                original = error.get("OriginalMessage") or message
                return int(error.get("OriginalStatusCode") or 500), str(original).encode()
            if code == "ValidationError":
                return 400, message.encode()
            return int(error.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500), message.encode()
        return 200, response["Body"].read()
