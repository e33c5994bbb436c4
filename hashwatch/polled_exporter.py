"""The HTTP side shared by exporters that poll remote APIs in the background.

On start: one aiohttp session, the exporter's poll jobs, its collectors on a
registry with the process metrics. /metrics renders the cache; nothing waits
on a remote service. A subclass says which jobs and collectors, and what its
landing page shows.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.registry import Collector

from . import __version__
from .polling import Poller, PollJob
from .web import PROMETHEUS_TEXT


class PolledExporter:
    title = "hashwatch exporter"
    max_connections = 4  # towards the remote services: polite bursts
    max_backoff = 1800.0
    label = "exporter"  # names the exporter in the poller's log lines

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.poller: Poller | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)

    def jobs(self, session: aiohttp.ClientSession) -> list[PollJob]:
        raise NotImplementedError

    def collectors(self, poller: Poller) -> Iterable[Collector]:
        raise NotImplementedError

    def description(self) -> str:
        """HTML for the landing page, below the title."""
        return ""

    async def _start(self, _app: web.Application) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.max_connections))
        self.poller = Poller(self.jobs(self.session), self.max_backoff, self.label)
        for collector in self.collectors(self.poller):
            self.registry.register(collector)
        self.poller.start()

    async def _stop(self, _app: web.Application) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.session is not None:
            await self.session.close()

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": PROMETHEUS_TEXT})

    async def index(self, request: web.Request) -> web.Response:
        page = f"""<!doctype html><html><head><title>{html.escape(self.title)}</title></head><body>
<h1>{html.escape(self.title)}</h1><p>version {html.escape(__version__)}</p>
{self.description()}<p><a href="metrics">/metrics</a></p></body></html>"""
        return web.Response(text=page, content_type="text/html")

    def app(self) -> web.Application:
        application = web.Application()
        application.on_startup.append(self._start)
        application.on_cleanup.append(self._stop)
        application.add_routes([web.get("/", self.index), web.get("/metrics", self.metrics)])
        return application
