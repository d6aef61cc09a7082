""".github/workflows/batch.yml against the config: the cron is the source environment's batch
schedule, and each environment's job runs `batch run` for itself with its own batch role, behind
the batch GitHub environment (no reviewers, prod branch only: `infra github apply`)."""

from __future__ import annotations

import yaml

from deploy_helpers import ROOT, make_config

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "batch.yml").read_text())
CFG = make_config("baked")


def test_the_cron_equals_the_configured_schedule_of_the_source_environment():
    triggers = WORKFLOW[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": CFG.batch.environment(CFG.batch.source).schedule}]
    assert triggers["workflow_dispatch"]["inputs"]["env"]["options"] == ["prod", "qa"]


def test_each_environment_job_runs_its_own_batch_with_its_own_role():
    for env in ("qa", "prod"):
        job = WORKFLOW["jobs"][f"batch-{env}"]
        assert job["environment"] == CFG.batch.github_environment == "batch" and job["needs"] == "plan"
        assert f"needs.plan.outputs.env == '{env}'" in job["if"]
        run = [step["run"] for step in job["steps"] if "batch run" in step.get("run", "")]
        assert len(run) == 1 and f"--env {env} " in run[0] and "--wait" in run[0]
        role = next(
            s["with"]["role-to-assume"] for s in job["steps"] if "role-to-assume" in s.get("with", {})
        )
        assert role.replace(" ", "") == "$" + "{" * 2 + f"env.{env.upper()}_BATCH_ROLE_ARN" + "}" * 2
        assert WORKFLOW["env"][f"{env.upper()}_BATCH_ROLE_ARN"] == CFG.github_role_arn(f"github_batch_{env}")
    assert not any("DEPLOY_ROLE" in key for key in WORKFLOW["env"])  # no deploy identity at all
