"""The one command line: every command reachable, one exit-status and error contract, lazy imports.

`python -m <package> <command>` dispatches to the module that owns the command. These tests hold
the contract the workflows and the Makefile rely on: a bad config is exit 2 with exactly one
`error:` line on stderr from every command that reads it (before any AWS call or training); an
unknown command or option is exit 2; and the commands the deploy and release jobs run import
neither the SageMaker SDK nor pandas, numpy or scikit-learn (those jobs install boto3 only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deploy_helpers import PACKAGE, ROOT, fake_aws_env, module

cli = module("cli")

# A config that parses as JSON but names an account that cannot exist.
BROKEN = {"message": "aws.accounts.qa", "edit": ("aws", "accounts", "qa"), "value": "12345"}

ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/m/1"
# Every command that reads the config, with arguments that are otherwise valid.
READS_CONFIG = {
    "config": ["config"],
    "data": ["data", "upload", "data/sample.csv", "--dry-run"],
    "pipeline": ["pipeline", "definition", "--offline"],
    "local": ["local"],
    "registry": ["registry", "latest", "--group", "dev"],
    "lock": ["lock", "show"],
    "compare": ["compare", "--env", "prod"],
    "deploy": ["deploy", "--env", "qa", "--arn", ARN],
    "rollback": ["rollback", "--env", "qa"],
    "endpoint-test": ["endpoint-test", "--env", "qa"],
    "infra": ["infra", "bootstrap", "--dry-run"],
    "notify": ["notify", "gate-failed"],
    "retrain": ["retrain", "dispatch", "--dry-run"],
    "shadow": ["shadow", "compare", "--arn", ARN],
    "batch": ["batch", "run", "--env", "prod"],
}

# What the qa and prod jobs run (.github/workflows/dev.yml deploy-qa, release.yml): boto3 only.
DEPLOY_JOB_COMMANDS = [
    ["registry", "--help"],
    ["lock", "--help"],
    ["compare", "--help"],
    ["deploy", "--help"],
    ["rollback", "--help"],
    ["endpoint-test", "--help"],
    ["notify", "--help"],
    ["shadow", "--help"],
    ["batch", "--help"],
]
HEAVY = ("sagemaker", "pandas", "numpy", "sklearn", "xgboost", "scipy")


def test_every_command_has_a_main_and_help(capsys):
    for name, command in cli.COMMANDS.items():
        target = module(command.module)
        assert callable(getattr(target, "main", None)), f"{name}: {command.module} has no main()"
        with pytest.raises(SystemExit) as exc:
            target.main([name, "--help"] if command.keep_name else ["--help"])
        assert exc.value.code == 0, name
    listing = capsys.readouterr()
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert f"  {name} " in out, name
    assert listing.out  # each --help printed its usage


def test_no_command_or_an_unknown_one_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "usage:" in capsys.readouterr().err
    assert cli.main(["deploi", "--env", "qa"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("error: unknown command 'deploi'"), err
    assert "deploy" in err[0]


# One usage error per command, in the shape its parser sees it.
BAD_OPTION = [
    ["config", "--no-such-option"],
    ["data", "upload", "--no-such-option"],
    ["infra", "check", "--no-such-option"],
    ["local", "--threshold", "x"],
    ["serve", "--model", "m.tar.gz", "--port", "abc"],
    ["pipeline", "run", "--no-such-option"],
    ["registry", "latest", "--no-such-option"],
    ["lock", "show", "--no-such-option"],
    ["compare", "--no-such-option"],
    ["deploy", "--no-such-option"],
    ["rollback", "--env", "dev"],
    ["endpoint-test", "--rows", "0"],
    ["routes", "--env", "dev"],
    ["notify", "deployed"],
    ["retrain", "dispatch", "--no-such-option"],
    ["shadow", "compare", "--no-such-option"],
    ["batch", "run", "--env", "dev"],
]


def test_a_usage_error_is_exit_2_with_one_error_line(capsys):
    assert {argv[0] for argv in BAD_OPTION} == set(cli.COMMANDS)
    for argv in BAD_OPTION:
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, lines)
        assert captured.out == "", argv


@pytest.mark.parametrize("name", sorted(READS_CONFIG))
def test_a_bad_config_is_exit_2_with_one_error_line(name, tmp_path, monkeypatch, capsys):
    raw = json.loads((ROOT / "config" / "project.json").read_text())
    section = raw
    *parents, leaf = BROKEN["edit"]
    for key in parents:
        section = section[key]
    section[leaf] = BROKEN["value"]
    path = tmp_path / "project.json"
    path.write_text(json.dumps(raw))
    monkeypatch.setenv("MLOPS_CONFIG", str(path))
    monkeypatch.chdir(ROOT)
    fake_aws_env(monkeypatch)
    code = cli.main(READS_CONFIG[name])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (name, code, captured.err)
    assert len(lines) == 1 and lines[0].startswith("error: "), (name, lines)
    assert BROKEN["message"] in lines[0] and BROKEN["value"] in lines[0], lines[0]
    assert captured.out == "", (name, captured.out)


def test_deploy_job_commands_import_no_sdk_or_dataframe_library():
    script = (
        "import sys, contextlib, io\n"
        f"from {PACKAGE} import cli\n"
        f"for argv in {DEPLOY_JOB_COMMANDS!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert cli.main(argv) == 0, argv\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["registry", "--help"], "registry"),
        (["lock", "--help"], "lock"),
        (["deploy", "--help"], "deploy"),
        (["pipeline", "--help"], "pipeline"),
        (["local", "--help"], "local"),
        (["infra", "bootstrap", "--help"], "infra bootstrap"),
        (["infra", "check", "--help"], "infra check"),
        (["config", "--help"], "config"),
    ],
)
def test_help_names_the_command_as_typed(argv, usage, capsys):
    """`<slug> registry --help` says `usage: <slug> registry ...`, not a module path."""
    assert cli.main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"usage: {PACKAGE.replace('_', '-')} {usage} "), first
    # Outside the dispatcher the module names itself again.
    assert module("cli_support").prog("fallback") == "fallback"


def _without_credentials(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_no_credentials_is_one_line_saying_how_to_sign_in(monkeypatch, tmp_path, capsys):
    _without_credentials(monkeypatch, tmp_path)
    monkeypatch.chdir(ROOT)
    assert cli.main(["deploy", "--env", "qa", "--arn", "arn:aws:sagemaker:x"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [
        "error: no AWS credentials found: sign in (e.g. aws sso login --profile NAME) and set AWS_PROFILE, "
        "or run where the role's credentials are configured (the workflows assume them through OIDC)"
    ]
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    assert cli.main(["deploy", "--env", "qa", "--arn", "arn:aws:sagemaker:x"]) == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line.startswith(
        "error: The config profile (nobody) could not be found; see aws configure list-profiles"
    )


def test_lock_check_names_a_missing_lock_before_any_aws_call(monkeypatch, tmp_path, capsys):
    _without_credentials(monkeypatch, tmp_path)
    config = tmp_path / "config" / "project.json"
    config.parent.mkdir()
    config.write_text((ROOT / "config" / "project.json").read_text())
    monkeypatch.setenv("MLOPS_CONFIG", str(config))
    assert cli.main(["lock", "check"]) == 1
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert "no lock file; the dev branch writes it" in line
