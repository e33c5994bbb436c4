"""Session-wide real servers: one simulated fleet and one exporter over it."""

from __future__ import annotations

import pytest

from exporters.cgminer.config import CgminerConfig, FleetConfig
from exporters.cgminer.server import Exporter
from simulator import PROFILES, FleetThread, SimulatedFleet
from tests.support.servers import AppThread

# Nothing listens on the discard port: the session exporter allows it so tests can see a refused connection.
DISCARD_PORT = 9

# Two miners of every simulated firmware profile.
FLEET_SIZE = 2 * len(PROFILES)


@pytest.fixture(scope="session")
def sim_fleet():
    fleet = SimulatedFleet.build(FLEET_SIZE, first_address="127.88.0.1", port=0, seed=7)
    with FleetThread(fleet):
        yield fleet


@pytest.fixture(scope="session")
def fleet_file_sd(sim_fleet, tmp_path_factory):
    path = tmp_path_factory.mktemp("file_sd") / "miners.json"
    sim_fleet.write_file_sd(path, labels={"site": "lab"})
    return path


@pytest.fixture(scope="session")
def exporter(sim_fleet, fleet_file_sd):
    config = CgminerConfig(
        timeout_seconds=3,
        connect_timeout_seconds=1,
        allowed_targets=["127.88.0.0/16", "127.0.0.1/32"],
        allowed_ports=[sim_fleet.port, DISCARD_PORT],
        fleet=FleetConfig(file_sd=[str(fleet_file_sd)], timeout_seconds=5),
    )
    server = AppThread(lambda: Exporter(config).app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prometheus(exporter, fleet_file_sd, tmp_path_factory):
    """Prometheus scraping every simulated miner through /probe, as prometheus/prometheus.yml does."""
    from tests.support.prometheus_server import PrometheusServer

    exporter_address = exporter.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "miners",
                "metrics_path": "/probe",
                "file_sd_configs": [{"files": [str(fleet_file_sd)], "refresh_interval": "1s"}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": exporter_address},
                ],
            },
            {"job_name": "hashwatch-cgminer", "static_configs": [{"targets": [exporter_address]}]},
        ],
    }
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), config)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory):
    """The whole-stack demo, started once and only for the tests that use it (tests/support/demo_stack.py)."""
    from tests.support.demo_stack import DemoStack

    stack = DemoStack(tmp_path_factory.mktemp("demo"), host="127.77.0.1", first_address="127.78.0.1")
    yield stack
    stack.stop()
