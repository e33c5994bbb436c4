"""docs/metrics.md lists every metric the exporter emits, with the firmwares that emit it."""

import asyncio
import re
from collections import defaultdict

import requests
from prometheus_client.parser import text_string_to_metric_families

from exporters.cgminer.client import ClientSettings
from exporters.cgminer.metrics import MinerSample, render
from exporters.cgminer.model import Board, Fan, Fault, MinerStatus, Pool
from exporters.cgminer.memory import MinerMemory
from exporters.cgminer.scrape import ScrapeResult, scrape
from tests.support.paths import REPO

DOC = (REPO / "docs" / "metrics.md").read_text()
ROW = re.compile(r"^\| `([a-z_]+)` \| (\w+) \|(.*)$", re.MULTILINE)


def documented() -> dict[str, str]:
    return {m.group(1): m.group(0) for m in ROW.finditer(DOC)}


def family_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_every_miner_metric_family_is_documented():
    # A status with every field set makes every collector emit its families.
    status = MinerStatus(boards=[Board("0")], fans=[Fan("0")], pools=[Pool("0")], faults=[Fault("1")])
    emitted = family_names(render([MinerSample((), ScrapeResult(status))], ()).decode())
    assert emitted - set(documented()) == set()


def test_exporter_self_metrics_are_documented(exporter):
    text = requests.get(f"{exporter.url}/metrics", timeout=30).text
    own = {n for n in family_names(text) if n.startswith("hashwatch_")}
    assert own and own - set(documented()) == set()


def test_documented_firmwares_cover_what_each_simulated_firmware_emits(sim_fleet):
    emitted_by: dict[str, set[str]] = defaultdict(set)

    async def scrape_all():
        for miner in sim_fleet.miners:
            result = await scrape(miner.address, sim_fleet.port, MinerMemory(), ClientSettings(), 5)
            assert result.up, result.error_message
            for family in text_string_to_metric_families(render([MinerSample((), result)], ()).decode()):
                for sample in family.samples:
                    emitted_by[sample.name].add(result.status.firmware)

    asyncio.run(scrape_all())
    rows = documented()
    for name, firmwares in emitted_by.items():
        row = rows.get(name)
        assert row is not None, f"{name} is not in docs/metrics.md"
        column = row.split("|")[5]
        if column.strip() != "all":
            missing = {f for f in firmwares if f not in column}
            assert not missing, f"docs/metrics.md: {name} is also provided by {sorted(missing)}"
