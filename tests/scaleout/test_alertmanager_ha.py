"""Alertmanager in HA: a clustered pair loses a member mid-incident and every alert event is still recorded once.

All real, on 127.91.x.x: a prometheus_client target whose `ha_test_miner_up` gauge the test
sets, a Prometheus evaluating one alerting rule on it every second and sending to FOUR
Alertmanagers (Debian's 0.25, each from a copy of the committed alertmanager/alertmanager.yml
with its webhook URLs pointed at a real `hashwatch webhook` receiver and short group timers):

- the pair under test, clustered by gossip (`--cluster.peer` to each other), delivering to
  receiver "cluster";
- a control pair, NOT clustered, delivering to receiver "control". It shows what the checks
  would see without the cluster: both members deliver every notification.

The incident: four miners (two sites) go down; once their firing events are stored and the
standby member has had its chance to duplicate (peer-timeout), one alert resolves and two more
fire (one in a new site); as soon as both clustered members hold the new state, the ACTIVE one
(cluster position 0, the one actually sending) is SIGKILLed: just before or just after its next
group flush (the report says which), either way with notifications pending. The survivor takes
over; then every miner comes back and every alert resolves.

What is asserted, and why it can fail:
- before the kill the standby member held every alert yet sent nothing (receiver's delivery log
  and its own alertmanager_notifications_total): the pair deduplicated through the gossiped
  notification log. The control's second member sends everything, which fails this check;
- the survivor reports its peer gone (`/api/v2/status` cluster.peers) and delivers what changed;
- the receiver's history (/api/v1/events) holds exactly one firing and one resolved event per
  alert, with the same startsAt, and nothing else: none lost, none duplicated, even though the
  control pair delivered every event twice (the receiver's duplicate counter shows it).
  A receiver keyed by notification or by sender fails it, for the clustered pair too: the
  survivor's first notifications repeat firing alerts its dead peer had delivered (checked
  once by patching the key to include the sender: 2 extra firing events for the pair, 12 for
  the control).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from alertmanager.receiver.config import WebhookConfig
from hashwatch.config import parse_config
from tests.support.alertmanager_cluster import (
    PEER_TIMEOUT_SECONDS,
    ClusterMember,
    RecordingReceiver,
    SeriesTarget,
    free_port_on,
    position_order,
    start_pair,
    wait_converged,
    wait_until,
)
from tests.support.alertmanager_server import TIMERS, AlertingPrometheus, local_config
from tests.support.paths import REPO

pytestmark = pytest.mark.timeout(150)

CLUSTER_HOSTS = ("127.91.0.1", "127.91.0.2")
CONTROL_HOSTS = ("127.91.0.3", "127.91.0.4")
TARGET_HOST = "127.91.0.10"
RECEIVER_HOSTS = {"cluster": "127.91.0.20", "control": "127.91.0.21"}
CLOSED_HOST = "127.91.0.99"  # Slack and SMTP of the copies: nothing listens (the info route uses only the webhook)

ALERT = "HaTestMinerDown"
MINERS = {"n1": "north", "n2": "north", "n3": "north", "n4": "north", "s1": "south", "s2": "south", "w1": "west"}
FIRST = ("n1", "n2", "n3", "s1")  # down before the kill
RESOLVED_AT_KILL = ("n1",)  # back up just before the kill
FIRED_AT_KILL = ("n4", "w1")  # down just before the kill; w1 opens a new group (site west)
DOWN = FIRST + FIRED_AT_KILL  # every alert of the incident; s2 never goes down

GROUP_INTERVAL = float(TIMERS["group_interval"].removesuffix("s"))
STEP_TIMEOUT = 20  # s, for any one step of the incident
GRACE = 2 * GROUP_INTERVAL + 2 * PEER_TIMEOUT_SECONDS + 1  # late or repeated notifications would arrive by then


def rules_file(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"groups": [{"name": "ha-test", "interval": "1s", "rules": [{
        "alert": ALERT,
        "expr": "ha_test_miner_up == 0",
        "labels": {"severity": "info"},  # routed to the hashwatch-webhook receiver only
        "annotations": {"summary": "{{ $labels.miner }} at {{ $labels.site }} is down (HA test)"},
    }]}]}))
    return path


def am_config(root: Path, name: str, webhook_url: str) -> Path:
    committed = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    closed = f"{CLOSED_HOST}:{free_port_on(CLOSED_HOST)}"
    workdir = root / f"config-{name}"
    config, _notes = local_config(committed, workdir=workdir, webhook_url=webhook_url, slack_url=f"http://{closed}",
                                  smarthost=closed, templates_dir=REPO / "alertmanager" / "templates")
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Incident:
    cluster: list[ClusterMember]  # by position: [active, standby]
    control: list[ClusterMember]
    receivers: dict[str, RecordingReceiver]
    started: float = 0.0
    killed_at: float = 0.0
    pre_kill: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    survivor_cluster: dict = field(default_factory=dict)
    survivor_metrics: dict[str, float] = field(default_factory=dict)
    final: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def active(self) -> ClusterMember:
        return self.cluster[0]

    @property
    def standby(self) -> ClusterMember:
        return self.cluster[1]


def miners_of(alerts: list[dict]) -> set[str]:
    return {a["labels"]["miner"] for a in alerts if a["labels"].get("alertname") == ALERT}


def stored(receiver: RecordingReceiver, status: str) -> set[str]:
    return {e["labels"]["miner"] for e in receiver.events(alertname=ALERT, status=status)}


def senders_by_key(receiver: RecordingReceiver, since: float = 0.0) -> dict[tuple, set[str]]:
    senders: dict[tuple, set[str]] = defaultdict(set)
    for delivery in receiver.since(since):
        for key in delivery.keys:
            senders[key].add(delivery.sender)
    return senders


def states_of(deliveries) -> set[tuple[str, str]]:
    """(miner, status) of every alert state these deliveries carried."""
    return {(labels["miner"], key[1]) for d in deliveries for key, labels in zip(d.keys, d.labels)}


def run_incident(incident: Incident, target: SeriesTarget) -> None:
    cluster, control = incident.receivers["cluster"], incident.receivers["control"]

    def set_up(miners: tuple[str, ...], value: int) -> None:
        for miner in miners:
            target.gauge.labels(miner, MINERS[miner]).set(value)

    # Before the kill: four alerts in two groups, delivered by the active member only.
    incident.started = started = time.monotonic()
    set_up(FIRST, 0)
    wait_until("the first firing events stored by the cluster's receiver",
               lambda: stored(cluster, "firing") >= set(FIRST), STEP_TIMEOUT)
    incident.timings["down -> first events stored"] = time.monotonic() - started
    wait_until("the control pair delivering the first firing events twice",
               lambda: len(senders_by_key(control)) >= len(FIRST)
               and all(len(s) == 2 for s in senders_by_key(control).values()), STEP_TIMEOUT)
    time.sleep(2 * PEER_TIMEOUT_SECONDS + 0.5)  # past the standby's turn (position 1 waits 1 × peer-timeout)
    incident.pre_kill = {
        "knew": {m.url: miners_of(m.alerts()) for m in incident.cluster},
        "peers": {m.url: len(m.cluster()["peers"]) for m in incident.cluster},
        "cluster_members": {m.url: m.counter("alertmanager_cluster_members") for m in incident.cluster},
        "notifications_total": {m.url: m.counter("alertmanager_notifications_total", integration="webhook")
                                for m in incident.cluster},
        "deliveries": Counter(d.sender for d in cluster.deliveries),
        "control_deliveries": Counter(d.sender for d in control.deliveries),
    }

    # Mid-incident: one alert resolves, two fire; the active member dies once both members hold that.
    set_up(RESOLVED_AT_KILL, 1)
    set_up(FIRED_AT_KILL, 0)
    changed = time.monotonic()
    expected = set(FIRST) - set(RESOLVED_AT_KILL) | set(FIRED_AT_KILL)
    wait_until("both clustered members holding the changed alerts",
               lambda: all(miners_of(m.alerts()) == expected for m in incident.cluster), STEP_TIMEOUT)
    incident.timings["change -> both members hold it"] = time.monotonic() - changed
    incident.active.kill()
    incident.killed_at = time.monotonic()  # the process is gone (waited for)

    def alone() -> dict | None:
        state = incident.standby.cluster()
        return state if len(state["peers"]) == 1 else None
    incident.survivor_cluster = wait_until("the survivor reporting its peer gone", alone, STEP_TIMEOUT)
    incident.timings["kill -> survivor sees 1 peer"] = time.monotonic() - incident.killed_at
    incident.survivor_metrics = {name: incident.standby.counter(name)
                                 for name in ("alertmanager_cluster_members", "alertmanager_cluster_failed_peers")}
    wait_until("the changes delivered after the kill",
               lambda: stored(cluster, "firing") >= set(FIRED_AT_KILL)
               and stored(cluster, "resolved") >= set(RESOLVED_AT_KILL), STEP_TIMEOUT)
    incident.timings["kill -> changes stored"] = time.monotonic() - incident.killed_at

    # The end: every miner back, every alert resolved.
    set_up(DOWN, 1)
    ended = time.monotonic()
    for name, receiver in incident.receivers.items():
        wait_until(f"every resolution stored by the {name} receiver",
                   lambda r=receiver: stored(r, "resolved") >= set(DOWN), STEP_TIMEOUT)
    incident.timings["all up -> all resolutions stored"] = time.monotonic() - ended
    wait_until("the control pair delivering every event twice",
               lambda: len(senders_by_key(control)) >= 2 * len(DOWN)
               and all(len(s) == 2 for s in senders_by_key(control).values()), STEP_TIMEOUT)
    time.sleep(GRACE)
    incident.final = {name: receiver.events(alertname=ALERT) for name, receiver in incident.receivers.items()}
    incident.timings["whole incident"] = time.monotonic() - started


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    root = tmp_path_factory.mktemp("alertmanager_ha")
    opened: list = []
    try:
        receivers = {}
        for name, host in RECEIVER_HOSTS.items():
            config = parse_config(WebhookConfig, {"db_path": str(root / f"{name}.db")})
            receivers[name] = RecordingReceiver(config, host)
            opened.append(receivers[name])
        target = SeriesTarget(TARGET_HOST, "ha_test_miner_up", "1 when the test miner is up.", ("miner", "site"))
        opened.append(target)
        for miner, site in MINERS.items():
            target.gauge.labels(miner, site).set(1)

        pair = start_pair(root / "cluster", am_config(root, "cluster", receivers["cluster"].url),
                          CLUSTER_HOSTS, clustered=True)
        opened += pair
        control = start_pair(root / "control", am_config(root, "control", receivers["control"].url),
                             CONTROL_HOSTS, clustered=False)
        opened += control
        wait_converged(pair)
        pair = position_order(pair)

        (root / "prometheus").mkdir()

        def targets(members: list[ClusterMember]) -> dict:
            addresses = [m.url.removeprefix("http://") for m in members]
            return {"api_version": "v2", "static_configs": [{"targets": addresses}]}

        prometheus = AlertingPrometheus(root / "prometheus", {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules_file(root / "ha-rules.yml"))],
            "alerting": {"alertmanagers": [targets(pair), targets(control)]},  # each alert to all four, no balancer
            "scrape_configs": [{"job_name": "ha-test", "static_configs": [{"targets": [target.address]}]}],
        }, resend_delay="1s")
        opened.append(prometheus)
        prometheus.wait_for("ha_test_miner_up == 1", lambda r: len(r) == len(MINERS), timeout=STEP_TIMEOUT)

        found = Incident(cluster=pair, control=control, receivers=receivers)
        try:
            run_incident(found, target)
        except BaseException:
            for member in [*pair, *control]:
                print(f"--- {member.url} log tail:\n{member.log_tail(3000)}")
            raise
        report(found)
        yield found
    finally:
        for thing in reversed(opened):
            if isinstance(thing, (RecordingReceiver, SeriesTarget)):
                thing.close()
            else:
                thing.stop()


def report(incident: Incident) -> None:
    print("\nAlertmanager HA incident, timings (s):",
          ", ".join(f"{name} {value:.1f}" for name, value in incident.timings.items()))
    for name, receiver in incident.receivers.items():
        after = Counter(d.sender for d in receiver.since(incident.killed_at))
        alerts = Counter()
        for delivery in receiver.deliveries:
            alerts[delivery.sender] += len(delivery.keys)
        print(f"  {name}: notifications received per member {dict(Counter(d.sender for d in receiver.deliveries))}"
              f" (after the kill {dict(after)}), alert states carried {dict(alerts)},"
              f" events stored {len(incident.final[name])},"
              f" notifications with nothing new"
              f" {receiver.metric('hashwatch_webhook_notifications_received_total', result='duplicate'):g},"
              f" repeated alert states {receiver.metric('hashwatch_webhook_duplicates_total'):g}")
    print(f"  before the kill: {incident.pre_kill}")
    print(f"  the survivor, once alone: {incident.survivor_metrics}")
    changes = {(m, "resolved") for m in RESOLVED_AT_KILL} | {(m, "firing") for m in FIRED_AT_KILL}
    dead = states_of([d for d in incident.receivers["cluster"].deliveries if d.sender == incident.active.url])
    print(f"  the killed member had delivered {sorted(changes & dead)} of the changes {sorted(changes)}")


# ---------------------------------------------------------------- tests


def test_the_pair_deduplicates_before_the_kill(incident):
    pre = incident.pre_kill
    active, standby = incident.active.url, incident.standby.url
    assert pre["peers"] == {active: 2, standby: 2}
    assert pre["cluster_members"] == {active: 2, standby: 2}
    assert pre["knew"][standby] == set(FIRST), "the standby must hold every alert (Prometheus sends to both)"
    assert pre["deliveries"][active] >= 2, f"one notification per group (north, south) expected: {pre}"
    assert pre["deliveries"][standby] == 0, f"the standby delivered although its peer had: {pre}"
    assert pre["notifications_total"][standby] == 0 and pre["notifications_total"][active] >= 2, pre
    # The same check on the unclustered control pair fails: both members sent.
    assert len(pre["control_deliveries"]) == 2 and min(pre["control_deliveries"].values()) >= 2, pre


def test_the_survivor_sees_its_peer_gone_and_takes_over(incident):
    state = incident.survivor_cluster
    assert [peer["name"] for peer in state["peers"]] == [state["name"]]
    assert state["status"] == "ready"
    assert incident.survivor_metrics["alertmanager_cluster_members"] == 1, incident.survivor_metrics
    deliveries = incident.receivers["cluster"].deliveries
    # A request the killed member had fully sent may still be handled a moment after its death.
    ghosts = [d for d in deliveries if d.sender == incident.active.url and d.at > incident.killed_at + 0.5]
    assert not ghosts, ghosts
    # What the killed member had not delivered (the kill may land just after or just before a group's
    # flush; the final resolutions always come later) was all delivered by the survivor.
    early = states_of([d for d in deliveries if d.sender == incident.active.url])
    late = states_of([d for d in deliveries if d.sender == incident.standby.url and d.at > incident.killed_at])
    every = {(m, "firing") for m in DOWN} | {(m, "resolved") for m in DOWN}
    assert every - early, "the kill came after the whole incident"
    assert every - early <= late, f"not delivered by anyone: {sorted(every - early - late)}"


@pytest.mark.parametrize("name", ["cluster", "control"])
def test_every_alert_event_is_recorded_exactly_once(incident, name):
    events = incident.final[name]
    per_state = Counter((e["labels"]["miner"], e["status"]) for e in events)
    expected = {(miner, status): 1 for miner in DOWN for status in ("firing", "resolved")}
    assert dict(per_state) == expected, f"{name}: stored {dict(per_state)}"
    starts = defaultdict(set)
    for event in events:
        starts[event["labels"]["miner"]].add(event["starts_at"])
        if event["status"] == "resolved":
            assert event["ends_at"] > event["starts_at"]
    assert all(len(s) == 1 for s in starts.values()), f"{name}: one alert stored with two starts: {dict(starts)}"
    # Everything delivered was stored, and nothing stored that was not delivered; every delivery was accepted.
    receiver = incident.receivers[name]
    delivered = set(senders_by_key(receiver))
    assert delivered == {(e["fingerprint"], e["status"], e["starts_at"]) for e in events}
    assert {d.status_code for d in receiver.deliveries} == {200}


def test_the_unclustered_control_delivers_everything_twice(incident):
    receiver = incident.receivers["control"]
    senders = senders_by_key(receiver)
    members = {m.url for m in incident.control}
    assert senders and all(s == members for s in senders.values()), {k: sorted(s) for k, s in senders.items()}
    assert receiver.metric("hashwatch_webhook_duplicates_total") >= len(senders)
