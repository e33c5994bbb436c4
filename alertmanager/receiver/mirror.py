"""The optional mirror of alert events into the InfluxDB ledger (`webhook.ledger`), for Grafana annotations.

Each new event becomes one point of measurement `alert_events` (tags alertname,
severity, status, site, miner, instance; fields fingerprint, summary and, once
resolved, duration_seconds), stamped with the alert's own start (firing) or
end (resolved) time, so a re-sent point lands on the same timestamp. The
ledger's flush loop is asyncio; the receiver is a threaded WSGI service, so the
loop runs in a thread of its own. Points go to the ledger's disk spool when the
event arrives and reach InfluxDB whenever it is up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import Any

from hashwatch.ledger import Ledger, LedgerConfig, Point

MEASUREMENT = "alert_events"
_TAGS = ("alertname", "severity", "site", "miner", "instance")


def point_of(event: Any) -> Point:
    labels = dict(getattr(event, "labels", None) or {})
    resolved = event.status == "resolved" and getattr(event, "ends_at", None)
    duration = event.ends_at - event.starts_at if resolved else None
    return Point(
        MEASUREMENT,
        tags={**{tag: labels.get(tag) for tag in _TAGS}, "status": event.status},
        fields={
            "fingerprint": event.fingerprint,
            "summary": (getattr(event, "annotations", None) or {}).get("summary", ""),
            "duration_seconds": duration,
        },
        timestamp=float(event.ends_at if resolved else event.starts_at),
    )


class LedgerMirror:
    """A Ledger with its flush loop on a private event loop thread; record() from any thread."""

    def __init__(self, config: LedgerConfig):
        self.ledger = Ledger(config)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-mirror", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the ledger mirror's event loop did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._start)
        self._loop.run_forever()

    def _start(self) -> None:
        self.ledger.start()
        self._ready.set()

    def callback(self) -> Callable[[Iterable[Any]], None]:
        def mirror(events: Iterable[Any]) -> None:
            points = [point_of(e) for e in events if not getattr(e, "superseded", False)]
            if points:
                self.ledger.record(points)  # the disk spool, now; the flush loop sends it

        return mirror

    def close(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.ledger.stop(), self._loop)
        try:
            future.result(15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
