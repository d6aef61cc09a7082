"""Attacks on batch runs: a batch role running a model that is not its environment's, a QA run
reading its lock from the dev branch, and input files built to shift a job's joined answers.

- IAM (tests/iam_eval.py on the deployed policies): a batch role creates its transform jobs only
  on its own endpoint's models (`sagemaker:ModelArn`), so where QA and prod share one account
  the prod batch role cannot run QA's model (nor QA's batch role prod's).
- `batch run --lock-root`: the lock of another checkout (the dev branch's, for QA) is read as
  data while the code stays the prod branch's.
- Input files: quotes, embedded newlines, `""` lines, blank lines, a header, CRLF and a missing
  final newline. Whatever the file holds, a mini-batch either fails the job (an answer that does
  not split into one line per record) or every joined answer is the one the handler gives that
  record alone: never a shifted answer that the output check would pass.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from deploy_helpers import make_config, module
from model_helpers import split_sample, train_model
from test_shadow_permissions import Capture

inference = module("steps.inference")
local = module("batch.local")
outputs = module("batch.outputs")
batch_cli = module("batch.cli")
UsageError = module("cli_support").UsageError


# --- a batch role runs only its own endpoint's models --------------------------------------------


@pytest.fixture(scope="module", params=["single", "four"])
def world(request: pytest.FixtureRequest) -> Capture:
    return Capture(request.param)


def runs_model(c: Capture, role_env: str, model: str | None) -> bool:
    """CreateTransformJob (with its tags) of `role_env`'s batch role, under its own batch job
    name, on the model `model` of its account (None: a request naming no model)."""
    world, _ = c._world(role_env)
    account = c.cfg.environment(role_env).account
    endpoint = c.cfg.environment(role_env).endpoint_name
    job = f"arn:aws:sagemaker:{c.cfg.region}:{account}:transform-job/{endpoint}-b1234567890"
    arn = f"arn:aws:sagemaker:{c.cfg.region}:{account}:model/{model}"
    context = {} if model is None else {"sagemaker:ModelArn": arn}
    role = c.attacker.arn(f"github_batch_{role_env}", role_env)
    return world.all_allowed(
        role, [("sagemaker:CreateTransformJob", job, context), ("sagemaker:AddTags", job, {})]
    )


def test_a_batch_role_runs_its_own_endpoints_model(world: Capture) -> None:
    for env in ("qa", "prod"):
        endpoint = world.cfg.environment(env).endpoint_name
        assert runs_model(world, env, f"{endpoint}-v7-abc123"), env


def test_the_prod_batch_role_cannot_run_qas_model_or_any_other(world: Capture) -> None:
    qa, prod = (world.cfg.environment(env).endpoint_name for env in ("qa", "prod"))
    for model in (f"{qa}-v7-abc123", "unreleased-model", f"{prod}-x"):
        assert not runs_model(world, "prod", model), model
    assert not runs_model(world, "qa", f"{prod}-v7-abc123")


def test_single_account_mode_puts_both_batch_roles_in_one_account() -> None:
    """The attack above is only meaningful where QA's model is in the prod batch role's account."""
    cfg = make_config("single")
    assert cfg.environment("qa").account == cfg.environment("prod").account


def test_creating_a_job_without_naming_a_model_is_refused_too(world: Capture) -> None:
    """`ArnLike` on sagemaker:ModelArn (not ...IfExists): a request without the key matches no Allow."""
    assert not runs_model(world, "prod", None)


# --- the QA run's lock comes from another checkout, as data --------------------------------------


def lock_args(**values: str | None) -> argparse.Namespace:
    return argparse.Namespace(lock_file=values.get("lock_file"), lock_root=values.get("lock_root"))


def test_lock_root_reads_the_configured_lock_file_of_that_checkout(tmp_path: Path) -> None:
    cfg = make_config("baked")
    assert batch_cli.lock_file(cfg, lock_args(lock_root=str(tmp_path))) == tmp_path / cfg.lock_file
    assert batch_cli.lock_file(cfg, lock_args()) is None
    assert batch_cli.lock_file(cfg, lock_args(lock_file="x.json")) == Path("x.json")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lock_root": "no-such-dir"}, "is not a directory"),
        ({"lock_root": ".", "lock_file": "x.json"}, "not both"),
    ],
)
def test_a_bad_lock_root_is_one_usage_error(values: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        batch_cli.lock_file(make_config("baked"), lock_args(**values))


# --- hostile input files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-attacks")
    data = split_sample(root / "data")
    trained = inference.model_fn(str(train_model(data, root / "model")))
    with (data / "test" / "test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:6]
    return trained, [[row[name] for name in trained.features] for row in rows]


def line_of(cells: list[str]) -> str:
    return ",".join(cells)


def send_to(trained):
    """The handler in this process, as a job's container answers a mini-batch."""

    def send(body: bytes) -> tuple[int, bytes]:
        try:
            prediction = inference.predict_fn(inference.input_fn(body, "text/csv"), trained)
            text, _ = inference.output_fn(prediction, "text/csv")
        except inference.InputError as exc:
            return exc.status_code, str(exc).encode()
        return 200, text.encode()

    return send


def hostile_files(features: list[str], rows: list[list[str]]) -> dict[str, str]:
    good = [line_of(r) for r in rows]
    quoted = [*rows[1][:-1], f'"{rows[1][-1]}"']
    split = [*rows[2][:-1], f'"{rows[2][-1]}']  # a quote opened here, closed on the next line
    return {
        "empty-quoted-line": "\n".join([good[0], '""', good[1], good[2]]) + "\n",
        "quoted-newline": "\n".join([good[0], line_of(split), f'x",{good[3]}', good[4]]) + "\n",
        "unbalanced-quote-last": "\n".join([good[0], good[1], line_of(split)]) + "\n",
        "blank-lines": "\n".join([good[0], "", "   ", good[1], "", good[2]]) + "\n",
        "header": "\n".join([",".join(features), *good[:3]]) + "\n",
        "no-final-newline": "\n".join(good[:4]),
        "crlf": "".join(line + "\r\n" for line in good[:4]),
        "quoted-fields": "\n".join([good[0], line_of(quoted), good[2]]) + "\n",
    }


# A `""` line and a quote spanning two lines each give the handler one row fewer than the job's
# records: the mini-batch must fail, never join shifted answers. The others must pass, aligned.
# A header fails where a column is numeric (the test data's are), else it gets its own answer.
OUTCOMES = {
    "empty-quoted-line": "fails",
    "quoted-newline": "fails",
    "unbalanced-quote-last": "passes",
    "blank-lines": "passes",
    "header": "either",
    "no-final-newline": "passes",
    "crlf": "passes",
    "quoted-fields": "passes",
}


@pytest.mark.parametrize("records_per_batch", [None, 2])
@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_a_hostile_input_file_fails_the_job_or_gets_each_records_own_answer(
    model, tmp_path: Path, name: str, records_per_batch: int | None
) -> None:
    trained, rows = model
    source = tmp_path / f"{name}.csv"
    source.write_bytes(hostile_files(list(trained.features), rows)[name].encode())
    longest = max(len(line.encode()) + 1 for line in source.read_text().split("\n"))
    payload = 1 << 20 if records_per_batch is None else records_per_batch * longest
    send = send_to(trained)
    try:
        out, _ = local.transform(send, source, tmp_path, payload)
    except local.JobFailed as exc:
        assert OUTCOMES[name] != "passes", exc
        return  # the job fails: no output to misread
    assert OUTCOMES[name] != "fails", "a mini-batch with one answer fewer than its records was joined"
    summary = outputs.check_pairs([(source.name, source.read_text(), out.read_text())])
    assert summary.passed, summary.failures
    for record, joined in zip(
        outputs.records(source.read_text()), outputs.records(out.read_text()), strict=True
    ):
        status, alone = send((record + "\n").encode())
        assert status == 200, record
        assert joined == f"{record},{alone.decode().strip()}", record
