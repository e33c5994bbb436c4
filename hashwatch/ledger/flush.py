"""`Ledger`: record() queues points in the spool at once; a background loop flushes them to the server.

    points --record()--> Spool (bounded, on disk) --flush loop--> Writer --> database

`record()` never waits for the server; the flush loop sends the oldest batches
first and retries with bounded exponential backoff; an optional snapshot loop
records a caller's points every `interval_seconds`, aligned to the wall clock.
Server problems never raise into the caller: they are counted by reason
(`stats()`) and retried. Delivery is at least once (hashwatch/ledger/__init__.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .config import LedgerConfig
from .point import Point
from .spool import Spool, SpoolEntry, SpoolFull
from .writers import REASONS, Writer, WriteOutcome, make_writer

log = logging.getLogger(__name__)

REFUSAL_REASONS = ("spool_full", "spool_error")  # why points were never queued


def _after_acknowledgement(group: list[SpoolEntry]) -> None:
    """Runs after the server acknowledged `group` and before it is deleted from the spool. Does nothing.

    The window in which a crash makes the batch be sent again; tests replace this
    function to kill the process here (tests/kit/test_ledger.py).
    """


@dataclass(frozen=True)
class LedgerStats:
    """Counters are totals since this process started; pending/rejected sizes are what is on disk."""

    points_recorded: int
    points_written: int
    batches_written: int
    points_pending: int
    batches_pending: int
    bytes_pending: int
    batches_rejected_on_disk: int
    bytes_rejected_on_disk: int
    points_rejected: int  # refused by the server as malformed/conflicting, set aside in rejected/
    points_refused: dict[str, int]  # never queued: spool_full, spool_error
    points_skipped_empty: int  # points with no known field: nothing to write
    write_failures: dict[str, int]  # by reason (REASONS)
    snapshot_failures: int
    last_success_unixtime: float | None
    last_failure_reason: str | None
    spool_max_bytes: int


# What the snapshot loop calls every interval: the points of one snapshot, or an awaitable of them.
SnapshotSource = Callable[[], Iterable[Point] | Awaitable[Iterable[Point]]]


class Ledger:
    """Records points to the spool at once; a background task writes them to the server.

    Use: `ledger = Ledger(config)`, `ledger.start(snapshot)` inside the event loop,
    `ledger.record(points)` from anywhere, `await ledger.stop()` at shutdown.
    """

    def __init__(self, config: LedgerConfig, writer: Writer | None = None):
        self.config = config
        self.spool = Spool(config.spool_dir, config.spool_max_bytes)
        try:
            self.writer: Writer = writer if writer is not None else make_writer(config)
        except BaseException:
            self.spool.close()
            raise
        self._counts_lock = threading.Lock()
        self._points_recorded = 0
        self._points_written = 0
        self._batches_written = 0
        self._points_rejected = 0
        self._points_skipped_empty = 0
        self._snapshot_failures = 0
        self._refused = dict.fromkeys(REFUSAL_REASONS, 0)
        self._failures = dict.fromkeys(REASONS, 0)
        self._last_success: float | None = None
        self._last_failure_reason: str | None = None
        self._failing_since: float | None = None
        self._solo_until_seq = 0  # after a rejected multi-batch request: send one batch at a time up to here
        self._flush_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    # recording ------------------------------------------------------------------------------------
    def _count(self, name: str, amount: int = 1) -> None:
        with self._counts_lock:
            setattr(self, name, getattr(self, name) + amount)

    def _refuse(self, reason: str, points: int) -> None:
        with self._counts_lock:
            self._refused[reason] += points

    def record(self, points: Iterable[Point]) -> int:
        """Queue points on disk now (one small write and fsync per batch); returns how many were queued.

        Never waits for the server. All of a call's points are queued or none:
        when the spool is full or the disk fails they are refused, logged as an
        error and counted in points_refused. Raises only for invalid points.
        """
        lines = []
        skipped = 0
        for point in points:
            if point.known_fields():
                lines.append(point.to_line_protocol().encode("utf-8") + b"\n")
            else:
                skipped += 1
        if skipped:
            self._count("_points_skipped_empty", skipped)
            log.debug("ledger: %d points without any known field were not recorded", skipped)
        if not lines:
            return 0
        size = self.config.batch_size
        batches = [(b"".join(lines[i : i + size]), len(lines[i : i + size])) for i in range(0, len(lines), size)]
        try:
            self.spool.append(batches)
        except SpoolFull as exc:
            self._refuse("spool_full", len(lines))
            log.error("ledger: spool full, %d points refused (not written anywhere): %s", len(lines), exc)
            return 0
        except OSError as exc:
            self._refuse("spool_error", len(lines))
            log.error("ledger: cannot write spool %s, %d points refused: %s", self.spool.directory, len(lines), exc)
            return 0
        self._count("_points_recorded", len(lines))
        self._poke()
        return len(lines)

    async def record_async(self, points: Iterable[Point]) -> int:
        """record() in a worker thread, for callers on a busy event loop."""
        points = list(points)
        return await asyncio.to_thread(self.record, points)

    def _poke(self) -> None:
        """Wake the flush loop (from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closing
                loop.call_soon_threadsafe(wake.set)

    # flushing -------------------------------------------------------------------------------------
    def _next_group(self) -> list[SpoolEntry]:
        """Oldest batches whose points add up to at most batch_size (always at least one)."""
        pending = self.spool.pending()
        if not pending:
            return []
        if pending[0].seq <= self._solo_until_seq:
            return pending[:1]
        group, points = [pending[0]], pending[0].points
        for entry in pending[1:]:
            if points + entry.points > self.config.batch_size:
                break
            group.append(entry)
            points += entry.points
        return group

    def _read_group(self, group: list[SpoolEntry]) -> bytes | None:
        parts = []
        for entry in group:
            try:
                parts.append(self.spool.read(entry))
            except FileNotFoundError:
                log.error("ledger: spooled batch %s vanished (removed by hand?); %d points lost", entry.path,
                          entry.points)
                self.spool.forget(entry)
                self._count_failure("spool")
                return None
        return b"".join(parts)

    def _count_failure(self, reason: str) -> None:
        with self._counts_lock:
            self._failures[reason] += 1
            self._last_failure_reason = reason

    async def flush(self) -> bool:
        """Send pending batches oldest first until none is left (True) or a write fails (False).

        Never raises for server or disk problems: they are counted by reason and the
        batches stay queued for the next attempt.
        """
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            while True:
                group = self._next_group()
                if not group:
                    return True
                try:
                    body = await asyncio.to_thread(self._read_group, group)
                except OSError as exc:
                    self._count_failure("spool")
                    log.error("ledger: cannot read spool %s: %s", self.spool.directory, exc)
                    return False
                if body is None:
                    continue  # a vanished batch, already counted
                outcome = await self.writer.write(body)
                if outcome.ok:
                    _after_acknowledgement(group)
                    if not await self._acknowledged(group):
                        return False
                    continue
                if outcome.reason == "rejected":
                    await self._rejected(group, outcome)
                    continue
                self._failed(outcome, group)
                return False

    async def _acknowledged(self, group: list[SpoolEntry]) -> bool:
        points = sum(entry.points for entry in group)
        try:
            await asyncio.to_thread(self.spool.remove, group)
        except OSError as exc:
            # Written but still on disk: it will be sent again, which InfluxDB absorbs as an overwrite
            # and VictoriaMetrics with -dedup.minScrapeInterval=1ms as a duplicate (hashwatch/ledger/__init__.py).
            self._count_failure("spool")
            log.error("ledger: written batches could not be removed from %s: %s", self.spool.directory, exc)
            return False
        with self._counts_lock:
            self._points_written += points
            self._batches_written += len(group)
            self._last_success = time.time()
        if self._failing_since is not None:
            log.info("ledger: writing again after %.0f s of failures", time.monotonic() - self._failing_since)
            self._failing_since = None
        return True

    async def _rejected(self, group: list[SpoolEntry], outcome: WriteOutcome) -> None:
        self._count_failure("rejected")
        if len(group) > 1:
            # Find the culprit: resend these batches one by one, so only it is set aside.
            self._solo_until_seq = group[-1].seq
            log.warning("ledger: server rejected a %d-batch request (%s); retrying batch by batch",
                        len(group), outcome.detail)
            return
        entry = group[0]
        try:
            moved = await asyncio.to_thread(self.spool.reject, entry)
        except OSError as exc:
            log.error("ledger: cannot move rejected batch %s aside: %s", entry.path, exc)
            return
        self._count("_points_rejected", entry.points)
        log.error("ledger: server rejected %d points (%s); kept in %s for inspection",
                  entry.points, outcome.detail, moved.path)

    def _failed(self, outcome: WriteOutcome, group: list[SpoolEntry]) -> None:
        previous = self._last_failure_reason if self._failing_since is not None else None
        self._count_failure(outcome.reason)
        # One warning when failures start or change kind; the rest go to debug, the counters say how many.
        if self._failing_since is None or previous != outcome.reason:
            log.warning("ledger: write failed (%s: %s); %d batches stay spooled and are retried",
                        outcome.reason, outcome.detail, self.spool.pending_batches)
        else:
            log.debug("ledger: write failed again (%s: %s)", outcome.reason, outcome.detail)
        if self._failing_since is None:
            self._failing_since = time.monotonic()

    # background tasks -----------------------------------------------------------------------------
    def start(self, snapshot: SnapshotSource | None = None) -> None:
        """Start the flush loop, and a snapshot loop every interval_seconds if a snapshot callable is given.

        Must be called from the running event loop that should own the tasks.
        """
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="ledger-flush"))
        if snapshot is not None:
            self._tasks.append(asyncio.create_task(self._snapshot_loop(snapshot), name="ledger-snapshot"))
        if self.spool.pending_batches:
            self._wake.set()

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        delay = self.config.retry_initial_seconds
        while True:
            self._wake.clear()
            try:
                done = await self.flush()
            except Exception:  # a bug must not end the loop: log, back off, go on
                log.exception("ledger: flush failed unexpectedly")
                self._count_failure("error")
                done = False
            if done:
                delay = self.config.retry_initial_seconds
                # Idle until record() pokes; the timeout re-checks a spool filled by another path.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.interval_seconds)
            else:
                # Bounded exponential backoff; record() does not cut it short, so a down server is not hammered.
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.retry_max_seconds)

    async def _snapshot_loop(self, snapshot: SnapshotSource) -> None:
        interval = self.config.interval_seconds
        while True:
            # Aligned to the wall clock (…:00, …:05 for 300 s), so snapshots line up across restarts.
            await asyncio.sleep(interval - time.time() % interval)
            try:
                result = snapshot()
                if inspect.isawaitable(result):
                    result = await result
                await self.record_async(result)
            except Exception:
                self._count("_snapshot_failures")
                log.exception("ledger: taking a snapshot failed")

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop the tasks, try one last bounded flush, close the writer and the spool.

        Whatever is not written stays in the spool for the next start.
        """
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if flush_timeout > 0 and self.spool.pending_batches:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), flush_timeout)
        with contextlib.suppress(Exception):
            await self.writer.close()
        self._loop = self._wake = None
        self.spool.close()

    # stats ----------------------------------------------------------------------------------------
    def stats(self) -> LedgerStats:
        with self._counts_lock:
            return LedgerStats(
                points_recorded=self._points_recorded,
                points_written=self._points_written,
                batches_written=self._batches_written,
                points_pending=self.spool.pending_points,
                batches_pending=self.spool.pending_batches,
                bytes_pending=self.spool.pending_bytes,
                batches_rejected_on_disk=self.spool.rejected_batches,
                bytes_rejected_on_disk=self.spool.rejected_bytes,
                points_rejected=self._points_rejected,
                points_refused=dict(self._refused),
                points_skipped_empty=self._points_skipped_empty,
                write_failures=dict(self._failures),
                snapshot_failures=self._snapshot_failures,
                last_success_unixtime=self._last_success,
                last_failure_reason=self._last_failure_reason,
                spool_max_bytes=self.spool.max_bytes,
            )
