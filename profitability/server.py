"""HTTP side of the profitability exporter: inputs read from Prometheus in the background,
economics evaluated at scrape time (the electricity price depends on the hour)."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable

import aiohttp
from prometheus_client.registry import Collector

from hashwatch.polled_exporter import PolledExporter
from hashwatch.polling import Poller, PollJob

from .config import ProfitabilityConfig
from .inputs import read_inputs
from .metrics import INPUTS_JOB, ProfitabilityCollector
from .prometheus import PrometheusReader


class ProfitabilityExporter(PolledExporter):
    title = "hashwatch profitability exporter"
    label = "profitability"
    max_backoff = 600.0

    def __init__(self, config: ProfitabilityConfig, nominal_watts: Callable[[str, str], float | None]):
        super().__init__()
        self.config = config
        self.nominal_watts = nominal_watts

    def jobs(self, session: aiohttp.ClientSession) -> list[PollJob]:
        reader = PrometheusReader(session, self.config.prometheus_url, self.config.query_timeout_seconds)

        async def fetch():
            return await read_inputs(reader, self.config.site_label)

        return [PollJob(INPUTS_JOB, "", self.config.interval_seconds, fetch)]

    def collectors(self, poller: Poller) -> Iterable[Collector]:
        return [ProfitabilityCollector(poller, self.config, self.nominal_watts)]

    def description(self) -> str:
        return (
            f"<p>Inputs from {html.escape(self.config.prometheus_url)}; amounts in "
            f"{html.escape(self.config.currency)}; pool fee {self.config.pool_fee:.2%}.</p>"
        )
