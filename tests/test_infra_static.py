"""Static checks of the generated infrastructure: cfn-lint, checkov and the product's policy checks.

The CloudFormation templates in `infra/` hold no Jinja, so every option set bakes the same
files (asserted below); cfn-lint runs once for all baked regions, checkov once, and the product's
own policy checks (`python -m <package>.infra.policy_checks infra`, and the same through
`python -m <package> infra check infra`) for every option set,
because they resolve the templates with that repo's accounts and names.

Tools: cfn-lint comes with moto[server] in requirements/test.txt. checkov pins dependencies
that conflict with the generated repo's (boto3), so it lives in its own virtual environment:
set CHECKOV_BIN to its `checkov` executable, or build `.venv-checkov/` in the template root
(`checkov==3.3.30`); CFN_LINT_BIN overrides cfn-lint the same way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TEMPLATE

PYTHON = Path(sys.executable)
REPRESENTATIVE = ("sklearn-serverless-single", "xgboost-real-time-four", "custom")


def tool(name: str, env_var: str) -> Path:
    """The executable from `env_var`, the template's .venv-checkov, this venv, or PATH; fail if none."""
    if os.environ.get(env_var):
        path = Path(os.environ[env_var])
        assert path.exists(), f"{env_var}={path} does not exist"
        return path
    for candidate in (TEMPLATE / ".venv-checkov" / "bin" / name, PYTHON.parent / name):
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: set {env_var}, or install it (see this module's docstring)")
    return Path(found)


def run(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env["PYTHONPATH"] = "src"
    return subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def templates(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / "infra").glob("*.yaml"))}


def config(repo: Path) -> dict:
    return json.loads((repo / "config" / "project.json").read_text())


def test_every_option_set_bakes_the_same_templates(baked: dict[str, Path]) -> None:
    reference = templates(baked["sklearn-serverless-single"])
    assert sorted(reference) == [
        "data-science.yaml",
        "github-oidc.yaml",
        "retraining-events.yaml",
        "shared-services.yaml",
        "workload-deploy.yaml",
        "workload.yaml",
    ]
    for name, repo in baked.items():
        assert templates(repo) == reference, f"{name}: infra/ differs from the default bake"


def test_cfn_lint_has_no_errors_or_warnings(baked: dict[str, Path]) -> None:
    """One run over the (identical) templates for every region an option set bakes."""
    repo = baked["sklearn-serverless-single"]
    regions = sorted({config(r)["aws"]["region"] for r in baked.values()})
    assert len(regions) >= 2, regions
    files = sorted(str(p.relative_to(repo)) for p in (repo / "infra").glob("*.yaml"))
    result = run([str(tool("cfn-lint", "CFN_LINT_BIN")), "--regions", *regions, "--template", *files], repo)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_checkov_has_no_failed_check_and_every_skip_is_justified(baked: dict[str, Path]) -> None:
    repo = baked["sklearn-serverless-single"]
    cmd = [
        str(tool("checkov", "CHECKOV_BIN")),
        "--skip-download",
        "-d",
        "infra",
        "--framework",
        "cloudformation",
    ]
    result = run([*cmd, "-o", "json"], repo, timeout=600)
    report = json.loads(result.stdout)
    results, summary = report["results"], report["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in results["failed_checks"]]
    assert failed == [] and result.returncode == 0, f"checkov failed checks: {failed}"
    assert summary["parsing_errors"] == 0 and summary["resource_count"] >= 15, summary
    assert summary["passed"] > 0
    for check in results["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 20, f"{check['check_id']} on {check['resource']} is skipped without a justification"


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_policy_checks_and_bootstrap_plan(baked: dict[str, Path], name: str) -> None:
    repo = baked[name]
    package = config(repo)["project"]["package"]
    checks = run([str(PYTHON), "-m", f"{package}.infra.policy_checks", "infra"], repo)
    assert checks.returncode == 0, checks.stdout + checks.stderr
    assert "no findings in 6 templates" in checks.stdout
    # The same checks through the project's one command line (`<package> infra check`).
    via_cli = run([str(PYTHON), "-m", package, "infra", "check", "infra"], repo)
    assert via_cli.returncode == 0 and via_cli.stdout == checks.stdout, via_cli.stdout + via_cli.stderr

    plan = run([str(PYTHON), "-m", f"{package}.infra.bootstrap", "--dry-run"], repo)
    assert plan.returncode == 0, plan.stderr
    summary = json.loads(plan.stdout.split("\n# Apply the GitHub settings")[0])
    cfg = config(repo)
    distinct = len(set(cfg["aws"]["accounts"].values()))
    workload = len({cfg["aws"]["accounts"]["qa"], cfg["aws"]["accounts"]["prod"]})
    # One OIDC provider stack per distinct account, shared services, data science, one workload
    # stack per workload account, one deploy-role stack per environment.
    assert len(summary["stacks"]) == distinct + 2 + workload + 2
    # Each GitHub role is trusted by one environment: feature branches reach only the feature
    # environment, the dev branch the build environment.
    environments = summary["github"]["environments"]
    build = environments[cfg["github"]["environments"]["build"]]
    assert build["deployment_branches"] == [cfg["branches"]["dev"]]
    feature = environments[cfg["github"]["environments"]["feature"]]
    assert feature["deployment_branches"] == [cfg["branches"]["feature_prefix"] + "**"]
    # The image-pulling stacks get AWS's image account for the bake's region, as the SDK knows it.
    region = cfg["aws"]["region"]
    pulling = [
        row for row in summary["stacks"] if row["template"] in ("infra/data-science.yaml", "infra/workload.yaml")
    ]
    assert len(pulling) == 1 + workload
    accounts = sdk_image_accounts(cfg["pipeline"]["framework_versions"])
    assert {row["parameters"]["FrameworkImageAccountId"] for row in pulling} == {accounts[region]}


def sdk_image_accounts(versions: dict[str, str]) -> dict[str, str]:
    """region -> the account of the scikit-learn and XGBoost images at `versions`, from the
    SageMaker SDK's image table (read without importing the SDK); regions where the accounts
    differ or an image is missing are left out."""
    spec = importlib.util.find_spec("sagemaker")
    assert spec and spec.submodule_search_locations, "the SageMaker SDK is not installed in this venv"
    folder = Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config"
    found: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for framework, version in versions.items():
        data = json.loads((folder / f"{framework}.json").read_text())
        for scope in ("training", "inference"):
            for region, account in data[scope]["versions"][version]["registries"].items():
                found.setdefault(region, set()).add(account)
                counts[region] = counts.get(region, 0) + 1
    full = 2 * len(versions)
    return {
        region: accounts.pop() for region, accounts in found.items() if counts[region] == full and len(accounts) == 1
    }


def test_image_table_covers_every_usable_region_the_bake_accepts(baked: dict[str, Path]) -> None:
    """Every region the pre-generation hook accepts is either in the baked image table with the
    SDK's account, or has no framework image (then bootstrap refuses it, tests/test_images.py)."""
    hook_spec = importlib.util.spec_from_file_location("pre_gen_project", TEMPLATE / "hooks" / "pre_gen_project.py")
    hook = importlib.util.module_from_spec(hook_spec)
    hook_spec.loader.exec_module(hook)
    accepted = set(hook.sagemaker_regions()) | set(hook.SAGEMAKER_REGIONS_FALLBACK)
    repo = baked["sklearn-serverless-single"]
    package = config(repo)["project"]["package"]
    script = f"import json; from {package}.access import images; print(json.dumps(dict(images.IMAGE_ACCOUNTS)))"
    result = run([str(PYTHON), "-c", script], repo)
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    accounts = sdk_image_accounts(config(repo)["pipeline"]["framework_versions"])
    sdk = {region: account for region, account in accounts.items() if region in accepted}
    assert table == sdk, {"only in table": sorted(set(table) - set(sdk)), "only in SDK": sorted(set(sdk) - set(table))}
