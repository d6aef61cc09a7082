"""Carry a registered model from the shared registry to the QA and prod endpoints (boto3 only).

Modules: `aws` (clients from an injected session, errors), `registry` (model package groups,
approval, life-cycle stage, promotion), `lockfile` (model.lock.json), `endpoint` (names and
request bodies, no AWS calls), `deploy` (create-or-update and wait), `rollback`, `compare`
(pull-request summary) and `cli` (what the workflows run). Nothing here imports the SageMaker
SDK, pandas or numpy: the deploy and release jobs install requirements/deploy.txt only.
"""
