"""Fleet mode: file_sd and static targets, bounded concurrency, one bad miner hurts nobody."""

import asyncio
import json

from exporters.cgminer.client import ClientSettings
from exporters.cgminer.config import FleetConfig, MinerTarget
from exporters.cgminer.fleet import Fleet
from exporters.cgminer.targets import label_names_of, read_file_sd

SETTINGS = ClientSettings(connect_timeout=1, request_timeout=2)


def test_file_sd_groups_keep_labels_but_not_internal_or_reserved_ones(tmp_path):
    path = tmp_path / "sd.json"
    path.write_text(json.dumps([
        {"targets": ["10.0.0.1", "10.0.0.2:4029"], "labels": {"site": "a", "__meta_x": "y", "model": "S19"}},
        {"targets": ["10.0.0.3"]},
    ]))
    targets = read_file_sd(str(path))
    assert [t.target for t in targets] == ["10.0.0.1", "10.0.0.2:4029", "10.0.0.3"]
    assert targets[0].labels == (("site", "a"),)
    assert targets[2].labels == ()


def test_yaml_file_sd_and_change_detection_and_broken_file_keeps_last_good(tmp_path):
    path = tmp_path / "sd.yml"
    path.write_text("- targets: [10.0.0.1]\n  labels: {rack: r1}\n")
    fleet = Fleet(FleetConfig(file_sd=[str(tmp_path / "*.yml")]), SETTINGS, 4028)
    assert [t.target for t in fleet.targets()] == ["10.0.0.1"]
    path.write_text("- targets: [10.0.0.1, 10.0.0.9]\n")
    import os
    os.utime(path, (1, 1))  # a different mtime, even within the same second
    assert [t.target for t in fleet.targets()] == ["10.0.0.1", "10.0.0.9"]
    path.write_text("- targets: {not: a list}\n")
    os.utime(path, (2, 2))
    assert [t.target for t in fleet.targets()] == ["10.0.0.1", "10.0.0.9"]


def test_static_miners_win_over_file_sd_duplicates(tmp_path):
    path = tmp_path / "sd.json"
    path.write_text(json.dumps([{"targets": ["10.0.0.1"], "labels": {"site": "sd"}}]))
    config = FleetConfig(miners=[MinerTarget(target="10.0.0.1", labels={"site": "static"})], file_sd=[str(path)])
    assert Fleet(config, SETTINGS, 4028).targets()[0].labels == (("site", "static"),)


def test_fleet_scrape_with_a_dead_miner_and_bounded_concurrency(sim_fleet):
    miners = [MinerTarget(target=t, labels={"rack": f"r{i % 2}"}) for i, t in enumerate(sim_fleet.targets())]
    miners.append(MinerTarget(target="127.0.0.1:9", labels={"rack": "dead"}))
    errors = []
    fleet = Fleet(FleetConfig(miners=miners, concurrency=3), SETTINGS, 4028, on_error=errors.append, keep_samples=True)
    scrape = asyncio.run(fleet.collect(timeout=10))
    samples = scrape.samples
    assert errors == ["connection_refused"]  # counted once per scrape, for the dead miner only
    assert label_names_of(fleet.targets()) == ["miner", "rack"]
    assert samples[0].label_values[1] == "r0"
    assert (scrape.targets, scrape.up) == (len(miners), len(miners) - 1)
    by_target = {s.label_values[0]: s.result for s in samples}
    assert all(by_target[t].up for t in sim_fleet.targets())
    assert by_target["127.0.0.1:9"].error_reason == "connection_refused"
    # memory of each miner's firmware is kept for the next scrape
    assert all(fleet.memory[t].firmware for t in sim_fleet.targets())


def test_fleet_deadline_marks_unreached_miners_down(sim_fleet):
    slow = sim_fleet.miners[0]
    slow.state.latency = 2.0
    try:
        fleet = Fleet(FleetConfig(miners=[MinerTarget(target=f"{slow.address}:{sim_fleet.port}")]), SETTINGS, 4028, keep_samples=True)
        samples = asyncio.run(fleet.collect(timeout=0.5)).samples
    finally:
        slow.state.latency = 0.0
    assert samples[0].result.error_reason in ("read_timeout", "timeout")


def test_the_exporter_keeps_the_text_not_every_miner_model(sim_fleet):
    fleet = Fleet(FleetConfig(miners=[MinerTarget(target=t) for t in sim_fleet.targets()]), SETTINGS, 4028)
    scrape = asyncio.run(fleet.collect(timeout=10))
    assert scrape.up == len(sim_fleet.targets()) and scrape.samples is None
