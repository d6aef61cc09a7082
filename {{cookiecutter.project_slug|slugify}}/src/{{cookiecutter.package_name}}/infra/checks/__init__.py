"""The policy checks, one module per concern (see `infra/policy_checks.py` for what they check).

- `base`: the checks' own limits, findings, the context and statement helpers;
- `trust`: GitHub OIDC and service trust; `identity`: IAM identity policies; `images`: ECR pulls;
- `keys`: KMS key policies; `buckets`: bucket policies and settings;
- `groups`: model package group policies; `table`: the access table against the limits;
- `authority`: who may write which prefix, pipeline, job role and group, and set Approved.
"""
