"""Running an aiohttp application on a Prometheus-style --web.listen-address."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .process import keep_large_buffers_returnable, raise_open_file_limit, tune_garbage_collector

log = logging.getLogger(__name__)

# The text format every hashwatch exporter writes. Pinned: prometheus_client's
# own CONTENT_TYPE_LATEST now announces 1.0.0, which older Prometheus servers reject.
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen_address(value: str) -> tuple[str, int]:
    """":9891" -> ("0.0.0.0", 9891); "127.0.0.1:9891"; "[::1]:9891"."""
    text = value.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"listen address {value!r} must be host:port or :port")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"listen address {value!r} has an invalid port")
    return host or "0.0.0.0", int(port)


async def serve(app: web.Application, listen: str) -> tuple[web.AppRunner, str]:
    """Start serving; returns the runner (for cleanup) and the base URL, port resolved."""
    host, port = parse_listen_address(listen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
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
