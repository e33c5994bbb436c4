"""The exporter over real TCP against the simulated fleet: /probe, fleet /metrics, errors."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.prom_text import samples

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from tests.support.promtool import check_metrics
from tests.support.simulated_identity import IDENTITY

# Captured hashrate (H/s) each profile moves around: simulator noise is within ±2%.
NOMINAL_HASHRATE = {
    "antminer-s19pro": 110566.89e9,
    "antminer-s21": 201823.26e9,
    "whatsminer-m31s": 92768288.94e6,
    "vnish-s21pro": 173870.94e9,
    "luxos-s19kpro": 59241.82e9,
}


parse = samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def probe(exporter, target, headers=None):
    return requests.get(f"{exporter.url}/probe", params={"target": target}, headers=headers, timeout=10)


def test_every_simulated_firmware_probes_up_with_its_identity(exporter, sim_fleet):
    seen = set()
    for miner in sim_fleet.miners:
        response = probe(exporter, f"{miner.address}:{sim_fleet.port}")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = parse(response.text)
        firmware, make, model = IDENTITY[miner.profile.name]
        assert value(samples, "miner_up") == 1, response.text[:500]
        info = [labels for (name, labels) in samples if name == "miner_info"]
        assert len(info) == 1
        info = dict(info[0])
        assert (info["firmware"], info["make"], info["model"]) == (firmware, make, model)
        assert info["firmware_version"]
        nominal = NOMINAL_HASHRATE.get(miner.profile.name)
        if nominal:
            assert value(samples, "miner_hashrate_hashes_per_second") == pytest.approx(nominal, rel=0.03)
        assert value(samples, "miner_uptime_seconds") > 0
        assert check_metrics(response.content) == "", miner.profile.name
        seen.add(miner.profile.name)
    assert seen == set(IDENTITY)


def test_counters_grow_and_hashrate_moves_between_probes(exporter, sim_fleet):
    miner = next(m for m in sim_fleet.miners if m.profile.name == "antminer-s19pro")
    target = f"{miner.address}:{sim_fleet.port}"
    first = parse(probe(exporter, target).text)
    time.sleep(1.1)
    second = parse(probe(exporter, target).text)
    assert value(second, "miner_uptime_seconds") > value(first, "miner_uptime_seconds")
    assert value(second, "miner_shares_total", result="accepted") >= value(first, "miner_shares_total", result="accepted")
    boards = sorted(labels for (name, labels) in second if name == "miner_board_hashrate_hashes_per_second")
    assert [dict(b)["board"] for b in boards] == ["0", "1", "2"]


def test_fleet_metrics_cover_every_miner_with_file_sd_labels(exporter, sim_fleet):
    response = requests.get(f"{exporter.url}/metrics", timeout=30)
    assert response.status_code == 200
    samples = parse(response.text)
    for miner in sim_fleet.miners:
        target = f"{miner.address}:{sim_fleet.port}"
        up = [v for (name, labels), v in samples.items() if name == "miner_up" and dict(labels)["miner"] == target]
        assert up == [1.0], target
        labels = next(dict(l) for (name, l) in samples if name == "miner_up" and dict(l)["miner"] == target)
        assert labels["site"] == "lab" and labels["profile"] == miner.profile.name
        # make/model/firmware from file_sd would collide with miner_info's own labels: dropped
        assert "make" not in labels
    assert value(samples, "hashwatch_cgminer_fleet_targets") == len(sim_fleet.miners)
    assert value(samples, "hashwatch_cgminer_fleet_targets_up") == len(sim_fleet.miners)
    assert check_metrics(response.content) == ""


def test_target_outside_allow_list_is_forbidden(exporter, sim_fleet):
    response = probe(exporter, f"192.0.2.10:{sim_fleet.port}")
    assert response.status_code == 403
    assert "allowed_targets" in response.text


@pytest.mark.parametrize("target", ["", "10.0.0.1:99999", "a:b:c", "http://x/"])
def test_bad_target_is_a_400(exporter, target):
    assert probe(exporter, target).status_code == 400


def test_refused_connection_is_down_with_reason_and_counted(exporter):
    response = probe(exporter, "127.0.0.1:9")  # discard port: nothing listens
    samples = parse(response.text)
    assert value(samples, "miner_up") == 0
    assert value(samples, "miner_scrape_error", reason="connection_refused") == 1
    assert not any(name == "miner_hashrate_hashes_per_second" for name, _ in samples)
    own = parse(requests.get(f"{exporter.url}/metrics", timeout=30).text)
    assert value(own, "hashwatch_cgminer_scrape_errors_total", reason="connection_refused") >= 1
    assert value(own, "hashwatch_cgminer_probes_total", result="failure") >= 1


def test_scrape_timeout_header_bounds_a_slow_miner(exporter, sim_fleet):
    miner = sim_fleet.miners[-1]
    miner.state.latency = 3.0
    try:
        started = time.monotonic()
        response = probe(exporter, f"{miner.address}:{sim_fleet.port}", {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
        elapsed = time.monotonic() - started
    finally:
        miner.state.latency = 0.0
    samples = parse(response.text)
    assert value(samples, "miner_up") == 0
    assert ("miner_scrape_error", (("reason", "read_timeout"),)) in samples
    assert elapsed < 1.5  # answered before Prometheus would give up (1.5 s - 0.5 s offset)


def test_stock_antminer_multi_command_refusal_is_remembered(exporter, sim_fleet):
    miner = next(m for m in sim_fleet.miners if m.profile.name == "antminer-s19pro")
    avalon = next(m for m in sim_fleet.miners if m.profile.name == "avalon-1566")
    for m in (miner, avalon):
        probe(exporter, f"{m.address}:{sim_fleet.port}")
    sim_fleet.journal.clear()
    for m in (miner, avalon):
        assert value(parse(probe(exporter, f"{m.address}:{sim_fleet.port}").text), "miner_up") == 1
    antminer_sent = [r.command for r in sim_fleet.journal.snapshot(miner.address)]
    avalon_sent = [r.command for r in sim_fleet.journal.snapshot(avalon.address)]
    # The session's Prometheus may probe these miners meanwhile: judge every request, not a count.
    assert antminer_sent and all("+" not in c for c in antminer_sent)  # one command per request
    assert avalon_sent and all("+" in c for c in avalon_sent)  # one multi-command per scrape, never singles


def test_landing_page(exporter):
    response = requests.get(exporter.url + "/", timeout=10)
    assert response.status_code == 200 and "/probe" in response.text


def test_only_read_only_commands_reached_the_miners(exporter, sim_fleet):
    # Runs last in this module: everything above went through the simulator's journal.
    probe(exporter, f"{sim_fleet.miners[0].address}:{sim_fleet.port}")
    sent = sim_fleet.journal.command_names()
    assert sent, "the journal recorded nothing"
    assert sent <= READ_ONLY_COMMANDS, sent - READ_ONLY_COMMANDS
