"""botocore machinery the AWS tests share, independent of the project: sessions on one shared
loader, the call `Recorder`, and clients behind Stubbers (deploy_helpers binds them to the
baked region and re-exports them).

- `Recorder`: every AWS operation a session or client makes, in order, from botocore's
  `before-parameter-build` event (it fires for moto and for Stubber alike). Each call's
  parameters are also checked against the operation's input shape in botocore's service
  model, so `assert_valid` fails on a request AWS would refuse as malformed even when the
  client was built without parameter validation.
- `stubbed(...)`: real botocore clients behind Stubbers, for what moto lacks and for
  failures. A Stubber checks each response it is given against the output shape, and the
  expected parameters, when given, against the call exactly.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.stub import Stubber
from botocore.validate import ParamValidator

# Read-only operation prefixes; everything else changes something.
READ_PREFIXES = ("Describe", "List", "Get", "Invoke")
# One loader for every session the tests create: parsing the SageMaker service model once,
# not once per session, keeps the suite fast.
_LOADER = botocore.session.get_session().get_component("data_loader")
_VALIDATOR = ParamValidator()


def new_session(**kwargs: Any) -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, **kwargs)


class Recorder:
    """The operations made through the sessions/clients it is attached to, in call order, and
    the calls whose parameters do not match botocore's service model."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.invalid: list[str] = []

    def __call__(self, event_name: str, params: Any = None, model: Any = None, **kwargs: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls.append((service, operation))
        if model is not None and model.input_shape is not None:
            report = _VALIDATOR.validate(params or {}, model.input_shape)
            if report.has_errors():
                self.invalid.append(f"{service} {operation}: {report.generate_report()}")

    def attach(self, target: Any) -> Any:
        events = target.events if hasattr(target, "events") else target.meta.events
        events.register("before-parameter-build.*.*", self)
        return target

    @property
    def operations(self) -> list[str]:
        return [operation for _, operation in self.calls]

    @property
    def mutating(self) -> list[str]:
        return [op for op in self.operations if not op.startswith(READ_PREFIXES)]

    def assert_valid(self) -> None:
        """Every recorded call's parameters validate against botocore's service model."""
        assert self.calls, "no AWS call was recorded"
        assert not self.invalid, "\n".join(self.invalid)

    def clear(self) -> None:
        self.calls.clear()
        self.invalid.clear()


class StubSession:
    """Stands in for a boto3 Session: hands out pre-built (stubbed) clients by service name."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients

    def client(self, service: str, region_name: str | None = None, **kwargs: Any) -> Any:
        if service not in self.clients:
            raise AssertionError(f"unexpected client {service!r}; stubbed: {sorted(self.clients)}")
        return self.clients[service]


def stubbed_in(
    region: str, *services: str, recorder: Recorder | None = None, **client_kwargs: Any
) -> tuple[StubSession, dict[str, Stubber]]:
    """Real clients in `region` (fake credentials, never sent) behind activated Stubbers."""
    base = new_session(aws_access_key_id="stub", aws_secret_access_key="stub", region_name=region)
    if recorder:
        recorder.attach(base)
    clients = {service: base.client(service, **client_kwargs) for service in services}
    stubbers = {service: Stubber(client) for service, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    return StubSession(clients), stubbers


def assert_done(stubs: dict[str, Stubber]) -> None:
    """Every queued Stubber response was used."""
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def not_found(stubber: Stubber, method: str, what: str = "resource") -> None:
    stubber.add_client_error(method, "ValidationException", f"Could not find {what}.", 400)
