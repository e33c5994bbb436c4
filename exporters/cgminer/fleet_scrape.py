"""One scrape of a list of fleet targets in one process, rendered as results arrive.

`FleetScraper` runs in the exporter's process (`workers: 1`) or in each worker
process on its shard (`workers.py`). `fleet.concurrency` lanes each take the
next miner when they finish one, and each miner's result goes straight into
`ShardRenderer`, so its model is garbage as soon as it is rendered. The outcome
is a `FleetScrape`: every family's sample lines as bytes, in `metrics.HEADERS`
order, plus the counts /metrics reports about the scrape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .client import ClientSettings, split_target
from .memory import MinerMemory
from .metrics import HEADERS, MinerSample, Renderer
from .scrape import ScrapeResult, scrape
from .targets import FleetTarget, label_values_of


@dataclass
class FleetScrape:
    """One fleet scrape, rendered: what /metrics serves and reports about it."""

    parts: list[list[bytes]]  # per family (metrics.HEADERS order), its sample lines from each shard
    targets: int
    up: int
    errors: list[str]  # the reason of every failed miner
    render_seconds: float  # CPU spent turning results into text (summed over shards)
    samples: list[MinerSample] | None = None  # kept in-process only, for tests and tools

    def chunks(self) -> Iterator[bytes]:
        """The exposition in pieces, written one by one rather than joined (50 MB at 10k miners)."""
        for header, parts in zip(HEADERS, self.parts):
            yield header
            yield from parts

    def exposition(self) -> bytes:
        return b"".join(self.chunks())

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks())

    @classmethod
    def merge(cls, shards: list[FleetScrape]) -> FleetScrape:
        if len(shards) == 1:
            return shards[0]
        return cls(
            parts=[[part for shard in shards for part in shard.parts[index]] for index in range(len(HEADERS))],
            targets=sum(s.targets for s in shards),
            up=sum(s.up for s in shards),
            errors=[reason for s in shards for reason in s.errors],
            render_seconds=sum(s.render_seconds for s in shards),
        )


class ShardRenderer:
    """Targets' scrape results -> a FleetScrape, one miner at a time, each let go once rendered."""

    def __init__(self, label_names: Sequence[str], keep_samples: bool = False):
        self.label_names = label_names
        self.renderer = Renderer(label_names)
        self.targets = 0
        self.errors: list[str] = []
        self.render_seconds = 0.0
        self.samples: list[MinerSample] | None = [] if keep_samples else None

    def add(self, target: FleetTarget, result: ScrapeResult) -> None:
        started = time.process_time()
        label_values = label_values_of(target, self.label_names)
        self.renderer.add(label_values, result)
        self.render_seconds += time.process_time() - started
        self.targets += 1
        if not result.up:
            self.errors.append(result.error_reason)
        if self.samples is not None:
            self.samples.append(MinerSample(label_values, result))

    def finish(self) -> FleetScrape:
        started = time.process_time()
        parts = self.renderer.parts()
        return FleetScrape(
            parts=parts,
            targets=self.targets,
            up=self.targets - len(self.errors),
            errors=self.errors,
            render_seconds=self.render_seconds + time.process_time() - started,
            samples=self.samples,
        )


class FleetScraper:
    """Scrapes a list of targets concurrently and remembers each miner between scrapes."""

    def __init__(self, settings: ClientSettings, default_port: int, concurrency: int):
        self.settings = settings
        self.default_port = default_port
        self.concurrency = concurrency
        self.memory: dict[str, MinerMemory] = {}

    async def scrape(
        self, targets: list[FleetTarget], timeout: float, on_result: Callable[[FleetTarget, ScrapeResult], None]
    ) -> None:
        """Scrape every target once, handing each result to `on_result` as it comes in."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        queue = iter(targets)

        async def lane() -> None:
            # `concurrency` lanes take the next miner as they finish one: a few
            # hundred tasks for the whole fleet rather than one per miner.
            for target in queue:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    result = ScrapeResult(None, "timeout", "fleet scrape deadline passed before this miner's turn")
                else:
                    host, port = split_target(target.target, self.default_port)
                    memory = self.memory.setdefault(target.target, MinerMemory())
                    result = await scrape(host, port, memory, self.settings, remaining)
                on_result(target, result)

        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, len(targets)))))
        live = {t.target for t in targets}
        for gone in set(self.memory) - live:
            del self.memory[gone]

    async def scrape_and_render(
        self, targets: list[FleetTarget], label_names: Sequence[str], timeout: float, keep_samples: bool = False
    ) -> FleetScrape:
        """Scrape and render; each miner is rendered as soon as its scrape ends, then let go."""
        shard = ShardRenderer(label_names, keep_samples)
        await self.scrape(targets, timeout, shard.add)
        return shard.finish()
