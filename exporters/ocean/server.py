"""HTTP side of the Ocean exporter: /metrics from the poller's cache, and a landing page."""

from __future__ import annotations

import html

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest

from hashwatch import __version__
from hashwatch.polling import Poller
from hashwatch.web import PROMETHEUS_TEXT

from .client import OceanClient
from .config import OceanConfig
from .metrics import COLLECTORS
from .poller import ocean_poller


class OceanExporter:
    def __init__(self, config: OceanConfig):
        self.config = config
        self.session: aiohttp.ClientSession | None = None
        self.poller: Poller | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)

    async def _start(self, _app: web.Application) -> None:
        # Connection reuse towards one host; the limit keeps a burst of polls polite.
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4))
        self.poller = ocean_poller(OceanClient(self.session, self.config.api_url, self.config.timeout_seconds), self.config)
        for collector in COLLECTORS:
            self.registry.register(collector(self.poller, self.config.addresses))
        self.poller.start()

    async def _stop(self, _app: web.Application) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.session is not None:
            await self.session.close()

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": PROMETHEUS_TEXT})

    async def index(self, request: web.Request) -> web.Response:
        addresses = "".join(f"<li><code>{html.escape(a)}</code></li>" for a in self.config.addresses) or "<li>none configured</li>"
        page = f"""<!doctype html><html><head><title>hashwatch Ocean exporter</title></head><body>
<h1>hashwatch Ocean.xyz exporter</h1><p>version {html.escape(__version__)}; polling {html.escape(self.config.api_url)}</p>
<p>Payout addresses:</p><ul>{addresses}</ul><p><a href="metrics">/metrics</a></p></body></html>"""
        return web.Response(text=page, content_type="text/html")

    def app(self) -> web.Application:
        application = web.Application()
        application.on_startup.append(self._start)
        application.on_cleanup.append(self._stop)
        application.add_routes([web.get("/", self.index), web.get("/metrics", self.metrics)])
        return application
