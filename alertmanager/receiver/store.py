"""The event history: SQLite in WAL mode with synchronous=FULL, one row per alert state change.

An event is one (fingerprint, status, starts_at): an alert that started firing,
or that alert resolved. Alertmanager repeats notifications (repeat_interval,
retries after a timeout, both members of an HA pair), so the same event
arrives many times; the UNIQUE key makes every repeat a no-op, and `store()`
returns only the rows it inserted. Deliveries may arrive out of order (the
resolved before the firing): each is still one row, and a firing event that
arrives after its resolution is returned with `superseded=True`, so a callback
can tell it is old news.

`store()` commits before it returns and the commit is fsynced (WAL,
synchronous=FULL): once the receiver answers 2xx the event survives a crash
or power loss. One connection, guarded by a lock, serves every thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .payload import Notification

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at     REAL NOT NULL,            -- unix seconds, microsecond precision
    ends_at       REAL,                     -- unix seconds; NULL when Alertmanager sent none
    received_at   REAL NOT NULL,            -- when this receiver first stored it
    alertname     TEXT NOT NULL DEFAULT '',
    severity      TEXT NOT NULL DEFAULT '',
    site          TEXT NOT NULL DEFAULT '',
    miner         TEXT NOT NULL DEFAULT '',
    labels        TEXT NOT NULL,            -- JSON object
    annotations   TEXT NOT NULL,            -- JSON object
    generator_url TEXT NOT NULL DEFAULT '',
    receiver      TEXT NOT NULL DEFAULT '',
    group_key     TEXT NOT NULL DEFAULT '',
    UNIQUE (fingerprint, status, starts_at)
);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE INDEX IF NOT EXISTS events_alertname ON events (alertname, starts_at);
"""

PRUNE_EVERY_SECONDS = 3600.0
MAX_LIMIT = 10_000
FILTERS = ("alertname", "severity", "site", "miner", "status")


@dataclass(frozen=True)
class Event:
    """One stored alert state change."""

    fingerprint: str
    status: str
    starts_at: float
    ends_at: float | None
    received_at: float
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    generator_url: str = ""
    receiver: str = ""
    group_key: str = ""
    superseded: bool = False  # a firing event stored after its own resolution

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def duration_seconds(self) -> float | None:
        """How long the alert fired: ends_at - starts_at of a resolved event."""
        if self.status != "resolved" or self.ends_at is None:
            return None
        return max(0.0, self.ends_at - self.starts_at)

    def as_dict(self) -> dict:
        return {
            "fingerprint": self.fingerprint, "status": self.status, "alertname": self.alertname,
            "starts_at": self.starts_at, "ends_at": self.ends_at, "received_at": self.received_at,
            "duration_seconds": self.duration_seconds, "labels": self.labels,
            "annotations": self.annotations, "generator_url": self.generator_url,
            "receiver": self.receiver, "group_key": self.group_key,
        }


def events_of(notification: Notification, received_at: float) -> list[Event]:
    return [
        Event(
            fingerprint=alert.key_fingerprint(), status=alert.status,
            starts_at=round(alert.starts_at.timestamp(), 6),
            ends_at=None if alert.ends_at is None else round(alert.ends_at.timestamp(), 6),
            received_at=received_at, labels=dict(alert.labels), annotations=dict(alert.annotations),
            generator_url=alert.generator_url, receiver=notification.receiver, group_key=notification.group_key,
        )
        for alert in notification.alerts
    ]


_COLUMNS = ("fingerprint, status, starts_at, ends_at, received_at, labels, annotations, "
            "generator_url, receiver, group_key")


def _row_event(row: tuple) -> Event:
    fingerprint, status, starts_at, ends_at, received_at, labels, annotations, url, receiver, group_key = row
    return Event(fingerprint, status, starts_at, ends_at, received_at, json.loads(labels), json.loads(annotations),
                 url, receiver, group_key)


class EventStore:
    """The SQLite file of events. Thread-safe; `close()` when done."""

    def __init__(self, path: str | Path, retention_days: float = 90, clock=time.time):
        self.path = Path(path)
        self.retention_seconds = retention_days * 86400
        self._clock = clock
        self._lock = threading.Lock()
        if self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._last_prune = 0.0
        self.prune()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ----------------------------------------------------------------------

    def store(self, events: Iterable[Event]) -> list[Event]:
        """Insert the events in one transaction, committed (fsynced) on return; the new ones only."""
        new: list[Event] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    labels = event.labels
                    cursor = self._db.execute(
                        "INSERT INTO events (fingerprint, status, starts_at, ends_at, received_at, alertname, "
                        "severity, site, miner, labels, annotations, generator_url, receiver, group_key) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (fingerprint, status, starts_at) DO NOTHING",
                        (event.fingerprint, event.status, event.starts_at, event.ends_at, event.received_at,
                         labels.get("alertname", ""), labels.get("severity", ""), labels.get("site", ""),
                         labels.get("miner", ""), json.dumps(labels, sort_keys=True),
                         json.dumps(event.annotations, sort_keys=True), event.generator_url, event.receiver,
                         event.group_key),
                    )
                    if cursor.rowcount != 1:
                        continue
                    if event.status == "firing" and self._db.execute(
                        "SELECT 1 FROM events WHERE fingerprint = ? AND starts_at = ? AND status = 'resolved'",
                        (event.fingerprint, event.starts_at),
                    ).fetchone():
                        event = replace(event, superseded=True)
                    new.append(event)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if self._clock() - self._last_prune >= PRUNE_EVERY_SECONDS:
            self.prune()
        return new

    def prune(self) -> int:
        """Delete events received longer ago than the retention; how many went."""
        now = self._clock()
        with self._lock:
            cursor = self._db.execute("DELETE FROM events WHERE received_at < ?", (now - self.retention_seconds,))
        self._last_prune = now
        return cursor.rowcount

    # --- reading ----------------------------------------------------------------------

    @staticmethod
    def _where(since: float | None, until: float | None, filters: dict[str, str | None]) -> tuple[str, list]:
        clauses, values = [], []
        if since is not None:
            clauses.append("starts_at >= ?")
            values.append(since)
        if until is not None:
            clauses.append("starts_at < ?")
            values.append(until)
        for name, value in filters.items():
            if name not in FILTERS:
                raise ValueError(f"unknown filter {name!r}")
            if value is not None:
                clauses.append(f"{name} = ?")
                values.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", values

    def events(self, since: float | None = None, until: float | None = None, limit: int = 100,
               **filters: str | None) -> list[Event]:
        """Events whose alert started in [since, until), newest first, matching every filter given."""
        where, values = self._where(since, until, filters)
        limit = max(1, min(limit, MAX_LIMIT))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM events{where} ORDER BY starts_at DESC, id DESC LIMIT ?", (*values, limit)
            ).fetchall()
        return [_row_event(row) for row in rows]

    def summary(self, since: float | None = None, until: float | None = None,
                **filters: str | None) -> list[dict]:
        """Per alertname: firing and resolved counts and the mean time to resolve, in seconds."""
        where, values = self._where(since, until, filters)
        with self._lock:
            rows = self._db.execute(
                "SELECT alertname, SUM(status = 'firing'), SUM(status = 'resolved'), "
                "AVG(CASE WHEN status = 'resolved' AND ends_at IS NOT NULL THEN MAX(0, ends_at - starts_at) END), "
                "MAX(CASE WHEN status = 'resolved' AND ends_at IS NOT NULL THEN MAX(0, ends_at - starts_at) END) "
                f"FROM events{where} GROUP BY alertname ORDER BY alertname",
                values,
            ).fetchall()
        return [
            {"alertname": name, "firing": firing, "resolved": resolved,
             "mean_time_to_resolve_seconds": mean, "max_time_to_resolve_seconds": longest}
            for name, firing, resolved, mean, longest in rows
        ]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
