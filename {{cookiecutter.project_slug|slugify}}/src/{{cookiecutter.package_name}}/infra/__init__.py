"""The AWS infrastructure this repository needs, deployed once per repository.

The CloudFormation templates live in `infra/` at the repository root (plain YAML, no
per-repository values: every name and account comes in as a parameter).

- `bootstrap`: deploys the stacks into the four accounts in dependency order (create or
  update, wait), prints the role ARNs the workflows use and the GitHub environment settings
  to apply. `python -m <package>.infra.bootstrap --help`.
- `policy_checks`: the product's own checks on the templates' trust, IAM, KMS, bucket and
  model-registry policies (exact OIDC subjects, no wildcard actions, read-only workload
  accounts, KMS grants), which cfn-lint and checkov do not make.
  `python -m <package>.infra.policy_checks infra/`.
"""
