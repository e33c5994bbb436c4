"""A real Prometheus server (Debian package) on loopback for end-to-end tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.processes import ServerProcess, free_port, poll


class PrometheusServer(ServerProcess):
    name = "prometheus"

    def __init__(self, workdir: Path, config: dict, extra_flags: tuple[str, ...] = ()):
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus not found: run ./scripts/setup (installs Debian's prometheus package)")
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
            *extra_flags,
        ]
        super().__init__(workdir, argv, f"{self.url}/-/ready")

    def query(self, promql: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def wait_for(self, promql: str, predicate, timeout: float = 30) -> list[dict]:
        """Poll a query until predicate(result) holds; bounded in time."""
        return poll(lambda: self.query(promql), predicate, timeout, repr(promql))
