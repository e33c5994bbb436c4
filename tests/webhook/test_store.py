"""EventStore: one row per (fingerprint, status, start), however often and in whatever order it arrives."""

from __future__ import annotations

import sqlite3

from alertmanager.receiver.payload import parse
from alertmanager.receiver.store import EventStore, events_of
from tests.webhook.helpers import AM, alert_payload, body

MINER = {"alertname": "MinerHashrateLow", "severity": "warning", "site": "austin", "miner": "10.0.0.7"}


def _events(data: dict, received: float = 1000.0):
    return events_of(parse(body(data)), received)


def test_wal_and_full_sync(tmp_path):
    store = EventStore(tmp_path / "events.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_repeats_and_ha_copies_store_nothing_new(tmp_path):
    store = EventStore(tmp_path / "events.db")
    firing = parse((AM / "webhook_v4_firing_2019_alertmonitor.json").read_bytes())
    assert len(store.store(events_of(firing, 1.0))) == 3
    assert store.store(events_of(firing, 2.0)) == []  # repeat_interval, retry, the HA peer
    assert store.count() == 3
    resolved = parse((AM / "webhook_v4_resolved_2019_alertmonitor_HANDEDITED.json").read_bytes())
    new = store.store(events_of(resolved, 3.0))
    assert [e.status for e in new] == ["resolved"] * 3
    assert store.count() == 6
    store.close()


def test_fingerprint_given_or_computed_is_the_same_event(tmp_path):
    store = EventStore(tmp_path / "events.db")
    labels = {"alertname": "HighValue", "instance": "api:8000", "job": "api", "severity": "high"}
    with_fp = alert_payload("firing", labels, "2022-10-04T13:32:56.014Z", fingerprint="948c667b1fc76492")
    without = alert_payload("firing", labels, "2022-10-04T13:32:56.014000000Z")
    assert len(store.store(_events(with_fp))) == 1
    assert store.store(_events(without)) == []
    store.close()


def test_resolved_before_firing(tmp_path):
    store = EventStore(tmp_path / "events.db")
    resolved = alert_payload("resolved", MINER, "2024-01-01T10:00:00Z", "2024-01-01T10:30:00Z")
    firing = alert_payload("firing", MINER, "2024-01-01T10:00:00Z")
    (first,) = store.store(_events(resolved))
    assert first.status == "resolved" and first.duration_seconds == 1800
    (late,) = store.store(_events(firing))
    assert late.status == "firing" and late.superseded  # old news: already resolved
    assert store.store(_events(firing)) == [] and store.store(_events(resolved)) == []
    assert store.count() == 2
    # the same alert firing again later is a new episode, not superseded
    (again,) = store.store(_events(alert_payload("firing", MINER, "2024-01-02T10:00:00Z")))
    assert not again.superseded
    store.close()


def test_filters_durations_and_summary(tmp_path):
    store = EventStore(tmp_path / "events.db")
    other = {**MINER, "miner": "10.0.0.8", "site": "dallas", "severity": "critical"}
    pool = {"alertname": "PoolDown", "severity": "critical", "site": "austin"}
    for data in (
        alert_payload("firing", MINER, "2024-01-01T10:00:00Z"),
        alert_payload("resolved", MINER, "2024-01-01T10:00:00Z", "2024-01-01T10:10:00Z"),
        alert_payload("firing", other, "2024-01-01T11:00:00Z"),
        alert_payload("resolved", other, "2024-01-01T11:00:00Z", "2024-01-01T11:30:00Z"),
        alert_payload("firing", pool, "2024-01-03T00:00:00Z"),
    ):
        store.store(_events(data))
    day1 = (1704067200.0, 1704153600.0)  # 2024-01-01 UTC
    assert len(store.events(*day1)) == 4
    assert len(store.events(since=day1[1])) == 1
    assert {e.labels["miner"] for e in store.events(site="austin", alertname="MinerHashrateLow")} == {"10.0.0.7"}
    assert [e.alertname for e in store.events(severity="critical", status="firing")] == ["PoolDown", "MinerHashrateLow"]
    assert [e.duration_seconds for e in store.events(miner="10.0.0.8", status="resolved")] == [1800]
    assert store.events(status="firing", miner="10.0.0.7")[0].duration_seconds is None
    assert len(store.events(limit=2)) == 2
    summary = {row["alertname"]: row for row in store.summary()}
    assert summary["MinerHashrateLow"]["firing"] == 2 and summary["MinerHashrateLow"]["resolved"] == 2
    assert summary["MinerHashrateLow"]["mean_time_to_resolve_seconds"] == 1200
    assert summary["MinerHashrateLow"]["max_time_to_resolve_seconds"] == 1800
    assert summary["PoolDown"]["resolved"] == 0 and summary["PoolDown"]["mean_time_to_resolve_seconds"] is None
    assert [row["alertname"] for row in store.summary(site="dallas")] == ["MinerHashrateLow"]
    store.close()


def test_retention_prunes_by_receipt_time(tmp_path):
    now = [10 * 86400.0]
    store = EventStore(tmp_path / "events.db", retention_days=2, clock=lambda: now[0])
    store.store(_events(alert_payload("firing", MINER, "2024-01-01T10:00:00Z"), received=now[0] - 3 * 86400))
    store.store(_events(alert_payload("firing", MINER, "2024-01-02T10:00:00Z"), received=now[0]))
    assert store.prune() == 1 and store.count() == 1
    store.close()


def test_label_values_are_stored_as_given(tmp_path):
    store = EventStore(tmp_path / "events.db")
    labels = {**MINER, "miner": "'; DROP TABLE events; --"}
    store.store(_events(alert_payload("firing", labels, "2024-01-01T10:00:00Z")))
    assert store.events(miner=labels["miner"])[0].labels == labels
    store.close()
    assert sqlite3.connect(tmp_path / "events.db").execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
