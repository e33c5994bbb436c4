"""Real time-series databases on loopback for the ledger's tests (Debian packages).

Two servers, each started once per test session on 127.0.0.1 with free ports and
temporary directories, and stopped at the end:

  influxd          InfluxDB 1.x (package influxdb): the v1 write API, read back with InfluxQL
  victoria-metrics VictoriaMetrics (package victoria-metrics): accepts the InfluxDB v2
                   write API (/api/v2/write), read back with its Prometheus-style export;
                   run with -dedup.minScrapeInterval=1ms, as docs/configuration.md requires

Use from a test module with `from tests.support.influx_servers import influxdb_v1, victoria_metrics`.
A missing binary skips the tests on a developer's machine, but fails them under CI
(env CI set), where ./scripts/setup must have installed the packages.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import requests

from hashwatch.app.demo.configs import influxdb_conf
from tests.support.processes import ServerProcess, free_port, poll

def find_binary(name: str, package: str) -> str:
    """The binary's path, or skip (fail under CI) naming the Debian package to install."""
    binary = shutil.which(name)
    if binary is None:
        message = f"{name} not found: run ./scripts/setup (installs Debian's {package} package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


class InfluxDBV1(ServerProcess):
    """influxd 1.x with a generated config: loopback only, no reporting, no _internal store."""

    name = "influxd"

    def __init__(self, workdir: Path):
        binary = find_binary("influxd", "influxdb")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rpc_port = free_port()
        config = influxdb_conf(workdir, f"127.0.0.1:{rpc_port}", f"127.0.0.1:{self.port}")
        config_path = workdir / "influxdb.conf"
        config_path.write_text(config)
        super().__init__(workdir, [binary, "-config", str(config_path)], f"{self.url}/ping")

    def query(self, influxql: str, database: str | None = None) -> list[dict]:
        """Run InfluxQL over /query; returns the first statement's series (empty list if none)."""
        params = {"q": influxql, "epoch": "ns"}
        if database:
            params["db"] = database
        response = requests.post(f"{self.url}/query", params=params, timeout=10)
        response.raise_for_status()
        result = response.json()["results"][0]
        if "error" in result:
            raise AssertionError(f"InfluxQL error for {influxql!r}: {result['error']}")
        return result.get("series", [])

    def create_database(self, database: str) -> None:
        self.query(f'CREATE DATABASE "{database}"')

    def rows(self, measurement: str, database: str) -> list[dict]:
        """Every point of a measurement as {column: value} dicts (time in ns), oldest first."""
        rows = []
        for series in self.query(f'SELECT * FROM "{measurement}"', database):
            for values in series["values"]:
                rows.append(dict(zip(series["columns"], values)))
        return sorted(rows, key=lambda row: row["time"])


class VictoriaMetrics(ServerProcess):
    """Single-node VictoriaMetrics: speaks the InfluxDB v2 write API, exports as JSON lines."""

    name = "victoria-metrics"

    def __init__(self, workdir: Path):
        binary = find_binary("victoria-metrics", "victoria-metrics")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={workdir / 'data'}",
            "-retentionPeriod=100y",  # tests write fixed historical timestamps
            "-loggerLevel=WARN",
            # As the ledger requires (hashwatch/ledger/__init__.py): a batch sent again after a crash
            # between the acknowledgement and the spool's deletion must not be a second sample.
            "-dedup.minScrapeInterval=1ms",
        ]
        super().__init__(workdir, argv, f"{self.url}/health")

    def export(self, match: str) -> list[dict]:
        """Raw samples of every series matching a selector (after flushing VM's in-memory buffers)."""
        # Ingested rows sit in memory for up to a second or two; force_flush makes them searchable now.
        requests.get(f"{self.url}/internal/force_flush", timeout=10)
        response = requests.post(f"{self.url}/api/v1/export", data={"match[]": match}, timeout=10)
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def wait_export(self, match: str, predicate, timeout: float = 10.0) -> list[dict]:
        """Poll export() until predicate(series) holds; bounded in time."""
        return poll(lambda: self.export(match), predicate, timeout, f"export of {match!r}", interval=0.2)


@pytest.fixture(scope="session")
def influxdb_v1(tmp_path_factory):
    server = InfluxDBV1(tmp_path_factory.mktemp("influxdb"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory):
    server = VictoriaMetrics(tmp_path_factory.mktemp("victoria_metrics"))
    yield server
    server.stop()
