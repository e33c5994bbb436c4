"""Running an aiohttp application on a Prometheus-style --web.listen-address.

Every exporter's HTTP side starts through serve(), which bounds what clients
can hold (see hashwatch.webguard for how), each a keyword parameter:

- header_timeout (HEADER_TIMEOUT, 10 s): a connection that has not sent a
  complete request line and headers this long after connecting, or after the
  first byte of a later request, is closed (silent and slowloris clients).
- keepalive_timeout (KEEPALIVE_TIMEOUT, 75 s): an idle keep-alive connection
  is closed after this long. Longer than Prometheus's default 1-minute scrape
  interval, so Prometheus keeps reusing its connection; with longer intervals
  it simply reconnects for each scrape.
- max_connections (MAX_CONNECTIONS, 1024, and at most half the open-file
  limit): beyond it, the connection waiting longest for a request is closed
  to make room (never one with a request in progress), so a scrape still
  gets through a flood of idle sockets.

Malformed requests are logged as one line each, peer and reason, at most ten a
minute (webguard.ServerLog); application errors keep their tracebacks.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .process import keep_large_buffers_returnable, raise_open_file_limit, tune_garbage_collector
from .webguard import GuardedSite, ServerLog, affordable_connections, track_requests

log = logging.getLogger(__name__)

# The text format every hashwatch exporter writes. Pinned: prometheus_client's
# own CONTENT_TYPE_LATEST now announces 1.0.0, which older Prometheus servers reject.
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

HEADER_TIMEOUT = 10.0
KEEPALIVE_TIMEOUT = 75.0  # above Prometheus's default scrape interval (1 min), like nginx's default
MAX_CONNECTIONS = 1024


def parse_listen_address(value: str) -> tuple[str, int]:
    """":9891" -> ("0.0.0.0", 9891); "127.0.0.1:9891"; "[::1]:9891"."""
    text = value.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"listen address {value!r} must be [IPv6 address]:port")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"listen address {value!r} must be host:port or :port")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(f"listen address {value!r}: the port must be 0 to 65535, got {port!r}")
    return host or "0.0.0.0", int(port)


async def serve(
    app: web.Application,
    listen: str,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> tuple[web.AppRunner, str]:
    """Start serving; returns the runner (for cleanup) and the base URL, port resolved.

    The limits are described in this module's docstring. Adds webguard.track_requests
    (which tells the connection guard when a request is in progress) to `app`'s middlewares.
    """
    host, port = parse_listen_address(listen)
    if track_requests not in app.middlewares:
        app.middlewares.insert(0, track_requests)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive_timeout, logger=ServerLog())
    await runner.setup()
    site = GuardedSite(
        runner, host, port, header_timeout=header_timeout, max_connections=affordable_connections(max_connections)
    )
    await site.start()
    bound = runner.addresses[0] if runner.addresses else (host, port)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{bound[1]}/"
    log.info("listening on %s", url)
    return runner, url


async def wait_until_stopped(duration: float | None) -> None:
    """Block until cancelled (Ctrl-C), or for `duration` seconds when given (tests, demos)."""
    if duration is None:
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(duration)


async def run_forever(app: web.Application, listen: str, duration: float | None = None) -> None:
    runner, url = await serve(app, listen)
    print(f"serving on {url}", flush=True)
    try:
        await wait_until_stopped(duration)
    finally:
        await runner.cleanup()


def run(main) -> None:
    """asyncio.run on uvloop where installed: about 1.5x the connections per CPU second."""
    raise_open_file_limit()
    keep_large_buffers_returnable()
    tune_garbage_collector()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
