"""Carry a model version to the QA and prod endpoints and back (boto3 only).

Modules: `aws` (clients from an injected session, errors, the CLI error mapping), `endpoint`
(names and request bodies from a resolved `promotion.version.ModelVersion`, no AWS calls),
`update_policy` (traffic shifting, alarm, timeout and autoscaling request bodies), `deploy`
(create-or-update), `state` (waiting, verifying, the previous-config tag), `scaling` (alarms,
autoscaling, releasing and re-applying it around instance-type changes), `rollback` (rollback,
and deploy-or-roll-back), `artifact` (prod: the served artifact's sha256 against the lock) and
`cli` (deploy, rollback, endpoint-test; it forwards the registry, lock and compare commands to
`promotion.cli`). The shadow phase of a release (docs/shadow.md): `shadow` (start, promote,
abort), `shadow_compare` (the decision from CloudWatch and data capture), `shadow_capture`
(reading and pairing captured predictions), `shadow_state` (its state on the endpoint's tags)
and `shadow_cli` (the `shadow` subcommands). A segmented model's multi-model endpoint
(docs/inference-modes.md): `multi_model` (plan and deploy of a set), `routes` (segment ->
TargetModel on the endpoint's tags, their rollback) and `set_cli` (deploy, routes and
endpoint-test on such an environment). Nothing here
imports the SageMaker SDK, pandas or numpy: the deploy and release jobs install
requirements/deploy.txt only.
"""
