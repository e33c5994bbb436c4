"""An acknowledged alert survives `kill -9`: the receiver commits (fsynced) before it answers 2xx."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import requests

from tests.support.paths import REPO
from tests.webhook.helpers import alert_payload, body
from tests.support.processes import free_port



def _start(config_file, port) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "hashwatch.app", "webhook", "--config.file", str(config_file),
         "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            if requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the receiver did not become ready")


def test_kill_9_right_after_the_2xx_keeps_the_event(tmp_path):
    config_file = tmp_path / "hashwatch.yml"
    config_file.write_text(json.dumps({"webhook": {"db_path": str(tmp_path / "events.db")}}))
    port = free_port()
    receiver = _start(config_file, port)
    acknowledged = []
    try:
        for n in range(20):
            labels = {"alertname": "MinerDown", "miner": f"10.0.0.{n}", "site": "austin"}
            answer = requests.post(f"http://127.0.0.1:{port}/alerts", timeout=10,
                                   data=body(alert_payload("firing", labels, "2024-01-01T00:00:00Z")))
            if answer.status_code == 200:
                acknowledged.append(labels["miner"])
        os.kill(receiver.pid, signal.SIGKILL)  # no cleanup, no close: as a crash or the OOM killer
    finally:
        receiver.kill()
        receiver.wait(10)
    assert len(acknowledged) == 20

    receiver = _start(config_file, port)
    try:
        events = requests.get(f"http://127.0.0.1:{port}/api/v1/events", params={"limit": 100}, timeout=10).json()
        assert sorted(e["labels"]["miner"] for e in events["events"]) == sorted(acknowledged)
        # and the restarted receiver still knows them: a re-delivery is a duplicate
        again = requests.post(f"http://127.0.0.1:{port}/alerts", timeout=10, data=body(alert_payload(
            "firing", {"alertname": "MinerDown", "miner": "10.0.0.0", "site": "austin"}, "2024-01-01T00:00:00Z")))
        assert again.json()["new_events"] == 0
    finally:
        receiver.terminate()
        assert receiver.wait(10) == 0
