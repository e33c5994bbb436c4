"""HTTP side of the market exporter: the polled service shell (hashwatch.polled_exporter) over price and network sources."""

from __future__ import annotations

import html
from collections.abc import Iterable

import aiohttp
from prometheus_client.registry import Collector

from hashwatch.polled_exporter import PolledExporter
from hashwatch.polling import Poller, PollJob

from .config import MarketConfig
from .metrics import NetworkCollector, PriceCollector, SourceCollector
from .sources import Selection, market_jobs


class MarketExporter(PolledExporter):
    name = "market"
    title = "hashwatch market and network exporter"
    max_connections = 8  # several public APIs, and maybe a node

    def __init__(self, config: MarketConfig):
        super().__init__()
        self.config = config
        self.max_backoff = config.max_backoff_seconds

    def jobs(self, session: aiohttp.ClientSession) -> list[PollJob]:
        return market_jobs(session, self.config)

    def collectors(self, poller: Poller) -> Iterable[Collector]:
        selection = Selection(poller, self.config)
        return [PriceCollector(selection), NetworkCollector(selection), SourceCollector(poller)]

    def description(self) -> str:
        prices = ", ".join(s.name for s in self.config.price_sources)
        networks = ", ".join(s.name for s in self.config.network_sources) + (", bitcoind" if self.config.bitcoind else "")
        return (
            f"<p>Price sources, in order: {html.escape(prices)}; currencies {html.escape(', '.join(self.config.currencies))}</p>"
            f"<p>Network sources, in order: {html.escape(networks)}</p>"
        )
