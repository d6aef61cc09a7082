"""`infra github apply|verify` (and bootstrap's --github-token-env) against a fake GitHub API on
127.0.0.1 (tests/fake_github.py) that keeps state and records every request: the environments,
and the branch rulesets of the prod and dev branches."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_helpers import make_config, make_raw, module
from fake_github import FakeGitHub

github_cli = module("infra.github_cli")
github_settings = module("infra.github_settings")
bootstrap = module("infra.bootstrap")
apply_module = module("infra.apply")
cli = module("cli")

TOKEN = "ghp_FAKE0secret0token0value0for0tests"
READ_TOKEN = "ghs_FAKE0read0only0token"
CFG = make_config()
REPO = CFG.github.repository
OWNER = CFG.github.owner
ENVS = CFG.github.environments
BRANCHES = CFG.branches
BATCH_ENV = CFG.batch.github_environment
ORDER = [ENVS["feature"], ENVS["build"], ENVS["qa"], ENVS["prod"], BATCH_ENV]
TEAM = "ml-leads"
WANTED_BRANCHES = {
    ENVS["feature"]: f"{BRANCHES.feature_prefix}**",
    ENVS["build"]: BRANCHES.dev,
    ENVS["qa"]: BRANCHES.dev,
    ENVS["prod"]: BRANCHES.prod,
    BATCH_ENV: BRANCHES.prod,
}
CUSTOM = {"protected_branches": False, "custom_branch_policies": True}
PROD_RULESET = f"{CFG.project.model_name} prod branch"
DEV_RULESET = f"{CFG.project.model_name} dev branch"
RULESETS_PATH = f"/repos/{REPO}/rulesets"
CHECK_NAMES = ["Lint, tests, pipeline definition", "Candidate vs prod", "Candidate beats the champion"]
WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


@pytest.fixture
def github(configure: Callable[[Any], Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake API (the repository of the config, its owner's `ml-leads` team), the config written
    (reviewer @OWNER/ml-leads) and the write token in GITHUB_TOKEN."""
    assert CFG.github.prod_reviewers == (f"@{OWNER}/{TEAM}",), "the baked config names the team reviewer"
    configure(CFG)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("READ_TOKEN", READ_TOKEN)
    fake = FakeGitHub(REPO, write_token=TOKEN, read_token=READ_TOKEN)
    fake.add_team(OWNER, TEAM)
    fake.add_user("octo-reviewer")
    fake.start()
    yield fake
    fake.stop()


def run(
    fake: FakeGitHub, capsys: pytest.CaptureFixture[str], *args: str, main: Any = None
) -> tuple[int, str, str, list[Any]]:
    """Run `github <args> --api-url <fake>`; (exit status, stdout, stderr, requests it made)."""
    before = len(fake.requests)
    code = (main or github_cli.main)([*args, "--api-url", fake.url])
    out, err = capsys.readouterr()
    return code, out, err, fake.requests[before:]


def calls(requests: list[Any]) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in requests]


def env_path(name: str) -> str:
    return f"/repos/{REPO}/environments/{name}"


def policies_path(name: str) -> str:
    return env_path(name) + "/deployment-branch-policies"


def ruleset_path(fake: FakeGitHub, name: str) -> str:
    return f"{RULESETS_PATH}/{fake.ruleset(name)['id']}"


def verify_calls(fake: FakeGitHub) -> list[tuple[str, str]]:
    sequence = [("GET", f"/repos/{REPO}")]
    for name in ORDER:
        sequence += [("GET", env_path(name)), ("GET", policies_path(name))]
    sequence.append(("GET", RULESETS_PATH))
    return sequence + [("GET", ruleset_path(fake, name)) for name in (PROD_RULESET, DEV_RULESET)]


def wanted_ruleset(branch: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": "branch",
        "enforcement": "active",
        "bypass_actors": [],
        "conditions": {"ref_name": {"include": [f"refs/heads/{branch}"], "exclude": []}},
        "rules": [{"type": "deletion"}, {"type": "non_fast_forward"}, *rules],
    }


PROD_REVIEW = {
    "type": "pull_request",
    "parameters": {
        "required_approving_review_count": 1,
        "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": True,
        "require_last_push_approval": True,
        "required_review_thread_resolution": False,
    },
}
PROD_CHECKS = {
    "type": "required_status_checks",
    "parameters": {
        "strict_required_status_checks_policy": False,
        "required_status_checks": [{"context": name} for name in CHECK_NAMES],
    },
}


def test_apply_on_an_empty_repository_makes_exactly_these_requests(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err, requests = run(github, capsys, "apply")

    assert code == 0, err
    expected = [("GET", f"/repos/{REPO}"), ("GET", f"/orgs/{OWNER}/teams/{TEAM}")]
    for name in ORDER:
        expected += [
            ("GET", env_path(name)),
            ("PUT", env_path(name)),
            ("GET", policies_path(name)),
            ("POST", policies_path(name)),
        ]
    expected += [("GET", RULESETS_PATH), ("POST", RULESETS_PATH), ("POST", RULESETS_PATH)]
    assert calls(requests) == expected + verify_calls(github)
    # Every request carries the token and GitHub's media type and API version.
    assert {r.auth for r in requests} == {f"Bearer {TOKEN}"}
    assert {(r.accept, r.api_version) for r in requests} == {("application/vnd.github+json", "2022-11-28")}
    assert {r.query for r in requests if r.path.endswith("-policies") and r.method == "GET"} == {
        "per_page=100&page=1"
    }
    assert {r.query for r in requests if r.path == RULESETS_PATH and r.method == "GET"} == {
        "includes_parents=false&per_page=100&page=1"
    }
    rulesets = [r.body for r in requests if r.path == RULESETS_PATH and r.method == "POST"]
    assert rulesets == [
        {"name": PROD_RULESET, **wanted_ruleset(BRANCHES.prod, PROD_REVIEW, PROD_CHECKS)},
        {"name": DEV_RULESET, **wanted_ruleset(BRANCHES.dev)},
    ]
    puts = {r.path.rsplit("/", 1)[1]: r.body for r in requests if r.method == "PUT"}
    team_id = github.teams[(OWNER.lower(), TEAM)]
    assert puts == {
        **{
            name: {"can_admins_bypass": False, "deployment_branch_policy": CUSTOM}
            for name in (*ORDER[:3], BATCH_ENV)
        },
        ENVS["prod"]: {
            "wait_timer": 0,
            "prevent_self_review": True,
            "reviewers": [{"type": "Team", "id": team_id}],
            "can_admins_bypass": False,
            "deployment_branch_policy": CUSTOM,
        },
    }
    posts = [
        (r.path.split("/")[-2], r.body) for r in requests if r.method == "POST" and r.path != RULESETS_PATH
    ]
    assert posts == [(name, {"name": WANTED_BRANCHES[name], "type": "branch"}) for name in ORDER]
    assert out.splitlines() == [
        f"repository={REPO}",
        f"environments={','.join(ORDER)}",
        f"rulesets={PROD_RULESET},{DEV_RULESET}",
        "changes=12",
        "drift=0",
    ]


def test_a_second_apply_changes_nothing(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(github, capsys, "apply")[0] == 0

    code, out, err, requests = run(github, capsys, "apply")

    assert code == 0, err
    assert [r for r in requests if r.method != "GET"] == []
    assert "changes=0" in out.splitlines()


def test_verify_passes_after_apply_with_a_read_only_token(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(github, capsys, "apply")[0] == 0

    # Through the project's command line, as the release workflow runs it.
    code, out, err, requests = run(
        github, capsys, "infra", "github", "verify", "--token-env", "READ_TOKEN", main=cli.main
    )

    assert code == 0, err
    assert calls(requests) == verify_calls(github)
    assert {r.auth for r in requests} == {f"Bearer {READ_TOKEN}"}
    assert out.splitlines()[-1] == "drift=0"
    # GitHub shows bypass actors only to a token that may edit the ruleset: said, not hidden.
    assert err.splitlines() == [
        f"note: ruleset {name!r}: this token cannot read the bypass actors (GitHub shows them to "
        "Administration: write only); not checked"
        for name in (PROD_RULESET, DEV_RULESET)
    ]


def test_the_required_checks_are_the_names_of_the_checks_compare_and_champion_jobs() -> None:
    """GitHub names a job's check run after its `name:`; a renamed job would make the prod
    ruleset wait for a check that never reports."""
    jobs = {
        job: yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["name"]
        for workflow, job in (
            ("checks.yml", "checks"),
            ("release-pr.yml", "compare"),
            ("release-pr.yml", "champion"),
        )
    }
    assert list(github_settings.PROD_STATUS_CHECKS) == [jobs["checks"], jobs["compare"], jobs["champion"]]
    assert list(github_settings.PROD_STATUS_CHECKS) == CHECK_NAMES


def test_a_bypass_actor_on_prod_is_drift_to_a_token_that_can_see_it(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(github, capsys, "apply")[0] == 0
    actor = {"actor_id": 15368, "actor_type": "Integration", "bypass_mode": "always"}
    github.ruleset(PROD_RULESET)["bypass_actors"] = [actor]

    code, out, err, _ = run(github, capsys, "verify")

    assert code == 1
    assert out.splitlines() == [
        f"drift: ruleset {PROD_RULESET!r}: bypass actors Integration:15368 (always); expected none"
    ]
    # A read-only token cannot see them, and says so.
    code, out, err, _ = run(github, capsys, "verify", "--token-env", "READ_TOKEN")
    assert code == 0 and f"note: ruleset {PROD_RULESET!r}: this token cannot read the bypass actors" in err

    code, _, err, requests = run(github, capsys, "apply")

    assert code == 0, err
    assert [c for c in calls(requests) if c[0] != "GET"] == [("PUT", ruleset_path(github, PROD_RULESET))]
    assert github.ruleset(PROD_RULESET)["bypass_actors"] == []


def _reviewers_removed(fake: FakeGitHub) -> None:
    fake.environments[ENVS["prod"]]["reviewers"] = []


def _other_reviewer(fake: FakeGitHub) -> None:
    fake.environments[ENVS["prod"]]["reviewers"] = [{"type": "User", "id": fake.users["octo-reviewer"]}]


def _admins_bypass(fake: FakeGitHub) -> None:
    fake.environments[ENVS["prod"]]["can_admins_bypass"] = True


def _qa_admins_bypass(fake: FakeGitHub) -> None:
    fake.environments[ENVS["qa"]]["can_admins_bypass"] = True


def _self_review(fake: FakeGitHub) -> None:
    fake.environments[ENVS["prod"]]["prevent_self_review"] = False


def _wait_timer(fake: FakeGitHub) -> None:
    fake.environments[ENVS["prod"]]["wait_timer"] = 5


def _extra_star(fake: FakeGitHub) -> None:
    fake.add_policy(ENVS["build"], "*")


def _feature_on_build(fake: FakeGitHub) -> None:
    fake.add_policy(ENVS["build"], f"{BRANCHES.feature_prefix}*")


def _tag_policy(fake: FakeGitHub) -> None:
    fake.add_policy(ENVS["prod"], BRANCHES.prod, kind="tag")


def _policy_missing(fake: FakeGitHub) -> None:
    fake.policies[ENVS["prod"]] = []


def _all_branches(fake: FakeGitHub) -> None:
    fake.environments[ENVS["qa"]]["deployment_branch_policy"] = None
    fake.policies.pop(ENVS["qa"])


def _environment_missing(fake: FakeGitHub) -> None:
    del fake.environments[ENVS["qa"]]
    fake.policies.pop(ENVS["qa"])


def _ruleset_deleted(fake: FakeGitHub) -> None:
    del fake.rulesets[fake.ruleset(PROD_RULESET)["id"]]


def _enforcement_disabled(fake: FakeGitHub) -> None:
    fake.ruleset(PROD_RULESET)["enforcement"] = "disabled"


def _without_rule(name: str, kind: str) -> Callable[[FakeGitHub], None]:
    def mutate(fake: FakeGitHub) -> None:
        ruleset = fake.ruleset(name)
        ruleset["rules"] = [rule for rule in ruleset["rules"] if rule["type"] != kind]

    return mutate


def _no_approval_needed(fake: FakeGitHub) -> None:
    rule = next(r for r in fake.ruleset(PROD_RULESET)["rules"] if r["type"] == "pull_request")
    rule["parameters"] = {**rule["parameters"], "required_approving_review_count": 0}


def _check_dropped(name: str) -> Callable[[FakeGitHub], None]:
    def mutate(fake: FakeGitHub) -> None:
        rule = next(r for r in fake.ruleset(PROD_RULESET)["rules"] if r["type"] == "required_status_checks")
        checks = [c for c in rule["parameters"]["required_status_checks"] if c["context"] != name]
        rule["parameters"] = {**rule["parameters"], "required_status_checks": checks}

    return mutate


def _dev_not_covered(fake: FakeGitHub) -> None:
    fake.ruleset(DEV_RULESET)["conditions"] = {
        "ref_name": {"include": [f"refs/heads/{BRANCHES.dev}"], "exclude": [f"refs/heads/{BRANCHES.dev}"]}
    }


PUT_PROD = [("PUT", env_path(ENVS["prod"]))]
PUT_QA = [("PUT", env_path(ENVS["qa"]))]
# drift -> (change made on GitHub, the drift line(s) verify prints, the requests apply repairs it with)
DRIFTS = {
    # Without reviewers GitHub reports no required-reviewers rule, so no prevent_self_review either.
    "reviewers removed": (
        _reviewers_removed,
        [
            f"{ENVS['prod']}: prevent_self_review is false; expected true",
            f"{ENVS['prod']}: required reviewers are none; expected team:{TEAM}",
        ],
        PUT_PROD,
    ),
    "other reviewer": (
        _other_reviewer,
        f"{ENVS['prod']}: required reviewers are user:octo-reviewer; expected team:{TEAM}",
        PUT_PROD,
    ),
    "admins bypass prod": (
        _admins_bypass,
        f"{ENVS['prod']}: can_admins_bypass is true; expected false",
        PUT_PROD,
    ),
    "admins bypass qa": (
        _qa_admins_bypass,
        f"{ENVS['qa']}: can_admins_bypass is true; expected false",
        PUT_QA,
    ),
    "self review": (_self_review, f"{ENVS['prod']}: prevent_self_review is false; expected true", PUT_PROD),
    "wait timer": (_wait_timer, f"{ENVS['prod']}: wait_timer is 5; expected 0", PUT_PROD),
    "extra *": (
        _extra_star,
        f"{ENVS['build']}: branch policy '*' is extra (not in the config)",
        [("DELETE", policies_path(ENVS["build"]))],
    ),
    "feature branches on build": (
        _feature_on_build,
        f"{ENVS['build']}: branch policy '{BRANCHES.feature_prefix}*' is extra (not in the config)",
        [("DELETE", policies_path(ENVS["build"]))],
    ),
    "tag policy": (
        _tag_policy,
        f"{ENVS['prod']}: tag policy '{BRANCHES.prod}' is extra (not in the config)",
        [("DELETE", policies_path(ENVS["prod"]))],
    ),
    "policy missing": (
        _policy_missing,
        f"{ENVS['prod']}: branch policy '{BRANCHES.prod}' missing",
        [("POST", policies_path(ENVS["prod"]))],
    ),
    "all branches": (
        _all_branches,
        f"{ENVS['qa']}: deployment branches are all branches; expected selected branches only "
        "(custom branch policies)",
        [*PUT_QA, ("POST", policies_path(ENVS["qa"]))],
    ),
    "environment missing": (
        _environment_missing,
        f"{ENVS['qa']}: environment missing",
        [*PUT_QA, ("POST", policies_path(ENVS["qa"]))],
    ),
    "ruleset deleted": (_ruleset_deleted, f"ruleset {PROD_RULESET!r} missing", [("POST", RULESETS_PATH)]),
    "enforcement disabled": (
        _enforcement_disabled,
        f"ruleset {PROD_RULESET!r}: enforcement is disabled; expected active",
        [("PUT", f"ruleset:{PROD_RULESET}")],
    ),
    "pull request rule removed": (
        _without_rule(PROD_RULESET, "pull_request"),
        f"ruleset {PROD_RULESET!r}: rule pull_request missing",
        [("PUT", f"ruleset:{PROD_RULESET}")],
    ),
    "no approval needed": (
        _no_approval_needed,
        f"ruleset {PROD_RULESET!r}: rule pull_request: required_approving_review_count is 0; "
        "expected at least 1",
        [("PUT", f"ruleset:{PROD_RULESET}")],
    ),
    "compare check dropped": (
        _check_dropped(CHECK_NAMES[1]),
        f"ruleset {PROD_RULESET!r}: rule required_status_checks: required status checks lack "
        f"{CHECK_NAMES[1]!r}",
        [("PUT", f"ruleset:{PROD_RULESET}")],
    ),
    "champion check dropped": (
        _check_dropped(CHECK_NAMES[2]),
        f"ruleset {PROD_RULESET!r}: rule required_status_checks: required status checks lack "
        f"{CHECK_NAMES[2]!r}",
        [("PUT", f"ruleset:{PROD_RULESET}")],
    ),
    "force push on dev": (
        _without_rule(DEV_RULESET, "non_fast_forward"),
        f"ruleset {DEV_RULESET!r}: rule non_fast_forward missing",
        [("PUT", f"ruleset:{DEV_RULESET}")],
    ),
    "dev branch not covered": (
        _dev_not_covered,
        f"ruleset {DEV_RULESET!r}: conditions do not cover refs/heads/{BRANCHES.dev}",
        [("PUT", f"ruleset:{DEV_RULESET}")],
    ),
}


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_verify_names_each_drift_and_apply_repairs_it(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], drift: str
) -> None:
    assert run(github, capsys, "apply")[0] == 0
    rulesets = {ruleset_path(github, name): f"ruleset:{name}" for name in (PROD_RULESET, DEV_RULESET)}
    mutate, line, repair = DRIFTS[drift]
    mutate(github)

    code, out, err, requests = run(github, capsys, "verify", "--token-env", "READ_TOKEN")

    lines = [line] if isinstance(line, str) else line
    assert code == 1
    assert out.splitlines() == [f"drift: {text}" for text in lines]
    # (The read-only token adds a note per ruleset that its bypass actors were not checked.)
    assert [text for text in err.splitlines() if not text.startswith("note: ")] == [
        f"error: the GitHub settings of {REPO} differ from the config in {len(lines)} place(s), "
        "listed above; run `infra github apply` with a repository admin's token"
    ]
    assert {r.method for r in requests} == {"GET"}

    code, out, err, requests = run(github, capsys, "apply")

    assert code == 0, err
    changed = [
        (r.method, r.path.rsplit("/", 1)[0] if r.method == "DELETE" else rulesets.get(r.path, r.path))
        for r in requests
    ]
    assert [c for c in changed if c[0] != "GET"] == repair
    assert run(github, capsys, "verify")[0] == 0


def test_the_token_is_never_printed(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    logged: list[str] = []
    code = github_cli.main(["apply", "--api-url", github.url], log=logged.append)
    outputs += [*capsys.readouterr(), *logged]
    assert code == 0 and logged, "apply logs each change"
    _admins_bypass(github)
    outputs += run(github, capsys, "verify")[1:3]
    # A server that echoes the token in its message, and a failing call.
    github.fail("PUT", env_path(ENVS["prod"]), 422, f"token {TOKEN} is not allowed here")
    code, out, err, _ = run(github, capsys, "apply")
    outputs += [out, err]

    assert code == 1
    assert "token *** is not allowed here" in err
    assert repr(github_cli.GitHubApi(TOKEN, github.url)) == f"GitHubApi('{github.url}')"
    assert all(TOKEN not in text for text in outputs)
    assert all(TOKEN[4:20] not in text for text in outputs)


@pytest.mark.parametrize("action", ["apply", "verify"])
def test_a_missing_token_variable_stops_before_any_request(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    monkeypatch.setenv("EMPTY_TOKEN", " ")

    for args in (
        [action],
        [action, "--token-env", "NO_SUCH_VARIABLE"],
        [action, "--token-env", "EMPTY_TOKEN"],
    ):
        if args == [action]:
            monkeypatch.delenv("GITHUB_TOKEN")
        code, _, err, requests = run(github, capsys, *args)
        name = args[-1] if len(args) > 1 else "GITHUB_TOKEN"
        assert code == 2
        assert err.splitlines() == [
            f"error: environment variable {name} is not set or empty; expected a GitHub token "
            "(see docs/github.md for the permissions it needs)"
        ]
        assert requests == []


def test_a_403_is_one_clear_error_and_stops_the_changes(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err, requests = run(github, capsys, "apply", "--token-env", "READ_TOKEN")

    assert code == 1
    assert err.splitlines() == [
        f"error: GitHub API PUT {env_path(ENVS['feature'])} failed: HTTP 403: "
        "Resource not accessible by personal access token"
    ]
    assert calls(requests)[-1] == ("PUT", env_path(ENVS["feature"]))
    assert github.environments == {} and out == ""


def test_a_404_repository_is_one_clear_error(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    github.fail("GET", f"/repos/{REPO}", 404, "Not Found")

    for action in ("apply", "verify"):
        code, _, err, requests = run(github, capsys, action)

        assert code == 1
        assert err.splitlines() == [
            f"error: GitHub API GET /repos/{REPO} failed: HTTP 404: the repository does not exist or the "
            "token cannot read it"
        ]
        assert calls(requests) == [("GET", f"/repos/{REPO}")]


def test_an_unknown_reviewer_changes_nothing(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err, requests = run(github, capsys, "apply", "--prod-reviewer", "user:nobody-here")

    assert code == 1
    assert err.splitlines() == [
        "error: GitHub API GET /users/nobody-here failed: HTTP 404: no user 'nobody-here' (prod reviewer)"
    ]
    assert calls(requests) == [("GET", f"/repos/{REPO}"), ("GET", "/users/nobody-here")]
    assert github.mutating() == []


def test_reviewer_flags_replace_the_config(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(github, capsys, "apply", "--prod-reviewer", "user:octo-reviewer")[0] == 0
    assert github.environments[ENVS["prod"]]["reviewers"] == [
        {"type": "User", "id": github.users["octo-reviewer"]}
    ]

    code, out, _, _ = run(github, capsys, "verify")

    assert code == 1
    assert out.splitlines() == [
        f"drift: {ENVS['prod']}: required reviewers are user:octo-reviewer; expected team:{TEAM}"
    ]


def test_a_redirect_is_not_followed(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    github.redirect(f"/repos/{REPO}", "https://elsewhere.example/repositories/4711")

    code, _, err, requests = run(github, capsys, "verify")

    assert code == 1
    assert err.splitlines() == [
        f"error: GitHub API GET /repos/{REPO} failed: HTTP 301: redirected to "
        "https://elsewhere.example/repositories/4711 (not followed)"
    ]
    assert len(requests) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apply", "--api-url", "http://api.example.com"], "is not a GitHub API URL"),
        (["verify", "--prod-reviewer", "ml-leads"], "is not team:SLUG or user:LOGIN"),
        (["remove"], "invalid choice: 'remove'"),
        ([], "required: {apply,verify}"),
    ],
)
def test_usage_errors_stop_before_any_request(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert github_cli.main(args) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err
    assert github.requests == []


def test_prod_needs_a_reviewer_of_the_repository_owner(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], configure: Callable[[Any], Path]
) -> None:
    raw = make_raw()
    for reviewers, message in (
        ([], "needs at least one required reviewer"),
        (["@other-org/leads"], "team of 'other-org'"),
    ):
        raw["github"]["prod_reviewers"] = reviewers
        configure(raw)

        code, _, err, requests = run(github, capsys, "apply")

        assert code == 2 and message in err and len(err.splitlines()) == 1
        assert requests == []


# --- bootstrap ------------------------------------------------------------------------------


def fake_stacks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """bootstrap's stack deployment replaced by a recorder (the stacks are tested in test_bootstrap)."""
    deployed: list[str] = []

    def run_stacks(cfg: Any, factory: Any, **kwargs: Any) -> Any:
        deployed.append("stacks")
        return apply_module.Result(outcomes={"stack": "created"})

    monkeypatch.setattr(bootstrap, "run", run_stacks)
    monkeypatch.setattr(bootstrap, "plan", lambda cfg: [])
    return deployed


def test_bootstrap_applies_the_settings_after_the_stacks(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = fake_stacks(monkeypatch)
    out = io.StringIO()

    code = bootstrap.main(
        ["--allow-placeholders", "--github-token-env", "GITHUB_TOKEN", "--github-api-url", github.url],
        session_for=lambda role, account: None,
        out=out,
    )

    assert code == 0, capsys.readouterr().err
    assert deployed == ["stacks"]
    assert len(github.mutating()) == 12
    text = out.getvalue()
    assert "gh api" not in text and TOKEN not in text
    assert text.rstrip().splitlines()[-2:] == ["changes=12", "drift=0"]


def test_bootstrap_without_a_token_prints_the_commands_and_how_to_apply_them(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_stacks(monkeypatch)
    out = io.StringIO()

    assert bootstrap.main(["--allow-placeholders"], session_for=lambda role, account: None, out=out) == 0

    text = out.getvalue()
    assert f"gh api orgs/{OWNER}/teams/{TEAM} --jq .id" in text
    assert "infra github apply --token-env GITHUB_TOKEN" in text
    assert github.requests == []


def test_bootstrap_with_a_missing_token_variable_stops_before_any_call(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = fake_stacks(monkeypatch)

    code = bootstrap.main(
        ["--allow-placeholders", "--github-token-env", "NO_SUCH_VARIABLE"],
        session_for=lambda role, account: pytest.fail("no session may be created"),
        out=io.StringIO(),
    )

    assert code == 2
    assert "environment variable NO_SUCH_VARIABLE is not set" in capsys.readouterr().err
    assert deployed == [] and github.requests == []
