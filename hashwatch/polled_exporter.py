"""The service shell (hashwatch.service) for exporters that poll remote APIs in the background.

On start: one aiohttp session, the exporter's poll jobs, its collectors on the
service's registry (next to the process metrics and hashwatch_build_info).
/metrics renders the cache; nothing waits on a remote service. A subclass
says which jobs and collectors, and what its landing page shows; /-/ready
answers 200 once every job has been polled at least once (answered or not).

/metrics answers 200 whatever was parsed: the parsers refuse implausible
values, and as a last guard each collector is wrapped in FiniteOnly, which
leaves out a sample whose value is not a finite float and logs a collector
that raises instead of failing the whole scrape.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator

import aiohttp
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from .polling import Poller, PollJob
from .service import Service

log = logging.getLogger(__name__)


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # an int of hundreds of digits overflows
        return False


class FiniteOnly(Collector):
    """A collector that cannot fail a scrape.

    Samples whose value is not a finite float (NaN, ±inf, an integer too large
    for a float) are left out, as a value not reported is; an exception from
    the wrapped collector ends its part of this scrape, keeping the families
    it had yielded, and is logged (with its traceback once per collector).
    """

    def __init__(self, collector: Collector):
        self.collector = collector
        self._logged: set[str] = set()

    def collect(self) -> Iterator[Metric]:
        name = type(self.collector).__name__
        families: Iterator[Metric] | None = None
        while True:
            try:
                if families is None:
                    families = iter(self.collector.collect())
                family = next(families)
            except StopIteration:
                return
            except Exception:
                if "raised" not in self._logged:
                    self._logged.add("raised")
                    log.exception("%s failed; its remaining metrics are left out of this scrape", name)
                else:
                    log.debug("%s failed again", name, exc_info=True)
                return
            kept = [sample for sample in family.samples if _finite(sample.value)]
            if len(kept) != len(family.samples) and family.name not in self._logged:
                self._logged.add(family.name)
                left_out = len(family.samples) - len(kept)
                log.warning("%s: left out %d sample(s) of %s that are not finite numbers", name, left_out, family.name)
            family.samples = kept
            yield family


class PolledExporter(Service):
    max_connections = 4  # towards the remote services: polite bursts
    max_backoff = 1800.0

    def __init__(self) -> None:
        super().__init__()
        self.session: aiohttp.ClientSession | None = None
        self.poller: Poller | None = None

    def jobs(self, session: aiohttp.ClientSession) -> list[PollJob]:
        raise NotImplementedError

    def collectors(self, poller: Poller) -> Iterable[Collector]:
        raise NotImplementedError

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.max_connections))
        self.poller = Poller(self.jobs(self.session), self.max_backoff, self.name)
        for collector in self.collectors(self.poller):
            self.registry.register(FiniteOnly(collector))
        self.poller.start()

    def is_ready(self) -> bool:
        """Every job polled at least once, successfully or not: /metrics reports on each upstream."""
        return self.poller is not None and all(state.up is not None for state in self.poller.states.values())

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.session is not None:
            await self.session.close()
