"""The spool: a bounded on-disk FIFO of line-protocol batches not yet acknowledged by the server.

One file per batch, written atomically (temporary file, fsync, os.replace,
directory fsync), sent oldest first, deleted only after the server acknowledged
it. When the spool is full, new data is refused (`SpoolFull`): nothing already
queued is dropped to make room. Batches the server refuses for good are moved
to `rejected/` and still count against the bound until an operator removes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

try:  # a second ledger on the same spool would send every batch twice
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


class SpoolFull(Exception):
    """The spool has no room for a batch; the caller's data was not queued."""


@dataclass(frozen=True)
class SpoolEntry:
    seq: int
    points: int
    size: int
    path: Path


_BATCH_NAME = re.compile(r"^(\d{20})-(\d+)\.lp$")


def _batch_name(seq: int, points: int) -> str:
    return f"{seq:020d}-{points}.lp"


def _fsync_dir(directory: Path) -> None:
    # Makes a create, rename or unlink in the directory durable, not only the file's bytes.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A bounded on-disk FIFO of line-protocol batches, one file per batch.

    Files are named `<seq>-<points>.lp` with a 20-digit sequence number, so a
    directory listing gives the order and the point counts without reading them.
    A batch is written to a dot-file, fsync'd and renamed into place, so a crash
    leaves either a whole batch or a temporary file that the next open deletes
    (its append never returned). Thread-safe: record() may run on any thread
    while the flush loop reads in a worker thread. One process per directory,
    enforced with a lock file.
    """

    def __init__(self, directory: Path | str, max_bytes: int):
        self.directory = Path(directory)
        self.rejected_directory = self.directory / "rejected"
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.rejected_directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.directory / ".lock", "a+b")  # noqa: SIM115 - held for the spool's life
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock_file.close()
                raise RuntimeError(f"spool {self.directory} is in use by another ledger") from None
        self._pending: list[SpoolEntry] = self._scan(self.directory, remove_temporary=True)
        self._rejected: list[SpoolEntry] = self._scan(self.rejected_directory, remove_temporary=False)
        last = max((entry.seq for entry in self._pending + self._rejected), default=0)
        self._next_seq = last + 1
        if self._pending:
            log.info(
                "ledger spool %s: %d batches (%d points) pending from before",
                self.directory, len(self._pending), self.pending_points,
            )

    @staticmethod
    def _scan(directory: Path, remove_temporary: bool) -> list[SpoolEntry]:
        entries = []
        for path in directory.iterdir():
            if not path.is_file() or path.name == ".lock":
                continue
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                if remove_temporary:
                    path.unlink(missing_ok=True)  # an append that crashed before it returned
                continue
            match = _BATCH_NAME.match(path.name)
            if match is None:
                log.warning("ledger spool: ignoring unknown file %s", path)
                continue
            entries.append(SpoolEntry(int(match[1]), int(match[2]), path.stat().st_size, path))
        return sorted(entries, key=lambda entry: entry.seq)

    # sizes --------------------------------------------------------------------------------------
    @property
    def pending_batches(self) -> int:
        return len(self._pending)

    @property
    def pending_points(self) -> int:
        return sum(entry.points for entry in self._pending)

    @property
    def pending_bytes(self) -> int:
        return sum(entry.size for entry in self._pending)

    @property
    def rejected_batches(self) -> int:
        return len(self._rejected)

    @property
    def rejected_bytes(self) -> int:
        return sum(entry.size for entry in self._rejected)

    @property
    def used_bytes(self) -> int:
        """What counts against max_bytes: pending and rejected batches."""
        return self.pending_bytes + self.rejected_bytes

    # operations ---------------------------------------------------------------------------------
    def append(self, batches: list[tuple[bytes, int]]) -> list[SpoolEntry]:
        """Queue (body, points) batches, all or none: SpoolFull if they do not fit, OSError on disk errors."""
        with self._lock:
            needed = sum(len(body) for body, _ in batches)
            if self.used_bytes + needed > self.max_bytes:
                raise SpoolFull(
                    f"{needed} bytes do not fit: {self.used_bytes} of {self.max_bytes} bytes used"
                )
            written: list[SpoolEntry] = []
            temporary: Path | None = None
            try:
                for body, points in batches:
                    seq = self._next_seq
                    self._next_seq += 1
                    path = self.directory / _batch_name(seq, points)
                    temporary = self.directory / f".{seq:020d}.tmp"
                    with open(temporary, "wb") as handle:
                        handle.write(body)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(temporary, path)
                    written.append(SpoolEntry(seq, points, len(body), path))
                _fsync_dir(self.directory)
            except OSError:
                # All or none: a snapshot is not queued half.
                with contextlib.suppress(OSError):
                    for entry in written:
                        entry.path.unlink(missing_ok=True)
                    if temporary is not None:
                        temporary.unlink(missing_ok=True)
                raise
            self._pending.extend(written)
            return written

    def pending(self) -> list[SpoolEntry]:
        """The queued batches, oldest first (a copy)."""
        with self._lock:
            return list(self._pending)

    def read(self, entry: SpoolEntry) -> bytes:
        return entry.path.read_bytes()

    def remove(self, entries: Iterable[SpoolEntry]) -> None:
        """Delete acknowledged batches."""
        with self._lock:
            done = {entry.seq for entry in entries}
            for entry in self._pending:
                if entry.seq in done:
                    entry.path.unlink(missing_ok=True)
            self._pending = [entry for entry in self._pending if entry.seq not in done]
            _fsync_dir(self.directory)

    def reject(self, entry: SpoolEntry) -> SpoolEntry:
        """Move a batch the server will never accept out of the queue, into rejected/."""
        with self._lock:
            target = self.rejected_directory / entry.path.name
            os.replace(entry.path, target)
            _fsync_dir(self.directory)
            _fsync_dir(self.rejected_directory)
            moved = SpoolEntry(entry.seq, entry.points, entry.size, target)
            self._pending = [item for item in self._pending if item.seq != entry.seq]
            self._rejected.append(moved)
            return moved

    def forget(self, entry: SpoolEntry) -> None:
        """Drop a batch whose file vanished (removed by hand) from the index."""
        with self._lock:
            self._pending = [item for item in self._pending if item.seq != entry.seq]

    def close(self) -> None:
        if not self._lock_file.closed:
            self._lock_file.close()  # releases the flock
