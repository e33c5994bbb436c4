"""Running an aiohttp application on a Prometheus-style --web.listen-address."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)


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


async def serve(app: web.Application, listen: str, on_ready: Callable[[str], Awaitable[None] | None] | None = None) -> web.AppRunner:
    host, port = parse_listen_address(listen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = runner.addresses[0] if runner.addresses else (host, port)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{bound[1]}/"
    log.info("listening on %s", url)
    if on_ready is not None:
        maybe = on_ready(url)
        if asyncio.iscoroutine(maybe):
            await maybe
    return runner


async def run_forever(app: web.Application, listen: str, duration: float | None = None) -> None:
    runner = await serve(app, listen, lambda url: print(f"serving on {url}", flush=True))
    try:
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)
    finally:
        await runner.cleanup()
