"""The ledger: points kept for years in InfluxDB (or anything with its write API), through a disk spool.

Prometheus keeps weeks; a service that wants history to outlive Prometheus
retention feeds the ledger points (profitability: fleet and site economics
every few minutes). The ledger knows nothing about what the points mean, and
imports no service.

    points --record()--> Spool (bounded, on disk) --flush loop--> Writer --> InfluxDB

Where things live:
  point.py      `Point`: one line of InfluxDB line protocol (nanosecond timestamps), validated when made
  config.py     `LedgerConfig`: database, credentials, spool, batch and retry settings; `.at(key)` names its place
  spool.py      `Spool`: the bounded on-disk queue of batches, atomic writes, `rejected/` for refused ones
  writers.py    `V2Writer` (influxdb-client) and `V1Writer` (InfluxDB 1.x /write); outcomes by reason
  flush.py      `Ledger`: record() to the spool, the flush loop with backoff, the snapshot loop, stats()
  collector.py  `LedgerCollector`: the stats as `<prefix>_*` metrics

Use: `ledger = Ledger(config.at("service.ledger"))`, `ledger.start(snapshot)`
inside the event loop, `ledger.record(points)` from anywhere, `await
ledger.stop()` at shutdown, and `LedgerCollector(ledger, prefix)` on the
service's registry.

Delivery is at least once: a batch is deleted from the spool only after the
server acknowledged it (2xx), so a batch whose acknowledgement was lost, or
whose process died between the acknowledgement and the deletion (kill -9, power
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

When the spool is full, new data is refused, logged and counted: nothing
already queued is dropped to make room, and nothing is dropped silently. A
batch the server refuses as malformed or conflicting (HTTP 400/413/422) would
be refused forever and block everything behind it; it is moved to `rejected/`
inside the spool directory, logged and counted, and still counts against the
spool's bound until an operator removes it.
"""

from .collector import LedgerCollector
from .config import LedgerConfig
from .flush import REFUSAL_REASONS, Ledger, LedgerStats, SnapshotSource
from .point import FieldValue, Point, to_nanoseconds
from .spool import Spool, SpoolEntry, SpoolFull
from .writers import REASONS, V1Writer, V2Writer, Writer, WriteOutcome, classify_status, make_writer

__all__ = [
    "REASONS",
    "REFUSAL_REASONS",
    "FieldValue",
    "Ledger",
    "LedgerCollector",
    "LedgerConfig",
    "LedgerStats",
    "Point",
    "SnapshotSource",
    "Spool",
    "SpoolEntry",
    "SpoolFull",
    "V1Writer",
    "V2Writer",
    "WriteOutcome",
    "Writer",
    "classify_status",
    "make_writer",
    "to_nanoseconds",
]
