"""`notify`: the Slack post (a local receiver on 127.0.0.1 stands in for hooks.slack.com), the SNS
publish (moto), and the secret webhook URL never appearing in output, warnings, errors or logs."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from deploy_helpers import make_config, module
from http_receiver import Receiver

slack = module("notify.slack")
notify_cli = module("notify.cli")
cli = module("cli")

SECRET = "Xq7secretTOKENvalue42"
WEBHOOK = f"https://hooks.slack.com/services/T0001/B0002/{SECRET}"
RUN = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/churn", "GITHUB_RUN_ID": "987"}
RUN_URL = "https://github.com/acme/churn/actions/runs/987"
ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/m-dev/3"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    """Posts meant for https://hooks.slack.com go to a local receiver (same path and body)."""
    with Receiver() as server:
        monkeypatch.setattr(
            slack, "_target", lambda url: url.replace("https://hooks.slack.com", server.url, 1)
        )
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, configure, fake_aws, tmp_path: Path):
    """The baked config (SNS off unless a test turns it on), a run link, no webhook yet."""
    raw = json.loads(json.dumps(_raw()))
    raw["notifications"] = {"sns": False}
    configure(raw)
    for key, value in RUN.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(slack.WEBHOOK_ENV, raising=False)
    return raw


def _raw() -> dict[str, Any]:
    from deploy_helpers import make_raw

    return make_raw("four")


def write_lock(tmp_path: Path) -> Path:
    path = tmp_path / "model.lock.json"
    path.write_text(
        json.dumps({"model_package_arn": ARN, "version": 3, "metrics": {"auc": 0.91234, "f1": 0.8}})
    )
    return path


def run(capsys, caplog, argv: list[str]) -> tuple[int, str, str]:
    caplog.set_level(logging.DEBUG)
    code = cli.main(["notify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_no_secret(out: str, err: str, caplog) -> None:
    for text in (out, err, caplog.text):
        assert SECRET not in text and "T0001/B0002" not in text


def test_posts_model_version_metrics_and_run_link_to_the_webhook(
    env, receiver, monkeypatch, tmp_path, capsys, caplog
):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    code, out, err = run(
        capsys, caplog, ["released", "--lock", str(write_lock(tmp_path)), "--detail", "prod version: p/1"]
    )

    assert code == 0, err
    [request] = receiver.requests
    assert request.path == f"/services/T0001/B0002/{SECRET}"
    assert request.headers["Content-Type"].startswith("application/json")
    payload = request.json()
    text = json.dumps(payload)
    model = make_config("four").project.model_name
    assert payload["text"] == f"{model}: Released to prod (version 3 ({ARN}))"
    for fact in (model, ARN, "auc: 0.9123", "f1: 0.8", f"<{RUN_URL}|{RUN_URL}>", "prod version: p/1"):
        assert fact in text, fact
    assert "notify: posted to Slack" in out and "SNS skipped (notifications.sns is false)" in out
    assert err == ""
    assert_no_secret(out, err, caplog)


def test_a_missing_webhook_skips_slack_with_one_line(env, receiver, capsys, caplog):
    code, out, err = run(capsys, caplog, ["gate-failed", "--version", "not registered"])

    assert code == 0 and err == ""
    assert [line for line in out.splitlines() if "Slack" in line] == [
        f"notify: Slack skipped ({slack.WEBHOOK_ENV} is not set)"
    ]
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        f"https://hooks.slack.com.evil.example/services/{SECRET}",
        f"http://hooks.slack.com/services/{SECRET}",
        f"https://user:{SECRET}@hooks.slack.com/services/x",
        f"https://hooks.slack.com:8443/services/{SECRET}",
        f"https://hooks.slack.com/api/{SECRET}",
        f"https://evil.example/services/{SECRET}",
    ],
)
def test_a_webhook_that_is_not_slacks_is_refused_and_never_echoed(
    env, receiver, monkeypatch, url, capsys, caplog
):
    monkeypatch.setenv(slack.WEBHOOK_ENV, url)
    code, out, err = run(capsys, caplog, ["qa-failed", "--version", ARN])
    assert code == 0 and receiver.requests == []
    assert f"warning: {slack.WEBHOOK_ENV} is not usable" in err and "Slack skipped" in err
    assert_no_secret(out, err, caplog)
    assert url not in out + err

    code, out, err = run(capsys, caplog, ["qa-failed", "--strict"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert "expected https://hooks.slack.com/services/" in lines[0]
    assert_no_secret(out, err, caplog)


def test_a_failed_post_is_a_warning_unless_strict_and_never_echoes_the_url(
    env, receiver, monkeypatch, capsys, caplog
):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    # A server that echoes the path it was asked for in its error.
    receiver.answer(404, f"no_service for /services/T0001/B0002/{SECRET}".encode())
    code, out, err = run(capsys, caplog, ["rolled-back"])
    assert code == 0
    assert "warning: Slack post failed: Slack answered HTTP 404: no_service for" in err
    assert_no_secret(out, err, caplog)

    code, out, err = run(capsys, caplog, ["rolled-back", "--strict"])
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: Slack post failed: ")
    assert_no_secret(out, err, caplog)


def test_a_redirect_is_not_followed(env, receiver, monkeypatch, capsys, caplog):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    receiver.answer(302, b"", {"Location": f"{receiver.url}/elsewhere"})
    code, out, err = run(capsys, caplog, ["released"])
    assert code == 0 and len(receiver.requests) == 1  # the redirect's target was never asked
    assert "HTTP 302 (a redirect, not followed)" in err
    assert_no_secret(out, err, caplog)


def test_a_post_that_gets_no_answer_times_out(env, receiver, monkeypatch, capsys, caplog):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    receiver.hold = threading.Event()
    code, out, err = run(capsys, caplog, ["released", "--timeout", "0.2"])
    receiver.hold.set()
    assert code == 0 and "warning: Slack post failed:" in err
    assert "0.2 s" in err or "timed out" in err
    assert_no_secret(out, err, caplog)


def test_values_cannot_become_slack_markup(env, receiver, monkeypatch, capsys, caplog):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    code, _, err = run(
        capsys, caplog, ["gate-failed", "--detail", "branch: x<!channel><https://evil.example|click>&"]
    )
    assert code == 0, err
    text = json.dumps(receiver.requests[0].json())
    assert "<!channel>" not in text and "<https://evil.example" not in text
    assert "x&lt;!channel&gt;&lt;https://evil.example|click&gt;&amp;" in text


def test_missing_files_are_noted_and_the_notice_still_goes_out(
    env, receiver, monkeypatch, tmp_path, capsys, caplog
):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    log = tmp_path / "pipeline.log"
    log.write_text(
        "pipeline: started\n" + "".join(f"line {i}\n" for i in range(10)) + "  reason: auc 0.7 < 0.9\n"
    )
    code, _, err = run(
        capsys,
        caplog,
        [
            "gate-failed",
            "--lock",
            str(tmp_path / "none.json"),
            "--report",
            str(tmp_path / "r.json"),
            "--log",
            str(log),
        ],
    )
    assert code == 0
    assert err.count("does not exist; sent without it") == 2
    text = json.dumps(receiver.requests[0].json())
    assert "reason: auc 0.7 &lt; 0.9" in text and "line 9" in text and "line 4" not in text  # last 5 lines


def test_bad_arguments_are_one_usage_error(env, capsys, caplog):
    for argv in (["deployed"], ["released", "--metric", "auc"], ["released", "--env", "dev"]):
        code, _, err = run(capsys, caplog, argv)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, err)


def test_the_message_includes_the_endpoint_test_report(env, receiver, monkeypatch, tmp_path, capsys, caplog):
    monkeypatch.setenv(slack.WEBHOOK_ENV, WEBHOOK)
    report = tmp_path / "qa-report.json"
    checks = [{"name": "schema", "passed": True}, {"name": "accuracy", "passed": False, "detail": "0.5"}]
    report.write_text(json.dumps({"passed": False, "checks": checks}))
    code, out, _ = run(capsys, caplog, ["qa-failed", "--version", ARN, "--report", str(report)])
    assert code == 0
    assert "endpoint tests FAILED: 1 of 2 checks passed; failed: accuracy" in out
    assert "endpoint tests FAILED: 1 of 2 checks passed; failed: accuracy" in json.dumps(
        receiver.requests[0].json()
    )


# ---------------------------------------------------------------------------- SNS (moto)


@pytest.fixture
def sns_env(env, configure, accounts):
    raw = _raw()
    raw["notifications"] = {"sns": True}
    configure(raw)
    cfg = make_config("four")
    return cfg, accounts(cfg)


def subscribe(session: Any, topic: str) -> tuple[Any, str]:
    sqs = session.client("sqs")
    queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return sqs, queue


def test_publishes_to_the_environments_alerts_topic(sns_env, tmp_path, capsys):
    cfg, accounts = sns_env
    prod = accounts.session("prod")
    topic = prod.client("sns").create_topic(Name=cfg.names.alerts_topic)["TopicArn"]
    assert topic == f"arn:aws:sns:{cfg.region}:{cfg.account_id('prod')}:{cfg.names.alerts_topic}"
    sqs, queue = subscribe(prod, topic)

    code = notify_cli.main(["rolled-back", "--lock", str(write_lock(tmp_path))], session=prod)

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"notify: published to {topic}" in out
    [received] = sqs.receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(received["Body"])
    assert body["Subject"] == f"{cfg.project.model_name}: Release failed; the prod endpoint was rolled back"
    for fact in (ARN, "auc: 0.9123", f"run: {RUN_URL}"):
        assert fact in body["Message"]


def test_an_event_without_a_workload_environment_publishes_nothing(sns_env, recorder, capsys):
    _, accounts = sns_env
    session = recorder.attach(accounts.session("prod"))
    recorder.calls.clear()
    assert notify_cli.main(["gate-failed"], session=session) == 0
    assert "SNS skipped (gate-failed concerns no workload environment" in capsys.readouterr().out
    assert recorder.calls == []


def test_a_failed_publish_is_a_warning_unless_strict(sns_env, capsys):
    cfg, accounts = sns_env
    qa = accounts.session("qa")  # no topic there
    assert notify_cli.main(["qa-failed"], session=qa) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: publish to arn:aws:sns:") and cfg.names.alerts_topic in err
    assert notify_cli.main(["qa-failed", "--strict"], session=qa) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: publish to arn:aws:sns:")
