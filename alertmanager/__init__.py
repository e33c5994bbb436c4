"""Alertmanager's side of hashwatch: its config files, and the webhook receiver it posts to.

Where things live:

    receiver/     `hashwatch webhook`: the service Alertmanager's webhook_configs post to
                  (validate, store durably in SQLite, history API, hook points)

The rest of this folder is not Python but Alertmanager's own config, mounted
at /etc/alertmanager/ by docker-compose.yml: alertmanager.yml (routing,
receivers), templates/ (Slack and email), secrets/ (never committed) and
README.md.
"""
