"""`LedgerCollector`: a ledger's health (points recorded, written, pending, refused; failures by reason)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .flush import Ledger


class LedgerCollector(Collector):
    """The ledger's stats as `<prefix>_*` metrics, read at scrape time.

    The prefix is the recording service's (e.g. "profitability_ledger"), so two
    services with a ledger each do not export the same names.
    """

    def __init__(self, ledger: Ledger, prefix: str):
        self.ledger = ledger
        self.prefix = prefix

    def collect(self) -> Iterator[Metric]:
        s = self.ledger.stats()
        prefix = self.prefix

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
