"""One snapshot per scrape: the collector renders it, and the ledger records that same object."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from hashwatch.polling import Poller, PollJob
from profitability import snapshot as snapshot_module
from profitability.config import ProfitabilityConfig
from profitability.evaluate import MinerInput
from profitability.inputs import INPUTS_JOB
from profitability.metrics import TOTAL_SERIES
from profitability.records import points_of
from profitability.server import ProfitabilityExporter
from tests.support.prom_text import samples
from tests.profitability.test_profitability_metrics import CATALOG, CONFIG, NOW, collector_for, inputs


@pytest.fixture
def taken(monkeypatch) -> list:
    """Every snapshot take_snapshot returns, in order."""
    found = []
    real = snapshot_module.take_snapshot

    def counting(*args, **kwargs):
        found.append(real(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr(snapshot_module, "take_snapshot", counting)
    return found


def render(collector) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return samples(generate_latest(registry).decode())


def test_a_scrape_evaluates_once_and_the_ledger_records_what_it_rendered(taken):
    collector, s = collector_for(inputs(), **CONFIG)  # one scrape
    assert len(taken) == 1
    recorded = collector.snapshots.latest()  # what the ledger asks for, within the same inputs cycle
    assert len(taken) == 1 and recorded is taken[0]
    points = points_of(recorded)
    by_key = {(p.measurement, p.tags.get("site")): p for p in points}
    assert set(by_key) == {("fleet_economics", None), ("site_economics", "north"), ("site_economics", "south"),
                           ("market_inputs", None)}
    for (measurement, site), point in by_key.items():
        assert point.timestamp == NOW  # stamped with the moment the values are for
        if measurement == "market_inputs":
            assert point.fields == {"btc_price": 60_000.0, "difficulty": 1.5e14, "subsidy_btc": 3.125,
                                    "fees_per_block_btc": 0.02}
            continue
        prefix, labels = ("fleet", ()) if site is None else ("site", (("site", site),))
        for suffix, _, _, monetary in TOTAL_SERIES:
            key = (f"profitability_{prefix}_{suffix}", tuple(sorted((*labels, *((("currency", "USD"),) if monetary else ())))))
            assert point.fields[suffix] == s.get(key), key  # None in the point: absent from /metrics too
    # Some values are really there (not a comparison of two absences).
    assert by_key[("fleet_economics", None)].fields["power_cost_per_day"] == pytest.approx(6.864 + 4.032)


def test_every_scrape_evaluates_at_its_own_moment(taken):
    # The electricity price depends on the hour: a later scrape is a new snapshot at its own time.
    clock = [NOW]
    collector, _ = collector_for(inputs(), **CONFIG)
    collector.snapshots.clock = lambda: clock[0]
    clock[0] = NOW + 30
    render(collector)
    assert [snapshot.at for snapshot in taken] == [NOW, NOW + 30]


def test_the_ledger_takes_its_own_snapshot_when_nothing_scraped_this_cycle(taken):
    clock = [NOW]
    collector, _ = collector_for(inputs(), **CONFIG, interval_seconds=60)
    collector.snapshots.clock = lambda: clock[0]
    clock[0] = NOW + 61  # no scrape for longer than one inputs interval
    recorded = collector.snapshots.latest()
    assert len(taken) == 2 and recorded is taken[1] and recorded.at == NOW + 61
    # New inputs (the next poll) make the last scrape's snapshot out of date as well.
    collector.poller.state(INPUTS_JOB).value = inputs(read_at=NOW + 55)
    assert collector.snapshots.latest() is taken[2] and len(taken) == 3


def test_no_snapshot_from_stale_inputs(taken):
    collector, s = collector_for(inputs(read_at=NOW - 3600), **CONFIG)
    assert taken == [None] and collector.snapshots.latest() is None


def test_the_snapshot_is_frozen():
    collector, _ = collector_for(inputs(), **CONFIG)
    result = collector.snapshots.latest()
    with pytest.raises(AttributeError):
        result.fleet = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.miners[0].profit_per_day = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.missing["price"] = 3  # type: ignore[index]


def test_the_exporter_feeds_the_ledger_the_snapshot_its_last_scrape_rendered(taken):
    # Through the exporter's own wiring (real clock): one scrape, then the ledger's snapshot.
    now = time.time()
    config = ProfitabilityConfig(**CONFIG)
    exporter = ProfitabilityExporter(config, CATALOG)

    async def never():
        raise AssertionError("not polled here")

    poller = Poller([PollJob(INPUTS_JOB, "", 60, never)], 600, "profitability")
    (collector,) = exporter.collectors(poller)  # no ledger configured: the collector alone
    state = poller.state(INPUTS_JOB)
    miners = [MinerInput("10.0.0.1:4028", "north", 110e12, 3250.0, "Bitmain", "S19 Pro")]
    state.value = inputs(read_at=now - 5, miners=miners, network_fetched=now - 5,
                         price_fetched={"USD": now - 5, "EUR": now - 5})
    state.up = True
    s = render(collector)
    points = exporter.snapshot()
    assert len(taken) == 1
    fleet = next(p for p in points if p.measurement == "fleet_economics")
    assert fleet.timestamp == taken[0].at
    assert fleet.fields["revenue_per_day"] == s[("profitability_fleet_revenue_per_day", (("currency", "USD"),))]
