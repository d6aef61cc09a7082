"""Carry a model version to the QA and prod endpoints and back (boto3 only).

Modules: `aws` (clients from an injected session, errors, the CLI error mapping), `endpoint`
(names and request bodies from a resolved `promotion.version.ModelVersion`, no AWS calls),
`deploy` (create-or-update and wait), `scaling` (alarms, autoscaling), `rollback` and `cli` (deploy, rollback,
endpoint-test; it forwards the registry, lock and compare commands to `promotion.cli`).
Nothing here
imports the SageMaker SDK, pandas or numpy: the deploy and release jobs install
requirements/deploy.txt only.
"""
