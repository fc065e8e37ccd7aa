"""Notifications: what happened (`alert.Alert`), to whom (the spec's `notify.rules` and `owners`),
and sending it through apprise without ever holding up or failing what raised it (`notifier`)."""
