"""Notifications: the `notify` command posts to Slack and publishes to the alerts topic.

- `message`: what a notification says (event, model, version, metrics, run link) and its
  Slack and plain-text forms;
- `slack`: the incoming webhook (secret SLACK_WEBHOOK_URL, checked, never printed);
- `sns`: the `<model>-alerts` topic of a workload account (`notifications.sns`);
- `cli`: `notify EVENT ...`, what the workflows run after a gate, QA or release outcome.
"""
