"""HTTP side of the market exporter: /metrics from the poller's cache, and a landing page."""

from __future__ import annotations

import html

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest

from hashwatch import __version__
from hashwatch.polling import Poller
from hashwatch.web import PROMETHEUS_TEXT

from .config import MarketConfig
from .metrics import NetworkCollector, PriceCollector, SourceCollector
from .sources import Selection, market_jobs


class MarketExporter:
    def __init__(self, config: MarketConfig):
        self.config = config
        self.session: aiohttp.ClientSession | None = None
        self.poller: Poller | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)

    async def _start(self, _app: web.Application) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8))
        self.poller = Poller(market_jobs(self.session, self.config), self.config.max_backoff_seconds, "market")
        selection = Selection(self.poller, self.config)
        for collector in (PriceCollector(selection), NetworkCollector(selection), SourceCollector(self.poller)):
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
        prices = ", ".join(s.name for s in self.config.price_sources)
        networks = ", ".join(s.name for s in self.config.network_sources) + (", bitcoind" if self.config.bitcoind else "")
        page = f"""<!doctype html><html><head><title>hashwatch market exporter</title></head><body>
<h1>hashwatch market and network exporter</h1><p>version {html.escape(__version__)}</p>
<p>Price sources, in order: {html.escape(prices)}; currencies {html.escape(', '.join(self.config.currencies))}</p>
<p>Network sources: {html.escape(networks)}</p><p><a href="metrics">/metrics</a></p></body></html>"""
        return web.Response(text=page, content_type="text/html")

    def app(self) -> web.Application:
        application = web.Application()
        application.on_startup.append(self._start)
        application.on_cleanup.append(self._stop)
        application.add_routes([web.get("/", self.index), web.get("/metrics", self.metrics)])
        return application
