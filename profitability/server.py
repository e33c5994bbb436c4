"""HTTP side of the profitability exporter: inputs read from Prometheus in the background,
economics evaluated at scrape time (the electricity price depends on the hour), and the
ledger (hashwatch.ledger) fed the same snapshot the last scrape rendered (snapshot.py)."""

from __future__ import annotations

import html
from collections.abc import Iterable

import aiohttp
from prometheus_client.registry import Collector

from hashwatch.ledger import Ledger, LedgerCollector, Point
from hashwatch.polled_exporter import PolledExporter
from hashwatch.polling import Poller, PollJob

from .catalog import Catalog
from .config import ProfitabilityConfig
from .inputs import INPUTS_JOB, read_inputs
from .metrics import ProfitabilityCollector
from .prometheus import PrometheusReader
from .records import points_of


class ProfitabilityExporter(PolledExporter):
    name = "profitability"
    title = "hashwatch profitability exporter"
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
            found.append(LedgerCollector(self.ledger, prefix="hashwatch_profitability_ledger"))
        return found

    async def start(self) -> None:
        await super().start()
        if self.ledger is not None:
            self.ledger.start(snapshot=self.snapshot)

    async def stop(self) -> None:
        if self.ledger is not None:
            await self.ledger.stop()
        await super().stop()

    def snapshot(self) -> list[Point]:
        """Fleet and site economics for the ledger: the snapshot the last scrape rendered when it is of
        this inputs cycle (Snapshots.latest), else one taken now; nothing when the inputs are stale."""
        assert self.collector is not None
        snapshot = self.collector.snapshots.latest()
        return points_of(snapshot) if snapshot is not None else []

    def description(self) -> str:
        return (
            f"<p>Inputs from {html.escape(self.config.prometheus_url)}; amounts in "
            f"{html.escape(self.config.currency)}; pool fee {self.config.pool_fee:.2%}.</p>"
        )
