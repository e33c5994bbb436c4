"""HTTP side of the profitability exporter: inputs read from Prometheus in the background,
economics evaluated at scrape time (the electricity price depends on the hour)."""

from __future__ import annotations

import html
from collections.abc import Iterable

import aiohttp
from prometheus_client.registry import Collector

from hashwatch.polled_exporter import PolledExporter
from hashwatch.polling import Poller, PollJob

from .catalog import Catalog
from .config import ProfitabilityConfig
from .inputs import read_inputs
from .ledger import Ledger, LedgerCollector, Point
from .metrics import INPUTS_JOB, ProfitabilityCollector, snapshot_points
from .prometheus import PrometheusReader


class ProfitabilityExporter(PolledExporter):
    title = "hashwatch profitability exporter"
    label = "profitability"
    max_backoff = 600.0

    def __init__(self, config: ProfitabilityConfig, catalog: Catalog | None):
        super().__init__()
        self.config = config
        self.catalog = catalog
        self.ledger: Ledger | None = None
        self.collector: ProfitabilityCollector | None = None

    def jobs(self, session: aiohttp.ClientSession) -> list[PollJob]:
        reader = PrometheusReader(session, self.config.prometheus_url, self.config.query_timeout_seconds)

        async def fetch():
            return await read_inputs(reader, self.config.site_label)

        return [PollJob(INPUTS_JOB, "", self.config.interval_seconds, fetch)]

    def collectors(self, poller: Poller) -> Iterable[Collector]:
        self.collector = ProfitabilityCollector(poller, self.config, self.catalog)
        found: list[Collector] = [self.collector]
        if self.config.ledger is not None:
            self.ledger = Ledger(self.config.ledger)
            found.append(LedgerCollector(self.ledger))
        return found

    async def _start(self, app) -> None:
        await super()._start(app)
        if self.ledger is not None:
            self.ledger.start(snapshot=self.snapshot)

    async def _stop(self, app) -> None:
        if self.ledger is not None:
            await self.ledger.stop()
        await super()._stop(app)

    def snapshot(self) -> list[Point]:
        """Fleet and site economics now, for the ledger; nothing when the inputs are stale."""
        assert self.collector is not None
        current = self.collector.current()
        return snapshot_points(current, self.config.currency) if current is not None else []

    def description(self) -> str:
        return (
            f"<p>Inputs from {html.escape(self.config.prometheus_url)}; amounts in "
            f"{html.escape(self.config.currency)}; pool fee {self.config.pool_fee:.2%}.</p>"
        )
