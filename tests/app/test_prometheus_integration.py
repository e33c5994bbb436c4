"""A real Prometheus scraping the simulated fleet through the exporter, and the shipped configs."""


import yaml

from hashwatch.config import load_config
from hashwatch.app.settings import HashwatchConfig
from tests.support.promtool import check_config
from tests.support.paths import REPO

ROOT = REPO


def test_prometheus_scrapes_every_miner_through_probe(prometheus, sim_fleet):
    count = len(sim_fleet.miners)
    result = prometheus.wait_for('miner_up{job="miners"} == 1', lambda r: len(r) == count)
    instances = {series["metric"]["instance"] for series in result}
    assert instances == set(sim_fleet.targets())
    # file_sd labels written by the simulator reach Prometheus as target labels
    assert {series["metric"]["site"] for series in result} == {"lab"}
    hashrate = prometheus.query('sum(miner_hashrate_hashes_per_second{job="miners"})')
    assert float(hashrate[0]["value"][1]) > 1e15  # 14 miners, hundreds of TH/s in total
    exporter_up = prometheus.wait_for('up{job="hashwatch-cgminer"}', lambda r: len(r) == 1 and r[0]["value"][1] == "1")
    assert exporter_up


def test_counter_rates_are_never_negative(prometheus):
    result = prometheus.wait_for(
        'rate(miner_shares_total{job="miners",result="accepted"}[5s])', lambda r: len(r) > 0, timeout=20
    )
    assert all(float(series["value"][1]) >= 0 for series in result)


def test_shipped_prometheus_config_is_valid():
    done = check_config(ROOT / "prometheus" / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_config_and_compose_file_are_consistent():
    config = load_config(HashwatchConfig, ROOT / "hashwatch.example.yml")
    assert config.cgminer.timeout_seconds == 5
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"docker-compose.yml mounts missing {source}"
    prometheus = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    replacement = prometheus["scrape_configs"][0]["relabel_configs"][-1]["replacement"]
    assert replacement.split(":")[0] in compose["services"], "prometheus.yml must point at the compose exporter service"
