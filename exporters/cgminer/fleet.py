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
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from .client import ClientSettings, split_target
from .config import FleetConfig
from .metrics import RESERVED_LABELS, MinerSample
from .scrape import MinerMemory, ScrapeResult, scrape

log = logging.getLogger(__name__)


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
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


class Fleet:
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
        self.memory: dict[str, MinerMemory] = {}
        self._file_cache: dict[str, tuple[float, list[FleetTarget]]] = {}
        self._inflight: asyncio.Task | None = None

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

    async def collect(self, timeout: float) -> tuple[list[str], list[MinerSample]]:
        """Scrape every target once; concurrent /metrics requests share one scrape."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._collect(timeout))
        return await asyncio.shield(self._inflight)

    async def _collect(self, timeout: float) -> tuple[list[str], list[MinerSample]]:
        targets = self.targets()
        label_names = sorted({name for t in targets for name, _ in t.labels})
        semaphore = asyncio.Semaphore(self.config.concurrency)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        async def one(target: FleetTarget) -> ScrapeResult:
            async with semaphore:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return ScrapeResult(None, "timeout", "fleet scrape deadline passed before this miner's turn")
                host, port = split_target(target.target, self.default_port)
                memory = self.memory.setdefault(target.target, MinerMemory())
                return await scrape(host, port, memory, self.settings, remaining)

        results = await asyncio.gather(*(one(t) for t in targets))
        if self.on_error is not None:
            # Here, not per /metrics request: concurrent requests share this scrape.
            for result in results:
                if not result.up:
                    self.on_error(result.error_reason)
        samples = []
        for target, result in zip(targets, results):
            labels = dict(target.labels)
            values = (target.target, *(labels.get(name, "") for name in label_names))
            samples.append(MinerSample(values, result))
        live = {t.target for t in targets}
        for gone in set(self.memory) - live:
            del self.memory[gone]
        return ["miner", *label_names], samples
