"""Fleet mode sharded over worker processes (`fleet.workers`)."""

import asyncio
import os
import re
import signal
import time

import pytest

from exporters.cgminer.client import ClientSettings
from exporters.cgminer.config import FleetConfig, MinerTarget
from exporters.cgminer.fleet import Fleet
from exporters.cgminer.workers import shard_of
from tests.support.promtool import check_metrics

SETTINGS = ClientSettings(connect_timeout=1, request_timeout=3)
SERIES = re.compile(r"^(\w+\{[^}]*\})", re.MULTILINE)


def text_of(scrape) -> str:
    return scrape.exposition().decode()


def series(text: str) -> set[str]:
    # Identity of every sample; values move between scrapes, and the duration
    # series is the one whose value differs by design.
    return set(SERIES.findall(text))


@pytest.fixture(scope="module")
def miners(sim_fleet):
    return [MinerTarget(target=t, labels={"rack": f"r{i % 3}"}) for i, t in enumerate(sim_fleet.targets())]


def run(coroutine_factory, *fleets):
    """Run on one event loop and close the fleets' workers afterwards."""

    async def main():
        try:
            return await coroutine_factory()
        finally:
            for fleet in fleets:
                await fleet.close()

    return asyncio.run(main())


def test_shards_are_stable_and_cover_every_worker():
    targets = [f"10.0.{i // 250}.{i % 250}:4028" for i in range(1000)]
    assert [shard_of(t, 4) for t in targets] == [shard_of(t, 4) for t in targets]
    counts = [sum(1 for t in targets if shard_of(t, 4) == n) for n in range(4)]
    assert min(counts) > 200, counts  # crc32 spreads addresses evenly enough


def test_workers_serve_the_same_series_as_one_process_and_keep_memory(sim_fleet, miners):
    single = Fleet(FleetConfig(miners=miners), SETTINGS, 4028)
    sharded = Fleet(FleetConfig(miners=miners, workers=2), SETTINGS, 4028)
    errors = []
    sharded.on_error = errors.append

    async def scrape_all():
        one = await single.collect(10)
        sim_fleet.journal.clear()
        first = await sharded.collect(10)
        first_requests = len(sim_fleet.journal)
        sim_fleet.journal.clear()
        second = await sharded.collect(10)
        return one, first, second, first_requests, len(sim_fleet.journal)

    one, first, second, first_requests, second_requests = run(scrape_all, sharded)
    assert (first.targets, first.up) == (len(miners), len(miners))
    assert errors == []
    assert series(text_of(first)) == series(text_of(one))
    assert series(text_of(second)) == series(text_of(one))
    check_metrics(text_of(second).encode())
    # Each family's samples stay together under one header in the merged text.
    names = [line.split("{")[0] for line in text_of(second).splitlines() if not line.startswith("#")]
    runs = [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]
    assert len(runs) == len(set(runs))
    assert second.render_seconds > 0
    # Workers remember each miner: no firmware detection or identity fetch the second time.
    assert second_requests < first_requests


def test_a_killed_worker_marks_its_shard_down_once_then_recovers(sim_fleet, miners):
    fleet = Fleet(FleetConfig(miners=miners, workers=2), SETTINGS, 4028)
    slow = sim_fleet.miners[0]
    errors = []
    fleet.on_error = errors.append
    try:

        async def scenario():
            await fleet.collect(10)  # workers started, firmware detected
            slow.state.latency = 1.5
            pending = asyncio.ensure_future(fleet.collect(10))
            await asyncio.sleep(0.5)
            victim = fleet.pool.workers[shard_of(f"{slow.address}:{sim_fleet.port}", 2)]
            os.kill(victim.process.pid, signal.SIGKILL)
            broken = await pending
            slow.state.latency = 0.0
            started = time.monotonic()
            healed = await fleet.collect(10)
            return broken, healed, time.monotonic() - started

        broken, healed, _ = run(scenario, fleet)
    finally:
        slow.state.latency = 0.0
    shard = [m.target for m in miners if shard_of(m.target, 2) == shard_of(f"{slow.address}:{sim_fleet.port}", 2)]
    assert broken.targets == len(miners)  # nobody dropped from the output
    assert broken.up == len(miners) - len(shard)
    text = text_of(broken)
    for target in shard:
        assert f'miner_scrape_error{{miner="{target}",rack=' in text
        assert re.search(rf'^miner_up\{{miner="{re.escape(target)}",rack="r\d"\}} 0$', text, re.MULTILINE)
    assert 'reason="worker_error"' in text
    assert errors.count("worker_error") == len(shard)
    assert (healed.targets, healed.up) == (len(miners), len(miners))
