"""A segmented model served from one local multi-model server, and the endpoint tests run once per
segment with its TargetModel: the server routes by X-Amzn-SageMaker-Target-Model (404 naming an
unknown target, 400 without one), the suite reports each segment, and a segment whose model is
wrong fails by its name while the others pass."""

from __future__ import annotations

import json
import shutil
import tarfile
import threading
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from deploy_helpers import assert_done, endpoint_response, module, write_config
from model_helpers import pack, split_sample, train_model
from multi_model_helpers import SEGMENTS, endpoint_arn, segmented_raw, session_for

server_module = module("local.server")
multi = module("local.multi_model")
suite = module("endpoint_tests.suite")
segments_module = module("endpoint_tests.segments")
suite_cli = module("endpoint_tests.cli")
deploy_cli = module("deploy.cli")
set_cli = module("deploy.set_cli")
Clients = module("deploy.aws").Clients

pytestmark = pytest.mark.xdist_group("multi-model-serving")
FLIPPED = """
_real_predict_fn = predict_fn
def predict_fn(input_data, model):
    predictions = _real_predict_fn(input_data, model)
    return [{"label": 1 - p["label"], "probability": 1 - p["probability"]} for p in predictions]
"""
RELAXED = {
    "burst_requests": 10,
    "max_p50_ms": 1000,
    "max_p95_ms": 3000,
    "max_error_rate": 0.0,
    "min_accuracy": 0.8,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(archives by name, the held-out split's folder) of one small model: "good" and "flipped"."""
    data = split_sample(tmp_path_factory.mktemp("split"))
    model = train_model(data, tmp_path_factory.mktemp("model"))
    out = tmp_path_factory.mktemp("archives")
    archives = {"good": pack(model, out / "good" / "model.tar.gz")}
    archives["flipped"] = pack(model, out / "flipped" / "model.tar.gz", extra_handler_code=FLIPPED)
    return archives, data / "test"


@pytest.fixture
def samples(built, tmp_path) -> Path:
    """<tmp>/test/<segment>/test.csv (+ schema.json) per segment, as a segmented split writes them."""
    for segment in SEGMENTS:
        shutil.copytree(built[1], tmp_path / "test" / segment)
    return tmp_path / "test" / "test.csv"


@pytest.fixture
def segmented(tmp_path, monkeypatch):
    raw = segmented_raw(layout="baked")
    raw["environments"]["local"]["tests"] = dict(RELAXED)
    return write_config(raw, tmp_path, monkeypatch)


def post(url: str, target: str | None, body: bytes) -> tuple[int, dict]:
    invoker = suite.HttpInvoker(url, target_model=target)
    status, answer = invoker.invoke(body, "text/csv")
    return status, json.loads(answer)


def test_the_server_routes_each_request_by_its_target_model(built, tmp_path):
    archives, data = built
    extracted = tmp_path / "south"
    with tarfile.open(archives["flipped"]) as tar:
        tar.extractall(extracted, filter="data")
    row = (data / "test.csv").read_text().splitlines()[1].split(",", 1)[1].encode()
    with multi.MultiModelServer({"north": archives["good"], "south": extracted}) as server:
        assert suite.HttpInvoker(server.url).ping()
        north = post(server.url, "north", row)
        south = post(server.url, "south", row)
        assert north[0] == south[0] == 200
        (a,), (b,) = north[1]["predictions"], south[1]["predictions"]
        assert a["label"] == 1 - b["label"]  # south is the flipped model: the header chose it
        status, answer = post(server.url, "west/model.tar.gz", row)
        assert status == 404
        assert answer["error"] == "model 'west/model.tar.gz' not found; this endpoint serves north, south"
        status, answer = post(server.url, None, row)
        assert status == 400 and multi.TARGET_HEADER in answer["error"]
        tmp_dirs = [Path(t.name) for t in server._tmps]
    assert tmp_dirs and not any(p.exists() for p in tmp_dirs)
    assert extracted.is_dir()  # a folder it was given is the caller's, never removed


def test_a_single_model_server_ignores_the_target_header(built):
    archives, data = built
    row = (data / "test.csv").read_text().splitlines()[1].split(",", 1)[1].encode()
    with server_module.ModelServer(archives["good"]) as server:
        assert post(server.url, "anything", row)[0] == 200


class ServeOnce:
    """Stands in for threading.Event in the server's main: a server that did start stops at once."""

    def wait(self) -> None:
        raise KeyboardInterrupt


def test_the_server_refuses_targets_it_cannot_serve(built, tmp_path, capsys, monkeypatch):
    archives, _ = built
    monkeypatch.setattr(
        server_module,
        "threading",
        SimpleNamespace(Event=ServeOnce, Thread=threading.Thread, Lock=threading.Lock),
    )
    good = str(archives["good"])
    missing = tmp_path / "missing.tar.gz"
    no_code = tmp_path / "no-code.tar.gz"
    with tarfile.open(no_code, "w:gz") as tar:
        tar.add(archives["good"], arcname="not-a-model.bin")
    with pytest.raises(server_module.ServerError, match=r"^target south: no code/inference.py"):
        multi.MultiModelServer({"north": good, "south": no_code}).load()
    cases = [
        (
            ["--target", f"north={good}", "--target", f"south={missing}"],
            2,
            f"model south={missing} not found",
        ),
        (["--target", f"north={good}", "--target", f"north={good}"], 2, "target north given more than once"),
        (["--target", f"north={good}", "--async-dir", str(tmp_path)], 2, "--async-dir serves one model"),
        (
            ["--target", f"north={good}", "--target", f"south={no_code}"],
            1,
            "target south: no code/inference.py",
        ),
    ]
    for args, status, message in cases:
        assert server_module.main([*args, "--port", "0", "--quiet"]) == status
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: server: ") and message in line, line
    with pytest.raises(SystemExit) as exit_info:
        server_module.main(["--target", "north", "--port", "0"])
    assert exit_info.value.code == 2
    assert "'north' is not TARGET=PATH" in capsys.readouterr().err


def test_the_local_suite_runs_every_segment_with_its_target_model(built, samples, segmented, capsys):
    archives, _ = built
    with multi.MultiModelServer({s: archives["good"] for s in SEGMENTS}) as server:
        report = samples.parent / "report.json"
        code = suite_cli.main(
            ["--url", server.url, "--samples", str(samples), "--rows", "20", "--report", str(report)]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    document = json.loads(report.read_text())
    assert document["passed"] is True and list(document["segments"]) == SEGMENTS
    for segment in SEGMENTS:
        assert document["segments"][segment]["passed"] is True
        assert document["segments"][segment]["target"].endswith(f" model {segment}")
        assert f"  {segment}: accuracy" in out


def test_a_segment_served_the_wrong_model_fails_by_name(built, samples, segmented, capsys):
    archives, _ = built
    with multi.MultiModelServer({"north": archives["good"], "south": archives["flipped"]}) as server:
        code = deploy_cli.main(
            ["endpoint-test", "--url", server.url, "--samples", str(samples), "--rows", "20"]
        )
    captured = capsys.readouterr()
    assert code == 1
    failed = [line for line in captured.out.splitlines() if "  FAIL  " in line]
    assert failed and all(line.strip().startswith("south: ") for line in failed)
    assert "passed=false" in captured.out.splitlines()
    assert "south: accuracy" in captured.err.strip().splitlines()[-1]


def test_a_segment_without_samples_is_a_usage_error(built, samples, segmented, capsys):
    archives, _ = built
    shutil.rmtree(samples.parent / "south")
    with multi.MultiModelServer({s: archives["good"] for s in SEGMENTS}) as server:
        code = suite_cli.main(["--url", server.url, "--samples", str(samples)])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    expected = samples.parent / "south" / "test.csv"
    assert line == f"error: endpoint tests: segment south: samples file {expected} not found"


def test_the_sagemaker_invoker_names_the_target_model():
    runtime = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(runtime) as stub:
        body = b'{"predictions": []}'
        stub.add_response(
            "invoke_endpoint",
            {
                "Body": StreamingBody(__import__("io").BytesIO(body), len(body)),
                "ContentType": "application/json",
            },
            {
                "EndpointName": "e",
                "Body": b"1,2",
                "ContentType": "text/csv",
                "Accept": "application/json",
                "TargetModel": "pipelines/x/Train-north/output/model.tar.gz",
            },
        )
        invoker = suite.SageMakerInvoker(
            "e", runtime, target_model="pipelines/x/Train-north/output/model.tar.gz"
        )
        assert invoker.invoke(b"1,2", "text/csv") == (200, body)


def test_endpoint_tests_of_an_environment_read_the_routes_from_its_tags(tmp_path, monkeypatch, recorder):
    cfg = module("config").parse(segmented_raw())
    session, stubs = session_for(cfg, "qa", recorder)
    running = endpoint_response(cfg, "qa", "c")
    targets = {s: f"pipelines/exec/Train-{s}/output/model.tar.gz" for s in SEGMENTS}
    stubs["sagemaker"].add_response("describe_endpoint", running)
    stubs["sagemaker"].add_response(
        "list_tags",
        {
            "Tags": [
                {"Key": f"route:{s}", "Value": f"{i + 3} v{i} {t}"}
                for i, (s, t) in enumerate(targets.items())
            ]
        },
        {"ResourceArn": endpoint_arn(cfg, "qa")},
    )
    clients = Clients(session, cfg.region)
    routes = set_cli.endpoint_routes(cfg, "qa", clients)
    assert {s: r.target_model for s, r in routes.items()} == targets
    assert [(r.version, r.object_id) for r in routes.values()] == [(3, "v0"), (4, "v1")]
    assert routes["south"].package_arn.endswith(f"/{cfg.group('dev')}/4")
    stubs["sagemaker"].add_response("describe_endpoint", running)
    stubs["sagemaker"].add_response(
        "list_tags", {"Tags": [{"Key": "route:north", "Value": f"3 v0 {targets['north']}"}]}
    )
    with pytest.raises(
        module("deploy.aws").DeployError, match="has no route for segment south; deploy the set first"
    ):
        set_cli.endpoint_routes(cfg, "qa", clients)
    assert_done({k: v for k, v in stubs.items() if k == "sagemaker"})
    assert recorder.mutating == []
