"""`hashwatch webhook` as configured: a notification is stored, forwarded through the outbox and
considered for remediation, each once, and the service's /metrics shows all three."""

from __future__ import annotations

import time

import requests

from alertmanager.receiver.config import WebhookConfig
from hashwatch.config import parse_config
from tests.support.influx_servers import influxdb_v1  # noqa: F401 - the session's InfluxDB 1.x
from tests.support.promtool import check_metrics
from tests.support.sinks import HttpSink
from tests.support.wsgi_server import ReceiverThread
from tests.webhook.helpers import alert_payload, body


def test_a_notification_is_stored_forwarded_and_considered_once(tmp_path):
    sink = HttpSink("forward sink").start()
    try:
        config = parse_config(WebhookConfig, {
            "db_path": str(tmp_path / "events.db"),
            "forward": {
                "outbox_path": str(tmp_path / "outbox.db"),
                "backoff_base_seconds": 0.2,
                "destinations": [{"name": "ops", "kind": "webhook", "url": f"{sink.url}/hook",
                                  "matchers": ['severity="critical"']}],
            },
            "remediation": {"enabled": True, "actions": [{"alertname": "MinerHashrateZero", "kind": "cgminer",
                                                           "command": "restart"}]},
        })
        labels = {"alertname": "MinerHashrateZero", "severity": "critical", "instance": "10.0.0.7:4028", "site": "north"}
        data = body(alert_payload("firing", labels, "2026-11-29T08:00:00Z", fingerprint="f00dfeedf00dfeed"))
        quiet = body(alert_payload("firing", {**labels, "severity": "warning", "alertname": "MinerHashrateLow"},
                                   "2026-11-29T08:00:00Z", fingerprint="0123456789abcdef"))
        with ReceiverThread(config) as server:
            for payload in (data, data, quiet):  # a retry of the first: stored, forwarded and considered once
                assert requests.post(f"{server.url}/alerts", data=payload, timeout=10).status_code == 200
            assert server.receiver.drain(10)
            forwarded = sink.wait_for(lambda r: r.path == "/hook", timeout=10, what="the forwarded event")
            assert forwarded.body["fingerprint"] == "f00dfeedf00dfeed" and forwarded.body["status"] == "firing"
            deadline = time.monotonic() + 10  # the outbox marks the row sent just after the sink answered
            while True:
                metrics = requests.get(f"{server.url}/metrics", timeout=10).text
                if 'forwarded_total{destination="ops"} 1.0' in metrics or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert check_metrics(metrics.encode()) == ""
        assert [r.path for r in sink.received] == ["/hook"]  # the warning matched no destination
        assert 'hashwatch_webhook_forwarded_total{destination="ops"} 1.0' in metrics
        # Dry run by default: the decision is audited and counted, nothing is sent to the miner.
        assert ('hashwatch_webhook_remediation_actions_total{action="cgminer:restart",outcome="dry_run"} 1.0'
                in metrics)
    finally:
        sink.stop()


def test_events_are_mirrored_into_a_real_influxdb(tmp_path, influxdb_v1):  # noqa: F811
    influxdb_v1.create_database("hashwatch")
    config = parse_config(WebhookConfig, {
        "db_path": str(tmp_path / "events.db"),
        "ledger": {"api": "v1", "url": influxdb_v1.url, "database": "hashwatch", "spool_dir": str(tmp_path / "spool")},
    })
    labels = {"alertname": "MinerDown", "severity": "critical", "instance": "10.0.0.9:4028", "site": "north"}
    firing = body(alert_payload("firing", labels, "2026-11-29T08:00:00Z", fingerprint="aaaaaaaaaaaaaaaa",
                                annotations={"summary": "A miner does not answer its API."}))
    resolved = body(alert_payload("resolved", labels, "2026-11-29T08:00:00Z", "2026-11-29T08:07:30Z",
                                  fingerprint="aaaaaaaaaaaaaaaa"))
    with ReceiverThread(config) as server:
        for payload in (firing, resolved, firing):  # the repeated firing is a duplicate: no second point
            assert requests.post(f"{server.url}/alerts", data=payload, timeout=10).status_code == 200
        assert server.receiver.drain(10)
        deadline, rows = time.monotonic() + 20, []
        while time.monotonic() < deadline and len(rows) < 2:
            rows = influxdb_v1.rows("alert_events", "hashwatch")
            time.sleep(0.2)
    assert sorted(r["status"] for r in rows) == ["firing", "resolved"]
    resolved_row = next(r for r in rows if r["status"] == "resolved")
    assert resolved_row["duration_seconds"] == 450 and resolved_row["alertname"] == "MinerDown"
    assert next(r for r in rows if r["status"] == "firing")["summary"] == "A miner does not answer its API."
