"""The forwarding outbox: messages stored durably in SQLite, sent by one thread, retried, counted.

`Outbox` is a table (`forward_outbox`) in an SQLite file in WAL mode, its own
file or the receiver's database (a second connection is fine in WAL mode).
`enqueue()` commits before it returns (synchronous=FULL) and is idempotent on
its dedupe key: a notification Alertmanager delivers twice forwards once, as
long as the first row is kept (sent and failed rows are pruned after
`retention_seconds`, 7 days by default).

`Deliverer` is one thread with a stop event. Each round it takes at most
`batch` due rows, oldest first, and POSTs each (urllib, `timeout` seconds per
socket operation, at most MAX_REPLY_BYTES of the reply read, redirects not
followed). Then:

- 2xx: the row is marked sent and never sent again, restarts included;
- connection error, timeout, 408, 429 or 5xx: the next attempt is at
  base × 2^(attempts-1), capped at `backoff_max`, times a jitter factor in
  [1 - jitter, 1 + jitter]; a Retry-After header (seconds or HTTP date) is
  honoured as given instead;
- any other status (3xx, 4xx), a destination no longer configured, or a next
  attempt that would fall after the row's deadline (created + max_age): the row
  is marked failed, logged and counted, and not sent again.

A restart resumes every pending row where it was. Delivery is at least once:
if the process dies after a destination accepted a message but before the row
was marked sent (one HTTP exchange), it is sent again after the restart;
nothing is lost, and nothing already marked sent is repeated.

`OutboxCollector` exposes the counters and the depth as hashwatch_webhook_*.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hashwatch.http import USER_AGENT, retry_after_seconds

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 64 * 1024  # a destination's reply is read up to this much, then dropped
RETRY_STATUSES = frozenset({408, 429})
PRUNE_EVERY_SECONDS = 600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forward_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    body BLOB NOT NULL,
    headers TEXT NOT NULL,
    created_at REAL NOT NULL,
    deadline REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT NOT NULL DEFAULT '',
    done_at REAL
);
CREATE INDEX IF NOT EXISTS forward_outbox_due ON forward_outbox (state, next_at);
"""


@dataclass(frozen=True)
class Row:
    """One pending message as read from the outbox."""

    id: int
    dedupe_key: str
    destination: str
    body: bytes
    headers: dict[str, str]
    deadline: float
    attempts: int


class Outbox:
    """The durable queue; safe to use from several threads (one connection, one lock)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self.forwarded: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def enqueue(
        self,
        destination: str,
        body: bytes,
        headers: Mapping[str, str],
        dedupe_key: str,
        max_age: float,
        now: float | None = None,
    ) -> bool:
        """Store a message to send; False (and nothing stored) if the dedupe key was seen."""
        now = self.clock() if now is None else now
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO forward_outbox"
                " (dedupe_key, destination, body, headers, created_at, deadline, next_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dedupe_key, destination, body, json.dumps(dict(headers)), now, now + max_age, now),
            )
            return cursor.rowcount == 1

    def due(self, limit: int, now: float | None = None) -> list[Row]:
        """Pending rows whose next attempt is due, oldest first."""
        now = self.clock() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT id, dedupe_key, destination, body, headers, deadline, attempts FROM forward_outbox"
                " WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [Row(r[0], r[1], r[2], bytes(r[3]), json.loads(r[4]), r[5], r[6]) for r in rows]

    def mark_sent(self, row: Row, now: float | None = None) -> None:
        self._finish(row, "sent", "", now)
        self.forwarded[row.destination] += 1

    def mark_failed(self, row: Row, error: str, now: float | None = None) -> None:
        self._finish(row, "failed", error, now)
        self.failed[row.destination] += 1

    def _finish(self, row: Row, state: str, error: str, now: float | None) -> None:
        now = self.clock() if now is None else now
        with self._lock:
            self._db.execute(
                "UPDATE forward_outbox SET state = ?, last_error = ?, done_at = ?, attempts = attempts + 1"
                " WHERE id = ? AND state = 'pending'",
                (state, error[:500], now, row.id),
            )

    def retry(self, row: Row, next_at: float, error: str) -> None:
        """Count a failed attempt and schedule the next one."""
        with self._lock:
            self._db.execute(
                "UPDATE forward_outbox SET attempts = attempts + 1, next_at = ?, last_error = ?"
                " WHERE id = ? AND state = 'pending'",
                (next_at, error[:500], row.id),
            )
        self.retries[row.destination] += 1

    def counts(self) -> dict[str, int]:
        """Rows by state: pending, sent, failed."""
        with self._lock:
            found = dict(self._db.execute("SELECT state, COUNT(*) FROM forward_outbox GROUP BY state").fetchall())
        return {state: found.get(state, 0) for state in ("pending", "sent", "failed")}

    def state_of(self, dedupe_key: str) -> tuple[str, int, float, str] | None:
        """(state, attempts, next_at, last_error) of one row, for tests and debugging."""
        with self._lock:
            return self._db.execute(
                "SELECT state, attempts, next_at, last_error FROM forward_outbox WHERE dedupe_key = ?", (dedupe_key,)
            ).fetchone()

    def prune(self, older_than: float, now: float | None = None) -> int:
        """Delete sent and failed rows finished more than `older_than` seconds ago."""
        now = self.clock() if now is None else now
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM forward_outbox WHERE state != 'pending' AND done_at < ?", (now - older_than,)
            )
            return cursor.rowcount


@dataclass(frozen=True)
class Target:
    """Where a destination's rows are sent."""

    url: str
    timeout: float


@dataclass(frozen=True)
class Outcome:
    """The result of one POST: a status, or None with an error for no HTTP answer."""

    status: int | None
    retry_after: float | None = None
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None  # a 3xx comes back as an HTTPError: a webhook that redirects is misconfigured


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Outcome:
    """POST once; every failure is an Outcome, never an exception."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_REPLY_BYTES)
            return Outcome(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return Outcome(exc.code, retry_after_seconds(exc.headers.get("Retry-After")), f"HTTP {exc.code}")
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(None, None, f"{type(reason).__name__}: {reason}"[:200])


class Deliverer:
    """One thread sending due outbox rows; `run_once()` is one round, for tests with a fake clock."""

    def __init__(
        self,
        outbox: Outbox,
        targets: Mapping[str, Target],
        *,
        backoff_base: float = 5.0,
        backoff_max: float = 900.0,
        jitter: float = 0.2,
        batch: int = 20,
        poll_interval: float = 1.0,
        retention_seconds: float = 7 * 86400.0,
        send: Callable[[str, bytes, Mapping[str, str], float], Outcome] = post,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ):
        self.outbox = outbox
        self.targets = dict(targets)
        self.backoff_base, self.backoff_max, self.jitter = backoff_base, backoff_max, jitter
        self.batch, self.poll_interval, self.retention = batch, poll_interval, retention_seconds
        self.send = send
        self.clock = clock or outbox.clock
        self.rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = float("-inf")

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones (1 for the first failure)."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(attempts - 1, 60))
        return delay * self.rng.uniform(1 - self.jitter, 1 + self.jitter)

    def run_once(self, now: float | None = None) -> int:
        """Send the rows due now (at most `batch`); how many were handled."""
        now = self.clock() if now is None else now
        rows = self.outbox.due(self.batch, now)
        for row in rows:
            if self._stop.is_set() and self._thread is not None:
                break
            self._deliver(row, now if self._thread is None else self.clock())
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            self.outbox.prune(self.retention, now)
        return len(rows)

    def _deliver(self, row: Row, now: float) -> None:
        target = self.targets.get(row.destination)
        if target is None:
            self._fail(row, "destination is no longer configured", now)
            return
        if now >= row.deadline:
            self._fail(row, "older than max_age", now)
            return
        outcome = self.send(target.url, row.body, row.headers, target.timeout)
        if outcome.status is not None and 200 <= outcome.status < 300:
            self.outbox.mark_sent(row, now)
            return
        error = outcome.error or f"HTTP {outcome.status}"
        retryable = outcome.status is None or outcome.status in RETRY_STATUSES or outcome.status >= 500
        if not retryable:
            self._fail(row, error, now)
            return
        attempts = row.attempts + 1
        delay = outcome.retry_after if outcome.retry_after is not None else self.backoff(attempts)
        if now + delay >= row.deadline:
            self._fail(row, f"{error}; giving up, next attempt would be past max_age", now)
            return
        log.info("forwarding to %s failed (%s), attempt %d; retrying in %.1fs", row.destination, error, attempts, delay)
        self.outbox.retry(row, now + delay, error)

    def _fail(self, row: Row, error: str, now: float) -> None:
        log.warning("forwarding to %s failed for good: %s", row.destination, error)
        self.outbox.mark_failed(row, error, now)

    def _loop(self) -> None:
        while not self._stop.is_set():
            handled = 0
            try:
                handled = self.run_once()
            except Exception:  # a bad row or a locked database must not end the thread
                log.exception("forwarding round failed")
            if handled < self.batch:
                self._stop.wait(self.poll_interval)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="hashwatch-forward", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the request in flight (each is bounded by its timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class OutboxCollector(Collector):
    """hashwatch_webhook_forwarded_total, _forward_failed_total, _forward_retries_total, _outbox_depth."""

    def __init__(self, outbox: Outbox, destinations: list[str] | None = None):
        self.outbox = outbox
        self.destinations = list(destinations or [])

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        names = sorted(set(self.destinations) | set(self.outbox.forwarded) | set(self.outbox.failed))
        for name, doc, counts in (
            ("hashwatch_webhook_forwarded", "Messages a destination accepted (2xx).", self.outbox.forwarded),
            ("hashwatch_webhook_forward_failed", "Messages given up on (max_age, 4xx, unknown destination).",
             self.outbox.failed),
            ("hashwatch_webhook_forward_retries", "Failed attempts that were rescheduled.", self.outbox.retries),
        ):
            family = CounterMetricFamily(name, doc, labels=["destination"])
            for destination in sorted(set(names) | set(self.outbox.retries)):
                family.add_metric([destination], float(counts.get(destination, 0)))
            yield family
        counts = self.outbox.counts()
        yield GaugeMetricFamily("hashwatch_webhook_outbox_depth", "Messages waiting to be sent.", counts["pending"])
        yield GaugeMetricFamily(
            "hashwatch_webhook_outbox_failed", "Failed messages still kept in the outbox.", counts["failed"]
        )
