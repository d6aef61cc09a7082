"""Serve a packaged model (model.tar.gz) on 127.0.0.1 with SageMaker's container contract.

The archive is extracted and its own `code/inference.py` is loaded, exactly what a SageMaker
framework container would run, never the source tree: GET /ping answers 200 once the model
is loaded; POST /invocations runs input_fn -> predict_fn -> output_fn. The handler's
InputError becomes HTTP 400 (or the status it carries: 406 for an Accept it cannot answer) with a
JSON error, any other exception HTTP 500, an unknown path 404. Standard library only (the handler
itself brings its framework).

With an async folder (`--async-dir`), it also takes SageMaker's asynchronous contract: POST
/invocations-async names an input file under <folder>/input (header
X-Amzn-SageMaker-InputLocation, standing for the S3 object InvokeEndpointAsync names), answers
202 with {"InferenceId", "OutputLocation", "FailureLocation"} and writes the answer to
<folder>/output/<id>.out, or a failed one (the status in parentheses, then the error body) to
<folder>/failure/<id>-error.out, as the async endpoint writes to S3. An input outside
<folder>/input is refused (400).

With `--target TARGET=PATH` (repeated) it serves several models as a SageMaker multi-model
endpoint does (multi_model.MultiModelServer): each request names its model in the
X-Amzn-SageMaker-Target-Model header.

    with ModelServer("build/local/output/model.tar.gz") as server:
        print(server.url)          # http://127.0.0.1:<ephemeral port>

    python -m <package>.local.server --model build/local/output/model.tar.gz --port 8080
    python -m <package>.local.server --target north=north/model.tar.gz --target south=south/ --port 8080
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import signal
import sys
import tarfile
import tempfile
import threading
import traceback
import uuid
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import cli_support

HOST = "127.0.0.1"
# The asynchronous contract (`--async-dir`); endpoint_tests/async_invoker.py is its client.
ASYNC_PATH = "/invocations-async"
INPUT_HEADER = "X-Amzn-SageMaker-InputLocation"
# InvokeEndpoint's TargetModel, as a multi-model endpoint's container receives it.
TARGET_HEADER = "X-Amzn-SageMaker-Target-Model"
# SageMaker real-time endpoints accept request payloads up to 6 MB.
MAX_BODY_BYTES = 6 * 1024 * 1024
_module_ids = itertools.count()


class ServerError(RuntimeError):
    """The model archive cannot be served (missing file, bad archive, handler without model_fn...)."""


def load_handler(model_dir: Path) -> ModuleType:
    """Import code/inference.py from an extracted model archive, with code/ importable as SageMaker does."""
    script = model_dir / "code" / "inference.py"
    if not script.is_file():
        raise ServerError(f"no code/inference.py in the model archive (looked in {model_dir})")
    name = f"packaged_inference_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ServerError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(script.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
    missing = [fn for fn in ("model_fn", "input_fn", "predict_fn", "output_fn") if not hasattr(module, fn)]
    if missing:
        raise ServerError(f"{script} lacks {', '.join(missing)}")
    return module


def _load(source: Path) -> tuple[ModuleType, Any, tempfile.TemporaryDirectory[str] | None]:
    """(handler, model, extraction folder to remove later) of a model.tar.gz or an extracted folder."""
    tmp = None if source.is_dir() else tempfile.TemporaryDirectory(prefix="model-server-")
    model_dir = source if tmp is None else Path(tmp.name)
    try:
        if tmp is not None:
            with tarfile.open(source, "r:gz") as tar:
                tar.extractall(model_dir, filter="data")
        handler = load_handler(model_dir)
        return handler, handler.model_fn(str(model_dir)), tmp
    except Exception as exc:
        if tmp is not None:
            tmp.cleanup()
        if isinstance(exc, ServerError):
            raise
        raise ServerError(f"cannot load {source}: {type(exc).__name__}: {exc}") from exc


def _answer(status: int, message: str) -> tuple[int, bytes, str]:
    return status, json.dumps({"error": message}).encode(), "application/json"


def run_handler(
    handler: ModuleType, model: Any, body: bytes, content_type: str, accept: str
) -> tuple[int, bytes, str]:
    """One request through a packaged handler: (status, body, content type)."""
    input_error = getattr(handler, "InputError", None)
    try:
        data = handler.input_fn(body, content_type)
        prediction = handler.predict_fn(data, model)
        result = handler.output_fn(prediction, accept)
    except Exception as exc:
        if isinstance(input_error, type) and isinstance(exc, input_error):
            # The handler's InputError carries its HTTP status (406 for an Accept it cannot answer).
            return _answer(getattr(exc, "status_code", HTTPStatus.BAD_REQUEST), str(exc))
        traceback.print_exc(file=sys.stderr)
        return _answer(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(exc).__name__}: {exc}")
    payload, response_type = result if isinstance(result, tuple) else (result, accept)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return HTTPStatus.OK, bytes(payload), response_type


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode())

    def do_GET(self) -> None:
        if self.path == "/ping":
            if not self.server.owner.ready:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "model not loaded")
            else:
                self._send(HTTPStatus.OK, b'{"status": "healthy"}')
        elif self.path == "/invocations":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST for /invocations")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path {self.path}; use GET /ping or POST /invocations")

    def do_POST(self) -> None:
        if self.path == ASYNC_PATH and self.server.owner.async_dir is not None:
            self._send(*self.server.owner.invoke_async(self.headers))
            return
        if self.path != "/invocations":
            if self.path == "/ping":
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use GET for /ping")
            else:
                self._error(
                    HTTPStatus.NOT_FOUND, f"no such path {self.path}; use GET /ping or POST /invocations"
                )
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
            return
        if length > MAX_BODY_BYTES:
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {length} bytes; at most {MAX_BODY_BYTES}"
            )
            return
        body = self.rfile.read(length)
        status, payload, content_type = self.server.owner.invoke_target(
            self.headers.get(TARGET_HEADER),
            body,
            self.headers.get("Content-Type", ""),
            self.headers.get("Accept") or "application/json",
        )
        self._send(status, payload, content_type)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: ModelServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class ModelServer:
    """A model.tar.gz served on 127.0.0.1 in a background thread.

    load() extracts the archive and calls the packaged model_fn (the slow part; it may run
    ahead of start()). start() binds the port (0 = an ephemeral one) and serves; stop()
    shuts down and removes the extracted files. Also a context manager.
    """

    def __init__(
        self, archive: Path | str, port: int = 0, verbose: bool = False, async_dir: Path | None = None
    ) -> None:
        self.archive = Path(archive)
        self.async_dir = Path(async_dir).resolve() if async_dir is not None else None
        self.port = port
        self.verbose = verbose
        self.handler: ModuleType | None = None
        self.model: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._load_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.model is not None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise ServerError("server not started")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def load(self) -> None:
        """Extract the archive and load the model. It raises ServerError when that is impossible."""
        with self._load_lock:
            if self.model is not None:
                return
            if not self.archive.is_file():
                raise ServerError(f"model archive {self.archive} not found")
            self.handler, self.model, self._tmp = _load(self.archive)

    def start(self) -> ModelServer:
        self.load()
        self._httpd = _HTTPServer((HOST, self.port), self)
        # Polling every 0.05 s (not the default 0.5 s) lets stop() return at once.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="model-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.model = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        """One /invocations request through the packaged handler: (status, body, content type)."""
        if self.handler is None or self.model is None:
            return _answer(HTTPStatus.SERVICE_UNAVAILABLE, "model not loaded")
        return run_handler(self.handler, self.model, body, content_type, accept)

    def invoke_target(
        self, target: str | None, body: bytes, content_type: str, accept: str
    ) -> tuple[int, bytes, str]:
        """A single-model server answers every request with its one model, whatever the target."""
        return self.invoke(body, content_type, accept)

    def invoke_async(self, headers: Any) -> tuple[int, bytes, str]:
        """POST /invocations-async: run the named input file, write the output (or failure) file."""
        assert self.async_dir is not None
        folder = self.async_dir
        named = Path(headers.get(INPUT_HEADER) or "")
        source = named.resolve()
        if not named.name or not source.is_relative_to(folder / "input") or not source.is_file():
            message = f"{INPUT_HEADER} must name a file under {folder / 'input'}"
            return HTTPStatus.BAD_REQUEST, json.dumps({"error": message}).encode(), "application/json"
        inference_id = uuid.uuid4().hex
        output = folder / "output" / f"{inference_id}.out"
        failure = folder / "failure" / f"{inference_id}-error.out"
        status, payload, _ = self.invoke(
            source.read_bytes(), headers.get("Content-Type", ""), headers.get("Accept") or "application/json"
        )
        if status == HTTPStatus.OK:
            target, content = output, payload
        else:
            target, content = failure, b"(%d) %s" % (status, payload)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(target)  # the poller never sees half an answer
        answer = {"InferenceId": inference_id, "OutputLocation": str(output), "FailureLocation": str(failure)}
        return HTTPStatus.ACCEPTED, json.dumps(answer).encode(), "application/json"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _port(text: str) -> int:
    value = cli_support.parse_number(text, int, "a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0-65535")
    return value


def _target(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not TARGET=PATH")
    return name, Path(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly (exit 0). Exit status (cli_support): 1 when
    the archive cannot be served or the port not bound, 2 for bad arguments or no archive there."""
    parser = cli_support.Parser(
        prog=cli_support.prog(f"python -m {__package__}.server"),
        description="Serve a model.tar.gz (or several, by target model) on 127.0.0.1.",
    )
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--model", type=Path, metavar="PATH", help="path to model.tar.gz")
    chosen.add_argument(
        "--target",
        type=_target,
        action="append",
        metavar="TARGET=PATH",
        help=f"serve PATH (model.tar.gz or extracted folder) for {TARGET_HEADER}: TARGET (repeatable)",
    )
    parser.add_argument("--port", type=_port, default=8080, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--async-dir",
        type=Path,
        metavar="PATH",
        help="also serve POST /invocations-async with inputs, outputs and failures under PATH",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    server: ModelServer
    if args.target:
        from .multi_model import MultiModelServer, check_targets  # it builds on this module

        try:
            models = check_targets(args.target, args.async_dir)
        except ValueError as exc:
            return cli_support.fail(f"server: {exc}", cli_support.EXIT_USAGE)
        server = MultiModelServer(models, port=args.port, verbose=not args.quiet)
        args.model = ", ".join(f"{t}={p}" for t, p in models.items())
    elif not args.model.is_file():
        return cli_support.fail(f"server: model archive {args.model} not found", cli_support.EXIT_USAGE)
    else:
        server = ModelServer(args.model, port=args.port, verbose=not args.quiet, async_dir=args.async_dir)
    try:
        server.start()
    except (ServerError, OSError) as exc:
        return cli_support.fail(f"server: {exc}")
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops as cleanly as Ctrl-C
    try:  # a signal right after the line below (a client saw it) still takes the clean path
        print(
            f"serving {args.model} at {server.url} (GET /ping, POST /invocations); Ctrl-C stops", flush=True
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return cli_support.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
