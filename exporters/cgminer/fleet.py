"""Fleet mode: many miners scraped concurrently and served on one /metrics.

For operators who would rather list miners (or point at Prometheus file_sd files
written by `hashwatch discover`) than write relabel configs for /probe. `Fleet`
is the facade the HTTP server uses: it reads the targets (`targets.py`) and
scrapes them in its own event loop (`fleet_scrape.py`, `workers: 1`) or sharded
over worker processes (`workers.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .client import ClientSettings
from .fleet_scrape import FleetScrape, FleetScraper
from .memory import MinerMemory
from .targets import FleetTarget, FleetTargets, label_names_of
from .workers import WorkerPool

if TYPE_CHECKING:  # config pulls in pydantic, which fleet workers do not need
    from .config import FleetConfig


class Fleet:
    """The configured fleet: its targets (static and file_sd) and how they are scraped.

    With `workers: 1` everything runs in the exporter's event loop; with more,
    targets are sharded over worker processes (one Python process uses one core).
    """

    def __init__(
        self,
        config: FleetConfig,
        settings: ClientSettings,
        default_port: int,
        on_error: Callable[[str], None] | None = None,
        keep_samples: bool = False,
    ):
        self.config = config
        # Each miner's parsed result, kept beside the text (in-process only): for
        # tests and tools. Off in the exporter, whose memory holds the text alone.
        self.keep_samples = keep_samples
        self.on_error = on_error  # told each failed miner's reason, once per scrape
        self.settings = settings
        self.default_port = default_port
        self.target_source = FleetTargets(config)
        self.scraper = FleetScraper(settings, default_port, config.concurrency)
        self.pool: WorkerPool | None = None
        self._inflight: asyncio.Task | None = None

    @property
    def memory(self) -> dict[str, MinerMemory]:
        return self.scraper.memory

    @property
    def enabled(self) -> bool:
        return bool(self.config.miners or self.config.file_sd)

    def targets(self) -> list[FleetTarget]:
        """Configured miners plus file_sd targets, re-read when a file changes."""
        return self.target_source.read()

    async def collect(self, timeout: float) -> FleetScrape:
        """Scrape every target once; concurrent /metrics requests share one scrape."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._collect(timeout))
            # Let go of the result once served: it holds the whole exposition.
            self._inflight.add_done_callback(self._forget)
        return await asyncio.shield(self._inflight)

    def _forget(self, task: asyncio.Task) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _collect(self, timeout: float) -> FleetScrape:
        targets = self.targets()
        label_names = label_names_of(targets)
        if self.config.workers > 1:
            if self.pool is None:
                self.pool = WorkerPool(self.config.workers, self.settings, self.default_port, self.config.concurrency)
            result = await self.pool.scrape(targets, label_names, timeout)
        else:
            result = await self.scraper.scrape_and_render(targets, label_names, timeout, keep_samples=self.keep_samples)
        if self.on_error is not None:
            # Here, not per /metrics request: concurrent requests share this scrape.
            for reason in result.errors:
                self.on_error(reason)
        return result

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
