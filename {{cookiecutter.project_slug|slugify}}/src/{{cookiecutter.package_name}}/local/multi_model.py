"""Several packaged models on 127.0.0.1, as a SageMaker multi-model endpoint serves them.

Each request names its model in the X-Amzn-SageMaker-Target-Model header (InvokeEndpoint's
TargetModel, the artifact's S3 key relative to the endpoint's ModelDataUrl); a target the
server does not hold is answered 404 naming it, a request without the header 400. Each model
is a model.tar.gz or a folder it was extracted to, with its own code/inference.py, run through
the same container contract as server.ModelServer.

    with MultiModelServer({"north": "north/model.tar.gz", "south": "south/model.tar.gz"}) as server:
        ...   # POST server.url + "/invocations" with X-Amzn-SageMaker-Target-Model: north

    python -m <package>.local.server --target north=north/model.tar.gz --target south=south/
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

from .server import TARGET_HEADER, ModelServer, ServerError, _answer, _load, run_handler

__all__ = ["TARGET_HEADER", "MultiModelServer", "ServerError", "check_targets"]


class MultiModelServer(ModelServer):
    """Several models on 127.0.0.1, chosen per request by TARGET_HEADER: {target: archive or folder}.

    Every model is loaded by load() (a target that cannot be loaded raises ServerError naming
    it); /ping is healthy once all are. No asynchronous contract: SageMaker has none for
    multi-model endpoints.
    """

    def __init__(self, models: Mapping[str, Path | str], port: int = 0, verbose: bool = False) -> None:
        super().__init__(Path(), port=port, verbose=verbose)
        self.models = {str(target): Path(source) for target, source in models.items()}
        if not self.models or "" in self.models:
            raise ServerError("a multi-model server needs at least one target, each with a non-empty name")
        self.loaded: dict[str, tuple[ModuleType, Any]] = {}
        self._tmps: list[tempfile.TemporaryDirectory[str]] = []

    @property
    def ready(self) -> bool:
        return bool(self.loaded)

    def load(self) -> None:
        with self._load_lock:
            if self.loaded:
                return
            loaded = {}
            try:
                for target, source in self.models.items():
                    if not source.exists():
                        raise ServerError(f"model {source} not found")
                    handler, model, tmp = _load(source)
                    if tmp is not None:
                        self._tmps.append(tmp)
                    loaded[target] = (handler, model)
            except ServerError as exc:
                self._cleanup()
                raise ServerError(f"target {target}: {exc}") from exc
            self.loaded = loaded

    def _cleanup(self) -> None:
        for tmp in self._tmps:
            tmp.cleanup()
        self._tmps = []
        self.loaded = {}

    def stop(self) -> None:
        super().stop()
        self._cleanup()

    def invoke_target(
        self, target: str | None, body: bytes, content_type: str, accept: str
    ) -> tuple[int, bytes, str]:
        if not target:
            return _answer(HTTPStatus.BAD_REQUEST, f"a multi-model endpoint needs the {TARGET_HEADER} header")
        if target not in self.loaded:
            served = ", ".join(sorted(self.models))
            return _answer(HTTPStatus.NOT_FOUND, f"model {target!r} not found; this endpoint serves {served}")
        handler, model = self.loaded[target]
        return run_handler(handler, model, body, content_type, accept)


def check_targets(pairs: Sequence[tuple[str, Path]], async_dir: Path | None = None) -> dict[str, Path]:
    """{target: path} of the server's `--target TARGET=PATH` options; ValueError naming what is wrong."""
    names = [name for name, _ in pairs]
    twice = sorted({name for name in names if names.count(name) > 1})
    missing = [f"{name}={path}" for name, path in pairs if not Path(path).exists()]
    if async_dir is not None:
        raise ValueError("--async-dir serves one model; a multi-model server has no asynchronous contract")
    if twice:
        raise ValueError(f"target {', '.join(twice)} given more than once")
    if missing:
        raise ValueError(f"model {', '.join(missing)} not found")
    return {name: Path(path) for name, path in pairs}
