"""Retraining: what may start a retraining, and how it starts (the dev workflow, never prod).

- `trigger`: reads the GitHub event that ran .github/workflows/retrain.yml (schedule,
  workflow_dispatch, repository_dispatch new-data/drift) and validates it against the config's
  `retraining` section: the cron that fired, the flags, the dataset URI, the reason;
- `cli`: `retrain dispatch` (retrain.yml: check, then start dev.yml on the dev branch through
  GitHub's workflow dispatch API) and `retrain check` (dev.yml: the dispatched inputs again).
"""
