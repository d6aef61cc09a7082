"""The AWS infrastructure this repository needs, deployed once per repository.

The CloudFormation templates live in `infra/` at the repository root (plain YAML, no
per-repository values: every name and account comes in as a parameter). Commands:
`python -m <package> infra bootstrap|teardown|check ...` (`cli.py`).

- `bootstrap`: deploys the stacks into the four accounts in dependency order (create or
  update, wait), prints the role ARNs the workflows use and the GitHub environment settings
  to apply. Seams: `plan.py` (stacks and parameters, no AWS call), `apply.py` (create or
  update and wait), `sessions.py` (one checked session per account), `github_settings.py`
  (environments, branch rules, `gh api` commands), `placeholders.py` (example answers).
- `teardown`: lists (`teardown_listing.py` endpoints and registry, `teardown_stacks.py` stacks
  and their data), asks, then deletes (`teardown_delete.py`).
- `check` (`policy_checks.py`): the product's own checks on the templates' trust, IAM, KMS,
  bucket, model-registry and ECR image-pull policies, one module per concern in `checks/`,
  against the access table and the image table (`..access`); `cfn.py` loads and resolves the
  templates.
- `errors.py`: the errors and exit statuses all three share.
"""
