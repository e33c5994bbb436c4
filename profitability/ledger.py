"""The ledger: snapshots of fleet and site economics kept for years in InfluxDB.

Prometheus keeps weeks; the ledger writes a snapshot every few minutes to a
time-series database so the history outlives Prometheus retention.

    points --record()--> Spool (bounded, on disk) --flush loop--> Writer --> InfluxDB

- `Point` encodes one line of InfluxDB line protocol (nanosecond timestamps).
- `Spool` is a bounded on-disk queue of line-protocol batches: one file per batch,
  written atomically (temporary file, fsync, os.replace, directory fsync), sent
  oldest first, deleted only after the server acknowledged it (2xx). When the
  spool is full, new data is refused, logged and counted: nothing already queued
  is dropped to make room, and nothing is dropped silently.
- `V2Writer` writes with influxdb-client (v2 API: url, org, bucket, token);
  `V1Writer` POSTs the same bytes to InfluxDB 1.x's /write.
- `Ledger` ties them together: `record()` appends to the spool and returns, a
  background task flushes with bounded exponential backoff, `stats()` and
  `LedgerCollector` expose what happened. Server problems never raise into the
  caller; they are counted by reason and retried.

Delivery is at least once: a batch is deleted from the spool only after the
server acknowledged it, so a batch whose acknowledgement was lost, or whose
process died between the acknowledgement and the deletion (kill -9, power
loss), is sent again, byte for byte: every point carries the timestamp it was
made with. Whether the repeat is harmless depends on the server:

- InfluxDB (1.x and 2.x) stores a point by (measurement, tag set, timestamp), so
  a repeat overwrites the same point with the same values rather than adding one.
- VictoriaMetrics stores every sample it receives: without deduplication a
  repeat is a second sample at the same millisecond, which queries and
  /api/v1/export return twice (count_over_time counts both). It must run with
  `-dedup.minScrapeInterval=1ms` (on vmselect and vmstorage for a cluster):
  then samples of one series with the same timestamp are returned once by
  queries and by /api/v1/export, as they are deduplicated when read (the copy
  may stay on disk; only export with reduce_mem_usage=1 shows raw blocks).
  1ms merges only samples with identical timestamps, so nothing else stored in
  the same VictoriaMetrics is thinned. Checked against VictoriaMetrics 1.79.5.

A batch the server refuses as malformed or conflicting (HTTP 400/413/422) would be
refused forever and block everything behind it; it is moved to `rejected/` inside
the spool directory, logged and counted, and still counts against the spool's
bound until an operator removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import aiohttp
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import Field, SecretStr, model_validator

from hashwatch.config import ConfigError, ConfigSection

try:  # a second ledger on the same spool would send every batch twice
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
NS_PER_SECOND = 1_000_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# An integer timestamp is nanoseconds; below this (1973) it is almost surely seconds,
# milli- or microseconds, which would land the point in 1970 without any error.
MIN_NS_TIMESTAMP = 10**17

FieldValue = float | int | bool | str

# Failure reasons, a closed set so they can be metric labels.
REASONS = ("connect", "timeout", "auth", "not_found", "rejected", "server", "http", "spool", "error")
REFUSAL_REASONS = ("spool_full", "spool_error")


# --- line protocol ---------------------------------------------------------------------------------


def _escape_measurement(name: str) -> str:
    return name.replace(",", r"\,").replace(" ", r"\ ")


def _escape_key(name: str) -> str:
    """Tag keys, tag values and field keys."""
    return name.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_name(kind: str, name: str) -> None:
    # Line protocol has no escape for newlines outside string fields, and a trailing
    # backslash would escape the delimiter after it.
    if not name:
        raise ValueError(f"empty {kind}")
    if "\n" in name or "\r" in name:
        raise ValueError(f"{kind} {name!r} contains a newline")
    if name.endswith("\\"):
        raise ValueError(f"{kind} {name!r} ends with a backslash")


def to_nanoseconds(timestamp: float | int) -> int:
    """Unix time as nanoseconds: a float is seconds, an int is already nanoseconds."""
    if isinstance(timestamp, bool):
        raise TypeError("timestamp must be float seconds or int nanoseconds, not bool")
    if isinstance(timestamp, int):
        if abs(timestamp) < MIN_NS_TIMESTAMP:
            raise ValueError(
                f"integer timestamp {timestamp} is not nanoseconds (before 1973); pass seconds as a float"
            )
        return timestamp
    if isinstance(timestamp, float):
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp {timestamp} is not finite")
        # Via the shortest decimal repr, so 1700000000.123 is ...123000000 ns, not ...122999906.
        return int((Decimal(repr(timestamp)) * NS_PER_SECOND).to_integral_value())
    raise TypeError(f"timestamp must be float seconds or int nanoseconds, got {type(timestamp).__name__}")


def _encode_field(key: str, value: FieldValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        text = "true" if value else "false"
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"field {key!r}: integer {value} does not fit in 64 bits")
        text = f"{value}i"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = _escape_string_field(value)
    else:
        raise TypeError(f"field {key!r}: unsupported type {type(value).__name__}")
    return f"{_escape_key(key)}={text}"


@dataclass(frozen=True)
class Point:
    """One point: measurement, tags, fields and a timestamp (float seconds or int nanoseconds).

    A field that is None, NaN or infinite is unknown and left out, never written as
    0. A tag whose value is None or empty is left out too (line protocol cannot
    carry an empty tag value; InfluxDB treats a missing tag as empty). The
    timestamp defaults to the moment the point is made, never to the moment it is
    written, which may be hours later after an outage. Everything is validated
    here, so a bad value fails where the point is made, not later in the flush loop.
    """

    measurement: str
    _: KW_ONLY
    fields: Mapping[str, FieldValue | None]
    tags: Mapping[str, str | None] = field(default_factory=dict)
    timestamp: float | int = field(default_factory=time.time_ns)

    def __post_init__(self) -> None:
        _check_name("measurement", self.measurement)
        for key, value in self.tags.items():
            _check_name("tag key", key)
            if value is not None and str(value) != "":
                _check_name(f"tag {key!r} value", str(value))
        for key, value in self.fields.items():
            _check_name("field key", key)
            if value is not None:
                _encode_field(key, value)  # type and range
        to_nanoseconds(self.timestamp)

    @property
    def timestamp_ns(self) -> int:
        return to_nanoseconds(self.timestamp)

    def known_fields(self) -> dict[str, FieldValue]:
        """The fields that will be written: None and non-finite floats left out."""
        return {
            key: value
            for key, value in self.fields.items()
            if value is not None and not (isinstance(value, float) and not math.isfinite(value))
        }

    def to_line_protocol(self) -> str:
        """One line, no trailing newline. ValueError if no field is known."""
        fields = self.known_fields()
        if not fields:
            raise ValueError(f"point {self.measurement!r} has no known field values")
        parts = [_escape_measurement(self.measurement)]
        # Sorted tags are what InfluxDB stores anyway, and it parses them fastest.
        for key, value in sorted(self.tags.items()):
            if value is not None and str(value) != "":
                parts.append(f"{_escape_key(key)}={_escape_key(str(value))}")
        head = ",".join(parts)
        body = ",".join(_encode_field(key, value) for key, value in fields.items())
        return f"{head} {body} {self.timestamp_ns}"


# --- configuration -----------------------------------------------------------------------------------


CONFIG_KEY = "profitability.ledger"  # where LedgerConfig sits in hashwatch.yml, for error messages


class LedgerConfig(ConfigSection):
    """Where and how snapshots are written. `api: v2` needs org, bucket and a token;
    `api: v1` (InfluxDB 1.x) needs a database."""

    api: Literal["v2", "v1"] = "v2"
    url: str = Field(description="base URL of InfluxDB, e.g. http://influxdb:8086")
    # v2
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    token_file: Path | None = Field(None, strict=False, description="file holding the token (e.g. a mounted secret)")
    # v1
    database: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    retention_policy: str | None = None
    # common
    interval_seconds: float = Field(300, gt=0, le=86400, description="how often a snapshot is taken")
    spool_dir: Path = Field(strict=False, description="on-disk queue of batches not yet acknowledged by the server")
    spool_max_bytes: int = Field(64 * MiB, gt=0, description="spool bound; new data is refused beyond it")
    batch_size: int = Field(5000, gt=0, description="most points sent in one write request")
    timeout_seconds: float = Field(10, gt=0, le=300, description="for one write request")
    retry_initial_seconds: float = Field(1, gt=0, le=3600, description="first wait after a failed write; doubles")
    retry_max_seconds: float = Field(300, gt=0, le=86400, description="longest wait between write attempts")

    @model_validator(mode="after")
    def _check_api(self) -> LedgerConfig:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        v2_keys = {"org": self.org, "bucket": self.bucket, "token": self.token, "token_file": self.token_file}
        v1_keys = {
            "database": self.database,
            "username": self.username,
            "password": self.password,
            "retention_policy": self.retention_policy,
        }
        if self.api == "v2":
            stray = [key for key, value in v1_keys.items() if value is not None]
            missing = [key for key in ("org", "bucket") if not v2_keys[key]]
            if stray:
                raise ValueError(f"api v2 does not use {', '.join(stray)} (those are for api v1)")
            if missing:
                raise ValueError(f"api v2 needs {' and '.join(missing)}")
            if (self.token is None) == (self.token_file is None):
                raise ValueError("api v2 needs exactly one of token or token_file")
        else:
            stray = [key for key, value in v2_keys.items() if value is not None]
            if stray:
                raise ValueError(f"api v1 does not use {', '.join(stray)} (those are for api v2)")
            if not self.database:
                raise ValueError("api v1 needs database")
            if (self.username is None) != (self.password is None):
                raise ValueError("username and password go together")
        return self

    def read_token(self) -> str:
        """The v2 token, from token or token_file (surrounding whitespace stripped)."""
        if self.token is not None:
            return self.token.get_secret_value()
        key = f"{CONFIG_KEY}.token_file"
        if self.token_file is None:
            raise ConfigError(f"{CONFIG_KEY}: api v2 needs token or token_file")
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {self.token_file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{key}: {self.token_file} is not UTF-8 text") from None
        if not token:
            raise ConfigError(f"{key}: {self.token_file} is empty")
        if "\n" in token or "\r" in token:
            raise ConfigError(f"{key}: {self.token_file} holds more than one line; the token is one line")
        return token

    def check_files(self) -> None:
        """ConfigError naming the key unless token_file can be read and spool_dir written.

        Run by the command that writes, before it serves: these files need not exist
        where other services read the same hashwatch.yml.
        """
        if self.token_file is not None:
            self.read_token()
        key, directory = f"{CONFIG_KEY}.spool_dir", self.spool_dir
        try:
            if directory.exists() and not directory.is_dir():
                raise ConfigError(f"{key}: {directory} is not a directory")
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass  # as root, only writing shows a read-only or virtual file system (/proc)
        except OSError as exc:
            raise ConfigError(f"{key}: cannot write to {directory}: {exc.strerror or exc}") from None


# --- the spool ---------------------------------------------------------------------------------------


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


# --- writers -----------------------------------------------------------------------------------------


class WriteOutcome(NamedTuple):
    ok: bool
    reason: str = ""  # one of REASONS when not ok
    detail: str = ""
    status: int | None = None


def classify_status(status: int) -> str:
    """The failure reason for an HTTP status that is not 2xx."""
    if status in (400, 413, 422):
        return "rejected"  # the batch itself is refused: retrying the same bytes cannot help
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"  # database or bucket missing: an operator can create it, so retry
    if status == 429 or status >= 500:
        return "server"
    return "http"


def _outcome_for_status(status: int, text: str) -> WriteOutcome:
    if 200 <= status < 300:
        return WriteOutcome(True, status=status)
    return WriteOutcome(False, classify_status(status), f"HTTP {status}: {text.strip()[:300]}", status)


class Writer(Protocol):
    """Sends one request's worth of line protocol. Never raises for server problems."""

    async def write(self, body: bytes) -> WriteOutcome: ...

    async def close(self) -> None: ...


class V2Writer:
    """InfluxDB v2 write API through influxdb-client (InfluxDB 2.x/3.x, Cloud, or compatible servers).

    influxdb-client's synchronous write API blocks on urllib3, so each write runs
    in a worker thread; the event loop never waits on the network. The client's
    own retries are off (retries=False is its default, set here explicitly): the
    ledger's backoff and spool decide when to try again.
    """

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_seconds: float):
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.org = org
        self.bucket = bucket
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout_seconds * 1000), retries=False
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def _write_blocking(self, body: bytes) -> WriteOutcome:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import NewConnectionError, ProtocolError
        from urllib3.exceptions import TimeoutError as Urllib3Timeout

        try:
            self._write_api.write(self.bucket, self.org, record=body, write_precision=WritePrecision.NS)
        except ApiException as exc:
            body_text = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
            return _outcome_for_status(exc.status or 0, body_text or str(exc.reason or ""))
        except NewConnectionError as exc:  # before the timeout check: it subclasses ConnectTimeoutError
            return WriteOutcome(False, "connect", str(exc))
        except Urllib3Timeout as exc:
            return WriteOutcome(False, "timeout", str(exc))
        except (ProtocolError, ConnectionError) as exc:
            return WriteOutcome(False, "connect", str(exc))
        except Exception as exc:  # noqa: BLE001 - never into the caller; counted as "error"
            return WriteOutcome(False, "error", f"{type(exc).__name__}: {exc}")
        return WriteOutcome(True, status=204)

    async def write(self, body: bytes) -> WriteOutcome:
        return await asyncio.to_thread(self._write_blocking, body)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


class V1Writer:
    """InfluxDB 1.x: POST line protocol to {url}/write?db=...&rp=...&precision=ns.

    aiohttp rather than influxdb-client's v1 compatibility: that path posts to
    /api/v2/write, which InfluxDB only has from 1.8 on (Debian ships 1.6), while
    /write exists in every 1.x. aiohttp is already the project's HTTP client and
    is asynchronous, so no thread is needed. Credentials go in a Basic
    Authorization header, which 1.x accepts, keeping them out of URLs and logs.
    """

    def __init__(
        self,
        url: str,
        database: str,
        timeout_seconds: float,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ):
        self.endpoint = url.rstrip("/") + "/write"
        self.params = {"db": database, "precision": "ns"}
        if retention_policy:
            self.params["rp"] = retention_policy
        self.auth = aiohttp.BasicAuth(username, password or "") if username else None
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def write(self, body: bytes) -> WriteOutcome:
        if self._session is None or self._session.closed:  # made inside the running loop
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                self.endpoint,
                params=self.params,
                data=body,
                auth=self.auth,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            ) as response:
                return _outcome_for_status(response.status, await response.text(errors="replace"))
        except TimeoutError as exc:
            return WriteOutcome(False, "timeout", str(exc) or "timed out")
        except aiohttp.ClientError as exc:
            return WriteOutcome(False, "connect", f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return WriteOutcome(False, "connect", str(exc))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_writer(config: LedgerConfig) -> Writer:
    if config.api == "v2":
        assert config.org and config.bucket  # checked by LedgerConfig
        return V2Writer(config.url, config.read_token(), config.org, config.bucket, config.timeout_seconds)
    assert config.database
    return V1Writer(
        config.url,
        config.database,
        config.timeout_seconds,
        retention_policy=config.retention_policy,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
    )


# --- the ledger --------------------------------------------------------------------------------------


def _after_acknowledgement(group: list[SpoolEntry]) -> None:
    """Runs after the server acknowledged `group` and before it is deleted from the spool. Does nothing.

    The window in which a crash makes the batch be sent again; tests replace this
    function to kill the process here (tests/test_profitability_ledger.py).
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


Snapshot = Callable[[], Iterable[Point] | Awaitable[Iterable[Point]]]


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
            # and VictoriaMetrics with -dedup.minScrapeInterval=1ms as a duplicate (module docstring).
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
    def start(self, snapshot: Snapshot | None = None) -> None:
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

    async def _snapshot_loop(self, snapshot: Snapshot) -> None:
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


class LedgerCollector(Collector):
    """The ledger's stats as profitability_ledger_* metrics, read at scrape time."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def collect(self) -> Iterator[Metric]:
        s = self.ledger.stats()
        prefix = "profitability_ledger"

        def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{prefix}_{name}", help_text, value=value)

        def gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{prefix}_{name}", help_text, value=value)

        yield counter("points_recorded", "Points queued in the spool.", s.points_recorded)
        yield counter("points_written", "Points the database acknowledged.", s.points_written)
        yield counter("batches_written", "Spooled batches the database acknowledged.", s.batches_written)
        yield counter("points_rejected", "Points the database refused as malformed or conflicting; "
                      "kept in the spool's rejected/ directory.", s.points_rejected)
        yield counter("points_skipped_empty", "Points not recorded because no field had a known value.",
                      s.points_skipped_empty)
        yield counter("snapshot_failures", "Snapshots that could not be taken.", s.snapshot_failures)
        refused = CounterMetricFamily(f"{prefix}_points_refused", "Points never queued, by reason "
                                      "(spool_full: the spool is at its bound; spool_error: disk error).",
                                      labels=["reason"])
        for reason, value in s.points_refused.items():
            refused.add_metric([reason], value)
        yield refused
        failures = CounterMetricFamily(f"{prefix}_write_failures", "Failed write requests, by reason.",
                                       labels=["reason"])
        for reason, value in s.write_failures.items():
            failures.add_metric([reason], value)
        yield failures
        yield gauge("pending_points", "Points spooled and not yet written.", s.points_pending)
        yield gauge("pending_batches", "Batches spooled and not yet written.", s.batches_pending)
        yield gauge("pending_bytes", "Bytes spooled and not yet written.", s.bytes_pending)
        yield gauge("rejected_batches", "Rejected batches kept on disk.", s.batches_rejected_on_disk)
        yield gauge("rejected_bytes", "Bytes of rejected batches kept on disk.", s.bytes_rejected_on_disk)
        yield gauge("spool_max_bytes", "The spool's bound (pending plus rejected).", s.spool_max_bytes)
        if s.last_success_unixtime is not None:
            yield gauge("last_success_timestamp_seconds", "When a write was last acknowledged.",
                        s.last_success_unixtime)
