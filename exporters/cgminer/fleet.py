"""Fleet mode: many miners scraped concurrently and served on one /metrics.

For operators who would rather list miners (or point at Prometheus file_sd files
written by `hashwatch discover`) than write relabel configs for /probe.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from .client import ClientSettings, split_target
from .metrics import HEADERS, RESERVED_LABELS, MinerSample, Renderer
from .memory import MinerMemory
from .scrape import ScrapeResult, scrape

if TYPE_CHECKING:  # config pulls in pydantic, which fleet workers do not need
    from .config import FleetConfig
    from .workers import WorkerPool

log = logging.getLogger(__name__)


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class FleetTarget:
    target: str
    labels: tuple[tuple[str, str], ...] = ()


class FileSDError(ValueError):
    pass


def read_file_sd(path: str) -> list[FleetTarget]:
    """Targets of one Prometheus file_sd file (JSON or YAML list of {targets, labels})."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        groups = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise FileSDError(f"{path}: {exc}") from None
    if not isinstance(groups, list):
        raise FileSDError(f"{path}: expected a list of target groups")
    targets: list[FleetTarget] = []
    for number, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("targets"), list):
            raise FileSDError(f"{path}: group {number} has no 'targets' list")
        labels = group.get("labels") or {}
        if not isinstance(labels, dict):
            raise FileSDError(f"{path}: group {number} 'labels' is not a mapping")
        # Prometheus' internal labels (__address__, __meta_*) are not exported, and
        # names hashwatch uses itself (make, model, ...) come from the device.
        kept = tuple(
            sorted(
                (str(k), str(v))
                for k, v in labels.items()
                if not str(k).startswith("__") and str(k) not in RESERVED_LABELS and _LABEL_NAME.match(str(k))
            )
        )
        for target in group["targets"]:
            split_target(str(target))
            targets.append(FleetTarget(str(target), kept))
    return targets


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


def label_names_of(targets: list[FleetTarget]) -> list[str]:
    """Label names of a fleet's samples: miner, then every target label, sorted."""
    return ["miner", *sorted({name for t in targets for name, _ in t.labels})]


def sample_of(target: FleetTarget, label_names: list[str], result: ScrapeResult) -> MinerSample:
    labels = dict(target.labels)
    return MinerSample((target.target, *(labels.get(name, "") for name in label_names[1:])), result)


class FleetScraper:
    """Scrapes a list of targets concurrently and remembers each miner between scrapes.

    Runs in the exporter's process, or in each worker process on its shard.
    """

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
        self, targets: list[FleetTarget], label_names: list[str], timeout: float, keep_samples: bool = False
    ) -> FleetScrape:
        """Scrape and render; each miner is rendered as soon as its scrape ends, then let go."""
        renderer = Renderer(label_names)
        errors: list[str] = []
        samples: list[MinerSample] = []
        render_seconds = 0.0

        def on_result(target: FleetTarget, result: ScrapeResult) -> None:
            nonlocal render_seconds
            started = time.process_time()
            sample = sample_of(target, label_names, result)
            renderer.add(sample.label_values, result)
            render_seconds += time.process_time() - started
            if not result.up:
                errors.append(result.error_reason)
            if keep_samples:
                samples.append(sample)

        await self.scrape(targets, timeout, on_result)
        started = time.process_time()
        parts = renderer.parts()
        return FleetScrape(
            parts=parts,
            targets=len(targets),
            up=len(targets) - len(errors),
            errors=errors,
            render_seconds=render_seconds + time.process_time() - started,
            samples=samples if keep_samples else None,
        )


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
    ):
        self.config = config
        self.on_error = on_error  # told each failed miner's reason, once per scrape
        self.settings = settings
        self.default_port = default_port
        self.scraper = FleetScraper(settings, default_port, config.concurrency)
        self.pool: WorkerPool | None = None
        self._file_cache: dict[str, tuple[float, list[FleetTarget]]] = {}
        self._inflight: asyncio.Task | None = None

    @property
    def memory(self) -> dict[str, MinerMemory]:
        return self.scraper.memory

    @property
    def enabled(self) -> bool:
        return bool(self.config.miners or self.config.file_sd)

    def targets(self) -> list[FleetTarget]:
        """Configured miners plus file_sd targets, re-read when a file changes."""
        found: dict[str, FleetTarget] = {}
        for miner in self.config.miners:
            found[miner.target] = FleetTarget(miner.target, tuple(sorted(miner.labels.items())))
        for pattern in self.config.file_sd:
            for path in sorted(glob.glob(pattern)):
                for target in self._cached_file(path):
                    found.setdefault(target.target, target)
        return list(found.values())

    def _cached_file(self, path: str) -> list[FleetTarget]:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return []
        cached = self._file_cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            targets = read_file_sd(path)
        except FileSDError as exc:
            # Keep serving the last good version of the file rather than dropping miners.
            log.error("file_sd: %s", exc)
            return cached[1] if cached else []
        self._file_cache[path] = (mtime, targets)
        return targets

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
                from .workers import WorkerPool  # imported late: workers import this module

                self.pool = WorkerPool(self.config.workers, self.settings, self.default_port, self.config.concurrency)
            result = await self.pool.scrape(targets, label_names, timeout)
        else:
            result = await self.scraper.scrape_and_render(targets, label_names, timeout, keep_samples=True)
        if self.on_error is not None:
            # Here, not per /metrics request: concurrent requests share this scrape.
            for reason in result.errors:
                self.on_error(reason)
        return result

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
