"""`batch local` (batch/local.py): SageMaker's split-by-line and join rehearsed against a model
served on 127.0.0.1, checked by the same code as a job's outputs in S3."""

from __future__ import annotations

import pytest

from model_helpers import module, pack, split_sample, train_model

local = module("batch.local")
outputs = module("batch.outputs")
UsageError = module("cli_support").UsageError


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-model")
    data = split_sample(root / "data")
    archive = pack(train_model(data, root / "model"), root / "model.tar.gz")
    return archive, data / "test" / "test.csv"


def test_the_test_split_is_split_sent_in_mini_batches_joined_and_checked(model, tmp_path, monkeypatch):
    archive, table = model
    sizes = []
    real = local.join
    monkeypatch.setattr(
        local,
        "join",
        lambda name, batches, send: sizes.extend(map(len, batches)) or real(name, batches, send),
    )
    summary = local.run_local(archive, table, tmp_path / "batch", max_payload_mb=1)
    rows = len(table.read_text().strip().splitlines()) - 1
    assert summary.passed and (summary.files, summary.rows) == (1, rows)
    # MultiRecord: the whole split fits in one MB, so it is one request of every row.
    assert sizes == [rows] and summary.requests == 1
    lines = (tmp_path / "batch" / f"{table.name}.out").read_text().splitlines()
    first_input = (tmp_path / "batch" / "input" / table.name).read_text().splitlines()[0]
    assert lines[0].startswith(first_input + ",")
    label, probability = lines[0][len(first_input) + 1 :].split(",")
    assert label in ("0", "1") and 0 <= float(probability) <= 1


def test_mini_batches_hold_as_many_whole_lines_as_fit_in_the_payload():
    lines = ["x" * 99] * 10  # 100 bytes each with the newline
    assert [len(b) for b in local.mini_batches(lines, 300)] == [3, 3, 3, 1]
    assert [len(b) for b in local.mini_batches(lines, 299)] == [2] * 5
    assert local.mini_batches(lines, 10_000) == [lines]  # no row limit: bytes alone
    assert local.mini_batches(["1"] * 2500, 6 * 1024 * 1024) == [["1"] * 2500]
    with pytest.raises(local.JobFailed, match="record 1 is 100 bytes, more than MaxPayloadInMB"):
        local.mini_batches(lines, 50)


def test_a_missing_rehearsal_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="run the rehearsal first"):
        local.run_local(tmp_path / "model.tar.gz", tmp_path / "test.csv", tmp_path / "out", 6)
