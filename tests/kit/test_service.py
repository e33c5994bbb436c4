"""One service shell for every exporter (hashwatch.service): the same pages, health checks and own metrics.

Each exporter runs over real HTTP (tests.support.servers.AppThread), its upstreams at a
closed local port so nothing outside loopback is asked.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from hashwatch import __version__
from hashwatch.polled_exporter import PolledExporter
from hashwatch.polling import PollJob
from tests.support.promtool import check_metrics
from tests.support.servers import AppThread


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def cgminer_service():
    from exporters.cgminer.config import CgminerConfig
    from exporters.cgminer.server import Exporter

    return Exporter(CgminerConfig())


def ocean_service():
    from exporters.ocean.config import OceanConfig
    from exporters.ocean.server import OceanExporter

    return OceanExporter(OceanConfig(api_url=f"{_closed_url()}/v1", timeout_seconds=2))


def market_service():
    from exporters.market.config import MarketConfig
    from exporters.market.server import MarketExporter

    closed = _closed_url()
    return MarketExporter(MarketConfig(
        price_sources=[{"name": "coingecko", "base_url": closed, "timeout_seconds": 2}],
        network_sources=[{"name": "mempool", "base_url": closed, "timeout_seconds": 2}],
    ))


def profitability_service():
    from profitability.catalog import load_catalog
    from profitability.config import ProfitabilityConfig
    from profitability.server import ProfitabilityExporter

    return ProfitabilityExporter(ProfitabilityConfig(prometheus_url=_closed_url(), query_timeout_seconds=2), load_catalog())


SERVICES = {
    "cgminer": cgminer_service,
    "ocean": ocean_service,
    "market": market_service,
    "profitability": profitability_service,
}

# What each service says about its data (kept names) and about itself (hashwatch_<service>_*).
DATA_PREFIX = {"cgminer": "miner_", "ocean": "ocean_", "market": "market_", "profitability": "profitability_"}
SELF_METRIC_ALWAYS_THERE = {
    "cgminer": "hashwatch_cgminer_probes_total",
    "ocean": "hashwatch_ocean_api_up",
    "market": "hashwatch_market_source_up",
    "profitability": "hashwatch_profitability_inputs_up",
}
# Self-metrics as they were named before issue 12: none may come back.
OLD_NAMES = {
    "cgminer": (),
    "ocean": (
        "ocean_api_up", "ocean_api_last_success_timestamp_seconds", "ocean_api_consecutive_failures",
        "ocean_api_poll_interval_seconds", "ocean_api_requests",
    ),
    "market": (
        "market_source_up", "market_source_last_success_timestamp_seconds", "market_source_consecutive_failures",
        "market_source_requests",
    ),
    "profitability": ("profitability_inputs_up", "profitability_inputs_read_timestamp_seconds"),
}


@pytest.fixture(scope="module", params=list(SERVICES))
def running(request):
    """(service name, base URL) of a started exporter that is ready."""
    with AppThread(lambda: SERVICES[request.param]().app()) as server:
        deadline = time.monotonic() + 20
        while requests.get(f"{server.url}/-/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"{request.param} never became ready"
            time.sleep(0.05)
        yield request.param, server.url


def _families(url: str) -> dict[str, str]:
    """Family name (counters without _total, as the parser gives them) -> type, of /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_healthy_and_ready(running):
    name, url = running
    healthy = requests.get(f"{url}/-/healthy", timeout=5)
    ready = requests.get(f"{url}/-/ready", timeout=5)
    assert (healthy.status_code, ready.status_code) == (200, 200)
    assert healthy.text.endswith("is healthy.\n") and ready.text.endswith("is ready.\n")


def test_build_info_names_the_service_and_the_version(running):
    name, url = running
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    builds = re.findall(r"^hashwatch_build_info\{(.*)\} (\S+)$", response.text, re.MULTILINE)
    assert builds == [(f'service="{name}",version="{__version__}"', "1.0")]
    assert "process_resident_memory_bytes" in response.text and "python_gc_objects_collected_total" in response.text
    assert check_metrics(response.content) == ""


def test_landing_page_has_title_version_and_every_standard_link(running):
    name, url = running
    page = requests.get(f"{url}/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert re.search(r"<h1>hashwatch [^<]*exporter</h1>", page.text)
    assert f"version {__version__}" in page.text
    for path in ("metrics", "-/healthy", "-/ready"):
        assert f'<a href="{path}">/{path}</a>' in page.text
    if name == "cgminer":
        assert 'action="probe"' in page.text


def test_self_metrics_follow_one_naming_scheme(running):
    name, url = running
    families = _families(url)
    assert SELF_METRIC_ALWAYS_THERE[name].removesuffix("_total") in families
    for family in families:
        if family.startswith(("process_", "python_")) or family == "hashwatch_build_info":
            continue
        assert family.startswith((f"hashwatch_{name}_", DATA_PREFIX[name])), family
    assert not set(OLD_NAMES[name]) & set(families)


def test_the_profitability_ledger_health_is_a_self_metric(tmp_path):
    from profitability.catalog import load_catalog
    from profitability.config import ProfitabilityConfig
    from profitability.server import ProfitabilityExporter

    closed = _closed_url()
    config = ProfitabilityConfig(
        prometheus_url=closed, query_timeout_seconds=2,
        ledger={"api": "v1", "url": closed, "database": "hashwatch", "spool_dir": str(tmp_path / "spool")},
    )
    (tmp_path / "spool").mkdir()
    with AppThread(lambda: ProfitabilityExporter(config, load_catalog()).app()) as server:
        families = _families(server.url)
    assert "hashwatch_profitability_ledger_spool_max_bytes" in families
    assert "hashwatch_profitability_ledger_points_written" in families  # a counter: _total in the text
    assert not [name for name in families if name.startswith("profitability_ledger_")]


def test_fleet_mode_exporter_is_ready_and_says_so_on_its_landing_page(exporter, sim_fleet):
    assert requests.get(f"{exporter.url}/-/ready", timeout=5).status_code == 200
    page = requests.get(f"{exporter.url}/", timeout=10).text
    assert f"{len(sim_fleet.miners)} miners in fleet mode" in page


class _Gated(PolledExporter):
    """One job whose first answer waits for the test."""

    name = "gated"
    title = "hashwatch gated test service"

    def __init__(self, gate: threading.Event):
        super().__init__()
        self.gate = gate

    def jobs(self, session):
        async def fetch():
            await asyncio.to_thread(self.gate.wait, 10)
            return 1.0

        return [PollJob("slow", "", 60.0, fetch)]

    def collectors(self, poller):
        return []


def test_a_polled_service_is_not_ready_until_every_upstream_was_asked():
    gate = threading.Event()
    server = AppThread(lambda: _Gated(gate).app()).start()
    try:
        assert requests.get(f"{server.url}/-/healthy", timeout=5).status_code == 200
        not_ready = requests.get(f"{server.url}/-/ready", timeout=5)
        assert not_ready.status_code == 503 and not_ready.text.endswith("is not ready.\n")
        assert requests.get(f"{server.url}/metrics", timeout=5).status_code == 200  # scrapes are served meanwhile
        gate.set()
        deadline = time.monotonic() + 10
        while requests.get(f"{server.url}/-/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert 'hashwatch_build_info{service="gated",' in requests.get(f"{server.url}/metrics", timeout=5).text
    finally:
        gate.set()
        server.stop()
