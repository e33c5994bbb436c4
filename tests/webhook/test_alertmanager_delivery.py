"""A real Alertmanager (Debian's 0.25) delivers an alert about a simulated miner to the receiver.

Alertmanager runs the committed alertmanager/alertmanager.yml with its webhook URLs pointed at a
live `hashwatch webhook` (Slack and SMTP at closed local ports: only the webhook is asserted). The
alert is posted to Alertmanager's own API with the labels a simulated miner's MinerDown carries.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import requests
import yaml

from alertmanager.receiver.config import WebhookConfig
from hashwatch.config import parse_config
from tests.support.alertmanager_server import AlertmanagerServer, local_config
from tests.support.paths import REPO
from tests.support.processes import free_port
from tests.support.wsgi_server import ReceiverThread


def test_alertmanager_delivers_to_the_receiver_which_stores_once(tmp_path, sim_fleet):
    miner = sim_fleet.miners[0]
    labels = {
        "alertname": "MinerDown", "severity": "critical", "site": "lab", "job": "miners",
        "instance": f"{miner.address}:{sim_fleet.port}",
    }
    config = parse_config(WebhookConfig, {"db_path": str(tmp_path / "events.db")})
    with ReceiverThread(config) as receiver:
        committed = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
        closed = f"127.0.0.1:{free_port()}"
        am_config, _notes = local_config(
            committed, workdir=tmp_path, webhook_url=receiver.url, slack_url=f"http://{closed}",
            smarthost=closed, templates_dir=REPO / "alertmanager" / "templates",
        )
        alertmanager = AlertmanagerServer(tmp_path, am_config)
        try:
            now = datetime.now(timezone.utc)
            alert = [{"labels": labels, "annotations": {"summary": "A miner does not answer its API."},
                      "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}]
            assert requests.post(f"{alertmanager.url}/api/v2/alerts", json=alert, timeout=10).status_code == 200
            deadline, events = time.monotonic() + 30, []
            while time.monotonic() < deadline and not events:
                events = requests.get(f"{receiver.url}/api/v1/events", params={"alertname": "MinerDown"}, timeout=10).json()
                events = events.get("events", events) if isinstance(events, dict) else events
                time.sleep(0.2)
            assert len(events) == 1, events
            assert events[0]["labels"]["instance"] == labels["instance"] and events[0]["status"] == "firing"
            # Checked again after a few group_intervals (2 s in this copy): still one event.
            time.sleep(3)
            again = requests.get(f"{receiver.url}/api/v1/events", params={"alertname": "MinerDown"}, timeout=10).json()
            again = again.get("events", again) if isinstance(again, dict) else again
            assert len(again) == 1
        finally:
            alertmanager.stop()
