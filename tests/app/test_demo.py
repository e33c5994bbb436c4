"""`hashwatch demo`: the whole stack, run for real (the session's `demo_stack`), and its shutdown.

Within two minutes of the start: each scripted fault's alert is in Alertmanager's
API and in the webhook receiver's history; the profitability, market and Ocean
series have values in Prometheus (Ocean's workers line up with the miners'); every
target is up and every miner answers but the scripted offline one; the ledger
writes to InfluxDB. A second, small run shows Ctrl-C stops every child, frees the
ports and removes the temporary workdir, and a taken port is a clear error.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hashwatch.app.demo.layout import DemoError, port_problem
from hashwatch.app.demo.processes import Child, Supervisor
from tests.support.demo_stack import DemoStack

pytestmark = pytest.mark.timeout(180)

WITHIN_SECONDS = 120  # the promise: from start to every scripted alert, everywhere


def query(stack: DemoStack, promql: str) -> list[dict]:
    response = requests.get(f"{stack.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


def until(deadline: float, check, pause: float = 1.0):
    """check() until it returns something truthy or unix time `deadline` passes; returns the last result."""
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(pause)


def test_every_scripted_fault_alerts_in_alertmanager_and_the_webhook_history_within_two_minutes(demo_stack):
    expected = {(alerts[0], target) for target, alerts in demo_stack.faults.items()}
    assert len(expected) == 5, demo_stack.output()

    def missing() -> set:
        alerts = requests.get(f"{demo_stack.alertmanager_url}/api/v2/alerts", timeout=10).json()
        firing = {(a["labels"]["alertname"], a["labels"].get("instance")) for a in alerts if a["status"]["state"] == "active"}
        events = requests.get(f"{demo_stack.webhook_url}/api/v1/events", params={"limit": 1000}, timeout=10).json()["events"]
        stored = {(e["alertname"], e["labels"].get("instance")) for e in events if e["status"] == "firing"}
        return expected - (firing & stored)

    left = until(demo_stack.started_at + WITHIN_SECONDS, lambda: not missing() or None)
    assert left, f"not in both Alertmanager and the webhook history after {WITHIN_SECONDS} s: {missing()}"
    events = requests.get(f"{demo_stack.webhook_url}/api/v1/events", params={"limit": 1000}, timeout=10).json()["events"]
    first = min(e["received_at"] for e in events if (e["alertname"], e["labels"].get("instance")) in expected)
    print(f"\ndemo: ready {demo_stack.ready_seconds:.1f} s, first scripted alert at the webhook "
          f"{first - demo_stack.started_at:.1f} s, all {time.time() - demo_stack.started_at:.1f} s after start")


def test_profitability_market_and_ocean_series_have_values(demo_stack):
    deadline = demo_stack.started_at + WITHIN_SECONDS
    wanted = {
        'profitability_fleet_profit_per_day{currency="USD"}': 1,
        'profitability_site_profit_per_day{currency="USD"}': 2,  # both sites
        'profitability_fleet_revenue_per_day{currency="USD"}': 1,
        'market_btc_price{currency="USD"}': 1,
        "market_network_difficulty": 1,
        'ocean_hashrate_hashes_per_second{window="3600s"}': 1,
        "worker:miner_vs_ocean_hashrate:ratio_avg1h": 2,
    }
    for promql, count in wanted.items():
        result = until(deadline, lambda q=promql, n=count: len(query(demo_stack, q)) >= n and query(demo_stack, q))
        assert result, f"{promql}: no data after {WITHIN_SECONDS} s"
    # Ocean credits each worker with what the miners hash for it, so the two views agree.
    for sample in query(demo_stack, "worker:miner_vs_ocean_hashrate:ratio_avg1h"):
        assert 0.7 < float(sample["value"][1]) < 1.4, sample
    # The replayed sources agree, and every exporter of the stack answers.
    assert query(demo_stack, 'ALERTS{alertname=~"MarketPriceSourcesDisagree|HashwatchExporterDown|MarketPriceStale"}') == []


def test_every_target_is_up_and_only_the_offline_miner_is_down(demo_stack):
    offline = {target for target, alerts in demo_stack.faults.items() if alerts[0] == "MinerDown"}

    def scraped() -> list[dict]:
        targets = requests.get(f"{demo_stack.prometheus_url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return targets if targets and all(t["health"] != "unknown" for t in targets) else []

    targets = until(demo_stack.started_at + 60, scraped)
    assert targets and all(t["health"] == "up" for t in targets), [(t["scrapeUrl"], t["lastError"]) for t in targets]
    assert {t["labels"]["job"] for t in targets} >= {"miners", "hashwatch-cgminer", "hashwatch-ocean", "hashwatch-market",
                                                    "hashwatch-profitability", "alertmanager", "hashwatch-webhook"}
    down = {s["metric"]["instance"] for s in query(demo_stack, "miner_up == 0")}
    assert down == offline
    assert len(query(demo_stack, "miner_up == 1")) == 12 - len(offline)


def test_the_ledger_and_the_alert_mirror_write_to_influxdb(demo_stack):
    if demo_stack.influxdb_url is None:
        pytest.skip("influxd is not installed: the demo runs without InfluxDB")

    def measurements() -> set[str]:
        response = requests.get(f"{demo_stack.influxdb_url}/query", params={"q": "SHOW MEASUREMENTS", "db": "hashwatch"}, timeout=10)
        series = response.json()["results"][0].get("series", [])
        return {row[0] for s in series for row in s["values"]}

    found = until(demo_stack.started_at + WITHIN_SECONDS, lambda: {"alert_events"} < measurements() and measurements())
    assert found and {"fleet_economics", "site_economics"} <= found, found


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_every_child_frees_the_ports_and_removes_the_workdir():
    stack = DemoStack(None, host="127.91.0.1", first_address="127.92.0.1", miners=2)
    try:
        children = _children_of(stack.process.pid)
        workdir = Path(re.search(r"^workdir: (\S+)", stack.output(), re.M).group(1))
        assert len(children) >= 9 and workdir.is_dir(), stack.output()
    finally:
        status = stack.stop()
    assert status == 0 and stack.lines[-1] == "stopped", stack.output()
    assert [pid for pid in children if _alive(pid)] == []
    ports = [int(url.rsplit(":", 1)[1]) for url in stack.urls.values()]
    assert [port for port in ports if port_problem("127.91.0.1", port)] == []
    assert not workdir.exists()


def test_a_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind(("127.91.0.2", 9090))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "hashwatch.app", "demo", "--host", "127.91.0.2", "--duration", "1"],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "port 9090 on 127.91.0.2 (prometheus) is in use" in done.stderr


def test_a_child_that_dies_early_is_reported_with_the_end_of_its_log(tmp_path):
    supervisor = Supervisor(tmp_path, report=lambda line: None)
    child = Child("broken", [sys.executable, "-c", "print('cannot open the database'); raise SystemExit(3)"],
                  ready_url="http://127.0.0.1:9/")
    with pytest.raises(DemoError, match=r"(?s)broken exited with status 3.*cannot open the database"):
        supervisor.start(child, timeout=20)
    supervisor.stop_all()
    assert os.path.exists(tmp_path / "logs" / "broken.log")
