"""The webhook receiver's Flask application: POST /alerts, the history API, a page, /metrics, health.

POST /alerts, in order: authentication (401), size (413, Flask's
MAX_CONTENT_LENGTH), validation (400 with the reason), the events committed to
SQLite (500 if that fails: Alertmanager retries), then 200. The events that
were new are then handed to the `on_new_events` callbacks on a background
thread, in delivery order: after the commit, never before, and never holding
up the answer. A callback that raises is logged and counted
(hashwatch_webhook_callback_errors_total); the request is not affected.
Callbacks run at most once per event: a crash after the commit and before the
callback loses that call, not the event.

The shell follows hashwatch/service.py's conventions (the same paths and
hashwatch_build_info{service="webhook"}), in Flask instead of aiohttp: this
service is synchronous, served by waitress (server.py).
"""

from __future__ import annotations

import hmac
import html
import logging
import queue
import threading
import time
from base64 import b64decode
from collections.abc import Callable
from datetime import datetime, timezone

from flask import Flask, Response, jsonify, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from hashwatch import __version__
from hashwatch.web import PROMETHEUS_TEXT

from .config import Credentials, WebhookConfig
from .payload import PayloadError, parse, parse_time
from .store import FILTERS, Event, EventStore, events_of

log = logging.getLogger("hashwatch.webhook")

# As hashwatch/service.py: `*_created` series double the output and no dashboard uses them.
disable_created_metrics()

NewEventsCallback = Callable[[list[Event]], None]
RESULTS = ("stored", "duplicate", "unauthorized", "too_large", "invalid", "error")
TITLE = "hashwatch webhook receiver"


class Receiver:
    """The receiver's state: config, credentials, the store once open, metrics and callbacks."""

    def __init__(self, config: WebhookConfig, credentials: Credentials | None = None):
        self.config = config
        self.credentials = credentials
        self.store: EventStore | None = None
        self._callbacks: list[NewEventsCallback] = []
        self._queue: queue.Queue[list[Event] | threading.Event | None] = queue.Queue()
        self._dispatcher = threading.Thread(target=self._dispatch, name="webhook-callbacks", daemon=True)
        self._dispatcher.start()
        self.registry = CollectorRegistry(auto_describe=False)
        self.closers: list[Callable[[], None]] = []  # run by close(), after the last callback
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        Gauge("hashwatch_build_info", "hashwatch version, by service.", ["service", "version"],
              registry=r).labels("webhook", __version__).set(1)
        self.received = Counter("hashwatch_webhook_notifications_received_total",
                                "Alertmanager notifications received, by result.", ["result"], registry=r)
        for result in RESULTS:
            self.received.labels(result)
        self.stored = Counter("hashwatch_webhook_events_stored_total",
                              "New alert events stored, by alert status.", ["status"], registry=r)
        for status in ("firing", "resolved"):
            self.stored.labels(status)
        self.duplicates = Counter("hashwatch_webhook_duplicates_total",
                                  "Alert events received again and not stored twice.", registry=r)
        self.callback_errors = Counter("hashwatch_webhook_callback_errors_total",
                                       "on_new_events callbacks that raised.", registry=r)
        self.duration = Histogram("hashwatch_webhook_request_duration_seconds",
                                  "Time to answer POST /alerts.", registry=r,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))

    # --- lifecycle --------------------------------------------------------------------

    def open(self) -> None:
        """Open (create) the database; /-/ready answers 200 from now on."""
        self.store = EventStore(self.config.db_path, self.config.retention_days)

    def close(self, timeout: float = 10) -> None:
        self._queue.put(None)
        self._dispatcher.join(timeout)
        for closer in reversed(self.closers):  # forwarding, remediation: after their last callback
            closer()
        self.closers = []
        if self.store is not None:
            self.store.close()
            self.store = None

    # --- hook points ------------------------------------------------------------------

    def on_new_events(self, callback: NewEventsCallback) -> NewEventsCallback:
        """Register callback(events): called with each delivery's new events, after they are committed."""
        self._callbacks.append(callback)
        return callback

    def drain(self, timeout: float = 10) -> bool:
        """Wait until every callback call queued so far has run (for tests and shutdown)."""
        marker = threading.Event()
        self._queue.put(marker)
        return marker.wait(timeout)

    def _dispatch(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            for callback in list(self._callbacks):
                try:
                    callback(item)
                except Exception:
                    self.callback_errors.inc()
                    log.exception("on_new_events callback %r failed", getattr(callback, "__name__", callback))

    # --- the POST ---------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        creds = self.credentials
        if creds is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if creds.bearer_token is not None:
            return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), creds.bearer_token.encode())
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        # both compared, always: no early exit telling which one was wrong
        user_ok = hmac.compare_digest(user.encode(), (creds.username or "").encode())
        password_ok = hmac.compare_digest(password.encode(), (creds.password or "").encode())
        return user_ok and password_ok

    def receive(self, body: bytes) -> list[Event]:
        """Validate and store one notification; the new events (PayloadError when invalid)."""
        notification = parse(body)
        if self.store is None:
            raise RuntimeError("the event store is not open")
        events = events_of(notification, time.time())
        new = self.store.store(events)
        for event in new:
            self.stored.labels(event.status).inc()
        if len(events) > len(new):
            self.duplicates.inc(len(events) - len(new))
        if notification.truncated_alerts:
            log.warning("notification for %s left out %d alerts (max_alerts in Alertmanager)",
                        notification.group_key or notification.receiver, notification.truncated_alerts)
        if new and self._callbacks:
            self._queue.put(new)
        return new


def _error(status: int, reason: str, **headers: str) -> Response:
    response = jsonify({"status": "error", "error": reason})
    response.status_code = status
    response.headers.update(headers)
    return response


def _time_arg(name: str) -> float | None:
    text = request.args.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        pass
    moment = parse_time(text)  # ValueError: answered 400
    return None if moment is None else moment.timestamp()


def _query() -> tuple[float | None, float | None, dict[str, str | None]]:
    filters = {name: request.args.get(name) or None for name in FILTERS}
    return _time_arg("since"), _time_arg("until"), filters


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _page(receiver: Receiver) -> str:
    rows = []
    events = receiver.store.events(limit=50) if receiver.store is not None else []
    for event in events:
        cells = (_iso(event.starts_at), event.status, event.alertname, event.labels.get("severity", ""),
                 event.labels.get("site", ""), event.labels.get("miner", ""),
                 "" if event.duration_seconds is None else f"{event.duration_seconds:.0f} s",
                 event.annotations.get("summary", ""))
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>")
    links = [("metrics", "own metrics"), ("-/healthy", "200 while the process serves"),
             ("-/ready", "200 once the database is open"), ("api/v1/events", "event history, JSON"),
             ("api/v1/summary", "counts and mean time to resolve per alert, JSON")]
    items = "".join(f'<li><a href="{html.escape(p)}">/{html.escape(p)}</a>: {html.escape(w)}</li>' for p, w in links)
    head = "".join(f"<th>{h}</th>" for h in ("started (UTC)", "status", "alert", "severity", "site", "miner",
                                              "duration", "summary"))
    return f"""<!doctype html><html><head><title>{TITLE}</title></head><body>
<h1>{TITLE}</h1><p>version {html.escape(__version__)}. Alertmanager posts to <code>/alerts</code>.</p>
<ul>{items}</ul>
<h2>Recent alert events</h2>
<table border="1" cellpadding="3"><tr>{head}</tr>{''.join(rows) or '<tr><td colspan="8">none yet</td></tr>'}</table>
</body></html>"""


def create_app(receiver: Receiver) -> Flask:
    """The Flask application serving `receiver`."""
    app = Flask("hashwatch.webhook")
    app.config["MAX_CONTENT_LENGTH"] = receiver.config.max_body_bytes
    app.extensions["hashwatch_receiver"] = receiver

    @app.post("/alerts")
    def alerts() -> Response:
        started = time.perf_counter()
        try:
            if not receiver.authorized(request.headers.get("Authorization")):
                receiver.received.labels("unauthorized").inc()
                scheme = "Basic" if receiver.credentials and receiver.credentials.username else "Bearer"
                return _error(401, "unauthorized", **{"WWW-Authenticate": f'{scheme} realm="hashwatch webhook"'})
            length = request.content_length
            if length is not None and length > receiver.config.max_body_bytes:
                receiver.received.labels("too_large").inc()
                return _error(413, f"body over {receiver.config.max_body_bytes} bytes")
            try:
                body = request.get_data(cache=False)
            except Exception as exc:  # werkzeug's RequestEntityTooLarge for a chunked body
                if getattr(exc, "code", None) == 413:
                    receiver.received.labels("too_large").inc()
                    return _error(413, f"body over {receiver.config.max_body_bytes} bytes")
                raise
            try:
                new = receiver.receive(body)
            except PayloadError as exc:
                receiver.received.labels("invalid").inc()
                return _error(400, str(exc))
            except Exception:
                receiver.received.labels("error").inc()
                log.exception("cannot store a notification")
                return _error(500, "cannot store the notification")
            receiver.received.labels("stored" if new else "duplicate").inc()
            return jsonify({"status": "ok", "new_events": len(new)})
        finally:
            receiver.duration.observe(time.perf_counter() - started)

    @app.get("/api/v1/events")
    def events() -> Response:
        if receiver.store is None:
            return _error(503, "the event store is not open")
        try:
            since, until, filters = _query()
            limit = int(request.args.get("limit", "100"))
        except ValueError as exc:
            return _error(400, str(exc))
        found = receiver.store.events(since, until, limit, **filters)
        return jsonify({"status": "ok", "events": [event.as_dict() for event in found]})

    @app.get("/api/v1/summary")
    def summary() -> Response:
        if receiver.store is None:
            return _error(503, "the event store is not open")
        try:
            since, until, filters = _query()
        except ValueError as exc:
            return _error(400, str(exc))
        return jsonify({"status": "ok", "alerts": receiver.store.summary(since, until, **filters)})

    @app.get("/")
    def index() -> Response:
        return Response(_page(receiver), content_type="text/html; charset=utf-8")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(receiver.registry), content_type=PROMETHEUS_TEXT)

    @app.get("/-/healthy")
    def healthy() -> Response:
        return Response(f"{TITLE} is healthy.\n", content_type="text/plain")

    @app.get("/-/ready")
    def ready() -> Response:
        if receiver.store is None:
            return Response(f"{TITLE} is not ready.\n", status=503, content_type="text/plain")
        return Response(f"{TITLE} is ready.\n", content_type="text/plain")

    return app
