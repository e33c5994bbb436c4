"""One hostile miner is its own problem only: values that cannot be samples, padded identity
replies, probes of other ports, names that cannot be looked up, a slow resolver.

Each test here failed before the hardening of issue 10 (a 500 for the whole page, 826 MB
held for 200 padded miners, a port scanner, a traceback, an 8 s probe).
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

import pytest
import requests

from exporters.cgminer.client import ClientSettings
from exporters.cgminer.config import CgminerConfig, FleetConfig, MinerTarget
from exporters.cgminer.fleet import Fleet
from exporters.cgminer.memory import MAX_TEXT, MinerMemory, ProbeMemory
from exporters.cgminer.server import Exporter
from tests.support.hostile_miner import HostileMiner, replace_in
from tests.support.promtool import check_metrics
from tests.support.servers import AppThread

SETTINGS = ClientSettings(connect_timeout=1, request_timeout=3)
HUGE = "1" * 400

# Each hostile miner answers like a stock S19 Pro but for one edited field.
EDITS = {
    "huge_integer": replace_in("summary", '"Accepted": 4057', f'"Accepted": {HUGE}'),
    "lone_surrogate": replace_in("pools", '"User": "satokierepair.H04YK"', '"User": "\\udcff.w\\udcfe"'),
    "carriage_return": replace_in("pools", '"User": "satokierepair.H04YK"', '"User": "acct.rig\\r7"'),
    "infinite_rate": replace_in(("summary", "stats"), '"GHS 5s": 110566.89', '"GHS 5s": 1e400'),
}


@pytest.fixture(scope="module")
def hostile():
    miners = {}
    port = 0
    for number, (name, edit) in enumerate(EDITS.items(), start=1):
        miner = HostileMiner(f"127.77.0.{number}", port, edit)
        port = miner.port
        miners[name] = miner
    yield miners
    for miner in miners.values():
        miner.close()


def up_lines(text: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'^miner_up\{miner="([^"]+)"[^}]*\} (\S+)$', text, re.M)}


@pytest.mark.parametrize("workers", [1, 2])
def test_fleet_survives_any_single_miners_reply(sim_fleet, hostile, workers):
    healthy = sim_fleet.targets()[:6]
    targets = [MinerTarget(target=t) for t in [*healthy, *(m.target for m in hostile.values())]]
    fleet = Fleet(FleetConfig(miners=targets, workers=workers), SETTINGS, 4028)

    async def scrape_twice():
        try:
            await fleet.collect(10)
            return await fleet.collect(10)
        finally:
            await fleet.close()

    scrape = asyncio.run(scrape_twice())
    body = scrape.exposition()
    text = body.decode("utf-8")  # strict: valid UTF-8 whatever a miner sent
    assert check_metrics(body) == ""
    up = up_lines(text)
    # Every miner is up: a value that cannot be a sample is "not reported", not a failure.
    assert up == {target.target: 1.0 for target in targets}, up
    huge, surrogate, carriage = (hostile[n].target for n in ("huge_integer", "lone_surrogate", "carriage_return"))
    assert f'miner_shares_total{{miner="{huge}",result="accepted"}}' not in text
    assert f'miner_shares_total{{miner="{huge}",result="rejected"}} 11' in text
    assert f'miner="{surrogate}",pool="0",url="stratum+tcp://' in text and 'user="?.w?",worker="w?"' in text
    assert 'user="acct.rig7",worker="rig7"' in text and "\r" not in text
    assert f'miner_hashrate_hashes_per_second{{miner="{hostile["infinite_rate"].target}"}}' not in text
    assert "Inf" not in text


@pytest.fixture(scope="module")
def guarded_exporter(hostile):
    config = CgminerConfig(
        timeout_seconds=3,
        connect_timeout_seconds=1,
        allowed_targets=["127.77.0.0/16"],
        allowed_ports=[next(iter(hostile.values())).port],
    )
    exporter = Exporter(config)
    server = AppThread(lambda: exporter.app()).start()
    server.exporter = exporter
    yield server
    server.stop()


def probe(server, target, headers=None):
    return requests.get(f"{server.url}/probe", params={"target": target}, headers=headers or {}, timeout=15)


@pytest.mark.parametrize("name", list(EDITS))
def test_probe_of_a_hostile_miner_answers_a_valid_page(guarded_exporter, hostile, name):
    response = probe(guarded_exporter, hostile[name].target)
    assert response.status_code == 200
    assert check_metrics(response.content) == ""
    assert "miner_up 1" in response.text


def test_probe_contacts_only_allowed_ports(guarded_exporter, hostile):
    other = HostileMiner("127.77.0.1", 0)  # an open port on an allowed host
    try:
        response = probe(guarded_exporter, other.target)
        assert response.status_code == 403 and "allowed_ports" in response.text
        closed = probe(guarded_exporter, "127.77.0.1:22")
        assert closed.status_code == 403 and closed.text == response.text.replace(str(other.port), "22")
        assert other.commands == []  # never contacted: open and closed ports look the same
    finally:
        other.close()


@pytest.mark.parametrize("target", ["a" * 64 + ".lan", "a..b", ".", "9" * 300, "%ff%fe", "x" * 300, "a\x00b"])
def test_names_that_cannot_be_looked_up_are_a_400_with_a_reason(guarded_exporter, target):
    response = probe(guarded_exporter, target)
    assert response.status_code == 400
    assert response.text.startswith("bad target: invalid target host") and "Traceback" not in response.text


@pytest.mark.parametrize("query", ["%ff%fe", "%ed%b3%bf", "a%00b", "%0d%0a"])
def test_undecodable_targets_in_the_raw_query_are_a_400(guarded_exporter, query):
    response = requests.get(f"{guarded_exporter.url}/probe?target={query}", timeout=15)
    assert response.status_code == 400
    assert response.text.startswith("bad target: ") and "Traceback" not in response.text


def test_a_slow_name_lookup_is_bounded_by_the_scrape_timeout(guarded_exporter, monkeypatch):
    async def slow_lookup(self, host, port):
        await asyncio.sleep(8)
        return ["127.77.0.1"]

    monkeypatch.setattr(Exporter, "_resolve", slow_lookup)
    port = guarded_exporter.exporter.config.ports()
    started = time.monotonic()
    response = probe(guarded_exporter, f"slow.example:{min(port)}", {"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed < 3, elapsed
    assert 'miner_scrape_error{reason="unresolvable"} 1' in response.text


def _deep_size(value, seen=None) -> int:
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        size += sum(_deep_size(v, seen) for v in value)
    elif hasattr(value, "__slots__"):
        size += sum(_deep_size(getattr(value, s), seen) for s in value.__slots__ if hasattr(value, s))
    return size


def test_padded_identity_replies_are_not_remembered_whole(guarded_exporter):
    padding = "x" * (3_900_000)
    edit = replace_in("version", '"Type": "Antminer S19 Pro"', f'"Type": "Antminer S19 Pro", "Pad": "{padding}"')
    port = min(guarded_exporter.exporter.config.ports())
    padded = [HostileMiner(f"127.77.1.{n}", port, edit) for n in range(1, 11)]
    try:
        for miner in padded:
            response = probe(guarded_exporter, miner.target)
            assert 'model="S19 Pro"' in response.text  # the identity is still read
    finally:
        for miner in padded:
            miner.close()
    memory = guarded_exporter.exporter.probe_memory
    for miner in padded:
        remembered = memory.get(miner.target)
        assert remembered.firmware == "antminer" and "version" in remembered.static_replies
        assert _deep_size(remembered) < 16 * 1024
        assert remembered.static_replies["version"].first("VERSION")["Type"] == "Antminer S19 Pro"
        assert "Pad" not in remembered.static_replies["version"].first("VERSION")


def test_remembered_probe_targets_are_bounded_in_bytes():
    memory = ProbeMemory(max_bytes=64 * 1024)
    from exporters.cgminer.reply import Reply

    fat = Reply("version", "S", 22, "ok", "", {"VERSION": [{f"k{i}": "v" * MAX_TEXT for i in range(100)}]})
    for n in range(1000):
        key = f"10.0.{n // 250}.{n % 250}:4028"
        miner = memory.get(key)
        miner.remember_static({"version": fat}, 0.0)
        memory.update(key, miner)
        assert memory.bytes <= 64 * 1024
    assert 0 < len(memory) < 1000
    assert memory.get("10.0.3.249:4028").static_replies  # the newest target is kept
    assert MinerMemory().size * len(memory) <= 64 * 1024
