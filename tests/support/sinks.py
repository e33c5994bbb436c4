"""Local stand-ins for Alertmanager's notification endpoints, recording what they receive.

HttpSink: an HTTP server (aiohttp, 127.0.0.1) that records every POSTed body; it plays
the hashwatch webhook receiver and Slack's incoming webhooks (Slack answers "ok").
SmtpSink: an SMTP server (aiosmtpd, 127.0.0.1) that records every message.
Both poll with bounded waits: wait_for(predicate, timeout) checks every 0.2 s.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from tests.support.servers import AppThread

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    path: str
    body: Any  # parsed JSON, or the raw text when it was not JSON


@dataclass(frozen=True)
class Mail:
    at: float
    sender: str
    recipients: list[str]
    subject: str
    text: str  # every text part (plain and HTML), decoded, HTML entities unescaped
    message: Any = field(repr=False)


class _Recorder:
    def __init__(self) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()

    def _add(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)

    @property
    def received(self) -> list[Any]:
        with self._lock:
            return list(self._items)

    def since(self, start: float) -> list[Any]:
        return [item for item in self.received if item.at >= start]

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float, what: str, since: float = 0.0) -> Any:
        """The first item (arrived at or after `since`) satisfying predicate; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for item in self.since(since):
                if predicate(item):
                    return item
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"{self.name}: no {what} within {timeout:.0f} s; received {len(self.since(since))}: "
                             f"{[self.describe(item) for item in self.since(since)][-10:]}")

    name = "sink"

    def describe(self, item: Any) -> str:
        return repr(item)[:300]


class HttpSink(_Recorder):
    """Records every POST (any path) as Received; answers 200 "ok" like Slack."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._server = AppThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._add(Received(time.monotonic(), request.path, body))
        return web.Response(text="ok")

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> "HttpSink":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def describe(self, item: Received) -> str:
        if isinstance(item.body, dict) and "alerts" in item.body:  # Alertmanager webhook payload
            names = sorted({a["labels"].get("alertname", "?") for a in item.body["alerts"]})
            return f"{item.path} {item.body.get('status')} {names} x{len(item.body['alerts'])}"
        return f"{item.path} {json.dumps(item.body)[:200]}"


class _SmtpHandler:
    def __init__(self, sink: "SmtpSink") -> None:
        self._sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts.append(html.unescape(part.get_content()))
        self._sink._add(
            Mail(
                at=time.monotonic(),
                sender=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                text="\n".join(parts),
                message=message,
            )
        )
        return "250 Message accepted"


class SmtpSink(_Recorder):
    """A plain SMTP server (no TLS, no AUTH) on 127.0.0.1 recording every message as Mail."""

    name = "smtp sink"

    def __init__(self) -> None:
        super().__init__()
        from aiosmtpd.controller import Controller

        from tests.support.processes import free_port

        self.port = free_port()
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10)

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def describe(self, item: Mail) -> str:
        return f"{item.subject!r} to {item.recipients}"
