"""Shared fixtures: fake AWS credentials, simulated accounts under moto, the config writer, the
call recorder, a CLI runner and the Stubber scenario of a prod endpoint update.

The helpers they use (and that other tests import directly) are in deploy_helpers.py; the
prod-update scenario's stubbed responses are in deploy_scenarios.py. Nothing here is autouse:
a test module opts in, e.g. `pytestmark = pytest.mark.usefixtures("fake_aws")`. What does apply
to every test is speed only: botocore's data loader, service models, client methods, handler
signatures and event-name aliases shared within the process, each CloudFormation template parsed
once per process, one OpenMP thread per worker and fewer garbage collections (below).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.client
import botocore.hooks
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

import base_config
import moto_shims
import recording

base_config.use_base()  # before any test module reads the config (base_config.py says why)
moto_shims.keep_network_isolation()
from deploy_helpers import (  # noqa: E402 (reads the config: after use_base)
    REGION,
    Accounts,
    Config,
    Recorder,
    fake_aws_env,
    module,
    write_config,
)


def _share_one_loader() -> None:
    """Every botocore session made in the test process (by the code under test, the SageMaker
    SDK's local sessions, boto3.Session()) reads botocore's data through the tests' one loader,
    so each service model is parsed once per process rather than once per session. The loader
    only caches botocore's read-only data files; clients, credentials and events stay per session."""
    create_loader = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        return recording._LOADER if search_path_string is None else create_loader(search_path_string)

    botocore.session.create_loader = shared


def _reuse_client_methods() -> None:
    """botocore gives every new client class one method per API operation (hundreds for SageMaker),
    built afresh for each client. Those methods depend only on the service and its API version, so
    they are built once per process; the class itself, and the handlers that shape it, stay per
    client as botocore makes them."""
    build = botocore.client.ClientCreator._create_methods
    built: dict[tuple[str, str], dict[str, Any]] = {}

    def create_methods(creator: botocore.client.ClientCreator, service_model: Any) -> dict[str, Any]:
        key = (service_model.service_name, service_model.api_version)
        if key not in built:
            built[key] = build(creator, service_model)
        return dict(built[key])

    botocore.client.ClientCreator._create_methods = create_methods


def _share_service_models() -> None:
    """botocore builds a new ServiceModel for every client, and each re-derives the same operation
    models (a new SageMaker client walks all of its operations looking for endpoint discovery).
    A ServiceModel only describes a service's API version, so clients of one process share it."""
    load = botocore.client.ClientCreator._load_service_model
    models: dict[tuple[str, Any], Any] = {}

    def load_service_model(
        creator: botocore.client.ClientCreator, service_name: str, api_version: Any = None
    ):
        key = (service_name, api_version)
        if key not in models:
            models[key] = load(creator, service_name, api_version)
        return models[key]

    botocore.client.ClientCreator._load_service_model = load_service_model


def _inspect_each_handler_once() -> None:
    """botocore checks that every event handler it registers takes **kwargs by inspecting its
    signature, on every registration: about 180,000 inspections per session of a few hundred
    functions. The answer depends on the function alone, so it is kept per function (weakly:
    a handler that goes away takes its answer with it; one that cannot be weakly referenced is
    inspected every time, as before)."""
    inspect_kwargs = botocore.hooks.accepts_kwargs
    known: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def accepts_kwargs(func: Any) -> bool:
        key = getattr(func, "__func__", func)
        try:
            return known[key]
        except (KeyError, TypeError):
            pass
        answer = inspect_kwargs(func)
        with contextlib.suppress(TypeError):
            known[key] = answer
        return answer

    botocore.hooks.accepts_kwargs = accepts_kwargs


def _share_event_alias_names() -> None:
    """botocore renames event names through an alias table (the same table for every session and
    client) and remembers each renaming, but per emitter: every session and every client's copy
    of its emitter starts with an empty memory and re-derives the same names. With the default
    table the renamings are shared by the process; an emitter with another table keeps its own."""
    aliaser = botocore.hooks.EventAliaser
    default_table = botocore.hooks.EVENT_ALIASES
    shared: dict[str, str] = {}
    init = aliaser.__init__

    def __init__(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        if event_aliases is None or event_aliases == default_table:
            self._event_aliases = default_table
            self._alias_name_cache = shared

    aliaser.__init__ = __init__


def _parse_each_template_once() -> None:
    """The policy checks and the tests read the same CloudFormation templates many times, so each
    template text is parsed once per process; every call still returns a fresh copy, which a test
    may mutate. A text that fails to parse is not kept, so it fails again on every call."""
    cfn = module("infra.cfn")
    policy_checks = module("infra.policy_checks")
    parse = cfn.load_template
    parsed: dict[tuple[str, str], bytes] = {}

    def load_template(path: Path) -> dict[str, Any]:
        key = (str(path), Path(path).read_text())
        if key not in parsed:
            parsed[key] = pickle.dumps(parse(path))
        return pickle.loads(parsed[key])

    cfn.load_template = policy_checks.load_template = load_template


_share_one_loader()
_reuse_client_methods()
_share_service_models()
_inspect_each_handler_once()
_share_event_alias_names()
_parse_each_template_once()
# One thread per OpenMP/BLAS pool: the pytest-xdist workers already use every core, and pools
# spinning against each other cost more CPU than the small models here save.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The test process holds a large, long-lived heap (botocore's models, moto's backends, pandas,
# the SageMaker SDK), and Python's cyclic collector rescans all of it on every full collection:
# with the default thresholds that was about a third of the suite's CPU time. Collections run
# less often, and what exists once the tests are collected (modules, their data) is frozen out of
# them; objects the tests create are collected as usual.
gc.set_threshold(50_000, 20, 20)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="module")
def aws_env():
    """For the SageMaker SDK (pipeline tests): the region, no IAM role validation, no profile."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the baked region; nothing can reach AWS."""
    fake_aws_env(monkeypatch)


@pytest.fixture
def recorder() -> Recorder:
    """Records every AWS operation of the sessions and clients it is attached to."""
    return Recorder()


@pytest.fixture
def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Path]:
    """`configure(cfg_or_raw)`: write it as <tmp>/config/project.json and point MLOPS_CONFIG there."""
    return lambda cfg: write_config(cfg, tmp_path, monkeypatch)


@pytest.fixture
def moto(fake_aws: None) -> Iterator[None]:
    """One mock_aws() context around the test."""
    with mock_aws():
        yield


@pytest.fixture
def accounts(moto: None) -> Callable[..., Accounts]:
    """`accounts(cfg, recorder=None)`: sessions for the simulated accounts of `cfg` under moto."""
    return lambda cfg, recorder=None: Accounts(cfg, recorder)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`run_cli(main, args, session=None, registry=None)` -> (exit status, stdout, stderr)."""

    def run(main: Callable[..., int], args: list[str], session: Any = None, registry: Any = None):
        kwargs = {"session": session}
        if registry is not None:
            kwargs["registry_session"] = registry
        code = main(list(args), **kwargs)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def prod_update(fake_aws: None, configure: Callable[[Any], Path], recorder: Recorder) -> Any:
    """A prod endpoint on the old version about to be updated to the new one (four accounts,
    real-time prod): the config written, both plans, and stubbed clients with the caller
    identity and the new version's DescribeModelPackage queued (`deploy_scenarios.ProdUpdate`)."""
    from deploy_scenarios import ProdUpdate, config_for, plans, update_stubs

    cfg: Config = config_for("four")
    configure(cfg)
    old, new = plans(cfg)
    session, stubs = update_stubs(cfg, recorder)
    return ProdUpdate(cfg, old, new, recorder, session, stubs)
