"""`hashwatch webhook`: the service Alertmanager's webhook_configs post to.

It checks who is posting, validates the notification, commits its alert
events to SQLite before answering 2xx (so an acknowledged alert survives a
crash), keeps repeats and HA-pair copies out (one row per fingerprint, status
and start), serves the history (JSON API and a small page) and its own
metrics, and hands each delivery's new events to `Receiver.on_new_events`
callbacks, where forwarding and remediation plug in. docs/webhook.md.

Where things live:

    config.py     WebhookConfig, the `webhook:` section; secrets read from a file or a variable
    payload.py    the v4 body, validated (pydantic); Alertmanager's label fingerprint
    store.py      EventStore: SQLite (WAL, synchronous=FULL), idempotent store(), queries, retention
    app.py        Receiver (metrics, callbacks, auth) and the Flask app (routes)
    server.py     waitress: build the receiver, bind, serve until stopped

Plugged into on_new_events by server.py when configured:

    forward.py    forwarding events to Teams, ntfy and generic webhooks, chosen by label matchers
    channels.py   what each forwarding destination is sent (message builders)
    outbox.py     the forwarding outbox: durable in SQLite, sent by one thread, retried
    remediation.py  a configured, allow-listed action per alert name, behind guards (off by default)
    privileged.py the only place a privileged CGMiner API command is built and sent
    mirror.py     events as `alert_events` points in the InfluxDB ledger (Grafana annotations)
"""
