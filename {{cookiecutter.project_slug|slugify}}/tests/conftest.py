"""Shared fixtures: fake AWS credentials, simulated accounts under moto, the config writer, the
call recorder, a CLI runner and the Stubber scenario of a prod endpoint update.

The helpers they use (and that other tests import directly) are in deploy_helpers.py; the
prod-update scenario's stubbed responses are in deploy_scenarios.py. Nothing here is autouse:
a test module opts in, e.g. `pytestmark = pytest.mark.usefixtures("fake_aws")`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from deploy_helpers import REGION, Accounts, Config, Recorder, fake_aws_env, write_config


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
