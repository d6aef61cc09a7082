"""Static checks of the generated GitHub Actions workflows, on every baked option set.

Linters: zizmor (offline, pedantic persona: no finding of any severity), check-jsonschema
against GitHub's workflow schema, actionlint. Then the product's own rules, each a function
that returns the problems it finds, so the same function is shown to catch a broken workflow
(the negative fixtures at the end):

- triggers (`on:` branches, paths, types) follow the branch flow of SPEC.md;
- every `uses:` pinned to a 40-hex commit SHA with a `# vX.Y.Z` comment, one SHA per action;
- top-level `permissions: {}`; every job declares its own; `id-token: write` exactly in the jobs
  that configure AWS credentials; `contents: write` only in the job that commits the lock file;
- no `${{ }}` inside `run:` or github-script code (untrusted data goes through `env:`);
- `persist-credentials: false` on every checkout; quoted Python versions;
- every AWS job declares its GitHub environment and assumes only that environment's roles, and
  each role ARN is the one config/project.json names for its account;
- deploy jobs install requirements/deploy.txt only; deploy concurrency never cancels a run in
  progress, checks cancel older runs;
- every `pip install` uses `--require-hashes` on requirements files whose every pin carries a
  sha256 hash (a job that then holds AWS credentials runs nothing unverified).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "act"))

from conftest import baked_config
from harness import find_tool

WORKFLOWS = ("checks.yml", "feature.yml", "dev.yml", "release-pr.yml", "release.yml", "retrain.yml", "batch.yml")
PIN = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:")
EXPRESSION = re.compile(r"\$\{\{")
CREDENTIALS = "aws-actions/configure-aws-credentials"
# Which GitHub environment may assume which roles (account role, role key in the baked config).
ENVIRONMENT_ROLES = {
    "feature": {("data_science", "github_feature")},
    "data-science": {("data_science", "github_build")},
    "qa": {("shared_services", "github_registry_qa"), ("qa", "github_deploy_qa")},
    "prod": {("shared_services", "github_registry_prod"), ("prod", "github_deploy_prod")},
    # batch.yml's jobs: the batch identities only (no reviewers: they cannot change what is served).
    "batch": {("qa", "github_batch_qa"), ("prod", "github_batch_prod")},
}
REQUIREMENT = re.compile(r"^[A-Za-z0-9_.-]+(\[[^\]]*\])?==\S+")


def load(text: str) -> dict:
    data = yaml.safe_load(text)
    if True in data:  # PyYAML reads the key `on` as True
        data["on"] = data.pop(True)
    return data


def workflows(repo: Path) -> dict[str, str]:
    return {name: (repo / ".github" / "workflows" / name).read_text() for name in WORKFLOWS}


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(step: dict) -> str:
    return str(step.get("uses", "")).split("@")[0]


# ---------------------------------------------------------------------------- rule functions


def pin_problems(files: dict[str, str]) -> list[str]:
    problems, shas = [], {}
    for name, text in files.items():
        for line in text.splitlines():
            if not USES_LINE.match(line):
                continue
            match = PIN.match(line)
            if not match:
                problems.append(f"{name}: not pinned to a commit SHA with a # vX.Y.Z comment: {line.strip()}")
                continue
            shas.setdefault(match["action"], set()).add(match["sha"])
    problems += [f"{action} pinned to several SHAs: {sorted(s)}" for action, s in shas.items() if len(s) > 1]
    return problems


def permission_problems(name: str, text: str) -> list[str]:
    data = load(text)
    problems = [] if data.get("permissions") == {} else [f"{name}: top-level permissions is not {{}}"]
    for job_id, job in data["jobs"].items():
        perms = job.get("permissions")
        if not isinstance(perms, dict):
            problems.append(f"{name}/{job_id}: no job-level permissions map")
            continue
        configures_aws = any(uses(s) == CREDENTIALS for s in steps(job))
        if (perms.get("id-token") == "write") != configures_aws:
            problems.append(f"{name}/{job_id}: id-token: write must be set exactly when AWS credentials are configured")
        if perms.get("contents") == "write" and job_id != "record-lock":
            problems.append(f"{name}/{job_id}: contents: write outside the lock-commit job")
        # Only the retraining dispatch may create a workflow_dispatch event (for dev.yml).
        writable = {"id-token", "contents", "pull-requests"} | (
            {"actions"} if (name, job_id) == ("retrain.yml", "dispatch") else set()
        )
        if any(v == "write" for k, v in perms.items() if k not in writable):
            problems.append(f"{name}/{job_id}: unexpected write permission {perms}")
    return problems


def expression_problems(name: str, text: str) -> list[str]:
    """No GitHub expression inside shell or github-script code: data reaches code through env."""
    problems = []
    for job_id, job in load(text)["jobs"].items():
        for step in steps(job):
            code = step.get("run", "") + (
                step.get("with", {}).get("script", "") if uses(step) == "actions/github-script" else ""
            )
            if EXPRESSION.search(code):
                problems.append(
                    f"{name}/{job_id}: ${{{{ }}}} inside code of step {step.get('name') or step.get('uses')}"
                )
    return problems


def checkout_problems(name: str, text: str) -> list[str]:
    problems = []
    for job_id, job in load(text)["jobs"].items():
        for step in steps(job):
            if uses(step) == "actions/checkout" and step.get("with", {}).get("persist-credentials") is not False:
                problems.append(f"{name}/{job_id}: checkout without persist-credentials: false")
            if uses(step) == "actions/setup-python" and not isinstance(step["with"].get("python-version"), str):
                problems.append(f"{name}/{job_id}: python-version must be a quoted string")
    return problems


def role_problems(name: str, text: str, cfg) -> list[str]:
    """Each role a job assumes must be one its environment may use, as the baked config derives it."""
    data = load(text)
    env = data.get("env", {})
    problems = []
    for job_id, job in data["jobs"].items():
        roles = [s["with"]["role-to-assume"] for s in steps(job) if uses(s) == CREDENTIALS]
        if not roles:
            continue
        environment = job.get("environment")
        if environment not in ENVIRONMENT_ROLES:
            problems.append(f"{name}/{job_id}: AWS job without a known environment: ({environment!r})")
            continue
        allowed = {cfg.role_arn(account, key) for account, key in ENVIRONMENT_ROLES[environment]}
        for role in roles:
            match = re.fullmatch(r"\$\{\{ env\.(\w+) \}\}", role)
            arn = env.get(match.group(1)) if match else role
            if arn not in allowed:
                problems.append(f"{name}/{job_id}: role {arn} is not one environment {environment} may assume")
    return problems


def deploy_job_problems(name: str, text: str) -> list[str]:
    problems = []
    for job_id, job in load(text)["jobs"].items():
        if job.get("environment") not in ("qa", "prod", "batch"):
            continue
        code = " ".join(s.get("run", "") for s in steps(job))
        caches = [s["with"].get("cache-dependency-path") for s in steps(job) if uses(s) == "actions/setup-python"]
        if "requirements/dev.txt" in code or caches not in (["requirements/deploy.txt"], [None]):
            problems.append(f"{name}/{job_id}: a qa/prod job must install requirements/deploy.txt only")
        if re.search(r'python -m "\$PACKAGE" pipeline\b', code):
            problems.append(f"{name}/{job_id}: a qa/prod job must not need the SageMaker SDK")
        concurrency = job.get("concurrency") or {}
        if name != "release-pr.yml" and concurrency.get("cancel-in-progress") is not False:
            problems.append(f"{name}/{job_id}: deploy concurrency must not cancel a run in progress")
    return problems


def dispatch_inputs(on: dict) -> dict:
    """A workflow_dispatch trigger's inputs without their descriptions (None: no such trigger)."""
    dispatch = on.get("workflow_dispatch")
    if not isinstance(dispatch, dict):
        return dispatch
    inputs = dispatch.get("inputs") or {}
    return {"inputs": {k: {f: v for f, v in spec.items() if f != "description"} for k, spec in inputs.items()}}


def trigger_problems(files: dict[str, str], cfg: dict) -> list[str]:
    dev, prod, prefix = cfg["branches"]["dev"], cfg["branches"]["prod"], cfg["branches"]["feature_prefix"]
    text = {"required": False, "default": "", "type": "string"}
    expected = {
        "checks.yml": {"pull_request": {"branches": [dev, prod]}, "push": {"branches": [f"{prefix}**"]}},
        "feature.yml": {"push": {"branches": [f"{prefix}**"], "paths-ignore": ["docs/**", "**.md"]}},
        "dev.yml": {
            "push": {"branches": [dev], "paths-ignore": ["docs/**", "**.md"]},
            # A retraining dispatches the dev workflow (retrain.yml); it checks ref and inputs.
            "workflow_dispatch": {
                "inputs": {"dataset_uri": text, "reason": text, "trigger": {**text, "default": "manual"}}
            },
        },
        # The cron is config/project.json's batch schedule of its source environment.
        "batch.yml": {
            "schedule": [
                {
                    "cron": cfg.get("batch", {})
                    .get("environments", {})
                    .get(cfg.get("batch", {}).get("source", "prod"), {})
                    .get("schedule", "0 5 * * *")
                }
            ],
            "workflow_dispatch": {
                "inputs": {
                    "env": {"required": True, "default": "prod", "type": "choice", "options": ["prod", "qa"]},
                    "input_uri": text,
                    "date": text,
                }
            },
        },
        # The cron is config/project.json's retraining.schedule.
        "retrain.yml": {
            "schedule": [{"cron": cfg.get("retraining", {}).get("schedule", "0 6 * * 1")}],
            "workflow_dispatch": {"inputs": {"dataset_uri": text, "reason": {"required": True, "type": "string"}}},
            "repository_dispatch": {"types": ["new-data", "drift"]},
        },
        "release-pr.yml": {
            "pull_request": {"branches": [prod], "types": ["opened", "synchronize", "reopened", "ready_for_review"]}
        },
        "release.yml": {
            "push": {
                "branches": [prod],
                "paths": [
                    "model.lock.json",
                    "config/project.json",
                    "requirements/deploy.txt",
                    "src/**",
                    ".github/workflows/release.yml",
                ],
            }
        },
    }
    found = {}
    for n, t in files.items():
        on = load(t)["on"]
        found[n] = {**on, "workflow_dispatch": dispatch_inputs(on)} if "workflow_dispatch" in on else on
    problems = [f"{n}: triggers {found[n]} != {expected[n]}" for n in files if found[n] != expected[n]]
    release_pr = load(files["release-pr.yml"])["jobs"]["compare"]["if"]
    if f"github.head_ref == '{dev}'" not in release_pr:
        problems.append(f"release-pr.yml: compare job does not require the head branch {dev!r}: {release_pr}")
    checks = load(files["checks.yml"]).get("concurrency", {})
    if checks.get("cancel-in-progress") is not True:
        problems.append("checks.yml: checks must cancel older runs on the same ref")
    return problems


def hash_problems(name: str, text: str, repo: Path) -> list[str]:
    """Every pip install is hash-checked, and the files it installs pin every package with hashes."""
    problems = []
    for job_id, job in load(text)["jobs"].items():
        for step in steps(job):
            for line in step.get("run", "").splitlines():
                if "pip install" not in line:
                    continue
                if "--require-hashes" not in line:
                    problems.append(f"{name}/{job_id}: {line.strip()!r} does not require hashes")
                for path in re.findall(r"-r\s+(\S+)", line):
                    pins = [
                        entry
                        for entry in (repo / path).read_text().replace("\\\n", " ").splitlines()
                        if REQUIREMENT.match(entry)
                    ]
                    unhashed = [pin.split()[0] for pin in pins if "--hash=sha256:" not in pin]
                    if not pins or unhashed:
                        problems.append(f"{name}/{job_id}: {path} pins without hashes: {unhashed[:3]}")
    return problems


def all_problems(repo: Path) -> list[str]:
    files = workflows(repo)
    raw = json.loads((repo / "config" / "project.json").read_text())
    cfg = baked_config(repo)
    problems = pin_problems(files) + trigger_problems(files, raw)
    for name, text in files.items():
        problems += permission_problems(name, text) + expression_problems(name, text)
        problems += checkout_problems(name, text) + role_problems(name, text, cfg) + deploy_job_problems(name, text)
        problems += hash_problems(name, text, repo)
    return problems


# ---------------------------------------------------------------------------- baked repositories


def tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        pytest.fail(f"{name} not installed (pinned in requirements/test.txt; `make test` installs it)")
    return path


def workflow_paths(repo: Path) -> list[str]:
    return [str(repo / ".github" / "workflows" / name) for name in WORKFLOWS]


def test_exactly_the_seven_workflows_are_generated(baked):
    for repo in baked.values():
        assert sorted(p.name for p in (repo / ".github" / "workflows").iterdir()) == sorted(WORKFLOWS)


def test_product_rules_hold_on_every_option_set(baked):
    problems = {name: all_problems(repo) for name, repo in baked.items()}
    assert problems == {name: [] for name in baked}


def test_zizmor_finds_nothing(baked):
    zizmor = tool("zizmor")
    for name, repo in baked.items():
        done = subprocess.run(
            [zizmor, "--offline", "--persona", "pedantic", "--format", "json", "--no-progress", *workflow_paths(repo)],
            capture_output=True,
            text=True,
        )
        assert json.loads(done.stdout or "[]") == [], f"{name}: {done.stdout[:3000]}"
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"


def test_workflows_match_githubs_schema(baked):
    checker = tool("check-jsonschema")
    for name, repo in baked.items():
        done = subprocess.run(
            [checker, "--builtin-schema", "vendor.github-workflows", *workflow_paths(repo)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def test_actionlint_finds_nothing(baked):
    actionlint = tool("actionlint")
    for name, repo in baked.items():
        done = subprocess.run([actionlint, "-no-color", *workflow_paths(repo)], capture_output=True, text=True)
        assert (done.returncode, done.stdout) == (0, ""), f"{name}: {done.stdout}{done.stderr}"


def test_role_arns_render_from_the_answers(baked):
    """The four-account custom set: each workflow names the roles of the right accounts."""
    text = workflows(baked["custom"])
    assert "arn:aws:iam::222222222222:role/fraud-xgb-github-registry-prod" in text["release.yml"]
    assert "arn:aws:iam::222222222222:role/fraud-xgb-github-registry-qa" in text["dev.yml"]
    assert "arn:aws:iam::444444444444:role/fraud-xgb-github-deploy-prod" in text["release.yml"]
    assert "arn:aws:iam::333333333333:role/fraud-xgb-github-deploy-qa" in text["dev.yml"]
    assert "arn:aws:iam::111111111111:role/fraud-xgb-github-feature" in text["feature.yml"]
    assert "arn:aws:iam::111111111111:role/fraud-xgb-github-build" in text["dev.yml"]
    assert "{{" not in "".join(t.replace("${{", "") for t in text.values())  # no Jinja left behind


# ---------------------------------------------------------------------------- negative fixtures


@pytest.fixture(scope="module")
def default_repo(baked) -> Path:
    return baked["sklearn-serverless-single"]


def mutate(repo: Path, name: str, old: str, new: str) -> dict[str, str]:
    files = workflows(repo)
    assert old in files[name], f"fixture text {old!r} not in {name}"
    files[name] = files[name].replace(old, new, 1)
    return files


def test_rules_catch_an_untrusted_expression_in_run(default_repo):
    files = mutate(default_repo, "feature.yml", '--branch "$BRANCH"', '--branch "${{ github.head_ref }}"')
    assert expression_problems("feature.yml", files["feature.yml"]) != []


def test_rules_catch_an_expression_in_github_script(default_repo):
    files = mutate(
        default_repo,
        "release-pr.yml",
        "const issue_number = context.payload.pull_request.number;",
        'const issue_number = "${{ github.event.pull_request.title }}";',
    )
    assert expression_problems("release-pr.yml", files["release-pr.yml"]) != []


def test_rules_catch_unpinned_and_uncommented_actions(default_repo):
    tag = mutate(
        default_repo,
        "checks.yml",
        "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "actions/checkout@v5",
    )
    bare = mutate(
        default_repo,
        "checks.yml",
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    )
    other = mutate(
        default_repo,
        "checks.yml",
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "0123456789012345678901234567890123456789 # v5.0.0",
    )
    assert all(pin_problems(files) for files in (tag, bare, other))


def test_rules_catch_loose_permissions(default_repo):
    top = mutate(default_repo, "checks.yml", "permissions: {}", "permissions: write-all")
    token = mutate(
        default_repo,
        "checks.yml",
        "      contents: read # checkout",
        "      contents: read # checkout\n      id-token: write",
    )
    missing = mutate(
        default_repo, "feature.yml", "      id-token: write # OIDC token for configure-aws-credentials\n", ""
    )
    write = mutate(default_repo, "release.yml", "      contents: read # checkout", "      contents: write")
    for name, files in (("checks.yml", top), ("checks.yml", token), ("feature.yml", missing), ("release.yml", write)):
        assert permission_problems(name, files[name]) != [], name


def test_rules_catch_persisted_credentials_and_float_versions(default_repo):
    persisted = mutate(default_repo, "dev.yml", "persist-credentials: false", "persist-credentials: true")
    number = mutate(default_repo, "dev.yml", 'python-version: "3.11"', "python-version: 3.10")
    assert checkout_problems("dev.yml", persisted["dev.yml"]) != []
    assert checkout_problems("dev.yml", number["dev.yml"]) != []


def test_rules_catch_a_wrong_role_or_environment(default_repo, baked):
    repo = baked["custom"]
    cfg = baked_config(repo)
    # The prod deploy role assumed from the qa environment.
    swapped = mutate(
        repo,
        "dev.yml",
        "arn:aws:iam::333333333333:role/fraud-xgb-github-deploy-qa",
        "arn:aws:iam::444444444444:role/fraud-xgb-github-deploy-prod",
    )
    no_env = mutate(repo, "release.yml", "    environment: prod\n", "")
    assert role_problems("dev.yml", swapped["dev.yml"], cfg) != []
    assert role_problems("release.yml", no_env["release.yml"], cfg) != []


def test_rules_catch_an_install_without_hashes(default_repo, tmp_path):
    files = mutate(
        default_repo,
        "feature.yml",
        "--require-hashes -r requirements/dev.txt",
        "-r requirements/dev.txt",
    )
    assert any("does not require hashes" in p for p in hash_problems("feature.yml", files["feature.yml"], default_repo))
    # A requirements file with one pin that lost its hashes.
    copy = tmp_path / "repo"
    (copy / "requirements").mkdir(parents=True)
    lines = (default_repo / "requirements" / "dev.txt").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if REQUIREMENT.match(line))
    lines[first] = lines[first].replace(" \\", "")
    while lines[first + 1].lstrip().startswith("--hash="):
        del lines[first + 1]
    (copy / "requirements" / "dev.txt").write_text("\n".join(lines) + "\n")
    problems = hash_problems("feature.yml", workflows(default_repo)["feature.yml"], copy)
    assert problems == [f"feature.yml/train: requirements/dev.txt pins without hashes: ['{lines[first].split()[0]}']"]


def test_rules_catch_a_heavy_or_cancellable_deploy_job(default_repo):
    heavy = mutate(
        default_repo, "release.yml", "--require-hashes -r requirements/deploy.txt", "-r requirements/dev.txt"
    )
    dev_cache = mutate(
        default_repo,
        "dev.yml",
        "cache-dependency-path: requirements/deploy.txt",
        "cache-dependency-path: requirements/dev.txt",
    )
    assert deploy_job_problems("dev.yml", dev_cache["dev.yml"]) != []
    cancel = mutate(
        default_repo,
        "release.yml",
        "      group: deploy-prod\n      cancel-in-progress: false",
        "      group: deploy-prod\n      cancel-in-progress: true",
    )
    sdk = mutate(
        default_repo,
        "release.yml",
        'python -m "$PACKAGE" deploy --env prod',
        'python -m "$PACKAGE" pipeline definition --offline && python -m "$PACKAGE" deploy --env prod',
    )
    assert deploy_job_problems("release.yml", heavy["release.yml"]) != []
    assert deploy_job_problems("release.yml", cancel["release.yml"]) != []
    assert deploy_job_problems("release.yml", sdk["release.yml"]) != []


def test_rules_catch_wrong_triggers(default_repo):
    cfg = json.loads((default_repo / "config" / "project.json").read_text())
    wrong_branch = mutate(default_repo, "release.yml", 'branches: ["main"]', 'branches: ["dev"]')
    no_types = mutate(
        default_repo, "release-pr.yml", "    types: [opened, synchronize, reopened, ready_for_review]\n", ""
    )
    any_head = mutate(default_repo, "release-pr.yml", "github.head_ref == 'dev' && ", "")
    for files in (wrong_branch, no_types, any_head):
        assert trigger_problems(files, cfg) != []


def test_zizmor_catches_a_template_injection(default_repo, tmp_path):
    zizmor = tool("zizmor")
    files = mutate(default_repo, "feature.yml", '--branch "$BRANCH"', '--branch "${{ github.head_ref }}"')
    target = tmp_path / "feature.yml"
    target.write_text(files["feature.yml"])
    done = subprocess.run(
        [zizmor, "--offline", "--format", "json", "--no-progress", str(target)], capture_output=True, text=True
    )
    assert "template-injection" in {finding["ident"] for finding in json.loads(done.stdout)}
