"""End to end: simulated miner faults -> exporter -> Prometheus rules -> Alertmanager -> Slack, email, webhook.

Everything is real and on loopback: the simulated fleets, the CGMiner exporter, a
Prometheus loading rules generated from an AlertingConfig with short durations, an
Alertmanager started from a copy of the committed alertmanager/alertmanager.yml
(only endpoints and grouping timers rewritten) with the committed templates, and
local sinks standing in for the webhook receiver, Slack and the mail relay.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from datetime import datetime
from pathlib import Path

import pytest
import requests
import yaml

from exporters.cgminer.config import CgminerConfig
from exporters.cgminer.server import Exporter
from hashwatch.app.alerting.config import AlertingConfig
from hashwatch.app.alerting.generate import outputs
from simulator import FleetThread, SimulatedFleet
from tests.support.alertmanager_server import TIMERS, AlertingPrometheus, AlertmanagerServer, local_config
from tests.support.paths import REPO
from tests.support.servers import AppThread
from tests.support.sinks import HttpSink, SmtpSink

pytestmark = pytest.mark.timeout(110)

ALERTS_FILE = "prometheus/rules/hashwatch-alerts.yml"
RECORDING_FILE = "prometheus/rules/hashwatch-recording.yml"

# The alert contract of issue 13: these names must be in the generated rules.
CONTRACT = (
    "MinerDown",
    "MinerChipTemperatureCritical",
    "MinerBoardTemperatureCritical",
    "MinerHashboardDead",
    "MinerPoolFailover",
    "SiteMinersDown",
    "Watchdog",
)
SHORT = {
    "miner_down_for": "5s",
    "temperature_for": "5s",
    "site_down_for": "5s",
    "miner_hashboard_dead_for": "5s",
    "miner_pool_failover_for": "5s",
    "keep_firing_for": "0s",
}
MAX_FOR_SECONDS = 10  # every contract alert's `for` comes from the config, so the test can shorten it

SCRAPE_INTERVAL = 1.0
EVALUATION_INTERVAL = 1.0
REMOTE_SIZE = 200
REMOTE_SITE = "remote"
WEBHOOK_PATH = "/alerts"
SLACK_PAGING = "/slack/slack-paging-webhook-url"
SLACK_TICKETS = "/slack/slack-tickets-webhook-url"

FIRE_TIMEOUT = 30  # s, from a fault to its notification (for 5 s + a few scrape/eval/group_wait rounds)
RESOLVE_TIMEOUT = 25


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))


TIMERS_SECONDS = {key: seconds(value) for key, value in TIMERS.items()}


def rfc3339(text: str) -> float:
    """Alertmanager's timestamps (nanoseconds, Z or offset) as unix time."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """Rules generated from a short-duration AlertingConfig into a tmp dir: {alert name: rule}, overrides."""
    fields = AlertingConfig.model_fields
    missing_fields = sorted(set(SHORT) - set(fields))
    assert not missing_fields, f"AlertingConfig lacks {missing_fields} (contract: durations are configurable)"
    generated = outputs(AlertingConfig(**SHORT))
    document = yaml.safe_load(generated[ALERTS_FILE])
    by_name = {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}
    missing = [name for name in CONTRACT if name not in by_name]
    if missing:
        pytest.fail(f"alerts of the contract missing from the generated {ALERTS_FILE}: {missing}")
    slow = [f"{name}: for {by_name[name]['for']}" for name in CONTRACT if seconds(by_name[name].get("for", "0s")) > MAX_FOR_SECONDS]
    assert not slow, f"durations no AlertingConfig field shortens: {slow}"
    directory = tmp_path_factory.mktemp("rules")
    (directory / "alerts.yml").write_text(generated[ALERTS_FILE])
    (directory / "recording.yml").write_text(generated[RECORDING_FILE])
    return {"by_name": by_name, "files": [directory / "alerts.yml", directory / "recording.yml"]}


@pytest.fixture(scope="module")
def sinks():
    webhook = HttpSink("webhook sink").start()
    slack = HttpSink("slack sink").start()
    smtp = SmtpSink().start()
    yield {"webhook": webhook, "slack": slack, "smtp": smtp}
    smtp.stop()
    slack.stop()
    webhook.stop()


@pytest.fixture(scope="module")
def alertmanager_config():
    path = REPO / "alertmanager" / "alertmanager.yml"
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing (the committed Alertmanager config)")
    templates = REPO / "alertmanager" / "templates"
    if not list(templates.glob("*.tmpl")):
        pytest.fail("alertmanager/templates/ has no *.tmpl")
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def alertmanager(alertmanager_config, sinks, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("alertmanager")
    config, notes = local_config(
        alertmanager_config,
        workdir=workdir,
        webhook_url=sinks["webhook"].url,
        slack_url=sinks["slack"].url,
        smarthost=sinks["smtp"].smarthost,
        templates_dir=REPO / "alertmanager" / "templates",
    )
    for note in notes:
        warnings.warn(f"alertmanager copy: {note}")
    server = AlertmanagerServer(workdir, config)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote_fleet(tmp_path_factory):
    """200 more simulated miners, site "remote", behind their own exporter (the session one allows 127.88/16 only)."""
    fleet = SimulatedFleet.build(REMOTE_SIZE, first_address="127.89.0.1", port=0, seed=13)
    thread = FleetThread(fleet).start()
    file_sd = fleet.write_file_sd(tmp_path_factory.mktemp("remote_sd") / "remote.json", labels={"site": REMOTE_SITE})
    config = CgminerConfig(
        timeout_seconds=3,
        connect_timeout_seconds=1,
        allowed_targets=["127.89.0.0/16"],
        allowed_ports=[fleet.port],
    )
    exporter = AppThread(lambda: Exporter(config).app()).start()
    yield {"fleet": fleet, "file_sd": file_sd, "exporter": exporter}
    fleet.clear_faults()
    exporter.stop()
    thread.stop()


def _probe_job(name: str, file_sd: Path, exporter_url: str, interval: str) -> dict:
    return {
        "job_name": name,
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "metrics_path": "/probe",
        "file_sd_configs": [{"files": [str(file_sd)], "refresh_interval": "1s"}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporter_url.removeprefix("http://")},
        ],
    }


@pytest.fixture(scope="module")
def alert_prometheus(rules, alertmanager, exporter, fleet_file_sd, sim_fleet, remote_fleet, tmp_path_factory):
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL:g}s",
            "scrape_timeout": f"{SCRAPE_INTERVAL:g}s",
            "evaluation_interval": f"{EVALUATION_INTERVAL:g}s",
        },
        "rule_files": [str(path) for path in rules["files"]],
        "alerting": {
            "alertmanagers": [
                {"api_version": "v2", "static_configs": [{"targets": [alertmanager.url.removeprefix("http://")]}]}
            ]
        },
        "scrape_configs": [
            _probe_job("miners", fleet_file_sd, exporter.url, f"{SCRAPE_INTERVAL:g}s"),
            _probe_job("miners-remote", remote_fleet["file_sd"], remote_fleet["exporter"].url, "2s"),
        ],
    }
    server = AlertingPrometheus(tmp_path_factory.mktemp("alert_prometheus"), config)
    try:
        rules_loaded = requests.get(f"{server.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        assert rules_loaded, f"Prometheus loaded no rule groups: {(server.workdir / 'prometheus.log').read_text()[-2000:]}"
        total = len(sim_fleet.miners) + REMOTE_SIZE
        server.wait_for("miner_up == 1", lambda r: len(r) == total, timeout=30)
        yield server
    finally:
        server.stop()


@pytest.fixture
def lab_faults(sim_fleet):
    """Faults set on session miners are cleared after the test, whatever happens."""
    touched: list[str] = []
    yield touched
    if touched:
        sim_fleet.clear_faults(touched)


# ---------------------------------------------------------------- helpers


def alerts_in(received, status: str | None = None, **labels: str) -> list[dict]:
    """The alerts of one webhook payload matching these labels (and alert status)."""
    body = received.body
    if not isinstance(body, dict):
        return []
    return [
        alert
        for alert in body.get("alerts", [])
        if all(alert["labels"].get(k) == v for k, v in labels.items()) and (status is None or alert["status"] == status)
    ]


def mentions(text: str, *needles: str) -> bool:
    return all(needle in text for needle in needles)


def slack_text(received) -> str:
    return json.dumps(received.body, ensure_ascii=False) if not isinstance(received.body, str) else received.body


def routes_for(severity: str) -> tuple[str | None, bool]:
    """(Slack path, email?) for a severity, per the contract."""
    return {"critical": (SLACK_PAGING, True), "warning": (SLACK_TICKETS, False), "info": (None, False)}[severity]


# ---------------------------------------------------------------- tests


def test_contract_alerts_are_generated(rules):
    for name in CONTRACT:
        rule = rules["by_name"][name]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook_url"].endswith("#" + name.lower())
    assert rules["by_name"]["MinerDown"]["labels"]["severity"] == "critical"
    assert rules["by_name"]["SiteMinersDown"]["labels"]["severity"] == "critical"
    assert rules["by_name"]["MinerDown"].get("for") == SHORT["miner_down_for"], "MinerDown must follow miner_down_for"


def test_watchdog_reaches_the_webhook_only(alert_prometheus, alertmanager, sinks):
    hook = sinks["webhook"].wait_for(
        lambda r: alerts_in(r, "firing", alertname="Watchdog"), timeout=FIRE_TIMEOUT, what="Watchdog notification"
    )
    assert hook.path == WEBHOOK_PATH
    time.sleep(TIMERS_SECONDS["group_interval"])
    assert not [r for r in sinks["slack"].received if "Watchdog" in slack_text(r)], "info must not reach Slack"
    assert not [m for m in sinks["smtp"].received if "Watchdog" in m.subject], "info must not be mailed"



def test_miner_faults_notify_every_receiver_and_resolve(alert_prometheus, alertmanager, sim_fleet, sinks, rules, lab_faults):
    webhook, slack, smtp = sinks["webhook"], sinks["slack"], sinks["smtp"]
    by_profile: dict[str, list[str]] = {}
    for miner in sim_fleet.miners:
        by_profile.setdefault(miner.profile.name, []).append(f"{miner.address}:{sim_fleet.port}")
    hot, board = by_profile["antminer-s19pro"][:2]
    down = by_profile["braiins-s9"][0]
    used = {hot, board, down}
    # A miner with a backup pool: pool_dead on the active one fails over to priority > 0.
    # Not one already running on a backup pool (some captures do): its alert would be firing before the fault.
    pooled = alert_prometheus.query(
        'count by (instance) (miner_pool_priority{job="miners"}) >= 2 unless on(instance)'
        ' (miner_pool_priority{job="miners"} > 0 and on(instance, miner, pool) miner_pool_active == 1)'
    )
    candidates = sorted(s["metric"]["instance"] for s in pooled if s["metric"]["instance"] not in used)
    assert candidates, "no simulated miner with two pools to fail over"
    failover = candidates[0]

    faults = [
        (down, {"fault": "offline"}, ["MinerDown"]),
        (hot, {"fault": "overheating", "celsius": 120}, ["MinerChipTemperatureCritical", "MinerBoardTemperatureCritical"]),
        (board, {"fault": "board_dead", "board": 0}, ["MinerHashboardDead"]),
        (failover, {"fault": "pool_dead"}, ["MinerPoolFailover"]),
    ]
    expected = [(name, instance) for instance, _, names in faults for name in names]

    started, started_wall = time.monotonic(), time.time()
    for instance, fault, _ in faults:
        address = instance.rsplit(":", 1)[0]
        lab_faults.append(address)
        sim_fleet.set_fault(fault, [address])

    deadline = started + FIRE_TIMEOUT + 10
    firing_hooks = {}
    for name, instance in expected:
        rule = rules["by_name"][name]
        severity = rule["labels"]["severity"]
        hook = webhook.wait_for(
            lambda r: alerts_in(r, "firing", alertname=name, instance=instance),
            timeout=max(1, deadline - time.monotonic()),
            what=f"firing {name} for {instance}",
            since=started,
        )
        firing_hooks[name, instance] = hook
        assert hook.path == WEBHOOK_PATH
        alert = alerts_in(hook, "firing", alertname=name, instance=instance)[0]
        assert alert["labels"]["severity"] == severity
        assert alert["labels"]["site"] == "lab"
        if "miner" in alert["labels"]:
            assert alert["labels"]["miner"] in (instance, instance.rsplit(":", 1)[0])
        assert alert["annotations"]["summary"] == rule["annotations"]["summary"]
        assert alert["annotations"]["runbook_url"] == rule["annotations"]["runbook_url"]

        slack_path, mailed = routes_for(severity)
        if slack_path:
            post = slack.wait_for(
                lambda r: mentions(slack_text(r), name, instance),
                timeout=max(1, deadline - time.monotonic()),
                what=f"Slack message for {name} on {instance}",
                since=started,
            )
            assert post.path == slack_path, f"{name} ({severity}) went to {post.path}"
            text = slack_text(post)
            for needle in (rule["annotations"]["summary"], rule["annotations"]["runbook_url"], "FIRING"):
                assert needle in text, f"Slack message for {name} lacks {needle!r}: {text[:1500]}"
        if mailed:
            mail = smtp.wait_for(
                lambda m: mentions(m.subject, name) and mentions(m.text, instance),
                timeout=max(1, deadline - time.monotonic()),
                what=f"mail for {name} on {instance}",
                since=started,
            )
            for needle in (rule["annotations"]["summary"], rule["annotations"]["runbook_url"]):
                assert needle in mail.text, f"mail for {name} lacks {needle!r}: {mail.text[:1500]}"
            assert "FIRING" in mail.subject
        elif severity == "warning":
            assert not [m for m in smtp.since(started) if name in m.subject], f"{name} is a warning: no mail"

    # Fault -> webhook, for MinerDown, and what it is made of.
    hook = firing_hooks["MinerDown", down]
    # Prometheus sends startsAt = the evaluation at which the alert went from pending to firing.
    fired_at = rfc3339(alerts_in(hook, "firing", alertname="MinerDown", instance=down)[0]["startsAt"])
    total = hook.at - started
    to_firing = fired_at - started_wall
    for_seconds = seconds(rules["by_name"]["MinerDown"]["for"])
    print(
        f"\nMinerDown fault -> webhook: {total:.1f} s = fault -> firing {to_firing:.1f} s (next scrape <= {SCRAPE_INTERVAL:g} s"
        f" + next evaluation <= {EVALUATION_INTERVAL:g} s + for {for_seconds:g} s) + firing -> webhook"
        f" {total - to_firing:.1f} s (send to Alertmanager + group_wait {TIMERS['group_wait']})"
    )
    for (name, instance), received in firing_hooks.items():
        print(f"  {name} on {instance}: fault -> webhook {received.at - started:.1f} s")
    assert total < FIRE_TIMEOUT

    # Clearing the faults resolves every alert, on each receiver that got it (send_resolved everywhere).
    cleared = time.monotonic()
    sim_fleet.clear_faults(lab_faults)
    deadline = cleared + RESOLVE_TIMEOUT
    for name, instance in expected:
        severity = rules["by_name"][name]["labels"]["severity"]
        received = webhook.wait_for(
            lambda r: alerts_in(r, "resolved", alertname=name, instance=instance),
            timeout=max(1, deadline - time.monotonic()),
            what=f"resolved {name} for {instance}",
            since=cleared,
        )
        print(f"  {name} on {instance}: cleared -> resolved at the webhook {received.at - cleared:.1f} s")
        slack_path, mailed = routes_for(severity)
        if slack_path:
            slack.wait_for(
                # the group's title says RESOLVED, or "n resolved" when others of the group still fire
                lambda r: mentions(slack_text(r), name, instance) and "resolved" in slack_text(r).lower(),
                timeout=max(1, deadline - time.monotonic()),
                what=f"resolved Slack message for {name} on {instance}",
                since=cleared,
            )
        if mailed:
            smtp.wait_for(
                lambda m: mentions(m.subject, name) and "resolved" in m.subject.lower() and instance in m.text,
                timeout=max(1, deadline - time.monotonic()),
                what=f"resolved mail for {name} on {instance}",
                since=cleared,
            )


def test_site_outage_is_one_grouped_notification(alert_prometheus, alertmanager, remote_fleet, sinks, rules):
    webhook, slack, smtp = sinks["webhook"], sinks["slack"], sinks["smtp"]
    fleet = remote_fleet["fleet"]
    started = time.monotonic()
    fleet.set_fault({"fault": "offline"}, [m.address for m in fleet.miners])
    try:
        first = webhook.wait_for(
            lambda r: alerts_in(r, "firing", alertname="SiteMinersDown", site=REMOTE_SITE),
            timeout=FIRE_TIMEOUT + 10,
            what=f"firing SiteMinersDown for site {REMOTE_SITE}",
            since=started,
        )
        print(f"\nSiteMinersDown ({REMOTE_SIZE} miners offline) fault -> webhook: {first.at - started:.1f} s")
        assert first.path == WEBHOOK_PATH
        alert = alerts_in(first, "firing", alertname="SiteMinersDown", site=REMOTE_SITE)[0]
        assert alert["annotations"]["runbook_url"] == rules["by_name"]["SiteMinersDown"]["annotations"]["runbook_url"]
        # Let any straggler notification of the outage arrive: a few group intervals.
        time.sleep(3 * TIMERS_SECONDS["group_interval"] + 1)

        outage = [r for r in webhook.since(started) if alerts_in(r, "firing", site=REMOTE_SITE)]
        by_name: dict[str, list] = {}
        for received in outage:
            for name in {a["labels"]["alertname"] for a in alerts_in(received, "firing", site=REMOTE_SITE)}:
                by_name.setdefault(name, []).append(received)
        summary = {name: [len(alerts_in(r, "firing", alertname=name, site=REMOTE_SITE)) for r in calls]
                   for name, calls in by_name.items()}
        print(f"webhook calls with firing alerts of site {REMOTE_SITE}: {len(outage)}; alerts per call by name: {summary}")
        site_down = by_name.get("SiteMinersDown", [])
        assert len(site_down) == 1, f"SiteMinersDown must be notified once, got {len(site_down)}"
        assert len(alerts_in(site_down[0], "firing", alertname="SiteMinersDown")) == 1
        # MinerDown of the site: inhibited by SiteMinersDown, or grouped (alertname, site) into one notification.
        miner_down = by_name.get("MinerDown", [])
        # (Whatever reached Alertmanager before SiteMinersDown went out grouped; the rest is inhibited.)
        assert len(miner_down) <= 2, f"{len(miner_down)} MinerDown notifications for one site outage: {summary}"
        # Other groups of the site may send one update each (their alerts resolve as the miners vanish).
        assert len(outage) <= 2 + len(by_name), f"{len(outage)} webhook calls for one site outage: {summary}"
        assert len(outage) < 10, f"{len(outage)} webhook calls for one site outage (not grouped): {summary}"
        # Slack and mail: the same groups, one message each (titles "[FIRING:n] <alertname> at <site> ...").
        for name in ("SiteMinersDown", "MinerDown"):
            title = f"] {name} at {REMOTE_SITE} "
            posts = [r for r in slack.since(started) if title in slack_text(r) and "FIRING" in slack_text(r)]
            mails = [m for m in smtp.since(started) if title in m.subject and "FIRING" in m.subject]
            print(f"{name} at {REMOTE_SITE}: {len(posts)} Slack messages, {len(mails)} mails")
            assert len(posts) == len(mails) == len(by_name.get(name, [])), (name, len(posts), len(mails))
            assert all(r.path == SLACK_PAGING for r in posts)
        assert alertmanager.alerts(alertname="SiteMinersDown", site=REMOTE_SITE)
    finally:
        cleared = time.monotonic()
        fleet.clear_faults()
    resolved = webhook.wait_for(
        lambda r: alerts_in(r, "resolved", alertname="SiteMinersDown", site=REMOTE_SITE),
        timeout=RESOLVE_TIMEOUT + 10,
        what=f"resolved SiteMinersDown for site {REMOTE_SITE}",
        since=cleared,
    )
    print(f"SiteMinersDown cleared -> resolved at the webhook {resolved.at - cleared:.1f} s")
