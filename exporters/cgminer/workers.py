"""Fleet shards in worker processes (`fleet.workers`), each running `fleet_scrape.FleetScraper`.

One Python process scrapes and renders on one core; a farm of 10,000 miners
needs more. Each target belongs to one worker, chosen by a stable hash of its
address, so the worker keeps that miner's memory (firmware, multi-command
support, cached identity) from scrape to scrape. Workers render their shard's
sample lines and stream them back family by family; the exporter only writes
the pieces out in order.

A worker is a plain `python -m exporters.cgminer.workers` subprocess speaking
length-prefixed frames over its stdin and stdout: it imports only what scraping
needs, and the exporter reads it with asyncio, without threads. One that dies or
overruns is replaced, and its shard's miners are reported down with reason
`worker_error` for that scrape rather than silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import pickle
import signal
import struct
import sys
import zlib
from typing import Any, BinaryIO

from hashwatch.process import keep_large_buffers_returnable, release_free_memory, tune_garbage_collector

from .client import ClientSettings
from .fleet_scrape import FleetScrape, FleetScraper, ShardRenderer
from .metrics import HEADERS
from .scrape import ScrapeResult
from .targets import FleetTarget

log = logging.getLogger(__name__)

# Beyond the scrape timeout, how long a worker may take to render and reply.
RENDER_GRACE_SECONDS = 10.0
_LENGTH = struct.Struct(">Q")


def shard_of(target: str, count: int) -> int:
    """Stable across restarts and processes (unlike hash())."""
    return zlib.crc32(target.encode()) % count


# --- the worker process -------------------------------------------------------


def _read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None  # the exporter closed the pipe or died
    return stream.read(_LENGTH.unpack(head)[0])


def _write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)


async def _serve_one(scraper: FleetScraper, request: tuple[list[FleetTarget], list[str], float], out: BinaryIO) -> None:
    targets, label_names, timeout = request
    scrape = await scraper.scrape_and_render(targets, label_names, timeout)
    for pieces in scrape.parts:
        out.write(_LENGTH.pack(sum(len(piece) for piece in pieces)))
        out.writelines(pieces)
    _write_frame(out, pickle.dumps((scrape.targets, scrape.up, scrape.errors, scrape.render_seconds)))
    out.flush()


def worker_main() -> None:
    """Answer scrape requests on stdin/stdout until the exporter goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the exporter's to handle
    inbox, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the exporter's pipe
    init = _read_frame(inbox)
    if init is None:
        return  # the exporter went away before sending the settings
    settings, default_port, concurrency, log_level = pickle.loads(init)
    logging.basicConfig(level=log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s fleet-worker %(name)s: %(message)s")
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    keep_large_buffers_returnable()
    tune_garbage_collector()
    scraper = FleetScraper(settings, default_port, concurrency)
    while (frame := _read_frame(inbox)) is not None:
        try:
            loop.run_until_complete(_serve_one(scraper, pickle.loads(frame), out))
        except (BrokenPipeError, OSError):
            break
        release_free_memory()  # the scrape's replies and text are garbage now
    loop.close()


# --- the exporter's side --------------------------------------------------------


class _Worker:
    def __init__(self, number: int, init: tuple[Any, ...]):
        self.number = number
        self.init = init
        self.process: asyncio.subprocess.Process | None = None

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        if self.process is None or self.process.returncode is not None:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "exporters.cgminer.workers",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 22,
            )
            self._send(pickle.dumps(self.init))
        return self.process

    def _send(self, payload: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(_LENGTH.pack(len(payload)) + payload)

    async def _frame(self) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        head = await self.process.stdout.readexactly(_LENGTH.size)
        return await self.process.stdout.readexactly(_LENGTH.unpack(head)[0])

    async def scrape(self, targets: list[FleetTarget], label_names: list[str], timeout: float) -> FleetScrape:
        await self._ensure_started()
        self._send(pickle.dumps((targets, label_names, timeout)))
        parts = [[await self._frame()] for _ in HEADERS]
        count, up, errors, render_seconds = pickle.loads(await self._frame())
        return FleetScrape(parts, count, up, errors, render_seconds)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
        self.process = None

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the worker sees EOF and exits
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
        self.process = None


class WorkerPool:
    def __init__(self, count: int, settings: ClientSettings, default_port: int, concurrency: int):
        per_worker = max(1, math.ceil(concurrency / count))
        init = (settings, default_port, per_worker, logging.getLogger().getEffectiveLevel())
        self.workers = [_Worker(n, init) for n in range(count)]

    async def scrape(self, targets: list[FleetTarget], label_names: list[str], timeout: float) -> FleetScrape:
        shards: list[list[FleetTarget]] = [[] for _ in self.workers]
        for target in targets:
            shards[shard_of(target.target, len(self.workers))].append(target)

        async def one(worker: _Worker, shard: list[FleetTarget]) -> FleetScrape:
            try:
                async with asyncio.timeout(timeout + RENDER_GRACE_SECONDS):
                    return await worker.scrape(shard, label_names, timeout)
            except (TimeoutError, OSError, EOFError, asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
                # A half-read reply leaves the pipe out of step: start afresh next time.
                log.error("fleet worker %d failed, restarting it: %r", worker.number, exc)
                worker.kill()
                return _failed_shard(shard, label_names, f"fleet worker failed: {exc!r}")

        return FleetScrape.merge(await asyncio.gather(*(one(w, s) for w, s in zip(self.workers, shards))))

    async def close(self) -> None:
        await asyncio.gather(*(worker.close() for worker in self.workers))


def _failed_shard(targets: list[FleetTarget], label_names: list[str], message: str) -> FleetScrape:
    shard = ShardRenderer(label_names)
    failed = ScrapeResult(None, "worker_error", message)
    for target in targets:
        shard.add(target, failed)
    return shard.finish()


if __name__ == "__main__":
    worker_main()
