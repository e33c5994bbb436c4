"""Serving the receiver with waitress, a production WSGI server (threads, no C extension, no fork).

`build(config)` reads the secrets, opens the database and returns the
Receiver and its Flask app; `make_server()` binds the socket (port 0 picks a
free one, as tests do) and `serve()` runs until Ctrl-C or SIGTERM. waitress's
own body limit is set to the same max_body_bytes as Flask's, so an oversized
body is refused before it is buffered.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from hashwatch.ledger import LedgerCollector
from hashwatch.web import parse_listen_address

from .app import Receiver, create_app
from .config import WebhookConfig
from .forward import forwarder
from .mirror import LedgerMirror
from .outbox import Deliverer, Outbox, OutboxCollector
from .remediation import RemediationCollector, Remediator, remediator_callback

log = logging.getLogger("hashwatch.webhook")

THREADS = 8


def build(config: WebhookConfig, listen: str | None = None) -> tuple[Receiver, Flask]:
    """The receiver with its database open and its app; ConfigError for a missing secret."""
    credentials = config.credentials()
    if credentials is None:
        log.warning("webhook.auth is not set: anyone who can reach %s may post alerts", listen or config.listen)
    receiver = Receiver(config, credentials)
    receiver.open()
    _plug_in(receiver, config)
    return receiver, create_app(receiver)


def _plug_in(receiver: Receiver, config: WebhookConfig) -> None:
    """Forwarding and remediation, when configured: callbacks on new events, their metrics, their shutdown."""
    forward = config.forward
    if forward.destinations:
        outbox = Outbox(forward.outbox_path)
        deliverer = Deliverer(
            outbox, forward.targets(), backoff_base=forward.backoff_base_seconds, backoff_max=forward.backoff_max_seconds,
            jitter=forward.jitter, batch=forward.batch, retention_seconds=forward.retention_days * 86400,
        )
        receiver.on_new_events(forwarder(forward, outbox))
        receiver.registry.register(OutboxCollector(outbox, [d.name for d in forward.destinations]))
        deliverer.start()
        receiver.closers += [outbox.close, deliverer.stop]  # closed in reverse: the deliverer stops first
    if config.ledger is not None:
        mirror = LedgerMirror(config.ledger)
        receiver.on_new_events(mirror.callback())
        receiver.registry.register(LedgerCollector(mirror.ledger, prefix="hashwatch_webhook_ledger"))
        receiver.closers.append(mirror.close)
    if config.remediation.enabled:
        remediator = Remediator(config.remediation, config.db_path)
        receiver.registry.register(RemediationCollector(remediator))
        receiver.on_new_events(remediator_callback(remediator))
        receiver.closers.append(remediator.close)


def make_server(app: Flask, config: WebhookConfig, listen: str | None = None) -> Any:
    """A bound waitress server (call .run(); .close() to stop); its address is server.effective_host/port."""
    host, port = parse_listen_address(listen or config.listen)
    return create_server(
        app, host=host, port=port, threads=THREADS, ident="hashwatch-webhook",
        max_request_body_size=config.max_body_bytes, channel_timeout=30, clear_untrusted_proxy_headers=True,
    )


def stop(server: Any) -> None:
    """Make a running server's run() return: every socket closed from inside its loop, open
    keep-alive connections too (closing only the listener leaves run() waiting on them)."""
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))


def _exit(*_: object) -> None:
    raise SystemExit(0)  # SIGTERM: leave run() through the finally below


def serve(config: WebhookConfig, listen: str | None = None) -> None:
    """Run the receiver until interrupted; the database is closed on the way out."""
    receiver, app = build(config, listen)
    server = make_server(app, config, listen)
    signal.signal(signal.SIGTERM, _exit)
    print(f"serving on http://{server.effective_host}:{server.effective_port}/", flush=True)  # as every service does
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        receiver.close()
