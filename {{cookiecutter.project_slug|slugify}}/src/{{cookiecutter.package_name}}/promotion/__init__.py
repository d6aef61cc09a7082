"""Carry a registered model version through the shared registry: from dev to prod (boto3 only).

Modules: `version` (an ARN resolved once into a frozen `ModelVersion`: ARN parts, group kind,
status, stage, metadata, metrics, artifacts; the deploy gate), `groups` (the groups and their
resource policies), `lifecycle` (latest, approve, life-cycle stage), `promote` (dev -> prod
group), `metadata` (SageMaker's customer-metadata and tag rules), `lockfile`
(model.lock.json), `compare` (pull-request summary) and `cli` (registry, lock and compare
commands). Deploy (`..deploy`) consumes `version`. Nothing here imports the SageMaker SDK,
pandas or numpy: the release jobs install requirements/deploy.txt only.
"""
