"""HTTP side of the Ocean exporter: the polled service shell (hashwatch.polled_exporter) over Ocean's API."""

from __future__ import annotations

import html
from collections.abc import Iterable

import aiohttp
from prometheus_client.registry import Collector

from hashwatch.polled_exporter import PolledExporter
from hashwatch.polling import Poller, PollJob

from .client import OceanClient
from .config import OceanConfig
from .metrics import COLLECTORS
from .poller import ocean_jobs


class OceanExporter(PolledExporter):
    name = "ocean"
    title = "hashwatch Ocean.xyz exporter"

    def __init__(self, config: OceanConfig):
        super().__init__()
        self.config = config
        self.max_backoff = config.max_backoff_seconds

    def jobs(self, session: aiohttp.ClientSession) -> list[PollJob]:
        return ocean_jobs(OceanClient(session, self.config.api_url, self.config.timeout_seconds), self.config)

    def collectors(self, poller: Poller) -> Iterable[Collector]:
        return [collector(poller, self.config.addresses) for collector in COLLECTORS]

    def description(self) -> str:
        addresses = "".join(f"<li><code>{html.escape(a)}</code></li>" for a in self.config.addresses) or "<li>none configured</li>"
        return f"<p>Polling {html.escape(self.config.api_url)} for:</p><ul>{addresses}</ul>"
